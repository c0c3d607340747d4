// REST edges of the memory: search and facts. Strict parsing (unknown fields, wrong types and
// malformed ids are 400s that name the field); the tenant comes from the API key only.

#include <fmt/format.h>

#include <charconv>

#include "internal.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/json.hpp"
#include "ventros/memory/memory.hpp"

namespace ventros::memory {

using core::HttpRequest;
using core::HttpResponse;
using core::Role;
namespace json = core::json;

namespace {

HttpResponse Fail(const HttpRequest& req, const Status& status) {
  return HttpResponse::FromStatus(status, req.request_id);
}

HttpResponse BadRequest(const HttpRequest& req, const std::string& message) {
  return Fail(req, Status::InvalidArgument(message));
}

// NUL cannot be stored in PostgreSQL text; both engines refuse it alike, with a 400.
Status NoNul(const std::string& text, std::string_view field) {
  if (text.find('\0') != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("field '{}' must not contain NUL characters", field));
  }
  return Status::Ok();
}

Result<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view field) {
  auto* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->as_int64());
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v->as_uint64()));
  }
  return Status::InvalidArgument(fmt::format("field '{}' must be an integer", field));
}

Result<std::optional<bool>> OptionalBool(const json::object& o, std::string_view field) {
  auto* v = o.if_contains(field);
  if (!v || v->is_null()) return std::optional<bool>();
  if (v->is_bool()) return std::optional<bool>(v->as_bool());
  return Status::InvalidArgument(fmt::format("field '{}' must be true or false", field));
}

Result<int64_t> ParseTime(std::string_view name, const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return Status::InvalidArgument(
        fmt::format("query parameter '{}' must be a time in epoch milliseconds; got '{}'", name,
                    ClipUtf8(text, 30)));
  }
  return value;
}

Result<SearchRequest> ParseSearch(const HttpRequest& req, const json::object& body) {
  VENTROS_RETURN_IF_ERROR(
      core::RejectUnknownFields(body, {"contact_id", "query", "strategy", "agent_category", "top_k",
                                       "knowledge_scope", "weights"}));
  SearchRequest s;
  s.tenant = crm::TenantId(req.principal->tenant_id);
  VENTROS_ASSIGN_OR_RETURN(std::string contact, core::RequireString(body, "contact_id"));
  if (!core::IsUuid(contact)) {
    return Status::InvalidArgument("field 'contact_id' must be a contact id (UUID)");
  }
  s.contact = crm::ContactId(contact);
  VENTROS_ASSIGN_OR_RETURN(s.query, core::RequireString(body, "query"));
  VENTROS_RETURN_IF_ERROR(NoNul(s.query, "query"));
  VENTROS_ASSIGN_OR_RETURN(s.strategy, core::OptionalString(body, "strategy"));
  VENTROS_ASSIGN_OR_RETURN(s.agent_category, core::OptionalString(body, "agent_category"));
  VENTROS_ASSIGN_OR_RETURN(auto top_k, OptionalInt(body, "top_k"));
  if (top_k) {
    if (*top_k < 1 || *top_k > 20) return Status::InvalidArgument("field 'top_k' must be 1 to 20");
    s.top_k = static_cast<int>(*top_k);
  }
  if (auto* weights = body.if_contains("weights"); weights && !weights->is_null()) {
    if (!weights->is_object()) return Status::InvalidArgument("field 'weights' must be an object");
    const json::object& wo = weights->as_object();
    VENTROS_RETURN_IF_ERROR(
        core::RejectUnknownFields(wo, {"vector", "keyword", "graph", "recent"}));
    StrategyWeights w;
    for (auto [name, slot] : {std::pair{"vector", &w.vector}, std::pair{"keyword", &w.keyword},
                              std::pair{"graph", &w.graph}, std::pair{"recent", &w.recent}}) {
      auto* v = wo.if_contains(name);
      if (!v || v->is_null()) continue;
      if (!v->is_number()) {
        return Status::InvalidArgument(fmt::format("field 'weights.{}' must be a number", name));
      }
      *slot = v->to_number<double>();
    }
    s.weights = w;
  }
  if (auto* scope = body.if_contains("knowledge_scope"); scope && !scope->is_null()) {
    if (!scope->is_object()) {
      return Status::InvalidArgument("field 'knowledge_scope' must be an object");
    }
    const json::object& so = scope->as_object();
    VENTROS_RETURN_IF_ERROR(core::RejectUnknownFields(
        so, {"lookback_days", "include_agent_transfers", "contact_only"}));
    KnowledgeScope k;
    VENTROS_ASSIGN_OR_RETURN(auto days, OptionalInt(so, "lookback_days"));
    if (days) {
      if (*days < 1 || *days > 36500) {
        return Status::InvalidArgument("field 'knowledge_scope.lookback_days' must be 1 to 36500");
      }
      k.lookback_days = static_cast<int>(*days);
    }
    VENTROS_ASSIGN_OR_RETURN(auto transfers, OptionalBool(so, "include_agent_transfers"));
    if (transfers) k.include_agent_transfers = *transfers;
    VENTROS_ASSIGN_OR_RETURN(auto contact_only, OptionalBool(so, "contact_only"));
    if (contact_only) k.contact_only = *contact_only;
    s.scope = k;
  }
  return s;
}

