// The `ventros` CLI, run in-process: verbs, --json, --help with examples, exit codes, errors.

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "app/app.hpp"
#include "support/test_db.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/memory.hpp"

using ventros::testing::ParseJson;
using ventros::testing::TempDir;
using ventros::testing::TestDb;

namespace {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

CliResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "ventros");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = ventros::app::RunCli(static_cast<int>(argv.size()), argv.data(), out, err, env);
  return {code, out.str(), err.str()};
}

}  // namespace

VENTROS_DB_TEST("CLI: tenant and apikey verbs with --json", "[cli]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme Ltd", "--db", db.url(), "--json"});
  INFO(created.err);
  REQUIRE(created.code == 0);
  auto v = ParseJson(created.out);
  std::string tenant(v.at("tenant").at("id").as_string());
  CHECK(v.at("tenant").at("name") == "Acme Ltd");
  CHECK(v.at("api_key").at("role") == "admin");
  CHECK(v.at("api_key").at("key").as_string().starts_with("vt_"));

  auto list = Run({"tenant", "list", "--db", db.url(), "--json"});
  REQUIRE(list.code == 0);
  CHECK(ParseJson(list.out).at("items").as_array().size() == 1);
  auto table = Run({"tenant", "list", "--db", db.url()});
  CHECK_THAT(table.out, Catch::Contains("Acme Ltd"));

  auto key = Run({"apikey", "create", "--tenant", tenant, "--role", "readonly", "--name", "Grafana",
                  "--db", db.url(), "--json"});
  INFO(key.err);
  REQUIRE(key.code == 0);
  std::string key_id(ParseJson(key.out).at("id").as_string());
  auto keys = Run({"apikey", "list", "--tenant", tenant, "--db", db.url(), "--json"});
  REQUIRE(keys.code == 0);
  CHECK(ParseJson(keys.out).at("items").as_array().size() == 2);
  CHECK(keys.out.find("\"key\"") == std::string::npos);

  auto revoke = Run({"apikey", "revoke", key_id, "--db", db.url(), "--json"});
  REQUIRE(revoke.code == 0);
  CHECK_FALSE(ParseJson(revoke.out).at("revoked_at").is_null());

  auto unknown_tenant =
      Run({"apikey", "list", "--tenant", "01936f2e-0000-7000-8000-000000000000", "--db", db.url()});
  CHECK(unknown_tenant.code == 1);
  CHECK_THAT(unknown_tenant.err, Catch::StartsWith("error: tenant"));
}

VENTROS_DB_TEST("CLI: migrate applies and reports status", "[cli][migrations]") {
  TestDb db(engine);
  auto before = Run({"migrate", "--status", "--json", "--db", db.url()});
  REQUIRE(before.code == 0);
  auto before_doc = ParseJson(before.out);
  for (const auto& m : before_doc.at("migrations").as_array()) {
    CHECK_FALSE(m.at("applied").as_bool());
  }
  auto apply = Run({"migrate", "--db", db.url()});
  REQUIRE(apply.code == 0);
  CHECK_THAT(apply.out, Catch::Contains("Applied"));
  auto after = Run({"migrate", "--status", "--json", "--db", db.url()});
  auto after_doc = ParseJson(after.out);
  for (const auto& m : after_doc.at("migrations").as_array()) {
    CHECK(m.at("applied").as_bool());
  }
  CHECK_THAT(Run({"migrate", "--db", db.url()}).out, Catch::Contains("up to date"));
}

