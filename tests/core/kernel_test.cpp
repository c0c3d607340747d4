// Kernel pieces without I/O: status, ids, clock, config, metrics, router.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/test_db.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/config.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"

using namespace ventros::core;

namespace {
Result<int> Half(int v) {
  if (v % 2) return Status::InvalidArgument("odd");
  return v / 2;
}
Result<int> Quarter(int v) {
  VENTROS_ASSIGN_OR_RETURN(int h, Half(v));
  return Half(h);
}
}  // namespace

TEST_CASE("Result: carries a value or a status and propagates errors", "[core]") {
  REQUIRE(Quarter(8).ok());
  CHECK(*Quarter(8) == 2);
  auto bad = Quarter(6);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().ToString() == "invalid_argument: odd");
  CHECK(Status::NotFound("x").WithContext("loading").message() == "loading: x");
}

TEST_CASE("UUIDv7: well formed, version 7, time ordered, unique", "[core]") {
  VirtualClock clock(1767225600123);
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 5000; ++i) {
    if (i % 100 == 0) clock.AdvanceMillis(1);
    std::string id = NewUuidV7(clock);
    REQUIRE(IsUuid(id));
    CHECK(id[14] == '7');
    CHECK((id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b'));
    CHECK(id > prev);  // monotonic within the process, even inside one millisecond
    prev = id;
    seen.insert(id);
  }
  CHECK(seen.size() == 5000);
  // The first 48 bits are the millisecond timestamp (a time later than any id made so far).
  std::string id = NewUuidV7(VirtualClock(0x7123456789AB));
  CHECK(id.substr(0, 13) == "71234567-89ab");
  CHECK_FALSE(IsUuid("not-a-uuid"));
  CHECK_FALSE(IsUuid("01234567-89ab-7cde-8f01-23456789abcg"));
}

TEST_CASE("Clock: virtual time moves only when told and formats as RFC 3339", "[core]") {
  VirtualClock clock(1767225600000);
  CHECK(FormatTimestamp(clock.NowMillis()) == "2026-01-01T00:00:00.000Z");
  clock.AdvanceMillis(90061001);
  CHECK(FormatTimestamp(clock.NowMillis()) == "2026-01-02T01:01:01.001Z");
}

TEST_CASE("Crypto: SHA-256, HMAC-SHA512 known answers and key randomness", "[core]") {
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(HmacSha512Hex("key", "The quick brown fox jumps over the lazy dog") ==
        "b42af09057bac1e2d41708e48a902e09b5ff7f12ab428a4fe86653c73dd248fb82f948a549f7b791a5b41915e"
        "e4d1ec3935357e4e2317250d0372afa2ebeeb3a");
  CHECK(RandomBase62(40).size() == 40);
  CHECK(RandomBase62(40) != RandomBase62(40));
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "ab"));
}

namespace {
std::string WriteFile(const ventros::testing::TempDir& dir, const std::string& text) {
  std::string path = dir.path() + "/ventros.json";
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("Config: file with comments, then environment, then flags", "[core][config]") {
  ventros::testing::TempDir dir;
  std::string path = WriteFile(dir, R"({
    // comments are allowed
    "server": {"listen": "0.0.0.0:9000", "io_threads": 3},
    "database": {"url": "sqlite::memory:", "auto_migrate": false},
    "log": {"format": "json"}, /* trailing commas too */
  })");
  auto c = ConfigLoader::Load(path, {"VENTROS_SERVER_IO_THREADS=5", "VENTROS_MODULES=crm",
                                     "PATH=/usr/bin", "VENTROS_TEST_PG_URL=x"});
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->server.listen == "0.0.0.0:9000");
  CHECK(c->server.io_threads == 5);  // environment beats file
  CHECK(c->database.url == "sqlite::memory:");
  CHECK_FALSE(c->database.auto_migrate);
  CHECK(c->log.format == "json");
  CHECK(c->server.body_limit_bytes == 1048576);  // default kept
  REQUIRE(ConfigLoader::Set(*c, "server.listen", "127.0.0.1:0").ok());
  CHECK(c->server.listen == "127.0.0.1:0");
}

