-- Failed log-ins per client address and throttle window (accounts::throttle): the persistent
-- count behind the aggregated audit event `auth.login_failures`. A row is written in the same
-- transaction as the failed attempt; the report job summarises it once its window has closed
-- and sets reported_at. `client_addr` is the throttle's key (an IPv4 address or an IPv6 network).

CREATE TABLE login_failure_windows (
    id               INTEGER PRIMARY KEY,
    client_addr      TEXT NOT NULL,
    window_start     TEXT NOT NULL,
    window_end       TEXT NOT NULL,
    failures         INTEGER NOT NULL,
    unknown_id       INTEGER NOT NULL,
    wrong_password   INTEGER NOT NULL,
    refused_account  INTEGER NOT NULL,
    first_at         TEXT NOT NULL,
    last_at          TEXT NOT NULL,
    reported_at      TEXT,
    UNIQUE (client_addr, window_start)
);
CREATE INDEX login_failure_windows_unreported ON login_failure_windows(reported_at, window_end);

-- The log-in IDs tried in a window, with how often (the summary names the first few).
CREATE TABLE login_failure_ids (
    window_id  INTEGER NOT NULL REFERENCES login_failure_windows(id),
    login_id   TEXT NOT NULL,
    failures   INTEGER NOT NULL,
    PRIMARY KEY (window_id, login_id)
);
