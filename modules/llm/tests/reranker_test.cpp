#include "ventros/llm/reranker.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "ventros/core/http_client.hpp"

namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using ventros::core::HttpClient;
using ventros::core::HttpClientOptions;
using ventros::core::StatusCode;
using ventros::llm::MakeRerankApi;
using ventros::llm::RerankApiOptions;
using ventros::llm::Reranker;
using ventros::llm::RerankScore;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;

constexpr const char* kKey = "jina_test_SECRET_abcdef";

HttpClientOptions ClientOptions() {
  HttpClientOptions options;
  options.connect_timeout = milliseconds(1000);
  options.request_timeout = milliseconds(2000);
  options.sleep = [](milliseconds) { FAIL("HttpClient itself must not retry these requests"); };
  return options;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

json::object BodyOf(const FakeRequest& request) { return json::parse(request.body).as_object(); }

FakeReply Json(const json::value& body, int status = 200) {
  return FakeReply{.status = status,
                   .headers = {{"Content-Type", "application/json"}},
                   .body = json::serialize(body)};
}

// Jina's answer: results carry the document text back unless told otherwise.
FakeReply JinaAnswer(const std::vector<std::pair<size_t, double>>& results,
                     const std::vector<std::string>& documents) {
  json::array items;
  for (const auto& [index, score] : results) {
    items.push_back(json::object{{"index", index},
                                 {"document", json::object{{"text", documents.at(index)}}},
                                 {"relevance_score", score}});
  }
  return Json(json::object{{"model", "jina-reranker-v2-base-multilingual"},
                           {"usage", json::object{{"total_tokens", 42}}},
                           {"results", std::move(items)}});
}

const std::vector<std::string> kDocuments = {
    "O boleto de março venceu ontem", "Quero cancelar minha assinatura",
    "Qual o horário de atendimento?", "O app mostra erro 500 ao pagar"};

struct Fixture {
  HttpClient http{ClientOptions()};
  std::vector<milliseconds> sleeps;

  RerankApiOptions Options(const std::string& base_url) {
    RerankApiOptions options;
    options.base_url = base_url;
    options.api_key = kKey;
    options.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    return options;
  }

  std::unique_ptr<Reranker> Make(const RerankApiOptions& options) {
    auto made = MakeRerankApi(options, http);
    REQUIRE(made.ok());
    return std::move(made).value();
  }
};

}  // namespace

TEST_CASE("RerankApi: posts model, query, documents and top_n - answers best first", "[llm]") {
  // Out of order on purpose: the order is the client's guarantee, not the provider's.
  FakeHttpServer server(FakeHttpServer::Script({JinaAnswer({{1, 0.42}, {3, 0.91}}, kDocuments)}));
  Fixture f;
  auto reranker = f.Make(f.Options(server.Url("")));
  CHECK(reranker->name() == "rerank/jina-reranker-v2-base-multilingual");

  auto scores = reranker->Rerank("pagamento com erro", kDocuments, 2);
  REQUIRE(scores.ok());
  REQUIRE(scores->size() == 2);
  CHECK((*scores)[0].index == 3);
  CHECK((*scores)[0].score == Approx(0.91));
  CHECK((*scores)[1].index == 1);
  CHECK((*scores)[1].score == Approx(0.42));

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/rerank");
  CHECK(r.Header("Authorization") == std::string("Bearer ") + kKey);
  CHECK(Contains(r.Header("Content-Type"), "application/json"));
  const json::object body = BodyOf(r);
  CHECK(body.at("model").as_string() == "jina-reranker-v2-base-multilingual");
  CHECK(body.at("query").as_string() == "pagamento com erro");
  const json::array& documents = body.at("documents").as_array();
  REQUIRE(documents.size() == kDocuments.size());
  for (size_t i = 0; i < documents.size(); ++i) CHECK(documents[i].as_string() == kDocuments[i]);
  CHECK(body.at("top_n").to_number<int>() == 2);
}

TEST_CASE("RerankApi: top_n is capped at the documents, extra results dropped, ties by index",
          "[llm]") {
  FakeHttpServer server(
      FakeHttpServer::Script({JinaAnswer({{2, 0.5}, {0, 0.5}, {1, 0.9}, {3, 0.1}}, kDocuments)}));
  Fixture f;
  auto reranker = f.Make(f.Options(server.Url("")));

  SECTION("top_n above the number of documents") {
    auto scores = reranker->Rerank("q", kDocuments, 10);
    REQUIRE(scores.ok());
    REQUIRE(scores->size() == 4);
    std::vector<size_t> order;
    for (const RerankScore& s : *scores) order.push_back(s.index);
    CHECK(order == std::vector<size_t>{1, 0, 2, 3});
    REQUIRE(server.Requests().size() == 1);
    CHECK(BodyOf(server.Requests()[0]).at("top_n").to_number<int>() == 4);
  }
  SECTION("a provider answering more than top_n") {
    auto scores = reranker->Rerank("q", kDocuments, 2);
    REQUIRE(scores.ok());
    REQUIRE(scores->size() == 2);
    CHECK((*scores)[0].index == 1);
    CHECK((*scores)[1].index == 0);
  }
  SECTION("nothing to rank sends nothing") {
    auto none = reranker->Rerank("q", {}, 3);
    REQUIRE(none.ok());
    CHECK(none->empty());
    auto zero = reranker->Rerank("q", kDocuments, 0);
    REQUIRE(zero.ok());
    CHECK(zero->empty());
    CHECK(server.Requests().empty());
  }
}

