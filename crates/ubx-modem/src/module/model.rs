//! Model profiles: which commands and op codes a module model has, and what it prints about itself.
//!
//! A driver probes a module with test commands (`AT+UFTPC=?`) and identification commands
//! (`AT+CGMM`), and multi-model libraries (ubxlib) pick their code path from the answers. A
//! [`Model`] gathers everything that differs between u-blox models, so the command families stay
//! model-neutral: they ask the model ("does it have `+UPSD`?", "how does it frame a direct
//! link?") and never compare model names.
//!
//! Each model is one TOML file in `crates/ubx-modem/models/`, embedded at build time; a file
//! given with `--model-file` is read the same way at start. The schema is [`Model`] itself: every
//! field below is a key of the file, and an unknown key is an error, so a typo cannot silently
//! fall back to a default. docs/MODELS.md explains how to add a model.

use std::sync::LazyLock;

use serde::Deserialize;
use ubx_at::DataModeFraming;

include!(concat!(env!("OUT_DIR"), "/models.rs"));

/// Everything that differs between emulated models.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// The `--model` name (the file's stem).
    pub id: String,
    /// One line for `ubxftp models`.
    pub description: String,
    /// Other names `--model` accepts as they are, such as the family's name.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `+CGMM` prefixes that mean this model, as u-blox's ubxlib matches them
    /// (`u_cell_pwr.c`): `--model SARA-R510M8Q` finds the model with the prefix `SARA-R51`.
    #[serde(default)]
    pub cgmm_prefixes: Vec<String>,
    pub identity: Identity,
    /// Extended commands this model answers; anything else is an unknown command (`ERROR`).
    pub commands: Vec<String>,
    pub functionality: Functionality,
    pub pdp: Pdp,
    pub psd: Psd,
    pub dns: Dns,
    pub ftp: Ftp,
    pub sockets: Sockets,
    pub http: Http,
    /// The MQTT client, exactly where `commands` lists `+UMQTT`.
    #[serde(default)]
    pub mqtt: Option<Mqtt>,
    pub file_system: FileSystem,
    /// `+URAT`, where the model has it.
    #[serde(default)]
    pub rat: Option<Rat>,
    /// `+USIO`, exactly where `commands` lists it.
    #[serde(default)]
    pub usio: Option<Usio>,
    /// `+UGPRF`, exactly where `commands` lists it.
    #[serde(default)]
    pub gnss_profile: Option<GnssProfile>,
    /// `+CCLK`.
    #[serde(default)]
    pub clock: Clock,
    /// The `+USECPRF` security profiles.
    #[serde(default)]
    pub security: Security,
}

/// What the module says about itself.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// `+CGMI` / `+GMI`.
    pub manufacturer: String,
    /// `+CGMM` / `+GMM`.
    pub model: String,
    /// `+CGMR` / `+GMR`.
    pub revision: String,
    /// `ATI` / `ATI0`, one entry per line; the `+CGMM` string when absent.
    #[serde(default)]
    pub ati: Vec<String>,
    /// `ATI9`: modem and application versions.
    pub ati9: String,
    /// The IMEI's type allocation code (8 digits); the module's IMEI is this, a 6-digit serial
    /// number and the Luhn check digit.
    pub imei_tac: String,
}

/// `+CFUN`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Functionality {
    /// The `<fun>` values the set command accepts.
    pub values: Vec<i64>,
    /// `AT+CFUN=?`.
    pub test: String,
    /// The reboot drivers send (`+CFUN=15` or `16`); both reboot where the model has both.
    pub reboot: i64,
}

/// PDP contexts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pdp {
    /// Context ids are `1..=max_cid`.
    pub max_cid: u8,
    /// An LTE module attaches with its default EPS bearer (cid 1) up; a 2G/3G module attaches
    /// with no context active.
    pub default_bearer: bool,
    /// `+UAUTHREQ`'s form, where the model has the command.
    #[serde(default)]
    pub uauthreq: Option<Uauthreq>,
}

/// The order of `+UAUTHREQ`'s two strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialOrder {
    /// `<username>,<password>` (SARA-R5, SARA-U201).
    UserPassword,
    /// `<password>,<username>` (SARA-R4, LARA-R6: ubxlib and Arduino MKRNB send the password
    /// first).
    PasswordUser,
}

