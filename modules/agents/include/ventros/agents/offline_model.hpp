#pragma once
// The `offline` language model: no network, deterministic, rule-based, behind the same
// llm::ChatModel interface as Gemini and OpenAI-compatible servers. It reads the request the
// specialist builds (the prompt contract below), answers in the customer's language (Portuguese
// or English) from the memory context and the agent's policy, and decides tool calls by rules.
//
// Prompt contract (what a specialist sends; hosted models read the same text):
//   system  : the template's instruction, then a section
//               === AGENT PROFILE ===
//               agent: <agent name>
//               category: <retention_churn | sales_prospecting | support_technical |
//                          support_billing | balanced>
//               contact_id: <id>
//               max_discount_percent: <int>
//               max_offer_months: <int>
//               retention_attempts_left: <int>
//               customer_days: <int>          (days since the contact became a customer; absent
//                                              when unknown)
//               active_offer: <none | "<P>% for <M> months">
//               escalate_high_severity: <true | false>
//   system  : the memory context (=== RECENT MESSAGES === / === SIMILAR PAST SESSIONS === /
//             === CONTACT CONTEXT === with "Name: ..." / === MEMORY FACTS === with lines
//             "- [type] text (confidence ...)")
//   user    : the customer's message(s) of this turn, one per line
//   then, as the turn goes on: assistant messages with tool_calls and tool messages with results
//   (JSON objects; {"ok":true,...} or {"ok":false,"error":"...","escalate":true|false}).
// Tools are called only when offered in ChatRequest::tools. Rules (docs/agents.md):
//   - a request for a human, or (when escalate_high_severity) an urgent / outage message ->
//     handoff_to_human {reason};
//   - retention_churn: a cancellation or price objection from a customer of >= 30 days with
//     attempts left and no active offer -> create_retention_offer {discount_percent,
//     duration_months, reason}: the competitor's price gap when a fact states one (e.g. "30 %
//     cheaper"), else 20, never above max_discount_percent; 3 months; no attempts left ->
//     handoff_to_human;
//   - an offer refused by a guardrail (tool result ok=false with escalate=true) ->
//     handoff_to_human;
//   - a request to be contacted later ("amanhã", "semana que vem", "tomorrow", "next week") ->
//     schedule_followup {delay_hours, note};
//   - sales_prospecting: a stated intent to buy -> move_pipeline_stage {stage: "negotiation"};
//   - otherwise, or once tool results are in: a text reply built only from the context, the
//     profile and the tool results (never a number that is not in them).
// Tasks: a request whose AGENT PROFILE carries a line `task: outreach` or `task: qualify` is no
// turn of a conversation but one job, for a workflow activity (AgentsService::Outreach and
// Qualify). Its profile holds agent, category, contact_id, task and, for outreach,
// `purpose: engagement | retention` (a lead that has not engaged, a customer at risk); it may
// carry a user message stating the task (hosted models need a user turn), which the offline model
// ignores, and no user message is required. No tool is called. Other values of `task` are no task.
//   - outreach: a short WhatsApp message in the contact's language (Portuguese, or English when
//     the contact's messages in RECENT MESSAGES read as English), greeting by first name,
//     quoting one fact as written (goal, pain point or budget; for retention a pain point first)
//     when there is one, ending with a question; no number that is not in the context.
//   - qualify: a JSON object {"is_qualified","score","budget","authority","need","timeline",
//     "reason"} by the rules of QualifyByRules over the MEMORY FACTS.
// Usage counts tokens as ceil(characters / 4), deterministic.
//
// Thread-safety: stateless; Complete may be called from any thread.

#include <span>
#include <string>
#include <string_view>

#include "ventros/llm/chat.hpp"

namespace ventros::agents {

class OfflineChatModel : public llm::ChatModel {
 public:
  std::string name() const override { return "offline/rules-v1"; }
  // InvalidArgument for a request without messages, or without a user message when it states no
  // task; never fails otherwise.
  llm::Result<llm::ChatResponse> Complete(const llm::ChatRequest& request) override;
};

// "pt" or "en": the language of a customer's text (stop words and accents); "pt" when unsure.
std::string DetectLanguage(std::string_view text);

// A memory fact as the rules read it: its type and its text ("budget_constraint", "Orçamento de
// R$ 5.000 por mês").
struct BantFact {
  std::string type, text;
};
struct BantScore {
  bool is_qualified = false;
  int score = 0;  // 25 per element present
  bool budget = false, authority = false, need = false, timeline = false;
  std::string reason;  // which facts gave which element, and what is missing
};
// BANT lead qualification by rules: budget from a budget_constraint that states one (not "Ainda
// não tem orçamento definido"); authority from personal_info / business_info naming a role or a
// decision maker (cargo, role, decisor, dono, owner, CEO, diretor, gerente, ...; not negated);
// need from a pain_point, goal or preference; timeline from a constraint with a deadline or
// timing (prazo, deadline, urgência, até, by, mês, week, ...). Qualified when score >= 50 and a
// budget is known. The offline model's `task: qualify` answers with this; AgentsService::Qualify
// falls back to it when a hosted model's answer is invalid.
BantScore QualifyByRules(std::span<const BantFact> facts);

}  // namespace ventros::agents
