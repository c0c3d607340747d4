#pragma once
// The agents module's service: the semantic router per tenant (built-in routes plus the tenant's
// own examples and fitted thresholds), and the coordinator that answers customers. On
// message.received for a session the AI owns, the coordinator routes the turn, keeps the
// category and confidence in the session's agent state, builds the specialist from the tenant's
// agent for that category (or the template), searches the memory with its strategy, calls the
// language model with instruction + profile + memory context + the customer's messages, runs
// the tool calls it asks for through the guardrails (bounded steps and time), checks the reply's
// groundedness, and publishes message.send_requested, in one transaction with the turn's record
// and state, after re-checking that the AI still owns the session.
//
// One turn at a time per session (the consumer delivers a contact's events in order); messages
// that arrive during a turn are answered together by the next one, once. A failing model makes
// the event wait and retry; nothing is answered twice (the turn's state and its reply commit
// together; offers and follow-ups carry the turn's idempotency key).
//
// Thread-safety: AgentsService is thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ventros/agents/router.hpp"
#include "ventros/agents/templates.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"
#include "ventros/core/trace.hpp"
#include "ventros/crm/agents.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/llm/chat.hpp"
#include "ventros/llm/embedder.hpp"
#include "ventros/memory/memory.hpp"

namespace ventros::agents {

// USD per million tokens.
struct ModelPrice {
  double input = 0, output = 0, cached_input = 0;
};
// "gemini-2.5-flash=0.30/2.50/0.075" (input/output/cached input); InvalidArgument otherwise.
Result<std::pair<std::string, ModelPrice>> ParsePrice(std::string_view text);
// Cost in USD of a call's usage; a model not in the table costs 0 (model names match with or
// without the "provider/" prefix).
double CostOf(const std::map<std::string, ModelPrice>& prices, const std::string& model,
              const llm::Usage& usage);

// One tool call of a turn, with its guardrail verdict.
struct ToolRun {
  std::string name;
  std::string arguments;  // JSON
  std::string result;     // JSON
  bool ok = false;
  std::vector<std::string> verdicts;  // "offer_limits: refused: ..." (empty when none applied)
};

// What a turn did (stored in agent_turns; the demo and GET /v1/agent-turns show it).
struct Turn {
  std::string id;  // deterministic: the session and the last message answered
  std::string tenant_id, session_id, contact_id, trace_id;
  std::string status;  // replied | handoff | skipped_human
  std::string category;
  double confidence = 0;
  bool routed_fallback = false;
  std::optional<std::string> agent_id;  // the tenant's agent, or none (the template)
  std::string agent_name;
  std::string model;
  std::vector<std::string> message_ids;  // the customer's messages answered
  std::string input;                     // their text
  std::string context;                   // the memory context given to the model
  std::vector<ToolRun> tools;
  std::string reply;
  std::optional<std::string> reply_message_id;
  std::optional<std::string> offer_id;
  double groundedness = 1;
  std::vector<std::string> ungrounded_claims;
  bool reply_replaced = false;  // the model's reply failed the groundedness check
  llm::Usage usage;
  double cost_usd = 0;
  int llm_calls = 0;
  std::map<std::string, double> timings_ms;  // route, memory, llm, tools, commit, total
  int64_t created_at = 0;
};
std::string TurnJson(const Turn& t);

class AgentsService {
 public:
  struct Options {
    int64_t max_backlog_age_ms = 24LL * 3600 * 1000;  // older customer messages are not answered
    int64_t turn_timeout_ms = 30000;                  // model calls and tools of one turn
    std::map<std::string, ModelPrice> prices;
    core::EventBus* bus = nullptr;  // woken after a turn commits its reply
    // Spans of every turn (agent, route, retrieval, rerank, model calls, tools, guardrails,
    // publish); null: no tracing.
    const core::Tracer* tracer = nullptr;
  };
  AgentsService(core::Database& db, const core::Clock& clock, core::Logger logger,
                crm::MessagingService& crm, crm::AgentRegistry& registry,
                memory::MemoryService& memory, llm::ChatModel& model,
                llm::Embedder& router_embedder, core::MetricsRegistry* metrics, Options options);
  ~AgentsService();
  AgentsService(const AgentsService&) = delete;
  AgentsService& operator=(const AgentsService&) = delete;

  // Router.
  Result<Classification> Classify(const crm::TenantId& tenant, std::string_view text);
  Result<EvalReport> Evaluate(const crm::TenantId& tenant,
                              const std::vector<LabelledText>& labelled);
  // Fits thresholds on `labelled`; stores them for the tenant when `store`. Returns them with
  // the accuracy before and after.
  struct FitResult {
    std::map<std::string, double> thresholds;
    double accuracy_before = 0, accuracy_after = 0;
  };
  Result<FitResult> Fit(const crm::TenantId& tenant, const std::vector<LabelledText>& labelled,
                        bool store);
  // The tenant's own intent examples, added to a category's route.
  Status AddExamples(const crm::TenantId& tenant, const std::string& category,
                     const std::vector<std::string>& examples);
  // The routes as the tenant's router sees them (built-in + additions, thresholds).
  Result<std::vector<Route>> Routes(const crm::TenantId& tenant);

