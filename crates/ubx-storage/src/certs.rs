//! The module's certificate and key store (`+USECMNG`).
//!
//! Items live as DER files in a hidden folder next to the module file system
//! (`<fs-dir>/.ubxftp-security/<type>/<name>`): the file commands never see them (names starting
//! `.ubxftp` are the emulator's), and they survive a restart with `--fs-dir`. Every item is
//! checked before it is stored — a certificate must parse as X.509; a key must parse as an RSA
//! private key (PKCS#1 or PKCS#8, any size: ubxlib imports a 1024-bit one) or be an EC or
//! Ed25519 key rustls can sign with; an encrypted PKCS#8 key (PBES2, or PBES1
//! `pbeWithMD5AndDES-CBC`) is opened with its password first — and stored as DER whatever form
//! it came in, so its MD5 (what `+USECMNG` prints) is the MD5 of the DER (docs/FIDELITY.md).
//!
//! # What the store guarantees
//!
//! - **Nothing is opened through a symlink or a hard link.** Every operation opens the store
//!   afresh, one path component at a time: `.ubxftp-security` relative to the fs-dir, the type's
//!   folder relative to it, both with `O_NOFOLLOW | O_DIRECTORY`; an item relative to its folder,
//!   only after `fstatat` (not following) found a regular file with one link, with `O_NOFOLLOW |
//!   O_NONBLOCK`, and checked again on the open handle. A symlinked (or foreign) store or type
//!   folder refuses the whole store ([`StoreError::Folder`]). A symlink, a hard link (`nlink` >
//!   1), a folder, a FIFO or a device in an item's place is no item ([`StoreError::Foreign`]):
//!   never listed, read, replaced or removed, and what it points to is never touched. Reading for
//!   TLS ([`Store::read`]) and the MD5 go through the same open.
//! - **Items are the owner's alone**: files 0600, folders 0700, set when they are made and put
//!   right (on the open handle, `fchmod`) whenever the store is opened and finds them otherwise.
//! - **Every write is atomic and durable.** An item is written to a temporary name in its folder
//!   (`.ubxftp-tmp-<name>`, which no item can have), flushed (`fsync`), renamed over its name, and
//!   the folder flushed. A `kill -9` or a power cut leaves the item as it was, or complete. The
//!   temporaries a cut leaves are removed whenever the store is opened ([`Store::recover`] does
//!   only that), under the lock, so never while another write is using them.
//! - **One operation at a time.** Every operation holds an exclusive `flock` on
//!   `.ubxftp-security/.ubxftp-lock` while it runs, so the 16-item check and the write that follows
//!   are one step for every terminal, and for every process sharing the fs-dir.
//! - **Bounded.** An item is at most [`MAX_ITEM_SIZE`] bytes, and is read back no further; an
//!   encrypted key whose key derivation asks for more than real keys do is refused before any
//!   work ([`MAX_PBKDF2_ITERATIONS`], [`MAX_SCRYPT_MEMORY`], [`MAX_SCRYPT_WORK`]).

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FileStat, Mode, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::fs::{check_name, md5_hex};

/// At most this many items, of all types together (SARA-R4 manual: up to 16).
pub const MAX_ITEMS: usize = 16;
/// Largest item accepted (PEM or DER), bytes.
pub const MAX_ITEM_SIZE: usize = 16 * 1024;

/// What an item is (`<type>` of `+USECMNG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    RootCa,
    ClientCert,
    ClientKey,
    ServerCert,
}

impl Kind {
    pub fn from_code(code: i64) -> Option<Kind> {
        Some(match code {
            0 => Kind::RootCa,
            1 => Kind::ClientCert,
            2 => Kind::ClientKey,
            3 => Kind::ServerCert,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            Kind::RootCa => 0,
            Kind::ClientCert => 1,
            Kind::ClientKey => 2,
            Kind::ServerCert => 3,
        }
    }

    /// The tag of `AT+USECMNG=3`'s list.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::RootCa => "CA",
            Kind::ClientCert => "CC",
            Kind::ClientKey => "PK",
            Kind::ServerCert => "SC",
        }
    }

    fn dir(self) -> &'static str {
        self.tag()
    }

    const ALL: [Kind; 4] = [
        Kind::RootCa,
        Kind::ClientCert,
        Kind::ClientKey,
        Kind::ServerCert,
    ];
}

/// Why an item was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("invalid name")]
    Name,
    #[error("not a valid certificate")]
    NotACertificate,
    #[error("not a valid private key")]
    NotAKey,
    #[error("the key is encrypted and the password does not open it")]
    WrongPassword,
    #[error("the store is full")]
    Full,
    #[error("too large")]
    TooLarge,
    #[error("no such item")]
    NotFound,
    /// The item's name is taken by something the store did not write: a symlink, a hard link, a
    /// folder, a FIFO, a device, or a file larger than any item.
    #[error("not a store item (a symlink, a hard link or not a regular file)")]
    Foreign,
    /// The store's folder or a type's folder is a symlink or not a folder.
    #[error("store folder: {0}")]
    Folder(String),
    #[error("store folder: {0}")]
    Io(String),
}

/// One item in `AT+USECMNG=3`'s list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub kind: Kind,
    pub name: String,
    /// Subject and expiry (`YYYY/MM/DD HH:MM:SS`) of certificates.
    pub subject_expiry: Option<(String, String)>,
}

/// The store's folder inside the fs-dir.
const STORE_DIR: &str = ".ubxftp-security";
/// Prefix of an item being written (reserved: no item name starts with `.ubxftp`).
const TEMP_PREFIX: &str = ".ubxftp-tmp-";
/// The file every operation locks, inside the store's folder.
const LOCK_FILE: &str = ".ubxftp-lock";
/// Mode of every file of the store (keys included): the owner's alone.
const FILE_MODE: u32 = 0o600;
/// Mode of the store's folders.
const DIR_MODE: u32 = 0o700;

/// The store. Cheap to create: every call opens the store's folders afresh, checked component
/// by component, and holds its lock while it runs (see the [module documentation](self)).
#[derive(Debug, Clone)]
pub struct Store {
    fs_root: PathBuf,
}

