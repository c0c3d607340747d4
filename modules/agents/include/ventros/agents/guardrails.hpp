#pragma once
// Guardrails enforced in code, whatever the model asks: limits on tool arguments, and the
// groundedness check of a reply before it is sent (every number, amount, percentage, date and
// offer it states must be supported by the evidence: the memory context, the customer's message,
// the agent profile and the tool results of the turn).
//
// Thread-safety: pure functions.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ventros/agents/templates.hpp"

namespace ventros::agents {

struct Verdict {
  std::string guardrail;  // "offer_limits", "retention_attempts", "groundedness", ...
  bool passed = true;
  std::string reason;     // why it failed (empty when passed)
  bool escalate = false;  // a human should take over (e.g. a discount above the limit)
};

// create_retention_offer: discount 1..max_discount_percent, months 1..max_offer_months, at most
// max_retention_attempts offers per contact (attempts_used counts the earlier ones). Above the
// discount limit: refused with escalate=true ("needs a supervisor").
Verdict CheckRetentionOffer(const Constraints& constraints, int discount_percent,
                            int duration_months, int attempts_used);

struct Claim {
  std::string text;  // as written in the reply: "30%", "R$ 5.000", "3 meses", "12/05"
  std::string kind;  // percent | money | number | duration | date | time | offer
  bool supported = false;
};

struct Groundedness {
  double score = 1;  // supported claims / claims; 1 for a reply without claims
  std::vector<Claim> claims;
  bool grounded = true;  // score >= the minimum asked for
};

// Checks a reply's claims against the evidence texts. Numbers are compared by value after
// normalising Brazilian and English formats ("5.000" = "5,000" = "5000", "30 %" = "30%",
// "R$ 5.000,00" = 5000). An "offer" claim (desconto/discount/oferta/offer followed or preceded
// by a percentage) is supported only when an evidence text contains that percentage. Small
// counting words and ordinals that are part of ordinary speech ("1 minuto", "24 horas" when in
// the evidence) follow the same rule; bare numbers 0 and 1 are not claims.
Groundedness CheckGroundedness(std::string_view reply, std::span<const std::string> evidence,
                               double min_score = 1.0);

}  // namespace ventros::agents
