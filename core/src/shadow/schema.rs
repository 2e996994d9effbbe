//! A minimal JSON-schema check for structured outputs: `type`, `properties`, `required`,
//! `additionalProperties: false`, `items` and `enum` — what `response_format.json_schema`
//! schemas use. Anything else in a schema is not checked (a pass, never a false failure).

use serde_json::Value;

/// Whether `value` satisfies `schema` as far as the keywords above go.
pub(crate) fn satisfies(value: &Value, schema: &Value) -> bool {
    let Some(schema) = schema.as_object() else {
        return true;
    };
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return false;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            return false;
        }
    }
    if let Value::Object(map) = value {
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(required) = schema.get("required").and_then(Value::as_array)
            && required
                .iter()
                .filter_map(Value::as_str)
                .any(|k| !map.contains_key(k))
        {
            return false;
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, v) in map {
            match props.and_then(|p| p.get(k)) {
                Some(sub) if !satisfies(v, sub) => return false,
                None if closed => return false,
                _ => {}
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        return items.iter().all(|v| satisfies(v, sub));
    }
    true
}

fn is_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_keywords_structured_outputs_use_are_checked() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"enum": ["a", "b"]}
            },
            "required": ["name", "age"],
            "additionalProperties": false
        });
        assert!(satisfies(
            &json!({"name": "x", "age": 3, "tags": ["t"], "kind": "a"}),
            &schema
        ));
        assert!(!satisfies(&json!({"name": "x"}), &schema), "required");
        assert!(
            !satisfies(&json!({"name": "x", "age": 3.5}), &schema),
            "integer"
        );
        assert!(
            !satisfies(&json!({"name": "x", "age": 3, "extra": 1}), &schema),
            "closed"
        );
        assert!(
            !satisfies(&json!({"name": "x", "age": 3, "tags": [1]}), &schema),
            "items"
        );
        assert!(
            !satisfies(&json!({"name": "x", "age": 3, "kind": "c"}), &schema),
            "enum"
        );
        assert!(!satisfies(&json!([1]), &schema), "type");
        assert!(satisfies(
            &json!(1),
            &json!({"type": ["string", "integer"]})
        ));
        assert!(
            satisfies(&json!({"any": 1}), &json!({"not": {}})),
            "unknown keywords pass"
        );
    }
}
