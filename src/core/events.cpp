#include "ventros/core/events.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ventros/core/ids.hpp"
#include "ventros/core/thread.hpp"

namespace ventros::core {

namespace {
constexpr int64_t kOutboxLockKey = 7420118;  // pg_advisory_xact_lock key for appends
constexpr const char* kEventColumns =
    "seq, id, type, tenant_id, event_key, occurred_at, payload, trace_id";

Event EventFromRow(const DbRow& r, size_t o = 0) {
  Event e;
  e.seq = r.GetInt(o + 0);
  e.id = r.GetText(o + 1);
  e.type = r.GetText(o + 2);
  e.tenant_id = r.GetText(o + 3);
  e.key = r.GetText(o + 4);
  e.occurred_at = r.GetInt(o + 5);
  e.payload = r.GetText(o + 6);
  e.trace_id = r.GetText(o + 7);
  return e;
}

std::string Truncate(std::string s, size_t n) {
  if (s.size() > n) s.resize(n);
  return s;
}
}  // namespace

Status InsertEvent(Connection& conn, Event& event);

Status AppendEvent(Connection& conn, const Clock& clock, std::string type, std::string tenant_id,
                   std::string key, std::string payload) {
  Event e;
  e.type = std::move(type);
  e.tenant_id = std::move(tenant_id);
  e.key = std::move(key);
  e.payload = std::move(payload);
  return AppendEvent(conn, e, clock);
}

namespace {
// The types AppendEvent wrote on this thread since TakeAppendedEventTypes (a handful at most).
thread_local std::vector<std::string> appended_types;
}  // namespace

std::vector<std::string> TakeAppendedEventTypes() {
  std::vector<std::string> out;
  out.swap(appended_types);
  return out;
}

Status AppendEvent(Connection& conn, Event& event, const Clock& clock) {
  if (event.id.empty()) event.id = NewUuidV7(clock);
  if (event.occurred_at == 0) event.occurred_at = clock.NowMillis();
  if (event.type.empty() || event.tenant_id.empty()) {
    return Status::InvalidArgument("event needs a type and a tenant");
  }
  if (std::find(appended_types.begin(), appended_types.end(), event.type) ==
      appended_types.end()) {
    appended_types.push_back(event.type);
  }
  if (conn.engine() == DbEngine::kPostgres) {
    // Sequence numbers must become visible in order, or a consumer could move past one that
    // commits later. So events are written last, under a lock held until COMMIT: the
    // transaction's events are kept aside and inserted by a pre-commit hook, which keeps the lock
    // short however long the transaction was.
    if (conn.InTransaction()) {
      auto& state = conn.transaction_state();
      if (!state) {
        auto buffer = std::make_shared<std::vector<Event>>();
        state = buffer;
        conn.AddPreCommit([buffer](Connection& c) -> Status {
          auto lock = c.Query("SELECT pg_advisory_xact_lock($1)", {DbValue(kOutboxLockKey)});
          if (!lock.ok()) return lock.status();
          for (auto& e : *buffer) VENTROS_RETURN_IF_ERROR(InsertEvent(c, e));
          return Status::Ok();
        });
      }
      std::static_pointer_cast<std::vector<Event>>(state)->push_back(event);
      return Status::Ok();
    }
    auto lock = conn.Query("SELECT pg_advisory_xact_lock($1)", {DbValue(kOutboxLockKey)});
    if (!lock.ok()) return lock.status();
  }
  return InsertEvent(conn, event);
}

Status InsertEvent(Connection& conn, Event& event) {
  auto r = conn.Query(
      "INSERT INTO events (id, type, tenant_id, event_key, occurred_at, payload, trace_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
      {DbValue(event.id), DbValue(event.type), DbValue(event.tenant_id), DbValue(event.key),
       DbValue(event.occurred_at), DbValue(event.payload), DbValue(event.trace_id)});
  if (!r.ok()) return r.status().WithContext("appending event " + event.type);
  if (!r->rows.empty()) event.seq = r->rows[0].GetInt(0);
  return Status::Ok();
}

// A handler that throws is a handler that failed (retried, then dead-lettered), not a crash.
template <typename F, typename Arg>
Status SafeCall(const F& fn, const Arg& arg) {
  try {
    return fn(arg);
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("handler threw: {}", e.what()));
  } catch (...) {
    return Status::Internal("handler threw a non-standard exception");
  }
}

