// WAHA inbound and outbound on both engines: golden files for every fixture (payload in -> rows
// and events out), HMAC, duplicates, ack before message, the @lid/@c.us double, session timeout,
// malformed payloads, and sending through a fake WAHA (422 then 201, timeout, wrong key).

#include "ventros/waha/ingest.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/waha/gateway.hpp"

using namespace ventros;
using core::DbValue;
using testing::TestDb;
namespace json = boost::json;

namespace {

std::string SourceDir() {
  const char* d = std::getenv("VENTROS_SOURCE_DIR");
  return d ? d : ".";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Fixture(const std::string& name) { return testing::WahaFixture(name); }

// Everything one test needs: a migrated database, a tenant with a channel, the services and a
// bus driven by hand with a virtual clock.
struct World {
  explicit World(core::DbEngine engine, std::string hmac = "")
      : db(engine),
        database(db.OpenMigrated()),
        clock(1760701000000),
        bus(*database, clock, core::NullLogger()),
        tenants(*database, clock),
        messaging(*database, clock, &bus),
        ingest(*database, clock, messaging, &bus, core::NullLogger()) {
    auto t = tenants.CreateTenant("Loja Exemplo");
    REQUIRE(t.ok());
    tenant = t->first.id;
    crm::ChannelInput in;
    in.name = "main";
    in.waha_url = "http://127.0.0.1:3000";
    in.waha_api_key = "test-waha-key";
    if (!hmac.empty()) in.hmac_secret = hmac;
    auto c = messaging.CreateChannel(tenant, in);
    REQUIRE(c.ok());
    channel = *c;
    core::ConsumerOptions opts;
    opts.types = {waha::kWebhookReceived};
    opts.batch_handler = ingest.BatchHandler();
    bus.Subscribe("waha.ingest", ingest.Handler(), opts);
  }

  waha::WahaIngest::Stored Deliver(const std::string& body) {
    std::string hmac =
        channel.hmac_secret.empty() ? "" : core::HmacSha512Hex(channel.hmac_secret, body);
    auto r = ingest.Receive(channel, body, hmac);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    REQUIRE(bus.RunUntilIdle("waha.ingest").ok());
    return *r;
  }

  core::DbResult Rows(const std::string& sql) {
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    auto r = (*conn)->Query(sql);
    INFO(sql << ": " << r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }

  int64_t Count(const std::string& table, const std::string& where = "1=1") {
    return Rows(fmt::format("SELECT COUNT(*) FROM {} WHERE {}", table, where)).rows[0].GetInt(0);
  }

  std::vector<std::string> EventTypes() {
    std::vector<std::string> out;
    for (const auto& r : Rows("SELECT type FROM events ORDER BY seq").rows) {
      if (r.GetText(0) != waha::kWebhookReceived) out.push_back(r.GetText(0));
    }
    return out;
  }

  // The rows and events a webhook produced, without ids and creation times.
  json::object Summary() {
    json::object s;
    json::array contacts;
    for (const auto& r : Rows("SELECT c.phone, c.name, (SELECT COUNT(*) FROM contact_identities i "
                              "WHERE i.contact_id = c.id) FROM contacts c ORDER BY c.id")
                             .rows) {
      json::object o;
      o["phone"] = r.IsNull(0) ? json::value(nullptr) : json::value(r.GetText(0));
      o["name"] = r.GetText(1);
      o["wa_ids"] = r.GetInt(2);
      contacts.push_back(std::move(o));
    }
    s["contacts"] = std::move(contacts);
    json::array sessions;
    for (const auto& r :
         Rows("SELECT status, message_count, end_reason FROM sessions ORDER BY id").rows) {
      json::object o;
      o["status"] = r.GetText(0);
      o["message_count"] = r.GetInt(1);
      o["end_reason"] = r.IsNull(2) ? json::value(nullptr) : json::value(r.GetText(2));
      sessions.push_back(std::move(o));
    }
    s["sessions"] = std::move(sessions);
    json::array messages;
    for (const auto& r :
         Rows("SELECT direction, from_me, source, type, body, chat_id, waha_bare_id, "
              "ack, status, media_mimetype, media_filename, media_state, "
              "message_at, sender_wa_id FROM messages ORDER BY id")
             .rows) {
      json::object o;
      o["direction"] = r.GetText(0);
      o["from_me"] = r.GetInt(1) != 0;
      o["source"] = r.GetText(2);
      o["type"] = r.GetText(3);
      o["body"] = r.GetText(4);
      o["chat_id"] = r.GetText(5);
      o["waha_bare_id"] = r.GetText(6);
      o["ack"] = r.IsNull(7) ? json::value(nullptr) : json::value(r.GetInt(7));
      o["status"] = r.GetText(8);
      o["media_mimetype"] = r.IsNull(9) ? json::value(nullptr) : json::value(r.GetText(9));
      o["media_filename"] = r.IsNull(10) ? json::value(nullptr) : json::value(r.GetText(10));
      o["media_state"] = r.IsNull(11) ? json::value(nullptr) : json::value(r.GetText(11));
      o["message_at"] = r.GetInt(12);
      o["sender_wa_id"] = r.IsNull(13) ? json::value(nullptr) : json::value(r.GetText(13));
      messages.push_back(std::move(o));
    }
    s["messages"] = std::move(messages);
    json::array timeline;
    for (const auto& r : Rows("SELECT category, summary FROM contact_events ORDER BY id").rows) {
      timeline.push_back(json::value(r.GetText(0) + ": " + r.GetText(1)));
    }
    s["contact_events"] = std::move(timeline);
    json::array inbox;
    for (const auto& r : Rows("SELECT event, state, error FROM waha_inbox ORDER BY id").rows) {
      json::object o;
      o["event"] = r.GetText(0);
      o["state"] = r.GetText(1);
      o["error"] = r.IsNull(2) ? json::value(nullptr) : json::value(r.GetText(2));
      inbox.push_back(std::move(o));
    }
    s["inbox"] = std::move(inbox);
    json::array pending;
    for (const auto& r :
         Rows("SELECT waha_bare_id, ack FROM pending_acks ORDER BY waha_bare_id").rows) {
      pending.push_back(json::value(fmt::format("{}={}", r.GetText(0), r.GetInt(1))));
    }
    s["pending_acks"] = std::move(pending);
    s["channel_status"] = Rows("SELECT status FROM channels").rows[0].GetText(0);
    json::array events;
    for (const auto& t : EventTypes()) events.emplace_back(t);
    s["events"] = std::move(events);
    return s;
  }

  TestDb db;
  std::unique_ptr<core::Database> database;
  core::VirtualClock clock;
  core::EventBus bus;
  crm::TenantService tenants;
  crm::MessagingService messaging;
  waha::WahaIngest ingest;
  crm::TenantId tenant;
  crm::Channel channel;
};

std::string Pretty(const json::value& v) {
  // One key per line keeps golden diffs readable.
  std::string out = json::serialize(v);
  std::string pretty;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (c == '"' && (i == 0 || out[i - 1] != '\\')) in_string = !in_string;
    if (in_string) {
      pretty.push_back(c);
      continue;
    }
    if (c == '{' || c == '[') {
      pretty.push_back(c);
      pretty += "\n" + std::string(2 * ++depth, ' ');
    } else if (c == '}' || c == ']') {
      pretty += "\n" + std::string(2 * --depth, ' ') + c;
    } else if (c == ',') {
      pretty += ",\n" + std::string(2 * depth, ' ');
    } else {
      pretty.push_back(c);
    }
  }
  return pretty + "\n";
}

void CheckGolden(const std::string& name, const json::value& actual) {
  std::string path = SourceDir() + "/tests/golden/waha/" + name;
  if (std::getenv("VENTROS_UPDATE_GOLDEN")) {
    std::ofstream(path) << Pretty(actual);
    WARN("updated " << path);
    return;
  }
  json::value expected = json::parse(ReadFile(path));
  INFO("golden " << path << "\nactual:\n" << Pretty(actual));
  CHECK(expected == actual);
}

}  // namespace

VENTROS_DB_TEST("WAHA golden: each fixture in, rows and events out", "[waha][golden]") {
  for (const char* name : {"message_text.json", "message_image.json", "message_document_pdf.json",
                           "message_ack_read.json", "message_any_api_echo.json",
                           "message_reaction.json", "session_status_working.json"}) {
    DYNAMIC_SECTION(name) {
      World w(engine);
      auto stored = w.Deliver(Fixture(name));
      CHECK_FALSE(stored.duplicate);
      CheckGolden(name, w.Summary());
    }
  }
}

VENTROS_DB_TEST("WAHA: the same webhook three times stores one message and one event", "[waha]") {
  World w(engine);
  std::string body = Fixture("message_text.json");
  CHECK_FALSE(w.Deliver(body).duplicate);
  CHECK(w.Deliver(body).duplicate);
  CHECK(w.Deliver(body).duplicate);
  CHECK(w.Count("messages") == 1);
  CHECK(w.Count("waha_inbox") == 1);
  CHECK(w.Count("events", "type = 'message.received'") == 1);
  // The same message under another envelope id (message.any after message) is a duplicate too.
  json::value any = json::parse(body);
  any.as_object()["id"] = "evt_other";
  any.as_object()["event"] = "message.any";
  CHECK(w.Deliver(json::serialize(any)).duplicate);
  CHECK(w.Count("messages") == 1);
}

VENTROS_DB_TEST("WAHA: the @lid double of a message is deduplicated and maps the contact",
                "[waha]") {
  World w(engine);
  w.Deliver(Fixture("message_text.json"));
  json::value lid = json::parse(Fixture("message_text.json"));
  auto& env = lid.as_object();
  env["id"] = "evt_01k7rzak2acr7qkc89kk0p85zz";
  auto& p = env["payload"].as_object();
  p["id"] = "false_123456789012345@lid_3EB0C431C26A1916E07E";
  p["from"] = "123456789012345@lid";
  // Same bare message id: the inbox dedup catches it before processing.
  CHECK(w.Deliver(json::serialize(lid)).duplicate);
  CHECK(w.Count("messages") == 1);
  // A new message from the @lid whose raw key names the phone: one contact, both ids known.
  p["id"] = "false_123456789012345@lid_3EB0NEWMESSAGE0000001";
  p["body"] = "Outra dúvida";
  env["id"] = "evt_01k7rzak2acr7qkc89kk0p85yy";
  w.Deliver(json::serialize(lid));
  CHECK(w.Count("contacts") == 1);
  CHECK(w.Count("contact_identities") == 2);
  CHECK(w.Count("messages") == 2);
}

VENTROS_DB_TEST("WAHA: an ack that arrives before its message is applied when it arrives",
                "[waha]") {
  World w(engine);
  w.Deliver(Fixture("message_ack_read.json"));
  CHECK(w.Count("pending_acks") == 1);
  w.Deliver(Fixture("message_any_api_echo.json"));
  auto rows = w.Rows("SELECT ack FROM messages");
  REQUIRE(rows.rows.size() == 1);
  CHECK(rows.rows[0].GetInt(0) == 3);  // READ, not the echo's SERVER
  CHECK(w.Count("pending_acks") == 0);
  // Acks only go up.
  json::value lower = json::parse(Fixture("message_ack_read.json"));
  lower.as_object()["id"] = "evt_ack_lower";
  lower.as_object()["payload"].as_object()["ack"] = 2;
  w.Deliver(json::serialize(lower));
  CHECK(w.Rows("SELECT ack FROM messages").rows[0].GetInt(0) == 3);
  // A reaction to that message is now applied.
  w.Deliver(Fixture("message_reaction.json"));
  CHECK_THAT(w.Rows("SELECT reactions FROM messages").rows[0].GetText(0), Catch::Contains("👍"));
}

VENTROS_DB_TEST("WAHA: HMAC is checked against the raw body", "[waha][hmac]") {
  // The test vector from WAHA's documentation.
  CHECK(core::HmacSha512Hex("my-secret-key",
                            R"({"event":"message","session":"default","engine":"WEBJS"})") ==
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a1"
        "36cf2e78a33a63f6752c2c1631777076153fa89");
  World w(engine, "my-secret-key");
  std::string body = Fixture("message_text.json");
  auto missing = w.ingest.Receive(w.channel, body, "");
  CHECK(missing.status().code() == core::StatusCode::kUnauthenticated);
  auto wrong = w.ingest.Receive(w.channel, body, std::string(128, 'a'));
  CHECK(wrong.status().code() == core::StatusCode::kUnauthenticated);
  std::string tampered = body;
  tampered[tampered.find("caro")] = 'C';
  auto altered = w.ingest.Receive(w.channel, tampered, core::HmacSha512Hex("my-secret-key", body));
  CHECK(altered.status().code() == core::StatusCode::kUnauthenticated);
  CHECK(w.Count("waha_inbox") == 0);
  // Upper-case hex is accepted.
  std::string good = core::HmacSha512Hex("my-secret-key", body);
  for (auto& c : good) c = static_cast<char>(std::toupper(c));
  CHECK(w.ingest.Receive(w.channel, body, good).ok());
}

VENTROS_DB_TEST("WAHA: malformed and partial payloads never fail the webhook", "[waha]") {
  World w(engine);
  CHECK(w.ingest.Receive(w.channel, "{not json", "").status().code() ==
        core::StatusCode::kInvalidArgument);
  CHECK(w.ingest.Receive(w.channel, "[1,2]", "").status().code() ==
        core::StatusCode::kInvalidArgument);
  std::vector<std::string> bodies = {
      R"({"id":"evt_1","event":"message"})",                          // no payload
      R"({"id":"evt_2","event":"message","payload":{"from":null}})",  // no id
      R"({"id":"evt_3","event":"message","payload":{"id":"false_5511999999999@c.us_AAA","from":"5511999999999@c.us","to":null,"timestamp":1760701009.75,"body":null,"_data":"raw-string"}})",
      R"({"id":"evt_4","event":"message","payload":{"id":"true_5511999999999@c.us_BBB","fromMe":true,"from":"5511900000000@c.us","to":null,"_data":[1,2,3]}})",
      R"({"id":"evt_5","event":"message.ack","payload":{"id":null,"ack":"x"}})",
      R"({"id":"evt_6","event":"presence.update","payload":{"id":"5511999999999@c.us"}})",
      R"({"event":"message.revoked","payload":{"revokedMessageId":"ZZZ"}})",  // no envelope id
      R"({"id":"evt_8","event":"session.status","payload":{"status":"SCAN_QR_CODE"}})",
  };
  for (const auto& b : bodies) {
    INFO(b);
    w.Deliver(b);
  }
  auto inbox = w.Rows("SELECT event, state, error FROM waha_inbox ORDER BY id");
  REQUIRE(inbox.rows.size() == bodies.size());
  CHECK(inbox.rows[0].GetText(1) == "failed");
  CHECK(inbox.rows[1].GetText(1) == "failed");
  CHECK_THAT(inbox.rows[1].GetText(2), Catch::Contains("payload.id"));
  CHECK(inbox.rows[2].GetText(1) == "processed");
  CHECK(inbox.rows[3].GetText(1) == "processed");  // chat from the id when `to` is null
  CHECK(inbox.rows[4].GetText(1) == "failed");
  CHECK(inbox.rows[5].GetText(1) == "ignored");
  CHECK(inbox.rows[6].GetText(1) == "ignored");  // revoke of a message we never saw
  CHECK(w.Rows("SELECT status FROM channels").rows[0].GetText(0) == "SCAN_QR_CODE");
  // Fractional seconds become milliseconds.
  CHECK(w.Rows("SELECT message_at FROM messages WHERE waha_bare_id = 'AAA'").rows[0].GetInt(0) ==
        1760701009750);
  CHECK(w.Count("waha_inbox", "state = 'pending'") == 0);
}

VENTROS_DB_TEST("WAHA: a session ends after 30 minutes of silence", "[waha][sessions]") {
  World w(engine);
  w.Deliver(Fixture("message_text.json"));  // at 1760701009 s
  json::value later = json::parse(Fixture("message_text.json"));
  auto& p = later.as_object()["payload"].as_object();
  later.as_object()["id"] = "evt_later";
  p["id"] = "false_5511987654321@c.us_3EB0LATER";
  p["timestamp"] = 1760701009 + 29 * 60;
  w.Deliver(json::serialize(later));
  CHECK(w.Count("sessions") == 1);
  later.as_object()["id"] = "evt_much_later";
  p["id"] = "false_5511987654321@c.us_3EB0MUCHLATER";
  p["timestamp"] = 1760701009 + 29 * 60 + 31 * 60;
  w.Deliver(json::serialize(later));
  CHECK(w.Count("sessions") == 2);
  CHECK(w.Count("sessions", "status = 'ended' AND end_reason = 'inactivity_timeout'") == 1);
  CHECK(w.Count("sessions", "status = 'active' AND message_count = 1") == 1);
  // The sweeper ends the active one once its 30 minutes pass on the clock.
  w.clock.SetMillis((1760701009LL + 60 * 60) * 1000 + 29 * 60 * 1000);
  CHECK(*w.messaging.EndExpiredSessions() == 0);
  w.clock.AdvanceMillis(60 * 1000 + 1);
  CHECK(*w.messaging.EndExpiredSessions() == 1);
  CHECK(w.Count("sessions", "status = 'active'") == 0);
  CHECK(w.Count("events", "type = 'session.ended'") == 2);
}

namespace {
struct SendWorld : World {
  explicit SendWorld(core::DbEngine engine,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : World(engine),
        client([&] {
          core::HttpClientOptions o;
          o.max_retries = 0;
          o.request_timeout = timeout;
          return o;
        }()),
        gateway(client, {}),
        sender(
            messaging, gateway,
            [] {
              waha::WahaOptions o;
              o.send_max_attempts = 3;
              return o;
            }(),
            core::NullLogger()) {
    crm::ChannelInput in;
    in.waha_url = fake.BaseUrl();
    in.waha_api_key = std::string(fake.api_key());
    REQUIRE(messaging.UpdateChannel(tenant, channel.id, in).ok());
    channel = *messaging.GetChannel(tenant, channel.id);
    core::ConsumerOptions opts;
    opts.types = {"message.send_requested"};
    opts.initial_backoff = std::chrono::milliseconds(1000);
    bus.Subscribe("waha.sender", sender.Handler(), opts);
  }
  crm::Message Send(const std::string& text) {
    crm::MessagingService::SendRequest req;
    req.chat_id = "5511987654321@c.us";
    req.text = text;
    auto m = messaging.RequestSend(tenant, req);
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    return *m;
  }
  crm::Message Get(const crm::Message& m) { return *messaging.GetMessage(tenant, m.id); }
  testing::FakeWaha fake;
  core::HttpClient client;
  waha::WahaHttpGateway gateway;
  waha::WahaSender sender;
};
}  // namespace

VENTROS_DB_TEST("WAHA send: 422 is retried with backoff, then sent with WAHA's id",
                "[waha][send]") {
  SendWorld w(engine);
  w.fake.Enqueue(
      "POST /api/sendText",
      testing::FakeWaha::Json(422, R"({"message":"Session status is not as expected"})"));
  auto m = w.Send("Olá! Como posso ajudar?");
  CHECK(m.status == "queued");
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  CHECK(w.Get(m).status == "queued");
  CHECK(w.fake.Calls("POST", "/api/sendText").size() == 1);
  w.clock.AdvanceMillis(1000);
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  auto sent = w.Get(m);
  CHECK(sent.status == "sent");
  REQUIRE(sent.waha_id.has_value());
  CHECK_THAT(*sent.waha_id, Catch::StartsWith("true_5511987654321@c.us_"));
  auto calls = w.fake.Calls("POST", "/api/sendText");
  REQUIRE(calls.size() == 2);
  CHECK(calls[1].Header("X-Api-Key") == std::string(w.fake.api_key()));
  CHECK(calls[1].JsonString("chatId") == "5511987654321@c.us");
  CHECK(calls[1].JsonString("text") == "Olá! Como posso ajudar?");
  CHECK(calls[1].JsonString("session") == "default");
  CHECK(w.Count("events", "type = 'message.sent'") == 1);
  // The echo of our own send updates that message instead of adding one.
  json::value echo = json::parse(Fixture("message_any_api_echo.json"));
  echo.as_object()["payload"].as_object()["id"] = *sent.waha_id;
  echo.as_object()["payload"].as_object()["body"] = "Olá! Como posso ajudar?";
  w.Deliver(json::serialize(echo));
  CHECK(w.Count("messages") == 1);
}

VENTROS_DB_TEST("WAHA send: a timeout is never re-sent - the echo settles it", "[waha][send]") {
  SendWorld w(engine, std::chrono::milliseconds(300));
  w.fake.Enqueue("POST /api/sendText", testing::FakeReply::Hang());
  auto m = w.Send("Proposta enviada");
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  CHECK(w.Get(m).status == "unknown");
  w.clock.AdvanceMillis(60 * 60 * 1000);
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  CHECK(w.fake.Calls("POST", "/api/sendText").size() == 1);  // not sent twice
  json::value echo = json::parse(Fixture("message_any_api_echo.json"));
  echo.as_object()["payload"].as_object()["body"] = "Proposta enviada";
  w.Deliver(json::serialize(echo));
  auto settled = w.Get(m);
  CHECK(settled.status == "sent");
  CHECK(settled.waha_bare_id == std::optional<std::string>("3EB0123456789ABCDEF0"));
  CHECK(w.Count("messages") == 1);
}

VENTROS_DB_TEST("WAHA send: a wrong API key fails the message with a timeline entry",
                "[waha][send]") {
  SendWorld w(engine);
  crm::ChannelInput in;
  in.waha_api_key = "wrong";
  REQUIRE(w.messaging.UpdateChannel(w.tenant, w.channel.id, in).ok());
  auto m = w.Send("Oi");
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  auto failed = w.Get(m);
  CHECK(failed.status == "failed");
  CHECK(w.Count("events", "type = 'message.failed'") == 1);
  CHECK(w.Count("contact_events", "category = 'message_failed'") == 1);
}

VENTROS_DB_TEST("WAHA send: gives up after the configured attempts", "[waha][send]") {
  SendWorld w(engine);
  for (int i = 0; i < 5; ++i)
    w.fake.Enqueue("POST /api/sendText", testing::FakeWaha::Json(503, "{}"));
  auto m = w.Send("Oi");
  for (int i = 0; i < 6; ++i) {
    REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
    w.clock.AdvanceMillis(10 * 60 * 1000);
  }
  CHECK(w.Get(m).status == "failed");
  CHECK(w.fake.Calls("POST", "/api/sendText").size() == 3);
}

namespace {
std::string LidMessage(const std::string& envelope, const std::string& bare,
                       const std::string& from, const std::string& raw_jid) {
  json::value v = json::parse(Fixture("message_text.json"));
  auto& env = v.as_object();
  env["id"] = envelope;
  auto& p = env["payload"].as_object();
  p["id"] = fmt::format("false_{}_{}", from, bare);
  p["from"] = from;
  auto& key = p["_data"].as_object()["key"].as_object();
  key["remoteJid"] = raw_jid;
  key["id"] = bare;
  return json::serialize(v);
}
}  // namespace

VENTROS_DB_TEST("WAHA: a person seen under @lid and phone is merged into one contact",
                "[waha][contacts]") {
  World w(engine);
  // First only the hidden id, then only the phone: two contacts for now.
  w.Deliver(LidMessage("evt_l1", "3EB0LID0001", "123456789012345@lid", "123456789012345@lid"));
  w.Deliver(
      LidMessage("evt_p1", "3EB0PHONE001", "5511987654321@c.us", "5511987654321@s.whatsapp.net"));
  CHECK(w.Count("contacts") == 2);
  // A message whose raw key ties the two together.
  w.Deliver(
      LidMessage("evt_l2", "3EB0LID0002", "123456789012345@lid", "5511987654321@s.whatsapp.net"));
  CHECK(w.Count("contacts") == 1);
  CHECK(w.Count("contact_identities") == 2);
  CHECK(w.Count("messages") == 3);
  CHECK(w.Count("messages", "contact_id = (SELECT id FROM contacts)") == 3);
  CHECK(w.Count("sessions", "status = 'active'") == 1);
  CHECK(w.Count("events", "type = 'contact.merged'") == 1);
  CHECK(w.Count("contact_events", "category = 'contacts_merged'") == 1);
  CHECK(w.Rows("SELECT phone FROM contacts").rows[0].GetText(0) == "5511987654321");
}

VENTROS_DB_TEST("WAHA: a contact known only by @lid gets its phone from WAHA's lid mapping",
                "[waha][contacts]") {
  SendWorld w(engine);
  waha::LidResolver resolver(w.messaging, w.gateway, core::NullLogger());
  core::ConsumerOptions opts;
  opts.types = {"session.started"};
  w.bus.Subscribe("waha.lids", resolver.Handler(), opts);
  w.fake.SetLid("123456789012345@lid", std::string("5511987654321@c.us"));
  w.fake.SetLid("999999999999999@lid", std::nullopt);
  w.Deliver(LidMessage("evt_l1", "3EB0LID0001", "123456789012345@lid", "123456789012345@lid"));
  w.Deliver(LidMessage("evt_u1", "3EB0UNK0001", "999999999999999@lid", "999999999999999@lid"));
  REQUIRE(w.bus.RunUntilIdle("waha.lids").ok());
  CHECK(w.Count("contacts") == 2);
  CHECK(w.Count("contacts", "phone = '5511987654321'") == 1);
  CHECK(w.Count("contact_identities", "wa_id = '5511987654321@c.us'") == 1);
  CHECK(w.Count("contacts", "phone IS NULL") == 1);  // WAHA did not know that one
  // A contact that already has that phone absorbs a new @lid contact.
  w.fake.SetLid("555555555555555@lid", std::string("5511987654321@c.us"));
  w.Deliver(LidMessage("evt_l3", "3EB0LID0003", "555555555555555@lid", "555555555555555@lid"));
  CHECK(w.Count("contacts") == 3);
  REQUIRE(w.bus.RunUntilIdle("waha.lids").ok());
  CHECK(w.Count("contacts") == 2);
  CHECK(w.Count("contact_identities", "wa_id = '555555555555555@lid'") == 1);
  CHECK(w.Count("events", "type = 'contact.merged'") == 1);
}

VENTROS_DB_TEST("WAHA send: a 5xx whose message went out is settled by the echo, not re-sent",
                "[waha][send]") {
  // Regression: the retry after a 5xx sent the message a second time when WAHA had in fact
  // delivered it (the echo of the first send was stored as a new message).
  SendWorld w(engine);
  w.fake.Enqueue("POST /api/sendText", testing::FakeWaha::Json(500, "{}"));
  auto m = w.Send("Segue a proposta");
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  CHECK(w.Get(m).status == "queued");
  json::value echo = json::parse(Fixture("message_any_api_echo.json"));
  echo.as_object()["payload"].as_object()["body"] = "Segue a proposta";
  w.Deliver(json::serialize(echo));
  CHECK(w.Get(m).status == "sent");
  w.clock.AdvanceMillis(60 * 1000);
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  CHECK(w.fake.Calls("POST", "/api/sendText").size() == 1);
  CHECK(w.Count("messages") == 1);
  CHECK(w.Count("events", "type = 'message.sent'") == 1);
}

VENTROS_DB_TEST("WAHA send: an ack that beats the sendText answer is applied", "[waha][send]") {
  // Regression: the ack was parked and never applied to an outbound message.
  SendWorld w(engine);
  auto m = w.Send("Oi");
  // WAHA acknowledges the id it is about to return (the fake's ids are deterministic).
  REQUIRE(w.bus.RunUntilIdle("waha.sender").ok());
  auto sent = w.Get(m);
  REQUIRE(sent.waha_bare_id.has_value());
  CHECK_FALSE(sent.ack.has_value());
  // Same order as in production, replayed: park the ack first, then mark sent again.
  auto conn = w.database->Acquire();
  REQUIRE((*conn)
              ->Query("UPDATE messages SET status = 'sending', waha_id = NULL, waha_bare_id = NULL")
              .ok());
  conn = core::PooledConnection();
  json::value ack = json::parse(Fixture("message_ack_read.json"));
  ack.as_object()["payload"].as_object()["id"] = *sent.waha_id;
  w.Deliver(json::serialize(ack));
  CHECK(w.Count("pending_acks") == 1);
  REQUIRE(w.messaging.MarkSent(w.tenant, m.id, *sent.waha_id).ok());
  CHECK(w.Get(m).ack == std::optional<int>(3));
  CHECK(w.Count("pending_acks") == 0);
}

VENTROS_DB_TEST("WAHA send: two senders on one message call WAHA once", "[waha][send]") {
  SendWorld w(engine);
  waha::WahaSender second(w.messaging, w.gateway, {}, core::NullLogger());
  auto m = w.Send("Só uma vez");
  auto events = w.bus.ListEvents(std::string("message.send_requested"), 0, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(w.sender.Send(events->at(0)).ok());
  CHECK(second.Send(events->at(0)).ok());
  CHECK(w.fake.Calls("POST", "/api/sendText").size() == 1);
  CHECK(w.Get(m).status == "sent");
}

VENTROS_DB_TEST("WAHA: applying a webhook with a one-connection pool does not wait on itself",
                "[waha]") {
  // Regression: a channel-cache miss borrowed a second connection while the first held the
  // write transaction; with one connection it timed out.
  TestDb db(engine);
  auto database = db.OpenMigrated(1);
  core::VirtualClock clock(1760701000000);
  core::EventBus bus(*database, clock, core::NullLogger());
  crm::TenantService tenants(*database, clock);
  crm::MessagingService messaging(*database, clock, &bus);
  waha::WahaIngest ingest(*database, clock, messaging, &bus, core::NullLogger());
  auto t = tenants.CreateTenant("T");
  REQUIRE(t.ok());
  crm::ChannelInput in;
  in.name = "main";
  in.waha_url = "http://127.0.0.1:3000";
  auto channel = messaging.CreateChannel(t->first.id, in);
  REQUIRE(channel.ok());
  auto stored = ingest.Receive(*channel, Fixture("message_text.json"), "");
  REQUIRE(stored.ok());
  clock.AdvanceMillis(waha::WahaIngest::kChannelCacheMs + 1);  // the cached channel expired
  auto applied = ingest.Process(stored->inbox_id);
  INFO(applied.ToString());
  CHECK(applied.ok());
}

VENTROS_DB_TEST("WAHA media: stored by content, and a download that keeps failing is recorded",
                "[waha][media]") {
  SendWorld w(engine);
  testing::TempDir dir;
  waha::WahaOptions opts;
  opts.media_dir = dir.path();
  waha::MediaDownloader media(w.messaging, w.gateway, opts, core::NullLogger(), w.clock);
  core::ConsumerOptions copts;
  copts.types = {"message.received"};
  copts.initial_backoff = std::chrono::milliseconds(1000);
  w.bus.Subscribe("waha.media", media.Handler(), copts);
  auto image = [&](const std::string& envelope, const std::string& bare, const std::string& file) {
    json::value v = json::parse(Fixture("message_image.json"));
    v.as_object()["id"] = envelope;
    auto& p = v.as_object()["payload"].as_object();
    p["id"] = "false_5511987654321@c.us_" + bare;
    p["media"].as_object()["url"] = w.fake.FileUrl(file, "localhost");  // WAHA's own view
    return json::serialize(v);
  };
  w.fake.PutFile("ok.jpeg", "\xff\xd8jpeg-bytes", "image/jpeg");
  w.Deliver(image("evt_m1", "3EB0IMG0001", "ok.jpeg"));
  REQUIRE(w.bus.RunUntilIdle("waha.media").ok());
  auto stored = w.Rows("SELECT media_state, media_size, media_path FROM messages");
  CHECK(stored.rows[0].GetText(0) == "stored");
  CHECK(stored.rows[0].GetInt(1) == 12);
  CHECK_THAT(stored.rows[0].GetText(2), Catch::StartsWith(dir.path()));

  // WAHA answers 503 for a while: retried, then recorded as failed once the file must be gone.
  for (int i = 0; i < 10; ++i) {
    w.fake.Enqueue("GET /api/files/late.jpeg", testing::FakeWaha::Json(503, "{}"));
  }
  w.Deliver(image("evt_m2", "3EB0IMG0002", "late.jpeg"));
  REQUIRE(w.bus.RunUntilIdle("waha.media").ok());
  CHECK(w.Count("messages", "media_state = 'pending'") == 1);
  w.clock.AdvanceMillis(waha::MediaDownloader::kGiveUpAfterMs + 60 * 1000);
  REQUIRE(w.bus.RunUntilIdle("waha.media").ok());
  CHECK(w.Count("messages", "media_state = 'failed'") == 1);
  CHECK(w.Count("event_deliveries") == 0);
}

namespace {
// Makes storing a message fail (a database error, not a malformed payload) until removed.
void BreakMessageInserts(World& w, bool broken) {
  auto conn = w.database->Acquire();
  REQUIRE(conn.ok());
  std::string sql;
  if (w.db.engine() == core::DbEngine::kSqlite) {
    sql = broken ? "CREATE TRIGGER break_messages BEFORE INSERT ON messages "
                   "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
                 : "DROP TRIGGER break_messages;";
  } else {
    sql = broken ? "CREATE FUNCTION break_messages() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION 'disk on fire'; END $$ LANGUAGE plpgsql; "
                   "CREATE TRIGGER break_messages BEFORE INSERT ON messages FOR EACH ROW "
                   "EXECUTE FUNCTION break_messages();"
                 : "DROP TRIGGER break_messages ON messages; DROP FUNCTION break_messages();";
  }
  REQUIRE((*conn)->ExecScript(sql).ok());
}

// A webhook stored pending at `received_at` and never applied (a crash, a dead letter).
void LeavePending(World& w, const std::string& id, int64_t received_at) {
  auto conn = w.database->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)
              ->Query("INSERT INTO waha_inbox (id, tenant_id, channel_id, envelope_id, event, "
                      "body, state, received_at) VALUES ($1, $2, $3, $4, 'message', '{}', "
                      "'pending', $5)",
                      {core::DbValue(id), core::DbValue(w.tenant.str()),
                       core::DbValue(w.channel.id.str()), core::DbValue("evt_" + id),
                       core::DbValue(received_at)})
              .ok());
}

std::string TextWebhook(const std::string& envelope, const std::string& message_id,
                        const std::string& text) {
  json::value v = json::parse(Fixture("message_text.json"));
  v.as_object()["id"] = envelope;
  auto& p = v.as_object()["payload"].as_object();
  p["id"] = "false_5511987654321@c.us_" + message_id;
  p["body"] = text;
  return json::serialize(v);
}
}  // namespace

VENTROS_DB_TEST("WAHA: a webhook is applied in the transaction that stores it", "[waha]") {
  World w(engine);
  std::string body = Fixture("message_text.json");
  auto stored = w.ingest.Receive(w.channel, body, "");
  REQUIRE(stored.ok());
  // No bus pass has run: the answer already means applied.
  CHECK(w.Count("messages") == 1);
  CHECK(w.Count("waha_inbox", "state = 'processed' AND processed_at IS NOT NULL") == 1);
  CHECK(w.Count("events", fmt::format("type = '{}'", waha::kWebhookReceived)) == 0);
  CHECK(w.Count("events", "type = 'message.received'") == 1);
  // A malformed payload is stored as failed with its reason, still answered.
  json::value bad = json::parse(body);
  bad.as_object()["id"] = "evt_no_chat";
  bad.as_object()["payload"] = json::object{{"id", "x"}};
  REQUIRE(w.ingest.Receive(w.channel, json::serialize(bad), "").ok());
  auto failed = w.Rows("SELECT state, error FROM waha_inbox WHERE envelope_id = 'evt_no_chat'");
  REQUIRE(failed.rows.size() == 1);
  CHECK(failed.rows[0].GetText(0) == "failed");
  CHECK_THAT(failed.rows[0].GetText(1), Catch::Contains("chat"));
}

VENTROS_DB_TEST(
    "WAHA: a webhook that cannot be applied is stored for the bus, and the next one's writer "
    "applies it first",
    "[waha]") {
  World w(engine);
  BreakMessageInserts(w, true);
  // Applying fails: the webhook is still stored and answered, pending, with its event.
  auto first = w.ingest.Receive(w.channel, TextWebhook("evt_a", "AAA", "primeira"), "");
  REQUIRE(first.ok());
  CHECK_FALSE(first->duplicate);
  CHECK(w.Count("messages") == 0);
  CHECK(w.Count("waha_inbox", "state = 'pending'") == 1);
  CHECK(w.Count("events", fmt::format("type = '{}'", waha::kWebhookReceived)) == 1);
  // The same webhook again is a duplicate of the stored one.
  auto again = w.ingest.Receive(w.channel, TextWebhook("evt_a", "AAA", "primeira"), "");
  REQUIRE(again.ok());
  CHECK(again->duplicate);
  BreakMessageInserts(w, false);
  // Applying works again: the waiting one is applied first, then the new one, on arrival.
  REQUIRE(w.ingest.Receive(w.channel, TextWebhook("evt_b", "BBB", "segunda"), "").ok());
  CHECK(w.Count("messages") == 2);
  CHECK(w.Count("waha_inbox", "state = 'pending'") == 0);
  // The bus finds nothing left to do.
  REQUIRE(w.bus.RunUntilIdle("waha.ingest").ok());
  CHECK(w.Count("messages") == 2);
  auto order = w.Rows("SELECT payload FROM events WHERE type = 'message.received' ORDER BY seq");
  REQUIRE(order.rows.size() == 2);
  CHECK_THAT(order.rows[0].GetText(0), Catch::Contains("primeira"));
  CHECK_THAT(order.rows[1].GetText(0), Catch::Contains("segunda"));
  CHECK(w.Count("waha_inbox", "state = 'processed'") == 2);
}

VENTROS_DB_TEST("WAHA: Submit answers on the writer thread, checking the HMAC and the channel",
                "[waha][hmac]") {
  World w(engine, "sekret");
  auto submit = [&](const std::string& channel_id, const std::string& body,
                    const std::string& hmac) {
    std::promise<core::Result<waha::WahaIngest::Stored>> answer;
    w.ingest.Submit(crm::ChannelId(channel_id), body, hmac,
                    [&](core::Result<waha::WahaIngest::Stored> r) { answer.set_value(r); });
    return answer.get_future().get();
  };
  std::string body = TextWebhook("evt_s1", "S1", "oi");
  std::string good = core::HmacSha512Hex("sekret", body);
  // Not cached yet (read by the writer thread), then cached (checked on this thread).
  auto first = submit(w.channel.id.str(), body, good);
  REQUIRE(first.ok());
  CHECK_FALSE(first->duplicate);
  CHECK(w.Count("messages") == 1);
  auto dup = submit(w.channel.id.str(), body, good);
  REQUIRE(dup.ok());
  CHECK(dup->duplicate);
  CHECK(submit(w.channel.id.str(), body, "00").status().code() ==
        core::StatusCode::kUnauthenticated);
  CHECK(submit(w.channel.id.str(), "{not json", core::HmacSha512Hex("sekret", "{not json"))
            .status()
            .code() == core::StatusCode::kInvalidArgument);
  CHECK(submit("01936f2e-0000-7000-8000-000000000000", body, good).status().code() ==
        core::StatusCode::kNotFound);
  // Many at once: each answered once, all stored.
  constexpr int kMany = 200;
  std::vector<std::string> bodies;
  for (int i = 0; i < kMany; ++i) {
    bodies.push_back(TextWebhook(fmt::format("evt_m{}", i), fmt::format("M{}", i), "lote"));
  }
  std::atomic<int> answered{0}, ok{0};
  std::promise<void> all;
  for (const auto& b : bodies) {
    w.ingest.Submit(w.channel.id, b, core::HmacSha512Hex("sekret", b),
                    [&](core::Result<waha::WahaIngest::Stored> r) {
                      if (r.ok() && !r->duplicate) ++ok;
                      if (++answered == kMany) all.set_value();
                    });
  }
  all.get_future().wait();
  CHECK(ok == kMany);
  CHECK(w.Count("messages") == 1 + kMany);
}

VENTROS_DB_TEST("WAHA: a webhook left pending for hours (dead-lettered) does not hold new ones",
                "[waha]") {
  World w(engine);
  LeavePending(w, "old", w.clock.NowMillis() - 2 * 3600 * 1000);
  REQUIRE(w.ingest.Receive(w.channel, TextWebhook("evt_new", "NEW", "nova"), "").ok());
  CHECK(w.Count("messages") == 1);                         // applied on arrival
  CHECK(w.Count("waha_inbox", "state = 'pending'") == 1);  // the old one, for an operator
}

VENTROS_DB_TEST("WAHA: a message already stored without its inbox row is still a duplicate",
                "[waha]") {
  World w(engine);
  std::string body = Fixture("message_text.json");
  w.Deliver(body);
  {
    // The inbox forgot it (its key admits the message as new); the messages' own unique index
    // still knows: applying on arrival fails, the bus applies it as a duplicate.
    auto conn = w.database->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Query("DELETE FROM waha_inbox").ok());
  }
  auto again = w.ingest.Receive(w.channel, body, "");
  REQUIRE(again.ok());
  CHECK_FALSE(again->duplicate);
  REQUIRE(w.bus.RunUntilIdle("waha.ingest").ok());
  CHECK(w.Count("messages") == 1);
  CHECK(w.Count("waha_inbox", "state = 'duplicate'") == 1);
  CHECK(w.Count("events", "type = 'message.received'") == 1);
}

VENTROS_DB_TEST("WAHA: webhooks a previous run left pending are applied first after a restart",
                "[waha]") {
  World w(engine);
  LeavePending(w, "left", w.clock.NowMillis() - 60 * 1000);
  REQUIRE(w.ingest.Receive(w.channel, TextWebhook("evt_after", "AFTER", "depois"), "").ok());
  // The one left is applied first (its empty body fails, with the reason), then the new one.
  CHECK(w.Rows("SELECT state FROM waha_inbox WHERE id = 'left'").rows[0].GetText(0) == "failed");
  CHECK(w.Count("messages") == 1);
  CHECK(w.Count("waha_inbox", "state = 'pending'") == 0);
}
