//! Paired measurements for `make bench` (bench/run.sh): turnout against a raw reqwest client on
//! the same upstream, in the same process, interleaved so that both see the same machine. Every
//! mode prints one JSON object per line on stdout (one per round); bench/report.py turns them
//! into BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p turnout --bench overhead -- MODE --url http://127.0.0.1:PORT/v1 [--label L]
//!     [--rounds 5] [--secs 2] [--concurrency 64] [--n 1000] [--requests 1000000]
//! ```
//!
//! | mode | what |
//! |---|---|
//! | `throughput` | closed loop at `--concurrency`, `--secs` per client per round: req/s and client CPU per request, raw reqwest (same pool settings as turnout's transport) vs turnout |
//! | `ttfc` | sequential streamed chat completions: time to the first decoded chunk, raw reqwest vs turnout, interleaved request by request |
//! | `failover` | sequential requests when blue refuses connections and green is `--url`: latency of turnout failing over, vs turnout sent straight to green, vs raw reqwest to green |
//! | `rss` | `--requests` through one client at `--concurrency`; VmRSS after a warm-up tenth and after every further tenth |
//!
//! Without `--url`, an in-process simulator is started (handy, but it shares the runtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use turnout::config::{CircuitBreaker, HealthCheck};
use turnout::protocol::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage};
use turnout::{ApiKey, Client, Environment, Side};
use turnout_sim::{Sim, SimConfig};

const KEY: &str = "sk-bench-0000000000000000";

/// The system allocator, counting allocations while `COUNTING` is set (`--only X --allocs`).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The command line, parsed by hand (cargo passes `--bench` too; unknown flags are ignored).
#[derive(Debug, Clone)]
struct Args {
    mode: String,
    url: Option<String>,
    label: String,
    rounds: usize,
    secs: f64,
    concurrency: usize,
    n: usize,
    requests: u64,
    /// `throughput` only: run just this client (`raw` or `turnout`), e.g. under a profiler.
    only: Option<String>,
    /// With `--only`: count allocations (and reallocations) per request.
    allocs: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut args = Args {
            mode: String::new(),
            url: None,
            label: "sim".to_string(),
            rounds: 5,
            secs: 2.0,
            concurrency: 64,
            n: 1000,
            requests: 1_000_000,
            only: None,
            allocs: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
            match a.as_str() {
                "--url" => args.url = Some(value()?),
                "--only" => args.only = Some(value()?),
                "--allocs" => args.allocs = true,
                "--label" => args.label = value()?,
                "--rounds" => args.rounds = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
                "--secs" => args.secs = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
                "--concurrency" => {
                    args.concurrency = value()?.parse().map_err(|e| format!("{a}: {e}"))?
                }
                "--n" => args.n = value()?.parse().map_err(|e| format!("{a}: {e}"))?,
                "--requests" => {
                    args.requests = value()?.parse().map_err(|e| format!("{a}: {e}"))?
                }
                s if s.starts_with("--") => {}
                s if args.mode.is_empty() => args.mode = s.to_string(),
                _ => {}
            }
        }
        if args.mode.is_empty() {
            return Err("usage: overhead throughput|ttfc|failover|rss --url URL [...]".into());
        }
        Ok(args)
    }
}

fn main() {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot build the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async move {
        // The measurement itself runs on a worker thread, like an application's tasks do.
        match tokio::spawn(run(args)).await {
            Ok(r) => r,
            Err(e) => Err(format!("the benchmark task failed: {e}")),
        }
    });
    if let Err(e) = result {
        eprintln!("overhead: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (sim, base) = match &args.url {
        Some(url) => (None, url.trim_end_matches('/').to_string()),
        None => {
            let sim = Sim::start(SimConfig::named("bench"))
                .await
                .map_err(|e| e.to_string())?;
            let url = sim.url();
            (Some(sim), url)
        }
    };
    match args.mode.as_str() {
        "throughput" => throughput(&args, &base).await?,
        "ttfc" => ttfc(&args, &base).await?,
        "failover" => failover(&args, &base).await?,
        "rss" => rss(&args, &base).await?,
        other => return Err(format!("unknown mode {other:?}")),
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Clients

/// The request both clients send: the same bytes on the wire (`user` is turnout's routing key).
fn request(i: u64) -> ChatCompletionRequest {
    let mut r = ChatCompletionRequest::new("gpt-4.1", vec![ChatMessage::user("ping")]);
    r.user = Some(format!("user-{i}"));
    r
}

/// A reqwest client with the settings of turnout's transport (core/src/transport.rs).
fn raw_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())
}

