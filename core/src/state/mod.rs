//! Where the traffic state lives: in this process (memory), in a file shared by the processes
//! of one host, or in Redis shared by a fleet. Every change is an [`Operation`] the store applies
//! atomically to the state it holds (SEMANTICS.md, *Fleet*).

mod file;
mod fleet;
mod instance;
mod memory;
mod objects;
mod operation;
mod pending;
#[cfg(feature = "redis")]
mod redis_store;
mod rollout;
mod store;

pub use fleet::{Gcra, SecondCounts};
pub use instance::{hostname, instance_id};
pub use memory::MemoryStore;
pub use objects::OBJECT_TTL;
pub use operation::{Canary, Change, Operation, Outcome, Source, StoredState, Verdict, apply};
pub use pending::{MAX_UNFLUSHED, PendingSeconds};
pub use rollout::RolloutRecord;
pub use store::{MAX_VERSION, MAX_WINDOW_SECONDS, REDIS_POLL, Store};
