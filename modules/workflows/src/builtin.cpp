// The built-in workflows (lead nurturing, customer onboarding) and the recording implementation of
// the outside systems. Only activity names: the composition root binds them to the CRM, the
// agents and the outside systems.

#include "ventros/workflows/builtin.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "ventros/core/json.hpp"

namespace ventros::workflows {

namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

int64_t Int(const json::value& v, std::string_view key) {
  if (!v.is_object()) return 0;
  auto* x = v.as_object().if_contains(key);
  if (!x) return 0;
  if (x->is_int64()) return x->as_int64();
  if (x->is_uint64()) return static_cast<int64_t>(x->as_uint64());
  if (x->is_double()) return static_cast<int64_t>(x->as_double());
  return 0;
}
bool Bool(const json::value& v, std::string_view key) {
  if (!v.is_object()) return false;
  auto* x = v.as_object().if_contains(key);
  return x && x->is_bool() && x->as_bool();
}

// Activities that call a language model: an attempt may take minutes (a hosted model's retries);
// its lease covers that, so no other worker starts the same attempt meanwhile.
ActivityOptions ModelCall() {
  ActivityOptions o;
  o.retry.initial_interval = milliseconds(5000);
  o.retry.maximum_interval = milliseconds(300000);
  o.retry.maximum_attempts = 10;
  o.retry.non_retryable_error_kinds = {"rejected", "invalid"};
  o.start_to_close = milliseconds(300000);
  return o;
}

ActivityOptions Retrying(int attempts) {
  ActivityOptions o;
  o.retry.initial_interval = milliseconds(1000);
  o.retry.maximum_interval = milliseconds(60000);
  o.retry.maximum_attempts = attempts;
  o.retry.non_retryable_error_kinds = {"rejected", "invalid"};
  return o;
}

// A step that waits until `day` after the start, counting "contact_replied" signals meanwhile,
// then goes to `next`.
Step WaitUntilDay(int day, std::string next, std::string self) {
  return [day, next, self](StepContext& c) {
    json::value last = c.last;
    if (!last.is_null() && !c.timed_out && last.is_object() && last.as_object().contains("reply")) {
      c.state["replies"] = Int(c.state, "replies") + 1;
    }
    int64_t until = Int(c.state, "started_at") + day * kDayMs;
    int64_t remaining = until - c.now_ms;
    if (remaining <= 0) return Command::Goto(next);
    return Command::WaitSignal("contact_replied", milliseconds(remaining), self, next);
  };
}

json::object ContactInput(const StepContext& c) {
  return json::object{{"contact_id", core::StringField(c.state, "contact_id")}};
}

}  // namespace

std::string LeadNurturingId(const std::string& contact_id) {
  return std::string(kLeadNurturing) + ":" + contact_id;
}

Definition LeadNurturing() {
  Definition d;
  d.type = kLeadNurturing;
  d.first_step = "start";
  d.id_reuse = IdReusePolicy::kAllowDuplicateFailedOnly;
  auto& s = d.steps;
  s["start"] = [](StepContext& c) {
    if (core::StringField(c.state, "contact_id").empty()) {
      return Command::Fail("invalid", "lead_nurturing needs input {contact_id}");
    }
    c.state["started_at"] = c.now_ms;
    c.state["replies"] = 0;
    json::object in = ContactInput(c);
    in["kind"] = "welcome";
    return Command::Activity("send_message", in, "wait_day3", Retrying(5));
  };
  s["wait_day3"] = WaitUntilDay(3, "engagement", "wait_day3");
  s["engagement"] = [](StepContext& c) {
    json::object in = ContactInput(c);
    in["since"] = Int(c.state, "started_at");
    return Command::Activity("engagement_check", in, "after_engagement", Retrying(5));
  };
  s["after_engagement"] = [](StepContext& c) {
    int64_t score = std::max(Int(c.last, "inbound_messages"), Int(c.state, "replies"));
    c.state["engagement_score"] = score;
    if (score < 5) {
      json::object in = ContactInput(c);
      in["category"] = "sales_prospecting";
      in["purpose"] = "engagement";
      return Command::Activity("ai_outreach", in, "wait_day7", ModelCall());
    }
    return Command::Goto("wait_day7");
  };
  s["wait_day7"] = WaitUntilDay(7, "qualify", "wait_day7");
  s["qualify"] = [](StepContext& c) {
    return Command::Activity("qualify_lead", ContactInput(c), "after_qualify", ModelCall());
  };
  s["after_qualify"] = [](StepContext& c) {
    c.state["qualification"] = c.last;
    if (Bool(c.last, "is_qualified")) {
      json::object in = ContactInput(c);
      in["stage"] = "qualified";
      return Command::Activity("move_pipeline_stage", in, "wait_day14", Retrying(5));
    }
    return Command::Goto("wait_day14");
  };
  s["wait_day14"] = WaitUntilDay(14, "retention", "wait_day14");
  s["retention"] = [](StepContext& c) {
    return Command::Activity("retention_check", ContactInput(c), "after_retention", ModelCall());
  };
  s["after_retention"] = [](StepContext& c) {
    c.state["retention"] = c.last;
    if (Bool(c.last, "at_risk")) {
      json::object in = ContactInput(c);
      in["category"] = "retention_churn";
      in["purpose"] = "retention";
      return Command::Activity("ai_outreach", in, "wait_day30", ModelCall());
    }
    return Command::Goto("wait_day30");
  };
  s["wait_day30"] = WaitUntilDay(30, "handover", "wait_day30");
  s["handover"] = [](StepContext& c) {
    json::object in = ContactInput(c);
    in["reason"] = "lead nurturing: day 30";
    return Command::Activity("assign_to_human", in, "done", Retrying(5));
  };
  s["done"] = [](StepContext& c) {
    const json::value* q = c.state.if_contains("qualification");
    return Command::Complete(json::object{{"qualified", q ? Bool(*q, "is_qualified") : false},
                                          {"engagement_score", Int(c.state, "engagement_score")},
                                          {"replies", Int(c.state, "replies")}});
  };
  return d;
}