/// Blue and green on the same upstream, a 10 % sticky canary: every request is hashed.
fn turnout_client(base: &str) -> Result<Client, String> {
    Client::builder()
        .blue(Environment::new(base, ApiKey::new(KEY)))
        .green(Environment::new(base, ApiKey::new(KEY)))
        .canary_weight(10.0)
        .build()
        .map_err(|e| e.to_string())
}

#[derive(Clone)]
enum Target {
    /// reqwest as usually called: the URL as a string, parsed by reqwest per request.
    Raw(reqwest::Client, Arc<str>),
    /// reqwest with the URL parsed once up front (what turnout's transport does).
    RawUrl(reqwest::Client, reqwest::Url),
    Turnout(Client),
}

impl Target {
    fn raw(base: &str) -> Result<Self, String> {
        Ok(Target::Raw(
            raw_client()?,
            format!("{base}/chat/completions").into(),
        ))
    }

    /// A POST to the chat URL, for the raw clients.
    fn post(&self) -> Option<reqwest::RequestBuilder> {
        match self {
            Target::Raw(http, url) => Some(http.post(&**url)),
            Target::RawUrl(http, url) => Some(http.post(url.clone())),
            Target::Turnout(_) => None,
        }
    }

    fn raw_url(base: &str) -> Result<Self, String> {
        let url =
            reqwest::Url::parse(&format!("{base}/chat/completions")).map_err(|e| e.to_string())?;
        Ok(Target::RawUrl(raw_client()?, url))
    }

    /// One non-streaming chat completion, decoded; `Some(attempts)` on success.
    async fn call(&self, i: u64) -> Option<u32> {
        if let Target::Turnout(client) = self {
            let resp = client.chat().create(request(i)).await.ok()?;
            return Some(resp.route.attempts);
        }
        let body = serde_json::to_vec(&request(i)).ok()?;
        let resp = self
            .post()?
            .bearer_auth(KEY)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let bytes = resp.bytes().await.ok()?;
        serde_json::from_slice::<ChatCompletion>(&bytes).ok()?;
        Some(1)
    }

