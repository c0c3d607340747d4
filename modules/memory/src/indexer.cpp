// The memory indexer: keeps the module's own tables current from CRM events, one transaction per
// batch of events. Every handler is idempotent (messages are keyed by their id, documents by their
// session, graph rows by their natural keys), so a redelivered event changes nothing.
//
// Documents are re-derived (summary, terms, embedding) when their session ends and, while it is
// active, at its first message (so it is searchable at once) and every 20th, so a long session
// costs O(n) rebuilding work, not O(n^2), and a short one two rebuilds.

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "internal.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/trace.hpp"
#include "ventros/memory/text.hpp"

namespace ventros::memory {

namespace json = boost::json;

// ---------------------------------------------------------------- shared helpers

std::string TenantTag(std::string_view tenant) {
  return "t" + core::Sha256Hex(fmt::format("tenant:{}", tenant)).substr(0, 8);
}

std::string ContactTag(std::string_view tenant, std::string_view contact) {
  return "c" + core::Sha256Hex(fmt::format("contact:{}:{}", tenant, contact)).substr(0, 10);
}

std::string TaggedTerms(std::string_view tag, const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& term : terms) {
    std::string clean;
    for (char c : term) {
      // ASCII letters and digits, and every byte of a non-ASCII character: Cyrillic, Greek,
      // Arabic or CJK words stay words (FTS5's unicode61 and PostgreSQL's parser read them as
      // such); ASCII punctuation would split the tag from the word.
      unsigned char u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || u >= 0x80) clean.push_back(c);
    }
    if (clean.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out += tag;
    out += clean;
  }
  return out;
}

std::vector<std::string> UniqueTaggedTerms(std::string_view tag, std::string_view text) {
  std::string joined = TaggedTerms(tag, Terms(text));
  std::vector<std::string> out;
  size_t start = 0;
  while (start < joined.size()) {
    size_t end = joined.find(' ', start);
    if (end == std::string::npos) end = joined.size();
    std::string term = joined.substr(start, end - start);
    if (std::find(out.begin(), out.end(), term) == out.end()) out.push_back(std::move(term));
    start = end + 1;
  }
  return out;
}