struct EventBus::Consumer {
  std::string name;
  EventHandler handler;
  ConsumerOptions options;
  bool from_beginning = true;
  bool row_ready = false;
  std::set<std::string> types;
  Counter* delivered = nullptr;
  Counter* failed = nullptr;
  Counter* dead = nullptr;
  Gauge* lag = nullptr;
  int64_t lag_sampled_us = 0;
  std::optional<int64_t> position;  // cached while this instance holds the lease
  bool position_dirty = false;      // `position` is ahead of the stored one
  int64_t position_saved_us = 0;    // monotonic
  bool holding = false;
  int64_t lease_until = 0;
  // Wake-ups, one per consumer: Notify() sets `woken` and signals only a consumer that sleeps,
  // so a busy consumer costs it nothing and consumers never queue on one shared mutex.
  std::mutex wake_mu;
  std::condition_variable wake_cv;
  bool woken = false;
  bool sleeping = false;
};

EventBus::EventBus(Database& db, const Clock& clock, Logger logger, MetricsRegistry* metrics)
    : db_(db),
      clock_(clock),
      logger_(std::move(logger)),
      metrics_(metrics),
      owner_(NewUuidV7(clock)) {}

EventBus::~EventBus() { Stop(); }

void EventBus::Subscribe(std::string name, EventHandler handler, ConsumerOptions options,
                         bool from_beginning) {
  auto c = std::make_unique<Consumer>();
  c->name = std::move(name);
  c->handler = std::move(handler);
  c->options = std::move(options);
  c->from_beginning = from_beginning;
  c->types = std::set<std::string>(c->options.types.begin(), c->options.types.end());
  if (metrics_) {
    Labels l = {{"consumer", c->name}};
    c->delivered = &metrics_->GetCounter("ventros_events_delivered_total",
                                         "Events handled successfully by consumer", l);
    c->failed = &metrics_->GetCounter("ventros_events_failed_total",
                                      "Handler failures (each attempt) by consumer", l);
    c->dead = &metrics_->GetCounter("ventros_events_dead_lettered_total",
                                    "Deliveries dead-lettered by consumer", l);
    c->lag = &metrics_->GetGauge("ventros_events_consumer_lag",
                                 "Events in the outbox after the consumer's position", l);
  }
  consumers_.push_back(std::move(c));
}

Status EventBus::EnsureConsumerRow(Consumer& c) {
  if (c.row_ready) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query("SELECT position FROM event_consumers WHERE name = $1", {DbValue(c.name)}));
  if (rows.empty()) {
    int64_t start = 0;
    if (!c.from_beginning) {
      VENTROS_ASSIGN_OR_RETURN(auto max, conn->Query("SELECT COALESCE(MAX(seq), 0) FROM events"));
      start = max.rows[0].GetInt(0);
    }
    auto ins = conn->Query(
        "INSERT INTO event_consumers (name, position, updated_at) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO NOTHING",
        {DbValue(c.name), DbValue(start), DbValue(clock_.NowMillis())});
    if (!ins.ok()) return ins.status();
  }
  c.row_ready = true;
  return Status::Ok();
}

int64_t EventBus::Backoff(const Consumer& c, int attempts) const {
  double ms = static_cast<double>(c.options.initial_backoff.count()) *
              std::pow(c.options.backoff_multiplier, std::max(0, attempts - 1));
  return static_cast<int64_t>(std::min(ms, static_cast<double>(c.options.max_backoff.count())));
}

Result<bool> EventBus::HoldLease(Consumer& c) {
  int64_t now = clock_.NowMillis();
  if (c.holding && c.lease_until - now > kLeaseMs / 2) return true;
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn->Query("UPDATE event_consumers SET lease_owner = $1, lease_until = $2 "
                  "WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR "
                  "lease_until < $4)",
                  {DbValue(owner_), DbValue(now + kLeaseMs), DbValue(c.name), DbValue(now)}));
  if (r.affected_rows == 0) {
    c.holding = false;
    return false;  // another instance delivers for this consumer
  }
  if (!c.holding) c.position.reset();  // another instance may have moved it meanwhile
  c.holding = true;
  c.lease_until = now + kLeaseMs;
  return true;
}

