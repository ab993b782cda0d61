//! The secrets a trace never writes, and the one exception they make to its exactness.
//!
//! [`SECRETS`] is the one list: the commands whose string parameter is a secret, each with the
//! name a transcript's placeholder takes (`{secret:ftp-password}`, docs/TRACE.md). A [`Masker`]
//! sits on one direction of one terminal. Bytes go through it as they are read or written and
//! come out as records at once — except a line that may carry a secret: from the byte where one
//! of the commands' names begins (`+UFTP=3`, `+CGAUTH=`, …; a read or write that ends with the
//! start of one is held too, until the next shows whether it goes on) the line is held, and
//! recorded masked, in one record, when it ends, with the time of its first held byte. The
//! payload of `AT+USECMNG=0` (a key or a certificate) is recorded as its length only.

use std::sync::LazyLock;

use regex::bytes::Regex;
use tokio::time::Instant;

/// A secret: its name, the command text from which a line is held, and the pattern whose
/// capture group 1 is what comes before the secret (the secret is masked up to its closing
/// quote or the line's end).
pub struct Secret {
    pub name: &'static str,
    keyword: &'static str,
    pattern: &'static str,
}

/// Every secret a command can carry (docs/TRACE.md, "Secrets").
pub const SECRETS: &[Secret] = &[
    // AT+UFTP=3,"<password>"
    Secret {
        name: "ftp-password",
        keyword: "+UFTP=3",
        pattern: r#"(?i)(\+UFTP\s*=\s*3\s*,\s*")[^"\r\n]*"#,
    },
    // AT+CGAUTH=<cid>,<auth>,"<user>","<password>"
    Secret {
        name: "pdp-password",
        keyword: "+CGAUTH=",
        pattern: r#"(?i)(\+CGAUTH\s*=[^,\r\n]*,[^,\r\n]*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
    },
    // AT+UAUTHREQ=<cid>,<auth>,"<a>","<b>": user and password, in either order per model:
    // both strings are masked.
    Secret {
        name: "uauthreq-1",
        keyword: "+UAUTHREQ=",
        pattern: r#"(?i)(\+UAUTHREQ\s*=[^,\r\n]*,[^,\r\n]*,\s*")[^"\r\n]*"#,
    },
    Secret {
        name: "uauthreq-2",
        keyword: "+UAUTHREQ=",
        pattern: r#"(?i)(\+UAUTHREQ\s*=[^,\r\n]*,[^,\r\n]*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
    },
    // AT+UPSD=<profile>,3,"<password>"
    Secret {
        name: "psd-password",
        keyword: "+UPSD=",
        pattern: r#"(?i)(\+UPSD\s*=[^,\r\n]*,\s*3\s*,\s*")[^"\r\n]*"#,
    },
    // AT+USECPRF=<profile>,7,"<key password>"
    Secret {
        name: "usecprf-password",
        keyword: "+USECPRF=",
        pattern: r#"(?i)(\+USECPRF\s*=[^,\r\n]*,\s*7\s*,\s*")[^"\r\n]*"#,
    },
    // AT+USECMNG=0|1,<type>,"<name>",<size or file>,"<key password>"
    Secret {
        name: "usecmng-password",
        keyword: "+USECMNG=",
        pattern: r#"(?i)(\+USECMNG\s*=\s*[01]\s*,[^,\r\n]*,\s*"[^"\r\n]*"\s*,[^,\r\n]*,\s*")[^"\r\n]*"#,
    },
    // AT+UHTTP=<profile>,3,"<password>"
    Secret {
        name: "http-password",
        keyword: "+UHTTP=",
        pattern: r#"(?i)(\+UHTTP\s*=[^,\r\n]*,\s*3\s*,\s*")[^"\r\n]*"#,
    },
    // AT+UMQTT=4,"<user>","<password>"
    Secret {
        name: "mqtt-password",
        keyword: "+UMQTT=4",
        pattern: r#"(?i)(\+UMQTT\s*=\s*4\s*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
    },
];

