//! Handlers of the per-account page and its actions: each action is a GET confirmation page
//! (what will happen, a reason, a tick box) and a POST that does it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::views::*;
use super::{Action, repo};
use crate::accounts::admin;
use crate::accounts::model::{Account, device_of};
use crate::accounts::service::{OneTimePassword, find_person};
use crate::accounts::{AccountSettings, Reason};
use crate::auth::Role;
use crate::db::{Conn, Timestamp};
use crate::error::{AppError, AppResult, DomainError};
use crate::notifications::{self, Kind, Notice};
use crate::state::AppState;
use crate::web::list::{ListQuery, Pager};
use crate::web::{Caller, ObjectGuard, Page, flash_redirect, render};

/// History rows per page unless the link asks otherwise.
const HISTORY_PER: i64 = 20;

async fn view_of(conn: &mut Conn, a: &Account, now: Timestamp) -> AppResult<AccountView> {
    let facility = match a.facility_id {
        Some(f) => crate::facilities::find(conn, f).await?.name,
        None => "—".into(),
    };
    let state = if a.disabled_at.is_some() {
        "利用停止中".to_string()
    } else if a.is_locked(now) {
        "ロック中".to_string()
    } else if a.must_change_password {
        "初期パスワード未変更".to_string()
    } else {
        "有効".to_string()
    };
    Ok(AccountView {
        id: a.id,
        login_id: a.login_id.clone(),
        display_name: a.display_name.clone(),
        role: a.role.label().into(),
        facility,
        state,
        disabled: a.disabled_at.is_some(),
        totp: a.totp_enabled_at.is_some() || a.totp_secret.is_some(),
        last_login: a
            .last_login_at
            .map(|t| t.jst())
            .unwrap_or_else(|| "—".into()),
        created: a.created_at.jst(),
        by_letter: a.role.needs_facility() && a.facility_id.is_some(),
    })
}

/// The account behind `id` if the caller may reach it (404 otherwise, the refusal audited).
async fn reach(state: &AppState, guard: &ObjectGuard, id: i64) -> AppResult<Account> {
    let mut conn = state.db.pool().acquire().await?;
    let person = find_person(&mut conn, id).await?;
    drop(conn);
    guard.check(person).await?;
    let mut conn = state.db.pool().acquire().await?;
    admin::find(&mut conn, id).await?.ok_or(AppError::NotFound)
}

/// `GET /admin/accounts/{id}`: the account, its sessions, its requests and its history.
pub async fn show(
    State(state): State<AppState>,
    guard: ObjectGuard,
    page: Page,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> AppResult<Response> {
    let a = reach(&state, &guard, id).await?;
    let mut conn = state.db.pool().acquire().await?;
    let view = view_of(&mut conn, &a, state.now()).await?;
    let sessions = repo::open_sessions(&mut conn, id)
        .await?
        .into_iter()
        .map(|s| SessionLine {
            started: s.created_at.jst(),
            last_seen: s.last_seen_at.jst(),
            addr: s.client_addr,
            device: device_of(&s.user_agent),
        })
        .collect();
    let requests = repo::requests(&mut conn, id)
        .await?
        .into_iter()
        .map(|r| RequestLine {
            id: r.id,
            kind: label_of(&r.kind, crate::requests::model::RequestKind::from_key),
            state: label_of(&r.state, crate::requests::model::RequestState::from_key),
            received: r.received_at.jst(),
        })
        .collect();
    let target = format!("account:{id}");
    let total = repo::history_count(&mut conn, &target).await?;
    let per = if q.per.is_some() {
        q.limit()
    } else {
        HISTORY_PER
    };
    let offset = (q.page() - 1) * per;
    let history = repo::history(&mut conn, &target, per, offset)
        .await?
        .into_iter()
        .map(|h| HistoryLine {
            at: h.at.jst_seconds(),
            actor: h.actor_login,
            action: crate::audit_ui::labels::action(&h.action),
            details: h.details,
        })
        .collect();
    let path = format!("/admin/accounts/{id}");
    let pager = Pager::new(&path, &q, total, &[] as &[(&str, &str)]);
    let title = format!("アカウント: {}", a.display_name);
    let view = ShowPage {
        page: page.titled(title),
        a: view,
        sessions,
        requests,
        history,
        pager,
    };
    render(view, StatusCode::OK)
}

fn label_of<T: Copy + Labelled>(key: &str, parse: fn(&str) -> Option<T>) -> String {
    parse(key).map_or_else(|| key.to_string(), |v| v.text().to_string())
}

/// The request enums' labels, for [`label_of`].
trait Labelled {
    fn text(self) -> &'static str;
}
impl Labelled for crate::requests::model::RequestKind {
    fn text(self) -> &'static str {
        self.label()
    }
}
impl Labelled for crate::requests::model::RequestState {
    fn text(self) -> &'static str {
        self.label()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    reason: String,
    confirm: String,
    role: String,
}

