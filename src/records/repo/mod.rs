//! All SQL of application data, in two files: [`people`] (API keys, patients, consents) and
//! [`documents`] (documents, attachments, tombstones, the access log).

mod documents;
mod people;
mod scope;

pub use documents::*;
pub use people::*;
