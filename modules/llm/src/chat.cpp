#include "ventros/llm/chat.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "provider_http.hpp"

namespace ventros::llm {
namespace {

namespace json = core::json;
using core::StatusCode;
using internal::Headers;
using internal::JsonPoster;

enum class Provider { kGemini, kOpenAi };

constexpr std::string_view kValidProviders = "gemini, openai";
constexpr double kMaxTemperature = 2.0;  // both providers' upper bound

std::optional<Provider> ParseProvider(std::string_view name) {
  if (name == "gemini") return Provider::kGemini;
  if (name == "openai") return Provider::kOpenAi;
  return std::nullopt;
}

// Gemini finish reasons that mean the provider withheld the answer.
constexpr std::array<std::string_view, 6> kGeminiBlockedReasons = {
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"};

bool IsGeminiBlocked(std::string_view finish_reason) {
  return std::find(kGeminiBlockedReasons.begin(), kGeminiBlockedReasons.end(), finish_reason) !=
         kGeminiBlockedReasons.end();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

std::optional<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec) return std::nullopt;
  return parsed;
}

// A JSON object given as text; blank text is the empty object.
std::optional<json::object> ParseObject(std::string_view text) {
  if (IsBlank(text)) return json::object{};
  std::optional<json::value> parsed = ParseJson(text);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return std::move(parsed->as_object());
}

const json::object* ObjectAt(const json::object& parent, std::string_view key) {
  const json::value* value = parent.if_contains(key);
  return value && value->is_object() ? &value->as_object() : nullptr;
}

std::string StringAt(const json::object& parent, std::string_view key) {
  const json::value* value = parent.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// A token count as providers write it; 0 when absent or not a count.
int64_t CountAt(const json::object* parent, std::string_view key) {
  if (!parent) return 0;
  const json::value* value = parent->if_contains(key);
  if (!value) return 0;
  if (value->is_int64()) return std::max<int64_t>(0, value->as_int64());
  if (value->is_uint64()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(value->as_uint64(), std::numeric_limits<int64_t>::max()));
  }
  if (value->is_double() && std::isfinite(value->as_double()) && value->as_double() >= 0 &&
      value->as_double() < static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::llround(value->as_double());
  }
  return 0;
}

json::array Single(json::object item) {
  json::array out;
  out.emplace_back(std::move(item));
  return out;
}

json::object TextPart(const std::string& text) {
  json::object part;
  part["text"] = text;
  return part;
}

// What both providers share: settings, request checks, the POST and the error vocabulary.
// Thread-safe: const state (JsonPoster is thread-safe).
class HostedChatModel : public ChatModel {
 public:
  HostedChatModel(const ChatModelOptions& options, std::string model, std::string url,
                  Headers headers, core::HttpClient& http)
      : model_(std::move(model)),
        url_(std::move(url)),
        headers_(std::move(headers)),
        poster_(http, internal::PosterSettings{.label = options.provider + "/" + model_,
                                               .secret = options.api_key,
                                               .timeout = options.timeout,
                                               .max_attempts = options.max_attempts,
                                               .sleep = options.sleep}) {}

  std::string name() const final { return poster_.label(); }

  Result<ChatResponse> Complete(const ChatRequest& request) final {
    VENTROS_RETURN_IF_ERROR(Check(request));
    VENTROS_ASSIGN_OR_RETURN(const json::object body, Body(request));
    VENTROS_ASSIGN_OR_RETURN(const json::object answer,
                             poster_.Post(url_, headers_, json::serialize(body)));
    VENTROS_ASSIGN_OR_RETURN(ChatResponse response, Parse(answer));
    if (response.model.empty()) response.model = model_;
    return response;
  }

 protected:
  virtual Result<json::object> Body(const ChatRequest& request) const = 0;
  virtual Result<ChatResponse> Parse(const json::object& answer) const = 0;

  Status Invalid(std::string_view message) const {
    return poster_.Error(StatusCode::kInvalidArgument, message);
  }
  Status Malformed(std::string_view what) const { return poster_.Malformed(what); }
  // The provider withheld the answer: asking again gets the same refusal.
  Status Blocked(std::string_view what) const {
    return poster_.Error(StatusCode::kInvalidArgument,
                         fmt::format("blocked by the provider's safety filters: {}", what));
  }

