#include "ventros/crm/messaging.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ventros/core/json.hpp"

namespace ventros::crm {

using core::DbValue;
namespace json = core::json;

namespace {

DbValue Opt(const std::optional<std::string>& v) { return v ? DbValue(*v) : DbValue(nullptr); }
DbValue Opt(const std::optional<int64_t>& v) { return v ? DbValue(*v) : DbValue(nullptr); }

constexpr const char* kChannelCols =
    "id, tenant_id, name, kind, waha_url, waha_api_key, waha_session, hmac_secret, status, "
    "session_timeout_ms, created_at, updated_at";

Channel ChannelFromRow(const core::DbRow& r) {
  Channel c;
  c.id = ChannelId(r.GetText(0));
  c.tenant_id = TenantId(r.GetText(1));
  c.name = r.GetText(2);
  c.kind = r.GetText(3);
  c.waha_url = r.GetText(4);
  c.waha_api_key = r.GetText(5);
  c.waha_session = r.GetText(6);
  c.hmac_secret = r.GetText(7);
  c.status = r.GetText(8);
  c.session_timeout_ms = r.GetOptInt(9);
  c.created_at = r.GetInt(10);
  c.updated_at = r.GetInt(11);
  return c;
}

constexpr const char* kContactCols =
    "id, tenant_id, phone, name, tags, custom_fields, utm_source, utm_medium, utm_campaign, "
    "utm_content, utm_term, first_seen_at, pipeline_stage, stage_entered_at, created_at, "
    "updated_at";

Contact ContactFromRow(const core::DbRow& r) {
  Contact c;
  c.id = ContactId(r.GetText(0));
  c.tenant_id = TenantId(r.GetText(1));
  c.phone = r.GetOptText(2);
  c.name = r.GetText(3);
  boost::system::error_code ec;
  auto tags = json::parse(r.GetText(4), ec);
  if (!ec && tags.is_array()) {
    for (const auto& t : tags.as_array()) {
      if (t.is_string()) c.tags.emplace_back(t.as_string());
    }
  }
  c.custom_fields = r.GetText(5);
  c.attribution.utm_source = r.GetOptText(6);
  c.attribution.utm_medium = r.GetOptText(7);
  c.attribution.utm_campaign = r.GetOptText(8);
  c.attribution.utm_content = r.GetOptText(9);
  c.attribution.utm_term = r.GetOptText(10);
  c.attribution.first_seen_at = r.GetOptInt(11);
  c.pipeline_stage = r.GetOptText(12);
  c.stage_entered_at = r.GetOptInt(13);
  c.created_at = r.GetInt(14);
  c.updated_at = r.GetInt(15);
  return c;
}

constexpr const char* kSessionCols =
    "id, tenant_id, contact_id, channel_id, status, started_at, first_message_at, "
    "last_message_at, ended_at, end_reason, message_count, timeout_ms, assigned_agent_type, "
    "assigned_agent_id";

Session SessionFromRow(const core::DbRow& r) {
  Session s;
  s.id = SessionId(r.GetText(0));
  s.tenant_id = TenantId(r.GetText(1));
  s.contact_id = ContactId(r.GetText(2));
  s.channel_id = ChannelId(r.GetText(3));
  s.status = r.GetText(4);
  s.started_at = r.GetInt(5);
  s.first_message_at = r.GetOptInt(6);
  s.last_message_at = r.GetOptInt(7);
  s.ended_at = r.GetOptInt(8);
  s.end_reason = r.GetOptText(9);
  s.message_count = r.GetInt(10);
  s.timeout_ms = r.GetInt(11);
  s.assigned_agent_type = r.GetOptText(12);
  s.assigned_agent_id = r.GetOptText(13);
  return s;
}

constexpr const char* kMessageCols =
    "id, tenant_id, channel_id, contact_id, session_id, chat_id, direction, from_me, source, type, "
    "body, sender_wa_id, media_mimetype, media_filename, media_url, media_path, media_size, "
    "media_sha256, media_state, media_error, waha_id, waha_bare_id, reply_to, ack, status, error, "
    "send_attempts, agent_id, metadata, reactions, message_at, edited_at, revoked_at, created_at";

Message MessageFromRow(const core::DbRow& r) {
  Message m;
  m.id = MessageId(r.GetText(0));
  m.tenant_id = TenantId(r.GetText(1));
  m.channel_id = ChannelId(r.GetText(2));
  m.contact_id = ContactId(r.GetText(3));
  if (!r.IsNull(4)) m.session_id = SessionId(r.GetText(4));
  m.chat_id = r.GetText(5);
  m.direction = r.GetText(6);
  m.from_me = r.GetInt(7) != 0;
  m.source = r.GetText(8);
  m.type = r.GetText(9);
  m.body = r.GetText(10);
  m.sender_wa_id = r.GetOptText(11);
  m.media.mimetype = r.GetOptText(12);
  m.media.filename = r.GetOptText(13);
  m.media.url = r.GetOptText(14);
  m.media.path = r.GetOptText(15);
  m.media.size = r.GetOptInt(16);
  m.media.sha256 = r.GetOptText(17);
  m.media.state = r.GetOptText(18);
  m.media.error = r.GetOptText(19);
  m.waha_id = r.GetOptText(20);
  m.waha_bare_id = r.GetOptText(21);
  m.reply_to = r.GetOptText(22);
  if (!r.IsNull(23)) m.ack = static_cast<int>(r.GetInt(23));
  m.status = r.GetText(24);
  m.error = r.GetOptText(25);
  m.send_attempts = static_cast<int>(r.GetInt(26));
  m.agent_id = r.GetOptText(27);
  m.metadata = r.GetText(28);
  m.reactions = r.GetText(29);
  m.message_at = r.GetInt(30);
  m.edited_at = r.GetOptInt(31);
  m.revoked_at = r.GetOptInt(32);
  m.created_at = r.GetInt(33);
  return m;
}

std::string TagsJson(const std::vector<std::string>& tags) {
  json::array a;
  for (const auto& t : tags) a.emplace_back(t);
  return json::serialize(a);
}

Status ValidText(const std::optional<std::string>& v, std::string_view field, size_t max,
                 bool required) {
  if (!v)
    return required ? Status::InvalidArgument(fmt::format("field '{}' is required", field))
                    : Status::Ok();
  if (required && v->empty()) {
    return Status::InvalidArgument(fmt::format("field '{}' must not be empty", field));
  }
  if (v->size() > max) {
    return Status::InvalidArgument(fmt::format("field '{}' is too long (at most {})", field, max));
  }
  return Status::Ok();
}

Result<std::string> ValidPhone(const std::string& raw) {
  std::string digits;
  for (char c : raw) {
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c != '+' && c != ' ' && c != '-' && c != '(' && c != ')') {
      return Status::InvalidArgument(
          fmt::format("phone '{}' has characters other than digits", raw));
    }
  }
  if (digits.size() < 8 || digits.size() > 15) {
    return Status::InvalidArgument(
        fmt::format("phone '{}' must have 8 to 15 digits (E.164, country code first)", raw));
  }
  return digits;
}

// Makes user text match literally inside a LIKE pattern (with ESCAPE '\').
std::string LikeEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

int ClampLimit(int limit) { return std::clamp(limit, 1, 200); }

template <typename T, typename F>
PageOf<T> MakePage(std::vector<T> items, int limit, F id_of) {
  PageOf<T> page;
  if (static_cast<int>(items.size()) > limit) {
    items.resize(limit);
    page.next_cursor = id_of(items.back());
  }
  page.items = std::move(items);
  return page;
}

std::string Json(std::initializer_list<std::pair<std::string_view, json::value>> fields) {
  json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return json::serialize(o);
}

json::value OptJ(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value OptTime(const std::optional<int64_t>& v) {
  return v ? json::value(core::FormatTimestamp(*v)) : json::value(nullptr);
}

}  // namespace

// ---------------------------------------------------------------- ids

std::string MessagingService::BareMessageId(std::string_view waha_id) {
  // {fromMe}_{chatId}_{msgId}[_{participant}]
  if (!(waha_id.starts_with("true_") || waha_id.starts_with("false_"))) {
    return std::string(waha_id);
  }
  size_t first = waha_id.find('_');
  size_t second = waha_id.find('_', first + 1);
  if (second == std::string_view::npos) return std::string(waha_id);
  size_t third = waha_id.find('_', second + 1);
  return std::string(waha_id.substr(
      second + 1, third == std::string_view::npos ? std::string_view::npos : third - second - 1));
}

std::string MessagingService::NormalizeWaId(std::string_view wa_id) {
  constexpr std::string_view kLegacy = "@s.whatsapp.net";
  if (wa_id.ends_with(kLegacy)) {
    std::string_view user = wa_id.substr(0, wa_id.size() - kLegacy.size());
    user = user.substr(0, user.find(':'));  // device suffix "5511...:12@s.whatsapp.net"
    return std::string(user) + "@c.us";
  }
  return std::string(wa_id);
}

std::string MessagingService::PhoneOf(std::string_view wa_id) {
  if (!wa_id.ends_with("@c.us")) return {};
  std::string_view user = wa_id.substr(0, wa_id.size() - 5);
  if (user.empty() ||
      !std::all_of(user.begin(), user.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return {};
  }
  return std::string(user);
}

// ---------------------------------------------------------------- events

Status MessagingService::Emit(core::Connection& conn, const std::string& type,
                              const TenantId& tenant, const std::string& key,
                              const std::string& payload) {
  return core::AppendEvent(conn, clock_, type, tenant.str(), key, payload);
}

Status MessagingService::AddContactEvent(core::Connection& conn, const TenantId& tenant,
                                         const ContactId& contact, const std::string& category,
                                         const std::string& summary,
                                         const std::string& metadata_json) {
  int64_t now = clock_.NowMillis();
  auto r = conn.Query(
      "INSERT INTO contact_events (id, tenant_id, contact_id, category, summary, metadata, "
      "occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
      {DbValue(core::NewUuidV7(clock_)), DbValue(tenant.str()), DbValue(contact.str()),
       DbValue(category), DbValue(summary), DbValue(metadata_json), DbValue(now)});
  return r.ok() ? Status::Ok() : r.status();
}

// ---------------------------------------------------------------- channels

Result<Channel> MessagingService::CreateChannel(const TenantId& tenant, const ChannelInput& in) {
  VENTROS_RETURN_IF_ERROR(ValidText(in.name, "name", 200, true));
  VENTROS_RETURN_IF_ERROR(ValidText(in.waha_url, "waha_url", 2000, true));
  if (!(in.waha_url->starts_with("http://") || in.waha_url->starts_with("https://"))) {
    return Status::InvalidArgument("field 'waha_url' must be an http:// or https:// URL");
  }
  VENTROS_RETURN_IF_ERROR(ValidText(in.waha_session, "waha_session", 200, false));
  VENTROS_RETURN_IF_ERROR(ValidText(in.waha_api_key, "waha_api_key", 500, false));
  VENTROS_RETURN_IF_ERROR(ValidText(in.hmac_secret, "hmac_secret", 500, false));
  if (in.session_timeout_ms && *in.session_timeout_ms && **in.session_timeout_ms < 60000) {
    return Status::InvalidArgument("field 'session_timeout_ms' must be at least 60000");
  }
  Channel c;
  c.id = ChannelId(core::NewUuidV7(clock_));
  c.tenant_id = tenant;
  c.name = *in.name;
  c.waha_url = *in.waha_url;
  while (c.waha_url.ends_with('/')) c.waha_url.pop_back();
  c.waha_api_key = in.waha_api_key.value_or("");
  c.waha_session = in.waha_session.value_or("default");
  if (c.waha_session.empty()) c.waha_session = "default";
  c.hmac_secret = in.hmac_secret.value_or("");
  if (in.session_timeout_ms) c.session_timeout_ms = *in.session_timeout_ms;
  c.created_at = c.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  auto r = conn->Query(
      "INSERT INTO channels (id, tenant_id, name, kind, waha_url, waha_api_key, waha_session, "
      "hmac_secret, status, session_timeout_ms, created_at, updated_at) "
      "VALUES ($1, $2, $3, 'waha', $4, $5, $6, $7, 'UNKNOWN', $8, $9, $9)",
      {DbValue(c.id.str()), DbValue(tenant.str()), DbValue(c.name), DbValue(c.waha_url),
       DbValue(c.waha_api_key), DbValue(c.waha_session), DbValue(c.hmac_secret),
       Opt(c.session_timeout_ms), DbValue(c.created_at)});
  if (!r.ok()) return r.status();
  return c;
}

Result<std::vector<Channel>> MessagingService::ListChannels(const TenantId& tenant) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM channels WHERE tenant_id = $1 AND deleted_at IS NULL "
                              "ORDER BY id",
                              kChannelCols),
                  {DbValue(tenant.str())}));
  std::vector<Channel> out;
  for (const auto& r : rows.rows) out.push_back(ChannelFromRow(r));
  return out;
}

