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
// Usage counts tokens as ceil(characters / 4), deterministic.
//
// Thread-safety: stateless; Complete may be called from any thread.

#include <string>
#include <string_view>

#include "ventros/llm/chat.hpp"

namespace ventros::agents {

class OfflineChatModel : public llm::ChatModel {
 public:
  std::string name() const override { return "offline/rules-v1"; }
  // InvalidArgument for a request without messages or without a user message; never fails
  // otherwise.
  llm::Result<llm::ChatResponse> Complete(const llm::ChatRequest& request) override;
};

// "pt" or "en": the language of a customer's text (stop words and accents); "pt" when unsure.
std::string DetectLanguage(std::string_view text);

}  // namespace ventros::agents
