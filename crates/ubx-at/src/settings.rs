//! Per-terminal settings that decide how responses are framed.
//!
//! Each AT terminal (a PTY, a TCP connection, the console) has its own copy, as each UART / USB
//! channel of a real module does. `ATZ` and `AT&F` bring them back to [`Settings::factory`].

/// The settings V.250 and 3GPP TS 27.007 give a terminal, with u-blox factory values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ATE`: echo received command characters (factory: on).
    pub echo: bool,
    /// `ATV`: verbose (`OK`) rather than numeric (`0`) result codes (factory: verbose).
    pub verbose: bool,
    /// `ATQ`: suppress result codes (factory: off).
    pub quiet: bool,
    /// `+CMEE`: 0 plain `ERROR`, 1 numeric `+CME ERROR: n`, 2 verbose (factory: 0).
    pub cmee: u8,
    /// `S2`: escape character for leaving direct link (factory 43, `+`).
    pub s2: u8,
    /// `S3`: command line terminator (factory 13, CR).
    pub s3: u8,
    /// `S4`: response formatting character (factory 10, LF).
    pub s4: u8,
    /// `S5`: command line editing character (factory 8, backspace).
    pub s5: u8,
    /// `S12`: escape guard time in 1/50 s (factory 50 = 1 s).
    pub s12: u8,
    /// `&D`: what a DTR drop does in data mode: 0 nothing, 1 and 2 leave data mode (factory 1).
    pub and_d: u8,
    /// `&C`: DCD (circuit 109) always on (0) or following the carrier (1, factory). Recorded and
    /// shown by `AT&V`; the emulated lines have no DCD.
    pub and_c: u8,
    /// `&K`: flow control: 0 none, 3 RTS/CTS (factory), 4 XON/XOFF. Recorded and shown by
    /// `AT&V`; the bytes are not held by it.
    pub and_k: u8,
    /// `&S`: DSR (circuit 107) always on (0) or on in data mode (1, factory). Recorded.
    pub and_s: u8,
}

impl Settings {
    /// The factory-programmed values, as after `AT&F`.
    pub const fn factory() -> Self {
        Settings {
            echo: true,
            verbose: true,
            quiet: false,
            cmee: 0,
            s2: 43,
            s3: 13,
            s4: 10,
            s5: 8,
            s12: 50,
            and_d: 1,
            and_c: 1,
            and_k: 3,
            and_s: 1,
        }
    }

    /// The S-register `n`, if this terminal has it.
    pub fn s_register(&self, n: u32) -> Option<u8> {
        Some(match n {
            2 => self.s2,
            3 => self.s3,
            4 => self.s4,
            5 => self.s5,
            12 => self.s12,
            _ => return None,
        })
    }

    /// Sets S-register `n`; `false` when there is no such register or the value is out of range.
    pub fn set_s_register(&mut self, n: u32, value: i64) -> bool {
        let (slot, range) = match n {
            // S2 0 would make NUL the escape character: R4-R09 p.103 gives 1–255.
            2 => (&mut self.s2, 1..=255),
            3 => (&mut self.s3, 0..=127),
            4 => (&mut self.s4, 0..=127),
            5 => (&mut self.s5, 0..=127),
            12 => (&mut self.s12, 0..=255),
            _ => return false,
        };
        match u8::try_from(value) {
            Ok(v) if range.contains(&v) => {
                *slot = v;
                true
            }
            _ => false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::factory()
    }
}
