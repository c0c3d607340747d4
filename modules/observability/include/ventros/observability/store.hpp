#pragma once
// The span store: the sink the Tracer hands ended spans to, the tables they land in (0011:
// `spans`, `usage_daily`), the queries behind the dashboard, and their REST edges.
//
// Writing. Export() never blocks on I/O: it decides sampling, adds an LLM span's usage to an
// in-memory aggregate and pushes the span into a bounded queue (full: the span is dropped and
// counted). A writer thread (Start/Stop) writes the queue in batches, one transaction each,
// together with the usage aggregated since the last write. Sampling is decided per trace from its
// trace id (the low 64 bits against sample_ratio), so a trace is kept whole or not at all; usage
// is counted for every LLM span, sampled or not, and never dropped with a full queue. A batch
// that fails to write is dropped and counted; its usage is kept for the next write. Spans exported
// after Stop() wait in the queue for Flush() or the next Start(). Text is stored as valid UTF-8
// without NUL bytes (PostgreSQL takes neither), attribute texts cut to max_attribute_bytes.
//
// Metrics (when a registry is given): ventros_trace_spans_total{kind} (every span exported,
// sampled or not), ventros_trace_spans_dropped_total, ventros_trace_write_errors_total.
//
// Attributes read (OpenInference names, docs/ai.md "Observability", plus ours):
//   session.id                           -> spans.session_id (filter)
//   agent.name, else agent.category      -> spans.agent, usage_daily.agent (on the LLM span)
//   llm.model_name                       -> usage_daily.model
//   llm.token_count.prompt|completion|total
//   llm.token_count.cached               cached prompt tokens (also read from OpenInference's
//                                        llm.token_count.prompt_details.cache_read)
//   llm.cost_usd                         cost of the call in US dollars
//   guardrail.groundedness (double 0..1), guardrail.replaced (bool), guardrail.unsupported
//                                        (text: the unsupported claims) on GUARDRAIL spans
//   retrieval.average_similarity         on RETRIEVER spans
//   retrieval.rerank_gain                on RETRIEVER or RERANKER spans
//   output.value                         the reply (root, else the GUARDRAIL span)
// Usage rows are per (tenant, UTC day of the span's start, agent, model); a span without an
// agent or a model counts under "". The agent must be on the LLM span itself: its parents end
// (and are exported) after it.
//
// REST (readonly role; the tenant comes from the API key; unknown query parameters are 400s;
// `since` is RFC 3339 or epoch milliseconds; times in responses are RFC 3339 UTC):
//   GET /v1/traces?session_id=&agent=&since=&limit=   (limit 1..500, default 50; newest first)
//     {"items":[{"trace_id","span_id","name","kind","start","duration_ms","status",
//                "session_id","agent","spans","prompt_tokens","completion_tokens",
//                "total_tokens","cost_usd","groundedness"(number|null)}]}
//     One item per trace (its earliest root); session_id and agent filter on any span of it.
//   GET /v1/traces/{id}   (404 for an unknown id or another tenant's)
//     {"trace_id","start","duration_ms","spans","roots":[node]} where node is
//     {"span_id","parent_span_id","name","kind","start","start_us","end_us","duration_ms",
//      "status","status_message","attributes":{...},"children":[node]} (children by start;
//     a span whose parent was not stored shows as a root).
//   GET /v1/usage?group_by=agent|day&since=   (default day; since: from that UTC day on)
//     {"group_by","items":[{"key","calls","prompt_tokens","completion_tokens","cached_tokens",
//                           "total_tokens","cost_usd"}]}   (day: ascending; agent: by cost)
//   GET /v1/evaluations/flagged?limit=   (1..500, default 50; newest first)
//     {"items":[{"trace_id","span_id","session_id","agent","score"(number|null),"replaced",
//                "reply","unsupported","at"}]}
//   GET /v1/retrieval/quality?since=
//     {"searches","average_similarity"(number|null),"reranked","average_rerank_gain"(|null)}
//
// Thread-safety: SpanStore is thread-safe; Export may be called from any thread. It must outlive
// the Tracer that uses it; the database, clock and metrics registry must outlive it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"
#include "ventros/core/trace.hpp"

