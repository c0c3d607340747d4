// Rule-based memory-fact extraction (see fact_extractor.hpp for the subjects and values).
//
// Pipeline, all linear in the text:
//   1. Tokens. The original text is split into sentences (. ! ? ; line breaks, "…"; a '.' or ','
//      between digits stays inside a number) and tokens: words (folded with Fold(), apostrophes
//      dropped: "don't" -> "dont"), numbers ("5.000,00" -> 5000, "1.5" -> 1.5, "2,000" -> 2000;
//      a group of exactly three digits after the separator means thousands, Brazilian style, so
//      "1.500" is 1500), codes (letters and digits: "E-404" -> "e404", "0x80070005", "v3.2") and
//      the symbols $ € £ % / , - that the rules read. "3k", "5mil", "18h" split into number and
//      word. Emoji and other symbols separate tokens. Each token remembers its bytes in the
//      original text (for evidence, names and codes as written) and whether it was capitalised.
//   2. Phrases. A fixed lexicon (kEntries) maps folded phrases to concepts ("muito caro" ->
//      expensive, "concorrente" -> competitor, "por mês" -> period month). Phrases are found by a
//      hash lookup of each token followed by a check of the rest of the phrase; a word ending in
//      '?' is optional. Negations ("não", "nem", "sem", "not", "no" in English sentences only)
//      mark tokens; ',' and "mas"/"but" end clauses; a sentence ending in '?' makes its last
//      clause a question.
//   3. Rules, per sentence and clause, reading the concepts in small windows:
//      - Money: optional currency (R$, US$, $, €, £, USD, reais, dólares, euros), a number, an
//        optional multiplier (k, mil, milhão, thousand, million), a range ("5 a 8 mil", "between
//        5k and 8k"). A money mention is classified by the nearest cue before it (at most 10
//        tokens back, else 8 ahead in the clause): a budget cue ("orçamento", "posso pagar", "can
//        afford", "budget") makes a budget; a price cue ("custa", "cobra", "costs"; weaker:
//        "preço", "fica", "valor", which yield to a budget cue further back) makes a quoted price
//        (only used as the amount of a price objection); "pagamos"/"we pay" makes current spend,
//        "faturamos"/"revenue" revenue; "até"/"up to"/"no máximo" alone makes a weak budget.
//        A message that is only an amount ("R$ 5000/mês", typically the answer to "qual o seu
//        orçamento?") is a weak budget. A bare number needs a budget cue right before it.
//        A negated budget cue ("não posso pagar R$ 500") is not a budget unless it reads "não
//        posso pagar mais de R$ 500" (a maximum). "Não tenho orçamento (definido)" gives
//        {"defined":false}.
//      - Retractions: "não ... mais" (unless it compares: "não é mais barato que", "não pago mais
//        de 500"), "já não", "deixou de", "desisti", "no longer", "anymore", "not an issue",
//        "resolvido"/"fixed" (not negated) withdraw the nearest topic in the clause (topics after
//        the marker win ties), or in the clause before when the marker's own has none ("o preço
//        estava alto, mas agora não é mais problema"). Verbs of function ("não funciona mais",
//        "não aguento mais", "it doesn't work anymore") make complaints, not retractions.
//      - Objections, pain points, goals, preferences, technical details, personal and business
//        details and constraints: phrase rules described beside each function below.
//   4. One fact per subject (highest confidence; a retraction and a statement of the same subject
//      keep the later one), in text order, at most kMaxFacts.
//
// Limits: no parsing, only windows, so long-distance meaning is missed ("o que mais me incomoda,
// além do suporte, é o preço" finds the price objection but not the structure); irony and most
// hypotheticals ("se o suporte fosse lento eu cancelaria") are read literally; a retraction in
// one sentence does not reach a topic named only in an earlier one ("O preço estava alto. Agora
// não é mais." withdraws nothing); a question is only recognised by its '?'; currency is never
// guessed; names of people, places and companies are taken only when capitalised after a cue
// ("meu nome é", "sou o", "moro em", "sou da"); subjects of free-text pains and goals are folded
// words, so paraphrases get different subjects. English and Portuguese only; other languages
// yield little (numbers, codes and currencies still parse).

#include "ventros/memory/fact_extractor.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ventros/memory/text.hpp"

