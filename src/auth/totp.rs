//! TOTP (RFC 6238, 30-second steps, 6 digits, SHA-1 for authenticator compatibility) and recovery
//! codes. A code is accepted for the current step and one step either side, and never twice: the
//! last accepted step is stored per account.
//!
//! Secrets at rest (ASVS 2.9/6.4, X.1):
//! - A TOTP secret is stored sealed with XChaCha20-Poly1305 under the current key of
//!   `db.keys().totp()` (kept outside the database), as `v1:<key id>:<nonce>:<ciphertext>`
//!   (URL-safe base64, 24-byte random nonce), with the account id as associated data: a copied
//!   database without the key file reveals nothing, and a ciphertext moved to another account,
//!   altered, or read with another key does not open. [`open_secret`] reads older keys of the
//!   set too (rotation), and re-reads the key file for a key it does not hold.
//! - Recovery codes: ten of 24 characters of Crockford's base32 (120 bits each), shown grouped
//!   as `K7QX-M3PD-…`; stored only as salted argon2id hashes (`password::hash`, in the
//!   password slots, never inside a transaction) and checked with argon2's constant-time
//!   comparison against every unused code of the account.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{CryptoRng, Rng, RngCore};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use super::password::{self, Password};
use crate::db::{Key, KeySet, Timestamp};

pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

pub fn encode_secret(secret: &[u8]) -> String {
    base32_encode(secret)
}

fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn totp(secret_b32: &str, issuer: &str, account: &str) -> anyhow::Result<TOTP> {
    let secret = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("totp secret: {e:?}"))?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some(issuer.replace(':', "")),
        account.to_string(),
    )
    .map_err(|e| anyhow::anyhow!("totp: {e}"))
}

/// The `otpauth://` URL an authenticator app scans.
pub fn provisioning_url(secret_b32: &str, issuer: &str, account: &str) -> anyhow::Result<String> {
    Ok(totp(secret_b32, issuer, account)?.get_url())
}

/// The code for an instant (tests and the CLI use it; the server only checks).
pub fn code_at(secret_b32: &str, at: Timestamp) -> anyhow::Result<String> {
    Ok(totp(secret_b32, "x", "x")?.generate(at.unix_seconds().max(0) as u64))
}

/// Checks a code; returns the accepted step, refusing steps at or before `last_step`.
pub fn check(secret_b32: &str, code: &str, now: Timestamp, last_step: Option<i64>) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "x", "x").ok()?;
    let now_s = now.unix_seconds();
    let mut accepted = None;
    for skew in [-1i64, 0, 1] {
        let at = now_s + skew * 30;
        if at < 0 {
            continue;
        }
        let expected = t.generate(at as u64);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            accepted = Some(at / 30);
        }
    }
    accepted.filter(|step| last_step.is_none_or(|last| *step > last))
}

/// The version tag that starts every sealed secret.
pub const SEALED_V1: &str = "v1";

/// Why a stored TOTP secret cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Sealed with a key that the key set does not hold (a copied database, a lost key file).
    #[error("the TOTP secret is sealed with key {0}, which is not in the TOTP key set")]
    UnknownKey(String),
    /// The key is there but the secret does not open: altered, or another account's.
    #[error("the TOTP secret does not open with its key (altered or moved)")]
    Corrupt,
    /// Not a sealed value at all (a clear secret that the start-up pass has not sealed yet).
    #[error("the TOTP secret is not sealed")]
    NotSealed,
}

fn associated_data(account_id: i64) -> Vec<u8> {
    format!("rainbownet totp-secret v1 account:{account_id}").into_bytes()
}

fn cipher(key: &Key) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&(*key.bytes()).into())
}

/// Seals the base32 secret of `account_id` with `key` (the current TOTP key).
pub fn seal_secret(key: &Key, account_id: i64, secret_b32: &str) -> anyhow::Result<String> {
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = associated_data(account_id);
    let sealed = cipher(key)
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret_b32.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| anyhow::anyhow!("cannot seal a TOTP secret"))?;
    Ok(format!(
        "{SEALED_V1}:{}:{}:{}",
        key.id(),
        URL_SAFE_NO_PAD.encode(nonce),
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// The id of the key that sealed a stored secret (`None` for a value that is not sealed).
pub fn sealed_with(stored: &str) -> Option<&str> {
    let mut parts = stored.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(SEALED_V1), Some(id), Some(_), Some(_)) => Some(id),
        _ => None,
    }
}

