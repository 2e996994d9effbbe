//! The structured diff of one pair of answers to the same chat request: the stable side's
//! (primary) and the candidate's.

use serde::Serialize;
use serde_json::Value;

use super::schema::satisfies;

/// What one side answered, as the diff reads it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer's JSON body.
    pub body: Value,
    /// Time to the whole answer, ms.
    pub latency_ms: f64,
    /// Its cost, when its model has a price.
    pub cost_usd: Option<f64>,
}

impl Answer {
    fn choice(&self) -> &Value {
        &self.body["choices"][0]
    }

    fn finish_reason(&self) -> Option<&str> {
        self.choice()["finish_reason"].as_str()
    }

    /// `(name, parsed arguments)` of each tool call, in order; arguments that are not JSON
    /// are compared as the text they are.
    fn tool_calls(&self) -> Vec<(String, Value)> {
        self.choice()["message"]["tool_calls"]
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        let f = &c["function"];
                        let name = f["name"].as_str().unwrap_or_default().to_string();
                        let args = match &f["arguments"] {
                            Value::String(s) => {
                                serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                            }
                            other => other.clone(),
                        };
                        (name, args)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn content(&self) -> Option<&str> {
        self.choice()["message"]["content"].as_str()
    }

    fn completion_tokens(&self) -> Option<u64> {
        self.body["usage"]["completion_tokens"].as_u64()
    }
}

/// How the candidate's answer differs from the primary's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairDiff {
    /// Both ended for the same `finish_reason`.
    pub finish_reason_equal: bool,
    /// The same tool calls: names and parsed JSON arguments, in order.
    pub tool_calls_equal: bool,
    /// When the request asked for JSON output (`response_format` `json_object` or
    /// `json_schema`): whether the candidate's content is valid against it.
    pub json_valid: Option<bool>,
    /// Candidate output tokens / primary output tokens, when both report usage.
    pub output_tokens_ratio: Option<f64>,
    /// Candidate latency − primary latency, ms.
    pub latency_delta_ms: f64,
    /// Candidate cost − primary cost, USD, when both are priced.
    pub cost_delta_usd: Option<f64>,
}

impl PairDiff {
    /// Whether the pair differs in something a gate judges or a person should look at.
    pub fn differs(&self) -> bool {
        !self.finish_reason_equal || !self.tool_calls_equal || self.json_valid == Some(false)
    }
}

/// The diff of `candidate` against `primary`, both answers to `request`.
pub(crate) fn diff(request: &Value, primary: &Answer, candidate: &Answer) -> PairDiff {
    let format = &request["response_format"];
    let json_valid = match format["type"].as_str() {
        Some("json_object") => Some(
            candidate
                .content()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .is_some_and(|v| v.is_object()),
        ),
        Some("json_schema") => Some(
            candidate
                .content()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .is_some_and(|v| satisfies(&v, &format["json_schema"]["schema"])),
        ),
        _ => None,
    };
    let output_tokens_ratio = match (primary.completion_tokens(), candidate.completion_tokens()) {
        (Some(p), Some(c)) if p > 0 => Some(c as f64 / p as f64),
        _ => None,
    };
    PairDiff {
        finish_reason_equal: primary.finish_reason() == candidate.finish_reason(),
        tool_calls_equal: primary.tool_calls() == candidate.tool_calls(),
        json_valid,
        output_tokens_ratio,
        latency_delta_ms: candidate.latency_ms - primary.latency_ms,
        cost_delta_usd: primary.cost_usd.zip(candidate.cost_usd).map(|(p, c)| c - p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(message: Value, finish: &str, completion: u64, latency: f64) -> Answer {
        Answer {
            body: json!({"choices": [{"index": 0, "finish_reason": finish, "message": message}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": completion}}),
            latency_ms: latency,
            cost_usd: Some(completion as f64 * 0.001),
        }
    }

    fn tool_call(name: &str, args: &str) -> Value {
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}]})
    }

    #[test]
    fn tool_calls_compare_names_and_parsed_arguments() {
        let req = json!({});
        let p = answer(
            tool_call("get_weather", r#"{"city": "Paris", "unit": "c"}"#),
            "tool_calls",
            10,
            100.0,
        );
        // Same arguments, other spacing and key order: equal.
        let same = answer(
            tool_call("get_weather", r#"{"unit":"c","city":"Paris"}"#),
            "tool_calls",
            20,
            150.0,
        );
        let d = diff(&req, &p, &same);
        assert!(d.tool_calls_equal && d.finish_reason_equal && !d.differs());
        assert_eq!(d.output_tokens_ratio, Some(2.0));
        assert_eq!(d.latency_delta_ms, 50.0);
        assert!((d.cost_delta_usd.unwrap() - 0.01).abs() < 1e-12);
        let other_args = answer(
            tool_call("get_weather", r#"{"city": "Lyon"}"#),
            "tool_calls",
            10,
            1.0,
        );
        assert!(!diff(&req, &p, &other_args).tool_calls_equal);
        let dropped = answer(
            json!({"role": "assistant", "content": "It is sunny."}),
            "stop",
            10,
            1.0,
        );
        let d = diff(&req, &p, &dropped);
        assert!(!d.tool_calls_equal && !d.finish_reason_equal && d.differs());
        assert_eq!(d.json_valid, None, "no JSON asked for");
    }

    #[test]
    fn structured_output_is_checked_against_the_requests_schema() {
        let req = json!({"response_format": {"type": "json_schema", "json_schema": {"name": "p",
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}});
        let p = answer(
            json!({"role": "assistant", "content": "{\"n\": 1}"}),
            "stop",
            5,
            1.0,
        );
        let good = answer(
            json!({"role": "assistant", "content": "{\"n\": 2}"}),
            "stop",
            5,
            1.0,
        );
        let wrong = answer(
            json!({"role": "assistant", "content": "{\"m\": 2}"}),
            "stop",
            5,
            1.0,
        );
        let prose = answer(
            json!({"role": "assistant", "content": "n is 2"}),
            "stop",
            5,
            1.0,
        );
        assert_eq!(diff(&req, &p, &good).json_valid, Some(true));
        assert_eq!(diff(&req, &p, &wrong).json_valid, Some(false));
        assert_eq!(diff(&req, &p, &prose).json_valid, Some(false));
        let obj = json!({"response_format": {"type": "json_object"}});
        assert_eq!(diff(&obj, &p, &good).json_valid, Some(true));
        assert_eq!(diff(&obj, &p, &prose).json_valid, Some(false));
    }
}
