#include "ventros/waha/gateway.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_waha.hpp"
#include "ventros/core/http_client.hpp"

namespace {

using std::chrono::milliseconds;
using ventros::core::HttpClient;
using ventros::core::HttpClientOptions;
using ventros::core::StatusCode;
using ventros::testing::FakeReply;
using ventros::testing::FakeWaha;
using ventros::waha::SendOutcome;
using ventros::waha::SendTextRequest;
using ventros::waha::WahaHttpGateway;
using ventros::waha::WahaTarget;

constexpr const char* kChat = "5511987654321@c.us";

HttpClientOptions ClientOptions() {
  HttpClientOptions options;
  options.connect_timeout = milliseconds(1000);
  options.request_timeout = milliseconds(300);  // keeps the "WAHA never answers" tests quick
  options.max_retries = 2;                      // so a test notices a send that was retried
  options.sleep = [](milliseconds) {};
  return options;
}

// A client, a gateway on it and a target pointing at the fake.
struct Fixture {
  explicit Fixture(WahaHttpGateway::Options options = {})
      : client(ClientOptions()), gateway(client, std::move(options)) {}
  FakeWaha waha;
  HttpClient client;
  WahaHttpGateway gateway;
  WahaTarget target{.base_url = waha.BaseUrl(), .api_key = waha.api_key()};
};

SendTextRequest Text(std::string text = "Olá!") {
  return SendTextRequest{.chat_id = kChat, .text = std::move(text)};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed again when the acceptor goes
}

TEST_CASE("WahaHttpGateway: sendText posts the WAHA body with the API key and returns the id",
          "[waha]") {
  Fixture f;
  SendTextRequest request = Text("Podemos oferecer 25% de desconto.");
  request.reply_to = "false_5511987654321@c.us_3EB0AAAA";
  request.link_preview = false;

  auto outcome = f.gateway.SendText(f.target, request);

  REQUIRE(outcome.ok());
  CHECK(outcome->kind == SendOutcome::kSent);
  CHECK(outcome->http_status == 201);
  REQUIRE(f.waha.SentIds().size() == 1);
  CHECK(outcome->waha_message_id == f.waha.SentIds()[0]);
  CHECK(Contains(outcome->waha_message_id, std::string("true_") + kChat + "_"));

  const auto calls = f.waha.Calls("POST", "/api/sendText");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].Header("X-Api-Key") == f.waha.api_key());
  CHECK(Contains(calls[0].Header("Content-Type"), "application/json"));
  const boost::json::object& body = calls[0].json.as_object();
  CHECK(body.size() == 5);
  CHECK(body.at("session") == "default");
  CHECK(body.at("chatId") == kChat);
  CHECK(body.at("text") == "Podemos oferecer 25% de desconto.");
  CHECK(body.at("reply_to") == "false_5511987654321@c.us_3EB0AAAA");
  CHECK(body.at("linkPreview") == false);
}

TEST_CASE("WahaHttpGateway: sendText leaves out the optional fields it was not given", "[waha]") {
  Fixture f;
  f.target.session = "sales";
  f.target.base_url += "/";  // a trailing slash in configuration is harmless

  REQUIRE(f.gateway.SendText(f.target, Text()).ok());

  const auto calls = f.waha.Calls("POST", "/api/sendText");
  REQUIRE(calls.size() == 1);
  const boost::json::object& body = calls[0].json.as_object();
  CHECK(body.size() == 3);
  CHECK(body.at("session") == "sales");
  CHECK_FALSE(body.contains("reply_to"));
  CHECK_FALSE(body.contains("linkPreview"));
}

TEST_CASE("WahaHttpGateway: sendText finds the id in every engine's answer", "[waha]") {
  Fixture f;
  struct Case {
    const char* engine;
    std::string body;
    std::string id;
  };
  const std::vector<Case> cases = {
      {"GOWS: id as a string", R"({"id":"true_5511987654321@c.us_3EB0111","body":"x"})",
       "true_5511987654321@c.us_3EB0111"},
      {"WEBJS: id._serialized",
       R"({"id":{"fromMe":true,"remote":"5511987654321@c.us","id":"3EB0222",)"
       R"("_serialized":"true_5511987654321@c.us_3EB0222"},"body":"x"})",
       "true_5511987654321@c.us_3EB0222"},
      {"NOWEB: key.id",
       R"({"key":{"remoteJid":"5511987654321@s.whatsapp.net","fromMe":true,"id":"3EB0333"},)"
       R"("message":{"conversation":"x"},"status":"PENDING"})",
       "3EB0333"},
      {"empty body", "", ""},
      {"not JSON", "Created", ""},
      {"no id anywhere", R"({"sent":true})", ""},
  };
  for (const Case& c : cases) {
    INFO(c.engine);
    f.waha.Enqueue("POST /api/sendText", FakeWaha::Json(201, c.body));
    auto outcome = f.gateway.SendText(f.target, Text());
    REQUIRE(outcome.ok());
    CHECK(outcome->kind == SendOutcome::kSent);
    CHECK(outcome->http_status == 201);
    CHECK(outcome->waha_message_id == c.id);
  }
}

