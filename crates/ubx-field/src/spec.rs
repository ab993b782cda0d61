//! What a user writes to set field conditions, and the one validator for it.
//!
//! The same types are read from the command line (`--link SPEC`), from a scenario file
//! (`--faults FILE`, TOML) and from the control API (JSON): [`LinkSpec::parse`] and
//! [`FaultSpec::validate`] are the only places that decide what is valid, so a bad value gets the
//! same message wherever it comes from.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A radio link: a rate per direction, a round trip, jitter and loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSpec {
    /// Bytes per second towards the module (server → module); `None` is unlimited.
    pub down: Option<u64>,
    /// Bytes per second from the module.
    pub up: Option<u64>,
    /// Round-trip time; each direction is delayed by half.
    pub rtt: Duration,
    /// Extra one-way delay, uniform in `0..=jitter`, per chunk (order is kept, as TCP keeps it).
    pub jitter: Duration,
    /// Segment loss in percent, modelled as the retransmission stall TCP would see.
    pub loss: f64,
}

impl LinkSpec {
    /// No shaping at all (the default): loopback speed.
    pub const UNSHAPED: LinkSpec = LinkSpec {
        down: None,
        up: None,
        rtt: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
    };

    /// Whether this link changes anything.
    pub fn is_shaped(&self) -> bool {
        *self != LinkSpec::UNSHAPED
    }

    /// Parses a preset name or `key=value,...` (keys `down`, `up`, `rtt`, `jitter`, `loss`);
    /// keys after a preset override it (`lte-m,rtt=400ms`).
    pub fn parse(text: &str) -> Result<LinkSpec, SpecError> {
        let mut spec = LinkSpec::UNSHAPED;
        let text = text.trim();
        if text.is_empty() {
            return Err(SpecError::new("link", "empty link spec"));
        }
        for (i, part) in text.split(',').map(str::trim).enumerate() {
            let Some((key, value)) = part.split_once('=') else {
                match PRESETS.iter().find(|p| p.name == part) {
                    Some(preset) if i == 0 => {
                        spec = preset.spec;
                        continue;
                    }
                    Some(_) => {
                        return Err(SpecError::new("link", "a preset must come first"));
                    }
                    None => {
                        return Err(SpecError::new(
                            "link",
                            format!(
                                "{part:?} is neither a preset ({}) nor key=value",
                                preset_names()
                            ),
                        ));
                    }
                }
            };
            let (key, value) = (key.trim(), value.trim());
            match key {
                // `unlimited` as the Display form prints it, so a shown link reads back.
                "down" | "up" if value == "unlimited" => {
                    if key == "down" {
                        spec.down = None;
                    } else {
                        spec.up = None;
                    }
                }
                "down" => spec.down = Some(parse_rate(key, value)?),
                "up" => spec.up = Some(parse_rate(key, value)?),
                "rtt" => spec.rtt = parse_duration(key, value)?,
                "jitter" => spec.jitter = parse_duration(key, value)?,
                "loss" => spec.loss = parse_percent(key, value)?,
                _ => {
                    return Err(SpecError::new(
                        key,
                        "unknown key (keys: down, up, rtt, jitter, loss)",
                    ));
                }
            }
        }
        Ok(spec)
    }
}

/// As the control API shows it: bit/s (null: unlimited), milliseconds, percent.
impl Serialize for LinkSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "down_bit_s": self.down.map(|b| b * 8),
            "up_bit_s": self.up.map(|b| b * 8),
            "rtt_ms": self.rtt.as_secs_f64() * 1000.0,
            "jitter_ms": self.jitter.as_secs_f64() * 1000.0,
            "loss_pct": self.loss,
        })
        .serialize(s)
    }
}

impl fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = |r: Option<u64>| match r {
            Some(bytes) if bytes * 8 % 1000 == 0 => format!("{}kbit", bytes * 8 / 1000),
            Some(bytes) => format!("{}bit", bytes * 8),
            None => "unlimited".into(),
        };
        write!(
            f,
            "down={},up={},rtt={}ms,jitter={}ms,loss={}",
            rate(self.down),
            rate(self.up),
            self.rtt.as_millis(),
            self.jitter.as_millis(),
            self.loss
        )
    }
}

/// A named link with its figures and where they come from (docs/FIELD.md).
pub struct Preset {
    pub name: &'static str,
    pub spec: LinkSpec,
    pub source: &'static str,
}

const fn kbit(k: u64) -> Option<u64> {
    Some(k * 1000 / 8)
}

