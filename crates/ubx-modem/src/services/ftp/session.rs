//! The FTP session the operations share: login through the toolkit's connection path, the
//! session's lookup, and what an engine error does to it.

use std::sync::Arc;
use std::time::Duration;

use ftp_client::{DataMode, FtpSession, IpPreference, Limits, Linger, Timeouts};
use tokio::sync::Mutex as AsyncMutex;

use crate::families::pdp::state::PdpType;
use crate::families::psd;
use crate::module::state::{Shared, State};
use crate::services::ftp::errors::FtpFailure;
use crate::services::ftp::profile::{FtpMode, Profile};
use crate::services::toolkit::connect::{ConnectError, Connection, TlsRequest};
use crate::services::toolkit::ending::Service;
use crate::services::toolkit::slot::ServiceSlot;

/// The FTP service, as the toolkit knows it.
pub struct Ftp;

impl Service for Ftp {
    const NAME: &'static str = "ftp";
    fn slot(state: &mut State, _instance: usize) -> &mut ServiceSlot {
        &mut state.ftp.slot
    }
}

/// A shared session.
pub type Session = Arc<AsyncMutex<FtpSession>>;

/// Closes a session politely (QUIT), whatever state it is in.
pub(crate) async fn close_session(session: Session) {
    let mut s = session.lock().await;
    let _ = s.quit().await;
}

/// The logged-in session, if its context is still up; otherwise the session is dropped.
pub(crate) fn session(shared: &Shared) -> Result<Session, FtpFailure> {
    let mut state = shared.state();
    if !psd::ftp_bearer_up(&state, shared.model) {
        if let Some(s) = state.ftp.session.take() {
            tokio::spawn(close_session(s));
            return Err(FtpFailure::NoActiveContext);
        }
        return Err(FtpFailure::NotLoggedIn);
    }
    state.ftp.session.clone().ok_or(FtpFailure::NotLoggedIn)
}

/// Turns an engine error into a failure, forgetting the session if the error closed it.
pub(crate) fn failed(shared: &Shared, session: &Session, e: ftp_client::FtpError) -> FtpFailure {
    let mut failure = FtpFailure::from_ftp(&e);
    tracing::debug!(error = %e, "FTP engine error");
    if !psd::ftp_bearer_up(&shared.state(), shared.model) {
        // The connection broke because the network took the context away (+CGEV: NW PDN
        // DEACT, a lost registration): that is the cause the module reports.
        failure = FtpFailure::NoActiveContext;
    }
    if e.session_closed() {
        forget_session(shared, session);
    }
    failure
}

/// Takes `session` out of the module state if it is still the module's session (a new login
/// may have replaced it meanwhile); returns it so the caller can close it.
pub(crate) fn forget_session(shared: &Shared, session: &Session) -> Option<Session> {
    let mut state = shared.state();
    let current = state
        .ftp
        .session
        .as_ref()
        .is_some_and(|s| Arc::ptr_eq(s, session));
    if current {
        state.ftp.session.take()
    } else {
        None
    }
}

/// Logs in with the profile as it is now; a second login starts a fresh session.
pub(crate) async fn login(shared: &Arc<Shared>) -> Result<(), FtpFailure> {
    let (profile, old) = {
        let mut state = shared.state();
        (state.ftp.profile.clone(), state.ftp.session.take())
    };
    if let Some(old) = old {
        close_session(old).await;
    }
    let opts = connect_options(shared, &profile)?;
    tracing::info!(host = %opts.host, port = opts.port, user = %opts.user, "FTP login");
    let session = FtpSession::connect(opts).await.map_err(|e| {
        tracing::info!(error = %e, "FTP login failed");
        FtpFailure::from_ftp(&e)
    })?;
    shared.state().ftp.session = Some(Arc::new(AsyncMutex::new(session)));
    Ok(())
}

/// The engine's options: the toolkit's connection for the profile's context, and the FTP
/// settings of the profile.
fn connect_options(
    shared: &Arc<Shared>,
    profile: &Profile,
) -> Result<ftp_client::ConnectOptions, FtpFailure> {
    let connection = Connection::for_service(shared, profile.cid).map_err(failure)?;
    let server = profile.server().ok_or(FtpFailure::NoServer)?;
    let host = server.trim_start_matches('[').trim_end_matches(']');
    let secure = profile.control_security.enabled || profile.data_security.enabled;
    // `+UFTP=8,1,<id>` names the security profile (`+USECPRF`); profile 0 by default.
    let tls = secure.then(|| TlsRequest {
        profile: profile
            .control_security
            .profile
            .or(profile.data_security.profile)
            .unwrap_or(0),
        server: host.to_string(),
        private_data: profile.data_security.enabled,
    });
    let user = if profile.username.is_empty() {
        "anonymous".to_string()
    } else {
        profile.username.clone()
    };
    let mut opts = connection
        .ftp_options(host, profile.port, user, profile.password.as_str(), tls)
        .map_err(failure)?;
    // The context's PDP type and the preferred protocol choose the family (chapter: IPv4v6
    // with no preference means IPv4).
    opts.ip_preference = match (connection.pdp_type, profile.preferred_protocol) {
        (PdpType::Ip, _) => IpPreference::V4Only,
        (PdpType::Ipv6, _) => IpPreference::V6Only,
        (PdpType::Ipv4v6, Some(1)) => IpPreference::PreferV6,
        (PdpType::Ipv4v6, _) => IpPreference::PreferV4,
    };
    opts.account = (!profile.account.is_empty()).then(|| profile.account.clone());
    opts.data_mode = match profile.mode {
        FtpMode::Passive => DataMode::Passive,
        FtpMode::Active => DataMode::Active { ports: None },
    };
    // The inactivity timeout is about incoming traffic (chapter: "the FTP session will not be
    // terminated in the absence of incoming traffic" when 0): a server that stops answering a
    // command or stalls a transfer for that long ends the session too.
    opts.timeouts = match profile.inactivity_timeout() {
        None => Timeouts::default(),
        Some(limit) => Timeouts {
            reply: limit,
            data_stall: Some(limit),
            inactivity: Some(limit),
            ..Timeouts::default()
        },
    };
    opts.linger = Linger {
        control: Duration::from_secs(u64::from(profile.linger_cmd)),
        data: Duration::from_secs(u64::from(profile.linger_data)),
    };
    opts.limits = Limits {
        max_listing_bytes: shared.listing_cap,
        ..Limits::default()
    };
    Ok(opts)
}

fn failure(e: ConnectError) -> FtpFailure {
    match e {
        ConnectError::NoBearer => FtpFailure::NoActiveContext,
        ConnectError::SecurityProfile => FtpFailure::SecurityProfile,
        ConnectError::Unresolved => FtpFailure::Dns,
        ConnectError::Handshake => FtpFailure::Tls,
        ConnectError::Io(_) => FtpFailure::ConnectionRefused,
    }
}