impl Store {
    /// The store that lives next to the module file system in `fs_root`.
    pub fn beside(fs_root: &Path) -> Store {
        Store {
            fs_root: fs_root.to_path_buf(),
        }
    }

    /// Opens the store's folder and takes its lock; `None` when there is no store yet (and
    /// `create` is false). The fs-dir itself is the user's choice and may be reached through a
    /// symlink; nothing under it may.
    fn open(&self, create: bool) -> Result<Option<Opened>, StoreError> {
        if create {
            std::fs::create_dir_all(&self.fs_root).map_err(io_error)?;
        }
        let root = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.fs_root)
        {
            Ok(root) => root,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(e)),
        };
        let Some(folder) = open_dir(&root, STORE_DIR, STORE_DIR, create)? else {
            return Ok(None);
        };
        let lock = open_lock(&folder)?;
        lock.lock().map_err(io_error)?;
        Ok(Some(Opened {
            folder,
            _lock: lock,
        }))
    }

    /// [`Store::open`] with `create`, which cannot answer `None`.
    fn open_created(&self) -> Result<Opened, StoreError> {
        self.open(true)?
            .ok_or_else(|| StoreError::Folder(format!("{STORE_DIR} vanished")))
    }

    /// Opens the store once without doing anything else: every folder's mode is put right and
    /// the temporaries of a write that was cut are removed. Every operation does this too; this
    /// is for start-up.
    pub fn recover(&self) -> Result<(), StoreError> {
        let Some(opened) = self.open(false)? else {
            return Ok(());
        };
        for kind in Kind::ALL {
            opened.kind_dir(kind, false)?;
        }
        Ok(())
    }

    /// Checks and stores an item given as PEM or DER; returns the MD5 (hex) of the DER stored.
    /// An encrypted PKCS#8 key is opened with `password` and stored decrypted. An item of the
    /// same type and name is replaced. The store is unchanged on any error, and at a cut the
    /// item is either as it was or complete.
    pub fn import(
        &self,
        kind: Kind,
        name: &[u8],
        data: &[u8],
        password: Option<&[u8]>,
    ) -> Result<String, StoreError> {
        let name = check_item_name(name)?;
        if data.len() > MAX_ITEM_SIZE {
            return Err(StoreError::TooLarge);
        }
        // The checks (and a key's decryption) run before the lock is taken.
        let der = match kind {
            Kind::ClientKey => key_der(data, password)?,
            _ => certificate_der(data)?,
        };
        let opened = self.open_created()?;
        let dir = opened.kind_dir_created(kind)?;
        // The count and the write under one lock: two terminals cannot both add a 16th item.
        match entry(&dir, name)? {
            Entry::Foreign => return Err(StoreError::Foreign),
            Entry::Absent if opened.count()? >= MAX_ITEMS => return Err(StoreError::Full),
            Entry::Absent | Entry::Item => {}
        }
        write_item(&dir, name, &der)?;
        Ok(md5_hex(&der))
    }

    /// The DER of an item.
    pub fn read(&self, kind: Kind, name: &str) -> Result<Vec<u8>, StoreError> {
        let name = check_item_name(name.as_bytes())?;
        let Some(opened) = self.open(false)? else {
            return Err(StoreError::NotFound);
        };
        let Some(dir) = opened.kind_dir(kind, false)? else {
            return Err(StoreError::NotFound);
        };
        read_item(&dir, name)
    }

    /// Every item of one type with its DER, by name (foreign entries left out): the roots a
    /// security profile trusts when it names none.
    pub fn all(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let Some(opened) = self.open(false)? else {
            return Ok(Vec::new());
        };
        match opened.kind_dir(kind, false)? {
            Some(dir) => items(&dir),
            None => Ok(Vec::new()),
        }
    }

    pub fn md5(&self, kind: Kind, name: &[u8]) -> Result<String, StoreError> {
        let name = check_item_name(name)?;
        self.read(kind, name).map(|der| md5_hex(&der))
    }

    pub fn remove(&self, kind: Kind, name: &[u8]) -> Result<(), StoreError> {
        let name = check_item_name(name)?;
        let Some(opened) = self.open(false)? else {
            return Err(StoreError::NotFound);
        };
        let Some(dir) = opened.kind_dir(kind, false)? else {
            return Err(StoreError::NotFound);
        };
        match entry(&dir, name)? {
            Entry::Absent => Err(StoreError::NotFound),
            Entry::Foreign => Err(StoreError::Foreign),
            Entry::Item => {
                unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).map_err(io_error)?;
                dir.sync_all().map_err(io_error)
            }
        }
    }

    /// Every item, by type then name.
    pub fn list(&self) -> Result<Vec<Listed>, StoreError> {
        let Some(opened) = self.open(false)? else {
            return Ok(Vec::new());
        };
        let mut listed = Vec::new();
        for kind in Kind::ALL {
            let Some(dir) = opened.kind_dir(kind, false)? else {
                continue;
            };
            for (name, der) in items(&dir)? {
                let subject_expiry = match kind {
                    Kind::ClientKey => None,
                    _ => subject_and_expiry(&der),
                };
                listed.push(Listed {
                    kind,
                    name,
                    subject_expiry,
                });
            }
        }
        Ok(listed)
    }
}

/// The store's folder, open and locked until dropped.
struct Opened {
    folder: File,
    /// Holds the `flock`; closing it releases the lock.
    _lock: File,
}

impl Opened {
    /// A type's folder (made if `create`), checked, with the leftovers of a cut write swept.
    fn kind_dir(&self, kind: Kind, create: bool) -> Result<Option<File>, StoreError> {
        let shown = format!("{STORE_DIR}/{}", kind.dir());
        let Some(dir) = open_dir(&self.folder, kind.dir(), &shown, create)? else {
            return Ok(None);
        };
        sweep(&dir)?;
        Ok(Some(dir))
    }

