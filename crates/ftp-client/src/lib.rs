//! An async FTP/FTPS client on tokio and rustls.
//!
//! Built for an emulated cellular module's FTP service, but knows nothing about AT
//! commands. What it offers beyond a minimal client, and why:
//!
//! * **Exact replies.** Every failure carries either the server's reply (code and text,
//!   including codes no table knows, e.g. `522`, `534`) or a local cause
//!   ([`ErrorKind`]), and says whether the session survived
//!   ([`FtpError::session_closed`]).
//! * **Explicit FTPS with independent data protection.** `AUTH TLS`, `PBSZ 0`, then
//!   `PROT P` *or* `PROT C` ([`DataProtection`]); TLS session resumption on data
//!   connections as vsftpd and proftpd demand (see [`tls`] for the version policy).
//! * **Both data modes.** Passive (`PASV`/`EPSV`, always connecting to the control
//!   peer's address) and active (`PORT`/`EPRT`, accepting only the control peer).
//! * **Streaming with progress.** [`Download`]/[`Upload`] handles or the
//!   [`FtpSession::retrieve_to`]/[`FtpSession::store_from`] pumps with a progress
//!   callback.
//! * **Timers and limits.** Connect, reply, data-stall and session-inactivity timers;
//!   caps on reply and listing sizes; linger emulated without blocking threads.
//! * **Safety.** Arguments with CR, LF or NUL are refused before anything is sent; any
//!   bytes from a server give an error, never a panic; passwords never reach
//!   `Debug`/`Display`/logs ([`Password`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ftp_client::FtpError> {
//! use ftp_client::{ConnectOptions, FtpSession};
//!
//! let opts = ConnectOptions::new("ftp.example.com", 21, "anonymous", "guest@");
//! let mut session = FtpSession::connect(opts).await?;
//! let mut file = Vec::new();
//! let summary = session
//!     .retrieve_to("pub/readme.txt", 0, &mut file, &mut |n| println!("{n} bytes"))
//!     .await?;
//! println!("{} bytes, server said {}", summary.bytes, summary.reply);
//! session.quit().await?;
//! # Ok(()) }
//! ```

pub mod control;
pub mod data;
pub mod error;
pub mod options;
pub mod reply;
pub mod resolver;
pub mod session;
mod shared;
pub mod stream;
pub mod tickets;
pub mod tls;
pub mod transfer;

pub use control::check_arg;
pub use data::DataMode;
pub use error::{Channel, CloseReason, ErrorKind, FtpError, Result, TimeoutKind};
pub use options::{ConnectOptions, IpPreference, Limits, Linger, Password, Timeouts};
pub use reply::Reply;
pub use resolver::{BoxFuture, Resolver, StaticResolver, SystemResolver};
pub use session::{FtpSession, parse_257_path};
pub use stream::{BoxSocket, Socket, SocketLayer, SocketRole, TlsSummary};
pub use tls::{
    CertVerification, ClientIdentity, DataProtection, TlsInfo, TlsOptions, TlsVersion,
    certs_from_pem, client_connector,
};
pub use transfer::{Download, Listing, StoreMode, TransferSummary, Upload};