Result<Channel> MessagingService::GetChannel(const TenantId& tenant, const ChannelId& id) {
  VENTROS_ASSIGN_OR_RETURN(Channel c, GetChannelById(id));
  if (c.tenant_id != tenant) return Status::NotFound(fmt::format("channel {} not found", id.str()));
  return c;
}

Result<Channel> MessagingService::GetChannelById(const ChannelId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("channel {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(
          fmt::format("SELECT {} FROM channels WHERE id = $1 AND deleted_at IS NULL", kChannelCols),
          {DbValue(id.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("channel {} not found", id.str()));
  return ChannelFromRow(rows.rows[0]);
}

Result<Channel> MessagingService::UpdateChannel(const TenantId& tenant, const ChannelId& id,
                                                const ChannelInput& in) {
  VENTROS_ASSIGN_OR_RETURN(Channel c, GetChannel(tenant, id));
  if (in.name) {
    VENTROS_RETURN_IF_ERROR(ValidText(in.name, "name", 200, true));
    c.name = *in.name;
  }
  if (in.waha_url) {
    VENTROS_RETURN_IF_ERROR(ValidText(in.waha_url, "waha_url", 2000, true));
    if (!(in.waha_url->starts_with("http://") || in.waha_url->starts_with("https://"))) {
      return Status::InvalidArgument("field 'waha_url' must be an http:// or https:// URL");
    }
    c.waha_url = *in.waha_url;
    while (c.waha_url.ends_with('/')) c.waha_url.pop_back();
  }
  VENTROS_RETURN_IF_ERROR(ValidText(in.waha_session, "waha_session", 200, false));
  VENTROS_RETURN_IF_ERROR(ValidText(in.waha_api_key, "waha_api_key", 500, false));
  VENTROS_RETURN_IF_ERROR(ValidText(in.hmac_secret, "hmac_secret", 500, false));
  if (in.waha_api_key) c.waha_api_key = *in.waha_api_key;
  if (in.waha_session) c.waha_session = in.waha_session->empty() ? "default" : *in.waha_session;
  if (in.hmac_secret) c.hmac_secret = *in.hmac_secret;
  if (in.session_timeout_ms) {
    if (*in.session_timeout_ms && **in.session_timeout_ms < 60000) {
      return Status::InvalidArgument("field 'session_timeout_ms' must be at least 60000");
    }
    c.session_timeout_ms = *in.session_timeout_ms;
  }
  c.updated_at = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  auto r = conn->Query(
      "UPDATE channels SET name = $1, waha_url = $2, waha_api_key = $3, waha_session = $4, "
      "hmac_secret = $5, session_timeout_ms = $6, updated_at = $7 WHERE id = $8 AND tenant_id = $9",
      {DbValue(c.name), DbValue(c.waha_url), DbValue(c.waha_api_key), DbValue(c.waha_session),
       DbValue(c.hmac_secret), Opt(c.session_timeout_ms), DbValue(c.updated_at),
       DbValue(c.id.str()), DbValue(tenant.str())});
  if (!r.ok()) return r.status();
  return c;
}

Status MessagingService::DeleteChannel(const TenantId& tenant, const ChannelId& id) {
  VENTROS_ASSIGN_OR_RETURN(Channel c, GetChannel(tenant, id));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  // Soft delete: its messages and sessions keep pointing at it.
  auto r = conn->Query("UPDATE channels SET deleted_at = $1 WHERE id = $2 AND tenant_id = $3",
                       {DbValue(clock_.NowMillis()), DbValue(c.id.str()), DbValue(tenant.str())});
  return r.ok() ? Status::Ok() : r.status();
}

Status MessagingService::SetChannelStatus(core::Connection& conn, const Channel& channel,
                                          const std::string& status) {
  VENTROS_ASSIGN_OR_RETURN(auto rows, conn.Query("SELECT status FROM channels WHERE id = $1",
                                                 {DbValue(channel.id.str())}));
  if (rows.empty()) return Status::NotFound("channel not found");
  std::string previous = rows.rows[0].GetText(0);
  if (previous == status) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(
      auto upd,
      conn.Query("UPDATE channels SET status = $1, updated_at = $2 WHERE id = $3",
                 {DbValue(status), DbValue(clock_.NowMillis()), DbValue(channel.id.str())}));
  (void)upd;
  return Emit(conn, "channel.status_changed", channel.tenant_id, channel.id.str(),
              Json({{"channel_id", json::value(channel.id.str())},
                    {"previous", json::value(previous)},
                    {"status", json::value(status)}}));
}

// ---------------------------------------------------------------- contacts

Result<Contact> MessagingService::LoadContact(core::Connection& conn, const TenantId& tenant,
                                              const ContactId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("contact {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn.Query(fmt::format("SELECT {} FROM contacts WHERE id = $1 AND tenant_id = $2",
                                        kContactCols),
                            {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("contact {} not found", id.str()));
  std::vector<Contact> one = {ContactFromRow(rows.rows[0])};
  VENTROS_RETURN_IF_ERROR(FillWaIds(conn, tenant, one));
  return std::move(one[0]);
}

Result<bool> MessagingService::AddIdentity(core::Connection& conn, const TenantId& tenant,
                                           const std::string& wa_id, const ContactId& contact,
                                           int64_t now) {
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn.Query("INSERT INTO contact_identities (tenant_id, wa_id, contact_id, created_at) "
                 "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                 {DbValue(tenant.str()), DbValue(wa_id), DbValue(contact.str()), DbValue(now)}));
  return r.affected_rows > 0;
}

Status MessagingService::FillWaIds(core::Connection& conn, const TenantId& tenant,
                                   std::vector<Contact>& contacts) {
  if (contacts.empty()) return Status::Ok();
  // One query for a whole page of contacts, by the contact index. The tenant is checked on each
  // row and the ids sorted here: with `tenant_id = ?` or `ORDER BY wa_id` in the SQL, SQLite walks
  // the tenant's whole identity table in key order instead (1.4 ms per contact at 20k contacts).
  std::vector<DbValue> params;
  std::string in;
  for (const auto& c : contacts) {
    params.emplace_back(c.id.str());
    in += fmt::format("{}${}", in.empty() ? "" : ", ", params.size());
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(fmt::format("SELECT contact_id, wa_id, tenant_id FROM contact_identities WHERE "
                             "contact_id IN ({})",
                             in),
                 params));
  for (auto& c : contacts) c.wa_ids.clear();
  for (const auto& r : rows.rows) {
    if (r.GetText(2) != tenant.str()) continue;
    std::string owner = r.GetText(0);
    for (auto& c : contacts) {
      if (c.id.str() == owner) c.wa_ids.push_back(r.GetText(1));
    }
  }
  for (auto& c : contacts) std::sort(c.wa_ids.begin(), c.wa_ids.end());
  return Status::Ok();
}

Result<Contact> MessagingService::CreateContact(const TenantId& tenant, const ContactInput& in) {
  VENTROS_RETURN_IF_ERROR(ValidText(in.name, "name", 200, false));
  std::optional<std::string> phone;
  if (in.phone) {
    VENTROS_ASSIGN_OR_RETURN(std::string p, ValidPhone(*in.phone));
    phone = p;
  }
  if (!phone && !in.name) {
    return Status::InvalidArgument("a contact needs at least a 'phone' or a 'name'");
  }
  int64_t now = clock_.NowMillis();
  Contact c;
  c.id = ContactId(core::NewUuidV7(clock_));
  c.tenant_id = tenant;
  c.phone = phone;
  c.name = in.name.value_or("");
  c.tags = in.tags.value_or(std::vector<std::string>{});
  c.custom_fields = in.custom_fields.value_or("{}");
  c.attribution = in.attribution;
  if (!c.attribution.first_seen_at) c.attribution.first_seen_at = now;
  c.pipeline_stage = in.pipeline_stage;
  if (c.pipeline_stage) c.stage_entered_at = now;
  c.created_at = c.updated_at = now;
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  auto r = conn->Query(
      fmt::format("INSERT INTO contacts ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                  "$12, $13, $14, $15, $15)",
                  kContactCols),
      {DbValue(c.id.str()), DbValue(tenant.str()), Opt(c.phone), DbValue(c.name),
       DbValue(TagsJson(c.tags)), DbValue(c.custom_fields), Opt(c.attribution.utm_source),
       Opt(c.attribution.utm_medium), Opt(c.attribution.utm_campaign),
       Opt(c.attribution.utm_content), Opt(c.attribution.utm_term),
       Opt(c.attribution.first_seen_at), Opt(c.pipeline_stage), Opt(c.stage_entered_at),
       DbValue(now)});
  if (!r.ok()) {
    if (r.status().code() == core::StatusCode::kAlreadyExists) {
      return Status::AlreadyExists(fmt::format("a contact with phone {} already exists", *c.phone));
    }
    return r.status();
  }
  if (c.phone) {
    std::string wa = *c.phone + "@c.us";
    VENTROS_ASSIGN_OR_RETURN(bool ident, AddIdentity(*conn, tenant, wa, c.id, now));
    (void)ident;
    c.wa_ids.push_back(wa);
  }
  VENTROS_RETURN_IF_ERROR(Emit(*conn, "contact.created", tenant, c.id.str(), ContactJson(c)));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return c;
}

Result<Contact> MessagingService::GetContact(const TenantId& tenant, const ContactId& id) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  return LoadContact(*conn, tenant, id);
}

Result<Contact> MessagingService::UpdateContact(const TenantId& tenant, const ContactId& id,
                                                const ContactInput& in) {
  VENTROS_RETURN_IF_ERROR(ValidText(in.name, "name", 200, false));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(Contact c, LoadContact(*conn, tenant, id));
  int64_t now = clock_.NowMillis();
  std::optional<std::string> old_stage = c.pipeline_stage;
  std::optional<std::string> old_phone = c.phone;
  if (in.phone) {
    VENTROS_ASSIGN_OR_RETURN(std::string p, ValidPhone(*in.phone));
    c.phone = p;
  }
  if (in.name) c.name = *in.name;
  if (in.tags) c.tags = *in.tags;
  if (in.custom_fields) c.custom_fields = *in.custom_fields;
  auto& a = in.attribution;
  if (a.utm_source) c.attribution.utm_source = a.utm_source;
  if (a.utm_medium) c.attribution.utm_medium = a.utm_medium;
  if (a.utm_campaign) c.attribution.utm_campaign = a.utm_campaign;
  if (a.utm_content) c.attribution.utm_content = a.utm_content;
  if (a.utm_term) c.attribution.utm_term = a.utm_term;
  if (in.pipeline_stage && in.pipeline_stage != old_stage) {
    c.pipeline_stage = in.pipeline_stage;
    c.stage_entered_at = now;
  }
  c.updated_at = now;
  auto r = conn->Query(
      "UPDATE contacts SET phone = $1, name = $2, tags = $3, custom_fields = $4, utm_source = $5, "
      "utm_medium = $6, utm_campaign = $7, utm_content = $8, utm_term = $9, pipeline_stage = $10, "
      "stage_entered_at = $11, updated_at = $12 WHERE id = $13 AND tenant_id = $14",
      {Opt(c.phone), DbValue(c.name), DbValue(TagsJson(c.tags)), DbValue(c.custom_fields),
       Opt(c.attribution.utm_source), Opt(c.attribution.utm_medium),
       Opt(c.attribution.utm_campaign), Opt(c.attribution.utm_content), Opt(c.attribution.utm_term),
       Opt(c.pipeline_stage), Opt(c.stage_entered_at), DbValue(now), DbValue(c.id.str()),
       DbValue(tenant.str())});
  if (!r.ok()) {
    if (r.status().code() == core::StatusCode::kAlreadyExists) {
      return Status::AlreadyExists(fmt::format("a contact with phone {} already exists", *c.phone));
    }
    return r.status();
  }
  if (c.phone && c.phone != old_phone) {
    // The old number is no longer this contact's: drop its identity so nothing is sent there.
    if (old_phone) {
      VENTROS_ASSIGN_OR_RETURN(
          auto drop,
          conn->Query("DELETE FROM contact_identities WHERE tenant_id = $1 AND "
                      "wa_id = $2 AND contact_id = $3",
                      {DbValue(tenant.str()), DbValue(*old_phone + "@c.us"), DbValue(c.id.str())}));
      (void)drop;
    }
    VENTROS_ASSIGN_OR_RETURN(bool ident, AddIdentity(*conn, tenant, *c.phone + "@c.us", c.id, now));
    (void)ident;
  }
  {
    std::vector<Contact> one = {c};
    VENTROS_RETURN_IF_ERROR(FillWaIds(*conn, tenant, one));
    c.wa_ids = std::move(one[0].wa_ids);
  }
  if (c.pipeline_stage != old_stage) {
    VENTROS_RETURN_IF_ERROR(
        AddContactEvent(*conn, tenant, c.id, "stage_changed",
                        fmt::format("Stage changed from {} to {}", old_stage.value_or("(none)"),
                                    c.pipeline_stage.value_or("(none)")),
                        Json({{"from", OptJ(old_stage)}, {"to", OptJ(c.pipeline_stage)}})));
  }
  VENTROS_RETURN_IF_ERROR(Emit(*conn, "contact.updated", tenant, c.id.str(), ContactJson(c)));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return c;
}

Result<PageOf<Contact>> MessagingService::ListContacts(const TenantId& tenant,
                                                       const ContactFilter& filter,
                                                       const Page& page) {
  int limit = ClampLimit(page.limit);
  std::vector<DbValue> params = {DbValue(tenant.str())};
  std::string where = "tenant_id = $1";
  if (!page.cursor.empty()) {
    params.emplace_back(page.cursor);
    where += fmt::format(" AND id > ${}", params.size());
  }
  if (filter.query && !filter.query->empty()) {
    std::string lowered;
    for (char ch : *filter.query)
      lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    params.emplace_back("%" + LikeEscape(lowered) + "%");
    where += fmt::format(" AND (LOWER(name) LIKE ${0} ESCAPE '\\' OR phone LIKE ${0} ESCAPE '\\')",
                         params.size());
  }
  if (filter.stage) {
    params.emplace_back(*filter.stage);
    where += fmt::format(" AND pipeline_stage = ${}", params.size());
  }
  if (filter.tag) {
    // Tags are a JSON array of strings: match the quoted element in its text form.
    params.emplace_back("%" + LikeEscape(json::serialize(json::value(*filter.tag))) + "%");
    where += fmt::format(" AND CAST(tags AS TEXT) LIKE ${} ESCAPE '\\'", params.size());
  }
  params.emplace_back(int64_t{limit + 1});
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM contacts WHERE {} ORDER BY id LIMIT ${}",
                                         kContactCols, where, params.size()),
                             params));
  std::vector<Contact> items;
  for (const auto& r : rows.rows) items.push_back(ContactFromRow(r));
  VENTROS_RETURN_IF_ERROR(FillWaIds(*conn, tenant, items));
  return MakePage(std::move(items), limit, [](const Contact& c) { return c.id.str(); });
}

