//! Operator commands: read and change the traffic state in the shared store (file or Redis), so
//! that every instance of the app follows. Every command takes `--json` (one JSON document on
//! stdout) and exits 0 done, 1 refused or rolled back, 2 store unreachable or bad config or
//! usage, 3 timed out (API.md, *CLI*).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use turnout::events::Event;
use turnout::routing::{TrafficState, percent_to_bp};
use turnout::state::{Change, Operation, Outcome, Source, Store, StoredState, Verdict};
use turnout::{Client, Config, ErrorKind, Side};

use crate::checkpoint_cmd::CheckpointCmd;
use crate::rollout_cmd::RolloutCmd;
use crate::view;

/// The config file every operator command reads.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The app's config file (YAML, TOML or JSON); its `state` section names the shared store.
    #[arg(long, short, env = "TURNOUT_CONFIG", default_value = "turnout.yaml")]
    pub config: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The options of a command that changes the state.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Refuse the change unless the stored state is at this version.
    #[arg(long)]
    pub if_version: Option<u64>,
}

/// An operator command.
#[derive(Debug, Subcommand)]
pub enum Op {
    /// Show the shared traffic state and the rollout.
    Status(ConfigArg),
    /// Probe both environments now (GET {base}/models with each side's key).
    Health(ConfigArg),
    /// Show the shared event history.
    History {
        #[command(flatten)]
        config: ConfigArg,
        /// Keep printing new events as they come (woken by the store's hint).
        #[arg(long)]
        follow: bool,
        /// How many past events to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Make ENV active with no canary (instant blue/green switch).
    Switch {
        /// blue or green.
        env: Side,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Send W percent (0..=100) of traffic to the candidate.
    SetWeight {
        /// Percent.
        weight: f64,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Make the candidate active, weight 0.
    Promote(ChangeArgs),
    /// Undo the last release step: weight 0 if a canary runs, else back to the side that was
    /// active before the last switch or promotion; nothing if the last change was a rollback.
    Rollback {
        /// Why, for the history.
        #[arg(long, default_value = "manual rollback")]
        reason: String,
        #[command(flatten)]
        args: ChangeArgs,
    },
    /// Start, watch, pause, resume, abort or wait for a fleet rollout (it lives in the store;
    /// the instance holding the analyst lease runs it over the fleet's windows).
    #[command(subcommand)]
    Rollout(RolloutCmd),
    /// Take, list or restore checkpoints kept in the shared store.
    #[command(subcommand)]
    Checkpoint(CheckpointCmd),
}

/// Exit code: refused, rolled back or aborted.
pub const REFUSED: u8 = 1;
/// Exit code: the store is unreachable, or the config or the command line is bad.
pub const UNREACHABLE: u8 = 2;
/// Exit code: timed out.
pub const TIMED_OUT: u8 = 3;

/// A failed command: its exit code and what to say.
#[derive(Debug)]
pub struct Failure(pub u8, pub String);

impl From<turnout::Error> for Failure {
    fn from(e: turnout::Error) -> Self {
        let code = match e.kind() {
            ErrorKind::Store | ErrorKind::Config => UNREACHABLE,
            _ => REFUSED,
        };
        Self(code, e.to_string())
    }
}

/// Runs an operator command and returns its exit code. A failure is said on stderr and, with
/// `--json`, as `{"error", "message", "exit_code"}` on stdout.
pub async fn run(op: Op) -> ExitCode {
    let json = op.json();
    match run_op(op).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            if json {
                let kind = match code {
                    REFUSED => "refused",
                    UNREACHABLE => "store_or_config",
                    _ => "timed_out",
                };
                say!(
                    "{}",
                    json!({"error": kind, "message": message, "exit_code": code})
                );
            }
            eprintln!("turnout: {message}");
            ExitCode::from(code)
        }
    }
}

impl Op {
    fn json(&self) -> bool {
        match self {
            Self::Status(c) | Self::Health(c) | Self::History { config: c, .. } => c.json,
            Self::Switch { args, .. }
            | Self::SetWeight { args, .. }
            | Self::Promote(args)
            | Self::Rollback { args, .. } => args.config.json,
            Self::Rollout(r) => r.json(),
            Self::Checkpoint(c) => c.json(),
        }
    }
}

async fn run_op(op: Op) -> Result<(), Failure> {
    match op {
        Op::Status(c) => status(&c).await,
        Op::Health(c) => health(&c).await,
        Op::History {
            config,
            follow,
            limit,
        } => history(&config, follow, limit).await,
        Op::Switch { env, args } => {
            change(
                &args,
                format!("switched to {env} (turnout CLI)"),
                Change::Switch { to: env },
            )
            .await
        }
        Op::SetWeight { weight, args } => {
            if !(0.0..=100.0).contains(&weight) {
                return Err(Failure(
                    UNREACHABLE,
                    format!("canary_weight must be within 0..=100, got {weight}"),
                ));
            }
            let weight_bp = percent_to_bp(weight);
            change(
                &args,
                format!("canary weight set to {weight}% (turnout CLI)"),
                Change::SetWeight { weight_bp },
            )
            .await
        }
        Op::Promote(args) => {
            change(
                &args,
                "promoted the candidate (turnout CLI)".to_string(),
                Change::Promote,
            )
            .await
        }
        Op::Rollback { reason, args } => {
            change(&args, reason, Change::Rollback { canary: None }).await
        }
        Op::Rollout(cmd) => crate::rollout_cmd::run(cmd).await,
        Op::Checkpoint(cmd) => crate::checkpoint_cmd::run(cmd).await,
    }
}

/// The config and its shared store; a memory store shares nothing and is refused.
pub fn open(c: &ConfigArg) -> Result<(Config, Store), Failure> {
    let config = Config::from_file(&c.config)?;
    let store = Store::open(&config.state)?;
    if !store.is_shared() {
        return Err(Failure(
            UNREACHABLE,
            format!(
                "{}: state.backend is memory, so nothing is shared with the app's instances; set state.backend to file or redis",
                c.config.display()
            ),
        ));
    }
    Ok((config, store))
}

/// The config's initial state: what an empty store starts from.
pub fn initial(config: &Config) -> TrafficState {
    TrafficState {
        active: config.active,
        weight_bp: percent_to_bp(config.canary_weight),
        salt: config.salt.clone(),
        version: 1,
    }
}

/// The stored state, or the config's initial one when nothing was stored yet (`false`).
pub async fn current(config: &Config, store: &Store) -> Result<(StoredState, bool), Failure> {
    Ok(match store.load().await? {
        Some(s) => (s, true),
        None => (StoredState::initial(initial(config)), false),
    })
}

/// Who the CLI is in the history: `cli:user@host`.
pub fn author() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}@{}", turnout::state::hostname())
}

