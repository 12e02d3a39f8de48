//! A certificate's expiry: `notAfter` of the DER certificate the server presented.

use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::db::Timestamp;

/// The instant a DER certificate expires (None when it cannot be read).
pub fn not_after(der: &[u8]) -> Option<Timestamp> {
    let cert = Certificate::from_der(der).ok()?;
    let secs = cert
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_secs();
    Timestamp::from_millis(i64::try_from(secs).ok()?.checked_mul(1000)?)
}

/// Whole days from `now` until `expiry` (negative once expired).
pub fn days_left(expiry: Timestamp, now: Timestamp) -> i64 {
    (expiry.millis() - now.millis()).div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r22_1_days_left_count_whole_days_and_go_negative_after_expiry() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("t");
        let in_10: Timestamp = "2026-01-11T12:00:00Z".parse().expect("t");
        assert_eq!(days_left(in_10, now), 10);
        assert_eq!(days_left(now, in_10), -11);
        assert_eq!(not_after(b"not a certificate"), None);
    }
}