Result<PageOf<ContactEvent>> MessagingService::ListContactEvents(const TenantId& tenant,
                                                                 const ContactId& id,
                                                                 const Page& page) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(Contact c, LoadContact(*conn, tenant, id));
  int limit = ClampLimit(page.limit);
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query("SELECT id, contact_id, category, summary, metadata, occurred_at FROM "
                             "contact_events WHERE tenant_id = $1 AND contact_id = $2 AND id > $3 "
                             "ORDER BY id LIMIT $4",
                             {DbValue(tenant.str()), DbValue(c.id.str()), DbValue(page.cursor),
                              DbValue(int64_t{limit + 1})}));
  std::vector<ContactEvent> items;
  for (const auto& r : rows.rows) {
    items.push_back({r.GetText(0), ContactId(r.GetText(1)), r.GetText(2), r.GetText(3),
                     r.GetText(4), r.GetInt(5)});
  }
  return MakePage(std::move(items), limit, [](const ContactEvent& e) { return e.id; });
}

// ---------------------------------------------------------------- sessions

Status MessagingService::EndSession(core::Connection& conn, const Session& s, int64_t at,
                                    const std::string& reason, bool* ended) {
  if (ended) *ended = false;
  // A timeout only ends a session that is still silent: a message may have come in since it
  // was found expired.
  bool timeout = reason == "inactivity_timeout";
  std::vector<DbValue> params = {DbValue(at), DbValue(reason), DbValue(clock_.NowMillis()),
                                 DbValue(s.id.str())};
  if (timeout) params.emplace_back(at);
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn.Query(
          std::string("UPDATE sessions SET status = 'ended', ended_at = $1, "
                      "end_reason = $2, updated_at = $3 WHERE id = $4 AND status = 'active'") +
              (timeout ? " AND COALESCE(last_message_at, started_at) + timeout_ms <= $5" : ""),
          params));
  if (r.affected_rows == 0) return Status::Ok();  // someone else ended it
  if (ended) *ended = true;
  Session closed = s;
  closed.status = "ended";
  closed.ended_at = at;
  closed.end_reason = reason;
  VENTROS_RETURN_IF_ERROR(
      Emit(conn, "session.ended", s.tenant_id, s.contact_id.str(), SessionJson(closed)));
  return AddContactEvent(
      conn, s.tenant_id, s.contact_id, "session_ended",
      fmt::format("Conversation ended ({}), {} messages", reason, s.message_count),
      Json({{"session_id", json::value(s.id.str())}, {"reason", json::value(reason)}}));
}

