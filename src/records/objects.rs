//! Records' objects as access sees them (ASVS 4.2.1, X.3) and how attachments are served.
//!
//! - A patient, a document and its attachments are within a facility's reach when the facility
//!   holds a local ID for the patient or the consent in force covers it (documents: or it sent
//!   them) — the consent rules of `repo`. Handlers check them through `web::ObjectGuard`, so a
//!   missing one and one outside the scope get the same 404, and every refused read (UI and API)
//!   is an `access.denied` event whose target is the patient (the owning facility's access log
//!   shows it).
//! - Attachments and consent scans carry the content type their sender declared. They are
//!   served with it only when it is on [`SERVED_TYPES`] (types a browser shows without running
//!   anything of the file: PDF, PNG, JPEG, GIF, TIFF, plain text); anything else (HTML, SVG, XML,
//!   JavaScript, a malformed value …) as `application/octet-stream`. Always as a download
//!   (`Content-Disposition: attachment`) with `X-Content-Type-Options: nosniff`, named after the
//!   attachment's title with the extension of the type it is served with (`紹介状.txt`,
//!   `検査結果.pdf`, anything served as octet-stream `.bin`) in RFC 6266's `filename*=UTF-8''…`,
//!   beside an ASCII `filename="document-{id}-{n}.{ext}"`; nothing of the title that could act
//!   as a path or header (separators, control and bidi characters, quotes) is kept. The FHIR API
//!   returns attachments inside the Bundle's JSON (`application/fhir+json`), where the declared
//!   type is data, not a header.

use axum::http::HeaderValue;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::repo::{self, DocumentRow, PatientRow};
use crate::auth::{Owned, Owner};
use crate::db::Conn;

/// A patient as one facility sees them.
pub struct PatientRef {
    pub row: PatientRow,
    pub visible: bool,
}

impl Owned for PatientRef {
    fn owner(&self) -> Owner {
        Owner::Decided(self.visible)
    }

    fn audit_target(&self) -> String {
        format!("patient:{}", self.row.id)
    }
}

/// The patient and whether `facility_id` may see them; None when there is no such patient.
pub async fn find_patient(
    conn: &mut Conn,
    id: i64,
    facility_id: i64,
) -> sqlx::Result<Option<PatientRef>> {
    let Some(row) = repo::find_patient(conn, id).await? else {
        return Ok(None);
    };
    let visible = repo::may_see_patient(conn, id, facility_id).await?;
    Ok(Some(PatientRef { row, visible }))
}

/// A document (and, when one was asked for, its attachment) as one facility sees it.
pub struct DocumentRef {
    pub row: DocumentRow,
    pub readable: bool,
    pub attachment: Option<i64>,
}

impl Owned for DocumentRef {
    fn owner(&self) -> Owner {
        Owner::Decided(self.readable)
    }

    fn audit_target(&self) -> String {
        format!("patient:{}", self.row.patient_id)
    }

    fn audit_details(&self) -> serde_json::Value {
        json!({"document_id": self.row.id, "attachment": self.attachment})
    }
}

/// The document and whether `facility_id` may read it; None when there is no such document.
pub async fn find_document(
    conn: &mut Conn,
    id: i64,
    facility_id: i64,
    attachment: Option<i64>,
) -> sqlx::Result<Option<DocumentRef>> {
    Ok(repo::find_document(conn, id, facility_id)
        .await?
        .map(|(row, readable)| DocumentRef {
            row,
            readable,
            attachment,
        }))
}

/// Content types an attachment is served with as declared (media type without parameters).
pub const SERVED_TYPES: &[(&str, &str)] = &[
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/gif", "gif"),
    ("image/tiff", "tif"),
    ("text/plain", "txt"),
];

/// Character sets a plain-text attachment may declare; any other is served as UTF-8.
const TEXT_CHARSETS: &[&str] = &["utf-8", "shift_jis", "euc-jp", "iso-2022-jp"];

/// The `Content-Type` to serve a declared type with, and the file name extension.
pub fn served_type(declared: &str) -> (String, &'static str) {
    let mut parts = declared.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let Some((ty, ext)) = SERVED_TYPES.iter().find(|(t, _)| *t == essence) else {
        return ("application/octet-stream".into(), "bin");
    };
    if *ty == "text/plain" {
        let charset = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
            .map(|(_, v)| v.trim().trim_matches('"').to_ascii_lowercase())
            .filter(|c| TEXT_CHARSETS.contains(&c.as_str()))
            .unwrap_or_else(|| "utf-8".into());
        return (format!("text/plain; charset={charset}"), ext);
    }
    ((*ty).to_string(), ext)
}

/// A download of stored bytes: an allowed type or `application/octet-stream`, always as an
/// attachment named `{stem}.{ext}`, never sniffed.
pub fn download(bytes: Vec<u8>, declared: Option<&str>, stem: &str) -> Response {
    download_named(bytes, declared, "", stem)
}

