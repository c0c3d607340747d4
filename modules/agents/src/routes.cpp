// REST edges of the agents: templates, agent entities, the router, offers and turns. Strict
// parsing; the tenant comes from the API key only (another tenant's ids are 404s).

#include <fmt/format.h>

#include <charconv>

#include "internal.hpp"
#include "ventros/core/ids.hpp"

namespace ventros::agents {

using core::HttpRequest;
using core::HttpResponse;
using core::Role;

namespace {

HttpResponse Fail(const HttpRequest& req, const Status& status) {
  return HttpResponse::FromStatus(status, req.request_id);
}

crm::TenantId TenantOf(const HttpRequest& req) { return crm::TenantId(req.principal->tenant_id); }

template <typename T, typename Render>
std::string ItemsJson(const std::vector<T>& items, Render render) {
  std::string out = R"({"items":[)";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    out += render(items[i]);
  }
  return out + "]}";
}

Result<int> LimitParam(const HttpRequest& req, int fallback, int max) {
  auto text = req.QueryParam("limit");
  if (!text) return fallback;
  int v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || v < 1 || v > max) {
    return Status::InvalidArgument(fmt::format("query parameter 'limit' must be 1..{}", max));
  }
  return v;
}

Result<std::optional<std::string>> OverridesField(const json::object& body) {
  auto* v = body.if_contains("overrides");
  if (!v || v->is_null()) return std::optional<std::string>();
  if (!v->is_object()) return Status::InvalidArgument("field 'overrides' must be an object");
  return std::optional<std::string>(json::serialize(*v));
}

}  // namespace

