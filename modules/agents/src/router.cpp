// The semantic router (after aurelio-labs/semantic-router).
//
// Representation. Examples and queries are embedded, L2-normalised, then every dimension is
// rescaled by 1 / sqrt(m_d + shrink * mean(m)), m_d being the mean square of dimension d over all
// the examples, and normalised again ("diagonal whitening"). The local embedder hashes each text
// on its own and so has no notion of how common a word is; whitening gives the router one, learnt
// from its own examples: features every route uses ("quero", "plano", "sistema", "want") weigh
// less, features that occur in few examples weigh more, like an IDF. The shrink term keeps rare
// dimensions from exploding. For dense hosted embeddings it is a mild per-dimension
// standardisation. Similarities below are cosines in that space.
//
// Scoring. The top_k most similar examples over all routes vote for their routes (the
// semantic-router rule): the neighbour part of a route's score is the SUM of its voters'
// similarities divided by top_k, which grows both with how close the examples are and with how
// many of the k nearest agree, so one lucky neighbour sharing a single word scores at most 1/k of
// its similarity. The other half of the score is the cosine between the query and the route's
// centroid (the normalised sum of its examples), which weighs a word by how many of the route's
// examples use it and gives routes without a voter a meaningful, non-zero score. Measured with
// the local embedder, by leave-one-out over the built-in examples (each classified by a router
// built from all the others) and on the labelled set, half and half beat the neighbour vote alone
// (by about 3 points), the centroid alone, the mean of the voters (which lets one close neighbour
// outvote four slightly less close ones) and the plain maximum; whitening added about 3 points
// more. Negative similarities count as 0, so every score is in [0, 1].
//
// Decision. Only the best-scored route (ties broken by category name) can win, and only when its
// score is positive and reaches its threshold; otherwise the fallback answers, with the best
// score as confidence. A text without terms (empty, only greetings, only emoji) embeds to the
// zero vector and goes straight to the fallback with confidence 0.

#include "ventros/agents/router.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numeric>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "ventros/agents/templates.hpp"
#include "ventros/core/json.hpp"

namespace ventros::agents {
namespace {

namespace json = core::json;

// FitThresholds: candidate thresholds 0.00, 0.01, ..., 1.00, at most this many coordinate passes
// (it stops earlier when a pass changes nothing).
constexpr int kGridSteps = 100;
constexpr int kMaxFitPasses = 5;
// Whitening shrink, relative to the mean energy of a dimension (see the top of the file).
constexpr double kWhiteningShrink = 0.25;
// Share of the neighbour vote in a route's score; the centroid similarity has the rest.
constexpr double kNeighbourWeight = 0.5;

// Dot product of two float rows with eight independent accumulators, so the compiler can keep
// them in one vector register without -ffast-math (a single accumulator is a serial chain).
float Dot(const float* a, const float* b, size_t n) {
  constexpr size_t kLanes = 8;
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (const float x : acc) sum += x;
  return sum;
}

// Scales `v` to unit length; false (v unchanged) for the zero vector.
bool Normalize(std::span<float> v) {
  double sum = 0;
  for (const float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0 || !std::isfinite(sum)) return false;
  const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
  return true;
}

// Normalises, whitens with `scale` and normalises again; false for the zero vector.
bool Project(std::span<float> v, const std::vector<float>& scale) {
  if (!Normalize(v)) return false;
  for (size_t d = 0; d < v.size(); ++d) v[d] *= scale[d];
  return Normalize(v);
}

}  // namespace

struct SemanticRouter::Impl {
  llm::Embedder* embedder = nullptr;
  std::vector<Route> routes;
  std::string fallback;
  size_t top_k = 5;
  size_t dims = 0;
  std::vector<float> scale;  // whitening, one factor per dimension
  // The examples, dimension-major: columns[d * n + i] is dimension d of example i (routes in
  // order). A query adds one contiguous column per non-zero dimension of its vector: a local
  // embedding has a few dozen to a hundred of its 768, so Classify reads a small part of the
  // matrix; for dense hosted embeddings it is the same work as row dot products, without a
  // reduction to serialise.
  std::vector<float> columns;
  std::vector<uint32_t> example_route;  // route index of each example
  std::vector<float> centroids;         // one row of `dims` floats per route
  std::vector<size_t> by_name;          // route indices sorted by category (tie order)

