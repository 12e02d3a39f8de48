//! All SQL of application data: [`people`] (API keys, patients, consents),
//! [`consents`] (a patient's consent history, for the consent authority), [`documents`]
//! (documents, attachments, tombstones, the access log), [`patient_docs`] (the patient page's
//! document list: searched, sorted, paged), [`reviews`] (documents held for
//! the right-patient review), and [`search`] (the FHIR search on Bundle).

mod consents;
mod documents;
mod find;
mod patient_docs;
mod people;
mod reviews;
mod scope;
mod search;

pub use consents::*;
pub use documents::*;
pub use find::*;
pub use patient_docs::*;
pub use people::*;
pub use reviews::*;
pub use search::*;
