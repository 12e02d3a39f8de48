-- The monitoring engine (issue 12, R22.1): where each monitor's cadence starts (its creation, or
-- its last resumption), the instant its next check is due (claimed before the check, so that one
-- monitor never runs twice at once, even with two processes) and the last slot recorded (the
-- scheduler's state across restarts); the number of response times behind an aggregate (so that
-- days are summed from hours); the rollup's watermark.

ALTER TABLE monitors ADD COLUMN slots_from TEXT;
ALTER TABLE monitors ADD COLUMN due_at TEXT;
ALTER TABLE monitors ADD COLUMN last_slot_at TEXT;
CREATE INDEX monitors_due ON monitors (due_at);

ALTER TABLE monitor_aggregates ADD COLUMN responses BIGINT NOT NULL DEFAULT 0;

CREATE TABLE monitor_rollup (
    name TEXT PRIMARY KEY,               -- 'results'
    last_result_id BIGINT NOT NULL       -- every raw result up to this id is in the aggregates
);
