//! FTP service: `+UFTP`, `+UFTPC`, `+UFTPER` (built in the FTP service issue).

use ubx_at::{Command, Outcome};

use crate::Ctx;

#[derive(Debug, Default)]
pub struct FtpState {}

pub(crate) fn execute(_ctx: &Ctx, _cmd: &Command) -> Option<Outcome> {
    None
}
