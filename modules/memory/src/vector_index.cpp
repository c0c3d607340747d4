#include "ventros/memory/vector_index.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// hnswlib is header-only and not written for -Wall -Wextra -Wpedantic. Its SIMD code is turned
// off: its distances are not used (DotSpace below), and its prefetches read one entry past the
// end of a link list (AddressSanitizer: heap-buffer-overflow in searchBaseLayer); without them a
// build is ~10 % slower. Only this translation unit may include hnswlib (it defines non-inline
// functions in headers).
#define NO_MANUAL_VECTORIZATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

// Design notes.
//
// Graph construction, updates, deletion marks and capacity growth are hnswlib's
// (HierarchicalNSW 0.6.2). The search is our own walk over its graph, read through hnswlib's
// public members, because 0.6.2's searchKnn takes no filter: removed and rejected nodes are
// expanded but never collected, so the beam widens until it holds ef accepted nodes, and ties
// are broken by label. When most nodes would be passed over (a selective filter, or many
// removals) a cost model picks an exact scan of the accepted vectors instead (ScanIsCheaper).
// Over-fetching with searchKnn was not used: its cost and recall collapse as the filter narrows.
//
// Locking: a tenant's shared_mutex is held exclusively by every write, shared by every read.
// So no hnswlib call ever runs concurrently with another on the same graph, and none of its
// unsynchronised state (level generator, deletion count, entry point, resizeIndex's
// reallocation, the link lists a search reads without locks) is ever raced. hnswlib's
// concurrent-insert mode is not used; a write delays that tenant's searches by one insertion.
//
// Memory: a vector is stored once, inside hnswlib's level-0 block (per node: 4 * (2m + 1)
// bytes of links, the vector, the label: 3212 bytes at 768-d and m = 16); exact search reads it
// there. Per node we also mirror its label and liveness (9 bytes) so that scans and filter
// sampling do not touch a cache line of every 3 KB node. A flat tenant keeps rows in one array.

namespace ventros::memory {
namespace {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;
using Allow = std::function<bool(uint64_t)>;
using DotFn = float (*)(const float*, const float*, size_t);

// hnswlib seeds its level generator with this; fixed so that a rebuild gives the same graph.
constexpr size_t kGraphSeed = 100;
// Labels asked of a filter to estimate the fraction it passes.
constexpr size_t kFilterSamples = 256;
// Costs of a search that accepts a fraction s of a graph's n nodes (the others are removed or
// rejected by the filter), in vector reads of a sequential scan, fitted on 768-d data at 10k
// and 100k (bench/vector_index_bench.cpp): the walk expands about ef / s nodes, ~6.5 reads per
// unit of ef / s; the scan asks the filter about all n labels (a cheap filter: ~1/100 of a read
// each) and reads the s * n accepted vectors. At 100k and ef 128 the scan wins below s = 8 %.
constexpr double kWalkReadsPerEf = 6.5;
constexpr double kScanReadsPerFilterCall = 0.01;
// When a vector is replaced, hnswlib relinks the node and may also re-prune its neighbours' lists
// (with this probability each). Re-pruning all of them (its addPoint's choice, 1.0) made an
// update cost 5 inserts and gained no recall; with 0 an update costs one insert, and recall@10
// after replacing every vector twice was unchanged (0.997 at 10k, 768-d clustered).
constexpr float kUpdateNeighbourProbability = 0.0f;

bool ScanIsCheaper(double accepted_fraction, size_t ef, size_t nodes) {
  if (accepted_fraction <= 0) return true;
  const double walk = kWalkReadsPerEf * static_cast<double>(ef) / accepted_fraction;
  const double scan = static_cast<double>(nodes) * (kScanReadsPerFilterCall + accepted_fraction);
  return scan < walk;
}

// Four partial sums keep the dependency chains short without -ffast-math.
float DotPortable(const float* a, const float* b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

#if defined(__x86_64__)
// The build targets baseline x86-64; AVX2+FMA is chosen at run time when the CPU has it.
__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps();
  __m256 s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps();
  __m256 s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  float r = _mm_cvtss_f32(x);
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}
#endif

DotFn PickDot() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return DotAvx2;
#endif
  return DotPortable;
}

// hnswlib's distance for graph construction: 1 - dot, with our kernel (its own InnerProductSpace
// would be SSE-only in this baseline-x86-64 build).
struct DotParam {
  size_t dims;
  DotFn dot;
};

float DotDistance(const void* a, const void* b, const void* param) {
  const auto* p = static_cast<const DotParam*>(param);
  return 1.0f - p->dot(static_cast<const float*>(a), static_cast<const float*>(b), p->dims);
}

class DotSpace final : public hnswlib::SpaceInterface<float> {
 public:
  DotSpace(size_t dims, DotFn dot) : param_{dims, dot} {}
  size_t get_data_size() override { return param_.dims * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &DotDistance; }
  void* get_dist_func_param() override { return &param_; }

