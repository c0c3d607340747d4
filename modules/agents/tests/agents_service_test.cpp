// AgentsService on both engines with a virtual clock, the consumers driven by hand: tools end to
// end (offers, follow-ups, pipeline stages), agent overrides, idempotent turns after a crash,
// the age limit of the backlog, messages agents leave alone, the memory graph edges that
// offers and hand-offs add, and the workflow jobs (outreach, BANT qualification, retention
// check).

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <mutex>
#include <optional>

#include "support/test_db.hpp"
#include "ventros/agents/agents.hpp"
#include "ventros/agents/offline_model.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/trace.hpp"
#include "ventros/crm/agents.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/memory.hpp"

namespace ventros {
namespace {

using testing::TestDb;

// The offline model, or a hosted model's answer when one is scripted.
class ScriptedModel : public llm::ChatModel {
 public:
  std::string name() const override { return answer ? "scripted/model" : offline.name(); }
  llm::Result<llm::ChatResponse> Complete(const llm::ChatRequest& request) override {
    last_request = request;
    if (!answer) return offline.Complete(request);
    llm::ChatResponse r;
    r.content = *answer;
    r.finish_reason = "stop";
    return r;
  }
  std::optional<std::string> answer;
  llm::ChatRequest last_request;  // written by the test's thread only when answer is set
  agents::OfflineChatModel offline;
};

// Keeps every span a turn ends.
struct CapturingSink : core::SpanSink {
  void Export(core::SpanData span) override {
    std::lock_guard lock(mu);
    spans.push_back(std::move(span));
  }
  std::vector<core::SpanData> Spans() {
    std::lock_guard lock(mu);
    return spans;
  }
  std::mutex mu;
  std::vector<core::SpanData> spans;
};

struct World {
  explicit World(core::DbEngine engine)
      : db(engine),
        database(db.OpenMigrated()),
        clock(1764000000000),
        tracer(clock, &sink),
        bus(*database, clock, core::NullLogger()),
        tenants(*database, clock),
        messaging(*database, clock, &bus),
        registry(*database, clock),
        memory(*database, clock, core::NullLogger(), messaging, embedder),
        agents(*database, clock, core::NullLogger(), messaging, registry, memory, model,
               router_embedder, nullptr, Options(&tracer)) {
    auto t = tenants.CreateTenant("Loja");
    REQUIRE(t.ok());
    tenant = t->first.id;
    crm::ChannelInput in;
    in.name = "main";
    in.waha_url = "http://127.0.0.1:3000";
    auto c = messaging.CreateChannel(tenant, in);
    REQUIRE(c.ok());
    channel = *c;
    core::ConsumerOptions mem;
    mem.types = memory::MemoryService::ConsumedEventTypes();
    bus.Subscribe(
        "memory.indexer", [this](const core::Event& e) { return memory.HandleEvent(e); }, mem);
    core::ConsumerOptions turns;
    turns.types = agents::AgentsService::ConsumedEventTypes();
    turns.key_parallelism = 4;
    bus.Subscribe(
        "agents.coordinator", [this](const core::Event& e) { return agents.HandleEvent(e); },
        turns);
  }

  static agents::AgentsService::Options Options(const core::Tracer* tracer) {
    agents::AgentsService::Options o;
    o.max_backlog_age_ms = 6 * 3600 * 1000;
    o.tracer = tracer;
    return o;
  }

  crm::InboundResult Say(const std::string& text, const std::string& phone = "5511987654321",
                         const std::string& chat_suffix = "@c.us") {
    crm::InboundMessage m;
    m.chat_id = phone + chat_suffix;
    m.contact_wa_id = m.chat_id;
    m.sender_wa_id = chat_suffix == "@g.us" ? "5511911110000@c.us" : m.chat_id;
    m.push_name = "Leonardo";
    m.waha_id = fmt::format("false_{}{}_M{}", phone, chat_suffix, ++counter);
    m.waha_bare_id = fmt::format("M{}", counter);
    m.source = "contact";
    m.body = text;
    m.message_at = clock.NowMillis();
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    auto tx = core::Transaction::Begin(**conn);
    REQUIRE(tx.ok());
    auto r = messaging.RecordInbound(**conn, channel, m);
    REQUIRE(r.ok());
    REQUIRE(tx->Commit().ok());
    clock.AdvanceMillis(1000);
    return *r;
  }

