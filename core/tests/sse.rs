//! The server-sent-events decoder over a table of cases, each fed whole, byte by byte and split
//! at every position; plus a property: any split of a valid stream decodes to the same events.

use proptest::prelude::*;
use turnout::protocol::{SseDecoder, SseError, SseEvent};

/// Feeds `chunks` one by one, taking events as they complete, then ends the stream.
fn decode(chunks: &[&[u8]]) -> Result<Vec<SseEvent>, SseError> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        d.push(chunk);
        while let Some(ev) = d.next_event() {
            out.push(ev?);
        }
    }
    while let Some(ev) = d.finish() {
        out.push(ev?);
    }
    Ok(out)
}

fn ev(data: &str) -> SseEvent {
    SseEvent {
        event: None,
        data: data.to_string(),
    }
}

fn named(event: &str, data: &str) -> SseEvent {
    SseEvent {
        event: Some(event.to_string()),
        data: data.to_string(),
    }
}

/// Decodes `input` whole, byte by byte, and cut in two at every position; all must give `want`.
#[track_caller]
fn check(name: &str, input: &[u8], want: &[SseEvent]) {
    let whole = decode(&[input]).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(whole, want, "{name}: whole");
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")),
        want,
        "{name}: byte by byte"
    );
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(
            decode(&[a, b]).unwrap_or_else(|e| panic!("{name}: {e}")),
            want,
            "{name}: split at {cut}"
        );
    }
}

#[test]
fn table_of_cases() {
    let chunk = r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#;
    let openai = format!("data: {chunk}\n\ndata: {chunk}\n\ndata: [DONE]\n\n");
    let cases: Vec<(&str, Vec<u8>, Vec<SseEvent>)> = vec![
        ("one event, \\n", b"data: a\n\n".to_vec(), vec![ev("a")]),
        (
            "one event, \\r\\n",
            b"data: a\r\n\r\n".to_vec(),
            vec![ev("a")],
        ),
        (
            "\\r line ends",
            b"data: a\r\rdata: b\r\r".to_vec(),
            vec![ev("a"), ev("b")],
        ),
        (
            "mixed line ends",
            b"data: a\r\ndata: b\n\r\ndata: c\r\r".to_vec(),
            vec![ev("a\nb"), ev("c")],
        ),
        (
            "several events in one read",
            b"data: 1\n\ndata: 2\n\ndata: 3\n\n".to_vec(),
            vec![ev("1"), ev("2"), ev("3")],
        ),
        (
            "keep-alive comments between events",
            b": keep-alive\n\ndata: x\n\n:\n\n: ping\n\ndata: y\n\n".to_vec(),
            vec![ev("x"), ev("y")],
        ),
        (
            "a comment inside an event",
            b"data: x\n: ignored\ndata: y\n\n".to_vec(),
            vec![ev("x\ny")],
        ),
        (
            "event field",
            b"event: error\ndata: {\"error\":{\"message\":\"boom\"}}\n\n".to_vec(),
            vec![named("error", "{\"error\":{\"message\":\"boom\"}}")],
        ),
        (
            "the event name does not leak into the next event",
            b"event: a\ndata: 1\n\ndata: 2\n\n".to_vec(),
            vec![named("a", "1"), ev("2")],
        ),
        (
            "an event without data is not dispatched and its name is dropped",
            b"event: a\n\ndata: x\n\n".to_vec(),
            vec![ev("x")],
        ),
        (
            "multi-line data",
            b"data: line1\ndata: line2\ndata:\ndata: line4\n\n".to_vec(),
            vec![ev("line1\nline2\n\nline4")],
        ),
        (
            "no space after the colon, and only one space stripped",
            b"data:tight\n\ndata:  two\n\n".to_vec(),
            vec![ev("tight"), ev(" two")],
        ),
        ("a bare data field", b"data\n\n".to_vec(), vec![ev("")]),
        (
            "id and retry fields are ignored",
            b"id: 7\nretry: 100\ndata: x\n\n".to_vec(),
            vec![ev("x")],
        ),
        (
            "unknown fields are ignored",
            b"foo: bar\ndata: x\n\n".to_vec(),
            vec![ev("x")],
        ),
        (
            "[DONE]",
            b"data: {}\n\ndata: [DONE]\n\n".to_vec(),
            vec![ev("{}"), ev("[DONE]")],
        ),
        (
            "UTF-8 split inside a character",
            "data: héllo 🚀 ユーザー\n\n".as_bytes().to_vec(),
            vec![ev("héllo 🚀 ユーザー")],
        ),
        (
            "a last event without its blank line",
            b"data: a\n\ndata: b".to_vec(),
            vec![ev("a"), ev("b")],
        ),
        (
            "a last event ending in one \\r",
            b"data: a\r".to_vec(),
            vec![ev("a")],
        ),
        (
            "leading blank lines",
            b"\n\r\n\rdata: a\n\n".to_vec(),
            vec![ev("a")],
        ),
        ("empty stream", Vec::new(), vec![]),
        ("only comments", b": hi\n\n: there\n\n".to_vec(), vec![]),
        (
            "an OpenAI stream",
            openai.into_bytes(),
            vec![ev(chunk), ev(chunk), ev("[DONE]")],
        ),
    ];
    for (name, input, want) in &cases {
        check(name, input, want);
    }
    assert!(decode(&[b"data: [DONE]\n\n"]).unwrap()[0].is_done());
    assert!(!ev("[DONE] ").is_done());
}

