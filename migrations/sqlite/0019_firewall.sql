-- Firewall access-log review (issue 12, R22.2): what was read from each log file (so that nothing
-- is read twice), the traffic compacted per minute (kept `raw_keep_days`, for scan and burst
-- detection) and per hour (kept for years), every source ever seen, and the periodic reviews with
-- their sign-off.

-- One row per log file's content, identified by the SHA-256 of its first line (`fingerprint`):
-- a file renamed by rotation, copied by copytruncate or compressed to .gz keeps it, so it is
-- continued, not read again. dev/inode/size are where it was last found (a quick "unchanged").
CREATE TABLE firewall_files (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    path TEXT NOT NULL,
    dev BIGINT NOT NULL,
    inode BIGINT NOT NULL,
    size BIGINT NOT NULL,                -- of the file on disk when last read (compressed for .gz)
    read_offset BIGINT NOT NULL,         -- bytes of (uncompressed) content consumed
    gz BIGINT NOT NULL DEFAULT 0,
    lines BIGINT NOT NULL DEFAULT 0,     -- every line read
    events BIGINT NOT NULL DEFAULT 0,    -- firewall lines counted
    other BIGINT NOT NULL DEFAULT 0,     -- log lines that are not firewall lines
    errors BIGINT NOT NULL DEFAULT 0,    -- lines that could not be read
    last_error TEXT,                     -- the last unreadable line or why the file was not read
    restarts BIGINT NOT NULL DEFAULT 0,  -- times the file was found truncated and read anew
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    last_read_at TEXT
);
CREATE UNIQUE INDEX firewall_files_fingerprint ON firewall_files (fingerprint);

-- action: allow | deny; dst_port 0 when the protocol has none (ICMP).
CREATE TABLE firewall_minutes (
    minute TEXT NOT NULL,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    proto TEXT NOT NULL,
    dst_port BIGINT NOT NULL,
    action TEXT NOT NULL,
    hits BIGINT NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    PRIMARY KEY (minute, src, dst, proto, dst_port, action)
);
CREATE INDEX firewall_minutes_src ON firewall_minutes (src, minute);

CREATE TABLE firewall_hourly (
    hour TEXT NOT NULL,
    src TEXT NOT NULL,
    proto TEXT NOT NULL,
    dst_port BIGINT NOT NULL,
    action TEXT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (hour, src, proto, dst_port, action)
);

-- Every source address ever seen (for "never seen before"); kept as long as the hourly rows.
CREATE TABLE firewall_sources (
    src TEXT PRIMARY KEY,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);

-- One review per closed period; `content` is the review as JSON (totals, top lists, new sources,
-- probable scans and bursts), frozen once signed.
CREATE TABLE firewall_reviews (
    id INTEGER PRIMARY KEY,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    generated_at TEXT NOT NULL,
    allowed BIGINT NOT NULL,
    denied BIGINT NOT NULL,
    findings BIGINT NOT NULL,
    content TEXT NOT NULL,
    signed_at TEXT,
    signed_by_account_id BIGINT,
    signed_by_name TEXT,
    remarks TEXT
);
CREATE UNIQUE INDEX firewall_reviews_period ON firewall_reviews (period_start);
