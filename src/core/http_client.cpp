#include "ventros/core/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

namespace ventros::core {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ErrorCode = boost::system::error_code;
using Request = http::request<http::string_body>;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr uint32_t kMaxResponseHeaderBytes = 64 * 1024;
constexpr uint16_t kHttpPort = 80;
constexpr uint16_t kHttpsPort = 443;
constexpr double kJitterFraction = 0.2;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 9110 token characters: what a method or a header name may contain.
bool IsToken(std::string_view s) {
  static constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           kPunctuation.find(c) != std::string_view::npos;
  });
}

// Without this check a value carrying CR/LF could smuggle extra headers into the request.
bool IsSafeHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The URL as it may appear in messages: the query is dropped because it often carries keys.
std::string WithoutQuery(std::string_view url) { return std::string(url.substr(0, url.find('?'))); }

std::string Millis(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// A parsed http(s) URL, split into what the connection and the request line need.
struct Endpoint {
  bool tls = false;
  std::string host;  // without IPv6 brackets: what is resolved, sent as SNI and verified
  bool host_is_ip = false;
  uint16_t port = 0;
  std::string host_header;  // host[:port], as sent in Host
  std::string target;       // path?query
  std::string display;      // scheme://host[:port]/path, for messages
  std::string pool_key;     // scheme://host:port
};

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return Status::InvalidArgument("invalid URL '" + WithoutQuery(url) +
                                   "': " + parsed.error().message());
  }
  const boost::urls::url_view& u = *parsed;
  Endpoint e;
  if (u.scheme_id() == boost::urls::scheme::https) {
    e.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    return Status::InvalidArgument("unsupported URL scheme '" + std::string(u.scheme()) + "' in '" +
                                   WithoutQuery(url) + "' (only http and https)");
  }
  if (u.has_userinfo()) {
    return Status::InvalidArgument("credentials in URLs are not supported: '" + WithoutQuery(url) +
                                   "'");
  }
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      e.host_is_ip = true;
      break;
    case boost::urls::host_type::name:
      break;
    default:
      return Status::InvalidArgument("URL has no usable host: '" + WithoutQuery(url) + "'");
  }
  e.host = ToLower(u.host_address());
  if (e.host.empty()) {
    return Status::InvalidArgument("URL has no host: '" + WithoutQuery(url) + "'");
  }
  const uint16_t default_port = e.tls ? kHttpsPort : kHttpPort;
  e.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    // port_number() wraps values above 65535, so the digits are checked here.
    const std::string_view digits = u.port();
    uint32_t port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    e.port = static_cast<uint16_t>(port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 ||
        port > UINT16_MAX) {
      return Status::InvalidArgument("URL has an invalid port: '" + WithoutQuery(url) + "'");
    }
  }
  const std::string bracketed =
      u.host_type() == boost::urls::host_type::ipv6 ? "[" + e.host + "]" : e.host;
  const std::string scheme = e.tls ? "https" : "http";
  e.host_header = bracketed;
  if (e.port != default_port) e.host_header += ":" + std::to_string(e.port);
  std::string path(u.encoded_path());
  if (path.empty()) path = "/";
  e.target = path;
  if (u.has_query()) e.target += "?" + std::string(u.encoded_query());
  e.display = scheme + "://" + e.host_header + path;
  e.pool_key = scheme + "://" + bracketed + ":" + std::to_string(e.port);
  return e;
}

bool DefaultRetry(std::string_view method) {
  for (std::string_view idempotent : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}) {
    if (EqualsIgnoreCase(method, idempotent)) return true;
  }
  return false;
}

bool IsRetryableStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

// Retry-After in delta-seconds; HTTP-date values are ignored (backoff applies instead).
std::optional<milliseconds> ParseRetryAfter(std::string_view value, milliseconds cap) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || ec == std::errc::invalid_argument || end != value.data() + value.size() ||
      seconds < 0) {
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || seconds > cap.count() / 1000 + 1) return cap;
  return std::min(milliseconds(seconds * 1000), cap);
}

// On a host mismatch, records why in the verify context so that the handshake error reads
// "hostname mismatch" instead of a bare "certificate verify failed".
class HostVerifier {
 public:
  HostVerifier(const std::string& host, bool is_ip) : check_(host), is_ip_(is_ip) {}

