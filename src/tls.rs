//! TLS for outgoing connections: rustls with the `ring` provider, installed once as the process
//! default (reqwest is built without a provider of its own, so that neither aws-lc-rs nor OpenSSL
//! is compiled). Every place that builds an HTTP client calls [`install_provider`] first;
//! `startup` and the CLI call it at start.

use std::sync::Once;

static PROVIDER: Once = Once::new();

pub fn install_provider() {
    PROVIDER.call_once(|| {
        // Err only when another default was installed first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
