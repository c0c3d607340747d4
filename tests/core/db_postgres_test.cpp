// PostgreSQL driver and pool against a real server. The server comes from VENTROS_TEST_PG_URL
// (scripts/test starts a throwaway one with scripts/lib/pg.sh). Each test works in a schema of
// its own, so the tests can run in parallel.

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <random>
#include <thread>

#include "ventros/core/db.hpp"

namespace ventros::core {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kConnectTimeout{5000};
constexpr std::chrono::milliseconds kWaitLimit{5000};

std::string ServerUrl() {
  const char* url = std::getenv("VENTROS_TEST_PG_URL");
  if (url == nullptr || *url == '\0') {
    FAIL(
        "VENTROS_TEST_PG_URL is not set: the [pg] tests need a PostgreSQL server. Run "
        "scripts/test, "
        "or `source scripts/lib/pg.sh && pg_start` first, or skip them with ~[pg].");
  }
  return url;
}

std::unique_ptr<Connection> ConnectTo(const std::string& url) {
  auto conn = OpenPostgresConnection(url, kConnectTimeout);
  INFO(conn.status().ToString());
  REQUIRE(conn.ok());
  return std::move(conn).value();
}

DbResult Run(Connection& conn, std::string_view sql, std::initializer_list<DbValue> params = {}) {
  auto result = conn.Query(sql, params);
  INFO(sql << " -> " << result.status().ToString());
  REQUIRE(result.ok());
  return std::move(result).value();
}

void Exec(Connection& conn, std::string_view script) {
  Status st = conn.ExecScript(script);
  INFO(script << " -> " << st.ToString());
  REQUIRE(st.ok());
}

template <typename T>
T As(const DbValue& value) {
  REQUIRE(std::holds_alternative<T>(value));
  return std::get<T>(value);
}

template <typename Predicate>
bool WaitFor(Predicate predicate) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A schema of the test's own, dropped at the end. Connections made through url() see it first
// on their search_path.
class TestSchema {
 public:
  TestSchema() : admin_(ConnectTo(ServerUrl())) {
    std::random_device random;
    name_ = fmt::format("t_{:08x}{:08x}", random(), random());
    Exec(*admin_, fmt::format("CREATE SCHEMA {}", name_));
    const std::string server = ServerUrl();
    url_ = fmt::format("{}{}options=-csearch_path%3D{}", server,
                       server.find('?') == std::string::npos ? '?' : '&', name_);
  }
  ~TestSchema() {
    if (admin_->Healthy()) (void)admin_->ExecScript(fmt::format("DROP SCHEMA {} CASCADE", name_));
  }
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& url() const { return url_; }
  // A connection outside the schema, e.g. to kill other sessions.
  Connection& admin() { return *admin_; }
  std::unique_ptr<Connection> Connect() const { return ConnectTo(url_); }

 private:
  std::unique_ptr<Connection> admin_;
  std::string name_;
  std::string url_;
};

int64_t BackendPid(Connection& conn) {
  return Run(conn, "SELECT pg_backend_pid()").rows.at(0).GetInt(0);
}

// Terminates a session and waits until its process is gone, which closes its socket.
void KillBackend(Connection& killer, int64_t pid) {
  REQUIRE(Run(killer, "SELECT pg_terminate_backend($1)", {pid}).rows.at(0).GetInt(0) == 1);
  REQUIRE(WaitFor([&] {
    return Run(killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {pid})
               .rows.at(0)
               .GetInt(0) == 0;
  }));
  // The activity entry goes a moment before the process exits and the kernel closes the socket.
  std::this_thread::sleep_for(100ms);
}

// A listening socket on 127.0.0.1 that never accepts: the kernel completes TCP handshakes, but
// nothing ever answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  void Listen() { REQUIRE(::listen(fd_, 8) == 0); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_CASE("PostgresConnection: round-trips every value type", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  Exec(*conn, "CREATE TABLE vals (id int8 PRIMARY KEY, i int8, d float8, t text, b bytea)");

  const std::string text = "it's \"quoted\" \\ back – ünïcødé 😀 日本語";
  const Blob blob{std::string("\0\x01\xff\0 tail\0", 10)};
  auto insert = "INSERT INTO vals (id, i, d, t, b) VALUES ($1, $2, $3, $4, $5)";
  Run(*conn, insert, {int64_t{1}, std::numeric_limits<int64_t>::min(), 0.1 + 0.2, text, blob});
  Run(*conn, insert,
      {int64_t{2}, std::numeric_limits<int64_t>::max(), -1e-300, std::string(), Blob{}});
  Run(*conn, insert, {int64_t{3}, nullptr, nullptr, nullptr, nullptr});