/// `AT+UAUTHREQ=<cid>,<auth_type>[,<string>,<string>]`: a context's authentication.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uauthreq {
    /// The `<auth_type>`s the set command accepts (0 none, 1 PAP, 2 CHAP, 3 automatic).
    pub auth_types: Vec<i64>,
    /// Both strings must be given, empty ones included (`AT+UAUTHREQ=1,0,"",""`); otherwise they
    /// may be left out (`AT+UAUTHREQ=1,0`).
    pub credentials_required: bool,
    /// Which of the two strings is the user name.
    pub order: CredentialOrder,
    /// `AT+UAUTHREQ=?`.
    pub test: String,
}

/// `+URAT`: the radio access technologies the module may use, in order of preference.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rat {
    /// The `<AcT>` values each position accepts, in the model's own numbering: one list per
    /// position, so the set command takes at most as many `<AcT>`s as there are lists.
    pub values: Vec<Vec<i64>>,
    /// The factory setting, which `AT+URAT?` prints until it is set.
    pub factory: Vec<i64>,
    /// `AT+URAT=?`.
    pub test: String,
    /// The set command needs the radio off (`+CFUN=0`); otherwise `operation not allowed`.
    #[serde(default)]
    pub radio_off: bool,
    /// The first `<AcT>` that means dual mode (SARA-U201: 1): the second one, the preferred
    /// technology, is given only after it, and the factory one when left out. Without it every
    /// position is a technology of its own.
    #[serde(default)]
    pub dual_mode: Option<i64>,
}

/// `+USIO`: the serial interface variants, which take effect at the next reboot.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usio {
    /// The `<requested_variant>`s the set command accepts.
    pub values: Vec<i64>,
    /// The variant requested and active until one is set.
    pub factory: i64,
    /// `AT+USIO=?`.
    pub test: String,
}

/// `+UGPRF`: where a GNSS receiver inside or behind the module sends its data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GnssProfile {
    /// The highest `<GNSS_IO_configuration>` bit map (all bits below it may be set).
    pub max: i64,
    /// `AT+UGPRF=?`.
    pub test: String,
}

/// `+CCLK`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// The set command's time is UTC, and the read command prints local time, the set time plus
    /// its zone (LEXI-R10); otherwise the time is read back as it was set.
    #[serde(default)]
    pub set_is_utc: bool,
}

/// The `+USECPRF` security profiles.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// The certificate validation level (`+USECPRF` op 0, 0–3) every profile has at power-on
    /// and after `AT+USECPRF=<id>`: 1 (root CA checking) on SARA-R5, LARA-R6 and LEXI-R10, 0
    /// (none) otherwise (ubxlib's `cellSecTlsSettings` test, docs/FIDELITY.md).
    #[serde(default)]
    pub factory_level: u8,
}

/// How the model's packet switched data profiles (`+UPSD`, `+UPSDA`, `+UPSND`) work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PsdStyle {
    /// No PSD profiles: the commands are unknown, FTP binds with `+UFTP=20,<cid>`.
    None,
    /// Full profiles (SARA-U2): APN, credentials, authentication, static IP; activation brings
    /// up a bearer of its own.
    Profiles,
    /// The profile only points at a `+CGDCONT` context (`+UPSD=<p>,100,<cid>`), SARA-R5.
    MapToCid,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Psd {
    pub style: PsdStyle,
    /// Profile ids are `0..profiles`.
    #[serde(default)]
    pub profiles: u8,
    /// The `<param_tag>`s `+UPSD` accepts; others are refused with `operation not allowed`.
    #[serde(default)]
    pub params: Vec<i64>,
    /// Whether a successful `+UPSDA=<p>,3` is followed by `+UUPSDA: 0,"<ip>"` after its `OK`.
    #[serde(default)]
    pub activation_urc: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// `AT+UDNSRN=?`.
    pub udnsrn_test: String,
    /// `AT+UDNSRN=0,"<host>"` answers `+UDNSRN: "<ip>"` before its `OK` (the older models),
    /// rather than `OK` and then the URC `+UUDNSRN` (LEXI-R10).
    #[serde(default)]
    pub synchronous: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ftp {
    /// `+UFTP` op codes.
    pub uftp_ops: Vec<i64>,
    /// `AT+UFTP=?`.
    pub uftp_test: String,
    /// `+UFTPC` op codes.
    pub uftpc_ops: Vec<i64>,
    /// `AT+UFTPC=?`.
    pub uftpc_test: String,
    /// Whether FOTA's final URC carries the image's MD5 (`+UUFTPCR: 100,1,"<md5>"`).
    pub fota_md5: bool,
    /// How a direct link (`AT+UFTPC=6/7`) starts and ends.
    pub direct_link: DirectLink,
}

/// The result codes around a direct link.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectLink {
    /// `OK` before `CONNECT` (the SARA-R4 syntax table), rather than `CONNECT` alone.
    pub ok_before_connect: bool,
    /// `OK` after `DISCONNECT` when the link ends.
    pub ok_after_disconnect: bool,
}

