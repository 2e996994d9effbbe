//! Spans of one request and its attempts, with the OpenTelemetry GenAI attributes plus
//! turnout's own; exported when the request ends.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Deserialize;

use super::export::Exporter;
use super::span::{Kind, SpanData, StatusCode, Value};
use crate::config::Config;
use crate::environment::Side;
use crate::error::Error;
use crate::rollout::{RolloutState, RolloutStatus};

/// The span factory of one client; inert without an `otel` config section.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracer {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    exporter: Arc<Exporter>,
    /// The label of each side (blue, green).
    labels: [Option<String>; 2],
}

impl Tracer {
    pub fn new(config: &Config) -> Self {
        let Some(otel) = &config.otel else {
            return Self::default();
        };
        let envs = &config.environments;
        Self {
            shared: Some(Arc::new(Shared {
                exporter: Arc::new(Exporter::new(otel.clone())),
                labels: [envs.blue.label_str(), envs.green.label_str()]
                    .map(|l| l.map(str::to_string)),
            })),
        }
    }

    /// Starts the trace of a request to `path` asking for `model`; `rollout` is read only
    /// when tracing is on.
    pub fn request(
        &self,
        path: &str,
        model: Option<&str>,
        rollout: impl FnOnce() -> Option<RolloutStatus>,
    ) -> RequestTrace {
        let Some(shared) = &self.shared else {
            return RequestTrace { open: None };
        };
        let step = rollout()
            .filter(|r| matches!(r.state, RolloutState::Running | RolloutState::Paused))
            .map(|r| r.step);
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        rand::fill(&mut trace_id);
        rand::fill(&mut span_id);
        RequestTrace {
            open: Some(Box::new(Open {
                shared: Arc::clone(shared),
                trace_id,
                span_id,
                started: SystemTime::now(),
                operation: operation(path),
                request_model: model.map(str::to_string),
                rollout_step: step,
                state: Mutex::new(State::default()),
            })),
        }
    }
}

