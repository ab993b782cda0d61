//! What every socket command shares: the socket id parameter, the hex mode, the data
//! parameters, and the one error path (the command fails, `+USOER` tells why).

use ubx_at::{CmeError, CommandError, Params};

use crate::module::state::{Ctx, State};
use crate::services::socket::errors::SocketError;
use crate::services::toolkit::params::hex_digits;

/// The error a socket command answers: `+CME ERROR: operation not allowed` (`ERROR` under
/// `+CMEE=0`), with the cause kept for `+USOER` (and for the socket's `+USOCTL=<s>,1`).
pub(crate) fn refuse(state: &mut State, id: Option<u8>, e: SocketError) -> CommandError {
    state.socket.last_error = e.errno();
    if let Some(socket) = id.and_then(|id| state.socket.sockets.get_mut(&id)) {
        socket.last_error = e.errno();
    }
    tracing::debug!(socket = ?id, error = ?e, "socket command refused");
    CmeError::OperationNotAllowed.into()
}

/// A success clears `+USOER`.
pub(crate) fn succeeded(state: &mut State) {
    state.socket.last_error = 0;
}

/// `<socket>` at `i`: a number within the model's ids (open or not).
pub(crate) fn socket_id(ctx: &Ctx, p: &Params, i: usize) -> Result<u8, CommandError> {
    let raw = p.req_num(i)?;
    match u8::try_from(raw) {
        Ok(id) if id < ctx.shared.model.sockets.count => Ok(id),
        _ => Err(refuse(
            &mut ctx.shared.state(),
            None,
            SocketError::BadSocket,
        )),
    }
}

/// `+UDCONF=1,1`: socket data in hex.
pub(crate) fn hex_mode(state: &State) -> bool {
    state.general.udconf.get(&1).and_then(|v| v.first()) == Some(&1)
}

/// A `<length>` parameter for data: 1 to the model's limit (`max`).
pub(crate) fn data_len(raw: i64, max: usize) -> Option<usize> {
    usize::try_from(raw).ok().filter(|n| (1..=max).contains(n))
}

/// The `<data>` of a string-form write: exactly `len` bytes, as text or (hex mode) as `2 × len`
/// hex digits.
pub(crate) fn data(raw: &[u8], len: usize, hex: bool) -> Option<Vec<u8>> {
    if !hex {
        return (raw.len() == len).then(|| raw.to_vec());
    }
    if raw.len() != 2 * len {
        return None;
    }
    hex_digits(raw)
}

/// Data as the host reads it: raw, or hex digits in hex mode.
pub(crate) fn shown(data: &[u8], hex: bool) -> Vec<u8> {
    if hex {
        data.iter()
            .flat_map(|b| format!("{b:02X}").into_bytes())
            .collect()
    } else {
        data.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_exact_and_hex_is_strict() {
        assert_eq!(data(b"abc", 3, false), Some(b"abc".to_vec()));
        assert_eq!(data(b"abc", 2, false), None);
        assert_eq!(data(b"0aFF", 2, true), Some(vec![0x0A, 0xFF]));
        // Odd length, a sign, a non-hex digit.
        assert_eq!(data(b"0aF", 2, true), None);
        assert_eq!(data(b"+7", 1, true), None);
        assert_eq!(data(b"0g", 1, true), None);
        assert_eq!(shown(&[0x0A, 0xFF], true), b"0AFF".to_vec());
        assert_eq!(data_len(0, 1024), None);
        assert_eq!(data_len(1025, 1024), None);
        assert_eq!(data_len(1024, 1024), Some(1024));
    }
}