TEST_CASE(
    "WahaHttpGateway: 422 (session not WORKING) is Unavailable and not retried by the gateway",
    "[waha]") {
  Fixture f;
  f.waha.Enqueue("POST /api/sendText",
                 FakeWaha::Json(422, R"({"statusCode":422,"message":"Session status is not as )"
                                     R"(expected. Status: STARTING, expected: WORKING"})"));

  auto first = f.gateway.SendText(f.target, Text());
  REQUIRE_FALSE(first.ok());
  CHECK(first.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(first.status().message(), "422"));
  CHECK(Contains(first.status().message(), "STARTING"));
  CHECK(f.waha.Calls("POST", "/api/sendText").size() == 1);

  // The caller's retry then goes through.
  auto second = f.gateway.SendText(f.target, Text());
  REQUIRE(second.ok());
  CHECK(second->kind == SendOutcome::kSent);
  CHECK(f.waha.Calls("POST", "/api/sendText").size() == 2);
}

TEST_CASE("WahaHttpGateway: HTTP errors map to permanent or retryable statuses", "[waha]") {
  Fixture f;
  SECTION("401 from a wrong API key is PermissionDenied") {
    f.target.api_key = "wrong";
    auto outcome = f.gateway.SendText(f.target, Text());
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.status().code() == StatusCode::kPermissionDenied);
    CHECK(Contains(outcome.status().message(), "Unauthorized"));
    CHECK_FALSE(Contains(outcome.status().message(), "wrong"));  // the key is never echoed
    CHECK(f.waha.Calls()[0].reply_status == 401);
  }
  SECTION("403 is PermissionDenied") {
    f.waha.Enqueue("POST /api/sendText", FakeWaha::Json(403, R"({"message":"Forbidden"})"));
    CHECK(f.gateway.SendText(f.target, Text()).status().code() == StatusCode::kPermissionDenied);
  }
  SECTION("400 is InvalidArgument, with WAHA's validation messages") {
    f.waha.Enqueue("POST /api/sendText",
                   FakeWaha::Json(400, R"({"statusCode":400,"message":["chatId must be a )"
                                       R"(string","text should not be empty"],)"
                                       R"("error":"Bad Request"})"));
    auto outcome = f.gateway.SendText(f.target, Text());
    CHECK(outcome.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(outcome.status().message(), "chatId must be a string; text should not"));
  }
  SECTION("404 is InvalidArgument") {
    f.waha.Enqueue("POST /api/sendText", FakeWaha::Json(404, R"({"message":"Not Found"})"));
    CHECK(f.gateway.SendText(f.target, Text()).status().code() == StatusCode::kInvalidArgument);
  }
  SECTION("500 and 503 are Unavailable, sent once") {
    f.waha.Enqueue("POST /api/sendText", FakeWaha::Json(500, R"({"message":"boom"})"));
    f.waha.Enqueue("POST /api/sendText", FakeWaha::Json(503, ""));
    CHECK(f.gateway.SendText(f.target, Text()).status().code() == StatusCode::kUnavailable);
    CHECK(f.gateway.SendText(f.target, Text()).status().code() == StatusCode::kUnavailable);
    CHECK(f.waha.Calls("POST", "/api/sendText").size() == 2);
  }
}

TEST_CASE("WahaHttpGateway: a send that times out has an unknown outcome and is not resent",
          "[waha]") {
  Fixture f;
  f.waha.Enqueue("POST /api/sendText", FakeReply::Hang());

  auto outcome = f.gateway.SendText(f.target, Text());

  REQUIRE(outcome.ok());
  CHECK(outcome->kind == SendOutcome::kUnknown);
  CHECK(outcome->waha_message_id.empty());
  CHECK(outcome->http_status == 0);
  CHECK(Contains(outcome->detail, "timeout"));
  CHECK(f.waha.Calls("POST", "/api/sendText").size() == 1);
}

