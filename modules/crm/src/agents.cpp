#include "ventros/crm/agents.hpp"

#include <fmt/format.h>

#include "ventros/core/json.hpp"

namespace ventros::crm {

using core::DbValue;
namespace json = core::json;

namespace {

constexpr const char* kAgentCols =
    "id, tenant_id, template_id, category, name, overrides, enabled, created_at, updated_at";

Agent AgentFromRow(const core::DbRow& r) {
  Agent a;
  a.id = AgentId(r.GetText(0));
  a.tenant_id = TenantId(r.GetText(1));
  a.template_id = r.GetText(2);
  a.category = r.GetText(3);
  a.name = r.GetText(4);
  a.overrides = r.GetText(5);
  a.enabled = r.GetInt(6) != 0;
  a.created_at = r.GetInt(7);
  a.updated_at = r.GetInt(8);
  return a;
}

constexpr const char* kOfferCols =
    "id, tenant_id, contact_id, session_id, agent_id, kind, discount_percent, duration_months, "
    "reason, status, created_at";

Offer OfferFromRow(const core::DbRow& r) {
  Offer o;
  o.id = OfferId(r.GetText(0));
  o.tenant_id = TenantId(r.GetText(1));
  o.contact_id = ContactId(r.GetText(2));
  if (auto s = r.GetOptText(3)) o.session_id = SessionId(*s);
  o.agent_id = r.GetOptText(4);
  o.kind = r.GetText(5);
  o.discount_percent = static_cast<int>(r.GetInt(6));
  o.duration_months = static_cast<int>(r.GetInt(7));
  o.reason = r.GetText(8);
  o.status = r.GetText(9);
  o.created_at = r.GetInt(10);
  return o;
}

Status ValidName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("field 'name' must not be empty");
  if (name.size() > 200) return Status::InvalidArgument("field 'name' is too long (at most 200)");
  return Status::Ok();
}

Status ValidOverrides(const std::string& text) {
  if (text.size() > 65536) return Status::InvalidArgument("field 'overrides' is too large");
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("field 'overrides' must be an object");
  return Status::Ok();
}

bool IsUniqueViolation(const Status& st) {
  return st.code() == core::StatusCode::kAlreadyExists ||
         st.message().find("UNIQUE") != std::string::npos ||
         st.message().find("unique") != std::string::npos;
}

}  // namespace

Result<Agent> AgentRegistry::CreateAgent(const TenantId& tenant, const std::string& template_id,
                                         const std::string& category, const std::string& name,
                                         const std::string& overrides_json) {
  VENTROS_RETURN_IF_ERROR(ValidName(name));
  VENTROS_RETURN_IF_ERROR(ValidOverrides(overrides_json));
  Agent a;
  a.id = AgentId(core::NewUuidV7(clock_));
  a.tenant_id = tenant;
  a.template_id = template_id;
  a.category = category;
  a.name = name;
  a.overrides = overrides_json;
  a.created_at = a.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  auto existing = conn->Query("SELECT id FROM agents WHERE tenant_id = $1 AND name = $2",
                              {DbValue(tenant.str()), DbValue(name)});
  if (!existing.ok()) return existing.status();
  if (!existing->empty()) {
    return Status::AlreadyExists(fmt::format("an agent named \"{}\" already exists", name));
  }
  auto ins = conn->Query(
      "INSERT INTO agents (id, tenant_id, template_id, category, name, overrides, enabled, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
      {DbValue(a.id.str()), DbValue(tenant.str()), DbValue(template_id), DbValue(category),
       DbValue(name), DbValue(overrides_json), DbValue(a.created_at)});
  if (!ins.ok()) {
    if (IsUniqueViolation(ins.status())) {
      return Status::AlreadyExists(fmt::format("an agent named \"{}\" already exists", name));
    }
    return ins.status();
  }
  VENTROS_RETURN_IF_ERROR(
      core::AppendEvent(*conn, clock_, "agent.created", tenant.str(), a.id.str(), AgentJson(a)));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  return a;
}

