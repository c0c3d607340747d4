// The durable workflow engine. A run is one row: its state, the outstanding command (`pending`:
// a step to run, an activity attempt, a timer, a signal or a child to wait for, compensations to
// run), signals received and not taken yet (`inbox`), the compensations of completed activities,
// and `wake_at`, the time it has something to do. Workers claim due runs with a lease and advance
// each until it waits; every outcome is one transaction with its history rows. Activities run
// outside transactions, between the one that scheduled them and the one that records them.

#include "ventros/workflows/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "ventros/core/ids.hpp"
#include "ventros/core/json.hpp"

namespace ventros::workflows {

namespace json = boost::json;
using core::DbValue;

// ---------------------------------------------------------------- commands and policies

std::chrono::milliseconds RetryPolicy::DelayAfter(int failed_attempts) const {
  const double initial = static_cast<double>(initial_interval.count());
  const double maximum = maximum_interval.count() > 0
                             ? static_cast<double>(maximum_interval.count())
                             : 100.0 * initial;
  const double delay = initial * std::pow(backoff_coefficient, std::max(0, failed_attempts - 1));
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(delay, maximum)));
}

Command Command::Activity(std::string name, json::value input, std::string next,
                          ActivityOptions options, std::optional<Compensation> compensation) {
  Command c;
  c.kind = Kind::kActivity;
  c.name = std::move(name);
  c.input = std::move(input);
  c.next = std::move(next);
  c.options = std::move(options);
  c.compensation = std::move(compensation);
  return c;
}
Command Command::Sleep(std::chrono::milliseconds duration, std::string next) {
  Command c;
  c.kind = Kind::kSleep;
  c.duration = duration;
  c.next = std::move(next);
  return c;
}
Command Command::WaitSignal(std::string signal, std::chrono::milliseconds timeout, std::string next,
                            std::string on_timeout) {
  Command c;
  c.kind = Kind::kWaitSignal;
  c.name = std::move(signal);
  c.duration = timeout;
  c.next = std::move(next);
  c.on_timeout = std::move(on_timeout);
  return c;
}
Command Command::Goto(std::string next) {
  Command c;
  c.kind = Kind::kGoto;
  c.next = std::move(next);
  return c;
}
Command Command::Child(std::string type, json::value input, std::string next,
                       std::optional<std::string> id) {
  Command c;
  c.kind = Kind::kChild;
  c.name = std::move(type);
  c.input = std::move(input);
  c.next = std::move(next);
  c.child_id = std::move(id);
  return c;
}
Command Command::Complete(json::value result) {
  Command c;
  c.kind = Kind::kComplete;
  c.input = std::move(result);
  return c;
}
Command Command::Fail(std::string kind, std::string message) {
  Command c;
  c.kind = Kind::kFail;
  c.error_kind = std::move(kind);
  c.error_message = std::move(message);
  return c;
}

std::optional<json::value> StepContext::TakeSignal(const std::string& name) {
  auto it = inbox.find(name);
  if (it == inbox.end() || it->second.empty()) return std::nullopt;
  json::value v = std::move(it->second.front());
  it->second.erase(it->second.begin());
  if (it->second.empty()) inbox.erase(it);
  return v;
}

namespace {

constexpr const char* kCols =
    "run_id, tenant_id, id, type, status, step, state, input, result, error, pending, inbox, "
    "compensations, cancel_requested, parent_run_id, wake_at, lease_owner, lease_until, "
    "history_seq, created_at, updated_at, closed_at";
constexpr int kMaxStepsPerAdvance = 200;  // a workflow looping on gotos yields to others
constexpr int kMaxCompensationAttempts = 10;

json::object ParseObject(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return !ec && v.is_object() ? v.as_object() : json::object();
}
json::value ParseValue(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}
int64_t Int(const json::object& o, std::string_view k, int64_t fallback = 0) {
  auto* v = o.if_contains(k);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}

json::object OptionsJson(const ActivityOptions& o) {
  json::array kinds;
  for (const auto& k : o.retry.non_retryable_error_kinds) kinds.emplace_back(k);
  return json::object{{"initial_interval_ms", o.retry.initial_interval.count()},
                      {"backoff_coefficient", o.retry.backoff_coefficient},
                      {"maximum_interval_ms", o.retry.maximum_interval.count()},
                      {"maximum_attempts", o.retry.maximum_attempts},
                      {"non_retryable", std::move(kinds)},
                      {"start_to_close_ms", o.start_to_close.count()},
                      {"schedule_to_close_ms", o.schedule_to_close.count()}};
}
ActivityOptions OptionsFrom(const json::object& o) {
  ActivityOptions a;
  a.retry.initial_interval = std::chrono::milliseconds(Int(o, "initial_interval_ms", 1000));
  if (auto* c = o.if_contains("backoff_coefficient"); c && c->is_number()) {
    a.retry.backoff_coefficient = c->to_number<double>();
  }
  a.retry.maximum_interval = std::chrono::milliseconds(Int(o, "maximum_interval_ms"));
  a.retry.maximum_attempts = static_cast<int>(Int(o, "maximum_attempts"));
  if (auto* k = o.if_contains("non_retryable"); k && k->is_array()) {
    for (const auto& x : k->as_array()) {
      if (x.is_string()) a.retry.non_retryable_error_kinds.emplace_back(x.as_string());
    }
  }
  a.start_to_close = std::chrono::milliseconds(Int(o, "start_to_close_ms"));
  a.schedule_to_close = std::chrono::milliseconds(Int(o, "schedule_to_close_ms"));
  return a;
}

// One run as loaded for a change.
struct Run {
  std::string run_id, tenant_id, id, type, status, step;
  json::object state, pending, inbox;
  json::array compensations;
  std::string input, result = "null", error;
  bool cancel_requested = false;
  std::optional<std::string> parent_run_id, lease_owner;
  int64_t wake_at = 0, lease_until = 0, history_seq = 0, created_at = 0;
  std::optional<int64_t> closed_at;
  std::vector<std::pair<std::string, json::object>> new_history;

