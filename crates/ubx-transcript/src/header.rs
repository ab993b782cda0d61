//! A transcript's header and its placeholders: the one schema and the one validator of what a
//! transcript asks for around the module, read alike by the test suite and `ubxftp script`.
//!
//! The header is the comment block before the first step. A comment line there of the form
//! `# KEY: VALUE` with a key of [`KEYS`] is a header line; any other comment is prose. A header
//! key further down, after the first step, is refused (it would be silently ignored otherwise).
//!
//! | header | asks for | placeholders it gives |
//! |---|---|---|
//! | `# model: ID` | the module model (a name `ubxftp models` lists) | |
//! | `# fs-size: N` | the module file system's capacity in bytes | |
//! | `# dns: NAME=ADDR` | a `--dns` override (repeatable) | |
//! | `# route: ADDR[:PORT]=ADDR[:PORT]` | a `--route` (repeatable; placeholders allowed) | |
//! | `# ftp-server: KIND` | an FTP server on loopback: [`FTP_SERVERS`] | `{ftp-ip}` `{ftp-port}` `{ftp-user}` `{ftp-password}` |
//! | `# socket-servers: echo` | TCP, UDP and TLS echo servers | `{tcp-echo-port}` `{udp-echo-port}` `{tls-echo-port}` |
//! | `# http-server: files` | an HTTP server with `/hello.txt` | `{http-port}` |
//! | `# mqtt-broker: mosquitto` | a mosquitto broker | `{mqtt-port}` |
//!
//! A placeholder is `{name}`, a name of letters, digits, `-` and `_` that starts with a letter
//! (regex repeats such as `{3}` or `{2,5}` are not placeholders); a secret's is
//! `{secret:name}` ([`SECRET`]). In a step line (and a `route`
//! header) every placeholder must have a value, or the transcript is refused with its line.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::TranscriptError;

/// The FTP servers `# ftp-server:` may name (`libunftp` runs in-process, the others are
/// installed programs).
pub const FTP_SERVERS: &[&str] = &["libunftp", "vsftpd", "pure-ftpd", "proftpd", "pyftpdlib"];

/// The header keys, each with what its value must be.
pub const KEYS: &[(&str, &str)] = &[
    ("model", "a model id"),
    ("fs-size", "a number of bytes"),
    ("dns", "NAME=ADDR"),
    ("route", "ADDR[:PORT]=ADDR[:PORT]"),
    (
        "ftp-server",
        "libunftp, vsftpd, pure-ftpd, proftpd or pyftpdlib",
    ),
    ("socket-servers", "echo"),
    ("http-server", "files"),
    ("mqtt-broker", "mosquitto"),
];

/// Placeholders and the header that gives them a value.
const GIVEN_BY: &[(&str, &str)] = &[
    ("ftp-ip", "# ftp-server: KIND"),
    ("ftp-port", "# ftp-server: KIND"),
    ("ftp-user", "# ftp-server: KIND"),
    ("ftp-password", "# ftp-server: KIND"),
    ("tcp-echo-port", "# socket-servers: echo"),
    ("udp-echo-port", "# socket-servers: echo"),
    ("tls-echo-port", "# socket-servers: echo"),
    ("http-port", "# http-server: files"),
    ("mqtt-port", "# mqtt-broker: mosquitto"),
];

/// What a transcript's header asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// `# model:`, with its line.
    pub model: Option<(usize, String)>,
    /// `# fs-size:`.
    pub fs_size: Option<u64>,
    /// `# dns:`, in order.
    pub dns: Vec<(String, IpAddr)>,
    /// `# route:`, with their lines, as written (placeholders not yet replaced).
    pub routes: Vec<(usize, String)>,
    /// `# ftp-server:`: one of [`FTP_SERVERS`].
    pub ftp_server: Option<String>,
    /// `# socket-servers: echo`.
    pub socket_servers: bool,
    /// `# http-server: files`.
    pub http_server: bool,
    /// `# mqtt-broker: mosquitto`.
    pub mqtt_broker: bool,
}

/// The key and value of a header-shaped comment (`# KEY: VALUE` with a key of [`KEYS`]).
fn header_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let (key, value) = rest.split_once(':')?;
    KEYS.iter()
        .any(|(k, _)| *k == key)
        .then_some((key, value.trim()))
}

/// Whether a line is a step (not blank, not a comment).
fn is_step(line: &str) -> bool {
    let line = line.trim_start();
    !line.is_empty() && !line.starts_with('#')
}

