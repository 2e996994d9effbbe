//! The recording hot path (handles resolved once) against the exposition it must produce.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Metrics;
use super::Outcome;
use super::labels::{KindLabels, RequestLabels, SideLabels};
use super::recorder::{DURATION_BUCKETS, TTFT_BUCKETS};
use crate::cost::Tokens;
use crate::environment::Side;

const LABELS: [Option<&str>; 2] = [Some("v1"), None];

/// What recording did before handles: a label-set lookup in the family on every call. Models
/// stay under the bound here, so their label is their name.
struct Reference {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<SideLabels, Histogram, fn() -> Histogram>,
    ttft: Family<SideLabels, Histogram, fn() -> Histogram>,
    tokens: Family<KindLabels, Counter>,
}

impl Reference {
    fn new() -> Self {
        let mut r = Self {
            registry: Registry::default(),
            requests: Family::default(),
            duration: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            ttft: Family::new_with_constructor(|| Histogram::new(TTFT_BUCKETS)),
            tokens: Family::default(),
        };
        r.registry
            .register("turnout_requests", "", r.requests.clone());
        r.registry
            .register("turnout_request_duration_seconds", "", r.duration.clone());
        r.registry
            .register("turnout_ttft_seconds", "", r.ttft.clone());
        r.registry.register("turnout_tokens", "", r.tokens.clone());
        for kind in ["prompt", "completion"] {
            let _ = r.tokens.get_or_create(&KindLabels { kind });
        }
        r
    }

    fn request(&self, environment: Option<Side>, model: Option<&str>, outcome: Outcome) {
        let labels = RequestLabels {
            environment: environment.map_or("", Side::as_str),
            label: environment
                .and_then(|s| LABELS[s.index()])
                .unwrap_or_default()
                .to_string(),
            model: model.unwrap_or_default().to_string(),
            outcome: outcome.as_str(),
        };
        self.requests.get_or_create(&labels).inc();
    }

    fn latency(&self, environment: Side, duration: Duration, ttft: Option<Duration>) {
        let side = SideLabels {
            environment: environment.as_str(),
        };
        self.duration
            .get_or_create(&side)
            .observe(duration.as_secs_f64());
        if let Some(ttft) = ttft {
            self.ttft.get_or_create(&side).observe(ttft.as_secs_f64());
        }
    }

    fn usage(&self, usage: Tokens) {
        for (kind, n) in [("prompt", usage.prompt), ("completion", usage.completion)] {
            self.tokens.get_or_create(&KindLabels { kind }).inc_by(n);
        }
    }

    fn samples(&self) -> Vec<String> {
        let mut text = String::new();
        encode(&mut text, &self.registry).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }
}