impl DirectLink {
    /// The AT core's description of this framing.
    pub fn framing(self) -> DataModeFraming {
        DataModeFraming {
            ok_before_connect: self.ok_before_connect,
            ok_after_disconnect: self.ok_after_disconnect,
        }
    }
}

/// The HTTP client service (`+UHTTP`, `+UHTTPC`, `+UHTTPER`, services/http/).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Profiles `0..profiles` (LEXI-R10: only 0).
    pub profiles: u8,
    /// `+UHTTP` op codes.
    pub uhttp_ops: Vec<i64>,
    /// `+UHTTPC` `<http_command>` codes (6 and 7: direct link).
    pub uhttpc_ops: Vec<i64>,
    /// `AT+UHTTP=?`, `AT+UHTTPC=?`.
    pub uhttp_test: String,
    pub uhttpc_test: String,
}

/// Which AT syntax the MQTT client speaks (internet-suite.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MqttSyntax {
    /// Set commands answer `OK`; network results come as `+UUMQTTC: <op>,<result>` URCs and
    /// received messages are read with `AT+UMQTTC=6,1` (SARA-R5, LARA-R6, LEXI-R10).
    New,
    /// SARA-R410M-02B and R412M-02B (ubxlib's `MQTT_SARA_R4_OLD_SYNTAX`): every set command
    /// answers `+UMQTT: <op>,<result>` or `+UMQTTC: <op>,<result>` before `OK`, a profile value
    /// is read with `AT+UMQTT=<op>?` and comes back in `+UUMQTT<op>:`, login succeeds with
    /// `+UUMQTTC: 1,0`, and messages arrive as `+UUMQTTCM:`.
    SaraR4,
}

/// What an unset client id (`+UMQTT` op 0) becomes at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MqttClientId {
    /// The module's IMEI.
    Imei,
    /// Nothing: the CONNECT carries an empty client id (ubxlib: "SARA-R4 doesn't generate
    /// one").
    Empty,
}

/// The MQTT client service (`+UMQTT`, `+UMQTTC`, `+UMQTTER`, `+UMQTTNV`, services/mqtt/).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mqtt {
    pub syntax: MqttSyntax,
    /// `+UMQTT` op codes (6-9: the last will).
    pub umqtt_ops: Vec<i64>,
    /// `+UMQTTC` op codes (9: binary publish, a direct link).
    pub umqttc_ops: Vec<i64>,
    /// What an unset client id becomes at login.
    pub client_id: MqttClientId,
}

/// The socket service (`+USO*`, services/socket/).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sockets {
    /// How many sockets the module has: ids `0..count`.
    pub count: u8,
    /// Largest `<length>` of a `+USOWR` / `+USOST` / `+USORD` / `+USORF` (string and binary).
    pub max_data: usize,
    /// Largest `<length>` in hex mode (`+UDCONF=1,1`).
    pub max_hex_data: usize,
    /// Received bytes a socket holds before the module stops reading from the peer.
    pub receive_buffer: usize,
    /// Bytes a socket holds for sending: a `+USOWR` beyond what is free answers a shorter
    /// `<length>`.
    pub send_buffer: usize,
    /// `+USOCO`'s fourth parameter (`+UUSOCO`).
    pub async_connect: bool,
    /// `+USOCL`'s second parameter (`+UUSOCL` after `OK`).
    pub async_close: bool,
    /// `+USOCR`'s `<local_port>`.
    pub local_port: bool,
    /// Test answers, by command (`"+USOCR" = "+USOCR: (6,17),(1-65535)"`).
    pub tests: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSystem {
    /// Longest file name in bytes.
    pub file_name_max: usize,
}

/// Why a model file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
    #[error("{0}")]
    Invalid(String),
}

/// The range of every code a model lists: `+UFTP`, `+UFTPC`, `+UHTTP` and `+UHTTPC` op codes,
/// `<fun>` values, `<param_tag>`s, `<auth_type>`s and `<AcT>`s. Every such number in the u-blox
/// manuals is below 256 (the largest listed is `+UFTPC` 100, FOTA), so anything outside is a
/// typo (docs/MODELS.md).
pub const CODES: std::ops::RangeInclusive<i64> = 0..=255;

