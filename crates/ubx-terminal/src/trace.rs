//! `--trace FILE`: what a module's terminals and its network side did, in order, as JSON lines
//! (docs/TRACE.md has the format, version [`VERSION`]).
//!
//! The first line is the header (`{"k":"trace","v":1,…}`); a module's first record says which
//! model it is (`"k":"module"`). Then one record per read and per write on a terminal's
//! transport, as they happen (`"k":"io"`, `dir` `in` / `out` / `data-in` / `data-out`, `data`
//! in the transcript escape syntax), the terminal's own events (`"k":"term"`: connect,
//! disconnect, DTR, data mode), and what the module's field reports
//! ([`ubx_field::events`]: connections, the FTP, HTTP and MQTT dialogue, faults, the link,
//! bearers, power). Every record has `t`, microseconds on one monotonic clock (tokio's, so a
//! paused-clock test sees virtual time) from the trace's start, and `m`, the module.
//!
//! Nothing is merged across a pause or a change of direction. The one exception is a line
//! that may carry a secret ([`crate::mask`]): it is recorded masked when it ends, with the time
//! of its first byte, so a record of it can come after records with later times (sort by `t`).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::time::Instant;
use ubx_at::text::escape;
use ubx_field::events::{Event, EventSink};
use ubx_modem::{Modem, TerminalId};

use crate::mask::{Masker, Record};

/// The format's version (the header's `"v"`).
pub const VERSION: u32 = 1;

/// The shared writer of one trace file.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    file: Mutex<File>,
    path: PathBuf,
    /// How many records were written: readers that follow the file (the control API's
    /// `GET /trace?follow=1`) wait for it to change, then read what was appended.
    written: tokio::sync::watch::Sender<u64>,
    /// `t` = 0.
    origin: Instant,
    next_module: AtomicU64,
    /// Which module number each attached field has (by address; a field is attached once).
    modules: Mutex<Vec<(usize, u64)>>,
    /// Record the bytes of user connections too (`--trace-data`).
    contents: AtomicBool,
}

/// One record being written: `{"t":…,"m":…,"k":…, fields…}`.
struct Line(String);

impl Line {
    fn new(t: u64, m: u64, kind: &str) -> Line {
        Line(format!("{{\"t\":{t},\"m\":{m},\"k\":{}", json(&kind)))
    }

    fn field(mut self, name: &str, value: impl serde::Serialize) -> Line {
        self.0
            .push_str(&format!(",{}:{}", json(&name), json(&value)));
        self
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl Tracer {
    /// Creates `path` and writes the header.
    pub fn create(path: &Path) -> io::Result<Tracer> {
        let mut file = File::create(path)?;
        let unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        let header = serde_json::json!({
            "k": "trace",
            "v": VERSION,
            "unix_us": unix_us,
            "tool": concat!("ubxftp ", env!("CARGO_PKG_VERSION")),
        });
        writeln!(file, "{header}")?;
        Ok(Tracer {
            inner: Arc::new(Inner {
                file: Mutex::new(file),
                path: path.to_path_buf(),
                written: tokio::sync::watch::Sender::new(0),
                origin: Instant::now(),
                next_module: AtomicU64::new(1),
                modules: Mutex::new(Vec::new()),
                contents: AtomicBool::new(false),
            }),
        })
    }

    /// Records the bytes of the modules' user connections too (`--trace-data`: FTP data,
    /// `+USO*` sockets), for the modules attached from now on.
    pub fn record_contents(&self) {
        self.inner.contents.store(true, Ordering::Relaxed);
    }

    /// The file the trace is written to.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Changes each time a record is written (the count of records), after the record is in
    /// the file: a reader waits for it, then reads on from where it was.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.written.subscribe()
    }

    /// The module's number in this trace; the first time, its field's events are attached and
    /// a `module` record says what it is.
    pub fn attach(&self, modem: &Modem) -> u64 {
        let field = modem.field();
        let key = Arc::as_ptr(field) as usize;
        let mut modules = self.inner.modules.lock().unwrap_or_else(|e| e.into_inner());
        let m = self.inner.next_module.load(Ordering::Relaxed);
        let sink = Arc::new(ModuleSink {
            trace: self.inner.clone(),
            m,
        });
        if self.inner.contents.load(Ordering::Relaxed) {
            field.events.record_contents();
        }
        if !field.events.attach(sink) {
            // Attached already (by this trace: one trace per process).
            return modules
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(0, |(_, m)| *m);
        }
        self.inner.next_module.fetch_add(1, Ordering::Relaxed);
        // A field at the address of one dropped before is a new module.
        modules.retain(|(k, _)| *k != key);
        modules.push((key, m));
        drop(modules);
        let model = modem.model();
        let line = Line::new(self.inner.t(Instant::now()), m, "module")
            .field("model", &model.id)
            .field("cgmm", &model.identity.model)
            .field("imei", modem.imei());
        self.inner.write(line.finish());
        m
    }

    /// A recorder for terminal `term` of `modem`.
    pub fn terminal(&self, modem: &Modem, term: TerminalId) -> TerminalTrace {
        let m = self.attach(modem);
        TerminalTrace {
            tracer: self.clone(),
            m,
            term,
            host: Masker::host(),
            module: Masker::module(),
        }
    }
}

impl Inner {
    fn t(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_micros() as u64
    }

