// Text analysis. The rules, chosen so that a word analyses the same way wherever it appears:
//
// Folding: UTF-8 is decoded; Latin-1 and Latin Extended-A letters are lower-cased and reduced to
// ASCII ("ç" -> "c", "Ã" -> "a", "ß" -> "ss"); combining accents (text typed in NFD) are dropped;
// any other valid code point is kept; invalid bytes are dropped. Customers type with and without
// accents ("não", "nao"), so everything downstream works on folded text.
//
// Words: runs of ASCII letters and digits, plus letters of other scripts (Greek, Cyrillic, CJK,
// ...); punctuation, symbols and emoji separate words. Numbers are kept whole where that is
// unambiguous: a '.' or ',' between digits followed by exactly three digits is a thousands
// separator ("5.000" -> "5000", Brazilian style: "1.500" is fifteen hundred); a fraction of zeros
// is dropped ("5.000,00" -> "5000"); any other fraction becomes its own word ("49,90" -> "49",
// "90"). A hyphen joins when either side holds a digit or is a single letter, which keeps codes
// whole ("E-404" -> "e404", "SKU-12" -> "sku12", "e-mail" -> "email", "9999-8888" ->
// "99998888"); other hyphens split ("segunda-feira" -> "segunda", "feira").
//
// Terms: words minus stop words (Portuguese and English; negations included: they carry no topic,
// and Sentiment() reads words, not terms), minus single letters, minus greetings ("bom dia", "boa
// noite", "good morning", which open most WhatsApp messages). Words holding a digit or a
// non-ASCII letter are kept unstemmed. Each remaining word is stemmed by ONE stemmer chosen from
// the word alone, never from the rest of the text: English when the word (or the word minus a
// plural "s"/"es") is in a compact English lexicon or shows English spelling (k, w, y, "th",
// "sh", "ph", "ck", "ee", "oo", or the endings -ing, -tion, -ness, -ment, -ly, -ed, -ful, -less,
// -ship, -able, -ible, -ous), Portuguese otherwise (most customers are Brazilian). A Portuguese
// word misread as English still gets the same term in every text, which is what matching needs.
// Before the Portuguese stemmer sees a folded word, the accents of the suffixes it keys on are
// put back ("reclamacao" -> "reclamação"), so that "reclamacao" and "reclamação" both stem to
// "reclam"; when the stemmer leaves a plural alone ("erros") the "s" is dropped and the word
// stemmed again. Stems are folded again at the end.

#include "ventros/memory/text.hpp"

#include <libstemmer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <unordered_set>