impl Model {
    /// Reads and checks a model file.
    pub fn from_toml(text: &str) -> Result<Model, ModelError> {
        let model: Model = toml::from_str(text)?;
        // The same text as a plain table, to reach every string wherever the schema puts it.
        let table: toml::Table = toml::from_str(text)?;
        printable("", &toml::Value::Table(table)).map_err(ModelError::Invalid)?;
        model.check().map_err(ModelError::Invalid)?;
        Ok(model)
    }

    /// The consistency rules the schema cannot express.
    fn check(&self) -> Result<(), String> {
        self.check_names()?;
        self.check_codes()?;
        self.check_sizes()?;
        if !self
            .functionality
            .values
            .contains(&self.functionality.reboot)
        {
            return Err("functionality.reboot must be one of functionality.values".into());
        }
        if self.pdp.max_cid == 0 {
            return Err("pdp.max_cid must be at least 1".into());
        }
        let psd_commands = ["+UPSD", "+UPSDA", "+UPSND"];
        let has_psd = psd_commands.iter().all(|c| self.has(c));
        match self.psd.style {
            PsdStyle::None if psd_commands.iter().any(|c| self.has(c)) => {
                return Err("psd.style is \"none\" but commands lists +UPSD/+UPSDA/+UPSND".into());
            }
            PsdStyle::Profiles | PsdStyle::MapToCid if !has_psd || self.psd.profiles == 0 => {
                return Err("a psd.style other than \"none\" needs +UPSD, +UPSDA and +UPSND in commands and psd.profiles > 0".into());
            }
            _ => {}
        }
        if !(1..=248).contains(&self.file_system.file_name_max) {
            return Err("file_system.file_name_max must be 1..=248".into());
        }
        if self.has("+UAUTHREQ") != self.pdp.uauthreq.is_some() {
            return Err("pdp.uauthreq must be given exactly when commands lists +UAUTHREQ".into());
        }
        if self.has("+UMQTT") != self.mqtt.is_some() {
            return Err("mqtt must be given exactly when commands lists +UMQTT".into());
        }
        if let Some(mqtt) = &self.mqtt {
            if mqtt.umqttc_ops.is_empty() || mqtt.umqttc_ops.iter().any(|op| !(0..=9).contains(op))
            {
                return Err("mqtt.umqttc_ops must be op codes 0-9".into());
            }
            let needs = ["+UMQTTC", "+UMQTTER"];
            if let Some(c) = needs.iter().find(|c| !self.has(c)) {
                return Err(format!("mqtt needs {c} in commands"));
            }
        }
        if self.security.factory_level > 3 {
            return Err("security.factory_level must be a validation level, 0-3".into());
        }
        if self.has("+URAT") != self.rat.is_some() {
            return Err("rat must be given exactly when commands lists +URAT".into());
        }
        if self.has("+USIO") != self.usio.is_some() {
            return Err("usio must be given exactly when commands lists +USIO".into());
        }
        if let Some(usio) = &self.usio
            && !usio.values.contains(&usio.factory)
        {
            return Err("usio.factory must be one of usio.values".into());
        }
        if self.has("+UGPRF") != self.gnss_profile.is_some() {
            return Err("gnss_profile must be given exactly when commands lists +UGPRF".into());
        }
        self.check_rat()?;
        if let Some(g) = &self.gnss_profile
            && !(1..=255).contains(&g.max)
        {
            return Err("gnss_profile.max must be 1..=255".into());
        }
        Ok(())
    }

    /// The sizes a socket allocates by: bounded, so that a model file cannot make each socket
    /// take gigabytes (every model the manuals describe is far below these).
    fn check_sizes(&self) -> Result<(), String> {
        let sockets = &self.sockets;
        let limits = [
            ("sockets.max_data", sockets.max_data, 1..=65_536),
            ("sockets.max_hex_data", sockets.max_hex_data, 1..=65_536),
            (
                "sockets.receive_buffer",
                sockets.receive_buffer,
                1..=4 << 20,
            ),
            ("sockets.send_buffer", sockets.send_buffer, 1..=4 << 20),
        ];
        for (field, value, range) in limits {
            if !range.contains(&value) {
                return Err(format!(
                    "{field}: {value} is out of range ({} to {})",
                    range.start(),
                    range.end()
                ));
            }
        }
        if sockets.count == 0 {
            return Err("sockets.count must be at least 1".into());
        }
        Ok(())
    }

