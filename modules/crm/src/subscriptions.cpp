#include "ventros/crm/subscriptions.hpp"

#include <fmt/format.h>

#include "ventros/core/json.hpp"

namespace ventros::crm {

using core::DbValue;
using core::HttpRequest;
using core::HttpResponse;
using core::Role;
namespace json = core::json;

namespace {

constexpr const char* kCols = "id, tenant_id, contact_id, plan, status, created_at, updated_at";

Subscription FromRow(const core::DbRow& r) {
  Subscription s;
  s.id = SubscriptionId(r.GetText(0));
  s.tenant_id = TenantId(r.GetText(1));
  s.contact_id = ContactId(r.GetText(2));
  s.plan = r.GetText(3);
  s.status = r.GetText(4);
  s.created_at = r.GetInt(5);
  s.updated_at = r.GetInt(6);
  return s;
}

Status Emit(core::Connection& conn, const core::Clock& clock, const std::string& type,
            const Subscription& s) {
  return core::AppendEvent(conn, clock, type, s.tenant_id.str(), s.contact_id.str(),
                           SubscriptionJson(s));
}

HttpResponse Fail(const HttpRequest& req, const Status& st) {
  return HttpResponse::FromStatus(st, req.request_id);
}

}  // namespace

Result<Subscription> SubscriptionService::Create(const TenantId& tenant, const ContactId& contact,
                                                 const std::string& plan) {
  if (plan.empty() || plan.size() > 100) {
    return Status::InvalidArgument("field 'plan' must have 1..100 characters");
  }
  if (!core::IsUuid(contact.str())) {
    return Status::NotFound(fmt::format("contact {} not found", contact.str()));
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(auto found,
                           conn->Query("SELECT id FROM contacts WHERE id = $1 AND tenant_id = $2",
                                       {DbValue(contact.str()), DbValue(tenant.str())}));
  if (found.empty()) return Status::NotFound(fmt::format("contact {} not found", contact.str()));
  Subscription s;
  s.id = SubscriptionId(core::NewUuidV7(clock_));
  s.tenant_id = tenant;
  s.contact_id = contact;
  s.plan = plan;
  s.created_at = s.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto ins, conn->Query(fmt::format("INSERT INTO subscriptions ({}) VALUES ($1, $2, $3, $4, "
                                        "$5, $6, $6)",
                                        kCols),
                            {DbValue(s.id.str()), DbValue(tenant.str()), DbValue(contact.str()),
                             DbValue(plan), DbValue(s.status), DbValue(s.created_at)}));
  (void)ins;
  VENTROS_RETURN_IF_ERROR(Emit(*conn, clock_, "subscription.created", s));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return s;
}

Result<Subscription> SubscriptionService::Get(const TenantId& tenant, const SubscriptionId& id) {
  if (!core::IsUuid(id.str())) {
    return Status::NotFound(fmt::format("subscription {} not found", id.str()));
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto rows,
                           conn->Query(fmt::format("SELECT {} FROM subscriptions WHERE id = $1 AND "
                                                   "tenant_id = $2",
                                                   kCols),
                                       {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("subscription {} not found", id.str()));
  return FromRow(rows.rows[0]);
}

Result<std::vector<Subscription>> SubscriptionService::List(const TenantId& tenant,
                                                            std::optional<ContactId> contact) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM subscriptions WHERE tenant_id = $1 AND ($2 = '' OR "
                              "contact_id = $2) ORDER BY created_at DESC, id DESC LIMIT 500",
                              kCols),
                  {DbValue(tenant.str()), DbValue(contact ? contact->str() : std::string())}));
  std::vector<Subscription> out;
  for (const auto& r : rows.rows) out.push_back(FromRow(r));
  return out;
}

Result<Subscription> SubscriptionService::SetStatus(const TenantId& tenant,
                                                    const SubscriptionId& id,
                                                    const std::string& status) {
  if (status != "pending" && status != "active" && status != "suspended" && status != "cancelled") {
    return Status::InvalidArgument("status must be pending, active, suspended or cancelled");
  }
  VENTROS_ASSIGN_OR_RETURN(Subscription s, Get(tenant, id));
  if (s.status == status) return s;
  s.status = status;
  s.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE subscriptions SET status = $1, updated_at = $2 WHERE id = $3 "
                            "AND tenant_id = $4",
                            {DbValue(status), DbValue(s.updated_at), DbValue(id.str()),
                             DbValue(tenant.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(Emit(*conn, clock_, "subscription.updated", s));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return s;
}

std::string SubscriptionJson(const Subscription& s) {
  return json::serialize(json::object{{"id", s.id.str()},
                                      {"contact_id", s.contact_id.str()},
                                      {"plan", s.plan},
                                      {"status", s.status},
                                      {"created_at", core::FormatTimestamp(s.created_at)},
                                      {"updated_at", core::FormatTimestamp(s.updated_at)}});
}

void RegisterSubscriptionRoutes(core::Router& router, SubscriptionService& service) {
  router.Add(
      "POST", "/v1/subscriptions",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"contact_id", "plan"}); !st.ok()) {
          return Fail(req, st);
        }
        auto contact = core::RequireString(body.object, "contact_id");
        if (!contact.ok()) return Fail(req, contact.status());
        auto plan = core::RequireString(body.object, "plan");
        if (!plan.ok()) return Fail(req, plan.status());
        auto s = service.Create(TenantId(req.principal->tenant_id), ContactId(*contact), *plan);
        if (!s.ok()) return Fail(req, s.status());
        HttpResponse res = HttpResponse::Json(201, SubscriptionJson(*s));
        res.headers.emplace_back("Location", "/v1/subscriptions/" + s->id.str());
        return res;
      },
      {.min_role = Role::kAgent,
       .summary = "Create a subscription (starts the customer onboarding workflow)"});
  router.Add("GET", "/v1/subscriptions",
             [&service](HttpRequest& req) {
               std::optional<ContactId> contact;
               for (const auto& [k, v] : core::ParseQuery(req.query)) {
                 if (k != "contact_id") {
                   return Fail(req, Status::InvalidArgument("unknown query parameter '" + k + "'"));
                 }
                 if (!core::IsUuid(v)) {
                   return Fail(
                       req, Status::InvalidArgument("query parameter 'contact_id' must be an id"));
                 }
                 contact = ContactId(v);
               }
               auto list = service.List(TenantId(req.principal->tenant_id), contact);
               if (!list.ok()) return Fail(req, list.status());
               std::string out = R"({"items":[)";
               for (size_t i = 0; i < list->size(); ++i) {
                 if (i) out.push_back(',');
                 out += SubscriptionJson((*list)[i]);
               }
               return HttpResponse::Json(200, out + "]}");
             },
             {.min_role = Role::kReadonly, .summary = "List subscriptions"});
  router.Add("GET", "/v1/subscriptions/{id}",
             [&service](HttpRequest& req) {
               auto s = service.Get(TenantId(req.principal->tenant_id),
                                    SubscriptionId(req.PathParam("id")));
               if (!s.ok()) return Fail(req, s.status());
               return HttpResponse::Json(200, SubscriptionJson(*s));
             },
             {.min_role = Role::kReadonly, .summary = "Get a subscription"});
}

}  // namespace ventros::crm
