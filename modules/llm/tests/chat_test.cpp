#include "ventros/llm/chat.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
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
using ventros::llm::ChatMessage;
using ventros::llm::ChatModel;
using ventros::llm::ChatModelOptions;
using ventros::llm::ChatRequest;
using ventros::llm::ChatResponse;
using ventros::llm::MakeChatModel;
using ventros::llm::ToolCall;
using ventros::llm::ToolSpec;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;

constexpr const char* kKey = "AIza-test-SECRET-0123456789";

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

json::value BodyOf(const FakeRequest& request) { return json::parse(request.body); }

FakeReply Json(const json::value& body, int status = 200) {
  return FakeReply{.status = status,
                   .headers = {{"Content-Type", "application/json; charset=UTF-8"}},
                   .body = json::serialize(body)};
}

FakeReply JsonText(const char* body, int status = 200) { return Json(json::parse(body), status); }

uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

constexpr const char* kWeatherSchema =
    R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})";

// A conversation with every kind of turn: system prompts (one in the middle), a user question,
// an assistant turn that called two tools, their results (a JSON object, plain text), a final
// user turn.
ChatRequest Conversation() {
  ChatRequest request;
  request.messages = {
      ChatMessage::System("Você é um atendente."),
      ChatMessage::User("Qual o clima em Recife e o status do pedido 42?"),
      ChatMessage::Assistant("Vou verificar.", {ToolCall{.id = "call_a",
                                                         .name = "get_weather",
                                                         .arguments_json = R"({"city": "Recife"})",
                                                         .thought_signature = "sig-1"},
                                                ToolCall{.id = "call_b",
                                                         .name = "order_status",
                                                         .arguments_json = R"({"order_id":42})"}}),
      ChatMessage::ToolResult("call_a", "", R"({"temp_c":31})"),
      ChatMessage::ToolResult("call_b", "order_status", "enviado"),
      ChatMessage::System("Responda em uma frase."),
      ChatMessage::User("E amanhã?"),
  };
  request.tools = {ToolSpec{.name = "get_weather",
                            .description = "Weather of a city",
                            .parameters_json = kWeatherSchema},
                   ToolSpec{.name = "now", .description = "", .parameters_json = ""}};
  request.temperature = 0.5;
  request.max_tokens = 256;
  request.json_output = true;
  return request;
}

ChatRequest Ask(const std::string& question) {
  ChatRequest request;
  request.messages = {ChatMessage::User(question)};
  return request;
}

struct Fixture {
  HttpClient http{ClientOptions()};
  std::vector<milliseconds> sleeps;

  ChatModelOptions Options(const std::string& provider, const std::string& base_url,
                           const std::string& model) {
    ChatModelOptions options;
    options.provider = provider;
    options.base_url = base_url;
    options.api_key = kKey;
    options.model = model;
    options.max_attempts = 3;
    options.sleep = [this](milliseconds d) { sleeps.push_back(d); };
    return options;
  }

  std::unique_ptr<ChatModel> Make(const ChatModelOptions& options) {
    auto made = MakeChatModel(options, http);
    REQUIRE(made.ok());
    return std::move(made).value();
  }

  std::unique_ptr<ChatModel> Gemini(const FakeHttpServer& server) {
    return Make(Options("gemini", server.Url(""), "gemini-2.5-flash"));
  }
  std::unique_ptr<ChatModel> OpenAi(const FakeHttpServer& server) {
    return Make(Options("openai", server.Url(""), "gpt-4o-mini"));
  }
};

FakeReply GeminiText(const std::string& text) {
  return Json(json::object{
      {"candidates",
       json::array{json::object{
           {"content",
            json::object{{"role", "model"}, {"parts", json::array{json::object{{"text", text}}}}}},
           {"finishReason", "STOP"}}}},
      {"usageMetadata", json::object{{"promptTokenCount", 10},
                                     {"candidatesTokenCount", 3},
                                     {"totalTokenCount", 13}}},
      {"modelVersion", "gemini-2.5-flash"}});
}

