//! `turnout rollout start|status|pause|resume|abort|wait`: a rollout that lives in the shared
//! store, run by whichever app instance holds the analyst lease over the fleet's windows.
//! `wait` is made for CI/CD jobs: exit 0 promoted, 1 rolled back or aborted, 2 store or
//! config, 3 timed out.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use turnout::config::RollbackPolicy;
use turnout::rollout::fleet::{RolloutAction, action_operation, new_record, start_operation};
use turnout::rollout::{RolloutPlan, RolloutState, Step};
use turnout::state::Store;

use crate::ops::{
    ChangeArgs, ConfigArg, Failure, REFUSED, TIMED_OUT, UNREACHABLE, author, current, open, report,
    submit,
};
use crate::view;

/// How long `wait` keeps retrying a store that does not answer before it exits 2.
const STORE_PATIENCE: Duration = Duration::from_secs(30);
/// How often `wait` and `status --watch` look at the store.
const POLL: Duration = Duration::from_millis(500);

/// A rollout command.
#[derive(Debug, Subcommand)]
pub enum RolloutCmd {
    /// Start a rollout of the candidate: e.g. `--steps 5,15,50,100 --hold 10m`.
    Start(StartArgs),
    /// Show the rollout: step, weight, each gate's fleet figure against its threshold, time
    /// left in the hold.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Redraw every half second until the rollout ends.
        #[arg(long)]
        watch: bool,
    },
    /// Hold the rollout at its step.
    Pause {
        /// Why, for the history.
        #[arg(long, default_value = "paused from the turnout CLI")]
        reason: String,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Let a paused rollout go on from its step.
    Resume {
        /// Why, for the history.
        #[arg(long, default_value = "resumed from the turnout CLI")]
        reason: String,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Abort the rollout: the candidate's weight goes back to 0.
    Abort {
        /// Why, for the history.
        #[arg(long, default_value = "aborted from the turnout CLI")]
        reason: String,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Wait until the rollout ends: exit 0 promoted, 1 rolled back or aborted, 3 timed out.
    Wait {
        #[command(flatten)]
        config: ConfigArg,
        /// Give up after this long (e.g. `30m`); without it, wait as long as it takes.
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
    },
}

/// The plan of `rollout start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The steps' weights in percent, rising, the last 100.
    #[arg(long, value_delimiter = ',', required = true)]
    steps: Vec<f64>,
    /// How long each step holds at least (e.g. `10m`).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    hold: Duration,
    /// Candidate requests each step must see across the fleet before it may advance.
    #[arg(long, default_value_t = 0)]
    min_requests: u64,
    /// The gates as a YAML or JSON file (the keys of `rollback` in the config).
    #[arg(long, conflicts_with_all = ["max_error_rate", "max_p99_ms"])]
    gates: Option<PathBuf>,
    /// Highest error rate of the candidate over the fleet's window [0.05].
    #[arg(long)]
    max_error_rate: Option<f64>,
    /// Highest fleet p99 latency of the candidate, in ms.
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// The gates' window (e.g. `60s`).
    #[arg(long, value_parser = humantime::parse_duration)]
    window: Option<Duration>,
    /// Below this many candidate requests in the window a gate is inconclusive (20 when not given).
    #[arg(long)]
    gate_min_requests: Option<u64>,
    /// Time between evaluations (e.g. `10s`).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    interval: Duration,
    /// Failed evaluations tolerated; one more rolls back.
    #[arg(long, default_value_t = 1)]
    failure_limit: u32,
    /// Longest a step may wait for enough data before the rollout pauses.
    #[arg(long, value_parser = humantime::parse_duration)]
    step_deadline: Option<Duration>,
    /// Then wait until it ends, as `rollout wait` does.
    #[arg(long)]
    wait: bool,
    /// With `--wait`: give up after this long.
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    #[command(flatten)]
    args: ChangeArgs,
}

impl RolloutCmd {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            Self::Start(s) => s.args.config.json,
            Self::Status { config, .. } | Self::Wait { config, .. } => config.json,
            Self::Pause { args, .. } | Self::Resume { args, .. } | Self::Abort { args, .. } => {
                args.config.json
            }
        }
    }
}

