// The workflow engine on both database engines with a virtual clock: retry arithmetic, a 30-day
// workflow in virtual time, recovery after a crash (a killed process, a worker that lost its
// lease), retries and timeouts, sagas failing at each step, signals, queries, id reuse, child
// workflows, two engines over one database, and bad input.

#include "ventros/workflows/engine.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/test_db.hpp"

namespace ventros::workflows {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::TestDb;

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kSecond = 1000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;
constexpr const char* kTenant = "tenant-a";
constexpr const char* kOtherTenant = "tenant-b";

Engine::Options TestOptions() {
  Engine::Options o;
  o.lease = 30s;
  return o;
}

struct World {
  explicit World(core::DbEngine e, Engine::Options options = TestOptions())
      : db(e),
        database(db.OpenMigrated()),
        clock(kStart),
        engine(*database, clock, core::NullLogger(), nullptr, options) {}

  // Runs everything due, then jumps the clock to the next wake time, until nothing waits on
  // time, the next wake time is past `until`, or only runs leased by someone else are due.
  void Drive(Engine& e, int64_t until = INT64_MAX) {
    for (int i = 0; i < 10000; ++i) {
      auto idle = e.RunUntilIdle();
      INFO(idle.ToString());
      REQUIRE(idle.ok());
      auto next = e.NextWakeAt();
      REQUIRE(next.ok());
      if (!*next || **next > until || **next <= clock.NowMillis()) return;
      clock.SetMillis(**next);
    }
    FAIL("the workflows never settled");
  }
  void Drive(int64_t until = INT64_MAX) { Drive(engine, until); }
  void Idle() {
    auto idle = engine.RunUntilIdle();
    INFO(idle.ToString());
    REQUIRE(idle.ok());
  }

  std::string Start(const std::string& type, const std::string& input = "{}",
                    std::optional<std::string> id = std::nullopt) {
    auto w = engine.StartWorkflow(kTenant, type, input, std::move(id));
    INFO(w.status().ToString());
    REQUIRE(w.ok());
    return w->id;
  }
  Workflow Get(const std::string& id) {
    auto w = engine.Get(kTenant, id);
    INFO(w.status().ToString());
    REQUIRE(w.ok());
    return *w;
  }

  TestDb db;
  std::unique_ptr<core::Database> database;
  core::VirtualClock clock;
  Engine engine;
};

// The history as "kind" or "kind:name" (steps, activities, compensations), for order checks.
std::vector<std::string> Trace(const Workflow& w) {
  std::vector<std::string> out;
  for (const auto& e : w.history) {
    json::object d = json::parse(e.detail).as_object();
    std::string name;
    if (auto* s = d.if_contains("step")) name = std::string(s->as_string());
    if (auto* a = d.if_contains("activity")) name = std::string(a->as_string());
    out.push_back(name.empty() ? e.kind : e.kind + ":" + name);
  }
  return out;
}
int CountKind(const Workflow& w, const std::string& kind) {
  return static_cast<int>(std::count_if(w.history.begin(), w.history.end(),
                                        [&](const HistoryEvent& e) { return e.kind == kind; }));
}
json::object Detail(const Workflow& w, const std::string& kind, int nth = 0) {
  for (const auto& e : w.history) {
    if (e.kind == kind && nth-- == 0) return json::parse(e.detail).as_object();
  }
  FAIL("no history event " << kind);
  return {};
}
json::value Json(const std::string& text) { return json::parse(text); }

// A definition of one activity: "run" schedules it with the state as input, "done" completes
// with its result. A final failure of the activity fails the workflow.
Definition OneActivity(const std::string& type, const std::string& activity,
                       ActivityOptions options) {
  Definition d;
  d.type = type;
  d.first_step = "run";
  d.steps["run"] = [activity, options](StepContext& ctx) {
    return Command::Activity(activity, ctx.state, "done", options);
  };
  d.steps["done"] = [](StepContext& ctx) { return Command::Complete(ctx.last); };
  return d;
}

// ---------------------------------------------------------------- 1. retry arithmetic

TEST_CASE("RetryPolicy: the delay doubles from 1 s and stops at 100 x the initial interval",
          "[workflows]") {
  RetryPolicy p;  // defaults: 1 s, x2, maximum 0 -> 100 s
  const std::vector<std::pair<int, int64_t>> table{
      {1, 1000},  {2, 2000},   {3, 4000},   {4, 8000},    {5, 16000},    {6, 32000},
      {7, 64000}, {8, 100000}, {9, 100000}, {60, 100000}, {1000, 100000}};  // 2^999 overflows to
                                                                            // infinity: still the
                                                                            // maximum
  for (const auto& [failed, ms] : table) {
    INFO("after " << failed << " failures");
    CHECK(p.DelayAfter(failed).count() == ms);
  }
  CHECK(p.DelayAfter(0).count() == 1000);  // n < 1 reads as the first
}

TEST_CASE("RetryPolicy: an explicit maximum, another coefficient, a constant interval",
          "[workflows]") {
  RetryPolicy p;
  p.initial_interval = 500ms;
  p.backoff_coefficient = 3.0;
  p.maximum_interval = 10s;
  const std::vector<std::pair<int, int64_t>> table{
      {1, 500}, {2, 1500}, {3, 4500}, {4, 10000}, {5, 10000}};
  for (const auto& [failed, ms] : table) {
    INFO("after " << failed << " failures");
    CHECK(p.DelayAfter(failed).count() == ms);
  }
  RetryPolicy flat;
  flat.initial_interval = 2s;
  flat.backoff_coefficient = 1.0;
  for (int n = 1; n <= 10; ++n) CHECK(flat.DelayAfter(n).count() == 2000);
  RetryPolicy small_max;
  small_max.initial_interval = 5s;
  small_max.maximum_interval = 3s;  // below the initial interval: the maximum wins
  CHECK(small_max.DelayAfter(1).count() == 3000);
}

// ---------------------------------------------------------------- 2. a long workflow

VENTROS_DB_TEST("Workflows: a 30-day drip of sleeps and activities runs in virtual time",
                "[workflows]") {
  World w(engine);
  std::vector<std::pair<int64_t, int64_t>> sent;  // (day in the input, when it ran)
  w.engine.BindActivity("Send", [&](const ActivityContext& ctx) -> ActivityResult {
    sent.emplace_back(ctx.input.at("day").as_int64(), w.clock.NowMillis());
    return json::value(json::object{{"sent", true}});
  });
  Definition d;
  d.type = "drip";
  d.first_step = "day1";
  // Day 1 send, then sleeps to day 3, 7, 14 and 30 with a send each; the state counts.
  const std::vector<int64_t> days{1, 3, 7, 14, 30};
  for (size_t i = 0; i < days.size(); ++i) {
    const std::string step = fmt::format("day{}", days[i]);
    const std::string sent_step = step + "_sent";
    const std::string next = i + 1 < days.size() ? fmt::format("day{}", days[i + 1]) : "end";
    const int64_t gap = i + 1 < days.size() ? days[i + 1] - days[i] : 0;
    d.steps[step] = [day = days[i], sent_step](StepContext&) {
      return Command::Activity("Send", json::object{{"day", day}}, sent_step);
    };
    d.steps[sent_step] = [gap, next, day = days[i]](StepContext& ctx) {
      ctx.state["sends"] = ctx.state["sends"].is_int64() ? ctx.state["sends"].as_int64() + 1 : 1;
      ctx.state["last_day"] = day;
      if (gap == 0) return Command::Goto(next);
      return Command::Sleep(std::chrono::milliseconds(gap * kDay), next);
    };
  }
  d.steps["end"] = [](StepContext& ctx) {
    return Command::Complete(json::object{{"sends", ctx.state["sends"]}});
  };
  w.engine.Register(d);

  auto started = std::chrono::steady_clock::now();
  const std::string id = w.Start("drip", R"({"contact":"c1"})");
  w.Drive();
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < 1s);

  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == Json(R"({"sends":5})"));
  CHECK(Json(r.state) == Json(R"({"contact":"c1","sends":5,"last_day":30})"));
  REQUIRE(r.closed_at);
  CHECK(*r.closed_at == kStart + 29 * kDay);
  REQUIRE(sent.size() == 5);
  for (size_t i = 0; i < days.size(); ++i) {
    CHECK(sent[i].first == days[i]);
    CHECK(sent[i].second == kStart + (days[i] - 1) * kDay);
  }
  const std::vector<std::string> expected{"started",
                                          "step:day1",
                                          "activity_scheduled:Send",
                                          "activity_completed:Send",
                                          "step:day1_sent",
                                          "timer_started",
                                          "timer_fired",
                                          "step:day3",
                                          "activity_scheduled:Send",
                                          "activity_completed:Send",
                                          "step:day3_sent",
                                          "timer_started",
                                          "timer_fired",
                                          "step:day7",
                                          "activity_scheduled:Send",
                                          "activity_completed:Send",
                                          "step:day7_sent",
                                          "timer_started",
                                          "timer_fired",
                                          "step:day14",
                                          "activity_scheduled:Send",
                                          "activity_completed:Send",
                                          "step:day14_sent",
                                          "timer_started",
                                          "timer_fired",
                                          "step:day30",
                                          "activity_scheduled:Send",
                                          "activity_completed:Send",
                                          "step:day30_sent",
                                          "step:end",
                                          "completed"};
  CHECK(Trace(r) == expected);
  // Timers fire when they said they would; history events carry the time they happened.
  CHECK(Detail(r, "timer_started", 0).at("fires_at").as_int64() == kStart + 2 * kDay);
  CHECK(Detail(r, "timer_started", 3).at("fires_at").as_int64() == kStart + 29 * kDay);
  for (size_t i = 1; i < r.history.size(); ++i) CHECK(r.history[i].seq == r.history[i - 1].seq + 1);
  CHECK(r.history.back().at == kStart + 29 * kDay);
}

