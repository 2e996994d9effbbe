//! Pass-through requests for `client.fetch`: the SDK's method, path, headers and body bytes go
//! to the core's `send_raw` as they are, and the side's answer comes back as status, headers
//! and bytes (or a byte stream). Failures without an HTTP answer become the core's synthetic
//! answer (`RawResponse::from_error`), so an SDK raises its own error at once.

use napi::Env;
use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi_derive::napi;

use crate::batch::Batched;
use crate::errors::guarded;

/// The answer of a pass-through request, as the side sent it (or the synthetic one).
// Only ever handed to JS, never read back: it holds a stream handle.
#[napi(object, object_from_js = false)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u32,
    /// `[name, value]` pairs, in order, repeated names kept.
    pub headers: Vec<Vec<String>>,
    /// The whole body; `null` when the answer is a stream.
    pub body: Option<Buffer>,
    /// The body's bytes as they arrive; `null` when the body is whole. (How it was routed
    /// rides in the `x-turnout-*` headers.)
    pub stream: Option<NativeRawStream>,
}

impl RawAnswer {
    /// Converts the core's answer.
    pub(crate) fn new(answer: turnout::RawResponse) -> Self {
        let headers = answer
            .headers
            .iter()
            .map(|(name, value)| vec![name.as_str().to_string(), latin1(value.as_bytes())])
            .collect();
        let (body, stream) = match answer.body {
            turnout::RawBody::Full(bytes) => (Some(Buffer::from(bytes.to_vec())), None),
            turnout::RawBody::Stream(stream) => (None, Some(NativeRawStream::new(stream))),
        };
        Self {
            status: u32::from(answer.status),
            headers,
            body,
            stream,
        }
    }
}

/// A header value as a JS ByteString: one character per byte, as WHATWG `Headers` reads it.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The bytes of a request header value, as fetch (undici) sends it: one byte per character
/// (Latin-1), the inverse of [`latin1`]; `None` for a character above U+00FF, which a
/// WHATWG ByteString cannot hold.
pub(crate) fn byte_string(value: &str) -> Option<Vec<u8>> {
    value.chars().map(|c| u8::try_from(c).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_are_latin1_both_ways() {
        assert_eq!(byte_string("José").as_deref(), Some(&b"Jos\xe9"[..]));
        assert_eq!(latin1(b"Jos\xe9"), "José");
        assert_eq!(byte_string("plain").as_deref(), Some(&b"plain"[..]));
        assert_eq!(byte_string("€"), None);
    }
}

/// The body of a streamed pass-through answer. Dropping it (or `close()`) cancels the upstream
/// request.
#[napi]
pub struct NativeRawStream {
    inner: Batched<turnout::RawStream>,
}

impl NativeRawStream {
    fn new(stream: turnout::RawStream) -> Self {
        Self {
            inner: Batched::new(stream),
        }
    }
}

#[napi]
impl NativeRawStream {
    /// The next bytes (whatever has arrived, at least one chunk), or `null` at the end. A
    /// stream cut after it was committed rejects with a `stream_interrupted` error.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Buffer>>> {
        let batch = self.inner.next();
        env.spawn_future(guarded(async move {
            Ok(batch.await?.map(|chunks| Buffer::from(chunks.concat())))
        }))
    }

    /// Ends the stream now and cancels the upstream request (idempotent).
    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}
