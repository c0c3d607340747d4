// The `ventros` command line. Every verb has --help with an example; verbs that create or list
// take --json. Exit codes: 0 success, 1 failure, 2 usage error; errors go to stderr in one line.

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <ostream>
#include <sstream>

#include "app/app.hpp"
#include "ventros/agents/agents.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/migrations.hpp"
#include "ventros/crm/agents.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/memory/memory.hpp"
#include "ventros/workflows/api.hpp"
#include "ventros/workflows/builtin.hpp"
#include "ventros/workflows/engine.hpp"

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

core::Result<core::Config> LoadConfig(
    const CommonFlags& flags, const std::vector<std::string>& env,
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
    VENTROS_RETURN_IF_ERROR(migrator.CheckCurrent().WithContext(
        "database schema is not current (run `ventros migrate`)"));
  }
  return db;
}

// {"items":[...]} of already-rendered JSON objects, for --json list output.
template <typename List, typename Render>
std::string ItemsJson(const List& list, Render render) {
  std::string out = "{\"items\":[";
  bool first = true;
  for (const auto& item : list) {
    out += first ? "" : ",";
    out += render(item);
    first = false;
  }
  return out + "]}";
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
        "  ventros channel add-waha --tenant TENANT_ID --name Vendas --waha-url "
        "http://127.0.0.1:3000 --waha-api-key KEY --hmac-secret SECRET\n"
        "  ventros events list --consumer waha.sender\n"
        "Run `ventros VERB --help` for each verb's options; settings are in "
        "docs/configuration.md.");

    std::function<int()> action;

    // serve
    CommonFlags serve_flags;
    std::string listen, modules;
    auto* serve = app.add_subcommand("serve", "Run the HTTP server");
    AddCommon(serve, serve_flags);
    serve->add_option("--listen", listen, "Address to bind, HOST:PORT (port 0 picks a free one)");
    serve->add_option("--modules", modules,
                      "Comma-separated modules to host: crm (with the WAHA channel), memory, "
                      "agents (default: all)");
    serve->footer(
        "Example:\n  ventros serve --db sqlite://./data/ventros.db --listen 127.0.0.1:8080\n"
        "Other settings come from the config file or VENTROS_* variables, e.g.\n"
        "  VENTROS_SERVER_PUBLIC_URL=https://crm.example.com   (webhook URLs shown for channels)\n"
        "  VENTROS_EVENTS_RUN_CONSUMERS=false                  (an instance that only stores "
        "webhooks)\n"
        "See docs/configuration.md for every key.");
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
    migrate->callback(
        [&] { action = [&] { return Migrate(migrate_flags, migrate_status, migrate_json); }; });

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
    tenant_create->callback(
        [&] { action = [&] { return TenantCreate(tc_flags, tenant_name, tc_json); }; });
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
    apikey_list->callback(
        [&] { action = [&] { return ApiKeyList(al_flags, al_tenant, al_json); }; });
    CommonFlags ar_flags;
    std::string ar_id;
    bool ar_json = false;
    auto* apikey_revoke = apikey->add_subcommand("revoke", "Revoke an API key");
    AddCommon(apikey_revoke, ar_flags);
    apikey_revoke->add_option("ID", ar_id, "API key id")->required();
    apikey_revoke->add_flag("--json", ar_json, "Print JSON");
    apikey_revoke->footer("Example:\n  ventros apikey revoke 0193a5c4-...");
    apikey_revoke->callback(
        [&] { action = [&] { return ApiKeyRevoke(ar_flags, ar_id, ar_json); }; });

    // channel
    auto* channel = app.add_subcommand("channel", "Add and list WhatsApp (WAHA) channels");
    channel->require_subcommand(1);
    channel->footer(
        "Examples:\n  ventros channel add-waha --tenant TENANT_ID --name Vendas --waha-url "
        "http://127.0.0.1:3000 --waha-api-key KEY --hmac-secret S\n"
        "  ventros channel list --tenant TENANT_ID");
    CommonFlags ch_flags;
    std::string ch_tenant, ch_name, ch_url, ch_key, ch_session = "default", ch_hmac, ch_public;
    bool ch_json = false;
    auto* ch_add = channel->add_subcommand(
        "add-waha", "Add a WAHA channel; prints its id and the webhook URL to paste into WAHA");
    AddCommon(ch_add, ch_flags);
    ch_add->add_option("--tenant", ch_tenant, "Tenant id")->required();
    ch_add->add_option("--name", ch_name, "Channel name")->required();
    ch_add->add_option("--waha-url", ch_url, "WAHA base URL, e.g. http://127.0.0.1:3000")
        ->required();
    ch_add->add_option("--waha-api-key", ch_key, "WAHA API key (X-Api-Key)")->required();
    ch_add->add_option("--session", ch_session, "WAHA session name (default: default)");
    ch_add->add_option("--hmac-secret", ch_hmac, "HMAC key configured in WAHA's webhook");
    ch_add->add_option("--public-url", ch_public,
                       "How WAHA reaches this server (default: http://<server.listen>)");
    ch_add->add_flag("--json", ch_json, "Print JSON");
    ch_add->footer(
        "Example:\n  ventros channel add-waha --tenant 0193a5c4-... --name Vendas --waha-url "
        "http://127.0.0.1:3000 --waha-api-key secret --hmac-secret my-secret-key");
    ch_add->callback([&] {
      action = [&] {
        return ChannelAdd(ch_flags, ch_tenant, ch_name, ch_url, ch_key, ch_session, ch_hmac,
                          ch_public, ch_json);
      };
    });
    CommonFlags cl_flags;
    std::string cl_tenant;
    bool cl_json = false;
    auto* ch_list = channel->add_subcommand("list", "List a tenant's channels");
    AddCommon(ch_list, cl_flags);
    ch_list->add_option("--tenant", cl_tenant, "Tenant id")->required();
    ch_list->add_flag("--json", cl_json, "Print JSON");
    ch_list->footer("Example:\n  ventros channel list --tenant 0193a5c4-... --json");
    ch_list->callback([&] { action = [&] { return ChannelList(cl_flags, cl_tenant, cl_json); }; });

    // contact
    auto* contact = app.add_subcommand("contact", "List contacts");
    contact->require_subcommand(1);
    contact->footer("Example:\n  ventros contact list --tenant TENANT_ID --query leo");
    CommonFlags co_flags;
    std::string co_tenant, co_query;
    int co_limit = 50;
    bool co_json = false;
    auto* co_list = contact->add_subcommand("list", "List a tenant's contacts");
    AddCommon(co_list, co_flags);
    co_list->add_option("--tenant", co_tenant, "Tenant id")->required();
    co_list->add_option("--query", co_query, "Name or phone contains");
    co_list->add_option("--limit", co_limit, "At most this many (1-200)")
        ->check(CLI::Range(1, 200));
    co_list->add_flag("--json", co_json, "Print JSON");
    co_list->footer("Example:\n  ventros contact list --tenant 0193a5c4-... --query 5511 --json");
    co_list->callback([&] {
      action = [&] { return ContactList(co_flags, co_tenant, co_query, co_limit, co_json); };
    });

    // session
    auto* session = app.add_subcommand("session", "List conversations (sessions)");
    session->require_subcommand(1);
    session->footer("Example:\n  ventros session list --tenant TENANT_ID --status active");
    CommonFlags se_flags;
    std::string se_tenant, se_status;
    int se_limit = 50;
    bool se_json = false;
    auto* se_list = session->add_subcommand("list", "List a tenant's sessions");
    AddCommon(se_list, se_flags);
    se_list->add_option("--tenant", se_tenant, "Tenant id")->required();
    se_list->add_option("--status", se_status, "active or ended")
        ->check(CLI::IsMember({"active", "ended"}));
    se_list->add_option("--limit", se_limit, "At most this many (1-200)")
        ->check(CLI::Range(1, 200));
    se_list->add_flag("--json", se_json, "Print JSON");
    se_list->footer(
        "Example:\n  ventros session list --tenant 0193a5c4-... --status active --json");
    se_list->callback([&] {
      action = [&] { return SessionList(se_flags, se_tenant, se_status, se_limit, se_json); };
    });

    // message
    auto* message = app.add_subcommand("message", "Send WhatsApp messages");
    message->require_subcommand(1);
    message->footer(
        "Example:\n  ventros message send --tenant TENANT_ID --contact CONTACT_ID --text \"Olá!\"");
    CommonFlags ms_flags;
    std::string ms_tenant, ms_contact, ms_chat, ms_text;
    bool ms_json = false;
    auto* ms_send = message->add_subcommand(
        "send", "Queue a text message; a running `ventros serve` sends it through WAHA");
    AddCommon(ms_send, ms_flags);
    ms_send->add_option("--tenant", ms_tenant, "Tenant id")->required();
    auto* to_contact = ms_send->add_option("--contact", ms_contact, "Contact id");
    auto* to_chat = ms_send->add_option("--chat-id", ms_chat, "WhatsApp chat id or phone");
    to_contact->excludes(to_chat);
    ms_send->add_option("--text", ms_text, "Message text")->required();
    ms_send->add_flag("--json", ms_json, "Print JSON");
    ms_send->footer(
        "Examples:\n  ventros message send --tenant 0193a5c4-... --contact 0193a5d0-... --text "
        "\"Olá!\"\n  ventros message send --tenant 0193a5c4-... --chat-id 5511987654321 --text Oi");
    ms_send->callback([&] {
      action = [&] {
        return MessageSend(ms_flags, ms_tenant, ms_contact, ms_chat, ms_text, ms_json);
      };
    });

    // memory
    auto* mem = app.add_subcommand("memory", "Search and rebuild the memory");
    mem->require_subcommand(1);
    mem->footer(
        "Example:\n  ventros memory search --tenant TENANT_ID --contact CONTACT_ID --query "
        "\"quero cancelar\"");
    CommonFlags me_flags;
    std::string me_tenant, me_contact, me_query, me_strategy;
    int me_top_k = 5;
    bool me_json = false;
    auto* me_search = mem->add_subcommand(
        "search", "Hybrid search of a contact's memory; prints the context an agent reads");
    AddCommon(me_search, me_flags);
    me_search->add_option("--tenant", me_tenant, "Tenant id")->required();
    me_search->add_option("--contact", me_contact, "Contact id")->required();
    me_search->add_option("--query", me_query, "What to look for")->required();
    me_search->add_option("--strategy", me_strategy,
                          "Retrieval strategy (retention_churn, sales_prospecting, "
                          "support_technical, support_billing, balanced, ...)");
    me_search->add_option("--top-k", me_top_k, "Sessions to return (1-20)")
        ->check(CLI::Range(1, 20));
    me_search->add_flag("--json", me_json, "Print the whole result as JSON");
    me_search->footer(
        "Examples:\n  ventros memory search --tenant 0193a5c4-... --contact 0193a5d0-... --query "
        "\"cancelar caro\" --strategy retention_churn\n  ventros memory search --tenant ... "
        "--contact ... --query \"erro 500\" --top-k 3 --json");
    me_search->callback([&] {
      action = [&] {
        return MemorySearch(me_flags, me_tenant, me_contact, me_query, me_strategy, me_top_k,
                            me_json);
      };
    });
    std::string mr_tenant;
    auto* me_reindex = mem->add_subcommand(
        "reindex", "Rebuild summaries, keyword terms and embeddings of every memory document");
    AddCommon(me_reindex, me_flags);
    me_reindex->add_option("--tenant", mr_tenant, "Only this tenant (default: all)");
    me_reindex->footer(
        "Examples:\n  ventros memory reindex\n  ventros memory reindex --tenant 0193a5c4-...\n"
        "Run it after changing memory.embedder; the server can keep running.");
    me_reindex->callback([&] { action = [&] { return MemoryReindex(me_flags, mr_tenant); }; });
    std::string mb_tenant, mb_since;
    auto* me_rebuild = mem->add_subcommand(
        "rebuild", "Replay customers' messages through the memory writer (facts)");
    AddCommon(me_rebuild, me_flags);
    me_rebuild->add_option("--tenant", mb_tenant, "Only this tenant (default: all)");
    me_rebuild->add_option("--since", mb_since,
                           "Only messages from this day on (YYYY-MM-DD, UTC) or epoch ms");
    me_rebuild->footer(
        "Examples:\n  ventros memory rebuild\n  ventros memory rebuild --tenant 0193a5c4-... "
        "--since 2026-11-01\nFacts already learned from a message are not learned twice.");
    me_rebuild->callback(
        [&] { action = [&] { return MemoryRebuild(me_flags, mb_tenant, mb_since); }; });

    // route
    auto* route = app.add_subcommand("route",
                                     "Route a message to an agent category; evaluate "
                                     "and tune the router");
    route->require_subcommand(0, 1);
    CommonFlags ro_flags;
    std::string ro_tenant, ro_text, ro_file;
    bool ro_json = false, ro_dry = false;
    AddCommon(route, ro_flags);
    route->add_option("--tenant", ro_tenant, "Tenant id");
    route->add_option("--text", ro_text, "The customer's message to route");
    route->add_flag("--json", ro_json, "Print JSON");
    route->footer(
        "Examples:\n  ventros route --tenant 0193a5c4-... --text \"Quero cancelar, muito caro\"\n"
        "  ventros route eval --tenant 0193a5c4-... --file labelled.jsonl\n"
        "  ventros route fit --tenant 0193a5c4-... --file labelled.jsonl");
    auto* ro_eval = route->add_subcommand(
        "eval", "Accuracy and confusion matrix of the router on labelled messages");
    AddCommon(ro_eval, ro_flags);
    ro_eval->add_option("--tenant", ro_tenant, "Tenant id")->required();
    ro_eval->add_option("--file", ro_file, "JSON lines {\"text\",\"category\"}")->required();
    ro_eval->add_flag("--json", ro_json, "Print JSON");
    ro_eval->footer(
        "Example:\n  ventros route eval --tenant 0193a5c4-... --file labelled.jsonl\n"
        "Each line: {\"text\": \"quero cancelar\", \"category\": \"retention_churn\"}");
    ro_eval->callback(
        [&] { action = [&] { return RouteEval(ro_flags, ro_tenant, ro_file, ro_json); }; });
    auto* ro_fit = route->add_subcommand(
        "fit", "Tune the routes' thresholds on labelled messages and store them for the tenant");
    AddCommon(ro_fit, ro_flags);
    ro_fit->add_option("--tenant", ro_tenant, "Tenant id")->required();
    ro_fit->add_option("--file", ro_file, "JSON lines {\"text\",\"category\"}")->required();
    ro_fit->add_flag("--dry-run", ro_dry, "Only print the thresholds, do not store them");
    ro_fit->footer("Example:\n  ventros route fit --tenant 0193a5c4-... --file labelled.jsonl");
    ro_fit->callback(
        [&] { action = [&] { return RouteFit(ro_flags, ro_tenant, ro_file, ro_dry); }; });
    route->callback([&] {
      if (!action) action = [&] { return RouteClassify(ro_flags, ro_tenant, ro_text, ro_json); };
    });

    // agent
    auto* agent = app.add_subcommand("agent", "Agent templates and the tenant's agents");
    agent->require_subcommand(1);
    agent->footer(
        "Examples:\n  ventros agent templates\n  ventros agent create --tenant 0193a5c4-... "
        "--template retention_churn --name \"Retenção Bot\"\n  ventros agent list --tenant "
        "0193a5c4-...");
    CommonFlags ag_flags;
    std::string ag_tenant, ag_template, ag_name, ag_overrides;
    bool ag_json = false;
    auto* ag_templates = agent->add_subcommand("templates", "List the built-in agent templates");
    AddCommon(ag_templates, ag_flags);
    ag_templates->add_flag("--json", ag_json, "Print JSON (instructions and intent examples)");
    ag_templates->footer("Example:\n  ventros agent templates --json");
    ag_templates->callback([&] { action = [&] { return AgentTemplates(ag_json); }; });
    auto* ag_create = agent->add_subcommand("create", "Create an agent from a template");
    AddCommon(ag_create, ag_flags);
    ag_create->add_option("--tenant", ag_tenant, "Tenant id")->required();
    ag_create->add_option("--template", ag_template, "Template id (see `agent templates`)")
        ->required();
    ag_create->add_option("--name", ag_name, "The agent's name")->required();
    ag_create->add_option("--overrides", ag_overrides,
                          "JSON object: instruction, strategy, lookback_days, "
                          "max_discount_percent, max_offer_months, max_retention_attempts, tools");
    ag_create->add_flag("--json", ag_json, "Print JSON");
    ag_create->footer(
        "Examples:\n  ventros agent create --tenant 0193a5c4-... --template retention_churn "
        "--name \"Retenção Bot\"\n  ventros agent create --tenant ... --template "
        "retention_churn --name Cauteloso --overrides '{\"max_discount_percent\": 15}'");
    ag_create->callback([&] {
      action = [&] {
        return AgentCreate(ag_flags, ag_tenant, ag_template, ag_name, ag_overrides, ag_json);
      };
    });
    auto* ag_list = agent->add_subcommand("list", "List a tenant's agents");
    AddCommon(ag_list, ag_flags);
    ag_list->add_option("--tenant", ag_tenant, "Tenant id")->required();
    ag_list->add_flag("--json", ag_json, "Print JSON");
    ag_list->footer("Example:\n  ventros agent list --tenant 0193a5c4-...");
    ag_list->callback([&] { action = [&] { return AgentList(ag_flags, ag_tenant, ag_json); }; });

    // demo
    DemoOptions demo_options;
    auto* demo = app.add_subcommand(
        "demo", "Run the whole flow offline: seeded history, a webhook, the agent's reply");
    demo->add_option("--db", demo_options.db_url,
                     "Database URL to use instead of a fresh temporary SQLite file");
    demo->add_flag("--keep", demo_options.keep, "Keep the temporary database (prints its path)");
    demo->add_option("--text", demo_options.text, "What the customer writes");
    demo->footer(
        "Examples:\n  ventros demo\n  ventros demo --text \"Meu sistema está com erro 500\"\n"
        "Needs no network: a fake WAHA on loopback receives the reply.");
    demo->callback([&] { action = [&] { return RunDemo(demo_options, out_, err_); }; });

    // workflow
    auto* workflow = app.add_subcommand("workflow",
                                        "Durable workflows: list, show, start, "
                                        "signal, cancel, triggers");
    workflow->require_subcommand(1);
    workflow->footer(
        "Examples:\n  ventros workflow list --tenant 0193a5c4-... --status running\n"
        "  ventros workflow start --tenant 0193a5c4-... --type customer_onboarding --input "
        "'{\"contact_id\":\"0193a5d0-...\",\"plan\":\"pro\"}'\n"
        "  ventros workflow trigger --tenant 0193a5c4-... --type lead_nurturing --enable");
    CommonFlags wf_flags;
    std::string wf_tenant, wf_type, wf_status, wf_id, wf_input, wf_name, wf_payload;
    int wf_limit = 50;
    bool wf_json = false, wf_enable = false, wf_disable = false;
    auto* wf_list = workflow->add_subcommand("list", "List workflows (newest first)");
    AddCommon(wf_list, wf_flags);
    wf_list->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_list->add_option("--type", wf_type, "Only this type (lead_nurturing, customer_onboarding)");
    wf_list->add_option("--status", wf_status, "running, completed, failed or cancelled");
    wf_list->add_option("--limit", wf_limit, "At most this many (1-500)")
        ->check(CLI::Range(1, 500));
    wf_list->add_flag("--json", wf_json, "Print JSON");
    wf_list->footer(
        "Example:\n  ventros workflow list --tenant 0193a5c4-... --type lead_nurturing");
    wf_list->callback([&] {
      action = [&] {
        return WorkflowList(wf_flags, wf_tenant, wf_type, wf_status, wf_limit, wf_json);
      };
    });
    auto* wf_show = workflow->add_subcommand("show", "A workflow's state (the query) and history");
    AddCommon(wf_show, wf_flags);
    wf_show->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_show->add_option("ID", wf_id, "Workflow id (or run id)")->required();
    wf_show->add_flag("--json", wf_json, "Print JSON");
    wf_show->footer(
        "Example:\n  ventros workflow show --tenant 0193a5c4-... "
        "lead_nurturing:0193a5d0-...");
    wf_show->callback(
        [&] { action = [&] { return WorkflowShow(wf_flags, wf_tenant, wf_id, wf_json); }; });
    auto* wf_start =
        workflow->add_subcommand("start", "Start a workflow (a running server runs it)");
    AddCommon(wf_start, wf_flags);
    wf_start->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_start->add_option("--type", wf_type, "Workflow type")->required();
    wf_start->add_option("--input", wf_input, "Input, a JSON object");
    wf_start->add_option("--id", wf_id, "Workflow id (default: a new id)");
    wf_start->add_flag("--json", wf_json, "Print JSON");
    wf_start->footer(
        "Example:\n  ventros workflow start --tenant 0193a5c4-... --type "
        "lead_nurturing --input '{\"contact_id\":\"0193a5d0-...\"}' --id "
        "lead_nurturing:0193a5d0-...");
    wf_start->callback([&] {
      action = [&] {
        return WorkflowStart(wf_flags, wf_tenant, wf_type, wf_input, wf_id, wf_json);
      };
    });
    auto* wf_signal = workflow->add_subcommand("signal", "Send a signal to a running workflow");
    AddCommon(wf_signal, wf_flags);
    wf_signal->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_signal->add_option("ID", wf_id, "Workflow id")->required();
    wf_signal->add_option("--name", wf_name, "Signal name, e.g. contact_replied")->required();
    wf_signal->add_option("--payload", wf_payload, "Payload, JSON (default null)");
    wf_signal->footer(
        "Example:\n  ventros workflow signal --tenant 0193a5c4-... "
        "lead_nurturing:0193a5d0-... --name contact_replied --payload "
        "'{\"reply\":true}'");
    wf_signal->callback([&] {
      action = [&] { return WorkflowSignal(wf_flags, wf_tenant, wf_id, wf_name, wf_payload); };
    });
    auto* wf_cancel = workflow->add_subcommand("cancel",
                                               "Cancel a running workflow "
                                               "(compensations run first)");
    AddCommon(wf_cancel, wf_flags);
    wf_cancel->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_cancel->add_option("ID", wf_id, "Workflow id")->required();
    wf_cancel->footer(
        "Example:\n  ventros workflow cancel --tenant 0193a5c4-... "
        "customer_onboarding:0193a5e1-...");
    wf_cancel->callback(
        [&] { action = [&] { return WorkflowCancel(wf_flags, wf_tenant, wf_id); }; });
    auto* wf_trigger = workflow->add_subcommand(
        "trigger", "Start lead nurturing on every new contact of a tenant (or stop)");
    AddCommon(wf_trigger, wf_flags);
    wf_trigger->add_option("--tenant", wf_tenant, "Tenant id")->required();
    wf_trigger->add_option("--type", wf_type, "Workflow type (lead_nurturing)")->required();
    wf_trigger->add_flag("--enable", wf_enable, "Start it on contact.created");
    wf_trigger->add_flag("--disable", wf_disable, "Stop starting it");
    wf_trigger->footer(
        "Example:\n  ventros workflow trigger --tenant 0193a5c4-... --type "
        "lead_nurturing --enable");
    wf_trigger->callback([&] {
      action = [&] { return WorkflowTrigger(wf_flags, wf_tenant, wf_type, wf_enable, wf_disable); };
    });

    // events
    auto* events = app.add_subcommand("events", "Inspect the event outbox and dead letters");
    events->require_subcommand(1);
    events->footer(
        "Examples:\n  ventros events list --type message.received\n"
        "  ventros events list --consumer waha.sender\n  ventros events dead-letter list\n"
        "  ventros events dead-letter retry EVENT_ID");
    CommonFlags ev_flags;
    std::string ev_type, ev_consumer;
    int64_t ev_after = 0;
    int ev_limit = 50;
    bool ev_json = false;
    auto* ev_list = events->add_subcommand(
        "list", "List events (with --consumer: the events that consumer has not processed yet)");
    AddCommon(ev_list, ev_flags);
    ev_list->add_option("--type", ev_type, "Only this event type");
    ev_list->add_option("--consumer", ev_consumer, "Only events after this consumer's position");
    ev_list->add_option("--after", ev_after, "Only events after this sequence number");
    ev_list->add_option("--limit", ev_limit, "At most this many (1-1000)")
        ->check(CLI::Range(1, 1000));
    ev_list->add_flag("--json", ev_json, "Print JSON");
    ev_list->footer("Example:\n  ventros events list --type message.received --limit 10 --json");
    ev_list->callback([&] {
      action = [&] {
        return EventsList(ev_flags, ev_type, ev_consumer, ev_after, ev_limit, ev_json);
      };
    });
    auto* dead = events->add_subcommand("dead-letter", "List and retry dead-lettered deliveries");
    dead->require_subcommand(1);
    dead->footer(
        "Examples:\n  ventros events dead-letter list\n  ventros events dead-letter retry "
        "EVENT_ID");
    CommonFlags dl_flags;
    std::string dl_consumer;
    bool dl_json = false;
    auto* dl_list = dead->add_subcommand("list", "List dead-lettered deliveries");
    AddCommon(dl_list, dl_flags);
    dl_list->add_option("--consumer", dl_consumer, "Only this consumer");
    dl_list->add_flag("--json", dl_json, "Print JSON");
    dl_list->footer("Example:\n  ventros events dead-letter list --consumer waha.sender --json");
    dl_list->callback(
        [&] { action = [&] { return DeadLetterList(dl_flags, dl_consumer, dl_json); }; });
    CommonFlags dr_flags;
    std::string dr_id, dr_consumer;
    auto* dl_retry = dead->add_subcommand(
        "retry",
        "Make a dead-lettered event due again (for one consumer, or every one holding it)");
    AddCommon(dl_retry, dr_flags);
    dl_retry->add_option("ID", dr_id, "Event id (from `dead-letter list`)")->required();
    dl_retry->add_option("--consumer", dr_consumer, "Only for this consumer");
    dl_retry->footer(
        "Example:\n  ventros events dead-letter retry 0193a5e1-... --consumer waha.sender");
    dl_retry->callback(
        [&] { action = [&] { return DeadLetterRetry(dr_flags, dr_id, dr_consumer); }; });

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
                            m.changed   ? "CHANGED after it was applied"
                            : m.applied ? "applied " + core::FormatTimestamp(m.applied_at)
                                        : std::string("pending"));
      }
    }
    return kExitOk;
  }

  int TenantCreate(const CommonFlags& flags, const std::string& name, bool json) {
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    crm::TenantService svc(*(*ctx)->db, (*ctx)->clock);
    auto created = svc.CreateTenant(name);
    if (!created.ok()) return Fail(created.status());
    const auto& [tenant, key] = *created;
    if (json) {
      out_ << fmt::format(R"({{"tenant":{},"api_key":{}}})", crm::TenantJson(tenant),
                          crm::ApiKeyJson(key.key, &key.secret))
           << "\n";
    } else {
      out_ << fmt::format(
          "Created tenant \"{}\" ({}).\nAdmin API key (shown once, store it now): {}\n",
          tenant.name, tenant.id.str(), key.secret);
    }
    return kExitOk;
  }

  int TenantList(const CommonFlags& flags, bool json) {
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    crm::TenantService svc(*(*ctx)->db, (*ctx)->clock);
    auto list = svc.ListTenants();
    if (!list.ok()) return Fail(list.status());
    if (json) {
      out_ << ItemsJson(*list, [&](const auto& t) { return crm::TenantJson(t); }) << "\n";
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
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::TenantService svc(*(*ctx)->db, (*ctx)->clock);
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
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::TenantService svc(*(*ctx)->db, (*ctx)->clock);
    auto keys = svc.ListApiKeys(crm::TenantId(tenant));
    if (!keys.ok()) return Fail(keys.status());
    if (json) {
      out_ << ItemsJson(*keys, [&](const auto& k) { return crm::ApiKeyJson(k); }) << "\n";
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
    if (!core::IsUuid(id)) return Fail(Status::NotFound(fmt::format("api key {} not found", id)));
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    crm::TenantService svc(*(*ctx)->db, (*ctx)->clock);
    auto revoked = svc.RevokeApiKeyById(crm::ApiKeyId(id));
    if (!revoked.ok()) return Fail(revoked.status());
    if (json) {
      out_ << crm::ApiKeyJson(*revoked) << "\n";
    } else {
      out_ << fmt::format("Revoked API key {} ({}).\n", revoked->id.str(), revoked->prefix);
    }
    return kExitOk;
  }

  // Opens config and database for a tenant-scoped verb; fails when the tenant does not exist.
  struct Ctx {
    core::Config config;
    std::unique_ptr<core::Database> db;
    core::SystemClock clock;
  };
  core::Result<std::unique_ptr<Ctx>> Open(const CommonFlags& flags, const std::string& tenant) {
    auto ctx = std::make_unique<Ctx>();
    VENTROS_ASSIGN_OR_RETURN(ctx->config, LoadConfig(flags, env_, {}));
    if (!tenant.empty() && !core::IsUuid(tenant)) {
      return Status::NotFound(fmt::format("tenant {} not found", tenant));
    }
    VENTROS_ASSIGN_OR_RETURN(ctx->db, PrepareDatabase(ctx->config));
    if (!tenant.empty()) {
      crm::TenantService tenants(*ctx->db, ctx->clock);
      VENTROS_RETURN_IF_ERROR(tenants.GetTenant(crm::TenantId(tenant)).status());
    }
    return ctx;
  }

  int ChannelAdd(const CommonFlags& flags, const std::string& tenant, const std::string& name,
                 const std::string& url, const std::string& key, const std::string& session,
                 const std::string& hmac, std::string public_url, bool json) {
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::MessagingService svc(*(*ctx)->db, (*ctx)->clock);
    crm::ChannelInput in;
    in.name = name;
    in.waha_url = url;
    in.waha_api_key = key;
    in.waha_session = session;
    if (!hmac.empty()) in.hmac_secret = hmac;
    auto c = svc.CreateChannel(crm::TenantId(tenant), in);
    if (!c.ok()) return Fail(c.status());
    if (public_url.empty()) public_url = PublicUrl((*ctx)->config);
    if (json) {
      out_ << crm::ChannelJson(*c, public_url) << "\n";
    } else {
      out_ << fmt::format(
          "Created channel \"{}\" ({}).\nWebhook URL for WAHA: {}/webhooks/waha/{}\n", c->name,
          c->id.str(), public_url, c->id.str());
      if (hmac.empty()) {
        out_ << "No HMAC secret: anyone who knows the URL can post webhooks. Set one with "
                "--hmac-secret and the same key in WAHA.\n";
      }
    }
    return kExitOk;
  }

  int ChannelList(const CommonFlags& flags, const std::string& tenant, bool json) {
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::MessagingService svc(*(*ctx)->db, (*ctx)->clock);
    auto list = svc.ListChannels(crm::TenantId(tenant));
    if (!list.ok()) return Fail(list.status());
    std::string public_url = PublicUrl((*ctx)->config);
    if (json) {
      out_ << ItemsJson(*list, [&](const auto& c) { return crm::ChannelJson(c, public_url); })
           << "\n";
    } else {
      out_ << fmt::format("{:<36}  {:<12}  {:<20}  {}\n", "ID", "STATUS", "NAME", "WAHA");
      for (const auto& c : *list) {
        out_ << fmt::format("{:<36}  {:<12}  {:<20}  {} (session {})\n", c.id.str(), c.status,
                            c.name, c.waha_url, c.waha_session);
      }
    }
    return kExitOk;
  }

  // Config, database and the memory module as `serve` builds it, for the memory verbs. `only`:
  // the tenant given, if any.
  struct MemoryCtx {
    std::unique_ptr<Ctx> ctx;
    std::unique_ptr<crm::MessagingService> crm;
    std::unique_ptr<core::HttpClient> http;
    MemoryParts parts;
    std::optional<crm::TenantId> only;
  };
  core::Result<std::unique_ptr<MemoryCtx>> OpenMemory(const CommonFlags& flags,
                                                      const std::string& tenant) {
    auto m = std::make_unique<MemoryCtx>();
    VENTROS_ASSIGN_OR_RETURN(m->ctx, Open(flags, tenant));
    m->crm = std::make_unique<crm::MessagingService>(*m->ctx->db, m->ctx->clock);
    m->http = std::make_unique<core::HttpClient>(HttpClientOptionsFrom(m->ctx->config));
    VENTROS_ASSIGN_OR_RETURN(m->parts, BuildMemory(m->ctx->config, *m->ctx->db, m->ctx->clock,
                                                   core::NullLogger(), *m->crm, *m->http, nullptr));
    if (!tenant.empty()) m->only = crm::TenantId(tenant);
    return m;
  }

  int MemorySearch(const CommonFlags& flags, const std::string& tenant, const std::string& contact,
                   const std::string& query, const std::string& strategy, int top_k, bool json) {
    if (!core::IsUuid(contact)) {
      return Fail(Status::NotFound(fmt::format("contact {} not found", contact)));
    }
    auto mem = OpenMemory(flags, tenant);
    if (!mem.ok()) return Fail(mem.status());
    memory::MemoryService& service = *(*mem)->parts.service;
    Status loaded = service.LoadVectors(nullptr, crm::TenantId(tenant));
    if (!loaded.ok()) return Fail(loaded);
    memory::SearchRequest req;
    req.tenant = crm::TenantId(tenant);
    req.contact = crm::ContactId(contact);
    req.query = query;
    if (!strategy.empty()) req.strategy = strategy;
    req.top_k = top_k;
    auto result = service.Search(req);
    if (!result.ok()) return Fail(result.status());
    out_ << (json ? memory::SearchResultJson(*result) + "\n" : result->context);
    return kExitOk;
  }

  int MemoryReindex(const CommonFlags& flags, const std::string& tenant) {
    auto mem = OpenMemory(flags, tenant);
    if (!mem.ok()) return Fail(mem.status());
    Status st = (*mem)->parts.service->Reindex((*mem)->only, Progress("reindex", "documents"));
    if (!st.ok()) return Fail(st);
    out_ << "Memory reindexed.\n";
    return kExitOk;
  }

  // "2026-11-01" (UTC midnight) or epoch milliseconds.
  static std::optional<int64_t> ParseSince(const std::string& text) {
    int y = 0, mo = 0, d = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &mo, &d, &extra) == 3 && mo >= 1 &&
        mo <= 12 && d >= 1 && d <= 31) {
      std::tm tm{};
      tm.tm_year = y - 1900;
      tm.tm_mon = mo - 1;
      tm.tm_mday = d;
      return static_cast<int64_t>(timegm(&tm)) * 1000;
    }
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec == std::errc() && end == text.data() + text.size() && ms >= 0) return ms;
    return std::nullopt;
  }

  int MemoryRebuild(const CommonFlags& flags, const std::string& tenant, const std::string& since) {
    std::optional<int64_t> since_ms;
    if (!since.empty()) {
      since_ms = ParseSince(since);
      if (!since_ms) {
        return Fail(Status::InvalidArgument(fmt::format(
            "--since must be a date (YYYY-MM-DD) or epoch milliseconds; got '{}'", since)));
      }
    }
    auto mem = OpenMemory(flags, tenant);
    if (!mem.ok()) return Fail(mem.status());
    auto learned =
        (*mem)->parts.service->Rebuild((*mem)->only, since_ms, Progress("rebuild", "messages"));
    if (!learned.ok()) return Fail(learned.status());
    out_ << fmt::format("Memory rebuilt: {} facts learned, strengthened or withdrawn.\n", *learned);
    return kExitOk;
  }

  // Config, database, memory and agents as `serve` builds them, for the route and agent verbs.
  struct AgentsCtx {
    std::unique_ptr<MemoryCtx> mem;
    AgentsParts parts;
  };
  core::Result<std::unique_ptr<AgentsCtx>> OpenAgents(const CommonFlags& flags,
                                                      const std::string& tenant) {
    auto a = std::make_unique<AgentsCtx>();
    VENTROS_ASSIGN_OR_RETURN(a->mem, OpenMemory(flags, tenant));
    VENTROS_ASSIGN_OR_RETURN(
        a->parts, BuildAgents(a->mem->ctx->config, *a->mem->ctx->db, a->mem->ctx->clock,
                              core::NullLogger(), *a->mem->crm, a->mem->parts, nullptr, nullptr));
    return a;
  }

  core::Result<std::vector<agents::LabelledText>> ReadLabelled(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::NotFound(fmt::format("cannot read {}", path));
    std::stringstream text;
    text << in.rdbuf();
    return agents::ParseLabelledJsonl(text.str());
  }

  int RouteClassify(const CommonFlags& flags, const std::string& tenant, const std::string& text,
                    bool json) {
    if (tenant.empty() || text.empty()) {
      err_ << "error: route needs --tenant and --text (or a verb: eval, fit; run with --help)\n";
      return kExitUsage;
    }
    auto a = OpenAgents(flags, tenant);
    if (!a.ok()) return Fail(a.status());
    auto c = (*a)->parts.service->Classify(crm::TenantId(tenant), text);
    if (!c.ok()) return Fail(c.status());
    if (json) {
      out_ << agents::ClassificationJson(*c) << "\n";
      return kExitOk;
    }
    out_ << fmt::format("{} (confidence {:.3f}{})\n", c->category, c->confidence,
                        c->fallback ? ", no route reached its threshold" : "");
    for (const auto& s : c->scores) out_ << fmt::format("  {:<20} {:.3f}\n", s.category, s.score);
    return kExitOk;
  }

  int RouteEval(const CommonFlags& flags, const std::string& tenant, const std::string& file,
                bool json) {
    auto labelled = ReadLabelled(file);
    if (!labelled.ok()) return Fail(labelled.status());
    auto a = OpenAgents(flags, tenant);
    if (!a.ok()) return Fail(a.status());
    auto report = (*a)->parts.service->Evaluate(crm::TenantId(tenant), *labelled);
    if (!report.ok()) return Fail(report.status());
    if (json) {
      core::json::object o;
      o["total"] = report->total;
      o["correct"] = report->correct;
      o["accuracy"] = report->accuracy;
      core::json::array cats, matrix;
      for (const auto& c : report->categories) cats.emplace_back(c);
      for (const auto& row : report->confusion) {
        core::json::array r;
        for (size_t v : row) r.emplace_back(v);
        matrix.push_back(std::move(r));
      }
      o["categories"] = std::move(cats);
      o["confusion"] = std::move(matrix);
      out_ << core::json::serialize(o) << "\n";
    } else {
      out_ << agents::FormatEvalReport(*report);
    }
    return kExitOk;
  }

  int RouteFit(const CommonFlags& flags, const std::string& tenant, const std::string& file,
               bool dry_run) {
    auto labelled = ReadLabelled(file);
    if (!labelled.ok()) return Fail(labelled.status());
    auto a = OpenAgents(flags, tenant);
    if (!a.ok()) return Fail(a.status());
    auto fit = (*a)->parts.service->Fit(crm::TenantId(tenant), *labelled, !dry_run);
    if (!fit.ok()) return Fail(fit.status());
    out_ << fmt::format("accuracy {:.3f} -> {:.3f} on {} messages\n", fit->accuracy_before,
                        fit->accuracy_after, labelled->size());
    for (const auto& [category, threshold] : fit->thresholds) {
      out_ << fmt::format("  {:<20} threshold {:.2f}\n", category, threshold);
    }
    out_ << (dry_run ? "Not stored (--dry-run).\n" : "Thresholds stored for the tenant.\n");
    return kExitOk;
  }

  int AgentTemplates(bool json) {
    const auto& list = agents::BuiltInTemplates();
    if (json) {
      out_ << ItemsJson(list, agents::TemplateJson) << "\n";
      return kExitOk;
    }
    out_ << fmt::format("{:<18}  {:<18}  {:<9}  {}\n", "ID", "STRATEGY", "DISCOUNT", "TOOLS");
    for (const auto& t : list) {
      std::string tools;
      for (const auto& tool : t.tools) tools += (tools.empty() ? "" : ", ") + tool;
      out_ << fmt::format("{:<18}  {:<18}  {:<9}  {}\n", t.id, t.strategy,
                          std::count(t.tools.begin(), t.tools.end(), "create_retention_offer")
                              ? fmt::format("<= {}%", t.constraints.max_discount_percent)
                              : "-",
                          tools);
    }
    return kExitOk;
  }

  int AgentCreate(const CommonFlags& flags, const std::string& tenant, const std::string& tmpl,
                  const std::string& name, const std::string& overrides, bool json) {
    auto a = OpenAgents(flags, tenant);
    if (!a.ok()) return Fail(a.status());
    auto agent = (*a)->parts.service->CreateAgent(crm::TenantId(tenant), tmpl, name,
                                                  overrides.empty() ? "{}" : overrides);
    if (!agent.ok()) return Fail(agent.status());
    if (json) {
      out_ << crm::AgentJson(*agent) << "\n";
    } else {
      out_ << fmt::format(
          "Created agent \"{}\" ({}) from template {}; it answers the {} "
          "category.\n",
          agent->name, agent->id.str(), agent->template_id, agent->category);
    }
    return kExitOk;
  }

  int AgentList(const CommonFlags& flags, const std::string& tenant, bool json) {
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::AgentRegistry registry(*(*ctx)->db, (*ctx)->clock);
    auto list = registry.ListAgents(crm::TenantId(tenant), std::nullopt, true);
    if (!list.ok()) return Fail(list.status());
    if (json) {
      out_ << ItemsJson(*list, crm::AgentJson) << "\n";
      return kExitOk;
    }
    out_ << fmt::format("{:<36}  {:<18}  {:<8}  {}\n", "ID", "CATEGORY", "ENABLED", "NAME");
    for (const auto& ag : *list) {
      out_ << fmt::format("{:<36}  {:<18}  {:<8}  {}\n", ag.id.str(), ag.category,
                          ag.enabled ? "yes" : "no", ag.name);
    }
    return kExitOk;
  }

  // The engine with the built-in definitions, without workers (a running server runs them).
  struct WorkflowsCtx {
    std::unique_ptr<Ctx> ctx;
    std::unique_ptr<workflows::Engine> engine;
  };
  core::Result<WorkflowsCtx> OpenWorkflows(const CommonFlags& flags, const std::string& tenant) {
    WorkflowsCtx w;
    VENTROS_ASSIGN_OR_RETURN(w.ctx, Open(flags, tenant));
    w.engine = std::make_unique<workflows::Engine>(*w.ctx->db, w.ctx->clock, core::NullLogger());
    w.engine->Register(workflows::LeadNurturing());
    w.engine->Register(workflows::CustomerOnboarding());
    return w;
  }

  int WorkflowList(const CommonFlags& flags, const std::string& tenant, const std::string& type,
                   const std::string& status, int limit, bool json) {
    if (!status.empty() && status != "running" && status != "completed" && status != "failed" &&
        status != "cancelled") {
      return Fail(
          Status::InvalidArgument("--status must be running, completed, failed or cancelled"));
    }
    auto w = OpenWorkflows(flags, tenant);
    if (!w.ok()) return Fail(w.status());
    auto list = w->engine->List(tenant, type.empty() ? std::nullopt : std::optional(type),
                                status.empty() ? std::nullopt : std::optional(status), limit);
    if (!list.ok()) return Fail(list.status());
    if (json) {
      out_ << ItemsJson(*list, [](const auto& x) { return workflows::WorkflowJson(x, false); })
           << "\n";
      return kExitOk;
    }
    out_ << fmt::format("{:<56}  {:<20}  {:<10}  {:<18}  {}\n", "ID", "TYPE", "STATUS", "STEP",
                        "WAITING FOR");
    for (const auto& x : *list) {
      out_ << fmt::format("{:<56}  {:<20}  {:<10}  {:<18}  {}\n", x.id, x.type, x.status, x.step,
                          x.waiting_for.empty() ? "-" : x.waiting_for);
    }
    return kExitOk;
  }

  int WorkflowShow(const CommonFlags& flags, const std::string& tenant, const std::string& id,
                   bool json) {
    auto w = OpenWorkflows(flags, tenant);
    if (!w.ok()) return Fail(w.status());
    auto x = w->engine->Get(tenant, id);
    if (!x.ok()) return Fail(x.status());
    if (json) {
      out_ << workflows::WorkflowJson(*x, true) << "\n";
      return kExitOk;
    }
    out_ << fmt::format("{} ({}, run {})\nstatus {} · step {}{}\nstate {}\n", x->id, x->type,
                        x->run_id, x->status, x->step,
                        x->waiting_for.empty() ? "" : " · waiting for " + x->waiting_for, x->state);
    if (!x->error.empty()) out_ << "error " << x->error << "\n";
    out_ << "history:\n";
    for (const auto& h : x->history) {
      out_ << fmt::format("  {:>3}  {}  {:<24} {}\n", h.seq, core::FormatTimestamp(h.at), h.kind,
                          h.detail);
    }
    return kExitOk;
  }

  int WorkflowStart(const CommonFlags& flags, const std::string& tenant, const std::string& type,
                    const std::string& input, const std::string& id, bool json) {
    if (!input.empty()) {
      boost::system::error_code ec;
      auto v = core::json::parse(input, ec);
      if (ec || !v.is_object())
        return Fail(Status::InvalidArgument("--input must be a JSON object"));
    }
    auto w = OpenWorkflows(flags, tenant);
    if (!w.ok()) return Fail(w.status());
    auto x = w->engine->StartWorkflow(tenant, type, input.empty() ? "{}" : input,
                                      id.empty() ? std::nullopt : std::optional(id));
    if (!x.ok()) return Fail(x.status());
    if (json) {
      out_ << workflows::WorkflowJson(*x, false) << "\n";
    } else {
      out_ << fmt::format("Started {} {} (run {}); a running server advances it.\n", x->type, x->id,
                          x->run_id);
    }
    return kExitOk;
  }

  int WorkflowSignal(const CommonFlags& flags, const std::string& tenant, const std::string& id,
                     const std::string& name, const std::string& payload) {
    auto w = OpenWorkflows(flags, tenant);
    if (!w.ok()) return Fail(w.status());
    if (auto st = w->engine->Signal(tenant, id, name, payload.empty() ? "null" : payload);
        !st.ok()) {
      return Fail(st);
    }
    out_ << fmt::format("Signal {} sent to {}.\n", name, id);
    return kExitOk;
  }

  int WorkflowCancel(const CommonFlags& flags, const std::string& tenant, const std::string& id) {
    auto w = OpenWorkflows(flags, tenant);
    if (!w.ok()) return Fail(w.status());
    if (auto st = w->engine->Cancel(tenant, id); !st.ok()) return Fail(st);
    out_ << fmt::format("Cancellation of {} requested; its compensations run first.\n", id);
    return kExitOk;
  }

  int WorkflowTrigger(const CommonFlags& flags, const std::string& tenant, const std::string& type,
                      bool enable, bool disable) {
    if (enable == disable) {
      err_ << "error: give one of --enable and --disable\n";
      return kExitUsage;
    }
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    workflows::Triggers triggers(*(*ctx)->db, (*ctx)->clock);
    if (auto st = triggers.Set(tenant, type, enable); !st.ok()) return Fail(st);
    out_ << fmt::format("{} {} on new contacts of tenant {}.\n", type,
                        enable ? "starts" : "no longer starts", tenant);
    return kExitOk;
  }

  // A progress bar on a terminal; plain lines every 10 % otherwise (logs, CI).
  std::function<void(int64_t, int64_t)> Progress(const std::string& what, const std::string& unit) {
    bool tty = ::isatty(STDERR_FILENO) == 1 && &err_ == &std::cerr;
    auto last_decile = std::make_shared<int>(-1);
    return [this, tty, last_decile, what, unit](int64_t done, int64_t total) {
      int pct = total == 0 ? 100 : static_cast<int>(done * 100 / total);
      if (tty) {
        int filled = pct * 30 / 100;
        err_ << fmt::format("\r[{}{}] {:3}% {}/{}", std::string(filled, '#'),
                            std::string(30 - filled, ' '), pct, done, total)
             << std::flush;
        if (done == total) err_ << "\n";
      } else if (pct / 10 != *last_decile) {
        *last_decile = pct / 10;
        err_ << fmt::format("{}: {}/{} {} ({}%)\n", what, done, total, unit, pct);
      }
    };
  }

  int ContactList(const CommonFlags& flags, const std::string& tenant, const std::string& query,
                  int limit, bool json) {
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::MessagingService svc(*(*ctx)->db, (*ctx)->clock);
    crm::ContactFilter filter;
    if (!query.empty()) filter.query = query;
    auto page = svc.ListContacts(crm::TenantId(tenant), filter, crm::Page{limit, ""});
    if (!page.ok()) return Fail(page.status());
    if (json) {
      out_ << ItemsJson(page->items, [&](const auto& c) { return crm::ContactJson(c); }) << "\n";
    } else {
      out_ << fmt::format("{:<36}  {:<15}  {:<14}  {}\n", "ID", "PHONE", "STAGE", "NAME");
      for (const auto& c : page->items) {
        out_ << fmt::format("{:<36}  {:<15}  {:<14}  {}\n", c.id.str(), c.phone.value_or("-"),
                            c.pipeline_stage.value_or("-"), c.name);
      }
    }
    return kExitOk;
  }

  int SessionList(const CommonFlags& flags, const std::string& tenant, const std::string& status,
                  int limit, bool json) {
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::MessagingService svc(*(*ctx)->db, (*ctx)->clock);
    auto page = svc.ListSessions(crm::TenantId(tenant), std::nullopt,
                                 status.empty() ? std::nullopt : std::optional<std::string>(status),
                                 crm::Page{limit, ""});
    if (!page.ok()) return Fail(page.status());
    if (json) {
      out_ << ItemsJson(page->items, [&](const auto& x) { return crm::SessionJson(x); }) << "\n";
    } else {
      out_ << fmt::format("{:<36}  {:<36}  {:<6}  {:>5}  {}\n", "ID", "CONTACT", "STATUS", "MSGS",
                          "STARTED");
      for (const auto& x : page->items) {
        out_ << fmt::format("{:<36}  {:<36}  {:<6}  {:>5}  {}\n", x.id.str(), x.contact_id.str(),
                            x.status, x.message_count, core::FormatTimestamp(x.started_at));
      }
    }
    return kExitOk;
  }

  int MessageSend(const CommonFlags& flags, const std::string& tenant, const std::string& contact,
                  const std::string& chat, const std::string& text, bool json) {
    if (contact.empty() == chat.empty()) {
      err_ << "error: give exactly one of --contact and --chat-id\n";
      return kExitUsage;
    }
    auto ctx = Open(flags, tenant);
    if (!ctx.ok()) return Fail(ctx.status());
    crm::MessagingService svc(*(*ctx)->db, (*ctx)->clock);
    crm::MessagingService::SendRequest req;
    if (!contact.empty()) req.contact = crm::ContactId(contact);
    if (!chat.empty()) req.chat_id = chat;
    req.text = text;
    auto m = svc.RequestSend(crm::TenantId(tenant), req);
    if (!m.ok()) return Fail(m.status());
    if (json) {
      out_ << crm::MessageJson(*m) << "\n";
    } else {
      out_ << fmt::format("Queued message {} to {}; a running `ventros serve` sends it.\n",
                          m->id.str(), m->chat_id);
    }
    return kExitOk;
  }

  static std::string EventJson(const core::Event& e) {
    core::json::object o;
    o["seq"] = e.seq;
    o["id"] = e.id;
    o["type"] = e.type;
    o["tenant_id"] = e.tenant_id;
    o["key"] = e.key;
    o["occurred_at"] = core::FormatTimestamp(e.occurred_at);
    boost::system::error_code ec;
    auto payload = core::json::parse(e.payload, ec);
    o["payload"] = ec ? core::json::value(e.payload) : payload;
    return core::json::serialize(o);
  }

  int EventsList(const CommonFlags& flags, const std::string& type, const std::string& consumer,
                 int64_t after, int limit, bool json) {
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    core::EventBus bus(*(*ctx)->db, (*ctx)->clock, core::NullLogger());
    if (!consumer.empty()) {
      auto consumers = bus.ListConsumers();
      if (!consumers.ok()) return Fail(consumers.status());
      auto it = std::find_if(consumers->begin(), consumers->end(),
                             [&](const core::ConsumerStatus& c) { return c.name == consumer; });
      if (it == consumers->end()) {
        return Fail(Status::NotFound(fmt::format("no consumer named {}", consumer)));
      }
      after = std::max(after, it->position);
    }
    auto list = bus.ListEvents(type.empty() ? std::nullopt : std::optional<std::string>(type),
                               after, limit);
    if (!list.ok()) return Fail(list.status());
    if (json) {
      out_ << ItemsJson(*list, [&](const auto& e) { return EventJson(e); }) << "\n";
    } else {
      out_ << fmt::format("{:>8}  {:<24}  {:<26}  {}\n", "SEQ", "OCCURRED", "TYPE", "KEY");
      for (const auto& e : *list) {
        out_ << fmt::format("{:>8}  {:<24}  {:<26}  {}\n", e.seq,
                            core::FormatTimestamp(e.occurred_at), e.type, e.key);
      }
    }
    return kExitOk;
  }

  int DeadLetterList(const CommonFlags& flags, const std::string& consumer, bool json) {
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    core::EventBus bus(*(*ctx)->db, (*ctx)->clock, core::NullLogger());
    auto list =
        bus.ListDeliveries(consumer.empty() ? std::nullopt : std::optional<std::string>(consumer),
                           std::string("dead"));
    if (!list.ok()) return Fail(list.status());
    if (json) {
      std::string items;
      for (const auto& d : *list) {
        core::json::object o;
        o["consumer"] = d.consumer;
        o["attempts"] = d.attempts;
        o["last_error"] = d.last_error;
        o["updated_at"] = core::FormatTimestamp(d.updated_at);
        o["event"] = core::json::parse(EventJson(d.event));
        items += (items.empty() ? "" : ",") + core::json::serialize(o);
      }
      out_ << "{\"items\":[" << items << "]}\n";
    } else {
      out_ << fmt::format("{:<36}  {:<16}  {:<24}  {:>3}  {}\n", "EVENT", "CONSUMER", "TYPE", "TRY",
                          "LAST ERROR");
      for (const auto& d : *list) {
        out_ << fmt::format("{:<36}  {:<16}  {:<24}  {:>3}  {}\n", d.event.id, d.consumer,
                            d.event.type, d.attempts, d.last_error);
      }
    }
    return kExitOk;
  }

  int DeadLetterRetry(const CommonFlags& flags, const std::string& id,
                      const std::string& consumer) {
    auto ctx = Open(flags, "");
    if (!ctx.ok()) return Fail(ctx.status());
    core::EventBus bus(*(*ctx)->db, (*ctx)->clock, core::NullLogger());
    auto list =
        bus.ListDeliveries(consumer.empty() ? std::nullopt : std::optional<std::string>(consumer),
                           std::string("dead"));
    if (!list.ok()) return Fail(list.status());
    int retried = 0;
    for (const auto& d : *list) {
      if (d.event.id != id && std::to_string(d.event.seq) != id) continue;
      if (auto st = bus.RetryDeadLetter(d.consumer, d.event.seq); !st.ok()) return Fail(st);
      out_ << fmt::format("Event {} is due again for {}.\n", d.event.id, d.consumer);
      ++retried;
    }
    if (retried == 0) {
      return Fail(Status::NotFound(fmt::format("no dead-lettered delivery of event {}{}", id,
                                               consumer.empty() ? "" : " for " + consumer)));
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
