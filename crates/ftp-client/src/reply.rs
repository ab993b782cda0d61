//! FTP server replies and the parser that frames them.
//!
//! An FTP reply (RFC 959 §4.2) is a three-digit code followed by text. It is either
//! one line (`226 Transfer complete\r\n`) or several lines that open with the code
//! and a hyphen and close with a line holding the *same* code and a space:
//!
//! ```text
//! 211-Features:
//!  EPSV
//!  MDTM
//! 211 End
//! ```
//!
//! Lines between the opening and the closing one may start with anything, even other
//! digits, so the parser only looks for the closing `"<code> "` line.
//!
//! The parser is sans-IO: [`parse_reply`] looks at the bytes received so far and says
//! whether a complete reply is there, how many bytes it used, or why the bytes can never
//! become a reply. It never panics on any input (a property test feeds it arbitrary
//! bytes) and it refuses replies longer than a caller-chosen limit, so a hostile server
//! cannot make the client buffer without bound.

use std::fmt;

/// One complete reply from the server: its numeric code and its text.
///
/// The code is kept as the number the server sent (`522`, `534`, `632` …) even when
/// no table knows it, so callers can always report the exact code.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    text: String,
}

impl Reply {
    /// Builds a reply by hand (useful in tests and for callers that synthesise replies).
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            text: text.into(),
        }
    }

    /// The three-digit reply code, e.g. `550`.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The reply text as received: every line of the reply without its line ending,
    /// joined with `\n`. The first line still begins with the code (`"550 No such file"`),
    /// so this is the byte-exact server text apart from the CR LF line endings
    /// (bytes that are not UTF-8 are replaced by U+FFFD).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The lines of the reply (see [`Reply::text`]).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }

    /// The text of the first line after the code and its separator
    /// (`"No such file"` for `550 No such file`).
    pub fn message(&self) -> &str {
        let first = self.text.split('\n').next().unwrap_or("");
        first.get(4..).unwrap_or("")
    }

    /// `1xx`: positive preliminary (the server will send another reply).
    pub fn is_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// `2xx`: positive completion.
    pub fn is_completion(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// `3xx`: positive intermediate (the server waits for another command, e.g. PASS).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// `4xx`: transient negative completion.
    pub fn is_transient_negative(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// `5xx`: permanent negative completion.
    pub fn is_permanent_negative(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    /// Shows the first line of the reply, e.g. `550 No such file`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.text.split('\n').next().unwrap_or("");
        if first.is_empty() {
            write!(f, "{}", self.code)
        } else {
            f.write_str(first)
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("code", &self.code)
            .field("text", &self.text)
            .finish()
    }
}

/// Why bytes from the server can never form a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The first line does not start with three digits (first digit 1–6) followed by a
    /// space, a hyphen or the end of the line.
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    /// The reply (or the part received so far) is longer than the limit.
    #[error("reply longer than {0} bytes")]
    TooLong(usize),
}

/// Outcome of [`parse_reply`] on the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole reply, and how many bytes of the input it used.
    Complete(Reply, usize),
    /// More bytes are needed.
    Incomplete,
}

/// Shortens a line for an error message without splitting a character.
fn excerpt(line: &[u8]) -> String {
    let cut = &line[..line.len().min(80)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Reads the code of a reply's first line: three ASCII digits, the first one 1–6
/// (6xx are the RFC 2228 protected replies), followed by `' '`, `'-'` or the line end.
/// Returns the code and whether the reply continues on further lines.
fn first_line_code(line: &[u8]) -> Result<(u16, bool), ReplyError> {
    let malformed = || ReplyError::Malformed(excerpt(line));
    if line.len() < 3
        || !line[..3].iter().all(u8::is_ascii_digit)
        || !(b'1'..=b'6').contains(&line[0])
    {
        return Err(malformed());
    }
    let code = line[..3]
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Ok((code, false)),
        Some(b'-') => Ok((code, true)),
        Some(_) => Err(malformed()),
    }
}

/// Strips the line ending (CR LF, or a lone LF that some servers send).
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Looks for one complete reply at the start of `buf`.
///
/// * `Ok(Parsed::Complete(reply, used))`: `buf[..used]` was the reply.
/// * `Ok(Parsed::Incomplete)`: wait for more bytes.
/// * `Err(_)`: the bytes can never become a valid reply (malformed first line, or
///   longer than `max_len` bytes). The caller should give up on the connection.
pub fn parse_reply(buf: &[u8], max_len: usize) -> Result<Parsed, ReplyError> {
    let mut start = 0;
    let mut code = None;
    let mut lines: Vec<&[u8]> = Vec::new();
    while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
        let end = start + nl + 1;
        if end > max_len {
            return Err(ReplyError::TooLong(max_len));
        }
        let line = trim_eol(&buf[start..end]);
        start = end;
        match code {
            None => {
                let (c, multi) = first_line_code(line)?;
                lines.push(line);
                if !multi {
                    return Ok(Parsed::Complete(join(c, &lines), end));
                }
                code = Some(c);
            }
            Some(c) => {
                lines.push(line);
                let closes = line.len() >= 3
                    && line[..3].iter().all(u8::is_ascii_digit)
                    && matches!(line.get(3), None | Some(b' '))
                    && first_line_code(line).map(|(n, _)| n) == Ok(c);
                if closes {
                    return Ok(Parsed::Complete(join(c, &lines), end));
                }
            }
        }
    }
    // No (further) complete line. Check what we have so far.
    if buf.len() > max_len {
        return Err(ReplyError::TooLong(max_len));
    }
    if code.is_none() && buf.len() - start >= 4 {
        // The first line is incomplete but its beginning can already be judged.
        first_line_code(&buf[start..start + 4])?;
    }
    Ok(Parsed::Incomplete)
}

