//! `ubxftp`: a u-blox LEXI-R10 cellular module in software.
//!
//! ```text
//! ubxftp serve --stdio                       an interactive module on the console
//! ubxftp serve --tcp 127.0.0.1:0 --pty       several transports, one module
//! ubxftp script t.txt --connect tcp://127.0.0.1:5000
//! ubxftp script crates/ubx-modem/tests/transcripts/sara-r5 --junit junit.xml
//! ubxftp demo                                a module, an FTP server and the console
//! ubxftp models                              the models --model accepts
//! ubxftp serve --tcp 127.0.0.1:0 --link lte-m --baud 115200 --control 127.0.0.1:0
//! ubxftp ctl 127.0.0.1:PORT fault add target=ftp-data action=reset on_op=4   (token: docs/SECURITY.md)
//! ```

mod control;
mod demo;
mod fleet;
mod ftp_server;
mod input;
mod junit;
mod report;
mod script;
mod share;
mod trace_cmd;
mod transport;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ubx_modem::field::spec::{Fault, LinkSpec};
use ubx_modem::model::Model;
use ubx_modem::{Modem, ModemConfig};
use ubx_terminal::trace::Tracer;

#[derive(Parser)]
#[command(
    name = "ubxftp",
    version,
    about = "A u-blox LEXI-R10 cellular module in software: AT terminal, module file system, FTP/FTPS service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colours in the log on standard error: `auto` only when it is a terminal (and `NO_COLOR`
    /// is not set), so a redirected log holds no escape codes.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

/// `--color`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    /// Whether to colour standard error (the log).
    fn ansi(self) -> bool {
        use std::io::IsTerminal;
        self.ansi_on(std::io::stderr().is_terminal())
    }

    /// Whether to colour a stream that `is_terminal` or not: `auto` only on a terminal, and
    /// not when `NO_COLOR` is set.
    fn ansi_on(self, is_terminal: bool) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the module on one or more transports.
    Serve {
        #[command(flatten)]
        module: ModuleArgs,
        #[command(flatten)]
        transports: TransportArgs,
    },
    /// Run a transcript, or every transcript of a folder, against ubxftp (in-process by
    /// default) or a module on TCP / a serial port; what its header asks for is started first.
    Script(script::ScriptArgs),
    /// Start an FTP server in-process, a module whose FTP profile points at it, and the console.
    Demo {
        #[command(flatten)]
        module: ModuleArgs,
        /// Extra transports besides the console (e.g. --tcp 127.0.0.1:0).
        #[command(flatten)]
        transports: TransportArgs,
    },
    /// List the module models --model accepts, with the names each also answers to.
    Models,
    /// Many modules in one process: a port each (--tcp HOST:BASE), or a load test (--script).
    Fleet(fleet::FleetArgs),
    /// Print a fleet report as a table, or merge shard reports: `report merge A.json B.json`.
    Report {
        /// `FILE`, or `merge FILE FILE...`.
        #[arg(num_args = 1.., required = true)]
        files: Vec<PathBuf>,
        /// Where `merge` writes the merged report (default: standard output).
        #[arg(short, long, visible_alias = "out", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Exit 1 when the report (or the merged one) holds a module that failed.
        #[arg(long)]
        check: bool,
    },
    /// Talk to a running module's control API (--control): faults, the link, its state.
    Ctl(control::ctl::CtlArgs),
    /// A real FTP server on loopback for tests (libunftp, in-process): prints its address,
    /// user, password and folder, and serves until SIGINT/SIGTERM.
    FtpServer(ftp_server::FtpServerArgs),
    /// Work with a trace written by --trace: `trace FILE` prints it as text, `trace
    /// to-transcript FILE` makes a transcript of it (docs/TRACE.md).
    Trace(trace_cmd::TraceArgs),
}