FakeReply OpenAiText(const std::string& text) {
  return Json(json::object{
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"model", "gpt-4o-mini-2024-07-18"},
      {"choices",
       json::array{json::object{{"index", 0},
                                {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                {"finish_reason", "stop"}}}},
      {"usage",
       json::object{{"prompt_tokens", 9}, {"completion_tokens", 2}, {"total_tokens", 11}}}});
}

// Fails the test unless `result` is an error of `code`; returns its message.
std::string ErrorOf(const ventros::core::Result<ChatResponse>& result, StatusCode code) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == code);
  CHECK_FALSE(Contains(result.status().message(), kKey));
  return result.status().message();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Gemini API

TEST_CASE("ChatModel gemini: the request maps system, roles, tool calls, results and tools",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiText("Amanhã também.")}));
  Fixture f;
  auto model = f.Make(f.Options("gemini", server.Url("/"), "models/gemini-2.5-flash"));
  CHECK(model->name() == "gemini/gemini-2.5-flash");

  REQUIRE(model->Complete(Conversation()).ok());

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1beta/models/gemini-2.5-flash:generateContent");
  CHECK(r.Header("x-goog-api-key") == kKey);
  CHECK_FALSE(r.HasHeader("Authorization"));
  CHECK(Contains(r.Header("Content-Type"), "application/json"));
  // Results of one turn's calls travel in one user content; the first is matched to its call by
  // id, plain text is wrapped as {"result": ...}.
  CHECK(BodyOf(r) == json::parse(R"({
    "contents": [
      {"role": "user", "parts": [{"text": "Qual o clima em Recife e o status do pedido 42?"}]},
      {"role": "model", "parts": [
        {"text": "Vou verificar."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Recife"}},
         "thoughtSignature": "sig-1"},
        {"functionCall": {"name": "order_status", "args": {"order_id": 42}}}]},
      {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 31}}},
        {"functionResponse": {"name": "order_status", "response": {"result": "enviado"}}}]},
      {"role": "user", "parts": [{"text": "E amanhã?"}]}
    ],
    "systemInstruction": {"parts": [{"text": "Você é um atendente."},
                                    {"text": "Responda em uma frase."}]},
    "tools": [{"functionDeclarations": [
      {"name": "get_weather", "description": "Weather of a city",
       "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                      "required": ["city"]}},
      {"name": "now"}]}],
    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 256,
                         "responseMimeType": "application/json"}
  })"));
}

TEST_CASE("ChatModel gemini: a plain request has no systemInstruction, tools nor JSON mode",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiText("Olá!")}));
  Fixture f;
  ChatRequest request = Ask("Oi");
  request.max_tokens = 0;  // the model's own limit
  REQUIRE(f.Gemini(server)->Complete(request).ok());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(BodyOf(requests[0]) == json::parse(R"({
    "contents": [{"role": "user", "parts": [{"text": "Oi"}]}],
    "generationConfig": {"temperature": 0.2}
  })"));
}

TEST_CASE("ChatModel gemini: tool results are wrapped unless they are JSON objects", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiText("ok")}));
  Fixture f;
  ChatRequest request = Ask("Quanto devo?");
  request.messages.push_back(ChatMessage::Assistant(
      "", {ToolCall{.id = "call_0", .name = "balance", .arguments_json = ""},
           ToolCall{.id = "call_1", .name = "plans", .arguments_json = "{}"},
           ToolCall{.id = "call_2", .name = "note", .arguments_json = " "}}));
  request.messages.push_back(ChatMessage::ToolResult("call_0", "", "129.9"));
  request.messages.push_back(ChatMessage::ToolResult("call_1", "", R"(["basic","pro"])"));
  request.messages.push_back(ChatMessage::ToolResult("call_2", "", "not json {"));
  REQUIRE(f.Gemini(server)->Complete(request).ok());
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const json::value body = BodyOf(requests[0]);
  // An assistant turn without text has only its calls.
  CHECK(body.at("contents").at(1) == json::parse(R"({"role": "model", "parts": [
      {"functionCall": {"name": "balance", "args": {}}},
      {"functionCall": {"name": "plans", "args": {}}},
      {"functionCall": {"name": "note", "args": {}}}]})"));
  CHECK(body.at("contents").at(2) == json::parse(R"({"role": "user", "parts": [
      {"functionResponse": {"name": "balance", "response": {"result": 129.9}}},
      {"functionResponse": {"name": "plans", "response": {"result": ["basic", "pro"]}}},
      {"functionResponse": {"name": "note", "response": {"result": "not json {"}}}]})"));
}

