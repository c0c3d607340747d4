#pragma once
// Durable workflows: long-running processes that survive crashes and deploys, inside the binary
// (modelled on Temporal, docs/workflows.md). A workflow type is a set of named steps over a JSON
// state; a step looks at the state (and the outcome of what it waited for) and returns a command:
// run an activity, sleep, wait for a signal, start a child workflow, go to another step, complete
// or fail. Each step's outcome is persisted with the workflow's history before the next step
// starts, so after a crash a workflow continues from its last persisted step and a completed
// activity never runs again. Activities run at least once and get an idempotency key; they are
// bound by name in the composition root, so the engine knows nothing of CRM or agents.
//
// Timers are rows (`wake_at`), driven by the injected clock: with the virtual clock a 30-day
// workflow runs in well under a second. Tasks are claimed with leases (PostgreSQL: FOR UPDATE
// SKIP LOCKED), so several instances can run workers over one database.
//
// Sagas: an activity command may carry a compensation; on failure or cancel the compensations of
// the completed activities run in reverse order, each retried with backoff until it succeeds
// once (at least once, like activities, with a stable idempotency key). One that still fails
// after 10 attempts, or is not bound, is recorded as compensation_failed and the next one runs.
//
// Thread-safety: Engine is thread-safe. Register definitions and bind activities before Start().

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"

namespace ventros::workflows {

using core::Result;
using core::Status;

struct RetryPolicy {
  std::chrono::milliseconds initial_interval{1000};
  double backoff_coefficient = 2.0;
  std::chrono::milliseconds maximum_interval{0};  // 0: 100 x initial_interval
  int maximum_attempts = 0;                       // 0: unlimited
  std::vector<std::string> non_retryable_error_kinds;
  // The wait before attempt n + 1 after `failed_attempts` = n failures (n >= 1):
  // min(initial * coefficient^(n-1), maximum).
  std::chrono::milliseconds DelayAfter(int failed_attempts) const;
};

// An attempt handed to a worker that never reports its outcome (it crashed, or overran its lease:
// Engine::Options::lease + start_to_close) counts as failed with kind "timeout" and is retried
// per the policy; an outcome reported after that is dropped.
struct ActivityOptions {
  RetryPolicy retry;
  std::chrono::milliseconds start_to_close{0};     // one attempt, on the injected clock; 0: none
  std::chrono::milliseconds schedule_to_close{0};  // all attempts together; 0: none
};

// What an activity gets.
struct ActivityContext {
  std::string tenant_id;
  std::string workflow_id;
  std::string workflow_type;
  std::string activity;
  // Stable across the attempts of one scheduled activity (and across a crash and re-run): the
  // outside system should do the work at most once per key.
  std::string idempotency_key;
  int attempt = 1;
  boost::json::value input;
  // Epoch ms by which this attempt must finish: start-to-close or schedule-to-close, whichever
  // comes first (0: none).
  int64_t deadline_ms = 0;
};

// An activity's failure: `kind` is matched against non_retryable_error_kinds.
struct ActivityError {
  std::string kind;
  std::string message;
};
using ActivityResult = std::variant<boost::json::value, ActivityError>;
using Activity = std::function<ActivityResult(const ActivityContext&)>;

struct Compensation {
  std::string activity;
  boost::json::value input;
};

// What a step decides. Build with the factories.
struct Command {
  enum class Kind { kActivity, kSleep, kWaitSignal, kGoto, kChild, kComplete, kFail };
  Kind kind = Kind::kComplete;
  std::string name;  // activity, signal or child workflow type
  boost::json::value input;
  ActivityOptions options;
  std::optional<Compensation> compensation;
  std::chrono::milliseconds duration{0};  // sleep; wait-signal timeout (0: none)
  std::string next;                       // step after it (signal received, child done, ...)
  std::string on_timeout;  // wait-signal: step when the timeout fires (empty: `next`, timed out)
  std::string error_kind, error_message;  // fail
  std::optional<std::string> child_id;