  void Record(std::string kind, json::object detail) {
    new_history.emplace_back(std::move(kind), std::move(detail));
  }
};

Run RunFromRow(const core::DbRow& r) {
  Run x;
  x.run_id = r.GetText(0);
  x.tenant_id = r.GetText(1);
  x.id = r.GetText(2);
  x.type = r.GetText(3);
  x.status = r.GetText(4);
  x.step = r.GetText(5);
  x.state = ParseObject(r.GetText(6));
  x.input = r.GetText(7);
  x.result = r.GetText(8);
  x.error = r.GetText(9);
  x.pending = ParseObject(r.GetText(10));
  x.inbox = ParseObject(r.GetText(11));
  auto comps = ParseValue(r.GetText(12));
  if (comps.is_array()) x.compensations = comps.as_array();
  x.cancel_requested = r.GetInt(13) != 0;
  x.parent_run_id = r.GetOptText(14);
  x.wake_at = r.GetInt(15);
  x.lease_owner = r.GetOptText(16);
  x.lease_until = r.GetInt(17);
  x.history_seq = r.GetInt(18);
  x.created_at = r.GetInt(19);
  if (!r.IsNull(21)) x.closed_at = r.GetInt(21);
  return x;
}

Workflow WorkflowFromRow(const core::DbRow& r) {
  Workflow w;
  w.run_id = r.GetText(0);
  w.tenant_id = r.GetText(1);
  w.id = r.GetText(2);
  w.type = r.GetText(3);
  w.status = r.GetText(4);
  w.step = r.GetText(5);
  w.state = r.GetText(6);
  w.input = r.GetText(7);
  w.result = r.GetText(8);
  w.error = r.GetText(9);
  json::object pending = ParseObject(r.GetText(10));
  std::string kind = core::StringField(pending, "kind");
  if (w.status == "running") {
    if (kind == "signal") w.waiting_for = "signal:" + core::StringField(pending, "name");
    if (kind == "activity") w.waiting_for = "activity:" + core::StringField(pending, "name");
    if (kind == "timer") w.waiting_for = "timer";
    if (kind == "child") w.waiting_for = "child:" + core::StringField(pending, "child_id");
    if (kind == "compensate") w.waiting_for = "compensations";
  }
  w.parent_run_id = r.GetOptText(14);
  w.wake_at = r.GetInt(15);
  w.created_at = r.GetInt(19);
  w.updated_at = r.GetInt(20);
  if (!r.IsNull(21)) w.closed_at = r.GetInt(21);
  return w;
}

}  // namespace

// ---------------------------------------------------------------- engine

struct Engine::Impl {
  core::Database& db;
  const core::Clock& clock;
  core::Logger logger;
  core::MetricsRegistry* metrics;
  Options options;
  std::string owner = core::NewUuidV7();
  mutable std::shared_mutex defs_mu;
  std::map<std::string, Definition> definitions;
  std::map<std::string, Activity> activities;

  std::mutex mu;
  std::condition_variable cv;
  uint64_t wake_generation = 0;
  std::atomic<bool> running{false};
  std::vector<std::thread> threads;

  Impl(core::Database& d, const core::Clock& c, core::Logger l, core::MetricsRegistry* m, Options o)
      : db(d), clock(c), logger(std::move(l)), metrics(m), options(o) {}

  void Count(const std::string& name, const std::string& help, const std::string& type) {
    if (metrics) metrics->GetCounter(name, help, {{"type", type}}).Inc();
  }

  const Definition* Find(const std::string& type) const {
    std::shared_lock lock(defs_mu);
    auto it = definitions.find(type);
    return it == definitions.end() ? nullptr : &it->second;
  }
  std::optional<Activity> FindActivity(const std::string& name) const {
    std::shared_lock lock(defs_mu);
    auto it = activities.find(name);
    if (it == activities.end()) return std::nullopt;
    return it->second;
  }

  std::string LockSuffix(core::Connection& conn) const {
    return conn.engine() == core::DbEngine::kPostgres ? " FOR UPDATE" : "";
  }

