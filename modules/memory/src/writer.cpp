// The memory writer: turns what customers say into memory facts, and keeps them true over time.
//
// A fact is identified by its contact and subject ("budget", "objection:price"). Applying a new
// one, inside the indexer's transaction:
// - the same source (message) again: nothing changes (memory_fact_evidence remembers sources);
// - a retraction ("o preço não é mais problema"): the active facts of the subject are closed
//   (valid_to = when it was said, expired_at = now);
// - the same value as the active fact: its confidence grows (noisy-or) and mentions count up;
// - a different value: the active fact is closed at the new fact's valid_from and the new one
//   supersedes it; a statement older than the active fact (a replayed history) is stored closed,
//   true until the active one began.
// Nothing is ever deleted: history stays queryable with as_of.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cmath>

#include "internal.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/trace.hpp"
#include "ventros/memory/fact_extractor.hpp"

namespace ventros::memory {

namespace json = boost::json;

namespace {

// JSON text in a canonical form (keys sorted) so equal values compare equal.
std::string Canonical(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return text;
  std::function<json::value(const json::value&)> sort = [&](const json::value& in) -> json::value {
    if (in.is_object()) {
      std::vector<std::pair<std::string, json::value>> items;
      for (const auto& [k, val] : in.as_object()) items.emplace_back(std::string(k), sort(val));
      std::sort(items.begin(), items.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      json::object out;
      for (auto& [k, val] : items) out[k] = std::move(val);
      return out;
    }
    if (in.is_array()) {
      json::array out;
      for (const auto& e : in.as_array()) out.push_back(sort(e));
      return out;
    }
    return in;
  };
  return json::serialize(sort(v));
}

}  // namespace

Result<bool> MemoryService::Impl::ApplyFact(core::Connection& conn, const std::string& tenant,
                                            const std::string& contact,
                                            const std::optional<std::string>& session,
                                            const std::string& source_key,
                                            const ExtractedFact& fact, int64_t at) {
  int64_t now = clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto fresh,
      conn.Query("INSERT INTO memory_fact_evidence (tenant_id, contact_id, subject, source_key, "
                 "created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, contact_id, "
                 "subject, source_key) DO NOTHING RETURNING created_at",
                 {tenant, contact, fact.subject, source_key, now}));
  if (fresh.empty()) return false;  // learned from this source before

  VENTROS_ASSIGN_OR_RETURN(
      auto active,
      conn.Query("SELECT id, value, confidence, valid_from FROM memory_facts WHERE tenant_id = $1 "
                 "AND contact_id = $2 AND subject = $3 AND valid_to IS NULL AND expired_at IS "
                 "NULL ORDER BY valid_from DESC",
                 {tenant, contact, fact.subject}));
  auto timeline = [&](const std::string& category, const std::string& summary) {
    return crm.AddContactEvent(
        conn, crm::TenantId(tenant), crm::ContactId(contact), category, summary,
        json::serialize(json::object{
            {"type", fact.type},
            {"subject", fact.subject},
            {"source_session_id", session ? json::value(*session) : json::value(nullptr)}}));
  };

  if (fact.retraction) {
    for (const auto& row : active.rows) {
      if (row.GetInt(3) > at) continue;  // an older retraction cannot close a newer fact
      VENTROS_RETURN_IF_ERROR(CloseFact(conn, row.GetText(0), at));
      VENTROS_RETURN_IF_ERROR(timeline("fact_withdrawn", "No longer: " + fact.text));
    }
    return true;
  }

  std::string value = Canonical(fact.value_json.empty() ? "{}" : fact.value_json);
  for (const auto& row : active.rows) {
    if (Canonical(row.GetText(1)) != value) continue;
    // Said again: more sure, not another row.
    double c = 1 - (1 - row.GetDouble(2)) * (1 - std::clamp(fact.confidence, 0.0, 1.0));
    VENTROS_RETURN_IF_ERROR(
        conn.Query("UPDATE memory_facts SET confidence = $2, mentions = mentions + 1, updated_at "
                   "= $3 WHERE id = $1",
                   {row.GetText(0), c, now})
            .status());
    VENTROS_RETURN_IF_ERROR(
        conn.Query("UPDATE memory_fact_evidence SET fact_id = $5 WHERE tenant_id = $1 AND "
                   "contact_id = $2 AND subject = $3 AND source_key = $4",
                   {tenant, contact, fact.subject, source_key, row.GetText(0)})
            .status());
    return true;
  }

