//! The file back end: `{path}` holds the ledger (state, checkpoints, recent outcomes) as JSON,
//! `{path}.events.jsonl` the history. `{path}.lock` serialises the processes of one host (an OS
//! file lock): operations hold it exclusively, reads shared. Every rewrite goes to a temporary
//! file, is fsynced, then renamed over the old one, so a reader never sees half a file.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::fleet::FleetLedger;
use super::memory::{EVENTS, Ledger, keep_named};
use super::operation::{Operation, Outcome, StoredState};
use super::store::{store_error, validate};
use crate::error::Result;
use crate::events::Event;
use crate::rollout::Checkpoint;
use crate::routing::TrafficState;

/// A state file shared by the processes of one host.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path` (created by the first operation).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub(crate) async fn load(&self) -> Result<Option<StoredState>> {
        let store = self.clone();
        blocking(move || store.load_blocking()).await
    }

    pub(crate) fn load_blocking(&self) -> Result<Option<StoredState>> {
        let _lock = lock(&self.path, false)?;
        Ok(read_ledger(&self.path)?.state)
    }

    pub(crate) async fn apply(&self, op: &Operation, init: &TrafficState) -> Result<Outcome> {
        let path = self.path.clone();
        let (op, init) = (op.clone(), init.clone());
        blocking(move || {
            let _lock = lock(&path, true)?;
            let mut ledger = read_ledger(&path)?;
            let before = ledger.state.clone();
            let (outcome, event) = ledger.apply(&op, &init);
            if ledger.state != before || event.is_some() {
                let text = serde_json::to_vec(&ledger).map_err(|e| store_error("file", e))?;
                replace(&path, &text)?;
            }
            if let Some(e) = event {
                append_line(&path, &e)?;
            }
            Ok(outcome)
        })
        .await
    }

    pub(crate) async fn append_event(&self, event: &Event) -> Result<()> {
        let path = self.path.clone();
        let event = event.clone();
        blocking(move || {
            let _lock = lock(&path, true)?;
            append_line(&path, &event)
        })
        .await
    }

    pub(crate) async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        let path = self.path.clone();
        blocking(move || {
            let _lock = lock(&path, false)?;
            let events = events_path(&path);
            let lines = read_lines(&events)?;
            let start = lines.len().saturating_sub(limit);
            lines[start..]
                .iter()
                .map(|l| {
                    serde_json::from_str(l).map_err(|e| {
                        store_error(
                            "file",
                            format!("{} holds a bad line: {e}", events.display()),
                        )
                    })
                })
                .collect()
        })
        .await
    }

    /// Runs `f` on the fleet part of the ledger under the lock (exclusive when `write`, and then
    /// the ledger is written back if `f` changed it).
    pub(crate) async fn fleet<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&mut FleetLedger) -> T + Send + 'static,
    ) -> Result<T> {
        let path = self.path.clone();
        blocking(move || {
            let _lock = lock(&path, write)?;
            let mut ledger = read_ledger(&path)?;
            // Most rounds change nothing (a lease held by another): no rewrite then.
            let before = write
                .then(|| serde_json::to_vec(&ledger.fleet).ok())
                .flatten();
            let out = f(&mut ledger.fleet);
            if write && before != serde_json::to_vec(&ledger.fleet).ok() {
                let text = serde_json::to_vec(&ledger).map_err(|e| store_error("file", e))?;
                replace(&path, &text)?;
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn put_checkpoint(&self, cp: Checkpoint, event: Event) -> Result<()> {
        let path = self.path.clone();
        blocking(move || {
            let _lock = lock(&path, true)?;
            let mut ledger = read_ledger(&path)?;
            keep_named(&mut ledger.named, cp);
            let text = serde_json::to_vec(&ledger).map_err(|e| store_error("file", e))?;
            replace(&path, &text)?;
            append_line(&path, &event)
        })
        .await
    }

    pub(crate) async fn named(&self) -> Result<Vec<Checkpoint>> {
        let path = self.path.clone();
        blocking(move || {
            let _lock = lock(&path, false)?;
            Ok(read_ledger(&path)?.named.into_iter().collect())
        })
        .await
    }

    pub(crate) async fn checkpoints(&self) -> Result<Vec<StoredState>> {
        let path = self.path.clone();
        blocking(move || {
            let _lock = lock(&path, false)?;
            Ok(read_ledger(&path)?.checkpoints.into_iter().collect())
        })
        .await
    }
}

fn events_path(path: &Path) -> PathBuf {
    suffixed(path, ".events.jsonl")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn read_ledger(path: &Path) -> Result<Ledger> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ledger::default()),
        Err(e) => return Err(store_error("file", format!("{}: {e}", path.display()))),
    };
    let ledger: Ledger = serde_json::from_slice(&bytes).map_err(|e| {
        store_error(
            "file",
            format!(
                "bad stored state: {} is not a turnout state file: {e}",
                path.display()
            ),
        )
    })?;
    if let Some(s) = &ledger.state {
        validate(&path.display().to_string(), s)?;
    }
    Ok(ledger)
}

/// Writes `bytes` to `path` atomically: a temporary file, fsynced, renamed over it.
fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = suffixed(path, ".tmp");
    let io = |e: std::io::Error, p: &Path| store_error("file", format!("{}: {e}", p.display()));
    let mut f = File::create(&tmp).map_err(|e| io(e, &tmp))?;
    f.write_all(bytes).map_err(|e| io(e, &tmp))?;
    f.sync_all().map_err(|e| io(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| io(e, path))
}

/// Appends one event (fsynced); past twice the kept count, the file is rewritten with the last
/// [`EVENTS`] through [`replace`].
fn append_line(path: &Path, event: &Event) -> Result<()> {
    let events = events_path(path);
    let line = serde_json::to_string(event).map_err(|e| store_error("file", e))?;
    let io = |e: std::io::Error| store_error("file", format!("{}: {e}", events.display()));
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&events)
        .map_err(io)?;
    writeln!(f, "{line}").map_err(io)?;
    f.sync_data().map_err(io)?;
    drop(f);
    let lines = read_lines(&events)?;
    if lines.len() > 2 * EVENTS {
        let keep = &lines[lines.len() - EVENTS..];
        replace(&events, (keep.join("\n") + "\n").as_bytes())?;
    }
    Ok(())
}