Result<Session> MessagingService::ActiveSessionFor(core::Connection& conn, const Channel& channel,
                                                   const ContactId& contact, int64_t at) {
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(fmt::format("SELECT {} FROM sessions WHERE contact_id = $1 AND channel_id = $2 "
                             "AND status = 'active'",
                             kSessionCols),
                 {DbValue(contact.str()), DbValue(channel.id.str())}));
  if (!rows.empty()) {
    Session s = SessionFromRow(rows.rows[0]);
    int64_t last = s.last_message_at.value_or(s.started_at);
    if (at <= last + s.timeout_ms) return s;
    VENTROS_RETURN_IF_ERROR(EndSession(conn, s, last + s.timeout_ms, "inactivity_timeout"));
  }
  Session s;
  s.id = SessionId(core::NewUuidV7(clock_));
  s.tenant_id = channel.tenant_id;
  s.contact_id = contact;
  s.channel_id = channel.id;
  s.status = "active";
  s.started_at = at;
  s.timeout_ms = channel.session_timeout_ms.value_or(default_session_timeout_ms_);
  int64_t now = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto ins,
      conn.Query("INSERT INTO sessions (id, tenant_id, contact_id, channel_id, status, started_at, "
                 "message_count, timeout_ms, created_at, updated_at) "
                 "VALUES ($1, $2, $3, $4, 'active', $5, 0, $6, $7, $7)",
                 {DbValue(s.id.str()), DbValue(s.tenant_id.str()), DbValue(contact.str()),
                  DbValue(channel.id.str()), DbValue(at), DbValue(s.timeout_ms), DbValue(now)}));
  (void)ins;
  VENTROS_RETURN_IF_ERROR(
      Emit(conn, "session.started", s.tenant_id, contact.str(), SessionJson(s)));
  VENTROS_RETURN_IF_ERROR(AddContactEvent(conn, s.tenant_id, contact, "session_started",
                                          fmt::format("Conversation started on {}", channel.name),
                                          Json({{"session_id", json::value(s.id.str())},
                                                {"channel_id", json::value(channel.id.str())}})));
  return s;
}

Result<Session> MessagingService::GetSession(const TenantId& tenant, const SessionId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("session {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM sessions WHERE id = $1 AND tenant_id = $2",
                                         kSessionCols),
                             {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("session {} not found", id.str()));
  return SessionFromRow(rows.rows[0]);
}

Result<Session> MessagingService::GetSession(core::Connection& conn, const TenantId& tenant,
                                             const SessionId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("session {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn.Query(fmt::format("SELECT {} FROM sessions WHERE id = $1 AND tenant_id = $2",
                                        kSessionCols),
                            {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("session {} not found", id.str()));
  return SessionFromRow(rows.rows[0]);
}

Result<Session> MessagingService::AssignSession(const TenantId& tenant, const SessionId& id,
                                                const std::string& agent_type,
                                                const std::optional<std::string>& agent_id,
                                                const std::string& reason) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(Session s,
                           AssignSession(*conn, tenant, id, agent_type, agent_id, reason));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return s;
}

Result<Session> MessagingService::AssignSession(core::Connection& conn, const TenantId& tenant,
                                                const SessionId& id, const std::string& agent_type,
                                                const std::optional<std::string>& agent_id,
                                                const std::string& reason) {
  if (agent_type != "ai" && agent_type != "human") {
    return Status::InvalidArgument("field 'type' must be \"ai\" or \"human\"");
  }
  if (agent_id && agent_id->size() > 200) {
    return Status::InvalidArgument("field 'agent_id' is too long (at most 200)");
  }
  if (reason.size() > 2000) return Status::InvalidArgument("field 'reason' is too long");
  VENTROS_ASSIGN_OR_RETURN(Session s, GetSession(conn, tenant, id));
  if (s.status != "active") {
    return Status::Conflict(fmt::format("session {} has ended", id.str()));
  }
  std::string previous = s.assigned_agent_type.value_or("ai");
  int64_t now = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn.Query("UPDATE sessions SET assigned_agent_type = $1, assigned_agent_id = $2, "
                           "updated_at = $3 WHERE id = $4 AND tenant_id = $5",
                           {DbValue(agent_type), Opt(agent_id), DbValue(now), DbValue(id.str()),
                            DbValue(tenant.str())}));
  (void)upd;
  s.assigned_agent_type = agent_type;
  s.assigned_agent_id = agent_id;
  json::object payload = json::parse(SessionJson(s)).as_object();
  payload["previous_agent_type"] = previous;
  payload["reason"] = reason;
  VENTROS_RETURN_IF_ERROR(
      Emit(conn, "session.assigned", tenant, s.contact_id.str(), json::serialize(payload)));
  if (previous != agent_type) {
    json::object meta{
        {"session_id", s.id.str()}, {"from", previous}, {"to", agent_type}, {"reason", reason}};
    if (agent_id) meta["agent_id"] = *agent_id;
    VENTROS_RETURN_IF_ERROR(AddContactEvent(
        conn, tenant, s.contact_id, agent_type == "human" ? "handoff" : "handback",
        agent_type == "human"
            ? "Conversation handed to a human" + (reason.empty() ? std::string() : ": " + reason)
            : "Conversation handed back to the AI agents",
        json::serialize(meta)));
  }
  return s;
}

Result<PageOf<Session>> MessagingService::ListSessions(const TenantId& tenant,
                                                       std::optional<ContactId> contact,
                                                       std::optional<std::string> status,
                                                       const Page& page) {
  int limit = ClampLimit(page.limit);
  std::vector<DbValue> params = {DbValue(tenant.str()), DbValue(page.cursor)};
  std::string where = "tenant_id = $1 AND id > $2";
  if (contact) {
    params.emplace_back(contact->str());
    where += fmt::format(" AND contact_id = ${}", params.size());
  }
  if (status) {
    params.emplace_back(*status);
    where += fmt::format(" AND status = ${}", params.size());
  }
  params.emplace_back(int64_t{limit + 1});
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM sessions WHERE {} ORDER BY id LIMIT ${}",
                                         kSessionCols, where, params.size()),
                             params));
  std::vector<Session> items;
  for (const auto& r : rows.rows) items.push_back(SessionFromRow(r));
  return MakePage(std::move(items), limit, [](const Session& s) { return s.id.str(); });
}

Result<Session> MessagingService::CloseSession(const TenantId& tenant, const SessionId& id,
                                               const std::string& reason) {
  VENTROS_ASSIGN_OR_RETURN(Session s, GetSession(tenant, id));
  if (s.status != "active") {
    return Status::Conflict(fmt::format("session {} has already ended", id.str()));
  }
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  int64_t now = clock_.NowMillis();
  bool ended = false;
  VENTROS_RETURN_IF_ERROR(EndSession(*conn, s, now, reason, &ended));
  if (!ended) return Status::Conflict(fmt::format("session {} has already ended", id.str()));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  s.status = "ended";
  s.ended_at = now;
  s.end_reason = reason;
  return s;
}

Result<int> MessagingService::EndExpiredSessions() {
  int64_t now = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn->Query(fmt::format("SELECT {} FROM sessions WHERE status = 'active' AND "
                              "COALESCE(last_message_at, started_at) + timeout_ms <= $1 LIMIT 500",
                              kSessionCols),
                  {DbValue(now)}));
  int ended = 0;
  for (const auto& r : rows.rows) {
    Session s = SessionFromRow(r);
    VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
    VENTROS_RETURN_IF_ERROR(EndSession(
        *conn, s, s.last_message_at.value_or(s.started_at) + s.timeout_ms, "inactivity_timeout"));
    VENTROS_RETURN_IF_ERROR(tx.Commit());
    ++ended;
  }
  if (ended && bus_) bus_->Notify();
  return ended;
}

// ---------------------------------------------------------------- messages

Result<Message> MessagingService::GetMessage(const TenantId& tenant, const MessageId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("message {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM messages WHERE id = $1 AND tenant_id = $2",
                                         kMessageCols),
                             {DbValue(id.str()), DbValue(tenant.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("message {} not found", id.str()));
  return MessageFromRow(rows.rows[0]);
}

Result<PageOf<Message>> MessagingService::ListMessages(const TenantId& tenant,
                                                       std::optional<SessionId> session,
                                                       std::optional<ContactId> contact,
                                                       const Page& page) {
  int limit = ClampLimit(page.limit);
  std::vector<DbValue> params = {DbValue(tenant.str()), DbValue(page.cursor)};
  std::string where = "tenant_id = $1 AND id > $2";
  if (session) {
    params.emplace_back(session->str());
    where += fmt::format(" AND session_id = ${}", params.size());
  }
  if (contact) {
    params.emplace_back(contact->str());
    where += fmt::format(" AND contact_id = ${}", params.size());
  }
  params.emplace_back(int64_t{limit + 1});
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM messages WHERE {} ORDER BY id LIMIT ${}",
                                         kMessageCols, where, params.size()),
                             params));
  std::vector<Message> items;
  for (const auto& r : rows.rows) items.push_back(MessageFromRow(r));
  return MakePage(std::move(items), limit, [](const Message& m) { return m.id.str(); });
}

Result<Message> MessagingService::RequestSend(const TenantId& tenant, const SendRequest& req) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(Message m, RequestSend(*conn, tenant, req));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return m;
}