namespace ventros::memory {
namespace {

using std::string_view_literals::operator""sv;

// ---------------------------------------------------------------------------------------------
// UTF-8

constexpr char32_t kInvalid = 0xFFFFFFFF;

struct CodePoint {
  char32_t cp;  // kInvalid for a byte that starts no valid sequence
  size_t len;   // bytes consumed (1 for an invalid byte, so decoding resynchronises)
};

// Strict decoding: rejects overlong forms, surrogates and code points above U+10FFFF.
CodePoint Decode(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {kInvalid, 1};
  }
  if (i + len > s.size()) return {kInvalid, 1};
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kInvalid, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalid, 1};
  return {cp, len};
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ASCII base letter of U+00C0..U+00FF; '*' marks the two-letter foldings handled apart (Æ, Þ,
// ß), '-' the two symbols kept (× ÷).
constexpr std::string_view kLatin1Fold =
    "aaaaaa*ceeeeiiiidnooooo-ouuuuy**"
    "aaaaaa*ceeeeiiiidnooooo-ouuuuy*y";
static_assert(kLatin1Fold.size() == 64);

// ASCII base letter of U+0100..U+017F (Latin Extended-A); '*' marks Ĳ ĳ Œ œ.
constexpr std::string_view kLatinExtAFold =
    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkklllllll"
    "lllnnnnnnnnnoooooo**rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
static_assert(kLatinExtAFold.size() == 128);

bool IsAsciiAlnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Letters of scripts Fold() leaves alone count as word characters; symbols, punctuation and
// emoji do not.
bool IsWordCodePoint(char32_t cp) {
  if (cp < 0x80) return IsAsciiAlnum(static_cast<unsigned char>(cp));
  return (cp >= 0x0180 && cp <= 0x02AF) ||  // Latin Extended-B, IPA
         (cp >= 0x0370 && cp <= 0x1FFF) ||  // Greek, Cyrillic, ..., Latin Extended Additional
         (cp >= 0x3040 && cp <= 0x9FFF) ||  // kana, CJK
         (cp >= 0xAC00 && cp <= 0xD7AF) ||  // Hangul
         (cp >= 0xF900 && cp <= 0xFAFF);    // CJK compatibility
}

// Bytes of the word character at s[i] (s folded, so valid UTF-8), 0 for a separator.
size_t WordCharLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return IsAsciiAlnum(c) ? 1 : 0;
  const CodePoint d = Decode(s, i);
  return IsWordCodePoint(d.cp) ? d.len : 0;
}

void FoldInto(std::string_view text, std::string& out) {
  out.clear();
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A'))
                                         : static_cast<char>(c));
      ++i;
      continue;
    }
    const CodePoint d = Decode(text, i);
    i += d.len;
    const char32_t cp = d.cp;
    if (cp == kInvalid || (cp >= 0x0300 && cp <= 0x036F) || cp == 0x00AD) continue;
    if (cp >= 0x00C0 && cp <= 0x00FF) {
      const char f = kLatin1Fold[cp - 0xC0];
      if (f == '-') {
        AppendUtf8(out, cp);
      } else if (f == '*') {
        out.append(cp == 0xC6 || cp == 0xE6 ? "ae" : cp == 0xDF ? "ss" : "th");
      } else {
        out.push_back(f);
      }
    } else if (cp >= 0x0100 && cp <= 0x017F) {
      const char f = kLatinExtAFold[cp - 0x100];
      if (f == '*') {
        out.append(cp <= 0x0133 ? "ij" : "oe");
      } else {
        out.push_back(f);
      }
    } else if (cp == 0x00AA) {
      out.push_back('a');  // ordinal indicators: "1ª", "nº"
    } else if (cp == 0x00BA) {
      out.push_back('o');
    } else if (cp == 0x00A0) {
      out.push_back(' ');  // no-break space separates words like a space
    } else {
      AppendUtf8(out, cp);
    }
  }
}

// Splits folded text into words (rules at the top of the file), calling sink(word) with a view
// into `cur`, which is reused to avoid an allocation per word.
template <typename Sink>
void SplitWords(std::string_view s, std::string& cur, Sink&& sink) {
  cur.clear();
  bool has_alpha = false;
  bool has_digit = false;
  size_t chars = 0;
  auto emit = [&] {
    if (!cur.empty()) sink(std::string_view(cur));
    cur.clear();
    has_alpha = has_digit = false;
    chars = 0;
  };
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (const size_t len = WordCharLen(s, i); len > 0) {
      cur.append(s.data() + i, len);
      (IsDigit(s[i]) ? has_digit : has_alpha) = true;
      ++chars;
      i += len;
      continue;
    }
    const char c = s[i];
    if ((c == '.' || c == ',') && !cur.empty() && IsDigit(cur.back())) {
      size_t j = i + 1;
      bool zeros = true;
      for (; j < n && IsDigit(s[j]); ++j) zeros = zeros && s[j] == '0';
      const size_t digits = j - i - 1;
      if (digits == 3 && !has_alpha) {
        ++i;  // thousands separator: the digits join the number
        continue;
      }
      if (digits > 0 && zeros && (j == n || WordCharLen(s, j) == 0)) {
        i = j;  // "5000,00": the zero fraction adds nothing
        emit();
        continue;
      }
    } else if (c == '-' && !cur.empty() && i + 1 < n && WordCharLen(s, i + 1) > 0) {
      size_t j = i + 1;
      bool next_digit = false;
      size_t next_chars = 0;
      while (j < n) {
        const size_t len = WordCharLen(s, j);
        if (len == 0) break;
        next_digit = next_digit || IsDigit(s[j]);
        ++next_chars;
        j += len;
      }
      if (has_digit || chars == 1 || next_digit || next_chars == 1) {
        ++i;  // a code or a prefixed letter: "e-404", "e-mail"
        continue;
      }
    }
    emit();
    i += static_cast<unsigned char>(c) < 0x80 ? 1 : Decode(s, i).len;
  }
  emit();
}

