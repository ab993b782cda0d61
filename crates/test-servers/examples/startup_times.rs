//! Measures how long `start_blocking` takes per server kind (spawn + config + first `220`), plain
//! and TLS: `cargo run -p test-servers --release --example startup_times [rounds]`.

use std::time::{Duration, Instant};

use test_servers::{Kind, ServerOptions, start_blocking};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    // The shared certificate is made once per machine; do not count that in the TLS figures.
    if let Err(e) = test_servers::tls_files() {
        eprintln!("certificate: {e}");
        std::process::exit(1);
    }
    println!(
        "{:<10} {:>5} {:>10} {:>10} {:>10}",
        "kind", "tls", "min", "median", "max"
    );
    for kind in Kind::ALL {
        for tls in [false, true] {
            let mut times: Vec<Duration> = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t0 = Instant::now();
                match start_blocking(
                    kind,
                    ServerOptions {
                        tls,
                        ..Default::default()
                    },
                ) {
                    Ok(server) => {
                        times.push(t0.elapsed());
                        drop(server);
                    }
                    Err(e) => {
                        eprintln!("{kind}: {e}");
                        std::process::exit(1);
                    }
                }
            }
            times.sort();
            println!(
                "{:<10} {:>5} {:>10.1?} {:>10.1?} {:>10.1?}",
                kind.name(),
                tls,
                times[0],
                times[times.len() / 2],
                times[times.len() - 1]
            );
        }
    }
}
