//! `turnout smoke ENV`: a few real requests pinned to one side — the models list, a one-token
//! chat completion, the same streamed, an embedding when a model is named — each checked for
//! status, shape and latency. A pipeline stage before any traffic moves.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};
use turnout::{Client, Error, Method, RequestOptions, Side};

use crate::pinned;

/// Flags of `turnout smoke`.
#[derive(Debug, Args)]
pub struct SmokeArgs {
    /// The side to test: blue or green. Every request is pinned to it (no failover).
    env: Side,
    /// The app's config file (YAML, TOML or JSON).
    #[arg(long, short, env = "TURNOUT_CONFIG", default_value = "turnout.yaml")]
    config: PathBuf,
    /// The chat model to ask [the first non-embedding model the side lists].
    #[arg(long, env = "TURNOUT_SMOKE_MODEL")]
    model: Option<String>,
    /// The embedding model to ask; without it the embedding check is skipped.
    #[arg(long, env = "TURNOUT_SMOKE_EMBEDDING_MODEL")]
    embedding_model: Option<String>,
    /// A check slower than this fails, in ms (streams: to their end).
    #[arg(long, default_value_t = 10_000.0)]
    max_latency_ms: f64,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One row of the report.
#[derive(Debug)]
struct Check {
    name: &'static str,
    verdict: Verdict,
    /// `ok`, `HTTP 401`, `timeout`, … (`-` when skipped).
    status: String,
    latency_ms: Option<f64>,
    detail: String,
}

impl Check {
    fn skip(name: &'static str, why: &str) -> Self {
        Check {
            name,
            verdict: Verdict::Skip,
            status: "-".to_string(),
            latency_ms: None,
            detail: why.to_string(),
        }
    }

    fn failed(name: &'static str, latency: Duration, e: &Error) -> Self {
        let status = match e.status() {
            Some(code) => format!("HTTP {code}"),
            None => e.kind().as_str().to_string(),
        };
        Check {
            name,
            verdict: Verdict::Fail,
            status,
            latency_ms: Some(ms(latency)),
            detail: e.to_string(),
        }
    }