Result<Message> MessagingService::RequestSend(core::Connection& connection, const TenantId& tenant,
                                              const SendRequest& req) {
  if (req.contact.has_value() == req.chat_id.has_value()) {
    return Status::InvalidArgument("give exactly one of 'contact_id' and 'chat_id'");
  }
  if (req.text.empty()) return Status::InvalidArgument("field 'text' must not be empty");
  if (req.text.size() > 65536)
    return Status::InvalidArgument("field 'text' is too long (at most 65536)");
  core::Connection* conn = &connection;
  int64_t now = clock_.NowMillis();
  Contact contact;
  std::string chat_id;
  if (req.contact) {
    VENTROS_ASSIGN_OR_RETURN(contact, LoadContact(*conn, tenant, *req.contact));
    // Prefer the current phone; another known id (a @lid) works as well.
    if (contact.phone) chat_id = *contact.phone + "@c.us";
    if (chat_id.empty() && !contact.wa_ids.empty()) chat_id = contact.wa_ids.front();
    if (chat_id.empty()) {
      return Status::InvalidArgument(
          fmt::format("contact {} has no WhatsApp id or phone to send to", req.contact->str()));
    }
  } else {
    chat_id = NormalizeWaId(*req.chat_id);
    if (chat_id.find('@') == std::string::npos) {
      VENTROS_ASSIGN_OR_RETURN(std::string digits, ValidPhone(chat_id));
      chat_id = digits + "@c.us";
    }
    InboundMessage probe;
    probe.chat_id = chat_id;
    probe.contact_wa_id = chat_id;
    bool created = false;
    VENTROS_ASSIGN_OR_RETURN(contact, FindOrCreateContact(*conn, tenant, probe, &created));
  }
  // The channel: given, else the contact's latest session's, else the tenant's only channel.
  Channel channel;
  if (req.channel) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(
            fmt::format(
                "SELECT {} FROM channels WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL",
                kChannelCols),
            {DbValue(req.channel->str()), DbValue(tenant.str())}));
    if (rows.empty())
      return Status::NotFound(fmt::format("channel {} not found", req.channel->str()));
    channel = ChannelFromRow(rows.rows[0]);
  } else {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows,
        conn->Query(
            fmt::format("SELECT {} FROM channels c WHERE tenant_id = $1 AND deleted_at IS "
                        "NULL ORDER BY (SELECT MAX(s.started_at) FROM sessions s WHERE "
                        "s.channel_id = c.id AND s.contact_id = $2) DESC NULLS LAST, id LIMIT 2",
                        kChannelCols),
            {DbValue(tenant.str()), DbValue(contact.id.str())}));
    if (rows.empty()) return Status::InvalidArgument("the tenant has no channel to send through");
    channel = ChannelFromRow(rows.rows[0]);
  }
  VENTROS_ASSIGN_OR_RETURN(Session session, ActiveSessionFor(*conn, channel, contact.id, now));
  Message m;
  m.id = MessageId(core::NewUuidV7(clock_));
  m.tenant_id = tenant;
  m.channel_id = channel.id;
  m.contact_id = contact.id;
  m.session_id = session.id;
  m.chat_id = chat_id;
  m.direction = "out";
  m.from_me = true;
  m.source = req.source;
  m.type = "text";
  m.body = req.text;
  m.reply_to = req.reply_to;
  m.status = "queued";
  m.agent_id = req.agent_id;
  m.metadata = req.metadata;
  m.message_at = now;
  m.created_at = now;
  auto ins = conn->Query(
      "INSERT INTO messages (id, tenant_id, channel_id, contact_id, session_id, chat_id, "
      "direction, from_me, source, type, body, reply_to, status, agent_id, metadata, message_at, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'out', 1, $7, 'text', $8, $9, "
      "'queued', $10, $11, $12, $12, $12)",
      {DbValue(m.id.str()), DbValue(tenant.str()), DbValue(channel.id.str()),
       DbValue(contact.id.str()), DbValue(session.id.str()), DbValue(chat_id), DbValue(m.source),
       DbValue(m.body), Opt(m.reply_to), Opt(m.agent_id), DbValue(m.metadata), DbValue(now)});
  if (!ins.ok()) return ins.status();
  VENTROS_ASSIGN_OR_RETURN(
      auto upd,
      conn->Query("UPDATE sessions SET message_count = message_count + 1, "
                  "first_message_at = COALESCE(first_message_at, $1), last_message_at = $1, "
                  "updated_at = $1 WHERE id = $2",
                  {DbValue(now), DbValue(session.id.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(
      Emit(*conn, "message.send_requested", tenant, contact.id.str(), MessageJson(m)));
  return m;
}

Result<Contact> MessagingService::FindOrCreateContact(core::Connection& conn,
                                                      const TenantId& tenant,
                                                      const InboundMessage& m, bool* created) {
  *created = false;
  bool group = m.contact_wa_id.ends_with("@g.us");
  if (!m.alternate_wa_id || m.alternate_wa_id->empty()) {
    // Fast path (most messages): a known id whose contact needs no update; callers only need
    // the id, so the contact is not loaded in full.
    VENTROS_ASSIGN_OR_RETURN(
        auto known,
        conn.Query("SELECT c.id, c.name, c.phone FROM contact_identities i JOIN contacts c ON "
                   "c.id = i.contact_id WHERE i.tenant_id = $1 AND i.wa_id = $2",
                   {DbValue(tenant.str()), DbValue(m.contact_wa_id)}));
    if (!known.empty()) {
      const auto& r = known.rows[0];
      bool wants_name = r.GetText(1).empty() && !m.push_name.empty() && !m.from_me && !group;
      bool wants_phone = r.IsNull(2) && !PhoneOf(m.contact_wa_id).empty();
      if (!wants_name && !wants_phone) {
        Contact c;
        c.id = ContactId(r.GetText(0));
        c.tenant_id = tenant;
        c.name = r.GetText(1);
        c.phone = r.GetOptText(2);
        return c;
      }
    }
  }
  std::vector<std::string> ids = {m.contact_wa_id};
  if (m.alternate_wa_id && !m.alternate_wa_id->empty()) ids.push_back(*m.alternate_wa_id);
  std::optional<std::string> found;
  for (const auto& id : ids) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn.Query("SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND "
                              "wa_id = $2",
                              {DbValue(tenant.str()), DbValue(id)}));
    if (rows.empty()) continue;
    std::string owner = rows.rows[0].GetText(0);
    if (!found) {
      found = owner;
    } else if (owner != *found) {
      // Both ids are known, under two contacts: they are one person.
      VENTROS_RETURN_IF_ERROR(MergeContacts(conn, tenant, ContactId(owner), ContactId(*found)));
    }
  }
  std::string phone;
  for (const auto& id : ids) {
    if (phone.empty()) phone = PhoneOf(id);
  }
  if (!found && !phone.empty()) {
    VENTROS_ASSIGN_OR_RETURN(
        auto rows, conn.Query("SELECT id FROM contacts WHERE tenant_id = $1 AND phone = $2",
                              {DbValue(tenant.str()), DbValue(phone)}));
    if (!rows.empty()) found = rows.rows[0].GetText(0);
  }
  int64_t now = clock_.NowMillis();
  Contact c;
  if (found) {
    VENTROS_ASSIGN_OR_RETURN(c, LoadContact(conn, tenant, ContactId(*found)));
    bool changed = false;
    if (c.name.empty() && !m.push_name.empty() && !m.from_me && !group) {
      c.name = m.push_name;
      changed = true;
    }
    if (!c.phone && !phone.empty()) {
      c.phone = phone;
      changed = true;
    }
    if (changed) {
      VENTROS_ASSIGN_OR_RETURN(
          auto upd,
          conn.Query("UPDATE contacts SET name = $1, phone = $2, updated_at = $3 WHERE id = $4",
                     {DbValue(c.name), Opt(c.phone), DbValue(now), DbValue(c.id.str())}));
      (void)upd;
      c.updated_at = now;
    }
    // Learn ids we did not know (the @lid / @c.us pair of one person).
    for (const auto& id : ids) {
      if (std::find(c.wa_ids.begin(), c.wa_ids.end(), id) != c.wa_ids.end()) continue;
      VENTROS_ASSIGN_OR_RETURN(bool ins, AddIdentity(conn, tenant, id, c.id, now));
      if (ins) {
        c.wa_ids.push_back(id);
        changed = true;
      }
    }
    if (changed) {
      VENTROS_RETURN_IF_ERROR(Emit(conn, "contact.updated", tenant, c.id.str(), ContactJson(c)));
    }
    return c;
  }
  c.id = ContactId(core::NewUuidV7(clock_));
  c.tenant_id = tenant;
  if (!phone.empty()) c.phone = phone;
  c.name = (m.from_me || m.contact_wa_id.ends_with("@g.us")) ? "" : m.push_name;
  c.attribution.first_seen_at = m.message_at ? m.message_at : now;
  c.created_at = c.updated_at = now;
  VENTROS_ASSIGN_OR_RETURN(
      auto ins,
      conn.Query("INSERT INTO contacts (id, tenant_id, phone, name, first_seen_at, created_at, "
                 "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                 {DbValue(c.id.str()), DbValue(tenant.str()), Opt(c.phone), DbValue(c.name),
                  Opt(c.attribution.first_seen_at), DbValue(now)}));
  (void)ins;
  for (const auto& id : ids) {
    VENTROS_ASSIGN_OR_RETURN(bool ident, AddIdentity(conn, tenant, id, c.id, now));
    (void)ident;
    c.wa_ids.push_back(id);
  }
  *created = true;
  VENTROS_RETURN_IF_ERROR(Emit(conn, "contact.created", tenant, c.id.str(), ContactJson(c)));
  return c;
}

