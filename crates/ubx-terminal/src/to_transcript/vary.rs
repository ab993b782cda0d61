//! What varies from one run to the next in what a module answers, and the patterns a
//! converted transcript expects in its place: times, addresses, ports, the IMEI, listing dates
//! and MD5s (docs/TRACE.md, "To a transcript"). Each kind can be kept exact.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::Regex;

use super::text::{Piece, joined};

/// The kinds of varying bytes, as `--exact` names them.
pub const KINDS: &[&str] = &["times", "addresses", "ports", "imei", "listings", "md5"];

/// Which kinds are kept exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exact {
    pub times: bool,
    pub addresses: bool,
    pub ports: bool,
    pub imei: bool,
    pub listings: bool,
    pub md5: bool,
}

impl Exact {
    /// Every kind exact (`--exact all`).
    pub const ALL: Exact = Exact {
        times: true,
        addresses: true,
        ports: true,
        imei: true,
        listings: true,
        md5: true,
    };

    /// Keeps `kind` (one of [`KINDS`], or `all`) exact.
    pub fn set(&mut self, kind: &str) -> Result<(), String> {
        match kind {
            "times" => self.times = true,
            "addresses" => self.addresses = true,
            "ports" => self.ports = true,
            "imei" => self.imei = true,
            "listings" => self.listings = true,
            "md5" => self.md5 = true,
            "all" => *self = Exact::ALL,
            other => {
                return Err(format!(
                    "--exact {other}: one of {} or all",
                    KINDS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

/// A date and time as the module writes it (`+CCLK: "24/11/26,10:00:00+04"`).
static TIME: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"\d\d/\d\d/\d\d,\d\d:\d\d:\d\d(?:[+-]\d\d)?"));
const TIME_RE: &str = r"\d\d/\d\d/\d\d,\d\d:\d\d:\d\d(?:[+-]\d\d)?";

static IPV4: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"));
const IPV4_RE: &str = r"\d{1,3}(?:\.\d{1,3}){3}";

/// An IPv6 address in quotes (at least two colons).
static IPV6: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#""[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*""#));
const IPV6_RE: &str = r#""[0-9A-Fa-f:.]+""#;

static MD5: LazyLock<Option<Regex>> = LazyLock::new(|| re(r#""[0-9a-fA-F]{32}""#));
const MD5_RE: &str = r#""[0-9a-fA-F]{32}""#;

/// A detailed listing (`AT+UFTPC=13`): its length and text, up to the closing quote.
static LISTING: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#"(?s)\+UUFTPCD: 13,(\d+),"(.*?)"\r\n"#));

/// What varies in one module's answers.
pub struct Varying<'a> {
    pub exact: &'a Exact,
    /// The ports the trace's connections used (1024 and up).
    pub ports: &'a BTreeSet<u16>,
    pub imei: Option<&'a str>,
}

impl Varying<'_> {
    /// A line with what varies in its bytes as patterns; `None` when nothing does.
    pub fn line(&self, line: &[Piece]) -> Option<Vec<Piece>> {
        let mut changed = false;
        let mut out = Vec::new();
        for p in line {
            let Piece::Lit(bytes) = p else {
                out.push(p.clone());
                continue;
            };
            let spans = self.spans(bytes);
            changed |= !spans.is_empty();
            let mut last = 0;
            for (range, pattern) in spans {
                out.push(Piece::Lit(bytes[last..range.start].to_vec()));
                out.push(Piece::Re(pattern.to_string()));
                last = range.end;
            }
            out.push(Piece::Lit(bytes[last..].to_vec()));
        }
        changed.then(|| joined(out))
    }

    /// The varying spans of `bytes`, in order, none overlapping.
    fn spans(&self, bytes: &[u8]) -> Vec<(Range<usize>, &'static str)> {
        let mut found: Vec<(Range<usize>, &'static str)> = Vec::new();
        let mut by = |on: bool, re: &Option<Regex>, pattern: &'static str| {
            if let (true, Some(re)) = (on, re) {
                found.extend(re.find_iter(bytes).map(|m| (m.range(), pattern)));
            }
        };
        by(!self.exact.times, &TIME, TIME_RE);
        by(!self.exact.addresses, &IPV6, IPV6_RE);
        by(!self.exact.md5, &MD5, MD5_RE);
        if !self.exact.addresses
            && let Some(re) = IPV4.as_ref()
        {
            found.extend(
                re.find_iter(bytes)
                    .filter(|m| digit_bounded(bytes, m.range()))
                    .map(|m| (m.range(), IPV4_RE)),
            );
        }
        for run in digit_runs(bytes) {
            let text = std::str::from_utf8(&bytes[run.clone()]).unwrap_or_default();
            if !self.exact.imei && self.imei == Some(text) {
                found.push((run, r"\d{15}"));
            } else if !self.exact.ports
                && text.parse::<u16>().is_ok_and(|p| self.ports.contains(&p))
            {
                found.push((run, r"\d+"));
            }
        }
        found.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
        let mut kept: Vec<(Range<usize>, &'static str)> = Vec::new();
        for (r, p) in found {
            if kept.last().is_none_or(|(k, _)| r.start >= k.end) {
                kept.push((r, p));
            }
        }
        kept
    }

    /// An answer with its detailed listings as patterns: the length, and each line of the
    /// listing by its last word (the name) only. Listings span lines, so this comes first.
    pub fn listings(&self, pieces: Vec<Piece>) -> Vec<Piece> {
        let Some(re) = LISTING.as_ref().filter(|_| !self.exact.listings) else {
            return pieces;
        };
        let mut out = Vec::new();
        for p in pieces {
            let Piece::Lit(bytes) = p else {
                out.push(p);
                continue;
            };
            let mut last = 0;
            for caps in re.captures_iter(&bytes) {
                let (Some(all), Some(len), Some(body)) = (caps.get(0), caps.get(1), caps.get(2))
                else {
                    continue;
                };
                out.push(Piece::Lit(bytes[last..len.start()].to_vec()));
                out.push(Piece::Re(r"\d+".into()));
                out.push(Piece::Lit(bytes[len.end()..body.start()].to_vec()));
                out.extend(listing_lines(body.as_bytes()));
                out.push(Piece::Lit(bytes[body.end()..all.end()].to_vec()));
                last = all.end();
            }
            out.push(Piece::Lit(bytes[last..].to_vec()));
        }
        joined(out)
    }
}

/// Each line of a listing as "anything, then its last word".
fn listing_lines(body: &[u8]) -> Vec<Piece> {
    let mut out = Vec::new();
    for line in body.split_inclusive(|b| *b == b'\n') {
        let end = line
            .iter()
            .rposition(|b| *b != b'\r' && *b != b'\n')
            .map_or(0, |i| i + 1);
        let (text, ending) = line.split_at(end);
        match text.iter().rposition(|b| *b == b' ') {
            Some(space) => {
                out.push(Piece::Re(r"[^\r\n]*".into()));
                out.push(Piece::Lit(text[space..].to_vec()));
            }
            None => out.push(Piece::Lit(text.to_vec())),
        }
        out.push(Piece::Lit(ending.to_vec()));
    }
    out
}

/// The runs of ASCII digits in `bytes`.
fn digit_runs(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(s..bytes.len());
    }
    runs
}

/// No digit right before or after `range`.
fn digit_bounded(bytes: &[u8], range: Range<usize>) -> bool {
    let before = range.start.checked_sub(1).and_then(|i| bytes.get(i));
    let after = bytes.get(range.end);
    !before.is_some_and(u8::is_ascii_digit) && !after.is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::to_transcript::text::regex;

    #[test]
    fn times_addresses_ports_imei_and_md5s_become_patterns() {
        let exact = Exact::default();
        let ports = BTreeSet::from([40123]);
        let v = Varying {
            exact: &exact,
            ports: &ports,
            imei: Some("004402090123450"),
        };
        let line = |s: &str| {
            v.line(&[Piece::Lit(s.as_bytes().to_vec())])
                .map(|p| regex(&p))
        };
        assert_eq!(
            line("+CCLK: \"24/11/26,10:00:00+04\"\r\n").unwrap(),
            r#"\+CCLK: "\d\d/\d\d/\d\d,\d\d:\d\d:\d\d(?:[+-]\d\d)?"\r\n"#
        );
        assert_eq!(
            line("+USORF: 0,\"10.0.0.1\",40123,5\r\n").unwrap(),
            r#"\+USORF: 0,"\d{1,3}(?:\.\d{1,3}){3}",\d+,5\r\n"#
        );
        assert_eq!(line("004402090123450\r\n").unwrap(), r"\d{15}\r\n");
        assert!(line("+UUFTPCR: 1,1\r\n").is_none());
        let all = Exact::ALL;
        let v = Varying {
            exact: &all,
            ports: &ports,
            imei: None,
        };
        assert!(
            v.line(&[Piece::Lit(b"\"10.0.0.1\",40123".to_vec())])
                .is_none()
        );
    }

    #[test]
    fn a_listing_keeps_its_names_only() {
        let exact = Exact::default();
        let ports = BTreeSet::new();
        let v = Varying {
            exact: &exact,
            ports: &ports,
            imei: None,
        };
        let answer = b"\r\n+UUFTPCD: 13,52,\"-rw-r--r-- 1 0 0 5 Nov 24 10:00 a.txt\r\n\"\r\n";
        let p = v.listings(vec![Piece::Lit(answer.to_vec())]);
        assert_eq!(
            regex(&p),
            r#"\r\n\+UUFTPCD: 13,\d+,"[^\r\n]* a\.txt\r\n"\r\n"#
        );
    }
}
