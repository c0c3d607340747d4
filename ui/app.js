// The Ventros dashboard: vanilla JS, no build step. It asks for an API key (kept in
// sessionStorage), calls the REST API with "Authorization: Bearer <key>" and draws tables and SVG.
'use strict';

(function () {
  var KEY = 'ventros.api_key';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var PALETTE = ['#5b7bd5', '#e67e22', '#27ae60', '#9b59b6', '#c0392b', '#16a085', '#d4ac0d',
                 '#2c3e50'];
  var current = 'traces';

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function svg(tag, attrs, children) {
    var e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function setAttrs(e, attrs) {
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.setAttribute('class', attrs[k]);
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    });
  }
  function append(e, children) {
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }

  function fmtNum(v, digits) {
    if (v === null || v === undefined) return '—';
    if (typeof v !== 'number') return String(v);
    return digits === undefined ? v.toLocaleString('en-US') : v.toFixed(digits);
  }
  function fmtCost(v) { return v === null || v === undefined ? '—' : '$' + v.toFixed(6); }
  function short(s, n) {
    if (s === null || s === undefined) return '—';
    s = String(s);
    return s.length > n ? s.slice(0, n) + '…' : s;
  }
  function td(text, cls) { return el('td', { text: text, class: cls }); }

  // ---- API ------------------------------------------------------------------------------------

  function ApiError(status, message) { this.status = status; this.message = message; }

  function api(path) {
    var key = sessionStorage.getItem(KEY);
    return fetch(path, { headers: { Authorization: 'Bearer ' + key } }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) {
          var msg = body && body.error ? body.error.code + ': ' + body.error.message : text;
          throw new ApiError(r.status, 'HTTP ' + r.status + ' ' + path + ' — ' + msg);
        }
        return body;
      });
    });
  }

  function showError(err) {
    if (err instanceof ApiError && err.status === 401) {
      signOut('The API key was refused (401): ' + err.message);
      return;
    }
    var e = $('error');
    e.textContent = err && err.message ? err.message : String(err);
    e.hidden = false;
  }
  function clearError() { $('error').hidden = true; }

  // ---- Sign in --------------------------------------------------------------------------------

  function signOut(message) {
    sessionStorage.removeItem(KEY);
    $('tabs').hidden = true;
    $('signout').hidden = true;
    clearError();
    document.querySelectorAll('.panel').forEach(function (p) { p.hidden = true; });
    $('signin').hidden = false;
    var e = $('signin-error');
    e.hidden = !message;
    e.textContent = message || '';
  }

  function signIn(key) {
    sessionStorage.setItem(KEY, key);
    // Any role may read the tenant: a cheap check of the key.
    return api('/v1/tenant').then(function () {
      $('signin').hidden = true;
      $('signin-error').hidden = true;
      $('tabs').hidden = false;
      $('signout').hidden = false;
      show(current);
    }).catch(function (err) {
      if (err instanceof ApiError && err.status === 401) signOut('Sign-in failed: ' + err.message);
      else signOut('Sign-in failed: ' + (err.message || err));
    });
  }

  // ---- Tabs -----------------------------------------------------------------------------------

  var loaders = {
    traces: loadTraces, usage: loadUsage, quality: loadQuality, flagged: loadFlagged,
    map: loadMap, workflows: loadWorkflows
  };

  function show(tab) {
    current = tab;
    clearError();
    document.querySelectorAll('#tabs button').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-tab') === tab);
    });
    document.querySelectorAll('.panel').forEach(function (p) {
      p.hidden = p.id !== 'panel-' + tab;
    });
    var panel = $('panel-' + tab);
    panel.setAttribute('data-loaded', 'false');
    loaders[tab]().then(function () {
      panel.setAttribute('data-loaded', 'true');
    }).catch(showError);
  }

  // ---- Traces ---------------------------------------------------------------------------------

  function loadTraces() {
    $('trace-detail').hidden = true;
    return api('/v1/traces?limit=100').then(function (data) {
      var body = $('traces-body');
      clear(body);
      if (!data.items.length) {
        body.appendChild(el('tr', {}, [el('td', { colspan: 10, class: 'muted', text: 'No traces yet.' })]));
      }
      data.items.forEach(function (t) {
        var tr = el('tr', {
          class: 'clickable', 'data-testid': 'trace-row', 'data-trace-id': t.trace_id,
          onclick: function () {
            body.querySelectorAll('tr').forEach(function (r) { r.classList.remove('selected'); });
            tr.classList.add('selected');
            loadTrace(t.trace_id).catch(showError);
          }
        }, [
          td(t.name), td(t.start), td(short(t.session_id, 13)), td(t.agent || '—'),
          td(fmtNum(t.duration_ms, 3), 'num'), td(fmtNum(t.spans), 'num'),
          td(fmtNum(t.total_tokens), 'num'), td(fmtCost(t.cost_usd), 'num'),
          td(t.groundedness === null || t.groundedness === undefined ? '—' : t.groundedness.toFixed(2), 'num'),
          td(t.status)
        ]);
        body.appendChild(tr);
      });
    });
  }

  function loadTrace(id) {
    return api('/v1/traces/' + encodeURIComponent(id)).then(function (tree) {
      var rows = [];
      var t0 = Infinity, t1 = -Infinity;
      (function walk(nodes, depth) {
        nodes.forEach(function (n) {
          rows.push({ span: n, depth: depth });
          t0 = Math.min(t0, n.start_us);
          t1 = Math.max(t1, n.end_us);
          walk(n.children || [], depth + 1);
        });
      })(tree.roots || [], 0);
      var total = Math.max(t1 - t0, 1);
      $('trace-title').textContent = 'Trace ' + tree.trace_id + ' — ' + fmtNum(tree.spans) +
          ' spans, ' + fmtNum(tree.duration_ms, 3) + ' ms';
      var wf = $('waterfall');
      clear(wf);
      var attrs = $('span-attributes');
      attrs.hidden = true;
      rows.forEach(function (r) {
        var s = r.span;
        var left = ((s.start_us - t0) / total) * 100;
        var width = Math.max(((s.end_us - s.start_us) / total) * 100, 0.3);
        var row = el('div', {
          class: 'span-row', 'data-testid': 'span-row', 'data-span-name': s.name, 'data-kind': s.kind,
          title: s.name + ' (' + s.kind + ') ' + fmtNum(s.duration_ms, 3) + ' ms',
          onclick: function () {
            wf.querySelectorAll('.span-row').forEach(function (x) { x.classList.remove('selected'); });
            row.classList.add('selected');
            attrs.textContent = s.name + ' [' + s.kind + '] status=' + s.status +
                (s.status_message ? ' (' + s.status_message + ')' : '') + '\n' +
                JSON.stringify(s.attributes, null, 2);
            attrs.hidden = false;
          }
        }, [
          el('div', { class: 'span-label', style: 'padding-left:' + (4 + r.depth * 16) + 'px' }, [
            el('span', { class: 'span-kind kind-' + s.kind, text: s.kind }),
            el('span', { 'data-testid': 'span-name', text: s.name })
          ]),
          el('div', { class: 'span-track' }, [
            el('div', {
              class: 'span-bar kind-' + s.kind + (s.status === 'error' ? ' error' : ''),
              style: 'left:' + left.toFixed(3) + '%;width:' + width.toFixed(3) + '%'
            })
          ]),
          el('div', { class: 'span-ms', text: fmtNum(s.duration_ms, 3) + ' ms' })
        ]);
        wf.appendChild(row);
      });
      $('trace-detail').hidden = false;
    });
  }

  // ---- Usage ----------------------------------------------------------------------------------

  var USAGE_COLS = [['key', 'Key'], ['calls', 'Calls'], ['prompt_tokens', 'Prompt'],
                    ['completion_tokens', 'Completion'], ['cached_tokens', 'Cached'],
                    ['total_tokens', 'Total tokens'], ['cost_usd', 'Cost (USD)']];

  function usageTable(tbody, items, testid) {
    var thead = tbody.parentNode.querySelector('thead');
    clear(thead);
    thead.appendChild(el('tr', {}, USAGE_COLS.map(function (c) { return el('th', { text: c[1] }); })));
    clear(tbody);
    if (!items.length) {
      tbody.appendChild(el('tr', {}, [el('td', { colspan: USAGE_COLS.length, class: 'muted', text: 'No usage yet.' })]));
    }
    items.forEach(function (it) {
      tbody.appendChild(el('tr', { 'data-testid': testid }, USAGE_COLS.map(function (c) {
        var v = it[c[0]];
        if (c[0] === 'key') return td(v);
        if (c[0] === 'cost_usd') return td(fmtCost(v), 'num');
        return el('td', { class: 'num', 'data-col': c[0], text: fmtNum(v) });
      })));
    });
  }

  function barChart(container, items) {
    clear(container);
    if (!items.length) return;
    var W = 640, H = 180, pad = 40, max = 1;
    items.forEach(function (it) { max = Math.max(max, it.total_tokens || 0); });
    var bw = Math.min(60, (W - pad * 2) / items.length - 6);
    var s = svg('svg', { width: W, height: H + 30, viewBox: '0 0 ' + W + ' ' + (H + 30), 'data-testid': 'usage-svg' });
    s.appendChild(svg('line', { x1: pad, y1: H, x2: W - pad, y2: H, stroke: '#999' }));
    s.appendChild(svg('text', { x: 4, y: 14, text: fmtNum(max) + ' tokens' }));
    items.forEach(function (it, i) {
      var h = ((it.total_tokens || 0) / max) * (H - 24);
      var x = pad + 4 + i * (bw + 6);
      s.appendChild(svg('rect', { x: x, y: H - h, width: bw, height: h, fill: '#5b7bd5', 'data-testid': 'usage-bar' }, [
        svg('title', { text: it.key + ': ' + fmtNum(it.total_tokens) + ' tokens, ' + fmtCost(it.cost_usd) })
      ]));
      s.appendChild(svg('text', { x: x, y: H + 14, text: it.key.slice(5) }));
    });
    container.appendChild(s);
  }

  function loadUsage() {
    return Promise.all([api('/v1/usage?group_by=day'), api('/v1/usage?group_by=agent')]).then(function (r) {
      usageTable($('usage-day-body'), r[0].items, 'usage-day-row');
      barChart($('usage-day-chart'), r[0].items);
      usageTable($('usage-agent-body'), r[1].items, 'usage-agent-row');
    });
  }

  // ---- Retrieval quality ----------------------------------------------------------------------

  function loadQuality() {
    return api('/v1/retrieval/quality').then(function (q) {
      var dl = $('quality');
      clear(dl);
      [['searches', 'Searches', 0], ['average_similarity', 'Average similarity', 4],
       ['reranked', 'Reranked', 0], ['average_rerank_gain', 'Average rerank gain', 4]].forEach(function (f) {
        dl.appendChild(el('dt', { text: f[1] }));
        dl.appendChild(el('dd', { 'data-testid': 'quality-' + f[0],
          text: q[f[0]] === null ? '—' : (f[2] ? fmtNum(q[f[0]], f[2]) : fmtNum(q[f[0]])) }));
      });
    });
  }

  // ---- Flagged --------------------------------------------------------------------------------

  function loadFlagged() {
    return api('/v1/evaluations/flagged?limit=100').then(function (data) {
      var body = $('flagged-body');
      clear(body);
      if (!data.items.length) {
        body.appendChild(el('tr', {}, [el('td', { colspan: 7, class: 'muted', text: 'No flagged replies.' })]));
      }
      data.items.forEach(function (f) {
        body.appendChild(el('tr', { 'data-testid': 'flagged-row' }, [
          td(f.at), td(f.agent || '—'), td(short(f.session_id, 13)), td(fmtNum(f.score, 2), 'num'),
          td(f.replaced ? 'yes' : 'no'), td(f.reply), td(f.unsupported || '—')
        ]));
      });
    });
  }

  // ---- Embedding map --------------------------------------------------------------------------

  function loadMap() {
    return api('/v1/memory/map').then(function (m) {
      var box = $('map');
      clear(box);
      $('map-info').textContent = m.points.length + ' sessions, embedder ' + m.embedder +
          ', explained variance ' + fmtNum(m.explained_variance, 4);
      if (!m.points.length) {
        box.appendChild(el('p', { class: 'muted', text: 'No session embeddings yet.' }));
        return;
      }
      var W = 640, H = 440, pad = 30;
      var xs = m.points.map(function (p) { return p.x; }).concat(m.clusters.map(function (c) { return c.x; }));
      var ys = m.points.map(function (p) { return p.y; }).concat(m.clusters.map(function (c) { return c.y; }));
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
      var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
      if (y1 - y0 < 1e-9) { y0 -= 1; y1 += 1; }
      function px(x) { return pad + ((x - x0) / (x1 - x0)) * (W - 2 * pad); }
      function py(y) { return H - pad - ((y - y0) / (y1 - y0)) * (H - 2 * pad); }
      var s = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'data-testid': 'map-svg' });
      s.appendChild(svg('rect', { x: 0, y: 0, width: W, height: H, fill: '#fff', stroke: '#dde1e8' }));
      m.points.forEach(function (p) {
        s.appendChild(svg('circle', {
          cx: px(p.x).toFixed(1), cy: py(p.y).toFixed(1), r: 5, 'fill-opacity': 0.8,
          fill: PALETTE[((p.cluster % PALETTE.length) + PALETTE.length) % PALETTE.length],
          'data-testid': 'map-point', 'data-cluster': p.cluster
        }, [svg('title', { text: p.header + ' (' + p.session_id + ')' })]));
      });
      m.clusters.forEach(function (c) {
        s.appendChild(svg('text', {
          x: px(c.x).toFixed(1), y: (py(c.y) - 8).toFixed(1), 'text-anchor': 'middle',
          'font-weight': 'bold', 'data-testid': 'map-label',
          text: c.label + ' (' + c.size + ')'
        }));
      });
      box.appendChild(s);
    });
  }

  // ---- Workflows ------------------------------------------------------------------------------

  function loadWorkflows() {
    return api('/v1/workflows').then(function (data) {
      var body = $('workflows-body');
      clear(body);
      if (!data.items.length) {
        body.appendChild(el('tr', {}, [el('td', { colspan: 6, class: 'muted', text: 'No workflows.' })]));
      }
      data.items.forEach(function (w) {
        body.appendChild(el('tr', { 'data-testid': 'workflow-row' }, [
          td(w.id), td(w.type), td(w.status), td(w.step || '—'), td(w.waiting_for || '—'),
          td(w.updated_at)
        ]));
      });
    });
  }

  // ---- Start ----------------------------------------------------------------------------------

  document.addEventListener('DOMContentLoaded', function () {
    $('signin-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      signIn($('api-key').value.trim());
    });
    $('signout').addEventListener('click', function () { signOut(''); });
    document.querySelectorAll('#tabs button').forEach(function (b) {
      b.addEventListener('click', function () { show(b.getAttribute('data-tab')); });
    });
    document.querySelectorAll('.reload').forEach(function (b) {
      b.addEventListener('click', function () { show(b.getAttribute('data-reload')); });
    });
    if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY));
  });
})();