Result<int> EventBus::Pass(Consumer& c) {
  VENTROS_RETURN_IF_ERROR(EnsureConsumerRow(c));
  VENTROS_ASSIGN_OR_RETURN(bool leased, HoldLease(c));
  if (!leased) return 0;
  int calls = 0;
  int64_t now = clock_.NowMillis();
  // No connection is held while a handler runs: handlers use the pool themselves, and SQLite
  // allows one writer at a time.
  auto query = [&](std::string_view sql, std::vector<DbValue> params) -> Result<DbResult> {
    VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
    return conn->Query(sql, params);
  };

  // 1. Deliveries waiting for a retry: per key only the oldest may run, and only when due.
  VENTROS_ASSIGN_OR_RETURN(
      auto pending,
      query("SELECT d.attempts, d.next_attempt_at, e.seq, e.id, e.type, e.tenant_id, e.event_key, "
            "e.occurred_at, e.payload, e.trace_id FROM event_deliveries d "
            "JOIN events e ON e.seq = d.seq "
            "WHERE d.consumer = $1 AND d.state = 'pending' ORDER BY d.seq",
            {DbValue(c.name)}));
  std::set<std::string> parked_keys;
  for (const auto& row : pending.rows) {
    Event e = EventFromRow(row, 2);
    if (parked_keys.count(e.key)) continue;
    parked_keys.insert(e.key);
    int attempts = static_cast<int>(row.GetInt(0));
    if (row.GetInt(1) > now) continue;
    ++calls;
    Status st = SafeCall(c.handler, e);
    if (st.ok()) {
      if (c.delivered) c.delivered->Inc();
      VENTROS_ASSIGN_OR_RETURN(
          auto del, query("DELETE FROM event_deliveries WHERE consumer = $1 AND seq = $2",
                          {DbValue(c.name), DbValue(e.seq)}));
      (void)del;
      continue;  // the key stays parked for this pass: its next event runs on the next pass
    }
    if (c.failed) c.failed->Inc();
    ++attempts;
    bool dead = attempts >= c.options.max_attempts;
    if (dead) {
      if (c.dead) c.dead->Inc();
      logger_->error("consumer {} dead-lettered event {} ({} seq {}) after {} attempts: {}", c.name,
                     e.id, e.type, e.seq, attempts, st.ToString());
    } else {
      logger_->warn("consumer {} failed event {} ({}), attempt {}: {}", c.name, e.id, e.type,
                    attempts, st.ToString());
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto upd,
        query("UPDATE event_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, "
              "last_error = $4, updated_at = $5 WHERE consumer = $6 AND seq = $7",
              {DbValue(std::string(dead ? "dead" : "pending")), DbValue(int64_t{attempts}),
               DbValue(now + Backoff(c, attempts)), DbValue(Truncate(st.ToString(), 2000)),
               DbValue(now), DbValue(c.name), DbValue(e.seq)}));
    (void)upd;
  }

  // 2. New events after the position.
  // The position is read once; afterwards this consumer is the only one moving it.
  if (!c.position) {
    VENTROS_ASSIGN_OR_RETURN(
        auto pos_rows,
        query("SELECT position FROM event_consumers WHERE name = $1", {DbValue(c.name)}));
    c.position = pos_rows.rows.at(0).GetInt(0);
  }
  int64_t position = *c.position;
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, query(fmt::format("SELECT {} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
                                   kEventColumns),
                       {DbValue(position), DbValue(int64_t{c.options.batch_size})}));
  std::optional<int64_t> unsaved_position;
  // Records a delivery that must wait (parked behind its key, or failed) with the position, in
  // one transaction.
  auto park = [&](const Event& e, const std::string& state, int attempts,
                  const std::string& error) -> Status {
    VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*conn));
    VENTROS_ASSIGN_OR_RETURN(
        auto ins,
        conn->Query("INSERT INTO event_deliveries (consumer, seq, event_key, state, attempts, "
                    "next_attempt_at, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
                    "$7, $8) ON CONFLICT (consumer, seq) DO NOTHING",
                    {DbValue(c.name), DbValue(e.seq), DbValue(e.key), DbValue(state),
                     DbValue(int64_t{attempts}),
                     DbValue(attempts ? now + Backoff(c, attempts) : int64_t{0}), DbValue(error),
                     DbValue(now)}));
    (void)ins;
    VENTROS_ASSIGN_OR_RETURN(
        auto upd,
        conn->Query("UPDATE event_consumers SET position = $1, updated_at = $2 WHERE name = $3",
                    {DbValue(e.seq), DbValue(now), DbValue(c.name)}));
    (void)upd;
    VENTROS_RETURN_IF_ERROR(tx.Commit());
    c.position = e.seq;
    c.position_dirty = false;
    c.position_saved_us = clock_.MonotonicMicros();
    unsaved_position.reset();
    return Status::Ok();
  };
  auto handle_one = [&](const Event& e) -> Status {
    if (parked_keys.count(e.key)) return park(e, "pending", 0, "");
    ++calls;
    Status st = SafeCall(c.handler, e);
    if (st.ok()) {
      if (c.delivered) c.delivered->Inc();
      // Only progress to record: the position is written once for a run of such events (a
      // crash replays them; handlers are idempotent).
      unsaved_position = e.seq;
      return Status::Ok();
    }
    if (c.failed) c.failed->Inc();
    bool dead = c.options.max_attempts <= 1;
    if (dead && c.dead) c.dead->Inc();
    logger_->warn("consumer {} failed event {} ({}), attempt 1: {}", c.name, e.id, e.type,
                  st.ToString());
    if (!dead) parked_keys.insert(e.key);
    return park(e, dead ? "dead" : "pending", 1, Truncate(st.ToString(), 2000));
  };
  // A run of consecutive deliverable events goes to the batch handler in one call; if that fails
  // they are delivered one by one, so a bad event is retried alone.
  std::vector<Event> run;
  auto flush = [&]() -> Status {
    if (run.empty()) return Status::Ok();
    EventBatchHandler batch = c.options.batch_handler;
    if (!batch && c.options.key_parallelism > 1) {
      batch = [&c](std::span<const Event> events) {
        return HandleByKey(events, c.handler, c.options.key_parallelism);
      };
    }
    if (batch && run.size() > 1) {
      calls += static_cast<int>(run.size());
      if (SafeCall(batch, std::span<const Event>(run)).ok()) {
        if (c.delivered) c.delivered->Inc(static_cast<double>(run.size()));
        unsaved_position = run.back().seq;
        run.clear();
        return Status::Ok();
      }
    }
    for (const auto& e : run) VENTROS_RETURN_IF_ERROR(handle_one(e));
    run.clear();
    return Status::Ok();
  };
  for (const auto& row : rows.rows) {
    Event e = EventFromRow(row);
    bool wanted = c.types.empty() || c.types.count(e.type);
    if (!wanted) {
      if (run.empty()) unsaved_position = e.seq;  // skipped: only the position moves
      continue;
    }
    if (parked_keys.count(e.key)) {
      VENTROS_RETURN_IF_ERROR(flush());
      VENTROS_RETURN_IF_ERROR(handle_one(e));
      continue;
    }
    run.push_back(std::move(e));
    if (static_cast<int>(run.size()) >= c.options.batch_size) VENTROS_RETURN_IF_ERROR(flush());
  }
  VENTROS_RETURN_IF_ERROR(flush());
  if (unsaved_position) {
    c.position = *unsaved_position;
    c.position_dirty = true;
  }
  if (c.position_dirty &&
      clock_.MonotonicMicros() - c.position_saved_us >=
          std::chrono::duration_cast<std::chrono::microseconds>(c.options.position_save_interval)
              .count()) {
    VENTROS_RETURN_IF_ERROR(SavePosition(c));
  }
  // Lag: the outbox's last sequence number minus the position (an index lookup), once a second.
  if (c.lag && clock_.MonotonicMicros() - c.lag_sampled_us > 1'000'000) {
    c.lag_sampled_us = clock_.MonotonicMicros();
    auto max = query("SELECT COALESCE(MAX(seq), 0) FROM events", {});
    if (max.ok()) c.lag->Set(static_cast<double>(max->rows[0].GetInt(0) - c.position.value_or(0)));
  }
  // Position moves count as progress, so callers keep going over events they do not want.
  return calls + static_cast<int>(rows.rows.size());
}

