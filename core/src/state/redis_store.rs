//! The Redis back end. Every key lives inside one hash tag, `{ns}`, so Redis Cluster keeps them
//! on one slot: the hash `{ns}:traffic`, the lists `{ns}:checkpoints` (10) and `{ns}:events`
//! (1000), one `{ns}:op:<id>` per applied operation (its result, kept a day, so a retried
//! submission is applied once), one `{ns}:obj:<id>` per object an answer created (its side,
//! kept 30 days: see `objects.rs`), and the channel `{ns}:changed` for hints.
//!
//! One Lua script applies an operation: it reads the stored state, checks it, computes the new
//! one (the rules of `operation::apply`, in Lua), stores it with `version + 1`, pushes the
//! checkpoint of the old state, appends the event and publishes the hint — one atomic step.
//!
//! The data link reconnects by itself: a command that fails on the connection drops it, and the
//! next command dials again (the caller's backoff paces the attempts).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::fleet::{Gcra, SecondCounts};
use super::operation::{Operation, Outcome, StoredState};
use super::store::{MAX_VERSION, store_error, validate};
use crate::environment::Side;
use crate::error::Result;
use crate::events::Event;
use crate::rollout::Checkpoint;
use crate::routing::TrafficState;
use crate::stats::fleet::FleetCounts;

/// Events kept in the Redis history.
const KEEP: isize = 1000;
/// How long a flushed batch's id is remembered: longer than any retry of it takes.
const FLUSHED_FOR: Duration = Duration::from_secs(600);
/// How long dialing and each command may take before the link counts as down.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Applies one operation (see the module docs). KEYS: traffic, checkpoints, events, op, channel.
/// ARGV: the operation (JSON), the event template (JSON), the state to start from when nothing is
/// stored yet (JSON).
const APPLY: &str = r#"
local done = redis.call('GET', KEYS[4])
if done then return done end
local op = cjson.decode(ARGV[1])
local h = redis.call('HGETALL', KEYS[1])
local s = {}
for i = 1, #h, 2 do s[h[i]] = h[i + 1] end
if h[1] == nil then
  local init = cjson.decode(ARGV[3])
  s = {active = init.active, weight_bp = tostring(init.weight_bp), salt = init.salt,
       version = string.format('%.0f', init.version), last_change = '', updated_by = '',
       updated_at = '', last_reason = ''}
end
local function bad(field, why)
  return redis.error_reply('bad stored state: ' .. KEYS[1] .. ' field ' .. field .. ' ' .. why)
end
if s.active ~= 'blue' and s.active ~= 'green' then return bad('active', 'is not blue or green') end
local weight = tonumber(s.weight_bp)
if weight == nil or weight ~= math.floor(weight) or weight < 0 or weight > 10000 then
  return bad('weight_bp', 'is not within 0..=10000')
end
if s.version == nil or not string.match(s.version, '^%d+$') or #s.version > 16
   or tonumber(s.version) > tonumber(ARGV[4]) then
  return bad('version', 'is not a version (0..=' .. ARGV[4] .. ')')
end
if s.salt == nil or s.salt == '' then return bad('salt', 'is missing') end
local version = tonumber(s.version)
local active, salt = s.active, s.salt
local other = (active == 'blue') and 'green' or 'blue'
local function result(verdict, note, state)
  return cjson.encode({id = op.id, verdict = verdict, note = note, state = state})
end
local cur = nil
if s.rollout and s.rollout ~= '' then cur = cjson.decode(s.rollout) end
local function snapshot(with_rollout)
  local st = {active = active, weight_bp = weight, salt = salt, version = version,
    last_change = s.last_change or '', updated_by = s.updated_by or '',
    updated_at = s.updated_at or '', last_reason = s.last_reason or ''}
  if s.undo_active and s.undo_active ~= '' then st.undo = {s.undo_active, s.undo_salt} end
  if with_rollout ~= false and cur then st.rollout = cur end
  return st
