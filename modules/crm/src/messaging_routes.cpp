// REST edges for channels, contacts, sessions and messages: parse and validate strictly, call
// MessagingService with the caller's tenant (from the API key only), map the Result.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "ventros/core/json.hpp"
#include "ventros/crm/messaging.hpp"

namespace ventros::crm {

using core::HttpRequest;
using core::HttpResponse;
using core::Role;
namespace json = core::json;

namespace {

constexpr int kDefaultPageLimit = 50;
constexpr int kMaxPageLimit = 200;
constexpr size_t kMaxTags = 100;
constexpr size_t kMaxTagLength = 100;
constexpr size_t kMaxStageLength = 100;
constexpr size_t kMaxUtmLength = 500;
constexpr size_t kMaxReplyToLength = 200;

TenantId TenantOf(const HttpRequest& req) { return TenantId(req.principal->tenant_id); }

HttpResponse Fail(const HttpRequest& req, const Status& status) {
  return HttpResponse::FromStatus(status, req.request_id);
}

HttpResponse WithLocation(int status, std::string body, std::string location) {
  HttpResponse res = HttpResponse::Json(status, std::move(body));
  res.headers.emplace_back("Location", std::move(location));
  return res;
}

// {"items":[...],"next_cursor":...}, assembled from the rendered items without re-parsing them.
template <typename T, typename Render>
std::string ListJson(const std::vector<T>& items, const std::string& next_cursor, Render render) {
  std::string out = R"({"items":[)";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += render(items[i]);
  }
  out += R"(],"next_cursor":)";
  out += next_cursor.empty() ? std::string("null") : json::serialize(json::value(next_cursor));
  out.push_back('}');
  return out;
}

// ---------------------------------------------------------------- query strings

// Query parameters parsed once. Unknown names are rejected like unknown body fields, so a typo
// ("?stag=lead") is a clear 400 instead of an unfiltered list. Empty values count as absent.
using QueryParams = std::map<std::string, std::string, std::less<>>;

Result<QueryParams> ParseQueryParams(const HttpRequest& req,
                                     std::initializer_list<std::string_view> allowed) {
  QueryParams out;
  for (auto& [name, value] : core::ParseQuery(req.query)) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(name)) == allowed.end()) {
      return Status::InvalidArgument(fmt::format("unknown query parameter '{}'", name));
    }
    if (!value.empty()) out.emplace(std::move(name), std::move(value));  // the first one wins
  }
  return out;
}

std::optional<std::string> Param(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

// limit (1..200, default 50) and cursor (the opaque value of a previous page's next_cursor).
Result<Page> PageFrom(const QueryParams& params) {
  Page page;
  page.limit = kDefaultPageLimit;
  if (auto text = Param(params, "limit")) {
    int limit = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit < 1 ||
        limit > kMaxPageLimit) {
      return Status::InvalidArgument(
          fmt::format("query parameter 'limit' must be an integer from 1 to {}; got '{}'",
                      kMaxPageLimit, text->substr(0, 20)));
    }
    page.limit = limit;
  }
  if (auto cursor = Param(params, "cursor")) {
    // Cursors are ids; anything else was not handed out by this API.
    if (!core::IsUuid(*cursor)) {
      return Status::InvalidArgument(
          "query parameter 'cursor' must be the next_cursor of a previous page");
    }
    page.cursor = *cursor;
  }
  return page;
}

// A filter naming a resource by id: a malformed id is a client error, not an empty list.
template <typename Id>
Result<std::optional<Id>> IdParam(const QueryParams& params, std::string_view name) {
  auto text = Param(params, name);
  if (!text) return std::optional<Id>();
  if (!core::IsUuid(*text)) {
    return Status::InvalidArgument(fmt::format("query parameter '{}' must be a UUID", name));
  }
  return std::optional<Id>(Id(*text));
}

// ---------------------------------------------------------------- body fields

// A string field of at most max_length characters; absent or null is nullopt.
Result<std::optional<std::string>> BoundedString(const json::object& obj, std::string_view field,
                                                 size_t max_length, bool allow_empty = true) {
  VENTROS_ASSIGN_OR_RETURN(std::optional<std::string> value, core::OptionalString(obj, field));
  if (value && !allow_empty && value->empty()) {
    return Status::InvalidArgument(fmt::format("field '{}' must not be empty", field));
  }
  if (value && value->size() > max_length) {
    return Status::InvalidArgument(
        fmt::format("field '{}' is too long (at most {})", field, max_length));
  }
  return value;
}