  // Per-route scores of `text`, or an empty vector for a term-less text.
  Result<std::vector<double>> Score(std::string_view text) const;
  // Ranks the routes and applies `thresholds` (one per route).
  Classification Decide(const std::vector<double>& scores,
                        const std::vector<double>& thresholds) const;
  std::vector<double> Thresholds() const {
    std::vector<double> t;
    t.reserve(routes.size());
    for (const Route& r : routes) t.push_back(r.threshold);
    return t;
  }
};

Result<std::vector<double>> SemanticRouter::Impl::Score(std::string_view text) const {
  const std::string owned(text);
  auto embedded = embedder->Embed(std::span<const std::string>(&owned, 1), llm::EmbedTask::kQuery);
  if (!embedded.ok()) return embedded.status();
  if (embedded->size() != 1) {
    return Status::Internal(
        fmt::format("router: embedder returned {} vectors for 1 text", embedded->size()));
  }
  std::vector<float>& query = embedded->front();
  if (query.empty()) return std::vector<double>();  // nothing to compare: fallback
  if (query.size() != dims) {
    return Status::Internal(fmt::format(
        "router: embedder returned {} dimensions, the examples have {}", query.size(), dims));
  }
  if (!Project(query, scale)) return std::vector<double>();

  const size_t n = example_route.size();
  thread_local std::vector<float> sims;  // per thread: Classify allocates no matrix-sized buffer
  sims.assign(n, 0.0F);
  for (size_t d = 0; d < dims; ++d) {
    const float q = query[d];
    if (q == 0.0F) continue;
    const float* column = columns.data() + d * n;
    for (size_t i = 0; i < n; ++i) sims[i] += q * column[i];
  }
  // The top_k examples, best first; on equal similarity the earlier example stays ahead, so the
  // result never depends on anything but the data.
  const size_t k = std::min(top_k, n);
  thread_local std::vector<std::pair<float, uint32_t>> top;
  top.clear();
  for (size_t i = 0; i < n; ++i) {
    if (top.size() == k && !(sims[i] > top.back().first)) continue;
    if (top.size() == k) top.pop_back();
    auto at = top.end();
    while (at != top.begin() && sims[i] > std::prev(at)->first) --at;
    top.insert(at, {sims[i], static_cast<uint32_t>(i)});
  }
  std::vector<double> votes(routes.size(), 0.0);
  for (const auto& [sim, i] : top) {
    votes[example_route[i]] += std::max(0.0, static_cast<double>(sim));
  }
  std::vector<double> scores(routes.size(), 0.0);
  for (size_t r = 0; r < routes.size(); ++r) {
    const double centroid =
        std::max(0.0, static_cast<double>(Dot(centroids.data() + r * dims, query.data(), dims)));
    const double score = kNeighbourWeight * votes[r] / static_cast<double>(top_k) +
                         (1.0 - kNeighbourWeight) * centroid;
    scores[r] = std::clamp(score, 0.0, 1.0);
  }
  return scores;
}

Classification SemanticRouter::Impl::Decide(const std::vector<double>& scores,
                                            const std::vector<double>& thresholds) const {
  Classification c;
  c.scores.reserve(routes.size());
  for (const size_t r : by_name) {
    c.scores.push_back({routes[r].category, scores.empty() ? 0.0 : scores[r]});
  }
  // by_name order + stable sort = best first, ties by name.
  std::stable_sort(c.scores.begin(), c.scores.end(),
                   [](const RouteScore& a, const RouteScore& b) { return a.score > b.score; });
  if (scores.empty()) {
    c.category = fallback;
    c.fallback = true;
    return c;
  }
  const RouteScore& best = c.scores.front();
  c.confidence = best.score;
  size_t best_route = 0;
  while (routes[best_route].category != best.category) ++best_route;
  if (best.score > 0 && best.score >= thresholds[best_route]) {
    c.category = best.category;
  } else {
    c.category = fallback;
    c.fallback = true;
  }
  return c;
}

SemanticRouter::SemanticRouter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SemanticRouter::~SemanticRouter() = default;

Result<std::unique_ptr<SemanticRouter>> SemanticRouter::Build(llm::Embedder& embedder,
                                                              std::vector<Route> routes,
                                                              std::string fallback, size_t top_k) {
  if (routes.empty()) return Status::InvalidArgument("router: no routes");
  if (fallback.empty()) return Status::InvalidArgument("router: the fallback category is empty");
  if (top_k == 0) return Status::InvalidArgument("router: top_k must be at least 1");
  std::set<std::string, std::less<>> seen;
  std::vector<std::string> texts;
  for (const Route& r : routes) {
    if (r.category.empty()) return Status::InvalidArgument("router: a route has no category");
    if (!seen.insert(r.category).second) {
      return Status::InvalidArgument(fmt::format("router: duplicate route '{}'", r.category));
    }
    if (r.examples.empty()) {
      return Status::InvalidArgument(fmt::format("router: route '{}' has no examples", r.category));
    }
    if (!(r.threshold >= 0.0 && r.threshold <= 1.0)) {  // also rejects NaN
      return Status::InvalidArgument(fmt::format(
          "router: route '{}' threshold {} is outside [0, 1]", r.category, r.threshold));
    }
    texts.insert(texts.end(), r.examples.begin(), r.examples.end());
  }

  auto embedded = embedder.Embed(texts, llm::EmbedTask::kDocument);
  if (!embedded.ok()) return embedded.status().WithContext("router: embedding the examples");
  std::vector<llm::Vector>& vectors = *embedded;
  if (vectors.size() != texts.size()) {
    return Status::Internal(fmt::format("router: embedder returned {} vectors for {} examples",
                                        vectors.size(), texts.size()));
  }

  auto impl = std::make_unique<Impl>();
  impl->embedder = &embedder;
  impl->fallback = std::move(fallback);
  impl->top_k = top_k;
  impl->dims = vectors.front().size();
  if (impl->dims == 0) return Status::Internal("router: embedder returned empty vectors");
  const size_t dims = impl->dims;
  // Whitening factors from the mean square of each dimension over the (normalised) examples.
  std::vector<double> energy(dims, 0.0);
  for (llm::Vector& v : vectors) {
    if (v.size() != dims) {
      return Status::Internal(
          fmt::format("router: embedder returned vectors of {} and {} dimensions", dims, v.size()));
    }
    Normalize(v);  // a term-less example stays zero: it never votes above 0
    for (size_t d = 0; d < dims; ++d) energy[d] += static_cast<double>(v[d]) * v[d];
  }
  const double mean_energy =
      std::accumulate(energy.begin(), energy.end(), 0.0) / static_cast<double>(dims);
  impl->scale.resize(dims);
  for (size_t d = 0; d < dims; ++d) {
    const double e =
        (energy[d] + kWhiteningShrink * mean_energy) / static_cast<double>(vectors.size());
    impl->scale[d] = e > 0 ? static_cast<float>(1.0 / std::sqrt(e)) : 1.0F;
  }

  const size_t n = vectors.size();
  impl->columns.assign(n * dims, 0.0F);
  impl->example_route.reserve(n);
  impl->centroids.assign(routes.size() * dims, 0.0F);
  size_t row = 0;
  for (size_t r = 0; r < routes.size(); ++r) {
    const std::span<float> centroid(impl->centroids.data() + r * dims, dims);
    for (size_t e = 0; e < routes[r].examples.size(); ++e, ++row) {
      llm::Vector& v = vectors[row];
      Project(v, impl->scale);
      for (size_t d = 0; d < dims; ++d) {
        centroid[d] += v[d];
        impl->columns[d * n + row] = v[d];
      }
      impl->example_route.push_back(static_cast<uint32_t>(r));
    }
    Normalize(centroid);
  }
  impl->routes = std::move(routes);
  impl->by_name.resize(impl->routes.size());
  std::iota(impl->by_name.begin(), impl->by_name.end(), size_t{0});
  std::sort(impl->by_name.begin(), impl->by_name.end(), [&](size_t a, size_t b) {
    return impl->routes[a].category < impl->routes[b].category;
  });
  return std::unique_ptr<SemanticRouter>(new SemanticRouter(std::move(impl)));
}

Result<Classification> SemanticRouter::Classify(std::string_view text) const {
  auto scores = impl_->Score(text);
  if (!scores.ok()) return scores.status();
  return impl_->Decide(*scores, impl_->Thresholds());
}

Result<EvalReport> SemanticRouter::Evaluate(const std::vector<LabelledText>& labelled) const {
  EvalReport report;
  // Matrix order: the routes, the fallback when it is not a route, then labels no route knows
  // (in order of appearance; they can only be mistakes).
  auto index_of = [&report](const std::string& category) {
    const auto it = std::find(report.categories.begin(), report.categories.end(), category);
    if (it != report.categories.end()) return static_cast<size_t>(it - report.categories.begin());
    report.categories.push_back(category);
    return report.categories.size() - 1;
  };
  for (const Route& r : impl_->routes) index_of(r.category);
  index_of(impl_->fallback);
  for (const LabelledText& l : labelled) index_of(l.category);
  const size_t n = report.categories.size();
  report.confusion.assign(n, std::vector<size_t>(n, 0));

  const std::vector<double> thresholds = impl_->Thresholds();
  for (const LabelledText& l : labelled) {
    auto scores = impl_->Score(l.text);
    if (!scores.ok()) return scores.status();
    Classification c = impl_->Decide(*scores, thresholds);
    ++report.confusion[index_of(l.category)][index_of(c.category)];
    ++report.total;
    if (c.category == l.category) {
      ++report.correct;
    } else {
      report.mistakes.emplace_back(l, std::move(c));
    }
  }
  report.accuracy = report.total == 0
                        ? 0.0
                        : static_cast<double>(report.correct) / static_cast<double>(report.total);
  return report;
}

Result<std::map<std::string, double>> SemanticRouter::FitThresholds(
    const std::vector<LabelledText>& labelled) const {
  const std::vector<Route>& routes = impl_->routes;
  // The ranking of the routes does not depend on the thresholds, only the last step does: each
  // text is embedded once and reduced to (best route, its score); a threshold assignment then
  // costs one comparison per text.
  struct Outcome {
    size_t best = 0;   // route index; only meaningful when score > 0
    double score = 0;  // 0: always the fallback
    bool label_is_best = false;
    bool label_is_fallback = false;
  };
  std::vector<Outcome> outcomes;
  outcomes.reserve(labelled.size());
  const std::vector<double> current = impl_->Thresholds();
  for (const LabelledText& l : labelled) {
    auto scores = impl_->Score(l.text);
    if (!scores.ok()) return scores.status();
    const Classification c = impl_->Decide(*scores, current);
    Outcome o;
    o.label_is_fallback = l.category == impl_->fallback;
    if (!c.scores.empty() && c.scores.front().score > 0) {
      o.score = c.scores.front().score;
      while (routes[o.best].category != c.scores.front().category) ++o.best;
      o.label_is_best = routes[o.best].category == l.category;
    }
    outcomes.push_back(o);
  }
  auto correct = [&outcomes](const std::vector<double>& t) {
    size_t n = 0;
    for (const Outcome& o : outcomes) {
      const bool routed = o.score > 0 && o.score >= t[o.best];
      n += routed ? (o.label_is_best ? 1 : 0) : (o.label_is_fallback ? 1 : 0);
    }
    return n;
  };

  // Coordinate search: one route at a time, every candidate threshold, keep the best. Accuracy is
  // a step function of a threshold, flat between two observed scores, so many candidates tie; a
  // tie keeps the candidate closest to the current threshold (the hand-set default carries
  // judgement the data cannot contradict, and it moves as little as the data requires), and at
  // equal distance the lower one (routing to a specialist is the smaller error than a generic
  // answer). The current value is itself a candidate, so accuracy never goes down.
  std::vector<double> t = current;
  size_t best_correct = correct(t);
  for (int pass = 0; pass < kMaxFitPasses; ++pass) {
    bool changed = false;
    for (size_t r = 0; r < routes.size(); ++r) {
      const double start = t[r];
      double chosen = start;
      for (int step = 0; step <= kGridSteps; ++step) {
        const double candidate = static_cast<double>(step) / kGridSteps;
        t[r] = candidate;
        const size_t n = correct(t);
        const double d_new = std::abs(candidate - start);
        const double d_old = std::abs(chosen - start);
        if (n > best_correct ||
            (n == best_correct && (d_new < d_old || (d_new == d_old && candidate < chosen)))) {
          best_correct = n;
          chosen = candidate;
        }
      }
      t[r] = chosen;
      if (chosen != start) changed = true;
    }
    if (!changed) break;
  }

  std::map<std::string, double> fitted;
  for (size_t r = 0; r < routes.size(); ++r) fitted[routes[r].category] = t[r];
  return fitted;
}

const std::vector<Route>& SemanticRouter::routes() const { return impl_->routes; }
const std::string& SemanticRouter::fallback() const { return impl_->fallback; }
llm::Embedder& SemanticRouter::embedder() const { return *impl_->embedder; }

std::vector<Route> BuiltInRoutes() {
  std::vector<Route> routes;
  for (const AgentTemplate& t : BuiltInTemplates()) {
    routes.push_back({t.category, t.intent_examples, t.threshold});
  }
  return routes;
}

Result<std::vector<LabelledText>> ParseLabelledJsonl(std::string_view text) {
  std::vector<LabelledText> out;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;

    const std::string where = fmt::format("line {}", line_no);
    boost::system::error_code ec;
    json::value value = json::parse(line, ec);
    if (ec) {
      return Status::InvalidArgument(fmt::format("{}: malformed JSON ({})", where, ec.message()));
    }
    if (!value.is_object()) {
      return Status::InvalidArgument(fmt::format("{}: expected a JSON object", where));
    }
    const json::object& obj = value.as_object();
    auto t = core::RequireString(obj, "text");
    if (!t.ok()) return t.status().WithContext(where);
    auto c = core::RequireString(obj, "category");
    if (!c.ok()) return c.status().WithContext(where);
    if (c->empty()) return Status::InvalidArgument(where + ": field 'category' is empty");
    out.push_back({std::move(*t), std::move(*c)});
  }
  return out;
}

