//! A transcript that did not run as written, told so that it can be fixed: the line and the
//! transcript line as written, then the expected and the received bytes in the transcript's own
//! escapes (once: they paste back into a `<` line), and where they first differ.
//!
//! ```text
//! line 3: < AT\r\r\nERROR\r\n
//!   expected: AT\r\r\nERROR\r\n
//!   received: AT\r\r\nOK\r\n
//!   first difference at byte 5
//! ```

use std::fmt;
use std::time::Duration;

use ubx_at::text::escape;

/// Most received bytes a message shows; the rest are counted.
pub const SHOWN: usize = 512;

/// Where a transcript failed, and how.
#[derive(Debug)]
pub struct Failure {
    /// The line of the step that failed.
    pub line: usize,
    /// That line as written (indentation removed, placeholders as written).
    pub source: String,
    pub miss: Miss,
}

/// How a step failed.
#[derive(Debug)]
pub enum Miss {
    /// `<` (and `on`, never: it skips): other bytes came than the exact ones expected.
    Differs {
        expected: Vec<u8>,
        received: Vec<u8>,
    },
    /// `<` or `on`: the bytes that came agree with the expected ones, but too few came in time.
    TooFew {
        expected: Vec<u8>,
        received: Vec<u8>,
        timeout: Duration,
    },
    /// `<?`: nothing that matches the pattern (as written) came in time.
    NoMatch {
        pattern: String,
        received: Vec<u8>,
        timeout: Duration,
    },
    /// `<md5`: fewer than `len` bytes came in time.
    ShortDigest {
        len: usize,
        md5: String,
        received: usize,
        timeout: Duration,
    },
    /// `<md5`: the bytes have another MD5.
    WrongDigest {
        len: usize,
        md5: String,
        received: String,
    },
    /// `quiet`: bytes came.
    NotQuiet { quiet: Duration, received: Vec<u8> },
    /// The connection failed.
    Io(std::io::Error),
}

/// Bytes in the transcript's escapes, as a `<` line would take them: a trailing space is `\s`
/// (it would be invisible), and past [`SHOWN`] bytes the rest is counted, not shown.
pub fn shown(bytes: &[u8]) -> String {
    let (head, rest) = bytes.split_at(bytes.len().min(SHOWN));
    let mut text = escape(head);
    if text.ends_with(' ') {
        text.pop();
        text.push_str("\\s");
    }
    if !rest.is_empty() {
        text.push_str(&format!(" … and {} more bytes", rest.len()));
    }
    text
}

/// Where two byte strings first differ, if one is not a prefix of the other.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y)
}

fn ms(d: &Duration) -> u128 {
    d.as_millis()
}

impl Failure {
    /// The message without its first line: what was expected and what came.
    pub fn details(&self) -> String {
        let received = |bytes: &[u8]| {
            if bytes.is_empty() {
                "  received: nothing".to_string()
            } else {
                format!("  received: {}", shown(bytes))
            }
        };
        match &self.miss {
            Miss::Differs {
                expected,
                received: got,
            } => {
                let at = first_difference(expected, got).unwrap_or(expected.len().min(got.len()));
                format!(
                    "  expected: {}\n{}\n  first difference at byte {at}",
                    shown(expected),
                    received(got)
                )
            }
            Miss::TooFew {
                expected,
                received: got,
                timeout,
            } => format!(
                "  expected: {}\n{}\n  first difference at byte {}: nothing more came within {} ms",
                shown(expected),
                received(got),
                got.len(),
                ms(timeout)
            ),
            Miss::NoMatch {
                pattern,
                received: got,
                timeout,
            } => format!(
                "  pattern:  {pattern}\n{}\n  no match within {} ms",
                received(got),
                ms(timeout)
            ),
            Miss::ShortDigest {
                len,
                md5,
                received,
                timeout,
            } => format!(
                "  expected: {len} bytes with MD5 {md5}\n  received: {received} bytes within {} ms",
                ms(timeout)
            ),
            Miss::WrongDigest { len, md5, received } => format!(
                "  expected: {len} bytes with MD5 {md5}\n  received: {len} bytes with MD5 {received}"
            ),
            Miss::NotQuiet {
                quiet,
                received: got,
            } => format!(
                "  expected: nothing for {} ms\n{}",
                ms(quiet),
                received(got)
            ),
            Miss::Io(e) => format!("  connection: {e}"),
        }
    }

    /// The whole message with the file in front, as compilers write it: `FILE:LINE: ...`.
    pub fn in_file(&self, file: &str) -> String {
        format!("{file}:{}: {}\n{}", self.line, self.source, self.details())
    }

    /// A one-line summary: the line, as written.
    pub fn headline(&self) -> String {
        format!("line {}: {}", self.line, self.source)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.headline(), self.details())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(miss: Miss) -> Failure {
        Failure {
            line: 7,
            source: r#"> AT+UFTP=0,"{ftp-ip}""#.into(),
            miss,
        }
    }

    #[test]
    fn bytes_are_escaped_once_and_paste_back() {
        let f = failure(Miss::Differs {
            expected: b"\r\nOK\r\n".to_vec(),
            received: b"\r\nERROR\r\n\\ ".to_vec(),
        });
        assert_eq!(
            f.to_string(),
            "line 7: > AT+UFTP=0,\"{ftp-ip}\"\n  expected: \\r\\nOK\\r\\n\n  \
             received: \\r\\nERROR\\r\\n\\\\\\s\n  first difference at byte 2"
        );
        assert_eq!(
            ubx_at::text::unescape(r"\r\nERROR\r\n\\\s").unwrap(),
            b"\r\nERROR\r\n\\ "
        );
    }

    #[test]
    fn long_receipts_are_cut_and_counted() {
        let s = shown(&vec![b'a'; SHOWN + 3]);
        assert!(s.ends_with("a … and 3 more bytes"), "{s}");
    }
}
