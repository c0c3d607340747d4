#include "ventros/core/migrations.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ventros/core/clock.hpp"
#include "ventros/core/crypto.hpp"

namespace ventros::core {
namespace {

std::string VersionOf(std::string_view name) {
  size_t us = name.find('_');
  return std::string(name.substr(0, us == std::string_view::npos ? name.size() : us));
}

// Several instances may start at once against one PostgreSQL: serialise them.
constexpr int64_t kPgAdvisoryLockKey = 7420117;

// Versions identify migrations in schema_migrations, so two files sharing one would make the
// second invisible. `files` is sorted by name.
Status CheckUniqueVersions(const std::vector<EmbeddedFile>& files) {
  std::map<std::string, std::string_view> seen;
  for (const auto& f : files) {
    auto [it, inserted] = seen.emplace(VersionOf(f.name), f.name);
    if (!inserted) {
      return Status::InvalidArgument(
          fmt::format("migrations {} and {} have the same version {}; give each migration its own "
                      "NNNN prefix",
                      it->second, f.name, it->first));
    }
  }
  return Status::Ok();
}

}  // namespace

Migrator::Migrator(Database& db, std::vector<EmbeddedFile> files, const Clock& clock)
    : db_(db), files_(std::move(files)), clock_(clock) {
  std::sort(files_.begin(), files_.end(),
            [](const EmbeddedFile& a, const EmbeddedFile& b) { return a.name < b.name; });
}

std::vector<EmbeddedFile> Migrator::EmbeddedFor(DbEngine engine) {
  return engine == DbEngine::kSqlite ? EmbeddedsqliteMigrations() : EmbeddedpostgresMigrations();
}

Status Migrator::EnsureTable(Connection& conn) {
  return conn.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version TEXT PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " checksum TEXT NOT NULL,"
      " applied_at BIGINT NOT NULL)");
}

Result<std::vector<MigrationStatus>> Migrator::List() {
  VENTROS_RETURN_IF_ERROR(CheckUniqueVersions(files_));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_RETURN_IF_ERROR(EnsureTable(*conn));
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT version, name, checksum, applied_at "
                                                  "FROM schema_migrations ORDER BY version"));
  struct Applied {
    std::string name, checksum;
    int64_t at;
  };
  std::map<std::string, Applied> applied;
  for (const auto& r : rows.rows) {
    applied[r.GetText(0)] = Applied{r.GetText(1), r.GetText(2), r.GetInt(3)};
  }
  std::vector<MigrationStatus> out;
  for (const auto& f : files_) {
    MigrationStatus s;
    s.version = VersionOf(f.name);
    s.name = std::string(f.name);
    auto it = applied.find(s.version);
    if (it != applied.end()) {
      s.applied = true;
      s.applied_at = it->second.at;
      s.changed = it->second.checksum != Sha256Hex(f.content);
      applied.erase(it);
    }
    out.push_back(std::move(s));
  }
  // Applied by a newer binary: reported as applied with no file here.
  for (auto& [version, a] : applied) {
    MigrationStatus s;
    s.version = version;
    s.name = a.name;
    s.applied = true;
    s.applied_at = a.at;
    out.push_back(std::move(s));
  }
  return out;
}

Status Migrator::Verify(const std::vector<MigrationStatus>& statuses) {
  for (const auto& s : statuses) {
    if (s.changed) {
      return Status::Conflict(fmt::format(
          "migration {} was changed after it was applied (its checksum differs from the one "
          "recorded in schema_migrations); migrations are forward-only: restore the original "
          "file and add a new migration instead",
          s.name));
    }
    bool known = std::any_of(files_.begin(), files_.end(),
                             [&](const EmbeddedFile& f) { return VersionOf(f.name) == s.version; });
    if (!known) {
      return Status::Conflict(fmt::format(
          "the database has migration {} which this binary does not know; it was written by a "
          "newer version of ventros",
          s.name));
    }
  }
  return Status::Ok();
}

Result<std::vector<std::string>> Migrator::Apply() {
  VENTROS_RETURN_IF_ERROR(CheckUniqueVersions(files_));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  bool pg = db_.engine() == DbEngine::kPostgres;
  if (pg) {
    auto locked = conn->Query("SELECT pg_advisory_lock($1)", {DbValue(kPgAdvisoryLockKey)});
    if (!locked.ok()) return locked.status();
  }
  struct Unlock {
    Connection* c;
    bool pg;
    ~Unlock() {
      if (pg) (void)c->Query("SELECT pg_advisory_unlock($1)", {DbValue(kPgAdvisoryLockKey)});
    }
  } unlock{conn.get(), pg};

  VENTROS_RETURN_IF_ERROR(EnsureTable(*conn));
  VENTROS_ASSIGN_OR_RETURN(auto rows,
                           conn->Query("SELECT version, checksum FROM schema_migrations"));
  std::map<std::string, std::string> applied;
  for (const auto& r : rows.rows) applied[r.GetText(0)] = r.GetText(1);

  // Verify everything before changing anything.
  for (const auto& f : files_) {
    auto it = applied.find(VersionOf(f.name));
    if (it != applied.end() && it->second != Sha256Hex(f.content)) {
      return Status::Conflict(fmt::format(
          "migration {} was changed after it was applied (its checksum differs from the one "
          "recorded in schema_migrations); migrations are forward-only: restore the original "
          "file and add a new migration instead",
          f.name));
    }
  }
  for (const auto& [version, checksum] : applied) {
    bool known = std::any_of(files_.begin(), files_.end(),
                             [&](const EmbeddedFile& f) { return VersionOf(f.name) == version; });
    if (!known) {
      return Status::Conflict(fmt::format(
          "the database has migration {} which this binary does not know; it was written by a "
          "newer version of ventros",
          version));
    }
  }

  std::vector<std::string> done;
  for (const auto& f : files_) {
    std::string version = VersionOf(f.name);
    if (applied.count(version)) continue;
    VENTROS_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*conn));
    // SQLite has no advisory lock: another process may have applied this migration since the
    // list was read. The write transaction excludes it now, so look again.
    VENTROS_ASSIGN_OR_RETURN(
        auto again, conn->Query("SELECT checksum FROM schema_migrations WHERE version = $1",
                                {DbValue(version)}));
    if (!again.empty()) {
      if (again.rows[0].GetText(0) != Sha256Hex(f.content)) {
        return Status::Conflict(fmt::format(
            "migration {} was applied meanwhile by another process with a different text", f.name));
      }
      continue;  // the transaction rolls back; nothing was changed
    }
    Status st = conn->ExecScript(f.content);
    if (!st.ok()) return st.WithContext(fmt::format("migration {} failed", f.name));
    auto rec = conn->Query(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
        "VALUES ($1, $2, $3, $4)",
        {DbValue(version), DbValue(std::string(f.name)), DbValue(Sha256Hex(f.content)),
         DbValue(clock_.NowMillis())});
    if (!rec.ok()) return rec.status().WithContext(fmt::format("recording {}", f.name));
    VENTROS_RETURN_IF_ERROR(tx.Commit());
    done.emplace_back(f.name);
  }
  return done;
}

Status Migrator::CheckCurrent() {
  VENTROS_ASSIGN_OR_RETURN(auto statuses, List());
  VENTROS_RETURN_IF_ERROR(Verify(statuses));
  for (const auto& s : statuses) {
    if (!s.applied) return Status::Unavailable(fmt::format("migration {} is pending", s.name));
  }
  return Status::Ok();
}

}  // namespace ventros::core
