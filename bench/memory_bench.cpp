// scripts/bench memory: builds a synthetic tenant (default 100,000 sessions and 1,000,000
// messages of Portuguese and English customer conversations), then reports the index build
// time, the time to reload the vectors at start, RSS, recall@10 of the vector index against exact
// search, and hybrid search latency p50/p99 per stage and in total. One JSON line per figure:
//   {"bench":"memory","metric":"search_total_p50_ms","value":1.2,"unit":"ms"}

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>

#include "app/app.hpp"
#include "bench_util.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/migrations.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/memory.hpp"
#include "ventros/memory/vector_index.hpp"

using namespace ventros;
using Clock = std::chrono::steady_clock;

namespace {

using ventros::bench::Percentile;
using ventros::bench::RssMb;
using ventros::bench::Seconds;
using ventros::bench::Sum;

void Emit(const std::string& metric, double value, const std::string& unit) {
  ventros::bench::Emit("memory", metric, value, unit);
}

void Check(const core::Status& st, const char* what) {
  if (!st.ok()) {
    std::cerr << what << ": " << st.ToString() << "\n";
    std::exit(1);
  }
}

// Conversations by topic: what customers write, in Portuguese and English.
struct Topic {
  std::string category;
  std::vector<std::string> customer;
};

const std::vector<Topic>& Topics() {
  static const std::vector<Topic> topics = {
      {"retention_churn",
       {"Quero cancelar minha assinatura, está muito caro",
        "O {product} ficou caro demais para mim",
        "Vou cancelar o plano, o concorrente oferece {pct}% mais barato",
        "Não estou usando o {product}, quero o cancelamento",
        "I want to cancel my subscription, it is too expensive",
        "Pensando em sair, o preço subiu para R$ {amount}"}},
      {"support_technical",
       {"O aplicativo mostra erro {code} quando faço login", "O {product} não carrega desde ontem",
        "Recebo a mensagem erro {code} ao exportar o relatório",
        "A integração com o {product} caiu", "The app crashes with error {code} on startup",
        "Não consigo acessar, tela branca no {product}"}},
      {"support_billing",
       {"Meu boleto venceu e não recebi a segunda via", "Fui cobrado duas vezes em {month}",
        "A fatura de {month} veio com valor errado: R$ {amount}",
        "Preciso da nota fiscal de {month}", "I was charged twice this month",
        "Quero trocar o cartão de crédito da cobrança"}},
      {"sales_prospecting",
       {"Vi o anúncio do {product} e quero saber o preço", "Vocês têm plano para {seats} usuários?",
        "Quanto custa o {product} anual?", "Quero uma demonstração do {product}",
        "Do you offer a discount for annual plans?", "Meu orçamento é R$ {amount} por mês"}},
      {"balanced",
       {"Qual o horário de atendimento?", "Obrigado pela ajuda, resolvido!",
        "Onde fica a loja de {city}?", "Meu pedido ainda não chegou em {city}",
        "Can I change my delivery address?", "A entrega atrasou {days} dias"}},
  };
  return topics;
}

const std::vector<std::string> kAgentLines = {"Entendo, vou verificar para você.",
                                              "Posso oferecer {pct}% de desconto por {days} meses.",
                                              "Já abri um chamado com a equipe técnica.",
                                              "Sua segunda via foi enviada por e-mail.",
                                              "Obrigado pelo contato! Posso ajudar em algo mais?",
                                              "Vou transferir para um especialista.",
                                              "Consegue me enviar um print do erro?",
                                              "O plano anual sai por R$ {amount}."};

const std::vector<std::string> kProducts = {"Ventros CRM", "Plano Pro", "Módulo Fiscal",
                                            "App Mobile",  "Dashboard", "API XPTO-2000"};
const std::vector<std::string> kCities = {"São Paulo", "Recife", "Curitiba", "Porto Alegre",
                                          "Belo Horizonte"};
const std::vector<std::string> kMonths = {"janeiro", "março", "maio", "agosto", "outubro"};
const std::vector<std::string> kCampaigns = {"black_friday", "google_ads", "instagram", "indicacao",
                                             "newsletter"};

std::string Fill(std::string text, std::mt19937_64& rng) {
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  auto replace = [&](const std::string& slot, const std::string& value) {
    for (size_t at; (at = text.find(slot)) != std::string::npos;)
      text.replace(at, slot.size(), value);
  };
  replace("{product}", pick(kProducts));
  replace("{city}", pick(kCities));
  replace("{month}", pick(kMonths));
  replace("{code}", std::to_string(400 + rng() % 200));
  replace("{pct}", std::to_string(10 + rng() % 30));
  replace("{amount}", std::to_string(500 + (rng() % 50) * 100));
  replace("{seats}", std::to_string(2 + rng() % 50));
  replace("{days}", std::to_string(1 + rng() % 12));
  return text;
}

}  // namespace