// ---------------------------------------------------------------------------------------------
// Stop words and the English lexicon (folded forms).

using WordSet = std::unordered_set<std::string_view>;

// Word lists as text, one space between words; the sets hold views into these literals.
WordSet Split(std::initializer_list<std::string_view> lists) {
  WordSet words;
  for (std::string_view list : lists) {
    while (!list.empty()) {
      const size_t end = std::min(list.find(' '), list.size());
      if (end > 0) words.insert(list.substr(0, end));
      list.remove_prefix(std::min(end + 1, list.size()));
    }
  }
  return words;
}

constexpr std::string_view kPortugueseStopWords =
    "a o as os um uma uns umas de da do das dos em na no nas nos num numa dum duma por pelo pela "
    "pelos pelas para pra pro pras pros com sem e ou que se ao aos mas porem mais menos muito "
    "muita muitos muitas pouco pouca me te lhe lhes vos eu tu ele ela eles elas voce voces vc vcs "
    "meu minha meus minhas seu sua seus suas teu tua teus tuas nosso nossa nossos nossas dele "
    "dela deles delas este esta estes estas esse essa esses essas isto isso aquilo aquele aquela "
    "aqueles aquelas neste nesta nesse nessa nisso disso deste desta desse dessa qual quais "
    "quando onde como porque pq ja ainda so tambem tb tbm la aqui ai ali ser sou era foi fui sao "
    "seja sera estar estou estava estao esteve ter tem tenho tinha tive teve temos ha havia vai "
    "vou vamos ir nao nem nunca jamais sim ate apos entre sobre sob desde cada todo toda todos "
    "todas tudo outro outra outros outras mesmo mesma lo los las ne ta to oi ola opa bem entao "
    "tipo assim pode posso poderia gostaria tao quem cujo nenhum nenhuma algum alguma alguns "
    "algumas eh ah oh hein";

constexpr std::string_view kEnglishStopWords =
    "an the and or but if of at by for with about from in on into onto is are was were be been "
    "being am does did doing have has had having i my mine we us our ours you your yours he him "
    "his she her hers it its they them their theirs this that these those what which who whom "
    "whose where when why how there here than then too very can could will would shall should may "
    "might must just also not nor never don doesn didn isn aren wasn weren haven hasn hadn won "
    "wouldn couldn shouldn cant cannot dont t s ll re ve d m up out some any all each more most "
    "other such only own same again off once both few because until while yes hi hey hello ok "
    "okay im ive youre get got let";

// Common English words, content words above all, that carry no other English spelling cue; the
// stemmer choice needs them to send "refund" and "refunds" to the same stemmer. Words that are
// also Portuguese ("time", "data", "use", "total", "real", "favor") are left out on purpose.
constexpr std::string_view kEnglishLexicon =
    "account address after already always answer anyone anything around arrive arrived bad before "
    "best better big bill bought box broke broken bug buggy busy buy call called came cancel "
    "cancelation cancellation card care cart cash change changed charge charged cheap cheaper "
    "chat check choose clear close closed code cost costs coupon crash create credit customer "
    "damage damaged date dead deal debit delete deliver delivered delivery did different discount "
    "done down easy else email end enough error errors even ever every expensive fail failed fast "
    "fee fees find fine first fix fixed free friend full give given go goes gone good great "
    "guarantee happen happened happy hate help helped helpful hold home hope hour hours however "
    "idea invoice issue issues item items job keep kind know last late later least left less like "
    "liked line link little live login logout long look lost lot love loved made mail make many "
    "mean message minute minutes missing mistake money month months much name need needed new "
    "next nice night nothing now number offer old open opened order ordered orders over package "
    "paid password pay payment people phone place plan plans please poor price prices pricing "
    "problem problems product products purchase question quick quickly rate ready really reason "
    "receipt receive received refund refunds reply request return returned right said sale same "
    "save see sell send sent service services ship shipped shipping shop short sign since size "
    "slow small soon sorry start started still stop stopped store subscribe subscription support "
    "sure take taken tell terrible thank thanks thing things think though told tracking tried try "
    "turn understand update upgrade upset user wait waiting want wanted wants way week weeks well "
    "went wish without work worked working works worse worst wrong year years yesterday today "
    "tomorrow awful horrible amazing awesome excellent perfect scam fraud rude useless";