TEST_CASE("WahaHttpGateway: a connection dropped after the request was written is kUnknown",
          "[waha]") {
  Fixture f;
  f.waha.Enqueue("POST /api/sendText", FakeReply::Close());

  auto outcome = f.gateway.SendText(f.target, Text());

  REQUIRE(outcome.ok());
  CHECK(outcome->kind == SendOutcome::kUnknown);
  CHECK(f.waha.Calls("POST", "/api/sendText").size() == 1);
}

TEST_CASE("WahaHttpGateway: connection refused is Unavailable (certainly not sent)", "[waha]") {
  HttpClient client(ClientOptions());
  WahaHttpGateway gateway(client, {});
  const WahaTarget target{.base_url = "http://127.0.0.1:" + std::to_string(ClosedPort()),
                          .api_key = "k"};

  auto outcome = gateway.SendText(target, Text());

  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(outcome.status().message(), "connection refused"));
  CHECK(client.Stats().retries == 0);
}

TEST_CASE("WahaHttpGateway: a malformed base URL is InvalidArgument", "[waha]") {
  HttpClient client(ClientOptions());
  WahaHttpGateway gateway(client, {});
  auto outcome = gateway.SendText(WahaTarget{.base_url = "waha:3000", .api_key = "k"}, Text());
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("WahaHttpGateway: sendSeen and typing post {session, chatId[, messageIds]}", "[waha]") {
  Fixture f;
  REQUIRE(f.gateway.SendSeen(f.target, kChat, {"false_5511987654321@c.us_A", "B"}).ok());
  REQUIRE(f.gateway.SendSeen(f.target, kChat, {}).ok());
  REQUIRE(f.gateway.StartTyping(f.target, kChat).ok());
  REQUIRE(f.gateway.StopTyping(f.target, kChat).ok());

  const auto calls = f.waha.Calls();
  REQUIRE(calls.size() == 4);
  CHECK(calls[0].path == "/api/sendSeen");
  CHECK(calls[0].json ==
        boost::json::parse(R"({"session":"default","chatId":")" + std::string(kChat) +
                           R"(","messageIds":["false_5511987654321@c.us_A","B"]})"));
  CHECK(calls[1].path == "/api/sendSeen");
  CHECK(calls[1].json ==
        boost::json::parse(R"({"session":"default","chatId":")" + std::string(kChat) + R"("})"));
  CHECK(calls[2].path == "/api/startTyping");
  CHECK(calls[3].path == "/api/stopTyping");
  for (const auto& call : calls) {
    CHECK(call.method == "POST");
    CHECK(call.Header("X-Api-Key") == f.waha.api_key());
    CHECK(Contains(call.Header("Content-Type"), "application/json"));
  }
  CHECK(calls[2].json == calls[1].json);
  CHECK(calls[3].json == calls[1].json);
}

TEST_CASE("WahaHttpGateway: seen and typing share the error mapping", "[waha]") {
  Fixture f;
  f.waha.Enqueue("POST /api/startTyping", FakeWaha::Json(422, R"({"message":"not WORKING"})"));
  f.waha.Enqueue("POST /api/stopTyping", FakeReply::Hang());

  CHECK(f.gateway.StartTyping(f.target, kChat).code() == StatusCode::kUnavailable);
  CHECK(f.gateway.StopTyping(f.target, kChat).code() == StatusCode::kUnavailable);
  f.target.api_key = "wrong";
  CHECK(f.gateway.SendSeen(f.target, kChat, {}).code() == StatusCode::kPermissionDenied);
  CHECK(f.waha.Calls("POST", "/api/stopTyping").size() == 1);  // not retried after the timeout
}

