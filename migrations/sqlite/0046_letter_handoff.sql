-- Issue 15 defect 2 / issue 16 item 2: a processed request's letters wait here for their one
-- download, so that the link works on any instance behind the balancer. The PDF (which holds
-- initial passwords in clear) is stored only encrypted with a key derived from the link's token;
-- the database keeps the token's SHA-256, never the token, so the rows cannot be opened from the
-- database (or a backup) alone. A row is deleted at its download or once `until` has passed.
CREATE TABLE letter_handoffs (
    token_hash  TEXT PRIMARY KEY,
    owner       INTEGER NOT NULL,
    until       TEXT NOT NULL,
    sealed      TEXT NOT NULL
);
CREATE INDEX letter_handoffs_until ON letter_handoffs (until);