  Result<std::optional<Run>> Load(core::Connection& conn, const std::string& run_id) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn.Query(fmt::format("SELECT {} FROM workflows WHERE run_id = $1{}", kCols,
                                          LockSuffix(conn)),
                              {DbValue(run_id)}));
    if (rows.empty()) return std::optional<Run>();
    return std::optional<Run>(RunFromRow(rows.rows[0]));
  }

  Status Save(core::Connection& conn, Run& r, bool release) {
    int64_t now = clock.NowMillis();
    for (auto& [kind, detail] : r.new_history) {
      ++r.history_seq;
      VENTROS_ASSIGN_OR_RETURN(
          auto ins, conn.Query("INSERT INTO workflow_history (run_id, seq, kind, detail, at) "
                               "VALUES ($1, $2, $3, $4, $5)",
                               {DbValue(r.run_id), DbValue(r.history_seq), DbValue(kind),
                                DbValue(json::serialize(detail)), DbValue(now)}));
      (void)ins;
    }
    r.new_history.clear();
    VENTROS_ASSIGN_OR_RETURN(
        auto upd,
        conn.Query(
            "UPDATE workflows SET status = $2, step = $3, state = $4, result = $5, error = $6, "
            "pending = $7, inbox = $8, compensations = $9, wake_at = $10, history_seq = $11, "
            "updated_at = $12, closed_at = $13, lease_owner = $14, lease_until = $15 "
            "WHERE run_id = $1",
            {DbValue(r.run_id), DbValue(r.status), DbValue(r.step),
             DbValue(json::serialize(r.state)), DbValue(r.result), DbValue(r.error),
             DbValue(json::serialize(r.pending)), DbValue(json::serialize(r.inbox)),
             DbValue(json::serialize(r.compensations)), DbValue(r.wake_at), DbValue(r.history_seq),
             DbValue(now), r.closed_at ? DbValue(*r.closed_at) : DbValue(nullptr),
             release ? DbValue(nullptr) : DbValue(owner),
             DbValue(release ? int64_t{0} : r.lease_until)}));
    (void)upd;
    return Status::Ok();
  }

  // Closes a run and, for a child, hands its outcome to the parent waiting for it.
  Status Close(core::Connection& conn, Run& r, const std::string& status) {
    int64_t now = clock.NowMillis();
    r.status = status;
    r.closed_at = now;
    r.wake_at = 0;
    r.pending = json::object{{"kind", "closed"}};
    r.Record(status, json::object{{"result", ParseValue(r.result)}, {"error", r.error}});
    // Signals that arrived after the last drain: nobody will take them.
    VENTROS_ASSIGN_OR_RETURN(
        auto dropped,
        conn.Query("DELETE FROM workflow_signals WHERE run_id = $1", {DbValue(r.run_id)}));
    (void)dropped;
    Count("ventros_workflows_closed_total", "Workflows closed, by type", r.type);
    if (metrics) {
      metrics
          ->GetCounter("ventros_workflows_" + status + "_total",
                       "Workflows " + status + ", by type", {{"type", r.type}})
          .Inc();
    }
    if (!r.parent_run_id) return Status::Ok();
    VENTROS_ASSIGN_OR_RETURN(auto parent, Load(conn, *r.parent_run_id));
    if (!parent || parent->status != "running" ||
        core::StringField(parent->pending, "kind") != "child" ||
        core::StringField(parent->pending, "child_run_id") != r.run_id) {
      return Status::Ok();
    }
    json::object outcome{{"status", status},
                         {"result", ParseValue(r.result)},
                         {"error", r.error},
                         {"workflow_id", r.id}};
    parent->Record("child_completed", outcome);
    parent->pending = json::object{{"kind", "step"},
                                   {"step", core::StringField(parent->pending, "next")},
                                   {"last", std::move(outcome)}};
    parent->wake_at = now;
    // The parent keeps whatever lease it has (a worker may hold it).
    VENTROS_ASSIGN_OR_RETURN(
        auto upd,
        conn.Query(
            "UPDATE workflows SET pending = $2, wake_at = $3, updated_at = $3 WHERE "
            "run_id = $1",
            {DbValue(parent->run_id), DbValue(json::serialize(parent->pending)), DbValue(now)}));
    (void)upd;
    for (auto& [kind, detail] : parent->new_history) {
      VENTROS_ASSIGN_OR_RETURN(
          auto ins, conn.Query("INSERT INTO workflow_history (run_id, seq, kind, detail, at) "
                               "SELECT $1, history_seq + 1, $2, $3, $4 FROM workflows WHERE "
                               "run_id = $1",
                               {DbValue(parent->run_id), DbValue(kind),
                                DbValue(json::serialize(detail)), DbValue(now)}));
      (void)ins;
      VENTROS_ASSIGN_OR_RETURN(
          auto bump, conn.Query("UPDATE workflows SET history_seq = history_seq + 1 WHERE "
                                "run_id = $1",
                                {DbValue(parent->run_id)}));
      (void)bump;
    }
    return Status::Ok();
  }

  // A failure of the workflow: compensations first, if any.
  Status FailRun(core::Connection& conn, Run& r, const std::string& kind,
                 const std::string& message, const std::string& final_status) {
    int64_t now = clock.NowMillis();
    if (r.error.empty() && final_status == "failed") r.error = kind + ": " + message;
    if (!r.compensations.empty()) {
      r.Record("compensating",
               json::object{{"compensations", r.compensations.size()}, {"because", final_status}});
      r.pending = json::object{
          {"kind", "compensate"}, {"final", final_status}, {"attempt", 1}, {"due_at", now}};
      r.wake_at = now;
      return Status::Ok();
    }
    return Close(conn, r, final_status);
  }

  // Applies a step's command to the run.
  Status Apply(core::Connection& conn, Run& r, Command cmd) {
    int64_t now = clock.NowMillis();
    using K = Command::Kind;
    switch (cmd.kind) {
      case K::kActivity: {
        std::string key = fmt::format("{}:{}", r.run_id, r.history_seq + r.new_history.size() + 1);
        json::object p{{"kind", "activity"}, {"name", cmd.name},
                       {"input", cmd.input}, {"options", OptionsJson(cmd.options)},
                       {"attempt", 1},       {"key", key},
                       {"next", cmd.next},   {"scheduled_at", now},
                       {"due_at", now}};
        if (cmd.compensation) {
          p["compensation"] = json::object{{"activity", cmd.compensation->activity},
                                           {"input", cmd.compensation->input}};
        }
        r.Record("activity_scheduled",
                 json::object{{"activity", cmd.name}, {"input", cmd.input}, {"key", key}});
        r.pending = std::move(p);
        r.wake_at = now;
        return Status::Ok();
      }
      case K::kSleep:
        r.Record("timer_started", json::object{{"duration_ms", cmd.duration.count()},
                                               {"fires_at", now + cmd.duration.count()}});
        r.wake_at = std::max<int64_t>(now + cmd.duration.count(), 1);
        r.pending = json::object{{"kind", "timer"}, {"next", cmd.next}, {"due_at", r.wake_at}};
        return Status::Ok();
      case K::kWaitSignal: {
        auto it = r.inbox.find(cmd.name);
        if (it != r.inbox.end() && it->value().is_array() && !it->value().as_array().empty()) {
          // Already here: taken at once.
          json::array& queue = it->value().as_array();
          json::value payload = queue.front();
          queue.erase(queue.begin());
          if (queue.empty()) r.inbox.erase(it);
          r.pending = json::object{{"kind", "step"}, {"step", cmd.next}, {"last", payload}};
          r.wake_at = now;
          return Status::Ok();
        }
        r.wake_at = cmd.duration.count() > 0 ? now + cmd.duration.count() : 0;
        r.pending = json::object{{"kind", "signal"},
                                 {"name", cmd.name},
                                 {"next", cmd.next},
                                 {"on_timeout", cmd.on_timeout.empty() ? cmd.next : cmd.on_timeout},
                                 {"due_at", r.wake_at}};
        return Status::Ok();
      }
      case K::kGoto:
        r.pending = json::object{{"kind", "step"}, {"step", cmd.next}, {"last", nullptr}};
        r.wake_at = now;
        return Status::Ok();
      case K::kChild: {
        const Definition* def = Find(cmd.name);
        if (!def) return FailRun(conn, r, "unknown_child", cmd.name, "failed");
        std::string child_id =
            cmd.child_id.value_or(fmt::format("{}:{}:{}", r.id, cmd.name, r.history_seq + 1));
        // An id in use would break the insert (and, on PostgreSQL, the transaction) on every pass.
        VENTROS_ASSIGN_OR_RETURN(
            auto taken, conn.Query("SELECT run_id FROM workflows WHERE tenant_id = $1 AND id = $2 "
                                   "AND status = 'running'",
                                   {DbValue(r.tenant_id), DbValue(child_id)}));
        if (!taken.empty()) {
          return FailRun(conn, r, "child_already_running",
                         fmt::format("a workflow {} is already running", child_id), "failed");
        }
        std::string child_run = core::NewUuidV7(clock);
        json::object state =
            cmd.input.is_object() ? cmd.input.as_object() : json::object{{"input", cmd.input}};
        VENTROS_ASSIGN_OR_RETURN(
            auto ins,
            conn.Query(
                "INSERT INTO workflows (run_id, tenant_id, id, type, status, step, state, input, "
                "result, error, pending, inbox, compensations, cancel_requested, parent_run_id, "
                "wake_at, lease_until, history_seq, created_at, updated_at) VALUES ($1, $2, $3, "
                "$4, 'running', $5, $6, $7, 'null', '', $8, '{}', '[]', 0, $9, $10, 0, 1, $10, "
                "$10)",
                {DbValue(child_run), DbValue(r.tenant_id), DbValue(child_id), DbValue(cmd.name),
                 DbValue(def->first_step), DbValue(json::serialize(state)),
                 DbValue(json::serialize(cmd.input)),
                 DbValue(json::serialize(
                     json::object{{"kind", "step"}, {"step", def->first_step}, {"last", nullptr}})),
                 DbValue(r.run_id), DbValue(now)}));
        (void)ins;
        VENTROS_ASSIGN_OR_RETURN(
            auto hist, conn.Query("INSERT INTO workflow_history (run_id, seq, kind, detail, at) "
                                  "VALUES ($1, 1, 'started', $2, $3)",
                                  {DbValue(child_run),
                                   DbValue(json::serialize(json::object{
                                       {"input", cmd.input}, {"parent_run_id", r.run_id}})),
                                   DbValue(now)}));
        (void)hist;
        Count("ventros_workflows_started_total", "Workflows started, by type", cmd.name);
        r.Record(
            "child_started",
            json::object{{"type", cmd.name}, {"workflow_id", child_id}, {"run_id", child_run}});
        r.pending = json::object{{"kind", "child"},
                                 {"child_id", child_id},
                                 {"child_run_id", child_run},
                                 {"next", cmd.next},
                                 {"due_at", 0}};
        r.wake_at = 0;
        return Status::Ok();
      }
      case K::kComplete:
        r.result = json::serialize(cmd.input);
        return Close(conn, r, "completed");
      case K::kFail:
        return FailRun(conn, r, cmd.error_kind, cmd.error_message, "failed");
    }
    return Status::Ok();
  }

  // Moves signals received into the run: the one it waits for is taken, the others queue.
  Status DrainSignals(core::Connection& conn, Run& r) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn.Query("SELECT seq, name, payload FROM workflow_signals WHERE run_id = $1 "
                              "ORDER BY seq",
                              {DbValue(r.run_id)}));
    if (rows.empty()) return Status::Ok();
    int64_t now = clock.NowMillis();
    for (const auto& row : rows.rows) {
      std::string name = row.GetText(1);
      json::value payload = ParseValue(row.GetText(2));
      r.Record("signal_received", json::object{{"name", name}, {"payload", payload}});
      if (core::StringField(r.pending, "kind") == "signal" &&
          core::StringField(r.pending, "name") == name) {
        r.pending = json::object{
            {"kind", "step"}, {"step", core::StringField(r.pending, "next")}, {"last", payload}};
        r.wake_at = now;
      } else {
        auto& queue = r.inbox[name];
        if (!queue.is_array()) queue = json::array();
        queue.as_array().push_back(std::move(payload));
      }
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto del, conn.Query("DELETE FROM workflow_signals WHERE run_id = $1 AND seq <= $2",
                             {DbValue(r.run_id), DbValue(rows.rows.back().GetInt(0))}));
    (void)del;
    return Status::Ok();
  }

  // What the run should do outside a transaction (an activity or a compensation), if anything.
  struct Outside {
    std::string kind;  // "activity" | "compensate" | "" (nothing: it waits or is closed)
  };

  // One transaction: signals, cancel, then the in-database work of the pending command (a step,
  // a timer, a timeout). Returns what is left to do outside; the lease is released unless an
  // activity or a compensation is handed out.
  Result<Outside> AdvanceInside(const std::string& run_id, int* steps) {
    VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_ASSIGN_OR_RETURN(auto loaded, Load(*conn, run_id));
    if (!loaded || loaded->status != "running" || loaded->lease_owner != owner) return Outside{};
    Run& r = *loaded;
    int64_t now = clock.NowMillis();
    VENTROS_RETURN_IF_ERROR(DrainSignals(*conn, r));
    std::string kind = core::StringField(r.pending, "kind");
    std::string cancel_child;  // a child to cancel with its parent, once this commits
    if (r.cancel_requested && kind != "compensate") {
      if (kind == "child") cancel_child = core::StringField(r.pending, "child_run_id");
      r.Record("cancel_requested", json::object{});
      VENTROS_RETURN_IF_ERROR(FailRun(*conn, r, "cancelled", "cancelled", "cancelled"));
    }
    // Signals and cancel requests move wake_at up to now; what the pending command itself waits
    // for (a timer, a timeout, a retry) is its due_at.
    if (r.status == "running" && r.pending.contains("due_at")) {
      r.wake_at = Int(r.pending, "due_at");
    }
    auto commit = [&]() -> Status {
      VENTROS_RETURN_IF_ERROR(tx.Commit());
      if (cancel_child.empty()) return Status::Ok();
      VENTROS_ASSIGN_OR_RETURN(
          auto upd, conn->Query("UPDATE workflows SET cancel_requested = 1, wake_at = CASE WHEN "
                                "wake_at = 0 OR wake_at > $2 THEN $2 ELSE wake_at END WHERE "
                                "run_id = $1 AND status = 'running'",
                                {DbValue(cancel_child), DbValue(now)}));
      (void)upd;
      return Status::Ok();
    };
    for (int i = 0; i < kMaxStepsPerAdvance && r.status == "running"; ++i) {
      kind = core::StringField(r.pending, "kind");
      if (kind == "activity" || kind == "compensate") {
        if (r.wake_at > now) break;  // a retry waits
        int64_t start_to_close = 0;
        if (kind == "activity") {
          const json::object p = r.pending;
          ActivityOptions opts = OptionsOf(p);
          if (p.contains("started_at")) {
            // This attempt was handed out before and its outcome never came back: the worker
            // died or overran its lease. It counts as a failed attempt.
            VENTROS_RETURN_IF_ERROR(ActivityFailed(
                *conn, r, p, static_cast<int>(Int(p, "attempt", 1)), opts,
                ActivityError{
                    "timeout",
                    fmt::format("no outcome within the lease of the worker running "
                                "attempt {} (started at {})",
                                Int(p, "attempt", 1), core::FormatTimestamp(Int(p, "started_at")))},
                now));
            continue;
          }
          r.pending["started_at"] = now;
          start_to_close = opts.start_to_close.count();
        }
        // The lease covers the attempt.
        r.lease_until = now + options.lease.count() + start_to_close;
        VENTROS_RETURN_IF_ERROR(Save(*conn, r, false));
        VENTROS_RETURN_IF_ERROR(commit());
        return Outside{kind};
      }
      if (kind == "timer") {
        if (r.wake_at > now) break;
        r.Record("timer_fired", json::object{});
        r.pending = json::object{
            {"kind", "step"}, {"step", core::StringField(r.pending, "next")}, {"last", nullptr}};
        continue;
      }
      if (kind == "signal") {
        if (r.wake_at == 0 || r.wake_at > now) break;
        r.Record("signal_timeout", json::object{{"name", core::StringField(r.pending, "name")}});
        r.pending = json::object{{"kind", "step"},
                                 {"step", core::StringField(r.pending, "on_timeout")},
                                 {"last", nullptr},
                                 {"timed_out", true}};
        continue;
      }
      if (kind != "step") break;  // child, closed
      const Definition* def = Find(r.type);
      std::string step = core::StringField(r.pending, "step");
      auto fn = def ? def->steps.find(step) : decltype(def->steps.end()){};
      if (!def || fn == def->steps.end()) {
        VENTROS_RETURN_IF_ERROR(FailRun(
            *conn, r, "unknown_step", fmt::format("{} has no step '{}'", r.type, step), "failed"));
        continue;
      }
      json::value last = r.pending.contains("last") ? r.pending.at("last") : json::value(nullptr);
      std::map<std::string, std::vector<json::value>> inbox;
      for (auto& [name, queue] : r.inbox) {
        if (!queue.is_array()) continue;
        for (auto& v : queue.as_array()) inbox[std::string(name)].push_back(v);
      }
      StepContext ctx{r.state,     last, r.pending.contains("timed_out"), inbox, r.id,
                      r.tenant_id, now};
      Command cmd;
      try {
        cmd = fn->second(ctx);
      } catch (const std::exception& e) {
        cmd = Command::Fail("step_exception", e.what());
      } catch (...) {
        cmd = Command::Fail("step_exception", "a step threw something not a std::exception");
      }
      r.inbox.clear();
      for (auto& [name, queue] : inbox) {
        if (queue.empty()) continue;
        json::array a;
        for (auto& v : queue) a.push_back(std::move(v));
        r.inbox[name] = std::move(a);
      }
      r.step = step;
      r.Record("step", json::object{{"step", step}});
      ++*steps;
      VENTROS_RETURN_IF_ERROR(Apply(*conn, r, std::move(cmd)));
      if (r.status != "running") break;
      if (r.wake_at == 0 || r.wake_at > now) break;
    }
    // Waiting, closed, or out of its step budget (still due: the next pass takes it again).
    VENTROS_RETURN_IF_ERROR(Save(*conn, r, true));
    VENTROS_RETURN_IF_ERROR(commit());
    return Outside{};
  }

  static ActivityResult Call(const Activity& fn, const ActivityContext& ctx) {
    try {
      return fn(ctx);
    } catch (const std::exception& e) {
      return ActivityError{"exception", e.what()};
    } catch (...) {
      return ActivityError{"exception", "the activity threw something not a std::exception"};
    }
  }

  static ActivityOptions OptionsOf(const json::object& pending) {
    return pending.contains("options") && pending.at("options").is_object()
               ? OptionsFrom(pending.at("options").as_object())
               : ActivityOptions{};
  }

  // Records a failed attempt of the pending activity `p` of `cur`: a retry after the policy's
  // delay, or the workflow's failure (compensations first).
  Status ActivityFailed(core::Connection& conn, Run& cur, const json::object& p, int attempt,
                        const ActivityOptions& opts, const ActivityError& err, int64_t now) {
    const std::string name = core::StringField(p, "name");
    cur.Record("activity_failed", json::object{{"activity", name},
                                               {"attempt", attempt},
                                               {"kind", err.kind},
                                               {"message", err.message}});
    if (metrics) {
      metrics
          ->GetCounter("ventros_workflow_activity_failures_total", "Activity attempts that failed",
                       {{"activity", name}, {"kind", err.kind}})
          .Inc();
    }
    const auto& non = opts.retry.non_retryable_error_kinds;
    bool retry = std::find(non.begin(), non.end(), err.kind) == non.end() &&
                 err.kind != "activity_not_bound";
    if (opts.retry.maximum_attempts > 0 && attempt >= opts.retry.maximum_attempts) retry = false;
    int64_t next_at = now + opts.retry.DelayAfter(attempt).count();
    if (retry && opts.schedule_to_close.count() > 0 &&
        next_at - Int(p, "scheduled_at") >= opts.schedule_to_close.count()) {
      return FailRun(
          conn, cur, "timeout",
          fmt::format("activity {}: schedule-to-close timeout ({} ms) exceeded after "
                      "{} attempts; last error: {}: {}",
                      name, opts.schedule_to_close.count(), attempt, err.kind, err.message),
          "failed");
    }
    if (!retry) {
      return FailRun(conn, cur, err.kind, fmt::format("activity {}: {}", name, err.message),
                     "failed");
    }
    cur.pending["attempt"] = attempt + 1;
    cur.pending["due_at"] = next_at;
    cur.pending.erase("started_at");
    cur.wake_at = next_at;
    return Status::Ok();
  }

  // Runs the pending activity attempt, then records its outcome.
  Status RunActivity(const std::string& run_id) {
    Run r;
    {
      VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
      VENTROS_ASSIGN_OR_RETURN(auto loaded, Load(*conn, run_id));
      if (!loaded || loaded->status != "running" ||
          core::StringField(loaded->pending, "kind") != "activity" ||
          loaded->lease_owner != owner) {
        return Status::Ok();
      }
      r = std::move(*loaded);
    }
    const json::object p = r.pending;
    const std::string name = core::StringField(p, "name"), key = core::StringField(p, "key");
    const int attempt = static_cast<int>(Int(p, "attempt", 1));
    const ActivityOptions opts = OptionsOf(p);
    int64_t now = clock.NowMillis();
    ActivityContext ctx;
    ctx.tenant_id = r.tenant_id;
    ctx.workflow_id = r.id;
    ctx.workflow_type = r.type;
    ctx.activity = name;
    ctx.idempotency_key = key;
    ctx.attempt = attempt;
    ctx.input = p.contains("input") ? p.at("input") : json::value(nullptr);
    if (opts.start_to_close.count() > 0) ctx.deadline_ms = now + opts.start_to_close.count();
    if (opts.schedule_to_close.count() > 0) {
      int64_t all = Int(p, "scheduled_at") + opts.schedule_to_close.count();
      ctx.deadline_ms = ctx.deadline_ms > 0 ? std::min(ctx.deadline_ms, all) : all;
    }
    ActivityResult outcome;
    auto fn = FindActivity(name);
    // The injected clock measures the attempt, so tests can make one overrun.
    const int64_t started_us = clock.MonotonicMicros();
    if (!fn) {
      outcome = ActivityError{"activity_not_bound", "no activity named '" + name + "'"};
    } else {
      outcome = Call(*fn, ctx);
    }
    const int64_t took_ms = (clock.MonotonicMicros() - started_us) / 1000;
    if (std::holds_alternative<json::value>(outcome) && opts.start_to_close.count() > 0 &&
        took_ms > opts.start_to_close.count()) {
      outcome = ActivityError{"timeout", fmt::format("start-to-close timeout ({} ms) exceeded",
                                                     opts.start_to_close.count())};
    }

    VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_ASSIGN_OR_RETURN(auto loaded, Load(*conn, run_id));
    // Someone else moved on (a lost lease): this outcome is not recorded.
    if (!loaded || loaded->status != "running" ||
        core::StringField(loaded->pending, "kind") != "activity" ||
        core::StringField(loaded->pending, "key") != key ||
        Int(loaded->pending, "attempt") != attempt || loaded->lease_owner != owner) {
      return Status::Ok();
    }
    Run& cur = *loaded;
    now = clock.NowMillis();
    if (auto* ok = std::get_if<json::value>(&outcome)) {
      cur.Record("activity_completed",
                 json::object{{"activity", name}, {"attempt", attempt}, {"result", *ok}});
      if (auto* comp = p.if_contains("compensation"); comp && comp->is_object()) {
        json::object c = comp->as_object();
        c["key"] = key;
        c["for"] = name;
        cur.compensations.push_back(std::move(c));
      }
      cur.pending =
          json::object{{"kind", "step"}, {"step", core::StringField(p, "next")}, {"last", *ok}};
      cur.wake_at = now;
      if (metrics) {
        metrics
            ->GetCounter("ventros_workflow_activities_total", "Activity attempts that succeeded",
                         {{"activity", name}})
            .Inc();
      }
    } else {
      VENTROS_RETURN_IF_ERROR(
          ActivityFailed(*conn, cur, p, attempt, opts, std::get<ActivityError>(outcome), now));
      // A cancel requested during the attempt is not kept waiting by a retry delay.
      if (cur.status == "running" && cur.cancel_requested) cur.wake_at = now;
    }
    bool release = cur.status != "running" || cur.wake_at == 0 || cur.wake_at > now;
    VENTROS_RETURN_IF_ERROR(Save(*conn, cur, release));
    return tx.Commit();
  }

  // Runs the last compensation not run yet; the run closes once none is left.
  Status RunCompensation(const std::string& run_id) {
    Run r;
    {
      VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
      VENTROS_ASSIGN_OR_RETURN(auto loaded, Load(*conn, run_id));
      if (!loaded || loaded->status != "running") return Status::Ok();
      r = std::move(*loaded);
    }
    const int attempt = static_cast<int>(Int(r.pending, "attempt", 1));
    ActivityResult outcome = json::value(nullptr);
    std::string name, key;
    if (!r.compensations.empty() && r.compensations.back().is_object()) {
      const json::object& c = r.compensations.back().as_object();
      name = core::StringField(c, "activity");
      key = core::StringField(c, "key") + ":compensation";
      ActivityContext ctx;
      ctx.tenant_id = r.tenant_id;
      ctx.workflow_id = r.id;
      ctx.workflow_type = r.type;
      ctx.activity = name;
      ctx.idempotency_key = key;
      ctx.attempt = attempt;
      ctx.input = c.contains("input") ? c.at("input") : json::value(nullptr);
      auto fn = FindActivity(name);
      outcome = fn ? Call(*fn, ctx)
                   : ActivityResult(
                         ActivityError{"activity_not_bound", "no activity named '" + name + "'"});
    }
    VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_ASSIGN_OR_RETURN(auto loaded, Load(*conn, run_id));
    if (!loaded || loaded->status != "running" ||
        core::StringField(loaded->pending, "kind") != "compensate" ||
        loaded->lease_owner != owner || loaded->compensations.size() != r.compensations.size() ||
        Int(loaded->pending, "attempt", 1) != attempt) {
      return Status::Ok();
    }
    Run& cur = *loaded;
    int64_t now = clock.NowMillis();
    if (!name.empty()) {
      const bool ok = std::holds_alternative<json::value>(outcome);
      // An unbound compensation will not bind itself on a retry.
      const bool hopeless = !ok && std::get<ActivityError>(outcome).kind == "activity_not_bound";
      if (ok || hopeless || attempt >= kMaxCompensationAttempts) {
        json::object detail{{"activity", name}, {"attempt", attempt}};
        if (!ok) detail["error"] = std::get<ActivityError>(outcome).message;
        cur.Record(ok ? "compensation_completed" : "compensation_failed", std::move(detail));
        cur.compensations.pop_back();
        cur.pending["attempt"] = 1;
        cur.pending["due_at"] = now;
        cur.wake_at = now;
      } else {
        const auto& err = std::get<ActivityError>(outcome);
        cur.Record(
            "compensation_attempt_failed",
            json::object{{"activity", name}, {"attempt", attempt}, {"message", err.message}});
        cur.pending["attempt"] = attempt + 1;
        RetryPolicy backoff;
        backoff.maximum_interval = std::chrono::milliseconds(60000);
        cur.wake_at = now + backoff.DelayAfter(attempt).count();
        cur.pending["due_at"] = cur.wake_at;
      }
    }
    if (cur.compensations.empty()) {
      VENTROS_RETURN_IF_ERROR(
          Close(*conn, cur,
                core::StringField(cur.pending, "final") == "cancelled" ? "cancelled" : "failed"));
    }
    bool release = cur.status != "running" || cur.wake_at > now;
    VENTROS_RETURN_IF_ERROR(Save(*conn, cur, release));
    return tx.Commit();
  }

  // Advances a claimed run until it waits.
  Result<int> Advance(const std::string& run_id) {
    int steps = 0;
    for (int rounds = 0; rounds < kMaxStepsPerAdvance; ++rounds) {
      VENTROS_ASSIGN_OR_RETURN(Outside next, AdvanceInside(run_id, &steps));
      if (next.kind.empty()) return steps;
      if (next.kind == "activity") {
        VENTROS_RETURN_IF_ERROR(RunActivity(run_id));
      } else if (next.kind == "compensate") {
        VENTROS_RETURN_IF_ERROR(RunCompensation(run_id));
      }
    }
    // Others' turn. The run is still due; without its lease the next pass claims it again.
    VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(
        auto rel, conn->Query("UPDATE workflows SET lease_owner = NULL, lease_until = 0 WHERE "
                              "run_id = $1 AND lease_owner = $2",
                              {DbValue(run_id), DbValue(owner)}));
    (void)rel;
    return steps;
  }

  Result<std::vector<std::string>> Claim() {
    int64_t now = clock.NowMillis();
    VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
    const bool pg = conn->engine() == core::DbEngine::kPostgres;
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(fmt::format("UPDATE workflows SET lease_owner = $1, lease_until = $2 WHERE "
                                "run_id IN (SELECT run_id FROM workflows WHERE status = "
                                "'running' AND wake_at > 0 AND wake_at <= $3 AND lease_until < "
                                "$3 ORDER BY wake_at LIMIT $4{}) RETURNING run_id",
                                pg ? " FOR UPDATE SKIP LOCKED" : ""),
                    {DbValue(owner), DbValue(now + options.lease.count()), DbValue(now),
                     DbValue(int64_t{options.batch})}));
    std::vector<std::string> out;
    for (const auto& r : rows.rows) out.push_back(r.GetText(0));
    return out;
  }
};

