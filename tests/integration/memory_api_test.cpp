// The memory REST API through the whole application on both engines: a WAHA webhook flows into
// the memory (indexer consumer), /v1/memory/search returns the context, facts are recorded and
// read back; bad input is a 400 naming the field, another tenant's contact a 404, roles apply.
// Also the rerank API path against a fake Jina-compatible server on loopback.

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/crm/tenants.hpp"
#include "ventros/memory/local_embedder.hpp"
#include "ventros/memory/memory.hpp"

using ventros::testing::Eventually;
using ventros::testing::ParseJson;
using ventros::testing::TestDb;
using ventros::testing::TestServer;
using ventros::testing::WahaFixture;
namespace json = boost::json;

namespace {

std::string Message(const TestServer::Reply& r) {
  return std::string(ParseJson(r.body).at("error").at("message").as_string());
}

std::string NewKey(TestServer& s, const std::string& role) {
  auto r = s.Call("POST", "/v1/api-keys", s.admin_key(),
                  fmt::format(R"({{"name":"{}","role":"{}"}})", role, role));
  REQUIRE(r.status == 201);
  return std::string(ParseJson(r.body).at("key").as_string());
}

}  // namespace

VENTROS_DB_TEST("Memory API: a webhook becomes searchable memory - facts in and out",
                "[api][memory]") {
  TestDb db(engine);
  TestServer s(db.url());
  const std::string admin = s.admin_key();
  auto ch = s.Call("POST", "/v1/channels", admin,
                   R"({"name":"main","waha_url":"http://127.0.0.1:9","hmac_secret":"sekret"})");
  REQUIRE(ch.status == 201);
  std::string channel(ParseJson(ch.body).at("id").as_string());
  std::string text = WahaFixture("message_text.json");
  ventros::core::HttpClient client;
  ventros::core::HttpClientRequest req;
  req.method = "POST";
  req.url = s.base_url() + "/webhooks/waha/" + channel;
  req.body = text;
  req.headers = {{"Content-Type", "application/json"},
                 {"X-Webhook-Hmac", ventros::core::HmacSha512Hex("sekret", text)}};
  auto hook = client.Send(req);
  REQUIRE(hook.ok());
  REQUIRE(hook->status == 200);

  std::string contact;
  REQUIRE(Eventually([&] {
    auto items = ParseJson(s.Call("GET", "/v1/contacts", admin).body).at("items").as_array();
    if (items.empty()) return false;
    contact = std::string(items[0].at("id").as_string());
    return true;
  }));

  // The indexer catches up on its own thread; the message shows in the baseline.
  json::value result;
  REQUIRE(Eventually([&] {
    auto r = s.Call(
        "POST", "/v1/memory/search", admin,
        fmt::format(R"({{"contact_id":"{}","query":"cancelar caro","strategy":"retention_churn"}})",
                    contact));
    if (r.status != 200) return false;
    result = ParseJson(r.body);
    return !result.at("recent_messages").as_array().empty();
  }));
  CHECK(result.at("strategy") == "retention_churn");
  CHECK(result.at("weights").at("vector").as_double() == Approx(0.5));
  CHECK(result.at("recent_messages").as_array()[0].at("body") ==
        "Quero cancelar minha conta, muito caro");
  std::string ctx(result.at("context").as_string());
  CHECK_THAT(ctx, Catch::Contains("] Contact: \"Quero cancelar minha conta, muito caro\""));
  CHECK_THAT(ctx, Catch::Contains("Name: Leonardo"));
  CHECK(result.at("timings_ms").at("total").as_double() >= 0);
  CHECK(result.at("contact_stats").at("total_sessions") == 1);

  // Facts: recorded by an agent, read by anyone in the tenant, superseded with history kept.
  std::string agent = NewKey(s, "agent");
  std::string readonly = NewKey(s, "readonly");
  std::string facts = "/v1/contacts/" + contact + "/facts";
  auto f1 = s.Call(
      "POST", facts, agent,
      fmt::format(
          R"({{"type":"budget_constraint","text":"R$ 5000/mês","value":{{"amount":5000,"currency":"BRL","period":"month"}},"confidence":0.8,"valid_from":{}}})",
          // Believed from a day ago: the 3000 that supersedes it now leaves a closed interval.
          std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
                  .count() -
              86400000));
  REQUIRE(f1.status == 201);
  std::string f1_id(ParseJson(f1.body).at("id").as_string());
  CHECK(ParseJson(f1.body).at("value").at("amount") == 5000);
  auto f2 = s.Call("POST", facts, agent,
                   fmt::format(R"({{"type":"budget_constraint","text":"R$ 3000/mês",)"
                               R"("supersedes":"{}"}})",
                               f1_id));
  REQUIRE(f2.status == 201);
  // Manual facts only: the memory writer learns from the webhook's message on its own thread.
  auto manual = [&](const std::string& query) {
    json::array out;
    json::value listed = ParseJson(s.Call("GET", facts + query, readonly).body);
    for (const auto& f : listed.at("items").as_array()) {
      if (f.at("origin") == "manual") out.push_back(f);
    }
    return out;
  };
  auto active = manual("");
  REQUIRE(active.size() == 1);
  CHECK(active[0].at("text") == "R$ 3000/mês");
  CHECK(manual("?include_history=true").size() == 3);  // 5000 as believed, 5000 closed, 3000
  // "Quero cancelar minha conta, muito caro": the writer learns a price objection.
  REQUIRE(Eventually([&] {
    json::value listed = ParseJson(s.Call("GET", facts, readonly).body);
    for (const auto& f : listed.at("items").as_array()) {
      if (f.at("origin") == "extracted" && f.at("subject") == "objection:price") return true;
    }
    return false;
  }));
  auto later = s.Call("POST", "/v1/memory/search", agent,
                      fmt::format(R"({{"contact_id":"{}","query":"orçamento"}})", contact));
  REQUIRE(later.status == 200);
  CHECK_THAT(std::string(ParseJson(later.body).at("context").as_string()),
             Catch::Contains("[budget_constraint] R$ 3000/mês (confidence 1.00"));

  // Roles: readonly may read facts but neither search nor write.
  CHECK(s.Call("POST", facts, readonly, R"({"type":"goal","text":"x"})").status == 403);
  CHECK(s.Call("POST", "/v1/memory/search", readonly,
               fmt::format(R"({{"contact_id":"{}","query":"x"}})", contact))
            .status == 403);
  CHECK(s.Call("GET", facts).status == 401);

  // Bad input: a 400 that names the field.
  auto search = [&](const std::string& body) {
    return s.Call("POST", "/v1/memory/search", admin, body);
  };
  auto broken = search("{broken");
  CHECK(broken.status == 400);
  CHECK(ParseJson(broken.body).at("error").at("code") == "invalid_json");
  auto missing = search(R"({"query":"x"})");
  CHECK(missing.status == 400);
  CHECK_THAT(Message(missing), Catch::Contains("contact_id"));
  auto wrong_type =
      search(fmt::format(R"({{"contact_id":"{}","query":"x","top_k":"5"}})", contact));
  CHECK(wrong_type.status == 400);
  CHECK_THAT(Message(wrong_type), Catch::Contains("top_k"));
  auto unknown_field =
      search(fmt::format(R"({{"contact_id":"{}","query":"x","stratgy":"balanced"}})", contact));
  CHECK(unknown_field.status == 400);
  CHECK_THAT(Message(unknown_field), Catch::Contains("stratgy"));
  auto unknown_strategy =
      search(fmt::format(R"({{"contact_id":"{}","query":"x","strategy":"magic"}})", contact));
  CHECK(unknown_strategy.status == 400);
  CHECK_THAT(Message(unknown_strategy), Catch::Contains("support_technical"));
  auto bad_scope = search(fmt::format(
      R"({{"contact_id":"{}","query":"x","knowledge_scope":{{"lookback_days":0}}}})", contact));
  CHECK(bad_scope.status == 400);
  auto bad_fact = s.Call("POST", facts, agent, R"({"type":"horoscope","text":"x"})");
  CHECK(bad_fact.status == 400);
  CHECK_THAT(Message(bad_fact), Catch::Contains("budget_constraint"));
  CHECK(s.Call("GET", facts + "?as_of=yesterday", admin).status == 400);
  // NUL is refused alike on both engines (PostgreSQL cannot store it).
  auto nul_text = s.Call("POST", facts, agent, R"({"type":"goal","text":"a\u0000b"})");
  CHECK(nul_text.status == 400);
  CHECK_THAT(Message(nul_text), Catch::Contains("NUL"));
  CHECK(
      s.Call("POST", facts, agent, R"({"type":"goal","text":"x","value":{"a":"\u0000"}})").status ==
      400);
  CHECK(search(fmt::format(R"({{"contact_id":"{}","query":"a\u0000b"}})", contact)).status == 400);
  CHECK(s.Call("GET", facts + "?colour=red", admin).status == 400);

  // Unknown and other tenants' contacts: 404.
  CHECK(search(R"({"contact_id":"01936f2e-0000-7000-8000-000000000000","query":"x"})").status ==
        404);
  CHECK(s.Call("GET", "/v1/contacts/not-a-uuid/facts", admin).status == 404);
  ventros::core::SystemClock clock;
  ventros::crm::TenantService tenants(s.server().database(), clock);
  auto other = tenants.CreateTenant("Outra");
  REQUIRE(other.ok());
  const std::string other_key = other->second.secret;
  CHECK(s.Call("POST", "/v1/memory/search", other_key,
               fmt::format(R"({{"contact_id":"{}","query":"x"}})", contact))
            .status == 404);
  CHECK(s.Call("GET", facts, other_key).status == 404);
  CHECK(s.Call("POST", facts, other_key, R"({"type":"goal","text":"x"})").status == 404);
}

VENTROS_DB_TEST(
    "Memory API: a configured rerank API orders the hits - when it fails the local "
    "scorer does",
    "[api][memory]") {
  std::atomic<bool> fail{false};
  ventros::testing::FakeHttpServer rerank([&](const ventros::testing::FakeRequest& r) {
    ventros::testing::FakeReply res;
    if (fail) {
      res.status = 400;
      res.body = R"({"detail":"model not loaded"})";
      return res;
    }
    auto body = ParseJson(r.body);
    size_t n = body.at("documents").as_array().size();
    // Best first: the reverse of the order given, with scores 0.9, 0.8, ...
    json::array results;
    for (size_t i = 0; i < n; ++i) {
      results.push_back(
          json::object{{"index", n - 1 - i}, {"relevance_score", 0.9 - 0.1 * double(i)}});
    }
    res.body = json::serialize(json::object{{"results", results}});
    return res;
  });
  TestDb db(engine);
  auto config = TestServer::DefaultConfig();
  config.memory.rerank_url = rerank.Url("/");
  config.memory.rerank_api_key = "rk-secret";
  config.memory.search_cache_ttl_ms = 0;
  TestServer s(db.url(), config);
  const std::string admin = s.admin_key();
  // Three contacts talked about the same thing; a fourth searches.
  std::vector<std::string> contacts;
  for (int i = 0; i < 4; ++i) {
    auto c = s.Call("POST", "/v1/contacts", admin,
                    fmt::format(R"({{"name":"C{}","phone":"55119000000{}"}})", i, i));
    REQUIRE(c.status == 201);
    contacts.emplace_back(ParseJson(c.body).at("id").as_string());
  }
  auto& mem = *s.server().memory();
  std::vector<ventros::memory::MemoryService::BulkSession> sessions;
  for (int i = 0; i < 3; ++i) {
    ventros::memory::MemoryService::BulkSession b;
    b.id = fmt::format("01936f2e-0000-7000-8000-00000000000{}", i);
    b.contact_id = contacts[i];
    b.started_at = 1760000000000 + i * 1000;
    b.ended_at = b.started_at + 500;
    b.messages.push_back({fmt::format("m{}", i), b.id, contacts[i], "contact",
                          fmt::format("Quero cancelar o plano {} porque está caro", i), false,
                          b.started_at});
    sessions.push_back(b);
  }
  REQUIRE(mem.BulkLoad(ventros::crm::TenantId(s.tenant_id()), sessions).ok());

  std::string body = fmt::format(
      R"({{"contact_id":"{}","query":"cancelar caro","weights":{{"keyword":1}},"top_k":3}})",
      contacts[3]);
  auto r = s.Call("POST", "/v1/memory/search", admin, body);
  REQUIRE(r.status == 200);
  auto hits = ParseJson(r.body).at("hits").as_array();
  REQUIRE(hits.size() == 3);
  // The API saw the candidates in fused order and put the last one first.
  auto requests = rerank.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/rerank");
  CHECK(requests[0].Header("Authorization") == "Bearer rk-secret");
  auto sent = ParseJson(requests[0].body);
  CHECK(sent.at("query") == "cancelar caro");
  CHECK(hits[0].at("rerank_score").as_double() == Approx(0.9));
  CHECK(hits[0].at("channels").at("keyword").at("rank") == 3);
  CHECK(hits[2].at("channels").at("keyword").at("rank") == 1);

  // The API fails: the search still answers, ordered by the local scorer.
  fail = true;
  auto fallback = s.Call("POST", "/v1/memory/search", admin, body);
  REQUIRE(fallback.status == 200);
  CHECK(ParseJson(fallback.body).at("hits").as_array().size() == 3);
  CHECK(rerank.Requests().size() >= 2);
}

VENTROS_DB_TEST(
    "Memory API: a hosted OpenAI-compatible embedder feeds the memory - when it is "
    "down search answers without vectors",
    "[api][memory]") {
  // The fake speaks the OpenAI wire format and computes real vectors with the local embedder.
  ventros::memory::LocalEmbedder local;
  std::atomic<bool> down{false};
  ventros::testing::FakeHttpServer openai([&](const ventros::testing::FakeRequest& r) {
    ventros::testing::FakeReply res;
    if (down) {
      res.status = 500;
      res.body = R"({"error":{"message":"overloaded"}})";
      return res;
    }
    auto body = ParseJson(r.body);
    json::array data;
    size_t i = 0;
    for (const auto& input : body.at("input").as_array()) {
      auto v = local.EmbedOne(std::string(input.as_string()));
      json::array values;
      for (float x : v) values.push_back(x);
      data.push_back(json::object{{"index", i++}, {"embedding", values}});
    }
    res.body = json::serialize(json::object{{"data", data}, {"model", body.at("model")}});
    return res;
  });
  TestDb db(engine);
  auto config = TestServer::DefaultConfig();
  config.memory.embedder = "openai";
  config.memory.embedder_url = openai.Url("/");
  config.memory.embedder_model = "nomic-embed-text";
  config.memory.search_cache_ttl_ms = 0;
  TestServer s(db.url(), config);
  const std::string admin = s.admin_key();
  std::vector<std::string> contacts;
  for (int i = 0; i < 3; ++i) {
    auto c = s.Call("POST", "/v1/contacts", admin,
                    fmt::format(R"({{"name":"C{}","phone":"55119000000{}"}})", i, i));
    REQUIRE(c.status == 201);
    contacts.emplace_back(ParseJson(c.body).at("id").as_string());
  }
  auto& mem = *s.server().memory();
  CHECK(mem.embedder().name() == "openai/nomic-embed-text");
  std::vector<ventros::memory::MemoryService::BulkSession> sessions;
  const char* texts[] = {"O aplicativo mostra erro 500 no login", "Quero o preço do plano anual"};
  for (int i = 0; i < 2; ++i) {
    ventros::memory::MemoryService::BulkSession b;
    b.id = fmt::format("01936f2e-0000-7000-8000-0000000000b{}", i);
    b.contact_id = contacts[i];
    b.started_at = 1760000000000 + i * 1000;
    b.ended_at = b.started_at + 500;
    b.messages.push_back(
        {fmt::format("h{}", i), b.id, contacts[i], "contact", texts[i], false, b.started_at});
    sessions.push_back(b);
  }
  REQUIRE(mem.BulkLoad(ventros::crm::TenantId(s.tenant_id()), sessions).ok());
  auto requests = openai.Requests();
  REQUIRE(!requests.empty());
  CHECK(requests[0].target == "/v1/embeddings");
  CHECK(ParseJson(requests[0].body).at("model") == "nomic-embed-text");

  std::string body = fmt::format(
      R"({{"contact_id":"{}","query":"erro 500 ao fazer login","weights":{{"vector":1}}}})",
      contacts[2]);
  auto r = s.Call("POST", "/v1/memory/search", admin, body);
  REQUIRE(r.status == 200);
  auto doc = ParseJson(r.body);
  auto hits = doc.at("hits").as_array();
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].at("session_id") == "01936f2e-0000-7000-8000-0000000000b0");
  CHECK(doc.at("warnings").as_array().empty());

  // The embedder fails: still 200, the vector channel is skipped and the answer says so.
  // (A new query: the one above is in the embedding cache.)
  down = true;
  auto degraded = s.Call(
      "POST", "/v1/memory/search", admin,
      fmt::format(R"({{"contact_id":"{}","query":"erro 501 no login","weights":{{"vector":1}}}})",
                  contacts[2]));
  REQUIRE(degraded.status == 200);
  auto ddoc = ParseJson(degraded.body);
  CHECK(ddoc.at("hits").as_array().empty());
  REQUIRE(ddoc.at("warnings").as_array().size() == 1);
  CHECK_THAT(std::string(ddoc.at("warnings").as_array()[0].as_string()),
             Catch::Contains("vector channel skipped"));
}
