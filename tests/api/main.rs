//! The one integration-test binary. Every test starts the real application (see `helpers`), on
//! SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
#![allow(clippy::unwrap_used)]

mod audit;
mod audit_anchor;
mod auth;
mod backup;
mod backup_admin;
mod backup_schedule;
mod backup_targets;
mod bad_input;
mod blobs;
mod browser;
mod browser_requests;
mod dashboards;
mod dashboards_browser;
mod demo_network;
mod exports;
mod firewall;
mod helpdesk;
mod helpdesk_browser;
mod helpdesk_team;
mod helpers;
mod house;
mod incident_browser;
mod incident_contacts;
mod incidents;
mod jobs;
mod logs;
mod mail;
mod monitor_e2e;
mod monitor_engine;
mod monitor_pages;
mod multi_instance;
mod notifications;
mod objects;
mod observe;
mod platform;
mod portal;
mod portal_browser;
mod portal_requests;
mod rbac;
mod records;
mod requests;
mod secrets;
mod sessions;
mod throttle;