TEST_CASE("CLI: every verb has --help with an example", "[cli]") {
  std::vector<std::vector<std::string>> verbs = {{},
                                                 {"serve"},
                                                 {"migrate"},
                                                 {"tenant"},
                                                 {"tenant", "create"},
                                                 {"tenant", "list"},
                                                 {"apikey"},
                                                 {"apikey", "create"},
                                                 {"apikey", "list"},
                                                 {"apikey", "revoke"},
                                                 {"channel"},
                                                 {"channel", "add-waha"},
                                                 {"channel", "list"},
                                                 {"contact"},
                                                 {"contact", "list"},
                                                 {"session"},
                                                 {"session", "list"},
                                                 {"message"},
                                                 {"message", "send"},
                                                 {"events"},
                                                 {"events", "list"},
                                                 {"events", "dead-letter"},
                                                 {"events", "dead-letter", "list"},
                                                 {"events", "dead-letter", "retry"},
                                                 {"memory"},
                                                 {"memory", "search"},
                                                 {"memory", "reindex"},
                                                 {"memory", "rebuild"},
                                                 {"route"},
                                                 {"route", "eval"},
                                                 {"route", "fit"},
                                                 {"agent"},
                                                 {"agent", "templates"},
                                                 {"agent", "create"},
                                                 {"agent", "list"},
                                                 {"demo"},
                                                 {"workflow"},
                                                 {"workflow", "list"},
                                                 {"workflow", "show"},
                                                 {"workflow", "start"},
                                                 {"workflow", "signal"},
                                                 {"workflow", "cancel"},
                                                 {"workflow", "trigger"}};
  for (auto verb : verbs) {
    verb.push_back("--help");
    auto r = Run(verb);
    INFO(verb.front());
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Example"));
    CHECK_THAT(r.out, Catch::Contains("ventros"));
  }
}

TEST_CASE("CLI: usage errors exit 2 with one line on stderr", "[cli]") {
  auto none = Run({});
  CHECK(none.code == 2);
  auto unknown = Run({"frobnicate"});
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::StartsWith("error: "));
  auto missing = Run({"apikey", "create", "--role", "admin"});
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--tenant"));
  auto bad_role = Run({"apikey", "create", "--tenant", "x", "--role", "root"});
  CHECK(bad_role.code == 2);
  CHECK(std::count(bad_role.err.begin(), bad_role.err.end(), '\n') == 1);
  CHECK(Run({"--version"}).code == 0);
}

TEST_CASE("CLI: start-up errors name the problem and exit 1", "[cli]") {
  TempDir dir;
  std::string cfg = dir.path() + "/bad.json";
  std::ofstream(cfg) << R"({"server": {"listen": "127.0.0.1:0"}, "databse": {}})";
  auto unknown_key = Run({"serve", "--config", cfg});
  CHECK(unknown_key.code == 1);
  CHECK_THAT(unknown_key.err, Catch::Contains("'databse'"));

  auto bad_env = Run({"tenant", "list", "--db", "sqlite::memory:"}, {"VENTROS_LOG_LEVL=info"});
  CHECK(bad_env.code == 1);
  CHECK_THAT(bad_env.err, Catch::Contains("VENTROS_LOG_LEVL"));

  auto unreachable = Run({"serve", "--db", "postgres://ventros:hunter2@127.0.0.1:1/ventros",
                          "--listen", "127.0.0.1:0"},
                         {"VENTROS_DATABASE_CONNECT_TIMEOUT_MS=1000"});
  CHECK(unreachable.code == 1);
  CHECK_THAT(unreachable.err, Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
  CHECK(unreachable.err.find("hunter2") == std::string::npos);

  auto bad_url = Run({"migrate", "--db", "mysql://x"});
  CHECK(bad_url.code == 1);
  CHECK_THAT(bad_url.err, Catch::Contains("unsupported database URL"));

  auto bad_listen = Run({"serve", "--db", "sqlite::memory:", "--listen", "nowhere"});
  CHECK(bad_listen.code == 1);
  CHECK_THAT(bad_listen.err, Catch::Contains("server.listen"));
}

TEST_CASE("CLI: serve refuses a database whose applied migration changed", "[cli][migrations]") {
  TestDb db(ventros::core::DbEngine::kSqlite);
  REQUIRE(Run({"migrate", "--db", db.url()}).code == 0);
  {
    auto database = db.Open();
    auto conn = database->Acquire();
    REQUIRE(conn.ok());
    REQUIRE((*conn)->Query("UPDATE schema_migrations SET checksum = 'tampered'").ok());
  }
  auto r = Run({"serve", "--db", db.url(), "--listen", "127.0.0.1:0"});
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("was changed after it was applied"));
}

