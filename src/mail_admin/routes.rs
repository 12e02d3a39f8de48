//! `/admin/mail`: whether mail is set up, the queue, failed and sent mails with their attempts;
//! one mail with its body; retry and test-mail forms (system administrators).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::ADMINS;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, DomainError};
use crate::mail::repo::{self, AttemptRow, MailRow, Which};
use crate::state::AppState;
use crate::web::{Caller, Page, flash_redirect, render};

const HOME: &str = "/admin/mail";

pub struct AttemptLine {
    pub at: String,
    pub ok: bool,
    pub detail: String,
}

pub struct MailLine {
    pub id: i64,
    pub source: String,
    pub to: String,
    pub subject: String,
    pub state: &'static str,
    pub badge: &'static str,
    pub created: String,
    pub next: String,
    pub sent: String,
    pub attempts: Vec<AttemptLine>,
    pub last_error: String,
    pub failed: bool,
}

fn state_label(state: &str) -> (&'static str, &'static str) {
    match state {
        "queued" => ("送信待ち", "badge-warn"),
        "sending" => ("送信中", "badge-warn"),
        "sent" => ("送信済み", "badge-ok"),
        "failed" => ("送信失敗", "badge-alert"),
        _ => ("不明", "badge-idle"),
    }
}

fn source_label(source: &str) -> String {
    match source {
        "mail.test" => "テストメール".into(),
        "backup.failed" => "バックアップの失敗".into(),
        "backup.missed" => "バックアップの未実施".into(),
        "backup.drill_failed" => "復元訓練の失敗".into(),
        "monitor.alert" => "監視の警報".into(),
        "incident.contact" => "障害の連絡".into(),
        other => other.to_string(),
    }
}