    fn kind_dir_created(&self, kind: Kind) -> Result<File, StoreError> {
        self.kind_dir(kind, true)?
            .ok_or_else(|| StoreError::Folder(format!("{STORE_DIR}/{} vanished", kind.dir())))
    }

    /// How many items the store holds, of all types: what [`Store::list`] would list.
    fn count(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for kind in Kind::ALL {
            if let Some(dir) = self.kind_dir(kind, false)? {
                count += items(&dir)?.len();
            }
        }
        Ok(count)
    }
}

fn io_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

/// Opens (making it first if `create`) the folder `name` inside `parent`, never through a
/// symlink, and gives it mode 0700. `shown` names it in an error.
fn open_dir(
    parent: &File,
    name: &str,
    shown: &str,
    create: bool,
) -> Result<Option<File>, StoreError> {
    if create {
        match mkdirat(parent, name, Mode::from_bits_truncate(DIR_MODE)) {
            // The new folder's entry is flushed, as an item's is.
            Ok(()) => parent.sync_all().map_err(io_error)?,
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let dir = match openat(parent, name, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            return Err(StoreError::Folder(format!(
                "{shown} is a symlink or not a folder"
            )));
        }
        Err(e) => return Err(io_error(e)),
    };
    let meta = dir.metadata().map_err(io_error)?;
    set_mode(&dir, &meta, DIR_MODE)?;
    Ok(Some(dir))
}

/// Opens (creating it) the lock file in the store's folder: a regular file with one link.
fn open_lock(folder: &File) -> Result<File, StoreError> {
    let foreign = || StoreError::Folder(format!("{STORE_DIR}/{LOCK_FILE} is not a regular file"));
    if entry(folder, LOCK_FILE)? == Entry::Foreign {
        return Err(foreign());
    }
    let flags = OFlag::O_RDWR
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let file = match openat(
        folder,
        LOCK_FILE,
        flags,
        Mode::from_bits_truncate(FILE_MODE),
    ) {
        Ok(fd) => File::from(fd),
        Err(Errno::ELOOP | Errno::EISDIR | Errno::ENXIO) => return Err(foreign()),
        Err(e) => return Err(io_error(e)),
    };
    let meta = file.metadata().map_err(io_error)?;
    if !(meta.is_file() && meta.nlink() == 1) {
        return Err(foreign());
    }
    set_mode(&file, &meta, FILE_MODE)?;
    Ok(file)
}

/// Gives an open file or folder `mode` if it has another (`fchmod`: never through a name).
fn set_mode(file: &File, meta: &Metadata, mode: u32) -> Result<(), StoreError> {
    if meta.mode() & 0o7777 != mode {
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(io_error)?;
    }
    Ok(())
}

/// What a name in a folder is, not following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Absent,
    /// A regular file with one link.
    Item,
    /// Anything else.
    Foreign,
}

fn entry(dir: &File, name: &str) -> Result<Entry, StoreError> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) if is_single_file(&stat) => Ok(Entry::Item),
        Ok(_) => Ok(Entry::Foreign),
        Err(Errno::ENOENT) => Ok(Entry::Absent),
        Err(e) => Err(io_error(e)),
    }
}

fn is_single_file(stat: &FileStat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFREG && stat.st_nlink == 1
}

/// Opens an item for reading: a regular file with one link, never through a symlink, never
/// blocking on a FIFO; its mode is put right.
fn open_item(dir: &File, name: &str) -> Result<File, StoreError> {
    match entry(dir, name)? {
        Entry::Absent => return Err(StoreError::NotFound),
        Entry::Foreign => return Err(StoreError::Foreign),
        Entry::Item => {}
    }
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let file = match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::ENOENT) => return Err(StoreError::NotFound),
        Err(Errno::ELOOP | Errno::ENXIO | Errno::EISDIR) => return Err(StoreError::Foreign),
        Err(e) => return Err(io_error(e)),
    };
    // Checked again on the handle: the name may have been swapped since `fstatat`.
    let meta = file.metadata().map_err(io_error)?;
    if !(meta.is_file() && meta.nlink() == 1) {
        return Err(StoreError::Foreign);
    }
    set_mode(&file, &meta, FILE_MODE)?;
    Ok(file)
}

/// An item's DER, read through [`open_item`] and no further than [`MAX_ITEM_SIZE`].
fn read_item(dir: &File, name: &str) -> Result<Vec<u8>, StoreError> {
    let file = open_item(dir, name)?;
    let mut der = Vec::new();
    file.take(MAX_ITEM_SIZE as u64 + 1)
        .read_to_end(&mut der)
        .map_err(io_error)?;
    if der.len() > MAX_ITEM_SIZE {
        // Larger than anything the store writes: not an item.
        return Err(StoreError::Foreign);
    }
    Ok(der)
}