/// What the module is.
#[derive(Args, Clone)]
struct ModuleArgs {
    /// Module model to emulate: a name from `ubxftp models`, or a +CGMM string such as
    /// SARA-R510S [default: lexi-r10; for `script`, the transcript's `# model:` or its folder's]
    #[arg(long)]
    model: Option<String>,
    /// Emulate the model described by this TOML file instead (schema: docs/MODELS.md).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    model_file: Option<PathBuf>,
    /// Folder of the module file system (created if missing); default: a temporary folder removed at exit.
    #[arg(long)]
    fs_dir: Option<PathBuf>,
    /// Capacity of the module file system in bytes [default: 1073741824; for `script`, the
    /// transcript's `# fs-size:`]
    #[arg(long)]
    fs_size: Option<u64>,
    /// Resolve NAME to ADDR before asking the host resolver (repeatable), e.g. --dns ftp.example.com=127.0.0.1
    #[arg(long = "dns", value_name = "NAME=ADDR", value_parser = parse_dns)]
    dns: Vec<(String, IpAddr)>,
    /// Send every connection the module opens to ADDR[:PORT] to another address instead
    /// (repeatable), e.g. --route 18.133.144.142:5055=127.0.0.1:40001: the address twin of --dns.
    #[arg(long = "route", value_name = "ADDR[:PORT]=ADDR[:PORT]")]
    route: Vec<ubx_modem::services::toolkit::route::Route>,
    /// Let the module connect only to these networks and addresses (after --route), each with
    /// an optional port: e.g. --egress 127.0.0.1,10.0.0.0/8:21,[2001:db8::/32]:443. Any other
    /// connection fails as a refused connect. Default: anywhere.
    #[arg(
        long,
        value_name = "CIDR[:PORT],...",
        value_delimiter = ',',
        value_parser = ubx_modem::services::toolkit::egress::parse_rule
    )]
    egress: Vec<ubx_modem::services::toolkit::egress::Rule>,
    /// Let listening sockets (AT+USOLI) bind this address instead of 127.0.0.1; anything but
    /// loopback is reachable from the network.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    socket_listen: IpAddr,
    /// Write every read and write of every terminal, and the module's network side
    /// (connections, FTP/HTTP/MQTT dialogue, faults, link, bearers), to FILE as JSON lines
    /// (docs/TRACE.md).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// With --trace: record the bytes of the module's user connections too (FTP data, AT+USO*
    /// sockets), not only their counts. Never those of FTP control, HTTP or MQTT connections,
    /// whose passwords a trace could not mask (docs/TRACE.md).
    #[arg(long, requires = "trace")]
    trace_data: bool,
    /// Longest FTP listing (AT+UFTPC=13/14) handed over in one +UUFTPCD; longer ones are cut.
    #[arg(long, value_name = "BYTES", default_value_t = ubx_modem::ftp::DEFAULT_LISTING_CAP)]
    ftp_listing_cap: usize,
    /// The radio link of every connection the module makes: a preset (lte-cat1, lte-m, nb-iot,
    /// egprs) or down=RATE,up=RATE,rtt=DUR,jitter=DUR,loss=PCT (docs/FIELD.md).
    #[arg(long, value_name = "SPEC", value_parser = parse_link)]
    link: Option<LinkSpec>,
    /// Seed of jitter, loss and line faults: the same seed, the same run.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Faults to set from the start: a TOML file of [[fault]] tables (docs/FIELD.md).
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
}

/// Where the module's AT terminals are.
#[derive(Args, Clone)]
struct TransportArgs {
    /// Accept AT terminals over TCP (each connection is one more terminal). Port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Vec<String>,
    /// Allow --tcp on an address that is not loopback: whoever reaches the port drives the
    /// module, with no password, and can make it connect anywhere.
    #[arg(long, requires = "tcp")]
    tcp_remote: bool,
    /// Create a pseudo-terminal and print its path.
    #[arg(long)]
    pty: bool,
    /// Also make a symlink to the pseudo-terminal at PATH.
    #[arg(long, value_name = "PATH", requires = "pty")]
    pty_link: Option<PathBuf>,
    /// Open a real serial port.
    #[arg(long, value_name = "DEV")]
    serial: Option<String>,
    /// Bits per second of the terminals' lines (8N1): a serial port is set to it (115200
    /// without it); TCP, PTY and console terminals are paced at it (not paced without it).
    /// AT+IPR changes it, after its OK.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(300..=4_000_000))]
    baud: Option<u32>,
    /// Use the console (stdin/stdout) as a terminal.
    #[arg(long)]
    stdio: bool,
    #[command(flatten)]
    control: control::ControlArgs,
}

