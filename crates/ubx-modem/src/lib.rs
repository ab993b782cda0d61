//! stub

pub mod filesystem;
