// The `ventros` command line. Every verb has --help with an example; verbs that create or list
// take --json. Exit codes: 0 success, 1 failure, 2 usage error; errors go to stderr in one line.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <ostream>

#include "app/app.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/migrations.hpp"
#include "ventros/crm/tenants.hpp"

namespace ventros::app {

namespace {

using core::Status;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct CommonFlags {
  std::string config_path;
  std::string db_url;
};

void AddCommon(CLI::App* cmd, CommonFlags& flags) {
  cmd->add_option("--config", flags.config_path,
                  "Configuration file (default: $VENTROS_CONFIG, else config/ventros.json when "
                  "present)");
  cmd->add_option("--db", flags.db_url,
                  "Database URL, e.g. sqlite://./data/ventros.db or postgres://user@host/db");
}

std::string ResolveConfigPath(const CommonFlags& flags, const std::vector<std::string>& env) {
  if (!flags.config_path.empty()) return flags.config_path;
  for (const auto& e : env) {
    if (e.starts_with("VENTROS_CONFIG=")) return e.substr(15);
  }
  if (std::filesystem::exists("config/ventros.json")) return "config/ventros.json";
  return {};
}

core::Result<core::Config> LoadConfig(const CommonFlags& flags,
                                      const std::vector<std::string>& env,
                                      const std::vector<std::pair<std::string, std::string>>& sets) {
  VENTROS_ASSIGN_OR_RETURN(core::Config config,
                           core::ConfigLoader::Load(ResolveConfigPath(flags, env), env));
  if (!flags.db_url.empty()) {
    VENTROS_RETURN_IF_ERROR(core::ConfigLoader::Set(config, "database.url", flags.db_url));
  }
  for (const auto& [k, v] : sets) VENTROS_RETURN_IF_ERROR(core::ConfigLoader::Set(config, k, v));
  VENTROS_RETURN_IF_ERROR(core::ConfigLoader::Validate(config));
  return config;
}

// Opens the database for an admin verb, applying pending migrations when auto_migrate is on.
core::Result<std::unique_ptr<core::Database>> PrepareDatabase(const core::Config& config) {
  VENTROS_ASSIGN_OR_RETURN(auto db, OpenDatabase(config));
  core::SystemClock clock;
  core::Migrator migrator(*db, core::Migrator::EmbeddedFor(db->engine()), clock);
  if (config.database.auto_migrate) {
    VENTROS_ASSIGN_OR_RETURN(auto applied, migrator.Apply());
    (void)applied;
  } else {
    VENTROS_RETURN_IF_ERROR(
        migrator.CheckCurrent().WithContext("database schema is not current (run `ventros migrate`)"));
  }
  return db;
}

std::string Time(std::optional<int64_t> ms) { return ms ? core::FormatTimestamp(*ms) : "-"; }

class Cli {
 public:
  Cli(std::ostream& out, std::ostream& err, const std::vector<std::string>& env)
      : out_(out), err_(err), env_(env) {}

