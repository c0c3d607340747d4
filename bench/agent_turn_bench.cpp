// scripts/bench agent-turn: the whole agent path in one process, as `ventros serve` runs it
// (configuration from the defaults and VENTROS_* variables, offline model): a customer's WAHA
// webhook in, the inbox consumer (waha.ingest), the coordinator's turn (agents.coordinator:
// route, memory search, model, tools, commit), the sender (waha.sender) and POST /api/sendText
// out at a fake WAHA in this process. N sessions (distinct phones, default 50) run closed loops
// concurrently: send a message, wait for its reply at the fake WAHA, send the next. Latency is
// the time from just before the webhook POST to the arrival of the sendText. Each contact first
// gets a history (earlier sessions, days old, so the agents leave them alone) for the memory to
// search. One JSON line per figure:
//   {"bench":"agent_turn","metric":"p50_ms","value":12.3,"unit":"ms"}
// The turns' own timings (route, memory, llm, tools, commit) come from the recorded agent turns
// (what GET /v1/agent-turns shows); memory_share is their memory time over the end-to-end time.
// Exits 1 when a reply does not arrive within 30 s, or when the number of sendText calls is not
// exactly one per message.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/app.hpp"
#include "bench_util.hpp"
#include "ventros/core/config.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/http_server.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/crm/messaging.hpp"

using namespace ventros;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;

