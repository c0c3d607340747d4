// The REST API end to end over loopback HTTP, on both engines: tenants, API keys, the auth
// matrix (401/403/404), bad input, system routes and the OpenAPI document.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "support/test_db.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/embedded.hpp"
#include "ventros/crm/tenants.hpp"

using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
namespace json = boost::json;

namespace {
std::string ErrorCode(const TestServer::Reply& r) {
  return std::string(ParseJson(r.body).at("error").at("code").as_string());
}

// The migrated test database, opened so that its PostgreSQL sessions carry `application_name`
// (the tests below find the sessions waiting on a lock by it).
std::unique_ptr<ventros::core::Database> OpenNamed(const TestDb& tdb, const std::string& app) {
  tdb.OpenMigrated();
  ventros::core::DatabaseOptions opts;
  opts.url = tdb.url();
  if (tdb.engine() == ventros::core::DbEngine::kPostgres) {
    opts.url += (opts.url.find('?') == std::string::npos ? "?" : "&") + ("application_name=" + app);
  }
  opts.pool_size = 4;
  opts.acquire_timeout = std::chrono::seconds(20);
  opts.busy_timeout = std::chrono::seconds(20);
  auto db = ventros::core::Database::Open(opts);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return std::move(db).value();
}

// Waits (with a generous bound) until `count` sessions named `app` wait on a lock.
bool WaitForPgLockWaiters(ventros::core::Connection& probe, const std::string& app, int count) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto rows = probe.Query(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1 "
        "AND wait_event_type = 'Lock'",
        {ventros::core::DbValue(app)});
    REQUIRE(rows.ok());
    if (rows->rows[0].GetInt(0) >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}
}  // namespace

VENTROS_DB_TEST("API: first start creates a tenant and prints its admin key once", "[api]") {
  TestDb db(engine);
  std::string key;
  {
    TestServer s(db.url());
    key = s.admin_key();
    REQUIRE(key.starts_with("vt_"));
    auto t = s.Call("GET", "/v1/tenant", key);
    CHECK(t.status == 200);
    CHECK(ParseJson(t.body).at("name") == "default");
    CHECK(ParseJson(t.body).at("id").as_string() == s.tenant_id());
  }
  // Second start: no new tenant, no key printed, the old key still works.
  TestServer again(db.url());
  CHECK(again.admin_key().empty());
  CHECK(again.Call("GET", "/v1/tenant", key).status == 200);
  // Only the hash is stored.
  auto conn = again.server().database().Acquire();
  REQUIRE(conn.ok());
  auto rows = (*conn)->Query("SELECT key_hash, prefix FROM api_keys");
  REQUIRE(rows.ok());
  REQUIRE(rows->rows.size() == 1);
  CHECK(rows->rows[0].GetText(0).find(key) == std::string::npos);
  CHECK(rows->rows[0].GetText(0).size() == 64);
  CHECK(key.starts_with(rows->rows[0].GetText(1)));
}

VENTROS_DB_TEST("API: API keys are created, listed and revoked by admins", "[api]") {
  TestDb db(engine);
  TestServer s(db.url());
  const std::string admin = s.admin_key();
  auto created = s.Call("POST", "/v1/api-keys", admin, R"({"role":"agent","name":"Inbox bot"})");
  REQUIRE(created.status == 201);
  auto key = ParseJson(created.body);
  std::string agent_key(key.at("key").as_string());
  std::string agent_id(key.at("id").as_string());
  CHECK(key.at("role") == "agent");
  CHECK(key.at("name") == "Inbox bot");
  CHECK(agent_key.starts_with(std::string(key.at("prefix").as_string())));

  auto list = s.Call("GET", "/v1/api-keys", admin);
  REQUIRE(list.status == 200);
  auto items = ParseJson(list.body).at("items").as_array();
  CHECK(items.size() == 2);
  for (const auto& item : items) CHECK_FALSE(item.as_object().contains("key"));  // never again

  // X-Api-Key works as well as Bearer.
  ventros::core::HttpClient client;
  ventros::core::HttpClientRequest req;
  req.url = s.base_url() + "/v1/tenant";
  req.headers = {{"X-Api-Key", agent_key}};
  auto via_header = client.Send(req);
  REQUIRE(via_header.ok());
  CHECK(via_header->status == 200);

  CHECK(s.Call("DELETE", "/v1/api-keys/" + agent_id, admin).status == 204);
  auto revoked = s.Call("GET", "/v1/tenant", agent_key);
  CHECK(revoked.status == 401);
  CHECK(ErrorCode(revoked) == "unauthenticated");
  // Revoking again is harmless.
  CHECK(s.Call("DELETE", "/v1/api-keys/" + agent_id, admin).status == 204);
  auto after = ParseJson(s.Call("GET", "/v1/api-keys", admin).body).at("items").as_array();
  int revoked_count = 0;
  for (const auto& item : after) revoked_count += item.at("revoked_at").is_null() ? 0 : 1;
  CHECK(revoked_count == 1);
}