namespace ventros::memory {
namespace {

using std::string_view_literals::operator""sv;

constexpr size_t kMaxEvidenceBytes = 300;
constexpr size_t kMaxFacts = 32;
constexpr size_t kMaxTextSpanBytes = 100;  // quoted spans in fact texts ("Objetivo: ...")
constexpr uint32_t kCueWindowBack = 10;    // tokens a money cue may precede its amount by
constexpr uint32_t kCueWindowAhead = 8;    // tokens a money cue may follow it by (same clause)
constexpr uint32_t kNegWindow = 3;         // tokens a negation may precede what it negates by
constexpr uint32_t kRetractReach = 8;      // tokens between a retraction marker and its topic

// Confidence levels. Explicit amounts and specific phrases score high, inferred ones low.
constexpr double kSure = 0.9;
constexpr double kStrong = 0.8;
constexpr double kLikely = 0.7;
constexpr double kWeak = 0.6;
constexpr double kGuess = 0.5;
constexpr double kQuestionFactor = 0.75;  // a statement made inside a question

// ---------------------------------------------------------------------------------------------
// Concepts and the phrase lexicon

enum class C : uint8_t {
  kNone,
  // grammar
  kNeg,
  kNegEn,  // "no": a negation in English sentences only ("no" is "in the" in Portuguese)
  kBreak,
  kLangPt,
  kLangEn,
  kRetract,
  kResolved,
  kProblem,
  // money
  kBudget,  // canon "noun" for orçamento/budget/verba
  kBoundMax,
  kBoundMin,
  kMoreThan,
  kPriceStrong,
  kPriceWeak,
  kPriceTopic,  // nouns: preço, valor, price
  kSpend,
  kRevenue,
  kPeriod,  // canon: month, year, week, day, one_time
  // objections
  kExpensive,
  kExpensiveAmbiguous,
  kHigh,
  kOverBudget,
  kOverBudgetPay,
  kCompetitor,
  kCheaper,
  kCheaperWord,
  kPricierThan,  // "vocês são mais caros que a X": X is cheaper
  kDiscount,
  kOffer,
  kConsidering,
  kTimingStrong,
  kTimingWeak,
  kTimingTopic,
  kPostpone,
  kTrust,
  kTrustTopic,
  kNoNeed,
  // pain points
  kRoi,
  kUnclear,
  kSlow,
  kPerfTopic,
  kManual,
  kManualCue,
  kTimeWaste,
  kPainWord,
  kSupport,
  kSupportBad,
  kSupportBadAlone,
  kLostSales,
  kIntegrationBad,
  kUsabilityBad,
  kVisibility,
  kPainLead,
  // goals
  kGoalCue,
  kGoalVerb,  // canon: the action
  // preferences
  kPrefer,
  kBetter,
  kBestWay,
  kTimeCue,
  kContactMe,
  kNoCalls,
  kChannel,    // canon: whatsapp, email, phone, ...
  kTimeOfDay,  // canon: morning, afternoon, ...
  kClockAfter,
  kClockBefore,
  kLanguage,   // canon: pt, en, es
  kPayMethod,  // canon: pix, boleto, ...
  // technical
  kErrorCue,
  kCodeCue,
  kVersionCue,
  kPlatform,  // canon: display name
  kProduct,   // canon: display name
  kUseVerb,
  kStopUsing,
  // personal and business
  kHave,
  kChildren,
  kNameCue,
  kLocationCue,
  kBizLocationCue,
  kRoleCue,
  kRole,
  kCompanyCue,
  kUnit,  // canon: employees, people, sales_team, ...
  kOwnCue,
  kIndustryCue,
  kIndustryWeakCue,
  kSegment,  // canon: industry slug
  // constraints
  kDeadlineCue,  // canon "urgent" for urgency without a date
  kDateExpr,
  kApprovalCue,
  kApprover,  // canon: role slug
  kMust,
  kIntegrate,
  kCompliance,  // canon: display name
};

struct Entry {
  std::string_view phrase;  // folded words separated by single spaces; "word?" is optional
  C tag;
  std::string_view canon = {};
};

// clang-format off
constexpr Entry kEntries[] = {
    // Negations and clause breaks.
    {"nao", C::kNeg}, {"n", C::kNeg}, {"nem", C::kNeg}, {"nunca", C::kNeg}, {"jamais", C::kNeg},
    {"sem", C::kNeg}, {"nada", C::kNeg}, {"nenhum", C::kNeg}, {"nenhuma", C::kNeg},
    {"not", C::kNeg}, {"never", C::kNeg}, {"without", C::kNeg}, {"dont", C::kNeg},
    {"doesnt", C::kNeg}, {"didnt", C::kNeg}, {"isnt", C::kNeg}, {"arent", C::kNeg},
    {"wasnt", C::kNeg}, {"werent", C::kNeg}, {"cant", C::kNeg}, {"cannot", C::kNeg},
    {"wont", C::kNeg}, {"wouldnt", C::kNeg}, {"couldnt", C::kNeg}, {"havent", C::kNeg},
    {"hasnt", C::kNeg}, {"nothing", C::kNeg}, {"nobody", C::kNeg}, {"no", C::kNegEn},
    {"mas", C::kBreak}, {"porem", C::kBreak}, {"contudo", C::kBreak}, {"entretanto", C::kBreak},
    {"so que", C::kBreak}, {"but", C::kBreak}, {"however", C::kBreak}, {"although", C::kBreak},
    {"embora", C::kBreak},

    // Language markers: common words of one language that are rare in the other.
    {"o", C::kLangPt}, {"os", C::kLangPt}, {"de", C::kLangPt}, {"do", C::kLangPt},
    {"da", C::kLangPt}, {"que", C::kLangPt}, {"nao", C::kLangPt}, {"meu", C::kLangPt},
    {"minha", C::kLangPt}, {"nosso", C::kLangPt}, {"nossa", C::kLangPt}, {"para", C::kLangPt},
    {"pra", C::kLangPt}, {"com", C::kLangPt}, {"uma", C::kLangPt}, {"um", C::kLangPt},
    {"muito", C::kLangPt}, {"esta", C::kLangPt}, {"estou", C::kLangPt}, {"tem", C::kLangPt},
    {"temos", C::kLangPt}, {"tenho", C::kLangPt}, {"mas", C::kLangPt}, {"por", C::kLangPt},
    {"mes", C::kLangPt}, {"voces", C::kLangPt}, {"vcs", C::kLangPt}, {"isso", C::kLangPt},
    {"e", C::kLangPt}, {"sao", C::kLangPt}, {"eu", C::kLangPt}, {"ja", C::kLangPt},
    {"mais", C::kLangPt}, {"ate", C::kLangPt}, {"orcamento", C::kLangPt}, {"ta", C::kLangPt},
    {"ano", C::kLangPt}, {"reais", C::kLangPt}, {"mil", C::kLangPt}, {"mensal", C::kLangPt},
    {"mensais", C::kLangPt}, {"prefiro", C::kLangPt}, {"queremos", C::kLangPt},
    {"em", C::kLangPt}, {"na", C::kLangPt}, {"ser", C::kLangPt}, {"vou", C::kLangPt},
    {"gostaria", C::kLangPt}, {"obrigado", C::kLangPt}, {"agora", C::kLangPt},
    {"hoje", C::kLangPt}, {"fazer", C::kLangPt}, {"ter", C::kLangPt}, {"se", C::kLangPt},
    {"como", C::kLangPt}, {"quando", C::kLangPt}, {"sim", C::kLangPt}, {"pode", C::kLangPt},
    {"aqui", C::kLangPt}, {"sou", C::kLangPt}, {"somos", C::kLangPt}, {"ainda", C::kLangPt},
    {"the", C::kLangEn}, {"is", C::kLangEn}, {"are", C::kLangEn}, {"i", C::kLangEn},
    {"im", C::kLangEn}, {"we", C::kLangEn}, {"our", C::kLangEn}, {"my", C::kLangEn},
    {"to", C::kLangEn}, {"of", C::kLangEn}, {"and", C::kLangEn}, {"it", C::kLangEn},
    {"its", C::kLangEn}, {"not", C::kLangEn}, {"dont", C::kLangEn}, {"with", C::kLangEn},
    {"for", C::kLangEn}, {"per", C::kLangEn}, {"month", C::kLangEn}, {"this", C::kLangEn},
    {"that", C::kLangEn}, {"have", C::kLangEn}, {"you", C::kLangEn}, {"can", C::kLangEn},
    {"on", C::kLangEn}, {"at", C::kLangEn}, {"your", C::kLangEn}, {"want", C::kLangEn},
    {"need", C::kLangEn}, {"year", C::kLangEn}, {"week", C::kLangEn}, {"too", C::kLangEn},
    {"very", C::kLangEn}, {"please", C::kLangEn}, {"were", C::kLangEn}, {"prefer", C::kLangEn},
    {"monthly", C::kLangEn}, {"afford", C::kLangEn}, {"in", C::kLangEn},
    {"be", C::kLangEn}, {"if", C::kLangEn}, {"am", C::kLangEn}, {"was", C::kLangEn},
    {"will", C::kLangEn}, {"would", C::kLangEn}, {"could", C::kLangEn},
    {"should", C::kLangEn}, {"about", C::kLangEn}, {"from", C::kLangEn},
    {"what", C::kLangEn}, {"how", C::kLangEn}, {"when", C::kLangEn}, {"just", C::kLangEn},
    {"they", C::kLangEn}, {"get", C::kLangEn}, {"has", C::kLangEn}, {"there", C::kLangEn},
    {"rather", C::kLangEn}, {"talk", C::kLangEn}, {"id", C::kLangEn}, {"ill", C::kLangEn},
    {"still", C::kLangEn}, {"yet", C::kLangEn}, {"much", C::kLangEn}, {"who", C::kLangEn},

    // Retraction markers (the generic "não ... mais" and "já não" are found in code).
    {"deixou de ser", C::kRetract}, {"deixaram de ser", C::kRetract}, {"deixou de", C::kRetract},
    {"deixamos de", C::kRetract}, {"deixei de", C::kRetract}, {"desisti", C::kRetract},
    {"desistimos", C::kRetract}, {"desistiu", C::kRetract}, {"desistiram", C::kRetract},
    {"mudei de ideia", C::kRetract}, {"mudamos de ideia", C::kRetract},
    {"nao e problema", C::kRetract}, {"nao e um problema", C::kRetract},
    {"nao e o problema", C::kRetract}, {"nao eh problema", C::kRetract},
    {"nao e mais problema", C::kRetract}, {"nao e uma preocupacao", C::kRetract},
    {"nem e problema", C::kRetract}, {"ficou claro", C::kRetract}, {"ja esta claro", C::kRetract},
    {"esquece", C::kRetract}, {"esqueca", C::kRetract}, {"pode esquecer", C::kRetract},
    {"deixa pra la", C::kRetract}, {"deixa para la", C::kRetract},
    {"no longer", C::kRetract}, {"not anymore", C::kRetract}, {"anymore", C::kRetract},
    {"any more", C::kRetract}, {"not an issue", C::kRetract}, {"isnt an issue", C::kRetract},
    {"not a problem", C::kRetract}, {"isnt a problem", C::kRetract},
    {"not a concern", C::kRetract}, {"isnt a concern", C::kRetract},
    {"not a big deal", C::kRetract}, {"changed my mind", C::kRetract},
    {"changed our mind", C::kRetract}, {"changed our minds", C::kRetract},
    {"gave up", C::kRetract}, {"decided against", C::kRetract}, {"never mind", C::kRetract},
    {"nevermind", C::kRetract}, {"forget about", C::kRetract},
    {"resolvido", C::kResolved}, {"resolvida", C::kResolved}, {"resolvidos", C::kResolved},
    {"resolveu", C::kResolved}, {"resolvemos", C::kResolved}, {"resolveram", C::kResolved},
    {"corrigido", C::kResolved}, {"corrigida", C::kResolved}, {"corrigiram", C::kResolved},
    {"corrigiu", C::kResolved}, {"consertado", C::kResolved}, {"consertaram", C::kResolved},
    {"consertou", C::kResolved}, {"solucionado", C::kResolved}, {"solucionada", C::kResolved},
    {"voltou a funcionar", C::kResolved}, {"ja funciona", C::kResolved},
    {"funcionando agora", C::kResolved}, {"agora funciona", C::kResolved},
    {"ja esta funcionando", C::kResolved}, {"voltou ao normal", C::kResolved},
    {"normalizou", C::kResolved}, {"fixed", C::kResolved}, {"resolved", C::kResolved},
    {"solved", C::kResolved}, {"works now", C::kResolved}, {"working now", C::kResolved},
    {"working again", C::kResolved}, {"back to normal", C::kResolved},
    {"sorted out", C::kResolved}, {"all good now", C::kResolved},
    {"problema", C::kProblem}, {"problemas", C::kProblem}, {"issue", C::kProblem},
    {"concern", C::kProblem}, {"obstaculo", C::kProblem}, {"empecilho", C::kProblem},
    {"barreira", C::kProblem}, {"impedimento", C::kProblem}, {"dealbreaker", C::kProblem},
    {"deal breaker", C::kProblem}, {"sticking point", C::kProblem}, {"problem", C::kProblem},

    // Budget cues. "orçamentos" (plural) and "o orçamento de vocês" are quotes, i.e. prices.
    {"orcamento", C::kBudget, "noun"}, {"budget", C::kBudget, "noun"},
    {"verba", C::kBudget, "noun"}, {"limite", C::kBudget}, {"teto", C::kBudget},
    {"posso pagar", C::kBudget}, {"podemos pagar", C::kBudget}, {"consigo pagar", C::kBudget},
    {"conseguimos pagar", C::kBudget}, {"quero pagar", C::kBudget},
    {"queremos pagar", C::kBudget}, {"prefiro pagar", C::kBudget},
    {"pretendo pagar", C::kBudget}, {"pretendemos pagar", C::kBudget},
    {"topo pagar", C::kBudget}, {"pagar ate", C::kBudget}, {"pagar no maximo", C::kBudget},
    {"posso gastar", C::kBudget}, {"podemos gastar", C::kBudget}, {"consigo gastar", C::kBudget},
    {"quero gastar", C::kBudget}, {"queremos gastar", C::kBudget},
    {"pretendo gastar", C::kBudget}, {"pretendemos gastar", C::kBudget},
    {"investir", C::kBudget}, {"investimento", C::kBudget}, {"disponivel", C::kBudget},
    {"disponiveis", C::kBudget}, {"reservado", C::kBudget}, {"reservamos", C::kBudget},
    {"separei", C::kBudget}, {"separamos", C::kBudget}, {"can afford", C::kBudget},
    {"afford", C::kBudget}, {"can spend", C::kBudget}, {"could spend", C::kBudget},
    {"can pay", C::kBudget}, {"could pay", C::kBudget}, {"willing to pay", C::kBudget},
    {"willing to spend", C::kBudget}, {"able to pay", C::kBudget},
    {"able to spend", C::kBudget}, {"want to pay", C::kBudget}, {"want to spend", C::kBudget},
    {"like to pay", C::kBudget}, {"looking to spend", C::kBudget},
    {"plan to spend", C::kBudget}, {"planning to spend", C::kBudget},
    {"to invest", C::kBudget}, {"invest", C::kBudget}, {"budgeted", C::kBudget},
    {"set aside", C::kBudget}, {"available", C::kBudget}, {"allocated", C::kBudget},
    {"spending limit", C::kBudget}, {"limit", C::kBudget}, {"cap", C::kBudget},
    {"ate", C::kBoundMax}, {"no maximo", C::kBoundMax}, {"maximo", C::kBoundMax},
    {"max", C::kBoundMax}, {"up to", C::kBoundMax}, {"at most", C::kBoundMax},
    {"tops", C::kBoundMax}, {"maximum", C::kBoundMax}, {"ate no maximo", C::kBoundMax},
    {"pelo menos", C::kBoundMin}, {"no minimo", C::kBoundMin}, {"a partir de", C::kBoundMin},
    {"at least", C::kBoundMin}, {"minimum", C::kBoundMin},
    {"mais de", C::kMoreThan}, {"mais que", C::kMoreThan}, {"mais do que", C::kMoreThan},
    {"more than", C::kMoreThan}, {"acima de", C::kMoreThan}, {"over", C::kMoreThan},
    {"custa", C::kPriceStrong}, {"custam", C::kPriceStrong}, {"custaria", C::kPriceStrong},
    {"custou", C::kPriceStrong}, {"custando", C::kPriceStrong}, {"cobra", C::kPriceStrong},
    {"cobram", C::kPriceStrong}, {"cobrou", C::kPriceStrong}, {"cobrando", C::kPriceStrong},
    {"cobraria", C::kPriceStrong}, {"costs", C::kPriceStrong}, {"cost", C::kPriceStrong},
    {"charge", C::kPriceStrong}, {"charges", C::kPriceStrong}, {"charged", C::kPriceStrong},
    {"charging", C::kPriceStrong}, {"priced", C::kPriceStrong}, {"quoted", C::kPriceStrong},
    {"orcamentos", C::kPriceStrong}, {"orcamento de voces", C::kPriceStrong},
    {"orcamento de vcs", C::kPriceStrong}, {"orcamento que voces", C::kPriceStrong},
    {"orcamento que vcs", C::kPriceStrong}, {"seu orcamento", C::kPriceStrong},
    {"orcamento enviado", C::kPriceStrong}, {"orcamento veio", C::kPriceStrong},
    {"your quote", C::kPriceStrong}, {"the quote", C::kPriceStrong},
    {"desconto", C::kPriceStrong}, {"discount", C::kPriceStrong}, {"frete", C::kPriceStrong},
    {"multa", C::kPriceStrong}, {"shipping", C::kPriceStrong}, {"faz por", C::kPriceStrong},
    {"fazem por", C::kPriceStrong}, {"vende por", C::kPriceStrong},
    {"vendem por", C::kPriceStrong}, {"sai por", C::kPriceStrong},
    {"sells for", C::kPriceStrong}, {"sell for", C::kPriceStrong},
    {"fica", C::kPriceWeak}, {"ficaria", C::kPriceWeak}, {"ficou", C::kPriceWeak},
    {"sai", C::kPriceWeak}, {"sairia", C::kPriceWeak}, {"saiu", C::kPriceWeak},
    {"vale", C::kPriceWeak}, {"comes to", C::kPriceWeak}, {"preco", C::kPriceWeak},
    {"precos", C::kPriceWeak}, {"valor", C::kPriceWeak}, {"valores", C::kPriceWeak},
    {"mensalidade", C::kPriceWeak}, {"mensalidades", C::kPriceWeak}, {"taxa", C::kPriceWeak},
    {"taxas", C::kPriceWeak}, {"tarifa", C::kPriceWeak}, {"parcela", C::kPriceWeak},
    {"parcelas", C::kPriceWeak}, {"plano", C::kPriceWeak}, {"price", C::kPriceWeak},
    {"prices", C::kPriceWeak}, {"pricing", C::kPriceWeak}, {"fee", C::kPriceWeak},
    {"fees", C::kPriceWeak}, {"plan", C::kPriceWeak}, {"custo", C::kPriceWeak},
    {"custos", C::kPriceWeak}, {"proposta", C::kPriceWeak},
    {"preco", C::kPriceTopic}, {"precos", C::kPriceTopic}, {"valor", C::kPriceTopic},
    {"valores", C::kPriceTopic}, {"mensalidade", C::kPriceTopic}, {"custo", C::kPriceTopic},
    {"custos", C::kPriceTopic}, {"price", C::kPriceTopic}, {"prices", C::kPriceTopic},
    {"pricing", C::kPriceTopic}, {"cost", C::kPriceTopic}, {"fee", C::kPriceTopic},
    {"fees", C::kPriceTopic},
    {"pagamos", C::kSpend}, {"pago", C::kSpend}, {"pagando", C::kSpend}, {"pagava", C::kSpend},
    {"pagavamos", C::kSpend}, {"gastamos", C::kSpend}, {"gasto", C::kSpend},
    {"gastando", C::kSpend}, {"we pay", C::kSpend}, {"we are paying", C::kSpend},
    {"were paying", C::kSpend}, {"i pay", C::kSpend}, {"im paying", C::kSpend},
    {"we spend", C::kSpend}, {"we are spending", C::kSpend}, {"were spending", C::kSpend},
    {"i spend", C::kSpend}, {"currently pay", C::kSpend}, {"paying", C::kSpend},
    {"faturamos", C::kRevenue}, {"faturamento", C::kRevenue}, {"faturo", C::kRevenue},
    {"receita", C::kRevenue}, {"revenue", C::kRevenue}, {"we make", C::kRevenue},
    {"we bill", C::kRevenue}, {"turnover", C::kRevenue}, {"vendemos", C::kRevenue},

    // Periods.
    {"mes", C::kPeriod, "month"}, {"mensal", C::kPeriod, "month"},
    {"mensais", C::kPeriod, "month"}, {"mensalmente", C::kPeriod, "month"},
    {"mensalidade", C::kPeriod, "month"}, {"month", C::kPeriod, "month"},
    {"monthly", C::kPeriod, "month"}, {"mo", C::kPeriod, "month"},
    {"ano", C::kPeriod, "year"}, {"anual", C::kPeriod, "year"}, {"anuais", C::kPeriod, "year"},
    {"anualmente", C::kPeriod, "year"}, {"anuidade", C::kPeriod, "year"},
    {"year", C::kPeriod, "year"}, {"yearly", C::kPeriod, "year"},
    {"annually", C::kPeriod, "year"}, {"annual", C::kPeriod, "year"},
    {"yr", C::kPeriod, "year"}, {"annum", C::kPeriod, "year"},
    {"semana", C::kPeriod, "week"}, {"semanal", C::kPeriod, "week"},
    {"semanais", C::kPeriod, "week"}, {"semanalmente", C::kPeriod, "week"},
    {"week", C::kPeriod, "week"}, {"weekly", C::kPeriod, "week"}, {"wk", C::kPeriod, "week"},
    {"dia", C::kPeriod, "day"}, {"diario", C::kPeriod, "day"}, {"diaria", C::kPeriod, "day"},
    {"diarias", C::kPeriod, "day"}, {"diarios", C::kPeriod, "day"},
    {"diariamente", C::kPeriod, "day"}, {"day", C::kPeriod, "day"},
    {"daily", C::kPeriod, "day"},
    {"a vista", C::kPeriod, "one_time"}, {"avista", C::kPeriod, "one_time"},
    {"pagamento unico", C::kPeriod, "one_time"}, {"unico", C::kPeriod, "one_time"},
    {"de uma vez", C::kPeriod, "one_time"}, {"uma vez so", C::kPeriod, "one_time"},
    {"one time", C::kPeriod, "one_time"}, {"onetime", C::kPeriod, "one_time"},
    {"one off", C::kPeriod, "one_time"}, {"once", C::kPeriod, "one_time"},
    {"upfront", C::kPeriod, "one_time"}, {"up front", C::kPeriod, "one_time"},
    {"lump sum", C::kPeriod, "one_time"},

    // Price objections.
    {"caro", C::kExpensive}, {"caros", C::kExpensive}, {"carissimo", C::kExpensive},
    {"carissima", C::kExpensive}, {"expensive", C::kExpensive}, {"pricey", C::kExpensive},
    {"overpriced", C::kExpensive}, {"costly", C::kExpensive},
    {"cara", C::kExpensiveAmbiguous}, {"caras", C::kExpensiveAmbiguous},
    {"salgado", C::kExpensiveAmbiguous}, {"salgada", C::kExpensiveAmbiguous},
    {"puxado", C::kExpensiveAmbiguous}, {"puxada", C::kExpensiveAmbiguous},
    {"alto", C::kHigh}, {"alta", C::kHigh}, {"altos", C::kHigh}, {"altas", C::kHigh},
    {"elevado", C::kHigh}, {"elevada", C::kHigh}, {"elevados", C::kHigh},
    {"abusivo", C::kHigh}, {"abusiva", C::kHigh}, {"absurdo", C::kHigh}, {"absurda", C::kHigh},
    {"exagerado", C::kHigh}, {"exagerada", C::kHigh}, {"salgado", C::kHigh},
    {"salgada", C::kHigh}, {"puxado", C::kHigh}, {"high", C::kHigh}, {"steep", C::kHigh},
    {"too high", C::kHigh}, {"too much", C::kHigh}, {"fora da realidade", C::kHigh},
    {"fora do orcamento", C::kOverBudget}, {"fora do nosso orcamento", C::kOverBudget},
    {"fora do meu orcamento", C::kOverBudget}, {"acima do orcamento", C::kOverBudget},
    {"acima do nosso orcamento", C::kOverBudget}, {"alem do orcamento", C::kOverBudget},
    {"nao cabe no orcamento", C::kOverBudget}, {"nao cabe no meu orcamento", C::kOverBudget},
    {"nao cabe no nosso orcamento", C::kOverBudget}, {"estoura o orcamento", C::kOverBudget},
    {"over budget", C::kOverBudget}, {"over our budget", C::kOverBudget},
    {"over my budget", C::kOverBudget}, {"out of our budget", C::kOverBudget},
    {"out of my budget", C::kOverBudget}, {"above our budget", C::kOverBudget},
    {"beyond our budget", C::kOverBudget}, {"outside our budget", C::kOverBudget},
    {"cant afford", C::kOverBudget}, {"cannot afford", C::kOverBudget},
    {"can not afford", C::kOverBudget}, {"nao tenho dinheiro", C::kOverBudget},
    {"nao temos dinheiro", C::kOverBudget}, {"sem dinheiro", C::kOverBudget},
    {"sem grana", C::kOverBudget}, {"nao tenho grana", C::kOverBudget},
    {"nao vale o preco", C::kOverBudget}, {"nao vale o que custa", C::kOverBudget},
    {"not worth the price", C::kOverBudget}, {"not worth the money", C::kOverBudget},
    {"too much money", C::kOverBudget}, {"costs too much", C::kOverBudget},
    {"cost too much", C::kOverBudget}, {"paying too much", C::kOverBudget},
    {"se fosse mais barato", C::kOverBudget}, {"se fosse mais em conta", C::kOverBudget},
    {"tem algo mais barato", C::kOverBudget}, {"tem plano mais barato", C::kOverBudget},
    {"if it were cheaper", C::kOverBudget}, {"if it was cheaper", C::kOverBudget},
    {"anything cheaper", C::kOverBudget}, {"something cheaper", C::kOverBudget},
    {"nao consigo pagar", C::kOverBudgetPay}, {"nao conseguimos pagar", C::kOverBudgetPay},
    {"nao da pra pagar", C::kOverBudgetPay}, {"nao da para pagar", C::kOverBudgetPay},
    {"nao posso pagar", C::kOverBudgetPay}, {"nao podemos pagar", C::kOverBudgetPay},
    {"cant pay", C::kOverBudgetPay}, {"cannot pay", C::kOverBudgetPay},

    // Competitor objections.
    {"concorrente", C::kCompetitor}, {"concorrentes", C::kCompetitor},
    {"concorrencia", C::kCompetitor}, {"outra empresa", C::kCompetitor},
    {"outras empresas", C::kCompetitor}, {"outro fornecedor", C::kCompetitor},
    {"outros fornecedores", C::kCompetitor}, {"outra ferramenta", C::kCompetitor},
    {"outras ferramentas", C::kCompetitor}, {"outra plataforma", C::kCompetitor},
    {"outras plataformas", C::kCompetitor}, {"outra solucao", C::kCompetitor},
    {"outras solucoes", C::kCompetitor}, {"outro sistema", C::kCompetitor},
    {"outros sistemas", C::kCompetitor}, {"outra opcao", C::kCompetitor},
    {"outras opcoes", C::kCompetitor}, {"outra agencia", C::kCompetitor},
    {"alternativas", C::kCompetitor}, {"competitor", C::kCompetitor},
    {"competitors", C::kCompetitor}, {"competition", C::kCompetitor},
    {"other vendor", C::kCompetitor}, {"other vendors", C::kCompetitor},
    {"another vendor", C::kCompetitor}, {"other provider", C::kCompetitor},
    {"other providers", C::kCompetitor}, {"another provider", C::kCompetitor},
    {"other company", C::kCompetitor}, {"other companies", C::kCompetitor},
    {"another company", C::kCompetitor}, {"other tool", C::kCompetitor},
    {"other tools", C::kCompetitor}, {"another tool", C::kCompetitor},
    {"other platform", C::kCompetitor}, {"other platforms", C::kCompetitor},
    {"another platform", C::kCompetitor}, {"other solutions", C::kCompetitor},
    {"another solution", C::kCompetitor}, {"other options", C::kCompetitor},
    {"another option", C::kCompetitor}, {"alternatives", C::kCompetitor},
    {"mais barato", C::kCheaper}, {"mais barata", C::kCheaper}, {"mais baratos", C::kCheaper},
    {"mais baratas", C::kCheaper}, {"mais em conta", C::kCheaper}, {"cobra menos", C::kCheaper},
    {"cobram menos", C::kCheaper}, {"preco menor", C::kCheaper}, {"precos menores", C::kCheaper},
    {"menor preco", C::kCheaper}, {"preco melhor", C::kCheaper}, {"melhor preco", C::kCheaper},
    {"valor menor", C::kCheaper}, {"menor valor", C::kCheaper},
    {"melhor proposta", C::kCheaper}, {"proposta melhor", C::kCheaper}, {"cheaper", C::kCheaper},
    {"less expensive", C::kCheaper}, {"lower price", C::kCheaper},
    {"lower prices", C::kCheaper}, {"better price", C::kCheaper}, {"better prices", C::kCheaper},
    {"charges less", C::kCheaper}, {"charge less", C::kCheaper}, {"costs less", C::kCheaper},
    {"cost less", C::kCheaper}, {"better deal", C::kCheaper}, {"better offer", C::kCheaper},
    {"menos", C::kCheaperWord}, {"less", C::kCheaperWord}, {"barato", C::kCheaperWord},
    {"barata", C::kCheaperWord}, {"off", C::kCheaperWord}, {"lower", C::kCheaperWord},
    {"mais caro que", C::kPricierThan}, {"mais caros que", C::kPricierThan},
    {"mais cara que", C::kPricierThan}, {"mais caras que", C::kPricierThan},
    {"mais caro do que", C::kPricierThan}, {"mais caros do que", C::kPricierThan},
    {"more expensive than", C::kPricierThan}, {"pricier than", C::kPricierThan},
    {"desconto", C::kDiscount}, {"descontos", C::kDiscount}, {"discount", C::kDiscount},
    {"discounts", C::kDiscount},
    {"oferece", C::kOffer}, {"oferecem", C::kOffer}, {"ofereceu", C::kOffer},
    {"ofereceram", C::kOffer}, {"oferecendo", C::kOffer}, {"cobra", C::kOffer},
    {"cobram", C::kOffer}, {"cobrou", C::kOffer}, {"tem plano", C::kOffer},
    {"tem um plano", C::kOffer}, {"offers", C::kOffer}, {"offered", C::kOffer},
    {"offering", C::kOffer}, {"charges", C::kOffer}, {"quoted", C::kOffer},
    {"considerando", C::kConsidering}, {"considerar", C::kConsidering},
    {"pensando em", C::kConsidering}, {"avaliando", C::kConsidering},
    {"avaliar", C::kConsidering}, {"comparando", C::kConsidering},
    {"comparar", C::kConsidering}, {"cotando", C::kConsidering},
    {"negociando", C::kConsidering}, {"conversando com", C::kConsidering},
    {"falando com", C::kConsidering}, {"olhando", C::kConsidering},
    {"fechar com", C::kConsidering}, {"fechando com", C::kConsidering},
    {"migrar para", C::kConsidering}, {"trocar por", C::kConsidering},
    {"ficar com", C::kConsidering}, {"considering", C::kConsidering},
    {"evaluating", C::kConsidering}, {"comparing", C::kConsidering},
    {"looking at", C::kConsidering}, {"talking to", C::kConsidering},
    {"talking with", C::kConsidering}, {"going with", C::kConsidering},
    {"go with", C::kConsidering}, {"switch to", C::kConsidering},
    {"switching to", C::kConsidering}, {"moving to", C::kConsidering},
    {"shopping around", C::kConsidering}, {"getting quotes", C::kConsidering},
    {"leaning towards", C::kConsidering},

    // Timing, trust and need objections.
    {"nao e o momento", C::kTimingStrong}, {"nao e um bom momento", C::kTimingStrong},
    {"nao e o melhor momento", C::kTimingStrong}, {"nao e a hora", C::kTimingStrong},
    {"nao e hora", C::kTimingStrong}, {"momento nao e bom", C::kTimingStrong},
    {"momento nao e ideal", C::kTimingStrong}, {"momento ruim", C::kTimingStrong},
    {"nao agora", C::kTimingStrong}, {"agora nao e o momento", C::kTimingStrong},
    {"fica para depois", C::kTimingStrong}, {"fica pra depois", C::kTimingStrong},
    {"deixa para depois", C::kTimingStrong}, {"deixa pra depois", C::kTimingStrong},
    {"deixar para depois", C::kTimingStrong}, {"deixar pra depois", C::kTimingStrong},
    {"mais pra frente", C::kTimingStrong}, {"mais para frente", C::kTimingStrong},
    {"mais adiante", C::kTimingStrong}, {"nao e prioridade", C::kTimingStrong},
    {"nao estamos prontos", C::kTimingStrong}, {"not the right time", C::kTimingStrong},
    {"not a good time", C::kTimingStrong}, {"bad time", C::kTimingStrong},
    {"bad timing", C::kTimingStrong}, {"not now", C::kTimingStrong},
    {"not right now", C::kTimingStrong}, {"maybe later", C::kTimingStrong},
    {"down the road", C::kTimingStrong}, {"not a priority", C::kTimingStrong},
    {"revisit later", C::kTimingStrong}, {"circle back", C::kTimingStrong},
    {"not ready yet", C::kTimingStrong},
    {"ano que vem", C::kTimingWeak}, {"proximo ano", C::kTimingWeak},
    {"semestre que vem", C::kTimingWeak}, {"proximo semestre", C::kTimingWeak},
    {"trimestre que vem", C::kTimingWeak}, {"proximo trimestre", C::kTimingWeak},
    {"mes que vem", C::kTimingWeak}, {"proximo mes", C::kTimingWeak},
    {"depois do carnaval", C::kTimingWeak}, {"depois das ferias", C::kTimingWeak},
    {"next year", C::kTimingWeak}, {"next quarter", C::kTimingWeak},
    {"next month", C::kTimingWeak}, {"later this year", C::kTimingWeak},
    {"after the holidays", C::kTimingWeak},
    {"momento", C::kTimingTopic}, {"timing", C::kTimingTopic},
    {"talvez", C::kPostpone}, {"maybe", C::kPostpone}, {"so", C::kPostpone},
    {"somente", C::kPostpone}, {"apenas", C::kPostpone}, {"only", C::kPostpone},
    {"deixa", C::kPostpone}, {"deixar", C::kPostpone}, {"fica", C::kPostpone},
    {"pensar", C::kPostpone}, {"decidir", C::kPostpone}, {"fechar", C::kPostpone},
    {"contratar", C::kPostpone}, {"comprar", C::kPostpone}, {"retomar", C::kPostpone},
    {"voltar", C::kPostpone}, {"ver isso", C::kPostpone}, {"esperar", C::kPostpone},
    {"adiar", C::kPostpone}, {"por enquanto", C::kPostpone}, {"buy", C::kPostpone},
    {"sign", C::kPostpone}, {"decide", C::kPostpone}, {"revisit", C::kPostpone},
    {"reconsider", C::kPostpone}, {"wait", C::kPostpone}, {"postpone", C::kPostpone},
    {"for now", C::kPostpone}, {"think about", C::kPostpone},
    {"nao confio", C::kTrust}, {"nao confiamos", C::kTrust}, {"desconfio", C::kTrust},
    {"desconfiado", C::kTrust}, {"desconfiada", C::kTrust}, {"desconfianca", C::kTrust},
    {"medo de", C::kTrust}, {"receio", C::kTrust}, {"parece golpe", C::kTrust},
    {"golpe", C::kTrust}, {"fraude", C::kTrust}, {"nunca ouvi falar", C::kTrust},
    {"nao conheco voces", C::kTrust}, {"nao conheco a empresa", C::kTrust},
    {"dont trust", C::kTrust}, {"do not trust", C::kTrust}, {"cant trust", C::kTrust},
    {"not sure i can trust", C::kTrust}, {"not sure we can trust", C::kTrust},
    {"scam", C::kTrust}, {"never heard of", C::kTrust}, {"too good to be true", C::kTrust},
    {"is this legit", C::kTrust},
    {"confianca", C::kTrustTopic}, {"trust", C::kTrustTopic},
    {"nao preciso disso", C::kNoNeed}, {"nao precisamos disso", C::kNoNeed},
    {"nao preciso desse", C::kNoNeed}, {"nao precisamos desse", C::kNoNeed},
    {"nao preciso dessa", C::kNoNeed}, {"nao precisamos dessa", C::kNoNeed},
    {"nao vejo necessidade", C::kNoNeed}, {"nao temos necessidade", C::kNoNeed},
    {"nao ha necessidade", C::kNoNeed}, {"sem necessidade", C::kNoNeed},
    {"nao tenho interesse", C::kNoNeed}, {"nao temos interesse", C::kNoNeed},
    {"sem interesse", C::kNoNeed}, {"nao me interessa", C::kNoNeed},
    {"nao nos interessa", C::kNoNeed}, {"nao faz sentido pra gente", C::kNoNeed},
    {"nao faz sentido para nos", C::kNoNeed}, {"ja temos um sistema", C::kNoNeed},
    {"ja temos uma ferramenta", C::kNoNeed}, {"ja temos uma solucao", C::kNoNeed},
    {"ja temos um fornecedor", C::kNoNeed}, {"ja usamos outro", C::kNoNeed},
    {"ja usamos outra", C::kNoNeed}, {"dont need it", C::kNoNeed},
    {"dont need this", C::kNoNeed}, {"dont need that", C::kNoNeed},
    {"do not need it", C::kNoNeed}, {"no need for it", C::kNoNeed},
    {"not interested", C::kNoNeed}, {"we already have a", C::kNoNeed},
    {"doesnt make sense for us", C::kNoNeed},

    // Pain points.
    {"roi", C::kRoi}, {"retorno do investimento", C::kRoi},
    {"retorno sobre o investimento", C::kRoi}, {"retorno sobre investimento", C::kRoi},
    {"vejo retorno", C::kRoi}, {"vejo o retorno", C::kRoi}, {"ver retorno", C::kRoi},
    {"ver o retorno", C::kRoi}, {"ter retorno", C::kRoi}, {"teremos retorno", C::kRoi},
    {"vale o investimento", C::kRoi}, {"valer o investimento", C::kRoi},
    {"compensa o investimento", C::kRoi}, {"return on investment", C::kRoi},
    {"payback", C::kRoi}, {"see the value", C::kRoi}, {"see value", C::kRoi},
    {"worth the investment", C::kRoi},
    {"nao esta claro", C::kUnclear}, {"nao ta claro", C::kUnclear},
    {"nao e claro", C::kUnclear}, {"nao ficou claro", C::kUnclear},
    {"nao fica claro", C::kUnclear}, {"pouco claro", C::kUnclear}, {"incerto", C::kUnclear},
    {"incerta", C::kUnclear}, {"duvidoso", C::kUnclear}, {"duvida", C::kUnclear},
    {"duvidas", C::kUnclear}, {"nao sei se", C::kUnclear}, {"questionavel", C::kUnclear},
    {"unclear", C::kUnclear}, {"not clear", C::kUnclear}, {"isnt clear", C::kUnclear},
    {"not sure", C::kUnclear}, {"uncertain", C::kUnclear}, {"hard to see", C::kUnclear},
    {"dificil de ver", C::kUnclear}, {"dificil de medir", C::kUnclear},
    {"hard to measure", C::kUnclear}, {"hard to justify", C::kUnclear},
    {"dificil de justificar", C::kUnclear}, {"dificil justificar", C::kUnclear},
    {"cant justify", C::kUnclear}, {"baixo", C::kUnclear}, {"low", C::kUnclear},
    {"ruim", C::kUnclear}, {"negativo", C::kUnclear},
    {"lento", C::kSlow}, {"lenta", C::kSlow}, {"lentos", C::kSlow}, {"lentas", C::kSlow},
    {"lentidao", C::kSlow}, {"devagar", C::kSlow}, {"travando", C::kSlow}, {"trava", C::kSlow},
    {"travou", C::kSlow}, {"travado", C::kSlow}, {"travada", C::kSlow},
    {"travamentos", C::kSlow}, {"demora muito? para carregar", C::kSlow},
    {"demora muito? pra carregar", C::kSlow}, {"demora muito? para abrir", C::kSlow},
    {"demora muito? pra abrir", C::kSlow}, {"fica caindo", C::kSlow},
    {"cai toda hora", C::kSlow}, {"slow", C::kSlow}, {"sluggish", C::kSlow},
    {"laggy", C::kSlow}, {"lagging", C::kSlow}, {"freezes", C::kSlow}, {"freezing", C::kSlow},
    {"crashes", C::kSlow}, {"crashing", C::kSlow}, {"takes forever to load", C::kSlow},
    {"takes ages to load", C::kSlow},
    {"desempenho", C::kPerfTopic}, {"performance", C::kPerfTopic},
    {"velocidade", C::kPerfTopic}, {"speed", C::kPerfTopic},
    {"planilha", C::kManual}, {"planilhas", C::kManual}, {"excel", C::kManual},
    {"spreadsheet", C::kManual}, {"spreadsheets", C::kManual},
    {"trabalho manual", C::kManual}, {"processo manual", C::kManual},
    {"processos manuais", C::kManual}, {"manualmente", C::kManual}, {"manual", C::kManual},
    {"retrabalho", C::kManual}, {"copiar e colar", C::kManual}, {"copia e cola", C::kManual},
    {"papel", C::kManual}, {"caderno", C::kManual}, {"manual work", C::kManual},
    {"by hand", C::kManual}, {"manually", C::kManual}, {"copy paste", C::kManual},
    {"copy and paste", C::kManual}, {"double entry", C::kManual}, {"rework", C::kManual},
    {"ainda usamos", C::kManualCue}, {"ainda uso", C::kManualCue},
    {"ainda fazemos", C::kManualCue}, {"fazemos tudo", C::kManualCue},
    {"faco tudo", C::kManualCue}, {"tudo em", C::kManualCue}, {"tudo no", C::kManualCue},
    {"tudo na", C::kManualCue}, {"dependemos de", C::kManualCue},
    {"dependemos do", C::kManualCue}, {"dependemos da", C::kManualCue},
    {"still use", C::kManualCue}, {"still using", C::kManualCue},
    {"everything in", C::kManualCue}, {"everything on", C::kManualCue},
    {"rely on", C::kManualCue},
    {"perdemos muito? tempo", C::kTimeWaste}, {"perco muito? tempo", C::kTimeWaste},
    {"perdendo muito? tempo", C::kTimeWaste}, {"perda de tempo", C::kTimeWaste},
    {"gastamos muito? tempo", C::kTimeWaste}, {"gasto muito? tempo", C::kTimeWaste},
    {"leva muito tempo", C::kTimeWaste}, {"leva horas", C::kTimeWaste},
    {"levamos horas", C::kTimeWaste}, {"toma muito? tempo", C::kTimeWaste},
    {"waste time", C::kTimeWaste}, {"wasting time", C::kTimeWaste},
    {"waste a lot of time", C::kTimeWaste}, {"wasting a lot of time", C::kTimeWaste},
    {"lose time", C::kTimeWaste}, {"losing time", C::kTimeWaste},
    {"lose a lot of time", C::kTimeWaste}, {"takes hours", C::kTimeWaste},
    {"takes a lot of time", C::kTimeWaste}, {"time consuming", C::kTimeWaste},
    {"spend hours", C::kTimeWaste}, {"spending hours", C::kTimeWaste},
    {"spend a lot of time", C::kTimeWaste},
    {"dificil", C::kPainWord}, {"complicado", C::kPainWord}, {"complicada", C::kPainWord},
    {"confuso", C::kPainWord}, {"confusa", C::kPainWord}, {"bagunca", C::kPainWord},
    {"baguncado", C::kPainWord}, {"caos", C::kPainWord}, {"caotico", C::kPainWord},
    {"problema", C::kPainWord}, {"problemas", C::kPainWord}, {"erro", C::kPainWord},
    {"erros", C::kPainWord}, {"chato", C::kPainWord}, {"cansativo", C::kPainWord},
    {"trabalhoso", C::kPainWord}, {"ruim", C::kPainWord}, {"pessimo", C::kPainWord},
    {"horrivel", C::kPainWord}, {"dor de cabeca", C::kPainWord}, {"hard", C::kPainWord},
    {"difficult", C::kPainWord}, {"painful", C::kPainWord}, {"mess", C::kPainWord},
    {"messy", C::kPainWord}, {"chaos", C::kPainWord}, {"chaotic", C::kPainWord},
    {"tedious", C::kPainWord}, {"nightmare", C::kPainWord}, {"pesadelo", C::kPainWord},
    {"headache", C::kPainWord}, {"errors", C::kPainWord}, {"mistakes", C::kPainWord},
    {"problem", C::kPainWord}, {"problems", C::kPainWord},
    {"suporte", C::kSupport}, {"atendimento", C::kSupport}, {"sac", C::kSupport},
    {"helpdesk", C::kSupport}, {"help desk", C::kSupport}, {"support", C::kSupport},
    {"customer service", C::kSupport}, {"customer support", C::kSupport},
    {"service desk", C::kSupport},
    {"demora", C::kSupportBad}, {"demoram", C::kSupportBad}, {"demorou", C::kSupportBad},
    {"demorando", C::kSupportBad}, {"leva dias", C::kSupportBad},
    {"nao responde", C::kSupportBad}, {"nao respondem", C::kSupportBad},
    {"nao responderam", C::kSupportBad}, {"nunca responde", C::kSupportBad},
    {"nunca respondem", C::kSupportBad}, {"sem resposta", C::kSupportBad},
    {"ruim", C::kSupportBad}, {"pessimo", C::kSupportBad}, {"pessima", C::kSupportBad},
    {"horrivel", C::kSupportBad}, {"lento", C::kSupportBad}, {"lenta", C::kSupportBad},
    {"fraco", C::kSupportBad}, {"fraca", C::kSupportBad}, {"deixa a desejar", C::kSupportBad},
    {"takes days", C::kSupportBad}, {"take days", C::kSupportBad},
    {"takes weeks", C::kSupportBad}, {"takes forever", C::kSupportBad},
    {"took days", C::kSupportBad}, {"slow", C::kSupportBad}, {"bad", C::kSupportBad},
    {"terrible", C::kSupportBad}, {"awful", C::kSupportBad}, {"poor", C::kSupportBad},
    {"never answers", C::kSupportBad}, {"never answer", C::kSupportBad},
    {"never respond", C::kSupportBad}, {"never responds", C::kSupportBad},
    {"never replies", C::kSupportBad}, {"doesnt answer", C::kSupportBad},
    {"dont answer", C::kSupportBad}, {"doesnt respond", C::kSupportBad},
    {"dont respond", C::kSupportBad}, {"doesnt reply", C::kSupportBad},
    {"no response", C::kSupportBad}, {"no answer", C::kSupportBad},
    {"unresponsive", C::kSupportBad},
    {"ninguem responde", C::kSupportBadAlone}, {"ninguem me responde", C::kSupportBadAlone},
    {"ninguem atende", C::kSupportBadAlone}, {"ninguem retorna", C::kSupportBadAlone},
    {"nunca me respondem", C::kSupportBadAlone}, {"fico sem resposta", C::kSupportBadAlone},
    {"ficamos sem resposta", C::kSupportBadAlone}, {"nobody answers", C::kSupportBadAlone},
    {"nobody responds", C::kSupportBadAlone}, {"nobody replies", C::kSupportBadAlone},
    {"no one answers", C::kSupportBadAlone}, {"no one responds", C::kSupportBadAlone},
    {"never get an answer", C::kSupportBadAlone},
    {"never get a response", C::kSupportBadAlone},
    {"perdemos muitos? clientes", C::kLostSales}, {"perdemos muitas? vendas", C::kLostSales},
    {"perdemos muitos? leads", C::kLostSales}, {"perdendo muitos? clientes", C::kLostSales},
    {"perdendo muitas? vendas", C::kLostSales}, {"perdendo muitos? leads", C::kLostSales},
    {"perdemos muitas? oportunidades", C::kLostSales},
    {"perdendo muitas? oportunidades", C::kLostSales}, {"leads se perdem", C::kLostSales},
    {"clientes se perdem", C::kLostSales}, {"mensagens se perdem", C::kLostSales},
    {"perdemos muitas? mensagens", C::kLostSales}, {"losing customers", C::kLostSales},
    {"losing sales", C::kLostSales}, {"losing leads", C::kLostSales},
    {"lose customers", C::kLostSales}, {"lose sales", C::kLostSales},
    {"lose leads", C::kLostSales}, {"lost leads", C::kLostSales},
    {"lost sales", C::kLostSales}, {"missed messages", C::kLostSales},
    {"messages get lost", C::kLostSales}, {"leads get lost", C::kLostSales},
    {"fall through the cracks", C::kLostSales},
    {"nao integra", C::kIntegrationBad}, {"nao se integra", C::kIntegrationBad},
    {"nao integram", C::kIntegrationBad}, {"sem integracao", C::kIntegrationBad},
    {"falta integracao", C::kIntegrationBad}, {"falta de integracao", C::kIntegrationBad},
    {"nao conversa com", C::kIntegrationBad}, {"nao conversam", C::kIntegrationBad},
    {"sistemas separados", C::kIntegrationBad}, {"doesnt integrate", C::kIntegrationBad},
    {"does not integrate", C::kIntegrationBad}, {"dont integrate", C::kIntegrationBad},
    {"no integration", C::kIntegrationBad}, {"lack of integration", C::kIntegrationBad},
    {"not integrated", C::kIntegrationBad}, {"separate systems", C::kIntegrationBad},
    {"dificil de usar", C::kUsabilityBad}, {"complicado de usar", C::kUsabilityBad},
    {"dificil de mexer", C::kUsabilityBad}, {"complicado de mexer", C::kUsabilityBad},
    {"confuso de usar", C::kUsabilityBad}, {"nada intuitivo", C::kUsabilityBad},
    {"pouco intuitivo", C::kUsabilityBad}, {"nao e intuitivo", C::kUsabilityBad},
    {"dificil de entender", C::kUsabilityBad}, {"hard to use", C::kUsabilityBad},
    {"difficult to use", C::kUsabilityBad}, {"confusing to use", C::kUsabilityBad},
    {"not intuitive", C::kUsabilityBad}, {"not user friendly", C::kUsabilityBad},
    {"not userfriendly", C::kUsabilityBad}, {"clunky", C::kUsabilityBad},
    {"hard to understand", C::kUsabilityBad}, {"hard to learn", C::kUsabilityBad},
    {"sem visibilidade", C::kVisibility}, {"falta de visibilidade", C::kVisibility},
    {"nao temos visibilidade", C::kVisibility}, {"nao temos controle", C::kVisibility},
    {"nao tenho controle", C::kVisibility}, {"falta de controle", C::kVisibility},
    {"sem controle", C::kVisibility}, {"perdemos o controle", C::kVisibility},
    {"nao consigo acompanhar", C::kVisibility},
    {"nao conseguimos acompanhar", C::kVisibility}, {"no visibility", C::kVisibility},
    {"lack of visibility", C::kVisibility}, {"no control", C::kVisibility},
    {"lack of control", C::kVisibility}, {"cant track", C::kVisibility},
    {"hard to track", C::kVisibility},
    {"nosso maior problema e", C::kPainLead}, {"meu maior problema e", C::kPainLead},
    {"o maior problema e", C::kPainLead}, {"nossa maior dificuldade e", C::kPainLead},
    {"minha maior dificuldade e", C::kPainLead}, {"a maior dificuldade e", C::kPainLead},
    {"nossa dor e", C::kPainLead}, {"nossa principal dor e", C::kPainLead},
    {"a dor e", C::kPainLead}, {"o problema e que", C::kPainLead},
    {"o problema e", C::kPainLead}, {"nosso problema e", C::kPainLead},
    {"meu problema e", C::kPainLead}, {"temos dificuldade com", C::kPainLead},
    {"temos dificuldade em", C::kPainLead}, {"temos dificuldade de", C::kPainLead},
    {"tenho dificuldade com", C::kPainLead}, {"tenho dificuldade em", C::kPainLead},
    {"tenho dificuldade de", C::kPainLead}, {"sofremos com", C::kPainLead},
    {"sofro com", C::kPainLead}, {"our biggest problem is", C::kPainLead},
    {"my biggest problem is", C::kPainLead}, {"the biggest problem is", C::kPainLead},
    {"our main problem is", C::kPainLead}, {"the main problem is", C::kPainLead},
    {"our problem is", C::kPainLead}, {"the problem is", C::kPainLead},
    {"our biggest challenge is", C::kPainLead}, {"the biggest challenge is", C::kPainLead},
    {"our main challenge is", C::kPainLead}, {"we struggle with", C::kPainLead},
    {"struggling with", C::kPainLead}, {"we have trouble with", C::kPainLead},
    {"we have a hard time with", C::kPainLead},

    // Goals: a cue, then an action within three tokens.
    {"queremos", C::kGoalCue}, {"quero", C::kGoalCue}, {"objetivo", C::kGoalCue},
    {"quer", C::kGoalCue}, {"queria", C::kGoalCue}, {"queriamos", C::kGoalCue},
    {"precisa", C::kGoalCue}, {"desejamos", C::kGoalCue}, {"desejo", C::kGoalCue},
    {"meta", C::kGoalCue}, {"pretendemos", C::kGoalCue}, {"pretendo", C::kGoalCue},
    {"buscamos", C::kGoalCue}, {"busco", C::kGoalCue}, {"estamos buscando", C::kGoalCue},
    {"estou buscando", C::kGoalCue}, {"estamos querendo", C::kGoalCue},
    {"estou querendo", C::kGoalCue}, {"gostariamos de", C::kGoalCue},
    {"gostaria de", C::kGoalCue}, {"precisamos", C::kGoalCue}, {"preciso", C::kGoalCue},
    {"foco", C::kGoalCue}, {"a ideia e", C::kGoalCue}, {"o plano e", C::kGoalCue},
    {"nosso plano e", C::kGoalCue}, {"vamos", C::kGoalCue}, {"temos que", C::kGoalCue},
    {"tenho que", C::kGoalCue}, {"goal", C::kGoalCue}, {"objective", C::kGoalCue},
    {"aim", C::kGoalCue}, {"we want", C::kGoalCue}, {"i want", C::kGoalCue},
    {"we need", C::kGoalCue}, {"i need", C::kGoalCue}, {"trying", C::kGoalCue},
    {"we plan", C::kGoalCue}, {"we hope", C::kGoalCue}, {"looking", C::kGoalCue},
    {"we would like", C::kGoalCue}, {"wed like", C::kGoalCue}, {"id like", C::kGoalCue},
    {"i would like", C::kGoalCue}, {"the idea is", C::kGoalCue}, {"the plan is", C::kGoalCue},
    {"we must", C::kGoalCue}, {"we have to", C::kGoalCue}, {"want", C::kGoalCue},
    {"need", C::kGoalCue},
    {"aumentar", C::kGoalVerb, "increase"}, {"crescer", C::kGoalVerb, "grow"},
    {"reduzir", C::kGoalVerb, "reduce"}, {"diminuir", C::kGoalVerb, "reduce"},
    {"baixar", C::kGoalVerb, "reduce"}, {"cortar", C::kGoalVerb, "cut"},
    {"melhorar", C::kGoalVerb, "improve"}, {"otimizar", C::kGoalVerb, "optimize"},
    {"dobrar", C::kGoalVerb, "double"}, {"triplicar", C::kGoalVerb, "triple"},
    {"automatizar", C::kGoalVerb, "automate"}, {"organizar", C::kGoalVerb, "organize"},
    {"escalar", C::kGoalVerb, "scale"}, {"expandir", C::kGoalVerb, "expand"},
    {"centralizar", C::kGoalVerb, "centralize"}, {"unificar", C::kGoalVerb, "centralize"},
    {"integrar", C::kGoalVerb, "integrate"}, {"economizar", C::kGoalVerb, "save"},
    {"poupar", C::kGoalVerb, "save"}, {"agilizar", C::kGoalVerb, "speed_up"},
    {"acelerar", C::kGoalVerb, "speed_up"}, {"eliminar", C::kGoalVerb, "eliminate"},
    {"zerar", C::kGoalVerb, "eliminate"}, {"acabar com", C::kGoalVerb, "eliminate"},
    {"atingir", C::kGoalVerb, "reach"}, {"alcancar", C::kGoalVerb, "reach"},
    {"bater", C::kGoalVerb, "reach"}, {"vender", C::kGoalVerb, "sell"},
    {"lancar", C::kGoalVerb, "launch"}, {"abrir", C::kGoalVerb, "open"},
    {"padronizar", C::kGoalVerb, "standardize"}, {"digitalizar", C::kGoalVerb, "digitize"},
    {"profissionalizar", C::kGoalVerb, "professionalize"}, {"gerar", C::kGoalVerb, "generate"},
    {"captar", C::kGoalVerb, "generate"}, {"converter", C::kGoalVerb, "convert"},
    {"fidelizar", C::kGoalVerb, "retain"}, {"reter", C::kGoalVerb, "retain"},
    {"conquistar", C::kGoalVerb, "win"}, {"increase", C::kGoalVerb, "increase"},
    {"boost", C::kGoalVerb, "increase"}, {"raise", C::kGoalVerb, "increase"},
    {"grow", C::kGoalVerb, "grow"}, {"reduce", C::kGoalVerb, "reduce"},
    {"decrease", C::kGoalVerb, "reduce"}, {"lower", C::kGoalVerb, "reduce"},
    {"cut", C::kGoalVerb, "cut"}, {"improve", C::kGoalVerb, "improve"},
    {"optimize", C::kGoalVerb, "optimize"}, {"optimise", C::kGoalVerb, "optimize"},
    {"double", C::kGoalVerb, "double"}, {"triple", C::kGoalVerb, "triple"},
    {"automate", C::kGoalVerb, "automate"}, {"organize", C::kGoalVerb, "organize"},
    {"organise", C::kGoalVerb, "organize"}, {"scale", C::kGoalVerb, "scale"},
    {"expand", C::kGoalVerb, "expand"}, {"centralize", C::kGoalVerb, "centralize"},
    {"centralise", C::kGoalVerb, "centralize"}, {"unify", C::kGoalVerb, "centralize"},
    {"integrate", C::kGoalVerb, "integrate"}, {"save", C::kGoalVerb, "save"},
    {"speed up", C::kGoalVerb, "speed_up"}, {"accelerate", C::kGoalVerb, "speed_up"},
    {"eliminate", C::kGoalVerb, "eliminate"}, {"reach", C::kGoalVerb, "reach"},
    {"hit", C::kGoalVerb, "reach"}, {"achieve", C::kGoalVerb, "reach"},
    {"sell", C::kGoalVerb, "sell"}, {"launch", C::kGoalVerb, "launch"},
    {"open", C::kGoalVerb, "open"}, {"standardize", C::kGoalVerb, "standardize"},
    {"digitize", C::kGoalVerb, "digitize"}, {"generate", C::kGoalVerb, "generate"},
    {"convert", C::kGoalVerb, "convert"}, {"retain", C::kGoalVerb, "retain"},
    {"win", C::kGoalVerb, "win"}, {"close more", C::kGoalVerb, "close_more"},

    // Preferences.
    {"prefiro", C::kPrefer}, {"preferimos", C::kPrefer}, {"preferia", C::kPrefer},
    {"preferiria", C::kPrefer}, {"preferencia", C::kPrefer}, {"preferencialmente", C::kPrefer},
    {"prefer", C::kPrefer}, {"prefers", C::kPrefer}, {"preferably", C::kPrefer},
    {"preferred", C::kPrefer}, {"id rather", C::kPrefer}, {"would rather", C::kPrefer},
    {"e melhor", C::kBetter}, {"eh melhor", C::kBetter}, {"fica melhor", C::kBetter},
    {"funciona melhor", C::kBetter}, {"e mais facil", C::kBetter},
    {"e mais pratico", C::kBetter}, {"e o melhor", C::kBetter}, {"is better", C::kBetter},
    {"works better", C::kBetter}, {"is best", C::kBetter}, {"works best", C::kBetter},
    {"is easier", C::kBetter}, {"is the best", C::kBetter},
    {"melhor forma", C::kBestWay}, {"melhor jeito", C::kBestWay},
    {"melhor maneira", C::kBestWay}, {"melhor canal", C::kBestWay},
    {"melhor meio", C::kBestWay}, {"melhor contato", C::kBestWay}, {"melhor e", C::kBestWay},
    {"melhor pelo", C::kBestWay}, {"melhor por", C::kBestWay}, {"melhor via", C::kBestWay},
    {"best way", C::kBestWay}, {"best channel", C::kBestWay}, {"easiest way", C::kBestWay},
    {"better by", C::kBestWay}, {"better via", C::kBestWay}, {"better on", C::kBestWay},
    {"melhor horario", C::kTimeCue}, {"melhor hora", C::kTimeCue},
    {"melhor periodo", C::kTimeCue}, {"melhores horarios", C::kTimeCue},
    {"so posso", C::kTimeCue}, {"so consigo", C::kTimeCue}, {"best time", C::kTimeCue},
    {"best times", C::kTimeCue}, {"only available", C::kTimeCue},
    {"im available", C::kTimeCue}, {"estou disponivel", C::kTimeCue},
    {"me chama", C::kContactMe}, {"me chame", C::kContactMe}, {"pode me chamar", C::kContactMe},
    {"fala comigo", C::kContactMe}, {"falar comigo", C::kContactMe},
    {"me contata", C::kContactMe}, {"me contate", C::kContactMe},
    {"me contatar", C::kContactMe}, {"me contatem", C::kContactMe},
    {"entre em contato", C::kContactMe}, {"entrar em contato", C::kContactMe},
    {"contact me", C::kContactMe}, {"reach me", C::kContactMe}, {"message me", C::kContactMe},
    {"ser contatado", C::kContactMe}, {"ser contatada", C::kContactMe},
    {"ser contactado", C::kContactMe}, {"be contacted", C::kContactMe},
    {"nao me liga", C::kNoCalls}, {"nao me ligue", C::kNoCalls}, {"nao me liguem", C::kNoCalls},
    {"nao ligue", C::kNoCalls}, {"nao liguem", C::kNoCalls}, {"nao precisa ligar", C::kNoCalls},
    {"nao precisam ligar", C::kNoCalls}, {"sem ligacoes", C::kNoCalls},
    {"nao gosto de ligacao", C::kNoCalls}, {"nao gosto de ligacoes", C::kNoCalls},
    {"nao atendo ligacao", C::kNoCalls}, {"nao atendo ligacoes", C::kNoCalls},
    {"nao atendo telefone", C::kNoCalls}, {"dont call", C::kNoCalls},
    {"do not call", C::kNoCalls}, {"no calls", C::kNoCalls}, {"no phone calls", C::kNoCalls},
    {"dont like calls", C::kNoCalls}, {"dont like phone calls", C::kNoCalls},
    {"whatsapp", C::kChannel, "whatsapp"}, {"whats", C::kChannel, "whatsapp"},
    {"wpp", C::kChannel, "whatsapp"}, {"zap", C::kChannel, "whatsapp"},
    {"zapzap", C::kChannel, "whatsapp"}, {"email", C::kChannel, "email"},
    {"emails", C::kChannel, "email"}, {"e mail", C::kChannel, "email"},
    {"mail", C::kChannel, "email"}, {"telefone", C::kChannel, "phone"},
    {"ligacao", C::kChannel, "phone"}, {"ligacoes", C::kChannel, "phone"},
    {"ligar", C::kChannel, "phone"}, {"telefonema", C::kChannel, "phone"},
    {"call", C::kChannel, "phone"}, {"calls", C::kChannel, "phone"},
    {"phone", C::kChannel, "phone"}, {"sms", C::kChannel, "sms"},
    {"text message", C::kChannel, "sms"}, {"telegram", C::kChannel, "telegram"},
    {"instagram", C::kChannel, "instagram"}, {"insta", C::kChannel, "instagram"},
    {"direct", C::kChannel, "instagram"}, {"dm", C::kChannel, "instagram"},
    {"video chamada", C::kChannel, "video"}, {"videochamada", C::kChannel, "video"},
    {"video call", C::kChannel, "video"}, {"zoom", C::kChannel, "video"},
    {"google meet", C::kChannel, "video"}, {"meet", C::kChannel, "video"},
    {"presencial", C::kChannel, "in_person"}, {"pessoalmente", C::kChannel, "in_person"},
    {"in person", C::kChannel, "in_person"}, {"face to face", C::kChannel, "in_person"},
    {"linkedin", C::kChannel, "linkedin"},
    {"de manha", C::kTimeOfDay, "morning"}, {"pela manha", C::kTimeOfDay, "morning"},
    {"da manha", C::kTimeOfDay, "morning"}, {"manhas", C::kTimeOfDay, "morning"},
    {"in the morning", C::kTimeOfDay, "morning"}, {"mornings", C::kTimeOfDay, "morning"},
    {"morning", C::kTimeOfDay, "morning"}, {"a tarde", C::kTimeOfDay, "afternoon"},
    {"de tarde", C::kTimeOfDay, "afternoon"}, {"pela tarde", C::kTimeOfDay, "afternoon"},
    {"da tarde", C::kTimeOfDay, "afternoon"}, {"tardes", C::kTimeOfDay, "afternoon"},
    {"in the afternoon", C::kTimeOfDay, "afternoon"},
    {"afternoons", C::kTimeOfDay, "afternoon"}, {"afternoon", C::kTimeOfDay, "afternoon"},
    {"a noite", C::kTimeOfDay, "evening"}, {"de noite", C::kTimeOfDay, "evening"},
    {"pela noite", C::kTimeOfDay, "evening"}, {"da noite", C::kTimeOfDay, "evening"},
    {"noites", C::kTimeOfDay, "evening"}, {"in the evening", C::kTimeOfDay, "evening"},
    {"evenings", C::kTimeOfDay, "evening"}, {"evening", C::kTimeOfDay, "evening"},
    {"at night", C::kTimeOfDay, "evening"},
    {"horario comercial", C::kTimeOfDay, "business_hours"},
    {"business hours", C::kTimeOfDay, "business_hours"},
    {"office hours", C::kTimeOfDay, "business_hours"},
    {"fim de semana", C::kTimeOfDay, "weekend"}, {"final de semana", C::kTimeOfDay, "weekend"},
    {"fins de semana", C::kTimeOfDay, "weekend"}, {"weekend", C::kTimeOfDay, "weekend"},
    {"weekends", C::kTimeOfDay, "weekend"}, {"hora do almoco", C::kTimeOfDay, "lunch"},
    {"horario de almoco", C::kTimeOfDay, "lunch"}, {"lunchtime", C::kTimeOfDay, "lunch"},
    {"depois das", C::kClockAfter}, {"depois da", C::kClockAfter}, {"apos as", C::kClockAfter},
    {"apos", C::kClockAfter}, {"a partir das", C::kClockAfter}, {"after", C::kClockAfter},
    {"antes das", C::kClockBefore}, {"antes da", C::kClockBefore},
    {"ate as", C::kClockBefore}, {"before", C::kClockBefore},
    {"ingles", C::kLanguage, "en"}, {"english", C::kLanguage, "en"},
    {"portugues", C::kLanguage, "pt"}, {"portuguese", C::kLanguage, "pt"},
    {"espanhol", C::kLanguage, "es"}, {"spanish", C::kLanguage, "es"},
    {"pix", C::kPayMethod, "pix"}, {"boleto", C::kPayMethod, "boleto"},
    {"cartao de credito", C::kPayMethod, "credit_card"},
    {"cartao", C::kPayMethod, "credit_card"}, {"credito", C::kPayMethod, "credit_card"},
    {"credit card", C::kPayMethod, "credit_card"}, {"card", C::kPayMethod, "credit_card"},
    {"debito", C::kPayMethod, "debit_card"}, {"debit card", C::kPayMethod, "debit_card"},
    {"transferencia", C::kPayMethod, "bank_transfer"},
    {"bank transfer", C::kPayMethod, "bank_transfer"},
    {"wire transfer", C::kPayMethod, "bank_transfer"}, {"paypal", C::kPayMethod, "paypal"},

    // Technical details.
    {"erro", C::kErrorCue}, {"error", C::kErrorCue}, {"err", C::kErrorCue},
    {"falha", C::kErrorCue}, {"exception", C::kErrorCue}, {"excecao", C::kErrorCue},
    {"status", C::kErrorCue}, {"http", C::kErrorCue}, {"bug", C::kErrorCue},
    {"codigo", C::kCodeCue}, {"code", C::kCodeCue}, {"cod", C::kCodeCue},
    {"versao", C::kVersionCue}, {"version", C::kVersionCue}, {"release", C::kVersionCue},
    {"build", C::kVersionCue},
    {"android", C::kPlatform, "Android"}, {"ios", C::kPlatform, "iOS"},
    {"iphone", C::kPlatform, "iOS"}, {"ipad", C::kPlatform, "iOS"},
    {"windows", C::kPlatform, "Windows"}, {"macos", C::kPlatform, "macOS"},
    {"mac", C::kPlatform, "macOS"}, {"macbook", C::kPlatform, "macOS"},
    {"linux", C::kPlatform, "Linux"}, {"ubuntu", C::kPlatform, "Linux"},
    {"chrome", C::kPlatform, "Chrome"}, {"safari", C::kPlatform, "Safari"},
    {"firefox", C::kPlatform, "Firefox"},
    {"shopify", C::kProduct, "Shopify"}, {"hubspot", C::kProduct, "HubSpot"},
    {"salesforce", C::kProduct, "Salesforce"}, {"pipedrive", C::kProduct, "Pipedrive"},
    {"rd station", C::kProduct, "RD Station"}, {"rdstation", C::kProduct, "RD Station"},
    {"bling", C::kProduct, "Bling"}, {"omie", C::kProduct, "Omie"},
    {"totvs", C::kProduct, "TOTVS"}, {"sap", C::kProduct, "SAP"},
    {"zapier", C::kProduct, "Zapier"}, {"nuvemshop", C::kProduct, "Nuvemshop"},
    {"woocommerce", C::kProduct, "WooCommerce"}, {"vtex", C::kProduct, "VTEX"},
    {"mercado livre", C::kProduct, "Mercado Livre"},
    {"google sheets", C::kProduct, "Google Sheets"}, {"wordpress", C::kProduct, "WordPress"},
    {"magento", C::kProduct, "Magento"}, {"zoho", C::kProduct, "Zoho"},
    {"trello", C::kProduct, "Trello"}, {"slack", C::kProduct, "Slack"},
    {"zendesk", C::kProduct, "Zendesk"}, {"intercom", C::kProduct, "Intercom"},
    {"twilio", C::kProduct, "Twilio"}, {"zenvia", C::kProduct, "Zenvia"},
    {"blip", C::kProduct, "Blip"}, {"kommo", C::kProduct, "Kommo"},
    {"agendor", C::kProduct, "Agendor"}, {"ploomes", C::kProduct, "Ploomes"},
    {"conta azul", C::kProduct, "Conta Azul"}, {"hotmart", C::kProduct, "Hotmart"},
    {"n8n", C::kProduct, "n8n"}, {"chatgpt", C::kProduct, "ChatGPT"},
    {"google ads", C::kProduct, "Google Ads"}, {"facebook ads", C::kProduct, "Facebook Ads"},
    {"uso", C::kUseVerb}, {"usamos", C::kUseVerb}, {"utilizo", C::kUseVerb},
    {"utilizamos", C::kUseVerb}, {"usando", C::kUseVerb}, {"trabalhamos com", C::kUseVerb},
    {"use", C::kUseVerb}, {"using", C::kUseVerb}, {"we use", C::kUseVerb},
    {"nao uso mais", C::kStopUsing}, {"nao usamos mais", C::kStopUsing},
    {"deixei de usar", C::kStopUsing}, {"deixamos de usar", C::kStopUsing},
    {"parei de usar", C::kStopUsing}, {"paramos de usar", C::kStopUsing},
    {"stopped using", C::kStopUsing}, {"no longer use", C::kStopUsing},
    {"no longer using", C::kStopUsing}, {"switched from", C::kStopUsing},
    {"migramos do", C::kStopUsing}, {"migramos da", C::kStopUsing},
    {"saimos do", C::kStopUsing}, {"saimos da", C::kStopUsing},

    // Personal details.
    {"tenho", C::kHave}, {"temos", C::kHave}, {"possuo", C::kHave}, {"possuimos", C::kHave},
    {"have", C::kHave}, {"has", C::kHave}, {"ive got", C::kHave}, {"weve got", C::kHave},
    {"pai de", C::kHave}, {"mae de", C::kHave}, {"father of", C::kHave},
    {"mother of", C::kHave}, {"mom of", C::kHave}, {"dad of", C::kHave},
    {"filho", C::kChildren}, {"filhos", C::kChildren}, {"filha", C::kChildren},
    {"filhas", C::kChildren}, {"criancas", C::kChildren}, {"kids", C::kChildren},
    {"kid", C::kChildren}, {"children", C::kChildren}, {"child", C::kChildren},
    {"sons", C::kChildren}, {"son", C::kChildren}, {"daughters", C::kChildren},
    {"daughter", C::kChildren},
    {"meu nome e", C::kNameCue}, {"meu nome eh", C::kNameCue}, {"me chamo", C::kNameCue},
    {"my name is", C::kNameCue}, {"my names", C::kNameCue}, {"aqui e o", C::kNameCue},
    {"aqui e a", C::kNameCue}, {"quem fala e", C::kNameCue}, {"this is", C::kNameCue},
    {"sou o", C::kNameCue}, {"sou a", C::kNameCue}, {"eu sou o", C::kNameCue},
    {"eu sou a", C::kNameCue}, {"here is", C::kNameCue},
    {"moro em", C::kLocationCue}, {"moro no", C::kLocationCue}, {"moro na", C::kLocationCue},
    {"sou de", C::kLocationCue}, {"resido em", C::kLocationCue}, {"vivo em", C::kLocationCue},
    {"i live in", C::kLocationCue}, {"im from", C::kLocationCue},
    {"i am from", C::kLocationCue},
    {"somos de", C::kBizLocationCue}, {"estamos em", C::kBizLocationCue},
    {"ficamos em", C::kBizLocationCue}, {"nossa sede e em", C::kBizLocationCue},
    {"nossa sede fica em", C::kBizLocationCue}, {"sediados em", C::kBizLocationCue},
    {"sediada em", C::kBizLocationCue}, {"localizados em", C::kBizLocationCue},
    {"localizada em", C::kBizLocationCue}, {"based in", C::kBizLocationCue},
    {"located in", C::kBizLocationCue}, {"our office is in", C::kBizLocationCue},
    {"nosso escritorio fica em", C::kBizLocationCue},
    {"sou", C::kRoleCue}, {"trabalho como", C::kRoleCue}, {"atuo como", C::kRoleCue},
    {"im", C::kRoleCue}, {"i am", C::kRoleCue}, {"i work as", C::kRoleCue},
    {"my role is", C::kRoleCue}, {"meu cargo e", C::kRoleCue},
    {"dono", C::kRole}, {"dona", C::kRole}, {"proprietario", C::kRole},
    {"proprietaria", C::kRole}, {"socio", C::kRole}, {"socia", C::kRole},
    {"fundador", C::kRole}, {"fundadora", C::kRole}, {"cofundador", C::kRole},
    {"ceo", C::kRole}, {"cto", C::kRole}, {"cfo", C::kRole}, {"coo", C::kRole},
    {"cmo", C::kRole}, {"diretor", C::kRole}, {"diretora", C::kRole}, {"gerente", C::kRole},
    {"coordenador", C::kRole}, {"coordenadora", C::kRole}, {"supervisor", C::kRole},
    {"supervisora", C::kRole}, {"analista", C::kRole}, {"vendedor", C::kRole},
    {"vendedora", C::kRole}, {"consultor", C::kRole}, {"consultora", C::kRole},
    {"responsavel", C::kRole}, {"gestor", C::kRole}, {"gestora", C::kRole},
    {"presidente", C::kRole}, {"administrador", C::kRole}, {"administradora", C::kRole},
    {"medico", C::kRole}, {"medica", C::kRole}, {"dentista", C::kRole},
    {"advogado", C::kRole}, {"advogada", C::kRole}, {"contador", C::kRole},
    {"contadora", C::kRole}, {"corretor", C::kRole}, {"corretora", C::kRole},
    {"owner", C::kRole}, {"founder", C::kRole}, {"cofounder", C::kRole},
    {"manager", C::kRole}, {"director", C::kRole}, {"head", C::kRole}, {"lead", C::kRole},
    {"president", C::kRole}, {"partner", C::kRole}, {"coordinator", C::kRole},
    {"analyst", C::kRole}, {"consultant", C::kRole}, {"administrator", C::kRole},
    {"developer", C::kRole}, {"engineer", C::kRole}, {"doctor", C::kRole},
    {"dentist", C::kRole}, {"lawyer", C::kRole}, {"accountant", C::kRole},
    {"realtor", C::kRole},

    // Business details.
    {"sou da", C::kCompanyCue}, {"sou do", C::kCompanyCue}, {"trabalho na", C::kCompanyCue},
    {"trabalho no", C::kCompanyCue}, {"trabalho para", C::kCompanyCue},
    {"falo da", C::kCompanyCue}, {"falo pela", C::kCompanyCue}, {"falo pelo", C::kCompanyCue},
    {"falo em nome da", C::kCompanyCue}, {"falo em nome do", C::kCompanyCue},
    {"aqui e da", C::kCompanyCue}, {"aqui e do", C::kCompanyCue},
    {"minha empresa e a?", C::kCompanyCue}, {"nossa empresa e a?", C::kCompanyCue},
    {"nossa empresa se chama", C::kCompanyCue}, {"minha empresa se chama", C::kCompanyCue},
    {"a empresa se chama", C::kCompanyCue}, {"i work at", C::kCompanyCue},
    {"i work for", C::kCompanyCue}, {"our company is", C::kCompanyCue},
    {"my company is", C::kCompanyCue}, {"calling from", C::kCompanyCue},
    {"writing from", C::kCompanyCue},
    {"funcionarios", C::kUnit, "employees"}, {"funcionario", C::kUnit, "employees"},
    {"colaboradores", C::kUnit, "employees"}, {"colaborador", C::kUnit, "employees"},
    {"empregados", C::kUnit, "employees"}, {"employees", C::kUnit, "employees"},
    {"employee", C::kUnit, "employees"}, {"staff", C::kUnit, "employees"},
    {"pessoas", C::kUnit, "people"}, {"people", C::kUnit, "people"},
    {"person", C::kUnit, "people"},
    {"vendedores", C::kUnit, "sales_team"}, {"vendedoras", C::kUnit, "sales_team"},
    {"sdrs", C::kUnit, "sales_team"}, {"closers", C::kUnit, "sales_team"},
    {"sales reps", C::kUnit, "sales_team"}, {"reps", C::kUnit, "sales_team"},
    {"salespeople", C::kUnit, "sales_team"}, {"atendentes", C::kUnit, "support_team"},
    {"agentes", C::kUnit, "support_team"}, {"agents", C::kUnit, "support_team"},
    {"operadores", C::kUnit, "support_team"}, {"usuarios", C::kUnit, "users"},
    {"users", C::kUnit, "users"}, {"licencas", C::kUnit, "users"},
    {"licenses", C::kUnit, "users"}, {"seats", C::kUnit, "users"},
    {"acessos", C::kUnit, "users"}, {"clientes", C::kUnit, "customers"},
    {"customers", C::kUnit, "customers"}, {"clients", C::kUnit, "customers"},
    {"lojas", C::kUnit, "locations"}, {"unidades", C::kUnit, "locations"},
    {"filiais", C::kUnit, "locations"}, {"stores", C::kUnit, "locations"},
    {"locations", C::kUnit, "locations"}, {"branches", C::kUnit, "locations"},
    {"mensagens", C::kUnit, "messages"}, {"messages", C::kUnit, "messages"},
    {"conversas", C::kUnit, "messages"}, {"conversations", C::kUnit, "messages"},
    {"atendimentos", C::kUnit, "messages"}, {"chats", C::kUnit, "messages"},
    {"leads", C::kUnit, "leads"},
    {"tenho", C::kOwnCue}, {"temos", C::kOwnCue}, {"somos", C::kOwnCue}, {"sao", C::kOwnCue},
    {"contamos com", C::kOwnCue}, {"precisamos", C::kOwnCue}, {"preciso", C::kOwnCue},
    {"atendemos", C::kOwnCue}, {"recebemos", C::kOwnCue}, {"recebo", C::kOwnCue},
    {"empresa", C::kOwnCue}, {"equipe", C::kOwnCue}, {"time", C::kOwnCue},
    {"base de", C::kOwnCue}, {"carteira de", C::kOwnCue}, {"we have", C::kOwnCue},
    {"we are", C::kOwnCue}, {"were", C::kOwnCue}, {"i have", C::kOwnCue},
    {"we need", C::kOwnCue}, {"we get", C::kOwnCue}, {"we receive", C::kOwnCue},
    {"we serve", C::kOwnCue}, {"our team", C::kOwnCue}, {"my team", C::kOwnCue},
    {"team", C::kOwnCue}, {"company", C::kOwnCue},
    {"trabalho com", C::kIndustryCue}, {"trabalhamos com", C::kIndustryCue},
    {"atuamos com", C::kIndustryCue}, {"atuo com", C::kIndustryCue},
    {"atuamos no ramo de?", C::kIndustryCue}, {"atuo no ramo de?", C::kIndustryCue},
    {"ramo de", C::kIndustryCue}, {"segmento de", C::kIndustryCue},
    {"setor de", C::kIndustryCue}, {"nicho de", C::kIndustryCue},
    {"nosso ramo e", C::kIndustryCue}, {"nosso segmento e", C::kIndustryCue},
    {"nosso setor e", C::kIndustryCue}, {"nosso nicho e", C::kIndustryCue},
    {"somos do ramo de?", C::kIndustryCue}, {"sou do ramo de?", C::kIndustryCue},
    {"mercado de", C::kIndustryCue}, {"we work in", C::kIndustryCue},
    {"i work in", C::kIndustryCue}, {"we are in the", C::kIndustryCue},
    {"were in the", C::kIndustryCue}, {"our industry is", C::kIndustryCue},
    {"we operate in", C::kIndustryCue},
    {"temos uma", C::kIndustryWeakCue}, {"tenho uma", C::kIndustryWeakCue},
    {"somos uma", C::kIndustryWeakCue}, {"temos um", C::kIndustryWeakCue},
    {"tenho um", C::kIndustryWeakCue}, {"somos um", C::kIndustryWeakCue},
    {"sou dono de uma?", C::kIndustryWeakCue}, {"sou dona de uma?", C::kIndustryWeakCue},
    {"we run a", C::kIndustryWeakCue}, {"we run an", C::kIndustryWeakCue},
    {"i run a", C::kIndustryWeakCue}, {"i own a", C::kIndustryWeakCue},
    {"we own a", C::kIndustryWeakCue}, {"we have a", C::kIndustryWeakCue},
    {"we are a", C::kIndustryWeakCue}, {"were a", C::kIndustryWeakCue},
    {"we are an", C::kIndustryWeakCue}, {"were an", C::kIndustryWeakCue},
    {"ecommerce", C::kSegment, "ecommerce"}, {"loja virtual", C::kSegment, "ecommerce"},
    {"loja online", C::kSegment, "ecommerce"}, {"online store", C::kSegment, "ecommerce"},
    {"comercio eletronico", C::kSegment, "ecommerce"}, {"varejo", C::kSegment, "retail"},
    {"retail", C::kSegment, "retail"}, {"loja", C::kSegment, "retail"},
    {"store", C::kSegment, "retail"}, {"shop", C::kSegment, "retail"},
    {"atacado", C::kSegment, "wholesale"}, {"wholesale", C::kSegment, "wholesale"},
    {"clinica odontologica", C::kSegment, "dental"}, {"odontologia", C::kSegment, "dental"},
    {"clinica", C::kSegment, "clinic"}, {"clinic", C::kSegment, "clinic"},
    {"consultorio", C::kSegment, "clinic"}, {"restaurante", C::kSegment, "restaurant"},
    {"restaurant", C::kSegment, "restaurant"}, {"lanchonete", C::kSegment, "restaurant"},
    {"pizzaria", C::kSegment, "restaurant"}, {"escola", C::kSegment, "education"},
    {"school", C::kSegment, "education"}, {"educacao", C::kSegment, "education"},
    {"education", C::kSegment, "education"}, {"cursos", C::kSegment, "education"},
    {"imobiliaria", C::kSegment, "real_estate"}, {"imoveis", C::kSegment, "real_estate"},
    {"real estate", C::kSegment, "real_estate"}, {"academia", C::kSegment, "gym"},
    {"gym", C::kSegment, "gym"}, {"farmacia", C::kSegment, "pharmacy"},
    {"pharmacy", C::kSegment, "pharmacy"}, {"consultoria", C::kSegment, "consulting"},
    {"consulting", C::kSegment, "consulting"}, {"agencia", C::kSegment, "agency"},
    {"agency", C::kSegment, "agency"}, {"advocacia", C::kSegment, "law_firm"},
    {"escritorio de advocacia", C::kSegment, "law_firm"},
    {"law firm", C::kSegment, "law_firm"}, {"contabilidade", C::kSegment, "accounting"},
    {"escritorio de contabilidade", C::kSegment, "accounting"},
    {"accounting", C::kSegment, "accounting"}, {"saas", C::kSegment, "saas"},
    {"software", C::kSegment, "software"}, {"logistica", C::kSegment, "logistics"},
    {"logistics", C::kSegment, "logistics"}, {"transportadora", C::kSegment, "logistics"},
    {"industria", C::kSegment, "manufacturing"}, {"fabrica", C::kSegment, "manufacturing"},
    {"manufacturing", C::kSegment, "manufacturing"}, {"saude", C::kSegment, "healthcare"},
    {"healthcare", C::kSegment, "healthcare"}, {"estetica", C::kSegment, "beauty"},
    {"salao de beleza", C::kSegment, "beauty"}, {"barbearia", C::kSegment, "beauty"},
    {"beauty", C::kSegment, "beauty"}, {"seguros", C::kSegment, "insurance"},
    {"seguradora", C::kSegment, "insurance"}, {"insurance", C::kSegment, "insurance"},
    {"concessionaria", C::kSegment, "automotive"}, {"oficina", C::kSegment, "automotive"},
    {"automotive", C::kSegment, "automotive"}, {"construtora", C::kSegment, "construction"},
    {"construction", C::kSegment, "construction"}, {"turismo", C::kSegment, "tourism"},
    {"agencia de viagens", C::kSegment, "tourism"}, {"hotel", C::kSegment, "hospitality"},
    {"pousada", C::kSegment, "hospitality"}, {"eventos", C::kSegment, "events"},
    {"pet shop", C::kSegment, "pet"}, {"petshop", C::kSegment, "pet"},
    {"veterinaria", C::kSegment, "pet"}, {"moda", C::kSegment, "fashion"},
    {"fashion", C::kSegment, "fashion"}, {"marketing", C::kSegment, "marketing"},
    {"infoprodutos", C::kSegment, "digital_products"},
    {"produtos digitais", C::kSegment, "digital_products"},
    {"fintech", C::kSegment, "finance"},

    // Constraints.
    {"prazo", C::kDeadlineCue}, {"deadline", C::kDeadlineCue},
    {"precisamos ate", C::kDeadlineCue}, {"preciso ate", C::kDeadlineCue},
    {"precisa estar", C::kDeadlineCue}, {"tem que estar", C::kDeadlineCue},
    {"funcionando ate", C::kDeadlineCue}, {"rodando ate", C::kDeadlineCue},
    {"implantar ate", C::kDeadlineCue}, {"pronto ate", C::kDeadlineCue},
    {"needs to be", C::kDeadlineCue}, {"has to be", C::kDeadlineCue},
    {"need it by", C::kDeadlineCue}, {"need this by", C::kDeadlineCue},
    {"needed by", C::kDeadlineCue}, {"go live", C::kDeadlineCue},
    {"urgente", C::kDeadlineCue, "urgent"}, {"urgent", C::kDeadlineCue, "urgent"},
    {"urgencia", C::kDeadlineCue, "urgent"}, {"asap", C::kDeadlineCue, "urgent"},
    {"o quanto antes", C::kDeadlineCue, "urgent"},
    {"o mais rapido possivel", C::kDeadlineCue, "urgent"},
    {"as soon as possible", C::kDeadlineCue, "urgent"},
    {"janeiro", C::kDateExpr}, {"fevereiro", C::kDateExpr}, {"marco", C::kDateExpr},
    {"abril", C::kDateExpr}, {"maio", C::kDateExpr}, {"junho", C::kDateExpr},
    {"julho", C::kDateExpr}, {"agosto", C::kDateExpr}, {"setembro", C::kDateExpr},
    {"outubro", C::kDateExpr}, {"novembro", C::kDateExpr}, {"dezembro", C::kDateExpr},
    {"january", C::kDateExpr}, {"february", C::kDateExpr}, {"march", C::kDateExpr},
    {"april", C::kDateExpr}, {"june", C::kDateExpr}, {"july", C::kDateExpr},
    {"august", C::kDateExpr}, {"september", C::kDateExpr}, {"october", C::kDateExpr},
    {"november", C::kDateExpr}, {"december", C::kDateExpr}, {"segunda", C::kDateExpr},
    // Ordinals, not weekdays: "segunda via" (a copy), "segunda vez".
    {"segunda via", C::kNone}, {"segunda vez", C::kNone}, {"segunda opcao", C::kNone},
    {"terca", C::kDateExpr}, {"quarta", C::kDateExpr}, {"quinta", C::kDateExpr},
    {"sexta", C::kDateExpr}, {"monday", C::kDateExpr}, {"tuesday", C::kDateExpr},
    {"wednesday", C::kDateExpr}, {"thursday", C::kDateExpr}, {"friday", C::kDateExpr},
    {"fim do mes", C::kDateExpr}, {"final do mes", C::kDateExpr},
    {"fim do ano", C::kDateExpr}, {"final do ano", C::kDateExpr},
    {"fim da semana", C::kDateExpr}, {"semana que vem", C::kDateExpr},
    {"proxima semana", C::kDateExpr}, {"mes que vem", C::kDateExpr},
    {"proximo mes", C::kDateExpr}, {"end of the month", C::kDateExpr},
    {"end of month", C::kDateExpr}, {"end of the year", C::kDateExpr},
    {"end of the week", C::kDateExpr}, {"next week", C::kDateExpr},
    {"next month", C::kDateExpr}, {"amanha", C::kDateExpr}, {"tomorrow", C::kDateExpr},
    {"esta semana", C::kDateExpr}, {"essa semana", C::kDateExpr},
    {"this week", C::kDateExpr}, {"este mes", C::kDateExpr}, {"esse mes", C::kDateExpr},
    {"this month", C::kDateExpr},
    {"preciso falar com", C::kApprovalCue}, {"preciso conversar com", C::kApprovalCue},
    {"preciso consultar", C::kApprovalCue}, {"preciso ver com", C::kApprovalCue},
    {"preciso alinhar com", C::kApprovalCue}, {"preciso validar com", C::kApprovalCue},
    {"vou falar com", C::kApprovalCue}, {"vou conversar com", C::kApprovalCue},
    {"vou consultar", C::kApprovalCue}, {"vou ver com", C::kApprovalCue},
    {"vou alinhar com", C::kApprovalCue}, {"vou validar com", C::kApprovalCue},
    {"tenho que falar com", C::kApprovalCue}, {"tenho que ver com", C::kApprovalCue},
    {"tenho que consultar", C::kApprovalCue}, {"temos que ver com", C::kApprovalCue},
    {"precisamos falar com", C::kApprovalCue}, {"precisamos alinhar com", C::kApprovalCue},
    {"precisamos consultar", C::kApprovalCue}, {"depende do", C::kApprovalCue},
    {"depende da", C::kApprovalCue}, {"aprovacao do", C::kApprovalCue},
    {"aprovacao da", C::kApprovalCue}, {"passar pelo", C::kApprovalCue},
    {"passar pela", C::kApprovalCue}, {"quem decide e", C::kApprovalCue},
    {"need to check with", C::kApprovalCue}, {"need to talk to", C::kApprovalCue},
    {"need to talk with", C::kApprovalCue}, {"need to ask", C::kApprovalCue},
    {"have to check with", C::kApprovalCue}, {"have to ask", C::kApprovalCue},
    {"will check with", C::kApprovalCue}, {"let me check with", C::kApprovalCue},
    {"approval from", C::kApprovalCue}, {"run it by", C::kApprovalCue},
    {"sign off from", C::kApprovalCue}, {"decision is up to", C::kApprovalCue},
    {"socio", C::kApprover, "partner"}, {"socios", C::kApprover, "partner"},
    {"socia", C::kApprover, "partner"}, {"chefe", C::kApprover, "boss"},
    {"diretor", C::kApprover, "director"}, {"diretora", C::kApprover, "director"},
    {"diretoria", C::kApprover, "board"}, {"gerente", C::kApprover, "manager"},
    {"gestor", C::kApprover, "manager"}, {"gestora", C::kApprover, "manager"},
    {"financeiro", C::kApprover, "finance"}, {"juridico", C::kApprover, "legal"},
    {"ti", C::kApprover, "it"}, {"board", C::kApprover, "board"},
    {"boss", C::kApprover, "boss"}, {"manager", C::kApprover, "manager"},
    {"partner", C::kApprover, "partner"}, {"partners", C::kApprover, "partner"},
    {"wife", C::kApprover, "spouse"}, {"husband", C::kApprover, "spouse"},
    {"esposa", C::kApprover, "spouse"}, {"marido", C::kApprover, "spouse"},
    {"cfo", C::kApprover, "cfo"}, {"ceo", C::kApprover, "ceo"}, {"cto", C::kApprover, "cto"},
    {"dono", C::kApprover, "owner"}, {"dona", C::kApprover, "owner"},
    {"owner", C::kApprover, "owner"}, {"compras", C::kApprover, "procurement"},
    {"procurement", C::kApprover, "procurement"}, {"legal", C::kApprover, "legal"},
    {"finance", C::kApprover, "finance"}, {"superior", C::kApprover, "boss"},
    {"presidente", C::kApprover, "president"}, {"equipe", C::kApprover, "team"},
    {"team", C::kApprover, "team"},
    {"precisa", C::kMust}, {"precisamos", C::kMust}, {"preciso", C::kMust},
    {"tem que", C::kMust}, {"temos que", C::kMust}, {"tenho que", C::kMust},
    {"obrigatorio", C::kMust}, {"obrigatoria", C::kMust}, {"essencial", C::kMust},
    {"indispensavel", C::kMust}, {"fundamental", C::kMust}, {"must", C::kMust},
    {"needs to", C::kMust}, {"need to", C::kMust}, {"has to", C::kMust},
    {"have to", C::kMust}, {"required", C::kMust}, {"requirement", C::kMust},
    {"mandatory", C::kMust}, {"essential", C::kMust}, {"need", C::kMust},
    {"exigimos", C::kMust}, {"exigencia", C::kMust},
    {"integrar", C::kIntegrate}, {"integracao", C::kIntegrate}, {"integre", C::kIntegrate},
    {"funcionar com", C::kIntegrate}, {"compativel com", C::kIntegrate},
    {"integrate", C::kIntegrate}, {"integration", C::kIntegrate},
    {"work with", C::kIntegrate}, {"compatible with", C::kIntegrate},
    {"integrates with", C::kIntegrate}, {"sync with", C::kIntegrate},
    {"lgpd", C::kCompliance, "LGPD"}, {"gdpr", C::kCompliance, "GDPR"},
    {"hipaa", C::kCompliance, "HIPAA"}, {"nota fiscal", C::kCompliance, "nota fiscal"},
    {"nfe", C::kCompliance, "nota fiscal"}, {"soc2", C::kCompliance, "SOC 2"},
    {"soc 2", C::kCompliance, "SOC 2"}, {"iso27001", C::kCompliance, "ISO 27001"},
    {"iso 27001", C::kCompliance, "ISO 27001"},
    {"on premise", C::kCompliance, "on-premise"},
    {"onpremise", C::kCompliance, "on-premise"},
};
// clang-format on

// Words that, next to a retraction marker, show a complaint rather than a withdrawal: "não
// funciona mais", "não aguento mais", "it doesn't work anymore", "we can no longer afford it".
constexpr std::array kFunctionVerbs = {
    "aguento"sv,     "aguentamos"sv, "aguenta"sv,    "suporto"sv,  "suportamos"sv, "consigo"sv,
    "conseguimos"sv, "consegue"sv,   "conseguem"sv,  "funciona"sv, "funcionam"sv,  "abre"sv,
    "abrem"sv,       "carrega"sv,    "carregam"sv,   "entra"sv,    "entram"sv,     "acessa"sv,
    "acessar"sv,     "responde"sv,   "respondem"sv,  "recebo"sv,   "recebemos"sv,  "recebe"sv,
    "envia"sv,       "enviam"sv,     "sincroniza"sv, "conecta"sv,  "aceita"sv,     "aparece"sv,
    "aparecem"sv,    "chega"sv,      "chegam"sv,     "cabe"sv,     "cabem"sv,      "posso"sv,
    "podemos"sv,     "sei"sv,        "work"sv,       "works"sv,    "working"sv,    "load"sv,
    "loads"sv,       "open"sv,       "opens"sv,      "answer"sv,   "answers"sv,    "respond"sv,
    "responds"sv,    "reply"sv,      "replies"sv,    "sync"sv,     "syncs"sv,      "connect"sv,
    "connects"sv,    "access"sv,     "login"sv,      "accept"sv,   "accepts"sv,    "stand"sv,
    "take"sv,        "afford"sv,     "receive"sv,    "send"sv,     "sends"sv,      "show"sv,
    "shows"sv,       "bear"sv,
};

// After "não ... mais" and before "que"/"do", these make a comparison ("não é mais barato que
// o outro"), not a withdrawal ("o sistema não é mais lento").
constexpr std::array kComparatives = {
    "barato"sv,  "barata"sv,       "caro"sv,      "cara"sv,       "rapido"sv, "rapida"sv,
    "lento"sv,   "lenta"sv,        "facil"sv,     "dificil"sv,    "alto"sv,   "alta"sv,
    "baixo"sv,   "baixa"sv,        "bom"sv,       "boa"sv,        "seguro"sv, "completo"sv,
    "simples"sv, "interessante"sv, "vantajoso"sv, "importante"sv, "util"sv,   "pratico"sv,
};

// Articles, possessives and fillers skipped before the object of a goal ("aumentar as nossas
// vendas") or a pain.
constexpr std::array kObjectSkip = {
    "o"sv,    "a"sv,      "os"sv,     "as"sv,         "nosso"sv,  "nossa"sv, "nossos"sv, "nossas"sv,
    "meu"sv,  "minha"sv,  "meus"sv,   "minhas"sv,     "the"sv,    "our"sv,   "my"sv,     "com"sv,
    "with"sv, "mais"sv,   "more"sv,   "um"sv,         "uma"sv,    "an"sv,    "seu"sv,    "sua"sv,
    "your"sv, "numero"sv, "number"sv, "quantidade"sv, "amount"sv, "ainda"sv,
};

// Tokens that end a goal's object.
constexpr std::array kObjectStop = {
    "em"sv,    "by"sv,    "ate"sv,     "in"sv,   "para"sv, "pra"sv,    "to"sv,      "e"sv,
    "and"sv,   "no"sv,    "na"sv,      "nos"sv,  "nas"sv,  "on"sv,     "at"sv,      "por"sv,
    "per"sv,   "este"sv,  "esse"sv,    "this"sv, "next"sv, "until"sv,  "within"sv,  "dentro"sv,
    "ja"sv,    "agora"sv, "now"sv,     "so"sv,   "que"sv,  "for"sv,    "from"sv,    "usando"sv,
    "using"sv, "sem"sv,   "without"sv, "mas"sv,  "but"sv,  "porque"sv, "because"sv, "pois"sv,
    "como"sv,  "via"sv,   "atraves"sv,
};

// Common objects of goals, so that "aumentar as vendas" and "increase sales" share a subject.
struct Translation {
  std::string_view from;
  std::string_view to;
};
constexpr std::array kObjectWords = {
    Translation{"vendas", "sales"},
    Translation{"venda", "sales"},
    Translation{"faturamento", "revenue"},
    Translation{"receita", "revenue"},
    Translation{"lucro", "profit"},
    Translation{"lucros", "profit"},
    Translation{"custos", "costs"},
    Translation{"custo", "costs"},
    Translation{"despesas", "costs"},
    Translation{"cost", "costs"},
    Translation{"conversao", "conversion"},
    Translation{"conversoes", "conversion"},
    Translation{"conversions", "conversion"},
    Translation{"cancelamentos", "churn"},
    Translation{"clientes", "customers"},
    Translation{"clients", "customers"},
    Translation{"produtividade", "productivity"},
    Translation{"equipe", "team"},
    Translation{"time", "team"},
    Translation{"atendimento", "service"},
    Translation{"margem", "margin"},
    Translation{"margens", "margin"},
    Translation{"tempo", "time"},
    Translation{"resposta", "response"},
};

// Words that are never a name, even capitalised at the start of a sentence.
constexpr std::array kPronouns = {
    "eles"sv, "elas"sv, "ele"sv, "ela"sv,  "voces"sv, "vcs"sv,  "voce"sv, "vc"sv,    "nos"sv,
    "eu"sv,   "they"sv, "he"sv,  "she"sv,  "we"sv,    "you"sv,  "it"sv,   "i"sv,     "o"sv,
    "a"sv,    "the"sv,  "la"sv,  "isso"sv, "este"sv,  "esse"sv, "essa"sv, "esta"sv,  "aqui"sv,
    "que"sv,  "mas"sv,  "e"sv,   "so"sv,   "tipo"sv,  "ja"sv,   "hoje"sv, "agora"sv, "entao"sv,
};

template <size_t N>
bool In(const std::array<std::string_view, N>& list, std::string_view word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

// ---------------------------------------------------------------------------------------------
// Small helpers: UTF-8, numbers, JSON

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsDigit(c) || IsAsciiAlpha(c); }

constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

// Decodes the code point at s[i] into `len` bytes; an invalid byte decodes as kInvalidCodePoint
// of length 1.
char32_t DecodeAt(std::string_view s, size_t i, size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  len = 1;
  if (b0 < 0x80) return b0;
  size_t n;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return kInvalidCodePoint;
  }
  if (i + n > s.size()) return kInvalidCodePoint;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return kInvalidCodePoint;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalidCodePoint;
  len = n;
  return cp;
}

// Latin letters beyond ASCII (Latin-1 letters, Latin Extended-A and B), ordinal indicators and
// combining accents are parts of words; every other code point separates them.
bool IsLatinLetter(char32_t cp) {
  return (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || cp == 0xAA || cp == 0xBA ||
         (cp >= 0x300 && cp <= 0x36F);
}

// Valid UTF-8 of `s`, invalid bytes dropped, cut at a character boundary to at most `max` bytes,
// surrounding white space trimmed.
std::string CleanUtf8(std::string_view s, size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max));
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    const char32_t cp = DecodeAt(s, i, len);
    if (cp != kInvalidCodePoint) {
      if (out.size() + len > max) break;
      out.append(s.substr(i, len));
    }
    i += len;
  }
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!out.empty() && space(out.back())) out.pop_back();
  size_t lead = 0;
  while (lead < out.size() && space(out[lead])) ++lead;
  out.erase(0, lead);
  return out;
}

