#pragma once
// Chat-completion models behind one interface, with tool (function) calling:
//   gemini: POST {base_url}/v1beta/models/{model}:generateContent (Gemini API)
//   openai: POST {base_url}/v1/chat/completions (OpenAI, Ollama, vLLM, llama.cpp server, LiteLLM)
// Wire formats: docs/ai.md. The conversation is plain data (ChatMessage), so an agent keeps it,
// appends the model's answer and the tool results, and sends it again.
//
// Thread-safety: implementations are thread-safe (const state); Complete() blocks on the network,
// so never call it on an HTTP server I/O thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {
class HttpClient;
}

namespace ventros::llm {

using core::Result;
using core::Status;

// One tool call the model asked for.
struct ToolCall {
  // Given back in the tool result (ChatMessage::tool_call_id). OpenAI-compatible servers name
  // their calls; Gemini does not, so its calls are numbered "call_0", "call_1", ... in the order
  // of one answer (unique within an answer, not across a conversation).
  std::string id;
  std::string name;
  // Always a JSON object, serialised ("{}" for a call without arguments).
  std::string arguments_json;
  // Opaque token Gemini's thinking models attach to some calls (thoughtSignature); sent back with
  // the call in later turns (newer models refuse the call without it). Empty for other providers.
  std::string thought_signature;
};

// One turn of a conversation. Roles: "system", "user", "assistant", "tool" (see the factories).
struct ChatMessage {
  std::string role;
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant only: the calls it made (content may be empty)
  std::string tool_call_id;          // tool only: the call this message answers
  // tool only: the tool's name. Optional: found from tool_call_id in the closest assistant message
  // before it; Gemini needs it, as its results are matched by name.
  std::string name;

  static ChatMessage System(std::string text) {
    return {.role = "system", .content = std::move(text)};
  }
  static ChatMessage User(std::string text) { return {.role = "user", .content = std::move(text)}; }
  static ChatMessage Assistant(std::string text, std::vector<ToolCall> calls = {}) {
    return {.role = "assistant", .content = std::move(text), .tool_calls = std::move(calls)};
  }
  // A tool's answer; `result` is best a JSON object (other JSON or plain text is wrapped as
  // {"result": ...} where the provider needs an object).
  static ChatMessage ToolResult(std::string call_id, std::string tool_name, std::string result) {
    return {.role = "tool",
            .content = std::move(result),
            .tool_call_id = std::move(call_id),
            .name = std::move(tool_name)};
  }
};

// A tool the model may call.
struct ToolSpec {
  std::string name;
  std::string description;
  // A JSON Schema object ({"type":"object","properties":{...},"required":[...]}); empty for a
  // tool without parameters. Gemini accepts only its OpenAPI subset of JSON Schema (type,
  // properties, required, description, enum, items, format, nullable, ...).
  std::string parameters_json;
};

struct ChatRequest {
  // System messages may stand anywhere: OpenAI-compatible servers get them in place, Gemini gets
  // all of them, in order, as its systemInstruction.
  std::vector<ChatMessage> messages;
  std::vector<ToolSpec> tools;
  double temperature = 0.2;  // 0..2
  int max_tokens = 1024;     // <= 0: not sent (the model's own limit)
  // Asks for a JSON object answer (response_format json_object / responseMimeType
  // application/json). OpenAI also wants the word "JSON" in the messages.
  bool json_output = false;
};

struct Usage {
  int64_t prompt_tokens = 0;      // cached ones included
  int64_t completion_tokens = 0;  // Gemini: candidates plus thinking tokens, as OpenAI counts
  int64_t cached_tokens = 0;      // of the prompt, served from the provider's cache
  int64_t total_tokens = 0;
};

struct ChatResponse {
  std::string content;  // the text answer; may be empty when the model only calls tools
  std::vector<ToolCall> tool_calls;
  Usage usage;        // zeros when the provider reports none
  std::string model;  // as the provider names it (modelVersion, model), else the one configured
  // In OpenAI's words for every provider: "stop", "tool_calls", "length" (max_tokens reached,
  // content may be cut or empty), "content_filter"; anything else lower-cased as given.
  std::string finish_reason;
};

class ChatModel {
 public:
  virtual ~ChatModel() = default;
  // "gemini/gemini-2.5-flash", "openai/gpt-4o-mini": for logs, traces and cost accounting.
  virtual std::string name() const = 0;
  // The model's next turn. Errors, every message starting with name():
  //   InvalidArgument: a request that cannot be sent (no messages, unknown role, a tool result
  //     without tool_call_id, tool arguments or parameters that are not JSON objects), the
  //     provider refused it (4xx, quoted), or the answer was blocked by the provider's safety
  //     filters (Gemini blockReason or finishReason SAFETY/PROHIBITED_CONTENT/... without parts,
  //     OpenAI content_filter or refusal without an answer). The same request would be refused
  //     again: not retryable, and the message says "blocked".
  //   Unavailable: network, timeouts, 408, 429 and 5xx after max_attempts.
  //   Internal: a malformed answer (not JSON, no candidates/choices, a tool call whose arguments
  //     are not a JSON object, a Gemini MALFORMED_FUNCTION_CALL).
  // The API key never appears in a message.
  virtual Result<ChatResponse> Complete(const ChatRequest& request) = 0;
};

struct ChatModelOptions {
  std::string provider;  // gemini | openai
  // gemini: https://generativelanguage.googleapis.com (API key in x-goog-api-key)
  // openai: https://api.openai.com, http://127.0.0.1:11434 (Ollama), ... ("/v1/chat/completions"
  //         added, or only "/chat/completions" when the URL ends in /v1); Bearer only when
  //         api_key is set
  std::string base_url;
  std::string api_key;  // never logged nor quoted in errors
  std::string model;    // gemini-2.5-flash ("models/" prefix accepted), gpt-4o-mini, qwen2.5, ...
  std::chrono::milliseconds timeout{60000};  // per attempt
  // Attempts per call; transport errors, 408, 429 and 5xx are retried after an exponential
  // backoff (or the answer's Retry-After), then reported as Unavailable.
  int max_attempts = 3;
  // Waits between attempts; empty = std::this_thread::sleep_for. Tests capture the delays.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// A chat model over `http` (which must outlive it); name() is "{provider}/{model}".
// InvalidArgument for an unknown provider or missing settings.
Result<std::unique_ptr<ChatModel>> MakeChatModel(const ChatModelOptions& options,
                                                 core::HttpClient& http);

}  // namespace ventros::llm
