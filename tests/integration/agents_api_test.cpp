// The agents through the whole application on both engines: a customer's WhatsApp message goes in
// through the real webhook path and the reply comes out at a fake WAHA; the router, the offline
// model, tools and guardrails, handoff, a backlog after downtime answered once, a failing model,
// and hosted models (OpenAI-compatible and Gemini wire formats) scripted by fake servers. Also the
// REST surface: templates, agents, router, offers, turns.

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/crm/tenants.hpp"

using ventros::testing::EventuallyWithin;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;
using ventros::testing::FakeWaha;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
namespace json = boost::json;

namespace {

constexpr const char* kSecret = "sekret";

ventros::core::Config AgentsConfig() {
  auto c = TestServer::DefaultConfig();
  c.modules = {"crm", "memory", "agents"};
  c.events.poll_interval_ms = 50;
  return c;
}

struct Setup {
  std::string channel;
};

Setup AddChannel(TestServer& s, const std::string& waha_url, const std::string& api_key) {
  return {ventros::testing::CreateWahaChannel(s, waha_url, api_key, kSecret)};
}

void Post(TestServer& s, const std::string& channel, const std::string& body) {
  ventros::testing::PostWebhook(s, channel, kSecret, body);
}

std::vector<std::string> SentTexts(const FakeWaha& waha) {
  std::vector<std::string> out;
  for (const auto& c : waha.Calls("POST", "/api/sendText")) out.push_back(c.JsonString("text"));
  return out;
}

json::array Turns(TestServer& s, const std::string& query = "", std::string key = "") {
  auto r = s.Call("GET", "/v1/agent-turns" + query, key.empty() ? s.admin_key() : key);
  REQUIRE(r.status == 200);
  return ParseJson(r.body).at("items").as_array();
}

std::string OnlyContact(TestServer& s) {
  auto items = ParseJson(s.Call("GET", "/v1/contacts", s.admin_key()).body).at("items").as_array();
  REQUIRE(items.size() == 1);
  return std::string(items[0].at("id").as_string());
}

// A contact that has been a customer for `days` (seeded in the database as an import would).
void MakeCustomer(TestServer& s, const std::string& contact, int days) {
  auto r = s.Call("PATCH", "/v1/contacts/" + contact, s.admin_key(),
                  R"({"pipeline_stage":"active_customer"})");
  REQUIRE(r.status == 200);
  auto conn = s.server().database().Acquire();
  REQUIRE(conn.ok());
  int64_t entered = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() -
                    int64_t{days} * 86400000;
  REQUIRE((*conn)
              ->Query("UPDATE contacts SET stage_entered_at = $1 WHERE id = $2",
                      {ventros::core::DbValue(entered), ventros::core::DbValue(contact)})
              .ok());
}

}  // namespace

VENTROS_DB_TEST("Agents: a customer's message is routed, answered through WAHA and recorded",
                "[api][agents]") {
  TestDb db(engine);
  FakeWaha waha;
  TestServer s(db.url(), AgentsConfig());
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Quero cancelar minha conta, muito caro",
                                        "A1"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 1; }));
  auto call = waha.Calls("POST", "/api/sendText").at(0);
  CHECK(call.JsonString("chatId") == "5511987654321@c.us");
  CHECK_FALSE(call.JsonString("text").empty());

  auto turns = Turns(s);
  REQUIRE(turns.size() == 1);
  const auto& t = turns[0].as_object();
  CHECK(t.at("agent_category").as_string() == "retention_churn");
  CHECK(t.at("status").as_string() == "replied");
  CHECK(t.at("model").as_string() == "offline/rules-v1");
  CHECK(t.at("groundedness").at("score").as_double() == 1.0);
  CHECK(std::string(t.at("context").as_string()).find("=== RECENT MESSAGES ===") !=
        std::string::npos);
  // No tenure: no retention offer.
  CHECK(ParseJson(s.Call("GET", "/v1/offers", s.admin_key()).body).at("items").as_array().empty());

  // The reply is an outbound message of source bot with the agent's metadata.
  std::string contact = OnlyContact(s);
  auto msgs = ParseJson(s.Call("GET", "/v1/messages?contact_id=" + contact, s.admin_key()).body)
                  .at("items")
                  .as_array();
  REQUIRE(msgs.size() == 2);
  const auto& out = msgs[1].as_object();
  CHECK(out.at("source").as_string() == "bot");
  CHECK(out.at("metadata").at("agent_category").as_string() == "retention_churn");
  CHECK(out.at("metadata").at("trace_id").as_string() == t.at("trace_id").as_string());
  CHECK(out.at("metadata").at("turn_id").as_string() == t.at("id").as_string());

  // Session state keeps the category; turns are listed by session.
  std::string session(msgs[0].at("session_id").as_string());
  CHECK(Turns(s, "?session_id=" + session).size() == 1);
  CHECK(Turns(s, "?session_id=01937f4e-0000-7000-8000-000000000000").empty());
  CHECK(s.Call("GET", "/v1/agent-turns?session_id=nope", s.admin_key()).status == 400);
}