std::string FormatEvalReport(const EvalReport& report) {
  std::string out =
      fmt::format("accuracy {:.3f} ({}/{})\n", report.accuracy, report.correct, report.total);
  constexpr std::string_view kCorner = "actual \\ routed";
  size_t label_width = kCorner.size();
  for (const std::string& c : report.categories) label_width = std::max(label_width, c.size());
  fmt::format_to(std::back_inserter(out), "{:<{}}", kCorner, label_width);
  for (const std::string& c : report.categories) fmt::format_to(std::back_inserter(out), "  {}", c);
  out += '\n';
  for (size_t i = 0; i < report.categories.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "{:<{}}", report.categories[i], label_width);
    for (size_t j = 0; j < report.categories.size(); ++j) {
      const size_t v = i < report.confusion.size() && j < report.confusion[i].size()
                           ? report.confusion[i][j]
                           : 0;
      fmt::format_to(std::back_inserter(out), "  {:>{}}", v, report.categories[j].size());
    }
    out += '\n';
  }
  if (!report.mistakes.empty()) {
    out += "mistakes (actual -> routed, confidence):\n";
    for (const auto& [l, c] : report.mistakes) {
      fmt::format_to(std::back_inserter(out), "  {} -> {}{} {:.3f}: {}\n", l.category, c.category,
                     c.fallback ? " (fallback)" : "", c.confidence, l.text);
    }
  }
  return out;
}

}  // namespace ventros::agents