// Conversations stored through the CRM as a webhook would (events in the outbox), then the
// memory indexer (documents, embeddings, sentiment, keyword terms, graph, facts) consumes them
// as fast as it can: sessions per second, offline.
int WriterBench(const std::string& db_url, int sessions, int per_session) {
  core::DatabaseOptions dbo;
  dbo.url = db_url;
  dbo.pool_size = 4;
  auto db = core::Database::Open(dbo);
  Check(db.status(), "open");
  core::SystemClock clock;
  core::Migrator migrator(**db, core::Migrator::EmbeddedFor((*db)->engine()), clock);
  Check(migrator.Apply().status(), "migrate");
  core::EventBus bus(**db, clock, core::NullLogger());
  crm::TenantService tenants(**db, clock);
  crm::MessagingService messaging(**db, clock, &bus);
  auto tenant = tenants.CreateTenant("Writer");
  Check(tenant.status(), "tenant");
  crm::ChannelInput ch;
  ch.name = "main";
  ch.waha_url = "http://127.0.0.1:9";
  auto channel = messaging.CreateChannel(tenant->first.id, ch);
  Check(channel.status(), "channel");
  memory::LocalEmbedder embedder;
  memory::MemoryService service(**db, clock, core::NullLogger(), messaging, embedder);
  core::ConsumerOptions opts;
  opts.types = memory::MemoryService::ConsumedEventTypes();
  opts.batch_size = std::getenv("VENTROS_BENCH_WRITER_BATCH")
                        ? std::atoi(std::getenv("VENTROS_BENCH_WRITER_BATCH"))
                        : 16;
  opts.batch_handler = [&](std::span<const core::Event> events) {
    return service.HandleEvents(events);
  };
  bus.Subscribe(
      "memory.indexer", [&](const core::Event& e) { return service.HandleEvent(e); }, opts);
  std::mt19937_64 rng(7);
  const std::vector<std::string> facts = {
      "Meu orçamento é de R$ {amount} por mês", "O concorrente oferece {pct}% mais barato",
      "O ROI não está claro para nós", "Prefiro ser contatado por WhatsApp",
      "Aparece o erro {code} no login"};
  auto fill_start = Clock::now();
  for (int s = 0; s < sessions; ++s) {
    const Topic& topic = Topics()[rng() % Topics().size()];
    std::string phone = fmt::format("55119{:08}", s);
    std::optional<crm::SessionId> session;
    auto conn = (*db)->Acquire();
    Check(conn.status(), "acquire");
    auto tx = core::Transaction::Begin(**conn);
    Check(tx.status(), "begin");
    for (int m = 0; m < per_session; ++m) {
      bool from_me = m % 2 == 1;
      crm::InboundMessage in;
      in.chat_id = phone + "@c.us";
      in.contact_wa_id = in.chat_id;
      in.sender_wa_id = from_me ? "5511000000000@c.us" : in.chat_id;
      in.push_name = "Cliente";
      in.waha_bare_id = fmt::format("W{}x{}", s, m);
      in.waha_id = fmt::format("{}_{}_{}", from_me ? "true" : "false", in.chat_id, in.waha_bare_id);
      in.from_me = from_me;
      in.source = from_me ? "app" : "contact";
      in.body = from_me  ? Fill(kAgentLines[rng() % kAgentLines.size()], rng)
                : m == 2 ? Fill(facts[rng() % facts.size()], rng)
                         : Fill(topic.customer[rng() % topic.customer.size()], rng);
      in.message_at = clock.NowMillis() + m;
      auto r = messaging.RecordInbound(**conn, *channel, in);
      Check(r.status(), "inbound");
      session = r->session_id;
    }
    Check(tx->Commit(), "commit");
    if (session)
      Check(messaging.CloseSession(tenant->first.id, *session, "manual").status(), "close");
  }
  Emit("writer_fill_s", Seconds(fill_start), "s");
  auto start = Clock::now();
  Check(bus.RunUntilIdle("memory.indexer"), "consume");
  double s = Seconds(start);
  Emit("writer_sessions", sessions, "count");
  Emit("writer_sessions_per_s", sessions / s, "sessions/s");
  Emit("writer_messages_per_s", sessions * per_session / s, "messages/s");
  {
    auto conn = (*db)->Acquire();
    Check(conn.status(), "acquire");
    auto facts_count = (*conn)->Query("SELECT COUNT(*) FROM memory_facts");
    Check(facts_count.status(), "count");
    Emit("writer_facts", static_cast<double>(facts_count->rows[0].GetInt(0)), "count");
  }
  auto replay_start = Clock::now();
  auto replay = service.Rebuild(std::nullopt, std::nullopt);
  Check(replay.status(), "rebuild");
  Emit("writer_replay_messages_per_s", sessions * per_session / 2 / Seconds(replay_start),
       "messages/s");
  // The fact writer alone, from scratch: every customer message through extraction and the
  // contradiction rules again (what `ventros memory rebuild` does after an extractor upgrade).
  {
    auto conn = (*db)->Acquire();
    Check(conn.status(), "acquire");
    Check((*conn)->Query("DELETE FROM memory_fact_evidence").status(), "clear evidence");
    Check((*conn)->Query("DELETE FROM memory_facts").status(), "clear facts");
  }
  auto fresh_start = Clock::now();
  auto fresh = service.Rebuild(std::nullopt, std::nullopt);
  Check(fresh.status(), "rebuild from scratch");
  double fresh_s = Seconds(fresh_start);
  Emit("writer_facts_only_sessions_per_s", sessions / fresh_s, "sessions/s");
  // The per-session writing (summary, contextual embedding, keyword and trigram entries) for
  // every session, as `ventros memory reindex` does it.
  auto reindex_start = Clock::now();
  Check(service.Reindex(std::nullopt), "reindex");
  double reindex_s = Seconds(reindex_start);
  Emit("writer_documents_sessions_per_s", sessions / reindex_s, "sessions/s");
  Emit("writer_documents_and_facts_sessions_per_s", sessions / (reindex_s + fresh_s), "sessions/s");
  Emit("writer_facts_only_learned", static_cast<double>(*fresh), "count");
  return 0;
}

