#pragma once
// Text embedding models behind one interface: the local embedder (module memory) and hosted ones
// (Gemini API, Vertex AI text-embedding-005, any OpenAI-compatible /v1/embeddings server).
//
// Thread-safety: implementations are thread-safe; Embed() blocks (network for hosted models),
// so never call it on an HTTP server I/O thread.

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {
class HttpClient;
}

namespace ventros::llm {

using core::Result;
using core::Status;

// What the text is for: providers that distinguish documents from queries embed them differently.
enum class EmbedTask { kDocument, kQuery };

using Vector = std::vector<float>;

class Embedder {
 public:
  virtual ~Embedder() = default;
  // "local", "gemini/text-embedding-004", "openai/nomic-embed-text": stored with each vector so
  // vectors of different models are never compared.
  virtual std::string name() const = 0;
  virtual int dimensions() const = 0;
  // One L2-normalised vector of dimensions() floats per text, in the order given. An empty span
  // gives an empty result. Errors: Unavailable (network, 5xx, timeouts after retries),
  // InvalidArgument (the provider refused the input), Internal (a malformed answer).
  virtual Result<std::vector<Vector>> Embed(std::span<const std::string> texts, EmbedTask task) = 0;
};

struct HostedEmbedderOptions {
  std::string provider;  // gemini | vertex | openai
  // gemini: https://generativelanguage.googleapis.com (API key in x-goog-api-key)
  // vertex: https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}
  //         (access token as Bearer)
  // openai: https://api.openai.com or http://127.0.0.1:11434 (Ollama) ... ("/v1/embeddings" added,
  //         or only "/embeddings" when the URL already ends in /v1); Bearer only when api_key is
  //         set
  std::string base_url;
  std::string api_key;  // never logged nor quoted in errors
  std::string model;    // text-embedding-004, text-embedding-005, text-embedding-3-small, ...
  // Requested output size, sent as outputDimensionality (gemini, vertex) or dimensions (openai).
  // 0: not sent, the model's native size is used and fixed by the first answer (dimensions() is 0
  // until then); needed for models that refuse the parameter (text-embedding-ada-002, many local
  // models behind vLLM).
  int dimensions = 768;
  int batch_size = 64;  // texts per request (Vertex: at most 250 and 20k tokens per request)
  std::chrono::milliseconds timeout{30000};  // per attempt
  // Attempts per batch; transport errors, 408, 429 and 5xx are retried after an exponential
  // backoff (or the answer's Retry-After), then reported as Unavailable.
  int max_attempts = 3;
  // Waits between attempts; empty = std::this_thread::sleep_for. Tests capture the delays.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// A hosted embedder over `http` (which must outlive it). InvalidArgument for an unknown provider
// or missing settings.
Result<std::unique_ptr<Embedder>> MakeHostedEmbedder(const HostedEmbedderOptions& options,
                                                     core::HttpClient& http);

}  // namespace ventros::llm
