//! One reader for the forms that carry files (issue 15 item 5): the helpdesk's attachments and
//! replies, the incidents' attachments.
//!
//! - [`Upload`] is an extractor that never rejects: it reads a `multipart/form-data` body (or,
//!   for the forms that used to be plain, an urlencoded one) into its text fields and its files,
//!   and says in Japanese why it could not read all of it. The fields read before the refusal are
//!   kept, so the page can come back with the typed text (a form puts its file inputs last).
//! - Files together may hold at most [`MAX_FILE_BYTES`] — the one place of the 10 MB limit. The
//!   upload routes are registered with [`crate::web::Routes::post_upload`], which lifts axum's
//!   2 MB default body limit for them only, to [`MAX_BODY_BYTES`] (the files and the form around
//!   them); every other route keeps the 2 MB default.
//! - A file input left empty (no name, no bytes) is no file. A part without a file name but with
//!   a declared type other than `text/*` is a file, named from its type (`scan.pdf`).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;

/// The most bytes of files one upload may carry (shown to people as "10 MB").
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// The largest body an upload route reads: the files and up to 256 KiB of form around them.
pub const MAX_BODY_BYTES: usize = MAX_FILE_BYTES + 256 * 1024;

/// The route layer of the upload routes (see [`crate::web::Routes::post_upload`]).
pub fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_BODY_BYTES)
}

/// One file of an upload, as sent (the name is the browser's, not yet cleaned).
pub struct UploadedFile {
    /// The form field it came in (`file`, `files`).
    pub field: String,
    pub name: String,
    /// The declared content type (not to be trusted).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why an upload was not read completely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    NotAForm,
    Unreadable,
}

impl Refusal {
    pub fn message(self) -> String {
        match self {
            Refusal::TooLarge => format!(
                "ファイルが大きすぎます（合わせて {} MB まで）。",
                MAX_FILE_BYTES / 1024 / 1024
            ),
            Refusal::NotAForm => "フォームから送信してください（multipart/form-data）。".into(),
            Refusal::Unreadable => {
                "送信内容を読み取れませんでした。もう一度送信してください。".into()
            }
        }
    }
}

/// A form's text fields and files; `refused`: why the rest was not read.
#[derive(Default)]
pub struct Upload {
    pub fields: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
    pub refused: Option<Refusal>,
}

impl Upload {
    /// The first value of a text field ("" when absent).
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Whether a field was sent (a checked box).
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(k, _)| k == name)
    }

    /// The files, or the Japanese reason the upload was refused.
    pub fn files(self) -> Result<Vec<UploadedFile>, String> {
        match self.refused {
            Some(r) => Err(r.message()),
            None => Ok(self.files),
        }
    }

    async fn read_multipart(mut m: Multipart) -> Self {
        let mut up = Upload::default();
        let mut total = 0usize;
        loop {
            let field = match m.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return up.refuse(e.status()),
            };
            let name = field.name().unwrap_or("").to_string();
            // A part without a file name but with a declared type other than text (a script's or
            // a scanner's upload) is a file all the same, named from its type.
            let file_name = field.file_name().map(str::to_string).or_else(|| {
                field
                    .content_type()
                    .filter(|t| !t.starts_with("text/"))
                    .map(|t| format!("{name}.{}", extension_of(t)))
            });
            match file_name {
                Some(file_name) => {
                    let content_type = field.content_type().unwrap_or("").to_string();
                    let bytes = match field.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) => return up.refuse(e.status()),
                    };
                    if file_name.is_empty() && bytes.is_empty() {
                        continue;
                    }
                    total += bytes.len();
                    if total > MAX_FILE_BYTES {
                        up.refused = Some(Refusal::TooLarge);
                        return up;
                    }
                    up.files.push(UploadedFile {
                        field: name,
                        name: file_name,
                        content_type,
                        bytes,
                    });
                }
                None => match field.text().await {
                    Ok(t) => up.fields.push((name, t)),
                    Err(e) => return up.refuse(e.status()),
                },
            }
        }
        up
    }

    fn refuse(mut self, status: StatusCode) -> Self {
        self.refused = Some(if status == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::TooLarge
        } else {
            Refusal::Unreadable
        });
        self
    }
}

/// The file name extension of a declared content type (a file sent without a name).
fn extension_of(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/tiff" => "tif",
        _ => "bin",
    }
}

/// The body cut at [`MAX_BODY_BYTES`]; true: it was longer. The multipart reader reads the whole
/// body before it hands out the first field, so a body limit crossed anywhere would lose the
/// text fields before the file too; a cut body instead ends inside the file that crosses the
/// limit, and the fields before it are read.
async fn cut(req: Request) -> Result<(Request, bool), StatusCode> {
    // The CSRF layer has read the body already (up to `server.max_upload_bytes`); this bound
    // only keeps a request that came another way from being read without end.
    const MOST: usize = 64 * 1024 * 1024;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MOST)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    let longer = bytes.len() > MAX_BODY_BYTES;
    let bytes = if longer {
        bytes.slice(..MAX_BODY_BYTES)
    } else {
        bytes
    };
    Ok((Request::from_parts(parts, Body::from(bytes)), longer))
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let (req, longer) = match cut(req).await {
                Ok(cut) => cut,
                Err(r) => return Ok(Upload::default().refuse(r)),
            };
            return Ok(match Multipart::from_request(req, state).await {
                Ok(m) => {
                    let mut up = Self::read_multipart(m).await;
                    if longer {
                        // It ends inside a file: whatever the reader said, that file is too large.
                        up.refused = Some(Refusal::TooLarge);
                    }
                    up
                }
                Err(_) => Upload::default().refuse(StatusCode::BAD_REQUEST),
            });
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            return Ok(
                match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
                    Ok(axum::Form(fields)) => Upload {
                        fields,
                        ..Upload::default()
                    },
                    Err(e) => Upload::default().refuse(e.status()),
                },
            );
        }
        Ok(Upload {
            refused: Some(Refusal::NotAForm),
            ..Upload::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(content_type: &str, body: &'static str) -> Upload {
        let req = Request::builder()
            .method("POST")
            .header(CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .expect("request");
        match Upload::from_request(req, &()).await {
            Ok(up) => up,
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn an_empty_file_input_is_no_file_and_the_fields_are_kept() {
        let up = read(
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"content\"\r\n\r\nこんにちは\r\n\
             --b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n\r\n\
             --b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nA\r\n--b--\r\n",
        )
        .await;
        assert_eq!(up.field("content"), "こんにちは");
        assert!(up.refused.is_none());
        let files = up.files().expect("files");
        assert_eq!(files.len(), 1);
        assert_eq!(
            (files[0].name.as_str(), files[0].bytes.as_slice()),
            ("a.txt", b"A".as_slice())
        );
    }

    #[tokio::test]
    async fn a_plain_form_is_read_as_fields_and_anything_else_is_refused() {
        let up = read(
            "application/x-www-form-urlencoded",
            "content=%E3%81%82&internal=1",
        )
        .await;
        assert_eq!(up.field("content"), "あ");
        assert!(up.has("internal") && !up.has("method"));
        let up = read("text/plain", "content=x").await;
        assert_eq!(up.refused, Some(Refusal::NotAForm));
        assert!(
            up.files()
                .err()
                .expect("refused")
                .contains("multipart/form-data")
        );
    }

    #[test]
    fn the_too_large_message_names_the_limit() {
        assert_eq!(
            Refusal::TooLarge.message(),
            "ファイルが大きすぎます（合わせて 10 MB まで）。"
        );
    }
}
