//! The trace's page: one self-contained HTML file (no CDN, no fetch but the live feed's) with
//! the viewer (`web/trace-viewer`, built into `assets/trace-viewer.js` and committed) and the
//! trace's rows ([`super::describe`]). `ubxftp trace view FILE` writes it with the rows inside;
//! the control API serves it at `/view` with none, and the page follows `/trace/rows`.

use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::describe::{self, Describer};

/// The viewer, built by `web/trace-viewer` (`npm run build`; `scripts/test` checks that the
/// committed bytes are what the lockfile builds).
pub const BUNDLE: &str = include_str!("../../assets/trace-viewer.js");

/// What the page may do: run its one script and its own styles; `connect` is where it may fetch
/// from (nothing for a file, `'self'` when the API serves it).
pub fn content_security_policy(connect: &str) -> String {
    // The bundle is fixed at build time: its hash is computed once per process.
    static HASH: LazyLock<String> =
        LazyLock::new(|| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(BUNDLE)));
    let hash = &*HASH;
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'"
    )
}

/// The page for `config` (`title`, `tool`, `unix_us`, `rows`, `live`: the viewer reads it).
pub fn html(title: &str, config: &Value, connect: &str) -> String {
    // Inside <script>, `</script>` or `<!--` in a string would end or change it: every `<` of
    // the JSON is written `\u003c`, which JSON.parse reads back.
    let config = config.to_string().replace('<', "\\u003c");
    let csp = content_security_policy(connect);
    let title = escape(title);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\
         <title>ubxftp trace: {title}</title></head><body><div id=\"app\"></div>\
         <script id=\"ubx-trace\" type=\"application/json\">{config}</script>\
         <script>{BUNDLE}</script></body></html>\n"
    )
}

/// `text` (a whole trace) as a page titled `title`.
pub fn from_trace(title: &str, text: &str) -> Result<(String, usize), String> {
    let loaded = describe::load(text)?;
    let mut describer = Describer::default();
    let rows: Vec<Value> = loaded
        .records
        .iter()
        .map(|(t, r)| describer.describe(r).row(*t, r["m"].as_u64()))
        .collect();
    let count = rows.len();
    let config = json!({
        "title": title,
        "tool": loaded.header["tool"],
        "unix_us": loaded.header["unix_us"],
        "rows": rows,
        "live": null,
    });
    Ok((html(title, &config, "'none'"), count))
}

/// The page the control API serves: no rows; it follows `rows_url`.
pub fn live(title: &str, rows_url: &str) -> String {
    let config = json!({
        "title": title,
        "tool": format!("ubxftp {}", env!("CARGO_PKG_VERSION")),
        "unix_us": null,
        "rows": [],
        "live": {"url": rows_url, "since": 0},
    });
    html(title, &config, "'self'")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_in_a_trace_ends_the_script_it_is_in() {
        let trace = "{\"k\":\"trace\",\"v\":1,\"tool\":\"t\"}\n\
                     {\"t\":1,\"m\":1,\"k\":\"io\",\"term\":1,\"dir\":\"in\",\"data\":\"</script><!--\"}\n";
        let (page, count) = from_trace("<a>", trace).unwrap();
        assert_eq!(count, 1);
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(!page.contains("<!--"));
        assert!(page.contains("ubxftp trace: &lt;a&gt;"));
        assert!(page.contains("\\u003c/script>\\u003c!--"));
    }

    #[test]
    fn the_bundle_holds_no_end_of_script() {
        assert!(!BUNDLE.to_ascii_lowercase().contains("</script"));
    }
}