end
local function live(r) return r ~= nil and (r.state == 'running' or r.state == 'paused') end
local function describe(r)
  return string.format('rollout %s is %s at step %d of %d', r.id, r.state, r.step + 1, #r.plan.steps)
end
local function named(id)
  if live(cur) then
    if cur.id == id then return nil end
    return describe(cur) .. ', not ' .. id
  end
  if cur then return describe(cur) .. ': it is not live' end
  return 'no rollout was started'
end
local function matches(c) return c.active == active and c.weight_bp == weight and c.salt == salt end
local function stale()
  return string.format('the state changed meanwhile (now %s active, %s%% to %s, version %.0f)',
    active, tostring(weight / 100), other, version)
end
local function record(kind, verdict, note, st)
  local e = cjson.decode(ARGV[2])
  e.type = kind
  e.version = st.version
  e.active = st.active
  e.canary_weight = st.weight_bp / 100
  e.from_active = active
  e.from_weight = weight / 100
  e.verdict = verdict
  if note ~= '' then e.note = note end
  redis.call('LPUSH', KEYS[3], cjson.encode(e))
  redis.call('LTRIM', KEYS[3], 0, 999)
  redis.call('PUBLISH', KEYS[5], string.format('%.0f', st.version))
  local r = result(verdict, note, st)
  redis.call('SET', KEYS[4], r, 'EX', 86400)
  return r
end
if op.if_version and op.if_version ~= version then
  return result('refused', string.format('the state is at version %.0f, not %.0f', version, op.if_version), snapshot())
end
local pre = nil
if op.op == 'rollout_start' then
  if live(cur) then pre = describe(cur) .. '; abort it before starting another' end
elseif op.op == 'rollout_step' and cur then
  pre = named(op.rollout)
  if not pre and (cur.state ~= 'running' or cur.step + 1 ~= op.step) then
    pre = string.format('stale step %d: ', op.step + 1) .. describe(cur)
  end
elseif op.op == 'rollout_promote' and cur then
  pre = named(op.rollout)
  if not pre and (cur.state ~= 'running' or cur.step + 1 ~= #cur.plan.steps) then
    pre = 'stale promotion: ' .. describe(cur)
  end
elseif op.op == 'rollout_pause' or op.op == 'rollout_resume' or op.op == 'rollout_count' then
  pre = named(op.rollout)
  if not pre and cur.rev ~= op.rev then
    pre = string.format('the rollout record moved meanwhile (rev %.0f, not %.0f)', cur.rev, op.rev)
  end
elseif op.op == 'rollout_abort' then
  pre = named(op.rollout)
end
if pre then return result('refused', pre, snapshot()) end
local kind = ARGV[5]
local na, nw, ns = active, weight, salt
if op.op == 'switch' then na, nw = op.to, 0
elseif op.op == 'set_weight' then nw = op.weight_bp
elseif op.op == 'promote' then na, nw = other, 0
elseif op.op == 'restore' then na, nw, ns = op.active, op.weight_bp, op.salt
elseif op.op == 'rollout_start' then
  if op.candidate ~= other then return result('refused', op.candidate .. ' is no longer the candidate', snapshot()) end
  nw, ns = op.weight_bp, op.salt
elseif op.op == 'rollout_step' then
  if not matches(op.expect) then return result('refused', stale(), snapshot()) end
  nw = op.weight_bp
elseif op.op == 'rollout_promote' then
  if not matches(op.expect) then return result('refused', stale(), snapshot()) end
  na, nw = other, 0
elseif op.op == 'rollout_pause' or op.op == 'rollout_resume' or op.op == 'rollout_count' then
  na = active
elseif op.op == 'rollout_abort' then nw = 0
elseif op.op == 'rollback' then
  local c = op.canary
  -- Canary::still_runs_in: the same state, or the same rollout moved on by its own steps.
  if c and not (matches(c) or (c.active == active and c.salt == salt and c.weight_bp > 0
      and weight > 0 and s.last_change == 'rollout_step')) then
    return record('superseded', 'superseded', stale(), snapshot())
  end
  if weight > 0 then nw = 0
  elseif s.last_change == 'rollback' then
    return record(kind, 'unchanged', 'already rolled back', snapshot())
  elseif (s.last_change == 'switch' or s.last_change == 'promote' or s.last_change == 'checkpoint_restored')
     and s.undo_active and s.undo_active ~= '' and s.undo_active ~= active then
    na, nw, ns = s.undo_active, 0, s.undo_salt
  else
    return record(kind, 'unchanged', 'nothing to roll back: no canary runs and the last change made no side active', snapshot())
  end
else
  return redis.error_reply('unknown operation ' .. tostring(op.op))
end
if nw > 10000 then nw = 10000 end
local moved = not (na == active and nw == weight and ns == salt)
local is_rollout_op = string.sub(op.op, 1, 8) == 'rollout_'
local newr = nil
if (is_rollout_op or op.op == 'rollback') and op.record then
  newr = op.record
  newr.rev = ((cur and cur.rev) or 0) + 1
elseif moved and live(cur) and not is_rollout_op then
  newr = cjson.decode(s.rollout)
  if op.op == 'rollback' then
    newr.state, newr.reason = 'rolled_back', op.reason
  else
    newr.state, newr.reason = 'aborted', 'superseded by a ' .. kind .. ': ' .. op.reason
  end
  newr.rev = cur.rev + 1
end
if not moved and not newr then
  return record(kind, 'unchanged', 'no change: already so', snapshot())
end
local old = snapshot(false)
local nv = version + 1
local fields = {'version', string.format('%.0f', nv)}
if moved then
  redis.call('LPUSH', KEYS[2], cjson.encode(old))
  redis.call('LTRIM', KEYS[2], 0, 9)
  for _, f in ipairs({'active', na, 'weight_bp', tostring(nw), 'salt', ns, 'last_change', kind,
      'updated_by', op.author, 'updated_at', op.at, 'last_reason', op.reason}) do
    table.insert(fields, f)
  end
  local ua, us = '', ''
  if na ~= active then ua, us = active, salt end
  table.insert(fields, 'undo_active'); table.insert(fields, ua)
  table.insert(fields, 'undo_salt'); table.insert(fields, us)
end
if newr then
  table.insert(fields, 'rollout'); table.insert(fields, cjson.encode(newr))
  cur = newr
end
redis.call('HSET', KEYS[1], unpack(fields))
active, weight, salt, version = na, nw, ns, nv
if moved then
  s.last_change, s.updated_by, s.updated_at, s.last_reason = kind, op.author, op.at, op.reason
  if na ~= old.active then s.undo_active, s.undo_salt = old.active, old.salt
  else s.undo_active, s.undo_salt = '', '' end
end
local st = snapshot()
active, weight = old.active, old.weight_bp
return record(kind, 'applied', '', st)
"#;

/// Appends an event to the history and publishes a hint. KEYS: events, channel. ARGV: event.
const APPEND: &str = r"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, 999)
redis.call('PUBLISH', KEYS[2], 'event')
return 1
";

/// Compare-and-renew of the analyst lease. KEYS: lease. ARGV: holder, ttl ms.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Compare-and-delete of the analyst lease. KEYS: lease. ARGV: holder.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Adds one batch of counted seconds, once: a batch whose id was seen is skipped, so that a
/// batch sent again after an answer was lost (a timeout after Redis applied it) is not counted
/// twice. KEYS: the batch's marker, then per second its hash and its side's total. ARGV: the
/// seconds' expiry, the marker's, then per second the judged count, the number of fields and
/// the field/count pairs. Returns 1 when applied, 0 when the batch was seen.
const FLUSH: &str = r"
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
local a = 3
for i = 2, #KEYS, 2 do
  local judged, nf = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, nf do
    redis.call('HINCRBY', KEYS[i], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  if judged > 0 then redis.call('INCRBY', KEYS[i + 1], judged) end
end
return 1
";

/// GCRA on Redis' own clock. KEYS: the cell. ARGV: emission interval µs, burst, cost.
/// Returns 0 when admitted, else the µs to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local emission, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tolerance = emission * math.max(burst - 1, 0)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + emission * cost
local allow_at = new_tat - tolerance - emission
if allow_at > now then return allow_at - now end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// Keeps a named checkpoint and appends its event. KEYS: named, events, channel. ARGV:
/// checkpoint, event.
const NAMED: &str = r"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, 9)
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, 999)
redis.call('PUBLISH', KEYS[3], 'event')
return 1
";

/// A traffic state shared by a fleet through Redis.
pub struct RedisStore {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
    pub(super) keys: Keys,
    hints: Mutex<Option<redis::aio::PubSub>>,
    apply: redis::Script,
    append: redis::Script,
    renew: redis::Script,
    release: redis::Script,
    gcra: redis::Script,
    flush: redis::Script,
    named: redis::Script,
}

#[derive(Debug, Clone)]
pub(super) struct Keys {
    traffic: String,
    /// Prefix of `{ns}:obj:<id>`: the side holding an object (object affinity).
    pub(super) object_prefix: String,
    checkpoints: String,
    events: String,
    changed: String,
    op_prefix: String,
    tag: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only the keys.
        f.debug_struct("RedisStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` using keys under `{namespace}`; nothing is dialed until first use.
    pub fn new(url: &str, namespace: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| store_error("redis", e))?;
        let tag = format!("{{{namespace}}}");
        Ok(Self {
            client,
            conn: Mutex::new(None),
            keys: Keys {
                traffic: format!("{tag}:traffic"),
                object_prefix: format!("{tag}:obj:"),
                checkpoints: format!("{tag}:checkpoints"),
                events: format!("{tag}:events"),
                changed: format!("{tag}:changed"),
                op_prefix: format!("{tag}:op:"),
                tag: tag.clone(),
            },
            hints: Mutex::new(None),
            apply: redis::Script::new(APPLY),
            append: redis::Script::new(APPEND),
            renew: redis::Script::new(RENEW),
            release: redis::Script::new(RELEASE),
            gcra: redis::Script::new(GCRA),
            flush: redis::Script::new(FLUSH),
            named: redis::Script::new(NAMED),
        })
    }

    /// The data connection, dialed when there is none.
    pub(super) async fn conn(&self) -> Result<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| store_error("redis", e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Maps a command's error, dropping the connection when the link itself failed.
    pub(super) async fn failed(&self, e: redis::RedisError) -> crate::Error {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error()
        {
            *self.conn.lock().await = None;
        }
        store_error("redis", e)
    }

    pub(crate) async fn load(&self) -> Result<Option<StoredState>> {
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> = match conn.hgetall(&self.keys.traffic).await {
            Ok(f) => f,
            Err(e) => return Err(self.failed(e).await),
        };
        parse_hash(&self.keys.traffic, &fields)
    }

    /// Reads the stored state without a runtime, waiting `timeout` at most (a client's start).
    pub(crate) fn load_blocking(&self, timeout: Duration) -> Result<Option<StoredState>> {
        let mut conn = self
            .client
            .get_connection_with_timeout(timeout)
            .map_err(|e| store_error("redis", e))?;
        conn.set_read_timeout(Some(timeout))
            .map_err(|e| store_error("redis", e))?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&self.keys.traffic)
            .query(&mut conn)
            .map_err(|e| store_error("redis", e))?;
        parse_hash(&self.keys.traffic, &fields)
    }

    pub(crate) async fn apply(&self, op: &Operation, init: &TrafficState) -> Result<Outcome> {
        let mut conn = self.conn().await?;
        let op_json = serde_json::to_string(op).map_err(|e| store_error("redis", e))?;
        let template = super::store::event_template(op);
        let template = serde_json::to_string(&template).map_err(|e| store_error("redis", e))?;
        let init = serde_json::to_string(init).map_err(|e| store_error("redis", e))?;
        let kind = op.change.event_kind().as_str();
        let reply: std::result::Result<String, _> = self
            .apply
            .key(&self.keys.traffic)
            .key(&self.keys.checkpoints)
            .key(&self.keys.events)
            .key(format!("{}{}", self.keys.op_prefix, op.id))
            .key(&self.keys.changed)
            .arg(op_json)
            .arg(template)
            .arg(init)
            .arg(MAX_VERSION)
            .arg(kind)
            .invoke_async(&mut conn)
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return Err(self.failed(e).await),
        };
        let outcome: Outcome = serde_json::from_str(&reply).map_err(|e| {
            store_error(
                "redis",
                format!("the apply script answered something else: {e}"),
            )
        })?;
        validate(&self.keys.traffic, &outcome.state)?;
        Ok(outcome)
    }

    pub(crate) async fn append_event(&self, event: &Event) -> Result<()> {
        let mut conn = self.conn().await?;
        let line = serde_json::to_string(event).map_err(|e| store_error("redis", e))?;
        let r: std::result::Result<i64, _> = self
            .append
            .key(&self.keys.events)
            .key(&self.keys.changed)
            .arg(line)
            .invoke_async(&mut conn)
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed(e).await),
        }
    }

    pub(crate) async fn events(&self, limit: usize) -> Result<Vec<Event>> {
        self.list(&self.keys.events, limit).await
    }

    pub(crate) async fn checkpoints(&self) -> Result<Vec<StoredState>> {
        self.list(&self.keys.checkpoints, 10).await
    }

    /// The newest `limit` entries of a list, oldest first.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        limit: usize,
    ) -> Result<Vec<T>> {
        let mut conn = self.conn().await?;
        let end = isize::try_from(limit).unwrap_or(KEEP).min(KEEP) - 1;
        let lines: Vec<String> = match conn.lrange(key, 0, end).await {
            Ok(l) => l,
            Err(e) => return Err(self.failed(e).await),
        };
        lines
            .iter()
            .rev()
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| store_error("redis", format!("{key} holds a bad entry: {e}")))
            })
            .collect()
    }

    /// Keeps a named checkpoint (the last 10) and appends its event, in one script.
    pub(crate) async fn put_checkpoint(&self, cp: &Checkpoint, event: &Event) -> Result<()> {
        let mut conn = self.conn().await?;
        let cp = serde_json::to_string(cp).map_err(|e| store_error("redis", e))?;
        let line = serde_json::to_string(event).map_err(|e| store_error("redis", e))?;
        let r: redis::RedisResult<i64> = self
            .named
            .key(format!("{}:named", self.keys.tag))
            .key(&self.keys.events)
            .key(&self.keys.changed)
            .arg(cp)
            .arg(line)
            .invoke_async(&mut conn)
            .await;
        self.ok(r).await.map(|_| ())
    }

    pub(crate) async fn named(&self) -> Result<Vec<Checkpoint>> {
        self.list(&format!("{}:named", self.keys.tag), 10).await
    }

    /// Maps a command's result through [`Self::failed`].
    async fn ok<T>(&self, r: redis::RedisResult<T>) -> Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failed(e).await),
        }
    }

    fn lease_key(&self) -> String {
        format!("{}:lease", self.keys.tag)
    }

    fn second_key(&self, side: Side, second: u64) -> String {
        format!("{}:w:{}:{second}", self.keys.tag, side.as_str())
    }

    fn total_key(&self, side: Side) -> String {
        format!("{}:total:{}", self.keys.tag, side.as_str())
    }

    /// `SET {ns}:lease holder NX PX ttl`.
    pub(crate) async fn try_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(self.lease_key())
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut conn)
            .await;
        Ok(self.ok(r).await?.is_some())
    }

    /// Extends the lease when `holder` still holds it.
    pub(crate) async fn renew_lease(&self, holder: &str, ttl: Duration) -> Result<bool> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<i64> = self
            .renew
            .key(self.lease_key())
            .arg(holder)
            .arg(millis(ttl))
            .invoke_async(&mut conn)
            .await;
        Ok(self.ok(r).await? == 1)
    }

    /// Gives the lease up when `holder` holds it.
    pub(crate) async fn release_lease(&self, holder: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<i64> = self
            .release
            .key(self.lease_key())
            .arg(holder)
            .invoke_async(&mut conn)
            .await;
        self.ok(r).await.map(|_| ())
    }

    pub(crate) async fn lease_holder(&self) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let r = conn.get(self.lease_key()).await;
        self.ok(r).await
    }

    /// Adds the batch `batch` of seconds of counts, once (the `FLUSH` script: every second's
    /// hash, its expiry, the totals), however often it is sent.
    pub(crate) async fn flush(
        &self,
        batch: &str,
        counts: &[SecondCounts],
        keep: Duration,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut call = self.flush.prepare_invoke();
        call.key(format!("{}:flushed:{batch}", self.keys.tag))
            .arg(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX))
            .arg(FLUSHED_FOR.as_secs());
        for c in counts {
            let fields = c.counts.fields();
            call.key(self.second_key(c.side, c.second))
                .key(self.total_key(c.side))
                .arg(c.counts.judged())
                .arg(fields.len());
            for (field, n) in fields {
                call.arg(field).arg(n);
            }
        }
        let r: redis::RedisResult<i64> = call.invoke_async(&mut conn).await;
        self.ok(r).await.map(drop)
    }

    /// The sum of `side`'s seconds `from..=to`.
    pub(crate) async fn window(&self, side: Side, from: u64, to: u64) -> Result<FleetCounts> {
        let mut conn = self.conn().await?;
        let mut pipe = redis::pipe();
        for second in from..=to {
            pipe.hgetall(self.second_key(side, second));
        }
        let r: redis::RedisResult<Vec<HashMap<String, u64>>> = pipe.query_async(&mut conn).await;
        let mut sum = FleetCounts::default();
        for second in self.ok(r).await? {
            sum.add_fields(second.iter().map(|(k, v)| (k.as_str(), *v)));
        }
        Ok(sum)
    }

    /// Judged requests of `side` since the store began.
    pub(crate) async fn total(&self, side: Side) -> Result<u64> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<Option<u64>> = conn.get(self.total_key(side)).await;
        Ok(self.ok(r).await?.unwrap_or(0))
    }

    pub(crate) async fn put_analysis(&self, analysis: &serde_json::Value) -> Result<()> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<()> = conn
            .set_ex(
                format!("{}:analysis", self.keys.tag),
                analysis.to_string(),
                3600,
            )
            .await;
        self.ok(r).await
    }

    pub(crate) async fn analysis(&self) -> Result<Option<serde_json::Value>> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<Option<String>> =
            conn.get(format!("{}:analysis", self.keys.tag)).await;
        Ok(self
            .ok(r)
            .await?
            .and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// One GCRA decision on cell `name`, on Redis' clock.
    pub(crate) async fn gcra(
        &self,
        name: &str,
        emission: Duration,
        burst: u64,
        cost: u64,
    ) -> Result<Gcra> {
        let mut conn = self.conn().await?;
        let r: redis::RedisResult<i64> = self
            .gcra
            .key(format!("{}:gcra:{name}", self.keys.tag))
            .arg(u64::try_from(emission.as_micros()).unwrap_or(u64::MAX / 4))
            .arg(burst)
            .arg(cost)
            .invoke_async(&mut conn)
            .await;
        let wait = self.ok(r).await?;
        Ok(match u64::try_from(wait) {
            Ok(0) | Err(_) => Gcra::Admitted,
            Ok(us) => Gcra::Wait(Duration::from_micros(us)),
        })
    }

    async fn subscribe(&self) -> Option<redis::aio::PubSub> {
        let mut pubsub = self.client.get_async_pubsub().await.ok()?;
        pubsub.subscribe(&self.keys.changed).await.ok()?;
        Some(pubsub)
    }

    /// Waits for a change hint, or `poll` at most. A lost subscription is re-made on the next
    /// call; meanwhile the poll is the backstop.
    pub(crate) async fn changed(&self, poll: Duration) {
        let mut hints = self.hints.lock().await;
        if hints.is_none() {
            *hints = tokio::time::timeout(TIMEOUT, self.subscribe())
                .await
                .ok()
                .flatten();
            if hints.is_some() {
                // A fresh subscription may have missed hints: the caller re-reads at once.
                return;
            }
        }
        let Some(pubsub) = hints.as_mut() else {
            drop(hints);
            tokio::time::sleep(poll).await;
            return;
        };
        let got = tokio::time::timeout(poll, pubsub.on_message().next()).await;
        if let Ok(None) = got {
            *hints = None;
        }
    }
}

