// Drives the /ui/ dashboard in headless Chromium: signs in, opens a trace's waterfall, and checks
// the usage, retrieval, flagged, map and workflows panels; a wrong key shows the sign-in error.
// Usage: node tests/ui/ui_test.js <base_url> <api_key> <screenshot_dir>
// Exit 0 when every check passed; otherwise prints what failed and exits 1.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const CHROMIUM = '/usr/bin/chromium';

function fail(message) {
  console.error('ui_test: FAIL: ' + message);
  process.exit(1);
}

const [baseUrl, apiKey, shotDir] = process.argv.slice(2);
if (!baseUrl || !apiKey || !shotDir) fail('usage: node ui_test.js <base_url> <api_key> <screenshot_dir>');
if (!fs.existsSync(CHROMIUM)) fail(CHROMIUM + ' is missing: run scripts/setup (Debian package chromium)');
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  fail('playwright-core is not installed in tests/ui/node_modules: run scripts/setup (' + e.message + ')');
}

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  for (const f of fs.readdirSync(shotDir)) {
    if (f.endsWith('.png')) fs.rmSync(path.join(shotDir, f));  // no stale screenshots
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ventros-ui-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || (await context.newPage());
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.setDefaultTimeout(15000);
  const step = async (name, fn) => {
    try {
      await fn();
      console.log('ui_test: ok: ' + name);
    } catch (e) {
      await page.screenshot({ path: path.join(shotDir, 'failure.png'), fullPage: true }).catch(() => {});
      throw new Error(name + ': ' + (e && e.message ? e.message : e));
    }
  };
  const tab = async (name) => {
    await page.click(`[data-testid="tab-${name}"]`);
    await page.waitForSelector(`[data-testid="panel-${name}"][data-loaded="true"]`);
  };
  const shot = (name) => page.screenshot({ path: path.join(shotDir, name + '.png'), fullPage: true });

  try {
    await step('a wrong key shows the sign-in error', async () => {
      await page.goto(baseUrl + '/ui/');
      await page.fill('[data-testid="api-key"]', 'vtx_wrong_key');
      await page.click('[data-testid="signin-submit"]');
      const err = page.locator('[data-testid="signin-error"]');
      await err.waitFor({ state: 'visible' });
      const text = await err.textContent();
      if (!/401/.test(text)) throw new Error('sign-in error without 401: ' + text);
      if (await page.locator('[data-testid="tabs"]').isVisible()) throw new Error('tabs shown after a wrong key');
      await shot('signin-error');
    });

    await step('signs in and lists the turn among the traces', async () => {
      await page.fill('[data-testid="api-key"]', apiKey);
      await page.click('[data-testid="signin-submit"]');
      await page.waitForSelector('[data-testid="panel-traces"][data-loaded="true"]');
      const row = page.locator('[data-testid="trace-row"]', { hasText: 'agent.turn' }).first();
      await row.waitFor();
      await shot('traces');
    });

    await step('opens the waterfall of the turn', async () => {
      await page.locator('[data-testid="trace-row"]', { hasText: 'agent.turn' }).first().click();
      await page.waitForSelector('[data-testid="waterfall"] [data-testid="span-row"]');
      const names = await page.locator('[data-testid="span-name"]').allTextContents();
      for (const want of ['agent.turn', 'search_memory', 'llm']) {
        if (!names.includes(want)) throw new Error('span ' + want + ' not in ' + JSON.stringify(names));
      }
      await page.locator('[data-testid="span-row"][data-span-name="search_memory"]').first().click();
      const attrs = page.locator('[data-testid="span-attributes"]');
      await attrs.waitFor({ state: 'visible' });
      if (!/RETRIEVER/.test(await attrs.textContent())) throw new Error('span attributes lack the kind');
      await shot('waterfall');
    });

    await step('usage shows tokens', async () => {
      await tab('usage');
      const cells = await page.locator('[data-testid="usage-day-row"] td[data-col="total_tokens"]').allTextContents();
      const total = cells.map((c) => Number(c.replace(/,/g, ''))).reduce((a, b) => a + b, 0);
      if (!(total > 0)) throw new Error('no tokens in the usage table: ' + JSON.stringify(cells));
      if ((await page.locator('[data-testid="usage-agent-row"]').count()) < 1) throw new Error('no usage by agent');
      if ((await page.locator('[data-testid="usage-bar"]').count()) < 1) throw new Error('no bar in the chart');
      await shot('usage');
    });

    await step('retrieval quality shows the searches', async () => {
      await tab('quality');
      const n = await page.locator('[data-testid="quality-searches"]').textContent();
      if (!(Number(n) >= 1)) throw new Error('searches: ' + n);
      await shot('quality');
    });

    await step('flagged replies render', async () => {
      await tab('flagged');
      await shot('flagged');
    });

    await step('the embedding map draws a point', async () => {
      await tab('map');
      const points = await page.locator('[data-testid="map-point"]').count();
      if (points < 1) throw new Error('no point on the map');
      if ((await page.locator('[data-testid="map-label"]').count()) < 1) throw new Error('no cluster label');
      await shot('map');
    });

    await step('workflows render', async () => {
      await tab('workflows');
      await page.waitForSelector('[data-testid="workflows-table"] tbody tr');
      await shot('workflows');
    });

    if (consoleErrors.length) throw new Error('page errors: ' + consoleErrors.join('; '));
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(
  () => {
    console.log('ui_test: all checks passed; screenshots in ' + shotDir);
    process.exit(0);
  },
  (e) => fail(e && e.message ? e.message : String(e)));