/// `gen_ai.operation.name` of an endpoint.
fn operation(path: &str) -> String {
    match path {
        "/chat/completions" | "/responses" => "chat".to_string(),
        "/embeddings" => "embeddings".to_string(),
        "/completions" => "text_completion".to_string(),
        other => other.trim_start_matches('/').to_string(),
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The trace of one request, carried by its ticket; inert when tracing is off.
#[derive(Debug)]
pub(crate) struct RequestTrace {
    open: Option<Box<Open>>,
}

#[derive(Debug)]
struct Open {
    shared: Arc<Shared>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    started: SystemTime,
    operation: String,
    request_model: Option<String>,
    rollout_step: Option<usize>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    attempts: Vec<SpanData>,
    last: Option<(Side, Option<String>)>,
    usage: Option<(u64, u64)>,
    response_model: Option<String>,
    ended: bool,
}

impl Open {
    fn span(&self, name: String, kind: Kind, parent: Option<[u8; 8]>) -> SpanData {
        let mut span_id = self.span_id;
        if parent.is_some() {
            rand::fill(&mut span_id);
        }
        let mut span = SpanData {
            trace_id: self.trace_id,
            span_id,
            parent_span_id: parent,
            name,
            kind,
            start_unix_nanos: 0,
            end_unix_nanos: 0,
            attributes: Vec::new(),
            status: StatusCode::Ok,
            status_message: None,
        };
        span.set("gen_ai.operation.name", Value::Str(self.operation.clone()));
        span.set("gen_ai.system", Value::Str("openai".to_string()));
        if let Some(step) = self.rollout_step {
            span.set(
                "turnout.rollout.step",
                Value::Int(i64::try_from(step).unwrap_or(i64::MAX)),
            );
        }
        span
    }

    fn side(&self, span: &mut SpanData, side: Side) {
        span.set("turnout.environment", Value::Str(side.as_str().to_string()));
        if let Some(label) = &self.shared.labels[side.index()] {
            span.set("turnout.label", Value::Str(label.clone()));
        }
    }
}

fn name(operation: &str, model: Option<&str>) -> String {
    match model {
        Some(m) => format!("{operation} {m}"),
        None => operation.to_string(),
    }
}

/// Why an attempt was made, from the one before it.
fn reason(
    previous: Option<&(Side, Option<String>)>,
    side: Side,
    model: Option<&str>,
) -> &'static str {
    match previous {
        None => "first",
        Some((s, _)) if *s != side => "failover",
        Some((_, m)) if m.as_deref() != model => "fallback",
        Some(_) => "retry",
    }
}

#[derive(Deserialize)]
struct AnsweredModel {
    model: Option<String>,
}

impl RequestTrace {
    /// An upstream attempt ended after `latency`.
    pub fn attempt(
        &self,
        side: Side,
        model: Option<&str>,
        result: Result<(), &Error>,
        latency: Duration,
    ) {
        let Some(open) = &self.open else { return };
        let end = SystemTime::now();
        let mut state = open.state.lock();
        let number = state.attempts.len() + 1;
        let why = reason(state.last.as_ref(), side, model);
        let mut span = open.span(
            name(&open.operation, model),
            Kind::Client,
            Some(open.span_id),
        );
        span.start_unix_nanos = unix_nanos(end.checked_sub(latency).unwrap_or(end));
        span.end_unix_nanos = unix_nanos(end);
        if let Some(m) = model {
            span.set("gen_ai.request.model", Value::Str(m.to_string()));
        }
        open.side(&mut span, side);
        span.set(
            "turnout.attempt",
            Value::Int(i64::try_from(number).unwrap_or(i64::MAX)),
        );
        span.set("turnout.reason", Value::Str(why.to_string()));
        if let Err(e) = result {
            span.status = StatusCode::Error;
            span.status_message = Some(e.kind().as_str().to_string());
            let kind = match e.status() {
                Some(status) => {
                    span.set("http.response.status_code", Value::Int(i64::from(status)));
                    status.to_string()
                }
                None => e.kind().as_str().to_string(),
            };
            span.set("error.type", Value::Str(kind));
        }
        state.attempts.push(span);
        state.last = Some((side, model.map(str::to_string)));
    }

    /// The answer's token usage.
    pub fn usage(&self, prompt: u64, completion: u64) {
        if let Some(open) = &self.open {
            open.state.lock().usage = Some((prompt, completion));
        }
    }

    /// A non-streaming answer's body: the model it names is `gen_ai.response.model`.
    pub fn answered(&self, body: &[u8]) {
        let Some(open) = &self.open else { return };
        if let Ok(AnsweredModel { model: Some(m) }) = serde_json::from_slice(body) {
            open.state.lock().response_model = Some(m);
        }
    }

    /// The request ended with `outcome` (a metrics outcome label), served last by `side`
    /// with `model`: its span and its attempts' go to the exporter.
    pub fn end(&self, side: Option<Side>, model: Option<&str>, outcome: &str) {
        let Some(open) = &self.open else { return };
        let mut state = open.state.lock();
        if std::mem::replace(&mut state.ended, true) {
            return;
        }
        let ok = matches!(outcome, "success" | "cached");
        let response_model = state
            .response_model
            .clone()
            .or_else(|| model.map(str::to_string));
        let mut span = open.span(
            name(&open.operation, open.request_model.as_deref()),
            Kind::Internal,
            None,
        );
        span.start_unix_nanos = unix_nanos(open.started);
        span.end_unix_nanos = unix_nanos(SystemTime::now());
        if let Some(m) = &open.request_model {
            span.set("gen_ai.request.model", Value::Str(m.clone()));
        }
        if let Some(side) = side {
            open.side(&mut span, side);
        }
        span.set(
            "turnout.attempts",
            Value::Int(i64::try_from(state.attempts.len()).unwrap_or(i64::MAX)),
        );
        span.set("turnout.outcome", Value::Str(outcome.to_string()));
        if let Some(why) = state.attempts.last().and_then(|a| {
            a.attributes
                .iter()
                .find(|(k, _)| *k == "turnout.reason")
                .map(|(_, v)| v.clone())
        }) {
            span.set("turnout.reason", why);
        }
        let usage = state.usage;
        let mut finals: Vec<&mut SpanData> = vec![&mut span];
        if ok && let Some(last) = state.attempts.last_mut() {
            finals.push(last);
        }
        for s in finals {
            if ok && let Some(m) = &response_model {
                s.set("gen_ai.response.model", Value::Str(m.clone()));
            }
            if let Some((input, output)) = usage {
                s.set(
                    "gen_ai.usage.input_tokens",
                    Value::Int(i64::try_from(input).unwrap_or(i64::MAX)),
                );
                s.set(
                    "gen_ai.usage.output_tokens",
                    Value::Int(i64::try_from(output).unwrap_or(i64::MAX)),
                );
            }
        }
        if !ok {
            span.status = StatusCode::Error;
            span.status_message = Some(outcome.to_string());
        }
        let mut spans = std::mem::take(&mut state.attempts);
        spans.push(span);
        drop(state);
        open.shared.exporter.submit(spans);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_say_why_they_were_made() {
        assert_eq!(reason(None, Side::Blue, Some("m")), "first");
        let prev = (Side::Blue, Some("m".to_string()));
        assert_eq!(reason(Some(&prev), Side::Green, Some("m")), "failover");
        assert_eq!(reason(Some(&prev), Side::Blue, Some("n")), "fallback");
        assert_eq!(reason(Some(&prev), Side::Blue, Some("m")), "retry");
        assert_eq!(operation("/chat/completions"), "chat");
        assert_eq!(operation("/embeddings"), "embeddings");
        assert_eq!(operation("/models"), "models");
    }
}
