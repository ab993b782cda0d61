//! What the file system promises at a power cut, and how it keeps the promise.
//!
//! A real `kill -9` of the process, an OS crash, or a `module reboot` fault may come at any
//! moment. After it, every module file holds either what it held before the interrupted write or
//! its complete new content, never a fragment that looks complete:
//!
//! - **Whole new contents** (an FTP retrieve, the FOTA image, an HTTP response) are written to a
//!   hidden file beside the name ([`ModuleFs::staged_writer`]) and put in place by
//!   [`FileWriter::commit`]: the file is flushed to the disk, renamed over the name in one step,
//!   and the folder flushed. Until then the name holds its old file, or nothing.
//! - **An interrupted retrieve** keeps what arrived in its hidden *partial* ([`Leftover::Resumable`]),
//!   which a resume (`<retrieving_mode>` 1) continues, in this process or after a restart.
//!   Deleting the name, or a new retrieve of it, discards the partial. Partials count against the
//!   capacity, as the real module's hidden files do.
//! - **An append** (`AT+UDWNFILE`) writes an undo record first (the file's size before it); the
//!   record is removed once the appended bytes are on the disk. At start-up a record still there
//!   means the append was cut: the file is cut back to that size (or removed, if the append
//!   created it).
//! - **At start-up** the leftovers no resume can use are removed: staged files of HTTP responses,
//!   an unfinished FOTA image (which download it was is volatile state, so it cannot be resumed
//!   after a restart), and the undo records, after undoing.
//!
//! A file system in a temporary folder ([`ModuleFs::temporary`]) is gone after a crash anyway:
//! it skips the flushes and the undo records, and only renames.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::layout::{
    FOTA_FILE_NAME, FOTA_PART_NAME, JOURNAL_PREFIX, Leftover, PART_PREFIX, Stage, TEMP_PREFIX,
    hidden, sync_dir, write_synced,
};
use super::{Entry, FileWriter, FsError, ModuleFs, entry_at};

impl ModuleFs {
    /// Whether writes must survive an OS crash: not for a temporary folder.
    pub(super) fn durable(&self) -> bool {
        self.shared._temporary.is_none()
    }

    fn hidden_path(&self, prefix: &str, name: &str) -> PathBuf {
        self.shared.root.join(hidden(prefix, name))
    }

    /// Where a resumed retrieve of `name` continues: after the bytes of its hidden partial, or,
    /// with none, after the file's own bytes (0 when there is no file).
    pub fn resume_offset(&self, name: impl AsRef<[u8]>) -> Result<u64, FsError> {
        let path = self.path_of(name.as_ref())?;
        let name = self.check_name(name.as_ref())?;
        if let Entry::File { size } = entry_at(&self.hidden_path(PART_PREFIX, name))? {
            return Ok(size);
        }
        match entry_at(&path)? {
            Entry::File { size } => Ok(size),
            Entry::Absent | Entry::Other => Ok(0),
        }
    }

    /// A writer of a whole new content for `name`, written beside it and put in place by
    /// [`FileWriter::commit`]; see the [`fs`](super) documentation, "the power cut".
    ///
    /// `resume` continues the hidden partial of an interrupted retrieve; with none it continues
    /// the file itself, in place (the host said the file is the start of the remote one).
    pub fn staged_writer(
        &self,
        name: impl AsRef<[u8]>,
        leftover: Leftover,
        resume: bool,
    ) -> Result<FileWriter, FsError> {
        let target = self.path_of(name.as_ref())?;
        let name = self.check_name(name.as_ref())?;
        if let Entry::Other = entry_at(&target)? {
            return Err(FsError::NotRegularFile);
        }
        let prefix = match leftover {
            Leftover::Resumable => PART_PREFIX,
            Leftover::Discarded => TEMP_PREFIX,
        };
        let part = self.hidden_path(prefix, name);
        if resume && !matches!(entry_at(&part)?, Entry::File { .. }) {
            return self.writer_at(&target, true);
        }
        let mut writer = self.writer_at(&part, resume)?;
        writer.stage = Some(Stage { part, target });
        Ok(writer)
    }

    /// The FOTA image's writer: into its hidden partial, put in place as the image by
    /// [`FileWriter::commit`]. `resume` continues the partial.
    pub fn fota_writer(&self, resume: bool) -> Result<FileWriter, FsError> {
        let part = self.fota_path_of(FOTA_PART_NAME);
        let mut writer = self.writer_at(&part, resume)?;
        writer.stage = Some(Stage {
            part,
            target: self.fota_path_of(FOTA_FILE_NAME),
        });
        Ok(writer)
    }

