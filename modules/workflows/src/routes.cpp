// REST edges of the workflows and the triggers store. The tenant comes from the API key only;
// another tenant's workflow is a 404.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>

#include "ventros/core/json.hpp"
#include "ventros/workflows/api.hpp"
#include "ventros/workflows/builtin.hpp"

namespace ventros::workflows {

using core::DbValue;
using core::HttpRequest;
using core::HttpResponse;
using core::Role;
namespace json = boost::json;

namespace {

HttpResponse Fail(const HttpRequest& req, const Status& st) {
  return HttpResponse::FromStatus(st, req.request_id);
}

const std::string& TenantOf(const HttpRequest& req) { return req.principal->tenant_id; }

const std::vector<std::string>& TriggerTypes() {
  static const std::vector<std::string> types = {kLeadNurturing};
  return types;
}

}  // namespace

Status Triggers::Set(const std::string& tenant, const std::string& type, bool enabled) {
  const auto& types = TriggerTypes();
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    return Status::InvalidArgument(
        fmt::format("workflow '{}' has no trigger (known: lead_nurturing)", type));
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto up, conn->Query("INSERT INTO workflow_triggers (tenant_id, type, enabled, updated_at) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, type) DO UPDATE SET "
                           "enabled = excluded.enabled, updated_at = excluded.updated_at",
                           {DbValue(tenant), DbValue(type), DbValue(int64_t{enabled ? 1 : 0}),
                            DbValue(clock_.NowMillis())}));
  (void)up;
  return Status::Ok();
}

Result<bool> Triggers::Enabled(const std::string& tenant, const std::string& type) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT enabled FROM workflow_triggers WHERE tenant_id = $1 AND "
                             "type = $2",
                             {DbValue(tenant), DbValue(type)}));
  return !rows.empty() && rows.rows[0].GetInt(0) != 0;
}

Result<std::map<std::string, bool>> Triggers::List(const std::string& tenant) {
  std::map<std::string, bool> out;
  for (const auto& t : TriggerTypes()) out[t] = false;
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT type, enabled FROM workflow_triggers WHERE tenant_id = $1",
                             {DbValue(tenant)}));
  for (const auto& r : rows.rows) out[r.GetText(0)] = r.GetInt(1) != 0;
  return out;
}

void RegisterWorkflowRoutes(core::Router& router, Engine& engine, Triggers& triggers) {
  router.Add(
      "GET", "/v1/workflows",
      [&engine](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {"type", "status", "limit"}); !st.ok())
          return Fail(req, st);
        int limit = 50;
        if (auto l = req.QueryParam("limit")) {
          auto [end, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
          if (ec != std::errc() || end != l->data() + l->size() || limit < 1 || limit > 500) {
            return Fail(req, Status::InvalidArgument("query parameter 'limit' must be 1..500"));
          }
        }
        auto status = req.QueryParam("status");
        if (status && *status != "running" && *status != "completed" && *status != "failed" &&
            *status != "cancelled") {
          return Fail(req, Status::InvalidArgument(
                               "query parameter 'status' must be running, completed, failed or "
                               "cancelled"));
        }
        auto list = engine.List(TenantOf(req), req.QueryParam("type"), status, limit);
        if (!list.ok()) return Fail(req, list.status());
        std::string out = R"({"items":[)";
        for (size_t i = 0; i < list->size(); ++i) {
          if (i) out.push_back(',');
          out += WorkflowJson((*list)[i], false);
        }
        return HttpResponse::Json(200, out + "]}");
      },
      {.min_role = Role::kReadonly, .summary = "List workflows (by type and status)"});

  router.Add("GET", "/v1/workflows/{id}",
             [&engine](HttpRequest& req) {
               auto w = engine.Get(TenantOf(req), req.PathParam("id"));
               if (!w.ok()) return Fail(req, w.status());
               return HttpResponse::Json(200, WorkflowJson(*w, true));
             },
             {.min_role = Role::kReadonly, .summary = "A workflow: state (the query) and history"});

  router.Add(
      "POST", "/v1/workflows",
      [&engine](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"type", "input", "id"}); !st.ok()) {
          return Fail(req, st);
        }
        auto type = core::RequireString(body.object, "type");
        if (!type.ok()) return Fail(req, type.status());
        auto id = core::OptionalString(body.object, "id");
        if (!id.ok()) return Fail(req, id.status());
        std::string input = "{}";
        if (auto* in = body.object.if_contains("input"); in && !in->is_null()) {
          if (!in->is_object()) {
            return Fail(req, Status::InvalidArgument("field 'input' must be an object"));
          }
          input = json::serialize(*in);
        }
        auto w = engine.StartWorkflow(TenantOf(req), *type, input, *id);
        if (!w.ok()) return Fail(req, w.status());
        HttpResponse res = HttpResponse::Json(201, WorkflowJson(*w, false));
        res.headers.emplace_back("Location", "/v1/workflows/" + w->id);
        return res;
      },
      {.min_role = Role::kAgent, .summary = "Start a workflow"});

  router.Add(
      "POST", "/v1/workflows/{id}/signal",
      [&engine](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"name", "payload"}); !st.ok()) {
          return Fail(req, st);
        }
        auto name = core::RequireString(body.object, "name");
        if (!name.ok()) return Fail(req, name.status());
        std::string payload = "null";
        if (auto* p = body.object.if_contains("payload")) payload = json::serialize(*p);
        Status st = engine.Signal(TenantOf(req), req.PathParam("id"), *name, payload);
        if (!st.ok()) return Fail(req, st);
        return HttpResponse::Json(202, R"({"accepted":true})");
      },
      {.min_role = Role::kAgent, .summary = "Send a signal to a running workflow"});

  router.Add("POST", "/v1/workflows/{id}/cancel",
             [&engine](HttpRequest& req) {
               Status st = engine.Cancel(TenantOf(req), req.PathParam("id"));
               if (!st.ok()) return Fail(req, st);
               return HttpResponse::Json(202, R"({"accepted":true})");
             },
             {.min_role = Role::kAgent,
              .summary = "Cancel a running workflow (its compensations run first)"});

  router.Add(
      "GET", "/v1/workflow-triggers",
      [&triggers](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {}); !st.ok()) return Fail(req, st);
        auto list = triggers.List(TenantOf(req));
        if (!list.ok()) return Fail(req, list.status());
        json::array items;
        for (const auto& [type, enabled] : *list) {
          items.push_back(
              json::object{{"type", type}, {"event", "contact.created"}, {"enabled", enabled}});
        }
        return HttpResponse::Json(200, json::serialize(json::object{{"items", std::move(items)}}));
      },
      {.min_role = Role::kReadonly, .summary = "Which workflows the tenant's events start"});

  router.Add("PUT", "/v1/workflow-triggers/{type}",
             [&triggers](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               if (auto st = core::RejectUnknownFields(body.object, {"enabled"}); !st.ok()) {
                 return Fail(req, st);
               }
               auto* e = body.object.if_contains("enabled");
               if (!e || !e->is_bool()) {
                 return Fail(req, Status::InvalidArgument("field 'enabled' must be true or false"));
               }
               Status st = triggers.Set(TenantOf(req), req.PathParam("type"), e->as_bool());
               if (!st.ok()) return Fail(req, st);
               return HttpResponse::Json(
                   200, json::serialize(json::object{{"type", req.PathParam("type")},
                                                     {"enabled", e->as_bool()}}));
             },
             {.min_role = Role::kAdmin, .summary = "Enable or disable a workflow trigger"});
}

}  // namespace ventros::workflows