  void Run() {
    REQUIRE(bus.RunUntilIdle("memory.indexer").ok());
    REQUIRE(bus.RunUntilIdle("agents.coordinator").ok());
    REQUIRE(bus.RunUntilIdle("memory.indexer").ok());
  }

  std::vector<crm::Message> Replies() {
    auto page = messaging.ListMessages(tenant, std::nullopt, std::nullopt, crm::Page{.limit = 200});
    REQUIRE(page.ok());
    std::vector<crm::Message> out;
    for (auto& m : page->items) {
      if (m.direction == "out") out.push_back(m);
    }
    return out;
  }

  void AddFact(const crm::ContactId& contact, const std::string& type, const std::string& text) {
    memory::FactInput f;
    f.type = type;
    f.subject = type + ":test:" + text;
    f.text = text;
    REQUIRE(memory.AddFact(tenant, contact, f).ok());
  }

  int64_t Count(const std::string& sql) {
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    auto r = (*conn)->Query(sql);
    REQUIRE(r.ok());
    return r->rows[0].GetInt(0);
  }
  void Exec(const std::string& sql, std::initializer_list<core::DbValue> params = {}) {
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Query(sql, params).ok());
  }

  // A customer for `days` (as an import would set it).
  void MakeCustomer(const crm::ContactId& contact, int days) {
    crm::ContactInput in;
    in.pipeline_stage = "active_customer";
    REQUIRE(messaging.UpdateContact(tenant, contact, in).ok());
    Exec("UPDATE contacts SET stage_entered_at = $1 WHERE id = $2",
         {core::DbValue(clock.NowMillis() - int64_t{days} * 86400000),
          core::DbValue(contact.str())});
  }

  TestDb db;
  std::unique_ptr<core::Database> database;
  core::VirtualClock clock;
  CapturingSink sink;
  core::Tracer tracer;
  core::EventBus bus;
  crm::TenantService tenants;
  crm::MessagingService messaging;
  crm::AgentRegistry registry;
  memory::LocalEmbedder embedder;
  memory::LocalEmbedder router_embedder;
  ScriptedModel model;
  memory::MemoryService memory;
  agents::AgentsService agents;
  crm::TenantId tenant;
  crm::Channel channel;
  int counter = 0;
};

}  // namespace

VENTROS_DB_TEST(
    "Agents service: a retention offer is made once, even when the turn is redone "
    "after a crash - the graph records it",
    "[agents]") {
  World w(engine);
  auto first = w.Say("Oi");
  w.Run();
  w.MakeCustomer(*first.contact_id, 120);
  memory::FactInput fact;
  fact.type = "objection";
  fact.subject = "competitor_price";
  fact.text = "Concorrente 25% mais barato";
  REQUIRE(w.memory.AddFact(w.tenant, *first.contact_id, fact).ok());
  w.Say("Quero cancelar minha conta, muito caro");
  w.Run();
  auto offers = w.registry.ListOffers(w.tenant, first.contact_id);
  REQUIRE(offers.ok());
  REQUIRE(offers->size() == 1);
  CHECK((*offers)[0].discount_percent == 25);
  CHECK((*offers)[0].duration_months == 3);
  auto replies = w.Replies();
  REQUIRE(replies.size() == 2);
  CHECK(replies[1].body.find("25%") != std::string::npos);
  CHECK(replies[1].metadata.find((*offers)[0].id.str()) != std::string::npos);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_graph_edges WHERE kind = 'received_offer'") == 2);

  // A crash after the offer but before the reply committed: the turn runs again from its event,
  // makes no second offer and sends one reply.
  w.Exec("DELETE FROM agent_session_state");
  w.Exec("DELETE FROM agent_turns WHERE id = $1", {core::DbValue("turn-" + replies[1].id.str())});
  auto turns = w.agents.ListTurns(w.tenant, std::nullopt, 10);
  REQUIRE(turns.ok());
  std::string last_turn = turns->front().id;
  w.Exec("DELETE FROM agent_turns");
  w.Exec("DELETE FROM messages WHERE id = $1", {core::DbValue(replies[1].id.str())});
  auto events = w.bus.ListEvents(std::string("message.received"), 0, 100);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  REQUIRE(w.agents.HandleEvent(events->back()).ok());
  CHECK(w.registry.ListOffers(w.tenant, first.contact_id)->size() == 1);
  CHECK(w.Replies().size() == 2);
  // Delivered again (at-least-once): nothing more.
  REQUIRE(w.agents.HandleEvent(events->back()).ok());
  REQUIRE(w.agents.HandleEvent(events->front()).ok());
  CHECK(w.Replies().size() == 2);
  CHECK(w.agents.ListTurns(w.tenant, std::nullopt, 10)->front().id == last_turn);
}

