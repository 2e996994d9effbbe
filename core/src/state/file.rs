//! The file back end: `{path}` holds the traffic state as JSON, `{path}.events.jsonl` the
//! history; `{path}.lock` serialises writers across processes (an OS file lock).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::store::store_error;
use crate::error::Result;
use crate::events::Event;
use crate::routing::TrafficState;

/// Events kept in the file history.
const KEEP: usize = 1000;

/// A state file shared by the processes of one host.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path` (created on first write).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub(crate) async fn load(&self) -> Result<Option<TrafficState>> {
        let path = self.path.clone();
        blocking(move || read_state(&path)).await
    }

    pub(crate) async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: &TrafficState,
    ) -> Result<bool> {
        let path = self.path.clone();
        let new = new.clone();
        blocking(move || {
            let _lock = lock(&path)?;
            let current = read_state(&path)?.map(|s| s.version);
            if current != expected {
                return Ok(false);
            }
            let text = serde_json::to_vec_pretty(&new).map_err(|e| store_error("file", e))?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text)
                .map_err(|e| store_error("file", format!("{}: {e}", tmp.display())))?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| store_error("file", format!("{}: {e}", path.display())))?;
            Ok(true)
        })
        .await
    }

    pub(crate) async fn append_event(&self, event: &Event) -> Result<()> {
        let path = self.path.clone();
        let line = serde_json::to_string(event).map_err(|e| store_error("file", e))?;
        blocking(move || {
            let _lock = lock(&path)?;
            let events = events_path(&path);
            let mut lines = read_lines(&events)?;
            lines.push(line);
            if lines.len() > KEEP {
                let excess = lines.len() - KEEP;
                lines.drain(..excess);
                let text = lines.join("\n") + "\n";
                std::fs::write(&events, text).map_err(|e| store_error("file", e))?;
            } else {
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&events)
                    .map_err(|e| store_error("file", format!("{}: {e}", events.display())))?;
                writeln!(f, "{}", lines[lines.len() - 1]).map_err(|e| store_error("file", e))?;
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        let path = events_path(&self.path);
        blocking(move || {
            let lines = read_lines(&path)?;
            let start = lines.len().saturating_sub(limit);
            lines[start..]
                .iter()
                .map(|l| {
                    serde_json::from_str(l)
                        .map_err(|e| store_error("file", format!("{}: {e}", path.display())))
                })
                .collect()
        })
        .await
    }
}

fn events_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".events.jsonl");
    PathBuf::from(p)
}

fn read_state(path: &Path) -> Result<Option<TrafficState>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            store_error(
                "file",
                format!("{} is not a traffic state: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(store_error("file", format!("{}: {e}", path.display()))),
    }
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

/// Takes the exclusive lock of the store; released when the file is dropped.
fn lock(path: &Path) -> Result<File> {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(&p))
        .map_err(|e| store_error("file", format!("{}: {e}", PathBuf::from(&p).display())))?;
    f.lock().map_err(|e| store_error("file", e))?;
    Ok(f)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| store_error("file", e))?
}
