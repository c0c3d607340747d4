#include "ventros/agents/offline_model.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ventros/agents/guardrails.hpp"

namespace ventros::agents {
namespace {

namespace json = boost::json;

// One turn of a specialist, in the prompt contract of offline_model.hpp.
struct Scenario {
  std::string category = "retention_churn";
  int max_discount_percent = 30;
  int max_offer_months = 12;
  int attempts_left = 3;
  std::optional<int> customer_days = 90;
  std::string active_offer = "none";
  bool escalate_high_severity = true;
  std::string name = "Leonardo Souza";
  std::string pipeline_stage = "active_customer (90 days)";
  std::vector<std::string> recent = {
      "[2026-11-20 14:03] Contact: \"o concorrente tá 30% mais barato\"",
      "[2026-11-20 14:05] Agent: \"Entendo, vou verificar\""};
  std::vector<std::string> facts = {
      "- [budget_constraint] Budget of R$ 5000 per month (confidence 0.90, source session "
      "0193a1)",
      "- [objection] Competitor is 30% cheaper (confidence 0.85)"};
  std::string user = "Quero cancelar minha conta, muito caro";
  std::vector<std::string> tools = {"search_memory", "create_retention_offer", "handoff_to_human",
                                    "schedule_followup", "move_pipeline_stage"};
};

std::string Profile(const Scenario& s) {
  std::string p = "You are the retention agent of Acme. Be brief and kind.\n\n";
  p += "=== AGENT PROFILE ===\n";
  p += "agent: Retention (churn)\n";
  p += "category: " + s.category + "\n";
  p += "contact_id: 0193c0de\n";
  p += "max_discount_percent: " + std::to_string(s.max_discount_percent) + "\n";
  p += "max_offer_months: " + std::to_string(s.max_offer_months) + "\n";
  p += "retention_attempts_left: " + std::to_string(s.attempts_left) + "\n";
  if (s.customer_days) p += "customer_days: " + std::to_string(*s.customer_days) + "\n";
  p += "active_offer: " + s.active_offer + "\n";
  p += std::string("escalate_high_severity: ") + (s.escalate_high_severity ? "true" : "false") +
       "\n";
  return p;
}

std::string Memory(const Scenario& s) {
  std::string m = "=== RECENT MESSAGES ===\n";
  if (s.recent.empty()) m += "(none)\n";
  for (const auto& line : s.recent) m += line + "\n";
  m += "\n=== SIMILAR PAST SESSIONS ===\n";
  m += "1. (similarity 0.82) Session 2026-10-02 with Leonardo, agent retention_churn\n";
  m += "   Customer complained about the price and stayed after an offer\n";
  m += "\n=== CONTACT CONTEXT ===\n";
  m += "Name: " + (s.name.empty() ? std::string("(unknown)") : s.name) + "\n";
  m += "Total sessions: 12\n";
  m += "Average sentiment: -0.20 (worsening)\n";
  m += "Last interaction: 2026-11-20 14:05\n";
  m += "Campaign source: retencao_q4\n";
  if (!s.pipeline_stage.empty()) m += "Pipeline stage: " + s.pipeline_stage + "\n";
  m += "\n=== MEMORY FACTS ===\n";
  if (s.facts.empty()) m += "(none)\n";
  for (const auto& line : s.facts) m += line + "\n";
  return m;
}

llm::ChatRequest Build(const Scenario& s) {
  llm::ChatRequest req;
  req.messages.push_back(llm::ChatMessage::System(Profile(s)));
  req.messages.push_back(llm::ChatMessage::System(Memory(s)));
  req.messages.push_back(llm::ChatMessage::User(s.user));
  for (const auto& t : s.tools) {
    req.tools.push_back({.name = t, .description = t, .parameters_json = "{}"});
  }
  return req;
}

// Appends the model's call and the tool's result, as the specialist's loop does.
void AddResult(llm::ChatRequest& req, const llm::ToolCall& call, const std::string& result) {
  req.messages.push_back(llm::ChatMessage::Assistant("", {call}));
  req.messages.push_back(llm::ChatMessage::ToolResult(call.id, call.name, result));
}

llm::ToolCall Call(std::string name, std::string args = "{}") {
  return {.id = "call_0", .name = std::move(name), .arguments_json = std::move(args)};
}

llm::ChatResponse Complete(const llm::ChatRequest& req) {
  OfflineChatModel model;
  auto r = model.Complete(req);
  REQUIRE(r.ok());
  return std::move(r).value();
}

json::object Args(const llm::ChatResponse& r) {
  REQUIRE(r.tool_calls.size() == 1);
  json::value v = json::parse(r.tool_calls[0].arguments_json);
  REQUIRE(v.is_object());
  return v.as_object();
}

// Everything the groundedness guardrail may use: the system messages (profile and memory), the
// customer's text and the tool results.
std::vector<std::string> Evidence(const llm::ChatRequest& req) {
  std::vector<std::string> out;
  for (const auto& m : req.messages) {
    if (m.role == "system" || m.role == "user" || m.role == "tool") out.push_back(m.content);
  }
  return out;
}

void CheckGrounded(const llm::ChatRequest& req, const llm::ChatResponse& r) {
  const Groundedness g = CheckGroundedness(r.content, Evidence(req));
  INFO("reply: " << r.content);
  for (const auto& c : g.claims) INFO(c.kind << " " << c.text << " " << c.supported);
  CHECK(g.grounded);
  CHECK(g.score == 1.0);
}

// Unicode code points.
size_t Chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string kOfferOk =
    R"({"ok":true,"offer_id":"o1","discount_percent":30,"duration_months":3})";

TEST_CASE(
    "OfflineChatModel: a long-standing customer cancelling over price gets the competitor's "
    "gap as an offer",
    "[agents]") {
  const auto r = Complete(Build(Scenario{}));
  CHECK(r.content.empty());
  CHECK(r.finish_reason == "tool_calls");
  CHECK(r.model == "offline/rules-v1");
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].id == "call_0");
  CHECK(r.tool_calls[0].name == "create_retention_offer");
  const json::object args = Args(r);
  CHECK(args.at("discount_percent").as_int64() == 30);
  CHECK(args.at("duration_months").as_int64() == 3);
  CHECK(args.at("reason").is_string());
}