    /// One streamed chat completion read to its end; the time to its first decoded chunk.
    async fn stream(&self, i: u64) -> Option<Duration> {
        let mut req = request(i);
        req.stream = Some(true);
        match self {
            Target::Raw(..) | Target::RawUrl(..) => {
                // What turnout adds to every streamed chat request, so both ask for the same.
                req.stream_options = Some(json!({ "include_usage": true }));
                // The clock starts before the body is serialised, as it does for turnout.
                let sent = Instant::now();
                let body = serde_json::to_vec(&req).ok()?;
                let resp = self
                    .post()?
                    .bearer_auth(KEY)
                    .header(CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .ok()?;
                if !resp.status().is_success() {
                    return None;
                }
                let mut body = resp.bytes_stream();
                let mut buf: Vec<u8> = Vec::new();
                let first = loop {
                    let chunk = body.next().await?.ok()?;
                    buf.extend_from_slice(&chunk);
                    if let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                        let event = &buf[..end];
                        let data = event.strip_prefix(b"data: ")?;
                        serde_json::from_slice::<ChatCompletionChunk>(data).ok()?;
                        break sent.elapsed();
                    }
                };
                while let Some(chunk) = body.next().await {
                    chunk.ok()?;
                }
                Some(first)
            }
            Target::Turnout(client) => {
                let sent = Instant::now();
                let mut stream = client.chat().stream(req).await.ok()?;
                stream.next().await?.ok()?;
                let first = sent.elapsed();
                while let Some(chunk) = stream.next().await {
                    chunk.ok()?;
                }
                Some(first)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers

/// CPU time used by this process so far (every thread's, from /proc/self/task/*/schedstat).
fn cpu_time() -> Duration {
    let mut ns: u64 = 0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// VmRSS of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct LoopResult {
    ok: u64,
    failed: u64,
    elapsed: Duration,
    cpu: Duration,
}

/// `concurrency` workers sending back to back, for `duration` or until `limit` requests have
/// been started, whichever comes first.
async fn closed_loop(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    limit: u64,
    next: &Arc<AtomicU64>,
) -> Result<LoopResult, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_time();
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, stop, next) = (target.clone(), Arc::clone(&stop), Arc::clone(next));
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let Ok(i) = next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        (v < limit).then_some(v + 1)
                    }) else {
                        break;
                    };
                    match target.call(i).await {
                        Some(_) => ok += 1,
                        None => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let timer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f) = w.await.map_err(|e| e.to_string())?;
        ok += o;
        failed += f;
    }
    timer.abort();
    Ok(LoopResult {
        ok,
        failed,
        elapsed: start.elapsed(),
        cpu: cpu_time().saturating_sub(cpu0),
    })
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// p50, p99, p99.9 and mean of `samples`, in µs.
fn summary(mut samples: Vec<Duration>) -> Value {
    samples.sort_unstable();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64;
    json!({
        "n": samples.len(),
        "p50_us": quantile(&samples, 0.50),
        "p90_us": quantile(&samples, 0.90),
        "p99_us": quantile(&samples, 0.99),
        "p999_us": quantile(&samples, 0.999),
        "mean_us": mean * 1e6,
    })
}

// ---------------------------------------------------------------------------------------------
// Modes

async fn throughput(args: &Args, base: &str) -> Result<(), String> {
    let targets = [
        ("raw", Target::raw(base)?),
        ("raw_url", Target::raw_url(base)?),
        ("turnout", Target::Turnout(turnout_client(base)?)),
    ];
    let next = Arc::new(AtomicU64::new(0));
    let secs = Duration::from_secs_f64(args.secs);
    if let Some(only) = &args.only {
        let (_, t) = targets
            .iter()
            .find(|(name, _)| name == only)
            .ok_or(format!("--only {only}: raw or turnout"))?;
        let warm = closed_loop(t, args.concurrency, secs.mul_f64(0.1), 2000, &next).await?;
        next.store(0, Ordering::Relaxed);
        COUNTING.store(args.allocs, Ordering::Relaxed);
        let r = closed_loop(t, args.concurrency, secs, args.requests, &next).await?;
        COUNTING.store(false, Ordering::Relaxed);
        let rps = r.ok as f64 / r.elapsed.as_secs_f64();
        let cpu_us = r.cpu.as_secs_f64() * 1e6 / r.ok.max(1) as f64;
        let allocs = ALLOCS.load(Ordering::Relaxed) as f64 / r.ok.max(1) as f64;
        println!(
            "{}",
            json!({ "mode": "throughput", "only": only, "ok": r.ok, "warmup_ok": warm.ok,
                    "rps": rps, "cpu_us": cpu_us, "allocs_per_request": args.allocs.then_some(allocs) })
        );
        return Ok(());
    }
    // Warm every pool (connections, allocator, caches) before measuring anything.
    for (_, t) in &targets {
        closed_loop(t, args.concurrency, secs.mul_f64(0.25), u64::MAX, &next).await?;
    }
    // Each round gives every client `secs`, in SLICES slices taken in turn (the order rotating),
    // so that a burst of load from elsewhere on the machine hits all of them alike.
    const SLICES: u32 = 4;
    let slice = secs / SLICES;
    for round in 0..args.rounds {
        let mut acc = vec![(0u64, 0u64, Duration::ZERO, Duration::ZERO); targets.len()];
        for s in 0..SLICES as usize {
            for k in 0..targets.len() {
                let j = (k + s + round) % targets.len();
                let r =
                    closed_loop(&targets[j].1, args.concurrency, slice, u64::MAX, &next).await?;
                let a = &mut acc[j];
                a.0 += r.ok;
                a.1 += r.failed;
                a.2 += r.elapsed;
                a.3 += r.cpu;
            }
        }
        let mut out = serde_json::Map::new();
        for ((name, _), (ok, failed, elapsed, cpu)) in targets.iter().zip(&acc) {
            let rps = *ok as f64 / elapsed.as_secs_f64();
            let cpu_us = cpu.as_secs_f64() * 1e6 / (*ok).max(1) as f64;
            out.insert(format!("{name}_rps"), json!(rps));
            out.insert(format!("{name}_cpu_us"), json!(cpu_us));
            out.insert(format!("{name}_failed"), json!(failed));
        }
        let rps = |k: &str| out[k].as_f64().unwrap_or(f64::NAN);
        let ratio = rps("turnout_rps") / rps("raw_rps");
        let ratio_url = rps("turnout_rps") / rps("raw_url_rps");
        out.insert("ratio_url".into(), json!(ratio_url));
        out.insert("mode".into(), json!("throughput"));
        out.insert("upstream".into(), json!(args.label));
        out.insert("concurrency".into(), json!(args.concurrency));
        out.insert("round".into(), json!(round));
        out.insert("ratio".into(), json!(ratio));
        println!("{}", Value::Object(out));
    }
    Ok(())
}