  static Command Activity(std::string name, boost::json::value input, std::string next,
                          ActivityOptions options = {},
                          std::optional<Compensation> compensation = std::nullopt);
  static Command Sleep(std::chrono::milliseconds duration, std::string next);
  static Command WaitSignal(std::string signal, std::chrono::milliseconds timeout, std::string next,
                            std::string on_timeout);
  static Command Goto(std::string next);
  static Command Child(std::string type, boost::json::value input, std::string next,
                       std::optional<std::string> id = std::nullopt);
  static Command Complete(boost::json::value result = nullptr);
  static Command Fail(std::string kind, std::string message);
};

// What a step sees.
struct StepContext {
  boost::json::object& state;  // the workflow's state; changes are persisted with the step
  // The outcome of what the previous command waited for: an activity's result, a signal's
  // payload, a child's result; null after a sleep, a timeout or a goto.
  const boost::json::value& last;
  bool timed_out = false;  // a wait-signal ended by its timeout
  // Signals received while the workflow was not waiting for them, oldest first, by name
  // (a step may look at them and consume them with TakeSignal).
  std::map<std::string, std::vector<boost::json::value>>& inbox;
  const std::string& workflow_id;
  const std::string& tenant_id;
  int64_t now_ms = 0;
  // Removes and returns the oldest pending signal of that name, if any.
  std::optional<boost::json::value> TakeSignal(const std::string& name);
};

using Step = std::function<Command(StepContext&)>;

enum class IdReusePolicy {
  kAllowDuplicate,            // a new run when none with this id is running
  kAllowDuplicateFailedOnly,  // a new run only if earlier runs failed or were cancelled
  kRejectDuplicate,           // never again once an id was used
};

struct Definition {
  std::string type;
  std::string first_step;
  std::map<std::string, Step> steps;
  IdReusePolicy id_reuse = IdReusePolicy::kAllowDuplicate;
  // Queries read the state (Engine::Get); there are no named query handlers.
};

struct HistoryEvent {
  int64_t seq = 0;
  std::string kind;  // started, step, activity_scheduled, activity_completed, activity_failed,
                     // timer_started, timer_fired, signal_received, signal_timeout,
                     // child_started, child_completed, compensation_completed,
                     // compensation_failed, cancel_requested, completed, failed, cancelled
  std::string detail = "{}";  // JSON
  int64_t at = 0;
};

struct Workflow {
  std::string tenant_id;
  std::string id;      // the workflow id (unique among running workflows of a tenant)
  std::string run_id;  // this run
  std::string type;
  std::string status;  // running | completed | failed | cancelled
  std::string step;
  std::string state = "{}";  // JSON
  std::string input = "{}";
  std::string result = "null";
  std::string error;
  std::optional<std::string> parent_run_id;
  int64_t wake_at = 0;      // next time it has something to do (timer, retry), 0: waiting for input
  std::string waiting_for;  // "signal:<name>", "activity:<name>", "timer", "child:<id>", ""
  int64_t created_at = 0, updated_at = 0;
  std::optional<int64_t> closed_at;
  std::vector<HistoryEvent> history;  // filled by Get
};

class Engine {
 public:
  struct Options {
    std::chrono::milliseconds lease{30000};  // how long a claimed task is this worker's
    int batch = 64;                          // tasks claimed per pass
    int workers = 4;                         // threads of Start()
    std::chrono::milliseconds poll_interval{100};
  };
  Engine(core::Database& db, const core::Clock& clock, core::Logger logger,
         core::MetricsRegistry* metrics, Options options);
  Engine(core::Database& db, const core::Clock& clock, core::Logger logger)
      : Engine(db, clock, std::move(logger), nullptr, Options{}) {}
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void Register(Definition definition);
  void BindActivity(std::string name, Activity activity);
  std::vector<std::string> Types() const;

  // Starts a workflow (its first step runs on a worker). `id`: the workflow id, default a new
  // UUIDv7. AlreadyExists when the id reuse policy refuses; InvalidArgument for an unknown type.
  Result<Workflow> StartWorkflow(const std::string& tenant, const std::string& type,
                                 const std::string& input_json,
                                 std::optional<std::string> id = std::nullopt);
  // Delivers a signal to the running workflow with this id; NotFound when none runs.
  Status Signal(const std::string& tenant, const std::string& id, const std::string& name,
                const std::string& payload_json);
  // Requests cancellation: the compensations run, then the workflow is cancelled.
  Status Cancel(const std::string& tenant, const std::string& id);
  // The latest run with this id (state and history). NotFound for another tenant's.
  Result<Workflow> Get(const std::string& tenant, const std::string& id);
  Result<std::vector<Workflow>> List(const std::string& tenant, std::optional<std::string> type,
                                     std::optional<std::string> status, int limit);

  // One pass: claims due tasks and advances each workflow until it waits. Returns how many
  // steps ran. For tests (with a virtual clock) and tools.
  Result<int> RunDue();
  // Passes until none is due now.
  Status RunUntilIdle();
  // The earliest wake time of a running workflow (for tests advancing a virtual clock).
  Result<std::optional<int64_t>> NextWakeAt();

  void Start();
  void Stop();
  void Notify();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string WorkflowJson(const Workflow& w, bool with_history);

}  // namespace ventros::workflows