VENTROS_DB_TEST("Workflows: a run of 250 activities in a row does not stall on its own lease",
                "[workflows]") {
  World w(engine);
  int ticks = 0;
  w.engine.BindActivity("Tick", [&](const ActivityContext&) -> ActivityResult {
    ++ticks;
    return json::value(nullptr);
  });
  Definition d;
  d.type = "ticker";
  d.first_step = "tick";
  d.steps["tick"] = [](StepContext& ctx) {
    int64_t n = ctx.state["n"].is_int64() ? ctx.state["n"].as_int64() : 0;
    if (n == 250) return Command::Complete(n);
    ctx.state["n"] = n + 1;
    return Command::Activity("Tick", nullptr, "tick");
  };
  w.engine.Register(d);
  const std::string id = w.Start("ticker");
  w.Idle();  // the clock does not move
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(ticks == 250);
}

// ---------------------------------------------------------------- 3. recovery

// "A" then "B"; each appends "<name> <key> <attempt>" to a log file. With `crash`, the step
// between them kills the process (its transaction never commits).
void RegisterAB(Engine& e, const std::string& log, bool crash) {
  for (const char* name : {"A", "B"}) {
    e.BindActivity(name, [log, name](const ActivityContext& ctx) -> ActivityResult {
      std::ofstream out(log, std::ios::app);
      out << name << ' ' << ctx.idempotency_key << ' ' << ctx.attempt << '\n';
      return json::value(name);
    });
  }
  Definition d;
  d.type = "ab";
  d.first_step = "a";
  d.steps["a"] = [](StepContext&) { return Command::Activity("A", nullptr, "after_a"); };
  d.steps["after_a"] = [crash](StepContext& ctx) {
    if (crash) _exit(42);
    ctx.state["a"] = ctx.last;
    return Command::Activity("B", nullptr, "done");
  };
  d.steps["done"] = [](StepContext& ctx) {
    ctx.state["b"] = ctx.last;
    return Command::Complete(ctx.state);
  };
  e.Register(d);
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

VENTROS_DB_TEST(
    "Workflows: a process killed between steps is continued by another, no activity twice",
    "[workflows]") {
  World w(engine);
  testing::TempDir dir;
  const std::string log = dir.path() + "/runs.log";
  RegisterAB(w.engine, log, false);
  const std::string id = w.Start("ab");

  // Another process runs the workflow and dies in the step after A, A's outcome recorded.
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    core::DatabaseOptions o;
    o.url = w.db.url();
    o.pool_size = 2;
    auto db = core::Database::Open(o);
    if (!db.ok()) _exit(3);
    core::VirtualClock clock(kStart);
    Engine e(**db, clock, core::NullLogger(), nullptr, TestOptions());
    RegisterAB(e, log, true);
    (void)e.RunUntilIdle();
    _exit(4);  // not reached: the step after A exits
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 42);

  Workflow mid = w.Get(id);
  CHECK(mid.status == "running");
  CHECK(CountKind(mid, "activity_completed") == 1);
  CHECK(CountKind(mid, "step") == 1);  // the step after A died with its transaction
  REQUIRE(Lines(log).size() == 1);

  // Its lease holds the run until it expires.
  w.Idle();
  CHECK(w.Get(id).status == "running");
  w.clock.AdvanceMillis(30 * kSecond + 1);
  w.Drive();

  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == Json(R"({"a":"A","b":"B"})"));
  auto lines = Lines(log);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].rfind("A ", 0) == 0);
  CHECK(lines[1].rfind("B ", 0) == 0);
  CHECK(CountKind(r, "activity_completed") == 2);
  // Keys differ between activities and name the scheduling event.
  const std::string key_a = lines[0].substr(2, lines[0].rfind(' ') - 2);
  const std::string key_b = lines[1].substr(2, lines[1].rfind(' ') - 2);
  CHECK(key_a != key_b);
  CHECK(std::string(Detail(r, "activity_scheduled", 0).at("key").as_string()) == key_a);
  CHECK(std::string(Detail(r, "activity_scheduled", 1).at("key").as_string()) == key_b);
}

