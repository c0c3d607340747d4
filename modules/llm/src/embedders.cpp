#include <algorithm>
#include <atomic>
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
#include "ventros/llm/embedder.hpp"

namespace ventros::llm {
namespace {

namespace json = core::json;
using internal::Headers;
using internal::JsonPoster;

enum class Provider { kGemini, kVertex, kOpenAi };

constexpr std::string_view kValidProviders = "gemini, vertex, openai";

std::optional<Provider> ParseProvider(std::string_view name) {
  if (name == "gemini") return Provider::kGemini;
  if (name == "vertex") return Provider::kVertex;
  if (name == "openai") return Provider::kOpenAi;
  return std::nullopt;
}

// Google's names for what a text is for (Gemini API and Vertex AI).
std::string_view GoogleTaskType(EmbedTask task) {
  return task == EmbedTask::kQuery ? "RETRIEVAL_QUERY" : "RETRIEVAL_DOCUMENT";
}

json::object GeminiContent(const std::string& text) {
  json::object part;
  part["text"] = text;
  json::array parts;
  parts.emplace_back(std::move(part));
  json::object content;
  content["parts"] = std::move(parts);
  return content;
}

// One value array per text of a batch, in the order of the texts; null where the answer has
// none (reported by ToUnitVector). They point into the answer, which must outlive them.
using ValueArrays = std::vector<const json::value*>;

const json::value* FindPath(const json::value& root, std::initializer_list<std::string_view> path) {
  const json::value* at = &root;
  for (const std::string_view key : path) {
    if (!at->is_object()) return nullptr;
    at = at->as_object().if_contains(key);
    if (!at) return nullptr;
  }
  return at;
}

// Gemini API, Vertex AI text-embedding-00x and OpenAI-compatible /v1/embeddings (see
// docs/ai.md). Thread-safe: const state, except the dimension an unsized model fixes once.
class HostedEmbedder final : public Embedder {
 public:
  HostedEmbedder(Provider provider, const HostedEmbedderOptions& options, std::string model,
                 core::HttpClient& http)
      : provider_(provider),
        model_(std::move(model)),
        base_url_(internal::TrimTrailingSlashes(options.base_url)),
        requested_dimensions_(options.dimensions),
        batch_size_(static_cast<size_t>(options.batch_size)),
        headers_(AuthHeaders(provider, options.api_key)),
        dimensions_(options.dimensions),
        poster_(http, internal::PosterSettings{.label = options.provider + "/" + model_,
                                               .secret = options.api_key,
                                               .timeout = options.timeout,
                                               .max_attempts = options.max_attempts,
                                               .sleep = options.sleep}) {}

  std::string name() const override { return poster_.label(); }
  int dimensions() const override { return dimensions_.load(std::memory_order_relaxed); }

