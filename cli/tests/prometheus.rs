//! The Argo Rollouts and Flagger templates and the Grafana dashboard, run by a real Prometheus
//! (Debian's `prometheus` binary) scraping a turnout client's metrics listener while the client
//! sends traffic with injected faults. Every query is read out of the example files, so the
//! files are what is tested.
//!
//! Skipped, with a message, when no `prometheus` binary is on the PATH — except in CI
//! (`CI=true`), where it must run (`make setup-system` installs it).

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use futures_util::future::join_all;
use serde::Deserialize;
use serde_json::{Value, json};
use turnout::stats::WindowStats;
use turnout::{Client, Config, Method, RequestOptions, Side};
use turnout_sim::{Faults, Sim, SimConfig};

/// The labels and ranges the templates are instantiated with.
const NAMESPACE: &str = "shop";
const CANDIDATE: &str = "green";
const RANGE: &str = "5m";
/// Absolute tolerance on an error rate: the warm-up requests, counted by turnout's window but
/// before Prometheus's first sample of their series, and `rate()`'s extrapolation move it by
/// well under this.
const RATE_TOLERANCE: f64 = 0.01;
/// Upper bounds of `turnout_request_duration_seconds` and `turnout_ttft_seconds`: a quantile
/// from Prometheus is a linear interpolation inside a bucket, so it agrees with turnout's
/// (HDR) figure when both fall in the same bucket.
const DURATION_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0,
];
const TTFT_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
/// Readiness checks (100 ms apart) before Prometheus is given up on: a guard, not a verdict.
const READY_TRIES: u32 = 900;
/// Queries (200 ms apart) before a scrape that never shows a value is given up on.
const QUERY_TRIES: u32 = 450;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn prometheus_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true but no prometheus binary on the PATH: `make setup-system` installs it"
        );
        eprintln!(
            "SKIPPED: no prometheus binary on the PATH (apt-get install prometheus, or make setup-system)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "turnout-prom-{}-{nanos}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Percent-encodes a query string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus started for the test on a free loopback port; killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// Scrapes `target` every second, labelling its series `namespace=NAMESPACE` as the
    /// Prometheus Operator would.
    async fn start(binary: &Path, target: SocketAddr) -> Self {
        let dir = temp_dir("tsdb");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: turnout\n    static_configs:\n      - targets: [\"{target}\"]\n        labels: {{namespace: {NAMESPACE}}}\n"
            ),
        )
        .expect("prometheus config");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("prometheus starts");
        let prom = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            dir,
        };
        for _ in 0..READY_TRIES {
            let ready = prom
                .http
                .get(format!("{}/-/ready", prom.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return prom;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus was not ready after {READY_TRIES} tries");
    }

    /// Runs an instant query: each series' labels and value.
    async fn query(&self, promql: &str) -> Result<Vec<(Value, f64)>, String> {
        let url = format!("{}/api/v1/query?query={}", self.url, encode(promql));
        let answer: Value = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if answer["status"] != "success" {
            return Err(format!("{promql}: {answer}"));
        }
        let result = answer["data"]["result"]
            .as_array()
            .ok_or_else(|| format!("{promql}: not a vector: {answer}"))?;
        result
            .iter()
            .map(|s| {
                let value = s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or_else(|| format!("{promql}: no value in {s}"))?;
                Ok((s["metric"].clone(), value))
            })
            .collect()
    }

    /// Waits until `promql` gives the single value `want`: a scrape has seen it.
    async fn wait_for(&self, promql: &str, want: f64) {
        for _ in 0..QUERY_TRIES {
            if let Ok(v) = self.query(promql).await
                && v.len() == 1
                && v[0].1 == want
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("prometheus never saw {promql} == {want} in {QUERY_TRIES} queries");
    }
}

/// A query of a template, with where it came from and what it measures.
#[derive(Debug)]
struct TemplateQuery {
    source: String,
    promql: String,
}

/// Replaces every `{{ … }}` placeholder through `value`; none may be left.
fn instantiate(template: &str, value: impl Fn(&str) -> Option<String>, source: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find("}}")
            .unwrap_or_else(|| panic!("{source}: an unclosed {{{{"));
        let name = rest[open + 2..open + close].trim();
        out.push_str(
            &value(name).unwrap_or_else(|| panic!("{source}: no value for {{{{ {name} }}}}")),
        );
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn yaml_documents(path: &Path) -> Vec<serde_yaml_ng::Value> {
    let text = std::fs::read_to_string(path).expect("template file");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| serde_yaml_ng::Value::deserialize(doc).expect("valid YAML"))
        .collect()
}

fn yaml_str<'a>(v: &'a serde_yaml_ng::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// Every Prometheus query of the Argo AnalysisTemplate, its args filled in.
fn argo_queries() -> Vec<TemplateQuery> {
    let path = repo_file("examples/kubernetes/argo-analysis-template.yaml");
    let mut out = Vec::new();
    for doc in yaml_documents(&path) {
        assert_eq!(yaml_str(&doc, &["kind"]), Some("AnalysisTemplate"));
        let defaults: Vec<(String, Option<String>)> = doc["spec"]["args"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|a| {
                (
                    yaml_str(a, &["name"]).unwrap_or_default().to_string(),
                    yaml_str(a, &["value"]).map(str::to_string),
                )
            })
            .collect();
        let arg = |name: &str| -> Option<String> {
            let name = name.strip_prefix("args.")?;
            match name {
                "namespace" => Some(NAMESPACE.to_string()),
                "environment" => Some(CANDIDATE.to_string()),
                "interval" => Some(RANGE.to_string()),
                _ => defaults
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, v)| v.clone()),
            }
        };
        for metric in doc["spec"]["metrics"].as_sequence().expect("metrics") {
            let name = yaml_str(metric, &["name"]).expect("a metric name");
            let source = format!("argo {name}");
            let query = yaml_str(metric, &["provider", "prometheus", "query"])
                .unwrap_or_else(|| panic!("{source}: no prometheus query"));
            let address = yaml_str(metric, &["provider", "prometheus", "address"])
                .unwrap_or_else(|| panic!("{source}: no prometheus address"));
            assert!(instantiate(address, arg, &source).starts_with("http"));
            out.push(TemplateQuery {
                promql: instantiate(query, arg, &source),
                source,
            });
        }
    }
    out
}

