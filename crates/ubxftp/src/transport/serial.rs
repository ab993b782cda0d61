//! An AT terminal on a real serial port.

use tokio_serial::{SerialPortBuilderExt, SerialStream};
use ubx_modem::Modem;
use ubx_modem::trace::Tracer;

pub fn open(dev: &str, baud: u32) -> tokio_serial::Result<SerialStream> {
    tokio_serial::new(dev, baud).open_native_async()
}

pub async fn serve(port: SerialStream, modem: Modem, tracer: Option<Tracer>) {
    if let Err(e) = ubx_modem::driver::serve(&modem, port, tracer.as_ref()).await {
        tracing::warn!(error = %e, "serial terminal ended");
    }
}
