//! `ubxftp trace to-transcript`: a trace (docs/TRACE.md) turned into a transcript
//! (docs/TRANSCRIPTS.md) that sends what the host sent, at its pauses, and expects what the
//! module answered — with patterns for what varies ([`vary`]), the header the session needs
//! (`# model:`, `# ftp-server:`), and placeholders for the FTP server's address, port, user and
//! password and for every masked secret (`{secret:NAME}`, filled by `ubxftp script --secret`).
//! The network side and the field's events become comments beside the steps.

pub mod text;
pub mod vary;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use md5::{Digest, Md5};
use regex::bytes::Regex;
use serde_json::Value;
use ubx_at::text::unescape;

use crate::mask::MASK;
use text::{Piece, joined, lines, literal, regex};
use vary::{Exact, Varying};

/// How to convert.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The module (`m`) whose terminal to replay; default: the first with host bytes.
    pub module: Option<u64>,
    /// The terminal; default: the module's first with host bytes.
    pub term: Option<u64>,
    /// What to keep exact instead of a pattern.
    pub exact: Exact,
    /// `# ftp-server:` to ask for; default: the kind the server's greeting names, else
    /// libunftp. Only written when the session used FTP.
    pub ftp_server: Option<String>,
}

/// A converted transcript.
#[derive(Debug, Clone)]
pub struct Converted {
    pub text: String,
    /// What the user should know (said on standard error).
    pub notes: Vec<String>,
    /// The `{secret:NAME}` placeholders it needs values for.
    pub secrets: Vec<String>,
}

/// Steps shorter than this apart are not a pause of the host's.
const PAUSE_US: u64 = 20_000;
/// Answers further apart than this are separate expectations.
const BURST_US: u64 = 200_000;
/// Module data longer than this is checked by its MD5.
const DIGEST_OVER: usize = 256;

/// One thing of the session, in time order.
#[derive(Debug, Clone)]
enum Item {
    Send(Vec<Piece>),
    SendData(Vec<u8>),
    Expect(Vec<Piece>),
    ExpectData(Vec<u8>),
    Comment(String),
}

/// The trace as read: its module, terminal and items.
struct Session {
    model: Option<String>,
    imei: Option<String>,
    items: Vec<(u64, Item)>,
    ports: BTreeSet<u16>,
    ftp: bool,
    greeting: Option<String>,
    secrets: Vec<String>,
    notes: Vec<String>,
}

/// Converts a trace's text.
pub fn convert(trace: &str, options: &Options) -> Result<Converted, String> {
    let records = parse(trace)?;
    let (m, term) = choose(&records, options)?;
    let mut session = read_session(&records, m, term)?;
    let ftp_server = session.ftp.then(|| {
        options
            .ftp_server
            .clone()
            .unwrap_or_else(|| server_kind(session.greeting.as_deref()).to_string())
    });
    if let Some(kind) = &ftp_server
        && options.ftp_server.is_none()
    {
        session.notes.push(format!(
            "the session used FTP: `# ftp-server: {kind}` (give --ftp-server KIND for another)"
        ));
    }
    placeholders(&mut session, ftp_server.is_some());
    let mut out = header(&session, ftp_server.as_deref());
    let vary = Varying {
        exact: &options.exact,
        ports: &session.ports,
        imei: session.imei.as_deref(),
    };
    let mut emitter = Emitter {
        lines: Vec::new(),
        vary,
        pending: Vec::new(),
        last_send: None,
        last_seen: 0,
    };
    for (t, item) in merge_data(std::mem::take(&mut session.items)) {
        emitter.item(t, item);
    }
    emitter.flush();
    out.extend(emitter.lines);
    let mut text = out.join("\n");
    text.push('\n');
    Ok(Converted {
        text,
        notes: session.notes,
        secrets: session.secrets,
    })
}

/// Every record of the trace, checked to be a trace of a version this reads.
fn parse(trace: &str) -> Result<Vec<Value>, String> {
    let mut records = Vec::new();
    for (i, line) in trace.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        if records.is_empty() {
            if value["k"] != "trace" {
                return Err(
                    "line 1: not a trace header (`{\"k\":\"trace\",\"v\":1,…}`): \
                            a trace written by this version of ubxftp --trace is needed"
                        .into(),
                );
            }
            let v = value["v"].as_u64().unwrap_or(0);
            if v != u64::from(crate::trace::VERSION) {
                return Err(format!(
                    "line 1: trace format version {v}; this ubxftp reads version {}",
                    crate::trace::VERSION
                ));
            }
        }
        records.push(value);
    }
    if records.is_empty() {
        return Err("the trace is empty".into());
    }
    Ok(records)
}

