// Migrations on both engines: applied once, recorded with checksums, changed ones refused.

#include "ventros/core/migrations.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "support/test_db.hpp"
#include "ventros/core/clock.hpp"

using namespace ventros::core;
using ventros::testing::TestDb;

VENTROS_DB_TEST("Migrator: applies pending migrations once, in order", "[migrations]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  VirtualClock clock;
  std::vector<EmbeddedFile> files = {
      {"0002_test_more.sql", "ALTER TABLE t_one ADD COLUMN b TEXT;"},
      {"0001_test_one.sql", "CREATE TABLE t_one (a TEXT PRIMARY KEY); INSERT INTO t_one VALUES ('x');"},
  };
  Migrator m(*db, files, clock);
  auto pending = m.CheckCurrent();
  CHECK(pending.code() == StatusCode::kUnavailable);
  auto first = m.Apply();
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(*first == std::vector<std::string>{"0001_test_one.sql", "0002_test_more.sql"});
  auto again = m.Apply();
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK(m.CheckCurrent().ok());
  auto list = m.List();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].applied);
  CHECK((*list)[0].applied_at == clock.NowMillis());

  // A later binary adds a migration: only that one runs.
  files.push_back({"0003_test_third.sql", "CREATE TABLE t_three (id TEXT);"});
  Migrator later(*db, files, clock);
  auto third = later.Apply();
  REQUIRE(third.ok());
  CHECK(*third == std::vector<std::string>{"0003_test_third.sql"});
}

VENTROS_DB_TEST("Migrator: a changed applied migration refuses start", "[migrations]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  VirtualClock clock;
  Migrator m(*db, {{"0001_test_one.sql", "CREATE TABLE t_one (a TEXT);"}}, clock);
  REQUIRE(m.Apply().ok());
  Migrator changed(*db, {{"0001_test_one.sql", "CREATE TABLE t_one (a TEXT, b TEXT);"}}, clock);
  auto r = changed.Apply();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("0001_test_one.sql was changed"));
  CHECK_FALSE(changed.CheckCurrent().ok());
  // An unknown applied migration (written by a newer binary) is refused too.
  Migrator older(*db, {}, clock);
  auto unknown = older.Apply();
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("newer version"));
}

VENTROS_DB_TEST("Migrator: a failing migration leaves nothing half applied", "[migrations]") {
  TestDb tdb(engine);
  auto db = tdb.Open();
  VirtualClock clock;
  Migrator m(*db,
             {{"0001_test_ok.sql", "CREATE TABLE t_ok (a TEXT);"},
              {"0002_test_bad.sql", "CREATE TABLE t_bad (a TEXT); THIS IS NOT SQL;"}},
             clock);
  auto r = m.Apply();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("0002_test_bad.sql"));
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  auto applied = (*conn)->Query("SELECT version FROM schema_migrations ORDER BY version");
  REQUIRE(applied.ok());
  REQUIRE(applied->rows.size() == 1);
  CHECK(applied->rows[0].GetText(0) == "0001");
  // t_bad was rolled back with its migration.
  CHECK_FALSE((*conn)->Query("SELECT * FROM t_bad").ok());
}

VENTROS_DB_TEST("Migrator: the shipped migrations apply on both engines", "[migrations]") {
  TestDb tdb(engine);
  auto db = tdb.OpenMigrated();
  VirtualClock clock;
  Migrator m(*db, Migrator::EmbeddedFor(engine), clock);
  CHECK(m.CheckCurrent().ok());
  CHECK(Migrator::EmbeddedFor(DbEngine::kSqlite).size() ==
        Migrator::EmbeddedFor(DbEngine::kPostgres).size());
  for (size_t i = 0; i < Migrator::EmbeddedFor(DbEngine::kSqlite).size(); ++i) {
    // Both engines carry the same migrations under the same names.
    CHECK(Migrator::EmbeddedFor(DbEngine::kSqlite)[i].name ==
          Migrator::EmbeddedFor(DbEngine::kPostgres)[i].name);
  }
}

