-- The mail outbox (issue 12): every mail the product sends is first a row here, written in the
-- same transaction as the event that causes it; the job mail.send delivers it through SMTP,
-- retries with back-off and records every attempt.

CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,                -- what caused it: monitor.alert, backup.failed, …
    source_ref TEXT,                     -- the id of that thing (alert id, backup id, …)
    recipients TEXT NOT NULL,            -- addresses, one per line (checked when queued)
    subject TEXT NOT NULL,               -- UTF-8; encoded for MIME when sent
    body TEXT NOT NULL,                  -- plain text, UTF-8
    state TEXT NOT NULL,                 -- queued | sent | failed (gave up after the last retry)
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);

CREATE TABLE mail_attempts (
    id INTEGER PRIMARY KEY,
    mail_id BIGINT NOT NULL,
    at TEXT NOT NULL,
    ok BIGINT NOT NULL,                  -- 0 / 1
    detail TEXT NOT NULL                 -- the server's answer, or the error
);
CREATE INDEX mail_attempts_mail ON mail_attempts (mail_id);
