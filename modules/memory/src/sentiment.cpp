// Lexicon-based sentiment in the manner of VADER (Hutto and Gilbert, 2014), for Portuguese and
// English customer messages.
//
// The text is folded (text.hpp) and read as words, emoji and clause boundaries (. , ; : ? ! and
// line breaks). It is not stemmed: the lexicon lists folded words and prefixes ("cancel*" covers
// cancelar, cancelamento, cancelled), which keeps apart words a stemmer would merge ("caro",
// expensive, and "cara", guy). Each word found in the lexicon contributes its valence (roughly
// -4..+4), adjusted by:
//   - intensifiers and diminishers among the three words before it ("muito caro", "um pouco
//     caro", "very good"), or "demais" right after it ("caro demais");
//   - a negation among the three words before it, within the clause ("não gostei", "nunca
//     funciona", "not good", "sem problemas"), which flips and damps it (x -0.74);
//   - a contrast ("mas", "but"): words before it count half, words after it one and a half.
// Emoji and emoticons add their own valence. Exclamation marks (up to four) push the total away
// from zero. The sum s is mapped into [-1, 1] by s / sqrt(s² + 15); a text with no sentiment word
// scores exactly 0.
//
// "no" negates only in text that reads as English: in Portuguese it means "in the".

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ventros/memory/text.hpp"

