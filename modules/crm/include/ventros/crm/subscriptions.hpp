#pragma once
// Subscriptions: a contact's plan. Creating one emits subscription.created, which starts the
// customer onboarding workflow; its steps move the subscription's status: pending -> active when
// activated; cancelled when onboarding fails after the account was created (its deletion, a
// compensation, cancels the subscription); suspended when an activated subscription is
// compensated (a cancelled onboarding).
//
// Thread-safety: stateless apart from references.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/status.hpp"
#include "ventros/crm/messaging.hpp"

namespace ventros::crm {

using SubscriptionId = core::StrongId<struct SubscriptionTag>;

struct Subscription {
  SubscriptionId id;
  TenantId tenant_id;
  ContactId contact_id;
  std::string plan;
  std::string status = "pending";  // pending | active | suspended | cancelled
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

class SubscriptionService {
 public:
  SubscriptionService(core::Database& db, const core::Clock& clock, core::EventBus* bus = nullptr)
      : db_(db), clock_(clock), bus_(bus) {}
  // NotFound for another tenant's contact; emits subscription.created (key: the contact).
  Result<Subscription> Create(const TenantId& tenant, const ContactId& contact,
                              const std::string& plan);
  Result<Subscription> Get(const TenantId& tenant, const SubscriptionId& id);
  Result<std::vector<Subscription>> List(const TenantId& tenant, std::optional<ContactId> contact);
  // Emits subscription.updated when the status changes.
  Result<Subscription> SetStatus(const TenantId& tenant, const SubscriptionId& id,
                                 const std::string& status);

 private:
  core::Database& db_;
  const core::Clock& clock_;
  core::EventBus* bus_;
};

std::string SubscriptionJson(const Subscription& s);
// POST /v1/subscriptions, GET /v1/subscriptions, GET /v1/subscriptions/{id}.
void RegisterSubscriptionRoutes(core::Router& router, SubscriptionService& service);

}  // namespace ventros::crm
