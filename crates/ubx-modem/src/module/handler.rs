//! Executes one terminal's commands against the shared module: the dispatch to the command
//! families and services, and the payloads that follow a prompt.

use std::cell::Cell;
use std::sync::Arc;

use ubx_at::{Command, CommandError, Handler, Outcome, PayloadRequest, Settings};

use crate::families::{dns, fs, general, network, pdp, power, psd, security, sim};
use crate::module::data_link;
use crate::module::state::{Ctx, Shared, TerminalId};
use crate::services::{ftp, http, mqtt, socket};

/// Executes commands for one terminal against the shared module.
pub struct ModemHandler {
    shared: Arc<Shared>,
    terminal: TerminalId,
    /// The data link of the last command that went pending (`AT+UFTPC=6/7`), for the driver.
    link: Option<data_link::LinkPort>,
    /// The rate of the last `AT+IPR=<rate>`, for the driver to apply after the `OK`.
    baud_change: Option<u32>,
    /// The terminal is a UART (paced, or a serial port): direct links hold only a few KiB.
    uart: bool,
}

impl ModemHandler {
    pub(crate) fn new(shared: Arc<Shared>, terminal: TerminalId) -> ModemHandler {
        ModemHandler {
            shared,
            terminal,
            link: None,
            baud_change: None,
            uart: false,
        }
    }

    /// Says that the terminal is a UART (`--baud`, or a serial port): the direct links its
    /// commands open then hold only a few KiB ([`data_link::PIECE`]).
    pub fn set_uart(&mut self, uart: bool) {
        self.uart = uart;
    }

    /// The terminal this handler executes for.
    pub fn terminal(&self) -> TerminalId {
        self.terminal
    }

    /// Takes the rate an `AT+IPR=<rate>` just set on this terminal (not 0, autobauding).
    pub fn take_baud_change(&mut self) -> Option<u32> {
        self.baud_change.take()
    }

    /// Takes the data link a command just opened: the driver carries it while the terminal
    /// waits for the answer and then stays in data mode.
    pub fn take_link(&mut self) -> Option<data_link::LinkPort> {
        self.link.take()
    }
}

impl Drop for ModemHandler {
    fn drop(&mut self) {
        self.shared
            .urc_sinks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.terminal);
        fs::terminal_closed(&self.shared, self.terminal);
    }
}

impl Handler for ModemHandler {
    fn execute(&mut self, cmd: &Command, settings: &Settings) -> Outcome {
        if cmd.is_extended() && !self.shared.model.has(&cmd.name) {
            return Outcome::Failed(CommandError::Syntax);
        }
        tracing::debug!(terminal = self.terminal, command = %cmd.name, "execute");
        let bearers = crate::module::trace::active_bearers(&self.shared);
        let ctx = Ctx {
            shared: &self.shared,
            terminal: self.terminal,
            link: Cell::new(None),
            baud: Cell::new(None),
            settings: settings.clone(),
        };
        let outcome = general::execute(&ctx, cmd)
            .or_else(|| sim::execute(&ctx, cmd))
            .or_else(|| network::execute(&ctx, cmd))
            .or_else(|| power::execute(&ctx, cmd))
            .or_else(|| security::execute(&ctx, cmd))
            .or_else(|| pdp::execute(&ctx, cmd))
            .or_else(|| psd::execute(&ctx, cmd))
            .or_else(|| dns::execute(&ctx, cmd))
            .or_else(|| fs::execute(&ctx, cmd))
            .or_else(|| ftp::execute(&ctx, cmd))
            .or_else(|| socket::execute(&ctx, cmd))
            .or_else(|| http::execute(&ctx, cmd))
            .or_else(|| mqtt::execute(&ctx, cmd))
            .unwrap_or(Outcome::Failed(CommandError::Syntax));
        if let Some(link) = ctx.link.take() {
            link.pace(self.uart);
            self.link = Some(link);
        }
        if let Some(rate) = ctx.baud.take() {
            self.baud_change = Some(rate);
        }
        // A command may have taken a PSD profile's bearer away (`+CGACT=0`, `+CFUN=4`).
        psd::sync(&self.shared);
        // ... and with it the sockets' bearer.
        socket::bearer_sync(&self.shared);
        // Signalling or data over the radio brings the signalling connection up (+CSCON).
        network::rrc::check(&self.shared);
        crate::module::trace::bearers_changed(&self.shared, bearers, "command");
        outcome
    }

    fn payload_received(&mut self, request: &PayloadRequest, data: Vec<u8>) -> Outcome {
        let ctx = Ctx {
            shared: &self.shared,
            terminal: self.terminal,
            link: Cell::new(None),
            baud: Cell::new(None),
            settings: Settings::factory(),
        };
        let outcome = match request.command.name.as_str() {
            "+USECMNG" => security::payload_received(&ctx, request, data),
            "+USOWR" | "+USOST" => socket::payload_received(&ctx, request, data),
            "+UMQTTC" => mqtt::payload_received(&ctx, request, data),
            _ => fs::payload_received(&ctx, request, data),
        };
        network::rrc::check(&self.shared);
        outcome
    }
}