// Absent: nullopt (leave as is). null: an empty inner optional (clear). Otherwise an integer.
Result<std::optional<std::optional<int64_t>>> NullableInteger(const json::object& obj,
                                                              std::string_view field) {
  using Out = std::optional<std::optional<int64_t>>;
  auto it = obj.find(field);
  if (it == obj.end()) return Out();
  const json::value& v = it->value();
  if (v.is_null()) return Out(std::optional<int64_t>());
  if (v.is_int64()) return Out(v.as_int64());
  if (v.is_uint64() && v.as_uint64() <= uint64_t{std::numeric_limits<int64_t>::max()}) {
    return Out(static_cast<int64_t>(v.as_uint64()));
  }
  return Status::InvalidArgument(fmt::format("field '{}' must be an integer or null", field));
}

// An array of 1..100-character strings, duplicates dropped (first kept); null is absent.
Result<std::optional<std::vector<std::string>>> OptionalTags(const json::object& obj,
                                                             std::string_view field) {
  using Out = std::optional<std::vector<std::string>>;
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) return Out();
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format("field '{}' must be an array of strings", field));
  };
  if (!it->value().is_array()) return bad();
  const json::array& array = it->value().as_array();
  if (array.size() > kMaxTags) {
    return Status::InvalidArgument(
        fmt::format("field '{}' may hold at most {} tags", field, kMaxTags));
  }
  std::vector<std::string> tags;
  for (const auto& element : array) {
    if (!element.is_string()) return bad();
    std::string tag(element.as_string());
    if (tag.empty() || tag.size() > kMaxTagLength) {
      return Status::InvalidArgument(
          fmt::format("each tag in '{}' must have 1 to {} characters", field, kMaxTagLength));
    }
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(std::move(tag));
  }
  return Out(std::move(tags));
}

// A JSON object, returned as its text; null is absent.
Result<std::optional<std::string>> OptionalObjectText(const json::object& obj,
                                                      std::string_view field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_object()) {
    return Status::InvalidArgument(fmt::format("field '{}' must be a JSON object", field));
  }
  return std::optional<std::string>(json::serialize(it->value()));
}

Result<ChannelInput> ChannelInputFrom(const json::object& obj) {
  VENTROS_RETURN_IF_ERROR(core::RejectUnknownFields(
      obj,
      {"name", "waha_url", "waha_api_key", "waha_session", "hmac_secret", "session_timeout_ms"}));
  // Lengths and the URL scheme are checked by the service.
  ChannelInput in;
  VENTROS_ASSIGN_OR_RETURN(in.name, core::OptionalString(obj, "name"));
  VENTROS_ASSIGN_OR_RETURN(in.waha_url, core::OptionalString(obj, "waha_url"));
  VENTROS_ASSIGN_OR_RETURN(in.waha_api_key, core::OptionalString(obj, "waha_api_key"));
  VENTROS_ASSIGN_OR_RETURN(in.waha_session, core::OptionalString(obj, "waha_session"));
  VENTROS_ASSIGN_OR_RETURN(in.hmac_secret, core::OptionalString(obj, "hmac_secret"));
  VENTROS_ASSIGN_OR_RETURN(in.session_timeout_ms, NullableInteger(obj, "session_timeout_ms"));
  return in;
}

Result<ContactInput> ContactInputFrom(const json::object& obj) {
  VENTROS_RETURN_IF_ERROR(core::RejectUnknownFields(
      obj, {"phone", "name", "tags", "custom_fields", "utm_source", "utm_medium", "utm_campaign",
            "utm_content", "utm_term", "pipeline_stage"}));
  // The phone's format and the name's length are checked by the service.
  ContactInput in;
  VENTROS_ASSIGN_OR_RETURN(in.phone, core::OptionalString(obj, "phone"));
  VENTROS_ASSIGN_OR_RETURN(in.name, core::OptionalString(obj, "name"));
  VENTROS_ASSIGN_OR_RETURN(in.tags, OptionalTags(obj, "tags"));
  VENTROS_ASSIGN_OR_RETURN(in.custom_fields, OptionalObjectText(obj, "custom_fields"));
  Attribution& a = in.attribution;
  VENTROS_ASSIGN_OR_RETURN(a.utm_source, BoundedString(obj, "utm_source", kMaxUtmLength));
  VENTROS_ASSIGN_OR_RETURN(a.utm_medium, BoundedString(obj, "utm_medium", kMaxUtmLength));
  VENTROS_ASSIGN_OR_RETURN(a.utm_campaign, BoundedString(obj, "utm_campaign", kMaxUtmLength));
  VENTROS_ASSIGN_OR_RETURN(a.utm_content, BoundedString(obj, "utm_content", kMaxUtmLength));
  VENTROS_ASSIGN_OR_RETURN(a.utm_term, BoundedString(obj, "utm_term", kMaxUtmLength));
  VENTROS_ASSIGN_OR_RETURN(in.pipeline_stage,
                           BoundedString(obj, "pipeline_stage", kMaxStageLength, false));
  return in;
}