fn parse_link(text: &str) -> Result<LinkSpec, String> {
    LinkSpec::parse(text).map_err(|e| e.to_string())
}

fn parse_dns(text: &str) -> Result<(String, IpAddr), String> {
    let (name, addr) = text.split_once('=').ok_or("expected NAME=ADDR")?;
    let addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if name.is_empty() {
        return Err("empty NAME".into());
    }
    Ok((name.to_string(), addr))
}

impl ModuleArgs {
    fn build(&self) -> anyhow_like::Result<(Modem, Option<Tracer>)> {
        let modem = Modem::new(self.config()?).map_err(|e| e.to_string())?;
        Ok((modem, self.tracer()?))
    }

    /// The trace file, if asked for.
    fn tracer(&self) -> anyhow_like::Result<Option<Tracer>> {
        match &self.trace {
            Some(path) => {
                let tracer =
                    Tracer::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
                if self.trace_data {
                    tracer.record_contents();
                }
                Ok(Some(tracer))
            }
            None => Ok(None),
        }
    }

    /// The module these flags describe (a fleet adapts it per module).
    fn config(&self) -> anyhow_like::Result<ModemConfig> {
        if !self.socket_listen.is_loopback() {
            eprintln!(
                "warning: --socket-listen {}: sockets listening with AT+USOLI are reachable from the network",
                self.socket_listen
            );
        }
        let model = self.model()?;
        let faults = match &self.faults {
            Some(path) => module_faults(path, model.pdp.max_cid)?,
            None => Vec::new(),
        };
        let field = ubx_modem::field::FieldConfig {
            link: self.link.unwrap_or(LinkSpec::UNSHAPED),
            seed: self.seed,
            faults,
        };
        Ok(ModemConfig {
            model,
            fs_dir: self.fs_dir.clone(),
            fs_size: self.fs_size.unwrap_or(ubx_modem::DEFAULT_FS_SIZE),
            dns_overrides: self.dns.clone(),
            ftp_listing_cap: self.ftp_listing_cap,
            field,
            routes: ubx_modem::services::toolkit::route::Routes(self.route.clone()),
            egress: ubx_modem::services::toolkit::egress::Egress(
                (!self.egress.is_empty()).then(|| self.egress.clone()),
            ),
            listen_addr: self.socket_listen,
            ..ModemConfig::default()
        })
    }
}

/// One module's `--faults` file: at most as many faults as the control API lets a module hold.
fn module_faults(path: &std::path::Path, max_cid: u8) -> anyhow_like::Result<Vec<Fault>> {
    let text = input::read_text_capped("--faults", path, input::MAX_FAULTS_FILE)?;
    let faults = ubx_modem::field::spec::parse_scenario(&text, max_cid)
        .map_err(|e| format!("--faults {}: {e}", path.display()))?;
    if faults.len() > control::MAX_FAULTS_PER_MODULE {
        return Err(format!(
            "--faults {}: {} faults; a module holds at most {} (docs/SECURITY.md)",
            path.display(),
            faults.len(),
            control::MAX_FAULTS_PER_MODULE
        ));
    }
    Ok(faults)
}

