#pragma once
// The agents registry and the offers agents make: CRM records, owned here so a tenant's agents,
// their offers and the rest of the CRM live and are backed up together. What an agent does with
// its template (instruction, tools, constraints) is the agents module's business; this module
// stores the entity: which template, which category it answers for, its overrides, enabled.
//
// Thread-safety: stateless apart from references; may be shared by all threads.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/status.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"

namespace ventros::crm {

using AgentId = core::StrongId<struct AgentTag>;
using OfferId = core::StrongId<struct OfferTag>;

struct Agent {
  AgentId id;
  TenantId tenant_id;
  std::string template_id;
  std::string category;
  std::string name;
  std::string overrides = "{}";  // JSON object, validated by the agents module
  bool enabled = true;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct AgentPatch {
  std::optional<std::string> name;
  std::optional<std::string> overrides;  // JSON object text
  std::optional<bool> enabled;
};

struct Offer {
  OfferId id;
  TenantId tenant_id;
  ContactId contact_id;
  std::optional<SessionId> session_id;
  std::optional<std::string> agent_id;
  std::string kind = "retention_discount";
  int discount_percent = 0;
  int duration_months = 0;
  std::string reason;
  std::string status = "proposed";  // proposed | accepted | declined | expired
  int64_t created_at = 0;
};

struct OfferInput {
  ContactId contact_id;
  std::optional<SessionId> session_id;
  std::optional<std::string> agent_id;
  int discount_percent = 0;
  int duration_months = 0;
  std::string reason;
  // The same key twice gives the first offer back (a retried agent turn makes no second offer).
  std::string idempotency_key;
};

class AgentRegistry {
 public:
  AgentRegistry(core::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  // Emits agent.created / agent.updated. Names are unique per tenant (Conflict).
  Result<Agent> CreateAgent(const TenantId& tenant, const std::string& template_id,
                            const std::string& category, const std::string& name,
                            const std::string& overrides_json);
  Result<Agent> GetAgent(const TenantId& tenant, const AgentId& id);
  Result<std::vector<Agent>> ListAgents(const TenantId& tenant, std::optional<std::string> category,
                                        bool include_disabled);
  Result<Agent> UpdateAgent(const TenantId& tenant, const AgentId& id, const AgentPatch& patch);
  // The enabled agent that answers for a category: the most recently created; nullopt when none.
  Result<std::optional<Agent>> AgentFor(const TenantId& tenant, const std::string& category);

  // Offers. Emits offer.created (key: the contact). Inside the caller's transaction.
  Result<Offer> CreateOffer(core::Connection& conn, const TenantId& tenant,
                            const OfferInput& input);
  Result<std::vector<Offer>> ListOffers(const TenantId& tenant, std::optional<ContactId> contact);
  Result<std::vector<Offer>> ListOffers(core::Connection& conn, const TenantId& tenant,
                                        const ContactId& contact);

 private:
  core::Database& db_;
  const core::Clock& clock_;
};

std::string AgentJson(const Agent& a);
std::string OfferJson(const Offer& o);

}  // namespace ventros::crm
