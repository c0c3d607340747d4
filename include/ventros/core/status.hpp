#pragma once
// Errors as values. Status carries a code and a message; Result<T> carries a T or a Status.
// Exceptions are reserved for start-up and the outermost edge of a request.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ventros::core {

enum class StatusCode {
  kOk = 0,
  kNotFound,
  kInvalidArgument,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kUnavailable,
  kConflict,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: api key 123 not found"
  std::string ToString() const;

  // Adds context in front of the message, keeping the code.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status carries no value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ventros::core

// Propagates a non-OK Status from an expression returning Status.
#define VENTROS_RETURN_IF_ERROR(expr)     \
  do {                                    \
    ::ventros::core::Status _st = (expr); \
    if (!_st.ok()) return _st;            \
  } while (false)

#define VENTROS_CONCAT_INNER(a, b) a##b
#define VENTROS_CONCAT(a, b) VENTROS_CONCAT_INNER(a, b)
// Binds lhs to the value of a Result expression or returns its Status.
#define VENTROS_ASSIGN_OR_RETURN(lhs, expr)                                                   \
  auto VENTROS_CONCAT(_res_, __LINE__) = (expr);                                              \
  if (!VENTROS_CONCAT(_res_, __LINE__).ok()) return VENTROS_CONCAT(_res_, __LINE__).status(); \
  lhs = std::move(VENTROS_CONCAT(_res_, __LINE__)).value()
