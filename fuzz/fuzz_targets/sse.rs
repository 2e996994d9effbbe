//! The SSE decoder: any split of the same bytes gives the same events and errors, and no event
//! carries a line terminator in its `event` field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnout::protocol::{SseDecoder, SseError, SseEvent};

/// Everything a decoder yields for `chunks`, pushed one after the other, then finished.
fn decode<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Result<SseEvent, SseError>> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(item) = decoder.next_event() {
            out.push(item);
        }
    }
    while let Some(item) = decoder.finish() {
        out.push(item);
    }
    assert!(!decoder.has_partial(), "finished decoder still holds bytes");
    out
}

fuzz_target!(|input: &[u8]| {
    // The first byte seeds the split points; the rest is the stream.
    let Some((&seed, stream)) = input.split_first() else {
        return;
    };
    let whole = decode([stream]);
    for item in whole.iter().flatten() {
        if let Some(name) = &item.event {
            assert!(!name.contains(['\n', '\r']), "event name {name:?}");
        }
    }
    // One byte at a time: every possible boundary at once, including between `\r` and `\n`.
    let bytewise = decode(stream.chunks(1));
    assert_eq!(whole, bytewise, "byte-by-byte split differs");
    // Irregular chunks whose sizes follow the seed.
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut state = u32::from(seed) | 1;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (state >> 16) as usize % 17;
        let (head, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(head);
        rest = tail;
    }
    assert_eq!(whole, decode(chunks), "seeded split differs");
});
