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
    document_id          BIGINT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    bundle_timestamp     TEXT,
    composition_id       TEXT,
    composition_url      TEXT,
    composition_subject  TEXT
);
CREATE INDEX document_search_timestamp ON document_search (bundle_timestamp);

CREATE TABLE document_tokens (
    document_id  BIGINT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    param        TEXT NOT NULL,
    system       TEXT NOT NULL,
    code         TEXT NOT NULL
);
CREATE INDEX document_tokens_code ON document_tokens (param, code);
CREATE INDEX document_tokens_document ON document_tokens (document_id);
CREATE INDEX documents_identifier ON documents (identifier_value);
CREATE INDEX documents_sent ON documents (sent_at);

-- A FHIR instant/dateTime as UTC text in the Timestamp format; Japan time when it has no zone;
-- NULL when it cannot be read (never an error: no stored document may stop the migration).
CREATE FUNCTION fhir_instant_utc(t TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v TEXT := t;
BEGIN
    IF v IS NULL THEN
        RETURN NULL;
    ELSIF v ~ '^\d{4}-\d{2}-\d{2}$' THEN
        v := v || 'T00:00:00+09:00';
    ELSIF v !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$' THEN
        RETURN NULL;
    ELSIF v !~ '(Z|[+-]\d{2}:\d{2})$' THEN
        v := v || '+09:00';
    END IF;
    RETURN to_char(v::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

CREATE VIEW document_search_source AS
SELECT d.id AS document_id,
    fhir_instant_utc(CASE WHEN jsonb_typeof(j -> 'timestamp') = 'string'
        THEN j ->> 'timestamp' END) AS bundle_timestamp,
    CASE WHEN d.bundle_type = 'document' AND jsonb_typeof(j #> '{entry,0,resource,id}') = 'string'
        THEN j #>> '{entry,0,resource,id}' END AS composition_id,
    CASE WHEN d.bundle_type = 'document' AND jsonb_typeof(j #> '{entry,0,fullUrl}') = 'string'
        THEN j #>> '{entry,0,fullUrl}' END AS composition_url,
    CASE WHEN d.bundle_type = 'document'
          AND jsonb_typeof(j #> '{entry,0,resource,subject,reference}') = 'string'
        THEN j #>> '{entry,0,resource,subject,reference}' END AS composition_subject
FROM documents d CROSS JOIN LATERAL (SELECT d.content::jsonb AS j) x;

CREATE VIEW document_tokens_source AS
SELECT d.id AS document_id, 'composition.type' AS param,
    COALESCE(c.value ->> 'system', '') AS system, c.value ->> 'code' AS code
FROM documents d
CROSS JOIN LATERAL (SELECT d.content::jsonb AS j) x
CROSS JOIN LATERAL jsonb_array_elements(CASE
    WHEN jsonb_typeof(j #> '{entry,0,resource,type,coding}') = 'array'
    THEN j #> '{entry,0,resource,type,coding}' ELSE '[]'::jsonb END) c(value)
WHERE d.bundle_type = 'document'
  AND jsonb_typeof(c.value) = 'object' AND jsonb_typeof(c.value -> 'code') = 'string'
  AND COALESCE(jsonb_typeof(c.value -> 'system'), 'string') = 'string'
UNION ALL
SELECT d.id, 'patient.identifier', COALESCE(i.value ->> 'system', ''), i.value ->> 'value'
FROM documents d
CROSS JOIN LATERAL (SELECT d.content::jsonb AS j) x
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(j -> 'entry') = 'array'
    THEN j -> 'entry' ELSE '[]'::jsonb END) e(value)
CROSS JOIN LATERAL jsonb_array_elements(CASE
    WHEN jsonb_typeof(e.value #> '{resource,identifier}') = 'array'
    THEN e.value #> '{resource,identifier}' ELSE '[]'::jsonb END) i(value)
WHERE e.value #>> '{resource,resourceType}' = 'Patient'
  AND jsonb_typeof(i.value) = 'object' AND jsonb_typeof(i.value -> 'value') = 'string'
  AND COALESCE(jsonb_typeof(i.value -> 'system'), 'string') = 'string';

INSERT INTO document_search (document_id, bundle_timestamp, composition_id, composition_url,
                             composition_subject)
SELECT document_id, bundle_timestamp, composition_id, composition_url, composition_subject
FROM document_search_source;
INSERT INTO document_tokens (document_id, param, system, code)
SELECT document_id, param, system, code FROM document_tokens_source;