TEST_CASE("ChatModel gemini: a text answer with usage, cached tokens and model version", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "thinking about plans", "thought": true},
        {"text": "O plano Pro "}, {"text": "custa R$ 99."}]},
      "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 1200, "candidatesTokenCount": 8,
                      "thoughtsTokenCount": 20, "cachedContentTokenCount": 1024,
                      "totalTokenCount": 1228},
    "modelVersion": "gemini-2.5-flash-001"})")}));
  Fixture f;
  auto answer = f.Gemini(server)->Complete(Ask("Quanto custa o Pro?"));
  REQUIRE(answer.ok());
  CHECK(answer->content == "O plano Pro custa R$ 99.");
  CHECK(answer->tool_calls.empty());
  CHECK(answer->finish_reason == "stop");
  CHECK(answer->model == "gemini-2.5-flash-001");
  CHECK(answer->usage.prompt_tokens == 1200);
  CHECK(answer->usage.completion_tokens == 28);  // thinking tokens are output too
  CHECK(answer->usage.cached_tokens == 1024);
  CHECK(answer->usage.total_tokens == 1228);
}

TEST_CASE("ChatModel gemini: function calls get numbered ids and JSON object arguments", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "Consultando."},
        {"functionCall": {"name": "get_weather", "args": {"city": "Recife"}},
         "thoughtSignature": "c2lnbmF0dXJl"},
        {"functionCall": {"name": "now"}}]},
      "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 12, "totalTokenCount": 52}
  })")}));
  Fixture f;
  auto answer = f.Gemini(server)->Complete(Ask("Clima em Recife?"));
  REQUIRE(answer.ok());
  CHECK(answer->content == "Consultando.");
  CHECK(answer->finish_reason == "tool_calls");
  CHECK(answer->model == "gemini-2.5-flash");  // none in the answer: the one configured
  REQUIRE(answer->tool_calls.size() == 2);
  CHECK(answer->tool_calls[0].id == "call_0");
  CHECK(answer->tool_calls[0].name == "get_weather");
  CHECK(json::parse(answer->tool_calls[0].arguments_json) == json::parse(R"({"city":"Recife"})"));
  CHECK(answer->tool_calls[0].thought_signature == "c2lnbmF0dXJl");
  CHECK(answer->tool_calls[1].id == "call_1");
  CHECK(answer->tool_calls[1].name == "now");
  CHECK(answer->tool_calls[1].arguments_json == "{}");
  CHECK(answer->tool_calls[1].thought_signature.empty());
  CHECK(answer->usage.prompt_tokens == 40);
  CHECK(answer->usage.completion_tokens == 12);
  CHECK(answer->usage.cached_tokens == 0);
  CHECK(answer->usage.total_tokens == 52);
}

TEST_CASE("ChatModel gemini: an answer's calls sent back round-trip with their results", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Recife"}},
         "thoughtSignature": "sig"}]},
      "finishReason": "STOP"}]})"),
                                                GeminiText("Faz 31 graus.")}));
  Fixture f;
  auto model = f.Gemini(server);
  ChatRequest request = Ask("Clima em Recife?");
  auto first = model->Complete(request);
  REQUIRE(first.ok());
  REQUIRE(first->tool_calls.size() == 1);
  request.messages.push_back(ChatMessage::Assistant(first->content, first->tool_calls));
  request.messages.push_back(ChatMessage::ToolResult(first->tool_calls[0].id, "", "31"));
  auto second = model->Complete(request);
  REQUIRE(second.ok());
  CHECK(second->content == "Faz 31 graus.");

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 2);
  CHECK(BodyOf(requests[1]).at("contents") == json::parse(R"([
    {"role": "user", "parts": [{"text": "Clima em Recife?"}]},
    {"role": "model", "parts": [{"functionCall": {"name": "get_weather",
                                                  "args": {"city": "Recife"}},
                                 "thoughtSignature": "sig"}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
                                                     "response": {"result": 31}}}]}])"));
}

