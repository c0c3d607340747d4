#include "ventros/waha/gateway.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <utility>

#include "ventros/core/http_client.hpp"
#include "ventros/core/json.hpp"

namespace ventros::waha {
namespace {

namespace json = core::json;
using core::HttpClientRequest;
using core::HttpClientResponse;
using core::Result;
using core::Status;
using core::StatusCode;

constexpr size_t kMaxErrorSnippet = 200;  // characters of a WAHA error body quoted in a Status

std::string TrimTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// RFC 3986 unreserved characters stay; everything else ('@' in a lid, spaces...) is %XX.
std::string PercentEncode(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

// "scheme://authority" of an absolute URL, lower-cased; empty when `url` is not absolute.
std::string Origin(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const size_t path_start = url.find_first_of("/?#", scheme_end + 3);
  std::string origin(url.substr(0, path_start));
  std::transform(origin.begin(), origin.end(), origin.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return origin;
}

// The rest of an absolute URL after its origin ("/api/files/x.jpg?y"); `url` itself otherwise.
std::string_view PathAndQuery(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return url;
  const size_t path_start = url.find_first_of("/?#", scheme_end + 3);
  return path_start == std::string_view::npos ? std::string_view{} : url.substr(path_start);
}

// WAHA errors are NestJS-shaped: {"message": "..." | ["...", ...], "statusCode": N}.
std::string ErrorSnippet(const std::string& body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  std::string text;
  if (!ec && parsed.is_object()) {
    const json::value* message = parsed.as_object().if_contains("message");
    if (message && message->is_string()) {
      text = std::string(message->as_string());
    } else if (message && message->is_array()) {
      for (const json::value& item : message->as_array()) {
        if (!item.is_string()) continue;
        if (!text.empty()) text += "; ";
        text += std::string(item.as_string());
      }
    }
  }
  if (text.empty()) text = body;
  if (text.size() > kMaxErrorSnippet) text = text.substr(0, kMaxErrorSnippet) + "...";
  return text;
}

// Maps a non-2xx WAHA answer to the shared error model (see gateway.hpp).
Status StatusFromResponse(std::string_view what, const HttpClientResponse& response) {
  std::string message = "WAHA " + std::string(what) + ": HTTP " + std::to_string(response.status);
  const std::string snippet = ErrorSnippet(response.body);
  if (!snippet.empty()) message += ": " + snippet;
  const int s = response.status;
  if (s == 401 || s == 403) return Status::PermissionDenied(message + " (check the WAHA API key)");
  if (s == 408 || s == 422 || s == 429 || s >= 500) return Status::Unavailable(message);
  if (s >= 400) return Status::InvalidArgument(message);
  return Status::Internal(message + " (unexpected status)");
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

// HttpClient reports every transport failure as Unavailable; only its message tells whether the
// request could have reached WAHA. These causes all happen before a byte of the request is
// written, so WAHA certainly did not act on it. Anything else (timeout, reset, EOF while waiting
// for the answer) may have happened after WAHA accepted the message.
bool FailedBeforeSending(const Status& status) {
  if (status.code() != StatusCode::kUnavailable) return true;  // bad URL and the like
  static constexpr std::array<std::string_view, 7> kBeforeSending = {
      "connection refused",   "cannot resolve host",        "connect timeout",
      "tls handshake failed", "cannot set tls server name", "network is unreachable",
      "no route to host",
  };
  std::string lower = status.message();
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(kBeforeSending.begin(), kBeforeSending.end(), [&](std::string_view cause) {
    return lower.find(cause) != std::string::npos;
  });
}

// The message id in a sendText answer; the shape depends on the engine (see docs/waha.md).
std::string ExtractMessageId(const std::string& body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return {};
  const json::object& root = parsed.as_object();
  if (const json::value* id = root.if_contains("id")) {
    if (id->is_string()) return std::string(id->as_string());
    if (id->is_object()) {
      const json::value* serialized = id->as_object().if_contains("_serialized");
      if (serialized && serialized->is_string()) return std::string(serialized->as_string());
    }
  }
  if (const json::value* key = root.if_contains("key"); key && key->is_object()) {
    const json::value* id = key->as_object().if_contains("id");
    if (id && id->is_string()) return std::string(id->as_string());
  }
  return {};
}

HttpClientRequest JsonPost(const WahaTarget& target, const std::string& path, std::string body,
                           std::optional<std::chrono::milliseconds> timeout) {
  HttpClientRequest request;
  request.method = "POST";
  request.url = TrimTrailingSlashes(target.base_url) + path;
  request.headers = {{"X-Api-Key", target.api_key},
                     {"Content-Type", "application/json"},
                     {"Accept", "application/json"}};
  request.body = std::move(body);
  request.timeout = timeout;
  request.retry = false;  // the caller owns retries of anything that may act twice
  return request;
}

std::string SessionChatBody(const WahaTarget& target, const std::string& chat_id) {
  json::object body;
  body["session"] = target.session;
  body["chatId"] = chat_id;
  return json::serialize(body);
}

}  // namespace

WahaHttpGateway::WahaHttpGateway(core::HttpClient& client, Options options)
    : client_(client), options_(std::move(options)) {}

Result<SendOutcome> WahaHttpGateway::SendText(const WahaTarget& target,
                                              const SendTextRequest& request) {
  json::object body;
  body["session"] = target.session;
  body["chatId"] = request.chat_id;
  body["text"] = request.text;
  if (request.reply_to) body["reply_to"] = *request.reply_to;
  if (request.link_preview) body["linkPreview"] = *request.link_preview;

  auto response =
      client_.Send(JsonPost(target, "/api/sendText", json::serialize(body), options_.timeout));
  if (!response.ok()) {
    if (FailedBeforeSending(response.status())) {
      return response.status().WithContext("WAHA sendText not sent");
    }
    return SendOutcome{.kind = SendOutcome::kUnknown,
                       .waha_message_id = {},
                       .http_status = 0,
                       .detail = response.status().message()};
  }
  if (!IsSuccess(response->status)) return StatusFromResponse("sendText", *response);
  return SendOutcome{.kind = SendOutcome::kSent,
                     .waha_message_id = ExtractMessageId(response->body),
                     .http_status = response->status,
                     .detail = {}};
}

Status WahaHttpGateway::PostSimple(const WahaTarget& target, const std::string& path,
                                   const std::string& body) {
  auto response = client_.Send(JsonPost(target, path, body, options_.timeout));
  if (!response.ok()) return response.status().WithContext("WAHA " + path);
  if (!IsSuccess(response->status)) return StatusFromResponse(path, *response);
  return Status::Ok();
}

Status WahaHttpGateway::SendSeen(const WahaTarget& target, const std::string& chat_id,
                                 const std::vector<std::string>& message_ids) {
  json::object body;
  body["session"] = target.session;
  body["chatId"] = chat_id;
  if (!message_ids.empty()) {
    json::array ids;
    for (const std::string& id : message_ids) ids.emplace_back(id);
    body["messageIds"] = std::move(ids);
  }
  return PostSimple(target, "/api/sendSeen", json::serialize(body));
}

Status WahaHttpGateway::StartTyping(const WahaTarget& target, const std::string& chat_id) {
  return PostSimple(target, "/api/startTyping", SessionChatBody(target, chat_id));
}

Status WahaHttpGateway::StopTyping(const WahaTarget& target, const std::string& chat_id) {
  return PostSimple(target, "/api/stopTyping", SessionChatBody(target, chat_id));
}

std::string WahaHttpGateway::ResolveMediaUrl(const WahaTarget& target,
                                             const std::string& url) const {
  const std::string base = TrimTrailingSlashes(options_.media_base_url_override.empty()
                                                   ? target.base_url
                                                   : options_.media_base_url_override);
  const std::string origin = Origin(url);
  const bool absolute = !origin.empty();
  // WAHA reports its files on its own loopback address (http://localhost:3000/api/files/...),
  // which is not where we reach it: such URLs go to the channel's WAHA URL instead.
  const bool loopback = origin.find("://localhost") != std::string::npos ||
                        origin.find("://127.0.0.1") != std::string::npos ||
                        origin.find("://0.0.0.0") != std::string::npos ||
                        origin.find("://[::1]") != std::string::npos;
  if (absolute && options_.media_base_url_override.empty() &&
      (!loopback || origin == Origin(target.base_url))) {
    return url;
  }
  std::string path(PathAndQuery(url));
  if (!path.empty() && path.front() != '/') path.insert(path.begin(), '/');
  return base + path;
}

Result<std::string> WahaHttpGateway::DownloadMedia(const WahaTarget& target, const std::string& url,
                                                   size_t max_bytes) {
  const std::string resolved = ResolveMediaUrl(target, url);
  HttpClientRequest request;
  request.method = "GET";
  request.url = resolved;
  request.timeout = options_.timeout;
  // The URL comes from a webhook payload: the API key only goes to hosts we know to be WAHA, so a
  // forged payload cannot make us hand it to someone else.
  const std::string origin = Origin(resolved);
  if (origin == Origin(target.base_url) || (!options_.media_base_url_override.empty() &&
                                            origin == Origin(options_.media_base_url_override))) {
    request.headers.emplace_back("X-Api-Key", target.api_key);
  }
  auto response = client_.Send(request);
  if (!response.ok()) {
    const Status& status = response.status();
    if (status.message().find("exceeds max_response_bytes") != std::string::npos) {
      return Status::InvalidArgument("WAHA media " + resolved +
                                     " exceeds the HTTP client's max_response_bytes (limit " +
                                     std::to_string(max_bytes) + " bytes requested)");
    }
    return status.WithContext("WAHA media download");
  }
  if (response->status == 404) {
    return Status::NotFound("WAHA media " + resolved +
                            " not found (WAHA deletes downloaded files after a while)");
  }
  if (!IsSuccess(response->status)) return StatusFromResponse("media " + resolved, *response);
  if (response->body.size() > max_bytes) {
    return Status::InvalidArgument(
        "WAHA media " + resolved + " is " + std::to_string(response->body.size()) +
        " bytes, over the limit of " + std::to_string(max_bytes) + " bytes");
  }
  return std::move(response->body);
}

Result<std::optional<std::string>> WahaHttpGateway::GetLidMapping(const WahaTarget& target,
                                                                  const std::string& lid) {
  HttpClientRequest request;
  request.method = "GET";
  request.url = TrimTrailingSlashes(target.base_url) + "/api/" + PercentEncode(target.session) +
                "/lids/" + PercentEncode(lid);
  request.headers = {{"X-Api-Key", target.api_key}, {"Accept", "application/json"}};
  request.timeout = options_.timeout;
  auto response = client_.Send(request);
  if (!response.ok()) return response.status().WithContext("WAHA lids");
  if (!IsSuccess(response->status)) return StatusFromResponse("lids " + lid, *response);

  boost::system::error_code ec;
  const json::value parsed = json::parse(response->body, ec);
  if (ec || !parsed.is_object()) {
    return Status::Internal("WAHA lids " + lid + ": response is not a JSON object");
  }
  const json::value* pn = parsed.as_object().if_contains("pn");
  if (!pn || pn->is_null()) return std::optional<std::string>{};
  if (!pn->is_string()) return Status::Internal("WAHA lids " + lid + ": 'pn' is not a string");
  std::string phone(pn->as_string());
  if (phone.empty()) return std::optional<std::string>{};
  // Engines speak @s.whatsapp.net internally; the rest of the CRM uses WAHA's @c.us form.
  constexpr std::string_view kJidSuffix = "@s.whatsapp.net";
  if (phone.size() > kJidSuffix.size() &&
      phone.compare(phone.size() - kJidSuffix.size(), kJidSuffix.size(), kJidSuffix) == 0) {
    phone.replace(phone.size() - kJidSuffix.size(), kJidSuffix.size(), "@c.us");
  }
  return std::optional<std::string>(std::move(phone));
}

}  // namespace ventros::waha
