//! The sealed letter (封書) that carries a new user's ID and one-time password to the facility
//! manager (R12.1). One A4 page per user, folded in three for a 長3 window envelope:
//!
//! - top third: the facility's address block, placed in the envelope window, and 親展;
//! - middle third: the user ID and initial password — inside the fold, never in the window;
//! - bottom third: first-log-in instructions and the helpdesk.
//!
//! The password exists in clear only in the bytes this returns; nothing keeps them.

use jiff::civil::Date;

use super::service::LetterData;
use crate::db::{Timestamp, tokyo};
use crate::pdf::{Document, Font, Sheet, seireki, wareki};

fn date_of(t: Timestamp) -> Date {
    t.as_jiff().to_zoned(tokyo()).date()
}

fn both(t: Timestamp) -> String {
    let d = date_of(t);
    format!("{}（{}）", wareki(d), seireki(d))
}

/// Renders one PDF with a page per letter.
/// `helpdesk` is the phone line (`HelpdeskSettings::contact_line`); when None the generic
/// contact text stands in (one line either way).
pub fn render(
    font: &Font,
    letters: &[LetterData],
    login_url: &str,
    helpdesk: Option<&str>,
) -> Vec<u8> {
    let created = letters
        .iter()
        .map(|l| l.issued_at.as_jiff())
        .max()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut doc = Document::new("利用者IDと初期パスワードのお知らせ", font, created);
    for l in letters {
        let mut s = doc.sheet();
        page(&mut s, l, login_url, helpdesk);
        doc.add(s);
    }
    doc.finish()
}

fn page(s: &mut Sheet, l: &LetterData, login_url: &str, helpdesk: Option<&str>) {
    // Fold marks at one and two thirds, in the left margin.
    for y in [99.0, 198.0] {
        s.line(2.0, y, 7.0, y, 0.5, 0.4);
        s.line(203.0, y, 208.0, y, 0.5, 0.4);
    }

    // Top third: sender, then the address block inside the 長3 window (left 23 mm, top 13 mm, 90 × 45 mm).
    s.text(128.0, 16.0, 9.0, "清須市 きよすレインボーネット");
    s.text(128.0, 21.0, 9.0, "運用管理事務局（ヘルプデスク）");
    let mut y = 22.0;
    if !l.facility_postal_code.is_empty() {
        s.text(27.0, y, 10.0, &format!("〒{}", l.facility_postal_code));
        y += 5.5;
    }
    if !l.facility_address.is_empty() {
        s.text(27.0, y, 10.0, &l.facility_address);
        y += 7.0;
    }
    s.text(27.0, y + 2.0, 12.5, &l.facility_name);
    let manager = if l.manager_name.is_empty() {
        "施設管理者".to_string()
    } else {
        l.manager_name.clone()
    };
    s.text(
        27.0,
        y + 10.0,
        12.5,
        &format!("利用施設管理者　{manager}　様"),
    );
    s.frame(27.0, 66.0, 16.0, 8.0, 0.8);
    s.text(29.5, 72.0, 12.0, "親展");
    s.text(47.0, 72.0, 9.0, "利用者IDと初期パスワードのお知らせ在中");

    // Middle third: the secret, hidden inside the fold.
    let title = if l.reissue {
        "利用者IDと初期パスワードのお知らせ（再発行）"
    } else {
        "利用者IDと初期パスワードのお知らせ"
    };
    s.text(20.0, 110.0, 15.0, title);
    s.text(120.0, 117.0, 9.5, &format!("発行日　{}", both(l.issued_at)));
    s.text(
        20.0,
        123.0,
        10.5,
        &format!("{}　{}　様", l.facility_name, manager),
    );
    s.text(
        20.0,
        129.0,
        10.0,
        "ご依頼により、次のとおり利用者を登録しました。この用紙をご本人にお渡しください。",
    );
    if l.reissue {
        s.text(
            20.0,
            134.0,
            10.0,
            "以前の初期パスワードは、この再発行により使えなくなりました。",
        );
    }
    let rows: [(&str, String, f32); 6] = [
        (
            "利用者氏名",
            format!("{}（{}）", l.person.name, l.person.kana),
            11.0,
        ),
        ("職種", l.person.job_type.clone(), 11.0),
        ("利用者ID", l.login_id.clone(), 15.0),
        ("初期パスワード", l.password.clone(), 15.0),
        ("有効期限", format!("{}まで", both(l.expires_at)), 10.5),
        ("ログインURL", login_url.to_string(), 10.5),
    ];
    let (top, row_h, label_w) = (138.0, 8.0, 38.0);
    for (i, (label, value, size)) in rows.iter().enumerate() {
        let y = top + i as f32 * row_h;
        s.shade(20.0, y, label_w, row_h, 0.9);
        s.frame(20.0, y, 170.0, row_h, 0.6);
        s.line(20.0 + label_w, y, 20.0 + label_w, y + row_h, 0.6, 0.0);
        s.text(23.0, y + 5.8, 10.0, label);
        s.text(20.0 + label_w + 4.0, y + 6.0, *size, value);
    }
    s.text(20.0, 191.5, 8.5, "※ 紛らわしい文字（0とO、1とlとI など）は使っていません。英字の大文字・小文字は区別されます。");

    // Bottom third: how to log in the first time.
    s.text(20.0, 208.0, 12.0, "初回ログインの手順");
    let steps = [
        "1. パソコンのブラウザで、上記のログインURLを開きます。",
        "2. 利用者IDと初期パスワードを入力し、「ログイン」を押します。",
        "3. 新しいパスワードを設定します（8文字以上、英字と数字を含めてください）。",
        "   設定した時点で初期パスワードは使えなくなります。",
        "4. 有効期限までにログインしなかった場合、初期パスワードは無効になります。",
        "   その場合は、利用施設管理者から再発行を申請してください。",
    ];
    let y = s.lines(22.0, 215.0, 10.0, 5.6, &steps);
    let notes = [
        "・この用紙は他の人に見られないよう保管し、パスワードの変更後は細断して破棄してください。",
        "・利用者IDとパスワードを他の人に教えたり、共有したりしないでください。",
        "・初期パスワードは再表示できません。紛失した場合は再発行となります。",
    ];
    let y = s.lines(20.0, y + 3.0, 9.0, 5.0, &notes);
    // One contact line: the configured one (with the phone) replaces the generic text.
    let contact =
        helpdesk.unwrap_or("お問い合わせ：ヘルプデスク（平日 9:00〜18:00、祝日・年末年始を除く）");
    s.text(20.0, y + 4.0, 9.5, contact);
    let footer = match l.request_id {
        Some(id) => format!("申請番号 #{id}　発行 {}", l.issued_at.jst()),
        None => format!("再発行　発行 {}", l.issued_at.jst()),
    };
    s.text_in(20.0, 290.0, 8.0, &footer, 0.35);
}

/// The configured font, or a clear error when it is missing.
pub fn font(settings: &crate::config::Settings) -> anyhow::Result<Font> {
    Font::load(&settings.pdf)
}
