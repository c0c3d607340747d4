#include "ventros/observability/otlp.hpp"

#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "ventros/core/http_client.hpp"
#include "ventros/core/metrics.hpp"

namespace ventros::observability {

namespace {

// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): just what an OTLP
// trace request needs. Writes straight into one buffer; a nested message's length prefix is
// inserted in front of its body once the body is written, so no temporary buffers are needed.
class ProtoWriter {
 public:
  explicit ProtoWriter(std::string& out) : out_(out) {}

  void Varint(uint64_t value) {
    char bytes[kMaxVarintBytes];
    out_.append(bytes, EncodeVarint(value, bytes));
  }
  // Scalars are left out when they hold their default value (proto3's canonical form); a oneof
  // member is written whatever its value, since its presence is the information.
  void UintField(uint32_t field, uint64_t value) {
    if (value == 0) return;
    Tag(field, kVarintType);
    Varint(value);
  }
  void Int64Member(uint32_t field, int64_t value) {
    Tag(field, kVarintType);
    Varint(static_cast<uint64_t>(value));  // negatives take ten bytes, as int64 requires
  }
  void BoolMember(uint32_t field, bool value) {
    Tag(field, kVarintType);
    Varint(value ? 1 : 0);
  }
  void Fixed64Field(uint32_t field, uint64_t value) {
    if (value == 0) return;
    Fixed64(field, value);
  }
  void DoubleMember(uint32_t field, double value) {
    Fixed64(field, std::bit_cast<uint64_t>(value));
  }
  void BytesField(uint32_t field, std::string_view value) {
    if (value.empty()) return;
    BytesMember(field, value);
  }
  void BytesMember(uint32_t field, std::string_view value) {
    Tag(field, kLengthType);
    Varint(value.size());
    out_.append(value);
  }
  // A nested message: `body` writes its fields through this writer.
  template <typename Body>
  void MessageField(uint32_t field, Body&& body) {
    Tag(field, kLengthType);
    const size_t start = out_.size();
    body();
    char bytes[kMaxVarintBytes];
    out_.insert(start, bytes, EncodeVarint(out_.size() - start, bytes));
  }

 private:
  static constexpr uint32_t kVarintType = 0;
  static constexpr uint32_t kFixed64Type = 1;
  static constexpr uint32_t kLengthType = 2;
  static constexpr size_t kMaxVarintBytes = 10;

