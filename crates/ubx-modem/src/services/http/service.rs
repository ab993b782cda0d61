//! The HTTP service as the toolkit knows it.

use crate::module::state::State;
use crate::services::toolkit::ending::Service;
use crate::services::toolkit::slot::ServiceSlot;

/// The HTTP service, as the toolkit knows it: one slot per profile.
pub struct Http;

impl Service for Http {
    const NAME: &'static str = "http";
    fn slot(state: &mut State, instance: usize) -> &mut ServiceSlot {
        &mut state.http.profiles[instance].1
    }
}
