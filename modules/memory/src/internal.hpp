#pragma once
// MemoryService's state, shared by the indexer (indexer.cpp), search (search.cpp) and facts.

#include <atomic>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ventros/memory/memory.hpp"
// (after memory.hpp, which brings Result and Status into this namespace)
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/vector_index.hpp"

namespace ventros::memory {

// Keyword terms carry a partition tag as a prefix ("t1a2b3c4d" + "cancel"), so a query walks only
// its tenant's (documents) or contact's (messages) posting lists. Tags are hashes: rows are still
// checked by tenant_id, so a collision could only cost time, never leak.
std::string TenantTag(std::string_view tenant);
std::string ContactTag(std::string_view tenant, std::string_view contact);
// The text's terms with the tag prefixed, space-separated; non-alphanumeric characters dropped so
// each term stays one token for FTS5 and PostgreSQL's parser.
std::string TaggedTerms(std::string_view tag, const std::vector<std::string>& terms);
std::vector<std::string> UniqueTaggedTerms(std::string_view tag, std::string_view text);

std::string VectorToBlob(const llm::Vector& v);
llm::Vector BlobToVector(const std::string& bytes);
double Dot(const llm::Vector& a, const llm::Vector& b);

// "2026-11-20 14:03" (UTC).
std::string FormatMinute(int64_t epoch_ms);

// What the vector channel's filters need of a document, kept in memory beside the index.
struct DocMeta {
  std::string contact_id;
  int64_t last_at = 0;
  bool active = false;
};

struct PendingVector {
  std::string tenant;
  int64_t seq = 0;
  llm::Vector vector;
  DocMeta meta;
};

struct MemoryService::Impl {
  core::Database& db;
  const core::Clock& clock;
  core::Logger logger;
  crm::MessagingService& crm;
  llm::Embedder& embedder;
  llm::Reranker* reranker;
  core::MetricsRegistry* metrics;
  Options options;
  CachingEmbedder cache;
  VectorIndex vectors;

  mutable std::shared_mutex meta_mu;
  std::unordered_map<int64_t, DocMeta> meta;  // by document number
  int64_t vectors_watermark = 0;              // indexed_at of the newest document loaded
  std::mutex catch_up_mu;

  // Search cache: entries are valid while the contact's generation is unchanged and younger than
  // the TTL. Generations are bumped by the indexer and fact writes of this instance.
  struct CacheEntry {
    SearchResult result;
    uint64_t generation = 0;
    int64_t stored_at = 0;
    std::list<std::string>::iterator lru;
  };
  std::mutex search_mu;
  std::unordered_map<std::string, CacheEntry> search_cache;
  std::list<std::string> search_lru;
  std::unordered_map<std::string, uint64_t> generations;  // tenant|contact
  core::Counter* search_hits = nullptr;
  core::Counter* search_misses = nullptr;
  core::Histogram* search_seconds = nullptr;

  Impl(core::Database& db, const core::Clock& clock, core::Logger logger,
       crm::MessagingService& crm, llm::Embedder& embedder, llm::Reranker* reranker,
       core::MetricsRegistry* metrics, Options options);

  uint64_t Generation(const std::string& tenant, const std::string& contact);
  void Bump(const std::string& tenant, const std::string& contact);

  // Indexer pieces (indexer.cpp), inside the caller's transaction.
  Status ApplyEvent(core::Connection& conn, const core::Event& e, std::vector<int64_t>& refresh,
                    std::vector<std::string>& touched);
  Status RefreshDocument(core::Connection& conn, int64_t seq, std::vector<PendingVector>& out);
  Status UpsertNode(core::Connection& conn, const std::string& tenant, const std::string& id,
                    const std::string& kind, const std::string& label);
  Status UpsertEdge(core::Connection& conn, const std::string& tenant, const std::string& src,
                    const std::string& kind, const std::string& dst);
  void PublishVectors(std::vector<PendingVector>& pending);
};

}  // namespace ventros::memory
