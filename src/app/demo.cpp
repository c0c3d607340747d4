// `ventros demo`: the whole flow offline, in a fresh temporary database. A built-in fake WAHA on
// loopback receives the reply; a seeded history for the contact Leonardo (12 sessions over 90
// days, a budget, a competitor's price, a retention campaign, 90 days as active_customer) goes in
// through the real webhook path, so the CRM, the memory indexer and the fact writer build what
// the agent then reads.

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include "app/app.hpp"
#include "ventros/agents/agents.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/json.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/memory/memory.hpp"

namespace ventros::app {

namespace json = core::json;
using core::Status;

namespace {

constexpr const char* kPhone = "5511987654321";
constexpr const char* kHmac = "demo-hmac-secret";
constexpr const char* kWahaKey = "demo-waha-key";

// What the fake WAHA received.
struct WahaLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<json::object> sent;  // sendText bodies
};

// A few WAHA endpoints, enough for the outbound path (sendText, seen, typing, lids).
void AddFakeWahaRoutes(core::Router& router, WahaLog& log) {
  auto ok = [&log](core::HttpRequest& req) {
    if (req.Header("X-Api-Key") != kWahaKey) {
      return core::HttpResponse::Json(401, R"({"message":"Unauthorized"})");
    }
    return core::HttpResponse::Json(201, "{}");
  };
  router.Add("POST", "/api/sendText",
             [&log](core::HttpRequest& req) {
               if (req.Header("X-Api-Key") != kWahaKey) {
                 return core::HttpResponse::Json(401, R"({"message":"Unauthorized"})");
               }
               boost::system::error_code ec;
               auto body = json::parse(req.body, ec);
               if (ec || !body.is_object() || !body.as_object().contains("chatId")) {
                 return core::HttpResponse::Json(400,
                                                 R"({"message":"chatId and text are required"})");
               }
               std::string chat(body.as_object().at("chatId").as_string());
               std::string id = "true_" + chat + "_3EB0" + core::RandomHex(8);
               {
                 std::lock_guard lock(log.mu);
                 log.sent.push_back(body.as_object());
               }
               log.cv.notify_all();
               return core::HttpResponse::Json(
                   201, json::serialize(json::object{{"id", id},
                                                     {"fromMe", true},
                                                     {"to", chat},
                                                     {"body", body.as_object().at("text")},
                                                     {"ack", 1}}));
             },
             {.execution = core::Execution::kInline});
  for (const char* path : {"/api/sendSeen", "/api/startTyping", "/api/stopTyping"}) {
    router.Add("POST", path, ok, {.execution = core::Execution::kInline});
  }
  router.Add("GET", "/api/{session}/lids/{lid}",
             [](core::HttpRequest& req) {
               return core::HttpResponse::Json(
                   200,
                   json::serialize(json::object{{"lid", req.PathParam("lid")}, {"pn", nullptr}}));
             },
             {.execution = core::Execution::kInline});
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Webhook(const std::string& body, int64_t at_ms, bool from_me, int n) {
  std::string id = fmt::format("3EB0DEMO{:08d}", n);
  std::string chat = std::string(kPhone) + "@c.us";
  json::object payload{{"id", fmt::format("{}_{}_{}", from_me ? "true" : "false", chat, id)},
                       {"timestamp", at_ms / 1000},
                       {"from", from_me ? "5511900000000@c.us" : chat},
                       {"fromMe", from_me},
                       {"source", "app"},
                       {"to", from_me ? chat : "5511900000000@c.us"},
                       {"body", body},
                       {"hasMedia", false},
                       {"_data", json::object{{"pushName", from_me ? "Loja" : "Leonardo Souza"}}}};
  return json::serialize(json::object{{"id", fmt::format("evt_demo_{}", n)},
                                      {"timestamp", at_ms},
                                      {"event", from_me ? "message.any" : "message"},
                                      {"session", "default"},
                                      {"payload", std::move(payload)}});
}

// The seeded history: (days ago, [(from_me, text)]) per session, oldest first.
struct SeedSession {
  int days_ago;
  std::vector<std::pair<bool, std::string>> messages;
};
const std::vector<SeedSession>& History() {
  static const std::vector<SeedSession> h = {
      {95,
       {{false,
         "Oi! Vi o anúncio de vocês sobre a campanha de retenção e queria conhecer a "
         "plataforma"},
        {true, "Olá Leonardo! Claro, posso te mostrar os planos. Qual o tamanho da sua equipe?"},
        {false, "Somos 8 pessoas no atendimento"}}},
      {93,
       {{false, "Meu orçamento é de R$ 5000 por mês para a ferramenta"},
        {true, "Perfeito, o plano Pro cabe nesse orçamento."}}},
      {91,
       {{false, "Fechado, quero assinar o plano Pro"},
        {true, "Ótimo! Sua conta está ativa. Bem-vindo!"}}},
      {84,
       {{false, "Como eu conecto o WhatsApp da loja?"},
        {true, "Vá em Canais > WhatsApp e leia o QR code."},
        {false, "Deu certo, obrigado"}}},
      {76,
       {{false, "O relatório de vendas não carrega, aparece erro 504"},
        {true, "Obrigado por avisar, já corrigimos. Pode testar de novo?"},
        {false, "Agora foi"}}},
      {65,
       {{false, "Preciso da segunda via do boleto de outubro"},
        {true, "Enviei a segunda via para o seu e-mail."}}},
      {54,
       {{false, "Vocês têm integração com o Shopify?"}, {true, "Temos sim, está em Integrações."}}},
      {43,
       {{false, "A equipe está gostando, mas o preço pesa no caixa"},
        {true, "Entendo, vou registrar seu comentário."}}},
      {31,
       {{false, "O concorrente está 30% mais barato, estou pensando em trocar"},
        {true, "Obrigado pela franqueza, Leonardo. Vou levar isso para a equipe."}}},
      {20,
       {{false, "Os relatórios estão lentos de novo hoje"},
        {true, "Estamos acompanhando, deve normalizar em breve."}}},
      {9,
       {{false, "Qual a data de vencimento da próxima fatura?"},
        {true, "A próxima fatura vence no dia 10."}}},
      {3,
       {{false, "Ainda estou avaliando se continuo com vocês"},
        {true, "Conte comigo para o que precisar."}}},
  };
  return h;
}

template <typename F>
bool WaitFor(F done, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

}  // namespace

int RunDemo(const DemoOptions& options, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  auto fail = [&](const std::string& what) {
    err << "error: " << what << "\n";
    return 1;
  };
  // A fresh temporary database unless told otherwise.
  fs::path dir = fs::temp_directory_path() / ("ventros-demo-" + core::RandomHex(6));
  std::error_code fec;
  fs::create_directories(dir, fec);
  if (fec) return fail("cannot create " + dir.string() + ": " + fec.message());
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(dir, ec);
    }
  } cleanup{dir, options.keep};