/// The presets. Rates are the figures a module of the class reaches in practice, not the
/// category's peak: see docs/FIELD.md for the sources.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "lte-cat1",
        spec: LinkSpec {
            down: kbit(10_000),
            up: kbit(5_000),
            rtt: Duration::from_millis(60),
            jitter: Duration::from_millis(10),
            loss: 0.0,
        },
        source: "3GPP TS 36.306 UE category 1: 10.3 Mbit/s down, 5.2 Mbit/s up; LTE round trips of 40-80 ms",
    },
    Preset {
        name: "lte-m",
        spec: LinkSpec {
            down: kbit(300),
            up: kbit(375),
            rtt: Duration::from_millis(150),
            jitter: Duration::from_millis(30),
            loss: 0.0,
        },
        source: "LTE-M (Cat M1, half duplex): about 300 kbit/s down, 375 kbit/s up; 100-200 ms round trips (GSMA LTE-M deployment guide)",
    },
    Preset {
        name: "nb-iot",
        spec: LinkSpec {
            down: kbit(26),
            up: kbit(62),
            rtt: Duration::from_millis(1600),
            jitter: Duration::from_millis(400),
            loss: 0.0,
        },
        source: "NB-IoT (Cat NB1): 26 kbit/s down, 62 kbit/s up (multi-tone); latency in seconds, 1.6 s typical (3GPP TR 45.820)",
    },
    Preset {
        name: "egprs",
        spec: LinkSpec {
            down: kbit(236),
            up: kbit(118),
            rtt: Duration::from_millis(300),
            jitter: Duration::from_millis(50),
            loss: 0.0,
        },
        source: "EGPRS (EDGE): MCS-9 on 4 downlink / 2 uplink slots, 236.8 / 118.4 kbit/s; 300 ms round trips",
    },
];

fn preset_names() -> String {
    PRESETS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Accepts `375kbit`, `2mbit`, `10mbit`, `9600bit`, `50kB` (bytes), as decimal units.
fn parse_rate(key: &str, value: &str) -> Result<u64, SpecError> {
    let lower = value.to_ascii_lowercase();
    let units: &[(&str, f64)] = &[
        ("gbit", 1e9 / 8.0),
        ("mbit", 1e6 / 8.0),
        ("kbit", 1e3 / 8.0),
        ("bit", 1.0 / 8.0),
        ("mb", 1e6),
        ("kb", 1e3),
        ("b", 1.0),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n, *scale)))
        .ok_or_else(|| {
            SpecError::new(
                key,
                format!("{value:?}: a rate needs a unit (kbit, mbit, kB, …)"),
            )
        })?;
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| SpecError::new(key, format!("{value:?} is not a rate")))?;
    let bytes = n * scale;
    // Below 100 bit/s nothing an FTP session does would finish; above 10 Gbit/s is not a radio.
    if !bytes.is_finite() || !(12.5..=1.25e9).contains(&bytes) {
        return Err(SpecError::new(
            key,
            format!("{value}: rates go from 100bit to 10gbit"),
        ));
    }
    Ok(bytes.round() as u64)
}

/// Accepts `200ms`, `1.5s`, `0`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, SpecError> {
    let lower = value.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = lower.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = lower.strip_suffix('s') {
        (n, 1.0)
    } else if lower == "0" {
        ("0", 1.0)
    } else {
        return Err(SpecError::new(
            key,
            format!("{value:?}: a duration needs a unit (ms or s)"),
        ));
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| SpecError::new(key, format!("{value:?} is not a duration")))?;
    let secs = n * scale;
    if !secs.is_finite() || !(0.0..=600.0).contains(&secs) {
        return Err(SpecError::new(key, format!("{value}: 0 to 600 s")));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_percent(key: &str, value: &str) -> Result<f64, SpecError> {
    let n: f64 = value
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| SpecError::new(key, format!("{value:?} is not a percentage")))?;
    if !(0.0..=50.0).contains(&n) {
        return Err(SpecError::new(
            key,
            format!("{value}: loss goes from 0 to 50 %"),
        ));
    }
    Ok(n)
}

/// A value that is not valid, and which field it is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

