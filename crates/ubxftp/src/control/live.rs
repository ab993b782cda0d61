//! `GET /trace?since=<t>[&follow=1]`: the module's `--trace` file as JSON lines
//! (`application/x-ndjson`), read from the file as it is written, so nothing of it is held in
//! memory but one line and one batch per answer.
//!
//! The answer is the header line, then the records with `t` greater than `since` (0 when
//! absent) that the file holds; with `follow=1` it stays open and sends every record written
//! after, in the order written (a held secret line can come with an earlier `t`: docs/TRACE.md).
//! At most [`MAX_TRACE_STREAMS`] answers run at once (`503` past it), each also one of the
//! server's connections.
//!
//! `GET /trace/rows` is the same stream as the page draws it: the header as
//! `{"tool":…,"unix_us":…}`, then each record as its row (`crate::trace_cmd::describe`), and
//! `GET /view` is the page ([`crate::trace_cmd::page`]) that follows it.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::body::{Bytes, Frame};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use ubx_terminal::trace::Tracer;

use super::guard::json_error;
use crate::trace_cmd::describe::Describer;
use crate::trace_cmd::page;

/// Most `/trace` answers at once: each may stay open as long as its client wants.
pub const MAX_TRACE_STREAMS: usize = 4;

/// A longer line (none the tracer writes: a held line is cut at 8 KiB) is skipped.
const MAX_LINE: usize = 1 << 20;

/// Lines are sent in batches of about this many bytes.
const BATCH: usize = 32 * 1024;

/// A module's trace, as the API reads it.
pub struct TraceFeed {
    path: PathBuf,
    written: watch::Receiver<u64>,
    streams: Arc<Semaphore>,
}

impl TraceFeed {
    pub fn new(tracer: &Tracer) -> TraceFeed {
        TraceFeed {
            path: tracer.path().to_path_buf(),
            written: tracer.subscribe(),
            streams: Arc::new(Semaphore::new(MAX_TRACE_STREAMS)),
        }
    }
}

/// What the query asks: `since` and `follow`.
fn query(uri: &Uri) -> Result<(u64, bool), String> {
    let mut since = 0;
    let mut follow = false;
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "since" => {
                since = value.parse().map_err(|_| {
                    format!(
                        "since: {} is not a time in microseconds (0 or more)",
                        super::guard::quote_prefix(value, 32)
                    )
                })?
            }
            "follow" => {
                follow = match value {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => return Err("follow: 1 or 0".into()),
                }
            }
            _ => {}
        }
    }
    Ok((since, follow))
}

/// The answer of `/trace`, `/trace/rows` and `/view` for a module started without `--trace`.
fn no_trace() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "this module has no trace: start it with --trace FILE",
    )
}

/// How the records go out: as written (`/trace`) or as the page's rows (`/trace/rows`).
pub enum As {
    Records,
    Rows,
}

/// The page that follows `rows_url`, for `GET /view` (and `/modems/{id}/view`). It is served
/// without the token (a browser's navigation cannot send one), so it holds nothing of the
/// module: not even the trace's name. The rows it fetches need the token.
pub fn view(feed: Option<&TraceFeed>, title: &str, rows_url: &str) -> Response {
    if feed.is_none() {
        return no_trace();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        [(
            header::CONTENT_SECURITY_POLICY,
            page::content_security_policy("'self'") + "; frame-ancestors 'none'",
        )],
        page::live(title, rows_url),
    )
        .into_response()
}

