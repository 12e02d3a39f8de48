-- Backups (issue 11): the history of backups (the archives and their manifests on disk are the
-- source of truth for restore; this is what the admin page and the dashboard read), the
-- schedules a system administrator proposes and the service operator approves, and restore drills.

CREATE TABLE backups (
    id TEXT PRIMARY KEY,                 -- BackupId: 20261127T030000Z-daily
    kind TEXT NOT NULL,                  -- monthly | daily | system
    chain_id TEXT,                       -- the monthly full it builds on
    parent_id TEXT,                      -- the previous backup of the chain
    trigger TEXT NOT NULL,               -- schedule:<id> | cli | ui
    state TEXT NOT NULL,                 -- running | ok | failed | pruned
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_ms BIGINT,
    size_bytes BIGINT,
    sha256 TEXT,
    file_count BIGINT,
    documents BIGINT,
    patients BIGINT,
    accounts BIGINT,
    audit_rows BIGINT,
    audit_head_seq BIGINT,
    error TEXT,
    verified_at TEXT,
    verify_result TEXT,                  -- ok | failed: <why>
    copied_at TEXT,                      -- to the second target
    copy_result TEXT,
    drilled_at TEXT,
    drill_result TEXT,
    pruned_at TEXT
);
CREATE INDEX backups_started ON backups (started_at);

CREATE TABLE backup_schedules (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                  -- daily | monthly
    local_time TEXT NOT NULL,            -- HH:MM, Japan time
    day_of_month BIGINT,                 -- monthly: 1-28
    stop_service BIGINT NOT NULL DEFAULT 0,
    window_minutes BIGINT NOT NULL DEFAULT 60,
    state TEXT NOT NULL,                 -- proposed | approved | rejected | retired
    note TEXT NOT NULL DEFAULT '',
    proposed_by TEXT NOT NULL,
    proposed_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_note TEXT,
    announcement_id BIGINT,              -- the portal announcement that publishes it
    last_slot TEXT                       -- the last slot (UTC instant) it ran for
);

CREATE TABLE backup_drills (
    id INTEGER PRIMARY KEY,
    backup_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    result TEXT NOT NULL,                -- ok | failed
    detail TEXT NOT NULL
);
CREATE INDEX backup_drills_started ON backup_drills (started_at);
