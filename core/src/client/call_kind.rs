//! What kind of call a request is (SEMANTICS.md, *Under the official SDKs*, *Retries and
//! idempotency*): inference calls are retried and failed over freely; other writes create or
//! change objects, so they are retried only when nothing can have reached the upstream or when
//! they carry an idempotency key, and never failed over once sent.

use reqwest::Method;

/// The kind of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Chat and text completions, embeddings, responses, moderations, audio, images.
    Inference,
    /// GET and HEAD: reading does not change anything.
    Read,
    /// Any other write (files, batches, fine-tuning jobs, vector stores, …).
    Write,
}

/// Paths (under the base URL, without query) whose POST is an inference call.
const INFERENCE: [&str; 5] = [
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/responses",
    "/moderations",
];

/// Path prefixes whose POSTs are inference calls.
const INFERENCE_PREFIXES: [&str; 2] = ["/audio/", "/images/"];

impl CallKind {
    /// The kind of `method` on `path`.
    pub fn of(method: &Method, path: &str) -> Self {
        if *method == Method::GET || *method == Method::HEAD {
            return Self::Read;
        }
        let path = path.split('?').next().unwrap_or(path);
        let inference = *method == Method::POST
            && (INFERENCE.contains(&path)
                || INFERENCE_PREFIXES.iter().any(|p| path.starts_with(p)));
        if inference {
            Self::Inference
        } else {
            Self::Write
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods_are_told_apart() {
        let post = Method::POST;
        assert_eq!(
            CallKind::of(&post, "/chat/completions"),
            CallKind::Inference
        );
        assert_eq!(CallKind::of(&post, "/responses"), CallKind::Inference);
        assert_eq!(CallKind::of(&post, "/audio/speech"), CallKind::Inference);
        assert_eq!(
            CallKind::of(&post, "/images/generations"),
            CallKind::Inference
        );
        assert_eq!(CallKind::of(&post, "/embeddings?x=1"), CallKind::Inference);
        assert_eq!(CallKind::of(&post, "/files"), CallKind::Write);
        assert_eq!(CallKind::of(&post, "/batches"), CallKind::Write);
        assert_eq!(
            CallKind::of(&post, "/responses/resp_1/cancel"),
            CallKind::Write
        );
        assert_eq!(
            CallKind::of(&Method::DELETE, "/files/file-1"),
            CallKind::Write
        );
        assert_eq!(CallKind::of(&Method::GET, "/files/file-1"), CallKind::Read);
    }
}
