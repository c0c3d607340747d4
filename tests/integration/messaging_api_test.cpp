// The messaging REST API (channels, contacts, sessions, messages) end to end over loopback HTTP,
// on both engines. The server here is built from the crm module alone (router, authenticator,
// MessagingService), so these tests do not depend on how the application wires it.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "support/test_db.hpp"
#include "ventros/core/embedded.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/http_server.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/tenants.hpp"

using ventros::testing::ParseJson;
using ventros::testing::TestDb;
namespace core = ventros::core;
namespace crm = ventros::crm;
namespace json = boost::json;

namespace {

constexpr const char* kBaseUrl = "http://ventros.test:8080";

struct Reply {
  int status = 0;
  std::string body;
  core::HttpClientResponse raw;

  json::value Json() const { return ParseJson(body); }
  std::string Code() const { return std::string(Json().at("error").at("code").as_string()); }
  std::string Message() const { return std::string(Json().at("error").at("message").as_string()); }
};

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// One tenant with admin, agent and readonly keys, served by the messaging routes on port 0.
class MessagingApi {
 public:
  explicit MessagingApi(core::DbEngine engine)
      : db_(engine),
        database_(db_.OpenMigrated()),
        tenants_(*database_, clock_),
        service_(*database_, clock_) {
    auto created = tenants_.CreateTenant("Acme");
    REQUIRE(created.ok());
    tenant_id = created->first.id.str();
    admin = created->second.secret;
    agent = NewKey(created->first.id, core::Role::kAgent);
    readonly = NewKey(created->first.id, core::Role::kReadonly);
    router_.SetAuthenticator(
        [this](const core::HttpRequest& req) { return tenants_.AuthenticateRequest(req); });
    crm::RegisterMessagingRoutes(router_, service_, std::string(kBaseUrl) + "/");
    core::HttpServerOptions opts;
    opts.host = "127.0.0.1";
    opts.port = 0;
    opts.worker_threads = 4;
    opts.log_requests = false;
    server_ = std::make_unique<core::HttpServer>(opts, router_, core::NullLogger(), metrics_);
    REQUIRE(server_->Start().ok());
  }

  // A second tenant and its admin key.
  std::string OtherTenantAdmin() {
    auto other = tenants_.CreateTenant("Other Co");
    REQUIRE(other.ok());
    return other->second.secret;
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& key,
             const std::string& body = "", const std::string& content_type = "application/json") {
    core::HttpClientRequest req;
    req.method = method;
    req.url = fmt::format("http://127.0.0.1:{}{}", server_->port(), path);
    req.body = body;
    if (!body.empty()) req.headers.emplace_back("Content-Type", content_type);
    if (!key.empty()) req.headers.emplace_back("Authorization", "Bearer " + key);
    req.retry = false;
    auto res = client_.Send(req);
    INFO(method << " " << path << ": " << res.status().ToString());
    REQUIRE(res.ok());
    return {res->status, res->body, *res};
  }

  // Creates and returns a resource, failing the test unless the answer is `expect`.
  json::value Make(const std::string& path, const std::string& key, const std::string& body,
                   int expect = 201) {
    auto r = Call("POST", path, key, body);
    INFO(path << " " << body << " -> " << r.body);
    REQUIRE(r.status == expect);
    return r.Json();
  }

  std::string ChannelId() {
    return Str(Make("/v1/channels", admin,
                    R"({"name":"Main","waha_url":"http://waha:3000","waha_api_key":"k"})")
                   .at("id"));
  }
  std::string ContactId(const std::string& phone) {
    return Str(Make("/v1/contacts", agent, fmt::format(R"({{"phone":"{}"}})", phone)).at("id"));
  }

  // Rows of the outbox: (type, event_key, payload) of the given type.
  std::vector<std::vector<std::string>> Events(const std::string& type) {
    auto conn = database_->Acquire();
    REQUIRE(conn.ok());
    auto rows = (*conn)->Query(
        "SELECT type, event_key, CAST(payload AS TEXT), tenant_id FROM events WHERE type = $1 "
        "ORDER BY seq",
        {core::DbValue(type)});
    REQUIRE(rows.ok());
    std::vector<std::vector<std::string>> out;
    for (const auto& r : rows->rows) {
      out.push_back({r.GetText(0), r.GetText(1), r.GetText(2), r.GetText(3)});
    }
    return out;
  }

  const core::Router& router() const { return router_; }

  std::string tenant_id, admin, agent, readonly;

 private:
  std::string NewKey(const crm::TenantId& tenant, core::Role role) {
    auto key = tenants_.CreateApiKey(tenant, role, std::string(core::RoleName(role)));
    REQUIRE(key.ok());
    return key->secret;
  }

  TestDb db_;
  std::unique_ptr<core::Database> database_;
  core::SystemClock clock_;
  crm::TenantService tenants_;
  crm::MessagingService service_;
  core::Router router_;
  core::MetricsRegistry metrics_;
  std::unique_ptr<core::HttpServer> server_;
  core::HttpClient client_{[] {
    core::HttpClientOptions o;
    o.max_retries = 0;
    o.request_timeout = std::chrono::milliseconds(15000);
    return o;
  }()};
};

std::vector<std::string> Ids(const json::value& page) {
  std::vector<std::string> out;
  for (const auto& item : page.at("items").as_array()) out.push_back(Str(item.at("id")));
  return out;
}

}  // namespace

VENTROS_DB_TEST("Messaging API: admins create, list, read, change and delete channels",
                "[api][messaging]") {
  MessagingApi api(engine);
  auto created = api.Call("POST", "/v1/channels", api.admin,
                          R"({"name":"Sales","waha_url":"https://waha.example.com/",
                              "waha_api_key":"waha-secret-key","waha_session":"sales",
                              "hmac_secret":"hmac-secret-value","session_timeout_ms":600000})");
  REQUIRE(created.status == 201);
  auto c = created.Json();
  std::string id = Str(c.at("id"));
  CHECK(created.raw.Header("Location") == "/v1/channels/" + id);
  CHECK(c.at("name") == "Sales");
  CHECK(c.at("kind") == "waha");
  CHECK(c.at("waha_url") == "https://waha.example.com");
  CHECK(c.at("waha_session") == "sales");
  CHECK(c.at("status") == "UNKNOWN");
  CHECK(c.at("session_timeout_ms") == 600000);
  CHECK(c.at("has_api_key") == true);
  CHECK(c.at("has_hmac_secret") == true);
  // The webhook URL to paste into WAHA, under the public base URL (trailing '/' dropped).
  CHECK(c.at("webhook_url") == fmt::format("{}/webhooks/waha/{}", kBaseUrl, id).c_str());

