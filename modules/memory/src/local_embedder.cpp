#include "ventros/memory/local_embedder.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <list>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "ventros/core/crypto.hpp"
#include "ventros/core/metrics.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::memory {
namespace {

// Feature hashing needs a hash that never changes, or stored vectors stop matching new ones:
// FNV-1a 64 for the bytes, then MurmurHash3's finaliser so that every bit of the result (bucket
// and sign) depends on every input byte.
constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

// One seed per feature family, so that the stem "cas" and the character trigram "cas" land in
// unrelated buckets.
constexpr uint64_t kUnigramSeed = 0x9E3779B97F4A7C15ULL;
constexpr uint64_t kBigramSeed = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kCharGramSeed = 0x165667B19E3779F9ULL;

// Relative weights: a shared stem says most, a shared pair of consecutive stems adds word order,
// shared character n-grams make typos close without dominating. The n-gram weight is the L2 norm
// of one stem's whole n-gram block, so long words do not outweigh short ones.
constexpr float kUnigramWeight = 1.0F;
constexpr float kBigramWeight = 0.5F;
constexpr float kCharGramWeight = 0.8F;
constexpr size_t kMinGram = 3;
constexpr size_t kMaxGram = 5;
// Longer terms (URLs, ids) only contribute n-grams of their first bytes; the term still counts.
constexpr size_t kMaxGramWordBytes = 48;

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = kFnvOffset;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t Hash(uint64_t seed, std::string_view s) { return Mix(Fnv1a(s) ^ seed); }

// Signed feature hashing: the high 32 bits pick the dimension (multiply-shift, no modulo bias
// worth the name), the lowest bit the sign, so collisions cancel out on average instead of
// piling up.
void AddFeature(llm::Vector& v, uint64_t h, float weight) {
  const auto index = static_cast<size_t>(((h >> 32) * static_cast<uint64_t>(v.size())) >> 32);
  v[index] += (h & 1) != 0 ? -weight : weight;
}

// Adds each distinct key of `keys` once with weight * (1 + ln tf). Sorting first makes the order
// of additions, and so the float result, depend only on the set of features.
void AddCounted(llm::Vector& v, std::vector<uint64_t>& keys, float weight) {
  std::sort(keys.begin(), keys.end());
  for (size_t i = 0; i < keys.size();) {
    size_t j = i + 1;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    const float tf = static_cast<float>(j - i);
    AddFeature(v, keys[i], weight * (1.0F + std::log(tf)));
    i = j;
  }
}

struct TermRef {
  uint64_t hash;    // of the term, with kUnigramSeed
  uint32_t offset;  // the term's text in Scratch::arena
  uint32_t size;
};

// Per-thread buffers: after the first few calls a query embeds without allocating, except for
// the returned vector.
struct Scratch {
  std::vector<TermRef> terms;
  std::vector<uint64_t> keys;
  std::string arena;
  std::string padded;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

void AddCharGrams(llm::Vector& v, std::string& padded, std::string_view word, float weight) {
  padded.clear();
  padded.push_back('<');
  padded.append(word.substr(0, kMaxGramWordBytes));
  padded.push_back('>');
  size_t count = 0;
  for (size_t n = kMinGram; n <= kMaxGram && n <= padded.size(); ++n) {
    count += padded.size() - n + 1;
  }
  if (count == 0) return;
  const float w = weight / std::sqrt(static_cast<float>(count));
  const std::string_view p = padded;
  for (size_t n = kMinGram; n <= kMaxGram && n <= p.size(); ++n) {
    for (size_t start = 0; start + n <= p.size(); ++start) {
      AddFeature(v, Hash(kCharGramSeed, p.substr(start, n)), w);
    }
  }
}

void Normalize(llm::Vector& v) {
  double sum = 0;
  for (const float x : v) sum += static_cast<double>(x) * x;
  if (sum == 0) return;  // no features: stays all zeros (documented in the header)
  const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

}  // namespace

std::string LocalEmbedder::name() const { return "local-v1/" + std::to_string(dimensions_); }

llm::Vector LocalEmbedder::EmbedOne(std::string_view text) const {
  if (dimensions_ <= 0) return {};
  llm::Vector v(static_cast<size_t>(dimensions_), 0.0F);
  Scratch& s = ThreadScratch();
  s.terms.clear();
  s.arena.clear();
  AnalyzeTerms(text, [&s](std::string_view /*word*/, std::string_view term) {
    s.terms.push_back({Hash(kUnigramSeed, term), static_cast<uint32_t>(s.arena.size()),
                       static_cast<uint32_t>(term.size())});
    s.arena.append(term);
  });
  if (s.terms.empty()) return v;

  s.keys.clear();
  for (size_t i = 1; i < s.terms.size(); ++i) {
    s.keys.push_back(Mix(Mix(s.terms[i - 1].hash ^ kBigramSeed) ^ s.terms[i].hash));
  }
  AddCounted(v, s.keys, kBigramWeight);

  // Each distinct term once, weighted 1 + ln tf: the term itself, then its character n-grams.
  // The n-grams are taken from the stem rather than the word so that unrelated words sharing an
  // inflectional suffix ("cancelamento", "pagamento") do not look alike; the stemmer already
  // makes inflections of one word identical, the n-grams are there for typos.
  std::sort(s.terms.begin(), s.terms.end(),
            [](const TermRef& a, const TermRef& b) { return a.hash < b.hash; });
  const std::string_view arena = s.arena;
  for (size_t i = 0; i < s.terms.size();) {
    size_t j = i + 1;
    while (j < s.terms.size() && s.terms[j].hash == s.terms[i].hash) ++j;
    const float sublinear = 1.0F + std::log(static_cast<float>(j - i));
    AddFeature(v, s.terms[i].hash, kUnigramWeight * sublinear);
    AddCharGrams(v, s.padded, arena.substr(s.terms[i].offset, s.terms[i].size),
                 kCharGramWeight * sublinear);
    i = j;
  }
  Normalize(v);
  return v;
}

Result<std::vector<llm::Vector>> LocalEmbedder::Embed(std::span<const std::string> texts,
                                                      llm::EmbedTask /*task*/) {
  if (dimensions_ <= 0) {
    return core::Status::InvalidArgument("local embedder: dimensions must be positive");
  }
  try {
    std::vector<llm::Vector> out;
    out.reserve(texts.size());
    for (const std::string& text : texts) out.push_back(EmbedOne(text));
    return out;
  } catch (const std::exception& e) {  // allocation failure: report, never unwind further
    return core::Status::Internal(std::string("local embedder: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------

struct CachingEmbedder::State {
  struct Entry {
    std::string key;
    llm::Vector vector;
  };

  explicit State(size_t cap) : capacity(cap) {}

  // Under `mu`. Keeps the newest value if another thread cached the same key meanwhile.
  void Insert(const std::string& key, const llm::Vector& vector) {
    if (capacity == 0) return;
    if (auto it = index.find(key); it != index.end()) {
      it->second->vector = vector;
      lru.splice(lru.begin(), lru, it->second);
      return;
    }
    lru.push_front({key, vector});
    index.emplace(lru.front().key, lru.begin());
    while (lru.size() > capacity) {
      index.erase(lru.back().key);
      lru.pop_back();
    }
  }

  const size_t capacity;
  core::Counter* hit_counter = nullptr;
  core::Counter* miss_counter = nullptr;

  mutable std::mutex mu;
  std::list<Entry> lru;  // most recently used first
  // Views into the keys of `lru`'s entries, which list nodes keep in place.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
  uint64_t hits = 0;
  uint64_t misses = 0;
};

namespace {

// The tenant is length-prefixed so that no (tenant, text) pair can forge another's key.
std::string CacheKey(std::string_view tenant, llm::EmbedTask task, std::string_view text) {
  std::string key;
  key.reserve(tenant.size() + 80);
  key.push_back(task == llm::EmbedTask::kQuery ? 'q' : 'd');
  key.append(std::to_string(tenant.size()));
  key.push_back(':');
  key.append(tenant);
  key.append(core::Sha256Hex(text));
  return key;
}

}  // namespace

CachingEmbedder::CachingEmbedder(llm::Embedder& inner, size_t capacity,
                                 core::MetricsRegistry* metrics)
    : inner_(inner), state_(std::make_unique<State>(capacity)) {
  if (metrics != nullptr) {
    state_->hit_counter = &metrics->GetCounter("ventros_memory_embedding_cache_hits_total",
                                               "Texts whose embedding came from the cache.");
    state_->miss_counter = &metrics->GetCounter("ventros_memory_embedding_cache_misses_total",
                                                "Texts not found in the embedding cache.");
  }
}

CachingEmbedder::~CachingEmbedder() = default;

Result<std::vector<llm::Vector>> CachingEmbedder::Embed(std::string_view tenant,
                                                        std::span<const std::string> texts,
                                                        llm::EmbedTask task) {
  try {
    constexpr size_t kHit = static_cast<size_t>(-1);
    std::vector<std::string> keys;
    keys.reserve(texts.size());
    for (const std::string& text : texts) keys.push_back(CacheKey(tenant, task, text));

    std::vector<llm::Vector> out(texts.size());
    std::vector<size_t> slot_of(texts.size(), kHit);  // index into `missing` for a miss
    std::vector<std::string> missing;
    std::vector<size_t> missing_key;  // per slot, an index into `keys`
    size_t hit_count = 0;
    {
      std::unordered_map<std::string_view, size_t> pending;  // the same text twice: one slot
      std::lock_guard lock(state_->mu);
      for (size_t i = 0; i < texts.size(); ++i) {
        if (auto it = state_->index.find(keys[i]); it != state_->index.end()) {
          state_->lru.splice(state_->lru.begin(), state_->lru, it->second);
          out[i] = it->second->vector;
          ++hit_count;
          continue;
        }
        auto [p, inserted] = pending.emplace(keys[i], missing.size());
        if (inserted) {
          missing.push_back(texts[i]);
          missing_key.push_back(i);
        }
        slot_of[i] = p->second;
      }
      state_->hits += hit_count;
      state_->misses += texts.size() - hit_count;
    }
    if (state_->hit_counter != nullptr && hit_count > 0) {
      state_->hit_counter->Inc(static_cast<double>(hit_count));
    }
    if (state_->miss_counter != nullptr && hit_count < texts.size()) {
      state_->miss_counter->Inc(static_cast<double>(texts.size() - hit_count));
    }
    if (missing.empty()) return out;

    // The model call, slow for hosted models, runs unlocked so other tenants' hits are served.
    Result<std::vector<llm::Vector>> embedded = inner_.Embed(missing, task);
    if (!embedded.ok()) return embedded.status();
    if (embedded->size() != missing.size()) {
      return core::Status::Internal("embedding cache: " + inner_.name() + " returned " +
                                    std::to_string(embedded->size()) + " vectors for " +
                                    std::to_string(missing.size()) + " texts");
    }
    {
      std::lock_guard lock(state_->mu);
      for (size_t slot = 0; slot < missing.size(); ++slot) {
        state_->Insert(keys[missing_key[slot]], (*embedded)[slot]);
      }
    }
    for (size_t i = 0; i < texts.size(); ++i) {
      if (slot_of[i] != kHit) out[i] = (*embedded)[slot_of[i]];
    }
    return out;
  } catch (const std::exception& e) {
    return core::Status::Internal(std::string("embedding cache: ") + e.what());
  }
}

uint64_t CachingEmbedder::hits() const {
  std::lock_guard lock(state_->mu);
  return state_->hits;
}

uint64_t CachingEmbedder::misses() const {
  std::lock_guard lock(state_->mu);
  return state_->misses;
}

size_t CachingEmbedder::size() const {
  std::lock_guard lock(state_->mu);
  return state_->lru.size();
}

}  // namespace ventros::memory