std::string VectorToBlob(const llm::Vector& v) {
  static_assert(std::endian::native == std::endian::little, "vectors are stored little-endian");
  std::string out(v.size() * sizeof(float), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

llm::Vector BlobToVector(const std::string& bytes) {
  llm::Vector v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

double Dot(const llm::Vector& a, const llm::Vector& b) {
  double sum = 0;
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

std::string ClipUtf8(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string FormatMinute(int64_t epoch_ms) {
  std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min);
}

namespace {

bool SqliteEngine(core::Connection& conn) { return conn.engine() == core::DbEngine::kSqlite; }

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// A time in a CRM payload: RFC 3339 text (what the CRM writes) or epoch milliseconds.
std::optional<int64_t> Int(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return core::ParseTimestamp(v->as_string());
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return std::nullopt;
}

bool Bool(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

core::DbValue OptText(const std::string& s) {
  return s.empty() ? core::DbValue(nullptr) : core::DbValue(s);
}

// A rebuild point of an active session's document.
bool RefreshDue(int64_t count) { return count == 1 || (count > 0 && count % 20 == 0); }

// ClipUtf8, with an ellipsis when something was cut.
std::string Clip(std::string_view text, size_t limit) {
  return text.size() <= limit ? std::string(text) : ClipUtf8(text, limit) + "…";
}

struct SessionMessage {
  bool from_me = false;
  std::string body;
  int64_t at = 0;
};

// Sentences of the session scored by how much of the conversation's vocabulary they carry
// (a centroid summary), with a bonus for the contact's opening (the intent) and the last words
// (the outcome); the best three, in conversation order.
std::string ExtractiveSummary(const std::vector<SessionMessage>& messages) {
  struct Sentence {
    size_t order;
    bool from_me;
    std::string text;
    std::vector<std::string> terms;
    double score = 0;
  };
  std::vector<Sentence> sentences;
  std::map<std::string, int> tf;
  for (const auto& m : messages) {
    std::string current;
    auto flush = [&] {
      size_t b = current.find_first_not_of(" \t");
      if (b != std::string::npos) {
        std::string text = current.substr(b);
        while (!text.empty() && text.back() == ' ') text.pop_back();
        Sentence s{sentences.size(), m.from_me, text, Terms(text)};
        if (!s.terms.empty()) {
          for (const auto& t : s.terms) ++tf[t];
          sentences.push_back(std::move(s));
        }
      }
      current.clear();
    };
    for (char c : m.body) {
      if (c == '\n') {
        flush();
        continue;
      }
      current.push_back(c);
      if (c == '.' || c == '!' || c == '?') flush();
    }
    flush();
  }
  if (sentences.empty()) return "";
  for (auto& s : sentences) {
    std::set<std::string> unique(s.terms.begin(), s.terms.end());
    double sum = 0;
    for (const auto& t : unique) sum += std::log1p(tf[t]);
    s.score = sum / std::sqrt(static_cast<double>(unique.size()) + 1.0);
  }
  for (auto& s : sentences) {
    if (!s.from_me) {
      s.score *= 1.5;  // the customer's opening states the intent
      break;
    }
  }
  sentences.back().score *= 1.3;  // the last words carry the outcome
  std::vector<Sentence*> ranked;
  for (auto& s : sentences) ranked.push_back(&s);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Sentence* a, const Sentence* b) { return a->score > b->score; });
  ranked.resize(std::min<size_t>(ranked.size(), 3));
  std::sort(ranked.begin(), ranked.end(),
            [](const Sentence* a, const Sentence* b) { return a->order < b->order; });
  std::string out;
  for (const auto* s : ranked) {
    if (!out.empty()) out += " ";
    out += s->from_me ? "Agent: " : "Contact: ";
    out += Clip(s->text, 160);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- Impl

MemoryService::Impl::Impl(core::Database& db, const core::Clock& clock, core::Logger logger,
                          crm::MessagingService& crm, llm::Embedder& embedder,
                          llm::Reranker* reranker, core::MetricsRegistry* metrics, Options options)
    : db(db),
      clock(clock),
      logger(std::move(logger)),
      crm(crm),
      embedder(embedder),
      reranker(reranker),
      metrics(metrics),
      options(options),
      cache(embedder, options.embedding_cache_entries, metrics),
      vectors(embedder.dimensions(), [&] {
        VectorIndexOptions o;
        o.ef_search = options.ef_search;
        o.m = options.hnsw_m;
        o.ef_construction = options.hnsw_ef_construction;
        return o;
      }()) {
  if (metrics) {
    search_hits = &metrics->GetCounter("ventros_memory_search_cache_hits_total",
                                       "Memory searches answered from the search cache");
    search_misses = &metrics->GetCounter("ventros_memory_search_cache_misses_total",
                                         "Memory searches computed");
    search_seconds =
        &metrics->GetHistogram("ventros_memory_search_seconds", "Memory search latency",
                               core::MetricsRegistry::LatencyBuckets());
  }
}

uint64_t MemoryService::Impl::Generation(const std::string& tenant, const std::string& contact) {
  std::lock_guard lock(search_mu);
  auto it = generations.find(tenant + "|" + contact);
  return it == generations.end() ? 0 : it->second;
}

void MemoryService::Impl::BumpLocked(const std::string& key) {
  // Bounded: past the limit everything restarts, cached results included (a cached result
  // checked against a forgotten generation would look current).
  if (generations.size() >= kMaxGenerations && !generations.count(key)) {
    generations.clear();
    search_cache.clear();
    search_lru.clear();
  }
  ++generations[key];
}

void MemoryService::Impl::Bump(const std::string& tenant, const std::string& contact) {
  std::lock_guard lock(search_mu);
  BumpLocked(tenant + "|" + contact);
}

Status MemoryService::Impl::UpsertNode(core::Connection& conn, const std::string& tenant,
                                       const std::string& id, const std::string& kind,
                                       const std::string& label) {
  int64_t now = clock.NowMillis();
  auto r = conn.Query(
      "INSERT INTO memory_graph_nodes (tenant_id, id, kind, label, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, id) DO UPDATE SET "
      "label = CASE WHEN excluded.label = '' THEN memory_graph_nodes.label ELSE excluded.label "
      "END, updated_at = excluded.updated_at",
      {tenant, id, kind, label, now});
  return r.status();
}

Status MemoryService::Impl::UpsertEdge(core::Connection& conn, const std::string& tenant,
                                       const std::string& src, const std::string& kind,
                                       const std::string& dst) {
  auto r = conn.Query(
      "INSERT INTO memory_graph_edges (tenant_id, src, kind, dst, created_at) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, src, kind, dst) DO NOTHING",
      {tenant, src, kind, dst, clock.NowMillis()});
  return r.status();
}

namespace {

// The document of a session, created on first sight (a message may be the first thing the
// indexer sees of a session that started before the memory module was enabled).
Status EnsureDocument(core::Connection& conn, const std::string& tenant, const std::string& session,
                      const std::string& contact, const std::string& channel, int64_t started_at,
                      int64_t now) {
  auto r = conn.Query(
      "INSERT INTO memory_documents (session_id, tenant_id, contact_id, channel_id, status, "
      "started_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6) "
      "ON CONFLICT (tenant_id, session_id) DO NOTHING",
      {session, tenant, contact, OptText(channel), started_at, now});
  return r.status();
}

}  // namespace

Status MemoryService::Impl::ApplyEvent(core::Connection& conn, const core::Event& e,
                                       std::vector<int64_t>& refresh,
                                       std::vector<std::string>& touched) {
  boost::system::error_code ec;
  json::value parsed = json::parse(e.payload, ec);
  if (ec || !parsed.is_object()) {
    return Status::InvalidArgument(fmt::format("event {}: payload is not a JSON object", e.id));
  }
  const json::object& p = parsed.as_object();
  const std::string& tenant = e.tenant_id;
  int64_t now = clock.NowMillis();

  if (e.type == "message.received" || e.type == "message.sent") {
    std::string id = Str(p, "id"), contact = Str(p, "contact_id"), session = Str(p, "session_id");
    std::string type = Str(p, "type"), body = Str(p, "body");
    if (id.empty() || contact.empty()) {
      return Status::InvalidArgument(fmt::format("event {}: message without id or contact", e.id));
    }
    touched.push_back(contact);
    if (type == "reaction" || type == "system") return Status::Ok();
    bool from_me = Bool(p, "from_me");
    int64_t at = Int(p, "message_at").value_or(e.occurred_at);
    std::string indexed = body;
    auto* media = p.if_contains("media");
    if (media && media->is_object()) {
      // A document's file name says what it is ("proposta_2026.pdf").
      std::string filename = Str(media->as_object(), "filename");
      if (!filename.empty()) indexed += (indexed.empty() ? "" : " ") + filename;
    }
    double sentiment = from_me ? 0.0 : Sentiment(body);
    std::string terms = TaggedTerms(ContactTag(tenant, contact), Terms(indexed));
    VENTROS_ASSIGN_OR_RETURN(
        auto inserted,
        conn.Query("INSERT INTO memory_messages (id, tenant_id, contact_id, session_id, from_me, "
                   "source, type, body, terms, sentiment, message_at) VALUES ($1, $2, $3, $4, $5, "
                   "$6, $7, $8, $9, $10, $11) ON CONFLICT (tenant_id, id) DO NOTHING RETURNING seq",
                   {id, tenant, contact, OptText(session), int64_t{from_me}, Str(p, "source"), type,
                    indexed, terms, sentiment, at}));
    if (inserted.empty()) return Status::Ok();  // seen before
    if (SqliteEngine(conn)) {
      VENTROS_RETURN_IF_ERROR(
          conn.Query("INSERT INTO memory_messages_fts (rowid, terms) VALUES ($1, $2)",
                     {inserted.rows[0].GetInt(0), terms})
              .status());
    }
    if (!from_me && !body.empty()) {
      VENTROS_RETURN_IF_ERROR(LearnFromMessage(
          conn, tenant, contact,
          session.empty() ? std::nullopt : std::optional<std::string>(session), id, body, at));
    }
    if (session.empty()) return Status::Ok();
    VENTROS_RETURN_IF_ERROR(
        EnsureDocument(conn, tenant, session, contact, Str(p, "channel_id"), at, now));
    VENTROS_ASSIGN_OR_RETURN(
        auto doc,
        conn.Query("UPDATE memory_documents SET message_count = message_count + 1, "
                   "last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $2 "
                   "THEN $2 ELSE last_message_at END, sentiment_sum = sentiment_sum + $3, "
                   "sentiment_n = sentiment_n + $4, updated_at = $5 WHERE session_id = $1 AND "
                   "tenant_id = $6 "
                   "RETURNING seq, message_count",
                   {session, at, sentiment, int64_t{from_me ? 0 : 1}, now, tenant}));
    if (!doc.empty() && RefreshDue(doc.rows[0].GetInt(1))) refresh.push_back(doc.rows[0].GetInt(0));
    if (type == "document") {
      std::string node = "document:" + id;
      std::string label = indexed.empty() ? "document" : Clip(indexed, 100);
      VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, node, "document", label));
      VENTROS_RETURN_IF_ERROR(
          UpsertEdge(conn, tenant, "session:" + session, "sent_document", node));
    }
    return Status::Ok();
  }

  if (e.type == "offer.created") {
    std::string offer = Str(p, "id"), contact = Str(p, "contact_id");
    if (offer.empty() || contact.empty()) {
      return Status::InvalidArgument(fmt::format("event {}: offer without id or contact", e.id));
    }
    touched.push_back(contact);
    auto discount = Int(p, "discount_percent"), months = Int(p, "duration_months");
    std::string label = discount && months ? fmt::format("{}% for {} months", *discount, *months)
                                           : std::string("offer");
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "contact:" + contact, "contact", ""));
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "offer:" + offer, "offer", label));
    VENTROS_RETURN_IF_ERROR(
        UpsertEdge(conn, tenant, "contact:" + contact, "received_offer", "offer:" + offer));
    if (std::string session = Str(p, "session_id"); !session.empty()) {
      VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "session:" + session, "session", ""));
      VENTROS_RETURN_IF_ERROR(
          UpsertEdge(conn, tenant, "session:" + session, "received_offer", "offer:" + offer));
    }
    return Status::Ok();
  }

  if (e.type == "session.assigned") {
    // A hand-off between the AI and a person: the session's agent changes; a move to a human is
    // a transfer (followed by the graph channel when the scope includes agent transfers).
    std::string session = Str(p, "id"), contact = Str(p, "contact_id");
    if (session.empty() || contact.empty()) {
      return Status::InvalidArgument(fmt::format("event {}: session without id or contact", e.id));
    }
    touched.push_back(contact);
    std::string type = Str(p, "assigned_agent_type"), agent = Str(p, "assigned_agent_id");
    std::string node = "agent:" + (agent.empty() ? type : agent);
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "session:" + session, "session", ""));
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, node, "agent", type));
    VENTROS_ASSIGN_OR_RETURN(
        auto doc, conn.Query("UPDATE memory_documents SET agent_type = $1, agent_id = $2, "
                             "updated_at = $3 WHERE session_id = $4 AND tenant_id = $5",
                             {OptText(type), OptText(agent), now, session, tenant}));
    (void)doc;
    VENTROS_RETURN_IF_ERROR(UpsertEdge(conn, tenant, "session:" + session,
                                       type == "human" && Str(p, "previous_agent_type") != "human"
                                           ? "transferred_to"
                                           : "handled_by",
                                       node));
    return Status::Ok();
  }

  if (e.type == "session.started" || e.type == "session.ended") {
    std::string session = Str(p, "id"), contact = Str(p, "contact_id");
    if (session.empty() || contact.empty()) {
      return Status::InvalidArgument(fmt::format("event {}: session without id or contact", e.id));
    }
    touched.push_back(contact);
    int64_t started = Int(p, "started_at").value_or(e.occurred_at);
    VENTROS_RETURN_IF_ERROR(
        EnsureDocument(conn, tenant, session, contact, Str(p, "channel_id"), started, now));
    std::string agent_type = Str(p, "assigned_agent_type"), agent = Str(p, "assigned_agent_id");
    VENTROS_ASSIGN_OR_RETURN(
        auto doc,
        conn.Query(
            "UPDATE memory_documents SET status = $2, ended_at = $3, end_reason = $4, "
            "agent_type = COALESCE($5, agent_type), agent_id = COALESCE($6, agent_id), "
            "updated_at = $7 WHERE session_id = $1 AND tenant_id = $8 RETURNING seq",
            {session, Str(p, "status") == "ended" ? "ended" : "active",
             e.type == "session.ended" ? core::DbValue(Int(p, "ended_at").value_or(e.occurred_at))
                                       : core::DbValue(nullptr),
             OptText(Str(p, "end_reason")), OptText(agent_type), OptText(agent), now, tenant}));
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "contact:" + contact, "contact", ""));
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "session:" + session, "session", ""));
    VENTROS_RETURN_IF_ERROR(
        UpsertEdge(conn, tenant, "contact:" + contact, "has_session", "session:" + session));
    if (!agent.empty()) {
      VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, "agent:" + agent, "agent", agent_type));
      VENTROS_RETURN_IF_ERROR(
          UpsertEdge(conn, tenant, "session:" + session, "handled_by", "agent:" + agent));
    }
    if (e.type == "session.ended" && !doc.empty()) refresh.push_back(doc.rows[0].GetInt(0));
    return Status::Ok();
  }

  if (e.type == "contact.created" || e.type == "contact.updated") {
    std::string contact = Str(p, "id");
    if (contact.empty())
      return Status::InvalidArgument(fmt::format("event {}: no contact id", e.id));
    touched.push_back(contact);
    VENTROS_RETURN_IF_ERROR(
        UpsertNode(conn, tenant, "contact:" + contact, "contact", Str(p, "name")));
    auto* attribution = p.if_contains("attribution");
    if (attribution && attribution->is_object()) {
      std::string campaign = Str(attribution->as_object(), "utm_campaign");
      if (!campaign.empty()) {
        VENTROS_RETURN_IF_ERROR(
            UpsertNode(conn, tenant, "campaign:" + campaign, "campaign", campaign));
        VENTROS_RETURN_IF_ERROR(UpsertEdge(conn, tenant, "contact:" + contact, "attributed_to",
                                           "campaign:" + campaign));
      }
    }
    return Status::Ok();
  }

  if (e.type == "contact.merged") {
    std::string from = Str(p, "from"), into = Str(p, "into");
    if (from.empty() || into.empty()) {
      return Status::InvalidArgument(fmt::format("event {}: merge without from/into", e.id));
    }
    touched.push_back(from);
    touched.push_back(into);
    // Messages are keyword-indexed under their contact's tag: re-tag the moved ones.
    VENTROS_ASSIGN_OR_RETURN(
        auto moved, conn.Query("SELECT seq, terms, body FROM memory_messages WHERE tenant_id = $1 "
                               "AND contact_id = $2",
                               {tenant, from}));
    std::string into_tag = ContactTag(tenant, into);
    for (const auto& row : moved.rows) {
      std::string terms = TaggedTerms(into_tag, Terms(row.GetText(2)));
      if (SqliteEngine(conn)) {
        VENTROS_RETURN_IF_ERROR(conn.Query("INSERT INTO memory_messages_fts (memory_messages_fts, "
                                           "rowid, terms) VALUES ('delete', $1, $2)",
                                           {row.GetInt(0), row.GetText(1)})
                                    .status());
        VENTROS_RETURN_IF_ERROR(
            conn.Query("INSERT INTO memory_messages_fts (rowid, terms) VALUES ($1, $2)",
                       {row.GetInt(0), terms})
                .status());
      }
      VENTROS_RETURN_IF_ERROR(
          conn.Query("UPDATE memory_messages SET contact_id = $2, terms = $3 WHERE seq = $1",
                     {row.GetInt(0), into, terms})
              .status());
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto docs, conn.Query("UPDATE memory_documents SET contact_id = $3, updated_at = $4 "
                              "WHERE tenant_id = $1 AND contact_id = $2 RETURNING seq",
                              {tenant, from, into, now}));
    for (const auto& row : docs.rows) refresh.push_back(row.GetInt(0));
    VENTROS_RETURN_IF_ERROR(conn.Query("UPDATE memory_facts SET contact_id = $3 WHERE tenant_id = "
                                       "$1 AND contact_id = $2",
                                       {tenant, from, into})
                                .status());
    VENTROS_RETURN_IF_ERROR(conn.Query("UPDATE memory_fact_evidence SET contact_id = $3 WHERE "
                                       "tenant_id = $1 AND contact_id = $2",
                                       {tenant, from, into})
                                .status());
    // Edges of the old contact node move to the surviving one.
    std::string from_node = "contact:" + from, into_node = "contact:" + into;
    VENTROS_RETURN_IF_ERROR(UpsertNode(conn, tenant, into_node, "contact", ""));
    // One query per direction, each by its own index (an OR would scan the tenant's edges).
    for (const char* side : {"src", "dst"}) {
      VENTROS_ASSIGN_OR_RETURN(
          auto edges, conn.Query(fmt::format("SELECT src, kind, dst FROM memory_graph_edges WHERE "
                                             "tenant_id = $1 AND {} = $2",
                                             side),
                                 {tenant, from_node}));
      for (const auto& row : edges.rows) {
        std::string src = row.GetText(0) == from_node ? into_node : row.GetText(0);
        std::string dst = row.GetText(2) == from_node ? into_node : row.GetText(2);
        VENTROS_RETURN_IF_ERROR(UpsertEdge(conn, tenant, src, row.GetText(1), dst));
      }
      VENTROS_RETURN_IF_ERROR(
          conn.Query(fmt::format("DELETE FROM memory_graph_edges WHERE tenant_id = $1 AND {} = $2",
                                 side),
                     {tenant, from_node})
              .status());
    }
    return conn
        .Query("DELETE FROM memory_graph_nodes WHERE tenant_id = $1 AND id = $2",
               {tenant, from_node})
        .status();
  }
  return Status::Ok();  // a type this version does not index
}

