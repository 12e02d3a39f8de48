-- Portal (R13.1-R13.4, R21.2, R21.3, R10.1, R22.3): announcements, runbooks and their revisions,
-- change requests from the service operator with their history and consultation thread, and
-- the published schedule of service stops / maintenance windows.

CREATE TABLE portal_announcements (
    id INTEGER PRIMARY KEY,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body_md TEXT NOT NULL,
    is_public BIGINT NOT NULL DEFAULT 0,
    pinned BIGINT NOT NULL DEFAULT 0,
    publish_at TEXT NOT NULL,
    expires_at TEXT,
    content_updated_at TEXT,
    revision BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX portal_announcements_publish ON portal_announcements (publish_at);

CREATE TABLE portal_runbooks (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body_md TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);

CREATE TABLE portal_revisions (
    id INTEGER PRIMARY KEY,
    doc_kind TEXT NOT NULL,
    doc_id BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    title TEXT NOT NULL,
    body_md TEXT NOT NULL,
    author_login TEXT NOT NULL,
    author_name TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (doc_kind, doc_id, revision)
);

CREATE TABLE portal_change_requests (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT,
    requested_by_login TEXT NOT NULL,
    requested_by_name TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    classified_at TEXT,
    agreed_at TEXT,
    done_at TEXT,
    lead_minutes BIGINT
);

CREATE TABLE portal_change_request_events (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES portal_change_requests (id),
    at TEXT NOT NULL,
    actor_login TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT NOT NULL
);

CREATE TABLE portal_change_request_messages (
    id INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES portal_change_requests (id),
    at TEXT NOT NULL,
    author_login TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_role TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE portal_schedules (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    services TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT
);
CREATE INDEX portal_schedules_window ON portal_schedules (state, ends_at);
