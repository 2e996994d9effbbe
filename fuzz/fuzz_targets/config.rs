//! The config loader on YAML, TOML and JSON texts: never panics; loading a text and loading the
//! value it parses to agree; an error never shows a secret; a loaded config validates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use turnout::Config;
use turnout::config::Format;

/// The text parsed the way the loader parses it (same libraries, BOM dropped, YAML merges).
fn parse(text: &str, format: Format) -> Option<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Yaml => {
            let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
            yaml.apply_merge().ok()?;
            serde_json::to_value(yaml).ok()
        }
        Format::Toml => toml::from_str(text).ok(),
        Format::Json => serde_json::from_str(text).ok(),
    }
}

/// The strings the loader treats as secrets (under `api_key` or `headers`) that are plainly
/// words: long enough to be redacted and unable to overlap the `[redacted]` marker.
fn secrets(value: &Value, secret: bool, out: &mut Vec<String>) {
    match value {
        Value::String(s)
            if secret
                && s.chars().count() >= 8
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !"redacted".contains(s.as_str()) =>
        {
            out.push(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| secrets(v, secret, out)),
        Value::Object(map) => {
            for (k, v) in map {
                secrets(v, secret || k == "api_key" || k == "headers", out);
            }
        }
        _ => {}
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = match selector % 3 {
        0 => Format::Yaml,
        1 => Format::Toml,
        _ => Format::Json,
    };
    let loaded = Config::from_str(text, format);
    if let Ok(config) = &loaded {
        assert!(
            config.validate().is_ok(),
            "a loaded config fails validation"
        );
    }
    let Some(value) = parse(text, format) else {
        assert!(loaded.is_err(), "text that does not parse was loaded");
        return;
    };
    let from_value = Config::from_value(value.clone());
    match (&loaded, &from_value) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "text and value differ"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "errors differ"),
        _ => panic!("text and value disagree: {loaded:?} vs {from_value:?}"),
    }
    if let Err(e) = &loaded {
        let message = e.to_string();
        let mut found = Vec::new();
        secrets(&value, false, &mut found);
        for secret in found {
            assert!(
                !message.contains(&secret),
                "error shows a secret: {message}"
            );
        }
    }
});
