#pragma once
// Forward-only schema migrations: migrations/<engine>/NNNN_<module>_<what>.sql, embedded in the
// binary, applied in name order, each in its own transaction, recorded in schema_migrations with
// a SHA-256 checksum. An applied migration whose text changed refuses start.

#include <string>
#include <vector>

#include "ventros/core/db.hpp"
#include "ventros/core/embedded.hpp"

namespace ventros::core {

class Clock;

struct MigrationStatus {
  std::string version;  // "0001"
  std::string name;     // "0001_crm_tenants.sql"
  bool applied = false;
  bool changed = false;  // applied, but the text in this binary differs
  int64_t applied_at = 0;
};

class Migrator {
 public:
  // files: the migrations for db's engine, in any order.
  Migrator(Database& db, std::vector<EmbeddedFile> files, const Clock& clock);
  // The embedded migrations for the database's engine.
  static std::vector<EmbeddedFile> EmbeddedFor(DbEngine engine);

  // Applies pending migrations; returns the names applied. Fails (before applying anything) when
  // an applied migration changed or the database holds a migration this binary does not know.
  Result<std::vector<std::string>> Apply();
  Result<std::vector<MigrationStatus>> List();
  // Ok when every known migration is applied and none changed.
  Status CheckCurrent();

 private:
  Status EnsureTable(Connection& conn);
  Status Verify(const std::vector<MigrationStatus>& statuses);
  Database& db_;
  std::vector<EmbeddedFile> files_;
  const Clock& clock_;
};

}  // namespace ventros::core
