// The durable event bus on both engines: outbox in the writer's transaction, positions,
// at-least-once, order per key, retries with backoff, dead letters.

#include "ventros/core/events.hpp"

#include <fmt/format.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <map>

#include "support/test_db.hpp"

using namespace ventros::core;
using ventros::testing::Eventually;
using ventros::testing::TestDb;

namespace {
Event Make(std::string type, std::string key, std::string payload = "{}") {
  Event e;
  e.type = std::move(type);
  e.tenant_id = "t1";
  e.key = std::move(key);
  e.payload = std::move(payload);
  return e;
}

void Append(Database& db, const Clock& clock, Event e, bool commit = true) {
  auto conn = db.Acquire();
  REQUIRE(conn.ok());
  auto tx = Transaction::Begin(**conn);
  REQUIRE(tx.ok());
  REQUIRE(AppendEvent(**conn, e, clock).ok());
  if (commit) REQUIRE(tx->Commit().ok());
}
}  // namespace

VENTROS_DB_TEST("EventBus: delivers committed events in order, never rolled-back ones",
                "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  EventBus bus(*db, clock, NullLogger());
  std::vector<std::string> seen;
  bus.Subscribe("audit", [&](const Event& e) {
    seen.push_back(e.type + ":" + e.key);
    return Status::Ok();
  });
  Append(*db, clock, Make("a.one", "k1"));
  Append(*db, clock, Make("a.lost", "k1"), /*commit=*/false);
  Append(*db, clock, Make("a.two", "k2"));
  REQUIRE(bus.RunUntilIdle("audit").ok());
  CHECK(seen == std::vector<std::string>{"a.one:k1", "a.two:k2"});
  // The position is durable: after a restart nothing is delivered twice.
  bus.Stop();
  EventBus again(*db, clock, NullLogger());
  int calls = 0;
  again.Subscribe("audit", [&](const Event&) {
    ++calls;
    return Status::Ok();
  });
  Append(*db, clock, Make("a.three", "k1"));
  REQUIRE(again.RunUntilIdle("audit").ok());
  CHECK(calls == 1);
}

VENTROS_DB_TEST("EventBus: consumers filter by type and keep their own positions", "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  EventBus bus(*db, clock, NullLogger());
  int messages = 0, all = 0;
  ConsumerOptions only;
  only.types = {"message.received"};
  bus.Subscribe(
      "messages", [&](const Event&) { return ++messages, Status::Ok(); }, only);
  bus.Subscribe("everything", [&](const Event&) { return ++all, Status::Ok(); });
  for (int i = 0; i < 5; ++i)
    Append(*db, clock, Make(i % 2 ? "message.received" : "contact.created", "k"));
  REQUIRE(bus.RunUntilIdle("messages").ok());
  CHECK(messages == 2);
  CHECK(all == 0);
  REQUIRE(bus.RunUntilIdle("everything").ok());
  CHECK(all == 5);
  auto consumers = bus.ListConsumers();
  REQUIRE(consumers.ok());
  REQUIRE(consumers->size() == 2);
  for (const auto& c : *consumers) CHECK(c.lag == 0);
}

VENTROS_DB_TEST("EventBus: a failing event is retried with backoff and holds back its key only",
                "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  EventBus bus(*db, clock, NullLogger());
  std::vector<std::string> seen;
  int failures_left = 2;
  ConsumerOptions opts;
  opts.initial_backoff = std::chrono::milliseconds(1000);
  bus.Subscribe(
      "worker",
      [&](const Event& e) {
        if (e.payload.find("fail") != std::string::npos && failures_left > 0) {
          --failures_left;
          return Status::Unavailable("downstream is down");
        }
        seen.push_back(e.key + ":" + e.type);
        return Status::Ok();
      },
      opts);
  Append(*db, clock, Make("first", "A", R"({"fail":true})"));
  Append(*db, clock, Make("second", "A"));
  Append(*db, clock, Make("other", "B"));
  REQUIRE(bus.RunUntilIdle("worker").ok());
  // B is not held up; A's second event waits behind the failed first.
  CHECK(seen == std::vector<std::string>{"B:other"});
  auto pending = bus.ListDeliveries("worker", "pending");
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  CHECK((*pending)[0].attempts == 1);
  CHECK((*pending)[0].next_attempt_at == clock.NowMillis() + 1000);
  CHECK_THAT((*pending)[0].last_error, Catch::Contains("downstream is down"));

  clock.AdvanceMillis(1000);
  REQUIRE(bus.RunUntilIdle("worker").ok());  // second failure: backoff doubles
  CHECK(seen.size() == 1);
  clock.AdvanceMillis(1999);
  REQUIRE(bus.RunUntilIdle("worker").ok());
  CHECK(seen.size() == 1);  // not due yet
  clock.AdvanceMillis(1);
  REQUIRE(bus.RunUntilIdle("worker").ok());
  CHECK(seen == std::vector<std::string>{"B:other", "A:first", "A:second"});
  CHECK(bus.ListDeliveries("worker", std::nullopt)->empty());
}