/// The name of the secret payload of `AT+USECMNG=0` (a key or a certificate).
pub const USECMNG_DATA: &str = "usecmng-data";

/// What a masked secret is written as.
pub const MASK: &str = "***";

/// A line held longer than this is over-long: it is recorded masked so far, and the rest of it
/// is not recorded.
const MAX_HELD: usize = 8192;

static PATTERNS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    SECRETS
        .iter()
        .filter_map(|s| Regex::new(s.pattern).ok().map(|re| (re, s.name)))
        .collect()
});

/// `AT+USECMNG=0,<type>,"<name>",<size>`: a payload of `<size>` bytes follows its prompt.
static USECMNG_PAYLOAD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\+USECMNG\s*=\s*0\s*,[^,\r\n]*,[^,\r\n]*,\s*(\d{1,9})"#).ok()
});

/// One record of bytes, masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When its first byte was read or written.
    pub at: Instant,
    pub data: Vec<u8>,
    /// The secrets masked in it, in their order.
    pub secrets: Vec<&'static str>,
    /// It was held until its line ended (so it is written after records of later times).
    pub held: bool,
}

/// `data` with every secret replaced by [`MASK`], and the names of those replaced, in order.
pub fn mask(data: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
    mask_from(data, 0)
}

/// [`mask`] of `data[from..]`, the bytes before `from` read as what came before them on the
/// line (a command's name typed in an earlier read).
fn mask_from(data: &[u8], from: usize) -> (Vec<u8>, Vec<&'static str>) {
    let mut found: Vec<(std::ops::Range<usize>, &'static str)> = Vec::new();
    for (re, name) in PATTERNS.iter() {
        for caps in re.captures_iter(data) {
            if let (Some(all), Some(head)) = (caps.get(0), caps.get(1)) {
                found.push((head.end().max(from)..all.end().max(from), name));
            }
        }
    }
    found.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(data.len());
    let mut names = Vec::new();
    let mut last = from;
    for (range, name) in found {
        if range.start < last || (range.is_empty() && range.start == from && from > 0) {
            continue;
        }
        out.extend_from_slice(&data[last..range.start]);
        out.extend_from_slice(MASK.as_bytes());
        names.push(name);
        last = range.end;
    }
    out.extend_from_slice(&data[last..]);
    (out, names)
}

/// Upper-case, without blanks: what the keywords are looked for in.
fn normalized(line: &[u8]) -> Vec<u8> {
    line.iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_uppercase)
        .collect()
}

/// Whether a line (so far) holds one of the commands that carry a secret.
fn carries(line: &[u8]) -> bool {
    let line = normalized(line);
    SECRETS.iter().any(|s| {
        let k = s.keyword.as_bytes();
        line.windows(k.len()).any(|w| w == k)
    })
}

/// How much of a recorded line is kept to read what follows in: longer than any keyword.
const CONTEXT: usize = 24;

/// Bytes held, with the time each came.
#[derive(Debug)]
struct Piece {
    at: Instant,
    bytes: Vec<u8>,
}

/// Bytes recorded at once, masked (a whole line in one read), with the names masked.
#[derive(Default)]
struct Plain {
    data: Vec<u8>,
    secrets: Vec<&'static str>,
}

/// One direction of one terminal.
#[derive(Debug, Default)]
pub struct Masker {
    /// The end of the current line as recorded already: a keyword may begin in it.
    context: Vec<u8>,
    /// The current line, held since one of the keywords appeared in it.
    held: Vec<Piece>,
    /// Bytes of a secret payload still to come (`AT+USECMNG=0`), in the host's direction.
    payload: usize,
    /// The rest of an over-long held line is not recorded.
    dropping: bool,
    /// Look for payload commands (the host's direction).
    host: bool,
}

impl Masker {
    /// The host's direction: `AT+USECMNG=0`'s payload is masked.
    pub fn host() -> Masker {
        Masker {
            host: true,
            ..Masker::default()
        }
    }