    /// `rat`: the factory setting one value of each position's list, and dual mode (SARA-U201)
    /// a first-position value with a second position after it.
    fn check_rat(&self) -> Result<(), String> {
        let Some(rat) = &self.rat else {
            return Ok(());
        };
        let fits = !rat.factory.is_empty()
            && rat.factory.len() <= rat.values.len()
            && rat
                .factory
                .iter()
                .zip(&rat.values)
                .all(|(v, allowed)| allowed.contains(v));
        if !fits {
            return Err("rat.factory must be one value of each rat.values list, in order".into());
        }
        if let Some(dual) = rat.dual_mode
            && (rat.values.len() != 2 || !rat.values[0].contains(&dual))
        {
            return Err("rat.dual_mode must be a value of rat.values[0], with two lists".into());
        }
        Ok(())
    }

    /// The id, the IMEI's allocation code and the command names.
    fn check_names(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("id: empty: a model needs a name".into());
        }
        let tac = &self.identity.imei_tac;
        if tac.len() != 8 || !tac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("identity.imei_tac must be 8 digits, not {tac:?}"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.commands {
            let name = c.strip_prefix('+').unwrap_or("");
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(format!(
                    "commands: {c:?} is not an extended command (+NAME, upper-case letters and \
                     digits)"
                ));
            }
            if !seen.insert(c) {
                return Err(format!("commands: {c:?} is listed twice"));
            }
        }
        Ok(())
    }

    /// Every list of codes: each code within [`CODES`], and listed once.
    fn check_codes(&self) -> Result<(), String> {
        let mut lists: Vec<(String, &[i64])> = vec![
            ("functionality.values".into(), &self.functionality.values),
            ("psd.params".into(), &self.psd.params),
            ("ftp.uftp_ops".into(), &self.ftp.uftp_ops),
            ("ftp.uftpc_ops".into(), &self.ftp.uftpc_ops),
            ("http.uhttp_ops".into(), &self.http.uhttp_ops),
            ("http.uhttpc_ops".into(), &self.http.uhttpc_ops),
        ];
        if let Some(u) = &self.pdp.uauthreq {
            lists.push(("pdp.uauthreq.auth_types".into(), &u.auth_types));
        }
        if let Some(mqtt) = &self.mqtt {
            lists.push(("mqtt.umqtt_ops".into(), &mqtt.umqtt_ops));
            lists.push(("mqtt.umqttc_ops".into(), &mqtt.umqttc_ops));
        }
        if let Some(rat) = &self.rat {
            for (i, values) in rat.values.iter().enumerate() {
                lists.push((format!("rat.values[{i}]"), values));
            }
        }
        if let Some(usio) = &self.usio {
            lists.push(("usio.values".into(), &usio.values));
        }
        for (field, codes) in lists {
            let mut seen = std::collections::BTreeSet::new();
            for code in codes {
                if !CODES.contains(code) {
                    return Err(format!(
                        "{field}: {code} is out of range ({} to {})",
                        CODES.start(),
                        CODES.end()
                    ));
                }
                if !seen.insert(code) {
                    return Err(format!("{field}: {code} is listed twice"));
                }
            }
        }
        Ok(())
    }

    /// Whether this model has the extended command `name` (upper case, with `+`).
    pub fn has(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c == name)
    }

    /// Looks a model up by its `--model` name, its `+CGMM` string or one of its aliases
    /// (case-insensitive), or else by a `+CGMM` prefix, as multi-model drivers match `+CGMM`.
    pub fn by_name(name: &str) -> Option<&'static Model> {
        let name = name.trim();
        let exact = models().iter().find(|m| {
            m.id.eq_ignore_ascii_case(name)
                || m.identity.model.eq_ignore_ascii_case(name)
                || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        });
        exact.or_else(|| {
            let upper = name.to_ascii_uppercase();
            models().iter().find(|m| {
                m.cgmm_prefixes
                    .iter()
                    .any(|p| !p.is_empty() && upper.starts_with(&p.to_ascii_uppercase()))
            })
        })
    }

    /// The IMEI of the module with this serial number (0..=999999): the type allocation code,
    /// the serial and the Luhn check digit.
    pub fn imei(&self, serial: u32) -> String {
        let body = format!("{}{:06}", self.identity.imei_tac, serial % 1_000_000);
        format!("{body}{}", luhn_check_digit(&body))
    }

    /// `ATI`'s lines.
    pub fn ati(&self) -> Vec<&str> {
        if self.identity.ati.is_empty() {
            vec![self.identity.model.as_str()]
        } else {
            self.identity.ati.iter().map(String::as_str).collect()
        }
    }
}