impl SpecError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> SpecError {
        SpecError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a fault acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    FtpData,
    FtpControl,
    /// The connections of the module's socket service (`+USOCO`, `+USOLI`).
    Socket,
    Dns,
    Pdp,
    Network,
    Uart,
    Module,
    /// The module's signalling connection to its cell (`+CSCON`).
    Rrc,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// RST: the connection is aborted.
    Reset,
    /// FIN: the connection ends early.
    Close,
    /// Nothing moves for `duration_ms`.
    Stall,
    /// The connection closes after `after_bytes` bytes.
    Limit,
    /// The server's next reply is replaced with `code` and `text`.
    Reply,
    /// Name resolution fails.
    Fail,
    /// Name resolution takes `duration_ms` longer.
    Delay,
    /// The network takes PDP context `cid` down.
    Deactivate,
    Deregister,
    Register,
    /// Bytes are lost on the line, `rate` of them.
    Drop,
    /// Bytes are corrupted (one bit flipped), `rate` of them.
    Flip,
    /// The module restarts; it is away for `duration_ms`.
    Reboot,
    /// The network releases the signalling connection: the module is idle until its next data.
    Release,
}

/// One fault as a user writes it (a `[[fault]]` table, a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Trigger: this long after the module started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    /// Trigger: during `+UFTPC=<on_op>` operations (the `nth` one, 1 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_op: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nth: Option<u32>,
    /// Trigger: once a transfer has moved this many bytes (for `limit`: where it is cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// How many times the fault fires (1 by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// For `uart` faults: the fraction of bytes affected, 0 < rate ≤ 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

/// The `+UFTPC` op codes an `on_op` trigger may name: every FTP operation of every model
/// (the FTP service's op-code type checks that it names them all).
pub const UFTPC_OPS: &[i64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 100];

/// A fault that passed [`FaultSpec::validate`]; it shows as its spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    #[serde(skip)]
    pub target: Target,
    #[serde(skip)]
    pub action: Action,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

impl FaultSpec {
    /// Checks the combination and the values; `max_cid` is the module's (`cid` must name one of
    /// its contexts).
    pub fn validate(self, max_cid: u8) -> Result<Fault, SpecError> {
        let (target, action) = self.target_and_action()?;
        self.check_timing(action)?;
        self.check_reply(action)?;
        self.check_module_values(target, max_cid)?;
        self.check_trigger(target)?;
        Ok(Fault {
            target,
            action,
            spec: self,
        })
    }

    /// The target and an action it has.
    fn target_and_action(&self) -> Result<(Target, Action), SpecError> {
        use Action::*;
        use Target::*;
        let target = self.target.ok_or_else(|| {
            SpecError::new(
                "target",
                "missing (ftp-data, ftp-control, socket, dns, pdp, network, uart, module, rrc)",
            )
        })?;
        let action = self
            .action
            .ok_or_else(|| SpecError::new("action", "missing"))?;
        let allowed: &[Action] = match target {
            FtpData => &[Reset, Close, Stall, Limit],
            FtpControl => &[Reset, Close, Stall, Reply],
            Socket => &[Reset, Close, Stall, Limit],
            Dns => &[Fail, Delay],
            Pdp => &[Deactivate],
            Network => &[Deregister, Register],
            Uart => &[Drop, Flip],
            Module => &[Reboot],
            Rrc => &[Release],
        };
        if !allowed.contains(&action) {
            let names: Vec<String> = allowed
                .iter()
                .map(|a| {
                    serde_json::to_string(a)
                        .unwrap_or_default()
                        .replace('"', "")
                })
                .collect();
            return Err(SpecError::new(
                "action",
                format!(
                    "{} is not an action of target {} (its actions: {})",
                    name(&action),
                    name(&target),
                    names.join(", ")
                ),
            ));
        }
        Ok((target, action))
    }

    /// `duration_ms` and `after_bytes` as the action needs them.
    fn check_timing(&self, action: Action) -> Result<(), SpecError> {
        use Action::*;
        let needs_duration = matches!(action, Stall | Delay | Reboot);
        match self.duration_ms {
            None if needs_duration => {
                return Err(SpecError::new(
                    "duration_ms",
                    format!("{} needs it", name(&action)),
                ));
            }
            Some(d) if d > 600_000 => {
                return Err(SpecError::new("duration_ms", "at most 600000 (10 minutes)"));
            }
            Some(_) if !needs_duration && !matches!(action, Drop | Flip) => {
                return Err(SpecError::new(
                    "duration_ms",
                    format!("{} takes none", name(&action)),
                ));
            }
            _ => {}
        }
        if action == Limit && self.after_bytes.is_none() {
            return Err(SpecError::new(
                "after_bytes",
                "limit needs it: the bytes let through",
            ));
        }
        Ok(())
    }