Result<std::optional<DocDraft>> MemoryService::Impl::DraftDocument(core::Connection& conn,
                                                                   int64_t seq) {
  VENTROS_ASSIGN_OR_RETURN(
      auto docs,
      conn.Query("SELECT tenant_id, contact_id, session_id, status, agent_type, agent_id, "
                 "agent_category, outcome, end_reason, started_at, ended_at, last_message_at, "
                 "message_count, llm_summary FROM memory_documents WHERE seq = $1",
                 {seq}));
  if (docs.empty()) return std::optional<DocDraft>();
  const core::DbRow& d = docs.rows[0];
  DocDraft draft;
  draft.seq = seq;
  draft.tenant = d.GetText(0);
  draft.contact = d.GetText(1);
  const std::string session = d.GetText(2);
  draft.session = session;
  draft.active = d.GetText(3) == "active";
  // A long session is read by its opening and its latest words (what it was about, how it ends).
  VENTROS_ASSIGN_OR_RETURN(
      auto head, conn.Query("SELECT from_me, body, message_at, seq FROM memory_messages WHERE "
                            "tenant_id = $2 AND session_id = $1 ORDER BY message_at, seq LIMIT 250",
                            {session, draft.tenant}));
  VENTROS_ASSIGN_OR_RETURN(
      auto tail,
      conn.Query("SELECT from_me, body, message_at, seq FROM memory_messages WHERE tenant_id = $2 "
                 "AND session_id = $1 ORDER BY message_at DESC, seq DESC LIMIT 250",
                 {session, draft.tenant}));
  std::vector<SessionMessage> messages;
  std::set<int64_t> seen;
  for (const auto& row : head.rows) {
    seen.insert(row.GetInt(3));
    messages.push_back({row.GetInt(0) != 0, row.GetText(1), row.GetInt(2)});
  }
  std::vector<SessionMessage> latest;
  for (const auto& row : tail.rows) {
    if (!seen.count(row.GetInt(3)))
      latest.push_back({row.GetInt(0) != 0, row.GetText(1), row.GetInt(2)});
  }
  messages.insert(messages.end(), latest.rbegin(), latest.rend());
  VENTROS_ASSIGN_OR_RETURN(
      auto node, conn.Query("SELECT label FROM memory_graph_nodes WHERE tenant_id = $1 AND id = $2",
                            {draft.tenant, "contact:" + draft.contact}));
  std::string name =
      node.empty() || node.rows[0].GetText(0).empty() ? "unknown contact" : node.rows[0].GetText(0);
  std::string agent = !d.IsNull(6)   ? d.GetText(6)
                      : !d.IsNull(4) ? d.GetText(4) + (d.IsNull(5) ? "" : " " + d.GetText(5))
                                     : "none";
  std::string outcome = !d.IsNull(7)   ? d.GetText(7)
                        : draft.active ? "in progress"
                        : !d.IsNull(8) ? "ended (" + d.GetText(8) + ")"
                                       : "ended";
  draft.when = d.IsNull(11) ? d.GetInt(9) : d.GetInt(11);
  int64_t count = std::max<int64_t>(d.GetInt(12), static_cast<int64_t>(messages.size()));
  // The contextual header (contextual retrieval): who, when, which agent, how it ended. It goes
  // into the embedded and keyword-indexed text as well as the context an agent reads.
  draft.header = fmt::format("Contact: {} | {} | agent: {} | {} messages | outcome: {}", name,
                             FormatMinute(draft.when).substr(0, 10), agent, count, outcome);
  // The language model's summary when one was written, else the extractive one.
  draft.summary =
      d.IsNull(13) || d.GetText(13).empty() ? ExtractiveSummary(messages) : d.GetText(13);
  std::string contact_text;
  for (const auto& m : messages) {
    if (m.from_me) continue;
    if (!contact_text.empty()) contact_text += " ";
    contact_text += m.body;
    if (contact_text.size() > 4000) break;
  }
  // The header's values are indexed, not its labels ("Contact", "agent", "messages" would match
  // every document and crowd out the words that matter).
  std::string all_text = name + " " + agent + " " + outcome + "\n" + draft.summary;
  for (const auto& m : messages) {
    if (all_text.size() > 8000) break;
    all_text += "\n" + m.body;
  }
  draft.terms = TaggedTerms(TenantTag(draft.tenant), Terms(all_text));
  // Led by the tenant tag, so a trigram query is confined to its tenant ("tag" AND ...).
  draft.search_text = TenantTag(draft.tenant) + " " + Fold(draft.header + " " + draft.summary);
  draft.embed_text = draft.header + "\n" + draft.summary + "\n" + Clip(contact_text, 2000);
  return std::optional<DocDraft>(std::move(draft));
}

