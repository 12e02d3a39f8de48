//! Content addresses: a blob's name is the SHA-256 of its bytes.

use sha2::{Digest, Sha256};

/// Why a read found no good blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} is missing from the store")]
    Missing(String),
    #[error("blob {0} is corrupt: its content does not match its hash")]
    Corrupt(String),
}

pub fn is_hash(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn hash_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn check_hash(hash: &str, bytes: &[u8]) -> Result<(), BlobError> {
    if hash_of(bytes) == hash {
        Ok(())
    } else {
        Err(BlobError::Corrupt(hash.to_string()))
    }
}

/// The key of a blob in a bucket (after the configured prefix): `blobs/ab/cdef…`, the same path
/// as in the local directory and in backup archives.
pub fn key_of(hash: &str) -> String {
    format!("blobs/{}/{}", &hash[..2], &hash[2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_key_is_its_local_path() {
        let h = hash_of(b"x");
        assert_eq!(key_of(&h), format!("blobs/{}/{}", &h[..2], &h[2..]));
        assert!(is_hash(&h));
        assert!(!is_hash(&h.to_uppercase()));
        assert!(!is_hash("../../etc/passwd"));
    }
}