VENTROS_DB_TEST(
    "Workflows: an attempt whose worker lost its lease is retried with the same key and its late "
    "outcome is dropped",
    "[workflows]") {
  World w(engine);
  auto second_db = w.db.Open();
  Engine other(*second_db, w.clock, core::NullLogger(), nullptr, TestOptions());

  std::promise<void> started, release;
  auto release_future = release.get_future().share();
  std::string first_key, second_key;
  int second_attempt = 0;
  w.engine.BindActivity("Slow", [&](const ActivityContext& ctx) -> ActivityResult {
    first_key = ctx.idempotency_key;
    started.set_value();
    release_future.wait();
    return json::value("late");
  });
  other.BindActivity("Slow", [&](const ActivityContext& ctx) -> ActivityResult {
    second_key = ctx.idempotency_key;
    second_attempt = ctx.attempt;
    return json::value("on time");
  });
  for (Engine* e : {&w.engine, &other}) e->Register(OneActivity("slow", "Slow", {}));
  const std::string id = w.Start("slow");

  Result<int> first_pass = 0;
  std::thread first([&] { first_pass = w.engine.RunDue(); });
  // Whatever fails below, the first worker is let go and joined.
  struct Joiner {
    std::promise<void>& release;
    std::thread& thread;
    bool released = false;
    void Release() {
      if (!released) release.set_value();
      released = true;
      if (thread.joinable()) thread.join();
    }
    ~Joiner() { Release(); }
  } joiner{release, first};
  REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
  // The first worker hangs past its lease; the other instance takes the run over.
  REQUIRE(other.RunUntilIdle().ok());
  CHECK(w.Get(id).status == "running");  // not before the lease expires
  w.clock.AdvanceMillis(30 * kSecond + 1);
  w.Drive(other);
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == json::value("on time"));
  CHECK(second_key == first_key);
  CHECK(second_attempt == 2);  // the lost attempt counts as a failed one
  CHECK(Detail(r, "activity_failed").at("kind").as_string() == "timeout");

  joiner.Release();
  CHECK(first_pass.ok());
  r = w.Get(id);
  CHECK(Json(r.result) == json::value("on time"));
  CHECK(CountKind(r, "activity_completed") == 1);
  CHECK(r.history.back().kind == "completed");
}

// ---------------------------------------------------------------- 4. retries and timeouts

struct Attempt {
  int attempt;
  std::string key;
  int64_t at;
  int64_t deadline;
};

VENTROS_DB_TEST("Workflows: retryable failures back off per the policy, then the activity succeeds",
                "[workflows]") {
  World w(engine);
  std::vector<Attempt> attempts;
  w.engine.BindActivity("Flaky", [&](const ActivityContext& ctx) -> ActivityResult {
    attempts.push_back({ctx.attempt, ctx.idempotency_key, w.clock.NowMillis(), ctx.deadline_ms});
    if (ctx.attempt <= 3) return ActivityError{"transient", fmt::format("try {}", ctx.attempt)};
    return json::value(json::object{{"ok", ctx.attempt}});
  });
  w.engine.Register(OneActivity("flaky", "Flaky", {}));
  const std::string id = w.Start("flaky");
  w.Idle();
  Workflow mid = w.Get(id);
  CHECK(mid.waiting_for == "activity:Flaky");
  CHECK(mid.wake_at == kStart + 1000);
  w.Drive();

  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == Json(R"({"ok":4})"));
  REQUIRE(attempts.size() == 4);
  RetryPolicy policy;
  int64_t at = kStart;
  for (int i = 0; i < 4; ++i) {
    CHECK(attempts[static_cast<size_t>(i)].attempt == i + 1);
    CHECK(attempts[static_cast<size_t>(i)].key == attempts[0].key);
    CHECK(attempts[static_cast<size_t>(i)].at == at);
    CHECK(attempts[static_cast<size_t>(i)].deadline == 0);
    at += policy.DelayAfter(i + 1).count();
  }
  CHECK(CountKind(r, "activity_failed") == 3);
  CHECK(CountKind(r, "activity_completed") == 1);
}

VENTROS_DB_TEST(
    "Workflows: maximum attempts, non-retryable kinds and schedule-to-close end an activity",
    "[workflows]") {
  World w(engine);
  std::map<std::string, std::vector<int64_t>> runs;  // workflow id -> attempt times
  std::map<std::string, int64_t> deadlines;          // workflow id -> the last deadline
  w.engine.BindActivity("Broken", [&](const ActivityContext& ctx) -> ActivityResult {
    runs[ctx.workflow_id].push_back(w.clock.NowMillis());
    deadlines[ctx.workflow_id] = ctx.deadline_ms;
    return ActivityError{std::string(ctx.input.at("kind").as_string()), "it broke"};
  });
  ActivityOptions three;
  three.retry.maximum_attempts = 3;
  w.engine.Register(OneActivity("three", "Broken", three));
  ActivityOptions fatal;
  fatal.retry.non_retryable_error_kinds = {"invalid", "forbidden"};
  w.engine.Register(OneActivity("fatal", "Broken", fatal));
  ActivityOptions budget;
  budget.schedule_to_close = 5s;
  w.engine.Register(OneActivity("budget", "Broken", budget));

  const std::string a = w.Start("three", R"({"kind":"transient"})");
  const std::string b = w.Start("fatal", R"({"kind":"forbidden"})");
  const std::string c = w.Start("budget", R"({"kind":"transient"})");
  w.Drive();

  Workflow ra = w.Get(a);
  CHECK(ra.status == "failed");
  CHECK(ra.error.find("it broke") != std::string::npos);
  CHECK(ra.error.rfind("transient", 0) == 0);
  CHECK(runs[a] == std::vector<int64_t>{kStart, kStart + 1000, kStart + 3000});

  Workflow rb = w.Get(b);
  CHECK(rb.status == "failed");
  CHECK(rb.error.rfind("forbidden", 0) == 0);
  CHECK(runs[b] == std::vector<int64_t>{kStart});

  // 1 s and 2 s fit in 5 s; the next wait (4 s) would end past it.
  Workflow rc = w.Get(c);
  CHECK(rc.status == "failed");
  CHECK(rc.error.find("schedule-to-close") != std::string::npos);
  CHECK(runs[c] == std::vector<int64_t>{kStart, kStart + 1000, kStart + 3000});
  CHECK(deadlines[c] == kStart + 5000);  // an attempt's deadline is the schedule-to-close one
  CHECK(deadlines[a] == 0);
  CHECK(Detail(rc, "activity_failed", 2).at("kind").as_string() == "transient");
}

VENTROS_DB_TEST("Workflows: an attempt over its start-to-close timeout fails and is retried",
                "[workflows]") {
  World w(engine);
  std::vector<Attempt> attempts;
  w.engine.BindActivity("Slow", [&](const ActivityContext& ctx) -> ActivityResult {
    attempts.push_back({ctx.attempt, ctx.idempotency_key, w.clock.NowMillis(), ctx.deadline_ms});
    if (ctx.attempt == 1) w.clock.AdvanceMillis(3 * kSecond);  // takes 3 s of the clock
    return json::value(ctx.attempt);
  });
  ActivityOptions o;
  o.start_to_close = 2s;
  o.schedule_to_close = 1h;
  w.engine.Register(OneActivity("slow", "Slow", o));
  const std::string id = w.Start("slow");
  w.Drive();

  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == json::value(2));
  REQUIRE(attempts.size() == 2);
  CHECK(attempts[0].deadline == kStart + 2000);
  CHECK(attempts[1].at == kStart + 3000 + 1000);
  CHECK(attempts[1].deadline == attempts[1].at + 2000);
  json::object failed = Detail(r, "activity_failed");
  CHECK(failed.at("kind").as_string() == "timeout");
  CHECK(std::string(failed.at("message").as_string()).find("start-to-close") != std::string::npos);
}

