#pragma once
// Channels, contacts, sessions, messages and the contact timeline: the CRM half of Ventros.
// State changes and their outbox events are written in one transaction.
//
// Thread-safety: the services hold references only and may be shared by all threads. Calls that
// take a Connection& run inside the caller's transaction (used by the WAHA ingest to store a
// webhook's effects and mark it processed atomically); the others open their own.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/status.hpp"
#include "ventros/crm/tenants.hpp"

namespace ventros::crm {

using ChannelId = core::StrongId<struct ChannelTag>;
using ContactId = core::StrongId<struct ContactTag>;
using SessionId = core::StrongId<struct SessionTag>;
using MessageId = core::StrongId<struct MessageTag>;

constexpr int64_t kDefaultSessionTimeoutMs = 30 * 60 * 1000;

struct Channel {
  ChannelId id;
  TenantId tenant_id;
  std::string name;
  std::string kind = "waha";
  std::string waha_url;
  std::string waha_api_key;  // secret: never in API answers
  std::string waha_session = "default";
  std::string hmac_secret;  // secret: never in API answers
  std::string status = "UNKNOWN";
  std::optional<int64_t> session_timeout_ms;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct ChannelInput {
  std::optional<std::string> name, waha_url, waha_api_key, waha_session, hmac_secret;
  std::optional<std::optional<int64_t>> session_timeout_ms;  // set to nullopt to clear
};

struct Attribution {
  std::optional<std::string> utm_source, utm_medium, utm_campaign, utm_content, utm_term;
  std::optional<int64_t> first_seen_at;
};

struct Contact {
  ContactId id;
  TenantId tenant_id;
  std::optional<std::string> phone;  // E.164 digits, no '+'
  std::string name;
  std::vector<std::string> wa_ids;
  std::vector<std::string> tags;
  std::string custom_fields = "{}";  // JSON object
  Attribution attribution;
  std::optional<std::string> pipeline_stage;
  std::optional<int64_t> stage_entered_at;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct ContactInput {
  std::optional<std::string> phone, name;
  std::optional<std::vector<std::string>> tags;
  std::optional<std::string> custom_fields;  // JSON object text
  Attribution attribution;
  std::optional<std::string> pipeline_stage;
};

struct Session {
  SessionId id;
  TenantId tenant_id;
  ContactId contact_id;
  ChannelId channel_id;
  std::string status;  // active | ended
  int64_t started_at = 0;
  std::optional<int64_t> first_message_at, last_message_at, ended_at;
  std::optional<std::string> end_reason;  // inactivity_timeout | manual | agent
  int64_t message_count = 0;
  int64_t timeout_ms = kDefaultSessionTimeoutMs;
  std::optional<std::string> assigned_agent_type;  // ai | human
  std::optional<std::string> assigned_agent_id;
};

struct Media {
  std::optional<std::string> mimetype, filename, url, path, sha256, state, error;
  std::optional<int64_t> size;
};

struct Message {
  MessageId id;
  TenantId tenant_id;
  ChannelId channel_id;
  ContactId contact_id;
  std::optional<SessionId> session_id;
  std::string chat_id;
  std::string direction;  // in | out
  bool from_me = false;
  std::string source;  // contact | bot | human | system | api | app
  std::string type;    // text | image | audio | video | document | location | contact | sticker |
                       // reaction | system
  std::string body;
  std::optional<std::string> sender_wa_id;
  Media media;
  std::optional<std::string> waha_id, waha_bare_id, reply_to;
  std::optional<int> ack;
  std::string status;  // received | queued | sending | sent | unknown | failed
  std::optional<std::string> error;
  int send_attempts = 0;
  std::optional<std::string> agent_id;
  std::string metadata = "{}";
  std::string reactions = "{}";
  int64_t message_at = 0;
  std::optional<int64_t> edited_at, revoked_at;
  int64_t created_at = 0;
};

struct ContactEvent {
  std::string id;
  ContactId contact_id;
  std::string category;
  std::string summary;
  std::string metadata = "{}";
  int64_t occurred_at = 0;
};

// A message as the channel saw it, already normalised by the channel module.
struct InboundMessage {
  std::string chat_id;        // 5511...@c.us, ...@lid or ...@g.us
  std::string contact_wa_id;  // the conversation: the person in direct chats, the group in groups
  std::string sender_wa_id;   // who wrote it: the person, or the participant in groups
  std::optional<std::string> alternate_wa_id;  // the same person's other id, when known
  std::string push_name;
  std::string waha_id;
  std::string waha_bare_id;
  bool from_me = false;
  std::string source;  // contact | app | api
  std::string type = "text";
  std::string body;
  Media media;
  std::optional<std::string> reply_to;
  std::optional<int> ack;
  int64_t message_at = 0;
  // The caller has just admitted this WhatsApp id as new on the channel (the webhook inbox's
  // unique key on it): the lookup for an existing message is skipped. Should one exist after
  // all, the insert fails on the messages' own unique index.
  bool known_new = false;
};

struct InboundResult {
  enum Kind { kCreated, kDuplicate, kEchoMatched } kind = kCreated;
  std::optional<MessageId> message_id;
  std::optional<ContactId> contact_id;
  std::optional<SessionId> session_id;
};

struct Page {
  int limit = 50;
  std::string cursor;  // opaque: the last id of the previous page
};

struct ContactFilter {
  std::optional<std::string> query;  // name or phone contains
  std::optional<std::string> tag;
  std::optional<std::string> stage;
};

template <typename T>
struct PageOf {
  std::vector<T> items;
  std::string next_cursor;  // empty at the end
};

class MessagingService {
 public:
  MessagingService(core::Database& db, const core::Clock& clock, core::EventBus* bus = nullptr)
      : db_(db), clock_(clock), bus_(bus) {}

