// The `ventros` CLI, run in-process: verbs, --json, --help with examples, exit codes, errors.

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "app/app.hpp"
#include "support/test_db.hpp"

using ventros::testing::ParseJson;
using ventros::testing::TempDir;
using ventros::testing::TestDb;

namespace {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "ventros");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = ventros::app::RunCli(static_cast<int>(argv.size()), argv.data(), out, err, env);
  return {code, out.str(), err.str()};
}

}  // namespace

VENTROS_DB_TEST("CLI: tenant and apikey verbs with --json", "[cli]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme Ltd", "--db", db.url(), "--json"});
  INFO(created.err);
  REQUIRE(created.code == 0);
  auto v = ParseJson(created.out);
  std::string tenant(v.at("tenant").at("id").as_string());
  CHECK(v.at("tenant").at("name") == "Acme Ltd");
  CHECK(v.at("api_key").at("role") == "admin");
  CHECK(v.at("api_key").at("key").as_string().starts_with("vt_"));

  auto list = Run({"tenant", "list", "--db", db.url(), "--json"});
  REQUIRE(list.code == 0);
  CHECK(ParseJson(list.out).at("items").as_array().size() == 1);
  auto table = Run({"tenant", "list", "--db", db.url()});
  CHECK_THAT(table.out, Catch::Contains("Acme Ltd"));

  auto key = Run({"apikey", "create", "--tenant", tenant, "--role", "readonly", "--name", "Grafana",
                  "--db", db.url(), "--json"});
  INFO(key.err);
  REQUIRE(key.code == 0);
  std::string key_id(ParseJson(key.out).at("id").as_string());
  auto keys = Run({"apikey", "list", "--tenant", tenant, "--db", db.url(), "--json"});
  REQUIRE(keys.code == 0);
  CHECK(ParseJson(keys.out).at("items").as_array().size() == 2);
  CHECK(keys.out.find("\"key\"") == std::string::npos);

  auto revoke = Run({"apikey", "revoke", key_id, "--db", db.url(), "--json"});
  REQUIRE(revoke.code == 0);
  CHECK_FALSE(ParseJson(revoke.out).at("revoked_at").is_null());

  auto unknown_tenant = Run({"apikey", "list", "--tenant", "01936f2e-0000-7000-8000-000000000000",
                             "--db", db.url()});
  CHECK(unknown_tenant.code == 1);
  CHECK_THAT(unknown_tenant.err, Catch::StartsWith("error: tenant"));
}

VENTROS_DB_TEST("CLI: migrate applies and reports status", "[cli][migrations]") {
  TestDb db(engine);
  auto before = Run({"migrate", "--status", "--json", "--db", db.url()});
  REQUIRE(before.code == 0);
  auto before_doc = ParseJson(before.out);
  for (const auto& m : before_doc.at("migrations").as_array()) {
    CHECK_FALSE(m.at("applied").as_bool());
  }
  auto apply = Run({"migrate", "--db", db.url()});
  REQUIRE(apply.code == 0);
  CHECK_THAT(apply.out, Catch::Contains("Applied"));
  auto after = Run({"migrate", "--status", "--json", "--db", db.url()});
  auto after_doc = ParseJson(after.out);
  for (const auto& m : after_doc.at("migrations").as_array()) {
    CHECK(m.at("applied").as_bool());
  }
  CHECK_THAT(Run({"migrate", "--db", db.url()}).out, Catch::Contains("up to date"));
}

TEST_CASE("CLI: every verb has --help with an example", "[cli]") {
  std::vector<std::vector<std::string>> verbs = {
      {},          {"serve"},           {"migrate"},         {"tenant"},          {"tenant", "create"},
      {"tenant", "list"}, {"apikey"}, {"apikey", "create"}, {"apikey", "list"}, {"apikey", "revoke"}};
  for (auto verb : verbs) {
    verb.push_back("--help");
    auto r = Run(verb);
    INFO(verb.front());
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Example"));
    CHECK_THAT(r.out, Catch::Contains("ventros"));
  }
}

TEST_CASE("CLI: usage errors exit 2 with one line on stderr", "[cli]") {
  auto none = Run({});
  CHECK(none.code == 2);
  auto unknown = Run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::StartsWith("error: "));
  auto missing = Run({"apikey", "create", "--role", "admin"});
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--tenant"));
  auto bad_role = Run({"apikey", "create", "--tenant", "x", "--role", "root"});
  CHECK(bad_role.code == 2);
  CHECK(std::count(bad_role.err.begin(), bad_role.err.end(), '\n') == 1);
  CHECK(Run({"--version"}).code == 0);
}

TEST_CASE("CLI: start-up errors name the problem and exit 1", "[cli]") {
  TempDir dir;
  std::string cfg = dir.path() + "/bad.json";
  std::ofstream(cfg) << R"({"server": {"listen": "127.0.0.1:0"}, "databse": {}})";
  auto unknown_key = Run({"serve", "--config", cfg});
  CHECK(unknown_key.code == 1);
  CHECK_THAT(unknown_key.err, Catch::Contains("'databse'"));

  auto bad_env = Run({"tenant", "list", "--db", "sqlite::memory:"}, {"VENTROS_LOG_LEVL=info"});
  CHECK(bad_env.code == 1);
  CHECK_THAT(bad_env.err, Catch::Contains("VENTROS_LOG_LEVL"));

  auto unreachable = Run({"serve", "--db", "postgres://ventros:hunter2@127.0.0.1:1/ventros",
                          "--listen", "127.0.0.1:0"},
                         {"VENTROS_DATABASE_CONNECT_TIMEOUT_MS=1000"});
  CHECK(unreachable.code == 1);
  CHECK_THAT(unreachable.err, Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
  CHECK(unreachable.err.find("hunter2") == std::string::npos);

  auto bad_url = Run({"migrate", "--db", "mysql://x"});
  CHECK(bad_url.code == 1);
  CHECK_THAT(bad_url.err, Catch::Contains("unsupported database URL"));

  auto bad_listen = Run({"serve", "--db", "sqlite::memory:", "--listen", "nowhere"});
  CHECK(bad_listen.code == 1);
  CHECK_THAT(bad_listen.err, Catch::Contains("server.listen"));
}

TEST_CASE("CLI: serve refuses a database whose applied migration changed", "[cli][migrations]") {
  TestDb db(ventros::core::DbEngine::kSqlite);
  REQUIRE(Run({"migrate", "--db", db.url()}).code == 0);
  {
    auto database = db.Open();
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Query("UPDATE schema_migrations SET checksum = 'tampered'").ok());
  }
  auto r = Run({"serve", "--db", db.url(), "--listen", "127.0.0.1:0"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("was changed after it was applied"));
}

TEST_CASE("Config: http_client keys reach the outgoing HTTP client options", "[config]") {
  auto config = ventros::core::ConfigLoader::Load(
      "", {"VENTROS_HTTP_CLIENT_MAX_RETRIES=5", "VENTROS_HTTP_CLIENT_REQUEST_TIMEOUT_MS=1234"});
  REQUIRE(config.ok());
  auto opts = ventros::app::HttpClientOptionsFrom(*config);
  CHECK(opts.max_retries == 5);
  CHECK(opts.request_timeout == std::chrono::milliseconds(1234));
  CHECK(opts.connect_timeout == std::chrono::milliseconds(5000));
}