/// The names in a folder, sorted.
fn names(dir: &File) -> Result<Vec<String>, StoreError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut listing = Dir::openat(dir, ".", flags, Mode::empty()).map_err(io_error)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry.map_err(io_error)?;
        if let Ok(name) = entry.file_name().to_str()
            && name != "."
            && name != ".."
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The items of a type's folder with their DER, by name: foreign entries and names no item can
/// have are left out.
fn items(dir: &File) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut items = Vec::new();
    for name in names(dir)? {
        if check_item_name(name.as_bytes()).is_err() {
            continue;
        }
        match read_item(dir, &name) {
            Ok(der) => items.push((name, der)),
            Err(StoreError::NotFound | StoreError::Foreign) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(items)
}

/// Removes the temporaries a cut write left in a type's folder (the lock is held, so no write
/// is using them), and puts the items' modes right.
fn sweep(dir: &File) -> Result<(), StoreError> {
    let mut removed = false;
    for name in names(dir)? {
        if name.starts_with(TEMP_PREFIX) {
            // `unlinkat` removes the name itself, whatever it is or points to; a folder of that
            // name is foreign and stays.
            match unlinkat(dir, name.as_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) => removed = true,
                Err(Errno::ENOENT | Errno::EISDIR | Errno::EPERM) => {}
                Err(e) => return Err(io_error(e)),
            }
        } else if check_item_name(name.as_bytes()).is_ok() {
            let wrong_mode = matches!(
                fstatat(dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW),
                Ok(stat) if is_single_file(&stat) && stat.st_mode & 0o7777 != FILE_MODE
            );
            if wrong_mode {
                match open_item(dir, &name) {
                    Ok(_) | Err(StoreError::NotFound | StoreError::Foreign) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if removed {
        dir.sync_all().map_err(io_error)?;
    }
    Ok(())
}

/// Writes an item atomically and durably: a new temporary (mode 0600) in the same folder,
/// flushed, renamed over the name, the folder flushed. On an error the temporary is removed and
/// the name keeps what it held.
fn write_item(dir: &File, name: &str, der: &[u8]) -> Result<(), StoreError> {
    let temp = format!("{TEMP_PREFIX}{name}");
    // Whatever sits at the temporary name (a leftover, something planted) goes first: the new
    // file must be made by this write (`O_EXCL`), never opened through what was there.
    match unlinkat(dir, temp.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(io_error(e)),
    }
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        dir,
        temp.as_str(),
        flags,
        Mode::from_bits_truncate(FILE_MODE),
    )
    .map_err(io_error)?;
    let mut file = File::from(fd);
    let written = (|| -> Result<(), StoreError> {
        let meta = file.metadata().map_err(io_error)?;
        set_mode(&file, &meta, FILE_MODE)?;
        file.write_all(der).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        renameat(dir, temp.as_str(), dir, name).map_err(io_error)?;
        dir.sync_all().map_err(io_error)
    })();
    if written.is_err() {
        let _ = unlinkat(dir, temp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    written
}

/// Checks an item name as the module checks file names.
pub fn check_item_name(name: &[u8]) -> Result<&str, StoreError> {
    check_name(name).map_err(|_| StoreError::Name)
}

/// The PEM label of a stored key (its DER says which form it is).
pub fn key_label(der: &[u8]) -> &'static str {
    match PrivateKeyDer::try_from(der.to_vec()) {
        Ok(PrivateKeyDer::Pkcs1(_)) => "RSA PRIVATE KEY",
        Ok(PrivateKeyDer::Sec1(_)) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    }
}

/// A certificate as DER: the first `CERTIFICATE` of a PEM text, or DER as it is.
fn certificate_der(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    let der = if looks_like_pem(data) {
        let mut reader = data;
        match rustls_pemfile::certs(&mut reader).next() {
            Some(Ok(cert)) => cert.to_vec(),
            _ => return Err(StoreError::NotACertificate),
        }
    } else {
        data.to_vec()
    };
    match X509Certificate::from_der(&der) {
        Ok(([], _)) => Ok(der),
        _ => Err(StoreError::NotACertificate),
    }
}

/// A private key as DER (PKCS#8, PKCS#1 or SEC1) that [`key_parses`]. An encrypted PKCS#8 key
/// (`ENCRYPTED PRIVATE KEY`, PBES2 or PBES1 `pbeWithMD5AndDES-CBC`) is decrypted with
/// `password` first.
fn key_der(data: &[u8], password: Option<&[u8]>) -> Result<Vec<u8>, StoreError> {
    let decrypted;
    let data = if looks_like_pem(data) && contains(data, b"ENCRYPTED PRIVATE KEY") {
        let der = pem_body(data, "ENCRYPTED PRIVATE KEY").ok_or(StoreError::NotAKey)?;
        decrypted = decrypt_pkcs8(&der, password.unwrap_or_default())?;
        &decrypted[..]
    } else if looks_like_pem(data) && contains(data, b"ENCRYPTED") {
        // Legacy OpenSSL encryption (`Proc-Type: 4,ENCRYPTED`): not supported.
        return Err(StoreError::NotAKey);
    } else if !looks_like_pem(data) && pkcs8::EncryptedPrivateKeyInfo::try_from(data).is_ok() {
        decrypted = decrypt_pkcs8(data, password.unwrap_or_default())?;
        &decrypted[..]
    } else {
        data
    };
    let key: PrivateKeyDer<'static> = if looks_like_pem(data) {
        let mut reader = data;
        match rustls_pemfile::private_key(&mut reader) {
            Ok(Some(key)) => key,
            _ => return Err(StoreError::NotAKey),
        }
    } else {
        PrivateKeyDer::try_from(data.to_vec()).map_err(|_| StoreError::NotAKey)?
    };
    if !key_parses(&key) {
        return Err(StoreError::NotAKey);
    }
    Ok(key.secret_der().to_vec())
}

/// `rsaEncryption`, the PKCS#8 algorithm of an RSA key.
const RSA_ENCRYPTION: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Whether a private key is one the store takes: an RSA key whose PKCS#1 structure parses
/// ([`rsa_key_parses`]), bare or inside PKCS#8, of any size — modules take the 1024-bit key
/// ubxlib's credential test imports, which rustls (2048 bits and more) cannot sign with — or
/// an EC or Ed25519 key rustls can sign with (P-256, P-384, Ed25519).
fn key_parses(key: &PrivateKeyDer<'_>) -> bool {
    let signable = || rustls::crypto::ring::sign::any_supported_type(key).is_ok();
    match key {
        PrivateKeyDer::Pkcs1(rsa) => rsa_key_parses(rsa.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(der) => {
            match pkcs8::PrivateKeyInfo::try_from(der.secret_pkcs8_der()) {
                Ok(info) if info.algorithm.oid == RSA_ENCRYPTION => {
                    rsa_key_parses(info.private_key)
                }
                Ok(_) => signable(),
                Err(_) => false,
            }
        }
        _ => signable(),
    }
}

/// Whether `der` is a two-prime PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2), by its structure:
/// version 0, then modulus, public and private exponent, both primes, both exponents and the
/// coefficient, each a positive INTEGER, the modulus odd, and nothing after them. The numbers
/// are not checked against each other: the module's store takes what parses.
fn rsa_key_parses(der: &[u8]) -> bool {
    use pkcs8::der::{Decode, Reader, SliceReader, asn1::UintRef};
    let parse = || -> pkcs8::der::Result<bool> {
        let mut reader = SliceReader::new(der)?;
        let sound = reader.sequence(|fields| {
            let version = u8::decode(fields)?;
            let modulus = UintRef::decode(fields)?;
            let mut positive = modulus.as_bytes().last().is_some_and(|b| b & 1 == 1);
            for _ in 0..7 {
                positive &= !UintRef::decode(fields)?.is_empty();
            }
            Ok(version == 0 && positive)
        })?;
        reader.finish(sound)
    };
    parse().unwrap_or(false)
}

/// Most PBKDF2 iterations an imported key may ask for (OpenSSL writes 2048, current guidance is
/// 600 000): more could keep the module busy for minutes.
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// Most memory scrypt may take for an imported key, `128 × N × r` bytes: 32 MiB. OpenSSL's
/// `openssl pkcs8 -topk8 -scrypt` writes N = 2^14, r = 8, p = 1, which is 16 MiB; RFC 7914's
/// examples stay at or below that too, but for its 1 GiB one. The cap allows twice OpenSSL's
/// value and refuses the 2 GiB a 16 KiB key could otherwise ask for.
pub const MAX_SCRYPT_MEMORY: u64 = 32 << 20;
/// Most scrypt work, `128 × N × r × p` bytes mixed (the `p` lanes run one after another): 64 MiB,
/// four times OpenSSL's default.
pub const MAX_SCRYPT_WORK: u64 = 64 << 20;

/// Whether an encrypted key's key derivation is one a real key asks for: PBKDF2 up to
/// [`MAX_PBKDF2_ITERATIONS`], scrypt within [`MAX_SCRYPT_MEMORY`] and [`MAX_SCRYPT_WORK`] (and
/// with parameters scrypt accepts at all: N a power of two above 1, r and p not 0).
fn affordable(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> bool {
    use pkcs8::pkcs5::{EncryptionScheme, pbes2::Kdf};
    let EncryptionScheme::Pbes2(params) = scheme else {
        return false;
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) => p.iteration_count <= MAX_PBKDF2_ITERATIONS,
        Kdf::Scrypt(p) => {
            let (n, r, lanes) = (
                u128::from(p.cost_parameter),
                u128::from(p.block_size),
                u128::from(p.parallelization),
            );
            let memory = 128 * n * r;
            n > 1
                && n.is_power_of_two()
                && r > 0
                && lanes > 0
                && memory <= u128::from(MAX_SCRYPT_MEMORY)
                && memory * lanes <= u128::from(MAX_SCRYPT_WORK)
        }
        _ => false,
    }
}

/// Opens an encrypted PKCS#8 key (DER); the plain PKCS#8 DER. PBES2 goes through `pkcs5`, a
/// key derivation that is not [`affordable`] refused before any work is done; PBES1
/// `pbeWithMD5AndDES-CBC` through [`crate::pbes1`] (at most 65 535 MD5 rounds); other PBES1
/// schemes (MD2, RC2, SHA-1) are refused.
fn decrypt_pkcs8(der: &[u8], password: &[u8]) -> Result<Vec<u8>, StoreError> {
    use pkcs8::pkcs5::{EncryptionScheme, pbes1};
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).map_err(|_| StoreError::NotAKey)?;
    if let EncryptionScheme::Pbes1(algorithm) = &info.encryption_algorithm {
        let data = info.encrypted_data;
        let pbes1::Parameters {
            salt,
            iteration_count,
        } = &algorithm.parameters;
        if algorithm.encryption != pbes1::EncryptionScheme::PbeWithMd5AndDesCbc
            || *iteration_count == 0
            || data.is_empty()
            || !data.len().is_multiple_of(8)
        {
            return Err(StoreError::NotAKey);
        }
        let plain = crate::pbes1::decrypt_md5_des(password, salt, *iteration_count, data)
            .ok_or(StoreError::WrongPassword)?;
        // A wrong password that happens to leave valid padding leaves junk, not a key.
        pkcs8::PrivateKeyInfo::try_from(plain.as_slice()).map_err(|_| StoreError::WrongPassword)?;
        return Ok(plain);
    }
    if !affordable(&info.encryption_algorithm) {
        return Err(StoreError::NotAKey);
    }
    let plain = info
        .decrypt(password)
        .map_err(|_| StoreError::WrongPassword)?;
    Ok(plain.as_bytes().to_vec())
}

/// The base64 body of the first `label` block of a PEM text, decoded.
fn pem_body(data: &[u8], label: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(data).ok()?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn looks_like_pem(data: &[u8]) -> bool {
    contains(data, b"-----BEGIN ")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Subject (RFC 4514 text) and `notAfter` as `YYYY/MM/DD HH:MM:SS` of a DER certificate.
fn subject_and_expiry(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject().to_string().replace('"', "'");
    let t = cert.validity().not_after.to_datetime();
    let expiry = format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Some((subject, expiry))
}

/// A stored certificate, for rustls.
pub fn certificate(der: Vec<u8>) -> CertificateDer<'static> {
    CertificateDer::from(der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A self-signed certificate (PEM) and its key (PKCS#8 DER).
    fn pki() -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["device".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_der())
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    /// A store in a fresh fs-dir holding one root, "root"; and a folder outside it with a file
    /// "secret" that must never change.
    fn store_with_root() -> (tempfile::TempDir, tempfile::TempDir, Store, String) {
        let fs = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"outside").unwrap();
        let store = Store::beside(fs.path());
        let (cert, _) = pki();
        store
            .import(Kind::RootCa, b"root", cert.as_bytes(), None)
            .unwrap();
        (fs, outside, store, cert)
    }

    fn names(store: &Store) -> Vec<String> {
        store.list().unwrap().into_iter().map(|l| l.name).collect()
    }

    #[test]
    fn items_are_0600_in_0700_folders() {
        let fs = tempfile::tempdir().unwrap();
        let store = Store::beside(fs.path());
        let (cert, key) = pki();
        let md5 = store.import(Kind::ClientKey, b"key", &key, None).unwrap();
        store
            .import(Kind::RootCa, b"root", cert.as_bytes(), None)
            .unwrap();
        let folder = fs.path().join(STORE_DIR);
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("PK")), 0o700);
        assert_eq!(mode(&folder.join("CA")), 0o700);
        assert_eq!(mode(&folder.join("PK/key")), 0o600);
        assert_eq!(mode(&folder.join("CA/root")), 0o600);
        assert_eq!(mode(&folder.join(LOCK_FILE)), 0o600);
        assert_eq!(store.md5(Kind::ClientKey, b"key").unwrap(), md5);
        assert_eq!(store.read(Kind::ClientKey, "key").unwrap(), key);
    }

    #[test]
    fn a_store_written_world_readable_is_put_right_when_opened() {
        let fs = tempfile::tempdir().unwrap();
        let (_, key) = pki();
        let folder = fs.path().join(STORE_DIR);
        std::fs::create_dir_all(folder.join("PK")).unwrap();
        std::fs::write(folder.join("PK/key"), &key).unwrap();
        for (path, m) in [
            (folder.clone(), 0o755),
            (folder.join("PK"), 0o755),
            (folder.join("PK/key"), 0o644),
        ] {
            std::fs::set_permissions(&path, Permissions::from_mode(m)).unwrap();
        }
        Store::beside(fs.path()).recover().unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&folder.join("PK")), 0o700);
        assert_eq!(mode(&folder.join("PK/key")), 0o600);
    }

    #[test]
    fn a_symlink_in_an_items_place_is_never_followed() {
        let (fs, outside, store, cert) = store_with_root();
        let secret = outside.path().join("secret");
        let leak = fs.path().join(STORE_DIR).join("CA/leak");
        symlink(&secret, &leak).unwrap();
        let secret_mode = mode(&secret);
        assert_eq!(store.md5(Kind::RootCa, b"leak"), Err(StoreError::Foreign));
        assert_eq!(store.read(Kind::RootCa, "leak"), Err(StoreError::Foreign));
        assert_eq!(
            store.import(Kind::RootCa, b"leak", cert.as_bytes(), None),
            Err(StoreError::Foreign)
        );
        assert_eq!(
            store.remove(Kind::RootCa, b"leak"),
            Err(StoreError::Foreign)
        );
        assert_eq!(names(&store), ["root"]);
        assert_eq!(std::fs::read(&secret).unwrap(), b"outside");
        assert_eq!(mode(&secret), secret_mode);
        assert!(std::fs::symlink_metadata(&leak).unwrap().is_symlink());
    }

    #[test]
    fn a_hard_link_in_an_items_place_is_never_opened() {
        let (fs, outside, store, cert) = store_with_root();
        let secret = outside.path().join("secret");
        let (other, _) = pki();
        let der = certificate_der(other.as_bytes()).unwrap();
        std::fs::write(&secret, &der).unwrap();
        let linked = fs.path().join(STORE_DIR).join("CA/linked");
        if std::fs::hard_link(&secret, &linked).is_err() {
            // Another file system for the temporary folders: plant the link inside instead.
            std::fs::rename(&secret, &linked).unwrap();
            std::fs::hard_link(&linked, &secret).unwrap();
        }
        assert_eq!(store.md5(Kind::RootCa, b"linked"), Err(StoreError::Foreign));
        assert_eq!(
            store.import(Kind::RootCa, b"linked", cert.as_bytes(), None),
            Err(StoreError::Foreign)
        );
        assert_eq!(
            store.remove(Kind::RootCa, b"linked"),
            Err(StoreError::Foreign)
        );
        assert_eq!(names(&store), ["root"]);
        assert_eq!(std::fs::read(&secret).unwrap(), der);
        assert_eq!(std::fs::metadata(&secret).unwrap().nlink(), 2);
    }

    #[test]
    fn a_fifo_or_a_folder_in_an_items_place_is_no_item_and_does_not_block() {
        let (fs, _outside, store, cert) = store_with_root();
        let ca = fs.path().join(STORE_DIR).join("CA");
        nix::unistd::mkfifo(&ca.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        std::fs::create_dir(ca.join("folder")).unwrap();
        for name in ["fifo", "folder"] {
            assert_eq!(
                store.md5(Kind::RootCa, name.as_bytes()),
                Err(StoreError::Foreign)
            );
            assert_eq!(
                store.import(Kind::RootCa, name.as_bytes(), cert.as_bytes(), None),
                Err(StoreError::Foreign)
            );
        }
        assert_eq!(names(&store), ["root"]);
    }

    #[test]
    fn a_file_larger_than_any_item_is_not_read() {
        let (fs, _outside, store, _) = store_with_root();
        let big = fs.path().join(STORE_DIR).join("CA/big");
        std::fs::write(&big, vec![0u8; MAX_ITEM_SIZE + 1]).unwrap();
        assert_eq!(store.md5(Kind::RootCa, b"big"), Err(StoreError::Foreign));
        assert_eq!(names(&store), ["root"]);
    }

    #[test]
    fn a_symlinked_store_folder_refuses_the_store() {
        let fs = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        // A store made elsewhere, and the fs-dir's store folder a symlink to it.
        let elsewhere = Store::beside(outside.path());
        let (cert, _) = pki();
        elsewhere
            .import(Kind::RootCa, b"root", cert.as_bytes(), None)
            .unwrap();
        symlink(outside.path().join(STORE_DIR), fs.path().join(STORE_DIR)).unwrap();
        let before = std::fs::read(outside.path().join(STORE_DIR).join("CA/root")).unwrap();
        let store = Store::beside(fs.path());
        let refused = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Folder(_)));
        assert!(refused(store.list().map(|_| ())));
        assert!(refused(store.md5(Kind::RootCa, b"root").map(|_| ())));
        assert!(refused(store.read(Kind::RootCa, "root").map(|_| ())));
        assert!(refused(store.remove(Kind::RootCa, b"root")));
        assert!(refused(
            store
                .import(Kind::RootCa, b"new", cert.as_bytes(), None)
                .map(|_| ())
        ));
        assert!(refused(store.recover()));
        let ca = outside.path().join(STORE_DIR).join("CA");
        assert_eq!(std::fs::read(ca.join("root")).unwrap(), before);
        assert!(!ca.join("new").exists());
    }

    #[test]
    fn a_symlinked_type_folder_refuses_the_store() {
        let (fs, outside, store, cert) = store_with_root();
        symlink(outside.path(), fs.path().join(STORE_DIR).join("PK")).unwrap();
        let (_, key) = pki();
        assert!(matches!(
            store.import(Kind::ClientKey, b"key", &key, None),
            Err(StoreError::Folder(_))
        ));
        assert!(matches!(store.list(), Err(StoreError::Folder(_))));
        // The other types' folders are sound: their items still read and can be replaced; a new
        // item is refused, since the items cannot be counted.
        assert!(store.md5(Kind::RootCa, b"root").is_ok());
        assert!(
            store
                .import(Kind::RootCa, b"root", cert.as_bytes(), None)
                .is_ok()
        );
        assert!(matches!(
            store.import(Kind::RootCa, b"r2", cert.as_bytes(), None),
            Err(StoreError::Folder(_))
        ));
        let outside_names: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside_names, ["secret"]);
    }

    #[test]
    fn temporaries_a_cut_left_are_removed_when_the_store_is_opened() {
        let (fs, outside, store, cert) = store_with_root();
        let ca = fs.path().join(STORE_DIR).join("CA");
        std::fs::write(ca.join(".ubxftp-tmp-half"), b"half an item").unwrap();
        // One planted as a symlink: the name goes, its target stays.
        symlink(outside.path().join("secret"), ca.join(".ubxftp-tmp-root")).unwrap();
        assert_eq!(names(&store), ["root"]);
        assert!(!ca.join(".ubxftp-tmp-half").exists());
        assert!(std::fs::symlink_metadata(ca.join(".ubxftp-tmp-root")).is_err());
        // And an import whose temporary name is taken writes its own file, not through it.
        symlink(outside.path().join("secret"), ca.join(".ubxftp-tmp-root")).unwrap();
        store
            .import(Kind::RootCa, b"root", cert.as_bytes(), None)
            .unwrap();
        assert_eq!(
            std::fs::read(outside.path().join("secret")).unwrap(),
            b"outside"
        );
        let left: Vec<_> = std::fs::read_dir(&ca)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["root"]);
    }

    #[test]
    fn the_sixteen_item_limit_holds_across_threads() {
        let fs = tempfile::tempdir().unwrap();
        let store = Store::beside(fs.path());
        let (cert, _) = pki();
        for i in 0..MAX_ITEMS - 1 {
            let name = format!("r{i}");
            store
                .import(Kind::RootCa, name.as_bytes(), cert.as_bytes(), None)
                .unwrap();
        }
        // Eight terminals add the 16th item at once: one gets it.
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (store, cert) = (store.clone(), cert.clone());
                    scope.spawn(move || {
                        let name = format!("t{i}");
                        store.import(Kind::RootCa, name.as_bytes(), cert.as_bytes(), None)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || *r == Err(StoreError::Full))
        );
        assert_eq!(store.list().unwrap().len(), MAX_ITEMS);
    }

    /// An encrypted PKCS#8 key (DER) whose key derivation is scrypt with these parameters, and
    /// whose encrypted bytes are junk: only the cost check can judge it without work.
    fn scrypt_key(log_n: u32, r: u16, p: u16) -> Vec<u8> {
        use pkcs8::der::Encode;
        use pkcs8::pkcs5::{EncryptionScheme, pbes2};
        let iv = [7u8; 16];
        let params = pbes2::Parameters {
            kdf: pbes2::Kdf::Scrypt(pbes2::ScryptParams {
                salt: &[1; 16],
                cost_parameter: 1 << log_n,
                block_size: r,
                parallelization: p,
                key_length: Some(32),
            }),
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
        };
        pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: EncryptionScheme::Pbes2(params),
            encrypted_data: &[0; 48],
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn scrypt_costs_beyond_real_keys_are_refused_before_any_work() {
        // 2 GiB (N 2^20, r 16), 64 MiB of memory (N 2^16, r 8), 128 MiB of work (p 8), and
        // parameters scrypt itself refuses.
        for (log_n, r, p) in [(20, 16, 1), (16, 8, 1), (14, 8, 8), (14, 0, 1), (14, 8, 0)] {
            let started = std::time::Instant::now();
            assert_eq!(
                key_der(&scrypt_key(log_n, r, p), Some(b"pw")),
                Err(StoreError::NotAKey),
                "N 2^{log_n}, r {r}, p {p}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        // OpenSSL's default (16 MiB) gets as far as the password.
        assert_eq!(
            key_der(&scrypt_key(14, 8, 1), Some(b"pw")),
            Err(StoreError::WrongPassword)
        );
    }

    /// ubxlib's credential test keys (testdata/README.md).
    const UBXLIB_PBES1: &[u8] = include_bytes!("../testdata/ubxlib-key-1024-pkcs8-pbes1.pem");
    const UBXLIB_PLAIN: &[u8] = include_bytes!("../testdata/ubxlib-key-1024-pkcs1.pem");

    /// Runs `openssl` (a test dependency, scripts/install-test-deps) in `dir`; its stdout.
    fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The PKCS#1 DER inside a plain PKCS#8 DER.
    fn pkcs1_inside(pkcs8_der: &[u8]) -> Vec<u8> {
        let info = pkcs8::PrivateKeyInfo::try_from(pkcs8_der).unwrap();
        assert_eq!(info.algorithm.oid, RSA_ENCRYPTION);
        info.private_key.to_vec()
    }

    #[test]
    fn ubxlibs_1024_bit_key_is_taken() {
        // rustls cannot sign with it (RSA below 2048 bits); the store takes it all the same.
        let der = key_der(UBXLIB_PLAIN, None).unwrap();
        let key = PrivateKeyDer::try_from(der.clone()).unwrap();
        assert!(rustls::crypto::ring::sign::any_supported_type(&key).is_err());
        assert_eq!(key_label(&der), "RSA PRIVATE KEY");
        let fs = tempfile::tempdir().unwrap();
        let store = Store::beside(fs.path());
        let md5 = store
            .import(Kind::ClientKey, b"ubxlib_test_key", UBXLIB_PLAIN, None)
            .unwrap();
        assert_eq!(md5, md5_hex(&der));
    }

    #[test]
    fn ubxlibs_pbes1_key_opens_with_its_password() {
        let der = key_der(UBXLIB_PBES1, Some(b"ubxlib")).unwrap();
        // The same key as the plain one: the PKCS#8 wraps exactly its PKCS#1 DER.
        assert_eq!(pkcs1_inside(&der), key_der(UBXLIB_PLAIN, None).unwrap());
        for wrong in [Some(&b"ubxlib2"[..]), Some(b""), None] {
            assert_eq!(
                key_der(UBXLIB_PBES1, wrong),
                Err(StoreError::WrongPassword),
                "{wrong:?}"
            );
        }
        // The same key as DER.
        let body = pem_body(UBXLIB_PBES1, "ENCRYPTED PRIVATE KEY").unwrap();
        assert_eq!(key_der(&body, Some(b"ubxlib")).unwrap(), der);
    }

    #[test]
    fn keys_openssl_encrypts_with_pbes1_md5_des_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        for bits in ["1024", "2048"] {
            openssl(path, &["genrsa", "-out", "key.pem", bits]);
            let plain = openssl(path, &["pkcs8", "-topk8", "-nocrypt", "-in", "key.pem"]);
            let v1 = ["pkcs8", "-topk8", "-v1", "PBE-MD5-DES", "-in", "key.pem"];
            let v1 = [&v1[..], &["-passout", "pass:xyz"]].concat();
            // OpenSSL 3 keeps DES in its legacy provider.
            let legacy = [&v1[..], &["-provider", "legacy", "-provider", "default"]].concat();
            let encrypted = openssl(path, &legacy);
            let der = openssl(path, &[&legacy[..], &["-outform", "DER"]].concat());
            assert!(contains(&encrypted, b"ENCRYPTED PRIVATE KEY"));
            let expected = key_der(&plain, None).unwrap();
            assert_eq!(
                key_der(&encrypted, Some(b"xyz")).unwrap(),
                expected,
                "{bits}"
            );
            assert_eq!(key_der(&der, Some(b"xyz")).unwrap(), expected, "{bits}");
            assert_eq!(
                key_der(&encrypted, Some(b"xy")),
                Err(StoreError::WrongPassword)
            );
        }
    }

    #[test]
    fn pbes1_schemes_other_than_md5_des_and_broken_parameters_are_not_keys() {
        use pkcs8::der::Encode;
        use pkcs8::pkcs5::{EncryptionScheme, pbes1};
        let encrypted = |encryption, iteration_count, data: &[u8]| {
            let algorithm = pbes1::Algorithm {
                encryption,
                parameters: pbes1::Parameters {
                    salt: [1; 8],
                    iteration_count,
                },
            };
            pkcs8::EncryptedPrivateKeyInfo {
                encryption_algorithm: EncryptionScheme::Pbes1(algorithm),
                encrypted_data: data,
            }
            .to_der()
            .unwrap()
        };
        let md5_des = pbes1::EncryptionScheme::PbeWithMd5AndDesCbc;
        for (scheme, count, data) in [
            (
                pbes1::EncryptionScheme::PbeWithSha1AndDesCbc,
                2048,
                &[0u8; 16][..],
            ),
            (md5_des, 0, &[0; 16]),
            (md5_des, 2048, &[0; 12]),
        ] {
            assert_eq!(
                key_der(&encrypted(scheme, count, data), Some(b"pw")),
                Err(StoreError::NotAKey),
                "{scheme:?} {count} {}",
                data.len()
            );
        }
        // Sound parameters, junk data: the password is what fails.
        assert_eq!(
            key_der(&encrypted(md5_des, 2048, &[0; 16]), Some(b"pw")),
            Err(StoreError::WrongPassword)
        );
    }

    #[test]
    fn rsa_keys_are_checked_by_their_structure() {
        let pkcs1 = key_der(UBXLIB_PLAIN, None).unwrap();
        assert!(rsa_key_parses(&pkcs1));
        // Trailing bytes, a cut, an even modulus, version 1 (multi-prime, which this check
        // does not take).
        assert!(!rsa_key_parses(&[&pkcs1[..], &[0]].concat()));
        assert!(!rsa_key_parses(&pkcs1[..pkcs1.len() - 1]));
        let mut even = pkcs1.clone();
        // 30 82 02 5b | 02 01 00 | 02 81 81 00 <128 modulus bytes>: the modulus's last byte.
        let modulus_end = 4 + 3 + 3 + 1 + 128 - 1;
        even[modulus_end] &= 0xfe;
        assert!(!rsa_key_parses(&even));
        assert_eq!(key_der(&even, None), Err(StoreError::NotAKey));
        let mut version = pkcs1.clone();
        version[6] = 1;
        assert!(!rsa_key_parses(&version));
    }

    #[test]
    fn a_key_encrypted_as_openssl_does_with_scrypt_opens() {
        use pkcs8::pkcs5::{pbes2, scrypt};
        let (_, key) = pki();
        let (salt, iv) = ([3u8; 16], [9u8; 16]);
        let params = pbes2::Parameters::scrypt_aes256cbc(
            scrypt::Params::new(14, 8, 1, 32).unwrap(),
            &salt,
            &iv,
        )
        .unwrap();
        let encrypted = pkcs8::PrivateKeyInfo::try_from(key.as_slice())
            .unwrap()
            .encrypt_with_params(params, b"s3cret")
            .unwrap();
        assert_eq!(key_der(encrypted.as_bytes(), Some(b"s3cret")).unwrap(), key);
        assert_eq!(
            key_der(encrypted.as_bytes(), Some(b"wrong")),
            Err(StoreError::WrongPassword)
        );
    }
}
