//! `ubxftp trace FILE`: a trace (docs/TRACE.md) as text, one line per record in time order.
//!
//! ```text
//!      +15.034 ms  m1 t1   >  cmd     AT+UFTPC=1\r
//!      +15.051 ms  m1 t1   <  result  AT+UFTPC=1\r\r\nOK\r\n
//!      +15.902 ms  m1 ftp  <  ftp     220 libunftp test server ready
//! ```
//!
//! The lanes run host | module | network, so `>` goes right (the host to the module, the
//! module to the network) and `<` left; `*` is an event. The bytes are in the transcript's
//! escapes, as a failure message shows them ([`ubx_transcript::shown`]).

use std::io::Write;

use super::describe::{self, Describer, Shown};

/// The records of `text` (a whole trace) sorted by `t`, each as a line; coloured with `ansi`.
pub fn render(text: &str, ansi: bool) -> Result<Vec<String>, String> {
    let loaded = describe::load(text)?;
    let tool = loaded.header["tool"].as_str().unwrap_or("?");
    let mut out = vec![paint(ansi, "2", &format!("# trace v1 ({tool})"))];
    let mut describer = Describer::default();
    for (t, record) in &loaded.records {
        let shown = describer.describe(record);
        out.push(layout(*t, record["m"].as_u64(), &shown, ansi));
    }
    Ok(out)
}

/// Prints `text` rendered; a reader that stops early (`| head`) is no error.
pub fn print(text: &str, ansi: bool) -> Result<(), String> {
    let lines = render(text, ansi)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines {
        if writeln!(out, "{line}").is_err() {
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
}

fn paint(ansi: bool, colour: &str, text: &str) -> String {
    if ansi {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// `+12.345 ms  m1 t1   >  cmd     AT\r`.
fn layout(t: u64, m: Option<u64>, s: &Shown, ansi: bool) -> String {
    let time = format!("+{}.{:03} ms", t / 1000, t % 1000);
    let module = m.map_or(String::new(), |m| format!("m{m}"));
    let label = format!("{:<7}", s.label);
    let line = format!(
        "{}  {module:<3} {:<4} {}  {}  {}",
        paint(ansi, "2", &format!("{time:>14}")),
        s.who,
        s.arrow,
        paint(ansi, s.kind.colour(), &label),
        paint(ansi, s.kind.colour(), &s.text),
    );
    line.trim_end().to_string()
}
