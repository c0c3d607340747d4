// The span store: a bounded queue in front of batched writes, usage aggregated in memory between
// writes, and the dashboard's queries. Spans are converted to rows (sanitized text, attributes as
// JSON, derived columns) on the writer, so Export() costs the caller a lookup or two and a move.

#include "ventros/observability/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <functional>
#include <unordered_map>

#include "ventros/core/thread.hpp"

namespace ventros::observability {

namespace json = boost::json;
using core::AttributeValue;
using core::DbValue;
using core::SpanData;
using core::SpanKind;

namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr int64_t kMillisPerDay = 86'400'000;
constexpr SpanKind kAllKinds[] = {SpanKind::kChain,     SpanKind::kAgent,     SpanKind::kLlm,
                                  SpanKind::kRetriever, SpanKind::kReranker,  SpanKind::kEmbedding,
                                  SpanKind::kTool,      SpanKind::kGuardrail, SpanKind::kEvaluator};

using Attributes = std::vector<std::pair<std::string, AttributeValue>>;

// The last value set for `key` (a key set twice keeps its last value, as in the JSON).
const AttributeValue* Find(const Attributes& attrs, std::string_view key) {
  for (auto it = attrs.rbegin(); it != attrs.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

std::optional<double> Number(const Attributes& attrs, std::string_view key) {
  const AttributeValue* v = Find(attrs, key);
  if (!v) return std::nullopt;
  double out = 0;
  if (auto* i = std::get_if<int64_t>(v)) {
    out = static_cast<double>(*i);
  } else if (auto* d = std::get_if<double>(v)) {
    out = *d;
  } else if (auto* s = std::get_if<std::string>(v)) {
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
    if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(out)) return std::nullopt;
  return out;
}

int64_t Count(const Attributes& attrs, std::string_view key) {
  auto n = Number(attrs, key);
  return n && *n > 0 ? static_cast<int64_t>(std::llround(*n)) : 0;
}

std::string Text(const Attributes& attrs, std::string_view key) {
  const AttributeValue* v = Find(attrs, key);
  if (!v) return {};
  if (auto* s = std::get_if<std::string>(v)) return *s;
  if (auto* i = std::get_if<int64_t>(v)) return std::to_string(*i);
  return {};
}

bool Flag(const Attributes& attrs, std::string_view key) {
  const AttributeValue* v = Find(attrs, key);
  if (!v) return false;
  if (auto* b = std::get_if<bool>(v)) return *b;
  if (auto* i = std::get_if<int64_t>(v)) return *i != 0;
  if (auto* s = std::get_if<std::string>(v)) return *s == "true";
  return false;
}

std::string AgentOf(const Attributes& attrs) {
  std::string agent = Text(attrs, "agent.name");
  return agent.empty() ? Text(attrs, "agent.category") : agent;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string DayText(int64_t day) {
  return core::FormatTimestamp(day * kMillisPerDay).substr(0, 10);
}

// Valid UTF-8 (invalid bytes become U+FFFD) without NUL (neither engine's text takes it well, and
// PostgreSQL rejects both), cut to at most `max_bytes` plus an ellipsis.
std::string Clean(std::string_view in, size_t max_bytes) {
  bool plain = in.size() <= max_bytes;
  for (size_t i = 0; plain && i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    plain = c != 0 && c < 0x80;
  }
  if (plain) return std::string(in);
  std::string out;
  out.reserve(std::min(in.size(), max_bytes) + 3);
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool valid = len > 0 && i + len <= in.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      valid = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (valid) {
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= kMin[len] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    std::string_view piece = valid ? in.substr(i, len) : std::string_view("\xEF\xBF\xBD");
    i += valid ? len : 1;
    if (valid && cp == 0) continue;
    if (out.size() + piece.size() > max_bytes) {
      out += "\xE2\x80\xA6";  // …
      break;
    }
    out += piece;
  }
  return out;
}

// A span as written: sanitized text, attributes as a JSON object, the derived columns.
struct Row {
  std::string tenant_id, trace_id, span_id, parent_span_id, name, kind, status_message;
  int64_t start_us = 0, end_us = 0;
  bool error = false;
  std::string attributes, session_id, agent;
  int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
  double cost_usd = 0;
  std::optional<double> groundedness, similarity, rerank_gain;
  bool flagged = false;
};

constexpr size_t kMaxIdBytes = 256;

Row ToRow(const SpanData& s, size_t max_attribute_bytes) {
  Row r;
  r.tenant_id = Clean(s.tenant_id, kMaxIdBytes);
  r.trace_id = Clean(s.trace_id, kMaxIdBytes);
  r.span_id = Clean(s.span_id, kMaxIdBytes);
  r.parent_span_id = Clean(s.parent_span_id, kMaxIdBytes);
  r.name = Clean(s.name, kMaxIdBytes);
  r.kind = std::string(core::SpanKindName(s.kind));
  r.status_message = Clean(s.status_message, max_attribute_bytes);
  r.start_us = s.start_us;
  r.end_us = std::max(s.end_us, s.start_us);
  r.error = s.error;
  json::object attrs;
  for (const auto& [key, value] : s.attributes) {
    json::value v;
    if (auto* str = std::get_if<std::string>(&value)) {
      v = json::string(Clean(*str, max_attribute_bytes));
    } else if (auto* i = std::get_if<int64_t>(&value)) {
      v = *i;
    } else if (auto* d = std::get_if<double>(&value)) {
      if (std::isfinite(*d)) v = *d;  // JSON has no NaN or infinity: null
    } else if (auto* b = std::get_if<bool>(&value)) {
      v = *b;
    }
    attrs[Clean(key, kMaxIdBytes)] = std::move(v);
  }
  r.attributes = json::serialize(attrs);
  r.session_id = Clean(Text(s.attributes, "session.id"), kMaxIdBytes);
  r.agent = Clean(AgentOf(s.attributes), kMaxIdBytes);
  switch (s.kind) {
    case SpanKind::kLlm: {
      r.prompt_tokens = Count(s.attributes, "llm.token_count.prompt");
      r.completion_tokens = Count(s.attributes, "llm.token_count.completion");
      r.total_tokens = Find(s.attributes, "llm.token_count.total")
                           ? Count(s.attributes, "llm.token_count.total")
                           : r.prompt_tokens + r.completion_tokens;
      r.cost_usd = std::max(0.0, Number(s.attributes, "llm.cost_usd").value_or(0));
      break;
    }
    case SpanKind::kGuardrail: {
      r.groundedness = Number(s.attributes, "guardrail.groundedness");
      r.flagged =
          (r.groundedness && *r.groundedness < 1) || Flag(s.attributes, "guardrail.replaced");
      break;
    }
    case SpanKind::kRetriever:
      r.similarity = Number(s.attributes, "retrieval.average_similarity");
      r.rerank_gain = Number(s.attributes, "retrieval.rerank_gain");
      break;
    case SpanKind::kReranker:
      r.rerank_gain = Number(s.attributes, "retrieval.rerank_gain");
      break;
    default:
      break;
  }
  return r;
}

DbValue Opt(const std::optional<double>& v) { return v ? DbValue(*v) : DbValue(nullptr); }

json::object ParseObject(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return !ec && v.is_object() ? std::move(v.as_object()) : json::object();
}

std::string JsonText(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<double> OptDouble(const core::DbRow& row, size_t i) {
  if (row.IsNull(i)) return std::nullopt;
  return row.GetDouble(i);
}

}  // namespace

SpanStore::SpanStore(core::Database& db, const core::Clock& clock, Options options,
                     core::MetricsRegistry* metrics, core::Logger logger)
    : db_(db), clock_(clock), options_(std::move(options)), logger_(std::move(logger)) {
  if (metrics) {
    dropped_counter_ =
        &metrics->GetCounter("ventros_trace_spans_dropped_total",
                             "Spans not stored: the queue was full or their batch failed to write");
    write_errors_ = &metrics->GetCounter("ventros_trace_write_errors_total",
                                         "Span batches that failed to write");
    for (SpanKind kind : kAllKinds) {
      kind_counters_.push_back(&metrics->GetCounter("ventros_trace_spans_total",
                                                    "Spans ended, by OpenInference kind",
                                                    {{"kind", std::string(SpanKindName(kind))}}));
    }
  }
}

SpanStore::~SpanStore() { Stop(); }

bool SpanStore::Sampled(const std::string& trace_id) const {
  constexpr double kTwoTo64 = 18446744073709551616.0;
  const double bound = options_.sample_ratio * kTwoTo64;
  if (!(bound > 0)) return false;  // 0, negative or NaN: nothing
  if (bound >= kTwoTo64) return true;
  // The low 64 bits of the trace id (random), as OpenTelemetry's TraceIdRatioBased sampler.
  uint64_t value = 0;
  std::string_view low = trace_id;
  if (low.size() > 16) low.remove_prefix(low.size() - 16);
  auto [end, ec] = std::from_chars(low.data(), low.data() + low.size(), value, 16);
  if (ec != std::errc() || end != low.data() + low.size()) {
    value = std::hash<std::string>()(trace_id);  // not hex: still the same for the whole trace
  }
  return value < static_cast<uint64_t>(bound);
}

void SpanStore::Export(SpanData span) {
  const auto kind_index = static_cast<size_t>(span.kind);
  if (kind_index < kind_counters_.size()) kind_counters_[kind_index]->Inc();
  const bool sampled = Sampled(span.trace_id);
  std::lock_guard lock(mu_);
  if (span.kind == SpanKind::kLlm) {
    UsageDelta& u =
        usage_[UsageKey{span.tenant_id, FloorDiv(span.start_us, kMicrosPerDay),
                        AgentOf(span.attributes), Text(span.attributes, "llm.model_name")}];
    const int64_t prompt = Count(span.attributes, "llm.token_count.prompt");
    const int64_t completion = Count(span.attributes, "llm.token_count.completion");
    u.calls += 1;
    u.prompt += prompt;
    u.completion += completion;
    u.cached += Find(span.attributes, "llm.token_count.cached")
                    ? Count(span.attributes, "llm.token_count.cached")
                    : Count(span.attributes, "llm.token_count.prompt_details.cache_read");
    u.total += Find(span.attributes, "llm.token_count.total")
                   ? Count(span.attributes, "llm.token_count.total")
                   : prompt + completion;
    u.cost += std::max(0.0, Number(span.attributes, "llm.cost_usd").value_or(0));
  }
  if (!sampled) return;
  if (queue_.size() >= options_.queue_capacity) {
    ++dropped_;
    if (dropped_counter_) dropped_counter_->Inc();
    return;
  }
  queue_.push_back(std::move(span));
  if (queue_.size() >= static_cast<size_t>(std::max(1, options_.batch))) cv_.notify_one();
}

void SpanStore::Start() {
  std::lock_guard thread_lock(thread_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void SpanStore::Stop() {
  std::lock_guard thread_lock(thread_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SpanStore::Run() {
  core::SetBackgroundWriter(true);  // SQLite: requests being served write first
  // Writing spans may lag; the turns they describe may not: this thread takes the CPU last
  // (Linux: a thread's own nice value).
  core::NameThisThread("span-writer");
  if (!core::NiceThisThread(19) && logger_) {
    logger_->debug("span store: cannot lower the writer thread's priority");
  }
  const size_t batch = static_cast<size_t>(std::max(1, options_.batch));
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.flush_interval, [&] { return stop_ || queue_.size() >= batch; });
      stopping = stop_;
    }
    // Failures are counted and logged in WriteSome; the spans of a failed batch are gone.
    (void)Flush();
    if (stopping) return;
  }
}

Status SpanStore::Flush() {
  std::lock_guard write_lock(write_mu_);
  Status first = Status::Ok();
  bool more = true;
  while (more) {
    Status st = WriteSome(&more);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

Status SpanStore::WriteSome(bool* more) {
  std::vector<SpanData> spans;
  std::map<UsageKey, UsageDelta> usage;
  {
    std::lock_guard lock(mu_);
    const size_t n = std::min(queue_.size(), static_cast<size_t>(std::max(1, options_.batch)));
    spans.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      spans.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    usage.swap(usage_);
    *more = !queue_.empty();
  }
  if (spans.empty() && usage.empty()) return Status::Ok();
  Status st = WriteBatch(spans, usage);
  if (st.ok()) return st;
  if (write_errors_) write_errors_->Inc();
  if (dropped_counter_) dropped_counter_->Inc(static_cast<double>(spans.size()));
  {
    // Usage is kept for the next write: cost must not vanish with a database hiccup.
    std::lock_guard lock(mu_);
    dropped_ += static_cast<int64_t>(spans.size());
    for (const auto& [key, d] : usage) {
      UsageDelta& u = usage_[key];
      u.calls += d.calls;
      u.prompt += d.prompt;
      u.completion += d.completion;
      u.cached += d.cached;
      u.total += d.total;
      u.cost += d.cost;
    }
  }
  if (logger_) {
    logger_->warn("observability: dropped {} spans, usage kept for the next write: {}",
                  spans.size(), st.ToString());
  }
  // Do not spin on a database that is down: what is left waits for the next round.
  *more = false;
  return st;
}

Status SpanStore::WriteBatch(const std::vector<SpanData>& spans,
                             const std::map<UsageKey, UsageDelta>& usage) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  for (const SpanData& span : spans) {
    const Row r = ToRow(span, options_.max_attribute_bytes);
    std::vector<DbValue> params{DbValue(r.tenant_id),
                                DbValue(r.trace_id),
                                DbValue(r.span_id),
                                DbValue(r.parent_span_id),
                                DbValue(r.name),
                                DbValue(r.kind),
                                DbValue(r.start_us),
                                DbValue(r.end_us),
                                DbValue(std::string(r.error ? "error" : "ok")),
                                DbValue(r.status_message),
                                DbValue(r.attributes),
                                DbValue(r.session_id),
                                DbValue(r.agent),
                                DbValue(r.prompt_tokens),
                                DbValue(r.completion_tokens),
                                DbValue(r.total_tokens),
                                DbValue(r.cost_usd),
                                Opt(r.groundedness),
                                DbValue(int64_t{r.flagged ? 1 : 0}),
                                Opt(r.similarity),
                                Opt(r.rerank_gain)};
    // A span exported twice (a retried OTLP ingest) is stored once.
    VENTROS_ASSIGN_OR_RETURN(
        auto ins,
        conn->Query("INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, "
                    "start_us, end_us, status, status_message, attributes, session_id, agent, "
                    "prompt_tokens, completion_tokens, total_tokens, cost_usd, groundedness, "
                    "flagged, similarity, rerank_gain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                    "$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) "
                    "ON CONFLICT (trace_id, span_id) DO NOTHING",
                    params));
    (void)ins;
  }
  for (const auto& [key, u] : usage) {
    const auto& [tenant, day, agent, model] = key;
    std::vector<DbValue> params{DbValue(tenant),
                                DbValue(DayText(day)),
                                DbValue(Clean(agent, kMaxIdBytes)),
                                DbValue(Clean(model, kMaxIdBytes)),
                                DbValue(u.calls),
                                DbValue(u.prompt),
                                DbValue(u.completion),
                                DbValue(u.cached),
                                DbValue(u.total),
                                DbValue(u.cost)};
    VENTROS_ASSIGN_OR_RETURN(
        auto up,
        conn->Query("INSERT INTO usage_daily (tenant_id, day, agent, model, calls, prompt_tokens, "
                    "completion_tokens, cached_tokens, total_tokens, cost_usd) VALUES ($1, $2, "
                    "$3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant_id, day, agent, model) "
                    "DO UPDATE SET calls = usage_daily.calls + excluded.calls, "
                    "prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, "
                    "completion_tokens = usage_daily.completion_tokens + "
                    "excluded.completion_tokens, "
                    "cached_tokens = usage_daily.cached_tokens + excluded.cached_tokens, "
                    "total_tokens = usage_daily.total_tokens + excluded.total_tokens, "
                    "cost_usd = usage_daily.cost_usd + excluded.cost_usd",
                    params));
    (void)up;
  }
  return tx.Commit();
}

Result<int64_t> SpanStore::Sweep() {
  const int64_t cutoff_us =
      (clock_.NowMillis() - options_.retention_days * kMillisPerDay) * int64_t{1000};
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto del, conn->Query("DELETE FROM spans WHERE start_us < $1", {DbValue(cutoff_us)}));
  // Daily usage is kept longer ("YYYY-MM-DD" strings compare as dates).
  const std::string usage_cutoff =
      core::FormatTimestamp(clock_.NowMillis() - options_.usage_retention_days * kMillisPerDay)
          .substr(0, 10);
  VENTROS_ASSIGN_OR_RETURN(auto old_usage, conn->Query("DELETE FROM usage_daily WHERE day < $1",
                                                       {DbValue(usage_cutoff)}));
  (void)old_usage;
  return del.affected_rows;
}

int64_t SpanStore::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

size_t SpanStore::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

// ---------------------------------------------------------------- queries

Result<std::vector<TraceSummary>> SpanStore::ListTraces(const std::string& tenant_id,
                                                        const TraceFilter& filter) {
  std::vector<DbValue> params{DbValue(tenant_id)};
  std::string where;
  if (filter.since_ms) {
    params.emplace_back(*filter.since_ms * 1000);
    where += fmt::format(" AND r.start_us >= ${}", params.size());
  }
  // A trace matches when any of its spans has the session or agent (the root may not know yet).
  if (filter.session_id) {
    params.emplace_back(*filter.session_id);
    where += fmt::format(
        " AND r.trace_id IN (SELECT trace_id FROM spans WHERE tenant_id = $1 AND session_id = ${})",
        params.size());
  }
  if (filter.agent) {
    params.emplace_back(*filter.agent);
    where += fmt::format(
        " AND r.trace_id IN (SELECT trace_id FROM spans WHERE tenant_id = $1 AND agent = ${})",
        params.size());
  }
  params.emplace_back(int64_t{std::clamp(filter.limit, 1, 10000)});
  const std::string sql = fmt::format(
      "SELECT r.trace_id, r.span_id, r.name, r.kind, r.start_us, r.end_us, r.status, "
      "r.session_id, r.agent, COUNT(*), SUM(s.prompt_tokens), SUM(s.completion_tokens), "
      "SUM(s.total_tokens), SUM(s.cost_usd), MIN(s.groundedness), MAX(s.session_id), "
      "MAX(s.agent) FROM (SELECT r.tenant_id, r.trace_id, r.span_id, r.name, r.kind, r.start_us, "
      "r.end_us, r.status, r.session_id, r.agent FROM spans r WHERE r.tenant_id = $1 AND "
      "r.parent_span_id = ''{} AND NOT EXISTS (SELECT 1 FROM spans o WHERE o.trace_id = "
      "r.trace_id AND o.parent_span_id = '' AND (o.start_us < r.start_us OR (o.start_us = "
      "r.start_us AND o.span_id < r.span_id))) ORDER BY r.start_us DESC, r.trace_id DESC LIMIT "
      "${}) r JOIN spans s ON s.trace_id = r.trace_id AND s.tenant_id = r.tenant_id GROUP BY "
      "r.trace_id, r.span_id, r.name, r.kind, r.start_us, r.end_us, r.status, r.session_id, "
      "r.agent ORDER BY r.start_us DESC, r.trace_id DESC",
      where, params.size());
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  std::vector<TraceSummary> out;
  out.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    TraceSummary t;
    t.trace_id = row.GetText(0);
    t.span_id = row.GetText(1);
    t.name = row.GetText(2);
    t.kind = row.GetText(3);
    t.start_us = row.GetInt(4);
    t.duration_ms = static_cast<double>(row.GetInt(5) - t.start_us) / 1000.0;
    t.error = row.GetText(6) == "error";
    t.session_id = row.GetText(7);
    t.agent = row.GetText(8);
    t.spans = row.GetInt(9);
    t.prompt_tokens = row.GetInt(10);
    t.completion_tokens = row.GetInt(11);
    t.total_tokens = row.GetInt(12);
    t.cost_usd = row.GetDouble(13);
    t.groundedness = OptDouble(row, 14);
    if (t.session_id.empty()) t.session_id = row.GetText(15);
    if (t.agent.empty()) t.agent = row.GetText(16);
    out.push_back(std::move(t));
  }
  return out;
}

Result<TraceTree> SpanStore::GetTrace(const std::string& tenant_id, const std::string& trace_id) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query("SELECT span_id, parent_span_id, name, kind, start_us, end_us, status, "
                  "status_message, attributes FROM spans WHERE tenant_id = $1 AND "
                  "trace_id = $2 ORDER BY start_us, span_id",
                  {DbValue(tenant_id), DbValue(trace_id)}));
  if (rows.rows.empty()) return Status::NotFound(fmt::format("trace {} not found", trace_id));
  std::vector<StoredSpan> spans;
  spans.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    StoredSpan s;
    s.trace_id = trace_id;
    s.span_id = row.GetText(0);
    s.parent_span_id = row.GetText(1);
    s.name = row.GetText(2);
    s.kind = row.GetText(3);
    s.start_us = row.GetInt(4);
    s.end_us = row.GetInt(5);
    s.error = row.GetText(6) == "error";
    s.status_message = row.GetText(7);
    s.attributes = row.GetText(8);
    spans.push_back(std::move(s));
  }
  TraceTree tree;
  tree.trace_id = trace_id;
  tree.spans = static_cast<int64_t>(spans.size());
  tree.start_us = spans.front().start_us;
  tree.end_us = spans.front().end_us;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < spans.size(); ++i) {
    index.emplace(spans[i].span_id, i);
    tree.end_us = std::max(tree.end_us, spans[i].end_us);
  }
  // Children by parent, in start order (the rows come sorted).
  std::vector<std::vector<size_t>> children(spans.size());
  std::vector<size_t> roots;
  for (size_t i = 0; i < spans.size(); ++i) {
    auto it = index.find(spans[i].parent_span_id);
    if (it == index.end() || it->second == i) {
      roots.push_back(i);
    } else {
      children[it->second].push_back(i);
    }
  }
  std::vector<bool> placed(spans.size(), false);
  std::function<SpanNode(size_t)> build = [&](size_t i) {
    placed[i] = true;
    SpanNode node{std::move(spans[i]), {}};
    for (size_t c : children[i]) {
      if (!placed[c]) node.children.push_back(build(c));
    }
    return node;
  };
  for (size_t r : roots) tree.roots.push_back(build(r));
  // Spans in a parent cycle (bad input) are reachable from no root: show them as roots.
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!placed[i]) tree.roots.push_back(build(i));
  }
  return tree;
}

