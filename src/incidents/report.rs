//! The 障害報告書 of 別紙3 as an A4 PDF: the date (和暦 with 西暦), the addressee and the
//! contractor from `[incidents]`, the greeting of the form, then the table of its eleven fields
//! with the 経過 as dated lines. Long text wraps inside its cell and continues on further pages
//! (the label is repeated with （続き）). A draft carries 「案」 and DRAFT on every page; the
//! final version exists only for an incident that is 報告済.

use jiff::civil::Date;

use super::model::{CauseCategory, Incident, IncidentsSettings};
use super::repo;
use crate::db::{Conn, Timestamp, tokyo};
use crate::pdf::{A4_WIDTH, Document, Font, Sheet, seireki, wareki};

/// What the report shows, ready to print.
#[derive(Clone, Debug)]
pub struct ReportData {
    pub number: String,
    pub title: String,
    pub draft: bool,
    /// The date of the report (the day it became 報告済, or today for a draft).
    pub date: Timestamp,
    pub report_to: String,
    pub contractor: String,
    /// The rows of 別紙3 in order: label and paragraphs.
    pub rows: Vec<(&'static str, Vec<String>)>,
    pub revision: i64,
    pub printed_at: Timestamp,
}

/// The labels of 別紙3, in the form's order and spelling.
pub const LABELS: [&str; 11] = [
    "発見日時",
    "発見箇所",
    "発生日時",
    "障害内容",
    "影響範囲",
    "復旧日時",
    "経　過",
    "原　因",
    "処　置",
    "備　考",
    "添付資料",
];

/// The greeting of 別紙3.
pub const GREETING: [&str; 3] = [
    "拝啓　時下ますますご清栄のこととお慶び申し上げます。",
    "平素は当社サービスをご利用いただき、厚く御礼申し上げます。",
    "障害内容について次の通り報告させていただきますので、ご査収を宜しくお願いいたします。",
];

fn date_of(t: Timestamp) -> Date {
    t.as_jiff().to_zoned(tokyo()).date()
}

/// `令和8年11月25日（2026年11月25日）`.
pub fn both_dates(t: Timestamp) -> String {
    let d = date_of(t);
    format!("{}（{}）", wareki(d), seireki(d))
}

/// `令和8年11月25日 10:05`.
pub fn wareki_time(t: Timestamp) -> String {
    let z = t.as_jiff().to_zoned(tokyo());
    format!("{} {:02}:{:02}", wareki(z.date()), z.hour(), z.minute())
}

const PT_TO_MM: f32 = 0.3528;

/// A safe estimate of a character's advance in em (IPAex Gothic: full-width 1 em, Latin
/// proportional and never wider than these).
fn char_em(c: char) -> f32 {
    if c.is_ascii_uppercase() || c == 'm' || c == 'w' || c == '@' {
        0.75
    } else if c.is_ascii() {
        0.6
    } else if ('\u{ff61}'..='\u{ff9f}').contains(&c) {
        0.5
    } else {
        1.0
    }
}

/// The width of `s` in mm at `size_pt`.
pub fn text_width(s: &str, size_pt: f32) -> f32 {
    s.chars().map(char_em).sum::<f32>() * size_pt * PT_TO_MM
}

/// Breaks `text` into lines no wider than `width_mm` (each paragraph on a new line).
pub fn wrap(text: &str, width_mm: f32, size_pt: f32) -> Vec<String> {
    let em = size_pt * PT_TO_MM;
    let mut out = Vec::new();
    for para in text.split('\n') {
        let para = para.trim_end_matches('\r');
        let mut line = String::new();
        let mut w = 0.0;
        for c in para.chars() {
            let cw = char_em(c) * em;
            if w + cw > width_mm && !line.is_empty() {
                out.push(std::mem::take(&mut line));
                w = 0.0;
            }
            line.push(c);
            w += cw;
        }
        out.push(line);
    }
    out
}

const LEFT: f32 = 20.0;
const RIGHT: f32 = 190.0;
const LABEL_W: f32 = 28.0;
const SIZE: f32 = 10.0;
const LEADING: f32 = 5.2;
const PAD: f32 = 2.2;
const BOTTOM: f32 = 278.0;

fn value_x() -> f32 {
    LEFT + LABEL_W + 3.0
}

fn value_w() -> f32 {
    RIGHT - value_x() - 2.0
}

fn right_aligned(s: &mut Sheet, y: f32, size: f32, text: &str) {
    let x = (RIGHT - text_width(text, size)).max(LEFT);
    s.text(x, y, size, text);
}

fn watermark(s: &mut Sheet) {
    s.text_in(72.0, 175.0, 150.0, "案", 0.88);
    s.text_in(62.0, 205.0, 48.0, "DRAFT", 0.88);
}

fn new_sheet(doc: &Document, r: &ReportData) -> Sheet {
    let mut s = doc.sheet();
    if r.draft {
        watermark(&mut s);
    }
    s
}

/// Draws one part of a row (label cell and the value lines), from `top`; returns its bottom.
fn row_part(s: &mut Sheet, top: f32, label: &str, lines: &[String]) -> f32 {
    let h = (lines.len().max(1) as f32) * LEADING + 2.0 * PAD;
    let h = h.max(9.0);
    s.shade(LEFT, top, LABEL_W, h, 0.9);
    s.frame(LEFT, top, RIGHT - LEFT, h, 0.6);
    s.line(LEFT + LABEL_W, top, LEFT + LABEL_W, top + h, 0.6, 0.0);
    s.text(LEFT + 2.5, top + PAD + 3.8, SIZE, label);
    let mut y = top + PAD + 3.8;
    for l in lines {
        s.text(value_x(), y, SIZE, l);
        y += LEADING;
    }
    top + h
}

/// Renders the report; one or more A4 pages.
pub fn render(font: &Font, r: &ReportData) -> Vec<u8> {
    let title = if r.draft {
        "障害報告書（案）"
    } else {
        "障害報告書"
    };
    let mut doc = Document::new(
        &format!("{title} {}", r.number),
        font,
        r.printed_at.as_jiff(),
    );
    let mut sheets: Vec<Sheet> = Vec::new();
    let mut s = new_sheet(&doc, r);

    // The letter head of 別紙3.
    right_aligned(&mut s, 20.0, 10.5, &both_dates(r.date));
    s.text(LEFT, 32.0, 12.5, &r.report_to);
    right_aligned(&mut s, 42.0, 11.0, &r.contractor);
    let tw = text_width(title, 18.0);
    s.text((A4_WIDTH - tw) / 2.0, 56.0, 18.0, title);
    let mut y = 67.0;
    for g in GREETING {
        for l in wrap(g, RIGHT - LEFT - 4.0, 10.0) {
            s.text(LEFT + 3.0, y, 10.0, &l);
            y += 5.6;
        }
    }
    right_aligned(&mut s, y + 1.0, 10.0, "敬具");
    y += 8.0;
    let head = format!("障害番号 {}　件名 {}", r.number, r.title);
    for l in wrap(&head, RIGHT - LEFT, 9.5) {
        s.text(LEFT, y, 9.5, &l);
        y += 5.0;
    }
    let mut top = y - 1.0;

    for (label, paragraphs) in &r.rows {
        let mut lines = Vec::new();
        for p in paragraphs {
            lines.extend(wrap(p, value_w(), SIZE));
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        let mut first = true;
        let mut rest: &[String] = &lines;
        while !rest.is_empty() {
            let room = ((BOTTOM - top - 2.0 * PAD) / LEADING).floor() as usize;
            // Keep at least two lines of a long row together before breaking the page.
            if room == 0 || (room < 2 && rest.len() >= 2) {
                sheets.push(std::mem::replace(&mut s, new_sheet(&doc, r)));
                s.text(
                    LEFT,
                    20.0,
                    9.5,
                    &format!("{title}（続き）　障害番号 {}", r.number),
                );
                top = 26.0;
                continue;
            }
            let take = room.min(rest.len());
            let label_text = if first {
                (*label).to_string()
            } else {
                format!("{label}（続き）")
            };
            top = row_part(&mut s, top, &label_text, &rest[..take]);
            rest = &rest[take..];
            first = false;
        }
    }
    sheets.push(s);

    let total = sheets.len();
    for (i, mut sheet) in sheets.into_iter().enumerate() {
        let mark = if r.draft { "案（DRAFT）　" } else { "" };
        sheet.text_in(
            LEFT,
            290.0,
            8.0,
            &format!(
                "{mark}障害番号 {}　第{}版　印刷 {}　{}/{} ページ",
                r.number,
                r.revision,
                r.printed_at.jst(),
                i + 1,
                total
            ),
            0.35,
        );
        doc.add(sheet);
    }
    doc.finish()
}

/// The report's data from the record.
pub async fn data(
    conn: &mut Conn,
    settings: &IncidentsSettings,
    inc: &Incident,
    draft: bool,
    now: Timestamp,
) -> sqlx::Result<ReportData> {
    let timeline = repo::timeline(conn, inc.id).await?;
    let attachments = repo::attachments(conn, inc.id).await?;
    let mut facilities = Vec::new();
    for id in repo::facility_ids(conn, inc.id).await? {
        facilities.push(match crate::facilities::find(conn, id).await {
            Ok(f) => f.name,
            Err(sqlx::Error::RowNotFound) => format!("施設 #{id}"),
            Err(e) => return Err(e),
        });
    }
    let t = |v: Option<Timestamp>| v.map(wareki_time).unwrap_or_else(|| "（未確定）".into());
    let text = |s: &str| {
        if s.trim().is_empty() {
            vec!["（未記入）".to_string()]
        } else {
            vec![s.to_string()]
        }
    };
    let mut impact = Vec::new();
    if !inc.impact.trim().is_empty() {
        impact.push(inc.impact.clone());
    }
    if !inc.affected_services.trim().is_empty() {
        impact.push(format!(
            "影響を受けたサービス：{}",
            inc.affected_services.lines().collect::<Vec<_>>().join("、")
        ));
    }
    if !facilities.is_empty() {
        impact.push(format!("影響を受けた施設：{}", facilities.join("、")));
    }
    impact.push(format!(
        "利用者への影響：{}",
        if inc.affects_users {
            "あり"
        } else {
            "なし"
        }
    ));
    let mut description = vec![format!("重大度：{}", inc.severity().label())];
    description.push(inc.description.clone());
    let progress: Vec<String> = timeline
        .iter()
        .filter(|e| e.kind != "print")
        .map(|e| {
            let z = e.at.as_jiff().to_zoned(tokyo());
            format!("{}　{}", z.strftime("%Y/%m/%d %H:%M"), e.text)
        })
        .collect();
    let attached: Vec<String> = if attachments.is_empty() {
        vec!["なし".into()]
    } else {
        attachments
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut s = format!("{}. {}", i + 1, a.file_name);
                if !a.note.is_empty() {
                    s.push_str(&format!("（{}）", a.note));
                }
                s
            })
            .collect()
    };
    // 原因 with its category first: 「（ハードウェア）ディスクの故障」.
    let category = inc.cause_category();
    let cause = if inc.cause.trim().is_empty() && category == CauseCategory::Unknown {
        text(&inc.cause)
    } else {
        text(&format!("（{}）{}", category.label(), inc.cause))
    };
    let rows = vec![
        (LABELS[0], vec![wareki_time(inc.discovered_at)]),
        (LABELS[1], text(&inc.discovered_where)),
        (LABELS[2], vec![t(inc.occurred_at)]),
        (LABELS[3], description),
        (LABELS[4], impact),
        (LABELS[5], vec![t(inc.recovered_at)]),
        (LABELS[6], progress),
        (LABELS[7], cause),
        (LABELS[8], text(&inc.action_taken)),
        (LABELS[9], text(&inc.remarks)),
        (LABELS[10], attached),
    ];
    Ok(ReportData {
        number: inc.number.clone(),
        title: inc.title.clone(),
        draft,
        date: if draft {
            now
        } else {
            inc.reported_at.unwrap_or(now)
        },
        report_to: settings.report_to.clone(),
        contractor: settings.contractor.clone(),
        rows,
        revision: inc.revision,
        printed_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r17_1_long_text_wraps_within_the_cell_and_keeps_every_character() {
        let text = "障害".repeat(60) + "\nABC";
        let lines = wrap(&text, 60.0, 10.0);
        assert!(lines.len() >= 3, "{lines:?}");
        for l in &lines {
            assert!(text_width(l, 10.0) <= 60.0 + 0.01, "{l}");
        }
        assert_eq!(lines.concat(), text.replace('\n', ""));
        assert_eq!(wrap("", 60.0, 10.0), vec![String::new()]);
    }
}
