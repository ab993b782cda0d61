//! `ubxftp trace FILE`: a trace written by `--trace` (docs/TRACE.md) as text ([`show`]);
//! `ubxftp trace to-transcript FILE`: as a transcript that `ubxftp script` replays
//! (ubx_terminal::to_transcript does the work);
//! `ubxftp trace view FILE`: as a page to look at ([`page`]).

pub mod describe;
pub mod page;
mod show;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ubx_terminal::to_transcript::{self, Options};

use crate::anyhow_like;

/// A trace file can be large (a direct link's data is in it).
const MAX_TRACE_FILE: u64 = 1 << 30;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TraceArgs {
    #[command(subcommand)]
    command: Option<TraceCommand>,
    /// A trace written by `--trace`: printed as text, one line per record in time order
    /// (colours on a terminal; --color).
    #[arg(required = true)]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Write a transcript that sends what the host sent, at its pauses, and expects what the
    /// module answered, with patterns for what varies (docs/TRACE.md).
    ToTranscript(ToTranscriptArgs),
    /// Write one self-contained HTML page that shows the trace: lanes host | module | network |
    /// field on a time axis, with zoom, search and a filter per lane (docs/TRACE.md).
    View(ViewArgs),
}

#[derive(Args)]
struct ViewArgs {
    /// A trace written by `--trace`.
    file: PathBuf,
    /// Write the page here [default: the trace's name with `.html`].
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ToTranscriptArgs {
    /// A trace written by `--trace`.
    file: PathBuf,
    /// Write the transcript here [default: standard output].
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The module to replay (the records' `m`) [default: the first with host bytes].
    #[arg(long, value_name = "M")]
    module: Option<u64>,
    /// The terminal to replay (the records' `term`) [default: the module's first with host
    /// bytes].
    #[arg(long, value_name = "TERM")]
    term: Option<u64>,
    /// Keep what varies exact instead of a pattern: times, addresses, ports, imei, listings,
    /// md5, or all (repeatable).
    #[arg(long, value_name = "KIND")]
    exact: Vec<String>,
    /// The `# ftp-server:` a session that used FTP asks for [default: the kind the server's
    /// greeting names, else libunftp].
    #[arg(long, value_name = "KIND")]
    ftp_server: Option<String>,
}

/// `ansi`: whether to colour the text (`--color`, standard output a terminal, `NO_COLOR`).
pub fn run(args: TraceArgs, ansi: bool) -> anyhow_like::Result<()> {
    match (args.command, args.file) {
        (Some(TraceCommand::ToTranscript(args)), _) => to_transcript(args),
        (Some(TraceCommand::View(args)), _) => view(args),
        (None, Some(file)) => {
            let text = crate::input::read_text_capped("trace", &file, MAX_TRACE_FILE)?;
            show::print(&text, ansi).map_err(|e| format!("{}: {e}", file.display()))
        }
        (None, None) => Err(
            "usage: ubxftp trace FILE | ubxftp trace to-transcript FILE | ubxftp trace view FILE"
                .into(),
        ),
    }
}

fn view(args: ViewArgs) -> anyhow_like::Result<()> {
    let text = crate::input::read_text_capped("trace", &args.file, MAX_TRACE_FILE)?;
    let title = args
        .file
        .file_name()
        .map_or_else(|| "trace".into(), |n| n.to_string_lossy().into_owned());
    let (html, count) =
        page::from_trace(&title, &text).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let out = args.out.unwrap_or_else(|| args.file.with_extension("html"));
    if out == args.file {
        return Err(format!(
            "{}: the page would replace the trace: give -o FILE",
            out.display()
        ));
    }
    std::fs::write(&out, html).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("{}: {count} records", out.display());
    Ok(())
}

fn to_transcript(args: ToTranscriptArgs) -> anyhow_like::Result<()> {
    let mut options = Options {
        module: args.module,
        term: args.term,
        ..Options::default()
    };
    for kind in &args.exact {
        options.exact.set(kind)?;
    }
    if let Some(kind) = &args.ftp_server {
        if !ubx_transcript::header::FTP_SERVERS.contains(&kind.as_str()) {
            return Err(format!(
                "--ftp-server {kind}: one of {}",
                ubx_transcript::header::FTP_SERVERS.join(", ")
            ));
        }
        options.ftp_server = Some(kind.clone());
    }
    let text = crate::input::read_text_capped("trace", &args.file, MAX_TRACE_FILE)?;
    let converted = to_transcript::convert(&text, &options)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    for note in &converted.notes {
        eprintln!("{}: note: {note}", args.file.display());
    }
    if !converted.secrets.is_empty() {
        eprintln!(
            "{}: the transcript needs secrets: {} (ubxftp script --secret NAME=VALUE)",
            args.file.display(),
            converted.secrets.join(", ")
        );
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &converted.text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => print!("{}", converted.text),
    }
    Ok(())
}

/// Largest `--secret NAME=@FILE` (a key or a certificate).
const MAX_SECRET_FILE: u64 = 1 << 20;

/// The values of the `{secret:NAME}` placeholders in a transcript's `text` (those of
/// `trace to-transcript`): `--secret NAME=VALUE` (`NAME=@FILE`: the file's bytes), else the
/// environment's `UBXFTP_SECRET_NAME` (upper case, `-` as `_`). Each is written in the
/// transcript's escapes, so the bytes are sent as given. A placeholder with no value is left
/// out: the transcript's parser names it and where its value comes from.
pub fn secret_vars(text: &str, given: &[String]) -> anyhow_like::Result<ubx_transcript::Vars> {
    use std::os::unix::ffi::OsStringExt as _;
    use ubx_terminal::to_transcript::text::{Piece, literal};
    let mut values = std::collections::BTreeMap::new();
    for g in given {
        let (name, value) = g
            .split_once('=')
            .ok_or_else(|| format!("--secret {g:?}: expected NAME=VALUE or NAME=@FILE"))?;
        let bytes = match value.strip_prefix('@') {
            Some(path) => {
                crate::input::read_capped("--secret", std::path::Path::new(path), MAX_SECRET_FILE)?
            }
            None => value.as_bytes().to_vec(),
        };
        values.insert(name.to_string(), bytes);
    }
    let re =
        regex::Regex::new(r"\{secret:([A-Za-z][A-Za-z0-9_-]*)\}").map_err(|e| e.to_string())?;
    let mut vars = ubx_transcript::Vars::new();
    for caps in re.captures_iter(text) {
        let name = &caps[1];
        let env = format!(
            "UBXFTP_SECRET_{}",
            name.to_ascii_uppercase().replace('-', "_")
        );
        let value = values
            .get(name)
            .cloned()
            .or_else(|| std::env::var_os(env).map(|v| v.into_vec()));
        if let Some(v) = value {
            vars.insert(format!("secret:{name}"), literal(&[Piece::Lit(v)]));
        }
    }
    Ok(vars)
}