namespace ventros::memory {
namespace {

constexpr double kBoost = 0.293;        // VADER's intensifier increment
constexpr double kNegation = -0.74;     // VADER's negation scalar
constexpr double kExclamation = 0.292;  // per '!', at most kMaxExclamations
constexpr int kMaxExclamations = 4;
constexpr double kAlpha = 15;  // normalisation constant
constexpr int kWindow = 3;     // words looked back for intensifiers and negations
constexpr double kBeforeContrast = 0.5;
constexpr double kAfterContrast = 1.5;

// Lexicon entries as "word=valence", separated by spaces; a word ending in '*' is a prefix. Words
// are folded. Valence 0 entries stop a shorter prefix from matching ("funcionamento" is not
// "funciona").
constexpr std::string_view kPortuguesePositive =
    "otim*=3 excelent*=3.2 perfeit*=3 maravilh*=3.2 incrivel=2.8 incriveis=2.8 sensaciona*=3 "
    "fantastic*=3 espetacular=3 show=1.8 top=1.8 bom=1.9 boa=1.9 bons=1.9 boas=1.9 legal=1.8 "
    "bacana=2 lind*=2.3 gost*=2 gostaria=0 gostariamos=0 ador*=3 amei=3 amo=3 amou=3 amando=2.8 "
    "amor=2.5 feliz*=2.5 felicidade=2.5 content*=2 satisf*=2 obrigad*=1.5 brigadao=1.5 "
    "agradec*=1.8 grato=1.8 grata=1.8 gratidao=2 valeu=1.5 vlw=1.5 resolvid*=1.8 resolveu=1.8 "
    "resolveram=1.8 solucionad*=1.8 funciona*=1.2 funcionamento=0 funcionari*=0 rapid*=1.5 "
    "agil=1.5 eficien*=2 recomend*=2 parabens=2.5 facil=1.5 facilidade=1.5 pratico=1.3 "
    "pratica=1.3 ajudou=1.5 ajudaram=1.5 atencios*=2 educad*=1.5 gentil=2 gentileza=2 simpatic*=2 "
    "prestativ*=2 tranquil*=1 beleza=1.2 blz=1 melhor=1.5 melhores=1.5 sucesso=2 confiavel=2 "
    "certinho=1 caprich*=2 bem=1";
constexpr std::string_view kPortugueseNegative =
    "pessim*=-3.2 horrivel=-3 horriveis=-3 horroros*=-3 terrivel=-3 terriveis=-3 pior=-2.5 "
    "piores=-2.5 piorou=-2.5 piorar=-2 ruim=-2.2 ruins=-2.2 lixo=-3 porcaria=-2.8 merda=-3 "
    "bosta=-3 droga=-2 nojo*=-2.8 odio=-3 odeio=-3 odiei=-3 detest*=-3 irrita*=-2.3 chatead*=-2 "
    "chato=-1.8 chata=-1.8 chatice=-1.8 decepc*=-2.5 frustra*=-2.3 insatisf*=-2.3 fraud*=-3 "
    "golpe*=-2.8 golpista*=-3 roub*=-2.8 engan*=-2 mentir*=-2 absurd*=-2.5 ridicul*=-2.3 "
    "vergonh*=-2 descaso=-2.5 desrespeit*=-2.5 palhacada=-2.5 lent*=-1.2 lente=0 lentes=0 "
    "trava*=-1.5 travou=-1.5 bug*=-1.5 falh*=-1.8 quebr*=-1.8 defeito*=-2 estragad*=-2 "
    "estragou=-2 danificad*=-2 errad*=-1.5 erro=-1.5 erros=-1.5 problem*=-1.7 demor*=-1.5 "
    "atrasad*=-1.5 atraso*=-1.5 atrasou=-1.5 atrasa=-1.5 reclam*=-2 cancel*=-1.5 caro=-1.5 "
    "caros=-1.5 carissim*=-2 salgad*=-1.2 mal=-1.5 mau=-2 trist*=-2 raiva=-2.5 revoltad*=-2.5 "
    "indignad*=-2.5 aff*=-1.5 pqp=-2.5 cansad*=-1.2 cansei=-1.5 impossivel=-1.5 complicad*=-1.3 "
    "dificil=-1.3 dificuldade*=-1.3 confus*=-1.3 insuportavel=-2.8 inaceitavel=-2.8 desist*=-1.5 "
    "devolv*=-1 devolucao=-1 reembols*=-1 estorn*=-1 procon=-2.5 processar=-2 preocupad*=-1.5 "
    "medo=-1.5 perdi=-1.2 perdid*=-1.2 sumiu=-1.2 ineficien*=-2 inutil=-2.5";
constexpr std::string_view kEnglishPositive =
    "good=1.9 great=3.1 excellent=3.2 awesome=3.1 amazing=2.8 love*=3.2 loving=3 liked=1.8 "
    "thank*=1.9 thx=1.5 perfect*=3 happy=2.7 glad=2 nice=1.8 helpful=1.8 fast=1.2 quick*=1 "
    "easy=1.5 best=3 better=1.9 fixed=1.5 solved=1.8 resolved=1.8 works=1 working=1 wonderful=3 "
    "cool=1.5 brilliant=2.8 superb=3 pleased=2 enjoy*=2 appreciat*=2 friendly=2 smooth=1.5 "
    "reliable=2 efficient=2 outstanding=3 impressive=2.5 grateful=2";
constexpr std::string_view kEnglishNegative =
    "bad=-2.5 terrible=-3 awful=-3 horrible=-3 worst=-3.1 worse=-2.1 hate*=-2.7 expensive=-1.5 "
    "overpriced=-2 broken=-2 broke=-1.5 buggy=-2 error*=-1.5 fail*=-2 issue*=-1.2 slow*=-1.5 "
    "late=-1.2 delay*=-1.5 refund*=-1 scam*=-3 angry=-2.5 annoy*=-2 disappoint*=-2.3 useless=-2.5 "
    "poor*=-2 complain*=-2 wrong=-1.5 sad=-2 upset=-2 unacceptable=-2.5 rude=-2.3 crash*=-2 "
    "stuck=-1.5 lost=-1.2 missing=-1.2 damaged=-2 defective=-2 worthless=-2.5 sucks=-2.5 ugly=-2 "
    "mess=-1.8 nightmare=-2.8";

constexpr std::string_view kIntensifiers =
    "muito muita muitos muitas mt mto mta mtt super mega hiper ultra extremamente totalmente "
    "completamente absolutamente realmente bastante tao bem incrivelmente mais very really so "
    "extremely totally completely absolutely incredibly too highly truly";
constexpr std::string_view kDiminishers =
    "pouco meio quase levemente ligeiramente razoavelmente relativamente bit slightly somewhat "
    "kinda little barely fairly rather partly";
constexpr std::string_view kNegations =
    "nao nem nunca jamais sem nenhum nenhuma ninguem nada not never none nobody nothing without "
    "neither nor dont doesnt didnt isnt wasnt arent werent cant cannot wont couldnt wouldnt "
    "shouldnt don doesn didn isn wasn aren weren couldn wouldn shouldn haven hasn hadn ain";
constexpr std::string_view kContrasts = "mas porem entretanto contudo todavia but however";
// Words after "bom"/"good" that make a greeting, not praise.
constexpr std::string_view kGreetingWords = "dia tarde noite morning evening afternoon night";
// Function words that tell English from Portuguese, for the "no" rule.
constexpr std::string_view kEnglishMarkers =
    "the is are i you it this not and my was very to of but have with";
constexpr std::string_view kPortugueseMarkers =
    "o a de que e nao eu voce meu minha muito com para pra um uma do da na isso esta foi mas";
// Emoji and emoticons (folded: ":D" reads ":d"), "symbol=valence".
constexpr std::string_view kEmoji =
    "😀=2 😃=2 😄=2 😁=2 😆=1.8 😊=2 🙂=1.2 😉=1 "
    "😍=2.8 🥰=2.8 😘=2 🤩=2.5 😂=1.5 🤣=1.5 👍=1.8 👏=2 "
    "🙏=1.5 🎉=2 ❤=2.5 💙=2.5 💚=2.5 💛=2.5 💜=2.5 🧡=2.5 "
    "💖=2.5 💕=2.5 ✅=1.2 😎=1.5 🥳=2.5 💯=2 ⭐=1.5 🌟=1.5 "
    "☺=1.5 "
    "😡=-3 😠=-2.8 🤬=-3.2 👎=-2.2 😞=-2.2 😔=-1.8 😟=-1.8 🙁=-1.5 "
    "☹=-1.8 😢=-2.2 😭=-2.5 😤=-2.2 😒=-1.8 😩=-2.2 😫=-2.2 😖=-2 "
    "😣=-1.8 😕=-1.2 💩=-2 🤮=-2.8 🤢=-2.2 😑=-0.8 🙄=-1.5 😬=-0.8 "
    "💔=-2.5 ❌=-1.2 😰=-1.8 😱=-1.5";
constexpr std::string_view kEmoticons =
    ":-)=1.5 :)=1.5 =)=1.5 ;)=1 :d=2 <3=2.5 :-(=-1.8 :(=-1.8 =(=-1.8 :'(=-2.2";

// Decodes the code point at s[i] of valid UTF-8 (Fold's output), setting `len`.
char32_t DecodeFolded(std::string_view s, size_t i, size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
  if (i + len > s.size()) {
    len = 1;
    return 0;
  }
  char32_t cp = b0 & (0x3F >> (len - 1));
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// Calls fn(item) for each space-separated item of a table above.
template <typename Fn>
void ForEachItem(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    const size_t end = std::min(list.find(' '), list.size());
    if (end > 0) fn(list.substr(0, end));
    list.remove_prefix(std::min(end + 1, list.size()));
  }
}

// "word=valence" -> (word, valence); the last '=' splits, so the emoticon "=)" parses.
std::pair<std::string_view, double> ParseEntry(std::string_view item) {
  const size_t eq = item.rfind('=');
  if (eq == std::string_view::npos) return {item, 0};
  double valence = 0;
  std::from_chars(item.data() + eq + 1, item.data() + item.size(), valence);
  return {item.substr(0, eq), valence};
}

// The tables above, indexed. Immutable once built, so shared by all threads.
class Lexicon {
 public:
  Lexicon() {
    for (const std::string_view table :
         {kPortuguesePositive, kPortugueseNegative, kEnglishPositive, kEnglishNegative}) {
      ForEachItem(table, [this](std::string_view item) {
        const auto [word, valence] = ParseEntry(item);
        if (word.ends_with('*')) {
          prefix_.emplace(word.substr(0, word.size() - 1), valence);
        } else {
          exact_.emplace(word, valence);
        }
      });
    }
    ForEachItem(kIntensifiers, [this](std::string_view w) { boosters_.emplace(w, kBoost); });
    ForEachItem(kDiminishers, [this](std::string_view w) { boosters_.emplace(w, -kBoost); });
    ForEachItem(kNegations, [this](std::string_view w) { negations_.insert(w); });
    ForEachItem(kContrasts, [this](std::string_view w) { contrasts_.insert(w); });
    ForEachItem(kGreetingWords, [this](std::string_view w) { greetings_.insert(w); });
    ForEachItem(kEnglishMarkers, [this](std::string_view w) { english_.insert(w); });
    ForEachItem(kPortugueseMarkers, [this](std::string_view w) { portuguese_.insert(w); });
    ForEachItem(kEmoji, [this](std::string_view item) {
      const auto [symbol, valence] = ParseEntry(item);
      size_t len = 0;
      emoji_.emplace(DecodeFolded(symbol, 0, len), valence);
    });
    ForEachItem(kEmoticons,
                [this](std::string_view item) { emoticons_.push_back(ParseEntry(item)); });
  }