/// Opens the stored secret of `account_id` with the key that sealed it (any key of the set).
pub fn open_secret(keys: &KeySet, account_id: i64, stored: &str) -> Result<String, SecretError> {
    let mut parts = stored.splitn(4, ':');
    let (Some(SEALED_V1), Some(id), Some(nonce), Some(sealed)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SecretError::NotSealed);
    };
    let key = keys
        .find(id)
        .ok_or_else(|| SecretError::UnknownKey(id.to_string()))?;
    let nonce: [u8; 24] = URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(SecretError::Corrupt)?;
    let sealed = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| SecretError::Corrupt)?;
    let aad = associated_data(account_id);
    let clear = cipher(&key)
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        )
        .map_err(|_| SecretError::Corrupt)?;
    String::from_utf8(clear).map_err(|_| SecretError::Corrupt)
}

/// Whether a clear value (from before secrets were sealed) is a usable base32 secret.
pub fn is_clear_secret(stored: &str) -> bool {
    !stored.is_empty()
        && sealed_with(stored).is_none()
        && totp_rs::Secret::Encoded(stored.to_string())
            .to_bytes()
            .is_ok()
}

/// Crockford's base32: no I, L, O or U, so a code read off paper is not mistyped.
const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of one recovery code: 24 × 5 = 120 bits (ASVS 2.6.2 asks for at least 112).
pub const RECOVERY_CODE_CHARS: usize = 24;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// One recovery code, grouped by four for reading: `K7QX-M3PD-…` (six groups).
pub fn new_recovery_code<R: Rng + CryptoRng>(rng: &mut R) -> String {
    let raw: Vec<u8> = (0..RECOVERY_CODE_CHARS)
        .map(|_| CROCKFORD[rng.gen_range(0..CROCKFORD.len())])
        .collect();
    raw.chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed recovery code as it is hashed: upper case, without dashes and spaces, with the
/// letters that look like digits read as those digits (I, L → 1; O → 0). `None` when it
/// cannot be a recovery code (wrong length or character), so no hash is spent on it.
pub fn normalise_recovery_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect();
    (code.len() == RECOVERY_CODE_CHARS && code.bytes().all(|b| CROCKFORD.contains(&b)))
        .then_some(code)
}

