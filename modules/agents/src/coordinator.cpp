// The coordinator's turn: route, build the specialist, search the memory, call the model, run
// tools through guardrails, check groundedness, commit the reply with the turn's state.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "internal.hpp"
#include "ventros/agents/offline_model.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/trace.hpp"

namespace ventros::agents {

using core::DbValue;
using Clock = std::chrono::steady_clock;

namespace {

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::optional<int64_t> IntArg(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  // Only values an int holds: a huge number must be refused, not wrapped into range.
  constexpr int64_t kMax = 1'000'000;
  if (v->is_int64() && std::abs(v->as_int64()) <= kMax) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(kMax)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  if (v->is_double() && std::abs(v->as_double()) <= static_cast<double>(kMax) &&
      v->as_double() == std::floor(v->as_double())) {
    return static_cast<int64_t>(v->as_double());
  }
  return std::nullopt;
}

std::string ToolJson(json::object o) { return json::serialize(o); }

std::string Refused(const std::string& error, bool escalate = false) {
  return ToolJson({{"ok", false}, {"error", error}, {"escalate", escalate}});
}

std::string FirstName(const std::string& name) {
  size_t sp = name.find(' ');
  return sp == std::string::npos ? name : name.substr(0, sp);
}

std::string SafeReply(const std::string& lang, bool handoff) {
  if (lang == "en") {
    return handoff ? "Thanks for your message! I'm passing your conversation to a member of our "
                     "team, who will answer you shortly."
                   : "Thanks for your message! Let me check this and get back to you.";
  }
  return handoff ? "Obrigado pela mensagem! Vou passar sua conversa para uma pessoa da nossa "
                   "equipe, que vai te responder em seguida."
                 : "Obrigado pela mensagem! Vou verificar e já te retorno.";
}

std::string FollowupText(const std::string& lang, const std::string& first_name) {
  if (lang == "en") {
    return first_name.empty()
               ? "Hi! Following up on our conversation: is now a good time?"
               : "Hi " + first_name + "! Following up on our conversation: is now a good time?";
  }
  return first_name.empty()
             ? "Olá! Passando para retomar nossa conversa: podemos continuar?"
             : "Olá, " + first_name + "! Passando para retomar nossa conversa: podemos continuar?";
}

bool ValidStage(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == ' ';
  });
}

struct TurnState {
  std::string category;
  double confidence = 0;
  std::string answered_id;
  int64_t turns = 0;
};

Result<std::optional<TurnState>> LoadState(core::Connection& conn, const std::string& tenant,
                                           const std::string& session) {
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn.Query("SELECT agent_category, confidence, answered_id, turns FROM "
                            "agent_session_state WHERE session_id = $1 AND tenant_id = $2",
                            {DbValue(session), DbValue(tenant)}));
  if (rows.empty()) return std::optional<TurnState>();
  TurnState s;
  s.category = rows.rows[0].GetText(0);
  s.confidence = rows.rows[0].GetDouble(1);
  s.answered_id = rows.rows[0].GetText(2);
  s.turns = rows.rows[0].GetInt(3);
  return std::optional<TurnState>(s);
}

}  // namespace

std::vector<llm::ToolSpec> ToolSpecsFor(const std::vector<std::string>& tools,
                                        const Constraints& limits) {
  const std::map<std::string, llm::ToolSpec> specs = {
      {"search_memory",
       {"search_memory",
        "Search the memory of this contact (past sessions, facts) for something specific.",
        R"j({"type":"object","properties":{"query":{"type":"string","description":"what to look for"}},"required":["query"]})j"}},
      {"create_retention_offer",
       {"create_retention_offer",
        fmt::format("Offer this customer a discount to stay. Limits are enforced: discount 1-{} "
                    "%, 1-{} months, at most {} offers per customer; beyond them the offer is "
                    "refused.",
                    limits.max_discount_percent, limits.max_offer_months,
                    limits.max_retention_attempts),
        R"j({"type":"object","properties":{"discount_percent":{"type":"integer","description":"discount in percent"},"duration_months":{"type":"integer","description":"how many months the discount lasts"},"reason":{"type":"string","description":"why this offer"}},"required":["discount_percent","duration_months","reason"]})j"}},
      {"move_pipeline_stage",
       {"move_pipeline_stage", "Move this contact to another pipeline stage.",
        R"j({"type":"object","properties":{"stage":{"type":"string","description":"the new stage, e.g. negotiation or qualified"}},"required":["stage"]})j"}},
      {"handoff_to_human",
       {"handoff_to_human",
        "Hand this conversation to a human agent; the AI stops answering it until it is handed "
        "back.",
        R"j({"type":"object","properties":{"reason":{"type":"string","description":"why a human should take over"}},"required":["reason"]})j"}},
      {"schedule_followup",
       {"schedule_followup", "Schedule a follow-up message to this contact later.",
        R"j({"type":"object","properties":{"delay_hours":{"type":"integer","description":"hours from now (1-720)"},"note":{"type":"string","description":"what to follow up on"}},"required":["delay_hours","note"]})j"}},
  };
  std::vector<llm::ToolSpec> out;
  for (const auto& t : tools) {
    auto it = specs.find(t);
    if (it != specs.end()) out.push_back(it->second);
  }
  return out;
}

const std::vector<std::string>& AgentsService::ConsumedEventTypes() {
  static const std::vector<std::string> types = {"message.received"};
  return types;
}

namespace {

// Everything one turn works with.
struct TurnWork {
  crm::TenantId tenant;
  crm::ContactId contact_id;
  crm::SessionId session_id;
  crm::Contact contact;
  Specialist specialist;
  std::string lang;
  int attempts_used = 0;
  std::optional<std::string> handoff_reason;
  Turn turn;
};

}  // namespace

