// Observability through the whole application on both engines: a customer's message becomes an
// agent turn whose trace is stored (GET /v1/traces, the span tree), whose tokens count in
// /v1/usage, and whose spans reach an OTLP collector on loopback as protobuf; the embedding map of
// the tenant's sessions.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fake_waha.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/observability/store.hpp"

using ventros::testing::EventuallyWithin;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;
using ventros::testing::FakeWaha;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
namespace json = boost::json;

namespace {}  // namespace

VENTROS_DB_TEST(
    "Observability API: an agent turn is a stored trace, counted in usage and "
    "exported over OTLP",
    "[api][observability]") {
  TestDb db(engine);
  FakeWaha waha;
  std::mutex mu;
  std::vector<FakeRequest> exports;
  FakeHttpServer collector([&](const FakeRequest& r) {
    std::lock_guard lock(mu);
    exports.push_back(r);
    return FakeReply{.status = 200, .headers = {{"Content-Type", "application/x-protobuf"}}};
  });
  auto config = TestServer::DefaultConfig();
  config.modules = {"crm", "memory", "agents", "observability"};
  config.events.poll_interval_ms = 50;
  config.observability.otlp_endpoint = collector.Url("/v1/traces");
  config.observability.otlp_headers = {"api_key: phoenix-key"};
  TestServer s(db.url(), config);
  const std::string admin = s.admin_key();
  std::string channel = ventros::testing::CreateWahaChannel(s, waha.BaseUrl(), waha.api_key(), "k");
  std::string body = ventros::testing::MessageWebhook(
      "5511987654321", "Quero cancelar minha conta, muito caro", "O1");
  ventros::testing::PostWebhook(s, channel, "k", body);
  REQUIRE(EventuallyWithin(15, [&] { return waha.Calls("POST", "/api/sendText").size() == 1; }));

  // The turn's trace, by session.
  auto turns = ParseJson(s.Call("GET", "/v1/agent-turns", admin).body).at("items").as_array();
  REQUIRE(turns.size() == 1);
  const std::string trace(turns[0].at("trace_id").as_string());
  const std::string session(turns[0].at("session_id").as_string());
  REQUIRE(s.server().span_store() != nullptr);
  json::array traces;
  REQUIRE(EventuallyWithin(10, [&] {
    REQUIRE(s.server().span_store()->Flush().ok());
    auto r = s.Call("GET", "/v1/traces?session_id=" + session, admin);
    if (r.status != 200) return false;
    traces = ParseJson(r.body).at("items").as_array();
    return !traces.empty();
  }));
  // The session's traces: its turn and its memory updates.
  bool turn_listed = false, update_listed = false;
  for (const auto& t : traces) {
    turn_listed |= t.at("trace_id").as_string() == trace;
    update_listed |= t.at("name") == "memory.update";
  }
  CHECK(turn_listed);
  CHECK((update_listed || traces.size() == 1));
  auto tree = s.Call("GET", "/v1/traces/" + trace, admin);
  REQUIRE(tree.status == 200);
  CHECK(tree.body.find("\"agent.turn\"") != std::string::npos);
  CHECK(tree.body.find("\"search_memory\"") != std::string::npos);
  CHECK(tree.body.find("RETRIEVER") != std::string::npos);
  CHECK(tree.body.find("\"llm\"") != std::string::npos);
  CHECK(tree.body.find("GUARDRAIL") != std::string::npos);
  CHECK(s.Call("GET", "/v1/traces/" + std::string(32, 'f'), admin).status == 404);
  CHECK(s.Call("GET", "/v1/traces?colour=red", admin).status == 400);

  // The memory update of the session's document is a trace of its own, with its embedding.
  REQUIRE(EventuallyWithin(10, [&] {
    REQUIRE(s.server().span_store()->Flush().ok());
    auto all = ParseJson(s.Call("GET", "/v1/traces?limit=50", admin).body).at("items").as_array();
    for (const auto& t : all) {
      if (t.at("name") == "memory.update") {
        auto tree = s.Call("GET", "/v1/traces/" + std::string(t.at("trace_id").as_string()), admin);
        return tree.body.find("EMBEDDING") != std::string::npos;
      }
    }
    return false;
  }));

  // Tokens by agent (the offline model counts characters / 4).
  auto usage = ParseJson(s.Call("GET", "/v1/usage?group_by=agent", admin).body);
  REQUIRE(!usage.at("items").as_array().empty());
  CHECK(usage.at("items").as_array()[0].at("prompt_tokens").as_int64() > 0);
  CHECK(s.Call("GET", "/v1/usage?group_by=month", admin).status == 400);
  CHECK(s.Call("GET", "/v1/evaluations/flagged", admin).status == 200);
  CHECK(s.Call("GET", "/v1/retrieval/quality", admin).status == 200);

  // The same spans reached the collector as OTLP protobuf with the configured header.
  REQUIRE(EventuallyWithin(10, [&] {
    std::lock_guard lock(mu);
    return !exports.empty();
  }));
  {
    std::lock_guard lock(mu);
    CHECK(exports[0].target == "/v1/traces");
    CHECK(exports[0].Header("Content-Type") == "application/x-protobuf");
    CHECK(exports[0].Header("api_key") == "phoenix-key");
    CHECK(exports[0].body.find("agent.turn") != std::string::npos);
  }

  // The embedding map answers (one session here).
  auto map = s.Call("GET", "/v1/memory/map", admin);
  REQUIRE(map.status == 200);
  CHECK(ParseJson(map.body).at("points").is_array());
  CHECK(s.Call("GET", "/v1/memory/map?limit=0", admin).status == 400);
}
