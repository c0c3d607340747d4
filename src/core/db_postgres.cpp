// PostgreSQL driver on libpq.
//
// Statements run over the extended protocol: each distinct SQL text is prepared once per
// connection (names "s1", "s2", ...) and then only executed. Parameters go as text, except blobs
// which go as binary bytea; results come back as text and are converted by column type.

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ventros/core/db.hpp"

namespace ventros::core {
namespace {

// Built-in type oids (pg_type.dat); they never change between server versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;
constexpr Oid kInferTypeOid = 0;  // let the server infer the parameter type from the SQL

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

// Beyond this many cached statements per connection the least recently used one is dropped, so
// code that builds SQL dynamically cannot grow server memory without bound.
constexpr size_t kMaxCachedStatements = 256;
// How much of the SQL text an error message quotes.
constexpr size_t kSqlPreviewChars = 80;

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// libpq messages span lines ("...failed: Connection refused\n\tIs the server running...");
// logs want one line.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string SqlPreview(std::string_view sql) {
  std::string line = OneLine(sql);
  if (line.size() > kSqlPreviewChars) {
    line.resize(kSqlPreviewChars);
    line += "...";
  }
  return line;
}

// The password of the URL's userinfo (user:PASSWORD@host), found the way RedactDbUrl finds
// it: up to the last '@' before the query, else an '@' before the first '/', so a password
// holding '/', '@' or '?' is caught whole.
std::optional<std::string_view> UserinfoPassword(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::nullopt;
  std::string_view rest = url.substr(scheme + 3);
  size_t at = rest.substr(0, rest.find('?')).rfind('@');
  if (at == std::string_view::npos) at = rest.substr(0, rest.find('/')).find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view userinfo = rest.substr(0, at);
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return userinfo.substr(colon + 1);
}

// The password as written in the URL (user:PASSWORD@host or ?password=PASSWORD).
std::vector<std::string> RawUrlPasswords(std::string_view url) {
  std::vector<std::string> out;
  if (auto password = UserinfoPassword(url)) out.emplace_back(*password);
  for (size_t pos = url.find("password="); pos != std::string_view::npos;
       pos = url.find("password=", pos + 1)) {
    std::string_view value = url.substr(pos + 9);
    out.emplace_back(value.substr(0, value.find('&')));
  }
  return out;
}

// Every form of the password that a libpq message could echo: raw from the URL and decoded.
std::vector<std::string> UrlSecrets(const std::string& url) {
  std::vector<std::string> secrets = RawUrlPasswords(url);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options != nullptr) {
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) {
        secrets.emplace_back(o->val);
      }
    }
    PQconninfoFree(options);
  }
  std::erase_if(secrets, [](const std::string& s) { return s.empty(); });
  return secrets;
}

std::string Scrub(std::string message, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    for (size_t pos = message.find(secret); pos != std::string::npos;
         pos = message.find(secret, pos + 3)) {
      message.replace(pos, secret.size(), "***");
    }
  }
  return message;
}

StatusCode CodeForSqlState(std::string_view state) {
  if (state == "23505") return StatusCode::kAlreadyExists;
  if (state == "23503" || state == "23502" || state == "23514" || state.starts_with("22")) {
    return StatusCode::kInvalidArgument;
  }
  if (state == "40001" || state == "40P01") return StatusCode::kConflict;
  // 08P01 on a live connection is a parameter count mismatch: the caller's mistake.
  if (state == "08P01") return StatusCode::kInvalidArgument;
  if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
    return StatusCode::kUnavailable;
  }
  return StatusCode::kInternal;
}

std::string_view ErrorField(const PGresult* result, int field) {
  const char* value = result != nullptr ? PQresultErrorField(result, field) : nullptr;
  return value != nullptr ? std::string_view(value) : std::string_view();
}

bool ResultOk(const PGresult* result) {
  if (result == nullptr) return false;
  ExecStatusType status = PQresultStatus(result);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;
}