  DbResult result = Run(*conn, "SELECT id, i, d, t, b FROM vals ORDER BY id");
  CHECK(result.columns == std::vector<std::string>{"id", "i", "d", "t", "b"});
  REQUIRE(result.rows.size() == 3);

  const DbRow& first = result.rows[0];
  CHECK(As<int64_t>(first.raw(0)) == 1);
  CHECK(As<int64_t>(first.raw(1)) == std::numeric_limits<int64_t>::min());
  CHECK(As<double>(first.raw(2)) == 0.1 + 0.2);
  CHECK(As<std::string>(first.raw(3)) == text);
  CHECK(As<Blob>(first.raw(4)) == blob);

  const DbRow& second = result.rows[1];
  CHECK(As<int64_t>(second.raw(1)) == std::numeric_limits<int64_t>::max());
  CHECK(As<double>(second.raw(2)) == -1e-300);
  CHECK(As<std::string>(second.raw(3)).empty());
  CHECK(As<Blob>(second.raw(4)) == Blob{});

  const DbRow& third = result.rows[2];
  for (size_t i = 1; i < third.size(); ++i) CHECK(third.IsNull(i));
}

TEST_CASE("PostgresConnection: converts columns by their type", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  DbResult result = Run(*conn,
                        "SELECT true AS yes, false AS no, 7::int2 AS small, 8::int4 AS medium, "
                        "1.5::real AS single, 12.25::numeric AS exact, 'x'::varchar AS name, "
                        "DATE '2024-02-29' AS day, NULL::int8 AS nothing, $1::float8 AS inf",
                        {std::numeric_limits<double>::infinity()});
  REQUIRE(result.rows.size() == 1);
  const DbRow& row = result.rows[0];
  CHECK(As<int64_t>(row.raw(0)) == 1);
  CHECK(As<int64_t>(row.raw(1)) == 0);
  CHECK(As<int64_t>(row.raw(2)) == 7);
  CHECK(As<int64_t>(row.raw(3)) == 8);
  CHECK(As<double>(row.raw(4)) == 1.5);
  CHECK(As<double>(row.raw(5)) == 12.25);
  CHECK(As<std::string>(row.raw(6)) == "x");
  CHECK(As<std::string>(row.raw(7)) == "2024-02-29");
  CHECK(row.IsNull(8));
  CHECK(As<double>(row.raw(9)) == std::numeric_limits<double>::infinity());

  SECTION("an untyped blob parameter is bytea") {
    const Blob blob{std::string("a\0b", 3)};
    CHECK(As<Blob>(Run(*conn, "SELECT $1", {blob}).rows.at(0).raw(0)) == blob);
  }
  SECTION("doubles keep every bit") {
    for (double value : {3.141592653589793, 1e300, 5e-324, -2.5, 0.1}) {
      CHECK(As<double>(Run(*conn, "SELECT $1::float8", {value}).rows.at(0).raw(0)) == value);
    }
  }
  SECTION("a text parameter with a NUL byte is refused") {
    auto r = conn->Query("SELECT $1::text", {std::string("a\0b", 3)});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
  }
}

TEST_CASE("PostgresConnection: reports affected rows of INSERT, UPDATE and DELETE", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  Exec(*conn, "CREATE TABLE items (id int8 PRIMARY KEY, v int8)");
  CHECK(Run(*conn, "INSERT INTO items VALUES (1, 10), (2, 20), (3, 30)").affected_rows == 3);
  CHECK(Run(*conn, "UPDATE items SET v = v + 1 WHERE v > $1", {int64_t{15}}).affected_rows == 2);
  CHECK(Run(*conn, "UPDATE items SET v = 0 WHERE id = $1", {int64_t{99}}).affected_rows == 0);
  CHECK(Run(*conn, "DELETE FROM items WHERE id <> $1", {int64_t{2}}).affected_rows == 2);
  CHECK(Run(*conn, "CREATE INDEX items_v ON items (v)").affected_rows == 0);
}