Status MemoryService::Impl::WriteDocument(core::Connection& conn, const DocDraft& draft,
                                          const llm::Vector* vector,
                                          std::vector<PendingVector>& out) {
  const int64_t seq = draft.seq;
  if (SqliteEngine(conn)) {
    // External-content FTS5 rows are removed by repeating their old values, read here, inside
    // the writing transaction.
    VENTROS_ASSIGN_OR_RETURN(
        auto old,
        conn.Query("SELECT terms, search_text FROM memory_documents WHERE seq = $1", {seq}));
    if (old.empty()) return Status::Ok();
    std::string old_terms = old.rows[0].GetText(0), old_search = old.rows[0].GetText(1);
    if (!old_terms.empty()) {
      VENTROS_RETURN_IF_ERROR(conn.Query("INSERT INTO memory_documents_fts (memory_documents_fts, "
                                         "rowid, terms) VALUES ('delete', $1, $2)",
                                         {seq, old_terms})
                                  .status());
    }
    if (!old_search.empty()) {
      VENTROS_RETURN_IF_ERROR(
          conn.Query("INSERT INTO memory_documents_trgm (memory_documents_trgm, rowid, "
                     "search_text) VALUES ('delete', $1, $2)",
                     {seq, old_search})
              .status());
    }
    VENTROS_RETURN_IF_ERROR(
        conn.Query("INSERT INTO memory_documents_fts (rowid, terms) VALUES ($1, $2)",
                   {seq, draft.terms})
            .status());
    VENTROS_RETURN_IF_ERROR(
        conn.Query("INSERT INTO memory_documents_trgm (rowid, search_text) VALUES ($1, $2)",
                   {seq, draft.search_text})
            .status());
  }
  int64_t now = clock.NowMillis();
  if (!vector) {
    // The embedder is down: the text is current, the vector waits for the next refresh.
    return conn
        .Query(
            "UPDATE memory_documents SET header = $2, summary = $3, terms = $4, search_text = "
            "$5, updated_at = $6 WHERE seq = $1",
            {seq, draft.header, draft.summary, draft.terms, draft.search_text, now})
        .status();
  }
  VENTROS_RETURN_IF_ERROR(
      conn.Query("UPDATE memory_documents SET header = $2, summary = $3, terms = $4, search_text = "
                 "$5, embedder = $6, embedding = $7, indexed_at = $8, indexed_count = "
                 "message_count, updated_at = $8 WHERE seq = $1",
                 {seq, draft.header, draft.summary, draft.terms, draft.search_text, embedder.name(),
                  core::Blob{VectorToBlob(*vector)}, now})
          .status());
  out.push_back(
      {draft.tenant, seq, *vector, DocMeta{draft.contact, draft.when, draft.active, now}});
  return Status::Ok();
}