TEST_CASE("OfflineChatModel: the offer never exceeds the profile's limits", "[agents]") {
  Scenario s;
  s.max_discount_percent = 20;
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 20);
  s.max_discount_percent = 30;
  s.max_offer_months = 2;
  CHECK(Args(Complete(Build(s))).at("duration_months").as_int64() == 2);
}

TEST_CASE(
    "OfflineChatModel: the discount is 20 without a stated gap, or the gap a recent message "
    "states",
    "[agents]") {
  Scenario s;
  s.facts = {};
  s.recent = {};
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 20);
  s.max_discount_percent = 15;
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 15);
  s.max_discount_percent = 30;
  s.recent = {"[2026-11-20 14:03] Contact: \"o concorrente tá 25% mais barato\""};
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 25);
  // The fact extractor's wording.
  s.recent = {};
  s.facts = {"- [objection] Concorrente oferece preço 22% menor (confidence 0.90)"};
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 22);
  // A percentage that is not a price gap.
  s.facts = {"- [goal] Quer crescer 50% em vendas (confidence 0.80)"};
  CHECK(Args(Complete(Build(s))).at("discount_percent").as_int64() == 20);
}

TEST_CASE("OfflineChatModel: a new customer gets no offer but a question", "[agents]") {
  Scenario s;
  s.customer_days = 10;
  s.pipeline_stage = "active_customer (10 days)";
  const auto req = Build(s);
  const auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(Has(r.content, "Leonardo"));
  CHECK(Has(r.content, "cancelar"));
  CheckGrounded(req, r);
}

TEST_CASE("OfflineChatModel: tenure comes from the profile only - days in a stage are not tenure",
          "[agents]") {
  Scenario s;
  s.customer_days.reset();
  s.pipeline_stage = "lead (45 days)";
  CHECK(Complete(Build(s)).tool_calls.empty());
  s.pipeline_stage = "";  // unknown: no offer
  CHECK(Complete(Build(s)).tool_calls.empty());
  s.customer_days = 45;
  CHECK(Complete(Build(s)).tool_calls.at(0).name == "create_retention_offer");
}

