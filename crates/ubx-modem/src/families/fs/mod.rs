//! File system commands: `+UDWNFILE`, `+UDWNBLOCK`, `+URDFILE`, `+URDBLOCK`, `+ULSTFILE`,
//! `+UDELFILE`, and LEXI-R10's handle-based `+FOPEN`, `+FSEEK`, `+FREAD`, `+FWRITEHEX`,
//! `+FCLOSE`, `+FDELETE`.
//!
//! The module file system is two things kept apart: [`storage`] is the files themselves and their
//! rules (names, capacity, symlinks), reached through [`ModuleFs`]; this file is the AT service
//! over it, which parses the commands and frames their answers. Payloads go both ways as raw bytes,
//! length first, never escaped: `+URDFILE: "f",5,"hello"` is followed directly by `\r\nOK\r\n`
//! (a driver waits for exactly that), and `+UDWNFILE` reads exactly `<size>` raw bytes after its
//! `>` prompt.

use std::time::Duration;

use ubx_at::{
    CmeError, Command, CommandError, CommandKind, Outcome, Params, Part, PayloadRequest, Prompt,
    Response,
};

pub use ubx_storage::fs as storage;

pub mod state;

pub use state::{FsState, OpenFile};

use crate::module::ids::TerminalId;
use crate::module::state::Ctx;
use crate::module::state::Shared;
use storage::{FsError, ModuleFs};

/// How long the host may pause inside a `+UDWNFILE` payload: u-blox documents 20 s (SARA-R4).
pub const PAYLOAD_STALL_TIMEOUT: Duration = Duration::from_secs(20);

/// How many `+FOPEN` handles may be open at once (LEXI-R10 value not public: docs/FIDELITY.md).
pub const MAX_OPEN_HANDLES: usize = 8;

/// The only file tag the emulator has; the others name firmware-internal areas.
const USER_TAG: &[u8] = b"USER";

/// The one mapping from file system errors to `+CME ERROR` causes.
pub fn cme(e: &FsError) -> CmeError {
    match e {
        FsError::InvalidName(_) => CmeError::InvalidFileName,
        FsError::NotFound | FsError::NotRegularFile => CmeError::FileNotFound,
        FsError::NotEnoughSpace => CmeError::NotEnoughFreeSpace,
        FsError::AlreadyExists => CmeError::OperationNotAllowed,
        FsError::InvalidOffset => CmeError::IncorrectParameters,
        FsError::Io(_) => CmeError::MemoryFailure,
    }
}

/// The error a command answers for a file system failure.
pub fn fs_error(e: FsError) -> CommandError {
    CommandError::Cme(cme(&e))
}

type Reply = Result<Response, CommandError>;

/// A file name parameter, checked against the module's naming rules.
fn name_param(fs: &ModuleFs, p: &Params, i: usize) -> Result<String, CommandError> {
    let raw = p.req_str(i)?;
    fs.check_name(raw)
        .map(str::to_owned)
        .map_err(|e| fs_error(FsError::InvalidName(e)))
}

/// An optional `<tag>` parameter: only "USER" (the default) is a user file area.
fn tag_param(p: &Params, i: usize) -> Result<(), CommandError> {
    match p.str(i)? {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case(USER_TAG) => Ok(()),
        Some(_) => Err(CmeError::OperationNotSupported.into()),
    }
}

fn non_negative(v: i64) -> Result<u64, CommandError> {
    u64::try_from(v).map_err(|_| CmeError::IncorrectParameters.into())
}

/// `<prefix>: "<name>",<len>,"<data>"`, with OK following the closing quote directly.
fn data_line(prefix: &str, name: &str, data: &[u8]) -> Response {
    let mut line = format!("{prefix}: \"{name}\",{},\"", data.len()).into_bytes();
    line.extend_from_slice(data);
    line.push(b'"');
    Response {
        parts: vec![Part::InfoTight(line)],
    }
}

fn set_params(kind: &CommandKind) -> Result<&Params, CommandError> {
    match kind {
        CommandKind::Set(p) => Ok(p),
        _ => Err(CommandError::Syntax),
    }
}