Status MessagingService::MergeContacts(core::Connection& conn, const TenantId& tenant,
                                       const ContactId& from, const ContactId& into) {
  if (from == into) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(Contact src, LoadContact(conn, tenant, from));
  VENTROS_ASSIGN_OR_RETURN(Contact dst, LoadContact(conn, tenant, into));
  int64_t now = clock_.NowMillis();
  // One active session per contact and channel: end the source's where both have one.
  VENTROS_ASSIGN_OR_RETURN(
      auto clashes,
      conn.Query(
          fmt::format("SELECT {} FROM sessions s WHERE s.contact_id = $1 AND s.status = "
                      "'active' AND EXISTS (SELECT 1 FROM sessions t WHERE t.contact_id = $2 "
                      "AND t.channel_id = s.channel_id AND t.status = 'active')",
                      kSessionCols),
          {DbValue(from.str()), DbValue(into.str())}));
  for (const auto& r : clashes.rows) {
    VENTROS_RETURN_IF_ERROR(EndSession(conn, SessionFromRow(r), now, "merged"));
  }
  for (const char* table : {"contact_identities", "sessions", "messages", "contact_events"}) {
    VENTROS_ASSIGN_OR_RETURN(
        auto moved, conn.Query(fmt::format("UPDATE {} SET contact_id = $1 WHERE contact_id = $2 "
                                           "AND tenant_id = $3",
                                           table),
                               {DbValue(into.str()), DbValue(from.str()), DbValue(tenant.str())}));
    (void)moved;
  }
  if (dst.name.empty()) dst.name = src.name;
  if (!dst.phone) dst.phone = src.phone;
  if (src.attribution.first_seen_at &&
      (!dst.attribution.first_seen_at ||
       *src.attribution.first_seen_at < *dst.attribution.first_seen_at)) {
    dst.attribution.first_seen_at = src.attribution.first_seen_at;
  }
  VENTROS_ASSIGN_OR_RETURN(auto del,
                           conn.Query("DELETE FROM contacts WHERE id = $1 AND tenant_id = $2",
                                      {DbValue(from.str()), DbValue(tenant.str())}));
  (void)del;
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn.Query("UPDATE contacts SET name = $1, phone = $2, first_seen_at = $3, "
                           "updated_at = $4 WHERE id = $5",
                           {DbValue(dst.name), Opt(dst.phone), Opt(dst.attribution.first_seen_at),
                            DbValue(now), DbValue(into.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(AddContactEvent(
      conn, tenant, into, "contacts_merged",
      fmt::format("Merged with contact {} (the same person under another WhatsApp id)", from.str()),
      Json({{"merged_contact_id", json::value(from.str())}})));
  VENTROS_RETURN_IF_ERROR(
      Emit(conn, "contact.merged", tenant, into.str(),
           Json({{"from", json::value(from.str())}, {"into", json::value(into.str())}})));
  VENTROS_ASSIGN_OR_RETURN(Contact merged, LoadContact(conn, tenant, into));
  return Emit(conn, "contact.updated", tenant, into.str(), ContactJson(merged));
}

Result<Contact> MessagingService::LinkWaId(const TenantId& tenant, const ContactId& contact,
                                           const std::string& raw_wa_id) {
  std::string wa_id = NormalizeWaId(raw_wa_id);
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(Contact c, LoadContact(*conn, tenant, contact));
  VENTROS_ASSIGN_OR_RETURN(
      auto owner, conn->Query("SELECT contact_id FROM contact_identities WHERE tenant_id = $1 AND "
                              "wa_id = $2",
                              {DbValue(tenant.str()), DbValue(wa_id)}));
  std::string phone = PhoneOf(wa_id);
  std::optional<std::string> other;
  if (!owner.empty()) {
    other = owner.rows[0].GetText(0);
  } else if (!phone.empty()) {
    VENTROS_ASSIGN_OR_RETURN(
        auto by_phone, conn->Query("SELECT id FROM contacts WHERE tenant_id = $1 AND phone = $2",
                                   {DbValue(tenant.str()), DbValue(phone)}));
    if (!by_phone.empty()) other = by_phone.rows[0].GetText(0);
  }
  ContactId result = contact;
  if (other && *other != contact.str()) {
    // Keep the contact that has the phone; fold the other into it.
    VENTROS_RETURN_IF_ERROR(MergeContacts(*conn, tenant, contact, ContactId(*other)));
    result = ContactId(*other);
  } else if (!other) {
    int64_t now = clock_.NowMillis();
    VENTROS_ASSIGN_OR_RETURN(bool ins, AddIdentity(*conn, tenant, wa_id, contact, now));
    (void)ins;
    if (!c.phone && !phone.empty()) {
      VENTROS_ASSIGN_OR_RETURN(
          auto upd, conn->Query("UPDATE contacts SET phone = $1, updated_at = $2 WHERE id = $3",
                                {DbValue(phone), DbValue(now), DbValue(contact.str())}));
      (void)upd;
    }
    VENTROS_ASSIGN_OR_RETURN(Contact linked, LoadContact(*conn, tenant, contact));
    VENTROS_RETURN_IF_ERROR(
        Emit(*conn, "contact.updated", tenant, contact.str(), ContactJson(linked)));
  }
  VENTROS_ASSIGN_OR_RETURN(Contact out, LoadContact(*conn, tenant, result));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return out;
}

Result<InboundResult> MessagingService::RecordInbound(core::Connection& conn,
                                                      const Channel& channel,
                                                      const InboundMessage& m) {
  const TenantId& tenant = channel.tenant_id;
  InboundResult result;
  int64_t now = clock_.NowMillis();
  // Already known (the @lid/@c.us double, message + message.any, or the echo of our own send).
  core::DbResult existing;
  if (!m.known_new) {
    VENTROS_ASSIGN_OR_RETURN(
        existing, conn.Query(fmt::format("SELECT {} FROM messages WHERE channel_id = $1 AND "
                                         "waha_bare_id = $2",
                                         kMessageCols),
                             {DbValue(channel.id.str()), DbValue(m.waha_bare_id)}));
  }
  if (!existing.empty()) {
    Message old = MessageFromRow(existing.rows[0]);
    result.kind = InboundResult::kDuplicate;
    result.message_id = old.id;
    result.contact_id = old.contact_id;
    result.session_id = old.session_id;
    // The other id of the same person becomes known.
    if (m.contact_wa_id != old.chat_id && !m.chat_id.ends_with("@g.us")) {
      VENTROS_ASSIGN_OR_RETURN(
          auto owner, conn.Query("SELECT contact_id FROM contact_identities WHERE tenant_id = $1 "
                                 "AND wa_id = $2",
                                 {DbValue(tenant.str()), DbValue(m.contact_wa_id)}));
      if (!owner.empty() && owner.rows[0].GetText(0) != old.contact_id.str()) {
        VENTROS_RETURN_IF_ERROR(
            MergeContacts(conn, tenant, ContactId(owner.rows[0].GetText(0)), old.contact_id));
      }
      VENTROS_ASSIGN_OR_RETURN(bool ins,
                               AddIdentity(conn, tenant, m.contact_wa_id, old.contact_id, now));
      if (ins) {
        VENTROS_ASSIGN_OR_RETURN(Contact c, LoadContact(conn, tenant, old.contact_id));
        VENTROS_RETURN_IF_ERROR(Emit(conn, "contact.updated", tenant, c.id.str(), ContactJson(c)));
      }
    }
    if (m.ack) VENTROS_RETURN_IF_ERROR(RecordAck(conn, channel, m.waha_bare_id, *m.ack));
    return result;
  }
  // The echo of a send whose outcome we did not learn (timeout, or a 201 without an id).
  if (m.from_me && m.source == "api") {
    VENTROS_ASSIGN_OR_RETURN(
        auto pending,
        conn.Query(fmt::format("SELECT {} FROM messages WHERE channel_id = $1 AND chat_id = $2 AND "
                               "direction = 'out' AND waha_bare_id IS NULL AND body = $3 AND "
                               "(status IN ('sending', 'unknown', 'sent') OR (status = 'queued' "
                               "AND send_attempts > 0)) ORDER BY id LIMIT 1",
                               kMessageCols),
                   {DbValue(channel.id.str()), DbValue(m.chat_id), DbValue(m.body)}));
    if (!pending.empty()) {
      Message out = MessageFromRow(pending.rows[0]);
      // Conditional updates: whoever changes the row first (this echo or the sender's MarkSent)
      // emits message.sent, once.
      VENTROS_ASSIGN_OR_RETURN(
          auto ids,
          conn.Query(
              "UPDATE messages SET waha_id = $1, waha_bare_id = $2, updated_at = $3 "
              "WHERE id = $4 AND waha_bare_id IS NULL",
              {DbValue(m.waha_id), DbValue(m.waha_bare_id), DbValue(now), DbValue(out.id.str())}));
      (void)ids;
      VENTROS_ASSIGN_OR_RETURN(
          auto sent,
          conn.Query("UPDATE messages SET status = 'sent', error = NULL, updated_at = $1 "
                     "WHERE id = $2 AND status <> 'sent'",
                     {DbValue(now), DbValue(out.id.str())}));
      out.waha_id = m.waha_id;
      out.waha_bare_id = m.waha_bare_id;
      out.status = "sent";
      if (sent.affected_rows > 0) {
        VENTROS_RETURN_IF_ERROR(
            Emit(conn, "message.sent", tenant, out.contact_id.str(), MessageJson(out)));
      }
      if (m.ack) VENTROS_RETURN_IF_ERROR(RecordAck(conn, channel, m.waha_bare_id, *m.ack));
      VENTROS_RETURN_IF_ERROR(ApplyPendingAck(conn, channel, m.waha_bare_id));
      result.kind = InboundResult::kEchoMatched;
      result.message_id = out.id;
      result.contact_id = out.contact_id;
      result.session_id = out.session_id;
      return result;
    }
  }

  bool created = false;
  VENTROS_ASSIGN_OR_RETURN(Contact contact, FindOrCreateContact(conn, tenant, m, &created));
  int64_t at = m.message_at ? m.message_at : now;
  VENTROS_ASSIGN_OR_RETURN(Session session, ActiveSessionFor(conn, channel, contact.id, at));
  Message msg;
  msg.id = MessageId(core::NewUuidV7(clock_));
  msg.tenant_id = tenant;
  msg.channel_id = channel.id;
  msg.contact_id = contact.id;
  msg.session_id = session.id;
  msg.chat_id = m.chat_id;
  msg.direction = m.from_me ? "out" : "in";
  msg.from_me = m.from_me;
  msg.source = m.from_me ? (m.source == "api" ? "api" : "app") : "contact";
  msg.type = m.type;
  msg.body = m.body;
  if (!m.from_me) {
    msg.sender_wa_id = m.sender_wa_id.empty() ? m.contact_wa_id : m.sender_wa_id;
  }
  msg.media = m.media;
  if (m.media.url || m.media.mimetype) {
    msg.media.state = m.media.url ? "pending" : "unavailable";
  }
  msg.waha_id = m.waha_id;
  msg.waha_bare_id = m.waha_bare_id;
  msg.reply_to = m.reply_to;
  msg.ack = m.ack;
  msg.status = m.from_me ? "sent" : "received";
  msg.message_at = at;
  msg.created_at = now;
  // An ack that arrived first.
  VENTROS_ASSIGN_OR_RETURN(
      auto early,
      conn.Query("SELECT ack FROM pending_acks WHERE channel_id = $1 AND waha_bare_id = $2",
                 {DbValue(channel.id.str()), DbValue(m.waha_bare_id)}));
  if (!early.empty()) {
    msg.ack = std::max(msg.ack.value_or(-1), static_cast<int>(early.rows[0].GetInt(0)));
    VENTROS_ASSIGN_OR_RETURN(
        auto del, conn.Query("DELETE FROM pending_acks WHERE channel_id = $1 AND waha_bare_id = $2",
                             {DbValue(channel.id.str()), DbValue(m.waha_bare_id)}));
    (void)del;
  }
  auto ins = conn.Query(
      "INSERT INTO messages (id, tenant_id, channel_id, contact_id, session_id, chat_id, "
      "direction, "
      "from_me, source, type, body, sender_wa_id, media_mimetype, media_filename, media_url, "
      "media_state, media_error, waha_id, waha_bare_id, reply_to, ack, status, message_at, "
      "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
      "$14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $24)",
      {DbValue(msg.id.str()),
       DbValue(tenant.str()),
       DbValue(channel.id.str()),
       DbValue(contact.id.str()),
       DbValue(session.id.str()),
       DbValue(msg.chat_id),
       DbValue(msg.direction),
       DbValue(int64_t{msg.from_me ? 1 : 0}),
       DbValue(msg.source),
       DbValue(msg.type),
       DbValue(msg.body),
       Opt(msg.sender_wa_id),
       Opt(msg.media.mimetype),
       Opt(msg.media.filename),
       Opt(msg.media.url),
       Opt(msg.media.state),
       Opt(msg.media.error),
       DbValue(msg.waha_id.value_or("")),
       DbValue(m.waha_bare_id),
       Opt(msg.reply_to),
       msg.ack ? DbValue(int64_t{*msg.ack}) : DbValue(nullptr),
       DbValue(msg.status),
       DbValue(at),
       DbValue(now)});
  if (!ins.ok()) return ins.status();
  VENTROS_ASSIGN_OR_RETURN(
      auto upd,
      conn.Query("UPDATE sessions SET message_count = message_count + 1, "
                 "first_message_at = COALESCE(first_message_at, $1), "
                 "last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $1 "
                 "THEN $1 ELSE last_message_at END, updated_at = $2 WHERE id = $3",
                 {DbValue(at), DbValue(now), DbValue(session.id.str())}));
  (void)upd;
  VENTROS_RETURN_IF_ERROR(Emit(conn, m.from_me ? "message.sent" : "message.received", tenant,
                               contact.id.str(), MessageJson(msg)));
  if (msg.type == "document" && !m.from_me) {
    VENTROS_RETURN_IF_ERROR(AddContactEvent(
        conn, tenant, contact.id, "document_received",
        fmt::format("Document received: {}",
                    msg.media.filename.value_or(msg.media.mimetype.value_or("file"))),
        Json({{"message_id", json::value(msg.id.str())},
              {"filename", OptJ(msg.media.filename)},
              {"mimetype", OptJ(msg.media.mimetype)}})));
  }
  result.kind = InboundResult::kCreated;
  result.message_id = msg.id;
  result.contact_id = contact.id;
  result.session_id = session.id;
  return result;
}

Status MessagingService::RecordAck(core::Connection& conn, const Channel& channel,
                                   const std::string& bare_id, int ack) {
  int64_t now = clock_.NowMillis();
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(fmt::format("SELECT {} FROM messages WHERE channel_id = $1 AND waha_bare_id = $2",
                             kMessageCols),
                 {DbValue(channel.id.str()), DbValue(bare_id)}));
  if (rows.empty()) {
    // Keep the highest ack seen until the message arrives.
    VENTROS_ASSIGN_OR_RETURN(
        auto r, conn.Query("INSERT INTO pending_acks (channel_id, waha_bare_id, ack, received_at) "
                           "VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id, waha_bare_id) DO "
                           "UPDATE SET ack = CASE WHEN pending_acks.ack >= excluded.ack THEN "
                           "pending_acks.ack ELSE excluded.ack END",
                           {DbValue(channel.id.str()), DbValue(bare_id), DbValue(int64_t{ack}),
                            DbValue(now)}));
    (void)r;
    return Status::Ok();
  }
  Message m = MessageFromRow(rows.rows[0]);
  if (m.ack && *m.ack >= ack) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(auto upd,
                           conn.Query("UPDATE messages SET ack = $1, updated_at = $2 WHERE id = $3",
                                      {DbValue(int64_t{ack}), DbValue(now), DbValue(m.id.str())}));
  (void)upd;
  return Emit(
      conn, "message.ack_updated", m.tenant_id, m.contact_id.str(),
      Json({{"message_id", json::value(m.id.str())},
            {"session_id", m.session_id ? json::value(m.session_id->str()) : json::value(nullptr)},
            {"previous_ack", m.ack ? json::value(*m.ack) : json::value(nullptr)},
            {"ack", json::value(ack)}}));
}

Status MessagingService::RecordReaction(core::Connection& conn, const Channel& channel,
                                        const std::string& bare_id, const std::string& sender,
                                        const std::string& text) {
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query("SELECT id, reactions FROM messages WHERE channel_id = $1 AND waha_bare_id = $2",
                 {DbValue(channel.id.str()), DbValue(bare_id)}));
  if (rows.empty()) return Status::NotFound(fmt::format("reaction to unknown message {}", bare_id));
  boost::system::error_code ec;
  json::value v = json::parse(rows.rows[0].GetText(1), ec);
  json::object reactions = (!ec && v.is_object()) ? v.as_object() : json::object();
  if (text.empty()) {
    reactions.erase(sender);
  } else {
    reactions[sender] = text;
  }
  VENTROS_ASSIGN_OR_RETURN(
      auto upd, conn.Query("UPDATE messages SET reactions = $1, updated_at = $2 WHERE id = $3",
                           {DbValue(json::serialize(reactions)), DbValue(clock_.NowMillis()),
                            DbValue(rows.rows[0].GetText(0))}));
  (void)upd;
  return Status::Ok();
}

Status MessagingService::RecordEdit(core::Connection& conn, const Channel& channel,
                                    const std::string& bare_id, const std::string& body,
                                    int64_t at) {
  VENTROS_ASSIGN_OR_RETURN(
      auto r, conn.Query("UPDATE messages SET body = $1, edited_at = $2, updated_at = $3 "
                         "WHERE channel_id = $4 AND waha_bare_id = $5",
                         {DbValue(body), DbValue(at), DbValue(clock_.NowMillis()),
                          DbValue(channel.id.str()), DbValue(bare_id)}));
  if (r.affected_rows == 0)
    return Status::NotFound(fmt::format("edit of unknown message {}", bare_id));
  return Status::Ok();
}

Status MessagingService::RecordRevoke(core::Connection& conn, const Channel& channel,
                                      const std::string& bare_id, int64_t at) {
  VENTROS_ASSIGN_OR_RETURN(
      auto r, conn.Query("UPDATE messages SET revoked_at = $1, updated_at = $2 "
                         "WHERE channel_id = $3 AND waha_bare_id = $4",
                         {DbValue(at), DbValue(clock_.NowMillis()), DbValue(channel.id.str()),
                          DbValue(bare_id)}));
  if (r.affected_rows == 0)
    return Status::NotFound(fmt::format("revoke of unknown message {}", bare_id));
  return Status::Ok();
}

Status MessagingService::RecordMediaResult(const TenantId& tenant, const MessageId& id,
                                           const Media& media) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn->Query(
          "UPDATE messages SET media_path = $1, media_size = $2, media_sha256 = $3, "
          "media_state = $4, media_error = $5, updated_at = $6 "
          "WHERE id = $7 AND tenant_id = $8",
          {Opt(media.path), Opt(media.size), Opt(media.sha256), Opt(media.state), Opt(media.error),
           DbValue(clock_.NowMillis()), DbValue(id.str()), DbValue(tenant.str())}));
  if (r.affected_rows == 0) return Status::NotFound(fmt::format("message {} not found", id.str()));
  return Status::Ok();
}