impl Header {
    /// Reads and checks the header of `text`.
    pub fn parse(text: &str) -> Result<Header, TranscriptError> {
        let mut header = Header::default();
        let mut first_step = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if first_step.is_none() && is_step(raw) {
                first_step = Some(line);
            }
            let Some((key, value)) = header_line(raw) else {
                continue;
            };
            if let Some(step) = first_step {
                return Err(TranscriptError::Syntax {
                    line,
                    message: format!(
                        "`# {key}:` is a header: it goes before the first step (line {step})"
                    ),
                });
            }
            header
                .set(key, value, line)
                .map_err(|message| TranscriptError::Syntax { line, message })?;
        }
        Ok(header)
    }

    /// One header line.
    fn set(&mut self, key: &str, value: &str, line: usize) -> Result<(), String> {
        let wants = KEYS.iter().find(|(k, _)| *k == key).map_or("", |(_, w)| *w);
        let bad = || format!("`# {key}: {value}`: wants {wants}");
        let once = |given: bool| {
            if given {
                Err(format!("`# {key}:` is given twice"))
            } else {
                Ok(())
            }
        };
        match key {
            "model" => {
                once(self.model.is_some())?;
                if value.is_empty() || value.contains(char::is_whitespace) {
                    return Err(bad());
                }
                self.model = Some((line, value.to_string()));
            }
            "fs-size" => {
                once(self.fs_size.is_some())?;
                self.fs_size = Some(value.parse().map_err(|_| bad())?);
            }
            "dns" => {
                let (name, addr) = value.split_once('=').ok_or_else(bad)?;
                let addr = addr.trim().parse().map_err(|_| bad())?;
                if name.trim().is_empty() {
                    return Err(bad());
                }
                self.dns.push((name.trim().to_string(), addr));
            }
            "route" => {
                if !value.contains('=') {
                    return Err(bad());
                }
                self.routes.push((line, value.to_string()));
            }
            "ftp-server" => {
                once(self.ftp_server.is_some())?;
                if !FTP_SERVERS.contains(&value) {
                    return Err(bad());
                }
                self.ftp_server = Some(value.to_string());
            }
            "socket-servers" => self.socket_servers = flag(value == "echo", bad)?,
            "http-server" => self.http_server = flag(value == "files", bad)?,
            "mqtt-broker" => self.mqtt_broker = flag(value == "mosquitto", bad)?,
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// The placeholders the servers this header asks for give values to.
    pub fn placeholders(&self) -> Vec<&'static str> {
        let given = |header: &str| {
            let key = header.trim_start_matches("# ").split(':').next();
            match key {
                Some("ftp-server") => self.ftp_server.is_some(),
                Some("socket-servers") => self.socket_servers,
                Some("http-server") => self.http_server,
                Some("mqtt-broker") => self.mqtt_broker,
                _ => false,
            }
        };
        GIVEN_BY
            .iter()
            .filter(|(_, header)| given(header))
            .map(|(name, _)| *name)
            .collect()
    }
}

fn flag(ok: bool, bad: impl Fn() -> String) -> Result<bool, String> {
    if ok { Ok(true) } else { Err(bad()) }
}

/// The values of a transcript's placeholders, by name (without the braces).
pub type Vars = BTreeMap<String, String>;

/// The prefix of a secret's placeholder (`{secret:ftp-password}`, written by `ubxftp trace
/// to-transcript`; `ubxftp script --secret NAME=VALUE` gives it a value).
pub const SECRET: &str = "secret:";

/// The placeholders in `text`: each name with its byte range, braces included.
fn placeholders(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(open) = bytes[i..].iter().position(|&b| b == b'{').map(|p| p + i) {
        let start = if bytes[open + 1..].starts_with(SECRET.as_bytes()) {
            open + 1 + SECRET.len()
        } else {
            open + 1
        };
        let name_len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
            .count();
        let close = start + name_len;
        if name_len > 0 && bytes[start].is_ascii_alphabetic() && bytes.get(close) == Some(&b'}') {
            found.push((open..close + 1, &text[open + 1..close]));
            i = close + 1;
        } else {
            i = open + 1;
        }
    }
    found
}

