// The built-in workflows on both engines with a virtual clock: the customer onboarding saga with a
// failure at each step (exact reverse compensations), transient failures retried, a crash between
// steps; lead nurturing's 30 days with its branches and the replies it counts.

#include "ventros/workflows/builtin.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>

#include "support/test_db.hpp"
#include "ventros/workflows/engine.hpp"

namespace ventros::workflows {
namespace {

namespace json = boost::json;
using testing::TestDb;
constexpr int64_t kDay = 24LL * 3600 * 1000;
constexpr const char* kTenant = "tenant-1";

struct World {
  explicit World(core::DbEngine engine)
      : db(engine), database(db.OpenMigrated()), clock(1764000000000) {
    Reset();
  }
  void Reset() {
    engine = std::make_unique<Engine>(*database, clock, core::NullLogger());
    engine->Register(LeadNurturing());
    engine->Register(CustomerOnboarding());
    BindOnboardingActivities(*engine, external);
  }
  // Runs everything due, then moves the clock to the next timer, until `until` (epoch ms).
  void RunUntil(int64_t until) {
    for (int i = 0; i < 1000; ++i) {
      REQUIRE(engine->RunUntilIdle().ok());
      auto next = engine->NextWakeAt();
      REQUIRE(next.ok());
      if (!*next || **next > until) break;
      if (**next > clock.NowMillis()) clock.AdvanceMillis(**next - clock.NowMillis());
    }
    if (clock.NowMillis() < until) clock.AdvanceMillis(until - clock.NowMillis());
    REQUIRE(engine->RunUntilIdle().ok());
  }
  Workflow Get(const std::string& id) {
    auto w = engine->Get(kTenant, id);
    REQUIRE(w.ok());
    return *w;
  }

  TestDb db;
  std::unique_ptr<core::Database> database;
  core::VirtualClock clock;
  RecordingExternalSystems external;
  std::unique_ptr<Engine> engine;
};

std::string OnboardingInput() {
  return R"({"contact_id":"c1","subscription_id":"s1","plan":"pro"})";
}

std::vector<std::string> Ops(const std::vector<std::pair<std::string, std::string>>& steps,
                             size_t n, bool compensations) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(compensations ? steps[i].second : steps[i].first);
  return out;
}

// Lead nurturing's CRM and agent side, recorded with the day each ran.
struct FakeCrm {
  std::mutex mu;
  std::vector<std::pair<std::string, int64_t>> calls;  // activity, day
  int inbound = 0;
  bool qualified = true, at_risk = false;
  int64_t start = 0;

  void Bind(Engine& engine, const core::Clock& clock) {
    auto record = [this, &clock](const std::string& name) {
      std::lock_guard lock(mu);
      calls.emplace_back(name, (clock.NowMillis() - start) / kDay);
    };
    engine.BindActivity("send_message", [record](const ActivityContext&) -> ActivityResult {
      record("send_message");
      return json::value(json::object{{"message_id", "m1"}});
    });
    engine.BindActivity("engagement_check",
                        [this, record](const ActivityContext&) -> ActivityResult {
                          record("engagement_check");
                          return json::value(json::object{{"inbound_messages", inbound}});
                        });
    engine.BindActivity("ai_outreach", [record](const ActivityContext& ctx) -> ActivityResult {
      record("ai_outreach:" + std::string(ctx.input.at("category").as_string()));
      return json::value(json::object{{"message_id", "m2"}});
    });
    engine.BindActivity("qualify_lead", [this, record](const ActivityContext&) -> ActivityResult {
      record("qualify_lead");
      return json::value(json::object{{"is_qualified", qualified}, {"score", qualified ? 75 : 25}});
    });
    engine.BindActivity(
        "move_pipeline_stage", [record](const ActivityContext& ctx) -> ActivityResult {
          record("move_pipeline_stage:" + std::string(ctx.input.at("stage").as_string()));
          return json::value(json::object{});
        });
    engine.BindActivity("retention_check",
                        [this, record](const ActivityContext&) -> ActivityResult {
                          record("retention_check");
                          return json::value(json::object{{"at_risk", at_risk}});
                        });
    engine.BindActivity("assign_to_human", [record](const ActivityContext&) -> ActivityResult {
      record("assign_to_human");
      return json::value(json::object{});
    });
  }
};

}  // namespace