Result<FactInput> ParseFact(const json::object& body) {
  VENTROS_RETURN_IF_ERROR(
      core::RejectUnknownFields(body, {"type", "text", "subject", "value", "confidence",
                                       "valid_from", "source_session_id", "supersedes"}));
  FactInput f;
  VENTROS_ASSIGN_OR_RETURN(f.type, core::RequireString(body, "type"));
  VENTROS_ASSIGN_OR_RETURN(f.text, core::RequireString(body, "text"));
  VENTROS_RETURN_IF_ERROR(NoNul(f.text, "text"));
  VENTROS_ASSIGN_OR_RETURN(auto subject, core::OptionalString(body, "subject"));
  if (subject) {
    if (subject->size() > 200) return Status::InvalidArgument("field 'subject' is too long");
    f.subject = *subject;
    VENTROS_RETURN_IF_ERROR(NoNul(f.subject, "subject"));
  }
  if (auto* v = body.if_contains("value"); v && !v->is_null()) {
    if (!v->is_object()) return Status::InvalidArgument("field 'value' must be a JSON object");
    f.value = json::serialize(*v);
    // JSON text escapes NUL as \u0000, which PostgreSQL's jsonb refuses.
    if (f.value.find("\\u0000") != std::string::npos) {
      return Status::InvalidArgument("field 'value' must not contain NUL characters");
    }
    if (f.value.size() > 10000) return Status::InvalidArgument("field 'value' is too large");
  }
  if (auto* v = body.if_contains("confidence"); v && !v->is_null()) {
    if (!v->is_number()) return Status::InvalidArgument("field 'confidence' must be a number");
    f.confidence = v->to_number<double>();
  }
  VENTROS_ASSIGN_OR_RETURN(f.valid_from, OptionalInt(body, "valid_from"));
  VENTROS_ASSIGN_OR_RETURN(auto session, core::OptionalString(body, "source_session_id"));
  if (session) {
    if (!core::IsUuid(*session)) {
      return Status::InvalidArgument("field 'source_session_id' must be a session id (UUID)");
    }
    f.source_session_id = *session;
  }
  VENTROS_ASSIGN_OR_RETURN(auto supersedes, core::OptionalString(body, "supersedes"));
  if (supersedes) {
    if (!core::IsUuid(*supersedes)) {
      return Status::InvalidArgument("field 'supersedes' must be a fact id (UUID)");
    }
    f.supersedes = *supersedes;
  }
  return f;
}

}  // namespace