  bool operator()(bool preverified, ssl::verify_context& ctx) const {
    if (!preverified) return false;
    if (check_(preverified, ctx)) return true;
    X509_STORE_CTX_set_error(ctx.native_handle(), is_ip_ ? X509_V_ERR_IP_ADDRESS_MISMATCH
                                                         : X509_V_ERR_HOSTNAME_MISMATCH);
    return false;
  }

 private:
  ssl::host_name_verification check_;
  bool is_ip_;
};

// One keep-alive connection. The buffer belongs to the connection: bytes read past the end of a
// response would belong to the next one.
struct Connection {
  explicit Connection(asio::io_context& io) : stream(std::in_place_type<PlainStream>, io) {}
  Connection(asio::io_context& io, ssl::context& tls)
      : stream(std::in_place_type<TlsStream>, io, tls) {}

  beast::tcp_stream& Lowest() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }

  // An idle connection is usable unless the server has closed it. On plain HTTP, unsolicited
  // bytes (a 408 before closing) also rule it out; over TLS they may be a session ticket, and a
  // close_notify is caught by the stale-connection retry. Peeking costs one syscall and saves a
  // failed round trip.
  bool LooksReusable() {
    tcp::socket& socket = Lowest().socket();
    if (!socket.is_open() || buffer.size() != 0) return false;
    char byte = 0;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return std::holds_alternative<TlsStream>(stream);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::variant<PlainStream, TlsStream> stream;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since;
};

std::string DescribeError(const ErrorCode& ec, size_t max_response_bytes) {
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset) return "connection reset by peer";
  if (ec == asio::error::broken_pipe) return "connection closed by server while sending";
  if (ec == http::error::end_of_stream || ec == asio::error::eof) {
    return "connection closed by server before a response";
  }
  if (ec == http::error::partial_message) return "connection closed in the middle of a response";
  if (ec == http::error::body_limit) {
    return "response body exceeds max_response_bytes (" + std::to_string(max_response_bytes) + ")";
  }
  if (ec == http::error::header_limit) {
    return "response headers exceed " + std::to_string(kMaxResponseHeaderBytes) + " bytes";
  }
  if (ec.category() == asio::error::get_ssl_category() || ec == ssl::error::stream_truncated) {
    return "TLS error: " + ec.message();
  }
  return ec.message();
}

// Phrases callers match on (the WAHA gateway decides by them whether a send may be repeated):
// kNotSent when no byte of the request can have reached the server, kOutcomeUnknown when it may
// have been received and acted on.
constexpr std::string_view kNotSent = "request not sent";
constexpr std::string_view kOutcomeUnknown = "outcome unknown";

struct Failure {
  std::string cause;
  bool retryable = true;  // false when another attempt would fail the same way
  bool sent = true;       // false when it failed before a byte of the request was written
};

// The outcome of one attempt: a response (any status) or a failure.
struct AttemptOutcome {
  std::optional<HttpClientResponse> response;
  Failure failure;
};

struct OpenOutcome {
  std::unique_ptr<Connection> connection;
  Failure failure;
};

struct ExchangeOutcome {
  ErrorCode ec;
  bool got_response_bytes = false;
  bool keep_alive = false;
  HttpClientResponse response;
};

// Writes the request and reads the response; the whole exchange shares one deadline.
template <typename Stream>
asio::awaitable<ExchangeOutcome> Exchange(Stream& stream, beast::flat_buffer& buffer,
                                          const Request& request, milliseconds timeout,
                                          size_t max_response_bytes) {
  ExchangeOutcome out;
  beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
  lowest.expires_after(timeout);
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, out.ec));
  if (out.ec) co_return out;
  for (;;) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxResponseHeaderBytes);
    parser.body_limit(max_response_bytes);
    if (request.method() == http::verb::head) parser.skip(true);
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, out.ec));
    out.got_response_bytes = out.got_response_bytes || parser.got_some();
    bool closed_by_eof = false;
    if (out.ec == ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
      // A body delimited by the end of the connection, from a TLS server that skipped
      // close_notify: the body is complete, the connection is not reusable.
      out.ec = {};
      parser.put_eof(out.ec);
      closed_by_eof = true;
    }
    if (out.ec) co_return out;
    const auto& message = parser.get();
    const int status = message.result_int();
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status >= 100 && status < 200 && status != 101) continue;
    out.response.status = status;
    for (const auto& field : message) {
      out.response.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
    }
    out.keep_alive = !closed_by_eof && message.keep_alive() && request.keep_alive();
    out.response.body = std::move(parser.release().body());
    break;
  }
  lowest.expires_never();
  co_return out;
}

}  // namespace

