// AgentsService: the tenant's router, agents checked against templates, prices, turn records.
// The coordinator's turn itself is in coordinator.cpp.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "internal.hpp"
#include "ventros/core/ids.hpp"

namespace ventros::agents {

using core::DbValue;

Result<std::pair<std::string, ModelPrice>> ParsePrice(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(
        fmt::format("price '{}' must read model=input/output/cached (USD per million tokens), e.g. "
                    "gemini-2.5-flash=0.30/2.50/0.075",
                    text));
  };
  size_t eq = text.rfind('=');
  if (eq == std::string_view::npos || eq == 0) return bad();
  std::string model(text.substr(0, eq));
  std::vector<double> parts;
  std::string_view rest = text.substr(eq + 1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view piece = rest.substr(0, slash);
    double v = 0;
    auto [ptr, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), v);
    if (ec != std::errc() || ptr != piece.data() + piece.size() || v < 0 || !std::isfinite(v)) {
      return bad();
    }
    parts.push_back(v);
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) return bad();
  ModelPrice p{parts[0], parts[1], parts.size() == 3 ? parts[2] : parts[0]};
  return std::make_pair(std::move(model), p);
}

double CostOf(const std::map<std::string, ModelPrice>& prices, const std::string& model,
              const llm::Usage& usage) {
  auto it = prices.find(model);
  if (it == prices.end()) {
    size_t slash = model.find('/');
    if (slash != std::string::npos) it = prices.find(model.substr(slash + 1));
  }
  if (it == prices.end()) return 0;
  const ModelPrice& p = it->second;
  int64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  double cost = static_cast<double>(usage.prompt_tokens - cached) * p.input +
                static_cast<double>(cached) * p.cached_input +
                static_cast<double>(usage.completion_tokens) * p.output;
  return cost / 1e6;
}

AgentsService::AgentsService(core::Database& db, const core::Clock& clock, core::Logger logger,
                             crm::MessagingService& crm, crm::AgentRegistry& registry,
                             memory::MemoryService& memory, llm::ChatModel& model,
                             llm::Embedder& router_embedder, core::MetricsRegistry* metrics,
                             Options options)
    : impl_(std::make_unique<Impl>(db, clock, std::move(logger), crm, registry, memory, model,
                                   router_embedder, metrics, std::move(options))),
      registry_(registry) {}

AgentsService::~AgentsService() = default;

AgentsService::Impl::Impl(core::Database& db_, const core::Clock& clock_, core::Logger logger_,
                          crm::MessagingService& crm_, crm::AgentRegistry& registry_,
                          memory::MemoryService& memory_, llm::ChatModel& model_,
                          llm::Embedder& embedder_, core::MetricsRegistry* metrics_,
                          AgentsService::Options options_)
    : db(db_),
      clock(clock_),
      logger(std::move(logger_)),
      crm(crm_),
      registry(registry_),
      memory(memory_),
      model(model_),
      embedder(embedder_),
      metrics(metrics_),
      options(std::move(options_)) {
  if (metrics) {
    turn_seconds = &metrics->GetHistogram("ventros_agent_turn_seconds",
                                          "Agent turns: from the event to the committed reply",
                                          core::MetricsRegistry::LatencyBuckets());
    llm_seconds =
        &metrics->GetHistogram("ventros_agent_llm_seconds", "Language model calls made by agents",
                               core::MetricsRegistry::LatencyBuckets());
  }
}

void AgentsService::Impl::CountTurn(const Turn& t) {
  if (!metrics) return;
  metrics
      ->GetCounter("ventros_agent_turns_total", "Agent turns by outcome and category",
                   {{"status", t.status}, {"category", t.category}})
      .Inc();
  auto tokens = [&](const char* kind) -> core::Counter& {
    return metrics->GetCounter("ventros_llm_tokens_total", "Language model tokens used by agents",
                               {{"model", t.model}, {"kind", kind}});
  };
  tokens("prompt").Inc(static_cast<double>(t.usage.prompt_tokens));
  tokens("completion").Inc(static_cast<double>(t.usage.completion_tokens));
  tokens("cached").Inc(static_cast<double>(t.usage.cached_tokens));
  metrics
      ->GetCounter("ventros_llm_cost_usd_total", "Cost of language model calls made by agents",
                   {{"model", t.model}})
      .Inc(t.cost_usd);
  for (const auto& tool : t.tools) {
    metrics
        ->GetCounter("ventros_agent_tool_calls_total", "Tool calls by tool and outcome",
                     {{"tool", tool.name}, {"ok", tool.ok ? "true" : "false"}})
        .Inc();
  }
}

