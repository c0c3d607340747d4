// The memory service on both engines: indexing from CRM events (idempotent), each search channel
// alone, the fusion arithmetic, strategies, knowledge-scope filters, tenant isolation, facts with
// supersession and as_of, the search cache, contact merges and the formatted context.
#include "ventros/memory/memory.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "support/fake_http_server.hpp"
#include "support/test_db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/llm/chat.hpp"
#include "ventros/memory/local_embedder.hpp"

using namespace ventros;
using testing::TestDb;

namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

struct World {
  explicit World(core::DbEngine engine)
      : db(engine),
        database(db.OpenMigrated()),
        clock(1760701000000),
        bus(*database, clock, core::NullLogger()),
        tenants(*database, clock),
        messaging(*database, clock, &bus),
        memory(*database, clock, core::NullLogger(), messaging, embedder) {
    tenant = NewTenant("Loja");
    channel = NewChannel(tenant);
    core::ConsumerOptions opts;
    opts.types = memory::MemoryService::ConsumedEventTypes();
    opts.batch_handler = [this](std::span<const core::Event> events) {
      return memory.HandleEvents(events);
    };
    bus.Subscribe(
        "memory.indexer", [this](const core::Event& e) { return memory.HandleEvent(e); }, opts);
  }

  crm::TenantId NewTenant(const std::string& name) {
    auto t = tenants.CreateTenant(name);
    REQUIRE(t.ok());
    return t->first.id;
  }
  crm::Channel NewChannel(const crm::TenantId& t) {
    crm::ChannelInput in;
    in.name = "main";
    in.waha_url = "http://127.0.0.1:3000";
    auto c = messaging.CreateChannel(t, in);
    REQUIRE(c.ok());
    return *c;
  }

  // A message in a direct chat with `phone` (from the contact, or ours when from_me).
  crm::InboundResult Say(const crm::Channel& ch, const std::string& phone, const std::string& text,
                         bool from_me = false, const std::string& name = "") {
    crm::InboundMessage m;
    m.chat_id = phone + "@c.us";
    m.contact_wa_id = m.chat_id;
    m.sender_wa_id = from_me ? "5511000000000@c.us" : m.chat_id;
    m.push_name = name;
    m.waha_id = fmt::format("{}_{}@c.us_M{}", from_me ? "true" : "false", phone, ++counter);
    m.waha_bare_id = fmt::format("M{}", counter);
    m.from_me = from_me;
    m.source = from_me ? "app" : "contact";
    m.body = text;
    m.message_at = clock.NowMillis();
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    auto tx = core::Transaction::Begin(**conn);
    REQUIRE(tx.ok());
    auto r = messaging.RecordInbound(**conn, ch, m);
    REQUIRE(r.ok());
    REQUIRE(tx->Commit().ok());
    clock.AdvanceMillis(60 * 1000);
    return *r;
  }
  crm::InboundResult Say(const std::string& phone, const std::string& text, bool from_me = false,
                         const std::string& name = "") {
    return Say(channel, phone, text, from_me, name);
  }

  void Close(const crm::TenantId& t, const crm::InboundResult& r) {
    REQUIRE(messaging.CloseSession(t, *r.session_id, "manual").ok());
  }
  void Close(const crm::InboundResult& r) { Close(tenant, r); }
  void Index() { REQUIRE(bus.RunUntilIdle("memory.indexer").ok()); }

  memory::SearchResult Search(const crm::ContactId& contact, const std::string& query,
                              std::optional<memory::StrategyWeights> weights = {},
                              std::optional<memory::KnowledgeScope> scope = {}) {
    memory::SearchRequest req;
    req.tenant = tenant;
    req.contact = contact;
    req.query = query;
    req.weights = weights;
    req.scope = scope;
    req.top_k = 10;
    req.use_cache = false;
    auto r = memory.Search(req);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }

  std::vector<std::string> Sessions(const memory::SearchResult& r) {
    std::vector<std::string> out;
    for (const auto& h : r.hits) out.push_back(h.session_id);
    return out;
  }

  int64_t Count(const std::string& sql) {
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    auto r = (*conn)->Query(sql);
    REQUIRE(r.ok());
    return r->rows[0].GetInt(0);
  }

  TestDb db;
  std::unique_ptr<core::Database> database;
  core::VirtualClock clock;
  core::EventBus bus;
  crm::TenantService tenants;
  crm::MessagingService messaging;
  memory::LocalEmbedder embedder;
  memory::MemoryService memory;
  crm::TenantId tenant;
  crm::Channel channel;
  int counter = 0;
};

