//! The names and the plain file operations of the power-cut rules ([`super::durable`]): where
//! the hidden files live, flushing a folder, and the start-up clean-up. Below the file system,
//! it knows paths only.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// Names starting with this prefix are reserved for the emulator's internal files (such as the
/// hidden FOTA image): users can neither create, read, list nor delete them.
pub const RESERVED_PREFIX: &str = ".ubxftp";

/// Host file name of the hidden FOTA image (inside the same folder, under the reserved prefix, so
/// that it is a single path component opened with `O_NOFOLLOW` like every other file).
pub(super) const FOTA_FILE_NAME: &str = ".ubxftp-fota";

/// Hidden partial of an interrupted retrieve, resumable: `<prefix><md5 of the name>` (a hash, so
/// that a 248-byte name still makes a host file name under 255 bytes).
pub(super) const PART_PREFIX: &str = ".ubxftp-part-";
/// Hidden staged file of a write that cannot be resumed; removed at start-up.
pub(super) const TEMP_PREFIX: &str = ".ubxftp-tmp-";
/// Undo record of an append in progress.
pub(super) const JOURNAL_PREFIX: &str = ".ubxftp-append-";
/// The FOTA image while it downloads.
pub(super) const FOTA_PART_NAME: &str = ".ubxftp-fota-part";

/// What a staged write leaves when it ends without `FileWriter::commit` (a failure, a cut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// The bytes stay in a hidden partial that a resume continues (an FTP retrieve).
    Resumable,
    /// Nothing can continue them: a failure discards them, a start-up removes them (an HTTP
    /// response).
    Discarded,
}

/// Where a staged writer puts its file when it commits.
#[derive(Debug)]
pub(super) struct Stage {
    /// The hidden file being written.
    pub(super) part: PathBuf,
    /// The name it becomes.
    pub(super) target: PathBuf,
}

/// The host name of a hidden file of module file `name`.
pub(super) fn hidden(prefix: &str, name: &str) -> String {
    let digest = Md5::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// Flushes a folder's entries (a rename, a create, a removal) to the disk.
pub(super) fn sync_dir(folder: &Path) -> io::Result<()> {
    std::fs::File::open(folder).and_then(|dir| dir.sync_all())
}

/// Writes a small file and flushes it.
pub(super) fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(data)?;
    file.sync_all()
}

/// At start-up: undoes cut appends, then removes what nothing can use any more. Returns nothing;
/// what fails to go is left (and counted).
pub(super) fn clean_at_start(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut removed = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with(RESERVED_PREFIX) {
            continue;
        }
        let path = entry.path();
        if name.starts_with(JOURNAL_PREFIX) {
            undo_append(root, &path);
        } else if !(name.starts_with(TEMP_PREFIX) || name == FOTA_PART_NAME) {
            continue;
        }
        tracing::info!(file = %name, "start-up: removing what a cut left");
        removed |= std::fs::remove_file(&path).is_ok();
    }
    if removed {
        let _ = sync_dir(root);
    }
}

/// Cuts a file back to the size its undo record holds (or removes it, if the append created it).
fn undo_append(root: &Path, journal: &Path) {
    let Ok(record) = std::fs::read_to_string(journal) else {
        return;
    };
    let Some((before, name)) = record.split_once('\n') else {
        return;
    };
    // The record names a file of this folder, never a path.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return;
    }
    let path = root.join(name);
    let Ok(meta) = std::fs::symlink_metadata(&path) else {
        return;
    };
    if !meta.is_file() {
        return;
    }
    tracing::info!(file = %name, "start-up: undoing an append that a cut interrupted");
    match before.parse::<u64>() {
        Ok(size) if size <= meta.len() => {
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .and_then(|f| f.set_len(size).and_then(|()| f.sync_all()));
        }
        Ok(_) => {}
        Err(_) => {
            let _ = std::fs::remove_file(&path);
        }
    }
}