  // The inactivity timeout of sessions on channels that do not set their own.
  void set_default_session_timeout_ms(int64_t ms) { default_session_timeout_ms_ = ms; }

  // Channels.
  Result<Channel> CreateChannel(const TenantId& tenant, const ChannelInput& input);
  Result<std::vector<Channel>> ListChannels(const TenantId& tenant);
  Result<Channel> GetChannel(const TenantId& tenant, const ChannelId& id);
  // The webhook path knows only the channel id; the channel decides the tenant.
  Result<Channel> GetChannelById(const ChannelId& id);
  Result<Channel> GetChannelById(core::Connection& conn, const ChannelId& id);
  Result<Channel> UpdateChannel(const TenantId& tenant, const ChannelId& id,
                                const ChannelInput& input);
  Status DeleteChannel(const TenantId& tenant, const ChannelId& id);
  Status SetChannelStatus(core::Connection& conn, const Channel& channel,
                          const std::string& status);

  // Contacts.
  Result<Contact> CreateContact(const TenantId& tenant, const ContactInput& input);
  Result<Contact> GetContact(const TenantId& tenant, const ContactId& id);
  Result<Contact> UpdateContact(const TenantId& tenant, const ContactId& id,
                                const ContactInput& input);
  Result<PageOf<Contact>> ListContacts(const TenantId& tenant, const ContactFilter& filter,
                                       const Page& page);
  Result<PageOf<ContactEvent>> ListContactEvents(const TenantId& tenant, const ContactId& id,
                                                 const Page& page);

  // Sessions.
  Result<Session> GetSession(const TenantId& tenant, const SessionId& id);
  Result<Session> GetSession(core::Connection& conn, const TenantId& tenant, const SessionId& id);
  // Who answers an active session: "ai" (the agents; also what no assignment means) or "human"
  // (a person; the agents stay silent until it is handed back). Emits session.assigned and adds a
  // contact event (handoff / handback). Conflict for an ended session.
  Result<Session> AssignSession(const TenantId& tenant, const SessionId& id,
                                const std::string& agent_type,
                                const std::optional<std::string>& agent_id,
                                const std::string& reason);
  Result<Session> AssignSession(core::Connection& conn, const TenantId& tenant, const SessionId& id,
                                const std::string& agent_type,
                                const std::optional<std::string>& agent_id,
                                const std::string& reason);
  Result<PageOf<Session>> ListSessions(const TenantId& tenant, std::optional<ContactId> contact,
                                       std::optional<std::string> status, const Page& page);
  Result<Session> CloseSession(const TenantId& tenant, const SessionId& id,
                               const std::string& reason);
  // Ends every active session silent for longer than its timeout; returns how many.
  Result<int> EndExpiredSessions();

  // Messages.
  Result<Message> GetMessage(const TenantId& tenant, const MessageId& id);
  Result<PageOf<Message>> ListMessages(const TenantId& tenant, std::optional<SessionId> session,
                                       std::optional<ContactId> contact, const Page& page);

  // The same person known under two contacts (their @lid and their phone id seen apart): moves
  // `from`'s ids, sessions, messages and timeline to `into` and removes `from`. Emits
  // contact.merged. Inside the caller's transaction.
  Status MergeContacts(core::Connection& conn, const TenantId& tenant, const ContactId& from,
                       const ContactId& into);
  // Links another WhatsApp id (e.g. the phone id WAHA maps a @lid to) to a contact; when that id
  // already belongs to another contact, the two are merged (into the one with the phone).
  Result<Contact> LinkWaId(const TenantId& tenant, const ContactId& contact,
                           const std::string& wa_id);

