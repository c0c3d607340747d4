-- Durable workflows: one row per run (state, the outstanding command, timers as wake_at, leases),
-- its history, and signals not yet taken by the run.
CREATE TABLE workflows (
  run_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  step TEXT NOT NULL,
  state TEXT NOT NULL,
  input TEXT NOT NULL,
  result TEXT NOT NULL,
  error TEXT NOT NULL,
  pending TEXT NOT NULL,
  inbox TEXT NOT NULL,
  compensations TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  parent_run_id TEXT,
  wake_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL,
  history_seq BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  closed_at BIGINT
);
CREATE UNIQUE INDEX workflows_running_idx ON workflows (tenant_id, id) WHERE status = 'running';
CREATE INDEX workflows_due_idx ON workflows (wake_at) WHERE status = 'running' AND wake_at > 0;
CREATE INDEX workflows_id_idx ON workflows (tenant_id, id, created_at);
CREATE INDEX workflows_list_idx ON workflows (tenant_id, created_at);

CREATE TABLE workflow_history (
  run_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE workflow_signals (
  seq BIGSERIAL PRIMARY KEY,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at BIGINT NOT NULL
);
CREATE INDEX workflow_signals_run_idx ON workflow_signals (run_id, seq);
