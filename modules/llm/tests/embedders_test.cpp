#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/llm/embedder.hpp"

namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using ventros::core::HttpClient;
using ventros::core::HttpClientOptions;
using ventros::core::StatusCode;
using ventros::llm::Embedder;
using ventros::llm::EmbedTask;
using ventros::llm::HostedEmbedderOptions;
using ventros::llm::MakeHostedEmbedder;
using ventros::llm::Vector;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;

constexpr const char* kKey = "sk-test-SECRET-0123456789";
constexpr int kDims = 8;

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

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// Unit vector along axis `axis`: tells which text an answer belongs to.
Vector OneHot(size_t axis, int dims = kDims) {
  Vector v(static_cast<size_t>(dims), 0.0f);
  v.at(axis) = 1.0f;
  return v;
}

json::array Values(const Vector& v) {
  json::array out;
  for (float x : v) out.emplace_back(static_cast<double>(x));
  return out;
}

FakeReply Json(const json::value& body, int status = 200) {
  return FakeReply{.status = status,
                   .headers = {{"Content-Type", "application/json; charset=UTF-8"}},
                   .body = json::serialize(body)};
}

FakeReply GeminiBatchAnswer(const std::vector<Vector>& vectors) {
  json::array embeddings;
  for (const Vector& v : vectors) embeddings.push_back(json::object{{"values", Values(v)}});
  return Json(json::object{{"embeddings", std::move(embeddings)}});
}

FakeReply GeminiAnswer(const Vector& v) {
  return Json(json::object{{"embedding", json::object{{"values", Values(v)}}}});
}

FakeReply VertexAnswer(const std::vector<Vector>& vectors) {
  json::array predictions;
  for (const Vector& v : vectors) {
    predictions.push_back(json::object{
        {"embeddings",
         json::object{{"values", Values(v)},
                      {"statistics", json::object{{"truncated", false}, {"token_count", 4}}}}}});
  }
  return Json(json::object{{"predictions", std::move(predictions)},
                           {"metadata", json::object{{"billableCharacterCount", 12}}}});
}

// `order[k]` is the index of the k-th item of data[], as servers may answer out of order.
FakeReply OpenAiAnswer(const std::vector<Vector>& vectors, const std::vector<size_t>& order) {
  json::array data;
  for (size_t index : order) {
    data.push_back(json::object{
        {"object", "embedding"}, {"index", index}, {"embedding", Values(vectors.at(index))}});
  }
  return Json(json::object{{"object", "list"},
                           {"data", std::move(data)},
                           {"model", "text-embedding-3-small"},
                           {"usage", json::object{{"prompt_tokens", 5}, {"total_tokens", 5}}}});
}

// Answers any OpenAI request with one-hot vectors along the number each input text holds.
FakeReply OpenAiEcho(const FakeRequest& request) {
  std::vector<Vector> vectors;
  std::vector<size_t> order;
  const json::object body = BodyOf(request);
  for (const json::value& text : body.at("input").as_array()) {
    vectors.push_back(OneHot(std::stoul(Str(text))));
    order.push_back(order.size());
  }
  return OpenAiAnswer(vectors, order);
}

uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

// A client on the test thread, the backoffs the embedder asked for, and a factory of embedders.
struct Fixture {
  HttpClient http{ClientOptions()};
  std::vector<milliseconds> sleeps;

  HostedEmbedderOptions Options(const std::string& provider, const std::string& base_url,
                                const std::string& model) {
    HostedEmbedderOptions options;
    options.provider = provider;
    options.base_url = base_url;
    options.api_key = kKey;
    options.model = model;
    options.dimensions = kDims;
    options.batch_size = 16;
    options.max_attempts = 3;
    options.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    return options;
  }

  std::unique_ptr<Embedder> Make(const HostedEmbedderOptions& options) {
    auto made = MakeHostedEmbedder(options, http);
    REQUIRE(made.ok());
    return std::move(made).value();
  }