  // Outbound: stores a queued message and emits message.send_requested. Exactly one of
  // contact / chat_id is set.
  struct SendRequest {
    std::optional<ContactId> contact;
    std::optional<std::string> chat_id;
    std::optional<ChannelId> channel;  // default: the contact's latest channel, else the only one
    std::string text;
    std::optional<std::string> reply_to;
    std::string source = "api";
    std::optional<std::string> agent_id;
    std::string metadata = "{}";
  };
  Result<Message> RequestSend(const TenantId& tenant, const SendRequest& request);
  // The same inside the caller's transaction (the caller notifies the bus after committing).
  Result<Message> RequestSend(core::Connection& conn, const TenantId& tenant,
                              const SendRequest& request);

  // Inbound, inside the caller's transaction.
  Result<InboundResult> RecordInbound(core::Connection& conn, const Channel& channel,
                                      const InboundMessage& message);
  // Max-ack semantics; an ack for an unknown message is kept and applied when it arrives.
  Status RecordAck(core::Connection& conn, const Channel& channel, const std::string& bare_id,
                   int ack);
  // Reactions (empty text removes), edits and revokes of a known message; NotFound otherwise.
  Status RecordReaction(core::Connection& conn, const Channel& channel, const std::string& bare_id,
                        const std::string& sender, const std::string& text);
  Status RecordEdit(core::Connection& conn, const Channel& channel, const std::string& bare_id,
                    const std::string& body, int64_t at);
  Status RecordRevoke(core::Connection& conn, const Channel& channel, const std::string& bare_id,
                      int64_t at);
  // A media download finished (state "stored") or failed for good (state "failed").
  Status RecordMediaResult(const TenantId& tenant, const MessageId& id, const Media& media);
  // Takes a queued message for sending (queued -> sending); false when another sender has it or
  // it is no longer queued. Only the claimer may call WAHA.
  Result<bool> ClaimForSend(const TenantId& tenant, const MessageId& id);
  // Outbound results (WAHA sender).
  Status MarkSent(const TenantId& tenant, const MessageId& id, const std::string& waha_id);
  // Sets the outbound status of a claimed message (attempts are counted by ClaimForSend).
  Status SetSendStatus(const TenantId& tenant, const MessageId& id, const std::string& status,
                       const std::string& error);
  Status MarkFailed(const TenantId& tenant, const MessageId& id, const std::string& error);

  Status AddContactEvent(core::Connection& conn, const TenantId& tenant, const ContactId& contact,
                         const std::string& category, const std::string& summary,
                         const std::string& metadata_json);

  // "false_5511...@c.us_3EB0..._participant" -> "3EB0..."; a bare id is returned as is.
  static std::string BareMessageId(std::string_view waha_id);
  // "5511...@s.whatsapp.net" -> "5511...@c.us"; other ids unchanged.
  static std::string NormalizeWaId(std::string_view wa_id);
  // The phone digits of a @c.us id; empty for @lid, groups and others.
  static std::string PhoneOf(std::string_view wa_id);

 private:
  Status Emit(core::Connection& conn, const std::string& type, const TenantId& tenant,
              const std::string& key, const std::string& payload);
  Result<Contact> FindOrCreateContact(core::Connection& conn, const TenantId& tenant,
                                      const InboundMessage& m, bool* created);
  Result<Session> ActiveSessionFor(core::Connection& conn, const Channel& channel,
                                   const ContactId& contact, int64_t at);
  Status ApplyPendingAck(core::Connection& conn, const Channel& channel,
                         const std::string& bare_id);
  Status EndSession(core::Connection& conn, const Session& s, int64_t at, const std::string& reason,
                    bool* ended = nullptr);
  // Links a WhatsApp id to a contact; false when it was already linked (to anyone).
  Result<bool> AddIdentity(core::Connection& conn, const TenantId& tenant, const std::string& wa_id,
                           const ContactId& contact, int64_t now);
  // Loads the WhatsApp ids of these contacts (one query).
  Status FillWaIds(core::Connection& conn, const TenantId& tenant, std::vector<Contact>& contacts);
  Result<Contact> LoadContact(core::Connection& conn, const TenantId& tenant, const ContactId& id);

  core::Database& db_;
  const core::Clock& clock_;
  core::EventBus* bus_;
  int64_t default_session_timeout_ms_ = kDefaultSessionTimeoutMs;
};

// Adds the REST routes for channels, contacts, sessions and messages (see docs/api.md).
// public_base_url is how WAHA reaches this server, for the webhook URL shown with a channel.
void RegisterMessagingRoutes(core::Router& router, MessagingService& service,
                             std::string public_base_url);

// JSON renderings used by REST answers and CLI --json.
std::string ChannelJson(const Channel& c, const std::string& public_base_url);
std::string ContactJson(const Contact& c);
std::string SessionJson(const Session& s);
std::string MessageJson(const Message& m);
std::string ContactEventJson(const ContactEvent& e);

}  // namespace ventros::crm
