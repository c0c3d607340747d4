-- Which built-in workflows a tenant starts on its own events (lead nurturing on contact.created).
CREATE TABLE workflow_triggers (
  tenant_id TEXT NOT NULL,
  type TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, type)
);
