#include "ventros/agents/router.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ventros/agents/templates.hpp"
#include "ventros/core/json.hpp"
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::agents {
namespace {

namespace json = core::json;
using core::StatusCode;

// ---------------------------------------------------------------------------------------------
// Fakes

// Each known word is one axis; unknown words are ignored, a text without known words embeds to
// the zero vector. Similarities are therefore exact and easy to work out by hand: "apple" vs
// "apple" is 1, "apple" vs "car" is 0, "apple banana" vs "apple" is 1/sqrt(2).
class WordAxisEmbedder : public llm::Embedder {
 public:
  std::string name() const override { return "fake/word-axis"; }
  int dimensions() const override { return static_cast<int>(kWords.size()); }
  Result<std::vector<llm::Vector>> Embed(std::span<const std::string> texts,
                                         llm::EmbedTask /*task*/) override {
    std::vector<llm::Vector> out;
    for (const std::string& text : texts) {
      llm::Vector v(kWords.size(), 0.0F);
      std::istringstream words(text);
      std::string w;
      while (words >> w) {
        for (size_t i = 0; i < kWords.size(); ++i) {
          if (kWords[i] == w) v[i] += 1.0F;
        }
      }
      double norm = 0;
      for (const float x : v) norm += static_cast<double>(x) * x;
      if (norm > 0) {
        for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
      }
      out.push_back(std::move(v));
    }
    return out;
  }

 private:
  inline static const std::vector<std::string> kWords = {"apple", "banana", "cherry",
                                                         "car",   "bus",    "train"};
};

// Fails every call, or only query embeddings (so a router can be built, then fail to classify).
class FailingEmbedder : public llm::Embedder {
 public:
  explicit FailingEmbedder(bool documents_too) : documents_too_(documents_too) {}
  std::string name() const override { return "fake/failing"; }
  int dimensions() const override { return inner_.dimensions(); }
  Result<std::vector<llm::Vector>> Embed(std::span<const std::string> texts,
                                         llm::EmbedTask task) override {
    if (documents_too_ || task == llm::EmbedTask::kQuery) {
      return Status::Unavailable("embedding service down");
    }
    return inner_.Embed(texts, task);
  }

 private:
  bool documents_too_;
  memory::LocalEmbedder inner_;
};

std::vector<Route> FruitAndVehicleRoutes(double fruit_threshold = 0.3) {
  return {{"fruit", {"apple", "banana", "cherry"}, fruit_threshold},
          {"vehicle", {"car", "bus", "train"}, 0.3}};
}

std::unique_ptr<SemanticRouter> BuildOrFail(llm::Embedder& embedder, std::vector<Route> routes,
                                            std::string fallback = "balanced", size_t top_k = 5) {
  auto router = SemanticRouter::Build(embedder, std::move(routes), std::move(fallback), top_k);
  INFO(router.status().ToString());
  REQUIRE(router.ok());
  return std::move(router).value();
}

// ---------------------------------------------------------------------------------------------
// Language of a text, for the coverage checks: the side with more of its own function words.

bool IsPortuguese(const std::string& text) {
  static const std::set<std::string> kPt = {
      "o",   "a",     "os",    "de",       "do",       "da",    "que", "nao",  "pra",  "vcs",  "vc",
      "meu", "minha", "como",  "quero",    "tem",      "por",   "uma", "um",   "no",   "na",   "e",
      "em",  "com",   "voces", "qual",     "ta",       "to",    "se",  "mais", "esse", "isso", "pq",
      "ja",  "foi",   "muito", "obrigado", "obrigada", "valeu", "oi",  "tudo", "ate",  "sao"};
  static const std::set<std::string> kEn = {
      "the", "i",   "my",   "you", "to",    "is",     "do",    "can", "your",   "it", "we",
      "of",  "for", "what", "how", "im",    "id",     "this",  "me",  "please", "on", "in",
      "are", "and", "with", "our", "there", "thanks", "thank", "hi",  "who",    "be", "an"};
  int pt = 0;
  int en = 0;
  for (const std::string& w : memory::Words(text)) {
    pt += kPt.contains(w) ? 1 : 0;
    en += kEn.contains(w) ? 1 : 0;
  }
  // Accented letters and "ç" only occur in the Portuguese texts.
  for (const char* mark : {"ã", "õ", "ç", "é", "á", "ê", "ô", "í", "ú"}) {
    if (text.find(mark) != std::string::npos) pt += 2;
  }
  return pt > en;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<LabelledText> LoadLabelledSet() {
  const char* root = std::getenv("VENTROS_SOURCE_DIR");
  const std::string path = std::string(root != nullptr ? root : ".") +
                           "/modules/agents/tests/data/router_labelled.jsonl";
  const std::string text = ReadFile(path);
  INFO(path);
  REQUIRE(!text.empty());
  auto parsed = ParseLabelledJsonl(text);
  INFO(parsed.status().ToString());
  REQUIRE(parsed.ok());
  return std::move(parsed).value();
}

// ---------------------------------------------------------------------------------------------
// Templates

TEST_CASE("Templates: five built-ins in the fixed order, balanced last", "[agents][templates]") {
  const std::vector<AgentTemplate>& all = BuiltInTemplates();
  REQUIRE(all.size() == 5);
  const std::vector<std::string> expected = {"sales_prospecting", "retention_churn",
                                             "support_technical", "support_billing", "balanced"};
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].id == expected[i]);
    CHECK(all[i].category == all[i].id);
    CHECK(all[i].strategy == all[i].id);
  }
  CHECK(all.back().id == kFallbackCategory);
  REQUIRE(FindTemplate("retention_churn") != nullptr);
  CHECK(FindTemplate("retention_churn")->name == "Retention (churn)");
  CHECK(FindTemplate("nope") == nullptr);
  CHECK(&BuiltInTemplates() == &all);  // one table, built once
}