/// `text` with every placeholder replaced by its value; an unknown one is refused, naming the
/// header that would give it a value (or the ones `vars` has).
pub fn substitute(text: &str, vars: &Vars, line: usize) -> Result<String, TranscriptError> {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (range, name) in placeholders(text) {
        let Some(value) = vars.get(name) else {
            return Err(TranscriptError::Syntax {
                line,
                message: unknown(name, vars),
            });
        };
        out.push_str(&text[at..range.start]);
        out.push_str(value);
        at = range.end;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// Why `{name}` has no value.
fn unknown(name: &str, vars: &Vars) -> String {
    let known: Vec<String> = vars.keys().map(|k| format!("{{{k}}}")).collect();
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    if let Some(secret) = name.strip_prefix(SECRET) {
        let var = secret.to_ascii_uppercase().replace('-', "_");
        return format!(
            "placeholder {{{name}}} has no value: give it with `ubxftp script --secret \
             {secret}=VALUE` or UBXFTP_SECRET_{var}"
        );
    }
    match GIVEN_BY.iter().find(|(n, _)| *n == name) {
        Some((_, header)) => format!(
            "placeholder {{{name}}} has no value: `{header}` in the header gives it (known here: {known})"
        ),
        None => format!("unknown placeholder {{{name}}} (known here: {known})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_comment_block_before_the_first_step() {
        let text = "# ftp-server: vsftpd\n# Prose: not a header.\n# dns: a.example=127.0.0.1\n\
                    # route: 1.2.3.4:5=127.0.0.1:{tcp-echo-port}\n# model: sara-r5\n\
                    # socket-servers: echo\n> AT\n# dns is mentioned here in prose\n";
        let h = Header::parse(text).unwrap();
        assert_eq!(h.ftp_server.as_deref(), Some("vsftpd"));
        assert_eq!(h.dns, [("a.example".to_string(), [127, 0, 0, 1].into())]);
        assert_eq!(
            h.routes,
            [(4, "1.2.3.4:5=127.0.0.1:{tcp-echo-port}".into())]
        );
        assert_eq!(h.model, Some((5, "sara-r5".into())));
        assert!(h.socket_servers && !h.http_server);
        assert_eq!(
            h.placeholders(),
            [
                "ftp-ip",
                "ftp-port",
                "ftp-user",
                "ftp-password",
                "tcp-echo-port",
                "udp-echo-port",
                "tls-echo-port"
            ]
        );
    }

    #[test]
    fn a_bad_header_is_refused_with_its_line() {
        for (text, line, says) in [
            (
                "# fs-size: ten\n",
                1,
                "`# fs-size: ten`: wants a number of bytes",
            ),
            ("#\n# ftp-server: nginx\n", 2, "wants libunftp, vsftpd"),
            ("# dns: =127.0.0.1\n", 1, "wants NAME=ADDR"),
            ("# model: client id, broker\n", 1, "wants a model id"),
            ("# model: a\n# model: b\n", 2, "given twice"),
            (
                "> AT\n# ftp-server: libunftp\n",
                2,
                "goes before the first step (line 1)",
            ),
            ("# socket-servers: udp\n", 1, "wants echo"),
        ] {
            match Header::parse(text) {
                Err(TranscriptError::Syntax { line: l, message }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(message.contains(says), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn placeholders_are_replaced_and_unknown_ones_refused() {
        let vars: Vars = [("ftp-ip".to_string(), "127.0.0.1".to_string())].into();
        assert_eq!(
            substitute(r#"> AT+UFTP=0,"{ftp-ip}" <? \d{3} {} {9}"#, &vars, 1).unwrap(),
            r#"> AT+UFTP=0,"127.0.0.1" <? \d{3} {} {9}"#
        );
        let e = substitute("{ftp-port}", &vars, 7).unwrap_err().to_string();
        assert_eq!(
            e,
            "line 7: placeholder {ftp-port} has no value: `# ftp-server: KIND` in the header \
             gives it (known here: {ftp-ip})"
        );
        let e = substitute("{server}", &Vars::new(), 2)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 2: unknown placeholder {server} (known here: none)");
    }

    #[test]
    fn a_secret_placeholder_names_where_its_value_comes_from() {
        let vars: Vars = [("secret:pdp-password".to_string(), "pw".to_string())].into();
        assert_eq!(
            substitute(r#"> AT+CGAUTH=1,1,"u","{secret:pdp-password}""#, &vars, 1).unwrap(),
            r#"> AT+CGAUTH=1,1,"u","pw""#
        );
        let e = substitute("{secret:http-password}", &Vars::new(), 3)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "line 3: placeholder {secret:http-password} has no value: give it with `ubxftp \
             script --secret http-password=VALUE` or UBXFTP_SECRET_HTTP_PASSWORD"
        );
    }
}