Status AgentsService::HandleEvent(const core::Event& event) {
  if (event.type != "message.received") return Status::Ok();
  Impl& m = *impl_;
  const auto started = Clock::now();
  boost::system::error_code ec;
  json::value pv = json::parse(event.payload, ec);
  if (ec || !pv.is_object()) {
    return Status::InvalidArgument(fmt::format("event {}: payload is not a JSON object", event.id));
  }
  const json::object& p = pv.as_object();
  const auto* from_me = p.if_contains("from_me");
  std::string message_id = core::StringField(p, "id"), session = core::StringField(p, "session_id"),
              contact = core::StringField(p, "contact_id"), chat = core::StringField(p, "chat_id");
  if ((from_me && from_me->is_bool() && from_me->as_bool()) ||
      core::StringField(p, "source") != "contact" || session.empty() || contact.empty() ||
      message_id.empty() || chat.ends_with("@g.us")) {
    return Status::Ok();
  }
  const int64_t now = m.clock.NowMillis();
  auto message_at = core::ParseTimestamp(core::StringField(p, "message_at"));
  if (message_at && now - *message_at > m.options.max_backlog_age_ms) {
    if (m.metrics) {
      m.metrics
          ->GetCounter("ventros_agent_skipped_total", "Customer messages agents did not answer",
                       {{"reason", "too_old"}})
          .Inc();
    }
    return Status::Ok();
  }

  TurnWork w;
  w.tenant = crm::TenantId(event.tenant_id);
  w.contact_id = crm::ContactId(contact);
  w.session_id = crm::SessionId(session);
  auto s = m.crm.GetSession(w.tenant, w.session_id);
  if (!s.ok()) return s.status().code() == core::StatusCode::kNotFound ? Status::Ok() : s.status();
  // The session's contact now: a merge of two contacts moves sessions to the one kept.
  w.contact_id = s->contact_id;
  contact = s->contact_id.str();
  if (s->assigned_agent_type.value_or("ai") == "human") {
    // A person answers it: the message counts as answered, so a hand-back later answers only
    // what comes after it.
    VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(
        auto marked,
        conn->Query(
            "INSERT INTO agent_session_state (session_id, tenant_id, agent_category, "
            "confidence, agent_id, answered_at, answered_id, turns, updated_at) VALUES "
            "($1, $2, $3, 0, NULL, $4, $5, 0, $4) ON CONFLICT (session_id) DO UPDATE SET "
            "answered_id = CASE WHEN excluded.answered_id > agent_session_state.answered_id "
            "THEN excluded.answered_id ELSE agent_session_state.answered_id END, "
            "updated_at = excluded.updated_at",
            {DbValue(session), DbValue(event.tenant_id), DbValue(std::string(kFallbackCategory)),
             DbValue(now), DbValue(message_id)}));
    (void)marked;
    if (m.metrics) {
      m.metrics
          ->GetCounter("ventros_agent_skipped_total", "Customer messages agents did not answer",
                       {{"reason", "human_owns_session"}})
          .Inc();
    }
    return Status::Ok();
  }
  std::optional<TurnState> state;
  {
    VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(state, LoadState(*conn, event.tenant_id, session));
  }
  // UUIDv7 ids sort in arrival order: a message at or before the last one answered was answered
  // together with it.
  if (state && message_id <= state->answered_id) return Status::Ok();

  // The customer's messages not answered yet, this one included (and any that came after it).
  std::vector<crm::Message> pending;
  crm::Page page{.limit = 200, .cursor = state ? state->answered_id : ""};
  for (int pages = 0; pages < 10; ++pages) {
    VENTROS_ASSIGN_OR_RETURN(auto batch,
                             m.crm.ListMessages(w.tenant, w.session_id, std::nullopt, page));
    for (auto& msg : batch.items) {
      if (msg.direction == "in" && !msg.from_me && msg.source == "contact") {
        pending.push_back(std::move(msg));
      }
    }
    if (batch.next_cursor.empty()) break;
    page.cursor = batch.next_cursor;
  }
  if (pending.empty()) return Status::Ok();
  if (pending.size() > 10) pending.erase(pending.begin(), pending.end() - 10);
  Turn& t = w.turn;
  t.id = "turn-" + pending.back().id.str();
  t.tenant_id = event.tenant_id;
  t.session_id = session;
  t.contact_id = contact;
  t.trace_id = event.trace_id.empty() ? core::RandomHex(16) : event.trace_id;
  for (const auto& msg : pending) {
    t.message_ids.push_back(msg.id.str());
    std::string body = msg.body;
    if (body.empty() && msg.type != "text") body = "[" + msg.type + "]";
    if (body.empty()) continue;
    if (!t.input.empty()) t.input += "\n";
    t.input += body;
  }
  if (t.input.empty()) t.input = "[empty message]";
  w.lang = DetectLanguage(t.input);

  // The turn's trace (OpenInference): spans end on every return, a failed turn's included.
  const core::Tracer& tracer = m.tracer();
  core::Span root =
      tracer.StartTrace("agent.turn", core::SpanKind::kAgent, event.tenant_id, t.trace_id);
  root.Set("session.id", session).Set("user.id", contact).Set("input.value", t.input);
  root.Set("turn.id", t.id).Set("turn.messages", static_cast<int64_t>(pending.size()));

  // 1. Route.
  auto stage = Clock::now();
  core::Span route_span = tracer.StartChild(root, "route", core::SpanKind::kChain);
  VENTROS_ASSIGN_OR_RETURN(auto router, m.RouterFor(w.tenant));
  VENTROS_ASSIGN_OR_RETURN(Classification routed, router->Classify(t.input));
  t.category = routed.category;
  t.confidence = routed.confidence;
  t.routed_fallback = routed.fallback;
  // A follow-up message that routes nowhere in particular ("ok", "e aí?") stays with the
  // session's specialist.
  if (routed.fallback && state && state->category != kFallbackCategory &&
      FindTemplate(state->category)) {
    t.category = state->category;
    t.confidence = state->confidence;
  }
  t.timings_ms["route"] = MsSince(stage);
  route_span.Set("router.category", t.category)
      .Set("router.confidence", t.confidence)
      .Set("router.fallback", t.routed_fallback)
      .Set("output.value", t.category);
  route_span.End();

  // 2. The specialist: the tenant's agent for the category, else the template.
  VENTROS_ASSIGN_OR_RETURN(auto agent, m.registry.AgentFor(w.tenant, t.category));
  w.specialist = BuildSpecialist(*FindTemplate(t.category), agent);
  const Constraints& limits = w.specialist.tmpl.constraints;
  t.agent_id = w.specialist.agent_id;
  t.agent_name = w.specialist.name;
  root.Set("agent.name", t.agent_name).Set("agent.category", t.category);
  if (t.agent_id) root.Set("agent.id", *t.agent_id);
  VENTROS_ASSIGN_OR_RETURN(w.contact, m.crm.GetContact(w.tenant, w.contact_id));
  VENTROS_ASSIGN_OR_RETURN(auto offers, m.registry.ListOffers(w.tenant, w.contact_id));
  std::optional<crm::Offer> active_offer;
  for (const auto& o : offers) {
    if (o.kind == "retention_discount") ++w.attempts_used;
    if (o.status == "proposed" && now - o.created_at < 30LL * 24 * 3600 * 1000) active_offer = o;
  }

  // 3. Memory.
  stage = Clock::now();
  core::Span retrieve = tracer.StartChild(root, "search_memory", core::SpanKind::kRetriever);
  memory::SearchRequest sr;
  sr.tenant = w.tenant;
  sr.contact = w.contact_id;
  sr.query = t.input;
  sr.strategy = w.specialist.tmpl.strategy;
  sr.scope = memory::KnowledgeScope{
      .lookback_days = w.specialist.tmpl.scope.lookback_days,
      .include_agent_transfers = w.specialist.tmpl.scope.include_agent_transfers,
      .contact_only = w.specialist.tmpl.scope.contact_only};
  VENTROS_ASSIGN_OR_RETURN(memory::SearchResult found, m.memory.Search(sr));
  t.context = found.context;
  t.timings_ms["memory"] = MsSince(stage);
  if (retrieve.recording()) {
    retrieve.Set("input.value", t.input).Set("retrieval.strategy", found.strategy);
    double similarity = 0;
    for (size_t i = 0; i < found.hits.size(); ++i) {
      const auto& h = found.hits[i];
      const std::string prefix = fmt::format("retrieval.documents.{}.document.", i);
      retrieve.Set(prefix + "id", h.session_id)
          .Set(prefix + "content", (h.header + "\n" + h.summary).substr(0, 600))
          .Set(prefix + "score", h.rerank)
          .Set(prefix + "metadata",
               fmt::format(R"({{"fused":{:.6f},"similarity":{:.4f}}})", h.fused, h.similarity));
      similarity += h.similarity;
    }
    const size_t n = found.hits.size();
    retrieve.Set("retrieval.count", static_cast<int64_t>(n));
    if (n > 0) {
      retrieve.Set("retrieval.average_similarity", similarity / static_cast<double>(n));
      // Rerank gain: the mean similarity of the top 3 after the rerank minus the top 3 in the
      // fused order (how much closer to the query the rerank brought the first documents).
      std::vector<const memory::SearchHit*> fused;
      for (const auto& h : found.hits) fused.push_back(&h);
      std::stable_sort(fused.begin(), fused.end(),
                       [](const auto* a, const auto* b) { return a->fused > b->fused; });
      const size_t k = std::min<size_t>(3, n);
      double after = 0, before = 0;
      for (size_t i = 0; i < k; ++i) {
        after += found.hits[i].similarity;
        before += fused[i]->similarity;
      }
      retrieve.Set("retrieval.rerank_gain", (after - before) / static_cast<double>(k));
    }
    for (const auto& [stage_name, ms] : found.timings_ms) {
      retrieve.Set("retrieval.timing_ms." + stage_name, ms);
    }
    if (!found.warnings.empty()) retrieve.Set("retrieval.warnings", found.warnings.front());
    core::Span rerank = tracer.StartChild(retrieve, "rerank", core::SpanKind::kReranker);
    rerank.Set("reranker.top_k", static_cast<int64_t>(n));
    if (auto it = found.timings_ms.find("rerank"); it != found.timings_ms.end()) {
      rerank.Set("reranker.ms", it->second);
    }
  }
  retrieve.End();

  // 4. The prompt (contract in offline_model.hpp).
  std::string profile = "=== AGENT PROFILE ===\n";
  profile += fmt::format("agent: {}\ncategory: {}\ncontact_id: {}\n", w.specialist.name, t.category,
                         contact);
  profile += fmt::format("max_discount_percent: {}\nmax_offer_months: {}\n",
                         limits.max_discount_percent, limits.max_offer_months);
  profile += fmt::format("retention_attempts_left: {}\n",
                         std::max(0, limits.max_retention_attempts - w.attempts_used));
  const std::string stage_name = w.contact.pipeline_stage.value_or("");
  if ((stage_name.find("customer") != std::string::npos ||
       stage_name.find("client") != std::string::npos) &&
      w.contact.stage_entered_at) {
    profile += fmt::format("customer_days: {}\n",
                           std::max<int64_t>(0, (now - *w.contact.stage_entered_at) / 86400000));
  }
  const std::string active_offer_line =
      active_offer ? fmt::format("active_offer: {}% for {} months\n",
                                 active_offer->discount_percent, active_offer->duration_months)
                   : std::string("active_offer: none\n");
  profile += active_offer_line;
  // The profile's facts about the customer (not its limits) are evidence for the reply.
  std::string facts_line = active_offer_line;
  if (auto pos = profile.find("customer_days: "); pos != std::string::npos) {
    facts_line += profile.substr(pos, profile.find('\n', pos) - pos + 1);
  }
  profile +=
      fmt::format("escalate_high_severity: {}\n", limits.escalate_high_severity ? "true" : "false");
  llm::ChatRequest req;
  req.messages.push_back(
      llm::ChatMessage::System(w.specialist.tmpl.instruction + "\n\n" + profile));
  req.messages.push_back(llm::ChatMessage::System(t.context));
  req.messages.push_back(llm::ChatMessage::User(t.input));
  req.tools = ToolSpecsFor(w.specialist.tmpl.tools, limits);
  req.temperature = 0.2;
  req.max_tokens = 512;

  // 5. The model and its tools, bounded in steps and time.
  const auto deadline = started + std::chrono::milliseconds(m.options.turn_timeout_ms);
  double llm_ms = 0, tools_ms = 0;
  std::set<std::string> called;
  std::string reply;
  bool finished = false;
  for (int step = 0; step <= limits.max_tool_steps && Clock::now() < deadline; ++step) {
    auto call_started = Clock::now();
    core::Span llm_span = tracer.StartChild(root, "llm", core::SpanKind::kLlm);
    if (llm_span.recording()) {
      llm_span.Set("llm.model_name", m.model.name());
      for (size_t i = 0; i < req.messages.size(); ++i) {
        const std::string prefix = fmt::format("llm.input_messages.{}.message.", i);
        llm_span
            .Set(prefix + "role", req.messages[i].role)
            // Spans are written on every turn: the prompt's parts are kept short (the memory
            // context is in the retrieval span already).
            .Set(prefix + "content", req.messages[i].content.substr(0, 1500));
      }
    }
    auto answer = m.model.Complete(req);
    double ms = MsSince(call_started);
    if (!answer.ok()) llm_span.SetError(answer.status().ToString());
    if (answer.ok() && llm_span.recording()) {
      llm_span.Set("llm.model_name", answer->model.empty() ? m.model.name() : answer->model)
          .Set("llm.token_count.prompt", answer->usage.prompt_tokens)
          .Set("llm.token_count.completion", answer->usage.completion_tokens)
          .Set("llm.token_count.cached", answer->usage.cached_tokens)
          .Set("llm.token_count.prompt_details.cache_read", answer->usage.cached_tokens)
          .Set("llm.token_count.total", answer->usage.total_tokens)
          .Set("llm.cost_usd", CostOf(m.options.prices, m.model.name(), answer->usage))
          .Set("llm.output_messages.0.message.role", "assistant")
          .Set("llm.output_messages.0.message.content", answer->content)
          .Set("llm.finish_reason", answer->finish_reason)
          .Set("agent.name", w.specialist.name);
      for (size_t i = 0; i < answer->tool_calls.size(); ++i) {
        llm_span.Set(
            fmt::format("llm.output_messages.0.message.tool_calls.{}.tool_call.function.name", i),
            answer->tool_calls[i].name);
      }
    }
    llm_span.End();
    llm_ms += ms;
    if (m.llm_seconds) m.llm_seconds->Observe(ms / 1000);
    if (!answer.ok()) {
      const bool blocked = answer.status().code() == core::StatusCode::kInvalidArgument &&
                           answer.status().message().find("blocked") != std::string::npos;
      if (!blocked) {
        // Unavailable, a malformed answer, or a refused request (a wrong key or model: fixing
        // the configuration lets the waiting turns through): the event waits and is retried.
        m.logger->warn("agents: model {} failed for session {}: {}", m.model.name(), session,
                       answer.status().ToString());
        root.SetError("the model failed; the turn is retried: " + answer.status().ToString());
        return answer.status().WithContext("agent turn");
      }
      // Blocked by the provider's safety filters: the same request would be blocked again; a
      // human takes over.
      w.handoff_reason = "the model's answer was blocked: " + answer.status().message();
      finished = true;
      break;
    }
    ++t.llm_calls;
    t.model = answer->model.empty() ? m.model.name() : answer->model;
    t.usage.prompt_tokens += answer->usage.prompt_tokens;
    t.usage.completion_tokens += answer->usage.completion_tokens;
    t.usage.cached_tokens += answer->usage.cached_tokens;
    t.usage.total_tokens += answer->usage.total_tokens;
    t.cost_usd += CostOf(m.options.prices, m.model.name(), answer->usage);
    if (answer->tool_calls.empty() || step == limits.max_tool_steps) {
      reply = answer->content;
      finished = true;
      break;
    }
    req.messages.push_back(llm::ChatMessage::Assistant(answer->content, answer->tool_calls));
    auto tools_started = Clock::now();
    for (const auto& call : answer->tool_calls) {
      core::Span tool_span = tracer.StartChild(root, "tool." + call.name, core::SpanKind::kTool);
      tool_span.Set("tool.name", call.name).Set("tool.parameters", call.arguments_json);
      ToolRun run;
      run.name = call.name;
      run.arguments = call.arguments_json;
      json::object args;
      auto parsed = json::parse(call.arguments_json, ec);
      if (!ec && parsed.is_object()) args = parsed.as_object();
      const auto& allowed = w.specialist.tmpl.tools;
      if (std::find(allowed.begin(), allowed.end(), call.name) == allowed.end()) {
        run.result = Refused(fmt::format("tool '{}' is not available to this agent", call.name));
        run.verdicts.push_back("tool_allowed: refused");
      } else if (called.contains(call.name) && call.name != "search_memory") {
        run.result = Refused(fmt::format("tool '{}' was already called in this turn", call.name));
      } else if (call.name == "create_retention_offer") {
        auto discount = IntArg(args, "discount_percent");
        auto months = IntArg(args, "duration_months");
        if (!discount || !months) {
          run.result = Refused("discount_percent and duration_months must be integers");
          run.verdicts.push_back("offer_limits: refused: arguments are not integers");
        } else {
          Verdict v = CheckRetentionOffer(limits, static_cast<int>(*discount),
                                          static_cast<int>(*months), w.attempts_used);
          run.verdicts.push_back(v.passed ? v.guardrail + ": passed"
                                          : v.guardrail + ": refused: " + v.reason);
          if (!v.passed) {
            run.result = Refused(v.reason, v.escalate);
            // Escalation is decided here, not left to the model.
            if (v.escalate && !w.handoff_reason) w.handoff_reason = v.reason;
          } else {
            crm::OfferInput in;
            in.contact_id = w.contact_id;
            in.session_id = w.session_id;
            in.agent_id = t.agent_id;
            in.discount_percent = static_cast<int>(*discount);
            in.duration_months = static_cast<int>(*months);
            in.reason = core::StringField(args, "reason").substr(0, 1000);
            in.idempotency_key = t.id + ":offer";
            VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
            VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
            VENTROS_ASSIGN_OR_RETURN(crm::Offer offer, m.registry.CreateOffer(*conn, w.tenant, in));
            VENTROS_RETURN_IF_ERROR(tx.Commit());
            ++w.attempts_used;
            t.offer_id = offer.id.str();
            run.ok = true;
            run.result = ToolJson({{"ok", true},
                                   {"offer_id", offer.id.str()},
                                   {"discount_percent", offer.discount_percent},
                                   {"duration_months", offer.duration_months}});
          }
        }
      } else if (call.name == "handoff_to_human") {
        w.handoff_reason = core::StringField(args, "reason").substr(0, 500);
        if (w.handoff_reason->empty()) w.handoff_reason = "asked by the agent";
        run.ok = true;
        run.result = ToolJson({{"ok", true}, {"handoff", "a human will take over"}});
      } else if (call.name == "move_pipeline_stage") {
        std::string to = core::StringField(args, "stage");
        const bool customer_now = stage_name.find("customer") != std::string::npos ||
                                  stage_name.find("client") != std::string::npos;
        if (!ValidStage(to)) {
          run.result = Refused("stage must be 1..100 letters, digits, '_', '-' or spaces");
          run.verdicts.push_back("stage_name: refused");
        } else if (customer_now && to.find("customer") == std::string::npos &&
                   to.find("client") == std::string::npos) {
          // A customer is not moved back into the sales pipeline by an agent.
          run.result = Refused("the contact is a customer (" + stage_name +
                               "); an agent does not move it out of that stage");
          run.verdicts.push_back("stage_transition: refused");
        } else {
          crm::ContactInput in;
          in.pipeline_stage = to;
          VENTROS_ASSIGN_OR_RETURN(auto updated, m.crm.UpdateContact(w.tenant, w.contact_id, in));
          run.ok = true;
          run.result = ToolJson({{"ok", true},
                                 {"stage", to},
                                 {"previous_stage", stage_name.empty() ? json::value(nullptr)
                                                                       : json::value(stage_name)}});
          (void)updated;
        }
      } else if (call.name == "schedule_followup") {
        auto hours = IntArg(args, "delay_hours");
        if (!hours || *hours < 1 || *hours > 720) {
          run.result = Refused("delay_hours must be an integer 1..720");
          run.verdicts.push_back("followup_window: refused");
        } else {
          int64_t due = now + *hours * 3600000;
          std::string id = core::NewUuidV7(m.clock);
          VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
          VENTROS_ASSIGN_OR_RETURN(
              auto ins,
              conn->Query(
                  "INSERT INTO agent_followups (id, tenant_id, contact_id, session_id, agent_id, "
                  "due_at, note, text, status, idempotency_key, created_at) VALUES ($1, $2, $3, "
                  "$4, $5, $6, $7, $8, 'scheduled', $9, $10) ON CONFLICT DO NOTHING",
                  {DbValue(id), DbValue(event.tenant_id), DbValue(contact), DbValue(session),
                   t.agent_id ? DbValue(*t.agent_id) : DbValue(nullptr), DbValue(due),
                   DbValue(core::StringField(args, "note").substr(0, 500)),
                   DbValue(FollowupText(w.lang, FirstName(w.contact.name))),
                   DbValue(t.id + ":followup"), DbValue(now)}));
          (void)ins;
          run.ok = true;
          run.result = ToolJson(
              {{"ok", true}, {"delay_hours", *hours}, {"due_at", core::FormatTimestamp(due)}});
        }
      } else if (call.name == "search_memory") {
        memory::SearchRequest more = sr;
        more.query = core::StringField(args, "query").substr(0, 2000);
        if (more.query.empty()) more.query = t.input;
        VENTROS_ASSIGN_OR_RETURN(auto extra, m.memory.Search(more));
        run.ok = true;
        run.result = ToolJson({{"ok", true}, {"context", extra.context.substr(0, 6000)}});
      } else {
        run.result = Refused(fmt::format("unknown tool '{}'", call.name));
      }
      if (run.ok) called.insert(call.name);  // a refused call may be made again, corrected
      tool_span.Set("output.value", run.result).Set("tool.ok", run.ok);
      for (const auto& v : run.verdicts) {
        core::Span guard = tracer.StartChild(tool_span, "guardrail." + v.substr(0, v.find(':')),
                                             core::SpanKind::kGuardrail);
        guard.Set("guardrail.verdict", v)
            .Set("guardrail.passed", v.find(": passed") != std::string::npos);
      }
      if (!run.ok) tool_span.SetError(run.result);
      req.messages.push_back(llm::ChatMessage::ToolResult(call.id, call.name, run.result));
      t.tools.push_back(std::move(run));
    }
    tools_ms += MsSince(tools_started);
  }
  t.timings_ms["llm"] = llm_ms;
  t.timings_ms["tools"] = tools_ms;
  if (t.model.empty()) t.model = m.model.name();
  if (!finished) {
    w.handoff_reason = "the agent ran out of steps or time";
    reply.clear();
  }

  // 6. Groundedness: every number and offer in the reply must come from the evidence.
  core::Span ground = tracer.StartChild(root, "groundedness", core::SpanKind::kGuardrail);
  const std::string model_reply = reply;
  if (!reply.empty()) {
    // Evidence: what is known about the customer and what tools returned; not the instruction
    // or the limits (a limit is no offer). An offer must come from an offer: a successful
    // create_retention_offer of this turn or the customer's active offer.
    std::vector<std::string> evidence = {t.context, t.input, facts_line};
    for (const auto& run : t.tools) {
      if (run.ok) evidence.push_back(run.result);  // a refusal supports nothing
    }
    const bool can_offer = std::find(w.specialist.tmpl.tools.begin(), w.specialist.tmpl.tools.end(),
                                     "create_retention_offer") != w.specialist.tmpl.tools.end();
    std::vector<std::string> offer_evidence = {active_offer_line};
    for (const auto& run : t.tools) {
      if (run.ok && run.name == "create_retention_offer") offer_evidence.push_back(run.result);
    }
    Groundedness g = CheckGroundedness(reply, evidence);
    size_t supported = 0;
    for (auto& c : g.claims) {
      // An offer, and for an agent that can make offers any percentage, must come from an
      // offer (a price cut said in other words is still one).
      if (c.supported && (c.kind == "offer" || (can_offer && c.kind == "percent"))) {
        c.supported = CheckGroundedness(c.text, offer_evidence).grounded;
      }
      if (c.supported) {
        ++supported;
      } else {
        t.ungrounded_claims.push_back(c.kind + ": " + c.text);
      }
    }
    g.score = g.claims.empty()
                  ? 1.0
                  : static_cast<double>(supported) / static_cast<double>(g.claims.size());
    g.grounded = t.ungrounded_claims.empty();
    t.groundedness = g.score;
    if (!g.grounded) {
      t.reply_replaced = true;
      m.logger->warn("agents: ungrounded reply replaced in session {} ({} unsupported claims)",
                     session, t.ungrounded_claims.size());
      reply.clear();
      if (!w.handoff_reason) w.handoff_reason = "the agent's reply was not grounded";
    }
  }
  if (ground.recording()) {
    std::string unsupported;
    for (const auto& c : t.ungrounded_claims) unsupported += (unsupported.empty() ? "" : "; ") + c;
    ground.Set("input.value", model_reply)
        .Set("guardrail.groundedness", t.groundedness)
        .Set("guardrail.replaced", t.reply_replaced)
        .Set("guardrail.unsupported", unsupported)
        .Set("session.id", session)
        .Set("agent.name", w.specialist.name);
  }
  ground.End();
  if (reply.empty() && !w.handoff_reason) {
    // Nothing to say is no promise to come back: a person takes over.
    w.handoff_reason = "the agent had no reply";
  }
  if (reply.empty()) reply = SafeReply(w.lang, true);
  // PostgreSQL text and JSONB refuse NUL.
  reply.erase(std::remove(reply.begin(), reply.end(), '\0'), reply.end());
  t.reply = reply;

  // 7. Commit: re-check ownership, send, hand off, record.
  stage = Clock::now();
  core::Span publish = tracer.StartChild(root, "publish", core::SpanKind::kChain);
  VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  if (conn->engine() == core::DbEngine::kPostgres) {
    // Serializes with a hand-over to a person and with another delivery of this turn (SQLite's
    // write transaction already does).
    VENTROS_ASSIGN_OR_RETURN(
        auto locked,
        conn->Query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE", {DbValue(session)}));
    (void)locked;
  }
  VENTROS_ASSIGN_OR_RETURN(auto latest, LoadState(*conn, event.tenant_id, session));
  if (latest && pending.back().id.str() <= latest->answered_id) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(crm::Session current, m.crm.GetSession(*conn, w.tenant, w.session_id));
  const bool human_now = current.assigned_agent_type.value_or("ai") == "human";
  if (human_now) {
    t.status = "skipped_human";
    t.reply.clear();
  } else {
    crm::MessagingService::SendRequest out;
    out.contact = w.contact_id;
    out.channel = current.channel_id;
    out.text = reply;
    out.source = "bot";
    out.agent_id = t.agent_id.value_or("template:" + t.category);  // as the session's agent
    json::object meta{{"agent_id", t.agent_id ? json::value(*t.agent_id) : json::value(nullptr)},
                      {"agent_category", t.category},
                      {"confidence", t.confidence},
                      {"trace_id", t.trace_id},
                      {"turn_id", t.id}};
    if (t.offer_id) meta["offer_id"] = *t.offer_id;
    out.metadata = json::serialize(meta);
    VENTROS_ASSIGN_OR_RETURN(crm::Message sent, m.crm.RequestSend(*conn, w.tenant, out));
    t.reply_message_id = sent.id.str();
    t.status = "replied";
    const std::string agent_label = t.agent_id.value_or("template:" + t.category);
    if (!w.handoff_reason && current.status == "active" &&
        (current.assigned_agent_type != "ai" || current.assigned_agent_id != agent_label)) {
      // The session's agent is the specialist answering it (memory documents and the graph
      // record who handled a session).
      VENTROS_ASSIGN_OR_RETURN(auto assigned,
                               m.crm.AssignSession(*conn, w.tenant, w.session_id, "ai", agent_label,
                                                   "routed to " + t.category));
      (void)assigned;
    }
    if (w.handoff_reason) {
      // The session the reply went into (a new one when this one ended meanwhile).
      VENTROS_ASSIGN_OR_RETURN(
          auto assigned,
          m.crm.AssignSession(*conn, w.tenant, sent.session_id.value_or(w.session_id), "human",
                              std::nullopt, *w.handoff_reason));
      (void)assigned;
      t.status = "handoff";
      // Nothing scheduled by this turn goes out under the bot's name after a hand-off.
      VENTROS_ASSIGN_OR_RETURN(
          auto dropped,
          conn->Query("UPDATE agent_followups SET status = 'cancelled' WHERE tenant_id = $1 AND "
                      "idempotency_key = $2 AND status = 'scheduled'",
                      {DbValue(event.tenant_id), DbValue(t.id + ":followup")}));
      (void)dropped;
    }
  }
  t.created_at = now;
  t.timings_ms["commit"] = MsSince(stage);
  t.timings_ms["total"] = MsSince(started);
  VENTROS_ASSIGN_OR_RETURN(
      auto up,
      conn->Query("INSERT INTO agent_session_state (session_id, tenant_id, agent_category, "
                  "confidence, agent_id, answered_at, answered_id, turns, updated_at) VALUES ($1, "
                  "$2, $3, $4, $5, $6, $7, 1, $6) ON CONFLICT (session_id) DO UPDATE SET "
                  "agent_category = excluded.agent_category, confidence = excluded.confidence, "
                  "agent_id = excluded.agent_id, answered_at = excluded.answered_at, answered_id "
                  "= excluded.answered_id, turns = agent_session_state.turns + 1, updated_at = "
                  "excluded.updated_at",
                  {DbValue(session), DbValue(event.tenant_id), DbValue(t.category),
                   DbValue(t.confidence), t.agent_id ? DbValue(*t.agent_id) : DbValue(nullptr),
                   DbValue(now), DbValue(pending.back().id.str())}));
  (void)up;
  VENTROS_ASSIGN_OR_RETURN(
      auto rec,
      conn->Query(
          "INSERT INTO agent_turns (id, tenant_id, session_id, contact_id, trace_id, status, "
          "agent_category, confidence, agent_id, model, reply_message_id, offer_id, groundedness, "
          "prompt_tokens, completion_tokens, cached_tokens, cost_usd, detail, created_at) VALUES "
          "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) "
          "ON CONFLICT (id) DO NOTHING",
          {DbValue(t.id), DbValue(event.tenant_id), DbValue(session), DbValue(contact),
           DbValue(t.trace_id), DbValue(t.status), DbValue(t.category), DbValue(t.confidence),
           t.agent_id ? DbValue(*t.agent_id) : DbValue(nullptr), DbValue(t.model),
           t.reply_message_id ? DbValue(*t.reply_message_id) : DbValue(nullptr),
           t.offer_id ? DbValue(*t.offer_id) : DbValue(nullptr), DbValue(t.groundedness),
           DbValue(t.usage.prompt_tokens), DbValue(t.usage.completion_tokens),
           DbValue(t.usage.cached_tokens), DbValue(t.cost_usd), DbValue(TurnJson(t)),
           DbValue(now)}));
  (void)rec;
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (m.options.bus) m.options.bus->Notify();
  if (m.turn_seconds) m.turn_seconds->Observe(MsSince(started) / 1000);
  m.CountTurn(t);
  publish.Set("turn.status", t.status);
  if (t.reply_message_id) publish.Set("message.id", *t.reply_message_id);
  publish.End();
  root.Set("output.value", t.reply)
      .Set("turn.status", t.status)
      .Set("llm.model_name", t.model)
      .Set("llm.token_count.prompt", t.usage.prompt_tokens)
      .Set("llm.token_count.completion", t.usage.completion_tokens)
      .Set("llm.token_count.total", t.usage.total_tokens)
      .Set("llm.cost_usd", t.cost_usd)
      .Set("guardrail.groundedness", t.groundedness);
  return Status::Ok();
}

Result<int> AgentsService::SendDueFollowups() {
  Impl& m = *impl_;
  int64_t now = m.clock.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto due,
      conn->Query(
          "SELECT id, tenant_id, contact_id, agent_id, text, session_id FROM agent_followups "
          "WHERE status = 'scheduled' AND due_at <= $1 ORDER BY due_at LIMIT 100",
          {DbValue(now)}));
  int sent = 0;
  for (const auto& r : due.rows) {
    std::optional<Status> failed;
    {
      VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
      VENTROS_ASSIGN_OR_RETURN(
          auto claim, conn->Query("UPDATE agent_followups SET status = 'sent', sent_at = $1 WHERE "
                                  "id = $2 AND status = 'scheduled'",
                                  {DbValue(now), DbValue(r.GetText(0))}));
      if (claim.affected_rows == 0) continue;  // another instance sent it
      // Not when the customer wrote since it was scheduled (the conversation went on; the id is
      // a UUIDv7 of that moment), nor while a person owns the conversation.
      const crm::TenantId tenant(r.GetText(1));
      const crm::ContactId contact(r.GetText(2));
      VENTROS_ASSIGN_OR_RETURN(auto since,
                               m.crm.ListMessages(tenant, std::nullopt, contact,
                                                  crm::Page{.limit = 200, .cursor = r.GetText(0)}));
      bool obsolete = std::any_of(since.items.begin(), since.items.end(), [](const auto& msg) {
        return msg.direction == "in" && msg.source == "contact";
      });
      VENTROS_ASSIGN_OR_RETURN(auto active, m.crm.ListSessions(tenant, contact, "active", {}));
      for (const auto& sess : active.items) {
        obsolete = obsolete || sess.assigned_agent_type.value_or("ai") == "human";
      }
      if (auto origin = r.GetOptText(5)) {
        // Handed to a person, even if that session has ended since.
        auto sess = m.crm.GetSession(tenant, crm::SessionId(*origin));
        obsolete = obsolete || (sess.ok() && sess->assigned_agent_type.value_or("ai") == "human");
      }
      if (obsolete) {
        VENTROS_ASSIGN_OR_RETURN(
            auto cancelled,
            conn->Query("UPDATE agent_followups SET status = 'cancelled' WHERE id = $1",
                        {DbValue(r.GetText(0))}));
        (void)cancelled;
        VENTROS_RETURN_IF_ERROR(tx.Commit());
        continue;
      }
      crm::MessagingService::SendRequest out;
      out.contact = contact;
      out.text = r.GetText(4);
      out.source = "bot";
      out.agent_id = r.GetOptText(3);
      out.metadata = json::serialize(json::object{{"followup_id", r.GetText(0)}});
      auto msg = m.crm.RequestSend(*conn, tenant, out);
      if (msg.ok()) {
        VENTROS_RETURN_IF_ERROR(tx.Commit());
        ++sent;
      } else {
        failed = msg.status();  // rolled back when tx goes out of scope
      }
    }
    if (failed && failed->code() == core::StatusCode::kUnavailable) {
      // A busy database or pool: the claim rolled back, the next sweep tries again.
      m.logger->warn("agents: follow-up {} postponed: {}", r.GetText(0), failed->ToString());
      continue;
    }
    if (failed) {
      // A contact that can no longer be reached: the follow-up fails, the others go on.
      VENTROS_ASSIGN_OR_RETURN(
          auto marked, conn->Query("UPDATE agent_followups SET status = 'failed' WHERE id = $1",
                                   {DbValue(r.GetText(0))}));
      (void)marked;
      m.logger->warn("agents: follow-up {} failed: {}", r.GetText(0), failed->ToString());
    }
  }
  if (sent && m.options.bus) m.options.bus->Notify();
  return sent;
}