  int Run(int argc, const char* const* argv) {
    CLI::App app{"Ventros: WhatsApp-first CRM with memory-aware AI agents", "ventros"};
    app.set_version_flag("--version", std::string("ventros 0.1.0"));
    app.require_subcommand(1);
    app.footer(
        "Examples:\n"
        "  ventros serve --db sqlite://./data/ventros.db --listen 127.0.0.1:8080\n"
        "  ventros tenant create \"Acme Ltd\"\n"
        "Run `ventros VERB --help` for each verb's options.");

    std::function<int()> action;

    // serve
    CommonFlags serve_flags;
    std::string listen, modules;
    auto* serve = app.add_subcommand("serve", "Run the HTTP server");
    AddCommon(serve, serve_flags);
    serve->add_option("--listen", listen, "Address to bind, HOST:PORT (port 0 picks a free one)");
    serve->add_option("--modules", modules, "Comma-separated modules to host (default: crm)");
    serve->footer(
        "Example:\n  ventros serve --db sqlite://./data/ventros.db --listen 127.0.0.1:8080");
    serve->callback([&] { action = [&] { return Serve(serve_flags, listen, modules); }; });

    // migrate
    CommonFlags migrate_flags;
    bool migrate_status = false, migrate_json = false;
    auto* migrate = app.add_subcommand("migrate", "Apply pending database migrations");
    AddCommon(migrate, migrate_flags);
    migrate->add_flag("--status", migrate_status, "Only show which migrations are applied");
    migrate->add_flag("--json", migrate_json, "Print JSON");
    migrate->footer(
        "Examples:\n  ventros migrate --db postgres://ventros:secret@127.0.0.1:5432/ventros\n"
        "  ventros migrate --status --json");
    migrate->callback([&] {
      action = [&] { return Migrate(migrate_flags, migrate_status, migrate_json); };
    });

    // tenant
    auto* tenant = app.add_subcommand("tenant", "Create and list tenants");
    tenant->require_subcommand(1);
    tenant->footer("Examples:\n  ventros tenant create \"Acme Ltd\"\n  ventros tenant list --json");
    CommonFlags tc_flags;
    std::string tenant_name;
    bool tc_json = false;
    auto* tenant_create =
        tenant->add_subcommand("create", "Create a tenant and print its admin API key once");
    AddCommon(tenant_create, tc_flags);
    tenant_create->add_option("NAME", tenant_name, "Tenant name")->required();
    tenant_create->add_flag("--json", tc_json, "Print JSON");
    tenant_create->footer("Example:\n  ventros tenant create \"Acme Ltd\" --json");
    tenant_create->callback([&] { action = [&] { return TenantCreate(tc_flags, tenant_name, tc_json); }; });
    CommonFlags tl_flags;
    bool tl_json = false;
    auto* tenant_list = tenant->add_subcommand("list", "List tenants");
    AddCommon(tenant_list, tl_flags);
    tenant_list->add_flag("--json", tl_json, "Print JSON");
    tenant_list->footer("Example:\n  ventros tenant list --db sqlite://./data/ventros.db");
    tenant_list->callback([&] { action = [&] { return TenantList(tl_flags, tl_json); }; });

    // apikey
    auto* apikey = app.add_subcommand("apikey", "Create, list and revoke API keys");
    apikey->require_subcommand(1);
    apikey->footer(
        "Examples:\n  ventros apikey create --tenant TENANT_ID --role agent --name \"Inbox bot\"\n"
        "  ventros apikey list --tenant TENANT_ID\n  ventros apikey revoke KEY_ID");
    CommonFlags ac_flags;
    std::string ac_tenant, ac_role, ac_name;
    bool ac_json = false;
    auto* apikey_create = apikey->add_subcommand("create", "Create an API key (shown once)");
    AddCommon(apikey_create, ac_flags);
    apikey_create->add_option("--tenant", ac_tenant, "Tenant id")->required();
    apikey_create->add_option("--role", ac_role, "admin, agent or readonly")
        ->required()
        ->check(CLI::IsMember({"admin", "agent", "readonly"}));
    apikey_create->add_option("--name", ac_name, "A name to recognise the key by");
    apikey_create->add_flag("--json", ac_json, "Print JSON");
    apikey_create->footer(
        "Example:\n  ventros apikey create --tenant 0193a5c4-... --role readonly --name Grafana");
    apikey_create->callback([&] {
      action = [&] { return ApiKeyCreate(ac_flags, ac_tenant, ac_role, ac_name, ac_json); };
    });
    CommonFlags al_flags;
    std::string al_tenant;
    bool al_json = false;
    auto* apikey_list = apikey->add_subcommand("list", "List a tenant's API keys");
    AddCommon(apikey_list, al_flags);
    apikey_list->add_option("--tenant", al_tenant, "Tenant id")->required();
    apikey_list->add_flag("--json", al_json, "Print JSON");
    apikey_list->footer("Example:\n  ventros apikey list --tenant 0193a5c4-... --json");
    apikey_list->callback([&] { action = [&] { return ApiKeyList(al_flags, al_tenant, al_json); }; });
    CommonFlags ar_flags;
    std::string ar_id;
    bool ar_json = false;
    auto* apikey_revoke = apikey->add_subcommand("revoke", "Revoke an API key");
    AddCommon(apikey_revoke, ar_flags);
    apikey_revoke->add_option("ID", ar_id, "API key id")->required();
    apikey_revoke->add_flag("--json", ar_json, "Print JSON");
    apikey_revoke->footer("Example:\n  ventros apikey revoke 0193a5c4-...");
    apikey_revoke->callback([&] { action = [&] { return ApiKeyRevoke(ar_flags, ar_id, ar_json); }; });

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e, out_, err_) == 0 ? kExitOk : kExitUsage;
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e, out_, err_) == 0 ? kExitOk : kExitUsage;
    } catch (const CLI::CallForVersion& e) {
      out_ << e.what() << "\n";
      return kExitOk;
    } catch (const CLI::ParseError& e) {
      err_ << "error: " << e.what() << " (run with --help for usage)\n";
      return kExitUsage;
    }
    if (!action) {
      err_ << "error: no verb given (run with --help for usage)\n";
      return kExitUsage;
    }
    return action();
  }

 private:
  int Fail(const Status& st) {
    err_ << "error: " << st.message() << "\n";
    return kExitFailure;
  }

  int Serve(const CommonFlags& flags, const std::string& listen, const std::string& modules) {
    std::vector<std::pair<std::string, std::string>> sets;
    if (!listen.empty()) sets.emplace_back("server.listen", listen);
    if (!modules.empty()) sets.emplace_back("modules", modules);
    auto config = LoadConfig(flags, env_, sets);
    if (!config.ok()) return Fail(config.status());
    auto logger = core::MakeLogger(config->log);
    if (!logger.ok()) return Fail(logger.status());
    auto server = Server::Create(*config, *logger, out_);
    if (!server.ok()) return Fail(server.status());
    (*server)->StopOnSignals();
    if (auto st = (*server)->Start(); !st.ok()) return Fail(st);
    (*server)->Wait();
    (*logger)->info("stopped");
    (*logger)->flush();
    return kExitOk;
  }

  int Migrate(const CommonFlags& flags, bool status_only, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    auto db = OpenDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    core::Migrator migrator(**db, core::Migrator::EmbeddedFor((*db)->engine()), clock);
    std::vector<std::string> applied;
    if (!status_only) {
      auto r = migrator.Apply();
      if (!r.ok()) return Fail(r.status());
      applied = *r;
    }
    auto list = migrator.List();
    if (!list.ok()) return Fail(list.status());
    if (json) {
      core::json::array items;
      for (const auto& m : *list) {
        core::json::object o;
        o["version"] = m.version;
        o["name"] = m.name;
        o["applied"] = m.applied;
        o["changed"] = m.changed;
        o["applied_at"] = m.applied ? core::json::value(core::FormatTimestamp(m.applied_at))
                                    : core::json::value(nullptr);
        items.push_back(std::move(o));
      }
      core::json::object o;
      o["database"] = (*db)->redacted_url();
      o["migrations"] = std::move(items);
      core::json::array done;
      for (const auto& a : applied) done.emplace_back(a);
      o["applied_now"] = std::move(done);
      out_ << core::json::serialize(o) << "\n";
    } else {
      if (!status_only) {
        out_ << (applied.empty() ? std::string("Database is up to date.\n")
                                 : fmt::format("Applied {} migration(s).\n", applied.size()));
      }
      for (const auto& m : *list) {
        out_ << fmt::format("{:<40} {}\n", m.name,
                            m.changed    ? "CHANGED after it was applied"
                            : m.applied ? "applied " + core::FormatTimestamp(m.applied_at)
                                        : std::string("pending"));
      }
    }
    return kExitOk;
  }

  int TenantCreate(const CommonFlags& flags, const std::string& name, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    auto db = PrepareDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    crm::TenantService svc(**db, clock);
    auto created = svc.CreateTenant(name);
    if (!created.ok()) return Fail(created.status());
    const auto& [tenant, key] = *created;
    if (json) {
      out_ << fmt::format(R"({{"tenant":{},"api_key":{}}})", crm::TenantJson(tenant),
                          crm::ApiKeyJson(key.key, &key.secret))
           << "\n";
    } else {
      out_ << fmt::format("Created tenant \"{}\" ({}).\nAdmin API key (shown once, store it now): {}\n",
                          tenant.name, tenant.id.str(), key.secret);
    }
    return kExitOk;
  }

  int TenantList(const CommonFlags& flags, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    auto db = PrepareDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    crm::TenantService svc(**db, clock);
    auto list = svc.ListTenants();
    if (!list.ok()) return Fail(list.status());
    if (json) {
      std::string items;
      for (const auto& t : *list) items += (items.empty() ? "" : ",") + crm::TenantJson(t);
      out_ << "{\"items\":[" << items << "]}\n";
    } else {
      out_ << fmt::format("{:<36}  {:<24}  {}\n", "ID", "CREATED", "NAME");
      for (const auto& t : *list) {
        out_ << fmt::format("{:<36}  {:<24}  {}\n", t.id.str(), core::FormatTimestamp(t.created_at),
                            t.name);
      }
    }
    return kExitOk;
  }

  int ApiKeyCreate(const CommonFlags& flags, const std::string& tenant, const std::string& role,
                   const std::string& name, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    if (!core::IsUuid(tenant)) return Fail(Status::NotFound(fmt::format("tenant {} not found", tenant)));
    auto db = PrepareDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    crm::TenantService svc(**db, clock);
    auto created = svc.CreateApiKey(crm::TenantId(tenant), *core::ParseRole(role), name);
    if (!created.ok()) return Fail(created.status());
    if (json) {
      out_ << crm::ApiKeyJson(created->key, &created->secret) << "\n";
    } else {
      out_ << fmt::format("Created {} key {} ({}).\nAPI key (shown once, store it now): {}\n", role,
                          created->key.id.str(), created->key.prefix, created->secret);
    }
    return kExitOk;
  }

  int ApiKeyList(const CommonFlags& flags, const std::string& tenant, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    if (!core::IsUuid(tenant)) return Fail(Status::NotFound(fmt::format("tenant {} not found", tenant)));
    auto db = PrepareDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    crm::TenantService svc(**db, clock);
    if (auto t = svc.GetTenant(crm::TenantId(tenant)); !t.ok()) return Fail(t.status());
    auto keys = svc.ListApiKeys(crm::TenantId(tenant));
    if (!keys.ok()) return Fail(keys.status());
    if (json) {
      std::string items;
      for (const auto& k : *keys) items += (items.empty() ? "" : ",") + crm::ApiKeyJson(k);
      out_ << "{\"items\":[" << items << "]}\n";
    } else {
      out_ << fmt::format("{:<36}  {:<11}  {:<8}  {:<24}  {:<24}  {:<24}  {}\n", "ID", "PREFIX",
                          "ROLE", "CREATED", "LAST USED", "REVOKED", "NAME");
      for (const auto& k : *keys) {
        out_ << fmt::format("{:<36}  {:<11}  {:<8}  {:<24}  {:<24}  {:<24}  {}\n", k.id.str(),
                            k.prefix, core::RoleName(k.role), Time(k.created_at),
                            Time(k.last_used_at), Time(k.revoked_at), k.name);
      }
    }
    return kExitOk;
  }

  int ApiKeyRevoke(const CommonFlags& flags, const std::string& id, bool json) {
    auto config = LoadConfig(flags, env_, {});
    if (!config.ok()) return Fail(config.status());
    if (!core::IsUuid(id)) return Fail(Status::NotFound(fmt::format("api key {} not found", id)));
    auto db = PrepareDatabase(*config);
    if (!db.ok()) return Fail(db.status());
    core::SystemClock clock;
    crm::TenantService svc(**db, clock);
    auto revoked = svc.RevokeApiKeyById(crm::ApiKeyId(id));
    if (!revoked.ok()) return Fail(revoked.status());
    if (json) {
      out_ << crm::ApiKeyJson(*revoked) << "\n";
    } else {
      out_ << fmt::format("Revoked API key {} ({}).\n", revoked->id.str(), revoked->prefix);
    }
    return kExitOk;
  }

  std::ostream& out_;
  std::ostream& err_;
  const std::vector<std::string>& env_;
};

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const std::vector<std::string>& environment) {
  try {
    return Cli(out, err, environment).Run(argc, argv);
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return kExitFailure;
  }
}

}  // namespace ventros::app