  std::unique_ptr<Embedder> Gemini(const FakeHttpServer& server) {
    return Make(Options("gemini", server.Url(""), "text-embedding-004"));
  }
};

std::vector<std::string> Texts(std::initializer_list<const char*> texts) {
  return std::vector<std::string>(texts.begin(), texts.end());
}

void RequireOneHots(const std::vector<Vector>& vectors, size_t count) {
  REQUIRE(vectors.size() == count);
  for (size_t i = 0; i < count; ++i) {
    REQUIRE(vectors[i].size() == static_cast<size_t>(kDims));
    CHECK(vectors[i] == OneHot(i));
  }
}

}  // namespace

TEST_CASE("HostedEmbedder gemini: a batch goes to batchEmbedContents with the key, task and size",
          "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiBatchAnswer({OneHot(0), OneHot(1)})}));
  Fixture f;
  auto embedder = f.Gemini(server);
  CHECK(embedder->name() == "gemini/text-embedding-004");
  CHECK(embedder->dimensions() == kDims);

  const auto texts = Texts({"Quero cancelar o plano", "O boleto venceu"});
  auto vectors = embedder->Embed(texts, EmbedTask::kDocument);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 2);

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1beta/models/text-embedding-004:batchEmbedContents");
  CHECK(r.Header("x-goog-api-key") == kKey);
  CHECK_FALSE(r.HasHeader("Authorization"));
  CHECK(Contains(r.Header("Content-Type"), "application/json"));
  const json::object body = BodyOf(r);
  const json::array& items = body.at("requests").as_array();
  REQUIRE(items.size() == 2);
  for (size_t i = 0; i < items.size(); ++i) {
    const json::object& item = items[i].as_object();
    CHECK(Str(item.at("model")) == "models/text-embedding-004");
    CHECK(Str(item.at("content").at("parts").at(0).at("text")) == texts[i]);
    CHECK(Str(item.at("taskType")) == "RETRIEVAL_DOCUMENT");
    CHECK(item.at("outputDimensionality").to_number<int>() == kDims);
  }
}

TEST_CASE("HostedEmbedder gemini: one query goes to embedContent as RETRIEVAL_QUERY", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiAnswer(OneHot(0))}));
  Fixture f;
  // The "models/" prefix and a trailing slash are accepted as Google writes them.
  auto embedder = f.Make(f.Options("gemini", server.Url("/"), "models/text-embedding-004"));
  CHECK(embedder->name() == "gemini/text-embedding-004");

  auto vectors = embedder->Embed(Texts({"erro 500 no checkout"}), EmbedTask::kQuery);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 1);

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1beta/models/text-embedding-004:embedContent");
  const json::object body = BodyOf(requests[0]);
  CHECK(Str(body.at("content").at("parts").at(0).at("text")) == "erro 500 no checkout");
  CHECK(Str(body.at("taskType")) == "RETRIEVAL_QUERY");
  CHECK(body.at("outputDimensionality").to_number<int>() == kDims);
}

TEST_CASE("HostedEmbedder vertex: predict with task_type, content and outputDimensionality",
          "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({VertexAnswer({OneHot(0), OneHot(1)})}));
  Fixture f;
  auto embedder = f.Make(f.Options("vertex", server.Url("/v1/projects/acme/locations/us-central1"),
                                   "text-embedding-005"));
  CHECK(embedder->name() == "vertex/text-embedding-005");

  const auto texts = Texts({"preço alto", "desconto"});
  auto vectors = embedder->Embed(texts, EmbedTask::kQuery);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 2);

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.target ==
        "/v1/projects/acme/locations/us-central1/publishers/google/models/"
        "text-embedding-005:predict");
  CHECK(r.Header("Authorization") == std::string("Bearer ") + kKey);
  CHECK_FALSE(r.HasHeader("x-goog-api-key"));
  const json::object body = BodyOf(r);
  const json::array& instances = body.at("instances").as_array();
  REQUIRE(instances.size() == 2);
  for (size_t i = 0; i < instances.size(); ++i) {
    CHECK(Str(instances[i].at("task_type")) == "RETRIEVAL_QUERY");
    CHECK(Str(instances[i].at("content")) == texts[i]);
  }
  CHECK(body.at("parameters").at("outputDimensionality").to_number<int>() == kDims);
}