// ---------------------------------------------------------------- router

Result<std::shared_ptr<const SemanticRouter>> AgentsService::Impl::RouterFor(
    const crm::TenantId& tenant) {
  {
    std::lock_guard lock(router_mu);
    auto it = routers.find(tenant.str());
    // Another instance may have added examples or fitted thresholds: rebuilt after a minute.
    if (it != routers.end() && clock.MonotonicMicros() - it->second.built_us < 60'000'000) {
      return it->second.router;
    }
  }
  VENTROS_ASSIGN_OR_RETURN(auto routes, RoutesFor(tenant));
  VENTROS_ASSIGN_OR_RETURN(auto built, SemanticRouter::Build(embedder, std::move(routes),
                                                             std::string(kFallbackCategory)));
  std::shared_ptr<const SemanticRouter> router(std::move(built));
  std::lock_guard lock(router_mu);
  if (routers.size() > 10000) routers.clear();
  routers[tenant.str()] = Impl::CachedRouter{router, clock.MonotonicMicros()};
  return router;
}

void AgentsService::Impl::ForgetRouter(const crm::TenantId& tenant) {
  std::lock_guard lock(router_mu);
  routers.erase(tenant.str());
}

Result<std::vector<Route>> AgentsService::Impl::RoutesFor(const crm::TenantId& tenant) {
  std::vector<Route> routes = BuiltInRoutes();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto examples,
                           conn->Query("SELECT category, text FROM agent_router_examples WHERE "
                                       "tenant_id = $1 ORDER BY created_at, id",
                                       {DbValue(tenant.str())}));
  for (const auto& r : examples.rows) {
    for (auto& route : routes) {
      if (route.category == r.GetText(0)) route.examples.push_back(r.GetText(1));
    }
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto thresholds,
      conn->Query("SELECT category, threshold FROM agent_router_thresholds WHERE tenant_id = $1",
                  {DbValue(tenant.str())}));
  for (const auto& r : thresholds.rows) {
    for (auto& route : routes) {
      if (route.category == r.GetText(0)) route.threshold = r.GetDouble(1);
    }
  }
  return routes;
}

Result<Classification> AgentsService::Classify(const crm::TenantId& tenant, std::string_view text) {
  if (text.size() > 8192) return Status::InvalidArgument("field 'text' is too long (at most 8192)");
  VENTROS_ASSIGN_OR_RETURN(auto router, impl_->RouterFor(tenant));
  return router->Classify(text);
}

Result<EvalReport> AgentsService::Evaluate(const crm::TenantId& tenant,
                                           const std::vector<LabelledText>& labelled) {
  VENTROS_ASSIGN_OR_RETURN(auto router, impl_->RouterFor(tenant));
  return router->Evaluate(labelled);
}