TEST_CASE("OfflineChatModel: no retention attempts left -> handoff to a human", "[agents]") {
  Scenario s;
  s.attempts_left = 0;
  const auto r = Complete(Build(s));
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].name == "handoff_to_human");
  CHECK(Args(r).at("reason").is_string());
}

TEST_CASE("OfflineChatModel: an active offer is recalled, not doubled", "[agents]") {
  Scenario s;
  s.active_offer = "\"25% for 2 months\"";
  const auto req = Build(s);
  const auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(Has(r.content, "25%"));
  CHECK(Has(r.content, "2 meses"));
  CheckGrounded(req, r);
}

TEST_CASE("OfflineChatModel: tools are called only when offered", "[agents]") {
  Scenario s;
  s.tools = {"handoff_to_human", "search_memory"};
  auto r = Complete(Build(s));
  CHECK(r.tool_calls.empty());
  CHECK_FALSE(r.content.empty());
  s.tools = {};
  s.user = "Quero falar com um atendente";
  r = Complete(Build(s));
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
}

TEST_CASE("OfflineChatModel: after the offer is created, the reply states it exactly", "[agents]") {
  auto req = Build(Scenario{});
  const auto first = Complete(req);
  AddResult(req, first.tool_calls.at(0), kOfferOk);
  const auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(Has(r.content, "30%"));
  CHECK(Has(r.content, "3 meses"));
  CHECK(Has(r.content, "Leonardo"));
  CHECK_FALSE(Has(r.content, "Souza"));  // first name only
  CheckGrounded(req, r);

  // The numbers come from the result, not from the call.
  auto other = Build(Scenario{});
  AddResult(other, first.tool_calls.at(0),
            R"({"ok":true,"offer_id":"o2","discount_percent":15,"duration_months":1})");
  const auto r2 = Complete(other);
  CHECK(Has(r2.content, "15%"));
  CHECK(Has(r2.content, "1 mês"));
  CheckGrounded(other, r2);
}

TEST_CASE("OfflineChatModel: an offer refused with escalate -> handoff, once", "[agents]") {
  auto req = Build(Scenario{});
  AddResult(req, Call("create_retention_offer", R"({"discount_percent":45,"duration_months":3})"),
            R"({"ok":false,"error":"discount 45% above the 30% limit: needs a supervisor",)"
            R"("escalate":true})");
  const auto r = Complete(req);
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].name == "handoff_to_human");
  CHECK(Has(json::value_to<std::string>(Args(r).at("reason")), "supervisor"));

  // The handoff done: a text reply, no second call.
  llm::ToolCall handoff = r.tool_calls[0];
  handoff.id = "call_1";
  AddResult(req, handoff, R"({"ok":true})");
  const auto done = Complete(req);
  CHECK(done.tool_calls.empty());
  CHECK(Has(done.content, "atendente humano"));
  CheckGrounded(req, done);
}

TEST_CASE("OfflineChatModel: an offer refused without escalate -> text", "[agents]") {
  auto req = Build(Scenario{});
  AddResult(req, Call("create_retention_offer", R"({"discount_percent":0,"duration_months":3})"),
            R"({"ok":false,"error":"discount 0% below the 1% minimum","escalate":false})");
  const auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK_FALSE(r.content.empty());
  CheckGrounded(req, r);
}

TEST_CASE("OfflineChatModel: an English message gets an English reply", "[agents]") {
  Scenario s;
  s.user = "I want to cancel my account, it's too expensive";
  auto req = Build(s);
  const auto first = Complete(req);
  REQUIRE(first.tool_calls.size() == 1);
  CHECK(first.tool_calls[0].name == "create_retention_offer");
  AddResult(req, first.tool_calls[0], kOfferOk);
  const auto r = Complete(req);
  CHECK(Has(r.content, "Hi, Leonardo"));
  CHECK(Has(r.content, "30% off for 3 months"));
  CheckGrounded(req, r);

  s.customer_days = 10;
  s.pipeline_stage = "";
  const auto text = Complete(Build(s));
  CHECK(text.tool_calls.empty());
  CHECK(Has(text.content, "Hi, Leonardo"));
}