  // Agents (entities in crm, checked against the templates here).
  Result<crm::Agent> CreateAgent(const crm::TenantId& tenant, const std::string& template_id,
                                 const std::string& name, const std::string& overrides_json);
  Result<crm::Agent> UpdateAgent(const crm::TenantId& tenant, const crm::AgentId& id,
                                 const crm::AgentPatch& patch);
  crm::AgentRegistry& registry() { return registry_; }

  // The coordinator (consumer "agents.coordinator").
  static const std::vector<std::string>& ConsumedEventTypes();
  // Thread-safe: turns of different contacts may run in parallel (the consumer's
  // key_parallelism); one contact's turns must run in order.
  Status HandleEvent(const core::Event& event);
  // The turns of a session (oldest first) or the latest of a tenant.
  Result<std::vector<Turn>> ListTurns(const crm::TenantId& tenant,
                                      std::optional<crm::SessionId> session, int limit);

  // Follow-ups scheduled by agents that are due: sends each through the normal outbound path
  // (once). One the customer has written since, or whose conversation a person owns, is
  // cancelled instead. Returns how many were sent.
  Result<int> SendDueFollowups();

  // Jobs for workflows (activities; src/outreach.cpp). Outreach and Qualify send the model a
  // task request (offline_model.hpp): a system message with the task's instruction (outreach: after
  // the specialist's own) and an AGENT PROFILE with `task: outreach | qualify`, the memory context,
  // and a user message stating the task; no tools. Thread-safe, like the rest of the service.

  // A memory-aware first-contact or follow-up message from the specialist of `category` (the
  // tenant's agent for it, else the template) to a contact, through the normal outbound path
  // (message.send_requested, source "bot"; metadata {agent_category, purpose, idempotency_key,
  // trace_id}). `purpose`: "engagement" (a lead that has not engaged) or "retention" (a customer
  // at risk). The text must pass the groundedness check against the memory context and state no
  // offer, else a safe generic text is sent. Idempotent by `idempotency_key`: when an outbound
  // message of the contact carries the key in its metadata, its id is returned and nothing is
  // sent (one attempt at a time per key, as a workflow runs its activities; two concurrent calls
  // with one key may both send). Returns the message id, or nullopt (nothing sent) when a human
  // owns one of the contact's active sessions. InvalidArgument for an unknown category or
  // purpose or a key that is empty or longer than 200; NotFound for an unknown contact; the
  // model's errors other than a blocked answer (the activity retries).
  Result<std::optional<std::string>> Outreach(const crm::TenantId& tenant,
                                              const crm::ContactId& contact,
                                              const std::string& category,
                                              const std::string& purpose,
                                              const std::string& idempotency_key);

  struct Qualification {
    bool is_qualified = false;
    int score = 0;  // 0..100
    bool budget = false, authority = false, need = false, timeline = false;
    std::string reason;
    std::string source;  // "model", or "rules" when the model's answer was invalid
  };
  // BANT qualification of a lead from its memory (facts: budget_constraint -> budget;
  // business_info / personal_info with a role or decision maker -> authority; pain_point / goal /
  // preference -> need; constraint with a deadline or timing -> timeline; 25 points each,
  // qualified at 50 with a budget: QualifyByRules), by the model with a JSON-output request
  // (the offline model answers by the rules). A hosted model's answer is validated (a JSON object
  // with booleans is_qualified, budget, authority, need, timeline, an integer score 0..100, a
  // string reason) and replaced by the rules when invalid or blocked. An unavailable model is an
  // error (the activity retries).
  Result<Qualification> Qualify(const crm::TenantId& tenant, const crm::ContactId& contact);

  // At-risk check for retention, from the memory, without the model: each of an average
  // sentiment below -0.2, a worsening sentiment trend, an active objection, and more than 14 days
  // since the last interaction is a reason; at risk with any reason. `sentiment` is the average
  // sentiment of the contact's messages (0 when none).
  struct RetentionRisk {
    bool at_risk = false;
    std::vector<std::string> reasons;
    double sentiment = 0;
  };
  Result<RetentionRisk> RetentionCheck(const crm::TenantId& tenant, const crm::ContactId& contact);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  crm::AgentRegistry& registry_;
};

// /v1/agent-templates, /v1/agents, /v1/router/classify, /v1/router/examples, /v1/offers,
// /v1/agent-turns (docs/api.md).
void RegisterAgentRoutes(core::Router& router, AgentsService& service);

// {"category","confidence","fallback","scores":[{"category","score"}]}
std::string ClassificationJson(const Classification& c);

}  // namespace ventros::agents
