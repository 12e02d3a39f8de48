//! Incidents (issue 13, R17.1–R17.3): the 障害報告書 of 別紙3, its timeline, the users affected
//! and the contact tree of 別紙4, and recurrence prevention.
//!
//! Rules:
//! - An incident carries every field of 別紙3: 発見日時, 発見箇所, 発生日時, 障害内容, 影響範囲,
//!   復旧日時, 経過 (the timeline), 原因, 処置, 備考, 添付資料; a severity, the affected
//!   services and facilities, and a status that runs
//!   調査中 → 原因特定 → 復旧作業中 → 監視中 → 復旧 → 報告済.
//! - Users affected (R17.2, `notices`, `contacts`): a system administrator posts one public
//!   障害情報 announcement per incident on the portal (status, what is affected, the expected
//!   recovery); the incident's status change brings it up to date (`notices::on_status_change`
//!   on the same transaction) and marks it 復旧 at 復旧 / 報告済 (visible 7 more days). The
//!   contact tree of 別紙4 (`/incidents/contacts`: levels of organisations and people with phone,
//!   FAX and e-mail) is edited by system administrators and read by the staff; entries are
//!   deactivated, never deleted. Mails to the tree go through the outbox, one per contact, each
//!   a notification with its mail id that counts as 伝達済 only once the outbox sent it; calls
//!   and FAXes are recorded (who, when, means, result) by system administrators and operators.
//!   Nothing counts as notified until it is recorded; the incident shows who is not reached.
//! - Recurrence prevention (R17.3, `recurrence`): system administrators report measures beyond
//!   system management; only the service operator accepts or returns them (with a comment);
//!   the extraordinary committee (date, minutes in the blob store, kept by the records' purge)
//!   is recorded by the service operator or a system administrator; measures have an owner and
//!   a due date and are overdue after it; the committee and the operations manager read.
//! - Statistics (`stats`): by month, severity and cause (`cause_category`), time to recover and
//!   from discovery to the first user notice; staff read them; printable, CSV and Excel.
//! - Status moves (`model::check_move`): forward to any later status (a quick fix may go from
//!   調査中 straight to 復旧), except that 報告済 follows 復旧 only and needs 復旧日時, 原因 and 処置;
//!   back ONE step only and only with a reason (article 17 (2) works until recovery: a fault that
//!   recurs while 監視中 goes back to 復旧作業中, a cause that proves wrong back to 調査中); never
//!   out of 報告済 (the report has gone to the service operator: errors there are corrections).
//!   Each move is a `status` entry of the 経過 and an `incident.status_changed` audit event.
//! - Nothing is deleted: the edit form corrects fields, and each changed field is a
//!   `correction` entry of the 経過 with the old and the new value. The record has a `revision`;
//!   a form opened at an older revision (status or edit) is refused with 409 and a message.
//! - Contacts with vendors and makers (article 17 (2)): who, when, their reference number, what
//!   was asked and answered (`incident_vendor_contacts`), each also an entry of the 経過.
//! - 添付資料 are kept in the records' blob store; they count as references for the records'
//!   purge (`records::repo::blob_referenced`), and are served as downloads only (an allow-listed
//!   type or `application/octet-stream`, `Content-Disposition: attachment`, `nosniff`).
//! - It is created by hand, from a helpdesk inquiry (`/incidents/new?inquiry=ID`, a button on
//!   the inquiry's page) or from a monitoring alert (`?alert=ID`: pre-filled with the monitor,
//!   the times and the last results); the inquiry's or alert's `incident_id` is set on the same
//!   transaction, and further ones may be linked later. The page shows every link.
//! - The printed 障害報告書 (`report.rs`): a draft (案/DRAFT on every page) at any stage, the final
//!   version only once 報告済; each print is kept (`incident_prints`: who, when, draft or final,
//!   the revision and the PDF's SHA-256) and audited (`incident.report_printed`). The addressee
//!   and the contractor come from `[incidents] report_to` and `contractor`.
//! - Who (article 17): system administrators record and run incidents (create, status,
//!   corrections, vendor contacts, attachments, links); system operators report trouble (through
//!   the helpdesk) and may add 経過 notes; the service operator (the city, who receives the
//!   report) and the operations manager read everything and may print; facility roles and users
//!   see only the public portal notice (not here). The committee reads what concerns an
//!   extraordinary committee (recurrence prevention, not these pages). Incidents are objects of
//!   the whole network (`Owner::Network`) behind staff-only routes.

pub mod contacts;
pub mod model;
pub mod notices;
pub mod recurrence;
pub mod repo;
pub mod repo_contacts;
pub mod repo_recurrence;
pub mod repo_stats;
pub mod report;
mod routes;
pub mod routes_contacts;
pub mod routes_recurrence;
pub mod routes_stats;
pub mod service;
pub mod stats;
mod views;

