#pragma once
// The semantic router: which agent category should answer a customer's message. Each route is a
// set of example utterances embedded once; a message is embedded, the top-k (5) nearest examples
// over all routes are taken, their similarities are aggregated per route (together with the
// similarity to the route's centroid, see router.cpp), and the best route wins only when its score
// reaches the route's threshold, else the fallback (`balanced`) answers.
// Thresholds are tuned on labelled data (FitThresholds).
//
// Thread-safety: a SemanticRouter is immutable once built; Classify may be called from any
// thread. Build a new one to change routes.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ventros/core/status.hpp"
#include "ventros/llm/embedder.hpp"

namespace ventros::agents {

using core::Result;
using core::Status;

struct Route {
  std::string category;
  std::vector<std::string> examples;
  double threshold = 0.30;
};

struct RouteScore {
  std::string category;
  // Half the route's share of the top-k similarities (their sum over k), half the similarity to
  // the route's centroid; in [0, 1].
  double score = 0;
};

struct Classification {
  std::string category;            // the winning route, or the fallback
  double confidence = 0;           // the winner's score (the best route's score when falling back)
  std::vector<RouteScore> scores;  // every route, best first (ties by name)
  bool fallback = false;           // no route reached its threshold
};

struct LabelledText {
  std::string text;
  std::string category;
};

struct EvalReport {
  size_t total = 0;
  size_t correct = 0;
  double accuracy = 0;                  // correct / total (0 for none)
  std::vector<std::string> categories;  // row and column order of the matrix
  // confusion[i][j]: texts labelled categories[i] routed to categories[j]
  std::vector<std::vector<size_t>> confusion;
  std::vector<std::pair<LabelledText, Classification>> mistakes;
};

class SemanticRouter {
 public:
  // Embeds every example with `embedder` (kDocument task) once. InvalidArgument for no routes, a
  // route without examples, a duplicate category, or a threshold outside [0, 1]; the embedder's
  // error when it fails. `fallback` must name one of the routes or be a category of its own.
  static Result<std::unique_ptr<SemanticRouter>> Build(llm::Embedder& embedder,
                                                       std::vector<Route> routes,
                                                       std::string fallback = "balanced",
                                                       size_t top_k = 5);

  // Embeds `text` (kQuery) and routes it. An empty or term-less text routes to the fallback with
  // confidence 0. Fails only when the embedder fails.
  Result<Classification> Classify(std::string_view text) const;

  // Classifies every text and compares with its label.
  Result<EvalReport> Evaluate(const std::vector<LabelledText>& labelled) const;

  // Chooses per-route thresholds that maximise accuracy on `labelled` (coordinate search over a
  // grid of thresholds, a few passes), returns them by category; the router is not changed.
  Result<std::map<std::string, double>> FitThresholds(
      const std::vector<LabelledText>& labelled) const;

  const std::vector<Route>& routes() const;
  const std::string& fallback() const;
  llm::Embedder& embedder() const;

  ~SemanticRouter();

 private:
  struct Impl;
  explicit SemanticRouter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The routes of the built-in templates (examples and default thresholds).
std::vector<Route> BuiltInRoutes();

// Parses JSON lines {"text": "...", "category": "..."}; blank lines skipped. InvalidArgument
// naming the line number for a malformed line.
Result<std::vector<LabelledText>> ParseLabelledJsonl(std::string_view text);

// The report as text: accuracy line, then the confusion matrix with category names.
std::string FormatEvalReport(const EvalReport& report);

}  // namespace ventros::agents