TEST_CASE("HostedEmbedder vertex: documents are RETRIEVAL_DOCUMENT", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({VertexAnswer({OneHot(0)})}));
  Fixture f;
  auto embedder = f.Make(f.Options("vertex", server.Url(""), "text-embedding-005"));
  REQUIRE(embedder->Embed(Texts({"fatura"}), EmbedTask::kDocument).ok());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(Str(BodyOf(requests[0]).at("instances").at(0).at("task_type")) == "RETRIEVAL_DOCUMENT");
}

TEST_CASE("HostedEmbedder openai: /v1/embeddings with model, input, dimensions - sorted by index",
          "[llm]") {
  const std::vector<Vector> vectors = {OneHot(0), OneHot(1), OneHot(2)};
  FakeHttpServer server(FakeHttpServer::Script({OpenAiAnswer(vectors, {2, 0, 1})}));
  Fixture f;
  auto embedder = f.Make(f.Options("openai", server.Url(""), "text-embedding-3-small"));
  CHECK(embedder->name() == "openai/text-embedding-3-small");

  const auto texts = Texts({"a", "b", "c"});
  auto result = embedder->Embed(texts, EmbedTask::kDocument);
  REQUIRE(result.ok());
  RequireOneHots(*result, 3);

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.target == "/v1/embeddings");
  CHECK(r.Header("Authorization") == std::string("Bearer ") + kKey);
  const json::object body = BodyOf(r);
  CHECK(Str(body.at("model")) == "text-embedding-3-small");
  const json::array& input = body.at("input").as_array();
  REQUIRE(input.size() == 3);
  for (size_t i = 0; i < input.size(); ++i) CHECK(Str(input[i]) == texts[i]);
  CHECK(body.at("dimensions").to_number<int>() == kDims);
  CHECK(Str(body.at("encoding_format")) == "float");
}

TEST_CASE("HostedEmbedder openai: Ollama-style server without key, /v1 base, native size",
          "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script(
      {OpenAiAnswer({OneHot(0, 3)}, {0}), OpenAiAnswer({OneHot(0, 4)}, {0})}));
  Fixture f;
  HostedEmbedderOptions options = f.Options("openai", server.Url("/v1/"), "nomic-embed-text");
  options.api_key.clear();
  options.dimensions = 0;  // the model's own size, not sent
  auto embedder = f.Make(options);
  CHECK(embedder->dimensions() == 0);

  auto first = embedder->Embed(Texts({"olá"}), EmbedTask::kQuery);
  REQUIRE(first.ok());
  CHECK(first->at(0) == OneHot(0, 3));
  CHECK(embedder->dimensions() == 3);  // fixed by the first answer

  // A later answer of another size is refused: vectors of one name must be comparable.
  auto second = embedder->Embed(Texts({"tchau"}), EmbedTask::kQuery);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kInternal);
  CHECK(Contains(second.status().message(), "expected 3"));

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/v1/embeddings");
  CHECK_FALSE(requests[0].HasHeader("Authorization"));
  CHECK_FALSE(BodyOf(requests[0]).contains("dimensions"));
}

TEST_CASE("HostedEmbedder: splits texts into batches of batch_size and keeps their order",
          "[llm]") {
  FakeHttpServer server(OpenAiEcho);
  Fixture f;
  HostedEmbedderOptions options = f.Options("openai", server.Url(""), "text-embedding-3-small");
  options.batch_size = 2;
  auto embedder = f.Make(options);

  const auto texts = Texts({"0", "1", "2", "3", "4"});
  auto vectors = embedder->Embed(texts, EmbedTask::kDocument);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 5);

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 3);
  std::vector<std::vector<std::string>> sent;
  for (const FakeRequest& r : requests) {
    std::vector<std::string> batch;
    const json::object body = BodyOf(r);
    for (const json::value& text : body.at("input").as_array()) batch.push_back(Str(text));
    sent.push_back(batch);
  }
  CHECK(sent == std::vector<std::vector<std::string>>{{"0", "1"}, {"2", "3"}, {"4"}});
}