// A JSON number: integers without a fraction, others rounded to at most 4 decimals.
std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  if (std::fabs(v) < 1e15 && v == std::floor(v)) {
    const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    return std::string(buf, r.ptr);
  }
  const double rounded = std::round(v * 10000) / 10000;
  const auto r = std::to_chars(buf, buf + sizeof buf, rounded);
  return std::string(buf, r.ptr);
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

// Builds a flat JSON object in insertion order.
class JsonObject {
 public:
  JsonObject& Number(std::string_view key, double v) {
    Key(key);
    out_.append(JsonNumber(v));
    return *this;
  }
  JsonObject& String(std::string_view key, std::string_view v) {
    Key(key);
    AppendJsonString(out_, v);
    return *this;
  }
  JsonObject& Bool(std::string_view key, bool v) {
    Key(key);
    out_.append(v ? "true" : "false");
    return *this;
  }
  std::string Take() {
    out_.push_back('}');
    return std::move(out_);
  }

 private:
  void Key(std::string_view key) {
    if (out_.size() > 1) out_.push_back(',');
    AppendJsonString(out_, key);
    out_.push_back(':');
  }
  std::string out_ = "{";
};

enum class Lang : uint8_t { kPt, kEn };

// "5.000" (pt) or "5,000" (en), with two decimals when the amount has cents.
std::string FormatAmount(double v, Lang lang) {
  const char thousands = lang == Lang::kPt ? '.' : ',';
  const char decimal = lang == Lang::kPt ? ',' : '.';
  if (!std::isfinite(v) || v < 0 || v >= 1e15) return JsonNumber(v);
  const auto cents = static_cast<long long>(std::llround(v * 100));
  const std::string digits = std::to_string(cents / 100);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(thousands);
    out.push_back(digits[i]);
  }
  if (cents % 100 != 0) {
    out.push_back(decimal);
    out.push_back(static_cast<char>('0' + (cents % 100) / 10));
    out.push_back(static_cast<char>('0' + cents % 10));
  }
  return out;
}