  // The fake WAHA.
  WahaLog log;
  core::Router waha_router;
  AddFakeWahaRoutes(waha_router, log);
  core::MetricsRegistry waha_metrics;
  core::HttpServerOptions waha_opts;
  waha_opts.host = "127.0.0.1";
  waha_opts.port = 0;
  waha_opts.io_threads = 1;
  waha_opts.worker_threads = 1;
  waha_opts.log_requests = false;
  core::HttpServer waha(waha_opts, waha_router, core::NullLogger(), waha_metrics);
  if (auto st = waha.Start(); !st.ok()) return fail("fake WAHA: " + st.ToString());
  const std::string waha_url = fmt::format("http://127.0.0.1:{}", waha.port());

  core::Config config;
  config.database.url =
      options.db_url.empty() ? "sqlite://" + (dir / "demo.db").string() : options.db_url;
  config.server.listen = "127.0.0.1:0";
  config.modules = {"crm", "memory", "agents", "observability"};
  config.log.level = "error";
  config.log.requests = false;
  config.events.poll_interval_ms = 50;
  config.crm.session_sweep_interval_ms = 200;
  config.waha.media_dir = (dir / "media").string();
  std::ostringstream boot;
  auto server = Server::Create(config, core::NullLogger(), boot);
  if (!server.ok()) return fail(server.status().ToString());
  Server& srv = **server;
  if (auto st = srv.Start(); !st.ok()) return fail(st.ToString());