    /// Bytes of an unfinished FOTA image; 0 when none.
    pub fn fota_partial_size(&self) -> Result<u64, FsError> {
        match entry_at(&self.fota_path_of(FOTA_PART_NAME))? {
            Entry::File { size } => Ok(size),
            Entry::Absent | Entry::Other => Ok(0),
        }
    }

    /// Removes an unfinished FOTA image (nothing can resume it any more: a reboot forgot which
    /// download it was).
    pub fn fota_discard_partial(&self) -> Result<(), FsError> {
        self.remove_hidden(&self.fota_path_of(FOTA_PART_NAME))
    }

    /// Removes the hidden partials of `name`; whether there was one.
    pub(super) fn discard_partials(&self, name: &str) -> Result<bool, FsError> {
        let mut any = false;
        for prefix in [PART_PREFIX, TEMP_PREFIX] {
            let path = self.hidden_path(prefix, name);
            if let Entry::File { .. } = entry_at(&path)? {
                self.remove_hidden(&path)?;
                any = true;
            }
        }
        Ok(any)
    }

    /// Removes one hidden file, keeping the space account.
    fn remove_hidden(&self, path: &Path) -> Result<(), FsError> {
        let mut used = self.shared.lock();
        let Entry::File { size } = entry_at(path)? else {
            return Ok(());
        };
        match std::fs::remove_file(path) {
            Ok(()) => *used = used.saturating_sub(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::Io(e)),
        }
        Ok(())
    }

    /// Runs `append` (which writes at the end of `path`, `size_before` its size or `None` if
    /// absent) under an undo record, so that a cut leaves the file as it was.
    pub(super) fn journaled<T>(
        &self,
        path: &Path,
        size_before: Option<u64>,
        append: impl FnOnce() -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        if !self.durable() {
            return append();
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let journal = self.hidden_path(JOURNAL_PREFIX, &name);
        let before = size_before.map_or("-".to_string(), |s| s.to_string());
        write_synced(&journal, format!("{before}\n{name}").as_bytes()).map_err(FsError::Io)?;
        sync_dir(&self.shared.root).map_err(FsError::Io)?;
        let result = append();
        if result.is_ok() {
            std::fs::File::open(path)
                .and_then(|f| f.sync_data())
                .map_err(FsError::Io)?;
            if size_before.is_none() {
                sync_dir(&self.shared.root).map_err(FsError::Io)?;
            }
        }
        // A failed append cut itself back already; either way the record has served.
        let _ = std::fs::remove_file(&journal);
        result
    }
}

impl FileWriter {
    /// Makes what was written the file's content, durably: the data flushed, a staged file
    /// renamed over its name, the folder flushed. A writer opened in place is only flushed.
    pub fn commit(self) -> Result<(), FsError> {
        let durable = self.shared._temporary.is_none();
        if durable {
            self.file.sync_data().map_err(FsError::Io)?;
        }
        let Some(stage) = &self.stage else {
            return Ok(());
        };
        let mut used = self.shared.lock();
        // Deleted meanwhile (`AT+UDELFILE` of the name discards its partial).
        let Entry::File { .. } = entry_at(&stage.part)? else {
            return Err(FsError::NotFound);
        };
        match entry_at(&stage.target)? {
            Entry::Other => return Err(FsError::NotRegularFile),
            Entry::File { size } => *used = used.saturating_sub(size),
            Entry::Absent => {}
        }
        std::fs::rename(&stage.part, &stage.target).map_err(FsError::Io)?;
        drop(used);
        if durable {
            sync_dir(&self.shared.root).map_err(FsError::Io)?;
        }
        Ok(())
    }