TEST_CASE("Templates: every built-in has its fields, tools and instruction",
          "[agents][templates]") {
  const std::set<std::string> known_tools = {"search_memory", "create_retention_offer",
                                             "move_pipeline_stage", "handoff_to_human",
                                             "schedule_followup"};
  for (const AgentTemplate& t : BuiltInTemplates()) {
    INFO(t.id);
    CHECK(!t.name.empty());
    CHECK(!t.description.empty());
    CHECK(t.instruction.size() > 300);
    CHECK(t.instruction.find("customer's language") != std::string::npos);
    CHECK(t.instruction.find("only facts from the context") != std::string::npos);
    CHECK(t.instruction.find(std::to_string(t.constraints.max_discount_percent) + " %") !=
          std::string::npos);
    CHECK(t.threshold >= 0.0);
    CHECK(t.threshold <= 1.0);
    CHECK(std::find(t.tools.begin(), t.tools.end(), "search_memory") != t.tools.end());
    CHECK(std::find(t.tools.begin(), t.tools.end(), "handoff_to_human") != t.tools.end());
    CHECK(std::find(t.tools.begin(), t.tools.end(), "schedule_followup") != t.tools.end());
    for (const std::string& tool : t.tools) CHECK(known_tools.contains(tool));
  }
  const AgentTemplate& retention = *FindTemplate("retention_churn");
  CHECK(retention.scope.lookback_days == 180);
  CHECK(retention.scope.include_agent_transfers);
  CHECK(retention.constraints.max_discount_percent == 30);
  CHECK(retention.constraints.max_offer_months == 12);
  CHECK(retention.constraints.max_retention_attempts == 3);
  CHECK(std::find(retention.tools.begin(), retention.tools.end(), "create_retention_offer") !=
        retention.tools.end());
  const AgentTemplate& sales = *FindTemplate("sales_prospecting");
  CHECK(sales.scope.lookback_days == 365);
  CHECK(std::find(sales.tools.begin(), sales.tools.end(), "move_pipeline_stage") !=
        sales.tools.end());
  CHECK(FindTemplate("support_technical")->scope.lookback_days == 90);
  CHECK(FindTemplate("support_billing")->scope.lookback_days == 120);
  CHECK(!FindTemplate("balanced")->scope.lookback_days.has_value());
  // Only the retention agent may make offers.
  for (const char* id : {"sales_prospecting", "support_technical", "support_billing", "balanced"}) {
    const AgentTemplate& t = *FindTemplate(id);
    CHECK(std::find(t.tools.begin(), t.tools.end(), "create_retention_offer") == t.tools.end());
  }
}

