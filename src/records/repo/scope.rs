//! The consent scope as an SQL condition, shared by both halves of the records SQL.

/// SQL condition: facility `{F}` may read documents of the patient in column `{P}` sent by the
/// facility in column `{S}` — it sent them, or the patient's latest consent is in force and
/// covers it (and the reading facility still participates).
pub(in crate::records) fn readable(f: &str, p: &str, s: &str) -> String {
    format!(
        "({s} = {f} OR EXISTS (SELECT 1 FROM consents c
            WHERE c.id = (SELECT MAX(c2.id) FROM consents c2 WHERE c2.patient_id = {p})
              AND c.withdrawn_at IS NULL
              AND EXISTS (SELECT 1 FROM facilities rf WHERE rf.id = {f} AND rf.withdrawn_at IS NULL)
              AND (c.scope = 'all' OR EXISTS (SELECT 1 FROM consent_facilities cf
                     WHERE cf.consent_id = c.id AND cf.facility_id = {f}))))"
    )
}
