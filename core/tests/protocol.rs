//! Wire types round-trip without losing what they do not know: new OpenAI parameters and
//! response fields pass through untouched.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use turnout::protocol::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, EmbeddingRequest,
    EmbeddingResponse, ErrorBody, ModelList,
};

/// Parses `value` as `T` and serialises it back; the JSON must be unchanged.
#[track_caller]
fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone()).expect("parses");
    let back = serde_json::to_value(&typed).expect("serialises");
    assert_eq!(&back, value, "the round trip changed the JSON");
    // From text too, as it arrives on the wire.
    let typed2: T = serde_json::from_str(&value.to_string()).expect("parses from text");
    assert_eq!(serde_json::to_value(&typed2).expect("serialises"), *value);
    typed
}

#[test]
fn request_keeps_tools_response_format_and_future_params() {
    let request = json!({
        "model": "gpt-4.1",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is in this image?"},
                {"type": "image_url", "image_url": {"url": "https://x.example/a.png", "detail": "low"}}
            ], "name": "alice"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]},
            {"role": "tool", "content": "42", "tool_call_id": "call_1"}
        ],
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "user-42",
        "temperature": 0.2,
        "max_completion_tokens": 64,
        "tools": [{"type": "function", "function": {
            "name": "f", "description": "d", "strict": true,
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}
        }}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
        "seed": 7,
        "logit_bias": {"50256": -100},
        "metadata": {"a": "b"},
        "reasoning_effort": "low",
        "some_future_param": {"nested": [1, 2, {"deep": null}]}
    });
    let typed: ChatCompletionRequest = round_trip(&request);
    assert_eq!(typed.model, "gpt-4.1");
    assert_eq!(typed.user.as_deref(), Some("user-42"));
    assert_eq!(typed.stream, Some(true));
    assert_eq!(typed.extra["tools"][0]["function"]["name"], "f");
    assert_eq!(
        typed.extra["some_future_param"]["nested"][2],
        json!({"deep": null})
    );
    assert_eq!(typed.messages[2].content, None);
    assert_eq!(typed.messages[3].extra["tool_call_id"], "call_1");
}

#[test]
fn a_built_request_serialises_only_what_was_set() {
    let req = ChatCompletionRequest::new("gpt-4o", vec![ChatMessage::user("hi")])
        .param("response_format", json!({"type": "json_object"}))
        .param("future", true);
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"},
            "future": true
        })
    );
}

#[test]
fn response_keeps_unknown_fields() {
    let response = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hello",
                "refusal": null,
                "annotations": [],
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]
            },
            "logprobs": {"content": []},
            "finish_reason": "tool_calls",
            "future_choice_field": 1
        }],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        "system_fingerprint": "fp_abc",
        "service_tier": "default",
        "future_top_level": {"x": [true]}
    });
    let typed: ChatCompletion = round_trip(&response);
    assert_eq!(typed.choices[0].message.text(), Some("hello"));
    assert_eq!(typed.usage.map(|u| u.total_tokens), Some(8));
    assert_eq!(typed.extra["system_fingerprint"], "fp_abc");
    assert_eq!(typed.choices[0].extra["future_choice_field"], 1);
}

#[test]
fn usage_details_are_kept() {
    // OpenAI sends token details inside `usage`; they must survive like every other field.
    let response = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 2, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4}
        }
    });
    round_trip::<ChatCompletion>(&response);
}

#[test]
fn chunk_keeps_unknown_fields() {
    let chunk = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4.1",
        "system_fingerprint": "fp_x",
        "choices": [{
            "index": 0,
            "delta": {
                "role": "assistant",
                "content": "Hel",
                "tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": ""}}],
                "future_delta": "y"
            },
            "logprobs": null,
            "finish_reason": null
        }],
        "obfuscation": "abc"
    });
    let typed: ChatCompletionChunk = round_trip(&chunk);
    assert_eq!(typed.choices[0].delta.content.as_deref(), Some("Hel"));
    assert_eq!(typed.extra["obfuscation"], "abc");

    let usage_chunk = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    });
    let typed: ChatCompletionChunk = round_trip(&usage_chunk);
    assert_eq!(typed.usage.map(|u| u.completion_tokens), Some(2));
}

