//! The fault engine: which faults are set, when each fires, and how often it has.
//!
//! A fault fires on its trigger ([`FaultSpec`]): `at_ms` after the module started, during the
//! `nth` operation of `+UFTPC=<on_op>`, once a transfer has moved `after_bytes`, or — with no
//! trigger — at the first chance. The places that can be disturbed ask the engine at their own
//! events: a socket at each read and write ([`Engine::socket_event`]), the resolver at each lookup
//! ([`Engine::dns_event`]), the terminal line for each batch of bytes ([`Engine::uart_faults`]).
//! Faults on the module itself (PDP, network, reboot, the signalling connection) are handed to the module's field task
//! ([`ModuleAction`]), which changes the state as the network or the power supply would.
//!
//! Overlapping faults are all kept: when several could fire at one event, the one added first
//! does, and the others at the next event (docs/FIELD.md). A fault fires at most once per socket,
//! and at most `count` times in all.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::events::{Event, Events};
use super::spec::{Action, Fault, Target};

/// A fault as the engine keeps it: the spec, its id and how often it fired.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: u64,
    #[serde(flatten)]
    pub fault: Fault,
    pub fired: u32,
    /// Sockets it already fired on.
    #[serde(skip)]
    sockets: Vec<u64>,
    /// For `uart`: when it stops (set when it first fires with a duration).
    #[serde(skip)]
    until: Option<Instant>,
}

impl Entry {
    fn count(&self) -> u32 {
        self.fault.spec.count.unwrap_or(1)
    }

    fn spent(&self) -> bool {
        if self.fault.target == Target::Uart {
            // A line fault lasts: until its duration is over, or until cleared.
            return self.until.is_some_and(|t| Instant::now() >= t);
        }
        self.fired >= self.count()
    }
}

/// What a socket must do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketAction {
    Reset,
    Close,
    Stall(Duration),
    /// Let this many bytes through in all, then close.
    Limit(u64),
    /// Replace the server's next reply line with this one.
    Reply(String),
}

/// What the resolver must do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsAction {
    Fail,
    Delay(Duration),
}

/// A change to the module itself, applied by its field task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleAction {
    Deactivate(u8),
    Deregister,
    Register,
    Reboot(Duration),
    /// The network releases the signalling connection (`rrc release`).
    RrcRelease,
}

/// A line fault in force.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UartFault {
    pub flip: bool,
    pub rate: f64,
}

/// The operation in progress, for `on_op`/`nth` triggers.
#[derive(Debug, Default)]
struct Operations {
    /// How many operations of each op code started.
    started: std::collections::HashMap<i64, u32>,
    current: Option<(i64, u32)>,
}

#[derive(Debug)]
struct Inner {
    entries: Vec<Entry>,
    ops: Operations,
}

/// The faults of one module.
#[derive(Debug)]
pub struct Engine {
    inner: Mutex<Inner>,
    start: Instant,
    next_id: AtomicU64,
    /// How many faults are set; 0 lets every check return at once.
    armed: AtomicU64,
    /// Bytes the current operation's data connections moved (`GET /state`, `after_bytes`).
    transfer: AtomicU64,
    /// Bytes all data connections moved since the module started (a load report's FTP bytes).
    data_total: AtomicU64,
    module: mpsc::UnboundedSender<ModuleAction>,
    /// Wakes the timer task when a fault with `at_ms` is added.
    changed: tokio::sync::Notify,
    /// Where a trace hears of the faults that fire.
    events: std::sync::Arc<Events>,
}

