//! The per-service busy rule and last error.

use ubx_at::{CmeError, CommandError};

/// A service's failure, as its last-error query prints it: `(class, code)` from the service's
/// one table (`+UFTPER: <class>,<code>`).
pub trait LastError: Copy + std::fmt::Debug {
    fn class_code(&self) -> (u32, u32);
}

/// One service's operation slot: which operation runs, its task, and the last outcome.
#[derive(Debug, Default)]
pub struct ServiceSlot {
    /// The op code of the operation in progress.
    busy: Option<i64>,
    /// Its task, so a reboot can abandon it.
    task: Option<tokio::task::AbortHandle>,
    /// `(class, code)` of the last operation; `(0, 0)` after a success.
    last_error: (u32, u32),
}

impl ServiceSlot {
    /// Claims the service for `op`; while another operation runs the claim fails, records
    /// `busy` for the last-error query and answers `+CME ERROR: operation not allowed`.
    pub fn claim(&mut self, op: i64, busy: impl LastError) -> Result<(), CommandError> {
        if self.busy.is_some() {
            self.record(Err(busy));
            return Err(CmeError::OperationNotAllowed.into());
        }
        self.busy = Some(op);
        Ok(())
    }

    /// The op code of the running operation.
    pub fn busy(&self) -> Option<i64> {
        self.busy
    }

    /// Keeps the running operation's task, so [`ServiceSlot::power_cycle`] can end it.
    pub fn set_task(&mut self, task: tokio::task::AbortHandle) {
        self.task = Some(task);
    }

    /// The operation is over: the service takes the next one.
    pub fn release(&mut self) {
        self.busy = None;
        self.task = None;
    }

    pub fn record(&mut self, outcome: Result<(), impl LastError>) {
        self.last_error = match outcome {
            Ok(()) => (0, 0),
            Err(f) => f.class_code(),
        };
    }

    pub fn last_error(&self) -> (u32, u32) {
        self.last_error
    }

    /// A reboot: the running operation is abandoned and the last error forgotten.
    pub fn power_cycle(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.busy = None;
        self.last_error = (0, 0);
    }
}
