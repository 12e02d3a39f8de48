-- Second-factor secrets (issue 10, X.1): TOTP secrets are sealed with a key kept outside the
-- database (in Rust, at start-up: SQL cannot encrypt), and recovery codes become salted argon2id
-- hashes of 120-bit codes. The old codes (8 characters, unsalted SHA-256) are invalidated at
-- start-up too; this column records when, so that the person is told to issue new ones.
ALTER TABLE accounts ADD COLUMN recovery_codes_invalidated_at TEXT;
