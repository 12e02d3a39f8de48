//! Handlers: extract → parse → service (transaction + audit) → render or redirect.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::service::{self, Client, LoginError};
use super::throttle::{self, Attempt};
use super::views::*;
use crate::auth::{Password, Principal, Stage, totp};
use crate::error::{AppError, AppResult, DomainError};
use crate::state::AppState;
use crate::web::{Caller, ClientAddr, Page, cookies, csrf, flash_redirect, render, user_agent};

/// The right password of a disabled account (R12.2): the person learns why, and whom to ask.
const DISABLED: &str = "このアカウントは利用停止中のためログインできません。利用を再開するには、所属施設の管理者またはヘルプデスクにお問い合わせください。";
const LOGIN_FAILED: &str = "ログインIDまたはパスワードが正しくありません。続けて失敗すると、一定時間ログインできなくなります。";

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    expired: Option<String>,
    logged_out: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    page: Page,
    principal: Option<axum::Extension<Principal>>,
    axum::extract::Query(q): axum::extract::Query<LoginQuery>,
) -> AppResult<Response> {
    if let Some(p) = principal {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    let notice = if q.expired.is_some() {
        Some("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。")
    } else if q.logged_out.is_some() {
        Some("ログアウトしました。")
    } else {
        None
    };
    render(
        LoginPage {
            page: page.titled("ログイン"),
            login_id: String::new(),
            error: None,
            notice,
            notices: crate::portal::public_notices(&state, state.now(), 5).await?,
            status: crate::monitor::public_status(&state, state.now()).await?,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login_id: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    principal: Option<axum::Extension<Principal>>,
    page: Page,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let ua = user_agent(&headers);
    let client = Client {
        addr: &addr,
        user_agent: &ua,
        replaces: principal.map(|p| p.session_id),
    };
    let login_id: String = form.login_id.trim().chars().take(64).collect();
    if login_id.is_empty() || form.password.is_empty() {
        let error = Some("ログインIDとパスワードを入力してください。".to_string());
        return render(
            LoginPage {
                page: page.titled("ログイン"),
                login_id,
                error,
                notice: None,
                notices: Vec::new(),
                status: None,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let permit = match throttle::admit(&state, &addr, Attempt::Login).await {
        Ok(permit) => permit,
        Err(r) => {
            let error = Some(throttle::message(&r));
            let view = LoginPage {
                page: page.titled("ログイン"),
                login_id,
                error,
                notice: None,
                notices: Vec::new(),
                status: None,
            };
            return render(view, StatusCode::TOO_MANY_REQUESTS)
                .map(|res| throttle::too_many(res, &r));
        }
    };
    let pw = Password::new(form.password);
    let result = service::login(
        &state.db,
        &state.settings.security,
        &login_id,
        &pw,
        &client,
        state.now(),
    )
    .await;
    if matches!(result, Ok(_) | Err(LoginError::OneTimePasswordExpired)) {
        permit.succeeded().await;
    }
    match result {
        Ok(token) => {
            let mut res = Redirect::to("/").into_response();
            set_session_cookie(&state, &mut res, &token);
            // The form token follows the new session; a token seen before log-in is worthless.
            csrf::rotate(&mut res);
            Ok(res)
        }
        Err(LoginError::Invalid) => render(
            LoginPage { page: page.titled("ログイン"), login_id, error: Some(LOGIN_FAILED.into()), notice: None, notices: Vec::new(), status: None },
            StatusCode::UNAUTHORIZED,
        ),
        Err(LoginError::Disabled) => render(
            LoginPage {
                page: page.titled("ログイン"),
                login_id,
                error: Some(DISABLED.into()),
                notice: None,
                notices: Vec::new(),
                status: None,
            },
            StatusCode::FORBIDDEN,
        ),
        Err(LoginError::OneTimePasswordExpired) => render(
            LoginPage {
                page: page.titled("ログイン"),
                login_id,
                error: Some("初期パスワードの有効期限が切れています。施設の管理者を通じて再発行を依頼してください。".into()),
                notice: None,
                notices: Vec::new(),
                status: None,
            },
            StatusCode::UNAUTHORIZED,
        ),
        Err(LoginError::Other(e)) => Err(e.into()),
    }
}

pub async fn totp_form(
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
) -> AppResult<Response> {
    if p.stage != Stage::VerifyTotp {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    render(
        TotpVerifyPage {
            page: page.titled("二要素認証"),
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_verify(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if p.stage != Stage::VerifyTotp {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    let permit = match throttle::admit(&state, &addr, Attempt::SecondFactor).await {
        Ok(permit) => permit,
        Err(r) => {
            let view = TotpVerifyPage {
                page: page.titled("二要素認証"),
                error: Some(throttle::message(&r)),
            };
            return render(view, StatusCode::TOO_MANY_REQUESTS)
                .map(|res| throttle::too_many(res, &r));
        }
    };
    let token = service::verify_second_factor(
        &state.db,
        &state.settings.security,
        &p,
        &form.code,
        &addr,
        state.now(),
    )
    .await?;
    if let Some(token) = token {
        permit.succeeded().await;
        let mut res = Redirect::to("/").into_response();
        set_session_cookie(&state, &mut res, &token);
        csrf::rotate(&mut res);
        return Ok(res);
    }
    let error = Some(
        "コードが正しくありません。認証アプリに表示されている最新の6桁を入力してください。".into(),
    );
    render(
        TotpVerifyPage {
            page: page.titled("二要素認証"),
            error,
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

pub async fn logout(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
) -> AppResult<Response> {
    service::logout(&state.db, &p, &addr, state.now()).await?;
    let mut res = Redirect::to("/login?logged_out=1").into_response();
    let v = cookies::remove(cookies::SESSION, state.settings.server.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&v) {
        res.headers_mut().append(SET_COOKIE, v);
    }
    csrf::rotate(&mut res);
    Ok(res)
}

/// The session cookie (a browser-session cookie: it goes when the browser closes).
fn set_session_cookie(state: &AppState, res: &mut Response, token: &str) {
    let c = cookies::set(
        cookies::SESSION,
        token,
        state.settings.server.secure_cookies,
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        res.headers_mut().append(SET_COOKIE, v);
    }
}

fn password_page(state: &AppState, page: Page, p: &Principal) -> PasswordPage {
    PasswordPage {
        page: page.titled("パスワード変更"),
        first_time: p.stage == Stage::ChangePassword,
        min_length: state.settings.security.password.min_length,
        error_current: None,
        error_new: None,
    }
}

pub async fn password_form(
    State(state): State<AppState>,
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
) -> AppResult<Response> {
    if p.stage == Stage::VerifyTotp {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    render(password_page(&state, page, &p), StatusCode::OK)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    if p.stage == Stage::VerifyTotp {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    let permit = match throttle::admit(&state, &addr, Attempt::PasswordChange).await {
        Ok(permit) => permit,
        Err(r) => {
            let mut view = password_page(&state, page, &p);
            view.error_current = Some(throttle::message(&r));
            return render(view, StatusCode::TOO_MANY_REQUESTS)
                .map(|res| throttle::too_many(res, &r));
        }
    };
    let result = service::change_password(
        &state.db,
        &state.settings.security,
        &p,
        &service::PasswordChange {
            current: Password::new(form.current_password),
            new: Password::new(form.new_password),
            confirmation: form.confirm_password,
        },
        &addr,
        state.now(),
    )
    .await;
    if !matches!(
        &result,
        Err(DomainError::Invalid {
            field: "current_password",
            ..
        }) | Err(DomainError::Conflict(_))
    ) {
        permit.succeeded().await; // the current password was right
    }
    match result {
        Ok(token) => {
            let mut res = flash_redirect(&state, "/", "パスワードを変更しました。");
            // A new session id after the change; the person stays logged in.
            set_session_cookie(&state, &mut res, &token);
            Ok(res)
        }
        Err(DomainError::Invalid { field, message }) => {
            let mut view = password_page(&state, page, &p);
            if field == "current_password" {
                view.error_current = Some(message);
            } else {
                view.error_new = Some(message);
            }
            render(view, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

async fn enroll_page(
    state: &AppState,
    page: Page,
    p: &Principal,
    error: Option<String>,
) -> AppResult<TotpEnrollPage> {
    let secret = service::start_totp_enrolment(&state.db, p).await?;
    let issuer = &state.settings.security.totp_issuer;
    let url = totp::provisioning_url(&secret, issuer, &p.login_id)?;
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build()
        })
        .map_err(|e| anyhow::anyhow!("qr: {e}"))?;
    let qr_svg = match qr_svg.find("<svg") {
        Some(i) => qr_svg[i..].to_string(),
        None => qr_svg,
    };
    let secret_grouped = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(TotpEnrollPage {
        page: page.titled("二要素認証の設定"),
        qr_svg,
        secret_grouped,
        secret,
        error,
    })
}

pub async fn enroll_form(
    State(state): State<AppState>,
    page: Page,
    axum::Extension(p): axum::Extension<Principal>,
) -> AppResult<Response> {
    if p.stage != Stage::EnrolTotp && p.stage != Stage::Complete {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    if p.stage == Stage::Complete && !p.role.is_staff() {
        return Err(AppError::NotFound);
    }
    render(enroll_page(&state, page, &p, None).await?, StatusCode::OK)
}

pub async fn enroll(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    axum::Extension(p): axum::Extension<Principal>,
    page: Page,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    if p.stage != Stage::EnrolTotp && p.stage != Stage::Complete {
        return Ok(Redirect::to(p.stage.path()).into_response());
    }
    if p.stage == Stage::Complete && !p.role.is_staff() {
        return Err(AppError::NotFound);
    }
    match service::finish_totp_enrolment(&state.db, &p, &form.code, &addr, state.now()).await? {
        Some((codes, token)) => {
            let mut page = page.titled("リカバリーコード");
            page.csrf = csrf::token_for_session(state.db.keys().csrf(), &token);
            let mut res = render(RecoveryCodesPage { page, codes }, StatusCode::OK)?;
            set_session_cookie(&state, &mut res, &token);
            Ok(res)
        }
        None => {
            let error = Some(
                "コードが正しくありません。アプリに表示されている6桁のコードを入力してください。"
                    .into(),
            );
            render(
                enroll_page(&state, page, &p, error).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

pub async fn unlock(
    State(state): State<AppState>,
    Caller { p: _, actor }: Caller,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let done = service::unlock(&state.db, id, &actor, state.now()).await?;
    let msg = if done {
        "アカウントのロックを解除しました。"
    } else {
        "このアカウントはロックされていません。"
    };
    Ok(flash_redirect(&state, "/admin/accounts", msg))
}
