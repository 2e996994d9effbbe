//! The commands' standard output: a reader that went away (`turnout history --follow | head`)
//! ends the command quietly, with status 0, where `println!` would panic.

use std::fmt::Arguments;
use std::io::Write;

/// Writes one line to stdout and flushes it; exits at once (status 0) when the reader is gone.
pub fn line(text: Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}
