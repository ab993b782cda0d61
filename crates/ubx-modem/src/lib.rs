//! # ubx-modem — an emulated u-blox LEXI-R10 (and four other models)
//!
//! The module behind the AT terminals: its state (PDP contexts, service profiles, recorded
//! settings), and one folder per AT command family or internet service, in the shape of
//! Nordic's Serial LTE Modem:
//!
//! | file | commands |
//! |---|---|
//! | [`families::general`] | `ATI`, `+CGMI`…`+CGSN`, `+CFUN`, `+IPR`, `+CCLK`, `+CSGT`, GPIOs (`+UGPIOC`, `+UGPIOR`, `+UGPIOW`), `+UFOTASTAT`, `AT&V`, `+USIO`, `+UGPRF`, bring-up settings |
//! | [`families::sim`] | `+CPIN`, `+CIMI`, `+CCID`, `+CRSM` |
//! | [`families::network`] | `+CREG`/`+CGREG`/`+CEREG`, `+COPS`, `+CSQ`, `+UCGED`, `+CSCON` (and its reports), `+CEER`, `+UMNOPROF`, `+UBANDMASK`, `+UBANDCONF`, `+URAT` |
//! | [`families::power`] | `+CPSMS`, `+UPSMR` |
//! | [`families::security`] | `+USECMNG` (certificate store), `+USECPRF` (security profiles FTPS uses) |
//! | [`families::pdp`] | `+CGDCONT`, `+CGACT`, `+CGPADDR`, `+CGATT`, `+CGAUTH`, `+UAUTHREQ`, `+CGCONTRDP` |
//! | [`families::psd`] | `+UPSD`, `+UPSDA`, `+UPSND` (PSD profiles, on the models that have them) |
//! | [`families::dns`] | `+UDNSRN`, and the resolver the FTP service shares |
//! | [`families::fs`] | `+UDWNFILE`, `+URDFILE`, `+ULSTFILE`, … and LEXI-R10's `+FOPEN` handle set |
//! | [`services::ftp`] | `+UFTP`, `+UFTPC`, `+UFTPER` (direct link through [`module::data_link`]) |
//! | [`services::socket`] | `+USOCR`, `+USOCO`, `+USOWR`, `+USOST`, `+USORD`, `+USORF`, `+USOCL`, `+USOER`, `+USOCTL`, `+USOSO`, `+USOGO`, `+USOSEC`, `+USOLI`, `+USODL` |
//! | [`services::http`] | `+UHTTP`, `+UHTTPC`, `+UHTTPER` |
//! | [`services::mqtt`] | `+UMQTT`, `+UMQTTC`, `+UMQTTER`, `+UMQTTNV` |
//!
//! The crate is three folders, each allowed to use only those after it:
//!
//! - [`services`]: the internet services (FTP, sockets, HTTP, MQTT) on one toolkit ([`services::toolkit`]):
//!   a profile, operations that end in a URC, a last-error table, the spool into a module file,
//!   the module-wide direct-link rule, and the one path by which a service opens a connection;
//! - [`families`]: the command families above, one folder each, its state in its `state.rs`;
//! - [`module`]: the core — the state behind one lock, the dispatch of a command to its family,
//!   the model data, the data link a terminal carries.
//!
//! Field conditions — the radio link, the UART's speed, and faults — are the `ubx-field` crate,
//! under the module's sockets and terminals, so every family gets them without knowing; the
//! file system and the certificate store are the `ubx-storage` crate. docs/ARCHITECTURE.md
//! draws the layers and says where a new service goes.
//!
//! A [`module::model::Model`] (one TOML file per model in `models/`) decides which of these commands
//! exist, what test commands print and how the module frames what differs between models.
//!
//! Several terminals share one [`Modem`]: each gets a [`TerminalPort`] whose handler executes
//! commands against the shared state and whose URC channel carries what background work (DNS,
//! FTP) reports to the terminal that asked. The `ubx-terminal` crate runs a terminal over any byte
//! stream; the transports of the `ubxftp` binary are thin adapters around it.

pub mod families;
pub mod module;
pub mod services;

// The crate's face: what the binary, the tests and the benches use, by the names they know.
pub use families::{dns, fs, general, network, pdp, power, psd, security, sim};
pub use module::handler::ModemHandler;
pub use module::modem::{
    DEFAULT_FS_SIZE, DEFAULT_IMEI_SERIAL, Modem, ModemConfig, ModemError, TerminalPort,
};
pub use module::state::{Power, TerminalId};
pub use module::{data_link, model};
pub use services::ftp;
pub use ubx_field as field;
