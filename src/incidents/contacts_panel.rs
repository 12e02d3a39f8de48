//! The incident's contact checklist (R17.2): where each contact of the tree stands
//! ([`reach_of`]: a recorded 伝達済 or a mail the outbox sent counts as reached) and the panel
//! the incident's page and the checklist page render ([`panel`]). The tree and the recording
//! are in `contacts.rs`.

use super::contacts::{EDITORS, Means, Outcome, RECORDERS};
use super::repo_contacts::{self as crepo, NotificationRow};
use crate::auth::Role;
use crate::db::Conn;

/// Where a contact of the tree stands for an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Nothing recorded.
    NotYet,
    /// A mail waits in the outbox.
    MailQueued,
    /// The outbox gave up on the mail.
    MailFailed,
    /// The last recorded attempt did not reach them (不在, 折り返し待ち, 不通).
    Tried(Outcome),
    /// Reached: a recorded 伝達済, or a mail the outbox sent.
    Reached,
}

impl Reach {
    pub fn label(self) -> &'static str {
        match self {
            Reach::NotYet => "未連絡",
            Reach::MailQueued => "送信待ち",
            Reach::MailFailed => "メール送信失敗",
            Reach::Tried(o) => o.label(),
            Reach::Reached => "伝達済",
        }
    }

    pub fn tone(self) -> &'static str {
        match self {
            Reach::Reached => "ok",
            Reach::MailQueued | Reach::Tried(_) => "warn",
            Reach::NotYet | Reach::MailFailed => "alert",
        }
    }
}

/// The state of one contact from its notifications (oldest first). Pure.
pub fn reach_of(notes: &[NotificationRow]) -> Reach {
    let reached = notes.iter().any(|n| {
        n.result == Outcome::Delivered.key()
            || (n.mail_id.is_some() && n.mail_state.as_deref() == Some("sent"))
    });
    if reached {
        return Reach::Reached;
    }
    match notes.last() {
        None => Reach::NotYet,
        Some(n) if n.mail_id.is_some() => match n.mail_state.as_deref() {
            Some("failed") => Reach::MailFailed,
            _ => Reach::MailQueued,
        },
        Some(n) => Outcome::parse(&n.result).map_or(Reach::NotYet, Reach::Tried),
    }
}

/// One line of an incident's checklist.
#[derive(Clone, Debug)]
pub struct ChecklistRow {
    pub contact_id: i64,
    pub level: i64,
    pub organisation: String,
    pub person: String,
    pub phone: String,
    pub fax: String,
    pub email: String,
    pub active: bool,
    pub reach: Reach,
    pub state: &'static str,
    pub tone: &'static str,
    pub reached: bool,
    /// The notifications made, oldest first, as lines for the page.
    pub history: Vec<String>,
}

/// The incident's portal notice, for the panel.
#[derive(Clone, Debug)]
pub struct NoticeLine {
    pub announcement_id: i64,
    pub posted_at: String,
    pub updated_at: String,
    pub expected_recovery: String,
    pub resolved: bool,
}

/// What the incident page shows of the users affected: the portal notice, the checklist and
/// who has not been reached yet. Render with `templates/incidents/_contacts_panel.html` (a
/// field `contacts_panel` of the page's struct).
#[derive(Clone, Debug)]
pub struct PanelData {
    pub incident_id: i64,
    pub notice: Option<NoticeLine>,
    pub rows: Vec<ChecklistRow>,
    pub reached: usize,
    pub unreached: usize,
    /// Names of the active contacts not reached yet (organisation and person).
    pub unreached_names: Vec<String>,
    pub mails_waiting: usize,
    /// May post the notice and send the mails (system administrators).
    pub can_notify: bool,
    /// May record a contact made.
    pub can_record: bool,
    pub means: Vec<(&'static str, &'static str)>,
    pub outcomes: Vec<(&'static str, &'static str)>,
    /// Where the panel's forms return: `incident` (the incident's page, the default) or
    /// `contacts` (the checklist page).
    pub return_to: &'static str,
    /// The record form as it was sent, when it was refused: the values stay, the reason beside it.
    pub entered: super::contacts_notify::RecordFields,
    pub record_error: Option<String>,
}

impl PanelData {
    /// Whether the notice has been marked 復旧 (nothing more to post: the status did it).
    pub fn notice_resolved(&self) -> bool {
        self.notice.as_ref().is_some_and(|n| n.resolved)
    }
}

