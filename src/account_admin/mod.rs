//! Account administration in the UI (issue 15 item 4; R12.1, R12.2, X.1, X.2): the page of one
//! account (`/admin/accounts/{id}`) with its sessions, its account requests and its history, and
//! the actions on it.
//!
//! Rules:
//! - System administrators and operators (`accounts::MANAGERS`, security policy) manage
//!   accounts; each account id is checked against the caller (`web::ObjectGuard`): a facility
//!   role never reaches these pages at all.
//! - Every action (disable, enable, role change, TOTP reset, password reset, ending the
//!   sessions) is a confirmation page saying what will happen, with a required reason and a tick
//!   box, then a POST; the change and its audit event (with the reason) are one transaction
//!   (`accounts::admin`), and the facility's managers are notified in it
//!   (`notifications::Kind::AccountChanged`) when a facility's account changed.
//! - The last active system administrator can neither be disabled nor lose the role; only a
//!   system administrator grants or removes that role.
//! - `/admin/accounts/new` creates an account (`create`): a reason, the one-time password
//!   shown once; only a system administrator creates a system administrator.
//! - A new password: a facility's account gets it by sealed letter (`/admin/accounts/{id}/reissue`,
//!   `requests`), a staff account on screen, once, to be changed at the next log-in.
//! - The history is the audit events whose target is exactly `account:{id}` (log-ins, failures,
//!   changes), the newest first, paged.

mod create;
mod repo;
mod routes;
mod views;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::accounts::MANAGERS;
use crate::domain::Domain;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{Access, Caller, ObjectGuard, Page, Routes};

/// An action on one account, named by its path segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Disable,
    Enable,
    Role,
    TotpReset,
    EndSessions,
    PasswordReset,
}

impl Action {
    pub fn path(self) -> &'static str {
        match self {
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::Role => "role",
            Action::TotpReset => "totp-reset",
            Action::EndSessions => "end-sessions",
            Action::PasswordReset => "password-reset",
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Action::Disable => "アカウントの利用停止",
            Action::Enable => "アカウントの利用再開",
            Action::Role => "役割の変更",
            Action::TotpReset => "二要素認証の初期化",
            Action::EndSessions => "セッションの一括終了",
            Action::PasswordReset => "パスワードの再設定",
        }
    }

    fn effect(self) -> &'static str {
        match self {
            Action::Disable => {
                "利用を停止すると、このアカウントではログインできなくなり、ログイン中のセッションもすぐに終了します。データは削除されません。"
            }
            Action::Enable => {
                "利用を再開すると、このアカウントで再びログインできるようになります。"
            }
            Action::Role => {
                "役割を変更すると、できる操作が変わります。ログイン中のセッションは終了し、次のログインから新しい役割になります。"
            }
            Action::TotpReset => {
                "二要素認証の設定とリカバリーコードを消します。ログイン中のセッションは終了し、本人は次のログインで設定し直します。"
            }
            Action::EndSessions => {
                "このアカウントのログイン中のセッションをすべて終了します。本人は再びログインが必要です。"
            }
            Action::PasswordReset => {
                "新しい初期パスワードを発行し、この画面に一度だけ表示します。いまのパスワードは使えなくなり、セッションも終了します。本人は次のログインで変更します。"
            }
        }
    }

    fn button(self) -> &'static str {
        match self {
            Action::Disable => "利用を停止する",
            Action::Enable => "利用を再開する",
            Action::Role => "役割を変更する",
            Action::TotpReset => "初期化する",
            Action::EndSessions => "セッションを終了する",
            Action::PasswordReset => "再設定する",
        }
    }

    fn done_word(self) -> &'static str {
        match self {
            Action::Disable => "利用停止",
            Action::Enable => "利用再開",
            Action::Role => "役割の変更",
            Action::TotpReset => "二要素認証の初期化",
            Action::EndSessions => "セッションの終了",
            Action::PasswordReset => "パスワードの再設定",
        }
    }

    /// Whether the facility's managers hear of it (ending sessions is routine).
    fn notifies(self) -> bool {
        self != Action::EndSessions
    }
}

/// A GET (confirmation) and a POST handler for each action.
macro_rules! action_handlers {
    ($($form:ident, $post:ident => $action:expr;)+) => {$(
        async fn $form(
            State(state): State<AppState>,
            guard: ObjectGuard,
            page: Page,
            Path(id): Path<i64>,
        ) -> AppResult<Response> {
            routes::form(state, guard, page, id, $action).await
        }

        async fn $post(
            State(state): State<AppState>,
            caller: Caller,
            guard: ObjectGuard,
            page: Page,
            Path(id): Path<i64>,
            Form(form): Form<routes::ActionForm>,
        ) -> AppResult<Response> {
            routes::act(state, caller, guard, page, id, $action, form).await
        }
    )+};
}

action_handlers! {
    disable_form, disable => Action::Disable;
    enable_form, enable => Action::Enable;
    role_form, role => Action::Role;
    totp_form, totp => Action::TotpReset;
    sessions_form, sessions => Action::EndSessions;
    password_form, password => Action::PasswordReset;
}

fn routes() -> Routes {
    let m = Access::Roles(MANAGERS);
    Routes::new()
        .get("/admin/accounts/new", m, create::new_form)
        .post("/admin/accounts/new", m, create::create)
        .get("/admin/accounts/{id}", m, routes::show)
        .get("/admin/accounts/{id}/disable", m, disable_form)
        .post("/admin/accounts/{id}/disable", m, disable)
        .get("/admin/accounts/{id}/enable", m, enable_form)
        .post("/admin/accounts/{id}/enable", m, enable)
        .get("/admin/accounts/{id}/role", m, role_form)
        .post("/admin/accounts/{id}/role", m, role)
        .get("/admin/accounts/{id}/totp-reset", m, totp_form)
        .post("/admin/accounts/{id}/totp-reset", m, totp)
        .get("/admin/accounts/{id}/end-sessions", m, sessions_form)
        .post("/admin/accounts/{id}/end-sessions", m, sessions)
        .get("/admin/accounts/{id}/password-reset", m, password_form)
        .post("/admin/accounts/{id}/password-reset", m, password)
}

pub fn domain() -> Domain {
    Domain::new("account_admin").routes(routes())
}