  // The arguments of a call the caller sends back, as an object.
  Result<json::object> CallArguments(const ToolCall& call, size_t message) const {
    std::optional<json::object> arguments = ParseObject(call.arguments_json);
    if (!arguments) {
      return Invalid(fmt::format("message {}: arguments of tool call '{}' are not a JSON object",
                                 message, call.name));
    }
    return std::move(*arguments);
  }

  // The JSON Schema of a tool; nullopt for a tool without parameters.
  Result<std::optional<json::object>> Parameters(const ToolSpec& tool) const {
    if (IsBlank(tool.parameters_json)) return std::optional<json::object>();
    std::optional<json::object> schema = ParseObject(tool.parameters_json);
    if (!schema) {
      return Invalid(fmt::format("tool '{}': parameters_json is not a JSON object", tool.name));
    }
    return std::optional<json::object>(std::move(*schema));
  }

  // Arguments of a call in an answer: an object, or a string holding one (OpenAI); blank or
  // absent is the empty object.
  Result<std::string> AnswerArguments(const json::value* arguments, size_t index,
                                      std::string_view name) const {
    if (!arguments || arguments->is_null()) return std::string("{}");
    if (arguments->is_object()) return json::serialize(*arguments);
    if (arguments->is_string()) {
      const std::string_view text = arguments->as_string();
      if (IsBlank(text)) return std::string("{}");
      if (ParseObject(text)) return std::string(text);
      return Malformed(fmt::format("tool call {} ({}) arguments are not a JSON object: {}", index,
                                   name, internal::Truncate(std::string(text), kMaxQuoted)));
    }
    return Malformed(fmt::format("tool call {} ({}) arguments are not a JSON object: {}", index,
                                 name,
                                 internal::Truncate(json::serialize(*arguments), kMaxQuoted)));
  }

  const std::string model_;

 private:
  static constexpr size_t kMaxQuoted = 200;  // bytes of bad tool arguments quoted in a Status

  // What both wire formats need; each provider refuses the rest in its own words.
  Status Check(const ChatRequest& request) const {
    if (request.messages.empty()) return Invalid("no messages");
    if (!std::isfinite(request.temperature) || request.temperature < 0 ||
        request.temperature > kMaxTemperature) {
      return Invalid(
          fmt::format("temperature {} is outside 0..{}", request.temperature, kMaxTemperature));
    }
    for (size_t i = 0; i < request.messages.size(); ++i) {
      const ChatMessage& m = request.messages[i];
      if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
        return Invalid(fmt::format(
            "message {}: unknown role '{}' (valid: system, user, assistant, tool)", i, m.role));
      }
      if (!m.tool_calls.empty() && m.role != "assistant") {
        return Invalid(fmt::format("message {}: only assistant messages carry tool calls", i));
      }
      for (const ToolCall& call : m.tool_calls) {
        if (call.name.empty()) {
          return Invalid(fmt::format("message {}: a tool call has no name", i));
        }
      }
      if (m.role == "tool" && m.tool_call_id.empty()) {
        return Invalid(fmt::format("message {}: a tool result needs tool_call_id", i));
      }
    }
    for (const ToolSpec& tool : request.tools) {
      if (tool.name.empty()) return Invalid("a tool has no name");
    }
    return Status::Ok();
  }

  const std::string url_;
  const Headers headers_;
  JsonPoster poster_;
};

// Gemini API generateContent. Tool calls carry no ids there: they are numbered per answer and
// results are matched back by function name.
class GeminiChat final : public HostedChatModel {
 public:
  GeminiChat(const ChatModelOptions& options, std::string model, core::HttpClient& http)
      : HostedChatModel(
            options, model,
            internal::JoinVersioned(options.base_url, "/v1beta", "/models/" + model) +
                ":generateContent",
            options.api_key.empty() ? Headers{} : Headers{{"x-goog-api-key", options.api_key}},
            http) {}

