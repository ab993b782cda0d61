//! # ubx-terminal — a module's AT terminals over byte streams
//!
//! The I/O shell around the sans-IO AT core (`ubx-at`) and the module (`ubx-modem`): one
//! [`driver`] that runs a terminal over any byte stream — a TCP connection, a PTY, a serial
//! port, the console — at the UART's pace, with its data links, power and baud changes; and the
//! [`trace`] of every byte in and out, and of the module's network side, secrets masked
//! ([`mask`]). The transports of the `ubxftp` binary are
//! thin adapters around [`driver::serve`].

pub mod driver;
pub mod mask;
pub mod to_transcript;
pub mod trace;