VENTROS_DB_TEST(
    "Agents service: an agent's narrower limit is applied - attempts run out into a "
    "handoff",
    "[agents]") {
  World w(engine);
  auto first = w.Say("Olá");
  w.Run();
  w.MakeCustomer(*first.contact_id, 200);
  auto agent = w.agents.CreateAgent(w.tenant, "retention_churn", "Cauteloso",
                                    R"({"max_discount_percent":15,"max_retention_attempts":1})");
  REQUIRE(agent.ok());
  CHECK_FALSE(
      w.agents
          .CreateAgent(w.tenant, "retention_churn", "Generoso", R"({"max_discount_percent":40})")
          .ok());
  w.Say("Vou cancelar, está muito caro");
  w.Run();
  auto offers = w.registry.ListOffers(w.tenant, first.contact_id);
  REQUIRE(offers->size() == 1);
  CHECK((*offers)[0].discount_percent == 15);
  CHECK((*offers)[0].agent_id == agent->id.str());
  auto session = w.messaging.GetSession(w.tenant, *first.session_id);
  CHECK(session->assigned_agent_id == agent->id.str());

  // Offer declined; no attempts left: a human takes over, and the graph records the transfer.
  w.Exec("UPDATE offers SET status = 'declined'");
  w.Say("Não quero desconto, quero cancelar mesmo");
  w.Run();
  CHECK(w.registry.ListOffers(w.tenant, first.contact_id)->size() == 1);
  session = w.messaging.GetSession(w.tenant, *first.session_id);
  CHECK(session->assigned_agent_type == "human");
  CHECK(w.Count("SELECT COUNT(*) FROM memory_graph_edges WHERE kind = 'transferred_to'") == 1);
  auto turns = w.agents.ListTurns(w.tenant, *first.session_id, 10);
  CHECK(turns->back().status == "handoff");
  size_t replies = w.Replies().size();
  w.Say("Alô?");
  w.Run();
  CHECK(w.Replies().size() == replies);
}

VENTROS_DB_TEST("Agents service: a follow-up is scheduled and sent once when due", "[agents]") {
  World w(engine);
  w.Say("Agora não posso, me chama amanhã?");
  w.Run();
  CHECK(w.Count("SELECT COUNT(*) FROM agent_followups WHERE status = 'scheduled'") == 1);
  auto sent = w.agents.SendDueFollowups();
  REQUIRE(sent.ok());
  CHECK(*sent == 0);
  w.clock.AdvanceMillis(25LL * 3600 * 1000);
  sent = w.agents.SendDueFollowups();
  REQUIRE(sent.ok());
  CHECK(*sent == 1);
  CHECK(*w.agents.SendDueFollowups() == 0);
  auto replies = w.Replies();
  REQUIRE(replies.size() == 2);
  CHECK(replies[1].body.find("Leonardo") != std::string::npos);
  CHECK(replies[1].metadata.find("followup_id") != std::string::npos);
}

VENTROS_DB_TEST(
    "Agents service: a buyer moves to negotiation - old, group and own messages are "
    "left alone",
    "[agents]") {
  World w(engine);
  auto r = w.Say("Quero contratar o plano anual, como faço para assinar?");
  w.Run();
  auto contact = w.messaging.GetContact(w.tenant, *r.contact_id);
  CHECK(contact->pipeline_stage == "negotiation");
  CHECK(w.Replies().size() == 1);

  // Older than max_backlog_age_ms when the coordinator sees it: not answered.
  w.Say("Oi, alguém aí?", "5511922223333");
  w.clock.AdvanceMillis(7LL * 3600 * 1000);
  w.Run();
  CHECK(w.Replies().size() == 1);
  // Groups are not answered.
  w.Say("Bom dia grupo", "120363000000000001", "@g.us");
  w.Run();
  CHECK(w.Replies().size() == 1);
  CHECK(w.Count("SELECT COUNT(*) FROM agent_turns") == 1);
}

