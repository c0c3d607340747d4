// Jobs that workflows run as activities: an outreach message, a BANT qualification, a retention
// risk check. Outreach and qualification send the model a task request (offline_model.hpp): the
// profile with `task: ...`, the memory context, and a user message stating the task (Gemini and
// OpenAI-compatible servers need a user turn; the offline model does not read it).

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "internal.hpp"
#include "ventros/agents/offline_model.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/trace.hpp"

namespace ventros::agents {

namespace {

constexpr size_t kMaxKeyBytes = 200;
constexpr int kMessagePage = 200;
constexpr size_t kLanguageMessages = 10;  // the contact's latest messages read for the language
constexpr size_t kMaxQueryBytes = 2000;
constexpr size_t kMaxOutreachBytes = 1500;  // longer: not the short message asked for
constexpr size_t kMaxReasonBytes = 1000;
constexpr int kMaxScore = 100;
constexpr double kNegativeSentiment = -0.2;
constexpr int64_t kSilentDays = 14;
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
constexpr int kMaxObjectionReasons = 3;
constexpr std::string_view kQualifyCategory = "sales_prospecting";

std::string_view Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// At most `n` bytes, cut on a code point boundary.
std::string Clip(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

std::string FirstName(const std::string& name) {
  std::string_view n = Trim(name);
  return std::string(n.substr(0, n.find(' ')));
}

// What the outreach sends when the model's text cannot be used (ungrounded, an offer, blocked,
// too long, empty).
std::string SafeOutreach(const std::string& lang, const std::string& purpose,
                         const std::string& first_name) {
  const bool en = lang == "en";
  std::string out =
      first_name.empty() ? (en ? "Hi! " : "Olá! ") : (en ? "Hi, " : "Olá, ") + first_name + "! ";
  if (purpose == "retention") {
    return out + (en ? "How are you? Just checking in on how your experience with us has been. "
                       "Is there anything I can do for you?"
                     : "Tudo bem? Passando para saber como está sua experiência com a gente. Tem "
                       "algo que eu possa fazer por você?");
  }
  return out + (en ? "How are you? Just checking in to see if I can help. What are you looking "
                     "for today?"
                   : "Tudo bem? Passando para saber se posso te ajudar. O que você está "
                     "procurando hoje?");
}

std::string OutreachTask(const std::string& purpose) {
  return fmt::format(
      "TASK: write one short WhatsApp message (at most three sentences) to this contact, who {}. "
      "Write in the contact's language (the language of their recent messages; Portuguese when "
      "there are none). Greet them by first name, refer to at most one thing the memory knows "
      "about them (a goal, a pain point or their budget, in the words of the fact), and end with "
      "a question. Make no offer or discount and state no number that is not in the context. "
      "Answer with the message text only.",
      purpose == "retention" ? "is a customer at risk of leaving"
                             : "is a lead that has not engaged yet");
}

constexpr std::string_view kQualifyTask =
    "TASK: qualify this lead with BANT from what the memory knows about them. budget: a budget is "
    "known (a budget_constraint fact that states one); authority: the contact's role or the "
    "decision maker is known (personal_info or business_info); need: a pain point, goal or "
    "preference is known; timeline: a deadline or timing is known (constraint). score: 25 per "
    "element known. is_qualified: score >= 50 and a budget is known. Answer with a JSON object "
    "only: {\"is_qualified\": bool, \"score\": integer 0-100, \"budget\": bool, \"authority\": "
    "bool, \"need\": bool, \"timeline\": bool, \"reason\": string (one sentence naming the facts "
    "used)}.";

// The AGENT PROFILE of a task request (offline_model.hpp).
std::string TaskProfile(const Specialist& s, std::string_view category,
                        const crm::ContactId& contact, std::string_view task,
                        std::string_view purpose) {
  std::string p = "=== AGENT PROFILE ===\n";
  p += fmt::format("agent: {}\ncategory: {}\ncontact_id: {}\ntask: {}\n", s.name, category,
                   contact.str(), task);
  if (!purpose.empty()) p += fmt::format("purpose: {}\n", purpose);
  return p;
}

memory::SearchRequest SearchFor(const crm::TenantId& tenant, const crm::ContactId& contact,
                                const Specialist& s, std::string query) {
  memory::SearchRequest sr;
  sr.tenant = tenant;
  sr.contact = contact;
  sr.query = std::move(query);
  sr.strategy = s.tmpl.strategy;
  sr.scope = memory::KnowledgeScope{.lookback_days = s.tmpl.scope.lookback_days,
                                    .include_agent_transfers = s.tmpl.scope.include_agent_transfers,
                                    .contact_only = s.tmpl.scope.contact_only};
  return sr;
}

bool Blocked(const Status& s) {
  return s.code() == core::StatusCode::kInvalidArgument &&
         s.message().find("blocked") != std::string::npos;
}

// What the contact's messages tell an outreach: an earlier one sent with the key, and the
// contact's own latest messages (language, search query).
struct History {
  std::optional<std::string> sent_id;
  std::vector<std::string> inbound;  // the contact's latest messages, oldest first
};

Result<History> ReadHistory(crm::MessagingService& crm, const crm::TenantId& tenant,
                            const crm::ContactId& contact, const std::string& key) {
  History h;
  crm::Page page{.limit = kMessagePage};
  while (true) {
    VENTROS_ASSIGN_OR_RETURN(auto batch, crm.ListMessages(tenant, std::nullopt, contact, page));
    for (const auto& msg : batch.items) {
      if (msg.direction == "out") {
        if (h.sent_id || msg.metadata.find("\"idempotency_key\"") == std::string::npos) continue;
        boost::system::error_code ec;
        json::value v = json::parse(msg.metadata, ec);
        if (ec || !v.is_object()) continue;
        const json::value* k = v.as_object().if_contains("idempotency_key");
        if (k && k->is_string() && k->as_string() == key) h.sent_id = msg.id.str();
      } else if (msg.source == "contact" && !msg.from_me && !msg.body.empty()) {
        h.inbound.push_back(msg.body);
        if (h.inbound.size() > kLanguageMessages) h.inbound.erase(h.inbound.begin());
      }
    }
    if (batch.next_cursor.empty()) break;
    page.cursor = batch.next_cursor;
  }
  return h;
}

void CountUsage(core::MetricsRegistry* metrics, const std::map<std::string, ModelPrice>& prices,
                const std::string& model, const llm::Usage& usage) {
  if (!metrics) return;
  auto tokens = [&](const char* kind) -> core::Counter& {
    return metrics->GetCounter("ventros_llm_tokens_total", "Language model tokens used by agents",
                               {{"model", model}, {"kind", kind}});
  };
  tokens("prompt").Inc(static_cast<double>(usage.prompt_tokens));
  tokens("completion").Inc(static_cast<double>(usage.completion_tokens));
  tokens("cached").Inc(static_cast<double>(usage.cached_tokens));
  metrics
      ->GetCounter("ventros_llm_cost_usd_total", "Cost of language model calls made by agents",
                   {{"model", model}})
      .Inc(CostOf(prices, model, usage));
}

void CountOutreach(core::MetricsRegistry* metrics, const std::string& purpose,
                   const std::string& outcome) {
  if (!metrics) return;
  metrics
      ->GetCounter("ventros_agent_outreach_total", "Agent outreach messages by purpose and outcome",
                   {{"purpose", purpose}, {"outcome", outcome}})
      .Inc();
}

// A hosted model's qualification, when it is the object asked for.
std::optional<AgentsService::Qualification> ParseQualification(std::string_view text) {
  text = Trim(text);
  // A JSON object in a Markdown fence ("```json\n{...}\n```").
  if (text.starts_with("```")) {
    const size_t nl = text.find('\n');
    const size_t close = text.rfind("```");
    if (nl == std::string_view::npos || close <= nl) return std::nullopt;
    text = Trim(text.substr(nl + 1, close - nl - 1));
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  AgentsService::Qualification q;
  const auto flag = [&](std::string_view key, bool& out) {
    const json::value* x = o.if_contains(key);
    if (!x || !x->is_bool()) return false;
    out = x->as_bool();
    return true;
  };
  if (!flag("is_qualified", q.is_qualified) || !flag("budget", q.budget) ||
      !flag("authority", q.authority) || !flag("need", q.need) || !flag("timeline", q.timeline)) {
    return std::nullopt;
  }
  const json::value* score = o.if_contains("score");
  if (!score) return std::nullopt;
  double value = 0;
  if (score->is_int64()) {
    value = static_cast<double>(score->as_int64());
  } else if (score->is_uint64()) {
    value = static_cast<double>(std::min<uint64_t>(score->as_uint64(), kMaxScore + 1));
  } else if (score->is_double() && std::trunc(score->as_double()) == score->as_double()) {
    value = score->as_double();
  } else {
    return std::nullopt;
  }
  if (!(value >= 0 && value <= kMaxScore)) return std::nullopt;
  q.score = static_cast<int>(value);
  if (const json::value* reason = o.if_contains("reason")) {
    if (!reason->is_string()) return std::nullopt;
    q.reason = Clip(reason->as_string(), kMaxReasonBytes);
  }
  q.source = "model";
  return q;
}

}  // namespace

namespace {

// A model call of a workflow's agent operation as an LLM span (usage by agent in the span store).
void TraceCall(const core::Tracer& tracer, const core::Span& root, const llm::ChatModel& model,
               const std::map<std::string, ModelPrice>& prices, const std::string& agent,
               const Result<llm::ChatResponse>& answer) {
  core::Span llm_span = tracer.StartChild(root, "llm", core::SpanKind::kLlm);
  llm_span.Set("llm.model_name", model.name()).Set("agent.name", agent);
  if (!answer.ok()) {
    llm_span.SetError(answer.status().ToString());
    return;
  }
  llm_span.Set("llm.token_count.prompt", answer->usage.prompt_tokens)
      .Set("llm.token_count.completion", answer->usage.completion_tokens)
      .Set("llm.token_count.cached", answer->usage.cached_tokens)
      .Set("llm.token_count.total", answer->usage.total_tokens)
      .Set("llm.cost_usd", CostOf(prices, model.name(), answer->usage))
      .Set("llm.output_messages.0.message.content", answer->content.substr(0, 1500));
}

}  // namespace

Result<std::optional<std::string>> AgentsService::Outreach(const crm::TenantId& tenant,
                                                           const crm::ContactId& contact,
                                                           const std::string& category,
                                                           const std::string& purpose,
                                                           const std::string& idempotency_key) {
  Impl& m = *impl_;
  const AgentTemplate* tmpl = FindTemplate(category);
  if (!tmpl) return Status::InvalidArgument(fmt::format("unknown category '{}'", category));
  if (purpose != "engagement" && purpose != "retention") {
    return Status::InvalidArgument(
        fmt::format("purpose '{}' must be engagement or retention", purpose));
  }
  if (idempotency_key.empty() || idempotency_key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("idempotency_key must be 1..200 bytes");
  }
  VENTROS_ASSIGN_OR_RETURN(crm::Contact who, m.crm.GetContact(tenant, contact));
  VENTROS_ASSIGN_OR_RETURN(History history, ReadHistory(m.crm, tenant, contact, idempotency_key));
  if (history.sent_id) {
    CountOutreach(m.metrics, purpose, "duplicate");
    return std::optional<std::string>(*history.sent_id);
  }
  VENTROS_ASSIGN_OR_RETURN(auto active, m.crm.ListSessions(tenant, contact, "active", {}));
  const auto human_owned = [](const crm::Session& s) {
    return s.assigned_agent_type.value_or("ai") == "human";
  };
  if (std::any_of(active.items.begin(), active.items.end(), human_owned)) {
    CountOutreach(m.metrics, purpose, "skipped_human");
    return std::optional<std::string>();
  }

  // The specialist, the memory and the model.
  VENTROS_ASSIGN_OR_RETURN(auto agent, m.registry.AgentFor(tenant, category));
  const Specialist spec = BuildSpecialist(*tmpl, agent);
  std::string contact_text;
  for (const auto& body : history.inbound) contact_text += body + "\n";
  const std::string lang = DetectLanguage(contact_text);
  std::string query =
      history.inbound.empty()
          ? std::string(purpose == "retention" ? "satisfação problema reclamação cancelar"
                                               : "interesse objetivo necessidade orçamento")
          : Clip(history.inbound.back(), kMaxQueryBytes);
  VENTROS_ASSIGN_OR_RETURN(memory::SearchResult found,
                           m.memory.Search(SearchFor(tenant, contact, spec, std::move(query))));
  llm::ChatRequest req;
  req.messages.push_back(
      llm::ChatMessage::System(spec.tmpl.instruction + "\n\n" + OutreachTask(purpose) + "\n\n" +
                               TaskProfile(spec, category, contact, "outreach", purpose)));
  req.messages.push_back(llm::ChatMessage::System(found.context));
  req.messages.push_back(llm::ChatMessage::User("[task: outreach] Write the message now."));
  req.temperature = 0.3;
  req.max_tokens = 400;
  const std::string trace_id = core::RandomHex(16);
  const core::Tracer& tracer = m.tracer();
  core::Span root =
      tracer.StartTrace("agent.outreach", core::SpanKind::kAgent, tenant.str(), trace_id);
  root.Set("user.id", contact.str())
      .Set("agent.name", spec.name)
      .Set("agent.category", category)
      .Set("outreach.purpose", purpose)
      .Set("retrieval.count", static_cast<int64_t>(found.hits.size()));
  std::string text;
  auto answer = m.model.Complete(req);
  TraceCall(tracer, root, m.model, m.options.prices, spec.name, answer);
  if (answer.ok()) {
    CountUsage(m.metrics, m.options.prices, m.model.name(), answer->usage);
    text = std::string(Trim(answer->content));
  } else if (!Blocked(answer.status())) {
    return answer.status().WithContext("agent outreach");
  }
  // Every number must come from the memory context; an offer cannot (no offer is made here).
  bool usable = !text.empty() && text.size() <= kMaxOutreachBytes;
  if (usable) {
    const std::vector<std::string> evidence = {found.context};
    const Groundedness g = CheckGroundedness(text, evidence);
    usable = g.grounded && std::none_of(g.claims.begin(), g.claims.end(),
                                        [](const Claim& c) { return c.kind == "offer"; });
  }
  if (!usable) {
    m.logger->warn(
        "agents: outreach text for contact {} replaced ({})", contact.str(),
        answer.ok() ? "ungrounded, an offer, empty or too long" : answer.status().ToString());
    text = SafeOutreach(lang, purpose, FirstName(who.name));
  }

  // Send, after checking again that no person took the conversation.
  VENTROS_ASSIGN_OR_RETURN(auto conn, m.db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  for (const auto& s : active.items) {
    VENTROS_ASSIGN_OR_RETURN(crm::Session now, m.crm.GetSession(*conn, tenant, s.id));
    if (now.status == "active" && human_owned(now)) {
      CountOutreach(m.metrics, purpose, "skipped_human");
      return std::optional<std::string>();
    }
  }
  crm::MessagingService::SendRequest out;
  out.contact = contact;
  if (!active.items.empty()) out.channel = active.items.front().channel_id;
  out.text = text;
  out.source = "bot";
  out.agent_id = spec.agent_id.value_or("template:" + category);
  out.metadata = json::serialize(json::object{{"agent_category", category},
                                              {"purpose", purpose},
                                              {"idempotency_key", idempotency_key},
                                              {"trace_id", trace_id}});
  VENTROS_ASSIGN_OR_RETURN(crm::Message sent, m.crm.RequestSend(*conn, tenant, out));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (m.options.bus) m.options.bus->Notify();
  CountOutreach(m.metrics, purpose, usable ? "sent" : "sent_safe_text");
  return std::optional<std::string>(sent.id.str());
}

Result<AgentsService::Qualification> AgentsService::Qualify(const crm::TenantId& tenant,
                                                            const crm::ContactId& contact) {
  Impl& m = *impl_;
  VENTROS_ASSIGN_OR_RETURN(auto agent, m.registry.AgentFor(tenant, std::string(kQualifyCategory)));
  const Specialist spec = BuildSpecialist(*FindTemplate(kQualifyCategory), agent);
  VENTROS_ASSIGN_OR_RETURN(
      memory::SearchResult found,
      m.memory.Search(SearchFor(tenant, contact, spec,
                                "orçamento decisor necessidade prazo budget decision need "
                                "deadline")));
  llm::ChatRequest req;
  req.messages.push_back(
      llm::ChatMessage::System(std::string(kQualifyTask) + "\n\n" +
                               TaskProfile(spec, kQualifyCategory, contact, "qualify", "")));
  req.messages.push_back(llm::ChatMessage::System(found.context));
  req.messages.push_back(
      llm::ChatMessage::User("[task: qualify] Answer with the JSON object now."));
  req.temperature = 0;
  req.max_tokens = 400;
  req.json_output = true;
  const core::Tracer& tracer = m.tracer();
  core::Span root = tracer.StartTrace("agent.qualify", core::SpanKind::kAgent, tenant.str());
  root.Set("user.id", contact.str()).Set("agent.name", spec.name);
  auto answer = m.model.Complete(req);
  TraceCall(tracer, root, m.model, m.options.prices, spec.name, answer);
  if (answer.ok()) {
    CountUsage(m.metrics, m.options.prices, m.model.name(), answer->usage);
    if (auto q = ParseQualification(answer->content)) return *q;
    m.logger->warn(
        "agents: qualification of contact {} by {} is not the object asked for; rules "
        "used",
        contact.str(), m.model.name());
  } else if (Blocked(answer.status())) {
    m.logger->warn("agents: qualification of contact {} blocked by the model; rules used",
                   contact.str());
  } else {
    return answer.status().WithContext("agent qualification");
  }
  std::vector<BantFact> facts;
  facts.reserve(found.facts.size());
  for (const auto& f : found.facts) facts.push_back({f.type, f.text});
  const BantScore b = QualifyByRules(facts);
  return Qualification{.is_qualified = b.is_qualified,
                       .score = b.score,
                       .budget = b.budget,
                       .authority = b.authority,
                       .need = b.need,
                       .timeline = b.timeline,
                       .reason = b.reason,
                       .source = "rules"};
}

Result<AgentsService::RetentionRisk> AgentsService::RetentionCheck(const crm::TenantId& tenant,
                                                                   const crm::ContactId& contact) {
  Impl& m = *impl_;
  VENTROS_ASSIGN_OR_RETURN(auto summary, m.memory.Summary(tenant, contact, 1));
  const memory::ContactStats& st = summary.stats;
  RetentionRisk r;
  if (st.average_sentiment) {
    r.sentiment = *st.average_sentiment;
    if (r.sentiment < kNegativeSentiment) {
      r.reasons.push_back(fmt::format("average sentiment {:.2f} is negative", r.sentiment));
    }
  }
  if (st.sentiment_trend == "worsening") r.reasons.emplace_back("sentiment is worsening");
  int objections = 0;
  for (const auto& f : summary.facts) {
    if (f.type == "objection" && objections++ < kMaxObjectionReasons) {
      r.reasons.push_back("objection: " + f.text);
    }
  }
  const int64_t now = m.clock.NowMillis();
  if (st.last_interaction_at) {
    const int64_t days = (now - *st.last_interaction_at) / kDayMs;
    if (days > kSilentDays) r.reasons.push_back(fmt::format("no interaction for {} days", days));
  } else {
    VENTROS_ASSIGN_OR_RETURN(crm::Contact who, m.crm.GetContact(tenant, contact));
    const int64_t days = (now - who.created_at) / kDayMs;
    if (days > kSilentDays) {
      r.reasons.push_back(
          fmt::format("no interaction in the {} days since the contact was added", days));
    }
  }
  r.at_risk = !r.reasons.empty();
  return r;
}

}  // namespace ventros::agents
