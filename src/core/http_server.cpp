#include "ventros/core/http_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "ventros/core/ids.hpp"
#include "ventros/core/thread.hpp"

namespace ventros::core {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

namespace {

// Accept errors (EMFILE, ENFILE, ENOBUFS) persist until something is freed: retry with backoff
// instead of spinning, and log at most once per interval.
constexpr std::chrono::milliseconds kAcceptBackoffFirst{100};
constexpr std::chrono::milliseconds kAcceptBackoffMax{1000};
constexpr std::chrono::seconds kAcceptLogInterval{1};
// How much an idle connection reads at once while waiting for the next request.
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

// The metrics label for a method: the client chooses the method, so anything unusual shares one
// label instead of growing the label set without bound.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

// The path is client-controlled and percent-decoded: a %0a in it must not start a forged line in
// text logs. Control characters are written as \xNN.
std::string EscapeForLog(std::string_view text) {
  auto is_control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::none_of(text.begin(), text.end(), is_control)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (unsigned char c : text) {
    if (is_control(c)) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

struct ConnState {
  beast::tcp_stream* stream = nullptr;
  asio::strand<asio::io_context::executor_type> strand;
  bool busy = false;  // touched only on the strand
};

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  const Router& router;
  Logger logger;
  MetricsRegistry& metrics;

  asio::io_context io;
  // The accept loop and Stop's close of the acceptor run here: an acceptor must not be closed
  // while another thread starts an accept on it.
  asio::strand<asio::io_context::executor_type> accept_strand = asio::make_strand(io);
  std::optional<tcp::acceptor> acceptor;
  std::unique_ptr<asio::thread_pool> workers;
  std::vector<std::thread> threads;
  std::optional<asio::signal_set> signals;
  uint16_t bound_port = 0;

  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  uint64_t next_conn = 0;
  std::unordered_map<uint64_t, std::shared_ptr<ConnState>> conns;  // guarded by mu

  Counter& connections_total;
  Gauge& connections_open;

  Impl(HttpServerOptions o, const Router& r, Logger l, MetricsRegistry& m)
      : options(std::move(o)),
        router(r),
        logger(std::move(l)),
        metrics(m),
        connections_total(
            m.GetCounter("ventros_http_connections_total", "HTTP connections accepted")),
        connections_open(m.GetGauge("ventros_http_connections_open", "HTTP connections open")) {}

  awaitable<void> Accept() {
    std::chrono::milliseconds backoff{0};
    std::optional<std::chrono::steady_clock::time_point> last_log;
    int64_t unlogged_failures = 0;
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open() || stopping) co_return;
        backoff =
            backoff.count() == 0 ? kAcceptBackoffFirst : std::min(backoff * 2, kAcceptBackoffMax);
        auto now = std::chrono::steady_clock::now();
        if (!last_log || now - *last_log >= kAcceptLogInterval) {
          logger->warn(
              "accept failed: {}; retrying in {} ms ({} more failures since the last report)",
              ec.message(), backoff.count(), unlogged_failures);
          last_log = now;
          unlogged_failures = 0;
        } else {
          ++unlogged_failures;
        }
        asio::steady_timer pause(io, backoff);
        co_await pause.async_wait(kTuple);
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      if (stopping) co_return;
      auto strand = asio::make_strand(io);
      auto state = std::make_shared<ConnState>(ConnState{nullptr, strand, false});
      uint64_t id;
      {
        std::lock_guard lock(mu);
        id = next_conn++;
        conns.emplace(id, state);
      }
      connections_total.Inc();
      connections_open.Add(1);
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::string remote;
      auto ep = socket.remote_endpoint(ignored);
      if (!ignored) remote = fmt::format("{}:{}", ep.address().to_string(), ep.port());
      asio::co_spawn(strand, Session(std::move(socket), state, std::move(remote)),
                     [this, id](std::exception_ptr) { Forget(id); });
    }
  }

  void Forget(uint64_t id) {
    connections_open.Add(-1);
    std::lock_guard lock(mu);
    conns.erase(id);
    cv.notify_all();
  }

  static HttpRequest ToRequest(http::request<http::string_body>&& req, std::string remote) {
    HttpRequest out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    std::string_view target = out.target;
    size_t q = target.find('?');
    out.path = PercentDecode(target.substr(0, q), false);
    if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
    out.headers.reserve(8);
    for (const auto& f : req) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    out.body = std::move(req.body());
    out.remote_address = std::move(remote);
    return out;
  }