Result<AgentsService::FitResult> AgentsService::Fit(const crm::TenantId& tenant,
                                                    const std::vector<LabelledText>& labelled,
                                                    bool store) {
  if (labelled.empty()) return Status::InvalidArgument("no labelled texts to fit on");
  VENTROS_ASSIGN_OR_RETURN(auto router, impl_->RouterFor(tenant));
  FitResult out;
  VENTROS_ASSIGN_OR_RETURN(auto before, router->Evaluate(labelled));
  out.accuracy_before = before.accuracy;
  VENTROS_ASSIGN_OR_RETURN(out.thresholds, router->FitThresholds(labelled));
  std::vector<Route> routes = router->routes();
  for (auto& r : routes) {
    auto it = out.thresholds.find(r.category);
    if (it != out.thresholds.end()) r.threshold = it->second;
  }
  VENTROS_ASSIGN_OR_RETURN(auto fitted,
                           SemanticRouter::Build(router->embedder(), routes, router->fallback()));
  VENTROS_ASSIGN_OR_RETURN(auto after, fitted->Evaluate(labelled));
  out.accuracy_after = after.accuracy;
  if (store) {
    VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    int64_t now = impl_->clock.NowMillis();
    for (const auto& [category, threshold] : out.thresholds) {
      VENTROS_ASSIGN_OR_RETURN(
          auto up,
          conn->Query(
              "INSERT INTO agent_router_thresholds (tenant_id, category, threshold, "
              "updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, category) DO "
              "UPDATE SET threshold = excluded.threshold, updated_at = excluded.updated_at",
              {DbValue(tenant.str()), DbValue(category), DbValue(threshold), DbValue(now)}));
      (void)up;
    }
    VENTROS_RETURN_IF_ERROR(tx.Commit());
    impl_->ForgetRouter(tenant);
  }
  return out;
}

Status AgentsService::AddExamples(const crm::TenantId& tenant, const std::string& category,
                                  const std::vector<std::string>& examples) {
  if (!FindTemplate(category)) {
    return Status::InvalidArgument(fmt::format("unknown category '{}'", category));
  }
  if (examples.empty()) return Status::InvalidArgument("field 'examples' must not be empty");
  if (examples.size() > 500) return Status::InvalidArgument("at most 500 examples at once");
  for (const auto& e : examples) {
    if (e.empty() || e.size() > 1000) {
      return Status::InvalidArgument("each example must be 1..1000 characters");
    }
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  int64_t now = impl_->clock.NowMillis();
  for (const auto& e : examples) {
    VENTROS_ASSIGN_OR_RETURN(
        auto ins, conn->Query("INSERT INTO agent_router_examples (id, tenant_id, category, text, "
                              "created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                              {DbValue(core::NewUuidV7(impl_->clock)), DbValue(tenant.str()),
                               DbValue(category), DbValue(e), DbValue(now)}));
    (void)ins;
  }
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  impl_->ForgetRouter(tenant);
  return Status::Ok();
}

Result<std::vector<Route>> AgentsService::Routes(const crm::TenantId& tenant) {
  return impl_->RoutesFor(tenant);
}

// ---------------------------------------------------------------- agents

namespace {

// Overrides an agent may carry: a narrower policy than its template, never a wider one.
Status CheckOverrides(const AgentTemplate& t, const std::string& text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("field 'overrides' must be an object");
  for (const auto& [key, value] : v.as_object()) {
    if (key == "instruction") {
      if (!value.is_string() || value.as_string().empty() || value.as_string().size() > 8000) {
        return Status::InvalidArgument("overrides.instruction must be a string of 1..8000");
      }
    } else if (key == "strategy") {
      if (!value.is_string() || !memory::Strategies().contains(std::string(value.as_string()))) {
        return Status::InvalidArgument("overrides.strategy must name a retrieval strategy");
      }
    } else if (key == "lookback_days") {
      if (!value.is_int64() || value.as_int64() < 1 || value.as_int64() > 3650) {
        return Status::InvalidArgument("overrides.lookback_days must be an integer 1..3650");
      }
    } else if (key == "max_discount_percent") {
      if (!value.is_int64() || value.as_int64() < 0 ||
          value.as_int64() > t.constraints.max_discount_percent) {
        return Status::InvalidArgument(
            fmt::format("overrides.max_discount_percent must be an integer 0..{} (the template's "
                        "limit)",
                        t.constraints.max_discount_percent));
      }
    } else if (key == "max_offer_months") {
      if (!value.is_int64() || value.as_int64() < 1 ||
          value.as_int64() > t.constraints.max_offer_months) {
        return Status::InvalidArgument(fmt::format(
            "overrides.max_offer_months must be an integer 1..{}", t.constraints.max_offer_months));
      }
    } else if (key == "max_retention_attempts") {
      if (!value.is_int64() || value.as_int64() < 0 ||
          value.as_int64() > t.constraints.max_retention_attempts) {
        return Status::InvalidArgument(
            fmt::format("overrides.max_retention_attempts must be an integer 0..{}",
                        t.constraints.max_retention_attempts));
      }
    } else if (key == "tools") {
      if (!value.is_array()) return Status::InvalidArgument("overrides.tools must be an array");
      for (const auto& tool : value.as_array()) {
        if (!tool.is_string() || std::find(t.tools.begin(), t.tools.end(),
                                           std::string(tool.as_string())) == t.tools.end()) {
          return Status::InvalidArgument(
              "overrides.tools may only name tools of the template (a subset)");
        }
      }
    } else {
      return Status::InvalidArgument(
          fmt::format("unknown override '{}' (known: instruction, strategy, lookback_days, "
                      "max_discount_percent, max_offer_months, max_retention_attempts, tools)",
                      key));
    }
  }
  return Status::Ok();
}

}  // namespace

