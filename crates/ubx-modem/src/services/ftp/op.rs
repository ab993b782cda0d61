//! The `+UFTPC` op codes, as a type, and the remote-name parameter the ops share.

use ubx_at::{CmeError, CommandError, Params};

/// One `+UFTPC` operation code (the chapter's `<op_code>`; which a model has is model data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtpOp {
    Logout,
    Login,
    Delete,
    Rename,
    Retrieve,
    Store,
    /// Direct-link retrieve: the file straight to the host.
    DirectRetrieve,
    /// Direct-link store: the host's bytes straight to the server.
    DirectStore,
    Cwd,
    Mkdir,
    Rmdir,
    List,
    NameList,
    /// FOTA download into the hidden area.
    Fota,
}

impl FtpOp {
    /// Every op, in code order.
    pub const ALL: [FtpOp; 14] = [
        FtpOp::Logout,
        FtpOp::Login,
        FtpOp::Delete,
        FtpOp::Rename,
        FtpOp::Retrieve,
        FtpOp::Store,
        FtpOp::DirectRetrieve,
        FtpOp::DirectStore,
        FtpOp::Cwd,
        FtpOp::Mkdir,
        FtpOp::Rmdir,
        FtpOp::List,
        FtpOp::NameList,
        FtpOp::Fota,
    ];

    pub fn code(self) -> i64 {
        match self {
            FtpOp::Logout => 0,
            FtpOp::Login => 1,
            FtpOp::Delete => 2,
            FtpOp::Rename => 3,
            FtpOp::Retrieve => 4,
            FtpOp::Store => 5,
            FtpOp::DirectRetrieve => 6,
            FtpOp::DirectStore => 7,
            FtpOp::Cwd => 8,
            FtpOp::Mkdir => 10,
            FtpOp::Rmdir => 11,
            FtpOp::List => 13,
            FtpOp::NameList => 14,
            FtpOp::Fota => 100,
        }
    }

    pub fn from_code(code: i64) -> Option<FtpOp> {
        FtpOp::ALL.into_iter().find(|op| op.code() == code)
    }

    /// Ops 6 and 7 answer `CONNECT` and move the file through the terminal.
    pub fn is_direct_link(self) -> bool {
        matches!(self, FtpOp::DirectRetrieve | FtpOp::DirectStore)
    }
}

/// What a successful operation hands back besides success.
pub enum Done {
    Plain,
    /// A listing, sent as `+UUFTPCD` before the result.
    Listing(Vec<u8>),
    /// A FOTA image's MD5.
    Fota(String),
}

/// Longest `<remote_filename>` (chapter: 256 characters).
pub const MAX_REMOTE_NAME: usize = 256;

/// A remote name or path: at most 256 bytes of UTF-8 with no control characters — CR, LF and
/// NUL in particular, which would end the FTP command early.
pub(crate) fn remote(p: &Params, i: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    if raw.len() > MAX_REMOTE_NAME {
        return Err(CmeError::TextTooLong.into());
    }
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_what_faults_may_name() {
        for op in FtpOp::ALL {
            assert_eq!(FtpOp::from_code(op.code()), Some(op));
        }
        assert_eq!(FtpOp::from_code(9), None);
        let codes: Vec<i64> = FtpOp::ALL.iter().map(|op| op.code()).collect();
        assert_eq!(codes, ubx_field::spec::UFTPC_OPS);
    }
}
