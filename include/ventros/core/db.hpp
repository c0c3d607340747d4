#pragma once
// One database interface, two drivers (SQLite, PostgreSQL).
//
// SQL uses PostgreSQL-style positional placeholders ($1, $2, ...) on both engines. Ids are UUIDv7
// text, times are epoch milliseconds (BIGINT), JSON is TEXT (SQLite) / JSONB (PostgreSQL), blobs
// are BLOB / BYTEA.
//
// Thread-safety: a Database (the pool) is thread-safe. A Connection is used by one thread at a
// time; it is borrowed from the pool with Acquire() and returned when the handle is destroyed.
// All calls block: never call them on an HTTP I/O thread.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {

enum class DbEngine { kSqlite, kPostgres };
std::string_view DbEngineName(DbEngine engine);

struct Blob {
  std::string bytes;
  friend bool operator==(const Blob&, const Blob&) = default;
};

// A parameter or a column value.
using DbValue = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

// One row of a result. Accessors are lenient about representation (a PostgreSQL text "42" reads
// as int 42) but report NULL through IsNull / the optional getters.
class DbRow {
 public:
  explicit DbRow(std::vector<DbValue> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool IsNull(size_t i) const;
  int64_t GetInt(size_t i) const;       // NULL reads as 0
  double GetDouble(size_t i) const;     // NULL reads as 0
  std::string GetText(size_t i) const;  // NULL reads as ""
  std::string GetBlob(size_t i) const;  // raw bytes
  std::optional<int64_t> GetOptInt(size_t i) const;
  std::optional<std::string> GetOptText(size_t i) const;
  const DbValue& raw(size_t i) const { return values_.at(i); }

 private:
  std::vector<DbValue> values_;
};

struct DbResult {
  std::vector<std::string> columns;
  std::vector<DbRow> rows;
  int64_t affected_rows = 0;
  bool empty() const { return rows.empty(); }
};

// Error mapping shared by both drivers: unique violations -> AlreadyExists, lost connection ->
// Unavailable, serialization failure / deadlock -> Conflict (retryable), others -> Internal.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual DbEngine engine() const = 0;
  // Runs one statement with parameters; the prepared statement is cached per connection by SQL
  // text and reused.
  virtual Result<DbResult> Query(std::string_view sql, std::span<const DbValue> params = {}) = 0;
  // Runs a script of several statements without parameters (migrations).
  virtual Status ExecScript(std::string_view sql) = 0;
  // Whether the connection is usable (false after the server went away).
  virtual bool Healthy() = 0;
  // Whether a transaction is open (the pool rolls back one left open before reusing it).
  virtual bool InTransaction() = 0;
  // Starts a write transaction (SQLite: BEGIN IMMEDIATE).
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;

  // Work to run at the end of the open transaction, just before COMMIT (dropped on rollback).
  // The outbox uses it to write a transaction's events last, so the lock that orders them is
  // held only for the commit.
  void AddPreCommit(std::function<Status(Connection&)> hook) {
    pre_commit_.push_back(std::move(hook));
  }
  // State of the open transaction owned by the layer that registered a pre-commit hook.
  std::shared_ptr<void>& transaction_state() { return transaction_state_; }

  // Convenience: Query with an initializer list of parameters.
  Result<DbResult> Query(std::string_view sql, std::initializer_list<DbValue> params) {
    return Query(sql, std::span<const DbValue>(params.begin(), params.size()));
  }

 protected:
  // Drivers call these from Commit() and Rollback().
  Status RunPreCommit() {
    auto hooks = std::move(pre_commit_);
    pre_commit_.clear();
    Status st = Status::Ok();
    for (auto& hook : hooks) {
      st = hook(*this);
      if (!st.ok()) break;
    }
    transaction_state_.reset();
    return st;
  }
  void DropPreCommit() {
    pre_commit_.clear();
    transaction_state_.reset();
  }

 private:
  std::vector<std::function<Status(Connection&)>> pre_commit_;
  std::shared_ptr<void> transaction_state_;
};

struct PoolStats {
  int size = 0;    // connections open
  int in_use = 0;  // borrowed right now
  int max_size = 0;
  int64_t acquired_total = 0;
  int64_t waits_total = 0;     // acquisitions that had to wait
  int64_t timeouts_total = 0;  // acquisitions that gave up
};

class Database;