std::string HttpClientResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

struct HttpClient::Impl {
  explicit Impl(HttpClientOptions opts)
      : options(std::move(opts)), work(asio::make_work_guard(io)), rng(std::random_device{}()) {
    ConfigureTls();
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    work.reset();
    io.stop();
    if (thread.joinable()) thread.join();
    // Idle connections are closed here, before the io_context they belong to.
    idle.clear();
  }

  void ConfigureTls() {
    ErrorCode ec;
    SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
    if (!options.verify_tls) {
      tls_context.set_verify_mode(ssl::verify_none, ec);
      return;
    }
    tls_context.set_verify_mode(ssl::verify_peer, ec);
    tls_context.set_default_verify_paths(ec);
    if (ec) {
      tls_setup = Status::Unavailable("cannot load the system CA certificates: " + ec.message());
      return;
    }
    if (!options.ca_file.empty()) {
      tls_context.load_verify_file(options.ca_file, ec);
      if (ec) {
        tls_setup = Status::InvalidArgument("cannot load ca_file '" + options.ca_file +
                                            "': " + ec.message());
      }
    }
  }

  // Runs on the caller's thread; blocks until the I/O thread has finished the attempt.
  // `replayable`: the request may be sent again when a reused connection turns out dead.
  AttemptOutcome RunAttempt(const Endpoint& endpoint, const Request& request, milliseconds timeout,
                            bool replayable) {
    std::future<AttemptOutcome> done =
        asio::co_spawn(io, Attempt(endpoint, request, timeout, replayable), asio::use_future);
    try {
      return done.get();
    } catch (const std::exception& e) {
      return AttemptOutcome{
          .failure = {.cause = std::string("internal error: ") + e.what(), .retryable = false}};
    }
  }

  asio::awaitable<AttemptOutcome> Attempt(const Endpoint& endpoint, const Request& request,
                                          milliseconds timeout, bool replayable) {
    std::unique_ptr<Connection> connection = TakeIdle(endpoint.pool_key);
    bool replayed = false;  // sent once already on a reused connection that then died
    for (;;) {
      const bool reused = connection != nullptr;
      if (reused) {
        ++connections_reused;
      } else {
        OpenOutcome opened = co_await Open(endpoint);
        if (!opened.connection) {
          opened.failure.sent = opened.failure.sent || replayed;
          co_return AttemptOutcome{.failure = std::move(opened.failure)};
        }
        connection = std::move(opened.connection);
        ++connections_opened;
      }
      ExchangeOutcome exchanged = co_await std::visit(
          [&](auto& stream) {
            return Exchange(stream, connection->buffer, request, timeout,
                            options.max_response_bytes);
          },
          connection->stream);
      if (!exchanged.ec) {
        if (exchanged.keep_alive) ReturnIdle(endpoint.pool_key, std::move(connection));
        co_return AttemptOutcome{.response = std::move(exchanged.response)};
      }
      connection.reset();
      if (reused && !exchanged.got_response_bytes && exchanged.ec != beast::error::timeout) {
        // Most likely the server closed the idle connection as we sent (keep-alive race). Its
        // siblings are suspect too, so any replay goes to a fresh connection.
        idle.erase(endpoint.pool_key);
        if (replayable) {
          replayed = true;
          continue;  // not counted as a retry
        }
        // The server may also have received the request and failed before answering: a request
        // that must not run twice (a POST sending a message) is not replayed.
        co_return AttemptOutcome{
            .failure = {.cause = DescribeError(exchanged.ec, options.max_response_bytes) +
                                 " on a reused connection; " + std::string(kOutcomeUnknown) +
                                 " (not resent: the request is not retryable)",
                        .retryable = false}};
      }
      Failure failure;
      if (exchanged.ec == beast::error::timeout) {
        failure.cause = "timeout after " + Millis(timeout);
      } else {
        failure.cause = DescribeError(exchanged.ec, options.max_response_bytes);
        failure.retryable =
            exchanged.ec != http::error::body_limit && exchanged.ec != http::error::header_limit;
      }
      co_return AttemptOutcome{.failure = std::move(failure)};
    }
  }

