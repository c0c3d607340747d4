#include "ventros/core/ids.hpp"

#include <mutex>
#include <random>

#include "ventros/core/clock.hpp"

namespace ventros::core {
namespace {

// Monotonic UUIDv7 state: within one millisecond the 12-bit rand_a field counts up, so ids made
// by this process sort in creation order (RFC 9562, method 1).
struct V7State {
  std::mutex mu;
  int64_t last_ms = -1;
  uint16_t counter = 0;
  std::mt19937_64 rng{std::random_device{}()};
};

V7State& State() {
  static V7State state;
  return state;
}

std::string Format(uint64_t hi, uint64_t lo) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t word, int nibbles_from, int count) {
    for (int i = 0; i < count; ++i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      int shift = 60 - 4 * (nibbles_from + i);
      out[pos++] = kHex[(word >> shift) & 0xF];
    }
  };
  put(hi, 0, 16);
  put(lo, 0, 16);
  return out;
}

}  // namespace

std::string NewUuidV7(const Clock& clock) {
  V7State& s = State();
  int64_t ms = clock.NowMillis();
  uint16_t rand_a;
  uint64_t rand_b;
  {
    std::lock_guard lock(s.mu);
    if (ms <= s.last_ms) {
      ms = s.last_ms;
      if (++s.counter > 0x0FFF) {  // counter overflow: borrow the next millisecond
        ++ms;
        s.last_ms = ms;
        s.counter = static_cast<uint16_t>(s.rng() & 0x01FF);
      }
    } else {
      s.last_ms = ms;
      s.counter = static_cast<uint16_t>(s.rng() & 0x01FF);  // leave room to count up
    }
    rand_a = s.counter;
    rand_b = s.rng();
  }
  uint64_t hi = (static_cast<uint64_t>(ms) << 16) | (0x7ULL << 12) | (rand_a & 0x0FFF);
  uint64_t lo = (0x2ULL << 62) | (rand_b & 0x3FFFFFFFFFFFFFFFULL);
  return Format(hi, lo);
}

std::string NewUuidV7() {
  static const SystemClock clock;
  return NewUuidV7(clock);
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace ventros::core
