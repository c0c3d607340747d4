// Hybrid memory search: baseline messages, four ranked channels (vector, keyword, graph, recent)
// fused with weighted Reciprocal Rank Fusion (k = 60), a rerank of the top 10 into top_k,
// contact aggregates and active facts, and the formatted context.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_set>

#include "internal.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::memory {

namespace json = boost::json;

namespace {

constexpr double kRrfK = 60;
constexpr size_t kChannelDepth = 20;  // candidates each channel contributes
constexpr size_t kRerankPool = 10;
// Keyword search ranks by BM25 the most recent kKeywordWindow documents matching any query term:
// FTS5 streams matches newest first and stops there, so the cost is bounded whatever the words.
// The price: a rare word's older matches fall outside the window when the query also has a word
// that hundreds of newer documents share (weighting rare terms by document frequency would fix
// it; see docs/memory.md).
constexpr size_t kKeywordWindow = 300;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// "$2, $3, ..." for n parameters starting at `first`.
std::string Placeholders(size_t first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += fmt::format("{}${}", i ? ", " : "", first + i);
  return out;
}

bool Sqlite(core::Connection& conn) { return conn.engine() == core::DbEngine::kSqlite; }

struct Ranked {
  std::vector<int64_t> docs;  // best first
  std::vector<double> scores;
};

void Add(Ranked& r, int64_t doc, double score) {
  if (std::find(r.docs.begin(), r.docs.end(), doc) != r.docs.end()) return;
  r.docs.push_back(doc);
  r.scores.push_back(score);
}

std::string Quote(const std::string& s) { return json::serialize(json::value(s)); }

// Text as one line of the context: line breaks become spaces, so what a customer wrote can never
// start a line of its own (a fake "=== MEMORY FACTS ===" section, say).
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f') c = ' ';
  }
  return text;
}

}  // namespace

const std::map<std::string, StrategyWeights>& Strategies() {
  static const std::map<std::string, StrategyWeights> table = {
      {"retention_churn", {.50, .20, .20, .10}},   {"retention_upsell", {.40, .20, .30, .10}},
      {"sales_prospecting", {.20, .30, .40, .10}}, {"sales_negotiation", {.40, .30, .20, .10}},
      {"sales_closing", {.35, .25, .30, .10}},     {"support_technical", {.30, .50, .10, .10}},
      {"support_billing", {.20, .40, .30, .10}},   {"balanced", {.33, .33, .33, 0}},
      {"vector_keyword_50", {.50, .50, 0, 0}},
  };
  return table;
}

