//! `turnout loadtest ENV --rps R --duration D`: open-loop load at a constant arrival rate
//! against one side.
//!
//! Request *i* is due at `start + i / R` and is sent then, whether or not earlier ones have
//! returned, and its latency runs from that due time: a side that stalls cannot slow the
//! sender down and so hide its stall (no coordinated omission). `--concurrency` caps requests
//! in flight; a request that finds no free slot waits for one and, like any request that
//! starts more than `--late-ms` after its due time, counts as late — its wait is in its latency.

mod report;
mod tally;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use turnout::{Client, Method, RequestOptions, Side};

use crate::pinned;
use report::Report;
use tally::{Class, Tally, classify};

/// Flags of `turnout loadtest`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The side to load: blue or green. Every request is pinned to it (no failover).
    env: Side,
    /// The app's config file (YAML, TOML or JSON).
    #[arg(long, short, env = "TURNOUT_CONFIG", default_value = "turnout.yaml")]
    config: PathBuf,
    /// Requests per second, sent on schedule.
    #[arg(long)]
    rps: f64,
    /// How long to send: 30s, 5m, 1m30s.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Requests in flight at most [no cap].
    #[arg(long)]
    concurrency: Option<usize>,
    /// The chat model to ask [the first non-embedding model the side lists].
    #[arg(long, env = "TURNOUT_LOADTEST_MODEL")]
    model: Option<String>,
    /// `max_tokens` of each request.
    #[arg(long, default_value_t = 16)]
    max_tokens: u32,
    /// Stream the answers; a request's latency then runs to the end of its stream.
    #[arg(long)]
    stream: bool,
    /// Timeout of each request.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    timeout: Duration,
    /// A request starting more than this after its due time counts as late, in ms.
    #[arg(long, default_value_t = 10.0)]
    late_ms: f64,
    /// Fail (exit 1) when p99 latency exceeds this, in ms.
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// Fail (exit 1) when side failures / completed requests exceed this share (0..=1).
    #[arg(long)]
    max_error_rate: Option<f64>,
    /// Stop sending once the estimated cost reaches this, in USD, and fail (exit 1).
    #[arg(long)]
    max_cost_usd: Option<f64>,
    /// Print one JSON document instead of the report.
    #[arg(long)]
    json: bool,
}

/// How often the cost ceiling is checked.
const COST_TICK: Duration = Duration::from_millis(100);
/// Cost ticks between two progress lines.
const PROGRESS_EVERY: u32 = 10;

/// One request's fixed parts.
struct Shot {
    client: Client,
    body: Value,
    options: RequestOptions,
    stream: bool,
}

impl Shot {
    async fn fire(&self) -> Class {
        if !self.stream {
            return match self
                .client
                .request_json(
                    Method::POST,
                    "/chat/completions",
                    Some(self.body.clone()),
                    self.options.clone(),
                )
                .await
            {
                Ok(_) => Class::Success,
                Err(e) => classify(&e),
            };
        }
        let mut events = match self
            .client
            .stream_json(
                Method::POST,
                "/chat/completions",
                Some(self.body.clone()),
                self.options.clone(),
            )
            .await
        {
            Ok(s) => s,
            Err(e) => return classify(&e),
        };
        while let Some(event) = events.next().await {
            if let Err(e) = event {
                return classify(&e);
            }
        }
        Class::Success
    }
}

/// Runs the load; 0 within every threshold, 1 a threshold breached, 2 bad usage or config.
pub async fn run(args: LoadArgs) -> ExitCode {
    if let Err(e) = check_args(&args) {
        eprintln!("turnout loadtest: {e}");
        return ExitCode::from(2);
    }
    let (client, config) = match pinned::client(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("turnout loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    let options = RequestOptions::default()
        .environment(args.env)
        .timeout(args.timeout);
    let model = match &args.model {
        Some(m) => m.clone(),
        None => match first_model(&client, options.clone()).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("turnout loadtest: {e}; pass --model");
                client.close();
                return ExitCode::from(2);
            }
        },
    };
    let tally = match Tally::new() {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("turnout loadtest: {e}");
            return ExitCode::from(2);
        }
    };
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": "turnout loadtest: say something short."}],
        "max_tokens": args.max_tokens,
    });
    if args.stream {
        body["stream"] = Value::Bool(true);
    }
    let shot = Arc::new(Shot {
        client: client.clone(),
        body,
        options,
        stream: args.stream,
    });
    if !args.json {
        pinned::emit(&format!(
            "turnout loadtest: {}, {} rps for {}, model {model}, open loop{}\n",
            pinned::describe(&config, args.env),
            args.rps,
            humantime::format_duration(args.duration),
            args.concurrency
                .map_or_else(String::new, |c| format!(", at most {c} in flight")),
        ));
    }
    let run = drive(&args, &client, shot, Arc::clone(&tally)).await;
    let costs = client.costs();
    client.close();
    let report = Report::new(&args, &config, &model, &tally, &run, &costs.total);
    if args.json {
        pinned::emit(&format!("{:#}\n", report.to_json()));
    } else {
        pinned::emit(&report.text());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check_args(args: &LoadArgs) -> Result<(), String> {
    if !(args.rps.is_finite() && args.rps > 0.0 && args.rps <= 1_000_000.0) {
        return Err(format!(
            "--rps must be within (0, 1000000], got {}",
            args.rps
        ));
    }
    if args.duration.is_zero() {
        return Err("--duration must be above 0".to_string());
    }
    if args.concurrency == Some(0) {
        return Err("--concurrency must be at least 1".to_string());
    }
    if args.timeout.is_zero() {
        return Err("--timeout must be above 0".to_string());
    }
    if let Some(r) = args.max_error_rate
        && !(0.0..=1.0).contains(&r)
    {
        return Err(format!("--max-error-rate must be within 0..=1, got {r}"));
    }
    for (name, value) in [
        ("--max-p99-ms", args.max_p99_ms),
        ("--max-cost-usd", args.max_cost_usd),
        ("--late-ms", Some(args.late_ms)),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return Err(format!("{name} must be a number >= 0, got {v}"));
        }
    }
    Ok(())
}