fn history_line(n: &NotificationRow) -> String {
    let means = Means::parse(&n.means).map_or("", |m| m.label());
    let state = if n.mail_id.is_some() {
        match n.mail_state.as_deref() {
            Some("sent") => "送信済".to_string(),
            Some("failed") => "送信失敗".to_string(),
            _ => "送信待ち".to_string(),
        }
    } else {
        Outcome::parse(&n.result)
            .map_or(n.result.as_str(), |o| o.label())
            .to_string()
    };
    let mut s = format!("{} {} {}", n.reached_at.jst(), means, state);
    if let Some(m) = n.mail_id {
        s.push_str(&format!("（メール番号 {m}）"));
    }
    if !n.reached_person.is_empty() && n.mail_id.is_none() {
        s.push_str(&format!(" 相手: {}", n.reached_person));
    }
    if !n.note.is_empty() {
        s.push_str(&format!(" ／ {}", n.note));
    }
    s.push_str(&format!(" ［記録: {}］", n.recorded_by));
    s
}

/// The panel of an incident for a person of `role`.
pub async fn panel(conn: &mut Conn, incident_id: i64, role: Role) -> sqlx::Result<PanelData> {
    let notice = crepo::find_notice(conn, incident_id)
        .await?
        .map(|n| NoticeLine {
            announcement_id: n.announcement_id,
            posted_at: n.posted_at.jst(),
            updated_at: n.updated_at.jst(),
            expected_recovery: n.expected_recovery,
            resolved: n.resolved_at.is_some(),
        });
    let contacts = crepo::list_contacts(conn).await?;
    let notes = crepo::list_notifications(conn, incident_id).await?;
    let mut rows = Vec::new();
    for c in contacts {
        let mine: Vec<NotificationRow> = notes
            .iter()
            .filter(|n| n.contact_id == c.id)
            .cloned()
            .collect();
        let active = c.deactivated_at.is_none();
        if !active && mine.is_empty() {
            continue;
        }
        let reach = reach_of(&mine);
        rows.push(ChecklistRow {
            contact_id: c.id,
            level: c.level,
            organisation: c.organisation,
            person: c.person,
            phone: c.phone,
            fax: c.fax,
            email: c.email,
            active,
            reach,
            state: reach.label(),
            tone: reach.tone(),
            reached: reach == Reach::Reached,
            history: mine.iter().map(history_line).collect(),
        });
    }
    let open: Vec<&ChecklistRow> = rows.iter().filter(|r| r.active && !r.reached).collect();
    Ok(PanelData {
        incident_id,
        notice,
        reached: rows.iter().filter(|r| r.reached).count(),
        unreached: open.len(),
        unreached_names: open
            .iter()
            .map(|r| {
                if r.person.is_empty() {
                    r.organisation.clone()
                } else {
                    format!("{}（{}）", r.organisation, r.person)
                }
            })
            .collect(),
        mails_waiting: rows.iter().filter(|r| r.reach == Reach::MailQueued).count(),
        rows,
        can_notify: EDITORS.contains(&role),
        can_record: RECORDERS.contains(&role),
        means: Means::ALL.iter().map(|m| (m.key(), m.label())).collect(),
        outcomes: Outcome::ALL.iter().map(|o| (o.key(), o.label())).collect(),
        return_to: "incident",
        entered: Default::default(),
        record_error: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::contacts::QUEUED;

    fn note(result: &str, mail: Option<(i64, &str)>) -> NotificationRow {
        NotificationRow {
            id: 1,
            incident_id: 1,
            contact_id: 1,
            means: if mail.is_some() { "mail" } else { "phone" }.into(),
            mail_id: mail.map(|m| m.0),
            mail_state: mail.map(|m| m.1.to_string()),
            result: result.into(),
            reached_person: String::new(),
            reached_at: "2026-01-01T00:00:00.000Z".parse().expect("time"),
            note: String::new(),
            recorded_by: "admin".into(),
        }
    }

    #[test]
    fn r17_2_a_queued_mail_is_not_a_notification_until_the_outbox_sent_it() {
        assert_eq!(reach_of(&[]), Reach::NotYet);
        assert_eq!(
            reach_of(&[note(QUEUED, Some((5, "queued")))]),
            Reach::MailQueued
        );
        assert_eq!(
            reach_of(&[note(QUEUED, Some((5, "failed")))]),
            Reach::MailFailed
        );
        assert_eq!(reach_of(&[note(QUEUED, Some((5, "sent")))]), Reach::Reached);
        assert_eq!(
            reach_of(&[note("absent", None)]),
            Reach::Tried(Outcome::Absent)
        );
        assert_eq!(
            reach_of(&[note("absent", None), note("delivered", None)]),
            Reach::Reached
        );
        // Reached stays reached after a later unanswered call.
        assert_eq!(
            reach_of(&[note("delivered", None), note("callback", None)]),
            Reach::Reached
        );
    }
}
