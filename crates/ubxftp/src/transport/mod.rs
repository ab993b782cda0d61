//! Transports: thin adapters that turn a TCP connection, a pseudo-terminal, a serial port or the
//! console into a byte stream for [`ubx_modem::driver::serve`]. None of them knows anything of AT.

pub mod pty;
pub mod serial;
pub mod stdio;
pub mod tcp;