// The rank a channel gave a session (0: not ranked by it). The final order is the rerank's.
int Rank(const memory::SearchResult& r, const crm::InboundResult& s, const std::string& channel) {
  for (const auto& h : r.hits) {
    if (h.session_id != s.session_id->str()) continue;
    auto it = h.channels.find(channel);
    return it == h.channels.end() ? 0 : it->second.rank;
  }
  return 0;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("FuseRanks: weighted RRF against a hand-computed example", "[memory]") {
  // vector (w .5): 1, 2, 3; keyword (w .2): 3, 1; graph (w .2): 4; recent (w .1): 2.
  auto fused = memory::FuseRanks({{{1, 2, 3}, .5}, {{3, 1}, .2}, {{4}, .2}, {{2}, .1}});
  REQUIRE(fused.size() == 4);
  // 1: .5/61 + .2/62 = 0.0114227...; 2: .5/62 + .1/61 = 0.0097038...; 3: .5/63 + .2/61 =
  // 0.0112152...; 4: .2/61 = 0.0032787...
  CHECK(fused[0].first == 1);
  CHECK(fused[0].second == Approx(.5 / 61 + .2 / 62));
  CHECK(fused[1].first == 3);
  CHECK(fused[1].second == Approx(.5 / 63 + .2 / 61));
  CHECK(fused[2].first == 2);
  CHECK(fused[2].second == Approx(.5 / 62 + .1 / 61));
  CHECK(fused[3].first == 4);
  // Ties are broken by id; a zero weight contributes nothing.
  auto tied = memory::FuseRanks({{{9, 5}, 1}, {{5, 9}, 1}, {{7}, 0}});
  REQUIRE(tied.size() == 2);
  CHECK(tied[0].first == 5);
  CHECK(tied[1].first == 9);
}

TEST_CASE("Strategies: the table of the design", "[memory]") {
  const auto& s = memory::Strategies();
  CHECK(s.at("retention_churn").vector == Approx(.5));
  CHECK(s.at("support_technical").keyword == Approx(.5));
  CHECK(s.at("sales_prospecting").graph == Approx(.4));
  CHECK(s.at("balanced").recent == 0);
  CHECK(s.size() == 9);
}

VENTROS_DB_TEST("Memory: indexes messages and sessions from events, idempotently", "[memory]") {
  World w(engine);
  auto a =
      w.Say("5511911110001", "Oi, quero o cancelamento do plano. Está muito caro!", false, "Maria");
  w.Say("5511911110001", "Entendo, posso oferecer 20% de desconto.", true);
  w.Close(a);
  w.clock.AdvanceMillis(3600 * 1000);  // the indexer runs an hour later
  w.Index();
  CHECK(w.Count("SELECT COUNT(*) FROM memory_messages") == 2);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_documents WHERE status = 'ended'") == 1);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_documents WHERE embedding IS NOT NULL") == 1);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_graph_edges WHERE kind = 'has_session'") == 1);
  CHECK(w.memory.VectorCount(w.tenant) == 1);
  // The contact's message carries a negative sentiment.
  CHECK(w.Count("SELECT COUNT(*) FROM memory_messages WHERE sentiment < 0") == 1);
  // Times come from the payloads (RFC 3339), not from when the indexer ran.
  auto stored = w.messaging.GetMessage(w.tenant, *a.message_id);
  REQUIRE(stored.ok());
  CHECK(w.Count("SELECT MIN(message_at) FROM memory_messages") == stored->message_at);
  auto session = w.messaging.GetSession(w.tenant, *a.session_id);
  REQUIRE(session.ok());
  REQUIRE(session->ended_at.has_value());
  w.clock.AdvanceMillis(kDay);  // indexing later must not move the session's end
  REQUIRE(w.memory.HandleEvents({}).ok());
  CHECK(w.Count("SELECT MAX(ended_at) FROM memory_documents") == *session->ended_at);
  CHECK(w.Count("SELECT MAX(started_at) FROM memory_documents") == session->started_at);

  // Delivering every event again changes nothing.
  int64_t edges = w.Count("SELECT COUNT(*) FROM memory_graph_edges");
  int64_t nodes = w.Count("SELECT COUNT(*) FROM memory_graph_nodes");
  auto events = w.bus.ListEvents(std::nullopt, 0, 1000);
  REQUIRE(events.ok());
  std::vector<core::Event> mine;
  for (const auto& e : *events) {
    for (const auto& t : memory::MemoryService::ConsumedEventTypes()) {
      if (e.type == t) mine.push_back(e);
    }
  }
  REQUIRE(w.memory.HandleEvents(mine).ok());
  CHECK(w.Count("SELECT COUNT(*) FROM memory_messages") == 2);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_documents") == 1);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_graph_edges") == edges);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_graph_nodes") == nodes);
  CHECK(w.memory.VectorCount(w.tenant) == 1);

  // The document: header with the contact's name, an extractive summary.
  auto conn = w.database->Acquire();
  REQUIRE(conn.ok());
  auto doc = (*conn)->Query("SELECT header, summary FROM memory_documents");
  REQUIRE(doc.ok());
  CHECK_THAT(doc->rows[0].GetText(0), Catch::Contains("Maria"));
  CHECK_THAT(doc->rows[0].GetText(0), Catch::Contains("2 messages"));
  CHECK_THAT(doc->rows[0].GetText(1), Catch::Contains("cancelamento"));

  // A malformed event fails (and would be retried, then dead-lettered), storing nothing.
  core::Event bad;
  bad.id = "bad";
  bad.type = "message.received";
  bad.tenant_id = w.tenant.str();
  bad.payload = "[1,2]";
  CHECK(w.memory.HandleEvent(bad).code() == core::StatusCode::kInvalidArgument);
}

