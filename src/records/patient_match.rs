//! Right patient (R21.1, X.3, issue 14): before a document (or a Consent) is filed under the
//! network patient that the sender's local ID is linked to, the Patient it carries is compared
//! with that registered patient. Documents are filed by the local ID; this step makes sure the
//! ID and the person agree, so that a wrong ID (or two people sent under one ID) is not merged.
//!
//! The comparison ([`differences`]), field by field:
//! - 氏名 (the kanji name, JP Core `name` with representation IDE, else the first name without
//!   one): Unicode NFKC (full-width Latin letters and digits, half-width katakana become their
//!   ordinary forms), every space removed — half-width, full-width (U+3000) or any other
//!   whitespace — and the katakana middle dot `・` taken as a separator too, Latin letters
//!   lower-cased; then equal. Variant kanji (髙/高, 﨑/崎) are different characters and differ:
//!   the review queue is there for such cases.
//! - フリガナ (the kana name, representation SYL): as the name, and hiragana taken as katakana
//!   (ひらがな and カタカナ and half-width ｶﾀｶﾅ are the same). Compared only when both the
//!   document and the registration have one: JP Core's kana name is optional, many sending
//!   systems leave it out, and a document without it still identifies its patient by name,
//!   birth date and sex, all of which are compared.
//! - 生年月日 and 性別: exactly equal (`YYYY-MM-DD`; `male`/`female`/`other`/`unknown`).
//! - A document Bundle must carry name, birth date and sex (JP-CLINS requires them): one left
//!   out counts as a difference, since without it nothing confirms whose document it is. A
//!   Consent sent on its own may name its patient by identifier only, or by a contained Patient;
//!   there only the elements present are compared (a Consent files no clinical content under
//!   the patient, and its identifier must already be the sender's own linked local ID).
//!
//! On a difference the document is refused (422 `business-rule`, nothing stored) with an
//! `OperationOutcome` that names which fields differ but not the registered values, and the
//! refusal is audited (`records.patient_mismatch`). With `[records] patient_mismatch = "review"`
//! a document is instead stored and held for the sending facility's managers ([`super::review`]);
//! a Bundle that also carries a Consent is refused even then (a consent cannot wait in a queue),
//! and so is a Consent sent on its own.

use serde_json::{Value, json};
use unicode_normalization::UnicodeNormalization;

use super::api::ApiClient;
use super::fhir::{ParsedDocument, PatientInfo, str_at};
use super::model::{self, PatientMismatch, Rejection};
use super::repo::{self, PatientRow};
use crate::audit;
use crate::db::{Conn, Timestamp, Tx};

/// The patient fields compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Kana,
    BirthDate,
    Gender,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Name, Field::Kana, Field::BirthDate, Field::Gender];

    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Kana => "kana",
            Field::BirthDate => "birth_date",
            Field::Gender => "gender",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "氏名",
            Field::Kana => "フリガナ",
            Field::BirthDate => "生年月日",
            Field::Gender => "性別",
        }
    }

    pub fn parse(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.key() == key.trim())
    }
}

/// Field keys as stored (`name,birth_date`).
pub fn keys(fields: &[Field]) -> String {
    fields.iter().map(|f| f.key()).collect::<Vec<_>>().join(",")
}

/// Field labels as shown (`氏名・生年月日`).
pub fn labels(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| f.label())
        .collect::<Vec<_>>()
        .join("・")
}

/// A patient as a sender describes them; None: the element was not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub name: Option<String>,
    pub kana: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
}

/// What `fhir::patient_info` puts in place of a missing name.
const NO_NAME: &str = "（氏名不明）";

