// REST edges for tenants and API keys: parse, validate, call TenantService, map the Result.

#include <fmt/format.h>

#include "ventros/core/json.hpp"
#include "ventros/crm/tenants.hpp"

namespace ventros::crm {

using core::HttpRequest;
using core::HttpResponse;
using core::json::object;

std::string TenantJson(const Tenant& t) {
  object o;
  o["id"] = t.id.str();
  o["name"] = t.name;
  o["created_at"] = core::FormatTimestamp(t.created_at);
  return core::json::serialize(o);
}

namespace {

object KeyObject(const ApiKey& k) {
  object o;
  o["id"] = k.id.str();
  o["tenant_id"] = k.tenant_id.str();
  o["name"] = k.name;
  o["role"] = std::string(core::RoleName(k.role));
  o["prefix"] = k.prefix;
  o["created_at"] = core::FormatTimestamp(k.created_at);
  o["last_used_at"] = k.last_used_at ? core::json::value(core::FormatTimestamp(*k.last_used_at))
                                     : core::json::value(nullptr);
  o["revoked_at"] = k.revoked_at ? core::json::value(core::FormatTimestamp(*k.revoked_at))
                                 : core::json::value(nullptr);
  return o;
}

TenantId TenantOf(const HttpRequest& req) { return TenantId(req.principal->tenant_id); }

}  // namespace

std::string ApiKeyJson(const ApiKey& key, const std::string* secret) {
  object o = KeyObject(key);
  if (secret) o["key"] = *secret;
  return core::json::serialize(o);
}

void RegisterTenantRoutes(core::Router& router, TenantService& service) {
  using core::Role;
  router.Add("GET", "/v1/tenant",
             [&service](HttpRequest& req) {
               auto t = service.GetTenant(TenantOf(req));
               if (!t.ok()) return HttpResponse::FromStatus(t.status(), req.request_id);
               return HttpResponse::Json(200, TenantJson(*t));
             },
             {.min_role = Role::kReadonly, .summary = "The caller's tenant"});

  router.Add("GET", "/v1/api-keys",
             [&service](HttpRequest& req) {
               auto keys = service.ListApiKeys(TenantOf(req));
               if (!keys.ok()) return HttpResponse::FromStatus(keys.status(), req.request_id);
               core::json::array items;
               for (const auto& k : *keys) items.push_back(KeyObject(k));
               object o;
               o["items"] = std::move(items);
               return HttpResponse::Json(200, core::json::serialize(o));
             },
             {.min_role = Role::kAdmin, .summary = "List the tenant's API keys"});

  router.Add(
      "POST", "/v1/api-keys",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        auto fail = [&](const Status& st) { return HttpResponse::FromStatus(st, req.request_id); };
        if (auto st = core::RejectUnknownFields(body.object, {"role", "name"}); !st.ok()) {
          return fail(st);
        }
        auto role_text = core::RequireString(body.object, "role");
        if (!role_text.ok()) return fail(role_text.status());
        auto role = core::ParseRole(*role_text);
        if (!role) {
          return fail(Status::InvalidArgument(
              fmt::format("field 'role' must be admin, agent or readonly; got '{}'", *role_text)));
        }
        auto name = core::OptionalString(body.object, "name");
        if (!name.ok()) return fail(name.status());
        auto created = service.CreateApiKey(TenantOf(req), *role, name->value_or(""));
        if (!created.ok()) return fail(created.status());
        return HttpResponse::Json(201, ApiKeyJson(created->key, &created->secret));
      },
      {.min_role = Role::kAdmin, .summary = "Create an API key (the key is shown once)"});

  router.Add("DELETE", "/v1/api-keys/{id}",
             [&service](HttpRequest& req) {
               const std::string& id = req.PathParam("id");
               if (!core::IsUuid(id)) {
                 return HttpResponse::FromStatus(
                     Status::NotFound(fmt::format("api key {} not found", id)), req.request_id);
               }
               auto revoked = service.RevokeApiKey(TenantOf(req), ApiKeyId(id));
               if (!revoked.ok()) return HttpResponse::FromStatus(revoked.status(), req.request_id);
               return HttpResponse::NoContent();
             },
             {.min_role = Role::kAdmin, .summary = "Revoke an API key"});
}

}  // namespace ventros::crm
