// The HTTP server over real loopback sockets: limits, timeouts, errors, request ids, metrics,
// worker offloading and graceful stop.

#include "ventros/core/http_server.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <sys/resource.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "support/raw_socket.hpp"
#include "support/test_db.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/log.hpp"

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
      return HttpResponse::Json(200,
                                fmt::format(R"({{"hello":"{}","q":"{}"}})", req.PathParam("name"),
                                            req.QueryParam("q").value_or("")));
    });
    router.Add("POST", "/echo", [](HttpRequest& req) {
      return HttpResponse::Text(200, req.body, "application/octet-stream");
    });
    router.Add("GET", "/inline", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); },
               {.execution = Execution::kInline});
    router.Add("GET", "/boom",
               [](HttpRequest&) -> HttpResponse { throw std::runtime_error("database exploded"); });
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
  // The idle connection is closed by the server right away, not after the grace period: the
  // in-flight request is still blocked here.
  bool idle_closed = false;
  idle.ReadAll(&idle_closed);
  CHECK(idle_closed);
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
  CHECK_THAT(
      text,
      Catch::Contains(
          R"(ventros_http_requests_total{method="GET",route="/hello/{name}",status="200"} 2)"));
  CHECK_THAT(
      text,
      Catch::Contains(
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

TEST_CASE("HttpServer: stop answers a request that was partly received when it began", "[http]") {
  // Regression: a connection only counted as busy once its whole request was read, so a graceful
  // stop cancelled requests still arriving.
  HttpServerOptions opts;
  opts.io_threads = 1;  // one I/O thread runs handlers in order: see the round trip below
  Fixture f(opts);
  f.Start();
  RawSocket idle(f.server->port());
  RawSocket partial(f.server->port());
  REQUIRE(idle.connected());
  REQUIRE(partial.connected());
  const std::string body = "0123456789abcdef";
  REQUIRE(partial.Send(fmt::format("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{}",
                                   body.size(), body.substr(0, 6))));
  // When this round trip is over, the single I/O thread has also read the bytes sent above.
  CHECK(f.Get("/inline").status == 200);
  auto stopping = std::async(std::launch::async, [&] { f.server->Stop(); });
  // Stop closes the idle connection...
  bool idle_closed = false;
  idle.ReadAll(&idle_closed);
  CHECK(idle_closed);
  // ...but the request under way is read to its end and answered.
  REQUIRE(partial.Send(body.substr(6)));
  bool closed = false;
  std::string reply = partial.ReadAll(&closed);
  CHECK_THAT(reply, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(reply, Catch::EndsWith(body));
  CHECK_THAT(reply, Catch::Contains("Connection: close"));
  CHECK(closed);
  stopping.get();
}

TEST_CASE("HttpServer: no connection is accepted once Stop has returned", "[http]") {
  // Regression: Stop only posted the close of the listening socket and stopped the I/O threads,
  // so the close could be skipped and the kernel kept accepting into the backlog.
  for (int i = 0; i < 10; ++i) {
    Fixture f;
    f.Start();
    uint16_t port = f.server->port();
    f.server->Stop();
    RawSocket after(port);
    CHECK_FALSE(after.connected());
  }
}

TEST_CASE("HttpServer: methods outside the standard set share one metrics label", "[http]") {
  Fixture f;
  f.Start();
  RawSocket s(f.server->port());
  REQUIRE(s.connected());
  s.Send("FROBNICATE /hello/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_THAT(s.ReadAll(), Catch::StartsWith("HTTP/1.1 405"));
  std::string text = f.metrics.RenderPrometheus();
  CHECK_THAT(
      text,
      Catch::Contains(
          R"x(ventros_http_requests_total{method="OTHER",route="(unrouted)",status="405"} 1)x"));
  CHECK(text.find("FROBNICATE") == std::string::npos);
}

namespace {

// Counts log messages that contain a phrase.
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit CountingSink(std::string phrase) : phrase_(std::move(phrase)) {}
  int count() const { return count_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    if (text.find(phrase_) != std::string_view::npos) ++count_;
  }
  void flush_() override {}

 private:
  std::string phrase_;
  std::atomic<int> count_{0};
};

}  // namespace

TEST_CASE("HttpServer: accept errors (out of file descriptors) back off instead of spinning",
          "[http]") {
  auto sink = std::make_shared<CountingSink>("accept failed");
  auto logger = std::make_shared<spdlog::logger>("accept-test", sink);
  Router router;
  router.Add("GET", "/inline", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); },
             {.execution = Execution::kInline});
  MetricsRegistry metrics;
  HttpServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.log_requests = false;
  HttpServer server(opts, router, logger, metrics);
  REQUIRE(server.Start().ok());

  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  struct Restore {
    rlimit limit;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{saved};
  // Leave room for exactly one more descriptor: the client's socket. The server's accept of that
  // connection then fails with EMFILE until the limit is restored.
  int lowest_free = ::open("/dev/null", O_RDONLY);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);

  const auto start = std::chrono::steady_clock::now();
  RawSocket client(server.port());
  const auto deadline = start + std::chrono::seconds(10);
  while (sink->count() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Watch the failing accepts for a while: a busy loop logs thousands of lines in this time.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int logged = sink->count();
  const double watched =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::setrlimit(RLIMIT_NOFILE, &saved);

  REQUIRE(client.connected());
  CHECK(logged >= 1);
  // At most one report per second (plus the first).
  CHECK(logged <= 2 + static_cast<int>(watched));
  // Once descriptors are available again, the waiting connection is accepted and served.
  REQUIRE(client.Send("GET /inline HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  CHECK_THAT(client.ReadAll(&closed), Catch::StartsWith("HTTP/1.1 200"));
  server.Stop();
}

TEST_CASE("HttpServer: control characters in the path cannot forge text log lines", "[http][log]") {
  ventros::testing::TempDir dir;
  Config::Log cfg;
  cfg.format = "text";
  cfg.level = "info";
  cfg.file = dir.path() + "/requests.log";
  auto logger = MakeLogger(cfg);
  REQUIRE(logger.ok());
  Router router;
  router.Add("GET", "/hello/{name}", [](HttpRequest&) { return HttpResponse::Json(200, "{}"); });
  MetricsRegistry metrics;
  HttpServerOptions opts;
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.log_requests = true;
  HttpServer server(opts, router, *logger, metrics);
  REQUIRE(server.Start().ok());
  HttpClient client;
  HttpClientRequest r;
  r.url =
      fmt::format("http://127.0.0.1:{}/hello/x%0d%0a2026-01-01T00:00:00.000Z%20info%20forged%09%7f",
                  server.port());
  auto res = client.Send(r);
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  server.Stop();
  (*logger)->flush();

  std::ifstream in(cfg.file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1);
  CHECK_THAT(
      lines[0],
      Catch::Contains(
          R"(path=/hello/x\x0d\x0a2026-01-01T00:00:00.000Z info forged\x09\x7f status=200)"));
}

TEST_CASE("HttpServer: an async route answers from another thread without holding a worker",
          "[http]") {
  HttpServerOptions opts;
  opts.io_threads = 1;
  opts.worker_threads = 1;
  Fixture f(opts);
  // The answer comes from a thread of the test, after the request has been handed over.
  std::mutex mu;
  std::vector<std::pair<std::string, Responder>> held;
  std::promise<void> two_held;
  f.router.AddAsync("POST", "/later/{n}", [&](HttpRequest& req, Responder respond) {
    std::lock_guard lock(mu);
    held.emplace_back(req.PathParam("n") + ":" + req.body, std::move(respond));
    if (held.size() == 2) two_held.set_value();
  });
  f.router.AddAsync("GET", "/throws", [](HttpRequest&, Responder) {
    throw std::runtime_error("async handler exploded");
  });
  f.router.AddAsync("GET", "/admin-only",
                    [](HttpRequest&, Responder respond) { respond(HttpResponse::Json(200, "{}")); },
                    {.min_role = Role::kAdmin});
  f.router.SetAuthenticator([](const HttpRequest& req) -> Result<Principal> {
    if (req.Header("X-Key") != "admin") return Status::Unauthenticated("no key");
    return Principal{"t", "k", Role::kAdmin};
  });
  f.Start();
  auto post = [&](const std::string& path, const std::string& body) {
    return std::async(std::launch::async, [&f, path, body] {
      HttpClient c;
      HttpClientRequest r;
      r.method = "POST";
      r.url = f.Url(path);
      r.body = body;
      return c.Send(r);
    });
  };
  auto first = post("/later/1", "a");
  auto second = post("/later/2", "b");
  // Both wait at once although there is one worker thread, and the I/O thread still answers.
  two_held.get_future().wait();
  CHECK(f.Get("/inline").status == 200);
  {
    std::lock_guard lock(mu);
    for (auto& [what, respond] : held) {
      std::thread([what = what, respond = respond] {
        respond(HttpResponse::Json(200, fmt::format(R"({{"got":"{}"}})", what)));
        respond(HttpResponse::Json(500, "{}"));  // a second answer is ignored
      }).join();
    }
  }
  auto a = first.get();
  auto b = second.get();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->status == 200);
  CHECK(ParseJson(a->body).at("got") == "1:a");
  CHECK(ParseJson(b->body).at("got") == "2:b");
  // An exception becomes a 500 without its text; a role is checked before the handler runs.
  auto thrown = f.Get("/throws");
  CHECK(thrown.status == 500);
  CHECK(thrown.body.find("exploded") == std::string::npos);
  CHECK(f.Get("/admin-only").status == 401);
  CHECK(f.Get("/admin-only", {{"X-Key", "admin"}}).status == 200);
}