TEST_CASE("PostgresConnection: maps SQLSTATEs to status codes", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  Exec(*conn,
       "CREATE TABLE parents (id int8 PRIMARY KEY);"
       "CREATE TABLE kids (id int8 PRIMARY KEY, parent int8 NOT NULL REFERENCES parents,"
       "  age int8 CHECK (age >= 0));"
       "INSERT INTO parents VALUES (1);"
       "INSERT INTO kids VALUES (1, 1, 5);");

  auto duplicate = conn->Query("INSERT INTO kids VALUES ($1, 1, 1)", {int64_t{1}});
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.status().code() == StatusCode::kAlreadyExists);
  CHECK_THAT(duplicate.status().message(), Catch::Contains("duplicate key") &&
                                               Catch::Contains("23505") &&
                                               Catch::Contains("kids_pkey"));

  auto code_of = [&](std::string_view sql) {
    auto r = conn->Query(sql);
    return r.ok() ? StatusCode::kOk : r.status().code();
  };
  CHECK(code_of("INSERT INTO kids VALUES (2, NULL, 1)") == StatusCode::kInvalidArgument);
  CHECK(code_of("INSERT INTO kids VALUES (2, 42, 1)") == StatusCode::kInvalidArgument);
  CHECK(code_of("INSERT INTO kids VALUES (2, 1, -1)") == StatusCode::kInvalidArgument);
  CHECK(code_of("SELECT 1 / 0") == StatusCode::kInvalidArgument);
  CHECK(code_of("SELEKT 1") == StatusCode::kInternal);
  CHECK(code_of("SELECT * FROM missing_table") == StatusCode::kInternal);

  auto bad_int = conn->Query("SELECT $1::int8", {std::string("twelve")});
  REQUIRE_FALSE(bad_int.ok());
  CHECK(bad_int.status().code() == StatusCode::kInvalidArgument);

  auto too_few = conn->Query("SELECT $1::int8 + $2::int8", {int64_t{1}});
  REQUIRE_FALSE(too_few.ok());
  CHECK(too_few.status().code() == StatusCode::kInvalidArgument);

  // Errors outside a transaction leave the connection usable.
  CHECK(conn->Healthy());
  CHECK(Run(*conn, "SELECT count(*) FROM kids").rows.at(0).GetInt(0) == 1);
}

TEST_CASE("PostgresConnection: a transaction rolls back unless committed", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  auto observer = schema.Connect();
  Exec(*conn, "CREATE TABLE items (id int8 PRIMARY KEY)");
  auto count = [&](Connection& c) {
    return Run(c, "SELECT count(*) FROM items").rows.at(0).GetInt(0);
  };

  {
    auto tx = Transaction::Begin(*conn);
    REQUIRE(tx.ok());
    Run(tx->conn(), "INSERT INTO items VALUES ($1)", {int64_t{1}});
    CHECK(count(*conn) == 1);
    CHECK(count(*observer) == 0);
  }
  CHECK(count(*conn) == 0);

  {
    auto tx = Transaction::Begin(*conn);
    REQUIRE(tx.ok());
    Run(tx->conn(), "INSERT INTO items VALUES ($1)", {int64_t{2}});
    REQUIRE(tx->Commit().ok());
  }
  CHECK(count(*observer) == 1);

  SECTION("a failed statement makes COMMIT fail and keeps nothing") {
    auto tx = Transaction::Begin(*conn);
    REQUIRE(tx.ok());
    Run(tx->conn(), "INSERT INTO items VALUES ($1)", {int64_t{3}});
    CHECK(tx->conn().Query("INSERT INTO items VALUES ($1)", {int64_t{2}}).status().code() ==
          StatusCode::kAlreadyExists);
    CHECK_FALSE(tx->Commit().ok());
    CHECK(count(*observer) == 1);
    CHECK(count(*conn) == 1);
  }
  SECTION("explicit Begin, Rollback and Commit") {
    REQUIRE(conn->Begin().ok());
    Run(*conn, "INSERT INTO items VALUES ($1)", {int64_t{4}});
    REQUIRE(conn->Rollback().ok());
    REQUIRE(conn->Begin().ok());
    Run(*conn, "INSERT INTO items VALUES ($1)", {int64_t{5}});
    REQUIRE(conn->Commit().ok());
    CHECK(count(*observer) == 2);
  }
}

