// The offline model. Beyond the contract in offline_model.hpp:
//
// Reading. System messages are read line by line for the sections "=== NAME ===" of the
// contract; profile lines missing from the AGENT PROFILE take the defaults of Constraints.
// customer_days comes from the profile only (a lead's days in its stage are no tenure). The turn is
// the last user message and what follows it: the tools already called (assistant tool_calls) and
// their results (tool messages, matched by name or by tool_call_id). Results of earlier turns are
// ignored.
//
// Intents: folded phrase lists (Portuguese and English) matched on word boundaries. A cue is
// negated when "não"/"not"/"nunca"/"never"/"nem" (or the "t" of "don't") stands at most three
// words before it with no "como"/"sei"/"how"/"know" between ("não quero cancelar" is no
// cancellation, "não sei como cancelar" is one). "depois" alone is too common in support
// messages ("depois que atualizei, parou") to mean "call me later": only phrases such as "me
// chama depois" or "falamos depois" do. Delays: amanhã/tomorrow 24 h, next week 168 h, later 4 h.
//
// Competitor gap: a percentage ("30%", "30 por cento", "30 percent") with a cheaper word
// ("barato", "menor", "cheaper", "lower", "less") within four words, or with a discount word when
// the text names a competitor. Searched in the customer's message, then the memory facts, then
// the recent contact messages from the newest; the first one found counts.
//
// Decisions, in order, with tool results absent: a human request, an urgent message (when
// escalate_high_severity), retention (cancellation or price objection), a follow-up request, a
// buy intent in sales_prospecting; each only when its tool is offered and not yet called in the
// turn. One tool call per answer. With tool results present: handoff_to_human after a refused
// offer with escalate=true (when offered and not yet called), else text.
//
// Replies state numbers only from the tool results (the offer), the profile (the active offer)
// and the fact texts quoted as they are (budget, error code), so the groundedness guardrail
// passes on every reply.
//
// Tasks (offline_model.hpp) read the profile and the memory context only: the user message, if
// any, is not read, and no tool is called. Outreach quotes the first fact of the first type found
// in order goal, pain_point, budget_constraint (retention: pain_point, goal, budget_constraint);
// its language is that of the contact's recent messages taken together (Portuguese when there
// are none). Usage counts Unicode code points: the prompt is the content and the tool
// call arguments of every message, the completion the reply plus the arguments of its calls.

#include "ventros/agents/offline_model.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "ventros/agents/templates.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::agents {
namespace {

namespace json = boost::json;
using std::string_view_literals::operator""sv;

constexpr int kMinCustomerDays = 30;  // retention offers only to customers of this many days
constexpr int kDefaultDiscount = 20;  // when no competitor gap is known
constexpr int kOfferMonths = 3;       // before the max_offer_months cap
constexpr int kMaxGapPercent = 100;
constexpr int kTomorrowHours = 24;
constexpr int kNextWeekHours = 7 * 24;
constexpr int kLaterHours = 4;
constexpr size_t kNegationWindow = 3;  // words before a cue that may negate it
constexpr size_t kGapWindow = 4;       // words between a percentage and a cheaper word
constexpr size_t kNoteChars = 200;     // bytes of the customer's text quoted in notes
constexpr int kCharsPerToken = 4;

constexpr std::string_view kOfferTool = "create_retention_offer";
constexpr std::string_view kHandoffTool = "handoff_to_human";
constexpr std::string_view kFollowupTool = "schedule_followup";
constexpr std::string_view kStageTool = "move_pipeline_stage";

// ------------------------------------------------------------------------------ text helpers

std::string_view Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::optional<int> ParseInt(std::string_view s) {
  s = Trim(s);
  int v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr == s.data()) return std::nullopt;
  return v;
}

// The integers written in a text, in order ("30% for 3 months" -> 30, 3).
std::vector<int> Integers(std::string_view s) {
  std::vector<int> out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] < '0' || s[i] > '9') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (auto v = ParseInt(s.substr(i, j - i))) out.push_back(*v);
    i = j;
  }
  return out;
}