  static size_t EncodeVarint(uint64_t value, char* bytes) {
    size_t n = 0;
    while (value >= 0x80) {
      bytes[n++] = static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    bytes[n++] = static_cast<char>(value);
    return n;
  }
  void Tag(uint32_t field, uint32_t type) { Varint((static_cast<uint64_t>(field) << 3) | type); }
  void Fixed64(uint32_t field, uint64_t value) {
    Tag(field, kFixed64Type);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }

  std::string& out_;
};

// Field numbers from the OTLP .proto files (opentelemetry-proto, v1).
namespace field {
constexpr uint32_t kRequestResourceSpans = 1;     // ExportTraceServiceRequest
constexpr uint32_t kResourceSpansResource = 1;    // ResourceSpans
constexpr uint32_t kResourceSpansScopeSpans = 2;  //
constexpr uint32_t kResourceAttributes = 1;       // Resource
constexpr uint32_t kScopeSpansScope = 1;          // ScopeSpans
constexpr uint32_t kScopeSpansSpans = 2;          //
constexpr uint32_t kScopeName = 1;                // InstrumentationScope
constexpr uint32_t kScopeVersion = 2;             //
constexpr uint32_t kSpanTraceId = 1;              // Span
constexpr uint32_t kSpanSpanId = 2;               //
constexpr uint32_t kSpanParentSpanId = 4;         //
constexpr uint32_t kSpanName = 5;                 //
constexpr uint32_t kSpanKind = 6;                 //
constexpr uint32_t kSpanStartTime = 7;            //
constexpr uint32_t kSpanEndTime = 8;              //
constexpr uint32_t kSpanAttributes = 9;           //
constexpr uint32_t kSpanStatus = 15;              //
constexpr uint32_t kStatusMessage = 2;            // Status
constexpr uint32_t kStatusCode = 3;               //
constexpr uint32_t kKeyValueKey = 1;              // KeyValue
constexpr uint32_t kKeyValueValue = 2;            //
constexpr uint32_t kAnyString = 1;                // AnyValue (oneof)
constexpr uint32_t kAnyBool = 2;                  //
constexpr uint32_t kAnyInt = 3;                   //
constexpr uint32_t kAnyDouble = 4;                //
}  // namespace field

constexpr uint64_t kSpanKindInternal = 1;
constexpr uint64_t kStatusOk = 1;
constexpr uint64_t kStatusError = 2;
constexpr int64_t kNanosPerMicro = 1000;
constexpr std::string_view kSpanKindKey = "openinference.span.kind";
constexpr std::string_view kScopeName = "ventros";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes of an id written as `2 * size` hex digits; nullopt when it is not, or is all zeros
// (an invalid id in OTLP).
std::optional<std::string> IdBytes(std::string_view hex, size_t size) {
  if (hex.size() != 2 * size) return std::nullopt;
  std::string bytes(size, '\0');
  bool zero = true;
  for (size_t i = 0; i < size; ++i) {
    const int high = HexDigit(hex[2 * i]);
    const int low = HexDigit(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<char>(high << 4 | low);
    zero = zero && bytes[i] == '\0';
  }
  if (zero) return std::nullopt;
  return bytes;
}

void WriteAttribute(ProtoWriter& w, std::string_view key, const core::AttributeValue& value) {
  w.MessageField(field::kSpanAttributes, [&] {
    w.BytesField(field::kKeyValueKey, key);
    w.MessageField(field::kKeyValueValue, [&] {
      if (const auto* s = std::get_if<std::string>(&value)) {
        w.BytesMember(field::kAnyString, *s);
      } else if (const auto* i = std::get_if<int64_t>(&value)) {
        w.Int64Member(field::kAnyInt, *i);
      } else if (const auto* d = std::get_if<double>(&value)) {
        w.DoubleMember(field::kAnyDouble, *d);
      } else {
        w.BoolMember(field::kAnyBool, std::get<bool>(value));
      }
    });
  });
}

// A KeyValue with a string value as field `number` (Resource.attributes is 1, Span.attributes 9).
void WriteStringAttribute(ProtoWriter& w, uint32_t number, std::string_view key,
                          std::string_view value) {
  w.MessageField(number, [&] {
    w.BytesField(field::kKeyValueKey, key);
    w.MessageField(field::kKeyValueValue, [&] { w.BytesMember(field::kAnyString, value); });
  });
}

// Spans with a key set more than once keep its last value (OTLP requires unique keys).
bool SetAgainLater(const std::vector<std::pair<std::string, core::AttributeValue>>& attributes,
                   size_t index) {
  for (size_t j = index + 1; j < attributes.size(); ++j) {
    if (attributes[j].first == attributes[index].first) return true;
  }
  return false;
}

void WriteSpan(ProtoWriter& w, const core::SpanData& span, std::string_view trace_id,
               std::string_view span_id) {
  w.MessageField(field::kScopeSpansSpans, [&] {
    w.BytesField(field::kSpanTraceId, trace_id);
    w.BytesField(field::kSpanSpanId, span_id);
    if (const auto parent = IdBytes(span.parent_span_id, 8)) {
      w.BytesField(field::kSpanParentSpanId, *parent);
    }
    w.BytesField(field::kSpanName, span.name);
    w.UintField(field::kSpanKind, kSpanKindInternal);
    w.Fixed64Field(field::kSpanStartTime, static_cast<uint64_t>(span.start_us * kNanosPerMicro));
    w.Fixed64Field(field::kSpanEndTime, static_cast<uint64_t>(span.end_us * kNanosPerMicro));
    const bool has_kind =
        std::any_of(span.attributes.begin(), span.attributes.end(),
                    [](const auto& attribute) { return attribute.first == kSpanKindKey; });
    if (!has_kind) {
      WriteStringAttribute(w, field::kSpanAttributes, kSpanKindKey, core::SpanKindName(span.kind));
    }
    for (size_t i = 0; i < span.attributes.size(); ++i) {
      if (SetAgainLater(span.attributes, i)) continue;
      WriteAttribute(w, span.attributes[i].first, span.attributes[i].second);
    }
    w.MessageField(field::kSpanStatus, [&] {
      if (span.error) w.BytesField(field::kStatusMessage, span.status_message);
      w.UintField(field::kStatusCode, span.error ? kStatusError : kStatusOk);
    });
  });
}

}  // namespace

std::string EncodeOtlpTraces(std::span<const core::SpanData> spans, const OtlpResource& resource) {
  // Tenants in order of first appearance, each with its spans in order.
  std::vector<std::pair<std::string_view, std::vector<const core::SpanData*>>> tenants;
  std::unordered_map<std::string_view, size_t> tenant_index;
  for (const auto& span : spans) {
    const auto [it, added] = tenant_index.try_emplace(span.tenant_id, tenants.size());
    if (added) tenants.emplace_back(span.tenant_id, std::vector<const core::SpanData*>{});
    tenants[it->second].second.push_back(&span);
  }

  std::string out;
  out.reserve(spans.size() * 512);
  ProtoWriter w(out);
  for (const auto& [tenant, tenant_spans] : tenants) {
    w.MessageField(field::kRequestResourceSpans, [&] {
      w.MessageField(field::kResourceSpansResource, [&] {
        const uint32_t n = field::kResourceAttributes;
        WriteStringAttribute(w, n, "service.name", resource.service_name);
        if (!resource.service_version.empty()) {
          WriteStringAttribute(w, n, "service.version", resource.service_version);
        }
        if (!resource.project_name.empty()) {
          WriteStringAttribute(w, n, "openinference.project.name", resource.project_name);
        }
        if (!tenant.empty()) WriteStringAttribute(w, n, "ventros.tenant_id", tenant);
      });
      w.MessageField(field::kResourceSpansScopeSpans, [&] {
        w.MessageField(field::kScopeSpansScope, [&] {
          w.BytesField(field::kScopeName, kScopeName);
          w.BytesField(field::kScopeVersion, resource.service_version);
        });
        for (const core::SpanData* span : tenant_spans) {
          const auto trace_id = IdBytes(span->trace_id, 16);
          const auto span_id = IdBytes(span->span_id, 8);
          if (!trace_id || !span_id) continue;
          WriteSpan(w, *span, *trace_id, *span_id);
        }
      });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct OtlpExporter::Impl {
  using SteadyClock = std::chrono::steady_clock;

  Impl(OtlpExporterOptions o, core::HttpClient& c, core::MetricsRegistry* m, core::Logger l)
      : options(std::move(o)), client(c), logger(std::move(l)) {
    if (!m) return;
    exported_metric =
        &m->GetCounter("ventros_otlp_spans_exported_total", "Spans an OTLP collector accepted");
    constexpr const char* kDroppedHelp = "Spans not exported, by reason";
    constexpr const char* kDropped = "ventros_otlp_spans_dropped_total";
    dropped_full_metric = &m->GetCounter(kDropped, kDroppedHelp, {{"reason", "queue_full"}});
    dropped_failed_metric = &m->GetCounter(kDropped, kDroppedHelp, {{"reason", "export_failed"}});
    dropped_shutdown_metric = &m->GetCounter(kDropped, kDroppedHelp, {{"reason", "shutdown"}});
    failures_metric = &m->GetCounter("ventros_otlp_export_failures_total",
                                     "OTLP export batches given up after their last attempt");
    retries_metric = &m->GetCounter("ventros_otlp_export_retries_total",
                                    "OTLP export attempts after a batch's first");
  }

  static void Count(std::atomic<int64_t>& count, core::Counter* metric, int64_t n) {
    if (n == 0) return;
    count.fetch_add(n, std::memory_order_relaxed);
    if (metric) metric->Inc(static_cast<double>(n));
  }

  void Run();
  void Send(std::vector<core::SpanData> batch);
  // Waits `backoff` before a retry; false when the stop deadline passes first.
  bool WaitToRetry(std::chrono::milliseconds backoff);
  // The stop deadline once Stop() was called; the time left bounds each request then.
  std::optional<SteadyClock::time_point> Deadline() {
    std::lock_guard lock(mu);
    if (!stopping) return std::nullopt;
    return stop_deadline;
  }
  void LogDrops();

  const OtlpExporterOptions options;
  core::HttpClient& client;
  const core::Logger logger;

  core::Counter* exported_metric = nullptr;
  core::Counter* dropped_full_metric = nullptr;
  core::Counter* dropped_failed_metric = nullptr;
  core::Counter* dropped_shutdown_metric = nullptr;
  core::Counter* failures_metric = nullptr;
  core::Counter* retries_metric = nullptr;

  std::atomic<int64_t> exported{0};
  std::atomic<int64_t> dropped_full{0};
  std::atomic<int64_t> dropped_failed{0};
  std::atomic<int64_t> dropped_shutdown{0};
  std::atomic<int64_t> failures{0};
  std::atomic<int64_t> retries{0};
  int64_t dropped_full_logged = 0;  // sending thread only

  mutable std::mutex mu;
  std::condition_variable wake;  // the sending thread: a full batch, a flush, stop
  std::condition_variable done;  // Flush(): spans handled
  std::deque<core::SpanData> queue;
  uint64_t accepted = 0;      // spans ever queued
  uint64_t handled = 0;       // spans taken off the queue and exported or dropped
  uint64_t flush_target = 0;  // send now until `handled` reaches it
  bool started = false;
  bool running = false;
  bool stopping = false;
  SteadyClock::time_point stop_deadline;
  std::thread thread;
};

OtlpExporter::OtlpExporter(OtlpExporterOptions options, core::HttpClient& client,
                           core::MetricsRegistry* metrics, core::Logger logger)
    : impl_(std::make_unique<Impl>(std::move(options), client, metrics, std::move(logger))) {}

OtlpExporter::~OtlpExporter() { Stop(); }

core::Status OtlpExporter::Start() {
  const OtlpExporterOptions& o = impl_->options;
  const std::string_view endpoint = o.endpoint;
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
    return core::Status::InvalidArgument("otlp: endpoint must be an http(s) URL, got '" +
                                         o.endpoint + "'");
  }
  if (o.queue_capacity == 0 || o.max_batch == 0 || o.max_attempts < 1) {
    return core::Status::InvalidArgument(
        "otlp: queue_capacity, max_batch and max_attempts must be positive");
  }
  std::lock_guard lock(impl_->mu);
  if (impl_->started || impl_->stopping) {
    return core::Status::Conflict("otlp: the exporter was started or stopped before");
  }
  impl_->started = true;
  impl_->running = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
  return core::Status::Ok();
}

void OtlpExporter::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    impl_->stop_deadline = Impl::SteadyClock::now() + impl_->options.shutdown_timeout;
    if (!impl_->running) {
      // Never started: what waits in the queue is lost.
      Impl::Count(impl_->dropped_shutdown, impl_->dropped_shutdown_metric,
                  static_cast<int64_t>(impl_->queue.size()));
      impl_->handled += impl_->queue.size();
      impl_->queue.clear();
      return;
    }
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

void OtlpExporter::Export(core::SpanData span) {
  bool wake = false;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) {
      Impl::Count(impl_->dropped_shutdown, impl_->dropped_shutdown_metric, 1);
      return;
    }
    if (impl_->queue.size() >= impl_->options.queue_capacity) {
      Impl::Count(impl_->dropped_full, impl_->dropped_full_metric, 1);
      return;
    }
    impl_->queue.push_back(std::move(span));
    ++impl_->accepted;
    wake = impl_->queue.size() == impl_->options.max_batch;
  }
  if (wake) impl_->wake.notify_one();
}

bool OtlpExporter::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->running) return false;
  const uint64_t target = impl_->accepted;
  impl_->flush_target = std::max(impl_->flush_target, target);
  impl_->wake.notify_one();
  return impl_->done.wait_for(lock, timeout, [&] { return impl_->handled >= target; });
}

int64_t OtlpExporter::exported() const { return impl_->exported.load(); }
int64_t OtlpExporter::dropped() const {
  return impl_->dropped_full.load() + impl_->dropped_failed.load() + impl_->dropped_shutdown.load();
}
int64_t OtlpExporter::export_failures() const { return impl_->failures.load(); }

OtlpExporterStats OtlpExporter::Stats() const {
  OtlpExporterStats stats{.exported = impl_->exported.load(),
                          .dropped_queue_full = impl_->dropped_full.load(),
                          .dropped_failed = impl_->dropped_failed.load(),
                          .dropped_shutdown = impl_->dropped_shutdown.load(),
                          .export_failures = impl_->failures.load(),
                          .retries = impl_->retries.load()};
  std::lock_guard lock(impl_->mu);
  stats.queued = impl_->queue.size();
  return stats;
}

void OtlpExporter::Impl::Run() {
  std::unique_lock lock(mu);
  for (;;) {
    const auto ready = [&] {
      return stopping || queue.size() >= options.max_batch || flush_target > handled;
    };
    if (!ready()) wake.wait_for(lock, options.flush_interval, ready);
    if (stopping && (queue.empty() || SteadyClock::now() >= stop_deadline)) break;
    if (queue.empty()) continue;

    const size_t n = std::min(queue.size(), options.max_batch);
    std::vector<core::SpanData> batch(std::make_move_iterator(queue.begin()),
                                      std::make_move_iterator(queue.begin() + n));
    queue.erase(queue.begin(), queue.begin() + n);
    lock.unlock();
    LogDrops();
    Send(std::move(batch));
    lock.lock();
    handled += n;
    done.notify_all();
  }
  // Stopped: whatever is left missed the deadline.
  Count(dropped_shutdown, dropped_shutdown_metric, static_cast<int64_t>(queue.size()));
  handled += queue.size();
  queue.clear();
  running = false;
  done.notify_all();
  lock.unlock();
  LogDrops();
}

void OtlpExporter::Impl::Send(std::vector<core::SpanData> batch) {
  const auto n = static_cast<int64_t>(batch.size());
  core::HttpClientRequest request{.method = "POST", .url = options.endpoint};
  request.headers = options.headers;
  request.headers.emplace_back("Content-Type", "application/x-protobuf");
  request.body = EncodeOtlpTraces(batch, options.resource);
  request.retry = false;  // retried here, with the stop deadline in mind
  batch.clear();

  std::string failure;
  auto backoff = options.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    request.timeout = options.timeout;
    if (const auto deadline = Deadline()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - SteadyClock::now());
      if (left.count() <= 0) {
        Count(dropped_shutdown, dropped_shutdown_metric, n);
        return;
      }
      request.timeout = std::min(options.timeout, left);
    }
    auto response = client.Send(request);
    bool retryable = true;
    if (!response.ok()) {
      failure = response.status().ToString();
    } else {
      const int status = response.value().status;
      if (status >= 200 && status < 300) {
        Count(exported, exported_metric, n);
        return;
      }
      // OTLP/HTTP: only these are worth another try; any other answer will not change.
      retryable = status == 429 || status == 502 || status == 503 || status == 504;
      failure = "HTTP " + std::to_string(status);
    }
    if (!retryable || attempt >= options.max_attempts) break;
    Count(retries, retries_metric, 1);
    if (!WaitToRetry(backoff)) {
      Count(dropped_shutdown, dropped_shutdown_metric, n);
      return;
    }
    backoff = std::min(options.max_backoff, backoff * 2);
  }
  Count(failures, failures_metric, 1);
  Count(dropped_failed, dropped_failed_metric, n);
  if (logger) {
    logger->warn("otlp: dropped a batch of {} spans for {}: {}", n, options.endpoint, failure);
  }
}

