// Workflows through the whole application on both engines: a subscription starts the customer
// onboarding (the welcome reaches a fake WAHA, the subscription becomes active), a failing outside
// system is compensated in reverse, lead nurturing starts on a new contact when the tenant enables
// it and counts the contact's replies, and the REST surface with bad input and other tenants.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/workflows/builtin.hpp"

using ventros::testing::EventuallyWithin;
using ventros::testing::FakeWaha;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
namespace json = boost::json;

namespace {

constexpr const char* kSecret = "sekret";

ventros::core::Config WorkflowsConfig() {
  auto c = TestServer::DefaultConfig();
  c.modules = {"crm", "memory", "workflows"};
  c.events.poll_interval_ms = 50;
  return c;
}

struct Fixture {
  explicit Fixture(ventros::core::DbEngine engine) : db(engine), s(db.url(), WorkflowsConfig()) {
    channel = ventros::testing::CreateWahaChannel(s, waha.BaseUrl(), waha.api_key(), kSecret);
  }
  void Post(const std::string& body) { ventros::testing::PostWebhook(s, channel, kSecret, body); }

  std::string NewContact(const std::string& phone) {
    auto r = s.Call("POST", "/v1/contacts", s.admin_key(),
                    fmt::format(R"({{"phone":"{}","name":"Leonardo Souza"}})", phone));
    REQUIRE(r.status == 201);
    return std::string(ParseJson(r.body).at("id").as_string());
  }
  json::value Workflow(const std::string& id) {
    auto r = s.Call("GET", "/v1/workflows/" + id, s.admin_key());
    REQUIRE(r.status == 200);
    return ParseJson(r.body);
  }
  std::string Status(const std::string& id) {
    auto r = s.Call("GET", "/v1/workflows/" + id, s.admin_key());
    if (r.status != 200) return "";
    return std::string(ParseJson(r.body).at("status").as_string());
  }

  TestDb db;
  FakeWaha waha;
  TestServer s;
  std::string channel;
};

}  // namespace

VENTROS_DB_TEST(
    "Workflows API: a subscription is onboarded - five steps, a welcome on WhatsApp, "
    "the subscription active",
    "[api][workflows]") {
  Fixture f(engine);
  std::string contact = f.NewContact("5511987654321");
  auto sub = f.s.Call("POST", "/v1/subscriptions", f.s.admin_key(),
                      fmt::format(R"({{"contact_id":"{}","plan":"pro"}})", contact));
  REQUIRE(sub.status == 201);
  std::string sub_id(ParseJson(sub.body).at("id").as_string());
  CHECK(ParseJson(sub.body).at("status").as_string() == "pending");
  const std::string wf = "customer_onboarding:" + sub_id;
  REQUIRE(EventuallyWithin(15, [&] { return f.Status(wf) == "completed"; }));
  CHECK(f.s.server().external_systems()->Operations() ==
        std::vector<std::string>{"create_account", "setup_billing", "ai_welcome",
                                 "provision_resources", "activate_subscription"});
  CHECK(ParseJson(f.s.Call("GET", "/v1/subscriptions/" + sub_id, f.s.admin_key()).body)
            .at("status")
            .as_string() == "active");
  REQUIRE(EventuallyWithin(10, [&] { return f.waha.Calls("POST", "/api/sendText").size() == 1; }));
  CHECK(f.waha.Calls("POST", "/api/sendText")[0].JsonString("text").find("plano pro") !=
        std::string::npos);
  auto doc = f.Workflow(wf);
  CHECK(doc.at("type").as_string() == "customer_onboarding");
  size_t completed = 0;
  for (const auto& h : doc.at("history").as_array()) {
    completed += h.at("kind").as_string() == "activity_completed";
  }
  CHECK(completed == 5);
  auto list = ParseJson(
      f.s.Call("GET", "/v1/workflows?type=customer_onboarding&status=completed", f.s.admin_key())
          .body);
  CHECK(list.at("items").as_array().size() == 1);
  CHECK(f.s.Call("GET", "/v1/subscriptions?contact_id=" + contact, f.s.admin_key()).status == 200);
  CHECK(f.s.Call("POST", "/v1/subscriptions", f.s.admin_key(),
                 R"({"contact_id":"01937f4e-0000-7000-8000-000000000000","plan":"pro"})")
            .status == 404);
  CHECK(f.s.Call("POST", "/v1/subscriptions", f.s.admin_key(),
                 fmt::format(R"({{"contact_id":"{}"}})", contact))
            .status == 400);
}

