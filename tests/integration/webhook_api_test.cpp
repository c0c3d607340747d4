// The whole path through a running server: WAHA posts a signed webhook, the server answers once
// it is stored, its worker threads apply it, download the media from (fake) WAHA, and a reply
// requested over REST goes out through WAHA's sendText.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"

using ventros::testing::Eventually;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
using ventros::testing::WahaFixture;
namespace json = boost::json;

VENTROS_DB_TEST("Webhook API: signed webhooks in, media downloaded, reply out through WAHA",
                "[api][waha]") {
  TestDb db(engine);
  ventros::testing::TempDir media_dir;
  ventros::testing::FakeWaha waha;
  TestServer s(db.url());
  const std::string admin = s.admin_key();
  auto ch = s.Call(
      "POST", "/v1/channels", admin,
      fmt::format(R"({{"name":"main","waha_url":"{}","waha_api_key":"{}","hmac_secret":"sekret"}})",
                  waha.BaseUrl(), waha.api_key()));
  REQUIRE(ch.status == 201);
  std::string channel(ParseJson(ch.body).at("id").as_string());
  std::string hook = "/webhooks/waha/" + channel;

  auto post = [&](const std::string& body, const std::string& hmac) {
    ventros::core::HttpClient client;
    ventros::core::HttpClientRequest req;
    req.method = "POST";
    req.url = s.base_url() + hook;
    req.body = body;
    req.headers = {{"Content-Type", "application/json"}};
    if (!hmac.empty()) req.headers.emplace_back("X-Webhook-Hmac", hmac);
    auto res = client.Send(req);
    REQUIRE(res.ok());
    return *res;
  };

  std::string text = WahaFixture("message_text.json");
  // Unsigned or wrongly signed: 401 and nothing stored.
  CHECK(post(text, "").status == 401);
  CHECK(post(text, ventros::core::HmacSha512Hex("other", text)).status == 401);
  CHECK(post("{broken", ventros::core::HmacSha512Hex("sekret", "{broken")).status == 400);
  CHECK(s.Call("POST", "/webhooks/waha/01936f2e-0000-7000-8000-000000000000", "", text).status ==
        404);

  auto first = post(text, ventros::core::HmacSha512Hex("sekret", text));
  CHECK(first.status == 200);
  CHECK(first.body == R"({"status":"stored"})");
  CHECK(post(text, ventros::core::HmacSha512Hex("sekret", text)).body ==
        R"({"status":"duplicate"})");

  // A document whose file WAHA serves (on "localhost": the host is rewritten to WAHA's own).
  waha.PutFile("false_5511987654321@c.us_3EB0A1B2C3D4E5F60799.pdf", "%PDF-1.7 contract",
               "application/pdf");
  json::value doc = json::parse(WahaFixture("message_document_pdf.json"));
  doc.as_object()["payload"].as_object()["media"].as_object()["url"] =
      waha.FileUrl("false_5511987654321@c.us_3EB0A1B2C3D4E5F60799.pdf", "127.0.0.1");
  std::string doc_body = json::serialize(doc);
  CHECK(post(doc_body, ventros::core::HmacSha512Hex("sekret", doc_body)).status == 200);

  std::string contact_id;
  REQUIRE(Eventually([&] {
    auto r = s.Call("GET", "/v1/contacts", admin);
    auto items = ParseJson(r.body).at("items").as_array();
    if (items.empty()) return false;
    contact_id = std::string(items[0].at("id").as_string());
    return true;
  }));
  REQUIRE(Eventually([&] {
    auto r = s.Call("GET", "/v1/messages?contact_id=" + contact_id, admin);
    auto items = ParseJson(r.body).at("items").as_array();
    if (items.size() != 2) return false;
    const auto& media = items[1].at("media");
    return media.is_object() && media.at("state") == "stored";
  }));
  auto messages = ParseJson(s.Call("GET", "/v1/messages?contact_id=" + contact_id, admin).body);
  const auto& m0 = messages.at("items").as_array()[0];
  CHECK(m0.at("body") == "Quero cancelar minha conta, muito caro");
  CHECK(m0.at("direction") == "in");
  const auto& media = messages.at("items").as_array()[1].at("media");
  CHECK(media.at("size") == 17);
  CHECK(media.at("sha256").as_string() == ventros::core::Sha256Hex("%PDF-1.7 contract"));
  std::string path(media.at("path").as_string());
  std::ifstream stored(path, std::ios::binary);
  std::stringstream bytes;
  bytes << stored.rdbuf();
  CHECK(bytes.str() == "%PDF-1.7 contract");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path().parent_path());

  auto contact = ParseJson(s.Call("GET", "/v1/contacts/" + contact_id, admin).body);
  CHECK(contact.at("name") == "Leonardo");
  auto events = ParseJson(s.Call("GET", "/v1/contacts/" + contact_id + "/events", admin).body);
  // session_started, document_received (and, from the memory writer on its own thread, facts
  // such as the price objection: not counted here).
  int crm_events = 0;
  for (const auto& e : events.at("items").as_array()) {
    crm_events += !e.at("category").as_string().starts_with("fact_");
  }
  CHECK(crm_events == 2);

  // The agent answers over REST; the server sends it through WAHA.
  auto reply =
      s.Call("POST", "/v1/messages", admin,
             fmt::format(R"({{"contact_id":"{}","text":"Podemos oferecer 25% de desconto."}})",
                         contact_id));
  REQUIRE(reply.status == 202);
  std::string reply_id(ParseJson(reply.body).at("id").as_string());
  REQUIRE(Eventually([&] {
    auto r = s.Call("GET", "/v1/messages/" + reply_id, admin);
    return ParseJson(r.body).at("status") == "sent";
  }));
  auto sends = waha.Calls("POST", "/api/sendText");
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].JsonString("chatId") == "5511987654321@c.us");
  CHECK(sends[0].JsonString("text") == "Podemos oferecer 25% de desconto.");
  // The fixtures' messages are dated 2025: that conversation timed out long ago, so the reply
  // opens a new one.
  auto sessions = ParseJson(s.Call("GET", "/v1/sessions?contact_id=" + contact_id, admin).body);
  auto items = sessions.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("message_count") == 2);
  CHECK(items[0].at("end_reason") == "inactivity_timeout");
  CHECK(items[1].at("status") == "active");
  CHECK(items[1].at("message_count") == 1);
}
