//! Values out of core, in Node's shape: camelCase keys, JSON-able.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::errors::config;

/// `fallback_from` → `fallbackFrom`.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every object key to camelCase, except the keys of maps found under a key in
/// `opaque` (model names, metadata: user data), whose values are still converted.
pub fn camelize(value: Value, opaque: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if opaque.contains(&k.as_str()) {
                        match v {
                            Value::Object(inner) => Value::Object(
                                inner
                                    .into_iter()
                                    .map(|(ik, iv)| (ik, camelize(iv, opaque)))
                                    .collect(),
                            ),
                            other => camelize(other, opaque),
                        }
                    } else {
                        camelize(v, opaque)
                    };
                    (camel_case(&k), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| camelize(v, opaque)).collect())
        }
        other => other,
    }
}

/// Serializes a core value and camelizes it.
pub fn to_js<T: Serialize>(value: &T) -> napi::Result<Value> {
    to_js_keeping(value, &[])
}

/// Serializes a core value and camelizes it, keeping the keys of maps under `opaque`.
pub fn to_js_keeping<T: Serialize>(value: &T, opaque: &[&str]) -> napi::Result<Value> {
    serde_json::to_value(value)
        .map(|v| camelize(v, opaque))
        .map_err(|e| config(format!("cannot convert a value for JavaScript: {e}")))
}

/// A traffic state, with the weight in percent as well as basis points.
pub fn traffic(state: &turnout::routing::TrafficState) -> napi::Result<Value> {
    let mut v = to_js(state)?;
    if let Value::Object(map) = &mut v {
        map.insert("canaryWeight".into(), json!(state.canary_weight()));
    }
    Ok(v)
}

/// A checkpoint; its `content` stays in the config file's shape, as it was hashed.
pub fn checkpoint(cp: &turnout::Checkpoint) -> napi::Result<Value> {
    let mut v = to_js(cp)?;
    if let Value::Object(map) = &mut v {
        map.insert("content".into(), cp.content.clone());
    }
    Ok(v)
}

/// How a request was routed.
pub fn route(route: &turnout::RouteInfo) -> Value {
    json!({
        "environment": route.environment.as_str(),
        "label": route.label,
        "model": route.model,
        "fallbackFrom": route.fallback_from,
        "upstreamModel": route.upstream_model,
        "reason": route.reason,
        "attempts": route.attempts,
        "latencyMs": route.latency_ms,
        "costUsd": route.cost_usd,
        "cached": route.cached,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camelizes_keys_but_not_opaque_maps() {
        assert_eq!(camel_case("max_p99_latency_ms"), "maxP99LatencyMs");
        assert_eq!(camel_case("_private"), "_private");
        let v = camelize(
            json!({"by_model": {"gpt_4o": {"cost_usd": 1}}, "from_active": "blue"}),
            &["by_model"],
        );
        assert_eq!(
            v,
            json!({"byModel": {"gpt_4o": {"costUsd": 1}}, "fromActive": "blue"})
        );
    }
}