VENTROS_DB_TEST("Migrator: two files with the same version are an error naming both",
                "[migrations]") {
  // Regression: the second file of a version was silently never applied.
  TestDb tdb(engine);
  auto db = tdb.Open();
  VirtualClock clock;
  Migrator m(*db,
             {{"0002_crm_second.sql", "CREATE TABLE t_b (a TEXT);"},
              {"0001_crm_first.sql", "CREATE TABLE t_a (a TEXT);"},
              {"0001_waha_other.sql", "CREATE TABLE t_c (a TEXT);"}},
             clock);
  auto applied = m.Apply();
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(applied.status().message(), Catch::Contains("0001_crm_first.sql"));
  CHECK_THAT(applied.status().message(), Catch::Contains("0001_waha_other.sql"));
  auto list = m.List();
  REQUIRE_FALSE(list.ok());
  CHECK(list.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(list.status().message(), Catch::Contains("0001_waha_other.sql"));
  Status current = m.CheckCurrent();
  CHECK(current.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(current.message(), Catch::Contains("0001_crm_first.sql"));
  // Nothing was applied.
  auto conn = db->Acquire();
  REQUIRE(conn.ok());
  CHECK_FALSE((*conn)->Query("SELECT * FROM t_a").ok());
  CHECK_FALSE((*conn)->Query("SELECT * FROM t_b").ok());
}

namespace {
// A clock that, the first time it is read, reports it and then waits to be released. Apply reads
// the clock inside a migration's transaction, so this holds the migration open.
class PausingClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    if (!paused_.exchange(true)) {
      reached_.set_value();
      released_.wait();
    }
    return 1767225600000;
  }
  int64_t MonotonicMicros() const override { return 0; }
  void WaitReached() { reached_future_.wait(); }
  void Release() { release_.set_value(); }

 private:
  mutable std::atomic<bool> paused_{false};
  mutable std::promise<void> reached_;
  std::future<void> reached_future_ = reached_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};
}  // namespace

TEST_CASE("Migrator: concurrent migrate on one SQLite file applies each migration once",
          "[migrations][sqlite]") {
  // Regression: the second process read the applied list before the first committed and then
  // ran the same migration again ("table t_once already exists").
  TestDb tdb(DbEngine::kSqlite);
  auto first_db = tdb.Open();
  auto second_db = tdb.Open();
  const std::vector<EmbeddedFile> files = {
      {"0001_test_once.sql", "CREATE TABLE t_once (a TEXT);"},
      {"0002_test_twice.sql", "CREATE TABLE t_twice (a TEXT);"}};
  VirtualClock clock;
  // Both see schema_migrations from the start, so only the migrations themselves compete. (A
  // connection that has not seen the table yet would wait for the write lock to create it.)
  REQUIRE(Migrator(*first_db, {}, clock).Apply().ok());
  REQUIRE(Migrator(*second_db, {}, clock).Apply().ok());

  PausingClock pausing;
  Migrator first(*first_db, files, pausing);
  auto first_done = std::async(std::launch::async, [&] { return first.Apply(); });
  pausing.WaitReached();  // the first migrator is inside 0001's transaction, not yet committed
  Migrator second(*second_db, files, clock);
  auto second_done = std::async(std::launch::async, [&] { return second.Apply(); });
  // Give the second migrator the chance to read the applied list before the first commits; it
  // then waits for the write lock. (Without this pause the test still passes, it only proves less.)
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  pausing.Release();
  auto a = first_done.get();
  auto b = second_done.get();
  INFO("first: " << a.status().ToString() << "; second: " << b.status().ToString());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->size() + b->size() == 2);  // each migration applied by exactly one of them
  auto conn = first_db->Acquire();
  REQUIRE(conn.ok());
  auto rows = (*conn)->Query("SELECT version FROM schema_migrations ORDER BY version");
  REQUIRE(rows.ok());
  REQUIRE(rows->rows.size() == 2);
  CHECK(Migrator(*first_db, files, clock).CheckCurrent().ok());
}