TEST_CASE("PostgresConnection: prepares each SQL text once and reuses it", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  Exec(*conn, "CREATE TABLE items (id int8 PRIMARY KEY, v text)");
  const std::string insert = "INSERT INTO items (id, v) VALUES ($1, $2)";
  for (int64_t i = 0; i < 50; ++i) Run(*conn, insert, {i, fmt::format("v{}", i)});
  const std::string select = "SELECT v FROM items WHERE id = $1";
  for (int64_t i = 0; i < 50; ++i) {
    CHECK(Run(*conn, select, {i}).rows.at(0).GetText(0) == fmt::format("v{}", i));
  }

  auto prepared_count = [&](const std::string& sql) {
    return Run(*conn, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", {sql})
        .rows.at(0)
        .GetInt(0);
  };
  CHECK(prepared_count(insert) == 1);
  CHECK(prepared_count(select) == 1);
}

TEST_CASE("PostgresConnection: re-prepares a statement the schema made stale", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  auto other = schema.Connect();
  Exec(*conn,
       "CREATE TABLE items (id int8 PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a')");
  const std::string select_all = "SELECT * FROM items";
  CHECK(Run(*conn, select_all).columns.size() == 2);

  // Outside a transaction the driver retries on its own.
  Exec(*other, "ALTER TABLE items ADD COLUMN extra text DEFAULT 'x'");
  DbResult widened = Run(*conn, select_all);
  CHECK(widened.columns == std::vector<std::string>{"id", "v", "extra"});
  CHECK(widened.rows.at(0).GetText(2) == "x");

  // Inside one the transaction is already aborted: the caller gets a retryable Conflict, and the
  // next attempt works.
  Exec(*other, "ALTER TABLE items ADD COLUMN more int8 DEFAULT 7");
  REQUIRE(conn->Begin().ok());
  auto stale = conn->Query(select_all);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.status().code() == StatusCode::kConflict);
  REQUIRE(conn->Rollback().ok());
  DbResult again = Run(*conn, select_all);
  CHECK(again.columns.size() == 4);
  CHECK(again.rows.at(0).GetInt(3) == 7);

  // Statements dropped by DEALLOCATE ALL are prepared again.
  Exec(*conn, "DEALLOCATE ALL");
  CHECK(Run(*conn, select_all).columns.size() == 4);

  // Stale statements are deallocated, not leaked.
  CHECK(Run(*conn, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", {select_all})
            .rows.at(0)
            .GetInt(0) == 1);
}

TEST_CASE("PostgresConnection: runs multi-statement scripts", "[pg]") {
  TestSchema schema;
  auto conn = schema.Connect();
  Exec(*conn,
       "CREATE TABLE items (id int8 PRIMARY KEY);\n"
       "INSERT INTO items VALUES (1);\n"
       "INSERT INTO items VALUES (2);\n");
  CHECK(Run(*conn, "SELECT count(*) FROM items").rows.at(0).GetInt(0) == 2);

  Status failed = conn->ExecScript("INSERT INTO items VALUES (3); INSERT INTO items VALUES (1);");
  CHECK(failed.code() == StatusCode::kAlreadyExists);
  // A script runs as one implicit transaction: the first insert is gone too.
  CHECK(Run(*conn, "SELECT count(*) FROM items").rows.at(0).GetInt(0) == 2);
}

TEST_CASE("OpenPostgresConnection: accepts postgres:// and postgresql:// URLs", "[pg]") {
  const std::string url = ServerUrl();
  const size_t scheme_end = url.find("://");
  REQUIRE(scheme_end != std::string::npos);
  for (std::string_view scheme : {"postgres", "postgresql"}) {
    const std::string variant = fmt::format("{}{}", scheme, url.substr(scheme_end));
    auto conn = ConnectTo(variant);
    CHECK(conn->engine() == DbEngine::kPostgres);
    CHECK(Run(*conn, "SELECT 1").rows.at(0).GetInt(0) == 1);
  }
}

TEST_CASE("OpenPostgresConnection: a port where nothing listens is Unavailable", "[pg]") {
  int port = 0;
  {
    SilentServer unused;  // bound and closed again: nothing listens there now
    port = unused.port();
  }
  const std::string password = "s3cr3t-Pa55word";
  for (const std::string& url :
       {fmt::format("postgresql://ventros:{}@127.0.0.1:{}/crm", password, port),
        fmt::format("postgres://ventros@127.0.0.1:{}/crm?password={}", port, password)}) {
    auto conn = OpenPostgresConnection(url, kConnectTimeout);
    REQUIRE_FALSE(conn.ok());
    CHECK(conn.status().code() == StatusCode::kUnavailable);
    CHECK_THAT(conn.status().message(), !Catch::Contains(password) && Catch::Contains("***") &&
                                            Catch::Contains(std::to_string(port)));

    auto db = Database::Open({.url = url});
    REQUIRE_FALSE(db.ok());
    CHECK(db.status().code() == StatusCode::kUnavailable);
    CHECK_THAT(db.status().message(), !Catch::Contains(password));
  }
}

TEST_CASE("OpenPostgresConnection: gives up after connect_timeout when the server is silent",
          "[pg]") {
  SilentServer silent;
  silent.Listen();
  const auto start = std::chrono::steady_clock::now();
  // libpq rounds the timeout up to whole seconds, and to at least 2.
  auto conn = OpenPostgresConnection(
      fmt::format("postgresql://ventros:pw@127.0.0.1:{}/crm", silent.port()), 1000ms);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(conn.ok());
  CHECK(conn.status().code() == StatusCode::kUnavailable);
  CHECK(elapsed < 10s);
}

TEST_CASE("PostgresConnection: notices a session the server terminated", "[pg]") {
  TestSchema schema;
  auto victim = schema.Connect();
  CHECK(victim->Healthy());
  KillBackend(schema.admin(), BackendPid(*victim));

  CHECK(WaitFor([&] { return !victim->Healthy(); }));
  auto query = victim->Query("SELECT 1");
  REQUIRE_FALSE(query.ok());
  CHECK(query.status().code() == StatusCode::kUnavailable);
  CHECK(victim->Rollback().code() == StatusCode::kUnavailable);
  CHECK(victim->Begin().code() == StatusCode::kUnavailable);
  CHECK(victim->ExecScript("SELECT 1").code() == StatusCode::kUnavailable);
}

TEST_CASE("PostgresConnection: a query on a terminated session is Unavailable", "[pg]") {
  TestSchema schema;
  auto victim = schema.Connect();
  const int64_t pid = BackendPid(*victim);
  KillBackend(schema.admin(), pid);
  // No Healthy() first: the query itself runs into the closed connection.
  auto query = victim->Query("SELECT $1::int8", {pid});
  REQUIRE_FALSE(query.ok());
  CHECK(query.status().code() == StatusCode::kUnavailable);
  CHECK_FALSE(victim->Healthy());
}

TEST_CASE("Database: pools PostgreSQL connections", "[pg]") {
  TestSchema schema;
  auto db = Database::Open(
      {.url = schema.url(), .pool_size = 2, .acquire_timeout = 200ms, .connect_timeout = 5s});
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  Database& pool = **db;
  CHECK(pool.engine() == DbEngine::kPostgres);
  CHECK(pool.Ping().ok());

  PoolStats stats = pool.Stats();
  CHECK(stats.size == 1);
  CHECK(stats.in_use == 0);
  CHECK(stats.max_size == 2);
  {
    auto a = pool.Acquire();
    REQUIRE(a.ok());
    auto b = pool.Acquire();
    REQUIRE(b.ok());
    CHECK(BackendPid(**a) != BackendPid(**b));
    stats = pool.Stats();
    CHECK(stats.size == 2);
    CHECK(stats.in_use == 2);

    auto c = pool.Acquire();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == StatusCode::kUnavailable);
    CHECK(pool.Stats().timeouts_total == 1);
  }
  stats = pool.Stats();
  CHECK(stats.size == 2);
  CHECK(stats.in_use == 0);
  CHECK(stats.acquired_total >= 3);
}