TEST_CASE("HostedEmbedder gemini: batches of one go to embedContent, larger ones are batched",
          "[llm]") {
  FakeHttpServer server(
      FakeHttpServer::Script({GeminiBatchAnswer({OneHot(0), OneHot(1)}), GeminiAnswer(OneHot(2))}));
  Fixture f;
  HostedEmbedderOptions options = f.Options("gemini", server.Url(""), "text-embedding-004");
  options.batch_size = 2;
  auto embedder = f.Make(options);
  auto vectors = embedder->Embed(Texts({"x", "y", "z"}), EmbedTask::kDocument);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 3);
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/v1beta/models/text-embedding-004:batchEmbedContents");
  CHECK(requests[1].target == "/v1beta/models/text-embedding-004:embedContent");
  CHECK(Str(BodyOf(requests[1]).at("content").at("parts").at(0).at("text")) == "z");
}

TEST_CASE("HostedEmbedder: returns unit vectors even when the provider does not", "[llm]") {
  Vector raw(kDims, 0.0f);
  raw[0] = 3.0f;
  raw[1] = 4.0f;
  FakeHttpServer server(FakeHttpServer::Script({GeminiAnswer(raw)}));
  Fixture f;
  auto vectors = f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument);
  REQUIRE(vectors.ok());
  const Vector& v = vectors->at(0);
  CHECK(v[0] == Approx(0.6f));
  CHECK(v[1] == Approx(0.8f));
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  CHECK(std::sqrt(norm) == Approx(1.0));
}

TEST_CASE("HostedEmbedder: an empty input sends nothing - an empty text is refused", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiAnswer(OneHot(0))}));
  Fixture f;
  auto embedder = f.Gemini(server);
  auto none = embedder->Embed({}, EmbedTask::kDocument);
  REQUIRE(none.ok());
  CHECK(none->empty());

  auto empty = embedder->Embed(Texts({"ok", ""}), EmbedTask::kDocument);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
  CHECK(Contains(empty.status().message(), "text 1 is empty"));
  CHECK(server.Requests().empty());
}

TEST_CASE("HostedEmbedder: 503 then 200 is retried after a backoff, without sleeping", "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script(
      {Json(json::object{{"error", json::object{{"code", 503}, {"message", "overloaded"}}}}, 503),
       GeminiAnswer(OneHot(0))}));
  Fixture f;
  auto vectors = f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument);
  REQUIRE(vectors.ok());
  RequireOneHots(*vectors, 1);
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].body == requests[0].body);
  REQUIRE(f.sleeps.size() == 1);
  CHECK(f.sleeps[0] >= milliseconds(400));  // 500 ms +/- 20% jitter
  CHECK(f.sleeps[0] <= milliseconds(600));
}

TEST_CASE("HostedEmbedder: 429 waits for Retry-After", "[llm]") {
  FakeReply limited = Json(json::object{{"error", "rate limited"}}, 429);
  limited.headers.emplace_back("Retry-After", "2");
  FakeHttpServer server(FakeHttpServer::Script({limited, GeminiAnswer(OneHot(0))}));
  Fixture f;
  REQUIRE(f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument).ok());
  CHECK(server.Requests().size() == 2);
  CHECK(f.sleeps == std::vector<milliseconds>{milliseconds(2000)});
}

TEST_CASE("HostedEmbedder: a Retry-After too long to wait for fails at once", "[llm]") {
  FakeReply limited = Json(json::object{{"error", "quota"}}, 429);
  limited.headers.emplace_back("Retry-After", "3600");
  FakeHttpServer server(FakeHttpServer::Script({limited, GeminiAnswer(OneHot(0))}));
  Fixture f;
  auto result = f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(result.status().message(), "429"));
  CHECK(server.Requests().size() == 1);
  CHECK(f.sleeps.empty());
}