async fn ttfc(args: &Args, base: &str) -> Result<(), String> {
    let targets = [
        ("raw", Target::raw(base)?),
        ("raw_url", Target::raw_url(base)?),
        ("turnout", Target::Turnout(turnout_client(base)?)),
    ];
    let mut i = 0u64;
    for _ in 0..200 {
        for (name, t) in &targets {
            t.stream(i)
                .await
                .ok_or(format!("{name}: warm-up stream failed"))?;
            i += 1;
        }
    }
    for round in 0..args.rounds {
        let mut lat: Vec<Vec<Duration>> = vec![Vec::with_capacity(args.n); targets.len()];
        for k in 0..args.n {
            for j in 0..targets.len() {
                // Rotate the order request by request.
                let j = (j + k) % targets.len();
                let (name, t) = &targets[j];
                i += 1;
                lat[j].push(t.stream(i).await.ok_or(format!("{name}: stream failed"))?);
            }
        }
        let mut out = serde_json::Map::new();
        for (j, (name, _)) in targets.iter().enumerate() {
            out.insert((*name).to_string(), summary(std::mem::take(&mut lat[j])));
        }
        let p = |name: &str, q: &str| out[name][q].as_f64().unwrap_or(f64::NAN);
        let added = json!({
            "added_p50_us": p("turnout", "p50_us") - p("raw", "p50_us"),
            "added_p99_us": p("turnout", "p99_us") - p("raw", "p99_us"),
            "added_url_p50_us": p("turnout", "p50_us") - p("raw_url", "p50_us"),
            "added_url_p99_us": p("turnout", "p99_us") - p("raw_url", "p99_us"),
        });
        if let Value::Object(added) = added {
            out.extend(added);
        }
        out.insert("mode".into(), json!("ttfc"));
        out.insert("upstream".into(), json!(args.label));
        out.insert("round".into(), json!(round));
        println!("{}", Value::Object(out));
    }
    Ok(())
}

/// A loopback port that refuses connections: bound, then closed.
fn refused_url() -> Result<String, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}/v1"))
}

