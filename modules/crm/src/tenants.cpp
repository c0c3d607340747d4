#include "ventros/crm/tenants.hpp"

#include <fmt/format.h>

#include "ventros/core/crypto.hpp"

namespace ventros::crm {

using core::DbValue;

namespace {

constexpr size_t kMaxNameLength = 200;
constexpr std::string_view kKeyPrefix = "vt_";
constexpr size_t kKeyRandomChars = 40;       // ~238 bits
constexpr size_t kVisiblePrefixLength = 11;  // "vt_" + 8
// last_used_at is refreshed at most this often per key, so authentication stays a read.
constexpr int64_t kLastUsedResolutionMs = 60'000;

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

Result<std::string> ValidName(std::string_view raw, std::string_view what, bool required) {
  std::string name = Trim(raw);
  if (name.empty() && required) {
    return Status::InvalidArgument(fmt::format("{} must not be empty", what));
  }
  if (name.size() > kMaxNameLength) {
    return Status::InvalidArgument(
        fmt::format("{} is too long ({} bytes, at most {})", what, name.size(), kMaxNameLength));
  }
  for (unsigned char c : name) {
    if (c < 0x20) return Status::InvalidArgument(fmt::format("{} has control characters", what));
  }
  return name;
}

ApiKey KeyFromRow(const core::DbRow& r) {
  ApiKey k;
  k.id = ApiKeyId(r.GetText(0));
  k.tenant_id = TenantId(r.GetText(1));
  k.name = r.GetText(2);
  k.role = core::ParseRole(r.GetText(3)).value_or(core::Role::kReadonly);
  k.prefix = r.GetText(4);
  k.created_at = r.GetInt(5);
  k.last_used_at = r.GetOptInt(6);
  k.revoked_at = r.GetOptInt(7);
  return k;
}

constexpr const char* kKeyColumns =
    "id, tenant_id, name, role, prefix, created_at, last_used_at, revoked_at";

// Serialises first-start bootstrap across instances sharing one PostgreSQL database.
constexpr int64_t kDefaultTenantLockKey = 7420118;

// Inserts the tenant row on `conn`, inside the caller's transaction. `name` is already valid.
Result<Tenant> InsertTenant(core::Connection& conn, const core::Clock& clock,
                            const std::string& name) {
  Tenant t{TenantId(core::NewUuidV7(clock)), name, clock.NowMillis()};
  auto r =
      conn.Query("INSERT INTO tenants (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
                 {DbValue(t.id.str()), DbValue(t.name), DbValue(t.created_at)});
  if (!r.ok()) return r.status();
  return t;
}

}  // namespace

Result<CreatedApiKey> TenantService::InsertKey(core::Connection& conn, const TenantId& tenant,
                                               core::Role role, std::string_view raw_name) {
  VENTROS_ASSIGN_OR_RETURN(std::string name, ValidName(raw_name, "api key name", false));
  CreatedApiKey out;
  out.secret = std::string(kKeyPrefix) + core::RandomBase62(kKeyRandomChars);
  out.key.id = ApiKeyId(core::NewUuidV7(clock_));
  out.key.tenant_id = tenant;
  out.key.name = name;
  out.key.role = role;
  out.key.prefix = out.secret.substr(0, kVisiblePrefixLength);
  out.key.created_at = clock_.NowMillis();
  auto r = conn.Query(
      "INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {DbValue(out.key.id.str()), DbValue(tenant.str()), DbValue(name),
       DbValue(std::string(core::RoleName(role))), DbValue(out.key.prefix),
       DbValue(core::Sha256Hex(out.secret)), DbValue(out.key.created_at)});
  if (!r.ok()) return r.status();
  return out;
}

Result<std::pair<Tenant, CreatedApiKey>> TenantService::CreateTenant(std::string_view raw_name) {
  VENTROS_ASSIGN_OR_RETURN(std::string name, ValidName(raw_name, "tenant name", true));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(Tenant t, InsertTenant(*conn, clock_, name));
  VENTROS_ASSIGN_OR_RETURN(CreatedApiKey key, InsertKey(*conn, t.id, core::Role::kAdmin, "admin"));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  return std::make_pair(std::move(t), std::move(key));
}

Result<std::vector<Tenant>> TenantService::ListTenants() {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto rows,
                           conn->Query("SELECT id, name, created_at FROM tenants ORDER BY id"));
  std::vector<Tenant> out;
  for (const auto& r : rows.rows)
    out.push_back({TenantId(r.GetText(0)), r.GetText(1), r.GetInt(2)});
  return out;
}

Result<Tenant> TenantService::GetTenant(const TenantId& tenant) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto rows,
                           conn->Query("SELECT id, name, created_at FROM tenants WHERE id = $1",
                                       {DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("tenant {} not found", tenant.str()));
  const auto& r = rows.rows[0];
  return Tenant{TenantId(r.GetText(0)), r.GetText(1), r.GetInt(2)};
}