    /// `code` and `text`, which only a reply fault takes.
    fn check_reply(&self, action: Action) -> Result<(), SpecError> {
        if action == Action::Reply {
            match self.code {
                Some(code) if (100..=599).contains(&code) => {}
                Some(_) => return Err(SpecError::new("code", "an FTP reply code, 100 to 599")),
                None => return Err(SpecError::new("code", "reply needs it")),
            }
            if let Some(text) = &self.text
                && (text.len() > 200 || text.chars().any(char::is_control))
            {
                return Err(SpecError::new(
                    "text",
                    "at most 200 characters, no control characters",
                ));
            }
        } else if self.code.is_some() || self.text.is_some() {
            return Err(SpecError::new(
                "code",
                "only a reply fault takes code and text",
            ));
        }
        Ok(())
    }

    /// `cid` and `rate`, which only pdp and uart faults take.
    fn check_module_values(&self, target: Target, max_cid: u8) -> Result<(), SpecError> {
        use Target::*;
        match (target, self.cid) {
            (Pdp, None) => return Err(SpecError::new("cid", "pdp deactivate needs it")),
            (Pdp, Some(cid)) if cid == 0 || cid > max_cid => {
                return Err(SpecError::new(
                    "cid",
                    format!("unknown cid {cid} (this module has 1-{max_cid})"),
                ));
            }
            (Pdp, Some(_)) => {}
            (_, Some(_)) => return Err(SpecError::new("cid", "only a pdp fault takes a cid")),
            (_, None) => {}
        }
        match (target, self.rate) {
            (Uart, None) => {
                return Err(SpecError::new(
                    "rate",
                    "a uart fault needs it (0 < rate <= 1)",
                ));
            }
            (Uart, Some(r)) if !(r > 0.0 && r <= 1.0) => {
                return Err(SpecError::new("rate", "0 < rate <= 1"));
            }
            (Uart, Some(_)) => {}
            (_, Some(_)) => return Err(SpecError::new("rate", "only a uart fault takes a rate")),
            (_, None) => {}
        }
        Ok(())
    }

    /// `after_bytes`, `on_op`, `nth` and `count`: when the fault fires.
    fn check_trigger(&self, target: Target) -> Result<(), SpecError> {
        use Target::*;
        if self.after_bytes.is_some() && matches!(target, Dns | Uart) {
            return Err(SpecError::new(
                "after_bytes",
                format!("{} faults do not count bytes", name(&target)),
            ));
        }
        if let Some(op) = self.on_op
            && !UFTPC_OPS.contains(&op)
        {
            return Err(SpecError::new(
                "on_op",
                format!("{op} is not a +UFTPC op code"),
            ));
        }
        if self.nth.is_some() && self.on_op.is_none() {
            return Err(SpecError::new("nth", "counts on_op operations: give on_op"));
        }
        if self.nth == Some(0) || self.count == Some(0) {
            return Err(SpecError::new(
                if self.nth == Some(0) { "nth" } else { "count" },
                "starts at 1",
            ));
        }
        Ok(())
    }
}

fn name<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_default()
        .replace('"', "")
}

/// A scenario file: `[[fault]]` tables, each read as a `T`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, bound = "T: Deserialize<'de>")]
struct Scenario<T> {
    #[serde(default = "Vec::new")]
    fault: Vec<toml::Spanned<T>>,
}

/// The `[[fault]]` tables of a scenario file, each with the line it starts on; a TOML error
/// names its line.
pub fn fault_tables<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<(usize, T)>, String> {
    // Where each line ends, found once: a table's line is then a binary search, so a file of
    // many tables loads in O(n log n), not in the O(n²) of counting from the start each time.
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
        .collect();
    let line_of = |offset: usize| newlines.partition_point(|&nl| nl < offset) + 1;
    let scenario: Scenario<T> = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => format!("line {}: {}", line_of(span.start), e.message()),
        None => e.to_string(),
    })?;
    Ok(scenario
        .fault
        .into_iter()
        .map(|spanned| (line_of(spanned.span().start), spanned.into_inner()))
        .collect())
}

