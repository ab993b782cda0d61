//! An AT terminal on a real serial port, with the host's DTR line.
//!
//! ubxftp on a PC's serial port plays the module (the DCE) behind a null-modem cable, which
//! wires the host's DTR to this port's DSR input. [`DtrWatch`] samples DSR every
//! [`DTR_POLL`] while the port is read and reports changes to the driver, so a host that drops
//! DTR under `AT&D1`/`AT&D2` leaves data mode as on the module (docs/FIDELITY.md).
//!
//! `AT+IPR=<rate>` changes the port's rate once its `OK` has left the port, as the module does:
//! a driver that sends `AT+IPR=921600` switches its own rate and sends `AT` again.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};
use ubx_modem::Modem;
use ubx_terminal::trace::Tracer;

/// A serial port's rate without `--baud` (the drivers' common default).
pub const DEFAULT_BAUD: u32 = 115_200;

/// How often the DTR line (our DSR) is sampled.
pub const DTR_POLL: Duration = Duration::from_millis(20);

pub fn open(dev: &str, baud: u32) -> tokio_serial::Result<SerialStream> {
    tokio_serial::new(dev, baud).open_native_async()
}

pub async fn serve(port: SerialStream, modem: Modem, tracer: Option<Tracer>) {
    let (port, dtr, baud) = DtrWatch::new(port);
    // The port's own rate paces it: no pacing on top.
    let lines = ubx_terminal::driver::HostLines {
        dtr: Some(dtr),
        baud: Some(baud),
        pace: None,
    };
    if let Err(e) =
        ubx_terminal::driver::serve_with_lines(&modem, port, tracer.as_ref(), lines).await
    {
        tracing::warn!(error = %e, "serial terminal ended");
    }
}

/// A serial port that reports its DSR input (the host's DTR) while it is read, and takes the
/// rate `AT+IPR` asks for.
pub struct DtrWatch {
    port: SerialStream,
    ticks: tokio::time::Interval,
    dtr: watch::Sender<bool>,
    baud: watch::Receiver<u32>,
}

impl DtrWatch {
    /// The port, its DTR line, and where the driver sends a new rate.
    pub fn new(mut port: SerialStream) -> (DtrWatch, watch::Receiver<bool>, watch::Sender<u32>) {
        // A port that cannot tell (no modem lines) counts as DTR on, and never drops.
        let on = port.read_data_set_ready().unwrap_or(true);
        let (dtr, rx) = watch::channel(on);
        let (baud_tx, baud) = watch::channel(port.baud_rate().unwrap_or(0));
        let mut ticks = tokio::time::interval(DTR_POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        (
            DtrWatch {
                port,
                ticks,
                dtr,
                baud,
            },
            rx,
            baud_tx,
        )
    }

    /// Applies a rate the driver sent (after flushing the `OK` before it).
    fn follow_rate(&mut self) {
        if self.baud.has_changed().unwrap_or(false) {
            let rate = *self.baud.borrow_and_update();
            // The driver flushed the OK before sending the rate, and a serial port's flush is
            // tcdrain (mio-serial): the OK has left the wire at the old rate.
            match self.port.set_baud_rate(rate) {
                Ok(()) => tracing::info!(rate, "serial port rate changed"),
                Err(e) => tracing::warn!(rate, error = %e, "serial port rate not changed"),
            }
        }
    }

    fn sample(&mut self, cx: &mut Context<'_>) {
        while self.ticks.poll_tick(cx).is_ready() {
            if let Ok(on) = self.port.read_data_set_ready() {
                self.dtr
                    .send_if_modified(|old| std::mem::replace(old, on) != on);
            }
        }
    }
}

impl AsyncRead for DtrWatch {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.follow_rate();
        // The tick's waker keeps this read polled every DTR_POLL even when no byte arrives.
        this.sample(cx);
        Pin::new(&mut this.port).poll_read(cx, buf)
    }
}

impl AsyncWrite for DtrWatch {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.follow_rate();
        Pin::new(&mut this.port).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().port).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().port).poll_shutdown(cx)
    }
}
