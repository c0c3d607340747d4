#pragma once
// Tenants and their API keys. A key is shown once when created; only its SHA-256 hash and a
// visible prefix are stored. The key decides the tenant and the role of every REST call.
//
// Thread-safety: TenantService is stateless apart from its references and may be shared by all
// worker threads. Every call blocks on the database.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/status.hpp"

namespace ventros::crm {

using core::Result;
using core::Status;
using TenantId = core::StrongId<struct TenantTag>;
using ApiKeyId = core::StrongId<struct ApiKeyTag>;

struct Tenant {
  TenantId id;
  std::string name;
  int64_t created_at = 0;
};

struct ApiKey {
  ApiKeyId id;
  TenantId tenant_id;
  std::string name;
  core::Role role = core::Role::kReadonly;
  std::string prefix;  // the first characters of the key, to recognise it in lists
  int64_t created_at = 0;
  std::optional<int64_t> last_used_at;
  std::optional<int64_t> revoked_at;
};

// A key just created: the only moment its secret exists outside the caller.
struct CreatedApiKey {
  ApiKey key;
  std::string secret;
};

class TenantService {
 public:
  TenantService(core::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}

  // Creates a tenant and its first admin key in one transaction.
  Result<std::pair<Tenant, CreatedApiKey>> CreateTenant(std::string_view name);
  Result<std::vector<Tenant>> ListTenants();
  Result<Tenant> GetTenant(const TenantId& tenant);
  // On first start: when no tenant exists, creates one (with its admin key); otherwise nullopt.
  Result<std::optional<std::pair<Tenant, CreatedApiKey>>> EnsureDefaultTenant(
      std::string_view name);

  Result<CreatedApiKey> CreateApiKey(const TenantId& tenant, core::Role role,
                                     std::string_view name);
  Result<std::vector<ApiKey>> ListApiKeys(const TenantId& tenant);
  // Revokes a key of this tenant (NotFound for another tenant's key). Refuses to revoke the
  // tenant's last active admin key (Conflict), which would lock the tenant out.
  Result<ApiKey> RevokeApiKey(const TenantId& tenant, const ApiKeyId& key);
  // Operator path (CLI): the key's tenant is looked up first.
  Result<ApiKey> RevokeApiKeyById(const ApiKeyId& key);

  // Resolves a presented key to its principal; Unauthenticated when unknown or revoked.
  Result<core::Principal> Authenticate(std::string_view secret);
  // Reads the key from "Authorization: Bearer <key>" or "X-Api-Key: <key>".
  Result<core::Principal> AuthenticateRequest(const core::HttpRequest& request);

 private:
  Result<CreatedApiKey> InsertKey(core::Connection& conn, const TenantId& tenant, core::Role role,
                                  std::string_view name);
  core::Database& db_;
  const core::Clock& clock_;
};

// Adds GET /v1/tenant and the /v1/api-keys routes.
void RegisterTenantRoutes(core::Router& router, TenantService& service);

std::string TenantJson(const Tenant& tenant);
std::string ApiKeyJson(const ApiKey& key, const std::string* secret = nullptr);

}  // namespace ventros::crm