Status MemoryService::Impl::RefreshDocument(core::Connection& conn, int64_t seq,
                                            std::vector<PendingVector>& out) {
  VENTROS_ASSIGN_OR_RETURN(auto draft, DraftDocument(conn, seq));
  if (!draft) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(
      auto vectors,
      cache.Embed(draft->tenant, std::span(&draft->embed_text, 1), llm::EmbedTask::kDocument));
  if (vectors.size() != 1) return Status::Internal("embedder returned no vector");
  return WriteDocument(conn, *draft, &vectors[0], out);
}

void MemoryService::Impl::PublishVectors(std::vector<PendingVector>& pending) {
  for (auto& p : pending) {
    // The version check, the vector and its metadata change together (lock order: metadata,
    // then the index, as in Search), so a slow start-up load never puts back an older vector
    // than the indexer published meanwhile.
    std::unique_lock lock(meta_mu);
    auto it = meta.find(p.seq);
    if (it != meta.end() && it->second.version > p.meta.version) continue;
    vectors.Upsert(p.tenant, static_cast<uint64_t>(p.seq), p.vector);
    meta[p.seq] = std::move(p.meta);
  }
  pending.clear();
}

// ---------------------------------------------------------------- MemoryService

MemoryService::MemoryService(core::Database& db, const core::Clock& clock, core::Logger logger,
                             crm::MessagingService& crm, llm::Embedder& embedder,
                             llm::Reranker* reranker, core::MetricsRegistry* metrics,
                             Options options)
    : embedder_(embedder),
      impl_(std::make_unique<Impl>(db, clock, std::move(logger), crm, embedder, reranker, metrics,
                                   options)) {}

MemoryService::~MemoryService() = default;