// ---------------------------------------------------------------- channels (admin)

void RegisterChannelRoutes(core::Router& router, MessagingService& service,
                           const std::string& base_url) {
  router.Add("POST", "/v1/channels",
             [&service, base_url](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto input = ChannelInputFrom(body.object);
               if (!input.ok()) return Fail(req, input.status());
               auto channel = service.CreateChannel(TenantOf(req), *input);
               if (!channel.ok()) return Fail(req, channel.status());
               return WithLocation(201, ChannelJson(*channel, base_url),
                                   "/v1/channels/" + channel->id.str());
             },
             {.min_role = Role::kAdmin, .summary = "Create a WAHA channel"});

  router.Add("GET", "/v1/channels",
             [&service, base_url](HttpRequest& req) {
               auto channels = service.ListChannels(TenantOf(req));
               if (!channels.ok()) return Fail(req, channels.status());
               std::string out = R"({"items":[)";
               for (size_t i = 0; i < channels->size(); ++i) {
                 if (i > 0) out.push_back(',');
                 out += ChannelJson((*channels)[i], base_url);
               }
               out += "]}";
               return HttpResponse::Json(200, std::move(out));
             },
             {.min_role = Role::kAdmin, .summary = "List the tenant's channels"});

  router.Add("GET", "/v1/channels/{id}",
             [&service, base_url](HttpRequest& req) {
               auto channel = service.GetChannel(TenantOf(req), ChannelId(req.PathParam("id")));
               if (!channel.ok()) return Fail(req, channel.status());
               return HttpResponse::Json(200, ChannelJson(*channel, base_url));
             },
             {.min_role = Role::kAdmin, .summary = "Get a channel"});

  router.Add("PATCH", "/v1/channels/{id}",
             [&service, base_url](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto input = ChannelInputFrom(body.object);
               if (!input.ok()) return Fail(req, input.status());
               auto channel =
                   service.UpdateChannel(TenantOf(req), ChannelId(req.PathParam("id")), *input);
               if (!channel.ok()) return Fail(req, channel.status());
               return HttpResponse::Json(200, ChannelJson(*channel, base_url));
             },
             {.min_role = Role::kAdmin, .summary = "Change a channel"});

  router.Add("DELETE", "/v1/channels/{id}",
             [&service](HttpRequest& req) {
               auto deleted = service.DeleteChannel(TenantOf(req), ChannelId(req.PathParam("id")));
               if (!deleted.ok()) return Fail(req, deleted);
               return HttpResponse::NoContent();
             },
             {.min_role = Role::kAdmin, .summary = "Delete a channel"});
}

// ---------------------------------------------------------------- contacts

void RegisterContactRoutes(core::Router& router, MessagingService& service) {
  router.Add("GET", "/v1/contacts",
             [&service](HttpRequest& req) {
               auto params = ParseQueryParams(req, {"q", "tag", "stage", "limit", "cursor"});
               if (!params.ok()) return Fail(req, params.status());
               auto page = PageFrom(*params);
               if (!page.ok()) return Fail(req, page.status());
               ContactFilter filter;
               filter.query = Param(*params, "q");
               filter.tag = Param(*params, "tag");
               filter.stage = Param(*params, "stage");
               auto contacts = service.ListContacts(TenantOf(req), filter, *page);
               if (!contacts.ok()) return Fail(req, contacts.status());
               return HttpResponse::Json(
                   200, ListJson(contacts->items, contacts->next_cursor, ContactJson));
             },
             {.min_role = Role::kReadonly, .summary = "List contacts (search, tag, stage, pages)"});

  router.Add("POST", "/v1/contacts",
             [&service](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto input = ContactInputFrom(body.object);
               if (!input.ok()) return Fail(req, input.status());
               auto contact = service.CreateContact(TenantOf(req), *input);
               if (!contact.ok()) return Fail(req, contact.status());
               return WithLocation(201, ContactJson(*contact), "/v1/contacts/" + contact->id.str());
             },
             {.min_role = Role::kAgent, .summary = "Create a contact"});

  router.Add("GET", "/v1/contacts/{id}",
             [&service](HttpRequest& req) {
               auto contact = service.GetContact(TenantOf(req), ContactId(req.PathParam("id")));
               if (!contact.ok()) return Fail(req, contact.status());
               return HttpResponse::Json(200, ContactJson(*contact));
             },
             {.min_role = Role::kReadonly, .summary = "Get a contact"});

  router.Add("PATCH", "/v1/contacts/{id}",
             [&service](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               auto input = ContactInputFrom(body.object);
               if (!input.ok()) return Fail(req, input.status());
               auto contact =
                   service.UpdateContact(TenantOf(req), ContactId(req.PathParam("id")), *input);
               if (!contact.ok()) return Fail(req, contact.status());
               return HttpResponse::Json(200, ContactJson(*contact));
             },
             {.min_role = Role::kAgent, .summary = "Change a contact"});

  router.Add("GET", "/v1/contacts/{id}/events",
             [&service](HttpRequest& req) {
               auto params = ParseQueryParams(req, {"limit", "cursor"});
               if (!params.ok()) return Fail(req, params.status());
               auto page = PageFrom(*params);
               if (!page.ok()) return Fail(req, page.status());
               auto events =
                   service.ListContactEvents(TenantOf(req), ContactId(req.PathParam("id")), *page);
               if (!events.ok()) return Fail(req, events.status());
               return HttpResponse::Json(
                   200, ListJson(events->items, events->next_cursor, ContactEventJson));
             },
             {.min_role = Role::kReadonly, .summary = "A contact's timeline"});
}

