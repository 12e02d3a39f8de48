-- Incidents, the users affected and what follows (issue 13, R17.2, R17.3): the portal notice of
-- an incident, the contact tree of 別紙4 and every contact made along it, the recurrence-
-- prevention report to the service operator with its measures, and the cause category that the
-- statistics count by. Nothing here is deleted: contacts are deactivated, reports returned.

-- 原因区分 for the statistics: hardware | software | network | external | human | unknown.
ALTER TABLE incidents ADD COLUMN cause_category TEXT NOT NULL DEFAULT 'unknown';

-- The 障害情報 announcement of an incident on the portal (one per incident).
CREATE TABLE incident_notices (
    incident_id BIGINT PRIMARY KEY,
    announcement_id BIGINT NOT NULL,     -- portal_announcements.id
    expected_recovery TEXT NOT NULL DEFAULT '',  -- 復旧見込み as entered (free text)
    posted_at TEXT NOT NULL,             -- first publication: the first user notice
    posted_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT                     -- marked 復旧 (the incident recovered or was reported)
);

-- 別紙4: the contact tree. Ordered by level (1 first), then position within the level.
CREATE TABLE incident_contacts (
    id INTEGER PRIMARY KEY,
    level BIGINT NOT NULL,               -- 1, 2, 3 …: who is called first
    position BIGINT NOT NULL,            -- order within the level
    organisation TEXT NOT NULL,          -- 連絡先（組織）
    person TEXT NOT NULL DEFAULT '',     -- 担当者・役職
    phone TEXT NOT NULL DEFAULT '',
    fax TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    deactivated_at TEXT,                 -- no longer called; kept for the notifications made
    revision BIGINT NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX incident_contacts_order ON incident_contacts (level, position);

-- Every contact made for an incident: a mail queued in the outbox (means mail, mail_id set; it
-- counts as reached only once mail_outbox.state is sent) or a call/FAX/mail the operator records
-- with who was reached, when and the result.
CREATE TABLE incident_notifications (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    contact_id BIGINT NOT NULL,
    means TEXT NOT NULL,                 -- phone | fax | mail
    mail_id BIGINT,                      -- mail_outbox.id of a queued mail
    result TEXT NOT NULL,                -- queued (outbox) | delivered | absent | callback | failed
    reached_person TEXT NOT NULL DEFAULT '',
    reached_at TEXT NOT NULL,            -- when (entered, or when queued)
    note TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX incident_notifications_incident ON incident_notifications (incident_id, contact_id);

-- R17.3: measures beyond system management, reported to the service operator.
CREATE TABLE incident_recurrence_reports (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,                  -- the measures proposed and why system management cannot
    state TEXT NOT NULL,                 -- draft | submitted | returned | accepted
    revision BIGINT NOT NULL DEFAULT 1,
    submitted_at TEXT,
    submitted_by TEXT,
    decided_at TEXT,
    decided_by TEXT,
    decision_comment TEXT NOT NULL DEFAULT '',
    committee_convened BIGINT NOT NULL DEFAULT 0,  -- 臨時運営委員会: 0 not (yet), 1 convened
    committee_on TEXT,                   -- its date, YYYY-MM-DD
    minutes_hash TEXT,                   -- the minutes in the blob store (kept from purge)
    minutes_name TEXT,
    minutes_type TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX incident_recurrence_reports_incident ON incident_recurrence_reports (incident_id);

CREATE TABLE incident_measures (
    id INTEGER PRIMARY KEY,
    report_id BIGINT NOT NULL,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,                 -- 担当
    due_on TEXT NOT NULL,                -- 期限, YYYY-MM-DD (Japan)
    done_at TEXT,
    done_by TEXT,
    done_note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX incident_measures_report ON incident_measures (report_id);
