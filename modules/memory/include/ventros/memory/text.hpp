#pragma once
// Text analysis shared by the local embedder, the keyword index and the sentiment scorer:
// Unicode-aware lower-casing and accent folding, word splitting, Snowball stemming (Portuguese
// and English, Debian libstemmer), stop words.
//
// A word always analyses to the same term whether it appears in a document or in a query (the
// stemmer is chosen per word, not per text), so "cancelar" in a query and "cancelamento" in a
// message meet at the same term. The rules (which stemmer, numbers, codes, negations) are
// described at the top of text.cpp.
//
// Thread-safety: all functions are thread-safe (stemmers are per thread).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ventros::memory {

// Lower-case, accents folded ("Não É" -> "nao e", "ß" -> "ss", "œ" -> "oe"); combining accents
// dropped; other code points (emoji, other scripts) kept as they are; invalid UTF-8 bytes are
// dropped.
std::string Fold(std::string_view text);

// Words of the folded text: runs of letters and digits. Thousands separators are joined and a
// zero fraction dropped ("R$5.000,00" -> "r", "5000"); a hyphen next to a digit or a single letter
// joins ("E-404" -> "e404", "e-mail" -> "email"), any other hyphen splits.
std::vector<std::string> Words(std::string_view text);

// Stemmed, folded terms without stop words, in text order (duplicates kept). Negations ("não",
// "not") are stop words here; Sentiment() reads them from Words().
std::vector<std::string> Terms(std::string_view text);

// Terms joined by single spaces: what the keyword index stores and matches.
std::string TermText(std::string_view text);

// The analysis behind Terms() for hot paths: calls `sink(word, term)` for each kept word in text
// order, `word` folded and unstemmed, `term` what Terms() would return for it. Allocates no
// memory per word once the thread has warmed up; the views are valid only during the call.
void AnalyzeTerms(std::string_view text,
                  const std::function<void(std::string_view word, std::string_view term)>& sink);

// Sentiment of a message in [-1, 1] (0 neutral), Portuguese and English lexicon with negation
// ("não gostei"), intensifiers ("muito caro") and emoji.
double Sentiment(std::string_view text);

}  // namespace ventros::memory