// ---------------------------------------------------------------- sessions

void RegisterSessionRoutes(core::Router& router, MessagingService& service) {
  router.Add("GET", "/v1/sessions",
             [&service](HttpRequest& req) {
               auto params = ParseQueryParams(req, {"contact_id", "status", "limit", "cursor"});
               if (!params.ok()) return Fail(req, params.status());
               auto page = PageFrom(*params);
               if (!page.ok()) return Fail(req, page.status());
               auto contact = IdParam<ContactId>(*params, "contact_id");
               if (!contact.ok()) return Fail(req, contact.status());
               auto status = Param(*params, "status");
               if (status && *status != "active" && *status != "ended") {
                 return Fail(req, Status::InvalidArgument(
                                      "query parameter 'status' must be 'active' or 'ended'"));
               }
               auto sessions = service.ListSessions(TenantOf(req), *contact, status, *page);
               if (!sessions.ok()) return Fail(req, sessions.status());
               return HttpResponse::Json(
                   200, ListJson(sessions->items, sessions->next_cursor, SessionJson));
             },
             {.min_role = Role::kReadonly, .summary = "List sessions (by contact, by status)"});

  router.Add("GET", "/v1/sessions/{id}",
             [&service](HttpRequest& req) {
               auto session = service.GetSession(TenantOf(req), SessionId(req.PathParam("id")));
               if (!session.ok()) return Fail(req, session.status());
               return HttpResponse::Json(200, SessionJson(*session));
             },
             {.min_role = Role::kReadonly, .summary = "Get a session"});

  router.Add(
      "POST", "/v1/sessions/{id}/close",
      [&service](HttpRequest& req) {
        std::string reason = "manual";
        // The body is optional: an empty POST closes with the default reason.
        if (!req.body.empty()) {
          auto body = core::ParseJsonObjectBody(req);
          if (body.error) return *body.error;
          if (auto st = core::RejectUnknownFields(body.object, {"reason"}); !st.ok()) {
            return Fail(req, st);
          }
          auto given = core::OptionalString(body.object, "reason");
          if (!given.ok()) return Fail(req, given.status());
          if (*given) {
            // end_reason is a closed set that reports and consumers rely on.
            if (**given != "manual" && **given != "agent") {
              return Fail(req,
                          Status::InvalidArgument("field 'reason' must be 'manual' or 'agent'"));
            }
            reason = **given;
          }
        }
        auto session = service.CloseSession(TenantOf(req), SessionId(req.PathParam("id")), reason);
        if (!session.ok()) return Fail(req, session.status());
        return HttpResponse::Json(200, SessionJson(*session));
      },
      {.min_role = Role::kAgent, .summary = "Close an active session"});

  router.Add(
      "POST", "/v1/sessions/{id}/assign",
      [&service](HttpRequest& req) {
        auto body = core::ParseJsonObjectBody(req);
        if (body.error) return *body.error;
        if (auto st = core::RejectUnknownFields(body.object, {"type", "agent_id", "reason"});
            !st.ok()) {
          return Fail(req, st);
        }
        auto type = core::OptionalString(body.object, "type");
        if (!type.ok()) return Fail(req, type.status());
        if (!*type) return Fail(req, Status::InvalidArgument("field 'type' is required"));
        auto agent = core::OptionalString(body.object, "agent_id");
        if (!agent.ok()) return Fail(req, agent.status());
        auto reason = core::OptionalString(body.object, "reason");
        if (!reason.ok()) return Fail(req, reason.status());
        auto session = service.AssignSession(TenantOf(req), SessionId(req.PathParam("id")), **type,
                                             *agent, reason->value_or(""));
        if (!session.ok()) return Fail(req, session.status());
        return HttpResponse::Json(200, SessionJson(*session));
      },
      {.min_role = Role::kAgent,
       .summary = "Hand a session to a human (type human) or back to the AI agents (type ai)"});
}