std::vector<std::pair<int64_t, double>> FuseRanks(const std::vector<RankedList>& lists, double k) {
  std::map<int64_t, double> scores;
  for (const auto& list : lists) {
    if (list.weight <= 0) continue;
    for (size_t i = 0; i < list.ids.size(); ++i) {
      scores[list.ids[i]] += list.weight / (k + static_cast<double>(i + 1));
    }
  }
  std::vector<std::pair<int64_t, double>> out(scores.begin(), scores.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

Status MemoryService::Impl::LoadAggregates(core::Connection& conn, const crm::Contact& contact,
                                           int64_t now, ContactStats& st,
                                           std::vector<Fact>& facts) {
  const std::string tenant = contact.tenant_id.str(), contact_id = contact.id.str();
  st.name = contact.name;
  st.pipeline_stage = contact.pipeline_stage;
  if (contact.stage_entered_at) st.days_in_stage = (now - *contact.stage_entered_at) / kDayMs;
  st.campaign_source = contact.attribution.utm_campaign ? contact.attribution.utm_campaign
                                                        : contact.attribution.utm_source;
  {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn.Query("SELECT COUNT(*), SUM(sentiment_sum), SUM(sentiment_n), "
                              "MAX(COALESCE(last_message_at, started_at)) FROM memory_documents "
                              "WHERE tenant_id = $1 AND contact_id = $2",
                              {tenant, contact_id}));
    const core::DbRow& r = rows.rows[0];
    st.total_sessions = r.GetInt(0);
    if (r.GetInt(2) > 0) st.average_sentiment = r.GetDouble(1) / static_cast<double>(r.GetInt(2));
    st.last_interaction_at = r.GetOptInt(3);
    // Trend: the last three sessions against the three before them.
    VENTROS_ASSIGN_OR_RETURN(
        auto recent, conn.Query("SELECT sentiment_sum, sentiment_n FROM memory_documents WHERE "
                                "tenant_id = $1 AND contact_id = $2 AND sentiment_n > 0 ORDER BY "
                                "COALESCE(last_message_at, started_at) DESC LIMIT 6",
                                {tenant, contact_id}));
    st.sentiment_trend = "unknown";
    if (recent.rows.size() >= 2) {
      size_t half = recent.rows.size() / 2;
      double newer = 0, older = 0;
      for (size_t i = 0; i < recent.rows.size(); ++i) {
        double avg = recent.rows[i].GetDouble(0) / static_cast<double>(recent.rows[i].GetInt(1));
        (i < half ? newer : older) += avg;
      }
      newer /= static_cast<double>(half);
      older /= static_cast<double>(recent.rows.size() - half);
      st.sentiment_trend = newer - older > 0.15   ? "improving"
                           : older - newer > 0.15 ? "worsening"
                                                  : "stable";
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto fact_rows,
        conn.Query(fmt::format("SELECT {} FROM memory_facts WHERE tenant_id = $1 AND contact_id = "
                               "$2 AND valid_to IS NULL AND expired_at IS NULL ORDER BY "
                               "confidence DESC, valid_from DESC LIMIT 20",
                               kFactColumns),
                   {tenant, contact_id}));
    for (const auto& row : fact_rows.rows) facts.push_back(FactFromRow(row));
  }
  return Status::Ok();
}

Result<SearchResult> MemoryService::Search(const SearchRequest& req) {
  Impl& m = *impl_;
  auto total_start = Clock::now();
  std::string strategy =
      req.weights ? "custom" : req.strategy.value_or(req.agent_category.value_or("balanced"));
  auto weights_it = Strategies().find(strategy);
  if (req.weights) {
    const StrategyWeights& cw = *req.weights;
    for (double v : {cw.vector, cw.keyword, cw.graph, cw.recent}) {
      if (!(v >= 0 && v <= 10)) return Status::InvalidArgument("weights must be from 0 to 10");
    }
  } else if (weights_it == Strategies().end()) {
    std::string valid;
    for (const auto& [name, w] : Strategies()) valid += (valid.empty() ? "" : ", ") + name;
    return Status::InvalidArgument(fmt::format("unknown {} '{}'; valid: {}",
                                               req.strategy ? "strategy" : "agent_category",
                                               strategy, valid));
  }
  if (req.top_k < 1 || req.top_k > 20) {
    return Status::InvalidArgument("top_k must be from 1 to 20");
  }
  if (req.query.size() > 4000) return Status::InvalidArgument("query is longer than 4000 bytes");
  KnowledgeScope scope = req.scope.value_or(KnowledgeScope{});
  if (scope.lookback_days && (*scope.lookback_days < 1 || *scope.lookback_days > 36500)) {
    return Status::InvalidArgument("knowledge_scope.lookback_days must be from 1 to 36500");
  }
  const std::string tenant = req.tenant.str(), contact_id = req.contact.str();

  std::string cache_key =
      fmt::format("{}|{}|{}|{},{},{},{}|{}|{}|{}|{}|{}", tenant, contact_id, strategy,
                  req.weights ? req.weights->vector : 0, req.weights ? req.weights->keyword : 0,
                  req.weights ? req.weights->graph : 0, req.weights ? req.weights->recent : 0,
                  req.top_k, scope.lookback_days.value_or(0), scope.include_agent_transfers,
                  scope.contact_only, req.query);
  uint64_t generation = m.Generation(tenant, contact_id);
  int64_t now = m.clock.NowMillis();
  if (req.use_cache) {
    std::lock_guard lock(m.search_mu);
    auto it = m.search_cache.find(cache_key);
    if (it != m.search_cache.end() && it->second.generation == generation &&
        now - it->second.stored_at < m.options.search_cache_ttl_ms) {
      m.search_lru.splice(m.search_lru.begin(), m.search_lru, it->second.lru);
      if (m.search_hits) m.search_hits->Inc();
      SearchResult cached = it->second.result;
      cached.cache_hit = true;
      cached.timings_ms = {{"total", MsSince(total_start)}};
      return cached;
    }
  }
  if (m.search_misses && req.use_cache) m.search_misses->Inc();

  SearchResult result;
  result.strategy = strategy;
  result.weights = req.weights ? *req.weights : weights_it->second;
  const StrategyWeights& w = result.weights;
  std::optional<int64_t> since;
  if (scope.lookback_days) since = now - *scope.lookback_days * kDayMs;

  // The contact must exist in the caller's tenant (another tenant's contact is a 404).
  auto stage = Clock::now();
  VENTROS_ASSIGN_OR_RETURN(crm::Contact contact, m.crm.GetContact(req.tenant, req.contact));
  result.timings_ms["contact"] = MsSince(stage);

  VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());

  // 1. Baseline: the contact's last 20 messages, always.
  stage = Clock::now();
  {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn->Query("SELECT id, from_me, source, body, message_at FROM memory_messages "
                               "WHERE tenant_id = $1 AND contact_id = $2 ORDER BY message_at DESC, "
                               "seq DESC LIMIT 20",
                               {tenant, contact_id}));
    for (auto it = rows.rows.rbegin(); it != rows.rows.rend(); ++it) {
      result.recent_messages.push_back(
          {it->GetText(0), it->GetInt(1) != 0, it->GetText(2), it->GetText(3), it->GetInt(4)});
    }
  }
  result.timings_ms["baseline"] = MsSince(stage);

  // 2a. Vector: similar sessions of the tenant.
  std::optional<llm::Vector> query_vector;
  Ranked vector_ranked, keyword_ranked, graph_ranked, recent_ranked;
  bool need_vector = !req.query.empty();  // the query vector also feeds the rerank
  if (need_vector) {
    stage = Clock::now();
    std::string q = req.query;
    auto vectors = m.cache.Embed(tenant, std::span(&q, 1), llm::EmbedTask::kQuery);
    if (vectors.ok() && !vectors->empty()) {
      // A query with no words the embedder knows ("ok", "👍") is the zero vector: it finds
      // nothing similar, so the vector channel sits this one out.
      double norm = 0;
      for (float x : (*vectors)[0]) norm += static_cast<double>(x) * x;
      if (norm > 1e-12) query_vector = std::move((*vectors)[0]);
    } else {
      // The other channels still answer; the result says what is missing.
      m.logger->warn("memory: embedding the query failed, searching without vectors: {}",
                     vectors.status().ToString());
      result.warnings.push_back("vector channel skipped: the embedder failed (" +
                                ClipUtf8(vectors.status().message(), 200) + ")");
    }
    result.timings_ms["embed"] = MsSince(stage);
  }
  if (w.vector > 0 && query_vector) {
    stage = Clock::now();
    // The filter runs inside the index's search, under one read lock of the metadata taken here
    // (lock order: metadata, then the index; nothing writes the index while holding metadata).
    std::vector<uint64_t> own;  // contact_only: this contact's documents
    if (scope.contact_only) {
      VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query("SELECT seq FROM memory_documents WHERE "
                                                      "tenant_id = $1 AND contact_id = $2",
                                                      {tenant, contact_id}));
      for (const auto& row : rows.rows) own.push_back(static_cast<uint64_t>(row.GetInt(0)));
    }
    std::shared_lock meta_lock(m.meta_mu);
    auto allow = [&](uint64_t label) {
      auto it = m.meta.find(static_cast<int64_t>(label));
      if (it == m.meta.end()) return false;
      const DocMeta& d = it->second;
      if (d.contact_id == contact_id && d.active) return false;  // the conversation itself
      if (scope.contact_only && d.contact_id != contact_id) return false;
      if (since && d.last_at < *since) return false;
      return true;
    };
    std::vector<VectorHit> hits;
    if (scope.contact_only) {
      // Only this contact's sessions: an exact search among them.
      std::vector<uint64_t> labels;
      for (uint64_t label : own) {
        if (allow(label)) labels.push_back(label);
      }
      hits = m.vectors.SearchWithin(tenant, *query_vector, kChannelDepth, labels);
    } else {
      hits = m.vectors.Search(tenant, *query_vector, kChannelDepth, allow);
    }
    meta_lock.unlock();
    for (const auto& hit : hits)
      Add(vector_ranked, static_cast<int64_t>(hit.label), hit.similarity);
    result.timings_ms["vector"] = MsSince(stage);
  }

  // 2b. Keyword: session documents of the tenant (stemmed terms, then trigrams for what stems
  // miss, e.g. part of a product code), and this contact's own messages.
  std::vector<std::string> tenant_terms = UniqueTaggedTerms(TenantTag(tenant), req.query);
  std::vector<std::string> contact_terms =
      UniqueTaggedTerms(ContactTag(tenant, contact_id), req.query);
  if (w.keyword > 0 && !tenant_terms.empty()) {
    stage = Clock::now();
    // The contact's own conversation going on now is not a "past session" (the baseline has it).
    std::vector<core::DbValue> params = {tenant, contact_id};
    std::string filter = " AND NOT (d.contact_id = $2 AND d.status = 'active')";
    if (scope.contact_only) filter += " AND d.contact_id = $2";
    if (since) {
      params.emplace_back(*since);
      filter += fmt::format(" AND COALESCE(d.last_message_at, d.started_at) >= ${}", params.size());
    }
    const std::vector<core::DbValue> base_params = params;
    std::string match;
    for (const auto& t : tenant_terms) match += (match.empty() ? "" : " OR ") + t;
    params.emplace_back(match);
    std::string sql;
    if (Sqlite(*conn)) {
      // Rank inside FTS5 first and join only the best: joining every match to its row would read
      // a random page per match.
      sql = fmt::format(
          "SELECT d.seq, f.score FROM (SELECT rowid, bm25(memory_documents_fts) AS score FROM "
          "memory_documents_fts WHERE memory_documents_fts MATCH ${} ORDER BY rowid DESC LIMIT {}) "
          "f "
          "JOIN memory_documents d ON d.seq = f.rowid WHERE d.tenant_id = $1{} ORDER BY f.score, "
          "d.seq LIMIT {}",
          params.size(), kKeywordWindow, filter, kChannelDepth);
    } else {
      std::string tsq;
      for (const auto& t : tenant_terms) tsq += (tsq.empty() ? "" : " | ") + t;
      params.back() = tsq;
      // As on SQLite: the newest matches (GIN over the stored tsvector), then ranked.
      sql = fmt::format(
          "SELECT d.seq, -ts_rank(d.terms_tsv, q) AS score FROM (SELECT seq FROM "
          "memory_documents WHERE tenant_id = $1 AND terms_tsv @@ to_tsquery('simple', ${0}) "
          "ORDER BY seq DESC LIMIT {1}) c JOIN memory_documents d ON d.seq = c.seq, "
          "to_tsquery('simple', ${0}) q WHERE d.tenant_id = $1{2} ORDER BY score, d.seq LIMIT {3}",
          params.size(), kKeywordWindow, filter, kChannelDepth);
    }
    VENTROS_ASSIGN_OR_RETURN(auto docs, conn->Query(sql, params));
    for (const auto& row : docs.rows) Add(keyword_ranked, row.GetInt(0), -row.GetDouble(1));

    // Messages of this contact, mapped to their sessions' documents (not the conversation going
    // on now: the baseline has it).
    std::vector<core::DbValue> mparams = {tenant, contact_id};
    std::string mmatch;
    for (const auto& t : contact_terms) {
      mmatch += (mmatch.empty() ? "" : (Sqlite(*conn) ? " OR " : " | ")) + t;
    }
    mparams.emplace_back(mmatch);
    std::string mfilter;
    if (since) {
      mparams.emplace_back(*since);
      mfilter = " AND COALESCE(d.last_message_at, d.started_at) >= $4";
    }
    std::string msql =
        Sqlite(*conn)
            ? fmt::format(
                  "SELECT d.seq, MIN(f.score) AS best FROM (SELECT rowid, "
                  "bm25(memory_messages_fts) AS score FROM memory_messages_fts WHERE "
                  "memory_messages_fts MATCH $3 ORDER BY rowid DESC LIMIT 2000) f JOIN "
                  "memory_messages "
                  "mm ON mm.seq = f.rowid JOIN memory_documents d ON d.tenant_id = mm.tenant_id "
                  "AND d.session_id = mm.session_id "
                  "WHERE mm.tenant_id = $1 AND mm.contact_id = $2 AND d.status = 'ended'{} GROUP "
                  "BY d.seq ORDER BY best, d.seq LIMIT 20",
                  mfilter)
            : fmt::format(
                  "SELECT d.seq, MIN(-ts_rank(mm.terms_tsv, q)) AS best FROM "
                  "memory_messages mm JOIN memory_documents d ON d.tenant_id = mm.tenant_id AND "
                  "d.session_id = mm.session_id, "
                  "to_tsquery('simple', $3) q WHERE mm.terms_tsv @@ q AND "
                  "mm.tenant_id = $1 AND mm.contact_id = $2 AND d.status = 'ended'{} GROUP BY "
                  "d.seq ORDER BY best, d.seq LIMIT 20",
                  mfilter);
    VENTROS_ASSIGN_OR_RETURN(auto msgs, conn->Query(msql, mparams));
    // Interleave: the best session by document terms, then the best by the contact's messages...
    Ranked merged;
    size_t a = 0, b = 0;
    while (a < keyword_ranked.docs.size() || b < msgs.rows.size()) {
      if (a < keyword_ranked.docs.size()) {
        Add(merged, keyword_ranked.docs[a], keyword_ranked.scores[a]);
        ++a;
      }
      if (b < msgs.rows.size()) {
        Add(merged, msgs.rows[b].GetInt(0), -msgs.rows[b].GetDouble(1));
        ++b;
      }
    }
    keyword_ranked = std::move(merged);

    // Trigrams catch what stemming cannot (a fragment of a code or a name), when few matched.
    if (keyword_ranked.docs.size() < kChannelDepth) {
      std::vector<std::string> grams;
      for (const auto& word : Words(req.query)) {
        if (word.size() >= 4) grams.push_back(word);
      }
      if (!grams.empty()) {
        std::vector<core::DbValue> tparams = base_params;
        std::string tsql;
        if (Sqlite(*conn)) {
          std::string tmatch;
          for (const auto& g : grams) tmatch += (tmatch.empty() ? "" : " OR ") + Quote(g);
          tparams.emplace_back(Quote(TenantTag(tenant)) + " AND (" + tmatch + ")");
          tsql = fmt::format(
              "SELECT d.seq FROM (SELECT rowid, bm25(memory_documents_trgm) AS score FROM "
              "memory_documents_trgm WHERE memory_documents_trgm MATCH ${} ORDER BY rowid DESC "
              "LIMIT "
              "{}) f JOIN memory_documents d ON d.seq = f.rowid WHERE d.tenant_id = $1{} ORDER BY "
              "f.score, d.seq LIMIT {}",
              tparams.size(), kKeywordWindow, filter, kChannelDepth);
        } else {
          std::string ors;
          for (const auto& g : grams) {
            tparams.emplace_back("%" + g + "%");
            ors +=
                fmt::format("{}d.search_text LIKE ${}", ors.empty() ? "" : " OR ", tparams.size());
          }
          tsql = fmt::format(
              "SELECT d.seq FROM memory_documents d WHERE d.tenant_id = $1{} AND ({}) ORDER BY "
              "d.last_message_at DESC, d.seq LIMIT {}",
              filter, ors, kChannelDepth);
        }
        VENTROS_ASSIGN_OR_RETURN(auto trows, conn->Query(tsql, tparams));
        for (const auto& row : trows.rows) Add(keyword_ranked, row.GetInt(0), 0);
      }
    }
    result.timings_ms["keyword"] = MsSince(stage);
  }

  // 2c. Graph: sessions reachable from the contact within 3 hops (its own sessions, sessions of
  // the agents that handled it, of contacts from the same campaign, ...), nearer first.
  if (w.graph > 0) {
    stage = Clock::now();
    std::map<std::string, int> distance = {{"contact:" + contact_id, 0}};
    std::vector<std::string> frontier = {"contact:" + contact_id};
    std::vector<std::pair<int, std::string>> sessions;  // (hops, session id)
    for (int hop = 1; hop <= 3 && !frontier.empty(); ++hop) {
      std::vector<core::DbValue> params = {tenant};
      for (const auto& n : frontier) params.emplace_back(n);
      std::string in = Placeholders(2, frontier.size());
      std::string transfers = scope.include_agent_transfers ? "" : " AND kind <> 'transferred_to'";
      // Each direction has its own budget, so a hub (a campaign with thousands of contacts) costs
      // no more than the budget: the scan stops there (newest edges first).
      int budget = m.options.graph_hop_limit * 2;
      VENTROS_ASSIGN_OR_RETURN(
          auto out_rows,
          conn->Query(fmt::format("SELECT dst FROM memory_graph_edges WHERE tenant_id = $1 AND src "
                                  "IN ({}){} LIMIT {}",
                                  in, transfers, budget),
                      params));
      VENTROS_ASSIGN_OR_RETURN(
          auto in_rows,
          conn->Query(fmt::format("SELECT src FROM memory_graph_edges WHERE tenant_id = $1 AND dst "
                                  "IN ({}){} LIMIT {}",
                                  in, transfers, budget),
                      params));
      std::vector<core::DbRow> rows = std::move(out_rows.rows);
      for (auto& r : in_rows.rows) rows.push_back(std::move(r));
      std::vector<std::string> next;
      for (const auto& row : rows) {
        std::string node = row.GetText(0);
        if (distance.count(node)) continue;
        distance[node] = hop;
        // A session is a result and also a way on (to the agents that handled it, the
        // documents sent in it).
        if (node.starts_with("session:")) sessions.emplace_back(hop, node.substr(8));
        if (static_cast<int>(next.size()) < m.options.graph_hop_limit) next.push_back(node);
      }
      frontier = std::move(next);
    }
    if (!sessions.empty()) {
      std::vector<core::DbValue> params = {tenant};
      for (const auto& [hops, id] : sessions) params.emplace_back(id);
      VENTROS_ASSIGN_OR_RETURN(
          auto docs,
          // By the (tenant_id, session_id) key: both columns constrained, so the planner looks
          // each session up (with session_id alone it would scan).
          conn->Query(fmt::format("SELECT seq, session_id, contact_id, status, "
                                  "COALESCE(last_message_at, started_at), tenant_id FROM "
                                  "memory_documents WHERE tenant_id = $1 AND session_id IN ({})",
                                  Placeholders(2, sessions.size())),
                      params));
      struct G {
        int hops;
        int64_t at;
        int64_t seq;
      };
      std::map<std::string, int> hops_of;
      for (const auto& [hops, id] : sessions) hops_of[id] = hops;
      std::vector<G> found;
      for (const auto& row : docs.rows) {
        if (row.GetText(5) != tenant) continue;
        bool own_active = row.GetText(2) == contact_id && row.GetText(3) == "active";
        if (own_active) continue;
        if (scope.contact_only && row.GetText(2) != contact_id) continue;
        if (since && row.GetInt(4) < *since) continue;
        found.push_back({hops_of[row.GetText(1)], row.GetInt(4), row.GetInt(0)});
      }
      std::sort(found.begin(), found.end(), [](const G& a, const G& b) {
        if (a.hops != b.hops) return a.hops < b.hops;
        if (a.at != b.at) return a.at > b.at;
        return a.seq < b.seq;
      });
      for (const auto& g : found) {
        if (graph_ranked.docs.size() >= kChannelDepth) break;
        Add(graph_ranked, g.seq, 1.0 / g.hops);
      }
    }
    result.timings_ms["graph"] = MsSince(stage);
  }

  // 2d. Recent: the contact's latest sessions.
  if (w.recent > 0) {
    stage = Clock::now();
    std::vector<core::DbValue> params = {tenant, contact_id};
    std::string filter;
    if (since) {
      params.emplace_back(*since);
      filter = " AND COALESCE(last_message_at, started_at) >= $3";
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(fmt::format("SELECT seq, COALESCE(last_message_at, started_at) AS at FROM "
                                "memory_documents WHERE tenant_id = $1 AND contact_id = $2 AND "
                                "status = 'ended'{} ORDER BY at DESC, seq LIMIT 10",
                                filter),
                    params));
    for (const auto& row : rows.rows) Add(recent_ranked, row.GetInt(0), 0);
    result.timings_ms["recent"] = MsSince(stage);
  }

  // 3. Weighted Reciprocal Rank Fusion: score(d) = sum_c w_c / (k + rank_c(d)); ties by number.
  stage = Clock::now();
  std::map<int64_t, SearchHit> by_doc;
  auto fuse = [&](const char* name, const Ranked& ranked, double weight) {
    if (weight <= 0) return;
    for (size_t i = 0; i < ranked.docs.size(); ++i) {
      SearchHit& hit = by_doc[ranked.docs[i]];
      hit.doc = ranked.docs[i];
      int rank = static_cast<int>(i) + 1;
      hit.channels[name] = ChannelRank{rank, ranked.scores[i]};
      hit.fused += weight / (kRrfK + rank);
    }
  };
  fuse("vector", vector_ranked, w.vector);
  fuse("keyword", keyword_ranked, w.keyword);
  fuse("graph", graph_ranked, w.graph);
  fuse("recent", recent_ranked, w.recent);
  std::vector<SearchHit> fused;
  for (auto& [doc, hit] : by_doc) fused.push_back(std::move(hit));
  std::sort(fused.begin(), fused.end(), [](const SearchHit& a, const SearchHit& b) {
    if (a.fused != b.fused) return a.fused > b.fused;
    return a.doc < b.doc;
  });
  if (fused.size() > kRerankPool) fused.resize(kRerankPool);
  result.timings_ms["fusion"] = MsSince(stage);

  // 4. Load the candidates and rerank top 10 -> top_k.
  stage = Clock::now();
  std::vector<std::string> doc_terms(fused.size());
  if (!fused.empty()) {
    std::vector<core::DbValue> params;
    for (const auto& h : fused) params.emplace_back(h.doc);
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(fmt::format("SELECT seq, session_id, contact_id, header, summary, "
                                "started_at, ended_at, terms, embedding, tenant_id, embedder FROM "
                                "memory_documents WHERE seq IN ({})",
                                Placeholders(1, fused.size())),
                    params));
    std::map<int64_t, const core::DbRow*> rows_by_seq;
    for (const auto& row : rows.rows) {
      if (row.GetText(9) == tenant) rows_by_seq[row.GetInt(0)] = &row;
    }
    for (size_t i = 0; i < fused.size(); ++i) {
      auto it = rows_by_seq.find(fused[i].doc);
      if (it == rows_by_seq.end()) continue;
      const core::DbRow& row = *it->second;
      fused[i].session_id = row.GetText(1);
      fused[i].contact_id = row.GetText(2);
      fused[i].header = row.GetText(3);
      fused[i].summary = row.GetText(4);
      fused[i].started_at = row.GetInt(5);
      fused[i].ended_at = row.GetOptInt(6);
      doc_terms[i] = row.GetText(7);
      // Vectors of another model (before a reindex) are not comparable: no similarity then.
      if (query_vector && !row.IsNull(8) && row.GetText(10) == m.embedder.name()) {
        llm::Vector v = BlobToVector(row.GetBlob(8));
        if (v.size() == query_vector->size()) fused[i].similarity = Dot(*query_vector, v);
      }
    }
  }
  result.timings_ms["load"] = MsSince(stage);

  stage = Clock::now();
  bool reranked = false;
  if (m.reranker && !fused.empty() && !req.query.empty()) {
    std::vector<std::string> texts;
    for (const auto& h : fused) texts.push_back(h.header + "\n" + h.summary);
    auto scores = m.reranker->Rerank(req.query, texts, fused.size());
    if (scores.ok()) {
      for (const auto& s : *scores) {
        if (s.index < fused.size()) fused[s.index].rerank = s.score;
      }
      reranked = true;
    } else {
      m.logger->warn("memory: rerank API failed, using the local scorer: {}",
                     scores.status().ToString());
    }
  }
  if (!reranked) {
    // Local scorer: meaning (cosine), the query's terms found in the session, and fusion rank.
    double max_fused = fused.empty() ? 1 : fused.front().fused;
    for (size_t i = 0; i < fused.size(); ++i) {
      double coverage = 0;
      if (!tenant_terms.empty()) {
        std::string padded = " " + doc_terms[i] + " ";
        int found = 0;
        for (const auto& t : tenant_terms) found += padded.find(" " + t + " ") != std::string::npos;
        coverage = static_cast<double>(found) / static_cast<double>(tenant_terms.size());
      }
      fused[i].rerank = 0.5 * std::max(0.0, fused[i].similarity) + 0.3 * coverage +
                        0.2 * (max_fused > 0 ? fused[i].fused / max_fused : 0);
    }
  }
  std::stable_sort(fused.begin(), fused.end(), [](const SearchHit& a, const SearchHit& b) {
    if (a.rerank != b.rerank) return a.rerank > b.rerank;
    return a.doc < b.doc;
  });
  if (fused.size() > static_cast<size_t>(req.top_k)) fused.resize(req.top_k);
  result.hits = std::move(fused);
  result.timings_ms["rerank"] = MsSince(stage);

  // 5. Aggregates: contact stats and active facts.
  stage = Clock::now();
  VENTROS_RETURN_IF_ERROR(m.LoadAggregates(*conn, contact, now, result.stats, result.facts));
  const ContactStats& st = result.stats;
  result.timings_ms["aggregates"] = MsSince(stage);

  // 6. The context an agent reads.
  stage = Clock::now();
  std::string& ctx = result.context;
  ctx += "=== RECENT MESSAGES ===\n";
  if (result.recent_messages.empty()) ctx += "(none)\n";
  for (const auto& msg : result.recent_messages) {
    ctx += fmt::format("[{}] {}: \"{}\"\n", FormatMinute(msg.message_at),
                       msg.from_me ? "Agent" : "Contact", OneLine(msg.body));
  }
  ctx += "\n=== SIMILAR PAST SESSIONS ===\n";
  if (result.hits.empty()) ctx += "(none)\n";
  for (size_t i = 0; i < result.hits.size(); ++i) {
    const SearchHit& h = result.hits[i];
    ctx += fmt::format("{}. (similarity {:.2f}) {}\n", i + 1, h.similarity, OneLine(h.header));
    if (!h.summary.empty()) ctx += "   " + OneLine(h.summary) + "\n";
  }
  ctx += "\n=== CONTACT CONTEXT ===\n";
  ctx += fmt::format("Name: {}\n", st.name.empty() ? "(unknown)" : OneLine(st.name));
  ctx += fmt::format("Total sessions: {}\n", st.total_sessions);
  if (st.average_sentiment) {
    ctx +=
        fmt::format("Average sentiment: {:.2f} ({})\n", *st.average_sentiment, st.sentiment_trend);
  }
  if (st.last_interaction_at) {
    ctx += fmt::format("Last interaction: {}\n", FormatMinute(*st.last_interaction_at));
  }
  if (st.campaign_source) ctx += fmt::format("Campaign source: {}\n", *st.campaign_source);
  if (st.pipeline_stage) {
    ctx += fmt::format("Pipeline stage: {}{}\n", *st.pipeline_stage,
                       st.days_in_stage ? fmt::format(" ({} days)", *st.days_in_stage) : "");
  }
  ctx += "\n=== MEMORY FACTS ===\n";
  if (result.facts.empty()) ctx += "(none)\n";
  for (const auto& f : result.facts) {
    ctx += fmt::format("- [{}] {} (confidence {:.2f}{})\n", f.type, OneLine(f.text), f.confidence,
                       f.source_session_id ? ", source session " + *f.source_session_id : "");
  }
  result.timings_ms["format"] = MsSince(stage);
  double total_ms = MsSince(total_start);
  result.timings_ms["total"] = total_ms;
  if (m.search_seconds) m.search_seconds->Observe(total_ms / 1000.0);
  if (m.metrics) {
    // Per stage (vector, keyword, graph, recent, fuse, load, rerank, aggregates, format, ...).
    for (const auto& [stage_name, ms] : result.timings_ms) {
      if (stage_name == "total") continue;
      m.metrics
          ->GetHistogram("ventros_memory_search_stage_seconds", "Memory search latency by stage",
                         core::MetricsRegistry::LatencyBuckets(), {{"stage", stage_name}})
          .Observe(ms / 1000.0);
    }
  }

  if (req.use_cache && result.warnings.empty()) {
    std::lock_guard lock(m.search_mu);
    auto it = m.search_cache.find(cache_key);
    if (it != m.search_cache.end()) {
      m.search_lru.erase(it->second.lru);
      m.search_cache.erase(it);
    }
    m.search_lru.push_front(cache_key);
    m.search_cache[cache_key] = Impl::CacheEntry{result, generation, now, m.search_lru.begin()};
    while (m.search_cache.size() > m.options.search_cache_entries && !m.search_lru.empty()) {
      m.search_cache.erase(m.search_lru.back());
      m.search_lru.pop_back();
    }
  }
  return result;
}