Engine::Engine(core::Database& db, const core::Clock& clock, core::Logger logger,
               core::MetricsRegistry* metrics, Options options)
    : impl_(std::make_unique<Impl>(db, clock, std::move(logger), metrics, options)) {}

Engine::~Engine() { Stop(); }

void Engine::Register(Definition definition) {
  std::unique_lock lock(impl_->defs_mu);
  std::string type = definition.type;
  impl_->definitions[type] = std::move(definition);
}

void Engine::BindActivity(std::string name, Activity activity) {
  std::unique_lock lock(impl_->defs_mu);
  impl_->activities[std::move(name)] = std::move(activity);
}

std::vector<std::string> Engine::Types() const {
  std::shared_lock lock(impl_->defs_mu);
  std::vector<std::string> out;
  for (const auto& [type, def] : impl_->definitions) out.push_back(type);
  return out;
}

Result<Workflow> Engine::StartWorkflow(const std::string& tenant, const std::string& type,
                                       const std::string& input_json,
                                       std::optional<std::string> id) {
  const Definition* def = impl_->Find(type);
  if (!def) {
    std::string known;
    for (const auto& t : Types()) known += (known.empty() ? "" : ", ") + t;
    return Status::InvalidArgument(
        fmt::format("unknown workflow type '{}' (known: {})", type, known));
  }
  if (id && (id->empty() || id->size() > 200)) {
    return Status::InvalidArgument("a workflow id has 1..200 characters");
  }
  boost::system::error_code ec;
  json::value input = json::parse(input_json.empty() ? "{}" : input_json, ec);
  if (ec) return Status::InvalidArgument("the workflow input is not JSON");
  if (input_json.size() > 256 * 1024) return Status::InvalidArgument("the input is too large");
  const std::string wid = id.value_or(core::NewUuidV7(impl_->clock));
  const std::string run_id = core::NewUuidV7(impl_->clock);
  int64_t now = impl_->clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  // Earlier runs matter only for a given id under a strict policy: a new id has none, and a
  // running duplicate is refused by the unique index on running ids.
  core::DbResult earlier;
  if (id && def->id_reuse != IdReusePolicy::kAllowDuplicate) {
    VENTROS_ASSIGN_OR_RETURN(
        earlier, conn->Query("SELECT status FROM workflows WHERE tenant_id = $1 AND id = $2",
                             {DbValue(tenant), DbValue(wid)}));
  }
  for (const auto& r : earlier.rows) {
    std::string status = r.GetText(0);
    if (status == "running") {
      return Status::AlreadyExists(fmt::format("workflow {} is already running", wid));
    }
    if (def->id_reuse == IdReusePolicy::kRejectDuplicate ||
        (def->id_reuse == IdReusePolicy::kAllowDuplicateFailedOnly && status == "completed")) {
      return Status::AlreadyExists(
          fmt::format("workflow id {} was already used (its reuse policy refuses a new run)", wid));
    }
  }
  json::object state = input.is_object() ? input.as_object() : json::object{{"input", input}};
  auto ins = conn->Query(
      "INSERT INTO workflows (run_id, tenant_id, id, type, status, step, state, input, result, "
      "error, pending, inbox, compensations, cancel_requested, wake_at, lease_until, history_seq, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, 'null', '', $8, "
      "'{}', '[]', 0, $9, 0, 1, $9, $9)",
      {DbValue(run_id), DbValue(tenant), DbValue(wid), DbValue(type), DbValue(def->first_step),
       DbValue(json::serialize(state)), DbValue(json::serialize(input)),
       DbValue(json::serialize(
           json::object{{"kind", "step"}, {"step", def->first_step}, {"last", nullptr}})),
       DbValue(now)});
  if (!ins.ok()) {
    if (ins.status().code() == core::StatusCode::kAlreadyExists) {
      return Status::AlreadyExists(fmt::format("workflow {} is already running", wid));
    }
    return ins.status();
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto hist,
      conn->Query("INSERT INTO workflow_history (run_id, seq, kind, detail, at) VALUES "
                  "($1, 1, 'started', $2, $3)",
                  {DbValue(run_id), DbValue(json::serialize(json::object{{"input", input}})),
                   DbValue(now)}));
  (void)hist;
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  impl_->Count("ventros_workflows_started_total", "Workflows started, by type", type);
  Notify();
  Workflow w;
  w.tenant_id = tenant;
  w.id = wid;
  w.run_id = run_id;
  w.type = type;
  w.status = "running";
  w.step = def->first_step;
  w.state = json::serialize(state);
  w.input = json::serialize(input);
  w.wake_at = now;
  w.created_at = w.updated_at = now;
  return w;
}