/// Submits `op` (from the CLI, with `--if-version`) to the store.
pub async fn submit(
    store: &Store,
    config: &Config,
    mut op: Operation,
    if_version: Option<u64>,
) -> Result<Outcome, Failure> {
    op.if_version = if_version;
    op.source = Source::Cli.as_str().to_string();
    Ok(store.apply(&op, &initial(config)).await?)
}

/// Says what became of `op`: its JSON document, or the state in words. Refused and superseded
/// operations fail (exit 1).
pub fn report(
    as_json: bool,
    config: &Config,
    op: &Operation,
    outcome: &Outcome,
    extra: Value,
) -> Result<(), Failure> {
    if as_json {
        let mut doc = json!({
            "op": op.id,
            "author": op.author,
            "verdict": outcome.verdict,
            "note": outcome.note,
            "state": outcome.state,
        });
        if let (Value::Object(d), Value::Object(e)) = (&mut doc, extra) {
            d.extend(e);
        }
        say!("{doc}");
    } else {
        match outcome.verdict {
            Verdict::Unchanged => say!(
                "no change: {} (version {})",
                outcome.note.trim_start_matches("no change: "),
                outcome.state.traffic.version
            ),
            Verdict::Refused | Verdict::Superseded => {
                say!("refused: {}", outcome.note);
            }
            Verdict::Applied => {}
        }
        print_state(config, &outcome.state.traffic);
    }
    match outcome.verdict {
        Verdict::Refused | Verdict::Superseded => Err(Failure(REFUSED, outcome.note.clone())),
        Verdict::Applied | Verdict::Unchanged => Ok(()),
    }
}

/// Submits one operation to the store; the store applies it to the state it holds.
async fn change(args: &ChangeArgs, reason: String, change: Change) -> Result<(), Failure> {
    let (config, store) = open(&args.config)?;
    let op = Operation::new(&author(), reason, change, SystemTime::now());
    let outcome = submit(&store, &config, op.clone(), args.if_version).await?;
    report(args.config.json, &config, &op, &outcome, json!({}))
}

