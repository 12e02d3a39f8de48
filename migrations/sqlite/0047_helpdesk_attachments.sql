-- Helpdesk attachments (issue 15 item 5): files a requester or the staff attach to an inquiry.
-- The bytes are in the blob store under blob_hash; the records purge keeps a blob that a row
-- here refers to (records::repo::blob_referenced). public = 0: an internal memo's file, shown
-- to the helpdesk staff only.
CREATE TABLE helpdesk_attachments (
    id INTEGER PRIMARY KEY,
    inquiry_id BIGINT NOT NULL REFERENCES helpdesk_inquiries(id),
    blob_hash TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,          -- from the file's first bytes, not as declared
    size_bytes BIGINT NOT NULL,
    public BIGINT NOT NULL DEFAULT 1,
    uploaded_by_account_id BIGINT REFERENCES accounts(id),
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX helpdesk_attachments_inquiry ON helpdesk_attachments (inquiry_id, id);
CREATE INDEX helpdesk_attachments_blob ON helpdesk_attachments (blob_hash);