VENTROS_DB_TEST("Memory: keyword channel finds inflections and is tenant-partitioned", "[memory]") {
  World w(engine);
  auto a = w.Say("5511911110001", "Quero o cancelamento, o serviço está muito caro");
  w.Close(a);
  auto b = w.Say("5511911110002", "Meu pedido chegou quebrado, preciso de troca");
  w.Close(b);
  auto c = w.Say("5511911110003", "Bom dia");  // the searching contact
  // Another tenant with the very same words.
  auto other = w.NewTenant("Outra");
  auto other_channel = w.NewChannel(other);
  auto x = w.Say(other_channel, "5511911110009", "Quero o cancelamento, o serviço está muito caro");
  w.Close(other, x);
  w.Index();

  memory::StrategyWeights keyword_only{0, 1, 0, 0};
  auto r = w.Search(*c.contact_id, "cancelar caro", keyword_only);
  auto sessions = w.Sessions(r);
  REQUIRE(!sessions.empty());
  CHECK(Rank(r, a, "keyword") == 1);
  CHECK(!Contains(sessions, b.session_id->str()));
  CHECK(!Contains(sessions, x.session_id->str()));  // never another tenant's
  CHECK(r.hits[0].channels.count("keyword") == 1);
  CHECK(r.hits[0].channels.count("vector") == 0);

  // A word nobody wrote finds nothing.
  CHECK(w.Search(*c.contact_id, "xilofone", keyword_only).hits.empty());
}

VENTROS_DB_TEST("Memory: vector channel ranks similar sessions, never the other tenant's",
                "[memory]") {
  World w(engine);
  auto a = w.Say("5511911110001", "O aplicativo mostra erro 500 quando tento fazer login");
  w.Close(a);
  auto b = w.Say("5511911110002", "Gostaria de saber o preço do plano anual com desconto");
  w.Close(b);
  auto c = w.Say("5511911110003", "Oi");
  auto other = w.NewTenant("Outra");
  auto other_channel = w.NewChannel(other);
  auto x = w.Say(other_channel, "5511911110009",
                 "O aplicativo mostra erro 500 quando tento fazer login");
  w.Close(other, x);
  w.Index();

  auto r = w.Search(*c.contact_id, "erro 500 no login do app", memory::StrategyWeights{1, 0, 0, 0});
  auto sessions = w.Sessions(r);
  REQUIRE(sessions.size() == 2);  // the searching contact's active session is not "similar"
  CHECK(sessions[0] == a.session_id->str());
  CHECK(r.hits[0].similarity > r.hits[1].similarity);
  CHECK(!Contains(sessions, x.session_id->str()));
  CHECK(Rank(r, a, "vector") == 1);
  CHECK(Rank(r, b, "vector") == 2);
}

VENTROS_DB_TEST(
    "Memory: graph channel follows campaigns and agents - recent channel orders by time",
    "[memory]") {
  World w(engine);
  // Two contacts from the same campaign; the searcher's own older session.
  auto lead = w.Say("5511911110001", "Vi o anúncio da black friday", false, "Ana");
  crm::ContactInput in;
  in.attribution.utm_campaign = "black_friday";
  REQUIRE(w.messaging.UpdateContact(w.tenant, *lead.contact_id, in).ok());
  w.Close(lead);
  auto peer = w.Say("5511911110002", "Quero a oferta da black friday", false, "Bia");
  REQUIRE(w.messaging.UpdateContact(w.tenant, *peer.contact_id, in).ok());
  w.Close(peer);
  auto stranger = w.Say("5511911110003", "Outro assunto qualquer", false, "Caio");
  w.Close(stranger);
  w.clock.AdvanceMillis(kDay);
  auto lead2 = w.Say("5511911110001", "Voltei para falar do plano", false, "Ana");
  w.Close(lead2);
  w.Index();

  auto g = w.Search(*lead.contact_id, "plano", memory::StrategyWeights{0, 0, 1, 0});
  auto gs = w.Sessions(g);
  // Own sessions first (1 hop), then the campaign peer's (3 hops), never the stranger's.
  REQUIRE(gs.size() == 3);
  CHECK(Rank(g, lead2, "graph") == 1);
  CHECK(Rank(g, lead, "graph") == 2);
  CHECK(Rank(g, peer, "graph") == 3);
  CHECK(!Contains(gs, stranger.session_id->str()));

  auto r = w.Search(*lead.contact_id, "plano", memory::StrategyWeights{0, 0, 0, 1});
  auto rs = w.Sessions(r);
  REQUIRE(rs.size() == 2);
  CHECK(Rank(r, lead2, "recent") == 1);
  CHECK(Rank(r, lead, "recent") == 2);
  CHECK(r.stats.campaign_source == std::optional<std::string>("black_friday"));
  CHECK(r.stats.total_sessions == 2);
}

