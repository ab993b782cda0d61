//! The module's file system: a flat set of named files kept in a folder on the host.
//!
//! A real u-blox module has a small flash file system that the host fills with `AT+UDWNFILE`,
//! reads with `AT+URDFILE` / `AT+URDBLOCK` (or, on LEXI-R10, the handle-based `AT+FOPEN`,
//! `AT+FREAD`, `AT+FWRITEHEX`, ...), lists with `AT+ULSTFILE` and empties with `AT+UDELFILE`.
//! The FTP service moves files between that file system and the server (`AT+UFTPC=4` retrieves
//! into it, `AT+UFTPC=5` stores from it), and FOTA (`AT+UFTPC=100`) downloads a firmware image
//! into a hidden area of it. [`ModuleFs`] is that file system in software. It is pure storage:
//! the AT commands are parsed in ubx-modem's `fs` family and call into this type.
//!
//! # Where the files live
//!
//! Each user file is a regular file directly inside one host folder: either a folder the user
//! gives ([`ModuleFs::open`], files persist across restarts, so files can be preloaded by copying
//! them in) or a fresh temporary folder that is removed when the last handle to the file system is
//! dropped ([`ModuleFs::temporary`]). There are no directories: the module's namespace is flat.
//!
//! # Naming rules, and why
//!
//! A name is checked by [`check_name`] before it is ever joined to the folder path, so that no
//! name can resolve outside the folder. A name is refused ([`FsError::InvalidName`]) when it is:
//!
//! - empty, `.` or `..` (they mean directories on the host, not files);
//! - containing `/` or `\` (path separators: the module has no directories, and a separator is
//!   how a name would escape the folder);
//! - containing NUL or any control character (C0 `0x00`–`0x1F`, DEL `0x7F`, C1 `U+0080`–`U+009F`):
//!   they cannot be typed inside a quoted AT string and would corrupt `+ULSTFILE` output;
//! - containing `"`: AT strings have no escape for it, so the name could never be given back to
//!   the module or printed unambiguously in a `+ULSTFILE: "a","b"` list (emulator choice; the
//!   module's allowed character set is not documented);
//! - longer than the model's limit ([`ModuleFs::name_limit`]; [`MAX_FILE_NAME_LEN`] = 63 bytes
//!   unless set): u-blox's own host library ubxlib gives LEXI-R10 a file name limit of 63
//!   characters (`cell/src/u_cell_private.c`) and other u-blox modules 248
//!   ([`LONGEST_FILE_NAME_LEN`]);
//! - not UTF-8 (listing returns text; the AT layer is expected to pass names through as given);
//! - starting with [`RESERVED_PREFIX`] (`.ubxftp`): such names belong to the emulator's internal
//!   files, such as the hidden FOTA image, which the user must neither see nor touch.
//!
//! # Capacity and "NOT ENOUGH FREE SPACE"
//!
//! The total size of all files (user files and the hidden FOTA image, as on the real module whose
//! `AT+ULSTFILE=1` free-space figure includes hidden files) is bounded by a capacity given when the
//! file system is opened. Sizes are logical file sizes (what `AT+ULSTFILE=2` reports), not host
//! disk blocks. Free space is checked *before* anything is written, as u-blox documents for
//! `+UDWNFILE` ("free space checked first → `+CME ERROR: NOT ENOUGH FREE SPACE`"): a write that
//! does not fit fails with [`FsError::NotEnoughSpace`] and leaves the file exactly as it was. A
//! host-disk "no space" error is reported the same way, and an append that fails half-way on a
//! host I/O error is truncated back to the file's previous size.
//!
//! The used size is counted from the real files on disk when the file system is opened (regular
//! files with valid names, plus the emulator's internal files), and then kept up to date by every
//! operation. Files with names the module could not have (too long, control characters, ...) and
//! anything that is not a regular file are ignored: not listed, not counted, never opened.
//!
//! # Symlinks and other foreign entries
//!
//! Someone may place a symlink, a directory, a FIFO or a device in the folder. None of those is a
//! module file: they are never listed, never followed and never opened for their content. Files
//! are opened with `O_NOFOLLOW | O_NONBLOCK` and checked to be regular files on the open handle,
//! so a symlink swapped in at the last moment still fails to open and a FIFO cannot block. Reading,
//! sizing or deleting such a name answers [`FsError::NotFound`]; writing to it answers
//! [`FsError::NotRegularFile`]; the symlink's target is never touched.
//!
//! # Sharing and concurrency
//!
//! [`ModuleFs`] is a cheap handle (`Clone`, `Send`, `Sync`) onto one shared file system, so every
//! terminal of the emulated module can hold one. Every mutation (and every chunk of a streaming
//! write) runs under one internal lock, so two terminals writing the same file never interleave
//! inside a chunk and the used-size account always equals the sum of the files' sizes. A
//! streaming [`FileWriter`] takes the lock once per chunk, never for the whole transfer.
//!
//! # Streaming, interrupted downloads and resume; the power cut
//!
//! An FTP retrieve, the FOTA image and an HTTP response are written through
//! [`ModuleFs::staged_writer`] (or [`ModuleFs::fota_writer`]): into a hidden file beside the name,
//! put in place by [`FileWriter::commit`] (flushed, renamed in one step, the folder flushed). Until
//! then the name keeps its old file, whatever cuts the write: a failure, a full file system, a
//! `module reboot`, a `kill -9` or an OS crash. If the file system fills up, the chunk that does
//! not fit is refused with [`FsError::NotEnoughSpace`] (see [`FileWriter::write_what_fits`]).
//! What an interrupted retrieve received stays in its hidden partial ([`Leftover::Resumable`]),
//! counted against the capacity, and a resume continues from [`ModuleFs::resume_offset`], after a
//! restart too; deleting the name discards it. Appends ([`ModuleFs::append`]) run under an undo
//! record, so a cut one is undone at the next start, which also removes what nothing can resume.
//! [`ModuleFs::create_writer`] is the plain writer, in place.
//!
//! # Handles
//!
//! LEXI-R10's handle-based commands (`+FOPEN`, `+FSEEK`, `+FREAD`, `+FWRITEHEX`, `+FCLOSE`,
//! `+FDELETE`) keep a name and a position per handle; they are meant to be built in the AT layer
//! on top of [`ModuleFs::read_at`] and [`ModuleFs::write_at`].
//!
//! # Example
//!
//! ```
//! use ubx_storage::fs::{FsError, ModuleFs};
//!
//! let fs = ModuleFs::temporary(16)?; // a 16-byte module, removed on drop
//! fs.append("hello.txt", b"Hello")?; // AT+UDWNFILE="hello.txt",5
//! fs.append("hello.txt", b", FTP")?; // +UDWNFILE appends to an existing file
//! assert_eq!(fs.read("hello.txt")?, b"Hello, FTP");
//! assert_eq!(fs.free_space(), 6); // AT+ULSTFILE=1
//!
//! // Does not fit: refused before writing, the file is untouched.
//! assert!(matches!(fs.append("hello.txt", b"1234567"), Err(FsError::NotEnoughSpace)));
//! assert_eq!(fs.size("hello.txt")?, 10);
//!
//! // Names that could leave the folder never reach the host file system.
//! assert!(matches!(fs.read("../etc/passwd"), Err(FsError::InvalidName(_))));
//! assert_eq!(fs.list()?, vec!["hello.txt"]);
//! # Ok::<(), FsError>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use md5::{Digest, Md5};