namespace {

boost::json::object Metadata(const crm::Message& m) {
  auto v = boost::json::parse(m.metadata);
  REQUIRE(v.is_object());
  return v.as_object();
}

}  // namespace

VENTROS_DB_TEST(
    "Agents service: an outreach is sent once per idempotency key, memory-aware, with its "
    "metadata",
    "[agents]") {
  World w(engine);
  auto first = w.Say("Oi, queria saber mais sobre os planos");
  w.Run();
  const crm::ContactId contact = *first.contact_id;
  w.AddFact(contact, "goal", "Objetivo: automatizar o atendimento");
  const size_t before = w.Replies().size();

  auto id = w.agents.Outreach(w.tenant, contact, "sales_prospecting", "engagement", "wf-1:day3");
  REQUIRE(id.ok());
  REQUIRE(id->has_value());
  // It is a trace: an AGENT root with the model call under it.
  {
    std::string root_span;
    for (const auto& sp : w.sink.Spans()) {
      if (sp.name == "agent.outreach") root_span = sp.span_id;
    }
    REQUIRE_FALSE(root_span.empty());
    bool llm = false;
    for (const auto& sp : w.sink.Spans()) {
      llm |= sp.name == "llm" && sp.parent_span_id == root_span;
    }
    CHECK(llm);
  }
  auto replies = w.Replies();
  REQUIRE(replies.size() == before + 1);
  const crm::Message& sent = replies.back();
  CHECK(sent.id.str() == **id);
  CHECK(sent.source == "bot");
  CHECK(sent.agent_id == "template:sales_prospecting");
  CHECK(sent.body.rfind("Oi, Leonardo! ", 0) == 0);
  CHECK(sent.body.find("Objetivo: automatizar o atendimento") != std::string::npos);
  CHECK(sent.body.back() == '?');
  auto meta = Metadata(sent);
  CHECK(meta.at("agent_category").as_string() == "sales_prospecting");
  CHECK(meta.at("purpose").as_string() == "engagement");
  CHECK(meta.at("idempotency_key").as_string() == "wf-1:day3");
  CHECK(meta.at("trace_id").as_string().size() == 32);
  auto requested = w.bus.ListEvents(std::string("message.send_requested"), 0, 100);
  REQUIRE(requested.ok());
  CHECK(requested->size() == before + 1);

  // The activity retried: the same message, nothing sent again.
  auto again = w.agents.Outreach(w.tenant, contact, "sales_prospecting", "engagement", "wf-1:day3");
  REQUIRE(again.ok());
  CHECK(*again == *id);
  CHECK(w.Replies().size() == before + 1);
  // Another key is another message; a retention outreach from the tenant's own agent.
  auto agent = w.agents.CreateAgent(w.tenant, "retention_churn", "Cuidado", "{}");
  REQUIRE(agent.ok());
  auto retention =
      w.agents.Outreach(w.tenant, contact, "retention_churn", "retention", "wf-2:day14");
  REQUIRE(retention.ok());
  REQUIRE(retention->has_value());
  CHECK(**retention != **id);
  replies = w.Replies();
  REQUIRE(replies.size() == before + 2);
  CHECK(replies.back().agent_id == agent->id.str());
  CHECK(Metadata(replies.back()).at("purpose").as_string() == "retention");

  CHECK(w.agents.Outreach(w.tenant, contact, "sales_prospecting", "upsell", "k").status().code() ==
        core::StatusCode::kInvalidArgument);
  CHECK(w.agents.Outreach(w.tenant, contact, "astrology", "engagement", "k").status().code() ==
        core::StatusCode::kInvalidArgument);
  CHECK(
      w.agents.Outreach(w.tenant, contact, "sales_prospecting", "engagement", "").status().code() ==
      core::StatusCode::kInvalidArgument);
  CHECK(
      w.agents.Outreach(w.tenant, crm::ContactId("nobody"), "sales_prospecting", "engagement", "k")
          .status()
          .code() == core::StatusCode::kNotFound);
  CHECK(w.Replies().size() == before + 2);
}

