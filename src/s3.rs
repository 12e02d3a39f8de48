//! A small S3-compatible client shared by the backups' second target (`backup::s3`) and the
//! blob store (`blobs`): presigned requests (rusty-s3, request signing only) sent with the
//! crate's one reqwest (rustls on ring, see `tls`). No SDK: list, HEAD, PUT (one request, or a
//! multipart upload with one part in memory at a time), GET (into memory or a file), DELETE.
//!
//! Object names are relative to the client's `prefix`. Errors carry the S3 error code and
//! message and reqwest's error without its URL, never a signed URL or a key.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// How long a presigned request stays valid (covers one part on a slow line).
const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// Where a client points (its credentials apart).
#[derive(Clone, Debug)]
pub struct S3Place {
    pub endpoint: url::Url,
    pub bucket: String,
    pub region: String,
    /// `https://endpoint/bucket/key` (MinIO, moto, most self-hosted servers) rather than
    /// `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// Put before every object name (`""`, or ending in `/`).
    pub prefix: String,
}

/// An object in a listing: its name (after the prefix), size and last change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    /// As the server wrote it (RFC 3339 in listings).
    pub last_modified: String,
}

/// What a HEAD says of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    /// `Last-Modified`, when the server sent a readable one.
    pub last_modified: Option<jiff::Timestamp>,
    /// The server's `Date` (its clock at the answer).
    pub date: Option<jiff::Timestamp>,
}

impl Head {
    /// How long ago the object was last written, by the server's own clock (so neither this
    /// machine's clock nor a test clock matters); `None` when the server sent no dates.
    pub fn age(&self) -> Option<jiff::SignedDuration> {
        Some(self.date?.duration_since(self.last_modified?))
    }
}

/// An S3-compatible bucket (path-style or virtual-host URLs), through presigned requests.
pub struct S3Client {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    endpoint: String,
    http: reqwest::Client,
    part_size: u64,
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl S3Client {
    /// 16 MiB: a larger upload goes in parts of this size (S3 allows 10,000 parts: 160 GB).
    pub const DEFAULT_PART_SIZE: u64 = 16 << 20;
    /// S3's smallest part (except the last).
    pub const MIN_PART_SIZE: u64 = 5 << 20;

    pub fn new(place: &S3Place, credentials: Credentials) -> anyhow::Result<S3Client> {
        let style = if place.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let endpoint = place.endpoint.as_str().trim_end_matches('/').to_string();
        let bucket = Bucket::new(
            place.endpoint.clone(),
            style,
            place.bucket.trim().to_string(),
            place.region.trim().to_string(),
        )
        .map_err(|e| anyhow!("S3 endpoint / bucket: {e}"))?;
        let mut prefix = place.prefix.trim().trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        crate::tls::install_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| anyhow!("HTTP client: {e}"))?;
        Ok(S3Client {
            bucket,
            credentials,
            prefix,
            endpoint,
            http,
            part_size: Self::DEFAULT_PART_SIZE,
        })
    }

    /// Uploads above `bytes` go in parts of `bytes` (at least [`Self::MIN_PART_SIZE`]).
    pub fn with_part_size(mut self, bytes: u64) -> S3Client {
        self.part_size = bytes.max(Self::MIN_PART_SIZE);
        self
    }

    pub fn describe(&self) -> String {
        format!(
            "s3:{}/{}/{}",
            self.endpoint,
            self.bucket.name(),
            self.prefix
        )
    }

    fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn creds(&self) -> Option<&Credentials> {
        Some(&self.credentials)
    }