async fn failover(args: &Args, base: &str) -> Result<(), String> {
    let dead = refused_url()?;
    let no_probes = HealthCheck {
        enabled: false,
        ..HealthCheck::default()
    };
    // Blue refuses, green is the upstream.
    let two = |active: Side| {
        Client::builder()
            .blue(Environment::new(dead.as_str(), ApiKey::new(KEY)))
            .green(Environment::new(base, ApiKey::new(KEY)))
            .active(active)
    };
    let direct = two(Side::Green)
        .health_check(no_probes.clone())
        .build()
        .map_err(|e| e.to_string())?;
    // Worst case: no probe and no circuit ever takes blue out, so every request tries it first.
    let every = two(Side::Blue)
        .health_check(no_probes)
        .circuit_breaker(CircuitBreaker {
            failure_threshold: u32::MAX,
            failure_rate: 1.0,
            window_size: 1 << 20,
            min_calls: 1 << 20,
            ..CircuitBreaker::default()
        })
        .build()
        .map_err(|e| e.to_string())?;
    // Defaults: the circuit opens after 5 failures; then a half-open trial every 30 s.
    let defaults = two(Side::Blue).build().map_err(|e| e.to_string())?;
    let targets = [
        ("raw_green", Target::raw(base)?),
        ("turnout_green", Target::Turnout(direct)),
        ("turnout_failover_every", Target::Turnout(every)),
        ("turnout_failover_defaults", Target::Turnout(defaults)),
    ];
    let mut i = 0u64;
    for _ in 0..200 {
        for (name, t) in &targets {
            t.call(i)
                .await
                .ok_or(format!("{name}: warm-up request failed"))?;
            i += 1;
        }
    }
    for round in 0..args.rounds {
        let mut lat: Vec<Vec<Duration>> = vec![Vec::with_capacity(args.n); targets.len()];
        let mut attempts = vec![0u64; targets.len()];
        for k in 0..args.n {
            for j in 0..targets.len() {
                // Rotate the order request by request.
                let j = (j + k) % targets.len();
                let (name, t) = &targets[j];
                i += 1;
                let sent = Instant::now();
                let a = t.call(i).await.ok_or(format!("{name}: request failed"))?;
                lat[j].push(sent.elapsed());
                attempts[j] += u64::from(a);
            }
        }
        let mut out = serde_json::Map::new();
        for (j, (name, _)) in targets.iter().enumerate() {
            let mut s = summary(std::mem::take(&mut lat[j]));
            s["attempts_mean"] = json!(attempts[j] as f64 / args.n as f64);
            out.insert((*name).to_string(), s);
        }
        let p = |name: &str, q: &str| out[name][q].as_f64().unwrap_or(0.0);
        let added_p99 = p("turnout_failover_every", "p99_us") - p("turnout_green", "p99_us");
        let added_p50 = p("turnout_failover_every", "p50_us") - p("turnout_green", "p50_us");
        let added_def = p("turnout_failover_defaults", "p99_us") - p("turnout_green", "p99_us");
        out.insert("mode".into(), json!("failover"));
        out.insert("upstream".into(), json!(args.label));
        out.insert("round".into(), json!(round));
        out.insert("added_p99_us".into(), json!(added_p99));
        out.insert("added_p50_us".into(), json!(added_p50));
        out.insert("added_p99_defaults_us".into(), json!(added_def));
        println!("{}", Value::Object(out));
    }
    Ok(())
}

async fn rss(args: &Args, base: &str) -> Result<(), String> {
    let target = Target::Turnout(turnout_client(base)?);
    let total = args.requests;
    let tenth = (total / 10).max(1);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let rss_start = rss_kib();
    let mut samples = Vec::new();
    let mut failed = 0;
    for step in 1..=10u64 {
        let r = closed_loop(
            &target,
            args.concurrency,
            Duration::MAX,
            step * tenth,
            &next,
        )
        .await?;
        failed += r.failed;
        samples.push(json!({ "requests": step * tenth, "rss_kib": rss_kib() }));
    }
    let at = |k: usize| samples[k]["rss_kib"].as_u64().unwrap_or(0);
    let max = samples
        .iter()
        .filter_map(|s| s["rss_kib"].as_u64())
        .max()
        .unwrap_or(0);
    println!(
        "{}",
        json!({
            "mode": "rss", "lang": "rust", "upstream": args.label,
            "requests": total, "concurrency": args.concurrency, "failed": failed,
            "seconds": start.elapsed().as_secs_f64(),
            "rss_start_kib": rss_start,
            "rss_warm_kib": at(0), "rss_end_kib": at(9), "rss_max_kib": max,
            "growth_kib": at(9) as i64 - at(0) as i64,
            "samples": samples,
        })
    );
    Ok(())
}