VENTROS_DB_TEST(
    "Agents: a long-standing customer's price objection gets a retention offer "
    "inside the limits",
    "[api][agents]") {
  TestDb db(engine);
  FakeWaha waha;
  TestServer s(db.url(), AgentsConfig());
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel, ventros::testing::MessageWebhook("5511987654321", "Oi, tudo bem?", "B1"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 1; }));
  std::string contact = OnlyContact(s);
  MakeCustomer(s, contact, 90);
  auto fact = s.Call("POST", "/v1/contacts/" + contact + "/facts", s.admin_key(),
                     R"({"type":"objection","subject":"competitor_price",)"
                     R"("text":"Competitor is 30% cheaper"})");
  REQUIRE(fact.status == 201);

  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Quero cancelar minha conta, muito caro",
                                        "B2"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 2; }));
  auto offers = ParseJson(s.Call("GET", "/v1/offers?contact_id=" + contact, s.admin_key()).body)
                    .at("items")
                    .as_array();
  REQUIRE(offers.size() == 1);
  CHECK(offers[0].at("discount_percent").as_int64() == 30);
  CHECK(offers[0].at("duration_months").as_int64() == 3);
  std::string reply = SentTexts(waha).back();
  CHECK(reply.find("30%") != std::string::npos);
  auto turns = Turns(s);
  const auto& latest = turns[0].as_object();
  CHECK(latest.at("offer_id").as_string() == offers[0].at("id").as_string());
  REQUIRE(latest.at("tool_calls").as_array().size() >= 1);
  const auto& tool = latest.at("tool_calls").as_array()[0].as_object();
  CHECK(tool.at("name").as_string() == "create_retention_offer");
  CHECK(tool.at("ok").as_bool());
  CHECK(tool.at("verdicts").as_array()[0].as_string() == "offer_limits: passed");
}

