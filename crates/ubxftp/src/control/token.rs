//! The control API's token: drawn from the operating system's random source, kept in a file only
//! its owner may read, compared in a time that does not depend on where it differs.
//!
//! `serve --control` writes it to [`default_path`] (named by the API's port, so several modules
//! on one machine do not mix up) unless `--control-token-file` gives one; `ubxftp ctl` reads it
//! from `--token-file`, then [`ENV`], then [`default_path`] of the URL's port.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The environment variable `ubxftp ctl` takes a token from (the token itself, not a path).
pub const ENV: &str = "UBXFTP_CONTROL_TOKEN";

/// Fewest characters of a token given by a file or by [`ENV`].
pub const MIN_LEN: usize = 16;

/// Most bytes a token file may hold: it is a token, not a document.
const MAX_FILE: u64 = 4096;

/// A bearer token. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token: 32 bytes from the operating system's random source, as 64 hex digits.
    pub fn generate() -> Result<Token, String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| format!("the random source: {e}"))?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A token as written by a person or a file: surrounding white space is not part of it; it
    /// is at least [`MIN_LEN`] visible ASCII characters (it travels in an HTTP header).
    pub fn parse(text: &str) -> Result<Token, String> {
        let text = text.trim();
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "a token is visible ASCII characters only, not {bad:?}"
            ));
        }
        if text.len() < MIN_LEN {
            return Err(format!(
                "a token of {} characters is too short (at least {MIN_LEN})",
                text.len()
            ));
        }
        Ok(Token(text.to_string()))
    }

    /// The token in `path`; a missing file is [`io::ErrorKind::NotFound`], a file that does not
    /// hold a token [`io::ErrorKind::InvalidData`].
    pub fn read(path: &Path) -> io::Result<Token> {
        let mut text = String::new();
        std::fs::File::open(path)?
            .take(MAX_FILE + 1)
            .read_to_string(&mut text)?;
        if text.len() as u64 > MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("longer than {MAX_FILE} bytes: not a token file"),
            ));
        }
        Token::parse(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this token. Every byte is compared whatever the first difference,
    /// so the time taken tells nothing of how much of a guess was right.
    pub fn matches(&self, offered: &[u8]) -> bool {
        let want = self.0.as_bytes();
        if offered.len() != want.len() {
            return false;
        }
        let diff = want
            .iter()
            .zip(offered)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

/// Where `serve` writes the token of an API on `port`, and where `ctl` looks for it:
/// `$XDG_RUNTIME_DIR/ubxftp-control-<port>.token`, else the same name in the temporary folder.
pub fn default_path(port: u16) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("ubxftp-control-{port}.token"))
}

/// Writes `token` to `path` with mode 0600. The bytes go to a new file (created exclusively,
/// 0600 from the start) that is then renamed over the name: a file or a symlink someone planted
/// there never receives the token, and in a sticky folder such as /tmp a name another user owns
/// is refused instead of written.
pub fn write(path: &Path, token: &Token) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".ubxftp-control-")
        .tempfile_in(dir)?;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(format!("{}\n", token.as_str()).as_bytes())?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A token file `serve` wrote: removed when the API ends, if it still holds this token.
pub struct Written {
    pub path: PathBuf,
    token: Token,
}

impl Written {
    pub fn new(path: PathBuf, token: Token) -> Written {
        Written { path, token }
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if Token::read(&self.path).is_ok_and(|t| t.as_str() == self.token.as_str()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Warns when a token file others may read (a token given with `--control-token-file`).
pub fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {}: mode {mode:o}, readable by other users: `chmod 600` it",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.as_str().len(), 64);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str().as_bytes()));
        assert!(!a.matches(b.as_str().as_bytes()));
        assert!(!a.matches(&a.as_str().as_bytes()[..63]));
        assert!(!a.matches(b""));
        assert_eq!(format!("{a:?}"), "Token(…)");
        assert!(Token::parse("short").unwrap_err().contains("too short"));
        assert!(Token::parse("0123456789abcdef 0").is_err());
        assert_eq!(
            Token::parse(" 0123456789abcdef\n").unwrap().as_str(),
            "0123456789abcdef"
        );
    }

    #[test]
    fn a_written_token_is_the_owners_alone_and_replaces_a_planted_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        let path = dir.path().join("ubxftp-control-1.token");
        std::os::unix::fs::symlink(&outside, &path).unwrap();
        let token = Token::generate().unwrap();
        write(&path, &token).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(Token::read(&path).unwrap().as_str(), token.as_str());
        drop(Written::new(path.clone(), token));
        assert!(!path.exists());
    }
}