TEST_CASE("OfflineChatModel: a request for a human -> handoff, in every category", "[agents]") {
  for (const std::string category : {"balanced", "support_billing", "sales_prospecting"}) {
    for (const std::string text :
         {"Quero falar com um atendente", "quero falar com uma pessoa, por favor",
          "I want a real person", "agent please"}) {
      INFO(category << ": " << text);
      Scenario s;
      s.category = category;
      s.user = text;
      const auto r = Complete(Build(s));
      REQUIRE(r.tool_calls.size() == 1);
      CHECK(r.tool_calls[0].name == "handoff_to_human");
    }
  }
}

TEST_CASE("OfflineChatModel: an urgent outage -> handoff when escalate_high_severity", "[agents]") {
  Scenario s;
  s.category = "support_technical";
  s.user = "URGENTE: o sistema está fora do ar";
  s.facts = {"- [technical_info] Erro 500 (confidence 0.95)"};
  CHECK(Complete(Build(s)).tool_calls.at(0).name == "handoff_to_human");

  s.escalate_high_severity = false;
  const auto req = Build(s);
  const auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(Has(r.content, "Erro 500"));
  CHECK(Has(r.content, "urgência"));
  CheckGrounded(req, r);
}

TEST_CASE("OfflineChatModel: a request to talk later -> schedule_followup", "[agents]") {
  Scenario s;
  s.category = "balanced";
  s.user = "Agora não dá, me chama amanhã";
  auto req = Build(s);
  const auto r = Complete(req);
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].name == "schedule_followup");
  const json::object args = Args(r);
  CHECK(args.at("delay_hours").as_int64() == 24);
  CHECK(args.at("note").is_string());
  AddResult(req, r.tool_calls[0], R"({"ok":true,"followup_id":"f1"})");
  const auto done = Complete(req);
  CHECK(Has(done.content, "amanhã"));
  CheckGrounded(req, done);

  s.user = "Can we talk next week?";
  CHECK(Args(Complete(Build(s))).at("delay_hours").as_int64() == 168);
  // "depois" alone is not a request to be contacted later.
  s.category = "support_technical";
  s.user = "depois que atualizei o app parou de abrir";
  CHECK(Complete(Build(s)).tool_calls.empty());
}

TEST_CASE("OfflineChatModel: a sales lead ready to buy -> negotiation stage", "[agents]") {
  Scenario s;
  s.category = "sales_prospecting";
  s.user = "Gostei, quero contratar o plano";
  s.facts = {"- [budget_constraint] Orçamento de R$ 5.000/mês (confidence 0.90)"};
  auto req = Build(s);
  const auto r = Complete(req);
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].name == "move_pipeline_stage");
  CHECK(json::value_to<std::string>(Args(r).at("stage")) == "negotiation");
  AddResult(req, r.tool_calls[0], R"({"ok":true,"stage":"negotiation"})");
  const auto done = Complete(req);
  CHECK(Has(done.content, "Orçamento de R$ 5.000/mês"));
  CheckGrounded(req, done);

  // Not in other categories.
  s.category = "balanced";
  CHECK(Complete(Build(s)).tool_calls.empty());
}

TEST_CASE("OfflineChatModel: a negated cue is no intent", "[agents]") {
  Scenario s;
  s.user = "Não quero cancelar, só tirar uma dúvida";
  CHECK(Complete(Build(s)).tool_calls.empty());
  s.user = "Não sei como cancelar minha conta";
  CHECK(Complete(Build(s)).tool_calls.at(0).name == "create_retention_offer");
}

TEST_CASE("OfflineChatModel: the same request gives the same answer", "[agents]") {
  const auto req = Build(Scenario{});
  const auto a = Complete(req);
  const auto b = Complete(req);
  CHECK(a.content == b.content);
  REQUIRE(a.tool_calls.size() == b.tool_calls.size());
  CHECK(a.tool_calls[0].arguments_json == b.tool_calls[0].arguments_json);
  CHECK(a.usage.total_tokens == b.usage.total_tokens);

  auto with_result = req;
  AddResult(with_result, a.tool_calls[0], kOfferOk);
  CHECK(Complete(with_result).content == Complete(with_result).content);
}

