//! Object affinity across a fleet (SEMANTICS.md, *Under the official SDKs*): the side that
//! holds a file, a stored response, a batch…, kept in the store with a TTL so that a follow-up
//! served by another process goes to the same side. Only Redis shares it: the memory store is
//! one process, and the file store keeps traffic state only (its processes share a host, not a
//! request stream worth a file write per created object).

use std::time::Duration;

use super::store::Store;
use crate::environment::Side;
use crate::error::Result;

/// How long the store remembers where an object lives.
pub const OBJECT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

impl Store {
    /// Whether this store shares object affinity between processes.
    pub fn shares_objects(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(_) => true,
            Self::Memory(_) | Self::File(_) => false,
        }
    }

    /// The side the fleet recorded for object `id`, if any.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub async fn object_side(&self, id: &str) -> Result<Option<Side>> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.object_side(id).await,
            Self::Memory(_) | Self::File(_) => Ok(None),
        }
    }

    /// Records that `side` holds object `id`, for [`OBJECT_TTL`].
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub async fn record_object(&self, id: &str, side: Side) -> Result<()> {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(r) => r.record_object(id, side).await,
            Self::Memory(_) | Self::File(_) => Ok(()),
        }
    }
}

#[cfg(feature = "redis")]
impl super::redis_store::RedisStore {
    async fn object_side(&self, id: &str) -> Result<Option<Side>> {
        let key = format!("{}{id}", self.keys.object_prefix);
        let mut conn = self.conn().await?;
        let side: Option<String> = match redis::AsyncCommands::get(&mut conn, &key).await {
            Ok(v) => v,
            Err(e) => return Err(self.failed(e).await),
        };
        // Anything but a side's name is not ours to follow: routed as if unknown.
        Ok(side.and_then(|s| s.parse().ok()))
    }

    async fn record_object(&self, id: &str, side: Side) -> Result<()> {
        let key = format!("{}{id}", self.keys.object_prefix);
        let mut conn = self.conn().await?;
        let ttl = OBJECT_TTL.as_secs();
        match redis::AsyncCommands::set_ex::<_, _, ()>(&mut conn, &key, side.as_str(), ttl).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }
}
