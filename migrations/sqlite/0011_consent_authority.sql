-- Consent authority (issue 10). A consent now shares the documents of ONE facility: the
-- facility in consents.facility_id (until now simply the facility that recorded it), whose
-- documents other facilities may read as the consent's scope says. It belongs to whoever
-- recorded it: that facility (owner_kind 'facility': its API key or its facility manager) or the
-- network's staff acting on a signed paper form (owner_kind 'staff', scan required). Only the
-- owner (or staff, on a new signed form) may widen, narrow or withdraw it.
--
-- Existing rows: every consent recorded so far is owned by the facility recorded in its row
-- (the facility whose API key or manager recorded it) and from now on shares that facility's
-- documents. Withdrawals stay as they are (withdrawn_kind 'facility'). Under the old rule only
-- the patient's latest consent was in force, whoever recorded it; a facility's own latest
-- consent that another facility's later consent had replaced would come back into force under
-- the new rule, so it is ended here (withdrawn_kind 'superseded', at the moment the later
-- consent was recorded): the migration never widens what anyone may read. Documents that a
-- facility sent under another facility's consent are readable by their sender only until the
-- sender records its own consent.

ALTER TABLE consents ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'facility'
    CHECK (owner_kind IN ('facility', 'staff'));
-- Who withdrew: 'facility' (the owner facility), 'staff' (on a paper form), 'superseded' (here).
ALTER TABLE consents ADD COLUMN withdrawn_kind TEXT;
ALTER TABLE consents ADD COLUMN withdrawn_scan_hash TEXT;
ALTER TABLE consents ADD COLUMN withdrawn_scan_content_type TEXT;

UPDATE consents SET withdrawn_kind = 'facility' WHERE withdrawn_at IS NOT NULL;

UPDATE consents SET
    withdrawn_at = (SELECT MIN(n.recorded_at) FROM consents n
                    WHERE n.patient_id = consents.patient_id AND n.id > consents.id),
    withdrawn_by = 'system:migration-0011',
    withdrawn_kind = 'superseded'
WHERE withdrawn_at IS NULL
  AND id = (SELECT MAX(s.id) FROM consents s
            WHERE s.patient_id = consents.patient_id AND s.facility_id = consents.facility_id)
  AND id < (SELECT MAX(m.id) FROM consents m WHERE m.patient_id = consents.patient_id);

CREATE INDEX consents_patient_facility ON consents (patient_id, facility_id);
