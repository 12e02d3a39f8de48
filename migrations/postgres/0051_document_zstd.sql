-- Documents stored compressed (issue 14 item 7, issue 16 item 3): a document's JSON is kept as
-- a zstd frame in content_zstd (a 2–4 KB Bundle becomes ~1–1.5 KB, so the row stays under the
-- TOAST threshold and PostgreSQL does not spend its own pglz compression on it). Documents
-- stored before this migration keep their text in content; since, content is '' and
-- content_zstd holds the text (records::packed; content_hash and size_bytes are of the text).
-- EXTERNAL: a frame that is still large goes out of line without a second, useless compression.
ALTER TABLE documents ADD COLUMN content_zstd BYTEA;
ALTER TABLE documents ALTER COLUMN content_zstd SET STORAGE EXTERNAL;
