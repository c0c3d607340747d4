#pragma once
// Composition root: builds config, logger, database, modules and the HTTP server, in that order,
// by hand. Also the CLI entry point. Only src/main.cpp and tests use this header.

#include <atomic>
#include <condition_variable>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/config.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/http_server.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"

namespace ventros::crm {
class TenantService;
class MessagingService;
}  // namespace ventros::crm
namespace ventros::core {
class EventBus;
class HttpClient;
}  // namespace ventros::core
namespace ventros::waha {
class WahaGateway;
class WahaIngest;
class WahaSender;
class MediaDownloader;
class LidResolver;
}  // namespace ventros::waha

namespace ventros::llm {
class Embedder;
class Reranker;
class ChatModel;
}  // namespace ventros::llm
namespace ventros::memory {
class MemoryService;
}  // namespace ventros::memory
namespace ventros::crm {
class AgentRegistry;
}  // namespace ventros::crm
namespace ventros::agents {
class AgentsService;
}  // namespace ventros::agents
namespace ventros::crm {
class SubscriptionService;
}  // namespace ventros::crm
namespace ventros::observability {
class SpanStore;
class OtlpExporter;
class FanoutSink;
}  // namespace ventros::observability
namespace ventros::core {
class Tracer;
}  // namespace ventros::core
namespace ventros::workflows {
class Engine;
class RecordingExternalSystems;
class Triggers;
}  // namespace ventros::workflows

namespace ventros::app {

// The memory module's parts, built from config (by `serve` and by the memory CLI verbs).
struct MemoryParts {
  std::unique_ptr<llm::Embedder> embedder;
  std::unique_ptr<llm::Reranker> reranker;
  std::unique_ptr<llm::ChatModel> chat;  // null when llm.provider is offline
  std::unique_ptr<memory::MemoryService> service;
  MemoryParts();
  MemoryParts(MemoryParts&&) noexcept;
  MemoryParts& operator=(MemoryParts&&) noexcept;
  ~MemoryParts();
};
core::Result<MemoryParts> BuildMemory(const core::Config& config, core::Database& db,
                                      const core::Clock& clock, core::Logger logger,
                                      crm::MessagingService& messaging, core::HttpClient& http,
                                      core::MetricsRegistry* metrics);

// The agents module's parts, built from config (by `serve` and by the route/agent CLI verbs).
struct AgentsParts {
  std::unique_ptr<crm::AgentRegistry> registry;
  std::unique_ptr<llm::ChatModel> offline_model;  // llm.provider offline
  std::unique_ptr<llm::Embedder> router_embedder;
  std::unique_ptr<agents::AgentsService> service;
  AgentsParts();
  AgentsParts(AgentsParts&&) noexcept;
  AgentsParts& operator=(AgentsParts&&) noexcept;
  ~AgentsParts();
};
core::Result<AgentsParts> BuildAgents(const core::Config& config, core::Database& db,
                                      const core::Clock& clock, core::Logger logger,
                                      crm::MessagingService& messaging, MemoryParts& memory,
                                      core::MetricsRegistry* metrics, core::EventBus* bus,
                                      const core::Tracer* tracer = nullptr);

// Binds the built-in workflows' activities to this instance's CRM, agents (when hosted) and outside
// systems, and registers the built-in definitions.
void BindWorkflows(workflows::Engine& engine, crm::MessagingService& messaging,
                   crm::SubscriptionService& subscriptions, agents::AgentsService* agents,
                   workflows::RecordingExternalSystems& external);

// The consumer "workflows.triggers": contact.created starts lead nurturing (when the tenant
// enabled it), subscription.created the customer onboarding, a customer's message.received
// signals the contact's lead nurturing ("contact_replied").
core::EventHandler WorkflowTriggers(workflows::Engine& engine, workflows::Triggers& triggers);

// One running instance: everything `ventros serve` builds.
class Server {
 public:
  // Opens the database (migrating when config.database.auto_migrate), creates the default tenant
  // on first start (printing its admin key once to `out`) and builds the routes.
  static core::Result<std::unique_ptr<Server>> Create(const core::Config& config,
                                                      core::Logger logger, std::ostream& out);
  ~Server();