size_t CodePoints(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

int64_t Tokens(size_t chars) {
  return static_cast<int64_t>((chars + kCharsPerToken - 1) / kCharsPerToken);
}

// At most `n` bytes, cut on a code point boundary.
std::string Clip(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// " w1 w2 w3 ": folded words, for phrase matching on word boundaries.
std::string Padded(std::string_view text) {
  std::string out = " ";
  for (const std::string& w : memory::Words(text)) out += w + " ";
  return out;
}

// A phrase (folded words separated by single spaces) in padded text, not negated.
bool HasCue(const std::string& padded, std::string_view phrase) {
  static constexpr std::array kNegators = {"nao"sv, "not"sv, "nunca"sv, "never"sv, "nem"sv, "t"sv};
  static constexpr std::array kUnnegators = {"como"sv, "sei"sv, "how"sv, "know"sv};
  const std::string needle = " " + std::string(phrase) + " ";
  for (size_t pos = padded.find(needle); pos != std::string::npos;
       pos = padded.find(needle, pos + 1)) {
    // Up to kNegationWindow words before the phrase, nearest first.
    std::vector<std::string_view> before;
    size_t end = pos;
    while (before.size() < kNegationWindow && end > 0) {
      const size_t start = padded.rfind(' ', end - 1);
      if (start == std::string::npos) break;
      const std::string_view w = std::string_view(padded).substr(start + 1, end - start - 1);
      if (!w.empty()) before.push_back(w);
      end = start;
    }
    bool negated = false;
    for (std::string_view w : before) {
      if (std::find(kUnnegators.begin(), kUnnegators.end(), w) != kUnnegators.end()) break;
      if (std::find(kNegators.begin(), kNegators.end(), w) != kNegators.end()) {
        negated = true;
        break;
      }
    }
    if (!negated) return true;
  }
  return false;
}

template <size_t N>
bool HasAny(const std::string& padded, const std::array<std::string_view, N>& phrases) {
  return std::any_of(phrases.begin(), phrases.end(),
                     [&](std::string_view p) { return HasCue(padded, p); });
}

// ------------------------------------------------------------------------------- the request

struct Fact {
  std::string type;
  std::string text;
};

struct Context {
  bool has_profile = false;
  std::string category;
  std::string task;     // outreach | qualify | empty (a turn)
  std::string purpose;  // outreach: engagement | retention
  Constraints limits;   // max_discount_percent, max_offer_months, escalate_high_severity
  std::optional<int> attempts_left;
  std::optional<int> customer_days;
  bool active_offer = false;
  std::optional<int> active_percent, active_months;
  std::string first_name;
  std::vector<Fact> facts;
  std::vector<std::string> contact_messages;  // recent messages of the contact, oldest first
};

void ProfileLine(std::string_view line, Context& ctx) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const std::string_view key = Trim(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (key == "category") {
    ctx.category = std::string(value);
  } else if (key == "task") {
    ctx.task = value == "outreach" || value == "qualify" ? std::string(value) : std::string();
  } else if (key == "purpose") {
    ctx.purpose = std::string(value);
  } else if (key == "max_discount_percent") {
    if (auto v = ParseInt(value)) ctx.limits.max_discount_percent = *v;
  } else if (key == "max_offer_months") {
    if (auto v = ParseInt(value)) ctx.limits.max_offer_months = *v;
  } else if (key == "retention_attempts_left") {
    ctx.attempts_left = ParseInt(value);
  } else if (key == "customer_days") {
    ctx.customer_days = ParseInt(value);
  } else if (key == "escalate_high_severity") {
    ctx.limits.escalate_high_severity = value != "false";
  } else if (key == "active_offer") {
    ctx.active_offer = !value.empty() && value != "none";
    const std::vector<int> numbers = Integers(value);
    if (ctx.active_offer && numbers.size() >= 2) {
      ctx.active_percent = numbers[0];
      ctx.active_months = numbers[1];
    }
  }
}

void ContactLine(std::string_view line, Context& ctx) {
  if (StartsWith(line, "Name:")) {
    const std::string_view name = Trim(line.substr(5));
    if (name.empty() || name.front() == '(') return;  // "(unknown)"
    ctx.first_name = std::string(name.substr(0, name.find(' ')));
  }
}

// "- [objection] Competitor is 30% cheaper (confidence 0.85, source session ...)"
void FactLine(std::string_view line, Context& ctx) {
  if (!StartsWith(line, "- [")) return;
  const size_t close = line.find(']');
  if (close == std::string_view::npos) return;
  Fact f;
  f.type = std::string(line.substr(3, close - 3));
  std::string_view text = line.substr(close + 1);
  const size_t conf = text.rfind(" (confidence");
  if (conf != std::string_view::npos) text = text.substr(0, conf);
  f.text = std::string(Trim(text));
  if (!f.text.empty()) ctx.facts.push_back(std::move(f));
}

// "[2026-11-20 14:03] Contact: "o concorrente tá 30% mais barato""
void RecentLine(std::string_view line, Context& ctx) {
  const size_t mark = line.find("] Contact: ");
  if (!StartsWith(line, "[") || mark == std::string_view::npos) return;
  std::string_view text = Trim(line.substr(mark + 11));
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  ctx.contact_messages.emplace_back(text);
}

void ReadSystem(std::string_view text, Context& ctx) {
  std::string_view section;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.size() >= 6 && StartsWith(line, "===") && line.substr(line.size() - 3) == "===") {
      section = Trim(line.substr(3, line.size() - 6));
      ctx.has_profile = ctx.has_profile || section == "AGENT PROFILE";
      continue;
    }
    if (section == "AGENT PROFILE") {
      ProfileLine(line, ctx);
    } else if (section == "CONTACT CONTEXT") {
      ContactLine(line, ctx);
    } else if (section == "MEMORY FACTS") {
      FactLine(line, ctx);
    } else if (section == "RECENT MESSAGES") {
      RecentLine(line, ctx);
    }
  }
}

struct Outcome {
  std::string tool;
  bool ok = true;
  bool escalate = false;
  std::string error;
  json::object result;
};

struct Turn {
  std::string user_text;         // the last user message
  std::set<std::string> called;  // tools called since it
  std::vector<Outcome> results;  // and their results, in order
};

Turn ReadTurn(const std::vector<llm::ChatMessage>& messages, size_t last_user) {
  Turn turn;
  turn.user_text = messages[last_user].content;
  std::map<std::string, std::string> call_names;  // tool_call_id -> tool
  for (size_t i = last_user + 1; i < messages.size(); ++i) {
    const llm::ChatMessage& m = messages[i];
    if (m.role == "assistant") {
      for (const llm::ToolCall& c : m.tool_calls) {
        turn.called.insert(c.name);
        call_names[c.id] = c.name;
      }
    } else if (m.role == "tool") {
      Outcome o;
      o.tool = m.name;
      if (o.tool.empty()) {
        auto it = call_names.find(m.tool_call_id);
        if (it != call_names.end()) o.tool = it->second;
      }
      boost::system::error_code ec;
      json::value v = json::parse(m.content, ec);
      if (!ec && v.is_object()) {
        o.result = std::move(v.as_object());
        const json::value* ok = o.result.if_contains("ok");
        o.ok = ok != nullptr && ok->is_bool() ? ok->get_bool() : !o.result.contains("error");
        const json::value* esc = o.result.if_contains("escalate");
        o.escalate = esc != nullptr && esc->is_bool() && esc->get_bool();
        const json::value* err = o.result.if_contains("error");
        if (err != nullptr && err->is_string()) o.error = std::string(err->get_string());
      }
      turn.results.push_back(std::move(o));
    }
  }
  return turn;
}

