//! `+UFTP`: the FTP profile, one parameter per op code.
//!
//! Values are volatile and start at the factory values of the chapter's "Defined values". A set
//! command without `<param1>` resets its op code; so does a missing `<param2>` (the chapter: "If
//! `<param2>` is not specified the value of the corresponding parameter is reset to default"), so
//! `AT+UFTP=5,10` sets the timeout and puts both linger times back to 60 s.

use std::net::IpAddr;

use ubx_at::{CmeError, CommandError, Params, Response};

use super::triggers::Triggers;
use crate::module::model::Model;

/// Longest `<server_name>`.
pub const MAX_SERVER_NAME: usize = 128;
/// Longest `<username>`, `<password>`, `<account>`.
pub const MAX_CREDENTIAL: usize = 30;

/// `<FTP_mode>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtpMode {
    Active,
    Passive,
}

/// `<FTP_secure>` with its optional `<usecprf_profile_id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Security {
    pub enabled: bool,
    pub profile: Option<u8>,
}

/// The FTP profile. `password` is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    pub ip_address: String,
    pub server_name: String,
    pub username: String,
    pub password: String,
    pub account: String,
    pub timeout: u32,
    pub linger_cmd: u32,
    pub linger_data: u32,
    pub mode: FtpMode,
    pub port: u16,
    pub control_security: Security,
    pub data_security: Security,
    pub cid: u8,
    pub preferred_protocol: Option<u8>,
    /// `+UFTP=9/10/11`: when a direct-link store sends host bytes.
    pub triggers: Triggers,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("ip_address", &self.ip_address)
            .field("server_name", &self.server_name)
            .field("username", &self.username)
            .field("password", &"***")
            .field("port", &self.port)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The values of the direct-link triggers (op codes 9–11) that mean "off" (factory).
const TIMER_OFF: i64 = 0;
const DATA_LENGTH_OFF: i64 = 0;
const CHARACTER_OFF: i64 = -1;

impl Default for Profile {
    fn default() -> Self {
        Profile {
            ip_address: String::new(),
            server_name: String::new(),
            username: String::new(),
            password: String::new(),
            account: String::new(),
            timeout: 30,
            linger_cmd: 60,
            linger_data: 60,
            mode: FtpMode::Active,
            port: 21,
            control_security: Security::default(),
            data_security: Security::default(),
            cid: 1,
            preferred_protocol: None,
            triggers: Triggers::default(),
        }
    }
}

fn out_of_range() -> CommandError {
    CmeError::OperationNotSupported.into()
}

/// A string parameter of at most `max` printable characters (no `"`, which AT cannot carry, and
/// no control characters: they would end up in FTP commands).
fn text(p: &Params, i: usize, max: usize) -> Result<Option<String>, CommandError> {
    let Some(raw) = p.str(i)? else {
        return Ok(None);
    };
    if raw.len() > max {
        return Err(CmeError::TextTooLong.into());
    }
    let s = std::str::from_utf8(raw).map_err(|_| CmeError::InvalidCharacters)?;
    if s.chars().any(char::is_control) {
        return Err(CmeError::InvalidCharacters.into());
    }
    Ok(Some(s.to_string()))
}

fn number(p: &Params, i: usize, min: i64, max: i64) -> Result<Option<i64>, CommandError> {
    match p.num(i)? {
        Some(v) if (min..=max).contains(&v) => Ok(Some(v)),
        Some(_) => Err(out_of_range()),
        None => Ok(None),
    }
}

fn security(p: &Params) -> Result<Security, CommandError> {
    p.at_most(3)?;
    let enabled = number(p, 1, 0, 1)?.unwrap_or(0) == 1;
    let profile = number(p, 2, 0, 4)?.map(|v| v as u8);
    Ok(Security { enabled, profile })
}

/// What a `+UFTP` set command asks for beyond changing the profile.
#[derive(Debug, PartialEq, Eq)]
pub enum ProfileEffect {
    None,
    /// `AT+UFTP=30,0`: release the FTP resources (profile to factory, session closed).
    Release,
}

impl Profile {
    /// The inactivity timeout of `+UFTP=5`; `None` for 0 (no timeout).
    pub fn inactivity_timeout(&self) -> Option<std::time::Duration> {
        (self.timeout > 0).then(|| std::time::Duration::from_secs(u64::from(self.timeout)))
    }

