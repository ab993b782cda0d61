//! The `+FOPEN` handles, module-wide.

use std::collections::BTreeMap;

use ubx_at::CmeError;

use crate::module::ids::TerminalId;

/// One `+FOPEN` handle: a file name and a position.
#[derive(Debug, Clone)]
pub struct OpenFile {
    pub name: String,
    pub position: u64,
    pub terminal: TerminalId,
}

/// Open handles, module-wide.
#[derive(Debug, Default)]
pub struct FsState {
    pub handles: BTreeMap<i64, OpenFile>,
}

impl FsState {
    /// The open file behind `handle`; an unknown handle is `+CME ERROR: invalid index`.
    pub(crate) fn open(&mut self, handle: i64) -> Result<&mut OpenFile, CmeError> {
        self.handles.get_mut(&handle).ok_or(CmeError::InvalidIndex)
    }
}