void MemoryService::SetChatModel(llm::ChatModel* model) { impl_->chat = model; }
void MemoryService::SetTracer(const core::Tracer* tracer) { impl_->tracer = tracer; }
bool MemoryService::HasChatModel() const { return impl_->chat != nullptr; }

const std::vector<std::string>& MemoryService::ConsumedEventTypes() {
  static const std::vector<std::string> types = {
      "message.received", "message.sent",   "session.started",  "session.ended", "contact.created",
      "contact.updated",  "contact.merged", "session.assigned", "offer.created"};
  return types;
}

Status MemoryService::HandleEvents(std::span<const core::Event> events) {
  std::vector<PendingVector> pending;
  std::vector<std::string> touched_keys;
  std::vector<int64_t> refresh;
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  {
    // 1. The events' rows, in one short transaction (SQLite has one writer, and webhook
    //    acknowledgements wait for it).
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    for (const auto& e : events) {
      std::vector<std::string> touched;
      VENTROS_RETURN_IF_ERROR(impl_->ApplyEvent(*conn, e, refresh, touched));
      for (auto& c : touched) touched_keys.push_back(e.tenant_id + "|" + c);
    }
    VENTROS_RETURN_IF_ERROR(tx.Commit());
  }
  {
    std::lock_guard lock(impl_->search_mu);
    for (const auto& key : touched_keys) impl_->BumpLocked(key);
  }
  std::sort(refresh.begin(), refresh.end());
  refresh.erase(std::unique(refresh.begin(), refresh.end()), refresh.end());
  if (refresh.empty()) return Status::Ok();

  // 2. Documents to rebuild: drafted from the stored rows, embedded outside any transaction (a
  //    hosted embedder is a network call), written in a second short transaction.
  std::vector<DocDraft> drafts;
  for (int64_t seq : refresh) {
    VENTROS_ASSIGN_OR_RETURN(auto draft, impl_->DraftDocument(*conn, seq));
    if (draft) drafts.push_back(std::move(*draft));
  }
  std::vector<std::optional<llm::Vector>> vectors(drafts.size());
  Status embedded = Status::Ok();
  std::vector<core::Span> traces;  // one per document, ended after it is written
  for (size_t i = 0; i < drafts.size(); ++i) {
    core::Span root, embed;
    if (impl_->tracer) {
      root = impl_->tracer->StartTrace("memory.update", core::SpanKind::kChain, drafts[i].tenant);
      root.Set("memory.document", drafts[i].seq)
          .Set("session.id", drafts[i].session)
          .Set("user.id", drafts[i].contact)
          .Set("memory.session_active", drafts[i].active)
          .Set("output.value", drafts[i].summary);
      embed = impl_->tracer->StartChild(root, "embedding", core::SpanKind::kEmbedding);
      embed.Set("embedding.model_name", impl_->embedder.name())
          .Set("embedding.embeddings.0.embedding.text", drafts[i].embed_text.substr(0, 4000));
    }
    auto v = impl_->cache.Embed(drafts[i].tenant, std::span(&drafts[i].embed_text, 1),
                                llm::EmbedTask::kDocument);
    if (!v.ok()) embed.SetError(v.status().ToString());
    embed.End();
    traces.push_back(std::move(root));
    if (v.ok() && v->size() == 1) {
      vectors[i] = std::move((*v)[0]);
    } else if (embedded.ok()) {
      embedded = v.ok() ? Status::Internal("embedder returned no vector") : v.status();
    }
  }
  {
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    for (size_t i = 0; i < drafts.size(); ++i) {
      VENTROS_RETURN_IF_ERROR(
          impl_->WriteDocument(*conn, drafts[i], vectors[i] ? &*vectors[i] : nullptr, pending));
    }
    VENTROS_RETURN_IF_ERROR(tx.Commit());
  }
  impl_->PublishVectors(pending);
  // The rows are stored either way; a failed embedding fails the delivery so the session's end
  // is retried (its vector comes then), without ever losing what was said.
  if (!embedded.ok()) {
    impl_->logger->warn("memory: embedding {} document(s) failed: {}", drafts.size(),
                        embedded.ToString());
  }
  return embedded;
}

Status MemoryService::LoadVectors(const std::atomic<bool>* stop,
                                  std::optional<crm::TenantId> tenant) {
  int64_t started = impl_->clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  // Documents indexed from here on are caught up later (CatchUpVectors), even while this load
  // runs: the watermark is taken before reading.
  VENTROS_ASSIGN_OR_RETURN(auto count,
                           conn->Query("SELECT COUNT(*), MAX(indexed_at) FROM memory_documents "
                                       "WHERE embedder = $1",
                                       {impl_->embedder.name()}));
  const std::string only = tenant ? tenant->str() : std::string();
  int64_t total = count.rows[0].GetInt(0);
  if (total > 0) impl_->logger->info("memory: loading {} document vectors", total);
  int64_t loaded = 0, last_seq = 0, watermark = count.rows[0].GetInt(1);
  int64_t next_report = 50000;
  while (!(stop && stop->load())) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query("SELECT seq, tenant_id, contact_id, status, started_at, last_message_at, "
                    "indexed_at, embedding FROM memory_documents WHERE embedder = $1 AND seq > $2 "
                    "ORDER BY seq LIMIT 1000",
                    {impl_->embedder.name(), last_seq}));
    if (rows.empty()) break;
    std::vector<PendingVector> batch;
    for (const auto& row : rows.rows) {
      last_seq = row.GetInt(0);
      if (!only.empty() && row.GetText(1) != only) continue;
      llm::Vector v = BlobToVector(row.GetBlob(7));
      if (static_cast<int>(v.size()) != impl_->embedder.dimensions()) continue;
      int64_t when = row.IsNull(5) ? row.GetInt(4) : row.GetInt(5);
      batch.push_back({row.GetText(1), last_seq, std::move(v),
                       DocMeta{row.GetText(2), when, row.GetText(3) == "active", row.GetInt(6)}});
    }
    loaded += static_cast<int64_t>(batch.size());
    impl_->PublishVectors(batch);
    if (loaded >= next_report) {
      impl_->logger->info("memory: {}/{} vectors loaded", loaded, total);
      next_report += 50000;
    }
  }
  {
    std::lock_guard lock(impl_->catch_up_mu);
    impl_->vectors_watermark = std::max(impl_->vectors_watermark, watermark);
  }
  if (only.empty() && !(stop && stop->load())) impl_->vectors_loaded = true;
  if (total > 0) {
    impl_->logger->info("memory: {} vectors loaded in {} ms", loaded,
                        impl_->clock.NowMillis() - started);
  }
  return Status::Ok();
}