VENTROS_DB_TEST("Agents: a session handed to a human is not answered until handed back",
                "[api][agents]") {
  TestDb db(engine);
  FakeWaha waha;
  TestServer s(db.url(), AgentsConfig());
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Olá, preciso de ajuda com a fatura",
                                        "C1"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 1; }));
  std::string contact = OnlyContact(s);
  auto sessions = ParseJson(s.Call("GET", "/v1/sessions?contact_id=" + contact, s.admin_key()).body)
                      .at("items")
                      .as_array();
  std::string session(sessions.at(0).at("id").as_string());

  auto bad =
      s.Call("POST", "/v1/sessions/" + session + "/assign", s.admin_key(), R"({"type":"robot"})");
  CHECK(bad.status == 400);
  auto human = s.Call("POST", "/v1/sessions/" + session + "/assign", s.admin_key(),
                      R"({"type":"human","agent_id":"maria","reason":"VIP"})");
  REQUIRE(human.status == 200);
  CHECK(ParseJson(human.body).at("assigned_agent_type").as_string() == "human");

  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Alguém aí? A fatura veio errada", "C2"));
  // The message is stored and the coordinator has passed it (its position moved), silently.
  REQUIRE(EventuallyWithin(15, [&] {
    auto r = s.Call("GET", "/v1/messages?contact_id=" + contact, s.admin_key());
    return ParseJson(r.body).at("items").as_array().size() == 3;
  }));
  REQUIRE(EventuallyWithin(15, [&] {
    auto conn = s.server().database().Acquire();
    auto rows = (*conn)->Query(
        "SELECT c.position >= (SELECT MAX(seq) FROM events WHERE type = 'message.received') "
        "FROM event_consumers c WHERE c.name = 'agents.coordinator'");
    return rows.ok() && !rows->empty() && rows->rows[0].GetInt(0) == 1;
  }));
  CHECK(SentTexts(waha).size() == 1);
  CHECK(Turns(s).size() == 1);
  auto events = ParseJson(s.Call("GET", "/v1/contacts/" + contact + "/events", s.admin_key()).body)
                    .at("items")
                    .as_array();
  bool handoff_event = false;
  for (const auto& e : events) handoff_event |= e.at("category").as_string() == "handoff";
  CHECK(handoff_event);

  auto back =
      s.Call("POST", "/v1/sessions/" + session + "/assign", s.admin_key(), R"({"type":"ai"})");
  REQUIRE(back.status == 200);
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "E agora, alguém pode ver a minha fatura?",
                                        "C3"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 2; }));
  // The turn after hand-back answers what came after it; the human answered the rest.
  auto turns = Turns(s);
  CHECK(turns[0].at("message_ids").as_array().size() == 1);
}

