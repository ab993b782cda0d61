//! The names the module gives its parts.

/// Identifies one AT terminal of the module (for URC routing and traces).
pub type TerminalId = u64;