Result<int> EventBus::RunOnce(const std::string& consumer) {
  for (auto& c : consumers_) {
    if (c->name == consumer) return Pass(*c);
  }
  return Status::NotFound(fmt::format("no consumer named {}", consumer));
}

Status EventBus::RunUntilIdle(const std::string& consumer) {
  for (int i = 0; i < 100000; ++i) {
    VENTROS_ASSIGN_OR_RETURN(int progress, RunOnce(consumer));
    if (progress == 0) return Status::Ok();
  }
  return Status::Internal("consumer did not become idle");
}

void EventBus::Start(std::chrono::milliseconds poll_interval, int nice) {
  if (running_.exchange(true)) return;
  poll_interval_ = poll_interval;
  nice_ = nice;
  for (auto& c : consumers_) threads_.emplace_back([this, ptr = c.get()] { Loop(ptr); });
}

Status HandleByKey(std::span<const Event> events, const EventHandler& handler, int threads) {
  std::vector<std::vector<const Event*>> groups;
  std::map<std::string_view, size_t> by_key;
  for (const auto& e : events) {
    auto [it, added] = by_key.emplace(e.key, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&e);
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first = Status::Ok();
  auto work = [&] {
    for (size_t g = next++; g < groups.size(); g = next++) {
      for (const Event* e : groups[g]) {
        Status st = SafeCall(handler, *e);
        if (!st.ok()) {
          std::lock_guard lock(mu);
          if (first.ok()) first = st;
          break;  // the key's later events wait for this one
        }
      }
    }
  };
  const size_t n = std::min(groups.size(), static_cast<size_t>(std::max(1, threads)));
  std::vector<std::thread> pool;
  for (size_t i = 1; i < n; ++i) {
    pool.emplace_back([&work] {
      SetBackgroundWriter(true);  // like the consumer thread that started it
      work();
    });
  }
  work();
  for (auto& t : pool) t.join();
  return first;
}

Status EventBus::SavePosition(Consumer& c) {
  if (!c.position) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE event_consumers SET position = $1, updated_at = $2 WHERE "
                            "name = $3 AND position < $1",
                            {DbValue(*c.position), DbValue(clock_.NowMillis()), DbValue(c.name)}));
  (void)upd;
  c.position_dirty = false;
  c.position_saved_us = clock_.MonotonicMicros();
  return Status::Ok();
}