mod durable;
mod layout;
use layout::FOTA_FILE_NAME;
pub use layout::{Leftover, RESERVED_PREFIX};

/// Longest file name accepted unless the model says otherwise, in bytes: the LEXI-R10 value from
/// u-blox's ubxlib module table (`cell/src/u_cell_private.c`).
pub const MAX_FILE_NAME_LEN: usize = 63;

/// The generic u-blox limit of the same table, which every other model has: no model's files
/// have longer names.
pub const LONGEST_FILE_NAME_LEN: usize = 248;

/// Capacity used when none is configured: 1 GiB.
///
/// The real LEXI-R10's free space is not documented. The capacity is only an accounting limit
/// (nothing is preallocated), so the default is chosen for usefulness rather than realism: it
/// holds a 256 MiB benchmark file, a copy retrieved back under another name and a FOTA image at
/// the same time. Pass a small capacity to exercise `NOT ENOUGH FREE SPACE` paths.
pub const DEFAULT_CAPACITY: u64 = 1024 * 1024 * 1024;

/// Why a file name was refused. See the [module documentation](self) for the reasons behind
/// each rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// The name is `.` or `..`.
    #[error("`.` and `..` are not file names")]
    DotOrDotDot,
    /// The name is longer than the limit.
    #[error("the name is {len} bytes long, the limit is {limit}")]
    TooLong {
        /// Length of the refused name in bytes.
        len: usize,
        /// The limit it exceeds.
        limit: usize,
    },
    /// The name contains `/` or `\`.
    #[error("the name contains a path separator")]
    PathSeparator,
    /// The name contains NUL or another control character.
    #[error("the name contains a control character")]
    ControlCharacter,
    /// The name contains a double quote.
    #[error("the name contains a double quote")]
    Quote,
    /// The name is not valid UTF-8.
    #[error("the name is not valid UTF-8")]
    NotUtf8,
    /// The name starts with [`RESERVED_PREFIX`].
    #[error("names starting with {RESERVED_PREFIX:?} are reserved")]
    Reserved,
}

