-- Backup schedules at work (issue 11, R21.2, R21.3): what became of each schedule's latest slot,
-- the stop occurrence published on the portal, and the read-only periods of monthly stops (kept
-- in the database so that every process of the application sees them).

ALTER TABLE backup_schedules ADD COLUMN last_result TEXT;      -- running | ok | failed | missed
ALTER TABLE backup_schedules ADD COLUMN last_detail TEXT;      -- the backup id, or why it failed
ALTER TABLE backup_schedules ADD COLUMN last_result_at TEXT;
ALTER TABLE backup_schedules ADD COLUMN published_slot TEXT;   -- the next stop, published on the portal
ALTER TABLE backup_schedules ADD COLUMN window_id BIGINT;      -- its portal window (portal_schedules.id)

CREATE TABLE backup_readonly (
    id INTEGER PRIMARY KEY,
    schedule_id BIGINT NOT NULL,
    slot TEXT NOT NULL,
    started_at TEXT NOT NULL,
    until_at TEXT NOT NULL,              -- the window's end: read-only ends then at the latest
    ended_at TEXT                        -- set when the backup finished
);
CREATE INDEX backup_readonly_open ON backup_readonly (ended_at, until_at);
