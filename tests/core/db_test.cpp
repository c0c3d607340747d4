// The database interface, the same cases on SQLite and PostgreSQL.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "support/test_db.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/migrations.hpp"

using namespace ventros::core;
using ventros::testing::TempDir;
using ventros::testing::TestDb;

namespace {
std::string ItemsDdl(DbEngine e) {
  return std::string(
             "CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, data ") +
         (e == DbEngine::kSqlite ? "BLOB" : "BYTEA") + ", note TEXT)";
}
}  // namespace

VENTROS_DB_TEST("Database: values round-trip with $n placeholders", "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
  std::string bytes("a\0b\xff", 4);
  std::string text = "olá \"mundo\" 'quoted' ✓";
  auto ins = (*conn)->Query("INSERT INTO items (id, n, x, data, note) VALUES ($1, $2, $3, $4, $5)",
                            {DbValue(std::string("a")), DbValue(int64_t{-9223372036854775807 - 1}),
                             DbValue(3.25), DbValue(Blob{bytes}), DbValue(text)});
  INFO(ins.status().ToString());
  REQUIRE(ins.ok());
  CHECK(ins->affected_rows == 1);
  REQUIRE((*conn)
              ->Query("INSERT INTO items (id, n, x, data, note) VALUES ($1, $2, NULL, NULL, NULL)",
                      {DbValue(std::string("b")), DbValue(int64_t{9223372036854775807})})
              .ok());
  // Parameters may appear in any order in the SQL text.
  auto rows =
      (*conn)->Query("SELECT id, n, x, data, note FROM items WHERE n > $2 OR id = $1 ORDER BY id",
                     {DbValue(std::string("a")), DbValue(int64_t{0})});
  INFO(rows.status().ToString());
  REQUIRE(rows.ok());
  REQUIRE(rows->rows.size() == 2);
  const auto& a = rows->rows[0];
  CHECK(a.GetText(0) == "a");
  CHECK(a.GetInt(1) == std::numeric_limits<int64_t>::min());
  CHECK(a.GetDouble(2) == 3.25);
  CHECK(a.GetBlob(3) == bytes);
  CHECK(a.GetText(4) == text);
  const auto& b = rows->rows[1];
  CHECK(b.GetInt(1) == std::numeric_limits<int64_t>::max());
  CHECK(b.IsNull(2));
  CHECK_FALSE(b.GetOptText(4).has_value());
  CHECK(rows->columns == std::vector<std::string>{"id", "n", "x", "data", "note"});

  auto upd = (*conn)->Query("UPDATE items SET note = $1", {DbValue(std::string("z"))});
  REQUIRE(upd.ok());
  CHECK(upd->affected_rows == 2);
}

VENTROS_DB_TEST("Database: unique violations are AlreadyExists, bad SQL is an error", "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
  REQUIRE((*conn)->Query("INSERT INTO items (id) VALUES ($1)", {DbValue(std::string("a"))}).ok());
  auto dup = (*conn)->Query("INSERT INTO items (id) VALUES ($1)", {DbValue(std::string("a"))});
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().code() == StatusCode::kAlreadyExists);
  auto bad = (*conn)->Query("SELEC nothing");
  REQUIRE_FALSE(bad.ok());
  // The connection stays usable after errors.
  auto ok = (*conn)->Query("SELECT COUNT(*) FROM items");
  REQUIRE(ok.ok());
  CHECK(ok->rows[0].GetInt(0) == 1);
}

VENTROS_DB_TEST("Database: a query holding more than one statement is refused", "[db]") {
  // Regression: SQLite ran the first statement and silently ignored the rest.
  TestDb tdb(engine);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
  auto two =
      (*conn)->Query("INSERT INTO items (id) VALUES ('a'); INSERT INTO items (id) VALUES ('b')");
  REQUIRE_FALSE(two.ok());
  // PostgreSQL reports it as a syntax error (42601, Internal); SQLite as the caller's mistake.
  if (engine == DbEngine::kSqlite) CHECK(two.status().code() == StatusCode::kInvalidArgument);
  auto with_param = (*conn)->Query("SELECT $1; DELETE FROM items", {DbValue(std::string("x"))});
  REQUIRE_FALSE(with_param.ok());
  if (engine == DbEngine::kSqlite) {
    CHECK(with_param.status().code() == StatusCode::kInvalidArgument);
  }
  auto garbage = (*conn)->Query("SELECT 1; this is not sql");
  REQUIRE_FALSE(garbage.ok());
  // Nothing of them ran.
  auto count = (*conn)->Query("SELECT COUNT(*) FROM items");
  REQUIRE(count.ok());
  CHECK(count->rows[0].GetInt(0) == 0);
  // A trailing semicolon, whitespace and comments are one statement.
  auto one = (*conn)->Query("INSERT INTO items (id) VALUES ($1); -- done\n /* really */ ;\n",
                            {DbValue(std::string("c"))});
  INFO(one.status().ToString());
  CHECK(one.ok());
  auto after = (*conn)->Query("SELECT COUNT(*) FROM items");
  REQUIRE(after.ok());
  CHECK(after->rows[0].GetInt(0) == 1);
}

