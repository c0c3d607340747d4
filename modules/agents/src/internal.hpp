#pragma once
// Shared by the agents module's translation units only.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ventros/agents/agents.hpp"
#include "ventros/agents/guardrails.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/trace.hpp"

namespace ventros::agents {

namespace json = core::json;

// A template with the agent's overrides applied (narrower constraints only).
struct Specialist {
  AgentTemplate tmpl;
  std::string name;
  std::optional<std::string> agent_id;
};
Specialist BuildSpecialist(const AgentTemplate& t, const std::optional<crm::Agent>& agent);

// The tool specs offered to the model, for the tools a specialist may call.
std::vector<llm::ToolSpec> ToolSpecsFor(const std::vector<std::string>& tools,
                                        const Constraints& limits);

std::optional<Turn> TurnFromJson(const std::string& text);

struct AgentsService::Impl {
  Impl(core::Database& db, const core::Clock& clock, core::Logger logger,
       crm::MessagingService& crm, crm::AgentRegistry& registry, memory::MemoryService& memory,
       llm::ChatModel& model, llm::Embedder& embedder, core::MetricsRegistry* metrics,
       AgentsService::Options options);

  core::Database& db;
  const core::Clock& clock;
  core::Logger logger;
  crm::MessagingService& crm;
  crm::AgentRegistry& registry;
  memory::MemoryService& memory;
  llm::ChatModel& model;
  llm::Embedder& embedder;
  core::MetricsRegistry* metrics;
  AgentsService::Options options;
  // Spans go to options.tracer; without one, a tracer without a sink records nothing.
  core::Tracer no_tracer{clock, nullptr};
  const core::Tracer& tracer() const { return options.tracer ? *options.tracer : no_tracer; }
  core::Histogram* turn_seconds = nullptr;
  core::Histogram* llm_seconds = nullptr;

  std::mutex router_mu;
  struct CachedRouter {
    std::shared_ptr<const SemanticRouter> router;
    int64_t built_us = 0;  // monotonic
  };
  std::map<std::string, CachedRouter> routers;  // by tenant

  Result<std::shared_ptr<const SemanticRouter>> RouterFor(const crm::TenantId& tenant);
  Result<std::vector<Route>> RoutesFor(const crm::TenantId& tenant);
  void ForgetRouter(const crm::TenantId& tenant);
  void CountTurn(const Turn& t);
};

}  // namespace ventros::agents