Status Engine::Signal(const std::string& tenant, const std::string& id, const std::string& name,
                      const std::string& payload_json) {
  if (name.empty() || name.size() > 200) {
    return Status::InvalidArgument("a signal name has 1..200 characters");
  }
  boost::system::error_code ec;
  json::value payload = json::parse(payload_json.empty() ? "null" : payload_json, ec);
  if (ec) return Status::InvalidArgument("the signal payload is not JSON");
  int64_t now = impl_->clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT run_id FROM workflows WHERE tenant_id = $1 AND "
                                         "id = $2 AND status = 'running'{}",
                                         impl_->LockSuffix(*conn)),
                             {DbValue(tenant), DbValue(id)}));
  if (rows.empty()) return Status::NotFound(fmt::format("no running workflow {}", id));
  std::string run_id = rows.rows[0].GetText(0);
  VENTROS_ASSIGN_OR_RETURN(
      auto ins, conn->Query("INSERT INTO workflow_signals (run_id, name, payload, received_at) "
                            "VALUES ($1, $2, $3, $4)",
                            {DbValue(run_id), DbValue(name), DbValue(json::serialize(payload)),
                             DbValue(now)}));
  (void)ins;
  // Due now, so a worker takes the signal in.
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE workflows SET wake_at = $2 WHERE run_id = $1 AND (wake_at = 0 "
                            "OR wake_at > $2)",
                            {DbValue(run_id), DbValue(now)}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  Notify();
  return Status::Ok();
}

