#include "ventros/core/trace.hpp"

#include <charconv>

#include "ventros/core/crypto.hpp"

namespace ventros::core {

std::string_view SpanKindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kChain:
      return "CHAIN";
    case SpanKind::kAgent:
      return "AGENT";
    case SpanKind::kLlm:
      return "LLM";
    case SpanKind::kRetriever:
      return "RETRIEVER";
    case SpanKind::kReranker:
      return "RERANKER";
    case SpanKind::kEmbedding:
      return "EMBEDDING";
    case SpanKind::kTool:
      return "TOOL";
    case SpanKind::kGuardrail:
      return "GUARDRAIL";
    case SpanKind::kEvaluator:
      return "EVALUATOR";
  }
  return "CHAIN";
}

namespace {
// Ids need to be unique, not secret: a per-thread splitmix64 sequence seeded once from the
// system's random source costs a few nanoseconds, where a cryptographic draw per span costs a
// lock and a microsecond.
uint64_t NextRandom() {
  thread_local uint64_t state = [] {
    uint64_t seed = 0;
    const std::string hex = RandomHex(8);
    std::from_chars(hex.data(), hex.data() + hex.size(), seed, 16);
    return seed;
  }();
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return z != 0 ? z : 1;  // an all-zero id is invalid
}

void AppendHex(std::string& out, uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kDigits[(v >> shift) & 0xF]);
}
}  // namespace

std::string NewTraceId() {
  std::string out;
  out.reserve(32);
  AppendHex(out, NextRandom());
  AppendHex(out, NextRandom());
  return out;
}

std::string NewSpanId() {
  std::string out;
  out.reserve(16);
  AppendHex(out, NextRandom());
  return out;
}

int64_t Tracer::NowMicros() const {
  return base_wall_us_ + (clock_.MonotonicMicros() - base_mono_us_);
}

namespace {

// Drops an incomplete UTF-8 sequence at the end (a text cut by bytes): collectors refuse a whole
// export for one invalid string.
void TrimPartialUtf8(std::string& s) {
  size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (need > back) s.resize(n - back);
    return;
  }
}

}  // namespace

Span Tracer::StartTrace(std::string name, SpanKind kind, std::string tenant_id,
                        std::string trace_id) const {
  if (!sink_) return Span();
  auto d = std::make_unique<SpanData>();
  d->trace_id = trace_id.size() == 32 ? std::move(trace_id) : NewTraceId();
  d->span_id = NewSpanId();
  d->tenant_id = std::move(tenant_id);
  d->name = std::move(name);
  d->kind = kind;
  d->start_us = NowMicros();
  d->attributes.emplace_back("openinference.span.kind", std::string(SpanKindName(kind)));
  return Span(this, std::move(d));
}

Span Tracer::StartChild(const Span& parent, std::string name, SpanKind kind) const {
  if (!sink_ || !parent.data_) return Span();
  auto d = std::make_unique<SpanData>();
  d->trace_id = parent.data_->trace_id;
  d->parent_span_id = parent.data_->span_id;
  d->span_id = NewSpanId();
  d->tenant_id = parent.data_->tenant_id;
  d->name = std::move(name);
  d->kind = kind;
  d->start_us = NowMicros();
  d->attributes.emplace_back("openinference.span.kind", std::string(SpanKindName(kind)));
  return Span(this, std::move(d));
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    tracer_ = other.tracer_;
    data_ = std::move(other.data_);
  }
  return *this;
}

Span::~Span() { End(); }

Span& Span::Set(std::string key, std::string value) {
  TrimPartialUtf8(value);
  if (data_) data_->attributes.emplace_back(std::move(key), std::move(value));
  return *this;
}
Span& Span::Set(std::string key, int64_t value) {
  if (data_) data_->attributes.emplace_back(std::move(key), value);
  return *this;
}
Span& Span::Set(std::string key, double value) {
  if (data_) data_->attributes.emplace_back(std::move(key), value);
  return *this;
}
Span& Span::Set(std::string key, bool value) {
  if (data_) data_->attributes.emplace_back(std::move(key), value);
  return *this;
}
Span& Span::SetError(std::string message) {
  TrimPartialUtf8(message);
  if (data_) {
    data_->error = true;
    data_->status_message = std::move(message);
  }
  return *this;
}

void Span::End() {
  if (!data_ || !tracer_ || !tracer_->sink_) {
    data_.reset();
    return;
  }
  data_->end_us = std::max(tracer_->NowMicros(), data_->start_us);
  tracer_->sink_->Export(std::move(*data_));
  data_.reset();
}

static const std::string kEmpty;
const std::string& Span::trace_id() const { return data_ ? data_->trace_id : kEmpty; }
const std::string& Span::span_id() const { return data_ ? data_->span_id : kEmpty; }

}  // namespace ventros::core
