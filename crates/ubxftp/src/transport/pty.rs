//! An AT terminal on a pseudo-terminal, for host programs that want a serial device path.
//!
//! `openpty` gives a master (ours) and a slave (`/dev/pts/N`, the host program's). The slave is
//! put in raw mode so the line discipline neither echoes nor translates CR/LF: the module's bytes
//! reach the host unchanged. We keep our own descriptor of the slave open for the whole run: while
//! no host program has the device open, reads on the master would otherwise fail with EIO, and the
//! pseudo-terminal would vanish when the first host program closed it. With it open, a host can
//! close and reopen the path as often as it likes.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::openpty;
use nix::sys::termios::{self, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ubx_modem::Modem;
use ubx_modem::trace::Tracer;

/// An open pseudo-terminal pair.
pub struct Pty {
    master: AsyncFd<OwnedFd>,
    /// Held open on purpose; see the module documentation.
    _slave: OwnedFd,
    path: PathBuf,
    link: Option<PathBuf>,
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
                let _ = std::fs::remove_file(l);
                std::os::unix::fs::symlink(&path, l)?;
                Some(l.to_path_buf())
            }
            None => None,
        };
        // SAFETY: `pair.master` is an OwnedFd we just got from openpty; the AsyncFd owns it from
        // here on, so the descriptor stays open and the same for the AsyncFd's whole life.
        let master = unsafe { AsyncFd::register(pair.master) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Pty {
            master,
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

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(l) = &self.link {
            let _ = std::fs::remove_file(l);
        }
    }
}

impl AsyncRead for Pty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.master.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref(), unfilled).map_err(io::Error::from))
            {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.master.poll_write_ready(cx))?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
            {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Serves the pseudo-terminal for the rest of the run: one terminal whose host may come and go.
pub async fn serve(pty: Pty, modem: Modem, tracer: Option<Tracer>, pace: Option<u32>) {
    tracing::debug!(fd = pty.master.get_ref().as_raw_fd(), path = %pty.path.display(), "pty ready");
    let lines = super::paced(pace);
    if let Err(e) = ubx_modem::driver::serve_with_lines(&modem, pty, tracer.as_ref(), lines).await {
        tracing::warn!(error = %e, "pty terminal ended");
    }
}
