-- FHIR search on Bundle (issue 14): the values the search parameters look at that the documents
-- table does not hold, kept beside each document:
--   document_search  one row per document: Bundle.timestamp as UTC text in the Timestamp format
--                    (2026-11-20T01:15:00.000Z; a value without a time zone is Japan time, an
--                    unreadable one NULL), the Composition's id, fullUrl and subject reference.
--   document_tokens  token values of chained parameters: `composition.type` (every coding of
--                    Composition.type) and `patient.identifier` (every identifier of the Bundle's
--                    Patient, for composition.subject.identifier); system '' when absent.
-- The intake writes them with each new document (records::search::keys, in Rust: a trigger doing
-- this in SQL cost 2-4x the insert rate). The views below are the same definition in SQL; they
-- fill the rows of the documents stored before this migration, and a test checks that they and
-- the Rust definition agree. Both tables go with their document (ON DELETE CASCADE: the
-- retention purge deletes documents).

CREATE TABLE document_search (
    document_id          INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    bundle_timestamp     TEXT,
    composition_id       TEXT,
    composition_url      TEXT,
    composition_subject  TEXT
);
CREATE INDEX document_search_timestamp ON document_search (bundle_timestamp);

CREATE TABLE document_tokens (
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    param        TEXT NOT NULL,
    system       TEXT NOT NULL,
    code         TEXT NOT NULL
);
CREATE INDEX document_tokens_code ON document_tokens (param, code);
CREATE INDEX document_tokens_document ON document_tokens (document_id);
CREATE INDEX documents_identifier ON documents (identifier_value);
CREATE INDEX documents_sent ON documents (sent_at);

CREATE VIEW document_search_raw AS
SELECT d.id AS document_id,
    CASE WHEN json_type(d.content, '$.timestamp') = 'text'
        THEN json_extract(d.content, '$.timestamp') END AS ts,
    CASE WHEN d.bundle_type = 'document' AND json_type(d.content, '$.entry[0].resource.id') = 'text'
        THEN json_extract(d.content, '$.entry[0].resource.id') END AS composition_id,
    CASE WHEN d.bundle_type = 'document' AND json_type(d.content, '$.entry[0].fullUrl') = 'text'
        THEN json_extract(d.content, '$.entry[0].fullUrl') END AS composition_url,
    CASE WHEN d.bundle_type = 'document'
          AND json_type(d.content, '$.entry[0].resource.subject.reference') = 'text'
        THEN json_extract(d.content, '$.entry[0].resource.subject.reference') END AS composition_subject
FROM documents d;

CREATE VIEW document_search_source AS
SELECT document_id,
    strftime('%Y-%m-%dT%H:%M:%fZ', CASE
        WHEN ts GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' THEN ts || 'T00:00:00+09:00'
        WHEN ts GLOB '*Z' OR ts GLOB '*[+-][0-9][0-9]:[0-9][0-9]' THEN ts
        ELSE ts || '+09:00'
    END) AS bundle_timestamp,
    composition_id, composition_url, composition_subject
FROM document_search_raw;

CREATE VIEW document_tokens_source AS
SELECT d.id AS document_id, 'composition.type' AS param,
    COALESCE(json_extract(c.value, '$.system'), '') AS system, json_extract(c.value, '$.code') AS code
FROM documents d, json_each(d.content, '$.entry[0].resource.type.coding') c
WHERE d.bundle_type = 'document'
  AND json_type(d.content, '$.entry[0].resource.type.coding') = 'array'
  AND c.type = 'object' AND json_type(c.value, '$.code') = 'text'
  AND COALESCE(json_type(c.value, '$.system'), 'text') = 'text'
UNION ALL
SELECT d.id, 'patient.identifier',
    COALESCE(json_extract(i.value, '$.system'), ''), json_extract(i.value, '$.value')
FROM documents d, json_each(d.content, '$.entry') e, json_each(e.value, '$.resource.identifier') i
WHERE json_type(d.content, '$.entry') = 'array' AND e.type = 'object'
  AND json_extract(e.value, '$.resource.resourceType') = 'Patient'
  AND json_type(e.value, '$.resource.identifier') = 'array'
  AND i.type = 'object' AND json_type(i.value, '$.value') = 'text'
  AND COALESCE(json_type(i.value, '$.system'), 'text') = 'text';

INSERT INTO document_search (document_id, bundle_timestamp, composition_id, composition_url,
                             composition_subject)
SELECT document_id, bundle_timestamp, composition_id, composition_url, composition_subject
FROM document_search_source;
INSERT INTO document_tokens (document_id, param, system, code)
SELECT document_id, param, system, code FROM document_tokens_source;
