#include "ventros/core/http_client.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"

namespace {

using std::chrono::milliseconds;
using ventros::core::HttpClient;
using ventros::core::HttpClientOptions;
using ventros::core::HttpClientRequest;
using ventros::core::StatusCode;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;

// Records the delays the client asks for instead of sleeping, so retry tests take no time.
struct SleepRecorder {
  std::function<void(milliseconds)> Fn() {
    return [this](milliseconds delay) {
      std::lock_guard lock(mutex);
      delays.push_back(delay);
    };
  }
  std::vector<milliseconds> Delays() {
    std::lock_guard lock(mutex);
    return delays;
  }
  std::mutex mutex;
  std::vector<milliseconds> delays;
};

HttpClientOptions TestOptions(SleepRecorder& sleeps) {
  HttpClientOptions options;
  options.connect_timeout = milliseconds(2000);
  options.request_timeout = milliseconds(5000);
  options.sleep = sleeps.Fn();
  return options;
}

HttpClientRequest Get(std::string url) {
  HttpClientRequest request;
  request.url = std::move(url);
  return request;
}

HttpClientRequest Post(std::string url, std::string body) {
  HttpClientRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = std::move(body);
  return request;
}

FakeReply Reply(int status, std::string body = {},
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  return FakeReply{.status = status, .headers = std::move(headers), .body = std::move(body)};
}

// Echoes what the server received, so tests can check what the client sent.
FakeReply Echo(const FakeRequest& request) {
  return Reply(200, request.body,
               {{"X-Method", request.method},
                {"X-Target", request.target},
                {"X-Content-Type", request.Header("Content-Type")}});
}

// A loopback port with nothing listening: bound, then released.
uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

// A file removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("ventros-http-client-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(++counter) + ".pem");
    std::ofstream(path_) << contents;
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("HttpClient: GET returns status, headers and body and sends Host and User-Agent",
          "[http_client]") {
  FakeHttpServer server(Echo);
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  HttpClientRequest request = Get(server.Url("/v1/items?page=2"));
  request.headers = {{"X-Trace", "abc"}};
  auto response = client.Send(request);

  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->attempts == 1);
  CHECK(response->Header("x-method") == "GET");
  CHECK(response->Header("X-TARGET") == "/v1/items?page=2");
  CHECK(response->Header("X-Missing").empty());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].Header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(requests[0].Header("User-Agent") == "ventros/0.1");
  CHECK(requests[0].Header("X-Trace") == "abc");
  CHECK_FALSE(requests[0].HasHeader("Content-Length"));
  CHECK(client.Stats().requests == 1);
}

TEST_CASE("HttpClient: POST sends the body with Content-Type and Content-Length", "[http_client]") {
  FakeHttpServer server(Echo);
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  HttpClientRequest request = Post(server.Url("/v1/messages"), R"({"text":"olá"})");
  request.headers = {{"Content-Type", "application/json"}, {"Content-Length", "999"}};
  auto response = client.Send(request);

  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->body == R"({"text":"olá"})");
  CHECK(response->Header("X-Method") == "POST");
  CHECK(response->Header("X-Content-Type") == "application/json");
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].Header("Content-Length") == std::to_string(request.body.size()));
}

TEST_CASE("HttpClient: returns any HTTP status as a response, HEAD without a body",
          "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(404, "no such thing"), Reply(200, "body")}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  auto not_found = client.Send(Get(server.Url("/missing")));
  REQUIRE(not_found.ok());
  CHECK(not_found->status == 404);
  CHECK(not_found->body == "no such thing");

  HttpClientRequest head = Get(server.Url("/"));
  head.method = "HEAD";
  auto headed = client.Send(head);
  REQUIRE(headed.ok());
  CHECK(headed->status == 200);
  CHECK(headed->body.empty());
  CHECK(headed->Header("Content-Length") == "4");
}

TEST_CASE("HttpClient: reuses a keep-alive connection for the next request to the same host",
          "[http_client]") {
  FakeHttpServer server(Echo);
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  REQUIRE(client.Send(Get(server.Url("/a"))).ok());
  REQUIRE(client.Send(Get(server.Url("/b"))).ok());
  REQUIRE(client.Send(Post(server.Url("/c"), "x")).ok());

  const auto stats = client.Stats();
  CHECK(stats.requests == 3);
  CHECK(stats.connections_opened == 1);
  CHECK(stats.connections_reused == 2);
  CHECK(server.ConnectionsAccepted() == 1);
}