/// Every query of the Flagger MetricTemplates, with what Flagger fills in.
fn flagger_queries() -> Vec<TemplateQuery> {
    let path = repo_file("examples/kubernetes/flagger-metric-templates.yaml");
    let var = |name: &str| -> Option<String> {
        match name {
            "namespace" => Some(NAMESPACE.to_string()),
            "interval" => Some(RANGE.to_string()),
            "variables.environment" => Some(CANDIDATE.to_string()),
            _ => None,
        }
    };
    yaml_documents(&path)
        .iter()
        .map(|doc| {
            assert_eq!(yaml_str(doc, &["kind"]), Some("MetricTemplate"));
            let name = yaml_str(doc, &["metadata", "name"]).expect("a name");
            assert_eq!(
                yaml_str(doc, &["spec", "provider", "type"]),
                Some("prometheus")
            );
            let source = format!("flagger {name}");
            let query = yaml_str(doc, &["spec", "query"]).expect("a query");
            TemplateQuery {
                promql: instantiate(query, var, &source),
                source,
            }
        })
        .collect()
}

/// Every `expr` of the Grafana dashboard, with Grafana's variables filled in.
fn dashboard_queries() -> Vec<TemplateQuery> {
    let path = repo_file("examples/grafana/turnout-dashboard.json");
    let text = std::fs::read_to_string(path).expect("dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or("?");
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expr");
            let promql = expr
                .replace("$namespace", NAMESPACE)
                .replace("$__rate_interval", RANGE)
                .replace("$__range", RANGE);
            assert!(
                !promql.contains('$'),
                "{title}: a variable left in {promql}"
            );
            out.push(TemplateQuery {
                source: format!("grafana {title} {}", target["refId"]),
                promql,
            });
        }
    }
    out
}

fn bucket(seconds: f64, bounds: &[f64]) -> usize {
    bounds
        .iter()
        .position(|b| seconds <= *b)
        .unwrap_or(bounds.len())
}

/// Checks one template query's value against turnout's own window of the candidate.
fn agrees(q: &TemplateQuery, value: f64, window: &WindowStats) {
    let what = q.source.to_lowercase();
    if what.contains("error-rate") || what.contains("error rate") {
        assert!(
            (value - window.error_rate).abs() <= RATE_TOLERANCE,
            "{}: prometheus says {value}, turnout's window {} (±{RATE_TOLERANCE})",
            q.source,
            window.error_rate
        );
    } else if what.contains("ttft") {
        let turnout = window.p99_ttft_ms / 1000.0;
        assert_eq!(
            bucket(value, &TTFT_BUCKETS),
            bucket(turnout, &TTFT_BUCKETS),
            "{}: prometheus says {value} s, turnout's window {turnout} s: not the same bucket",
            q.source
        );
    } else if what.contains("latency") {
        let turnout = window.p99_ms / 1000.0;
        assert_eq!(
            bucket(value, &DURATION_BUCKETS),
            bucket(turnout, &DURATION_BUCKETS),
            "{}: prometheus says {value} s, turnout's window {turnout} s: not the same bucket",
            q.source
        );
    } else {
        panic!("{}: no check for this query; add one", q.source);
    }
}

