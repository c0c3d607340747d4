-- Durable event bus: the outbox (written in the same transaction as the state change), each
-- consumer's position, and deliveries that wait for a retry or were dead-lettered.
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  event_key TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  payload JSONB NOT NULL,
  trace_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_type_idx ON events (type, seq);
CREATE INDEX events_tenant_idx ON events (tenant_id, seq);

CREATE TABLE event_consumers (
  name TEXT PRIMARY KEY,
  position BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL
);

CREATE TABLE event_deliveries (
  consumer TEXT NOT NULL,
  seq BIGINT NOT NULL,
  event_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (consumer, seq)
);
CREATE INDEX event_deliveries_state_idx ON event_deliveries (consumer, state, seq);