bool OtlpExporter::Impl::WaitToRetry(std::chrono::milliseconds backoff) {
  const auto until = SteadyClock::now() + backoff;
  std::unique_lock lock(mu);
  for (;;) {
    const auto now = SteadyClock::now();
    if (stopping && now >= stop_deadline) return false;
    if (now >= until) return true;
    wake.wait_until(lock, stopping ? std::min(until, stop_deadline) : until);
  }
}

void OtlpExporter::Impl::LogDrops() {
  const int64_t now_dropped = dropped_full.load();
  if (now_dropped == dropped_full_logged) return;
  if (logger) {
    logger->warn("otlp: queue full ({} spans), dropped {} spans", options.queue_capacity,
                 now_dropped - dropped_full_logged);
  }
  dropped_full_logged = now_dropped;
}

// ---------------------------------------------------------------------------------------------

FanoutSink::FanoutSink(std::vector<core::SpanSink*> sinks) {
  for (core::SpanSink* sink : sinks) {
    if (sink) sinks_.push_back(sink);
  }
}

void FanoutSink::Export(core::SpanData span) {
  if (sinks_.empty()) return;
  for (size_t i = 0; i + 1 < sinks_.size(); ++i) sinks_[i]->Export(span);
  sinks_.back()->Export(std::move(span));
}

}  // namespace ventros::observability