    /// A check whose answer arrived: its shape decides, then its latency.
    fn answered(
        name: &'static str,
        latency: Duration,
        limit_ms: f64,
        shape: Result<String, String>,
    ) -> Self {
        let latency_ms = ms(latency);
        let (verdict, detail) = match shape {
            Err(why) => (Verdict::Fail, format!("bad answer: {why}")),
            Ok(detail) if latency_ms > limit_ms => (
                Verdict::Fail,
                format!("{detail}; slower than --max-latency-ms {limit_ms}"),
            ),
            Ok(detail) => (Verdict::Pass, detail),
        };
        Check {
            name,
            verdict,
            status: "ok".to_string(),
            latency_ms: Some(latency_ms),
            detail,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "check": self.name,
            "result": self.verdict.as_str().to_lowercase(),
            "status": self.status,
            "latency_ms": self.latency_ms,
            "detail": self.detail,
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs the checks; 0 when all passed, 1 when one failed, 2 for a bad config.
pub async fn run(args: SmokeArgs) -> ExitCode {
    let (client, config) = match pinned::client(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("turnout smoke: {e}");
            return ExitCode::from(2);
        }
    };
    let checks = checks(&client, &args).await;
    let costs = client.costs();
    client.close();
    let passed = checks.iter().all(|c| c.verdict != Verdict::Fail);
    let total = &costs.total;
    if args.json {
        let doc = json!({
            "environment": args.env,
            "label": config.environments.get(args.env).label_str(),
            "passed": passed,
            "checks": checks.iter().map(Check::to_json).collect::<Vec<_>>(),
            "prompt_tokens": total.prompt_tokens,
            "completion_tokens": total.completion_tokens,
            "cost_usd": total.cost_usd,
            "unpriced_requests": total.unpriced_requests,
        });
        pinned::emit(&format!("{doc:#}\n"));
    } else {
        let mut out = format!("turnout smoke: {}\n", pinned::describe(&config, args.env));
        table(&mut out, &checks);
        let unpriced = if total.unpriced_requests > 0 {
            format!(
                " ({} answers of models without a price)",
                total.unpriced_requests
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "spent: {} tokens ({} prompt, {} completion), ${:.6} estimated{unpriced}",
            total.prompt_tokens + total.completion_tokens,
            total.prompt_tokens,
            total.completion_tokens,
            total.cost_usd
        );
        let count = |v| checks.iter().filter(|c| c.verdict == v).count();
        let _ = writeln!(
            out,
            "result: {} ({} passed, {} failed, {} skipped)",
            if passed { "PASS" } else { "FAIL" },
            count(Verdict::Pass),
            count(Verdict::Fail),
            count(Verdict::Skip)
        );
        pinned::emit(&out);
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn table(out: &mut String, checks: &[Check]) {
    let _ = writeln!(
        out,
        "{:<10} {:<6} {:<10} {:>10}  detail",
        "check", "result", "status", "latency"
    );
    for c in checks {
        let latency = c
            .latency_ms
            .map_or_else(|| "-".to_string(), |l| format!("{l:.1} ms"));
        let _ = writeln!(
            out,
            "{:<10} {:<6} {:<10} {:>10}  {}",
            c.name,
            c.verdict.as_str(),
            c.status,
            latency,
            c.detail
        );
    }
}

async fn checks(client: &Client, args: &SmokeArgs) -> Vec<Check> {
    let pin = || RequestOptions::default().environment(args.env);
    let limit = args.max_latency_ms;
    let mut out = Vec::new();

    let started = Instant::now();
    let listed = match client
        .request_json(Method::GET, "/models", None, pin())
        .await
    {
        Ok(answer) => {
            let shape = pinned_to(&answer.route, args.env).and_then(|()| models_shape(&answer));
            let ids = shape
                .as_ref()
                .map(|(_, ids)| ids.clone())
                .unwrap_or_default();
            out.push(Check::answered(
                "models",
                started.elapsed(),
                limit,
                shape.map(|(detail, _)| detail),
            ));
            ids
        }
        Err(e) => {
            out.push(Check::failed("models", started.elapsed(), &e));
            Vec::new()
        }
    };

    let model = args
        .model
        .clone()
        .or_else(|| listed.iter().find(|id| !id.contains("embed")).cloned());
    match &model {
        Some(model) => {
            out.push(chat(client, model, pin(), limit, args.env).await);
            out.push(stream(client, model, pin(), limit, args.env).await);
        }
        None => {
            let why = "no chat model: the side lists none; pass --model";
            out.push(Check {
                verdict: Verdict::Fail,
                ..Check::skip("chat", why)
            });
            out.push(Check {
                verdict: Verdict::Fail,
                ..Check::skip("stream", why)
            });
        }
    }
    match &args.embedding_model {
        Some(model) => out.push(embedding(client, model, pin(), limit, args.env).await),
        None => out.push(Check::skip("embedding", "no --embedding-model given")),
    }
    out
}

fn pinned_to(route: &turnout::RouteInfo, side: Side) -> Result<(), String> {
    if route.environment == side {
        Ok(())
    } else {
        Err(format!("answered by {}, not {side}", route.environment))
    }
}

fn chat_body(model: &str) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": "Reply with OK."}],
        "max_tokens": 1,
    })
}

async fn chat(
    client: &Client,
    model: &str,
    options: RequestOptions,
    limit: f64,
    side: Side,
) -> Check {
    let started = Instant::now();
    match client
        .request_json(
            Method::POST,
            "/chat/completions",
            Some(chat_body(model)),
            options,
        )
        .await
    {
        Ok(answer) => {
            let shape = pinned_to(&answer.route, side).and_then(|()| chat_shape(&answer));
            Check::answered("chat", started.elapsed(), limit, shape)
        }
        Err(e) => Check::failed("chat", started.elapsed(), &e),
    }
}

async fn stream(
    client: &Client,
    model: &str,
    options: RequestOptions,
    limit: f64,
    side: Side,
) -> Check {
    let started = Instant::now();
    let mut body = chat_body(model);
    body["stream"] = Value::Bool(true);
    let mut events = match client
        .stream_json(Method::POST, "/chat/completions", Some(body), options)
        .await
    {
        Ok(s) => s,
        Err(e) => return Check::failed("stream", started.elapsed(), &e),
    };
    let first_ms = events.route().latency_ms;
    let mut shape = pinned_to(events.route(), side);
    let mut chunks = 0usize;
    let mut deltas = 0usize;
    while let Some(event) = events.next().await {
        match event {
            Ok(chunk) => {
                chunks += 1;
                if shape.is_ok() {
                    shape = chunk_shape(&chunk).map(|delta| deltas += usize::from(delta));
                }
            }
            Err(e) => return Check::failed("stream", started.elapsed(), &e),
        }
    }
    let shape = shape.and_then(|()| {
        if deltas == 0 {
            return Err("no chunk with choices[0].delta".to_string());
        }
        Ok(format!("{chunks} chunks, first after {first_ms:.1} ms"))
    });
    Check::answered("stream", started.elapsed(), limit, shape)
}

async fn embedding(
    client: &Client,
    model: &str,
    options: RequestOptions,
    limit: f64,
    side: Side,
) -> Check {
    let started = Instant::now();
    let body = json!({"model": model, "input": "turnout smoke"});
    match client
        .request_json(Method::POST, "/embeddings", Some(body), options)
        .await
    {
        Ok(answer) => {
            let shape = pinned_to(&answer.route, side).and_then(|()| embedding_shape(&answer));
            Check::answered("embedding", started.elapsed(), limit, shape)
        }
        Err(e) => Check::failed("embedding", started.elapsed(), &e),
    }
}

/// `{"data": [{"id": …}, …]}` with at least one model: the detail and the ids.
fn models_shape(answer: &Value) -> Result<(String, Vec<String>), String> {
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or("no data array")?;
    let ids: Vec<String> = data
        .iter()
        .map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
        .collect::<Option<_>>()
        .ok_or("a model without an id")?;
    if ids.is_empty() {
        return Err("an empty models list".to_string());
    }
    Ok((format!("{} models", ids.len()), ids))
}

/// A `chat.completion` with a choice holding an assistant message, and its usage.
fn chat_shape(answer: &Value) -> Result<String, String> {
    let choice = answer
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("no choices[0]")?;
    let message = choice.get("message").ok_or("no choices[0].message")?;
    if message.get("role").and_then(Value::as_str) != Some("assistant") {
        return Err("choices[0].message.role is not assistant".to_string());
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let model = answer.get("model").and_then(Value::as_str).unwrap_or("?");
    let tokens = answer
        .get("usage")
        .and_then(|u| u.get("total_tokens"))
        .and_then(Value::as_u64)
        .ok_or("no usage.total_tokens")?;
    Ok(format!("{model}, finish {finish}, {tokens} tokens"))
}

/// Whether a chunk (which must hold a `choices` array) carries a delta.
fn chunk_shape(chunk: &Value) -> Result<bool, String> {
    let choices = chunk
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("a chunk without a choices array")?;
    Ok(choices.first().is_some_and(|c| c.get("delta").is_some()))
}

/// `{"data": [{"embedding": [numbers…]}]}`.
fn embedding_shape(answer: &Value) -> Result<String, String> {
    let vector = answer
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|e| e.get("embedding"))
        .ok_or("no data[0].embedding")?;
    let dims = match vector {
        Value::Array(v) if !v.is_empty() && v.iter().all(Value::is_number) => v.len(),
        // encoding_format base64 is never asked for here, so a string is a wrong shape.
        _ => return Err("data[0].embedding is not a non-empty array of numbers".to_string()),
    };
    let model = answer.get("model").and_then(Value::as_str).unwrap_or("?");
    Ok(format!("{model}, {dims} dimensions"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_reject_what_is_not_an_answer() {
        assert!(models_shape(&json!({"data": []})).is_err());
        assert!(models_shape(&json!({"data": [{"object": "model"}]})).is_err());
        let (detail, ids) =
            models_shape(&json!({"data": [{"id": "a"}, {"id": "b"}]})).unwrap_or_default();
        assert_eq!((detail.as_str(), ids.len()), ("2 models", 2));
        assert!(chat_shape(&json!({"choices": []})).is_err());
        assert!(
            chat_shape(
                &json!({"choices": [{"message": {"role": "user"}}], "usage": {"total_tokens": 1}})
            )
            .is_err()
        );
        assert!(
            chat_shape(&json!({"choices": [{"message": {"role": "assistant"}}]})).is_err(),
            "usage is required"
        );
        assert!(chunk_shape(&json!({"id": "x"})).is_err());
        assert_eq!(chunk_shape(&json!({"choices": [], "usage": {}})), Ok(false));
        assert_eq!(chunk_shape(&json!({"choices": [{"delta": {}}]})), Ok(true));
        assert!(embedding_shape(&json!({"data": [{"embedding": "AAAA"}]})).is_err());
        assert!(embedding_shape(&json!({"data": [{"embedding": [0.5, 1]}]})).is_ok());
    }
}