VENTROS_DB_TEST("Transaction: rolls back unless committed", "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
  {
    auto tx = Transaction::Begin(**conn);
    REQUIRE(tx.ok());
    REQUIRE((*conn)->Query("INSERT INTO items (id) VALUES ('dropped')").ok());
  }  // no commit
  {
    auto tx = Transaction::Begin(**conn);
    REQUIRE(tx.ok());
    REQUIRE((*conn)->Query("INSERT INTO items (id) VALUES ('kept')").ok());
    REQUIRE(tx->Commit().ok());
  }
  auto rows = (*conn)->Query("SELECT id FROM items ORDER BY id");
  REQUIRE(rows.ok());
  REQUIRE(rows->rows.size() == 1);
  CHECK(rows->rows[0].GetText(0) == "kept");
}

VENTROS_DB_TEST("Database: prepared statements are reused and survive schema changes", "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open(1);
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
  for (int i = 0; i < 200; ++i) {
    REQUIRE((*conn)
                ->Query("INSERT INTO items (id, n) VALUES ($1, $2)",
                        {DbValue(fmt::format("k{}", i)), DbValue(int64_t{i})})
                .ok());
  }
  auto sum = (*conn)->Query("SELECT SUM(n) FROM items");
  REQUIRE(sum.ok());
  CHECK(sum->rows[0].GetInt(0) == 19900);
  REQUIRE((*conn)->Query("SELECT * FROM items WHERE id = $1", {DbValue(std::string("k1"))}).ok());
  REQUIRE((*conn)->ExecScript("ALTER TABLE items ADD COLUMN extra TEXT").ok());
  auto after = (*conn)->Query("SELECT * FROM items WHERE id = $1", {DbValue(std::string("k1"))});
  INFO(after.status().ToString());
  REQUIRE(after.ok());
  CHECK(after->columns.size() == 6);
}

VENTROS_DB_TEST("Pool: borrows, returns, waits and times out", "[db]") {
  TestDb tdb(engine);
  DatabaseOptions opts;
  opts.url = tdb.url();
  opts.pool_size = 2;
  opts.acquire_timeout = std::chrono::milliseconds(100);
  auto db = Database::Open(opts);
  REQUIRE(db.ok());
  {
    auto a = (*db)->Acquire();
    auto b = (*db)->Acquire();
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK((*db)->Stats().in_use == 2);
    auto c = (*db)->Acquire();
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == StatusCode::kUnavailable);
    CHECK((*db)->Stats().timeouts_total == 1);
  }
  CHECK((*db)->Stats().in_use == 0);
  CHECK((*db)->Stats().size == 2);
  CHECK((*db)->Ping().ok());

  // A waiter gets the connection another thread returns. The acquire timeout is far longer than
  // any scheduling delay, so the waiter never gives up first, however slow the machine.
  opts.acquire_timeout = std::chrono::seconds(30);
  auto patient = Database::Open(opts);
  REQUIRE(patient.ok());
  auto held = (*patient)->Acquire();
  auto held2 = (*patient)->Acquire();
  REQUIRE(held.ok());
  REQUIRE(held2.ok());
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // most likely after the wait began
    held = PooledConnection();
  });
  auto waited = (*patient)->Acquire();
  t.join();
  CHECK(waited.ok());
  CHECK((*patient)->Stats().timeouts_total == 0);
  waited = PooledConnection();
  CHECK((*patient)->Ping().ok());
}

TEST_CASE("Database: URLs are parsed and passwords never shown", "[db]") {
  CHECK(RedactDbUrl("postgres://ventros:s3cret@db:5432/v") == "postgres://ventros:***@db:5432/v");
  CHECK(RedactDbUrl("postgresql://u@h/d?password=s3cret&sslmode=require") ==
        "postgresql://u@h/d?password=***&sslmode=require");
  CHECK(RedactDbUrl("sqlite:///var/lib/v.db") == "sqlite:///var/lib/v.db");
  CHECK(EngineFromUrl("sqlite::memory:").value() == DbEngine::kSqlite);
  CHECK(EngineFromUrl("postgresql://x").value() == DbEngine::kPostgres);
  auto bad = EngineFromUrl("mysql://u:pw@h/d");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("pw") == std::string::npos);
}