impl ModuleArgs {
    /// The model `--model` or `--model-file` names.
    fn model(&self) -> anyhow_like::Result<&'static Model> {
        if let Some(path) = &self.model_file {
            let text = input::read_text_capped("--model-file", path, input::MAX_MODEL_FILE)?;
            let model = Model::from_toml(&text)
                .map_err(|e| format!("--model-file {}: {e}", path.display()))?;
            // One model per process, kept for its whole life.
            return Ok(Box::leak(Box::new(model)));
        }
        let name = self
            .model
            .as_deref()
            .unwrap_or(ubx_modem::model::DEFAULT_MODEL);
        Model::by_name(name).ok_or_else(|| {
            format!(
                "unknown model {name:?}; known models: {} (see `ubxftp models`)",
                ubx_modem::model::known_names()
            )
        })
    }
}

/// `ubxftp report FILE` / `ubxftp report merge FILE...`; with `check`, a report that holds a
/// failed module fails.
fn report_command(
    files: &[PathBuf],
    out: Option<&std::path::Path>,
    check: bool,
) -> anyhow_like::Result<Verdict> {
    // Each file is read with a cap and checked before it is printed or merged.
    let read = |p: &PathBuf| -> anyhow_like::Result<report::Checked> {
        let bytes = input::read_capped("report", p, input::MAX_REPORT_FILE)?;
        let report = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a fleet report: {e}", p.display()))?;
        report::Checked::new(p.display().to_string(), report)
    };
    match files {
        [one] => {
            let report = read(one)?.report;
            report::print(&report);
            Ok(Verdict::of(!check || report.failed == 0))
        }
        [merge, rest @ ..] if merge.as_os_str() == "merge" && !rest.is_empty() => {
            // Read as merged: one report at a time besides the merge.
            let merged = report::merge(rest.iter().map(read))?;
            let json = serde_json::to_vec_pretty(&merged).map_err(|e| e.to_string())?;
            match out {
                Some(path) => {
                    std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?
                }
                None => println!("{}", String::from_utf8_lossy(&json)),
            }
            if check && merged.failed > 0 {
                eprintln!(
                    "report: {} of {} modules failed",
                    merged.failed, merged.modules
                );
            }
            Ok(Verdict::of(!check || merged.failed == 0))
        }
        _ => Err("usage: ubxftp report FILE | ubxftp report merge FILE FILE...".into()),
    }
}

/// `ubxftp models`: one line per model.
fn list_models() {
    use std::io::Write;
    let mut text = String::new();
    for model in ubx_modem::model::models() {
        text.push_str(&format!("{:<10} {}\n", model.id, model.description));
        text.push_str(&format!(
            "{:<10} +CGMM {}; also: {}\n",
            "",
            model.identity.model,
            model.aliases.join(", ")
        ));
    }
    // A reader that stops early (`ubxftp models | head -1`) is no error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The binary's error type: a message for the user.
mod anyhow_like {
    pub type Result<T> = std::result::Result<T, String>;
}

/// How a command that checks something ended. The exit codes (README, "Exit codes"): 0 when it
/// passed, 1 when a check failed (a transcript, a fleet's module, `report --check`), 2 when the
/// command could not do its work (bad usage or input, or the environment: clap's own usage
/// errors are 2 as well), like `grep` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    /// `Passed` when `passed`.
    pub fn of(passed: bool) -> Verdict {
        if passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        }
    }
}

