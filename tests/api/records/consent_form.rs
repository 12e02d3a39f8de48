//! The facility manager's consent form (X.3, issue 15 defect 6): the facilities a consent lists
//! are ticked from labelled checkboxes of the participating facilities, never typed as codes;
//! the server takes exactly the ticked set, at least one, and a refused form keeps the ticks.

use sqlx::Row;

use super::*;

/// The codes listed by the patient's latest consent, sorted.
async fn latest_listed(app: &TestApp, patient: i64) -> Vec<String> {
    sqlx::query(
        "SELECT f.code FROM consent_facilities cf JOIN facilities f ON f.id = cf.facility_id
         WHERE cf.consent_id = (SELECT MAX(id) FROM consents WHERE patient_id = $1)
         ORDER BY f.code",
    )
    .bind(patient)
    .fetch_all(app.db().pool())
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.try_get("code").unwrap())
    .collect()
}

fn checkbox(code: &str) -> String {
    format!("type=\"checkbox\" name=\"facilities\" value=\"{code}\"")
}

#[tokio::test]
async fn x3_the_consent_scope_is_a_set_of_labelled_checkboxes_and_stores_exactly_the_ticked_facilities()
 {
    let net = network().await;
    let app = &net.app;
    let res = net.send(A, "/api/fhir/Consent", consent_for(&[B, C])).await;
    assert_eq!(res.status(), 201);
    net.accept(A, fixture("referral_57133-1.json")).await;
    let patient: i64 =
        sqlx::query("SELECT patient_id FROM patient_links WHERE local_id = '000123'")
            .fetch_one(app.db().pool())
            .await
            .unwrap()
            .try_get("patient_id")
            .unwrap();
    let a = net.person(Role::FacilityManager, A, "a-manager").await;
    let page_url = format!("/records/patients/{patient}");
    let consent_url = format!("{page_url}/consent");

    // The patient page offers a checkbox, labelled with name and code, per participating facility.
    let page = a.get(&page_url).await.text().await.unwrap();
    for code in [A, B, C] {
        assert!(page.contains(&checkbox(code)), "{code}: {page}");
        assert!(
            page.contains(&format!("テスト施設{code}（{code}）")),
            "{page}"
        );
    }
    assert!(
        !page.contains("id=\"facilities\""),
        "no typed scope: {page}"
    );
    assert!(!page.contains("カンマ区切り"), "{page}");

    // Listed but nothing ticked: refused, nothing stored.
    let rows = net.rows().await;
    let res = a
        .post_form(
            &consent_url,
            &[
                ("facility", A),
                ("signed_on", "2026-06-01"),
                ("scope", "listed"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("施設を1つ以上選んでください"), "{body}");
    assert!(body.contains("value=\"listed\" checked"), "{body}");
    assert_eq!(net.rows().await, rows);

    // Another error (no date) keeps the ticks: B and C ticked, A not.
    let res = a
        .post_form(
            &consent_url,
            &[
                ("facility", A),
                ("scope", "listed"),
                ("facilities", B),
                ("facilities", C),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("署名日"), "{body}");
    for code in [B, C] {
        assert!(
            body.contains(&format!("{} checked", checkbox(code))),
            "{body}"
        );
    }
    assert!(
        body.contains(&format!("{}>", checkbox(A))),
        "A not ticked: {body}"
    );
    assert!(!body.contains("カンマ区切り"), "{body}");
    assert_eq!(net.rows().await, rows);

    // Ticked A and C: the stored consent lists exactly those.
    let res = a
        .post_form(
            &consent_url,
            &[
                ("facility", A),
                ("signed_on", "2026-06-01"),
                ("scope", "listed"),
                ("facilities", A),
                ("facilities", C),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(latest_listed(app, patient).await, vec![A, C]);
}

#[tokio::test]
async fn x3_the_registration_form_lists_the_consent_scope_as_checkboxes_and_stores_the_ticked_set()
{
    let net = network().await;
    let app = &net.app;
    let m = net.person(Role::FacilityManager, A, "a-manager").await;
    let page = m.get("/records/patients/new").await.text().await.unwrap();
    for code in [A, B, C] {
        assert!(page.contains(&checkbox(code)), "{code}: {page}");
    }
    assert!(!page.contains("カンマ区切り"), "{page}");
    let base = [
        ("local_id", "000777"),
        ("name", "清須 三郎"),
        ("kana", "キヨス サブロウ"),
        ("birth_date", "1950-05-05"),
        ("gender", "male"),
        ("signed_on", "2026-04-01"),
        ("scope", "listed"),
    ];
    // Listed with nothing ticked: refused, nobody registered.
    let res = m.post_form("/records/patients", &base).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("同意の対象とする施設を1つ以上選んでください。"),
        "{page}"
    );
    // Ticked B and C: exactly those are stored.
    let mut ticked = base.to_vec();
    ticked.push(("facilities", B));
    ticked.push(("facilities", C));
    let res = m.post_form("/records/patients", &ticked).await;
    assert_eq!(res.status(), 303);
    let patient: i64 =
        sqlx::query("SELECT patient_id FROM patient_links WHERE local_id = '000777'")
            .fetch_one(app.db().pool())
            .await
            .unwrap()
            .try_get("patient_id")
            .unwrap();
    assert_eq!(
        latest_listed(app, patient).await,
        vec![B.to_string(), C.to_string()]
    );
}