TEST_CASE("ChatModel gemini: MAX_TOKENS is finish_reason length, even without text", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
    "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 64, "totalTokenCount": 69}
  })")}));
  Fixture f;
  auto answer = f.Gemini(server)->Complete(Ask("Explique tudo"));
  REQUIRE(answer.ok());
  CHECK(answer->content.empty());
  CHECK(answer->finish_reason == "length");
  CHECK(answer->usage.completion_tokens == 64);
  CHECK(answer->usage.total_tokens == 69);
}

TEST_CASE("ChatModel gemini: an answer blocked by safety filters is InvalidArgument", "[chat]") {
  Fixture f;
  SECTION("finishReason SAFETY without parts names the blocking category") {
    FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
      "candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
          {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": true},
          {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]}],
      "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}})")}));
    const std::string message =
        ErrorOf(f.Gemini(server)->Complete(Ask("...")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "gemini/gemini-2.5-flash"));
    CHECK(Contains(message, "blocked"));
    CHECK(Contains(message, "SAFETY"));
    CHECK(Contains(message, "HARM_CATEGORY_HARASSMENT"));
    CHECK_FALSE(Contains(message, "HATE_SPEECH"));
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(f.sleeps.empty());
  }
  SECTION("a blocked prompt has no candidates, only promptFeedback") {
    FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
      "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
      "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7}})")}));
    const std::string message =
        ErrorOf(f.Gemini(server)->Complete(Ask("...")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "blocked"));
    CHECK(Contains(message, "PROHIBITED_CONTENT"));
  }
}

TEST_CASE("ChatModel gemini: empty candidates and malformed calls are Internal", "[chat]") {
  Fixture f;
  auto complete = [&f](const char* answer) {
    FakeHttpServer server(FakeHttpServer::Script({JsonText(answer)}));
    const std::string message =
        ErrorOf(f.Gemini(server)->Complete(Ask("x")), StatusCode::kInternal);
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(Contains(message, "gemini/gemini-2.5-flash: malformed answer"));
    return message;
  };
  CHECK(Contains(complete(R"({"candidates": []})"), "no candidates"));
  CHECK(Contains(complete(R"({"usageMetadata": {"promptTokenCount": 3}})"), "no candidates"));
  CHECK(Contains(complete(R"({"candidates": [{"content": {"parts": [
                   {"functionCall": {"name": "f", "args": [1, 2]}}]}}]})"),
                 "tool call 0 (f) arguments are not a JSON object"));
  CHECK(Contains(complete(R"({"candidates": [{"content": {"parts": [
                   {"functionCall": {"args": {}}}]}}]})"),
                 "functionCall 0 has no name"));
  CHECK(Contains(complete(R"({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL",
                   "finishMessage": "bad call"}]})"),
                 "malformed function call: bad call"));
  CHECK(Contains(complete(R"({"candidates": [{"content": {"parts": {"text": "x"}}}]})"),
                 "not an array"));
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible

TEST_CASE("ChatModel openai: the request keeps roles, tool calls, results, tools and JSON mode",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({OpenAiText("{\"ok\":true}")}));
  Fixture f;
  auto model = f.OpenAi(server);
  CHECK(model->name() == "openai/gpt-4o-mini");

  ChatRequest request = Conversation();
  // An assistant turn that only calls tools has null content.
  request.messages.push_back(
      ChatMessage::Assistant("", {ToolCall{.id = "call_c", .name = "now", .arguments_json = ""}}));
  request.messages.push_back(ChatMessage::ToolResult("call_c", "now", "12:00"));
  REQUIRE(model->Complete(request).ok());

  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  const FakeRequest& r = requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/chat/completions");
  CHECK(r.Header("Authorization") == std::string("Bearer ") + kKey);
  CHECK_FALSE(r.HasHeader("x-goog-api-key"));
  // Arguments go back as the model wrote them; blank ones as "{}".
  CHECK(BodyOf(r) == json::parse(R"({
    "model": "gpt-4o-mini",
    "messages": [
      {"role": "system", "content": "Você é um atendente."},
      {"role": "user", "content": "Qual o clima em Recife e o status do pedido 42?"},
      {"role": "assistant", "content": "Vou verificar.", "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Recife\"}"}},
        {"id": "call_b", "type": "function",
         "function": {"name": "order_status", "arguments": "{\"order_id\":42}"}}]},
      {"role": "tool", "tool_call_id": "call_a", "content": "{\"temp_c\":31}"},
      {"role": "tool", "tool_call_id": "call_b", "content": "enviado"},
      {"role": "system", "content": "Responda em uma frase."},
      {"role": "user", "content": "E amanhã?"},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_c", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "call_c", "content": "12:00"}
    ],
    "tools": [
      {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
      {"type": "function", "function": {"name": "now"}}],
    "temperature": 0.5,
    "max_tokens": 256,
    "response_format": {"type": "json_object"}
  })"));
}

TEST_CASE("ChatModel openai: a keyless local server under /v1 gets no Authorization", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({OpenAiText("Olá")}));
  Fixture f;
  ChatModelOptions options = f.Options("openai", server.Url("/v1/"), "qwen2.5:7b");
  options.api_key.clear();
  auto answer = f.Make(options)->Complete(Ask("Oi"));
  REQUIRE(answer.ok());
  CHECK(answer->content == "Olá");
  const auto requests = server.Requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/v1/chat/completions");
  CHECK_FALSE(requests[0].HasHeader("Authorization"));
  CHECK(BodyOf(requests[0]) == json::parse(R"({
    "model": "qwen2.5:7b", "messages": [{"role": "user", "content": "Oi"}],
    "temperature": 0.2, "max_tokens": 1024})"));
}

TEST_CASE("ChatModel openai: a text answer with usage and cached tokens", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "id": "chatcmpl-9", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Seu boleto vence dia 10.",
                                         "refusal": null},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 2048, "completion_tokens": 9, "total_tokens": 2057,
              "prompt_tokens_details": {"cached_tokens": 1920},
              "completion_tokens_details": {"reasoning_tokens": 0}}})")}));
  Fixture f;
  auto answer = f.OpenAi(server)->Complete(Ask("Quando vence?"));
  REQUIRE(answer.ok());
  CHECK(answer->content == "Seu boleto vence dia 10.");
  CHECK(answer->tool_calls.empty());
  CHECK(answer->finish_reason == "stop");
  CHECK(answer->model == "gpt-4o-mini-2024-07-18");
  CHECK(answer->usage.prompt_tokens == 2048);
  CHECK(answer->usage.completion_tokens == 9);
  CHECK(answer->usage.cached_tokens == 1920);
  CHECK(answer->usage.total_tokens == 2057);
}

TEST_CASE("ChatModel openai: several tool calls keep their ids - arguments are checked objects",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_X1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Recife\"}"}},
        {"id": "call_X2", "type": "function",
         "function": {"name": "order_status", "arguments": "{\"order_id\": 42}"}},
        {"type": "function", "function": {"name": "now", "arguments": ""}}]},
      "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 80, "completion_tokens": 30}})")}));
  Fixture f;
  auto answer = f.OpenAi(server)->Complete(Ask("Clima e pedido?"));
  REQUIRE(answer.ok());
  CHECK(answer->content.empty());
  CHECK(answer->finish_reason == "tool_calls");
  CHECK(answer->model == "gpt-4o-mini");  // none in the answer: the one configured
  REQUIRE(answer->tool_calls.size() == 3);
  CHECK(answer->tool_calls[0].id == "call_X1");
  CHECK(answer->tool_calls[0].name == "get_weather");
  CHECK(answer->tool_calls[0].arguments_json == R"({"city":"Recife"})");
  CHECK(answer->tool_calls[1].id == "call_X2");
  CHECK(answer->tool_calls[1].name == "order_status");
  CHECK(answer->tool_calls[1].arguments_json == R"({"order_id": 42})");
  CHECK(answer->tool_calls[2].id == "call_2");  // a server that gave none
  CHECK(answer->tool_calls[2].arguments_json == "{}");
  CHECK(answer->usage.prompt_tokens == 80);
  CHECK(answer->usage.completion_tokens == 30);
  CHECK(answer->usage.total_tokens == 110);  // summed when not given
}