/// What can go wrong in the module file system. The AT layer maps each variant to a
/// `+CME ERROR` (e.g. [`FsError::NotEnoughSpace`] to "NOT ENOUGH FREE SPACE").
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The file name breaks one of the naming rules.
    #[error("invalid file name: {0}")]
    InvalidName(#[from] NameError),
    /// No module file has that name (a symlink or other non-file entry counts as absent).
    #[error("file not found")]
    NotFound,
    /// The write does not fit in the free space; nothing was written.
    #[error("not enough free space")]
    NotEnoughSpace,
    /// The new name of a rename is already taken.
    #[error("a file with that name already exists")]
    AlreadyExists,
    /// The name is taken on the host by something that is not a regular file (symlink,
    /// directory, FIFO, device); it is never followed nor written through.
    #[error("the name is taken by something that is not a regular file")]
    NotRegularFile,
    /// A read offset lies beyond the end of the file, or an offset plus length overflows.
    #[error("offset beyond the end of the file")]
    InvalidOffset,
    /// A host I/O error.
    #[error("file system I/O error: {0}")]
    Io(#[source] io::Error),
}

/// Converts a host error, recovering an [`FsError`] carried inside it (as produced by the
/// [`Write`] implementation of [`FileWriter`]) and mapping "storage full" to
/// [`FsError::NotEnoughSpace`].
impl From<io::Error> for FsError {
    fn from(error: io::Error) -> Self {
        if error.get_ref().is_some_and(|inner| inner.is::<FsError>()) {
            if let Some(inner) = error.into_inner()
                && let Ok(fs_error) = inner.downcast::<FsError>()
            {
                return *fs_error;
            }
            return FsError::Io(io::Error::other("lost file system error"));
        }
        match error.kind() {
            io::ErrorKind::StorageFull => FsError::NotEnoughSpace,
            _ => FsError::Io(error),
        }
    }
}

/// Wraps an [`FsError`] into an [`io::Error`] of a fitting kind; `FsError::from` gets it back.
impl From<FsError> for io::Error {
    fn from(error: FsError) -> Self {
        match error {
            FsError::Io(inner) => inner,
            other => {
                let kind = match other {
                    FsError::InvalidName(_) | FsError::InvalidOffset => io::ErrorKind::InvalidInput,
                    FsError::NotFound => io::ErrorKind::NotFound,
                    FsError::NotEnoughSpace => io::ErrorKind::StorageFull,
                    FsError::AlreadyExists => io::ErrorKind::AlreadyExists,
                    FsError::NotRegularFile | FsError::Io(_) => io::ErrorKind::Other,
                };
                io::Error::new(kind, other)
            }
        }
    }
}

/// Checks a file name against the module's naming rules and returns it as text.
///
/// Accepts bytes or text, because names arrive from the AT interface as raw bytes.
pub fn check_name(name: &[u8]) -> Result<&str, NameError> {
    check_name_within(name, MAX_FILE_NAME_LEN)
}

/// [`check_name`] with another length limit (a model's).
pub fn check_name_within(name: &[u8], limit: usize) -> Result<&str, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > limit {
        return Err(NameError::TooLong {
            len: name.len(),
            limit,
        });
    }
    let text = std::str::from_utf8(name).map_err(|_| NameError::NotUtf8)?;
    if text == "." || text == ".." {
        return Err(NameError::DotOrDotDot);
    }
    for c in text.chars() {
        if c == '/' || c == '\\' {
            return Err(NameError::PathSeparator);
        }
        if c.is_control() {
            return Err(NameError::ControlCharacter);
        }
        if c == '"' {
            return Err(NameError::Quote);
        }
    }
    if text.starts_with(RESERVED_PREFIX) {
        return Err(NameError::Reserved);
    }
    Ok(text)
}