const WordSet& StopWords() {
  static const WordSet kWords = Split({kPortugueseStopWords, kEnglishStopWords});
  return kWords;
}

const WordSet& EnglishLexicon() {
  static const WordSet kWords = Split({kEnglishLexicon});
  return kWords;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The per-word stemmer choice (see the top of the file). `w` is folded ASCII letters.
bool LooksEnglish(std::string_view w) {
  const WordSet& lexicon = EnglishLexicon();
  if (lexicon.contains(w)) return true;
  if (w.size() > 3 && w.back() == 's' &&
      (lexicon.contains(w.substr(0, w.size() - 1)) ||
       (EndsWith(w, "es") && lexicon.contains(w.substr(0, w.size() - 2))))) {
    return true;
  }
  for (const char c : w) {
    if (c == 'k' || c == 'w' || c == 'y') return true;
  }
  for (const std::string_view pair : {"th"sv, "sh"sv, "ph"sv, "ck"sv, "ee"sv, "oo"sv}) {
    if (w.find(pair) != std::string_view::npos) return true;
  }
  static constexpr std::array kSuffixes = {"ing"sv,   "tion"sv, "tions"sv, "ness"sv, "ment"sv,
                                           "ments"sv, "ly"sv,   "ed"sv,    "ful"sv,  "less"sv,
                                           "ship"sv,  "able"sv, "ible"sv,  "ous"sv};
  for (const std::string_view suffix : kSuffixes) {
    if (w.size() >= suffix.size() + 3 && EndsWith(w, suffix)) return true;
  }
  return false;
}

// Folded Portuguese suffixes and their accented forms, which the Snowball Portuguese stemmer
// needs to recognise them. Longest first.
struct Restore {
  std::string_view folded;
  std::string_view accented;
};
constexpr std::array kRestore = {
    Restore{"encias", "ências"}, Restore{"ancias", "âncias"}, Restore{"aveis", "áveis"},
    Restore{"iveis", "íveis"},   Restore{"encia", "ência"},   Restore{"ancia", "ância"},
    Restore{"coes", "ções"},     Restore{"avel", "ável"},     Restore{"ivel", "ível"},
    Restore{"cao", "ção"},       Restore{"oes", "ões"},       Restore{"aes", "ães"},
    Restore{"ao", "ão"},
};

// libstemmer objects are not thread-safe, so each thread owns its pair; they live as long as the
// thread (a few KB), which beats creating them per call.
class Stemmers {
 public:
  Stemmers()
      : pt_(sb_stemmer_new("portuguese", "UTF_8")), en_(sb_stemmer_new("english", "UTF_8")) {}
  ~Stemmers() {
    sb_stemmer_delete(pt_);
    sb_stemmer_delete(en_);
  }
  Stemmers(const Stemmers&) = delete;
  Stemmers& operator=(const Stemmers&) = delete;

  // Stems `word` (folded) into `out`, reusing `scratch`.
  void Stem(std::string_view word, std::string& out, std::string& scratch) {
    if (word.size() < 3 || !StemmableAscii(word)) {
      out.assign(word);
      return;
    }
    if (LooksEnglish(word)) {
      Run(en_, word, out);
      return;
    }
    StemPortuguese(word, out, scratch);
    if (out == word && word.size() >= 4 && word.back() == 's' && word[word.size() - 2] != 's') {
      StemPortuguese(word.substr(0, word.size() - 1), out, scratch);  // "erros" -> "erro"
    }
  }

 private:
  static bool StemmableAscii(std::string_view word) {
    for (const char c : word) {
      if (c < 'a' || c > 'z') return false;
    }
    return true;
  }

  void StemPortuguese(std::string_view word, std::string& out, std::string& scratch) {
    scratch.assign(word);
    for (const Restore& r : kRestore) {
      if (word.size() > r.folded.size() + 1 && EndsWith(word, r.folded)) {
        scratch.resize(word.size() - r.folded.size());
        scratch.append(r.accented);
        break;
      }
    }
    Run(pt_, scratch, out);
    for (const char c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        FoldInto(std::string(out), out);
        break;
      }
    }
  }

  static void Run(sb_stemmer* stemmer, std::string_view word, std::string& out) {
    const sb_symbol* stem =
        stemmer == nullptr
            ? nullptr
            : sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(word.data()),
                              static_cast<int>(word.size()));
    if (stem == nullptr) {
      out.assign(word);  // out of memory inside libstemmer: the unstemmed word still matches
      return;
    }
    out.assign(reinterpret_cast<const char*>(stem),
               static_cast<size_t>(sb_stemmer_length(stemmer)));
  }

  sb_stemmer* pt_;
  sb_stemmer* en_;
};