pub use model::{
    CauseCategory, Incident, IncidentsSettings, NewIncident, Severity, Source, Status,
};

use crate::auth::{Owned, Owner, Principal, Role};
use crate::db::{Db, Timestamp};
use crate::domain::Domain;
use crate::state::{AppState, Card};
use crate::web::{Access, Routes};

/// Who records and runs incidents.
pub const ADMINS: &[Role] = &[Role::SystemAdmin];
/// Who may add a 経過 note.
pub const NOTE_TAKERS: &[Role] = &[Role::SystemAdmin, Role::SystemOperator];
/// Who reads incidents and prints the report.
pub const READERS: &[Role] = &[
    Role::SystemAdmin,
    Role::SystemOperator,
    Role::ServiceOperator,
    Role::OpsManager,
];

impl Owned for Incident {
    fn owner(&self) -> Owner {
        Owner::Network
    }
    fn audit_target(&self) -> String {
        format!("incident:{}", self.id)
    }
}

pub fn domain() -> Domain {
    let admins = Access::Roles(ADMINS);
    let readers = Access::Roles(READERS);
    Domain::new("incidents")
        .routes(
            Routes::new()
                .get("/incidents", readers, routes::index)
                .get("/incidents/new", admins, routes::new_form)
                .post("/incidents", admins, routes::create)
                .get("/incidents/{id}", readers, routes::show)
                .get("/incidents/{id}/edit", admins, routes::edit_form)
                .post("/incidents/{id}", admins, routes::update)
                .post("/incidents/{id}/status", admins, routes::status)
                .post(
                    "/incidents/{id}/timeline",
                    Access::Roles(NOTE_TAKERS),
                    routes::note,
                )
                .post("/incidents/{id}/vendors", admins, routes::vendor)
                .post("/incidents/{id}/attachments", admins, routes::attach)
                .get("/incidents/{id}/attachments/{n}", readers, routes::download)
                .post("/incidents/{id}/links", admins, routes::link)
                .get("/incidents/{id}/report.pdf", readers, routes::report_pdf),
        )
        .nav("障害対応", 810, "/incidents", "障害一覧")
        .settings::<IncidentsSettings>()
        .cards(|s, p, now| Box::pin(cards(s, p, now)))
        .routes(routes_contacts::routes())
        .routes(routes_recurrence::routes())
        .routes(routes_stats::routes())
        .nav("障害対応", 830, "/incidents/contacts", "連絡体制")
        .nav("障害対応", 840, "/incidents/recurrence", "再発防止策")
        .nav("障害対応", 850, "/incidents/stats", "障害統計")
        .cards(|s, p, now| Box::pin(recurrence::cards(s, p, now)))
        .demo(75, |db, now, fresh| {
            Box::pin(async move {
                if fresh {
                    seed_demo(db, now).await?;
                }
                Ok(Vec::new())
            })
        })
}

/// Open incidents, for the system administrators and the service operator.
async fn cards(state: &AppState, p: &Principal, _now: Timestamp) -> anyhow::Result<Vec<Card>> {
    if !matches!(p.role, Role::SystemAdmin | Role::ServiceOperator)
        || !state.may_open(p.role, "/incidents")
    {
        return Ok(Vec::new());
    }
    let mut conn = state.db.pool().acquire().await?;
    let (open, critical) = repo::count_open(&mut conn).await?;
    Ok(vec![Card {
        title: "対応中の障害".into(),
        value: format!("{open} 件"),
        note: if critical > 0 {
            format!("うち {critical} 件が重大（全面停止）です")
        } else if open > 0 {
            "報告済になっていない障害があります".into()
        } else {
            "対応中の障害はありません".into()
        },
        tone: if critical > 0 {
            "alert"
        } else if open > 0 {
            "warn"
        } else {
            "ok"
        },
        href: "/incidents".into(),
    }])
}

