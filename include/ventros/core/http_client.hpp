#pragma once
// Blocking HTTP/1.1 client for outside services (WAHA, LLM, embedding and rerank providers).
// http:// and https:// (OpenSSL, certificate and host name verified), per-request timeouts,
// retries with exponential backoff and jitter, keep-alive connections reused per host.
//
// Thread-safety: one HttpClient may be shared by many threads; Send() blocks the caller (never
// call it on an HTTP server I/O thread). Asio/Beast stay inside http_client.cpp.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // whole exchange, per attempt
  int max_retries = 2;                               // attempts = 1 + max_retries
  std::chrono::milliseconds initial_backoff{200};
  double backoff_multiplier = 2.0;
  std::chrono::milliseconds max_backoff{5000};
  int max_idle_per_host = 4;
  std::chrono::milliseconds idle_timeout{30000};  // idle keep-alive connections are dropped after
  bool verify_tls = true;
  std::string ca_file;  // extra CA bundle (PEM); empty = system default paths
  std::string user_agent = "ventros/0.1";
  size_t max_response_bytes = 64 * 1024 * 1024;
  // Sleeps between retries; tests replace it so they never wait for real time.
  std::function<void(std::chrono::milliseconds)> sleep;
};

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // overrides request_timeout
  // Retry on transport errors, 429 and 502/503/504. Defaults to true for GET/HEAD/PUT/DELETE and
  // false for POST/PATCH unless set (a POST carrying an idempotency key may set it).
  std::optional<bool> retry;
};

struct HttpClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int attempts = 1;
  // Case-insensitive header lookup; empty when absent.
  std::string Header(std::string_view name) const;
};

struct HttpClientStats {
  int64_t requests = 0;
  int64_t retries = 0;
  int64_t connections_opened = 0;
  int64_t connections_reused = 0;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // A response with any HTTP status is a success; errors are transport failures
  // (Unavailable: connect refused, timeout, TLS failure, reset) or a bad URL (InvalidArgument).
  // When retries are exhausted on a retryable status, the last response is returned.
  Result<HttpClientResponse> Send(const HttpClientRequest& request);
  HttpClientStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ventros::core
