//! The queue of single documents waiting for a group commit, one per database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::api::ApiClient;
use super::fhir::ParsedDocument;
use super::intake::{Stored, commit_group};
use super::model::Rejection;
use crate::db::Timestamp;
use crate::state::AppState;

pub struct Pending {
    pub client: ApiClient,
    pub doc: ParsedDocument,
    pub now: Timestamp,
    pub reply: tokio::sync::oneshot::Sender<Result<Stored, Rejection>>,
}

type Queue = Arc<Mutex<Vec<Pending>>>;

struct Lane {
    queue: Queue,
    leader: Arc<tokio::sync::Mutex<()>>,
}

fn lane(url: &str) -> (Queue, Arc<tokio::sync::Mutex<()>>) {
    static LANES: OnceLock<Mutex<HashMap<String, Lane>>> = OnceLock::new();
    let lanes = LANES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut lanes = lanes.lock().unwrap_or_else(|p| p.into_inner());
    let lane = lanes.entry(url.to_string()).or_insert_with(|| Lane {
        queue: Arc::new(Mutex::new(Vec::new())),
        leader: Arc::new(tokio::sync::Mutex::new(())),
    });
    (lane.queue.clone(), lane.leader.clone())
}

pub fn queue(url: &str) -> Queue {
    lane(url).0
}

/// Takes the leader lock, then commits everything queued so far (possibly nothing: an earlier
/// leader may have taken this request's document along).
pub async fn commit_waiting(state: AppState, url: String) {
    let (queue, leader) = lane(&url);
    let _leader = leader.lock().await;
    let group: Vec<Pending> = match queue.lock() {
        Ok(mut q) => std::mem::take(&mut *q),
        Err(p) => std::mem::take(&mut *p.into_inner()),
    };
    if group.is_empty() {
        return;
    }
    match commit_group(&state, &group).await {
        Ok(results) => {
            for (p, r) in group.into_iter().zip(results) {
                let _ = p.reply.send(r);
            }
        }
        Err(e) => {
            for p in group {
                let _ = p.reply.send(Err(e.clone()));
            }
        }
    }
}
