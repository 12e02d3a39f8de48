use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::Response;

use crate::auth::{Principal, Role};
use crate::error::AppResult;
use crate::state::{AppState, Card};
use crate::web::{Page, render};

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
    for source in &state.registry.cards {
        match source(&state, &p, now).await {
            Ok(found) => cards.extend(found.into_iter().filter(|c| {
                let ok = state.may_open(p.role, &c.href);
                if !ok {
                    tracing::error!(card = %c.title, href = %c.href, role = %p.role, "card links to a page the role cannot open");
                }
                ok
            })),
            Err(e) => tracing::error!(error = %e, "a dashboard card failed"),
        }
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
    render(view, axum::http::StatusCode::OK)
}
