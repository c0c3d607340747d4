#include "ventros/agents/guardrails.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace ventros::agents {
namespace {

TEST_CASE("CheckRetentionOffer: discount, months and attempts within the limits", "[agents]") {
  const Constraints c;  // 30 %, 12 months, 3 attempts
  struct Case {
    int discount, months, attempts;
    bool passed, escalate;
    std::string guardrail;
  };
  const std::vector<Case> cases = {
      {0, 3, 0, false, false, "offer_limits"},       {1, 3, 0, true, false, "offer_limits"},
      {30, 3, 0, true, false, "offer_limits"},       {31, 3, 0, false, true, "offer_limits"},
      {45, 3, 0, false, true, "offer_limits"},       {-5, 3, 0, false, false, "offer_limits"},
      {20, 0, 0, false, false, "offer_limits"},      {20, 1, 0, true, false, "offer_limits"},
      {20, 12, 0, true, false, "offer_limits"},      {20, 13, 0, false, false, "offer_limits"},
      {20, 3, 2, true, false, "offer_limits"},       {20, 3, 3, false, true, "retention_attempts"},
      {20, 3, 7, false, true, "retention_attempts"},
  };
  for (const Case& k : cases) {
    INFO(k.discount << "% for " << k.months << " months after " << k.attempts << " attempts");
    const Verdict v = CheckRetentionOffer(c, k.discount, k.months, k.attempts);
    CHECK(v.passed == k.passed);
    CHECK(v.escalate == k.escalate);
    CHECK(v.guardrail == k.guardrail);
    CHECK(v.reason.empty() == k.passed);
  }
}

TEST_CASE("CheckRetentionOffer: the reason names the limit", "[agents]") {
  Constraints c;
  const Verdict v = CheckRetentionOffer(c, 40, 3, 0);
  CHECK(v.reason == "discount 40% above the 30% limit: needs a supervisor");
  c.max_discount_percent = 20;
  CHECK(CheckRetentionOffer(c, 25, 3, 0).reason ==
        "discount 25% above the 20% limit: needs a supervisor");
  CHECK(CheckRetentionOffer(c, 20, 3, 0).passed);
  c.max_retention_attempts = 1;
  CHECK_FALSE(CheckRetentionOffer(c, 10, 3, 1).passed);
}

// Kinds and support of the claims of one reply.
struct Expected {
  std::string text;
  std::string kind;
  bool supported;
};

void CheckClaims(const std::string& reply, const std::vector<std::string>& evidence,
                 const std::vector<Expected>& expected) {
  INFO("reply: " << reply);
  const Groundedness g = CheckGroundedness(reply, evidence);
  for (const auto& c : g.claims) INFO("claim " << c.kind << " '" << c.text << "' " << c.supported);
  REQUIRE(g.claims.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CHECK(g.claims[i].text == expected[i].text);
    CHECK(g.claims[i].kind == expected[i].kind);
    CHECK(g.claims[i].supported == expected[i].supported);
  }
}

TEST_CASE("CheckGroundedness: percentages and offers", "[agents]") {
  const std::vector<std::string> ev = {"- [objection] Competitor is 30% cheaper"};
  CheckClaims("o concorrente é 30% mais barato", ev, {{"30%", "percent", true}});
  CheckClaims("uns 30 % a menos", ev, {{"30 %", "percent", true}});
  CheckClaims("30 por cento", ev, {{"30 por cento", "percent", true}});
  CheckClaims("about 30 percent", ev, {{"30 percent", "percent", true}});
  CheckClaims("uns 40% a menos", ev, {{"40%", "percent", false}});
  CheckClaims("posso oferecer 30% de desconto", ev, {{"30%", "offer", true}});
  CheckClaims("I can give you 25% off", ev, {{"25%", "offer", false}});
  CheckClaims("um desconto de 35%", ev, {{"35%", "offer", false}});
  // A tool result's JSON supports the offer it made.
  CheckClaims("posso oferecer 45% de desconto por 6 meses",
              {R"({"ok":true,"offer_id":"o1","discount_percent":45,"duration_months":6})"},
              {{"45%", "offer", true}, {"6 meses", "duration", true}});
}

TEST_CASE("CheckGroundedness: money in Brazilian and English formats", "[agents]") {
  const std::vector<std::string> br = {"- [budget_constraint] Orçamento de R$ 5.000,00/mês"};
  CheckClaims("seu orçamento de R$ 5.000", br, {{"R$ 5.000", "money", true}});
  CheckClaims("até R$5000,00 por mês", br, {{"R$5000,00", "money", true}});
  CheckClaims("cerca de 5 mil reais", br, {{"5 mil reais", "money", true}});
  CheckClaims("R$ 5 mil", br, {{"R$ 5 mil", "money", true}});
  CheckClaims("a budget of $5,000.00", br, {{"$5,000.00", "money", true}});
  CheckClaims("R$ 6.000", br, {{"R$ 6.000", "money", false}});
  CheckClaims("R$ 500", br, {{"R$ 500", "money", false}});

  const std::vector<std::string> en = {"Budget of $5,000 per month", "Plan at US$ 20"};
  CheckClaims("your R$ 5.000,00 budget", en, {{"R$ 5.000,00", "money", true}});
  CheckClaims("only US$ 20 per seat", en, {{"US$ 20", "money", true}});
  CheckClaims("only $50", en, {{"$50", "money", false}});
  CheckClaims("€ 20", en, {{"€ 20", "money", true}});
  // Decimals: "49,90" is 49.9 in both writings.
  CheckClaims("R$ 49,90", {"plano de 49.90"}, {{"R$ 49,90", "money", true}});
  CheckClaims("R$ 49,90", {"plano de 49"}, {{"R$ 49,90", "money", false}});
}

TEST_CASE("CheckGroundedness: durations, dates and times", "[agents]") {
  const std::vector<std::string> ev = {
      "[2026-11-20 14:03] Contact: \"renovo em 12/05, contrato de 12 meses\"", "customer_days: 90"};
  CheckClaims("por 3 meses", ev, {{"3 meses", "duration", false}});
  CheckClaims("seu contrato de 12 meses", ev, {{"12 meses", "duration", true}});
  CheckClaims("for 12 months", ev, {{"12 months", "duration", true}});
  CheckClaims("cliente há 90 dias", ev, {{"90 dias", "duration", true}});
  CheckClaims("em 12 dias", ev, {{"12 dias", "duration", true}});  // the number is in evidence
  CheckClaims("em 7 dias", ev, {{"7 dias", "duration", false}});
  CheckClaims("a renovação em 12/05", ev, {{"12/05", "date", true}});
  CheckClaims("a renovação em 12/05/2026", ev, {{"12/05/2026", "date", true}});
  CheckClaims("a renovação em 13/05", ev, {{"13/05", "date", false}});
  CheckClaims("your message of 2026-11-20", ev, {{"2026-11-20", "date", true}});
  CheckClaims("sua mensagem de 20/11", ev, {{"20/11", "date", true}});
  CheckClaims("your message of 11/20/2026", ev, {{"11/20/2026", "date", true}});  // US order
  CheckClaims("sua mensagem de 21/11", ev, {{"21/11", "date", false}});
  // Times: a claim of their own, supported by the same hour and minute.
  CheckClaims("às 14:03", ev, {{"14:03", "time", true}});
  CheckClaims("às 14:05", ev, {{"14:05", "time", false}});
  CheckClaims("às 14h03", ev, {{"14h03", "time", true}});
}

TEST_CASE("CheckGroundedness: other numbers and codes", "[agents]") {
  const std::vector<std::string> ev = {"- [technical_info] Erro E-404",
                                       "- [business_info] Equipe de 1.200 vendedores",
                                       "Total sessions: 12"};
  CheckClaims("você teve 12 sessões", ev, {{"12", "number", true}});
  CheckClaims("você teve 13 sessões", ev, {{"13", "number", false}});
  CheckClaims("seus 1.200 vendedores", ev, {{"1.200", "number", true}});
  CheckClaims("your 1,200 sellers", ev, {{"1,200", "number", true}});
  CheckClaims("o erro E-404", ev, {{"404", "number", true}});
  CheckClaims("o erro E404", ev, {{"E404", "number", true}});
  CheckClaims("o erro 500", ev, {{"500", "number", false}});
  CheckClaims("o código 0x80070005", ev, {{"0x80070005", "number", false}});
  CheckClaims("é a 2ª vez", ev, {{"2ª", "number", false}});
}

TEST_CASE("CheckGroundedness: bare 0 and 1 are not claims", "[agents]") {
  const std::vector<std::string> none;
  CheckClaims("só 1 instante, falta 1 passo", none, {});
  CheckClaims("0 problemas", none, {});
  CheckClaims("1 minuto", none, {{"1 minuto", "duration", false}});
  CheckClaims("1%", none, {{"1%", "percent", false}});
  CheckClaims("24 horas", {"suporte 24 horas"}, {{"24 horas", "duration", true}});
}

TEST_CASE("CheckGroundedness: score and verdict", "[agents]") {
  const std::vector<std::string> ev = {"Competitor is 30% cheaper", "contrato de 3 meses"};
  const Groundedness two_of_three = CheckGroundedness("30% por 3 meses, ou 40%", ev);
  REQUIRE(two_of_three.claims.size() == 3);
  CHECK(two_of_three.score == Approx(2.0 / 3).margin(1e-9));
  CHECK(two_of_three.score == Approx(0.667).margin(5e-4));
  CHECK_FALSE(two_of_three.grounded);
  CHECK(CheckGroundedness("30% por 3 meses, ou 40%", ev, 0.6).grounded);
  CHECK_FALSE(CheckGroundedness("30% por 3 meses, ou 40%", ev, 0.7).grounded);

  const Groundedness all = CheckGroundedness("30% por 3 meses", ev);
  CHECK(all.score == 1.0);
  CHECK(all.grounded);

  const Groundedness none = CheckGroundedness("Oi, Leonardo! Como posso ajudar?", ev);
  CHECK(none.claims.empty());
  CHECK(none.score == 1.0);
  CHECK(none.grounded);
  CHECK(CheckGroundedness("Tudo certo, 1 instante", {}).grounded);

  const Groundedness nothing = CheckGroundedness("custa R$ 99", {});
  CHECK(nothing.score == 0.0);
  CHECK_FALSE(nothing.grounded);
  CHECK(CheckGroundedness("custa R$ 99", {}, 0.0).grounded);
}

TEST_CASE("CheckGroundedness: punctuation, spaces and JSON evidence", "[agents]") {
  // A period or comma after a number ends it; a no-break space is a space.
  CheckClaims("por 3 meses. Combinado?", {"duration 3"}, {{"3 meses", "duration", true}});
  CheckClaims(
      "R$\xC2\xA0"
      "5.000,",
      {"5000"},
      {{"R$\xC2\xA0"
        "5.000",
        "money", true}});
  // JSON arrays and nested objects are walked, not read as "30,3".
  CheckClaims("30% ou 3%", {R"({"offers":[30,3],"meta":{"note":"ok"}})"},
              {{"30%", "percent", true}, {"3%", "percent", true}});
  CheckClaims("30,3%", {R"({"offers":[30,3]})"}, {{"30,3%", "percent", false}});
  // A number inside a JSON string is read as text.
  CheckClaims("R$ 5.000", {R"({"text":"Orçamento de R$ 5.000/mês"})"},
              {{"R$ 5.000", "money", true}});
}

}  // namespace
}  // namespace ventros::agents
