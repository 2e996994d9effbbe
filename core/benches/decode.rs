//! Decoding answers into the typed wire types: a chat completion (as the simulator and
//! `bench/nginx.conf` answer) and a stream chunk. Every typed call pays this once per answer,
//! a stream once per chunk.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use turnout::protocol::{ChatCompletion, ChatCompletionChunk};

const COMPLETION: &str = r#"{"id":"chatcmpl-nginx000000000001","object":"chat.completion","created":1795311615,"model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"Echo: ping","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":3,"total_tokens":4,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_nginx"}"#;

const CHUNK: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1795311615,"model":"gpt-4.1","system_fingerprint":"fp_x","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}]}"#;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.bench_function("chat completion", |b| {
        b.iter(|| serde_json::from_slice::<ChatCompletion>(black_box(COMPLETION.as_bytes())))
    });
    g.bench_function("stream chunk", |b| {
        b.iter(|| serde_json::from_slice::<ChatCompletionChunk>(black_box(CHUNK.as_bytes())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
