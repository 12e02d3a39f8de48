//! The portal of the demo network (X.4, issue 15 item 9): public announcements (on the log-in
//! page and in the Atom feed), a staff-only notice, runbooks, a change request of the city and
//! an approved maintenance window. Everything goes through the portal's services, so the
//! revisions and audit events are those a person's edits would leave.

use jiff::SignedDuration;

use super::repo::AnnouncementFields;
use super::service::{self, Editor};
use super::{NewWindow, WindowKind, service_requests};
use crate::audit::Actor;
use crate::db::{Db, Timestamp};

const ANNOUNCEMENTS: &[(&str, &str, &str, bool, bool, i64)] = &[
    (
        "notice",
        "きよすレインボーネットの利用を開始しました",
        "清須市内の参加医療施設の間で、診療情報提供書・検査結果・画像の共有を始めました。\n\n- 利用者IDは各施設の管理者からお受け取りください。\n- 操作方法はヘルプデスク（平日 9:00〜18:00）までお問い合わせください。",
        true,
        true,
        21,
    ),
    (
        "training",
        "操作説明会（12月）のご案内",
        "新しく利用を始める施設の方を対象に、操作説明会を開きます。\n\n| 日時 | 会場 |\n| --- | --- |\n| 12月10日（水）14:00〜15:30 | 清須市役所 南館 2階 会議室 |\n\n参加を希望される方は、施設の管理者を通じてヘルプデスクへお申し込みください。",
        true,
        false,
        6,
    ),
    (
        "notice",
        "年末年始のヘルプデスク休業について",
        "12月29日（月）から1月3日（土）まで、ヘルプデスクは休業します。休業中のお問い合わせには、1月5日（月）から順に回答します。システムは通常どおりご利用いただけます。",
        true,
        false,
        2,
    ),
    (
        "notice",
        "【職員向け】運用手順書の改訂",
        "監視の一次対応とバックアップの確認手順を改訂しました。運転手順書の最新版を確認してください。",
        false,
        false,
        1,
    ),
];

const RUNBOOKS: &[(&str, &str)] = &[
    (
        "死活監視の警報を受けたとき",
        "1. アラート画面で対象と時刻を確認し、確認済みにする。\n2. 対象サーバーへ接続できるか確かめる（ping、SSH）。\n3. 15 分以内に復旧しないときは障害として登録し、連絡体制に沿って連絡する。\n4. 復旧後、障害報告書（別紙3）の経過を記入する。",
    ),
    (
        "月次バックアップの確認",
        "1. バックアップの履歴で、月次（フル）が「成功」かつ読み戻し検査済みであることを確認する。\n2. 二次保存先への写しの結果を確認する。\n3. 失敗していれば、原因を記録して再実行を予定に登録する。",
    ),
];

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// Seeds the portal of an empty demo database.
pub async fn seed(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    let office = Editor {
        login_id: "demo-operator",
        name: "運用 花子",
        role_label: "システム運用担当者",
        actor: Actor::system("demo"),
    };
    for (category, title, body, public, pinned, age_days) in ANNOUNCEMENTS {
        let at = now.minus(days(*age_days));
        let fields = AnnouncementFields {
            category,
            title,
            body_md: body,
            is_public: *public,
            pinned: *pinned,
            publish_at: at,
            expires_at: None,
        };
        service::save_announcement(db, None, &fields, 0, &office, at).await?;
    }
    let admin = Editor {
        login_id: "demo-admin",
        name: "管理 太郎",
        role_label: "システム管理者",
        actor: Actor::system("demo"),
    };
    for (title, body) in RUNBOOKS {
        service::create_runbook(db, title, body, &admin, now.minus(days(10))).await?;
    }
    let city = Editor {
        login_id: "demo-city",
        name: "清須 市子（健康福祉課）",
        role_label: "サービス運用者",
        actor: Actor::system("demo"),
    };
    service_requests::submit_change_request(
        db,
        "ログイン画面に問い合わせ先の電話番号を載せたい",
        "初めて利用する方がログインできないとき、ヘルプデスクの電話番号がすぐ分かるように、ログイン画面の下に電話番号を掲載してください。",
        &city,
        now.minus(days(3)),
    )
    .await?;
    let starts = now.plus(days(9));
    let window = NewWindow {
        kind: WindowKind::Maintenance,
        title: "サーバーのセキュリティ更新",
        starts_at: starts,
        ends_at: starts.plus(SignedDuration::from_hours(2)),
        services: "全サービス",
        reason: "OS とミドルウェアのセキュリティ更新のため",
        source: "portal",
    };
    let proposed = now.minus(days(1));
    let id = service_requests::propose_window(db, &window, &admin.actor, proposed).await?;
    service_requests::approve_window(db, id, &city, proposed).await?;
    Ok(())
}