VENTROS_DB_TEST("EventBus: after max attempts the event is dead-lettered and can be retried",
                "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  MetricsRegistry metrics;
  EventBus bus(*db, clock, NullLogger(), &metrics);
  bool broken = true;
  std::vector<std::string> seen;
  ConsumerOptions opts;
  opts.max_attempts = 3;
  opts.initial_backoff = std::chrono::milliseconds(10);
  bus.Subscribe(
      "sender",
      [&](const Event& e) {
        if (broken && e.type == "poison") return Status::Internal("cannot handle");
        seen.push_back(e.type);
        return Status::Ok();
      },
      opts);
  Append(*db, clock, Make("poison", "K"));
  Append(*db, clock, Make("after", "K"));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(bus.RunUntilIdle("sender").ok());
    clock.AdvanceMillis(1000);
  }
  // Dead after 3 attempts; the key's next event went ahead.
  CHECK(seen == std::vector<std::string>{"after"});
  auto dead = bus.ListDeliveries("sender", "dead");
  REQUIRE(dead.ok());
  REQUIRE(dead->size() == 1);
  CHECK(dead->at(0).attempts == 3);
  CHECK(dead->at(0).event.type == "poison");
  CHECK_THAT(metrics.RenderPrometheus(),
             Catch::Contains(R"(ventros_events_dead_lettered_total{consumer="sender"} 1)"));

  broken = false;
  REQUIRE(bus.RetryDeadLetter("sender", dead->at(0).event.seq).ok());
  REQUIRE(bus.RunUntilIdle("sender").ok());
  CHECK(seen == std::vector<std::string>{"after", "poison"});
  CHECK(bus.ListDeliveries("sender", std::nullopt)->empty());
  CHECK(bus.RetryDeadLetter("sender", 999999).code() == StatusCode::kNotFound);
}

VENTROS_DB_TEST("EventBus: worker threads deliver on Notify", "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  SystemClock clock;
  EventBus bus(*db, clock, NullLogger());
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  bus.Subscribe("threaded", [&](const Event&) {
    std::lock_guard lock(mu);
    ++count;
    cv.notify_all();
    return Status::Ok();
  });
  bus.Start(std::chrono::milliseconds(60000));  // only Notify can wake it in time
  for (int i = 0; i < 20; ++i) Append(*db, clock, Make("tick", fmt::format("k{}", i % 3)));
  bus.Notify();
  std::unique_lock lock(mu);
  CHECK(cv.wait_for(lock, std::chrono::seconds(30), [&] { return count == 20; }));
  lock.unlock();
  bus.Stop();
}

VENTROS_DB_TEST("EventBus: runs go to the batch handler - a failed batch falls back to one by one",
                "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  EventBus bus(*db, clock, NullLogger());
  std::vector<size_t> batches;
  std::vector<std::string> singles;
  ConsumerOptions opts;
  opts.batch_size = 4;
  opts.batch_handler = [&](std::span<const Event> run) {
    for (const auto& e : run) {
      if (e.type == "poison") return Status::Internal("a poisoned batch");
    }
    batches.push_back(run.size());
    return Status::Ok();
  };
  bus.Subscribe(
      "batched",
      [&](const Event& e) {
        if (e.type == "poison") return Status::Internal("poison");
        singles.push_back(e.key);
        return Status::Ok();
      },
      opts);
  for (int i = 0; i < 6; ++i) Append(*db, clock, Make("ok", fmt::format("k{}", i)));
  REQUIRE(bus.RunUntilIdle("batched").ok());
  CHECK(batches == std::vector<size_t>{4, 2});
  CHECK(singles.empty());
  Append(*db, clock, Make("ok", "a"));
  Append(*db, clock, Make("poison", "p"));
  Append(*db, clock, Make("ok", "b"));
  REQUIRE(bus.RunUntilIdle("batched").ok());
  CHECK(batches.size() == 2);  // the poisoned run fell back to single deliveries
  CHECK(singles == std::vector<std::string>{"a", "b"});
  auto pending = bus.ListDeliveries("batched", "pending");
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 1);
  CHECK(pending->at(0).event.type == "poison");
}