VENTROS_DB_TEST("Memory: knowledge scope filters by lookback days and contact", "[memory]") {
  World w(engine);
  auto old_s = w.Say("5511911110001", "Problema com a fatura de janeiro");
  w.Close(old_s);
  w.clock.AdvanceMillis(100 * kDay);
  auto recent_s = w.Say("5511911110002", "Problema com a fatura de abril");
  w.Close(recent_s);
  auto me = w.Say("5511911110003", "fatura");
  w.Index();

  memory::StrategyWeights hybrid{1, 1, 0, 0};
  auto all = w.Sessions(w.Search(*me.contact_id, "problema fatura", hybrid));
  CHECK(Contains(all, old_s.session_id->str()));
  CHECK(Contains(all, recent_s.session_id->str()));

  memory::KnowledgeScope lookback;
  lookback.lookback_days = 30;
  auto recent_only = w.Sessions(w.Search(*me.contact_id, "problema fatura", hybrid, lookback));
  CHECK(!Contains(recent_only, old_s.session_id->str()));
  CHECK(Contains(recent_only, recent_s.session_id->str()));

  memory::KnowledgeScope own;
  own.contact_only = true;
  auto mine = w.Sessions(w.Search(*me.contact_id, "problema fatura", hybrid, own));
  CHECK(mine.empty());
}

VENTROS_DB_TEST("Memory: strategies, errors and the formatted context", "[memory]") {
  World w(engine);
  auto a = w.Say("5511911110001", "Quero cancelar, está caro demais", false, "Maria");
  w.Say("5511911110001", "Posso te oferecer 25% de desconto", true);
  w.Close(a);
  w.clock.AdvanceMillis(kDay);
  w.Say("5511911110001", "Oi de novo, ainda penso em cancelar");
  w.Index();
  memory::FactInput fact;
  fact.type = "budget_constraint";
  fact.text = "Orçamento de R$ 3000/mês";
  fact.value = R"({"amount":3000,"currency":"BRL","period":"month"})";
  fact.confidence = 0.9;
  fact.source_session_id = a.session_id->str();
  REQUIRE(w.memory.AddFact(w.tenant, *a.contact_id, fact).ok());

  memory::SearchRequest req;
  req.tenant = w.tenant;
  req.contact = *a.contact_id;
  req.query = "cancelar";
  req.strategy = "retention_churn";
  auto r = w.memory.Search(req);
  REQUIRE(r.ok());
  CHECK(r->strategy == "retention_churn");
  CHECK(r->weights.vector == Approx(.5));
  REQUIRE(r->recent_messages.size() == 3);
  CHECK(r->recent_messages.front().body == "Quero cancelar, está caro demais");
  const std::string& ctx = r->context;
  CHECK_THAT(ctx, Catch::Contains("=== RECENT MESSAGES ==="));
  CHECK_THAT(ctx, Catch::Contains("=== SIMILAR PAST SESSIONS ==="));
  CHECK_THAT(ctx, Catch::Contains("=== CONTACT CONTEXT ==="));
  CHECK_THAT(ctx, Catch::Contains("=== MEMORY FACTS ==="));
  CHECK_THAT(ctx, Catch::Contains("] Contact: \"Quero cancelar, está caro demais\""));
  CHECK_THAT(ctx, Catch::Contains("] Agent: \"Posso te oferecer 25% de desconto\""));
  CHECK_THAT(ctx, Catch::Contains("1. (similarity "));
  CHECK_THAT(ctx, Catch::Contains("Name: Maria"));
  CHECK_THAT(ctx, Catch::Contains("[budget_constraint] Orçamento de R$ 3000/mês (confidence 0.90, "
                                  "source session " +
                                  a.session_id->str()));
  CHECK(r->timings_ms.count("total") == 1);
  CHECK(r->timings_ms.count("vector") == 1);
  CHECK_FALSE(r->cache_hit);

  // The same search again comes from the cache; new data about the contact invalidates it.
  auto again = w.memory.Search(req);
  REQUIRE(again.ok());
  CHECK(again->cache_hit);
  CHECK(again->context == r->context);
  w.Say("5511911110001", "Mais uma coisa");
  w.Index();
  auto fresh = w.memory.Search(req);
  REQUIRE(fresh.ok());
  CHECK_FALSE(fresh->cache_hit);
  CHECK(fresh->recent_messages.back().body == "Mais uma coisa");

  // Agent category picks the strategy; unknown names list the valid ones.
  req.strategy.reset();
  req.agent_category = "support_technical";
  auto by_category = w.memory.Search(req);
  REQUIRE(by_category.ok());
  CHECK(by_category->strategy == "support_technical");
  req.agent_category = "astrology";
  auto unknown = w.memory.Search(req);
  CHECK(unknown.status().code() == core::StatusCode::kInvalidArgument);
  CHECK_THAT(unknown.status().message(), Catch::Contains("retention_churn"));
  req.agent_category.reset();
  req.top_k = 0;
  CHECK(w.memory.Search(req).status().code() == core::StatusCode::kInvalidArgument);

  // Another tenant's contact, or an unknown one, is not found.
  req.top_k = 5;
  req.tenant = w.NewTenant("Outra");
  CHECK(w.memory.Search(req).status().code() == core::StatusCode::kNotFound);
}