Specialist BuildSpecialist(const AgentTemplate& t, const std::optional<crm::Agent>& agent) {
  Specialist s;
  s.tmpl = t;
  s.name = agent ? agent->name : t.name;
  if (agent) s.agent_id = agent->id.str();
  if (!agent) return s;
  boost::system::error_code ec;
  auto v = json::parse(agent->overrides, ec);
  if (ec || !v.is_object()) return s;
  const auto& o = v.as_object();
  if (auto* x = o.if_contains("instruction"); x && x->is_string()) {
    s.tmpl.instruction = std::string(x->as_string());
  }
  if (auto* x = o.if_contains("strategy"); x && x->is_string()) {
    s.tmpl.strategy = std::string(x->as_string());
  }
  if (auto* x = o.if_contains("lookback_days"); x && x->is_int64()) {
    s.tmpl.scope.lookback_days = static_cast<int>(x->as_int64());
  }
  auto narrow = [&](const char* key, int& field) {
    if (auto* x = o.if_contains(key); x && x->is_int64()) {
      field = std::min(field, static_cast<int>(x->as_int64()));
    }
  };
  narrow("max_discount_percent", s.tmpl.constraints.max_discount_percent);
  narrow("max_offer_months", s.tmpl.constraints.max_offer_months);
  narrow("max_retention_attempts", s.tmpl.constraints.max_retention_attempts);
  if (auto* x = o.if_contains("tools"); x && x->is_array()) {
    std::vector<std::string> kept;
    for (const auto& tool : x->as_array()) {
      if (!tool.is_string()) continue;
      std::string name(tool.as_string());
      if (std::find(t.tools.begin(), t.tools.end(), name) != t.tools.end()) kept.push_back(name);
    }
    s.tmpl.tools = kept;
  }
  return s;
}

Result<crm::Agent> AgentsService::CreateAgent(const crm::TenantId& tenant,
                                              const std::string& template_id,
                                              const std::string& name,
                                              const std::string& overrides_json) {
  const AgentTemplate* t = FindTemplate(template_id);
  if (!t) {
    std::string known;
    for (const auto& b : BuiltInTemplates()) known += (known.empty() ? "" : ", ") + b.id;
    return Status::InvalidArgument(
        fmt::format("unknown template '{}' (known: {})", template_id, known));
  }
  VENTROS_RETURN_IF_ERROR(CheckOverrides(*t, overrides_json));
  return registry_.CreateAgent(tenant, t->id, t->category, name, overrides_json);
}

Result<crm::Agent> AgentsService::UpdateAgent(const crm::TenantId& tenant, const crm::AgentId& id,
                                              const crm::AgentPatch& patch) {
  if (patch.overrides) {
    VENTROS_ASSIGN_OR_RETURN(crm::Agent current, registry_.GetAgent(tenant, id));
    const AgentTemplate* t = FindTemplate(current.template_id);
    if (!t) return Status::Internal("agent's template is unknown");
    VENTROS_RETURN_IF_ERROR(CheckOverrides(*t, *patch.overrides));
  }
  return registry_.UpdateAgent(tenant, id, patch);
}