/// Runs a rollout command.
pub async fn run(cmd: RolloutCmd) -> Result<(), Failure> {
    match cmd {
        RolloutCmd::Start(s) => start(s).await,
        RolloutCmd::Status { config, watch } => status(&config, watch).await,
        RolloutCmd::Pause { reason, args } => act(&args, RolloutAction::Pause, &reason).await,
        RolloutCmd::Resume { reason, args } => act(&args, RolloutAction::Resume, &reason).await,
        RolloutCmd::Abort { reason, args } => act(&args, RolloutAction::Abort, &reason).await,
        RolloutCmd::Wait { config, timeout } => wait(&config, timeout, None).await,
    }
}

fn plan(s: &StartArgs) -> Result<RolloutPlan, Failure> {
    let bad = |e: String| Failure(UNREACHABLE, e);
    let mut gates = match &s.gates {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let format = turnout::config::Format::from_path(path)?;
            let value = format
                .parse(&text)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            serde_json::from_value::<RollbackPolicy>(value)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?
        }
        None => RollbackPolicy::default(),
    };
    if let Some(r) = s.max_error_rate {
        gates.max_error_rate = Some(r);
    }
    if let Some(p) = s.max_p99_ms {
        gates.max_p99_latency_ms = Some(p);
    }
    if let Some(w) = s.window {
        gates.window = w;
    }
    if let Some(n) = s.gate_min_requests {
        gates.min_requests = n;
    }
    // Every step holds and counts its own requests, the last (100 %) too: it promotes, and is
    // the only step judged at full weight.
    let mut plan = RolloutPlan::new(
        s.steps
            .iter()
            .map(|w| Step::new(*w).hold(s.hold).min_requests(s.min_requests))
            .collect(),
    );
    plan.gates = gates;
    plan.interval = s.interval;
    plan.failure_limit = s.failure_limit;
    plan.step_deadline = s.step_deadline;
    plan.validate().map_err(|e| bad(e.to_string()))?;
    Ok(plan)
}