/// Characters never taken from a title into a file name: path separators, characters Windows
/// refuses, quotes, and the invisible ones that reorder text (bidi controls), besides every
/// control character.
fn unsafe_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' | ';'
        )
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The file name of an attachment titled `title` (what the sender called it) served with the
/// extension `ext`: the title without unsafe characters, leading or trailing dots and spaces,
/// at most 100 characters, with the extension added unless it already ends with it; None
/// when nothing of it is left.
pub fn file_name(title: &str, ext: &str) -> Option<String> {
    let cleaned: String = title
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !unsafe_in_name(*c))
        .collect();
    let stem: String = cleaned
        .trim_matches(|c: char| c == '.' || c == ' ')
        .chars()
        .take(100)
        .collect();
    if stem.is_empty() {
        return None;
    }
    let suffix = format!(".{ext}");
    if stem.to_lowercase().ends_with(&suffix) && stem.len() > suffix.len() {
        Some(stem)
    } else {
        Some(format!("{stem}{suffix}"))
    }
}

/// RFC 8187 `ext-value` encoding: attr-chars as they are, every other byte as `%XX`.
fn encode_ext_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `Content-Disposition` of a download (RFC 6266): `filename="{stem}.{ext}"` (ASCII, for
/// old clients) and, when the title gives a name, `filename*=UTF-8''…` with it.
pub fn disposition(title: &str, stem: &str, ext: &str) -> String {
    let ascii: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    let mut value = format!("attachment; filename=\"{ascii}.{ext}\"");
    if let Some(name) = file_name(title, ext) {
        value.push_str(&format!("; filename*=UTF-8''{}", encode_ext_value(&name)));
    }
    value
}

/// [`download`] under a name taken from the attachment's title (e.g. `紹介状.pdf`), with
/// `{stem}.{ext}` as the ASCII fallback.
pub fn download_named(bytes: Vec<u8>, declared: Option<&str>, title: &str, stem: &str) -> Response {
    let (ct, ext) = served_type(declared.unwrap_or(""));
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let disposition = disposition(title, stem, ext);
    h.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment")),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_types_are_served_as_declared_and_everything_else_as_octet_stream() {
        assert_eq!(
            served_type("application/pdf"),
            ("application/pdf".into(), "pdf")
        );
        assert_eq!(served_type("IMAGE/PNG"), ("image/png".into(), "png"));
        assert_eq!(served_type("image/jpeg; q=1"), ("image/jpeg".into(), "jpg"));
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "",
            "application/pdf\r\nX-Evil: 1",
            "text/plain, text/html",
        ] {
            assert_eq!(
                served_type(bad),
                ("application/octet-stream".into(), "bin"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn plain_text_keeps_a_known_charset_and_defaults_to_utf8() {
        assert_eq!(served_type("text/plain").0, "text/plain; charset=utf-8");
        assert_eq!(
            served_type("text/plain; charset=Shift_JIS").0,
            "text/plain; charset=shift_jis"
        );
        assert_eq!(
            served_type("text/plain; charset=utf-7").0,
            "text/plain; charset=utf-8"
        );
    }

    #[test]
    fn a_download_is_an_attachment_that_is_never_sniffed() {
        let res = download(b"<script>".to_vec(), Some("text/html"), "document-1-1");
        let h = res.headers();
        assert_eq!(h[CONTENT_TYPE], "application/octet-stream");
        assert_eq!(
            h[CONTENT_DISPOSITION],
            "attachment; filename=\"document-1-1.bin\""
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
    }

    #[test]
    fn a_download_is_named_after_its_title_with_the_extension_of_its_type() {
        let res = download_named(b"x".to_vec(), Some("text/plain"), "紹介状", "document-11-1");
        assert_eq!(
            res.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"document-11-1.txt\"; filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6.txt"
        );
        assert_eq!(
            file_name("検査結果", "pdf").as_deref(),
            Some("検査結果.pdf")
        );
        assert_eq!(file_name("写真.JPG", "jpg").as_deref(), Some("写真.JPG"));
        assert_eq!(
            file_name("report.pdf", "pdf").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(file_name("note", "bin").as_deref(), Some("note.bin"));
    }

    #[test]
    fn a_title_never_brings_a_path_separator_or_control_character_into_the_name() {
        assert_eq!(
            file_name("../../etc/passwd", "txt").as_deref(),
            Some("etcpasswd.txt")
        );
        assert_eq!(
            file_name("a\\b\r\nContent-Type: x\u{202E}fdp.exe", "pdf").as_deref(),
            Some("ab  Content-Type xfdp.exe.pdf")
        );
        assert_eq!(file_name(" .. ", "txt"), None);
        assert_eq!(file_name("", "txt"), None);
        let d = disposition("\"; x=\"y", "document-1-2", "txt");
        assert_eq!(
            d,
            "attachment; filename=\"document-1-2.txt\"; filename*=UTF-8''x%3Dy.txt"
        );
        assert!(d.is_ascii());
    }
}