// ---------------------------------------------------------------- JSON

namespace {

// The JSON shapes shared by search results, fact lists and the contact summary.
json::object FactObject(const Fact& f) {
  json::object o;
  o["id"] = f.id;
  o["contact_id"] = f.contact_id;
  o["type"] = f.type;
  o["subject"] = f.subject;
  o["text"] = f.text;
  boost::system::error_code ec;
  json::value value = json::parse(f.value, ec);
  o["value"] = ec ? json::value(json::object()) : value;
  o["confidence"] = f.confidence;
  o["origin"] = f.origin;
  o["source_session_id"] = f.source_session_id ? json::value(*f.source_session_id) : nullptr;
  o["valid_from"] = f.valid_from;
  o["valid_to"] = f.valid_to ? json::value(*f.valid_to) : nullptr;
  o["created_at"] = f.created_at;
  o["expired_at"] = f.expired_at ? json::value(*f.expired_at) : nullptr;
  o["supersedes"] = f.supersedes ? json::value(*f.supersedes) : nullptr;
  return o;
}

json::array FactsArray(const std::vector<Fact>& facts) {
  json::array out;
  for (const auto& f : facts) out.push_back(FactObject(f));
  return out;
}

json::object StatsObject(const ContactStats& s) {
  return {{"name", s.name},
          {"total_sessions", s.total_sessions},
          {"average_sentiment", s.average_sentiment ? json::value(*s.average_sentiment) : nullptr},
          {"sentiment_trend", s.sentiment_trend},
          {"last_interaction_at",
           s.last_interaction_at ? json::value(*s.last_interaction_at) : nullptr},
          {"campaign_source", s.campaign_source ? json::value(*s.campaign_source) : nullptr},
          {"pipeline_stage", s.pipeline_stage ? json::value(*s.pipeline_stage) : nullptr},
          {"days_in_stage", s.days_in_stage ? json::value(*s.days_in_stage) : nullptr}};
}

}  // namespace