TEST_CASE("Database: passwords holding '/', '@' or '?' are redacted whole", "[db]") {
  // Regression: the userinfo ended at the first '/', so these passwords were shown in full.
  CHECK(RedactDbUrl("postgres://u:se/cret@127.0.0.1:1/db") == "postgres://u:***@127.0.0.1:1/db");
  CHECK(RedactDbUrl("postgres://u:p@ss@db:5432/v") == "postgres://u:***@db:5432/v");
  CHECK(RedactDbUrl("postgres://u:a/b@c/d@db/v?sslmode=require") ==
        "postgres://u:***@db/v?sslmode=require");
  CHECK(RedactDbUrl("postgres://u:se?cret@db/v") == "postgres://u:***@db/v");
  // An '@' in the query is not userinfo.
  CHECK(RedactDbUrl("postgres://db/v?application_name=a@b") ==
        "postgres://db/v?application_name=a@b");
  CHECK(RedactDbUrl("postgres://u:s3cret@db/v?application_name=a@b") ==
        "postgres://u:***@db/v?application_name=a@b");
  // Every password parameter, not only the first.
  CHECK(RedactDbUrl("postgres://db/v?password=one&password=two") ==
        "postgres://db/v?password=***&password=***");
  CHECK(RedactDbUrl("postgres://u@db/v") == "postgres://u@db/v");
}

TEST_CASE("Database: unreachable PostgreSQL never shows a password holding '/', '@' or '?'",
          "[db][pg]") {
  // libpq ends the userinfo at the first '/' or '@' and would quote the rest of such a password
  // as a host or port in its error; those URLs are refused before libpq sees them.
  struct Case {
    const char* url;
    StatusCode code;
  };
  for (const Case& c :
       {Case{"postgres://ventros:pa55/w0rd@127.0.0.1:1/ventros", StatusCode::kInvalidArgument},
        Case{"postgres://ventros:pa55@w0rd@127.0.0.1:1/ventros", StatusCode::kInvalidArgument},
        Case{"postgres://ventros:pa55?w0rd@127.0.0.1:1/ventros", StatusCode::kUnavailable}}) {
    DatabaseOptions opts;
    opts.url = c.url;
    opts.connect_timeout = std::chrono::milliseconds(1000);
    auto db = Database::Open(opts);
    REQUIRE_FALSE(db.ok());
    INFO(db.status().message());
    CHECK(db.status().code() == c.code);
    CHECK_THAT(db.status().message(),
               Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
    CHECK(db.status().message().find("pa55") == std::string::npos);
    CHECK(db.status().message().find("w0rd") == std::string::npos);
  }
}

TEST_CASE("Database: SQLite in memory and a missing directory", "[db][sqlite]") {
  DatabaseOptions opts;
  opts.url = "sqlite::memory:";
  auto db = Database::Open(opts);
  REQUIRE(db.ok());
  CHECK((*db)->Stats().max_size == 1);
  CHECK((*db)->Ping().ok());
  opts.url = "sqlite:///nonexistent-dir-xyz/v.db";
  auto missing = Database::Open(opts);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(missing.status().message(), Catch::Contains("nonexistent-dir-xyz"));
}

TEST_CASE("Database: unreachable PostgreSQL names the URL without its password", "[db][pg]") {
  DatabaseOptions opts;
  opts.url = "postgres://ventros:hunter2@127.0.0.1:1/ventros";
  opts.connect_timeout = std::chrono::milliseconds(1000);
  auto db = Database::Open(opts);
  REQUIRE_FALSE(db.ok());
  CHECK(db.status().code() == StatusCode::kUnavailable);
  CHECK_THAT(db.status().message(), Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
  CHECK(db.status().message().find("hunter2") == std::string::npos);
}

VENTROS_DB_TEST("Pool: a transaction left open is rolled back before the connection is reused",
                "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open(1);
  {
    auto conn = db->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->ExecScript(ItemsDdl(engine)).ok());
    REQUIRE((*conn)->Begin().ok());
    REQUIRE((*conn)->Query("INSERT INTO items (id) VALUES ('leaked')").ok());
    CHECK((*conn)->InTransaction());
  }  // returned with the transaction open
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  CHECK_FALSE((*conn)->InTransaction());
  auto rows = (*conn)->Query("SELECT COUNT(*) FROM items");
  REQUIRE(rows.ok());
  CHECK(rows->rows[0].GetInt(0) == 0);
}

TEST_CASE("Database: SQLite synchronous mode follows the option", "[db][sqlite]") {
  TestDb tdb(DbEngine::kSqlite);
  for (bool full : {false, true}) {
    DatabaseOptions opts;
    opts.url = tdb.url();
    opts.sqlite_synchronous_full = full;
    auto db = Database::Open(opts);
    REQUIRE(db.ok());
    auto conn = (*db)->Acquire();
    REQUIRE(conn.ok());
    auto mode = (*conn)->Query("PRAGMA synchronous");
    REQUIRE(mode.ok());
    CHECK(mode->rows[0].GetInt(0) == (full ? 2 : 1));  // FULL = 2, NORMAL = 1
  }
}

VENTROS_DB_TEST("Database: long IN lists bind every value, and many distinct statements run",
                "[db]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  // 1,500 placeholders: values past $1000 must bind (they once bound NULL on SQLite, silently).
  std::vector<DbValue> params;
  std::string in;
  for (int i = 1; i <= 1500; ++i) {
    params.emplace_back(int64_t{i});
    in += fmt::format("{}${}", i > 1 ? ", " : "", i);
  }
  auto r = (*conn)->Query(
      fmt::format("SELECT COUNT(*) FROM (SELECT 1 AS x) t WHERE 1500 IN ({})", in), params);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->rows[0].GetInt(0) == 1);
  // More distinct statements than the statement cache holds: all still answer.
  for (int n = 1; n <= 700; ++n) {
    auto q = (*conn)->Query(fmt::format("SELECT {} + $1", n), {DbValue(int64_t{1})});
    REQUIRE(q.ok());
    CHECK(q->rows[0].GetInt(0) == n + 1);
  }
}

