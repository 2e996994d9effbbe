//! `turnout sim`: the simulator as a command.

use std::net::{IpAddr, SocketAddr};

use clap::{Args, ValueEnum};
use turnout_sim::{AuthStyle, Faults, Sim, SimConfig};

/// Every knob and control endpoint, shown by `turnout sim --help`.
const SIM_HELP: &str = "\
Faults (each flag sets the knob of the same name; all can change at run time):
  error_rate           share (0..=1) of requests answered with error_status
  error_status         status of injected errors (default 500)
  fail_next            the next N requests fail with error_status (counts down)
  latency_ms           latency added before every answer
  jitter_ms            extra latency drawn from 0..=N ms
  first_byte_delay_ms  streams: delay before the first event
  truncate_after       streams: cut after N content chunks (no finish chunk, no [DONE])
  malformed_json       answer 200 with a body that is not JSON (streams: a bad data: line)
  drop_connection      close the TCP connection without any HTTP answer
  missing_models       models answering 404 model_not_found
  retry_after          seconds sent as Retry-After on injected errors
  should_retry         injected errors carry x-should-retry: true|false

Control endpoints (no key needed, not counted):
  GET    /_sim/faults   the current faults (fail_next shows what is left)
  PATCH  /_sim/faults   change the knobs in the JSON body, keep the others (POST: the same)
  PUT    /_sim/faults   replace every knob; missing ones take their defaults
  DELETE /_sim/faults   clear every fault
  GET    /_sim/stats    counters: total, by_path, by_model, by_status, auth_keys_seen
  GET    /_sim/requests the last 256 requests: method, path, headers (keys masked), body length
  POST   /_sim/reset    zero the counters, clear the request log, restart the --seed sequence

API: /v1/chat/completions, /v1/embeddings, /v1/models, /v1/responses (JSON and SSE; GET and
DELETE /v1/responses/{id}), /v1/files (multipart; list, get, content, delete), /v1/batches
(create, list, get, cancel), /v1/audio/speech (audio bytes). Objects are kept per simulator:
an id made by another one gets 404.

Example:
  curl -X PATCH localhost:8080/_sim/faults -d '{\"error_rate\": 0.2}'";

/// Flags of `turnout sim`; every fault can also be changed at run time with
/// `PATCH /_sim/faults`.
#[derive(Debug, Args)]
#[command(after_long_help = SIM_HELP, after_help = "Run `turnout sim --help` for every knob and the /_sim control endpoints.")]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind; loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Require this key (401 otherwise).
    #[arg(long, env = "TURNOUT_SIM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The header that must carry the key: `Authorization: Bearer`, `api-key` (Azure) or
    /// `x-api-key` (Anthropic); a key in any other credential header gets 401.
    #[arg(long, value_enum, default_value_t = Auth::Bearer)]
    auth: Auth,
    /// A name shown in answers (`x-sim-name`).
    #[arg(long, default_value = "sim")]
    name: String,
    /// Share (0..=1) of requests answered with --error-status.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Status of injected errors.
    #[arg(long, default_value_t = 500)]
    error_status: u16,
    /// Latency added to every answer, in ms.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra latency drawn from 0..=N ms.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Streams: delay before the first event, in ms.
    #[arg(long, default_value_t = 0)]
    first_byte_delay_ms: u64,
    /// Seconds sent as Retry-After on injected errors.
    #[arg(long)]
    retry_after: Option<f64>,
    /// Streams: cut after N content chunks.
    #[arg(long)]
    truncate_after: Option<u32>,
    /// Models answering 404 model_not_found (repeatable).
    #[arg(long = "missing-model")]
    missing_models: Vec<String>,
    /// The next N requests fail with --error-status.
    #[arg(long, default_value_t = 0)]
    fail_next: u32,
    /// Answer 200 with a body that is not JSON.
    #[arg(long)]
    malformed_json: bool,
    /// Close connections without any HTTP answer.
    #[arg(long)]
    drop_connection: bool,
    /// Injected errors carry `x-should-retry: true|false`.
    #[arg(long)]
    should_retry: Option<bool>,
    /// Seed the random draws (error rate, jitter): the same requests in the same order meet
    /// the same faults.
    #[arg(long)]
    seed: Option<u64>,
}

/// `--auth` values.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Auth {
    Bearer,
    ApiKey,
    XApiKey,
}

impl From<Auth> for AuthStyle {
    fn from(auth: Auth) -> Self {
        match auth {
            Auth::Bearer => AuthStyle::Bearer,
            Auth::ApiKey => AuthStyle::ApiKey,
            Auth::XApiKey => AuthStyle::XApiKey,
        }
    }
}

/// Runs the simulator until Ctrl-C or SIGTERM.
pub async fn run(args: SimArgs) -> Result<(), String> {
    let faults = Faults {
        error_rate: args.error_rate,
        error_status: args.error_status,
        latency_ms: args.latency_ms,
        jitter_ms: args.jitter_ms,
        first_byte_delay_ms: args.first_byte_delay_ms,
        retry_after: args.retry_after,
        truncate_after: args.truncate_after,
        missing_models: args.missing_models,
        fail_next: args.fail_next,
        malformed_json: args.malformed_json,
        drop_connection: args.drop_connection,
        should_retry: args.should_retry,
    };
    faults.validate().map_err(|e| e.to_string())?;
    let mut config = SimConfig::named(args.name).with_faults(faults);
    config.api_key = args.api_key;
    config.auth = args.auth.into();
    config.seed = args.seed;
    let addr = SocketAddr::new(args.host, args.port);
    let sim = Sim::start_on(addr, config)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    say!("turnout sim listening on {}", sim.url());
    wait_for_signal().await;
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