TEST_CASE("Config: unknown keys and wrong types are errors that name the key", "[core][config]") {
  ventros::testing::TempDir dir;
  auto unknown = ConfigLoader::Load(WriteFile(dir, R"({"server": {"lisen": "x"}})"), {});
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("'server.lisen'"));

  auto wrong = ConfigLoader::Load(WriteFile(dir, R"({"server": {"io_threads": "two"}})"), {});
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.status().message(), Catch::Contains("'server.io_threads'"));
  CHECK_THAT(wrong.status().message(), Catch::Contains("integer"));

  auto section = ConfigLoader::Load(WriteFile(dir, R"({"server": 3})"), {});
  REQUIRE_FALSE(section.ok());
  CHECK_THAT(section.status().message(), Catch::Contains("'server'"));

  auto env = ConfigLoader::Load("", {"VENTROS_DATABSE_URL=x"});
  REQUIRE_FALSE(env.ok());
  CHECK_THAT(env.status().message(), Catch::Contains("VENTROS_DATABSE_URL"));

  auto env_type = ConfigLoader::Load("", {"VENTROS_DATABASE_POOL_SIZE=many"});
  REQUIRE_FALSE(env_type.ok());
  CHECK_THAT(env_type.status().message(), Catch::Contains("'database.pool_size'"));

  auto bad_json = ConfigLoader::Load(WriteFile(dir, R"({"server": )"), {});
  REQUIRE_FALSE(bad_json.ok());
  CHECK_THAT(bad_json.status().message(), Catch::Contains("not valid JSON"));

  auto level = ConfigLoader::Load("", {"VENTROS_LOG_LEVEL=loud"});
  REQUIRE_FALSE(level.ok());
  CHECK_THAT(level.status().message(), Catch::Contains("'log.level'"));

  auto missing = ConfigLoader::Load(dir.path() + "/nope.json", {});
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("nope.json"));
}

TEST_CASE("Config: integers that do not fit their key are errors naming the key",
          "[core][config]") {
  // Regression: VENTROS_SERVER_IO_THREADS=4294967297 became 1 thread, and the digit loop could
  // overflow int64.
  ventros::testing::TempDir dir;
  auto wrapped = ConfigLoader::Load("", {"VENTROS_SERVER_IO_THREADS=4294967297"});
  REQUIRE_FALSE(wrapped.ok());
  CHECK_THAT(wrapped.status().message(), Catch::Contains("'server.io_threads'"));
  CHECK_THAT(wrapped.status().message(), Catch::Contains("1000000"));
  auto overflow = ConfigLoader::Load("", {"VENTROS_SERVER_READ_TIMEOUT_MS=99999999999999999999"});
  REQUIRE_FALSE(overflow.ok());
  CHECK_THAT(overflow.status().message(), Catch::Contains("'server.read_timeout_ms'"));
  auto above_2_53 = ConfigLoader::Load("", {"VENTROS_SERVER_BODY_LIMIT_BYTES=9007199254740993"});
  REQUIRE_FALSE(above_2_53.ok());
  CHECK_THAT(above_2_53.status().message(), Catch::Contains("'server.body_limit_bytes'"));
  auto largest = ConfigLoader::Load("", {"VENTROS_SERVER_BODY_LIMIT_BYTES=9007199254740992",
                                         "VENTROS_SERVER_WORKER_THREADS=1000000"});
  INFO(largest.status().ToString());
  REQUIRE(largest.ok());
  CHECK(largest->server.body_limit_bytes == 9007199254740992);
  CHECK(largest->server.worker_threads == 1000000);

  auto file = ConfigLoader::Load(WriteFile(dir, R"({"database": {"pool_size": 3000000000}})"), {});
  REQUIRE_FALSE(file.ok());
  CHECK_THAT(file.status().message(), Catch::Contains("'database.pool_size'"));
  auto unsigned64 = ConfigLoader::Load(
      WriteFile(dir, R"({"server": {"shutdown_grace_ms": 18446744073709551615}})"), {});
  REQUIRE_FALSE(unsigned64.ok());
  CHECK_THAT(unsigned64.status().message(), Catch::Contains("'server.shutdown_grace_ms'"));

  auto negative_grace = ConfigLoader::Load("", {"VENTROS_SERVER_SHUTDOWN_GRACE_MS=-1"});
  REQUIRE_FALSE(negative_grace.ok());
  CHECK_THAT(negative_grace.status().message(), Catch::Contains("'server.shutdown_grace_ms'"));
  CHECK(ConfigLoader::Load("", {"VENTROS_SERVER_SHUTDOWN_GRACE_MS=0"}).ok());

  Config flags;
  Status cli = ConfigLoader::Set(flags, "server.worker_threads", "2147483648");
  REQUIRE_FALSE(cli.ok());
  CHECK_THAT(cli.message(), Catch::Contains("'server.worker_threads'"));
  CHECK(flags.server.worker_threads == Config{}.server.worker_threads);  // left unchanged

  // A Config built in code is held to the same bounds.
  Config in_code;
  in_code.server.shutdown_grace_ms = -5;
  CHECK_THAT(ConfigLoader::Validate(in_code).message(),
             Catch::Contains("'server.shutdown_grace_ms'"));
  in_code = Config{};
  in_code.server.read_timeout_ms = (int64_t{1} << 53) + 1;
  CHECK_THAT(ConfigLoader::Validate(in_code).message(),
             Catch::Contains("'server.read_timeout_ms'"));
  CHECK(ConfigLoader::Validate(Config{}).ok());
}