TEST_CASE("Templates: at least 35 distinct intent examples per route, in both languages",
          "[agents][templates]") {
  std::set<std::string> everywhere;
  for (const AgentTemplate& t : BuiltInTemplates()) {
    INFO(t.id);
    CHECK(t.intent_examples.size() >= 35);
    size_t pt = 0;
    for (const std::string& e : t.intent_examples) {
      CHECK(!e.empty());
      CHECK(everywhere.insert(e).second);  // no example twice, not even across routes
      pt += IsPortuguese(e) ? 1 : 0;
    }
    const size_t en = t.intent_examples.size() - pt;
    CHECK(pt >= 15);
    CHECK(en >= 15);
  }
}

TEST_CASE("Templates: TemplateJson carries every field", "[agents][templates]") {
  const AgentTemplate& t = *FindTemplate("retention_churn");
  const json::value v = json::parse(TemplateJson(t));
  REQUIRE(v.is_object());
  const json::object& o = v.as_object();
  CHECK(o.at("id").as_string() == "retention_churn");
  CHECK(o.at("name").as_string() == "Retention (churn)");
  CHECK(o.at("category").as_string() == "retention_churn");
  CHECK(o.at("strategy").as_string() == "retention_churn");
  CHECK(!o.at("description").as_string().empty());
  CHECK(o.at("instruction").as_string() == t.instruction);
  const json::object& scope = o.at("knowledge_scope").as_object();
  CHECK(scope.at("lookback_days").as_int64() == 180);
  CHECK(scope.at("include_agent_transfers").as_bool());
  CHECK(scope.contains("contact_only"));
  CHECK(o.at("tools").as_array().size() == t.tools.size());
  const json::object& constraints = o.at("constraints").as_object();
  CHECK(constraints.at("max_discount_percent").as_int64() == 30);
  CHECK(constraints.at("max_offer_months").as_int64() == 12);
  CHECK(constraints.at("max_retention_attempts").as_int64() == 3);
  CHECK(constraints.contains("max_tool_steps"));
  CHECK(constraints.contains("escalate_high_severity"));
  CHECK(o.at("threshold").as_double() == Approx(t.threshold));
  CHECK(o.at("intent_examples").as_array().size() == t.intent_examples.size());

  // No lookback is written as null, not left out.
  const json::value b = json::parse(TemplateJson(*FindTemplate("balanced")));
  CHECK(b.as_object().at("knowledge_scope").as_object().at("lookback_days").is_null());
}

// ---------------------------------------------------------------------------------------------
// Build

TEST_CASE("SemanticRouter: Build rejects bad routes", "[agents][router]") {
  WordAxisEmbedder embedder;
  auto expect_invalid = [&](std::vector<Route> routes, std::string_view needle) {
    auto r = SemanticRouter::Build(embedder, std::move(routes));
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    INFO(r.status().message());
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  expect_invalid({}, "no routes");
  expect_invalid({{"fruit", {}, 0.3}}, "'fruit' has no examples");
  expect_invalid({{"fruit", {"apple"}, 0.3}, {"fruit", {"banana"}, 0.3}},
                 "duplicate route 'fruit'");
  expect_invalid({{"fruit", {"apple"}, 1.5}}, "outside [0, 1]");
  expect_invalid({{"fruit", {"apple"}, -0.1}}, "outside [0, 1]");
  expect_invalid({{"fruit", {"apple"}, std::nan("")}}, "outside [0, 1]");
  expect_invalid({{"", {"apple"}, 0.3}}, "no category");

  auto zero_k = SemanticRouter::Build(embedder, FruitAndVehicleRoutes(), "other", 0);
  CHECK(zero_k.status().code() == StatusCode::kInvalidArgument);
  // Thresholds 0 and 1 are both valid.
  CHECK(SemanticRouter::Build(embedder, {{"a", {"apple"}, 0.0}, {"b", {"car"}, 1.0}}).ok());
}

TEST_CASE("SemanticRouter: Build reports the embedder's error", "[agents][router]") {
  FailingEmbedder embedder(/*documents_too=*/true);
  auto r = SemanticRouter::Build(embedder, FruitAndVehicleRoutes());
  REQUIRE(!r.ok());
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message().find("embedding service down") != std::string::npos);
}