/// Ten fresh recovery codes (to show once) and their salted argon2id hashes (to store),
/// hashed in one of the password slots. Call it outside any transaction.
pub async fn new_recovery_codes() -> anyhow::Result<Vec<(String, String)>> {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| new_recovery_code(&mut rand::rngs::OsRng))
        .collect();
    password::in_slot(move || {
        codes
            .into_iter()
            .map(|code| {
                let normalised = normalise_recovery_code(&code).unwrap_or_default();
                let hash = password::hash(&Password::new(normalised))?;
                Ok((code, hash))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await?
}

/// Which of the stored unused codes (`(row id, hash)`) the typed code is, if any. Every stored
/// code is checked (no early exit), in one password slot; call it outside any transaction.
pub async fn match_recovery_code(input: &str, stored: Vec<(i64, String)>) -> Option<i64> {
    let code = normalise_recovery_code(input)?;
    let found = password::in_slot(move || {
        let typed = Password::new(code);
        let mut found = None;
        for (id, hash) in &stored {
            if password::verify(&typed, hash) && found.is_none() {
                found = Some(*id);
            }
        }
        found
    })
    .await;
    match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("recovery code check failed to run: {e:#}");
            None
        }
    }
}

/// Whether a stored recovery code hash is of the current kind (salted argon2id); older ones
/// (unsalted SHA-256 of 8 characters) are invalidated at start-up.
pub fn is_current_recovery_hash(stored: &str) -> bool {
    stored.starts_with("$argon2id$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_the_rfc_4648_vectors() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
    }

    #[test]
    fn a_code_is_accepted_once_and_within_one_step() {
        let secret = encode_secret(&new_secret());
        let now: Timestamp = "2026-11-25T00:00:10Z".parse().expect("ts");
        let code = code_at(&secret, now).expect("code");
        let step = check(&secret, &code, now, None).expect("accepted");
        assert_eq!(
            check(&secret, &code, now, Some(step)),
            None,
            "replay refused"
        );
        let later = now.plus(jiff::SignedDuration::from_secs(95));
        assert_eq!(check(&secret, &code, later, None), None, "too old");
        assert_eq!(check(&secret, "12345", now, None), None);
    }

    #[test]
    fn x1_a_sealed_secret_opens_only_for_its_account_with_its_key_and_unaltered() {
        let ring = crate::db::KeyRing::ephemeral();
        let keys = ring.totp();
        let secret = encode_secret(&new_secret());
        let sealed = seal_secret(keys.current(), 7, &secret).expect("sealed");
        assert!(sealed.starts_with(&format!("v1:{}:", keys.current().id())));
        assert!(!sealed.contains(&secret), "no clear secret in {sealed}");
        assert_eq!(sealed_with(&sealed), Some(keys.current().id()));
        assert_eq!(
            open_secret(keys, 7, &sealed).as_deref(),
            Ok(secret.as_str())
        );
        // Another account's row: the associated data differs.
        assert_eq!(open_secret(keys, 8, &sealed), Err(SecretError::Corrupt));
        // Another installation's key: the key id is unknown there.
        let other = crate::db::KeyRing::ephemeral();
        assert!(matches!(
            open_secret(other.totp(), 7, &sealed),
            Err(SecretError::UnknownKey(_))
        ));
        // A wrong key under the right id does not open either.
        let forged = sealed.replacen(keys.current().id(), other.totp().current().id(), 1);
        assert_eq!(
            open_secret(other.totp(), 7, &forged),
            Err(SecretError::Corrupt)
        );
        // One flipped character of the ciphertext or of the nonce.
        for at in [sealed.len() - 2, 25] {
            let mut bytes = sealed.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(open_secret(keys, 7, &tampered), Err(SecretError::Corrupt));
        }
        assert_eq!(open_secret(keys, 7, &secret), Err(SecretError::NotSealed));
        assert!(is_clear_secret(&secret));
        assert!(!is_clear_secret(&sealed));
    }

    #[test]
    fn x1_two_seals_of_one_secret_differ() {
        let ring = crate::db::KeyRing::ephemeral();
        let key = ring.totp().current();
        let a = seal_secret(key, 1, "JBSWY3DPEHPK3PXP").expect("sealed");
        let b = seal_secret(key, 1, "JBSWY3DPEHPK3PXP").expect("sealed");
        assert_ne!(a, b, "a fresh nonce each time");
    }

    #[test]
    fn x1_recovery_codes_carry_at_least_112_bits_and_read_forgivingly() {
        let bits = RECOVERY_CODE_CHARS as f64 * (CROCKFORD.len() as f64).log2();
        assert!(bits >= 112.0, "{bits} bits");
        let mut rng = rand::rngs::OsRng;
        let code = new_recovery_code(&mut rng);
        assert_eq!(code.len(), RECOVERY_CODE_CHARS + 5, "{code}");
        assert_eq!(code.split('-').count(), 6);
        let normalised = normalise_recovery_code(&code).expect("valid");
        assert_eq!(
            normalise_recovery_code(&code.to_lowercase().replace('-', " ")),
            Some(normalised.clone())
        );
        assert_eq!(
            normalise_recovery_code("oooo-iiii-llll-0000-1111-2222"),
            Some("000011111111000011112222".into())
        );
        assert_eq!(normalise_recovery_code("K7QX-M3PD"), None, "the old length");
        assert_eq!(normalise_recovery_code("123456"), None);
        assert_eq!(normalise_recovery_code(&"U".repeat(24)), None, "no U");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn x1_recovery_codes_are_stored_salted_and_match_only_themselves() {
        let codes = new_recovery_codes().await.expect("codes");
        assert_eq!(codes.len(), RECOVERY_CODES);
        let (code, hash) = &codes[0];
        assert!(is_current_recovery_hash(hash), "{hash}");
        assert!(!hash.contains(&normalise_recovery_code(code).expect("valid")));
        // The same code hashed again gives another value (a fresh salt).
        let again = password::hash(&Password::new(normalise_recovery_code(code).expect("ok")))
            .expect("hash");
        assert_ne!(&again, hash);
        let stored: Vec<(i64, String)> = codes
            .iter()
            .enumerate()
            .map(|(i, (_, h))| (i as i64 + 1, h.clone()))
            .collect();
        let third = codes[2].0.to_lowercase();
        assert_eq!(match_recovery_code(&third, stored.clone()).await, Some(3));
        let other = new_recovery_code(&mut rand::rngs::OsRng);
        assert_eq!(match_recovery_code(&other, stored.clone()).await, None);
        assert_eq!(match_recovery_code("123456", stored).await, None);
        assert!(!is_current_recovery_hash(&"ab".repeat(32)));
    }
}