// ---------------------------------------------------------------- turns

std::string TurnJson(const Turn& t) {
  json::object o;
  o["id"] = t.id;
  o["session_id"] = t.session_id;
  o["contact_id"] = t.contact_id;
  o["trace_id"] = t.trace_id;
  o["status"] = t.status;
  o["agent_category"] = t.category;
  o["confidence"] = t.confidence;
  o["routed_fallback"] = t.routed_fallback;
  o["agent_id"] = t.agent_id ? json::value(*t.agent_id) : json::value(nullptr);
  o["agent_name"] = t.agent_name;
  o["model"] = t.model;
  json::array ids;
  for (const auto& id : t.message_ids) ids.emplace_back(id);
  o["message_ids"] = std::move(ids);
  o["input"] = t.input;
  o["context"] = t.context;
  json::array tools;
  for (const auto& r : t.tools) {
    json::object x;
    x["name"] = r.name;
    boost::system::error_code ec;
    auto args = json::parse(r.arguments, ec);
    x["arguments"] = ec ? json::value(r.arguments) : args;
    auto result = json::parse(r.result, ec);
    x["result"] = ec ? json::value(r.result) : result;
    x["ok"] = r.ok;
    json::array verdicts;
    for (const auto& v : r.verdicts) verdicts.emplace_back(v);
    x["verdicts"] = std::move(verdicts);
    tools.push_back(std::move(x));
  }
  o["tool_calls"] = std::move(tools);
  o["reply"] = t.reply;
  o["reply_message_id"] =
      t.reply_message_id ? json::value(*t.reply_message_id) : json::value(nullptr);
  o["offer_id"] = t.offer_id ? json::value(*t.offer_id) : json::value(nullptr);
  json::object g;
  g["score"] = t.groundedness;
  json::array claims;
  for (const auto& c : t.ungrounded_claims) claims.emplace_back(c);
  g["unsupported_claims"] = std::move(claims);
  g["reply_replaced"] = t.reply_replaced;
  o["groundedness"] = std::move(g);
  json::object usage;
  usage["prompt_tokens"] = t.usage.prompt_tokens;
  usage["completion_tokens"] = t.usage.completion_tokens;
  usage["cached_tokens"] = t.usage.cached_tokens;
  usage["total_tokens"] = t.usage.total_tokens;
  usage["cost_usd"] = t.cost_usd;
  usage["llm_calls"] = t.llm_calls;
  o["usage"] = std::move(usage);
  json::object timings;
  for (const auto& [k, v] : t.timings_ms) timings[k] = v;
  o["timings_ms"] = std::move(timings);
  o["created_at"] = core::FormatTimestamp(t.created_at);
  return json::serialize(o);
}

Result<std::vector<Turn>> AgentsService::ListTurns(const crm::TenantId& tenant,
                                                   std::optional<crm::SessionId> session,
                                                   int limit) {
  limit = std::clamp(limit, 1, 500);
  VENTROS_ASSIGN_OR_RETURN(auto conn, impl_->db.Acquire());
  core::DbResult rows;
  if (session) {
    VENTROS_ASSIGN_OR_RETURN(
        rows, conn->Query(fmt::format("SELECT detail FROM agent_turns WHERE tenant_id = $1 AND "
                                      "session_id = $2 ORDER BY created_at, id LIMIT {}",
                                      limit),
                          {DbValue(tenant.str()), DbValue(session->str())}));
  } else {
    VENTROS_ASSIGN_OR_RETURN(
        rows, conn->Query(fmt::format("SELECT detail FROM agent_turns WHERE tenant_id = $1 "
                                      "ORDER BY created_at DESC, id DESC LIMIT {}",
                                      limit),
                          {DbValue(tenant.str())}));
  }
  std::vector<Turn> out;
  for (const auto& r : rows.rows) {
    auto t = TurnFromJson(r.GetText(0));
    if (t) out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace ventros::agents
