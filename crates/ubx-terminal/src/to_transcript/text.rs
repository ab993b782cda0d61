//! A step's text as pieces: bytes, placeholders and patterns, written out in a transcript's
//! escapes (`>`, `<`) or as a byte regex (`<?`).

use ubx_at::text::escape;

/// A piece of what a step sends or expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// These bytes.
    Lit(Vec<u8>),
    /// A placeholder (`{ftp-port}`, `{secret:ftp-password}`), without its braces.
    Var(String),
    /// A regex for bytes that vary (only in `<?` steps).
    Re(String),
}

impl Piece {
    /// A secret's placeholder: never put into a regex (its value could hold regex syntax).
    pub fn is_secret(&self) -> bool {
        matches!(self, Piece::Var(v) if v.starts_with("secret:") || v == "ftp-password")
    }
}

/// Adjacent bytes joined into one piece.
pub fn joined(pieces: impl IntoIterator<Item = Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for p in pieces {
        match (out.last_mut(), p) {
            (_, Piece::Lit(b)) if b.is_empty() => {}
            (Some(Piece::Lit(a)), Piece::Lit(b)) => a.extend_from_slice(&b),
            (_, p) => out.push(p),
        }
    }
    out
}

/// The pieces in a `>`, `>>` or `<` step: transcript escapes; `{` as `\x7b` so that bytes are
/// never read as a placeholder, and a trailing blank as `\s`.
pub fn literal(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Lit(b) => s.push_str(&escape(b).replace('{', "\\x7b")),
            Piece::Var(v) => {
                s.push('{');
                s.push_str(v);
                s.push('}');
            }
            Piece::Re(_) => {}
        }
    }
    if s.ends_with(' ') {
        s.pop();
        s.push_str("\\s");
    }
    s
}

/// The pieces as a `<?` regex: bytes escaped, patterns as they are, placeholders as `{name}`.
pub fn regex(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Lit(b) => push_regex_bytes(&mut s, b),
            Piece::Var(v) => {
                s.push('{');
                s.push_str(v);
                s.push('}');
            }
            Piece::Re(r) => s.push_str(r),
        }
    }
    if s.ends_with(' ') {
        s.pop();
        s.push_str("\\x20");
    }
    s
}

fn push_regex_bytes(s: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push_str(&regex::escape(&(b as char).to_string())),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
}

/// The pieces cut after each LF: the lines of an answer, each with its line end.
pub fn lines(pieces: &[Piece]) -> Vec<Vec<Piece>> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    for p in pieces {
        let Piece::Lit(bytes) = p else {
            line.push(p.clone());
            continue;
        };
        let mut rest = bytes.as_slice();
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            line.push(Piece::Lit(rest[..=i].to_vec()));
            out.push(joined(std::mem::take(&mut line)));
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            line.push(Piece::Lit(rest.to_vec()));
        }
    }
    if !line.is_empty() {
        out.push(joined(line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_never_placeholders_and_blanks_survive() {
        let p = [Piece::Lit(b"{ftp-port} x ".to_vec())];
        assert_eq!(literal(&p), "\\x7bftp-port} x\\s");
        assert_eq!(regex(&p), "\\{ftp\\-port\\} x\\x20");
        let p = [
            Piece::Lit(b"AT+UFTP=7,".to_vec()),
            Piece::Var("ftp-port".into()),
            Piece::Lit(b"\r".to_vec()),
        ];
        assert_eq!(literal(&p), "AT+UFTP=7,{ftp-port}\\r");
    }

    #[test]
    fn lines_keep_their_ends() {
        let p = [Piece::Lit(b"\r\nOK\r\n\r\n+X".to_vec())];
        let l = lines(&p);
        assert_eq!(l.len(), 4);
        assert_eq!(l[1], [Piece::Lit(b"OK\r\n".to_vec())]);
        assert_eq!(l[3], [Piece::Lit(b"+X".to_vec())]);
    }
}