// ---------------------------------------------------------------------------------- intents

enum class Later { kNone, kTomorrow, kNextWeek, kLater };

struct Intents {
  bool cancel = false, price = false, human = false, urgent = false, buy = false;
  Later later = Later::kNone;
};

Intents Detect(std::string_view text) {
  static constexpr std::array kCancel = {"cancelar"sv,
                                         "cancelamento"sv,
                                         "cancela"sv,
                                         "cancelo"sv,
                                         "cancele"sv,
                                         "encerrar minha conta"sv,
                                         "encerrar a conta"sv,
                                         "encerrar meu contrato"sv,
                                         "encerrar o contrato"sv,
                                         "quero sair"sv,
                                         "vou sair"sv,
                                         "rescindir"sv,
                                         "cancel"sv,
                                         "cancellation"sv,
                                         "cancelling"sv,
                                         "canceling"sv,
                                         "close my account"sv,
                                         "terminate my"sv,
                                         "end my subscription"sv};
  static constexpr std::array kPrice = {
      "caro"sv,        "cara demais"sv, "preco"sv,      "precos"sv,   "mais barato"sv,
      "mais barata"sv, "valor alto"sv,  "expensive"sv,  "too much"sv, "cheaper"sv,
      "price"sv,       "pricing"sv,     "overpriced"sv, "costs too"sv};
  static constexpr std::array kHuman = {"atendente"sv,
                                        "humano"sv,
                                        "falar com alguem"sv,
                                        "falar com uma pessoa"sv,
                                        "pessoa de verdade"sv,
                                        "pessoa real"sv,
                                        "gerente"sv,
                                        "supervisor"sv,
                                        "human"sv,
                                        "real person"sv,
                                        "agent please"sv,
                                        "talk to someone"sv,
                                        "speak to someone"sv,
                                        "talk to a person"sv,
                                        "speak to a person"sv,
                                        "manager"sv,
                                        "representative"sv};
  static constexpr std::array kUrgent = {"urgente"sv,
                                         "urgencia"sv,
                                         "emergencia"sv,
                                         "fora do ar"sv,
                                         "parado"sv,
                                         "parada"sv,
                                         "nao funciona nada"sv,
                                         "nada funciona"sv,
                                         "sistema caiu"sv,
                                         "site caiu"sv,
                                         "app caiu"sv,
                                         "tudo caiu"sv,
                                         "down"sv,
                                         "outage"sv,
                                         "urgent"sv,
                                         "emergency"sv,
                                         "asap"sv,
                                         "not working at all"sv};
  static constexpr std::array kTomorrow = {"amanha"sv, "tomorrow"sv};
  static constexpr std::array kNextWeek = {"semana que vem"sv, "proxima semana"sv, "next week"sv};
  static constexpr std::array kLaterCues = {
      "mais tarde"sv,      "me chama depois"sv,    "chama depois"sv,   "falamos depois"sv,
      "fala depois"sv,     "conversamos depois"sv, "me liga depois"sv, "retorna depois"sv,
      "pode ser depois"sv, "depois a gente"sv,     "depois eu vejo"sv, "later"sv};
  static constexpr std::array kBuy = {
      "quero contratar"sv, "quero assinar"sv,    "quero comprar"sv,   "quero fechar"sv,
      "fechar negocio"sv,  "fechar o negocio"sv, "fechar contrato"sv, "fechar o contrato"sv,
      "vamos fechar"sv,    "como contrato"sv,    "sign up"sv,         "buy"sv,
      "purchase"sv,        "subscribe"sv,        "want to sign"sv};
  const std::string p = Padded(text);
  Intents in;
  in.cancel = HasAny(p, kCancel);
  in.price = HasAny(p, kPrice);
  in.human = HasAny(p, kHuman);
  in.urgent = HasAny(p, kUrgent);
  in.buy = HasAny(p, kBuy);
  in.later = HasAny(p, kTomorrow)    ? Later::kTomorrow
             : HasAny(p, kNextWeek)  ? Later::kNextWeek
             : HasAny(p, kLaterCues) ? Later::kLater
                                     : Later::kNone;
  return in;
}

