//! R15.1–R15.3 through the real application: the calendar CLI and page, inquiries from the
//! portal and by phone, responses, the business-time clock, corrections, reports (page, CSV,
//! Excel), isolation between requesters, and the audit trail.

use std::io::Read;

use rainbownet::auth::Role;
use rainbownet::db::Timestamp;

use crate::helpers::*;

/// A Japan-time instant.
pub(crate) fn jst(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Sessions that survive the weekend the tests jump over.
pub(crate) async fn spawn_helpdesk_app(start: &str) -> TestApp {
    let app = spawn_app_with(|s| {
        s.security.session_idle_minutes = 60 * 24 * 30;
        s.security.session_absolute_hours = 24 * 30;
    })
    .await;
    app.clock.set(jst(start));
    app
}

/// The id at the end of a redirect such as `/support/12`.
pub(crate) fn id_from(res: &reqwest::Response) -> i64 {
    location(res).rsplit('/').next().unwrap().parse().unwrap()
}

async fn text(c: &TestClient, path: &str) -> String {
    let res = c.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.unwrap()
}

async fn submit_portal(u: &TestUser, category: &str, subject: &str) -> i64 {
    let res = u
        .client
        .post_form(
            "/support",
            &[
                ("category", category),
                ("subject", subject),
                ("content", "ログインできません。\n至急お願いします。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    id_from(&res)
}

pub(crate) async fn respond(op: &TestUser, id: i64, status: &str, content: &str) {
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/responses"),
            &[("method", "電話"), ("status", status), ("content", content)],
        )
        .await;
    assert_eq!(res.status(), 303, "response to #{id}");
}

/// The id of the newest entry of an inquiry (the one a correction names).
pub(crate) async fn last_entry(app: &TestApp, inquiry_id: i64) -> i64 {
    sqlx::query_scalar("SELECT MAX(id) FROM helpdesk_entries WHERE inquiry_id = $1")
        .bind(inquiry_id)
        .fetch_one(app.db().pool())
        .await
        .expect("an entry")
}

#[tokio::test]
async fn r15_3_the_response_clock_excludes_the_night_the_weekend_and_the_waiting_time() {
    // Friday 22:00: the helpdesk is closed until Monday 9:00.
    let app = spawn_helpdesk_app("2026-11-27T22:00:00+09:00").await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let form = text(&user.client, "/support/new").await;
    assert!(form.contains("営業時間外"), "{form}");
    assert!(
        form.contains("2026年11月30日（月）9:00"),
        "next opening shown"
    );
    let id = submit_portal(&user, "システム利用", "ログインできない").await;

    // Monday 10:00 the operator answers and waits for the user: 1 business hour.
    app.clock.set(jst("2026-11-30T10:00:00+09:00"));
    respond(&op, id, "回答待ち", "パスワードの再発行を案内しました。").await;
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(page.contains("<dd id=\"clock-first\">1時間</dd>"), "{page}");

    // The user answers on Tuesday 15:00 (the wait is not counted), done at 16:30.
    app.clock.set(jst("2026-12-01T15:00:00+09:00"));
    let res = user
        .client
        .post_form(
            &format!("/support/{id}/reply"),
            &[("content", "解決しました。")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let mine = text(&user.client, &format!("/support/{id}")).await;
    assert!(
        mine.contains("パスワードの再発行を案内しました。"),
        "the answer"
    );
    assert!(mine.contains("<dd id=\"inquiry-status\">対応中</dd>"));
    app.clock.set(jst("2026-12-01T16:30:00+09:00"));
    respond(&op, id, "完了", "完了としました。").await;
    // Much later the reading does not move any more.
    app.clock.set(jst("2026-12-20T12:00:00+09:00"));
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(page.contains("<dd id=\"clock-first\">1時間</dd>"));
    assert!(
        page.contains("<dd id=\"clock-resolution\">2時間30分</dd>"),
        "1h Monday + 1.5h Tuesday, nights/weekend/wait excluded: {page}"
    );
    assert_eq!(app.audit_count("helpdesk.inquiry_received").await, 1);
    assert_eq!(app.audit_count("helpdesk.response_added").await, 2);
    assert_eq!(app.audit_count("helpdesk.requester_added").await, 1);
}

#[tokio::test]
async fn r15_2_phone_inquiries_keep_every_entry_and_corrections_are_new_entries() {
    let app = spawn_helpdesk_app("2026-11-26T10:00:00+09:00").await;
    let op = app.login_as(Role::SystemOperator).await;
    let new = text(&op.client, "/helpdesk/new").await;
    for c in [
        "利用開始時",
        "システム仕様",
        "システム概要",
        "システム利用",
        "参加医療施設の案内",
        "ユーザー情報",
        "障害対応・復旧時間",
        "その他",
    ] {
        assert!(new.contains(&format!("<option value=\"{c}\"")), "{c}");
    }
    let res = op
        .client
        .post_form("/helpdesk", &[("channel", "電話"), ("subject", "")])
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("分類を選んでください。") && body.contains("件名を入力してください。"));
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "FAX"),
                ("category", "障害対応・復旧時間"),
                ("requester_name", "清須 花子"),
                ("facility_name", "きよす診療所"),
                ("subject", "画像が表示されない"),
                ("content", "朝から表示されません。"),
                ("incident_id", "42"),
                ("account_request_id", "x"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422, "a bad link id is refused");
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "FAX"),
                ("category", "障害対応・復旧時間"),
                ("requester_name", "清須 花子"),
                ("facility_name", "きよす診療所"),
                ("subject", "画像が表示されない"),
                ("content", "朝から表示されません。"),
                ("incident_id", "42"),
                ("received_at", "2026-11-26T10:30"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422, "a call cannot come in the future");
    assert!(res.text().await.unwrap().contains("未来の日時"));
    // The incident it names must exist (issue 13 made the link a real reference).
    sqlx::query(
        "INSERT INTO incidents (id, number, title, severity, status, discovered_at,
             discovered_where, description, source, created_by, created_at, updated_at)
         VALUES (42, '2026-0042', '画像閲覧の停止', 'major', 'investigating', $1, '監視', '停止',
             'manual', 'test', $1, $1)",
    )
    .bind(app.now())
    .execute(app.db().pool())
    .await
    .unwrap();
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "FAX"),
                ("category", "障害対応・復旧時間"),
                ("requester_name", "清須 花子"),
                ("facility_name", "きよす診療所"),
                ("subject", "画像が表示されない"),
                ("content", "朝から表示されません。"),
                ("incident_id", "42"),
                ("received_at", "2026-11-26T09:30"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = id_from(&res);
    respond(&op, id, "対応中", "復旧見込みは12時と回答。").await;
    let entry = last_entry(&app, id).await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/corrections"),
            &[
                ("corrects", &entry.to_string()),
                ("content", "復旧見込みは13時の誤り。"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(
        page.contains("復旧見込みは12時と回答。"),
        "the original stays"
    );
    assert!(page.contains("復旧見込みは13時の誤り。"));
    assert!(page.contains(&format!("記録 #{entry} の訂正")));
    assert!(page.contains("関連する障害</dt><dd><a href=\"/incidents/42\">"));
    assert!(
        page.contains("<dd>2026-11-26 09:30</dd>"),
        "received when the FAX came"
    );
    assert!(page.contains("<dd id=\"clock-first\">30分</dd>"), "{page}");
    assert_eq!(app.count("helpdesk_entries").await, 2);
    assert_eq!(app.audit_count("helpdesk.correction_added").await, 1);
    // An empty response is refused with the message on the page.
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/responses"),
            &[("method", "電話"), ("status", "完了"), ("content", " ")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("対応内容を入力してください。")
    );
}

#[tokio::test]
async fn r15_2_a_user_sees_only_their_own_inquiries_and_public_answers() {
    let app = spawn_helpdesk_app("2026-11-26T10:00:00+09:00").await;
    let alice = app.login_as(Role::User).await;
    let bob = app.login_as(Role::FacilityManager).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = submit_portal(&alice, "ユーザー情報", "氏名の変更").await;
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/responses"),
            &[
                ("method", "対応記録"),
                ("status", "対応中"),
                ("content", "内部で確認中"),
                ("internal", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&alice.client, &format!("/support/{id}")).await;
    assert!(
        !page.contains("内部で確認中"),
        "internal notes stay internal"
    );
    assert_eq!(
        bob.client.get(&format!("/support/{id}")).await.status(),
        404
    );
    let res = bob
        .client
        .post_form(&format!("/support/{id}/reply"), &[("content", "横から")])
        .await;
    assert_eq!(res.status(), 404);
    assert!(!text(&bob.client, "/support").await.contains("氏名の変更"));
    assert!(text(&alice.client, "/support").await.contains("氏名の変更"));
    let stored: String = sqlx::query_scalar("SELECT facility_name FROM helpdesk_inquiries")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    assert_eq!(stored, "テスト施設9900000001");
    // During business hours the form shows no closed notice.
    assert!(
        !text(&alice.client, "/support/new")
            .await
            .contains("closed-notice")
    );
}

fn xlsx_sheet(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn r15_3_the_monthly_report_matches_the_inquiries_entered() {
    let app = spawn_helpdesk_app("2026-11-02T09:00:00+09:00").await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    // Three portal inquiries answered after 1, 2 and 10 business hours, one left open.
    let a = submit_portal(&user, "システム利用", "a").await;
    let b = submit_portal(&user, "システム利用", "b").await;
    let c = submit_portal(&user, "利用開始時", "c").await;
    let d = submit_portal(&user, "その他", "d").await;
    app.clock.set(jst("2026-11-02T10:00:00+09:00"));
    respond(&op, a, "完了", "回答").await;
    app.clock.set(jst("2026-11-02T11:00:00+09:00"));
    respond(&op, b, "完了", "回答").await;
    app.clock.set(jst("2026-11-03T10:00:00+09:00")); // 文化の日: closed, no time counted
    app.clock.set(jst("2026-11-04T10:00:00+09:00"));
    respond(&op, c, "回答待ち", "確認をお願いします").await;
    let res = op
        .client
        .post_form(
            "/helpdesk",
            &[
                ("channel", "電話"),
                ("category", "システム仕様"),
                ("requester_name", "電話の人"),
                ("subject", "e"),
                ("content", "仕様の質問"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // December: one inquiry that must not count in November.
    app.clock.set(jst("2026-12-01T10:00:00+09:00"));
    submit_portal(&user, "その他", "december").await;
    let _ = d;

    let page = text(&op.client, "/helpdesk/reports?month=2026-11").await;
    assert!(
        page.contains("<strong id=\"report-total\">5</strong>"),
        "{page}"
    );
    let csv = op
        .client
        .get("/helpdesk/reports/export.csv?month=2026-11")
        .await;
    assert_eq!(csv.status(), 200);
    let bytes = csv.bytes().await.unwrap();
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 with BOM");
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    for line in [
        "受付件数,合計,5",
        "分類別,システム利用,2",
        "分類別,利用開始時,1",
        "分類別,システム仕様,1",
        "分類別,その他,1",
        "分類別,ユーザー情報,0",
        "受付方法別,Webフォーム,4",
        "受付方法別,電話,1",
        // First responses: 1h, 2h, 10h (Monday 9–18 + Wednesday 9–10) → median 2, p90 10.
        "初回応答（営業時間）,件数,3",
        "初回応答（営業時間）,中央値（時間）,2.00",
        "初回応答（営業時間）,90パーセンタイル（時間）,10.00",
        "解決（回答待ちを除く）（営業時間）,件数,2",
        "解決（回答待ちを除く）（営業時間）,中央値（時間）,1.50",
        // At the end of November: c waits, d and the phone inquiry are 受付.
        "未完了,受付,2",
        "未完了,回答待ち,1",
        "未完了,合計,3",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line} in\n{csv}");
    }
    let xlsx = op
        .client
        .get("/helpdesk/reports/export.xlsx?month=2026-11")
        .await;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    let book = xlsx_sheet(&bytes, "xl/workbook.xml");
    assert!(
        book.contains("月報") && book.contains("問い合わせ一覧"),
        "{book}"
    );
    let strings = xlsx_sheet(&bytes, "xl/sharedStrings.xml");
    assert!(strings.contains("ヘルプデスク月報 2026年11月"));
    let list = xlsx_sheet(&bytes, "xl/worksheets/sheet2.xml");
    assert_eq!(list.matches("<row ").count(), 6, "header + five inquiries");
    let summary = xlsx_sheet(&bytes, "xl/worksheets/sheet1.xml");
    assert!(summary.contains("<v>5</v>"), "the total as a number");
    // A bad month is a clear 400, not a crash.
    for bad in ["9999-12", "2026-1x", "-1-01"] {
        let res = op
            .client
            .get(&format!("/helpdesk/reports/export.csv?month={bad}"))
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    assert_eq!(
        op.client
            .get("/helpdesk/reports?month=2026-13")
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn r15_3_overdue_inquiries_are_highlighted_for_operators() {
    let app = spawn_helpdesk_app("2026-11-26T09:00:00+09:00").await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = submit_portal(&user, "その他", "放置").await;
    app.clock.set(jst("2026-11-26T12:59:00+09:00"));
    assert!(!text(&op.client, "/helpdesk").await.contains("row-overdue"));
    let dash = text(&op.client, "/").await;
    assert!(dash.contains("ヘルプデスクの未完了") && dash.contains("1 件"));
    assert!(dash.contains("目標時間を超えたものはありません"));
    // Past the 4 business hours of the first-response target.
    app.clock.set(jst("2026-11-26T13:01:00+09:00"));
    let list = text(&op.client, "/helpdesk").await;
    assert!(list.contains("row-overdue") && list.contains(&format!("#{id}")));
    assert!(
        text(&op.client, "/")
            .await
            .contains("うち 1 件が目標時間を超えています")
    );
}

#[tokio::test]
async fn r15_1_calendar_cli_checks_instants_and_prints_a_month() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        let out = app.cli(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert_eq!(
        run(&["calendar", "check", "2026-05-06T10:00+09:00"]),
        (Some(0), "closed 振替休日\n".into())
    );
    assert_eq!(
        run(&["calendar", "check", "2026-05-07T09:00+09:00"]),
        (Some(0), "open\n".into())
    );
    assert_eq!(
        run(&["calendar", "check", "2026-05-07T18:00+09:00"]).1,
        "closed 営業時間外\n"
    );
    assert_eq!(
        run(&["calendar", "check", "2026-12-30T10:00:00+09:00"]).1,
        "closed 年末年始\n"
    );
    // 01:00 UTC is 10:00 in Tokyo.
    assert_eq!(
        run(&["calendar", "check", "2026-09-22T01:00Z"]).1,
        "closed 国民の休日\n"
    );
    let (code, month) = run(&["calendar", "month", "2026-09"]);
    assert_eq!(code, Some(0));
    assert!(
        month.contains("* 2026-09-22 (火)  休業 国民の休日"),
        "{month}"
    );
    assert!(month.contains("* 2026-09-21 (月)  休業 敬老の日"));
    assert!(month.contains("  2026-09-24 (木)  営業"));
    assert_eq!(month.lines().count(), 31);
    assert_eq!(run(&["calendar", "month", "2026-13"]).0, Some(1));
    assert_eq!(run(&["calendar", "check", "tomorrow"]).0, Some(1));
}

#[tokio::test]
async fn r15_1_an_operator_adds_a_closed_day_that_the_whole_system_uses() {
    let app = spawn_helpdesk_app("2026-11-26T10:00:00+09:00").await;
    let op = app.login_as(Role::SystemOperator).await;
    let res = op
        .client
        .post_form(
            "/admin/calendar/days",
            &[("day", "2026-12-01"), ("kind", "closed")],
        )
        .await;
    assert_eq!(res.status(), 422, "a reason is required");
    let res = op
        .client
        .post_form(
            "/admin/calendar/days",
            &[
                ("day", "2026-12-01"),
                ("kind", "closed"),
                ("reason", "システム移行"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = text(&op.client, "/admin/calendar?month=2026-12").await;
    assert!(page.contains("休業（臨時休業（システム移行））"), "{page}");
    assert_eq!(
        String::from_utf8_lossy(
            &app.cli(&["calendar", "check", "2026-12-01T10:00+09:00"])
                .stdout
        ),
        "closed 臨時休業（システム移行）\n"
    );
    assert_eq!(app.audit_count("calendar.day_added").await, 1);
    let id: i64 = sqlx::query_scalar("SELECT id FROM calendar_days")
        .fetch_one(app.db().pool())
        .await
        .unwrap();
    let res = op
        .client
        .post_form(&format!("/admin/calendar/days/{id}/withdraw"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        String::from_utf8_lossy(
            &app.cli(&["calendar", "check", "2026-12-01T10:00+09:00"])
                .stdout
        ),
        "open\n"
    );
    assert_eq!(
        app.count("calendar_days").await,
        1,
        "withdrawn, not deleted"
    );
}

#[tokio::test]
async fn r15_3_the_demo_network_comes_with_sample_inquiries() {
    let app = spawn_app().await;
    rainbownet::demo::prepare(app.db(), app.now())
        .await
        .unwrap();
    // Three taken by the helpdesk, and one each from the demo clinic's two accounts (X.4).
    assert_eq!(app.count("helpdesk_inquiries").await, 5);
    assert_eq!(app.audit_count("helpdesk.inquiry_received").await, 5);
}

/// Issue 15, defect 5 (R15.3): an internal memo (非公開) is not a first response — the clock
/// runs on until the requester is answered with something they can read.
#[tokio::test]
async fn r15_3_an_internal_memo_does_not_stop_the_first_response_clock() {
    let app = spawn_helpdesk_app("2026-11-26T10:00:00+09:00").await;
    let user = app.login_as(Role::User).await;
    let op = app.login_as(Role::SystemOperator).await;
    let id = submit_portal(&user, "システム利用", "印刷できない").await;
    app.clock.set(jst("2026-11-26T10:30:00+09:00"));
    let res = op
        .client
        .post_form(
            &format!("/helpdesk/{id}/responses"),
            &[
                ("method", "対応記録"),
                ("status", "対応中"),
                ("content", "担当者に確認中"),
                ("internal", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let unanswered: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM helpdesk_inquiries WHERE id = $1 AND first_response_at IS NULL",
    )
    .bind(id)
    .fetch_one(app.db().pool())
    .await
    .expect("inquiry");
    assert_eq!(unanswered, 1, "the memo is not a response");
    app.clock.set(jst("2026-11-26T12:00:00+09:00"));
    respond(&op, id, "回答待ち", "プリンタの設定を案内しました。").await;
    let page = text(&op.client, &format!("/helpdesk/{id}")).await;
    assert!(
        page.contains("<dd id=\"clock-first\">2時間</dd>"),
        "10:00 → 12:00, the first answer the user saw: {page}"
    );
}
