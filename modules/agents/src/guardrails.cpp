// Guardrails. The groundedness check reads a reply as a sequence of tokens (numbers, words,
// symbols, dates, times, codes) and turns each number into one claim by what stands around it:
//
//   money     a currency before or after it: "R$ 5.000", "R$5000,00", "$50", "US$ 20", "€ 10",
//             "5 mil reais", "50 dollars"; multipliers "mil", "thousand", "milhões", "million"
//             and a glued "k" ("5k") are applied, so "5 mil reais" is 5000;
//   percent   "30%", "30 %", "30 por cento", "30 percent";
//   offer     a percentage with desconto/discount/oferta/offer/oferecer/"off" within a few
//             tokens (the percent claim becomes an offer claim, it is not counted twice);
//   duration  a unit after it: "3 meses", "3 months", "12 dias", "24 horas", "30min";
//   date      "12/05", "12/05/2026", "2026-05-12" (a day/month pair also matches month/day);
//   time      "14:05", "14:05:30", "14h30": a claim of kind "time", supported only by the same
//             hour and minute in the evidence (a context line "[2026-11-20 14:05]" supports it);
//   number    anything else; bare 0 and 1 are not claims ("1 minuto" is: it has a unit).
//             Codes ("E404", "0x80070005", a version "3.2.1") are number claims too,
//             supported when the evidence holds the same code.
//
// Numbers are compared by value. Formats: '.' or ',' followed by exactly three digits is a
// thousands separator ("5.000" = "5,000" = 5000, "1.500" is fifteen hundred, Brazilian style);
// with both separators the last one is the decimal point ("5.000,00" = "5,000.00" = 5000);
// otherwise a single separator is a decimal point ("3,5" = "3.5").
//
// Evidence is read with the same lexer, and every number it states counts, with and without its
// multiplier ("5 mil" gives 5 and 5000), plus the digits inside its codes ("E404" states 404).
// Dates and times support only dates and times: the timestamps of the context ("[2026-11-20
// 14:03]") would otherwise support nearly every small number ("3 meses"). A claim of kind number,
// percent, money, duration or offer is supported when its value is among them, whatever the unit or
// currency next to it in the evidence: "discount_percent":30 in a tool result supports "30%" and
// "30% de desconto". Evidence that is a JSON object or array is walked: its numbers count as they
// are, its strings are read as text.

#include "ventros/agents/guardrails.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <optional>
#include <string_view>

#include "ventros/memory/text.hpp"