/// State shared by every handle and writer of one file system.
#[derive(Debug)]
struct Shared {
    root: PathBuf,
    capacity: u64,
    /// Bytes used by all files (user and internal), kept equal to the sum of their sizes.
    used: Mutex<u64>,
    /// Keeps a temporary folder alive; removing it when the last handle goes.
    _temporary: Option<tempfile::TempDir>,
    /// Whether the folder is known to exist (a lazy file system creates it at first use).
    exists: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, u64> {
        // A panic while holding the lock cannot leave the counter half-updated (it is one
        // integer), so a poisoned lock is still usable.
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The emulated module's file system. See the [module documentation](self).
///
/// Cloning gives another handle onto the same files and the same space account.
#[derive(Debug, Clone)]
pub struct ModuleFs {
    shared: Arc<Shared>,
    name_limit: usize,
}

/// Flags added to every open: never follow a symlink in the last path component, never block
/// on a FIFO.
const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

fn open_for_reading(path: &Path) -> Result<File, FsError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
    {
        Ok(file) => file,
        Err(error) => return Err(open_error(error, FsError::NotFound)),
    };
    if !file.metadata().map_err(FsError::Io)?.is_file() {
        return Err(FsError::NotFound);
    }
    Ok(file)
}

/// Opens (creating if `create`) a file for writing, without truncating it.
fn open_for_writing(path: &Path, create: bool) -> Result<File, FsError> {
    let not_a_file = if create {
        FsError::NotRegularFile
    } else {
        FsError::NotFound
    };
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(0o644)
        .custom_flags(OPEN_FLAGS)
        .open(path)
    {
        Ok(file) => file,
        Err(error) => return Err(open_error(error, not_a_file)),
    };
    if !file.metadata().map_err(FsError::Io)?.is_file() {
        return Err(if create {
            FsError::NotRegularFile
        } else {
            FsError::NotFound
        });
    }
    Ok(file)
}

/// Maps an error of `open(2)`: a symlink (`ELOOP` under `O_NOFOLLOW`), a directory or a FIFO
/// without reader becomes `not_a_file`.
fn open_error(error: io::Error, not_a_file: FsError) -> FsError {
    match error.raw_os_error() {
        Some(libc::ENOENT) => FsError::NotFound,
        Some(libc::ELOOP | libc::EISDIR | libc::ENXIO | libc::ENOTDIR) => not_a_file,
        _ => FsError::from(error),
    }
}

/// What sits at a path, without following symlinks.
enum Entry {
    Absent,
    File { size: u64 },
    Other,
}

fn entry_at(path: &Path) -> Result<Entry, FsError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Entry::File { size: meta.len() }),
        Ok(_) => Ok(Entry::Other),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Entry::Absent),
        Err(error) => Err(FsError::Io(error)),
    }
}

impl ModuleFs {
    /// Opens the file system kept in `folder` (created if missing), with `capacity` bytes in
    /// total. Files already in the folder are module files (if their names are valid) and count
    /// against the capacity, even if they exceed it (free space is then 0).
    pub fn open(folder: impl AsRef<Path>, capacity: u64) -> Result<Self, FsError> {
        std::fs::create_dir_all(folder.as_ref()).map_err(FsError::Io)?;
        let root = std::fs::canonicalize(folder.as_ref()).map_err(FsError::Io)?;
        Self::with_root(root, capacity, None)
    }

    /// Creates an empty file system in a fresh temporary folder, removed when the last handle
    /// (including open writers and readers) is dropped.
    pub fn temporary(capacity: u64) -> Result<Self, FsError> {
        let temporary = tempfile::Builder::new()
            .prefix("ubxftp-fs-")
            .tempdir()
            .map_err(FsError::Io)?;
        let root = std::fs::canonicalize(temporary.path()).map_err(FsError::Io)?;
        Self::with_root(root, capacity, Some(temporary))
    }

    /// A file system kept in `folder`, which is created only when a file is first written or
    /// read: a fleet of thousands of modules makes folders only for the modules that use them.
    pub fn lazy(folder: impl AsRef<Path>, capacity: u64) -> Result<Self, FsError> {
        let root = std::path::absolute(folder.as_ref()).map_err(FsError::Io)?;
        let exists = root.is_dir();
        let used = if exists {
            layout::clean_at_start(&root);
            scan_used(&root, MAX_FILE_NAME_LEN)?
        } else {
            0
        };
        Ok(Self {
            shared: Arc::new(Shared {
                root,
                capacity,
                used: Mutex::new(used),
                _temporary: None,
                exists: std::sync::atomic::AtomicBool::new(exists),
            }),
            name_limit: MAX_FILE_NAME_LEN,
        })
    }

