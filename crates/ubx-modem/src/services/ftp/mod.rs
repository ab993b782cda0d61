//! The FTP service: `+UFTP` (the profile), `+UFTPC` (operations), `+UFTPER` (last error), and
//! the URCs `+UUFTPCR` / `+UUFTPCD`.
//!
//! `AT+UFTPC=...` is checked at once — op code, parameter types and lengths, whether another
//! operation is running — and answered `OK`; the FTP work then runs in a background task on the
//! shared FTP session ([`operations`]) and reports to the terminal that asked:
//! `+UUFTPCD: <op>,<len>,"<raw bytes>"` for listings, then `+UUFTPCR: <op>,<1|0>`. Every terminal
//! keeps answering meanwhile, because nothing here blocks a command. A failure is recorded for
//! `+UFTPER` in the classes of [`errors`].

//!
//! | file | what |
//! |---|---|
//! | [`profile`] | `+UFTP`'s parameters ([`triggers`]: a direct-link store's sending) |
//! | [`operations`] | `+UFTPC`: parsing, the background operations and their ending |
//! | [`session`] | login and the session every operation shares, over the toolkit's connection path |
//! | [`retrieve`], [`store`], [`fota`] | ops 4, 5 and 100 |
//! | [`direct_link`] | ops 6 and 7, through the terminal, holding the module's direct link |
//! | [`op`] | the op codes, [`errors`] the `+UFTPER` table, [`state`] the service's state |

pub mod direct_link;
pub mod errors;
pub mod fota;
pub mod op;
pub mod operations;
pub mod profile;
pub mod retrieve;
pub mod session;
pub mod state;
pub mod store;
pub mod triggers;

use ubx_at::{Command, CommandError, CommandKind, Outcome, Response};

use crate::module::state::Ctx;
use crate::services::ftp::profile::{Profile, ProfileEffect};
use crate::services::ftp::session::close_session;

/// Default cap on one listing (`+UUFTPCD` of op 13/14); see docs/FIDELITY.md.
pub const DEFAULT_LISTING_CAP: usize = 64 * 1024;

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let reply = match cmd.name.as_str() {
        "+UFTP" => uftp(ctx, &cmd.kind),
        "+UFTPC" => return Some(operations::uftpc(ctx, &cmd.kind)),
        "+UFTPER" => match cmd.kind {
            CommandKind::Action => {
                let (class, code) = ctx.shared.state().ftp.last_error();
                Ok(Response::line(format!("+UFTPER: {class},{code}")))
            }
            CommandKind::Test => Ok(Response::ok()),
            _ => Err(CommandError::Syntax),
        },
        _ => return None,
    };
    Some(reply.into())
}

fn uftp(ctx: &Ctx, kind: &CommandKind) -> Result<Response, CommandError> {
    let model = ctx.shared.model;
    match kind {
        CommandKind::Test => Ok(Response::line(model.ftp.uftp_test.as_str())),
        CommandKind::Read => Ok(ctx.shared.state().ftp.profile.read(ctx.shared.model)),
        CommandKind::Set(p) => {
            let mut state = ctx.shared.state();
            let max_cid = state.pdp.max_cid;
            let effect = state.ftp.profile.set(p, model, max_cid)?;
            if effect == ProfileEffect::Release {
                state.ftp.profile = Profile::default();
                if let Some(suspend) = state.ftp.fota_suspend.take() {
                    let _ = suspend.send(true);
                }
                if let Some(session) = state.ftp.session.take() {
                    drop(state);
                    tokio::spawn(close_session(session));
                }
            }
            Ok(Response::ok())
        }
        CommandKind::Action => Err(CommandError::Syntax),
    }
}