/// Reads a scenario file; an error names the line of the fault it is about.
pub fn parse_scenario(text: &str, max_cid: u8) -> Result<Vec<Fault>, String> {
    fault_tables::<FaultSpec>(text)?
        .into_iter()
        .map(|(line, spec)| {
            spec.validate(max_cid)
                .map_err(|e| format!("line {line}: fault: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_durations_and_presets() {
        let spec = LinkSpec::parse("down=2mbit,up=375kbit,rtt=200ms,jitter=1.5s,loss=1%").unwrap();
        assert_eq!(spec.down, Some(250_000));
        assert_eq!(spec.up, Some(46_875));
        assert_eq!(spec.rtt, Duration::from_millis(200));
        assert_eq!(spec.jitter, Duration::from_millis(1500));
        assert_eq!(spec.loss, 1.0);
        let m = LinkSpec::parse("lte-m,rtt=400ms").unwrap();
        assert_eq!(m.down, kbit(300));
        assert_eq!(m.rtt, Duration::from_millis(400));
        for p in PRESETS {
            assert_eq!(LinkSpec::parse(p.name).unwrap(), p.spec);
            // What a link shows reads back as the same link.
            assert_eq!(LinkSpec::parse(&p.spec.to_string()).unwrap(), p.spec);
        }
        let slow = LinkSpec::parse("down=300bit,up=unlimited").unwrap();
        assert_eq!(LinkSpec::parse(&slow.to_string()).unwrap(), slow);
    }

    #[test]
    fn bad_links_say_what_is_wrong() {
        for (text, field) in [
            ("", "link"),
            ("down=0kbit", "down"),
            ("down=99999gbit", "down"),
            ("down=fast", "down"),
            ("down=2", "down"),
            ("rtt=5", "rtt"),
            ("rtt=-1ms", "rtt"),
            ("loss=90", "loss"),
            ("speed=1mbit", "speed"),
            ("lte-n", "link"),
            ("rtt=1ms,lte-m", "link"),
        ] {
            let e = LinkSpec::parse(text).unwrap_err();
            assert_eq!(e.field, field, "{text}: {e}");
        }
    }

    fn spec(target: Target, action: Action) -> FaultSpec {
        FaultSpec {
            target: Some(target),
            action: Some(action),
            ..FaultSpec::default()
        }
    }

    #[test]
    fn faults_are_checked_as_a_whole() {
        assert!(spec(Target::FtpData, Action::Reset).validate(8).is_ok());
        let e = spec(Target::FtpData, Action::Reply)
            .validate(8)
            .unwrap_err();
        assert_eq!(e.field, "action");
        assert!(e.message.contains("reset, close, stall, limit"), "{e}");
        assert_eq!(
            spec(Target::FtpData, Action::Stall)
                .validate(8)
                .unwrap_err()
                .field,
            "duration_ms"
        );
        assert_eq!(
            spec(Target::FtpData, Action::Limit)
                .validate(8)
                .unwrap_err()
                .field,
            "after_bytes"
        );
        assert_eq!(
            spec(Target::FtpControl, Action::Reply)
                .validate(8)
                .unwrap_err()
                .field,
            "code"
        );
        let unknown_cid = FaultSpec {
            cid: Some(9),
            ..spec(Target::Pdp, Action::Deactivate)
        };
        assert!(
            unknown_cid
                .validate(8)
                .unwrap_err()
                .message
                .contains("unknown cid 9")
        );
        let rate = FaultSpec {
            rate: Some(1.5),
            ..spec(Target::Uart, Action::Drop)
        };
        assert_eq!(rate.validate(8).unwrap_err().field, "rate");
        let nth = FaultSpec {
            nth: Some(2),
            ..spec(Target::FtpData, Action::Reset)
        };
        assert_eq!(nth.validate(8).unwrap_err().field, "nth");
    }

    #[test]
    fn scenario_errors_name_their_line() {
        let text = "[[fault]]\ntarget = \"ftp-data\"\naction = \"reset\"\n\n[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\ncid = 42\n";
        let e = parse_scenario(text, 8).unwrap_err();
        assert!(e.starts_with("line 5:"), "{e}");
        let e = parse_scenario("[[fault]]\ntarget = \"ftp-data\"\nactoin = \"reset\"\n", 8)
            .unwrap_err();
        assert!(e.starts_with("line 3:") && e.contains("actoin"), "{e}");
        let e = parse_scenario("[[fault]]\ntarget = \"ftp-datum\"\n", 8).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert_eq!(parse_scenario("", 8).unwrap(), vec![]);
        // Far down a long file, the line is still the table's own.
        let good = "[[fault]]\ntarget = \"dns\"\naction = \"fail\"\n\n".repeat(10_000);
        let e = parse_scenario(&format!("{good}[[fault]]\ntarget = \"dns\"\n"), 8).unwrap_err();
        assert!(e.starts_with("line 40001:"), "{e}");
    }
}