  // The tenant: the one created on first start (or the first one of an existing database).
  crm::TenantId tenant;
  {
    auto conn = srv.database().Acquire();
    if (!conn.ok()) return fail(conn.status().ToString());
    auto rows = (*conn)->Query("SELECT id FROM tenants ORDER BY created_at, id LIMIT 1");
    if (!rows.ok() || rows->empty()) return fail("no tenant");
    tenant = crm::TenantId(rows->rows[0].GetText(0));
  }
  crm::ChannelInput ch;
  ch.name = "Demo WhatsApp";
  ch.waha_url = waha_url;
  ch.waha_api_key = kWahaKey;
  ch.hmac_secret = kHmac;
  auto channel = srv.messaging().CreateChannel(tenant, ch);
  if (!channel.ok()) return fail(channel.status().ToString());
  const std::string base = fmt::format("http://127.0.0.1:{}", srv.port());
  core::HttpClient client;
  auto post = [&](const std::string& body) -> Status {
    core::HttpClientRequest req;
    req.method = "POST";
    req.url = base + "/webhooks/waha/" + channel->id.str();
    req.body = body;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Webhook-Hmac", core::HmacSha512Hex(kHmac, body)}};
    auto r = client.Send(req);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Status::Internal(fmt::format("webhook answered {}", r->status));
    return Status::Ok();
  };

  out << "Ventros demo (offline: local embedder, rule-based model, fake WAHA at " << waha_url
      << ")\n";
  out << "Seeding 12 past sessions of Leonardo over 90 days through the webhook path...\n";
  const int64_t now = NowMs();
  int n = 0, messages = 0;
  for (const auto& session : History()) {
    int64_t at = now - int64_t{session.days_ago} * 86400000 + 10LL * 3600 * 1000;
    for (const auto& [from_me, text] : session.messages) {
      if (auto st = post(Webhook(text, at, from_me, ++n)); !st.ok()) return fail(st.ToString());
      at += 90 * 1000;
      ++messages;
    }
  }
  // The CRM applies them; the contact gets its campaign and stage.
  std::optional<crm::ContactId> contact;
  if (!WaitFor(
          [&] {
            auto page = srv.messaging().ListContacts(tenant, {}, {});
            if (!page.ok() || page->items.empty()) return false;
            contact = page->items[0].id;
            auto msgs = srv.messaging().ListMessages(tenant, std::nullopt, contact,
                                                     crm::Page{.limit = 200});
            return msgs.ok() && static_cast<int>(msgs->items.size()) == messages;
          },
          std::chrono::seconds(60))) {
    return fail("the seeded webhooks were not applied in time");
  }
  crm::ContactInput update;
  update.attribution.utm_source = "instagram";
  update.attribution.utm_medium = "paid_social";
  update.attribution.utm_campaign = "retencao_q4";
  update.pipeline_stage = "active_customer";
  if (auto c = srv.messaging().UpdateContact(tenant, *contact, update); !c.ok()) {
    return fail(c.status().ToString());
  }
  {
    // Seeding: a customer for 90 days (the API stamps stage changes with the current time).
    auto conn = srv.database().Acquire();
    if (!conn.ok()) return fail(conn.status().ToString());
    auto upd = (*conn)->Query(
        "UPDATE contacts SET stage_entered_at = $1, first_seen_at = $2 WHERE id = $3",
        {core::DbValue(now - 90LL * 86400000), core::DbValue(now - 95LL * 86400000),
         core::DbValue(contact->str())});
    if (!upd.ok()) return fail(upd.status().ToString());
  }
  // The memory indexes the sessions and learns the facts.
  memory::MemoryService* mem = srv.memory();
  if (!WaitFor(
          [&] {
            auto summary = mem->Summary(tenant, *contact);
            return summary.ok() && summary->stats.total_sessions >= 12 &&
                   summary->facts.size() >= 2 && summary->stats.campaign_source.has_value();
          },
          std::chrono::seconds(60))) {
    return fail("the memory did not index the history in time");
  }