fn read_lines(path: &Path) -> Result<Vec<String>> {
    match File::open(path) {
        Ok(f) => BufReader::new(f)
            .lines()
            .filter(|l| !matches!(l, Ok(s) if s.trim().is_empty()))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| store_error("file", e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(store_error("file", format!("{}: {e}", path.display()))),
    }
}

/// The store's lock, held until dropped.
///
/// It is released explicitly, not by closing the file: a process forked while the lock is held
/// inherits a descriptor of the same open file, which the child never closes (the thread
/// holding it does not exist there), and `flock` keeps a lock while any descriptor of the open
/// file remains. An explicit unlock releases it for every descriptor, the child's included.
struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        // An error leaves the lock to the descriptor's close, as before.
        let _ = self.0.unlock();
    }
}

/// Takes the store's lock (exclusive for writers, shared for readers); released on drop.
fn lock(path: &Path, exclusive: bool) -> Result<Lock> {
    let p = suffixed(path, ".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| store_error("file", format!("{}: {e}", p.display())))?;
    let locked = if exclusive { f.lock() } else { f.lock_shared() };
    locked.map_err(|e| store_error("file", format!("{}: {e}", p.display())))?;
    Ok(Lock(f))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| store_error("file", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_released_even_while_a_copy_of_its_descriptor_lives() {
        // What a process forked while the lock was held leaves behind: a descriptor of the same
        // open file that nothing will close.
        let dir = std::env::temp_dir().join(format!("turnout-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("traffic.json");
        let held = lock(&path, true).unwrap();
        let inherited = held.0.try_clone().unwrap();
        drop(held);
        let other = OpenOptions::new()
            .write(true)
            .open(suffixed(&path, ".lock"))
            .unwrap();
        assert!(other.try_lock().is_ok(), "the lock outlived its holder");
        drop(inherited);
        let _ = std::fs::remove_dir_all(dir);
    }
}