TEST_CASE("ChatModel openai: a server that says stop while calling tools says tool_calls",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
    "choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "now", "arguments": {}}}]},
      "finish_reason": "stop"}]})")}));
  Fixture f;
  auto answer = f.OpenAi(server)->Complete(Ask("Que horas são?"));
  REQUIRE(answer.ok());
  CHECK(answer->finish_reason == "tool_calls");
  REQUIRE(answer->tool_calls.size() == 1);
  CHECK(answer->tool_calls[0].arguments_json == "{}");  // an object, as llama.cpp may send
}

TEST_CASE("ChatModel openai: tool-call arguments that are not a JSON object are Internal",
          "[chat]") {
  Fixture f;
  auto complete = [&f](const std::string& arguments) {
    json::object function{{"name", "get_weather"}, {"arguments", arguments}};
    FakeHttpServer server(FakeHttpServer::Script({Json(json::object{
        {"choices", json::array{json::object{
                        {"message", json::object{{"role", "assistant"},
                                                 {"content", nullptr},
                                                 {"tool_calls", json::array{json::object{
                                                                    {"id", "call_1"},
                                                                    {"type", "function"},
                                                                    {"function", function}}}}}},
                        {"finish_reason", "tool_calls"}}}}})}));
    const std::string message =
        ErrorOf(f.OpenAi(server)->Complete(Ask("x")), StatusCode::kInternal);
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(Contains(message, "tool call 0 (get_weather) arguments are not a JSON object"));
    return message;
  };
  CHECK(Contains(complete(R"({"city": "Reci)"), R"({"city": "Reci)"));  // quoted, cut answer
  complete("[\"Recife\"]");
  complete("\"Recife\"");
}

TEST_CASE("ChatModel openai: a content filter or refusal without an answer is blocked", "[chat]") {
  Fixture f;
  SECTION("content_filter") {
    FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
      "choices": [{"message": {"role": "assistant", "content": null},
                   "finish_reason": "content_filter"}]})")}));
    const std::string message =
        ErrorOf(f.OpenAi(server)->Complete(Ask("x")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "blocked"));
    CHECK(Contains(message, "content_filter"));
  }
  SECTION("refusal") {
    FakeHttpServer server(FakeHttpServer::Script({JsonText(R"({
      "choices": [{"message": {"role": "assistant", "content": null,
                               "refusal": "I can't help with that."},
                   "finish_reason": "stop"}]})")}));
    const std::string message =
        ErrorOf(f.OpenAi(server)->Complete(Ask("x")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "blocked"));
    CHECK(Contains(message, "I can't help with that."));
  }
}

TEST_CASE("ChatModel openai: no choices or a malformed answer is Internal", "[chat]") {
  Fixture f;
  auto complete = [&f](FakeReply reply) {
    FakeHttpServer server(FakeHttpServer::Script({std::move(reply)}));
    const std::string message =
        ErrorOf(f.OpenAi(server)->Complete(Ask("x")), StatusCode::kInternal);
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(Contains(message, "openai/gpt-4o-mini: malformed answer"));
    return message;
  };
  CHECK(Contains(complete(FakeReply{.body = "<html>bad gateway</html>"}), "not JSON"));
  CHECK(Contains(complete(FakeReply{.body = R"({"choices": [{"message": )"}), "not JSON"));
  CHECK(Contains(complete(JsonText(R"({"choices": []})")), "no choices"));
  CHECK(Contains(complete(JsonText(R"({"object": "chat.completion"})")), "no choices"));
  CHECK(Contains(complete(JsonText(R"({"choices": [{"finish_reason": "stop"}]})")),
                 "choices[0] has no message"));
  CHECK(Contains(complete(JsonText(R"({"choices": [{"message": {"tool_calls": [
                   {"id": "1", "type": "function", "function": {"arguments": "{}"}}]}}]})")),
                 "tool call 0 has no name"));
}

