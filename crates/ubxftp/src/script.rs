//! `ubxftp script PATH`: a transcript, or every `.txt` of a folder, run as the test suite runs
//! it. What its header asks for (ubx_transcript::header: `# ftp-server:`, `# socket-servers:
//! echo`, `# http-server: files`, `# mqtt-broker: mosquitto`, `# model:`, `# fs-size:`,
//! `# dns:`, `# route:`) is started and set by the same code as in the test suite
//! (test_servers::transcript), and the folder a transcript lies in picks the model when it is
//! named after one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use test_servers::transcript::{Environment, ExternalFtp, Options};
use ubx_modem::model::Model;
use ubx_modem::services::toolkit::route::Route;
use ubx_terminal::trace::Tracer;
use ubx_transcript::{Header, Transcript, TranscriptError, Vars};

use crate::junit::{self, Case, Outcome};
use crate::{ModuleArgs, Verdict, anyhow_like, input, transport};

#[derive(Args)]
pub struct ScriptArgs {
    /// A transcript (format: docs/TRANSCRIPTS.md), or a folder: each `.txt` in it, by name.
    path: PathBuf,
    /// `tcp://HOST:PORT` or a serial device path; default: an in-process module.
    #[arg(long)]
    connect: Option<String>,
    /// Baud rate for a serial device.
    #[arg(long, default_value_t = 115200)]
    baud: u32,
    /// Point `{ftp-ip}`, `{ftp-port}`, `{ftp-user}` and `{ftp-password}` at this FTP server
    /// instead of starting the one `# ftp-server:` names (login default: anonymous).
    #[arg(long, value_name = "HOST:PORT[,USER,PASS]", value_parser = parse_ftp)]
    ftp: Option<ExternalFtp>,
    /// Write a JUnit XML report here: one test case per transcript.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// A value for the transcript's `{secret:NAME}` placeholders (repeatable): NAME=VALUE, or
    /// NAME=@FILE for a file's bytes; otherwise UBXFTP_SECRET_NAME from the environment
    /// (docs/TRACE.md).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    #[command(flatten)]
    module: ModuleArgs,
}