    /// Creates the folder of a lazy file system if it is not there yet.
    fn ensure_root(&self) -> Result<(), FsError> {
        use std::sync::atomic::Ordering;
        if !self.shared.exists.load(Ordering::Relaxed) {
            std::fs::create_dir_all(&self.shared.root).map_err(FsError::Io)?;
            self.shared.exists.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn with_root(
        root: PathBuf,
        capacity: u64,
        temporary: Option<tempfile::TempDir>,
    ) -> Result<Self, FsError> {
        layout::clean_at_start(&root);
        let used = scan_used(&root, MAX_FILE_NAME_LEN)?;
        Ok(Self {
            shared: Arc::new(Shared {
                root,
                capacity,
                used: Mutex::new(used),
                _temporary: temporary,
                exists: std::sync::atomic::AtomicBool::new(true),
            }),
            name_limit: MAX_FILE_NAME_LEN,
        })
    }

    /// The host folder holding the files.
    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.shared.capacity
    }

    /// Bytes used by all files, including the hidden FOTA image.
    pub fn used(&self) -> u64 {
        *self.shared.lock()
    }

    /// Bytes still free (what `AT+ULSTFILE=1` reports).
    pub fn free_space(&self) -> u64 {
        self.shared.capacity.saturating_sub(self.used())
    }

    /// The model's longest file name.
    pub fn name_limit(&self) -> usize {
        self.name_limit
    }

    /// Sets the longest file name (a model's); [`MAX_FILE_NAME_LEN`] until set, at most
    /// [`LONGEST_FILE_NAME_LEN`].
    pub fn with_name_limit(mut self, limit: usize) -> Self {
        self.name_limit = limit.clamp(1, LONGEST_FILE_NAME_LEN);
        // Files already in the folder count if this limit lets the module see them.
        if self
            .shared
            .exists
            .load(std::sync::atomic::Ordering::Relaxed)
            && let Ok(used) = scan_used(&self.shared.root, self.name_limit)
        {
            *self.shared.lock() = used;
        }
        self
    }

    /// Checks a name against the naming rules with this file system's length limit.
    pub fn check_name<'a>(&self, name: &'a [u8]) -> Result<&'a str, NameError> {
        check_name_within(name, self.name_limit)
    }

    fn path_of(&self, name: impl AsRef<[u8]>) -> Result<PathBuf, FsError> {
        let name = self.check_name(name.as_ref())?;
        self.ensure_root()?;
        Ok(self.shared.root.join(name))
    }

    /// Names of the user files, sorted (what `AT+ULSTFILE=0` lists). Internal files, symlinks,
    /// directories and entries with invalid names are left out.
    pub fn list(&self) -> Result<Vec<String>, FsError> {
        let mut names = Vec::new();
        if !self
            .shared
            .exists
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(names);
        }
        for entry in std::fs::read_dir(&self.shared.root).map_err(FsError::Io)? {
            let entry = entry.map_err(FsError::Io)?;
            // `file_type` does not follow symlinks.
            if !entry.file_type().map_err(FsError::Io)?.is_file() {
                continue;
            }
            let file_name = entry.file_name();
            if let Ok(name) = self.check_name(file_name.as_encoded_bytes()) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Size of a file in bytes (what `AT+ULSTFILE=2,"<name>"` reports).
    pub fn size(&self, name: impl AsRef<[u8]>) -> Result<u64, FsError> {
        match entry_at(&self.path_of(name)?)? {
            Entry::File { size } => Ok(size),
            Entry::Absent | Entry::Other => Err(FsError::NotFound),
        }
    }

    /// Whether a user file of that name exists.
    pub fn exists(&self, name: impl AsRef<[u8]>) -> bool {
        self.size(name).is_ok()
    }

    /// The whole content of a file (`AT+URDFILE`).
    pub fn read(&self, name: impl AsRef<[u8]>) -> Result<Vec<u8>, FsError> {
        let mut file = open_for_reading(&self.path_of(name)?)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(FsError::Io)?;
        Ok(data)
    }

    /// Up to `len` bytes from `offset` (`AT+URDBLOCK`, `AT+FREAD`). Fewer bytes come back when
    /// the file ends first; none when `offset` is the file size. An offset beyond the end is
    /// [`FsError::InvalidOffset`].
    pub fn read_at(
        &self,
        name: impl AsRef<[u8]>,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, FsError> {
        let mut file = open_for_reading(&self.path_of(name)?)?;
        let size = file.metadata().map_err(FsError::Io)?.len();
        if offset > size {
            return Err(FsError::InvalidOffset);
        }
        let wanted = len.min(size - offset);
        file.seek(SeekFrom::Start(offset)).map_err(FsError::Io)?;
        let mut data = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0));
        file.take(wanted)
            .read_to_end(&mut data)
            .map_err(FsError::Io)?;
        Ok(data)
    }

    /// Appends `data` to a file, creating it if missing (`AT+UDWNFILE`). If it does not fit,
    /// nothing is written and the file (or its absence) is unchanged.
    pub fn append(&self, name: impl AsRef<[u8]>, data: &[u8]) -> Result<(), FsError> {
        let path = self.path_of(name)?;
        self.write_locked(&path, None, data)
    }

    /// Writes `data` at `offset`, creating the file if missing (`AT+UDWNBLOCK`, `AT+FWRITEHEX`).
    ///
    /// Writing inside the file overwrites; writing past the end extends the file, and an offset
    /// beyond the current size fills the gap with zero bytes (as `pwrite(2)` does). The gap
    /// counts against the capacity like written bytes. If the extension does not fit, nothing is
    /// written.
    pub fn write_at(
        &self,
        name: impl AsRef<[u8]>,
        offset: u64,
        data: &[u8],
    ) -> Result<(), FsError> {
        let path = self.path_of(name)?;
        self.write_locked(&path, Some(offset), data)
    }

    /// Shared body of [`append`](Self::append) and [`write_at`](Self::write_at): `offset`
    /// `None` means "at the end".
    fn write_locked(&self, path: &Path, offset: Option<u64>, data: &[u8]) -> Result<(), FsError> {
        let mut used = self.shared.lock();
        let size_before = match entry_at(path)? {
            Entry::File { size } => Some(size),
            Entry::Absent => None,
            Entry::Other => return Err(FsError::NotRegularFile),
        };
        let current = size_before.unwrap_or(0);
        let appending = offset.is_none();
        let offset = offset.unwrap_or(current);
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(FsError::InvalidOffset)?;
        let growth = end.saturating_sub(current);
        if growth > self.shared.capacity.saturating_sub(*used) {
            return Err(FsError::NotEnoughSpace);
        }
        let file = open_for_writing(path, true)?;
        let result = if appending {
            self.journaled(path, size_before, || {
                write_chunk_to(&file, offset, data, &mut used)
            })
        } else {
            write_chunk_to(&file, offset, data, &mut used)
        };
        if result.is_err() && size_before.is_none() {
            // The file did not exist before: leave no empty file behind.
            let _ = std::fs::remove_file(path);
            *used = used.saturating_sub(file.metadata().map(|m| m.len()).unwrap_or(0));
        }
        result
    }

    /// Deletes a file (`AT+UDELFILE`), and the hidden partial of an interrupted retrieve of
    /// it (which is enough for success: it frees the space it held). A writer still open on
    /// either fails on its next chunk.
    pub fn delete(&self, name: impl AsRef<[u8]>) -> Result<(), FsError> {
        let path = self.path_of(name.as_ref())?;
        let partial = self.discard_partials(self.check_name(name.as_ref())?)?;
        let mut used = self.shared.lock();
        let Entry::File { size } = entry_at(&path)? else {
            return if partial {
                Ok(())
            } else {
                Err(FsError::NotFound)
            };
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {
                *used = used.saturating_sub(size);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Err(FsError::NotFound),
            Err(error) => Err(FsError::Io(error)),
        }
    }

    /// Renames a file. The new name must not be taken ([`FsError::AlreadyExists`]); renaming a
    /// file to its own name succeeds and changes nothing.
    pub fn rename(&self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<(), FsError> {
        let from = self.path_of(from)?;
        let to = self.path_of(to)?;
        let _used = self.shared.lock();
        let Entry::File { .. } = entry_at(&from)? else {
            return Err(FsError::NotFound);
        };
        if from == to {
            return Ok(());
        }
        if !matches!(entry_at(&to)?, Entry::Absent) {
            return Err(FsError::AlreadyExists);
        }
        std::fs::rename(&from, &to).map_err(FsError::from)
    }

    /// Opens a streaming writer, for an FTP retrieve into the module. `append: false` empties
    /// the file first (creating it if missing); `append: true` continues at its end (for a
    /// resumed retrieve). See [`FileWriter`] for what happens when space runs out.
    pub fn create_writer(
        &self,
        name: impl AsRef<[u8]>,
        append: bool,
    ) -> Result<FileWriter, FsError> {
        let path = self.path_of(name)?;
        self.writer_at(&path, append)
    }

    fn writer_at(&self, path: &Path, append: bool) -> Result<FileWriter, FsError> {
        let mut used = self.shared.lock();
        if let Entry::Other = entry_at(path)? {
            return Err(FsError::NotRegularFile);
        }
        let file = open_for_writing(path, true)?;
        let size = file.metadata().map_err(FsError::Io)?.len();
        if !append && size > 0 {
            file.set_len(0).map_err(FsError::Io)?;
            *used = used.saturating_sub(size);
        }
        Ok(FileWriter {
            shared: Arc::clone(&self.shared),
            file,
            append,
            position: if append { size } else { 0 },
            written: 0,
            stage: None,
        })
    }

    /// Opens a streaming reader, for an FTP store from the module.
    pub fn open_reader(&self, name: impl AsRef<[u8]>) -> Result<FileReader, FsError> {
        let path = self.path_of(name)?;
        FileReader::open(&path, &self.shared)
    }

    fn fota_path(&self) -> PathBuf {
        self.fota_path_of(FOTA_FILE_NAME)
    }

    /// Opens a streaming reader onto the hidden FOTA image.
    pub fn fota_reader(&self) -> Result<FileReader, FsError> {
        FileReader::open(&self.fota_path(), &self.shared)
    }

    /// Size of the FOTA image; 0 when there is none.
    pub fn fota_size(&self) -> Result<u64, FsError> {
        match entry_at(&self.fota_path())? {
            Entry::File { size } => Ok(size),
            Entry::Absent | Entry::Other => Ok(0),
        }
    }

    /// MD5 of the FOTA image as 32 lowercase hex digits (the form `+UUFTPCR: 100,1,"<md5>"`
    /// reports); `None` when there is no image.
    pub fn fota_md5_hex(&self) -> Result<Option<String>, FsError> {
        let mut reader = match self.fota_reader() {
            Ok(reader) => reader,
            Err(FsError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let mut hasher = Md5::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let count = reader.read(&mut buffer).map_err(FsError::Io)?;
            if count == 0 {
                break;
            }
            hasher.update(&buffer[..count]);
        }
        Ok(Some(hex_lower(&hasher.finalize())))
    }

    /// Removes the FOTA image, and an unfinished one, if any.
    pub fn fota_clear(&self) -> Result<(), FsError> {
        self.fota_discard_partial()?;
        let path = self.fota_path();
        let mut used = self.shared.lock();
        let Entry::File { size } = entry_at(&path)? else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {
                *used = used.saturating_sub(size);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(FsError::Io(error)),
        }
    }
}

/// Sums the sizes of the files the module can see plus its internal files.
fn scan_used(root: &Path, name_limit: usize) -> Result<u64, FsError> {
    let mut used: u64 = 0;
    for entry in std::fs::read_dir(root).map_err(FsError::Io)? {
        let entry = entry.map_err(FsError::Io)?;
        let file_name = entry.file_name();
        let bytes = file_name.as_encoded_bytes();
        // The internal files (the FOTA image, partials) count, as the module's hidden files do.
        let counted = check_name_within(bytes, name_limit).is_ok()
            || bytes.starts_with(RESERVED_PREFIX.as_bytes());
        if !counted {
            continue;
        }
        let meta = std::fs::symlink_metadata(entry.path()).map_err(FsError::Io)?;
        if meta.is_file() {
            used = used.saturating_add(meta.len());
        }
    }
    Ok(used)
}

/// Writes one chunk at `offset` while the caller holds the lock, keeping `used` exact. On an
/// I/O failure, bytes written past the old end are cut off again.
fn write_chunk_to(file: &File, offset: u64, data: &[u8], used: &mut u64) -> Result<(), FsError> {
    let size_before = file.metadata().map_err(FsError::Io)?.len();
    let result = file.write_all_at(data, offset);
    if result.is_err() {
        let _ = file.set_len(size_before);
    }
    let size_after = file.metadata().map(|m| m.len()).unwrap_or(size_before);
    *used = used.saturating_sub(size_before).saturating_add(size_after);
    result.map_err(FsError::from)
}

/// A streaming writer into one module file, counted against the capacity chunk by chunk.
///
/// Each [`write_chunk`](Self::write_chunk) (or [`Write::write`]) call is all-or-nothing: it takes
/// the file system's lock, checks that the growth it causes fits in the free space, writes, and
/// releases the lock. A chunk that does not fit fails with [`FsError::NotEnoughSpace`] and writes
/// nothing; everything written by earlier chunks stays (so a retrieve can be resumed from the
/// file's size). Through the [`Write`] trait the error is an [`io::Error`] of kind
/// [`io::ErrorKind::StorageFull`] from which `FsError::from` recovers the [`FsError`].
///
/// In append mode every chunk goes to the file's current end, so two appending writers never
/// overwrite each other. If the file is deleted while the writer is open, the next chunk fails
/// with [`FsError::NotFound`].
#[derive(Debug)]
pub struct FileWriter {
    shared: Arc<Shared>,
    file: File,
    append: bool,
    position: u64,
    written: u64,
    /// Where a staged writer's file goes at [`commit`](Self::commit).
    stage: Option<layout::Stage>,
}

impl FileWriter {
    /// Writes one chunk; see the type documentation.
    pub fn write_chunk(&mut self, data: &[u8]) -> Result<(), FsError> {
        self.write_limited(data, false)
    }

    /// Like [`write_chunk`](Self::write_chunk), except that a chunk that does not fit is not
    /// refused whole: the part that fits is written, then [`FsError::NotEnoughSpace`] is
    /// returned. For a download, where everything that arrived is worth keeping for a resume.
    pub fn write_what_fits(&mut self, data: &[u8]) -> Result<(), FsError> {
        self.write_limited(data, true)
    }

    /// Checks the space and writes under one hold of the lock, so that no other writer and no
    /// delete changes the free space in between.
    fn write_limited(&mut self, data: &[u8], partial: bool) -> Result<(), FsError> {
        let mut used = self.shared.lock();
        let meta = self.file.metadata().map_err(FsError::Io)?;
        if meta.nlink() == 0 {
            return Err(FsError::NotFound);
        }
        let size = meta.len();
        let offset = if self.append { size } else { self.position };
        offset
            .checked_add(data.len() as u64)
            .ok_or(FsError::InvalidOffset)?;
        // Overwriting bytes of the file costs nothing; only growth past its end counts.
        let room = self.shared.capacity.saturating_sub(*used);
        let fits = size.saturating_sub(offset).saturating_add(room);
        let take = usize::try_from(fits).map_or(data.len(), |f| f.min(data.len()));
        if take < data.len() && !partial {
            return Err(FsError::NotEnoughSpace);
        }
        if take > 0 {
            write_chunk_to(&self.file, offset, &data[..take], &mut used)?;
            self.position = offset + take as u64;
            self.written += take as u64;
        }
        if take < data.len() {
            return Err(FsError::NotEnoughSpace);
        }
        Ok(())
    }

    /// Bytes written through this writer so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Offset at which the next chunk will be written (in append mode: the file's end at the
    /// last chunk).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Flushes the file's data to the host disk.
    pub fn sync(&self) -> Result<(), FsError> {
        self.file.sync_data().map_err(FsError::Io)
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_chunk(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A streaming reader over one module file, for an FTP store from the module.
#[derive(Debug)]
pub struct FileReader {
    file: File,
    len: u64,
    // Keeps a temporary folder alive while the reader is in use.
    _shared: Arc<Shared>,
}

impl FileReader {
    fn open(path: &Path, shared: &Arc<Shared>) -> Result<Self, FsError> {
        let file = open_for_reading(path)?;
        let len = file.metadata().map_err(FsError::Io)?.len();
        Ok(Self {
            file,
            len,
            _shared: Arc::clone(shared),
        })
    }

    /// Size of the file when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file was empty when it was opened.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for FileReader {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.file.seek(position)
    }
}

/// MD5 of bytes as lower-case hex: what the module prints for a FOTA image (`+UUFTPCR: 100`) and
/// a stored credential (`+USECMNG`), and what transcripts check binary data with (`<md5`).
pub fn md5_hex(data: &[u8]) -> String {
    hex_lower(&Md5::digest(data))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