TEST_CASE("Database: replaces a pooled connection the server terminated", "[pg]") {
  TestSchema schema;
  auto db = Database::Open({.url = schema.url(), .pool_size = 1, .acquire_timeout = 1s});
  INFO(db.status().ToString());
  REQUIRE(db.ok());
  Database& pool = **db;

  int64_t old_pid = 0;
  {
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    old_pid = BackendPid(**conn);
  }
  KillBackend(schema.admin(), old_pid);  // while the connection sits idle in the pool

  {
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    CHECK((*conn)->Healthy());
    CHECK(BackendPid(**conn) != old_pid);
  }
  PoolStats stats = pool.Stats();
  CHECK(stats.size == 1);
  CHECK(stats.in_use == 0);
  CHECK(pool.Ping().ok());

  SECTION("a connection killed while borrowed is dropped when returned") {
    int64_t pid = 0;
    {
      auto conn = pool.Acquire();
      REQUIRE(conn.ok());
      pid = BackendPid(**conn);
      KillBackend(schema.admin(), pid);
      CHECK((*conn)->Query("SELECT 1").status().code() == StatusCode::kUnavailable);
    }
    CHECK(pool.Stats().size == 0);
    auto conn = pool.Acquire();
    REQUIRE(conn.ok());
    CHECK(BackendPid(**conn) != pid);
  }
}

}  // namespace
}  // namespace ventros::core