VENTROS_DB_TEST("API: the last admin key cannot be revoked", "[api]") {
  TestDb db(engine);
  TestServer s(db.url());
  auto list = ParseJson(s.Call("GET", "/v1/api-keys", s.admin_key()).body).at("items").as_array();
  std::string admin_id(list.at(0).at("id").as_string());
  auto r = s.Call("DELETE", "/v1/api-keys/" + admin_id, s.admin_key());
  CHECK(r.status == 409);
  CHECK(ErrorCode(r) == "conflict");
  CHECK(s.Call("GET", "/v1/tenant", s.admin_key()).status == 200);
}

TEST_CASE("TenantService: concurrent revokes of the last two admin keys leave one (postgres)",
          "[api][pg]") {
  // Regression: on PostgreSQL both revokes counted two active admin keys and both succeeded,
  // locking the tenant out.
  using namespace ventros::core;
  using ventros::crm::TenantService;
  TestDb tdb(DbEngine::kPostgres);
  const std::string app = "ventros_revoke_" + RandomHex(6);
  auto db = OpenNamed(tdb, app);
  SystemClock clock;
  TenantService service(*db, clock);
  auto created = service.CreateTenant("race");
  REQUIRE(created.ok());
  const auto tenant = created->first.id;
  auto second = service.CreateApiKey(tenant, Role::kAdmin, "second admin");
  REQUIRE(second.ok());
  const ventros::crm::ApiKeyId first_id = created->second.key.id;
  const ventros::crm::ApiKeyId second_id = second->key.id;

  // Holding both key rows stops each revoke at its UPDATE, after it counted the admin keys: both
  // revokes are in flight together, whatever the thread timing.
  auto holder = db->Acquire();
  REQUIRE(holder.ok());
  REQUIRE((*holder)->Begin().ok());
  REQUIRE((*holder)
              ->Query("SELECT id FROM api_keys WHERE tenant_id = $1 FOR UPDATE",
                      {DbValue(tenant.str())})
              .ok());
  Result<ventros::crm::ApiKey> a = Status::Internal("not run");
  Result<ventros::crm::ApiKey> b = Status::Internal("not run");
  std::thread ta([&] { a = service.RevokeApiKey(tenant, first_id); });
  std::thread tb([&] { b = service.RevokeApiKey(tenant, second_id); });
  auto probe = db->Acquire();
  REQUIRE(probe.ok());
  bool both_waiting = WaitForPgLockWaiters(**probe, app, 2);
  REQUIRE((*holder)->Rollback().ok());
  ta.join();
  tb.join();
  REQUIRE(both_waiting);

  INFO("first: " << a.status().ToString() << "; second: " << b.status().ToString());
  CHECK(a.ok() != b.ok());  // exactly one revoke wins
  const Status& refused = a.ok() ? b.status() : a.status();
  CHECK(refused.code() == StatusCode::kConflict);
  auto keys = service.ListApiKeys(tenant);
  REQUIRE(keys.ok());
  int active_admins = 0;
  for (const auto& k : *keys) active_admins += (k.role == Role::kAdmin && !k.revoked_at) ? 1 : 0;
  CHECK(active_admins == 1);
}