    /// The module's direction.
    pub fn module() -> Masker {
        Masker::default()
    }

    /// Bytes read or written at `at`: the records to write now.
    pub fn push(&mut self, at: Instant, bytes: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        let mut plain = Plain::default();
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.payload > 0 {
                flush(&mut plain, at, &mut out);
                let n = self.payload.min(rest.len());
                out.push(Record {
                    at,
                    data: MASK.as_bytes().to_vec(),
                    secrets: vec![USECMNG_DATA],
                    held: false,
                });
                self.payload -= n;
                rest = &rest[n..];
                continue;
            }
            match rest.iter().position(|b| *b == b'\r' || *b == b'\n') {
                Some(end) => {
                    self.line_end(at, &rest[..=end], &mut plain, &mut out);
                    rest = &rest[end + 1..];
                }
                None => {
                    self.partial(at, rest, &mut plain, &mut out);
                    rest = &[];
                }
            }
        }
        flush(&mut plain, at, &mut out);
        out
    }

    /// A secret payload is over (or never came: the command failed): bytes are lines again.
    pub fn payload_over(&mut self) {
        self.payload = 0;
    }

    /// Whatever is held, as one record (the terminal closed, or data mode begins).
    pub fn flush(&mut self) -> Vec<Record> {
        self.dropping = false;
        let mut out = Vec::new();
        self.record_held(&[], &mut out);
        self.context.clear();
        out
    }

    /// The line so far: its recorded end, what is held, and `seg`.
    fn line_with(&self, seg: &[u8]) -> Vec<u8> {
        let mut line = self.context.clone();
        for p in &self.held {
            line.extend_from_slice(&p.bytes);
        }
        line.extend_from_slice(seg);
        line
    }

    /// The held line and `seg` after it, masked, in one record at the time of its first held
    /// byte: the exception to exactness.
    fn record_held(&mut self, seg: &[u8], out: &mut Vec<Record>) {
        let Some(first) = self.held.first().map(|p| p.at) else {
            return;
        };
        let line = self.line_with(seg);
        let (data, secrets) = mask_from(&line, self.context.len());
        self.held.clear();
        out.push(Record {
            at: first,
            data,
            secrets,
            held: true,
        });
    }

    /// `seg` ends a line (its last byte is CR or LF).
    fn line_end(&mut self, at: Instant, seg: &[u8], plain: &mut Plain, out: &mut Vec<Record>) {
        if std::mem::take(&mut self.dropping) {
            self.context.clear();
            return;
        }
        let line = self.line_with(seg);
        if self.host
            && let Some(re) = USECMNG_PAYLOAD.as_ref()
            && let Some(n) = re.captures(&line).and_then(|c| c.get(1))
        {
            self.payload = std::str::from_utf8(n.as_bytes())
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        }
        if self.held.is_empty() {
            let (data, secrets) = mask_from(&line, self.context.len());
            plain.data.extend_from_slice(&data);
            plain.secrets.extend(secrets);
        } else {
            flush(plain, at, out);
            self.record_held(seg, out);
        }
        self.context.clear();
    }

    /// `seg` is the start (or more) of a line that has not ended yet.
    fn partial(&mut self, at: Instant, seg: &[u8], plain: &mut Plain, out: &mut Vec<Record>) {
        if self.dropping {
            return;
        }
        let line = self.line_with(seg);
        if self.held.is_empty() && !carries(&line) {
            let (data, secrets) = mask_from(&line, self.context.len());
            plain.data.extend_from_slice(&data);
            plain.secrets.extend(secrets);
            let keep = line.len().saturating_sub(CONTEXT);
            self.context = line[keep..].to_vec();
            return;
        }
        flush(plain, at, out);
        self.held.push(Piece {
            at,
            bytes: seg.to_vec(),
        });
        if line.len() > MAX_HELD {
            // Never ends: what came is recorded masked, the rest of the line not at all.
            self.record_held(&[], out);
            self.dropping = true;
        }
    }
}