Status MemoryService::CatchUpVectors() {
  if (!impl_->vectors_loaded) return Status::Ok();  // the start-up load covers it
  std::lock_guard lock(impl_->catch_up_mu);
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  // Documents another instance indexed since the last look (same-millisecond rows are re-read:
  // upserting a vector twice is harmless).
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query("SELECT seq, tenant_id, contact_id, status, started_at, last_message_at, "
                  "indexed_at, embedding FROM memory_documents WHERE indexed_at >= $1 AND embedder "
                  "= $2 ORDER BY indexed_at LIMIT 10000",
                  {impl_->vectors_watermark, impl_->embedder.name()}));
  std::vector<PendingVector> batch;
  for (const auto& row : rows.rows) {
    impl_->vectors_watermark = std::max(impl_->vectors_watermark, row.GetInt(6));
    llm::Vector v = BlobToVector(row.GetBlob(7));
    if (static_cast<int>(v.size()) != impl_->embedder.dimensions()) continue;
    int64_t when = row.IsNull(5) ? row.GetInt(4) : row.GetInt(5);
    batch.push_back({row.GetText(1), row.GetInt(0), std::move(v),
                     DocMeta{row.GetText(2), when, row.GetText(3) == "active", row.GetInt(6)}});
  }
  impl_->PublishVectors(batch);
  return Status::Ok();
}

Status MemoryService::Reindex(std::optional<crm::TenantId> tenant,
                              const std::function<void(int64_t, int64_t)>& progress) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  std::string where = tenant ? "WHERE tenant_id = $1" : "";
  std::vector<core::DbValue> params;
  if (tenant) params.emplace_back(tenant->str());
  VENTROS_ASSIGN_OR_RETURN(auto count,
                           conn->Query("SELECT COUNT(*) FROM memory_documents " + where, params));
  int64_t total = count.rows[0].GetInt(0), done = 0, last_seq = 0;
  if (progress) progress(0, total);
  while (true) {
    std::vector<core::DbValue> page_params = params;
    page_params.emplace_back(last_seq);
    std::string sql =
        fmt::format("SELECT seq FROM memory_documents WHERE {} seq > ${} ORDER BY seq LIMIT 500",
                    tenant ? "tenant_id = $1 AND" : "", page_params.size());
    VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query(sql, page_params));
    if (rows.empty()) break;
    std::vector<PendingVector> pending;
    {
      VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
      for (const auto& row : rows.rows) {
        last_seq = row.GetInt(0);
        VENTROS_RETURN_IF_ERROR(impl_->RefreshDocument(*conn, last_seq, pending));
      }
      VENTROS_RETURN_IF_ERROR(tx.Commit());
    }
    impl_->PublishVectors(pending);
    done += static_cast<int64_t>(rows.rows.size());
    if (progress) progress(done, total);
  }
  std::lock_guard lock(impl_->search_mu);
  impl_->search_cache.clear();
  impl_->search_lru.clear();
  return Status::Ok();
}

Status MemoryService::BulkLoad(const crm::TenantId& tenant, std::span<const BulkSession> sessions) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  std::vector<PendingVector> pending;
  std::string t = tenant.str();
  int64_t now = impl_->clock.NowMillis();
  for (const auto& s : sessions) {
    VENTROS_RETURN_IF_ERROR(
        impl_->UpsertNode(*conn, t, "contact:" + s.contact_id, "contact", s.contact_name));
    VENTROS_RETURN_IF_ERROR(impl_->UpsertNode(*conn, t, "session:" + s.id, "session", ""));
    VENTROS_RETURN_IF_ERROR(
        impl_->UpsertEdge(*conn, t, "contact:" + s.contact_id, "has_session", "session:" + s.id));
    if (!s.campaign.empty()) {
      VENTROS_RETURN_IF_ERROR(
          impl_->UpsertNode(*conn, t, "campaign:" + s.campaign, "campaign", s.campaign));
      VENTROS_RETURN_IF_ERROR(impl_->UpsertEdge(*conn, t, "contact:" + s.contact_id,
                                                "attributed_to", "campaign:" + s.campaign));
    }
    double sentiment_sum = 0;
    int64_t sentiment_n = 0, last = s.started_at;
    for (const auto& m : s.messages) {
      double sentiment = m.from_me ? 0.0 : Sentiment(m.body);
      if (!m.from_me) {
        sentiment_sum += sentiment;
        ++sentiment_n;
      }
      last = std::max(last, m.message_at);
      std::string terms = TaggedTerms(ContactTag(t, s.contact_id), Terms(m.body));
      VENTROS_ASSIGN_OR_RETURN(
          auto inserted,
          conn->Query(
              "INSERT INTO memory_messages (id, tenant_id, contact_id, session_id, "
              "from_me, source, type, body, terms, sentiment, message_at) VALUES ($1, $2, "
              "$3, $4, $5, $6, 'text', $7, $8, $9, $10) ON CONFLICT (tenant_id, id) DO NOTHING "
              "RETURNING seq",
              {m.id, t, s.contact_id, s.id, int64_t{m.from_me}, m.source, m.body, terms, sentiment,
               m.message_at}));
      if (!inserted.empty() && SqliteEngine(*conn)) {
        VENTROS_RETURN_IF_ERROR(
            conn->Query("INSERT INTO memory_messages_fts (rowid, terms) VALUES ($1, $2)",
                        {inserted.rows[0].GetInt(0), terms})
                .status());
      }
    }
    VENTROS_ASSIGN_OR_RETURN(
        auto doc,
        conn->Query("INSERT INTO memory_documents (session_id, tenant_id, contact_id, channel_id, "
                    "status, agent_category, outcome, started_at, ended_at, last_message_at, "
                    "message_count, sentiment_sum, sentiment_n, updated_at) VALUES ($1, $2, $3, "
                    "$4, 'ended', $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (tenant_id, "
                    "session_id) "
                    "DO NOTHING RETURNING seq",
                    {s.id, t, s.contact_id, OptText(s.channel_id), OptText(s.agent_category),
                     OptText(s.outcome), s.started_at, s.ended_at, last,
                     static_cast<int64_t>(s.messages.size()), sentiment_sum, sentiment_n, now}));
    if (!doc.empty()) {
      VENTROS_RETURN_IF_ERROR(impl_->RefreshDocument(*conn, doc.rows[0].GetInt(0), pending));
    }
  }
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  impl_->PublishVectors(pending);
  return Status::Ok();
}