    fn write(&self, mut line: String) {
        // One write per record, so that a reader following the file rarely sees half a line.
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = file.write_all(line.as_bytes());
        drop(file);
        self.written.send_modify(|n| *n += 1);
    }
}

/// A module's field events, into the trace.
struct ModuleSink {
    trace: Arc<Inner>,
    m: u64,
}

impl EventSink for ModuleSink {
    fn event(&self, at: Instant, event: &Event) {
        let (kind, fields) = event.to_json();
        let mut line = Line::new(self.trace.t(at), self.m, kind);
        for (name, value) in fields {
            line = line.field(&name, value);
        }
        if let Event::Data { bytes, .. } = event {
            line = line.field("data", escape(bytes));
        }
        self.trace.write(line.finish());
    }
}

/// Records one terminal's traffic and events; writes what it holds when dropped.
pub struct TerminalTrace {
    tracer: Tracer,
    m: u64,
    term: TerminalId,
    /// Bytes from the host (`in`).
    host: Masker,
    /// Bytes to the host (`out`).
    module: Masker,
}

impl TerminalTrace {
    /// Bytes read from the host, now.
    pub fn input(&mut self, data: &[u8]) {
        let records = self.host.push(Instant::now(), data);
        self.write_records("in", records);
    }

    /// Bytes written to the host, now.
    pub fn output(&mut self, data: &[u8]) {
        let records = self.module.push(Instant::now(), data);
        self.write_records("out", records);
    }

    /// Bytes from the host in data mode (`data-in`): the file a direct link stores. Not masked.
    pub fn data_input(&mut self, data: &[u8]) {
        self.flush_held();
        self.write_bytes("data-in", Instant::now(), data, &[], false);
    }

    /// Bytes to the host in data mode (`data-out`): the file a direct link retrieves.
    pub fn data_output(&mut self, data: &[u8]) {
        self.flush_held();
        self.write_bytes("data-out", Instant::now(), data, &[], false);
    }

    /// A secret payload is over, or never came (the terminal is not reading one).
    pub fn payload_over(&mut self) {
        self.host.payload_over();
    }

    /// A terminal event (`connect`, `disconnect`, `dtr`, `data-mode`, `line-fault`), with one
    /// field of its own.
    pub fn event(&mut self, ev: &str, extra: Option<(&str, Value)>) {
        let inner = &self.tracer.inner;
        let mut line = Line::new(inner.t(Instant::now()), self.m, "term")
            .field("term", self.term)
            .field("ev", ev);
        if let Some((name, value)) = extra {
            line = line.field(name, value);
        }
        inner.write(line.finish());
    }

    /// Writes the lines held back, so records stay in order around data.
    fn flush_held(&mut self) {
        let records = self.host.flush();
        self.write_records("in", records);
        let records = self.module.flush();
        self.write_records("out", records);
    }

    fn write_records(&self, dir: &str, records: Vec<Record>) {
        for r in records {
            self.write_bytes(dir, r.at, &r.data, &r.secrets, r.held);
        }
    }

    fn write_bytes(&self, dir: &str, at: Instant, data: &[u8], secrets: &[&str], held: bool) {
        let inner = &self.tracer.inner;
        let mut line = Line::new(inner.t(at), self.m, "io")
            .field("term", self.term)
            .field("dir", dir)
            .field("data", escape(data));
        if !secrets.is_empty() {
            line = line.field("masked", secrets);
        }
        if held {
            line = line.field("held", true);
        }
        inner.write(line.finish());
    }
}

impl Drop for TerminalTrace {
    fn drop(&mut self) {
        self.flush_held();
    }
}
