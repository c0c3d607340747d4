#pragma once
// The memory of a tenant: what a human agent would want to know about a contact, found in a few
// milliseconds. The indexer (an event consumer) keeps the module's own tables current from CRM
// events: messages with sentiment and keyword terms, one memory document per session (header,
// extractive summary, embedding), the knowledge graph. Search fuses vector, keyword, graph and
// recency channels with weighted Reciprocal Rank Fusion, reranks, adds contact aggregates and
// memory facts, and formats the context an agent reads.
//
// Thread-safety: MemoryService is thread-safe. Search runs on request threads; the indexer runs
// on its consumer thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/llm/embedder.hpp"
#include "ventros/llm/reranker.hpp"

namespace ventros::llm {
class ChatModel;
}
namespace ventros::core {
class Tracer;
}

namespace ventros::memory {

using core::Result;
using core::Status;

class VectorIndex;
class CachingEmbedder;

// Channel weights of a retrieval strategy (docs/memory.md has the table).
struct StrategyWeights {
  double vector = 0, keyword = 0, graph = 0, recent = 0;
};
// The built-in strategies, by name.
const std::map<std::string, StrategyWeights>& Strategies();

// Weighted Reciprocal Rank Fusion: score(d) = sum over lists of weight / (k + rank of d), rank
// from 1. Best first; equal scores ordered by id.
struct RankedList {
  std::vector<int64_t> ids;  // best first
  double weight = 0;
};
std::vector<std::pair<int64_t, double>> FuseRanks(const std::vector<RankedList>& lists,
                                                  double k = 60);

// What a search may look at.
struct KnowledgeScope {
  std::optional<int> lookback_days;     // only sessions active in the last N days
  bool include_agent_transfers = true;  // graph: follow transferred_to edges
  bool contact_only = false;            // vector/keyword: only this contact's sessions
};

struct SearchRequest {
  crm::TenantId tenant;
  crm::ContactId contact;
  std::string query;
  std::optional<std::string> strategy;        // a name from Strategies()
  std::optional<std::string> agent_category;  // used as the strategy when none is given
  std::optional<StrategyWeights> weights;     // custom weights instead of a strategy's
  int top_k = 5;                              // 1..20
  std::optional<KnowledgeScope> scope;
  bool use_cache = true;
};

struct ChannelRank {
  int rank = 0;  // from 1
  double score = 0;
};

struct SearchHit {
  int64_t doc = 0;  // memory document number
  std::string session_id;
  std::string contact_id;
  std::string header, summary;
  int64_t started_at = 0;
  std::optional<int64_t> ended_at;
  std::map<std::string, ChannelRank> channels;  // vector, keyword, graph, recent
  double fused = 0;
  double rerank = 0;
  double similarity = 0;  // cosine of the query and the document
};

struct RecentMessage {
  std::string id;
  bool from_me = false;
  std::string source;
  std::string body;
  int64_t message_at = 0;
};

struct Fact {
  std::string id;
  std::string contact_id;
  std::string type;  // budget_constraint | preference | goal | pain_point | objection |
                     // constraint | technical_info | personal_info | business_info
  std::string subject;
  std::string text;
  std::string value = "{}";  // JSON
  double confidence = 1;
  std::string origin;  // manual | extracted
  std::optional<std::string> source_session_id;
  int64_t valid_from = 0;
  std::optional<int64_t> valid_to;
  int64_t created_at = 0;
  std::optional<int64_t> expired_at;
  std::optional<std::string> supersedes;
};

struct FactInput {
  std::string type, text, subject;
  std::string value = "{}";
  double confidence = 1;
  std::optional<int64_t> valid_from;
  std::optional<std::string> source_session_id;
  std::optional<std::string> supersedes;  // closes that fact (valid_to = valid_from)
};

struct ContactStats {
  int64_t total_sessions = 0;
  std::optional<double> average_sentiment;
  std::string sentiment_trend;  // improving | worsening | stable | unknown
  std::optional<int64_t> last_interaction_at;
  std::optional<std::string> campaign_source;
  std::optional<std::string> pipeline_stage;
  std::optional<int64_t> days_in_stage;
  std::string name;
};

struct SearchResult {
  std::string strategy;
  StrategyWeights weights;
  std::vector<RecentMessage> recent_messages;  // baseline, oldest first
  std::vector<SearchHit> hits;                 // best first
  ContactStats stats;
  std::vector<Fact> facts;  // active
  std::map<std::string, double> timings_ms;
  bool cache_hit = false;
  std::vector<std::string> warnings;  // e.g. a channel skipped because its model failed
  std::string context;                // the four-section text
};

// A 2-D picture of a tenant's session embeddings (GET /v1/memory/map).
struct MapPoint {
  std::string session_id, contact_id, header;
  double x = 0, y = 0;  // the first two principal components
  int cluster = 0;
  int64_t started_at = 0;
};
struct MapCluster {
  int id = 0;
  std::string label;               // its most typical words, joined
  std::vector<std::string> terms;  // up to 3
  size_t size = 0;
  double x = 0, y = 0;  // centroid in the projection
};
struct EmbeddingMap {
  std::string embedder;
  double explained_variance = 0;  // share of the variance the two components keep
  std::vector<MapPoint> points;   // newest first
  std::vector<MapCluster> clusters;
};
std::string EmbeddingMapJson(const EmbeddingMap& m);

std::string SearchResultJson(const SearchResult& r);
std::string FactJson(const Fact& f);

class MemoryService {
 public:
  struct Options {
    size_t embedding_cache_entries = 10000;
    size_t search_cache_entries = 2000;
    int64_t search_cache_ttl_ms = 60000;
    int ef_search = 96;
    // HNSW graph: 16/100 gave recall@10 0.93 on 100k sessions of (repetitive) customer
    // conversations, 32/200 gives 0.97 for twice the build time (docs/benchmarks.md).
    int hnsw_m = 32;
    int hnsw_ef_construction = 200;
    int graph_hop_limit = 50;  // nodes expanded per hop
  };
  // `embedder` is the document/query embedder; `reranker` (optional) replaces the local scorer.
  MemoryService(core::Database& db, const core::Clock& clock, core::Logger logger,
                crm::MessagingService& crm, llm::Embedder& embedder, llm::Reranker* reranker,
                core::MetricsRegistry* metrics, Options options);
  MemoryService(core::Database& db, const core::Clock& clock, core::Logger logger,
                crm::MessagingService& crm, llm::Embedder& embedder)
      : MemoryService(db, clock, std::move(logger), crm, embedder, nullptr, nullptr, Options{}) {}
  ~MemoryService();
  MemoryService(const MemoryService&) = delete;
  MemoryService& operator=(const MemoryService&) = delete;