TEST_CASE("SemanticRouter: keeps its routes, fallback and embedder", "[agents][router]") {
  WordAxisEmbedder embedder;
  auto router = BuildOrFail(embedder, FruitAndVehicleRoutes(), "other", 3);
  REQUIRE(router->routes().size() == 2);
  CHECK(router->routes()[0].category == "fruit");
  CHECK(router->routes()[1].examples.size() == 3);
  CHECK(router->fallback() == "other");
  CHECK(&router->embedder() == &embedder);
}

// ---------------------------------------------------------------------------------------------
// Classify

// With the word-axis fake every example is one axis, so whitening changes nothing and scores
// follow from the rule: half the route's share of the top-k similarities (summed, over k), half
// the cosine with the route's centroid.
double ExpectedScore(double votes, size_t k, double centroid) {
  return 0.5 * votes / static_cast<double>(k) + 0.5 * centroid;
}

TEST_CASE("SemanticRouter: a score is half neighbour vote, half centroid similarity",
          "[agents][router]") {
  WordAxisEmbedder embedder;
  auto router = BuildOrFail(embedder, FruitAndVehicleRoutes(), "other", 3);

  // "apple banana" is 1/sqrt(2) from apple and from banana, 0 from the rest; the fruit centroid
  // is (1, 1, 1) / sqrt(3), so its cosine with the query is 2 / sqrt(6).
  auto c = router->Classify("apple banana");
  REQUIRE(c.ok());
  CHECK(c->category == "fruit");
  CHECK(!c->fallback);
  CHECK(c->confidence == Approx(ExpectedScore(2 / std::sqrt(2.0), 3, 2 / std::sqrt(6.0))));
  REQUIRE(c->scores.size() == 2);
  CHECK(c->scores[0].category == "fruit");
  CHECK(c->scores[1].category == "vehicle");
  CHECK(c->scores[1].score == 0.0);  // nothing in common with any vehicle

  // "car" matches one example exactly and the vehicle centroid at 1 / sqrt(3).
  auto car = router->Classify("car");
  REQUIRE(car.ok());
  CHECK(car->category == "vehicle");
  CHECK(car->confidence == Approx(ExpectedScore(1, 3, 1 / std::sqrt(3.0))));

  // Every route is scored even when none of its examples is among the top-k: with k = 1 only
  // "apple" votes, yet "apple car" scores vehicle by its centroid.
  auto k1 = BuildOrFail(embedder, FruitAndVehicleRoutes(), "other", 1);
  auto mixed = k1->Classify("apple car");
  REQUIRE(mixed.ok());
  REQUIRE(mixed->scores.size() == 2);
  CHECK(mixed->scores[0].category == "fruit");  // the vote breaks the tie of the centroids
  CHECK(mixed->scores[1].score == Approx(ExpectedScore(0, 1, 1 / std::sqrt(6.0))));
}

TEST_CASE("SemanticRouter: a text without terms goes to the fallback with confidence 0",
          "[agents][router]") {
  memory::LocalEmbedder embedder(768);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  for (const char* text : {"", "   ", "👍👍", "oi", "?!"}) {
    INFO(text);
    auto c = router->Classify(text);
    REQUIRE(c.ok());
    CHECK(c->category == "balanced");
    CHECK(c->fallback);
    CHECK(c->confidence == 0.0);
    CHECK(c->scores.size() == 5);  // still every route, all 0, by name
    CHECK(c->scores.front().category == "balanced");
    CHECK(c->scores.back().category == "support_technical");
  }
  // Same with the fake: unknown words only.
  WordAxisEmbedder fake;
  auto fruit = BuildOrFail(fake, FruitAndVehicleRoutes(), "other", 3);
  auto c = fruit->Classify("pear plum");
  REQUIRE(c.ok());
  CHECK(c->category == "other");
  CHECK(c->fallback);
  CHECK(c->confidence == 0.0);
}

