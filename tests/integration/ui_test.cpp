// The /ui/ dashboard: served from the binary without a key, and driven in headless Chromium
// (tests/ui/ui_test.js, playwright-core with /usr/bin/chromium) against a server where an agent
// turn happened: sign-in, the trace list and waterfall, usage, retrieval quality, flagged replies,
// the embedding map and workflows. Chromium and tests/ui/node_modules come from scripts/setup;
// without them the test fails saying so.

#include <fmt/format.h>
#include <sys/wait.h>

#include <array>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/observability/store.hpp"

using ventros::testing::EventuallyWithin;
using ventros::testing::FakeWaha;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

fs::path SourceDir() {
  const char* dir = std::getenv("VENTROS_SOURCE_DIR");
  return dir && *dir ? fs::path(dir) : fs::current_path();
}

// Runs a command with stderr joined to stdout; the exit status and the output.
std::pair<int, std::string> Run(const std::string& command) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return {-1, "popen failed"};
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("UI: the dashboard is served from the binary without a key", "[ui]") {
  TestDb db(ventros::core::DbEngine::kSqlite);
  TestServer s(db.url());
  for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
    auto r = s.Call("GET", path);
    INFO(path);
    CHECK(r.status == 200);
    CHECK(r.content_type.starts_with("text/html"));
    CHECK(r.body.find("/ui/app.js") != std::string::npos);
  }
  auto js = s.Call("GET", "/ui/app.js");
  CHECK(js.status == 200);
  CHECK(js.content_type.starts_with("text/javascript"));
  auto css = s.Call("GET", "/ui/style.css");
  CHECK(css.status == 200);
  CHECK(css.content_type.starts_with("text/css"));
  CHECK(s.Call("GET", "/ui/nope.js").status == 404);
}

TEST_CASE("UI: the dashboard in headless Chromium shows traces, usage, the map and workflows",
          "[ui][browser]") {
  const fs::path root = SourceDir();
  const fs::path script = root / "tests/ui/ui_test.js";
  const fs::path shots = root / "test-artifacts/ui";
  INFO("scripts/setup installs Chromium (Debian package chromium) and tests/ui/node_modules");
  if (!fs::exists("/usr/bin/chromium")) FAIL("/usr/bin/chromium is missing: run scripts/setup");
  if (!fs::exists(root / "tests/ui/node_modules/playwright-core")) {
    FAIL("tests/ui/node_modules/playwright-core is missing: run scripts/setup");
  }
  if (Run("node --version").first != 0) FAIL("node is not on PATH: run scripts/setup");

  TestDb db(ventros::core::DbEngine::kSqlite);
  FakeWaha waha;
  auto config = TestServer::DefaultConfig();
  config.modules = {"crm", "memory", "agents", "workflows", "observability"};
  config.events.poll_interval_ms = 50;
  TestServer s(db.url(), config);
  const std::string admin = s.admin_key();
  std::string channel = ventros::testing::CreateWahaChannel(s, waha.BaseUrl(), waha.api_key(), "k");
  std::string body = ventros::testing::MessageWebhook(
      "5511987654321", "Quero cancelar minha conta, muito caro", "U1");
  ventros::testing::PostWebhook(s, channel, "k", body);
  REQUIRE(EventuallyWithin(15, [&] { return waha.Calls("POST", "/api/sendText").size() == 1; }));

  // The turn's trace is stored and the session is on the map before the browser looks.
  REQUIRE(s.server().span_store() != nullptr);
  REQUIRE(EventuallyWithin(10, [&] {
    REQUIRE(s.server().span_store()->Flush().ok());
    auto r = s.Call("GET", "/v1/traces", admin);
    return r.status == 200 && r.body.find("\"agent.turn\"") != std::string::npos;
  }));
  REQUIRE(EventuallyWithin(10, [&] {
    auto r = s.Call("GET", "/v1/memory/map", admin);
    return r.status == 200 && !ParseJson(r.body).at("points").as_array().empty();
  }));

  fs::create_directories(shots);
  auto [code, output] = Run(fmt::format("node '{}' '{}' '{}' '{}'", script.string(), s.base_url(),
                                        admin, shots.string()));
  INFO(output);
  CHECK(code == 0);
  CHECK(fs::exists(shots / "waterfall.png"));
}
