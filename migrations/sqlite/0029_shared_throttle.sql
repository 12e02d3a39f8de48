-- Issue 16 (several instances on one PostgreSQL): the credential throttle's counters
-- (auth::throttle) are kept here on PostgreSQL, so that every instance counts the same
-- attempts. One row per throttle window and client key (an IPv4 address or an IPv6 network);
-- the row with client_key '' counts the whole server. `outcome` is the decision of the last
-- attempt (1 admitted, 2 refused by the address limit, 3 refused by the global limit), written
-- by the same statement that counts it. Rows of closed windows are taken (deleted) by the
-- login_failures.report job, which reports their refusals. SQLite (one process) keeps the
-- counters in memory; the table is here so that both folders hold the same schema.
CREATE TABLE throttle_counts (
    window_start  TEXT NOT NULL,
    client_key    TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    refused       INTEGER NOT NULL DEFAULT 0,
    outcome       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (window_start, client_key)
);
