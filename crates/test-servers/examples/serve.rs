//! Start one test server and keep it running until Enter is pressed (manual debugging):
//! `cargo run -p test-servers --example serve -- proftpd [tls] [ipv6]`.

use std::io::BufRead;

use test_servers::{Kind, ServerOptions, start_blocking};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = match args.first().map(String::as_str) {
        Some("vsftpd") => Kind::Vsftpd,
        Some("pure-ftpd") => Kind::PureFtpd,
        Some("proftpd") => Kind::Proftpd,
        Some("pyftpdlib") => Kind::Pyftpdlib,
        Some("libunftp") => Kind::Libunftp,
        other => {
            eprintln!(
                "usage: serve vsftpd|pure-ftpd|proftpd|pyftpdlib|libunftp [tls] [ipv6] (got {other:?})"
            );
            std::process::exit(2);
        }
    };
    let opts = ServerOptions {
        tls: args.iter().any(|a| a == "tls"),
        ipv6: args.iter().any(|a| a == "ipv6"),
        ..Default::default()
    };
    match start_blocking(kind, opts) {
        Ok(server) => {
            println!("{server:#?}");
            println!("press Enter to stop");
            let _ = std::io::stdin().lock().lines().next();
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
