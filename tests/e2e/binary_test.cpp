// The real `ventros` executable as a user runs it: first start prints the admin key once, the
// server answers, SIGTERM stops it cleanly with exit code 0.

#include <signal.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "support/child_process.hpp"
#include "support/test_db.hpp"
#include "ventros/core/http_client.hpp"

using ventros::testing::Child;

TEST_CASE("ventros serve: prints the admin key once, serves, stops on SIGTERM with exit 0",
          "[e2e]") {
  ventros::testing::TempDir dir;
  std::string db = "sqlite://" + dir.path() + "/v.db";
  std::string key;
  {
    Child server({VENTROS_BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0"});
    auto m = server.WaitForStderr(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"));
    std::string port = m[1];
    std::smatch km;
    REQUIRE(std::regex_search(server.out(), km, std::regex("API key .*: (vt_[A-Za-z0-9]+)")));
    key = km[1];

    ventros::core::HttpClient client;
    ventros::core::HttpClientRequest req;
    req.url = "http://127.0.0.1:" + port + "/v1/tenant";
    req.headers = {{"Authorization", "Bearer " + key}};
    auto res = client.Send(req);
    REQUIRE(res.ok());
    CHECK(res->status == 200);

    server.Signal(SIGTERM);
    CHECK(server.Wait() == 0);
    CHECK_THAT(server.err(), Catch::Contains("stopping"));
    CHECK_THAT(server.err(), Catch::Contains("request_id="));  // requests are logged
  }
  // Second start on the same database: no key printed.
  Child again({VENTROS_BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0"});
  again.WaitForStderr(std::regex("listening on"));
  again.Signal(SIGINT);
  CHECK(again.Wait() == 0);
  CHECK(again.out().find("vt_") == std::string::npos);
}

TEST_CASE("ventros: an unreachable database at start exits 1 naming the URL without password",
          "[e2e]") {
  Child c({VENTROS_BINARY, "serve", "--db", "postgres://ventros:hunter2@127.0.0.1:1/ventros",
           "--listen", "127.0.0.1:0"});
  CHECK(c.Wait() == 1);
  CHECK_THAT(c.err(), Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
  CHECK(c.err().find("hunter2") == std::string::npos);
}