VENTROS_DB_TEST("Memory: facts are bi-temporal - superseded facts stay queryable", "[memory]") {
  World w(engine);
  auto a = w.Say("5511911110001", "Olá, bom dia");  // (nothing for the writer to learn)
  w.Index();
  const crm::ContactId contact = *a.contact_id;
  memory::FactInput first;
  first.type = "budget_constraint";
  first.subject = "budget";
  first.text = "R$ 5000/mês";
  first.value = R"({"amount":5000,"currency":"BRL","period":"month"})";
  auto f1 = w.memory.AddFact(w.tenant, contact, first);
  REQUIRE(f1.ok());
  int64_t t1 = w.clock.NowMillis();
  w.clock.AdvanceMillis(10 * kDay);
  memory::FactInput second = first;
  second.text = "R$ 3000/mês";
  second.value = R"({"amount":3000,"currency":"BRL","period":"month"})";
  second.supersedes = f1->id;
  auto f2 = w.memory.AddFact(w.tenant, contact, second);
  REQUIRE(f2.ok());
  CHECK(f2->supersedes == std::optional<std::string>(f1->id));

  auto active = w.memory.ListFacts(w.tenant, contact, std::nullopt, false);
  REQUIRE(active.ok());
  REQUIRE(active->size() == 1);
  CHECK(active->at(0).text == "R$ 3000/mês");
  // History keeps both axes: the first fact as it was believed (now expired), a copy saying it
  // was true until the second began, and the second.
  auto history = w.memory.ListFacts(w.tenant, contact, std::nullopt, true);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 3);
  int closed_copies = 0;
  for (const auto& h : *history) {
    if (h.id == f1->id) {
      CHECK(h.expired_at.has_value());
      CHECK_FALSE(h.valid_to.has_value());
    } else if (h.supersedes == std::optional<std::string>(f1->id) && h.valid_to) {
      ++closed_copies;
      CHECK(*h.valid_to == f2->valid_from);
      CHECK_FALSE(h.expired_at.has_value());
      CHECK(h.text == "R$ 5000/mês");
    }
  }
  CHECK(closed_copies == 1);
  auto then = w.memory.ListFacts(w.tenant, contact, t1 + 1000, false);
  REQUIRE(then.ok());
  REQUIRE(then->size() == 1);
  CHECK(then->at(0).text == "R$ 5000/mês");

  // Backdated: learned on day 20 that the budget changed on day 15. On day 17 (before we knew)
  // the system believed R$ 3000; asked now about day 17, it says R$ 3000 was true until day 15.
  w.clock.AdvanceMillis(10 * kDay);
  memory::FactInput third = first;
  third.text = "R$ 2000/mês";
  third.supersedes = f2->id;
  third.valid_from = f2->valid_from + 5 * kDay;
  REQUIRE(w.memory.AddFact(w.tenant, contact, third).ok());
  auto believed = w.memory.ListFacts(w.tenant, contact, f2->valid_from + 7 * kDay, false);
  REQUIRE(believed.ok());
  REQUIRE(believed->size() == 1);
  CHECK(believed->at(0).id == f2->id);

  // Superseding a closed fact, a bad type, another tenant's contact: clear errors.
  CHECK(w.memory.AddFact(w.tenant, contact, second).status().code() == core::StatusCode::kNotFound);
  memory::FactInput bad = first;
  bad.type = "horoscope";
  auto st = w.memory.AddFact(w.tenant, contact, bad).status();
  CHECK(st.code() == core::StatusCode::kInvalidArgument);
  CHECK_THAT(st.message(), Catch::Contains("budget_constraint"));
  auto other = w.NewTenant("Outra");
  CHECK(w.memory.AddFact(other, contact, first).status().code() == core::StatusCode::kNotFound);
  CHECK(w.memory.ListFacts(other, contact, std::nullopt, false).status().code() ==
        core::StatusCode::kNotFound);
}

