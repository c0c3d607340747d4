-- The observability module: stored spans (sampled, swept after the retention) and LLM usage per
-- tenant, UTC day, agent and model (every call, sampled or not). Besides the attributes (a JSON
-- object) a span keeps the values the dashboard aggregates, so no query needs JSON functions.
CREATE TABLE spans (
  tenant_id TEXT NOT NULL,
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  start_us BIGINT NOT NULL,
  end_us BIGINT NOT NULL,
  status TEXT NOT NULL,
  status_message TEXT NOT NULL,
  attributes TEXT NOT NULL,
  session_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  total_tokens BIGINT NOT NULL,
  cost_usd REAL NOT NULL,
  groundedness REAL,
  flagged INTEGER NOT NULL,
  similarity REAL,
  rerank_gain REAL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_roots_idx ON spans (tenant_id, start_us) WHERE parent_span_id = '';
CREATE INDEX spans_session_idx ON spans (tenant_id, session_id, start_us);
CREATE INDEX spans_agent_idx ON spans (tenant_id, agent, start_us);
CREATE INDEX spans_kind_idx ON spans (tenant_id, kind, start_us);
CREATE INDEX spans_start_idx ON spans (start_us);

CREATE TABLE usage_daily (
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,
  agent TEXT NOT NULL,
  model TEXT NOT NULL,
  calls BIGINT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  total_tokens BIGINT NOT NULL,
  cost_usd REAL NOT NULL,
  PRIMARY KEY (tenant_id, day, agent, model)
);
