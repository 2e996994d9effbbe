//! `POST /v1/embeddings`: deterministic unit vectors hashed from the input.

use axum::body::Body;
use hyper::Response;
use serde::{Deserialize, Serialize};

use super::{Invalid, estimate_tokens, to_json};
use crate::state::Shared;

/// Dimensions returned when the request does not ask for a number.
const DEFAULT_DIMENSIONS: u32 = 8;
const MAX_DIMENSIONS: u32 = 4096;

#[derive(Deserialize)]
pub(crate) struct EmbeddingsRequest {
    pub model: Option<String>,
    input: Option<Input>,
    encoding_format: Option<String>,
    dimensions: Option<u32>,
}

/// The four input forms OpenAI accepts.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenBatches(Vec<Vec<u32>>),
}

/// Whether a JSON value has one of the shapes of [`Input`].
fn input_fits(v: &serde_json::Value) -> bool {
    let tokens = |v: &serde_json::Value| {
        v.as_array().is_some_and(|a| {
            a.iter()
                .all(|n| n.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)))
        })
    };
    match v {
        serde_json::Value::String(_) => true,
        serde_json::Value::Array(a) => {
            a.iter().all(|x| x.is_string()) || tokens(v) || a.iter().all(tokens)
        }
        _ => false,
    }
}

/// One input to embed: the bytes hashed and the tokens it counts for.
struct Item {
    bytes: Vec<u8>,
    tokens: u64,
}

impl Input {
    fn items(self) -> Vec<Item> {
        let text = |s: String| Item {
            tokens: estimate_tokens(s.chars().count()),
            bytes: s.into_bytes(),
        };
        let tokens = |t: Vec<u32>| Item {
            tokens: t.len() as u64,
            bytes: t.iter().flat_map(|n| n.to_le_bytes()).collect(),
        };
        match self {
            Input::Text(s) => vec![text(s)],
            Input::Texts(v) => v.into_iter().map(text).collect(),
            Input::Tokens(t) => vec![tokens(t)],
            Input::TokenBatches(v) => v.into_iter().map(tokens).collect(),
        }
    }
}

/// A validated request: what to embed and how to encode it.
pub(crate) struct Embeddings {
    pub model: String,
    items: Vec<Item>,
    base64: bool,
    dimensions: u32,
}

/// Parses and validates an embeddings request body.
pub(crate) fn parse(body: &[u8]) -> Result<Embeddings, Invalid> {
    let request: EmbeddingsRequest = serde_json::from_slice(body).map_err(|e| {
        Invalid::from_serde(
            body,
            &e,
            &[
                ("model", |v| v.is_string(), "a string"),
                (
                    "input",
                    input_fits,
                    "a string, an array of strings or an array of token arrays",
                ),
                ("encoding_format", |v| v.is_string(), "a string"),
                ("dimensions", |v| v.is_u64(), "a positive integer"),
            ],
        )
    })?;
    let model = request.model.ok_or_else(|| Invalid::missing("model"))?;
    let items = request
        .input
        .ok_or_else(|| Invalid::missing("input"))?
        .items();
    if items.is_empty() {
        return Err(Invalid::field(
            "input",
            "Invalid 'input': empty array. Expected at least one input.".to_owned(),
        ));
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(Invalid::field(
                "encoding_format",
                format!("Invalid 'encoding_format': '{other}'. Expected 'float' or 'base64'."),
            ));
        }
    };
    let dimensions = request.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
    if !(1..=MAX_DIMENSIONS).contains(&dimensions) {
        return Err(Invalid::field(
            "dimensions",
            format!("Invalid 'dimensions': must be within 1..={MAX_DIMENSIONS}, got {dimensions}."),
        ));
    }
    Ok(Embeddings {
        model,
        items,
        base64,
        dimensions,
    })
}

/// FNV-1a over the bytes, seeded per dimension, then a final avalanche (splitmix64).
fn hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A unit vector that depends only on the input bytes.
fn vector(bytes: &[u8], dimensions: u32) -> Vec<f32> {
    let raw: Vec<f64> = (0..u64::from(dimensions))
        .map(|i| (hash(bytes, i) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::EPSILON);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Serialize)]
struct List<'a> {
    object: &'static str,
    data: Vec<Embedding>,
    model: &'a str,
    usage: Usage,
}

#[derive(Serialize)]
struct Embedding {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Answers a valid embeddings request.
pub(crate) fn answer(shared: &Shared, request: &Embeddings) -> Response<Body> {
    let data = request
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let v = vector(&item.bytes, request.dimensions);
            let embedding = if request.base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Vector::Base64(base64(&bytes))
            } else {
                Vector::Floats(v)
            };
            Embedding {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    let tokens = request.items.iter().map(|i| i.tokens).sum();
    to_json(
        shared,
        &List {
            object: "list",
            data,
            model: &request.model,
            usage: Usage {
                prompt_tokens: tokens,
                total_tokens: tokens,
            },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = vector(b"hello", 8);
        assert_eq!(a, vector(b"hello", 8));
        assert_ne!(a, vector(b"hellp", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn inputs_and_errors() {
        let ok = |b: &str| {
            parse(b.as_bytes())
                .map(|e| e.items.len())
                .map_err(|e| e.param)
        };
        assert_eq!(ok(r#"{"model":"m","input":"a"}"#), Ok(1));
        assert_eq!(ok(r#"{"model":"m","input":["a","b"]}"#), Ok(2));
        assert_eq!(ok(r#"{"model":"m","input":[1,2,3]}"#), Ok(1));
        assert_eq!(ok(r#"{"model":"m","input":[[1],[2]]}"#), Ok(2));
        assert_eq!(ok(r#"{"input":"a"}"#), Err(Some("model")));
        assert_eq!(ok(r#"{"model":"m"}"#), Err(Some("input")));
        assert_eq!(ok(r#"{"model":"m","input":[]}"#), Err(Some("input")));
        assert_eq!(ok(r#"{"model":"m","input":{"a":1}}"#), Err(Some("input")));
        assert_eq!(
            ok(r#"{"model":"m","input":"a","dimensions":0}"#),
            Err(Some("dimensions"))
        );
    }
}
