//! Operator commands: read and change the traffic state in the shared store (file or Redis), so
//! that every instance of the app follows.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use turnout::events::{Event, EventKind};
use turnout::routing::{TrafficState, percent_to_bp};
use turnout::state::Store;
use turnout::{Client, Config, Side};

/// The config file every operator command reads.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The app's config file (YAML, TOML or JSON); its `state` section names the shared store.
    #[arg(long, short, env = "TURNOUT_CONFIG", default_value = "turnout.yaml")]
    config: PathBuf,
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
        /// Keep printing new events as they come.
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
        config: ConfigArg,
    },
    /// Send W percent (0..=100) of traffic to the candidate.
    SetWeight {
        /// Percent.
        weight: f64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Make the candidate active, weight 0.
    Promote(ConfigArg),
    /// Weight 0 if a canary runs, else switch back to the other side.
    Rollback {
        /// Why, for the history.
        #[arg(long, default_value = "manual rollback")]
        reason: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Runs an operator command.
pub async fn run(op: Op) -> Result<(), String> {
    match op {
        Op::Status(c) => {
            let (config, store) = open(&c).await?;
            let state = current(&config, &store).await?;
            print_state(&config, &state);
            Ok(())
        }
        Op::Health(c) => health(&c).await,
        Op::History {
            config,
            follow,
            limit,
        } => history(&config, follow, limit).await,
        Op::Switch { env, config } => {
            change(
                &config,
                EventKind::Switch,
                format!("switched to {env} (turnout CLI)"),
                |s| Ok(s.switched(env)),
            )
            .await
        }
        Op::SetWeight { weight, config } => {
            if !(0.0..=100.0).contains(&weight) {
                return Err(format!(
                    "canary_weight must be within 0..=100, got {weight}"
                ));
            }
            change(
                &config,
                EventKind::WeightChanged,
                format!("canary weight set to {weight}% (turnout CLI)"),
                |s| Ok(s.weighted(percent_to_bp(weight))),
            )
            .await
        }
        Op::Promote(c) => {
            change(
                &c,
                EventKind::Promote,
                "promoted the candidate (turnout CLI)".to_string(),
                |s| Ok(s.promoted()),
            )
            .await
        }
        Op::Rollback { reason, config } => {
            change(&config, EventKind::Rollback, reason, |s| Ok(s.reverted())).await
        }
    }
}

async fn open(c: &ConfigArg) -> Result<(Config, Store), String> {
    let config = Config::from_file(&c.config).map_err(|e| e.to_string())?;
    let store = Store::open(&config.state)
        .await
        .map_err(|e| e.to_string())?;
    if !store.is_shared() {
        return Err(format!(
            "{}: state.backend is memory, so nothing is shared with the app's instances; set state.backend to file or redis",
            c.config.display()
        ));
    }
    Ok((config, store))
}

/// The stored state, or the config's initial one when nothing was stored yet.
async fn current(config: &Config, store: &Store) -> Result<TrafficState, String> {
    Ok(store
        .load()
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| TrafficState {
            active: config.active,
            weight_bp: percent_to_bp(config.canary_weight),
            salt: config.salt.clone(),
            version: 0,
        }))
}

/// Applies `f` with a compare-and-swap, retrying when another writer got there first.
async fn change(
    c: &ConfigArg,
    kind: EventKind,
    reason: String,
    f: impl Fn(&TrafficState) -> Result<TrafficState, String>,
) -> Result<(), String> {
    let (config, store) = open(c).await?;
    for _ in 0..20 {
        let stored = store.load().await.map_err(|e| e.to_string())?;
        let old = current(&config, &store).await?;
        let mut new = f(&old)?;
        if new == old {
            println!("no change: already so (version {})", old.version);
            return Ok(());
        }
        new.version = old.version + 1;
        if store
            .compare_and_swap(stored.map(|s| s.version), &new)
            .await
            .map_err(|e| e.to_string())?
        {
            let mut event = Event::new(kind, std::time::SystemTime::now(), reason)
                .detail("active", new.active.as_str())
                .detail("canary_weight", new.canary_weight())
                .detail("source", "cli");
            event.version = new.version;
            store
                .append_event(&event)
                .await
                .map_err(|e| e.to_string())?;
            print_state(&config, &new);
            return Ok(());
        }
    }
    Err("the shared state kept changing under us; try again".to_string())
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

async fn health(c: &ConfigArg) -> Result<(), String> {
    let mut config = Config::from_file(&c.config).map_err(|e| e.to_string())?;
    config.health_check.enabled = false;
    let client = Client::from_config(config).map_err(|e| e.to_string())?;
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
        Err("an environment is unhealthy".to_string())
    }
}

async fn history(c: &ConfigArg, follow: bool, limit: usize) -> Result<(), String> {
    let (_, store) = open(c).await?;
    let mut seen: Vec<Event> = store.events(limit).await.map_err(|e| e.to_string())?;
    for e in &seen {
        print_event(e);
    }
    if !follow {
        return Ok(());
    }
    loop {
        store.changed().await;
        let latest = store.events(1000).await.map_err(|e| e.to_string())?;
        let fresh: Vec<Event> = latest.into_iter().filter(|e| !seen.contains(e)).collect();
        for e in &fresh {
            print_event(e);
        }
        seen.extend(fresh);
        if seen.len() > 2000 {
            seen.drain(..1000);
        }
    }
}

fn print_event(e: &Event) {
    let side = e.environment.map_or(String::new(), |s| format!(" [{s}]"));
    println!(
        "{}  v{:<4} {:<20}{side} {}",
        e.at,
        e.version,
        e.kind.as_str(),
        e.reason
    );
}