  // Exact entries first, then the longest prefix entry (at least three letters).
  double Valence(std::string_view word) const {
    if (auto it = exact_.find(word); it != exact_.end()) return it->second;
    for (size_t len = word.size(); len >= 3; --len) {
      if (auto it = prefix_.find(word.substr(0, len)); it != prefix_.end()) return it->second;
    }
    return 0;
  }
  double Boost(std::string_view word) const {
    auto it = boosters_.find(word);
    return it == boosters_.end() ? 0 : it->second;
  }
  bool IsNegation(std::string_view w) const { return negations_.contains(w); }
  bool IsContrast(std::string_view w) const { return contrasts_.contains(w); }
  bool IsGreeting(std::string_view w) const { return greetings_.contains(w); }
  bool IsEnglish(std::string_view w) const { return english_.contains(w); }
  bool IsPortuguese(std::string_view w) const { return portuguese_.contains(w); }
  double Emoji(char32_t cp) const {
    auto it = emoji_.find(cp);
    return it == emoji_.end() ? 0 : it->second;
  }
  const std::vector<std::pair<std::string_view, double>>& Emoticons() const { return emoticons_; }

 private:
  std::unordered_map<std::string_view, double> exact_;
  std::unordered_map<std::string_view, double> prefix_;
  std::unordered_map<std::string_view, double> boosters_;
  std::unordered_set<std::string_view> negations_;
  std::unordered_set<std::string_view> contrasts_;
  std::unordered_set<std::string_view> greetings_;
  std::unordered_set<std::string_view> english_;
  std::unordered_set<std::string_view> portuguese_;
  std::unordered_map<char32_t, double> emoji_;
  std::vector<std::pair<std::string_view, double>> emoticons_;
};

const Lexicon& TheLexicon() {
  static const Lexicon kLexiconTables;
  return kLexiconTables;
}

enum class Kind { kWord, kSymbol, kBoundary };

struct Token {
  Kind kind;
  std::string_view word;  // kWord
  double valence = 0;     // kSymbol: an emoji or emoticon
};

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool IsBoundary(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '?' || c == '!' || c == '\n';
}

// Words, emoji/emoticons and clause boundaries of folded text; counts '!'.
std::vector<Token> Tokenize(std::string_view s, const Lexicon& lexicon, int& exclamations) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsAlnum(c)) {
      size_t j = i;
      while (j < s.size() && IsAlnum(s[j])) ++j;
      tokens.push_back({Kind::kWord, s.substr(i, j - i)});
      i = j;
      continue;
    }
    if (c == ':' || c == ';' || c == '=' || c == '<') {
      bool matched = false;
      for (const auto& [text, valence] : lexicon.Emoticons()) {
        const size_t end = i + text.size();
        if (end > s.size() || s.substr(i, text.size()) != text) continue;
        // ":d" only as a whole token, so that "12:do" is no grin.
        if (text.back() != 'd' || end == s.size() || !IsAlnum(s[end])) {
          tokens.push_back({Kind::kSymbol, {}, valence});
          i = end;
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    size_t len = 1;
    const char32_t cp = DecodeFolded(s, i, len);
    if (const double v = lexicon.Emoji(cp); v != 0) {
      tokens.push_back({Kind::kSymbol, {}, v});
    } else if (IsBoundary(c)) {
      if (c == '!') ++exclamations;
      tokens.push_back({Kind::kBoundary, {}});
    }
    i += len;
  }
  return tokens;
}

bool IsLaughter(std::string_view w) {
  if (w.size() >= 3 && w.find_first_not_of('k') == std::string_view::npos) return true;  // kkkk
  return w.size() >= 4 && (w.starts_with("haha") || w.starts_with("hehe") ||
                           w.starts_with("rsrs") || w.starts_with("hihi"));
}

// The next word token after index i within the clause, or nullptr.
const Token* NextWord(const std::vector<Token>& tokens, size_t i) {
  return i + 1 < tokens.size() && tokens[i + 1].kind == Kind::kWord ? &tokens[i + 1] : nullptr;
}

}  // namespace

double Sentiment(std::string_view text) {
  const Lexicon& lexicon = TheLexicon();
  const std::string folded = Fold(text);
  int exclamations = 0;
  const std::vector<Token> tokens = Tokenize(folded, lexicon, exclamations);

  int english = 0;
  int portuguese = 0;
  size_t contrast = tokens.size();  // index of the last contrast word, if any
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != Kind::kWord) continue;
    english += lexicon.IsEnglish(tokens[i].word) ? 1 : 0;
    portuguese += lexicon.IsPortuguese(tokens[i].word) ? 1 : 0;
    if (lexicon.IsContrast(tokens[i].word)) contrast = i;
  }
  const bool no_negates = english > portuguese;

  double sum = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    double v = 0;
    if (t.kind == Kind::kSymbol) {
      v = t.valence;
    } else if (t.kind == Kind::kWord) {
      v = IsLaughter(t.word) ? 1.0 : lexicon.Valence(t.word);
      const Token* next = NextWord(tokens, i);
      // An intensifier that is also a word of its own ("bem") only intensifies when a sentiment
      // word follows; "bom dia" is a greeting.
      if (next != nullptr && ((lexicon.Boost(t.word) != 0 && lexicon.Valence(next->word) != 0) ||
                              ((t.word == "bom" || t.word == "boa" || t.word == "good") &&
                               lexicon.IsGreeting(next->word)))) {
        v = 0;
      }
      if (v != 0) {
        const double sign = v > 0 ? 1 : -1;
        bool negated = false;
        int seen = 0;
        for (size_t j = i; j-- > 0 && seen < kWindow;) {
          if (tokens[j].kind != Kind::kWord) break;  // a clause boundary or an emoji
          const std::string_view w = tokens[j].word;
          v += sign * lexicon.Boost(w) * (1.0 - 0.05 * seen);
          const bool wont =
              w == "won" && NextWord(tokens, j) != nullptr && NextWord(tokens, j)->word == "t";
          if (lexicon.IsNegation(w) || wont || (no_negates && w == "no")) negated = true;
          ++seen;
        }
        if (next != nullptr && next->word == "demais") v += sign * kBoost;
        if (negated) v *= kNegation;
      }
    }
    if (v == 0) continue;
    if (contrast < tokens.size()) v *= i < contrast ? kBeforeContrast : kAfterContrast;
    sum += v;
  }
  if (sum == 0) return 0;
  sum += (sum > 0 ? 1 : -1) * kExclamation * std::min(exclamations, kMaxExclamations);
  const double score = sum / std::sqrt(sum * sum + kAlpha);
  return std::clamp(score, -1.0, 1.0);
}

}  // namespace ventros::memory