TEST_CASE("HostedEmbedder: after max_attempts of 5xx, Unavailable names provider and status",
          "[llm]") {
  FakeHttpServer server(FakeHttpServer::Script({Json(
      json::object{{"error", json::object{{"code", 500}, {"message", "Internal error"}}}}, 500)}));
  Fixture f;
  auto result = f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kUnavailable);
  const std::string& message = result.status().message();
  CHECK(Contains(message, "gemini/text-embedding-004"));
  CHECK(Contains(message, "HTTP 500"));
  CHECK(Contains(message, "Internal error"));
  CHECK(Contains(message, "3 attempts"));
  CHECK(server.Requests().size() == 3);
  REQUIRE(f.sleeps.size() == 2);
  CHECK(f.sleeps[1] >= milliseconds(800));  // doubled: 1 s +/- 20%
  CHECK(f.sleeps[1] <= milliseconds(1200));
}

TEST_CASE("HostedEmbedder: 400 is InvalidArgument quoting the provider, never the key", "[llm]") {
  Fixture f;
  SECTION("Google's error shape; the key it echoes is redacted") {
    FakeHttpServer server(FakeHttpServer::Script({Json(
        json::object{{"error", json::object{{"code", 400},
                                            {"message", std::string("API key not valid: ") + kKey},
                                            {"status", "INVALID_ARGUMENT"}}}},
        400)}));
    auto result = f.Gemini(server)->Embed(Texts({"x"}), EmbedTask::kDocument);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(result.status().message(), "gemini/text-embedding-004"));
    CHECK(Contains(result.status().message(), "HTTP 400"));
    CHECK(Contains(result.status().message(), "API key not valid"));
    CHECK_FALSE(Contains(result.status().message(), kKey));
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(f.sleeps.empty());
  }
  SECTION("a long message is cut") {
    const std::string long_message(5000, 'z');
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"error", json::object{{"message", long_message}}}}, 400)}));
    auto embedder = f.Make(f.Options("openai", server.Url(""), "text-embedding-3-small"));
    auto result = embedder->Embed(Texts({"x"}), EmbedTask::kDocument);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(result.status().message(), std::string(300, 'z')));
    CHECK(result.status().message().size() < 400);
  }
  SECTION("401 hints at the key") {
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"error", json::object{{"message", "Incorrect API key"}}}}, 401)}));
    auto embedder = f.Make(f.Options("openai", server.Url(""), "text-embedding-3-small"));
    auto result = embedder->Embed(Texts({"x"}), EmbedTask::kDocument);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInvalidArgument);
    CHECK(Contains(result.status().message(), "check the API key"));
    CHECK_FALSE(Contains(result.status().message(), kKey));
  }
}

