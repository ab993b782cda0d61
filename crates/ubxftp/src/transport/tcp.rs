//! AT terminals over TCP: every accepted connection is one more terminal of the same module.

use std::io;

use tokio::net::TcpListener;
use ubx_modem::Modem;
use ubx_terminal::trace::Tracer;

/// Binds `HOST:PORT` (a bare port binds loopback) and prints `tcp://HOST:PORT` with the real port.
/// An address that is not loopback needs `remote` (`--tcp-remote`), and is announced by a
/// warning: a terminal has no password, and through it the module connects anywhere.
pub async fn bind(spec: &str, remote: bool) -> Result<TcpListener, String> {
    let addr = if spec.contains(':') {
        spec.to_string()
    } else {
        format!("127.0.0.1:{spec}")
    };
    let fail = |e: io::Error| format!("--tcp {spec}: {e}");
    let listener = TcpListener::bind(&addr).await.map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    exposed("--tcp", spec, local.ip(), remote)?;
    println!("tcp://{local}");
    Ok(listener)
}

/// Refuses terminals on `ip` when it is not loopback and `--tcp-remote` was not given; warns
/// when it was. `flag` and `spec` name the flag as the user wrote it.
pub fn exposed(flag: &str, spec: &str, ip: std::net::IpAddr, remote: bool) -> Result<(), String> {
    if ip.is_loopback() {
        return Ok(());
    }
    if !remote {
        return Err(format!(
            "{flag} {spec}: {ip} is not a loopback address; add --tcp-remote to offer AT \
             terminals to the network"
        ));
    }
    eprintln!(
        "warning: {flag} {spec}: AT terminals are reachable from the network with no password: \
         whoever connects drives the module and can make it open connections to any address"
    );
    Ok(())
}

pub async fn accept_loop(
    listener: TcpListener,
    modem: Modem,
    tracer: Option<Tracer>,
    pace: Option<u32>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (modem, tracer) = (modem.clone(), tracer.clone());
                tokio::spawn(async move {
                    tracing::info!(%peer, "TCP terminal connected");
                    let lines = super::paced(pace);
                    if let Err(e) = ubx_terminal::driver::serve_with_lines(
                        &modem,
                        stream,
                        tracer.as_ref(),
                        lines,
                    )
                    .await
                    {
                        tracing::info!(%peer, error = %e, "TCP terminal ended");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
