#include "support/test_db.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "ventros/core/crypto.hpp"
#include "ventros/core/migrations.hpp"

namespace ventros::testing {

std::string PgBaseUrl() {
  const char* url = std::getenv("VENTROS_TEST_PG_URL");
  if (!url || !*url) {
    FAIL("VENTROS_TEST_PG_URL is not set: run ./scripts/test, which starts a private PostgreSQL");
  }
  return url;
}

TempDir::TempDir() {
  auto base = std::filesystem::temp_directory_path() / ("ventros-test-" + core::RandomHex(8));
  std::filesystem::create_directories(base);
  path_ = base.string();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestDb::TestDb(core::DbEngine engine) : engine_(engine) {
  if (engine == core::DbEngine::kSqlite) {
    auto base = std::filesystem::temp_directory_path() / ("ventros-db-" + core::RandomHex(8));
    std::filesystem::create_directories(base);
    dir_ = base.string();
    url_ = "sqlite://" + (base / "test.db").string();
    return;
  }
  std::string base = PgBaseUrl();
  schema_ = "t_" + core::RandomHex(8);
  core::DatabaseOptions opts;
  opts.url = base;
  opts.pool_size = 1;
  auto admin = core::Database::Open(opts);
  REQUIRE(admin.ok());
  auto conn = (*admin)->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript("CREATE SCHEMA " + schema_).ok());
  url_ = base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
         schema_;
}

TestDb::~TestDb() {
  if (engine_ == core::DbEngine::kSqlite) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    return;
  }
  core::DatabaseOptions opts;
  opts.url = PgBaseUrl();
  opts.pool_size = 1;
  auto admin = core::Database::Open(opts);
  if (!admin.ok()) return;
  auto conn = (*admin)->Acquire();
  if (conn.ok()) (void)(*conn)->ExecScript("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
}

std::unique_ptr<core::Database> TestDb::Open(int pool_size) const {
  core::DatabaseOptions opts;
  opts.url = url_;
  opts.pool_size = pool_size;
  opts.acquire_timeout = std::chrono::milliseconds(10000);
  auto db = core::Database::Open(opts);
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  return std::move(db).value();
}

std::unique_ptr<core::Database> TestDb::OpenMigrated(int pool_size) const {
  auto db = Open(pool_size);
  static const core::SystemClock clock;
  core::Migrator m(*db, core::Migrator::EmbeddedFor(db->engine()), clock);
  auto applied = m.Apply();
  INFO(applied.status().ToString());
  REQUIRE(applied.ok());
  return db;
}

core::Config TestServer::DefaultConfig() {
  core::Config c;
  c.server.listen = "127.0.0.1:0";
  c.server.io_threads = 2;
  c.server.worker_threads = 4;
  c.server.shutdown_grace_ms = 5000;
  c.database.pool_size = 4;
  c.database.connect_timeout_ms = 2000;
  c.database.acquire_timeout_ms = 3000;
  c.log.level = "warn";
  c.log.requests = false;
  // The agents answer customers only in the tests that ask for them.
  c.modules = {"crm", "memory"};
  // Each server keeps its media apart.
  c.waha.media_dir =
      (std::filesystem::temp_directory_path() / ("ventros-media-" + core::RandomHex(8))).string();
  return c;
}

TestServer::TestServer(const std::string& db_url, core::Config config) {
  config.database.url = db_url;
  std::ostringstream out;
  auto server = app::Server::Create(config, core::NullLogger(), out);
  INFO(server.status().ToString());
  REQUIRE(server.ok());
  server_ = std::move(server).value();
  REQUIRE(server_->Start().ok());
  std::smatch m;
  std::string text = out.str();
  if (std::regex_search(text, m, std::regex("(vt_[A-Za-z0-9]+)"))) admin_key_ = m[1];
  if (std::regex_search(text, m, std::regex("\\(([0-9a-f-]{36})\\)"))) tenant_id_ = m[1];
  core::HttpClientOptions copts;
  copts.max_retries = 0;
  copts.request_timeout = std::chrono::milliseconds(15000);
  client_ = std::make_unique<core::HttpClient>(copts);
}

TestServer::~TestServer() {
  client_.reset();
  if (server_) server_->Stop();
}

std::string TestServer::base_url() const { return fmt::format("http://127.0.0.1:{}", port()); }

TestServer::Reply TestServer::Call(const std::string& method, const std::string& path,
                                   const std::string& key, const std::string& body,
                                   const std::string& content_type) {
  core::HttpClientRequest req;
  req.method = method;
  req.url = base_url() + path;
  req.body = body;
  if (!body.empty() && !content_type.empty())
    req.headers.emplace_back("Content-Type", content_type);
  if (!key.empty()) req.headers.emplace_back("Authorization", "Bearer " + key);
  req.retry = false;
  auto res = client_->Send(req);
  INFO(method << " " << path << ": " << res.status().ToString());
  REQUIRE(res.ok());
  Reply r;
  r.status = res->status;
  r.body = res->body;
  r.content_type = res->Header("Content-Type");
  r.raw = *res;
  return r;
}

boost::json::value ParseJson(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  INFO("JSON: " << text);
  REQUIRE(!ec);
  return v;
}

std::string WahaFixture(const std::string& name) {
  const char* root = std::getenv("VENTROS_SOURCE_DIR");
  std::string path = std::string(root ? root : ".") + "/tests/fixtures/waha/" + name;
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  REQUIRE_FALSE(s.str().empty());
  return s.str();
}

std::string MessageWebhook(const std::string& phone, const std::string& body, const std::string& id,
                           const std::string& push_name) {
  namespace bj = boost::json;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  bj::object payload{{"id", fmt::format("false_{}@c.us_{}", phone, id)},
                     {"timestamp", now_ms / 1000},
                     {"from", phone + "@c.us"},
                     {"fromMe", false},
                     {"source", "app"},
                     {"to", "5511900000000@c.us"},
                     {"body", body},
                     {"hasMedia", false},
                     {"_data", bj::object{{"pushName", push_name}}}};
  return bj::serialize(bj::object{{"id", "evt_" + id},
                                  {"timestamp", now_ms},
                                  {"event", "message"},
                                  {"session", "default"},
                                  {"payload", std::move(payload)}});
}

std::string CreateWahaChannel(TestServer& server, const std::string& waha_url,
                              const std::string& waha_api_key, const std::string& hmac_secret) {
  boost::json::object in{{"name", "main"},
                         {"waha_url", waha_url},
                         {"waha_api_key", waha_api_key},
                         {"hmac_secret", hmac_secret}};
  auto ch = server.Call("POST", "/v1/channels", server.admin_key(), boost::json::serialize(in));
  INFO(ch.body);
  REQUIRE(ch.status == 201);
  return std::string(ParseJson(ch.body).at("id").as_string());
}

void PostWebhook(TestServer& server, const std::string& channel, const std::string& hmac_secret,
                 const std::string& body) {
  core::HttpClient client;
  core::HttpClientRequest req;
  req.method = "POST";
  req.url = server.base_url() + "/webhooks/waha/" + channel;
  req.body = body;
  req.headers = {{"Content-Type", "application/json"},
                 {"X-Webhook-Hmac", core::HmacSha512Hex(hmac_secret, body)}};
  auto r = client.Send(req);
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
}

}  // namespace ventros::testing