/// The stored state from the traffic hash's fields; every field checked, the key named.
fn parse_hash(key: &str, fields: &HashMap<String, String>) -> Result<Option<StoredState>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| store_error("redis", format!("bad stored state: {key} lacks {name}")))
    };
    let bad = |name: &str, value: &str| {
        store_error(
            "redis",
            format!("bad stored state: {key} field {name} is {value:?}"),
        )
    };
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let active = field("active")?;
    let weight = field("weight_bp")?;
    let version = field("version")?;
    let undo = match (fields.get("undo_active"), fields.get("undo_salt")) {
        (Some(a), Some(s)) if !a.is_empty() => {
            Some((a.parse().map_err(|_| bad("undo_active", a))?, s.clone()))
        }
        _ => None,
    };
    let state = StoredState {
        traffic: TrafficState {
            active: active.parse().map_err(|_| bad("active", active))?,
            weight_bp: weight.parse().map_err(|_| bad("weight_bp", weight))?,
            salt: field("salt")?.clone(),
            version: version.parse().map_err(|_| bad("version", version))?,
        },
        last_change: text("last_change"),
        undo,
        updated_by: text("updated_by"),
        updated_at: text("updated_at"),
        last_reason: text("last_reason"),
        rollout: match fields.get("rollout") {
            Some(r) if !r.is_empty() => Some(serde_json::from_str(r).map_err(|e| {
                store_error(
                    "redis",
                    format!("bad stored state: {key} field rollout: {e}"),
                )
            })?),
            _ => None,
        },
    };
    validate(key, &state)?;
    Ok(Some(state))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4).max(1)
}