namespace ventros::agents {
namespace {

namespace json = boost::json;
using std::string_view_literals::operator""sv;

// Relative tolerance when comparing values ("12,50" and 12.5 are the same number).
constexpr double kTolerance = 1e-6;
// An offer word this many tokens before or after a percentage makes it an offer claim.
constexpr size_t kOfferWindow = 4;
constexpr int kMaxDay = 31, kMaxMonth = 12, kMaxHour = 23, kMaxMinute = 59;
constexpr int kCenturyBase = 2000;  // "12/05/26" is 2026

enum class Tok { kNumber, kWord, kSymbol, kDate, kTime, kCode };

struct Token {
  Tok kind = Tok::kSymbol;
  size_t begin = 0, end = 0;  // bytes of the text
  // word and code: folded; symbol: as written ("$", "%", "€"); number: the letters glued after
  // its digits, folded ("k" in "5k", "h" in "24h"), usually empty.
  std::string text;
  double raw = 0;    // number: the digits' value
  double value = 0;  // number: with a glued multiplier ("5k" = 5000)
  // date: first and second fields and the year (0 when absent); iso when written year first.
  // time: first = hour, second = minute.
  int first = 0, second = 0, year = 0;
  bool iso = false;
};

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool Near(double a, double b) {
  return std::fabs(a - b) <= kTolerance * std::max(1.0, std::fabs(a));
}

// Bytes of a non-ASCII sequence that is not part of a word at i: a separator (0 bytes of word,
// `space` set) or a symbol (its text). 0 when the byte at i belongs to a word.
struct Special {
  size_t len = 0;
  bool space = false;
  std::string_view symbol;
};

Special SpecialAt(std::string_view s, size_t i) {
  const auto at = [&](size_t k) {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const unsigned char c = at(0);
  if (c == 0xC2) {
    const unsigned char d = at(1);
    if (d == 0xA0) return {2, true, {}};                     // no-break space
    if (d == 0xA3) return {2, false, "£"};                   // pound sign
    if (d >= 0xA0 && d <= 0xBF && d != 0xAA && d != 0xBA) {  // «, », ¡, ¿, °, ...
      return {2, false, s.substr(i, 2)};                     // (ª and º are letters)
    }
  }
  if (c == 0xE2 && at(1) == 0x82 && at(2) == 0xAC) return {3, false, "€"};
  if (c == 0xE2 && at(1) == 0x80) {  // General Punctuation: dashes, quotes, spaces, ellipsis
    const unsigned char d = at(2);
    if (d <= 0x8F || d == 0xAF) return {3, true, {}};
    return {3, false, s.substr(i, 3)};
  }
  return {};
}

size_t Digits(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size() && IsDigit(s[j])) ++j;
  return j - i;
}

int Int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// Value of digits with '.' and ',' separators (see the top of the file); nullopt when the
// separators make no number ("1.2.3", "1,2.3,4").
std::optional<double> ParseNumber(std::string_view s) {
  std::vector<std::string_view> groups;
  std::string seps;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' || s[i] == ',') {
      groups.push_back(s.substr(start, i - start));
      seps += s[i];
      start = i + 1;
    }
  }
  groups.push_back(s.substr(start));
  const auto value_of = [&](size_t int_groups) {
    double v = 0;
    for (size_t g = 0; g < int_groups; ++g) {
      for (char c : groups[g]) v = v * 10 + (c - '0');
    }
    double scale = 1;
    for (size_t g = int_groups; g < groups.size(); ++g) {
      for (char c : groups[g]) {
        scale /= 10;
        v += (c - '0') * scale;
      }
    }
    return v;
  };
  if (seps.empty()) return value_of(1);
  const bool lead_ok = groups[0].size() <= 3 && !(groups[0].size() > 1 && groups[0][0] == '0');
  const auto thousands = [&](size_t from, size_t to) {  // groups [from, to) of three digits
    if (!lead_ok) return false;
    for (size_t g = from; g < to; ++g) {
      if (groups[g].size() != 3) return false;
    }
    return true;
  };
  const char last = seps.back();
  const bool mixed = seps.find(last == '.' ? ',' : '.') != std::string::npos;
  if (mixed) {
    // The last separator is the decimal point, used once; the others group thousands.
    if (std::count(seps.begin(), seps.end(), last) != 1) return std::nullopt;
    if (!thousands(1, groups.size() - 1)) return std::nullopt;
    return value_of(groups.size() - 1);
  }
  if (thousands(1, groups.size()) && groups[0] != "0") return value_of(groups.size());
  if (seps.size() == 1) return value_of(1);  // "3,5", "12.50"
  return std::nullopt;
}

bool ValidDayMonth(int day, int month) {
  return day >= 1 && day <= kMaxDay && month >= 1 && month <= kMaxMonth;
}