async fn start(s: StartArgs) -> Result<(), Failure> {
    let plan = plan(&s)?;
    let (config, store) = open(&s.args.config)?;
    let (state, _) = current(&config, &store).await?;
    let candidate = state.traffic.candidate();
    let total = store.total(candidate).await?;
    let now = SystemTime::now();
    let record = new_record(plan, candidate, &author(), now, Some(total));
    let op = start_operation(&author(), &record, now);
    let outcome = submit(&store, &config, op.clone(), s.args.if_version).await?;
    let as_json = s.args.config.json && !s.wait;
    report(
        as_json,
        &config,
        &op,
        &outcome,
        json!({"rollout": record.id}),
    )?;
    if !as_json {
        say!(
            "rollout {} started: {} through {}; the instance holding the analyst lease runs it",
            record.id,
            candidate,
            s.steps
                .iter()
                .map(|w| format!("{w}%"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if s.wait {
        return wait(&s.args.config, s.timeout, Some(record.id)).await;
    }
    Ok(())
}

async fn act(args: &ChangeArgs, action: RolloutAction, reason: &str) -> Result<(), Failure> {
    let (config, store) = open(&args.config)?;
    let (state, _) = current(&config, &store).await?;
    let Some(r) = state.live_rollout() else {
        let why = match &state.rollout {
            Some(r) => format!(
                "rollout {} is {}: nothing to change",
                r.id,
                r.state.as_str()
            ),
            None => "no rollout was started".to_string(),
        };
        return Err(Failure(REFUSED, why));
    };
    let Some(op) = action_operation(&author(), r, action, reason, SystemTime::now()) else {
        if args.config.json {
            say!(
                "{}",
                json!({"verdict": "unchanged", "note": format!("rollout {} is already {}", r.id, r.state.as_str()), "state": state})
            );
        } else {
            say!(
                "no change: rollout {} is already {}",
                r.id,
                r.state.as_str()
            );
        }
        return Ok(());
    };
    let outcome = submit(&store, &config, op.clone(), args.if_version).await?;
    report(
        args.config.json,
        &config,
        &op,
        &outcome,
        json!({"rollout": r.id}),
    )?;
    if !args.config.json {
        let done = match action {
            RolloutAction::Pause => "paused at its step",
            RolloutAction::Resume => "resumed",
            RolloutAction::Abort => "aborted: the candidate's weight is back to 0",
        };
        say!("rollout {} {done}", r.id);
    }
    Ok(())
}

async fn status(c: &ConfigArg, watch: bool) -> Result<(), Failure> {
    let (config, store) = open(c)?;
    loop {
        let (state, _) = current(&config, &store).await?;
        let r = view::rollout_json(&store, &state).await?;
        let ended = r
            .as_ref()
            .is_none_or(|r| !matches!(r["state"].as_str(), Some("running" | "paused")));
        if c.json {
            say!("{}", r.unwrap_or(Value::Null));
        } else {
            if watch {
                // Clear the screen and home the cursor: a live view, redrawn in place.
                print!("\x1b[2J\x1b[H");
            }
            match &r {
                Some(r) => view::print_rollout(r),
                None => say!("no rollout was started"),
            }
        }
        if !watch || ended {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits for the rollout `id` (else the stored one) to end.
async fn wait(c: &ConfigArg, timeout: Option<Duration>, id: Option<String>) -> Result<(), Failure> {
    let (config, store) = open(c)?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut last_line = String::new();
    let mut failing_since: Option<Instant> = None;
    loop {
        match poll_once(&store, &config, id.as_deref()).await {
            Ok(Some(r)) => {
                failing_since = None;
                let line = view::progress_line(&r);
                if line != last_line && !c.json {
                    say!("{line}");
                    last_line = line;
                }
                let state = r["state"].as_str().unwrap_or("");
                if state == RolloutState::Completed.as_str() {
                    if c.json {
                        say!("{r}");
                    }
                    return Ok(());
                }
                if state == RolloutState::RolledBack.as_str()
                    || state == RolloutState::Aborted.as_str()
                {
                    if c.json {
                        say!("{r}");
                    }
                    return Err(Failure(
                        REFUSED,
                        format!(
                            "rollout {} {}: {}",
                            r["rollout_id"].as_str().unwrap_or("?"),
                            state.replace('_', " "),
                            r["reason"].as_str().unwrap_or("")
                        ),
                    ));
                }
            }
            Ok(None) => return Err(Failure(REFUSED, "no rollout was started".to_string())),
            Err(Failure(UNREACHABLE, why)) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STORE_PATIENCE {
                    return Err(Failure(UNREACHABLE, why));
                }
                if !c.json {
                    eprintln!("turnout: {why}; retrying");
                }
            }
            Err(f) => return Err(f),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Failure(
                TIMED_OUT,
                format!(
                    "the rollout did not end within {}",
                    humantime::format_duration(timeout.unwrap_or_default())
                ),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn poll_once(
    store: &Store,
    config: &turnout::Config,
    id: Option<&str>,
) -> Result<Option<Value>, Failure> {
    let (state, _) = current(config, store).await?;
    if let (Some(id), Some(r)) = (id, &state.rollout)
        && r.id != id
    {
        return Err(Failure(
            REFUSED,
            format!("rollout {id} was replaced by rollout {}", r.id),
        ));
    }
    view::rollout_json(store, &state).await
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Start {
        #[command(flatten)]
        start: StartArgs,
    }

    #[test]
    fn every_step_holds_and_counts_its_own_requests_the_last_too() {
        let args = Start::try_parse_from([
            "start",
            "--steps",
            "10,50,100",
            "--hold",
            "5m",
            "--min-requests",
            "100",
        ])
        .expect("arguments");
        let plan = plan(&args.start).expect("plan");
        assert_eq!(plan.steps.len(), 3);
        for step in &plan.steps {
            assert_eq!(
                (step.hold, step.min_requests),
                (Duration::from_secs(300), 100),
                "{step:?}"
            );
        }
    }
}