TEST_CASE("HttpClient: does not keep a connection the server closes with Connection: close",
          "[http_client]") {
  FakeReply closing = Reply(200, "bye");
  closing.close_after = true;
  FakeHttpServer server(FakeHttpServer::Script({closing}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  REQUIRE(client.Send(Get(server.Url("/"))).ok());
  REQUIRE(client.Send(Get(server.Url("/"))).ok());

  CHECK(client.Stats().connections_opened == 2);
  CHECK(client.Stats().connections_reused == 0);
  CHECK(server.ConnectionsAccepted() == 2);
}

TEST_CASE("HttpClient: an idle connection closed by the server is replaced by a fresh one",
          "[http_client]") {
  FakeHttpServer server(Echo);
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  REQUIRE(client.Send(Get(server.Url("/first"))).ok());
  server.CloseConnections();
  auto second = client.Send(Get(server.Url("/second")));

  REQUIRE(second.ok());
  CHECK(second->status == 200);
  CHECK(second->attempts == 1);
  CHECK(client.Stats().retries == 0);
  CHECK(server.ConnectionsAccepted() == 2);
  CHECK(sleeps.Delays().empty());
}

TEST_CASE(
    "HttpClient: a retryable request on a reused connection dropped before any response byte is "
    "sent again once on a fresh connection, without counting as a retry",
    "[http_client]") {
  // The second request arrives on the kept-alive connection and the server drops it unanswered,
  // as a server whose idle timeout fires at that moment would.
  FakeHttpServer server(
      FakeHttpServer::Script({Reply(200, "one"), FakeReply::Close(), Reply(200, "two")}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  REQUIRE(client.Send(Post(server.Url("/"), "1")).ok());
  HttpClientRequest idempotent = Post(server.Url("/"), "2");
  idempotent.retry = true;  // e.g. a POST carrying an idempotency key
  auto second = client.Send(idempotent);

  REQUIRE(second.ok());
  CHECK(second->body == "two");
  CHECK(second->attempts == 1);
  const auto stats = client.Stats();
  CHECK(stats.retries == 0);
  CHECK(stats.connections_opened == 2);
  CHECK(stats.connections_reused == 1);
  CHECK(sleeps.Delays().empty());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[1].connection == 1);
  CHECK(requests[2].connection == 2);
}

TEST_CASE(
    "HttpClient: a non-retryable request on a reused connection dropped before any response byte "
    "is not sent again and reports an unknown outcome",
    "[http_client]") {
  // Regression: the client replayed even a POST with retry=false; for WAHA's sendText the server
  // may have acted on the first copy, so the WhatsApp message went out twice.
  FakeHttpServer server(
      FakeHttpServer::Script({Reply(200, "one"), FakeReply::Close(), Reply(200, "two")}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  REQUIRE(client.Send(Post(server.Url("/"), "1")).ok());
  HttpClientRequest send_text = Post(server.Url("/api/sendText"), "2");
  send_text.retry = false;
  auto second = client.Send(send_text);

  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(second.status().message(), "outcome unknown"));
  CHECK_FALSE(Contains(second.status().message(), "not sent"));
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 2);  // received once, never again
  CHECK(requests[1].body == "2");
  CHECK(server.ConnectionsAccepted() == 1);
  CHECK(client.Stats().retries == 0);
  // The next request does not use the dead connection.
  auto third = client.Send(Post(server.Url("/"), "3"));
  REQUIRE(third.ok());
  CHECK(third->body == "two");
}

TEST_CASE("HttpClient: retries a 503 with exponential backoff and jitter, then returns the 200",
          "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(503), Reply(503), Reply(200, "ok")}));
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.initial_backoff = milliseconds(100);
  options.backoff_multiplier = 3.0;
  HttpClient client(options);

  auto response = client.Send(Get(server.Url("/")));

  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->body == "ok");
  CHECK(response->attempts == 3);
  const auto delays = sleeps.Delays();
  REQUIRE(delays.size() == 2);
  CHECK(delays[0] >= milliseconds(80));
  CHECK(delays[0] <= milliseconds(120));
  CHECK(delays[1] >= milliseconds(240));
  CHECK(delays[1] <= milliseconds(360));
  CHECK(client.Stats().retries == 2);
}

TEST_CASE("HttpClient: backoff is capped at max_backoff", "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(502), Reply(504), Reply(429), Reply(200)}));
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.max_retries = 3;
  options.initial_backoff = milliseconds(1000);
  options.backoff_multiplier = 10.0;
  options.max_backoff = milliseconds(1500);
  HttpClient client(options);

  auto response = client.Send(Get(server.Url("/")));

  REQUIRE(response.ok());
  CHECK(response->attempts == 4);
  const auto delays = sleeps.Delays();
  REQUIRE(delays.size() == 3);
  CHECK(delays[0] >= milliseconds(800));
  CHECK(delays[0] <= milliseconds(1200));
  CHECK(delays[1] >= milliseconds(1200));
  CHECK(delays[1] <= milliseconds(1500));
  CHECK(delays[2] <= milliseconds(1500));
}

TEST_CASE("HttpClient: honours Retry-After in seconds, capped at max_backoff", "[http_client]") {
  FakeHttpServer server(
      FakeHttpServer::Script({Reply(429, "", {{"Retry-After", "2"}}),
                              Reply(503, "", {{"Retry-After", "86400"}}), Reply(200)}));
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.max_backoff = milliseconds(5000);
  HttpClient client(options);

  auto response = client.Send(Get(server.Url("/")));

  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(sleeps.Delays() == std::vector<milliseconds>{milliseconds(2000), milliseconds(5000)});
}

TEST_CASE("HttpClient: returns the last response when retries on a status run out",
          "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(503, "busy")}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  auto response = client.Send(Get(server.Url("/")));

  REQUIRE(response.ok());
  CHECK(response->status == 503);
  CHECK(response->body == "busy");
  CHECK(response->attempts == 3);
  CHECK(server.Requests().size() == 3);
  CHECK(sleeps.Delays().size() == 2);
}

TEST_CASE("HttpClient: POST is not retried on 503 unless the request allows it", "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(503), Reply(200)}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  auto once = client.Send(Post(server.Url("/"), "x"));
  REQUIRE(once.ok());
  CHECK(once->status == 503);
  CHECK(once->attempts == 1);
  CHECK(sleeps.Delays().empty());

  FakeHttpServer retrying_server(FakeHttpServer::Script({Reply(503), Reply(200)}));
  HttpClientRequest idempotent = Post(retrying_server.Url("/"), "x");
  idempotent.headers = {{"Idempotency-Key", "k-1"}};
  idempotent.retry = true;
  auto retried = client.Send(idempotent);
  REQUIRE(retried.ok());
  CHECK(retried->status == 200);
  CHECK(retried->attempts == 2);
  CHECK(sleeps.Delays().size() == 1);
}

TEST_CASE("HttpClient: GET is not retried when the request opts out", "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(503), Reply(200)}));
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  HttpClientRequest request = Get(server.Url("/"));
  request.retry = false;
  auto response = client.Send(request);

  REQUIRE(response.ok());
  CHECK(response->status == 503);
  CHECK(response->attempts == 1);
}

TEST_CASE("HttpClient: connection refused is Unavailable after the retries", "[http_client]") {
  const uint16_t port = ClosedPort();
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  auto response =
      client.Send(Get("http://127.0.0.1:" + std::to_string(port) + "/v1/x?api_key=secret"));

  REQUIRE_FALSE(response.ok());
  const auto& status = response.status();
  CHECK(status.code() == StatusCode::kUnavailable);
  CHECK(Contains(status.message(), "GET http://127.0.0.1:" + std::to_string(port) + "/v1/x"));
  CHECK(Contains(status.message(), "connection refused"));
  CHECK(Contains(status.message(), "not sent"));
  CHECK(Contains(status.message(), "after 3 attempts"));
  CHECK_FALSE(Contains(status.message(), "secret"));
  CHECK(sleeps.Delays().size() == 2);
  CHECK(client.Stats().retries == 2);

  // A POST that cannot connect says so too: the caller may send it again safely.
  auto post = client.Send(Post("http://127.0.0.1:" + std::to_string(port) + "/send", "x"));
  REQUIRE_FALSE(post.ok());
  CHECK(Contains(post.status().message(), "connection refused (request not sent)"));
}

TEST_CASE("HttpClient: a server that never answers times out as Unavailable", "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({FakeReply::Hang()}));
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.max_retries = 0;

  SECTION("with the client's request_timeout") {
    options.request_timeout = milliseconds(200);
    HttpClient client(options);
    auto response = client.Send(Get(server.Url("/slow")));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kUnavailable);
    CHECK(Contains(response.status().message(), "timeout after 200 ms"));
    CHECK_FALSE(Contains(response.status().message(), "not sent"));  // it was sent
  }
  SECTION("with the request's own timeout") {
    HttpClient client(options);
    HttpClientRequest request = Get(server.Url("/slow"));
    request.timeout = milliseconds(150);
    const auto started = std::chrono::steady_clock::now();
    auto response = client.Send(request);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    REQUIRE_FALSE(response.ok());
    CHECK(Contains(response.status().message(), "timeout after 150 ms"));
    CHECK(elapsed < std::chrono::seconds(3));
  }
}

TEST_CASE("HttpClient: a response larger than max_response_bytes is an error, not retried",
          "[http_client]") {
  FakeHttpServer server(FakeHttpServer::Script({Reply(200, std::string(4096, 'x'))}));
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.max_response_bytes = 1024;
  HttpClient client(options);

  auto response = client.Send(Get(server.Url("/big")));

  REQUIRE_FALSE(response.ok());
  CHECK(response.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(response.status().message(), "max_response_bytes (1024)"));
  CHECK(server.Requests().size() == 1);
  CHECK(sleeps.Delays().empty());
}

TEST_CASE("HttpClient: rejects malformed URLs, other schemes and unsafe headers", "[http_client]") {
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));

  for (const std::string url :
       {"", "not a url", "localhost:8080/x", "ftp://example.com/file", "ws://example.com/",
        "http:///path", "http://host:99999/", "https://user:pass@example.com/"}) {
    CAPTURE(url);
    auto response = client.Send(Get(url));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kInvalidArgument);
  }
  auto ftp = client.Send(Get("ftp://example.com/file"));
  CHECK(Contains(ftp.status().message(), "unsupported URL scheme 'ftp'"));

  HttpClientRequest injected = Get("http://127.0.0.1:1/");
  injected.headers = {{"X-Note", "a\r\nX-Admin: yes"}};
  CHECK(client.Send(injected).status().code() == StatusCode::kInvalidArgument);

  HttpClientRequest bad_method = Get("http://127.0.0.1:1/");
  bad_method.method = "GET /evil";
  CHECK(client.Send(bad_method).status().code() == StatusCode::kInvalidArgument);
  CHECK(sleeps.Delays().empty());
}