VENTROS_DB_TEST("Workflows: an exception from an activity is a retryable failure", "[workflows]") {
  World w(engine);
  int calls = 0;
  w.engine.BindActivity("Throws", [&](const ActivityContext&) -> ActivityResult {
    if (++calls == 1) throw std::runtime_error("socket closed");
    if (calls == 2) throw 7;  // not even a std::exception
    return json::value("fine");
  });
  w.engine.Register(OneActivity("throws", "Throws", {}));
  const std::string id = w.Start("throws");
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(calls == 3);
  CHECK(Detail(r, "activity_failed", 0).at("kind").as_string() == "exception");
  CHECK(Detail(r, "activity_failed", 0).at("message").as_string() == "socket closed");
  CHECK(Detail(r, "activity_failed", 1).at("kind").as_string() == "exception");
}

VENTROS_DB_TEST("Workflows: a chain of slow activities renews its lease with each attempt",
                "[workflows]") {
  World w(engine);
  auto second_db = w.db.Open();
  Engine other(*second_db, w.clock, core::NullLogger(), nullptr, TestOptions());
  std::map<std::string, int> calls;
  auto slow = [&] {
    return [&](const ActivityContext& ctx) -> ActivityResult {
      ++calls[ctx.activity];
      w.clock.AdvanceMillis(20 * kSecond);  // 40 s in all: past a lease taken for both
      // Another instance polls meanwhile: the run is not its to take.
      auto n = other.RunDue();
      if (!n.ok() || *n != 0) return ActivityError{"test", "the other instance took the run"};
      return json::value(ctx.activity);
    };
  };
  for (Engine* e : {&w.engine, &other}) {
    e->BindActivity("First", slow());
    e->BindActivity("Second", slow());
    Definition d;
    d.type = "two_slow";
    d.first_step = "one";
    d.steps["one"] = [](StepContext&) { return Command::Activity("First", nullptr, "two"); };
    d.steps["two"] = [](StepContext&) { return Command::Activity("Second", nullptr, "done"); };
    d.steps["done"] = [](StepContext& ctx) { return Command::Complete(ctx.last); };
    e->Register(d);
  }
  const std::string id = w.Start("two_slow");
  w.Idle();
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(calls == std::map<std::string, int>{{"First", 1}, {"Second", 1}});
  CHECK(CountKind(r, "activity_failed") == 0);
}

VENTROS_DB_TEST("Workflows: a cancel during an attempt does not wait for its retry delay",
                "[workflows]") {
  World w(engine);
  w.engine.BindActivity("Cancels", [&](const ActivityContext& ctx) -> ActivityResult {
    REQUIRE(w.engine.Cancel(ctx.tenant_id, ctx.workflow_id).ok());
    return ActivityError{"transient", "meanwhile"};
  });
  ActivityOptions o;
  o.retry.initial_interval = std::chrono::milliseconds(kHour);
  w.engine.Register(OneActivity("cancels", "Cancels", o));
  const std::string id = w.Start("cancels");
  w.Idle();  // the clock does not move
  Workflow r = w.Get(id);
  CHECK(r.status == "cancelled");
  CHECK(CountKind(r, "activity_failed") == 1);
}

// ---------------------------------------------------------------- 5. sagas

struct Saga {
  std::mutex mu;
  std::map<std::string, std::vector<int64_t>> done, undone;  // by workflow id
  std::map<std::string, int> undo_attempts;                  // "<workflow>/<n>"
};

// Five activities "Do" n = 1..5, each compensated by "Undo" n; input {"fail_at": k} fails the
// k-th, {"flaky_undo": n} makes Undo n fail twice first; {"sleep_after": n} sleeps 10 days
// after the n-th.
void RegisterSaga(Engine& e, Saga& saga) {
  e.BindActivity("Do", [&saga](const ActivityContext& ctx) -> ActivityResult {
    int64_t n = ctx.input.at("n").as_int64();
    if (n == ctx.input.at("fail_at").as_int64()) return ActivityError{"boom", "step failed"};
    std::lock_guard lock(saga.mu);
    saga.done[ctx.workflow_id].push_back(n);
    return json::value(n);
  });
  e.BindActivity("Undo", [&saga](const ActivityContext& ctx) -> ActivityResult {
    int64_t n = ctx.input.at("n").as_int64();
    std::lock_guard lock(saga.mu);
    int attempts = ++saga.undo_attempts[fmt::format("{}/{}", ctx.workflow_id, n)];
    if (n == ctx.input.at("flaky_undo").as_int64() && attempts <= 2) {
      return ActivityError{"unavailable", "try later"};
    }
    saga.undone[ctx.workflow_id].push_back(n);
    return json::value(nullptr);
  });
  Definition d;
  d.type = "saga";
  d.first_step = "s1";
  ActivityOptions no_retry;
  no_retry.retry.non_retryable_error_kinds = {"boom"};
  for (int64_t n = 1; n <= 5; ++n) {
    d.steps[fmt::format("s{}", n)] = [n, no_retry](StepContext& ctx) {
      json::object in{
          {"n", n}, {"fail_at", ctx.state["fail_at"]}, {"flaky_undo", ctx.state["flaky_undo"]}};
      json::object undo = in;
      const std::string next =
          ctx.state["sleep_after"] == json::value(n) ? "nap" : fmt::format("s{}", n + 1);
      return Command::Activity("Do", in, next, no_retry, Compensation{"Undo", undo});
    };
  }
  d.steps["nap"] = [](StepContext& ctx) {
    ctx.state["sleep_after"] = nullptr;
    int64_t n = ctx.last.as_int64();
    return Command::Sleep(std::chrono::milliseconds(10 * kDay), fmt::format("s{}", n + 1));
  };
  d.steps["s6"] = [](StepContext&) { return Command::Complete("all done"); };
  e.Register(d);
}

std::string SagaInput(int fail_at, int flaky_undo = 0, int sleep_after = 0) {
  return fmt::format(R"({{"fail_at":{},"flaky_undo":{},"sleep_after":{}}})", fail_at, flaky_undo,
                     sleep_after);
}

VENTROS_DB_TEST(
    "Workflows: a saga failing at each of its 5 steps undoes the completed ones in reverse, each "
    "once",
    "[workflows]") {
  World w(engine);
  Saga saga;
  RegisterSaga(w.engine, saga);
  std::map<int, std::string> ids;
  for (int k = 1; k <= 6; ++k) ids[k] = w.Start("saga", SagaInput(k));  // 6: none fails
  w.Drive();
  for (int k = 1; k <= 6; ++k) {
    INFO("failure at step " << k);
    const std::string& id = ids[k];
    Workflow r = w.Get(id);
    std::vector<int64_t> done, undone;
    for (int64_t n = 1; n < k; ++n) done.push_back(n);
    for (int64_t n = k - 1; n >= 1 && k <= 5; --n) undone.push_back(n);
    CHECK(saga.done[id] == done);
    CHECK(saga.undone[id] == undone);
    CHECK(CountKind(r, "compensation_completed") == static_cast<int>(undone.size()));
    CHECK(CountKind(r, "compensation_failed") == 0);
    if (k <= 5) {
      CHECK(r.status == "failed");
      CHECK(r.error.rfind("boom", 0) == 0);
      CHECK(CountKind(r, "activity_failed") == 1);
    } else {
      CHECK(r.status == "completed");
      CHECK(saga.undone[id].empty());
    }
  }
  for (const auto& [key, attempts] : saga.undo_attempts) {
    INFO(key);
    CHECK(attempts == 1);
  }
}