int main(int argc, char** argv) {
  CLI::App cli{"Memory benchmark"};
  std::string db_url;
  int sessions = 100000, per_session = 10, contacts = 20000, searches = 2000;
  cli.add_option("--db", db_url, "Database URL (default: a temporary SQLite file)");
  cli.add_option("--sessions", sessions, "Sessions to build");
  cli.add_option("--messages-per-session", per_session, "Messages per session");
  cli.add_option("--contacts", contacts, "Contacts");
  cli.add_option("--searches", searches, "Searches to time");
  bool reuse = false, keep = false;
  cli.add_flag("--reuse", reuse, "Search the database given by --db as a previous run left it");
  cli.add_flag("--keep", keep, "Keep the temporary database (its URL goes to stderr)");
  int ef_search = 0, ef_construction = 0, hnsw_m = 0;
  cli.add_option("--ef-search", ef_search,
                 "HNSW ef_search for the recall measure (default: the index's)");
  cli.add_option("--ef-construction", ef_construction,
                 "HNSW ef_construction for the recall measure");
  cli.add_option("--hnsw-m", hnsw_m, "HNSW M for the recall measure");
  int writer_sessions = 0;
  cli.add_option("--writer", writer_sessions,
                 "Instead: the memory writer's throughput over this many conversations stored "
                 "through the CRM (events consumed by the memory indexer, facts extracted)");
  CLI11_PARSE(cli, argc, argv);
  if (writer_sessions > 0) {
    std::string tmp;
    if (db_url.empty()) {
      tmp =
          (std::filesystem::temp_directory_path() / ("ventros-bench-writer-" + core::RandomHex(6)))
              .string();
      std::filesystem::create_directories(tmp);
      db_url = "sqlite://" + tmp + "/writer.db";
    }
    int code = WriterBench(db_url, writer_sessions, per_session);  // everything closed on return
    if (!tmp.empty()) std::filesystem::remove_all(tmp);
    return code;
  }

  std::string tmp;
  if (db_url.empty()) {
    tmp = (std::filesystem::temp_directory_path() / ("ventros-bench-memory-" + core::RandomHex(6)))
              .string();
    std::filesystem::create_directories(tmp);
    db_url = "sqlite://" + tmp + "/memory.db";
  }
  core::DatabaseOptions dbo;
  dbo.url = db_url;
  dbo.pool_size = 4;
  auto db = core::Database::Open(dbo);
  Check(db.status(), "open");
  core::SystemClock clock;
  core::Migrator migrator(**db, core::Migrator::EmbeddedFor((*db)->engine()), clock);
  if (!reuse) Check(migrator.Apply().status(), "migrate");
  crm::TenantService tenants(**db, clock);
  crm::MessagingService messaging(**db, clock);
  crm::TenantId tid;
  if (!reuse) {
    auto tenant = tenants.CreateTenant("Bench");
    Check(tenant.status(), "tenant");
    tid = tenant->first.id;
  }
  memory::LocalEmbedder embedder;
  memory::MemoryService::Options options;
  options.search_cache_ttl_ms = 0;
  auto service = std::make_unique<memory::MemoryService>(**db, clock, core::NullLogger(), messaging,
                                                         embedder, nullptr, nullptr, options);

  std::mt19937_64 rng(42);
  std::vector<std::string> contact_ids;
  if (reuse) {
    // A database a previous run built (--db URL --reuse): search it again.
    auto conn = (*db)->Acquire();
    Check(conn.status(), "acquire");
    auto t = (*conn)->Query("SELECT tenant_id FROM memory_documents LIMIT 1");
    Check(t.status(), "tenant");
    if (t->empty()) {
      std::cerr << "--reuse: the database has no memory documents\n";
      return 1;
    }
    tid = crm::TenantId(t->rows[0].GetText(0));
    auto c = (*conn)->Query("SELECT id FROM contacts WHERE tenant_id = $1", {tid.str()});
    Check(c.status(), "contacts");
    for (const auto& r : c->rows) contact_ids.push_back(r.GetText(0));
    sessions = 0;
  }
  auto t0 = Clock::now();
  for (int i = 0; i < (reuse ? 0 : contacts); ++i) {
    crm::ContactInput in;
    in.name = fmt::format("Cliente {}", i);
    in.phone = fmt::format("55119{:08}", i);
    auto c = messaging.CreateContact(tid, in);
    Check(c.status(), "contact");
    contact_ids.push_back(c->id.str());
  }
  if (!reuse) Emit("contacts_created_s", Seconds(t0), "s");

  // The synthetic history, loaded in batches through the same document builder the indexer uses.
  auto build_start = Clock::now();
  int64_t start_ms = clock.NowMillis() - 365LL * 24 * 3600 * 1000;
  const int batch = 500;
  int64_t message_no = 0;
  for (int done = 0; done < sessions; done += batch) {
    std::vector<memory::MemoryService::BulkSession> chunk;
    for (int i = done; i < std::min(sessions, done + batch); ++i) {
      const Topic& topic = Topics()[rng() % Topics().size()];
      memory::MemoryService::BulkSession s;
      s.id = core::NewUuidV7();
      s.contact_id = contact_ids[rng() % contact_ids.size()];
      s.contact_name = "Cliente";
      s.agent_category = topic.category;
      s.campaign = rng() % 4 == 0 ? kCampaigns[rng() % kCampaigns.size()] : "";
      s.started_at = start_ms + static_cast<int64_t>(i) * 300000;
      for (int m = 0; m < per_session; ++m) {
        bool from_me = m % 2 == 1;
        std::string text = from_me ? Fill(kAgentLines[rng() % kAgentLines.size()], rng)
                                   : Fill(topic.customer[rng() % topic.customer.size()], rng);
        s.messages.push_back({fmt::format("bench-{}", ++message_no), s.id, s.contact_id,
                              from_me ? "bot" : "contact", text, from_me,
                              s.started_at + m * 20000});
      }
      s.ended_at = s.started_at + per_session * 20000;
      chunk.push_back(std::move(s));
    }
    Check(service->BulkLoad(tid, chunk), "bulk load");
    if ((done / batch) % 20 == 0) {
      std::cerr << fmt::format("\rbuilt {}/{} sessions", done + batch, sessions) << std::flush;
    }
  }
  if (!reuse) {
    std::cerr << "\n";
    double build_s = Seconds(build_start);
    Emit("sessions", sessions, "count");
    Emit("messages", static_cast<double>(message_no), "count");
    Emit("index_build_s", build_s, "s");
    Emit("index_build_sessions_per_s", sessions / build_s, "sessions/s");
  }

  // A restart: vectors reloaded from the database into a new service.
  service.reset();
  service = std::make_unique<memory::MemoryService>(**db, clock, core::NullLogger(), messaging,
                                                    embedder, nullptr, nullptr, options);
  auto load_start = Clock::now();
  Check(service->LoadVectors(), "load vectors");
  Emit("vector_reload_s", Seconds(load_start), "s");
  Emit("rss_mb", RssMb(), "MB");

  // Recall@10 of the HNSW index against exact search over the same stored vectors.
  {
    memory::VectorIndexOptions vo;
    memory::MemoryService::Options service_defaults;
    vo.ef_search = service_defaults.ef_search;
    vo.m = service_defaults.hnsw_m;
    vo.ef_construction = service_defaults.hnsw_ef_construction;
    if (ef_search > 0) vo.ef_search = ef_search;
    if (ef_construction > 0) vo.ef_construction = ef_construction;
    if (hnsw_m > 0) vo.m = hnsw_m;
    memory::VectorIndex index(embedder.dimensions(), vo);
    auto conn = (*db)->Acquire();
    Check(conn.status(), "acquire");
    int64_t last = 0;
    auto hnsw_start = Clock::now();
    while (true) {
      auto rows = (*conn)->Query(
          "SELECT seq, embedding FROM memory_documents WHERE seq > $1 ORDER BY seq LIMIT 10000",
          {last});
      Check(rows.status(), "vectors");
      if (rows->empty()) break;
      for (const auto& r : rows->rows) {
        last = r.GetInt(0);
        std::string bytes = r.GetBlob(1);
        std::vector<float> v(bytes.size() / sizeof(float));
        std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
        index.Upsert("bench", static_cast<uint64_t>(last), v);
      }
    }
    Emit("hnsw_build_s", Seconds(hnsw_start), "s");
    // Synthetic conversations repeat templates, so many documents tie in similarity: an
    // approximate hit as similar as the exact 10th counts as found (recall with ties); the raw
    // label match is reported too.
    double found = 0, wanted = 0, found_label = 0, returned = 0;
    std::vector<double> approx_us;
    for (int q = 0; q < 200; ++q) {
      const Topic& topic = Topics()[rng() % Topics().size()];
      llm::Vector v = embedder.EmbedOne(Fill(topic.customer[rng() % topic.customer.size()], rng));
      auto exact = index.ExactSearch("bench", v, 10);
      auto s0 = Clock::now();
      auto approx = index.Search("bench", v, 10);
      approx_us.push_back(Seconds(s0) * 1e6);
      float tenth = exact.empty() ? 0 : exact.back().similarity;
      returned += static_cast<double>(approx.size());
      size_t hit = 0;
      for (const auto& e : exact) {
        for (const auto& a : approx) hit += a.label == e.label;
      }
      if (hit < exact.size() && std::getenv("VENTROS_BENCH_DEBUG")) {
        for (size_t j = 0; j < 10; ++j) {
          std::cerr << fmt::format(
              "  exact {} {:.4f} | approx {} {:.4f}\n", j < exact.size() ? exact[j].label : 0,
              j < exact.size() ? exact[j].similarity : 0.f, j < approx.size() ? approx[j].label : 0,
              j < approx.size() ? approx[j].similarity : 0.f);
        }
      }
      for (const auto& e : exact) {
        wanted += 1;
        for (const auto& a : approx) found_label += a.label == e.label;
      }
      for (size_t j = 0; j < approx.size() && j < exact.size(); ++j) {
        found += approx[j].similarity >= tenth - 1e-6f;
      }
    }
    Emit("recall_at_10", wanted > 0 ? found / wanted : 0, "ratio");
    Emit("recall_at_10_by_label", wanted > 0 ? found_label / wanted : 0, "ratio");
    Emit("vector_hits_returned_avg", returned / 200.0, "count");
    Emit("vector_search_p50_us", Percentile(approx_us, 0.5), "us");
    Emit("vector_search_p99_us", Percentile(approx_us, 0.99), "us");
  }

  {
    // The CRM's contact lookup alone (every search starts with it).
    std::vector<double> us;
    for (int i = 0; i < 500; ++i) {
      auto s0 = Clock::now();
      auto c = messaging.GetContact(tid, crm::ContactId(contact_ids[rng() % contact_ids.size()]));
      us.push_back(Seconds(s0) * 1e6);
      Check(c.status(), "get contact");
    }
    Emit("crm_get_contact_p50_us", Percentile(us, 0.5), "us");
  }

  // Hybrid searches: random contacts, customer-like queries, strategies in turn, no cache.
  std::vector<std::string> queries = {"quero cancelar está caro",
                                      "erro 500 no login",
                                      "boleto da fatura",
                                      "cancelamento plano",
                                      "concorrente mais barato",
                                      "app não carrega",
                                      "cobrado duas vezes",
                                      "preço do plano anual",
                                      "pedido não chegou",
                                      "cancel subscription expensive",
                                      "nota fiscal",
                                      "demonstração"};
  std::vector<std::string> strategies = {"retention_churn", "support_technical", "support_billing",
                                         "sales_prospecting", "balanced"};
  std::map<std::string, std::vector<double>> stages;
  for (int i = 0; i < searches + 50; ++i) {
    memory::SearchRequest req;
    req.tenant = tid;
    req.contact = crm::ContactId(contact_ids[rng() % contact_ids.size()]);
    req.query = queries[rng() % queries.size()];
    req.strategy = strategies[i % strategies.size()];
    req.use_cache = false;
    auto start = Clock::now();
    auto r = service->Search(req);
    double ms = Seconds(start) * 1000;
    Check(r.status(), "search");
    if (i < 50) continue;  // warm-up
    stages["total"].push_back(ms);
    for (const auto& [stage, value] : r->timings_ms) {
      if (stage != "total") stages[stage].push_back(value);
    }
  }
  for (const auto& [stage, values] : stages) {
    Emit(fmt::format("search_{}_p50_ms", stage), Percentile(values, 0.5), "ms");
    Emit(fmt::format("search_{}_p99_ms", stage), Percentile(values, 0.99), "ms");
  }
  Emit("rss_after_searches_mb", RssMb(), "MB");
  service.reset();
  db->reset();
  if (keep) {
    std::cerr << "kept: " << db_url << "\n";
  } else if (!tmp.empty()) {
    std::filesystem::remove_all(tmp);
  }
  return 0;
}