/// Exit code 2: the command could not do its work.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(cli.color.ansi())
        .init();
    // `script` runs one module and one host at a time on one thread, as the test suite runs
    // transcripts (`#[tokio::test]`): the same transcript sees the same interleaving of a
    // module's tasks in both.
    let runtime = match &cli.command {
        Command::Script(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ubxftp: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let stdout_ansi = {
        use std::io::IsTerminal;
        cli.color.ansi_on(std::io::stdout().is_terminal())
    };
    let result = runtime.block_on(async move {
        let passed = |r: anyhow_like::Result<()>| r.map(|()| Verdict::Passed);
        match cli.command {
            Command::Serve { module, transports } => passed(serve(module, transports).await),
            Command::Script(args) => script::run(args).await,
            Command::Demo { module, transports } => passed(demo::run(module, transports).await),
            Command::Models => {
                list_models();
                Ok(Verdict::Passed)
            }
            Command::Ctl(args) => passed(control::ctl::run(&args).await),
            Command::FtpServer(args) => passed(ftp_server::run(args).await),
            Command::Trace(args) => passed(trace_cmd::run(args, stdout_ansi)),
            Command::Fleet(args) => fleet::run(args).await,
            Command::Report {
                files,
                output,
                check,
            } => report_command(&files, output.as_deref(), check),
        }
    });
    // Background tasks (FTP transfers, idle terminals) end with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    transport::stdio::restore();
    match result {
        Ok(Verdict::Passed) => ExitCode::SUCCESS,
        Ok(Verdict::Failed) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ubxftp: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

async fn serve(module: ModuleArgs, transports: TransportArgs) -> anyhow_like::Result<()> {
    // `AT+IPR?` says the rate the terminals run at.
    let config = ModemConfig {
        ipr: transports.baud,
        ..module.config()?
    };
    let modem = Modem::new(config).map_err(|e| e.to_string())?;
    let tracer = module.tracer()?;
    if let Some(t) = &tracer {
        // From the start: what the network side does before a terminal connects too.
        t.attach(&modem);
    }
    run_transports(&modem, tracer, &transports).await
}

/// Starts every requested transport, then waits for SIGINT/SIGTERM (or the console closing).
async fn run_transports(
    modem: &Modem,
    tracer: Option<Tracer>,
    t: &TransportArgs,
) -> anyhow_like::Result<()> {
    if t.tcp.is_empty() && !t.pty && t.serial.is_none() && !t.stdio {
        return Err("no transport: give --stdio, --tcp HOST:PORT, --pty or --serial DEV".into());
    }
    // Handlers first, so a signal that arrives as soon as the ready lines are printed is caught.
    let stop = shutdown_signal().map_err(|e| format!("signals: {e}"))?;
    let mut tasks = tokio::task::JoinSet::new();
    // The control API first: a refused address stops the start before any terminal is up.
    let control = control::bind(&t.control).await?;
    for addr in &t.tcp {
        let listener = transport::tcp::bind(addr, t.tcp_remote).await?;
        tasks.spawn(transport::tcp::accept_loop(
            listener,
            modem.clone(),
            tracer.clone(),
            t.baud,
        ));
    }
    if t.pty {
        let pty =
            transport::pty::Pty::open(t.pty_link.as_deref()).map_err(|e| format!("--pty: {e}"))?;
        println!("pty: {}", pty.path().display());
        tasks.spawn(transport::pty::serve(
            pty,
            modem.clone(),
            tracer.clone(),
            t.baud,
        ));
    }
    if let Some(dev) = &t.serial {
        let baud = t.baud.unwrap_or(transport::serial::DEFAULT_BAUD);
        let port =
            transport::serial::open(dev, baud).map_err(|e| format!("--serial {dev}: {e}"))?;
        println!("serial: {dev} at {baud} baud");
        tasks.spawn(transport::serial::serve(
            port,
            modem.clone(),
            tracer.clone(),
        ));
    }
    let console = t.stdio.then(|| {
        tokio::spawn(transport::stdio::serve(
            modem.clone(),
            tracer.clone(),
            t.baud,
        ))
    });
    if let Some(bound) = control {
        for line in bound.ready_lines() {
            println!("{line}");
        }
        let modules = control::Modules::one(modem.clone()).traced(tracer.as_ref());
        tasks.spawn(control::serve(bound, modules));
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::select! {
        () = stop => tracing::info!("signal: shutting down"),
        Some(Ok(())) = async { match console { Some(c) => Some(c.await), None => std::future::pending().await } } => {
            tracing::info!("console closed");
        }
    }
    tasks.abort_all();
    Ok(())
}

/// Installs the SIGINT/SIGTERM handlers now; the returned future completes on either signal.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}