VENTROS_DB_TEST("Memory: reindex rebuilds documents and the vector index", "[memory]") {
  World w(engine);
  for (int i = 0; i < 3; ++i) {
    auto s =
        w.Say(fmt::format("55119111100{:02}", i), fmt::format("Assunto número {} do suporte", i));
    w.Close(s);
  }
  w.Index();
  {
    auto conn = w.database->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Query("UPDATE memory_documents SET summary = '', embedding = NULL").ok());
  }
  std::vector<std::pair<int64_t, int64_t>> seen;
  REQUIRE(
      w.memory.Reindex(std::nullopt, [&](int64_t d, int64_t t) { seen.emplace_back(d, t); }).ok());
  CHECK(w.Count("SELECT COUNT(*) FROM memory_documents WHERE embedding IS NOT NULL AND summary "
                "<> ''") == 3);
  REQUIRE(!seen.empty());
  CHECK(seen.back() == std::pair<int64_t, int64_t>(3, 3));

  // A fresh service (a restart) loads the stored vectors.
  memory::MemoryService restarted(*w.database, w.clock, core::NullLogger(), w.messaging,
                                  w.embedder);
  CHECK(restarted.VectorCount(w.tenant) == 0);
  REQUIRE(restarted.LoadVectors().ok());
  CHECK(restarted.VectorCount(w.tenant) == 3);
}

VENTROS_DB_TEST(
    "Memory writer: facts from a conversation history, superseded, withdrawn and "
    "strengthened - as_of answers - idempotent",
    "[memory][writer]") {
  World w(engine);
  const std::string phone = "5511911110001";
  // Day 0: a budget, a competitor objection and a pain point.
  auto first = w.Say(phone, "Oi! Meu orçamento é de R$ 5.000 por mês.", false, "Maria");
  w.Say(phone, "Entendi, vou preparar uma proposta.", true);
  w.Say(phone, "O concorrente oferece 30% mais barato.");
  w.Say(phone, "E o ROI não está claro para nós.");
  w.Close(first);
  w.Index();
  const crm::ContactId contact = *first.contact_id;
  auto day0 = w.memory.ListFacts(w.tenant, contact, std::nullopt, false);
  REQUIRE(day0.ok());
  auto find = [](const std::vector<memory::Fact>& facts, const std::string& subject) {
    for (const auto& f : facts) {
      if (f.subject == subject) return std::optional<memory::Fact>(f);
    }
    return std::optional<memory::Fact>();
  };
  auto budget5 = find(*day0, "budget");
  REQUIRE(budget5);
  CHECK(budget5->type == "budget_constraint");
  CHECK(budget5->origin == "extracted");
  CHECK(budget5->source_session_id == std::optional<std::string>(first.session_id->str()));
  auto value5 = testing::ParseJson(budget5->value);
  CHECK(value5.at("amount").to_number<double>() == 5000);
  CHECK(value5.at("currency") == "BRL");
  CHECK(value5.at("period") == "month");
  auto competitor = find(*day0, "objection:competitor");
  REQUIRE(competitor);
  auto roi = find(*day0, "pain_point:roi");
  REQUIRE(roi);
  int64_t day0_end = w.clock.NowMillis();

  // Day 10: the budget shrinks, the objection is withdrawn, the pain point repeats.
  w.clock.AdvanceMillis(10 * kDay);
  auto second = w.Say(phone, "Revisamos aqui: agora o orçamento é de R$ 3.000 por mês.");
  w.Say(phone, "Não estamos mais considerando o concorrente.");
  w.Say(phone, "Mas o ROI ainda não está claro.");
  w.Close(second);
  w.Index();

  auto now = w.memory.ListFacts(w.tenant, contact, std::nullopt, false);
  REQUIRE(now.ok());
  auto budget3 = find(*now, "budget");
  REQUIRE(budget3);
  CHECK(testing::ParseJson(budget3->value).at("amount").to_number<double>() == 3000);
  CHECK(budget3->supersedes == std::optional<std::string>(budget5->id));
  CHECK_FALSE(find(*now, "objection:competitor"));
  auto roi_now = find(*now, "pain_point:roi");
  REQUIRE(roi_now);
  CHECK(roi_now->id == roi->id);  // strengthened, not duplicated
  CHECK(roi_now->confidence > roi->confidence);

  // History: the old budget closed when the new one was said; nothing deleted.
  auto history = w.memory.ListFacts(w.tenant, contact, std::nullopt, true);
  REQUIRE(history.ok());
  int budgets = 0;
  for (const auto& f : *history) {
    if (f.subject != "budget") continue;
    ++budgets;
    if (f.id == budget5->id) CHECK(f.expired_at.has_value());
    if (f.supersedes == std::optional<std::string>(budget5->id) && f.valid_to) {
      CHECK(*f.valid_to == budget3->valid_from);  // true until the new budget was said
    }
  }
  CHECK(budgets == 3);  // R$ 5000 as believed then, R$ 5000 closed, R$ 3000
  // What was believed on day 5: R$ 5000, the competitor objection, the pain point.
  auto then = w.memory.ListFacts(w.tenant, contact, day0_end + 5 * kDay, false);
  REQUIRE(then.ok());
  auto then_budget = find(*then, "budget");
  REQUIRE(then_budget);
  CHECK(then_budget->id == budget5->id);
  CHECK(find(*then, "objection:competitor"));

  // The timeline tells the story.
  auto events = w.messaging.ListContactEvents(w.tenant, contact, crm::Page{200, ""});
  REQUIRE(events.ok());
  int learned = 0, updated = 0, withdrawn = 0;
  for (const auto& e : events->items) {
    learned += e.category == "fact_learned";
    updated += e.category == "fact_updated";
    withdrawn += e.category == "fact_withdrawn";
  }
  CHECK(learned >= 3);
  CHECK(updated == 1);
  CHECK(withdrawn == 1);

  // Re-processing every event, and replaying the history, change nothing.
  auto facts_before = w.Count("SELECT COUNT(*) FROM memory_facts");
  auto all = w.bus.ListEvents(std::nullopt, 0, 1000);
  REQUIRE(all.ok());
  std::vector<core::Event> mine;
  for (const auto& e : *all) {
    if (e.type.starts_with("message.") || e.type.starts_with("session.")) mine.push_back(e);
  }
  REQUIRE(w.memory.HandleEvents(mine).ok());
  auto replay = w.memory.Rebuild(w.tenant, std::nullopt);
  REQUIRE(replay.ok());
  CHECK(*replay == 0);
  CHECK(w.Count("SELECT COUNT(*) FROM memory_facts") == facts_before);
  auto again = w.memory.ListFacts(w.tenant, contact, std::nullopt, false);
  REQUIRE(again.ok());
  CHECK(find(*again, "pain_point:roi")->confidence == Approx(roi_now->confidence));

  // The summary: stats, active facts, latest sessions first.
  auto summary = w.memory.Summary(w.tenant, contact);
  REQUIRE(summary.ok());
  CHECK(summary->stats.total_sessions == 2);
  REQUIRE(summary->sessions.size() == 2);
  CHECK(summary->sessions[0].session_id == second.session_id->str());
  CHECK(find(summary->facts, "budget"));
}

