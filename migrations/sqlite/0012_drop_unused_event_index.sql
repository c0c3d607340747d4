-- No query reads events by tenant (consumers and `ventros events list` read by sequence, and by
-- type); the index only cost every appended event one more write.
DROP INDEX events_tenant_idx;