fn chat(i: usize) -> Value {
    json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": format!("hello {i}")}], "max_tokens": 4})
}

async fn send(client: &Client, side: Side, i: usize) {
    // Failures are the point: their outcome is what the metrics count.
    let _ = client
        .request_json(
            Method::POST,
            "/chat/completions",
            Some(chat(i)),
            RequestOptions::default().environment(side),
        )
        .await;
}

async fn stream(client: &Client, side: Side, i: usize) {
    let mut body = chat(i);
    body["stream"] = Value::Bool(true);
    if let Ok(mut events) = client
        .stream_json(
            Method::POST,
            "/chat/completions",
            Some(body),
            RequestOptions::default().environment(side),
        )
        .await
    {
        while events.next().await.is_some() {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_and_dashboard_agree_with_turnouts_window() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let templates: Vec<TemplateQuery> = argo_queries()
        .into_iter()
        .chain(flagger_queries())
        .collect();
    assert_eq!(templates.len(), 6, "{templates:#?}");
    let dashboard = dashboard_queries();

    let blue = Sim::start(SimConfig::named("blue")).await.expect("sim");
    let green = Sim::start(SimConfig::named("green")).await.expect("sim");
    let config = Config::from_value(json!({
        "environments": {
            "blue": {"base_url": blue.url(), "api_key": "sk-blue", "label": "v1"},
            "green": {"base_url": green.url(), "api_key": "sk-green", "label": "v2"},
        },
        // One attempt per request and circuits that stay closed: every request is one
        // counted attempt on the side it is pinned to.
        "retry": {"max_attempts": 1},
        "circuit_breaker": {"failure_threshold": 1000, "failure_rate": 1.0},
        "health_check": {"enabled": false},
        // The window covers the whole test, like the queries' range.
        "stats_window": 300,
        "metrics": {"listen": "127.0.0.1:0"},
    }))
    .expect("config");
    let client = Client::from_config(config).expect("client");
    let target = client.metrics_addr().expect("a metrics listener");
    let prom = Prometheus::start(&binary, target).await;

    // Warm-up: every series the queries read exists before the traffic that is judged, so
    // that Prometheus has a sample of each before it grows (a series' first sample is not an
    // increase to rate()).
    green.set_faults(Faults {
        fail_next: 1,
        ..Faults::default()
    });
    send(&client, Side::Green, 0).await;
    send(&client, Side::Green, 1).await;
    stream(&client, Side::Green, 2).await;
    send(&client, Side::Blue, 3).await;
    let warm_up = 4.0;
    prom.wait_for("sum(turnout_requests_total)", warm_up).await;

    // The judged traffic: green fails 10 % with 503 and answers in 150..200 ms, its streams
    // start after a further 450 ms; blue is healthy and fast.
    green.set_faults(Faults {
        error_rate: 0.1,
        error_status: 503,
        latency_ms: 150,
        jitter_ms: 50,
        first_byte_delay_ms: 450,
        ..Faults::default()
    });
    for batch in 0..4 {
        let calls = (0..50).map(|i| send(&client, Side::Green, 100 + batch * 50 + i));
        join_all(calls).await;
    }
    join_all((0..40).map(|i| stream(&client, Side::Green, 400 + i))).await;
    join_all((0..100).map(|i| send(&client, Side::Blue, 500 + i))).await;
    let total = warm_up + 200.0 + 40.0 + 100.0;
    prom.wait_for("sum(turnout_requests_total)", total).await;

    let window = client.status().environments[&Side::Green].window;
    assert_eq!(window.requests, 243, "{window:?}");
    assert!(window.failures > 5, "faults were injected: {window:?}");

    for q in &templates {
        let result = prom
            .query(&q.promql)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.source));
        assert_eq!(result.len(), 1, "{}: one value: {result:?}", q.source);
        agrees(q, result[0].1, &window);
    }

    for q in &dashboard {
        let result = prom
            .query(&q.promql)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", q.source));
        assert!(!result.is_empty(), "{}: no data for {}", q.source, q.promql);
        if q.source.starts_with("grafana Error rate by side") {
            let green = result
                .iter()
                .find(|(labels, _)| labels["environment"] == CANDIDATE)
                .unwrap_or_else(|| panic!("{}: no green series: {result:?}", q.source));
            agrees(q, green.1, &window);
            let blue = result
                .iter()
                .find(|(labels, _)| labels["environment"] == "blue");
            assert_eq!(blue.map(|b| b.1), Some(0.0), "blue is healthy: {result:?}");
        }
    }
    client.close();
}