// The lexer. Whitespace (also no-break spaces) separates tokens and is not a token.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Token> Run() {
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        ++i_;
        continue;
      }
      if (c >= 0x80) {
        const Special sp = SpecialAt(s_, i_);
        if (sp.len > 0) {
          if (!sp.space) Push(Tok::kSymbol, i_, i_ + sp.len, std::string(sp.symbol));
          i_ += sp.len;
          continue;
        }
      }
      if (IsDigit(c)) {
        Number();
      } else if (IsAlpha(c) || c == '_' || c >= 0x80) {
        Word();
      } else {
        Push(Tok::kSymbol, i_, i_ + 1, std::string(1, static_cast<char>(c)));
        ++i_;
      }
    }
    return std::move(tokens_);
  }

 private:
  bool WordByte(size_t k) const {
    if (k >= s_.size()) return false;
    const auto c = static_cast<unsigned char>(s_[k]);
    if (c >= 0x80) return SpecialAt(s_, k).len == 0;
    return IsAlpha(c) || IsDigit(c) || c == '_';
  }
  char At(size_t k) const { return k < s_.size() ? s_[k] : '\0'; }

  Token& Push(Tok kind, size_t begin, size_t end, std::string text) {
    Token t;
    t.kind = kind;
    t.begin = begin;
    t.end = end;
    t.text = std::move(text);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  // A run of letters, digits and '_': a word, or a code when it holds a digit ("e404").
  void Word() {
    size_t j = i_;
    bool digit = false;
    while (WordByte(j)) {
      digit = digit || IsDigit(s_[j]);
      ++j;
    }
    Push(digit ? Tok::kCode : Tok::kWord, i_, j, memory::Fold(s_.substr(i_, j - i_)));
    i_ = j;
  }

  void Number() {
    const size_t d1 = Digits(s_, i_);
    size_t j = i_ + d1;
    // 2026-05-12
    if (d1 == 4 && At(j) == '-' && Digits(s_, j + 1) == 2 && At(j + 3) == '-' &&
        Digits(s_, j + 4) == 2) {
      const int month = Int(s_.substr(j + 1, 2)), day = Int(s_.substr(j + 4, 2));
      if (ValidDayMonth(day, month)) {
        Token& t = Push(Tok::kDate, i_, j + 6, std::string(s_.substr(i_, j + 6 - i_)));
        t.first = day, t.second = month, t.year = Int(s_.substr(i_, 4)), t.iso = true;
        i_ = j + 6;
        return;
      }
    }
    // 14:05, 14:05:30
    if (d1 <= 2 && At(j) == ':' && Digits(s_, j + 1) == 2) {
      const int hour = Int(s_.substr(i_, d1)), minute = Int(s_.substr(j + 1, 2));
      if (hour <= kMaxHour && minute <= kMaxMinute) {
        size_t end = j + 3;
        if (At(end) == ':' && Digits(s_, end + 1) == 2) end += 3;
        Token& t = Push(Tok::kTime, i_, end, std::string(s_.substr(i_, end - i_)));
        t.first = hour, t.second = minute;
        i_ = end;
        return;
      }
    }
    // 12/05, 12/05/2026, 12/05/26
    if (d1 <= 2 && At(j) == '/') {
      const size_t d2 = Digits(s_, j + 1);
      if (d2 >= 1 && d2 <= 2) {
        const int a = Int(s_.substr(i_, d1)), b = Int(s_.substr(j + 1, d2));
        size_t end = j + 1 + d2;
        int year = 0;
        if (At(end) == '/') {
          const size_t d3 = Digits(s_, end + 1);
          if (d3 == 2 || d3 == 4) {
            year = Int(s_.substr(end + 1, d3));
            if (d3 == 2) year += kCenturyBase;
            end += 1 + d3;
          }
        }
        if (ValidDayMonth(a, b) || ValidDayMonth(b, a)) {
          Token& t = Push(Tok::kDate, i_, end, std::string(s_.substr(i_, end - i_)));
          t.first = a, t.second = b, t.year = year;
          i_ = end;
          return;
        }
      }
    }
    // Digits with separators: "5.000,00".
    while ((At(j) == '.' || At(j) == ',') && IsDigit(At(j + 1))) j += 1 + Digits(s_, j + 1);
    const std::string_view digits = s_.substr(i_, j - i_);
    // Letters glued after the digits: "5k", "24h", "2nd", "1º"; "14h30" is a time; a run that
    // goes on with digits ("0x8007") is a code.
    size_t k = j;
    while (WordByte(k) && !IsDigit(s_[k])) ++k;
    const std::string suffix = memory::Fold(s_.substr(j, k - j));
    if (suffix == "h" && Digits(s_, k) == 2 && !WordByte(k + 2)) {
      const int hour = Int(digits), minute = Int(s_.substr(k, 2));
      if (digits.size() <= 2 && hour <= kMaxHour && minute <= kMaxMinute) {
        Token& t = Push(Tok::kTime, i_, k + 2, std::string(s_.substr(i_, k + 2 - i_)));
        t.first = hour, t.second = minute;
        i_ = k + 2;
        return;
      }
    }
    const std::optional<double> value = ParseNumber(digits);
    if (WordByte(k) || !value) {  // "0x80070005", "3.2.1", "v2"
      while (WordByte(k) || ((At(k) == '.' || At(k) == ',') && WordByte(k + 1))) ++k;
      Push(Tok::kCode, i_, k, memory::Fold(s_.substr(i_, k - i_)));
      i_ = k;
      return;
    }
    Token& t = Push(Tok::kNumber, i_, k, suffix);
    t.raw = *value;
    t.value = *value * (suffix == "k" || suffix == "mil" ? 1000 : 1);
    i_ = k;
  }

  std::string_view s_;
  size_t i_ = 0;
  std::vector<Token> tokens_;
};