TEST_CASE("HttpClient: many threads may share one client", "[http_client]") {
  FakeHttpServer server(Echo);
  SleepRecorder sleeps;
  HttpClient client(TestOptions(sleeps));
  constexpr int kThreads = 4;
  constexpr int kRequestsPerThread = 10;

  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto response = client.Send(Post(server.Url("/"), body));
        if (response.ok() && response->body == body) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();

  CHECK(ok == kThreads * kRequestsPerThread);
  const auto stats = client.Stats();
  CHECK(stats.requests == kThreads * kRequestsPerThread);
  CHECK(stats.connections_opened + stats.connections_reused == kThreads * kRequestsPerThread);
  CHECK(stats.connections_opened <= kThreads);
}

TEST_CASE("HttpClient: https verifies the server certificate and host name", "[http_client]") {
  const auto identity = ventros::testing::MakeSelfSignedIdentity("localhost", "127.0.0.1");
  TempFile ca_file(identity.certificate_pem);
  FakeHttpServer server(Echo, identity);
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);

  SECTION("trusted through ca_file, by name and by IP address, with keep-alive") {
    options.ca_file = ca_file.path();
    HttpClient client(options);
    auto by_name = client.Send(Post(server.Url("/secure", "localhost"), "hello"));
    REQUIRE(by_name.ok());
    CHECK(by_name->status == 200);
    CHECK(by_name->body == "hello");
    auto again = client.Send(Post(server.Url("/secure", "localhost"), "again"));
    REQUIRE(again.ok());
    CHECK(client.Stats().connections_reused == 1);
    auto by_ip = client.Send(Get(server.Url("/secure", "127.0.0.1")));
    REQUIRE(by_ip.ok());
    CHECK(by_ip->status == 200);
    CHECK(server.Requests().front().Header("Host") == "localhost:" + std::to_string(server.port()));
  }
  SECTION("a kept-alive TLS connection the server closes is replaced by a fresh one") {
    options.ca_file = ca_file.path();
    HttpClient client(options);
    REQUIRE(client.Send(Get(server.Url("/", "localhost"))).ok());
    server.CloseConnections();
    auto response = client.Send(Get(server.Url("/", "localhost")));
    REQUIRE(response.ok());
    CHECK(response->attempts == 1);
    CHECK(client.Stats().connections_opened == 2);
    CHECK(server.ConnectionsAccepted() == 2);
  }
  SECTION("an unknown issuer fails with a certificate error and is not retried") {
    HttpClient client(options);
    auto response = client.Send(Get(server.Url("/secure", "localhost")));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kUnavailable);
    CHECK(Contains(response.status().message(), "TLS handshake failed"));
    CHECK(Contains(response.status().message(), "certificate"));
    CHECK(sleeps.Delays().empty());
    CHECK(server.Requests().empty());
  }
  SECTION("verify_tls = false accepts the unknown issuer") {
    options.verify_tls = false;
    HttpClient client(options);
    auto response = client.Send(Get(server.Url("/secure", "localhost")));
    REQUIRE(response.ok());
    CHECK(response->status == 200);
  }
  SECTION("a missing ca_file is InvalidArgument") {
    options.ca_file = ca_file.path() + ".missing";
    HttpClient client(options);
    auto response = client.Send(Get(server.Url("/secure", "localhost")));
    REQUIRE_FALSE(response.ok());
    CHECK(response.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("HttpClient: https sends a retryable request again when a kept-alive connection drops",
          "[http_client]") {
  const auto identity = ventros::testing::MakeSelfSignedIdentity();
  TempFile ca_file(identity.certificate_pem);
  FakeHttpServer server(
      FakeHttpServer::Script({Reply(200, "one"), FakeReply::Close(), Reply(200, "two")}), identity);
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.ca_file = ca_file.path();
  HttpClient client(options);

  REQUIRE(client.Send(Post(server.Url("/", "localhost"), "1")).ok());
  HttpClientRequest idempotent = Post(server.Url("/", "localhost"), "2");
  idempotent.retry = true;
  auto second = client.Send(idempotent);

  REQUIRE(second.ok());
  CHECK(second->body == "two");
  CHECK(client.Stats().retries == 0);
  CHECK(client.Stats().connections_reused == 1);
  CHECK(server.ConnectionsAccepted() == 2);
}

TEST_CASE("HttpClient: https rejects a trusted certificate issued for another host",
          "[http_client]") {
  const auto identity = ventros::testing::MakeSelfSignedIdentity("other.example", "");
  TempFile ca_file(identity.certificate_pem);
  FakeHttpServer server(Echo, identity);
  SleepRecorder sleeps;
  HttpClientOptions options = TestOptions(sleeps);
  options.ca_file = ca_file.path();
  HttpClient client(options);

  auto by_name = client.Send(Get(server.Url("/", "localhost")));
  REQUIRE_FALSE(by_name.ok());
  CHECK(Contains(by_name.status().message(), "hostname mismatch"));
  CHECK(Contains(by_name.status().message(), "not sent"));

  auto by_ip = client.Send(Get(server.Url("/", "127.0.0.1")));
  REQUIRE_FALSE(by_ip.ok());
  CHECK(Contains(by_ip.status().message(), "IP address mismatch"));
}
