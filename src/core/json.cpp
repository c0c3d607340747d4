#include "ventros/core/json.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ventros::core {

JsonBody ParseJsonObjectBody(const HttpRequest& request) {
  JsonBody out;
  std::string type = request.Header("Content-Type");
  std::string lowered;
  for (char c : type)
    lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string_view media(lowered);
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (media != "application/json") {
    out.error = HttpResponse::Error(
        415, "unsupported_media_type",
        type.empty() ? "Content-Type must be application/json"
                     : fmt::format("Content-Type must be application/json, got '{}'", type),
        request.request_id);
    return out;
  }
  boost::system::error_code ec;
  json::value v = json::parse(request.body, ec);
  if (ec) {
    out.error = HttpResponse::Error(400, "invalid_json",
                                    fmt::format("request body is not valid JSON: {}", ec.message()),
                                    request.request_id);
    return out;
  }
  if (!v.is_object()) {
    out.error = HttpResponse::Error(400, "invalid_json", "request body must be a JSON object",
                                    request.request_id);
    return out;
  }
  out.object = std::move(v.as_object());
  return out;
}

Result<std::string> RequireString(const json::object& obj, std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) {
    return Status::InvalidArgument(fmt::format("field '{}' is required", field));
  }
  if (!it->value().is_string()) {
    return Status::InvalidArgument(fmt::format("field '{}' must be a string", field));
  }
  return std::string(it->value().as_string());
}

Result<std::optional<std::string>> OptionalString(const json::object& obj, std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) {
    return Status::InvalidArgument(fmt::format("field '{}' must be a string", field));
  }
  return std::optional<std::string>(std::string(it->value().as_string()));
}

Status RejectUnknownFields(const json::object& obj,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : obj) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(k)) == allowed.end()) {
      return Status::InvalidArgument(fmt::format("unknown field '{}'", std::string_view(k)));
    }
  }
  return Status::Ok();
}

Status RejectUnknownQueryParams(const HttpRequest& request,
                                std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : ParseQuery(request.query)) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(k)) == allowed.end()) {
      return Status::InvalidArgument(fmt::format("unknown query parameter '{}'", k));
    }
  }
  return Status::Ok();
}

std::string StringField(const json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string StringField(const json::value& value, std::string_view key) {
  return value.is_object() ? StringField(value.as_object(), key) : std::string();
}

std::string ToJson(const json::value& value) { return json::serialize(value); }

}  // namespace ventros::core
