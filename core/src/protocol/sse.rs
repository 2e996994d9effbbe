//! A server-sent-events decoder made for real streams: any split across reads, several events
//! per read, `\n`, `\r\n` and `\r` line ends, comments, `event:` fields.
//!
//! Decoding is linear in the bytes received (each byte is scanned once for a line end, however
//! the stream is split), and one event is bounded: an upstream that never ends an event fails
//! the stream instead of growing the process.

use bytes::{Buf, BytesMut};

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if one was sent.
    pub event: Option<String>,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
}

impl SseEvent {
    /// Whether this is OpenAI's end-of-stream marker, `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }
}

/// The events that end a Responses API stream (it sends no `[DONE]`).
const FINAL_EVENTS: [&str; 3] = [
    "response.completed",
    "response.failed",
    "response.incomplete",
];

/// Whether `event` ends its stream: `[DONE]`, or a Responses API final event, named by its
/// `event:` field or, without one, by the `type` in its data.
///
/// ```
/// use turnout::protocol::{SseEvent, is_final_event};
/// let done = SseEvent { event: Some("response.completed".into()), data: "{}".into() };
/// assert!(is_final_event(&done));
/// ```
pub fn is_final_event(event: &SseEvent) -> bool {
    if event.is_done() {
        return true;
    }
    match event.event.as_deref() {
        Some(name) => FINAL_EVENTS.contains(&name),
        None => FINAL_EVENTS
            .iter()
            .any(|name| event.data.contains(&format!("\"type\":\"{name}\""))),
    }
}

/// What can go wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line was not valid UTF-8.
    #[error("event stream line is not UTF-8")]
    Utf8,
    /// A single event grew beyond the bound without ending.
    #[error("an event of the stream grew beyond bounds.sse_event_bytes ({0} bytes) without ending")]
    EventTooLarge(usize),
}

/// An incremental decoder: feed it bytes as they arrive, take events as they complete.
///
/// ```
/// use turnout::protocol::SseDecoder;
/// let mut d = SseDecoder::new();
/// d.push(b"data: {\"a\"");
/// assert!(d.next_event().is_none());
/// d.push(b":1}\n\ndata: [DONE]\n\n");
/// assert_eq!(d.next_event().unwrap().unwrap().data, "{\"a\":1}");
/// assert!(d.next_event().unwrap().unwrap().is_done());
/// ```
#[derive(Debug)]
pub struct SseDecoder {
    buf: BytesMut,
    /// Bytes at the front of `buf` already scanned and known to hold no line end.
    scanned: usize,
    event: Option<String>,
    data: String,
    has_data: bool,
    max_event: usize,
}

/// The default bound of one event (SEMANTICS.md, *Bounds*).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// An empty decoder bounding events at [`DEFAULT_MAX_EVENT_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty decoder that refuses an event larger than `max` bytes (its `data` lines and
    /// the line being read, together).
    pub fn with_max_event_bytes(max: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scanned: 0,
            event: None,
            data: String::new(),
            has_data: false,
            max_event: max,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the bytes pushed so far hold one.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        loop {
            let line = match self.take_line() {
                Ok(Some(line)) => line,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            if line.is_empty() {
                if self.has_data {
                    return Some(Ok(self.dispatch()));
                }
                self.event = None;
                continue;
            }
            self.field(&line);
            if self.data.len() > self.max_event {
                return Some(Err(SseError::EventTooLarge(self.max_event)));
            }
        }
    }

    /// Whether bytes of an unfinished event remain (used at end of stream).
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.has_data
    }

    fn dispatch(&mut self) -> SseEvent {
        self.has_data = false;
        SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
        }
    }

    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            return;
        }
        let (name, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match name {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` carry nothing a completion stream needs.
            _ => {}
        }
    }

    /// Takes one line off the buffer, without its terminator. A `\r` at the very end of the
    /// buffer waits for the next read, since a `\n` may follow it.
    fn take_line(&mut self) -> Result<Option<String>, SseError> {
        let found = self.buf[self.scanned..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r');
        let Some(pos) = found.map(|p| p + self.scanned) else {
            self.scanned = self.buf.len();
            if self.data.len() + self.buf.len() > self.max_event {
                return Err(SseError::EventTooLarge(self.max_event));
            }
            return Ok(None);
        };
        let term_len = if self.buf[pos] == b'\r' {
            match self.buf.get(pos + 1) {
                Some(b'\n') => 2,
                Some(_) => 1,
                None => {
                    // The `\r` is looked at again with the next read.
                    self.scanned = pos;
                    return Ok(None);
                }
            }
        } else {
            1
        };
        self.scanned = 0;
        let line = self.buf.split_to(pos);
        self.buf.advance(term_len);
        String::from_utf8(line.to_vec())
            .map(Some)
            .map_err(|_| SseError::Utf8)
    }

    /// Ends the stream: a trailing `\r` counts as a line end, and an event whose blank line
    /// never came is returned if it has data (servers that close right after the last data
    /// line are common; whether the stream was complete is decided by `[DONE]`, not here).
    pub fn finish(&mut self) -> Option<Result<SseEvent, SseError>> {
        if self.buf.last() == Some(&b'\r') {
            self.buf.extend_from_slice(b"\n");
        }
        if let Some(ev) = self.next_event() {
            return Some(ev);
        }
        if !self.buf.is_empty() {
            self.scanned = 0;
            let rest = self.buf.split();
            match String::from_utf8(rest.to_vec()) {
                Ok(line) => self.field(&line),
                Err(_) => return Some(Err(SseError::Utf8)),
            }
        }
        self.has_data.then(|| Ok(self.dispatch()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_of_many_data_lines_is_bounded_too() {
        let mut d = SseDecoder::with_max_event_bytes(1000);
        for _ in 0..100 {
            d.push(b"data: 0123456789\n");
        }
        let mut err = None;
        while let Some(ev) = d.next_event() {
            if let Err(e) = ev {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(SseError::EventTooLarge(1000)));
    }

    #[test]
    fn a_line_split_into_single_bytes_is_scanned_once() {
        // Byte by byte, a 1 MB line stays linear: the scan resumes where it stopped.
        let mut d = SseDecoder::with_max_event_bytes(2_000_000);
        d.push(b"data: ");
        for _ in 0..1_000_000 {
            d.push(b"x");
            assert!(d.next_event().is_none());
            assert_eq!(
                d.scanned,
                d.buf.len(),
                "everything pushed so far was scanned"
            );
        }
        d.push(b"\n\n");
        let ev = d.next_event().expect("event").expect("ok");
        assert_eq!(ev.data.len(), 1_000_000);
    }
}