std::string FactJson(const Fact& f) { return json::serialize(FactObject(f)); }

std::string SearchResultJson(const SearchResult& r) {
  json::object o;
  o["strategy"] = r.strategy;
  o["weights"] = {{"vector", r.weights.vector},
                  {"keyword", r.weights.keyword},
                  {"graph", r.weights.graph},
                  {"recent", r.weights.recent}};
  json::array recent;
  for (const auto& m : r.recent_messages) {
    recent.push_back({{"id", m.id},
                      {"from_me", m.from_me},
                      {"source", m.source},
                      {"body", m.body},
                      {"message_at", m.message_at}});
  }
  o["recent_messages"] = std::move(recent);
  json::array hits;
  for (const auto& h : r.hits) {
    json::object channels;
    for (const auto& [name, c] : h.channels) {
      channels[name] = {{"rank", c.rank}, {"score", c.score}};
    }
    hits.push_back({{"document", h.doc},
                    {"session_id", h.session_id},
                    {"contact_id", h.contact_id},
                    {"header", h.header},
                    {"summary", h.summary},
                    {"started_at", h.started_at},
                    {"ended_at", h.ended_at ? json::value(*h.ended_at) : nullptr},
                    {"channels", std::move(channels)},
                    {"fused_score", h.fused},
                    {"rerank_score", h.rerank},
                    {"similarity", h.similarity}});
  }
  o["hits"] = std::move(hits);
  o["contact_stats"] = StatsObject(r.stats);
  o["facts"] = FactsArray(r.facts);
  json::object timings;
  for (const auto& [k, v] : r.timings_ms) timings[k] = v;
  o["timings_ms"] = std::move(timings);
  o["cache_hit"] = r.cache_hit;
  json::array warnings;
  for (const auto& w : r.warnings) warnings.emplace_back(w);
  o["warnings"] = std::move(warnings);
  o["context"] = r.context;
  return json::serialize(o);
}

