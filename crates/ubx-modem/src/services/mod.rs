//! The internet services: each a folder on the one [`toolkit`] they share (docs/ARCHITECTURE.md,
//! "Adding an internet service").

pub mod ftp;
pub mod http;
pub mod mqtt;
pub mod socket;
pub mod toolkit;
