//! Loads the session of a request (the `rn_session` cookie) and puts a [`Principal`] into the
//! request's extensions. Ends sessions that are idle too long, too old, or whose account was
//! disabled, writing `auth.session_expired` to the audit log in the same transaction.

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::SET_COOKIE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::SignedDuration;

use super::access::SessionExpired;
use super::{ClientAddr, cookies, csrf};
use crate::audit::{self, Actor};
use crate::auth::{self, Principal, Role, Stage, repo};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

/// How stale `last_seen_at` may get before a request writes it again.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(30);

pub async fn load(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = cookies::get(req.headers(), cookies::SESSION) else {
        return next.run(req).await;
    };
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .cloned()
        .unwrap_or_default();
    match resolve(&state, &token, &client.0).await {
        Ok(Resolved::Active(p, lang)) => {
            req.extensions_mut().insert(p);
            req.extensions_mut().insert(lang);
            next.run(req).await
        }
        Ok(Resolved::Expired) => {
            req.extensions_mut().insert(SessionExpired);
            unbind_csrf(&mut req);
            let mut res = next.run(req).await;
            clear_cookie(&state, &mut res);
            res
        }
        Ok(Resolved::Unknown) => {
            unbind_csrf(&mut req);
            let mut res = next.run(req).await;
            clear_cookie(&state, &mut res);
            res
        }
        Err(e) => e.into_response(),
    }
}

/// The response clears a stale session cookie, so the page's forms carry the pre-session token.
fn unbind_csrf(req: &mut Request) {
    if let Some(pre) = req.extensions().get::<csrf::PreSessionToken>().cloned() {
        req.extensions_mut().insert(csrf::CsrfToken(pre.0));
    }
}

fn clear_cookie(state: &AppState, res: &mut Response) {
    let v = cookies::remove(cookies::SESSION, state.settings.server.secure_cookies);
    if let Ok(v) = HeaderValue::from_str(&v) {
        res.headers_mut().append(SET_COOKIE, v);
    }
}

enum Resolved {
    Active(Principal, Lang),
    Expired,
    Unknown,
}

async fn resolve(state: &AppState, token: &str, client: &str) -> Result<Resolved, AppError> {
    let now = state.now();
    let sec = &state.settings.security;
    let mut conn = state.db.pool().acquire().await?;
    let Some(s) = repo::find_by_token_hash(&mut conn, &auth::token_hash(token)).await? else {
        return Ok(Resolved::Unknown);
    };
    if s.ended_at.is_some() {
        return Ok(Resolved::Unknown);
    }
    let reason = if s.disabled_at.is_some() {
        Some("account_disabled")
    } else if now.since(s.last_seen_at) > SignedDuration::from_mins(sec.session_idle_minutes) {
        Some("idle_timeout")
    } else if now.since(s.created_at) > SignedDuration::from_hours(sec.session_absolute_hours) {
        Some("absolute_timeout")
    } else {
        None
    };
    let Ok(role) = s.role.parse::<Role>() else {
        tracing::error!(account = s.account_id, role = %s.role, "account has an unknown role");
        return Ok(Resolved::Unknown);
    };
    if let Some(reason) = reason {
        drop(conn);
        let mut tx = state.db.begin().await?;
        expire(&mut tx, &s, role, now, reason, client).await?;
        tx.commit().await?;
        return Ok(Resolved::Expired);
    }
    if now.since(s.last_seen_at) >= TOUCH_EVERY {
        repo::touch(&mut conn, s.id, now).await?;
    }
    let stage = Stage::of(
        role,
        s.must_change_password != 0,
        s.totp_enabled_at.is_some(),
        s.mfa_at.is_some(),
        sec.require_totp,
    );
    // Only staff roles may see English (X.4); the others keep Japanese whatever is stored.
    let lang = match Lang::from_key(&s.language) {
        Lang::En if role.is_staff() => Lang::En,
        _ => Lang::Ja,
    };
    Ok(Resolved::Active(
        Principal {
            account_id: s.account_id,
            login_id: s.login_id,
            display_name: s.display_name,
            role,
            facility_id: s.facility_id,
            session_id: s.id,
            session_started: s.created_at,
            stage,
        },
        lang,
    ))
}

/// Ends an expired session and records why (shared with the `sessions.expire` job).
pub async fn expire(
    conn: &mut crate::db::Tx,
    s: &repo::SessionRow,
    role: Role,
    now: crate::db::Timestamp,
    reason: &str,
    client: &str,
) -> sqlx::Result<()> {
    // The session ends when it was last used, not when someone noticed.
    let ended = if reason == "account_disabled" {
        now
    } else {
        s.last_seen_at.min(now)
    };
    if repo::end(conn, s.id, ended, reason).await? {
        let actor = Actor {
            account_id: Some(s.account_id),
            login: s.login_id.clone(),
            role: role.key().to_string(),
            client_addr: client.to_string(),
        };
        let details = serde_json::json!({
            "session_id": s.id,
            "reason": reason,
            "started_at": s.created_at.to_db(),
            "last_seen_at": s.last_seen_at.to_db(),
            "duration_seconds": ended.since(s.created_at).as_secs(),
        });
        audit::record(
            conn,
            now,
            &actor,
            "auth.session_expired",
            &format!("session:{}", s.id),
            details,
        )
        .await?;
    }
    Ok(())
}
