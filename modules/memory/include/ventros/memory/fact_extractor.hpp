#pragma once
// Offline, rule-based extraction of memory facts from one customer message, in Portuguese and
// English: no model, no network, a few microseconds per message. It runs on every inbound
// message in the background, so it favours precision over recall: an explicit statement yields
// a fact, a vague or ambiguous one yields nothing.
//
// Facts come with a stable `subject` so that the caller can find the active fact a new one
// contradicts (same subject) and close it, and with `retraction` set when the text withdraws
// something ("o preço não é mais problema", "I'm no longer looking at other vendors", "o erro 500
// foi resolvido"): the caller closes the active fact with that subject and stores nothing new.
//
// Subjects (the stable keys), by type:
//   budget_constraint  budget                        {"amount","currency","period","bound","min"}
//                                                    or {"defined":false}
//   objection          objection:price | competitor | timing | trust | need
//   pain_point         pain_point:roi | performance | manual_work | time_waste | support |
//                      integration | usability | visibility | lost_sales | <folded words>
//   goal               goal:<action>[_<object words>]  {"action","object","percent","amount",...}
//   preference         preference:channel | time | language | payment | no_calls
//   technical_info     technical_info:error:<code> | version | platform:<name> |
//                      product:<name>
//   personal_info      personal_info:name | age | children | location | role
//   business_info      business_info:employees | sales_team | support_team | users | customers |
//                      locations | message_volume | lead_volume | industry | company | location |
//                      revenue | current_spend
//   constraint         constraint:deadline | approval | integration:<product> |
//                      compliance:<name>
// Amounts are numbers ("5 mil" = 5000, "1.5k" = 1500, "5.000,00" = 5000); currency is BRL, USD,
// EUR or GBP and is omitted when the text names none; period is month, year, week, day or
// one_time and is omitted when unknown. The rules and their limits are described at the top of
// fact_extractor.cpp.
//
// Thread-safety: ExtractFacts is a pure function (its word lists are built once, thread-safely,
// and never change); call it from any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ventros::memory {

// Messages are read up to this many bytes; the rest is ignored, which bounds the time per call.
inline constexpr std::size_t kMaxFactInputBytes = 64 * 1024;

// One fact found in a message. The source session is not known here: the caller, who knows
// which session the message belongs to, records it with the fact.
struct ExtractedFact {
  std::string type;     // budget_constraint | preference | goal | pain_point | objection |
                        // constraint | technical_info | personal_info | business_info
  std::string subject;  // stable key: facts with the same subject are about the same thing
  // A short statement in the customer's language: "Orçamento de R$ 5.000/mês".
  std::string text;
  std::string value_json;   // structured value, a JSON object ("{}" when there is nothing to add)
  double confidence = 0;    // 0..1: explicit numbers and phrases score higher than vague ones
  bool retraction = false;  // withdraws the active fact with this subject; value_json is "{}"
  std::string evidence;     // the sentence it came from, as written (at most 300 bytes)
};

// Facts stated in one customer message (from_me = false), at most one per subject, in text order.
// Agent messages should not be passed: an agent's price quote or offer is not a fact about the
// customer, and the rules assume the first person is the customer. Never throws; linear in the
// text (after truncation to kMaxFactInputBytes).
std::vector<ExtractedFact> ExtractFacts(std::string_view message_text);

}  // namespace ventros::memory
