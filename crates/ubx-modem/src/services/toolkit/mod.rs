//! The service toolkit: what every u-blox internet service (FTP today; sockets, HTTP and MQTT
//! next) has in common, so that each service holds only what is its own.
//!
//! | file | what it owns |
//! |---|---|
//! | [`slot`] | the per-service busy rule: one operation at a time, its task (a reboot abandons it) and the last error (`+UFTPER`, `+UHTTPER`, …) as a `(class, code)` pair from the service's own table ([`slot::LastError`]) |
//! | [`arbiter`] | the module-wide direct-link rule: one holder at a time across every service (FTP ops 6/7 today; `+USODL`, `+UHTTPC` 6/7, `+UMQTTC` 9 next), with `+FREAD` and `+ULSTFILE=0` counted against it |
//! | [`ending`] | the one way an operation ends: the fault engine told, the outcome recorded for the last-error query, the service freed, then the URCs to the terminal that asked |
//! | [`connect`] | the one path by which a service opens a connection, its steps in one order ([`route`]: `--route`; [`egress`]: `--egress`) |
//! | [`spool`] | writing a response into a module file (ubx-storage's [`ubx_storage::spool::Spool`]) |
//!
//! A service implements [`ending::Service`] (its name, where its slot is, how its result URC
//! reads) and calls these; docs/ARCHITECTURE.md has the recipe.

pub mod arbiter;
pub mod connect;
pub mod egress;
pub mod ending;
pub mod params;
pub mod route;
pub mod slot;

pub use ubx_storage::spool;