VENTROS_DB_TEST("Agents service: no outreach while a person owns the conversation", "[agents]") {
  World w(engine);
  auto first = w.Say("Oi");
  w.Run();
  REQUIRE(
      w.messaging.AssignSession(w.tenant, *first.session_id, "human", std::nullopt, "test").ok());
  const size_t before = w.Replies().size();
  auto r = w.agents.Outreach(w.tenant, *first.contact_id, "sales_prospecting", "engagement", "k1");
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  CHECK(w.Replies().size() == before);
  // Handed back: the outreach goes out.
  REQUIRE(w.messaging.AssignSession(w.tenant, *first.session_id, "ai", std::nullopt, "back").ok());
  r = w.agents.Outreach(w.tenant, *first.contact_id, "sales_prospecting", "engagement", "k1");
  REQUIRE(r.ok());
  CHECK(r->has_value());
  CHECK(w.Replies().size() == before + 1);
}

VENTROS_DB_TEST(
    "Agents service: an outreach text that is not grounded or makes an offer is replaced by a "
    "safe one",
    "[agents]") {
  World w(engine);
  auto first = w.Say("Hi, I would like to know more about your plans please");
  w.Run();
  w.model.answer = "Hi Leonardo! Take 40% off if you sign today, deal?";
  auto r = w.agents.Outreach(w.tenant, *first.contact_id, "sales_prospecting", "engagement", "k");
  REQUIRE(r.ok());
  REQUIRE(r->has_value());
  auto replies = w.Replies();
  CHECK(replies.back().body.find("40%") == std::string::npos);
  CHECK(replies.back().body.rfind("Hi, Leonardo! ", 0) == 0);  // English, like the contact
  // The request: the task in the profile, the memory, a user turn.
  const auto& req = w.model.last_request;
  REQUIRE(req.messages.size() == 3);
  CHECK(req.messages[0].content.find("task: outreach\npurpose: engagement\n") != std::string::npos);
  CHECK(req.messages[1].content.find("=== RECENT MESSAGES ===") != std::string::npos);
  CHECK(req.messages[2].role == "user");
  CHECK(req.tools.empty());
}

VENTROS_DB_TEST("Agents service: BANT qualification from the memory facts", "[agents]") {
  World w(engine);
  auto first = w.Say("Oi");
  w.Run();
  const crm::ContactId contact = *first.contact_id;
  auto none = w.agents.Qualify(w.tenant, contact);
  REQUIRE(none.ok());
  CHECK_FALSE(none->is_qualified);
  CHECK(none->score == 0);
  CHECK(none->source == "model");

  w.AddFact(contact, "budget_constraint", "Orçamento de R$ 5.000 por mês");
  w.AddFact(contact, "goal", "Objetivo: automatizar o atendimento");
  auto q = w.agents.Qualify(w.tenant, contact);
  REQUIRE(q.ok());
  CHECK(q->is_qualified);
  CHECK(q->score == 50);
  CHECK(q->budget);
  CHECK(q->need);
  CHECK_FALSE(q->authority);
  CHECK_FALSE(q->timeline);
  CHECK(q->reason.find("Orçamento de R$ 5.000 por mês") != std::string::npos);
  CHECK(q->source == "model");

  // A hosted model: a valid answer is taken (also inside a Markdown fence) ...
  w.model.answer =
      "```json\n{\"is_qualified\":true,\"score\":75,\"budget\":true,\"authority\":true,"
      "\"need\":true,\"timeline\":false,\"reason\":\"budget and goal known\"}\n```";
  q = w.agents.Qualify(w.tenant, contact);
  REQUIRE(q.ok());
  CHECK(q->score == 75);
  CHECK(q->authority);
  CHECK(q->reason == "budget and goal known");
  CHECK(q->source == "model");
  CHECK(w.model.last_request.json_output);
  // ... an invalid one gives way to the rules.
  for (const std::string bad :
       {"I think this lead is qualified", "{\"is_qualified\":true,\"score\":140}",
        "{\"is_qualified\":\"yes\",\"score\":50,\"budget\":true,\"authority\":false,"
        "\"need\":true,\"timeline\":false,\"reason\":\"\"}",
        "{\"is_qualified\":true,\"score\":50.5,\"budget\":true,\"authority\":false,"
        "\"need\":true,\"timeline\":false,\"reason\":\"\"}"}) {
    INFO(bad);
    w.model.answer = bad;
    q = w.agents.Qualify(w.tenant, contact);
    REQUIRE(q.ok());
    CHECK(q->source == "rules");
    CHECK(q->score == 50);
    CHECK(q->is_qualified);
  }
}

