//! Running one AT terminal over a byte stream.
//!
//! [`serve`] is the whole of a transport's work: it reads bytes from the host, feeds them to an
//! [`ubx_at::Terminal`] bound to the module, writes back what the terminal produces, delivers the
//! URCs addressed to this terminal, and wakes the terminal when a payload stalls. The PTY, serial,
//! TCP and console transports of the binary all call it with their own stream.

use std::io;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ubx_at::Terminal;

use crate::Modem;
use crate::trace::Tracer;

/// Serves one terminal until the host closes the stream (or a write fails).
pub async fn serve<S>(modem: &Modem, stream: S, tracer: Option<&Tracer>) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut port = modem.open_terminal();
    let id = port.id();
    let mut trace = tracer.map(|t| t.terminal(id));
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut term = Terminal::new();
    let mut buf = vec![0u8; 64 * 1024];
    tracing::info!(terminal = id, "terminal opened");
    let result = loop {
        let deadline = term.poll_timeout();
        tokio::select! {
            read = reader.read(&mut buf) => {
                let n = match read {
                    Ok(0) => break Ok(()),
                    Ok(n) => n,
                    Err(e) => break Err(e),
                };
                if let Some(t) = trace.as_mut() {
                    t.input(&buf[..n]);
                }
                term.receive(&buf[..n], Instant::now(), &mut port.handler);
            }
            Some(urc) = port.urcs.recv() => term.push_urc(&urc),
            () = sleep_until(deadline), if deadline.is_some() => {
                term.handle_timeout(Instant::now(), &mut port.handler);
            }
        }
        let out = term.take_output();
        if !out.is_empty() {
            if let Some(t) = trace.as_mut() {
                t.output(&out);
            }
            if let Err(e) = writer.write_all(&out).await {
                break Err(e);
            }
            if let Err(e) = writer.flush().await {
                break Err(e);
            }
        }
    };
    tracing::info!(terminal = id, "terminal closed");
    result
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(d) = deadline {
        tokio::time::sleep_until(d.into()).await;
    }
}
