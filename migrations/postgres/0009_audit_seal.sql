-- Issue 10 (X.2, ASVS 7.3): audit rows are sealed with HMAC-SHA256 under the `audit` key kept
-- outside the database (<data_dir>/keys/audit.key). key_id names the key that sealed a row; NULL
-- marks a row written before sealing began (plain SHA-256, verified as before). Those rows form a
-- prefix of the chain whose length is fixed here, in audit_head.unsealed, and in every anchor.
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
ALTER TABLE audit_head ADD COLUMN unsealed BIGINT NOT NULL DEFAULT 0;
UPDATE audit_head SET unsealed = seq WHERE id = 1;
