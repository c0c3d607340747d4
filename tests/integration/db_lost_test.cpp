// PostgreSQL goes away while the server runs: /readyz and requests answer 503 JSON, and the
// server recovers on its own when the database returns.

#include <catch2/catch.hpp>
#include <regex>

#include "support/tcp_proxy.hpp"
#include "support/test_db.hpp"

using ventros::testing::ParseJson;
using ventros::testing::TcpProxy;
using ventros::testing::TestDb;
using ventros::testing::TestServer;

TEST_CASE("Server: a lost database gives 503 and recovers without restart", "[pg][faults]") {
  TestDb db(ventros::core::DbEngine::kPostgres);
  // Route the server's connections through a proxy we can cut.
  std::smatch m;
  REQUIRE(std::regex_search(db.url(), m, std::regex(R"(127\.0\.0\.1:(\d+))")));
  TcpProxy proxy(static_cast<uint16_t>(std::stoi(m[1])));
  std::string url = std::regex_replace(db.url(), std::regex(R"(127\.0\.0\.1:\d+)"),
                                       "127.0.0.1:" + std::to_string(proxy.port()));
  TestServer s(url);
  REQUIRE(s.Call("GET", "/readyz").status == 200);
  REQUIRE(s.Call("GET", "/v1/tenant", s.admin_key()).status == 200);

  proxy.Cut();
  auto ready = s.Call("GET", "/readyz");
  CHECK(ready.status == 503);
  CHECK(ParseJson(ready.body).at("status") == "unavailable");
  auto req = s.Call("GET", "/v1/tenant", s.admin_key());
  CHECK(req.status == 503);
  CHECK(ParseJson(req.body).at("error").at("code") == "unavailable");
  CHECK(req.raw.Header("Retry-After") == "1");
  CHECK(s.Call("GET", "/healthz").status == 200);  // the process itself is fine

  proxy.Restore();
  // The first call after the return may still meet a connection cut earlier; it is replaced.
  int status = 0;
  for (int i = 0; i < 3 && status != 200; ++i) status = s.Call("GET", "/readyz").status;
  CHECK(status == 200);
  CHECK(s.Call("GET", "/v1/tenant", s.admin_key()).status == 200);
}
