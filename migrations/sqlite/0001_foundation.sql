-- Foundation: facilities (minimal; the accounts domain extends them), accounts, sessions,
-- log-in attempts, recovery codes, the hash-chained audit log, and job leases.
-- Flags are nullable timestamps or integers 0/1: sqlx's Any driver does not decode SQLite booleans.

CREATE TABLE facilities (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    withdrawn_at TEXT
);

CREATE TABLE accounts (
    id                    INTEGER PRIMARY KEY,
    login_id              TEXT NOT NULL UNIQUE,
    display_name          TEXT NOT NULL,
    role                  TEXT NOT NULL,
    facility_id           INTEGER REFERENCES facilities(id),
    password_hash         TEXT NOT NULL,
    must_change_password  INTEGER NOT NULL DEFAULT 0,
    password_expires_at   TEXT,
    password_changed_at   TEXT,
    totp_secret           TEXT,
    totp_enabled_at       TEXT,
    totp_last_step        INTEGER,
    locked_at             TEXT,
    locked_until          TEXT,
    failures_since        TEXT,
    disabled_at           TEXT,
    last_login_at         TEXT,
    created_at            TEXT NOT NULL
);
CREATE INDEX accounts_facility ON accounts(facility_id);

CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    code_hash   TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX recovery_codes_account ON recovery_codes(account_id);

CREATE TABLE login_attempts (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER REFERENCES accounts(id),
    login_id    TEXT NOT NULL,
    at          TEXT NOT NULL,
    succeeded   INTEGER NOT NULL,
    client_addr TEXT NOT NULL
);
CREATE INDEX login_attempts_account_at ON login_attempts(account_id, at);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    account_id    INTEGER NOT NULL REFERENCES accounts(id),
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    mfa_at        TEXT,
    ended_at      TEXT,
    end_reason    TEXT,
    client_addr   TEXT NOT NULL,
    user_agent    TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_open ON sessions(ended_at, last_seen_at);

-- The audit log is append-only and chained: each row stores the SHA-256 of the previous row.
-- audit_head holds the last sequence number and hash; updating it first serialises writers.
CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seq        INTEGER NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, last_hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_events (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,
    actor_account_id  INTEGER,
    actor_login       TEXT NOT NULL,
    actor_role        TEXT NOT NULL,
    action            TEXT NOT NULL,
    target            TEXT NOT NULL,
    details           TEXT NOT NULL,
    client_addr       TEXT NOT NULL,
    prev_hash         TEXT NOT NULL,
    hash              TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_action ON audit_events(action);
CREATE INDEX audit_events_actor ON audit_events(actor_account_id);

CREATE TABLE job_leases (
    name              TEXT PRIMARY KEY,
    holder            TEXT,
    lease_until       TEXT,
    last_started_at   TEXT,
    last_finished_at  TEXT,
    last_status       TEXT,
    last_message      TEXT
);

CREATE TABLE job_runs (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    status       TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_name ON job_runs(name, started_at);