pub(crate) fn execute(ctx: &Ctx, cmd: &Command) -> Option<Outcome> {
    let fs = &ctx.shared.fs;
    let outcome: Outcome = match cmd.name.as_str() {
        "+UDWNFILE" | "+UDWNBLOCK" => match download_request(ctx, cmd) {
            Ok(request) => Outcome::ExpectPayload(request),
            Err(e) => Outcome::Failed(e),
        },
        "+URDFILE" => (|| {
            let p = set_params(&cmd.kind)?;
            p.at_most(2)?;
            let name = name_param(&ctx.shared.fs, p, 0)?;
            tag_param(p, 1)?;
            Ok(data_line(
                "+URDFILE",
                &name,
                &fs.read(&name).map_err(fs_error)?,
            ))
        })()
        .into(),
        "+URDBLOCK" => (|| {
            let p = set_params(&cmd.kind)?;
            p.at_most(3)?;
            let name = name_param(&ctx.shared.fs, p, 0)?;
            let offset = non_negative(p.req_num(1)?)?;
            let size = non_negative(p.req_num(2)?)?;
            Ok(data_line(
                "+URDBLOCK",
                &name,
                &fs.read_at(&name, offset, size).map_err(fs_error)?,
            ))
        })()
        .into(),
        "+ULSTFILE" if lists_files(&cmd.kind) && direct_link_active(ctx) => {
            Outcome::Failed(CmeError::OperationNotAllowed.into())
        }
        "+ULSTFILE" => ulstfile(ctx, &cmd.kind).into(),
        "+UDELFILE" => (|| {
            let p = set_params(&cmd.kind)?;
            p.at_most(2)?;
            let name = name_param(&ctx.shared.fs, p, 0)?;
            tag_param(p, 1)?;
            fs.delete(&name).map_err(fs_error)?;
            // A handle onto the deleted file must not write a new one into being.
            ctx.shared.state().fs.forget(&name);
            Ok(Response::ok())
        })()
        .into(),
        "+FOPEN" => fopen(ctx, &cmd.kind).into(),
        "+FREAD" if direct_link_active(ctx) => {
            Outcome::Failed(CmeError::OperationNotAllowed.into())
        }
        "+FSEEK" | "+FREAD" | "+FCLOSE" | "+FDELETE" => handle_command(ctx, cmd).into(),
        "+FWRITEHEX" => match fwritehex_request(ctx, cmd) {
            Ok(request) => Outcome::ExpectPayload(request),
            Err(e) => Outcome::Failed(e),
        },
        _ => return None,
    };
    Some(outcome)
}

/// Validates `+UDWNFILE=<name>,<size>[,<tag>]` or
/// `+UDWNBLOCK=<name>,<offset>,<size>,<filesize>[,<tag>]` before the prompt: a bad name or a
/// payload that cannot fit fails at once, without reading a byte.
fn download_request(ctx: &Ctx, cmd: &Command) -> Result<PayloadRequest, CommandError> {
    let p = set_params(&cmd.kind)?;
    let name = name_param(&ctx.shared.fs, p, 0)?;
    let (size, new_end) = if cmd.name == "+UDWNFILE" {
        p.at_most(3)?;
        tag_param(p, 2)?;
        let size = non_negative(p.req_num(1)?)?;
        let current = ctx.shared.fs.size(&name).unwrap_or(0);
        (size, current.saturating_add(size))
    } else {
        p.at_most(5)?;
        tag_param(p, 4)?;
        let offset = non_negative(p.req_num(1)?)?;
        let size = non_negative(p.req_num(2)?)?;
        let file_size = non_negative(p.req_num(3)?)?;
        if offset.saturating_add(size) > file_size {
            return Err(CmeError::IncorrectParameters.into());
        }
        (size, offset.saturating_add(size))
    };
    let current = ctx.shared.fs.size(&name).unwrap_or(0);
    if new_end.saturating_sub(current) > ctx.shared.fs.free_space() {
        return Err(CmeError::NotEnoughFreeSpace.into());
    }
    let len = usize::try_from(size).map_err(|_| CmeError::NotEnoughFreeSpace)?;
    Ok(PayloadRequest {
        command: cmd.clone(),
        len,
        prompt: Prompt::Greater,
        stall_timeout: PAYLOAD_STALL_TIMEOUT,
    })
}

