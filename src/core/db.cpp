#include "ventros/core/db.hpp"

#include <fmt/format.h>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace ventros::core {

std::string_view DbEngineName(DbEngine engine) {
  return engine == DbEngine::kSqlite ? "sqlite" : "postgres";
}

bool DbRow::IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }

int64_t DbRow::GetInt(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto* p = std::get_if<int64_t>(&v)) return *p;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) {
    if (*s == "t") return 1;  // PostgreSQL boolean text
    if (*s == "f") return 0;
    int64_t out = 0;
    std::from_chars(s->data(), s->data() + s->size(), out);
    return out;
  }
  return 0;
}

double DbRow::GetDouble(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (auto* s = std::get_if<std::string>(&v)) {
    try {
      return std::stod(*s);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string DbRow::GetText(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  if (auto* b = std::get_if<Blob>(&v)) return b->bytes;
  return {};
}

std::string DbRow::GetBlob(size_t i) const {
  const DbValue& v = values_.at(i);
  if (auto* b = std::get_if<Blob>(&v)) return b->bytes;
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

std::optional<int64_t> DbRow::GetOptInt(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return GetInt(i);
}

std::optional<std::string> DbRow::GetOptText(size_t i) const {
  if (IsNull(i)) return std::nullopt;
  return GetText(i);
}

// ---- URL helpers ----

namespace {

// Replaces the value of every "password=" parameter (query string or keyword/value form).
void RedactPasswordParameters(std::string& text) {
  constexpr std::string_view kKey = "password=";
  for (size_t pos = text.find(kKey); pos != std::string::npos; pos = text.find(kKey, pos + 1)) {
    size_t value = pos + kKey.size();
    size_t end = text.find('&', value);
    if (end == std::string::npos) end = text.size();
    text.replace(value, end - value, "***");
  }
}

}  // namespace

std::string RedactDbUrl(std::string_view url) {
  // scheme://user:password@host -> scheme://user:***@host. The password may hold '/', '@' or
  // '?' (libpq wants them percent-encoded, but a mistyped URL still ends up in messages), so the
  // userinfo runs to the last '@' before the query; failing that, to an '@' before the first '/'
  // (how libpq reads "user:pa?ss@host").
  std::string out(url);
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos && !url.starts_with("sqlite:")) {
    size_t auth_start = scheme + 3;
    std::string_view rest = url.substr(auth_start);
    size_t at = rest.substr(0, rest.find('?')).rfind('@');
    if (at == std::string_view::npos) at = rest.substr(0, rest.find('/')).find('@');
    if (at != std::string_view::npos) {
      size_t colon = rest.find(':');
      if (colon < at) {
        out = fmt::format("{}:***{}", url.substr(0, auth_start + colon), rest.substr(at));
      }
    }
  }
  RedactPasswordParameters(out);
  return out;
}

Result<DbEngine> EngineFromUrl(std::string_view url) {
  if (url.starts_with("sqlite:")) return DbEngine::kSqlite;
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return DbEngine::kPostgres;
  }
  return Status::InvalidArgument(fmt::format(
      "unsupported database URL '{}': expected sqlite:///path/file.db, sqlite::memory: or "
      "postgres://user:password@host:port/db",
      RedactDbUrl(url)));
}

namespace {
// sqlite:///abs/path -> /abs/path; sqlite://rel/path -> rel/path; sqlite::memory: -> :memory:
std::string SqlitePath(std::string_view url) {
  if (url == "sqlite::memory:" || url == "sqlite://:memory:") return ":memory:";
  if (url.starts_with("sqlite://")) return std::string(url.substr(9));
  if (url.starts_with("sqlite:")) return std::string(url.substr(7));
  return std::string(url);
}
}  // namespace

// ---- Pool ----

struct Database::Impl {
  DatabaseOptions options;
  DbEngine engine;
  std::string sqlite_path;
  std::shared_ptr<SqliteWriterLock> sqlite_writer = std::make_shared<SqliteWriterLock>();
  std::shared_ptr<SqliteCheckpointer> sqlite_checkpointer;  // file databases only
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Connection>> idle;
  int open = 0;
  int in_use = 0;
  int max_size = 1;
  int64_t acquired_total = 0;
  int64_t waits_total = 0;
  int64_t timeouts_total = 0;

  Result<std::unique_ptr<Connection>> Connect() {
    if (engine == DbEngine::kSqlite) {
      return OpenSqliteConnection(sqlite_path, options.busy_timeout, sqlite_writer,
                                  options.sqlite_synchronous_full, sqlite_checkpointer);
    }
    return OpenPostgresConnection(options.url, options.connect_timeout);
  }
};

Database::Database(DbEngine engine, std::string redacted_url, std::unique_ptr<Impl> impl)
    : engine_(engine), redacted_url_(std::move(redacted_url)), impl_(std::move(impl)) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  VENTROS_ASSIGN_OR_RETURN(DbEngine engine, EngineFromUrl(options.url));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->engine = engine;
  impl->max_size = std::max(1, options.pool_size);
  if (engine == DbEngine::kSqlite) {
    impl->sqlite_path = SqlitePath(options.url);
    // Each in-memory SQLite connection is its own database: keep exactly one.
    if (impl->sqlite_path == ":memory:") {
      impl->max_size = 1;
    } else {
      impl->sqlite_checkpointer =
          std::make_shared<SqliteCheckpointer>(impl->sqlite_path, impl->sqlite_writer);
    }
  }
  auto first = impl->Connect();
  if (!first.ok()) {
    return first.status().WithContext(
        fmt::format("cannot open database {}", RedactDbUrl(options.url)));
  }
  impl->idle.push_back(std::move(first).value());
  impl->open = 1;
  std::string redacted = RedactDbUrl(options.url);
  return std::unique_ptr<Database>(new Database(engine, std::move(redacted), std::move(impl)));
}

Result<PooledConnection> Database::Acquire() {
  std::unique_lock lock(impl_->mu);
  auto deadline = std::chrono::steady_clock::now() + impl_->options.acquire_timeout;
  bool waited = false;
  while (impl_->idle.empty() && impl_->open >= impl_->max_size) {
    waited = true;
    if (impl_->cv.wait_until(lock, deadline) == std::cv_status::timeout && impl_->idle.empty() &&
        impl_->open >= impl_->max_size) {
      ++impl_->timeouts_total;
      return Status::Unavailable(fmt::format("database pool exhausted: no connection within {} ms",
                                             impl_->options.acquire_timeout.count()));
    }
  }
  if (waited) ++impl_->waits_total;
  std::unique_ptr<Connection> conn;
  if (!impl_->idle.empty()) {
    // Most recently used first: its page cache is the warmest.
    conn = std::move(impl_->idle.back());
    impl_->idle.pop_back();
  } else {
    ++impl_->open;  // reserve the slot, connect outside the lock
  }
  ++impl_->in_use;
  ++impl_->acquired_total;
  lock.unlock();

  // A connection whose server went away is replaced by a fresh one.
  if (conn && !conn->Healthy()) conn.reset();
  if (!conn) {
    auto fresh = impl_->Connect();
    if (!fresh.ok()) {
      std::lock_guard relock(impl_->mu);
      --impl_->open;
      --impl_->in_use;
      impl_->cv.notify_one();
      return Status::Unavailable(fresh.status().message());
    }
    conn = std::move(fresh).value();
  }
  return PooledConnection(this, std::move(conn));
}

void Database::Return(std::unique_ptr<Connection> conn) {
  // A transaction left open (or aborted) must not leak into the next borrower.
  if (conn && conn->Healthy() && conn->InTransaction() && !conn->Rollback().ok()) conn.reset();
  std::lock_guard lock(impl_->mu);
  --impl_->in_use;
  if (conn && conn->Healthy()) {
    impl_->idle.push_back(std::move(conn));
  } else {
    --impl_->open;
    // A lost connection usually means the server went away: the idle ones are gone too, so drop
    // them now rather than fail one request per stale connection after the server returns.
    impl_->open -= static_cast<int>(impl_->idle.size());
    impl_->idle.clear();
  }
  impl_->cv.notify_one();
}

PoolStats Database::Stats() const {
  std::lock_guard lock(impl_->mu);
  return PoolStats{impl_->open,           impl_->in_use,      impl_->max_size,
                   impl_->acquired_total, impl_->waits_total, impl_->timeouts_total};
}

Status Database::Ping() {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  auto r = (*conn)->Query("SELECT 1");
  if (!r.ok()) return Status::Unavailable(r.status().message());
  return Status::Ok();
}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    Release();
    db_ = other.db_;
    conn_ = std::move(other.conn_);
    other.db_ = nullptr;
  }
  return *this;
}

PooledConnection::~PooledConnection() { Release(); }

void PooledConnection::Release() {
  if (db_ && conn_) db_->Return(std::move(conn_));
  db_ = nullptr;
}

// ---- Transaction ----

Result<Transaction> Transaction::Begin(Connection& conn) {
  VENTROS_RETURN_IF_ERROR(conn.Begin());
  return Transaction(&conn);
}

Transaction::~Transaction() {
  if (conn_) (void)conn_->Rollback();
}

Status Transaction::Commit() {
  if (!conn_) return Status::Internal("transaction already finished");
  Connection* conn = conn_;
  conn_ = nullptr;
  Status st = conn->Commit();
  if (!st.ok()) (void)conn->Rollback();
  return st;
}

}  // namespace ventros::core