  Result<std::vector<Vector>> Embed(std::span<const std::string> texts, EmbedTask task) override {
    // Every provider refuses empty input, each in its own words: say which text it is.
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i].empty()) {
        return poster_.Error(core::StatusCode::kInvalidArgument,
                             fmt::format("text {} is empty", i));
      }
    }
    std::vector<Vector> out;
    out.reserve(texts.size());
    for (size_t offset = 0; offset < texts.size(); offset += batch_size_) {
      const std::span<const std::string> batch =
          texts.subspan(offset, std::min(batch_size_, texts.size() - offset));
      VENTROS_ASSIGN_OR_RETURN(std::vector<Vector> vectors, EmbedBatch(batch, offset, task));
      for (Vector& v : vectors) out.push_back(std::move(v));
    }
    return out;
  }

 private:
  static Headers AuthHeaders(Provider provider, const std::string& api_key) {
    if (api_key.empty()) return {};  // Ollama and other local servers take none
    if (provider == Provider::kGemini) return {{"x-goog-api-key", api_key}};
    return {{"Authorization", "Bearer " + api_key}};
  }

  Result<std::vector<Vector>> EmbedBatch(std::span<const std::string> batch, size_t offset,
                                         EmbedTask task) {
    const bool gemini_single = provider_ == Provider::kGemini && batch.size() == 1;
    std::string url;
    json::object body;
    switch (provider_) {
      case Provider::kGemini:
        url = GeminiUrl(gemini_single ? ":embedContent" : ":batchEmbedContents");
        body = gemini_single ? GeminiRequest(batch.front(), task) : GeminiBatchBody(batch, task);
        break;
      case Provider::kVertex:
        url = base_url_ + "/publishers/google/models/" + model_ + ":predict";
        body = VertexBody(batch, task);
        break;
      case Provider::kOpenAi:
        url = internal::JoinVersioned(base_url_, "/v1", "/embeddings");
        body = OpenAiBody(batch);
        break;
    }
    VENTROS_ASSIGN_OR_RETURN(const json::value answer,
                             poster_.Post(url, headers_, json::serialize(body)));

    VENTROS_ASSIGN_OR_RETURN(const ValueArrays arrays, Arrays(answer, batch.size(), gemini_single));
    std::vector<Vector> vectors;
    vectors.reserve(arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      VENTROS_ASSIGN_OR_RETURN(Vector v, ToUnitVector(arrays[i], offset + i));
      vectors.push_back(std::move(v));
    }
    return vectors;
  }

  // The embeddings of an answer, one per text of the batch.
  Result<ValueArrays> Arrays(const json::value& answer, size_t count, bool gemini_single) const {
    switch (provider_) {
      case Provider::kGemini:
        if (gemini_single) return ValueArrays{FindPath(answer, {"embedding", "values"})};
        return Listed(answer, "embeddings", {"values"}, count);
      case Provider::kVertex:
        return Listed(answer, "predictions", {"embeddings", "values"}, count);
      case Provider::kOpenAi:
        return OpenAiArrays(answer, count);
    }
    return poster_.Malformed("unknown provider");  // unreachable: every provider is handled
  }

  // {base}/v1beta/models/{model}{method}; a base already ending in /v1beta is not doubled.
  std::string GeminiUrl(std::string_view method) const {
    return internal::JoinVersioned(base_url_, "/v1beta", "/models/" + model_) + std::string(method);
  }

  // One embedContent request: the whole body of :embedContent, an item of :batchEmbedContents.
  json::object GeminiRequest(const std::string& text, EmbedTask task) const {
    json::object request;
    request["content"] = GeminiContent(text);
    request["taskType"] = GoogleTaskType(task);
    if (requested_dimensions_ > 0) request["outputDimensionality"] = requested_dimensions_;
    return request;
  }

  json::object GeminiBatchBody(std::span<const std::string> batch, EmbedTask task) const {
    json::array requests;
    for (const std::string& text : batch) {
      json::object request = GeminiRequest(text, task);
      request["model"] = "models/" + model_;
      requests.emplace_back(std::move(request));
    }
    json::object body;
    body["requests"] = std::move(requests);
    return body;
  }

  json::object VertexBody(std::span<const std::string> batch, EmbedTask task) const {
    json::array instances;
    for (const std::string& text : batch) {
      json::object instance;
      instance["task_type"] = GoogleTaskType(task);
      instance["content"] = text;
      instances.emplace_back(std::move(instance));
    }
    json::object body;
    body["instances"] = std::move(instances);
    if (requested_dimensions_ > 0) {
      json::object parameters;
      parameters["outputDimensionality"] = requested_dimensions_;
      body["parameters"] = std::move(parameters);
    }
    return body;
  }

  // OpenAI-compatible servers have no document/query distinction.
  json::object OpenAiBody(std::span<const std::string> batch) const {
    json::array input;
    for (const std::string& text : batch) input.emplace_back(text);
    json::object body;
    body["model"] = model_;
    body["input"] = std::move(input);
    body["encoding_format"] = "float";
    // Only when configured: models without Matryoshka training refuse the parameter.
    if (requested_dimensions_ > 0) body["dimensions"] = requested_dimensions_;
    return body;
  }

  // answer[list][i] followed by `path`, for an answer that lists one item per text in order.
  Result<ValueArrays> Listed(const json::value& answer, std::string_view list,
                             std::initializer_list<std::string_view> path, size_t count) const {
    const json::value* items = FindPath(answer, {list});
    if (!items || !items->is_array()) {
      return poster_.Malformed(fmt::format("no '{}' array", list));
    }
    if (items->as_array().size() != count) {
      return poster_.Malformed(
          fmt::format("{} embeddings for {} texts", items->as_array().size(), count));
    }
    ValueArrays arrays;
    arrays.reserve(count);
    for (const json::value& item : items->as_array()) arrays.push_back(FindPath(item, path));
    return arrays;
  }

  // data[{index, embedding}], in any order: placed by index (by position when absent).
  Result<ValueArrays> OpenAiArrays(const json::value& answer, size_t count) const {
    const json::value* data = FindPath(answer, {"data"});
    if (!data || !data->is_array()) return poster_.Malformed("no 'data' array");
    const json::array& items = data->as_array();
    if (items.size() != count) {
      return poster_.Malformed(fmt::format("{} embeddings for {} texts", items.size(), count));
    }
    ValueArrays arrays(count, nullptr);
    std::vector<bool> seen(count, false);
    for (size_t position = 0; position < items.size(); ++position) {
      const json::value& item = items[position];
      size_t index = position;
      if (const json::value* given = FindPath(item, {"index"})) {
        if (given->is_uint64()) {
          index = given->as_uint64() < count ? static_cast<size_t>(given->as_uint64()) : count;
        } else if (given->is_int64()) {
          const int64_t i = given->as_int64();
          index = i >= 0 && static_cast<uint64_t>(i) < count ? static_cast<size_t>(i) : count;
        } else {
          index = count;
        }
      }
      if (index >= count || seen[index]) {
        return poster_.Malformed(
            fmt::format("data[{}] has a missing, duplicate or out-of-range "
                        "index for {} texts",
                        position, count));
      }
      seen[index] = true;
      arrays[index] = FindPath(item, {"embedding"});
    }
    return arrays;
  }

  // Checks one embedding (dimension, finite numbers) and scales it to unit length: providers do
  // not normalise vectors they truncate to outputDimensionality.
  Result<Vector> ToUnitVector(const json::value* values, size_t text_index) {
    if (!values || !values->is_array()) {
      return poster_.Malformed(fmt::format("embedding {} is not an array of numbers", text_index));
    }
    const json::array& numbers = values->as_array();
    int expected = dimensions_.load(std::memory_order_relaxed);
    if (expected == 0 && !numbers.empty()) {
      // An unsized model: the first answer fixes the size for every later one.
      const int given =
          static_cast<int>(std::min<size_t>(numbers.size(), std::numeric_limits<int>::max()));
      if (dimensions_.compare_exchange_strong(expected, given)) expected = given;
    }
    if (numbers.size() != static_cast<size_t>(expected)) {
      return poster_.Malformed(fmt::format("embedding {} has {} values, expected {}", text_index,
                                           numbers.size(), expected));
    }
    Vector v;
    v.reserve(numbers.size());
    double sum_of_squares = 0;
    for (const json::value& number : numbers) {
      if (!number.is_number()) {
        return poster_.Malformed(fmt::format("embedding {} holds a non-number", text_index));
      }
      boost::system::error_code ec;
      const auto x = static_cast<float>(number.to_number<double>(ec));
      if (ec || !std::isfinite(x)) {
        return poster_.Malformed(fmt::format("embedding {} holds a non-finite value", text_index));
      }
      sum_of_squares += static_cast<double>(x) * x;
      v.push_back(x);
    }
    const double norm = std::sqrt(sum_of_squares);
    if (!(norm > 0) || !std::isfinite(norm)) {
      return poster_.Malformed(fmt::format("embedding {} is a zero vector", text_index));
    }
    for (float& x : v) x = static_cast<float>(x / norm);
    return v;
  }

  const Provider provider_;
  const std::string model_;
  const std::string base_url_;      // without trailing slashes
  const int requested_dimensions_;  // 0: not sent
  const size_t batch_size_;
  const Headers headers_;
  std::atomic<int> dimensions_;  // requested, or fixed by the first answer when 0
  JsonPoster poster_;
};

}  // namespace