// Per-thread buffers so that the hot path (the local embedder) allocates nothing per word.
struct Scratch {
  Stemmers stemmers;
  std::string folded;
  std::string word;
  std::string term;
  std::string stem_scratch;
  std::string held;
  bool busy = false;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

bool IsSingleLetter(std::string_view word) {
  return !word.empty() && !IsDigit(word[0]) && WordCharLen(word, 0) == word.size();
}

template <typename Sink>
void AnalyzeWith(Scratch& s, std::string_view text, Sink&& sink) {
  FoldInto(text, s.folded);
  const WordSet& stop = StopWords();
  auto emit = [&](std::string_view word) {
    s.stemmers.Stem(word, s.term, s.stem_scratch);
    sink(word, std::string_view(s.term));
  };
  // Nearly every WhatsApp message opens with "bom dia" or "boa tarde": as terms they would make
  // unrelated messages look alike, so the pair is dropped ("bom" alone is kept). "bom" is held
  // back until the next word shows which it is.
  bool held = false;
  SplitWords(s.folded, s.word, [&](std::string_view word) {
    if (held) {
      held = false;
      if (word == "dia" || word == "tarde" || word == "noite" || word == "morning" ||
          word == "afternoon" || word == "evening" || word == "night") {
        return;
      }
      emit(s.held);
    }
    if (stop.contains(word) || IsSingleLetter(word)) return;
    if (word == "bom" || word == "boa" || word == "good") {
      s.held.assign(word);
      held = true;
      return;
    }
    emit(word);
  });
  if (held) emit(s.held);
}

// Runs the analysis on the thread's buffers, or on fresh ones when a sink re-enters (a sink
// that itself calls Terms()).
template <typename Sink>
void Analyze(std::string_view text, Sink&& sink) {
  Scratch& s = ThreadScratch();
  if (s.busy) {
    Scratch fresh;
    AnalyzeWith(fresh, text, sink);
    return;
  }
  s.busy = true;
  struct Release {
    bool& busy;
    ~Release() { busy = false; }
  } release{s.busy};
  AnalyzeWith(s, text, sink);
}

}  // namespace

std::string Fold(std::string_view text) {
  std::string out;
  FoldInto(text, out);
  return out;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  SplitWords(Fold(text), cur, [&](std::string_view word) { words.emplace_back(word); });
  return words;
}

std::vector<std::string> Terms(std::string_view text) {
  std::vector<std::string> terms;
  Analyze(text, [&](std::string_view, std::string_view term) { terms.emplace_back(term); });
  return terms;
}

std::string TermText(std::string_view text) {
  std::string out;
  Analyze(text, [&](std::string_view, std::string_view term) {
    if (!out.empty()) out.push_back(' ');
    out.append(term);
  });
  return out;
}

void AnalyzeTerms(std::string_view text,
                  const std::function<void(std::string_view word, std::string_view term)>& sink) {
  Analyze(text, sink);
}

}  // namespace ventros::memory