TEST_CASE("OfflineChatModel: usage counts a token per four characters, rounded up", "[agents]") {
  llm::ChatRequest req;
  req.messages.push_back(llm::ChatMessage::User("Oi"));  // no profile: a generic reply
  auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(r.usage.prompt_tokens == 1);
  CHECK(r.usage.completion_tokens == static_cast<int64_t>((Chars(r.content) + 3) / 4));
  CHECK(r.usage.cached_tokens == 0);
  CHECK(r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens);

  // Characters, not bytes: "ação" is four.
  req.messages[0].content = "ação";
  CHECK(Complete(req).usage.prompt_tokens == 1);
  req.messages[0].content = "cinco";
  CHECK(Complete(req).usage.prompt_tokens == 2);

  // A tool call: its arguments are the completion.
  const auto call_req = Build(Scenario{});
  size_t chars = 0;
  for (const auto& m : call_req.messages) chars += Chars(m.content);
  const auto call = Complete(call_req);
  CHECK(call.usage.prompt_tokens == static_cast<int64_t>((chars + 3) / 4));
  CHECK(call.usage.completion_tokens ==
        static_cast<int64_t>((call.tool_calls.at(0).arguments_json.size() + 3) / 4));
  CHECK(call.usage.total_tokens == call.usage.prompt_tokens + call.usage.completion_tokens);
}

TEST_CASE("OfflineChatModel: every text reply is grounded in its evidence", "[agents]") {
  struct Case {
    std::string category;
    std::string user;
    std::vector<std::string> facts;
    std::string result_tool;  // empty: no tool result
    std::string result;
  };
  const std::vector<std::string> tech = {"- [technical_info] Erro E-404 (confidence 0.95)",
                                         "- [technical_info] Versão 3.2 (confidence 0.70)"};
  const std::vector<std::string> budget = {
      "- [budget_constraint] Orçamento de até R$ 2.500,00/mês (confidence 0.90)"};
  const std::vector<Case> cases = {
      {"balanced", "Oi, tudo bem?", {}, "", ""},
      {"balanced", "Hello there", {}, "", ""},
      {"balanced", "achei caro", {}, "", ""},
      {"support_technical", "O app dá erro quando abro o relatório", tech, "", ""},
      {"support_technical", "The app crashes on the report screen", tech, "", ""},
      {"support_technical", "não consigo entrar", {}, "", ""},
      {"support_billing", "preciso da segunda via do boleto", {}, "", ""},
      {"support_billing", "I was charged twice", {}, "", ""},
      {"sales_prospecting", "quanto custa o plano para 10 usuários?", budget, "", ""},
      {"sales_prospecting", "how much is it for my team?", budget, "", ""},
      {"sales_prospecting", "quero contratar", budget, "move_pipeline_stage",
       R"({"ok":true,"stage":"negotiation"})"},
      {"retention_churn",
       "quero cancelar",
       {},
       "create_retention_offer",
       R"({"ok":true,"offer_id":"o9","discount_percent":20,"duration_months":3})"},
      {"retention_churn",
       "too expensive",
       {},
       "create_retention_offer",
       R"({"ok":true,"offer_id":"o9","discount_percent":12,"duration_months":6})"},
      {"retention_churn",
       "quero cancelar",
       {},
       "create_retention_offer",
       R"({"ok":true,"offer_id":"o9"})"},
      {"retention_churn",
       "quero cancelar",
       {},
       "create_retention_offer",
       R"({"ok":false,"error":"discount 45% above the 30% limit","escalate":true})"},
      {"retention_churn", "quero cancelar", {}, "handoff_to_human", R"({"ok":true})"},
      {"retention_churn",
       "quero cancelar",
       {},
       "handoff_to_human",
       R"({"ok":false,"error":"no human available"})"},
      {"balanced", "fala comigo semana que vem", {}, "schedule_followup", R"({"ok":true})"},
      {"balanced", "call me later", {}, "schedule_followup", R"({"ok":true})"},
      {"balanced", "fala comigo mais tarde", {}, "search_memory", R"({"ok":true,"hits":[]})"},
  };
  for (const Case& c : cases) {
    INFO(c.category << ": " << c.user << " / " << c.result);
    Scenario s;
    s.category = c.category;
    s.user = c.user;
    s.facts = c.facts;
    s.recent = {};
    auto req = Build(s);
    if (!c.result_tool.empty()) {
      AddResult(req, Call(c.result_tool), c.result);
      // A refused offer is followed by a handoff; answer it too.
      auto r = Complete(req);
      if (!r.tool_calls.empty()) AddResult(req, r.tool_calls[0], R"({"ok":true})");
    }
    const auto r = Complete(req);
    REQUIRE(r.tool_calls.empty());
    REQUIRE_FALSE(r.content.empty());
    CheckGrounded(req, r);
  }
}

