//! `AT+UFTPC=5`: STOR (or REST and STOR) from a file of the module file system.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use ftp_client::StoreMode;
use tokio::io::AsyncWriteExt;

use crate::module::state::Shared;
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::op::Done;
use crate::services::ftp::session::{Session, failed};

/// STOR (with REST when `offset` > 0) from the module file system.
pub(super) async fn store(
    shared: &Arc<Shared>,
    session: &Session,
    local: &str,
    remote: &str,
    offset: u64,
) -> Result<Done, FtpFailure> {
    let mut reader = shared
        .fs
        .open_reader(local)
        .map_err(|e| FtpFailure::from_fs(&e))?;
    if offset > reader.len() {
        return Err(FtpFailure::LocalFile);
    }
    reader
        .seek(SeekFrom::Start(offset))
        .map_err(|_| FtpFailure::LocalFile)?;
    let mut s = session.lock().await;
    // `Resume(0)` is a plain STOR.
    let mut upload = match s.store(remote, StoreMode::Resume(offset)).await {
        Ok(u) => u,
        Err(e) => return Err(failed(shared, session, e)),
    };
    // Read on this task: a read-ahead thread was tried and gained nothing measurable on two
    // cores (docs/BENCHMARKS.md); reads from the page cache are short beside the sends.
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => {
                let _ = upload.abort().await;
                return Err(FtpFailure::LocalFile);
            }
        };
        if let Err(e) = upload.write_all(&buf[..n]).await {
            let e = upload.fail(e).await;
            return Err(failed(shared, session, e));
        }
    }
    let result = upload.finish().await;
    drop(s);
    result
        .map(|_| Done::Plain)
        .map_err(|e| failed(shared, session, e))
}