  core::Status Start();
  uint16_t port() const;
  void StopOnSignals();
  void Stop();
  void Wait();

  core::Database& database() { return *db_; }
  core::EventBus& bus() { return *bus_; }
  crm::MessagingService& messaging() { return *messaging_; }
  // Null when this instance does not host the memory module.
  memory::MemoryService* memory();
  // Null when this instance does not host the agents module.
  agents::AgentsService* agents();
  // Null when this instance does not host the workflows module.
  workflows::Engine* workflows() { return workflows_.get(); }
  // Null when this instance does not host the observability module.
  observability::SpanStore* span_store() { return span_store_.get(); }
  // Null when neither the span store nor an OTLP export is configured here.
  const core::Tracer* tracer() const { return tracer_.get(); }
  // The outside systems of the customer onboarding (the built-in recording implementation).
  workflows::RecordingExternalSystems* external_systems() { return external_.get(); }
  const core::Router& router() const { return router_; }
  core::MetricsRegistry& metrics() { return metrics_; }

 private:
  Server() = default;
  core::Config config_;
  core::Logger logger_;
  core::SystemClock clock_;
  core::MetricsRegistry metrics_;
  std::unique_ptr<core::Database> db_;
  std::unique_ptr<crm::TenantService> tenants_;
  std::unique_ptr<core::EventBus> bus_;
  std::unique_ptr<crm::MessagingService> messaging_;
  std::unique_ptr<core::HttpClient> http_client_;
  std::unique_ptr<waha::WahaGateway> gateway_;
  std::unique_ptr<waha::WahaIngest> ingest_;
  std::unique_ptr<waha::WahaSender> sender_;
  std::unique_ptr<waha::MediaDownloader> media_;
  std::unique_ptr<waha::LidResolver> lids_;
  std::unique_ptr<MemoryParts> memory_;
  // Tracing: spans go to the store (module observability) and/or an OTLP collector.
  std::unique_ptr<core::Database> span_db_;  // spans' own SQLite file, when used
  std::unique_ptr<observability::SpanStore> span_store_;
  std::unique_ptr<observability::OtlpExporter> otlp_;
  std::unique_ptr<observability::FanoutSink> fanout_;
  std::unique_ptr<core::Tracer> tracer_;
  std::unique_ptr<AgentsParts> agents_parts_;
  std::unique_ptr<crm::SubscriptionService> subscriptions_;
  std::unique_ptr<workflows::RecordingExternalSystems> external_;
  std::unique_ptr<workflows::Triggers> triggers_;
  std::unique_ptr<workflows::Engine> workflows_;
  core::Router router_;
  std::unique_ptr<core::HttpServer> http_;
  // Loads the memory's vectors after start, so webhooks are acknowledged at once; searches see
  // the vectors as they load.
  std::thread vector_loader_;
  std::atomic<bool> loader_stop_{false};
  // Ends sessions silent for longer than their timeout.
  std::thread sweeper_;
  std::mutex sweeper_mu_;
  std::condition_variable sweeper_cv_;
  bool sweeper_stop_ = false;
};

// Opens the database named by config, with the pool settings of config.
core::Result<std::unique_ptr<core::Database>> OpenDatabase(const core::Config& config);

// How WAHA and browsers reach this server: server.public_url, else http://<server.listen>.
std::string PublicUrl(const core::Config& config);

// Options for outgoing HTTP (WAHA, LLM, embedding providers) from config.http_client.
core::HttpClientOptions HttpClientOptionsFrom(const core::Config& config);

// Adds /healthz, /readyz, /metrics and /openapi.json.
void RegisterSystemRoutes(core::Router& router, core::Database& db, core::MetricsRegistry& metrics,
                          const core::Clock& clock);

// `ventros demo`: the whole flow offline with a built-in fake WAHA (see docs/agents.md).
struct DemoOptions {
  std::string db_url;  // empty: a fresh temporary SQLite database
  bool keep = false;   // keep the temporary database
  std::string text = "Quero cancelar minha conta, muito caro";
};
int RunDemo(const DemoOptions& options, std::ostream& out, std::ostream& err);

// Runs the CLI; returns the process exit code (0 ok, 1 failure, 2 usage error).
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const std::vector<std::string>& environment);

}  // namespace ventros::app
