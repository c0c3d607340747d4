// SQLite driver: WAL journal, busy timeout, foreign keys on, prepared statements cached per
// connection by SQL text. Placeholders $1..$n are bound by name, so their order in the SQL text
// does not matter.

#include <fmt/format.h>
#include <sqlite3.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ventros/core/db.hpp"
#include "ventros/core/thread.hpp"

namespace ventros::core {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Status MapError(sqlite3* db, int rc, std::string_view what) {
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  std::string msg = fmt::format("{}: {}", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (ext) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return Status::AlreadyExists(msg);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_CHECK:
      return Status::InvalidArgument(msg);
    default:
      break;
  }
  switch (rc & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Conflict(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
      return Status::Unavailable(msg);
    default:
      return Status::Internal(msg);
  }
}

class SqliteConnection final : public Connection {
  // Cached statements by SQL text, looked up without copying the text.
  struct Prepared {
    StmtHandle stmt;
    std::vector<int> param_index;  // SQLite index of $1, $2, ... (0: not used)
  };
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

 public:
  SqliteConnection(DbHandle db, std::shared_ptr<SqliteWriterLock> writer,
                   std::chrono::milliseconds busy_timeout,
                   std::shared_ptr<SqliteCheckpointer> checkpointer)
      : db_(std::move(db)),
        writer_(std::move(writer)),
        busy_timeout_(busy_timeout),
        checkpointer_(std::move(checkpointer)) {
    if (checkpointer_) {
      sqlite3_wal_hook(
          db_.get(),
          [](void* arg, sqlite3*, const char*, int frames) {
            static_cast<SqliteCheckpointer*>(arg)->Committed(frames);
            return SQLITE_OK;
          },
          checkpointer_.get());
    }
  }
  ~SqliteConnection() override {
    if (holding_writer_) writer_->Unlock();
  }

  DbEngine engine() const override { return DbEngine::kSqlite; }

  Result<DbResult> Query(std::string_view sql, std::span<const DbValue> params) override {
    VENTROS_ASSIGN_OR_RETURN(Prepared * prepared, Prepare(sql));
    sqlite3_stmt* stmt = prepared->stmt.get();
    // Reset on every exit path so the cached statement releases its read lock.
    struct Resetter {
      sqlite3_stmt* s;
      ~Resetter() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } resetter{stmt};

    int expected = sqlite3_bind_parameter_count(stmt);
    if (expected > static_cast<int>(params.size())) {
      return Status::InvalidArgument(
          fmt::format("query expects {} parameters, got {}", expected, params.size()));
    }
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = i < prepared->param_index.size() ? prepared->param_index[i] : 0;
      if (idx == 0) continue;  // parameter not used by this statement
      int rc = Bind(stmt, idx, params[i]);
      if (rc != SQLITE_OK) return MapError(db_.get(), rc, "bind");
    }

    // A write outside a transaction waits for this process's writer lock, like Begin() does.
    struct WriteGuard {
      SqliteWriterLock* lock = nullptr;
      ~WriteGuard() {
        if (lock) lock->Unlock();
      }
    } write_guard;
    if (writer_ && !holding_writer_ && !sqlite3_stmt_readonly(stmt)) {
      if (!writer_->TryLockFor(busy_timeout_)) {
        return Status::Conflict("database is busy: no write lock within the busy timeout");
      }
      write_guard.lock = writer_.get();
    }

    DbResult result;
    int ncols = sqlite3_column_count(stmt);
    result.columns.reserve(ncols);
    for (int c = 0; c < ncols; ++c) result.columns.emplace_back(sqlite3_column_name(stmt, c));
    while (true) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return MapError(db_.get(), rc, "query");
      std::vector<DbValue> row;
      row.reserve(ncols);
      for (int c = 0; c < ncols; ++c) row.push_back(Column(stmt, c));
      result.rows.emplace_back(std::move(row));
    }
    result.affected_rows =
        ncols == 0 ? sqlite3_changes(db_.get()) : static_cast<int64_t>(result.rows.size());
    return result;
  }

