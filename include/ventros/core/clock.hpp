#pragma once
// Time is injected: services take a Clock&, tests use VirtualClock and never sleep.
// Both implementations are thread-safe.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ventros::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch (what rows store).
  virtual int64_t NowMillis() const = 0;
  // Monotonic time in microseconds, for durations.
  virtual int64_t MonotonicMicros() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  int64_t MonotonicMicros() const override;
};

// A clock that moves only when told to.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(int64_t start_millis = 1767225600000) : now_micros_(start_millis * 1000) {}
  int64_t NowMillis() const override { return now_micros_.load() / 1000; }
  int64_t MonotonicMicros() const override { return now_micros_.load(); }
  void AdvanceMillis(int64_t ms) { now_micros_ += ms * 1000; }
  void SetMillis(int64_t ms) { now_micros_ = ms * 1000; }

 private:
  std::atomic<int64_t> now_micros_;
};

// Formats epoch milliseconds as RFC 3339 UTC, e.g. 2026-11-25T10:00:00.123Z.
std::string FormatTimestamp(int64_t epoch_millis);
// The inverse, for what FormatTimestamp writes (and RFC 3339 in UTC with 0-9 fraction digits:
// "2026-11-25T10:00:00Z", "...:00.5Z"); nullopt for anything else.
std::optional<int64_t> ParseTimestamp(std::string_view text);

}  // namespace ventros::core