 private:
  Result<json::object> Body(const ChatRequest& request) const override {
    json::array system_parts;
    json::array contents;
    const ChatMessage* last_assistant = nullptr;
    bool in_tool_results = false;  // contents.back() gathers the results of one turn's calls
    for (size_t i = 0; i < request.messages.size(); ++i) {
      const ChatMessage& m = request.messages[i];
      if (m.role == "system") {
        system_parts.emplace_back(TextPart(m.content));
        continue;
      }
      if (m.role == "tool") {
        VENTROS_ASSIGN_OR_RETURN(json::object part, FunctionResponse(m, i, last_assistant));
        if (in_tool_results) {
          contents.back().as_object()["parts"].as_array().emplace_back(std::move(part));
        } else {
          contents.emplace_back(Content("user", Single(std::move(part))));
          in_tool_results = true;
        }
        continue;
      }
      in_tool_results = false;
      if (m.role == "user") {
        contents.emplace_back(Content("user", Single(TextPart(m.content))));
        continue;
      }
      json::array parts;  // assistant
      if (!m.content.empty() || m.tool_calls.empty()) parts.emplace_back(TextPart(m.content));
      for (const ToolCall& call : m.tool_calls) {
        VENTROS_ASSIGN_OR_RETURN(json::object arguments, CallArguments(call, i));
        json::object function_call;
        function_call["name"] = call.name;
        function_call["args"] = std::move(arguments);
        json::object part;
        part["functionCall"] = std::move(function_call);
        if (!call.thought_signature.empty()) part["thoughtSignature"] = call.thought_signature;
        parts.emplace_back(std::move(part));
      }
      contents.emplace_back(Content("model", std::move(parts)));
      last_assistant = &m;
    }
    if (contents.empty()) return Invalid("no user or assistant message besides system ones");

    json::object body;
    body["contents"] = std::move(contents);
    if (!system_parts.empty()) {
      json::object instruction;
      instruction["parts"] = std::move(system_parts);
      body["systemInstruction"] = std::move(instruction);
    }
    if (!request.tools.empty()) {
      json::array declarations;
      for (const ToolSpec& tool : request.tools) {
        json::object declaration;
        declaration["name"] = tool.name;
        if (!tool.description.empty()) declaration["description"] = tool.description;
        VENTROS_ASSIGN_OR_RETURN(std::optional<json::object> parameters, Parameters(tool));
        if (parameters) declaration["parameters"] = std::move(*parameters);
        declarations.emplace_back(std::move(declaration));
      }
      json::object tools;
      tools["functionDeclarations"] = std::move(declarations);
      body["tools"] = Single(std::move(tools));
    }
    json::object config;
    config["temperature"] = request.temperature;
    if (request.max_tokens > 0) config["maxOutputTokens"] = request.max_tokens;
    if (request.json_output) config["responseMimeType"] = "application/json";
    body["generationConfig"] = std::move(config);
    return body;
  }

  static json::object Content(std::string_view role, json::array parts) {
    json::object content;
    content["role"] = role;
    content["parts"] = std::move(parts);
    return content;
  }

  // {"functionResponse":{"name","response"}}; the response must be an object, so anything else
  // (other JSON, plain text) becomes {"result": ...}.
  Result<json::object> FunctionResponse(const ChatMessage& m, size_t index,
                                        const ChatMessage* last_assistant) const {
    std::string name = m.name;
    if (name.empty() && last_assistant) {
      for (const ToolCall& call : last_assistant->tool_calls) {
        if (call.id == m.tool_call_id) name = call.name;
      }
    }
    if (name.empty()) {
      return Invalid(fmt::format(
          "message {}: tool result '{}' answers no call of the assistant message before it and "
          "has no name",
          index, m.tool_call_id));
    }
    json::object response;
    std::optional<json::value> parsed = ParseJson(m.content);
    if (parsed && parsed->is_object()) {
      response = std::move(parsed->as_object());
    } else if (parsed) {
      response["result"] = std::move(*parsed);
    } else {
      response["result"] = m.content;
    }
    json::object function_response;
    function_response["name"] = std::move(name);
    function_response["response"] = std::move(response);
    json::object part;
    part["functionResponse"] = std::move(function_response);
    return part;
  }

