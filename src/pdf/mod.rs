//! Printable Japanese documents as PDF: an A4 sheet builder over printpdf with the IPAex Gothic
//! font embedded as a subset. The font is built into the binary (`assets/fonts/`, IPA Font
//! License v1.0, which permits redistribution with its text), so printing works on a machine
//! without Japanese fonts; `[pdf] font_path` replaces it. Also the
//! Japanese era calendar (和暦) for dates on letters and forms.
//!
//! Coordinates are millimetres from the TOP-left corner of the page, as one measures a printed form.

use std::path::Path;

use serde::{Deserialize, Serialize};

use jiff::civil::Date;
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

/// The `[pdf]` settings section: the font to embed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdfSettings {
    /// A TrueType/OpenType font file; unset: the IPAex Gothic built into the binary.
    pub font_path: Option<std::path::PathBuf>,
}

/// IPAex Gothic 004.01, unmodified (see `assets/fonts/README.md` and its licence).
static BUILT_IN_FONT: &[u8] = include_bytes!("../../assets/fonts/ipaexg.ttf");

pub const A4_WIDTH: f32 = 210.0;
pub const A4_HEIGHT: f32 = 297.0;

/// A loaded Japanese font.
pub struct Font {
    parsed: ParsedFont,
}

impl Font {
    /// The configured font, or the built-in IPAex Gothic when none is configured.
    pub fn load(settings: &PdfSettings) -> anyhow::Result<Font> {
        match &settings.font_path {
            Some(path) => Font::load_file(path),
            None => Font::built_in(),
        }
    }

    /// The IPAex Gothic built into the binary, parsed once per process.
    pub fn built_in() -> anyhow::Result<Font> {
        static PARSED: std::sync::OnceLock<Option<ParsedFont>> = std::sync::OnceLock::new();
        PARSED
            .get_or_init(|| ParsedFont::from_bytes(BUILT_IN_FONT, 0, &mut Vec::new()))
            .clone()
            .map(|parsed| Font { parsed })
            .ok_or_else(|| anyhow::anyhow!("組み込みのフォントを解析できません。"))
    }

    pub fn load_file(path: &Path) -> anyhow::Result<Font> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "フォントを読み込めません（{}: {e}）。[pdf] font_path を確認するか、設定を外して組み込みのフォントを使ってください。",
                path.display()
            )
        })?;
        let parsed = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())
            .ok_or_else(|| anyhow::anyhow!("フォントを解析できません: {}", path.display()))?;
        Ok(Font { parsed })
    }
}

/// A PDF being assembled, page by page.
pub struct Document {
    doc: PdfDocument,
    font: FontId,
    pages: Vec<PdfPage>,
}

impl Document {
    /// `created` is the document's creation date in its metadata (else the PDF says 1970).
    pub fn new(title: &str, font: &Font, created: jiff::Timestamp) -> Document {
        let mut doc = PdfDocument::new(title);
        if let Ok(t) = printpdf::OffsetDateTime::from_unix_timestamp(created.as_second()) {
            let info = &mut doc.metadata.info;
            info.creation_date = t;
            info.modification_date = t;
            info.metadata_date = t;
        }
        let font = doc.add_font(&font.parsed);
        Document {
            doc,
            font,
            pages: Vec::new(),
        }
    }

    pub fn sheet(&self) -> Sheet {
        Sheet {
            ops: Vec::new(),
            font: self.font.clone(),
        }
    }

    pub fn add(&mut self, sheet: Sheet) {
        self.pages
            .push(PdfPage::new(Mm(A4_WIDTH), Mm(A4_HEIGHT), sheet.ops));
    }

    /// The PDF bytes, with the font embedded as a subset of the glyphs used.
    pub fn finish(mut self) -> Vec<u8> {
        self.doc
            .with_pages(self.pages)
            .save(&PdfSaveOptions::default(), &mut Vec::new())
    }
}

/// One A4 page being drawn.
pub struct Sheet {
    ops: Vec<Op>,
    font: FontId,
}

fn point(x_mm: f32, y_from_top_mm: f32) -> Point {
    Point::new(Mm(x_mm), Mm(A4_HEIGHT - y_from_top_mm))
}

fn grey(level: f32) -> Color {
    Color::Rgb(Rgb {
        r: level,
        g: level,
        b: level,
        icc_profile: None,
    })
}

impl Sheet {
    /// Text whose baseline is `y` mm from the top.
    pub fn text(&mut self, x: f32, y: f32, size_pt: f32, text: &str) {
        self.text_in(x, y, size_pt, text, 0.0);
    }

    /// Text in a grey level (0.0 black … 1.0 white).
    pub fn text_in(&mut self, x: f32, y: f32, size_pt: f32, text: &str, level: f32) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: grey(level) },
            Op::SetTextCursor { pos: point(x, y) },
            Op::SetFont {
                font: PdfFontHandle::External(self.font.clone()),
                size: Pt(size_pt),
            },
            Op::SetLineHeight {
                lh: Pt(size_pt * 1.4),
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    /// Several lines, `leading` mm apart.
    pub fn lines(&mut self, x: f32, y: f32, size_pt: f32, leading: f32, lines: &[&str]) -> f32 {
        let mut y = y;
        for l in lines {
            self.text(x, y, size_pt, l);
            y += leading;
        }
        y
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, thickness_pt: f32, level: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: grey(level) },
            Op::SetOutlineThickness {
                pt: Pt(thickness_pt),
            },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: point(x1, y1),
                            bezier: false,
                        },
                        LinePoint {
                            p: point(x2, y2),
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
        ]);
    }

    /// An outlined box; `top` is the distance of its upper edge from the top of the page.
    pub fn frame(&mut self, x: f32, top: f32, w: f32, h: f32, thickness_pt: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: grey(0.0) },
            Op::SetOutlineThickness {
                pt: Pt(thickness_pt),
            },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Mm(x).into(),
                    y: Mm(A4_HEIGHT - top - h).into(),
                    width: Mm(w).into(),
                    height: Mm(h).into(),
                    mode: Some(PaintMode::Stroke),
                    winding_order: None,
                },
            },
        ]);
    }

    /// A filled grey box (e.g. the shaded heading of a table row).
    pub fn shade(&mut self, x: f32, top: f32, w: f32, h: f32, level: f32) {
        self.ops.extend([
            Op::SetFillColor { col: grey(level) },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Mm(x).into(),
                    y: Mm(A4_HEIGHT - top - h).into(),
                    width: Mm(w).into(),
                    height: Mm(h).into(),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
        ]);
    }
}

/// 和暦: `令和8年11月25日`. Dates before 平成 are given in 西暦 only.
pub fn wareki(d: Date) -> String {
    let (era, start_year) = if d >= Date::constant(2019, 5, 1) {
        ("令和", 2018)
    } else if d >= Date::constant(1989, 1, 8) {
        ("平成", 1988)
    } else {
        return seireki(d);
    };
    let n = i32::from(d.year()) - start_year;
    let year = if n == 1 {
        "元".to_string()
    } else {
        n.to_string()
    };
    format!("{era}{year}年{}月{}日", d.month(), d.day())
}

/// 西暦: `2026年11月25日`.
pub fn seireki(d: Date) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r12_1_letters_carry_the_japanese_era_date() {
        assert_eq!(wareki(Date::constant(2026, 11, 25)), "令和8年11月25日");
        assert_eq!(wareki(Date::constant(2019, 5, 1)), "令和元年5月1日");
        assert_eq!(wareki(Date::constant(2019, 4, 30)), "平成31年4月30日");
        assert_eq!(seireki(Date::constant(2026, 1, 5)), "2026年1月5日");
    }
}
