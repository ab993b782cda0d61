//! `--trace FILE`: every byte in and out of every terminal, as JSON lines.
//!
//! One record per chunk:
//! `{"ts":"2026-11-24T10:00:00.123456Z","unix_us":1795..,"term":1,"dir":"in","data":"AT\r\n"}`.
//! `data` uses the transcript escape syntax (`\r`, `\n`, `\xHH`, `\\`), so a trace can be turned
//! into a transcript by hand.
//!
//! Secrets never reach the file: bytes are held per terminal and direction until a line ends, and
//! the quoted passwords of `+UFTP=3`, `+CGAUTH`, `+UAUTHREQ`, `+UPSD` op 3, `+USECPRF` op 7,
//! `+UHTTP` op 3 and `+UMQTT` op 4 — also in the echo — are replaced by `***`
//! before writing.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use regex::bytes::Regex;

use ubx_at::text::escape;
use ubx_modem::TerminalId;

/// Commands whose string parameter is a secret, and which parameter.
const SECRET_PATTERNS: &[&str] = &[
    // AT+UFTP=3,"<password>"
    r#"(?i)(\+UFTP\s*=\s*3\s*,\s*")[^"\r\n]*"#,
    // AT+CGAUTH=<cid>,<auth>,"<user>","<password>"
    r#"(?i)(\+CGAUTH\s*=[^,\r\n]*,[^,\r\n]*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
    // AT+UAUTHREQ=<cid>,<auth>,"<a>","<b>": user and password, in either order per model:
    // both strings are masked.
    r#"(?i)(\+UAUTHREQ\s*=[^,\r\n]*,[^,\r\n]*,\s*")[^"\r\n]*"#,
    r#"(?i)(\+UAUTHREQ\s*=[^,\r\n]*,[^,\r\n]*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
    // AT+UPSD=<profile>,3,"<password>"
    r#"(?i)(\+UPSD\s*=[^,\r\n]*,\s*3\s*,\s*")[^"\r\n]*"#,
    // AT+USECPRF=<profile>,7,"<key password>"
    r#"(?i)(\+USECPRF\s*=[^,\r\n]*,\s*7\s*,\s*")[^"\r\n]*"#,
    // AT+UHTTP=<profile>,3,"<password>"
    r#"(?i)(\+UHTTP\s*=[^,\r\n]*,\s*3\s*,\s*")[^"\r\n]*"#,
    // AT+UMQTT=4,"<user>","<password>"
    r#"(?i)(\+UMQTT\s*=\s*4\s*,\s*"[^"\r\n]*"\s*,\s*")[^"\r\n]*"#,
];

/// Hold at most this many bytes before writing a record even without a line end.
const MAX_HELD: usize = 8192;

/// Shared writer of the trace file.
#[derive(Clone)]
pub struct Tracer {
    file: Arc<Mutex<File>>,
    secrets: Arc<Vec<Regex>>,
}

impl Tracer {
    pub fn create(path: &Path) -> io::Result<Tracer> {
        let secrets = SECRET_PATTERNS
            .iter()
            .filter_map(|p| Regex::new(p).ok())
            .collect();
        Ok(Tracer {
            file: Arc::new(Mutex::new(File::create(path)?)),
            secrets: Arc::new(secrets),
        })
    }

    /// A per-terminal recorder.
    pub fn terminal(&self, term: TerminalId) -> TerminalTrace {
        TerminalTrace {
            tracer: self.clone(),
            term,
            held_in: Vec::new(),
            held_out: Vec::new(),
        }
    }

    fn write(&self, term: TerminalId, dir: &str, data: &[u8]) {
        let mut data = data.to_vec();
        // Data-mode bytes are the user's file, not commands: nothing in them is masked.
        if !dir.starts_with("data") {
            for re in self.secrets.iter() {
                data = re.replace_all(&data, &b"${1}***"[..]).into_owned();
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let record = serde_json::json!({
            "unix_us": now.as_micros() as u64,
            "term": term,
            "dir": dir,
            "data": escape(&data),
        });
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{record}");
    }
}

/// Records one terminal's traffic; flushes what it holds when dropped.
pub struct TerminalTrace {
    tracer: Tracer,
    term: TerminalId,
    held_in: Vec<u8>,
    held_out: Vec<u8>,
}

impl TerminalTrace {
    pub fn input(&mut self, data: &[u8]) {
        Self::record(&self.tracer, self.term, "in", &mut self.held_in, data);
    }

    pub fn output(&mut self, data: &[u8]) {
        Self::record(&self.tracer, self.term, "out", &mut self.held_out, data);
    }

    /// Bytes from the host in data mode (`"dir": "data-in"`): the file a direct link stores.
    pub fn data_input(&mut self, data: &[u8]) {
        self.flush_held();
        self.tracer.write(self.term, "data-in", data);
    }

    /// Bytes to the host in data mode (`"dir": "data-out"`): the file a direct link retrieves.
    pub fn data_output(&mut self, data: &[u8]) {
        self.flush_held();
        self.tracer.write(self.term, "data-out", data);
    }

    /// Writes the partial lines held back, so records stay in order around data.
    fn flush_held(&mut self) {
        if !self.held_in.is_empty() {
            self.tracer
                .write(self.term, "in", &std::mem::take(&mut self.held_in));
        }
        if !self.held_out.is_empty() {
            self.tracer
                .write(self.term, "out", &std::mem::take(&mut self.held_out));
        }
    }

    fn record(tracer: &Tracer, term: TerminalId, dir: &str, held: &mut Vec<u8>, data: &[u8]) {
        held.extend_from_slice(data);
        // Write up to the last line end; keep a partial line until it completes.
        let cut = match held.iter().rposition(|&b| b == b'\r' || b == b'\n') {
            Some(i) => i + 1,
            None if held.len() > MAX_HELD => held.len(),
            None => return,
        };
        let rest = held.split_off(cut);
        tracer.write(term, dir, held);
        *held = rest;
    }
}

impl Drop for TerminalTrace {
    fn drop(&mut self) {
        for (dir, held) in [("in", &self.held_in), ("out", &self.held_out)] {
            if !held.is_empty() {
                self.tracer.write(self.term, dir, held);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_masked_in_input_and_echo() {
        let dir = std::env::temp_dir().join(format!("ubx-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trace.jsonl");
        let tracer = Tracer::create(&path).unwrap();
        let lines: &[&str] = &[
            "AT+UFTP=3,\"ftp-pw\"\r",
            "AT+CGAUTH=1,1,\"user\",\"cg-pw\"\r",
            "AT+UAUTHREQ=1,1,\"ua-a\",\"ua-b\"\r",
            "AT+UPSD=0,3,\"psd-pw\"\r",
            "AT+USECPRF=0,7,\"key-pw\"\r",
            "AT+UHTTP=0,3,\"http-pw\"\r",
            "AT+UMQTT=4,\"mq-user\",\"mq-pw\"\r",
        ];
        {
            let mut term = tracer.terminal(1);
            for line in lines {
                term.input(line.as_bytes());
                term.output(line.as_bytes());
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in [
            "ftp-pw", "cg-pw", "ua-a", "ua-b", "psd-pw", "key-pw", "http-pw", "mq-pw",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(
            text.contains("mq-user") && text.contains("AT+UHTTP=0,3"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
