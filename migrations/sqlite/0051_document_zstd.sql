-- Documents stored compressed (issue 14 item 7, issue 16 item 3): a document's JSON is kept as
-- a zstd frame in content_zstd (a 2–4 KB Bundle becomes ~1–1.5 KB, so a row fits in a page
-- without overflow pages and the write-ahead log carries a third of the bytes). Documents
-- stored before this migration keep their text in content; since, content is '' and
-- content_zstd holds the text (records::packed; content_hash and size_bytes are of the text).
ALTER TABLE documents ADD COLUMN content_zstd BLOB;
