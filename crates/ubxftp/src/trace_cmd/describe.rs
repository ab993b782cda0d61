//! What each record of a trace (docs/TRACE.md) is to its reader: its lane (host | module |
//! network | field), its kind (command, final result, URC, prompt, …), who it is about and its
//! text. The one classifier of the text view ([`super::show`]), the page
//! ([`super::page`]) and the control API's live rows (`GET /trace/rows`).

use std::collections::HashMap;

use serde_json::Value;

/// What a record is, to its reader.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Command,
    /// Module output that carries a final result code (`OK`, `ERROR`, `+CME ERROR: …`).
    Result,
    /// Other module output while a command waits: its echo, its information text.
    Answer,
    Urc,
    Prompt,
    Data,
    Terminal,
    Module,
    Net,
    Dialogue,
    Fault,
    /// A link change.
    Link,
    /// A bearer or the power.
    Field,
    Other,
}

impl Kind {
    /// Its name on the page (`kind` of a row).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Command => "cmd",
            Kind::Result => "result",
            Kind::Answer => "answer",
            Kind::Urc => "urc",
            Kind::Prompt => "prompt",
            Kind::Data => "data",
            Kind::Terminal => "term",
            Kind::Module => "module",
            Kind::Net => "net",
            Kind::Dialogue => "dialogue",
            Kind::Fault => "fault",
            Kind::Link => "link",
            Kind::Field => "field",
            Kind::Other => "other",
        }
    }

    /// The SGR colour of the kind's label and text.
    pub fn colour(self) -> &'static str {
        match self {
            Kind::Command => "1;36",
            Kind::Result => "1;32",
            Kind::Answer => "32",
            Kind::Urc => "35",
            Kind::Prompt => "1;33",
            Kind::Data => "34",
            Kind::Terminal | Kind::Module | Kind::Other => "2",
            Kind::Net => "94",
            Kind::Dialogue => "96",
            Kind::Fault => "1;31",
            Kind::Link => "1;33",
            Kind::Field => "33",
        }
    }
}

/// The lanes, left to right: what the host sent, what the module sent (and its terminals'
/// events), the network side, the field's events.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lane {
    Host,
    Module,
    Network,
    Field,
}

impl Lane {
    pub fn name(self) -> &'static str {
        match self {
            Lane::Host => "host",
            Lane::Module => "module",
            Lane::Network => "network",
            Lane::Field => "field",
        }
    }
}

/// One record, described.
pub struct Shown {
    pub lane: Lane,
    /// `t1` (a terminal), `c3` (a connection), `ftp`, or nothing.
    pub who: String,
    /// `>` rightwards (host to module, module to network), `<` leftwards, `*` an event.
    pub arrow: char,
    pub kind: Kind,
    pub label: String,
    /// The bytes in the transcript's escapes, or the event's details.
    pub text: String,
}

impl Shown {
    /// The row the page draws: `[t, m, lane, kind, who, arrow, label, text]`.
    pub fn row(&self, t: u64, m: Option<u64>) -> Value {
        serde_json::json!([
            t,
            m,
            self.lane.name(),
            self.kind.name(),
            self.who,
            self.arrow.to_string(),
            self.label,
            self.text
        ])
    }
}

/// What a terminal is in the middle of, for telling answers from URCs and payloads from
/// commands.
#[derive(Default)]
struct TermState {
    /// The host sent something the module has not given its final result to.
    pending: bool,
    /// The module's last output was a prompt (`>`, `@`): the host's next bytes are a payload.
    prompted: bool,
}

/// Describes records in the order given (time order: [`load`]), remembering what each terminal
/// waits for.
#[derive(Default)]
pub struct Describer {
    terms: HashMap<(u64, u64), TermState>,
}

impl Describer {
    pub fn describe(&mut self, record: &Value) -> Shown {
        describe(record, &mut self.terms)
    }
}

/// A whole trace's header and its records sorted by `t`.
pub struct Loaded {
    pub header: Value,
    pub records: Vec<(u64, Value)>,
}

