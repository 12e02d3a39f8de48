//! X.2 (issue 10, ASVS 5.3.x) — exports cannot carry a live spreadsheet formula: text that anyone
//! could type (a log-in ID, an inquiry's name or subject) reaches every CSV and .xlsx export with a
//! leading `'` when it would start a formula.

use std::io::Read;

use rainbownet::auth::Role;

use crate::helpdesk::{jst, spawn_helpdesk_app};
use crate::helpers::*;

const HOSTILE: &[&str] = &[
    "=HYPERLINK(\"http://x\",\"y\")",
    "+HYPERLINK(\"http://x\",\"y\")",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];

/// Whether a cell would start a formula in a spreadsheet.
fn live(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

fn csv_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF], "UTF-8 with BOM");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..]);
    rdr.records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

fn unescape(xml: &str) -> String {
    xml.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every text of an .xlsx file: its shared strings and inline strings.
fn xlsx_texts(bytes: &[u8]) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
    let mut texts = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).expect("entry");
        if !f.name().expect("name").ends_with(".xml") {
            continue;
        }
        let mut xml = String::new();
        f.read_to_string(&mut xml).expect("xml");
        for part in xml.split("<t").skip(1) {
            if !(part.starts_with('>') || part.starts_with(' ')) {
                continue;
            }
            let Some(start) = part.find('>') else {
                continue;
            };
            if part[..start].contains('/') {
                continue;
            }
            if let Some(end) = part[start + 1..].find("</t>") {
                texts.push(unescape(&part[start + 1..start + 1 + end]));
            }
        }
    }
    texts
}

#[tokio::test]
async fn x2_login_ids_that_would_start_a_formula_reach_the_audit_csv_neutralised() {
    let app = spawn_app().await;
    // The first failed log-in of an address in a throttle window is an `auth.login_failed`
    // event with the ID as typed (later ones are summed up in JSON details): one per window.
    let window = app.state.settings.security.throttle.window_seconds / 60 + 1;
    for id in HOSTILE {
        assert_eq!(app.client().login(id, "whatever1").await.status(), 401);
        app.advance_minutes(window);
    }
    // Leading tabs and CRs are trimmed off log-in IDs; what is left is neutralised too.
    app.client().login("\t=1+1", "whatever1").await;
    app.advance_minutes(window);
    app.client().login("\r@A1", "whatever1").await;
    app.advance_minutes(window);
    let admin = app.login_as(Role::SystemAdmin).await;

    let res = admin
        .client
        .get("/audit/export.csv?action=auth.login_failed")
        .await;
    assert_eq!(res.status(), 200);
    let rows = csv_cells(&res.bytes().await.expect("bytes"));
    let actors: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    for id in HOSTILE.iter().copied().chain(["=1+1", "@A1"]) {
        assert!(
            actors.contains(&format!("'{id}").as_str()),
            "{id} neutralised in {actors:?}"
        );
    }
    for row in &rows {
        for cell in row {
            assert!(!live(cell), "live formula {cell:?} in the audit CSV");
        }
    }
    // The page shows the ID as typed (HTML escapes it; nothing to neutralise there).
    let page = admin
        .client
        .get("/audit?action=auth.login_failed")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("=HYPERLINK("), "{page}");
}

#[tokio::test]
async fn x2_inquiry_text_that_would_start_a_formula_reaches_the_helpdesk_exports_neutralised() {
    let app = spawn_helpdesk_app("2026-11-02T09:00:00+09:00").await;
    let op = app.login_as(Role::SystemOperator).await;
    for (i, text) in HOSTILE.iter().enumerate() {
        let res = op
            .client
            .post_form(
                "/helpdesk",
                &[
                    ("channel", "電話"),
                    ("category", "その他"),
                    ("requester_name", text),
                    ("subject", text),
                    ("content", "問い合わせ"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "inquiry {i}");
    }
    app.clock.set(jst("2026-11-02T10:00:00+09:00"));

    let res = op
        .client
        .get("/helpdesk/reports/export.xlsx?month=2026-11")
        .await;
    assert_eq!(res.status(), 200);
    let texts = xlsx_texts(&res.bytes().await.expect("bytes"));
    for text in HOSTILE {
        assert!(
            texts.iter().any(|t| *t == format!("'{text}")),
            "{text} neutralised in {texts:?}"
        );
    }
    for t in &texts {
        assert!(!live(t), "live formula {t:?} in the xlsx");
    }

    let res = op
        .client
        .get("/helpdesk/reports/export.csv?month=2026-11")
        .await;
    assert_eq!(res.status(), 200);
    for row in csv_cells(&res.bytes().await.expect("bytes")) {
        for cell in row {
            assert!(!live(&cell), "live formula {cell:?} in the helpdesk CSV");
        }
    }
}