  // The live message.
  out << fmt::format("Customer writes: \"{}\"\n\n", options.text);
  if (auto st = post(Webhook(options.text, NowMs(), false, ++n)); !st.ok()) {
    return fail(st.ToString());
  }
  json::object sent;
  {
    std::unique_lock lock(log.mu);
    if (!log.cv.wait_for(lock, std::chrono::seconds(60), [&] { return !log.sent.empty(); })) {
      return fail("no reply reached WAHA in time");
    }
    sent = log.sent.front();
  }
  agents::AgentsService* ag = srv.agents();
  std::vector<agents::Turn> turns;
  WaitFor(
      [&] {
        auto t = ag->ListTurns(tenant, std::nullopt, 1);
        if (t.ok()) turns = *t;
        return !turns.empty();
      },
      std::chrono::seconds(10));
  if (turns.empty()) return fail("the agent turn was not recorded");
  const agents::Turn& t = turns.front();

  auto routed = ag->Classify(tenant, options.text);
  out << "== 1. Router ==\n";
  if (routed.ok()) {
    out << fmt::format("category {} (confidence {:.2f}{})\n", t.category, t.confidence,
                       t.routed_fallback ? ", below every threshold" : "");
    for (const auto& s : routed->scores) {
      out << fmt::format("  {:<18} {:.3f}\n", s.category, s.score);
    }
  }
  out << fmt::format("specialist: {} ({})\n\n", t.agent_name,
                     t.agent_id ? "agent " + *t.agent_id : "built-in template");
  out << "== 2. Memory context (strategy " << t.category << ") ==\n" << t.context << "\n";
  out << "== 3. Tool calls and guardrails ==\n";
  if (t.tools.empty()) out << "(none)\n";
  for (const auto& tool : t.tools) {
    out << fmt::format("{}({})\n", tool.name, tool.arguments);
    for (const auto& v : tool.verdicts) out << "  guardrail " << v << "\n";
    out << "  result " << tool.result << "\n";
  }
  out << fmt::format("groundedness {:.2f}{}\n\n", t.groundedness,
                     t.reply_replaced ? " (model reply replaced)" : "");
  out << "== 4. Reply that reached WAHA (POST /api/sendText) ==\n";
  out << fmt::format("chatId: {}\ntext:   {}\n\n", json::value_to<std::string>(sent.at("chatId")),
                     json::value_to<std::string>(sent.at("text")));
  out << fmt::format(
      "model {} · {} tokens · ${:.6f} · turn {:.1f} ms (memory {:.1f} ms, model {:.2f} ms) · "
      "trace {}\n",
      t.model, t.usage.total_tokens, t.cost_usd,
      t.timings_ms.count("total") ? t.timings_ms.at("total") : 0.0,
      t.timings_ms.count("memory") ? t.timings_ms.at("memory") : 0.0,
      t.timings_ms.count("llm") ? t.timings_ms.at("llm") : 0.0, t.trace_id);
  if (options.keep && options.db_url.empty()) {
    out << "Database kept at " << (dir / "demo.db").string() << "\n";
  }
  srv.Stop();
  waha.Stop();
  return 0;
}

}  // namespace ventros::app
