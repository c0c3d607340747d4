#pragma once
// Test helpers: isolated databases on both engines, an in-process server on port 0, and a small
// HTTP call helper. Every test gets its own SQLite file or PostgreSQL schema, so tests run in
// parallel under `ctest -j`.

#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "app/app.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/http_client.hpp"

namespace ventros::testing {

// The PostgreSQL server of this test run (VENTROS_TEST_PG_URL, set by scripts/test). Fails the
// test when unset.
std::string PgBaseUrl();

// A fresh, empty database: a SQLite file in a temp directory or a PostgreSQL schema. Removed on
// destruction.
class TestDb {
 public:
  explicit TestDb(core::DbEngine engine);
  ~TestDb();
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  core::DbEngine engine() const { return engine_; }
  const std::string& url() const { return url_; }
  std::unique_ptr<core::Database> Open(int pool_size = 4) const;
  // Opens and applies every migration.
  std::unique_ptr<core::Database> OpenMigrated(int pool_size = 4) const;

 private:
  core::DbEngine engine_;
  std::string url_;
  std::string dir_;     // SQLite
  std::string schema_;  // PostgreSQL
};

// A temp directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// `ventros serve` in-process on 127.0.0.1:0 with a quiet logger.
class TestServer {
 public:
  explicit TestServer(const std::string& db_url, core::Config config = DefaultConfig());
  ~TestServer();
  static core::Config DefaultConfig();

  uint16_t port() const { return server_->port(); }
  std::string base_url() const;
  // The admin key printed on first start.
  const std::string& admin_key() const { return admin_key_; }
  const std::string& tenant_id() const { return tenant_id_; }
  app::Server& server() { return *server_; }

  struct Reply {
    int status = 0;
    std::string body;
    std::string content_type;
    core::HttpClientResponse raw;
  };
  // One request; `key` goes into Authorization: Bearer when non-empty.
  Reply Call(const std::string& method, const std::string& path, const std::string& key = "",
             const std::string& body = "", const std::string& content_type = "application/json");

 private:
  std::unique_ptr<app::Server> server_;
  std::unique_ptr<core::HttpClient> client_;
  std::string admin_key_;
  std::string tenant_id_;
};

// Parses JSON for assertions; fails the test on invalid JSON.
boost::json::value ParseJson(const std::string& text);

// A WAHA payload from tests/fixtures/waha/ (fails the test when missing or empty).
std::string WahaFixture(const std::string& name);

// Polls `done` every 25 ms for up to `seconds`, for what the server does on its own threads
// (consumers applying and indexing, a model's retries); true once it holds.
template <typename F>
bool EventuallyWithin(int seconds, F done) {
  for (int i = 0; i < seconds * 40; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return done();
}
// The same for up to 10 s.
template <typename F>
bool Eventually(F done) {
  return EventuallyWithin(10, std::move(done));
}

// A WAHA "message" webhook from `phone` (a direct chat), sent now; `id` makes it unique.
std::string MessageWebhook(const std::string& phone, const std::string& body, const std::string& id,
                           const std::string& push_name = "Leonardo");

// Creates a WAHA channel "main" through the API (POST /v1/channels); requires a 201 and returns
// its id.
std::string CreateWahaChannel(TestServer& server, const std::string& waha_url,
                              const std::string& waha_api_key, const std::string& hmac_secret);

// Posts a webhook to the server's channel, signed with `hmac_secret`; requires a 200.
void PostWebhook(TestServer& server, const std::string& channel, const std::string& hmac_secret,
                 const std::string& body);

}  // namespace ventros::testing

// Defines one test body run against both engines, as two test cases so ctest runs them apart:
//   VENTROS_DB_TEST("Migrator: applies once", "[migrations]") { ... uses `engine` ... }
#define VENTROS_DB_TEST_IMPL(fn, name, tags)                                               \
  static void fn(::ventros::core::DbEngine engine);                                        \
  TEST_CASE(name " (sqlite)", tags "[sqlite]") { fn(::ventros::core::DbEngine::kSqlite); } \
  TEST_CASE(name " (postgres)", tags "[pg]") { fn(::ventros::core::DbEngine::kPostgres); } \
  static void fn([[maybe_unused]] ::ventros::core::DbEngine engine)
#define VENTROS_DB_TEST(name, tags) \
  VENTROS_DB_TEST_IMPL(VENTROS_CONCAT(ventros_db_test_, __LINE__), name, tags)