  Status ExecScript(std::string_view sql) override {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      Status mapped = MapError(db_.get(), rc, "script");
      return Status(mapped.code(), fmt::format("script: {}", msg));
    }
    // Schema changes invalidate cached statements; SQLite re-prepares them itself, but drop them
    // to free memory held by statements of dropped tables.
    statements_.clear();
    return Status::Ok();
  }

  bool Healthy() override { return db_ != nullptr; }
  bool InTransaction() override { return !sqlite3_get_autocommit(db_.get()); }

  // SQLite has one writer at a time. Writers of this process queue on a mutex (woken the moment
  // it is free) instead of polling in SQLite's busy handler, which sleeps in steps of up to 100 ms;
  // other processes still meet the busy timeout.
  Status Begin() override {
    if (writer_ && !holding_writer_) {
      if (!writer_->TryLockFor(busy_timeout_)) {
        return Status::Conflict("database is busy: no write lock within the busy timeout");
      }
      holding_writer_ = true;
    }
    Status st = Exec("BEGIN IMMEDIATE");
    if (!st.ok()) ReleaseWriter();
    return st;
  }
  Status Commit() override {
    if (Status hooks = RunPreCommit(); !hooks.ok()) return hooks;
    Status st = Exec("COMMIT");
    if (st.ok() || sqlite3_get_autocommit(db_.get())) ReleaseWriter();
    return st;
  }
  Status Rollback() override {
    DropPreCommit();
    Status st = sqlite3_get_autocommit(db_.get()) ? Status::Ok() : Exec("ROLLBACK");
    if (sqlite3_get_autocommit(db_.get())) ReleaseWriter();
    return st;
  }

 private:
  Status Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) return MapError(db_.get(), rc, sql);
    return Status::Ok();
  }

  Result<Prepared*> Prepare(std::string_view sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return &it->second;
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, &tail);
    if (rc != SQLITE_OK) return MapError(db_.get(), rc, "prepare");
    if (raw == nullptr) return Status::InvalidArgument("empty SQL statement");
    StmtHandle handle(raw);
    // SQLite would silently ignore what follows the first statement; PostgreSQL refuses it.
    // Whitespace, comments and stray semicolons prepare to no statement and are fine.
    const char* end = sql.data() + sql.size();
    while (tail != nullptr && tail < end) {
      sqlite3_stmt* extra = nullptr;
      const char* next = nullptr;
      rc = sqlite3_prepare_v3(db_.get(), tail, static_cast<int>(end - tail), 0, &extra, &next);
      StmtHandle extra_handle(extra);
      if (rc != SQLITE_OK || extra != nullptr || next == tail) {
        return Status::InvalidArgument(
            "query: SQL text holds more than one statement; run one statement per Query (scripts "
            "go through ExecScript)");
      }
      tail = next;
    }
    Prepared prepared;
    // Placeholders are "$N"; their SQLite indexes are found once per statement.
    int count = sqlite3_bind_parameter_count(handle.get());
    for (int idx = 1; idx <= count; ++idx) {
      const char* name = sqlite3_bind_parameter_name(handle.get(), idx);
      if (name == nullptr || name[0] != '$') continue;
      size_t n = 0;
      auto [ptr, ec] = std::from_chars(name + 1, name + std::strlen(name), n);
      if (ec != std::errc() || *ptr != '\0' || n == 0 || n > 32766) {
        return Status::InvalidArgument(
            fmt::format("query: placeholder '{}' is not $1..$32766", name));
      }
      if (prepared.param_index.size() < n) prepared.param_index.resize(n, 0);
      prepared.param_index[n - 1] = idx;
    }
    prepared.stmt = std::move(handle);
    // Statements built with variable IN lists would otherwise pile up for the connection's life.
    // None is in use here (one query at a time per connection), so dropping them all is safe.
    if (statements_.size() >= kMaxCachedStatements) statements_.clear();
    auto [pos, inserted] = statements_.emplace(std::string(sql), std::move(prepared));
    (void)inserted;
    return &pos->second;
  }

  static int Bind(sqlite3_stmt* stmt, int idx, const DbValue& v) {
    if (std::holds_alternative<std::nullptr_t>(v)) return sqlite3_bind_null(stmt, idx);
    if (auto* i = std::get_if<int64_t>(&v)) return sqlite3_bind_int64(stmt, idx, *i);
    if (auto* d = std::get_if<double>(&v)) return sqlite3_bind_double(stmt, idx, *d);
    if (auto* s = std::get_if<std::string>(&v)) {
      return sqlite3_bind_text64(stmt, idx, s->data(), s->size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    const auto& b = std::get<Blob>(v);
    return sqlite3_bind_blob64(stmt, idx, b.bytes.data(), b.bytes.size(), SQLITE_TRANSIENT);
  }

  static DbValue Column(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER:
        return static_cast<int64_t>(sqlite3_column_int64(stmt, c));
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, c);
      case SQLITE_TEXT: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        return std::string(p, sqlite3_column_bytes(stmt, c));
      }
      case SQLITE_BLOB: {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, c));
        return Blob{std::string(p ? p : "", sqlite3_column_bytes(stmt, c))};
      }
      default:
        return nullptr;
    }
  }

  void ReleaseWriter() {
    if (holding_writer_) {
      holding_writer_ = false;
      writer_->Unlock();
    }
  }

  DbHandle db_;
  std::shared_ptr<SqliteWriterLock> writer_;  // shared by the pool's connections; may be null
  std::chrono::milliseconds busy_timeout_;
  // The WAL hook points at it; it is released before db_ is closed, which is fine: closing
  // calls no hook, and the pool's Impl holds the checkpointer while connections live.
  std::shared_ptr<SqliteCheckpointer> checkpointer_;
  bool holding_writer_ = false;
  static constexpr size_t kMaxCachedStatements = 512;
  std::unordered_map<std::string, Prepared, TextHash, std::equal_to<>> statements_;
};