    /// Every object whose name starts with `under` (names relative to the prefix), in name order.
    pub async fn list(&self, under: &str) -> anyhow::Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let full = self.key(under);
        loop {
            let mut action = self.bucket.list_objects_v2(self.creds());
            if !full.is_empty() {
                action.with_prefix(full.as_str());
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let res = send(self.http.get(url), "list").await?;
            let body = res.bytes().await.map_err(|e| net_error(e, "list"))?;
            let page = ListObjectsV2::parse_response(&body)
                .map_err(|e| anyhow!("S3 list: unreadable answer: {e}"))?;
            for c in page.contents {
                if let Some(name) = c.key.strip_prefix(self.prefix.as_str())
                    && !name.is_empty()
                {
                    out.push(Listed {
                        name: name.to_string(),
                        size: c.size,
                        last_modified: c.last_modified,
                    });
                }
            }
            match page.next_continuation_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The object's size and last change by HEAD; `None` when it does not exist.
    pub async fn head(&self, name: &str) -> anyhow::Result<Option<Head>> {
        let key = self.key(name);
        let url = self.bucket.head_object(self.creds(), &key).sign(SIGNED_FOR);
        let res = self
            .http
            .head(url)
            .send()
            .await
            .map_err(|e| net_error(e, "HEAD"))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let res = check(res, "HEAD").await?;
        let header = |h: reqwest::header::HeaderName| {
            res.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let size = header(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| anyhow!("S3 HEAD {name}: no Content-Length"))?;
        let instant = |h| {
            header(h)
                .and_then(|v| jiff::fmt::rfc2822::parse(&v).ok())
                .map(|z| z.timestamp())
        };
        Ok(Some(Head {
            size,
            last_modified: instant(reqwest::header::LAST_MODIFIED),
            date: instant(reqwest::header::DATE),
        }))
    }

    /// Stores `body` as `name` in one PUT (for objects up to the part size).
    pub async fn put_bytes(&self, name: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let key = self.key(name);
        let url = self.bucket.put_object(self.creds(), &key).sign(SIGNED_FOR);
        send(self.http.put(url).body(body), "PUT").await?;
        Ok(())
    }

    /// Stores the local file `src` as `name`: one PUT up to the part size, else a multipart
    /// upload; then a HEAD must show the file's size. Returns the size.
    pub async fn put_file(&self, name: &str, src: &Path) -> anyhow::Result<u64> {
        let local = tokio::fs::metadata(src)
            .await
            .with_context(|| format!("{}", src.display()))?
            .len();
        if local <= self.part_size {
            let body = tokio::fs::read(src)
                .await
                .with_context(|| format!("{}", src.display()))?;
            self.put_bytes(name, body).await?;
        } else {
            self.put_multipart(name, src).await?;
        }
        match self.head(name).await? {
            Some(h) if h.size == local => Ok(local),
            Some(h) => bail!(
                "S3 {name}: {} bytes after the upload, {local} expected",
                h.size
            ),
            None => bail!("S3 {name}: missing after the upload"),
        }
    }

    async fn put_multipart(&self, name: &str, src: &Path) -> anyhow::Result<()> {
        use tokio::io::AsyncReadExt;
        let key = self.key(name);
        let url = self
            .bucket
            .create_multipart_upload(self.creds(), &key)
            .sign(SIGNED_FOR);
        let res = send(self.http.post(url), "multipart start").await?;
        let body = res
            .bytes()
            .await
            .map_err(|e| net_error(e, "multipart start"))?;
        let upload = rusty_s3::actions::CreateMultipartUpload::parse_response(&body)
            .map_err(|e| anyhow!("S3 multipart start: unreadable answer: {e}"))?;
        let upload_id = upload.upload_id().to_string();
        let parts = async {
            let mut file = tokio::fs::File::open(src)
                .await
                .with_context(|| format!("{}", src.display()))?;
            let mut etags = Vec::new();
            let mut number: u16 = 1;
            loop {
                let mut buf = Vec::with_capacity(usize::try_from(self.part_size)?);
                (&mut file)
                    .take(self.part_size)
                    .read_to_end(&mut buf)
                    .await
                    .with_context(|| format!("{}", src.display()))?;
                if buf.is_empty() {
                    break;
                }
                let url = self
                    .bucket
                    .upload_part(self.creds(), &key, number, &upload_id)
                    .sign(SIGNED_FOR);
                let res = send(self.http.put(url).body(buf), "multipart part").await?;
                let etag = res
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| anyhow!("S3 multipart part {number}: no ETag"))?
                    .to_string();
                etags.push(etag);
                number = number
                    .checked_add(1)
                    .ok_or_else(|| anyhow!("{name}: more than 65,535 parts"))?;
            }
            let action = self.bucket.complete_multipart_upload(
                self.creds(),
                &key,
                &upload_id,
                etags.iter().map(String::as_str),
            );
            let url = action.sign(SIGNED_FOR);
            let res = send(self.http.post(url).body(action.body()), "multipart end").await?;
            // S3 may answer 200 with an error document on completion.
            let text = res
                .text()
                .await
                .map_err(|e| net_error(e, "multipart end"))?;
            if text.contains("<Error>") {
                bail!("S3 multipart end:{}", s3_message(&text));
            }
            anyhow::Ok(())
        }
        .await;
        if parts.is_err() {
            let url = self
                .bucket
                .abort_multipart_upload(self.creds(), &key, &upload_id)
                .sign(SIGNED_FOR);
            let _ = self.http.delete(url).send().await;
        }
        parts
    }

    /// Copies the object `name` into the local file `dest`, chunk by chunk; returns its size.
    pub async fn get_to_file(&self, name: &str, dest: &Path) -> anyhow::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut res = self.get(name).await?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .with_context(|| format!("{}", dest.display()))?;
        let mut size = 0u64;
        while let Some(chunk) = res.chunk().await.map_err(|e| net_error(e, "GET"))? {
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(size)
    }

    /// The object in memory; `None` when it does not exist.
    pub async fn get_bytes(&self, name: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let key = self.key(name);
        let url = self.bucket.get_object(self.creds(), &key).sign(SIGNED_FOR);
        let res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| net_error(e, "GET"))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let res = check(res, "GET").await?;
        Ok(Some(
            res.bytes().await.map_err(|e| net_error(e, "GET"))?.to_vec(),
        ))
    }

    /// The GET response, for reading the body chunk by chunk (`Response::chunk`).
    pub async fn get(&self, name: &str) -> anyhow::Result<reqwest::Response> {
        let key = self.key(name);
        let url = self.bucket.get_object(self.creds(), &key).sign(SIGNED_FOR);
        send(self.http.get(url), "GET").await
    }

    /// Deletes `name`; a missing object is no error.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        let key = self.key(name);
        let url = self
            .bucket
            .delete_object(self.creds(), &key)
            .sign(SIGNED_FOR);
        let res = self
            .http
            .delete(url)
            .send()
            .await
            .map_err(|e| net_error(e, "DELETE"))?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        check(res, "DELETE").await?;
        Ok(())
    }
}