Status Engine::Cancel(const std::string& tenant, const std::string& id) {
  int64_t now = impl_->clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE workflows SET cancel_requested = 1, wake_at = CASE WHEN "
                            "wake_at = 0 OR wake_at > $3 THEN $3 ELSE wake_at END WHERE "
                            "tenant_id = $1 AND id = $2 AND status = 'running'",
                            {DbValue(tenant), DbValue(id), DbValue(now)}));
  if (upd.affected_rows == 0) {
    return Status::NotFound(fmt::format("no running workflow {}", id));
  }
  Notify();
  return Status::Ok();
}

Result<Workflow> Engine::Get(const std::string& tenant, const std::string& id) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM workflows WHERE tenant_id = $1 AND "
                                         "(id = $2 OR run_id = $2) ORDER BY created_at DESC, "
                                         "run_id DESC LIMIT 1",
                                         kCols),
                             {DbValue(tenant), DbValue(id)}));
  if (rows.empty()) return Status::NotFound(fmt::format("workflow {} not found", id));
  Workflow w = WorkflowFromRow(rows.rows[0]);
  VENTROS_ASSIGN_OR_RETURN(
      auto hist, conn->Query("SELECT seq, kind, detail, at FROM workflow_history WHERE run_id = "
                             "$1 ORDER BY seq",
                             {DbValue(w.run_id)}));
  for (const auto& h : hist.rows) {
    w.history.push_back(HistoryEvent{h.GetInt(0), h.GetText(1), h.GetText(2), h.GetInt(3)});
  }
  return w;
}