  awaitable<HttpResponse> Handle(HttpRequest& req, std::string& route_label) {
    auto match = router.Find(req.method, req.path);
    route_label = match.route ? match.route->pattern : "(unrouted)";
    if (!match.route) {
      if (match.path_matched) {
        auto r = HttpResponse::Error(405, "method_not_allowed",
                                     fmt::format("{} is not allowed on {}", req.method, req.path),
                                     req.request_id);
        std::string allow;
        for (const auto& m : match.allowed_methods) allow += (allow.empty() ? "" : ", ") + m;
        r.headers.emplace_back("Allow", allow);
        co_return r;
      }
      co_return HttpResponse::Error(404, "not_found", fmt::format("no route for {}", req.path),
                                    req.request_id);
    }
    req.path_params = std::move(match.params);
    const Route& route = *match.route;
    if (route.options.execution == Execution::kInline) co_return router.Dispatch(route, req);
    if (route.options.execution == Execution::kAsync) {
      // Suspends until the responder is called (on any thread); resumes on this strand.
      co_return co_await asio::async_initiate<decltype(use_awaitable), void(HttpResponse)>(
          [&](auto handler) {
            auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
            router.DispatchAsync(route, req, [waiting](HttpResponse res) {
              auto executor = asio::get_associated_executor(*waiting);
              asio::post(executor,
                         [waiting, res = std::move(res)]() mutable { (*waiting)(std::move(res)); });
            });
          },
          use_awaitable);
    }
    // Blocking work leaves the I/O thread; the coroutine resumes on its strand afterwards.
    co_return co_await asio::co_spawn(
        workers->get_executor(),
        [&]() -> awaitable<HttpResponse> { co_return router.Dispatch(route, req); }, use_awaitable);
  }

  void Record(const std::string& route, const HttpRequest& req, const HttpResponse& res,
              double seconds) {
    std::string status = std::to_string(res.status);
    metrics
        .GetCounter("ventros_http_requests_total", "HTTP requests by route and status",
                    {{"method", std::string(MethodLabel(req.method))},
                     {"route", route},
                     {"status", status}})
        .Inc();
    metrics
        .GetHistogram("ventros_http_request_duration_seconds", "HTTP request latency by route",
                      MetricsRegistry::LatencyBuckets(), {{"route", route}})
        .Observe(seconds);
    if (options.log_requests || res.status >= 500) {
      auto level = res.status >= 500 ? spdlog::level::err : spdlog::level::info;
      std::string path = EscapeForLog(req.path);
      if (res.log_detail.empty()) {
        logger->log(level, "request_id={} method={} path={} status={} duration_ms={:.3f}",
                    req.request_id, req.method, path, res.status, seconds * 1000);
      } else {
        logger->log(level, "request_id={} method={} path={} status={} duration_ms={:.3f} error={}",
                    req.request_id, req.method, path, res.status, seconds * 1000, res.log_detail);
      }
    }
  }

  template <typename Stream>
  awaitable<bool> Write(Stream& stream, const HttpResponse& res, const std::string& request_id,
                        unsigned version, bool keep_alive) {
    http::response<http::string_body> out{static_cast<http::status>(res.status), version};
    out.set(http::field::server, "ventros");
    if (!res.content_type.empty()) out.set(http::field::content_type, res.content_type);
    out.set("X-Request-Id", request_id);
    for (const auto& [k, v] : res.headers) out.set(k, v);
    out.body() = res.body;
    out.keep_alive(keep_alive);
    out.prepare_payload();
    stream.expires_after(options.read_timeout);
    auto [ec, n] = co_await http::async_write(stream, out, kTuple);
    co_return !ec;
  }

