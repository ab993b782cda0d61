//! `ubxftp fleet`: many modules in one process, for device-farm CI (a port per module) and for
//! load tests of the servers a cellular fleet uses (`--script`, a transcript each module runs).
//!
//! Module `i` of a fleet is the same module wherever it runs: its IMEI (the model's type
//! allocation code, serial `seed + i`, the Luhn digit), its link (from `--link`, or drawn from
//! `--link-mix` by a hash of the seed and `i`), its seed and its file system folder
//! (`DIR/<IMEI>/`, made at first use) depend on the index only, so `--shard i/N` runs the same
//! modules a single process would, and shard reports merge into that process's report.
//!
//! One tokio runtime serves every module; an idle module has no task of its own besides its
//! field task (parked on a channel, no timer) and no terminal buffers until a host connects.

mod progress;
mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use ubx_modem::field::spec::{Fault, LinkSpec};

use crate::control::{MAX_FAULTS_PER_FLEET, MAX_FAULTS_PER_MODULE};
use crate::input::{MAX_FAULTS_FILE, MAX_SCRIPT_FILE, read_text_capped};
use crate::share::{Picker, parse_fleet_scenario};
use ubx_modem::{Modem, ModemConfig};
use ubx_transcript::{Transcript, Vars};

use crate::control::Modules;
use crate::report::{FleetId, Report, Steps, group_failures, per_second};
use crate::{ModuleArgs, anyhow_like};
use summary::Runs;

/// Most modules one fleet runs.
pub const MAX_COUNT: usize = 100_000;

/// Most modules with a PTY each (a PTY costs a file descriptor pair and a kernel buffer).
const MAX_PTYS: usize = 1000;