async fn send(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<reqwest::Response> {
    let res = req.send().await.map_err(|e| net_error(e, what))?;
    check(res, what).await
}

async fn check(res: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    if res.status().is_success() {
        return Ok(res);
    }
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    bail!("S3 {what}: HTTP {status}{}", s3_message(&body))
}

/// reqwest's error and its causes, without the request's URL (a presigned URL carries the
/// access key and a signature).
fn net_error(e: reqwest::Error, what: &str) -> anyhow::Error {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    anyhow!("S3 {what}: {text}")
}

/// " Code: Message" from an S3 error document (nothing else of it: some servers echo the string
/// they signed).
fn s3_message(body: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find(&close)?;
        Some(
            body[start..start + len]
                .chars()
                .take(200)
                .collect::<String>(),
        )
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (Some(c), None) => format!(" {c}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_error_shows_its_code_and_message_only() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
            <Message>The request signature we calculated does not match</Message>\
            <StringToSign>AWS4-HMAC-SHA256 secret-ish</StringToSign></Error>";
        let m = s3_message(body);
        assert_eq!(
            m,
            " SignatureDoesNotMatch: The request signature we calculated does not match"
        );
        assert!(!m.contains("StringToSign"));
    }

    #[test]
    fn an_http_date_reads_as_an_instant() {
        let z = jiff::fmt::rfc2822::parse("Tue, 01 Jul 2025 10:00:00 GMT").expect("http date");
        assert_eq!(z.timestamp().to_string(), "2025-07-01T10:00:00Z");
    }
}