VENTROS_DB_TEST("Onboarding: the five steps run once each, in order", "[workflows]") {
  World w(engine);
  auto started = w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), "ob-1");
  REQUIRE(started.ok());
  w.RunUntil(w.clock.NowMillis());
  auto wf = w.Get("ob-1");
  CHECK(wf.status == "completed");
  CHECK(w.external.Operations() == Ops(OnboardingSteps(), 5, false));
  // The same subscription's onboarding is never started twice (id reuse policy).
  CHECK(w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), "ob-1")
            .status()
            .code() == core::StatusCode::kAlreadyExists);
}

VENTROS_DB_TEST(
    "Onboarding: a failure at each step runs exactly the earlier steps' "
    "compensations, in reverse order, each once",
    "[workflows]") {
  const auto& steps = OnboardingSteps();
  for (size_t k = 0; k < steps.size(); ++k) {
    INFO("failing step " << steps[k].first);
    World w(engine);
    w.external.FailAlways(steps[k].first, "rejected");
    std::string id = fmt::format("ob-fail-{}", k);
    REQUIRE(w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), id).ok());
    w.RunUntil(w.clock.NowMillis() + 10 * 60 * 1000);
    auto wf = w.Get(id);
    CHECK(wf.status == "failed");
    CHECK(wf.error.find("rejected") != std::string::npos);
    std::vector<std::string> expected = Ops(steps, k, false);
    std::vector<std::string> undo = Ops(steps, k, true);
    std::reverse(undo.begin(), undo.end());
    expected.insert(expected.end(), undo.begin(), undo.end());
    CHECK(w.external.Operations() == expected);
    CHECK(w.external.Attempts(steps[k].first) == 1);  // "rejected" is not retried
  }
}

VENTROS_DB_TEST("Onboarding: transient failures are retried with backoff, then it completes",
                "[workflows]") {
  World w(engine);
  w.external.FailNext("setup_billing", 2, "unavailable");
  REQUIRE(w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), "ob-r").ok());
  int64_t t0 = w.clock.NowMillis();
  w.RunUntil(t0 + 60 * 1000);
  CHECK(w.Get("ob-r").status == "completed");
  CHECK(w.external.Attempts("setup_billing") == 3);
  CHECK(w.external.Operations() == Ops(OnboardingSteps(), 5, false));
  // 1 s then 2 s of backoff.
  CHECK(w.clock.NowMillis() - t0 >= 3000);
}

VENTROS_DB_TEST("Onboarding: cancelled after two steps, their compensations run", "[workflows]") {
  World w(engine);
  w.external.FailNext("ai_welcome", 1000, "unavailable");  // stuck retrying the third step
  REQUIRE(w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), "ob-c").ok());
  w.RunUntil(w.clock.NowMillis() + 5000);
  REQUIRE(w.engine->Cancel(kTenant, "ob-c").ok());
  w.external.Reset();
  w.RunUntil(w.clock.NowMillis() + 60 * 1000);
  CHECK(w.Get("ob-c").status == "cancelled");
  CHECK(w.external.Operations() == std::vector<std::string>{"create_account", "setup_billing",
                                                            "cancel_billing", "delete_account"});
}

VENTROS_DB_TEST(
    "Onboarding: a process that dies between steps is continued by another, no "
    "activity runs twice",
    "[workflows]") {
  World w(engine);
  REQUIRE(w.engine->StartWorkflow(kTenant, kCustomerOnboarding, OnboardingInput(), "ob-k").ok());
  // The first process runs two passes' worth and dies (no Stop, its lease left behind).
  w.external.FailNext("ai_welcome", 1, "unavailable");
  REQUIRE(w.engine->RunDue().ok());
  CHECK(w.external.Operations() == Ops(OnboardingSteps(), 2, false));
  w.engine.reset();
  // Another process, after the lease expired.
  w.clock.AdvanceMillis(60 * 1000);
  w.Reset();
  w.RunUntil(w.clock.NowMillis() + 60 * 1000);
  CHECK(w.Get("ob-k").status == "completed");
  CHECK(w.external.Operations() == Ops(OnboardingSteps(), 5, false));
  for (const auto& [op, undo] : OnboardingSteps()) {
    INFO(op);
    CHECK(w.external.Attempts(op) == (op == "ai_welcome" ? 2 : 1));
  }
}