TEST_CASE("WahaHttpGateway: media is downloaded with the API key from the rewritten host",
          "[waha]") {
  Fixture f;
  const std::string bytes = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(1000, 'j');
  f.waha.PutFile("default/true_5511987654321@c.us_3EB0.jpeg", bytes, "image/jpeg");
  WahaHttpGateway gateway(f.client, {.media_base_url_override = f.waha.BaseUrl() + "/"});

  SECTION("WAHA reports http://localhost:3000") {
    const std::string url =
        "http://localhost:3000/api/files/default/true_5511987654321@c.us_3EB0.jpeg";
    CHECK(gateway.ResolveMediaUrl(f.target, url) ==
          f.waha.BaseUrl() + "/api/files/default/true_5511987654321@c.us_3EB0.jpeg");
    auto media = gateway.DownloadMedia(f.target, url, 4096);
    REQUIRE(media.ok());
    CHECK(*media == bytes);
  }
  SECTION("a path-only URL") {
    auto media = gateway.DownloadMedia(
        f.target, "/api/files/default/true_5511987654321@c.us_3EB0.jpeg", bytes.size());
    REQUIRE(media.ok());
    CHECK(*media == bytes);
  }
  const auto calls = f.waha.Calls("GET", "/api/files/default/true_5511987654321@c.us_3EB0.jpeg");
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].Header("X-Api-Key") == f.waha.api_key());
}

TEST_CASE("WahaHttpGateway: without a rewrite, media on WAHA's own host gets the key", "[waha]") {
  Fixture f;
  f.waha.PutFile("a.ogg", "OggS...", "audio/ogg");

  auto same_host = f.gateway.DownloadMedia(f.target, f.waha.FileUrl("a.ogg", "127.0.0.1"), 100);
  REQUIRE(same_host.ok());
  CHECK(*same_host == "OggS...");

  // WAHA names its files on its own loopback address ("localhost"): such URLs are fetched from
  // the channel's WAHA URL, with the key.
  auto loopback = f.gateway.DownloadMedia(f.target, f.waha.FileUrl("a.ogg", "localhost"), 100);
  REQUIRE(loopback.ok());
  CHECK(*loopback == "OggS...");
  const auto calls = f.waha.Calls("GET", "/api/files/a.ogg");
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].Header("X-Api-Key") == std::string(f.waha.api_key()));

  // Another host could be anyone's: it is not rewritten and never gets the key.
  CHECK(f.gateway.ResolveMediaUrl(f.target, "http://files.example.net/api/files/a.ogg") ==
        "http://files.example.net/api/files/a.ogg");
}

TEST_CASE("WahaHttpGateway: media over the size limit is InvalidArgument naming the limit",
          "[waha]") {
  Fixture f;
  f.waha.PutFile("big.bin", std::string(2048, 'x'));

  auto media = f.gateway.DownloadMedia(f.target, f.waha.FileUrl("big.bin", "127.0.0.1"), 1024);

  REQUIRE_FALSE(media.ok());
  CHECK(media.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(media.status().message(), "1024"));
}

TEST_CASE("WahaHttpGateway: media WAHA no longer has is NotFound", "[waha]") {
  Fixture f;
  auto media = f.gateway.DownloadMedia(f.target, f.waha.FileUrl("gone.jpg", "127.0.0.1"), 1024);
  REQUIRE_FALSE(media.ok());
  CHECK(media.status().code() == StatusCode::kNotFound);
}

TEST_CASE("WahaHttpGateway: a @lid maps to its phone number, or to nothing when pn is null",
          "[waha]") {
  Fixture f;
  f.waha.SetLid("123456789012345@lid", "5511987654321@c.us");
  f.waha.SetLid("999@lid", std::nullopt);
  f.waha.SetLid("777@lid", "5511911112222@s.whatsapp.net");

  auto known = f.gateway.GetLidMapping(f.target, "123456789012345@lid");
  REQUIRE(known.ok());
  CHECK(*known == std::optional<std::string>("5511987654321@c.us"));

  auto hidden = f.gateway.GetLidMapping(f.target, "999@lid");
  REQUIRE(hidden.ok());
  CHECK_FALSE(hidden->has_value());

  auto unknown = f.gateway.GetLidMapping(f.target, "555@lid");
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->has_value());

  auto jid = f.gateway.GetLidMapping(f.target, "777@lid");
  REQUIRE(jid.ok());
  CHECK(*jid == std::optional<std::string>("5511911112222@c.us"));

  const auto calls = f.waha.Calls();
  REQUIRE(calls.size() == 4);
  CHECK(calls[0].method == "GET");
  CHECK(calls[0].path == "/api/default/lids/123456789012345%40lid");
  CHECK(calls[0].Header("X-Api-Key") == f.waha.api_key());
}

TEST_CASE("WahaHttpGateway: lid lookups share the error mapping", "[waha]") {
  Fixture f;
  f.target.api_key = "wrong";
  CHECK(f.gateway.GetLidMapping(f.target, "1@lid").status().code() ==
        StatusCode::kPermissionDenied);
}

}  // namespace
