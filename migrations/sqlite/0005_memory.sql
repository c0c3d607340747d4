-- The memory module's own copy of what it indexes (it never reads the CRM's tables): messages
-- with their sentiment and stemmed terms, one memory document per session, the knowledge graph
-- and memory facts. Keyword indexes are FTS5 tables over stored columns (external content).
-- Terms carry a short tenant tag (documents) or contact tag (messages) as a prefix, so a keyword
-- query only walks its own partition's posting lists; rows are still checked by tenant_id.
CREATE TABLE memory_messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  session_id TEXT,
  from_me INTEGER NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  terms TEXT NOT NULL,
  sentiment REAL NOT NULL,
  message_at INTEGER NOT NULL,
  UNIQUE (tenant_id, id)
);
CREATE INDEX memory_messages_contact_idx ON memory_messages (tenant_id, contact_id, message_at);
CREATE INDEX memory_messages_session_idx ON memory_messages (tenant_id, session_id, message_at);
CREATE VIRTUAL TABLE memory_messages_fts USING fts5(
  terms, content='memory_messages', content_rowid='seq',
  tokenize='unicode61 remove_diacritics 2');

CREATE TABLE memory_documents (
  seq INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  channel_id TEXT,
  status TEXT NOT NULL,
  agent_type TEXT,
  agent_id TEXT,
  agent_category TEXT,
  outcome TEXT,
  end_reason TEXT,
  header TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL DEFAULT '',
  llm_summary TEXT,
  terms TEXT NOT NULL DEFAULT '',
  search_text TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  last_message_at INTEGER,
  message_count INTEGER NOT NULL DEFAULT 0,
  indexed_count INTEGER NOT NULL DEFAULT 0,
  sentiment_sum REAL NOT NULL DEFAULT 0,
  sentiment_n INTEGER NOT NULL DEFAULT 0,
  embedder TEXT,
  embedding BLOB,
  indexed_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  UNIQUE (tenant_id, session_id)
);
CREATE INDEX memory_documents_contact_idx ON memory_documents (tenant_id, contact_id, last_message_at);
CREATE INDEX memory_documents_indexed_idx ON memory_documents (indexed_at);
CREATE VIRTUAL TABLE memory_documents_fts USING fts5(
  terms, content='memory_documents', content_rowid='seq',
  tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE memory_documents_trgm USING fts5(
  search_text, content='memory_documents', content_rowid='seq', tokenize='trigram');

CREATE TABLE memory_graph_nodes (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  props TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE TABLE memory_graph_edges (
  tenant_id TEXT NOT NULL,
  src TEXT NOT NULL,
  kind TEXT NOT NULL,
  dst TEXT NOT NULL,
  props TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, src, kind, dst)
);
CREATE INDEX memory_graph_edges_dst_idx ON memory_graph_edges (tenant_id, dst, created_at DESC, src, kind);

CREATE TABLE memory_facts (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  type TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  text TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '{}',
  confidence REAL NOT NULL,
  origin TEXT NOT NULL,
  source_session_id TEXT,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER,
  created_at INTEGER NOT NULL,
  expired_at INTEGER,
  supersedes TEXT,
  mentions INTEGER NOT NULL DEFAULT 1,
  updated_at INTEGER NOT NULL
);
CREATE INDEX memory_facts_contact_idx ON memory_facts (tenant_id, contact_id, valid_from);
CREATE INDEX memory_facts_subject_idx ON memory_facts (tenant_id, contact_id, subject);
-- What the memory writer has already learned from (a message, a session): re-processing the same
-- source changes nothing, and a fact repeated by a new source strengthens instead of duplicating.
CREATE TABLE memory_fact_evidence (
  tenant_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  source_key TEXT NOT NULL,
  fact_id TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, contact_id, subject, source_key)
);
