-- The agents module: tenant additions to the router, the agent state of sessions, the record of
-- every turn, and follow-ups agents scheduled.
CREATE TABLE agent_router_examples (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  category TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX agent_router_examples_text_idx ON agent_router_examples (tenant_id, category, text);

CREATE TABLE agent_router_thresholds (
  tenant_id TEXT NOT NULL,
  category TEXT NOT NULL,
  threshold REAL NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, category)
);

CREATE TABLE agent_session_state (
  session_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  agent_category TEXT NOT NULL,
  confidence REAL NOT NULL,
  agent_id TEXT,
  answered_at BIGINT NOT NULL,
  answered_id TEXT NOT NULL,
  turns BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE agent_turns (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  status TEXT NOT NULL,
  agent_category TEXT NOT NULL,
  confidence REAL NOT NULL,
  agent_id TEXT,
  model TEXT NOT NULL,
  reply_message_id TEXT,
  offer_id TEXT,
  groundedness REAL NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  cost_usd REAL NOT NULL,
  detail TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX agent_turns_session_idx ON agent_turns (tenant_id, session_id, created_at);
CREATE INDEX agent_turns_tenant_idx ON agent_turns (tenant_id, created_at);

CREATE TABLE agent_followups (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  session_id TEXT,
  agent_id TEXT,
  due_at BIGINT NOT NULL,
  note TEXT NOT NULL,
  text TEXT NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  sent_at BIGINT
);
CREATE UNIQUE INDEX agent_followups_key_idx ON agent_followups (tenant_id, idempotency_key);
CREATE INDEX agent_followups_due_idx ON agent_followups (status, due_at);