template <size_t N>
bool In(const std::array<std::string_view, N>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

constexpr std::array kCurrencyPrefixWords = {"r"sv, "us"sv, "u"sv, "c"sv, "a"sv, "au"sv};
constexpr std::array kCurrencyCodes = {"usd"sv, "brl"sv, "eur"sv, "gbp"sv};
constexpr std::array kCurrencyWords = {"reais"sv,   "real"sv,   "dolares"sv, "dolar"sv,
                                       "dollars"sv, "dollar"sv, "euros"sv,   "euro"sv,
                                       "bucks"sv,   "usd"sv,    "brl"sv,     "eur"sv};
constexpr std::array kThousandWords = {"mil"sv, "thousand"sv};
constexpr std::array kMillionWords = {"milhao"sv, "milhoes"sv, "million"sv, "millions"sv, "mi"sv};
constexpr std::array kBillionWords = {"bilhao"sv, "bilhoes"sv, "billion"sv, "billions"sv, "bi"sv};
constexpr std::array kDurationUnits = {
    "segundo"sv, "segundos"sv, "minuto"sv, "minutos"sv, "min"sv,     "hora"sv,    "horas"sv,
    "h"sv,       "hs"sv,       "dia"sv,    "dias"sv,    "semana"sv,  "semanas"sv, "mes"sv,
    "meses"sv,   "ano"sv,      "anos"sv,   "second"sv,  "seconds"sv, "minute"sv,  "minutes"sv,
    "mins"sv,    "hour"sv,     "hours"sv,  "hrs"sv,     "day"sv,     "days"sv,    "week"sv,
    "weeks"sv,   "month"sv,    "months"sv, "year"sv,    "years"sv};
constexpr std::array kPercentWords = {"percent"sv, "pct"sv, "porcento"sv};
constexpr std::array kOfferWordPrefixes = {"descont"sv, "discount"sv, "ofert"sv,  "oferec"sv,
                                           "ofereç"sv,  "offer"sv,    "promoc"sv, "promo"sv};

bool OfferWord(std::string_view word) {
  if (word == "off") return true;
  return std::any_of(kOfferWordPrefixes.begin(), kOfferWordPrefixes.end(),
                     [&](std::string_view p) { return word.substr(0, p.size()) == p; });
}

struct Date {
  int day = 0, month = 0, year = 0;
};

// The readings of a date token: year first is unambiguous; a/b is day/month (Brazil) or
// month/day (US).
std::vector<Date> Readings(const Token& t) {
  std::vector<Date> out;
  if (t.iso) return {{t.first, t.second, t.year}};
  if (ValidDayMonth(t.first, t.second)) out.push_back({t.first, t.second, t.year});
  if (t.first != t.second && ValidDayMonth(t.second, t.first)) {
    out.push_back({t.second, t.first, t.year});
  }
  return out;
}

struct Evidence {
  std::vector<double> numbers;
  std::vector<Date> dates;
  std::vector<std::pair<int, int>> times;
  std::vector<std::string> codes;
  std::string folded;  // all evidence texts, folded and without hyphens, for codes ("E-404")

  void AddNumber(double v) { numbers.push_back(v); }

  void AddFolded(std::string_view text) {
    for (char c : memory::Fold(text)) {
      if (c != '-') folded += c;
    }
    folded += '\n';
  }

  // The numbers, dates, times and codes a text states.
  void Read(std::string_view text) {
    const std::vector<Token> tokens = Lexer(text).Run();
    for (size_t i = 0; i < tokens.size(); ++i) {
      const Token& t = tokens[i];
      switch (t.kind) {
        case Tok::kNumber: {
          AddNumber(t.raw);
          double v = t.value;
          if (i + 1 < tokens.size() && tokens[i + 1].kind == Tok::kWord) {
            const std::string& w = tokens[i + 1].text;
            if (In(kThousandWords, w)) v *= 1e3;
            if (In(kMillionWords, w)) v *= 1e6;
            if (In(kBillionWords, w)) v *= 1e9;
          }
          AddNumber(v);
          break;
        }
        case Tok::kDate:
          for (const Date& d : Readings(t)) dates.push_back(d);
          break;
        case Tok::kTime:
          times.emplace_back(t.first, t.second);
          break;
        case Tok::kCode: {
          codes.push_back(t.text);
          // The numbers inside a code: "e404" states 404.
          for (size_t k = 0; k < t.text.size();) {
            const size_t n = Digits(t.text, k);
            if (n == 0) {
              ++k;
              continue;
            }
            if (auto v = ParseNumber(t.text.substr(k, n))) AddNumber(*v);
            k += n;
          }
          break;
        }
        default:
          break;
      }
    }
  }

  void AddJson(const json::value& v) {
    switch (v.kind()) {
      case json::kind::int64:
        AddNumber(static_cast<double>(v.get_int64()));
        break;
      case json::kind::uint64:
        AddNumber(static_cast<double>(v.get_uint64()));
        break;
      case json::kind::double_:
        AddNumber(v.get_double());
        break;
      case json::kind::string:
        Read(v.get_string());
        break;
      case json::kind::array:
        for (const auto& e : v.get_array()) AddJson(e);
        break;
      case json::kind::object:
        for (const auto& kv : v.get_object()) AddJson(kv.value());
        break;
      default:
        break;
    }
  }

  void Add(std::string_view text) {
    const size_t start = text.find_first_not_of(" \t\r\n");
    if (start != std::string_view::npos && (text[start] == '{' || text[start] == '[')) {
      boost::system::error_code ec;
      const json::value v = json::parse(text, ec);
      if (!ec) {
        AddFolded(text);
        AddJson(v);
        return;
      }
    }
    AddFolded(text);
    Read(text);
  }

  bool HasNumber(double v) const {
    return std::any_of(numbers.begin(), numbers.end(), [&](double n) { return Near(n, v); });
  }
  bool HasDate(const Token& t) const {
    for (const Date& c : Readings(t)) {
      for (const Date& e : dates) {
        if (c.day == e.day && c.month == e.month &&
            (c.year == 0 || e.year == 0 || c.year == e.year)) {
          return true;
        }
      }
    }
    return false;
  }
  bool HasTime(int hour, int minute) const {
    return std::find(times.begin(), times.end(), std::make_pair(hour, minute)) != times.end();
  }
  bool HasCode(const std::string& code) const {
    return std::find(codes.begin(), codes.end(), code) != codes.end() ||
           folded.find(code) != std::string::npos;
  }
};

bool IsWord(const std::vector<Token>& t, size_t i, std::string_view w) {
  return i < t.size() && t[i].kind == Tok::kWord && t[i].text == w;
}
bool IsSymbol(const std::vector<Token>& t, size_t i, std::string_view s) {
  return i < t.size() && t[i].kind == Tok::kSymbol && t[i].text == s;
}

struct Found {
  Claim claim;
  double value = 0;
  const Token* token = nullptr;  // dates, times and codes
  size_t first = 0, last = 0;    // tokens of the claim
};

// The claims of a reply, in text order.
std::vector<Found> Claims(std::string_view reply, const std::vector<Token>& t) {
  std::vector<Found> out;
  const auto add = [&](std::string kind, size_t first, size_t last, double value,
                       const Token* token) {
    Found f;
    f.claim.kind = std::move(kind);
    f.claim.text = std::string(reply.substr(t[first].begin, t[last].end - t[first].begin));
    f.value = value;
    f.token = token;
    f.first = first;
    f.last = last;
    out.push_back(std::move(f));
  };
  for (size_t i = 0; i < t.size(); ++i) {
    switch (t[i].kind) {
      case Tok::kDate:
        add("date", i, i, 0, &t[i]);
        continue;
      case Tok::kTime:
        add("time", i, i, 0, &t[i]);
        continue;
      case Tok::kCode:
        add("number", i, i, 0, &t[i]);
        continue;
      case Tok::kNumber:
        break;
      default:
        continue;
    }
    size_t first = i, last = i;
    double value = t[i].value;
    bool money = false;
    // Currency before: "R$", "US$", "$", "€", "£", "USD".
    if (i > 0 && IsSymbol(t, i - 1, "$")) {
      money = true;
      first = i - 1;
      if (i > 1 && t[i - 2].kind == Tok::kWord && t[i - 2].end == t[i - 1].begin &&
          In(kCurrencyPrefixWords, t[i - 2].text)) {
        first = i - 2;
      }
    } else if (i > 0 && (IsSymbol(t, i - 1, "€") || IsSymbol(t, i - 1, "£") ||
                         (t[i - 1].kind == Tok::kWord && In(kCurrencyCodes, t[i - 1].text)))) {
      money = true;
      first = i - 1;
    }
    // Multiplier and currency after: "5 mil reais", "2 milhões de reais", "5€".
    size_t j = i + 1;
    if (j < t.size() && t[j].kind == Tok::kWord) {
      const std::string& w = t[j].text;
      const double mult = In(kThousandWords, w)  ? 1e3
                          : In(kMillionWords, w) ? 1e6
                          : In(kBillionWords, w) ? 1e9
                                                 : 1;
      if (mult > 1) {
        value *= mult;
        last = j++;
      }
    }
    const size_t after_de = IsWord(t, j, "de") ? j + 1 : j;
    if (after_de < t.size() && t[after_de].kind == Tok::kWord &&
        In(kCurrencyWords, t[after_de].text) && (after_de == j || last > i)) {
      money = true;
      last = after_de;
    } else if (IsSymbol(t, j, "€") || IsSymbol(t, j, "£")) {
      money = true;
      last = j;
    }
    if (money) {
      add("money", first, last, value, nullptr);
      i = last;
      continue;
    }
    if (IsSymbol(t, j, "%")) {
      add("percent", i, j, value, nullptr);
    } else if (IsWord(t, j, "por") && IsWord(t, j + 1, "cento")) {
      add("percent", i, j + 1, value, nullptr);
    } else if (IsWord(t, j, "per") && IsWord(t, j + 1, "cent")) {
      add("percent", i, j + 1, value, nullptr);
    } else if (j < t.size() && t[j].kind == Tok::kWord && In(kPercentWords, t[j].text)) {
      add("percent", i, j, value, nullptr);
    } else if (j < t.size() && t[j].kind == Tok::kWord && In(kDurationUnits, t[j].text)) {
      add("duration", i, j, value, nullptr);
    } else if (In(kDurationUnits, t[i].text)) {  // "30min", "24h"
      add("duration", i, last, value, nullptr);
    } else if (value == 0 || value == 1) {
      continue;  // bare 0 and 1: ordinary speech ("1 instante"), not claims
    } else {
      add("number", i, last, value, nullptr);
    }
    i = out.back().last;
  }
  // A percentage next to an offer word is an offer.
  for (Found& f : out) {
    if (f.claim.kind != "percent") continue;
    const size_t from = f.first >= kOfferWindow ? f.first - kOfferWindow : 0;
    const size_t to = std::min(t.size(), f.last + 1 + kOfferWindow);
    for (size_t k = from; k < to; ++k) {
      if (t[k].kind == Tok::kWord && OfferWord(t[k].text)) {
        f.claim.kind = "offer";
        break;
      }
    }
  }
  return out;
}

}  // namespace

