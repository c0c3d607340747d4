#pragma once
// Tracing: spans with OpenInference span kinds and attributes (docs/observability.md), made by
// any module through this API and handed to a sink (the observability module stores them and
// exports them over OTLP). A span is cheap: its attributes are plain values, and ending it only
// moves it into the sink, which must not block (a bounded queue drops instead).
//
// Thread-safety: Tracer is thread-safe; a Span belongs to one thread at a time.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "ventros/core/clock.hpp"

namespace ventros::core {

// OpenInference span kinds.
enum class SpanKind {
  kChain,
  kAgent,
  kLlm,
  kRetriever,
  kReranker,
  kEmbedding,
  kTool,
  kGuardrail,
  kEvaluator
};
std::string_view SpanKindName(SpanKind kind);  // "CHAIN", "AGENT", "LLM", ...

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct SpanData {
  std::string trace_id;        // 32 lowercase hex
  std::string span_id;         // 16 lowercase hex
  std::string parent_span_id;  // empty for a root
  std::string tenant_id;
  std::string name;
  SpanKind kind = SpanKind::kChain;
  int64_t start_us = 0;  // epoch microseconds
  int64_t end_us = 0;
  bool error = false;
  std::string status_message;
  std::vector<std::pair<std::string, AttributeValue>> attributes;  // in the order set
};

// Where ended spans go. Export must return quickly (queue, never block on I/O).
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void Export(SpanData span) = 0;
};

class Tracer;

// An open span; ends (and is exported) at End() or destruction. Movable, not copyable. A span
// of a Tracer without a sink records nothing.
class Span {
 public:
  Span() = default;
  Span(Span&&) noexcept = default;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span();

  Span& Set(std::string key, std::string value);
  Span& Set(std::string key, const char* value) { return Set(std::move(key), std::string(value)); }
  Span& Set(std::string key, int64_t value);
  Span& Set(std::string key, int value) { return Set(std::move(key), static_cast<int64_t>(value)); }
  Span& Set(std::string key, double value);
  Span& Set(std::string key, bool value);
  Span& SetError(std::string message);
  void End();

  bool recording() const { return data_ != nullptr; }
  const std::string& trace_id() const;
  const std::string& span_id() const;

 private:
  friend class Tracer;
  Span(const Tracer* tracer, std::unique_ptr<SpanData> data)
      : tracer_(tracer), data_(std::move(data)) {}
  const Tracer* tracer_ = nullptr;
  std::unique_ptr<SpanData> data_;
};

class Tracer {
 public:
  // `sink` may be null (tracing off); it must outlive the tracer.
  // Span times are the wall clock at construction plus the monotonic time since (never backwards
  // within a process).
  Tracer(const Clock& clock, SpanSink* sink)
      : clock_(clock),
        sink_(sink),
        base_wall_us_(clock.NowMillis() * 1000),
        base_mono_us_(clock.MonotonicMicros()) {}
  // A new trace (or a root in `trace_id` when given, e.g. an event's trace id: 32 hex).
  Span StartTrace(std::string name, SpanKind kind, std::string tenant_id,
                  std::string trace_id = "") const;
  Span StartChild(const Span& parent, std::string name, SpanKind kind) const;
  bool enabled() const { return sink_ != nullptr; }

 private:
  friend class Span;
  int64_t NowMicros() const;
  const Clock& clock_;
  SpanSink* sink_;
  int64_t base_wall_us_;
  int64_t base_mono_us_;
};

// 32 / 16 random lowercase hex digits.
std::string NewTraceId();
std::string NewSpanId();

}  // namespace ventros::core