const std::vector<std::pair<std::string, std::string>>& OnboardingSteps() {
  static const std::vector<std::pair<std::string, std::string>> steps = {
      {"create_account", "delete_account"},
      {"setup_billing", "cancel_billing"},
      {"ai_welcome", "send_apology"},
      {"provision_resources", "deprovision_resources"},
      {"activate_subscription", "suspend_subscription"},
  };
  return steps;
}

Definition CustomerOnboarding() {
  Definition d;
  d.type = kCustomerOnboarding;
  d.first_step = "create_account";
  d.id_reuse = IdReusePolicy::kRejectDuplicate;
  const auto& steps = OnboardingSteps();
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string op = steps[i].first, undo = steps[i].second;
    const std::string next = i + 1 < steps.size() ? steps[i + 1].first : "done";
    d.steps[op] = [op, undo, next](StepContext& c) {
      if (op == "create_account" && core::StringField(c.state, "contact_id").empty()) {
        return Command::Fail("invalid", "customer_onboarding needs input {contact_id, plan}");
      }
      if (!c.last.is_null()) c.state["last_result"] = c.last;
      json::object in{{"contact_id", core::StringField(c.state, "contact_id")},
                      {"subscription_id", core::StringField(c.state, "subscription_id")},
                      {"plan", core::StringField(c.state, "plan")}};
      return Command::Activity(op, in, next, Retrying(5), Compensation{undo, in});
    };
  }
  d.steps["done"] = [](StepContext& c) {
    return Command::Complete(json::object{{"contact_id", core::StringField(c.state, "contact_id")},
                                          {"plan", core::StringField(c.state, "plan")},
                                          {"status", "active"}});
  };
  return d;
}

// ---------------------------------------------------------------- outside systems

ActivityResult RecordingExternalSystems::Call(const std::string& operation,
                                              const ActivityContext& ctx) {
  std::lock_guard lock(mu_);
  ++attempts_[operation];
  if (auto it = fail_always_.find(operation); it != fail_always_.end()) {
    return ActivityError{it->second, operation + " refused (told to fail)"};
  }
  if (auto it = fail_next_.find(operation); it != fail_next_.end() && it->second.first > 0) {
    --it->second.first;
    return ActivityError{it->second.second, operation + " failed (told to fail)"};
  }
  if (auto it = by_key_.find(ctx.idempotency_key); it != by_key_.end()) {
    return json::parse(it->second);  // done already: the same answer, not done twice
  }
  json::object result{{"operation", operation},
                      {"reference", fmt::format("{}-{}", operation, done_.size() + 1)}};
  done_.push_back(Record{operation, ctx.idempotency_key, ctx.workflow_id,
                         json::serialize(ctx.input), ctx.attempt});
  by_key_[ctx.idempotency_key] = json::serialize(result);
  return json::value(std::move(result));
}

void RecordingExternalSystems::FailNext(const std::string& operation, int times,
                                        const std::string& kind) {
  std::lock_guard lock(mu_);
  fail_next_[operation] = {times, kind};
}

void RecordingExternalSystems::FailAlways(const std::string& operation, const std::string& kind) {
  std::lock_guard lock(mu_);
  fail_always_[operation] = kind;
}

void RecordingExternalSystems::Reset() {
  std::lock_guard lock(mu_);
  fail_next_.clear();
  fail_always_.clear();
}

std::vector<RecordingExternalSystems::Record> RecordingExternalSystems::Done() const {
  std::lock_guard lock(mu_);
  return done_;
}

std::vector<std::string> RecordingExternalSystems::Operations() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : done_) out.push_back(r.operation);
  return out;
}

int RecordingExternalSystems::Attempts(const std::string& operation) const {
  std::lock_guard lock(mu_);
  auto it = attempts_.find(operation);
  return it == attempts_.end() ? 0 : it->second;
}

void BindOnboardingActivities(Engine& engine, ExternalSystems& systems) {
  for (const auto& [op, undo] : OnboardingSteps()) {
    for (const std::string& name : {op, undo}) {
      engine.BindActivity(
          name, [&systems, name](const ActivityContext& ctx) { return systems.Call(name, ctx); });
    }
  }
}

}  // namespace ventros::workflows
