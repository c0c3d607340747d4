#pragma once
// JSON helpers for HTTP handlers (Boost.JSON). Include only from .cpp files.

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "ventros/core/http.hpp"
#include "ventros/core/status.hpp"

namespace ventros::core {

namespace json = boost::json;

// Parses a request body that must be a JSON object with Content-Type application/json.
// Errors come back as ready HTTP responses: 415 (wrong content type), 400 (malformed JSON or not
// an object).
struct JsonBody {
  json::object object;
  std::optional<HttpResponse> error;
};
JsonBody ParseJsonObjectBody(const HttpRequest& request);

// Typed field access with messages that name the field.
Result<std::string> RequireString(const json::object& obj, std::string_view field);
Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view field);
// Rejects fields not in the allowed list (typos get a clear 400 instead of being ignored).
Status RejectUnknownFields(const json::object& obj,
                           std::initializer_list<std::string_view> allowed);

// The same for a request's query parameters ("unknown query parameter 'x'").
Status RejectUnknownQueryParams(const HttpRequest& request,
                                std::initializer_list<std::string_view> allowed);

// A string member of an object; empty when absent or not a string (for payloads read leniently).
std::string StringField(const json::object& obj, std::string_view key);
std::string StringField(const json::value& value, std::string_view key);  // "" unless an object

std::string ToJson(const json::value& value);

}  // namespace ventros::core