/// The sample lines of the families the hot path records, sorted: a family's series come out
/// in its hash map's order, which differs from one registry to the next.
fn hot_samples(m: &Metrics) -> Vec<String> {
    let mut lines: Vec<String> = m
        .encode()
        .lines()
        .filter(|l| {
            [
                "turnout_requests_total",
                "turnout_request_duration_seconds_",
                "turnout_ttft_seconds_",
                "turnout_tokens_total",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// The value of the series written exactly as `series`, if it is exposed.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The exposed `turnout_tokens_total` of prompts and of completions.
fn token_totals(text: &str) -> (Option<f64>, Option<f64>) {
    let kind = |k: &str| value(text, &format!(r#"turnout_tokens_total{{kind="{k}"}}"#));
    (kind("prompt"), kind("completion"))
}

fn tokens(prompt: u64, completion: u64) -> Tokens {
    Tokens {
        prompt,
        completion,
        ..Tokens::default()
    }
}

#[test]
fn handles_expose_what_label_set_lookups_did() {
    let m = Metrics::new(LABELS);
    let r = Reference::new();
    let sides = [None, Some(Side::Blue), Some(Side::Green)];
    let models = [None, Some("gpt-4o"), Some("gpt-4o-mini"), Some("")];
    let outcomes = [
        Outcome::Success,
        Outcome::Failure,
        Outcome::RateLimited,
        Outcome::Cached,
        Outcome::Unavailable,
    ];
    for i in 0..200_u64 {
        let (side, model) = (sides[(i % 3) as usize], models[(i % 4) as usize]);
        let outcome = outcomes[(i * 7 % 5) as usize];
        m.request(side, model, outcome);
        r.request(side, model, outcome);
        if let Some(side) = side.filter(|_| i % 2 == 0) {
            let duration = Duration::from_millis(i * 37);
            let ttft = (i % 4 == 0).then(|| Duration::from_millis(i * 3));
            m.latency(side, duration, ttft);
            r.latency(side, duration, ttft);
        }
        if i % 5 == 0 {
            m.usage(tokens(i, 2 * i), None);
            r.usage(tokens(i, 2 * i));
        }
    }
    let (got, want) = (hot_samples(&m), r.samples());
    assert!(got.len() > 50, "too few samples to compare: {got:?}");
    assert_eq!(got, want);
}

#[test]
fn series_appear_when_first_recorded() {
    let m = Metrics::new(LABELS);
    let text = m.encode();
    assert!(!text.contains("turnout_requests_total{"), "{text}");
    assert!(!text.contains("turnout_request_duration_seconds_count{"));
    assert!(!text.contains("turnout_ttft_seconds_count{"));
    assert_eq!(token_totals(&text), (Some(0.0), Some(0.0)));

    m.request(Some(Side::Blue), Some("gpt"), Outcome::Success);
    m.request(Some(Side::Blue), Some("gpt"), Outcome::Success);
    m.latency(Side::Green, Duration::from_millis(300), None);
    m.usage(tokens(10, 4), Some(0.5));
    let text = m.encode();
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("turnout_requests_total{"))
        .collect();
    assert_eq!(
        requests,
        [
            r#"turnout_requests_total{environment="blue",label="v1",model="gpt",outcome="success"} 2"#
        ]
    );
    let green = r#"{environment="green"}"#;
    let blue = r#"{environment="blue"}"#;
    assert_eq!(
        value(
            &text,
            &format!("turnout_request_duration_seconds_count{green}")
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            &format!("turnout_request_duration_seconds_sum{green}")
        ),
        Some(0.3)
    );
    assert!(!text.contains(&format!("turnout_request_duration_seconds_count{blue}")));
    assert!(!text.contains("turnout_ttft_seconds_count{"));
    assert_eq!(token_totals(&text), (Some(10.0), Some(4.0)));
    assert_eq!(value(&text, "turnout_cost_usd_total"), Some(0.5));
}

#[test]
fn models_past_the_bound_are_other_through_handles() {
    let m = Metrics::new([None, None]);
    // No model and an empty one share the label "", but only the empty name takes a place.
    m.request(None, None, Outcome::Throttled);
    m.request(None, Some(""), Outcome::Throttled);
    for i in 0..100 {
        m.request(None, Some(&format!("m{i}")), Outcome::Success);
    }
    m.request(None, Some("one-too-many"), Outcome::Success);
    m.request(None, Some("another"), Outcome::Success);
    m.request(Some(Side::Green), Some("another"), Outcome::Failure);
    m.request(None, Some("m0"), Outcome::Success);
    m.request(None, None, Outcome::Cancelled);
    m.fallback(Some("one-too-many"));
    m.fallback(Some("m7"));
    let text = m.encode();
    let series = |env: &str, model: &str, outcome: &str| {
        format!(
            r#"turnout_requests_total{{environment="{env}",label="",model="{model}",outcome="{outcome}"}}"#
        )
    };
    assert_eq!(value(&text, &series("", "", "throttled")), Some(2.0));
    assert_eq!(value(&text, &series("", "", "cancelled")), Some(1.0));
    assert_eq!(value(&text, &series("", "m0", "success")), Some(2.0));
    assert_eq!(value(&text, &series("", "m98", "success")), Some(1.0));
    // The 101st name: m99, one-too-many, another.
    assert_eq!(value(&text, &series("", "m99", "success")), None);
    assert_eq!(value(&text, &series("", "(other)", "success")), Some(3.0));
    assert_eq!(
        value(&text, &series("green", "(other)", "failure")),
        Some(1.0)
    );
    assert!(!text.contains("one-too-many"), "{text}");
    assert!(!text.contains("another"), "{text}");
    let requests = text
        .lines()
        .filter(|l| l.starts_with("turnout_requests_total{"))
        .count();
    assert_eq!(requests, 2 + 99 + 2);
    assert_eq!(
        value(&text, r#"turnout_fallbacks_total{model="(other)"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(&text, r#"turnout_fallbacks_total{model="m7"}"#),
        Some(1.0)
    );
}

#[test]
fn concurrent_recording_sums() {
    const THREADS: u64 = 8;
    const EACH: u64 = 2_000;
    let m = Metrics::new(LABELS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let m = &m;
            scope.spawn(move || {
                for i in 0..EACH {
                    let side = if (t + i) % 2 == 0 {
                        Side::Blue
                    } else {
                        Side::Green
                    };
                    let model = ["a", "b", "c"][(i % 3) as usize];
                    let outcome = if i % 4 == 0 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    m.request(Some(side), Some(model), outcome);
                    m.latency(
                        side,
                        Duration::from_millis(10),
                        Some(Duration::from_millis(1)),
                    );
                    m.usage(tokens(3, 5), None);
                }
            });
        }
    });
    let text = m.encode();
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("turnout_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(total, (THREADS * EACH) as f64);
    // Per series: half the threads see blue on even i, the others on odd i.
    let failures =
        r#"turnout_requests_total{environment="blue",label="v1",model="a",outcome="failure"}"#;
    let per_thread = (0..EACH)
        .filter(|i| i % 3 == 0 && i % 4 == 0 && i % 2 == 0)
        .count() as u64;
    let expected = (THREADS / 2) * per_thread;
    assert_eq!(value(&text, failures), Some(expected as f64));
    let count = |family: &str, env: &str| {
        value(&text, &format!(r#"{family}_count{{environment="{env}"}}"#)).unwrap_or(0.0)
    };
    let durations = count("turnout_request_duration_seconds", "blue")
        + count("turnout_request_duration_seconds", "green");
    let ttfts = count("turnout_ttft_seconds", "blue") + count("turnout_ttft_seconds", "green");
    assert_eq!(durations, (THREADS * EACH) as f64);
    assert_eq!(ttfts, (THREADS * EACH) as f64);
    let calls = (THREADS * EACH) as f64;
    assert_eq!(token_totals(&text), (Some(3.0 * calls), Some(5.0 * calls)));
}