Result<std::optional<std::pair<Tenant, CreatedApiKey>>> TenantService::EnsureDefaultTenant(
    std::string_view raw_name) {
  using Created = std::optional<std::pair<Tenant, CreatedApiKey>>;
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  // The count and the insert share one transaction that instances starting together take in
  // turn, so exactly one of them creates the tenant. SQLite: BEGIN IMMEDIATE holds the write
  // lock. PostgreSQL: READ COMMITTED would let both count zero, hence the advisory lock (released
  // at commit or rollback).
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  if (conn->engine() == core::DbEngine::kPostgres) {
    VENTROS_ASSIGN_OR_RETURN(auto locked, conn->Query("SELECT pg_advisory_xact_lock($1)",
                                                      {DbValue(kDefaultTenantLockKey)}));
    (void)locked;
  }
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT COUNT(*) FROM tenants"));
  if (rows.rows[0].GetInt(0) > 0) return Created();
  VENTROS_ASSIGN_OR_RETURN(std::string name, ValidName(raw_name, "tenant name", true));
  VENTROS_ASSIGN_OR_RETURN(Tenant t, InsertTenant(*conn, clock_, name));
  VENTROS_ASSIGN_OR_RETURN(CreatedApiKey key, InsertKey(*conn, t.id, core::Role::kAdmin, "admin"));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  return Created(std::make_pair(std::move(t), std::move(key)));
}

Result<CreatedApiKey> TenantService::CreateApiKey(const TenantId& tenant, core::Role role,
                                                  std::string_view name) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT 1 FROM tenants WHERE id = $1", {DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("tenant {} not found", tenant.str()));
  return InsertKey(*conn, tenant, role, name);
}

Result<std::vector<ApiKey>> TenantService::ListApiKeys(const TenantId& tenant) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM api_keys WHERE tenant_id = $1 ORDER BY id",
                                         kKeyColumns),
                             {DbValue(tenant.str())}));
  std::vector<ApiKey> out;
  for (const auto& r : rows.rows) out.push_back(KeyFromRow(r));
  return out;
}

Result<ApiKey> TenantService::RevokeApiKey(const TenantId& tenant, const ApiKeyId& key) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  if (conn->engine() == core::DbEngine::kPostgres) {
    // Revokes of one tenant's keys take turns: otherwise two concurrent revokes of its last two
    // admin keys would each count the other as still active. (SQLite: BEGIN IMMEDIATE already
    // serialises writers.)
    VENTROS_ASSIGN_OR_RETURN(
        auto locked,
        conn->Query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", {DbValue(tenant.str())}));
    (void)locked;
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM api_keys WHERE id = $1 AND tenant_id = $2",
                                         kKeyColumns),
                             {DbValue(key.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("api key {} not found", key.str()));
  ApiKey k = KeyFromRow(rows.rows[0]);
  if (k.revoked_at) return k;  // revoking twice is harmless
  if (k.role == core::Role::kAdmin) {
    VENTROS_ASSIGN_OR_RETURN(
        auto admins,
        conn->Query("SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND role = 'admin' "
                    "AND revoked_at IS NULL",
                    {DbValue(tenant.str())}));
    if (admins.rows[0].GetInt(0) <= 1) {
      return Status::Conflict(
          "this is the tenant's last active admin key; create another admin key before revoking "
          "it");
    }
  }
  int64_t now = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn->Query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3",
                            {DbValue(now), DbValue(key.str()), DbValue(tenant.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  k.revoked_at = now;
  return k;
}

Result<ApiKey> TenantService::RevokeApiKeyById(const ApiKeyId& key) {
  std::string tenant;
  {
    VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT tenant_id FROM api_keys WHERE id = $1",
                                                    {DbValue(key.str())}));
    if (rows.empty()) return Status::NotFound(fmt::format("api key {} not found", key.str()));
    tenant = rows.rows[0].GetText(0);
  }
  return RevokeApiKey(TenantId(tenant), key);
}

Result<core::Principal> TenantService::Authenticate(std::string_view secret) {
  if (!secret.starts_with(kKeyPrefix) || secret.size() > 256) {
    return Status::Unauthenticated("invalid API key");
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT id, tenant_id, role, last_used_at, revoked_at FROM api_keys "
                             "WHERE key_hash = $1",
                             {DbValue(core::Sha256Hex(secret))}));
  if (rows.empty()) return Status::Unauthenticated("invalid API key");
  const auto& r = rows.rows[0];
  if (!r.IsNull(4)) return Status::Unauthenticated("API key has been revoked");
  core::Principal p;
  p.api_key_id = r.GetText(0);
  p.tenant_id = r.GetText(1);
  p.role = core::ParseRole(r.GetText(2)).value_or(core::Role::kReadonly);
  int64_t now = clock_.NowMillis();
  auto last = r.GetOptInt(3);
  if (!last || now - *last >= kLastUsedResolutionMs) {
    // Best effort: a failed bookkeeping write must not fail the request.
    (void)conn->Query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
                      {DbValue(now), DbValue(p.api_key_id)});
  }
  return p;
}

Result<core::Principal> TenantService::AuthenticateRequest(const core::HttpRequest& request) {
  std::string auth = request.Header("Authorization");
  std::string key;
  if (!auth.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (auth.size() <= kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), auth.begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return Status::Unauthenticated("Authorization header must be 'Bearer <api key>'");
    }
    key = Trim(std::string_view(auth).substr(kBearer.size()));
  } else {
    key = Trim(request.Header("X-Api-Key"));
  }
  if (key.empty()) {
    return Status::Unauthenticated(
        "missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'");
  }
  return Authenticate(key);
}

}  // namespace ventros::crm
