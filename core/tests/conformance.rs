//! The shared sticky-bucketing vectors of `tests/conformance/bucketing.json`, produced by an
//! independent murmur3 (`generate_bucketing.py`), checked against the Rust implementation.

use serde_json::Value;
use turnout::routing::{bucket, is_candidate};

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/conformance/bucketing.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("bucketing.json is JSON");
    doc["vectors"].as_array().expect("a vectors array").clone()
}

#[test]
fn every_bucketing_vector_matches() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 30,
        "only {} vectors in bucketing.json",
        vectors.len()
    );
    let mut failures = Vec::new();
    for v in &vectors {
        let salt = v["salt"].as_str().expect("salt");
        let key = v["key"].as_str().expect("key");
        let weight = u32::try_from(v["weight_bp"].as_u64().expect("weight_bp")).expect("u32");
        let want_bucket = u32::try_from(v["bucket"].as_u64().expect("bucket")).expect("u32");
        let want_candidate = match v["side"].as_str().expect("side") {
            "candidate" => true,
            "active" => false,
            other => panic!("side must be candidate or active, got {other:?}"),
        };
        let got_bucket = bucket(salt, key);
        let got_candidate = is_candidate(salt, key, weight);
        if got_bucket != want_bucket || got_candidate != want_candidate {
            failures.push(format!(
                "salt={salt:?} key={key:?} weight_bp={weight}: bucket {got_bucket} (want \
                 {want_bucket}), candidate {got_candidate} (want {want_candidate})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_vectors_cover_the_edge_cases() {
    let vectors = vectors();
    let has = |f: &dyn Fn(&Value) -> bool| vectors.iter().any(f);
    assert!(has(&|v| v["key"] == ""), "an empty key");
    assert!(
        has(&|v| v["key"].as_str().is_some_and(|k| !k.is_ascii())),
        "a unicode key"
    );
    assert!(has(&|v| v["weight_bp"] == 0), "weight 0");
    assert!(has(&|v| v["weight_bp"] == 10_000), "weight 10000");
    assert!(has(&|v| v["weight_bp"] == v["bucket"]), "weight == bucket");
    assert!(
        has(&|v| v["weight_bp"].as_u64() == v["bucket"].as_u64().map(|b| b + 1)),
        "weight == bucket + 1"
    );
    assert!(has(&|v| v["side"] == "candidate") && has(&|v| v["side"] == "active"));
}
