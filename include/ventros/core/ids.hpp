#pragma once
// UUIDv7 identifiers (time-ordered, RFC 9562) and strong id types so a ContactId cannot be passed
// where a TenantId is expected. Ids are stored as their canonical lowercase text.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace ventros::core {

class Clock;

// A new UUIDv7 string for the clock's current time; thread-safe, monotonic within a process.
std::string NewUuidV7(const Clock& clock);
std::string NewUuidV7();  // uses the system clock
// True for a canonical 36-character UUID (any version), lowercase or uppercase hex.
bool IsUuid(std::string_view text);

template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  friend bool operator==(const StrongId&, const StrongId&) = default;
  friend auto operator<=>(const StrongId&, const StrongId&) = default;

 private:
  std::string value_;
};

}  // namespace ventros::core

template <typename Tag>
struct std::hash<ventros::core::StrongId<Tag>> {
  size_t operator()(const ventros::core::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>()(id.str());
  }
};