// The competitor's price gap stated in a text (see the top of the file).
std::optional<int> PriceGap(std::string_view text) {
  static constexpr std::array kCheaper = {"barato"sv, "barata"sv,  "baratos"sv, "baratas"sv,
                                          "menor"sv,  "menores"sv, "cheaper"sv, "lower"sv,
                                          "less"sv,   "inferior"sv};
  static constexpr std::array kDiscount = {"desconto"sv, "discount"sv, "off"sv};
  static constexpr std::array kCompetitor = {"concorrente"sv, "concorrentes"sv, "concorrencia"sv,
                                             "competitor"sv,  "competitors"sv,  "competition"sv};
  // Folded tokens: words, numbers ("30", "12,5") and "%".
  const std::string folded = memory::Fold(text);
  std::vector<std::string> tok;
  for (size_t i = 0; i < folded.size();) {
    const auto c = static_cast<unsigned char>(folded[i]);
    const auto digit = [&](size_t k) {
      return k < folded.size() && folded[k] >= '0' && folded[k] <= '9';
    };
    if (digit(i)) {
      size_t j = i;
      while (digit(j) || ((folded[j] == '.' || folded[j] == ',') && digit(j + 1))) ++j;
      tok.emplace_back(folded.substr(i, j - i));
      i = j;
    } else if (c == '%') {
      tok.emplace_back("%");
      ++i;
    } else if ((c >= 'a' && c <= 'z') || c >= 0x80) {
      size_t j = i;
      while (j < folded.size() && ((folded[j] >= 'a' && folded[j] <= 'z') ||
                                   static_cast<unsigned char>(folded[j]) >= 0x80)) {
        ++j;
      }
      tok.emplace_back(folded.substr(i, j - i));
      i = j;
    } else {
      ++i;
    }
  }
  const auto in = [](const auto& list, const std::string& w) {
    return std::find(list.begin(), list.end(), w) != list.end();
  };
  const bool competitor =
      std::any_of(tok.begin(), tok.end(), [&](const std::string& w) { return in(kCompetitor, w); });
  for (size_t i = 0; i < tok.size(); ++i) {
    if (tok[i].empty() || tok[i][0] < '0' || tok[i][0] > '9') continue;
    size_t last = i;
    if (i + 1 < tok.size() && (tok[i + 1] == "%" || tok[i + 1] == "percent")) {
      last = i + 1;
    } else if (i + 2 < tok.size() && tok[i + 1] == "por" && tok[i + 2] == "cento") {
      last = i + 2;
    } else {
      continue;
    }
    const size_t from = i >= kGapWindow ? i - kGapWindow : 0;
    const size_t to = std::min(tok.size(), last + 1 + kGapWindow);
    bool cheaper = false;
    for (size_t k = from; k < to; ++k) {
      cheaper = cheaper || in(kCheaper, tok[k]) || (competitor && in(kDiscount, tok[k]));
    }
    const std::optional<int> gap = ParseInt(tok[i].substr(0, tok[i].find_first_of(".,")));
    if (cheaper && gap && *gap >= 1 && *gap <= kMaxGapPercent) return gap;
  }
  return std::nullopt;
}

