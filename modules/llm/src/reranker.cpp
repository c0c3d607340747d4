#include "ventros/llm/reranker.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "provider_http.hpp"

namespace ventros::llm {
namespace {

namespace json = core::json;
using internal::Headers;
using internal::JsonPoster;

// An index given by the provider, when it is an integer below `count`.
std::optional<size_t> DocumentIndex(const json::value* index, size_t count) {
  if (!index) return std::nullopt;
  if (index->is_uint64() && index->as_uint64() < count) {
    return static_cast<size_t>(index->as_uint64());
  }
  if (index->is_int64() && index->as_int64() >= 0 &&
      static_cast<uint64_t>(index->as_int64()) < count) {
    return static_cast<size_t>(index->as_int64());
  }
  return std::nullopt;
}

// POST {base}/v1/rerank (Jina; Cohere and most self-hosted rerank servers speak it too).
// Thread-safe: const state only.
class RerankApi final : public Reranker {
 public:
  RerankApi(const RerankApiOptions& options, core::HttpClient& http)
      : model_(options.model),
        url_(internal::JoinVersioned(options.base_url, "/v1", "/rerank")),
        headers_(options.api_key.empty() ? Headers{}
                                         : Headers{{"Authorization", "Bearer " + options.api_key}}),
        poster_(http, internal::PosterSettings{.label = "rerank/" + options.model,
                                               .secret = options.api_key,
                                               .timeout = options.timeout,
                                               .max_attempts = options.max_attempts,
                                               .sleep = options.sleep}) {}

  std::string name() const override { return poster_.label(); }

  Result<std::vector<RerankScore>> Rerank(std::string_view query,
                                          std::span<const std::string> documents,
                                          size_t top_n) override {
    if (documents.empty() || top_n == 0) return std::vector<RerankScore>{};
    // Some servers refuse a top_n above the number of documents.
    const size_t wanted = std::min(top_n, documents.size());
    json::array texts;
    for (const std::string& document : documents) texts.emplace_back(document);
    json::object body;
    body["model"] = model_;
    body["query"] = query;
    body["documents"] = std::move(texts);
    body["top_n"] = wanted;
    VENTROS_ASSIGN_OR_RETURN(const json::object answer,
                             poster_.Post(url_, headers_, json::serialize(body)));

    const json::value* results = answer.if_contains("results");
    if (!results || !results->is_array()) return poster_.Malformed("no 'results' array");
    std::vector<RerankScore> scores;
    std::vector<bool> seen(documents.size(), false);
    for (const json::value& result : results->as_array()) {
      if (!result.is_object()) return poster_.Malformed("a result is not an object");
      const std::optional<size_t> index =
          DocumentIndex(result.as_object().if_contains("index"), documents.size());
      if (!index || seen[*index]) {
        return poster_.Malformed(
            fmt::format("a result has a missing, duplicate or out-of-range index for {} documents",
                        documents.size()));
      }
      seen[*index] = true;
      const json::value* score = result.as_object().if_contains("relevance_score");
      boost::system::error_code ec;
      const double value = score && score->is_number() ? score->to_number<double>(ec)
                                                       : std::numeric_limits<double>::quiet_NaN();
      if (ec || !std::isfinite(value)) {
        return poster_.Malformed(
            fmt::format("result for document {} has no numeric relevance_score", *index));
      }
      scores.push_back(RerankScore{.index = *index, .score = value});
    }
    // Providers answer best first already; sorting makes it a guarantee, ties included.
    std::sort(scores.begin(), scores.end(), [](const RerankScore& a, const RerankScore& b) {
      return a.score != b.score ? a.score > b.score : a.index < b.index;
    });
    if (scores.size() > wanted) scores.resize(wanted);
    return scores;
  }

 private:
  const std::string model_;
  const std::string url_;
  const Headers headers_;
  JsonPoster poster_;
};

}  // namespace

Result<std::unique_ptr<Reranker>> MakeRerankApi(const RerankApiOptions& options,
                                                core::HttpClient& http) {
  if (internal::TrimTrailingSlashes(options.base_url).empty()) {
    return Status::InvalidArgument("rerank API: base_url is required");
  }
  if (options.model.empty()) return Status::InvalidArgument("rerank API: model is required");
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("rerank API: max_attempts must be >= 1");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("rerank API: timeout must be positive");
  }
  return std::unique_ptr<Reranker>(std::make_unique<RerankApi>(options, http));
}

}  // namespace ventros::llm
