#pragma once
// Approximate nearest-neighbour search over L2-normalised vectors (cosine similarity), one
// partition per tenant, so a tenant's query never sees another tenant's vectors. Labels are the
// caller's integer ids (memory document numbers). A per-instance cache: rebuilt from the database
// at start and kept current by the memory indexer.
//
// A small tenant (up to min_graph_size vectors) is a flat array searched exactly; past that it
// becomes an HNSW graph (hnswlib) searched approximately. Similarity is the dot product, so
// vectors should be L2-normalised (not checked).
//
// Thread-safety: thread-safe. Searches run concurrently with each other; a write (Upsert, Remove,
// Clear) holds its tenant exclusively for its duration, so it delays that tenant's searches and
// no other's: at 100k 768-d vectors an insertion takes ~0.35 ms, a replacement ~0.5 ms; once per
// tenant, the move from flat to graph ~0.1 s.
// Ownership: the index owns copies of the vectors; spans are not retained.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ventros::memory {

// How a filtered search of a graph tenant finds its hits.
enum class FilterStrategy {
  kAuto,  // estimate (by sampling) the fraction the filter passes, take the cheaper of the two
  kWalk,  // walk the graph past rejected nodes until ef allowed ones are held (approximate)
  kScan,  // score every allowed vector (exact; the filter is asked about every vector)
};

struct VectorIndexOptions {
  int m = 16;  // graph degree (level 0 keeps 2m links)
  int ef_construction = 100;
  // Beam width of a search, raised to k when k is larger. On 100k clustered 768-d vectors 128
  // gives recall@10 0.991 at 0.41 ms p50; 64 gives 0.954 at 0.31 ms (bench/vector_index_bench.cpp).
  int ef_search = 128;
  size_t initial_capacity = 1024;  // per tenant graph; grows by doubling
  // A tenant with at most this many vectors is kept flat and searched exactly: cheaper than a
  // graph in memory (hnswlib allocates ~2.6 MB of locks per graph) and about as fast at this size.
  // 0: every tenant is a graph from its first vector.
  size_t min_graph_size = 1024;
  FilterStrategy filter_strategy = FilterStrategy::kAuto;
};

struct VectorHit {
  uint64_t label = 0;
  float similarity = 0;  // cosine, in [-1, 1]
};

class VectorIndex {
 public:
  // Throws std::invalid_argument when dimensions < 1.
  explicit VectorIndex(int dimensions, VectorIndexOptions options = {});
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  int dimensions() const { return dimensions_; }
  // Adds the vector, or replaces the one stored under this label (also a removed one, which comes
  // back). v.size() must be dimensions(), else std::invalid_argument (a caller bug).
  void Upsert(std::string_view tenant, uint64_t label, std::span<const float> v);
  // Unknown tenants and labels are ignored.
  void Remove(std::string_view tenant, uint64_t label);
  // Up to k hits, most similar first (ties by label). `allow` (optional) filters labels; the
  // search widens so up to k allowed hits are still found when the filter rejects many, and
  // scores the allowed vectors exactly when that is cheaper (see FilterStrategy). `allow` runs
  // on the calling thread while the tenant is read-locked: it must not write to this index.
  // query.size() must be dimensions(), else std::invalid_argument. Unknown tenant: no hits.
  std::vector<VectorHit> Search(std::string_view tenant, std::span<const float> query, size_t k,
                                const std::function<bool(uint64_t)>& allow = {}) const;
  // Exact search by brute force over the same vectors (for recall measurement; ~26 ms at 100k).
  std::vector<VectorHit> ExactSearch(std::string_view tenant, std::span<const float> query,
                                     size_t k,
                                     const std::function<bool(uint64_t)>& allow = {}) const;
  // Exact search among the given labels only (unknown, removed and repeated ones are skipped):
  // for a caller that already knows the few candidates (e.g. one contact's sessions), cheaper
  // than a filter, which must be asked about every label.
  std::vector<VectorHit> SearchWithin(std::string_view tenant, std::span<const float> query,
                                      size_t k, std::span<const uint64_t> labels) const;
  size_t Size(std::string_view tenant) const;  // live vectors
  size_t MemoryBytes() const;                  // approximate, all tenants
  void Clear(std::string_view tenant);

 private:
  struct Impl;
  int dimensions_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ventros::memory
