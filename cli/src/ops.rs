//! Operator commands: read and change the traffic state in the shared store (file or Redis), so
//! that every instance of the app follows.

use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use serde_json::json;
use turnout::events::Event;
use turnout::routing::{TrafficState, percent_to_bp};
use turnout::state::{Change, Operation, Source, Store, StoredState, Verdict};
use turnout::{Client, Config, ErrorKind, Side};

/// The config file every operator command reads.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The app's config file (YAML, TOML or JSON); its `state` section names the shared store.
    #[arg(long, short, env = "TURNOUT_CONFIG", default_value = "turnout.yaml")]
    config: PathBuf,
    /// Print one JSON document on stdout.
    #[arg(long)]
    json: bool,
}

/// The options of a command that changes the state.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Refuse the change unless the stored state is at this version.
    #[arg(long)]
    if_version: Option<u64>,
}

/// An operator command.
#[derive(Debug, Subcommand)]
pub enum Op {
    /// Show the shared traffic state.
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
}

/// Exit code: refused, or the change did not happen.
const REFUSED: u8 = 1;
/// Exit code: the store is unreachable or the config is bad.
const UNREACHABLE: u8 = 2;

/// A failed command: its exit code and what to say.
struct Failure(u8, String);

impl From<turnout::Error> for Failure {
    fn from(e: turnout::Error) -> Self {
        let code = match e.kind() {
            ErrorKind::Store | ErrorKind::Config => UNREACHABLE,
            _ => REFUSED,
        };
        Self(code, e.to_string())
    }
}

/// Runs an operator command. A store that cannot be reached, or a bad config, exits with 2
/// (API.md, *CLI*); the other failures are returned (exit 1).
pub async fn run(op: Op) -> Result<(), String> {
    match run_op(op).await {
        Ok(()) => Ok(()),
        Err(Failure(UNREACHABLE, message)) => {
            eprintln!("turnout: {message}");
            std::process::exit(i32::from(UNREACHABLE));
        }
        Err(Failure(_, message)) => Err(message),
    }
}

async fn run_op(op: Op) -> Result<(), Failure> {
    match op {
        Op::Status(c) => {
            let (config, store) = open(&c)?;
            let state = current(&config, &store).await?;
            if c.json {
                println!("{}", status_json(&config, &store, &state));
            } else {
                print_state(&config, &state.traffic);
                if !state.updated_by.is_empty() {
                    println!("changed    {} by {}", state.updated_at, state.updated_by);
                }
            }
            Ok(())
        }
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
                    REFUSED,
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
    }
}

fn open(c: &ConfigArg) -> Result<(Config, Store), Failure> {
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
fn initial(config: &Config) -> TrafficState {
    TrafficState {
        active: config.active,
        weight_bp: percent_to_bp(config.canary_weight),
        salt: config.salt.clone(),
        version: 1,
    }
}

/// The stored state, or the config's initial one when nothing was stored yet.
async fn current(config: &Config, store: &Store) -> Result<StoredState, Failure> {
    Ok(store
        .load()
        .await?
        .unwrap_or_else(|| StoredState::initial(initial(config))))
}

/// Who the CLI is in the history: `cli:user@host`.
fn author() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}@{}", turnout::state::hostname())
}

/// Submits one operation to the store; the store applies it to the state it holds.
async fn change(args: &ChangeArgs, reason: String, change: Change) -> Result<(), Failure> {
    let (config, store) = open(&args.config)?;
    let mut op = Operation::new(&author(), reason, change, SystemTime::now());
    op.if_version = args.if_version;
    op.source = Source::Cli.as_str().to_string();
    let outcome = store.apply(&op, &initial(&config)).await?;
    if args.config.json {
        println!(
            "{}",
            json!({
                "op": op.id,
                "author": op.author,
                "verdict": outcome.verdict,
                "note": outcome.note,
                "state": outcome.state,
            })
        );
    } else {
        match outcome.verdict {
            Verdict::Applied => {}
            Verdict::Unchanged => println!(
                "no change: {} (version {})",
                outcome.note.trim_start_matches("no change: "),
                outcome.state.traffic.version
            ),
            Verdict::Superseded | Verdict::Refused => {}
        }
        print_state(&config, &outcome.state.traffic);
    }
    match outcome.verdict {
        Verdict::Refused | Verdict::Superseded => Err(Failure(REFUSED, outcome.note)),
        Verdict::Applied | Verdict::Unchanged => Ok(()),
    }
}

fn status_json(config: &Config, store: &Store, s: &StoredState) -> serde_json::Value {
    let label = |side: Side| {
        config
            .environments
            .get(side)
            .label_str()
            .map(str::to_string)
    };
    json!({
        "active": s.traffic.active,
        "canary_weight": s.traffic.canary_weight(),
        "version": s.traffic.version,
        "salt": s.traffic.salt,
        "labels": {"blue": label(Side::Blue), "green": label(Side::Green)},
        "updated_by": s.updated_by,
        "updated_at": s.updated_at,
        "last_change": s.last_change,
        "store": {"backend": store.backend(), "connected": true, "last_sync_age_s": 0.0, "pending_ops": 0},
    })
}

fn print_state(config: &Config, s: &TrafficState) {
    let label = |side: Side| {
        config
            .environments
            .get(side)
            .label_str()
            .unwrap_or("")
            .to_string()
    };
    println!("active     {} {}", s.active, label(s.active));
    println!(
        "candidate  {} {} at {:.2}%",
        s.candidate(),
        label(s.candidate()),
        s.canary_weight()
    );
    println!("version    {}", s.version);
    println!("salt       {}", s.salt);
}

async fn health(c: &ConfigArg) -> Result<(), Failure> {
    let mut config = Config::from_file(&c.config)?;
    config.health_check.enabled = false;
    config.state = Default::default();
    let client = Client::from_config(config)?;
    let mut all_ok = true;
    for side in Side::BOTH {
        let p = client.health_check(side).await;
        all_ok &= p.healthy;
        match &p.error {
            None => println!("{side:<6} healthy    {:>8.1} ms", p.latency_ms),
            Some(e) => println!("{side:<6} UNHEALTHY  {:>8.1} ms  {e}", p.latency_ms),
        }
    }
    client.close();
    if all_ok {
        Ok(())
    } else {
        Err(Failure(REFUSED, "an environment is unhealthy".to_string()))
    }
}

async fn history(c: &ConfigArg, follow: bool, limit: usize) -> Result<(), Failure> {
    let (_, store) = open(c)?;
    let mut seen: Vec<Event> = store.events(limit).await?;
    for e in &seen {
        print_event(e, c.json);
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
                continue;
            }
        };
        let fresh: Vec<Event> = latest.into_iter().filter(|e| !seen.contains(e)).collect();
        for e in &fresh {
            print_event(e, c.json);
        }
        seen.extend(fresh);
        if seen.len() > 2000 {
            seen.drain(..1000);
        }
    }
}

fn print_event(e: &Event, as_json: bool) {
    if as_json {
        println!("{}", e.to_json());
        return;
    }
    let side = e.environment.map_or(String::new(), |s| format!(" [{s}]"));
    let author = e
        .details
        .get("author")
        .and_then(|a| a.as_str())
        .map_or(String::new(), |a| format!(" by {a}"));
    println!(
        "{}  v{:<4} {:<20}{side} {}{author}",
        e.at,
        e.version,
        e.kind.as_str(),
        e.reason
    );
}
