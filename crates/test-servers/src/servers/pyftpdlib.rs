use super::{Ctx, Launched};
use crate::{Error, Kind, Result};
pub(crate) fn launch(_ctx: &Ctx<'_>) -> Result<Launched> {
    Err(Error::Unsupported {
        op: "start",
        kind: Kind::Vsftpd,
    })
}
