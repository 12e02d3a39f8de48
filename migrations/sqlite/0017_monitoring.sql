-- Monitoring (issue 12, R22.1): monitors, every slot of their cadence (checked or missed), the
-- raw results (kept 90 days), hourly and daily aggregates (kept for years), state changes as
-- alerts, and the on-call list that alerts are mailed to.

CREATE TABLE monitors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,                  -- ping | http
    target TEXT NOT NULL,                -- a host (ping) or a URL (http)
    interval_seconds BIGINT NOT NULL,    -- 300 for ping, 900 for http by default
    timeout_ms BIGINT NOT NULL,
    retries BIGINT NOT NULL,             -- failed checks in a row before "down"
    expect_status BIGINT,                -- http: the expected status (NULL: any 2xx/3xx)
    keyword TEXT,                        -- http: text the body must contain
    json_pointer TEXT,                   -- http: RFC 6901 pointer into a JSON body …
    json_value TEXT,                     -- … and the value it must have (as text)
    max_response_ms BIGINT,              -- slower than this counts as a failure
    cert_min_days BIGINT,                -- https: a certificate expiring sooner is a failure
    asset_ref TEXT,                      -- the asset it watches (the ledger is a later issue)
    paused BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,                 -- pending | up | down (paused is the flag above)
    state_since TEXT NOT NULL,
    failures_in_row BIGINT NOT NULL DEFAULT 0,
    note TEXT,                           -- e.g. why ping fell back to a TCP connect check
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per monitor and slot (the start of each interval since the monitor was created or
-- resumed): the proof of the cadence. outcome: up | down | missed.
CREATE TABLE monitor_results (
    id INTEGER PRIMARY KEY,
    monitor_id BIGINT NOT NULL,
    slot_at TEXT NOT NULL,
    checked_at TEXT,                     -- NULL for a missed slot
    outcome TEXT NOT NULL,
    response_ms BIGINT,
    status_code BIGINT,
    cert_days_left BIGINT,
    detail TEXT                          -- why it failed, or the fallback used
);
CREATE UNIQUE INDEX monitor_results_slot ON monitor_results (monitor_id, slot_at);
CREATE INDEX monitor_results_time ON monitor_results (slot_at);

-- period: hour | day; period_start: the hour or day (Asia/Tokyo) as a timestamp.
CREATE TABLE monitor_aggregates (
    monitor_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    period_start TEXT NOT NULL,
    slots BIGINT NOT NULL,
    up BIGINT NOT NULL,
    down BIGINT NOT NULL,
    missed BIGINT NOT NULL,
    avg_response_ms BIGINT,
    max_response_ms BIGINT,
    PRIMARY KEY (monitor_id, period, period_start)
);

-- A state change of a monitor (up → down after the retries, down → up).
CREATE TABLE monitor_alerts (
    id INTEGER PRIMARY KEY,
    monitor_id BIGINT NOT NULL,
    kind TEXT NOT NULL,                  -- down | up
    at TEXT NOT NULL,
    detail TEXT NOT NULL,
    suppressed_by BIGINT,                -- the portal maintenance window (portal_schedules.id)
    mail_id BIGINT,                      -- the outbox mail to the on-call list
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    ack_note TEXT,
    incident_id BIGINT                   -- once incidents exist (issue 13)
);
CREATE INDEX monitor_alerts_open ON monitor_alerts (acknowledged_at, at);

CREATE TABLE monitor_oncall (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