TEST_CASE("RerankApi: a base URL ending in /v1 is not doubled - no key, no Authorization", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({JinaAnswer({{0, 0.7}}, kDocuments)}));
  Fixture f;
  RerankApiOptions options = f.Options(server.Url("/v1/"));
  options.api_key.clear();
  options.model = "bge-reranker-v2-m3";
  auto reranker = f.Make(options);
  CHECK(reranker->name() == "rerank/bge-reranker-v2-m3");
  REQUIRE(reranker->Rerank("q", kDocuments, 1).ok());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/rerank");
  CHECK_FALSE(requests[0].HasHeader("Authorization"));
  CHECK(BodyOf(requests[0]).at("model").as_string() == "bge-reranker-v2-m3");
}

TEST_CASE("RerankApi: 503 then 200 is retried without sleeping - exhausted is Unavailable",
          "[llm]") {
  Fixture f;
  SECTION("retried") {
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"detail", "busy"}}, 503), JinaAnswer({{0, 0.7}}, kDocuments)}));
    auto scores = f.Make(f.Options(server.Url("")))->Rerank("q", kDocuments, 1);
    REQUIRE(scores.ok());
    CHECK(server.Requests().size() == 2);
    CHECK(f.sleeps.size() == 1);
  }
  SECTION("exhausted") {
    FakeHttpServer server(FakeHttpServer::Script({Json(json::object{{"detail", "busy"}}, 503)}));
    auto scores = f.Make(f.Options(server.Url("")))->Rerank("q", kDocuments, 1);
    REQUIRE_FALSE(scores.ok());
    CHECK(scores.status().code() == StatusCode::kUnavailable);
    CHECK(Contains(scores.status().message(), "rerank/jina-reranker-v2-base-multilingual"));
    CHECK(Contains(scores.status().message(), "HTTP 503: busy"));
    CHECK(server.Requests().size() == 2);  // max_attempts defaults to 2
    CHECK(f.sleeps.size() == 1);
  }
}

TEST_CASE("RerankApi: 4xx is InvalidArgument with the provider's detail, never the key", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({Json(
      json::object{{"detail", std::string("Invalid token ") + kKey + ": top_n must be <= 1024"}},
      422)}));
  Fixture f;
  auto scores = f.Make(f.Options(server.Url("")))->Rerank("q", kDocuments, 1);
  REQUIRE_FALSE(scores.ok());
  CHECK(scores.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(scores.status().message(), "HTTP 422"));
  CHECK(Contains(scores.status().message(), "top_n must be <= 1024"));
  CHECK_FALSE(Contains(scores.status().message(), kKey));
  CHECK(server.Requests().size() == 1);
  CHECK(f.sleeps.empty());
}

TEST_CASE("RerankApi: a malformed answer is Internal", "[llm]") {
  Fixture f;
  auto rerank = [&f](FakeReply reply) {
    FakeHttpServer server(FakeHttpServer::Script({std::move(reply)}));
    auto scores = f.Make(f.Options(server.Url("")))->Rerank("q", kDocuments, 2);
    REQUIRE_FALSE(scores.ok());
    CHECK(scores.status().code() == StatusCode::kInternal);
    CHECK(Contains(scores.status().message(), "malformed answer"));
    return scores.status().message();
  };
  SECTION("not JSON") { CHECK(Contains(rerank(FakeReply{.body = "oops"}), "not JSON")); }
  SECTION("no results") {
    CHECK(Contains(rerank(Json(json::object{{"data", json::array{}}})), "'results'"));
  }
  SECTION("an index out of range") {
    CHECK(Contains(
        rerank(Json(json::object{
            {"results", json::array{json::object{{"index", 4}, {"relevance_score", 0.5}}}}})),
        "out-of-range index"));
  }
  SECTION("a duplicate index") {
    CHECK(Contains(rerank(JinaAnswer({{1, 0.5}, {1, 0.4}}, kDocuments)), "duplicate"));
  }
  SECTION("a missing score") {
    CHECK(Contains(rerank(Json(json::object{
                       {"results", json::array{json::object{{"index", 0}, {"score", 0.5}}}}})),
                   "relevance_score"));
  }
}

TEST_CASE("MakeRerankApi: refuses missing settings", "[llm]") {
  Fixture f;
  RerankApiOptions options = f.Options("");
  auto made = MakeRerankApi(options, f.http);
  REQUIRE_FALSE(made.ok());
  CHECK(made.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(made.status().message(), "base_url"));

  options = f.Options("http://127.0.0.1:9");
  options.model.clear();
  made = MakeRerankApi(options, f.http);
  REQUIRE_FALSE(made.ok());
  CHECK(Contains(made.status().message(), "model"));

  options = f.Options("http://127.0.0.1:9");
  options.max_attempts = 0;
  made = MakeRerankApi(options, f.http);
  REQUIRE_FALSE(made.ok());
  CHECK(Contains(made.status().message(), "max_attempts"));
}