TEST_CASE("Config: http_client keys reach the outgoing HTTP client options", "[config]") {
  auto config = ventros::core::ConfigLoader::Load(
      "", {"VENTROS_HTTP_CLIENT_MAX_RETRIES=5", "VENTROS_HTTP_CLIENT_REQUEST_TIMEOUT_MS=1234"});
  REQUIRE(config.ok());
  auto opts = ventros::app::HttpClientOptionsFrom(*config);
  CHECK(opts.max_retries == 5);
  CHECK(opts.request_timeout == std::chrono::milliseconds(1234));
  CHECK(opts.connect_timeout == std::chrono::milliseconds(5000));
}

VENTROS_DB_TEST("CLI: channel, contact, session, message and events verbs", "[cli][messaging]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme", "--db", db.url(), "--json"});
  REQUIRE(created.code == 0);
  std::string tenant(ParseJson(created.out).at("tenant").at("id").as_string());

  auto ch = Run({"channel", "add-waha", "--tenant", tenant, "--name", "Vendas", "--waha-url",
                 "http://127.0.0.1:3000", "--waha-api-key", "k", "--hmac-secret", "s",
                 "--public-url", "https://crm.example.com", "--db", db.url(), "--json"});
  INFO(ch.err);
  REQUIRE(ch.code == 0);
  auto chv = ParseJson(ch.out);
  std::string channel_id(chv.at("id").as_string());
  CHECK(chv.at("webhook_url").as_string() == "https://crm.example.com/webhooks/waha/" + channel_id);
  CHECK(ch.out.find("\"k\"") == std::string::npos);  // the API key is not printed
  auto text = Run({"channel", "add-waha", "--tenant", tenant, "--name", "Suporte", "--waha-url",
                   "http://127.0.0.1:3001", "--waha-api-key", "k2", "--db", db.url()});
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Catch::Contains("/webhooks/waha/"));
  CHECK_THAT(text.out, Catch::Contains("No HMAC secret"));
  auto channels = Run({"channel", "list", "--tenant", tenant, "--db", db.url(), "--json"});
  REQUIRE(channels.code == 0);
  CHECK(ParseJson(channels.out).at("items").as_array().size() == 2);

  auto sent = Run({"message", "send", "--tenant", tenant, "--chat-id", "+55 11 98765-4321",
                   "--text", "Olá!", "--db", db.url(), "--json"});
  INFO(sent.err);
  REQUIRE(sent.code == 0);
  CHECK(ParseJson(sent.out).at("status") == "queued");
  CHECK(ParseJson(sent.out).at("chat_id") == "5511987654321@c.us");
  auto contacts =
      Run({"contact", "list", "--tenant", tenant, "--query", "98765", "--db", db.url(), "--json"});
  REQUIRE(contacts.code == 0);
  CHECK(ParseJson(contacts.out).at("items").as_array().size() == 1);
  auto sessions = Run(
      {"session", "list", "--tenant", tenant, "--status", "active", "--db", db.url(), "--json"});
  REQUIRE(sessions.code == 0);
  CHECK(ParseJson(sessions.out).at("items").as_array().size() == 1);

  auto events =
      Run({"events", "list", "--type", "message.send_requested", "--db", db.url(), "--json"});
  REQUIRE(events.code == 0);
  CHECK(ParseJson(events.out).at("items").as_array().size() == 1);
  auto dead = Run({"events", "dead-letter", "list", "--db", db.url(), "--json"});
  REQUIRE(dead.code == 0);
  CHECK(ParseJson(dead.out).at("items").as_array().empty());
  auto retry = Run(
      {"events", "dead-letter", "retry", "01936f2e-0000-7000-8000-000000000000", "--db", db.url()});
  CHECK(retry.code == 1);
  auto both = Run({"message", "send", "--tenant", tenant, "--text", "x", "--db", db.url()});
  CHECK(both.code == 2);
  auto other_tenant = Run(
      {"channel", "list", "--tenant", "01936f2e-0000-7000-8000-000000000000", "--db", db.url()});
  CHECK(other_tenant.code == 1);
  CHECK_THAT(other_tenant.err, Catch::Contains("not found"));
}

