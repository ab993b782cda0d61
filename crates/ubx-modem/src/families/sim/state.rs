//! The SIM's part of the module state: its forbidden-PLMN file.

#[derive(Debug)]
pub struct SimState {
    /// EF_FPLMN: 4 PLMNs of 3 bytes, `FF` when empty.
    pub fplmn: Vec<u8>,
}

impl Default for SimState {
    fn default() -> Self {
        SimState {
            fplmn: vec![0xFF; 12],
        }
    }
}
