//! Parsing a command line into commands.
//!
//! After the `AT` prefix a line holds any number of commands:
//! - **basic** commands, V.250 style: a letter with an optional number (`E0`, `V1`, `I9`, `Z`),
//!   `&` and a letter (`&F`), or an S-register access (`S3=13`, `S3?`); they may follow each
//!   other with no separator (`ATE0V1`);
//! - **extended** commands: `+NAME` followed by nothing (action), `?` (read), `=?` (test) or
//!   `=` and a parameter list (set); several are separated by `;` (`AT+CMEE=2;+CGMI`).
//!
//! Names are case-insensitive and are returned upper-cased. Blanks between tokens are ignored
//! outside quoted strings (drivers write `AT+UFTPC = 13,"x"` and `AT E0`). Strings are enclosed in
//! double quotes and have **no escape mechanism**: u-blox forbids `"` inside a string, so the
//! first quote after the opening one closes it (related-commands.md §3). Strings are kept as raw
//! bytes; any byte but `"` may appear in them, and it is each command's job to refuse what it
//! cannot accept (a file name with a NUL, an FTP argument with a LF).

use crate::result::CommandError;

/// One parameter as written on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// Nothing between the commas (or after the `=`).
    Omitted,
    /// A decimal number, optionally signed.
    Num(i64),
    /// A double-quoted string, quotes removed.
    Str(Vec<u8>),
    /// Anything else written without quotes (`IP`, `1.5`, `0x10`, a number too large for i64).
    Bare(Vec<u8>),
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    /// `AT+X` or a basic command without a value (`ATZ`).
    Action,
    /// `AT+X=...`, or a basic command with a value (`ATE0`, `ATS3=13`).
    Set(Params),
    /// `AT+X?` / `ATS3?`.
    Read,
    /// `AT+X=?`.
    Test,
}

/// One command of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased name: `+UFTP`, `E`, `&F`, `S3`, `I`.
    pub name: String,
    pub kind: CommandKind,
}

impl Command {
    /// The set parameters, or an empty list for any other kind.
    pub fn params(&self) -> &Params {
        static EMPTY: Params = Params(Vec::new());
        match &self.kind {
            CommandKind::Set(p) => p,
            _ => &EMPTY,
        }
    }

    /// Whether the command is an extended (`+`) command.
    pub fn is_extended(&self) -> bool {
        self.name.starts_with('+')
    }
}

/// The parameter list of a set command, with typed accessors that turn a wrong type into the
/// syntax error the module gives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<Param>);

impl Params {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameter at `i`; `Omitted` beyond the end.
    pub fn get(&self, i: usize) -> &Param {
        self.0.get(i).unwrap_or(&Param::Omitted)
    }

    /// Fails with a syntax error when more than `n` parameters were given.
    pub fn at_most(&self, n: usize) -> Result<(), CommandError> {
        if self.0.len() > n {
            Err(CommandError::Syntax)
        } else {
            Ok(())
        }
    }

    /// Whether parameter `i` was given.
    pub fn present(&self, i: usize) -> bool {
        !matches!(self.get(i), Param::Omitted)
    }

    /// A number, `None` when omitted. A quoted decimal (`"1"`) is accepted because old drivers
    /// send numbers quoted (host-clients.md); anything else is a syntax error.
    pub fn num(&self, i: usize) -> Result<Option<i64>, CommandError> {
        match self.get(i) {
            Param::Omitted => Ok(None),
            Param::Num(n) => Ok(Some(*n)),
            Param::Str(s) => parse_decimal(s.trim_ascii())
                .map(Some)
                .ok_or(CommandError::Syntax),
            Param::Bare(_) => Err(CommandError::Syntax),
        }
    }

    /// A number that must be present.
    pub fn req_num(&self, i: usize) -> Result<i64, CommandError> {
        self.num(i)?.ok_or(CommandError::Syntax)
    }

    /// A string, `None` when omitted; a number where a string is due is a syntax error.
    pub fn str(&self, i: usize) -> Result<Option<&[u8]>, CommandError> {
        match self.get(i) {
            Param::Omitted => Ok(None),
            Param::Str(s) => Ok(Some(s)),
            Param::Num(_) | Param::Bare(_) => Err(CommandError::Syntax),
        }
    }

    /// A string that must be present.
    pub fn req_str(&self, i: usize) -> Result<&[u8], CommandError> {
        self.str(i)?.ok_or(CommandError::Syntax)
    }
}