/// Records the bytes gathered for one record at `at`.
fn flush(plain: &mut Plain, at: Instant, out: &mut Vec<Record>) {
    if plain.data.is_empty() {
        return;
    }
    let Plain { data, secrets } = std::mem::take(plain);
    out.push(Record {
        at,
        data,
        secrets,
        held: false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn texts(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect()
    }

    #[test]
    fn every_secret_is_masked_and_named() {
        let lines: &[(&str, &[&str])] = &[
            ("AT+UFTP=3,\"ftp-pw\"\r", &["ftp-password"]),
            ("AT+CGAUTH=1,1,\"user\",\"cg-pw\"\r", &["pdp-password"]),
            (
                "AT+UAUTHREQ=1,1,\"ua-a\",\"ua-b\"\r",
                &["uauthreq-1", "uauthreq-2"],
            ),
            ("AT+UPSD=0,3,\"psd-pw\"\r", &["psd-password"]),
            ("AT+USECPRF=0,7,\"key-pw\"\r", &["usecprf-password"]),
            (
                "AT+USECMNG=1,2,\"k\",\"k.pem\",\"mng-pw\"\r",
                &["usecmng-password"],
            ),
            ("AT+UHTTP=0,3,\"http-pw\"\r", &["http-password"]),
            ("AT+UMQTT=4,\"mq-user\",\"mq-pw\"\r", &["mqtt-password"]),
        ];
        for (line, names) in lines {
            let (data, found) = mask(line.as_bytes());
            let text = String::from_utf8_lossy(&data);
            assert!(!text.contains("-pw") && !text.contains("ua-"), "{text}");
            assert_eq!(&found, names, "{line}");
        }
        let (data, _) = mask(b"AT+UMQTT=4,\"mq-user\",\"mq-pw\"\r");
        assert_eq!(data, b"AT+UMQTT=4,\"mq-user\",\"***\"\r");
    }

    #[test]
    fn a_secret_line_is_held_to_its_end_and_others_are_not() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(100);
        let t2 = t0 + Duration::from_millis(200);
        let mut m = Masker::host();
        assert_eq!(texts(&m.push(t0, b"AT+CS")), ["AT+CS"]);
        assert_eq!(texts(&m.push(t1, b"Q\r")), ["Q\r"]);
        // `AT+UF` is recorded; from `TP=3` on, the line is `+UFTP=3`'s: held to its end.
        assert_eq!(texts(&m.push(t0, b"AT+UF")), ["AT+UF"]);
        assert!(m.push(t1, b"TP=3,\"p").is_empty());
        assert!(m.push(t1, b"w").is_empty());
        let done = m.push(t2, b"\"\rAT");
        assert_eq!(texts(&done), ["TP=3,\"***\"\r", "AT"]);
        assert_eq!(done[0].secrets, ["ftp-password"]);
        assert_eq!((done[0].at, done[0].held), (t1, true));
        assert_eq!(done[1].at, t2);
        // A whole line in one read: one record.
        let done = m.push(t0, b"AT+CGAUTH=1,1,\"u\",\"pw\"\r\nAT\r");
        assert_eq!(texts(&done), ["AT+CGAUTH=1,1,\"u\",\"***\"\r\nAT\r"]);
        assert!(!done[0].held);
    }

    #[test]
    fn a_usecmng_payload_is_recorded_as_a_mask() {
        let t0 = Instant::now();
        let mut m = Masker::host();
        let r = m.push(t0, b"AT+USECMNG=0,1,\"k\",10\r");
        assert_eq!(texts(&r), ["AT+USECMNG=0,1,\"k\",10\r"]);
        let r = m.push(t0, b"-----BEGIN");
        assert_eq!(texts(&r), ["***"]);
        assert_eq!(r[0].secrets, [USECMNG_DATA]);
        assert_eq!(texts(&m.push(t0, b"AT\r")), ["AT\r"]);
    }
}