  Result<ChatResponse> Parse(const json::object& answer) const override {
    ChatResponse out;
    out.model = StringAt(answer, "modelVersion");
    const json::object* usage = ObjectAt(answer, "usageMetadata");
    out.usage.prompt_tokens = CountAt(usage, "promptTokenCount");
    // Thinking tokens are billed as output; OpenAI counts its reasoning tokens there too.
    out.usage.completion_tokens =
        CountAt(usage, "candidatesTokenCount") + CountAt(usage, "thoughtsTokenCount");
    out.usage.cached_tokens = CountAt(usage, "cachedContentTokenCount");
    out.usage.total_tokens = CountAt(usage, "totalTokenCount");
    if (out.usage.total_tokens == 0) {
      out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    }

    const json::value* candidates = answer.if_contains("candidates");
    if (!candidates || !candidates->is_array() || candidates->as_array().empty()) {
      // A blocked prompt gets no candidates at all, only promptFeedback.
      if (const json::object* feedback = ObjectAt(answer, "promptFeedback")) {
        const std::string reason = StringAt(*feedback, "blockReason");
        if (!reason.empty()) return Blocked(fmt::format("prompt blocked ({})", reason));
      }
      return Malformed("no candidates");
    }
    const json::value& first = candidates->as_array().front();
    if (!first.is_object()) return Malformed("candidates[0] is not an object");
    const json::object& candidate = first.as_object();
    const std::string reason = StringAt(candidate, "finishReason");

    // A blocked answer has no content, or content without parts.
    const json::object* content = ObjectAt(candidate, "content");
    const json::value* parts = content ? content->if_contains("parts") : nullptr;
    if (parts && !parts->is_array()) return Malformed("content.parts is not an array");
    if (parts) VENTROS_RETURN_IF_ERROR(ReadParts(parts->as_array(), out));

    if (out.content.empty() && out.tool_calls.empty()) {
      if (IsGeminiBlocked(reason)) {
        return Blocked(fmt::format("answer blocked ({}{})", reason, BlockedCategories(candidate)));
      }
      if (reason == "MALFORMED_FUNCTION_CALL") {
        const std::string message = StringAt(candidate, "finishMessage");
        return Malformed(message.empty()
                             ? std::string("the model wrote a malformed function call")
                             : "the model wrote a malformed function call: " +
                                   internal::Truncate(message, internal::kMaxErrorText));
      }
    }
    out.finish_reason = FinishReason(reason, !out.tool_calls.empty());
    return out;
  }

  // Text parts joined into content, functionCall parts into tool_calls; thoughts skipped.
  Status ReadParts(const json::array& parts, ChatResponse& out) const {
    for (const json::value& item : parts) {
      if (!item.is_object()) return Malformed("a part is not an object");
      const json::object& part = item.as_object();
      const json::value* thought = part.if_contains("thought");
      if (thought && thought->is_bool() && thought->as_bool()) continue;  // thinking summary
      if (const json::value* text = part.if_contains("text")) {
        if (!text->is_string()) return Malformed("a text part is not a string");
        out.content += text->as_string();
      } else if (const json::value* call = part.if_contains("functionCall")) {
        VENTROS_ASSIGN_OR_RETURN(ToolCall parsed, FunctionCall(*call, out.tool_calls.size()));
        parsed.thought_signature = StringAt(part, "thoughtSignature");
        out.tool_calls.push_back(std::move(parsed));
      }
    }
    return Status::Ok();
  }

  // functionCall {name, args} -> a ToolCall numbered `index` in its answer.
  Result<ToolCall> FunctionCall(const json::value& call, size_t index) const {
    if (!call.is_object()) return Malformed(fmt::format("functionCall {} is not an object", index));
    ToolCall out;
    out.id = fmt::format("call_{}", index);
    out.name = StringAt(call.as_object(), "name");
    if (out.name.empty()) return Malformed(fmt::format("functionCall {} has no name", index));
    VENTROS_ASSIGN_OR_RETURN(
        out.arguments_json, AnswerArguments(call.as_object().if_contains("args"), index, out.name));
    return out;
  }

  // ", HARM_CATEGORY_HARASSMENT" for every rating Gemini marks as blocking.
  static std::string BlockedCategories(const json::object& candidate) {
    std::string out;
    const json::value* ratings = candidate.if_contains("safetyRatings");
    if (!ratings || !ratings->is_array()) return out;
    for (const json::value& rating : ratings->as_array()) {
      if (!rating.is_object()) continue;
      const json::value* blocked = rating.as_object().if_contains("blocked");
      if (blocked && blocked->is_bool() && blocked->as_bool()) {
        out += ", " + StringAt(rating.as_object(), "category");
      }
    }
    return out;
  }

