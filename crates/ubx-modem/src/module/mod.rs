//! The module core: its state behind one lock ([`state`]), the dispatch of a command to the
//! family or service that owns it ([`handler`]), the module as its users hold it ([`modem`]),
//! the model data ([`model`]), a reboot ([`reboot`]) and the faults that change the module
//! ([`field_actions`]); and the data link of a direct-link operation ([`data_link`]), which
//! the terminal driver (the `ubx-terminal` crate) carries.

pub mod data_link;
pub mod field_actions;
pub mod handler;
pub mod ids;
pub mod model;
pub mod modem;
pub mod reboot;
pub mod state;
pub(crate) mod trace;
