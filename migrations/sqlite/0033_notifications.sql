-- Notifications (issue 15 item 3, X.4): every message to a user is a row here (the site list),
-- and a mail in the outbox (mail_id) when the user's preference for its kind is on and the user
-- has given a mail address. Rows are never deleted; reading sets read_at.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,                  -- helpdesk.answered | request.processed | letter.reissued | helpdesk.assigned
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    link_path TEXT NOT NULL DEFAULT '',  -- a path of the site (/support/12), shown as a link
    mail_id BIGINT,                      -- mail_outbox.id when a mail was queued
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX notifications_account ON notifications (account_id, read_at);

-- A user's mail address for notifications ('' = none).
CREATE TABLE notification_addresses (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id),
    email TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The kinds a user does NOT want by mail (every kind is on until turned off here).
CREATE TABLE notification_mail_off (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- The public URL the server last started with (one row, id 1): the links in mails are built
-- from it by service functions that have no settings at hand (requests, helpdesk).
CREATE TABLE notification_site (
    id BIGINT PRIMARY KEY,
    public_url TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
