//! Transports: thin adapters that turn a TCP connection, a pseudo-terminal, a serial port or the
//! console into a byte stream for [`ubx_terminal::driver::serve`]. None of them knows anything of AT.

use ubx_terminal::driver::HostLines;

/// The lines of a transport with no modem lines: pacing at `--baud`, if given.
pub fn paced(pace: Option<u32>) -> HostLines {
    HostLines {
        pace,
        ..HostLines::default()
    }
}

mod fd_executor;
pub mod pty;
pub mod serial;
pub mod stdio;
pub mod tcp;
