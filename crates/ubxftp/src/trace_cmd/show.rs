//! `ubxftp trace FILE`: a trace (docs/TRACE.md) as text, one line per record in time order.
//!
//! ```text
//!      +15.034 ms  m1 t1   >  cmd     AT+UFTPC=1\r
//!      +15.051 ms  m1 t1   <  answer  AT+UFTPC=1\r\r\nOK\r\n
//!      +15.902 ms  m1 ftp  <  ftp     220 libunftp test server ready
//! ```
//!
//! The lanes run host | module | network, so `>` goes right (the host to the module, the
//! module to the network) and `<` left; `*` is an event. The bytes are in the transcript's
//! escapes, as a failure message shows them ([`ubx_transcript::shown`]).

use std::collections::HashMap;
use std::io::Write;

use serde_json::Value;

/// What an `io` record is, to its reader.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Command,
    Answer,
    Urc,
    Prompt,
    Data,
    Terminal,
    Module,
    Net,
    Dialogue,
    Fault,
    Field,
    Other,
}

impl Kind {
    /// The SGR colour of the kind's label and text.
    fn colour(self) -> &'static str {
        match self {
            Kind::Command => "1;36",
            Kind::Answer => "32",
            Kind::Urc => "35",
            Kind::Prompt => "1;33",
            Kind::Data => "34",
            Kind::Terminal | Kind::Module | Kind::Other => "2",
            Kind::Net => "94",
            Kind::Dialogue => "96",
            Kind::Fault => "1;31",
            Kind::Field => "33",
        }
    }
}

/// One line of output before it is laid out.
struct Shown {
    who: String,
    arrow: char,
    kind: Kind,
    label: String,
    text: String,
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

/// The records of `text` (a whole trace) sorted by `t`, each as a line; coloured with `ansi`.
pub fn render(text: &str, ansi: bool) -> Result<Vec<String>, String> {
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
    let tool = header["tool"].as_str().unwrap_or("?");
    let mut out = vec![paint(ansi, "2", &format!("# trace v1 ({tool})"))];
    let mut terms: HashMap<(u64, u64), TermState> = HashMap::new();
    for (t, record) in &records {
        let shown = describe(record, &mut terms);
        out.push(layout(*t, record["m"].as_u64(), &shown, ansi));
    }
    Ok(out)
}

/// Prints `text` rendered; a reader that stops early (`| head`) is no error.
pub fn print(text: &str, ansi: bool) -> Result<(), String> {
    let lines = render(text, ansi)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
}

fn paint(ansi: bool, colour: &str, text: &str) -> String {
    if ansi {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `+12.345 ms  m1 t1   >  cmd     AT\r`.
fn layout(t: u64, m: Option<u64>, s: &Shown, ansi: bool) -> String {
    let time = format!("+{}.{:03} ms", t / 1000, t % 1000);
    let module = m.map_or(String::new(), |m| format!("m{m}"));
    let label = format!("{:<7}", s.label);
    let line = format!(
        "{}  {module:<3} {:<4} {}  {}  {}",
        paint(ansi, "2", &format!("{time:>14}")),
        s.who,
        s.arrow,
        paint(ansi, s.kind.colour(), &label),
        paint(ansi, s.kind.colour(), &s.text),
    );
    line.trim_end().to_string()
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
            } else if urc && !is_final(&bytes) {
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
        Kind::Answer => "answer",
        Kind::Urc => "urc",
        Kind::Prompt => "prompt",
        _ => "data",
    };
    Shown {
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
        _ => ('*', String::new()),
    };
    Shown {
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
        "link" => (Kind::Field, str_of(r, "spec").to_string()),
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
        who: String::new(),
        arrow: '*',
        kind,
        label: ev.to_string(),
        text,
    }
}
