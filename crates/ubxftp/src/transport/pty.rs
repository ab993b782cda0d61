//! An AT terminal on a pseudo-terminal, for host programs that want a serial device path.
//!
//! `openpty` gives a master (ours) and a slave (`/dev/pts/N`, the host program's). The slave is
//! put in raw mode so the line discipline neither echoes nor translates CR/LF: the module's bytes
//! reach the host unchanged. We keep our own descriptor of the slave open for the whole run: while
//! no host program has the device open, reads on the master would otherwise fail with EIO, and the
//! pseudo-terminal would vanish when the first host program closed it. With it open, a host can
//! close and reopen the path as often as it likes.
//!
//! Each PTY's terminal runs on a thread of its own, which sleeps in `poll` on the master between
//! commands ([`super::fd_executor`] says why: it makes a round trip as fast as a blocking echo).
//! The master is non-blocking; a read or write that would block tells the executor, through
//! [`Wants`], what to wait for.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::openpty;
use nix::sys::termios::{self, SetArg};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use ubx_modem::Modem;
use ubx_terminal::trace::Tracer;

use super::fd_executor::{Executor, Stopper, Wants};

/// An open pseudo-terminal pair.
pub struct Pty {
    /// The master, non-blocking; shared with the terminal's [`PtyStream`] and its executor.
    master: Arc<OwnedFd>,
    /// What a read or write on the master is waiting for.
    wants: Arc<Wants>,
    /// Held open on purpose; see the module documentation.
    _slave: OwnedFd,
    path: PathBuf,
    link: Option<PathBuf>,
}

/// The master as the terminal reads and writes it. Private: only the PTY's own executor (see
/// [`serve`]) may poll it, because its reads and writes wake nobody but that executor.
struct PtyStream {
    master: Arc<OwnedFd>,
    wants: Arc<Wants>,
}

impl Pty {
    /// Creates a raw pseudo-terminal, and a symlink to it at `link` if given.
    pub fn open(link: Option<&Path>) -> io::Result<Pty> {
        let pair = openpty(None, None)?;
        let mut attrs = termios::tcgetattr(&pair.slave)?;
        termios::cfmakeraw(&mut attrs);
        termios::tcsetattr(&pair.slave, SetArg::TCSANOW, &attrs)?;
        let path = nix::unistd::ttyname(&pair.slave)?;
        let flags = OFlag::from_bits_truncate(fcntl(&pair.master, FcntlArg::F_GETFL)?);
        fcntl(&pair.master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        let link = match link {
            Some(l) => {
                make_link(&path, l)?;
                Some(l.to_path_buf())
            }
            None => None,
        };
        Ok(Pty {
            master: Arc::new(pair.master),
            wants: Arc::default(),
            _slave: pair.slave,
            path,
            link,
        })
    }

    /// The slave device path to hand to a host program.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A symlink to the device at `link`. What is there already is replaced only if it is a
/// symlink to a pseudo-terminal (one an earlier run left); anything else is refused, so a typo
/// never replaces a file.
fn make_link(device: &Path, link: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
        Ok(meta) if meta.file_type().is_symlink() && points_at_a_pty(link) => {
            std::fs::remove_file(link)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a symlink to a pseudo-terminal: not replaced",
                    link.display()
                ),
            ));
        }
    }
    std::os::unix::fs::symlink(device, link)
}

/// Whether a symlink names a pseudo-terminal device (`/dev/pts/N`), present or gone.
fn points_at_a_pty(link: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|target| target.starts_with("/dev/pts/"))
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Only the symlink this module made, still pointing at its device.
        if let Some(l) = &self.link
            && std::fs::read_link(l).is_ok_and(|target| target == self.path)
        {
            let _ = std::fs::remove_file(l);
        }
    }
}

/// Runs `op` on the master; if it would block, tells the executor to wait for `wait`.
fn on_master<T>(
    pty: &PtyStream,
    op: impl FnOnce(&OwnedFd) -> nix::Result<T>,
    wait: fn(&Wants),
) -> Poll<io::Result<T>> {
    match op(&pty.master) {
        Ok(value) => Poll::Ready(Ok(value)),
        Err(Errno::EAGAIN) => {
            wait(&pty.wants);
            Poll::Pending
        }
        Err(e) => Poll::Ready(Err(e.into())),
    }
}

// Reads and writes are only ever polled by the PTY's own executor (see `serve`), which is woken by
// the master itself: they need no waker of their own.
impl AsyncRead for PtyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let n = ready!(on_master(
            &self,
            |fd| nix::unistd::read(fd, unfilled),
            Wants::read
        ))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for PtyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_master(&self, |fd| nix::unistd::write(fd, data), Wants::write)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Serves the pseudo-terminal for the rest of the run: one terminal whose host may come and go.
///
/// The terminal runs on a thread of its own (named after the PTY), within the current runtime.
/// This future ends when that thread does; dropping it (a shutdown aborts it) stops the thread
/// and waits a moment for it, so that the terminal is dropped on it, trace and `--pty-link`
/// symlink included, while the runtime is still there.
pub async fn serve(pty: Pty, modem: Modem, tracer: Option<Tracer>, pace: Option<u32>) {
    let executor = match Executor::new() {
        Ok(e) => e,
        Err(e) => return tracing::warn!(error = %e, "pty terminal could not start"),
    };
    let (done, finished) = oneshot::channel();
    let (gone, dropped) = std::sync::mpsc::channel::<()>();
    let _stop = StopOnDrop {
        stopper: executor.stopper(),
        dropped,
    };
    let runtime = tokio::runtime::Handle::current();
    tracing::debug!(path = %pty.path.display(), "pty ready");
    let thread = std::thread::Builder::new()
        .name(format!("pty {}", pty.path.display()))
        .spawn(move || {
            let stream = PtyStream {
                master: Arc::clone(&pty.master),
                wants: Arc::clone(&pty.wants),
            };
            let lines = super::paced(pace);
            let terminal =
                ubx_terminal::driver::serve_with_lines(&modem, stream, tracer.as_ref(), lines);
            match executor.block_on(&runtime, pty.master.as_fd(), &pty.wants, terminal) {
                Ok(Some(Err(e))) | Err(e) => tracing::warn!(error = %e, "pty terminal ended"),
                Ok(Some(Ok(()))) | Ok(None) => {}
            }
            // The terminal is gone by now; the device and its symlink go last.
            drop(pty);
            drop(gone);
            let _ = done.send(());
        });
    match thread {
        Ok(_) => {
            let _ = finished.await;
        }
        Err(e) => tracing::warn!(error = %e, "pty terminal could not start its thread"),
    }
}

/// Stops the PTY's thread when [`serve`] is dropped, and waits for it (briefly: it only has to
/// finish the poll it is in and drop the terminal).
struct StopOnDrop {
    stopper: Stopper,
    dropped: std::sync::mpsc::Receiver<()>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stopper.stop();
        let _ = self
            .dropped
            .recv_timeout(std::time::Duration::from_millis(500));
    }
}