Status MessagingService::MarkSent(const TenantId& tenant, const MessageId& id,
                                  const std::string& waha_id) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  int64_t now = clock_.NowMillis();
  std::string bare = waha_id.empty() ? std::string() : BareMessageId(waha_id);
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn->Query(
          "UPDATE messages SET status = 'sent', waha_id = $1, waha_bare_id = $2, error = NULL, "
          "updated_at = $3 WHERE id = $4 AND tenant_id = $5 AND status <> 'sent'",
          {waha_id.empty() ? DbValue(nullptr) : DbValue(waha_id),
           bare.empty() ? DbValue(nullptr) : DbValue(bare), DbValue(now), DbValue(id.str()),
           DbValue(tenant.str())}));
  if (r.affected_rows == 0) return Status::Ok();  // already sent (echo came first): idempotent
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM messages WHERE id = $1", kMessageCols),
                             {DbValue(id.str())}));
  Message m = MessageFromRow(rows.rows.at(0));
  VENTROS_RETURN_IF_ERROR(Emit(*conn, "message.sent", tenant, m.contact_id.str(), MessageJson(m)));
  if (!bare.empty()) {
    // WAHA often acknowledges before its sendText answer reaches us: that ack was kept aside.
    Channel channel;
    channel.id = m.channel_id;
    channel.tenant_id = tenant;
    VENTROS_RETURN_IF_ERROR(ApplyPendingAck(*conn, channel, bare));
  }
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return Status::Ok();
}