namespace {

using ventros::bench::Percentile;
using ventros::bench::RssMb;
using ventros::bench::Seconds;
using ventros::bench::Sum;

void Emit(const std::string& metric, double value, const std::string& unit) {
  ventros::bench::Emit("agent_turn", metric, value, unit);
}

constexpr const char* kSecret = "bench-secret";
constexpr const char* kWahaKey = "bench-waha-key";
constexpr const char* kMe = "5511900000000@c.us";  // the business's own number
constexpr auto kReplyTimeout = std::chrono::seconds(30);

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MsBetween(Steady::time_point a, Steady::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The first failure of any thread; later ones are dropped. Threads stop early once it is set.
class Failure {
 public:
  void Set(const std::string& what) {
    std::lock_guard lock(mu_);
    if (!failed_) message_ = what;
    failed_ = true;
  }
  bool failed() const { return failed_; }
  std::string message() const {
    std::lock_guard lock(mu_);
    return message_;
  }

 private:
  mutable std::mutex mu_;
  std::string message_;
  std::atomic<bool> failed_{false};
};

// A WAHA that answers sendText as WAHA does (201 and the sent message with its id) and records,
// per chat, when each sendText arrived. Answers on its I/O thread.
class FakeWaha {
 public:
  struct Arrival {
    Steady::time_point at;
    int64_t wall_us = 0;
  };

  explicit FakeWaha(const std::vector<std::string>& chats) {
    for (const auto& chat : chats) chats_.try_emplace(chat);
    const core::RouteOptions inline_route{.execution = core::Execution::kInline};
    router_.Add(
        "POST", "/api/sendText", [this](core::HttpRequest& req) { return SendText(req); },
        inline_route);
    // Only with waha.humanize (VENTROS_WAHA_HUMANIZE=true).
    for (const char* path : {"/api/sendSeen", "/api/startTyping", "/api/stopTyping"}) {
      router_.Add(
          "POST", path, [](core::HttpRequest&) { return core::HttpResponse::Json(201, "{}"); },
          inline_route);
    }
    router_.Add(
        "GET", "/api/{session}/lids/{lid}",
        [](core::HttpRequest& req) {
          return core::HttpResponse::Json(
              200, json::serialize(json::object{{"lid", req.PathParam("lid")}, {"pn", nullptr}}));
        },
        inline_route);
    core::HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.io_threads = 1;
    options.worker_threads = 1;
    options.log_requests = false;
    server_ = std::make_unique<core::HttpServer>(options, router_, core::NullLogger(), metrics_);
  }
  ~FakeWaha() { server_->Stop(); }

  core::Status Start() { return server_->Start(); }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", server_->port()); }

  // Waits until `chat` has received more than `index` sends; returns the arrival of send `index`
  // (0-based), or nothing at the deadline.
  std::optional<Arrival> WaitFor(const std::string& chat, size_t index,
                                 Steady::time_point deadline) {
    std::unique_lock lock(mu_);
    const auto& sends = chats_.at(chat);
    if (!cv_.wait_until(lock, deadline, [&] { return sends.size() > index; })) return std::nullopt;
    return sends[index];
  }

  size_t Count(const std::string& chat) const {
    std::lock_guard lock(mu_);
    return chats_.at(chat).size();
  }
  size_t Total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  size_t Rejected() const {
    std::lock_guard lock(mu_);
    return rejected_;
  }

 private:
  core::HttpResponse SendText(core::HttpRequest& req) {
    Arrival arrival{Steady::now(), WallMicros()};
    if (req.Header("X-Api-Key") != kWahaKey) {
      std::lock_guard lock(mu_);
      ++rejected_;
      return core::HttpResponse::Json(401, R"({"message":"Unauthorized","statusCode":401})");
    }
    boost::system::error_code ec;
    json::value body = json::parse(req.body, ec);
    const json::object* o = !ec && body.is_object() ? &body.as_object() : nullptr;
    const json::value* chat = o ? o->if_contains("chatId") : nullptr;
    const json::value* text = o ? o->if_contains("text") : nullptr;
    const json::value* session = o ? o->if_contains("session") : nullptr;
    if (!chat || !chat->is_string() || !text || !session || !session->is_string()) {
      std::lock_guard lock(mu_);
      ++rejected_;
      return core::HttpResponse::Json(
          400, R"({"statusCode":400,"message":["session, chatId and text are required"]})");
    }
    const std::string chat_id(chat->as_string());
    int64_t n = 0;
    {
      std::lock_guard lock(mu_);
      auto it = chats_.find(chat_id);
      if (it == chats_.end()) {
        ++rejected_;  // a chat no session driver owns
      } else {
        it->second.push_back(arrival);
      }
      n = static_cast<int64_t>(++total_);
    }
    cv_.notify_all();
    const std::string id = fmt::format("true_{}_3EB0{:016X}", chat_id, n);
    json::object reply{{"id", id},        {"timestamp", arrival.wall_us / 1000000},
                       {"from", kMe},     {"fromMe", true},
                       {"source", "api"}, {"to", chat_id},
                       {"body", *text},   {"hasMedia", false},
                       {"ack", 1},        {"ackName", "SERVER"}};
    return core::HttpResponse::Json(201, json::serialize(reply));
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<Arrival>> chats_;  // keys fixed before Start
  size_t total_ = 0;
  size_t rejected_ = 0;
  core::Router router_;
  core::MetricsRegistry metrics_;
  // Last: stopped (in the destructor) before the state above goes away.
  std::unique_ptr<core::HttpServer> server_;
};

// What customers write, in Portuguese and English: cancellation, billing, technical errors,
// sales interest, greetings. None asks for a human, reports an outage or asks to be called later
// (those hand the session to a human or schedule a follow-up, and the loop would stop).
const std::vector<std::string> kCustomerTexts = {
    "Quero cancelar minha assinatura, está muito caro",
    "Fui cobrado duas vezes na fatura deste mês",
    "O aplicativo mostra erro {code} quando faço login",
    "Vi o anúncio e quero saber quanto custa o plano anual",
    "Oi, tudo bem? Qual o horário de atendimento?",
    "I want to cancel my subscription, it is too expensive",
    "I was charged twice this month, invoice {order}",
    "The app shows error {code} when I try to log in",
    "Do you offer a discount on annual plans for {n} seats?",
    "Hello, good afternoon! How are you?",
    "Estou pensando em cancelar o plano, o valor subiu para R$ {amount}",
    "Preciso da segunda via do boleto do pedido {order}",
    "Não consigo exportar o relatório, aparece o erro {code}",
    "Vocês têm plano para {n} usuários?",
    "Bom dia! Obrigado pela ajuda de ontem",
    "Can I get a copy of my last invoice?",
    "The report export fails with error {code}",
    "I would like a demo of the Pro plan for my team",
    "Hi there, thanks for the quick answer yesterday",
    "A nota fiscal de maio veio com o valor errado",
};

const std::vector<std::string> kAgentTexts = {
    "Entendo, vou verificar para você.",       "Já abri um chamado com a equipe técnica.",
    "Sua segunda via foi enviada por e-mail.", "Obrigado pelo contato! Posso ajudar em algo mais?",
    "Consegue me enviar um print do erro?",    "Thanks, I have forwarded this to our billing team.",
};

std::string Fill(std::string text, std::mt19937_64& rng) {
  auto replace = [&](const std::string& slot, const std::string& value) {
    for (size_t at; (at = text.find(slot)) != std::string::npos;)
      text.replace(at, slot.size(), value);
  };
  replace("{code}", std::to_string(400 + rng() % 200));
  replace("{order}", std::to_string(100000 + rng() % 900000));
  replace("{n}", std::to_string(2 + rng() % 50));
  replace("{amount}", std::to_string(100 + (rng() % 50) * 10));
  return text;
}

// A WAHA "message" webhook: from the contact, or (from_me) sent by the business from its phone.
std::string Hook(const std::string& phone, const std::string& body, bool from_me, int64_t at_ms) {
  const std::string chat = phone + "@c.us";
  const std::string unique = core::RandomHex(10);
  json::object payload{
      {"id", fmt::format("{}_{}_3EB0{}", from_me ? "true" : "false", chat, unique)},
      {"timestamp", at_ms / 1000},
      {"from", from_me ? std::string(kMe) : chat},
      {"fromMe", from_me},
      {"source", "app"},
      {"to", from_me ? chat : std::string(kMe)},
      {"body", body},
      {"hasMedia", false}};
  if (!from_me) payload["_data"] = json::object{{"pushName", "Cliente Bench"}};
  return json::serialize(json::object{{"id", "evt_" + unique},
                                      {"timestamp", at_ms},
                                      {"event", "message"},
                                      {"session", "default"},
                                      {"payload", std::move(payload)}});
}

// Waits until every consumer has caught up with the outbox and has no delivery waiting.
core::Status WaitIdle(core::EventBus& bus, std::chrono::seconds timeout) {
  const auto deadline = Steady::now() + timeout;
  std::string busy;
  while (Steady::now() < deadline) {
    auto consumers = bus.ListConsumers();
    if (!consumers.ok()) return consumers.status();
    busy.clear();
    for (const auto& c : *consumers) {
      if (c.lag > 0 || c.pending > 0) {
        busy += fmt::format(" {} (lag {}, pending {})", c.name, c.lag, c.pending);
      }
    }
    if (busy.empty()) return core::Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return core::Status::Unavailable("consumers still busy after " + std::to_string(timeout.count()) +
                                   " s:" + busy);
}

struct Sample {
  double latency_ms = 0;  // webhook POST -> sendText arrival
  double ack_ms = 0;      // webhook POST -> 200
  int64_t sent_wall_us = 0;
  int64_t arrival_wall_us = 0;
};

struct Driver {
  std::string phone, chat;
  std::unique_ptr<core::HttpClient> client;
  std::mt19937_64 rng;
  size_t replies = 0;  // sendTexts waited for so far
  size_t next_text = 0;
  std::vector<Sample> measured;
};

struct Options {
  int sessions = 50, turns = 10, warmup = 2, history = 20;
  int think_ms = 0;    // pause between a reply and the session's next message
  bool trace = false;  // host the observability module too (every turn stored as a trace)
  std::string db;
};

int Fail(const std::string& what) {
  std::cerr << "agent-turn bench: " << what << "\n";
  return 1;
}

int Run(const Options& opt, const std::string& tmp) {
  const int sessions = opt.sessions, turns = opt.turns, warmup = opt.warmup, history = opt.history;
  const std::string& db_arg = opt.db;
  const auto think = std::chrono::milliseconds(opt.think_ms);
  // The server as `ventros serve` configures it (defaults, then VENTROS_* variables), in-process.
  auto loaded = core::ConfigLoader::Load("", core::ConfigLoader::ProcessEnvironment());
  if (!loaded.ok()) return Fail("config: " + loaded.status().ToString());
  core::Config config = *loaded;
  config.server.listen = "127.0.0.1:0";
  config.database.url = db_arg.empty()                            ? "sqlite://" + tmp + "/bench.db"
                        : db_arg.find("://") == std::string::npos ? "sqlite://" + db_arg
                                                                  : db_arg;
  config.modules = {"crm", "memory", "agents"};
  if (opt.trace) config.modules.push_back("observability");
  config.waha.media_dir = tmp + "/media";
  config.bootstrap.create_default_tenant = true;
  if (!std::getenv("VENTROS_LOG_LEVEL")) config.log.level = "warn";
  if (!std::getenv("VENTROS_LOG_REQUESTS")) config.log.requests = false;
  if (auto valid = core::ConfigLoader::Validate(config); !valid.ok()) {
    return Fail("config: " + valid.ToString());
  }
  std::cerr << fmt::format(
      "agent-turn: {} sessions x ({} warm-up + {} measured) turns, {} history messages each; "
      "events.poll_interval_ms={} events.consumer_nice={} server.worker_threads={} "
      "database.pool_size={} llm.provider={} memory.embedder={}\n",
      sessions, warmup, turns, history, config.events.poll_interval_ms, config.events.consumer_nice,
      config.server.worker_threads, config.database.pool_size, config.llm.provider,
      config.memory.embedder);
  auto logger = core::MakeLogger(config.log);
  if (!logger.ok()) return Fail("logger: " + logger.status().ToString());

  std::vector<Driver> drivers(static_cast<size_t>(sessions));
  std::vector<std::string> chats;
  for (int d = 0; d < sessions; ++d) {
    Driver& drv = drivers[static_cast<size_t>(d)];
    drv.phone = fmt::format("5511970{:06}", d);
    drv.chat = drv.phone + "@c.us";
    drv.rng.seed(1000 + static_cast<uint64_t>(d));
    drv.next_text = static_cast<size_t>(d) * 7;
    core::HttpClientOptions copts;
    copts.max_retries = 0;
    copts.request_timeout = std::chrono::milliseconds(30000);
    drv.client = std::make_unique<core::HttpClient>(copts);
    chats.push_back(drv.chat);
  }

  int code = 0;
  {
    FakeWaha waha(chats);  // outlives the server, which may still be sending to it
    if (auto st = waha.Start(); !st.ok()) return Fail("fake WAHA: " + st.ToString());

    std::ostringstream out;
    auto created = app::Server::Create(config, *logger, out);
    if (!created.ok()) return Fail("server: " + created.status().ToString());
    std::unique_ptr<app::Server> server = std::move(created).value();
    if (auto st = server->Start(); !st.ok()) return Fail("start: " + st.ToString());
    const std::string base = fmt::format("http://127.0.0.1:{}", server->port());
    std::smatch m;
    const std::string text = out.str();
    std::string admin_key, tenant_id;
    if (std::regex_search(text, m, std::regex("(vt_[A-Za-z0-9]+)"))) admin_key = m[1];
    if (std::regex_search(text, m, std::regex("\\(([0-9a-f-]{36})\\)"))) tenant_id = m[1];
    if (admin_key.empty() || tenant_id.empty()) {
      return Fail("no admin key printed: --db must name a new database");
    }

    // The channel, pointing at the fake WAHA.
    std::string channel;
    {
      core::HttpClientRequest req;
      req.method = "POST";
      req.url = base + "/v1/channels";
      req.headers = {{"Content-Type", "application/json"},
                     {"Authorization", "Bearer " + admin_key}};
      req.body = json::serialize(json::object{{"name", "bench"},
                                              {"waha_url", waha.url()},
                                              {"waha_api_key", kWahaKey},
                                              {"hmac_secret", kSecret}});
      auto res = drivers[0].client->Send(req);
      if (!res.ok() || res->status != 201) {
        return Fail("creating the channel: " + (res.ok() ? res->body : res.status().ToString()));
      }
      boost::system::error_code ec;
      auto v = json::parse(res->body, ec);
      if (ec || !v.is_object() || !v.as_object().contains("id")) {
        return Fail("creating the channel: " + res->body);
      }
      channel = std::string(v.at("id").as_string());
    }
    const std::string hook_url = base + "/webhooks/waha/" + channel;

    Failure failure;
    auto post = [&](Driver& drv, const std::string& body) -> std::optional<double> {
      core::HttpClientRequest req;
      req.method = "POST";
      req.url = hook_url;
      req.body = body;
      req.headers = {{"Content-Type", "application/json"},
                     {"X-Webhook-Hmac", core::HmacSha512Hex(kSecret, body)}};
      req.retry = false;
      const auto t0 = Steady::now();
      auto res = drv.client->Send(req);
      if (!res.ok() || res->status != 200) {
        failure.Set(fmt::format(
            "webhook for {} failed: {}", drv.chat,
            res.ok() ? fmt::format("{} {}", res->status, res->body) : res.status().ToString()));
        return std::nullopt;
      }
      return MsBetween(t0, Steady::now());
    };
    // One closed-loop turn: a fresh customer message, then its reply at the fake WAHA.
    auto turn = [&](Driver& drv, Sample* sample) {
      const std::string& tmpl = kCustomerTexts[drv.next_text % kCustomerTexts.size()];
      drv.next_text += 3;  // coprime with the pool size: no text repeats within 20 turns
      const std::string body = Hook(drv.phone, Fill(tmpl, drv.rng), false, WallMicros() / 1000);
      const int64_t sent_wall = WallMicros();
      const auto t0 = Steady::now();
      auto ack = post(drv, body);
      if (!ack) return;
      auto arrival = waha.WaitFor(drv.chat, drv.replies, t0 + kReplyTimeout);
      if (!arrival) {
        failure.Set(fmt::format("no sendText for {} within {} s of its message #{} (\"{}\")",
                                drv.chat, kReplyTimeout.count(), drv.replies + 1, tmpl));
        return;
      }
      ++drv.replies;
      if (sample) {
        sample->latency_ms = MsBetween(t0, arrival->at);
        sample->ack_ms = *ack;
        sample->sent_wall_us = sent_wall;
        sample->arrival_wall_us = arrival->wall_us;
      }
    };

    std::latch seeded(sessions), go_warm(1), warmed(sessions), go_measure(1);
    const int64_t now_ms = WallMicros() / 1000;
    std::vector<std::thread> threads;
    for (auto& drv_ref : drivers) {
      threads.emplace_back([&, drv = &drv_ref] {
        // History: two earlier sessions (3 and 2 days ago), customer and business in turn.
        for (int k = 0; k < history && !failure.failed(); ++k) {
          const bool from_me = k % 2 == 1;
          const int64_t at = now_ms - (k < history / 2 ? 3 : 2) * 86400000LL + k * 60000LL;
          std::string line =
              from_me ? kAgentTexts[drv->rng() % kAgentTexts.size()]
                      : Fill(kCustomerTexts[drv->rng() % kCustomerTexts.size()], drv->rng);
          (void)post(*drv, Hook(drv->phone, line, from_me, at));
        }
        seeded.count_down();
        go_warm.wait();
        for (int k = 0; k < warmup && !failure.failed(); ++k) turn(*drv, nullptr);
        warmed.count_down();
        go_measure.wait();
        drv->measured.reserve(static_cast<size_t>(turns));
        for (int k = 0; k < turns && !failure.failed(); ++k) {
          if (think.count() > 0) {  // 0.5x to 1.5x, so sessions do not move in lockstep
            std::this_thread::sleep_for(think / 2 +
                                        think * static_cast<int64_t>(drv->rng() % 1000) / 1000);
          }
          Sample s;
          turn(*drv, &s);
          if (!failure.failed()) drv->measured.push_back(s);
        }
      });
    }
    auto release_all = [&] {
      go_measure.count_down();
      for (auto& t : threads) t.join();
    };

    // History in; indexed by the memory; the old sessions ended (and indexed) as the sweeper
    // would end them.
    const auto seed_start = Steady::now();
    seeded.wait();
    core::Status st =
        failure.failed() ? core::Status::Ok() : WaitIdle(server->bus(), std::chrono::seconds(300));
    if (st.ok() && !failure.failed()) {
      auto ended = server->messaging().EndExpiredSessions();
      st = ended.ok() ? WaitIdle(server->bus(), std::chrono::seconds(300)) : ended.status();
    }
    if (!st.ok()) failure.Set("seeding the history: " + st.ToString());
    if (!failure.failed() && waha.Total() != 0) {
      failure.Set(fmt::format("{} history messages (days old) were answered", waha.Total()));
    }
    std::cerr << fmt::format("agent-turn: history of {} messages stored and indexed in {:.1f} s\n",
                             sessions * history, MsBetween(seed_start, Steady::now()) / 1000);

    go_warm.count_down();
    warmed.wait();
    if (!failure.failed()) {
      // The warm-up's trailing work (indexing, send bookkeeping) done before measuring.
      if (auto idle = WaitIdle(server->bus(), std::chrono::seconds(60)); !idle.ok()) {
        failure.Set("after the warm-up: " + idle.ToString());
      }
    }
    const int64_t measure_from_ms = WallMicros() / 1000;
    const auto measure_start = Steady::now();
    release_all();
    const auto measure_end = Steady::now();

    // Correctness: exactly one reply per message, no more arriving late.
    std::vector<double> latency, ack;
    if (!failure.failed()) {
      if (auto idle = WaitIdle(server->bus(), std::chrono::seconds(60)); !idle.ok()) {
        failure.Set("after the run: " + idle.ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    if (!failure.failed()) {
      const size_t per_chat = static_cast<size_t>(warmup + turns);
      for (const auto& drv : drivers) {
        if (waha.Count(drv.chat) != per_chat) {
          failure.Set(fmt::format("{} got {} sendText calls for {} messages", drv.chat,
                                  waha.Count(drv.chat), per_chat));
          break;
        }
      }
      if (waha.Total() != per_chat * drivers.size() || waha.Rejected() != 0) {
        failure.Set(fmt::format("{} sendText calls ({} rejected) for {} messages", waha.Total(),
                                waha.Rejected(), per_chat * drivers.size()));
      }
    }

    // The measured turns as recorded (the rows GET /v1/agent-turns serves), matched per contact
    // in order with the messages each driver sent.
    std::map<std::string, std::vector<double>> stage;  // route, memory, llm, tools, commit, total
    std::vector<double> before_turn, after_turn;
    std::map<std::string, int> statuses;
    if (!failure.failed()) {
      auto conn = server->database().Acquire();
      core::Result<core::DbResult> rows =
          conn.ok() ? (*conn)->Query(
                          "SELECT t.detail, t.created_at, i.wa_id FROM agent_turns t "
                          "JOIN contact_identities i ON i.contact_id = t.contact_id "
                          "WHERE t.tenant_id = $1 AND t.created_at >= $2 ORDER BY t.created_at",
                          {core::DbValue(tenant_id), core::DbValue(measure_from_ms)})
                    : core::Result<core::DbResult>(conn.status());
      if (!rows.ok()) {
        failure.Set("reading the turns: " + rows.status().ToString());
      } else {
        std::map<std::string, std::vector<std::pair<json::object, int64_t>>> by_chat;
        for (const auto& r : rows->rows) {
          boost::system::error_code ec;
          auto v = json::parse(r.GetText(0), ec);
          if (ec || !v.is_object()) continue;
          by_chat[r.GetText(2)].emplace_back(v.as_object(), r.GetInt(1));
        }
        for (const auto& drv : drivers) {
          const auto& found = by_chat[drv.chat];
          if (found.size() != drv.measured.size()) {
            failure.Set(fmt::format("{}: {} recorded turns for {} measured messages", drv.chat,
                                    found.size(), drv.measured.size()));
            break;
          }
          for (size_t i = 0; i < found.size(); ++i) {
            const json::object& t = found[i].first;
            const Sample& s = drv.measured[i];
            const auto* status = t.if_contains("status");
            ++statuses[status && status->is_string() ? std::string(status->as_string()) : "?"];
            double total = 0;
            if (const auto* tm = t.if_contains("timings_ms"); tm && tm->is_object()) {
              for (const auto& [k, val] : tm->as_object()) {
                if (!val.is_number()) continue;
                stage[std::string(k)].push_back(val.to_number<double>());
                if (k == "total") total = val.to_number<double>();
              }
            }
            const double created_ms = static_cast<double>(found[i].second);
            before_turn.push_back(created_ms - static_cast<double>(s.sent_wall_us) / 1000.0);
            after_turn.push_back(static_cast<double>(s.arrival_wall_us) / 1000.0 - created_ms -
                                 total);
          }
        }
      }
    }

    if (failure.failed()) {
      code = Fail(failure.message());
      // What the server made of it: turns by status (a handoff leaves the session to a human,
      // who never answers here) and consumers with deliveries waiting or dead.
      if (auto conn = server->database().Acquire(); conn.ok()) {
        auto counts = (*conn)->Query(
            "SELECT status, COUNT(*) FROM agent_turns WHERE tenant_id = $1 GROUP BY status",
            {core::DbValue(tenant_id)});
        if (counts.ok()) {
          std::string summary;
          for (const auto& r : counts->rows) {
            summary += fmt::format(" {}={}", r.GetText(0), r.GetInt(1));
          }
          std::cerr << "agent-turn: all turns by status:" << summary << "\n";
        }
      }
      if (auto consumers = server->bus().ListConsumers(); consumers.ok()) {
        for (const auto& c : *consumers) {
          if (c.lag || c.pending || c.dead) {
            std::cerr << fmt::format("agent-turn: consumer {}: lag {}, pending {}, dead {}\n",
                                     c.name, c.lag, c.pending, c.dead);
          }
        }
      }
    } else {
      for (const auto& drv : drivers) {
        for (const auto& s : drv.measured) {
          latency.push_back(s.latency_ms);
          ack.push_back(s.ack_ms);
        }
      }
      const double seconds = std::chrono::duration<double>(measure_end - measure_start).count();
      Emit("p50_ms", Percentile(latency, 0.5), "ms");
      Emit("p90_ms", Percentile(latency, 0.9), "ms");
      Emit("p99_ms", Percentile(latency, 0.99), "ms");
      Emit("max_ms", Percentile(latency, 1.0), "ms");
      Emit("mean_ms", Sum(latency) / static_cast<double>(latency.size()), "ms");
      Emit("turns_per_s", static_cast<double>(latency.size()) / seconds, "turns/s");
      Emit("memory_search_p50_ms", Percentile(stage["memory"], 0.5), "ms");
      Emit("memory_search_p99_ms", Percentile(stage["memory"], 0.99), "ms");
      Emit("memory_share", Sum(stage["memory"]) / Sum(latency), "ratio");
      Emit("route_p50_ms", Percentile(stage["route"], 0.5), "ms");
      Emit("llm_p50_ms", Percentile(stage["llm"], 0.5), "ms");
      Emit("tools_p50_ms", Percentile(stage["tools"], 0.5), "ms");
      Emit("commit_p50_ms", Percentile(stage["commit"], 0.5), "ms");
      Emit("turn_total_p50_ms", Percentile(stage["total"], 0.5), "ms");
      Emit("commit_p99_ms", Percentile(stage["commit"], 0.99), "ms");
      Emit("turn_total_p99_ms", Percentile(stage["total"], 0.99), "ms");
      Emit("turn_total_mean_ms", Sum(stage["total"]) / static_cast<double>(latency.size()), "ms");
      Emit("turn_share", Sum(stage["total"]) / Sum(latency), "ratio");
      // The coordinator is one thread: the share of the measured time it spent inside turns
      // (as recorded; the turn's final inserts and COMMIT and the bus's own work are outside).
      Emit("coordinator_in_turn_share", Sum(stage["total"]) / 1000.0 / seconds, "ratio");
      // Where the rest goes: the webhook's acknowledgement; from the webhook to the turn's start
      // (inbox consumer, message.received, the coordinator picking it up behind other sessions'
      // turns); from the turn's recorded end to the sendText (its commit, the sender consumer,
      // the HTTP call). Turn start times are whole milliseconds.
      Emit("webhook_ack_p50_ms", Percentile(ack, 0.5), "ms");
      Emit("webhook_to_turn_start_p50_ms", Percentile(before_turn, 0.5), "ms");
      Emit("webhook_to_turn_start_p99_ms", Percentile(before_turn, 0.99), "ms");
      Emit("turn_end_to_sendtext_p50_ms", Percentile(after_turn, 0.5), "ms");
      Emit("turn_end_to_sendtext_p99_ms", Percentile(after_turn, 0.99), "ms");
      Emit("sessions", sessions, "count");
      Emit("turns", static_cast<double>(latency.size()), "count");
      std::string summary;
      for (const auto& [name, n] : statuses) summary += fmt::format(" {}={}", name, n);
      std::cerr << "agent-turn: measured turns by status:" << summary << "\n";
    }
    server->Stop();
    server.reset();
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Agent turn benchmark: webhook in -> sendText out, offline model"};
  Options opt;
  int& sessions = opt.sessions;
  int& turns = opt.turns;
  int& warmup = opt.warmup;
  int& history = opt.history;
  std::string& db_arg = opt.db;
  bool keep = false;
  cli.add_option("--sessions", sessions, "Concurrent sessions (distinct phones)")
      ->check(CLI::Range(1, 10000));
  cli.add_option("--turns-per-session", turns, "Measured turns per session")
      ->check(CLI::Range(1, 100000));
  cli.add_option("--warmup", warmup, "Turns per session before measuring (not measured)")
      ->check(CLI::Range(0, 100000));
  cli.add_option("--history", history,
                 "Earlier messages per contact (old sessions, for the memory to search)")
      ->check(CLI::Range(0, 100000));
  cli.add_option("--think-ms", opt.think_ms,
                 "Pause between a reply and the next message of a session (default 0: closed "
                 "loop at full speed)")
      ->check(CLI::Range(0, 600000));
  cli.add_option("--db", db_arg, "Database: a SQLite path or URL (default: a temporary file)");
  cli.add_flag("--keep", keep, "Keep the temporary directory (its path goes to stderr)");
  cli.add_flag("--trace", opt.trace, "Store every turn's spans (the observability module)");
  CLI11_PARSE(cli, argc, argv);

  const std::string tmp =
      (std::filesystem::temp_directory_path() / ("ventros-bench-agent-" + core::RandomHex(6)))
          .string();
  std::filesystem::create_directories(tmp);
  int code = Run(opt, tmp);
  if (keep) {
    std::cerr << "kept: " << tmp << "\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
  }
  return code;
}
