//! The socket service: `+USOCR`, `+USOCO`, `+USOWR`, `+USOST`, `+USORD`, `+USORF`, `+USOCL`,
//! `+USOER`, `+USOCTL`, `+USOSO`, `+USOGO`, `+USOSEC`, `+USOLI`, `+USODL`, and the URCs
//! `+UUSORD`, `+UUSORF`, `+UUSOCL`, `+UUSOCO`, `+UUSOLI`.
//!
//! Sockets are real OS sockets, opened through the toolkit's connection path (`--dns`,
//! `--route`, the bearer, the field layer, TLS from `+USECPRF`). Each connected socket has a
//! reader and a writer task ([`io`]) and bounded buffers ([`buffers`]): a host that does not
//! read stops the reader, and TCP's own flow control slows the peer. What differs between
//! models (ids, limits, asynchronous connect and close, test answers) is model data.
//!
//! | file | what |
//! |---|---|
//! | [`lifecycle`] | create, connect, listen, close; a lost bearer closes every socket |
//! | [`data`] | write (string, hex, binary `@`), send-to, read, read-from |
//! | [`control`] | `+USOER`, `+USOCTL`, options, `+USOSEC` |
//! | [`direct_link`] | `+USODL` |
//! | [`errors`] | the `+USOER` table; [`params`] the shared parameters and error path |

pub mod buffers;
pub mod control;
pub mod data;
pub mod direct_link;
pub mod errors;
pub mod io;
pub mod lifecycle;
pub mod params;
pub mod state;

use ubx_at::{Command, CommandError, CommandKind, Outcome, PayloadRequest, Response};

use crate::module::state::Ctx;

/// Executes a socket command, or `None` when `cmd` is not one.
pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let name = cmd.name.as_str();
    if !name.starts_with("+USO") {
        return None;
    }
    let tests = &ctx.shared.model.sockets.tests;
    Some(match &cmd.kind {
        CommandKind::Test => match tests.get(name) {
            Some(answer) => Outcome::Done(Response::line(answer.as_str())),
            None => Outcome::Done(Response::ok()),
        },
        CommandKind::Action if name == "+USOER" => Outcome::Done(control::last_error(ctx)),
        CommandKind::Set(p) => match name {
            "+USOCR" => lifecycle::create(ctx, p).into(),
            "+USOCO" => lifecycle::connect(ctx, p),
            "+USOWR" => data::write(ctx, cmd, p),
            "+USOST" => data::send_to(ctx, cmd, p),
            "+USORD" => data::read(ctx, p).into(),
            "+USORF" => data::read_from(ctx, p).into(),
            "+USOCL" => lifecycle::close(ctx, p).into(),
            "+USOCTL" => control::control(ctx, p).into(),
            "+USOSO" => control::set_option(ctx, p).into(),
            "+USOGO" => control::get_option(ctx, p).into(),
            "+USOSEC" => control::security(ctx, p).into(),
            "+USOLI" => lifecycle::listen(ctx, p).into(),
            "+USODL" => direct_link::start(ctx, p),
            _ => Outcome::Failed(CommandError::Syntax),
        },
        _ => Outcome::Failed(CommandError::Syntax),
    })
}

/// The binary data of `+USOWR` / `+USOST` after the `@` prompt.
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
    data::payload_received(ctx, request, data)
}

pub use lifecycle::bearer_sync;