TEST_CASE("Config: the shipped config file and docs cover every key", "[core][config][docs]") {
  std::string root = std::getenv("VENTROS_SOURCE_DIR") ? std::getenv("VENTROS_SOURCE_DIR") : ".";
  auto shipped = ConfigLoader::Load(root + "/config/ventros.json", {});
  INFO(shipped.status().ToString());
  REQUIRE(shipped.ok());
  std::ifstream cfg(root + "/config/ventros.json"), doc(root + "/docs/configuration.md");
  std::string cfg_text((std::istreambuf_iterator<char>(cfg)), {});
  std::string doc_text((std::istreambuf_iterator<char>(doc)), {});
  REQUIRE_FALSE(doc_text.empty());
  for (const auto& key : ConfigSchema()) {
    INFO(key.key);
    CHECK(doc_text.find("`" + key.key + "`") != std::string::npos);
    CHECK(doc_text.find("`" + key.env + "`") != std::string::npos);
    std::string leaf = key.key.substr(key.key.rfind('.') + 1);
    CHECK(cfg_text.find("\"" + leaf + "\"") != std::string::npos);
  }
}

TEST_CASE("Config: listen addresses", "[core][config]") {
  auto a = ParseListenAddress("127.0.0.1:8080");
  REQUIRE(a.ok());
  CHECK(a->first == "127.0.0.1");
  CHECK(a->second == 8080);
  auto v6 = ParseListenAddress("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->first == "::1");
  CHECK_FALSE(ParseListenAddress("localhost").ok());
  CHECK_FALSE(ParseListenAddress("x:70000").ok());
  CHECK_FALSE(ParseListenAddress("x:80a").ok());
}

TEST_CASE("Metrics: counters, gauges and histograms in Prometheus text format", "[core]") {
  MetricsRegistry m;
  m.GetCounter("req_total", "Requests", {{"route", "/a\"b"}}).Inc();
  m.GetCounter("req_total", "Requests", {{"route", "/a\"b"}}).Inc(2);
  m.GetGauge("open", "Open").Set(4);
  auto& h = m.GetHistogram("lat", "Latency", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = m.RenderPrometheus();
  CHECK_THAT(text, Catch::Contains("# TYPE req_total counter"));
  CHECK_THAT(text, Catch::Contains("req_total{route=\"/a\\\"b\"} 3"));
  CHECK_THAT(text, Catch::Contains("open 4"));
  CHECK_THAT(text, Catch::Contains("lat_bucket{le=\"0.1\"} 1"));
  CHECK_THAT(text, Catch::Contains("lat_bucket{le=\"1\"} 2"));
  CHECK_THAT(text, Catch::Contains("lat_bucket{le=\"+Inf\"} 3"));
  CHECK_THAT(text, Catch::Contains("lat_count 3"));
}

TEST_CASE("Router: path parameters, literal segments first, 405 information", "[core][http]") {
  Router r;
  auto reply = [](std::string tag) {
    return [tag](HttpRequest& req) {
      return HttpResponse::Json(200, tag + ":" + req.PathParam("id"));
    };
  };
  r.Add("GET", "/v1/things/{id}", reply("param"));
  r.Add("GET", "/v1/things/mine", reply("literal"));
  r.Add("DELETE", "/v1/things/{id}", reply("delete"));
  auto m = r.Find("GET", "/v1/things/42");
  REQUIRE(m.route);
  CHECK(m.params.at("id") == "42");
  auto lit = r.Find("GET", "/v1/things/mine");
  REQUIRE(lit.route);
  CHECK(lit.route->pattern == "/v1/things/mine");
  auto none = r.Find("GET", "/v1/things");
  CHECK_FALSE(none.route);
  CHECK_FALSE(none.path_matched);
  auto wrong = r.Find("PUT", "/v1/things/42");
  CHECK_FALSE(wrong.route);
  CHECK(wrong.path_matched);
  CHECK(wrong.allowed_methods.size() == 2);
}

TEST_CASE("Router: roles are checked after authentication", "[core][http]") {
  Router r;
  r.Add("GET", "/admin", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); },
        {.min_role = Role::kAdmin});
  r.SetAuthenticator([](const HttpRequest& req) -> Result<Principal> {
    if (req.Header("X-Api-Key") == "admin") return Principal{"t", "k", Role::kAdmin};
    if (req.Header("X-Api-Key") == "ro") return Principal{"t", "k", Role::kReadonly};
    return Status::Unauthenticated("invalid API key");
  });
  const Route& route = *r.Find("GET", "/admin").route;
  HttpRequest none;
  CHECK(r.Dispatch(route, none).status == 401);
  HttpRequest ro;
  ro.headers = {{"x-api-key", "ro"}};
  auto forbidden = r.Dispatch(route, ro);
  CHECK(forbidden.status == 403);
  CHECK_THAT(forbidden.body, Catch::Contains("\"code\":\"permission_denied\""));
  HttpRequest admin;
  admin.headers = {{"X-API-KEY", "admin"}};
  CHECK(r.Dispatch(route, admin).status == 200);
}