Result<Agent> AgentRegistry::GetAgent(const TenantId& tenant, const AgentId& id) {
  if (!core::IsUuid(id.str())) return Status::NotFound(fmt::format("agent {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM agents WHERE id = $1 AND tenant_id = $2", kAgentCols),
                  {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("agent {} not found", id.str()));
  return AgentFromRow(rows.rows[0]);
}

Result<std::vector<Agent>> AgentRegistry::ListAgents(const TenantId& tenant,
                                                     std::optional<std::string> category,
                                                     bool include_disabled) {
  std::string where = "tenant_id = $1";
  std::vector<DbValue> params{DbValue(tenant.str())};
  if (category) {
    params.emplace_back(*category);
    where += fmt::format(" AND category = ${}", params.size());
  }
  if (!include_disabled) where += " AND enabled = 1";
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM agents WHERE {} ORDER BY created_at, id",
                                         kAgentCols, where),
                             params));
  std::vector<Agent> out;
  for (const auto& r : rows.rows) out.push_back(AgentFromRow(r));
  return out;
}

Result<Agent> AgentRegistry::UpdateAgent(const TenantId& tenant, const AgentId& id,
                                         const AgentPatch& patch) {
  if (patch.name) VENTROS_RETURN_IF_ERROR(ValidName(*patch.name));
  if (patch.overrides) VENTROS_RETURN_IF_ERROR(ValidOverrides(*patch.overrides));
  VENTROS_ASSIGN_OR_RETURN(Agent a, GetAgent(tenant, id));
  if (patch.name) a.name = *patch.name;
  if (patch.overrides) a.overrides = *patch.overrides;
  if (patch.enabled) a.enabled = *patch.enabled;
  a.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  if (patch.name) {
    VENTROS_ASSIGN_OR_RETURN(
        auto clash, conn->Query("SELECT id FROM agents WHERE tenant_id = $1 AND name = $2 AND id "
                                "<> $3",
                                {DbValue(tenant.str()), DbValue(a.name), DbValue(id.str())}));
    if (!clash.empty()) {
      return Status::AlreadyExists(fmt::format("an agent named \"{}\" already exists", a.name));
    }
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE agents SET name = $1, overrides = $2, enabled = $3, "
                            "updated_at = $4 WHERE id = $5 AND tenant_id = $6",
                            {DbValue(a.name), DbValue(a.overrides), DbValue(a.enabled ? 1 : 0),
                             DbValue(a.updated_at), DbValue(id.str()), DbValue(tenant.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(
      core::AppendEvent(*conn, clock_, "agent.updated", tenant.str(), a.id.str(), AgentJson(a)));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  return a;
}

Result<std::optional<Agent>> AgentRegistry::AgentFor(const TenantId& tenant,
                                                     const std::string& category) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM agents WHERE tenant_id = $1 AND "
                                         "category = $2 AND enabled = 1 ORDER BY created_at DESC, "
                                         "id DESC LIMIT 1",
                                         kAgentCols),
                             {DbValue(tenant.str()), DbValue(category)}));
  if (rows.empty()) return std::optional<Agent>();
  return std::optional<Agent>(AgentFromRow(rows.rows[0]));
}

