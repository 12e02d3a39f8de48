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
//! - The incident's page shows everything about it: the 別紙3 fields, the users affected (the
//!   portal notice and the contact checklist of `contacts::panel`, its forms returning to the
//!   page), the 経過, vendor contacts, attachments, links, its recurrence reports (to those who
//!   may open them; system administrators start one there) and the prints.
//! - 原因区分 (`model::CauseCategory`: hardware, software, network, external, human, unknown) is
//!   entered on the new and edit forms (不明 when not given; a form without the field keeps
//!   it), corrected like any field (a `correction` entry), shown on the page and printed
//!   before the 原因 of the report: 「（ハードウェア）…」.
//! - The demo (`seed_demo`): the contact tree of three levels; the closed incident (from the
//!   monitoring demo's outage) with its notice posted then resolved, every level reached (a
//!   call, a mail sent outside the system, a FAX — recorded by hand: the demo queues no mail
//!   to its `.example` addresses) and an accepted recurrence report with one measure done and
//!   one open; the open incident with its notice posted and a call that found no one.
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
mod contacts_notify;
pub mod contacts_panel;
mod form_check;
pub mod model;
pub mod notices;
pub mod recurrence;
pub mod repo;
pub mod repo_contacts;
pub mod repo_recurrence;
pub mod repo_stats;
pub mod report;
mod routes;
mod routes_actions;
pub mod routes_contacts;
mod routes_edit;
mod routes_files;
mod routes_form;
pub mod routes_recurrence;
pub mod routes_stats;
pub mod service;
mod service_edit;
mod service_files;
mod service_timeline;
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
                .get("/incidents/new", admins, routes_form::new_form)
                .post("/incidents", admins, routes_form::create)
                .get("/incidents/{id}", readers, routes::show)
                .get("/incidents/{id}/edit", admins, routes_edit::edit_form)
                .post("/incidents/{id}", admins, routes_edit::update)
                .post("/incidents/{id}/status", admins, routes_actions::status)
                .post(
                    "/incidents/{id}/timeline",
                    Access::Roles(NOTE_TAKERS),
                    routes_actions::note,
                )
                .post("/incidents/{id}/vendors", admins, routes_actions::vendor)
                .post_upload("/incidents/{id}/attachments", admins, routes_files::attach)
                .get(
                    "/incidents/{id}/attachments/{n}",
                    readers,
                    routes_files::download,
                )
                .post("/incidents/{id}/links", admins, routes_actions::link)
                .get(
                    "/incidents/{id}/report.pdf",
                    readers,
                    routes_files::report_pdf,
                ),
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
    let tree = seed_demo_tree(db, &actor, now).await?;
    let mut conn = db.pool().acquire().await?;
    let alert = crate::monitor::repo_incidents::latest_unlinked_down_alert(&mut conn).await?;
    drop(conn);
    let Some(alert) = alert else {
        return seed_open_demo(db, now, &actor, &tree).await;
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
    // The users affected (R17.2): the portal notice, then the contact tree worked through.
    notices::post(db, id, "調査中（判明しだい掲載します）", &actor, after(5))
        .await
        .map_err(|e| anyhow::anyhow!("demo notice: {e}"))?;
    let reached = [
        (
            tree[0],
            "phone",
            "健康福祉課 課長補佐",
            6,
            "状況と復旧見込みを口頭で説明。",
        ),
        (
            tree[1],
            "mail",
            "保守窓口",
            7,
            "障害連絡票をメールで送付（手入力の記録）。",
        ),
        (tree[2], "fax", "事務局", 9, "参加施設への周知を依頼。"),
    ];
    for (contact, means, person, m, note) in reached {
        let f = contacts::RecordFields {
            contact_id: contact.to_string(),
            means: means.into(),
            result: "delivered".into(),
            reached_person: person.into(),
            reached_at: after(m)
                .as_jiff()
                .to_zoned(crate::db::tokyo())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string(),
            note: note.into(),
        };
        contacts::record(db, id, &f, &actor, after(m))
            .await
            .map_err(|e| anyhow::anyhow!("demo contact: {e}"))?;
    }
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
    for (to, at, note) in steps {
        let mut conn = db.pool().acquire().await?;
        let revision = repo::find(&mut conn, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo incident"))?
            .revision;
        drop(conn);
        service::change_status(db, id, revision, to, at, note, &actor, at).await?;
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
    seed_demo_recurrence(db, id, &actor, after(195), now).await?;
    if let Err(e) = service::print(
        db,
        &crate::pdf::PdfSettings::default(),
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
    seed_open_demo(db, now, &actor, &tree).await
}

/// The contact tree of 別紙4 for the demo (three levels); the ids in level order. The demo
/// queues no mail: its addresses are `.example` ones, and a demo database may later be run
/// with SMTP configured, which would send whatever sits in the outbox. The demo's contacts are
/// therefore recorded as made by hand (phone, FAX and one mail sent outside the system).
async fn seed_demo_tree(
    db: &Db,
    actor: &crate::audit::Actor,
    now: Timestamp,
) -> anyhow::Result<Vec<i64>> {
    let entries = [
        (
            "1",
            "清須市 健康福祉部 健康推進課（サービス運用者）",
            "担当課長",
            "052-400-0001",
            "052-400-0002",
            "kenko@city.kiyosu.example.jp",
        ),
        (
            "2",
            "クラウド基盤保守ベンダー（デモ）",
            "保守窓口",
            "052-400-0101",
            "",
            "support@vendor.example.jp",
        ),
        (
            "3",
            "参加施設代表（西枇杷島医師会 事務局）",
            "事務局長",
            "052-400-0201",
            "052-400-0202",
            "",
        ),
    ];
    let mut ids = Vec::new();
    for (level, organisation, person, phone, fax, email) in entries {
        let f = contacts::ContactFields {
            level: level.into(),
            organisation: organisation.into(),
            person: person.into(),
            phone: phone.into(),
            fax: fax.into(),
            email: email.into(),
            note: String::new(),
        };
        let at = now.minus(jiff::SignedDuration::from_hours(24 * 60));
        ids.push(
            contacts::add(db, &f, actor, at)
                .await
                .map_err(|e| anyhow::anyhow!("demo contact tree: {e}"))?,
        );
    }
    Ok(ids)
}

/// The closed incident's recurrence-prevention report: submitted, accepted by the service
/// operator, one measure done and one still open (due in two months). All within the two
/// hours after `at` (the monitoring demo's outage is about six hours before `now`).
async fn seed_demo_recurrence(
    db: &Db,
    incident_id: i64,
    actor: &crate::audit::Actor,
    at: Timestamp,
    now: Timestamp,
) -> anyhow::Result<()> {
    use jiff::SignedDuration;
    let e = |what: &'static str| move |e: crate::error::DomainError| anyhow::anyhow!("{what}: {e}");
    let report = recurrence::create(
        db,
        incident_id,
        "ディスク容量不足による停止の再発防止",
        "一時ファイルの自動削除と容量監視はシステム管理で対応済み。\
         サーバの容量増強は契約の変更を伴うため、サービス運用者の判断をお願いします。",
        actor,
        at,
    )
    .await
    .map_err(e("demo recurrence"))?;
    let first = recurrence::add_measure(
        db,
        report,
        "一時ファイルの自動削除（毎日）と容量 80% での警告を設定する",
        "システム管理者",
        &recurrence::today(at)
            .checked_add(jiff::Span::new().days(7))?
            .to_string(),
        actor,
        at,
    )
    .await
    .map_err(e("demo measure"))?;
    recurrence::add_measure(
        db,
        report,
        "アプリケーションサーバのディスク容量を増強する（契約変更）",
        "清須市 健康推進課",
        &recurrence::today(now)
            .checked_add(jiff::Span::new().days(60))?
            .to_string(),
        actor,
        at,
    )
    .await
    .map_err(e("demo measure"))?;
    let later = |m: i64| at.plus(SignedDuration::from_mins(m));
    recurrence::submit(db, report, actor, later(5))
        .await
        .map_err(e("demo submit"))?;
    // The demo network's service operator account decides (as the page would record it).
    let city = crate::audit::Actor {
        account_id: None,
        login: "demo-city".into(),
        role: Role::ServiceOperator.key().into(),
        client_addr: "local".into(),
    };
    recurrence::decide(
        db,
        report,
        true,
        "内容を確認し受理します。",
        &city,
        later(60),
    )
    .await
    .map_err(e("demo accept"))?;
    recurrence::complete_measure(db, first, "設定を確認しました。", actor, later(120))
        .await
        .map_err(e("demo measure done"))?;
    Ok(())
}

/// The open incident of the demo network (調査中, reported by telephone).
async fn seed_open_demo(
    db: &Db,
    now: Timestamp,
    actor: &crate::audit::Actor,
    tree: &[i64],
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
    // Posted on the portal; the first level was called but not reached yet.
    notices::post(db, open_id, "本日中", actor, ago(1, 40))
        .await
        .map_err(|e| anyhow::anyhow!("demo notice: {e}"))?;
    if let Some(first) = tree.first() {
        let f = contacts::RecordFields {
            contact_id: first.to_string(),
            means: "phone".into(),
            result: "absent".into(),
            reached_person: String::new(),
            reached_at: ago(1, 35)
                .as_jiff()
                .to_zoned(crate::db::tokyo())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string(),
            note: "担当課長不在。折り返しを依頼。".into(),
        };
        contacts::record(db, open_id, &f, actor, ago(1, 35))
            .await
            .map_err(|e| anyhow::anyhow!("demo contact: {e}"))?;
    }
    Ok(())
}
