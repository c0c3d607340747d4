-- Channels, contacts (with their WhatsApp ids), sessions, messages and the contact timeline.
CREATE TABLE channels (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT 'waha',
  waha_url TEXT NOT NULL,
  waha_api_key TEXT NOT NULL DEFAULT '',
  waha_session TEXT NOT NULL DEFAULT 'default',
  hmac_secret TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'UNKNOWN',
  session_timeout_ms BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT
);
CREATE INDEX channels_tenant_idx ON channels (tenant_id, id);

CREATE TABLE contacts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  phone TEXT,
  name TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]',
  custom_fields TEXT NOT NULL DEFAULT '{}',
  utm_source TEXT,
  utm_medium TEXT,
  utm_campaign TEXT,
  utm_content TEXT,
  utm_term TEXT,
  first_seen_at BIGINT,
  pipeline_stage TEXT,
  stage_entered_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_phone_idx ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_tenant_idx ON contacts (tenant_id, id);

-- A contact's WhatsApp ids: 5511...@c.us and the hidden ...@lid, both pointing at one contact.
CREATE TABLE contact_identities (
  tenant_id TEXT NOT NULL,
  wa_id TEXT NOT NULL,
  contact_id TEXT NOT NULL REFERENCES contacts (id),
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, wa_id)
);
CREATE INDEX contact_identities_contact_idx ON contact_identities (contact_id);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL REFERENCES contacts (id),
  channel_id TEXT NOT NULL REFERENCES channels (id),
  status TEXT NOT NULL CHECK (status IN ('active', 'ended')),
  started_at BIGINT NOT NULL,
  first_message_at BIGINT,
  last_message_at BIGINT,
  ended_at BIGINT,
  end_reason TEXT,
  message_count BIGINT NOT NULL DEFAULT 0,
  timeout_ms BIGINT NOT NULL,
  assigned_agent_type TEXT,
  assigned_agent_id TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_one_active_idx ON sessions (contact_id, channel_id) WHERE status = 'active';
CREATE INDEX sessions_tenant_idx ON sessions (tenant_id, contact_id, id);
CREATE INDEX sessions_expiry_idx ON sessions (status, last_message_at);

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  channel_id TEXT NOT NULL REFERENCES channels (id),
  contact_id TEXT NOT NULL REFERENCES contacts (id),
  session_id TEXT REFERENCES sessions (id),
  chat_id TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
  from_me INTEGER NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  sender_wa_id TEXT,
  media_mimetype TEXT,
  media_filename TEXT,
  media_url TEXT,
  media_path TEXT,
  media_size BIGINT,
  media_sha256 TEXT,
  media_state TEXT,
  media_error TEXT,
  waha_id TEXT,
  waha_bare_id TEXT,
  reply_to TEXT,
  ack INTEGER,
  status TEXT NOT NULL,
  error TEXT,
  send_attempts INTEGER NOT NULL DEFAULT 0,
  agent_id TEXT,
  metadata TEXT NOT NULL DEFAULT '{}',
  reactions TEXT NOT NULL DEFAULT '{}',
  message_at BIGINT NOT NULL,
  edited_at BIGINT,
  revoked_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_waha_idx ON messages (channel_id, waha_bare_id) WHERE waha_bare_id IS NOT NULL;
CREATE INDEX messages_session_idx ON messages (session_id, message_at, id);
CREATE INDEX messages_contact_idx ON messages (tenant_id, contact_id, message_at, id);

-- Acks that arrived before their message; applied when the message arrives.
CREATE TABLE pending_acks (
  channel_id TEXT NOT NULL,
  waha_bare_id TEXT NOT NULL,
  ack INTEGER NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (channel_id, waha_bare_id)
);

CREATE TABLE contact_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL REFERENCES contacts (id),
  category TEXT NOT NULL,
  summary TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  occurred_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX contact_events_contact_idx ON contact_events (tenant_id, contact_id, occurred_at, id);

-- Every WAHA webhook, stored raw before it is processed (module waha).
CREATE TABLE waha_inbox (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  envelope_id TEXT NOT NULL,
  event TEXT NOT NULL,
  dedup_key TEXT,
  body TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  received_at BIGINT NOT NULL,
  processed_at BIGINT
);
CREATE UNIQUE INDEX waha_inbox_envelope_idx ON waha_inbox (channel_id, envelope_id);
CREATE UNIQUE INDEX waha_inbox_dedup_idx ON waha_inbox (channel_id, dedup_key) WHERE dedup_key IS NOT NULL;
