#pragma once
// The outbound side of the WAHA integration: sending text, read receipts and typing indicators,
// downloading media and resolving @lid ids. Services depend on the abstract WahaGateway so tests
// can hand them a fake; WahaHttpGateway is the real one, on top of core::HttpClient.
//
// Error model shared by every call:
//   401/403                      -> PermissionDenied (wrong API key; permanent)
//   400/404 and other 4xx        -> InvalidArgument (the request is wrong; permanent)
//   408/422/429/5xx, refused     -> Unavailable (WAHA did not accept it; retry with backoff)
//   timeout or connection lost after the request was written
//                                -> SendText: OK with SendOutcome::kUnknown; others: Unavailable
//
// Sends are never retried here (HttpClientRequest::retry = false): only the caller knows whether a
// resend is safe, and after kUnknown it is not (WAHA may have sent the message).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {
class HttpClient;
}

namespace ventros::waha {

// Where one WAHA session lives and how to authenticate to it.
struct WahaTarget {
  std::string
      base_url;  // "http://waha:3000" (a path prefix is allowed; a trailing '/' is not needed)
  std::string api_key;  // sent as X-Api-Key on every call
  std::string session = "default";
};

struct SendTextRequest {
  std::string chat_id;  // "5511987654321@c.us", "...@g.us", "...@lid"
  std::string text;
  std::optional<std::string> reply_to;  // bare or full message id
  std::optional<bool> link_preview;     // omitted: WAHA's default
};

struct SendOutcome {
  enum Kind {
    kSent,     // WAHA answered 2xx
    kUnknown,  // timeout or connection lost after the request was written: reconcile via the
               // message.any echo (source "api"); do NOT resend blindly
  };
  Kind kind = kSent;
  // As found in the 2xx body: `id` (full "true_<chat>_<id>"), `id._serialized` (full) or
  // `key.id` (bare). Empty when the body carried none (or kind is kUnknown): match the echo.
  std::string waha_message_id;
  int http_status = 0;  // 0 when kUnknown
  std::string detail;   // kUnknown: the transport error, for logs
};

// Thread-safety: implementations must be safe to call from many threads at once. Every call
// blocks; never call on an HTTP server I/O thread.
class WahaGateway {
 public:
  virtual ~WahaGateway() = default;

  // POST /api/sendText {session, chatId, text, reply_to?, linkPreview?}.
  virtual core::Result<SendOutcome> SendText(const WahaTarget& target,
                                             const SendTextRequest& request) = 0;
  // POST /api/sendSeen {session, chatId, messageIds?}; messageIds omitted when empty.
  virtual core::Status SendSeen(const WahaTarget& target, const std::string& chat_id,
                                const std::vector<std::string>& message_ids) = 0;
  // POST /api/startTyping | /api/stopTyping {session, chatId}.
  virtual core::Status StartTyping(const WahaTarget& target, const std::string& chat_id) = 0;
  virtual core::Status StopTyping(const WahaTarget& target, const std::string& chat_id) = 0;
  // GET media.url. More than max_bytes -> InvalidArgument; 404 -> NotFound (WAHA deletes local
  // files after 180 s by default). WahaHttpGateway sends X-Api-Key only to the origin of
  // target.base_url or of the media override: the URL comes from a webhook payload.
  virtual core::Result<std::string> DownloadMedia(const WahaTarget& target, const std::string& url,
                                                  size_t max_bytes) = 0;
  // GET /api/{session}/lids/{lid}: the phone-number id ("5511...@c.us") behind a "...@lid", or
  // nullopt when WAHA does not know it (pn: null).
  virtual core::Result<std::optional<std::string>> GetLidMapping(const WahaTarget& target,
                                                                 const std::string& lid) = 0;
};

// WahaGateway over HTTP. Holds a reference to the client (which must outlive it) and its options;
// otherwise stateless, so one instance may serve every thread and every tenant.
class WahaHttpGateway final : public WahaGateway {
 public:
  struct Options {
    // When non-empty ("http://waha:3000"), replaces scheme://host:port of every media URL: WAHA
    // often reports http://localhost:3000, which is not where the CRM reaches it.
    std::string media_base_url_override;
    // Per-call timeout; nullopt = the client's request_timeout. Keep it above WAHA's 5 s wait for
    // the session, or healthy-but-slow sends turn into kUnknown.
    std::optional<std::chrono::milliseconds> timeout;
  };

  WahaHttpGateway(core::HttpClient& client, Options options);

  core::Result<SendOutcome> SendText(const WahaTarget& target,
                                     const SendTextRequest& request) override;
  core::Status SendSeen(const WahaTarget& target, const std::string& chat_id,
                        const std::vector<std::string>& message_ids) override;
  core::Status StartTyping(const WahaTarget& target, const std::string& chat_id) override;
  core::Status StopTyping(const WahaTarget& target, const std::string& chat_id) override;
  core::Result<std::string> DownloadMedia(const WahaTarget& target, const std::string& url,
                                          size_t max_bytes) override;
  core::Result<std::optional<std::string>> GetLidMapping(const WahaTarget& target,
                                                         const std::string& lid) override;

  // The URL DownloadMedia fetches: `url` with its origin replaced by media_base_url_override when
  // set; a path-only url ("/api/files/x") is resolved against the override or target.base_url.
  std::string ResolveMediaUrl(const WahaTarget& target, const std::string& url) const;

 private:
  core::Status PostSimple(const WahaTarget& target, const std::string& path,
                          const std::string& body);

  core::HttpClient& client_;
  Options options_;
};

}  // namespace ventros::waha
