-- No query reads events by tenant (consumers and `ventros events list` read by sequence, and by
-- type); the index only cost every appended event one more write.
DROP INDEX events_tenant_idx;
-- Webhooks waiting for the bus: looked for before applying new ones on arrival (their order per
-- chat). Processed rows, nearly all of them, are not in it.
CREATE INDEX waha_inbox_pending_idx ON waha_inbox (received_at) WHERE state = 'pending';
