//! The one way a service's operation ends.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::module::ids::TerminalId;
use crate::module::state::{Shared, State};
use crate::services::toolkit::slot::{LastError, ServiceSlot};

/// What the toolkit needs to know of a service.
pub trait Service {
    /// The service's name in logs.
    const NAME: &'static str;
    /// Where the slot of the service's `instance` (an HTTP profile; 0 for a service with one)
    /// is in the module state.
    fn slot(state: &mut State, instance: usize) -> &mut ServiceSlot;
}

/// An operation of service `S` while it runs: the fault engine knows it started, and the
/// service is freed when it ends — through [`Running::end`], or by the drop of a task that
/// panicked or was abandoned.
pub struct Running<S: Service> {
    shared: Arc<Shared>,
    instance: usize,
    ended: bool,
    service: PhantomData<S>,
}

impl<S: Service> Running<S> {
    /// Operation `op` of the service's `instance` starts (its slot was claimed before the
    /// command's answer).
    pub fn start(shared: &Arc<Shared>, op: i64, instance: usize) -> Running<S> {
        shared.field.faults.operation_started(op);
        Running {
            shared: shared.clone(),
            instance,
            ended: false,
            service: PhantomData,
        }
    }

    /// Ends the operation: the fault engine is told, `tidy` clears the service's own state,
    /// the outcome is recorded for the last-error query and the service freed — all under one
    /// lock — and then `urcs` go, in order, to `terminal`.
    pub fn end<F: LastError>(
        mut self,
        terminal: TerminalId,
        outcome: Result<(), F>,
        tidy: impl FnOnce(&mut State),
        urcs: Vec<Vec<u8>>,
    ) {
        self.ended = true;
        self.shared.field.faults.operation_ended();
        {
            let mut state = self.shared.state();
            tidy(&mut state);
            let slot = S::slot(&mut state, self.instance);
            slot.record(outcome);
            slot.release();
        }
        if let Err(f) = outcome {
            tracing::info!(service = S::NAME, terminal, failure = ?f, "operation failed");
        }
        for urc in urcs {
            self.shared.urc(terminal, urc);
        }
    }
}

impl<S: Service> Drop for Running<S> {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.field.faults.operation_ended();
            S::slot(&mut self.shared.state(), self.instance).release();
        }
    }
}
