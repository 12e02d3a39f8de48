//! TOTP (RFC 6238, 30-second steps, 6 digits, SHA-1 for authenticator compatibility) and recovery
//! codes. A code is accepted for the current step and one step either side, and never twice: the
//! last accepted step is stored per account.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::db::Timestamp;

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

/// Ten recovery codes like `K7QX-M3PD`, and the hashes that are stored.
pub fn new_recovery_codes() -> Vec<(String, String)> {
    let mut rng = rand::rngs::OsRng;
    (0..10)
        .map(|_| {
            let raw = super::credentials::generate_password(&mut rng).to_uppercase();
            let code = format!("{}-{}", &raw[..4], &raw[4..]);
            let hash = recovery_hash(&code);
            (code, hash)
        })
        .collect()
}

pub fn recovery_hash(code: &str) -> String {
    let normalised: String = code
        .trim()
        .to_uppercase()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .collect();
    hex::encode(Sha256::digest(normalised.as_bytes()))
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
    fn recovery_codes_are_compared_without_case_or_dashes() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let (code, hash) = &codes[0];
        assert_eq!(&recovery_hash(&code.to_lowercase().replace('-', "")), hash);
    }
}
