//! The control API's HTTP server: bounded so that its clients, slow or many, never take the file
//! descriptors and the memory the AT terminals need.
//!
//! - At most [`MAX_CONNECTIONS`] connections at once. One more is accepted only to be answered
//!   `503` and closed at once, so a flood holds one descriptor at a time beyond the cap.
//! - A client has [`HEADER_TIMEOUT`] to send a request's headers, from the moment it connects or
//!   its previous answer went out: a silent or dribbling client, or an idle keep-alive
//!   connection, is closed then.
//! - Headers are read into a buffer of [`MAX_BUFFER`] bytes; the body is limited by the router.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Most control connections open at once.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection's read buffer (hyper's least): the most a request's headers may take.
const MAX_BUFFER: usize = 8192;

/// The answer past [`MAX_CONNECTIONS`].
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
content-length: 58\r\nconnection: close\r\n\r\n{\"error\":\"too many control connections: try again later\"}\n";

/// Serves `app` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, app: Router) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "control API: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            let _ = stream.try_write(BUSY);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_BUFFER);
            if let Err(e) = http.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "control connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())));
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