fn present(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl Sent {
    /// From a Patient resource, each element as present in it.
    pub fn from_resource(p: &Value) -> Self {
        let (name, kana) = model::patient_names(p);
        Sent {
            name: name.as_deref().and_then(present),
            kana: kana.as_deref().and_then(present),
            birth_date: str_at(p, &["birthDate"]).and_then(present),
            gender: str_at(p, &["gender"]).and_then(present),
        }
    }

    /// From the checked Patient of a document (whose missing elements `patient_info` filled in:
    /// no name, empty kana and birth date; the sex defaults to `unknown`, compared as sent).
    pub fn from_info(p: &PatientInfo) -> Self {
        Sent {
            name: present(&p.name).filter(|n| n != NO_NAME),
            kana: present(&p.kana),
            birth_date: present(&p.birth_date),
            gender: present(&p.gender),
        }
    }
}

/// Whether an element left out of what was sent counts as a difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// A document Bundle: name, birth date and sex must be there (kana is optional).
    Required,
    /// A Consent: only what is there is compared.
    AsSent,
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '・'
}

/// A name for comparison: NFKC, no spaces (half- or full-width) or middle dots, lower case.
pub fn normalize_name(s: &str) -> String {
    s.nfkc()
        .filter(|c| !is_separator(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A kana name for comparison: as [`normalize_name`], hiragana turned into katakana.
pub fn normalize_kana(s: &str) -> String {
    normalize_name(s)
        .chars()
        .map(|c| match c {
            'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// The fields in which `sent` and the registered patient differ (see the module's rules).
pub fn differences(sent: &Sent, registered: &PatientRow, presence: Presence) -> Vec<Field> {
    let required = presence == Presence::Required;
    let mut out = Vec::new();
    let registered_name = Some(registered.name.as_str()).filter(|n| *n != NO_NAME);
    let name_differs = match (&sent.name, registered_name) {
        (Some(s), Some(r)) => normalize_name(s) != normalize_name(r),
        (Some(_), None) => true,
        (None, r) => required && r.is_some(),
    };
    if name_differs {
        out.push(Field::Name);
    }
    if let Some(s) = &sent.kana {
        let r = normalize_kana(&registered.kana);
        if !r.is_empty() && normalize_kana(s) != r {
            out.push(Field::Kana);
        }
    }
    let exact = |sent: &Option<String>, registered: &str| match sent {
        Some(s) => s.trim() != registered.trim(),
        None => required && !registered.trim().is_empty(),
    };
    if exact(&sent.birth_date, &registered.birth_date) {
        out.push(Field::BirthDate);
    }
    // A registration always has a sex (`unknown` when none was given); a document without
    // one is read as `unknown` by the intake, so only an equal value matches.
    if exact(&sent.gender, &registered.gender) {
        out.push(Field::Gender);
    }
    out
}

/// The registered patient's differences from `sent`.
pub async fn differences_for(
    conn: &mut Conn,
    patient_id: i64,
    sent: &Sent,
    presence: Presence,
) -> sqlx::Result<Vec<Field>> {
    Ok(match repo::find_patient(conn, patient_id).await? {
        Some(registered) => differences(sent, &registered, presence),
        None => Vec::new(),
    })
}

fn refusal(local_id: &str, fields: &[Field], what: &str) -> Rejection {
    Rejection::new(
        422,
        "business-rule",
        format!(
            "{what}の Patient の{}が、患者ID {local_id} で登録されている患者と一致しません。別の患者の情報である可能性があるため受け付けませんでした（何も保存されていません）。患者ID と患者情報（氏名・フリガナ・生年月日・性別）を確認してください。登録されている患者情報に誤りがある場合は、地域連携の窓口にご連絡ください。",
            labels(fields)
        ),
    )
}

/// A refused send: whose registration, by which local ID (and Bundle.identifier), which fields,
/// and what was sent (文書 or 同意書).
struct Mismatch<'a> {
    patient_id: i64,
    local_id: &'a str,
    identifier: Option<&'a str>,
    fields: Vec<Field>,
    what: &'a str,
}

/// Records the refusal (`records.patient_mismatch`) on `conn` and returns it.
async fn refuse(
    conn: &mut Tx,
    client: &ApiClient,
    m: Mismatch<'_>,
    now: Timestamp,
) -> Result<(), Rejection> {
    audit::record(
        conn,
        now,
        &client.actor(),
        "records.patient_mismatch",
        &format!("patient:{}", m.patient_id),
        json!({"facility_id": client.facility_id, "facility": client.facility_code,
               "local_id": m.local_id, "identifier": m.identifier,
               "fields": m.fields.iter().map(|f| f.key()).collect::<Vec<_>>(),
               "decision": "refused", "channel": "api"}),
    )
    .await?;
    Err(refusal(m.local_id, &m.fields, m.what))
}

/// The intake's patient step for a document about to be filed under the registered patient
/// `patient_id`: Ok when the Patient matches, or when it differs and the document is to be
/// held for review ([`super::review::hold_if_differs`] holds it once stored); otherwise the
/// refusal, audited on `conn`.
pub async fn screen(
    conn: &mut Tx,
    client: &ApiClient,
    d: &ParsedDocument,
    patient_id: i64,
    mode: PatientMismatch,
    now: Timestamp,
) -> Result<(), Rejection> {
    match repo::find_patient(conn, patient_id).await? {
        Some(registered) => screen_row(conn, client, d, &registered, mode, now).await,
        None => Ok(()),
    }
}

/// [`screen`] with the registered patient already read (a batch reads its patients ahead).
pub async fn screen_row(
    conn: &mut Tx,
    client: &ApiClient,
    d: &ParsedDocument,
    registered: &PatientRow,
    mode: PatientMismatch,
    now: Timestamp,
) -> Result<(), Rejection> {
    let sent = Sent::from_info(&d.patient);
    let fields = differences(&sent, registered, Presence::Required);
    if fields.is_empty() || (mode == PatientMismatch::Review && d.consent.is_none()) {
        return Ok(());
    }
    let m = Mismatch {
        patient_id: registered.id,
        local_id: &d.patient.local_id,
        identifier: Some(&d.identifier_value),
        fields,
        what: "文書",
    };
    refuse(conn, client, m, now).await
}

/// A Consent sent on its own for the registered patient `patient_id`: its Patient (contained,
/// or only an identifier) must not differ in what it says. Refusals are audited on `conn`.
pub async fn screen_consent(
    conn: &mut Tx,
    client: &ApiClient,
    patient: &Value,
    local_id: &str,
    patient_id: i64,
    now: Timestamp,
) -> Result<(), Rejection> {
    let sent = Sent::from_resource(patient);
    let fields = differences_for(conn, patient_id, &sent, Presence::AsSent).await?;
    if fields.is_empty() {
        return Ok(());
    }
    let m = Mismatch {
        patient_id,
        local_id,
        identifier: None,
        fields,
        what: "同意書",
    };
    refuse(conn, client, m, now).await
}

/// A link (`POST /api/fhir/Patient/$link`) of the sender's `local_id` to the network patient
/// `patient_id`: what the Patient says besides its identifiers (name, kana, birth date, sex, as
/// far as sent) must not differ from the registered patient, or a mistyped 地域連携ID would tie
/// the sender's ID to another person. Refusals are audited on `conn`.
pub async fn screen_link(
    conn: &mut Tx,
    client: &ApiClient,
    patient: &Value,
    local_id: &str,
    network_id: &str,
    patient_id: i64,
    now: Timestamp,
) -> Result<(), Rejection> {
    let sent = Sent::from_resource(patient);
    let fields = differences_for(conn, patient_id, &sent, Presence::AsSent).await?;
    if fields.is_empty() {
        return Ok(());
    }
    audit::record(
        conn,
        now,
        &client.actor(),
        "records.patient_mismatch",
        &format!("patient:{patient_id}"),
        json!({"facility_id": client.facility_id, "facility": client.facility_code,
               "local_id": local_id, "network_id": network_id,
               "fields": fields.iter().map(|f| f.key()).collect::<Vec<_>>(),
               "decision": "refused", "channel": "api", "operation": "link"}),
    )
    .await?;
    Err(Rejection::new(
        422,
        "business-rule",
        format!(
            "連携要求の Patient の{}が、地域連携ID {network_id} で登録されている患者と一致しません。別の患者である可能性があるため連携しませんでした（何も保存されていません）。地域連携ID と患者情報（氏名・フリガナ・生年月日・性別）を確認してください。",
            labels(&fields)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> PatientRow {
        PatientRow {
            id: 1,
            network_id: "KR0000000001".into(),
            name: "清須 花子".into(),
            kana: "キヨス ハナコ".into(),
            birth_date: "1948-03-12".into(),
            gender: "female".into(),
        }
    }

    fn sent(name: &str, kana: &str, birth: &str, gender: &str) -> Sent {
        Sent {
            name: present(name),
            kana: present(kana),
            birth_date: present(birth),
            gender: present(gender),
        }
    }

    #[test]
    fn spaces_of_either_width_and_kana_scripts_do_not_make_a_difference() {
        let r = registered();
        for s in [
            sent("清須　花子", "きよす　はなこ", "1948-03-12", "female"),
            sent("清須花子", "ｷﾖｽ ﾊﾅｺ", "1948-03-12", "female"),
            sent(" 清須  花子 ", "キヨス・ハナコ", "1948-03-12", "female"),
            sent("清須 花子", "", "1948-03-12", "female"),
        ] {
            assert_eq!(
                differences(&s, &r, Presence::Required),
                Vec::<Field>::new(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn a_different_name_kana_birth_date_or_sex_is_named() {
        let r = registered();
        let cases = [
            (
                sent("清須 太郎", "キヨス ハナコ", "1948-03-12", "female"),
                vec![Field::Name],
            ),
            (
                sent("清須 花子", "キヨス タロウ", "1948-03-12", "female"),
                vec![Field::Kana],
            ),
            (
                sent("清須 花子", "キヨス ハナコ", "1948-03-13", "female"),
                vec![Field::BirthDate],
            ),
            (
                sent("清須 花子", "キヨス ハナコ", "1948-03-12", "male"),
                vec![Field::Gender],
            ),
            (
                sent("名古屋 一郎", "ナゴヤ イチロウ", "1960-01-01", "male"),
                Field::ALL.to_vec(),
            ),
        ];
        for (s, want) in cases {
            assert_eq!(differences(&s, &r, Presence::Required), want, "{s:?}");
        }
    }

    #[test]
    fn a_document_must_send_name_birth_date_and_sex_but_a_consent_need_not() {
        let r = registered();
        let bare = Sent::default();
        assert_eq!(
            differences(&bare, &r, Presence::Required),
            vec![Field::Name, Field::BirthDate, Field::Gender]
        );
        assert!(differences(&bare, &r, Presence::AsSent).is_empty());
        let info = PatientInfo {
            local_id: "1".into(),
            name: NO_NAME.into(),
            kana: String::new(),
            birth_date: String::new(),
            gender: "unknown".into(),
        };
        assert_eq!(
            differences(&Sent::from_info(&info), &r, Presence::Required),
            vec![Field::Name, Field::BirthDate, Field::Gender]
        );
    }

    #[test]
    fn variant_kanji_and_latin_case() {
        let mut r = registered();
        r.name = "髙橋 一郎".into();
        let s = sent("高橋 一郎", "", "1948-03-12", "female");
        assert_eq!(differences(&s, &r, Presence::Required), vec![Field::Name]);
        r.name = "SMITH John".into();
        let s = sent("Ｓｍｉｔｈ　ｊｏｈｎ", "", "1948-03-12", "female");
        assert!(differences(&s, &r, Presence::Required).is_empty());
    }

    #[test]
    fn field_keys_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.key()), Some(f));
        }
        assert_eq!(keys(&[Field::Name, Field::Gender]), "name,gender");
        assert_eq!(labels(&[Field::Name, Field::BirthDate]), "氏名・生年月日");
    }
}
