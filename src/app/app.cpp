#include "app/app.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "ventros/agents/agents.hpp"
#include "ventros/agents/offline_model.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/migrations.hpp"
#include "ventros/core/trace.hpp"
#include "ventros/crm/agents.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/subscriptions.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/llm/chat.hpp"
#include "ventros/llm/embedder.hpp"
#include "ventros/llm/reranker.hpp"
#include "ventros/memory/memory.hpp"
#include "ventros/observability/otlp.hpp"
#include "ventros/observability/store.hpp"
// (after memory.hpp)
#include "ventros/memory/local_embedder.hpp"
#include "ventros/waha/gateway.hpp"
#include "ventros/waha/ingest.hpp"
#include "ventros/workflows/api.hpp"
#include "ventros/workflows/builtin.hpp"
#include "ventros/workflows/engine.hpp"

namespace ventros::app {

using core::Status;

core::Result<std::unique_ptr<core::Database>> OpenDatabase(const core::Config& config) {
  core::DatabaseOptions opts;
  opts.url = config.database.url;
  opts.pool_size = config.database.pool_size;
  opts.acquire_timeout = std::chrono::milliseconds(config.database.acquire_timeout_ms);
  opts.connect_timeout = std::chrono::milliseconds(config.database.connect_timeout_ms);
  opts.sqlite_synchronous_full = config.database.sqlite_synchronous == "full";
  return core::Database::Open(opts);
}

std::string PublicUrl(const core::Config& config) {
  return config.server.public_url.empty() ? "http://" + config.server.listen
                                          : config.server.public_url;
}

MemoryParts::MemoryParts() = default;
MemoryParts::MemoryParts(MemoryParts&&) noexcept = default;
MemoryParts& MemoryParts::operator=(MemoryParts&&) noexcept = default;
MemoryParts::~MemoryParts() = default;

core::Result<MemoryParts> BuildMemory(const core::Config& config, core::Database& db,
                                      const core::Clock& clock, core::Logger logger,
                                      crm::MessagingService& messaging, core::HttpClient& http,
                                      core::MetricsRegistry* metrics) {
  const auto& m = config.memory;
  MemoryParts parts;
  if (m.embedder == "local") {
    parts.embedder = std::make_unique<memory::LocalEmbedder>(m.embedder_dimensions);
  } else {
    llm::HostedEmbedderOptions o;
    o.provider = m.embedder;
    o.base_url = m.embedder_url;
    o.api_key = m.embedder_api_key;
    o.model = m.embedder_model;
    o.dimensions = m.embedder_dimensions;
    o.batch_size = m.embedder_batch_size;
    o.timeout = std::chrono::milliseconds(config.http_client.request_timeout_ms);
    VENTROS_ASSIGN_OR_RETURN(parts.embedder, llm::MakeHostedEmbedder(o, http));
  }
  if (!m.rerank_url.empty()) {
    llm::RerankApiOptions o;
    o.base_url = m.rerank_url;
    o.api_key = m.rerank_api_key;
    o.model = m.rerank_model;
    VENTROS_ASSIGN_OR_RETURN(parts.reranker, llm::MakeRerankApi(o, http));
  }
  memory::MemoryService::Options o;
  o.embedding_cache_entries = static_cast<size_t>(m.embedding_cache_entries);
  o.search_cache_entries = static_cast<size_t>(m.search_cache_entries);
  o.search_cache_ttl_ms = m.search_cache_ttl_ms;
  o.ef_search = m.ef_search;
  parts.service = std::make_unique<memory::MemoryService>(
      db, clock, std::move(logger), messaging, *parts.embedder, parts.reranker.get(), metrics, o);
  if (config.llm.provider != "offline") {
    llm::ChatModelOptions c;
    c.provider = config.llm.provider;
    c.base_url = config.llm.base_url;
    c.api_key = config.llm.api_key;
    c.model = config.llm.model;
    c.timeout = std::chrono::milliseconds(config.llm.timeout_ms);
    VENTROS_ASSIGN_OR_RETURN(parts.chat, llm::MakeChatModel(c, http));
    parts.service->SetChatModel(parts.chat.get());
  }
  return parts;
}

memory::MemoryService* Server::memory() { return memory_ ? memory_->service.get() : nullptr; }

agents::AgentsService* Server::agents() {
  return agents_parts_ ? agents_parts_->service.get() : nullptr;
}

AgentsParts::AgentsParts() = default;
AgentsParts::AgentsParts(AgentsParts&&) noexcept = default;
AgentsParts& AgentsParts::operator=(AgentsParts&&) noexcept = default;
AgentsParts::~AgentsParts() = default;

core::Result<AgentsParts> BuildAgents(const core::Config& config, core::Database& db,
                                      const core::Clock& clock, core::Logger logger,
                                      crm::MessagingService& messaging, MemoryParts& memory,
                                      core::MetricsRegistry* metrics, core::EventBus* bus,
                                      const core::Tracer* tracer) {
  AgentsParts parts;
  llm::ChatModel* model = memory.chat.get();
  if (!model) {
    parts.offline_model = std::make_unique<agents::OfflineChatModel>();
    model = parts.offline_model.get();
  }
  // The router embeds with the local embedder whatever memory.embedder is: routing stays
  // offline, deterministic and sub-millisecond, and its accuracy is measured on it.
  parts.router_embedder = std::make_unique<memory::LocalEmbedder>(768);
  parts.registry = std::make_unique<crm::AgentRegistry>(db, clock);
  agents::AgentsService::Options opts;
  opts.max_backlog_age_ms = config.agents.max_backlog_age_ms;
  opts.turn_timeout_ms = config.agents.turn_timeout_ms;
  opts.bus = bus;
  opts.tracer = tracer;
  for (const auto& text : config.llm.prices) {
    VENTROS_ASSIGN_OR_RETURN(auto price, agents::ParsePrice(text));
    opts.prices[price.first] = price.second;
  }
  parts.service = std::make_unique<agents::AgentsService>(
      db, clock, std::move(logger), messaging, *parts.registry, *memory.service, *model,
      *parts.router_embedder, metrics, std::move(opts));
  return parts;
}

core::HttpClientOptions HttpClientOptionsFrom(const core::Config& config) {
  core::HttpClientOptions o;
  o.connect_timeout = std::chrono::milliseconds(config.http_client.connect_timeout_ms);
  o.request_timeout = std::chrono::milliseconds(config.http_client.request_timeout_ms);
  o.max_retries = config.http_client.max_retries;
  return o;
}

namespace {

// Every consumer of this instance saves its position as configured.
void Subscribe(core::EventBus& bus, const core::Config& config, std::string name,
               core::EventHandler handler, core::ConsumerOptions options,
               bool from_beginning = true) {
  options.position_save_interval =
      std::chrono::milliseconds(config.events.position_save_interval_ms);
  bus.Subscribe(std::move(name), std::move(handler), std::move(options), from_beginning);
}

}  // namespace

core::Result<std::unique_ptr<Server>> Server::Create(const core::Config& config,
                                                     core::Logger logger, std::ostream& out) {
  std::unique_ptr<Server> s(new Server());
  s->config_ = config;
  s->logger_ = std::move(logger);

  VENTROS_ASSIGN_OR_RETURN(s->db_, OpenDatabase(config));
  s->logger_->info("database {} ({})", s->db_->redacted_url(),
                   core::DbEngineName(s->db_->engine()));

  core::Migrator migrator(*s->db_, core::Migrator::EmbeddedFor(s->db_->engine()), s->clock_);
  if (config.database.auto_migrate) {
    VENTROS_ASSIGN_OR_RETURN(auto applied, migrator.Apply());
    for (const auto& name : applied) s->logger_->info("applied migration {}", name);
  } else {
    Status current = migrator.CheckCurrent();
    if (!current.ok()) {
      return current.WithContext("database schema is not current (run `ventros migrate`)");
    }
  }

  s->tenants_ = std::make_unique<crm::TenantService>(*s->db_, s->clock_);
  if (config.bootstrap.create_default_tenant) {
    VENTROS_ASSIGN_OR_RETURN(
        auto created, s->tenants_->EnsureDefaultTenant(config.bootstrap.default_tenant_name));
    if (created) {
      out << fmt::format(
          "Created tenant \"{}\" ({}).\nAdmin API key (shown once, store it now): {}\n",
          created->first.name, created->first.id.str(), created->second.secret);
      out.flush();
      s->logger_->info("created default tenant {} with admin key {}...", created->first.id.str(),
                       created->second.key.prefix);
    }
  }

  RegisterSystemRoutes(s->router_, *s->db_, s->metrics_, s->clock_);
  crm::TenantService* tenants = s->tenants_.get();
  s->router_.SetAuthenticator(
      [tenants](const core::HttpRequest& req) { return tenants->AuthenticateRequest(req); });
  s->bus_ = std::make_unique<core::EventBus>(*s->db_, s->clock_, s->logger_, &s->metrics_);
  s->messaging_ = std::make_unique<crm::MessagingService>(*s->db_, s->clock_, s->bus_.get());
  s->messaging_->set_default_session_timeout_ms(config.crm.session_timeout_ms);
  s->http_client_ = std::make_unique<core::HttpClient>(HttpClientOptionsFrom(config));
  waha::WahaHttpGateway::Options gateway_options;
  gateway_options.media_base_url_override = config.waha.media_base_url;
  s->gateway_ = std::make_unique<waha::WahaHttpGateway>(*s->http_client_, gateway_options);
  waha::WahaOptions waha_options;
  waha_options.media_dir = config.waha.media_dir;
  waha_options.media_max_bytes = static_cast<size_t>(config.waha.media_max_bytes);
  waha_options.send_max_attempts = config.waha.send_max_attempts;
  waha_options.humanize = config.waha.humanize;
  waha_options.typing_delay = std::chrono::milliseconds(config.waha.typing_delay_ms);
  waha::IngestOptions ingest_options;
  // An edge instance only stores; the instances running consumers apply.
  ingest_options.apply_inline = config.waha.apply_inline && config.events.run_consumers;
  // SQLite has one writer; PostgreSQL writes on several connections at once.
  ingest_options.writers = s->db_->engine() == core::DbEngine::kPostgres ? 4 : 1;
  s->ingest_ = std::make_unique<waha::WahaIngest>(*s->db_, s->clock_, *s->messaging_, s->bus_.get(),
                                                  s->logger_, ingest_options);
  s->sender_ =
      std::make_unique<waha::WahaSender>(*s->messaging_, *s->gateway_, waha_options, s->logger_);
  s->media_ = std::make_unique<waha::MediaDownloader>(*s->messaging_, *s->gateway_, waha_options,
                                                      s->logger_, s->clock_);
  std::string public_url = PublicUrl(config);
  bool host_agents = false, host_workflows = false, host_observability = false;
  s->subscriptions_ = std::make_unique<crm::SubscriptionService>(*s->db_, s->clock_, s->bus_.get());
  for (const auto& module : config.modules) {
    if (module == "agents") host_agents = true;
    if (module == "workflows") host_workflows = true;
    if (module == "observability") host_observability = true;
    if (module == "crm") {
      crm::RegisterTenantRoutes(s->router_, *s->tenants_);
      crm::RegisterMessagingRoutes(s->router_, *s->messaging_, public_url);
      crm::RegisterSubscriptionRoutes(s->router_, *s->subscriptions_);
      waha::RegisterWahaRoutes(s->router_, *s->ingest_);
      core::ConsumerOptions ingest_opts;
      ingest_opts.types = {waha::kWebhookReceived};
      ingest_opts.batch_handler = s->ingest_->BatchHandler();
      // Short apply transactions: SQLite has one writer, and webhook acknowledgements wait for it.
      ingest_opts.batch_size = 16;
      Subscribe(*s->bus_, config, "waha.ingest", s->ingest_->Handler(), ingest_opts);
      core::ConsumerOptions send_opts;
      send_opts.types = {"message.send_requested"};
      send_opts.initial_backoff = std::chrono::milliseconds(2000);
      // Sends to different chats in parallel (each waits on WAHA); one chat's stay in order.
      send_opts.key_parallelism = 8;
      Subscribe(*s->bus_, config, "waha.sender", s->sender_->Handler(), send_opts);
      s->lids_ = std::make_unique<waha::LidResolver>(*s->messaging_, *s->gateway_, s->logger_);
      core::ConsumerOptions lid_opts;
      lid_opts.types = {"session.started"};
      lid_opts.max_attempts = 5;
      Subscribe(*s->bus_, config, "waha.lids", s->lids_->Handler(), lid_opts);
      core::ConsumerOptions media_opts;
      media_opts.types = {"message.received", "message.sent"};
      media_opts.max_attempts = 5;
      Subscribe(*s->bus_, config, "waha.media", s->media_->Handler(), media_opts);
    } else if (module == "memory") {
      VENTROS_ASSIGN_OR_RETURN(auto parts,
                               BuildMemory(config, *s->db_, s->clock_, s->logger_, *s->messaging_,
                                           *s->http_client_, &s->metrics_));
      s->memory_ = std::make_unique<MemoryParts>(std::move(parts));
      memory::MemoryService* service = s->memory_->service.get();
      memory::RegisterMemoryRoutes(s->router_, *service);
      core::ConsumerOptions opts;
      opts.types = memory::MemoryService::ConsumedEventTypes();
      // Short transactions: SQLite has one writer, and webhook acknowledgements wait for it.
      opts.batch_size = 16;
      // Indexing may lag a little; applying webhooks and acknowledging them may not.
      opts.extra_nice = 9;
      opts.batch_handler = [service](std::span<const core::Event> events) {
        return service->HandleEvents(events);
      };
      Subscribe(
          *s->bus_, config, "memory.indexer",
          [service](const core::Event& e) { return service->HandleEvent(e); }, opts);
      if (service->HasChatModel()) {
        // Summaries and facts by the language model, one session at a time, off the inbound
        // path; a model outage is retried with backoff, then dead-lettered.
        core::ConsumerOptions writer;
        writer.types = {"session.ended"};
        writer.max_attempts = 6;
        writer.initial_backoff = std::chrono::milliseconds(5000);
        Subscribe(
            *s->bus_, config, "memory.writer",
            [service](const core::Event& e) { return service->HandleEndedSessionWithModel(e); },
            writer);
      }
    }
  }

  // Tracing: the span store where observability runs, an OTLP collector when configured.
  std::vector<core::SpanSink*> sinks;
  if (host_observability) {
    observability::SpanStore::Options so;
    so.sample_ratio = static_cast<double>(config.observability.sample_percent) / 100.0;
    so.retention_days = config.observability.retention_days;
    // Spans have a database of their own with SQLite: its own writer, so writing them never
    // delays the CRM's transactions (one SQLite database admits one writer at a time).
    core::Database* span_db = s->db_.get();
    std::string span_url = config.observability.database_url;
    if (span_url.empty() && s->db_->engine() == core::DbEngine::kSqlite) {
      const std::string& main = config.database.url;
      span_url =
          main.ends_with(".db") ? main.substr(0, main.size() - 3) + "-traces.db" : main + "-traces";
    }
    if (!span_url.empty() && span_url != "main" && span_url != config.database.url) {
      core::Config traces = config;
      traces.database.url = span_url;
      traces.database.pool_size = std::min<int64_t>(config.database.pool_size, 4);
      VENTROS_ASSIGN_OR_RETURN(s->span_db_, OpenDatabase(traces));
      core::Migrator span_migrator(*s->span_db_, core::Migrator::EmbeddedFor(s->span_db_->engine()),
                                   s->clock_);
      VENTROS_ASSIGN_OR_RETURN(auto applied, span_migrator.Apply());
      (void)applied;
      span_db = s->span_db_.get();
      s->logger_->info("spans stored in {}", s->span_db_->redacted_url());
    }
    s->span_store_ = std::make_unique<observability::SpanStore>(*span_db, s->clock_, so,
                                                                &s->metrics_, s->logger_);
    observability::RegisterObservabilityRoutes(s->router_, *s->span_store_);
    sinks.push_back(s->span_store_.get());
  }
  if (!config.observability.otlp_endpoint.empty()) {
    observability::OtlpExporterOptions oo;
    oo.endpoint = config.observability.otlp_endpoint;
    for (const auto& h : config.observability.otlp_headers) {
      size_t colon = h.find(':');
      std::string value = h.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      oo.headers.emplace_back(h.substr(0, colon), value);
    }
    oo.resource.project_name = config.observability.otlp_project;
    s->otlp_ = std::make_unique<observability::OtlpExporter>(oo, *s->http_client_, &s->metrics_,
                                                             s->logger_);
    sinks.push_back(s->otlp_.get());
  }
  if (!sinks.empty()) {
    s->fanout_ = std::make_unique<observability::FanoutSink>(sinks);
    s->tracer_ = std::make_unique<core::Tracer>(s->clock_, s->fanout_.get());
    if (s->memory_) s->memory_->service->SetTracer(s->tracer_.get());
  }

  if (host_agents) {
    if (!s->memory_) {
      // Agents search the memory; without the memory module here, this instance reads what
      // other instances index (vectors loaded at start and refreshed).
      VENTROS_ASSIGN_OR_RETURN(auto parts,
                               BuildMemory(config, *s->db_, s->clock_, s->logger_, *s->messaging_,
                                           *s->http_client_, &s->metrics_));
      s->memory_ = std::make_unique<MemoryParts>(std::move(parts));
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto parts, BuildAgents(config, *s->db_, s->clock_, s->logger_, *s->messaging_, *s->memory_,
                                &s->metrics_, s->bus_.get(), s->tracer_.get()));
    s->agents_parts_ = std::make_unique<AgentsParts>(std::move(parts));
    agents::AgentsService* service = s->agents_parts_->service.get();
    agents::RegisterAgentRoutes(s->router_, *service);
    core::ConsumerOptions turn_opts;
    turn_opts.types = agents::AgentsService::ConsumedEventTypes();
    // A model outage makes turns wait: retried with backoff up to a minute apart for about a
    // day before a delivery is dead-lettered (and can be retried by an operator).
    turn_opts.max_attempts = 1500;
    turn_opts.initial_backoff = std::chrono::milliseconds(1000);
    turn_opts.max_backoff = std::chrono::milliseconds(60000);
    turn_opts.batch_size = 32;
    // Turns of different contacts in parallel: a hosted model answers in hundreds of ms.
    turn_opts.key_parallelism = 8;
    Subscribe(
        *s->bus_, config, "agents.coordinator",
        [service](const core::Event& e) { return service->HandleEvent(e); }, turn_opts);
  }

  if (host_workflows) {
    workflows::Engine::Options wo;
    wo.workers = static_cast<int>(config.workflows.workers);
    s->workflows_ =
        std::make_unique<workflows::Engine>(*s->db_, s->clock_, s->logger_, &s->metrics_, wo);
    s->external_ = std::make_unique<workflows::RecordingExternalSystems>();
    s->triggers_ = std::make_unique<workflows::Triggers>(*s->db_, s->clock_);
    BindWorkflows(*s->workflows_, *s->messaging_, *s->subscriptions_, s->agents(), *s->external_);
    workflows::RegisterWorkflowRoutes(s->router_, *s->workflows_, *s->triggers_);
    // The tenant's events start and signal the built-in workflows.
    workflows::Engine* engine = s->workflows_.get();
    workflows::Triggers* triggers = s->triggers_.get();
    core::ConsumerOptions wf;
    wf.types = {"contact.created", "subscription.created", "message.received"};
    // From now on only: enabling workflows on an existing database must not enrol every
    // historic contact.
    Subscribe(*s->bus_, config, "workflows.triggers", WorkflowTriggers(*engine, *triggers), wf,
              /*from_beginning=*/false);
  }

  VENTROS_ASSIGN_OR_RETURN(auto listen, core::ParseListenAddress(config.server.listen));
  core::HttpServerOptions http;
  http.host = listen.first;
  http.port = listen.second;
  http.io_threads = config.server.io_threads;
  http.worker_threads = config.server.worker_threads;
  http.body_limit_bytes = static_cast<size_t>(config.server.body_limit_bytes);
  http.read_timeout = std::chrono::milliseconds(config.server.read_timeout_ms);
  http.shutdown_grace = std::chrono::milliseconds(config.server.shutdown_grace_ms);
  http.log_requests = config.log.requests;
  s->http_ = std::make_unique<core::HttpServer>(http, s->router_, s->logger_, s->metrics_);
  return s;
}

Server::~Server() {
  loader_stop_ = true;
  if (vector_loader_.joinable()) vector_loader_.join();
  if (http_) http_->Stop();
  // Webhooks still queued are answered while the HTTP server (their connections) still exists.
  if (ingest_) ingest_->Stop();
  if (workflows_) workflows_->Stop();
  if (bus_) bus_->Stop();
  // Spans of the last turns are written and exported before the sinks go.
  if (span_store_) span_store_->Stop();
  if (otlp_) otlp_->Stop();
  {
    std::lock_guard lock(sweeper_mu_);
    sweeper_stop_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

Status Server::Start() {
  VENTROS_RETURN_IF_ERROR(http_->Start());
  if (auto* mem = memory()) {
    vector_loader_ = std::thread([this, mem] {
      Status loaded = mem->LoadVectors(&loader_stop_);
      if (!loaded.ok()) logger_->error("memory: loading vectors failed: {}", loaded.ToString());
    });
  }
  const bool consumers = config_.events.run_consumers;
  if (span_store_) span_store_->Start();
  if (otlp_) VENTROS_RETURN_IF_ERROR(otlp_->Start());
  if (consumers && workflows_) workflows_->Start();
  if (consumers) {
    bus_->Start(std::chrono::milliseconds(config_.events.poll_interval_ms),
                config_.events.consumer_nice);
  } else {
    logger_->info("event consumers are off in this instance (events.run_consumers=false)");
  }
  // Housekeeping: ends silent sessions (where consumers run), and loads vectors other instances
  // indexed (everywhere: an edge instance serves searches too; an instance's own vectors are
  // added as it indexes them).
  sweeper_ = std::thread([this, consumers] {
    using std::chrono::steady_clock;
    const auto sweep_every = std::chrono::milliseconds(config_.crm.session_sweep_interval_ms);
    const auto refresh_every = std::chrono::milliseconds(config_.memory.vector_refresh_interval_ms);
    const auto followup_every = std::chrono::milliseconds(config_.agents.followup_interval_ms);
    auto next_sweep = steady_clock::now(), next_refresh = steady_clock::now() + refresh_every;
    auto next_followup = steady_clock::now() + followup_every;
    auto next_span_sweep = steady_clock::now() + std::chrono::minutes(1);
    auto next_gauges = steady_clock::now();
    std::unique_lock lock(sweeper_mu_);
    while (!sweeper_stop_) {
      lock.unlock();
      auto now = steady_clock::now();
      if (now >= next_sweep) {
        if (consumers) {
          auto ended = messaging_->EndExpiredSessions();
          if (!ended.ok()) logger_->warn("session sweep: {}", ended.status().ToString());
        }
        next_sweep = now + sweep_every;
      }
      if (now >= next_refresh) {
        if (auto* mem = memory()) {
          Status caught = mem->CatchUpVectors();
          if (!caught.ok()) logger_->warn("memory vector refresh: {}", caught.ToString());
        }
        next_refresh = now + refresh_every;
      }
      if (now >= next_followup) {
        if (agents() && consumers) {
          auto sent = agents()->SendDueFollowups();
          if (!sent.ok()) logger_->warn("agent follow-ups: {}", sent.status().ToString());
        }
        next_followup = now + followup_every;
      }
      if (now >= next_gauges) {
        // Workflows by type and status (read here, not at a scrape: /metrics answers on an I/O
        // thread, which must not wait for the database).
        if (workflows_) {
          auto conn = db_->Acquire();
          if (conn.ok()) {
            auto rows = (*conn)->Query(
                "SELECT type, status, COUNT(*) FROM workflows GROUP BY type, status");
            if (rows.ok()) {
              for (const auto& r : rows->rows) {
                metrics_
                    .GetGauge("ventros_workflows", "Workflows by type and status",
                              {{"type", r.GetText(0)}, {"status", r.GetText(1)}})
                    .Set(static_cast<double>(r.GetInt(2)));
              }
            }
          }
        }
        next_gauges = now + std::chrono::seconds(15);
      }
      if (now >= next_span_sweep) {
        if (span_store_ && consumers) {
          auto swept = span_store_->Sweep();
          if (!swept.ok()) logger_->warn("span retention sweep: {}", swept.status().ToString());
        }
        next_span_sweep = now + std::chrono::hours(1);
      }
      lock.lock();
      sweeper_cv_.wait_until(
          lock, std::min({next_sweep, next_refresh, next_followup, next_span_sweep, next_gauges}),
          [this] { return sweeper_stop_; });
    }
  });
  logger_->info("ventros listening on http://{}:{}",
                core::ParseListenAddress(config_.server.listen)->first, http_->port());
  return Status::Ok();
}

uint16_t Server::port() const { return http_->port(); }
void Server::StopOnSignals() { http_->StopOnSignals(); }
void Server::Stop() { http_->Stop(); }
void Server::Wait() { http_->Wait(); }

}  // namespace ventros::app