std::optional<int> CompetitorGap(const Context& ctx, const Turn& turn) {
  if (auto gap = PriceGap(turn.user_text)) return gap;
  for (const Fact& f : ctx.facts) {
    if (auto gap = PriceGap(f.text)) return gap;
  }
  for (auto it = ctx.contact_messages.rbegin(); it != ctx.contact_messages.rend(); ++it) {
    if (auto gap = PriceGap(*it)) return gap;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------- replies

// A fact quoted in a reply, without a final period (the sentence adds its own).
std::string Quote(std::string_view text) {
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.remove_suffix(1);
  return std::string(text);
}

const Fact* FindFact(const Context& ctx, std::string_view type, bool with_digit) {
  for (const Fact& f : ctx.facts) {
    if (f.type != type) continue;
    if (with_digit && f.text.find_first_of("0123456789") == std::string::npos) continue;
    return &f;
  }
  return nullptr;
}

// The error code or technical fact worth mentioning: an open error first.
const Fact* TechnicalFact(const Context& ctx) {
  const Fact* any = nullptr;
  for (const Fact& f : ctx.facts) {
    if (f.type != "technical_info") continue;
    const std::string folded = memory::Fold(f.text);
    const bool fixed =
        folded.find("resolvido") != std::string::npos || folded.find("fixed") != std::string::npos;
    if (fixed) continue;
    if (StartsWith(folded, "erro") || StartsWith(folded, "error")) return &f;
    if (any == nullptr) any = &f;
  }
  return any;
}

std::string NumberText(const json::value* v) {
  if (v == nullptr) return {};
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_double()) {
    const double d = v->get_double();
    if (d == static_cast<double>(static_cast<int64_t>(d))) {
      return std::to_string(static_cast<int64_t>(d));
    }
    return json::serialize(*v);
  }
  return {};
}

class Writer {
 public:
  Writer(bool pt, const Context& ctx, const Intents& in) : pt_(pt), ctx_(ctx), in_(in) {}

  std::string Hello() const {
    if (ctx_.first_name.empty()) return Say("Oi! ", "Hi! ");
    return Say("Oi, ", "Hi, ") + ctx_.first_name + "! ";
  }
  // "Combinado, Leonardo! " / "Combinado! "
  std::string Opening(std::string_view pt, std::string_view en) const {
    std::string out(pt_ ? pt : en);
    if (!ctx_.first_name.empty()) out += ", " + ctx_.first_name;
    return out + "! ";
  }
  std::string Urgency() const {
    return in_.urgent ? Say("Entendo a urgência. ", "I understand this is urgent. ") : "";
  }

  std::string Months(const std::string& m) const {
    if (m == "1") return Say("1 mês", "1 month");
    return m + Say(" meses", " months");
  }

  std::string OfferMade(const Outcome& o) const {
    const std::string p = NumberText(o.result.if_contains("discount_percent"));
    const std::string m = NumberText(o.result.if_contains("duration_months"));
    std::string offer;
    if (!p.empty() && !m.empty()) {
      offer = Say("posso oferecer " + p + "% de desconto por " + Months(m),
                  "I can offer " + p + "% off for " + Months(m));
    } else {
      offer = Say("posso oferecer uma condição especial de desconto",
                  "I can offer you a special discount");
    }
    const std::string why = in_.cancel ? Say("Sinto muito que você esteja pensando em cancelar",
                                             "I'm sorry to hear you're "
                                             "thinking of cancelling")
                                       : Say("Entendo sua preocupação com o valor",
                                             "I understand your concern about the price");
    return Hello() + why + Say(": para você continuar com a gente, ", ": to keep you with us, ") +
           offer +
           Say(". Quer que eu aplique na sua conta?", ". Shall I apply it to your account?");
  }

  std::string OfferRefused(bool supervisor) const {
    const std::string first =
        supervisor ? Say("Essa condição precisa da aprovação de um supervisor, então não consigo "
                         "liberar por aqui agora. ",
                         "That offer needs a supervisor's approval, so I can't grant it here "
                         "right now. ")
                   : Say("Não consegui liberar essa oferta agora. ",
                         "I couldn't set up that offer right now. ");
    return Hello() + first + Ask();
  }

  std::string HandoffDone() const {
    return Hello() + Say("Vou transferir você para um atendente humano, que já vai ver o histórico "
                         "da nossa conversa. Só um instante, por favor.",
                         "I'm transferring you to a human agent, who will see our conversation "
                         "so far. Just a moment, please.");
  }

  std::string HandoffFailed() const {
    return Hello() + Say("Não consegui transferir você para um atendente agora, mas sigo aqui com "
                         "você. Me conta o que precisa?",
                         "I couldn't transfer you to a human agent right now, but I'm still "
                         "here. What do you need?");
  }

  std::string FollowupDone() const {
    std::string when;
    switch (in_.later) {
      case Later::kTomorrow:
        when = Say("amanhã", "tomorrow");
        break;
      case Later::kNextWeek:
        when = Say("na semana que vem", "next week");
        break;
      case Later::kLater:
        when = Say("mais tarde", "later");
        break;
      case Later::kNone:
        when = Say("em breve", "soon");
        break;
    }
    return Opening("Combinado", "Sounds good") +
           Say("Te chamo " + when + " para continuarmos a conversa.",
               "I'll get back to you " + when + " to continue our conversation.");
  }

  std::string StageMoved() const {
    std::string out = Opening("Ótimo", "Great") +
                      Say("Já registrei seu interesse e vou preparar a proposta para você.",
                          "I've noted your interest and I'll prepare the proposal for you.");
    if (const Fact* budget = FindFact(ctx_, "budget_constraint", true)) {
      out += Say(" Vou considerar o que você me passou: ",
                 " I'll take into account what you told me: ") +
             Quote(budget->text) + ".";
    }
    return out;
  }

  // The reply when no tool was called, by category and intent.
  std::string ByCategory() const {
    const std::string& cat = ctx_.category;
    if (in_.human) {
      return Hello() + Say("Entendi que você prefere falar com uma pessoa. Enquanto isso, me conta "
                           "o que precisa que eu tento resolver por aqui.",
                           "I understand you'd rather talk to a person. Meanwhile, tell me what "
                           "you need and I'll try to solve it here.");
    }
    if (cat == "support_technical") return Technical();
    if (cat == "support_billing") {
      return Hello() + Urgency() +
             Say("Posso te ajudar com faturas, segunda via de boleto e cobranças. Qual fatura ou "
                 "cobrança você quer ver?",
                 "I can help with invoices, a copy of your bill and charges. Which invoice or "
                 "charge would you like to check?");
    }
    if (cat == "sales_prospecting") return Sales();
    if (cat == "retention_churn" && (in_.cancel || in_.price)) {
      if (ctx_.active_offer) return ActiveOffer();
      return Hello() + Concern() + Ask();
    }
    if (in_.cancel || in_.price) return Hello() + Concern() + Ask();
    if (in_.urgent) return Technical();
    if (in_.later != Later::kNone) {
      return Opening("Combinado", "Sure") +
             Say("Quando for melhor para você, é só me chamar por aqui.",
                 "Whenever it suits you, just message me here.");
    }
    return Hello() + Say("Como posso te ajudar hoje?", "How can I help you today?");
  }

 private:
  std::string Say(std::string_view pt, std::string_view en) const {
    return std::string(pt_ ? pt : en);
  }

  std::string Concern() const {
    return in_.cancel ? Say("Sinto muito que você esteja pensando em cancelar. ",
                            "I'm sorry to hear you're thinking of cancelling. ")
                      : Say("Entendo sua preocupação com o valor. ",
                            "I understand your concern about the price. ");
  }
  std::string Ask() const {
    return Say(
        "Pode me contar o que mais pesa na sua decisão? Quero encontrar uma solução para "
        "você.",
        "Can you tell me what weighs most in your decision? I want to find a solution for "
        "you.");
  }

  std::string ActiveOffer() const {
    if (ctx_.active_percent && ctx_.active_months) {
      const std::string p = std::to_string(*ctx_.active_percent);
      const std::string m = Months(std::to_string(*ctx_.active_months));
      return Hello() + Say("Você já tem uma oferta ativa: " + p + "% de desconto por " + m +
                               ". Quer que eu te explique como aproveitar?",
                           "You already have an active offer: " + p + "% off for " + m +
                               ". Would you like me to explain how to use it?");
    }
    return Hello() + Say("Você já tem uma oferta ativa na sua conta. Quer que eu te explique como "
                         "aproveitar?",
                         "You already have an active offer on your account. Would you like me "
                         "to explain how to use it?");
  }

  std::string Technical() const {
    if (const Fact* f = TechnicalFact(ctx_)) {
      return Hello() + Urgency() +
             Say("Vi aqui no seu histórico: " + Quote(f->text) +
                     ". Pode me dizer em que tela isso acontece, desde quando, e mandar um print "
                     "se puder?",
                 "I see this in your history: " + Quote(f->text) +
                     ". Can you tell me on which screen it happens, since when, and send a "
                     "screenshot if you can?");
    }
    return Hello() + Urgency() +
           Say("Pode me contar o que está acontecendo, em que tela e desde quando? Se puder, "
               "mande um print do erro.",
               "Can you tell me what is happening, on which screen and since when? If you can, "
               "send a screenshot of the error.");
  }

  std::string Sales() const {
    std::string out =
        Hello() + (in_.buy ? Say("Que ótimo que você quer seguir com a gente! ",
                                 "Great that you want to move forward with us! ")
                           : Say("Obrigado pelo interesse! ", "Thanks for your interest! "));
    if (const Fact* budget = FindFact(ctx_, "budget_constraint", true)) {
      return out + Say("Anotei o que você me passou: ", "I've noted what you told me: ") +
             Quote(budget->text) +
             Say(". Posso te mostrar o plano que melhor se encaixa?",
                 ". Shall I show you the plan that fits best?");
    }
    return out + Say("Me conta um pouco sobre a sua empresa e o que você precisa, que eu te "
                     "mostro o plano ideal.",
                     "Tell me a bit about your company and what you need, and I'll show you the "
                     "right plan.");
  }

  bool pt_;
  const Context& ctx_;
  const Intents& in_;
};

// The text reply once tool results are in: the most telling outcome of the turn.
std::string AfterTools(const Writer& w, const Turn& turn) {
  const auto find = [&](std::string_view tool, bool ok) -> const Outcome* {
    for (auto it = turn.results.rbegin(); it != turn.results.rend(); ++it) {
      if (it->tool == tool && it->ok == ok) return &*it;
    }
    return nullptr;
  };
  if (find(kHandoffTool, true)) return w.HandoffDone();
  if (const Outcome* o = find(kOfferTool, true)) return w.OfferMade(*o);
  if (find(kFollowupTool, true)) return w.FollowupDone();
  if (find(kStageTool, true)) return w.StageMoved();
  if (const Outcome* o = find(kOfferTool, false)) return w.OfferRefused(o->escalate);
  if (find(kHandoffTool, false)) return w.HandoffFailed();
  return w.ByCategory();
}

// ------------------------------------------------------------------------------------ tasks

// A budget_constraint that states a budget, not its absence ("Ainda não tem orçamento definido").
bool StatesBudget(std::string_view text) {
  static constexpr std::array kNoBudget = {"nao tem orcamento"sv, "sem orcamento"sv,
                                           "nao ha orcamento"sv,  "no defined budget"sv,
                                           "no budget"sv,         "without a budget"sv};
  return !HasAny(Padded(text), kNoBudget);
}

bool NamesRole(std::string_view text) {
  static constexpr std::array kRole = {"cargo"sv,       "role"sv,         "decisor"sv,
                                       "decisora"sv,    "quem decide"sv,  "eu decido"sv,
                                       "decido"sv,      "decide"sv,       "decision maker"sv,
                                       "dono"sv,        "owner"sv,        "socio"sv,
                                       "socia"sv,       "partner"sv,      "fundador"sv,
                                       "fundadora"sv,   "founder"sv,      "ceo"sv,
                                       "cto"sv,         "cfo"sv,          "coo"sv,
                                       "diretor"sv,     "diretora"sv,     "director"sv,
                                       "gerente"sv,     "manager"sv,      "head"sv,
                                       "presidente"sv,  "president"sv,    "vp"sv,
                                       "coordenador"sv, "coordenadora"sv, "responsavel"sv,
                                       "in charge"sv};
  return HasAny(Padded(text), kRole);
}

bool NamesTiming(std::string_view text) {
  static constexpr std::array kTiming = {
      "prazo"sv,   "deadline"sv, "urgencia"sv, "urgente"sv, "urgent"sv, "ate"sv,
      "until"sv,   "by"sv,       "before"sv,   "antes"sv,   "timing"sv, "quando"sv,
      "when"sv,    "mes"sv,      "month"sv,    "semana"sv,  "week"sv,   "trimestre"sv,
      "quarter"sv, "ano"sv,      "year"sv,     "dias"sv,    "days"sv,   "go live"sv};
  return HasAny(Padded(text), kTiming);
}

std::string OutreachText(const Context& ctx) {
  std::string contact_text;
  for (const std::string& m : ctx.contact_messages) contact_text += m + "\n";
  const bool pt = DetectLanguage(contact_text) == "pt";
  const auto say = [pt](std::string_view p, std::string_view e) { return std::string(pt ? p : e); };
  const bool retention = ctx.purpose == "retention";
  std::string out =
      ctx.first_name.empty() ? say("Oi! ", "Hi! ") : say("Oi, ", "Hi, ") + ctx.first_name + "! ";
  out += say("Tudo bem? ", "How are you? ");
  static constexpr std::array kEngagement = {"goal"sv, "pain_point"sv, "budget_constraint"sv};
  static constexpr std::array kRetention = {"pain_point"sv, "goal"sv, "budget_constraint"sv};
  const Fact* fact = nullptr;
  for (std::string_view type : retention ? kRetention : kEngagement) {
    for (const Fact& f : ctx.facts) {
      if (f.type == type && (type != "budget_constraint" || StatesBudget(f.text))) {
        fact = &f;
        break;
      }
    }
    if (fact != nullptr) break;
  }
  if (fact != nullptr) {
    out += say("Fiquei pensando no que você me contou: \"",
               "I was thinking about what you told me: \"") +
           Quote(fact->text) + "\". ";
    return out + (retention ? say("Como estão as coisas por aí? Posso te ajudar com isso?",
                                  "How are things going? Can I help you with that?")
                            : say("Posso te mostrar como a gente pode te ajudar com isso?",
                                  "Can I show you how we can help you with that?"));
  }
  return out +
         (retention
              ? say("Passando para saber como está sua experiência com a gente. Tem algo que "
                    "eu possa fazer por você?",
                    "Just checking in on how your experience with us has been. Is there "
                    "anything I can do for you?")
              : say("Passando para saber se posso te ajudar. O que você está procurando hoje?",
                    "Just checking in to see if I can help. What are you looking for today?"));
}

std::string QualifyAnswer(const Context& ctx) {
  std::vector<BantFact> facts;
  facts.reserve(ctx.facts.size());
  for (const Fact& f : ctx.facts) facts.push_back({f.type, f.text});
  const BantScore b = QualifyByRules(facts);
  json::object o;
  o["is_qualified"] = b.is_qualified;
  o["score"] = b.score;
  o["budget"] = b.budget;
  o["authority"] = b.authority;
  o["need"] = b.need;
  o["timeline"] = b.timeline;
  o["reason"] = b.reason;
  return json::serialize(o);
}

// ------------------------------------------------------------------------------- tool calls

struct Call {
  std::string_view tool;
  json::object args;
};

std::optional<Call> Decide(const Context& ctx, const Turn& turn, const Intents& in,
                           const std::set<std::string_view>& offered) {
  const auto can = [&](std::string_view tool) {
    return offered.count(tool) > 0 && turn.called.count(std::string(tool)) == 0;
  };
  const auto handoff = [](std::string reason) {
    Call c{kHandoffTool, {}};
    c.args["reason"] = std::move(reason);
    return c;
  };
  if (!turn.results.empty()) {
    for (const Outcome& o : turn.results) {
      if (o.tool == kOfferTool && !o.ok && o.escalate && can(kHandoffTool)) {
        return handoff("retention offer refused by a guardrail" +
                       (o.error.empty() ? std::string() : ": " + o.error));
      }
    }
    return std::nullopt;
  }
  if (in.human && can(kHandoffTool)) return handoff("the customer asked for a human");
  if (in.urgent && ctx.limits.escalate_high_severity && can(kHandoffTool)) {
    return handoff("urgent or outage report: \"" + Clip(turn.user_text, kNoteChars) + "\"");
  }
  if (ctx.category == "retention_churn" && (in.cancel || in.price)) {
    // Tenure is what the profile says: no customer_days, not a customer (days in a lead stage
    // are no tenure).
    const std::optional<int> days = ctx.customer_days;
    if (ctx.attempts_left && *ctx.attempts_left <= 0) {
      if (can(kHandoffTool)) return handoff("retention: no retention attempts left");
    } else if (!ctx.active_offer && days && *days >= kMinCustomerDays && can(kOfferTool) &&
               ctx.limits.max_discount_percent >= 1 && ctx.limits.max_offer_months >= 1) {
      const std::optional<int> gap = CompetitorGap(ctx, turn);
      Call c{kOfferTool, {}};
      c.args["discount_percent"] =
          std::min(gap.value_or(kDefaultDiscount), ctx.limits.max_discount_percent);
      c.args["duration_months"] = std::min(kOfferMonths, ctx.limits.max_offer_months);
      std::string reason = in.cancel ? "cancellation request" : "price objection";
      reason += " from a customer of " + std::to_string(*days) + " days";
      if (gap) reason += "; competitor " + std::to_string(*gap) + "% cheaper";
      c.args["reason"] = std::move(reason);
      return c;
    }
  }
  if (in.later != Later::kNone && can(kFollowupTool)) {
    Call c{kFollowupTool, {}};
    c.args["delay_hours"] = in.later == Later::kTomorrow   ? kTomorrowHours
                            : in.later == Later::kNextWeek ? kNextWeekHours
                                                           : kLaterHours;
    c.args["note"] =
        "the customer asked to be contacted later: \"" + Clip(turn.user_text, kNoteChars) + "\"";
    return c;
  }
  if (ctx.category == "sales_prospecting" && in.buy && can(kStageTool)) {
    Call c{kStageTool, {}};
    c.args["stage"] = "negotiation";
    return c;
  }
  return std::nullopt;
}

}  // namespace