/// The module and terminal to replay.
fn choose(records: &[Value], options: &Options) -> Result<(u64, u64), String> {
    let mut seen: Vec<(u64, u64)> = Vec::new();
    for r in records {
        if r["k"] == "io" && r["dir"] == "in" {
            let key = (
                r["m"].as_u64().unwrap_or(0),
                r["term"].as_u64().unwrap_or(0),
            );
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
    }
    seen.into_iter()
        .find(|(m, t)| {
            options.module.is_none_or(|x| x == *m) && options.term.is_none_or(|x| x == *t)
        })
        .ok_or_else(|| {
            "no terminal of the trace received host bytes (or none matches --module/--term)".into()
        })
}

/// The chosen terminal's items, and what the rest of its module tells about them.
fn read_session(records: &[Value], m: u64, term: u64) -> Result<Session, String> {
    let mut s = Session {
        model: None,
        imei: None,
        items: Vec::new(),
        ports: BTreeSet::new(),
        ftp: false,
        greeting: None,
        secrets: Vec::new(),
        notes: Vec::new(),
    };
    let mut other_terms = BTreeSet::new();
    for r in records.iter().filter(|r| r["m"].as_u64() == Some(m)) {
        let t = r["t"].as_u64().unwrap_or(0);
        let kind = r["k"].as_str().unwrap_or_default();
        match kind {
            "module" => {
                s.model = r["model"].as_str().map(str::to_string);
                s.imei = r["imei"].as_str().map(str::to_string);
            }
            "io" | "term" if r["term"].as_u64() != Some(term) => {
                other_terms.insert(r["term"].as_u64().unwrap_or(0));
            }
            "io" => s.items.push((t, io_item(r)?)),
            "term" => s.term_event(t, r),
            "net" => s.net_event(t, r),
            "ftp" | "http" | "mqtt" => s.dialogue(t, kind, r),
            "field" => s.field_event(t, r),
            _ => {}
        }
    }
    if !other_terms.is_empty() {
        s.notes.push(format!(
            "module {m} had other terminals ({other_terms:?}): only terminal {term} is replayed"
        ));
    }
    s.ftp |= s.items.iter().any(|(_, i)| {
        match i {
        Item::Send(p) => p.iter().any(|p| {
            matches!(p, Piece::Lit(b) if b.to_ascii_uppercase().windows(5).any(|w| w == b"+UFTP"))
        }),
        _ => false,
    }
    });
    Ok(s)
}

/// An `io` record as an item, its masks as secret placeholders (named later).
fn io_item(r: &Value) -> Result<Item, String> {
    let data = unescape(r["data"].as_str().unwrap_or_default())
        .map_err(|e| format!("a record's data: {e}"))?;
    let secrets: Vec<String> = r["masked"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let pieces = split_masks(&data, &secrets);
    Ok(match r["dir"].as_str().unwrap_or_default() {
        "in" => Item::Send(pieces),
        "data-in" => Item::SendData(data),
        "data-out" => Item::ExpectData(data),
        _ => Item::Expect(pieces),
    })
}

/// `data` with each mask, in order, as the placeholder of the secret it hides.
fn split_masks(data: &[u8], secrets: &[String]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = data;
    for name in secrets {
        let Some(i) = rest.windows(MASK.len()).position(|w| w == MASK.as_bytes()) else {
            break;
        };
        out.push(Piece::Lit(rest[..i].to_vec()));
        out.push(Piece::Var(format!("secret:{name}")));
        rest = &rest[i + MASK.len()..];
    }
    out.push(Piece::Lit(rest.to_vec()));
    joined(out)
}

impl Session {
    fn comment(&mut self, t: u64, text: String) {
        self.items
            .push((t, Item::Comment(format!("[{}] {text}", seconds(t)))));
    }

    fn term_event(&mut self, t: u64, r: &Value) {
        match r["ev"].as_str().unwrap_or_default() {
            "line-fault" => {
                self.notes.push(format!(
                    "at {} s a line fault changed the terminal's bytes: they were not recorded, \
                     and the transcript does not replay them",
                    seconds(t)
                ));
                self.comment(t, format!("line fault: {} not recorded", r["bytes"]));
            }
            "dtr" => {
                self.notes.push(format!(
                    "at {} s the host turned DTR {}: `ubxftp script` has no DTR line",
                    seconds(t),
                    if r["on"] == true { "on" } else { "off" }
                ));
                self.comment(t, format!("DTR {}", r["on"]));
            }
            "data-mode" => {
                let on = if r["on"] == true { "enters" } else { "leaves" };
                self.comment(t, format!("the terminal {on} data mode"));
            }
            _ => {}
        }
    }

    fn net_event(&mut self, t: u64, r: &Value) {
        for end in ["local", "remote"] {
            if let Some(port) = r[end]
                .as_str()
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .map(|a| a.port())
                .filter(|p| *p >= 1024)
            {
                self.ports.insert(port);
            }
        }
        let conn = &r["conn"];
        let text = match r["ev"].as_str().unwrap_or_default() {
            // A connection's bytes (`--trace-data`): the network side's comments hold its
            // events, not its contents.
            "data" => return,
            "open" => format!(
                "net {conn} open {} {} -> {}",
                r["role"].as_str().unwrap_or_default(),
                r["local"].as_str().unwrap_or("?"),
                r["remote"].as_str().unwrap_or("?")
            ),
            "close" => format!("net {conn} close, in {} B, out {} B", r["in"], r["out"]),
            "reset" => format!("net {conn} reset ({})", r["cause"].as_str().unwrap_or("?")),
            "cut" => format!("net {conn} cut by a fault"),
            "tls" => format!(
                "net {conn} tls {} {}",
                r["version"].as_str().unwrap_or("?"),
                r["suite"].as_str().unwrap_or("?")
            ),
            other => format!("net {conn} {other}"),
        };
        self.comment(t, text);
    }

    fn dialogue(&mut self, t: u64, service: &str, r: &Value) {
        let text = r["text"].as_str().unwrap_or_default().replace('\n', " | ");
        let sent = r["dir"] == "sent";
        if service == "ftp" {
            self.ftp = true;
            if !sent && self.greeting.is_none() && text.starts_with("220") {
                self.greeting = Some(text.clone());
            }
        }
        let arrow = if sent { ">" } else { "<" };
        self.comment(t, format!("{service} {arrow} {text}"));
    }

    fn field_event(&mut self, t: u64, r: &Value) {
        let text = match r["ev"].as_str().unwrap_or_default() {
            "fault" => {
                let what = format!(
                    "fault {} fires: {} {}",
                    r["fault"],
                    r["target"].as_str().unwrap_or("?"),
                    r["action"].as_str().unwrap_or("?")
                );
                self.notes.push(format!(
                    "at {} s {what}; the transcript does not set faults: run it with --faults FILE",
                    seconds(t)
                ));
                what
            }
            "link" => format!("the link is now {}", r["spec"].as_str().unwrap_or("?")),
            "bearer" => format!(
                "context {} {} ({})",
                r["cid"],
                if r["up"] == true { "up" } else { "down" },
                r["cause"].as_str().unwrap_or("?")
            ),
            "power" => format!(
                "power {} ({})",
                if r["on"] == true { "on" } else { "off" },
                r["cause"].as_str().unwrap_or("?")
            ),
            other => format!("field {other}"),
        };
        self.comment(t, text);
    }
}

fn seconds(t: u64) -> String {
    format!("{:.3}", t as f64 / 1e6)
}

/// The `# ftp-server:` kind a greeting names.
fn server_kind(greeting: Option<&str>) -> &'static str {
    let g = greeting.unwrap_or_default().to_ascii_lowercase();
    if g.contains("vsftpd") {
        "vsftpd"
    } else if g.contains("pure-ftpd") {
        "pure-ftpd"
    } else if g.contains("proftpd") {
        "proftpd"
    } else if g.contains("pyftpdlib") {
        "pyftpdlib"
    } else {
        "libunftp"
    }
}

static FTP_VALUES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r#"(?i)\+UFTP\s*[=:]\s*[01]\s*,\s*"([^"\r\n]*)""#, "ftp-ip"),
        (r#"(?i)\+UFTP\s*[=:]\s*2\s*,\s*"([^"\r\n]*)""#, "ftp-user"),
        (r"(?i)\+UFTP\s*[=:]\s*7\s*,\s*(\d+)", "ftp-port"),
    ]
    .into_iter()
    .filter_map(|(p, n)| Regex::new(p).ok().map(|re| (re, n)))
    .collect()
});

