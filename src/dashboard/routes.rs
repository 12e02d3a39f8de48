use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use jiff::SignedDuration;

use crate::auth::{Principal, Role, repo as sessions};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::Page;

/// A card on the dashboard; `tone` is one of ok / warn / alert / idle.
pub struct Card {
    pub title: &'static str,
    pub value: String,
    pub note: String,
    pub tone: &'static str,
    pub href: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard/index.html")]
pub struct DashboardPage {
    pub page: Page,
    pub greeting: String,
    pub role_label: &'static str,
    pub last_login: String,
    pub cards: Vec<Card>,
    pub upcoming: Vec<&'static str>,
    pub notices: Vec<crate::portal::NoticeLine>,
}

pub async fn index(
    State(state): State<AppState>,
    page: Page,
    Extension(p): Extension<Principal>,
) -> AppResult<Response> {
    let now = state.now();
    let mut cards = Vec::new();
    let staff_overview = matches!(
        p.role,
        Role::SystemAdmin | Role::OpsManager | Role::ServiceOperator | Role::SystemOperator
    );
    if staff_overview {
        let mut conn = state.db.pool().acquire().await?;
        let locked = crate::accounts::count_locked(&mut conn, now).await?;
        let idle = SignedDuration::from_mins(state.settings.security.session_idle_minutes);
        let open = sessions::count_open(&mut conn, now.minus(idle)).await?;
        drop(conn);
        cards.push(Card {
            title: "ロック中のアカウント",
            value: format!("{locked} 件"),
            note: if locked > 0 {
                "本人確認のうえ解除してください".into()
            } else {
                "ありません".into()
            },
            tone: if locked > 0 { "warn" } else { "ok" },
            href: "/admin/accounts",
        });
        cards.push(Card {
            title: "ログイン中のセッション",
            value: format!("{open} 件"),
            note: format!(
                "無操作 {} 分で自動ログアウト",
                state.settings.security.session_idle_minutes
            ),
            tone: "idle",
            href: "/audit/sessions",
        });
        let job = crate::jobs::status(&state, "audit.verify").await?;
        let (value, tone) = match job.last_status.as_deref() {
            Some("ok") => ("改ざんなし".to_string(), "ok"),
            Some(_) => ("異常を検出".to_string(), "alert"),
            None => ("未検査".to_string(), "idle"),
        };
        cards.push(Card {
            title: "監査ログの検査",
            value,
            note: job
                .last_finished_at
                .map(|t| format!("最終検査 {}", t.jst()))
                .unwrap_or_else(|| "毎日自動で検査します".into()),
            tone,
            href: "/audit/verify",
        });
    }
    if matches!(
        p.role,
        Role::SystemOperator | Role::SystemAdmin | Role::FacilityManager
    ) {
        let mut conn = state.db.pool().acquire().await?;
        let own = if p.role == Role::FacilityManager {
            p.facility_id
        } else {
            None
        };
        let open = crate::requests::count_open(&mut conn, own).await?;
        let (title, href) = if own.is_some() {
            ("処理待ちの申請", "/requests")
        } else {
            ("未処理の利用者申請", "/admin/requests?state=received")
        };
        cards.push(Card {
            title,
            value: format!("{open} 件"),
            note: match (open, own) {
                (0, _) => "ありません".into(),
                (_, Some(_)) => "システム運用者が順に処理します".into(),
                (_, None) => "受付順に処理してください".into(),
            },
            tone: if open > 0 { "warn" } else { "ok" },
            href,
        });
    }
    if crate::helpdesk::STAFF.contains(&p.role) {
        let mut conn = state.db.pool().acquire().await?;
        let cal = crate::calendar::load(&mut conn, &state.settings.calendar).await?;
        let (open, overdue) =
            crate::helpdesk::open_and_overdue(&mut conn, &cal, &state.settings.helpdesk, now)
                .await?;
        drop(conn);
        cards.push(Card {
            title: "ヘルプデスクの未完了",
            value: format!("{open} 件"),
            note: if overdue > 0 {
                format!("うち {overdue} 件が目標時間を超えています")
            } else {
                "目標時間を超えたものはありません".into()
            },
            tone: if overdue > 0 {
                "alert"
            } else if open > 0 {
                "warn"
            } else {
                "ok"
            },
            href: "/helpdesk",
        });
    }
    let upcoming: Vec<&'static str> = match p.role {
        Role::SystemAdmin => vec![
            "死活監視（5分ごと）・応答監視（15分ごと）",
            "バックアップ（日次・月次）",
            "障害報告書（別紙3）",
            "受入・保守の記録",
        ],
        Role::SystemOperator => vec![
            "利用者IDの発行と封書印刷",
            "ヘルプデスクの問い合わせ",
            "ポータルのお知らせ",
        ],
        Role::KeyManager => vec!["ラック鍵の貸出・返却"],
        Role::OpsManager => vec!["体制・教育の記録", "制限区域への入室許可"],
        Role::ServiceOperator => vec![
            "準拠度チェックリスト",
            "ポータル変更依頼",
            "バックアップ予定の承認",
        ],
        Role::Committee => vec!["本番データ使用許可の審査（別紙2）"],
        Role::FacilityManager => vec!["利用者の追加・削除の申請", "参加医療施設の一覧"],
        Role::User => vec![
            "お知らせ",
            "診療情報の送信・閲覧",
            "ヘルプデスクへの問い合わせ",
        ],
    };
    let mut conn = state.db.pool().acquire().await?;
    let previous = crate::audit::repo::previous_login(&mut conn, p.account_id).await?;
    let view = DashboardPage {
        page: page.titled("ダッシュボード"),
        greeting: format!("{} さん", p.display_name),
        role_label: p.role.label(),
        last_login: previous
            .map(|(t, addr)| format!("{}（接続元 {addr}）", t.jst()))
            .unwrap_or_else(|| "今回が初めてのログインです".into()),
        cards,
        upcoming,
        notices: crate::portal::latest(&state, now, 5).await?,
    };
    Ok(Html(view.render()?).into_response())
}

pub async fn health(State(state): State<AppState>) -> Response {
    let ok = sqlx::query("SELECT 1")
        .execute(state.db.pool())
        .await
        .is_ok();
    let body = serde_json::json!({"status": if ok { "ok" } else { "database_unavailable" }});
    let code = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