llm::Result<llm::ChatResponse> OfflineChatModel::Complete(const llm::ChatRequest& request) {
  if (request.messages.empty()) {
    return llm::Status::InvalidArgument(name() + ": a request without messages");
  }
  Context ctx;
  size_t prompt_chars = 0;
  for (const llm::ChatMessage& m : request.messages) {
    if (m.role == "system") ReadSystem(m.content, ctx);
    prompt_chars += CodePoints(m.content);
    for (const llm::ToolCall& c : m.tool_calls) prompt_chars += CodePoints(c.arguments_json);
  }
  const auto finish = [&](llm::ChatResponse out, size_t completion_chars) {
    out.usage.prompt_tokens = Tokens(prompt_chars);
    out.usage.completion_tokens = Tokens(completion_chars);
    out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    return out;
  };
  if (ctx.has_profile && !ctx.task.empty()) {
    llm::ChatResponse out;
    out.model = name();
    out.content = ctx.task == "outreach" ? OutreachText(ctx) : QualifyAnswer(ctx);
    out.finish_reason = "stop";
    const size_t completion_chars = CodePoints(out.content);
    return finish(std::move(out), completion_chars);
  }
  size_t last_user = request.messages.size();
  for (size_t i = request.messages.size(); i-- > 0;) {
    if (request.messages[i].role == "user") {
      last_user = i;
      break;
    }
  }
  if (last_user == request.messages.size()) {
    return llm::Status::InvalidArgument(name() + ": a request without a user message");
  }

  const Turn turn = ReadTurn(request.messages, last_user);
  const Intents in = Detect(turn.user_text);
  const Writer writer(DetectLanguage(turn.user_text) == "pt", ctx, in);

  llm::ChatResponse out;
  out.model = name();
  std::optional<Call> call;
  if (ctx.has_profile) {
    std::set<std::string_view> offered;
    for (const llm::ToolSpec& t : request.tools) offered.insert(t.name);
    call = Decide(ctx, turn, in, offered);
  }
  size_t completion_chars = 0;
  if (call) {
    llm::ToolCall c;
    c.id = "call_0";
    c.name = std::string(call->tool);
    c.arguments_json = json::serialize(call->args);
    completion_chars += CodePoints(c.arguments_json);
    out.tool_calls.push_back(std::move(c));
    out.finish_reason = "tool_calls";
  } else {
    if (!ctx.has_profile) {
      out.content = writer.Hello() + (DetectLanguage(turn.user_text) == "pt"
                                          ? "Obrigado pela mensagem. Como posso ajudar?"
                                          : "Thanks for your message. How can I help?");
    } else if (!turn.results.empty()) {
      out.content = AfterTools(writer, turn);
    } else {
      out.content = writer.ByCategory();
    }
    completion_chars += CodePoints(out.content);
    out.finish_reason = "stop";
  }
  return finish(std::move(out), completion_chars);
}