// A borrowed connection, returned to the pool on destruction. Movable, not copyable.
class PooledConnection {
 public:
  PooledConnection() = default;
  PooledConnection(Database* db, std::unique_ptr<Connection> conn)
      : db_(db), conn_(std::move(conn)) {}
  PooledConnection(PooledConnection&& other) noexcept = default;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;
  ~PooledConnection();

  Connection* operator->() const { return conn_.get(); }
  Connection& operator*() const { return *conn_; }
  Connection* get() const { return conn_.get(); }

 private:
  void Release();
  Database* db_ = nullptr;
  std::unique_ptr<Connection> conn_;
};

struct DatabaseOptions {
  std::string url;  // sqlite:///abs/path.db, sqlite://relative.db, sqlite::memory:, postgres://...
  int pool_size = 8;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds busy_timeout{5000};  // SQLite lock wait
  std::chrono::milliseconds connect_timeout{5000};
  // SQLite: fsync on every commit (survives power loss) instead of only at checkpoints (survives
  // a process crash, faster).
  bool sqlite_synchronous_full = false;
};

// The pool. Opens connections lazily up to pool_size, replaces unhealthy ones on acquire.
class Database {
 public:
  // Opens the database and one connection to check it is reachable. The error names the URL
  // with its password hidden.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  DbEngine engine() const { return engine_; }
  // The URL with any password replaced by "***".
  const std::string& redacted_url() const { return redacted_url_; }
  Result<PooledConnection> Acquire();
  PoolStats Stats() const;
  // Cheap liveness probe used by /readyz: SELECT 1 on a pooled connection.
  Status Ping();

 private:
  friend class PooledConnection;
  struct Impl;
  Database(DbEngine engine, std::string redacted_url, std::unique_ptr<Impl> impl);
  void Return(std::unique_ptr<Connection> conn);

  DbEngine engine_;
  std::string redacted_url_;
  std::unique_ptr<Impl> impl_;
};

// Rolls back on destruction unless Commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& conn);
  Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status Commit();
  Connection& conn() { return *conn_; }

 private:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  Connection* conn_;
};

// URL helpers.
std::string RedactDbUrl(std::string_view url);
Result<DbEngine> EngineFromUrl(std::string_view url);

// Driver factories (used by Database::Open; exposed for tests).
// The write lock of one SQLite database inside this process. SQLite admits one writer at a time;
// writers queue here (woken when it frees) instead of sleeping in SQLite's busy handler. Threads
// marked background (SetBackgroundWriter) let foreground writers, such as a webhook being
// acknowledged, go first, unless they have waited longer than kBackgroundMaxWait.
class SqliteWriterLock {
 public:
  static constexpr std::chrono::milliseconds kBackgroundMaxWait{100};
  bool TryLockFor(std::chrono::milliseconds timeout);
  void Unlock();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int foreground_waiting_ = 0;
};
// Marks the calling thread's SQLite writes as background work (event consumers).
void SetBackgroundWriter(bool background);

// Copies a SQLite database's write-ahead log back into the database file on a thread of its own,
// so that no committing writer pays for a checkpoint (its writes and fsync). Connections opened
// with it turn SQLite's automatic checkpoints off and wake it after a commit that leaves the log
// at `threshold_frames` pages or more. Checkpoints are PASSIVE: they never hold up a writer or a
// reader. `writer` (may be null) is the pool's write lock, held for a short final copy when a
// steady load keeps the log from starting over (see db_sqlite.cpp).
class SqliteCheckpointer {
 public:
  SqliteCheckpointer(std::string path, std::shared_ptr<SqliteWriterLock> writer,
                     int threshold_frames = 4000);
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;
  // Called after each commit with the log's length in pages.
  void Committed(int log_frames);
  // Checkpoints run so far (for tests).
  int64_t checkpoints() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `writer`, shared by the connections of one pool, queues this process's SQLite writers;
// `checkpointer`, also shared, takes checkpoints off the writers (nullptr: SQLite's own).
Result<std::unique_ptr<Connection>> OpenSqliteConnection(
    const std::string& path, std::chrono::milliseconds busy_timeout,
    std::shared_ptr<SqliteWriterLock> writer = nullptr, bool synchronous_full = false,
    std::shared_ptr<SqliteCheckpointer> checkpointer = nullptr);
Result<std::unique_ptr<Connection>> OpenPostgresConnection(
    const std::string& url, std::chrono::milliseconds connect_timeout);

}  // namespace ventros::core