Verdict CheckRetentionOffer(const Constraints& constraints, int discount_percent,
                            int duration_months, int attempts_used) {
  Verdict v;
  v.guardrail = "offer_limits";
  if (discount_percent < 1) {
    v.passed = false;
    v.reason = fmt::format("discount {}% below the 1% minimum", discount_percent);
    return v;
  }
  if (duration_months < 1) {
    v.passed = false;
    v.reason = fmt::format("duration of {} months below the 1 month minimum", duration_months);
    return v;
  }
  if (attempts_used >= constraints.max_retention_attempts) {
    v.guardrail = "retention_attempts";
    v.passed = false;
    v.escalate = true;
    v.reason = fmt::format("{} of {} retention offers already made: a human should take over",
                           attempts_used, constraints.max_retention_attempts);
    return v;
  }
  if (discount_percent > constraints.max_discount_percent) {
    v.passed = false;
    v.escalate = true;
    v.reason = fmt::format("discount {}% above the {}% limit: needs a supervisor", discount_percent,
                           constraints.max_discount_percent);
    return v;
  }
  if (duration_months > constraints.max_offer_months) {
    // Not escalated: a shorter offer is within the agent's reach.
    v.passed = false;
    v.reason = fmt::format("duration of {} months above the {} months limit", duration_months,
                           constraints.max_offer_months);
    return v;
  }
  return v;
}

Groundedness CheckGroundedness(std::string_view reply, std::span<const std::string> evidence,
                               double min_score) {
  Groundedness g;
  const std::vector<Token> tokens = Lexer(reply).Run();
  std::vector<Found> found = Claims(reply, tokens);
  if (found.empty()) {
    g.grounded = 1.0 >= min_score;
    return g;
  }
  Evidence ev;
  for (const std::string& text : evidence) ev.Add(text);
  size_t supported = 0;
  for (Found& f : found) {
    const std::string& kind = f.claim.kind;
    if (kind == "date") {
      f.claim.supported = ev.HasDate(*f.token);
    } else if (kind == "time") {
      f.claim.supported = ev.HasTime(f.token->first, f.token->second);
    } else if (f.token != nullptr) {  // a code
      f.claim.supported = ev.HasCode(f.token->text);
    } else {
      f.claim.supported = ev.HasNumber(f.value);
    }
    supported += f.claim.supported ? 1 : 0;
    g.claims.push_back(std::move(f.claim));
  }
  g.score = static_cast<double>(supported) / static_cast<double>(g.claims.size());
  g.grounded = g.score + kTolerance >= min_score;
  return g;
}

}  // namespace ventros::agents