VENTROS_DB_TEST("Workflows: a failing compensation is retried with backoff until it succeeds",
                "[workflows]") {
  World w(engine);
  Saga saga;
  RegisterSaga(w.engine, saga);
  const std::string id = w.Start("saga", SagaInput(5, 2));
  w.Idle();
  Workflow mid = w.Get(id);
  CHECK(mid.status == "running");
  CHECK(mid.waiting_for == "compensations");
  CHECK(mid.wake_at == kStart + 1000);
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "failed");
  CHECK(saga.undone[id] == std::vector<int64_t>{4, 3, 2, 1});
  CHECK(saga.undo_attempts[id + "/2"] == 3);
  CHECK(saga.undo_attempts[id + "/4"] == 1);
  CHECK(saga.undo_attempts[id + "/1"] == 1);
  CHECK(CountKind(r, "compensation_attempt_failed") == 2);
  CHECK(*r.closed_at == kStart + 1000 + 2000);
}

VENTROS_DB_TEST(
    "Workflows: cancelling a sleeping saga runs its compensations, then it is cancelled",
    "[workflows]") {
  World w(engine);
  Saga saga;
  RegisterSaga(w.engine, saga);
  const std::string id = w.Start("saga", SagaInput(0, 0, 2));
  w.Idle();
  Workflow mid = w.Get(id);
  CHECK(mid.waiting_for == "timer");
  CHECK(mid.wake_at == kStart + 10 * kDay);
  w.clock.AdvanceMillis(kDay);
  REQUIRE(w.engine.Cancel(kTenant, id).ok());
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "cancelled");
  CHECK(saga.done[id] == std::vector<int64_t>{1, 2});
  CHECK(saga.undone[id] == std::vector<int64_t>{2, 1});
  CHECK(CountKind(r, "cancel_requested") == 1);
  CHECK(CountKind(r, "timer_fired") == 0);
  CHECK(*r.closed_at == kStart + kDay);
  CHECK(r.error.empty());
  CHECK(w.engine.Cancel(kTenant, id).code() == core::StatusCode::kNotFound);
}

VENTROS_DB_TEST(
    "Workflows: an unbound or always failing compensation is given up and the others run",
    "[workflows]") {
  World w(engine);
  std::vector<std::string> undone;
  int stubborn = 0;
  w.engine.BindActivity("Do", [](const ActivityContext& ctx) -> ActivityResult {
    if (ctx.input == json::value("fail")) return ActivityError{"boom", "no"};
    return json::value(nullptr);
  });
  w.engine.BindActivity("Undo", [&](const ActivityContext& ctx) -> ActivityResult {
    undone.emplace_back(ctx.input.as_string());
    return json::value(nullptr);
  });
  w.engine.BindActivity("Stubborn", [&](const ActivityContext&) -> ActivityResult {
    ++stubborn;
    return ActivityError{"down", "still down"};
  });
  ActivityOptions no_retry;
  no_retry.retry.maximum_attempts = 1;
  Definition d;
  d.type = "hard_saga";
  d.first_step = "a";
  d.steps["a"] = [no_retry](StepContext&) {
    return Command::Activity("Do", "a", "b", no_retry, Compensation{"Undo", "a"});
  };
  d.steps["b"] = [no_retry](StepContext&) {
    return Command::Activity("Do", "b", "c", no_retry, Compensation{"Missing", "b"});
  };
  d.steps["c"] = [no_retry](StepContext&) {
    return Command::Activity("Do", "c", "d", no_retry, Compensation{"Stubborn", "c"});
  };
  d.steps["d"] = [no_retry](StepContext&) {
    return Command::Activity("Do", "fail", "e", no_retry);
  };
  w.engine.Register(d);
  const std::string id = w.Start("hard_saga");
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "failed");
  CHECK(stubborn == 10);
  CHECK(undone == std::vector<std::string>{"a"});
  CHECK(CountKind(r, "compensation_failed") == 2);
  CHECK(Detail(r, "compensation_failed", 0).at("activity") == "Stubborn");
  CHECK(Detail(r, "compensation_failed", 1).at("activity") == "Missing");
  CHECK(Detail(r, "compensation_failed", 1).at("attempt") == 1);
  CHECK(CountKind(r, "compensation_completed") == 1);
}

// ---------------------------------------------------------------- 6. signals

void RegisterApproval(Engine& e) {
  Definition d;
  d.type = "approval";
  d.first_step = "wait";
  d.steps["wait"] = [](StepContext&) {
    return Command::WaitSignal("approve", std::chrono::milliseconds(kHour), "approved", "expired");
  };
  d.steps["approved"] = [](StepContext& ctx) {
    ctx.state["by"] = ctx.last.at("by");
    return Command::Complete(ctx.last);
  };
  d.steps["expired"] = [](StepContext& ctx) {
    return Command::Complete(json::object{{"timed_out", ctx.timed_out}, {"last", ctx.last}});
  };
  e.Register(d);
}

VENTROS_DB_TEST("Workflows: a signal before the timeout continues with its payload, none times out",
                "[workflows]") {
  World w(engine);
  RegisterApproval(w.engine);
  const std::string yes = w.Start("approval");
  const std::string no = w.Start("approval");
  w.Idle();
  Workflow mid = w.Get(yes);
  CHECK(mid.waiting_for == "signal:approve");
  CHECK(mid.wake_at == kStart + kHour);
  w.clock.AdvanceMillis(10 * 60 * kSecond);
  REQUIRE(w.engine.Signal(kTenant, yes, "approve", R"({"by":"ana"})").ok());
  w.Idle();
  Workflow ry = w.Get(yes);
  CHECK(ry.status == "completed");
  CHECK(Json(ry.result) == Json(R"({"by":"ana"})"));
  CHECK(Json(ry.state) == Json(R"({"by":"ana"})"));
  CHECK(CountKind(ry, "signal_received") == 1);
  CHECK(w.Get(no).status == "running");

  w.Drive();
  Workflow rn = w.Get(no);
  CHECK(rn.status == "completed");
  CHECK(Json(rn.result) == Json(R"({"timed_out":true,"last":null})"));
  CHECK(*rn.closed_at == kStart + kHour);
  CHECK(CountKind(rn, "signal_timeout") == 1);

  // Closed or unknown: nobody to signal.
  CHECK(w.engine.Signal(kTenant, yes, "approve", "{}").code() == core::StatusCode::kNotFound);
  CHECK(w.engine.Signal(kTenant, "nobody", "approve", "{}").code() == core::StatusCode::kNotFound);
  CHECK(w.engine.Signal(kTenant, no, "", "{}").code() == core::StatusCode::kInvalidArgument);
}