VENTROS_DB_TEST(
    "Agents: with the agents module off messages wait - the backlog is answered in "
    "order, each turn once",
    "[api][agents]") {
  TestDb db(engine);
  FakeWaha waha;
  std::string channel, key;
  {
    auto config = AgentsConfig();
    config.modules = {"crm", "waha"};
    TestServer s(db.url(), config);
    channel = AddChannel(s, waha.BaseUrl(), waha.api_key()).channel;
    // The first start's admin key is printed once; the restarted server needs a key of its own.
    auto created =
        s.Call("POST", "/v1/api-keys", s.admin_key(), R"({"name":"ops","role":"admin"})");
    REQUIRE(created.status == 201);
    key = std::string(ParseJson(created.body).at("key").as_string());
    Post(s, channel, ventros::testing::MessageWebhook("5511987654321", "Oi", "D1"));
    Post(s, channel,
         ventros::testing::MessageWebhook("5511987654321", "Quero cancelar minha conta", "D2"));
    Post(s, channel,
         ventros::testing::MessageWebhook("5511911112222", "My app shows error 500 when I log in",
                                          "D3", "Ana"));
    REQUIRE(EventuallyWithin(15, [&] {
      auto r = ParseJson(s.Call("GET", "/v1/messages", s.admin_key()).body);
      return r.at("items").as_array().size() == 3;
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(SentTexts(waha).empty());
    CHECK(s.Call("GET", "/v1/agent-turns", s.admin_key()).status == 404);
  }
  // Agents back: one turn per conversation, the first one covering both of Leonardo's messages.
  TestServer s(db.url(), AgentsConfig());
  REQUIRE(EventuallyWithin(20, [&] { return SentTexts(waha).size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto texts = SentTexts(waha);
  REQUIRE(texts.size() == 2);
  auto turns = Turns(s, "", key);
  REQUIRE(turns.size() == 2);
  std::map<std::string, json::object> by_category;
  for (const auto& t : turns)
    by_category[std::string(t.at("agent_category").as_string())] = t.as_object();
  REQUIRE(by_category.contains("retention_churn"));
  CHECK(by_category["retention_churn"].at("message_ids").as_array().size() == 2);
  REQUIRE(by_category.contains("support_technical"));
  // English in, English out.
  for (const auto& c : waha.Calls("POST", "/api/sendText")) {
    if (c.JsonString("chatId") == "5511911112222@c.us") {
      INFO(c.JsonString("text"));
      CHECK(c.JsonString("text").starts_with("Hi"));
    }
  }
}

namespace {

// An OpenAI-compatible chat server that fails `failures` times, then plays `answers` in order
// (the last one repeats), recording the requests.
struct FakeOpenAi {
  std::mutex mu;
  int failures = 0;
  std::vector<std::string> answers;
  std::vector<json::value> requests;
  size_t next = 0;
  FakeHttpServer server{[this](const FakeRequest& r) { return Handle(r); }};

  FakeReply Handle(const FakeRequest& r) {
    std::lock_guard lock(mu);
    requests.push_back(json::parse(r.body));
    if (failures > 0) {
      --failures;
      return FakeReply{.status = 503, .body = R"({"error":{"message":"overloaded"}})"};
    }
    std::string content = answers.at(std::min(next, answers.size() - 1));
    ++next;
    return FakeReply{
        .status = 200, .headers = {{"Content-Type", "application/json"}}, .body = content};
  }
  size_t Count() {
    std::lock_guard lock(mu);
    return requests.size();
  }
};

std::string OpenAiText(const std::string& text) {
  return json::serialize(json::object{
      {"id", "chatcmpl-1"},
      {"model", "gpt-4o-mini-2024-07-18"},
      {"choices",
       json::array{json::object{{"index", 0},
                                {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                {"finish_reason", "stop"}}}},
      {"usage", json::object{{"prompt_tokens", 1200},
                             {"completion_tokens", 80},
                             {"total_tokens", 1280},
                             {"prompt_tokens_details", json::object{{"cached_tokens", 1000}}}}}});
}

std::string OpenAiTool(const std::string& name, const std::string& args) {
  return json::serialize(json::object{
      {"id", "chatcmpl-2"},
      {"model", "gpt-4o-mini-2024-07-18"},
      {"choices",
       json::array{json::object{
           {"index", 0},
           {"message",
            json::object{{"role", "assistant"},
                         {"content", nullptr},
                         {"tool_calls",
                          json::array{json::object{
                              {"id", "call_abc"},
                              {"type", "function"},
                              {"function", json::object{{"name", name}, {"arguments", args}}}}}}}},
           {"finish_reason", "tool_calls"}}}},
      {"usage",
       json::object{{"prompt_tokens", 1000}, {"completion_tokens", 20}, {"total_tokens", 1020}}}});
}

}  // namespace

VENTROS_DB_TEST(
    "Agents: an OpenAI-compatible model's tool calls go through the guardrails - an "
    "ungrounded reply is replaced and the session handed to a human",
    "[api][agents][llm]") {
  TestDb db(engine);
  FakeWaha waha;
  FakeOpenAi llm;
  // 1st turn: asks for 45 % (refused, escalate), then answers with the grounded text.
  // 2nd turn (after hand back): invents a 50 % discount: replaced.
  llm.answers = {OpenAiTool("create_retention_offer",
                            R"({"discount_percent":45,"duration_months":6,"reason":"price"})"),
                 OpenAiText("Entendo. Vou pedir a um supervisor para avaliar o seu caso."),
                 OpenAiText("Posso te dar 50% de desconto agora mesmo!")};
  auto config = AgentsConfig();
  config.llm.provider = "openai";
  config.llm.base_url = llm.server.Url("");
  config.llm.model = "gpt-4o-mini";
  TestServer s(db.url(), config);
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Quero cancelar minha conta, muito caro",
                                        "E1"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 1; }));
  CHECK(SentTexts(waha)[0] == "Entendo. Vou pedir a um supervisor para avaliar o seu caso.");
  CHECK(ParseJson(s.Call("GET", "/v1/offers", s.admin_key()).body).at("items").as_array().empty());
  auto turns = Turns(s);
  REQUIRE(turns.size() == 1);
  const auto& t = turns[0].as_object();
  CHECK(t.at("model").as_string() == "gpt-4o-mini-2024-07-18");
  const auto& tool = t.at("tool_calls").as_array().at(0).as_object();
  CHECK_FALSE(tool.at("ok").as_bool());
  CHECK(tool.at("result").at("escalate").as_bool());
  CHECK(std::string(tool.at("verdicts").as_array()[0].as_string())
            .starts_with("offer_limits: "
                         "refused"));
  // Tokens and cost from the price table: 2 calls; (200 * 0.15 + 1000 * 0.075 + 80 * 0.60 + 1000
  // * 0.15 + 20 * 0.60) / 1e6.
  CHECK(t.at("usage").at("prompt_tokens").as_int64() == 2200);
  CHECK(t.at("usage").at("cached_tokens").as_int64() == 1000);
  CHECK(t.at("usage").at("cost_usd").as_double() ==
        Approx((200 * 0.15 + 1000 * 0.075 + 80 * 0.60 + 1000 * 0.15 + 20 * 0.60) / 1e6));
  // The model saw the tool result and the tools it may call.
  {
    std::lock_guard lock(llm.mu);
    REQUIRE(llm.requests.size() == 2);
    const auto& second = llm.requests[1].as_object();
    CHECK(second.at("tools").as_array().size() >= 3);
    bool saw_result = false;
    for (const auto& m : second.at("messages").as_array()) {
      if (m.at("role").as_string() == "tool") {
        saw_result = std::string(m.at("content").as_string()).find("needs a supervisor") !=
                     std::string::npos;
      }
    }
    CHECK(saw_result);
  }

  std::string contact = OnlyContact(s);
  auto sessions = ParseJson(s.Call("GET", "/v1/sessions?contact_id=" + contact, s.admin_key()).body)
                      .at("items")
                      .as_array();
  std::string session(sessions.at(0).at("id").as_string());
  // The refusal escalates in code: the model's own words go out, and a person takes over.
  CHECK(t.at("status").as_string() == "handoff");
  CHECK(ParseJson(s.Call("GET", "/v1/sessions/" + session, s.admin_key()).body)
            .at("assigned_agent_type")
            .as_string() == "human");
  REQUIRE(s.Call("POST", "/v1/sessions/" + session + "/assign", s.admin_key(), R"({"type":"ai"})")
              .status == 200);
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "E então, vai ter desconto?", "E2"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 2; }));
  std::string safe = SentTexts(waha)[1];
  CHECK(safe.find("50%") == std::string::npos);
  auto second = Turns(s)[0].as_object();
  CHECK(second.at("groundedness").at("reply_replaced").as_bool());
  CHECK(second.at("groundedness").at("score").as_double() < 1.0);
  CHECK(second.at("status").as_string() == "handoff");
  auto now_session = ParseJson(s.Call("GET", "/v1/sessions/" + session, s.admin_key()).body);
  CHECK(now_session.at("assigned_agent_type").as_string() == "human");
}

VENTROS_DB_TEST(
    "Agents: a failing model makes the turn wait - it is answered once when the model "
    "recovers",
    "[api][agents][llm]") {
  TestDb db(engine);
  FakeWaha waha;
  FakeOpenAi llm;
  llm.failures = 4;  // more than one call's own attempts: the event itself is retried
  llm.answers = {OpenAiText("Olá Leonardo! Como posso ajudar?")};
  auto config = AgentsConfig();
  config.llm.provider = "openai";
  config.llm.base_url = llm.server.Url("");
  config.llm.model = "gpt-4o-mini";
  TestServer s(db.url(), config);
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel, ventros::testing::MessageWebhook("5511987654321", "Oi, bom dia", "F1"));
  REQUIRE(EventuallyWithin(30, [&] { return SentTexts(waha).size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(SentTexts(waha).size() == 1);
  CHECK(SentTexts(waha)[0] == "Olá Leonardo! Como posso ajudar?");
  CHECK(llm.Count() == 5);
  CHECK(Turns(s).size() == 1);
}

VENTROS_DB_TEST("Agents API: templates, agents, router - bad input and other tenants",
                "[api][agents]") {
  TestDb db(engine);
  TestServer s(db.url(), AgentsConfig());
  const std::string admin = s.admin_key();
  auto list = s.Call("GET", "/v1/agent-templates", admin);
  REQUIRE(list.status == 200);
  auto items = ParseJson(list.body).at("items").as_array();
  REQUIRE(items.size() == 5);
  CHECK(items[1].at("id").as_string() == "retention_churn");
  CHECK(items[1].at("constraints").at("max_discount_percent").as_int64() == 30);
  CHECK(s.Call("GET", "/v1/agent-templates/support_billing", admin).status == 200);
  CHECK(s.Call("GET", "/v1/agent-templates/nope", admin).status == 404);

  auto created = s.Call("POST", "/v1/agents", admin,
                        R"({"template_id":"retention_churn","name":"Retenção Bot",)"
                        R"("overrides":{"max_discount_percent":15}})");
  REQUIRE(created.status == 201);
  auto agent = ParseJson(created.body);
  std::string id(agent.at("id").as_string());
  CHECK(agent.at("category").as_string() == "retention_churn");
  CHECK(agent.at("overrides").at("max_discount_percent").as_int64() == 15);
  CHECK(s.Call("POST", "/v1/agents", admin,
               R"({"template_id":"retention_churn","name":"Retenção Bot"})")
            .status == 409);
  CHECK(s.Call("POST", "/v1/agents", admin, R"({"template_id":"nope","name":"x"})").status == 400);
  CHECK(
      s.Call(
           "POST", "/v1/agents", admin,
           R"({"template_id":"retention_churn","name":"y","overrides":{"max_discount_percent":50}})")
          .status == 400);
  CHECK(s.Call("POST", "/v1/agents", admin,
               R"({"template_id":"retention_churn","name":"y","overrides":{"colour":"blue"}})")
            .status == 400);
  CHECK(s.Call("POST", "/v1/agents", admin, R"({"template_id":"retention_churn"})").status == 400);
  CHECK(s.Call("POST", "/v1/agents", admin, R"({"template_id":7,"name":"z"})").status == 400);
  CHECK(s.Call("POST", "/v1/agents", admin, "{nope").status == 400);
  CHECK(s.Call("GET", "/v1/agents/" + id, admin).status == 200);
  CHECK(s.Call("GET", "/v1/agents/01937f4e-0000-7000-8000-000000000000", admin).status == 404);
  auto patched =
      s.Call("PATCH", "/v1/agents/" + id, admin, R"({"name":"Retenção","enabled":false})");
  REQUIRE(patched.status == 200);
  CHECK_FALSE(ParseJson(patched.body).at("enabled").as_bool());
  CHECK(ParseJson(s.Call("GET", "/v1/agents", admin).body).at("items").as_array().empty());
  CHECK(ParseJson(s.Call("GET", "/v1/agents?include_disabled=true", admin).body)
            .at("items")
            .as_array()
            .size() == 1);

  // Another tenant sees none of it.
  ventros::core::SystemClock clock;
  ventros::crm::TenantService tenants(s.server().database(), clock);
  auto other = tenants.CreateTenant("Other");
  REQUIRE(other.ok());
  std::string other_key = other->second.secret;
  CHECK(s.Call("GET", "/v1/agents/" + id, other_key).status == 404);
  CHECK(s.Call("PATCH", "/v1/agents/" + id, other_key, R"({"name":"mine"})").status == 404);

  // Router.
  auto routed = s.Call("POST", "/v1/router/classify", admin,
                       R"({"text":"O sistema está dando erro 500 quando faço login"})");
  REQUIRE(routed.status == 200);
  auto r = ParseJson(routed.body);
  CHECK(r.at("category").as_string() == "support_technical");
  CHECK(r.at("scores").as_array().size() == 5);
  CHECK(s.Call("POST", "/v1/router/classify", admin, R"({})").status == 400);
  CHECK(s.Call("POST", "/v1/router/classify", admin, R"({"text":5})").status == 400);
  CHECK(s.Call("POST", "/v1/router/examples", admin, R"({"category":"nope","examples":["a"]})")
            .status == 400);
  REQUIRE(s.Call("POST", "/v1/router/examples", admin,
                 R"({"category":"support_billing","examples":["zzqx boleto frobnicate"]})")
              .status == 204);
  auto routes = ParseJson(s.Call("GET", "/v1/router/routes", admin).body).at("items").as_array();
  bool added = false;
  for (const auto& route : routes) {
    for (const auto& e : route.at("examples").as_array()) {
      added |= e.as_string() == "zzqx boleto frobnicate";
    }
  }
  CHECK(added);
  auto mine = ParseJson(
      s.Call("POST", "/v1/router/classify", admin, R"({"text":"zzqx boleto frobnicate"})").body);
  CHECK(mine.at("category").as_string() == "support_billing");
}

namespace {

std::string GeminiAnswer(json::array parts) {
  return json::serialize(json::object{
      {"candidates", json::array{json::object{
                         {"content", json::object{{"role", "model"}, {"parts", std::move(parts)}}},
                         {"finishReason", "STOP"}}}},
      {"usageMetadata", json::object{{"promptTokenCount", 900},
                                     {"candidatesTokenCount", 40},
                                     {"cachedContentTokenCount", 600},
                                     {"totalTokenCount", 940}}},
      {"modelVersion", "gemini-2.5-flash"}});
}

}  // namespace

VENTROS_DB_TEST(
    "Agents: a Gemini model's function call makes an offer - its grounded reply is sent",
    "[api][agents][llm]") {
  TestDb db(engine);
  FakeWaha waha;
  std::mutex mu;
  std::vector<FakeRequest> requests;
  std::vector<std::string> answers = {
      GeminiAnswer(json::array{json::object{
          {"functionCall", json::object{{"name", "create_retention_offer"},
                                        {"args", json::object{{"discount_percent", 20},
                                                              {"duration_months", 3},
                                                              {"reason", "price objection"}}}}}}}),
      GeminiAnswer(json::array{json::object{
          {"text", "Leonardo, posso oferecer 20% de desconto por 3 meses. Fechamos?"}}})};
  FakeHttpServer gemini([&](const FakeRequest& r) {
    std::lock_guard lock(mu);
    requests.push_back(r);
    return FakeReply{.status = 200,
                     .headers = {{"Content-Type", "application/json"}},
                     .body = answers.at(std::min(requests.size() - 1, answers.size() - 1))};
  });
  auto config = AgentsConfig();
  config.llm.provider = "gemini";
  config.llm.base_url = gemini.Url("");
  config.llm.model = "gemini-2.5-flash";
  config.llm.api_key = "gem-key";
  TestServer s(db.url(), config);
  auto setup = AddChannel(s, waha.BaseUrl(), waha.api_key());
  Post(s, setup.channel,
       ventros::testing::MessageWebhook("5511987654321", "Está muito caro, vou cancelar", "G1"));
  REQUIRE(EventuallyWithin(15, [&] { return SentTexts(waha).size() == 1; }));
  CHECK(SentTexts(waha)[0] == "Leonardo, posso oferecer 20% de desconto por 3 meses. Fechamos?");
  auto offers = ParseJson(s.Call("GET", "/v1/offers", s.admin_key()).body).at("items").as_array();
  REQUIRE(offers.size() == 1);
  CHECK(offers[0].at("discount_percent").as_int64() == 20);
  {
    std::lock_guard lock(mu);
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].target == "/v1beta/models/gemini-2.5-flash:generateContent");
    CHECK(requests[0].Header("x-goog-api-key") == "gem-key");
    auto first = json::parse(requests[0].body).as_object();
    CHECK(first.contains("systemInstruction"));
    CHECK(first.at("tools").as_array()[0].at("functionDeclarations").as_array().size() >= 3);
    // The second call carries the function's response.
    CHECK(requests[1].body.find("functionResponse") != std::string::npos);
    CHECK(requests[1].body.find("\"discount_percent\":20") != std::string::npos);
  }
  auto t = Turns(s)[0].as_object();
  CHECK(t.at("model").as_string() == "gemini-2.5-flash");
  CHECK(t.at("usage").at("prompt_tokens").as_int64() == 1800);
  CHECK(t.at("usage").at("cached_tokens").as_int64() == 1200);
  CHECK(t.at("usage").at("cost_usd").as_double() ==
        Approx(2 * (300 * 0.30 + 600 * 0.075 + 40 * 2.50) / 1e6));
  CHECK(t.at("groundedness").at("score").as_double() == 1.0);
}