// ---------------------------------------------------------------- messages

void RegisterMessageRoutes(core::Router& router, MessagingService& service) {
  router.Add("GET", "/v1/messages",
             [&service](HttpRequest& req) {
               auto params = ParseQueryParams(req, {"session_id", "contact_id", "limit", "cursor"});
               if (!params.ok()) return Fail(req, params.status());
               auto page = PageFrom(*params);
               if (!page.ok()) return Fail(req, page.status());
               auto session = IdParam<SessionId>(*params, "session_id");
               if (!session.ok()) return Fail(req, session.status());
               auto contact = IdParam<ContactId>(*params, "contact_id");
               if (!contact.ok()) return Fail(req, contact.status());
               auto messages = service.ListMessages(TenantOf(req), *session, *contact, *page);
               if (!messages.ok()) return Fail(req, messages.status());
               return HttpResponse::Json(
                   200, ListJson(messages->items, messages->next_cursor, MessageJson));
             },
             {.min_role = Role::kReadonly, .summary = "List messages (by session, by contact)"});

  router.Add("GET", "/v1/messages/{id}",
             [&service](HttpRequest& req) {
               auto message = service.GetMessage(TenantOf(req), MessageId(req.PathParam("id")));
               if (!message.ok()) return Fail(req, message.status());
               return HttpResponse::Json(200, MessageJson(*message));
             },
             {.min_role = Role::kReadonly, .summary = "Get a message"});

  router.Add("POST", "/v1/messages",
             [&service](HttpRequest& req) {
               auto body = core::ParseJsonObjectBody(req);
               if (body.error) return *body.error;
               const json::object& obj = body.object;
               if (auto st = core::RejectUnknownFields(
                       obj, {"contact_id", "chat_id", "text", "reply_to", "channel_id"});
                   !st.ok()) {
                 return Fail(req, st);
               }
               auto contact_id = core::OptionalString(obj, "contact_id");
               if (!contact_id.ok()) return Fail(req, contact_id.status());
               auto chat_id = core::OptionalString(obj, "chat_id");
               if (!chat_id.ok()) return Fail(req, chat_id.status());
               auto text = core::RequireString(obj, "text");
               if (!text.ok()) return Fail(req, text.status());
               auto reply_to = BoundedString(obj, "reply_to", kMaxReplyToLength, false);
               if (!reply_to.ok()) return Fail(req, reply_to.status());
               auto channel_id = core::OptionalString(obj, "channel_id");
               if (!channel_id.ok()) return Fail(req, channel_id.status());

               MessagingService::SendRequest send;
               if (*contact_id) send.contact = ContactId(**contact_id);
               send.chat_id = *chat_id;
               if (*channel_id) send.channel = ChannelId(**channel_id);
               send.text = std::move(*text);
               send.reply_to = *reply_to;
               send.source = "api";
               // Which integration asked, for the audit trail.
               json::object metadata;
               metadata["api_key_id"] = req.principal->api_key_id;
               send.metadata = json::serialize(metadata);
               auto message = service.RequestSend(TenantOf(req), send);
               if (!message.ok()) return Fail(req, message.status());
               // 202: stored and queued; WAHA is called asynchronously by the sender.
               return WithLocation(202, MessageJson(*message), "/v1/messages/" + message->id.str());
             },
             {.min_role = Role::kAgent, .summary = "Queue a text message to a contact or chat"});
}

}  // namespace

void RegisterMessagingRoutes(core::Router& router, MessagingService& service,
                             std::string public_base_url) {
  while (public_base_url.ends_with('/')) public_base_url.pop_back();
  RegisterChannelRoutes(router, service, public_base_url);
  RegisterContactRoutes(router, service);
  RegisterSessionRoutes(router, service);
  RegisterMessageRoutes(router, service);
}

}  // namespace ventros::crm
