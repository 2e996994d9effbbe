//! `turnout sim`: the simulator as a command.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use turnout_sim::{Faults, Sim, SimConfig};

/// Flags of `turnout sim`; every fault can also be changed at run time with
/// `POST /_sim/faults`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port to listen on (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind; loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Require this bearer key (401 otherwise).
    #[arg(long, env = "TURNOUT_SIM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
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
        ..Faults::default()
    };
    faults.validate().map_err(|e| e.to_string())?;
    let mut config = SimConfig::named(args.name).with_faults(faults);
    config.api_key = args.api_key;
    let addr = SocketAddr::new(args.host, args.port);
    let sim = Sim::start_on(addr, config)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("turnout sim listening on {}", sim.url());
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
