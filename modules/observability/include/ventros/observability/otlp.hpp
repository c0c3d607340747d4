#pragma once
// OTLP/HTTP export of spans: the protobuf encoding of an ExportTraceServiceRequest (what Arize
// Phoenix ingests at /v1/traces, protobuf only) and a SpanSink that batches ended spans on a
// bounded queue and posts them from a background thread, off the request path.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ventros/core/log.hpp"
#include "ventros/core/status.hpp"
#include "ventros/core/trace.hpp"

namespace ventros::core {
class HttpClient;
class MetricsRegistry;
}  // namespace ventros::core

namespace ventros::observability {

// What every exported span's resource says about its origin.
struct OtlpResource {
  std::string service_name = "ventros";
  std::string service_version;  // service.version; left out when empty
  std::string project_name;     // openinference.project.name (Phoenix's project); out when empty
};

// The protobuf bytes of an opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.
// Spans are grouped by tenant into one ResourceSpans each (in order of first appearance), whose
// resource carries service.name, service.version, openinference.project.name and
// ventros.tenant_id (the last left out for spans without a tenant), with one ScopeSpans named
// "ventros". Every span is SPAN_KIND_INTERNAL with status OK, or ERROR and its message; its
// OpenInference kind is the attribute openinference.span.kind (added from `kind` when the
// attributes lack it), and a key set twice keeps its last value. A span whose trace or span id is
// not 32 or 16 hex digits (or all zeros) is left out, since a collector rejects the whole
// request for one; an unreadable parent id makes the span a root.
std::string EncodeOtlpTraces(std::span<const core::SpanData> spans,
                             const OtlpResource& resource = {});

struct OtlpExporterOptions {
  std::string endpoint;                                      // e.g. http://127.0.0.1:6006/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"api_key", "..."}
  OtlpResource resource;
  size_t queue_capacity = 10000;  // spans waiting; more are dropped, never waited for
  size_t max_batch = 512;         // spans per request
  std::chrono::milliseconds flush_interval{1000};  // a partial batch waits at most this long
  std::chrono::milliseconds timeout{10000};        // per request
  int max_attempts = 3;                            // per batch, then it is dropped
  std::chrono::milliseconds retry_backoff{500};    // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds shutdown_timeout{5000};  // Stop() sends what is queued until then
};

// Counts since construction.
struct OtlpExporterStats {
  int64_t exported = 0;            // spans a collector accepted (2xx)
  int64_t dropped_queue_full = 0;  // spans refused by Export() because the queue was full
  int64_t dropped_failed = 0;      // spans of batches given up after max_attempts
  int64_t dropped_shutdown = 0;    // spans still queued at Stop()'s deadline or exported after it
  int64_t export_failures = 0;     // batches given up
  int64_t retries = 0;             // attempts after a batch's first
  size_t queued = 0;               // spans waiting now
};

// A SpanSink that exports to an OTLP/HTTP collector. Export() only moves the span into a bounded
// queue (dropping, and counting, when it is full); a background thread started by Start() sends
// batches of up to max_batch spans when a batch is full, flush_interval has passed, or Flush()
// asks, as POSTs with Content-Type application/x-protobuf. A transport error, 429, 502, 503 or
// 504 is retried with exponential backoff up to max_attempts; any other non-2xx answer, or the
// last failed attempt, drops the batch. Spans exported before Start() wait in the queue.
//
// Metrics, when a registry is given: ventros_otlp_spans_exported_total,
// ventros_otlp_spans_dropped_total{reason=queue_full|export_failed|shutdown},
// ventros_otlp_export_failures_total, ventros_otlp_export_retries_total.
//
// Thread-safety: Export(), Flush() and the counters may be called from any thread; Start() and
// Stop() from the owner. `client`, `metrics` and `logger` (each but the client may be null) must
// outlive the exporter. The destructor stops it.
class OtlpExporter : public core::SpanSink {
 public:
  OtlpExporter(OtlpExporterOptions options, core::HttpClient& client,
               core::MetricsRegistry* metrics = nullptr, core::Logger logger = nullptr);
  ~OtlpExporter() override;
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Starts the sending thread. InvalidArgument for an endpoint that is not an http(s) URL, a zero
  // capacity, batch or attempt count; Conflict when started before (an exporter runs once).
  core::Status Start();
  // Sends what is queued, for at most shutdown_timeout (plus what is left of a request already in
  // flight, at most `timeout`), drops the rest, and ends the thread. Later spans are dropped.
  // Idempotent.
  void Stop();

  void Export(core::SpanData span) override;

  // Sends everything queued before the call now, without waiting for a full batch or the
  // interval. True once each of those spans was exported or dropped; false after `timeout`, or
  // at once when the exporter is not running.
  bool Flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

  int64_t exported() const;
  int64_t dropped() const;  // for any reason
  int64_t export_failures() const;
  OtlpExporterStats Stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Hands each span to several sinks (each gets its own copy; the last one the original).
// Thread-safety: as thread-safe as the sinks; the sinks are not owned and must outlive it.
class FanoutSink : public core::SpanSink {
 public:
  explicit FanoutSink(std::vector<core::SpanSink*> sinks);
  void Export(core::SpanData span) override;

 private:
  std::vector<core::SpanSink*> sinks_;
};

}  // namespace ventros::observability