VENTROS_DB_TEST("Workflows API: a provisioning failure is compensated in reverse order",
                "[api][workflows]") {
  Fixture f(engine);
  f.s.server().external_systems()->FailAlways("provision_resources", "rejected");
  std::string contact = f.NewContact("5511987654322");
  auto sub = f.s.Call("POST", "/v1/subscriptions", f.s.admin_key(),
                      fmt::format(R"({{"contact_id":"{}","plan":"basic"}})", contact));
  REQUIRE(sub.status == 201);
  std::string sub_id(ParseJson(sub.body).at("id").as_string());
  const std::string wf = "customer_onboarding:" + sub_id;
  REQUIRE(EventuallyWithin(15, [&] { return f.Status(wf) == "failed"; }));
  CHECK(f.s.server().external_systems()->Operations() ==
        std::vector<std::string>{"create_account", "setup_billing", "ai_welcome", "send_apology",
                                 "cancel_billing", "delete_account"});
  CHECK(ParseJson(f.s.Call("GET", "/v1/subscriptions/" + sub_id, f.s.admin_key()).body)
            .at("status")
            .as_string() == "cancelled");  // the account's deletion cancels it
  CHECK(f.Workflow(wf).at("error").as_string().find("provision_resources") != std::string::npos);
}

VENTROS_DB_TEST(
    "Workflows API: lead nurturing starts on a new contact when enabled and takes "
    "the contact's replies as signals",
    "[api][workflows]") {
  Fixture f(engine);
  // Not enabled: a new contact starts nothing.
  f.Post(ventros::testing::MessageWebhook("5511911110001", "Oi", "L1"));
  REQUIRE(EventuallyWithin(10, [&] {
    return ParseJson(f.s.Call("GET", "/v1/contacts", f.s.admin_key()).body)
               .at("items")
               .as_array()
               .size() == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(ParseJson(f.s.Call("GET", "/v1/workflows", f.s.admin_key()).body)
            .at("items")
            .as_array()
            .empty());

  auto on = f.s.Call("PUT", "/v1/workflow-triggers/lead_nurturing", f.s.admin_key(),
                     R"({"enabled":true})");
  REQUIRE(on.status == 200);
  CHECK(f.s.Call("PUT", "/v1/workflow-triggers/nope", f.s.admin_key(), R"({"enabled":true})")
            .status == 400);
  CHECK(f.s.Call("PUT", "/v1/workflow-triggers/lead_nurturing", f.s.admin_key(),
                 R"({"enabled":"yes"})")
            .status == 400);
  f.Post(ventros::testing::MessageWebhook("5511922220002", "Olá, quero saber dos planos", "L2"));
  std::string contact;
  REQUIRE(EventuallyWithin(10, [&] {
    auto items = ParseJson(f.s.Call("GET", "/v1/contacts?q=5511922220002", f.s.admin_key()).body)
                     .at("items")
                     .as_array();
    for (const auto& c : items) {
      if (c.at("phone") == "5511922220002") contact = std::string(c.at("id").as_string());
    }
    return !contact.empty();
  }));
  const std::string wf = ventros::workflows::LeadNurturingId(contact);
  REQUIRE(EventuallyWithin(10, [&] {
    auto r = f.s.Call("GET", "/v1/workflows/" + wf, f.s.admin_key());
    return r.status == 200 && ParseJson(r.body).at("waiting_for") == "signal:contact_replied";
  }));
  // The welcome went out.
  REQUIRE(EventuallyWithin(10, [&] {
    for (const auto& c : f.waha.Calls("POST", "/api/sendText")) {
      if (c.JsonString("chatId") == "5511922220002@c.us") return true;
    }
    return false;
  }));
  // A reply is a signal; the workflow counts it and waits again.
  f.Post(ventros::testing::MessageWebhook("5511922220002", "Pode me mandar o preço?", "L3"));
  REQUIRE(EventuallyWithin(10, [&] {
    auto doc = f.Workflow(wf);
    return doc.at("state").as_object().contains("replies") &&
           doc.at("state").at("replies").as_int64() >= 1;
  }));
  // Starting it again by hand: refused while it runs.
  auto again = f.s.Call("POST", "/v1/workflows", f.s.admin_key(),
                        fmt::format(R"({{"type":"lead_nurturing","input":{{"contact_id":"{}"}},)"
                                    R"("id":"{}"}})",
                                    contact, wf));
  CHECK(again.status == 409);
  // Cancel: no compensations, cancelled.
  REQUIRE(f.s.Call("POST", "/v1/workflows/" + wf + "/cancel", f.s.admin_key()).status == 202);
  REQUIRE(EventuallyWithin(10, [&] { return f.Status(wf) == "cancelled"; }));
  CHECK(f.s.Call("POST", "/v1/workflows/" + wf + "/cancel", f.s.admin_key()).status == 404);
}

VENTROS_DB_TEST("Workflows API: start, signal and bad input - another tenant sees nothing",
                "[api][workflows]") {
  Fixture f(engine);
  const std::string admin = f.s.admin_key();
  CHECK(f.s.Call("POST", "/v1/workflows", admin, R"({"type":"nope"})").status == 400);
  CHECK(f.s.Call("POST", "/v1/workflows", admin, R"({"type":"lead_nurturing","input":5})").status ==
        400);
  CHECK(f.s.Call("POST", "/v1/workflows", admin, R"({"input":{}})").status == 400);
  CHECK(f.s.Call("POST", "/v1/workflows", admin, R"({"type":"lead_nurturing","extra":1})").status ==
        400);
  CHECK(f.s.Call("POST", "/v1/workflows", admin, "{nope").status == 400);
  CHECK(f.s.Call("GET", "/v1/workflows?status=sleeping", admin).status == 400);
  CHECK(f.s.Call("GET", "/v1/workflows?colour=red", admin).status == 400);
  CHECK(f.s.Call("GET", "/v1/workflows/does-not-exist", admin).status == 404);
  CHECK(f.s.Call("POST", "/v1/workflows/does-not-exist/signal", admin, R"({"name":"x"})").status ==
        404);
  std::string contact = f.NewContact("5511933330003");
  auto started = f.s.Call(
      "POST", "/v1/workflows", admin,
      fmt::format(R"({{"type":"lead_nurturing","input":{{"contact_id":"{}"}},"id":"ln-manual"}})",
                  contact));
  REQUIRE(started.status == 201);
  REQUIRE(EventuallyWithin(
      10, [&] { return f.Workflow("ln-manual").at("waiting_for") == "signal:contact_replied"; }));
  CHECK(f.s.Call("POST", "/v1/workflows/ln-manual/signal", admin, R"({"payload":{}})").status ==
        400);
  REQUIRE(f.s.Call("POST", "/v1/workflows/ln-manual/signal", admin,
                   R"({"name":"contact_replied","payload":{"reply":true}})")
              .status == 202);
  REQUIRE(EventuallyWithin(10, [&] {
    auto st = f.Workflow("ln-manual").at("state");
    return st.as_object().contains("replies") && st.at("replies").as_int64() == 1;
  }));

  ventros::core::SystemClock clock;
  ventros::crm::TenantService tenants(f.s.server().database(), clock);
  auto other = tenants.CreateTenant("Other");
  REQUIRE(other.ok());
  const std::string key = other->second.secret;
  CHECK(f.s.Call("GET", "/v1/workflows/ln-manual", key).status == 404);
  CHECK(f.s.Call("POST", "/v1/workflows/ln-manual/cancel", key).status == 404);
  CHECK(f.s.Call("POST", "/v1/workflows/ln-manual/signal", key, R"({"name":"contact_replied"})")
            .status == 404);
  CHECK(ParseJson(f.s.Call("GET", "/v1/workflows", key).body).at("items").as_array().empty());
}
