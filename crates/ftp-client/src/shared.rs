//! What a session's handle, its watchdog and its transfers share: the control connection behind
//! an async lock, the session's bookkeeping, and [`Held`], one operation's exclusive use of the
//! control connection. A transfer handle ([`Download`](crate::Download), ...) keeps its `Held`
//! until `finish()`, so no other command can interleave with a transfer's final reply.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, watch};
use tokio::time::Instant;

use crate::control::Control;
use crate::data::DataMode;
use crate::error::{CloseReason, ErrorKind, FtpError, Result};
use crate::options::{Limits, Linger, Timeouts};
use crate::reply::Reply;
use crate::stream::close_with_linger;
use crate::tls::{TlsContext, TlsInfo};

pub(crate) struct Settings {
    pub(crate) data_mode: DataMode,
    pub(crate) timeouts: Timeouts,
    pub(crate) linger: Linger,
    pub(crate) limits: Limits,
    pub(crate) tls: Option<TlsContext>,
    pub(crate) socket_layer: Option<Arc<dyn crate::stream::SocketLayer>>,
}

pub(crate) struct State {
    pub(crate) last_activity: Instant,
    pub(crate) last_reply: Option<Reply>,
    pub(crate) last_data_tls: Option<TlsInfo>,
    /// Whether TLS 1.3 ticket refills are still useful (see [`tickets`](crate::tickets)).
    pub(crate) refill_tickets: bool,
}

pub(crate) struct Shared {
    pub(crate) control: Mutex<Option<Control>>,
    pub(crate) state: StdMutex<State>,
    pub(crate) closed: watch::Sender<Option<CloseReason>>,
    pub(crate) settings: Settings,
}

impl Shared {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding it; the
        // state itself (timestamps, copies of replies) is still fine to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn inactivity(&self) -> Option<Duration> {
        self.settings.timeouts.inactivity.filter(|d| !d.is_zero())
    }

    pub(crate) fn idle_expired(&self) -> bool {
        match self.inactivity() {
            Some(limit) => self.state().last_activity + limit <= Instant::now(),
            None => false,
        }
    }

    pub(crate) fn mark_closed(&self, reason: CloseReason) {
        self.closed.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.closed.borrow().clone()
    }
}

/// Exclusive use of the control connection for one operation.
pub(crate) struct Held<'a> {
    pub(crate) guard: MutexGuard<'a, Option<Control>>,
    pub(crate) shared: &'a Shared,
}

impl Held<'_> {
    pub(crate) fn ctrl(&mut self) -> Result<&mut Control> {
        let reason = self.shared.close_reason();
        self.guard.as_mut().ok_or_else(|| {
            ErrorKind::Closed(reason.unwrap_or(CloseReason::Failed("connection lost".into())))
                .into()
        })
    }

    /// Records the end of an operation: activity time, last reply, and closing the
    /// session if the error broke the control connection.
    pub(crate) fn settle<T>(&mut self, result: Result<T>) -> Result<T> {
        {
            let mut state = self.shared.state();
            state.last_activity = Instant::now();
            if let Some(ctrl) = self.guard.as_ref() {
                state.last_reply = ctrl.last_reply().cloned();
            }
        }
        match result {
            Err(e) if e.breaks_control() && !matches!(e.kind(), ErrorKind::Closed(_)) => {
                if let Some(ctrl) = self.guard.take()
                    && let Some(stream) = ctrl.into_stream()
                {
                    close_with_linger(stream, Duration::ZERO);
                }
                self.shared.mark_closed(CloseReason::Failed(e.to_string()));
                Err(e.with_session_closed())
            }
            Err(e) if matches!(e.kind(), ErrorKind::Closed(_)) => Err(e.with_session_closed()),
            other => other,
        }
    }

    /// [`settle`](Self::settle) for a known error.
    pub(crate) fn settle_err(&mut self, e: FtpError) -> FtpError {
        match self.settle::<()>(Err(e)) {
            Err(e) => e,
            Ok(()) => ErrorKind::Protocol("error vanished".into()).into(),
        }
    }

    pub(crate) fn record_data_tls(&self, info: Option<TlsInfo>) {
        self.shared.state().last_data_tls = info;
    }
}