    /// Gives up a staged write: its hidden file is removed, the name keeps what it held.
    pub fn discard(self) {
        if let Some(stage) = &self.stage {
            let mut used = self.shared.lock();
            if let Ok(meta) = self.file.metadata()
                && meta.nlink() > 0
                && std::fs::remove_file(&stage.part).is_ok()
            {
                *used = used.saturating_sub(meta.len());
            }
        }
    }
}

impl ModuleFs {
    pub(super) fn fota_path_of(&self, file: &str) -> PathBuf {
        // A lazy file system makes its folder for the image; if that fails, opening the file
        // reports it.
        let _ = self.ensure_root();
        self.shared.root.join(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> ModuleFs {
        ModuleFs::open(dir, 1_000_000).unwrap()
    }

    #[test]
    fn a_staged_write_keeps_the_old_file_until_it_commits() {
        let dir = tempfile::tempdir().unwrap();
        let fs = open(dir.path());
        fs.append("f", b"old complete file").unwrap();
        let mut writer = fs.staged_writer("f", Leftover::Resumable, false).unwrap();
        writer.write_chunk(b"new ").unwrap();
        assert_eq!(fs.read("f").unwrap(), b"old complete file");
        assert_eq!(fs.list().unwrap(), ["f"]);
        // The partial counts against the capacity.
        assert_eq!(fs.used(), 17 + 4);
        writer.write_chunk(b"content").unwrap();
        writer.commit().unwrap();
        assert_eq!(fs.read("f").unwrap(), b"new content");
        assert_eq!(fs.used(), 11);
        assert_eq!(fs.resume_offset("f").unwrap(), 11);
    }

    #[test]
    fn a_cut_retrieve_leaves_a_hidden_partial_that_a_resume_continues_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let fs = open(dir.path());
            let mut writer = fs.staged_writer("dl", Leftover::Resumable, false).unwrap();
            writer.write_chunk(b"first half ").unwrap();
            // Dropped without commit: what a cut leaves.
        }
        let fs = open(dir.path());
        assert!(fs.list().unwrap().is_empty());
        assert_eq!(fs.used(), 11);
        assert_eq!(fs.resume_offset("dl").unwrap(), 11);
        let mut writer = fs.staged_writer("dl", Leftover::Resumable, true).unwrap();
        writer.write_chunk(b"second half").unwrap();
        writer.commit().unwrap();
        assert_eq!(fs.read("dl").unwrap(), b"first half second half");
        assert_eq!(fs.used(), 22);
    }

    #[test]
    fn deleting_the_name_discards_its_partial_and_frees_the_space() {
        let dir = tempfile::tempdir().unwrap();
        let fs = open(dir.path());
        let mut writer = fs.staged_writer("dl", Leftover::Resumable, false).unwrap();
        writer.write_chunk(&[1; 100]).unwrap();
        drop(writer);
        fs.delete("dl").unwrap();
        assert_eq!(fs.used(), 0);
        assert_eq!(fs.resume_offset("dl").unwrap(), 0);
        assert!(matches!(fs.delete("dl"), Err(FsError::NotFound)));
    }

    #[test]
    fn a_discarded_write_leaves_the_name_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let fs = open(dir.path());
        let mut writer = fs.staged_writer("r", Leftover::Discarded, false).unwrap();
        writer.write_chunk(b"half a response").unwrap();
        writer.discard();
        assert!(!fs.exists("r"));
        assert_eq!(fs.used(), 0);
    }

    #[test]
    fn start_up_removes_what_no_resume_can_use_and_undoes_a_cut_append() {
        let dir = tempfile::tempdir().unwrap();
        {
            let fs = open(dir.path());
            fs.append("log", b"kept").unwrap();
            let mut temp = fs.staged_writer("r", Leftover::Discarded, false).unwrap();
            temp.write_chunk(b"half a response").unwrap();
            let mut fota = fs.fota_writer(false).unwrap();
            fota.write_chunk(b"half an image").unwrap();
            std::mem::forget(temp);
            std::mem::forget(fota);
        }
        // An append cut after its undo record and part of its bytes.
        let record = dir.path().join(hidden(JOURNAL_PREFIX, "log"));
        std::fs::write(&record, "4\nlog").unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("log"))
            .unwrap();
        std::io::Write::write_all(&mut file, b" and a fragm").unwrap();
        // And one that created its file.
        std::fs::write(dir.path().join(hidden(JOURNAL_PREFIX, "new")), "-\nnew").unwrap();
        std::fs::write(dir.path().join("new"), b"fragment").unwrap();
        let fs = open(dir.path());
        assert_eq!(fs.read("log").unwrap(), b"kept");
        assert_eq!(fs.list().unwrap(), ["log"]);
        assert_eq!(fs.fota_partial_size().unwrap(), 0);
        assert_eq!(fs.used(), 4);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["log"], "{left:?}");
    }

    #[test]
    fn an_append_leaves_no_undo_record_behind() {
        let dir = tempfile::tempdir().unwrap();
        let fs = open(dir.path());
        fs.append("a", b"one").unwrap();
        fs.append("a", b"two").unwrap();
        assert_eq!(fs.read("a").unwrap(), b"onetwo");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_fota_image_is_replaced_only_when_the_new_one_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let fs = open(dir.path());
        let mut first = fs.fota_writer(false).unwrap();
        first.write_chunk(b"image one").unwrap();
        first.commit().unwrap();
        let mut second = fs.fota_writer(false).unwrap();
        second.write_chunk(b"image").unwrap();
        assert_eq!(fs.fota_size().unwrap(), 9);
        assert_eq!(fs.fota_partial_size().unwrap(), 5);
        second.write_chunk(b" two!").unwrap();
        second.commit().unwrap();
        assert_eq!(fs.fota_size().unwrap(), 10);
        assert_eq!(fs.fota_partial_size().unwrap(), 0);
        assert_eq!(fs.used(), 10);
    }
}