impl Engine {
    /// An engine, and the receiver of the module actions it fires.
    pub fn new(start: Instant) -> (Engine, mpsc::UnboundedReceiver<ModuleAction>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Engine {
                inner: Mutex::new(Inner {
                    entries: Vec::new(),
                    ops: Operations::default(),
                }),
                start,
                next_id: AtomicU64::new(1),
                armed: AtomicU64::new(0),
                transfer: AtomicU64::new(0),
                data_total: AtomicU64::new(0),
                module: tx,
                changed: tokio::sync::Notify::new(),
                events: std::sync::Arc::new(Events::default()),
            },
            rx,
        )
    }

    /// The module's trace events (the field's: [`crate::Field::events`]).
    pub fn events(&self) -> &std::sync::Arc<Events> {
        &self.events
    }

    /// Tells the trace that `e` fired (on connection `conn`, for a socket fault).
    fn fired(&self, e: &Entry, conn: Option<u64>) {
        self.events.emit(Event::Fault {
            id: e.id,
            target: e.fault.target,
            action: e.fault.action,
            conn,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sync_armed(&self, inner: &Inner) {
        let n = inner.entries.iter().filter(|e| !e.spent()).count() as u64;
        self.armed.store(n, Ordering::Relaxed);
    }

    /// Adds a validated fault; returns its id. A module fault with no trigger fires now.
    pub fn add(&self, fault: Fault) -> u64 {
        let ids = self.add_all(std::iter::once(fault));
        ids.start
    }

    /// Adds validated faults in their order (a scenario file's); returns their ids. The set is
    /// counted and the module faults fired once for them all, so `n` faults take O(n), not the
    /// O(n²) of adding them one by one.
    pub fn add_all(&self, faults: impl IntoIterator<Item = Fault>) -> std::ops::Range<u64> {
        let mut inner = self.lock();
        let first = self.next_id.load(Ordering::Relaxed);
        let mut last = first;
        for fault in faults {
            last = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            inner.entries.push(Entry {
                id: last - 1,
                fault,
                fired: 0,
                sockets: Vec::new(),
                until: None,
            });
        }
        self.sync_armed(&inner);
        self.fire_module_faults(&mut inner, Instant::now());
        drop(inner);
        self.changed.notify_one();
        first..last
    }

    /// Every fault with how often it fired.
    pub fn list(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Removes every fault.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        self.sync_armed(&inner);
    }

    /// Whether an entry's trigger holds now (`bytes`: the transfer's, or the socket's).
    fn triggered(&self, e: &Entry, ops: &Operations, now: Instant, bytes: u64) -> bool {
        let s = &e.fault.spec;
        if let Some(at) = s.at_ms
            && now < self.start + Duration::from_millis(at)
        {
            return false;
        }
        if let Some(op) = s.on_op {
            let nth = s.nth.unwrap_or(1);
            if ops.current != Some((op, nth)) {
                return false;
            }
        }
        // `limit` lets `after_bytes` through: it is armed from the first byte.
        if let Some(after) = s.after_bytes
            && e.fault.action != Action::Limit
            && bytes < after
        {
            return false;
        }
        true
    }

    /// Fires what is due among the module faults.
    fn fire_module_faults(&self, inner: &mut Inner, now: Instant) {
        let Inner { entries, ops } = inner;
        let mut fired = false;
        for e in entries.iter_mut() {
            if e.spent() || !is_module_target(e.fault.target) {
                continue;
            }
            if !self.triggered(e, ops, now, self.transfer.load(Ordering::Relaxed)) {
                continue;
            }
            let action = match (e.fault.target, e.fault.action) {
                (Target::Pdp, _) => ModuleAction::Deactivate(e.fault.spec.cid.unwrap_or(1)),
                (Target::Network, Action::Register) => ModuleAction::Register,
                (Target::Network, _) => ModuleAction::Deregister,
                (Target::Rrc, _) => ModuleAction::RrcRelease,
                (_, _) => ModuleAction::Reboot(Duration::from_millis(
                    e.fault.spec.duration_ms.unwrap_or(0),
                )),
            };
            e.fired += 1;
            fired = true;
            tracing::info!(fault = e.id, ?action, "fault fires");
            self.fired(e, None);
            let _ = self.module.send(action);
        }
        if fired {
            self.sync_armed(inner);
        }
    }

    /// The next `at_ms` moment a module fault waits for, for the timer task.
    pub fn next_deadline(&self) -> Option<Instant> {
        let inner = self.lock();
        inner
            .entries
            .iter()
            .filter(|e| !e.spent() && is_module_target(e.fault.target))
            .filter_map(|e| e.fault.spec.at_ms)
            .map(|at| self.start + Duration::from_millis(at))
            .filter(|t| *t > Instant::now())
            .min()
    }

    /// Fires the module faults whose time has come (the timer task calls this).
    pub fn tick(&self) {
        let mut inner = self.lock();
        self.fire_module_faults(&mut inner, Instant::now());
    }

    /// Waits until a fault is added.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// A `+UFTPC` operation starts.
    pub fn operation_started(&self, op: i64) {
        let mut inner = self.lock();
        let n = inner.ops.started.entry(op).or_insert(0);
        *n += 1;
        let n = *n;
        inner.ops.current = Some((op, n));
        self.transfer.store(0, Ordering::Relaxed);
        if self.armed.load(Ordering::Relaxed) > 0 {
            self.fire_module_faults(&mut inner, Instant::now());
        }
    }

    /// Bytes the current transfer moved.
    pub fn transfer_bytes(&self) -> u64 {
        self.transfer.load(Ordering::Relaxed)
    }

    /// Bytes the module's FTP data connections moved, both ways, since it started.
    pub fn data_bytes_total(&self) -> u64 {
        self.data_total.load(Ordering::Relaxed)
    }

    /// The operation ended.
    pub fn operation_ended(&self) {
        let mut inner = self.lock();
        inner.ops.current = None;
    }

    /// A socket's event: `bytes` it moved so far. Returns what it must do, if a fault fires.
    pub fn socket_event(
        &self,
        socket: u64,
        target: Target,
        delta: u64,
        bytes: u64,
    ) -> Option<SocketAction> {
        // FTP data is what a fleet report counts as the load on the server.
        let data = target == Target::FtpData;
        if data && delta > 0 {
            self.transfer.fetch_add(delta, Ordering::Relaxed);
            self.data_total.fetch_add(delta, Ordering::Relaxed);
        }
        if self.armed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        if data && delta > 0 {
            self.fire_module_faults(&mut inner, now);
        }
        let Inner { entries, ops } = &mut *inner;
        let mut out = None;
        for e in entries.iter_mut() {
            if e.spent() || e.fault.target != target || e.sockets.contains(&socket) {
                continue;
            }
            if !self.triggered(e, ops, now, bytes) {
                continue;
            }
            let spec = &e.fault.spec;
            out = Some(match e.fault.action {
                Action::Reset => SocketAction::Reset,
                Action::Close => SocketAction::Close,
                Action::Stall => {
                    SocketAction::Stall(Duration::from_millis(spec.duration_ms.unwrap_or(0)))
                }
                Action::Limit => SocketAction::Limit(spec.after_bytes.unwrap_or(0)),
                _ => SocketAction::Reply(format!(
                    "{} {}",
                    spec.code.unwrap_or(421),
                    spec.text.as_deref().unwrap_or("Service not available")
                )),
            });
            e.fired += 1;
            e.sockets.push(socket);
            tracing::info!(fault = e.id, socket, action = ?out, "fault fires");
            self.fired(e, Some(socket));
            break;
        }
        if out.is_some() {
            self.sync_armed(&inner);
        }
        out
    }

    /// A name lookup: what it must do, if a fault fires.
    pub fn dns_event(&self) -> Option<DnsAction> {
        if self.armed.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let Inner { entries, ops } = &mut *inner;
        let mut out = None;
        for e in entries.iter_mut() {
            if e.spent() || e.fault.target != Target::Dns || !self.triggered(e, ops, now, 0) {
                continue;
            }
            e.fired += 1;
            out = Some(match e.fault.action {
                Action::Delay => {
                    DnsAction::Delay(Duration::from_millis(e.fault.spec.duration_ms.unwrap_or(0)))
                }
                _ => DnsAction::Fail,
            });
            tracing::info!(fault = e.id, action = ?out, "fault fires");
            self.fired(e, None);
            break;
        }
        if out.is_some() {
            self.sync_armed(&inner);
        }
        out
    }

    /// The line faults in force now. A `uart` fault counts as fired once, when it starts; with
    /// `duration_ms` it ends after that long, without it it lasts until cleared.
    pub fn uart_faults(&self) -> Vec<UartFault> {
        if self.armed.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let Inner { entries, ops } = &mut *inner;
        let mut out = Vec::new();
        for e in entries.iter_mut() {
            if e.fault.target != Target::Uart {
                continue;
            }
            if e.fired == 0 {
                if !self.triggered(e, ops, now, 0) {
                    continue;
                }
                e.fired = 1;
                self.fired(e, None);
                e.until = e
                    .fault
                    .spec
                    .duration_ms
                    .map(|d| now + Duration::from_millis(d));
            }
            if e.until.is_some_and(|t| now >= t) {
                continue;
            }
            out.push(UartFault {
                flip: e.fault.action == Action::Flip,
                rate: e.fault.spec.rate.unwrap_or(0.0),
            });
        }
        out
    }
}

fn is_module_target(target: Target) -> bool {
    matches!(
        target,
        Target::Pdp | Target::Network | Target::Module | Target::Rrc
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_scenario;

    #[test]
    fn a_scenario_of_many_faults_is_added_at_once_with_consecutive_ids() {
        let text = "[[fault]]\ntarget = \"dns\"\naction = \"fail\"\n\n".repeat(20_000);
        let faults = parse_scenario(&text, 8).unwrap();
        let (engine, _actions) = Engine::new(Instant::now());
        assert_eq!(engine.add(faults[0].clone()), 1);
        let ids = engine.add_all(faults);
        assert_eq!(ids, 2..20_002);
        let listed = engine.list();
        assert_eq!(listed.len(), 20_001);
        assert!(listed.iter().enumerate().all(|(i, e)| e.id == i as u64 + 1));
        assert_eq!(engine.add_all(Vec::new()), 20_002..20_002);
        // The first of them fires at the first lookup, the next at the next.
        assert_eq!(engine.dns_event(), Some(DnsAction::Fail));
        assert_eq!(engine.list()[0].fired, 1);
        assert_eq!(engine.list()[1].fired, 0);
    }
}