// COPY needs a streaming API this interface does not offer: end it so the connection stays
// usable, and let the caller report an error.
bool AbortCopyIfAny(PGconn* conn, const PGresult* result) {
  if (result == nullptr) return false;
  ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COPY_IN && status != PGRES_COPY_OUT && status != PGRES_COPY_BOTH) {
    return false;
  }
  if (status == PGRES_COPY_OUT) {
    char* buffer = nullptr;
    while (PQgetCopyData(conn, &buffer, 0) > 0) PQfreemem(buffer);
  } else {
    PQputCopyEnd(conn, "COPY is not supported by this driver");
  }
  while (PGresult* rest = PQgetResult(conn)) PQclear(rest);
  return true;
}

Result<DbValue> ConvertValue(Oid type, const char* text, int length) {
  std::string_view value(text, static_cast<size_t>(length));
  switch (type) {
    case kInt2Oid:
    case kInt4Oid:
    case kInt8Oid: {
      int64_t out = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      if (ec == std::errc() && end == value.data() + value.size()) return DbValue(out);
      break;
    }
    case kFloat4Oid:
    case kFloat8Oid:
    case kNumericOid: {
      // Also parses "NaN", "Infinity" and "-Infinity". A numeric too large for a double stays
      // text rather than becoming infinity.
      double out = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      if (ec == std::errc() && end == value.data() + value.size()) return DbValue(out);
      break;
    }
    case kBoolOid:
      return DbValue(int64_t{value == "t" ? 1 : 0});
    case kByteaOid: {
      size_t size = 0;
      unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
      if (bytes == nullptr) return Status::Internal("postgres: cannot decode a bytea value");
      Blob blob{std::string(reinterpret_cast<const char*>(bytes), size)};
      PQfreemem(bytes);
      return DbValue(std::move(blob));
    }
    default:
      break;
  }
  return DbValue(std::string(value));
}

Result<DbResult> ConvertResult(const PGresult* result) {
  DbResult out;
  const int columns = PQnfields(result);
  const int rows = PQntuples(result);
  std::vector<Oid> types(static_cast<size_t>(columns));
  out.columns.reserve(types.size());
  for (int c = 0; c < columns; ++c) {
    out.columns.emplace_back(PQfname(result, c));
    types[static_cast<size_t>(c)] = PQftype(result, c);
  }
  out.rows.reserve(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    std::vector<DbValue> values;
    values.reserve(types.size());
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(result, r, c)) {
        values.emplace_back(nullptr);
        continue;
      }
      VENTROS_ASSIGN_OR_RETURN(DbValue value,
                               ConvertValue(types[static_cast<size_t>(c)], PQgetvalue(result, r, c),
                                            PQgetlength(result, r, c)));
      values.push_back(std::move(value));
    }
    out.rows.emplace_back(std::move(values));
  }
  std::string_view tuples = PQcmdTuples(const_cast<PGresult*>(result));
  if (!tuples.empty()) {
    std::from_chars(tuples.data(), tuples.data() + tuples.size(), out.affected_rows);
  }
  return out;
}

// Parameters in libpq's parallel-array form. Points into `params`, which must outlive it.
struct EncodedParams {
  std::vector<std::string> text;  // text forms of numbers
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  std::vector<Oid> types;
  bool has_blob = false;

  int count() const { return static_cast<int>(values.size()); }
};