  // Resolves, connects and (for https) completes the TLS handshake within connect_timeout.
  // Name resolution itself is bounded by the system resolver's own timeouts.
  asio::awaitable<OpenOutcome> Open(const Endpoint& endpoint) {
    OpenOutcome out;
    out.failure.sent = false;  // nothing is written before the connection is open
    ErrorCode ec;
    const auto deadline = SteadyClock::now() + options.connect_timeout;
    tcp::resolver resolver(io);
    const auto addresses =
        co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.failure.cause = "cannot resolve host '" + endpoint.host + "': " + ec.message();
      co_return out;
    }
    auto connection = endpoint.tls ? std::make_unique<Connection>(io, tls_context)
                                   : std::make_unique<Connection>(io);
    beast::tcp_stream& lowest = connection->Lowest();
    lowest.expires_at(deadline);
    co_await lowest.async_connect(addresses, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.failure.cause = ec == beast::error::timeout
                              ? "connect timeout after " + Millis(options.connect_timeout)
                              : DescribeError(ec, options.max_response_bytes);
      co_return out;
    }
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if (auto* tls = std::get_if<TlsStream>(&connection->stream)) {
      // SNI carries host names only (RFC 6066); verification covers names and IP addresses.
      if (!endpoint.host_is_ip &&
          !SSL_set_tlsext_host_name(tls->native_handle(), endpoint.host.c_str())) {
        out.failure = {.cause = "cannot set TLS server name", .retryable = false, .sent = false};
        co_return out;
      }
      if (options.verify_tls) {
        tls->set_verify_callback(HostVerifier(endpoint.host, endpoint.host_is_ip), ec);
      }
      co_await tls->async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == beast::error::timeout) {
          out.failure.cause =
              "connect timeout after " + Millis(options.connect_timeout) + " (TLS handshake)";
          co_return out;
        }
        out.failure.cause = "TLS handshake failed: " + ec.message();
        const long verify_result = SSL_get_verify_result(tls->native_handle());
        if (verify_result != X509_V_OK) {
          // A certificate problem does not go away by trying again.
          out.failure.cause +=
              std::string(" (certificate: ") + X509_verify_cert_error_string(verify_result) + ")";
          out.failure.retryable = false;
        }
        co_return out;
      }
    }
    lowest.expires_never();
    out.connection = std::move(connection);
    co_return out;
  }

  // The pool is touched only on the I/O thread, so it needs no lock.
  std::unique_ptr<Connection> TakeIdle(const std::string& key) {
    DropExpiredIdle();
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    std::deque<std::unique_ptr<Connection>>& connections = it->second;
    std::unique_ptr<Connection> found;
    // The most recently used connection is the least likely to have been closed by the server.
    while (!connections.empty() && !found) {
      std::unique_ptr<Connection> candidate = std::move(connections.back());
      connections.pop_back();
      if (candidate->LooksReusable()) found = std::move(candidate);
    }
    if (connections.empty()) idle.erase(it);
    return found;
  }

  void ReturnIdle(const std::string& key, std::unique_ptr<Connection> connection) {
    if (options.max_idle_per_host <= 0) return;
    connection->idle_since = SteadyClock::now();
    std::deque<std::unique_ptr<Connection>>& connections = idle[key];
    connections.push_back(std::move(connection));
    while (connections.size() > static_cast<size_t>(options.max_idle_per_host)) {
      connections.pop_front();
    }
  }

  void DropExpiredIdle() {
    const auto oldest_allowed = SteadyClock::now() - options.idle_timeout;
    for (auto it = idle.begin(); it != idle.end();) {
      std::deque<std::unique_ptr<Connection>>& connections = it->second;
      // Oldest first: connections are appended when they become idle.
      while (!connections.empty() && connections.front()->idle_since <= oldest_allowed) {
        connections.pop_front();
      }
      it = connections.empty() ? idle.erase(it) : std::next(it);
    }
  }

  // initial_backoff * multiplier^retry, capped at max_backoff, with +/-20% jitter so that
  // clients failing together do not retry together.
  milliseconds Backoff(int retry) {
    const double cap = static_cast<double>(options.max_backoff.count());
    double base = static_cast<double>(options.initial_backoff.count()) *
                  std::pow(options.backoff_multiplier, retry);
    base = std::clamp(base, 0.0, cap);
    double factor = 1.0;
    {
      std::lock_guard lock(rng_mutex);
      factor =
          std::uniform_real_distribution<double>(1.0 - kJitterFraction, 1.0 + kJitterFraction)(rng);
    }
    return milliseconds(std::llround(std::clamp(base * factor, 0.0, cap)));
  }

  void Sleep(milliseconds delay) {
    if (options.sleep) {
      options.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }

  HttpClientOptions options;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  ssl::context tls_context{ssl::context::tls_client};
  Status tls_setup;  // not OK when the CA certificates could not be loaded; fails https sends
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;  // by pool key
  std::mutex rng_mutex;
  std::minstd_rand rng;
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> retries{0};
  std::atomic<int64_t> connections_opened{0};
  std::atomic<int64_t> connections_reused{0};
  std::thread thread;
};

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

