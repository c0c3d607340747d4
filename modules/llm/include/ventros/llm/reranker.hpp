#pragma once
// Rerank APIs (Jina-compatible, also Cohere-like):
//   POST {base_url}/v1/rerank {model, query, documents[], top_n}
//   -> {results:[{index, relevance_score}], usage}
//
// Thread-safety: thread-safe; Rerank() blocks on the network.

#include <chrono>
#include <cstddef>
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

struct RerankScore {
  size_t index = 0;  // into the documents given
  double score = 0;  // higher is more relevant
};

class Reranker {
 public:
  virtual ~Reranker() = default;
  virtual std::string name() const = 0;
  // The best documents, at most min(top_n, documents.size()) of them, best first (ties: lower
  // index first); no request for zero documents or top_n == 0. Errors as for Embedder::Embed.
  virtual Result<std::vector<RerankScore>> Rerank(std::string_view query,
                                                  std::span<const std::string> documents,
                                                  size_t top_n) = 0;
};

struct RerankApiOptions {
  // https://api.jina.ai ("/v1/rerank" is added, or only "/rerank" when the URL ends in /v1)
  std::string base_url;
  std::string api_key;  // Bearer when set; never logged nor quoted in errors
  std::string model = "jina-reranker-v2-base-multilingual";
  std::chrono::milliseconds timeout{10000};  // per attempt
  int max_attempts = 2;                      // as HostedEmbedderOptions::max_attempts
  // Waits between attempts; empty = std::this_thread::sleep_for. Tests capture the delays.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// A rerank client over `http` (which must outlive it); name() is "rerank/{model}".
// InvalidArgument for missing settings.
Result<std::unique_ptr<Reranker>> MakeRerankApi(const RerankApiOptions& options,
                                                core::HttpClient& http);

}  // namespace ventros::llm
