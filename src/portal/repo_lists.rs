//! The paged reads of the change-request and schedule lists (X.4, issue 15 item 2): searched, sorted and
//! counted in SQL instead of the 500-row cap. Split from `repo_requests.rs` to keep it short.

use super::repo_requests::{ChangeRequest, REQ_COLUMNS, WIN_COLUMNS, Window};
use crate::db::{Conn, Listed};
use crate::web::list::Order;

/// Sort keys of `/portal/requests` (public key, SQL); the default is the request time, newest
/// first.
pub const REQUEST_SORTS: &[(&str, &str)] = &[
    ("requested", "requested_at"),
    ("title", "title"),
    ("state", "state"),
];

/// The pattern `$1` ("" no search) in the title, the body or the requester's name.
const REQUEST_WHERE: &str = "$1 = '' OR LOWER(title) LIKE LOWER($1) ESCAPE '\\'
    OR LOWER(body) LIKE LOWER($1) ESCAPE '\\'
    OR LOWER(requested_by_name) LIKE LOWER($1) ESCAPE '\\'";

const REQUESTS: Listed = Listed {
    columns: REQ_COLUMNS,
    table: "portal_change_requests",
    condition: REQUEST_WHERE,
};

/// One page of change requests in `order` (the id, newest first, breaks ties).
pub async fn page_requests(
    conn: &mut Conn,
    like: &str,
    order: &Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ChangeRequest>> {
    REQUESTS
        .page(conn, like, &order.sql_clause(), limit, offset)
        .await
}

/// How many change requests [`page_requests`] pages through.
pub async fn count_requests(conn: &mut Conn, like: &str) -> sqlx::Result<i64> {
    REQUESTS.count(conn, like).await
}

/// Sort keys of `/portal/schedules` (public key, SQL); the default is the start, latest first.
pub const WINDOW_SORTS: &[(&str, &str)] = &[
    ("starts", "starts_at"),
    ("title", "title"),
    ("state", "state"),
];

/// The pattern `$1` ("" no search) in the title, the services or the reason of a window.
const WINDOW_WHERE: &str = "$1 = '' OR LOWER(title) LIKE LOWER($1) ESCAPE '\\'
    OR LOWER(services) LIKE LOWER($1) ESCAPE '\\'
    OR LOWER(reason) LIKE LOWER($1) ESCAPE '\\'";

const WINDOWS: Listed = Listed {
    columns: WIN_COLUMNS,
    table: "portal_schedules",
    condition: WINDOW_WHERE,
};

/// One page of schedule windows in `order` (the id, newest first, breaks ties).
pub async fn page_windows(
    conn: &mut Conn,
    like: &str,
    order: &Order,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Window>> {
    WINDOWS
        .page(conn, like, &order.sql_clause(), limit, offset)
        .await
}

/// How many windows [`page_windows`] pages through.
pub async fn count_windows(conn: &mut Conn, like: &str) -> sqlx::Result<i64> {
    WINDOWS.count(conn, like).await
}