TEST_CASE("OfflineChatModel: a support reply names the customer's error code", "[agents]") {
  Scenario s;
  s.category = "support_technical";
  s.user = "O relatório não abre";
  s.facts = {"- [technical_info] Erro 500 resolvido (confidence 0.70)",
             "- [technical_info] Erro E-404 (confidence 0.95)"};
  const auto req = Build(s);
  const auto r = Complete(req);
  CHECK(Has(r.content, "Erro E-404"));
  CheckGrounded(req, r);
}

TEST_CASE("OfflineChatModel: without an agent profile, a short generic reply and no tools",
          "[agents]") {
  llm::ChatRequest req;
  req.messages.push_back(llm::ChatMessage::System("You are a helpful assistant."));
  req.messages.push_back(llm::ChatMessage::User("Quero cancelar e falar com um atendente"));
  req.tools.push_back({.name = "handoff_to_human", .description = "", .parameters_json = "{}"});
  auto r = Complete(req);
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(Has(r.content, "Como posso ajudar"));
  req.messages[1].content = "Please summarize this conversation for me";
  CHECK(Has(Complete(req).content, "How can I help"));
}

TEST_CASE("OfflineChatModel: a request without a user message is invalid", "[agents]") {
  OfflineChatModel model;
  auto empty = model.Complete(llm::ChatRequest{});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == core::StatusCode::kInvalidArgument);
  CHECK(empty.status().message().rfind("offline/rules-v1", 0) == 0);

  llm::ChatRequest req = Build(Scenario{});
  req.messages.pop_back();
  auto r = model.Complete(req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == core::StatusCode::kInvalidArgument);
}

// A task request (AgentsService::Outreach / Qualify): the task in the profile, the memory, and a
// user message stating the task when `with_user`.
llm::ChatRequest TaskRequest(const std::string& task, const std::string& purpose, const Scenario& s,
                             bool with_user = false) {
  std::string p = "You write on behalf of Acme.\n\n=== AGENT PROFILE ===\n";
  p += "agent: Sales (prospecting)\ncategory: sales_prospecting\ncontact_id: 0193c0de\n";
  p += "task: " + task + "\n";
  if (!purpose.empty()) p += "purpose: " + purpose + "\n";
  llm::ChatRequest req;
  req.messages.push_back(llm::ChatMessage::System(p));
  req.messages.push_back(llm::ChatMessage::System(Memory(s)));
  if (with_user) req.messages.push_back(llm::ChatMessage::User("[task: " + task + "] go"));
  // Offered tools are not called by a task.
  req.tools.push_back({.name = "handoff_to_human", .description = "", .parameters_json = "{}"});
  return req;
}

json::object Answer(const llm::ChatResponse& r) {
  INFO("answer: " << r.content);
  json::value v = json::parse(r.content);
  REQUIRE(v.is_object());
  return v.as_object();
}

