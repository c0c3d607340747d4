#pragma once
// HTTP/1.1 server on Boost.Beast (kept out of this header): coroutine sessions, a strand per
// connection, read timeouts, body limits, request ids, JSON errors, metrics per route, and a
// graceful stop that lets in-flight requests finish. Blocking routes run on a worker pool, never
// on the I/O threads.
//
// Thread-safety: Start/Stop/Wait may be called from any thread; the Router must not change after
// Start.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ventros/core/http.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"

namespace ventros::core {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: pick a free port
  int io_threads = 2;
  int worker_threads = 8;
  size_t body_limit_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds shutdown_grace{10000};
  bool log_requests = true;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, const Router& router, Logger logger,
             MetricsRegistry& metrics);
  ~HttpServer();  // stops if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O and worker threads.
  Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const;
  // Stops on SIGINT/SIGTERM (call before Start).
  void StopOnSignals();
  // Graceful stop: no new connections; in-flight requests finish (up to shutdown_grace); idle
  // keep-alive connections are closed. Returns when every thread has joined.
  void Stop();
  // Blocks until the server stopped (by Stop or a signal).
  void Wait();
  // Connections open right now.
  int active_connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ventros::core