  std::string id = core::NewUuidV7(clock);
  std::optional<std::string> supersedes;
  std::optional<int64_t> valid_to;
  if (!active.empty() && active.rows[0].GetInt(3) > at) {
    // Older than what we believe now (a replay): it was true until the current fact began.
    valid_to = active.rows[0].GetInt(3);
  } else {
    for (const auto& row : active.rows) {
      VENTROS_RETURN_IF_ERROR(CloseFact(conn, row.GetText(0), at));
      if (!supersedes) supersedes = row.GetText(0);
    }
  }
  VENTROS_RETURN_IF_ERROR(
      conn.Query("INSERT INTO memory_facts (id, tenant_id, contact_id, type, subject, text, value, "
                 "confidence, origin, source_session_id, valid_from, valid_to, created_at, "
                 "supersedes, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'extracted', "
                 "$9, $10, $11, $12, $13, $12)",
                 {id, tenant, contact, fact.type, fact.subject, fact.text, value,
                  std::clamp(fact.confidence, 0.0, 1.0),
                  session ? core::DbValue(*session) : core::DbValue(nullptr), at,
                  valid_to ? core::DbValue(*valid_to) : core::DbValue(nullptr), now,
                  supersedes ? core::DbValue(*supersedes) : core::DbValue(nullptr)})
          .status());
  VENTROS_RETURN_IF_ERROR(
      conn.Query("UPDATE memory_fact_evidence SET fact_id = $5 WHERE tenant_id = $1 AND "
                 "contact_id = $2 AND subject = $3 AND source_key = $4",
                 {tenant, contact, fact.subject, source_key, id})
          .status());
  if (!valid_to) {
    VENTROS_RETURN_IF_ERROR(
        timeline(supersedes ? "fact_updated" : "fact_learned", fact.type + ": " + fact.text));
  }
  return true;
}

Status MemoryService::Impl::CloseFact(core::Connection& conn, const std::string& fact_id,
                                      int64_t valid_to) {
  int64_t now = clock.NowMillis();
  VENTROS_RETURN_IF_ERROR(
      conn.Query("INSERT INTO memory_facts (id, tenant_id, contact_id, type, subject, text, value, "
                 "confidence, origin, source_session_id, valid_from, valid_to, created_at, "
                 "supersedes, mentions, updated_at) SELECT $2, tenant_id, contact_id, type, "
                 "subject, text, value, confidence, origin, source_session_id, valid_from, $3, $4, "
                 "id, mentions, $4 FROM memory_facts WHERE id = $1 AND valid_from < $3",
                 {fact_id, core::NewUuidV7(clock), valid_to, now})
          .status());
  return conn
      .Query("UPDATE memory_facts SET expired_at = $2, updated_at = $2 WHERE id = $1",
             {fact_id, now})
      .status();
}

Status MemoryService::Impl::LearnFromMessage(core::Connection& conn, const std::string& tenant,
                                             const std::string& contact,
                                             const std::optional<std::string>& session,
                                             const std::string& message_id, const std::string& text,
                                             int64_t at) {
  for (const auto& fact : ExtractFacts(text)) {
    VENTROS_RETURN_IF_ERROR(
        ApplyFact(conn, tenant, contact, session, "message:" + message_id, fact, at).status());
  }
  return Status::Ok();
}

Result<int64_t> MemoryService::Rebuild(std::optional<crm::TenantId> tenant,
                                       std::optional<int64_t> since,
                                       const std::function<void(int64_t, int64_t)>& progress) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  std::string where = "from_me = 0";
  std::vector<core::DbValue> params;
  if (tenant) {
    params.emplace_back(tenant->str());
    where += fmt::format(" AND tenant_id = ${}", params.size());
  }
  if (since) {
    params.emplace_back(*since);
    where += fmt::format(" AND message_at >= ${}", params.size());
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto count, conn->Query("SELECT COUNT(*) FROM memory_messages WHERE " + where, params));
  int64_t total = count.rows[0].GetInt(0), done = 0, last_seq = 0, learned = 0;
  if (progress) progress(0, total);
  std::vector<std::string> touched;
  while (true) {
    std::vector<core::DbValue> page = params;
    page.emplace_back(last_seq);
    // In the order things were said, so later statements supersede earlier ones.
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn->Query(fmt::format("SELECT seq, id, tenant_id, contact_id, session_id, "
                                           "body, message_at FROM memory_messages WHERE {} AND "
                                           "seq > ${} ORDER BY seq LIMIT 500",
                                           where, page.size()),
                               page));
    if (rows.empty()) break;
    {
      VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
      for (const auto& r : rows.rows) {
        last_seq = r.GetInt(0);
        for (const auto& fact : ExtractFacts(r.GetText(5))) {
          VENTROS_ASSIGN_OR_RETURN(
              bool applied, impl_->ApplyFact(*conn, r.GetText(2), r.GetText(3), r.GetOptText(4),
                                             "message:" + r.GetText(1), fact, r.GetInt(6)));
          learned += applied;
        }
        touched.push_back(r.GetText(2) + "|" + r.GetText(3));
      }
      VENTROS_RETURN_IF_ERROR(tx.Commit());
    }
    done += static_cast<int64_t>(rows.rows.size());
    if (progress) progress(done, total);
  }
  std::lock_guard lock(impl_->search_mu);
  for (const auto& key : touched) impl_->BumpLocked(key);
  return learned;
}

}  // namespace ventros::memory

