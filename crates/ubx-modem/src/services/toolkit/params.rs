//! The parameters every service reads the same way: text that may reach a server (no control
//! character, so CR and LF never end a request line or a header early), and strict hex.

use ubx_at::{CmeError, CommandError, Params};

/// Text at `i`: UTF-8, at most `max` bytes, no control character.
pub fn text(p: &Params, i: usize, max: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.len() > max {
        return Err(CmeError::TextTooLong.into());
    }
    if s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(s.to_string())
}

/// Hex digits as bytes: an even count of 0-9, a-f, A-F and nothing else (no sign, no space).
pub fn hex_digits(raw: &[u8]) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) {
        return None;
    }
    raw.chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}
