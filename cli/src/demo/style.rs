//! Whether the demo may emit ANSI escapes: only to a terminal, and never under `NO_COLOR`.

use std::ffi::OsString;
use std::io::IsTerminal;

/// What the output accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Stdout is a terminal: the live panel may be redrawn in place.
    pub redraw: bool,
    /// Bold headlines are wanted.
    pub color: bool,
}

impl Style {
    /// The style for stdout in this process's environment.
    pub fn detect() -> Self {
        Self::for_output(
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR"),
            std::env::var_os("TERM"),
        )
    }

    /// The style for an output that is (or is not) a terminal, given `NO_COLOR` and `TERM`.
    /// Per no-color.org, `NO_COLOR` set to anything but the empty string disables colour;
    /// a `dumb` terminal cannot move its cursor either.
    pub fn for_output(tty: bool, no_color: Option<OsString>, term: Option<OsString>) -> Self {
        let dumb = term.is_some_and(|t| t == "dumb");
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Style {
            redraw: tty && !dumb,
            color: tty && !dumb && !no_color,
        }
    }

    /// `text` in bold when colour is on, as is otherwise.
    pub fn bold(&self, text: &str) -> String {
        if self.color {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn a_pipe_gets_no_escapes() {
        let style = Style::for_output(false, None, Some("xterm".into()));
        assert_eq!(
            style,
            Style {
                redraw: false,
                color: false
            }
        );
        assert_eq!(style.bold("Summary"), "Summary");
    }

    #[test]
    fn no_color_keeps_redraw_but_drops_bold() {
        let style = Style::for_output(true, Some("1".into()), Some("xterm".into()));
        assert_eq!(
            style,
            Style {
                redraw: true,
                color: false
            }
        );
        assert_eq!(style.bold("Summary"), "Summary");
    }

    #[test]
    fn an_empty_no_color_is_ignored_and_dumb_terminals_get_plain_text() {
        let tty = Style::for_output(true, Some("".into()), None);
        assert_eq!(tty.bold("x"), "\x1b[1mx\x1b[0m");
        let dumb = Style::for_output(true, None, Some("dumb".into()));
        assert_eq!(
            dumb,
            Style {
                redraw: false,
                color: false
            }
        );
    }
}