Result<HttpClientResponse> HttpClient::Send(const HttpClientRequest& request) {
  ++impl_->requests;
  VENTROS_ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(request.url));
  if (!IsToken(request.method)) {
    return Status::InvalidArgument("invalid HTTP method '" + request.method + "'");
  }
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || !IsSafeHeaderValue(value)) {
      return Status::InvalidArgument("invalid HTTP header '" + name + "'");
    }
  }
  if (endpoint.tls && !impl_->tls_setup.ok()) {
    return Status(impl_->tls_setup.code(),
                  impl_->tls_setup.message() + " (" + std::string(kNotSent) + ")");
  }

  const HttpClientOptions& options = impl_->options;
  Request message;
  message.method_string(request.method);
  message.target(endpoint.target);
  message.version(11);
  message.set(http::field::host, endpoint.host_header);
  message.set(http::field::user_agent, options.user_agent);
  for (const auto& [name, value] : request.headers) {
    // The body decides the framing; Host and User-Agent from the caller win over the defaults.
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Host") || EqualsIgnoreCase(name, "User-Agent")) {
      message.set(name, value);
    } else {
      message.insert(name, value);
    }
  }
  message.body() = request.body;
  message.prepare_payload();

  const bool retryable = request.retry.value_or(DefaultRetry(request.method));
  const int max_attempts = retryable ? 1 + std::max(0, options.max_retries) : 1;
  const milliseconds timeout = request.timeout.value_or(options.request_timeout);
  bool maybe_sent = false;  // whether any attempt may have reached the server
  for (int attempt = 1;; ++attempt) {
    AttemptOutcome outcome = impl_->RunAttempt(endpoint, message, timeout, retryable);
    const bool last = attempt >= max_attempts;
    if (!outcome.response) {
      maybe_sent = maybe_sent || outcome.failure.sent;
      if (last || !outcome.failure.retryable) {
        std::string text = request.method + " " + endpoint.display + ": " + outcome.failure.cause;
        if (!maybe_sent) text += " (" + std::string(kNotSent) + ")";
        if (attempt > 1) text += " (after " + std::to_string(attempt) + " attempts)";
        return Status::Unavailable(std::move(text));
      }
      impl_->Sleep(impl_->Backoff(attempt - 1));
      ++impl_->retries;
      continue;
    }
    maybe_sent = true;
    HttpClientResponse& response = *outcome.response;
    response.attempts = attempt;
    if (last || !IsRetryableStatus(response.status)) return std::move(response);
    std::optional<milliseconds> delay =
        ParseRetryAfter(response.Header("Retry-After"), options.max_backoff);
    impl_->Sleep(delay ? *delay : impl_->Backoff(attempt - 1));
    ++impl_->retries;
  }
}

HttpClientStats HttpClient::Stats() const {
  return HttpClientStats{.requests = impl_->requests.load(),
                         .retries = impl_->retries.load(),
                         .connections_opened = impl_->connections_opened.load(),
                         .connections_reused = impl_->connections_reused.load()};
}

}  // namespace ventros::core
