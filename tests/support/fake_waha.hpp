#pragma once
// FakeWaha: a WAHA (WhatsApp HTTP API) server on 127.0.0.1, port 0, speaking the real wire format,
// for hermetic tests of anything that calls WAHA.
//
//   FakeWaha waha;                                   // API key "test-waha-key", session "default"
//   WahaTarget target{waha.BaseUrl(), waha.api_key()};
//   waha.Enqueue("POST /api/sendText", FakeWaha::Json(422, R"({"message":"not WORKING"})"));
//   waha.Enqueue("POST /api/sendText", FakeReply::Hang());   // then: never answers, once
//   ... code under test ...
//   auto sends = waha.Calls("POST", "/api/sendText");      // path, headers, parsed JSON body
//   CHECK(sends[0].json.at("chatId") == "5511987654321@c.us");
//
// Default behaviour (when no scripted reply is queued for the endpoint):
//   * every request without the right X-Api-Key -> 401 {"message":"Unauthorized","statusCode":401}
//     (checked before scripted replies, as WAHA does);
//   * POST /api/sendText -> 201 with a GOWS-like message: {"id":"true_<chatId>_<hex>", ...}; the
//     id is also recorded in WahaCall::reply_body and in SentIds();
//   * POST /api/sendSeen, /api/startTyping, /api/stopTyping -> 201 {};
//   * GET /api/files/<name> -> the bytes given to PutFile(), else 404;
//   * GET /api/{session}/lids/{lid} -> 200 {"lid": lid, "pn": <SetLid() value or null>};
//   * anything else -> 404 in NestJS form.
// Scripted replies: Enqueue("METHOD /path", reply) queues FakeReply values per endpoint (status +
// body, Hang(), Close()); each is used once, in order. A key ending in '*' matches by prefix
// ("GET /api/files/*").
//
// Thread-safety: the server answers on its own thread; every public member may be called from the
// test thread at any time. The object owns its server and stops it in its destructor.

#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"

namespace ventros::testing {

// One request WAHA received, with what the fake answered.
struct WahaCall {
  std::string method;
  std::string path;   // without the query string, still percent-encoded
  std::string query;  // after '?', empty when none
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  boost::json::value json;  // the parsed body; null when empty or not JSON
  int reply_status = 0;     // 0 when the fake hung up or never answered
  std::string reply_body;

  std::string Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (FakeRequest::EqualsIgnoreCase(key, name)) return value;
    }
    return {};
  }
  // A string field of the JSON body; empty when absent or not a string.
  std::string JsonString(std::string_view field) const {
    if (!json.is_object()) return {};
    const boost::json::value* value = json.as_object().if_contains(field);
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
  }
};

class FakeWaha {
 public:
  static constexpr std::string_view kDefaultApiKey = "test-waha-key";
  static constexpr std::string_view kMe = "5511900000000@c.us";  // the session's own number

  explicit FakeWaha(std::string api_key = std::string(kDefaultApiKey))
      : api_key_(std::move(api_key)),
        server_([this](const FakeRequest& request) { return Handle(request); }) {}

  FakeWaha(const FakeWaha&) = delete;
  FakeWaha& operator=(const FakeWaha&) = delete;

  const std::string& api_key() const { return api_key_; }
  uint16_t port() const { return server_.port(); }
  // "http://127.0.0.1:<port>": what the CRM is configured with.
  std::string BaseUrl(std::string_view host = "127.0.0.1") const { return server_.Url("", host); }
  // A media URL as WAHA reports it: by default on "localhost", which tests rewrite.
  std::string FileUrl(std::string_view name, std::string_view host = "localhost") const {
    return server_.Url("/api/files/" + std::string(name), host);
  }

  // A JSON reply with Content-Type application/json.
  static FakeReply Json(int status, std::string body) {
    return FakeReply{.status = status,
                     .headers = {{"Content-Type", "application/json; charset=utf-8"}},
                     .body = std::move(body)};
  }

  // Queues a one-shot reply for "METHOD /path" (or a "METHOD /prefix*" pattern).
  void Enqueue(std::string endpoint, FakeReply reply) {
    std::lock_guard lock(mutex_);
    scripted_[std::move(endpoint)].push_back(std::move(reply));
  }

  void PutFile(std::string name, std::string bytes,
               std::string content_type = "application/octet-stream") {
    std::lock_guard lock(mutex_);
    files_[std::move(name)] = {std::move(bytes), std::move(content_type)};
  }

  // What GET /api/{session}/lids/{lid} answers for `lid`; nullopt answers pn: null.
  void SetLid(std::string lid, std::optional<std::string> pn) {
    std::lock_guard lock(mutex_);
    lids_[std::move(lid)] = std::move(pn);
  }

  std::vector<WahaCall> Calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<WahaCall> Calls(std::string_view method, std::string_view path) const {
    std::lock_guard lock(mutex_);
    std::vector<WahaCall> out;
    for (const WahaCall& call : calls_) {
      if (call.method == method && call.path == path) out.push_back(call);
    }
    return out;
  }
  // Ids of the messages the fake reported as sent by default 201 answers, in order.
  std::vector<std::string> SentIds() const {
    std::lock_guard lock(mutex_);
    return sent_ids_;
  }
  void ClearCalls() {
    std::lock_guard lock(mutex_);
    calls_.clear();
  }

 private:
  struct File {
    std::string bytes;
    std::string content_type;
  };