fn fwritehex_request(ctx: &Ctx, cmd: &Command) -> Result<PayloadRequest, CommandError> {
    let p = set_params(&cmd.kind)?;
    p.at_most(2)?;
    let handle = p.req_num(0)?;
    let hex_len = non_negative(p.req_num(1)?)?;
    if hex_len % 2 != 0 || hex_len > 4096 {
        return Err(CmeError::IncorrectParameters.into());
    }
    let mut state = ctx.shared.state();
    let opening = state.fs.open(handle)?.opening;
    state.fs.awaiting.insert(ctx.terminal, (handle, opening));
    Ok(PayloadRequest {
        command: cmd.clone(),
        len: hex_len as usize,
        prompt: Prompt::Connect,
        stall_timeout: PAYLOAD_STALL_TIMEOUT,
    })
}

/// Completes a payload command once its bytes have arrived.
pub(crate) fn payload_received(ctx: &Ctx, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
    let fs = &ctx.shared.fs;
    let p = request.command.params();
    let result: Reply = (|| match request.command.name.as_str() {
        "+UDWNFILE" => {
            fs.append(name_param(&ctx.shared.fs, p, 0)?, &data)
                .map_err(fs_error)?;
            Ok(Response::ok())
        }
        "+UDWNBLOCK" => {
            fs.write_at(
                name_param(&ctx.shared.fs, p, 0)?,
                non_negative(p.req_num(1)?)?,
                &data,
            )
            .map_err(fs_error)?;
            Ok(Response::ok())
        }
        "+FWRITEHEX" => {
            let handle = p.req_num(0)?;
            let mut state = ctx.shared.state();
            let awaited = state.fs.awaiting.remove(&ctx.terminal);
            let bytes = decode_hex(&data).ok_or(CmeError::IncorrectParameters)?;
            let open = state.fs.open(handle)?;
            // Closed (and perhaps opened again, by another terminal) since the prompt.
            if awaited != Some((handle, open.opening)) {
                return Err(CmeError::InvalidIndex.into());
            }
            fs.write_at(&open.name, open.position, &bytes)
                .map_err(fs_error)?;
            open.position += bytes.len() as u64;
            let size = fs.size(&open.name).map_err(fs_error)?;
            Ok(Response::line(format!("+FWRITE: {},{size}", bytes.len())))
        }
        _ => Err(CommandError::Syntax),
    })();
    result.into()
}

/// Two hex digits per byte, nothing else (no sign, which `from_str_radix` would take).
fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    text.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

fn ulstfile(ctx: &Ctx, kind: &CommandKind) -> Reply {
    let fs = &ctx.shared.fs;
    let (op, p) = match kind {
        CommandKind::Action => (0, None),
        CommandKind::Set(p) => (p.num(0)?.unwrap_or(0), Some(p)),
        CommandKind::Test => return Ok(Response::line("+ULSTFILE: (0-2)")),
        CommandKind::Read => return Err(CommandError::Syntax),
    };
    match op {
        0 => {
            if let Some(p) = p {
                p.at_most(2)?;
                tag_param(p, 1)?;
            }
            let names: Vec<String> = fs
                .list()
                .map_err(fs_error)?
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect();
            Ok(Response::line(format!("+ULSTFILE: {}", names.join(","))))
        }
        1 => {
            if let Some(p) = p {
                p.at_most(2)?;
                tag_param(p, 1)?;
            }
            Ok(Response::line(format!("+ULSTFILE: {}", fs.free_space())))
        }
        2 => {
            let p = p.ok_or(CommandError::Syntax)?;
            p.at_most(3)?;
            let name = name_param(&ctx.shared.fs, p, 1)?;
            tag_param(p, 2)?;
            Ok(Response::line(format!(
                "+ULSTFILE: {}",
                fs.size(&name).map_err(fs_error)?
            )))
        }
        _ => Err(CmeError::OperationNotSupported.into()),
    }
}

