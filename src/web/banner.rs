//! The site-wide notice.

/// A notice every page shows at its top (e.g. a maintenance window in progress). A domain's
/// middleware inserts it as a request extension (`Page` reads it) and as a response extension
/// (the error page reads it), so `web` stays domain-free.
#[derive(Clone, Debug)]
pub struct SiteBanner(pub String);
