-- The helpdesk for a team (issue 15 item 5): who handles an inquiry, how urgent it is, and the
-- canned replies the staff insert into a response.
ALTER TABLE helpdesk_inquiries ADD COLUMN assignee_account_id BIGINT REFERENCES accounts(id);
ALTER TABLE helpdesk_inquiries ADD COLUMN priority TEXT NOT NULL DEFAULT '通常';  -- 緊急 | 高 | 通常 | 低
-- A duplicate merged into another inquiry: closed (完了) with a link to the kept one.
ALTER TABLE helpdesk_inquiries ADD COLUMN merged_into_id BIGINT REFERENCES helpdesk_inquiries(id);
CREATE INDEX helpdesk_inquiries_assignee ON helpdesk_inquiries (assignee_account_id, status);

-- Canned replies, managed by the staff; retired ones are kept (never deleted).
CREATE TABLE helpdesk_canned_replies (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT
);