// Parses digits with '.'/',' separators (rules at the top of the file). Returns false for
// things that are not one number, such as versions ("3.2.1") or very long digit strings.
bool ParseNumber(std::string_view s, double& out) {
  constexpr size_t kMaxDigits = 15;
  size_t digits = 0;
  std::array<size_t, 8> seps{};
  size_t nseps = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (IsDigit(s[i])) {
      ++digits;
    } else {
      if (nseps == seps.size()) return false;
      seps[nseps++] = i;
    }
  }
  if (digits == 0 || digits > kMaxDigits) return false;
  // Where the fraction starts (npos: none); every other separator must be a thousands one.
  size_t decimal = std::string_view::npos;
  if (nseps > 0) {
    const char last = s[seps[nseps - 1]];
    bool mixed = false;
    for (size_t k = 0; k + 1 < nseps; ++k) mixed = mixed || s[seps[k]] != last;
    const auto group = [&](size_t k) {  // digits after separator k
      const size_t end = k + 1 < nseps ? seps[k + 1] : s.size();
      return end - seps[k] - 1;
    };
    if (!mixed) {
      bool thousands = seps[0] >= 1 && seps[0] <= 3 && s[0] != '0';  // "0.500" is a fraction
      for (size_t k = 0; k < nseps; ++k) thousands = thousands && group(k) == 3;
      if (!thousands) {
        if (nseps > 1) return false;
        decimal = seps[0];
      }
    } else {
      for (size_t k = 0; k + 1 < nseps; ++k) {
        if (group(k) != 3 || s[seps[k]] == last) return false;
      }
      decimal = seps[nseps - 1];
    }
  }
  double value = 0;
  double scale = 0.1;
  bool fraction = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == decimal) {
      fraction = true;
      continue;
    }
    if (!IsDigit(s[i])) continue;
    if (fraction) {
      value += (s[i] - '0') * scale;
      scale /= 10;
    } else {
      value = value * 10 + (s[i] - '0');
    }
  }
  out = value;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Lexicon

