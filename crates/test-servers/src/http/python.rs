//! Python's `http.server` as an independent HTTP server: what the module's HTTP client does
//! against our hyper server it should also do against a server nobody here wrote.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// How long `python3 -m http.server` gets to say it is serving.
pub const PYTHON_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// `python3 -m http.server` serving a directory on `127.0.0.1`; killed (and reaped) on drop.
///
/// It answers `GET` and `HEAD` only (anything else: `501`), with `Content-Length`, speaking
/// HTTP/1.0 (`Connection: close` after each response).
#[derive(Debug)]
pub struct PythonHttpServer {
    addr: SocketAddr,
    dir: PathBuf,
    child: Child,
    /// Its stderr: one access-log line per request.
    log: File,
    /// Its stdout, held open so that a late print cannot fail on a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
}

/// Start `python3 -u -m http.server --bind 127.0.0.1 --directory <dir> 0` and wait (at most
/// [`PYTHON_READY_TIMEOUT`]) until it prints the port it got: port 0 lets the kernel pick a free
/// one, so parallel tests never collide.
pub async fn python_http_server(dir: impl AsRef<Path>) -> io::Result<PythonHttpServer> {
    let dir = dir.as_ref().to_path_buf();
    let log = tempfile::tempfile()?;
    let mut child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&dir)
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.try_clone()?)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("spawn python3: {e}")))?;
    let stdout = child.stdout.take();
    // From here on, every return drops `server`, which kills python.
    let mut server = PythonHttpServer {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        dir,
        child,
        log,
        _stdout: None,
    };
    let stdout = stdout.ok_or_else(|| io::Error::other("python3 has no stdout pipe"))?;
    let ready = tokio::time::timeout(
        PYTHON_READY_TIMEOUT,
        tokio::task::spawn_blocking(move || read_port(stdout)),
    )
    .await;
    match ready {
        Ok(Ok(Ok((port, stdout)))) => {
            server.addr.set_port(port);
            server._stdout = Some(stdout);
            Ok(server)
        }
        Ok(Ok(Err(e))) => Err(io::Error::new(
            e.kind(),
            format!("python3 http.server: {e}; its stderr:\n{}", server.log()),
        )),
        Ok(Err(join)) => Err(io::Error::other(join)),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "python3 http.server did not start within {PYTHON_READY_TIMEOUT:?}; its stderr:\n{}",
                server.log()
            ),
        )),
    }
}

/// Read python's stdout until `Serving HTTP on 127.0.0.1 port <port> (…) ...`.
fn read_port(stdout: ChildStdout) -> io::Result<(u16, BufReader<ChildStdout>)> {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "exited before serving",
            ));
        }
        if let Some(port) = serving_port(&line) {
            return Ok((port, reader));
        }
    }
}

fn serving_port(line: &str) -> Option<u16> {
    let rest = line.strip_prefix("Serving HTTP on ")?;
    let (_, after) = rest.split_once(" port ")?;
    after.split_whitespace().next()?.parse().ok()
}

impl PythonHttpServer {
    /// The listening address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory it serves.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `http://127.0.0.1:<port><path>` (a missing leading `/` is added).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.addr)
    }

    /// The python process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What python wrote to stderr so far (its access log: one line per request).
    pub fn log(&self) -> String {
        // Positional reads: the file offset is shared with python's stderr, which must keep
        // appending where it was.
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.log.read_at(&mut buf, out.len() as u64) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for PythonHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