TEST_CASE(
    "OfflineChatModel: task outreach greets by first name, quotes one fact and asks - no user "
    "message needed",
    "[agents]") {
  Scenario s;
  s.recent = {"[2026-11-20 14:03] Contact: \"oi, queria saber dos planos\""};
  s.facts = {"- [objection] Competitor is 30% cheaper (confidence 0.85)",
             "- [budget_constraint] Orçamento de até R$ 2.500,00/mês (confidence 0.90)",
             "- [goal] Objetivo: automatizar o atendimento (confidence 0.80)"};
  const auto req = TaskRequest("outreach", "engagement", s);
  const auto r = Complete(req);
  INFO(r.content);
  CHECK(r.tool_calls.empty());
  CHECK(r.finish_reason == "stop");
  CHECK(r.content.rfind("Oi, Leonardo! ", 0) == 0);
  CHECK(Has(r.content, "\"Objetivo: automatizar o atendimento\""));
  CHECK_FALSE(Has(r.content, "2.500"));
  CHECK(r.content.back() == '?');
  CHECK(r.usage.completion_tokens == static_cast<int64_t>((Chars(r.content) + 3) / 4));
  CheckGrounded(req, r);
  // The user message, when sent (hosted models need one), changes nothing.
  CHECK(Complete(TaskRequest("outreach", "engagement", s, true)).content == r.content);

  // Without a goal, the budget exactly as the fact says (no number of its own).
  s.facts = {"- [budget_constraint] Orçamento de até R$ 2.500,00/mês (confidence 0.90)"};
  const auto req2 = TaskRequest("outreach", "engagement", s);
  const auto budget = Complete(req2);
  CHECK(Has(budget.content, "\"Orçamento de até R$ 2.500,00/mês\""));
  CheckGrounded(req2, budget);

  // Retention asks about a pain point first.
  s.facts = {"- [goal] Objetivo: vender mais (confidence 0.80)",
             "- [pain_point] Dor: suporte demora para responder (confidence 0.80)"};
  const auto retention = Complete(TaskRequest("outreach", "retention", s));
  CHECK(Has(retention.content, "Dor: suporte demora para responder"));
  CHECK(retention.content.back() == '?');
}

TEST_CASE(
    "OfflineChatModel: task outreach without facts or name is generic, in English for English "
    "messages",
    "[agents]") {
  Scenario s;
  s.name = "";
  s.facts = {"- [budget_constraint] Ainda não tem orçamento definido (confidence 0.50)"};
  s.recent = {"[2026-11-20 14:03] Contact: \"Hi, I would like to know more about your plans\"",
              "[2026-11-20 14:05] Agent: \"Olá! Claro, posso te ajudar\""};
  const auto req = TaskRequest("outreach", "engagement", s);
  const auto r = Complete(req);
  INFO(r.content);
  CHECK(r.content.rfind("Hi! ", 0) == 0);
  CHECK_FALSE(Has(r.content, "budget"));
  CHECK_FALSE(Has(r.content, "orçamento"));
  CHECK(r.content.back() == '?');
  CheckGrounded(req, r);
  const auto retention = Complete(TaskRequest("outreach", "retention", s));
  CHECK(Has(retention.content, "your experience with us"));
  // No contact messages: Portuguese.
  s.recent = {};
  CHECK(Complete(TaskRequest("outreach", "retention", s)).content.rfind("Oi! Tudo bem?", 0) == 0);
}

TEST_CASE("OfflineChatModel: task qualify answers BANT as JSON by the rules", "[agents]") {
  Scenario s;
  s.facts = {"- [budget_constraint] Orçamento de R$ 5.000 por mês (confidence 0.90)",
             "- [goal] Objetivo: automatizar o atendimento (confidence 0.80)"};
  auto r = Complete(TaskRequest("qualify", "", s));
  CHECK(r.tool_calls.empty());
  json::object a = Answer(r);
  CHECK(a.at("is_qualified").as_bool());
  CHECK(a.at("score").as_int64() == 50);
  CHECK(a.at("budget").as_bool());
  CHECK_FALSE(a.at("authority").as_bool());
  CHECK(a.at("need").as_bool());
  CHECK_FALSE(a.at("timeline").as_bool());
  CHECK(Has(std::string(a.at("reason").as_string()), "Orçamento de R$ 5.000 por mês"));
  CHECK(Has(std::string(a.at("reason").as_string()), "missing authority and timeline"));

  s.facts = {"- [personal_info] Cargo: diretor comercial (confidence 0.80)",
             "- [constraint] Prazo: fim do mês (confidence 0.80)",
             "- [constraint] Depende de aprovação: sócio (confidence 0.80)",
             "- [pain_point] Dor: perde leads no WhatsApp (confidence 0.80)"};
  a = Answer(Complete(TaskRequest("qualify", "", s)));
  CHECK(a.at("score").as_int64() == 75);
  CHECK_FALSE(a.at("is_qualified").as_bool());  // no budget
  CHECK(a.at("authority").as_bool());
  CHECK(a.at("timeline").as_bool());

  s.facts = {};
  a = Answer(Complete(TaskRequest("qualify", "", s)));
  CHECK(a.at("score").as_int64() == 0);
  CHECK_FALSE(a.at("is_qualified").as_bool());
  CHECK(a.size() == 7);
}

