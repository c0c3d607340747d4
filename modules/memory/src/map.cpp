// The embedding map: a 2-D picture of a tenant's session embeddings. Principal component analysis
// (power iteration with deflation, no matrix formed) projects the newest documents onto their two
// main directions; k-means (cosine, k-means++ with a fixed seed, so the same data gives the same
// map) groups them; each cluster is labelled by the words of its summaries that are most typical
// of it (frequency in the cluster against the whole map).

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "internal.hpp"
#include "ventros/core/json.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::memory {

namespace json = core::json;

namespace {

double DotD(const std::vector<float>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// The top principal direction of the centred rows, orthogonal to `against` (power iteration on
// X^T X without forming it).
std::vector<double> Principal(const std::vector<std::vector<float>>& rows,
                              const std::vector<double>& mean,
                              const std::vector<std::vector<double>>& against, uint32_t seed) {
  const size_t d = mean.size();
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(d);
  for (auto& x : v) x = normal(rng);
  auto orthonormalise = [&](std::vector<double>& x) {
    for (const auto& a : against) {
      double p = 0;
      for (size_t i = 0; i < d; ++i) p += x[i] * a[i];
      for (size_t i = 0; i < d; ++i) x[i] -= p * a[i];
    }
    double n = 0;
    for (double y : x) n += y * y;
    n = std::sqrt(n);
    if (n > 0) {
      for (double& y : x) y /= n;
    }
  };
  orthonormalise(v);
  std::vector<double> next(d);
  for (int iter = 0; iter < 60; ++iter) {
    std::fill(next.begin(), next.end(), 0.0);
    double mean_v = 0;  // (r - mean) . v = r . v - mean . v
    for (size_t i = 0; i < d; ++i) mean_v += mean[i] * v[i];
    for (const auto& r : rows) {
      const double p = DotD(r, v) - mean_v;
      for (size_t i = 0; i < d; ++i) next[i] += p * (r[i] - mean[i]);
    }
    orthonormalise(next);
    v.swap(next);
  }
  return v;
}

}  // namespace

Result<EmbeddingMap> MemoryService::Map(const crm::TenantId& tenant, int max_points, int clusters) {
  if (max_points < 1 || max_points > 10000) {
    return Status::InvalidArgument("limit must be 1..10000");
  }
  if (clusters < 0 || clusters > 50) return Status::InvalidArgument("clusters must be 0..50");
  Impl& m = *impl_;
  VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT session_id, contact_id, header, summary, "
                                         "started_at, embedding FROM memory_documents WHERE "
                                         "tenant_id = $1 AND embedding IS NOT NULL AND embedder "
                                         "= $2 ORDER BY started_at DESC, seq DESC LIMIT {}",
                                         max_points),
                             {core::DbValue(tenant.str()), core::DbValue(embedder_.name())}));
  EmbeddingMap map;
  map.embedder = embedder_.name();
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> summaries;
  for (const auto& r : rows.rows) {
    llm::Vector v = BlobToVector(r.GetBlob(5));
    if (v.empty() || (!vectors.empty() && v.size() != vectors.front().size())) continue;
    MapPoint p;
    p.session_id = r.GetText(0);
    p.contact_id = r.GetText(1);
    p.header = r.GetText(2);
    p.started_at = r.GetInt(4);
    map.points.push_back(std::move(p));
    summaries.push_back(r.GetText(3));
    vectors.push_back(std::move(v));
  }
  const size_t n = vectors.size();
  if (n == 0) return map;
  const size_t d = vectors.front().size();

  // Projection.
  std::vector<double> mean(d, 0.0);
  for (const auto& v : vectors) {
    for (size_t i = 0; i < d; ++i) mean[i] += v[i];
  }
  for (double& x : mean) x /= static_cast<double>(n);
  auto pc1 = Principal(vectors, mean, {}, 7);
  auto pc2 = Principal(vectors, mean, {pc1}, 11);
  double total_var = 0, var1 = 0, var2 = 0;
  for (size_t j = 0; j < n; ++j) {
    double x = 0, y = 0;
    for (size_t i = 0; i < d; ++i) {
      const double c = vectors[j][i] - mean[i];
      x += c * pc1[i];
      y += c * pc2[i];
      total_var += c * c;
    }
    map.points[j].x = x;
    map.points[j].y = y;
    var1 += x * x;
    var2 += y * y;
  }
  map.explained_variance = total_var > 0 ? (var1 + var2) / total_var : 0;

  // Clusters: k-means on the unit vectors (cosine), k-means++ from a fixed seed.
  size_t k = clusters > 0 ? static_cast<size_t>(clusters)
                          : std::clamp<size_t>(static_cast<size_t>(std::sqrt(n / 2.0)), 1, 8);
  k = std::min(k, n);
  std::mt19937 rng(42);
  std::vector<std::vector<double>> centres;
  centres.emplace_back(vectors[0].begin(), vectors[0].end());  // the newest session
  std::vector<double> best(n, 2.0);
  while (centres.size() < k) {
    double sum = 0;
    for (size_t j = 0; j < n; ++j) {
      best[j] = std::min(best[j], 1.0 - DotD(vectors[j], centres.back()));
      sum += std::max(0.0, best[j]) * std::max(0.0, best[j]);
    }
    if (sum <= 0) break;
    std::uniform_real_distribution<double> pick(0, sum);
    double target = pick(rng);
    size_t chosen = n - 1;
    for (size_t j = 0; j < n; ++j) {
      target -= std::max(0.0, best[j]) * std::max(0.0, best[j]);
      if (target <= 0) {
        chosen = j;
        break;
      }
    }
    centres.emplace_back(vectors[chosen].begin(), vectors[chosen].end());
  }
  k = centres.size();
  std::vector<int> assign(n, 0);
  for (int iter = 0; iter < 25; ++iter) {
    bool moved = false;
    for (size_t j = 0; j < n; ++j) {
      int arg = 0;
      double top = -2;
      for (size_t c = 0; c < k; ++c) {
        double s = DotD(vectors[j], centres[c]);
        if (s > top) {
          top = s;
          arg = static_cast<int>(c);
        }
      }
      moved = moved || assign[j] != arg;
      assign[j] = arg;
    }
    for (size_t c = 0; c < k; ++c) {
      std::vector<double> sum(d, 0.0);
      size_t count = 0;
      for (size_t j = 0; j < n; ++j) {
        if (assign[j] != static_cast<int>(c)) continue;
        ++count;
        for (size_t i = 0; i < d; ++i) sum[i] += vectors[j][i];
      }
      if (count == 0) continue;
      double norm = 0;
      for (double x : sum) norm += x * x;
      norm = std::sqrt(norm);
      if (norm > 0) {
        for (double& x : sum) x /= norm;
      }
      centres[c] = std::move(sum);
    }
    if (!moved && iter > 0) break;
  }

  // Labels: words typical of a cluster (lift of their frequency over the whole map).
  std::map<std::string, double> all;
  std::vector<std::map<std::string, double>> per(k);
  for (size_t j = 0; j < n; ++j) {
    std::map<std::string, int> seen;
    AnalyzeTerms(summaries[j], [&](std::string_view word, std::string_view) {
      if (word.size() < 4 ||
          std::all_of(word.begin(), word.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        return;
      }
      seen[std::string(word)] = 1;
    });
    for (const auto& [w, one] : seen) {
      all[w] += 1;
      per[static_cast<size_t>(assign[j])][w] += 1;
    }
  }
  for (size_t c = 0; c < k; ++c) {
    MapCluster cl;
    cl.id = static_cast<int>(c);
    for (size_t j = 0; j < n; ++j) {
      if (assign[j] != static_cast<int>(c)) continue;
      ++cl.size;
      cl.x += map.points[j].x;
      cl.y += map.points[j].y;
    }
    if (cl.size == 0) continue;
    cl.x /= static_cast<double>(cl.size);
    cl.y /= static_cast<double>(cl.size);
    std::vector<std::pair<double, std::string>> scored;
    for (const auto& [w, count] : per[c]) {
      if (count < 2 && cl.size > 2) continue;
      const double lift =
          (count / static_cast<double>(cl.size)) / (all[w] / static_cast<double>(n));
      scored.emplace_back(count * std::log1p(lift), w);
    }
    std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t i = 0; i < scored.size() && cl.terms.size() < 3; ++i) {
      cl.terms.push_back(scored[i].second);
    }
    cl.label = cl.terms.empty() ? fmt::format("cluster {}", c) : "";
    for (const auto& t : cl.terms) cl.label += (cl.label.empty() ? "" : ", ") + t;
    map.clusters.push_back(std::move(cl));
  }
  for (size_t j = 0; j < n; ++j) map.points[j].cluster = assign[j];
  return map;
}

std::string EmbeddingMapJson(const EmbeddingMap& m) {
  json::array points, clusters;
  for (const auto& p : m.points) {
    points.push_back(json::object{{"session_id", p.session_id},
                                  {"contact_id", p.contact_id},
                                  {"x", p.x},
                                  {"y", p.y},
                                  {"cluster", p.cluster},
                                  {"header", p.header},
                                  {"started_at", core::FormatTimestamp(p.started_at)}});
  }
  for (const auto& c : m.clusters) {
    json::array terms;
    for (const auto& t : c.terms) terms.emplace_back(t);
    clusters.push_back(json::object{{"id", c.id},
                                    {"label", c.label},
                                    {"terms", std::move(terms)},
                                    {"size", c.size},
                                    {"x", c.x},
                                    {"y", c.y}});
  }
  return json::serialize(json::object{{"embedder", m.embedder},
                                      {"explained_variance", m.explained_variance},
                                      {"points", std::move(points)},
                                      {"clusters", std::move(clusters)}});
}

}  // namespace ventros::memory