TEST_CASE("HostedEmbedder: an answer of the wrong shape is Internal", "[llm]") {
  Fixture f;
  auto embed_gemini_batch = [&f](FakeReply reply) {
    FakeHttpServer server(FakeHttpServer::Script({std::move(reply)}));
    auto result = f.Gemini(server)->Embed(Texts({"a", "b"}), EmbedTask::kDocument);
    CHECK(server.Requests().size() == 1);  // not retried
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().code() == StatusCode::kInternal);
    CHECK(Contains(result.status().message(), "gemini/text-embedding-004: malformed answer"));
    return result.status().message();
  };
  Vector short_vector(kDims - 1, 0.5f);
  Vector zero(kDims, 0.0f);

  SECTION("not JSON") {
    CHECK(Contains(embed_gemini_batch(FakeReply{.body = "<html>proxy error</html>"}), "not JSON"));
  }
  SECTION("JSON but not an object") {
    CHECK(Contains(embed_gemini_batch(Json(json::array{1, 2})), "not a JSON object"));
  }
  SECTION("no embeddings") {
    CHECK(Contains(embed_gemini_batch(Json(json::object{{"foo", 1}})), "'embeddings'"));
  }
  SECTION("fewer embeddings than texts") {
    CHECK(Contains(embed_gemini_batch(GeminiBatchAnswer({OneHot(0)})), "1 embeddings for 2 texts"));
  }
  SECTION("wrong dimension") {
    CHECK(Contains(embed_gemini_batch(GeminiBatchAnswer({OneHot(0), short_vector})),
                   "embedding 1 has 7 values, expected 8"));
  }
  SECTION("values that are not numbers") {
    json::array values = Values(OneHot(0));
    values[3] = "0.5";
    CHECK(Contains(embed_gemini_batch(Json(json::object{
                       {"embeddings", json::array{json::object{{"values", values}},
                                                  json::object{{"values", Values(OneHot(1))}}}}})),
                   "non-number"));
  }
  SECTION("a value out of float range") {
    json::array values = Values(OneHot(0));
    values[3] = 1e300;
    CHECK(Contains(embed_gemini_batch(Json(json::object{
                       {"embeddings", json::array{json::object{{"values", values}},
                                                  json::object{{"values", Values(OneHot(1))}}}}})),
                   "non-finite"));
  }
  SECTION("a zero vector") {
    CHECK(Contains(embed_gemini_batch(GeminiBatchAnswer({OneHot(0), zero})), "zero vector"));
  }
}

TEST_CASE("HostedEmbedder openai: duplicate or missing indexes are Internal", "[llm]") {
  const std::vector<Vector> vectors = {OneHot(0), OneHot(1)};
  FakeHttpServer server(FakeHttpServer::Script({OpenAiAnswer(vectors, {1, 1})}));
  Fixture f;
  auto embedder = f.Make(f.Options("openai", server.Url(""), "text-embedding-3-small"));
  auto result = embedder->Embed(Texts({"a", "b"}), EmbedTask::kDocument);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kInternal);
  CHECK(Contains(result.status().message(), "index"));
}

TEST_CASE("HostedEmbedder: connection refused is Unavailable after max_attempts", "[llm]") {
  Fixture f;
  HostedEmbedderOptions options = f.Options(
      "openai", "http://127.0.0.1:" + std::to_string(ClosedPort()), "text-embedding-3-small");
  options.max_attempts = 2;
  auto result = f.Make(options)->Embed(Texts({"x"}), EmbedTask::kDocument);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(result.status().message(), "openai/text-embedding-3-small"));
  CHECK(Contains(result.status().message(), "2 attempts"));
  CHECK_FALSE(Contains(result.status().message(), kKey));
  CHECK(f.sleeps.size() == 1);
}

TEST_CASE("MakeHostedEmbedder: refuses unknown providers and missing settings", "[llm]") {
  Fixture f;
  auto refused = [&f](const HostedEmbedderOptions& options) {
    auto made = MakeHostedEmbedder(options, f.http);
    REQUIRE_FALSE(made.ok());
    CHECK(made.status().code() == StatusCode::kInvalidArgument);
    return made.status().message();
  };
  const HostedEmbedderOptions good = f.Options("gemini", "http://127.0.0.1:9", "m");
  REQUIRE(MakeHostedEmbedder(good, f.http).ok());

  HostedEmbedderOptions options = good;
  options.provider = "cohere";
  const std::string message = refused(options);
  CHECK(Contains(message, "cohere"));
  CHECK(Contains(message, "gemini, vertex, openai"));

  options = good;
  options.base_url = "";
  CHECK(Contains(refused(options), "base_url"));
  options = good;
  options.model = "";
  CHECK(Contains(refused(options), "model"));
  options = good;
  options.batch_size = 0;
  CHECK(Contains(refused(options), "batch_size"));
  options = good;
  options.dimensions = -1;
  CHECK(Contains(refused(options), "dimensions"));
  options = good;
  options.max_attempts = 0;
  CHECK(Contains(refused(options), "max_attempts"));
}
