#pragma once
// The built-in agent templates: read-only blueprints an agent entity is created from. Each names
// its router category, its retrieval strategy and knowledge scope (memory search), its
// instruction, the tools it may call, the constraints enforced in code whatever the model asks,
// and the intent examples (Portuguese and English) the semantic router learns its route from.
//
// Thread-safety: the table is immutable after first use.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ventros::agents {

// Limits the tools and guardrails enforce (docs/agents.md).
struct Constraints {
  int max_discount_percent = 30;       // create_retention_offer: 1..this
  int max_offer_months = 12;           // create_retention_offer: 1..this
  int max_retention_attempts = 3;      // offers per contact before a human takes over
  int max_tool_steps = 4;              // model calls with tool results per turn
  bool escalate_high_severity = true;  // handoff_to_human on urgent / outage messages
};

struct TemplateScope {
  std::optional<int> lookback_days;     // memory search: only sessions of the last N days
  bool include_agent_transfers = true;  // memory graph: follow transferred_to edges
  bool contact_only = false;            // memory search: only this contact's sessions
};

struct AgentTemplate {
  std::string id;        // "retention_churn"
  std::string name;      // "Retention (churn)"
  std::string category;  // router route; equal to id for the built-ins
  std::string description;
  std::string strategy;  // memory retrieval strategy (memory::Strategies())
  TemplateScope scope;
  std::string instruction;         // the system instruction given to the model
  std::vector<std::string> tools;  // tool names it may call
  Constraints constraints;
  double threshold = 0.30;                   // router: default threshold of its route
  std::vector<std::string> intent_examples;  // router: utterances, Portuguese and English
};

// The five built-ins, in a fixed order: sales_prospecting, retention_churn, support_technical,
// support_billing, balanced. `balanced` is the router's fallback.
const std::vector<AgentTemplate>& BuiltInTemplates();
// nullptr when unknown.
const AgentTemplate* FindTemplate(std::string_view id);
inline constexpr std::string_view kFallbackCategory = "balanced";

// {"id","name","category","description","strategy","knowledge_scope":{...},"instruction",
//  "tools":[...],"constraints":{...},"threshold","intent_examples":[...]}
std::string TemplateJson(const AgentTemplate& t);

}  // namespace ventros::agents