Result<MemoryService::ContactSummary> MemoryService::Summary(const crm::TenantId& tenant,
                                                             const crm::ContactId& contact_id,
                                                             int sessions) {
  VENTROS_ASSIGN_OR_RETURN(crm::Contact contact, impl_->crm.GetContact(tenant, contact_id));
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  ContactSummary out;
  VENTROS_RETURN_IF_ERROR(
      impl_->LoadAggregates(*conn, contact, impl_->clock.NowMillis(), out.stats, out.facts));
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(
          fmt::format("SELECT session_id, status, header, summary, started_at, ended_at, "
                      "message_count, sentiment_sum, sentiment_n, COALESCE(last_message_at, "
                      "started_at) AS at FROM memory_documents WHERE tenant_id = $1 AND "
                      "contact_id = $2 ORDER BY at DESC, seq DESC LIMIT {}",
                      std::clamp(sessions, 1, 50)),
          {tenant.str(), contact_id.str()}));
  for (const auto& r : rows.rows) {
    SessionSummary s;
    s.session_id = r.GetText(0);
    s.status = r.GetText(1);
    s.header = r.GetText(2);
    s.summary = r.GetText(3);
    s.started_at = r.GetInt(4);
    s.ended_at = r.GetOptInt(5);
    s.message_count = r.GetInt(6);
    if (r.GetInt(8) > 0) s.sentiment = r.GetDouble(7) / static_cast<double>(r.GetInt(8));
    out.sessions.push_back(std::move(s));
  }
  return out;
}

std::string ContactSummaryJson(const MemoryService::ContactSummary& s) {
  json::object o;
  o["contact_stats"] = StatsObject(s.stats);
  o["facts"] = FactsArray(s.facts);
  json::array sessions;
  for (const auto& x : s.sessions) {
    sessions.push_back({{"session_id", x.session_id},
                        {"status", x.status},
                        {"header", x.header},
                        {"summary", x.summary},
                        {"started_at", x.started_at},
                        {"ended_at", x.ended_at ? json::value(*x.ended_at) : nullptr},
                        {"message_count", x.message_count},
                        {"sentiment", x.sentiment ? json::value(*x.sentiment) : nullptr}});
  }
  o["sessions"] = std::move(sessions);
  return json::serialize(o);
}

}  // namespace ventros::memory