VENTROS_DB_TEST("CLI: memory search prints the context - reindex reports progress",
                "[cli][memory]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme", "--db", db.url(), "--json"});
  REQUIRE(created.code == 0);
  std::string tenant(ParseJson(created.out).at("tenant").at("id").as_string());
  std::string contact;
  {
    auto database = db.Open();
    ventros::core::SystemClock clock;
    ventros::crm::MessagingService messaging(*database, clock);
    ventros::crm::ContactInput in;
    in.name = "Maria";
    auto c = messaging.CreateContact(ventros::crm::TenantId(tenant), in);
    REQUIRE(c.ok());
    contact = c->id.str();
    ventros::memory::LocalEmbedder embedder;
    ventros::memory::MemoryService memory(*database, clock, ventros::core::NullLogger(), messaging,
                                          embedder);
    ventros::memory::MemoryService::BulkSession s;
    s.id = "01936f2e-0000-7000-8000-0000000000aa";
    s.contact_id = contact;
    s.contact_name = "Maria";
    s.started_at = 1760000000000;
    s.ended_at = 1760000600000;
    s.messages.push_back(
        {"m1", s.id, contact, "contact", "Quero cancelar, está muito caro", false, 1760000000000});
    REQUIRE(memory.BulkLoad(ventros::crm::TenantId(tenant), {&s, 1}).ok());
  }

  auto text = Run({"memory", "search", "--tenant", tenant, "--contact", contact, "--query",
                   "cancelar caro", "--strategy", "retention_churn", "--db", db.url()});
  INFO(text.err);
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Catch::Contains("=== RECENT MESSAGES ==="));
  CHECK_THAT(text.out, Catch::Contains("Contact: \"Quero cancelar, está muito caro\""));
  CHECK_THAT(text.out, Catch::Contains("=== MEMORY FACTS ==="));
  auto json = Run({"memory", "search", "--tenant", tenant, "--contact", contact, "--query",
                   "cancelar", "--top-k", "3", "--json", "--db", db.url()});
  REQUIRE(json.code == 0);
  auto doc = ParseJson(json.out);
  CHECK(doc.at("strategy") == "balanced");
  CHECK(doc.at("hits").as_array().size() == 1);

  auto bad_strategy = Run({"memory", "search", "--tenant", tenant, "--contact", contact, "--query",
                           "x", "--strategy", "magic", "--db", db.url()});
  CHECK(bad_strategy.code == 1);
  CHECK_THAT(bad_strategy.err, Catch::Contains("retention_churn"));
  auto unknown_contact =
      Run({"memory", "search", "--tenant", tenant, "--contact",
           "01936f2e-0000-7000-8000-000000000000", "--query", "x", "--db", db.url()});
  CHECK(unknown_contact.code == 1);
  CHECK_THAT(unknown_contact.err, Catch::Contains("not found"));
  CHECK(Run({"memory", "search", "--tenant", tenant, "--db", db.url()}).code == 2);

  auto reindex = Run({"memory", "reindex", "--tenant", tenant, "--db", db.url()});
  INFO(reindex.err);
  REQUIRE(reindex.code == 0);
  CHECK_THAT(reindex.err, Catch::Contains("reindex: 1/1 documents (100%)"));
  CHECK_THAT(reindex.out, Catch::Contains("Memory reindexed."));

  auto rebuild =
      Run({"memory", "rebuild", "--tenant", tenant, "--since", "2025-01-01", "--db", db.url()});
  INFO(rebuild.err);
  REQUIRE(rebuild.code == 0);
  CHECK_THAT(rebuild.err, Catch::Contains("rebuild: 1/1 messages (100%)"));
  CHECK_THAT(rebuild.out, Catch::Contains("Memory rebuilt:"));
  auto bad_since = Run({"memory", "rebuild", "--since", "last tuesday", "--db", db.url()});
  CHECK(bad_since.code == 1);
  CHECK_THAT(bad_since.err, Catch::Contains("--since"));
}

