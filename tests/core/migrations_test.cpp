// Migrations on both engines: applied once, recorded with checksums, changed ones refused.

#include <catch2/catch.hpp>

#include "support/test_db.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/migrations.hpp"

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