struct PatternWord {
  std::string_view text;
  bool optional = false;
};

struct Phrase {
  std::vector<PatternWord> rest;  // the words after the first
  C tag;
  std::string_view canon;
};

// The phrases of kEntries indexed by their first word. Built once, immutable afterwards.
class Lexicon {
 public:
  Lexicon() {
    by_first_.reserve(std::size(kEntries));
    for (const Entry& e : kEntries) {
      std::string_view p = e.phrase;
      size_t space = p.find(' ');
      const std::string_view first = p.substr(0, space);
      Phrase phrase{{}, e.tag, e.canon};
      while (space != std::string_view::npos) {
        p.remove_prefix(space + 1);
        space = p.find(' ');
        std::string_view word = p.substr(0, space);
        const bool optional = !word.empty() && word.back() == '?';
        if (optional) word.remove_suffix(1);
        phrase.rest.push_back({word, optional});
      }
      by_first_[first].push_back(std::move(phrase));
    }
  }

  const std::vector<Phrase>* Find(std::string_view word) const {
    const auto it = by_first_.find(word);
    return it == by_first_.end() ? nullptr : &it->second;
  }

 private:
  std::unordered_map<std::string_view, std::vector<Phrase>> by_first_;
};

const Lexicon& GetLexicon() {
  static const Lexicon kLexicon;
  return kLexicon;
}

// ---------------------------------------------------------------------------------------------
// Tokens, sentences, clauses, money

enum class Kind : uint8_t { kWord, kNumber, kCode, kSymbol };

struct Token {
  std::string_view text;  // folded word, number or code, or the symbol itself
  uint32_t begin = 0;     // bytes of the original text
  uint32_t end = 0;
  uint32_t folded_begin = 0;  // bytes of the folded arena (text is set once it stops growing)
  uint32_t folded_size = 0;
  double number = 0;  // kNumber
  Kind kind = Kind::kWord;
  bool capitalized = false;
  bool neg = false;      // a negation ("não", "not", "sem")
  bool brk = false;      // ends a clause (',' "mas" "but")
  bool percent = false;  // a number followed by '%'
};

struct Match {
  uint32_t begin;  // tokens
  uint32_t end;
  C tag;
  std::string_view canon;
};

struct Sentence {
  uint32_t tok_begin = 0;
  uint32_t tok_end = 0;
  uint32_t match_begin = 0;
  uint32_t match_end = 0;
  uint32_t byte_begin = 0;
  uint32_t byte_end = 0;
  bool question = false;
  Lang lang = Lang::kPt;
};

struct Clause {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool question = false;
};

enum class Use : uint8_t { kNone, kBudget, kPrice, kSpend, kRevenue, kGoal };

struct Money {
  uint32_t begin = 0;  // tokens, currency included
  uint32_t end = 0;
  double amount = 0;
  double min = -1;  // lower end of a range, else -1
  double multiplier = 1;
  std::string_view currency;  // BRL, USD, EUR, GBP or empty
  std::string_view period;    // month, year, week, day, one_time or empty
  std::string_view bound;     // max, min or empty
  bool clear = false;         // has a currency or a multiplier: unmistakably an amount
  bool denied = false;        // a budget cue denies it ("meu orçamento não é mais 5 mil")
  Use use = Use::kNone;
  double confidence = 0;
};

enum Topic : uint8_t {
  kTopicPrice,
  kTopicCompetitor,
  kTopicTiming,
  kTopicTrust,
  kTopicNeed,
  kTopicRoi,
  kTopicPerformance,
  kTopicManual,
  kTopicTimeWaste,
  kTopicSupport,
  kTopicIntegration,
  kTopicUsability,
  kTopicVisibility,
  kTopicLostSales,
  kTopicCount,
  kNoTopic = kTopicCount,
};

struct TopicInfo {
  std::string_view subject;
  std::string_view type;
  std::string_view pt;
  std::string_view en;
  std::string_view pt_withdrawn;
  std::string_view en_withdrawn;
};

constexpr std::array<TopicInfo, kTopicCount> kTopics = {{
    {"objection:price", "objection", "Acha o preço alto", "Finds the price too high",
     "Preço deixou de ser objeção", "Price is no longer an objection"},
    {"objection:competitor", "objection", "Está considerando um concorrente",
     "Is considering a competitor", "Não está mais considerando concorrentes",
     "No longer considering competitors"},
    {"objection:timing", "objection", "Diz que agora não é o momento",
     "Says now is not the right time", "O momento deixou de ser objeção",
     "Timing is no longer an objection"},
    {"objection:trust", "objection", "Tem desconfiança ou receio", "Has trust concerns",
     "Desconfiança superada", "Trust concerns resolved"},
    {"objection:need", "objection", "Diz que não precisa da solução",
     "Says they do not need the solution", "Passou a ver necessidade", "Now sees a need"},
    {"pain_point:roi", "pain_point", "ROI não está claro", "ROI is unclear",
     "ROI deixou de ser preocupação", "ROI is no longer a concern"},
    {"pain_point:performance", "pain_point", "Reclama de lentidão ou travamentos",
     "Complains about slowness or freezes", "Lentidão resolvida", "Slowness resolved"},
    {"pain_point:manual_work", "pain_point", "Perde tempo com trabalho manual e planilhas",
     "Loses time on manual work and spreadsheets", "Trabalho manual deixou de ser problema",
     "Manual work is no longer a problem"},
    {"pain_point:time_waste", "pain_point", "Perde muito tempo na operação",
     "Loses a lot of time in the operation", "Perda de tempo deixou de ser problema",
     "Lost time is no longer a problem"},
    {"pain_point:support", "pain_point", "Reclama da demora ou da qualidade do atendimento",
     "Complains that support is slow or poor", "Atendimento deixou de ser problema",
     "Support is no longer a problem"},
    {"pain_point:integration", "pain_point", "Falta integração entre os sistemas",
     "Lacks integration between systems", "Integração deixou de ser problema",
     "Integration is no longer a problem"},
    {"pain_point:usability", "pain_point", "Acha o sistema difícil de usar",
     "Finds the system hard to use", "Usabilidade deixou de ser problema",
     "Usability is no longer a problem"},
    {"pain_point:visibility", "pain_point", "Falta controle e visibilidade",
     "Lacks control and visibility", "Visibilidade deixou de ser problema",
     "Visibility is no longer a problem"},
    {"pain_point:lost_sales", "pain_point", "Está perdendo clientes, leads ou vendas",
     "Is losing customers, leads or sales", "Perda de vendas deixou de ser problema",
     "Lost sales are no longer a problem"},
}};

Topic TopicOf(C c) {
  switch (c) {
    case C::kPriceTopic:
    case C::kExpensive:
    case C::kExpensiveAmbiguous:
    case C::kOverBudget:
    case C::kOverBudgetPay:
      return kTopicPrice;
    case C::kCompetitor:
      return kTopicCompetitor;
    case C::kTimingStrong:
    case C::kTimingWeak:
    case C::kTimingTopic:
      return kTopicTiming;
    case C::kTrust:
    case C::kTrustTopic:
      return kTopicTrust;
    case C::kRoi:
      return kTopicRoi;
    case C::kSlow:
    case C::kPerfTopic:
      return kTopicPerformance;
    case C::kManual:
      return kTopicManual;
    case C::kTimeWaste:
      return kTopicTimeWaste;
    case C::kSupport:
    case C::kSupportBadAlone:
      return kTopicSupport;
    case C::kIntegrationBad:
      return kTopicIntegration;
    case C::kUsabilityBad:
      return kTopicUsability;
    case C::kVisibility:
      return kTopicVisibility;
    case C::kLostSales:
      return kTopicLostSales;
    default:
      return kNoTopic;
  }
}

std::string_view CurrencyWord(std::string_view w) {
  if (w == "reais" || w == "real" || w == "conto" || w == "contos" || w == "brl") return "BRL";
  if (w == "dolar" || w == "dolares" || w == "dollar" || w == "dollars" || w == "bucks" ||
      w == "usd") {
    return "USD";
  }
  if (w == "euro" || w == "euros" || w == "eur") return "EUR";
  if (w == "libra" || w == "libras" || w == "pound" || w == "pounds" || w == "gbp") return "GBP";
  return {};
}

// 0 when `w` is no multiplier. "m" counts only after a currency ("R$ 2m"), never alone ("2m").
double Multiplier(std::string_view w, bool has_currency) {
  if (w == "k" || w == "mil" || w == "thousand" || w == "grand") return 1e3;
  if (w == "milhao" || w == "milhoes" || w == "mi" || w == "million" || w == "millions" ||
      w == "mm" || (w == "m" && has_currency)) {
    return 1e6;
  }
  if (w == "bi" || w == "bilhao" || w == "bilhoes" || w == "billion") return 1e9;
  return 0;
}

// Small counts written as words ("tenho dois filhos"); 0 when `w` is none.
int NumberWord(std::string_view w) {
  static constexpr std::array<std::pair<std::string_view, int>, 24> kWords = {{
      {"um", 1},   {"uma", 1},   {"one", 1},    {"dois", 2},  {"duas", 2},  {"two", 2},
      {"tres", 3}, {"three", 3}, {"quatro", 4}, {"four", 4},  {"cinco", 5}, {"five", 5},
      {"seis", 6}, {"six", 6},   {"sete", 7},   {"seven", 7}, {"oito", 8},  {"eight", 8},
      {"nove", 9}, {"nine", 9},  {"dez", 10},   {"ten", 10},  {"a", 1},     {"an", 1},
  }};
  for (const auto& [word, n] : kWords) {
    if (word == w) return n;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The extractor: one per call and per thread; it owns the buffers of that call (tokens, folded
// text, phrase matches, amounts) and views the caller's text, which must outlive it.

constexpr uint32_t kMaxSentenceTokens = 60;  // longer runs are cut, which bounds every window
constexpr size_t kMaxPendingFacts = 256;

constexpr std::string_view kSymComma = ",";
constexpr std::string_view kSymDollar = "$";
constexpr std::string_view kSymPercent = "%";
constexpr std::string_view kSymSlash = "/";
constexpr std::string_view kSymDash = "-";
constexpr std::string_view kSymEuro = "€";
constexpr std::string_view kSymPound = "£";

struct PendingFact {
  ExtractedFact fact;
  uint32_t pos = 0;  // token where it was found: facts come out in text order
};

using Retracted = std::array<bool, kTopicCount>;

class Extractor {
 public:
  explicit Extractor(std::string_view text) : text_(text.substr(0, kMaxFactInputBytes)) {}

  std::vector<ExtractedFact> Run();

 private:
  // Tokens and sentences.
  void Tokenize();
  size_t ReadWord(size_t i);
  bool JoinsHyphen(size_t j, size_t chars, bool has_alpha, bool has_digit) const;
  void AddWordTokens(size_t begin, size_t end, size_t folded_begin, bool capitalized);
  void PushSymbol(std::string_view symbol, size_t begin, size_t len);
  void EndSentence(size_t byte_end, bool question);
  void Analyze(Sentence& s);
  void FindRetractionMarkers(const Sentence& s);
  std::vector<Clause> Clauses() const;

  // Queries on the current sentence.
  const Match* First(C c, uint32_t from, uint32_t to) const;
  const Match* FirstPlain(C c, uint32_t from, uint32_t to, uint32_t clause_begin) const;
  bool Has(C c, uint32_t from, uint32_t to) const { return First(c, from, to) != nullptr; }
  bool NegBefore(uint32_t pos, uint32_t from, uint32_t window) const;
  bool AnyNeg(uint32_t from, uint32_t to) const;
  bool StartsMatch(uint32_t tok) const;
  bool IsWord(uint32_t tok, std::string_view word) const;
  bool IsSymbol(uint32_t tok, std::string_view symbol) const;
  std::string Span(uint32_t from, uint32_t to) const;
  std::string CapitalizedRun(uint32_t from, uint32_t to, bool connectors) const;
  const Clause& ClauseOf(uint32_t tok) const;
  const Sentence* FindSentence(uint32_t tok) const;
  bool Pt() const { return s_->lang == Lang::kPt; }

  // Money.
  std::optional<Money> ParseMoneyAt(uint32_t j, uint32_t end, bool allow_range) const;
  bool BareAmountAllowed(const Money& m) const;
  void AttachPeriodAndBound(Money& m) const;
  void Classify(Money& m) const;
  void FindMoney();
  std::string MoneyText(const Money& m) const;
  static void MoneyJson(const Money& m, JsonObject& json);
  const Money* PriceIn(uint32_t from, uint32_t to) const;

  // Rules.
  void ExtractSentence();
  void Budgets();
  void NoBudget();
  void BareAmount();
  void Retractions(const Clause& cl, Retracted& retracted);
  void PriceObjection(const Clause& cl, const Retracted& retracted);
  void CompetitorObjection(const Clause& cl, const Retracted& retracted);
  std::string CompetitorName(const Clause& cl) const;
  void OtherObjections(const Clause& cl, const Retracted& retracted);
  void Pains(const Clause& cl, const Retracted& retracted, size_t facts_before);
  void Goals(const Clause& cl);
  uint32_t Goal(const Match& verb, const Clause& cl, bool retraction);
  uint32_t ObjectWords(uint32_t k, uint32_t end, std::string& slug, uint32_t& first,
                       uint32_t& last) const;
  void Preferences();
  void ChannelPreference(const Match& channel, double confidence);
  void TimePreference(uint32_t from, uint32_t to, double confidence);
  void Technical();
  void Personal();
  void Business();
  void Constraints();

  void Add(std::string_view type, std::string subject, std::string text, std::string value,
           double confidence, bool retraction, uint32_t pos);
  void AddTopic(Topic topic, bool retraction, std::string value, double confidence, uint32_t pos,
                std::string_view suffix = {});
  std::vector<ExtractedFact> Finish();

  std::string_view text_;
  std::string folded_;  // folded token texts, back to back
  std::vector<Token> tokens_;
  std::vector<Match> matches_;
  std::vector<Sentence> sentences_;
  std::vector<Clause> clauses_;  // of the current sentence
  std::vector<Money> money_;     // of the current sentence
  std::vector<Money> all_money_;
  std::vector<PendingFact> facts_;
  uint32_t sentence_start_ = 0;
  const Sentence* s_ = nullptr;  // the sentence being read
  std::string evidence_;         // of s_
  bool any_budget_ = false;
  bool any_question_ = false;
};

// ------------------------------------------------------------------ tokens

void Extractor::Tokenize() {
  folded_.reserve(text_.size() + 8);
  tokens_.reserve(text_.size() / 3 + 8);
  const size_t n = text_.size();
  size_t i = 0;
  while (i < n) {
    const char c = text_[i];
    size_t len = 1;
    const char32_t cp =
        static_cast<unsigned char>(c) < 0x80 ? static_cast<char32_t>(c) : DecodeAt(text_, i, len);
    if (IsAsciiAlnum(c) ||
        (cp >= 0x80 && cp != kInvalidCodePoint && IsLatinLetter(cp) && cp < 0x300)) {
      i = ReadWord(i);
      if (tokens_.size() - sentence_start_ >= kMaxSentenceTokens) {
        EndSentence(tokens_.back().end, false);
      }
      continue;
    }
    switch (cp) {
      case '.':
      case '!':
      case '?':
      case 0x2026: {  // "…"
        // A run of terminators ends one sentence; any '?' in it makes a question.
        bool question = false;
        size_t j = i;
        while (j < n) {
          if (text_[j] == '?') {
            question = true;
          } else if (text_[j] != '.' && text_[j] != '!') {
            size_t l;
            if (DecodeAt(text_, j, l) != 0x2026) break;
            j += l;
            continue;
          }
          ++j;
        }
        EndSentence(j, question);
        i = j;
        continue;
      }
      case ';':
        EndSentence(i + 1, false);
        break;
      case '\n':
        EndSentence(i, false);
        break;
      case ',':
        PushSymbol(kSymComma, i, len);
        break;
      case '$':
        PushSymbol(kSymDollar, i, len);
        break;
      case '%':
        PushSymbol(kSymPercent, i, len);
        break;
      case '/':
        PushSymbol(kSymSlash, i, len);
        break;
      case '-':
        PushSymbol(kSymDash, i, len);
        break;
      case 0x20AC:
        PushSymbol(kSymEuro, i, len);
        break;
      case 0xA3:
        PushSymbol(kSymPound, i, len);
        break;
      default:
        break;
    }
    i += len;
  }
  EndSentence(n, false);
  for (Token& t : tokens_) {
    if (t.kind != Kind::kSymbol) {
      t.text = std::string_view(folded_).substr(t.folded_begin, t.folded_size);
    }
  }
}

// Reads the word, number or code at text_[i] (rules at the top of the file).
size_t Extractor::ReadWord(size_t i) {
  const size_t n = text_.size();
  const size_t begin = i;
  const size_t folded_begin = folded_.size();
  bool has_alpha = false;
  bool has_digit = false;
  size_t chars = 0;
  const auto b0 = static_cast<unsigned char>(text_[i]);
  const auto b1 = i + 1 < n ? static_cast<unsigned char>(text_[i + 1]) : 0;
  // ASCII capitals and the Latin-1 ones (À..Þ, except ×).
  const bool capitalized =
      (b0 >= 'A' && b0 <= 'Z') || (b0 == 0xC3 && b1 >= 0x80 && b1 <= 0x9E && b1 != 0x97);
  while (i < n) {
    const char c = text_[i];
    if (IsAsciiAlnum(c)) {
      folded_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
      (IsDigit(c) ? has_digit : has_alpha) = true;
      ++chars;
      ++i;
      continue;
    }
    if ((c == '.' || c == ',') && folded_.size() > folded_begin && IsDigit(folded_.back()) &&
        i + 1 < n && IsDigit(text_[i + 1])) {
      folded_.push_back(c);  // "5.000", "1,5", "v3.2"
      ++i;
      continue;
    }
    if ((c == '\'' || c == '`') && has_alpha && i + 1 < n && IsAsciiAlpha(text_[i + 1])) {
      ++i;  // "don't" -> "dont"
      continue;
    }
    if (c == '-' && JoinsHyphen(i + 1, chars, has_alpha, has_digit)) {
      ++i;  // "E-404" -> "e404", "e-mail" -> "email"
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x80) break;
    size_t len;
    const char32_t cp = DecodeAt(text_, i, len);
    if (cp == 0x2019 && has_alpha && i + len < n && IsAsciiAlpha(text_[i + len])) {
      i += len;  // typographic apostrophe
      continue;
    }
    if (cp == kInvalidCodePoint || !IsLatinLetter(cp)) break;
    folded_.append(Fold(text_.substr(i, len)));
    has_alpha = true;
    ++chars;
    i += len;
  }
  AddWordTokens(begin, i, folded_begin, capitalized);
  return i;
}

// Whether a hyphen before text_[j] joins the word so far (`chars` characters) with the next:
// codes and single letters join ("E-404", "SKU-12", "e-mail"), words and ranges do not.
bool Extractor::JoinsHyphen(size_t j, size_t chars, bool has_alpha, bool has_digit) const {
  const size_t n = text_.size();
  const bool next_starts_digit = j < n && IsDigit(text_[j]);
  size_t next_chars = 0;
  bool next_digit = false;
  while (j < n) {
    const char c = text_[j];
    if (IsAsciiAlnum(c)) {
      next_digit = next_digit || IsDigit(c);
      ++next_chars;
      ++j;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x80) break;
    size_t len;
    const char32_t cp = DecodeAt(text_, j, len);
    if (cp == kInvalidCodePoint || !IsLatinLetter(cp)) break;
    ++next_chars;
    j += len;
  }
  if (chars == 0 || next_chars == 0) return false;
  const bool single = chars == 1 && !has_digit;
  const bool next_single = next_chars == 1 && !next_digit;
  return single || next_single || (has_alpha && next_starts_digit);
}

void Extractor::AddWordTokens(size_t begin, size_t end, size_t folded_begin, bool capitalized) {
  const std::string_view f = std::string_view(folded_).substr(folded_begin);
  if (f.empty()) return;
  Token t;
  t.begin = static_cast<uint32_t>(begin);
  t.end = static_cast<uint32_t>(end);
  t.folded_begin = static_cast<uint32_t>(folded_begin);
  t.folded_size = static_cast<uint32_t>(f.size());
  t.capitalized = capitalized;
  if (!IsDigit(f[0])) {
    t.kind = std::any_of(f.begin(), f.end(), IsDigit) ? Kind::kCode : Kind::kWord;
    tokens_.push_back(t);
    return;
  }
  size_t p = 0;
  while (p < f.size() && (IsDigit(f[p]) || f[p] == '.' || f[p] == ',')) ++p;
  const bool letters_after =
      p < f.size() && std::all_of(f.begin() + static_cast<std::ptrdiff_t>(p), f.end(),
                                  [](char c) { return c >= 'a' && c <= 'z'; });
  if (p < f.size() && !letters_after) {
    t.kind = Kind::kCode;  // "0x80070005", "4g5"
    tokens_.push_back(t);
    return;
  }
  // A number, maybe with a unit glued on: "3k", "5mil", "18h" become two tokens.
  Token number = t;
  number.folded_size = static_cast<uint32_t>(p);
  if (letters_after) {
    size_t q = begin;
    while (q < end && !IsAsciiAlpha(text_[q]) && static_cast<unsigned char>(text_[q]) < 0x80) ++q;
    number.end = static_cast<uint32_t>(q);
  }
  double value = 0;
  if (ParseNumber(f.substr(0, p), value)) {
    number.kind = Kind::kNumber;
    number.number = value;
  } else {
    number.kind = Kind::kCode;  // "3.2.1"
  }
  tokens_.push_back(number);
  if (letters_after) {
    Token unit = t;
    unit.begin = number.end;
    unit.folded_begin = static_cast<uint32_t>(folded_begin + p);
    unit.folded_size = static_cast<uint32_t>(f.size() - p);
    unit.kind = Kind::kWord;
    unit.capitalized = false;
    tokens_.push_back(unit);
  }
}

void Extractor::PushSymbol(std::string_view symbol, size_t begin, size_t len) {
  Token t;
  t.text = symbol;
  t.begin = static_cast<uint32_t>(begin);
  t.end = static_cast<uint32_t>(begin + len);
  t.kind = Kind::kSymbol;
  t.brk = symbol == kSymComma;
  tokens_.push_back(t);
}

void Extractor::EndSentence(size_t byte_end, bool question) {
  const auto end = static_cast<uint32_t>(tokens_.size());
  if (end == sentence_start_) return;
  Sentence s;
  s.tok_begin = sentence_start_;
  s.tok_end = end;
  s.byte_begin = tokens_[s.tok_begin].begin;
  s.byte_end = std::max(static_cast<uint32_t>(byte_end), tokens_.back().end);
  s.question = question;
  any_question_ = any_question_ || question;
  sentences_.push_back(s);
  sentence_start_ = end;
}

// Finds the lexicon phrases of `s`, its language, negations, clause breaks and percentages.
void Extractor::Analyze(Sentence& s) {
  const Lexicon& lexicon = GetLexicon();
  s.match_begin = static_cast<uint32_t>(matches_.size());
  int pt = 0;
  int en = 0;
  bool english_no = false;
  for (uint32_t i = s.tok_begin; i < s.tok_end; ++i) {
    Token& t = tokens_[i];
    if (t.kind == Kind::kSymbol) continue;
    const std::vector<Phrase>* phrases = lexicon.Find(t.text);
    if (phrases == nullptr) continue;
    // The end of phrase p when it matches at token i, else 0.
    auto match_end = [&](const Phrase& p) -> uint32_t {
      uint32_t j = i + 1;
      for (const PatternWord& w : p.rest) {
        if (j < s.tok_end && tokens_[j].text == w.text) {
          ++j;
        } else if (!w.optional) {
          return 0;
        }
      }
      return j;
    };
    // A phrase of no concept blocks the others starting at its first word ("segunda via" is no
    // weekday).
    if (std::any_of(phrases->begin(), phrases->end(),
                    [&](const Phrase& p) { return p.tag == C::kNone && match_end(p) != 0; })) {
      continue;
    }
    for (const Phrase& p : *phrases) {
      const uint32_t j = match_end(p);
      if (j == 0) continue;
      switch (p.tag) {
        case C::kLangPt:
          ++pt;
          break;
        case C::kLangEn:
          ++en;
          break;
        case C::kNeg:
          t.neg = true;
          break;
        case C::kNegEn:
          english_no = true;
          break;
        case C::kBreak:
          t.brk = true;
          break;
        default:
          matches_.push_back({i, j, p.tag, p.canon});
      }
    }
  }
  s.lang = en > pt ? Lang::kEn : Lang::kPt;
  if (english_no && s.lang == Lang::kEn) {
    for (uint32_t i = s.tok_begin; i < s.tok_end; ++i) {
      if (tokens_[i].text == "no") tokens_[i].neg = true;
    }
  }
  for (uint32_t i = s.tok_begin; i + 1 < s.tok_end; ++i) {
    Token& t = tokens_[i];
    if (t.kind != Kind::kNumber) continue;
    const std::string_view next = tokens_[i + 1].text;
    t.percent = next == kSymPercent || next == "porcento" || next == "percent" || next == "pct" ||
                (next == "por" && i + 2 < s.tok_end && tokens_[i + 2].text == "cento");
  }
  FindRetractionMarkers(s);
  s.match_end = static_cast<uint32_t>(matches_.size());
}

// Adds the markers "não ... mais" and "já não" and drops every retraction marker that sits next
// to a verb of function (a complaint: "não funciona mais").
void Extractor::FindRetractionMarkers(const Sentence& s) {
  for (uint32_t k = s.tok_begin; k < s.tok_end; ++k) {
    if (!tokens_[k].neg) continue;
    const bool ja = k > s.tok_begin && tokens_[k - 1].text == "ja";
    uint32_t mais = 0;
    for (uint32_t j = k + 1; j < std::min(k + 4, s.tok_end) && !tokens_[j].brk; ++j) {
      if (tokens_[j].text == "mais") {
        mais = j;
        break;
      }
    }
    if (mais != 0 && mais + 1 < s.tok_end) {
      // "não é mais que", "não pago mais de 500", "não é mais barato que o outro" compare.
      const Token& next = tokens_[mais + 1];
      const auto than = [&](uint32_t j) {
        return j < s.tok_end && (tokens_[j].text == "que" || tokens_[j].text == "do" ||
                                 tokens_[j].text == "de" || tokens_[j].text == "than");
      };
      if (next.kind == Kind::kNumber || next.kind == Kind::kSymbol || than(mais + 1) ||
          (In(kComparatives, next.text) && than(mais + 2))) {
        mais = 0;
      }
    }
    if (!ja && mais == 0) continue;
    if (k + 1 < s.tok_end && tokens_[k + 1].text == "da") continue;  // "não dá mais": can't
    matches_.push_back({ja ? k - 1 : k, mais != 0 ? mais + 1 : k + 1, C::kRetract, {}});
  }
  for (size_t m = s.match_begin; m < matches_.size(); ++m) {
    Match& match = matches_[m];
    if (match.tag != C::kRetract) continue;
    const uint32_t from = match.begin > s.tok_begin + 3 ? match.begin - 3 : s.tok_begin;
    const uint32_t to = std::min(match.end + 2, s.tok_end);
    for (uint32_t j = from; j < to; ++j) {
      if (In(kFunctionVerbs, tokens_[j].text)) {
        match.tag = C::kNone;
        break;
      }
    }
  }
}

std::vector<Clause> Extractor::Clauses() const {
  std::vector<Clause> out;
  uint32_t begin = s_->tok_begin;
  for (uint32_t i = s_->tok_begin; i <= s_->tok_end; ++i) {
    if (i < s_->tok_end && !tokens_[i].brk) continue;
    if (i > begin) out.push_back({begin, i, false});
    begin = i + 1;
  }
  if (out.empty()) out.push_back({s_->tok_begin, s_->tok_end, false});
  if (s_->question) out.back().question = true;
  return out;
}

// ------------------------------------------------------------------ queries

const Match* Extractor::First(C c, uint32_t from, uint32_t to) const {
  const Match* best = nullptr;
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != c || m.begin < from || m.begin >= to) continue;
    if (best == nullptr || m.begin < best->begin || (m.begin == best->begin && m.end > best->end)) {
      best = &m;
    }
  }
  return best;
}

// The first match of `c` in [from, to) that no negation precedes.
const Match* Extractor::FirstPlain(C c, uint32_t from, uint32_t to, uint32_t clause_begin) const {
  const Match* best = nullptr;
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != c || m.begin < from || m.begin >= to) continue;
    if (NegBefore(m.begin, clause_begin, kNegWindow)) continue;
    if (best == nullptr || m.begin < best->begin) best = &m;
  }
  return best;
}