/// Two incidents for `rainbownet demo`: one drafted from the monitoring demo's outage alert, run
/// to 報告済 with its 経過, a vendor contact and a printed final report; one still 調査中.
pub async fn seed_demo(db: &Db, now: Timestamp) -> anyhow::Result<()> {
    use jiff::SignedDuration;

    use crate::audit::Actor;

    let actor = Actor::system("demo");
    let mut conn = db.pool().acquire().await?;
    let alert = crate::monitor::for_incidents::latest_unlinked_down_alert(&mut conn).await?;
    drop(conn);
    let Some(alert) = alert else {
        return seed_open_demo(db, now, &actor).await;
    };
    // The closed incident's times follow the alert's.
    let base = alert.at;
    let after = |m: i64| base.plus(SignedDuration::from_mins(m));
    let alert_id = alert.id;
    let n = NewIncident {
        title: format!("{}の応答停止", alert.monitor_name),
        severity: Severity::Major,
        discovered_at: base,
        discovered_where: format!("稼働監視（{}：{}）", alert.monitor_name, alert.target),
        occurred_at: Some(after(-10)),
        description: "アプリケーションサーバが応答せず、監視の HTTP 確認が続けて失敗しました。"
            .into(),
        impact: "約 30 分間、全参加施設で文書の送信と閲覧ができませんでした。".into(),
        affects_users: true,
        cause_category: CauseCategory::Unknown,
        source: Source::Alert,
        source_ref: Some(alert_id),
    };
    let id = service::create(
        db,
        &n,
        &service::Affected {
            services: "文書の送信・閲覧".into(),
            facility_ids: Vec::new(),
        },
        service::Origin::Alert(alert_id),
        &actor,
        after(2),
    )
    .await?;
    service::add_vendor_contact(
        db,
        id,
        &repo::NewVendorContact {
            contacted_at: after(8),
            organisation: "クラウド基盤保守ベンダー（デモ）",
            person: "保守窓口 担当者",
            reference_no: "INC-2026-0415",
            request: "アプリケーションサーバの応答停止について調査を依頼",
            answer: "ディスクの空き容量不足による停止と判明。不要な一時ファイルを削除して再起動する。",
        },
        &actor,
        after(12),
    )
    .await?;
    let steps = [
        (
            Status::CauseIdentified,
            after(12),
            "ディスク容量不足を確認。",
        ),
        (Status::Recovering, after(15), ""),
        (Status::Monitoring, after(28), "再起動後、応答を確認。"),
        (Status::Recovered, after(40), ""),
    ];
    for (i, (to, at, note)) in steps.into_iter().enumerate() {
        service::change_status(db, id, 1 + i as i64, to, at, note, &actor, at).await?;
    }
    let mut conn = db.pool().acquire().await?;
    let inc = repo::find(&mut conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo incident"))?;
    drop(conn);
    let mut fields = service::fields_of(&inc);
    fields.cause_category = CauseCategory::Software.key().into();
    fields.cause = "一時ファイルが蓄積し、ディスクの空き容量がなくなったため。".into();
    fields.action_taken =
        "一時ファイルを削除してサービスを再起動。一時ファイルの自動削除を設定し、容量監視を追加。"
            .into();
    fields.remarks = "利用者へは広報サービスで周知済み。".into();
    service::correct(db, id, inc.revision, &fields, &[], &[], &actor, after(60)).await?;
    service::change_status(
        db,
        id,
        inc.revision + 1,
        Status::Reported,
        after(180),
        "",
        &actor,
        after(180),
    )
    .await?;
    // The printed final report, recorded as the page records it.
    let mut conn = db.pool().acquire().await?;
    let reported = repo::find(&mut conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo incident"))?;
    drop(conn);
    if let Err(e) = service::print(
        db,
        &crate::pdf::PdfSettings::default().font_path,
        &IncidentsSettings::default(),
        &reported,
        false,
        &actor,
        after(190),
    )
    .await
    {
        tracing::warn!(error = %e, "demo: the incident report was not printed");
    }
    seed_open_demo(db, now, &actor).await
}

/// The open incident of the demo network (調査中, reported by telephone).
async fn seed_open_demo(
    db: &Db,
    now: Timestamp,
    actor: &crate::audit::Actor,
) -> anyhow::Result<()> {
    let ago = |h: i64, m: i64| now.minus(jiff::SignedDuration::from_mins(h * 60 + m));
    let open = NewIncident {
        title: "一部施設から文書を送信できない".into(),
        severity: Severity::Minor,
        discovered_at: ago(2, 0),
        discovered_where: "ヘルプデスクへの電話連絡".into(),
        occurred_at: None,
        description: "一部の施設で、文書の送信時にタイムアウトが発生しています。".into(),
        impact: "調査中".into(),
        affects_users: true,
        cause_category: CauseCategory::Unknown,
        source: Source::Manual,
        source_ref: None,
    };
    let open_id = service::create(
        db,
        &open,
        &service::Affected::default(),
        service::Origin::Manual,
        actor,
        ago(1, 50),
    )
    .await?;
    service::add_note(
        db,
        open_id,
        ago(1, 30),
        "施設側のネットワーク機器の設定変更の有無を確認中。",
        actor,
        ago(1, 30),
    )
    .await?;
    Ok(())
}