void RegisterMemoryRoutes(core::Router& router, MemoryService& service) {
  router.Add(
      "GET", "/v1/memory/map",
      [&service](HttpRequest& req) {
        int limit = 2000, clusters = 0;
        for (auto& [name, value] : core::ParseQuery(req.query)) {
          int* target = name == "limit" ? &limit : name == "clusters" ? &clusters : nullptr;
          if (!target) return BadRequest(req, fmt::format("unknown query parameter '{}'", name));
          auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), *target);
          if (ec != std::errc() || end != value.data() + value.size()) {
            return BadRequest(req, fmt::format("query parameter '{}' must be an integer", name));
          }
        }
        auto map = service.Map(crm::TenantId(req.principal->tenant_id), limit, clusters);
        if (!map.ok()) return Fail(req, map.status());
        return HttpResponse::Json(200, EmbeddingMapJson(*map));
      },
      {.min_role = Role::kReadonly,
       .summary = "The tenant's session embeddings in 2-D, clustered and labelled"});

  router.Add("POST", "/v1/memory/search",
             [&service](HttpRequest& req) {
               core::JsonBody body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto search = ParseSearch(req, body.object);
               if (!search.ok()) return Fail(req, search.status());
               auto result = service.Search(*search);
               if (!result.ok()) return Fail(req, result.status());
               return HttpResponse::Json(200, SearchResultJson(*result));
             },
             {.min_role = Role::kAgent, .summary = "Hybrid memory search for a contact"});

  router.Add("GET", "/v1/contacts/{id}/facts",
             [&service](HttpRequest& req) {
               const std::string& id = req.PathParam("id");
               if (!core::IsUuid(id)) return Fail(req, Status::NotFound("contact not found"));
               std::optional<int64_t> as_of;
               bool history = false;
               for (auto& [name, value] : core::ParseQuery(req.query)) {
                 if (name == "as_of") {
                   auto t = ParseTime("as_of", value);
                   if (!t.ok()) return Fail(req, t.status());
                   as_of = *t;
                 } else if (name == "include_history") {
                   if (value != "true" && value != "false") {
                     return BadRequest(req,
                                       "query parameter 'include_history' must be true or false");
                   }
                   history = value == "true";
                 } else {
                   return BadRequest(req, fmt::format("unknown query parameter '{}'", name));
                 }
               }
               auto facts = service.ListFacts(crm::TenantId(req.principal->tenant_id),
                                              crm::ContactId(id), as_of, history);
               if (!facts.ok()) return Fail(req, facts.status());
               std::string out = R"({"items":[)";
               for (size_t i = 0; i < facts->size(); ++i) {
                 if (i) out.push_back(',');
                 out += FactJson((*facts)[i]);
               }
               out += "]}";
               return HttpResponse::Json(200, std::move(out));
             },
             {.min_role = Role::kReadonly, .summary = "A contact's memory facts"});

  router.Add(
      "GET", "/v1/contacts/{id}/summary",
      [&service](HttpRequest& req) {
        const std::string& id = req.PathParam("id");
        if (!core::IsUuid(id)) return Fail(req, Status::NotFound("contact not found"));
        int sessions = 5;
        for (auto& [name, value] : core::ParseQuery(req.query)) {
          if (name != "sessions") {
            return BadRequest(req, fmt::format("unknown query parameter '{}'", name));
          }
          auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), sessions);
          if (ec != std::errc() || end != value.data() + value.size() || sessions < 1 ||
              sessions > 50) {
            return BadRequest(req, "query parameter 'sessions' must be an integer from 1 to 50");
          }
        }
        auto summary =
            service.Summary(crm::TenantId(req.principal->tenant_id), crm::ContactId(id), sessions);
        if (!summary.ok()) return Fail(req, summary.status());
        return HttpResponse::Json(200, ContactSummaryJson(*summary));
      },
      {.min_role = Role::kReadonly,
       .summary = "What the memory knows about a contact: stats, facts, latest sessions"});

  router.Add("POST", "/v1/contacts/{id}/facts",
             [&service](HttpRequest& req) {
               const std::string& id = req.PathParam("id");
               if (!core::IsUuid(id)) return Fail(req, Status::NotFound("contact not found"));
               core::JsonBody body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto input = ParseFact(body.object);
               if (!input.ok()) return Fail(req, input.status());
               auto fact = service.AddFact(crm::TenantId(req.principal->tenant_id),
                                           crm::ContactId(id), *input);
               if (!fact.ok()) return Fail(req, fact.status());
               return HttpResponse::Json(201, FactJson(*fact));
             },
             {.min_role = Role::kAgent, .summary = "Record a memory fact about a contact"});
}

}  // namespace ventros::memory
