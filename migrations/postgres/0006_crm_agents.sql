-- The agents registry (entities made from the built-in templates) and the offers agents make.
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  template_id TEXT NOT NULL,
  category TEXT NOT NULL,
  name TEXT NOT NULL,
  overrides JSONB NOT NULL DEFAULT '{}'::jsonb,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX agents_name_idx ON agents (tenant_id, name);
CREATE INDEX agents_category_idx ON agents (tenant_id, category, enabled, created_at);

CREATE TABLE offers (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  session_id TEXT,
  agent_id TEXT,
  kind TEXT NOT NULL,
  discount_percent INTEGER NOT NULL,
  duration_months INTEGER NOT NULL,
  reason TEXT NOT NULL,
  status TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX offers_key_idx ON offers (tenant_id, idempotency_key);
CREATE INDEX offers_contact_idx ON offers (tenant_id, contact_id, created_at);