#[derive(Args, Clone)]
pub struct FleetArgs {
    /// How many modules.
    #[arg(long)]
    count: usize,
    /// Module i listens on BASE+i (each connection is a terminal of that module).
    #[arg(long, value_name = "HOST:BASE")]
    tcp: Option<String>,
    /// Allow --tcp on an address that is not loopback: whoever reaches a port drives its module,
    /// with no password, and can make it connect anywhere.
    #[arg(long, requires = "tcp")]
    tcp_remote: bool,
    /// One pseudo-terminal per module (small fleets), listed in --pty-map.
    #[arg(long, requires = "pty_map")]
    pty: bool,
    /// Where --pty writes the map of module index to PTY path (JSON).
    #[arg(long, value_name = "FILE", requires = "pty")]
    pty_map: Option<PathBuf>,
    /// Run modules i, i+N, i+2N, ... of the fleet: `--shard 0/4`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Spread links over the modules: `lte-m=70,nb-iot=30` (presets or specs in quotes with `;`
    /// for commas are not supported: presets only).
    #[arg(long, value_name = "PRESET=WEIGHT,...", conflicts_with = "link")]
    link_mix: Option<String>,
    /// Each module runs this transcript (with {index} and {imei}) in-process: a load test.
    #[arg(long, value_name = "FILE")]
    script: Option<PathBuf>,
    /// Start at most this many modules' scripts per second.
    #[arg(long, value_name = "RATE", requires = "script")]
    ramp: Option<f64>,
    /// At most this many scripts at once (default: all).
    #[arg(long, value_name = "C", requires = "script")]
    concurrency: Option<usize>,
    /// Run the script again and again for this long (`60s`); default: one pass.
    #[arg(long, value_name = "DUR", requires = "script", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Write the JSON report here (`ubxftp report FILE` prints it).
    #[arg(long, value_name = "FILE", requires = "script")]
    report: Option<PathBuf>,
    /// Write a JUnit XML report here: a test case per module, and one per step some module
    /// failed at.
    #[arg(long, value_name = "FILE", requires = "script")]
    junit: Option<PathBuf>,
    #[command(flatten)]
    control: crate::control::ControlArgs,
    #[command(flatten)]
    module: ModuleArgs,
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text.split_once('/').ok_or("expected I/N, e.g. 0/4")?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("{i:?} is not a shard index"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a shard count"))?;
    if n == 0 || i >= n {
        return Err(format!(
            "shard {i}/{n}: the index goes from 0 to {}",
            n.saturating_sub(1)
        ));
    }
    Ok((i, n))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    ubx_modem::field::spec::parse_duration("duration", text).map_err(|e| e.to_string())
}

/// The links of a `--link-mix`, with their weights.
fn parse_mix(text: &str) -> Result<Vec<(String, LinkSpec, u32)>, String> {
    let mut mix = Vec::new();
    for part in text.split(',') {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("--link-mix: {part:?}: expected PRESET=WEIGHT"))?;
        let spec = LinkSpec::parse(name).map_err(|e| format!("--link-mix: {e}"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("--link-mix: {weight:?} is not a weight"))?;
        mix.push((name.trim().to_string(), spec, weight));
    }
    if mix.iter().map(|(_, _, w)| *w as u64).sum::<u64>() == 0 {
        return Err("--link-mix: the weights add up to 0".into());
    }
    Ok(mix)
}

/// A stable hash of (seed, index): the same draw for module i on every run and every shard.
fn draw(seed: u64, index: usize) -> u64 {
    let mut x = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The fleet's modules of this process, with their indices.
struct Built {
    modules: Vec<(usize, Modem)>,
    id: FleetId,
}

/// The modules of this process, built; `script` is the text of `--script`, if any.
fn build(args: &FleetArgs, script: Option<&str>) -> anyhow_like::Result<Built> {
    if args.count == 0 || args.count > MAX_COUNT {
        return Err(format!("--count {}: from 1 to {MAX_COUNT}", args.count));
    }
    // The fault file of a fleet gives each fault the modules it is for (`modems`); the rest of
    // the module flags are every module's.
    let base = ModuleArgs {
        faults: None,
        ..args.module.clone()
    }
    .config()?;
    let (shard, shards) = args.shard.unwrap_or((0, 1));
    let (mut faults, faults_md5) = match &args.module.faults {
        Some(path) => {
            let text = read_text_capped("--faults", path, MAX_FAULTS_FILE)?;
            let md5 = ubx_modem::fs::storage::md5_hex(text.as_bytes());
            let faults = fleet_faults(&text, base.model.pdp.max_cid, args.count, args.shard)
                .map_err(|e| format!("--faults {}: {e}", path.display()))?;
            (faults, md5)
        }
        None => (Vec::new(), String::new()),
    };
    let mix = args.link_mix.as_deref().map(parse_mix).transpose()?;
    let root = match &args.module.fs_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("ubxftp-fleet-{}", std::process::id())),
    };
    let seed = args.module.seed;
    let mut modules = Vec::new();
    for index in (shard..args.count).step_by(shards) {
        let imei = base
            .model
            .imei(((seed as usize + index) % 1_000_000) as u32);
        let mut field = base.field.clone();
        field.seed = seed.wrapping_add(index as u64);
        field.faults = faults
            .get_mut(index / shards)
            .map(std::mem::take)
            .unwrap_or_default();
        if let Some(mix) = &mix {
            let total: u64 = mix.iter().map(|(_, _, w)| *w as u64).sum();
            let mut pick = draw(seed, index) % total;
            for (_, spec, w) in mix {
                if pick < *w as u64 {
                    field.link = *spec;
                    break;
                }
                pick -= *w as u64;
            }
        }
        let config = ModemConfig {
            fs_dir: Some(root.join(&imei)),
            fs_lazy: true,
            imei: Some(imei),
            field,
            dns_overrides: base.dns_overrides.clone(),
            routes: base.routes.clone(),
            egress: base.egress.clone(),
            listen_addr: base.listen_addr,
            ..ModemConfig {
                model: base.model,
                fs_size: base.fs_size,
                ftp_listing_cap: base.ftp_listing_cap,
                ..ModemConfig::default()
            }
        };
        modules.push((index, Modem::new(config).map_err(|e| e.to_string())?));
    }
    let script_md5 = script
        .map(|text| ubx_modem::fs::storage::md5_hex(text.as_bytes()))
        .unwrap_or_default();
    let link = match (&args.link_mix, &args.module.link) {
        (Some(mix), _) => format!("mix {mix}"),
        (None, Some(l)) => l.to_string(),
        (None, None) => "unshaped".into(),
    };
    Ok(Built {
        modules,
        id: FleetId {
            count: args.count,
            seed,
            model: base.model.id.clone(),
            script_md5,
            link,
            faults_md5,
        },
    })
}