std::string DetectLanguage(std::string_view text) {
  static const std::set<std::string_view> kPt = {
      "nao",    "que",   "de",    "da",    "dos",    "das",     "para",     "pra",      "com",
      "uma",    "um",    "voce",  "vc",    "eu",     "meu",     "minha",    "muito",    "esta",
      "ta",     "estou", "sou",   "e",     "o",      "os",      "na",       "nas",      "ao",
      "por",    "mais",  "mas",   "quero", "queria", "preciso", "obrigado", "obrigada", "oi",
      "ola",    "tudo",  "bem",   "sim",   "isso",   "isto",    "como",     "onde",     "quando",
      "porque", "tem",   "vou",   "vai",   "ja",     "agora",   "aqui",     "seu",      "sua",
      "ele",    "ela",   "conta", "fazer", "pode",   "posso",   "amanha",   "hoje",     "boa",
      "bom",    "dia",   "tarde", "noite", "caro",   "preco",   "cancelar", "falar",    "sistema"};
  static const std::set<std::string_view> kEn = {
      "the",   "and",       "to",      "is",       "are",    "i",    "you",   "my",     "it",
      "for",   "of",        "this",    "that",     "please", "want", "can",   "not",    "don",
      "hi",    "hello",     "thanks",  "thank",    "with",   "what", "how",   "why",    "when",
      "where", "account",   "need",    "would",    "like",   "your", "we",    "our",    "have",
      "has",   "be",        "was",     "will",     "just",   "too",  "much",  "very",   "cancel",
      "price", "expensive", "cheaper", "tomorrow", "week",   "next", "human", "person", "help",
      "there", "get",       "does",    "am",       "at",     "an",   "if",    "they"};
  int pt = 0, en = 0;
  for (const std::string& w : memory::Words(text)) {
    pt += kPt.count(w) > 0 ? 1 : 0;
    en += kEn.count(w) > 0 ? 1 : 0;
  }
  // Accented Latin letters (ã, ç, é, ...) are Portuguese evidence.
  for (char c : text) pt += static_cast<unsigned char>(c) == 0xC3 ? 1 : 0;
  return en > pt ? "en" : "pt";
}