  static std::string FinishReason(std::string_view reason, bool has_calls) {
    // Gemini says STOP when it stops to call functions.
    if (reason == "STOP" || reason.empty()) return has_calls ? "tool_calls" : "stop";
    if (reason == "MAX_TOKENS") return "length";
    if (IsGeminiBlocked(reason)) return "content_filter";
    return Lower(reason);
  }
};

// OpenAI-compatible /v1/chat/completions (OpenAI, Ollama, vLLM, llama.cpp server, LiteLLM).
class OpenAiChat final : public HostedChatModel {
 public:
  OpenAiChat(const ChatModelOptions& options, std::string model, core::HttpClient& http)
      : HostedChatModel(options, std::move(model),
                        internal::JoinVersioned(options.base_url, "/v1", "/chat/completions"),
                        options.api_key.empty()
                            ? Headers{}
                            : Headers{{"Authorization", "Bearer " + options.api_key}},
                        http) {}

 private:
  Result<json::object> Body(const ChatRequest& request) const override {
    json::array messages;
    for (size_t i = 0; i < request.messages.size(); ++i) {
      const ChatMessage& m = request.messages[i];
      json::object message;
      message["role"] = m.role;
      if (m.role == "tool") {
        message["tool_call_id"] = m.tool_call_id;
        message["content"] = m.content;
      } else if (m.role == "assistant" && !m.tool_calls.empty()) {
        if (m.content.empty()) {
          message["content"] = nullptr;
        } else {
          message["content"] = m.content;
        }
        json::array calls;
        for (const ToolCall& call : m.tool_calls) {
          VENTROS_ASSIGN_OR_RETURN(const json::object arguments, CallArguments(call, i));
          json::object function;
          function["name"] = call.name;
          // As the model wrote them (checked above), so a conversation sent again is the same.
          function["arguments"] =
              IsBlank(call.arguments_json) ? json::serialize(arguments) : call.arguments_json;
          json::object item;
          item["id"] = call.id;
          item["type"] = "function";
          item["function"] = std::move(function);
          calls.emplace_back(std::move(item));
        }
        message["tool_calls"] = std::move(calls);
      } else {
        message["content"] = m.content;
      }
      messages.emplace_back(std::move(message));
    }

    json::object body;
    body["model"] = model_;
    body["messages"] = std::move(messages);
    if (!request.tools.empty()) {
      json::array tools;
      for (const ToolSpec& tool : request.tools) {
        json::object function;
        function["name"] = tool.name;
        if (!tool.description.empty()) function["description"] = tool.description;
        VENTROS_ASSIGN_OR_RETURN(std::optional<json::object> parameters, Parameters(tool));
        if (parameters) function["parameters"] = std::move(*parameters);
        json::object item;
        item["type"] = "function";
        item["function"] = std::move(function);
        tools.emplace_back(std::move(item));
      }
      body["tools"] = std::move(tools);
    }
    body["temperature"] = request.temperature;
    if (request.max_tokens > 0) body["max_tokens"] = request.max_tokens;
    if (request.json_output) {
      json::object format;
      format["type"] = "json_object";
      body["response_format"] = std::move(format);
    }
    return body;
  }