/// Names the placeholders: the FTP server's values when the header starts a server, each
/// secret `{secret:NAME}` (`NAME-2`, … when one comes again in the host's bytes).
fn placeholders(s: &mut Session, ftp: bool) {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for (_, item) in &mut s.items {
        let (pieces, host) = match item {
            Item::Send(p) => (p, true),
            Item::Expect(p) => (p, false),
            _ => continue,
        };
        let mut out = Vec::new();
        for p in std::mem::take(pieces) {
            match p {
                Piece::Var(v) => {
                    let base = v.trim_start_matches("secret:").to_string();
                    let name = if ftp && base == "ftp-password" {
                        base
                    } else if host {
                        let n = count.entry(base.clone()).or_default();
                        *n += 1;
                        let name = match n {
                            1 => format!("secret:{base}"),
                            n => format!("secret:{base}-{n}"),
                        };
                        last.insert(base, name.clone());
                        name
                    } else {
                        last.get(&base).cloned().unwrap_or(v)
                    };
                    out.push(Piece::Var(name));
                }
                Piece::Lit(b) if ftp => out.extend(ftp_values(&b)),
                other => out.push(other),
            }
        }
        *pieces = joined(out);
    }
    let mut names: Vec<String> = s
        .items
        .iter()
        .flat_map(|(_, i)| match i {
            Item::Send(p) | Item::Expect(p) => p.clone(),
            _ => Vec::new(),
        })
        .filter_map(|p| match p {
            Piece::Var(v) => v.strip_prefix("secret:").map(str::to_string),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    s.secrets = names;
}

/// The FTP server's address, user and port in `+UFTP` commands and answers as placeholders.
fn ftp_values(bytes: &[u8]) -> Vec<Piece> {
    let mut spans: Vec<(std::ops::Range<usize>, &'static str)> = FTP_VALUES
        .iter()
        .flat_map(|(re, name)| {
            re.captures_iter(bytes)
                .filter_map(|c| c.get(1).map(|g| (g.range(), *name)))
                .collect::<Vec<_>>()
        })
        .collect();
    spans.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::new();
    let mut last = 0;
    for (range, name) in spans {
        if range.start < last {
            continue;
        }
        out.push(Piece::Lit(bytes[last..range.start].to_vec()));
        out.push(Piece::Var(name.to_string()));
        last = range.end;
    }
    out.push(Piece::Lit(bytes[last..].to_vec()));
    out
}

/// The transcript's header: prose, `# model:`, `# ftp-server:`, and the secrets it needs.
fn header(s: &Session, ftp_server: Option<&str>) -> Vec<String> {
    let mut out = vec![
        "# Recorded with `ubxftp ... --trace` and converted by `ubxftp trace to-transcript`."
            .into(),
        "# The host's bytes are sent as they were, after the pauses it made; the module's are"
            .into(),
        "# expected, with patterns for what varies (times, addresses, ports, IMEI, listing".into(),
        "# dates, MD5s: `--exact KIND` keeps them). Comments show the network side.".into(),
    ];
    if !s.secrets.is_empty() {
        out.push(
            "# Secrets to give with `ubxftp script --secret NAME=VALUE` (or UBXFTP_SECRET_NAME):"
                .into(),
        );
        out.push(format!("#   {}", s.secrets.join(" ")));
    }
    if let Some(model) = &s.model {
        out.push(format!("# model: {model}"));
    }
    if let Some(kind) = ftp_server {
        out.push(format!("# ftp-server: {kind}"));
    }
    out.push(String::new());
    out
}

/// Host data read in pieces a moment apart, joined: the transport's chunks, not the host's.
fn merge_data(items: Vec<(u64, Item)>) -> Vec<(u64, Item)> {
    let mut items = items;
    // Stable: records of one time keep the order they were written in.
    items.sort_by_key(|(t, _)| *t);
    let mut out: Vec<(u64, Item)> = Vec::new();
    let mut last_t = 0;
    for (t, item) in items {
        if let (Some((_, Item::SendData(prev))), Item::SendData(more)) = (out.last_mut(), &item)
            && t.saturating_sub(last_t) < PAUSE_US
        {
            prev.extend_from_slice(more);
            last_t = t;
            continue;
        }
        if matches!(item, Item::SendData(_)) {
            last_t = t;
        }
        out.push((t, item));
    }
    out
}

/// What the module said, waiting for the host's next step.
enum Pending {
    Out(Vec<Piece>),
    Data(Vec<u8>),
    Comment(String),
}

/// Writes the steps.
struct Emitter<'a> {
    lines: Vec<String>,
    vary: Varying<'a>,
    pending: Vec<(u64, Pending)>,
    last_send: Option<u64>,
    /// The last step's time: a send, or the last answer expected.
    last_seen: u64,
}

impl Emitter<'_> {
    fn item(&mut self, t: u64, item: Item) {
        match item {
            Item::Send(p) => self.send(t, &p, false),
            Item::SendData(d) => self.send(t, &[Piece::Lit(d)], true),
            Item::Expect(p) => self.pending.push((t, Pending::Out(p))),
            Item::ExpectData(d) => self.pending.push((t, Pending::Data(d))),
            Item::Comment(c) => self.pending.push((t, Pending::Comment(c))),
        }
    }

    /// A send, after the pause the host made: in data mode its own silence (what frames
    /// `+++`), otherwise the time since it last sent or heard something.
    fn send(&mut self, t: u64, pieces: &[Piece], data: bool) {
        self.flush();
        if let Some(last) = self.last_send {
            let since = if data { last } else { last.max(self.last_seen) };
            let pause = t.saturating_sub(since);
            if pause >= PAUSE_US {
                self.lines.push(format!("sleep {}", pause / 1000));
            }
        }
        self.lines.push(send_step(pieces, data));
        self.last_send = Some(t);
        self.last_seen = t;
    }

    /// Writes the expectations (and comments) waiting, in bursts.
    fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let mut prev = self.last_seen;
        let mut burst: Vec<(u64, Pending)> = Vec::new();
        for (t, p) in pending {
            let gap = burst.last().map(|(b, _)| t.saturating_sub(*b));
            match p {
                Pending::Comment(c) => {
                    prev = self.burst(std::mem::take(&mut burst), prev);
                    self.lines.push(format!("#   {c}"));
                }
                p if gap.is_some_and(|g| g > BURST_US) => {
                    prev = self.burst(std::mem::take(&mut burst), prev);
                    burst.push((t, p));
                }
                p => burst.push((t, p)),
            }
        }
        prev = self.burst(burst, prev);
        self.last_seen = self.last_seen.max(prev);
    }

    /// One burst of answers, `prev` the time of what came before it; returns its last time.
    fn burst(&mut self, burst: Vec<(u64, Pending)>, prev: u64) -> u64 {
        let (Some((first, _)), Some((last, _))) = (burst.first(), burst.last()) else {
            return prev;
        };
        let (first, last) = (*first, *last);
        let wait = first.saturating_sub(prev);
        let mut timeout = (wait > 1_000_000).then(|| timeout_ms(wait));
        let mut out: Vec<Piece> = Vec::new();
        let mut data: Vec<u8> = Vec::new();
        for (_, p) in burst {
            match p {
                Pending::Out(pieces) => {
                    if !data.is_empty() {
                        self.expect_data(&std::mem::take(&mut data), last - prev);
                    }
                    out.extend(pieces);
                }
                Pending::Data(d) => {
                    if !out.is_empty() {
                        self.expect_out(std::mem::take(&mut out), timeout.take());
                    }
                    data.extend_from_slice(&d);
                }
                Pending::Comment(_) => {}
            }
        }
        if !data.is_empty() {
            self.expect_data(&data, last - prev);
        }
        if !out.is_empty() {
            self.expect_out(out, timeout);
        }
        last
    }

    /// The module's answers: line by line exact (`<`) or, where something varies, patterns
    /// (`<?`); lines of a kind together in one step.
    fn expect_out(&mut self, pieces: Vec<Piece>, timeout: Option<u64>) {
        let pieces = self.vary.listings(joined(pieces));
        let mut steps: Vec<(bool, Vec<Piece>)> = Vec::new();
        // A blank line (the CR LF before information text) goes with the line after it.
        let mut blank: Vec<Piece> = Vec::new();
        for line in lines(&pieces) {
            if line == [Piece::Lit(b"\r\n".to_vec())] {
                blank.extend(line);
                continue;
            }
            let line = joined(std::mem::take(&mut blank).into_iter().chain(line));
            let secret = line.iter().any(Piece::is_secret);
            let (is_re, line) = match self.vary.line(&line) {
                Some(p) if !secret => (true, p),
                _ => (line.iter().any(|p| matches!(p, Piece::Re(_))), line),
            };
            match steps.last_mut() {
                Some((r, acc)) if *r == is_re => acc.extend(line),
                _ => steps.push((is_re, line)),
            }
        }
        match steps.last_mut() {
            Some((_, acc)) => acc.extend(blank),
            None if !blank.is_empty() => steps.push((false, blank)),
            None => {}
        }
        let mut timeout = timeout.map(|t| t.to_string());
        for (is_re, step) in steps {
            let n = timeout.take().unwrap_or_default();
            let step = joined(step);
            self.lines.push(if is_re {
                format!("<?{n} {}", regex(&step))
            } else {
                format!("<{n} {}", literal(&step))
            });
        }
    }

    /// A direct link's data: exact when short, by its MD5 when long, with the time it took.
    fn expect_data(&mut self, data: &[u8], took: u64) {
        if data.len() <= DIGEST_OVER {
            let n = if took > 1_000_000 {
                timeout_ms(took).to_string()
            } else {
                String::new()
            };
            self.lines
                .push(format!("<{n} {}", literal(&[Piece::Lit(data.to_vec())])));
            return;
        }
        let md5: String = Md5::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let long = took > 1_000_000;
        if long {
            self.lines.push(format!("timeout {}", timeout_ms(took)));
        }
        self.lines.push(format!("<md5 {} {md5}", data.len()));
        if long {
            self.lines.push("timeout 2000".into());
        }
    }
}

