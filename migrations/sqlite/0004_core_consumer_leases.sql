-- Consumer leases: of several instances running the same consumer, only the lease holder
-- delivers; a lease that is not renewed expires and another instance takes over.
ALTER TABLE event_consumers ADD COLUMN lease_owner TEXT;
ALTER TABLE event_consumers ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
