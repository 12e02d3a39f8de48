-- Incidents (issue 13, R17.1): what the record keeps beside the 別紙3 fields — contacts with
-- vendors and makers, attachments (添付資料, blobs in the content-addressed store) and every
-- print of the 障害報告書. Rows are only added, never changed or deleted.

-- 関係箇所（メーカー、ベンダー、システム構築箇所など）との連絡 (article 17 (2)).
CREATE TABLE incident_vendor_contacts (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    contacted_at TEXT NOT NULL,          -- when the contact was made
    organisation TEXT NOT NULL,          -- the vendor or maker
    person TEXT NOT NULL DEFAULT '',     -- who was reached there
    reference_no TEXT NOT NULL DEFAULT '', -- their ticket / reference number
    request TEXT NOT NULL DEFAULT '',    -- what was asked or reported
    answer TEXT NOT NULL DEFAULT '',     -- what they answered
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX incident_vendor_contacts_incident ON incident_vendor_contacts (incident_id, contacted_at);

-- 添付資料: the bytes are in <data_dir>/blobs under blob_hash; the records purge keeps a blob
-- that a row here refers to (records::repo::blob_referenced).
CREATE TABLE incident_attachments (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    blob_hash TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,          -- as declared; served only if allow-listed
    size_bytes BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX incident_attachments_incident ON incident_attachments (incident_id);
CREATE INDEX incident_attachments_blob ON incident_attachments (blob_hash);

-- Each print of the 障害報告書: a draft (案, any stage) or the final version (報告済 only).
CREATE TABLE incident_prints (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    kind TEXT NOT NULL,                  -- draft | final
    revision BIGINT NOT NULL,            -- the incident's revision that was printed
    sha256 TEXT NOT NULL,                -- of the PDF bytes handed out
    printed_by TEXT NOT NULL,
    printed_at TEXT NOT NULL
);
CREATE INDEX incident_prints_incident ON incident_prints (incident_id, printed_at);
