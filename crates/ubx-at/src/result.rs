//! What a command answers: its information text ([`Response`]), its final result code, and the
//! `+CME ERROR` table. [`frame`](crate::frame) turns them into bytes.
//!
//! Result codes and their numeric forms come from the SARA-R4 manual's result-code table
//! (related-commands.md §3). The u-blox `+CME ERROR` appendix is not public; the numbers below are
//! 3GPP TS 27.007 §9.2 where it has them, and u-blox-style additions for the file system
//! (`FFS TIMEOUT`, `NOT ENOUGH FREE SPACE`) whose numbers this project chose. Every chosen number is
//! listed in docs/FIDELITY.md; this enum is the one place in the code where they live.

/// A final (or intermediate) result code as V.250 frames it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalResult {
    Ok,
    Connect,
    Error,
    Disconnect,
    Aborted,
}

impl FinalResult {
    /// The verbose text (`ATV1`).
    pub fn verbose(self) -> &'static str {
        match self {
            FinalResult::Ok => "OK",
            FinalResult::Connect => "CONNECT",
            FinalResult::Error => "ERROR",
            FinalResult::Disconnect => "DISCONNECT",
            FinalResult::Aborted => "Command aborted",
        }
    }

    /// The numeric code (`ATV0`).
    pub fn numeric(self) -> u16 {
        match self {
            FinalResult::Ok => 0,
            FinalResult::Connect => 1,
            FinalResult::Error => 4,
            FinalResult::Disconnect => 14,
            FinalResult::Aborted => 3000,
        }
    }
}

macro_rules! cme_table {
    ($( $variant:ident = $code:literal, $text:literal; )*) => {
        /// A `+CME ERROR` cause: one table, numeric code and verbose text side by side.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CmeError { $( $variant, )* }

        impl CmeError {
            /// Every cause, in table order.
            pub const ALL: &'static [CmeError] = &[ $( CmeError::$variant, )* ];

            /// The numeric code shown with `+CMEE=1`.
            pub fn code(self) -> u16 {
                match self { $( CmeError::$variant => $code, )* }
            }

            /// The verbose text shown with `+CMEE=2`.
            pub fn text(self) -> &'static str {
                match self { $( CmeError::$variant => $text, )* }
            }
        }
    };
}

cme_table! {
    PhoneFailure = 0, "phone failure";
    OperationNotAllowed = 3, "operation not allowed";
    OperationNotSupported = 4, "operation not supported";
    SimNotInserted = 10, "SIM not inserted";
    IncorrectPassword = 16, "incorrect password";
    MemoryFull = 20, "memory full";
    InvalidIndex = 21, "invalid index";
    NotFound = 22, "not found";
    MemoryFailure = 23, "memory failure";
    TextTooLong = 24, "text string too long";
    InvalidCharacters = 25, "invalid characters in text string";
    NoNetworkService = 30, "no network service";
    NetworkTimeout = 31, "network timeout";
    IncorrectParameters = 50, "incorrect parameters";
    Unknown = 100, "unknown";
    UnspecifiedGprsError = 148, "unspecified GPRS error";
    FfsTimeout = 1610, "FFS TIMEOUT";
    NotEnoughFreeSpace = 1611, "NOT ENOUGH FREE SPACE";
    FileNotFound = 1612, "FILE NOT FOUND";
    InvalidFileName = 1613, "INVALID FILE NAME";
}

/// Why a command failed: a syntax problem (always plain `ERROR`, as 3GPP 27.007 §9.1 keeps
/// syntax errors out of `+CME ERROR`) or a cause shown per `+CMEE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Unknown command, malformed line, wrong parameter type or count.
    #[error("syntax error")]
    Syntax,
    /// A well-formed command that cannot be carried out; shown as `+CME ERROR` when `+CMEE` > 0.
    #[error("+CME ERROR: {}", .0.text())]
    Cme(CmeError),
}

impl From<CmeError> for CommandError {
    fn from(e: CmeError) -> Self {
        CommandError::Cme(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cme_codes_are_unique() {
        let codes: HashSet<u16> = CmeError::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), CmeError::ALL.len());
    }
}

/// One piece of a command's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A line of information text, framed per `ATV`.
    Info(Vec<u8>),
    /// A line of information text directly followed by the final result: in verbose mode its
    /// trailing S3 S4 is left out, so a payload's closing quote is followed by exactly `\r\nOK\r\n`
    /// (`+URDFILE`, host-clients.md).
    InfoTight(Vec<u8>),
    /// Bytes written exactly as given (a `+FREAD` payload).
    Raw(Vec<u8>),
}

/// What a successful command prints before its final `OK`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub parts: Vec<Part>,
}

impl Response {
    /// No information text: just `OK`.
    pub fn ok() -> Self {
        Response::default()
    }

    /// One line of information text.
    pub fn line(text: impl Into<Vec<u8>>) -> Self {
        Response {
            parts: vec![Part::Info(text.into())],
        }
    }

    /// Several lines of information text.
    pub fn lines<I: IntoIterator<Item = T>, T: Into<Vec<u8>>>(lines: I) -> Self {
        Response {
            parts: lines.into_iter().map(|l| Part::Info(l.into())).collect(),
        }
    }
}
