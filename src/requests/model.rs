//! Account requests: kinds, states, channels, identity verification, person data. Pure.

use jiff::civil::Date;

use crate::db::Timestamp;

macro_rules! keyed_enum {
    ($name:ident { $($variant:ident => ($key:literal, $label:literal)),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
            pub fn from_key(s: &str) -> Option<$name> { $name::ALL.iter().copied().find(|v| v.key() == s) }
        }
    };
}

keyed_enum!(RequestKind {
    Add => ("add", "追加"),
    Delete => ("delete", "削除（利用停止）"),
    Change => ("change", "変更（削除＋追加）"),
    Attributes => ("attributes", "属性変更"),
});

keyed_enum!(RequestState {
    Received => ("received", "受付"),
    Processed => ("processed", "処理済"),
    Rejected => ("rejected", "却下"),
});

keyed_enum!(Channel {
    Portal => ("portal", "ポータル"),
    Paper => ("paper", "書面"),
    Csv => ("csv", "CSV取込"),
});

keyed_enum!(VerificationMethod {
    Counter => ("counter", "窓口（身分証確認）"),
    Callback => ("callback", "電話折り返し"),
    Document => ("document", "書面"),
    Other => ("other", "その他"),
});

impl RequestKind {
    /// Kinds that issue a new account and therefore a sealed letter.
    pub fn issues_account(self) -> bool {
        matches!(self, RequestKind::Add | RequestKind::Change)
    }

    /// Kinds that act on an existing account of the facility.
    pub fn needs_target(self) -> bool {
        !matches!(self, RequestKind::Add)
    }

    /// Kinds that carry a person's data (new user, or the new attributes).
    pub fn needs_person(self) -> bool {
        !matches!(self, RequestKind::Delete)
    }
}

/// Job types offered on the request form (free text is refused, so that lists stay comparable).
pub const JOB_TYPES: &[&str] = &[
    "医師",
    "歯科医師",
    "薬剤師",
    "看護師",
    "准看護師",
    "保健師",
    "助産師",
    "理学療法士",
    "作業療法士",
    "介護支援専門員",
    "介護福祉士",
    "介護職員",
    "医療ソーシャルワーカー",
    "医療事務",
    "その他",
];

/// A person's data as requested, parsed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonData {
    #[sqlx(rename = "person_name")]
    pub name: String,
    #[sqlx(rename = "person_kana")]
    pub kana: String,
    pub job_type: String,
    pub contact: String,
}

/// Errors next to each field of the person part of a form or CSV line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonErrors {
    pub name: Option<String>,
    pub kana: Option<String>,
    pub job_type: Option<String>,
    pub contact: Option<String>,
}

impl PersonErrors {
    pub fn any(&self) -> bool {
        self.name.is_some()
            || self.kana.is_some()
            || self.job_type.is_some()
            || self.contact.is_some()
    }

    pub fn messages(&self) -> Vec<String> {
        [&self.name, &self.kana, &self.job_type, &self.contact]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

fn is_kana(c: char) -> bool {
    matches!(c, 'ぁ'..='ゖ' | 'ァ'..='ヺ' | 'ー' | '・' | ' ' | '　' | 'ゝ' | 'ゞ' | 'ヽ' | 'ヾ')
}

impl PersonData {
    pub fn parse(
        name: &str,
        kana: &str,
        job_type: &str,
        contact: &str,
    ) -> Result<PersonData, PersonErrors> {
        let mut e = PersonErrors::default();
        let name = name.trim();
        let kana = kana.trim();
        let job_type = job_type.trim();
        let contact = contact.trim();
        if name.is_empty() || name.chars().count() > 50 {
            e.name = Some("氏名を50文字以内で入力してください。".into());
        }
        if kana.is_empty() || kana.chars().count() > 50 || !kana.chars().all(is_kana) {
            e.kana = Some("ふりがなをひらがな・カタカナで50文字以内で入力してください。".into());
        }
        if !JOB_TYPES.contains(&job_type) {
            e.job_type = Some("職種を一覧から選んでください。".into());
        }
        if contact.chars().count() > 100 {
            e.contact = Some("連絡先は100文字以内で入力してください。".into());
        }
        if e.any() {
            return Err(e);
        }
        Ok(PersonData {
            name: name.into(),
            kana: kana.into(),
            job_type: job_type.into(),
            contact: contact.into(),
        })
    }
}

/// A `YYYY-MM-DD` date written on a paper request; not in the future.
pub fn parse_paper_date(s: &str, today: Date) -> Result<Date, String> {
    let d: Date = s
        .trim()
        .parse()
        .map_err(|_| "受付日（書面の日付）を YYYY-MM-DD の形で入力してください。".to_string())?;
    if d > today {
        return Err("受付日（書面の日付）に未来の日付は指定できません。".into());
    }
    Ok(d)
}

/// A request as listed and shown.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub facility_id: i64,
    pub facility_name: String,
    #[sqlx(try_from = "crate::db::TextKey")]
    pub kind: RequestKind,
    #[sqlx(try_from = "crate::db::TextKey")]
    pub state: RequestState,
    #[sqlx(try_from = "crate::db::TextKey")]
    pub channel: Channel,
    pub paper_date: Option<String>,
    pub submitted_by_name: Option<String>,
    pub received_at: Timestamp,
    #[sqlx(flatten)]
    pub person: PersonData,
    pub target_account_id: Option<i64>,
    pub target_login_id: Option<String>,
    pub target_name: Option<String>,
    pub reason: String,
    pub handled_by_name: Option<String>,
    pub handled_at: Option<Timestamp>,
    pub rejection_reason: Option<String>,
    pub result_account_id: Option<i64>,
    pub result_login_id: Option<String>,
    #[sqlx(try_from = "crate::db::TextKey")]
    pub verification_method: Option<VerificationMethod>,
    pub verified_by_name: Option<String>,
    pub verified_at: Option<Timestamp>,
    pub verification_note: Option<String>,
}

impl Request {
    /// Time from receipt to execution (R12.2), for processed requests.
    pub fn turnaround(&self) -> Option<jiff::SignedDuration> {
        match (self.state, self.handled_at) {
            (RequestState::Processed, Some(h)) => Some(h.since(self.received_at)),
            _ => None,
        }
    }