Result<std::vector<UsageRow>> SpanStore::Usage(const std::string& tenant_id, UsageGroup group,
                                               std::optional<int64_t> since_ms) {
  std::vector<DbValue> params{DbValue(tenant_id)};
  std::string where;
  if (since_ms) {
    params.emplace_back(DayText(FloorDiv(*since_ms, kMillisPerDay)));
    where = " AND day >= $2";
  }
  const char* key = group == UsageGroup::kAgent ? "agent" : "day";
  const char* order =
      group == UsageGroup::kAgent ? "SUM(cost_usd) DESC, SUM(total_tokens) DESC, agent" : "day";
  const std::string sql = fmt::format(
      "SELECT {0}, SUM(calls), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), "
      "SUM(total_tokens), SUM(cost_usd) FROM usage_daily WHERE tenant_id = $1{1} GROUP BY {0} "
      "ORDER BY {2}",
      key, where, order);
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  std::vector<UsageRow> out;
  out.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    UsageRow u;
    u.key = row.GetText(0);
    u.calls = row.GetInt(1);
    u.prompt_tokens = row.GetInt(2);
    u.completion_tokens = row.GetInt(3);
    u.cached_tokens = row.GetInt(4);
    u.total_tokens = row.GetInt(5);
    u.cost_usd = row.GetDouble(6);
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<FlaggedReply>> SpanStore::Flagged(const std::string& tenant_id, int limit) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query("SELECT g.trace_id, g.span_id, g.session_id, g.agent, g.groundedness, "
                  "g.attributes, g.start_us, (SELECT r.attributes FROM spans r WHERE r.trace_id = "
                  "g.trace_id AND r.tenant_id = g.tenant_id AND r.parent_span_id = '' ORDER BY "
                  "r.start_us, r.span_id LIMIT 1) FROM spans g WHERE g.tenant_id = $1 AND "
                  "g.kind = 'GUARDRAIL' AND g.flagged = 1 ORDER BY g.start_us DESC, g.span_id "
                  "LIMIT $2",
                  {DbValue(tenant_id), DbValue(int64_t{std::clamp(limit, 1, 10000)})}));
  std::vector<FlaggedReply> out;
  out.reserve(rows.rows.size());
  for (const auto& row : rows.rows) {
    FlaggedReply f;
    f.trace_id = row.GetText(0);
    f.span_id = row.GetText(1);
    f.session_id = row.GetText(2);
    f.agent = row.GetText(3);
    f.score = OptDouble(row, 4);
    const json::object guardrail = ParseObject(row.GetText(5));
    const json::object root = ParseObject(row.GetText(7));
    f.at_ms = FloorDiv(row.GetInt(6), 1000);
    if (auto* r = guardrail.if_contains("guardrail.replaced")) {
      f.replaced = r->is_bool() ? r->as_bool() : (r->is_int64() && r->as_int64() != 0);
    }
    f.unsupported = JsonText(guardrail, "guardrail.unsupported");
    f.reply = JsonText(root, "output.value");
    if (f.reply.empty()) f.reply = JsonText(guardrail, "output.value");
    if (f.session_id.empty()) f.session_id = JsonText(root, "session.id");
    if (f.agent.empty()) f.agent = JsonText(root, "agent.name");
    if (f.agent.empty()) f.agent = JsonText(root, "agent.category");
    out.push_back(std::move(f));
  }
  return out;
}

Result<RetrievalSummary> SpanStore::RetrievalQuality(const std::string& tenant_id,
                                                     std::optional<int64_t> since_ms) {
  std::vector<DbValue> params{DbValue(tenant_id)};
  std::string where;
  if (since_ms) {
    params.emplace_back(*since_ms * 1000);
    where = " AND start_us >= $2";
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT SUM(CASE WHEN kind = 'RETRIEVER' THEN 1 ELSE 0 END), "
                              "AVG(similarity), COUNT(rerank_gain), AVG(rerank_gain) FROM spans "
                              "WHERE tenant_id = $1 AND kind IN ('RETRIEVER', 'RERANKER'){}",
                              where),
                  params));
  RetrievalSummary q;
  if (rows.rows.empty()) return q;
  const auto& row = rows.rows.front();
  q.searches = row.GetInt(0);
  q.average_similarity = OptDouble(row, 1);
  q.reranked = row.GetInt(2);
  q.average_rerank_gain = OptDouble(row, 3);
  return q;
}

}  // namespace ventros::observability