TEST_CASE("SemanticRouter: a route wins only at or above its threshold", "[agents][router]") {
  WordAxisEmbedder embedder;
  // Threshold 1.0 cannot be reached by a query matching a single example.
  auto strict = BuildOrFail(embedder, FruitAndVehicleRoutes(/*fruit_threshold=*/1.0), "other", 3);
  auto c = strict->Classify("apple");
  REQUIRE(c.ok());
  CHECK(c->category == "other");
  CHECK(c->fallback);
  CHECK(c->confidence == Approx(ExpectedScore(1, 3, 1 / std::sqrt(3.0))));  // the best score
  CHECK(c->scores.front().category == "fruit");
  // The other route is unaffected.
  CHECK(strict->Classify("bus")->category == "vehicle");

  // The fallback may be a route of its own: then it wins like any other route.
  auto with_own = BuildOrFail(embedder, FruitAndVehicleRoutes(), "vehicle", 3);
  auto bus = with_own->Classify("bus");
  REQUIRE(bus.ok());
  CHECK(bus->category == "vehicle");
  CHECK(!bus->fallback);

  // With the built-ins: a route with threshold 1.0 never wins.
  memory::LocalEmbedder local(768);
  std::vector<Route> routes = BuiltInRoutes();
  for (Route& r : routes) {
    if (r.category == "retention_churn") r.threshold = 1.0;
  }
  auto never = BuildOrFail(local, routes);
  auto cancel = never->Classify("quero cancelar minha assinatura, está caro demais");
  REQUIRE(cancel.ok());
  CHECK(cancel->scores.front().category == "retention_churn");
  CHECK(cancel->category == "balanced");
  CHECK(cancel->fallback);
}

