//! An audit row as people read it (issue 15, item 6): the action's Japanese label, the actor as
//! 氏名（ログインID）, the target and every id in the details with the name beside it (account,
//! facility, patient 氏名（カナ）, document title), and the details as labelled fields instead of
//! JSON. Used by the audit log, its exports and the facilities' access log.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::labels;
use super::repo;
use crate::audit::model::AuditRow;
use crate::auth::Role;
use crate::db::{Conn, Timestamp};

/// One labelled field of the details.
pub struct Field {
    pub label: String,
    pub value: String,
}

pub struct Line {
    pub id: i64,
    pub at: Timestamp,
    pub at_text: String,
    pub actor: String,
    pub actor_login: String,
    pub role: String,
    pub action: String,
    pub action_code: String,
    pub target: String,
    pub target_code: String,
    pub fields: Vec<Field>,
    pub details_raw: String,
    pub client_addr: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Line {
    /// The details as one line of text ("理由: …／施設: …"), for CSV cells.
    pub fn details_text(&self) -> String {
        self.fields
            .iter()
            .map(|f| format!("{}: {}", f.label, f.value))
            .collect::<Vec<_>>()
            .join("／")
    }

    /// The value of the first field with this label.
    pub fn field(&self, label: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.as_str())
    }
}

/// Which kind of name an id in the details is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Account,
    Facility,
    Patient,
    Document,
    ApiKey,
}

fn kind_of_key(key: &str) -> Option<Kind> {
    Some(match key {
        "account_id" | "target_account_id" | "replaced_account_id" => Kind::Account,
        "facility_id" | "by_facility_id" | "consent_facility" => Kind::Facility,
        "patient_id" => Kind::Patient,
        "document_id" | "document_ids" => Kind::Document,
        _ => return None,
    })
}

fn kind_of_target(kind: &str) -> Option<Kind> {
    Some(match kind {
        "account" => Kind::Account,
        "facility" => Kind::Facility,
        "patient" => Kind::Patient,
        "document" => Kind::Document,
        "api_key" => Kind::ApiKey,
        _ => return None,
    })
}

#[derive(Default)]
pub struct Names {
    map: HashMap<(Kind, i64), String>,
}

impl Names {
    fn name(&self, kind: Kind, id: i64) -> Option<&str> {
        self.map.get(&(kind, id)).map(String::as_str)
    }

    /// "氏名（ログインID）" etc. with the id, or the id alone when the record is gone.
    fn with_id(&self, kind: Kind, id: i64) -> String {
        match self.name(kind, id) {
            Some(n) => n.to_string(),
            None => format!("（ID {id}）"),
        }
    }
}

/// The key's id in an API key's actor login (`apikey:{id}:{facility code}`).
fn api_key_of(login: &str) -> Option<i64> {
    login
        .strip_prefix("apikey:")?
        .split(':')
        .next()?
        .parse()
        .ok()
}

fn split_target(t: &str) -> Option<(&str, i64)> {
    let (k, id) = t.split_once(':')?;
    Some((k, id.parse().ok()?))
}

fn ids_in(v: &Value, out: &mut BTreeSet<(Kind, i64)>) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            if let Some(kind) = kind_of_key(k) {
                match v {
                    Value::Number(n) => out.extend(n.as_i64().map(|i| (kind, i))),
                    Value::Array(a) => {
                        out.extend(a.iter().filter_map(Value::as_i64).map(|i| (kind, i)))
                    }
                    _ => {}
                }
            } else {
                ids_in(v, out);
            }
        }
    }
}

