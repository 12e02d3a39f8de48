//! Reading and checking the incident form (R17.1), new and correction alike: the body is read
//! pair by pair, so that what cannot be read (a field sent twice, a facility that is no number)
//! is an error beside its field and never costs the user what they typed; then the values are
//! checked (dates not in the future, the required fields, a known severity and cause).

use axum::body::Bytes;

use super::model::{CauseCategory, Severity};
use super::repo::Fields;
use super::routes::{TIME_HINT, clip, parse_local};
use super::views::IncidentForm;
use crate::db::Timestamp;

/// The form's fields and the checked facilities (repeated `facility` fields), read pair by pair
/// so that nothing typed is lost: what cannot be read (a field sent twice, a facility that is no
/// number) is an error beside its field, and the form comes back with the rest of the input.
pub(super) fn read_form(body: &Bytes) -> (IncidentForm, Vec<i64>, Vec<(&'static str, String)>) {
    let mut f = IncidentForm::default();
    let mut facilities = Vec::new();
    let mut errors = Vec::new();
    let mut seen: Vec<&'static str> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if key == "facility" {
            match value.trim().parse::<i64>() {
                Ok(id) if id > 0 => facilities.push(id),
                _ => errors.push((
                    "facility",
                    format!("影響を受けた施設の指定「{}」を読み取れませんでした。施設を選び直してください。", clip(&value, 40)),
                )),
            }
            continue;
        }
        let Some((name, slot)) = field_slot(&mut f, &key) else {
            continue;
        };
        if seen.contains(&name) {
            // A hidden field has no place beside it on the page: its error shows at the top.
            errors.push(match name {
                "inquiry" | "alert" | "revision" => (
                    "form",
                    "フォームの内容が重複して送信されました。画面を開き直してください。".into(),
                ),
                _ => (
                    name,
                    "この項目が2回送信されました。内容を確認して、もう一度送信してください。"
                        .into(),
                ),
            });
            continue;
        }
        seen.push(name);
        *slot = value.into_owned();
    }
    (f, facilities, errors)
}

/// The form field `key` and where its value goes.
fn field_slot<'a>(f: &'a mut IncidentForm, key: &str) -> Option<(&'static str, &'a mut String)> {
    Some(match key {
        "title" => ("title", &mut f.title),
        "severity" => ("severity", &mut f.severity),
        "discovered_at" => ("discovered_at", &mut f.discovered_at),
        "discovered_where" => ("discovered_where", &mut f.discovered_where),
        "occurred_at" => ("occurred_at", &mut f.occurred_at),
        "description" => ("description", &mut f.description),
        "impact" => ("impact", &mut f.impact),
        "affects_users" => ("affects_users", &mut f.affects_users),
        "affected_services" => ("affected_services", &mut f.affected_services),
        "recovered_at" => ("recovered_at", &mut f.recovered_at),
        "cause" => ("cause", &mut f.cause),
        "cause_category" => ("cause_category", &mut f.cause_category),
        "action_taken" => ("action_taken", &mut f.action_taken),
        "remarks" => ("remarks", &mut f.remarks),
        "inquiry" => ("inquiry", &mut f.inquiry),
        "alert" => ("alert", &mut f.alert),
        "revision" => ("revision", &mut f.revision),
        _ => return None,
    })
}

/// Checks a form read with errors `read` ([`read_form`]): the fields, or all errors by field.
pub(super) fn check_read(
    f: &IncidentForm,
    read: Vec<(&'static str, String)>,
    now: Timestamp,
) -> Result<Fields, Vec<(&'static str, String)>> {
    match check_form(f, now) {
        Ok(fields) if read.is_empty() => Ok(fields),
        Ok(_) => Err(read),
        Err(more) => Err(read.into_iter().chain(more).collect()),
    }
}

/// Checks the form; the fields, or the errors by field.
fn check_form(f: &IncidentForm, now: Timestamp) -> Result<Fields, Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let mut time = |field: &'static str, v: &str| match parse_local(v) {
        Ok(Some(t)) if t > now => {
            errors.push((field, "未来の日時は入力できません。".to_string()));
            None
        }
        Ok(t) => t,
        Err(()) => {
            errors.push((field, TIME_HINT.to_string()));
            None
        }
    };
    let discovered_at = time("discovered_at", &f.discovered_at);
    let occurred_at = time("occurred_at", &f.occurred_at);
    let recovered_at = time("recovered_at", &f.recovered_at);
    if discovered_at.is_none() && !errors.iter().any(|(k, _)| *k == "discovered_at") {
        errors.push(("discovered_at", "発見日時を入力してください。".into()));
    }
    if Severity::parse(&f.severity).is_none() {
        errors.push(("severity", "重大度を選んでください。".into()));
    }
    // Not given: 不明 (the edit form fills in the incident's own first).
    let cause_category = if f.cause_category.trim().is_empty() {
        CauseCategory::Unknown
    } else {
        CauseCategory::parse(f.cause_category.trim()).unwrap_or_else(|| {
            errors.push(("cause_category", "原因区分を選んでください。".into()));
            CauseCategory::Unknown
        })
    };
    for (field, value, label) in [
        ("title", &f.title, "件名"),
        ("discovered_where", &f.discovered_where, "発見箇所"),
        ("description", &f.description, "障害内容"),
    ] {
        if value.trim().is_empty() {
            errors.push((field, format!("{label}を入力してください。")));
        }
    }
    let Some(discovered_at) = discovered_at else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Fields {
        title: clip(&f.title, 200),
        severity: f.severity.clone(),
        discovered_at,
        discovered_where: clip(&f.discovered_where, 500),
        occurred_at,
        description: clip(&f.description, 20_000),
        impact: clip(&f.impact, 20_000),
        affects_users: !f.affects_users.is_empty(),
        affected_services: clip(&f.affected_services, 2_000),
        recovered_at,
        cause: clip(&f.cause, 20_000),
        cause_category: cause_category.key().into(),
        action_taken: clip(&f.action_taken, 20_000),
        remarks: clip(&f.remarks, 20_000),
    })
}