bool Extractor::NegBefore(uint32_t pos, uint32_t from, uint32_t window) const {
  const uint32_t lo = pos > from + window ? pos - window : from;
  return AnyNeg(lo, pos);
}

bool Extractor::AnyNeg(uint32_t from, uint32_t to) const {
  for (uint32_t k = from; k < to; ++k) {
    if (tokens_[k].neg) return true;
  }
  return false;
}

bool Extractor::StartsMatch(uint32_t tok) const {
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    if (matches_[i].begin == tok && matches_[i].tag != C::kNone) return true;
  }
  return false;
}

bool Extractor::IsWord(uint32_t tok, std::string_view word) const {
  return tok < s_->tok_end && tokens_[tok].kind != Kind::kSymbol && tokens_[tok].text == word;
}

bool Extractor::IsSymbol(uint32_t tok, std::string_view symbol) const {
  return tok < s_->tok_end && tokens_[tok].kind == Kind::kSymbol && tokens_[tok].text == symbol;
}

// The original text of tokens [from, to), shortened for a fact's text.
std::string Extractor::Span(uint32_t from, uint32_t to) const {
  if (from >= to) return {};
  const uint32_t b = tokens_[from].begin;
  return CleanUtf8(text_.substr(b, tokens_[to - 1].end - b), kMaxTextSpanBytes);
}

// Capitalised words from `from` (at most three, or four with connectors: "Rio de Janeiro",
// "São Paulo"), as written; empty when tokens_[from] is not capitalised.
std::string Extractor::CapitalizedRun(uint32_t from, uint32_t to, bool connectors) const {
  uint32_t end = from;
  uint32_t words = 0;
  for (uint32_t k = from; k < to && words < 3; ++k) {
    const Token& t = tokens_[k];
    if (t.kind == Kind::kSymbol) break;
    if (t.capitalized) {
      end = k + 1;
      ++words;
      continue;
    }
    const bool connector = connectors && (t.text == "de" || t.text == "do" || t.text == "da" ||
                                          t.text == "dos" || t.text == "das");
    if (!connector || k + 1 >= to || !tokens_[k + 1].capitalized || words == 0) break;
  }
  return Span(from, end);
}

const Sentence* Extractor::FindSentence(uint32_t tok) const {
  for (const Sentence& s : sentences_) {
    if (tok < s.tok_end) return &s;
  }
  return &sentences_.back();
}

const Clause& Extractor::ClauseOf(uint32_t tok) const {
  for (const Clause& c : clauses_) {
    if (tok < c.end) return c;
  }
  return clauses_.back();
}

// ------------------------------------------------------------------ money

// An amount starting at token j: [currency] number [multiplier] [currency word] [range].
std::optional<Money> Extractor::ParseMoneyAt(uint32_t j, uint32_t end, bool allow_range) const {
  Money m;
  m.begin = j;
  uint32_t k = j;
  const Token& first = tokens_[j];
  const bool dollar_next = j + 1 < end && tokens_[j + 1].text == kSymDollar;
  if (first.kind == Kind::kWord && first.text == "r" && dollar_next) {
    m.currency = "BRL", k += 2;
  } else if (first.kind == Kind::kWord && (first.text == "us" || first.text == "u") &&
             dollar_next) {
    m.currency = "USD", k += 2;
  } else if (first.text == kSymDollar) {
    m.currency = "USD", k += 1;
  } else if (first.text == kSymEuro) {
    m.currency = "EUR", k += 1;
  } else if (first.text == kSymPound) {
    m.currency = "GBP", k += 1;
  } else if (first.kind == Kind::kWord && (first.text == "usd" || first.text == "brl" ||
                                           first.text == "eur" || first.text == "gbp")) {
    m.currency = CurrencyWord(first.text), k += 1;
  }
  if (k >= end || tokens_[k].kind != Kind::kNumber || tokens_[k].percent) return std::nullopt;
  m.amount = tokens_[k].number;
  ++k;
  if (k < end && tokens_[k].kind == Kind::kWord) {
    if (const double f = Multiplier(tokens_[k].text, !m.currency.empty()); f > 0) {
      m.amount *= f;
      m.multiplier = f;
      ++k;
    }
  }
  if (m.currency.empty() && k < end && tokens_[k].kind == Kind::kWord) {
    if (const std::string_view c = CurrencyWord(tokens_[k].text); !c.empty()) {
      m.currency = c;
      ++k;
    }
  }
  m.clear = !m.currency.empty() || m.multiplier > 1;
  if (allow_range && k + 1 < end) {
    const Token& t = tokens_[k];
    const bool between =
        j > s_->tok_begin && (tokens_[j - 1].text == "entre" || tokens_[j - 1].text == "between");
    const bool connector = t.text == kSymDash || t.text == "a" || t.text == "ate" ||
                           t.text == "to" || (between && (t.text == "e" || t.text == "and"));
    if (connector) {
      if (const std::optional<Money> hi = ParseMoneyAt(k + 1, end, false)) {
        double lo = m.amount;
        if (m.multiplier == 1 && hi->multiplier > 1) lo *= hi->multiplier;
        if (lo < hi->amount) {
          m.min = lo;
          m.amount = hi->amount;
          if (m.currency.empty()) m.currency = hi->currency;
          m.clear = m.clear || hi->clear;
          k = hi->end;
        }
      }
    }
  }
  m.end = k;
  return m;
}

// A number without currency or multiplier is an amount only right after a budget cue
// ("orçamento de 5000 por mês"), and never a year or a count of something.
bool Extractor::BareAmountAllowed(const Money& m) const {
  constexpr double kMinBareAmount = 10;
  if (m.amount < kMinBareAmount || (m.amount >= 1900 && m.amount <= 2100)) return false;
  bool cue = false;
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& c = matches_[i];
    cue = cue || (c.tag == C::kBudget && c.end <= m.begin && c.end + 3 >= m.begin);
  }
  if (!cue) return false;
  if (m.end >= s_->tok_end) return true;
  const Token& next = tokens_[m.end];
  if (next.kind == Kind::kSymbol) {
    return next.text != kSymPercent && !(next.text == kSymSlash && m.end + 1 < s_->tok_end &&
                                         tokens_[m.end + 1].kind == Kind::kNumber);
  }
  static constexpr std::array kFollowers = {"por"sv,  "ao"sv,  "per"sv,  "a"sv,    "e"sv,
                                            "and"sv,  "mas"sv, "but"sv,  "no"sv,   "de"sv,
                                            "tops"sv, "max"sv, "each"sv, "every"sv};
  return In(kFollowers, next.text) || Has(C::kPeriod, m.end, m.end + 1) ||
         Has(C::kBoundMax, m.end, m.end + 1);
}

void Extractor::AttachPeriodAndBound(Money& m) const {
  // Period: right after the amount ("/mês", "por mês", "a month", "mensais"), or an adverb or
  // "por"/"per" phrase shortly before it ("mensalmente posso pagar 500").
  static constexpr std::array kPeriodGlue = {"por"sv,   "ao"sv, "a"sv,    "per"sv, "each"sv,
                                             "every"sv, "no"sv, "pelo"sv, "de"sv,  "um"sv,
                                             "uma"sv,   "an"sv, "in"sv,   "the"sv, "reais"sv};
  for (uint32_t i = s_->match_begin; i < s_->match_end && m.period.empty(); ++i) {
    const Match& p = matches_[i];
    if (p.tag != C::kPeriod) continue;
    if (p.begin >= m.end && p.begin < m.end + 3) {
      bool glued = true;
      for (uint32_t k = m.end; k < p.begin; ++k) {
        glued = glued && (tokens_[k].text == kSymSlash || In(kPeriodGlue, tokens_[k].text));
      }
      if (glued) m.period = p.canon;
    } else if (p.end <= m.begin && p.end + 4 >= m.begin) {
      const std::string_view w = tokens_[p.begin].text;
      const bool adverb = w.ends_with("mente") || w.ends_with("ly") || w == "mensal" ||
                          w == "mensais" || w == "anual" || w == "anuais" || w == "semanal";
      const bool glued = p.begin > s_->tok_begin &&
                         (tokens_[p.begin - 1].text == "por" || tokens_[p.begin - 1].text == "ao" ||
                          tokens_[p.begin - 1].text == "per");
      if (adverb || glued) m.period = p.canon;
    }
  }
  // Bound: "até R$ 500", "R$ 500 no máximo", "pelo menos 300", "não mais que 500".
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& b = matches_[i];
    const bool before = b.end + 1 >= m.begin && b.end <= m.begin;
    const bool after = b.begin == m.end;
    if (b.tag == C::kBoundMax && (before || after)) {
      m.bound = "max";
    } else if (b.tag == C::kBoundMin && before && m.bound.empty()) {
      m.bound = "min";
    } else if (b.tag == C::kMoreThan && before && m.bound.empty()) {
      m.bound = NegBefore(b.begin, s_->tok_begin, 4) ? "max" : "min";
    }
  }
}

// Decides whose amount this is from the nearest cue (rules at the top of the file).
void Extractor::Classify(Money& m) const {
  bool weak_price = false;
  bool inherited = false;
  const Match* cue = nullptr;
  Use use = Use::kNone;
  const uint32_t lo =
      m.begin > s_->tok_begin + kCueWindowBack ? m.begin - kCueWindowBack : s_->tok_begin;
  for (uint32_t k = m.begin; k > lo && use == Use::kNone; --k) {
    // An earlier amount: a budget carries over ("5 mil, no máximo 6 mil"), anything else stops.
    if (!money_.empty() && money_.back().end == k) {
      const Money& prev = money_.back();
      if (!weak_price && (prev.use == Use::kBudget || prev.denied)) {
        use = Use::kBudget, inherited = true;
      }
      break;
    }
    const Match* best = nullptr;
    for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
      const Match& c = matches_[i];
      if (c.end != k) continue;
      switch (c.tag) {
        case C::kBudget:
        case C::kPriceStrong:
        case C::kPriceWeak:
        case C::kSpend:
        case C::kRevenue:
          if (best == nullptr || c.begin < best->begin) best = &c;
          break;
        default:
          break;
      }
    }
    if (best == nullptr) continue;
    switch (best->tag) {
      case C::kPriceWeak:
        weak_price = true;
        break;
      case C::kBudget:
        use = Use::kBudget, cue = best;
        break;
      case C::kPriceStrong:
        use = Use::kPrice;
        break;
      case C::kSpend:
        use = Use::kSpend, cue = best;
        break;
      default:
        use = Use::kRevenue, cue = best;
        break;
    }
  }
  if (use == Use::kNone && weak_price) use = Use::kPrice;
  if (use == Use::kNone) {
    const uint32_t hi = std::min(m.end + kCueWindowAhead, ClauseOf(m.begin).end);
    const Match* budget = First(C::kBudget, m.end, hi);
    const Match* strong = First(C::kPriceStrong, m.end, hi);
    const Match* weak = First(C::kPriceWeak, m.end, hi);
    const Match* price =
        strong == nullptr || (weak != nullptr && weak->begin < strong->begin) ? weak : strong;
    if (budget != nullptr && (price == nullptr || budget->begin < price->begin)) {
      use = Use::kBudget;
    } else if (price != nullptr) {
      use = Use::kPrice;
    }
  }
  if (use == Use::kBudget && cue != nullptr) {
    // "não posso pagar R$ 500" is a price that is too high; "não posso pagar mais de R$ 500" is
    // a maximum.
    if (NegBefore(cue->begin, s_->tok_begin, kNegWindow) && m.bound != "max") use = Use::kPrice;
    // "meu orçamento não é mais 5 mil": the amount itself is denied.
    if (NegBefore(m.begin, cue->end, kNegWindow) && m.bound != "max") {
      use = Use::kNone;
      m.denied = true;
    }
  }
  if (use == Use::kRevenue && cue != nullptr &&
      Has(C::kGoalVerb, cue->begin > 3 ? cue->begin - 3 : 0, cue->begin)) {
    use = Use::kGoal;  // "aumentar o faturamento para R$ 1 milhão"
  }
  if (use == Use::kNone && m.bound == "max" && m.clear && !NegBefore(m.begin, s_->tok_begin, 3)) {
    use = Use::kBudget;  // "até R$ 500"
    m.confidence = kWeak;
  }
  m.use = use;
  if (use == Use::kBudget && m.confidence == 0) {
    m.confidence = !m.currency.empty() ? kSure : m.clear ? kStrong : kLikely;
    if (inherited) m.confidence = kLikely;
  }
}

void Extractor::FindMoney() {
  money_.clear();
  for (uint32_t j = s_->tok_begin; j < s_->tok_end;) {
    std::optional<Money> m = ParseMoneyAt(j, s_->tok_end, true);
    if (!m) {
      ++j;
      continue;
    }
    j = m->end;
    if (!m->clear && !BareAmountAllowed(*m)) continue;
    AttachPeriodAndBound(*m);
    Classify(*m);
    money_.push_back(*m);
    all_money_.push_back(*m);
  }
}

std::string_view PeriodSuffix(std::string_view p, bool pt) {
  if (p == "month") return pt ? "/mês" : "/month";
  if (p == "year") return pt ? "/ano" : "/year";
  if (p == "week") return pt ? "/semana" : "/week";
  if (p == "day") return pt ? "/dia" : "/day";
  if (p == "one_time") return pt ? " (pagamento único)" : " (one-time)";
  return {};
}

std::string Extractor::MoneyText(const Money& m) const {
  const auto one = [&](double amount) {
    std::string out;
    const std::string_view c = m.currency;
    if (Pt()) {
      out = c == "BRL" ? "R$ " : c == "USD" ? "US$ " : c == "EUR" ? "€ " : c == "GBP" ? "£ " : "";
    } else {
      out = c == "BRL" ? "R$" : c == "USD" ? "$" : c == "EUR" ? "€" : c == "GBP" ? "£" : "";
    }
    return out + FormatAmount(amount, s_->lang);
  };
  std::string out;
  if (m.min >= 0) {
    out = Pt() ? "entre " + one(m.min) + " e " + one(m.amount)
               : "between " + one(m.min) + " and " + one(m.amount);
  } else {
    out = one(m.amount);
  }
  out += PeriodSuffix(m.period, Pt());
  return out;
}

void Extractor::MoneyJson(const Money& m, JsonObject& json) {
  json.Number("amount", m.amount);
  if (!m.currency.empty()) json.String("currency", m.currency);
  if (!m.period.empty()) json.String("period", m.period);
  if (m.min >= 0) json.Number("min", m.min);
  if (!m.bound.empty() && m.min < 0) json.String("bound", m.bound);
}

// The first quoted price among tokens [from, to).
const Money* Extractor::PriceIn(uint32_t from, uint32_t to) const {
  for (const Money& m : money_) {
    if (m.begin >= from && m.begin < to && m.use == Use::kPrice && m.clear) return &m;
  }
  return nullptr;
}

// ------------------------------------------------------------------ facts

void Extractor::Add(std::string_view type, std::string subject, std::string text, std::string value,
                    double confidence, bool retraction, uint32_t pos) {
  if (facts_.size() >= kMaxPendingFacts) return;
  if (evidence_.empty()) {
    evidence_ =
        CleanUtf8(text_.substr(s_->byte_begin, s_->byte_end - s_->byte_begin), kMaxEvidenceBytes);
  }
  PendingFact f;
  f.fact.type = type;
  f.fact.subject = std::move(subject);
  f.fact.text = std::move(text);
  f.fact.value_json = retraction ? "{}" : std::move(value);
  f.fact.confidence = std::clamp(confidence, 0.0, 1.0);
  f.fact.retraction = retraction;
  f.fact.evidence = evidence_;
  f.pos = pos;
  facts_.push_back(std::move(f));
}

void Extractor::AddTopic(Topic topic, bool retraction, std::string value, double confidence,
                         uint32_t pos, std::string_view suffix) {
  const TopicInfo& t = kTopics[topic];
  std::string text(retraction ? (Pt() ? t.pt_withdrawn : t.en_withdrawn) : (Pt() ? t.pt : t.en));
  text += suffix;
  Add(t.type, std::string(t.subject), std::move(text), std::move(value), confidence, retraction,
      pos);
}

// One fact per subject: the most confident, except that between a statement and a retraction
// the later one wins. Then text order.
std::vector<ExtractedFact> Extractor::Finish() {
  std::vector<size_t> keep;
  for (size_t i = 0; i < facts_.size(); ++i) {
    auto same = std::find_if(keep.begin(), keep.end(), [&](size_t k) {
      return facts_[k].fact.subject == facts_[i].fact.subject;
    });
    if (same == keep.end()) {
      keep.push_back(i);
      continue;
    }
    const PendingFact& old = facts_[*same];
    const PendingFact& now = facts_[i];
    const bool replace = old.fact.retraction != now.fact.retraction
                             ? now.pos >= old.pos
                             : now.fact.confidence > old.fact.confidence;
    if (replace) *same = i;
  }
  std::stable_sort(keep.begin(), keep.end(),
                   [&](size_t a, size_t b) { return facts_[a].pos < facts_[b].pos; });
  if (keep.size() > kMaxFacts) keep.resize(kMaxFacts);
  std::vector<ExtractedFact> out;
  out.reserve(keep.size());
  for (const size_t k : keep) out.push_back(std::move(facts_[k].fact));
  return out;
}

std::vector<ExtractedFact> Extractor::Run() {
  Tokenize();
  for (Sentence& s : sentences_) Analyze(s);
  for (const Sentence& s : sentences_) {
    s_ = &s;
    evidence_.clear();
    ExtractSentence();
  }
  if (!sentences_.empty()) {
    s_ = &sentences_.front();
    evidence_.clear();
    BareAmount();
  }
  return Finish();
}

void Extractor::ExtractSentence() {
  clauses_ = Clauses();
  FindMoney();
  Budgets();
  for (const Clause& cl : clauses_) {
    const size_t facts_before = facts_.size();
    Retracted retracted{};
    Retractions(cl, retracted);
    PriceObjection(cl, retracted);
    CompetitorObjection(cl, retracted);
    OtherObjections(cl, retracted);
    Pains(cl, retracted, facts_before);
    Goals(cl);
  }
  Preferences();
  Technical();
  Personal();
  Business();
  Constraints();
}

// ------------------------------------------------------------------ budgets

// Budgets, current spend and revenue from the amounts of the sentence.
void Extractor::Budgets() {
  for (const Money& m : money_) {
    const Clause& cl = ClauseOf(m.begin);
    if (m.use == Use::kBudget) {
      if (cl.question && m.confidence < kLikely) continue;  // "até R$ 500?"
      std::string text = Pt() ? "Orçamento " : "Budget ";
      if (m.min >= 0) {
        text += MoneyText(m);
      } else if (m.bound == "max") {
        text += (Pt() ? "de até " : "of up to ") + MoneyText(m);
      } else if (m.bound == "min") {
        text += (Pt() ? "de pelo menos " : "of at least ") + MoneyText(m);
      } else {
        text += (Pt() ? "de " : "of ") + MoneyText(m);
      }
      JsonObject json;
      MoneyJson(m, json);
      Add("budget_constraint", "budget", std::move(text), json.Take(),
          m.confidence * (cl.question ? kQuestionFactor : 1), false, m.begin);
      any_budget_ = true;
    } else if ((m.use == Use::kSpend || m.use == Use::kRevenue) && m.clear && !cl.question) {
      const bool spend = m.use == Use::kSpend;
      JsonObject json;
      MoneyJson(m, json);
      std::string text = spend ? (Pt() ? "Gasta hoje " : "Currently spends ")
                               : (Pt() ? "Faturamento de " : "Revenue of ");
      Add("business_info", spend ? "business_info:current_spend" : "business_info:revenue",
          text + MoneyText(m), json.Take(), kLikely, false, m.begin);
    }
  }
  NoBudget();
}