#[test]
fn error_body_keeps_unknown_fields_and_numeric_codes() {
    let body = json!({"error": {
        "message": "Rate limit reached",
        "type": "requests",
        "param": null,
        "code": "rate_limit_exceeded",
        "future_error_field": {"retry": true}
    }});
    let typed: ErrorBody = round_trip(&body);
    assert_eq!(typed.error.kind.as_deref(), Some("requests"));
    assert_eq!(typed.error.extra["future_error_field"]["retry"], true);

    let numeric =
        json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": 500}});
    let typed: ErrorBody = round_trip(&numeric);
    assert_eq!(typed.error.code, Some(json!(500)));

    assert_eq!(ErrorBody::summary(&body.to_string()), "Rate limit reached");
    assert_eq!(
        ErrorBody::summary("<html>bad gateway</html>"),
        "<html>bad gateway</html>"
    );
    assert!(ErrorBody::parse("not json").is_none());
}

#[test]
fn embeddings_and_models_keep_unknown_fields() {
    let req = json!({"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 8,
                     "encoding_format": "float", "user": "u1"});
    let typed: EmbeddingRequest = round_trip(&req);
    assert_eq!(typed.user.as_deref(), Some("u1"));

    let resp = json!({"object": "list", "model": "text-embedding-3-small",
                      "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                      "usage": {"prompt_tokens": 2, "completion_tokens": 0, "total_tokens": 2},
                      "future": 1});
    round_trip::<EmbeddingResponse>(&resp);

    let models = json!({"object": "list", "data": [
        {"id": "gpt-4.1", "object": "model", "created": 1, "owned_by": "openai", "future": "x"}
    ]});
    let typed: ModelList = round_trip(&models);
    assert_eq!(typed.data[0].id, "gpt-4.1");
}

/// The error of decoding `text` as `T`.
#[track_caller]
fn decode_error<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
    serde_json::from_str::<T>(text)
        .expect_err("must not decode")
        .to_string()
}

#[test]
fn decoding_keeps_the_rules_of_a_derived_impl() {
    // A missing field takes its default; a required one is an error naming it.
    let minimal: ChatCompletion = serde_json::from_str(r#"{"choices": []}"#).expect("parses");
    assert_eq!((minimal.id.as_str(), minimal.created), ("", 0));
    assert!(minimal.usage.is_none() && minimal.extra.is_empty());
    let missing = decode_error::<ChatCompletion>(r#"{"id": "x"}"#);
    assert!(missing.contains("missing field `choices`"), "{missing}");
    let no_role = decode_error::<ChatCompletion>(r#"{"choices": [{"message": {}}]}"#);
    assert!(no_role.contains("missing field `role`"), "{no_role}");
    // A field given twice is an error; `null` only where the type takes it.
    let twice = decode_error::<ChatCompletion>(r#"{"model": "a", "model": "b", "choices": []}"#);
    assert!(twice.contains("duplicate field `model`"), "{twice}");
    let null_id = decode_error::<ChatCompletion>(r#"{"id": null, "choices": []}"#);
    assert!(null_id.contains("invalid type: null"), "{null_id}");
    let nulls: ChatCompletion =
        serde_json::from_str(r#"{"usage": null, "choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": null}]}"#)
            .expect("parses");
    assert!(nulls.usage.is_none() && nulls.choices[0].message.content.is_none());
    // Not an object at all.
    let list = decode_error::<ChatCompletion>("[1, 2]");
    assert!(list.contains("expected struct ChatCompletion"), "{list}");
}

#[test]
fn unknown_fields_keep_their_order_and_the_last_of_a_repeated_one() {
    let typed: ChatCompletionChunk = serde_json::from_str(
        r#"{"zeta": 1, "choices": [], "alpha": {"b": 2, "a": 1}, "mid": null, "zeta": 3}"#,
    )
    .expect("parses");
    let keys: Vec<&str> = typed.extra.keys().map(String::as_str).collect();
    assert_eq!(keys, ["zeta", "alpha", "mid"]);
    assert_eq!(typed.extra["zeta"], 3);
    assert_eq!(
        serde_json::to_string(&typed.extra["alpha"]).expect("serialises"),
        r#"{"b":2,"a":1}"#
    );
}

#[test]
fn a_key_written_with_escapes_is_still_the_field_it_names() {
    // `\u006dodel` is `model`: decoded through the owned-key path, not kept as unknown.
    let typed: ChatCompletion =
        serde_json::from_str(r#"{"\u006dodel": "gpt-4.1", "choices": [], "\u0078": 1}"#)
            .expect("parses");
    assert_eq!(typed.model, "gpt-4.1");
    assert_eq!(typed.extra.len(), 1);
    assert_eq!(typed.extra["x"], 1);
    // From a `Value` (owned keys) the same.
    let from_value: ChatCompletion =
        serde_json::from_value(json!({"model": "gpt-4.1", "choices": [], "x": 1})).expect("parses");
    assert_eq!(from_value, typed);
}
