//! `ubxftp demo` (built in the FTP service issue).

use crate::ModuleArgs;
use crate::anyhow_like::Result;

pub async fn run(_module: ModuleArgs) -> Result<()> {
    Err("demo: not built yet".into())
}
