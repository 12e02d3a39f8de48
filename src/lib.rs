//! rainbownet — the operations and security system of きよすレインボーネット, the regional medical
//! information network of Kiyosu City. See README.md for use and ARCHITECTURE.md for the layout.
//!
//! Shared core (imports no domain): [`config`], [`clock`], [`db`], [`error`], [`auth`], [`audit`],
//! [`calendar`], [`web`], [`pdf`]. Domains: [`accounts`], [`facilities`], [`requests`], [`portal`],
//! [`records`], [`helpdesk`], [`dashboard`]. Wiring: [`startup`], [`jobs`], [`cli`].

/// The allocator of the product (and of its tests and benchmarks, which link this crate): glibc's
/// malloc took a fifth of the server's CPU on the intake path (profile of `INGEST_PROFILE=single`,
/// issue 14), mostly freeing and coalescing the many small JSON values of each document.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod account_admin;
pub mod accounts;
pub mod audit;
pub mod audit_ui;
pub mod auth;
pub mod backup;
pub mod blobs;
pub mod calendar;
pub mod calendar_admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod facilities;
pub mod firewall;
pub mod health;
pub mod helpdesk;
pub mod i18n;
pub mod incidents;
pub mod jobs;
pub mod mail;
pub mod mail_admin;
pub mod metrics;
pub mod monitor;
pub mod notifications;
pub mod pdf;
pub mod portal;
pub mod records;
pub mod requests;
pub mod s3;
pub mod search;
pub mod startup;
pub mod state;
pub mod tls;
pub mod web;