  FakeReply Handle(const FakeRequest& request) {
    WahaCall call{.method = request.method, .headers = request.headers, .body = request.body};
    const size_t question = request.target.find('?');
    call.path = request.target.substr(0, question);
    if (question != std::string::npos) call.query = request.target.substr(question + 1);
    boost::system::error_code ec;
    if (!call.body.empty()) {
      call.json = boost::json::parse(call.body, ec);
      if (ec) call.json = nullptr;
    }

    std::lock_guard lock(mutex_);
    FakeReply reply = Decide(call);
    if (reply.action == FakeReply::Action::kRespond) {
      call.reply_status = reply.status;
      call.reply_body = reply.body;
    }
    calls_.push_back(std::move(call));
    return reply;
  }

  // mutex_ held.
  FakeReply Decide(const WahaCall& call) {
    if (call.Header("X-Api-Key") != api_key_) {
      return Json(401, R"({"message":"Unauthorized","statusCode":401})");
    }
    if (std::optional<FakeReply> scripted = TakeScripted(call.method + " " + call.path)) {
      return *std::move(scripted);
    }
    if (call.method == "POST" && call.path == "/api/sendText") return SendText(call);
    if (call.method == "POST" && (call.path == "/api/sendSeen" || call.path == "/api/startTyping" ||
                                  call.path == "/api/stopTyping")) {
      if (call.JsonString("session").empty() || call.JsonString("chatId").empty()) {
        return BadRequest("session and chatId must be strings");
      }
      return Json(201, "{}");
    }
    if (call.method == "GET" && call.path.starts_with("/api/files/")) {
      const auto file = files_.find(call.path.substr(std::string_view("/api/files/").size()));
      if (file == files_.end()) return NotFound(call);
      return FakeReply{.status = 200,
                       .headers = {{"Content-Type", file->second.content_type}},
                       .body = file->second.bytes};
    }
    if (call.method == "GET") {
      // /api/{session}/lids/{lid}
      constexpr std::string_view kLids = "/lids/";
      const size_t lids = call.path.find(kLids);
      if (call.path.starts_with("/api/") && lids != std::string::npos) {
        const std::string lid = PercentDecode(call.path.substr(lids + kLids.size()));
        boost::json::object body{{"lid", lid}, {"pn", nullptr}};
        if (const auto known = lids_.find(lid); known != lids_.end() && known->second) {
          body["pn"] = *known->second;
        }
        return Json(200, boost::json::serialize(body));
      }
    }
    return NotFound(call);
  }

  // mutex_ held.
  std::optional<FakeReply> TakeScripted(const std::string& key) {
    for (auto& [pattern, queue] : scripted_) {
      if (queue.empty()) continue;
      const bool matches =
          pattern == key ||
          (pattern.ends_with('*') &&
           key.starts_with(std::string_view(pattern).substr(0, pattern.size() - 1)));
      if (!matches) continue;
      FakeReply reply = std::move(queue.front());
      queue.pop_front();
      return reply;
    }
    return std::nullopt;
  }

  // mutex_ held. A GOWS-like answer: the full message id plus the message as WAHA echoes it.
  FakeReply SendText(const WahaCall& call) {
    const std::string chat_id = call.JsonString("chatId");
    if (call.JsonString("session").empty() || chat_id.empty() || !call.json.is_object() ||
        !call.json.as_object().contains("text")) {
      return BadRequest("session, chatId and text are required");
    }
    static constexpr std::string_view kHex = "0123456789ABCDEF";
    std::string bare = "3EB0";
    for (int i = 0; i < 16; ++i) bare.push_back(kHex[random_() % kHex.size()]);
    const std::string id = "true_" + chat_id + "_" + bare;
    sent_ids_.push_back(id);
    ++timestamp_;
    const boost::json::object body{{"id", id},
                                   {"timestamp", timestamp_},
                                   {"from", kMe},
                                   {"fromMe", true},
                                   {"source", "api"},
                                   {"to", chat_id},
                                   {"body", call.json.at("text")},
                                   {"hasMedia", false},
                                   {"ack", 1},
                                   {"ackName", "SERVER"}};
    return Json(201, boost::json::serialize(body));
  }

  static FakeReply BadRequest(std::string_view what) {
    const boost::json::object body{
        {"statusCode", 400}, {"message", boost::json::array{what}}, {"error", "Bad Request"}};
    return Json(400, boost::json::serialize(body));
  }

  static FakeReply NotFound(const WahaCall& call) {
    const boost::json::object body{{"message", "Cannot " + call.method + " " + call.path},
                                   {"error", "Not Found"},
                                   {"statusCode", 404}};
    return Json(404, boost::json::serialize(body));
  }

  static std::string PercentDecode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '%' && i + 2 < text.size() &&
          std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
        out.push_back(
            static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(text[i]);
      }
    }
    return out;
  }

  const std::string api_key_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<FakeReply>> scripted_;
  std::map<std::string, File> files_;
  std::map<std::string, std::optional<std::string>> lids_;
  std::vector<WahaCall> calls_;
  std::vector<std::string> sent_ids_;
  std::mt19937_64 random_{20260701};  // fixed seed: ids differ per send, runs are reproducible
  int64_t timestamp_ = 1760701300;    // seconds, advancing one per send
  // Last: the server's thread calls Handle(), so it must stop before the state above dies.
  FakeHttpServer server_;
};

}  // namespace ventros::testing