 private:
  DotParam param_;
};

// Result order: higher similarity first, then lower label.
struct Ranked {
  float similarity;
  uint64_t label;
};

bool Better(const Ranked& a, const Ranked& b) {
  return a.similarity > b.similarity || (a.similarity == b.similarity && a.label < b.label);
}

// The k best of what it is offered; a heap whose front is the worst kept. `most` bounds how many
// will be offered (a caller's k may be far larger).
class TopK {
 public:
  TopK(size_t k, size_t most) : k_(k) { heap_.reserve(std::min(k, most)); }
  void Offer(float similarity, uint64_t label) {
    Ranked r{similarity, label};
    if (heap_.size() < k_) {
      heap_.push_back(r);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (k_ > 0 && Better(r, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = r;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  std::vector<VectorHit> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    std::vector<VectorHit> hits;
    hits.reserve(heap_.size());
    for (const Ranked& r : heap_) hits.push_back({r.label, r.similarity});
    return hits;
  }

 private:
  size_t k_;
  std::vector<Ranked> heap_;
};

const float* Vector(const Graph& g, tableint id) {
  return reinterpret_cast<const float*>(g.getDataByInternalId(id));
}

// Returns hnswlib's visited list to its pool on every path.
class VisitedLease {
 public:
  explicit VisitedLease(hnswlib::VisitedListPool& pool)
      : pool_(pool), list_(pool.getFreeVisitedList()) {}
  ~VisitedLease() { pool_.releaseVisitedList(list_); }
  VisitedLease(const VisitedLease&) = delete;
  VisitedLease& operator=(const VisitedLease&) = delete;
  // Marks the node visited; false if it already was.
  bool Visit(tableint id) {
    if (list_->mass[id] == list_->curV) return false;
    list_->mass[id] = list_->curV;
    return true;
  }

 private:
  hnswlib::VisitedListPool& pool_;
  hnswlib::VisitedList* list_;
};

using Scored = std::pair<float, tableint>;  // distance (-dot), node

// A tenant's vectors: flat (exact search) while small, then an HNSW graph.
// Callers hold `mutex`: shared to read, exclusive to write.
struct Partition {
  mutable std::shared_mutex mutex;
  // Flat: row i of `rows` belongs to labels[i]; removal moves the last row into the hole.
  std::vector<float> rows;
  std::vector<uint64_t> labels;
  std::unordered_map<uint64_t, uint32_t> slot_of;
  // Graph: once created, kept until Clear. Removed nodes stay in it, marked deleted.
  std::unique_ptr<Graph> graph;
  // By graph node: its label and whether it is live, mirrored from hnswlib (which keeps both
  // inside each 3 KB node) so that scans and filters read two small dense arrays.
  std::vector<uint64_t> node_labels;
  std::vector<uint8_t> node_live;

  size_t Live() const {
    return graph ? graph->cur_element_count - graph->num_deleted_ : labels.size();
  }

  void FlatUpsert(std::span<const float> v, uint64_t label) {
    if (auto it = slot_of.find(label); it != slot_of.end()) {
      std::copy(v.begin(), v.end(), rows.begin() + static_cast<ptrdiff_t>(it->second * v.size()));
      return;
    }
    slot_of.emplace(label, static_cast<uint32_t>(labels.size()));
    labels.push_back(label);
    rows.insert(rows.end(), v.begin(), v.end());
  }

  void FlatRemove(uint64_t label, size_t dims) {
    auto it = slot_of.find(label);
    if (it == slot_of.end()) return;
    const size_t slot = it->second, last = labels.size() - 1;
    slot_of.erase(it);
    if (slot != last) {
      std::copy_n(rows.begin() + static_cast<ptrdiff_t>(last * dims), dims,
                  rows.begin() + static_cast<ptrdiff_t>(slot * dims));
      labels[slot] = labels[last];
      slot_of[labels[slot]] = static_cast<uint32_t>(slot);
    }
    labels.pop_back();
    rows.resize(last * dims);
  }

  // Adds the vector, or replaces (and undeletes) the one under a known label.
  void GraphUpsert(const float* v, uint64_t label) {
    Graph& g = *graph;
    tableint id = 0;
    if (auto it = g.label_lookup_.find(label); it != g.label_lookup_.end()) {
      id = it->second;
      if (!node_live[id]) g.unmarkDeletedInternal(id);
      g.updatePoint(v, id, kUpdateNeighbourProbability);
    } else {
      // hnswlib's resizeIndex reallocates everything: one reason writers hold the partition
      // exclusively.
      if (g.cur_element_count == g.max_elements_) g.resizeIndex(g.max_elements_ * 2);
      id = g.addPoint(v, label, -1);  // -1: a random level
      node_labels.resize(std::max(node_labels.size(), size_t{id} + 1));
      node_live.resize(node_labels.size());
    }
    node_labels[id] = label;
    node_live[id] = 1;
  }

  void GraphRemove(uint64_t label) {
    auto it = graph->label_lookup_.find(label);
    if (it == graph->label_lookup_.end() || !node_live[it->second]) return;
    graph->markDeletedInternal(it->second);
    node_live[it->second] = 0;
  }

  // Calls fn(label, vector) for every live vector.
  template <typename Fn>
  void ForEachLive(size_t dims, Fn&& fn) const {
    if (graph) {
      for (size_t id = 0; id < node_labels.size(); ++id) {
        if (node_live[id]) fn(node_labels[id], Vector(*graph, static_cast<tableint>(id)));
      }
    } else {
      for (size_t i = 0; i < labels.size(); ++i) fn(labels[i], rows.data() + i * dims);
    }
  }

  // The live vector stored under `label`, or nullptr.
  const float* Find(uint64_t label, size_t dims) const {
    if (graph) {
      auto it = graph->label_lookup_.find(label);
      if (it == graph->label_lookup_.end() || !node_live[it->second]) return nullptr;
      return Vector(*graph, it->second);
    }
    auto it = slot_of.find(label);
    return it == slot_of.end() ? nullptr : rows.data() + size_t{it->second} * dims;
  }

  // Fraction of graph nodes a walk would accept (live and allowed): exact without a filter,
  // else estimated from up to kFilterSamples evenly spread nodes (deterministic, so a query
  // always takes the same path).
  double AcceptedFraction(const Allow& allow) const {
    const size_t count = node_labels.size();
    if (count == 0) return 0.0;
    if (!allow) return static_cast<double>(Live()) / static_cast<double>(count);
    const size_t samples = std::min(count, kFilterSamples);
    size_t accepted = 0;
    for (size_t j = 0; j < samples; ++j) {
      const size_t id = j * count / samples;
      accepted += node_live[id] && allow(node_labels[id]) ? 1 : 0;
    }
    return static_cast<double>(accepted) / static_cast<double>(samples);
  }
};

// HNSW search: greedy descent through the upper layers, then a beam of width ef on layer 0.
// Returns up to ef accepted nodes (live, allowed by the filter), unordered. Rejected nodes are
// still expanded, so the walk goes on past them until ef accepted ones are held.
std::vector<Ranked> WalkGraph(const Partition& p, const float* q, size_t dims, DotFn dot, size_t ef,
                              const Allow& allow) {
  const Graph& g = *p.graph;
  std::vector<Ranked> out;
  if (g.cur_element_count == 0) return out;
  auto distance = [&](tableint id) { return -dot(q, Vector(g, id), dims); };
  auto neighbours = [&](tableint id, int level) {
    hnswlib::linklistsizeint* list = g.get_linklist_at_level(id, level);
    return std::span<const tableint>(reinterpret_cast<const tableint*>(list + 1),
                                     g.getListCount(list));
  };
  auto accepted = [&](tableint id) {
    return p.node_live[id] && (!allow || allow(p.node_labels[id]));
  };

  tableint entry = g.enterpoint_node_;
  float entry_distance = distance(entry);
  for (int level = g.maxlevel_; level > 0; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      for (tableint n : neighbours(entry, level)) {
        float d = distance(n);
        if (d < entry_distance) {
          entry_distance = d;
          entry = n;
          moved = true;
        }
      }
    }
  }

  VisitedLease visited(*g.visited_list_pool_);
  std::vector<Scored> candidates;  // min-heap: nearest unexpanded node first
  std::vector<Scored> best;        // max-heap: farthest kept node first
  candidates.reserve(ef * 4);
  best.reserve(ef + 1);
  auto nearer_first = std::greater<Scored>();
  float bound = std::numeric_limits<float>::max();
  visited.Visit(entry);
  candidates.push_back({entry_distance, entry});
  if (accepted(entry)) {
    best.push_back({entry_distance, entry});
    bound = entry_distance;
  }
  while (!candidates.empty()) {
    const Scored current = candidates.front();
    if (current.first > bound && best.size() >= ef) break;
    std::pop_heap(candidates.begin(), candidates.end(), nearer_first);
    candidates.pop_back();
    const std::span<const tableint> next = neighbours(current.second, 0);
    for (size_t i = 0; i < next.size(); ++i) {
      const tableint n = next[i];
      if (i + 1 < next.size()) __builtin_prefetch(Vector(g, next[i + 1]));
      if (!visited.Visit(n)) continue;
      const float d = distance(n);
      if (best.size() >= ef && d >= bound) continue;
      candidates.push_back({d, n});
      std::push_heap(candidates.begin(), candidates.end(), nearer_first);
      if (!accepted(n)) continue;
      best.push_back({d, n});
      std::push_heap(best.begin(), best.end());
      if (best.size() > ef) {
        std::pop_heap(best.begin(), best.end());
        best.pop_back();
      }
      bound = best.front().first;
    }
  }
  out.reserve(best.size());
  for (const Scored& s : best) out.push_back({-s.first, p.node_labels[s.second]});
  return out;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

}  // namespace

struct VectorIndex::Impl {
  Impl(size_t dims, const VectorIndexOptions& o)
      : dims(dims), options(o), dot(PickDot()), space(dims, dot) {
    options.m = std::max(options.m, 2);  // hnswlib divides by log(m)
    options.ef_construction = std::max(options.ef_construction, 1);
    options.ef_search = std::max(options.ef_search, 1);
    options.initial_capacity = std::max<size_t>(options.initial_capacity, 1);
  }

  const size_t dims;
  VectorIndexOptions options;
  const DotFn dot;
  DotSpace space;  // every graph points into it: declared before the partitions

  mutable std::shared_mutex tenants_mutex;
  // Partitions are never erased (Clear empties one), so a pointer stays valid without the lock.
  std::unordered_map<std::string, std::unique_ptr<Partition>, StringHash, std::equal_to<>> tenants;

  Partition* Find(std::string_view tenant) const {
    std::shared_lock lock(tenants_mutex);
    auto it = tenants.find(tenant);
    return it == tenants.end() ? nullptr : it->second.get();
  }

  Partition& FindOrCreate(std::string_view tenant) {
    if (Partition* p = Find(tenant)) return *p;
    std::unique_lock lock(tenants_mutex);
    auto [it, inserted] = tenants.try_emplace(std::string(tenant));
    if (inserted) it->second = std::make_unique<Partition>();
    return *it->second;
  }

  // Moves a flat partition's vectors into a new graph. Caller holds the partition exclusively.
  void MakeGraph(Partition& p) {
    size_t capacity = options.initial_capacity;
    while (capacity <= p.labels.size()) capacity *= 2;
    p.graph = std::make_unique<Graph>(&space, capacity, static_cast<size_t>(options.m),
                                      static_cast<size_t>(options.ef_construction), kGraphSeed);
    for (size_t i = 0; i < p.labels.size(); ++i) {
      p.GraphUpsert(p.rows.data() + i * dims, p.labels[i]);
    }
    std::vector<float>().swap(p.rows);
    std::vector<uint64_t>().swap(p.labels);
    std::unordered_map<uint64_t, uint32_t>().swap(p.slot_of);
  }

  void CheckSize(std::span<const float> v, const char* what) const {
    if (v.size() != dims) {
      throw std::invalid_argument(std::string("VectorIndex: ") + what + " has " +
                                  std::to_string(v.size()) + " dimensions, expected " +
                                  std::to_string(dims));
    }
  }

  std::vector<VectorHit> Exact(const Partition& p, const float* q, size_t k,
                               const Allow& allow) const {
    TopK top(k, p.Live());
    p.ForEachLive(dims, [&](uint64_t label, const float* v) {
      if (!allow || allow(label)) top.Offer(dot(q, v, dims), label);
    });
    return top.Take();
  }
};

VectorIndex::VectorIndex(int dimensions, VectorIndexOptions options) : dimensions_(dimensions) {
  if (dimensions < 1) throw std::invalid_argument("VectorIndex: dimensions must be positive");
  impl_ = std::make_unique<Impl>(static_cast<size_t>(dimensions), options);
}

VectorIndex::~VectorIndex() = default;

void VectorIndex::Upsert(std::string_view tenant, uint64_t label, std::span<const float> v) {
  impl_->CheckSize(v, "vector");
  Partition& p = impl_->FindOrCreate(tenant);
  std::unique_lock lock(p.mutex);
  if (!p.graph) {
    if (p.labels.size() < impl_->options.min_graph_size || p.slot_of.contains(label)) {
      p.FlatUpsert(v, label);
      return;
    }
    impl_->MakeGraph(p);
  }
  p.GraphUpsert(v.data(), label);
}

void VectorIndex::Remove(std::string_view tenant, uint64_t label) {
  Partition* p = impl_->Find(tenant);
  if (!p) return;
  std::unique_lock lock(p->mutex);
  if (p->graph) {
    p->GraphRemove(label);
  } else {
    p->FlatRemove(label, impl_->dims);
  }
}

std::vector<VectorHit> VectorIndex::Search(std::string_view tenant, std::span<const float> query,
                                           size_t k, const Allow& allow) const {
  impl_->CheckSize(query, "query");
  const Partition* p = impl_->Find(tenant);
  if (!p || k == 0) return {};
  std::shared_lock lock(p->mutex);
  if (!p->graph) return impl_->Exact(*p, query.data(), k, allow);
  k = std::min(k, p->Live());  // also bounds the beam below
  if (k == 0) return {};
  const size_t ef = std::max(k, static_cast<size_t>(impl_->options.ef_search));
  // The walk pays for every node it must pass over (removed, or rejected by the filter); when
  // those are most of the graph, scoring the accepted ones exactly is cheaper.
  const FilterStrategy strategy = impl_->options.filter_strategy;
  bool scan = false;
  if (allow && strategy != FilterStrategy::kAuto) {
    scan = strategy == FilterStrategy::kScan;
  } else if (allow || p->Live() < p->node_labels.size()) {
    scan = ScanIsCheaper(p->AcceptedFraction(allow), ef, p->node_labels.size());
  }
  if (scan) return impl_->Exact(*p, query.data(), k, allow);
  std::vector<Ranked> found = WalkGraph(*p, query.data(), impl_->dims, impl_->dot, ef, allow);
  // Fewer than k although more live vectors exist: the filter passes fewer than k of them, or
  // the walk could not reach some (possible after many deletions). A scan settles it exactly.
  if (found.size() < k && found.size() < p->Live()) {
    return impl_->Exact(*p, query.data(), k, allow);
  }
  TopK top(k, found.size());
  for (const Ranked& r : found) top.Offer(r.similarity, r.label);
  return top.Take();
}

std::vector<VectorHit> VectorIndex::ExactSearch(std::string_view tenant,
                                                std::span<const float> query, size_t k,
                                                const Allow& allow) const {
  impl_->CheckSize(query, "query");
  const Partition* p = impl_->Find(tenant);
  if (!p || k == 0) return {};
  std::shared_lock lock(p->mutex);
  return impl_->Exact(*p, query.data(), k, allow);
}

std::vector<VectorHit> VectorIndex::SearchWithin(std::string_view tenant,
                                                 std::span<const float> query, size_t k,
                                                 std::span<const uint64_t> labels) const {
  impl_->CheckSize(query, "query");
  const Partition* p = impl_->Find(tenant);
  if (!p || k == 0) return {};
  std::vector<uint64_t> unique(labels.begin(), labels.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::shared_lock lock(p->mutex);
  TopK top(k, unique.size());
  for (uint64_t label : unique) {
    if (const float* v = p->Find(label, impl_->dims)) {
      top.Offer(impl_->dot(query.data(), v, impl_->dims), label);
    }
  }
  return top.Take();
}

size_t VectorIndex::Size(std::string_view tenant) const {
  const Partition* p = impl_->Find(tenant);
  if (!p) return 0;
  std::shared_lock lock(p->mutex);
  return p->Live();
}

size_t VectorIndex::MemoryBytes() const {
  // Hash map nodes: the pair, the next pointer and the cached hash; buckets: one pointer.
  constexpr size_t kMapNode = 32, kBucket = sizeof(void*);
  std::vector<const Partition*> partitions;
  size_t bytes = 0;
  {
    std::shared_lock lock(impl_->tenants_mutex);
    for (const auto& [name, p] : impl_->tenants) {
      partitions.push_back(p.get());
      bytes += sizeof(Partition) + name.capacity() + kMapNode;
    }
  }
  for (const Partition* p : partitions) {
    std::shared_lock lock(p->mutex);
    bytes += p->rows.capacity() * sizeof(float) + p->labels.capacity() * sizeof(uint64_t) +
             p->slot_of.size() * kMapNode + p->slot_of.bucket_count() * kBucket +
             p->node_labels.capacity() * sizeof(uint64_t) + p->node_live.capacity();
    if (!p->graph) continue;
    const Graph& g = *p->graph;
    // Level-0 block (touched part), upper-layer link lists, per-slot bookkeeping, hnswlib's
    // fixed array of update locks, the label map, one visited list.
    bytes += g.cur_element_count * g.size_data_per_element_;
    for (size_t id = 0; id < g.cur_element_count; ++id) {
      bytes += static_cast<size_t>(g.element_levels_[id]) * g.size_links_per_element_;
    }
    bytes += g.max_elements_ *
             (sizeof(std::mutex) + sizeof(int) + sizeof(void*) + sizeof(hnswlib::vl_type));
    bytes += g.link_list_update_locks_.size() * sizeof(std::mutex);
    bytes += g.label_lookup_.size() * kMapNode + g.label_lookup_.bucket_count() * kBucket;
  }
  return bytes;
}

void VectorIndex::Clear(std::string_view tenant) {
  Partition* p = impl_->Find(tenant);
  if (!p) return;
  std::unique_lock lock(p->mutex);
  p->graph.reset();
  std::vector<uint64_t>().swap(p->node_labels);
  std::vector<uint8_t>().swap(p->node_live);
  std::vector<float>().swap(p->rows);
  std::vector<uint64_t>().swap(p->labels);
  std::unordered_map<uint64_t, uint32_t>().swap(p->slot_of);
}

}  // namespace ventros::memory