// ---------------------------------------------------------------------------------------------
// Both: transport, errors, request checks

TEST_CASE("ChatModel: 503 then 200 is retried after a backoff, without sleeping", "[chat]") {
  Fixture f;
  SECTION("gemini") {
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"error", json::object{{"code", 503}, {"message", "overloaded"}}}}, 503),
         GeminiText("ok")}));
    auto answer = f.Gemini(server)->Complete(Ask("x"));
    REQUIRE(answer.ok());
    CHECK(answer->content == "ok");
    const auto requests = server.Requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].body == requests[0].body);
  }
  SECTION("openai") {
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"error", json::object{{"message", "The server is overloaded"}}}}, 503),
         OpenAiText("ok")}));
    auto answer = f.OpenAi(server)->Complete(Ask("x"));
    REQUIRE(answer.ok());
    CHECK(answer->content == "ok");
    CHECK(server.Requests().size() == 2);
  }
  REQUIRE(f.sleeps.size() == 1);
  CHECK(f.sleeps[0] >= milliseconds(400));  // 500 ms +/- 20% jitter
  CHECK(f.sleeps[0] <= milliseconds(600));
}

TEST_CASE("ChatModel: after max_attempts of 5xx, Unavailable names the model and the status",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script(
      {Json(json::object{{"error", json::object{{"message", "Internal error"}}}}, 500)}));
  Fixture f;
  ChatModelOptions options = f.Options("gemini", server.Url(""), "gemini-2.5-flash");
  options.max_attempts = 2;
  const std::string message =
      ErrorOf(f.Make(options)->Complete(Ask("x")), StatusCode::kUnavailable);
  CHECK(Contains(message, "gemini/gemini-2.5-flash"));
  CHECK(Contains(message, "HTTP 500"));
  CHECK(Contains(message, "2 attempts"));
  CHECK(server.Requests().size() == 2);
  CHECK(f.sleeps.size() == 1);
}

TEST_CASE("ChatModel: 400 is InvalidArgument quoting the provider, never the key", "[chat]") {
  Fixture f;
  SECTION("gemini, echoing the key it refused") {
    FakeHttpServer server(FakeHttpServer::Script({Json(
        json::object{{"error", json::object{{"code", 400},
                                            {"message", std::string("API key not valid: ") + kKey},
                                            {"status", "INVALID_ARGUMENT"}}}},
        400)}));
    const std::string message =
        ErrorOf(f.Gemini(server)->Complete(Ask("x")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "gemini/gemini-2.5-flash"));
    CHECK(Contains(message, "HTTP 400"));
    CHECK(Contains(message, "API key not valid"));
    CHECK(server.Requests().size() == 1);  // not retried
    CHECK(f.sleeps.empty());
  }
  SECTION("openai") {
    FakeHttpServer server(FakeHttpServer::Script(
        {Json(json::object{{"error", json::object{{"message", "Invalid 'messages[1].tool_call_id'"},
                                                  {"type", "invalid_request_error"}}}},
              400)}));
    const std::string message =
        ErrorOf(f.OpenAi(server)->Complete(Ask("x")), StatusCode::kInvalidArgument);
    CHECK(Contains(message, "openai/gpt-4o-mini"));
    CHECK(Contains(message, "Invalid 'messages[1].tool_call_id'"));
    CHECK(server.Requests().size() == 1);
  }
}