/// The answer to `GET /trace` (`/trace/rows`: `form`) for `feed`.
pub async fn answer(feed: Option<&TraceFeed>, uri: &Uri, form: As) -> Response {
    let Some(feed) = feed else {
        return no_trace();
    };
    let (since, follow) = match query(uri) {
        Ok(q) => q,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, e),
    };
    let Ok(permit) = feed.streams.clone().try_acquire_owned() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many trace streams ({MAX_TRACE_STREAMS} at once): close one first"),
        );
    };
    let mut written = feed.written.clone();
    // Seen now: a record written from here on wakes the follower, and any written before is
    // in the file already.
    written.borrow_and_update();
    let file = match tokio::fs::File::open(&feed.path).await {
        Ok(f) => f,
        Err(e) => {
            return json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the trace file: {e}"),
            );
        }
    };
    let (tx, rx) = mpsc::channel(4);
    let tail = Tail {
        reader: BufReader::with_capacity(64 * 1024, file),
        line: Vec::new(),
        skipping: false,
    };
    let rows = match form {
        As::Records => None,
        As::Rows => Some(Describer::default()),
    };
    let stream = Stream {
        since,
        follow,
        rows,
    };
    tokio::spawn(feed_lines(tail, stream, written, tx, permit));
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Body::new(Lines(rx)),
    )
        .into_response()
}

/// The `t` of a record line as the tracer writes it (`{"t":123,…`); `None` for the header.
fn time_of(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"t\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// Reads whole lines of the file as they come.
struct Tail {
    reader: BufReader<tokio::fs::File>,
    /// The line being read (a partial one stays here until its end is written).
    line: Vec<u8>,
    /// The line being read is too long: dropped up to its end.
    skipping: bool,
}

impl Tail {
    /// The next whole line, `None` at the end of what is written so far.
    async fn next(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !self.skipping {
                self.line.extend_from_slice(&buf[..take]);
                if self.line.len() > MAX_LINE {
                    self.line.clear();
                    self.skipping = true;
                }
            }
            self.reader.consume(take);
            if end {
                let was_skipping = std::mem::replace(&mut self.skipping, false);
                let line = std::mem::take(&mut self.line);
                if !was_skipping {
                    return Ok(Some(line));
                }
            }
        }
    }
}

/// What one answer sends.
struct Stream {
    since: u64,
    follow: bool,
    /// The page's rows instead of the records.
    rows: Option<Describer>,
}

impl Stream {
    /// Adds `line` (a record, or the header) to `batch` as this stream sends it.
    fn push(&mut self, line: &[u8], batch: &mut Vec<u8>) {
        let Some(describer) = &mut self.rows else {
            batch.extend_from_slice(line);
            return;
        };
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else {
            return;
        };
        let out = match record["t"].as_u64() {
            Some(t) => describer.describe(&record).row(t, record["m"].as_u64()),
            None => serde_json::json!({"tool": record["tool"], "unix_us": record["unix_us"]}),
        };
        batch.extend_from_slice(out.to_string().as_bytes());
        batch.push(b'\n');
    }
}

/// Sends the lines of `tail` to `tx`: those past `since` that are there, then (`follow`) each
/// one written after, until the client goes.
async fn feed_lines(
    mut tail: Tail,
    mut stream: Stream,
    mut written: watch::Receiver<u64>,
    tx: mpsc::Sender<Bytes>,
    _permit: OwnedSemaphorePermit,
) {
    let mut history = true;
    loop {
        let mut batch = Vec::new();
        loop {
            let line = match tail.next().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %e, "trace stream: read failed");
                    return;
                }
            };
            if !history || time_of(&line).is_none_or(|t| t > stream.since) {
                stream.push(&line, &mut batch);
            }
            if batch.len() >= BATCH && tx.send(std::mem::take(&mut batch).into()).await.is_err() {
                return;
            }
        }
        if !batch.is_empty() && tx.send(batch.into()).await.is_err() {
            return;
        }
        if !stream.follow {
            return;
        }
        history = false;
        tokio::select! {
            changed = written.changed() => if changed.is_err() { return },
            () = tx.closed() => return,
        }
    }
}

/// A body of the chunks a [`feed_lines`] task sends; it ends when the task does.
struct Lines(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_and_the_time_of_a_line() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(query(&uri("/trace")), Ok((0, false)));
        assert_eq!(query(&uri("/trace?since=15&follow=1")), Ok((15, true)));
        assert!(query(&uri("/trace?since=-1")).is_err());
        assert!(query(&uri("/trace?follow=yes")).is_err());
        assert_eq!(time_of(b"{\"t\":1503,\"m\":1}\n"), Some(1503));
        assert_eq!(time_of(b"{\"k\":\"trace\",\"v\":1}\n"), None);
    }
}