// "Não tenho orçamento (definido)", "we don't have a budget yet", "o orçamento ainda não está
// definido": a budget fact without an amount.
void Extractor::NoBudget() {
  for (const Money& m : money_) {
    if (m.use == Use::kBudget) return;
  }
  static constexpr std::array kDefined = {"definido"sv, "definida"sv, "fechado"sv,
                                          "aprovado"sv, "defined"sv,  "set"sv,
                                          "approved"sv, "decided"sv,  "fixo"sv};
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& b = matches_[i];
    if (b.tag != C::kBudget || b.canon != "noun") continue;
    // Inside "fora do orçamento" or "o orçamento de vocês" the word is something else.
    bool inside = false;
    for (uint32_t j = s_->match_begin; j < s_->match_end; ++j) {
      const Match& o = matches_[j];
      inside =
          inside ||
          ((o.tag == C::kOverBudget || o.tag == C::kPriceStrong || o.tag == C::kOverBudgetPay) &&
           o.begin <= b.begin && o.end >= b.end && o.end - o.begin > 1);
    }
    const Clause& cl = ClauseOf(b.begin);
    if (inside || cl.question) continue;
    bool undefined = NegBefore(b.begin, cl.begin, kNegWindow);
    if (!undefined && AnyNeg(b.end, std::min(b.end + 4, cl.end))) {
      for (uint32_t k = b.end; k < std::min(b.end + 6, cl.end); ++k) {
        undefined = undefined || In(kDefined, tokens_[k].text);
      }
    }
    if (!undefined) continue;
    Add("budget_constraint", "budget",
        Pt() ? "Ainda não tem orçamento definido" : "Has no defined budget yet",
        JsonObject().Bool("defined", false).Take(), kWeak, false, b.begin);
    any_budget_ = true;
    return;
  }
}

// A message that is nothing but an amount ("R$ 5000/mês", "€300/month") answers "what is your
// budget?" more often than not: a weak budget.
void Extractor::BareAmount() {
  if (any_budget_ || any_question_ || all_money_.size() != 1) return;
  const Money& m = all_money_.front();
  if (!m.clear || m.use != Use::kNone) return;
  static constexpr std::array kFillers = {
      "uns"sv,
      "umas"sv,
      "cerca"sv,
      "de"sv,
      "aproximadamente"sv,
      "aprox"sv,
      "mais"sv,
      "ou"sv,
      "menos"sv,
      "tipo"sv,
      "em"sv,
      "torno"sv,
      "por"sv,
      "volta"sv,
      "about"sv,
      "around"sv,
      "roughly"sv,
      "approximately"sv,
      "approx"sv,
      "ao"sv,
      "per"sv,
      "a"sv,
      "o"sv,
      "e"sv,
      "is"sv,
      "it"sv,
      "ate"sv,
      "no"sv,
      "maximo"sv,
      "max"sv,
      "up"sv,
      "to"sv,
      "acho"sv,
      "que"sv,
      "uns"sv,
  };
  for (const Sentence& s : sentences_) {
    s_ = &s;
    for (uint32_t k = s.tok_begin; k < s.tok_end; ++k) {
      if (k >= m.begin && k < m.end) continue;
      const Token& t = tokens_[k];
      if (t.kind == Kind::kSymbol || In(kFillers, t.text)) continue;
      bool covered = false;
      for (uint32_t i = s.match_begin; i < s.match_end; ++i) {
        const Match& p = matches_[i];
        covered = covered ||
                  ((p.tag == C::kPeriod || p.tag == C::kBoundMax) && p.begin <= k && k < p.end);
      }
      if (!covered) return;
    }
  }
  s_ = FindSentence(m.begin);
  evidence_.clear();
  JsonObject json;
  MoneyJson(m, json);
  Add("budget_constraint", "budget", (Pt() ? "Orçamento de " : "Budget of ") + MoneyText(m),
      json.Take(), kGuess, false, m.begin);
}

// ------------------------------------------------------------------ retractions, objections

// Each retraction marker of the clause withdraws the nearest topic within kRetractReach tokens
// (a topic after the marker wins a tie: "já não estou considerando o concorrente").
void Extractor::Retractions(const Clause& cl, Retracted& retracted) {
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& marker = matches_[i];
    if (marker.begin < cl.begin || marker.end > cl.end) continue;
    if (marker.tag != C::kRetract &&
        !(marker.tag == C::kResolved && !NegBefore(marker.begin, cl.begin, kNegWindow))) {
      continue;
    }
    Topic best = kNoTopic;
    uint32_t best_distance = kRetractReach + 1;
    bool best_after = false;
    uint32_t best_pos = marker.begin;
    const auto search = [&](uint32_t from, uint32_t to) {
      for (uint32_t j = s_->match_begin; j < s_->match_end; ++j) {
        const Match& t = matches_[j];
        const Topic topic = TopicOf(t.tag);
        if (topic == kNoTopic || t.begin < from || t.end > to) continue;
        const bool after = t.end > marker.begin;
        const uint32_t distance = t.begin >= marker.end   ? t.begin - marker.end
                                  : t.end <= marker.begin ? marker.begin - t.end
                                                          : 0;
        if (distance < best_distance || (distance == best_distance && after && !best_after)) {
          best = topic, best_distance = distance, best_after = after, best_pos = t.begin;
        }
      }
    };
    search(cl.begin, cl.end);
    // "o preço estava alto, mas agora não é mais problema": the topic is in the clause before.
    if (best == kNoTopic && &cl != &clauses_.front()) {
      const Clause& prev = *(&cl - 1);
      best_distance = kRetractReach + 1;
      search(prev.begin, prev.end);
    }
    if (best == kNoTopic || retracted[best]) continue;
    retracted[best] = true;
    AddTopic(best, true, "{}", kLikely, std::min(best_pos, marker.begin));
  }
}

// "muito caro", "o preço está alto", "o preço é um problema", "fora do orçamento", "can't
// afford it". A quoted price in the clause ("custa R$ 500, muito caro") becomes the value.
void Extractor::PriceObjection(const Clause& cl, const Retracted& retracted) {
  if (retracted[kTopicPrice]) return;
  static constexpr std::array kQualifiers = {
      "muito"sv,   "bem"sv,   "meio"sv,   "ta"sv,      "esta"sv,     "estao"sv,    "achei"sv,
      "acho"sv,    "ficou"sv, "fica"sv,   "ficando"sv, "e"sv,        "eh"sv,       "sao"sv,
      "mais"sv,    "tao"sv,   "mt"sv,     "mto"sv,     "pouco"sv,    "bastante"sv, "super"sv,
      "ficaram"sv, "sai"sv,   "saindo"sv, "to"sv,      "demasiado"sv};
  static constexpr std::array kSalutations = {"cliente"sv, "clientes"sv, "amigo"sv,
                                              "amigos"sv,  "amiga"sv,    "colega"sv,
                                              "colegas"sv, "senhor"sv,   "senhora"sv};
  const Match* hit = nullptr;
  for (uint32_t i = s_->match_begin; i < s_->match_end && hit == nullptr; ++i) {
    const Match& m = matches_[i];
    if (m.begin < cl.begin || m.end > cl.end) continue;
    bool ok = false;
    switch (m.tag) {
      case C::kExpensive: {
        // "Caro João," and "Caros clientes" open letters.
        const bool salutation =
            m.begin == s_->tok_begin && m.end < s_->tok_end &&
            (tokens_[m.end].capitalized || In(kSalutations, tokens_[m.end].text));
        ok = !salutation && !NegBefore(m.begin, cl.begin, kNegWindow);
        break;
      }
      case C::kExpensiveAmbiguous: {
        // "cara" is also "guy", "puxado" also "tiring": only with a qualifier.
        const bool qualified = (m.begin > cl.begin && In(kQualifiers, tokens_[m.begin - 1].text)) ||
                               IsWord(m.end, "demais") || IsWord(m.end, "pra") ||
                               IsWord(m.end, "para");
        ok = qualified && !NegBefore(m.begin, cl.begin, kNegWindow);
        break;
      }
      case C::kOverBudget:
        ok = true;
        break;
      case C::kOverBudgetPay:
        ok = std::none_of(money_.begin(), money_.end(), [&](const Money& mm) {
          return mm.begin >= cl.begin && mm.begin < cl.end && mm.use == Use::kBudget;
        });
        break;
      case C::kPriceTopic: {
        const uint32_t to = std::min(m.end + 6, cl.end);
        const Match* high = First(C::kHigh, m.end, to);
        const Match* problem = First(C::kProblem, cl.begin, to);
        ok = (high != nullptr && !NegBefore(high->begin, m.end, 4)) ||
             (problem != nullptr && !NegBefore(problem->begin, cl.begin, 4));
        break;
      }
      default:
        break;
    }
    if (ok) hit = &m;
  }
  if (hit == nullptr) return;
  std::string value = "{}";
  std::string suffix;
  // The quoted price of the clause, or of the sentence unless a competitor's price is around.
  const Money* price = PriceIn(cl.begin, cl.end);
  if (price == nullptr && !Has(C::kCompetitor, s_->tok_begin, s_->tok_end)) {
    price = PriceIn(s_->tok_begin, s_->tok_end);
  }
  if (price != nullptr) {
    JsonObject json;
    MoneyJson(*price, json);
    value = json.Take();
    suffix = " (" + MoneyText(*price) + ")";
  }
  AddTopic(kTopicPrice, false, std::move(value), kStrong * (cl.question ? kQuestionFactor : 1),
           hit->begin, suffix);
}

// The competitor's name: "a empresa Zapflow", "o concorrente Zapflow", or a capitalised word
// right before an offer ("a Zapflow cobra menos").
std::string Extractor::CompetitorName(const Clause& cl) const {
  static constexpr std::array kLeads = {"empresa"sv,    "company"sv,     "fornecedor"sv,
                                        "vendor"sv,     "concorrente"sv, "competitor"sv,
                                        "ferramenta"sv, "plataforma"sv,  "tool"sv};
  for (uint32_t k = cl.begin; k + 1 < cl.end; ++k) {
    const Token& next = tokens_[k + 1];
    if (In(kLeads, tokens_[k].text) && next.capitalized && next.kind != Kind::kSymbol &&
        !In(kPronouns, next.text)) {
      return CapitalizedRun(k + 1, cl.end, false);
    }
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kPricierThan || m.end >= cl.end) continue;
    uint32_t k = m.end;
    if (IsWord(k, "a") || IsWord(k, "o") || IsWord(k, "the")) ++k;
    if (k < cl.end && tokens_[k].capitalized && tokens_[k].kind != Kind::kSymbol &&
        !In(kPronouns, tokens_[k].text)) {
      return CapitalizedRun(k, cl.end, false);  // "mais caros que a Zenvia"
    }
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if ((m.tag != C::kOffer && m.tag != C::kCheaper) || m.begin <= cl.begin || m.begin >= cl.end) {
      continue;
    }
    const uint32_t k = m.begin - 1;
    const Token& t = tokens_[k];
    if (t.capitalized && t.kind != Kind::kSymbol && !In(kPronouns, t.text) && !StartsMatch(k)) {
      return Span(k, k + 1);
    }
  }
  return {};
}

// "o concorrente oferece 30% mais barato", "a empresa X cobra menos", "estamos avaliando outros
// fornecedores"; "não estou considerando outras empresas" withdraws.
void Extractor::CompetitorObjection(const Clause& cl, const Retracted& retracted) {
  if (retracted[kTopicCompetitor]) return;
  const Match* topic = First(C::kCompetitor, cl.begin, cl.end);
  const Match* cheaper = First(C::kCheaper, cl.begin, cl.end);
  // "o concorrente não é mais barato que vocês" speaks for the seller.
  if (cheaper != nullptr && NegBefore(cheaper->begin, cl.begin, kNegWindow)) return;
  if (cheaper == nullptr) cheaper = FirstPlain(C::kPricierThan, cl.begin, cl.end, cl.begin);
  const Match* discount = First(C::kDiscount, cl.begin, cl.end);
  const Match* offer = First(C::kOffer, cl.begin, cl.end);
  const Match* considering = First(C::kConsidering, cl.begin, cl.end);
  const std::string name = CompetitorName(cl);
  const bool offers = cheaper != nullptr || discount != nullptr || offer != nullptr;
  if (topic == nullptr && (name.empty() || !offers)) return;
  const uint32_t pos = topic != nullptr ? topic->begin : cl.begin;
  if (considering != nullptr && topic != nullptr && topic->begin >= considering->end &&
      NegBefore(considering->begin, cl.begin, kNegWindow)) {
    AddTopic(kTopicCompetitor, true, "{}", kWeak, pos);
    return;
  }
  if (topic != nullptr && NegBefore(topic->begin, cl.begin, 2) && !offers) return;
  // A percentage counts when the clause speaks of a lower price or a discount, or the word
  // after it does ("20% menos", "30% cheaper").
  double percent = -1;
  for (uint32_t k = cl.begin; k < cl.end && percent < 0; ++k) {
    if (!tokens_[k].percent) continue;
    const bool lower = k + 2 < cl.end && Has(C::kCheaperWord, k + 2, k + 3);
    if (cheaper != nullptr || discount != nullptr || lower) percent = tokens_[k].number;
  }
  const Money* price = PriceIn(cl.begin, cl.end);
  for (const Money& m : money_) {
    if (price == nullptr && m.begin >= cl.begin && m.begin < cl.end && m.use == Use::kNone &&
        m.clear) {
      price = &m;  // "o concorrente faz por 300 reais"
    }
  }
  JsonObject json;
  if (!name.empty()) json.String("competitor", name);
  if (percent >= 0) json.Number("competitor_discount_percent", percent);
  if (price != nullptr) {
    json.Number("competitor_price", price->amount);
    if (!price->currency.empty()) json.String("currency", price->currency);
    if (!price->period.empty()) json.String("period", price->period);
  }
  std::string text;
  const std::string who =
      name.empty() ? (Pt() ? "Concorrente" : "A competitor") : (Pt() ? "Concorrente " : "") + name;
  if (percent >= 0) {
    text = Pt() ? who + " oferece preço " + JsonNumber(percent) + "% menor"
                : who + " offers a " + JsonNumber(percent) + "% lower price";
  } else if (price != nullptr) {
    text = Pt() ? who + " cobra " + MoneyText(*price) : who + " charges " + MoneyText(*price);
  } else if (cheaper != nullptr || discount != nullptr) {
    text = Pt() ? who + " oferece preço menor" : who + " offers a lower price";
  } else if (!name.empty()) {
    text = Pt() ? "Está considerando o concorrente " + name : "Is considering " + name;
  } else {
    text = Pt() ? std::string(kTopics[kTopicCompetitor].pt)
                : std::string(kTopics[kTopicCompetitor].en);
  }
  double confidence = percent >= 0 || price != nullptr   ? kSure
                      : offers || considering != nullptr ? kStrong
                                                         : kWeak;
  if (cl.question) confidence *= kQuestionFactor;
  Add(kTopics[kTopicCompetitor].type, std::string(kTopics[kTopicCompetitor].subject),
      std::move(text), json.Take(), confidence, false, pos);
}

// Timing ("agora não é o momento", "só no ano que vem"), trust ("não confio", "is this a
// scam") and need ("não tenho interesse", "we already have a CRM").
void Extractor::OtherObjections(const Clause& cl, const Retracted& retracted) {
  const double factor = cl.question ? kQuestionFactor : 1;
  if (!retracted[kTopicTiming]) {
    const Match* strong = First(C::kTimingStrong, cl.begin, cl.end);
    const Match* weak = First(C::kTimingWeak, cl.begin, cl.end);
    bool postponed = false;
    for (uint32_t i = s_->match_begin; weak != nullptr && i < s_->match_end; ++i) {
      const Match& p = matches_[i];
      postponed = postponed || (p.tag == C::kPostpone && p.begin >= cl.begin && p.end <= cl.end &&
                                (p.end <= weak->begin || p.begin >= weak->end));
    }
    if (strong != nullptr) {
      AddTopic(kTopicTiming, false, "{}", kStrong * factor, strong->begin);
    } else if (weak != nullptr && postponed) {
      AddTopic(kTopicTiming, false,
               JsonObject().String("when", Span(weak->begin, weak->end)).Take(), kLikely * factor,
               weak->begin);
    }
  }
  if (!retracted[kTopicTrust]) {
    if (const Match* m = FirstPlain(C::kTrust, cl.begin, cl.end, cl.begin)) {
      AddTopic(kTopicTrust, false, "{}", kLikely * factor, m->begin);
    }
  }
  if (const Match* m = First(C::kNoNeed, cl.begin, cl.end)) {
    AddTopic(kTopicNeed, false, "{}", kLikely * factor, m->begin);
  }
}

// ------------------------------------------------------------------ pain points, goals

void Extractor::Pains(const Clause& cl, const Retracted& retracted, size_t facts_before) {
  const double factor = cl.question ? kQuestionFactor : 1;
  const auto plain = [&](C c) { return FirstPlain(c, cl.begin, cl.end, cl.begin); };
  const auto first = [&](C c) { return First(c, cl.begin, cl.end); };
  // "o ROI não está claro", "não vejo retorno", "ROI baixo".
  if (!retracted[kTopicRoi] && !cl.question) {
    if (const Match* roi = first(C::kRoi)) {
      if (first(C::kUnclear) != nullptr || AnyNeg(cl.begin, cl.end) ||
          first(C::kProblem) != nullptr) {
        AddTopic(kTopicRoi, false, "{}", kStrong, roi->begin);
      }
    }
  }
  // "o suporte demora dias", "support takes days to answer", "ninguém responde".
  const Match* support = first(C::kSupport);
  if (!retracted[kTopicSupport]) {
    const Match* bad = support != nullptr ? plain(C::kSupportBad) : nullptr;
    const Match* alone = first(C::kSupportBadAlone);
    if (bad != nullptr || alone != nullptr) {
      AddTopic(kTopicSupport, false, "{}", kStrong * factor,
               support != nullptr ? support->begin : alone->begin);
    }
  }
  // "o sistema é lento", "trava toda hora" (slowness after "o suporte" is the support's).
  if (!retracted[kTopicPerformance]) {
    const Match* slow = plain(C::kSlow);
    if (slow != nullptr && (support == nullptr || slow->begin < support->begin)) {
      AddTopic(kTopicPerformance, false, "{}", kStrong * factor, slow->begin);
    }
  }
  // "perdemos muito tempo com planilhas"; lost time without spreadsheets is its own pain.
  const Match* manual = plain(C::kManual);
  const Match* waste = plain(C::kTimeWaste);
  if (manual != nullptr && !retracted[kTopicManual] &&
      (waste != nullptr || plain(C::kPainWord) != nullptr || first(C::kManualCue) != nullptr)) {
    AddTopic(kTopicManual, false, "{}", kStrong * factor,
             std::min(manual->begin, waste != nullptr ? waste->begin : manual->begin));
  } else if (manual == nullptr && waste != nullptr && !retracted[kTopicTimeWaste]) {
    AddTopic(kTopicTimeWaste, false, "{}", kLikely * factor, waste->begin);
  }
  static constexpr std::array<std::pair<Topic, C>, 4> kPhrasePains = {{
      {kTopicIntegration, C::kIntegrationBad},
      {kTopicUsability, C::kUsabilityBad},
      {kTopicVisibility, C::kVisibility},
      {kTopicLostSales, C::kLostSales},
  }};
  for (const auto& [topic, tag] : kPhrasePains) {
    const Match* m = tag == C::kLostSales ? plain(tag) : first(tag);
    if (m != nullptr && !retracted[topic]) AddTopic(topic, false, "{}", kStrong * factor, m->begin);
  }
  // "nosso maior problema é ...": whatever follows, unless a known pain or objection was found.
  if (facts_.size() != facts_before) return;
  if (const Match* lead = first(C::kPainLead)) {
    std::string slug;
    uint32_t from = 0;
    uint32_t last = 0;
    ObjectWords(lead->end, cl.end, slug, from, last);
    if (slug.empty()) return;
    Add("pain_point", "pain_point:" + slug,
        (Pt() ? "Dor: " : "Pain point: ") + Span(from, std::min(cl.end, last + 4)),
        JsonObject().String("topic", Span(from, last + 1)).Take(), kWeak * factor, false,
        lead->begin);
  }
}

// The object of a goal or a pain from token k: up to three content words after articles and
// possessives, "de"/"of" allowed inside ("tempo de resposta"). Appends their folded (and for a
// few common ones, translated) forms to `slug` joined by '_'; sets the first and last token.
// Returns the token after the object.
uint32_t Extractor::ObjectWords(uint32_t k, uint32_t end, std::string& slug, uint32_t& first,
                                uint32_t& last) const {
  constexpr int kMaxObjectWords = 3;
  int words = 0;
  for (; k < end && words < kMaxObjectWords; ++k) {
    const Token& t = tokens_[k];
    if (t.kind == Kind::kSymbol || t.kind == Kind::kNumber) break;
    const std::string_view w = t.text;
    const bool of = w == "de" || w == "do" || w == "da" || w == "dos" || w == "das" || w == "of";
    const bool to =
        w == "para" || w == "pra" || w == "to" || w == "into";  // "expandir para o Chile"
    if (words == 0 && (of || to || In(kObjectSkip, w))) continue;
    if (of) {
      if (k + 1 < end && tokens_[k + 1].kind == Kind::kWord &&
          !In(kObjectStop, tokens_[k + 1].text) && !In(kObjectSkip, tokens_[k + 1].text)) {
        continue;
      }
      break;
    }
    if (In(kObjectStop, w) || Has(C::kGoalVerb, k, k + 1)) break;
    std::string_view out = w;
    for (const Translation& tr : kObjectWords) {
      if (tr.from == w) out = tr.to;
    }
    if (!slug.empty()) slug.push_back('_');
    slug.append(out);
    if (words == 0) first = k;
    last = k;
    ++words;
  }
  return k;
}

// "queremos aumentar as vendas em 20%", "our goal is to reduce churn", "desistimos de expandir".
void Extractor::Goals(const Clause& cl) {
  uint32_t done = cl.begin;  // tokens before it were read as goals already
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& g = matches_[i];
    const bool cue = g.tag == C::kGoalCue;
    if ((!cue && g.tag != C::kRetract) || g.begin < std::max(cl.begin, done) || g.end > cl.end) {
      continue;
    }
    const Match* verb = First(C::kGoalVerb, g.end, std::min(g.end + 3, cl.end));
    if (verb == nullptr) continue;
    bool retraction = !cue;
    if (cue) {
      for (uint32_t j = s_->match_begin; j < s_->match_end; ++j) {
        const Match& r = matches_[j];
        retraction = retraction || (r.tag == C::kRetract && r.begin >= cl.begin &&
                                    r.begin < verb->begin && r.end + 3 >= g.begin);
      }
      const bool negated = NegBefore(g.begin, cl.begin, 2) || AnyNeg(g.end, verb->begin);
      if (negated && !retraction) continue;
    }
    done = Goal(*verb, cl, retraction);
    // "aumentar as vendas e reduzir custos": two goals.
    while (done + 1 < cl.end && (IsWord(done, "e") || IsWord(done, "and"))) {
      const Match* next = First(C::kGoalVerb, done + 1, done + 2);
      if (next == nullptr) break;
      done = Goal(*next, cl, retraction);
    }
  }
}

uint32_t Extractor::Goal(const Match& verb, const Clause& cl, bool retraction) {
  std::string slug;
  uint32_t first = 0;
  uint32_t last = 0;
  const uint32_t end = ObjectWords(verb.end, cl.end, slug, first, last);
  uint32_t text_end = cl.end;
  for (uint32_t k = end; k + 1 < cl.end; ++k) {
    if ((IsWord(k, "e") || IsWord(k, "and")) && Has(C::kGoalVerb, k + 1, k + 2)) {
      text_end = k;
      break;
    }
  }
  double percent = -1;
  for (uint32_t k = verb.end; k < text_end && percent < 0; ++k) {
    if (tokens_[k].percent) percent = tokens_[k].number;
  }
  const Money* target = nullptr;
  for (const Money& m : money_) {
    if (m.begin >= verb.end && m.begin < text_end && m.use != Use::kBudget && m.clear) {
      target = &m;
      break;
    }
  }
  JsonObject json;
  json.String("action", verb.canon);
  if (!slug.empty()) json.String("object", Span(first, last + 1));
  if (percent >= 0) json.Number("percent", percent);
  if (target != nullptr) {
    json.Number("amount", target->amount);
    if (!target->currency.empty()) json.String("currency", target->currency);
    if (!target->period.empty()) json.String("period", target->period);
  }
  std::string text = retraction ? (Pt() ? "Desistiu do objetivo: " : "Dropped the goal: ")
                                : (Pt() ? "Objetivo: " : "Goal: ");
  text += Span(verb.begin, text_end);
  double confidence = percent >= 0 || target != nullptr ? kStrong : kLikely;
  if (cl.question) confidence *= kQuestionFactor;
  std::string subject = "goal:" + std::string(verb.canon);
  if (!slug.empty()) subject += "_" + slug;
  Add("goal", std::move(subject), std::move(text), json.Take(), confidence, retraction, verb.begin);
  return end;
}

// ------------------------------------------------------------------ preferences

std::string_view ChannelName(std::string_view canon, bool pt) {
  if (canon == "whatsapp") return "WhatsApp";
  if (canon == "email") return pt ? "e-mail" : "email";
  if (canon == "phone") return pt ? "telefone" : "phone";
  if (canon == "sms") return "SMS";
  if (canon == "telegram") return "Telegram";
  if (canon == "instagram") return "Instagram";
  if (canon == "video") return pt ? "videochamada" : "video call";
  if (canon == "in_person") return pt ? "presencial" : "in person";
  return "LinkedIn";
}

std::string_view TimeName(std::string_view canon, bool pt) {
  if (canon == "morning") return pt ? "de manhã" : "in the morning";
  if (canon == "afternoon") return pt ? "à tarde" : "in the afternoon";
  if (canon == "evening") return pt ? "à noite" : "in the evening";
  if (canon == "business_hours") return pt ? "em horário comercial" : "during business hours";
  if (canon == "weekend") return pt ? "no fim de semana" : "on weekends";
  return pt ? "na hora do almoço" : "at lunchtime";
}

