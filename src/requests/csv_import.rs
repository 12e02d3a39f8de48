//! CSV import of add requests received on paper in bulk. Columns (a header line is required):
//! `施設コード,氏名,ふりがな,職種,連絡先` (or `facility_code,name,kana,job_type,contact`).
//! UTF-8 (with or without BOM) or Shift_JIS, as Excel in Japan saves it. Every line is checked
//! first; if any line is wrong, nothing is imported and each error names its line.

use super::model::PersonData;
use crate::facilities::FacilityCode;

#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub facility_code: String,
    pub person: PersonData,
}

/// Decodes the bytes as UTF-8, else Shift_JIS; None if neither fits.
pub fn decode(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Some(s.to_string());
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    (!had_errors).then(|| text.into_owned())
}

const HEADERS: [[&str; 5]; 2] = [
    ["施設コード", "氏名", "ふりがな", "職種", "連絡先"],
    ["facility_code", "name", "kana", "job_type", "contact"],
];

/// Parses every line; returns the rows, or every error found.
pub fn parse(text: &str) -> Result<Vec<Row>, Vec<String>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut saw_header = false;
    // Line by line, so that every error names the line a person sees in the editor
    // (a field with a line break inside quotes is not expected on this form).
    for (index, text_line) in text.lines().enumerate() {
        let line = index + 1;
        if text_line.trim().is_empty() {
            continue;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text_line.as_bytes());
        let record = match reader.records().next() {
            Some(Ok(r)) => r,
            _ => {
                errors.push(format!("{line}行目: CSVとして読み取れません。"));
                continue;
            }
        };
        let fields: Vec<&str> = record.iter().map(str::trim).collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if !saw_header {
            saw_header = true;
            if !HEADERS
                .iter()
                .any(|h| fields.len() >= 4 && fields[..4] == h[..4])
            {
                errors.push(format!(
                    "{line}行目: 見出し行が必要です（{}）。",
                    HEADERS[0].join(",")
                ));
                return Err(errors);
            }
            continue;
        }
        if fields.len() < 4 || fields.len() > 5 {
            errors.push(format!(
                "{line}行目: 列の数が正しくありません（4〜5列、{}列ありました）。",
                fields.len()
            ));
            continue;
        }
        let mut line_errors = Vec::new();
        let code = FacilityCode::parse(fields[0])
            .map_err(|e| line_errors.push(e))
            .ok();
        let contact = fields.get(4).copied().unwrap_or("");
        let person = PersonData::parse(fields[1], fields[2], fields[3], contact)
            .map_err(|e| line_errors.extend(e.messages()))
            .ok();
        match (code, person, line_errors.is_empty()) {
            (Some(code), Some(person), true) => rows.push(Row {
                line,
                facility_code: code.as_str().to_string(),
                person,
            }),
            _ => errors.extend(line_errors.into_iter().map(|e| format!("{line}行目: {e}"))),
        }
    }
    if !saw_header {
        errors.push("CSVが空です。".into());
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push("取り込む行がありません。".into());
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r12_5_a_valid_csv_gives_one_row_per_line() {
        let text = "施設コード,氏名,ふりがな,職種,連絡先\n2310000002,清須 花子,きよす はなこ,看護師,内線12\n\n2310000002,春日 太郎,かすが たろう,医師\n";
        let rows = parse(text).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].person.contact, "");
    }

    #[test]
    fn r12_5_every_bad_line_is_named_and_nothing_is_returned() {
        let text = "facility_code,name,kana,job_type,contact\n123,清須 花子,きよす はなこ,看護師,\n2310000002,,Kasuga,医者,\n2310000002,清須 一郎,きよす いちろう,医師,\n";
        let errors = parse(text).expect_err("invalid");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("2行目") && e.contains("施設コード")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("3行目") && e.contains("氏名"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("3行目") && e.contains("ふりがな"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("3行目") && e.contains("職種"))
        );
        assert!(!errors.iter().any(|e| e.starts_with("4行目")));
    }

    #[test]
    fn r12_5_a_missing_header_or_empty_file_is_refused() {
        assert!(parse("2310000002,清須 花子,きよす はなこ,看護師\n").is_err());
        assert!(parse("").is_err());
        assert!(parse("施設コード,氏名,ふりがな,職種,連絡先\n").is_err());
    }

    #[test]
    fn r12_5_shift_jis_from_excel_is_understood() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("施設コード,氏名,ふりがな,職種\n2310000002,清須 花子,きよす はなこ,看護師\n");
        let text = decode(&sjis).expect("decodes");
        assert_eq!(parse(&text).expect("valid").len(), 1);
        assert!(
            decode(&[0x81, 0x20, 0x81]).is_none(),
            "neither UTF-8 nor Shift_JIS"
        );
    }
}
