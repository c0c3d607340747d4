// The HTTP server over real loopback sockets: limits, timeouts, errors, request ids, metrics,
// worker offloading and graceful stop.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <future>
#include <thread>

#include "support/raw_socket.hpp"
#include "support/test_db.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/http_server.hpp"
#include "ventros/core/ids.hpp"

using namespace ventros::core;
using ventros::testing::ParseJson;
using ventros::testing::RawSocket;

namespace {

// A latch the test opens to let a blocked handler finish.
struct Gate {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
};

struct Fixture {
  Router router;
  MetricsRegistry metrics;
  std::unique_ptr<HttpServer> server;
  HttpClient client{[] {
    HttpClientOptions o;
    o.max_retries = 0;
    return o;
  }()};

  explicit Fixture(HttpServerOptions opts = {}) {
    router.Add("GET", "/hello/{name}", [](HttpRequest& req) {
      return HttpResponse::Json(200, fmt::format(R"({{"hello":"{}","q":"{}"}})", req.PathParam("name"),
                                                 req.QueryParam("q").value_or("")));
    });
    router.Add("POST", "/echo", [](HttpRequest& req) {
      return HttpResponse::Text(200, req.body, "application/octet-stream");
    });
    router.Add("GET", "/inline", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); },
               {.execution = Execution::kInline});
    router.Add("GET", "/boom", [](HttpRequest&) -> HttpResponse {
      throw std::runtime_error("database exploded");
    });
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.log_requests = false;
    server_opts = opts;
  }
  void Start() {
    server = std::make_unique<HttpServer>(server_opts, router, NullLogger(), metrics);
    REQUIRE(server->Start().ok());
  }
  std::string Url(const std::string& path) const {
    return fmt::format("http://127.0.0.1:{}{}", server->port(), path);
  }
  HttpClientResponse Get(const std::string& path, HeaderList headers = {}) {
    HttpClientRequest r;
    r.url = Url(path);
    r.headers = std::move(headers);
    auto res = client.Send(r);
    INFO(res.status().ToString());
    REQUIRE(res.ok());
    return *res;
  }
  HttpServerOptions server_opts;
};

}  // namespace

TEST_CASE("HttpServer: routes with path parameters and query strings", "[http]") {
  Fixture f;
  f.Start();
  auto r = f.Get("/hello/ana%20maria?q=x%2By");
  CHECK(r.status == 200);
  auto v = ParseJson(r.body);
  CHECK(v.at("hello") == "ana maria");
  CHECK(v.at("q") == "x+y");
  CHECK(r.Header("Content-Type") == "application/json");
}

TEST_CASE("HttpServer: unknown routes are 404 and wrong methods 405, as JSON", "[http]") {
  Fixture f;
  f.Start();
  auto nf = f.Get("/nope");
  CHECK(nf.status == 404);
  auto v = ParseJson(nf.body);
  CHECK(v.at("error").at("code") == "not_found");
  CHECK(v.at("error").at("request_id").as_string() == nf.Header("X-Request-Id"));
  HttpClientRequest del;
  del.method = "DELETE";
  del.url = f.Url("/echo");
  auto na = f.client.Send(del);
  REQUIRE(na.ok());
  CHECK(na->status == 405);
  CHECK(na->Header("Allow") == "POST");
}

TEST_CASE("HttpServer: request ids are echoed when valid and generated otherwise", "[http]") {
  Fixture f;
  f.Start();
  auto given = f.Get("/inline", {{"X-Request-Id", "trace-abc_123"}});
  CHECK(given.Header("X-Request-Id") == "trace-abc_123");
  auto generated = f.Get("/inline", {{"X-Request-Id", "bad id with spaces"}});
  CHECK(IsUuid(generated.Header("X-Request-Id")));
  CHECK(f.Get("/inline").Header("X-Request-Id") != generated.Header("X-Request-Id"));
}

TEST_CASE("HttpServer: a body over the limit gets 413 and the connection closes", "[http]") {
  HttpServerOptions opts;
  opts.body_limit_bytes = 1024;
  Fixture f(opts);
  f.Start();
  HttpClientRequest small;
  small.method = "POST";
  small.url = f.Url("/echo");
  small.body = std::string(1024, 'a');
  auto ok = f.client.Send(small);
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK(ok->body.size() == 1024);

  RawSocket s(f.server->port());
  REQUIRE(s.connected());
  std::string body(4096, 'b');
  s.Send(fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}", body.size(),
                     body));
  bool closed = false;
  std::string reply = s.ReadAll(&closed);
  CHECK_THAT(reply, Catch::StartsWith("HTTP/1.1 413"));
  CHECK_THAT(reply, Catch::Contains("\"code\":\"payload_too_large\""));
  CHECK(closed);
}