TEST_CASE("QualifyByRules: each BANT element from its facts", "[agents]") {
  const auto score = [](std::vector<BantFact> facts) { return QualifyByRules(facts); };
  CHECK(score({}).score == 0);
  CHECK(score({}).reason == "BANT 0/4: nothing known of budget, authority, need and timeline");
  // A budget that is not there is no budget.
  CHECK_FALSE(score({{"budget_constraint", "Ainda não tem orçamento definido"}}).budget);
  CHECK_FALSE(score({{"budget_constraint", "Has no defined budget yet"}}).budget);
  CHECK(score({{"budget_constraint", "Budget of up to $3,000"}}).budget);
  // Authority: a role or a decision maker, in personal or business facts only.
  CHECK(score({{"personal_info", "Role: head of sales"}}).authority);
  CHECK(score({{"business_info", "Sou o dono da empresa"}}).authority);
  CHECK_FALSE(score({{"personal_info", "Não sou o decisor"}}).authority);
  CHECK_FALSE(score({{"personal_info", "Nome: Leonardo"}}).authority);
  CHECK_FALSE(score({{"goal", "Cargo: gerente"}}).authority);
  // Need: pains, goals, preferences.
  CHECK(score({{"preference", "Canal preferido: WhatsApp"}}).need);
  // Timeline: a constraint with a deadline or timing, not any constraint.
  CHECK(score({{"constraint", "Tem urgência"}}).timeline);
  CHECK(score({{"constraint", "Deadline: March 31"}}).timeline);
  CHECK_FALSE(score({{"constraint", "Precisa integrar com SAP"}}).timeline);
  // Qualified: 50 or more with a budget.
  const BantScore all = score({{"budget_constraint", "Orçamento de R$ 5.000"},
                               {"personal_info", "Cargo: CEO"},
                               {"goal", "Objetivo: vender mais"},
                               {"constraint", "Prazo: até março"}});
  CHECK(all.score == 100);
  CHECK(all.is_qualified);
  CHECK(all.reason.rfind("BANT 4/4: budget: \"Orçamento de R$ 5.000\"; authority: ", 0) == 0);
  CHECK_FALSE(
      score({{"goal", "Objetivo: vender mais"}, {"personal_info", "Cargo: CEO"}}).is_qualified);
  CHECK(score({{"budget_constraint", "Orçamento de R$ 5.000"}}).score == 25);
  CHECK_FALSE(score({{"budget_constraint", "Orçamento de R$ 5.000"}}).is_qualified);
}

TEST_CASE("OfflineChatModel: a normal turn still needs a user message - an unknown task is none",
          "[agents]") {
  OfflineChatModel model;
  llm::ChatRequest req = TaskRequest("dance", "", Scenario{});
  auto r = model.Complete(req);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == core::StatusCode::kInvalidArgument);
  CHECK(model.Complete(TaskRequest("outreach", "engagement", Scenario{})).ok());
}

TEST_CASE("DetectLanguage: Portuguese or English, Portuguese when unsure", "[agents]") {
  CHECK(DetectLanguage("Quero cancelar minha conta, muito caro") == "pt");
  CHECK(DetectLanguage("não funciona") == "pt");
  CHECK(DetectLanguage("preciso da segunda via") == "pt");
  CHECK(DetectLanguage("I want to cancel my account") == "en");
  CHECK(DetectLanguage("This is too expensive") == "en");
  CHECK(DetectLanguage("Hello, can you help me?") == "en");
  CHECK(DetectLanguage("") == "pt");
  CHECK(DetectLanguage("ok") == "pt");
  CHECK(DetectLanguage("12345") == "pt");
}

}  // namespace
}  // namespace ventros::agents