pub async fn run(args: FleetArgs) -> anyhow_like::Result<crate::Verdict> {
    // The script first: a bad one is refused before anything is built.
    let script = match &args.script {
        Some(path) => Some(load_script(path)?),
        None => None,
    };
    if script.is_none() && args.tcp.is_none() && !args.pty {
        return Err(
            "fleet: give --tcp HOST:BASE (a port per module), --pty --pty-map FILE, or --script FILE"
                .into(),
        );
    }
    if args.pty && args.count > MAX_PTYS {
        return Err(format!(
            "--pty: {} modules; a PTY each is for small fleets (at most {MAX_PTYS}), use --tcp",
            args.count
        ));
    }
    // A fleet that serves until stopped ends cleanly on SIGINT or SIGTERM (a pod's stop), its
    // control token's file removed; handlers first, so a signal right after the ready lines is
    // caught. A load test keeps the default: a signal ends it at once.
    let stop = match script {
        None => Some(crate::shutdown_signal().map_err(|e| format!("signals: {e}"))?),
        Some(_) => None,
    };
    // Ports before modules: a fleet that cannot listen does not start.
    let listeners = match &args.tcp {
        Some(spec) => Some(bind_all(spec, &args)?),
        None => None,
    };
    let control = crate::control::bind(&args.control).await?;
    let started = Instant::now();
    let built = build(&args, script.as_deref())?;
    let modules = Modules::of_fleet(built.modules, args.count);
    tracing::info!(count = modules.all.len(), took = ?started.elapsed(), "fleet built");
    let mut tasks = tokio::task::JoinSet::new();
    if let Some((host, listeners)) = listeners {
        let first = listeners
            .first()
            .map(|(i, l)| (*i, l.local_addr().map(|a| a.port())));
        let last = listeners
            .last()
            .map(|(i, l)| (*i, l.local_addr().map(|a| a.port())));
        for ((_, listener), (_, modem)) in listeners.into_iter().zip(modules.all.iter()) {
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(|e| format!("--tcp: {e}"))?;
            tasks.spawn(crate::transport::tcp::accept_loop(
                listener,
                modem.clone(),
                None,
                None,
            ));
        }
        if let (Some((_, Ok(a))), Some((_, Ok(b)))) = (first, last) {
            println!(
                "fleet: {} modules on tcp://{host}:{a}..{b}",
                modules.all.len()
            );
        }
    }
    if let Some(map) = &args.pty_map {
        let mut paths = serde_json::Map::new();
        for (index, modem) in modules.all.iter() {
            let pty = crate::transport::pty::Pty::open(None)
                .map_err(|e| format!("--pty (module {index}): {e}"))?;
            paths.insert(
                index.to_string(),
                serde_json::Value::String(pty.path().display().to_string()),
            );
            tasks.spawn(crate::transport::pty::serve(pty, modem.clone(), None, None));
        }
        std::fs::write(map, serde_json::Value::Object(paths).to_string())
            .map_err(|e| format!("--pty-map {}: {e}", map.display()))?;
        println!(
            "fleet: {} modules on PTYs, map in {}",
            modules.all.len(),
            map.display()
        );
    }
    if let Some(bound) = control {
        for line in bound.ready_lines() {
            println!("{line}");
        }
        tasks.spawn(crate::control::serve(bound, modules.clone()));
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    match script {
        Some(script) => {
            let (report, runs) = load(&args, &modules, &script, built.id).await;
            tasks.abort_all();
            let paths = summary::Paths {
                report: args.report.as_deref(),
                junit: args.junit.as_deref(),
                script: args.script.as_deref(),
            };
            summary::finish(&paths, &report, &runs)
        }
        None => {
            if let Some(stop) = stop {
                stop.await;
            }
            tasks.abort_all();
            Ok(crate::Verdict::Passed)
        }
    }
}

/// The faults of a fleet's scenario file for each module of this process (shard `(i, n)`:
/// modules `i, i+n, ...`, module `index` at `index / n`), within the caps of the control API: a
/// module holds at most [`MAX_FAULTS_PER_MODULE`], this process's modules
/// [`MAX_FAULTS_PER_FLEET`] together. Linear in the file and the faults given: each fault goes
/// straight to the modules it picks, and the first one past a cap stops the load.
fn fleet_faults(
    text: &str,
    max_cid: u8,
    count: usize,
    shard: Option<(usize, usize)>,
) -> Result<Vec<Vec<Fault>>, String> {
    let (shard, shards) = shard.unwrap_or((0, 1));
    let mine = count.saturating_sub(shard).div_ceil(shards);
    let mut per_module: Vec<Vec<Fault>> = vec![Vec::new(); mine];
    let mut total = 0usize;
    let mut picker = Picker::new(count);
    for (share, fault) in parse_fleet_scenario(text, max_cid)? {
        for index in picker.pick(&share)? {
            if index % shards != shard {
                continue;
            }
            let Some(held) = per_module.get_mut(index / shards) else {
                continue;
            };
            if held.len() >= MAX_FAULTS_PER_MODULE {
                return Err(format!(
                    "module {index} would hold more than {MAX_FAULTS_PER_MODULE} faults, the \
                     most a module may hold (docs/SECURITY.md)"
                ));
            }
            total += 1;
            if total > MAX_FAULTS_PER_FLEET {
                return Err(format!(
                    "the modules of this process would hold more than {MAX_FAULTS_PER_FLEET} \
                     faults, the most they may hold together (docs/SECURITY.md)"
                ));
            }
            held.push(fault.clone());
        }
    }
    Ok(per_module)
}

/// Binds BASE+i for every module of this process, or names the port that failed.
fn bind_all(
    spec: &str,
    args: &FleetArgs,
) -> anyhow_like::Result<(String, Vec<(usize, std::net::TcpListener)>)> {
    let (host, base) = spec
        .rsplit_once(':')
        .ok_or_else(|| format!("--tcp {spec}: expected HOST:BASE"))?;
    let base: u16 = base
        .parse()
        .map_err(|_| format!("--tcp {spec}: {base:?} is not a port"))?;
    if args.count == 0 || args.count > MAX_COUNT {
        return Err(format!("--count {}: from 1 to {MAX_COUNT}", args.count));
    }
    let last = base as usize + args.count - 1;
    if base == 0 || last > u16::MAX as usize {
        return Err(format!(
            "--tcp {spec}: {} modules need ports {base}..{last}, beyond 65535 (or a base of 0)",
            args.count
        ));
    }
    // The address is checked before any port is taken: a refusal never depends on what else
    // holds the ports.
    let ip = std::net::ToSocketAddrs::to_socket_addrs(&format!("{host}:0"))
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|a| a.ip())
        .ok_or_else(|| format!("--tcp {spec}: {host:?} is not an address"))?;
    crate::transport::tcp::exposed("--tcp", spec, ip, args.tcp_remote)?;
    let (shard, shards) = args.shard.unwrap_or((0, 1));
    let mut out = Vec::new();
    for index in (shard..args.count).step_by(shards) {
        let port = base as usize + index;
        let addr = format!("{host}:{port}");
        let listener = std::net::TcpListener::bind(&addr)
            .map_err(|e| format!("--tcp: port {port} (module {index}): {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("--tcp: port {port}: {e}"))?;
        out.push((index, listener));
    }
    Ok((host.to_string(), out))
}

/// The values of a module's placeholders.
fn vars(index: usize, imei: &str) -> Vars {
    [
        ("index".to_string(), index.to_string()),
        ("imei".to_string(), imei.to_string()),
    ]
    .into()
}

fn load_script(path: &std::path::Path) -> anyhow_like::Result<String> {
    let text = read_text_capped("--script", path, MAX_SCRIPT_FILE)?;
    // The placeholders are the transcript's (ubx_transcript::header): any but ours is refused.
    Transcript::parse_with(&text, &vars(0, "0"))
        .map_err(|e| format!("--script {}", e.in_file(&path.display().to_string())))?;
    Ok(text)
}

/// One module's end: its index, outcome, last `+UFTPER`, how long it ran, the line it failed at.
type Ended = (usize, String, (u32, u32), Duration, Option<usize>);

/// Runs the script on every module of this process and gathers the report.
async fn load(args: &FleetArgs, modules: &Modules, script: &str, id: FleetId) -> (Report, Runs) {
    let started = Instant::now();
    let concurrency = args.concurrency.unwrap_or(usize::MAX).max(1);
    let gate = Arc::new(tokio::sync::Semaphore::new(concurrency.min(MAX_COUNT)));
    // The send each step answers, as written: the script parsed, placeholders and all.
    let commands = Transcript::parse(script)
        .map(|t| t.commands())
        .unwrap_or_default();
    let steps = Arc::new(Mutex::new(Steps::new(commands)));
    let lines: Arc<Vec<String>> = Arc::new(script.lines().map(str::to_string).collect());
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let until = args.duration.map(|d| started + d);
    let progress = Arc::new(progress::Progress::new(modules.all.len(), started, until));
    let ticker = tokio::spawn(progress.clone().tick());
    let mut runs = tokio::task::JoinSet::new();
    for (n, (index, modem)) in modules.all.iter().enumerate() {
        if let Some(rate) = args.ramp
            && rate > 0.0
        {
            let at = started + Duration::from_secs_f64(n as f64 / rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let permit = gate.clone().acquire_owned().await;
        let (modem, index) = (modem.clone(), *index);
        let (steps, lines, bytes, counts) = (
            steps.clone(),
            lines.clone(),
            bytes.clone(),
            progress.counts.clone(),
        );
        let text = script.to_string();
        runs.spawn(async move {
            let _permit = permit;
            let began = Instant::now();
            let vars = vars(index, &modem.imei());
            let result = run_module(&modem, &text, &vars, &steps, &lines, &bytes, until).await;
            counts.done(result.is_ok());
            let (outcome, line) = match result {
                Ok(()) => ("pass".to_string(), None),
                Err(e) => (e.to_string(), Some(e.line())),
            };
            (
                index,
                outcome,
                modem.last_ftp_error(),
                began.elapsed(),
                line,
            ) as Ended
        });
    }
    let mut ended = Vec::new();
    while let Some(r) = runs.join_next().await {
        if let Ok(e) = r {
            ended.push(e);
        }
    }
    ticker.abort();
    progress.finish();
    let elapsed = started.elapsed().as_secs_f64();
    let bytes = bytes.load(std::sync::atomic::Ordering::Relaxed);
    let ftp_data_bytes: u64 = modules
        .all
        .iter()
        .map(|(_, m)| m.field().faults.data_bytes_total())
        .sum();
    let steps = steps.lock().map(|s| s.reports()).unwrap_or_default();
    let (shard, shards) = args.shard.unwrap_or((0, 1));
    let mut report = Report {
        fleet: id,
        shards: vec![shard],
        shard_count: shards,
        modules: 0,
        passed: 0,
        failed: 0,
        failures: Vec::new(),
        outcomes: BTreeMap::new(),
        steps,
        bytes,
        elapsed_s: elapsed,
        throughput_mb_s: per_second(bytes, elapsed),
        ftp_data_bytes,
        ftp_data_mb_s: per_second(ftp_data_bytes, elapsed),
        uftper_classes: BTreeMap::new(),
        uftper: BTreeMap::new(),
    };
    let runs = tally(&mut report, ended);
    (report, runs)
}

/// Puts the modules' ends into the report: outcomes, counts, failure groups, `+UFTPER`.
fn tally(report: &mut Report, ended: Vec<Ended>) -> Runs {
    let mut runs = Runs::default();
    for (index, outcome, (class, code), time, line) in ended {
        report.outcomes.insert(index, outcome);
        *report.uftper_classes.entry(class).or_default() += 1;
        *report.uftper.entry(format!("{class},{code}")).or_default() += 1;
        runs.time.insert(index, time);
        if let Some(line) = line {
            runs.failed_at.insert(index, line);
        }
    }
    report.modules = report.outcomes.len();
    report.passed = report.outcomes.values().filter(|o| *o == "pass").count();
    report.failed = report.modules - report.passed;
    report.failures = group_failures(&report.outcomes);
    runs
}

/// One module's passes of the script, until `until` (one pass without it); its first failure.
async fn run_module(
    modem: &Modem,
    text: &str,
    vars: &Vars,
    steps: &Mutex<Steps>,
    lines: &[String],
    bytes: &std::sync::atomic::AtomicU64,
    until: Option<Instant>,
) -> Result<(), ubx_transcript::TranscriptError> {
    let transcript = Transcript::parse_with(text, vars)?;
    loop {
        let (mut host, device) = tokio::io::duplex(64 * 1024);
        let m = modem.clone();
        let terminal =
            tokio::spawn(async move { ubx_terminal::driver::serve(&m, device, None).await });
        // This pass's latencies as plain samples, recorded into the fleet's histograms at the
        // end: a histogram per step per module would cost ~190 KiB each (1 µs to 1 h at 3
        // significant digits), megabytes per module.
        let mut samples: Vec<(usize, u64)> = Vec::new();
        let mut moved = 0u64;
        let result = transcript
            .run_observed(&mut host, &mut |done| {
                samples.push((done.line, done.waited.as_micros() as u64));
                moved += done.bytes as u64;
            })
            .await;
        drop(host);
        let _ = terminal.await;
        bytes.fetch_add(moved, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut s) = steps.lock() {
            for (line, micros) in samples {
                let text = lines.get(line - 1).map(String::as_str).unwrap_or("");
                s.record(line, text, micros);
            }
        }
        result?;
        match until {
            Some(t) if Instant::now() < t => continue,
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_fault_file_gives_each_module_of_the_shard_its_faults() {
        let text = "[[fault]]\ntarget = \"dns\"\naction = \"fail\"\nmodems = [3, 4]\n\n\
                    [[fault]]\ntarget = \"dns\"\naction = \"fail\"\nmodems = \"all\"\n";
        // Shard 1/2 of 5 runs modules 1 and 3.
        let faults = fleet_faults(text, 8, 5, Some((1, 2))).unwrap();
        assert_eq!(faults.iter().map(Vec::len).collect::<Vec<_>>(), [1, 2]);
        // Shard 0/2 runs 0, 2 and 4.
        let faults = fleet_faults(text, 8, 5, Some((0, 2))).unwrap();
        assert_eq!(faults.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 2]);
        // A module past its cap is named; another shard's module does not count.
        let over = "[[fault]]\ntarget = \"dns\"\naction = \"fail\"\nmodems = [2]\n".repeat(257);
        let e = fleet_faults(&over, 8, 5, None).unwrap_err();
        assert!(e.starts_with("module 2 would hold more than 256"), "{e}");
        assert!(fleet_faults(&over, 8, 5, Some((1, 2))).is_ok());
        let nine = "[[fault]]\ntarget = \"dns\"\naction = \"fail\"\nmodems = [9]\n";
        let e = fleet_faults(nine, 8, 5, None).unwrap_err();
        assert!(e.contains("9 is not a module of this fleet of 5"), "{e}");
    }
}