TEST_CASE("HttpServer: malformed HTTP gets 400 JSON", "[http]") {
  Fixture f;
  f.Start();
  RawSocket s(f.server->port());
  REQUIRE(s.connected());
  s.Send("THIS IS NOT HTTP\r\n\r\n");
  bool closed = false;
  std::string reply = s.ReadAll(&closed);
  CHECK_THAT(reply, Catch::StartsWith("HTTP/1.1 400"));
  CHECK_THAT(reply, Catch::Contains("\"code\":\"bad_request\""));
  CHECK(closed);
}

TEST_CASE("HttpServer: a request that never finishes arriving is dropped after the read timeout",
          "[http]") {
  HttpServerOptions opts;
  opts.read_timeout = std::chrono::milliseconds(200);
  Fixture f(opts);
  f.Start();
  RawSocket s(f.server->port(), 20000);
  REQUIRE(s.connected());
  s.Send("GET /inline HTTP/1.1\r\nHost: x\r\n");  // headers never end
  bool closed = false;
  s.ReadAll(&closed);
  CHECK(closed);  // closed by the server, not by our own receive timeout
  // The server still serves others.
  CHECK(f.Get("/inline").status == 200);
}

TEST_CASE("HttpServer: a handler that throws answers 500 without leaking the cause", "[http]") {
  Fixture f;
  f.Start();
  auto r = f.Get("/boom");
  CHECK(r.status == 500);
  CHECK(r.body.find("exploded") == std::string::npos);
  CHECK(ParseJson(r.body).at("error").at("code") == "internal");
}

TEST_CASE("HttpServer: blocking handlers run off the I/O thread", "[http]") {
  HttpServerOptions opts;
  opts.io_threads = 1;
  Fixture f(opts);
  auto gate = std::make_shared<Gate>();
  f.router.Add("GET", "/slow", [gate](HttpRequest&) {
    gate->entered.set_value();
    gate->released.wait();
    return HttpResponse::Json(200, R"({"slow":true})");
  });
  f.Start();
  auto slow = std::async(std::launch::async, [&] {
    HttpClient c;
    HttpClientRequest r;
    r.url = f.Url("/slow");
    return c.Send(r);
  });
  gate->entered.get_future().wait();
  // With one I/O thread, this only answers if /slow is not holding it.
  CHECK(f.Get("/inline").status == 200);
  gate->release.set_value();
  auto res = slow.get();
  REQUIRE(res.ok());
  CHECK(res->status == 200);
}

TEST_CASE("HttpServer: stop lets an in-flight request finish, then refuses connections", "[http]") {
  Fixture f;
  auto gate = std::make_shared<Gate>();
  f.router.Add("GET", "/slow", [gate](HttpRequest&) {
    gate->entered.set_value();
    gate->released.wait();
    return HttpResponse::Json(200, R"({"finished":true})");
  });
  f.Start();
  uint16_t port = f.server->port();
  // An idle keep-alive connection must not hold the stop up.
  RawSocket idle(port);
  REQUIRE(idle.connected());
  auto slow = std::async(std::launch::async, [&] {
    HttpClient c;
    HttpClientRequest r;
    r.url = f.Url("/slow");
    return c.Send(r);
  });
  gate->entered.get_future().wait();
  auto stopping = std::async(std::launch::async, [&] { f.server->Stop(); });
  // Stop waits for the in-flight request.
  CHECK(stopping.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
  gate->release.set_value();
  auto res = slow.get();
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK_THAT(res->body, Catch::Contains("finished"));
  CHECK(res->Header("Connection") == "close");
  stopping.get();
  RawSocket after(port);
  CHECK_FALSE(after.connected());
}

TEST_CASE("HttpServer: requests are counted by route and status", "[http]") {
  Fixture f;
  f.Start();
  f.Get("/hello/a");
  f.Get("/hello/b");
  f.Get("/nope");
  std::string text = f.metrics.RenderPrometheus();
  CHECK_THAT(text, Catch::Contains(
                       R"(ventros_http_requests_total{method="GET",route="/hello/{name}",status="200"} 2)"));
  CHECK_THAT(text, Catch::Contains(
                       R"x(ventros_http_requests_total{method="GET",route="(unrouted)",status="404"} 1)x"));
  CHECK_THAT(text, Catch::Contains(
                       R"(ventros_http_request_duration_seconds_count{route="/hello/{name}"} 2)"));
}

TEST_CASE("HttpServer: a client still sending an oversized body receives the 413", "[http]") {
  // Regression: closing right after the 413 reset the connection while the client was still
  // writing, so clients saw "connection closed" instead of the answer.
  HttpServerOptions opts;
  opts.body_limit_bytes = 1024;
  Fixture f(opts);
  f.Start();
  for (int i = 0; i < 5; ++i) {
    HttpClientRequest big;
    big.method = "POST";
    big.url = f.Url("/echo");
    big.body = std::string(4 * 1024 * 1024, 'x');
    auto res = f.client.Send(big);
    INFO(res.status().ToString());
    REQUIRE(res.ok());
    CHECK(res->status == 413);
  }
}