// "prefiro ser contatado por WhatsApp", "email is better", "melhor horário é de manhã", "prefiro
// pagar no pix", "não me liguem".
void Extractor::Preferences() {
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& cue = matches_[i];
    const bool prefer = cue.tag == C::kPrefer || cue.tag == C::kBestWay;
    const bool time_cue = cue.tag == C::kTimeCue;
    const bool contact = cue.tag == C::kContactMe;
    if (!prefer && !time_cue && !contact) continue;
    if (NegBefore(cue.begin, s_->tok_begin, 2)) continue;
    const uint32_t to = std::min(cue.end + 8, s_->tok_end);
    const double confidence = contact ? kWeak : kStrong;
    if (!time_cue) {
      if (const Match* channel = First(C::kChannel, cue.end, to)) {
        if (!AnyNeg(cue.end, channel->begin)) {
          ChannelPreference(*channel, confidence);
        } else if (channel->canon == "phone") {
          Add("preference", "preference:no_calls",
              Pt() ? "Não quer receber ligações" : "Does not want phone calls",
              JsonObject().String("channel", "phone").Bool("avoid", true).Take(), kStrong, false,
              cue.begin);
        }
      }
    }
    TimePreference(cue.end, to, confidence);
    if (!prefer) continue;
    if (const Match* language = First(C::kLanguage, cue.end, to)) {
      const std::string_view l = language->canon;
      const std::string_view name = l == "en"   ? (Pt() ? "inglês" : "English")
                                    : l == "pt" ? (Pt() ? "português" : "Portuguese")
                                                : (Pt() ? "espanhol" : "Spanish");
      Add("preference", "preference:language",
          (Pt() ? "Idioma preferido: " : "Preferred language: ") + std::string(name),
          JsonObject().String("language", l).Take(), kStrong, false, language->begin);
    }
    if (cue.tag != C::kPrefer) continue;
    if (const Match* pay = First(C::kPayMethod, cue.end, to)) {
      Add("preference", "preference:payment",
          (Pt() ? "Forma de pagamento preferida: " : "Preferred payment method: ") +
              Span(pay->begin, pay->end),
          JsonObject().String("method", pay->canon).Take(), kStrong, false, pay->begin);
    }
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& channel = matches_[i];
    if (channel.tag != C::kChannel) continue;
    const Match* better = First(C::kBetter, channel.end, channel.end + 3);
    if (better != nullptr && !NegBefore(better->begin, channel.begin, 2) &&
        !AnyNeg(better->begin, better->end)) {
      ChannelPreference(channel, kLikely);
    }
  }
  if (const Match* m = First(C::kNoCalls, s_->tok_begin, s_->tok_end)) {
    Add("preference", "preference:no_calls",
        Pt() ? "Não quer receber ligações" : "Does not want phone calls",
        JsonObject().String("channel", "phone").Bool("avoid", true).Take(), kStrong, false,
        m->begin);
  }
}

void Extractor::ChannelPreference(const Match& channel, double confidence) {
  Add("preference", "preference:channel",
      (Pt() ? "Canal preferido: " : "Preferred channel: ") +
          std::string(ChannelName(channel.canon, Pt())),
      JsonObject().String("channel", channel.canon).Take(), confidence, false, channel.begin);
}

void Extractor::TimePreference(uint32_t from, uint32_t to, double confidence) {
  const Match* when = First(C::kTimeOfDay, from, to);
  int hour = -1;
  bool after = true;
  uint32_t pos = when != nullptr ? when->begin : to;
  for (const C c : {C::kClockAfter, C::kClockBefore}) {
    const Match* m = First(c, from, to);
    if (m == nullptr || m->end >= s_->tok_end || hour >= 0) continue;
    const Token& t = tokens_[m->end];
    constexpr double kHoursPerDay = 24;
    if (t.kind != Kind::kNumber || t.percent || t.number > kHoursPerDay ||
        t.number != std::floor(t.number)) {
      continue;
    }
    hour = static_cast<int>(t.number);
    constexpr int kNoon = 12;
    if (IsWord(m->end + 1, "pm") && hour < kNoon) hour += kNoon;
    after = c == C::kClockAfter;
    pos = std::min(pos, m->begin);
  }
  if (when == nullptr && hour < 0) return;
  JsonObject json;
  std::string text = Pt() ? "Horário preferido: " : "Preferred time: ";
  if (when != nullptr) {
    json.String("time", when->canon);
    text += TimeName(when->canon, Pt());
  }
  if (hour >= 0) {
    json.Number(after ? "after_hour" : "before_hour", hour);
    if (when != nullptr) text += ", ";
    text += Pt() ? (after ? "depois das " : "antes das ") + std::to_string(hour) + "h"
                 : (after ? "after " : "before ") + std::to_string(hour) + ":00";
  }
  Add("preference", "preference:time", std::move(text), json.Take(), confidence, false, pos);
}

// ------------------------------------------------------------------ technical details

// Lower-case letters and digits of `s`: "E-404" and "e404" get the same subject.
std::string Slug(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (IsAsciiAlnum(c)) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
    } else if (c == ' ' && !out.empty() && out.back() != '_') {
      out.push_back('_');
    }
  }
  return out;
}

// Error codes after "erro"/"error"/"código" ("erro 500", "error E-404", "código 0x80070005"),
// withdrawn when the sentence says they are fixed; versions ("versão 3.2"); platforms ("app
// Android", "iPhone"); products the customer names ("usamos o Shopify").
void Extractor::Technical() {
  static constexpr std::array kCodeFillers = {
      "de"sv,  "do"sv,   "da"sv,    "n"sv,      "no"sv,   "numero"sv, "nr"sv, "code"sv,  "codigo"sv,
      "cod"sv, "erro"sv, "error"sv, "status"sv, "http"sv, "is"sv,     "e"sv,  "number"sv};
  bool error_context = false;
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const C tag = matches_[i].tag;
    error_context = error_context || tag == C::kErrorCue || tag == C::kPainWord || tag == C::kSlow;
  }
  // "o erro 500 foi resolvido, mas o 403 continua": the marker must share the code's clause.
  const auto fixed_at = [&](uint32_t k) {
    const Clause& cl = ClauseOf(k);
    for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
      const Match& m = matches_[i];
      if (m.begin < cl.begin || m.begin >= cl.end) continue;
      if (m.tag == C::kRetract ||
          (m.tag == C::kResolved && !NegBefore(m.begin, cl.begin, kNegWindow))) {
        return true;
      }
    }
    return false;
  };
  const auto add_code = [&](uint32_t k, double confidence) {
    const bool fixed = fixed_at(k);
    const std::string code = Span(k, k + 1);
    Add("technical_info", "technical_info:error:" + Slug(tokens_[k].text),
        fixed ? (Pt() ? "Erro " + code + " resolvido" : "Error " + code + " fixed")
              : (Pt() ? "Erro " : "Error ") + code,
        JsonObject().String("code", code).Take(), fixed ? kLikely : confidence, fixed, k);
  };
  constexpr double kMaxCode = 1e10;
  constexpr double kMinCodeBefore = 100;  // "the 403 error", not "the 2 errors"
  const auto integer = [&](const Token& t, double min) {
    return t.kind == Kind::kNumber && !t.percent && t.number == std::floor(t.number) &&
           t.number >= min && t.number < kMaxCode;
  };
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kErrorCue && m.tag != C::kCodeCue) continue;
    if (m.tag == C::kErrorCue && m.begin > s_->tok_begin &&
        (tokens_[m.begin - 1].kind == Kind::kCode ||
         integer(tokens_[m.begin - 1], kMinCodeBefore))) {
      add_code(m.begin - 1, kStrong);
      continue;
    }
    for (uint32_t k = m.end; k < std::min(m.end + 3, s_->tok_end); ++k) {
      const Token& t = tokens_[k];
      if (t.kind == Kind::kWord && In(kCodeFillers, t.text)) continue;
      if (t.kind == Kind::kCode || (integer(t, 0) && (m.tag == C::kErrorCue || error_context))) {
        add_code(k, kSure);
      }
      break;
    }
  }
  // Versions.
  for (uint32_t k = s_->tok_begin; k < s_->tok_end; ++k) {
    const Token& t = tokens_[k];
    const bool v_code =
        t.kind == Kind::kCode && t.text.size() > 1 && t.text[0] == 'v' && IsDigit(t.text[1]);
    uint32_t version = 0;
    if (v_code) {
      version = k;
    } else if (Has(C::kVersionCue, k, k + 1)) {
      uint32_t j = k + 1;
      if (IsWord(j, "do") || IsWord(j, "da") || IsWord(j, "de") || IsWord(j, "no")) ++j;
      if (j < s_->tok_end && !tokens_[j].percent &&
          (tokens_[j].kind == Kind::kNumber || tokens_[j].kind == Kind::kCode)) {
        version = j;
      }
    }
    if (version == 0) continue;
    std::string v = Span(version, version + 1);
    if (v_code) v.erase(0, 1);
    Add("technical_info", "technical_info:version", (Pt() ? "Versão " : "Version ") + v,
        JsonObject().String("version", v).Take(), kStrong, false, k);
    break;
  }
  // Platforms and products.
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kPlatform && m.tag != C::kProduct) continue;
    const uint32_t lo = m.begin > s_->tok_begin + 4 ? m.begin - 4 : s_->tok_begin;
    const bool stopped = Has(C::kStopUsing, lo, m.begin);
    const bool question = ClauseOf(m.begin).question;
    const std::string name(m.canon);
    if (m.tag == C::kPlatform) {
      std::string version;
      if (m.end < s_->tok_end && !tokens_[m.end].percent &&
          (tokens_[m.end].kind == Kind::kNumber || tokens_[m.end].kind == Kind::kCode) &&
          tokens_[m.end].text.size() <= 5) {
        version = Span(m.end, m.end + 1);
      }
      JsonObject json;
      json.String("platform", name);
      if (!version.empty()) json.String("version", version);
      Add("technical_info", "technical_info:platform:" + Slug(name),
          (Pt() ? "Plataforma: " : "Platform: ") + name + (version.empty() ? "" : " " + version),
          json.Take(), question ? kGuess : kWeak, stopped, m.begin);
    } else {
      const bool uses = Has(C::kUseVerb, lo, m.begin);
      std::string text = uses ? (Pt() ? "Usa " : "Uses ") : (Pt() ? "Mencionou " : "Mentioned ");
      Add("technical_info", "technical_info:product:" + Slug(name), text + name,
          JsonObject().String("product", name).Take(), uses ? kLikely : kWeak, stopped, m.begin);
    }
  }
}

// ------------------------------------------------------------------ personal details

// Children ("tenho 3 filhos", "não tenho filhos", "I have two kids"), age ("tenho 35 anos",
// "I'm 35 years old"), name ("meu nome é Ana"), home town ("moro em São Paulo") and role ("sou
// gerente de vendas", "I'm the head of sales").
void Extractor::Personal() {
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kChildren) continue;
    uint32_t k = m.begin;
    int count = -1;
    if (k > s_->tok_begin) {
      const Token& prev = tokens_[k - 1];
      constexpr double kMaxChildren = 30;
      if (prev.kind == Kind::kNumber && !prev.percent && prev.number <= kMaxChildren &&
          prev.number == std::floor(prev.number)) {
        count = static_cast<int>(prev.number), --k;
      } else if (const int n = NumberWord(prev.text); n > 0) {
        count = n, --k;
      }
    }
    const Match* have = nullptr;
    for (uint32_t j = s_->match_begin; j < s_->match_end; ++j) {
      if (matches_[j].tag == C::kHave && matches_[j].end == k) have = &matches_[j];
    }
    if (have == nullptr) continue;
    // "tenho 3 filhos" and "não tenho filhos" say how many; "tenho filhos" does not.
    const bool negated = NegBefore(have->begin, s_->tok_begin, 2);
    if (negated ? count >= 0 : count <= 0) continue;
    if (negated) count = 0;
    std::string text;
    if (Pt()) {
      text = count == 0   ? "Não tem filhos"
             : count == 1 ? "Tem 1 filho"
                          : "Tem " + std::to_string(count) + " filhos";
    } else {
      text = count == 0   ? "Has no children"
             : count == 1 ? "Has 1 child"
                          : "Has " + std::to_string(count) + " children";
    }
    Add("personal_info", "personal_info:children", std::move(text),
        JsonObject().Number("children", count).Take(), kStrong, false, have->begin);
    break;
  }
  // Age.
  for (uint32_t k = s_->tok_begin + 1; k + 1 < s_->tok_end; ++k) {
    const Token& t = tokens_[k];
    constexpr double kMinAge = 10;
    constexpr double kMaxAge = 110;
    if (t.kind != Kind::kNumber || t.percent || t.number < kMinAge || t.number > kMaxAge) {
      continue;
    }
    static constexpr std::array kNotAge = {"de"sv,  "no"sv, "na"sv, "em"sv, "com"sv,
                                           "que"sv, "of"sv, "in"sv, "at"sv, "atuando"sv};
    const bool pt = IsWord(k - 1, "tenho") && IsWord(k + 1, "anos") &&
                    (k + 2 >= s_->tok_end || !In(kNotAge, tokens_[k + 2].text));
    const bool en =
        (IsWord(k - 1, "im") || (k >= 2 && IsWord(k - 2, "i") && IsWord(k - 1, "am"))) &&
        ((IsWord(k + 1, "years") && IsWord(k + 2, "old")) || IsWord(k + 1, "yo"));
    if (!pt && !en) continue;
    const int age = static_cast<int>(t.number);
    Add("personal_info", "personal_info:age",
        Pt() ? "Tem " + std::to_string(age) + " anos" : "Is " + std::to_string(age) + " years old",
        JsonObject().Number("age", age).Take(), kStrong, false, k);
    break;
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.end >= s_->tok_end) continue;
    const Token& next = tokens_[m.end];
    if (m.tag == C::kNameCue) {
      // Capitalised words; after an explicit "meu nome é"/"my name is" also "da Silva" and a
      // lower-case name. After "sou o", "da X" is more often the company.
      const bool explicit_cue = tokens_[m.begin].text == "meu" || tokens_[m.begin].text == "me" ||
                                tokens_[m.begin].text == "my";
      std::string name = CapitalizedRun(m.end, s_->tok_end, explicit_cue);
      if (name.empty() && explicit_cue && next.kind == Kind::kWord && !In(kPronouns, next.text) &&
          !StartsMatch(m.end)) {
        name = Span(m.end, m.end + 1);
      }
      if (name.empty() || (next.kind == Kind::kWord && In(kPronouns, next.text))) continue;
      Add("personal_info", "personal_info:name", (Pt() ? "Nome: " : "Name: ") + name,
          JsonObject().String("name", name).Take(), next.capitalized ? kStrong : kLikely, false,
          m.begin);
      // "sou o Carlos da Contabilidade Silva", "this is Mike from Acme".
      uint32_t after = m.end;
      while (after < s_->tok_end && tokens_[after].capitalized) ++after;
      if (!explicit_cue && after + 1 < s_->tok_end && after > m.end &&
          (IsWord(after, "da") || IsWord(after, "do") || IsWord(after, "from")) &&
          tokens_[after + 1].capitalized) {
        const std::string company = CapitalizedRun(after + 1, s_->tok_end, false);
        Add("business_info", "business_info:company", (Pt() ? "Empresa: " : "Company: ") + company,
            JsonObject().String("company", company).Take(), kLikely, false, after + 1);
      }
    } else if (m.tag == C::kLocationCue || m.tag == C::kBizLocationCue) {
      const std::string place = CapitalizedRun(m.end, s_->tok_end, true);
      if (place.empty() || In(kPronouns, next.text)) continue;
      const bool personal = m.tag == C::kLocationCue;
      Add(personal ? "personal_info" : "business_info",
          personal ? "personal_info:location" : "business_info:location",
          (Pt() ? "Localização: " : "Location: ") + place,
          JsonObject().String("location", place).Take(), kLikely, false, m.begin);
    } else if (m.tag == C::kRoleCue && !NegBefore(m.begin, s_->tok_begin, 2)) {
      uint32_t k = m.end;
      if (IsWord(k, "o") || IsWord(k, "a") || IsWord(k, "um") || IsWord(k, "uma") ||
          IsWord(k, "the") || IsWord(k, "an")) {
        ++k;
      }
      // Portuguese puts the role first ("gerente de vendas"), English may qualify it first
      // ("sales manager"): look up to three tokens ahead.
      const Match* role = nullptr;
      const uint32_t reach = Pt() ? k + 1 : std::min(k + 3, s_->tok_end);
      for (uint32_t j = s_->match_begin; j < s_->match_end && role == nullptr; ++j) {
        const Match& r = matches_[j];
        if (r.tag == C::kRole && r.begin >= k && r.begin < reach) role = &r;
      }
      // "Sou a Dona Maria": a capitalised title belongs to a name.
      if (role == nullptr || tokens_[role->begin].capitalized) continue;
      uint32_t end = role->end;
      static constexpr std::array kOf = {"de"sv,   "do"sv,   "da"sv,  "of"sv,
                                         "pelo"sv, "pela"sv, "dos"sv, "das"sv};
      if (end + 1 < s_->tok_end && In(kOf, tokens_[end].text) &&
          tokens_[end + 1].kind == Kind::kWord) {
        end += 2;
      }
      const std::string text = Span(k, end);
      Add("personal_info", "personal_info:role", (Pt() ? "Cargo: " : "Role: ") + text,
          JsonObject().String("role", text).Take(), kLikely, false, m.begin);
      // "sou gerente de vendas da Acme", "I'm the head of sales at Globex".
      static constexpr std::array kAt = {"da"sv, "do"sv, "na"sv, "no"sv, "at"sv, "for"sv};
      if (end + 1 < s_->tok_end && In(kAt, tokens_[end].text) && tokens_[end + 1].capitalized &&
          !In(kPronouns, tokens_[end + 1].text) && !StartsMatch(end + 1)) {
        const std::string company = CapitalizedRun(end + 1, s_->tok_end, false);
        Add("business_info", "business_info:company", (Pt() ? "Empresa: " : "Company: ") + company,
            JsonObject().String("company", company).Take(), kLikely, false, end + 1);
      }
    }
  }
}

// ------------------------------------------------------------------ business details

std::string_view UnitSubject(std::string_view canon) {
  if (canon == "employees" || canon == "people") return "business_info:employees";
  if (canon == "sales_team") return "business_info:sales_team";
  if (canon == "support_team") return "business_info:support_team";
  if (canon == "users") return "business_info:users";
  if (canon == "customers") return "business_info:customers";
  if (canon == "locations") return "business_info:locations";
  if (canon == "messages") return "business_info:message_volume";
  return "business_info:lead_volume";
}

// Company ("sou da Acme"), head counts and volumes ("somos uma empresa de 50 funcionários",
// "temos 8 vendedores", "recebemos 500 mensagens por dia"), industry ("trabalho com
// e-commerce", "temos uma clínica").
void Extractor::Business() {
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag == C::kCompanyCue && m.end < s_->tok_end) {
      const std::string company = CapitalizedRun(m.end, s_->tok_end, false);
      if (company.empty() || In(kPronouns, tokens_[m.end].text)) continue;
      Add("business_info", "business_info:company", (Pt() ? "Empresa: " : "Company: ") + company,
          JsonObject().String("company", company).Take(), kLikely, false, m.begin);
    } else if (m.tag == C::kUnit && m.begin > s_->tok_begin) {
      // The count right before the unit: "50 funcionários", "2 mil clientes", "dez vendedores",
      // "a 50-person company".
      uint32_t q = m.begin - 1;
      if (IsSymbol(q, kSymDash) && q > s_->tok_begin) --q;
      double count = 0;
      const Token& prev = tokens_[q];
      if (prev.kind == Kind::kWord && q > s_->tok_begin && Multiplier(prev.text, false) > 0 &&
          tokens_[q - 1].kind == Kind::kNumber) {
        count = tokens_[q - 1].number * Multiplier(prev.text, false);
        --q;
      } else if (prev.kind == Kind::kNumber && !prev.percent) {
        count = prev.number;
      } else if (const int n = NumberWord(prev.text); n > 1) {
        count = n;
      }
      if (count < 1 || count != std::floor(count)) continue;
      const uint32_t lo = q > s_->tok_begin + 5 ? q - 5 : s_->tok_begin;
      if (!Has(C::kOwnCue, lo, q) || NegBefore(q, s_->tok_begin, 2)) continue;
      JsonObject json;
      std::string_view canon = m.canon == "people" ? "employees" : m.canon;
      const std::string n = FormatAmount(count, s_->lang);
      std::string text;
      if (canon == "messages" || canon == "leads") {
        const Match* period = First(C::kPeriod, m.end, std::min(m.end + 3, s_->tok_end));
        if (period == nullptr) continue;
        json.Number(canon, count).String("period", period->canon);
        text = n + " " + Span(m.begin, m.end) + std::string(PeriodSuffix(period->canon, Pt()));
      } else {
        json.Number(canon, count);
        if (canon == "employees") {
          text = Pt() ? "Empresa com " + n + " funcionários" : "Company with " + n + " employees";
        } else if (canon == "sales_team") {
          text = Pt() ? "Equipe de vendas com " + n + " pessoas" : "Sales team of " + n;
        } else if (canon == "support_team") {
          text = Pt() ? "Equipe de atendimento com " + n + " pessoas" : "Support team of " + n;
        } else {
          text = n + " " + Span(m.begin, m.end);
        }
      }
      Add("business_info", std::string(UnitSubject(canon)), std::move(text), json.Take(), kStrong,
          false, q);
    } else if (m.tag == C::kIndustryCue || m.tag == C::kIndustryWeakCue) {
      uint32_t k = m.end;
      if (IsWord(k, "o") || IsWord(k, "a") || IsWord(k, "um") || IsWord(k, "uma") ||
          IsWord(k, "the") || IsWord(k, "an") || IsWord(k, "de")) {
        ++k;
      }
      const Match* segment = First(C::kSegment, k, std::min(k + 2, s_->tok_end));
      if (segment != nullptr) {
        uint32_t end = segment->end;
        if (segment->canon == "retail" && IsWord(end, "de") && end + 1 < s_->tok_end &&
            tokens_[end + 1].kind == Kind::kWord) {
          end += 2;  // "loja de roupas"
        }
        const std::string name = Span(segment->begin, end);
        Add("business_info", "business_info:industry", (Pt() ? "Segmento: " : "Industry: ") + name,
            JsonObject().String("industry", segment->canon).String("description", name).Take(),
            kLikely, false, m.begin);
      } else if (m.tag == C::kIndustryCue && k < s_->tok_end && tokens_[k].kind == Kind::kWord &&
                 !In(kPronouns, tokens_[k].text) && !StartsMatch(k)) {
        std::string slug;
        uint32_t first = 0;
        uint32_t last = 0;
        ObjectWords(k, ClauseOf(k).end, slug, first, last);
        if (slug.empty()) continue;
        const std::string name = Span(first, last + 1);
        Add("business_info", "business_info:industry", (Pt() ? "Segmento: " : "Industry: ") + name,
            JsonObject().String("industry", slug).String("description", name).Take(), kWeak, false,
            m.begin);
      }
    }
  }
}

// ------------------------------------------------------------------ constraints

// Deadlines ("precisamos disso funcionando até março", "prazo: fim do mês", "é urgente"),
// approvals ("preciso falar com meu sócio"), required integrations ("tem que integrar com o
// Shopify") and compliance ("precisa ser LGPD").
void Extractor::Constraints() {
  static constexpr std::array kUntil = {"ate"sv, "by"sv, "before"sv, "antes"sv, "until"sv, "para"sv,
                                        "pra"sv, "no"sv, "na"sv,     "em"sv,    "o"sv,     "a"sv,
                                        "the"sv, "de"sv, "do"sv,     "da"sv,    "end"sv,   "of"sv};
  const bool must =
      Has(C::kMust, s_->tok_begin, s_->tok_end) || Has(C::kDeadlineCue, s_->tok_begin, s_->tok_end);
  bool deadline = false;
  for (uint32_t i = s_->match_begin; i < s_->match_end && !deadline; ++i) {
    const Match& m = matches_[i];
    // A date after "até"/"by" in a sentence that needs something, or shortly after a cue.
    uint32_t date_begin = 0;
    uint32_t date_end = 0;
    if (m.tag == C::kDateExpr && must && m.begin > s_->tok_begin &&
        In(kUntil, tokens_[m.begin - 1].text)) {
      date_begin = m.begin, date_end = m.end;
    } else if (m.tag == C::kDeadlineCue) {
      const uint32_t to = std::min(m.end + 6, s_->tok_end);
      if (const Match* d = First(C::kDateExpr, m.end, to)) {
        date_begin = d->begin, date_end = d->end;
      } else {
        for (uint32_t k = m.end; k + 2 < to; ++k) {  // "15/03"
          if (tokens_[k].kind == Kind::kNumber && IsSymbol(k + 1, kSymSlash) &&
              tokens_[k + 2].kind == Kind::kNumber) {
            date_begin = k, date_end = k + 3;
            break;
          }
        }
      }
      if (date_end == 0 && m.canon == "urgent" && !ClauseOf(m.begin).question) {
        Add("constraint", "constraint:deadline", Pt() ? "Tem urgência" : "Is urgent",
            JsonObject().Bool("urgent", true).Take(), kLikely, false, m.begin);
        deadline = true;
        continue;
      }
    }
    if (date_end == 0) continue;
    const std::string when = Span(date_begin, date_end);
    Add("constraint", "constraint:deadline", (Pt() ? "Prazo: " : "Deadline: ") + when,
        JsonObject().String("deadline", when).Take(), kLikely, false, date_begin);
    deadline = true;
  }
  static constexpr std::array kApproverSkip = {"meu"sv,   "minha"sv, "o"sv,      "a"sv,
                                               "my"sv,    "the"sv,   "our"sv,    "nosso"sv,
                                               "nossa"sv, "meus"sv,  "minhas"sv, "os"sv};
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag == C::kApprovalCue) {
      uint32_t k = m.end;
      while (k < s_->tok_end && k < m.end + 2 && In(kApproverSkip, tokens_[k].text)) ++k;
      const Match* who = First(C::kApprover, k, k + 1);
      if (who == nullptr) continue;
      const std::string name = Span(who->begin, who->end);
      Add("constraint", "constraint:approval",
          (Pt() ? "Depende de aprovação: " : "Needs approval: ") + name,
          JsonObject().String("approver", who->canon).Take(), kLikely, false, m.begin);
      break;
    }
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kMust || NegBefore(m.begin, s_->tok_begin, 2)) continue;
    const Match* integrate = First(C::kIntegrate, m.end, std::min(m.end + 4, s_->tok_end));
    if (integrate == nullptr) continue;
    const Match* product =
        First(C::kProduct, integrate->end, std::min(integrate->end + 4, s_->tok_end));
    if (product == nullptr) continue;
    const std::string name(product->canon);
    Add("constraint", "constraint:integration:" + Slug(name),
        (Pt() ? "Precisa integrar com " : "Must integrate with ") + name,
        JsonObject().String("product", name).Bool("required", true).Take(), kStrong, false,
        m.begin);
  }
  for (uint32_t i = s_->match_begin; i < s_->match_end; ++i) {
    const Match& m = matches_[i];
    if (m.tag != C::kCompliance || ClauseOf(m.begin).question) continue;
    const uint32_t lo = m.begin > s_->tok_begin + 6 ? m.begin - 6 : s_->tok_begin;
    if (!Has(C::kMust, lo, std::min(m.end + 3, s_->tok_end))) continue;
    const std::string name(m.canon);
    Add("constraint", "constraint:compliance:" + Slug(name), (Pt() ? "Exige " : "Requires ") + name,
        JsonObject().String("requirement", name).Take(), kLikely, false, m.begin);
  }
}

}  // namespace

std::vector<ExtractedFact> ExtractFacts(std::string_view message_text) {
  try {
    return Extractor(message_text).Run();
  } catch (const std::exception&) {
    return {};  // out of memory: no facts rather than a failed consumer
  }
}

}  // namespace ventros::memory
