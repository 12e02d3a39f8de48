//! The demo network's accounts: one per role. Each demo start issues fresh one-time passwords
//! (printed by `rainbownet demo`).

use super::LoginId;
use super::service::{self, AccountSpec};
use crate::audit::Actor;
use crate::auth::Role;
use crate::db::{Db, Timestamp};
use crate::domain::DemoLogin;

pub const ACCOUNTS: &[(&str, &str, Role, Option<&str>)] = &[
    (
        "demo-city",
        "清須 市子（健康福祉課）",
        Role::ServiceOperator,
        None,
    ),
    ("demo-committee", "委員 一郎", Role::Committee, None),
    ("demo-opsmgr", "運用 責任", Role::OpsManager, None),
    ("demo-admin", "管理 太郎", Role::SystemAdmin, None),
    ("demo-operator", "運用 花子", Role::SystemOperator, None),
    ("demo-keys", "鍵 守", Role::KeyManager, None),
    (
        "demo-facility",
        "青葉 院長",
        Role::FacilityManager,
        Some("2310000002"),
    ),
    ("demo-user", "青葉 看護師", Role::User, Some("2310000002")),
];

/// The ふりがな of the demo accounts (the facility's list of its people shows them).
const KANA: &[(&str, &str)] = &[
    ("demo-city", "きよす いちこ"),
    ("demo-committee", "いいん いちろう"),
    ("demo-opsmgr", "うんよう せきにん"),
    ("demo-admin", "かんり たろう"),
    ("demo-operator", "うんよう はなこ"),
    ("demo-keys", "かぎ まもる"),
    ("demo-facility", "あおば いんちょう"),
    ("demo-user", "あおば かんごし"),
];

/// Creates the demo accounts, or issues them new one-time passwords.
pub async fn accounts(db: &Db, now: Timestamp) -> anyhow::Result<Vec<DemoLogin>> {
    let actor = Actor::system("demo");
    let mut out = Vec::new();
    for (login_id, name, role, facility) in ACCOUNTS {
        let password = match service::id_by_login_id(db, login_id).await? {
            Some(id) => service::reset_password(db, id, &actor, now).await?.0,
            None => {
                let id = LoginId::parse(login_id).map_err(anyhow::Error::msg)?;
                let mut spec = AccountSpec::new(Some(id), name, *role, *facility);
                spec.name_kana = KANA
                    .iter()
                    .find(|(l, _)| l == login_id)
                    .map_or("", |(_, k)| k);
                let created = service::create_account(db, &spec, &actor, now).await?;
                if let Some(code) = facility {
                    own_inquiry(db, login_id, name, code, now).await?;
                }
                created.one_time_password
            }
        };
        out.push(DemoLogin {
            login_id: login_id.to_string(),
            role: *role,
            password,
        });
    }
    Ok(out)
}

/// What a facility's demo account asked the helpdesk through the portal (its 問い合わせ page).
async fn own_inquiry(
    db: &Db,
    login_id: &str,
    name: &str,
    code: &str,
    now: Timestamp,
) -> anyhow::Result<()> {
    let Some(account_id) = service::id_by_login_id(db, login_id).await? else {
        return Ok(());
    };
    let mut conn = db.pool().acquire().await?;
    let facility = match crate::facilities::id_by_code(&mut conn, code).await? {
        Some(id) => Some(crate::facilities::find(&mut conn, id).await?),
        None => None,
    };
    drop(conn);
    // Each question, the helpdesk staff member (a demo account made earlier) who answers it,
    // and the answer.
    let (question, staff, answer) = if login_id == "demo-user" {
        (
            (
                "紹介状の添付ファイルが開けません",
                "市民病院から届いた診療情報提供書の PDF が開けません。閲覧の手順を教えてください。",
            ),
            "demo-operator",
            "お問い合わせありがとうございます。手順をご案内します。\n\
             「文書」の一覧から該当の文書を開き、「PDF を表示」を押してください。\
             表示されない場合は、ブラウザを最新の版に更新してお試しください。",
        )
    } else {
        (
            (
                "退職する看護師の利用者IDについて",
                "今月末で退職する看護師がいます。利用者IDの削除はいつまでに申請すればよいですか。",
            ),
            "demo-admin",
            "お問い合わせありがとうございます。\n\
             退職日までに「利用者申請」から削除の申請を出してください。\
             退職日の翌日から、その利用者IDではログインできなくなります。",
        )
    };
    let inquiry = crate::helpdesk::seed_own_demo(
        db,
        (account_id, name),
        facility.as_ref().map(|f| (f.id, f.name.as_str())),
        question,
        now.minus(jiff::SignedDuration::from_hours(50)),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(staff_id) = service::id_by_login_id(db, staff).await?
        && let Some((_, staff_name, _, _)) = ACCOUNTS.iter().find(|a| a.0 == staff)
    {
        crate::helpdesk::answer_own_demo(
            db,
            inquiry,
            (staff_id, staff_name),
            answer,
            now.minus(jiff::SignedDuration::from_hours(21)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