TEST_CASE("HTTP: query strings and percent-decoding", "[core][http]") {
  auto q = ParseQuery("a=1&b=x%20y+z&flag&c=%ZZ");
  REQUIRE(q.size() == 4);
  CHECK(q[1].second == "x y z");
  CHECK(q[2].first == "flag");
  CHECK(q[3].second == "%ZZ");
  HttpRequest req;
  req.query = "status=open&limit=5";
  CHECK(req.QueryParam("limit") == std::optional<std::string>("5"));
  CHECK_FALSE(req.QueryParam("missing").has_value());
}

TEST_CASE("HTTP: errors are JSON with code, message and request id", "[core][http]") {
  auto r = HttpResponse::FromStatus(Status::NotFound("api key \"x\" not found"), "rid-1");
  CHECK(r.status == 404);
  auto v = ventros::testing::ParseJson(r.body);
  CHECK(v.at("error").at("code") == "not_found");
  CHECK(v.at("error").at("message") == "api key \"x\" not found");
  CHECK(v.at("error").at("request_id") == "rid-1");
  auto internal = HttpResponse::FromStatus(Status::Internal("secret detail"), "rid-2");
  CHECK(internal.status == 500);
  CHECK(internal.body.find("secret detail") == std::string::npos);
  CHECK(HttpStatusFor(StatusCode::kUnavailable) == 503);
  CHECK(HttpStatusFor(StatusCode::kAlreadyExists) == 409);
}

TEST_CASE("HTTP: 503 answers are generic - the cause (hosts, database URLs) goes to the log only",
          "[core][http]") {
  const std::string cause =
      "cannot connect to postgres://ventros:***@db.internal:5432/ventros: connection refused";
  auto r = HttpResponse::FromStatus(Status::Unavailable(cause), "rid-3");
  CHECK(r.status == 503);
  auto v = ventros::testing::ParseJson(r.body);
  CHECK(v.at("error").at("code") == "unavailable");
  CHECK(v.at("error").at("message") == "service temporarily unavailable; retry later");
  CHECK(v.at("error").at("request_id") == "rid-3");
  CHECK(r.body.find("db.internal") == std::string::npos);
  CHECK(r.body.find("postgres") == std::string::npos);
  CHECK(r.log_detail == cause);
  bool retry_after = false;
  for (const auto& [name, value] : r.headers) retry_after |= name == "Retry-After" && value == "1";
  CHECK(retry_after);
}

TEST_CASE("Log: JSON lines escape the message", "[core]") {
  ventros::testing::TempDir dir;
  Config::Log cfg;
  cfg.format = "json";
  cfg.file = dir.path() + "/log.jsonl";
  auto logger = MakeLogger(cfg);
  REQUIRE(logger.ok());
  (*logger)->info("request_id={} said \"hi\"\n", "abc");
  (*logger)->flush();
  std::ifstream in(cfg.file);
  std::string line;
  std::getline(in, line);
  auto v = ventros::testing::ParseJson(line);
  CHECK(v.at("level") == "info");
  CHECK(v.at("msg") == "request_id=abc said \"hi\"\n");
}

