//! The audit log: every event appended to `config.audit_log` as one JSON line.
//!
//! **When a line is written.** Publishing an event only hands its JSON to a channel; a
//! dedicated thread (`turnout-audit`) appends it to the file with one `write` call and flushes
//! it at once, so a line reaches the operating system within microseconds of the event, in
//! publication order, and the request path never does file I/O. Lines are not `fsync`ed: a
//! process crash loses nothing already written, a power cut may lose the last lines.
//! [`crate::Client::close`] waits (up to two seconds) until every line published before it is
//! written, so a short-lived program (a CLI command) closes its client before exiting.
//!
//! The file is opened in append mode (created if missing) when the client is built; several
//! processes may append to the same file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::time::Duration;

use crate::client::supervise::{AUDIT_WRITER, Supervisor};
use crate::error::{Error, Result};

enum Message {
    Line(String),
    /// Answers once every line sent before it is written.
    Flush(SyncSender<()>),
}

/// The writer's handle; dropping it ends the thread once the queue is written.
#[derive(Debug)]
pub(crate) struct AuditLog {
    tx: Sender<Message>,
    path: PathBuf,
}

impl AuditLog {
    /// Opens (or creates) `path` for appending and starts the writer thread.
    pub fn open(path: &Path, supervisor: &Supervisor) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                Error::Config(format!("audit_log: cannot open {}: {e}", path.display()))
            })?;
        let (tx, rx) = mpsc::channel();
        let shown = path.to_path_buf();
        let supervisor = supervisor.clone();
        std::thread::Builder::new()
            .name("turnout-audit".to_string())
            .spawn(move || {
                let mut file = file;
                supervisor.run_blocking(AUDIT_WRITER, || write_lines(&mut file, &shown, &rx));
            })
            .map_err(|e| Error::Config(format!("audit_log: cannot start its writer: {e}")))?;
        Ok(Self {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// Queues one line (without its newline). Never blocks.
    pub fn append(&self, line: String) {
        if self.tx.send(Message::Line(line)).is_err() {
            tracing::error!(target: "turnout::audit", path = %self.path.display(), "the audit log writer has stopped; event not written");
        }
    }

    /// Waits until every line queued so far is written, at most `timeout`; false on timeout.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::sync_channel(1);
        if self.tx.send(Message::Flush(ack)).is_err() {
            return false;
        }
        done.recv_timeout(timeout).is_ok()
    }
}

fn write_lines(file: &mut File, path: &Path, rx: &Receiver<Message>) {
    let mut failing = false;
    for message in rx {
        match message {
            Message::Line(mut line) => {
                line.push('\n');
                // One write per line: with O_APPEND, lines of concurrent writers do not mix.
                let result = file.write_all(line.as_bytes()).and_then(|()| file.flush());
                match result {
                    Err(e) if !failing => {
                        failing = true;
                        tracing::error!(target: "turnout::audit", path = %path.display(), "cannot write the audit log: {e}");
                    }
                    Err(_) => {}
                    Ok(()) => failing = false,
                }
            }
            Message::Flush(ack) => {
                let _ = ack.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_in_order_and_flush_waits_for_them() {
        let dir = std::env::temp_dir().join(format!("turnout-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("unit.jsonl");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, "{\"before\":true}\n").unwrap();
        let log = AuditLog::open(&path, &Supervisor::default()).unwrap();
        for i in 0..100 {
            log.append(format!("{{\"i\":{i}}}"));
        }
        assert!(log.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 101, "the existing line is kept");
        assert_eq!(lines[1], "{\"i\":0}");
        assert_eq!(lines[100], "{\"i\":99}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unopenable_path_is_a_config_error() {
        let err = AuditLog::open(
            Path::new("/nonexistent-dir-turnout/x/audit.jsonl"),
            &Supervisor::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("audit_log: cannot open"), "{err}");
    }
}