TEST_CASE("SemanticRouter: Classify returns the embedder's error", "[agents][router]") {
  FailingEmbedder embedder(/*documents_too=*/false);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  auto c = router->Classify("meu boleto venceu");
  REQUIRE(!c.ok());
  CHECK(c.status().code() == StatusCode::kUnavailable);
  auto report = router->Evaluate({{"meu boleto venceu", "support_billing"}});
  CHECK(report.status().code() == StatusCode::kUnavailable);
  auto fitted = router->FitThresholds({{"meu boleto venceu", "support_billing"}});
  CHECK(fitted.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("SemanticRouter: routes clear Portuguese and English messages", "[agents][router]") {
  memory::LocalEmbedder embedder(768);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Quero cancelar meu plano, não uso mais", "retention_churn"},
      {"I want to cancel my subscription, it's too expensive", "retention_churn"},
      {"o aplicativo dá erro quando faço login", "support_technical"},
      {"The app crashes with an error every time I log in", "support_technical"},
      {"preciso da segunda via da fatura", "support_billing"},
      {"I was charged twice on my card", "support_billing"},
      {"quanto custa o plano pra minha equipe?", "sales_prospecting"},
      {"Can I book a demo? We want to buy licenses for our team", "sales_prospecting"},
      {"Qual o horário de atendimento de vocês?", "balanced"},
      {"thanks a lot, have a great day", "balanced"},
  };
  for (const auto& [text, expected] : cases) {
    INFO(text);
    auto c = router->Classify(text);
    REQUIRE(c.ok());
    CHECK(c->category == expected);
  }
}

TEST_CASE("SemanticRouter: scores cover every route, best first, ties by name",
          "[agents][router]") {
  memory::LocalEmbedder embedder(768);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  auto c = router->Classify("meu cartão foi recusado no pagamento da fatura");
  REQUIRE(c.ok());
  REQUIRE(c->scores.size() == 5);
  std::set<std::string> seen;
  for (size_t i = 0; i < c->scores.size(); ++i) {
    seen.insert(c->scores[i].category);
    CHECK(c->scores[i].score >= 0.0);
    CHECK(c->scores[i].score <= 1.0);
    if (i > 0) {
      const RouteScore& prev = c->scores[i - 1];
      const RouteScore& cur = c->scores[i];
      CHECK((prev.score > cur.score || (prev.score == cur.score && prev.category < cur.category)));
    }
  }
  CHECK(seen.size() == 5);
  CHECK(c->category == c->scores.front().category);
  CHECK(c->confidence == c->scores.front().score);
}

// ---------------------------------------------------------------------------------------------
// Evaluate and FitThresholds

TEST_CASE("SemanticRouter: Evaluate counts a confusion matrix", "[agents][router]") {
  WordAxisEmbedder embedder;
  auto router = BuildOrFail(embedder, FruitAndVehicleRoutes(), "other", 3);
  const std::vector<LabelledText> labelled = {
      {"apple", "fruit"},          // right
      {"banana cherry", "fruit"},  // right
      {"car", "vehicle"},          // right
      {"bus", "fruit"},            // routed vehicle
      {"xyz", "other"},            // right: the fallback
      {"train", "other"},          // routed vehicle
      {"zzz", "vehicle"},          // fell back to other
      {"apple", "mystery"},        // a label no route knows: always wrong
  };
  auto report = router->Evaluate(labelled);
  REQUIRE(report.ok());
  CHECK(report->total == 8);
  CHECK(report->correct == 4);
  CHECK(report->accuracy == Approx(0.5));
  REQUIRE(report->categories == std::vector<std::string>{"fruit", "vehicle", "other", "mystery"});
  const std::vector<std::vector<size_t>> expected = {
      {2, 1, 0, 0},  // fruit:   2 right, 1 to vehicle
      {0, 1, 1, 0},  // vehicle: 1 right, 1 to other
      {0, 1, 1, 0},  // other:   1 right, 1 to vehicle
      {1, 0, 0, 0},  // mystery: to fruit
  };
  CHECK(report->confusion == expected);
  REQUIRE(report->mistakes.size() == 4);
  CHECK(report->mistakes[0].first.text == "bus");
  CHECK(report->mistakes[0].second.category == "vehicle");
  CHECK(report->mistakes[2].second.fallback);

  const std::string text = FormatEvalReport(*report);
  INFO(text);
  CHECK(text.rfind("accuracy 0.500 (4/8)\n", 0) == 0);
  CHECK(text.find("actual \\ routed") != std::string::npos);
  CHECK(text.find("mystery") != std::string::npos);

  auto empty = router->Evaluate({});
  REQUIRE(empty.ok());
  CHECK(empty->total == 0);
  CHECK(empty->accuracy == 0.0);
  CHECK(FormatEvalReport(*empty).rfind("accuracy 0.000 (0/0)", 0) == 0);
}

TEST_CASE("SemanticRouter: FitThresholds repairs a bad threshold, moving it no further than needed",
          "[agents][router]") {
  WordAxisEmbedder embedder;
  // fruit's threshold 0.9 is unreachable: every fruit text falls back.
  auto router = BuildOrFail(embedder, FruitAndVehicleRoutes(/*fruit_threshold=*/0.9), "other", 3);
  const std::vector<LabelledText> labelled = {
      {"apple banana", "fruit"},                        // fruit scores 0.644
      {"banana cherry", "fruit"}, {"cherry", "other"},  // fruit scores 0.455 but should fall back
      {"car", "vehicle"},                               // vehicle scores 0.455
      {"xyz", "other"},
  };
  auto before = router->Evaluate(labelled);
  REQUIRE(before.ok());
  CHECK(before->correct == 3);

  auto fitted = router->FitThresholds(labelled);
  REQUIRE(fitted.ok());
  REQUIRE(fitted->size() == 2);
  // Any threshold in (0.455, 0.644] is perfect; the one closest to 0.9 is 0.64.
  CHECK(fitted->at("fruit") == Approx(0.64));
  CHECK(fitted->at("vehicle") == Approx(0.3));  // already right: unchanged
  CHECK(router->routes()[0].threshold == 0.9);  // the router itself is not changed

  std::vector<Route> routes = FruitAndVehicleRoutes(fitted->at("fruit"));
  routes[1].threshold = fitted->at("vehicle");
  auto tuned = BuildOrFail(embedder, routes, "other", 3);
  auto after = tuned->Evaluate(labelled);
  REQUIRE(after.ok());
  CHECK(after->correct == 5);

  // Nothing to learn from: thresholds stay where they are.
  auto none = router->FitThresholds({});
  REQUIRE(none.ok());
  CHECK(none->at("fruit") == 0.9);
}

// ---------------------------------------------------------------------------------------------
// ParseLabelledJsonl

TEST_CASE("ParseLabelledJsonl: reads lines, skips blank ones", "[agents][router]") {
  auto parsed = ParseLabelledJsonl(
      "{\"text\": \"oi\", \"category\": \"balanced\"}\n"
      "\n"
      "   \r\n"
      "{\"category\": \"support_billing\", \"text\": \"boleto \\u00e9 \\\"urgente\\\"\"}\r\n");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].text == "oi");
  CHECK((*parsed)[0].category == "balanced");
  CHECK((*parsed)[1].text == "boleto é \"urgente\"");
  CHECK((*parsed)[1].category == "support_billing");
  CHECK(ParseLabelledJsonl("")->empty());
}

