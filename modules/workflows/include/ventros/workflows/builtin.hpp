#pragma once
// The built-in workflows, and the outside systems the customer onboarding talks to.
//
// lead_nurturing (input {contact_id}; id "lead_nurturing:<contact_id>", one per contact):
//   day 0  send_message {contact_id, kind: "welcome"}
//   day 3  engagement_check {contact_id, since} -> {inbound_messages}; the score is the customer's
//          messages since the start (each contact_replied signal is one); below 5 ->
//          ai_outreach {contact_id, category: "sales_prospecting", purpose: "engagement"}
//   day 7  qualify_lead {contact_id} -> {is_qualified, score, ...}; qualified ->
//          move_pipeline_stage {contact_id, stage: "qualified"}
//   day 14 retention_check {contact_id} -> {at_risk, reasons}; at risk ->
//          ai_outreach {contact_id, category: "retention_churn", purpose: "retention"}
//   day 30 assign_to_human {contact_id, reason}; completes with {qualified, engagement_score,
//          replies}
//   Between the days it waits for the signal "contact_replied" (sent on each customer message),
//   counting replies; a reply never delays a day's step.
//
// customer_onboarding (input {contact_id, subscription_id, plan}), a saga: create_account,
//   setup_billing, ai_welcome, provision_resources, activate_subscription; their compensations
//   delete_account, cancel_billing, send_apology, deprovision_resources, suspend_subscription
//   run in reverse order when a step fails for good (error kind "rejected" is never retried;
//   others up to 5 attempts) or the workflow is cancelled.

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ventros/workflows/engine.hpp"

namespace ventros::workflows {

inline constexpr const char* kLeadNurturing = "lead_nurturing";
inline constexpr const char* kCustomerOnboarding = "customer_onboarding";

Definition LeadNurturing();
Definition CustomerOnboarding();
std::string LeadNurturingId(const std::string& contact_id);

// The onboarding's outside operations, in order, and their compensations.
const std::vector<std::pair<std::string, std::string>>& OnboardingSteps();

// Outside systems (accounts, billing, provisioning) behind one call per operation.
class ExternalSystems {
 public:
  virtual ~ExternalSystems() = default;
  virtual ActivityResult Call(const std::string& operation, const ActivityContext& ctx) = 0;
};

// The built-in implementation: records what it did (idempotent by the activity's key: the same
// key twice is done once) and can be told to fail, for tests and demos.
//
// Thread-safety: thread-safe.
class RecordingExternalSystems : public ExternalSystems {
 public:
  struct Record {
    std::string operation, idempotency_key, workflow_id;
    std::string input;  // JSON
    int attempt = 0;
  };
  ActivityResult Call(const std::string& operation, const ActivityContext& ctx) override;
  // The next `times` calls of `operation` fail with `kind` ("rejected": never retried).
  void FailNext(const std::string& operation, int times, const std::string& kind = "unavailable");
  // Every call of `operation` fails with `kind` (until Reset).
  void FailAlways(const std::string& operation, const std::string& kind = "rejected");
  void Reset();
  std::vector<Record> Done() const;                  // operations done, in order (once per key)
  std::vector<std::string> Operations() const;       // their names
  int Attempts(const std::string& operation) const;  // calls, failed ones included

 private:
  mutable std::mutex mu_;
  std::vector<Record> done_;
  std::map<std::string, std::string> by_key_;  // key -> result JSON
  std::map<std::string, std::pair<int, std::string>> fail_next_;
  std::map<std::string, std::string> fail_always_;
  std::map<std::string, int> attempts_;
};

// Binds the ten onboarding operations to `systems` (which must outlive the engine).
void BindOnboardingActivities(Engine& engine, ExternalSystems& systems);

}  // namespace ventros::workflows