VENTROS_DB_TEST(
    "Lead nurturing: 30 days in virtual time - outreach when engagement is low, a "
    "qualified lead moves stage, a human takes it at day 30",
    "[workflows]") {
  World w(engine);
  FakeCrm crm;
  crm.start = w.clock.NowMillis();
  crm.Bind(*w.engine, w.clock);
  crm.inbound = 1;
  auto started = w.engine->StartWorkflow(kTenant, kLeadNurturing, R"({"contact_id":"c1"})",
                                         LeadNurturingId("c1"));
  REQUIRE(started.ok());
  auto real_start = std::chrono::steady_clock::now();
  w.RunUntil(crm.start + 31 * kDay);
  auto real = std::chrono::steady_clock::now() - real_start;
  CHECK(real < std::chrono::seconds(5));
  auto wf = w.Get(LeadNurturingId("c1"));
  CHECK(wf.status == "completed");
  std::vector<std::pair<std::string, int64_t>> expected = {{"send_message", 0},
                                                           {"engagement_check", 3},
                                                           {"ai_outreach:sales_prospecting", 3},
                                                           {"qualify_lead", 7},
                                                           {"move_pipeline_stage:qualified", 7},
                                                           {"retention_check", 14},
                                                           {"assign_to_human", 30}};
  CHECK(crm.calls == expected);
  auto result = json::parse(wf.result);
  CHECK(result.at("qualified").as_bool());
}

VENTROS_DB_TEST(
    "Lead nurturing: replies are counted, an engaged lead gets no outreach, an "
    "at-risk one gets the retention agent",
    "[workflows]") {
  World w(engine);
  FakeCrm crm;
  crm.start = w.clock.NowMillis();
  crm.Bind(*w.engine, w.clock);
  crm.qualified = false;
  crm.at_risk = true;
  const std::string id = LeadNurturingId("c2");
  REQUIRE(w.engine->StartWorkflow(kTenant, kLeadNurturing, R"({"contact_id":"c2"})", id).ok());
  w.RunUntil(crm.start + kDay);
  CHECK(w.Get(id).waiting_for == "signal:contact_replied");
  for (int i = 0; i < 5; ++i) {
    REQUIRE(w.engine
                ->Signal(kTenant, id, "contact_replied",
                         fmt::format(R"({{"reply":true,"message_id":"m{}"}})", i))
                .ok());
    w.RunUntil(w.clock.NowMillis() + 3600 * 1000);
  }
  CHECK(w.engine->StartWorkflow(kTenant, kLeadNurturing, R"({"contact_id":"c2"})", id)
            .status()
            .code() == core::StatusCode::kAlreadyExists);
  w.RunUntil(crm.start + 31 * kDay);
  auto wf = w.Get(id);
  REQUIRE(wf.status == "completed");
  auto result = json::parse(wf.result);
  CHECK(result.at("replies").as_int64() == 5);
  CHECK(result.at("engagement_score").as_int64() == 5);
  CHECK_FALSE(result.at("qualified").as_bool());
  std::vector<std::string> names;
  for (const auto& [name, day] : crm.calls) names.push_back(name);
  CHECK(names == std::vector<std::string>{"send_message", "engagement_check", "qualify_lead",
                                          "retention_check", "ai_outreach:retention_churn",
                                          "assign_to_human"});
  // The replies did not move the days.
  CHECK(crm.calls[1].second == 3);
  CHECK(crm.calls[5].second == 30);
}

VENTROS_DB_TEST("Lead nurturing: input without a contact fails at once with a clear error",
                "[workflows]") {
  World w(engine);
  REQUIRE(w.engine->StartWorkflow(kTenant, kLeadNurturing, R"({})", "ln-bad").ok());
  w.RunUntil(w.clock.NowMillis());
  auto wf = w.Get("ln-bad");
  CHECK(wf.status == "failed");
  CHECK(wf.error.find("contact_id") != std::string::npos);
}

}  // namespace ventros::workflows