/// Refuses a control character (below 0x20, or 0x7f) in any string of a model file, keys
/// included, naming the field: the module prints these strings (identification, test answers),
/// and a CR LF in one would forge a line of its own, such as a final `OK`.
fn printable(field: &str, value: &toml::Value) -> Result<(), String> {
    match value {
        toml::Value::String(text) => no_control(field, text),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| printable(&format!("{field}[{i}]"), v)),
        toml::Value::Table(table) => table.iter().try_for_each(|(key, v)| {
            let path = if field.is_empty() {
                key.clone()
            } else {
                format!("{field}.{key}")
            };
            no_control(&path, key)?;
            printable(&path, v)
        }),
        _ => Ok(()),
    }
}

fn no_control(field: &str, text: &str) -> Result<(), String> {
    match text
        .char_indices()
        .find(|(_, c)| u32::from(*c) < 0x20 || *c == '\x7f')
    {
        Some((at, c)) => Err(format!(
            "{}: control character {:#04x} at byte {at}: the module prints this text, and it \
             may hold none",
            field.escape_debug(),
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// The Luhn check digit of a string of digits (the 15th digit of an IMEI).
fn luhn_check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let twice = d * 2;
                twice / 10 + twice % 10
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

static MODELS: LazyLock<Vec<Model>> = LazyLock::new(|| {
    let mut models: Vec<Model> = MODEL_FILES
        .iter()
        .map(|(file, text)| {
            // Built-in files are checked by the test suite (`every_model_file_is_valid`); a
            // broken one is a build defect, reported with its file name.
            Model::from_toml(text).unwrap_or_else(|e| panic!("models/{file}: {e}"))
        })
        .collect();
    // The default first, the others in file-name order.
    models.sort_by_key(|m| m.id != DEFAULT_MODEL);
    models
});

/// Every built-in model, the default (`lexi-r10`) first.
pub fn models() -> &'static [Model] {
    &MODELS
}

/// The default model, LEXI-R10.
pub fn default_model() -> &'static Model {
    Model::by_name(DEFAULT_MODEL).unwrap_or(&MODELS[0])
}

/// The `--model` default.
pub const DEFAULT_MODEL: &str = "lexi-r10";

/// The known names, for an error message: "lexi-r10, sara-r4, …".
pub fn known_names() -> String {
    models()
        .iter()
        .map(|m| m.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_file_is_valid() {
        for (file, text) in MODEL_FILES {
            let model = Model::from_toml(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(
                format!("{}.toml", model.id),
                *file,
                "id matches the file name"
            );
        }
        assert!(Model::by_name(DEFAULT_MODEL).is_some());
    }

    /// A built-in file with one edit, for the consistency rules.
    fn edited(file: &str, from: &str, to: &str) -> Result<Model, ModelError> {
        let (_, text) = MODEL_FILES
            .iter()
            .find(|(f, _)| *f == file)
            .unwrap_or_else(|| panic!("no {file}"));
        assert!(text.contains(from), "{file} has no {from:?}");
        Model::from_toml(&text.replacen(from, to, 1))
    }

    #[test]
    fn socket_sizes_are_bounded() {
        let big = edited(
            "lexi-r10.toml",
            "receive_buffer = 65536",
            "receive_buffer = 4294967296",
        );
        let error = big.expect_err("a 4 GiB buffer per socket").to_string();
        assert!(error.contains("sockets.receive_buffer"), "{error}");
        assert!(edited("lexi-r10.toml", "max_data = 1024", "max_data = 0").is_err());
    }

    #[test]
    fn uauthreq_and_rat_go_with_their_commands() {
        // LEXI-R10 has neither: naming the command without its form is refused.
        let lexi = |to| edited("lexi-r10.toml", "\"+CGAUTH\",", to);
        assert!(lexi("\"+CGAUTH\", \"+UAUTHREQ\",").is_err());
        assert!(lexi("\"+CGAUTH\", \"+URAT\",").is_err());
        // SARA-R5 has both: the form without the command is refused too.
        assert!(edited("sara-r5.toml", "\"+UAUTHREQ\",", "").is_err());
        assert!(edited("sara-r5.toml", "\"+URAT\",", "").is_err());
        // A factory RAT outside the values, or more of them than positions.
        assert!(edited("sara-r5.toml", "factory = [7]", "factory = [9]").is_err());
        assert!(edited("sara-r5.toml", "factory = [7]", "factory = [7, 8]").is_err());
        assert!(edited("sara-r5.toml", "factory = [7]", "factory = []").is_err());
        let order = edited(
            "sara-r4.toml",
            "order = \"password-user\"",
            "order = \"user\"",
        );
        assert!(order.is_err());
        let r4 = Model::by_name("sara-r4").and_then(|m| m.pdp.uauthreq.as_ref());
        assert_eq!(r4.map(|u| u.order), Some(CredentialOrder::PasswordUser));
        assert!(Model::by_name("lexi-r10").is_some_and(|m| m.clock.set_is_utc));
        assert!(Model::by_name("sara-r5").is_some_and(|m| !m.clock.set_is_utc));
    }

    #[test]
    fn mqtt_goes_with_its_commands() {
        // SARA-U201 has no MQTT: a [mqtt] table without the commands is refused.
        let u2 = edited(
            "sara-u201.toml",
            "[sockets]",
            "[mqtt]\nsyntax = \"new\"\numqtt_ops = [0]\numqttc_ops = [0]\nclient_id = \"imei\"\n\n[sockets]",
        );
        assert!(u2.is_err());
        // The commands without the table, an unknown syntax, an op beyond 9.
        assert!(edited("sara-r4.toml", "\"+UMQTT\", ", "").is_err());
        assert!(edited("sara-r4.toml", "syntax = \"sara-r4\"", "syntax = \"old\"").is_err());
        assert!(
            edited(
                "lexi-r10.toml",
                "umqttc_ops = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]",
                "umqttc_ops = [10]"
            )
            .is_err()
        );
        let syntax = |m: &str| {
            Model::by_name(m)
                .and_then(|m| m.mqtt.as_ref())
                .map(|q| q.syntax)
        };
        assert_eq!(syntax("sara-r4"), Some(MqttSyntax::SaraR4));
        assert_eq!(syntax("lexi-r10"), Some(MqttSyntax::New));
        assert_eq!(syntax("sara-u201"), None);
    }

    #[test]
    fn the_factory_validation_level_is_model_data() {
        let level = |m: &str| Model::by_name(m).map(|m| m.security.factory_level);
        // ubxlib's cellSecTlsSettings: root CA checking on SARA-R5, LARA-R6 and LEXI-R10.
        for (model, factory) in [
            ("lexi-r10", 1),
            ("sara-r5", 1),
            ("lara-r6", 1),
            ("sara-r4", 0),
            ("sara-u201", 0),
        ] {
            assert_eq!(level(model), Some(factory), "{model}");
        }
        let beyond = refused("sara-r5.toml", "factory_level = 1", "factory_level = 4");
        assert!(beyond.contains("security.factory_level"), "{beyond}");
        assert!(edited("sara-r5.toml", "factory_level = 1", "factory_level = -1").is_err());
        // A profile of one's own without the table: no validation, as before.
        let absent = edited("sara-r5.toml", "[security]\nfactory_level = 1\n", "");
        assert_eq!(absent.map(|m| m.security.factory_level).ok(), Some(0));
    }

    /// The error of a built-in file with one edit.
    fn refused(file: &str, from: &str, to: &str) -> String {
        match edited(file, from, to) {
            Ok(_) => panic!("{file}: {from:?} -> {to:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn printed_strings_hold_no_control_characters() {
        for (from, to, field) in [
            (
                "model = \"LEXI-R10401D\"",
                r#"model = "A\r\nOK\r\n""#,
                "identity.model: control character 0x0d at byte 1",
            ),
            (
                "manufacturer = \"u-blox\"",
                r#"manufacturer = "u-blox\u0000""#,
                "identity.manufacturer: control character 0x00",
            ),
            (
                "revision = \"01.04\"",
                r#"revision = "01.04\u007f""#,
                "identity.revision: control character 0x7f",
            ),
            (
                "ati9 = \"01.04,A00.01\"",
                "ati9 = \"01.04,\tA00.01\"",
                "identity.ati9: control character 0x09",
            ),
            (
                "uftp_test = \"+UFTP: (0-12,20)\"",
                r#"uftp_test = "+UFTP: (0-12,20)\r\nOK""#,
                "ftp.uftp_test",
            ),
            (
                "\"+USOCL\" = \"+USOCL: (0-6)\"",
                r#""+USOCL" = "+USOCL: (0-6)\n""#,
                "sockets.tests.+USOCL",
            ),
            (
                "\"+USOCL\" = \"+USOCL: (0-6)\"",
                r#""+USOCL\r" = "+USOCL: (0-6)""#,
                "sockets.tests.+USOCL\\r: control character 0x0d",
            ),
            (
                "aliases = [\"LEXI-R10\"",
                r#"aliases = ["LEXI\nR10""#,
                "aliases[0]",
            ),
            (
                "description = \"LEXI-R10",
                r#"description = "\u001bLEXI-R10"#,
                "description: control character 0x1b at byte 0",
            ),
        ] {
            let e = refused("lexi-r10.toml", from, to);
            assert!(e.contains(field), "{to}: {e}");
        }
        // `ATI`'s lines, which no built-in model lists.
        let e = refused(
            "lexi-r10.toml",
            "[identity]\n",
            "[identity]\nati = [\"LEXI-R10\", \"\\r\\nOK\"]\n",
        );
        assert!(e.contains("identity.ati[1]: control character 0x0d"), "{e}");
        assert!(
            edited(
                "lexi-r10.toml",
                "[identity]\n",
                "[identity]\nati = [\"A\", \"B\"]\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn ids_commands_and_codes_are_checked() {
        let lexi = |from, to| refused("lexi-r10.toml", from, to);
        let e = lexi("id = \"lexi-r10\"", "id = \"\"");
        assert!(e.starts_with("id: empty"), "{e}");
        assert!(lexi("id = \"lexi-r10\"", "id = \"  \"").starts_with("id: empty"));
        let e = lexi("\"+CGMI\", \"+CGMM\",", "\"+CGMI\", \"+CGMM\", \"+CGMI\",");
        assert!(e.contains("commands: \"+CGMI\" is listed twice"), "{e}");
        let e = lexi("\"+CGMI\",", "\"+cgmi\",");
        assert!(
            e.contains("commands: \"+cgmi\" is not an extended command"),
            "{e}"
        );
        assert!(lexi("\"+CGMI\",", "\"+\",").contains("commands: \"+\""));
        for (from, to, needle) in [
            (
                "uftpc_ops = [0,",
                "uftpc_ops = [-1, 0,",
                "ftp.uftpc_ops: -1 is out of range (0 to 255)",
            ),
            (
                "uftp_ops = [0,",
                "uftp_ops = [65536, 0,",
                "ftp.uftp_ops: 65536 is out of range",
            ),
            (
                "uftpc_ops = [0, 1,",
                "uftpc_ops = [0, 1, 1,",
                "ftp.uftpc_ops: 1 is listed twice",
            ),
            (
                "uhttp_ops = [0,",
                "uhttp_ops = [256, 0,",
                "http.uhttp_ops: 256",
            ),
            (
                "uhttpc_ops = [0,",
                "uhttpc_ops = [-5, 0,",
                "http.uhttpc_ops: -5",
            ),
            (
                "values = [0, 1,",
                "values = [0, 0, 1,",
                "functionality.values: 0 is listed twice",
            ),
        ] {
            let e = lexi(from, to);
            assert!(e.contains(needle), "{to}: {e}");
        }
        let r5 = |from, to| refused("sara-r5.toml", from, to);
        let e = r5("auth_types = [", "auth_types = [70000, ");
        assert!(e.contains("pdp.uauthreq.auth_types: 70000"), "{e}");
        let e = r5("params = [", "params = [-1, ");
        assert!(e.contains("psd.params: -1"), "{e}");
        let e = r5("values = [[7, 8]]", "values = [[7, 8, 7]]");
        assert!(e.contains("rat.values[0]: 7 is listed twice"), "{e}");
    }

    #[test]
    fn imei_check_digit() {
        // A well-known valid IMEI.
        assert_eq!(luhn_check_digit("49015420323751"), 8);
        assert_eq!(luhn_check_digit("35752007012076"), 7);
    }

    #[test]
    fn names_and_aliases() {
        let id = |name: &str| Model::by_name(name).map(|m| m.id.as_str());
        assert_eq!(id("LEXI-R10"), Some("lexi-r10"));
        assert_eq!(id("sara-u201"), Some("sara-u201"));
        assert_eq!(id("SARA-R510M8Q"), Some("sara-r5"));
        assert_eq!(id("SARA-R410M-02B-03"), Some("sara-r4"));
        // ubxlib tells these apart from the R410M and R5: not emulated.
        assert_eq!(id("SARA-R422"), None);
        assert_eq!(id("SARA-R52"), None);
        assert!(Model::by_name("no-such-model").is_none());
    }
}
