//! CSV and .xlsx exports of exactly the filtered set of the audit log or an access log (X.2,
//! issue 15). The set is read a page of 1,000 rows at a time, newest first, by id (no OFFSET): the
//! CSV is streamed to the client page by page; the .xlsx sheet keeps only the current row in
//! memory (`web::export::Table::streaming`). Cells go through `web::export` (formula injection).

use axum::body::Body;
use axum::response::Response;

use super::render::{self, Line};
use super::repo::{self, Search};
use crate::db::{Db, Timestamp};
use crate::error::AppResult;
use crate::web::export::{Csv, SheetText, Table, attachment};

const CHUNK: i64 = 1000;

/// Which columns an export has.
#[derive(Clone, Copy)]
pub enum Layout {
    /// The audit log: every field, the seal included.
    Audit,
    /// A facility's access log of its patients' data.
    Access,
}

/// One cell of an exported row.
enum Cell {
    Number(i64),
    Date(Timestamp),
    Text(String),
}

impl Layout {
    fn head(self) -> &'static [(&'static str, f64)] {
        match self {
            // The stored fields first, as they are (the chain can be recomputed from them), in
            // the columns of earlier exports; then the same in words.
            Layout::Audit => &[
                ("番号", 9.0),
                ("日時（日本時間）", 20.0),
                ("日時（UTC）", 24.0),
                ("ログインID", 16.0),
                ("役割", 16.0),
                ("操作コード", 26.0),
                ("対象コード", 16.0),
                ("詳細（記録のまま）", 40.0),
                ("接続元", 16.0),
                ("前ハッシュ", 20.0),
                ("ハッシュ", 20.0),
                ("実行者", 28.0),
                ("操作", 28.0),
                ("対象", 30.0),
                ("詳細", 60.0),
            ],
            Layout::Access => &[
                ("日時（日本時間）", 20.0),
                ("閲覧者", 28.0),
                ("役割", 16.0),
                ("操作", 24.0),
                ("患者", 28.0),
                ("文書", 30.0),
                ("閲覧した施設", 24.0),
                ("経路", 10.0),
            ],
        }
    }

    fn cells(self, l: &Line) -> Vec<Cell> {
        let t = |s: &str| Cell::Text(s.to_string());
        let get = |label: &str| t(l.field(label).unwrap_or_default());
        match self {
            Layout::Audit => vec![
                Cell::Number(l.id),
                Cell::Date(l.at),
                t(&l.at.to_db()),
                t(&l.actor_login),
                t(&l.role),
                t(&l.action_code),
                t(&l.target_code),
                t(&l.details_raw),
                t(&l.client_addr),
                t(&l.prev_hash),
                t(&l.hash),
                t(&l.actor),
                t(&l.action),
                t(&l.target),
                t(&l.details_text()),
            ],
            Layout::Access => vec![
                Cell::Date(l.at),
                t(&l.actor),
                t(&l.role),
                t(&l.action),
                t(&l.target),
                get("文書"),
                get("施設"),
                get("経路"),
            ],
        }
    }
}

/// The next page of the set (newest first) and where the one after it starts.
async fn chunk(db: &Db, s: &mut Search) -> anyhow::Result<Vec<Line>> {
    let mut conn = db.pool().acquire().await?;
    let rows = repo::page(&mut conn, s, "id DESC", CHUNK, 0).await?;
    s.before_id = rows.last().map(|r| r.id);
    Ok(render::lines(&mut conn, rows).await?)
}

/// The set as CSV (UTF-8 with BOM), streamed a page at a time.
pub fn csv(db: Db, search: Search, layout: Layout, name: &str) -> Response {
    let mut first = Csv::new();
    let head: Vec<&str> = layout.head().iter().map(|h| h.0).collect();
    let head_bytes = first.row(head).and_then(|_| first.finish());
    struct State {
        db: Db,
        search: Search,
        head: Option<anyhow::Result<Vec<u8>>>,
        done: bool,
    }
    let state = State {
        db,
        search,
        head: Some(head_bytes),
        done: false,
    };
    let stream = futures_util::stream::unfold(state, move |mut st| async move {
        if let Some(h) = st.head.take() {
            return Some((h, st));
        }
        if st.done {
            return None;
        }
        let result = async {
            let lines = chunk(&st.db, &mut st.search).await?;
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            for l in &lines {
                let cells: Vec<String> = layout
                    .cells(l)
                    .into_iter()
                    .map(|c| match c {
                        Cell::Number(n) => n.to_string(),
                        Cell::Date(_) => l.at_text.clone(),
                        Cell::Text(s) => crate::web::export::cell(&s).into_owned(),
                    })
                    .collect();
                w.write_record(&cells)?;
            }
            Ok::<_, anyhow::Error>((lines.is_empty(), w.into_inner()?))
        }
        .await;
        match result {
            Ok((true, _)) => None,
            Ok((false, bytes)) => Some((Ok(bytes), st)),
            Err(e) => {
                tracing::error!("audit CSV export: {e:#}");
                st.done = true;
                Some((Err(e), st))
            }
        }
    });
    let stream = futures_util::StreamExt::map(stream, |r| r.map_err(std::io::Error::other));
    attachment(
        "text/csv; charset=utf-8",
        &format!("{name}.csv"),
        Body::from_stream(stream),
    )
}

/// The set as an .xlsx workbook: real date cells, set widths, the header frozen.
pub async fn xlsx(db: Db, search: Search, layout: Layout, name: &str) -> AppResult<Response> {
    let bytes = workbook(db, search, layout).await?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!("{name}.xlsx"),
        Body::from(bytes),
    ))
}

async fn workbook(db: Db, mut search: Search, layout: Layout) -> anyhow::Result<Vec<u8>> {
    let mut book = Table::streaming("ログ")?;
    let sheet = book.worksheet_from_index(0)?;
    let mut table = Table::start(sheet, layout.head())?;
    loop {
        let lines = chunk(&db, &mut search).await?;
        if lines.is_empty() {
            break;
        }
        let sheet = book.worksheet_from_index(0)?;
        for l in &lines {
            let row = table.next_row();
            for (col, c) in layout.cells(l).into_iter().enumerate() {
                let col = col as u16;
                match c {
                    Cell::Number(n) => sheet.write_number(row, col, n as f64)?,
                    Cell::Date(at) => sheet.date_time(row, col, at)?,
                    Cell::Text(s) => sheet.text(row, col, &s)?,
                };
            }
        }
    }
    Ok(book.save_to_buffer()?)
}