VENTROS_DB_TEST(
    "Memory writer with a language model: summary and facts from JSON, a bad answer "
    "retried once, malformed facts dropped",
    "[memory][writer]") {
  World w(engine);
  std::vector<std::string> answers = {
      // Not JSON: asked again once.
      "Claro! Aqui está o resumo.",
      // Partial: one good fact, one without a type, one with an unknown type.
      R"({"summary":"Cliente quer cancelar por preço; recebeu 20% de desconto e ficou.",)"
      R"("facts":[{"type":"objection","subject":"objection:price","text":"Acha o plano caro",)"
      R"("value":{"reason":"price"},"confidence":0.8},{"text":"sem tipo"},)"
      R"({"type":"horoscope","text":"x"}]})",
      // Invalid twice in a row (a later session).
      "nope", "still nope"};
  std::atomic<size_t> next{0};
  testing::FakeHttpServer model([&](const testing::FakeRequest& r) {
    testing::FakeReply reply;
    std::string content = answers.at(std::min(next.fetch_add(1), answers.size() - 1));
    (void)r;
    reply.body = boost::json::serialize(boost::json::object{
        {"choices",
         boost::json::array{boost::json::object{
             {"message", boost::json::object{{"role", "assistant"}, {"content", content}}},
             {"finish_reason", "stop"}}}},
        {"usage", boost::json::object{{"prompt_tokens", 100}, {"completion_tokens", 20}}}});
    return reply;
  });
  core::HttpClient http;
  llm::ChatModelOptions options;
  options.provider = "openai";
  options.base_url = model.Url("/");
  options.model = "test-model";
  options.sleep = [](std::chrono::milliseconds) {};
  auto chat = llm::MakeChatModel(options, http);
  REQUIRE(chat.ok());
  w.memory.SetChatModel(chat->get());
  REQUIRE(w.memory.HasChatModel());

  auto s = w.Say("5511911110001", "Quero cancelar, está caro demais.");
  w.Say("5511911110001", "Posso oferecer 20% de desconto.", true);
  w.Close(s);
  w.Index();
  auto ended = w.bus.ListEvents(std::string("session.ended"), 0, 10);
  REQUIRE(ended.ok());
  REQUIRE(ended->size() == 1);
  REQUIRE(w.memory.HandleEndedSessionWithModel(ended->at(0)).ok());
  CHECK(next == 2);  // the bad answer was retried once
  auto requests = model.Requests();
  REQUIRE(requests.size() == 2);
  auto first = testing::ParseJson(requests[0].body);
  CHECK(first.at("response_format").at("type") == "json_object");
  CHECK_THAT(std::string(first.at("messages").as_array()[1].at("content").as_string()),
             Catch::Contains("Contact: Quero cancelar, está caro demais."));
  CHECK_THAT(std::string(testing::ParseJson(requests[1].body)
                             .at("messages")
                             .as_array()
                             .back()
                             .at("content")
                             .as_string()),
             Catch::Contains("not valid"));

  auto facts = w.memory.ListFacts(w.tenant, *s.contact_id, std::nullopt, false);
  REQUIRE(facts.ok());
  bool model_fact = false;
  for (const auto& f : *facts) {
    if (f.text == "Acha o plano caro") {
      model_fact = true;
      CHECK(f.confidence == Approx(0.8));
      CHECK(f.source_session_id == std::optional<std::string>(s.session_id->str()));
    }
    CHECK(f.text != "sem tipo");
  }
  CHECK(model_fact);
  auto summary = w.memory.Summary(w.tenant, *s.contact_id);
  REQUIRE(summary.ok());
  REQUIRE(summary->sessions.size() == 1);
  CHECK(summary->sessions[0].summary ==
        "Cliente quer cancelar por preço; recebeu 20% de desconto e ficou.");

  // The same event again: the model is asked again, but nothing is learned twice.
  int64_t rows = w.Count("SELECT COUNT(*) FROM memory_facts");
  answers[2] = answers[1];
  REQUIRE(w.memory.HandleEndedSessionWithModel(ended->at(0)).ok());
  CHECK(w.Count("SELECT COUNT(*) FROM memory_facts") == rows);

  // Two invalid answers: the delivery fails (and is retried later by the bus).
  answers[3] = "nope";
  next = 3;
  auto st = w.memory.HandleEndedSessionWithModel(ended->at(0));
  CHECK(st.code() == core::StatusCode::kUnavailable);
  CHECK_THAT(st.message(), Catch::Contains("no valid JSON twice"));
}