Result<EncodedParams> EncodeParams(std::span<const DbValue> params) {
  EncodedParams out;
  const size_t n = params.size();
  out.text.resize(n);
  out.values.assign(n, nullptr);
  out.lengths.assign(n, 0);
  out.formats.assign(n, kTextFormat);
  out.types.assign(n, kInferTypeOid);
  for (size_t i = 0; i < n; ++i) {
    const DbValue& param = params[i];
    if (const auto* v = std::get_if<int64_t>(&param)) {
      out.text[i] = fmt::format("{}", *v);
    } else if (const auto* d = std::get_if<double>(&param)) {
      // Shortest text that reads back as the same double; "nan"/"inf" are accepted too.
      out.text[i] = fmt::format("{}", *d);
    } else if (const auto* s = std::get_if<std::string>(&param)) {
      // Text parameters travel as C strings: a NUL would silently cut the value.
      if (s->find('\0') != std::string::npos) {
        return Status::InvalidArgument(
            fmt::format("postgres: text parameter ${} contains a NUL byte (use a Blob)", i + 1));
      }
      out.values[i] = s->c_str();
      out.lengths[i] = static_cast<int>(s->size());
    } else if (const auto* b = std::get_if<Blob>(&param)) {
      out.values[i] = b->bytes.data();
      out.lengths[i] = static_cast<int>(b->bytes.size());
      out.formats[i] = kBinaryFormat;
      out.types[i] = kByteaOid;
      out.has_blob = true;
    }
  }
  // Only now: the strings no longer move.
  for (size_t i = 0; i < n; ++i) {
    if (std::holds_alternative<int64_t>(params[i]) || std::holds_alternative<double>(params[i])) {
      out.values[i] = out.text[i].c_str();
      out.lengths[i] = static_cast<int>(out.text[i].size());
    }
  }
  return out;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// One libpq connection. Owns its PGconn; used by one thread at a time (see Connection).
class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(PgConnPtr conn) : conn_(std::move(conn)) {}
  PostgresConnection(PostgresConnection&&) = default;
  PostgresConnection& operator=(PostgresConnection&&) = default;
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;
  ~PostgresConnection() override = default;

  DbEngine engine() const override { return DbEngine::kPostgres; }

  using Connection::Query;
  Result<DbResult> Query(std::string_view sql, std::span<const DbValue> params) override;
  Status ExecScript(std::string_view sql) override;
  bool Healthy() override;
  bool InTransaction() override {
    return conn_ && PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
  }
  Status Begin() override { return Simple("BEGIN"); }
  Status Commit() override;
  Status Rollback() override {
    DropPreCommit();
    return Simple("ROLLBACK");
  }

 private:
  struct Statement {
    std::string name;
    uint64_t last_used = 0;
  };
  struct Prepared {
    std::string name;
    bool from_cache = false;
  };

  bool Connected() const { return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK; }
  Status Lost(std::string_view what) const;
  Status Error(const PGresult* result, std::string_view what) const;
  Result<Prepared> Prepare(std::string_view key, std::string_view sql, const EncodedParams& params);
  void Forget(std::string_view key, bool deallocate);
  void DeallocatePending();
  Status Simple(const char* sql);

  PgConnPtr conn_;
  std::unordered_map<std::string, Statement, StringHash, std::equal_to<>> statements_;
  uint64_t next_statement_ = 0;
  uint64_t use_clock_ = 0;
  // Statements dropped from the cache (evicted or stale), deallocated once no transaction is
  // open: a failing DEALLOCATE inside one would abort the caller's transaction.
  std::vector<std::string> pending_deallocate_;
};

Status PostgresConnection::Lost(std::string_view what) const {
  std::string reason = conn_ ? OneLine(PQerrorMessage(conn_.get())) : std::string();
  if (reason.empty()) reason = "connection is closed";
  return Status::Unavailable(fmt::format("postgres: {}: {}", what, reason));
}

