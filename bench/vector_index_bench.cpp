// Measures the per-tenant vector index on synthetic 768-d embeddings: build time, recall@10
// against exact search, single-thread search latency by beam width, filtered search (graph walk
// against exact scan), two-thread throughput, resident memory. Prints one JSON object per line.
//
// Usage: vector_index_bench [n=100000] [queries=1000] [clusters=100] [spread=1.0] [seed=42]
//                           [full|core] [ef_construction=100] [m=16]
//   core: build, recall and the ef trade-off only.
// Data: `clusters` random unit centres; a point is a centre plus gaussian noise of length
// `spread` (1.0: same-cluster cosine about 0.5), normalised. Queries are fresh points.
// Latencies are wall time and, in *_cpu_us, the thread's CPU time: on a shared machine the wall
// tail includes time spent preempted.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "ventros/memory/vector_index.hpp"

namespace {

using ventros::bench::Percentile;
using ventros::bench::RssMb;
using ventros::bench::Seconds;
using ventros::bench::Sum;

using ventros::memory::FilterStrategy;
using ventros::memory::VectorHit;
using ventros::memory::VectorIndex;
using ventros::memory::VectorIndexOptions;
using Clock = std::chrono::steady_clock;
using Vec = std::vector<float>;
using Allow = std::function<bool(uint64_t)>;

constexpr int kDims = 768;
constexpr size_t kK = 10;

double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void Normalise(Vec& v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= scale;
}

struct Data {
  std::vector<Vec> centres;
  float spread;
  Vec Point(std::mt19937& rng) const {
    std::normal_distribution<float> noise(0.0f, spread / std::sqrt(static_cast<float>(kDims)));
    std::uniform_int_distribution<size_t> pick(0, centres.size() - 1);
    Vec v = centres[pick(rng)];
    for (float& x : v) x += noise(rng);
    Normalise(v);
    return v;
  }
};

double Overlap(const std::vector<VectorHit>& approx, const std::vector<VectorHit>& exact) {
  if (exact.empty()) return 1.0;
  std::set<uint64_t> truth;
  for (const VectorHit& h : exact) truth.insert(h.label);
  size_t found = 0;
  for (const VectorHit& h : approx) found += truth.count(h.label);
  return static_cast<double>(found) / static_cast<double>(exact.size());
}

struct Run {
  double p50_us, p99_us, p50_cpu_us, p99_cpu_us, recall;
};

// Runs `search` for every query; latencies, and mean recall against `exact` when given.
template <typename Search>
Run Measure(const std::vector<Vec>& queries, const std::vector<std::vector<VectorHit>>* exact,
            Search&& search) {
  std::vector<double> wall, cpu;
  double recall = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    const auto start = Clock::now();
    const double cpu_start = CpuSeconds();
    auto hits = search(queries[q]);
    cpu.push_back((CpuSeconds() - cpu_start) * 1e6);
    wall.push_back(Seconds(start) * 1e6);
    if (exact) recall += Overlap(hits, (*exact)[q]);
  }
  return {Percentile(wall, 0.5), Percentile(wall, 0.99), Percentile(cpu, 0.5),
          Percentile(cpu, 0.99), recall / static_cast<double>(queries.size())};
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const size_t query_count = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000;
  const size_t cluster_count = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 100;
  const float spread = argc > 4 ? std::strtof(argv[4], nullptr) : 1.0f;
  const unsigned seed = argc > 5 ? static_cast<unsigned>(std::strtoul(argv[5], nullptr, 10)) : 42;
  const bool full = argc <= 6 || std::string(argv[6]) != "core";
  const VectorIndexOptions defaults;
  VectorIndexOptions options;
  options.ef_construction = argc > 7 ? std::atoi(argv[7]) : defaults.ef_construction;
  options.m = argc > 8 ? std::atoi(argv[8]) : defaults.m;

  std::mt19937 rng(seed);
  Data data{{}, spread};
  std::normal_distribution<float> normal;
  for (size_t c = 0; c < cluster_count; ++c) {
    Vec v(kDims);
    for (float& x : v) x = normal(rng);
    Normalise(v);
    data.centres.push_back(std::move(v));
  }
  std::vector<Vec> queries;
  for (size_t q = 0; q < query_count; ++q) queries.push_back(data.Point(rng));
  std::vector<Vec> points;
  for (size_t i = 0; i < n; ++i) points.push_back(data.Point(rng));

  // The beam width is chosen per search (search_ef), so the index's own is 1; filtered searches
  // always walk the graph, to set the walk against the exact scan.
  options.ef_search = 1;
  options.filter_strategy = FilterStrategy::kWalk;
  const double rss_before = RssMb();
  VectorIndex index(kDims, options);
  const auto build_start = Clock::now();
  const double build_cpu_start = CpuSeconds();
  for (uint64_t i = 0; i < n; ++i) index.Upsert("t", i, points[i]);
  const double build_s = Seconds(build_start);
  const double build_cpu_s = CpuSeconds() - build_cpu_start;
  const double rss_mb = RssMb() - rss_before;
  points.clear();
  points.shrink_to_fit();

  // A search for the top `ef` walks a beam of width ef, so its first kK hits are what
  // ef_search = ef returns.
  auto search_ef = [&](const Vec& q, size_t ef, const Allow& allow = {}) {
    auto hits = index.Search("t", q, std::max(ef, kK), allow);
    hits.resize(std::min(hits.size(), kK));
    return hits;
  };
  const auto default_ef = static_cast<size_t>(defaults.ef_search);