  // With a language model (llm.provider other than offline): session summaries and facts are
  // written by it on session.ended, by the "memory.writer" consumer (HandleEndedSessionWithModel).
  // Without one, the extractive summary and the rule-based facts of the indexer stand alone.
  void SetChatModel(llm::ChatModel* model);
  // Memory updates (a session's document rebuilt and embedded) become traces: a CHAIN span
  // "memory.update" with an EMBEDDING child. Null (the default): none. Set before use.
  void SetTracer(const core::Tracer* tracer);
  bool HasChatModel() const;
  Status HandleEndedSessionWithModel(const core::Event& event);

  // Indexer: the event types it consumes, and the handlers (idempotent).
  static const std::vector<std::string>& ConsumedEventTypes();
  Status HandleEvents(std::span<const core::Event> events);
  Status HandleEvent(const core::Event& event) { return HandleEvents({&event, 1}); }

  // Loads every stored embedding into the vector index (start-up; logs progress); `stop` ends it
  // early (shutdown). CatchUpVectors then loads what other instances indexed since.
  // `tenant`: only that tenant's (a one-off search from the CLI).
  Status LoadVectors(const std::atomic<bool>* stop = nullptr,
                     std::optional<crm::TenantId> tenant = std::nullopt);
  Status CatchUpVectors();

  // Re-derives every document (summary, terms, embedding) from the stored messages. `progress`
  // is called with (done, total).
  Status Reindex(std::optional<crm::TenantId> tenant,
                 const std::function<void(int64_t, int64_t)>& progress = {});

  Result<SearchResult> Search(const SearchRequest& request);

  // What the memory knows about a contact: stats, active facts, the latest session summaries.
  struct SessionSummary {
    std::string session_id, status, header, summary;
    int64_t started_at = 0;
    std::optional<int64_t> ended_at;
    int64_t message_count = 0;
    std::optional<double> sentiment;
  };
  struct ContactSummary {
    ContactStats stats;
    std::vector<Fact> facts;
    std::vector<SessionSummary> sessions;  // newest first
  };
  Result<ContactSummary> Summary(const crm::TenantId& tenant, const crm::ContactId& contact,
                                 int sessions = 5);

  // Replays customers' messages (since `since`, epoch ms) through the fact writer, in the order
  // they were stored; sources already learned from are skipped. Returns how many facts were
  // learned, strengthened or withdrawn.
  Result<int64_t> Rebuild(std::optional<crm::TenantId> tenant, std::optional<int64_t> since,
                          const std::function<void(int64_t, int64_t)>& progress = {});

  // Facts.
  Result<std::vector<Fact>> ListFacts(const crm::TenantId& tenant, const crm::ContactId& contact,
                                      std::optional<int64_t> as_of, bool include_history);
  Result<Fact> AddFact(const crm::TenantId& tenant, const crm::ContactId& contact,
                       const FactInput& input);

  // Bulk loading for benchmarks and imports: stores messages and documents directly (no events).
  struct BulkMessage {
    std::string id, session_id, contact_id, source, body;
    bool from_me = false;
    int64_t message_at = 0;
  };
  struct BulkSession {
    std::string id, contact_id, channel_id, agent_category, outcome, contact_name, campaign;
    int64_t started_at = 0, ended_at = 0;
    std::vector<BulkMessage> messages;
  };
  Status BulkLoad(const crm::TenantId& tenant, std::span<const BulkSession> sessions);

  // The newest `max_points` (1..10000) sessions with an embedding of the current embedder,
  // projected to 2-D and clustered (`clusters` 0 = about sqrt(n/2), at most 8; 1..50 given).
  // Deterministic for the same data.
  Result<EmbeddingMap> Map(const crm::TenantId& tenant, int max_points = 2000, int clusters = 0);

  llm::Embedder& embedder() { return embedder_; }
  size_t VectorCount(const crm::TenantId& tenant) const;

 private:
  struct Impl;
  llm::Embedder& embedder_;
  std::unique_ptr<Impl> impl_;
};

std::string ContactSummaryJson(const MemoryService::ContactSummary& s);

void RegisterMemoryRoutes(core::Router& router, MemoryService& service);

}  // namespace ventros::memory