Result<std::vector<Workflow>> Engine::List(const std::string& tenant,
                                           std::optional<std::string> type,
                                           std::optional<std::string> status, int limit) {
  // Fixed parameters (empty: any): GCC 12 misreads growing a vector of variants.
  const std::string where =
      "tenant_id = $1 AND ($2 = '' OR type = $2) AND ($3 = '' OR status = $3)";
  const std::vector<DbValue> params{DbValue(tenant), DbValue(type.value_or("")),
                                    DbValue(status.value_or(""))};
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM workflows WHERE {} ORDER BY created_at DESC, run_id "
                              "DESC LIMIT {}",
                              kCols, where, std::clamp(limit, 1, 1000)),
                  params));
  std::vector<Workflow> out;
  for (const auto& r : rows.rows) out.push_back(WorkflowFromRow(r));
  return out;
}

Result<int> Engine::RunDue() {
  VENTROS_ASSIGN_OR_RETURN(auto claimed, impl_->Claim());
  int steps = 0;
  for (const auto& run_id : claimed) {
    auto n = impl_->Advance(run_id);
    if (!n.ok()) {
      impl_->logger->warn("workflow run {}: {}", run_id, n.status().ToString());
      // Released for a later attempt by the lease's expiry.
      continue;
    }
    steps += *n;
  }
  return steps + static_cast<int>(claimed.size());
}