async fn first_model(client: &Client, options: RequestOptions) -> Result<String, String> {
    let list = client
        .request_json(Method::GET, "/models", None, options)
        .await
        .map_err(|e| format!("cannot list the side's models: {e}"))?;
    list.get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("id").and_then(Value::as_str))
        .find(|id| !id.contains("embed"))
        .map(str::to_string)
        .ok_or_else(|| "the side lists no chat model".to_string())
}

/// How the sending went.
struct Run {
    scheduled: u64,
    /// Time over which the requests were sent.
    span: Duration,
    /// Why sending stopped before the end.
    stopped: Option<String>,
}

/// Sends on schedule until the duration is over or the cost ceiling is reached, then waits
/// for every request to end.
async fn drive(args: &LoadArgs, client: &Client, shot: Arc<Shot>, tally: Arc<Tally>) -> Run {
    let interval = 1.0 / args.rps;
    let total = (args.duration.as_secs_f64() * args.rps).ceil() as u64;
    let slots = args.concurrency.map(|c| Arc::new(Semaphore::new(c)));
    let late = Duration::from_secs_f64(args.late_ms / 1000.0);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let watcher = tokio::spawn(watch(
        args.max_cost_usd,
        client.clone(),
        Arc::clone(&stop),
        slots.clone(),
        Arc::clone(&tally),
        start,
        args.duration,
    ));
    let mut tasks = JoinSet::new();
    let mut scheduled = 0;
    let mut stopped_at = None;
    while scheduled < total {
        let due = start + Duration::from_secs_f64(scheduled as f64 * interval);
        tokio::time::sleep_until(due).await;
        if stop.load(Ordering::Relaxed) {
            stopped_at = Some(due - start);
            break;
        }
        scheduled += 1;
        let shot = Arc::clone(&shot);
        let tally = Arc::clone(&tally);
        let slots = slots.clone();
        tasks.spawn(async move {
            let _permit = match slots {
                Some(s) => match s.acquire_owned().await {
                    Ok(p) => Some(p),
                    // Closed: the cost ceiling stopped the run before a slot came free.
                    Err(_) => {
                        tally.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                },
                None => None,
            };
            let sent = Instant::now();
            if sent.duration_since(due) > late {
                tally.late.fetch_add(1, Ordering::Relaxed);
            }
            tally.sent.fetch_add(1, Ordering::Relaxed);
            let at = u64::try_from(sent.duration_since(start).as_micros()).unwrap_or(u64::MAX);
            tally.last_send_us.fetch_max(at, Ordering::Relaxed);
            let class = shot.fire().await;
            let latency = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
            tally.latency_us.lock().saturating_record(latency.max(1));
            tally.outcomes[class as usize].fetch_add(1, Ordering::Relaxed);
        });
        // Reap finished tasks so that a long run does not keep them all.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let stopped = stop.load(Ordering::Relaxed).then(|| {
        format!(
            "the cost ceiling of ${} was reached",
            args.max_cost_usd.unwrap_or_default()
        )
    });
    watcher.abort();
    if std::io::stderr().is_terminal() {
        // Clears the progress line; the report goes to stdout.
        eprint!("\r\x1b[K");
    }
    let last_send = Duration::from_micros(tally.last_send_us.load(Ordering::Relaxed));
    let span = match stopped_at {
        Some(at) => at.max(last_send),
        None => args.duration.max(last_send),
    };
    Run {
        scheduled,
        span,
        stopped,
    }
}

/// Checks the cost ceiling every tick and draws the progress line on a terminal, until aborted.
async fn watch(
    ceiling: Option<f64>,
    client: Client,
    stop: Arc<AtomicBool>,
    slots: Option<Arc<Semaphore>>,
    tally: Arc<Tally>,
    start: Instant,
    duration: Duration,
) {
    let progress = std::io::stderr().is_terminal();
    if ceiling.is_none() && !progress {
        return;
    }
    let mut ticks = 0u32;
    loop {
        tokio::time::sleep(COST_TICK).await;
        ticks += 1;
        let cost = client.costs().total.cost_usd;
        if let Some(limit) = ceiling
            && cost >= limit
            && !stop.swap(true, Ordering::Relaxed)
            && let Some(s) = &slots
        {
            s.close();
        }
        if progress && ticks.is_multiple_of(PROGRESS_EVERY) {
            let elapsed = start.elapsed();
            let sent = tally.sent.load(Ordering::Relaxed);
            eprint!(
                "\r[{:>6.1}s/{}] sent {sent}  done {}  {:.1} rps  p99 {:.1} ms  errors {:.2}%  ${cost:.6}   ",
                elapsed.as_secs_f64(),
                humantime::format_duration(duration),
                tally.completed(),
                sent as f64 / elapsed.as_secs_f64().max(1e-9),
                tally.quantile_ms(0.99),
                tally.error_rate() * 100.0,
            );
        }
    }
}