    pub fn turnaround_text(&self) -> String {
        self.turnaround().map(duration_text).unwrap_or_default()
    }
}

/// `1日3時間`, `2時間5分`, `12分`.
pub fn duration_text(d: jiff::SignedDuration) -> String {
    let mins = d.as_secs().max(0) / 60;
    let (days, hours, m) = (mins / (24 * 60), (mins / 60) % 24, mins % 60);
    match (days, hours) {
        (0, 0) => format!("{m}分"),
        (0, h) => format!("{h}時間{m}分"),
        (d, h) => format!("{d}日{h}時間"),
    }
}

macro_rules! required_key {
    ($($what:literal => $t:ty),+) => {$(
        impl TryFrom<crate::db::TextKey> for $t {
            type Error = String;
            fn try_from(k: crate::db::TextKey) -> Result<Self, String> {
                let key = k.0.unwrap_or_default();
                <$t>::from_key(&key).ok_or_else(|| format!("unknown {} {key}", $what))
            }
        }
    )+};
}

required_key!("kind" => RequestKind, "state" => RequestState, "channel" => Channel);

/// An unknown verification method reads as none.
impl From<crate::db::TextKey> for Option<VerificationMethod> {
    fn from(k: crate::db::TextKey) -> Self {
        k.0.as_deref().and_then(VerificationMethod::from_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r12_5_person_data_needs_a_name_kana_and_a_listed_job_type() {
        let ok =
            PersonData::parse(" 清須 花子 ", "きよす はなこ", "看護師", "内線 123").expect("valid");
        assert_eq!(ok.name, "清須 花子");
        let e = PersonData::parse("", "Kiyosu", "魔法使い", &"x".repeat(101)).expect_err("invalid");
        assert!(
            e.name.is_some() && e.kana.is_some() && e.job_type.is_some() && e.contact.is_some()
        );
        assert!(
            PersonData::parse("清須 花子", "キヨス ハナコ", "医師", "").is_ok(),
            "katakana kana is fine"
        );
    }

    #[test]
    fn r12_5_a_paper_date_cannot_be_in_the_future() {
        let today = Date::constant(2026, 11, 25);
        assert!(parse_paper_date("2026-11-20", today).is_ok());
        assert!(parse_paper_date("2026-11-26", today).is_err());
        assert!(parse_paper_date("2026/11/20", today).is_err());
    }

    #[test]
    fn r12_2_turnaround_reads_in_days_hours_and_minutes() {
        assert_eq!(duration_text(jiff::SignedDuration::from_mins(12)), "12分");
        assert_eq!(
            duration_text(jiff::SignedDuration::from_mins(125)),
            "2時間5分"
        );
        assert_eq!(
            duration_text(jiff::SignedDuration::from_mins(27 * 60)),
            "1日3時間"
        );
    }

    #[test]
    fn kinds_know_what_they_need() {
        assert!(RequestKind::Add.issues_account() && !RequestKind::Add.needs_target());
        assert!(RequestKind::Change.issues_account() && RequestKind::Change.needs_target());
        assert!(!RequestKind::Delete.needs_person());
        assert_eq!(
            RequestKind::from_key("attributes"),
            Some(RequestKind::Attributes)
        );
    }
}
