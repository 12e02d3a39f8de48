-- Facilities in full (R15.4), user attributes, account requests from facility managers
-- (R12.1–R12.5) with identity verification, and account inventory reviews.

ALTER TABLE facilities ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
ALTER TABLE facilities ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE facilities ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE facilities ADD COLUMN fax TEXT NOT NULL DEFAULT '';

ALTER TABLE accounts ADD COLUMN name_kana TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN job_type TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN letter_issued_at TEXT;
ALTER TABLE accounts ADD COLUMN disabled_reason TEXT;

CREATE TABLE account_requests (
    id                   INTEGER PRIMARY KEY,
    facility_id          INTEGER NOT NULL REFERENCES facilities(id),
    kind                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    channel              TEXT NOT NULL,
    paper_date           TEXT,
    submitted_by         INTEGER REFERENCES accounts(id),
    received_at          TEXT NOT NULL,
    person_name          TEXT NOT NULL DEFAULT '',
    person_kana          TEXT NOT NULL DEFAULT '',
    job_type             TEXT NOT NULL DEFAULT '',
    contact              TEXT NOT NULL DEFAULT '',
    target_account_id    INTEGER REFERENCES accounts(id),
    reason               TEXT NOT NULL DEFAULT '',
    handled_by           INTEGER REFERENCES accounts(id),
    handled_at           TEXT,
    rejection_reason     TEXT,
    result_account_id    INTEGER REFERENCES accounts(id),
    verification_method  TEXT,
    verified_by          INTEGER REFERENCES accounts(id),
    verified_at          TEXT,
    verification_note    TEXT
);
CREATE INDEX account_requests_facility ON account_requests(facility_id, received_at);
CREATE INDEX account_requests_state ON account_requests(state, received_at);

CREATE TABLE account_reviews (
    id           INTEGER PRIMARY KEY,
    reviewed_by  INTEGER NOT NULL REFERENCES accounts(id),
    reviewed_at  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    summary      TEXT NOT NULL
);
