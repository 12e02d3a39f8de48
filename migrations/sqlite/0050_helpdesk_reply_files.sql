-- Files sent with a reply (issue 15 item 5): a file row names the entry (a staff response or
-- memo, or the requester's reply) it came with; NULL: attached to the inquiry itself.
-- A file of an internal memo has public = 0 like the memo.
ALTER TABLE helpdesk_attachments ADD COLUMN entry_id BIGINT REFERENCES helpdesk_entries(id);