VENTROS_DB_TEST(
    "Workflows: a signal sent before the workflow waits for it is queued and taken at once",
    "[workflows]") {
  World w(engine);
  Definition d;
  d.type = "later";
  d.first_step = "nap";
  d.steps["nap"] = [](StepContext&) {
    return Command::Sleep(std::chrono::milliseconds(kDay), "wait");
  };
  d.steps["wait"] = [](StepContext&) {
    return Command::WaitSignal("go", std::chrono::milliseconds(0), "got", "");
  };
  d.steps["got"] = [](StepContext& ctx) { return Command::Complete(ctx.last); };
  w.engine.Register(d);
  const std::string id = w.Start("later");
  w.Idle();
  w.clock.AdvanceMillis(kHour);
  REQUIRE(w.engine.Signal(kTenant, id, "go", R"({"n":1})").ok());
  REQUIRE(w.engine.Signal(kTenant, id, "go", R"({"n":2})").ok());
  w.Idle();
  // The signals wait in the inbox; the sleep is not cut short.
  Workflow mid = w.Get(id);
  CHECK(mid.status == "running");
  CHECK(mid.waiting_for == "timer");
  CHECK(mid.wake_at == kStart + kDay);
  CHECK(CountKind(mid, "signal_received") == 2);
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.result) == Json(R"({"n":1})"));
  CHECK(*r.closed_at == kStart + kDay);
}

VENTROS_DB_TEST("Workflows: other signals cut neither a signal timeout nor a retry wait short",
                "[workflows]") {
  World w(engine);
  RegisterApproval(w.engine);
  int calls = 0;
  w.engine.BindActivity("Later", [&](const ActivityContext&) -> ActivityResult {
    if (++calls == 1) return ActivityError{"transient", "not yet"};
    return json::value("ok");
  });
  ActivityOptions slow_retry;
  slow_retry.retry.initial_interval = std::chrono::milliseconds(kHour);
  w.engine.Register(OneActivity("retrying", "Later", slow_retry));
  const std::string waiting = w.Start("approval");
  const std::string retrying = w.Start("retrying");
  w.Idle();
  w.clock.AdvanceMillis(kSecond);
  REQUIRE(w.engine.Signal(kTenant, waiting, "unrelated", "1").ok());
  REQUIRE(w.engine.Signal(kTenant, retrying, "unrelated", "1").ok());
  w.Idle();
  Workflow a = w.Get(waiting);
  CHECK(a.status == "running");
  CHECK(a.waiting_for == "signal:approve");
  CHECK(a.wake_at == kStart + kHour);
  Workflow b = w.Get(retrying);
  CHECK(b.status == "running");
  CHECK(calls == 1);
  CHECK(b.wake_at == kStart + kHour);
  w.Drive();
  CHECK(w.Get(waiting).status == "completed");
  CHECK(w.Get(retrying).status == "completed");
  CHECK(calls == 2);
}

VENTROS_DB_TEST("Workflows: a step takes queued signals with TakeSignal, oldest first",
                "[workflows]") {
  World w(engine);
  Definition d;
  d.type = "notes";
  d.first_step = "nap";
  d.steps["nap"] = [](StepContext&) {
    return Command::Sleep(std::chrono::milliseconds(kHour), "look");
  };
  d.steps["look"] = [](StepContext& ctx) {
    json::array notes;
    while (auto n = ctx.TakeSignal("note")) notes.push_back(*n);
    ctx.state["notes"] = notes;
    ctx.state["left"] =
        static_cast<int64_t>(ctx.inbox.count("other") ? ctx.inbox["other"].size() : 0);
    return Command::Sleep(std::chrono::milliseconds(kHour), "again");
  };
  d.steps["again"] = [](StepContext& ctx) {
    ctx.state["again_notes"] =
        static_cast<int64_t>(ctx.inbox.count("note") ? ctx.inbox["note"].size() : 0);
    auto o = ctx.TakeSignal("other");
    return Command::Complete(o ? *o : json::value(nullptr));
  };
  w.engine.Register(d);
  const std::string id = w.Start("notes");
  w.Idle();
  REQUIRE(w.engine.Signal(kTenant, id, "note", R"("first")").ok());
  REQUIRE(w.engine.Signal(kTenant, id, "other", R"("x")").ok());
  REQUIRE(w.engine.Signal(kTenant, id, "note", R"("second")").ok());
  w.Drive();
  Workflow r = w.Get(id);
  CHECK(r.status == "completed");
  CHECK(Json(r.state) == Json(R"({"notes":["first","second"],"left":1,"again_notes":0})"));
  CHECK(Json(r.result) == json::value("x"));
}

VENTROS_DB_TEST("Workflows: a wait without an on_timeout step goes on to the next one, timed out",
                "[workflows]") {
  World w(engine);
  Definition d;
  d.type = "ask";
  d.first_step = "ask";
  d.steps["ask"] = [](StepContext&) {
    return Command::WaitSignal("answer", std::chrono::milliseconds(kDay), "next", "");
  };
  d.steps["next"] = [](StepContext& ctx) {
    return Command::Complete(json::object{{"timed_out", ctx.timed_out}, {"answer", ctx.last}});
  };
  w.engine.Register(d);
  const std::string answered = w.Start("ask");
  const std::string silent = w.Start("ask");
  w.Idle();
  REQUIRE(w.engine.Signal(kTenant, answered, "answer", R"("yes")").ok());
  w.Drive();
  CHECK(Json(w.Get(answered).result) == Json(R"({"timed_out":false,"answer":"yes"})"));
  CHECK(Json(w.Get(silent).result) == Json(R"({"timed_out":true,"answer":null})"));
}

VENTROS_DB_TEST("Workflows: signals nobody will take are dropped when the workflow closes",
                "[workflows]") {
  World w(engine);
  w.engine.BindActivity("SignalsItself", [&](const ActivityContext& ctx) -> ActivityResult {
    REQUIRE(w.engine.Signal(ctx.tenant_id, ctx.workflow_id, "late", "1").ok());
    return ActivityError{"fatal", "gives up"};
  });
  ActivityOptions o;
  o.retry.non_retryable_error_kinds = {"fatal"};
  w.engine.Register(OneActivity("signals_itself", "SignalsItself", o));
  const std::string id = w.Start("signals_itself");
  w.Idle();
  CHECK(w.Get(id).status == "failed");
  auto conn = w.database->Acquire();
  REQUIRE(conn.ok());
  auto left = (*conn)->Query("SELECT COUNT(*) FROM workflow_signals");
  REQUIRE(left.ok());
  CHECK(left->rows[0].GetInt(0) == 0);
}

// ---------------------------------------------------------------- 7. queries

