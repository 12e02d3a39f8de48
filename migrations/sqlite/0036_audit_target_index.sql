-- The access log (records::access_log through audit_ui::repo) selects the events on a facility's
-- patients by target (`target IN ('patient:…')`), and the audit log's target filter matches
-- targets by name (issue 15): without this index both read the whole audit table.
CREATE INDEX audit_events_target ON audit_events (target);