TEST_CASE("ChatModel: connection refused is Unavailable after max_attempts", "[chat]") {
  Fixture f;
  ChatModelOptions options =
      f.Options("openai", "http://127.0.0.1:" + std::to_string(ClosedPort()), "gpt-4o-mini");
  options.max_attempts = 2;
  const std::string message =
      ErrorOf(f.Make(options)->Complete(Ask("x")), StatusCode::kUnavailable);
  CHECK(Contains(message, "openai/gpt-4o-mini"));
  CHECK(Contains(message, "2 attempts"));
  CHECK(f.sleeps.size() == 1);
}

TEST_CASE("ChatModel: requests that cannot be sent are InvalidArgument and send nothing",
          "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiText("never")}));
  Fixture f;
  auto gemini = f.Gemini(server);
  auto openai = f.OpenAi(server);
  auto refused = [&](const ChatRequest& request) {
    std::string message;
    for (ChatModel* model : {gemini.get(), openai.get()}) {
      message = ErrorOf(model->Complete(request), StatusCode::kInvalidArgument);
      CHECK(Contains(message, model->name()));
    }
    return message;
  };

  CHECK(Contains(refused(ChatRequest{}), "no messages"));

  ChatRequest request = Ask("x");
  request.messages[0].role = "developer";
  CHECK(Contains(refused(request), "message 0: unknown role 'developer'"));

  request = Ask("x");
  request.messages.push_back(ChatMessage::ToolResult("", "now", "12:00"));
  CHECK(Contains(refused(request), "message 1: a tool result needs tool_call_id"));

  request = Ask("x");
  request.messages.push_back(
      ChatMessage::Assistant("", {ToolCall{.id = "c", .name = "f", .arguments_json = "[1]"}}));
  CHECK(Contains(refused(request), "message 1: arguments of tool call 'f' are not a JSON object"));

  request = Ask("x");
  request.messages[0].tool_calls.push_back(ToolCall{.id = "c", .name = "f"});
  CHECK(Contains(refused(request), "only assistant messages carry tool calls"));

  request = Ask("x");
  request.tools.push_back(ToolSpec{.name = "f", .parameters_json = "{\"type\":"});
  CHECK(Contains(refused(request), "tool 'f': parameters_json is not a JSON object"));

  request = Ask("x");
  request.temperature = 3;
  CHECK(Contains(refused(request), "temperature"));

  CHECK(server.Requests().empty());
}

TEST_CASE("ChatModel gemini: a tool result needs a name it can be matched by", "[chat]") {
  FakeHttpServer server(FakeHttpServer::Script({GeminiText("never")}));
  Fixture f;
  ChatRequest request = Ask("x");
  request.messages.push_back(ChatMessage::ToolResult("call_9", "", "{}"));
  const std::string message =
      ErrorOf(f.Gemini(server)->Complete(request), StatusCode::kInvalidArgument);
  CHECK(Contains(message, "call_9"));

  request.messages = {ChatMessage::System("only a system prompt")};
  CHECK(Contains(ErrorOf(f.Gemini(server)->Complete(request), StatusCode::kInvalidArgument),
                 "no user or assistant message"));
  CHECK(server.Requests().empty());
}

TEST_CASE("MakeChatModel: refuses unknown providers and missing settings", "[chat]") {
  Fixture f;
  auto refused = [&f](const ChatModelOptions& options) {
    auto made = MakeChatModel(options, f.http);
    REQUIRE_FALSE(made.ok());
    CHECK(made.status().code() == StatusCode::kInvalidArgument);
    return made.status().message();
  };
  const ChatModelOptions good = f.Options("openai", "http://127.0.0.1:9", "m");
  REQUIRE(MakeChatModel(good, f.http).ok());

  ChatModelOptions options = good;
  options.provider = "anthropic";
  const std::string message = refused(options);
  CHECK(Contains(message, "anthropic"));
  CHECK(Contains(message, "gemini, openai"));

  options = good;
  options.base_url = "/";
  CHECK(Contains(refused(options), "base_url"));
  options = good;
  options.model = "";
  CHECK(Contains(refused(options), "model"));
  options = good;
  options.max_attempts = 0;
  CHECK(Contains(refused(options), "max_attempts"));
  options = good;
  options.timeout = milliseconds(0);
  CHECK(Contains(refused(options), "timeout"));
}