  auto minimal =
      api.Make("/v1/channels", api.admin, R"({"name":"Support","waha_url":"http://w:3000"})");
  CHECK(minimal.at("waha_session") == "default");
  CHECK(minimal.at("session_timeout_ms").is_null());
  CHECK(minimal.at("has_api_key") == false);
  CHECK(minimal.at("has_hmac_secret") == false);

  auto list = api.Call("GET", "/v1/channels", api.admin);
  REQUIRE(list.status == 200);
  CHECK(list.Json().at("items").as_array().size() == 2);
  auto one = api.Call("GET", "/v1/channels/" + id, api.admin);
  REQUIRE(one.status == 200);
  CHECK(one.Json().at("name") == "Sales");

  // PATCH: only the given fields change; null clears the session timeout.
  auto patched = api.Call("PATCH", "/v1/channels/" + id, api.admin,
                          R"({"name":"Sales BR","session_timeout_ms":null})");
  REQUIRE(patched.status == 200);
  auto p = patched.Json();
  CHECK(p.at("name") == "Sales BR");
  CHECK(p.at("session_timeout_ms").is_null());
  CHECK(p.at("waha_session") == "sales");
  CHECK(p.at("has_api_key") == true);
  auto cleared = api.Call("PATCH", "/v1/channels/" + id, api.admin, R"({"hmac_secret":""})");
  REQUIRE(cleared.status == 200);
  CHECK(cleared.Json().at("has_hmac_secret") == false);
  CHECK(cleared.Json().at("name") == "Sales BR");

  // Secrets never leave the server, in any answer.
  for (const auto& r : {created, list, one, patched, cleared}) {
    CHECK(r.body.find("waha-secret-key") == std::string::npos);
    CHECK(r.body.find("hmac-secret-value") == std::string::npos);
    CHECK(r.body.find("\"waha_api_key\"") == std::string::npos);
    CHECK(r.body.find("\"hmac_secret\"") == std::string::npos);
  }

  CHECK(api.Call("DELETE", "/v1/channels/" + id, api.admin).status == 204);
  CHECK(api.Call("GET", "/v1/channels/" + id, api.admin).status == 404);
  CHECK(api.Call("PATCH", "/v1/channels/" + id, api.admin, R"({"name":"x"})").status == 404);
  CHECK(api.Call("DELETE", "/v1/channels/" + id, api.admin).status == 404);
  CHECK(api.Call("GET", "/v1/channels", api.admin).Json().at("items").as_array().size() == 1);
}

VENTROS_DB_TEST("Messaging API: bad channel input is a 400 naming the field", "[api][messaging]") {
  MessagingApi api(engine);
  auto bad = [&](const std::string& body, const std::string& field) {
    auto r = api.Call("POST", "/v1/channels", api.admin, body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK_THAT(r.Message(), Catch::Contains("'" + field + "'"));
  };
  bad(R"({"name":"x"})", "waha_url");
  bad(R"({"waha_url":"http://w"})", "name");
  bad(R"({"name":"x","waha_url":"ftp://w"})", "waha_url");
  bad(R"({"name":"x","waha_url":"http://w","session_timeout_ms":"600000"})", "session_timeout_ms");
  bad(R"({"name":"x","waha_url":"http://w","session_timeout_ms":600000.5})", "session_timeout_ms");
  bad(R"({"name":"x","waha_url":"http://w","session_timeout_ms":1000})", "session_timeout_ms");
  bad(R"({"name":"x","waha_url":"http://w","waha_api_key":7})", "waha_api_key");
  bad(R"({"name":"x","waha_url":"http://w","webhook":"y"})", "webhook");
  auto malformed = api.Call("POST", "/v1/channels", api.admin, R"({"name":)");
  CHECK(malformed.status == 400);
  CHECK(malformed.Code() == "invalid_json");
  CHECK(api.Call("POST", "/v1/channels", api.admin, R"({"name":"x","waha_url":"http://w"})",
                 "text/plain")
            .status == 415);
  CHECK(api.Call("GET", "/v1/channels", api.admin).Json().at("items").as_array().empty());
}

VENTROS_DB_TEST("Messaging API: contacts are created, read and patched", "[api][messaging]") {
  MessagingApi api(engine);
  auto created =
      api.Call("POST", "/v1/contacts", api.agent,
               R"({"phone":"+55 (11) 99999-0001","name":"Ana","tags":["lead","vip","lead"],
                              "custom_fields":{"plan":"pro","seats":3},"utm_source":"instagram",
                              "utm_medium":"social","utm_campaign":"spring","utm_content":"reel",
                              "utm_term":"crm","pipeline_stage":"lead"})");
  REQUIRE(created.status == 201);
  auto c = created.Json();
  std::string id = Str(c.at("id"));
  CHECK(created.raw.Header("Location") == "/v1/contacts/" + id);
  CHECK(c.at("phone") == "5511999990001");
  CHECK(c.at("name") == "Ana");
  CHECK(c.at("wa_ids") == json::parse(R"(["5511999990001@c.us"])"));
  CHECK(c.at("tags") == json::parse(R"(["lead","vip"])"));
  CHECK(c.at("custom_fields") == json::parse(R"({"plan":"pro","seats":3})"));
  CHECK(c.at("attribution").at("utm_source") == "instagram");
  CHECK(c.at("attribution").at("utm_term") == "crm");
  CHECK_FALSE(c.at("attribution").at("first_seen_at").is_null());
  CHECK(c.at("pipeline_stage") == "lead");
  CHECK_FALSE(c.at("stage_entered_at").is_null());

  auto got = api.Call("GET", "/v1/contacts/" + id, api.readonly);
  REQUIRE(got.status == 200);
  CHECK(got.Json().at("custom_fields") == c.at("custom_fields"));
  CHECK(got.Json().at("tags") == c.at("tags"));

  auto patched =
      api.Call("PATCH", "/v1/contacts/" + id, api.agent,
               R"({"name":"Ana Paula","tags":["customer"],"custom_fields":{"plan":"team"}})");
  REQUIRE(patched.status == 200);
  auto p = patched.Json();
  CHECK(p.at("name") == "Ana Paula");
  CHECK(p.at("tags") == json::parse(R"(["customer"])"));
  CHECK(p.at("custom_fields") == json::parse(R"({"plan":"team"})"));
  CHECK(p.at("phone") == "5511999990001");  // untouched
  CHECK(p.at("attribution").at("utm_source") == "instagram");
  CHECK(api.Call("GET", "/v1/contacts/" + id, api.agent).Json().at("name") == "Ana Paula");
  CHECK(api.Events("contact.created").size() == 1);
  CHECK(api.Events("contact.updated").size() == 1);

  // A name alone is enough; so is a phone alone.
  CHECK(api.Make("/v1/contacts", api.agent, R"({"name":"Walk-in"})").at("phone").is_null());

  // The same phone twice in a tenant: 409, whether created or patched into place.
  auto dup = api.Call("POST", "/v1/contacts", api.agent, R"({"phone":"5511999990001"})");
  CHECK(dup.status == 409);
  CHECK(dup.Code() == "already_exists");
  std::string other = api.ContactId("5511999990002");
  auto dup_patch =
      api.Call("PATCH", "/v1/contacts/" + other, api.agent, R"({"phone":"+5511999990001"})");
  CHECK(dup_patch.status == 409);
  CHECK(api.Call("GET", "/v1/contacts/" + other, api.agent).Json().at("phone") == "5511999990002");
}

VENTROS_DB_TEST("Messaging API: bad contact input is a 400 naming the field and creates nothing",
                "[api][messaging]") {
  MessagingApi api(engine);
  std::string id = api.ContactId("5511999990001");
  auto bad = [&](const std::string& method, const std::string& path, const std::string& body,
                 const std::string& needle) {
    auto r = api.Call(method, path, api.agent, body);
    INFO(method << " " << path << " " << body << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK_THAT(r.Message(), Catch::Contains(needle));
  };
  for (std::string method : {"POST", "PATCH"}) {
    std::string path = method == "POST" ? "/v1/contacts" : "/v1/contacts/" + id;
    bad(method, path, R"({"phone":"call me"})", "phone");
    bad(method, path, R"({"phone":"123"})", "8 to 15 digits");
    bad(method, path, R"({"phone":5511999990009})", "'phone' must be a string");
    bad(method, path, R"({"name":"x","tags":"vip"})", "'tags' must be an array of strings");
    bad(method, path, R"({"name":"x","tags":["vip",1]})", "'tags' must be an array of strings");
    bad(method, path, R"({"name":"x","tags":[""]})", "'tags'");
    bad(method, path, R"({"name":"x","custom_fields":["a"]})",
        "'custom_fields' must be a JSON object");
    bad(method, path, R"({"name":"x","custom_fields":"{}"})",
        "'custom_fields' must be a JSON object");
    bad(method, path, R"({"name":"x","pipeline_stage":""})", "'pipeline_stage'");
    bad(method, path, R"({"name":"x","utm_source":42})", "'utm_source'");
    bad(method, path, R"({"name":"x","stage":"lead"})", "unknown field 'stage'");
    bad(method, path, fmt::format(R"({{"name":"{}"}})", std::string(201, 'n')), "'name'");
  }
  bad("POST", "/v1/contacts", R"({"tags":["vip"]})", "'phone' or a 'name'");
  CHECK(api.Call("POST", "/v1/contacts", api.agent, "[1]").Code() == "invalid_json");
  CHECK(api.Call("POST", "/v1/contacts", api.agent, R"({"name":"x"})", "text/plain").status == 415);
  auto all = api.Call("GET", "/v1/contacts", api.readonly).Json();
  CHECK(all.at("items").as_array().size() == 1);
  CHECK(all.at("items").at(0).at("phone") == "5511999990001");
}

VENTROS_DB_TEST("Messaging API: contacts are listed by search, tag and stage, a page at a time",
                "[api][messaging]") {
  MessagingApi api(engine);
  const std::vector<std::string> names = {"Alice", "Bruno", "Carla", "Daniel",
                                          "Eva",   "Fabio", "Gabi"};
  std::vector<std::string> ids;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string tags = i % 2 == 0 ? R"(["vip"])" : R"(["cold"])";
    std::string stage = i < 3 ? "lead" : "customer";
    ids.push_back(Str(api.Make("/v1/contacts", api.agent,
                               fmt::format(R"({{"phone":"551190000000{}","name":"{}","tags":{},
                                               "pipeline_stage":"{}"}})",
                                           i + 1, names[i], tags, stage))
                          .at("id")));
  }

  // Pages of 3: 3 + 3 + 1, in id order, no repeats, next_cursor null at the end.
  std::vector<std::string> seen;
  std::string cursor;
  std::vector<size_t> sizes;
  for (int guard = 0; guard < 10; ++guard) {
    auto r = api.Call("GET", "/v1/contacts?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor),
                      api.readonly);
    REQUIRE(r.status == 200);
    auto page = r.Json();
    auto page_ids = Ids(page);
    sizes.push_back(page_ids.size());
    seen.insert(seen.end(), page_ids.begin(), page_ids.end());
    if (page.at("next_cursor").is_null()) break;
    cursor = Str(page.at("next_cursor"));
  }
  CHECK(sizes == std::vector<size_t>{3, 3, 1});
  CHECK(seen == ids);
  auto full = api.Call("GET", "/v1/contacts", api.readonly).Json();
  CHECK(Ids(full) == ids);
  CHECK(full.at("next_cursor").is_null());

  auto query = [&](const std::string& q) {
    auto r = api.Call("GET", "/v1/contacts?" + q, api.readonly);
    INFO(q << " -> " << r.body);
    REQUIRE(r.status == 200);
    return Ids(r.Json());
  };
  CHECK(query("q=CARL") == std::vector<std::string>{ids[2]});
  CHECK(query("q=5511900000005") == std::vector<std::string>{ids[4]});
  CHECK(query("q=nobody").empty());
  CHECK(query("tag=vip") == std::vector<std::string>{ids[0], ids[2], ids[4], ids[6]});
  CHECK(query("stage=lead") == std::vector<std::string>{ids[0], ids[1], ids[2]});
  CHECK(query("tag=vip&stage=lead") == std::vector<std::string>{ids[0], ids[2]});
  CHECK(query("tag=vip&stage=customer&limit=1") == std::vector<std::string>{ids[4]});
  CHECK(query("tag=vi").empty());  // whole tags only
  CHECK(query("q=&tag=&stage=").size() == 7);

  for (std::string q : {"limit=0", "limit=201", "limit=abc", "limit=3.5", "limit=-1",
                        "cursor=not-a-cursor", "sort=name"}) {
    auto r = api.Call("GET", "/v1/contacts?" + q, api.readonly);
    INFO(q << " -> " << r.body);
    CHECK(r.status == 400);
    CHECK(r.Code() == "invalid_argument");
  }
  CHECK_THAT(api.Call("GET", "/v1/contacts?limit=0", api.readonly).Message(),
             Catch::Contains("'limit'"));
  CHECK(query("limit=200").size() == 7);
}

VENTROS_DB_TEST("Messaging API: a stage change shows in the contact's timeline",
                "[api][messaging]") {
  MessagingApi api(engine);
  std::string id = Str(
      api.Make("/v1/contacts", api.agent, R"({"name":"Bia","pipeline_stage":"lead"})").at("id"));
  auto before = api.Call("GET", "/v1/contacts/" + id + "/events", api.readonly);
  REQUIRE(before.status == 200);
  CHECK(before.Json().at("items").as_array().empty());
  CHECK(before.Json().at("next_cursor").is_null());

  REQUIRE(api.Call("PATCH", "/v1/contacts/" + id, api.agent, R"({"pipeline_stage":"proposal"})")
              .status == 200);
  // The same stage again is not a change.
  REQUIRE(api.Call("PATCH", "/v1/contacts/" + id, api.agent, R"({"pipeline_stage":"proposal"})")
              .status == 200);
  REQUIRE(
      api.Call("PATCH", "/v1/contacts/" + id, api.agent, R"({"pipeline_stage":"won"})").status ==
      200);
  auto events = api.Call("GET", "/v1/contacts/" + id + "/events", api.readonly);
  REQUIRE(events.status == 200);
  auto items = events.Json().at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("category") == "stage_changed");
  CHECK(items[0].at("contact_id") == id.c_str());
  CHECK(items[0].at("metadata") == json::parse(R"({"from":"lead","to":"proposal"})"));
  CHECK_THAT(Str(items[0].at("summary")), Catch::Contains("proposal"));
  CHECK(items[1].at("metadata") == json::parse(R"({"from":"proposal","to":"won"})"));

  auto first = api.Call("GET", "/v1/contacts/" + id + "/events?limit=1", api.readonly).Json();
  REQUIRE(first.at("items").as_array().size() == 1);
  REQUIRE(first.at("next_cursor").is_string());
  auto second =
      api.Call("GET",
               "/v1/contacts/" + id + "/events?limit=1&cursor=" + Str(first.at("next_cursor")),
               api.readonly)
          .Json();
  CHECK(Ids(second) == std::vector<std::string>{Str(items[1].at("id"))});
  CHECK(second.at("next_cursor").is_null());
  CHECK(api.Call("GET", "/v1/contacts/" + id + "/events?limit=500", api.readonly).status == 400);
  CHECK(api.Call("GET", "/v1/contacts/" + id + "/events?q=x", api.readonly).status == 400);
}

VENTROS_DB_TEST("Messaging API: POST /v1/messages queues the message and emits send_requested",
                "[api][messaging]") {
  MessagingApi api(engine);
  std::string channel = api.ChannelId();
  std::string contact = api.ContactId("5511999990001");

  auto sent = api.Call("POST", "/v1/messages", api.agent,
                       fmt::format(R"({{"contact_id":"{}","text":"Olá, tudo bem?"}})", contact));
  REQUIRE(sent.status == 202);
  auto m = sent.Json();
  std::string id = Str(m.at("id"));
  CHECK(sent.raw.Header("Location") == "/v1/messages/" + id);
  CHECK(m.at("status") == "queued");
  CHECK(m.at("direction") == "out");
  CHECK(m.at("from_me") == true);
  CHECK(m.at("source") == "api");
  CHECK(m.at("type") == "text");
  CHECK(m.at("body") == "Olá, tudo bem?");
  CHECK(m.at("chat_id") == "5511999990001@c.us");
  CHECK(m.at("contact_id") == contact.c_str());
  CHECK(m.at("channel_id") == channel.c_str());
  CHECK(m.at("session_id").is_string());
  CHECK(m.at("waha_id").is_null());

  // The outbox holds the request for the WAHA sender, keyed by the contact.
  auto events = api.Events("message.send_requested");
  REQUIRE(events.size() == 1);
  CHECK(events[0][1] == contact);
  CHECK(events[0][3] == api.tenant_id);
  auto payload = ParseJson(events[0][2]);
  CHECK(payload.at("id") == id.c_str());
  CHECK(payload.at("status") == "queued");

  // To a chat id (a new person), with reply_to and an explicit channel.
  auto to_chat =
      api.Call("POST", "/v1/messages", api.agent,
               fmt::format(R"({{"chat_id":"5511988887777@c.us","text":"Oi","reply_to":"3EB0A1",
                               "channel_id":"{}"}})",
                           channel));
  REQUIRE(to_chat.status == 202);
  CHECK(to_chat.Json().at("reply_to") == "3EB0A1");
  CHECK(to_chat.Json().at("chat_id") == "5511988887777@c.us");
  CHECK(api.Events("message.send_requested").size() == 2);
  auto new_contact = api.Call("GET", "/v1/contacts?q=5511988887777", api.readonly).Json();
  CHECK(new_contact.at("items").as_array().size() == 1);

  // Reads.
  auto got = api.Call("GET", "/v1/messages/" + id, api.readonly);
  REQUIRE(got.status == 200);
  CHECK(got.Json().at("body") == "Olá, tudo bem?");
  CHECK(Ids(api.Call("GET", "/v1/messages?contact_id=" + contact, api.readonly).Json()) ==
        std::vector<std::string>{id});
  CHECK(Ids(api.Call("GET", "/v1/messages?session_id=" + Str(m.at("session_id")), api.readonly)
                .Json()) == std::vector<std::string>{id});
  auto all = api.Call("GET", "/v1/messages?limit=1", api.readonly).Json();
  CHECK(Ids(all) == std::vector<std::string>{id});
  REQUIRE(all.at("next_cursor").is_string());
  auto rest =
      api.Call("GET", "/v1/messages?cursor=" + Str(all.at("next_cursor")), api.readonly).Json();
  CHECK(rest.at("items").as_array().size() == 1);
  CHECK(rest.at("next_cursor").is_null());
  CHECK(api.Call("GET", "/v1/messages?contact_id=nope", api.readonly).status == 400);
  CHECK(api.Call("GET", "/v1/messages?session_id=nope", api.readonly).status == 400);

  // Bad requests create nothing.
  auto bad = [&](const std::string& body, int status, const std::string& needle) {
    auto r = api.Call("POST", "/v1/messages", api.agent, body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == status);
    CHECK_THAT(r.Message(), Catch::Contains(needle));
  };
  bad(fmt::format(R"({{"contact_id":"{}","chat_id":"5511988887777@c.us","text":"x"}})", contact),
      400, "exactly one");
  bad(R"({"text":"x"})", 400, "exactly one");
  bad(fmt::format(R"({{"contact_id":"{}"}})", contact), 400, "'text'");
  bad(fmt::format(R"({{"contact_id":"{}","text":""}})", contact), 400, "'text'");
  bad(fmt::format(R"({{"contact_id":"{}","text":5}})", contact), 400, "'text'");
  bad(fmt::format(R"({{"contact_id":"{}","text":"x","priority":1}})", contact), 400, "'priority'");
  bad(R"({"contact_id":"01936f2e-0000-7000-8000-000000000000","text":"x"})", 404, "not found");
  bad(fmt::format(
          R"({{"contact_id":"{}","text":"x","channel_id":"01936f2e-0000-7000-8000-000000000000"}})",
          contact),
      404, "not found");
  CHECK(api.Events("message.send_requested").size() == 2);
}

VENTROS_DB_TEST("Messaging API: sessions are listed, read and closed once", "[api][messaging]") {
  MessagingApi api(engine);
  api.ChannelId();
  std::string ana = api.ContactId("5511999990001");
  std::string bia = api.ContactId("5511999990002");
  auto send = [&](const std::string& contact) {
    return Str(api.Make("/v1/messages", api.agent,
                        fmt::format(R"({{"contact_id":"{}","text":"hi"}})", contact), 202)
                   .at("session_id"));
  };
  std::string ana_session = send(ana);
  CHECK(send(ana) == ana_session);  // one active session per contact and channel
  std::string bia_session = send(bia);

  auto list = api.Call("GET", "/v1/sessions", api.readonly);
  REQUIRE(list.status == 200);
  CHECK(Ids(list.Json()) == std::vector<std::string>{ana_session, bia_session});
  CHECK(Ids(api.Call("GET", "/v1/sessions?contact_id=" + bia, api.readonly).Json()) ==
        std::vector<std::string>{bia_session});
  CHECK(Ids(api.Call("GET", "/v1/sessions?status=active&limit=1", api.readonly).Json()) ==
        std::vector<std::string>{ana_session});
  CHECK(api.Call("GET", "/v1/sessions?status=ended", api.readonly)
            .Json()
            .at("items")
            .as_array()
            .empty());
  CHECK(api.Call("GET", "/v1/sessions?status=closed", api.readonly).status == 400);
  CHECK(api.Call("GET", "/v1/sessions?contact_id=nope", api.readonly).status == 400);

  auto got = api.Call("GET", "/v1/sessions/" + ana_session, api.readonly);
  REQUIRE(got.status == 200);
  auto s = got.Json();
  CHECK(s.at("status") == "active");
  CHECK(s.at("contact_id") == ana.c_str());
  CHECK(s.at("message_count") == 2);
  CHECK(s.at("ended_at").is_null());

  // Without a body the reason is "manual"; closing twice is a conflict.
  auto closed = api.Call("POST", "/v1/sessions/" + ana_session + "/close", api.agent);
  REQUIRE(closed.status == 200);
  CHECK(closed.Json().at("status") == "ended");
  CHECK(closed.Json().at("end_reason") == "manual");
  CHECK(closed.Json().at("ended_at").is_string());
  auto again = api.Call("POST", "/v1/sessions/" + ana_session + "/close", api.agent);
  CHECK(again.status == 409);
  CHECK(again.Code() == "conflict");
  CHECK(api.Call("GET", "/v1/sessions/" + ana_session, api.readonly).Json().at("status") ==
        "ended");
  CHECK(api.Events("session.ended").size() == 1);

  auto bad_reason = api.Call("POST", "/v1/sessions/" + bia_session + "/close", api.agent,
                             R"({"reason":"bored"})");
  CHECK(bad_reason.status == 400);
  CHECK_THAT(bad_reason.Message(), Catch::Contains("'reason'"));
  CHECK(api.Call("POST", "/v1/sessions/" + bia_session + "/close", api.agent, R"({"why":"x"})")
            .status == 400);
  auto by_agent = api.Call("POST", "/v1/sessions/" + bia_session + "/close", api.agent,
                           R"({"reason":"agent"})");
  REQUIRE(by_agent.status == 200);
  CHECK(by_agent.Json().at("end_reason") == "agent");
  CHECK(Ids(api.Call("GET", "/v1/sessions?status=ended", api.readonly).Json()) ==
        std::vector<std::string>{ana_session, bia_session});

  // The timeline tells the story.
  std::set<std::string> categories;
  auto timeline = api.Call("GET", "/v1/contacts/" + ana + "/events", api.readonly).Json();
  for (const auto& e : timeline.at("items").as_array()) {
    categories.insert(Str(e.at("category")));
  }
  CHECK(categories == std::set<std::string>{"session_started", "session_ended"});
}

VENTROS_DB_TEST("Messaging API: another tenant's ids answer 404 on every route",
                "[api][messaging][auth]") {
  MessagingApi api(engine);
  std::string channel = api.ChannelId();
  std::string contact = api.ContactId("5511999990001");
  auto m = api.Make("/v1/messages", api.agent,
                    fmt::format(R"({{"contact_id":"{}","text":"hi"}})", contact), 202);
  std::string message = Str(m.at("id"));
  std::string session = Str(m.at("session_id"));
  std::string other = api.OtherTenantAdmin();

  struct Probe {
    std::string method, path, body;
  };
  auto probes = [&](const std::string& ch, const std::string& co, const std::string& se,
                    const std::string& me) {
    return std::vector<Probe>{
        {"GET", "/v1/channels/" + ch, ""},
        {"PATCH", "/v1/channels/" + ch, R"({"name":"mine now"})"},
        {"DELETE", "/v1/channels/" + ch, ""},
        {"GET", "/v1/contacts/" + co, ""},
        {"PATCH", "/v1/contacts/" + co, R"({"name":"mine now"})"},
        {"GET", "/v1/contacts/" + co + "/events", ""},
        {"GET", "/v1/sessions/" + se, ""},
        {"POST", "/v1/sessions/" + se + "/close", ""},
        {"GET", "/v1/messages/" + me, ""},
    };
  };
  // Their ids, unknown ids and ids that are not UUIDs all look the same: 404.
  const std::string unknown = "01936f2e-0000-7000-8000-000000000000";
  for (const auto& set :
       {probes(channel, contact, session, message), probes(unknown, unknown, unknown, unknown),
        probes("nope", "nope", "nope", "nope")}) {
    for (const auto& p : set) {
      auto r = api.Call(p.method, p.path, other, p.body);
      INFO(p.method << " " << p.path << " -> " << r.body);
      CHECK(r.status == 404);
      CHECK(r.Code() == "not_found");
      CHECK(r.body.find("Acme") == std::string::npos);
    }
  }
  // Their ids cannot be used in a send either, and their lists are empty.
  auto send = api.Call("POST", "/v1/messages", other,
                       fmt::format(R"({{"contact_id":"{}","text":"x"}})", contact));
  CHECK(send.status == 404);
  for (const std::string& path : std::vector<std::string>{
           "/v1/channels", "/v1/contacts", "/v1/sessions", "/v1/messages",
           "/v1/sessions?contact_id=" + contact, "/v1/messages?session_id=" + session}) {
    auto r = api.Call("GET", path, other);
    INFO(path);
    REQUIRE(r.status == 200);
    CHECK(r.Json().at("items").as_array().empty());
  }
  // Nothing of ours changed.
  CHECK(api.Call("GET", "/v1/channels/" + channel, api.admin).Json().at("name") == "Main");
  CHECK(api.Call("GET", "/v1/contacts/" + contact, api.agent).Json().at("name") == "");
  CHECK(api.Call("GET", "/v1/sessions/" + session, api.agent).Json().at("status") == "active");
  CHECK(api.Events("message.send_requested").size() == 1);
}

VENTROS_DB_TEST("Messaging API: readonly keys read but may not write - channels need admin",
                "[api][messaging][auth]") {
  MessagingApi api(engine);
  std::string channel = api.ChannelId();
  std::string contact = api.ContactId("5511999990001");
  auto m = api.Make("/v1/messages", api.agent,
                    fmt::format(R"({{"contact_id":"{}","text":"hi"}})", contact), 202);
  std::string session = Str(m.at("session_id"));

  for (const std::string& path : std::vector<std::string>{
           "/v1/contacts", "/v1/contacts/" + contact, "/v1/contacts/" + contact + "/events",
           "/v1/sessions", "/v1/sessions/" + session, "/v1/messages",
           "/v1/messages/" + Str(m.at("id"))}) {
    INFO(path);
    CHECK(api.Call("GET", path, api.readonly).status == 200);
    CHECK(api.Call("GET", path, "").status == 401);
  }
  struct Write {
    std::string method, path, body;
  };
  const std::vector<Write> writes = {
      {"POST", "/v1/contacts", R"({"name":"x"})"},
      {"PATCH", "/v1/contacts/" + contact, R"({"name":"x"})"},
      {"POST", "/v1/sessions/" + session + "/close", ""},
      {"POST", "/v1/messages", fmt::format(R"({{"contact_id":"{}","text":"x"}})", contact)},
  };
  for (const auto& w : writes) {
    auto r = api.Call(w.method, w.path, api.readonly, w.body);
    INFO(w.method << " " << w.path);
    CHECK(r.status == 403);
    CHECK(r.Code() == "permission_denied");
  }
  const std::vector<Write> admin_only = {
      {"GET", "/v1/channels", ""},
      {"POST", "/v1/channels", R"({"name":"x","waha_url":"http://w"})"},
      {"GET", "/v1/channels/" + channel, ""},
      {"PATCH", "/v1/channels/" + channel, R"({"name":"x"})"},
      {"DELETE", "/v1/channels/" + channel, ""},
  };
  for (const auto& w : admin_only) {
    for (const auto& key : {api.agent, api.readonly}) {
      INFO(w.method << " " << w.path);
      CHECK(api.Call(w.method, w.path, key, w.body).status == 403);
    }
  }
  // Nothing was written.
  CHECK(api.Call("GET", "/v1/contacts", api.readonly).Json().at("items").as_array().size() == 1);
  CHECK(api.Call("GET", "/v1/sessions/" + session, api.readonly).Json().at("status") == "active");
  CHECK(api.Call("GET", "/v1/channels/" + channel, api.admin).Json().at("name") == "Main");
  CHECK(api.Events("message.send_requested").size() == 1);
}

TEST_CASE("Messaging API: every messaging route and the WAHA webhook are in /openapi.json",
          "[api][messaging][openapi]") {
  MessagingApi api(core::DbEngine::kSqlite);
  auto doc = ParseJson(std::string(core::EmbeddedOpenApi()));
  const auto& paths = doc.at("paths").as_object();
  std::set<std::string> wanted = {"POST /webhooks/waha/{channel_id}"};
  for (const auto& route : api.router().routes()) wanted.insert(route.method + " " + route.pattern);
  CHECK(wanted.size() == 18);  // 17 REST routes and the webhook
  for (const auto& entry : wanted) {
    INFO(entry);
    std::string method = entry.substr(0, entry.find(' '));
    std::string path = entry.substr(entry.find(' ') + 1);
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    REQUIRE(paths.contains(path));
    REQUIRE(paths.at(path).as_object().contains(method));
    const auto& op = paths.at(path).at(method).as_object();
    CHECK(op.contains("responses"));
    CHECK(op.contains("summary"));
  }
}

VENTROS_DB_TEST(
    "MessagingService: a phone change sends to the new number and '%' matches literally",
    "[messaging]") {
  ventros::testing::TestDb db(engine);
  auto database = db.OpenMigrated();
  ventros::core::VirtualClock clock;
  ventros::crm::TenantService tenants(*database, clock);
  ventros::crm::MessagingService svc(*database, clock);
  auto t = tenants.CreateTenant("T");
  REQUIRE(t.ok());
  ventros::crm::ChannelInput ch;
  ch.name = "main";
  ch.waha_url = "http://127.0.0.1:3000";
  REQUIRE(svc.CreateChannel(t->first.id, ch).ok());
  ventros::crm::ContactInput in;
  in.phone = "5511999990002";
  in.name = "100% Ana";
  auto c = svc.CreateContact(t->first.id, in);
  REQUIRE(c.ok());
  ventros::crm::ContactInput patch;
  patch.phone = "5511999990001";
  auto updated = svc.UpdateContact(t->first.id, c->id, patch);
  REQUIRE(updated.ok());
  CHECK(updated->wa_ids == std::vector<std::string>{"5511999990001@c.us"});
  ventros::crm::MessagingService::SendRequest req;
  req.contact = c->id;
  req.text = "Oi";
  auto m = svc.RequestSend(t->first.id, req);
  REQUIRE(m.ok());
  CHECK(m->chat_id == "5511999990001@c.us");
  ventros::crm::ContactFilter pct;
  pct.query = "100%";
  CHECK(svc.ListContacts(t->first.id, pct, {})->items.size() == 1);
  pct.query = "%";
  CHECK(svc.ListContacts(t->first.id, pct, {})->items.size() == 1);  // only the literal '%'
  ventros::crm::ContactInput other;
  other.name = "Bruno";
  REQUIRE(svc.CreateContact(t->first.id, other).ok());
  pct.query = "_";
  CHECK(svc.ListContacts(t->first.id, pct, {})->items.empty());
}