fn roles_for(a: &Account, action: Action) -> Vec<RoleChoice> {
    if action != Action::Role {
        return Vec::new();
    }
    Role::ALL
        .into_iter()
        // A facility role needs a facility; an account without one cannot take it.
        .filter(|r| !r.needs_facility() || a.facility_id.is_some())
        .map(|r| RoleChoice {
            key: r.key(),
            label: r.label(),
            current: r == a.role,
        })
        .collect()
}

async fn confirm_page(
    state: &AppState,
    page: Page,
    a: &Account,
    action: Action,
    reason: String,
    error: Option<String>,
) -> AppResult<ConfirmPage> {
    let mut conn = state.db.pool().acquire().await?;
    let view = view_of(&mut conn, a, state.now()).await?;
    Ok(ConfirmPage {
        page: page.titled(action.heading()),
        roles: roles_for(a, action),
        a: view,
        action: action.path(),
        heading: action.heading(),
        effect: action.effect().into(),
        button: action.button(),
        reason,
        error,
    })
}

/// The confirmation page again, with what was typed and why it was refused.
async fn refuse(
    state: &AppState,
    page: Page,
    a: &Account,
    action: Action,
    message: String,
    reason: String,
) -> AppResult<Response> {
    let view = confirm_page(state, page, a, action, reason, Some(message)).await?;
    render(view, StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn form(
    state: AppState,
    guard: ObjectGuard,
    page: Page,
    id: i64,
    action: Action,
) -> AppResult<Response> {
    let a = reach(&state, &guard, id).await?;
    render(
        confirm_page(&state, page, &a, action, String::new(), None).await?,
        StatusCode::OK,
    )
}

pub async fn act(
    state: AppState,
    Caller { p: _, actor }: Caller,
    guard: ObjectGuard,
    page: Page,
    id: i64,
    action: Action,
    form: ActionForm,
) -> AppResult<Response> {
    let a = reach(&state, &guard, id).await?;
    let reason = match Reason::confirmed(&form.reason, &form.confirm) {
        Ok(r) => r,
        Err(message) => return refuse(&state, page, &a, action, message, form.reason).await,
    };
    let role = match (action, form.role.parse::<Role>()) {
        (Action::Role, Err(_)) => {
            return refuse(
                &state,
                page,
                &a,
                action,
                "変更後の役割を選んでください。".into(),
                form.reason,
            )
            .await;
        }
        (_, r) => r.ok(),
    };
    // Hashing costs CPU: done before the transaction.
    let otp = match action {
        Action::PasswordReset => Some(OneTimePassword::generate().await?),
        _ => None,
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let Some(locked) = admin::lock_account(&mut tx, id).await? else {
        return Err(AppError::NotFound);
    };
    let mut password = None;
    let result = match action {
        Action::Disable => admin::disable_in(&mut tx, &locked, &reason, &actor, now).await,
        Action::Enable => admin::enable_in(&mut tx, &locked, &reason, &actor, now).await,
        Action::Role => {
            let role = role.unwrap_or(locked.role);
            admin::change_role_in(&mut tx, &locked, role, &reason, &actor, now).await
        }
        Action::TotpReset => admin::reset_totp_in(&mut tx, &locked, &reason, &actor, now).await,
        Action::EndSessions => admin::end_sessions_in(&mut tx, &locked, &reason, &actor, now)
            .await
            .map(|_| ()),
        Action::PasswordReset if locked.role.needs_facility() => Err(DomainError::Conflict(
            "施設のアカウントのパスワードは封書の再発行で再設定します。".into(),
        )),
        Action::PasswordReset => {
            let otp = otp.ok_or(AppError::NotFound)?;
            let days = state.section::<AccountSettings>().one_time_password_days;
            admin::reset_password_in(&mut tx, &locked, otp, days, &reason, &actor, now)
                .await
                .map(|p| password = Some(p))
        }
    };
    match result {
        Ok(()) => {}
        Err(DomainError::Invalid { message, .. } | DomainError::Conflict(message)) => {
            tx.rollback().await?;
            return refuse(&state, page, &a, action, message, form.reason).await;
        }
        Err(e) => return Err(e.into()),
    }
    if let (Some(facility), true) = (
        locked.facility_id,
        action.notifies() && locked.role.needs_facility(),
    ) {
        let subject = format!("アカウントの{}", action.done_word());
        let body = format!(
            "{}（ログインID {}）のアカウントについて、システム管理者が「{}」を行いました。",
            locked.display_name,
            locked.login_id,
            action.done_word()
        );
        let notice = Notice {
            kind: Kind::AccountChanged,
            subject: &subject,
            body: &body,
            link_path: "",
        };
        notifications::notify_facility_managers(&mut tx, facility, &notice, now).await?;
    }
    tx.commit().await?;
    if let Some((clear, expires)) = password {
        let view = PasswordPage {
            page: page.titled("新しい初期パスワード"),
            login_id: locked.login_id,
            display_name: locked.display_name,
            account_id: id,
            password: clear,
            expires: expires.jst(),
        };
        return render(view, StatusCode::OK);
    }
    let msg = format!("{}しました。", action.done_word());
    Ok(flash_redirect(
        &state,
        &format!("/admin/accounts/{id}"),
        &msg,
    ))
}