fn parse_decimal(s: &[u8]) -> Option<i64> {
    let digits = s
        .strip_prefix(b"-")
        .or_else(|| s.strip_prefix(b"+"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses the part of a command line after `AT` (terminator removed).
///
/// An empty body (a bare `AT`) gives no commands. Any malformed token makes the whole line a
/// syntax error: the module executes nothing of a line it cannot parse.
pub fn parse_line(body: &[u8]) -> Result<Vec<Command>, CommandError> {
    let mut cursor = Cursor { s: body, i: 0 };
    let mut commands = Vec::new();
    loop {
        cursor.skip_blanks();
        let Some(b) = cursor.peek() else { break };
        match b {
            b';' => {
                cursor.i += 1;
            }
            b'+' => commands.push(cursor.extended()?),
            b'&' => {
                cursor.i += 1;
                cursor.skip_blanks();
                let letter = cursor.letter()?;
                commands.push(cursor.basic(format!("&{letter}"))?);
            }
            b'S' | b's' => {
                cursor.i += 1;
                commands.push(cursor.s_register()?);
            }
            _ => {
                let letter = cursor.letter()?;
                commands.push(cursor.basic(letter.to_string())?);
            }
        }
    }
    Ok(commands)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
    }

    fn letter(&mut self) -> Result<char, CommandError> {
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() => {
                self.i += 1;
                Ok(b.to_ascii_uppercase() as char)
            }
            _ => Err(CommandError::Syntax),
        }
    }

    fn digits(&mut self) -> Option<&[u8]> {
        self.skip_blanks();
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    fn number(&mut self) -> Result<Option<i64>, CommandError> {
        match self.digits() {
            None => Ok(None),
            Some(d) => parse_decimal(d).map(Some).ok_or(CommandError::Syntax),
        }
    }

    /// A basic command `<letter>[<number>]`.
    fn basic(&mut self, name: String) -> Result<Command, CommandError> {
        let kind = match self.number()? {
            Some(n) => CommandKind::Set(Params(vec![Param::Num(n)])),
            None => CommandKind::Action,
        };
        Ok(Command { name, kind })
    }

    /// `S<n>?`, `S<n>=<value>` or `S<n>=` (value omitted).
    fn s_register(&mut self) -> Result<Command, CommandError> {
        let n = self.number()?.ok_or(CommandError::Syntax)?;
        let name = format!("S{n}");
        let set = |c: &mut Self| {
            Ok(CommandKind::Set(Params(vec![
                c.number()?.map_or(Param::Omitted, Param::Num),
            ])))
        };
        let kind = self.kind_suffix(set)?.ok_or(CommandError::Syntax)?;
        Ok(Command { name, kind })
    }

    /// `+NAME`, `+NAME?`, `+NAME=?` or `+NAME=<params>`, up to `;` or the end of the line.
    fn extended(&mut self) -> Result<Command, CommandError> {
        let start = self.i;
        self.i += 1; // '+'
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"!%-./:_".contains(&b))
        {
            self.i += 1;
        }
        if self.i == start + 1 {
            return Err(CommandError::Syntax);
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_uppercase();
        let kind = match self.kind_suffix(|c| c.params().map(CommandKind::Set))? {
            Some(kind) => kind,
            None => CommandKind::Action,
        };
        self.skip_blanks();
        match self.peek() {
            None | Some(b';') => Ok(Command { name, kind }),
            Some(_) => Err(CommandError::Syntax),
        }
    }

    /// What follows a command name: `?` (read), `=?` (test), or `=` and what `set` parses;
    /// `None` when none of these follows.
    fn kind_suffix(
        &mut self,
        set: impl FnOnce(&mut Self) -> Result<CommandKind, CommandError>,
    ) -> Result<Option<CommandKind>, CommandError> {
        self.skip_blanks();
        match self.peek() {
            Some(b'?') => {
                self.i += 1;
                Ok(Some(CommandKind::Read))
            }
            Some(b'=') => {
                self.i += 1;
                self.skip_blanks();
                if self.peek() == Some(b'?') {
                    self.i += 1;
                    Ok(Some(CommandKind::Test))
                } else {
                    set(self).map(Some)
                }
            }
            _ => Ok(None),
        }
    }

    /// A comma-separated parameter list, ending at `;` (outside quotes) or the end of the line.
    fn params(&mut self) -> Result<Params, CommandError> {
        let mut params = Vec::new();
        loop {
            self.skip_blanks();
            let param = match self.peek() {
                None | Some(b',') | Some(b';') => Param::Omitted,
                Some(b'"') => {
                    self.i += 1;
                    let rest = &self.s[self.i..];
                    let len = rest
                        .iter()
                        .position(|&b| b == b'"')
                        .ok_or(CommandError::Syntax)?;
                    self.i += len + 1;
                    Param::Str(rest[..len].to_vec())
                }
                Some(_) => {
                    let start = self.i;
                    while self
                        .peek()
                        .is_some_and(|b| !matches!(b, b',' | b';' | b'"'))
                    {
                        self.i += 1;
                    }
                    let token = self.s[start..self.i].trim_ascii();
                    match parse_decimal(token) {
                        Some(n) => Param::Num(n),
                        None => Param::Bare(token.to_vec()),
                    }
                }
            };
            params.push(param);
            self.skip_blanks();
            match self.peek() {
                Some(b',') => self.i += 1,
                None | Some(b';') => break,
                Some(_) => return Err(CommandError::Syntax),
            }
        }
        // `AT+X=` with nothing after it is a set command with no parameters.
        if params == [Param::Omitted] {
            params.clear();
        }
        Ok(Params(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Command {
        let mut v = parse_line(line.as_bytes()).unwrap();
        assert_eq!(v.len(), 1, "{line}");
        v.remove(0)
    }

    #[test]
    fn extended_kinds() {
        assert_eq!(one("+CGMI").kind, CommandKind::Action);
        assert_eq!(one("+cmee?").kind, CommandKind::Read);
        assert_eq!(one("+UFTP=?").name, "+UFTP");
        assert_eq!(one("+UFTP = ?").kind, CommandKind::Test);
        assert_eq!(
            one(r#"+UFTPC = 4,"a b",  "c" ,, 7"#).kind,
            CommandKind::Set(Params(vec![
                Param::Num(4),
                Param::Str(b"a b".to_vec()),
                Param::Str(b"c".to_vec()),
                Param::Omitted,
                Param::Num(7)
            ]))
        );
        assert_eq!(one("+UFTP=0").params().0, vec![Param::Num(0)]);
        assert_eq!(one("+UFTP=").params().0, vec![]);
        assert_eq!(
            one("+UFTP=5,0,,").params().0,
            vec![Param::Num(5), Param::Num(0), Param::Omitted, Param::Omitted]
        );
    }

    #[test]
    fn basic_commands_concatenate() {
        let v = parse_line(b"E0 V1&F S3? S12=50 I9Z").unwrap();
        let names: Vec<_> = v.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["E", "V", "&F", "S3", "S12", "I", "Z"]);
        assert_eq!(v[3].kind, CommandKind::Read);
        assert_eq!(v[4].params().0, vec![Param::Num(50)]);
    }

    #[test]
    fn semicolons_separate_extended_commands() {
        let v = parse_line(b"I;+CGATT?;+COPS?").unwrap();
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn malformed_lines_are_syntax_errors() {
        for bad in [
            r#"+X="abc"#, // unterminated quote
            r#"+X="a"b"#, // junk after a string
            "+",
            "+X?junk",
            "#",
            "S=1",
            "E99999999999999999999999",
        ] {
            assert_eq!(
                parse_line(bad.as_bytes()),
                Err(CommandError::Syntax),
                "{bad}"
            );
        }
    }

    #[test]
    fn typed_accessors() {
        let c = one(r#"+X=1,"2","a",b,,99999999999999999999"#);
        let p = c.params();
        assert_eq!(p.num(0), Ok(Some(1)));
        assert_eq!(p.num(1), Ok(Some(2)), "quoted decimal");
        assert_eq!(
            p.num(2),
            Err(CommandError::Syntax),
            "string where a number is due"
        );
        assert_eq!(p.num(3), Err(CommandError::Syntax));
        assert_eq!(p.num(4), Ok(None));
        assert_eq!(p.num(5), Err(CommandError::Syntax), "too large");
        assert_eq!(
            p.str(0),
            Err(CommandError::Syntax),
            "number where a string is due"
        );
        assert_eq!(p.str(2), Ok(Some(&b"a"[..])));
        assert_eq!(p.at_most(5), Err(CommandError::Syntax));
        assert_eq!(p.at_most(6), Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse_line(&body);
        }

        #[test]
        fn strings_round_trip(s in "[^\"]{0,40}") {
            let line = format!("+X=\"{s}\"");
            let c = parse_line(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(c[0].params().str(0).unwrap(), Some(s.as_bytes()));
        }
    }
}