/// Reads `text`, a whole trace: its header must say version 1; every record needs a `t`.
pub fn load(text: &str) -> Result<Loaded, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, first)) = lines.next() else {
        return Err("empty: not a trace".into());
    };
    let header: Value =
        serde_json::from_str(first).map_err(|e| format!("line 1: not a trace header: {e}"))?;
    if header["k"] != "trace" {
        return Err("line 1: not a trace header (no \"k\":\"trace\")".into());
    }
    match header["v"].as_u64() {
        Some(1) => {}
        v => return Err(format!("trace version {v:?}: this ubxftp reads version 1")),
    }
    let mut records = Vec::new();
    for (n, line) in lines {
        let record: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let t = record["t"]
            .as_u64()
            .ok_or_else(|| format!("line {}: a record without \"t\"", n + 1))?;
        records.push((t, record));
    }
    // Held secret lines come late in the file; a stable sort keeps the file's order otherwise.
    records.sort_by_key(|(t, _)| *t);
    Ok(Loaded { header, records })
}

/// A string field, or `""`.
fn str_of<'a>(r: &'a Value, name: &str) -> &'a str {
    r[name].as_str().unwrap_or("")
}

/// A field as text: a string as it is, anything else as JSON, nothing when absent.
fn text_of(r: &Value, name: &str) -> String {
    match &r[name] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The escaped `data` of an `io` record, shown as a failure message shows bytes.
fn bytes_of(r: &Value) -> (Vec<u8>, String) {
    let data = str_of(r, "data");
    match ubx_at::text::unescape(data) {
        Ok(bytes) => {
            let shown = ubx_transcript::shown(&bytes);
            (bytes, shown)
        }
        Err(_) => (
            data.as_bytes().to_vec(),
            ubx_transcript::shown(data.as_bytes()),
        ),
    }
}

fn describe(r: &Value, terms: &mut HashMap<(u64, u64), TermState>) -> Shown {
    let shown = |who: String, arrow, kind, label: &str, text: String| Shown {
        lane: if kind == Kind::Dialogue {
            Lane::Network
        } else {
            Lane::Module
        },
        who,
        arrow,
        kind,
        label: label.to_string(),
        text,
    };
    let k = str_of(r, "k");
    match k {
        "io" => describe_io(r, terms),
        "term" => {
            let extra = ["cause", "on", "bytes"]
                .iter()
                .map(|f| text_of(r, f))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let text = format!("{} {extra}", str_of(r, "ev"));
            let who = format!("t{}", text_of(r, "term"));
            shown(who, '*', Kind::Terminal, "term", text.trim_end().into())
        }
        "module" => {
            let text = format!(
                "{} {} imei {}",
                str_of(r, "model"),
                str_of(r, "cgmm"),
                str_of(r, "imei")
            );
            shown(String::new(), '*', Kind::Module, "module", text)
        }
        "net" => describe_net(r),
        "ftp" | "http" | "mqtt" => {
            let arrow = if str_of(r, "dir") == "sent" { '>' } else { '<' };
            let text = ubx_transcript::shown(str_of(r, "text").as_bytes());
            shown(k.to_string(), arrow, Kind::Dialogue, k, text)
        }
        "field" => describe_field(r),
        _ => {
            let mut rest = r.clone();
            if let Some(o) = rest.as_object_mut() {
                for f in ["t", "m", "k"] {
                    o.remove(f);
                }
            }
            shown(String::new(), '*', Kind::Other, k, rest.to_string())
        }
    }
}

/// Whether `bytes` hold a final result code.
fn is_final(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.lines().any(|l| {
        let l = l.trim_end_matches('\r');
        matches!(l, "OK" | "ERROR" | "NO CARRIER" | "ABORTED")
            || l.starts_with("+CME ERROR")
            || l.starts_with("+CMS ERROR")
            || l.starts_with("CONNECT")
    })
}

fn describe_io(r: &Value, terms: &mut HashMap<(u64, u64), TermState>) -> Shown {
    let term = r["term"].as_u64().unwrap_or(0);
    let state = terms
        .entry((r["m"].as_u64().unwrap_or(0), term))
        .or_default();
    let (bytes, mut text) = bytes_of(r);
    let dir = str_of(r, "dir");
    let (arrow, kind) = match dir {
        "in" if state.prompted => ('>', Kind::Data),
        "in" => {
            state.pending = true;
            ('>', Kind::Command)
        }
        "out" => {
            // `>` (`+UDWNFILE`, `+USECMNG`) or `@` (`+USOWR`), alone or after the echo.
            let trimmed = bytes.trim_ascii();
            let prompt = [b'>', b'@'].iter().any(|p| {
                trimmed == [*p] || (trimmed.ends_with(&[b'\n', *p]) && !is_final(trimmed))
            });
            let start = String::from_utf8_lossy(bytes.trim_ascii_start());
            let urc = start.starts_with("+UU") || start.starts_with("RING") || !state.pending;
            state.prompted = prompt;
            let kind = if prompt {
                Kind::Prompt
            } else if is_final(&bytes) {
                Kind::Result
            } else if urc {
                Kind::Urc
            } else {
                Kind::Answer
            };
            if is_final(&bytes) {
                state.pending = false;
            }
            ('<', kind)
        }
        "data-in" => ('>', Kind::Data),
        _ => ('<', Kind::Data),
    };
    if r["held"] == true {
        text.push_str("  (held)");
    }
    if let Some(masked) = r["masked"].as_array() {
        let names: Vec<&str> = masked.iter().filter_map(|m| m.as_str()).collect();
        text.push_str(&format!("  (masked: {})", names.join(", ")));
    }
    let label = match kind {
        Kind::Command => "cmd",
        Kind::Result => "result",
        Kind::Answer => "answer",
        Kind::Urc => "urc",
        Kind::Prompt => "prompt",
        _ => "data",
    };
    Shown {
        lane: if arrow == '>' {
            Lane::Host
        } else {
            Lane::Module
        },
        who: format!("t{term}"),
        arrow,
        kind,
        label: label.into(),
        text,
    }
}

fn describe_net(r: &Value) -> Shown {
    let ev = str_of(r, "ev");
    let (arrow, text) = match ev {
        "open" => {
            let by = str_of(r, "opener");
            let arrow = if by == "peer" { '<' } else { '>' };
            let text = format!(
                "{} {} -> {} (opened by the {by})",
                str_of(r, "role"),
                text_of(r, "local"),
                text_of(r, "remote")
            );
            (arrow, text)
        }
        "close" => (
            '*',
            format!("in {} B, out {} B", text_of(r, "in"), text_of(r, "out")),
        ),
        "reset" => ('*', format!("cause {}", text_of(r, "cause"))),
        "data" => {
            let arrow = if str_of(r, "dir") == "out" { '>' } else { '<' };
            return Shown {
                lane: Lane::Network,
                who: format!("c{}", text_of(r, "conn")),
                arrow,
                kind: Kind::Data,
                label: "data".into(),
                text: bytes_of(r).1,
            };
        }
        "tls" => {
            let resumed = if r["resumed"] == true {
                " (resumed)"
            } else {
                ""
            };
            let text = format!("{} {}{resumed}", str_of(r, "version"), str_of(r, "suite"));
            ('*', text)
        }
        _ => ('*', String::new()),
    };
    Shown {
        lane: Lane::Network,
        who: format!("c{}", text_of(r, "conn")),
        arrow,
        kind: Kind::Net,
        label: ev.to_string(),
        text,
    }
}

fn describe_field(r: &Value) -> Shown {
    let ev = str_of(r, "ev");
    let on_off = |on: bool| if on { "on" } else { "off" };
    let (kind, text) = match ev {
        "fault" => {
            let conn = match text_of(r, "conn") {
                c if c.is_empty() => String::new(),
                c => format!(" on c{c}"),
            };
            let text = format!(
                "#{} {} {}{conn}",
                text_of(r, "fault"),
                str_of(r, "target"),
                str_of(r, "action")
            );
            (Kind::Fault, text)
        }
        "link" => (Kind::Link, str_of(r, "spec").to_string()),
        "bearer" => {
            let up = if r["up"] == true { "up" } else { "down" };
            let text = match str_of(r, "cause") {
                "" => format!("cid {} {up}", text_of(r, "cid")),
                cause => format!("cid {} {up} ({cause})", text_of(r, "cid")),
            };
            (Kind::Field, text)
        }
        "power" => {
            let text = match str_of(r, "cause") {
                "" => on_off(r["on"] == true).to_string(),
                cause => format!("{} ({cause})", on_off(r["on"] == true)),
            };
            (Kind::Field, text)
        }
        _ => (Kind::Field, String::new()),
    };
    Shown {
        lane: Lane::Field,
        who: String::new(),
        arrow: '*',
        kind,
        label: ev.to_string(),
        text,
    }
}
