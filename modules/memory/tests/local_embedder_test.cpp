#include "ventros/memory/local_embedder.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ventros/core/metrics.hpp"

namespace ventros::memory {
namespace {

using llm::EmbedTask;
using llm::Vector;
using Strings = std::vector<std::string>;

double Dot(const Vector& a, const Vector& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

double Norm(const Vector& v) { return std::sqrt(Dot(v, v)); }

bool BitIdentical(const Vector& a, const Vector& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ---------------------------------------------------------------------------------------------
// LocalEmbedder

TEST_CASE("LocalEmbedder: names its model and dimensions", "[memory][embedder]") {
  LocalEmbedder embedder;
  CHECK(embedder.name() == "local-v1/768");
  CHECK(embedder.dimensions() == 768);
  CHECK(LocalEmbedder(256).name() == "local-v1/256");
}

TEST_CASE("LocalEmbedder: the same text gives the same vector, bit for bit", "[memory][embedder]") {
  const std::string text = "Quero o cancelamento do plano, está muito caro! Erro E-404 😡";
  const Vector a = LocalEmbedder().EmbedOne(text);
  const Vector b = LocalEmbedder().EmbedOne(text);
  CHECK(BitIdentical(a, b));

  Vector from_thread;
  std::thread([&] { from_thread = LocalEmbedder().EmbedOne(text); }).join();
  CHECK(BitIdentical(a, from_thread));

  // Pinned values: vectors are stored, so a change here (hash, weights, analysis) means every
  // stored vector must be re-embedded, under a new name().
  const Vector pinned = LocalEmbedder(8).EmbedOne("Erro E-404 no pagamento");
  const float expected[] = {0.374143779F,  0.445542872F, -0.430095285F, 0.607558429F,
                            0.0916510001F, 0.0F,         -0.232380196F, -0.212128192F};
  REQUIRE(pinned.size() == 8);
  for (size_t i = 0; i < 8; ++i) CHECK(pinned[i] == Approx(expected[i]).margin(1e-6));
  CHECK(BitIdentical(LocalEmbedder(8).EmbedOne("cancelar"), LocalEmbedder(8).EmbedOne("CANCELAR")));
}

TEST_CASE("LocalEmbedder: vectors have unit length", "[memory][embedder]") {
  LocalEmbedder embedder;
  for (const char* text :
       {"a", "cancelar", "Quero cancelar meu plano porque está caro", "refund my order please",
        "erro 500", "kkkkkkk", "palavra palavra palavra palavra"}) {
    INFO(text);
    const Vector v = embedder.EmbedOne(text);
    REQUIRE(v.size() == 768);
    if (std::string_view(text) == "a") {
      CHECK(Norm(v) == 0.0);  // a stop word alone has no features
    } else {
      CHECK(Norm(v) == Approx(1.0).epsilon(1e-5));
    }
  }
  const Vector small = LocalEmbedder(32).EmbedOne("pedido atrasado e cobrança indevida");
  REQUIRE(small.size() == 32);
  CHECK(Norm(small) == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("LocalEmbedder: a text without terms is the zero vector", "[memory][embedder]") {
  LocalEmbedder embedder;
  for (const char* text : {"", "   ", "o de a para", "!!! ??? 😀👍", "\xFF\xFE"}) {
    INFO(text);
    const Vector v = embedder.EmbedOne(text);
    REQUIRE(v.size() == 768);
    for (const float x : v) {
      REQUIRE(x == 0.0F);  // zeros, not NaN: nothing was divided by a zero norm
    }
  }
}

TEST_CASE("LocalEmbedder: similar texts are closer than unrelated ones", "[memory][embedder]") {
  LocalEmbedder embedder;
  const auto cos = [&](const char* a, const char* b) {
    return Dot(embedder.EmbedOne(a), embedder.EmbedOne(b));
  };
  struct Case {
    const char* anchor;
    const char* similar;
    const char* unrelated;
  };
  const Case cases[] = {
      // paraphrase
      {"quero cancelar meu plano", "gostaria de fazer o cancelamento do plano",
       "qual o horário de funcionamento da loja"},
      {"o boleto não chegou", "não recebi o boleto", "adorei o atendimento"},
      {"nao consigo acessar minha conta", "não consigo entrar na conta", "quero trocar o produto"},
      // inflection and accents
      {"pagamento atrasado", "pagamentos atrasados", "senha esquecida"},
      {"reclamação", "reclamacao", "entrega"},
      // typo
      {"cancelamento", "cancelamneto", "pagamento"},
      {"pagamento", "pagameto", "problema"},
      {"problema no pagamento", "probelma no pagamento", "quero cancelar o plano"},
      // English
      {"refund my order", "I want a refund for the order", "the app is great"},
      {"cancel my subscription", "cancelled subscriptions", "delivery tracking number"},
  };
  for (const Case& c : cases) {
    INFO(c.anchor << " ~ " << c.similar << " vs " << c.unrelated);
    const double similar = cos(c.anchor, c.similar);
    const double unrelated = cos(c.anchor, c.unrelated);
    CHECK(similar > unrelated + 0.1);
    CHECK(similar > 0.15);
  }
  // Greetings are no topic: two different questions are not alike because both say "boa tarde".
  CHECK(cos("Boa tarde, quero cancelar", "Boa tarde, qual o preço?") < 0.1);
}

TEST_CASE("LocalEmbedder: Embed keeps the order and matches EmbedOne", "[memory][embedder]") {
  LocalEmbedder embedder;
  const Strings texts = {"cancelar plano", "", "erro 500", "cancelar plano"};
  auto result = embedder.Embed(texts, EmbedTask::kDocument);
  REQUIRE(result.ok());
  REQUIRE(result->size() == texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    CHECK(BitIdentical((*result)[i], embedder.EmbedOne(texts[i])));
  }
  auto query = embedder.Embed(texts, EmbedTask::kQuery);
  REQUIRE(query.ok());
  CHECK(BitIdentical((*query)[0], (*result)[0]));  // symmetric: queries embed like documents

  auto empty = embedder.Embed({}, EmbedTask::kQuery);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("LocalEmbedder: refuses non-positive dimensions", "[memory][embedder]") {
  LocalEmbedder embedder(0);
  const Strings texts = {"x"};
  auto result = embedder.Embed(texts, EmbedTask::kQuery);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == core::StatusCode::kInvalidArgument);
  CHECK(embedder.EmbedOne("cancelar").empty());
}

// ---------------------------------------------------------------------------------------------
// CachingEmbedder

// Records every call; gives each text a vector derived from its length and first byte, or fails
// when told to.
class CountingEmbedder : public llm::Embedder {
 public:
  std::string name() const override { return "fake"; }
  int dimensions() const override { return 2; }
  Result<std::vector<Vector>> Embed(std::span<const std::string> texts, EmbedTask) override {
    calls.emplace_back(texts.begin(), texts.end());
    if (fail) return core::Status::Unavailable("model down");
    std::vector<Vector> out;
    for (const std::string& t : texts) {
      out.push_back({static_cast<float>(t.size()), t.empty() ? 0.0F : static_cast<float>(t[0])});
    }
    if (drop_one && !out.empty()) out.pop_back();
    return out;
  }

  std::vector<Strings> calls;
  bool fail = false;
  bool drop_one = false;
};

Vector Expected(const std::string& t) {
  return {static_cast<float>(t.size()), t.empty() ? 0.0F : static_cast<float>(t[0])};
}

TEST_CASE("CachingEmbedder: serves repeats from the cache", "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100);
  const Strings texts = {"alpha", "beta", "gamma"};

  auto first = cache.Embed("t1", texts, EmbedTask::kDocument);
  REQUIRE(first.ok());
  CHECK(cache.misses() == 3);
  CHECK(cache.hits() == 0);
  REQUIRE(inner.calls.size() == 1);
  CHECK(inner.calls[0] == texts);

  auto second = cache.Embed("t1", texts, EmbedTask::kDocument);
  REQUIRE(second.ok());
  CHECK(inner.calls.size() == 1);  // no model call
  CHECK(cache.hits() == 3);
  CHECK(cache.misses() == 3);
  for (size_t i = 0; i < texts.size(); ++i) {
    CHECK((*first)[i] == Expected(texts[i]));
    CHECK((*second)[i] == Expected(texts[i]));
  }
  CHECK(&cache.inner() == &inner);
}

TEST_CASE("CachingEmbedder: sends only the misses, in one call, and keeps the order",
          "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100);
  REQUIRE(cache.Embed("t1", Strings{"b", "d"}, EmbedTask::kQuery).ok());

  const Strings texts = {"a", "b", "c", "d", "e", "c"};
  auto result = cache.Embed("t1", texts, EmbedTask::kQuery);
  REQUIRE(result.ok());
  REQUIRE(inner.calls.size() == 2);
  CHECK(inner.calls[1] == Strings{"a", "c", "e"});  // "c" twice in the batch, sent once
  REQUIRE(result->size() == texts.size());
  for (size_t i = 0; i < texts.size(); ++i) CHECK((*result)[i] == Expected(texts[i]));
  CHECK(cache.hits() == 2);
  CHECK(cache.misses() == 2 + 4);
  CHECK(cache.size() == 5);
}

TEST_CASE("CachingEmbedder: tenants and tasks are separate entries", "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100);
  const Strings texts = {"quero cancelar"};
  REQUIRE(cache.Embed("tenant-a", texts, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("tenant-b", texts, EmbedTask::kQuery).ok());
  CHECK(inner.calls.size() == 2);
  CHECK(cache.misses() == 2);
  CHECK(cache.size() == 2);

  REQUIRE(cache.Embed("tenant-a", texts, EmbedTask::kDocument).ok());
  CHECK(inner.calls.size() == 3);
  CHECK(cache.size() == 3);

  // A tenant id that ends like another's prefix does not collide.
  REQUIRE(cache.Embed("tenant-a1", Strings{"x"}, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("tenant-a", Strings{"1x"}, EmbedTask::kQuery).ok());
  CHECK(cache.hits() == 0);

  REQUIRE(cache.Embed("tenant-b", texts, EmbedTask::kQuery).ok());
  CHECK(cache.hits() == 1);
}

TEST_CASE("CachingEmbedder: evicts the least recently used entry", "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 2);
  REQUIRE(cache.Embed("t", Strings{"a"}, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("t", Strings{"b"}, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("t", Strings{"a"}, EmbedTask::kQuery).ok());  // a is now the newest
  REQUIRE(cache.Embed("t", Strings{"c"}, EmbedTask::kQuery).ok());  // evicts b
  CHECK(cache.size() == 2);
  CHECK(cache.hits() == 1);

  REQUIRE(cache.Embed("t", Strings{"a", "c"}, EmbedTask::kQuery).ok());
  CHECK(cache.hits() == 3);
  REQUIRE(cache.Embed("t", Strings{"b"}, EmbedTask::kQuery).ok());
  CHECK(inner.calls.back() == Strings{"b"});
  CHECK(cache.misses() == 4);
}

TEST_CASE("CachingEmbedder: capacity 0 caches nothing", "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 0);
  REQUIRE(cache.Embed("t", Strings{"a"}, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("t", Strings{"a"}, EmbedTask::kQuery).ok());
  CHECK(inner.calls.size() == 2);
  CHECK(cache.hits() == 0);
  CHECK(cache.size() == 0);
}

TEST_CASE("CachingEmbedder: a failed model call returns the error and caches nothing",
          "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100);
  REQUIRE(cache.Embed("t", Strings{"cached"}, EmbedTask::kQuery).ok());

  inner.fail = true;
  auto failed = cache.Embed("t", Strings{"cached", "new"}, EmbedTask::kQuery);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == core::StatusCode::kUnavailable);
  CHECK(inner.calls.back() == Strings{"new"});
  CHECK(cache.size() == 1);

  inner.fail = false;
  auto retried = cache.Embed("t", Strings{"new"}, EmbedTask::kQuery);
  REQUIRE(retried.ok());
  CHECK(inner.calls.back() == Strings{"new"});  // asked again: the failure was not cached
  CHECK((*retried)[0] == Expected("new"));
}

TEST_CASE("CachingEmbedder: a model answering the wrong count is an internal error",
          "[memory][cache]") {
  CountingEmbedder inner;
  inner.drop_one = true;
  CachingEmbedder cache(inner, 100);
  auto result = cache.Embed("t", Strings{"a", "b"}, EmbedTask::kQuery);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == core::StatusCode::kInternal);
  CHECK(cache.size() == 0);
}

TEST_CASE("CachingEmbedder: an empty batch calls nothing", "[memory][cache]") {
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100);
  auto result = cache.Embed("t", {}, EmbedTask::kQuery);
  REQUIRE(result.ok());
  CHECK(result->empty());
  CHECK(inner.calls.empty());
}

TEST_CASE("CachingEmbedder: counts hits and misses in the metrics registry", "[memory][cache]") {
  core::MetricsRegistry metrics;
  CountingEmbedder inner;
  CachingEmbedder cache(inner, 100, &metrics);
  REQUIRE(cache.Embed("t", Strings{"a", "b"}, EmbedTask::kQuery).ok());
  REQUIRE(cache.Embed("t", Strings{"a", "c"}, EmbedTask::kQuery).ok());
  CHECK(metrics.GetCounter("ventros_memory_embedding_cache_hits_total", "").Value() == 1);
  CHECK(metrics.GetCounter("ventros_memory_embedding_cache_misses_total", "").Value() == 3);
  const std::string text = metrics.RenderPrometheus();
  CHECK(text.find("ventros_memory_embedding_cache_hits_total 1") != std::string::npos);
}

TEST_CASE("CachingEmbedder: safe under concurrent use", "[memory][cache]") {
  LocalEmbedder local;
  CachingEmbedder cache(local, 8);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const Strings texts = {"texto " + std::to_string(i % 13), "comum"};
        auto r = cache.Embed(t % 2 == 0 ? "a" : "b", texts, EmbedTask::kQuery);
        if (!r.ok() || !BitIdentical((*r)[0], local.EmbedOne(texts[0]))) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const int f : failures) CHECK(f == 0);
  CHECK(cache.hits() + cache.misses() == 4 * 200 * 2);
  CHECK(cache.size() <= 8);
}

}  // namespace
}  // namespace ventros::memory