VENTROS_DB_TEST("Memory: words in other scripts are keyword-indexed too", "[memory]") {
  World w(engine);
  auto a = w.Say("5511911110001", "Здравствуйте, заказ номер 5 не пришёл");
  w.Close(a);
  auto b = w.Say("5511911110002", "Obrigado pela ajuda");
  w.Close(b);
  auto me = w.Say("5511911110003", "Oi");
  w.Index();
  auto r = w.Search(*me.contact_id, "заказ", memory::StrategyWeights{0, 1, 0, 0});
  REQUIRE(r.hits.size() == 1);
  CHECK(r.hits[0].session_id == a.session_id->str());
}

VENTROS_DB_TEST("Memory: the embedding map projects sessions to 2-D, clusters and labels them",
                "[memory][map]") {
  World w(engine);
  const std::vector<std::string> billing = {"A fatura veio com cobrança duplicada no boleto",
                                            "Preciso da segunda via do boleto da fatura",
                                            "Cobrança indevida na fatura do cartão",
                                            "O boleto da fatura venceu e quero pagar"};
  const std::vector<std::string> technical = {"O aplicativo trava com erro ao sincronizar",
                                              "Erro de sincronização no aplicativo desde ontem",
                                              "O aplicativo fecha sozinho com erro na tela",
                                              "Não consigo sincronizar, o aplicativo dá erro"};
  int phone = 0;
  for (int round = 0; round < 3; ++round) {
    for (const auto& texts : {billing, technical}) {
      for (const auto& text : texts) {
        auto r = w.Say(fmt::format("55119{:08d}", ++phone), text);
        w.Close(r);
      }
    }
  }
  w.Index();
  auto map = w.memory.Map(w.tenant, 2000, 2);
  REQUIRE(map.ok());
  CHECK(map->points.size() == 24);
  REQUIRE(map->clusters.size() == 2);
  CHECK(map->explained_variance > 0);
  CHECK(map->explained_variance <= 1.0001);
  // The two topics are told apart: the labels carry their words.
  std::string labels = map->clusters[0].label + " | " + map->clusters[1].label;
  INFO(labels);
  CHECK((labels.find("fatura") != std::string::npos || labels.find("boleto") != std::string::npos));
  CHECK((labels.find("aplicativo") != std::string::npos ||
         labels.find("erro") != std::string::npos ||
         labels.find("sincronizar") != std::string::npos));
  // Deterministic.
  auto again = w.memory.Map(w.tenant, 2000, 2);
  REQUIRE(again.ok());
  CHECK(memory::EmbeddingMapJson(*again) == memory::EmbeddingMapJson(*map));
  // Another tenant sees nothing; bad arguments are refused.
  auto other = w.NewTenant("Outra");
  CHECK(w.memory.Map(other)->points.empty());
  CHECK(w.memory.Map(w.tenant, 0).status().code() == core::StatusCode::kInvalidArgument);
  CHECK(w.memory.Map(w.tenant, 10, 99).status().code() == core::StatusCode::kInvalidArgument);
}
