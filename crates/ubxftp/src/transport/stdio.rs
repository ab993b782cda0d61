//! The console as an AT terminal, for a person typing.
//!
//! A terminal emulator sends LF when Enter is pressed and echoes typed characters itself. So when
//! stdin is a TTY its local echo is turned off (the module echoes, as `ATE1` says) and a LF is
//! passed on as CR, the module's line terminator. Piped input is passed through unchanged.

use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use nix::sys::termios::{self, LocalFlags, SetArg};
use tokio::io::{AsyncRead, ReadBuf};
use ubx_modem::Modem;
use ubx_terminal::trace::Tracer;

/// stdin with LF turned into CR.
struct ConsoleIn<R> {
    inner: R,
}

impl<R: AsyncRead + Unpin> AsyncRead for ConsoleIn<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let start = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        for b in &mut buf.filled_mut()[start..] {
            if *b == b'\n' {
                *b = b'\r';
            }
        }
        poll
    }
}

/// The console settings to put back at exit, if they were changed.
static SAVED: Mutex<Option<termios::Termios>> = Mutex::new(None);

/// Puts the console's own echo back. Called when the console terminal ends and at exit.
pub fn restore() {
    if let Some(t) = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &t);
    }
}

pub async fn serve(modem: Modem, tracer: Option<Tracer>, pace: Option<u32>) {
    let stdin = std::io::stdin();
    let saved = if stdin.is_terminal() {
        termios::tcgetattr(&stdin).ok().inspect(|t| {
            let mut quiet = t.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(t.clone());
            let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
        })
    } else {
        None
    };
    let input: Box<dyn AsyncRead + Unpin + Send> = if saved.is_some() {
        Box::new(ConsoleIn {
            inner: tokio::io::stdin(),
        })
    } else {
        Box::new(tokio::io::stdin())
    };
    let stream = tokio::io::join(input, tokio::io::stdout());
    let lines = super::paced(pace);
    if let Err(e) =
        ubx_terminal::driver::serve_with_lines(&modem, stream, tracer.as_ref(), lines).await
    {
        tracing::warn!(error = %e, "console terminal ended");
    }
    restore();
}