Status MessagingService::ApplyPendingAck(core::Connection& conn, const Channel& channel,
                                         const std::string& bare_id) {
  VENTROS_ASSIGN_OR_RETURN(
      auto early,
      conn.Query("SELECT ack FROM pending_acks WHERE channel_id = $1 AND waha_bare_id = $2",
                 {DbValue(channel.id.str()), DbValue(bare_id)}));
  if (early.empty()) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(
      auto del, conn.Query("DELETE FROM pending_acks WHERE channel_id = $1 AND waha_bare_id = $2",
                           {DbValue(channel.id.str()), DbValue(bare_id)}));
  (void)del;
  return RecordAck(conn, channel, bare_id, static_cast<int>(early.rows[0].GetInt(0)));
}

Result<bool> MessagingService::ClaimForSend(const TenantId& tenant, const MessageId& id) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto r,
      conn->Query("UPDATE messages SET status = 'sending', send_attempts = send_attempts + 1, "
                  "updated_at = $1 WHERE id = $2 AND tenant_id = $3 AND status = 'queued'",
                  {DbValue(clock_.NowMillis()), DbValue(id.str()), DbValue(tenant.str())}));
  return r.affected_rows == 1;
}

Result<Channel> MessagingService::GetChannelById(core::Connection& conn, const ChannelId& id) {
  if (!core::IsUuid(id.str()))
    return Status::NotFound(fmt::format("channel {} not found", id.str()));
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(
          fmt::format("SELECT {} FROM channels WHERE id = $1 AND deleted_at IS NULL", kChannelCols),
          {DbValue(id.str())}));
  if (rows.empty()) return Status::NotFound(fmt::format("channel {} not found", id.str()));
  return ChannelFromRow(rows.rows[0]);
}

Status MessagingService::SetSendStatus(const TenantId& tenant, const MessageId& id,
                                       const std::string& status, const std::string& error) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(
      auto r, conn->Query("UPDATE messages SET status = $1, error = $2, updated_at = $3 "
                          "WHERE id = $4 AND tenant_id = $5 AND status <> 'sent'",
                          {DbValue(status), error.empty() ? DbValue(nullptr) : DbValue(error),
                           DbValue(clock_.NowMillis()), DbValue(id.str()), DbValue(tenant.str())}));
  (void)r;
  return Status::Ok();
}

Status MessagingService::MarkFailed(const TenantId& tenant, const MessageId& id,
                                    const std::string& error) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_ASSIGN_OR_RETURN(
      auto r, conn->Query("UPDATE messages SET status = 'failed', error = $1, updated_at = $2 "
                          "WHERE id = $3 AND tenant_id = $4 AND status NOT IN ('sent', 'failed')",
                          {DbValue(error), DbValue(clock_.NowMillis()), DbValue(id.str()),
                           DbValue(tenant.str())}));
  if (r.affected_rows == 0) return Status::Ok();
  VENTROS_ASSIGN_OR_RETURN(
      auto rows, conn->Query(fmt::format("SELECT {} FROM messages WHERE id = $1", kMessageCols),
                             {DbValue(id.str())}));
  Message m = MessageFromRow(rows.rows.at(0));
  VENTROS_RETURN_IF_ERROR(
      Emit(*conn, "message.failed", tenant, m.contact_id.str(), MessageJson(m)));
  VENTROS_RETURN_IF_ERROR(AddContactEvent(
      *conn, tenant, m.contact_id, "message_failed",
      fmt::format("A message could not be delivered: {}", error),
      Json({{"message_id", json::value(m.id.str())}, {"error", json::value(error)}})));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return Status::Ok();
}

// ---------------------------------------------------------------- JSON

std::string ChannelJson(const Channel& c, const std::string& public_base_url) {
  json::object o;
  o["id"] = c.id.str();
  o["name"] = c.name;
  o["kind"] = c.kind;
  o["waha_url"] = c.waha_url;
  o["waha_session"] = c.waha_session;
  o["has_api_key"] = !c.waha_api_key.empty();
  o["has_hmac_secret"] = !c.hmac_secret.empty();
  o["status"] = c.status;
  o["session_timeout_ms"] =
      c.session_timeout_ms ? json::value(*c.session_timeout_ms) : json::value(nullptr);
  o["webhook_url"] = public_base_url + "/webhooks/waha/" + c.id.str();
  o["created_at"] = core::FormatTimestamp(c.created_at);
  o["updated_at"] = core::FormatTimestamp(c.updated_at);
  return json::serialize(o);
}

std::string ContactJson(const Contact& c) {
  json::object o;
  o["id"] = c.id.str();
  o["phone"] = OptJ(c.phone);
  o["name"] = c.name;
  json::array ids;
  for (const auto& w : c.wa_ids) ids.emplace_back(w);
  o["wa_ids"] = std::move(ids);
  json::array tags;
  for (const auto& t : c.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  boost::system::error_code ec;
  json::value fields = json::parse(c.custom_fields, ec);
  o["custom_fields"] = ec ? json::value(json::object()) : fields;
  json::object attr;
  attr["utm_source"] = OptJ(c.attribution.utm_source);
  attr["utm_medium"] = OptJ(c.attribution.utm_medium);
  attr["utm_campaign"] = OptJ(c.attribution.utm_campaign);
  attr["utm_content"] = OptJ(c.attribution.utm_content);
  attr["utm_term"] = OptJ(c.attribution.utm_term);
  attr["first_seen_at"] = OptTime(c.attribution.first_seen_at);
  o["attribution"] = std::move(attr);
  o["pipeline_stage"] = OptJ(c.pipeline_stage);
  o["stage_entered_at"] = OptTime(c.stage_entered_at);
  o["created_at"] = core::FormatTimestamp(c.created_at);
  o["updated_at"] = core::FormatTimestamp(c.updated_at);
  return json::serialize(o);
}

std::string SessionJson(const Session& s) {
  json::object o;
  o["id"] = s.id.str();
  o["contact_id"] = s.contact_id.str();
  o["channel_id"] = s.channel_id.str();
  o["status"] = s.status;
  o["started_at"] = core::FormatTimestamp(s.started_at);
  o["first_message_at"] = OptTime(s.first_message_at);
  o["last_message_at"] = OptTime(s.last_message_at);
  o["ended_at"] = OptTime(s.ended_at);
  o["end_reason"] = OptJ(s.end_reason);
  o["message_count"] = s.message_count;
  o["timeout_ms"] = s.timeout_ms;
  o["assigned_agent_type"] = OptJ(s.assigned_agent_type);
  o["assigned_agent_id"] = OptJ(s.assigned_agent_id);
  return json::serialize(o);
}

std::string MessageJson(const Message& m) {
  json::object o;
  o["id"] = m.id.str();
  o["channel_id"] = m.channel_id.str();
  o["contact_id"] = m.contact_id.str();
  o["session_id"] = m.session_id ? json::value(m.session_id->str()) : json::value(nullptr);
  o["chat_id"] = m.chat_id;
  o["direction"] = m.direction;
  o["from_me"] = m.from_me;
  o["source"] = m.source;
  o["type"] = m.type;
  o["body"] = m.body;
  o["sender_wa_id"] = OptJ(m.sender_wa_id);
  if (m.media.mimetype || m.media.url || m.media.state) {
    json::object media;
    media["mimetype"] = OptJ(m.media.mimetype);
    media["filename"] = OptJ(m.media.filename);
    media["url"] = OptJ(m.media.url);
    media["path"] = OptJ(m.media.path);
    media["size"] = m.media.size ? json::value(*m.media.size) : json::value(nullptr);
    media["sha256"] = OptJ(m.media.sha256);
    media["state"] = OptJ(m.media.state);
    media["error"] = OptJ(m.media.error);
    o["media"] = std::move(media);
  } else {
    o["media"] = nullptr;
  }
  o["waha_id"] = OptJ(m.waha_id);
  o["reply_to"] = OptJ(m.reply_to);
  o["ack"] = m.ack ? json::value(*m.ack) : json::value(nullptr);
  o["status"] = m.status;
  o["error"] = OptJ(m.error);
  o["agent_id"] = OptJ(m.agent_id);
  boost::system::error_code ec;
  json::value meta = json::parse(m.metadata, ec);
  o["metadata"] = ec ? json::value(json::object()) : meta;
  json::value reactions = json::parse(m.reactions, ec);
  o["reactions"] = ec ? json::value(json::object()) : reactions;
  o["message_at"] = core::FormatTimestamp(m.message_at);
  o["edited_at"] = OptTime(m.edited_at);
  o["revoked_at"] = OptTime(m.revoked_at);
  return json::serialize(o);
}

std::string ContactEventJson(const ContactEvent& e) {
  json::object o;
  o["id"] = e.id;
  o["contact_id"] = e.contact_id.str();
  o["category"] = e.category;
  o["summary"] = e.summary;
  boost::system::error_code ec;
  json::value meta = json::parse(e.metadata, ec);
  o["metadata"] = ec ? json::value(json::object()) : meta;
  o["occurred_at"] = core::FormatTimestamp(e.occurred_at);
  return json::serialize(o);
}

}  // namespace ventros::crm