    /// Applies `AT+UFTP=<op_code>[,<param1>[,<param2>]]`.
    pub fn set(
        &mut self,
        p: &Params,
        model: &Model,
        max_cid: u8,
    ) -> Result<ProfileEffect, CommandError> {
        let op = p.req_num(0)?;
        if !model.ftp.uftp_ops.contains(&op) {
            return Err(out_of_range());
        }
        let factory = Profile::default();
        match op {
            0 => {
                p.at_most(2)?;
                let ip = text(p, 1, 64)?.unwrap_or_default();
                let bare = ip
                    .strip_prefix('[')
                    .and_then(|s| s.strip_suffix(']'))
                    .unwrap_or(&ip);
                if !ip.is_empty() && bare.parse::<IpAddr>().is_err() {
                    return Err(out_of_range());
                }
                self.ip_address = ip;
                // The address and the name exclude each other.
                self.server_name.clear();
            }
            1 => {
                p.at_most(2)?;
                let name = text(p, 1, MAX_SERVER_NAME)?.unwrap_or_default();
                if name.contains(char::is_whitespace) {
                    return Err(CmeError::InvalidCharacters.into());
                }
                self.server_name = name;
                self.ip_address.clear();
            }
            2 => {
                p.at_most(2)?;
                self.username = text(p, 1, MAX_CREDENTIAL)?.unwrap_or_default();
            }
            3 => {
                p.at_most(2)?;
                self.password = text(p, 1, MAX_CREDENTIAL)?.unwrap_or_default();
            }
            4 => {
                p.at_most(2)?;
                self.account = text(p, 1, MAX_CREDENTIAL)?.unwrap_or_default();
            }
            5 => {
                p.at_most(4)?;
                let timeout = number(p, 1, 0, 86400)?;
                let linger_cmd = number(p, 2, 0, 120)?;
                let linger_data = number(p, 3, 0, 120)?;
                self.timeout = timeout.map_or(factory.timeout, |v| v as u32);
                self.linger_cmd = linger_cmd.map_or(factory.linger_cmd, |v| v as u32);
                self.linger_data = linger_data.map_or(factory.linger_data, |v| v as u32);
            }
            6 => {
                p.at_most(2)?;
                self.mode = match number(p, 1, 0, 1)? {
                    Some(1) => FtpMode::Passive,
                    _ => FtpMode::Active,
                };
            }
            7 => {
                p.at_most(2)?;
                self.port = number(p, 1, 1, 65535)?.map_or(factory.port, |v| v as u16);
            }
            8 => self.control_security = security(p)?,
            // The triggers: 0 / -1 (or no value) turn one off.
            9 => {
                p.at_most(2)?;
                self.triggers.timer = match p.num(1)? {
                    None | Some(TIMER_OFF) => None,
                    Some(ms @ 100..=120_000) => Some(std::time::Duration::from_millis(ms as u64)),
                    Some(_) => return Err(out_of_range()),
                };
            }
            10 => {
                p.at_most(2)?;
                self.triggers.length = match p.num(1)? {
                    None | Some(DATA_LENGTH_OFF) => None,
                    Some(n @ 3..=2048) => Some(n as usize),
                    Some(_) => return Err(out_of_range()),
                };
            }
            11 => {
                p.at_most(2)?;
                self.triggers.character = match p.num(1)? {
                    None | Some(CHARACTER_OFF) => None,
                    Some(c @ 0..=255) => Some(c as u8),
                    Some(_) => return Err(out_of_range()),
                };
            }
            12 => self.data_security = security(p)?,
            20 => {
                p.at_most(3)?;
                self.cid = number(p, 1, 1, i64::from(max_cid))?.map_or(factory.cid, |v| v as u8);
                self.preferred_protocol = number(p, 2, 0, 1)?.map(|v| v as u8);
            }
            30 => {
                p.at_most(2)?;
                // <ope_type> 0 is the only operation; it is mandatory.
                return match p.num(1)? {
                    Some(0) => Ok(ProfileEffect::Release),
                    Some(_) => Err(out_of_range()),
                    None => Err(CommandError::Syntax),
                };
            }
            _ => return Err(out_of_range()),
        }
        Ok(ProfileEffect::None)
    }

    /// The read command's lines, in the chapter's order, for the op codes `model` has; the
    /// password is never shown.
    pub fn read(&self, model: &Model) -> Response {
        let sec = |op: u8, s: &Security| match s.profile {
            Some(id) => format!("+UFTP: {op},{},{id}", u8::from(s.enabled)),
            None => format!("+UFTP: {op},{}", u8::from(s.enabled)),
        };
        let cid = match self.preferred_protocol {
            Some(proto) => format!("+UFTP: 20,{},{proto}", self.cid),
            None => format!("+UFTP: 20,{}", self.cid),
        };
        let lines = [
            format!("+UFTP: 0,\"{}\"", self.ip_address),
            format!("+UFTP: 1,\"{}\"", self.server_name),
            format!("+UFTP: 2,\"{}\"", self.username),
            format!("+UFTP: 4,\"{}\"", self.account),
            format!(
                "+UFTP: 5,{},{},{}",
                self.timeout, self.linger_cmd, self.linger_data
            ),
            format!("+UFTP: 6,{}", u8::from(self.mode == FtpMode::Passive)),
            format!("+UFTP: 7,{}", self.port),
            sec(8, &self.control_security),
            format!(
                "+UFTP: 9,{}",
                self.triggers
                    .timer
                    .map_or(TIMER_OFF, |t| t.as_millis() as i64)
            ),
            format!(
                "+UFTP: 10,{}",
                self.triggers.length.map_or(DATA_LENGTH_OFF, |n| n as i64)
            ),
            format!(
                "+UFTP: 11,{}",
                self.triggers.character.map_or(CHARACTER_OFF, i64::from)
            ),
            sec(12, &self.data_security),
            cid,
        ];
        Response::lines(lines.into_iter().filter(|line| {
            let op = line["+UFTP: ".len()..]
                .split(',')
                .next()
                .and_then(|op| op.parse::<i64>().ok());
            op.is_some_and(|op| model.ftp.uftp_ops.contains(&op))
        }))
    }

    /// The server to connect to: the IP address, or the name.
    pub fn server(&self) -> Option<&str> {
        if !self.ip_address.is_empty() {
            Some(&self.ip_address)
        } else if !self.server_name.is_empty() {
            Some(&self.server_name)
        } else {
            None
        }
    }
}
