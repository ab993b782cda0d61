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
    /// Which opening this is: a handle number closed and given out again is another opening.
    pub opening: u64,
}

/// Open handles, module-wide.
#[derive(Debug, Default)]
pub struct FsState {
    pub handles: BTreeMap<i64, OpenFile>,
    /// The number of the next opening.
    pub next_opening: u64,
    /// Per terminal, the handle (and its opening) an `+FWRITEHEX` prompt was given for: the
    /// payload goes to that opening or nowhere.
    pub awaiting: BTreeMap<TerminalId, (i64, u64)>,
}

impl FsState {
    /// Closes every handle onto `name` (the file was deleted).
    pub(crate) fn forget(&mut self, name: &str) {
        self.handles.retain(|_, f| f.name != name);
    }

    /// The open file behind `handle`; an unknown handle is `+CME ERROR: invalid index`.
    pub(crate) fn open(&mut self, handle: i64) -> Result<&mut OpenFile, CmeError> {
        self.handles.get_mut(&handle).ok_or(CmeError::InvalidIndex)
    }
}