thread_local bool background_writer = false;

// Process-wide SQLite settings, before its first use. Memory statistics off: with them every
// allocation of every connection takes one global mutex, which many threads then queue on.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

void SetBackgroundWriter(bool background) { background_writer = background; }

struct SqliteCheckpointer::Impl {
  std::string path;
  std::shared_ptr<SqliteWriterLock> writer;  // may be null
  int threshold = 1000;
  std::mutex mu;
  std::condition_variable cv;
  bool wanted = false;
  bool stop = false;
  std::atomic<int64_t> done{0};
  std::thread thread;

  // PASSIVE copies what no reader still needs and never waits; a busy answer is fine, the next
  // commit past the threshold asks again. The log starts over only when a writer begins after a
  // checkpoint that copied all of it, which under a steady load never happens by itself (commits
  // land while the copy runs): once the log has grown past twice the threshold, the short copy of
  // what arrived meanwhile is made holding this process's write lock, so the next writer finds
  // it all copied and starts the log over.
  void Checkpoint(sqlite3* db) {
    int log = 0, copied = 0;
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    done.fetch_add(1, std::memory_order_relaxed);
    if (writer && log >= 2 * threshold && writer->TryLockFor(std::chrono::milliseconds(1000))) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
      writer->Unlock();
      done.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void Run() {
    NameThisThread("sqlite-ckpt");
    DbHandle db;
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return wanted || stop; });
      if (stop) return;
      wanted = false;
      lock.unlock();
      if (!db) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        db.reset(raw);
        // Reading the journal mode opens the log; before that a checkpoint sees no WAL at all.
        if (rc == SQLITE_OK)
          rc = sqlite3_exec(raw, "PRAGMA journal_mode", nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) db.reset();
      }
      if (db) Checkpoint(db.get());
      lock.lock();
    }
  }
};

SqliteCheckpointer::SqliteCheckpointer(std::string path, std::shared_ptr<SqliteWriterLock> writer,
                                       int threshold_frames)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = std::move(path);
  impl_->writer = std::move(writer);
  impl_->threshold = std::max(1, threshold_frames);
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_one();
  impl_->thread.join();
}

void SqliteCheckpointer::Committed(int log_frames) {
  if (log_frames < impl_->threshold) return;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->wanted) return;
    impl_->wanted = true;
  }
  impl_->cv.notify_one();
}

int64_t SqliteCheckpointer::checkpoints() const {
  return impl_->done.load(std::memory_order_relaxed);
}

bool SqliteWriterLock::TryLockFor(std::chrono::milliseconds timeout) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  std::unique_lock lock(mu_);
  if (!background_writer) {
    ++foreground_waiting_;
    bool ok = cv_.wait_until(lock, deadline, [&] { return !held_; });
    --foreground_waiting_;
    if (!ok) return false;
    held_ = true;
    return true;
  }
  // Background: wait for foreground writers to drain, but not forever (no starvation).
  auto aged = start + kBackgroundMaxWait;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (!held_ && (foreground_waiting_ == 0 || now >= aged)) {
      held_ = true;
      return true;
    }
    if (now >= deadline) return false;
    cv_.wait_until(lock, std::min(deadline, now < aged ? aged : deadline));
  }
}

void SqliteWriterLock::Unlock() {
  {
    std::lock_guard lock(mu_);
    held_ = false;
  }
  cv_.notify_all();
}

Result<std::unique_ptr<Connection>> OpenSqliteConnection(
    const std::string& path, std::chrono::milliseconds busy_timeout,
    std::shared_ptr<SqliteWriterLock> writer, bool synchronous_full,
    std::shared_ptr<SqliteCheckpointer> checkpointer) {
  if (path != ":memory:") {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent)) {
      return Status::Unavailable(fmt::format("directory {} does not exist", parent.string()));
    }
  }
  ConfigureSqliteOnce();
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return Status::Unavailable(
        fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), static_cast<int>(busy_timeout.count()));
  sqlite3_extended_result_codes(db.get(), 1);
  const char* pragmas =
      synchronous_full
          ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
            "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;"
          : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8192;";
  char* err = nullptr;
  rc = sqlite3_exec(db.get(), pragmas, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::Unavailable(fmt::format("cannot open {}: {}", path, msg));
  }
  if (checkpointer) {
    // The checkpointer copies the log back; a log grown past a large checkpoint shrinks back to
    // this size when it starts over.
    rc = sqlite3_exec(db.get(), "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;",
                      nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return Status::Unavailable(fmt::format("cannot open {}: {}", path, msg));
    }
  }
  return std::unique_ptr<Connection>(new SqliteConnection(std::move(db), std::move(writer),
                                                          busy_timeout, std::move(checkpointer)));
}

}  // namespace ventros::core