Result<Offer> AgentRegistry::CreateOffer(core::Connection& conn, const TenantId& tenant,
                                         const OfferInput& in) {
  if (in.idempotency_key.empty() || in.idempotency_key.size() > 200) {
    return Status::InvalidArgument("an offer needs an idempotency key of 1..200 characters");
  }
  if (in.discount_percent < 1 || in.discount_percent > 100) {
    return Status::InvalidArgument("discount_percent must be 1..100");
  }
  if (in.duration_months < 1 || in.duration_months > 120) {
    return Status::InvalidArgument("duration_months must be 1..120");
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto existing,
      conn.Query(fmt::format("SELECT {} FROM offers WHERE tenant_id = $1 AND idempotency_key = $2",
                             kOfferCols),
                 {DbValue(tenant.str()), DbValue(in.idempotency_key)}));
  if (!existing.empty()) return OfferFromRow(existing.rows[0]);
  Offer o;
  o.id = OfferId(core::NewUuidV7(clock_));
  o.tenant_id = tenant;
  o.contact_id = in.contact_id;
  o.session_id = in.session_id;
  o.agent_id = in.agent_id;
  o.discount_percent = in.discount_percent;
  o.duration_months = in.duration_months;
  o.reason = in.reason;
  o.created_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto ins,
      conn.Query("INSERT INTO offers (id, tenant_id, contact_id, session_id, agent_id, kind, "
                 "discount_percent, duration_months, reason, status, idempotency_key, created_at) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                 {DbValue(o.id.str()), DbValue(tenant.str()), DbValue(o.contact_id.str()),
                  o.session_id ? DbValue(o.session_id->str()) : DbValue(nullptr),
                  o.agent_id ? DbValue(*o.agent_id) : DbValue(nullptr), DbValue(o.kind),
                  DbValue(int64_t{o.discount_percent}), DbValue(int64_t{o.duration_months}),
                  DbValue(o.reason), DbValue(o.status), DbValue(in.idempotency_key),
                  DbValue(o.created_at)}));
  (void)ins;
  VENTROS_RETURN_IF_ERROR(core::AppendEvent(conn, clock_, "offer.created", tenant.str(),
                                            o.contact_id.str(), OfferJson(o)));
  return o;
}

Result<std::vector<Offer>> AgentRegistry::ListOffers(core::Connection& conn, const TenantId& tenant,
                                                     const ContactId& contact) {
  VENTROS_ASSIGN_OR_RETURN(auto rows,
                           conn.Query(fmt::format("SELECT {} FROM offers WHERE tenant_id = $1 AND "
                                                  "contact_id = $2 ORDER BY created_at, id",
                                                  kOfferCols),
                                      {DbValue(tenant.str()), DbValue(contact.str())}));
  std::vector<Offer> out;
  for (const auto& r : rows.rows) out.push_back(OfferFromRow(r));
  return out;
}

Result<std::vector<Offer>> AgentRegistry::ListOffers(const TenantId& tenant,
                                                     std::optional<ContactId> contact) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  if (contact) return ListOffers(*conn, tenant, *contact);
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM offers WHERE tenant_id = $1 ORDER BY created_at "
                              "DESC, id DESC LIMIT 500",
                              kOfferCols),
                  {DbValue(tenant.str())}));
  std::vector<Offer> out;
  for (const auto& r : rows.rows) out.push_back(OfferFromRow(r));
  return out;
}

std::string AgentJson(const Agent& a) {
  json::object o;
  o["id"] = a.id.str();
  o["template_id"] = a.template_id;
  o["category"] = a.category;
  o["name"] = a.name;
  boost::system::error_code ec;
  auto overrides = json::parse(a.overrides, ec);
  o["overrides"] = ec ? json::value(json::object()) : overrides;
  o["enabled"] = a.enabled;
  o["created_at"] = core::FormatTimestamp(a.created_at);
  o["updated_at"] = core::FormatTimestamp(a.updated_at);
  return json::serialize(o);
}

std::string OfferJson(const Offer& of) {
  json::object o;
  o["id"] = of.id.str();
  o["contact_id"] = of.contact_id.str();
  o["session_id"] = of.session_id ? json::value(of.session_id->str()) : json::value(nullptr);
  o["agent_id"] = of.agent_id ? json::value(*of.agent_id) : json::value(nullptr);
  o["kind"] = of.kind;
  o["discount_percent"] = of.discount_percent;
  o["duration_months"] = of.duration_months;
  o["reason"] = of.reason;
  o["status"] = of.status;
  o["created_at"] = core::FormatTimestamp(of.created_at);
  return json::serialize(o);
}

}  // namespace ventros::crm