fn line(r: &MailRow, attempts: &BTreeMap<i64, Vec<AttemptLine>>) -> MailLine {
    let (state, badge) = state_label(&r.state);
    MailLine {
        id: r.id,
        source: source_label(&r.source),
        to: r.recipients.lines().collect::<Vec<_>>().join(", "),
        subject: r.subject.clone(),
        state,
        badge,
        created: r.created_at.jst(),
        next: if r.state == "queued" {
            r.next_attempt_at.jst()
        } else {
            String::new()
        },
        sent: r.sent_at.map(|t| t.jst()).unwrap_or_default(),
        attempts: attempts
            .get(&r.id)
            .map(|a| {
                a.iter()
                    .map(|x| AttemptLine {
                        at: x.at.clone(),
                        ok: x.ok,
                        detail: x.detail.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        last_error: r.last_error.clone().unwrap_or_default(),
        failed: r.state == "failed",
    }
}

fn by_mail(rows: Vec<AttemptRow>) -> BTreeMap<i64, Vec<AttemptLine>> {
    let mut map: BTreeMap<i64, Vec<AttemptLine>> = BTreeMap::new();
    for a in rows {
        map.entry(a.mail_id).or_default().push(AttemptLine {
            at: a.at.jst_seconds(),
            ok: a.ok != 0,
            detail: a.detail,
        });
    }
    map
}

#[derive(Template)]
#[template(path = "mail_admin/index.html")]
pub struct IndexPage {
    pub page: Page,
    pub not_ready: Option<String>,
    pub server: String,
    pub from: String,
    pub admin_to: String,
    pub retry_rule: String,
    pub can_act: bool,
    pub queue: Vec<MailLine>,
    pub failed: Vec<MailLine>,
    pub sent: Vec<MailLine>,
    pub job: String,
    pub test_to: String,
    pub test_error: Option<String>,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
) -> AppResult<Response> {
    page_with(&state, page, &p, String::new(), None, StatusCode::OK).await
}

async fn page_with(
    state: &AppState,
    page: Page,
    p: &Principal,
    test_to: String,
    test_error: Option<String>,
    status: StatusCode,
) -> AppResult<Response> {
    let s = &state.settings.mail;
    let (queue, failed, sent, attempts) = {
        let mut conn = state.db.pool().acquire().await?;
        let queue = repo::list(&mut conn, Which::Queue, 200).await?;
        let failed = repo::list(&mut conn, Which::Failed, 100).await?;
        let sent = repo::list(&mut conn, Which::Sent, 50).await?;
        let ids: Vec<i64> = queue
            .iter()
            .chain(&failed)
            .chain(&sent)
            .map(|r| r.id)
            .collect();
        let attempts = repo::attempts_of(&mut conn, &ids).await?;
        (queue, failed, sent, by_mail(attempts))
    };
    let job = crate::jobs::status(state, crate::mail::JOB).await?;
    render(
        IndexPage {
            page: page.titled("メール送信"),
            not_ready: s.not_ready(),
            server: if s.host.trim().is_empty() {
                "未設定".into()
            } else {
                format!(
                    "{}:{}（{}{}）",
                    s.host,
                    s.port,
                    s.security.label(),
                    if s.username.is_empty() {
                        "、認証なし"
                    } else {
                        "、認証あり"
                    }
                )
            },
            from: if s.from_address.trim().is_empty() {
                "未設定".into()
            } else {
                format!("{} <{}>", s.from_name, s.from_address)
            },
            admin_to: if s.admin_to.is_empty() {
                "未設定（バックアップの失敗はダッシュボードにのみ表示されます）".into()
            } else {
                s.admin_to.join(", ")
            },
            retry_rule: format!(
                "最大 {} 回（間隔 {} 分、以後は最後の間隔で繰り返し）",
                s.max_attempts,
                s.backoff_minutes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("・")
            ),
            can_act: ADMINS.contains(&p.role),
            queue: queue.iter().map(|r| line(r, &attempts)).collect(),
            failed: failed.iter().map(|r| line(r, &attempts)).collect(),
            sent: sent.iter().map(|r| line(r, &attempts)).collect(),
            job: match (job.last_finished_at, job.last_message) {
                (Some(t), Some(m)) => format!("{}　{m}", t.jst()),
                _ => "まだ実行されていません".into(),
            },
            test_to,
            test_error,
        },
        status,
    )
}

#[derive(Template)]
#[template(path = "mail_admin/show.html")]
pub struct ShowPage {
    pub page: Page,
    pub mail: MailLine,
    pub source_ref: String,
    pub body: String,
    pub can_act: bool,
}

pub async fn show(
    State(state): State<AppState>,
    page: Page,
    Caller { p, .. }: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let mut conn = state.db.pool().acquire().await?;
    let row = repo::find(&mut conn, id).await?;
    let attempts = by_mail(repo::attempts_of(&mut conn, &[id]).await?);
    drop(conn);
    render(
        ShowPage {
            page: page.titled(format!("メール No.{id}")),
            mail: line(&row, &attempts),
            source_ref: row.source_ref.clone().unwrap_or_default(),
            body: row.body.clone(),
            can_act: ADMINS.contains(&p.role),
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TestForm {
    pub to: String,
}

pub async fn test(
    State(state): State<AppState>,
    page: Page,
    Caller { p, actor }: Caller,
    Form(form): Form<TestForm>,
) -> AppResult<Response> {
    match crate::mail::queue_test(&state.db, &form.to, &actor, state.now()).await {
        Ok(id) => {
            kick(&state);
            let note = match state.settings.mail.not_ready() {
                Some(_) => "メール送信が設定されていないため、送信待ちのまま保存されます。",
                None => "まもなく送信されます。",
            };
            Ok(flash_redirect(
                &state,
                HOME,
                &format!("テストメール No.{id} を送信待ちに入れました。{note}"),
            ))
        }
        Err(DomainError::Invalid { message, .. }) => {
            page_with(
                &state,
                page,
                &p,
                form.to,
                Some(message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn retry(
    State(state): State<AppState>,
    Caller { actor, .. }: Caller,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    crate::mail::retry(&state.db, id, &actor, state.now()).await?;
    kick(&state);
    Ok(flash_redirect(
        &state,
        HOME,
        &format!("メール No.{id} を送信待ちに戻しました。"),
    ))
}

/// Where the scheduler runs in this process, sends right away instead of at the next minute
/// (in the background, outside the request; the claims keep it from racing the job).
fn kick(state: &AppState) {
    if state.settings.jobs.enabled && state.settings.mail.not_ready().is_none() {
        let s = state.clone();
        tokio::spawn(async move {
            let sent = crate::mail::send_due(&s.db, &s.settings.mail, None, s.now()).await;
            if let Err(e) = sent {
                tracing::error!("sending the mail queue failed: {e:#}");
            }
        });
    }
}