void EventBus::Stop() {
  if (running_.exchange(false)) {
    Notify();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }
  for (auto& c : consumers_) {
    if (c->holding && c->position_dirty) {
      if (Status st = SavePosition(*c); !st.ok()) {
        logger_->warn("consumer {}: saving its position at stop: {}", c->name, st.ToString());
      }
    }
  }
  bool holding = false;
  for (auto& c : consumers_) holding = holding || c->holding;
  if (!holding) return;
  // Hand the consumers over at once instead of after the lease runs out.
  if (auto conn = db_.Acquire(); conn.ok()) {
    (void)(*conn)->Query(
        "UPDATE event_consumers SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
        {DbValue(owner_)});
  }
  for (auto& c : consumers_) c->holding = false;
}

void EventBus::Notify() { Notify({}); }

void EventBus::Notify(std::span<const std::string> types) {
  // The consumer list is fixed once started (Subscribe comes before Start).
  for (auto& c : consumers_) {
    if (!types.empty() && !c->types.empty()) {
      bool wanted = false;
      for (const auto& t : types) wanted = wanted || c->types.count(t) > 0;
      if (!wanted) continue;  // nothing new for it: it sleeps on
    }
    bool signal = false;
    {
      std::lock_guard lock(c->wake_mu);
      if (!c->woken) {
        c->woken = true;
        signal = c->sleeping;
      }
    }
    if (signal) c->wake_cv.notify_one();
  }
}

