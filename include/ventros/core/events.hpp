#pragma once
// The durable event bus. Writers append events to the outbox (table `events`) inside the same
// transaction as the state change they describe. Each subscriber is a named consumer with its own
// durable position: delivery is at-least-once, in order per event key (a session, a contact, a
// chat), with retries and backoff; after max_attempts failures the delivery is dead-lettered and
// later events of its key proceed. Handlers must be idempotent.
//
// Thread-safety: EventBus is thread-safe. Start() runs one thread per consumer; RunOnce() lets
// tests drive a consumer synchronously with a virtual clock instead. Several instances may run
// the same consumers over one database: a lease (10 s, renewed while delivering, released on
// Stop) lets one of them deliver at a time.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/core/status.hpp"

namespace ventros::core {

struct Event {
  int64_t seq = 0;   // assigned by the outbox, increasing in commit order
  std::string id;    // UUIDv7
  std::string type;  // "message.received"
  std::string tenant_id;
  std::string key;  // ordering key: events with the same key are delivered in order
  int64_t occurred_at = 0;
  std::string payload = "{}";  // JSON object
  std::string trace_id;
};

// Appends an event to the outbox on `conn`, which should be inside the transaction that makes the
// state change. Fills in id and occurred_at when empty. On PostgreSQL it takes a transaction-level
// advisory lock so sequence numbers become visible in commit order (no consumer can skip one).
Status AppendEvent(Connection& conn, Event& event, const Clock& clock);
// The event types AppendEvent wrote on the calling thread since the last call (in transactions
// that committed or not): what to wake consumers for after a commit.
std::vector<std::string> TakeAppendedEventTypes();
// The same for an event made of these parts.
Status AppendEvent(Connection& conn, const Clock& clock, std::string type, std::string tenant_id,
                   std::string key, std::string payload);

// Handles several consecutive events at once (e.g. in one transaction); all or nothing.
using EventBatchHandler = std::function<Status(std::span<const Event>)>;

// What a handler says about an event. A non-OK status means "failed, retry later".
using EventHandler = std::function<Status(const Event&)>;

struct ConsumerOptions {
  std::vector<std::string> types;  // empty: every type
  // Optional fast path: runs of deliverable events go here first; when it fails, the events are
  // handed to the single-event handler one by one.
  EventBatchHandler batch_handler;
  int max_attempts = 8;
  std::chrono::milliseconds initial_backoff{1000};
  double backoff_multiplier = 2.0;
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
  int batch_size = 100;
  // Added to the bus's nice value for this consumer's thread (work that may lag further behind,
  // such as indexing, yields the CPU to consumers the inbound path waits on). Capped at 19.
  int extra_nice = 0;
  // How often the position is written when nothing else is (0: after every pass). Under load a
  // consumer makes a pass per commit of any writer; writing its position each time costs SQLite's
  // single writer a transaction per consumer per commit. A crash replays what was delivered since
  // the last write, which at-least-once delivery allows (handlers are idempotent).
  std::chrono::milliseconds position_save_interval{0};
  // Without a batch_handler: a run of events is handled by up to this many threads at once,
  // grouped by key (one key's events in order on one thread). For handlers that wait on the
  // network (a language model, WAHA). If any fails, the run is delivered again one by one
  // (handlers are idempotent).
  int key_parallelism = 1;
};

// Handles `events` grouped by key on up to `threads` threads, each key's events in order (a
// failing event stops its key). OK when every event was handled, else the first error.
Status HandleByKey(std::span<const Event> events, const EventHandler& handler, int threads);

struct Delivery {
  std::string consumer;
  Event event;
  std::string state;  // "pending" or "dead"
  int attempts = 0;
  int64_t next_attempt_at = 0;
  std::string last_error;
  int64_t updated_at = 0;
};

struct ConsumerStatus {
  std::string name;
  int64_t position = 0;
  int64_t lag = 0;  // events after the position (all types)
  int64_t pending = 0;
  int64_t dead = 0;
};

class EventBus {
 public:
  EventBus(Database& db, const Clock& clock, Logger logger, MetricsRegistry* metrics = nullptr);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Registers a consumer (before Start). Its position starts at the current end of the outbox
  // the first time it is seen, unless from_beginning.
  void Subscribe(std::string name, EventHandler handler, ConsumerOptions options = {},
                 bool from_beginning = true);

  // Starts one worker thread per consumer; they wake on Notify() or every poll interval.
  // Consumer threads run at the given nice value (Linux: higher is lower priority), so request
  // handling gets the CPU first and consumers catch up in the gaps.
  void Start(std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250),
             int nice = 0);
  void Stop();
  // Wakes the consumers (call after committing a transaction that appended events).
  void Notify();
  // Wakes only the consumers of one of `types` (all of them when `types` is empty), e.g. with
  // TakeAppendedEventTypes() right after a commit.
  void Notify(std::span<const std::string> types);

  // Runs one pass of a consumer: due retries, then new events. Returns its progress (handler
  // calls plus events the position moved over; 0 means idle). For tests and tools; do not mix with
  // Start() for the same consumer.
  Result<int> RunOnce(const std::string& consumer);
  // Runs passes until one makes no progress (deliveries waiting for a later retry time stay
  // waiting).
  Status RunUntilIdle(const std::string& consumer);

  // Inspection and operator actions (also used by the CLI).
  Result<std::vector<Event>> ListEvents(std::optional<std::string> type, int64_t after_seq,
                                        int limit);
  Result<std::vector<Delivery>> ListDeliveries(std::optional<std::string> consumer,
                                               std::optional<std::string> state);
  // Makes a dead-lettered delivery due again with its attempts reset.
  Status RetryDeadLetter(const std::string& consumer, int64_t seq);
  Result<std::vector<ConsumerStatus>> ListConsumers();

  // Of several instances running a consumer, only the holder of its lease delivers.
  static constexpr int64_t kLeaseMs = 10000;

 private:
  struct Consumer;
  Result<bool> HoldLease(Consumer& c);
  Result<int> Pass(Consumer& c);
  Status SavePosition(Consumer& c);
  Status EnsureConsumerRow(Consumer& c);
  void Loop(Consumer* c);
  int64_t Backoff(const Consumer& c, int attempts) const;

  Database& db_;
  const Clock& clock_;
  Logger logger_;
  MetricsRegistry* metrics_;
  std::string owner_;  // this instance, in lease rows
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
  std::chrono::milliseconds poll_interval_{250};
  int nice_ = 0;
};

}  // namespace ventros::core