namespace ventros::observability {

using core::Result;
using core::Status;

struct TraceFilter {
  std::optional<std::string> session_id;
  std::optional<std::string> agent;
  std::optional<int64_t> since_ms;  // roots started at or after
  int limit = 50;
};

// One trace as listed: its earliest root and totals over all its spans.
struct TraceSummary {
  std::string trace_id;
  std::string span_id;  // of the root
  std::string name;
  std::string kind;  // "AGENT", ...
  int64_t start_us = 0;
  double duration_ms = 0;
  bool error = false;
  std::string session_id;  // the root's, else any span's
  std::string agent;       // likewise
  int64_t spans = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;  // LLM spans
  double cost_usd = 0;
  std::optional<double> groundedness;  // the lowest of its GUARDRAIL spans
};

struct StoredSpan {
  std::string trace_id, span_id, parent_span_id, name, kind;
  int64_t start_us = 0, end_us = 0;
  bool error = false;
  std::string status_message;
  std::string attributes;  // JSON object text
};

// A span and its children, by start time.
struct SpanNode {
  StoredSpan span;
  std::vector<SpanNode> children;
};

struct TraceTree {
  std::string trace_id;
  int64_t start_us = 0, end_us = 0;  // over all spans
  int64_t spans = 0;
  std::vector<SpanNode> roots;
};

enum class UsageGroup { kAgent, kDay };

struct UsageRow {
  std::string key;  // agent name or "YYYY-MM-DD"
  int64_t calls = 0, prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0, total_tokens = 0;
  double cost_usd = 0;
};

struct FlaggedReply {
  std::string trace_id, span_id, session_id, agent;
  std::optional<double> score;
  bool replaced = false;
  std::string reply, unsupported;
  int64_t at_ms = 0;
};

struct RetrievalSummary {
  int64_t searches = 0;  // RETRIEVER spans
  std::optional<double> average_similarity;
  int64_t reranked = 0;  // spans with retrieval.rerank_gain
  std::optional<double> average_rerank_gain;
};

class SpanStore : public core::SpanSink {
 public:
  struct Options {
    double sample_ratio = 1.0;  // share of traces kept, decided per trace id
    int64_t retention_days = 14;
    int64_t usage_retention_days = 400;  // daily usage rows (cost reports over a year)
    size_t queue_capacity = 10000;
    int batch = 256;
    std::chrono::milliseconds flush_interval{200};
    // Longer attribute texts (prompts, documents) are cut to this many bytes.
    size_t max_attribute_bytes = 32 * 1024;
  };

  // `metrics` and `logger` may be null.
  SpanStore(core::Database& db, const core::Clock& clock, Options options,
            core::MetricsRegistry* metrics = nullptr, core::Logger logger = nullptr);
  ~SpanStore() override;  // Stop()
  SpanStore(const SpanStore&) = delete;
  SpanStore& operator=(const SpanStore&) = delete;

  void Export(core::SpanData span) override;

  // The writer thread. Stop() writes what is queued before it returns; both are idempotent.
  void Start();
  void Stop();
  // Writes everything queued now and the pending usage, on the calling thread.
  Status Flush();
  // Deletes spans that started more than retention_days ago; returns how many.
  Result<int64_t> Sweep();

  bool Sampled(const std::string& trace_id) const;
  int64_t dropped() const;
  size_t queued() const;

  Result<std::vector<TraceSummary>> ListTraces(const std::string& tenant_id,
                                               const TraceFilter& filter);
  Result<TraceTree> GetTrace(const std::string& tenant_id, const std::string& trace_id);
  // since_ms: from the UTC day containing it.
  Result<std::vector<UsageRow>> Usage(const std::string& tenant_id, UsageGroup group,
                                      std::optional<int64_t> since_ms);
  // Replies whose GUARDRAIL span found them ungrounded (groundedness < 1) or replaced them.
  Result<std::vector<FlaggedReply>> Flagged(const std::string& tenant_id, int limit);
  Result<RetrievalSummary> RetrievalQuality(const std::string& tenant_id,
                                            std::optional<int64_t> since_ms);

 private:
  using UsageKey =
      std::tuple<std::string, int64_t, std::string, std::string>;  // tenant, day, agent, model
  struct UsageDelta {
    int64_t calls = 0, prompt = 0, completion = 0, cached = 0, total = 0;
    double cost = 0;
  };

  void Run();
  // Takes up to `batch` spans and the pending usage and writes them (caller holds write_mu_).
  Status WriteSome(bool* more);
  Status WriteBatch(const std::vector<core::SpanData>& spans,
                    const std::map<UsageKey, UsageDelta>& usage);

  core::Database& db_;
  const core::Clock& clock_;
  const Options options_;
  core::Logger logger_;
  core::Counter* dropped_counter_ = nullptr;
  core::Counter* write_errors_ = nullptr;
  std::vector<core::Counter*> kind_counters_;  // by SpanKind

  mutable std::mutex mu_;  // queue_, usage_, dropped_, stop_
  std::condition_variable cv_;
  std::deque<core::SpanData> queue_;  // sampled in, converted to rows by the writer
  std::map<UsageKey, UsageDelta> usage_;
  int64_t dropped_ = 0;
  bool stop_ = false;

  std::mutex write_mu_;  // one writer at a time, so Flush() sees a batch in flight finished
  std::mutex thread_mu_;
  std::thread thread_;
};

void RegisterObservabilityRoutes(core::Router& router, SpanStore& store);

}  // namespace ventros::observability
