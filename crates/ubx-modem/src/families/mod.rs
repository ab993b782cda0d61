//! The command families: one folder each, the commands in its `mod.rs` and its part of the
//! module state in its `state.rs`, which the module core holds ([`crate::module::state::State`]).

pub mod dns;
pub mod fs;
pub mod general;
pub mod network;
pub mod pdp;
pub mod power;
pub mod psd;
pub mod security;
pub mod sim;
