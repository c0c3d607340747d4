#pragma once
// MemoryService's state, shared by the indexer (indexer.cpp), search (search.cpp) and facts.

#include <atomic>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ventros/core/trace.hpp"
#include "ventros/memory/memory.hpp"
// (after memory.hpp, which brings Result and Status into this namespace)
#include "ventros/llm/chat.hpp"
#include "ventros/memory/fact_extractor.hpp"
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

// The nine fact types, the columns a Fact is read from (in FactFromRow's order), the mapper.
const std::vector<std::string>& FactTypes();
inline constexpr const char* kFactColumns =
    "id, contact_id, type, subject, text, value, confidence, origin, source_session_id, "
    "valid_from, valid_to, created_at, expired_at, supersedes";
Fact FactFromRow(const core::DbRow& r);

// The first `limit` bytes of `text`, not splitting a UTF-8 sequence.
std::string ClipUtf8(std::string_view text, size_t limit);

// "2026-11-20 14:03" (UTC).
std::string FormatMinute(int64_t epoch_ms);

// What the vector channel's filters need of a document, kept in memory beside the index.
struct DocMeta {
  std::string contact_id;
  int64_t last_at = 0;
  bool active = false;
  int64_t version = 0;  // indexed_at of the vector: an older one never replaces a newer one
};

// A document rebuilt from its stored rows, before its embedding.
struct DocDraft {
  int64_t seq = 0;
  std::string tenant, contact, session;
  bool active = false;
  int64_t when = 0;
  std::string header, summary, terms, search_text, embed_text;
};

struct PendingVector {
  std::string tenant;
  int64_t seq = 0;
  llm::Vector vector;
  DocMeta meta;
};

// What a language model wrote about a session (the memory writer with a model).
struct LlmWriting {
  std::string summary;
  std::vector<ExtractedFact> facts;
  int dropped = 0;  // malformed facts left out
};
// Reads the model's JSON answer; InvalidArgument when it is not the object asked for.
Result<LlmWriting> ParseWriterAnswer(std::string_view text);

struct MemoryService::Impl {
  const core::Tracer* tracer = nullptr;  // memory updates as traces (SetTracer)
  core::Database& db;
  const core::Clock& clock;
  core::Logger logger;
  crm::MessagingService& crm;
  llm::Embedder& embedder;
  llm::Reranker* reranker;
  llm::ChatModel* chat = nullptr;  // summaries and facts by a model; null: offline
  core::MetricsRegistry* metrics;
  Options options;
  CachingEmbedder cache;
  VectorIndex vectors;

  mutable std::shared_mutex meta_mu;
  std::unordered_map<int64_t, DocMeta> meta;  // by document number
  int64_t vectors_watermark = 0;              // indexed_at of the newest document loaded
  std::atomic<bool> vectors_loaded{false};    // the start-up load finished
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
  void BumpLocked(const std::string& key);  // search_mu held
  static constexpr size_t kMaxGenerations = 200000;

  // Indexer pieces (indexer.cpp), inside the caller's transaction.
  Status ApplyEvent(core::Connection& conn, const core::Event& e, std::vector<int64_t>& refresh,
                    std::vector<std::string>& touched);
  Status RefreshDocument(core::Connection& conn, int64_t seq, std::vector<PendingVector>& out);
  Result<std::optional<DocDraft>> DraftDocument(core::Connection& conn, int64_t seq);
  // `vector` null: the text is written, the stored vector kept.
  Status WriteDocument(core::Connection& conn, const DocDraft& draft, const llm::Vector* vector,
                       std::vector<PendingVector>& out);
  Status UpsertNode(core::Connection& conn, const std::string& tenant, const std::string& id,
                    const std::string& kind, const std::string& label);
  Status UpsertEdge(core::Connection& conn, const std::string& tenant, const std::string& src,
                    const std::string& kind, const std::string& dst);
  void PublishVectors(std::vector<PendingVector>& pending);

  // Writer pieces (writer.cpp), inside the caller's transaction. ApplyFact says whether the
  // source was new.
  Result<bool> ApplyFact(core::Connection& conn, const std::string& tenant,
                         const std::string& contact, const std::optional<std::string>& session,
                         const std::string& source_key, const ExtractedFact& fact, int64_t at);
  // Bi-temporal close: the fact stops being believed as it was (expired_at = now) and a copy
  // records what is believed now, that it was true until valid_to. A fact that never became
  // true before valid_to is only expired.
  Status CloseFact(core::Connection& conn, const std::string& fact_id, int64_t valid_to);
  Status LearnFromMessage(core::Connection& conn, const std::string& tenant,
                          const std::string& contact, const std::optional<std::string>& session,
                          const std::string& message_id, const std::string& text, int64_t at);
  // Contact stats and active facts, shared by search and the summary.
  Status LoadAggregates(core::Connection& conn, const crm::Contact& contact, int64_t now,
                        ContactStats& stats, std::vector<Fact>& facts);
};

}  // namespace ventros::memory
