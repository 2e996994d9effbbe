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

/// The scripted scenarios of `tests/conformance/operations.json` (see its README): the same
/// file the Python and Node suites run.
mod operations {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use serde_json::{Map, Value, json};
    use turnout::protocol::{ChatCompletionRequest, ChatMessage};
    use turnout::{Client, Config, ManualClock, Method, RequestOptions, RolloutPlan, Side};
    use turnout_sim::{Faults, Sim, SimConfig};

    fn spec() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/conformance/operations.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        serde_json::from_str(&text).expect("operations.json is JSON")
    }

    /// `base` with `over` merged in, objects key by key.
    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(b), Value::Object(o)) => {
                for (k, v) in o {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (b, o) => *b = o.clone(),
        }
    }

    /// Whether `actual` holds everything `expected` says: objects by their keys, arrays element
    /// by element, numbers by value.
    fn subset(expected: &Value, actual: &Value) -> bool {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => e
                .iter()
                .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
            (Value::Array(e), Value::Array(a)) => {
                e.len() == a.len() && e.iter().zip(a).all(|(e, a)| subset(e, a))
            }
            (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
            (e, a) => e == a,
        }
    }

    fn side(args: &Value, key: &str) -> Option<Side> {
        args.get(key)
            .and_then(Value::as_str)
            .map(|s| s.parse().expect("a side"))
    }

    /// The step's `force` argument (false when absent).
    fn force(args: &Value) -> bool {
        args.get("force").and_then(Value::as_bool).unwrap_or(false)
    }

    /// A traffic state as the bindings show it: basis points and percent.
    fn traffic(state: &turnout::routing::TrafficState) -> Value {
        let mut v = serde_json::to_value(state).expect("serialisable");
        v["canary_weight"] = json!(state.canary_weight());
        v
    }

    struct Run {
        client: Client,
        blue: Sim,
        green: Sim,
        saved: BTreeMap<String, String>,
        received: Arc<Mutex<Vec<Value>>>,
        subscription: Option<turnout::events::Subscription>,
    }

    impl Run {
        fn arg(&self, args: &Value, key: &str) -> String {
            let raw = args[key].as_str().expect("a string argument");
            match raw.strip_prefix('$') {
                Some(name) => self.saved[name].clone(),
                None => raw.to_string(),
            }
        }

        /// Applies one operation: its result as JSON, or the error's kind.
        async fn apply(&mut self, op: &str, args: &Value) -> Result<Value, String> {
            let c = &self.client;
            let kind = |e: turnout::Error| e.kind().as_str().to_string();
            Ok(match op {
                "status" => serde_json::to_value(c.status()).expect("status"),
                "switch_to" => {
                    let side = side(args, "environment").expect("environment");
                    traffic(&c.switch_to_with(side, force(args)).map_err(kind)?)
                }
                "set_canary_weight" => {
                    let percent = args["percent"].as_f64().expect("percent");
                    traffic(
                        &c.set_canary_weight_with(percent, force(args))
                            .map_err(kind)?,
                    )
                }
                "promote" => traffic(&c.promote_with(force(args)).map_err(kind)?),
                "rollback" => {
                    let reason = self.arg(args, "reason");
                    traffic(&c.rollback_with(&reason, force(args)).map_err(kind)?)
                }
                "checkpoint" => {
                    c.ensure_open().map_err(kind)?;
                    serde_json::to_value(c.checkpoint(&self.arg(args, "name"))).expect("json")
                }
                "checkpoints" => serde_json::to_value(c.checkpoints()).expect("json"),
                "restore_checkpoint" => {
                    let id = self.arg(args, "id");
                    traffic(&c.restore_checkpoint_with(&id, force(args)).map_err(kind)?)
                }
                "start_rollout" => {
                    let plan = RolloutPlan::from_value(args["plan"].clone()).map_err(kind)?;
                    c.start_rollout(plan).map_err(kind)?;
                    serde_json::to_value(c.rollout()).expect("json")
                }
                "pause_rollout" => {
                    c.pause_rollout().map_err(kind)?;
                    serde_json::to_value(c.rollout()).expect("json")
                }
                "resume_rollout" => {
                    c.resume_rollout().map_err(kind)?;
                    serde_json::to_value(c.rollout()).expect("json")
                }
                "abort_rollout" => {
                    c.abort_rollout(&self.arg(args, "reason")).map_err(kind)?;
                    serde_json::to_value(c.rollout()).expect("json")
                }
                "rollout" => serde_json::to_value(c.rollout()).expect("json"),
                "tick" => {
                    c.tick();
                    Value::Null
                }
                "close" => {
                    c.close();
                    Value::Null
                }
                "history" => Value::Array(c.history().iter().map(|e| e.to_json()).collect()),
                "on_event" => {
                    let received = Arc::clone(&self.received);
                    self.subscription = Some(c.subscribe(move |e| {
                        received.lock().expect("lock").push(e.to_json());
                    }));
                    Value::Null
                }
                "received" => Value::Array(self.received.lock().expect("lock").clone()),
                "metrics_text" => Value::String(c.metrics_text()),
                "costs" => serde_json::to_value(c.costs()).expect("json"),
                "health_check" => {
                    let side = side(args, "environment").expect("environment");
                    serde_json::to_value(c.health_check(side).await).expect("json")
                }
                "faults" => {
                    let faults: Faults = serde_json::from_value(args["faults"].clone())
                        .expect("faults in the simulator's shape");
                    match side(args, "environment").expect("environment") {
                        Side::Blue => self.blue.set_faults(faults),
                        Side::Green => self.green.set_faults(faults),
                    }
                    Value::Null
                }
                "send" => self.send(args).await,
                "stream" => {
                    let request = ChatCompletionRequest::new(
                        "gpt-4o-mini",
                        vec![ChatMessage::user(self.arg(args, "content"))],
                    );
                    let mut call = c.chat().stream(request);
                    if let Some(side) = side(args, "environment") {
                        call = call.environment(side);
                    }
                    let stream = call.await.map_err(kind)?;
                    let environment = stream.route().environment.to_string();
                    let chunks = stream.collect_all().await.map_err(kind)?;
                    let text: String = chunks
                        .iter()
                        .filter_map(|chunk| chunk.choices.first())
                        .filter_map(|choice| serde_json::to_value(&choice.delta).ok())
                        .filter_map(|delta| delta["content"].as_str().map(str::to_owned))
                        .collect();
                    json!({"text": text, "environment": environment})
                }
                "embeddings" => {
                    let body = json!({"model": "text-embedding-3-small", "input": "hello"});
                    c.request_json(
                        Method::POST,
                        "/embeddings",
                        Some(body),
                        RequestOptions::default(),
                    )
                    .await
                    .map_err(kind)?
                    .data
                }
                "models_list" => serde_json::to_value(
                    c.models()
                        .list(RequestOptions::default())
                        .await
                        .map_err(kind)?
                        .data,
                )
                .expect("json"),
                "request" => {
                    let method: Method = self.arg(args, "method").parse().expect("a method");
                    c.request_json(
                        method,
                        &self.arg(args, "path"),
                        args.get("json").cloned(),
                        RequestOptions::default(),
                    )
                    .await
                    .map_err(kind)?
                    .data
                }
                other => panic!("unknown operation {other:?}"),
            })
        }

        /// `count` chat completions (pinned when `environment` is given): how many succeeded,
        /// where they were served, and the kinds of the errors.
        async fn send(&self, args: &Value) -> Value {
            let count = args["count"].as_u64().expect("count");
            let mut served: BTreeMap<String, u64> = BTreeMap::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut ok = 0;
            for i in 0..count {
                let request = ChatCompletionRequest::new(
                    "gpt-4o-mini",
                    vec![ChatMessage::user(format!("conformance {i}"))],
                );
                let mut call = self
                    .client
                    .chat()
                    .create(request)
                    .routing_key(format!("user-{i}"));
                if let Some(side) = side(args, "environment") {
                    call = call.environment(side);
                }
                match call.await {
                    Ok(resp) => {
                        ok += 1;
                        *served
                            .entry(resp.route.environment.to_string())
                            .or_default() += 1;
                    }
                    Err(e) => *errors.entry(e.kind().as_str().to_string()).or_default() += 1,
                }
            }
            json!({"ok": ok, "served": served, "errors": errors})
        }
    }

    /// `TURNOUT_CONFORMANCE_ALL=1` runs the scenarios and steps marked `requires` too: to check,
    /// once the work they wait for is merged, that they pass and the marks can go.
    fn run_all() -> bool {
        std::env::var_os("TURNOUT_CONFORMANCE_ALL").is_some_and(|v| v == "1")
    }

    /// Runs one scenario; the failures, one line each.
    async fn scenario(spec: &Value, sc: &Value) -> Vec<String> {
        let name = sc["name"].as_str().expect("a name");
        let blue = Sim::start(SimConfig::named("blue").with_api_key("sk-conformance-blue"))
            .await
            .expect("blue sim");
        let green = Sim::start(SimConfig::named("green").with_api_key("sk-conformance-green"))
            .await
            .expect("green sim");
        let mut config = spec["base_config"].clone();
        if let Some(over) = sc.get("config") {
            merge(&mut config, over);
        }
        let text = config
            .to_string()
            .replace("{blue_url}", &blue.url())
            .replace("{green_url}", &green.url());
        let config =
            Config::from_value(serde_json::from_str(&text).expect("json")).expect("config");
        let client = Client::with_clock(config, Arc::new(ManualClock::new())).expect("client");
        let mut run = Run {
            client,
            blue,
            green,
            saved: BTreeMap::new(),
            received: Arc::new(Mutex::new(Vec::new())),
            subscription: None,
        };
        let mut failures = Vec::new();
        for (i, step) in sc["steps"].as_array().expect("steps").iter().enumerate() {
            if step.get("requires").is_some() && !run_all() {
                break;
            }
            let op = step["op"].as_str().expect("an op");
            let args = step
                .get("args")
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            let before = run.client.history().len();
            let got = run.apply(op, &args).await;
            let events: Vec<Value> = run.client.history()[before..]
                .iter()
                .map(|e| e.to_json())
                .collect();
            let at = format!("{name} / step {i} ({op})");
            if let (Some(save), Ok(value)) = (step.get("save_as").and_then(Value::as_str), &got) {
                run.saved.insert(
                    save.to_string(),
                    value["id"].as_str().expect("an id").to_string(),
                );
            }
            let expect = step.get("expect").cloned().unwrap_or(json!({}));
            match (&got, expect.get("error")) {
                (Err(kind), Some(want)) if want == "*" || want == kind => {}
                (Err(kind), _) => failures.push(format!("{at}: unexpected error {kind}")),
                (Ok(_), Some(want)) => {
                    failures.push(format!("{at}: expected error {want}, got success"))
                }
                (Ok(value), None) => {
                    if let Some(want) = expect.get("result")
                        && !subset(want, value)
                    {
                        failures.push(format!("{at}: result {value} lacks {want}"));
                    }
                    if let Some(want) = expect.get("contains")
                        && !value
                            .as_array()
                            .is_some_and(|a| a.iter().any(|v| subset(want, v)))
                    {
                        failures.push(format!("{at}: no item of {value} matches {want}"));
                    }
                    if let Some(want) = expect.get("contains_text").and_then(Value::as_str)
                        && !value.as_str().is_some_and(|t| t.contains(want))
                    {
                        failures.push(format!("{at}: text lacks {want:?}"));
                    }
                    if let Some(keys) = expect.get("has_keys").and_then(Value::as_array)
                        && !keys
                            .iter()
                            .all(|k| value.get(k.as_str().unwrap_or_default()).is_some())
                    {
                        failures.push(format!("{at}: {value} lacks one of {keys:?}"));
                    }
                    if let Some(want) = expect.get("last")
                        && !value
                            .as_array()
                            .and_then(|a| a.last())
                            .is_some_and(|v| subset(want, v))
                    {
                        failures.push(format!("{at}: last item of {value} is not {want}"));
                    }
                }
            }
            if let Some(want) = expect.get("state") {
                let status = serde_json::to_value(run.client.status()).expect("status");
                if !subset(want, &status) {
                    failures.push(format!("{at}: state {status} lacks {want}"));
                }
            }
            if let Some(want) = expect.get("events")
                && !subset(want, &Value::Array(events.clone()))
            {
                failures.push(format!("{at}: events {events:?} are not {want}"));
            }
        }
        run.client.close();
        failures
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_operations_scenario_runs_as_specified() {
        let spec = spec();
        let scenarios = spec["scenarios"].as_array().expect("scenarios");
        let mut ran = 0;
        let mut skipped = Vec::new();
        let mut failures = Vec::new();
        for sc in scenarios {
            if sc.get("requires").is_some() && !run_all() {
                skipped.push(sc["name"].as_str().unwrap_or_default().to_string());
                continue;
            }
            failures.extend(scenario(&spec, sc).await);
            ran += 1;
        }
        println!(
            "operations.json: ran {ran} scenarios, skipped {} awaiting `requires`: {skipped:?}",
            skipped.len()
        );
        assert!(ran >= 8, "only {ran} scenarios ran");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