Status PostgresConnection::Error(const PGresult* result, std::string_view what) const {
  std::string primary(ErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  if (primary.empty() && result != nullptr) primary = OneLine(PQresultErrorMessage(result));
  if (primary.empty()) primary = OneLine(PQerrorMessage(conn_.get()));
  if (primary.empty()) primary = "unexpected result status";
  std::string_view state = ErrorField(result, PG_DIAG_SQLSTATE);
  std::string message = fmt::format("postgres: {}: {}", what, primary);
  if (!state.empty()) message += fmt::format(" (SQLSTATE {})", state);
  return Status(Connected() ? CodeForSqlState(state) : StatusCode::kUnavailable,
                std::move(message));
}

Result<PostgresConnection::Prepared> PostgresConnection::Prepare(std::string_view key,
                                                                 std::string_view sql,
                                                                 const EncodedParams& params) {
  if (auto it = statements_.find(key); it != statements_.end()) {
    it->second.last_used = ++use_clock_;
    return Prepared{it->second.name, true};
  }
  if (statements_.size() >= kMaxCachedStatements) {
    auto oldest = std::min_element(
        statements_.begin(), statements_.end(),
        [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    pending_deallocate_.push_back(std::move(oldest->second.name));
    statements_.erase(oldest);
  }
  std::string name = fmt::format("s{}", ++next_statement_);
  const std::string sql_text(sql);  // libpq wants NUL-terminated text
  PgResultPtr result(
      PQprepare(conn_.get(), name.c_str(), sql_text.c_str(), params.count(), params.types.data()));
  if (!ResultOk(result.get())) {
    return Error(result.get(), fmt::format("prepare \"{}\"", SqlPreview(sql)));
  }
  statements_.emplace(std::string(key), Statement{name, ++use_clock_});
  return Prepared{std::move(name), false};
}

void PostgresConnection::Forget(std::string_view key, bool deallocate) {
  auto it = statements_.find(key);
  if (it == statements_.end()) return;
  if (deallocate) pending_deallocate_.push_back(std::move(it->second.name));
  statements_.erase(it);
}

void PostgresConnection::DeallocatePending() {
  if (pending_deallocate_.empty() || PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) return;
  for (const std::string& name : pending_deallocate_) {
    // Errors do not matter: the statement may already be gone (DISCARD ALL).
    PgResultPtr ignored(PQexec(conn_.get(), fmt::format("DEALLOCATE \"{}\"", name).c_str()));
  }
  pending_deallocate_.clear();
}

Result<DbResult> PostgresConnection::Query(std::string_view sql, std::span<const DbValue> params) {
  if (!Connected()) return Lost("query");
  if (sql.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("postgres: SQL text contains a NUL byte");
  }
  VENTROS_ASSIGN_OR_RETURN(EncodedParams encoded, EncodeParams(params));
  DeallocatePending();

  // A statement prepared with a bytea parameter differs from one where the server inferred the
  // type, so blob positions are part of the cache key.
  std::string typed_key;
  std::string_view key = sql;
  if (encoded.has_blob) {
    typed_key.assign(sql);
    typed_key += '\0';
    for (Oid type : encoded.types) typed_key += type == kByteaOid ? 'b' : '-';
    key = typed_key;
  }

  for (int attempt = 0;; ++attempt) {
    VENTROS_ASSIGN_OR_RETURN(Prepared prepared, Prepare(key, sql, encoded));
    PgResultPtr result(PQexecPrepared(conn_.get(), prepared.name.c_str(), encoded.count(),
                                      encoded.values.data(), encoded.lengths.data(),
                                      encoded.formats.data(), kTextFormat));
    if (ResultOk(result.get())) return ConvertResult(result.get());
    const std::string what = fmt::format("query \"{}\"", SqlPreview(sql));
    if (AbortCopyIfAny(conn_.get(), result.get())) {
      return Status::InvalidArgument(fmt::format("postgres: {}: COPY is not supported", what));
    }
    if (!Connected()) return Error(result.get(), what);

    // A cached statement can go stale: a schema change altered its result columns ("cached plan
    // must not change result type", 0A000) or someone ran DEALLOCATE / DISCARD ALL (26000).
    std::string_view state = ErrorField(result.get(), PG_DIAG_SQLSTATE);
    bool stale = prepared.from_cache && (state == "0A000" || state == "26000");
    if (!stale) return Error(result.get(), what);
    Forget(key, /*deallocate=*/state != "26000");
    if (attempt == 0 && PQtransactionStatus(conn_.get()) == PQTRANS_IDLE) {
      DeallocatePending();
      continue;
    }
    // Inside a transaction the failure already aborted it: retrying the transaction will
    // re-prepare the statement.
    Status error = Error(result.get(), what);
    return Status::Conflict(error.message());
  }
}

Status PostgresConnection::ExecScript(std::string_view sql) {
  if (!Connected()) return Lost("script");
  if (sql.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("postgres: script contains a NUL byte");
  }
  DeallocatePending();
  const std::string script(sql);
  PgResultPtr result(PQexec(conn_.get(), script.c_str()));
  if (ResultOk(result.get())) return Status::Ok();
  const std::string what = fmt::format("script \"{}\"", SqlPreview(sql));
  if (AbortCopyIfAny(conn_.get(), result.get())) {
    return Status::InvalidArgument(fmt::format("postgres: {}: COPY is not supported", what));
  }
  return Error(result.get(), what);
}

bool PostgresConnection::Healthy() {
  if (!Connected()) return false;
  // PQstatus only changes when libpq touches the socket. A server that went away left a FATAL
  // message and EOF there: read them without blocking (the first read may stop after the
  // message, hence two). The FATAL goes to the no-op notice processor.
  for (int i = 0; i < 2 && Connected(); ++i) {
    if (PQconsumeInput(conn_.get()) == 0) break;
  }
  return Connected();
}

Status PostgresConnection::Commit() {
  if (Status hooks = RunPreCommit(); !hooks.ok()) return hooks;
  if (!Connected()) return Lost("COMMIT");
  PgResultPtr result(PQexec(conn_.get(), "COMMIT"));
  if (!ResultOk(result.get())) return Error(result.get(), "COMMIT");
  // COMMIT of a transaction in which a statement failed "succeeds" but rolls back.
  if (std::string_view(PQcmdStatus(result.get())) == "ROLLBACK") {
    return Status::Internal(
        "postgres: COMMIT: the transaction was rolled back because a statement in it failed");
  }
  return Status::Ok();
}

Status PostgresConnection::Simple(const char* sql) {
  if (!Connected()) return Lost(sql);
  PgResultPtr result(PQexec(conn_.get(), sql));
  if (!ResultOk(result.get())) return Error(result.get(), sql);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Connection>> OpenPostgresConnection(
    const std::string& url, std::chrono::milliseconds connect_timeout) {
  const std::string where = RedactDbUrl(url);
  // libpq ends the userinfo at the first '/' or '@': it would take part of such a password for
  // the host or port and quote that part in its error message, where no scrubbing finds it.
  if (auto password = UserinfoPassword(url);
      password && password->find_first_of("/@") != std::string_view::npos) {
    return Status::InvalidArgument(fmt::format(
        "cannot connect to {}: the password in the URL holds '/' or '@'; percent-encode them "
        "(%2F, %40)",
        where));
  }
  const std::vector<std::string> secrets = UrlSecrets(url);
  // libpq keeps the last value of a repeated keyword: entries before "dbname" (the expanded URL)
  // are defaults the URL may override. libpq's timeout has whole-second granularity.
  const int64_t timeout_seconds = std::max<int64_t>(1, (connect_timeout.count() + 999) / 1000);
  const std::string timeout = std::to_string(timeout_seconds);
  const char* const keywords[] = {"fallback_application_name", "client_encoding", "connect_timeout",
                                  "dbname", nullptr};
  const char* const values[] = {"ventros", "UTF8", timeout.c_str(), url.c_str(), nullptr};
  PgConnPtr conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn == nullptr) {
    return Status::Unavailable(fmt::format("cannot connect to {}: out of memory", where));
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string reason = Scrub(OneLine(PQerrorMessage(conn.get())), secrets);
    return Status::Unavailable(fmt::format("cannot connect to {}: {}", where, reason));
  }
  // Notices (e.g. "there is no transaction in progress") would otherwise go to stderr.
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  PgResultPtr set(PQexec(conn.get(), "SET client_min_messages TO warning"));
  if (!ResultOk(set.get())) {
    std::string reason = Scrub(OneLine(PQerrorMessage(conn.get())), secrets);
    return Status::Unavailable(fmt::format("cannot set up connection to {}: {}", where, reason));
  }
  return std::unique_ptr<Connection>(std::make_unique<PostgresConnection>(std::move(conn)));
}

}  // namespace ventros::core