// ---------------------------------------------------------------- with a language model

namespace ventros::memory {

namespace {

constexpr const char* kWriterInstruction =
    "You read one customer conversation of a CRM (WhatsApp) and answer ONE JSON object, nothing "
    "else: {\"summary\": string (at most 3 sentences, in the conversation's language: what the "
    "customer wanted, what was offered or done, how it ended), \"facts\": [{\"type\": one of "
    "budget_constraint, preference, goal, pain_point, objection, constraint, technical_info, "
    "personal_info, business_info; \"subject\": a short stable key such as \"budget\", "
    "\"objection:price\", \"objection:competitor\", \"pain_point:roi\", \"preference:channel\", "
    "\"technical_info:error:500\"; \"text\": the fact in one short sentence; \"value\": a JSON "
    "object with the structured value, e.g. {\"amount\": 5000, \"currency\": \"BRL\", "
    "\"period\": \"month\"}; \"confidence\": 0 to 1; \"retraction\": true when the customer "
    "withdraws something said before}]}. Only facts the CUSTOMER states about themselves or "
    "their company; never the agent's offers.";

}  // namespace

Result<LlmWriting> ParseWriterAnswer(std::string_view text) {
  // Models wrap JSON in ``` fences now and then.
  std::string body(text);
  if (auto open = body.find('{'); open != std::string::npos) {
    auto close = body.rfind('}');
    if (close != std::string::npos && close > open) body = body.substr(open, close - open + 1);
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument("the answer is not a JSON object");
  }
  const json::object& o = v.as_object();
  LlmWriting out;
  if (auto* s = o.if_contains("summary"); s && s->is_string()) {
    out.summary = ClipUtf8(s->as_string(), 1200);
  }
  auto* facts = o.if_contains("facts");
  if (facts && !facts->is_array()) return Status::InvalidArgument("'facts' is not an array");
  if (!facts) return out;
  const auto& types = FactTypes();
  for (const auto& item : facts->as_array()) {
    // Partial answers: a malformed fact is dropped, the others kept.
    if (!item.is_object()) {
      ++out.dropped;
      continue;
    }
    const json::object& f = item.as_object();
    ExtractedFact fact;
    auto str = [&](std::string_view key) {
      auto* x = f.if_contains(key);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    fact.type = str("type");
    fact.subject = str("subject");
    fact.text = ClipUtf8(str("text"), 500);
    if (std::find(types.begin(), types.end(), fact.type) == types.end() || fact.text.empty()) {
      ++out.dropped;
      continue;
    }
    if (fact.subject.empty()) fact.subject = fact.type;
    fact.subject = ClipUtf8(fact.subject, 100);
    auto* value = f.if_contains("value");
    fact.value_json = value && value->is_object() ? json::serialize(*value) : "{}";
    auto* confidence = f.if_contains("confidence");
    fact.confidence = confidence && confidence->is_number()
                          ? std::clamp(confidence->to_number<double>(), 0.0, 1.0)
                          : 0.7;
    auto* retraction = f.if_contains("retraction");
    fact.retraction = retraction && retraction->is_bool() && retraction->as_bool();
    out.facts.push_back(std::move(fact));
  }
  return out;
}

Status MemoryService::HandleEndedSessionWithModel(const core::Event& event) {
  if (!impl_->chat || event.type != "session.ended") return Status::Ok();
  boost::system::error_code ec;
  json::value payload = json::parse(event.payload, ec);
  if (ec || !payload.is_object()) {
    return Status::InvalidArgument(fmt::format("event {}: payload is not a JSON object", event.id));
  }
  const json::object& p = payload.as_object();
  auto* id = p.if_contains("id");
  auto* contact = p.if_contains("contact_id");
  if (!id || !id->is_string() || !contact || !contact->is_string()) {
    return Status::InvalidArgument(
        fmt::format("event {}: session without id or contact", event.id));
  }
  const std::string tenant = event.tenant_id, session(id->as_string());
  // The transcript from the CRM (authoritative, committed before session.ended was written).
  std::string transcript;
  crm::Page page{200, ""};
  VENTROS_ASSIGN_OR_RETURN(
      auto messages,
      impl_->crm.ListMessages(crm::TenantId(tenant), crm::SessionId(session), std::nullopt, page));
  for (const auto& m : messages.items) {
    if (m.body.empty()) continue;
    transcript += fmt::format("[{}] {}: {}\n", FormatMinute(m.message_at),
                              m.from_me ? "Agent" : "Contact", m.body);
    if (transcript.size() > 24000) break;
  }
  if (transcript.empty()) return Status::Ok();

  llm::ChatRequest request;
  request.messages = {llm::ChatMessage::System(kWriterInstruction),
                      llm::ChatMessage::User(transcript)};
  request.json_output = true;
  request.temperature = 0;
  // The memory update by the model is a trace: a CHAIN root and an LLM span per call (its tokens
  // count in the usage of the agent "memory.writer").
  core::Span root;
  if (impl_->tracer) {
    root = impl_->tracer->StartTrace("memory.write", core::SpanKind::kChain, tenant);
    root.Set("session.id", session).Set("agent.name", "memory.writer");
  }
  auto call = [&]() -> Result<llm::ChatResponse> {
    core::Span span;
    if (impl_->tracer) {
      span = impl_->tracer->StartChild(root, "llm", core::SpanKind::kLlm);
      span.Set("llm.model_name", impl_->chat->name()).Set("agent.name", "memory.writer");
    }
    auto r = impl_->chat->Complete(request);
    if (!r.ok()) {
      span.SetError(r.status().ToString());
    } else {
      span.Set("llm.token_count.prompt", r->usage.prompt_tokens)
          .Set("llm.token_count.completion", r->usage.completion_tokens)
          .Set("llm.token_count.cached", r->usage.cached_tokens)
          .Set("llm.token_count.total", r->usage.total_tokens);
    }
    return r;
  };
  VENTROS_ASSIGN_OR_RETURN(auto answer, call());
  auto parsed = ParseWriterAnswer(answer.content);
  if (!parsed.ok()) {
    // Once more, saying what was wrong.
    request.messages.push_back(llm::ChatMessage::Assistant(answer.content));
    request.messages.push_back(
        llm::ChatMessage::User("That was not valid: " + parsed.status().message() +
                               ". Answer only the JSON object described, nothing else."));
    VENTROS_ASSIGN_OR_RETURN(answer, call());
    parsed = ParseWriterAnswer(answer.content);
    if (!parsed.ok()) {
      return Status::Unavailable(fmt::format("the language model gave no valid JSON twice ({})",
                                             parsed.status().message()));
    }
  }
  if (parsed->dropped > 0) {
    impl_->logger->warn("memory writer: {} malformed fact(s) dropped from the model's answer",
                        parsed->dropped);
  }

  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  std::optional<int64_t> doc;
  {
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn->Query("SELECT seq, COALESCE(ended_at, last_message_at, started_at) FROM "
                               "memory_documents WHERE tenant_id = $1 AND session_id = $2",
                               {tenant, session}));
    if (rows.empty()) {
      // The indexer has not seen the session yet: later.
      return Status::Unavailable("the session is not in the memory yet");
    }
    doc = rows.rows[0].GetInt(0);
    int64_t at = rows.rows[0].GetInt(1);
    if (!parsed->summary.empty()) {
      VENTROS_RETURN_IF_ERROR(
          conn->Query("UPDATE memory_documents SET llm_summary = $2 WHERE seq = $1",
                      {*doc, parsed->summary})
              .status());
    }
    for (const auto& fact : parsed->facts) {
      VENTROS_RETURN_IF_ERROR(impl_
                                  ->ApplyFact(*conn, tenant, std::string(contact->as_string()),
                                              session, "session:" + session + ":model", fact, at)
                                  .status());
    }
    VENTROS_RETURN_IF_ERROR(tx.Commit());
  }
  impl_->Bump(tenant, std::string(contact->as_string()));
  // The document again, now with the model's summary (embedded outside the transaction).
  VENTROS_ASSIGN_OR_RETURN(auto draft, impl_->DraftDocument(*conn, *doc));
  if (!draft) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(
      auto vectors,
      impl_->cache.Embed(tenant, std::span(&draft->embed_text, 1), llm::EmbedTask::kDocument));
  if (vectors.size() != 1) return Status::Internal("embedder returned no vector");
  std::vector<PendingVector> pending;
  {
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_RETURN_IF_ERROR(impl_->WriteDocument(*conn, *draft, &vectors[0], pending));
    VENTROS_RETURN_IF_ERROR(tx.Commit());
  }
  impl_->PublishVectors(pending);
  return Status::Ok();
}

}  // namespace ventros::memory
