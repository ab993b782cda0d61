//! AT terminals over TCP: every accepted connection is one more terminal of the same module.

use std::io;

use tokio::net::TcpListener;
use ubx_modem::Modem;
use ubx_terminal::trace::Tracer;

/// Binds `HOST:PORT` (a bare port binds loopback) and prints `tcp://HOST:PORT` with the real port.
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let addr = if addr.contains(':') {
        addr.to_string()
    } else {
        format!("127.0.0.1:{addr}")
    };
    let listener = TcpListener::bind(&addr).await?;
    println!("tcp://{}", listener.local_addr()?);
    Ok(listener)
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
