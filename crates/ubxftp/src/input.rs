//! Files the command line names, read with a cap: a path such as `/dev/zero`, a FIFO or a
//! runaway generated file is refused once it passes the cap, never read to the end
//! (docs/SECURITY.md, "Bounds").

use std::io::Read as _;
use std::path::Path;

/// Largest `--faults` file: 100 000 one-line faults for a fleet's modules (the most one process
/// holds) take about 6 MiB; a module's own file holds at most 256.
pub const MAX_FAULTS_FILE: u64 = 16 << 20;

/// Largest `--model-file`: the built-in models are under 10 KiB.
pub const MAX_MODEL_FILE: u64 = 256 << 10;

/// Largest transcript (`script FILE`, `fleet --script FILE`): the largest test transcript is
/// about 11 KiB, and a fleet's script is copied for every module that runs it.
pub const MAX_SCRIPT_FILE: u64 = 1 << 20;

/// Largest fleet report (`report FILE`, `report merge`): 100 000 modules with a long mismatch
/// each stay well under it.
pub const MAX_REPORT_FILE: u64 = 256 << 20;

/// The bytes of the file `path`, given with `flag`, or an error naming the flag, the file and
/// the cap when it holds more than `cap` bytes.
pub fn read_capped(flag: &str, path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let name = |e: String| format!("{flag} {}: {e}", path.display());
    let too_big = || name(format!("larger than {}, the most {flag} reads", size(cap)));
    let file = std::fs::File::open(path).map_err(|e| name(e.to_string()))?;
    // A regular file's size is known before a byte is read.
    if let Ok(meta) = file.metadata()
        && meta.is_file()
        && meta.len() > cap
    {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| name(e.to_string()))?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}

/// [`read_capped`], as UTF-8 text.
pub fn read_text_capped(flag: &str, path: &Path, cap: u64) -> Result<String, String> {
    String::from_utf8(read_capped(flag, path, cap)?).map_err(|e| {
        format!(
            "{flag} {}: not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// `16 MiB`, `256 KiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b.is_multiple_of(1 << 20) => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b.is_multiple_of(1 << 10) => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_past_its_cap_is_refused_naming_flag_file_and_cap() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.toml");
        std::fs::write(&file, vec![b'#'; 2048]).unwrap();
        assert_eq!(read_capped("--faults", &file, 2048).unwrap().len(), 2048);
        let e = read_capped("--faults", &file, 2047).unwrap_err();
        assert!(e.starts_with("--faults ") && e.contains("f.toml"), "{e}");
        assert!(e.contains("larger than 2047 bytes"), "{e}");
        // A device with no end is refused at the cap, not read to its end.
        let e = read_capped("--model-file", Path::new("/dev/zero"), MAX_MODEL_FILE).unwrap_err();
        assert!(e.contains("/dev/zero: larger than 256 KiB"), "{e}");
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        let e = read_text_capped("--script", &file, 10).unwrap_err();
        assert!(e.contains("not UTF-8"), "{e}");
        assert_eq!(size(16 << 20), "16 MiB");
    }
}