Result<std::unique_ptr<Embedder>> MakeHostedEmbedder(const HostedEmbedderOptions& options,
                                                     core::HttpClient& http) {
  const std::optional<Provider> provider = ParseProvider(options.provider);
  if (!provider) {
    return Status::InvalidArgument(fmt::format("unknown embedding provider '{}' (valid: {})",
                                               options.provider, kValidProviders));
  }
  // Gemini also names models "models/text-embedding-004".
  std::string model = options.model;
  if (*provider == Provider::kGemini && model.starts_with("models/")) {
    model.erase(0, std::string_view("models/").size());
  }
  const std::string what = options.provider + " embedder: ";
  if (internal::TrimTrailingSlashes(options.base_url).empty()) {
    return Status::InvalidArgument(what + "base_url is required");
  }
  if (model.empty()) return Status::InvalidArgument(what + "model is required");
  if (options.dimensions < 0) {
    return Status::InvalidArgument(what + "dimensions must be positive (0: the model's own)");
  }
  if (options.batch_size < 1) return Status::InvalidArgument(what + "batch_size must be >= 1");
  if (options.max_attempts < 1) {
    return Status::InvalidArgument(what + "max_attempts must be >= 1");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument(what + "timeout must be positive");
  }
  return std::unique_ptr<Embedder>(
      std::make_unique<HostedEmbedder>(*provider, options, std::move(model), http));
}

}  // namespace ventros::llm
