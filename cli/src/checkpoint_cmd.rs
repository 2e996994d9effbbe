//! `turnout checkpoint create NAME|list|restore ID`: checkpoints kept in the shared store, so
//! that any operator (or CI job) restores what another one saved. Named checkpoints are taken
//! here; the store also keeps the state before each of the last ten changes (`auto-vN`, the
//! version they were taken at).

use std::time::SystemTime;

use clap::Subcommand;
use serde_json::{Value, json};
use turnout::Config;
use turnout::events::{Event, EventKind};
use turnout::rollout::Checkpoint;
use turnout::state::{Change, Operation, Store};

use crate::ops::{ChangeArgs, ConfigArg, Failure, REFUSED, author, current, open, report, submit};

/// A checkpoint command.
#[derive(Debug, Subcommand)]
pub enum CheckpointCmd {
    /// Take a checkpoint of the stored traffic state and this config, named NAME.
    Create {
        /// Its name.
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List the checkpoints kept in the store, oldest first.
    List(ConfigArg),
    /// Re-apply checkpoint ID's traffic state (active side, weight, salt).
    Restore {
        /// The checkpoint's id (see `checkpoint list`).
        id: String,
        #[command(flatten)]
        args: ChangeArgs,
    },
}

impl CheckpointCmd {
    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        match self {
            Self::Create { config, .. } | Self::List(config) => config.json,
            Self::Restore { args, .. } => args.config.json,
        }
    }
}

/// Runs a checkpoint command.
pub async fn run(cmd: CheckpointCmd) -> Result<(), Failure> {
    match cmd {
        CheckpointCmd::Create { name, config } => create(&config, &name).await,
        CheckpointCmd::List(config) => list(&config).await,
        CheckpointCmd::Restore { id, args } => restore(&args, &id).await,
    }
}

async fn create(c: &ConfigArg, name: &str) -> Result<(), Failure> {
    let (config, store) = open(c)?;
    let (state, _) = current(&config, &store).await?;
    let now = SystemTime::now();
    let id = format!("cp-{:08x}", rand_id());
    let cp = Checkpoint::of(&config, &state.traffic, id, name, now);
    let event = Event::new(
        EventKind::CheckpointCreated,
        now,
        format!("checkpoint {} ({name:?}) taken (turnout CLI)", cp.id),
    )
    .detail("checkpoint", cp.id.as_str())
    .detail("name", name)
    .detail("hash", cp.hash.as_str())
    .detail("author", author())
    .detail("source", "cli")
    .detail("active", state.traffic.active.as_str())
    .detail("canary_weight", state.traffic.canary_weight());
    let event = Event {
        version: state.traffic.version,
        ..event
    };
    store.put_checkpoint(cp.clone(), event).await?;
    if c.json {
        say!("{}", summary(&cp));
    } else {
        say!(
            "checkpoint {} ({name:?}) taken at version {}: {} active, {:.2}% to {}; hash {}",
            cp.id,
            cp.version,
            state.traffic.active,
            state.traffic.canary_weight(),
            state.traffic.candidate(),
            &cp.hash[..12]
        );
    }
    Ok(())
}

fn rand_id() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ std::process::id().rotate_left(16)
}

/// Every checkpoint in the store: the named ones and the automatic ones (`auto-vN`).
async fn all(config: &Config, store: &Store) -> Result<Vec<Checkpoint>, Failure> {
    let mut out: Vec<Checkpoint> = store
        .checkpoints()
        .await?
        .into_iter()
        .map(|s| {
            let name = format!("auto: before version {}", s.traffic.version + 1);
            let taken = humantime::parse_rfc3339_weak(&s.updated_at).ok();
            let cp = Checkpoint::of(
                config,
                &s.traffic,
                format!("auto-v{}", s.traffic.version),
                &name,
                taken.unwrap_or(SystemTime::UNIX_EPOCH),
            );
            // The config's initial state was never written: it has no time.
            Checkpoint {
                created_at: if taken.is_some() {
                    cp.created_at.clone()
                } else {
                    "-".to_string()
                },
                ..cp
            }
        })
        .collect();
    out.extend(store.named_checkpoints().await?);
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(out)
}

fn summary(cp: &Checkpoint) -> Value {
    json!({
        "id": cp.id,
        "name": cp.name,
        "hash": cp.hash,
        "created_at": cp.created_at,
        "version": cp.version,
        "traffic": cp.content["traffic"],
    })
}

async fn list(c: &ConfigArg) -> Result<(), Failure> {
    let (config, store) = open(c)?;
    let cps = all(&config, &store).await?;
    if c.json {
        say!("{}", Value::Array(cps.iter().map(summary).collect()));
        return Ok(());
    }
    if cps.is_empty() {
        say!(
            "no checkpoints yet in the {} store (one is kept before every change; `turnout checkpoint create NAME` takes one)",
            store.backend()
        );
        return Ok(());
    }
    say!(
        "{:<12}  {:<5}  {:<6}  {:>7}  {:<12}  {:<24}  name",
        "id",
        "ver",
        "active",
        "weight",
        "hash",
        "created"
    );
    for cp in &cps {
        let t = &cp.content["traffic"];
        let weight = t["weight_bp"].as_f64().unwrap_or(0.0) / 100.0;
        say!(
            "{:<12}  v{:<4}  {:<6}  {:>6.2}%  {:<12}  {:<24}  {}",
            cp.id,
            cp.version,
            t["active"].as_str().unwrap_or("?"),
            weight,
            cp.hash.get(..12).unwrap_or(&cp.hash),
            cp.created_at,
            cp.name
        );
    }
    Ok(())
}

async fn restore(args: &ChangeArgs, id: &str) -> Result<(), Failure> {
    let (config, store) = open(&args.config)?;
    let cps = all(&config, &store).await?;
    let Some(cp) = cps.iter().find(|c| c.id == id) else {
        let ids: Vec<&str> = cps.iter().map(|c| c.id.as_str()).collect();
        return Err(Failure(
            REFUSED,
            format!(
                "no checkpoint with id {id:?} (kept: {})",
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            ),
        ));
    };
    if !cp.taken_under(&config) {
        return Err(Failure(
            REFUSED,
            format!(
                "checkpoint {id} was taken with another routing config or other keys; only its own config can restore it"
            ),
        ));
    }
    let (active, weight_bp, salt) = cp.traffic()?;
    let op = Operation::new(
        &author(),
        format!(
            "restored checkpoint {} ({:?}) (turnout CLI)",
            cp.id, cp.name
        ),
        Change::Restore {
            checkpoint: cp.id.clone(),
            active,
            weight_bp,
            salt,
        },
        SystemTime::now(),
    );
    let outcome = submit(&store, &config, op.clone(), args.if_version).await?;
    report(
        args.config.json,
        &config,
        &op,
        &outcome,
        json!({"checkpoint": summary(cp)}),
    )
}