void RegisterAgentRoutes(core::Router& router, AgentsService& service) {
  router.Add("GET", "/v1/agent-templates",
             [](HttpRequest& req) {
               if (auto st = core::RejectUnknownQueryParams(req, {}); !st.ok())
                 return Fail(req, st);
               return HttpResponse::Json(200, ItemsJson(BuiltInTemplates(), TemplateJson));
             },
             {.min_role = Role::kReadonly, .summary = "List the built-in agent templates"});

  router.Add("GET", "/v1/agent-templates/{id}",
             [](HttpRequest& req) {
               const AgentTemplate* t = FindTemplate(req.PathParam("id"));
               if (!t) {
                 return Fail(req, Status::NotFound(fmt::format("agent template {} not found",
                                                               req.PathParam("id"))));
               }
               return HttpResponse::Json(200, TemplateJson(*t));
             },
             {.min_role = Role::kReadonly, .summary = "Get an agent template"});

  router.Add(
      "POST", "/v1/agents",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"template_id", "name", "overrides"});
            !st.ok()) {
          return Fail(req, st);
        }
        auto tmpl = core::RequireString(body.object, "template_id");
        if (!tmpl.ok()) return Fail(req, tmpl.status());
        auto name = core::RequireString(body.object, "name");
        if (!name.ok()) return Fail(req, name.status());
        auto overrides = OverridesField(body.object);
        if (!overrides.ok()) return Fail(req, overrides.status());
        auto agent = service.CreateAgent(TenantOf(req), *tmpl, *name, overrides->value_or("{}"));
        if (!agent.ok()) return Fail(req, agent.status());
        HttpResponse res = HttpResponse::Json(201, crm::AgentJson(*agent));
        res.headers.emplace_back("Location", "/v1/agents/" + agent->id.str());
        return res;
      },
      {.min_role = Role::kAdmin, .summary = "Create an agent from a template"});

  router.Add("GET", "/v1/agents",
             [&service](HttpRequest& req) {
               if (auto st = core::RejectUnknownQueryParams(req, {"category", "include_disabled"});
                   !st.ok()) {
                 return Fail(req, st);
               }
               auto include = req.QueryParam("include_disabled");
               if (include && *include != "true" && *include != "false") {
                 return Fail(req, Status::InvalidArgument(
                                      "query parameter 'include_disabled' must be true or false"));
               }
               auto agents = service.registry().ListAgents(
                   TenantOf(req), req.QueryParam("category"), include && *include == "true");
               if (!agents.ok()) return Fail(req, agents.status());
               return HttpResponse::Json(200, ItemsJson(*agents, crm::AgentJson));
             },
             {.min_role = Role::kReadonly, .summary = "List agents"});

  router.Add("GET", "/v1/agents/{id}",
             [&service](HttpRequest& req) {
               auto agent =
                   service.registry().GetAgent(TenantOf(req), crm::AgentId(req.PathParam("id")));
               if (!agent.ok()) return Fail(req, agent.status());
               return HttpResponse::Json(200, crm::AgentJson(*agent));
             },
             {.min_role = Role::kReadonly, .summary = "Get an agent"});

  router.Add(
      "PATCH", "/v1/agents/{id}",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"name", "overrides", "enabled"});
            !st.ok()) {
          return Fail(req, st);
        }
        crm::AgentPatch patch;
        auto name = core::OptionalString(body.object, "name");
        if (!name.ok()) return Fail(req, name.status());
        patch.name = *name;
        auto overrides = OverridesField(body.object);
        if (!overrides.ok()) return Fail(req, overrides.status());
        patch.overrides = *overrides;
        if (auto* e = body.object.if_contains("enabled"); e && !e->is_null()) {
          if (!e->is_bool()) {
            return Fail(req, Status::InvalidArgument("field 'enabled' must be true or false"));
          }
          patch.enabled = e->as_bool();
        }
        auto agent = service.UpdateAgent(TenantOf(req), crm::AgentId(req.PathParam("id")), patch);
        if (!agent.ok()) return Fail(req, agent.status());
        return HttpResponse::Json(200, crm::AgentJson(*agent));
      },
      {.min_role = Role::kAdmin, .summary = "Change an agent (name, overrides, enabled)"});

  router.Add("POST", "/v1/agents/{id}/disable",
             [&service](HttpRequest& req) {
               crm::AgentPatch patch;
               patch.enabled = false;
               auto agent =
                   service.UpdateAgent(TenantOf(req), crm::AgentId(req.PathParam("id")), patch);
               if (!agent.ok()) return Fail(req, agent.status());
               return HttpResponse::Json(200, crm::AgentJson(*agent));
             },
             {.min_role = Role::kAdmin,
              .summary = "Disable an agent (its category falls back to the "
                         "template)"});

  router.Add("POST", "/v1/router/classify",
             [&service](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               if (auto st = core::RejectUnknownFields(body.object, {"text"}); !st.ok()) {
                 return Fail(req, st);
               }
               auto text = core::RequireString(body.object, "text");
               if (!text.ok()) return Fail(req, text.status());
               auto c = service.Classify(TenantOf(req), *text);
               if (!c.ok()) return Fail(req, c.status());
               return HttpResponse::Json(200, ClassificationJson(*c));
             },
             {.min_role = Role::kReadonly, .summary = "Route a text to an agent category"});

  router.Add(
      "GET", "/v1/router/routes",
      [&service](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {}); !st.ok()) return Fail(req, st);
        auto routes = service.Routes(TenantOf(req));
        if (!routes.ok()) return Fail(req, routes.status());
        json::array items;
        for (const auto& r : *routes) {
          json::array examples;
          for (const auto& e : r.examples) examples.emplace_back(e);
          items.push_back(json::object{{"category", r.category},
                                       {"threshold", r.threshold},
                                       {"examples", std::move(examples)}});
        }
        return HttpResponse::Json(200, json::serialize(json::object{{"items", std::move(items)}}));
      },
      {.min_role = Role::kReadonly, .summary = "The tenant's routes: examples and thresholds"});

  router.Add(
      "POST", "/v1/router/examples",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"category", "examples"}); !st.ok()) {
          return Fail(req, st);
        }
        auto category = core::RequireString(body.object, "category");
        if (!category.ok()) return Fail(req, category.status());
        auto* list = body.object.if_contains("examples");
        if (!list || !list->is_array()) {
          return Fail(req, Status::InvalidArgument("field 'examples' must be an array of texts"));
        }
        std::vector<std::string> examples;
        for (const auto& e : list->as_array()) {
          if (!e.is_string()) {
            return Fail(req, Status::InvalidArgument("field 'examples' must be an array of texts"));
          }
          examples.emplace_back(e.as_string());
        }
        Status st = service.AddExamples(TenantOf(req), *category, examples);
        if (!st.ok()) return Fail(req, st);
        return HttpResponse::NoContent();
      },
      {.min_role = Role::kAdmin, .summary = "Add the tenant's own intent examples to a route"});

  router.Add("GET", "/v1/offers",
             [&service](HttpRequest& req) {
               if (auto st = core::RejectUnknownQueryParams(req, {"contact_id"}); !st.ok())
                 return Fail(req, st);
               std::optional<crm::ContactId> contact;
               if (auto c = req.QueryParam("contact_id")) {
                 if (!core::IsUuid(*c)) {
                   return Fail(
                       req, Status::InvalidArgument("query parameter 'contact_id' must be an id"));
                 }
                 contact = crm::ContactId(*c);
               }
               auto offers = service.registry().ListOffers(TenantOf(req), contact);
               if (!offers.ok()) return Fail(req, offers.status());
               return HttpResponse::Json(200, ItemsJson(*offers, crm::OfferJson));
             },
             {.min_role = Role::kReadonly, .summary = "List offers agents made"});

  router.Add(
      "GET", "/v1/agent-turns",
      [&service](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {"session_id", "limit"}); !st.ok())
          return Fail(req, st);
        std::optional<crm::SessionId> session;
        if (auto s = req.QueryParam("session_id")) {
          if (!core::IsUuid(*s)) {
            return Fail(req, Status::InvalidArgument("query parameter 'session_id' must be an id"));
          }
          session = crm::SessionId(*s);
        }
        auto limit = LimitParam(req, 50, 500);
        if (!limit.ok()) return Fail(req, limit.status());
        auto turns = service.ListTurns(TenantOf(req), session, *limit);
        if (!turns.ok()) return Fail(req, turns.status());
        return HttpResponse::Json(200, ItemsJson(*turns, TurnJson));
      },
      {.min_role = Role::kReadonly,
       .summary = "Agent turns: routing, memory context, tool calls, guardrails, reply, usage"});
}

std::string ClassificationJson(const Classification& c) {
  json::array scores;
  for (const auto& s : c.scores) {
    scores.push_back(json::object{{"category", s.category}, {"score", s.score}});
  }
  return json::serialize(json::object{{"category", c.category},
                                      {"confidence", c.confidence},
                                      {"fallback", c.fallback},
                                      {"scores", std::move(scores)}});
}

}  // namespace ventros::agents