  std::vector<std::vector<VectorHit>> exact;
  for (const Vec& q : queries) exact.push_back(index.ExactSearch("t", q, kK));
  const Run scan =
      Measure(queries, nullptr, [&](const Vec& q) { return index.ExactSearch("t", q, kK); });
  const Run run = Measure(queries, &exact, [&](const Vec& q) { return search_ef(q, default_ef); });
  std::printf(
      "{\"bench\":\"vector_index\",\"n\":%zu,\"dims\":%d,\"clusters\":%zu,\"spread\":%.2f,"
      "\"m\":%d,\"ef_construction\":%d,\"ef_search\":%d,\"build_s\":%.2f,\"build_cpu_s\":%.2f,"
      "\"recall_at_10\":%.4f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p50_cpu_us\":%.1f,"
      "\"p99_cpu_us\":%.1f,\"exact_p50_us\":%.1f,\"rss_mb\":%.1f,\"memory_bytes_mb\":%.1f}\n",
      n, kDims, cluster_count, static_cast<double>(spread), options.m, options.ef_construction,
      defaults.ef_search, build_s, build_cpu_s, run.recall, run.p50_us, run.p99_us, run.p50_cpu_us,
      run.p99_cpu_us, scan.p50_us, rss_mb, static_cast<double>(index.MemoryBytes()) / (1 << 20));
  std::fflush(stdout);

  for (size_t ef : {16, 32, 48, 64, 96, 128, 200, 300}) {
    const Run r = Measure(queries, &exact, [&](const Vec& q) { return search_ef(q, ef); });
    std::printf(
        "{\"bench\":\"vector_index_ef\",\"n\":%zu,\"ef_search\":%zu,\"recall_at_10\":%.4f,"
        "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p50_cpu_us\":%.1f,\"p99_cpu_us\":%.1f}\n",
        n, ef, r.recall, r.p50_us, r.p99_us, r.p50_cpu_us, r.p99_cpu_us);
    std::fflush(stdout);
  }
  if (!full) return 0;

  // Filtered, by the fraction the filter passes: the graph walk against the exact scan
  // (FilterStrategy::kAuto picks between them by a cost model fitted on these figures).
  for (uint64_t one_in : {2, 5, 10, 20, 50, 100, 1000}) {
    const Allow allow = [one_in](uint64_t label) { return label % one_in == 0; };
    std::vector<std::vector<VectorHit>> exact_filtered;
    for (const Vec& q : queries) exact_filtered.push_back(index.ExactSearch("t", q, kK, allow));
    const Run walk = Measure(queries, &exact_filtered,
                             [&](const Vec& q) { return search_ef(q, default_ef, allow); });
    const Run filtered_scan = Measure(
        queries, nullptr, [&](const Vec& q) { return index.ExactSearch("t", q, kK, allow); });
    std::printf(
        "{\"bench\":\"vector_index_filtered\",\"n\":%zu,\"ef_search\":%zu,"
        "\"passed_fraction\":%.4f,\"walk_recall_at_10\":%.4f,\"walk_p50_us\":%.1f,"
        "\"walk_p50_cpu_us\":%.1f,\"scan_p50_us\":%.1f,\"scan_p50_cpu_us\":%.1f}\n",
        n, default_ef, 1.0 / static_cast<double>(one_in), walk.recall, walk.p50_us, walk.p50_cpu_us,
        filtered_scan.p50_us, filtered_scan.p50_cpu_us);
    std::fflush(stdout);
  }

  // Replacing the vectors of 1 % of the labels (a session's document re-embedded), then the
  // same queries against a new exact answer.
  {
    std::vector<double> us;
    for (size_t i = 0; i < n / 100; ++i) {
      const Vec v = data.Point(rng);
      const uint64_t label = (i * 7919) % n;
      const auto start = Clock::now();
      index.Upsert("t", label, v);
      us.push_back(Seconds(start) * 1e6);
    }
    std::vector<std::vector<VectorHit>> exact_after;
    for (const Vec& q : queries) exact_after.push_back(index.ExactSearch("t", q, kK));
    const Run r =
        Measure(queries, &exact_after, [&](const Vec& q) { return search_ef(q, default_ef); });
    std::printf(
        "{\"bench\":\"vector_index_update\",\"n\":%zu,\"updates\":%zu,\"update_p50_us\":%.1f,"
        "\"update_p99_us\":%.1f,\"recall_at_10_after\":%.4f}\n",
        n, us.size(), Percentile(us, 0.5), Percentile(us, 0.99), r.recall);
    std::fflush(stdout);
  }

  // A contact's few sessions, named: SearchWithin.
  {
    std::vector<uint64_t> within;
    for (uint64_t i = 0; i < 50; ++i) within.push_back(i * (n / 50));
    const Run r = Measure(queries, nullptr,
                          [&](const Vec& q) { return index.SearchWithin("t", q, kK, within); });
    std::printf(
        "{\"bench\":\"vector_index_within\",\"n\":%zu,\"labels\":50,\"p50_us\":%.1f,"
        "\"p99_us\":%.1f}\n",
        n, r.p50_us, r.p99_us);
  }

  // Two threads searching at once (the machine has 2 cores).
  {
    constexpr int kThreads = 2;
    std::atomic<size_t> done{0};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (const Vec& q : queries) {
          if (search_ef(q, default_ef).size() == kK) ++done;
        }
      });
    }
    for (auto& t : threads) t.join();
    std::printf("{\"bench\":\"vector_index_parallel\",\"n\":%zu,\"threads\":%d,\"qps\":%.0f}\n", n,
                kThreads, static_cast<double>(done.load()) / Seconds(start));
  }
  return 0;
}