size_t MemoryService::VectorCount(const crm::TenantId& tenant) const {
  return impl_->vectors.Size(tenant.str());
}

// ---------------------------------------------------------------- facts

const std::vector<std::string>& FactTypes() {
  static const std::vector<std::string> types = {
      "budget_constraint", "preference",     "goal",          "pain_point",   "objection",
      "constraint",        "technical_info", "personal_info", "business_info"};
  return types;
}

Fact FactFromRow(const core::DbRow& r) {
  Fact f;
  f.id = r.GetText(0);
  f.contact_id = r.GetText(1);
  f.type = r.GetText(2);
  f.subject = r.GetText(3);
  f.text = r.GetText(4);
  f.value = r.GetText(5);
  f.confidence = r.GetDouble(6);
  f.origin = r.GetText(7);
  f.source_session_id = r.GetOptText(8);
  f.valid_from = r.GetInt(9);
  f.valid_to = r.GetOptInt(10);
  f.created_at = r.GetInt(11);
  f.expired_at = r.GetOptInt(12);
  f.supersedes = r.GetOptText(13);
  return f;
}

Result<std::vector<Fact>> MemoryService::ListFacts(const crm::TenantId& tenant,
                                                   const crm::ContactId& contact,
                                                   std::optional<int64_t> as_of,
                                                   bool include_history) {
  VENTROS_RETURN_IF_ERROR(impl_->crm.GetContact(tenant, contact).status());
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  std::string sql = fmt::format(
      "SELECT {} FROM memory_facts WHERE tenant_id = $1 AND contact_id = $2", kFactColumns);
  std::vector<core::DbValue> params = {tenant.str(), contact.str()};
  if (as_of) {
    // What was believed at that time: true then (valid axis) and known then (system axis).
    sql +=
        " AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3) AND created_at <= $3 "
        "AND (expired_at IS NULL OR expired_at > $3)";
    params.emplace_back(*as_of);
  } else if (!include_history) {
    sql += " AND valid_to IS NULL AND expired_at IS NULL";
  }
  sql += " ORDER BY valid_from DESC, id DESC";
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn->Query(sql, params));
  std::vector<Fact> out;
  for (const auto& r : rows.rows) out.push_back(FactFromRow(r));
  return out;
}

Result<Fact> MemoryService::AddFact(const crm::TenantId& tenant, const crm::ContactId& contact,
                                    const FactInput& input) {
  const auto& types = FactTypes();
  if (std::find(types.begin(), types.end(), input.type) == types.end()) {
    std::string valid;
    for (const auto& t : types) valid += (valid.empty() ? "" : ", ") + t;
    return Status::InvalidArgument(
        fmt::format("unknown fact type '{}'; valid types: {}", input.type, valid));
  }
  if (input.text.empty() || input.text.size() > 2000) {
    return Status::InvalidArgument("field 'text' must have 1 to 2000 characters");
  }
  if (!(input.confidence >= 0 && input.confidence <= 1)) {
    return Status::InvalidArgument("field 'confidence' must be between 0 and 1");
  }
  VENTROS_RETURN_IF_ERROR(impl_->crm.GetContact(tenant, contact).status());
  int64_t now = impl_->clock.NowMillis();
  Fact f;
  f.id = core::NewUuidV7(impl_->clock);
  f.contact_id = contact.str();
  f.type = input.type;
  f.subject = input.subject;
  f.text = input.text;
  f.value = input.value;
  f.confidence = input.confidence;
  f.origin = "manual";
  f.source_session_id = input.source_session_id;
  f.valid_from = input.valid_from.value_or(now);
  f.created_at = now;
  f.supersedes = input.supersedes;
  {
    VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    if (input.supersedes) {
      // The superseded fact stays: expired as it was, and closed (true until this one began).
      VENTROS_ASSIGN_OR_RETURN(
          auto active,
          conn->Query("SELECT id FROM memory_facts WHERE tenant_id = $1 AND contact_id = $2 AND "
                      "id = $3 AND valid_to IS NULL AND expired_at IS NULL",
                      {tenant.str(), contact.str(), *input.supersedes}));
      if (active.empty()) {
        return Status::NotFound(fmt::format(
            "fact '{}' to supersede is not an active fact of this contact", *input.supersedes));
      }
      VENTROS_RETURN_IF_ERROR(impl_->CloseFact(*conn, *input.supersedes, f.valid_from));
    } else if (!input.subject.empty()) {
      // A fact about the same subject replaces what was believed, as the memory writer does.
      VENTROS_ASSIGN_OR_RETURN(
          auto active,
          conn->Query("SELECT id FROM memory_facts WHERE tenant_id = $1 AND contact_id = $2 AND "
                      "subject = $3 AND valid_to IS NULL AND expired_at IS NULL AND valid_from "
                      "<= $4 ORDER BY valid_from DESC",
                      {tenant.str(), contact.str(), input.subject, f.valid_from}));
      for (const auto& row : active.rows) {
        VENTROS_RETURN_IF_ERROR(impl_->CloseFact(*conn, row.GetText(0), f.valid_from));
        if (!f.supersedes) f.supersedes = row.GetText(0);
      }
    }
    VENTROS_RETURN_IF_ERROR(
        conn->Query(
                "INSERT INTO memory_facts (id, tenant_id, contact_id, type, subject, text, "
                "value, confidence, origin, source_session_id, valid_from, created_at, "
                "supersedes, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                "$12, $13, $12)",
                {f.id, tenant.str(), f.contact_id, f.type, f.subject, f.text, f.value, f.confidence,
                 f.origin,
                 f.source_session_id ? core::DbValue(*f.source_session_id) : core::DbValue(nullptr),
                 f.valid_from, now,
                 f.supersedes ? core::DbValue(*f.supersedes) : core::DbValue(nullptr)})
            .status());
    VENTROS_RETURN_IF_ERROR(tx.Commit());
  }
  impl_->Bump(tenant.str(), contact.str());
  return f;
}

}  // namespace ventros::memory