TEST_CASE("Log: JsonEscape keeps valid UTF-8 and replaces invalid sequences with U+FFFD",
          "[core]") {
  const std::string kBad = "\\ufffd";
  // Valid text of every length passes through unchanged.
  CHECK(JsonEscape("olá ✓ 😀 \x7f") == "olá ✓ 😀 \x7f");
  CHECK(JsonEscape("\xf4\x8f\xbf\xbf") == "\xf4\x8f\xbf\xbf");  // U+10FFFF, the last code point
  CHECK(JsonEscape("\xed\x9f\xbf") == "\xed\x9f\xbf");          // U+D7FF, just below surrogates
  // Stray and impossible bytes.
  CHECK(JsonEscape("a\xff"
                   "b") == "a" + kBad + "b");
  CHECK(JsonEscape("\x80") == kBad);
  CHECK(JsonEscape("\xf5\x80\x80\x80") == kBad + kBad + kBad + kBad);
  // Overlong forms ('/' as two and three bytes, U+FFFF as four).
  CHECK(JsonEscape("\xc0\xaf") == kBad + kBad);
  CHECK(JsonEscape("\xe0\x80\xaf") == kBad + kBad + kBad);
  CHECK(JsonEscape("\xf0\x8f\xbf\xbf") == kBad + kBad + kBad + kBad);
  // UTF-16 surrogates encoded as UTF-8, and code points above U+10FFFF.
  CHECK(JsonEscape("\xed\xa0\x80") == kBad + kBad + kBad);
  CHECK(JsonEscape("\xf4\x90\x80\x80") == kBad + kBad + kBad + kBad);
  // A truncated sequence is one replacement, and the next character survives.
  CHECK(JsonEscape("\xe2\x9c") == kBad);
  CHECK(JsonEscape("\xe2\x9c"
                   "x") == kBad + "x");
  CHECK(JsonEscape("\xf0\x9f\x98"
                   "\xe2\x9c\x93") == kBad + "\xe2\x9c\x93");
  // Control characters are still escaped.
  CHECK(JsonEscape("\"\\\n\x01") == "\\\"\\\\\\n\\u0001");
}

TEST_CASE("Log: JSON lines stay valid JSON when the message holds invalid UTF-8", "[core]") {
  ventros::testing::TempDir dir;
  Config::Log cfg;
  cfg.format = "json";
  cfg.file = dir.path() + "/log.jsonl";
  auto logger = MakeLogger(cfg);
  REQUIRE(logger.ok());
  (*logger)->info("path=/x{}y", std::string("\xc3\x28\xed\xa0\x80\xff"));
  (*logger)->flush();
  std::ifstream in(cfg.file);
  std::string line;
  std::getline(in, line);
  auto v = ventros::testing::ParseJson(line);  // Boost.JSON rejects invalid UTF-8
  CHECK(v.at("msg") == "path=/x\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy");
}

TEST_CASE("ParseTimestamp reads what FormatTimestamp writes, and nothing else", "[kernel]") {
  for (int64_t ms : {int64_t{0}, int64_t{1764064800123}, int64_t{951782400000}, int64_t{999}}) {
    CHECK(ventros::core::ParseTimestamp(ventros::core::FormatTimestamp(ms)) == ms);
  }
  CHECK(ventros::core::ParseTimestamp("2026-11-25T10:00:00Z") == 1795600800000);
  CHECK(ventros::core::ParseTimestamp("2026-11-25T10:00:00.5Z") == 1795600800500);
  for (const char* bad :
       {"", "2026-11-25", "2026-11-25 10:00:00Z", "2026-13-25T10:00:00Z", "2026-11-25T10:00:00",
        "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00Zx", "2026-11-25T10:00:00+01:00"}) {
    INFO(bad);
    CHECK_FALSE(ventros::core::ParseTimestamp(bad).has_value());
  }
}

TEST_CASE("Tests: no test name contains a semicolon (ctest would split it and run nothing)",
          "[meta]") {
  namespace fs = std::filesystem;
  const char* root = std::getenv("VENTROS_SOURCE_DIR");
  REQUIRE(root != nullptr);
  // A test macro and its name, possibly several adjacent string literals.
  const std::regex name(R"re((TEST_CASE|VENTROS_DB_TEST)\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+))re");
  int files = 0;
  for (const auto& dir : {fs::path(root) / "tests", fs::path(root) / "modules"}) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.path().extension() != ".cpp" ||
          entry.path().string().find("/tests/") == std::string::npos) {
        continue;
      }
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const std::string source = text.str();
      ++files;
      for (std::sregex_iterator it(source.begin(), source.end(), name), end; it != end; ++it) {
        INFO(entry.path().string() << ": " << (*it)[2].str());
        CHECK((*it)[2].str().find(';') == std::string::npos);
      }
    }
  }
  CHECK(files > 10);
}
