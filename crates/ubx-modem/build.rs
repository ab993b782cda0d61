//! Embeds the model profiles and lists the transcript suites, both found by folder, so that a new
//! model is one file in `models/` plus one folder in `tests/transcripts/` and no code.
//!
//! - `$OUT_DIR/models.rs`: `MODEL_FILES`, every `models/*.toml` as `(file name, text)`.
//! - `$OUT_DIR/transcript_tests.rs`: one `#[tokio::test]` per `tests/transcripts/<model>/*.txt`,
//!   included by `tests/transcripts.rs`, so a failure names its model and transcript.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(read) => read.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    entries
}

/// A Rust identifier from a file or folder name (`sara-r5/ftp-session.txt` → `sara_r5`).
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));

    let models_dir = manifest.join("models");
    println!("cargo:rerun-if-changed={}", models_dir.display());
    let mut models =
        String::from("/// Every model profile in `models/`, as (file name, TOML text).\n");
    models.push_str("pub static MODEL_FILES: &[(&str, &str)] = &[\n");
    for path in sorted_entries(&models_dir) {
        if path.extension().is_some_and(|e| e == "toml") {
            println!("cargo:rerun-if-changed={}", path.display());
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name");
            writeln!(
                models,
                "    ({name:?}, include_str!({:?})),",
                path.display().to_string()
            )
            .expect("write to String");
        }
    }
    models.push_str("];\n");
    std::fs::write(out.join("models.rs"), models).expect("write models.rs");

    let transcripts_dir = manifest.join("tests/transcripts");
    println!("cargo:rerun-if-changed={}", transcripts_dir.display());
    let mut tests = String::new();
    for model_dir in sorted_entries(&transcripts_dir) {
        if !model_dir.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", model_dir.display());
        let model = model_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 folder name");
        writeln!(
            tests,
            "#[allow(unused_imports)]\nmod {} {{\n    use super::run;",
            ident(model)
        )
        .expect("write to String");
        for file in sorted_entries(&model_dir) {
            if file.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let stem = file
                .file_stem()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name");
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .expect("UTF-8 file name");
            writeln!(
                tests,
                "    #[tokio::test]\n    async fn {}() {{\n        run({model:?}, {name:?}).await;\n    }}",
                ident(stem)
            )
            .expect("write to String");
        }
        tests.push_str("}\n");
    }
    std::fs::write(out.join("transcript_tests.rs"), tests).expect("write transcript_tests.rs");
}
