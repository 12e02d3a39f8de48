//! The site-wide notice.

use axum::http::Extensions;

/// A notice every page shows at its top (e.g. a maintenance window in progress). A domain's
/// middleware inserts it as a request extension (`Page` reads it) and as a response extension
/// (the error page reads it), so `web` stays domain-free.
#[derive(Clone, Debug)]
pub struct SiteBanner(pub String);

impl SiteBanner {
    /// Adds `text` to the banner already there (several domains may have something to say:
    /// a maintenance window and the read-only mode of a backup), once.
    pub fn add(extensions: &mut Extensions, text: &str) {
        let joined = match extensions.get::<SiteBanner>() {
            Some(b) if b.0.split("　／　").any(|part| part == text) => return,
            Some(b) => format!("{}　／　{text}", b.0),
            None => text.to_string(),
        };
        extensions.insert(SiteBanner(joined));
    }
}
