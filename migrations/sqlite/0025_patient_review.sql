-- Right patient (issue 14, R21.1, X.3). A document whose Patient (name, kana, birth date, sex)
-- differs from the network patient registered for the sender's local ID is refused; with
-- `[records] patient_mismatch = "review"` it is stored but held here until a facility manager of
-- the sending facility accepts it (filed under the patient) or rejects it (never filed).
-- documents.review_state: NULL = filed (readable as the consent says), 'held' = waiting for the
-- review, 'rejected' = not filed; held and rejected documents are read by nobody.
ALTER TABLE documents ADD COLUMN review_state TEXT;

CREATE TABLE document_reviews (
    id               INTEGER PRIMARY KEY,
    document_id      INTEGER NOT NULL UNIQUE REFERENCES documents(id) ON DELETE CASCADE,
    facility_id      INTEGER NOT NULL REFERENCES facilities(id),  -- the sender
    patient_id       INTEGER NOT NULL REFERENCES patients(id),    -- registered for local_id
    local_id         TEXT NOT NULL,
    identifier_value TEXT NOT NULL,   -- Bundle.identifier.value as sent
    sent_name        TEXT NOT NULL,   -- the Bundle's Patient as sent
    sent_kana        TEXT NOT NULL,
    sent_birth_date  TEXT NOT NULL,
    sent_gender      TEXT NOT NULL,
    differs          TEXT NOT NULL,   -- the fields that differ: name,kana,birth_date,gender
    state            TEXT NOT NULL,   -- pending | accepted | rejected
    created_at       TEXT NOT NULL,
    resolved_at      TEXT,
    resolved_by      TEXT,
    reason           TEXT
);
CREATE INDEX document_reviews_facility ON document_reviews (facility_id, state);