VENTROS_DB_TEST("EventBus: of two instances only the lease holder delivers - the other takes over",
                "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  EventBus first(*db, clock, NullLogger());
  EventBus second(*db, clock, NullLogger());
  int by_first = 0, by_second = 0;
  first.Subscribe("shared", [&](const Event&) { return ++by_first, Status::Ok(); });
  second.Subscribe("shared", [&](const Event&) { return ++by_second, Status::Ok(); });
  for (int i = 0; i < 3; ++i) Append(*db, clock, Make("e", fmt::format("k{}", i)));
  REQUIRE(first.RunUntilIdle("shared").ok());
  REQUIRE(second.RunUntilIdle("shared").ok());
  CHECK(by_first == 3);
  CHECK(by_second == 0);  // the lease is the first's
  // The first stops renewing (crashed): after the lease runs out the second continues from the
  // durable position, without repeating what was done.
  Append(*db, clock, Make("e", "k3"));
  clock.AdvanceMillis(EventBus::kLeaseMs + 1);
  REQUIRE(second.RunUntilIdle("shared").ok());
  CHECK(by_second == 1);
  REQUIRE(first.RunUntilIdle("shared").ok());
  CHECK(by_first == 3);
}

VENTROS_DB_TEST(
    "EventBus: a position save interval writes the position at most that often, "
    "and at stop - a crash in between replays",
    "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  auto stored = [&] {
    auto conn = db->Acquire();
    REQUIRE(conn.ok());
    auto r = (*conn)->Query("SELECT position FROM event_consumers WHERE name = 'lazy'");
    REQUIRE(r.ok());
    return r->rows.at(0).GetInt(0);
  };
  ConsumerOptions lazy;
  lazy.position_save_interval = std::chrono::milliseconds(1000);
  int calls = 0;
  {
    EventBus bus(*db, clock, NullLogger());
    bus.Subscribe(
        "lazy", [&](const Event&) { return ++calls, Status::Ok(); }, lazy);
    Append(*db, clock, Make("a.one", "k1"));
    REQUIRE(bus.RunUntilIdle("lazy").ok());  // the first pass saves (nothing saved yet)
    int64_t first = stored();
    CHECK(first > 0);
    Append(*db, clock, Make("a.two", "k1"));
    Append(*db, clock, Make("a.three", "k2"));
    clock.AdvanceMillis(10);
    REQUIRE(bus.RunUntilIdle("lazy").ok());
    CHECK(calls == 3);
    CHECK(stored() == first);  // within the interval: only in memory
    // A crash now (no Stop): another instance replays the two events.
  }
  // ~EventBus calls Stop, which saves; so simulate the crash by putting the position back.
  {
    auto conn = db->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)
                ->Query("UPDATE event_consumers SET position = position - 2, lease_owner = NULL, "
                        "lease_until = 0 WHERE name = 'lazy'")
                .ok());
  }
  EventBus again(*db, clock, NullLogger());
  again.Subscribe(
      "lazy", [&](const Event&) { return ++calls, Status::Ok(); }, lazy);
  REQUIRE(again.RunUntilIdle("lazy").ok());
  CHECK(calls == 5);  // at least once: the two unsaved ones again
  Append(*db, clock, Make("a.four", "k1"));
  clock.AdvanceMillis(1500);
  REQUIRE(again.RunUntilIdle("lazy").ok());
  CHECK(calls == 6);
  int64_t after_interval = stored();
  again.Stop();
  CHECK(stored() == after_interval);
  auto events = again.ListEvents(std::nullopt, 0, 100);
  REQUIRE(events.ok());
  CHECK(after_interval == events->back().seq);
}

VENTROS_DB_TEST("EventBus: Notify with types wakes only the consumers of those types", "[events]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  SystemClock clock;
  EventBus bus(*db, clock, NullLogger());
  std::atomic<int> tocks{0}, anything{0};
  ConsumerOptions tock_only;
  tock_only.types = {"tock"};
  bus.Subscribe(
      "tocks",
      [&](const Event&) {
        ++tocks;
        return Status::Ok();
      },
      tock_only);
  bus.Subscribe("everything", [&](const Event&) {
    ++anything;
    return Status::Ok();
  });
  // What AppendEvent wrote on this thread, each type once, then nothing.
  (void)TakeAppendedEventTypes();
  Append(*db, clock, Make("tock", "k"));
  Append(*db, clock, Make("tick", "k"));
  Append(*db, clock, Make("tock", "k"));
  auto types = TakeAppendedEventTypes();
  CHECK(types == std::vector<std::string>{"tock", "tick"});
  CHECK(TakeAppendedEventTypes().empty());
  // The first passes at start see both events; then only Notify can wake them in time.
  bus.Start(std::chrono::milliseconds(60000));
  REQUIRE(Eventually([&] { return tocks == 2 && anything == 3; }));
  Append(*db, clock, Make("tock", "k"));
  const std::vector<std::string> tick{"tick"};
  bus.Notify(tick);
  // A consumer that does not take the type sleeps on; one that takes every type wakes.
  REQUIRE(Eventually([&] { return anything == 4; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(tocks == 2);
  const std::vector<std::string> tock{"tock"};
  bus.Notify(tock);
  REQUIRE(Eventually([&] { return tocks == 3; }));
  bus.Stop();
}