async fn status(c: &ConfigArg) -> Result<(), Failure> {
    let (config, store) = open(c)?;
    let (state, stored) = current(&config, &store).await?;
    let rollout = view::rollout_json(&store, &state).await?;
    if c.json {
        let label = |side: Side| {
            config
                .environments
                .get(side)
                .label_str()
                .map(str::to_string)
        };
        say!(
            "{}",
            json!({
                "active": state.traffic.active,
                "canary_weight": state.traffic.canary_weight(),
                "version": state.traffic.version,
                "salt": state.traffic.salt,
                "stored": stored,
                "labels": {"blue": label(Side::Blue), "green": label(Side::Green)},
                "updated_by": state.updated_by,
                "updated_at": state.updated_at,
                "last_change": state.last_change,
                "rollout": rollout,
                "store": {"backend": store.backend(), "connected": true, "last_sync_age_s": 0.0, "pending_ops": 0},
            })
        );
        return Ok(());
    }
    print_state(&config, &state.traffic);
    if stored {
        say!(
            "changed    {} by {} ({})",
            state.updated_at,
            state.updated_by,
            state.last_change
        );
    } else {
        say!(
            "store      {} holds no state yet: this is the config's initial state; the first change writes it",
            store.backend()
        );
    }
    if let Some(r) = &rollout {
        say!();
        view::print_rollout(r);
    }
    Ok(())
}

pub fn print_state(config: &Config, s: &TrafficState) {
    let label = |side: Side| {
        config
            .environments
            .get(side)
            .label_str()
            .unwrap_or("")
            .to_string()
    };
    say!("active     {} {}", s.active, label(s.active));
    say!(
        "candidate  {} {} at {:.2}%",
        s.candidate(),
        label(s.candidate()),
        s.canary_weight()
    );
    say!("version    {}", s.version);
    say!("salt       {}", s.salt);
}

async fn health(c: &ConfigArg) -> Result<(), Failure> {
    let mut config = Config::from_file(&c.config)?;
    config.health_check.enabled = false;
    config.state = Default::default();
    let client = Client::from_config(config)?;
    let mut all_ok = true;
    let mut rows = Vec::new();
    for side in Side::BOTH {
        let p = client.health_check(side).await;
        all_ok &= p.healthy;
        rows.push(p);
    }
    client.close();
    if c.json {
        say!("{}", json!({"healthy": all_ok, "environments": rows}));
    } else {
        say!("{:<6}  {:<9}  {:>10}  error", "side", "health", "latency");
        for (side, p) in Side::BOTH.into_iter().zip(&rows) {
            let health = if p.healthy { "healthy" } else { "UNHEALTHY" };
            let latency = format!("{:.1} ms", p.latency_ms);
            say!(
                "{:<6}  {health:<9}  {latency:>10}  {}",
                side.as_str(),
                p.error.as_deref().unwrap_or("-")
            );
        }
    }
    if all_ok {
        Ok(())
    } else {
        Err(Failure(REFUSED, "an environment is unhealthy".to_string()))
    }
}

async fn history(c: &ConfigArg, follow: bool, limit: usize) -> Result<(), Failure> {
    let (_, store) = open(c)?;
    let mut seen: Vec<Event> = store.events(limit).await?;
    if c.json && !follow {
        say!(
            "{}",
            Value::Array(seen.iter().map(Event::to_json).collect())
        );
        return Ok(());
    }
    if seen.is_empty() && !c.json {
        say!(
            "no events yet in the {} store{}",
            store.backend(),
            if follow {
                "; waiting for the first"
            } else {
                ""
            }
        );
    } else if !c.json {
        view::print_event_header();
    }
    for e in &seen {
        view::print_event(e, c.json);
    }
    if !follow {
        return Ok(());
    }
    loop {
        // A hint wakes this at once; the poll is the backstop.
        store.changed().await;
        let latest = match store.events(1000).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("turnout: {e}; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let fresh: Vec<Event> = latest.into_iter().filter(|e| !seen.contains(e)).collect();
        if seen.is_empty() && !fresh.is_empty() && !c.json {
            view::print_event_header();
        }
        for e in &fresh {
            view::print_event(e, c.json);
        }
        seen.extend(fresh);
        if seen.len() > 2000 {
            seen.drain(..1000);
        }
    }
}
