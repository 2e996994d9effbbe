//! Key pools: the keys of one side, used round-robin; a key answered 401/403 is taken out, one
//! answered 429 rests for its `Retry-After`; the list can be replaced at run time.

mod pool;

pub(crate) use pool::{KeyPool, PooledKey};
pub use pool::{KeyState, KeyStatus};
