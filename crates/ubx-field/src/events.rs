//! What a module's field reports to a trace (`--trace`, docs/TRACE.md): each connection's
//! opening, end and byte counts, each internet service's dialogue, faults that fire, link
//! changes, bearers going and coming, and reboots.
//!
//! The field is the one place every connection passes ([`super::socket::FieldSocket`]), so a
//! connection is traced by construction. The events go to one [`EventSink`] per module, attached
//! once ([`Events::attach`]); with none attached (no `--trace`) an event costs one atomic load.
//! Each event is stamped with tokio's clock when it happens, the clock a trace's terminal records
//! use too, so a paused-clock test sees them in their order and at their virtual times.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::spec::{Action, Target};

/// Where a module's events go (the trace writer implements it).
pub trait EventSink: Send + Sync {
    /// `event` happened at `at`.
    fn event(&self, at: Instant, event: &Event);
}

/// Which end opened a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// The module connected (`+USOCO`, HTTP, MQTT, FTP control, passive FTP data).
    Module,
    /// A peer connected to the module (`+USOLI`, active FTP data).
    Peer,
}

/// One thing the field saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A connection is open (its handshake is drawn from the link).
    Open {
        conn: u64,
        role: Target,
        opener: Opener,
        local: Option<SocketAddr>,
        remote: Option<SocketAddr>,
    },
    /// A connection was reset: by a fault, or because its bearer went away.
    Reset { conn: u64, cause: &'static str },
    /// A `close` or `limit` fault ended a connection early (FIN).
    Cut { conn: u64 },
    /// Bytes a connection carried, with `--trace-data`: a user's own (FTP data, `+USO*`
    /// sockets), as the module read them (`incoming`) or sent them. The sink writes them in the
    /// transcript's escapes (`data`), as a terminal's.
    Data {
        conn: u64,
        incoming: bool,
        bytes: Vec<u8>,
    },
    /// A TLS handshake on a connection succeeded: the version and suite it settled.
    Tls {
        conn: Option<u64>,
        version: String,
        suite: String,
        resumed: bool,
    },
    /// The module let go of a connection; what it moved each way.
    Closed {
        conn: u64,
        bytes_in: u64,
        bytes_out: u64,
    },
    /// A line of an internet service's dialogue: an FTP command or reply, an HTTP request line
    /// or status, an MQTT packet. Secrets are masked by whoever reports it.
    Dialogue {
        service: &'static str,
        sent: bool,
        text: String,
    },
    /// A fault fired.
    Fault {
        id: u64,
        target: Target,
        action: Action,
        /// The connection it acts on, for a socket fault.
        conn: Option<u64>,
    },
    /// The link changed (`PUT /link`).
    Link { spec: String },
    /// A PDP context went down or came up.
    Bearer {
        cid: u8,
        up: bool,
        cause: &'static str,
    },
    /// The module's power went off or came back (a reboot: a fault, `AT+CFUN=16`, …).
    Power { on: bool, cause: &'static str },
}

impl Event {
    /// The record's kind (`"k"`) and its own fields, as docs/TRACE.md lists them.
    pub fn to_json(&self) -> (&'static str, Map<String, Value>) {
        let (kind, fields) = match self {
            Event::Open {
                conn,
                role,
                opener,
                local,
                remote,
            } => (
                "net",
                json!({
                    "ev": "open",
                    "conn": conn,
                    "role": name(role),
                    "opener": match opener { Opener::Module => "module", Opener::Peer => "peer" },
                    "local": local.map(|a| a.to_string()),
                    "remote": remote.map(|a| a.to_string()),
                }),
            ),
            Event::Reset { conn, cause } => {
                ("net", json!({"ev": "reset", "conn": conn, "cause": cause}))
            }
            Event::Cut { conn } => ("net", json!({"ev": "cut", "conn": conn})),
            Event::Data {
                conn,
                incoming,
                bytes,
            } => (
                "net",
                json!({"ev": "data", "conn": conn, "dir": if *incoming { "in" } else { "out" },
                       "len": bytes.len()}),
            ),
            Event::Tls {
                conn,
                version,
                suite,
                resumed,
            } => (
                "net",
                json!({"ev": "tls", "conn": conn, "version": version, "suite": suite,
                       "resumed": resumed}),
            ),
            Event::Closed {
                conn,
                bytes_in,
                bytes_out,
            } => (
                "net",
                json!({"ev": "close", "conn": conn, "in": bytes_in, "out": bytes_out}),
            ),
            Event::Dialogue {
                service,
                sent,
                text,
            } => (
                *service,
                json!({"dir": if *sent { "sent" } else { "received" }, "text": text}),
            ),
            Event::Fault {
                id,
                target,
                action,
                conn,
            } => (
                "field",
                json!({"ev": "fault", "fault": id, "target": name(target),
                       "action": name(action), "conn": conn}),
            ),
            Event::Link { spec } => ("field", json!({"ev": "link", "spec": spec})),
            Event::Bearer { cid, up, cause } => (
                "field",
                json!({"ev": "bearer", "cid": cid, "up": up, "cause": cause}),
            ),
            Event::Power { on, cause } => {
                ("field", json!({"ev": "power", "on": on, "cause": cause}))
            }
        };
        let mut map = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        map.retain(|_, v| !v.is_null());
        (kind, map)
    }
}

/// A value serialized as its serde name (`ftp-data`, `reset`).
fn name<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A module's event sink, attached at most once.
#[derive(Default)]
pub struct Events {
    sink: OnceLock<Arc<dyn EventSink>>,
    /// The sink wants the bytes of user connections too (`--trace-data`).
    contents: AtomicBool,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("attached", &self.sink.get().is_some())
            .finish()
    }
}

impl Events {
    /// Sends this module's events to `sink` from now on; `false` if one was attached already
    /// (it stays).
    pub fn attach(&self, sink: Arc<dyn EventSink>) -> bool {
        self.sink.set(sink).is_ok()
    }

    /// Whether events are recorded (a reporter with work to do first may skip it).
    pub fn on(&self) -> bool {
        self.sink.get().is_some()
    }

    /// From now on, the bytes of user connections are recorded too (`--trace-data`).
    pub fn record_contents(&self) {
        self.contents.store(true, Ordering::Relaxed);
    }

    /// Whether a connection's bytes are recorded ([`Event::Data`]).
    pub fn contents(&self) -> bool {
        self.contents.load(Ordering::Relaxed) && self.on()
    }

    /// Records `event` now, if a sink is attached.
    pub fn emit(&self, event: Event) {
        if let Some(sink) = self.sink.get() {
            sink.event(Instant::now(), &event);
        }
    }

    /// A line of `service`'s dialogue (built only when recorded).
    pub fn dialogue(&self, service: &'static str, sent: bool, text: impl FnOnce() -> String) {
        if self.on() {
            self.emit(Event::Dialogue {
                service,
                sent,
                text: text(),
            });
        }
    }
}