  // After answering a request we did not read whole (413, 400), the client may still be sending.
  // Closing at once would reset the connection and the client might never see the answer, so
  // stop sending and discard what still arrives, within bounds, before closing.
  awaitable<void> LingeringClose(beast::tcp_stream& stream) {
    constexpr size_t kMaxDrainBytes = 16 * 1024 * 1024;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16384> scratch;
    size_t drained = 0;
    while (drained < kMaxDrainBytes) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  awaitable<void> Session(tcp::socket socket, std::shared_ptr<ConnState> state,
                          std::string remote) {
    beast::tcp_stream stream(std::move(socket));
    state->stream = &stream;
    beast::flat_buffer buffer;
    for (;;) {
      state->busy = false;
      if (stopping) break;
      http::request_parser<http::string_body> parser;
      parser.body_limit(options.body_limit_bytes);
      parser.header_limit(kMaxHeaderBytes);
      stream.expires_after(options.read_timeout);
      if (buffer.size() == 0) {
        // Idle until the first byte of the next request: only this wait may be cancelled by a
        // graceful stop. Once a byte arrived, the request is in flight and gets its answer.
        auto [first_ec, first_n] =
            co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), kTuple);
        if (first_ec) break;  // closed by the client, idle timeout, or stopping
        buffer.commit(first_n);
      }
      state->busy = true;
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
          ec == beast::error::timeout || ec == asio::error::connection_reset ||
          ec == asio::error::eof) {
        break;
      }
      auto start = std::chrono::steady_clock::now();
      if (ec) {
        // The request could not be read: answer once and close the connection.
        std::string rid = NewUuidV7();
        HttpRequest partial;
        partial.method = parser.is_header_done() ? std::string(parser.get().method_string()) : "?";
        partial.path = parser.is_header_done() ? std::string(parser.get().target()) : "?";
        partial.request_id = rid;
        HttpResponse res;
        if (ec == http::error::body_limit) {
          res = HttpResponse::Error(
              413, "payload_too_large",
              fmt::format("request body exceeds the limit of {} bytes", options.body_limit_bytes),
              rid);
        } else if (ec == http::error::header_limit) {
          res = HttpResponse::Error(431, "headers_too_large", "request headers are too large", rid);
        } else {
          res = HttpResponse::Error(400, "bad_request",
                                    fmt::format("malformed HTTP request: {}", ec.message()), rid);
        }
        Record("(unrouted)", partial, res,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (co_await Write(stream, res, rid, 11, false)) co_await LingeringClose(stream);
        break;
      }
      auto raw = parser.release();
      unsigned version = raw.version();
      bool keep_alive = raw.keep_alive();
      HttpRequest req = ToRequest(std::move(raw), remote);
      std::string given = req.Header("X-Request-Id");
      req.request_id = ValidRequestId(given) ? given : NewUuidV7();

      std::string route_label;
      HttpResponse res = co_await Handle(req, route_label);
      Record(route_label, req, res,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      bool keep = keep_alive && !stopping;
      if (!co_await Write(stream, res, req.request_id, version, keep)) break;
      if (!keep) break;
    }
    state->stream = nullptr;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }
};

HttpServer::HttpServer(HttpServerOptions options, const Router& router, Logger logger,
                       MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, std::move(logger), metrics)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  Impl& s = *impl_;
  boost::system::error_code ec;
  auto address =
      asio::ip::make_address(s.options.host == "localhost" ? "127.0.0.1" : s.options.host, ec);
  if (ec) {
    return Status::InvalidArgument(fmt::format("invalid listen host '{}'", s.options.host));
  }
  tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.emplace(s.io);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable(
        fmt::format("cannot listen on {}:{}: {}", s.options.host, s.options.port, ec.message()));
  }
  s.bound_port = s.acceptor->local_endpoint().port();
  s.workers = std::make_unique<asio::thread_pool>(std::max(1, s.options.worker_threads));
  asio::co_spawn(s.accept_strand, s.Accept(), asio::detached);
  s.running = true;
  for (int i = 0; i < std::max(1, s.options.io_threads); ++i) {
    s.threads.emplace_back([&s] {
      NameThisThread("http-io");
      s.io.run();
    });
  }
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::StopOnSignals() {
  Impl& s = *impl_;
  s.signals.emplace(s.io, SIGINT, SIGTERM);
  s.signals->async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    impl_->logger->info("received signal {}, stopping", sig);
    // A second signal means the operator does not want to wait for the grace period.
    impl_->signals->async_wait([this](const boost::system::error_code& again, int sig2) {
      if (again) return;
      impl_->logger->error("received signal {} again while stopping; exiting now", sig2);
      impl_->logger->flush();
      std::_Exit(1);
    });
    // Stop joins the I/O threads, so it must not run on one of them.
    std::thread([this] { Stop(); }).detach();
  });
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (!s.running.exchange(false)) {
    // Not running (or another thread is stopping it): wait until it is fully stopped.
    std::unique_lock lock(s.mu);
    s.cv.wait(lock, [&] { return s.stopped || s.threads.empty(); });
    return;
  }
  s.stopping = true;
  // Close the listening socket before going on, so no connection is accepted once Stop returns
  // (with io.stop() below, a merely posted close might never run). Signals stay armed: a second
  // SIGTERM/SIGINT during the grace period exits at once.
  std::promise<void> acceptor_closed;
  asio::post(s.accept_strand, [&s, &acceptor_closed] {
    boost::system::error_code ignored;
    if (s.acceptor) s.acceptor->close(ignored);
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();
  // Close idle connections (no byte of a next request yet); busy ones close after writing their
  // response.
  {
    std::lock_guard lock(s.mu);
    for (auto& [id, state] : s.conns) {
      asio::post(state->strand, [state] {
        if (!state->busy && state->stream) state->stream->cancel();
      });
    }
  }
  {
    std::unique_lock lock(s.mu);
    bool drained = s.cv.wait_for(lock, s.options.shutdown_grace, [&] { return s.conns.empty(); });
    if (!drained) {
      s.logger->warn("{} connections still open after the {} ms grace period; closing them",
                     s.conns.size(), s.options.shutdown_grace.count());
    }
  }
  s.io.stop();
  for (auto& t : s.threads) {
    if (t.joinable()) t.join();
  }
  if (s.workers) s.workers->join();
  {
    std::lock_guard lock(s.mu);
    s.threads.clear();
    s.stopped = true;
    s.cv.notify_all();
  }
}

void HttpServer::Wait() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  s.cv.wait(lock, [&] { return s.stopped; });
}

int HttpServer::active_connections() const {
  std::lock_guard lock(impl_->mu);
  return static_cast<int>(impl_->conns.size());
}

}  // namespace ventros::core
