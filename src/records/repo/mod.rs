//! All SQL of application data, in three files: [`people`] (API keys, patients, consents),
//! [`consents`] (a patient's consent history, for the consent authority) and [`documents`]
//! (documents, attachments, tombstones, the access log); the FHIR search is [`search`].

mod consents;
mod documents;
mod people;
mod scope;
mod search;

pub use consents::*;
pub use documents::*;
pub use people::*;
pub use search::*;