/// Looks up every name the rows refer to, a handful of queries for the whole page.
pub async fn names(conn: &mut Conn, rows: &[AuditRow]) -> sqlx::Result<Names> {
    let mut wanted = BTreeSet::new();
    for r in rows {
        wanted.extend(r.actor_account_id.map(|i| (Kind::Account, i)));
        wanted.extend(api_key_of(&r.actor_login).map(|i| (Kind::ApiKey, i)));
        if let Some((k, id)) = split_target(&r.target)
            && let Some(kind) = kind_of_target(k)
        {
            wanted.insert((kind, id));
        }
        if let Ok(v) = serde_json::from_str::<Value>(&r.details) {
            ids_in(&v, &mut wanted);
        }
    }
    let of = |k: Kind| -> Vec<i64> {
        wanted
            .iter()
            .filter(|(x, _)| *x == k)
            .map(|(_, i)| *i)
            .collect()
    };
    let mut map = HashMap::new();
    for (kind, found) in [
        (
            Kind::Account,
            repo::account_names(conn, &of(Kind::Account)).await?,
        ),
        (
            Kind::Facility,
            repo::facility_names(conn, &of(Kind::Facility)).await?,
        ),
        (
            Kind::Patient,
            repo::patient_names(conn, &of(Kind::Patient)).await?,
        ),
        (
            Kind::Document,
            repo::document_titles(conn, &of(Kind::Document)).await?,
        ),
        (
            Kind::ApiKey,
            repo::api_key_names(conn, &of(Kind::ApiKey)).await?,
        ),
    ] {
        map.extend(found.into_iter().map(|(id, n)| ((kind, id), n)));
    }
    Ok(Names { map })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Bool(true) => Some("はい".into()),
        Value::Bool(false) => Some("いいえ".into()),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(time_or_text(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join("、"))
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .filter_map(|(k, v)| value_of(k, v).map(|s| format!("{} {s}", labels::field(k))))
                .collect();
            (!parts.is_empty()).then(|| parts.join("、"))
        }
    }
}

/// A detail value as words: the names in `field`/`fields` (a list, or one text with commas) as
/// their labels (R15.1, X.4: 項目 原因, not 項目 cause), anything else as [`scalar`].
fn value_of(key: &str, v: &Value) -> Option<String> {
    if !matches!(key, "field" | "fields") {
        return scalar(v);
    }
    let names: Vec<String> = match v {
        Value::String(s) => s
            .split(',')
            .filter(|n| !n.trim().is_empty())
            .map(super::fields::field_name)
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(super::fields::field_name)
            .collect(),
        other => return scalar(other),
    };
    (!names.is_empty()).then(|| names.join("、"))
}

/// An instant written by the code (`2026-12-29T09:48:38.723Z`) as Japan time like the rest of
/// the page; any other text as it is.
fn time_or_text(s: &str) -> String {
    let looks_like_time = s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T');
    match s.parse::<Timestamp>() {
        Ok(t) if looks_like_time => t.jst(),
        _ => s.to_string(),
    }
}

fn fields(details: &str, names: &Names) -> Vec<Field> {
    let v: Value = match serde_json::from_str(details) {
        Ok(v) => v,
        Err(_) => {
            return vec![Field {
                label: "詳細".into(),
                value: details.to_string(),
            }];
        }
    };
    let Value::Object(m) = v else {
        return scalar(&v)
            .map(|value| Field {
                label: "詳細".into(),
                value,
            })
            .into_iter()
            .collect();
    };
    let mut out = Vec::new();
    for (k, v) in &m {
        let value = match (kind_of_key(k), v) {
            (Some(kind), Value::Number(n)) => n.as_i64().map(|i| names.with_id(kind, i)),
            (Some(kind), Value::Array(a)) => Some(
                a.iter()
                    .filter_map(Value::as_i64)
                    .map(|i| names.with_id(kind, i))
                    .collect::<Vec<_>>()
                    .join("、"),
            ),
            (_, v) if k == "channel" => scalar(v).map(|c| channel(&c)),
            (_, Value::String(r)) if k == "reason" => Some(super::fields::reason(r)),
            (_, v) => value_of(k, v),
        };
        if let Some(value) = value.filter(|s| !s.is_empty()) {
            out.push(Field {
                label: labels::field(k),
                value,
            });
        }
    }
    out
}

fn channel(c: &str) -> String {
    match c {
        "ui" => "画面".into(),
        "api" => "API".into(),
        "paper" => "紙の同意書".into(),
        other => other.to_string(),
    }
}

