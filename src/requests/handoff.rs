//! Letters waiting to be downloaded (issue 15, defect 2; issue 16, item 2).
//!
//! Processing requests answers with a redirect to the (now current) list instead of the PDF, so
//! the page the operator sees never shows a processed request as 受付. The PDF is handed over
//! once through a download link, for the operator who made it, for [`HOLD_MINUTES`]:
//! - It waits in the database (`letter_handoffs`), so the link works on every instance behind
//!   a balancer (no sticky sessions needed).
//! - The PDF holds initial passwords in clear, so it is stored only sealed (XChaCha20-Poly1305)
//!   under a key derived from the link's random token, and the row is found by the token's
//!   SHA-256: the database, a backup of it or another operator cannot open it without the link.
//! - The first download deletes the row in the same statement that reads it
//!   (`DELETE … RETURNING`), so two clicks on two instances cannot both get it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use jiff::SignedDuration;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::repo_handoff as repo;
use crate::db::{Db, Timestamp};

/// How long an undownloaded PDF is kept.
pub const HOLD_MINUTES: i64 = 15;

const AAD: &[u8] = b"rainbownet letter-handoff v1";

/// The row key: the token's hash (the token itself is never stored).
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn cipher(token: &str) -> XChaCha20Poly1305 {
    let key: [u8; 32] = Sha256::new()
        .chain_update(b"rainbownet letter-handoff key v1\0")
        .chain_update(token.as_bytes())
        .finalize()
        .into();
    XChaCha20Poly1305::new(&key.into())
}

/// `name` and `bytes` sealed under the token: `nonce.ciphertext`, base64url.
fn seal(token: &str, name: &str, bytes: &[u8]) -> anyhow::Result<String> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // The name is short and has no NUL; it leads, the PDF follows.
    let mut clear = Vec::with_capacity(name.len() + 1 + bytes.len());
    clear.extend_from_slice(name.as_bytes());
    clear.push(0);
    clear.extend_from_slice(bytes);
    let sealed = cipher(token)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &clear,
                aad: AAD,
            },
        )
        .map_err(|_| anyhow::anyhow!("cannot seal a letter for download"))?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

fn open(token: &str, stored: &str) -> Option<(String, Vec<u8>)> {
    let (nonce, sealed) = stored.split_once('.')?;
    let nonce: [u8; 24] = URL_SAFE_NO_PAD.decode(nonce).ok()?.try_into().ok()?;
    let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let clear = cipher(token)
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed,
                aad: AAD,
            },
        )
        .ok()?;
    let cut = clear.iter().position(|b| *b == 0)?;
    let name = String::from_utf8(clear[..cut].to_vec()).ok()?;
    Some((name, clear[cut + 1..].to_vec()))
}

/// Keeps a PDF for `owner` and returns the token of its download link.
pub async fn hold(
    db: &Db,
    owner: i64,
    name: &str,
    bytes: &[u8],
    now: Timestamp,
) -> anyhow::Result<String> {
    let mut raw = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let sealed = seal(&token, name, bytes)?;
    let until = now.plus(SignedDuration::from_mins(HOLD_MINUTES));
    let mut tx = db.begin().await?;
    repo::forget_expired(&mut tx, now).await?;
    repo::insert(&mut tx, &token_hash(&token), owner, until, &sealed).await?;
    tx.commit().await?;
    Ok(token)
}

/// Whether a download is still waiting (for the banner on the list).
pub async fn waiting(db: &Db, owner: i64, token: &str, now: Timestamp) -> anyhow::Result<bool> {
    let mut conn = db.pool().acquire().await?;
    Ok(repo::exists(&mut conn, &token_hash(token), owner, now).await?)
}

/// Takes the PDF (file name, bytes) out: a second download, on any instance, finds nothing.
pub async fn take(
    db: &Db,
    owner: i64,
    token: &str,
    now: Timestamp,
) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let mut tx = db.begin().await?;
    let stored = repo::take(&mut tx, &token_hash(token), owner, now).await?;
    tx.commit().await?;
    Ok(stored.and_then(|s| open(token, &s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue15_a_sealed_letter_opens_only_with_its_own_token() {
        let sealed = seal("tok-a", "letters.pdf", b"%PDF-1.7 secret").expect("seal");
        assert!(!sealed.contains("secret"));
        let (name, bytes) = open("tok-a", &sealed).expect("opens with its token");
        assert_eq!(name, "letters.pdf");
        assert_eq!(bytes, b"%PDF-1.7 secret");
        assert!(open("tok-b", &sealed).is_none());
        assert_ne!(token_hash("tok-a"), token_hash("tok-b"));
        assert_eq!(token_hash("tok-a").len(), 64);
    }
}