BantScore QualifyByRules(std::span<const BantFact> facts) {
  constexpr int kPerElement = 25;
  constexpr int kQualifyingScore = 50;
  static constexpr std::array kLabels = {"budget"sv, "authority"sv, "need"sv, "timeline"sv};
  BantScore b;
  std::array<bool*, kLabels.size()> present = {&b.budget, &b.authority, &b.need, &b.timeline};
  std::array<std::string, kLabels.size()> evidence;  // the first fact of each element
  for (const BantFact& f : facts) {
    const std::array<bool, kLabels.size()> gives = {
        f.type == "budget_constraint" && StatesBudget(f.text),
        (f.type == "personal_info" || f.type == "business_info") && NamesRole(f.text),
        f.type == "pain_point" || f.type == "goal" || f.type == "preference",
        f.type == "constraint" && NamesTiming(f.text)};
    for (size_t i = 0; i < kLabels.size(); ++i) {
      if (!gives[i] || *present[i]) continue;
      *present[i] = true;
      evidence[i] = Quote(f.text);
    }
  }
  std::vector<std::string> found, missing;
  for (size_t i = 0; i < kLabels.size(); ++i) {
    if (*present[i]) {
      found.push_back(std::string(kLabels[i]) + ": \"" + evidence[i] + "\"");
      b.score += kPerElement;
    } else {
      missing.emplace_back(kLabels[i]);
    }
  }
  b.is_qualified = b.score >= kQualifyingScore && b.budget;
  // "BANT 2/4: budget: "Orçamento de R$ 5.000"; need: "Quer automatizar"; missing authority and
  // timeline"
  std::string reason = "BANT " + std::to_string(found.size()) + "/4";
  for (size_t i = 0; i < found.size(); ++i) reason += (i == 0 ? ": " : "; ") + found[i];
  if (!missing.empty()) {
    reason += found.empty() ? ": nothing known of " : "; missing ";
    for (size_t i = 0; i < missing.size(); ++i) {
      reason += (i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ") + missing[i];
    }
  }
  b.reason = std::move(reason);
  return b;
}

}  // namespace ventros::agents
