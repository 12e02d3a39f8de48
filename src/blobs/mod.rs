//! The blob store (issue 16, X.5): attachments and other large immutable files, content
//! addressed by their SHA-256, kept in a local directory (default) or an S3-compatible bucket,
//! behind the one interface [`BlobStore`]. `[blobs]` chooses ([`BlobSettings`]).
//!
//! Rules:
//! - A blob is named by the SHA-256 of its bytes: `<data_dir>/blobs/ab/cdef…` locally, the key
//!   `<s3_prefix>blobs/ab/cdef…` in the bucket (the same path as in backup archives). It never
//!   changes once written. Every read checks the hash ([`BlobError::Corrupt`]); a put checks the
//!   caller's hash and is a no-op when the blob is already there (S3: HEAD first).
//! - S3 credentials come only from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
//!   `AWS_SESSION_TOKEN`), never from the configuration file; an S3 store without them stops the
//!   start (`on_start`). Requests are presigned (rusty-s3) and sent with the crate's reqwest
//!   ([`crate::s3`], shared with the backups' second target).
//! - Writers put their blobs BEFORE the transaction that references them (never holding a
//!   write transaction across an upload) and hold [`BlobStore::writing`] until it commits; a
//!   purge holds [`BlobStore::collecting`]. That gate is per process, so with the local store one
//!   process owns a data directory.
//! - Several instances share an S3 store; a purge in one cannot see another's gate. So a purge
//!   deletes a blob only when (1) the object was last written at least `collect_grace_minutes`
//!   ago by the object store's own clock (HEAD: `Date` − `Last-Modified`), then (2) no row refers
//!   to it; and a put that finds the object older than half the grace period writes it again,
//!   renewing its age. A writer that puts and then commits within half the grace period
//!   (seconds, against a default of 60 minutes) therefore never loses its blob to a purge,
//!   except in the instant between a purge's check (2) and its DELETE — the document purge is a
//!   rare, reviewed action on year-old documents, which makes that window practically unused. An
//!   unreferenced blob younger than the grace period (a failed intake's) is left in place.
//! - `rainbownet blobs migrate --to s3` copies every local blob to the bucket, reading each back
//!   and checking its hash; it is idempotent (a blob already in the bucket is read back and
//!   checked, not sent again) and so resumable. Then the operator sets `[blobs] store = "s3"`.
//!   `--to local` copies the other way. `rainbownet blobs verify` reads every blob of the
//!   configured store and checks its hash.
//! - Backups archive the blobs of the configured store (`backup::run`); a restore writes them to
//!   `DIR/blobs` of the restored data directory (local layout, whatever the store was); with
//!   S3, `blobs migrate --to s3` then uploads them to the (new) bucket.

mod cli;
mod hash;
mod local;
mod s3_store;
mod settings;
mod store;

pub use hash::{BlobError, hash_of, is_hash, key_of};
pub use local::LocalStore;
pub use s3_store::{S3Blobs, use_credentials};
pub use settings::{BlobSettings, StoreKind};
pub use store::BlobStore;

use crate::domain::Domain;

pub fn domain() -> Domain {
    Domain::new("blobs")
        .settings::<BlobSettings>()
        .on_start(|s, _| Box::pin(check_configured(s)))
        .cli(cli::migrate())
        .cli(cli::verify())
}

/// Start-up: an S3 store must be buildable (endpoint, bucket, credentials).
async fn check_configured(state: &crate::state::AppState) -> anyhow::Result<()> {
    match BlobStore::of(state) {
        BlobStore::Broken(why) => anyhow::bail!("{why}"),
        store => {
            tracing::info!(store = %store.describe(), "blob store");
            Ok(())
        }
    }
}
