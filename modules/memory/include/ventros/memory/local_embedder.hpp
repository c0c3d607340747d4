#pragma once
// The default embedder: no network, deterministic, fast. The terms of text.hpp (stemmed, folded,
// no stop words), bigrams of consecutive terms and character 3- to 5-grams of each term (with
// boundary markers, for typos), signed feature hashing into `dimensions` dimensions, sublinear
// term weighting (1 + ln tf), L2-normalised. About 5 µs for a 20-word query on one core.
//
// Also: CachingEmbedder, an LRU cache in front of any embedder, partitioned by tenant.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ventros/core/status.hpp"
#include "ventros/llm/embedder.hpp"

namespace ventros::core {
class MetricsRegistry;
}  // namespace ventros::core

namespace ventros::memory {

using core::Result;

// Thread-safe and stateless (scratch buffers are per thread). A text with no term (empty, only
// stop words, only punctuation or emoji) embeds to the all-zero vector, the one exception to
// "L2-normalised": its cosine with anything is 0, so callers must not divide by its norm.
// Vectors are identical bit for bit for the same text and dimensions on every run (the hashes
// are our own, never std::hash; feature order is fixed), so stored vectors stay comparable; only
// a different libm's logf could move a last bit.
class LocalEmbedder : public llm::Embedder {
 public:
  explicit LocalEmbedder(int dimensions = 768) : dimensions_(dimensions) {}
  std::string name() const override;  // "local-v1/768"
  int dimensions() const override { return dimensions_; }
  // Never fails for dimensions > 0 (InvalidArgument otherwise); the task is ignored, documents
  // and queries embed alike.
  Result<std::vector<llm::Vector>> Embed(std::span<const std::string> texts,
                                         llm::EmbedTask task) override;
  // One text, without the Result wrapper (never fails; empty for dimensions <= 0).
  llm::Vector EmbedOne(std::string_view text) const;

 private:
  int dimensions_;
};

// Caches vectors by (tenant, task, SHA-256 of the text), least recently used evicted beyond
// `capacity` entries (0 disables caching). The same text in two tenants is two entries. Only the
// misses go to the inner embedder, in one call, deduplicated, outside the lock; a failed call
// caches nothing and returns its error. Hits and misses are counted per text, also in
// ventros_memory_embedding_cache_{hits,misses}_total when a registry is given.
//
// Thread-safe. `inner` and `metrics` must outlive the cache.
class CachingEmbedder {
 public:
  CachingEmbedder(llm::Embedder& inner, size_t capacity, core::MetricsRegistry* metrics = nullptr);
  ~CachingEmbedder();
  CachingEmbedder(const CachingEmbedder&) = delete;
  CachingEmbedder& operator=(const CachingEmbedder&) = delete;

  Result<std::vector<llm::Vector>> Embed(std::string_view tenant,
                                         std::span<const std::string> texts, llm::EmbedTask task);
  llm::Embedder& inner() { return inner_; }
  uint64_t hits() const;
  uint64_t misses() const;
  size_t size() const;  // entries cached now

 private:
  struct State;
  llm::Embedder& inner_;
  std::unique_ptr<State> state_;
};

}  // namespace ventros::memory