TEST_CASE("ParseLabelledJsonl: errors name the line", "[agents][router]") {
  const std::string good = "{\"text\": \"a\", \"category\": \"b\"}\n";
  auto expect = [](const std::string& text, std::string_view needle) {
    auto r = ParseLabelledJsonl(text);
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    INFO(r.status().message());
    CHECK(r.status().message().find(needle) != std::string::npos);
  };
  expect(good + "\n" + "{\"text\": \"a\", \"category\": }\n", "line 3: malformed JSON");
  expect(good + "[1, 2]\n", "line 2: expected a JSON object");
  expect("{\"category\": \"b\"}\n", "line 1: field 'text' is required");
  expect(good + good + "{\"text\": \"a\", \"category\": 3}\n", "line 3: field 'category'");
  expect(good + "{\"text\": \"a\", \"category\": \"\"}\n", "line 2: field 'category' is empty");
}

// ---------------------------------------------------------------------------------------------
// The held-out labelled set

TEST_CASE("SemanticRouter: the built-in routes reach 90 % on the held-out labelled set",
          "[agents][router]") {
  const std::vector<LabelledText> labelled = LoadLabelledSet();
  REQUIRE(labelled.size() >= 150);
  std::map<std::string, size_t> per_category;
  size_t pt = 0;
  for (const LabelledText& l : labelled) {
    ++per_category[l.category];
    pt += IsPortuguese(l.text) ? 1 : 0;
  }
  CHECK(pt >= labelled.size() / 3);
  CHECK(labelled.size() - pt >= labelled.size() / 3);
  REQUIRE(per_category.size() == 5);
  for (const auto& [category, count] : per_category) {
    INFO(category);
    CHECK(FindTemplate(category) != nullptr);
    CHECK(count >= 30);
  }
  // Held out means held out: no labelled text is an intent example.
  for (const AgentTemplate& t : BuiltInTemplates()) {
    for (const LabelledText& l : labelled) {
      CHECK(std::find(t.intent_examples.begin(), t.intent_examples.end(), l.text) ==
            t.intent_examples.end());
    }
  }

  memory::LocalEmbedder embedder(768);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  auto report = router->Evaluate(labelled);
  REQUIRE(report.ok());
  const std::string text = FormatEvalReport(*report);
  std::cout << "router, built-in thresholds, local-v1/768:\n" << text << std::flush;
  INFO(text);
  REQUIRE(report->accuracy >= 0.90);
}

TEST_CASE("SemanticRouter: thresholds fitted on the labelled set do not lower its accuracy",
          "[agents][router]") {
  const std::vector<LabelledText> labelled = LoadLabelledSet();
  memory::LocalEmbedder embedder(768);
  auto router = BuildOrFail(embedder, BuiltInRoutes());
  auto before = router->Evaluate(labelled);
  REQUIRE(before.ok());

  auto fitted = router->FitThresholds(labelled);
  REQUIRE(fitted.ok());
  REQUIRE(fitted->size() == 5);
  std::vector<Route> routes = BuiltInRoutes();
  for (Route& r : routes) {
    REQUIRE(fitted->contains(r.category));
    r.threshold = fitted->at(r.category);
    CHECK(r.threshold >= 0.0);
    CHECK(r.threshold <= 1.0);
  }
  auto tuned = BuildOrFail(embedder, routes);
  auto after = tuned->Evaluate(labelled);
  REQUIRE(after.ok());
  std::cout << "router, fitted thresholds:";
  for (const auto& [category, threshold] : *fitted)
    std::cout << ' ' << category << '=' << threshold;
  std::cout << "\n" << FormatEvalReport(*after) << std::flush;
  CHECK(after->correct >= before->correct);
}

}  // namespace
}  // namespace ventros::agents
