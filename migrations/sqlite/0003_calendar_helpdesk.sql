-- Business calendar exceptions (R15.1) and the helpdesk (R15.2, R15.3).
-- Nothing here is deleted: a calendar day is withdrawn, an inquiry gets new entries.

CREATE TABLE calendar_days (
    id            INTEGER PRIMARY KEY,
    day           TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('closed', 'open')),
    reason        TEXT NOT NULL,
    created_by    INTEGER REFERENCES accounts(id),
    created_at    TEXT NOT NULL,
    withdrawn_at  TEXT,
    withdrawn_by  INTEGER REFERENCES accounts(id)
);
CREATE INDEX calendar_days_day ON calendar_days(day);

-- account_request_id and incident_id point at tables that other issues add; they carry no
-- foreign key until those tables exist.
CREATE TABLE helpdesk_inquiries (
    id                    INTEGER PRIMARY KEY,
    received_at           TEXT NOT NULL,
    channel               TEXT NOT NULL,
    category              TEXT NOT NULL,
    requester_account_id  INTEGER REFERENCES accounts(id),
    requester_name        TEXT NOT NULL,
    facility_id           INTEGER REFERENCES facilities(id),
    facility_name         TEXT NOT NULL,
    contact               TEXT NOT NULL,
    subject               TEXT NOT NULL,
    content               TEXT NOT NULL,
    status                TEXT NOT NULL,
    first_response_at     TEXT,
    completed_at          TEXT,
    account_request_id    INTEGER,
    incident_id           INTEGER,
    created_by            INTEGER REFERENCES accounts(id),
    created_at            TEXT NOT NULL
);
CREATE INDEX helpdesk_inquiries_received ON helpdesk_inquiries(received_at);
CREATE INDEX helpdesk_inquiries_requester ON helpdesk_inquiries(requester_account_id);

-- kind: response (staff answer or action), requester (the requester's reply),
-- correction (amends an earlier entry or the inquiry's details), link.
CREATE TABLE helpdesk_entries (
    id                INTEGER PRIMARY KEY,
    inquiry_id        INTEGER NOT NULL REFERENCES helpdesk_inquiries(id),
    kind              TEXT NOT NULL,
    at                TEXT NOT NULL,
    actor_account_id  INTEGER REFERENCES accounts(id),
    actor_name        TEXT NOT NULL,
    method            TEXT NOT NULL,
    content           TEXT NOT NULL,
    status_after      TEXT NOT NULL,
    public            INTEGER NOT NULL DEFAULT 1,
    corrects_entry_id INTEGER REFERENCES helpdesk_entries(id)
);
CREATE INDEX helpdesk_entries_inquiry ON helpdesk_entries(inquiry_id, id);
