-- Every instance on one database must use the same keys (issue 16: audit seal, TOTP secrets,
-- form tokens). The first start records each key set's current key id (the first 16 hex digits
-- of the key's SHA-256, never the key); a later start whose key set lacks that id is refused
-- (db/fingerprints.rs).
CREATE TABLE key_fingerprints (
    purpose     TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
