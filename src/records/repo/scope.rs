//! The consent scope as SQL conditions, shared by both halves of the records SQL.
//!
//! A consent shares the documents of one facility (`consents.facility_id`); the one in force for
//! a patient's documents from facility D is the latest consent recorded for (patient, D), unless
//! it was withdrawn.

/// SQL condition: consent row `{c}` is in force (the latest for its patient and facility, and
/// not withdrawn).
fn in_force(c: &str) -> String {
    format!(
        "{c}.withdrawn_at IS NULL
              AND {c}.id = (SELECT MAX(c2.id) FROM consents c2
                            WHERE c2.patient_id = {c}.patient_id AND c2.facility_id = {c}.facility_id)"
    )
}

/// SQL condition: consent row `{c}` lets facility `{f}` read (scope all or listed, and the reading
/// facility still participates).
fn covers(c: &str, f: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM facilities rf WHERE rf.id = {f} AND rf.withdrawn_at IS NULL)
              AND ({c}.scope = 'all' OR EXISTS (SELECT 1 FROM consent_facilities cf
                     WHERE cf.consent_id = {c}.id AND cf.facility_id = {f}))"
    )
}

/// SQL condition: facility `{F}` may read documents of the patient in column `{P}` sent by the
/// facility in column `{S}` — it sent them, or the consent in force for the patient's documents
/// from `{S}` covers it.
pub(in crate::records) fn readable(f: &str, p: &str, s: &str) -> String {
    format!(
        "({s} = {f} OR EXISTS (SELECT 1 FROM consents c
            WHERE c.patient_id = {p} AND c.facility_id = {s} AND {} AND {}))",
        in_force("c"),
        covers("c", f)
    )
}

/// SQL condition: some consent in force of the patient in column `{P}` (for any facility's
/// documents) covers facility `{F}`: the facility cares for the patient with the patient's
/// consent, and may see them and link its own local ID.
pub(in crate::records) fn covered(f: &str, p: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM consents c WHERE c.patient_id = {p} AND {} AND {})",
        in_force("c"),
        covers("c", f)
    )
}

/// SQL condition: facility `{F}` has a consent of its own in force for the patient in column `{P}`.
pub(in crate::records) fn own_in_force(f: &str, p: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM consents c WHERE c.patient_id = {p} AND c.facility_id = {f} AND {})",
        in_force("c")
    )
}
