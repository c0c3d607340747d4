// The built-in workflows' activities, bound by name in the composition root: the engine knows
// nothing of the CRM or the agents.

#include <fmt/format.h>

#include <boost/json.hpp>

#include "app/app.hpp"
#include "ventros/agents/agents.hpp"
#include "ventros/core/json.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/crm/subscriptions.hpp"
#include "ventros/workflows/api.hpp"
#include "ventros/workflows/builtin.hpp"
#include "ventros/workflows/engine.hpp"

namespace ventros::app {

namespace json = boost::json;
using workflows::ActivityContext;
using workflows::ActivityError;
using workflows::ActivityResult;

namespace {

// A Status as an activity error: Unavailable is worth retrying, the rest is not.
ActivityError ErrorOf(const core::Status& st) {
  switch (st.code()) {
    case core::StatusCode::kUnavailable:
    case core::StatusCode::kConflict:
      return ActivityError{"unavailable", st.message()};
    case core::StatusCode::kNotFound:
    case core::StatusCode::kInvalidArgument:
    case core::StatusCode::kPermissionDenied:
      return ActivityError{"rejected", st.message()};
    default:
      return ActivityError{"internal", st.message()};
  }
}

// The contact of an activity's input; "rejected" when missing.
std::optional<crm::ContactId> ContactOf(const ActivityContext& ctx) {
  std::string id = core::StringField(ctx.input, "contact_id");
  if (id.empty()) return std::nullopt;
  return crm::ContactId(id);
}

// The outbound message an activity already sent under this key, if any (a re-run after a crash
// sends nothing twice).
std::optional<std::string> AlreadySent(crm::MessagingService& messaging,
                                       const crm::TenantId& tenant, const crm::ContactId& contact,
                                       const std::string& key) {
  auto page = messaging.ListMessages(tenant, std::nullopt, contact, crm::Page{.limit = 200});
  if (!page.ok()) return std::nullopt;
  for (const auto& m : page->items) {
    if (m.direction == "out" && m.metadata.find(key) != std::string::npos) return m.id.str();
  }
  return std::nullopt;
}

ActivityResult SendText(crm::MessagingService& messaging, const ActivityContext& ctx,
                        const std::string& text, const std::string& kind) {
  auto contact = ContactOf(ctx);
  if (!contact) return ActivityError{"rejected", "input needs contact_id"};
  crm::TenantId tenant(ctx.tenant_id);
  if (auto done = AlreadySent(messaging, tenant, *contact, ctx.idempotency_key)) {
    return json::value(json::object{{"message_id", *done}, {"already_sent", true}});
  }
  crm::MessagingService::SendRequest out;
  out.contact = *contact;
  out.text = text;
  out.source = "bot";
  out.metadata = json::serialize(json::object{{"workflow_id", ctx.workflow_id},
                                              {"workflow_type", ctx.workflow_type},
                                              {"kind", kind},
                                              {"idempotency_key", ctx.idempotency_key}});
  auto m = messaging.RequestSend(tenant, out);
  if (!m.ok()) return ErrorOf(m.status());
  return json::value(json::object{{"message_id", m->id.str()}});
}

std::string FirstName(crm::MessagingService& messaging, const crm::TenantId& tenant,
                      const crm::ContactId& contact) {
  auto c = messaging.GetContact(tenant, contact);
  if (!c.ok() || c->name.empty()) return {};
  return c->name.substr(0, c->name.find(' '));
}

}  // namespace

void BindWorkflows(workflows::Engine& engine, crm::MessagingService& messaging,
                   crm::SubscriptionService& subscriptions, agents::AgentsService* agents,
                   workflows::RecordingExternalSystems& external) {
  engine.Register(workflows::LeadNurturing());
  engine.Register(workflows::CustomerOnboarding());

  engine.BindActivity("send_message", [&messaging](const ActivityContext& ctx) -> ActivityResult {
    auto contact = ContactOf(ctx);
    if (!contact) return ActivityError{"rejected", "input needs contact_id"};
    std::string first = FirstName(messaging, crm::TenantId(ctx.tenant_id), *contact);
    std::string text = first.empty()
                           ? "Olá! Que bom ter você por aqui. Como podemos ajudar?"
                           : "Olá, " + first + "! Que bom ter você por aqui. Como podemos ajudar?";
    return SendText(messaging, ctx, text, core::StringField(ctx.input, "kind"));
  });

  engine.BindActivity(
      "engagement_check", [&messaging](const ActivityContext& ctx) -> ActivityResult {
        auto contact = ContactOf(ctx);
        if (!contact) return ActivityError{"rejected", "input needs contact_id"};
        int64_t since = 0;
        if (ctx.input.is_object()) {
          if (auto* s = ctx.input.as_object().if_contains("since"); s && s->is_int64()) {
            since = s->as_int64();
          }
        }
        crm::Page page{.limit = 200};
        int64_t inbound = 0;
        for (int pages = 0; pages < 50; ++pages) {
          auto batch =
              messaging.ListMessages(crm::TenantId(ctx.tenant_id), std::nullopt, *contact, page);
          if (!batch.ok()) return ErrorOf(batch.status());
          for (const auto& m : batch->items) {
            if (m.direction == "in" && m.source == "contact" && m.message_at >= since) ++inbound;
          }
          if (batch->next_cursor.empty()) break;
          page.cursor = batch->next_cursor;
        }
        return json::value(json::object{{"inbound_messages", inbound}});
      });

  engine.BindActivity(
      "move_pipeline_stage", [&messaging](const ActivityContext& ctx) -> ActivityResult {
        auto contact = ContactOf(ctx);
        std::string stage = core::StringField(ctx.input, "stage");
        if (!contact || stage.empty()) {
          return ActivityError{"rejected", "input needs contact_id and stage"};
        }
        crm::ContactInput in;
        in.pipeline_stage = stage;
        auto c = messaging.UpdateContact(crm::TenantId(ctx.tenant_id), *contact, in);
        if (!c.ok()) return ErrorOf(c.status());
        return json::value(json::object{{"stage", stage}});
      });

  engine.BindActivity(
      "assign_to_human", [&messaging](const ActivityContext& ctx) -> ActivityResult {
        auto contact = ContactOf(ctx);
        if (!contact) return ActivityError{"rejected", "input needs contact_id"};
        crm::TenantId tenant(ctx.tenant_id);
        auto active = messaging.ListSessions(tenant, *contact, std::string("active"), {});
        if (!active.ok()) return ErrorOf(active.status());
        json::array assigned;
        for (const auto& s : active->items) {
          if (s.assigned_agent_type.value_or("ai") == "human") continue;
          auto a = messaging.AssignSession(tenant, s.id, "human", std::nullopt,
                                           core::StringField(ctx.input, "reason"));
          if (!a.ok() && a.status().code() != core::StatusCode::kConflict) {
            return ErrorOf(a.status());
          }
          if (a.ok()) assigned.emplace_back(s.id.str());
        }
        return json::value(json::object{{"sessions", std::move(assigned)}});
      });

  auto need_agents = [agents]() -> std::optional<ActivityError> {
    if (agents) return std::nullopt;
    return ActivityError{"unavailable", "the agents module does not run in this instance"};
  };
  engine.BindActivity(
      "ai_outreach", [agents, need_agents](const ActivityContext& ctx) -> ActivityResult {
        if (auto e = need_agents()) return *e;
        auto contact = ContactOf(ctx);
        if (!contact) return ActivityError{"rejected", "input needs contact_id"};
        auto sent = agents->Outreach(crm::TenantId(ctx.tenant_id), *contact,
                                     core::StringField(ctx.input, "category"),
                                     core::StringField(ctx.input, "purpose"), ctx.idempotency_key);
        if (!sent.ok()) return ErrorOf(sent.status());
        return json::value(
            json::object{{"message_id", *sent ? json::value(**sent) : json::value(nullptr)},
                         {"skipped", !sent->has_value()}});
      });
  engine.BindActivity("qualify_lead",
                      [agents, need_agents](const ActivityContext& ctx) -> ActivityResult {
                        if (auto e = need_agents()) return *e;
                        auto contact = ContactOf(ctx);
                        if (!contact) return ActivityError{"rejected", "input needs contact_id"};
                        auto q = agents->Qualify(crm::TenantId(ctx.tenant_id), *contact);
                        if (!q.ok()) return ErrorOf(q.status());
                        return json::value(json::object{{"is_qualified", q->is_qualified},
                                                        {"score", q->score},
                                                        {"budget", q->budget},
                                                        {"authority", q->authority},
                                                        {"need", q->need},
                                                        {"timeline", q->timeline},
                                                        {"reason", q->reason}});
                      });
  engine.BindActivity(
      "retention_check", [agents, need_agents](const ActivityContext& ctx) -> ActivityResult {
        if (auto e = need_agents()) return *e;
        auto contact = ContactOf(ctx);
        if (!contact) return ActivityError{"rejected", "input needs contact_id"};
        auto r = agents->RetentionCheck(crm::TenantId(ctx.tenant_id), *contact);
        if (!r.ok()) return ErrorOf(r.status());
        json::array reasons;
        for (const auto& x : r->reasons) reasons.emplace_back(x);
        return json::value(json::object{
            {"at_risk", r->at_risk}, {"reasons", std::move(reasons)}, {"sentiment", r->sentiment}});
      });

  // The customer onboarding's outside systems, plus what the CRM records of them.
  workflows::BindOnboardingActivities(engine, external);
  auto with_status = [&external, &subscriptions](std::string op, std::string status) {
    return [&external, &subscriptions, op, status](const ActivityContext& ctx) -> ActivityResult {
      ActivityResult r = external.Call(op, ctx);
      if (std::holds_alternative<ActivityError>(r)) return r;
      std::string id = core::StringField(ctx.input, "subscription_id");
      if (!id.empty()) {
        auto s =
            subscriptions.SetStatus(crm::TenantId(ctx.tenant_id), crm::SubscriptionId(id), status);
        if (!s.ok() && s.status().code() != core::StatusCode::kNotFound) return ErrorOf(s.status());
      }
      return r;
    };
  };
  engine.BindActivity("activate_subscription", with_status("activate_subscription", "active"));
  engine.BindActivity("suspend_subscription", with_status("suspend_subscription", "suspended"));
  // The account's deletion undoes the onboarding: the subscription is cancelled.
  engine.BindActivity("delete_account", with_status("delete_account", "cancelled"));
  engine.BindActivity(
      "ai_welcome", [&external, &messaging](const ActivityContext& ctx) -> ActivityResult {
        ActivityResult r = external.Call("ai_welcome", ctx);
        if (std::holds_alternative<ActivityError>(r)) return r;
        auto contact = ContactOf(ctx);
        if (!contact) return r;
        std::string first = FirstName(messaging, crm::TenantId(ctx.tenant_id), *contact);
        std::string plan = core::StringField(ctx.input, "plan");
        std::string text = fmt::format(
            "{}! Sua assinatura{} está sendo ativada. Qualquer dúvida, é só "
            "responder por aqui.",
            first.empty() ? "Olá" : "Olá, " + first, plan.empty() ? "" : " do plano " + plan);
        return SendText(messaging, ctx, text, "welcome");
      });
}

core::EventHandler WorkflowTriggers(workflows::Engine& engine, workflows::Triggers& triggers) {
  return [&engine, &triggers](const core::Event& e) -> core::Status {
    boost::system::error_code ec;
    auto v = json::parse(e.payload, ec);
    if (ec || !v.is_object()) return core::Status::Ok();
    const auto& p = v.as_object();
    auto str = [&p](const char* k) {
      auto* x = p.if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    if (e.type == "contact.created") {
      VENTROS_ASSIGN_OR_RETURN(bool on, triggers.Enabled(e.tenant_id, workflows::kLeadNurturing));
      if (!on) return core::Status::Ok();
      std::string contact = str("id");
      auto started = engine.StartWorkflow(e.tenant_id, workflows::kLeadNurturing,
                                          json::serialize(json::object{{"contact_id", contact}}),
                                          workflows::LeadNurturingId(contact));
      if (!started.ok() && started.status().code() != core::StatusCode::kAlreadyExists) {
        return started.status();
      }
    } else if (e.type == "subscription.created") {
      std::string id = str("id");
      auto started = engine.StartWorkflow(
          e.tenant_id, workflows::kCustomerOnboarding,
          json::serialize(json::object{
              {"contact_id", str("contact_id")}, {"subscription_id", id}, {"plan", str("plan")}}),
          std::string(workflows::kCustomerOnboarding) + ":" + id);
      if (!started.ok() && started.status().code() != core::StatusCode::kAlreadyExists) {
        return started.status();
      }
    } else if (e.type == "message.received") {
      auto* from_me = p.if_contains("from_me");
      if ((from_me && from_me->is_bool() && from_me->as_bool()) || str("source") != "contact") {
        return core::Status::Ok();
      }
      core::Status st = engine.Signal(
          e.tenant_id, workflows::LeadNurturingId(str("contact_id")), "contact_replied",
          json::serialize(json::object{{"reply", true}, {"message_id", str("id")}}));
      if (!st.ok() && st.code() != core::StatusCode::kNotFound) return st;
    }
    return core::Status::Ok();
  };
}

}  // namespace ventros::app
