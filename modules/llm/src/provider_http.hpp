#pragma once
// What the hosted model clients of this module share: a JSON POST with bounded retries and the
// mapping of provider answers to the error model of embedder.hpp. Private to modules/llm; include
// only from its .cpp files.
//
// Retries are ours, not HttpClient's: requests go out with `retry = false` (one attempt each) so
// that `max_attempts` of the options is the real number of attempts per call, 500 is retried too
// (the client only retries 429/502/503/504), and the attempts never multiply.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ventros/core/http_client.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/status.hpp"

namespace ventros::llm::internal {

namespace json = core::json;
using core::Result;
using core::Status;
using core::StatusCode;
using std::chrono::milliseconds;

using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr milliseconds kInitialBackoff{500};
inline constexpr double kBackoffMultiplier = 2.0;
inline constexpr milliseconds kMaxBackoff{8000};
inline constexpr double kJitterFraction = 0.2;  // +/-20%: callers failing together spread out
// A Retry-After longer than this is not waited for: the call fails at once as Unavailable and
// its caller (a background worker) decides when to come back.
inline constexpr milliseconds kMaxRetryAfter{30000};
inline constexpr size_t kMaxErrorText = 300;  // bytes of a provider's answer quoted in a Status

// "https://host/v1/" -> "https://host/v1".
inline std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// base + version + path, without doubling the version when the base already ends in it
// ("http://127.0.0.1:11434/v1" and "http://127.0.0.1:11434" both work).
inline std::string JoinVersioned(const std::string& base, std::string_view version,
                                 std::string_view path) {
  std::string url = TrimTrailingSlashes(base);
  if (!url.ends_with(version)) url += version;
  url += path;
  return url;
}

// At most `max_bytes` of `text`, never cut inside a UTF-8 sequence; a cut is marked with "...".
inline std::string Truncate(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  text += "...";
  return text;
}

// Every occurrence of `secret` in `text` replaced: some providers echo the key they refused.
inline std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  constexpr std::string_view kMark = "[redacted]";
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + kMark.size())) {
    text.replace(at, secret.size(), kMark);
  }
  return text;
}

// The provider's own words from an error answer: {"error":{"message"}} (Google, OpenAI),
// {"error":"..."} (Ollama, llama.cpp), {"detail":...} (Jina and other FastAPI servers),
// {"message":"..."} (Cohere); otherwise the body itself.
inline std::string ProviderErrorText(std::string_view body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const json::object& root = parsed.as_object();
    const json::value* error = root.if_contains("error");
    if (error && error->is_object()) {
      const json::value* message = error->as_object().if_contains("message");
      if (message && message->is_string()) return std::string(message->as_string());
    }
    if (error && error->is_string()) return std::string(error->as_string());
    if (const json::value* detail = root.if_contains("detail")) {
      return detail->is_string() ? std::string(detail->as_string()) : json::serialize(*detail);
    }
    const json::value* message = root.if_contains("message");
    if (message && message->is_string()) return std::string(message->as_string());
  }
  return std::string(body);
}

// Retry-After in delta-seconds; HTTP dates are ignored (the backoff applies instead).
inline std::optional<milliseconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || ec == std::errc::invalid_argument || end != value.data() + value.size() ||
      seconds < 0) {
    return std::nullopt;
  }
  constexpr int64_t kMillisPerSecond = 1000;
  if (ec == std::errc::result_out_of_range || seconds > kMaxRetryAfter.count() / kMillisPerSecond) {
    return kMaxRetryAfter + milliseconds(1);  // longer than we wait
  }
  return milliseconds(seconds * kMillisPerSecond);
}

inline bool IsRetryableStatus(int status) {
  return status == 408 || status == 429 || status >= 500;
}

struct PosterSettings {
  std::string label;   // "gemini/text-embedding-004": starts every error message
  std::string secret;  // the API key: redacted from every error message
  milliseconds timeout{30000};
  int max_attempts = 3;
  std::function<void(milliseconds)> sleep;  // empty = std::this_thread::sleep_for
};

// POSTs JSON to one provider with bounded retries. Thread-safe; `http` must outlive it.
class JsonPoster {
 public:
  JsonPoster(core::HttpClient& http, PosterSettings settings)
      : http_(http), settings_(std::move(settings)), rng_(std::random_device{}()) {}

  const std::string& label() const { return settings_.label; }