fn role_label(r: &str) -> String {
    match r {
        "system" => "システム（自動処理）".into(),
        "cli" => "コマンド操作".into(),
        "anonymous" => "未ログイン".into(),
        "api_key" => "APIキー（外部システム）".into(),
        other => other
            .parse::<Role>()
            .map(|r| r.label().to_string())
            .unwrap_or_else(|_| other.to_string()),
    }
}

fn target_text(t: &str, names: &Names) -> String {
    let Some((k, id)) = split_target(t) else {
        return match t.split_once(':') {
            Some((k, rest)) => match labels::target_kind(k) {
                Some(l) => format!("{l} {rest}"),
                None => t.to_string(),
            },
            None => labels::target_kind(t)
                .map(str::to_string)
                .unwrap_or_else(|| t.to_string()),
        };
    };
    let kind_label = labels::target_kind(k).unwrap_or(k);
    match kind_of_target(k).and_then(|kind| names.name(kind, id)) {
        Some(n) if k == "api_key" => format!("{kind_label}{n}"),
        Some(n) => format!("{kind_label} {n}"),
        None => format!("{kind_label} {id}"),
    }
}

pub fn line(r: AuditRow, names: &Names) -> Line {
    let actor = match r
        .actor_account_id
        .and_then(|i| names.name(Kind::Account, i))
    {
        Some(n) => n.to_string(),
        None => match (
            r.actor_login.strip_prefix("system:"),
            api_key_of(&r.actor_login).and_then(|i| names.name(Kind::ApiKey, i)),
        ) {
            (Some(job), _) => format!("システム（{job}）"),
            (None, Some(key)) => format!("APIキー{key}"),
            (None, None) => r.actor_login.clone(),
        },
    };
    let target = target_text(&r.target, names);
    Line {
        id: r.id,
        at: r.at,
        at_text: r.at.jst_seconds(),
        actor,
        role: role_label(&r.actor_role),
        action: labels::action(&r.action),
        target,
        target_code: r.target,
        fields: fields(&r.details, names),
        details_raw: r.details,
        action_code: r.action,
        actor_login: r.actor_login,
        client_addr: r.client_addr,
        prev_hash: r.prev_hash,
        hash: r.hash,
    }
}

/// The rows as lines, with their names looked up.
pub async fn lines(conn: &mut Conn, rows: Vec<AuditRow>) -> sqlx::Result<Vec<Line>> {
    let names = names(conn, &rows).await?;
    Ok(rows.into_iter().map(|r| line(r, &names)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x4_issue15_details_become_labelled_fields_with_names() {
        let mut names = Names::default();
        names.map.insert((Kind::Facility, 2), "みどり病院".into());
        names
            .map
            .insert((Kind::Document, 7), "診療情報提供書".into());
        let f = fields(
            r#"{"document_id":7,"facility_id":2,"channel":"ui","reason":null,"ok":true}"#,
            &names,
        );
        let text: Vec<String> = f
            .iter()
            .map(|f| format!("{}={}", f.label, f.value))
            .collect();
        assert_eq!(
            text,
            [
                "経路=画面",
                "文書=診療情報提供書",
                "施設=みどり病院",
                "結果=はい"
            ]
        );
        assert_eq!(
            target_text("facility:2", &names),
            "施設 みどり病院".to_string()
        );
        assert_eq!(target_text("account:9", &names), "アカウント 9");
    }

    #[test]
    fn r15_1_field_names_in_details_show_as_labels() {
        let names = Names::default();
        let text = |d: &str| -> Vec<String> {
            fields(d, &names)
                .iter()
                .map(|f| format!("{}={}", f.label, f.value))
                .collect()
        };
        assert_eq!(
            text(r#"{"changes":[{"field":"cause","old":"","new":"x"}]}"#),
            ["変更内容=項目 原因、新しい値 x"]
        );
        assert_eq!(
            text(r#"{"fields":"name,birth_date"}"#),
            ["項目=氏名、生年月日"]
        );
        assert_eq!(
            text(r#"{"fields":["kana","gender"]}"#),
            ["項目=フリガナ、性別"]
        );
    }
}