TEST_CASE("Database: SQLite checkpoints run on their own thread, and committers never do them",
          "[db][sqlite]") {
  TempDir dir;
  std::string path = dir.path() + "/c.db";
  auto checkpointer = std::make_shared<SqliteCheckpointer>(path, nullptr, 100);
  auto conn =
      OpenSqliteConnection(path, std::chrono::milliseconds(1000), nullptr, false, checkpointer);
  REQUIRE(conn.ok());
  auto autocheckpoint = (*conn)->Query("PRAGMA wal_autocheckpoint");
  REQUIRE(autocheckpoint.ok());
  CHECK(autocheckpoint->rows[0].GetInt(0) == 0);  // never on the committing thread
  REQUIRE((*conn)->ExecScript("CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)").ok());
  // About 200 pages per commit: past the threshold after the first one.
  std::string blob(800 * 1024, 'x');
  for (int i = 0; i < 5; ++i) {
    REQUIRE((*conn)->Query("INSERT INTO big (data) VALUES ($1)", {DbValue(Blob{blob})}).ok());
  }
  REQUIRE(ventros::testing::Eventually([&] { return checkpointer->checkpoints() >= 1; }));
  // The rows reached the database file itself, which stays small when nothing checkpoints.
  REQUIRE(
      ventros::testing::Eventually([&] { return std::filesystem::file_size(path) > 800u * 1024; }));
  // Below the threshold nothing is asked for.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int64_t before = checkpointer->checkpoints();
  REQUIRE((*conn)->Query("INSERT INTO big (data) VALUES ($1)", {DbValue(Blob{"y"})}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(checkpointer->checkpoints() == before);
}

TEST_CASE("Database: a SQLite file database checkpoints in the background", "[db][sqlite]") {
  TestDb tdb(DbEngine::kSqlite);
  auto db = tdb.Open();
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  auto autocheckpoint = (*conn)->Query("PRAGMA wal_autocheckpoint");
  REQUIRE(autocheckpoint.ok());
  CHECK(autocheckpoint->rows[0].GetInt(0) == 0);
}

TEST_CASE("Database: a SQLite log grown past twice the threshold starts over at the next commit",
          "[db][sqlite]") {
  TempDir dir;
  std::string path = dir.path() + "/c.db";
  auto writer = std::make_shared<SqliteWriterLock>();
  auto checkpointer = std::make_shared<SqliteCheckpointer>(path, writer, 100);
  auto conn =
      OpenSqliteConnection(path, std::chrono::milliseconds(1000), writer, false, checkpointer);
  REQUIRE(conn.ok());
  REQUIRE((*conn)->ExecScript("CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)").ok());
  // About 300 pages in one commit: a passive copy, then the short one under the write lock.
  REQUIRE(
      (*conn)
          ->Query("INSERT INTO big (data) VALUES ($1)", {DbValue(Blob{std::string(1200000, 'x')})})
          .ok());
  REQUIRE(ventros::testing::Eventually([&] { return checkpointer->checkpoints() >= 2; }));
  REQUIRE((*conn)->Query("INSERT INTO big (data) VALUES ($1)", {DbValue(Blob{"y"})}).ok());
  // The log holds only the last commit's pages.
  auto log = (*conn)->Query("PRAGMA wal_checkpoint(PASSIVE)");
  REQUIRE(log.ok());
  CHECK(log->rows[0].GetInt(1) < 10);
}
