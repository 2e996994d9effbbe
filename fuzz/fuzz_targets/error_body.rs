//! The upstream error-body parser: any body gives a summary without panicking; a parsed body
//! survives a round trip; a summary is the error's message or a short excerpt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnout::protocol::ErrorBody;

/// The excerpt length, in characters, of a body that is not an OpenAI error.
const EXCERPT_CHARS: usize = 200;

fuzz_target!(|input: &[u8]| {
    let body = String::from_utf8_lossy(input);
    let summary = ErrorBody::summary(&body);
    match ErrorBody::parse(&body) {
        Some(parsed) => {
            let again = serde_json::to_string(&parsed).expect("an error body serializes");
            assert_eq!(
                ErrorBody::parse(&again).as_ref(),
                Some(&parsed),
                "round trip"
            );
            if parsed.error.message.is_empty() {
                assert!(summary.chars().count() <= EXCERPT_CHARS);
            } else {
                assert_eq!(summary, parsed.error.message);
            }
        }
        None => {
            assert!(summary.chars().count() <= EXCERPT_CHARS, "summary too long");
            assert!(body.starts_with(&summary), "summary is not an excerpt");
        }
    }
});