std::optional<Turn> TurnFromJson(const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  Turn t;
  t.id = core::StringField(o, "id");
  t.session_id = core::StringField(o, "session_id");
  t.contact_id = core::StringField(o, "contact_id");
  t.trace_id = core::StringField(o, "trace_id");
  t.status = core::StringField(o, "status");
  t.category = core::StringField(o, "agent_category");
  if (auto* c = o.if_contains("confidence"); c && c->is_number())
    t.confidence = c->to_number<double>();
  if (auto* f = o.if_contains("routed_fallback"); f && f->is_bool())
    t.routed_fallback = f->as_bool();
  if (auto a = core::StringField(o, "agent_id"); !a.empty()) t.agent_id = a;
  t.agent_name = core::StringField(o, "agent_name");
  t.model = core::StringField(o, "model");
  if (auto* ids = o.if_contains("message_ids"); ids && ids->is_array()) {
    for (const auto& id : ids->as_array()) {
      if (id.is_string()) t.message_ids.emplace_back(id.as_string());
    }
  }
  t.input = core::StringField(o, "input");
  t.context = core::StringField(o, "context");
  if (auto* tools = o.if_contains("tool_calls"); tools && tools->is_array()) {
    for (const auto& x : tools->as_array()) {
      if (!x.is_object()) continue;
      const auto& xo = x.as_object();
      ToolRun r;
      r.name = core::StringField(xo, "name");
      if (auto* a = xo.if_contains("arguments")) r.arguments = json::serialize(*a);
      if (auto* res = xo.if_contains("result")) r.result = json::serialize(*res);
      if (auto* ok = xo.if_contains("ok"); ok && ok->is_bool()) r.ok = ok->as_bool();
      if (auto* vs = xo.if_contains("verdicts"); vs && vs->is_array()) {
        for (const auto& s : vs->as_array()) {
          if (s.is_string()) r.verdicts.emplace_back(s.as_string());
        }
      }
      t.tools.push_back(std::move(r));
    }
  }
  t.reply = core::StringField(o, "reply");
  if (auto r = core::StringField(o, "reply_message_id"); !r.empty()) t.reply_message_id = r;
  if (auto r = core::StringField(o, "offer_id"); !r.empty()) t.offer_id = r;
  if (auto* g = o.if_contains("groundedness"); g && g->is_object()) {
    const auto& go = g->as_object();
    if (auto* sc = go.if_contains("score"); sc && sc->is_number()) {
      t.groundedness = sc->to_number<double>();
    }
    if (auto* cs = go.if_contains("unsupported_claims"); cs && cs->is_array()) {
      for (const auto& c : cs->as_array()) {
        if (c.is_string()) t.ungrounded_claims.emplace_back(c.as_string());
      }
    }
    if (auto* rr = go.if_contains("reply_replaced"); rr && rr->is_bool()) {
      t.reply_replaced = rr->as_bool();
    }
  }
  if (auto* u = o.if_contains("usage"); u && u->is_object()) {
    const auto& uo = u->as_object();
    auto num = [&](const char* k) -> int64_t {
      auto* x = uo.if_contains(k);
      return x && x->is_int64() ? x->as_int64() : 0;
    };
    t.usage.prompt_tokens = num("prompt_tokens");
    t.usage.completion_tokens = num("completion_tokens");
    t.usage.cached_tokens = num("cached_tokens");
    t.usage.total_tokens = num("total_tokens");
    t.llm_calls = static_cast<int>(num("llm_calls"));
    if (auto* c = uo.if_contains("cost_usd"); c && c->is_number())
      t.cost_usd = c->to_number<double>();
  }
  if (auto* tm = o.if_contains("timings_ms"); tm && tm->is_object()) {
    for (const auto& [k, val] : tm->as_object()) {
      if (val.is_number()) t.timings_ms[std::string(k)] = val.to_number<double>();
    }
  }
  if (auto at = core::ParseTimestamp(core::StringField(o, "created_at"))) t.created_at = *at;
  return t;
}

}  // namespace ventros::agents