Status Engine::RunUntilIdle() {
  for (int i = 0; i < 100000; ++i) {
    VENTROS_ASSIGN_OR_RETURN(int n, RunDue());
    if (n == 0) return Status::Ok();
  }
  return Status::Internal("workflows did not become idle");
}

Result<std::optional<int64_t>> Engine::NextWakeAt() {
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT MIN(wake_at) FROM workflows WHERE status = 'running' AND "
                             "wake_at > 0"));
  if (rows.empty() || rows.rows[0].IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(rows.rows[0].GetInt(0));
}

void Engine::Start() {
  if (impl_->running.exchange(true)) return;
  for (int i = 0; i < std::max(1, impl_->options.workers); ++i) {
    impl_->threads.emplace_back([this] {
      while (impl_->running) {
        uint64_t seen;
        {
          std::lock_guard lock(impl_->mu);
          seen = impl_->wake_generation;
        }
        auto n = RunDue();
        if (!n.ok()) impl_->logger->warn("workflows: {}", n.status().ToString());
        if (n.ok() && *n > 0) continue;
        // Sleep until the next timer (or a notification, or the poll interval).
        auto wait = impl_->options.poll_interval;
        if (auto next = NextWakeAt(); next.ok() && *next) {
          int64_t in = **next - impl_->clock.NowMillis();
          // Due already but not claimed by this pass: it came due after the claim, or another
          // worker's lease holds it. A short wait, not the poll interval (timers would fire up to
          // a poll interval late) and not a spin.
          wait = in > 0 ? std::clamp(std::chrono::milliseconds(in), std::chrono::milliseconds(1),
                                     impl_->options.poll_interval)
                        : std::min(std::chrono::milliseconds(5), impl_->options.poll_interval);
        }
        std::unique_lock lock(impl_->mu);
        impl_->cv.wait_for(lock, wait,
                           [&] { return !impl_->running || impl_->wake_generation != seen; });
      }
    });
  }
}

void Engine::Stop() {
  if (!impl_->running.exchange(false)) return;
  {
    std::lock_guard lock(impl_->mu);
    ++impl_->wake_generation;
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

void Engine::Notify() {
  {
    std::lock_guard lock(impl_->mu);
    ++impl_->wake_generation;
  }
  // One worker is enough to claim what just became due; waking all makes each run a claim.
  impl_->cv.notify_one();
}

std::string WorkflowJson(const Workflow& w, bool with_history) {
  json::object o;
  o["id"] = w.id;
  o["run_id"] = w.run_id;
  o["type"] = w.type;
  o["status"] = w.status;
  o["step"] = w.step;
  o["waiting_for"] = w.waiting_for.empty() ? json::value(nullptr) : json::value(w.waiting_for);
  o["state"] = ParseValue(w.state);
  o["input"] = ParseValue(w.input);
  o["result"] = ParseValue(w.result);
  o["error"] = w.error.empty() ? json::value(nullptr) : json::value(w.error);
  o["parent_run_id"] = w.parent_run_id ? json::value(*w.parent_run_id) : json::value(nullptr);
  o["wake_at"] = w.wake_at > 0 && w.status == "running"
                     ? json::value(core::FormatTimestamp(w.wake_at))
                     : json::value(nullptr);
  o["created_at"] = core::FormatTimestamp(w.created_at);
  o["updated_at"] = core::FormatTimestamp(w.updated_at);
  o["closed_at"] =
      w.closed_at ? json::value(core::FormatTimestamp(*w.closed_at)) : json::value(nullptr);
  if (with_history) {
    json::array h;
    for (const auto& e : w.history) {
      h.push_back(json::object{{"seq", e.seq},
                               {"kind", e.kind},
                               {"detail", ParseValue(e.detail)},
                               {"at", core::FormatTimestamp(e.at)}});
    }
    o["history"] = std::move(h);
  }
  return json::serialize(o);
}

}  // namespace ventros::workflows
