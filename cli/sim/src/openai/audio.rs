//! `POST /v1/audio/speech`: deterministic bytes standing in for audio, derived from the request.

use axum::body::Body;
use hyper::header::HeaderValue;
use hyper::{Response, StatusCode};
use serde::Deserialize;

use super::{Invalid, respond};
use crate::state::Shared;

/// Bytes of every answer before the per-character part, and the most an answer has.
const BASE_BYTES: usize = 2048;
const MAX_BYTES: usize = 16 << 10;

/// The fields of a speech request the simulator reads.
#[derive(Deserialize)]
pub(crate) struct SpeechRequest {
    pub model: Option<String>,
    input: Option<String>,
    voice: Option<String>,
    response_format: Option<String>,
}

/// Parses and validates a speech request body.
pub(crate) fn parse(body: &[u8]) -> Result<SpeechRequest, Invalid> {
    let request: SpeechRequest = serde_json::from_slice(body).map_err(|e| {
        Invalid::from_serde(
            body,
            &e,
            &[
                ("model", |v| v.is_string(), "a string"),
                ("input", |v| v.is_string(), "a string"),
                ("voice", |v| v.is_string(), "a string"),
                ("response_format", |v| v.is_string(), "a string"),
            ],
        )
    })?;
    if request.model.is_none() {
        return Err(Invalid::missing("model"));
    }
    if request.input.as_deref().is_none_or(str::is_empty) {
        return Err(Invalid::missing("input"));
    }
    if request.voice.is_none() {
        return Err(Invalid::missing("voice"));
    }
    if content_type(request.format()).is_none() {
        return Err(Invalid::field(
            "response_format",
            format!(
                "Invalid value for 'response_format': '{}'. Supported values are: mp3, opus, aac, flac, wav, pcm.",
                request.format()
            ),
        ));
    }
    Ok(request)
}

impl SpeechRequest {
    fn format(&self) -> &str {
        self.response_format.as_deref().unwrap_or("mp3")
    }
}

fn content_type(format: &str) -> Option<&'static str> {
    Some(match format {
        "mp3" => "audio/mpeg",
        "opus" => "audio/opus",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        _ => return None,
    })
}

/// The answer: `audio/mpeg` (or the format asked for) bytes that depend only on the request.
pub(crate) fn answer(shared: &Shared, request: &SpeechRequest) -> Response<Body> {
    let kind = content_type(request.format()).unwrap_or("audio/mpeg");
    respond(
        shared,
        StatusCode::OK,
        HeaderValue::from_static(kind),
        Body::from(audio(request)),
    )
}

/// An ID3 tag then pseudo-random bytes seeded by the request (FNV-1a, then xorshift): a few KB,
/// the same for the same model, voice, format and input.
fn audio(request: &SpeechRequest) -> Vec<u8> {
    let input = request.input.as_deref().unwrap_or_default();
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for field in [
        request.model.as_deref().unwrap_or_default(),
        request.voice.as_deref().unwrap_or_default(),
        request.format(),
        input,
    ] {
        for byte in field.bytes().chain([0]) {
            seed = (seed ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let len = BASE_BYTES
        .saturating_add(input.chars().count().saturating_mul(32))
        .min(MAX_BYTES);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"ID3\x04\x00\x00\x00\x00\x00\x00");
    let mut state = seed | 1;
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> SpeechRequest {
        parse(body.as_bytes()).map_err(|e| e.message).unwrap()
    }

    #[test]
    fn bytes_depend_on_the_input_only_deterministically() {
        let a = audio(&request(
            r#"{"model":"tts-1","voice":"alloy","input":"hello"}"#,
        ));
        let b = audio(&request(
            r#"{"model":"tts-1","voice":"alloy","input":"hello"}"#,
        ));
        let c = audio(&request(
            r#"{"model":"tts-1","voice":"alloy","input":"hellp"}"#,
        ));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with(b"ID3"));
        assert_eq!(a.len(), BASE_BYTES + 5 * 32);
        let long = format!(
            r#"{{"model":"m","voice":"v","input":"{}"}}"#,
            "x".repeat(4096)
        );
        assert_eq!(audio(&request(&long)).len(), MAX_BYTES);
    }

    #[test]
    fn missing_fields_are_named() {
        for (body, param) in [
            (r#"{"voice":"v","input":"x"}"#, "model"),
            (r#"{"model":"m","voice":"v"}"#, "input"),
            (r#"{"model":"m","voice":"v","input":""}"#, "input"),
            (r#"{"model":"m","input":"x"}"#, "voice"),
            (
                r#"{"model":"m","voice":"v","input":"x","response_format":"ogg"}"#,
                "response_format",
            ),
        ] {
            assert_eq!(
                parse(body.as_bytes()).err().and_then(|e| e.param),
                Some(param)
            );
        }
    }
}