VENTROS_DB_TEST(
    "Agents service: retention check - negative messages put a customer at risk, and so does "
    "silence",
    "[agents]") {
  World w(engine);
  auto unhappy = w.Say("Estou muito insatisfeito, o suporte é péssimo e horrível", "5511900000001");
  w.Say("Que decepção, nada funciona, estou irritado", "5511900000001");
  auto happy = w.Say("Adorei o atendimento, muito obrigado, está ótimo!", "5511900000002");
  REQUIRE(w.bus.RunUntilIdle("memory.indexer").ok());

  auto risk = w.agents.RetentionCheck(w.tenant, *unhappy.contact_id);
  REQUIRE(risk.ok());
  CHECK(risk->at_risk);
  CHECK(risk->sentiment < -0.2);
  REQUIRE_FALSE(risk->reasons.empty());
  CHECK(risk->reasons[0].rfind("average sentiment", 0) == 0);

  auto fine = w.agents.RetentionCheck(w.tenant, *happy.contact_id);
  REQUIRE(fine.ok());
  CHECK_FALSE(fine->at_risk);
  CHECK(fine->sentiment > 0);
  CHECK(fine->reasons.empty());
  // Three weeks without a word.
  w.clock.AdvanceMillis(21LL * 86400000);
  fine = w.agents.RetentionCheck(w.tenant, *happy.contact_id);
  REQUIRE(fine.ok());
  CHECK(fine->at_risk);
  REQUIRE(fine->reasons.size() == 1);
  CHECK(fine->reasons[0] == "no interaction for 21 days");
}

VENTROS_DB_TEST("Agents service: a turn is one trace of OpenInference spans", "[agents][trace]") {
  World w(engine);
  auto first = w.Say("Oi");
  w.Run();
  w.MakeCustomer(*first.contact_id, 120);
  w.Say("Quero cancelar minha conta, muito caro");
  w.Run();
  auto turns = w.agents.ListTurns(w.tenant, std::nullopt, 1);
  REQUIRE(turns.ok());
  REQUIRE(turns->size() == 1);
  const std::string trace = turns->front().trace_id;
  std::map<std::string, const core::SpanData*> by_name;
  auto spans = w.sink.Spans();
  const core::SpanData* root = nullptr;
  for (const auto& sp : spans) {
    if (sp.trace_id != trace) continue;
    by_name[sp.name] = &sp;
    if (sp.parent_span_id.empty()) root = &sp;
  }
  REQUIRE(root != nullptr);
  CHECK(root->name == "agent.turn");
  CHECK(root->kind == core::SpanKind::kAgent);
  CHECK(root->tenant_id == w.tenant.str());
  for (const char* name : {"route", "search_memory", "llm", "tool.create_retention_offer",
                           "groundedness", "publish"}) {
    INFO(name);
    REQUIRE(by_name.contains(name));
    CHECK(by_name[name]->end_us >= by_name[name]->start_us);
  }
  CHECK(by_name["route"]->parent_span_id == root->span_id);
  CHECK(by_name["search_memory"]->kind == core::SpanKind::kRetriever);
  CHECK(by_name["llm"]->kind == core::SpanKind::kLlm);
  CHECK(by_name["tool.create_retention_offer"]->kind == core::SpanKind::kTool);
  CHECK(by_name["groundedness"]->kind == core::SpanKind::kGuardrail);
  auto attr = [](const core::SpanData* sp, const std::string& key) -> const core::AttributeValue* {
    for (const auto& [k, v] : sp->attributes) {
      if (k == key) return &v;
    }
    return nullptr;
  };
  auto* kind = attr(root, "openinference.span.kind");
  REQUIRE(kind);
  CHECK(std::get<std::string>(*kind) == "AGENT");
  CHECK(attr(root, "session.id") != nullptr);
  CHECK(attr(by_name["llm"], "llm.token_count.prompt") != nullptr);
  CHECK(attr(by_name["llm"], "llm.input_messages.0.message.role") != nullptr);
  CHECK(attr(by_name["search_memory"], "retrieval.count") != nullptr);
  CHECK(attr(by_name["groundedness"], "guardrail.groundedness") != nullptr);
  // The guardrail verdict of the offer is a span of its own under the tool.
  bool verdict = false;
  for (const auto& sp : spans) {
    verdict |= sp.trace_id == trace && sp.name == "guardrail.offer_limits" &&
               sp.parent_span_id == by_name["tool.create_retention_offer"]->span_id;
  }
  CHECK(verdict);
}

}  // namespace ventros