  Result<ChatResponse> Parse(const json::object& answer) const override {
    ChatResponse out;
    out.model = StringAt(answer, "model");
    const json::object* usage = ObjectAt(answer, "usage");
    out.usage.prompt_tokens = CountAt(usage, "prompt_tokens");
    out.usage.completion_tokens = CountAt(usage, "completion_tokens");
    out.usage.cached_tokens =
        CountAt(usage ? ObjectAt(*usage, "prompt_tokens_details") : nullptr, "cached_tokens");
    out.usage.total_tokens = CountAt(usage, "total_tokens");
    if (out.usage.total_tokens == 0) {
      out.usage.total_tokens = out.usage.prompt_tokens + out.usage.completion_tokens;
    }

    const json::value* choices = answer.if_contains("choices");
    if (!choices || !choices->is_array() || choices->as_array().empty()) {
      return Malformed("no choices");
    }
    const json::value& first = choices->as_array().front();
    const json::object* message =
        first.is_object() ? ObjectAt(first.as_object(), "message") : nullptr;
    if (!message) return Malformed("choices[0] has no message");
    const std::string reason = StringAt(first.as_object(), "finish_reason");

    VENTROS_ASSIGN_OR_RETURN(out.content, Text(message->if_contains("content")));
    if (const json::value* calls = message->if_contains("tool_calls"); calls && !calls->is_null()) {
      if (!calls->is_array()) return Malformed("message.tool_calls is not an array");
      for (const json::value& call : calls->as_array()) {
        VENTROS_ASSIGN_OR_RETURN(ToolCall parsed, FunctionCall(call, out.tool_calls.size()));
        out.tool_calls.push_back(std::move(parsed));
      }
    }

    if (out.content.empty() && out.tool_calls.empty()) {
      const std::string refusal = StringAt(*message, "refusal");
      if (!refusal.empty()) {
        return Blocked(
            fmt::format("refused: {}", internal::Truncate(refusal, internal::kMaxErrorText)));
      }
      if (reason == "content_filter") return Blocked("answer blocked (content_filter)");
    }
    // Some servers (older Ollama, llama.cpp) say "stop" when they stop to call tools.
    if ((reason == "stop" || reason.empty()) && !out.tool_calls.empty()) {
      out.finish_reason = "tool_calls";
    } else {
      out.finish_reason = reason.empty() ? "stop" : Lower(reason);
    }
    return out;
  }

  // message.content: a string, null (tool calls only) or, from some servers, text parts.
  Result<std::string> Text(const json::value* content) const {
    if (!content || content->is_null()) return std::string();
    if (content->is_string()) return std::string(content->as_string());
    if (!content->is_array()) return Malformed("message.content is neither text nor parts");
    std::string text;
    for (const json::value& part : content->as_array()) {
      if (part.is_object()) text += StringAt(part.as_object(), "text");
    }
    return text;
  }

  // {id, type:"function", function:{name, arguments}}; servers that omit the id get
  // "call_{index}", as Gemini's calls do.
  Result<ToolCall> FunctionCall(const json::value& call, size_t index) const {
    const json::object* function =
        call.is_object() ? ObjectAt(call.as_object(), "function") : nullptr;
    if (!function) return Malformed(fmt::format("tool call {} has no function", index));
    ToolCall out;
    out.id = StringAt(call.as_object(), "id");
    if (out.id.empty()) out.id = fmt::format("call_{}", index);
    out.name = StringAt(*function, "name");
    if (out.name.empty()) return Malformed(fmt::format("tool call {} has no name", index));
    VENTROS_ASSIGN_OR_RETURN(out.arguments_json,
                             AnswerArguments(function->if_contains("arguments"), index, out.name));
    return out;
  }
};

}  // namespace

Result<std::unique_ptr<ChatModel>> MakeChatModel(const ChatModelOptions& options,
                                                 core::HttpClient& http) {
  const std::optional<Provider> provider = ParseProvider(options.provider);
  if (!provider) {
    return Status::InvalidArgument(
        fmt::format("unknown chat provider '{}' (valid: {})", options.provider, kValidProviders));
  }
  // Gemini also names models "models/gemini-2.5-flash".
  std::string model = options.model;
  if (*provider == Provider::kGemini && model.starts_with("models/")) {
    model.erase(0, std::string_view("models/").size());
  }
  const std::string what = options.provider + " chat model: ";
  if (internal::TrimTrailingSlashes(options.base_url).empty()) {
    return Status::InvalidArgument(what + "base_url is required");
  }
  if (model.empty()) return Status::InvalidArgument(what + "model is required");
  if (options.max_attempts < 1) {
    return Status::InvalidArgument(what + "max_attempts must be >= 1");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument(what + "timeout must be positive");
  }
  if (*provider == Provider::kGemini) {
    return std::unique_ptr<ChatModel>(
        std::make_unique<GeminiChat>(options, std::move(model), http));
  }
  return std::unique_ptr<ChatModel>(std::make_unique<OpenAiChat>(options, std::move(model), http));
}

}  // namespace ventros::llm
