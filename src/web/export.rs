//! Spreadsheet exports (CSV and .xlsx) that Excel cannot be tricked into evaluating
//! (ASVS 5.3.x, CWE-1236 "CSV injection"). EVERY export of the product writes its cells through
//! this module: [`Csv`] for CSV, [`SheetText`] for text cells of an .xlsx sheet.
//!
//! Rule: a cell whose text begins with `=`, `+`, `-`, `@`, a tab or a carriage return (or their
//! full-width forms `＝＋－＠`, which Japanese spreadsheet software may read the same way) gets a
//! leading `'`, so that the spreadsheet shows it as text and never runs it as a formula. The
//! apostrophe is kept in .xlsx text cells too (which Excel does not evaluate anyway), so the cell
//! stays harmless when the sheet is saved as CSV again. Numbers meant as numbers are written
//! with `write_number`, not as text.
//!
//! Sheets people read (issue 15, X.4): every .xlsx sheet sets its column widths ([`Table`] or
//! [`widths`]) and writes instants as real Excel date cells in Japan time with a date format
//! ([`SheetText::date_time`]), so that they sort and filter as dates. A large export writes its
//! sheet with [`Table::streaming`] (rows go to a temporary file as they are written) and is fed
//! a page of rows at a time.

use std::borrow::Cow;

use axum::body::Body;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::db::{Timestamp, tokyo};

/// An export as a download named `name` (an ASCII file name the caller makes).
pub fn attachment(content_type: &str, name: &str, body: impl Into<Body>) -> Response {
    (
        [
            (CONTENT_TYPE, content_type.to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// The characters that make a spreadsheet read a cell as a formula (or part of one).
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// `text` as it may appear in an exported cell: with a leading `'` when it would start a formula.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(TRIGGERS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A CSV export: UTF-8 with a BOM (so that Excel in Japan opens it correctly), every field passed
/// through [`cell`].
pub struct Csv {
    w: csv::Writer<Vec<u8>>,
}

impl Default for Csv {
    fn default() -> Self {
        Self::new()
    }
}

impl Csv {
    pub fn new() -> Self {
        Self {
            w: csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]),
        }
    }

    /// Writes one record.
    pub fn row<I, T>(&mut self, fields: I) -> anyhow::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let record: Vec<String> = fields
            .into_iter()
            .map(|f| cell(f.as_ref()).into_owned())
            .collect();
        self.w.write_record(&record)?;
        Ok(())
    }

    /// The bytes of the file.
    pub fn finish(self) -> anyhow::Result<Vec<u8>> {
        self.w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("csv: {}", e.error()))
    }
}

/// Text cells of an .xlsx sheet, passed through [`cell`]. Use these instead of `write_string`
/// (and never `write` or `write_formula` with user text).
pub trait SheetText {
    fn text(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
    ) -> Result<&mut Self, rust_xlsxwriter::XlsxError>;

    fn text_with_format(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
        format: &rust_xlsxwriter::Format,
    ) -> Result<&mut Self, rust_xlsxwriter::XlsxError>;

    /// An instant as an Excel date-time cell in Japan time, formatted [`DATE_TIME_FORMAT`].
    fn date_time(&mut self, row: u32, col: u16, at: Timestamp) -> Result<&mut Self, XlsxError>;
}

impl SheetText for rust_xlsxwriter::Worksheet {
    fn text(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
    ) -> Result<&mut Self, rust_xlsxwriter::XlsxError> {
        self.write_string(row, col, cell(text).as_ref())
    }

    fn text_with_format(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
        format: &rust_xlsxwriter::Format,
    ) -> Result<&mut Self, rust_xlsxwriter::XlsxError> {
        self.write_string_with_format(row, col, cell(text).as_ref(), format)
    }

    fn date_time(&mut self, row: u32, col: u16, at: Timestamp) -> Result<&mut Self, XlsxError> {
        self.write_datetime_with_format(row, col, excel_time(at)?, &date_time_format())
    }
}

/// The number format of date-time cells.
pub const DATE_TIME_FORMAT: &str = "yyyy-mm-dd hh:mm:ss";

pub fn date_time_format() -> Format {
    Format::new().set_num_format(DATE_TIME_FORMAT)
}

/// `at` in Japan time as an Excel date-time (Excel's cells have no time zone).
pub fn excel_time(at: Timestamp) -> Result<ExcelDateTime, XlsxError> {
    let z = at.as_jiff().to_zoned(tokyo());
    let n = |v: i8| v as u8;
    ExcelDateTime::from_ymd(z.year() as u16, n(z.month()), n(z.day()))?.and_hms(
        z.hour() as u16,
        n(z.minute()),
        z.second(),
    )
}

/// Sets the widths of the first columns, in Excel's character units.
pub fn widths(sheet: &mut Worksheet, widths: &[f64]) -> Result<(), XlsxError> {
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, *w)?;
    }
    Ok(())
}

/// One sheet of a table: a bold header row, set widths, the header frozen; rows are added one
/// at a time ([`Table::next_row`]).
pub struct Table {
    pub row: u32,
}

impl Table {
    /// Starts the table on `sheet` (widths and header first: a streaming sheet writes its
    /// columns before any row).
    pub fn start(sheet: &mut Worksheet, head: &[(&str, f64)]) -> Result<Table, XlsxError> {
        let bold = Format::new().set_bold();
        for (c, (h, w)) in head.iter().enumerate() {
            sheet.set_column_width(c as u16, *w)?;
            sheet.text_with_format(0, c as u16, h, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(Table { row: 0 })
    }

    /// A workbook whose one sheet keeps only the row being written in memory (the rest goes
    /// to a temporary file), for exports of any size.
    pub fn streaming(name: &str) -> Result<Workbook, XlsxError> {
        let mut book = Workbook::new();
        book.add_worksheet_with_constant_memory()?.set_name(name)?;
        Ok(book)
    }

    pub fn next_row(&mut self) -> u32 {
        self.row += 1;
        self.row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x2_cells_that_would_start_a_formula_get_a_leading_apostrophe() {
        for bad in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+1",
            "-1+1",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "＝1+1",
        ] {
            assert_eq!(cell(bad), format!("'{bad}"), "{bad:?}");
        }
        for fine in [
            "admin",
            "{\"a\":1}",
            "2026-11-25",
            "1.50",
            "",
            " =1",
            "a=b",
            "'=x",
        ] {
            assert_eq!(cell(fine), fine, "{fine:?}");
        }
    }

    #[test]
    fn x2_a_csv_export_neutralises_every_field_and_starts_with_a_bom() {
        let mut c = Csv::new();
        c.row(["id", "=cmd|' /C calc'!A0"]).expect("row");
        c.row(vec!["1".to_string(), "-2+3".to_string()])
            .expect("row");
        let bytes = c.finish().expect("bytes");
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = String::from_utf8(bytes[3..].to_vec()).expect("utf-8");
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("record")).collect();
        assert_eq!(&rows[0][1], "'=cmd|' /C calc'!A0");
        assert_eq!(&rows[1][1], "'-2+3");
    }
}