VENTROS_DB_TEST("TenantService: instances starting together create exactly one default tenant",
                "[api]") {
  // Regression: the count and the create ran in separate transactions, so two instances
  // starting at once both saw no tenant and both created one.
  using namespace ventros::core;
  using ventros::crm::TenantService;
  TestDb tdb(engine);
  const std::string app = "ventros_bootstrap_" + RandomHex(6);
  auto db = OpenNamed(tdb, app);
  SystemClock clock;
  TenantService service(*db, clock);

  // Block tenant inserts (not reads) so both calls are in flight before either can create.
  auto holder = db->Acquire();
  REQUIRE(holder.ok());
  REQUIRE((*holder)->Begin().ok());  // SQLite: BEGIN IMMEDIATE holds the write lock
  if (engine == DbEngine::kPostgres) {
    REQUIRE((*holder)->Query("LOCK TABLE tenants IN SHARE MODE").ok());
  }
  using Ensured =
      Result<std::optional<std::pair<ventros::crm::Tenant, ventros::crm::CreatedApiKey>>>;
  Ensured a = Status::Internal("not run");
  Ensured b = Status::Internal("not run");
  std::thread ta([&] { a = service.EnsureDefaultTenant("default"); });
  std::thread tb([&] { b = service.EnsureDefaultTenant("default"); });
  bool both_started = false;
  if (engine == DbEngine::kPostgres) {
    auto probe = db->Acquire();
    REQUIRE(probe.ok());
    both_started = WaitForPgLockWaiters(**probe, app, 2);
  } else {
    // SQLite cannot show who waits for its lock; both calls holding a connection is the sign.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!both_started && std::chrono::steady_clock::now() < deadline) {
      both_started = db->Stats().in_use >= 3;
      if (!both_started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  REQUIRE((*holder)->Rollback().ok());
  ta.join();
  tb.join();
  REQUIRE(both_started);

  INFO("first: " << a.status().ToString() << "; second: " << b.status().ToString());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->has_value() != b->has_value());  // exactly one created the tenant
  auto tenants = service.ListTenants();
  REQUIRE(tenants.ok());
  CHECK(tenants->size() == 1);
}

VENTROS_DB_TEST(
    "API: auth matrix — 401 without a valid key, 403 for the wrong role, 404 across tenants",
    "[api][auth]") {
  TestDb db(engine);
  TestServer s(db.url());
  const std::string admin = s.admin_key();
  auto make = [&](const std::string& role) {
    auto r = s.Call("POST", "/v1/api-keys", admin, fmt::format(R"({{"role":"{}"}})", role));
    REQUIRE(r.status == 201);
    return std::string(ParseJson(r.body).at("key").as_string());
  };
  std::string agent = make("agent");
  std::string readonly = make("readonly");

  // 401: missing, malformed, unknown.
  CHECK(s.Call("GET", "/v1/tenant").status == 401);
  CHECK(s.Call("GET", "/v1/tenant", "vt_doesnotexist").status == 401);
  CHECK(s.Call("GET", "/v1/tenant", "garbage").status == 401);
  auto missing = s.Call("GET", "/v1/api-keys");
  CHECK(missing.status == 401);
  CHECK(missing.raw.Header("WWW-Authenticate") == "Bearer");

  // Roles: readonly and agent may read the tenant, only admin manages keys.
  for (const auto& k : {admin, agent, readonly})
    CHECK(s.Call("GET", "/v1/tenant", k).status == 200);
  CHECK(s.Call("GET", "/v1/api-keys", agent).status == 403);
  CHECK(s.Call("GET", "/v1/api-keys", readonly).status == 403);
  auto forbidden = s.Call("POST", "/v1/api-keys", agent, R"({"role":"admin"})");
  CHECK(forbidden.status == 403);
  CHECK(ErrorCode(forbidden) == "permission_denied");

  // Another tenant's key: 404, exactly like a key that does not exist.
  ventros::core::SystemClock clock;
  ventros::crm::TenantService tenants(s.server().database(), clock);
  auto other = tenants.CreateTenant("Other Co");
  REQUIRE(other.ok());
  auto other_key = tenants.CreateApiKey(other->first.id, ventros::core::Role::kAgent, "theirs");
  REQUIRE(other_key.ok());
  auto cross = s.Call("DELETE", "/v1/api-keys/" + other_key->key.id.str(), admin);
  auto unknown = s.Call("DELETE", "/v1/api-keys/01936f2e-0000-7000-8000-000000000000", admin);
  CHECK(cross.status == 404);
  CHECK(unknown.status == 404);
  CHECK(ParseJson(cross.body).at("error").at("message").as_string().find("Other") ==
        std::string::npos);
  // Their key still works for them and sees their tenant only.
  auto theirs = s.Call("GET", "/v1/tenant", other_key->secret);
  CHECK(ParseJson(theirs.body).at("name") == "Other Co");
  auto their_list = s.Call("GET", "/v1/api-keys", other->second.secret);
  CHECK(ParseJson(their_list.body).at("items").as_array().size() == 2);
  CHECK(s.Call("DELETE", "/v1/api-keys/not-a-uuid", admin).status == 404);
}

VENTROS_DB_TEST("API: bad input gets a clear error and creates nothing", "[api]") {
  TestDb db(engine);
  TestServer s(db.url());
  const std::string admin = s.admin_key();
  auto malformed = s.Call("POST", "/v1/api-keys", admin, R"({"role": "agent")");
  CHECK(malformed.status == 400);
  CHECK(ErrorCode(malformed) == "invalid_json");
  auto wrong_type = s.Call("POST", "/v1/api-keys", admin, R"({"role":"agent"})", "text/plain");
  CHECK(wrong_type.status == 415);
  CHECK(ErrorCode(wrong_type) == "unsupported_media_type");
  auto no_role = s.Call("POST", "/v1/api-keys", admin, R"({"name":"x"})");
  CHECK(no_role.status == 400);
  CHECK_THAT(no_role.body, Catch::Contains("'role'"));
  auto bad_role = s.Call("POST", "/v1/api-keys", admin, R"({"role":"superuser"})");
  CHECK(bad_role.status == 400);
  auto number_role = s.Call("POST", "/v1/api-keys", admin, R"({"role":7})");
  CHECK(number_role.status == 400);
  auto extra = s.Call("POST", "/v1/api-keys", admin, R"({"role":"agent","rol":"x"})");
  CHECK(extra.status == 400);
  CHECK_THAT(extra.body, Catch::Contains("'rol'"));
  auto array = s.Call("POST", "/v1/api-keys", admin, R"([1,2])");
  CHECK(array.status == 400);
  auto long_name = s.Call("POST", "/v1/api-keys", admin,
                          fmt::format(R"({{"role":"agent","name":"{}"}})", std::string(300, 'n')));
  CHECK(long_name.status == 400);
  auto huge = s.Call("POST", "/v1/api-keys", admin,
                     fmt::format(R"({{"role":"agent","name":"{}"}})", std::string(2 << 20, 'n')));
  CHECK(huge.status == 413);
  CHECK(s.Call("GET", "/v1/nothing-here", admin).status == 404);
  // Nothing was created by any of these.
  auto list = ParseJson(s.Call("GET", "/v1/api-keys", admin).body).at("items").as_array();
  CHECK(list.size() == 1);
}

VENTROS_DB_TEST("API: /healthz, /readyz and /metrics", "[api]") {
  TestDb db(engine);
  TestServer s(db.url());
  auto health = s.Call("GET", "/healthz");
  CHECK(health.status == 200);
  auto ready = s.Call("GET", "/readyz");
  CHECK(ready.status == 200);
  auto rv = ParseJson(ready.body);
  CHECK(rv.at("checks").at("database") == "ok");
  CHECK(rv.at("checks").at("migrations") == "ok");
  s.Call("GET", "/v1/tenant", s.admin_key());
  auto metrics = s.Call("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.content_type, Catch::StartsWith("text/plain"));
  CHECK_THAT(metrics.body,
             Catch::Contains(
                 R"(ventros_http_requests_total{method="GET",route="/v1/tenant",status="200"} 1)"));
  CHECK_THAT(metrics.body, Catch::Contains("ventros_http_request_duration_seconds_bucket"));
  CHECK_THAT(metrics.body, Catch::Contains(R"(ventros_db_pool_connections{state="max"} 4)"));
}

TEST_CASE("API: /openapi.json describes exactly the router's routes", "[api][openapi]") {
  TestDb db(ventros::core::DbEngine::kSqlite);
  auto config = TestServer::DefaultConfig();
  config.modules = {"crm", "memory", "agents", "workflows",
                    "observability"};  // every module's routes
  TestServer s(db.url(), config);
  auto r = s.Call("GET", "/openapi.json");
  REQUIRE(r.status == 200);
  auto doc = ParseJson(r.body);
  CHECK(doc.at("openapi").as_string().starts_with("3.1"));
  std::set<std::string> documented, routed;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (method == "parameters") continue;
      std::string upper;
      for (char c : method) upper.push_back(static_cast<char>(std::toupper(c)));
      documented.insert(upper + " " + std::string(path));
      // Every path parameter is declared.
      std::string p(path);
      for (size_t i = p.find('{'); i != std::string::npos; i = p.find('{', i + 1)) {
        std::string name = p.substr(i + 1, p.find('}', i) - i - 1);
        bool declared = false;
        auto check = [&](const json::value& params) {
          for (const auto& prm : params.as_array()) {
            if (prm.at("name") == name.c_str() && prm.at("in") == "path") declared = true;
          }
        };
        if (op.as_object().contains("parameters")) check(op.at("parameters"));
        if (item.as_object().contains("parameters")) check(item.at("parameters"));
        INFO(upper << " " << p << " parameter " << name);
        CHECK(declared);
      }
      INFO(upper << " " << path);
      CHECK(op.as_object().contains("responses"));
    }
  }
  for (const auto& route : s.server().router().routes())
    routed.insert(route.method + " " + route.pattern);
  CHECK(documented == routed);
}