#[test]
fn invalid_utf8_is_an_error() {
    let err = decode(&[b"data: \xff\xfe\n\n"]).unwrap_err();
    assert_eq!(err, SseError::Utf8);
}

#[test]
fn an_event_waits_for_its_blank_line() {
    let mut d = SseDecoder::new();
    d.push(b"data: a\n");
    assert!(d.next_event().is_none());
    assert!(d.has_partial());
    d.push(b"\n");
    assert_eq!(d.next_event(), Some(Ok(ev("a"))));
    assert!(!d.has_partial());
    // A lone \r at the end of a read may be the first half of \r\n: no event yet.
    d.push(b"data: b\r\r");
    assert_eq!(d.next_event(), None);
    d.push(b"\n");
    assert_eq!(d.next_event(), Some(Ok(ev("b"))));
}

/// An event as generated: an optional name and one or more data lines.
fn event_strategy() -> impl Strategy<Value = (Option<String>, Vec<String>, bool)> {
    (
        proptest::option::of("[a-z]{1,8}"),
        proptest::collection::vec("[^\r\n]{0,24}", 1..4),
        any::<bool>(),
    )
}

/// Serialises events with one line end, optionally with a comment before each.
fn encode(events: &[(Option<String>, Vec<String>, bool)], eol: &str) -> Vec<u8> {
    let mut out = String::new();
    for (name, lines, comment) in events {
        if *comment {
            out.push_str(": keep-alive");
            out.push_str(eol);
        }
        if let Some(name) = name {
            out.push_str("event: ");
            out.push_str(name);
            out.push_str(eol);
        }
        for line in lines {
            out.push_str("data: ");
            out.push_str(line);
            out.push_str(eol);
        }
        out.push_str(eol);
    }
    out.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_split_decodes_to_the_same_events(
        events in proptest::collection::vec(event_strategy(), 0..6),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let bytes = encode(&events, eol);
        let want: Vec<SseEvent> = events
            .iter()
            .map(|(name, lines, _)| SseEvent { event: name.clone(), data: lines.join("\n") })
            .collect();
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut prev = 0;
        for cut in at {
            chunks.push(&bytes[prev..cut]);
            prev = cut;
        }
        chunks.push(&bytes[prev..]);
        prop_assert_eq!(decode(&[&bytes]).unwrap(), want.clone());
        prop_assert_eq!(decode(&chunks).unwrap(), want);
    }
}