VENTROS_DB_TEST("CLI: route, route eval and fit, agent templates, create and list",
                "[cli][agents]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme", "--db", db.url(), "--json"});
  REQUIRE(created.code == 0);
  std::string tenant(ParseJson(created.out).at("tenant").at("id").as_string());

  auto routed = Run({"route", "--tenant", tenant, "--text", "Quero cancelar, está muito caro",
                     "--json", "--db", db.url()});
  REQUIRE(routed.code == 0);
  CHECK(ParseJson(routed.out).at("category").as_string() == "retention_churn");
  auto table = Run({"route", "--tenant", tenant, "--text", "boleto vencido", "--db", db.url()});
  CHECK(table.code == 0);
  CHECK_THAT(table.out, Catch::Contains("support_billing"));
  CHECK(Run({"route", "--tenant", tenant, "--db", db.url()}).code == 2);

  ventros::testing::TempDir dir;
  std::string file = dir.path() + "/labelled.jsonl";
  {
    std::ofstream f(file);
    f << R"({"text":"quero cancelar meu plano","category":"retention_churn"})"
      << "\n"
      << R"({"text":"minha fatura veio com valor errado","category":"support_billing"})"
      << "\n"
      << R"({"text":"the app crashes with error 500","category":"support_technical"})"
      << "\n";
  }
  auto eval = Run({"route", "eval", "--tenant", tenant, "--file", file, "--db", db.url()});
  REQUIRE(eval.code == 0);
  CHECK_THAT(eval.out, Catch::Contains("accuracy"));
  auto eval_json =
      Run({"route", "eval", "--tenant", tenant, "--file", file, "--json", "--db", db.url()});
  REQUIRE(eval_json.code == 0);
  CHECK(ParseJson(eval_json.out).at("total").as_int64() == 3);
  auto fit = Run({"route", "fit", "--tenant", tenant, "--file", file, "--db", db.url()});
  REQUIRE(fit.code == 0);
  CHECK_THAT(fit.out, Catch::Contains("Thresholds stored"));
  {
    std::ofstream f(file);
    f << "{not json}\n";
  }
  auto bad = Run({"route", "eval", "--tenant", tenant, "--file", file, "--db", db.url()});
  CHECK(bad.code == 1);
  CHECK_THAT(bad.err, Catch::Contains("line 1"));
  CHECK(Run({"route", "eval", "--tenant", tenant, "--file", dir.path() + "/missing.jsonl", "--db",
             db.url()})
            .code == 1);

  auto templates = Run({"agent", "templates", "--json", "--db", db.url()});
  REQUIRE(templates.code == 0);
  CHECK(ParseJson(templates.out).at("items").as_array().size() == 5);
  auto agent = Run({"agent", "create", "--tenant", tenant, "--template", "retention_churn",
                    "--name", "Retenção Bot", "--db", db.url()});
  REQUIRE(agent.code == 0);
  CHECK_THAT(agent.out, Catch::Contains("Retenção Bot"));
  auto dup = Run({"agent", "create", "--tenant", tenant, "--template", "retention_churn", "--name",
                  "Retenção Bot", "--db", db.url()});
  CHECK(dup.code == 1);
  auto unknown = Run({"agent", "create", "--tenant", tenant, "--template", "nope", "--name", "X",
                      "--db", db.url()});
  CHECK(unknown.code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("unknown template"));
  auto list = Run({"agent", "list", "--tenant", tenant, "--json", "--db", db.url()});
  REQUIRE(list.code == 0);
  CHECK(ParseJson(list.out).at("items").as_array().size() == 1);
}