/// `--ftp HOST:PORT[,USER,PASS]`: the address resolved now, the login as given.
fn parse_ftp(text: &str) -> Result<ExternalFtp, String> {
    let mut parts = text.splitn(3, ',');
    let at = parts.next().unwrap_or_default();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(at)
        .map_err(|e| format!("{at:?}: {e} (expected HOST:PORT[,USER,PASS])"))?
        .next()
        .ok_or_else(|| format!("{at:?}: no address"))?;
    let (user, password) = match (parts.next(), parts.next()) {
        (None, _) => ("anonymous", "anonymous@"),
        (Some(user), password) => (user, password.unwrap_or_default()),
    };
    Ok(ExternalFtp {
        ip: addr.ip(),
        port: addr.port(),
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// How one transcript went.
enum Ran {
    Passed {
        steps: usize,
    },
    /// It ran and a step did not go as written.
    Failed(TranscriptError),
    /// It could not run: unreadable, bad syntax or header, a server that did not start.
    Error(String),
}

/// One transcript's run.
struct FileRun {
    file: PathBuf,
    ran: Ran,
    time: Duration,
}

pub async fn run(args: ScriptArgs) -> anyhow_like::Result<Verdict> {
    let started = Instant::now();
    let tracer = args.module.tracer()?;
    let folder = std::fs::metadata(&args.path)
        .map_err(|e| format!("{}: {e}", args.path.display()))?
        .is_dir();
    let files = if folder {
        transcripts_in(&args.path)?
    } else {
        vec![args.path.clone()]
    };
    let mut runs = Vec::new();
    for file in files {
        let t = Instant::now();
        let ran = run_file(&args, &file, tracer.as_ref()).await;
        let run = FileRun {
            file,
            ran,
            time: t.elapsed(),
        };
        print_run(&run, folder);
        runs.push(run);
    }
    if let Some(path) = &args.junit {
        write_junit(path, &args.path, &runs, started.elapsed())?;
    }
    let failed = runs
        .iter()
        .filter(|r| !matches!(r.ran, Ran::Passed { .. }))
        .count();
    if folder {
        println!("{} passed, {failed} failed", runs.len() - failed);
    }
    match runs.iter().find_map(|r| match &r.ran {
        Ran::Error(e) => Some(e),
        _ => None,
    }) {
        // A single file that could not run is the error; a folder's are each on their line.
        Some(e) if !folder => Err(e.clone()),
        Some(_) => Err(format!(
            "{}: some transcripts could not run",
            args.path.display()
        )),
        None => Ok(Verdict::of(failed == 0)),
    }
}

/// Every `.txt` in `dir`, by name.
fn transcripts_in(dir: &Path) -> anyhow_like::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .txt transcript in it", dir.display()));
    }
    Ok(files)
}

/// One line per transcript on standard output; a failure's whole story on standard error (a
/// single transcript's error is the command's, printed as it ends).
fn print_run(run: &FileRun, folder: bool) {
    let file = run.file.display();
    match &run.ran {
        Ran::Passed { steps } => println!(
            "{file}: ok ({steps} steps, {:.2} s)",
            run.time.as_secs_f64()
        ),
        Ran::Failed(e) => {
            println!("{file}: FAILED at line {}", e.line());
            eprintln!("{}", e.in_file(&file.to_string()));
        }
        Ran::Error(e) => {
            println!("{file}: error");
            if folder {
                eprintln!("{e}");
            }
        }
    }
}

/// Reads, prepares and runs one transcript.
async fn run_file(args: &ScriptArgs, file: &Path, tracer: Option<&Tracer>) -> Ran {
    let shown = file.display().to_string();
    let prepared = match prepare(args, file).await {
        Ok(p) => p,
        Err(e) => return Ran::Error(e),
    };
    let (transcript, module, _env) = prepared;
    let outcome = match &args.connect {
        None => {
            let modem = match module
                .config()
                .and_then(|c| ubx_modem::Modem::new(c).map_err(|e| format!("{shown}: {e}")))
            {
                Ok(m) => m,
                Err(e) => return Ran::Error(e),
            };
            let (mut host, device) = tokio::io::duplex(1 << 20);
            let tracer = tracer.cloned();
            let terminal = tokio::spawn(async move {
                ubx_terminal::driver::serve(&modem, device, tracer.as_ref()).await
            });
            let outcome = transcript.run(&mut host).await;
            drop(host);
            terminal.abort();
            outcome
        }
        Some(target) => match connect_and_run(&transcript, target, args.baud).await {
            Ok(outcome) => outcome,
            Err(e) => return Ran::Error(e),
        },
    };
    match outcome {
        Ok(()) => Ran::Passed {
            steps: transcript.steps.len(),
        },
        Err(e) => Ran::Failed(e),
    }
}

/// The transcript with its placeholders filled, the module flags its header adds, and the
/// servers it asked for (running until dropped).
async fn prepare(
    args: &ScriptArgs,
    file: &Path,
) -> anyhow_like::Result<(Transcript, ModuleArgs, Environment)> {
    let shown = file.display().to_string();
    let text = input::read_text_capped("script", file, input::MAX_SCRIPT_FILE)?;
    let header = Header::parse(&text).map_err(|e| e.in_file(&shown))?;
    // Placeholders are checked before any server starts.
    let mut names: Vars = header
        .placeholders()
        .into_iter()
        .map(|n| (n.to_string(), "0".to_string()))
        .collect();
    if args.ftp.is_some() {
        for n in ["ftp-ip", "ftp-port", "ftp-user", "ftp-password"] {
            names.insert(n.to_string(), "0".to_string());
        }
    }
    let secrets = crate::trace_cmd::secret_vars(&text, &args.secrets)?;
    names.extend(secrets.clone());
    Transcript::parse_with(&text, &names).map_err(|e| e.in_file(&shown))?;
    let module = module_for(&args.module, &header, file, args.connect.is_some())?;
    let options = Options {
        ftp: args.ftp.clone(),
        fallback_to_libunftp: true,
    };
    let env = Environment::start(&header, &options)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    for note in &env.notes {
        eprintln!("{shown}: {note}");
    }
    let mut vars = env.vars.clone();
    vars.extend(secrets);
    let transcript = Transcript::parse_with(&text, &vars).map_err(|e| e.in_file(&shown))?;
    let mut module = module;
    for (line, route) in &header.routes {
        let route = ubx_transcript::header::substitute(route, &env.vars, *line)
            .map_err(|e| e.in_file(&shown))?;
        let route: Route = route
            .parse()
            .map_err(|e| format!("{shown}:{line}: `# route: {route}`: {e}"))?;
        module.route.push(route);
    }
    Ok((transcript, module, env))
}

/// The module flags for a transcript: the command line's, then its header's (`# model:`,
/// `# fs-size:`, `# dns:`), then its folder's model. A flag given on the command line wins.
fn module_for(
    cli: &ModuleArgs,
    header: &Header,
    file: &Path,
    remote: bool,
) -> anyhow_like::Result<ModuleArgs> {
    let shown = file.display();
    if remote && (header.model.is_some() || header.fs_size.is_some() || !header.dns.is_empty()) {
        eprintln!(
            "{shown}: note: `# model:`, `# fs-size:`, `# dns:` and `# route:` set an in-process \
             module; with --connect they are not applied"
        );
    }
    let mut module = cli.clone();
    if module.model.is_none() && module.model_file.is_none() {
        module.model = match &header.model {
            Some((line, name)) => {
                let model = Model::by_name(name).ok_or_else(|| {
                    format!(
                        "{shown}:{line}: `# model: {name}`: unknown model; known models: {}",
                        ubx_modem::model::known_names()
                    )
                })?;
                Some(model.id.clone())
            }
            None => folder_model(file),
        };
    }
    module.fs_size = module.fs_size.or(header.fs_size);
    module.dns.extend(header.dns.iter().cloned());
    Ok(module)
}

/// The model the folder of `file` is named after, if it is.
fn folder_model(file: &Path) -> Option<String> {
    let folder = file
        .canonicalize()
        .ok()?
        .parent()?
        .file_name()?
        .to_str()?
        .to_string();
    ubx_modem::model::models()
        .iter()
        .any(|m| m.id == folder)
        .then_some(folder)
}

/// `--connect`: a running ubxftp over TCP, or a serial device.
async fn connect_and_run(
    transcript: &Transcript,
    target: &str,
    baud: u32,
) -> anyhow_like::Result<Result<(), TranscriptError>> {
    if let Some(addr) = target.strip_prefix("tcp://") {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        Ok(transcript.run(&mut stream).await)
    } else {
        let mut port =
            transport::serial::open(target, baud).map_err(|e| format!("{target}: {e}"))?;
        Ok(transcript.run(&mut port).await)
    }
}

/// `--junit`: a suite per folder, a case per transcript.
fn write_junit(path: &Path, given: &Path, runs: &[FileRun], time: Duration) -> Result<(), String> {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    for run in runs {
        let folder = run
            .file
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let classname = run
            .file
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "transcripts".into());
        let name = run
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outcome = match &run.ran {
            Ran::Passed { .. } => Outcome::Passed,
            Ran::Failed(e) => failed(e, &run.file.display().to_string()),
            Ran::Error(e) => Outcome::Error(e.clone()),
        };
        let case = Case {
            name,
            classname,
            time: run.time,
            outcome,
        };
        match suites.iter_mut().find(|(n, _)| *n == folder) {
            Some((_, cases)) => cases.push(case),
            None => suites.push((folder, vec![case])),
        }
    }
    let name = format!("ubxftp script {}", given.display());
    junit::write(path, &name, suites, time)
}

/// A transcript's failure as a JUnit failure: the whole message on one line as the message
/// (line, as written, expected, received, offset), and as written as the text.
fn failed(e: &TranscriptError, file: &str) -> Outcome {
    let text = e.in_file(file);
    let kind = match e {
        TranscriptError::Failed(f) => junit::kind(&f.miss),
        TranscriptError::Syntax { .. } => "syntax",
    };
    Outcome::Failed {
        message: text.lines().map(str::trim).collect::<Vec<_>>().join("; "),
        text,
        kind: kind.to_string(),
    }
}