VENTROS_DB_TEST("Workflows: Get returns state and history, List filters, other tenants see nothing",
                "[workflows]") {
  World w(engine);
  RegisterApproval(w.engine);
  w.engine.BindActivity("Echo",
                        [](const ActivityContext& ctx) -> ActivityResult { return ctx.input; });
  w.engine.Register(OneActivity("echo", "Echo", {}));
  const std::string a1 = w.Start("approval", R"({"deal":1})");
  const std::string a2 = w.Start("approval", R"({"deal":2})");
  const std::string e1 = w.Start("echo", R"({"x":1})");
  auto other = w.engine.StartWorkflow(kOtherTenant, "echo", "{}", a1);  // same id, other tenant
  REQUIRE(other.ok());
  w.Idle();

  Workflow g = w.Get(a1);
  CHECK(g.tenant_id == kTenant);
  CHECK(g.type == "approval");
  CHECK(g.step == "wait");
  CHECK(Json(g.state) == Json(R"({"deal":1})"));
  CHECK(Json(g.input) == Json(R"({"deal":1})"));
  CHECK(Trace(g) == std::vector<std::string>{"started", "step:wait"});
  auto j = Json(WorkflowJson(g, true)).as_object();
  CHECK(j.at("waiting_for") == "signal:approve");
  CHECK(j.at("history").as_array().size() == 2);
  CHECK(j.at("state") == Json(R"({"deal":1})"));

  CHECK(w.engine.Get(kOtherTenant, a2).status().code() == core::StatusCode::kNotFound);
  CHECK(w.engine.Get(kOtherTenant, g.run_id).status().code() == core::StatusCode::kNotFound);
  CHECK(w.engine.Signal(kOtherTenant, a2, "approve", "{}").code() == core::StatusCode::kNotFound);
  CHECK(w.engine.Cancel(kOtherTenant, a2).code() == core::StatusCode::kNotFound);
  CHECK(w.Get(g.run_id).id == a1);  // by run id too

  auto ids = [](const Result<std::vector<Workflow>>& list) {
    REQUIRE(list.ok());
    std::vector<std::string> out;
    for (const auto& x : *list) out.push_back(x.id);
    std::sort(out.begin(), out.end());
    return out;
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(ids(w.engine.List(kTenant, std::nullopt, std::nullopt, 100)) == sorted({a1, a2, e1}));
  CHECK(ids(w.engine.List(kTenant, "approval", std::nullopt, 100)) == sorted({a1, a2}));
  CHECK(ids(w.engine.List(kTenant, std::nullopt, "completed", 100)) == sorted({e1}));
  CHECK(ids(w.engine.List(kTenant, "approval", "running", 100)) == sorted({a1, a2}));
  CHECK(ids(w.engine.List(kTenant, "echo", "running", 100)).empty());
  CHECK(ids(w.engine.List(kOtherTenant, std::nullopt, std::nullopt, 100)) ==
        std::vector<std::string>{a1});
  CHECK(w.engine.List(kTenant, std::nullopt, std::nullopt, 1)->size() == 1);
}

// ---------------------------------------------------------------- 8. id reuse

VENTROS_DB_TEST("Workflows: the id reuse policies", "[workflows]") {
  World w(engine);
  auto define = [&](const std::string& type, IdReusePolicy policy) {
    Definition d;
    d.type = type;
    d.first_step = "go";
    d.id_reuse = policy;
    d.steps["go"] = [](StepContext& ctx) {
      if (auto* f = ctx.state.if_contains("fail"); f && *f == json::value(true)) {
        return Command::Fail("asked", "to fail");
      }
      return Command::Complete(ctx.state);
    };
    w.engine.Register(d);
  };
  define("any", IdReusePolicy::kAllowDuplicate);
  define("failed_only", IdReusePolicy::kAllowDuplicateFailedOnly);
  define("reject", IdReusePolicy::kRejectDuplicate);
  auto start = [&](const std::string& type, const std::string& id, const std::string& input) {
    return w.engine.StartWorkflow(kTenant, type, input, id);
  };

  // A running duplicate is refused whatever the policy.
  REQUIRE(start("any", "contact-1", R"({"run":1})").ok());
  CHECK(start("any", "contact-1", "{}").status().code() == core::StatusCode::kAlreadyExists);
  w.Idle();
  CHECK(w.Get("contact-1").status == "completed");
  auto second = start("any", "contact-1", R"({"run":2})");
  REQUIRE(second.ok());
  Workflow latest = w.Get("contact-1");
  CHECK(latest.run_id == second->run_id);
  CHECK(latest.status == "running");
  w.Idle();
  CHECK(Json(w.Get("contact-1").result) == Json(R"({"run":2})"));

  REQUIRE(start("reject", "r", "{}").ok());
  w.Idle();
  CHECK(start("reject", "r", "{}").status().code() == core::StatusCode::kAlreadyExists);
  REQUIRE(start("reject", "rf", R"({"fail":true})").ok());
  w.Idle();
  CHECK(w.Get("rf").status == "failed");
  CHECK(start("reject", "rf", "{}").status().code() == core::StatusCode::kAlreadyExists);

  REQUIRE(start("failed_only", "f", R"({"fail":true})").ok());
  w.Idle();
  CHECK(w.Get("f").status == "failed");
  auto retry = start("failed_only", "f", R"({"fail":false})");
  REQUIRE(retry.ok());
  w.Idle();
  CHECK(w.Get("f").status == "completed");
  CHECK(w.Get("f").run_id == retry->run_id);
  CHECK(start("failed_only", "f", "{}").status().code() == core::StatusCode::kAlreadyExists);
  // Cancelled counts as not completed.
  Definition waits;
  waits.type = "failed_only_waits";
  waits.first_step = "wait";
  waits.id_reuse = IdReusePolicy::kAllowDuplicateFailedOnly;
  waits.steps["wait"] = [](StepContext&) {
    return Command::WaitSignal("never", std::chrono::milliseconds(0), "wait", "");
  };
  w.engine.Register(waits);
  REQUIRE(start("failed_only_waits", "c", "{}").ok());
  w.Idle();
  REQUIRE(w.engine.Cancel(kTenant, "c").ok());
  w.Idle();
  CHECK(w.Get("c").status == "cancelled");
  CHECK(start("failed_only_waits", "c", "{}").ok());
  CHECK(start("failed_only_waits", "c", "{}").status().code() == core::StatusCode::kAlreadyExists);

  CHECK(w.engine.StartWorkflow(kTenant, "any", "{}", std::string()).status().code() ==
        core::StatusCode::kInvalidArgument);
  CHECK(w.engine.StartWorkflow(kTenant, "any", "{}", std::string(201, 'x')).status().code() ==
        core::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- 9. children

void RegisterFamily(Engine& e) {
  e.BindActivity("Double", [](const ActivityContext& ctx) -> ActivityResult {
    return json::value(ctx.input.at("x").as_int64() * 2);
  });
  Definition child;
  child.type = "child";
  child.first_step = "check";
  child.steps["check"] = [](StepContext& ctx) {
    if (ctx.state["x"].as_int64() < 0) return Command::Fail("bad_x", "x is negative");
    if (ctx.state["x"].as_int64() == 0) {
      return Command::Sleep(std::chrono::milliseconds(kDay), "check");
    }
    return Command::Activity("Double", ctx.state, "done");
  };
  child.steps["done"] = [](StepContext& ctx) { return Command::Complete(ctx.last); };
  e.Register(child);
  Definition parent;
  parent.type = "parent";
  parent.first_step = "spawn";
  parent.steps["spawn"] = [](StepContext& ctx) {
    return Command::Child("child", json::object{{"x", ctx.state["x"]}}, "after");
  };
  parent.steps["after"] = [](StepContext& ctx) {
    ctx.state["child"] = ctx.last;
    return Command::Complete(ctx.last);
  };
  e.Register(parent);
}

VENTROS_DB_TEST("Workflows: a parent waits for its child's result, or its failure", "[workflows]") {
  World w(engine);
  RegisterFamily(w.engine);
  const std::string ok = w.Start("parent", R"({"x":21})");
  const std::string bad = w.Start("parent", R"({"x":-1})");
  w.Drive();

  Workflow p = w.Get(ok);
  CHECK(p.status == "completed");
  json::object res = Json(p.result).as_object();
  CHECK(res.at("status") == "completed");
  CHECK(res.at("result") == json::value(42));
  const std::string child_id(Detail(p, "child_started").at("workflow_id").as_string());
  CHECK(res.at("workflow_id") == json::value(child_id));
  Workflow c = w.Get(child_id);
  CHECK(c.status == "completed");
  CHECK(c.parent_run_id == p.run_id);
  CHECK(CountKind(p, "child_completed") == 1);

  Workflow q = w.Get(bad);
  CHECK(q.status == "completed");
  json::object qres = Json(q.result).as_object();
  CHECK(qres.at("status") == "failed");
  CHECK(std::string(qres.at("error").as_string()).find("bad_x") != std::string::npos);
}

VENTROS_DB_TEST("Workflows: cancelling a parent waiting for its child cancels the child",
                "[workflows]") {
  World w(engine);
  RegisterFamily(w.engine);
  const std::string id = w.Start("parent", R"({"x":0})");  // the child sleeps forever
  w.Idle();
  Workflow p = w.Get(id);
  CHECK(p.waiting_for.rfind("child:", 0) == 0);
  const std::string child_id = p.waiting_for.substr(6);
  CHECK(w.Get(child_id).waiting_for == "timer");
  REQUIRE(w.engine.Cancel(kTenant, id).ok());
  w.Idle();
  CHECK(w.Get(id).status == "cancelled");
  CHECK(w.Get(child_id).status == "cancelled");
}

VENTROS_DB_TEST("Workflows: a child id already running fails the parent", "[workflows]") {
  World w(engine);
  RegisterFamily(w.engine);
  Definition d;
  d.type = "named_parent";
  d.first_step = "spawn";
  d.steps["spawn"] = [](StepContext&) {
    return Command::Child("child", json::object{{"x", 0}}, "after", std::string("the-child"));
  };
  d.steps["after"] = [](StepContext& ctx) { return Command::Complete(ctx.last); };
  w.engine.Register(d);
  w.Start("child", R"({"x":0})", "the-child");
  const std::string id = w.Start("named_parent");
  w.Idle();
  Workflow p = w.Get(id);
  CHECK(p.status == "failed");
  CHECK(p.error.find("the-child") != std::string::npos);
}

// ---------------------------------------------------------------- 10. two engines

VENTROS_DB_TEST("Workflows: two engines over one database run each of 200 activities exactly once",
                "[workflows][slow]") {
  World w(engine);
  auto second_db = w.db.Open();
  Engine::Options o = TestOptions();
  o.batch = 8;
  Engine e1(*w.database, w.clock, core::NullLogger(), nullptr, o);
  Engine e2(*second_db, w.clock, core::NullLogger(), nullptr, o);
  constexpr int kRuns = 200;
  std::vector<std::atomic<int>> runs(kRuns);
  std::map<Engine*, std::atomic<int>> by_engine;
  for (Engine* e : {&e1, &e2}) {
    e->BindActivity("Count", [&runs, &by_engine, e](const ActivityContext& ctx) -> ActivityResult {
      runs[static_cast<size_t>(std::stoi(ctx.workflow_id.substr(2)))]++;
      by_engine[e]++;
      return json::value(ctx.workflow_id);
    });
    e->Register(OneActivity("count", "Count", {}));
  }
  for (int i = 0; i < kRuns; ++i) {
    REQUIRE(e1.StartWorkflow(kTenant, "count", "{}", fmt::format("w-{}", i)).ok());
  }

  std::atomic<int> errors{0};
  auto work = [&](Engine& e) {
    int quiet = 0;
    for (int i = 0; i < 10000 && quiet < 3; ++i) {
      auto n = e.RunDue();
      if (!n.ok()) {
        ++errors;
        continue;
      }
      quiet = *n == 0 ? quiet + 1 : 0;
    }
  };
  by_engine[&e1] = 0;
  by_engine[&e2] = 0;
  std::promise<void> go;
  std::shared_future<void> gate = go.get_future().share();
  std::thread t1([&] {
    gate.wait();
    work(e1);
  });
  std::thread t2([&] {
    gate.wait();
    work(e2);
  });
  go.set_value();
  t1.join();
  t2.join();
  CHECK(errors == 0);
  INFO("activities run by each engine: " << by_engine[&e1] << " and " << by_engine[&e2]);
  for (int i = 0; i < kRuns; ++i) {
    INFO("workflow " << i);
    CHECK(runs[static_cast<size_t>(i)] == 1);
  }
  auto completed = w.engine.List(kTenant, "count", "completed", 1000);
  REQUIRE(completed.ok());
  CHECK(completed->size() == kRuns);
}

VENTROS_DB_TEST("Workflows: Start runs workflows on worker threads until Stop", "[workflows]") {
  Engine::Options o = TestOptions();
  o.workers = 2;
  o.poll_interval = 20ms;
  World w(engine, o);
  w.engine.BindActivity("Echo",
                        [](const ActivityContext& ctx) -> ActivityResult { return ctx.input; });
  w.engine.Register(OneActivity("echo", "Echo", {}));
  w.engine.Start();
  const std::string id = w.Start("echo", R"({"a":1})");
  CHECK(testing::Eventually([&] { return w.Get(id).status == "completed"; }));
  w.engine.Stop();
  CHECK(Json(w.Get(id).result) == Json(R"({"a":1})"));
}

// ---------------------------------------------------------------- 11. bad input

VENTROS_DB_TEST("Workflows: bad input is refused or fails the workflow with a clear error",
                "[workflows]") {
  World w(engine);
  w.engine.Register(OneActivity("echo", "Echo", {}));  // Echo is never bound
  Definition lost;
  lost.type = "lost";
  lost.first_step = "nowhere";
  w.engine.Register(lost);
  Definition throws;
  throws.type = "throws";
  throws.first_step = "boom";
  throws.steps["boom"] = [](StepContext& ctx) -> Command {
    if (ctx.state["plain"] == json::value(true)) throw 42;
    throw std::runtime_error("kaput");
  };
  w.engine.Register(throws);

  auto unknown = w.engine.StartWorkflow(kTenant, "nope", "{}");
  CHECK(unknown.status().code() == core::StatusCode::kInvalidArgument);
  CHECK(unknown.status().message().find("nope") != std::string::npos);
  CHECK(unknown.status().message().find("echo, lost, throws") != std::string::npos);
  CHECK(w.engine.StartWorkflow(kTenant, "echo", "{nope").status().code() ==
        core::StatusCode::kInvalidArgument);
  auto array_input = w.engine.StartWorkflow(kTenant, "throws", "[1,2]");
  REQUIRE(array_input.ok());
  CHECK(Json(array_input->state) == Json(R"({"input":[1,2]})"));

  const std::string a = w.Start("lost");
  const std::string b = w.Start("echo");
  const std::string c = w.Start("throws", R"({"plain":true})");
  w.Drive();

  Workflow ra = w.Get(a);
  CHECK(ra.status == "failed");
  CHECK(ra.error == "unknown_step: lost has no step 'nowhere'");
  Workflow rb = w.Get(b);
  CHECK(rb.status == "failed");
  CHECK(rb.error.rfind("activity_not_bound", 0) == 0);
  CHECK(rb.error.find("Echo") != std::string::npos);
  CHECK(CountKind(rb, "activity_failed") == 1);  // not retried
  Workflow rc = w.Get(c);
  CHECK(rc.status == "failed");
  CHECK(rc.error.rfind("step_exception", 0) == 0);
  Workflow rd = w.Get(array_input->id);
  CHECK(rd.status == "failed");
  CHECK(rd.error == "step_exception: kaput");
}

}  // namespace
}  // namespace ventros::workflows