TEST_CASE("CLI: demo answers Leonardo through the fake WAHA with a retention offer",
          "[cli][agents]") {
  auto demo = Run({"demo"});
  INFO(demo.err);
  REQUIRE(demo.code == 0);
  CHECK_THAT(demo.out, Catch::Contains("category retention_churn"));
  CHECK_THAT(demo.out, Catch::Contains("=== MEMORY FACTS ==="));
  CHECK_THAT(demo.out, Catch::Contains("Orçamento de R$ 5.000/mês"));
  CHECK_THAT(demo.out, Catch::Contains("Campaign source: retencao_q4"));
  CHECK_THAT(demo.out, Catch::Contains("Pipeline stage: active_customer (90 days)"));
  CHECK_THAT(demo.out, Catch::Contains("create_retention_offer"));
  CHECK_THAT(demo.out, Catch::Contains("guardrail offer_limits: passed"));
  CHECK_THAT(demo.out, Catch::Contains("30% de desconto por 3 meses"));
  CHECK_THAT(demo.out, Catch::Contains("chatId: 5511987654321@c.us"));
}

VENTROS_DB_TEST("CLI: workflow start, list, show, signal, cancel and trigger", "[cli][workflows]") {
  TestDb db(engine);
  auto created = Run({"tenant", "create", "Acme", "--db", db.url(), "--json"});
  REQUIRE(created.code == 0);
  std::string tenant(ParseJson(created.out).at("tenant").at("id").as_string());
  auto started =
      Run({"workflow", "start", "--tenant", tenant, "--type", "lead_nurturing", "--input",
           R"({"contact_id":"c1"})", "--id", "ln-c1", "--json", "--db", db.url()});
  REQUIRE(started.code == 0);
  CHECK(ParseJson(started.out).at("status").as_string() == "running");
  auto dup = Run({"workflow", "start", "--tenant", tenant, "--type", "lead_nurturing", "--input",
                  R"({"contact_id":"c1"})", "--id", "ln-c1", "--db", db.url()});
  CHECK(dup.code == 1);
  CHECK_THAT(dup.err, Catch::Contains("already running"));
  auto unknown = Run({"workflow", "start", "--tenant", tenant, "--type", "nope", "--db", db.url()});
  CHECK(unknown.code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("lead_nurturing"));
  auto list = Run({"workflow", "list", "--tenant", tenant, "--db", db.url()});
  REQUIRE(list.code == 0);
  CHECK_THAT(list.out, Catch::Contains("ln-c1"));
  auto signal = Run({"workflow", "signal", "--tenant", tenant, "ln-c1", "--name", "contact_replied",
                     "--payload", R"({"reply":true})", "--db", db.url()});
  CHECK(signal.code == 0);
  auto bad = Run({"workflow", "signal", "--tenant", tenant, "ln-c1", "--name", "x", "--payload",
                  "{nope", "--db", db.url()});
  CHECK(bad.code == 1);
  auto cancel = Run({"workflow", "cancel", "--tenant", tenant, "ln-c1", "--db", db.url()});
  CHECK(cancel.code == 0);
  auto show = Run({"workflow", "show", "--tenant", tenant, "ln-c1", "--json", "--db", db.url()});
  REQUIRE(show.code == 0);
  CHECK(ParseJson(show.out).at("history").as_array().size() >= 1);
  CHECK(Run({"workflow", "show", "--tenant", tenant, "nope", "--db", db.url()}).code == 1);
  CHECK(Run({"workflow", "trigger", "--tenant", tenant, "--type", "lead_nurturing", "--enable",
             "--db", db.url()})
            .code == 0);
  CHECK(
      Run({"workflow", "trigger", "--tenant", tenant, "--type", "lead_nurturing", "--db", db.url()})
          .code == 2);
  CHECK(Run({"workflow", "trigger", "--tenant", tenant, "--type", "onboarding", "--enable", "--db",
             db.url()})
            .code == 1);
}
