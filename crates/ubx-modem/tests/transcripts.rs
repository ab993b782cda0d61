//! Runs every transcript in tests/transcripts/ against an in-process module: exact bytes, as a
//! host sees them. One test per file, so a failure names its transcript.

mod common;

use std::path::PathBuf;

async fn run(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name);
    if let Err(e) = common::run_file(&path).await {
        panic!("{e}");
    }
}

macro_rules! transcripts {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                run($file).await;
            }
        )*

        /// Every file in the folder has a test above.
        #[test]
        fn every_transcript_is_listed() {
            let listed = [$($file),*];
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
            for entry in std::fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(listed.contains(&name.as_str()), "{name} has no test");
            }
        }
    };
}

transcripts! {
    general => "general.txt",
    framing => "framing.txt",
    pdp => "pdp.txt",
    dns => "dns.txt",
    file_system => "fs.txt",
    file_handles => "fs-handles.txt",
    file_system_full => "fs-full.txt",
    bad_input => "bad-input.txt",
    ftp_profile => "ftp-profile.txt",
    numeric => "numeric.txt",
    ftp_session => "ftp-session.txt",
    ftp_direct_link => "ftp-direct-link.txt",
    network => "network.txt",
    ubxlib_power_on => "ubxlib-power-on.txt",
    security => "security.txt",
}