  // The JSON object of a 2xx answer to `body` POSTed to `url`. Transport errors, 408, 429 and 5xx
  // are retried up to max_attempts, then Unavailable; other 4xx: InvalidArgument quoting the
  // provider; an answer that is not a JSON object: Internal.
  Result<json::object> Post(const std::string& url, Headers headers, std::string body) {
    headers.emplace_back("Content-Type", "application/json");
    headers.emplace_back("Accept", "application/json");
    const core::HttpClientRequest request{.method = "POST",
                                          .url = url,
                                          .headers = std::move(headers),
                                          .body = std::move(body),
                                          .timeout = settings_.timeout,
                                          .retry = false};
    for (int attempt = 1;; ++attempt) {
      Result<core::HttpClientResponse> response = http_.Send(request);
      std::string failure;
      std::optional<milliseconds> retry_after;
      if (!response.ok()) {
        // Only transport failures are worth another attempt; a bad URL stays bad.
        if (response.status().code() != StatusCode::kUnavailable) {
          return Error(response.status().code(), response.status().message());
        }
        failure = response.status().message();
      } else if (response->status >= 200 && response->status < 300) {
        return ParseObject(response->body);
      } else if (IsRetryableStatus(response->status)) {
        failure = DescribeAnswer(*response);
        retry_after = ParseRetryAfter(response->Header("Retry-After"));
        if (retry_after && *retry_after > kMaxRetryAfter) {
          return Error(
              StatusCode::kUnavailable,
              fmt::format(
                  "{} (asks to retry after more than {} s)", failure,
                  std::chrono::duration_cast<std::chrono::seconds>(kMaxRetryAfter).count()));
        }
      } else if (response->status >= 400) {
        std::string message = DescribeAnswer(*response);
        if (response->status == 401 || response->status == 403) message += " (check the API key)";
        return Error(StatusCode::kInvalidArgument, std::move(message));
      } else {
        return Error(StatusCode::kInternal,
                     fmt::format("unexpected HTTP status {}", response->status));
      }
      if (attempt >= settings_.max_attempts) {
        return Error(StatusCode::kUnavailable, fmt::format("{} (after {} attempt{})", failure,
                                                           attempt, attempt == 1 ? "" : "s"));
      }
      Sleep(retry_after.value_or(Backoff(attempt - 1)));
    }
  }

  // Internal: "{label}: malformed answer: {what}".
  Status Malformed(std::string_view what) const {
    return Error(StatusCode::kInternal, fmt::format("malformed answer: {}", what));
  }

  // "{label}: {message}" with the secret redacted.
  Status Error(StatusCode code, std::string_view message) const {
    return Status(code, Redact(fmt::format("{}: {}", settings_.label, message), settings_.secret));
  }

 private:
  static std::string DescribeAnswer(const core::HttpClientResponse& response) {
    const std::string text = Truncate(ProviderErrorText(response.body), kMaxErrorText);
    if (text.empty()) return fmt::format("HTTP {}", response.status);
    return fmt::format("HTTP {}: {}", response.status, text);
  }

  Result<json::object> ParseObject(const std::string& body) const {
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec) {
      return Malformed(
          fmt::format("not JSON ({}): {}", ec.message(), Truncate(body, kMaxErrorText)));
    }
    if (!parsed.is_object()) return Malformed("not a JSON object");
    return std::move(parsed.as_object());
  }

  // kInitialBackoff * kBackoffMultiplier^retry, capped at kMaxBackoff, with jitter.
  milliseconds Backoff(int retry) {
    const double cap = static_cast<double>(kMaxBackoff.count());
    const double base = std::min(
        cap, static_cast<double>(kInitialBackoff.count()) * std::pow(kBackoffMultiplier, retry));
    double factor = 1.0;
    {
      std::lock_guard lock(rng_mutex_);
      factor = std::uniform_real_distribution<double>(1.0 - kJitterFraction,
                                                      1.0 + kJitterFraction)(rng_);
    }
    return milliseconds(std::llround(base * factor));
  }

  void Sleep(milliseconds delay) const {
    if (settings_.sleep) {
      settings_.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }

  core::HttpClient& http_;
  const PosterSettings settings_;
  std::mutex rng_mutex_;
  std::minstd_rand rng_;  // guarded by rng_mutex_
};

}  // namespace ventros::llm::internal
