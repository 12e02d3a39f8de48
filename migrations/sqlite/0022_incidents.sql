-- Incidents (issue 13, R17.1): the record of 別紙3 障害報告書 and its timeline. Nothing is deleted:
-- a correction of a field is a new timeline entry beside the changed value (kind correction).

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,         -- 障害番号, e.g. 2026-0001 (per fiscal year of Tokyo)
    title TEXT NOT NULL,                 -- a one-line summary for lists and notices
    severity TEXT NOT NULL,              -- critical | major | minor | low
    status TEXT NOT NULL,                -- investigating | cause_identified | recovering |
                                         -- monitoring | recovered | reported
    discovered_at TEXT NOT NULL,         -- 発見日時
    discovered_where TEXT NOT NULL,      -- 発見箇所
    occurred_at TEXT,                    -- 発生日時 (may be learnt later)
    description TEXT NOT NULL,           -- 障害内容
    impact TEXT NOT NULL DEFAULT '',     -- 影響範囲
    affects_users BIGINT NOT NULL DEFAULT 0,
    affected_services TEXT NOT NULL DEFAULT '',  -- one per line
    recovered_at TEXT,                   -- 復旧日時
    cause TEXT NOT NULL DEFAULT '',      -- 原因
    action_taken TEXT NOT NULL DEFAULT '',       -- 処置
    remarks TEXT NOT NULL DEFAULT '',    -- 備考
    source TEXT NOT NULL,                -- manual | inquiry | alert
    source_ref BIGINT,                   -- the inquiry or alert id
    revision BIGINT NOT NULL DEFAULT 1,  -- a stale form is refused (409)
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    reported_at TEXT                     -- when it became 報告済 (closed)
);
CREATE INDEX incidents_status ON incidents (status, discovered_at);

-- 経過: dated entries. kind: note | status | correction | vendor | notice | contact | print |
-- attachment | link.
CREATE TABLE incident_timeline (
    id INTEGER PRIMARY KEY,
    incident_id BIGINT NOT NULL,
    at TEXT NOT NULL,                    -- when it happened (entered by the person)
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at);

CREATE TABLE incident_facilities (
    incident_id BIGINT NOT NULL,
    facility_id BIGINT NOT NULL,
    PRIMARY KEY (incident_id, facility_id)
);