/// `+FOPEN="<name>",<mode>` → `+FOPEN: <handle>`; `+FOPEN?` names the open files.
/// Mode 0 (what u-blox's library sends) opens for reading and writing, creating the file.
fn fopen(ctx: &Ctx, kind: &CommandKind) -> Reply {
    match kind {
        CommandKind::Read => {
            let state = ctx.shared.state();
            Ok(Response::lines(
                state
                    .fs
                    .handles
                    .iter()
                    .map(|(h, f)| format!("+FOPEN: \"{}\",{h}", f.name)),
            ))
        }
        CommandKind::Set(p) => {
            p.at_most(2)?;
            let name = name_param(&ctx.shared.fs, p, 0)?;
            if !matches!(p.num(1)?, None | Some(0)) {
                return Err(CmeError::OperationNotSupported.into());
            }
            let fs = &ctx.shared.fs;
            // Refused before the file is made: a refused open leaves nothing behind.
            if ctx.shared.state().fs.handles.len() >= MAX_OPEN_HANDLES {
                return Err(CmeError::MemoryFull.into());
            }
            if !fs.exists(&name) {
                fs.append(&name, &[]).map_err(fs_error)?;
            }
            let mut state = ctx.shared.state();
            if state.fs.handles.len() >= MAX_OPEN_HANDLES {
                return Err(CmeError::MemoryFull.into());
            }
            let opening = state.fs.next_opening;
            state.fs.next_opening += 1;
            let handle = (1..)
                .find(|h| !state.fs.handles.contains_key(h))
                .unwrap_or(1);
            state.fs.handles.insert(
                handle,
                OpenFile {
                    name,
                    position: 0,
                    terminal: ctx.terminal,
                    opening,
                },
            );
            Ok(Response::line(format!("+FOPEN: {handle}")))
        }
        _ => Err(CommandError::Syntax),
    }
}

fn handle_command(ctx: &Ctx, cmd: &Command) -> Reply {
    let p = set_params(&cmd.kind)?;
    let handle = p.req_num(0)?;
    let fs = &ctx.shared.fs;
    let mut state = ctx.shared.state();
    let open = state.fs.open(handle)?;
    match cmd.name.as_str() {
        "+FSEEK" => {
            p.at_most(2)?;
            let offset = non_negative(p.req_num(1)?)?;
            if offset > fs.size(&open.name).map_err(fs_error)? {
                return Err(CmeError::IncorrectParameters.into());
            }
            open.position = offset;
            Ok(Response::ok())
        }
        "+FREAD" => {
            p.at_most(2)?;
            let len = non_negative(p.req_num(1)?)?;
            let size = fs.size(&open.name).map_err(fs_error)?;
            let len = len.min(size.saturating_sub(open.position));
            let data = fs
                .read_at(&open.name, open.position, len)
                .map_err(fs_error)?;
            open.position += data.len() as u64;
            Ok(Response {
                parts: vec![
                    Part::Info(format!("CONNECT {}", data.len()).into_bytes()),
                    Part::Raw(data),
                ],
            })
        }
        "+FCLOSE" => {
            p.at_most(1)?;
            state.fs.handles.remove(&handle);
            Ok(Response::ok())
        }
        "+FDELETE" => {
            p.at_most(1)?;
            let name = open.name.clone();
            state.fs.forget(&name);
            fs.delete(&name).map_err(fs_error)?;
            Ok(Response::ok())
        }
        _ => Err(CommandError::Syntax),
    }
}

/// Closes the handles a terminal left open when it goes away.
pub(crate) fn terminal_closed(shared: &Shared, terminal: TerminalId) {
    let mut state = shared.state();
    state.fs.handles.retain(|_, f| f.terminal != terminal);
    state.fs.awaiting.remove(&terminal);
}

/// The chapter: "only one direct link connection at a time" counts `+FREAD` and `+ULSTFILE`
/// op 0 among direct links, so both are refused while an FTP direct link runs (any terminal).
fn direct_link_active(ctx: &Ctx) -> bool {
    ctx.shared.direct_links.active().is_some()
}

/// `AT+ULSTFILE`, `AT+ULSTFILE=` and `AT+ULSTFILE=0`: the file list (op 0).
fn lists_files(kind: &CommandKind) -> bool {
    match kind {
        CommandKind::Action => true,
        CommandKind::Set(p) => matches!(p.num(0), Ok(None | Some(0))),
        _ => false,
    }
}
