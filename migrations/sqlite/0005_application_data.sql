-- Application data (利用者の複製診療情報): API keys of facility systems, network patients and their
-- local IDs, consents, documents received through the FHIR intake API, their attachments (blobs
-- are files named by SHA-256 under the data directory; rows hold the hash), and the tombstones
-- of purged documents. Facilities are only referenced.

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    facility_id  INTEGER NOT NULL REFERENCES facilities(id),
    label        TEXT NOT NULL,
    key_prefix   TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    revoked_at   TEXT,
    revoked_by   TEXT
);

CREATE TABLE patients (
    id           INTEGER PRIMARY KEY,
    network_id   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    kana         TEXT NOT NULL,
    birth_date   TEXT NOT NULL,
    gender       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE patient_links (
    id           INTEGER PRIMARY KEY,
    patient_id   INTEGER NOT NULL REFERENCES patients(id),
    facility_id  INTEGER NOT NULL REFERENCES facilities(id),
    local_id     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (facility_id, local_id)
);
CREATE INDEX patient_links_patient ON patient_links (patient_id);

CREATE TABLE consents (
    id                 INTEGER PRIMARY KEY,
    patient_id         INTEGER NOT NULL REFERENCES patients(id),
    facility_id        INTEGER NOT NULL REFERENCES facilities(id),
    signed_on          TEXT NOT NULL,
    scope              TEXT NOT NULL,
    scan_hash          TEXT,
    scan_content_type  TEXT,
    recorded_at        TEXT NOT NULL,
    recorded_by        TEXT NOT NULL,
    withdrawn_at       TEXT,
    withdrawn_by       TEXT
);
CREATE INDEX consents_patient ON consents (patient_id);

CREATE TABLE consent_facilities (
    consent_id   INTEGER NOT NULL REFERENCES consents(id),
    facility_id  INTEGER NOT NULL REFERENCES facilities(id),
    PRIMARY KEY (consent_id, facility_id)
);

CREATE TABLE documents (
    id                 INTEGER PRIMARY KEY,
    patient_id         INTEGER NOT NULL REFERENCES patients(id),
    facility_id        INTEGER NOT NULL REFERENCES facilities(id),
    bundle_type        TEXT NOT NULL,
    identifier_system  TEXT NOT NULL,
    identifier_value   TEXT NOT NULL,
    type_code          TEXT NOT NULL,
    type_label         TEXT NOT NULL,
    title              TEXT NOT NULL,
    doc_date           TEXT NOT NULL,
    content_hash       TEXT NOT NULL,
    content            TEXT NOT NULL,
    size_bytes         INTEGER NOT NULL,
    sent_at            TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    UNIQUE (facility_id, identifier_system, identifier_value)
);
CREATE INDEX documents_patient ON documents (patient_id, doc_date);
CREATE INDEX documents_expires ON documents (expires_at);

CREATE TABLE document_attachments (
    id            INTEGER PRIMARY KEY,
    document_id   INTEGER NOT NULL REFERENCES documents(id),
    ordinal       INTEGER NOT NULL,
    blob_hash     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    title         TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX document_attachments_blob ON document_attachments (blob_hash);

CREATE TABLE document_tombstones (
    document_id   INTEGER PRIMARY KEY,
    facility_id   INTEGER NOT NULL REFERENCES facilities(id),
    content_hash  TEXT NOT NULL,
    sent_at       TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    purged_at     TEXT NOT NULL,
    purged_by     TEXT NOT NULL
);