fn join(code: u16, lines: &[&[u8]]) -> Reply {
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(&String::from_utf8_lossy(line));
    }
    Reply { code, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(input: &[u8]) -> (Reply, usize) {
        match parse_reply(input, 4096) {
            Ok(Parsed::Complete(r, n)) => (r, n),
            other => panic!("expected a complete reply, got {other:?}"),
        }
    }

    #[test]
    fn single_line() {
        let (r, n) = complete(b"220 Welcome\r\nextra");
        assert_eq!(r.code(), 220);
        assert_eq!(r.text(), "220 Welcome");
        assert_eq!(r.message(), "Welcome");
        assert_eq!(n, 13);
    }

    #[test]
    fn code_without_text_and_bare_lf() {
        let (r, _) = complete(b"200\n");
        assert_eq!(r.code(), 200);
        assert_eq!(r.message(), "");
    }

    #[test]
    fn multi_line_with_inner_digits() {
        let input = b"211-Features:\r\n EPSV\r\n211-not the end\r\n123 inner\r\n211 End\r\n";
        let (r, n) = complete(input);
        assert_eq!(r.code(), 211);
        assert_eq!(n, input.len());
        assert_eq!(r.lines().count(), 5);
        assert_eq!(r.lines().last(), Some("211 End"));
    }

    #[test]
    fn unknown_codes_are_kept() {
        assert_eq!(complete(b"522 SSL connection failed\r\n").0.code(), 522);
        assert_eq!(complete(b"632 protected\r\n").0.code(), 632);
    }

    #[test]
    fn incomplete_and_malformed() {
        assert_eq!(parse_reply(b"22", 100), Ok(Parsed::Incomplete));
        assert_eq!(parse_reply(b"220-hi\r\n", 100), Ok(Parsed::Incomplete));
        assert!(matches!(
            parse_reply(b"HTTP/1.1 400\r\n", 100),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"HTTP", 100),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"7000 x\r\n", 100),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(b"2200 x\r\n", 100),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn too_long() {
        let mut long = b"220-".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200));
        assert_eq!(parse_reply(&long, 100), Err(ReplyError::TooLong(100)));
        long.extend(b"\r\n220 end\r\n");
        assert_eq!(parse_reply(&long, 100), Err(ReplyError::TooLong(100)));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600), max in 0usize..700) {
            if let Ok(Parsed::Complete(reply, used)) = parse_reply(&bytes, max) {
                proptest::prop_assert!(used <= bytes.len());
                proptest::prop_assert!(used <= max);
                proptest::prop_assert!((100..700).contains(&reply.code()));
            }
        }

        #[test]
        fn reply_like_input_never_panics(lines in proptest::collection::vec("[0-9]{0,4}[ -]?[ -~]{0,20}", 0..6), lf in proptest::bool::ANY) {
            let eol = if lf { "\n" } else { "\r\n" };
            let text: String = lines.iter().map(|l| format!("{l}{eol}")).collect();
            let _ = parse_reply(text.as_bytes(), 1024);
        }

        #[test]
        fn well_formed_replies_round_trip(code in 100u16..600, body in proptest::collection::vec("[ -~]{0,30}", 0..4)) {
            let mut text = String::new();
            for line in &body {
                text.push_str(&format!("{code}-{line}\r\n"));
            }
            text.push_str(&format!("{code} end\r\n"));
            match parse_reply(text.as_bytes(), 4096) {
                Ok(Parsed::Complete(reply, used)) => {
                    proptest::prop_assert_eq!(reply.code(), code);
                    proptest::prop_assert_eq!(used, text.len());
                }
                other => proptest::prop_assert!(false, "{:?}", other),
            }
        }
    }
}