/// A step's timeout for something that took `us`: twice that and a second, in whole seconds,
/// at least the default 2 s.
fn timeout_ms(us: u64) -> u64 {
    let ms = (2 * us / 1000 + 1000).div_ceil(1000) * 1000;
    ms.max(2000)
}

/// A send step: `> LINE` for one command line ended by CR, `>>pattern N` for a pattern file,
/// `>> BYTES` otherwise.
fn send_step(pieces: &[Piece], data: bool) -> String {
    if let [Piece::Lit(bytes)] = pieces
        && data
        && bytes.len() >= 64
        && bytes.iter().enumerate().all(|(i, b)| *b == i as u8)
    {
        return format!(">>pattern {}", bytes.len());
    }
    if !data
        && let Some(Piece::Lit(last)) = pieces.last()
        && last.ends_with(b"\r")
    {
        let mut line = pieces.to_vec();
        if let Some(Piece::Lit(last)) = line.last_mut() {
            last.pop();
        }
        let one_line = line
            .iter()
            .all(|p| !matches!(p, Piece::Lit(b) if b.iter().any(|c| *c == b'\r' || *c == b'\n')));
        let text = literal(&joined(line));
        if one_line && !text.is_empty() && !text.starts_with(' ') {
            return format!("> {text}");
        }
    }
    format!(">> {}", literal(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(lines: &[&str]) -> String {
        let mut t = String::from(
            "{\"k\":\"trace\",\"v\":1}\n{\"t\":0,\"m\":1,\"k\":\"module\",\"model\":\"sara-r5\",\"imei\":\"004402090123450\"}\n",
        );
        for l in lines {
            t.push_str(l);
            t.push('\n');
        }
        t
    }

    #[test]
    fn sends_pauses_answers_and_secrets_become_steps() {
        let t = trace(&[
            r#"{"t":10,"m":1,"k":"io","term":1,"dir":"in","data":"AT+CGSN\r"}"#,
            r#"{"t":10,"m":1,"k":"io","term":1,"dir":"out","data":"AT+CGSN\r\r\n004402090123450\r\n\r\nOK\r\n"}"#,
            r#"{"t":600010,"m":1,"k":"io","term":1,"dir":"in","data":"AT+UDWNFILE=\"a\",1\r"}"#,
            r#"{"t":600010,"m":1,"k":"io","term":1,"dir":"out","data":"AT+UDWNFILE=\"a\",1\r>"}"#,
            r#"{"t":1100010,"m":1,"k":"io","term":1,"dir":"in","data":"{"}"#,
            r#"{"t":1100010,"m":1,"k":"io","term":1,"dir":"out","data":"\r\nOK\r\n"}"#,
            r#"{"t":1200010,"m":1,"k":"io","term":1,"dir":"in","data":"AT+CGAUTH=1,1,\"u\",\"***\"\r","masked":["pdp-password"],"held":true}"#,
            r#"{"t":1200010,"m":1,"k":"io","term":1,"dir":"out","data":"AT+CGAUTH=1,1,\"u\",\"***\"\r","masked":["pdp-password"],"held":true}"#,
            r#"{"t":1300000,"m":1,"k":"io","term":1,"dir":"out","data":"\r\nOK\r\n"}"#,
            r#"{"t":5300000,"m":1,"k":"io","term":1,"dir":"out","data":"\r\n+CCLK: \"24/11/26,10:00:00+00\"\r\n"}"#,
        ]);
        let c = convert(&t, &Options::default()).unwrap();
        let steps: Vec<&str> = c
            .text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert_eq!(
            steps,
            [
                "> AT+CGSN",
                "< AT+CGSN\\r\\r\\n",
                r"<? \d{15}\r\n",
                "< \\r\\nOK\\r\\n",
                "sleep 600",
                "> AT+UDWNFILE=\"a\",1",
                "< AT+UDWNFILE=\"a\",1\\r>",
                "sleep 500",
                ">> \\x7b",
                "< \\r\\nOK\\r\\n",
                "sleep 100",
                "> AT+CGAUTH=1,1,\"u\",\"{secret:pdp-password}\"",
                "< AT+CGAUTH=1,1,\"u\",\"{secret:pdp-password}\"\\r\\r\\nOK\\r\\n",
                r#"<?9000 \r\n\+CCLK: "\d\d/\d\d/\d\d,\d\d:\d\d:\d\d(?:[+-]\d\d)?"\r\n"#,
            ],
            "{}",
            c.text
        );
        assert!(c.text.contains("# model: sara-r5\n"));
        assert_eq!(c.secrets, ["pdp-password"]);
    }

    #[test]
    fn an_ftp_session_gets_its_server_and_placeholders() {
        let t = trace(&[
            r#"{"t":1,"m":1,"k":"io","term":1,"dir":"in","data":"AT+UFTP=7,40123\r"}"#,
            r#"{"t":1,"m":1,"k":"io","term":1,"dir":"out","data":"AT+UFTP=7,40123\r\r\nOK\r\n"}"#,
            r#"{"t":2,"m":1,"k":"io","term":1,"dir":"in","data":"AT+UFTP=3,\"***\"\r","masked":["ftp-password"]}"#,
            r#"{"t":3,"m":1,"k":"ftp","dir":"received","text":"220 (vsFTPd 3.0.5)"}"#,
        ]);
        let c = convert(&t, &Options::default()).unwrap();
        assert!(c.text.contains("# ftp-server: vsftpd\n"), "{}", c.text);
        assert!(c.text.contains("> AT+UFTP=7,{ftp-port}\n"), "{}", c.text);
        assert!(
            c.text.contains("< AT+UFTP=7,{ftp-port}\\r\\r\\nOK\\r\\n\n"),
            "{}",
            c.text
        );
        assert!(
            c.text.contains("> AT+UFTP=3,\"{ftp-password}\"\n"),
            "{}",
            c.text
        );
        assert!(
            c.text.contains("#   [0.000] ftp < 220 (vsFTPd 3.0.5)\n"),
            "{}",
            c.text
        );
        assert!(c.secrets.is_empty());
    }
}