void EventBus::Loop(Consumer* c) {
  // Consumers catch up in the background: request handling writes first.
  SetBackgroundWriter(true);
  NameThisThread("bus:" + c->name);
  const int nice = std::min(19, nice_ + std::max(0, c->options.extra_nice));
  if (nice != 0) {
    // Per-thread on Linux: only this consumer's thread is deprioritised.
    if (!NiceThisThread(nice)) {
      logger_->debug("consumer {}: cannot set nice {}", c->name, nice);
    }
  }
  while (running_) {
    {
      // What is notified from here on is seen by the pass below or wakes the wait after it.
      std::lock_guard lock(c->wake_mu);
      c->woken = false;
    }
    auto calls = Pass(*c);
    if (!calls.ok()) {
      logger_->warn("consumer {}: {}", c->name, calls.status().ToString());
    }
    // Keep going while there is work; otherwise sleep until notified or the poll interval.
    if (calls.ok() && *calls > 0) continue;
    std::unique_lock lock(c->wake_mu);
    c->sleeping = true;
    c->wake_cv.wait_for(lock, poll_interval_, [&] { return !running_ || c->woken; });
    c->sleeping = false;
  }
}

Result<std::vector<Event>> EventBus::ListEvents(std::optional<std::string> type, int64_t after_seq,
                                                int limit) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  std::string sql = fmt::format("SELECT {} FROM events WHERE seq > $1 {} ORDER BY seq LIMIT $2",
                                kEventColumns, type ? "AND type = $3" : "");
  std::vector<DbValue> params = {DbValue(after_seq), DbValue(int64_t{limit})};
  if (type) params.emplace_back(*type);
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  std::vector<Event> out;
  for (const auto& r : rows.rows) out.push_back(EventFromRow(r));
  return out;
}

Result<std::vector<Delivery>> EventBus::ListDeliveries(std::optional<std::string> consumer,
                                                       std::optional<std::string> state) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  std::string where = "WHERE 1=1";
  std::vector<DbValue> params;
  if (consumer) {
    params.emplace_back(*consumer);
    where += fmt::format(" AND d.consumer = ${}", params.size());
  }
  if (state) {
    params.emplace_back(*state);
    where += fmt::format(" AND d.state = ${}", params.size());
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT d.consumer, d.state, d.attempts, d.next_attempt_at, "
                              "d.last_error, d.updated_at, e.seq, e.id, e.type, e.tenant_id, "
                              "e.event_key, e.occurred_at, e.payload, e.trace_id "
                              "FROM event_deliveries d JOIN events e ON e.seq = d.seq {} "
                              "ORDER BY d.consumer, d.seq",
                              where),
                  params));
  std::vector<Delivery> out;
  for (const auto& r : rows.rows) {
    Delivery d;
    d.consumer = r.GetText(0);
    d.state = r.GetText(1);
    d.attempts = static_cast<int>(r.GetInt(2));
    d.next_attempt_at = r.GetInt(3);
    d.last_error = r.GetText(4);
    d.updated_at = r.GetInt(5);
    d.event = EventFromRow(r, 6);
    out.push_back(std::move(d));
  }
  return out;
}

Status EventBus::RetryDeadLetter(const std::string& consumer, int64_t seq) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto r, conn->Query("UPDATE event_deliveries SET state = 'pending', attempts = 0, "
                          "next_attempt_at = 0, updated_at = $1 "
                          "WHERE consumer = $2 AND seq = $3 AND state = 'dead'",
                          {DbValue(clock_.NowMillis()), DbValue(consumer), DbValue(seq)}));
  if (r.affected_rows == 0) {
    return Status::NotFound(
        fmt::format("no dead-lettered delivery of event {} for consumer {}", seq, consumer));
  }
  Notify();
  return Status::Ok();
}

Result<std::vector<ConsumerStatus>> EventBus::ListConsumers() {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query("SELECT c.name, c.position, "
                  "(SELECT COUNT(*) FROM events e WHERE e.seq > c.position), "
                  "(SELECT COUNT(*) FROM event_deliveries d WHERE d.consumer = c.name AND "
                  "d.state = 'pending'), "
                  "(SELECT COUNT(*) FROM event_deliveries d WHERE d.consumer = c.name AND "
                  "d.state = 'dead') FROM event_consumers c ORDER BY c.name"));
  std::vector<ConsumerStatus> out;
  for (const auto& r : rows.rows) {
    out.push_back({r.GetText(0), r.GetInt(1), r.GetInt(2), r.GetInt(3), r.GetInt(4)});
  }
  return out;
}

}  // namespace ventros::core
