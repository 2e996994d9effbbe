//! The shared state stores and the clients following them: operations applied atomically
//! (memory, file and Redis run one scenario list), idempotent retries, the shared history,
//! bad stored contents, following, outages and restarts. Redis tests start Debian's
//! `redis-server` on a free loopback port.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{Sims, always, chat, eventually};
use turnout::config::{RollbackPolicy, StateBackend, StateConfig};
use turnout::events::EventKind;
use turnout::routing::TrafficState;
use turnout::state::{Canary, Change, Operation, Store, Verdict};
use turnout::{ErrorKind, Side};

/// Long enough for any hint or poll on a loaded machine; only a bound, never a verdict.
const WAIT: Duration = Duration::from_secs(15);

fn init() -> TrafficState {
    TrafficState {
        active: Side::Blue,
        weight_bp: 0,
        salt: "s1".to_string(),
        version: 1,
    }
}

fn op(change: Change) -> Operation {
    Operation::new("test:1", "because", change, SystemTime::now())
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "turnout-state-{}-{}-{name}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `redis-server` of this test; its data persists in `dir` (append-only file), so a restart
/// on the same port finds it again.
struct Redis {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start() -> Self {
        let mut r = Self {
            child: None,
            port: free_port(),
            dir: temp_dir("redis"),
        };
        r.run();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (make setup-system)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn config(&self, ns: &str) -> StateConfig {
        StateConfig {
            backend: StateBackend::Redis,
            url: Some(self.url().into()),
            namespace: Some(ns.to_string()),
            ..Default::default()
        }
    }

    fn cmd(&self, args: &[&str]) {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client.get_connection().expect("connect");
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        let _: redis::Value = c.query(&mut conn).expect("command");
    }

    fn keys(&self) -> Vec<String> {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client.get_connection().expect("connect");
        redis::cmd("KEYS").arg("*").query(&mut conn).expect("keys")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn file_config(dir: &Path) -> StateConfig {
    StateConfig {
        backend: StateBackend::File,
        path: Some(dir.join("traffic.json")),
        ..Default::default()
    }
}

/// One list of operations every store must answer alike.
async fn scenarios(store: &Store) {
    assert_eq!(store.load().await.expect("load"), None, "empty at first");

    let weight = op(Change::SetWeight { weight_bp: 500 });
    let out = store.apply(&weight, &init()).await.expect("apply");
    assert_eq!(out.verdict, Verdict::Applied);
    assert_eq!(out.state.traffic.version, 2, "from the initial state, + 1");
    assert_eq!(out.state.traffic.weight_bp, 500);
    assert_eq!(out.state.updated_by, "test:1");
    // A retried submission gets the first outcome and is applied once.
    let again = store.apply(&weight, &init()).await.expect("apply");
    assert_eq!(again, out);

    // A rollback of a canary that is gone is recorded as superseded and changes nothing.
    let stale = Canary {
        weight_bp: 900,
        ..Canary::of(&out.state.traffic)
    };
    let out = store
        .apply(
            &op(Change::Rollback {
                canary: Some(stale),
            }),
            &init(),
        )
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Superseded);
    assert_eq!(out.state.traffic.weight_bp, 500);

    // --if-version refuses a moved state, and records nothing.
    let mut guarded = op(Change::Promote);
    guarded.if_version = Some(1);
    let out = store.apply(&guarded, &init()).await.expect("apply");
    assert_eq!(out.verdict, Verdict::Refused);
    assert!(out.note.contains("version 2, not 1"), "{}", out.note);

    let out = store
        .apply(&op(Change::Promote), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Applied);
    assert_eq!(
        (out.state.traffic.active, out.state.traffic.weight_bp),
        (Side::Green, 0)
    );
    // Rollback undoes the promotion, then has nothing left to undo.
    let out = store
        .apply(&op(Change::Rollback { canary: None }), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Applied);
    assert_eq!(out.state.traffic.active, Side::Blue);
    assert_eq!(out.state.traffic.version, 4);
    let out = store
        .apply(&op(Change::Rollback { canary: None }), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Unchanged);
    assert_eq!(out.note, "already rolled back");
    assert_eq!(out.state.traffic.version, 4);

    // A stale rollout step is refused.
    let step = op(Change::RolloutStep {
        rollout: "r1".into(),
        step: 1,
        weight_bp: 1500,
        expect: Canary {
            active: Side::Blue,
            weight_bp: 500,
            salt: "s1".into(),
        },
    });
    let out = store.apply(&step, &init()).await.expect("apply");
    assert_eq!(out.verdict, Verdict::Refused);

    // History: every recorded operation once, with its author and result, oldest first.
    let events = store.events(100).await.expect("events");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "weight_changed",
            "superseded",
            "promote",
            "rollback",
            "rollback"
        ]
    );
    for e in &events {
        assert_eq!(e.details["author"], "test:1", "{e:?}");
        assert!(e.details.contains_key("active"), "{e:?}");
        assert!(e.details.contains_key("canary_weight"), "{e:?}");
    }
    assert_eq!(events[0].details["canary_weight"], 5.0);
    assert_eq!(events[2].details["active"], "green");
    assert_eq!(events[2].version, 3);
    assert_eq!(events[4].details["verdict"], "unchanged");
    // A checkpoint of the state before each change.
    let cps = store.checkpoints().await.expect("checkpoints");
    let versions: Vec<u64> = cps.iter().map(|c| c.traffic.version).collect();
    assert_eq!(versions, [1, 2, 3]);

    // A switch to the side already active (ending a canary on green) makes no side active:
    // a rollback after it has nothing to undo, and does not bring back green, which the
    // rollback above left as its undo.
    store
        .apply(&op(Change::SetWeight { weight_bp: 1000 }), &init())
        .await
        .expect("apply");
    let out = store
        .apply(&op(Change::Switch { to: Side::Blue }), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Applied);
    assert_eq!(
        (out.state.traffic.active, out.state.traffic.weight_bp),
        (Side::Blue, 0)
    );
    let out = store
        .apply(&op(Change::Rollback { canary: None }), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Unchanged, "{}", out.note);
    assert!(out.note.starts_with("nothing to roll back"), "{}", out.note);
    assert_eq!(out.state.traffic.active, Side::Blue);
}

#[tokio::test]
async fn the_memory_store_applies_operations() {
    scenarios(&Store::open(&StateConfig::default()).expect("open")).await;
}

#[tokio::test]
async fn the_file_store_applies_operations() {
    let dir = temp_dir("ops");
    scenarios(&Store::open(&file_config(&dir)).expect("open")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_redis_store_applies_operations_under_one_hash_tag() {
    let redis = Redis::start();
    scenarios(&Store::open(&redis.config("app")).expect("open")).await;
    let keys = redis.keys();
    assert!(!keys.is_empty());
    for k in &keys {
        assert!(
            k.starts_with("{app}:"),
            "every key inside the hash tag: {keys:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_operation() {
    let redis = Redis::start();
    let dir = temp_dir("race");
    for config in [redis.config("race"), file_config(&dir)] {
        let mut tasks = Vec::new();
        for w in 0..4u32 {
            let config = config.clone();
            tasks.push(tokio::spawn(async move {
                let store = Store::open(&config).expect("open");
                let mut acked = Vec::new();
                for i in 0..25u32 {
                    let o = op(Change::SetWeight {
                        weight_bp: w * 1000 + i + 1,
                    });
                    let out = store.apply(&o, &init()).await.expect("apply");
                    assert_eq!(out.verdict, Verdict::Applied);
                    acked.push(o.id);
                }
                acked
            }));
        }
        let mut acked = Vec::new();
        for t in tasks {
            acked.extend(t.await.expect("task"));
        }
        let store = Store::open(&config).expect("open");
        let events = store.events(1000).await.expect("events");
        for id in &acked {
            let n = events
                .iter()
                .filter(|e| e.details["op"] == *id.as_str())
                .count();
            assert_eq!(n, 1, "{id} is in the history exactly once");
        }
        let stored = store.load().await.expect("load").expect("state");
        assert_eq!(stored.traffic.version, 101, "one version per operation");
        let last = events.last().expect("events");
        assert_eq!(last.version, stored.traffic.version);
        assert_eq!(
            last.details["canary_weight"],
            stored.traffic.canary_weight(),
            "the final state is what the history says"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_redis_contents_are_refused_naming_the_key() {
    let redis = Redis::start();
    let store = Store::open(&redis.config("bad")).expect("open");
    store
        .apply(&op(Change::SetWeight { weight_bp: 100 }), &init())
        .await
        .expect("apply");
    for (field, value, says) in [
        ("weight_bp", "20000", "weight_bp"),
        ("version", "18446744073709551615", "version"),
        ("active", "purple", "active"),
    ] {
        redis.cmd(&["HSET", "{bad}:traffic", field, value]);
        let err = store.load().await.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::Store);
        let text = err.to_string();
        assert!(
            text.contains("{bad}:traffic") && text.contains(says),
            "{text}"
        );
        let err = store
            .apply(&op(Change::Promote), &init())
            .await
            .expect_err("the script refuses it too");
        assert!(err.to_string().contains(says), "{err}");
        let good = match field {
            "weight_bp" => "100",
            "version" => "2",
            _ => "blue",
        };
        redis.cmd(&["HSET", "{bad}:traffic", field, good]);
    }
    assert_eq!(
        store
            .load()
            .await
            .expect("load")
            .expect("state")
            .traffic
            .weight_bp,
        100
    );
}

#[tokio::test]
async fn a_torn_state_file_is_refused_naming_the_file() {
    let dir = temp_dir("torn");
    let config = file_config(&dir);
    let path = dir.join("traffic.json");
    std::fs::write(&path, "{\"state\": {\"active\": \"blu").expect("write");
    let store = Store::open(&config).expect("open");
    let err = store.load().await.expect_err("torn");
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_store_error() {
    let store = Store::open(&StateConfig {
        backend: StateBackend::Redis,
        url: Some(format!("redis://127.0.0.1:{}/", free_port()).into()),
        ..Default::default()
    })
    .expect("open dials nothing");
    let err = store.load().await.expect_err("nothing listens");
    assert_eq!(err.kind(), ErrorKind::Store);
    assert!(err.to_string().starts_with("state store: redis"), "{err}");
}

fn shared_client(state: StateConfig, id: &str) -> turnout::Client {
    let mut config = turnout::Config::new(
        turnout::Environment::new(
            "http://127.0.0.1:9/v1",
            turnout::ApiKey::new("sk-test-blue-0000000000"),
        ),
        turnout::Environment::new(
            "http://127.0.0.1:9/v1",
            turnout::ApiKey::new("sk-test-green-000000000"),
        ),
    );
    config.health_check.enabled = false;
    config.state = StateConfig {
        instance_id: Some(id.to_string()),
        ..state
    };
    turnout::Client::from_config(config).expect("client")
}

async fn wait(what: &str, f: impl FnMut() -> bool) {
    assert!(eventually(WAIT, f).await, "timed out waiting for: {what}");
}

async fn check_instances_follow(config: StateConfig) {
    let a = shared_client(config.clone(), "a");
    let b = shared_client(config.clone(), "b");
    a.set_canary_weight(25.0).expect("weight");
    wait("b adopts a's weight", || b.traffic().weight_bp == 2500).await;
    wait("a's op acknowledged", || a.status().store.pending_ops == 0).await;
    assert_eq!(b.traffic().version, a.traffic().version);

    // An operator's rollback (the CLI writes through the store) reaches both as a rollback.
    let store = Store::open(&config).expect("open");
    let cli = Operation::new(
        "cli:ops@host",
        "bad tokens/s",
        Change::Rollback { canary: None },
        SystemTime::now(),
    );
    let out = store.apply(&cli, &init()).await.expect("apply");
    assert_eq!(out.verdict, Verdict::Applied);
    for (name, c) in [("a", &a), ("b", &b)] {
        wait("the CLI's rollback arrives", || c.traffic().weight_bp == 0).await;
        let e = c
            .history()
            .into_iter()
            .rfind(|e| e.kind == EventKind::Rollback)
            .unwrap_or_else(|| panic!("{name} has a rollback event"));
        assert_eq!(e.details["source"], "store", "{e:?}");
        assert_eq!(e.details["author"], "cli:ops@host", "{e:?}");
        assert_eq!(e.reason, "bad tokens/s");
    }
    // Every operation in the shared history names its author (the lease's events are there
    // too, by whichever instance took it).
    let history = store.events(100).await.expect("events");
    let authors: Vec<&str> = history
        .iter()
        .filter(|e| e.details.contains_key("op"))
        .filter_map(|e| e.details.get("author").and_then(|a| a.as_str()))
        .collect();
    assert_eq!(authors, ["a", "cli:ops@host"], "{history:?}");
    a.close();
    b.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_follow_each_other_through_a_file() {
    let dir = temp_dir("fleet");
    check_instances_follow(file_config(&dir)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_follow_each_other_through_redis() {
    let redis = Redis::start();
    check_instances_follow(redis.config("fleet")).await;
}

async fn check_start_from_the_store(config: StateConfig) {
    let store = Store::open(&config).expect("open");
    for w in 1..=10 {
        store
            .apply(&op(Change::SetWeight { weight_bp: w * 100 }), &init())
            .await
            .expect("apply");
    }
    let n = store
        .load()
        .await
        .expect("load")
        .expect("state")
        .traffic
        .version;
    let c = shared_client(config.clone(), "late");
    // Read before serving: the very first snapshot is the stored one.
    assert_eq!(c.traffic().version, n);
    assert_eq!(c.traffic().weight_bp, 1000);
    // An operation right after start is applied to the stored state, never discarded.
    c.set_canary_weight(20.0).expect("weight");
    wait("acknowledged", || c.status().store.pending_ops == 0).await;
    let stored = store.load().await.expect("load").expect("state");
    assert_eq!(stored.traffic.weight_bp, 2000);
    assert_eq!(stored.traffic.version, n + 1);
    assert_eq!(c.traffic(), stored.traffic);
    c.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_starts_from_the_stored_state_file() {
    let dir = temp_dir("start");
    check_start_from_the_store(file_config(&dir)).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_starts_from_the_stored_state_redis() {
    let redis = Redis::start();
    check_start_from_the_store(redis.config("start")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_made_while_redis_is_down_reach_it_when_it_returns() {
    let mut redis = Redis::start();
    let config = redis.config("outage");
    let a = shared_client(config.clone(), "a");
    let b = shared_client(config.clone(), "b");
    a.set_canary_weight(30.0).expect("weight");
    wait("b follows", || b.traffic().weight_bp == 3000).await;

    redis.stop();
    // A local decision applies at once and waits in the queue.
    let t = a.rollback("canary is bad").expect("rollback");
    assert_eq!(t.weight_bp, 0);
    assert_eq!(a.traffic().weight_bp, 0);
    wait("a sees the store down", || !a.status().store.connected).await;
    assert_eq!(a.status().store.pending_ops, 1);
    let metrics = a.metrics_text();
    assert!(metrics.contains("turnout_store_up 0"), "{metrics}");
    assert!(metrics.contains("turnout_store_pending_ops 1"), "{metrics}");
    assert!(
        a.history()
            .iter()
            .any(|e| e.kind == EventKind::StoreDisconnected)
    );
    // Still the old state at b: nothing reached it.
    assert_eq!(b.traffic().weight_bp, 3000);

    redis.run();
    wait("a's rollback acknowledged", || {
        a.status().store.pending_ops == 0 && a.status().store.connected
    })
    .await;
    wait("b follows the rollback", || b.traffic().weight_bp == 0).await;
    let store = Store::open(&config).expect("open");
    let stored = store.load().await.expect("load").expect("state");
    assert_eq!(stored.traffic.weight_bp, 0);
    assert_eq!(stored.updated_by, "a");
    assert!(
        a.history()
            .iter()
            .any(|e| e.kind == EventKind::StoreReconnected)
    );
    assert!(a.metrics_text().contains("turnout_store_up 1"));
    // The link's events reach the shared history too, with their author.
    let deadline = Instant::now() + WAIT;
    loop {
        let events = store.events(100).await.expect("events");
        let shared = events.iter().any(|e| {
            e.kind == EventKind::StoreDisconnected
                && e.details.get("author") == Some(&"a".into())
                && e.details.get("active") == Some(&"blue".into())
        });
        if shared {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a's link events shared: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // And both follow the next operator change after the restart.
    let cli = Operation::new(
        "cli:ops@host",
        "switch",
        Change::Switch { to: Side::Green },
        SystemTime::now(),
    );
    store.apply(&cli, &init()).await.expect("apply");
    wait("a follows", || a.traffic().active == Side::Green).await;
    wait("b follows", || b.traffic().active == Side::Green).await;
    a.close();
    b.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_queued_over_an_outage_does_not_undo_an_operators_later_change() {
    let redis = Redis::start();
    // Instance a logs in as its own Redis user, so it alone can be cut off.
    redis.cmd(&["ACL", "SETUSER", "a", "on", ">pw-a", "~*", "&*", "+@all"]);
    let config = StateConfig {
        url: Some(format!("redis://a:pw-a@127.0.0.1:{}/", redis.port).into()),
        ..redis.config("cut")
    };
    let a = shared_client(config.clone(), "a");
    a.switch_to(Side::Green).expect("switch");
    wait("acknowledged", || a.status().store.pending_ops == 0).await;

    redis.cmd(&["ACL", "SETUSER", "a", "off"]);
    redis.cmd(&["CLIENT", "KILL", "USER", "a"]);
    // Just after the switch: a's rollback goes back to blue at once, and waits in the queue.
    let t = a.rollback("green looks bad").expect("rollback");
    assert_eq!(t.active, Side::Blue);
    wait("a sees the store down", || !a.status().store.connected).await;
    assert_eq!(a.status().store.pending_ops, 1);
    // Meanwhile the on-call sends everything to blue: a rollback applied to that state would
    // undo the on-call's switch and put green back.
    let store = Store::open(&redis.config("cut")).expect("open");
    let cli = Operation::new(
        "cli:ops@host",
        "on-call",
        Change::Switch { to: Side::Blue },
        SystemTime::now(),
    );
    let before = store.apply(&cli, &init()).await.expect("apply");
    assert_eq!(before.verdict, Verdict::Applied);
    let before = before.state;

    redis.cmd(&["ACL", "SETUSER", "a", "on"]);
    wait("a's rollback answered", || {
        a.status().store.pending_ops == 0 && a.status().store.connected
    })
    .await;
    // The rollback was of the state a saw, which the on-call replaced: superseded, and the
    // fleet stays where the on-call put it.
    let stored = store.load().await.expect("load").expect("state");
    assert_eq!(
        stored.traffic, before.traffic,
        "the operator's state stands"
    );
    wait("a follows the store", || a.traffic() == before.traffic).await;
    let events = store.events(100).await.expect("events");
    let ours = events
        .iter()
        .find(|e| e.reason == "green looks bad")
        .expect("a's rollback is recorded");
    assert_eq!(ours.kind, EventKind::Superseded, "{events:?}");
    assert_eq!(ours.details["author"], "a", "{ours:?}");
    a.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_its_last_good_state_over_bad_contents() {
    let redis = Redis::start();
    let config = redis.config("keep");
    let a = shared_client(config.clone(), "a");
    a.set_canary_weight(10.0).expect("weight");
    wait("acknowledged", || a.status().store.pending_ops == 0).await;
    redis.cmd(&["HSET", "{keep}:traffic", "weight_bp", "20000"]);
    redis.cmd(&["PUBLISH", "{keep}:changed", "x"]);
    wait("a reports the bad contents", || {
        a.status()
            .store
            .error
            .is_some_and(|e| e.contains("{keep}:traffic"))
    })
    .await;
    assert_eq!(a.traffic().weight_bp, 1000, "the last good state is kept");
    a.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_after_an_automatic_rollback_keeps_the_stable_side() {
    let sims = Sims::start().await;
    sims.green.set_faults(always(500));
    let dir = temp_dir("auto");
    let client = sims
        .builder()
        .rollback(RollbackPolicy {
            min_requests: 5,
            ..RollbackPolicy::default()
        })
        .configure({
            let state = file_config(&dir);
            move |c| c.state = state
        })
        .build()
        .expect("client");
    client.set_canary_weight(100.0).expect("weight");
    for i in 0..20 {
        let _ = client
            .chat()
            .create(chat(common::MODEL, "hi"))
            .routing_key(format!("u{i}"))
            .await;
        if client.traffic().weight_bp == 0 {
            break;
        }
    }
    assert_eq!(client.traffic().weight_bp, 0, "the guard rolled back");
    for _ in 0..2 {
        let t = client.rollback("on-call repeats it").expect("rollback");
        assert_eq!((t.active, t.weight_bp), (Side::Blue, 0));
    }
    let last = client.history().into_iter().last().expect("event");
    assert_eq!(last.details["note"], "already rolled back");
    // Sending traffic to green, whose circuit is open, needs force.
    let err = client.switch_to(Side::Green).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Refused);
    assert!(err.to_string().contains("circuit is open"), "{err}");
    assert_eq!(client.traffic().active, Side::Blue);
    let t = client.switch_to_with(Side::Green, true).expect("forced");
    assert_eq!(t.active, Side::Green);
    client.close();
    sims.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_no_rollback() {
    let mut redis = Redis::start();
    let config = redis.config("queue");
    let a = shared_client(config.clone(), "a");
    a.set_canary_weight(30.0).expect("weight");
    wait("acknowledged", || a.status().store.pending_ops == 0).await;
    redis.stop();
    a.rollback("the canary is bad").expect("rollback");
    for i in 0..150 {
        a.set_canary_weight(f64::from(i % 50 + 1)).expect("weight");
    }
    assert_eq!(a.status().store.pending_ops, 100, "the queue is bounded");
    redis.run();
    wait("the queue drained", || a.status().store.pending_ops == 0).await;
    let store = Store::open(&config).expect("open");
    let events = store.events(1000).await.expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Rollback && e.reason == "the canary is bad"),
        "the rollback survived the full queue"
    );
    let stored = store.load().await.expect("load").expect("state");
    assert_eq!(stored.traffic, a.traffic(), "the store has the last change");
    assert_eq!(stored.traffic.weight_bp, 5000);
    a.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_started_while_redis_is_down_says_so_and_adopts_the_store_later() {
    let mut redis = Redis::start();
    let config = redis.config("late");
    let store = Store::open(&config).expect("open");
    store
        .apply(&op(Change::SetWeight { weight_bp: 4200 }), &init())
        .await
        .expect("apply");
    redis.stop();
    let c = shared_client(config.clone(), "c");
    assert_eq!(c.traffic().weight_bp, 0, "from the config");
    let status = c.status().store;
    assert!(!status.connected);
    assert_eq!(status.backend, "redis");
    assert!(
        c.history()
            .iter()
            .any(|e| e.kind == EventKind::StoreDisconnected)
    );
    redis.run();
    // The link is marked up just before its event is published: wait for both.
    wait("the stored state adopted, and said so", || {
        c.traffic().weight_bp == 4200
            && c.status().store.connected
            && c.history()
                .iter()
                .any(|e| e.kind == EventKind::StoreReconnected)
    })
    .await;
    c.close();
}

/// A client of the fleet sharing `state`, on the two simulators, half of the traffic on each.
fn fleet_member(sims: &Sims, state: StateConfig, id: &str) -> turnout::Client {
    let id = id.to_string();
    sims.builder()
        .canary_weight(50.0)
        .configure(move |c| {
            c.health_check.enabled = false;
            c.state = StateConfig {
                instance_id: Some(id),
                ..state
            };
        })
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_created_through_one_instance_is_followed_by_another() {
    let redis = Redis::start();
    let sims = Sims::start().await;
    let config = redis.config("objects");
    let a = fleet_member(&sims, config.clone(), "a");
    let b = fleet_member(&sims, config.clone(), "b");
    let store = Store::open(&config).expect("open");
    let mut sides = std::collections::BTreeSet::new();
    for i in 0..20 {
        let body = serde_json::json!({"model": "gpt-4.1", "input": format!("turn {i}")});
        let first = a
            .responses()
            .create(body, Default::default())
            .await
            .expect("first turn");
        let id = first["id"].as_str().expect("id").to_string();
        // The record is written behind the answer: wait for the store to have it.
        let mut tries = 0;
        while store.object_side(&id).await.expect("store").is_none() {
            tries += 1;
            assert!(tries < 1500, "{id} never reached the store");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let follow =
            serde_json::json!({"model": "gpt-4.1", "input": "and?", "previous_response_id": id});
        let next = b
            .responses()
            .create(follow, Default::default())
            .await
            .expect("the other instance sends the follow-up to the side that has it");
        assert_eq!(next.route.environment, first.route.environment, "turn {i}");
        assert_eq!(next.route.reason, "affinity");
        sides.insert(first.route.environment);
    }
    assert_eq!(sides.len(), 2, "the canary created objects on both sides");
    let kept = redis.keys();
    assert!(
        kept.iter().any(|k| k.starts_with("{objects}:obj:resp_")),
        "{kept:?}"
    );
    a.close();
    b.close();
    sims.shutdown().await;
}

fn plan(weights: &[f64]) -> turnout::rollout::RolloutPlan {
    turnout::rollout::RolloutPlan::new(
        weights
            .iter()
            .map(|w| turnout::rollout::Step::new(*w))
            .collect(),
    )
}

/// The stored rollout after applying `o`, which must be applied.
async fn applied(store: &Store, o: &Operation) -> turnout::state::StoredState {
    let out = store.apply(o, &init()).await.expect("apply");
    assert_eq!(out.verdict, Verdict::Applied, "{o:?}: {}", out.note);
    out.state
}

/// One list of rollout operations every store must answer alike: a stored rollout moves only
/// by operations that follow it (no step applied twice, no stale writer), and any other change
/// of the traffic ends it.
async fn rollout_scenarios(store: &Store) {
    use turnout::rollout::RolloutState;
    use turnout::rollout::fleet::{RolloutAction, action_operation, new_record, start_operation};
    let now = SystemTime::now();
    let record = new_record(
        plan(&[10.0, 50.0, 100.0]),
        Side::Green,
        "cli:me@here",
        now,
        Some(0),
    );
    let start = start_operation("cli:me@here", &record, now);
    let s = applied(store, &start).await;
    let r = s.rollout.clone().expect("stored rollout");
    assert_eq!(
        (r.id.as_str(), r.step, r.state),
        (record.id.as_str(), 0, RolloutState::Running)
    );
    assert_eq!(s.traffic.weight_bp, 1000);
    assert_eq!(r.rev, 1);

    // A second rollout is refused while this one is live.
    let other = new_record(plan(&[100.0]), Side::Green, "x", now, None);
    let out = store
        .apply(&start_operation("x", &other, now), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Refused);
    assert!(
        out.note.contains("abort it before starting another"),
        "{}",
        out.note
    );

    let step = |to: usize, weight_bp: u32, expect: &turnout::state::StoredState| {
        let mut o = op(Change::RolloutStep {
            rollout: record.id.clone(),
            step: to,
            weight_bp,
            expect: Canary::of(&expect.traffic),
        });
        let mut rec = expect.rollout.clone().expect("rollout");
        rec.step = to;
        o.record = Some(rec);
        o
    };
    // A step that skips one is refused; the next one applies once, and never twice.
    let out = store
        .apply(&step(2, 10_000, &s), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Refused);
    let s1 = applied(store, &step(1, 5000, &s)).await;
    assert_eq!(
        (s1.traffic.weight_bp, s1.rollout.as_ref().map(|r| r.step)),
        (5000, Some(1))
    );
    let out = store
        .apply(&step(1, 5000, &s1), &init())
        .await
        .expect("apply");
    assert_eq!(out.verdict, Verdict::Refused);
    assert!(out.note.starts_with("stale step 2"), "{}", out.note);

    // Pause follows the record's rev: a stale one is refused; the traffic stays.
    let r1 = s1.rollout.clone().expect("rollout");
    let mut stale = r1.clone();
    stale.rev -= 1;
    let pause =
        action_operation("cli:me@here", &stale, RolloutAction::Pause, "lunch", now).expect("pause");
    assert_eq!(
        store.apply(&pause, &init()).await.expect("apply").verdict,
        Verdict::Refused
    );
    let pause =
        action_operation("cli:me@here", &r1, RolloutAction::Pause, "lunch", now).expect("pause");
    let s2 = applied(store, &pause).await;
    let r2 = s2.rollout.clone().expect("rollout");
    assert_eq!(
        (r2.state, s2.traffic.weight_bp),
        (RolloutState::Paused, 5000)
    );
    assert_eq!(s2.traffic.version, s1.traffic.version + 1);
    assert!(action_operation("a", &r2, RolloutAction::Pause, "again", now).is_none());
    let resume =
        action_operation("cli:me@here", &r2, RolloutAction::Resume, "", now).expect("resume");
    let s3 = applied(store, &resume).await;
    assert_eq!(
        s3.rollout.as_ref().map(|r| r.state),
        Some(RolloutState::Running)
    );

    // Another change of the traffic ends the rollout, saying why.
    let s4 = applied(store, &op(Change::SetWeight { weight_bp: 700 })).await;
    let r4 = s4.rollout.clone().expect("rollout");
    assert_eq!(r4.state, RolloutState::Aborted);
    assert!(
        r4.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("superseded by a weight_changed")),
        "{r4:?}"
    );
    // A new rollout, ended by a guard's rollback decided at its first step and landing after
    // the analyst entered the next one: still a rollback of that canary, weight 0.
    let again = new_record(plan(&[20.0, 50.0, 100.0]), Side::Green, "b", now, None);
    let first = applied(store, &start_operation("b", &again, now)).await;
    let guard = op(Change::Rollback {
        canary: Some(Canary::of(&first.traffic)),
    });
    let mut next = op(Change::RolloutStep {
        rollout: again.id.clone(),
        step: 1,
        weight_bp: 5000,
        expect: Canary::of(&first.traffic),
    });
    next.record = first.rollout.clone().map(|mut r| {
        r.step = 1;
        r
    });
    applied(store, &next).await;
    let s5 = applied(store, &guard).await;
    assert_eq!(s5.traffic.weight_bp, 0);
    assert_eq!(s5.rollout.map(|r| r.state), Some(RolloutState::RolledBack));
    // Pause/resume change no traffic: they left no checkpoint.
    let cps = store.checkpoints().await.expect("checkpoints");
    assert!(cps.iter().all(|c| c.rollout.is_none()));
    assert!(!cps.iter().any(|c| c.traffic.version == s2.traffic.version));
    let kinds: Vec<String> = store
        .events(100)
        .await
        .expect("events")
        .iter()
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "rollout_started",
            "rollout_step",
            "rollout_paused",
            "rollout_resumed",
            "weight_changed",
            "rollout_started",
            "rollout_step",
            "rollback"
        ]
    );

    // The analyst lease: one holder, compare-and-renew, released by its holder only.
    let ttl = Duration::from_secs(30);
    assert!(store.try_lease("a:1", ttl).await.expect("lease"));
    assert!(!store.try_lease("b:2", ttl).await.expect("lease"));
    assert!(!store.renew_lease("b:2", ttl).await.expect("renew"));
    assert!(store.renew_lease("a:1", ttl).await.expect("renew"));
    store.release_lease("b:2").await.expect("release");
    assert_eq!(
        store.lease_holder().await.expect("holder").as_deref(),
        Some("a:1")
    );
    store.release_lease("a:1").await.expect("release");
    assert!(store.try_lease("b:2", ttl).await.expect("lease"));

    // Fleet windows: seconds from several instances add up; the window sums a range.
    use turnout::state::SecondCounts;
    use turnout::stats::Outcome;
    use turnout::stats::fleet::FleetCounts;
    let base = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let counts = |s: u64, f: u64, ms: u64| {
        let mut c = FleetCounts::default();
        for _ in 0..s {
            c.record(Outcome::Success, Duration::from_millis(ms), None);
        }
        for _ in 0..f {
            c.record(Outcome::Failure, Duration::from_millis(ms), None);
        }
        c
    };
    for (batch, second, side, c) in [
        ("b1", base - 2, Side::Green, counts(3, 1, 10)),
        ("b2", base - 1, Side::Green, counts(5, 0, 20)),
        ("b3", base - 1, Side::Blue, counts(7, 0, 5)),
    ] {
        store
            .flush(
                batch,
                vec![SecondCounts {
                    second,
                    side,
                    counts: c,
                }],
                Duration::from_secs(120),
            )
            .await
            .expect("flush");
    }
    // A batch sent again (its first answer lost) is added once.
    for _ in 0..2 {
        store
            .flush(
                "b4",
                vec![SecondCounts {
                    second: base - 1,
                    side: Side::Green,
                    counts: counts(0, 1, 1),
                }],
                Duration::from_secs(120),
            )
            .await
            .expect("flush");
    }
    let green = store
        .window(Side::Green, base - 2, base)
        .await
        .expect("window");
    assert_eq!((green.successes, green.failures), (8, 2));
    let last = store
        .window(Side::Green, base - 1, base)
        .await
        .expect("window");
    assert_eq!((last.successes, last.failures), (5, 1));
    assert_eq!(store.total(Side::Green).await.expect("total"), 10);
    assert_eq!(store.total(Side::Blue).await.expect("total"), 7);
    let p99 = green.stats().p99_ms;
    assert!((p99 - 20.0).abs() <= 0.2, "{p99}");

    // A fleet-wide rate-limit cell admits its burst, then waits.
    let admitted = {
        let mut n = 0;
        for _ in 0..8 {
            if store
                .gcra("rpm", Duration::from_secs(12), 5, 1)
                .await
                .expect("gcra")
                == turnout::state::Gcra::Admitted
            {
                n += 1;
            }
        }
        n
    };
    assert_eq!(admitted, 5);
}

#[tokio::test]
async fn the_memory_store_keeps_rollouts_leases_and_windows() {
    rollout_scenarios(&Store::open(&StateConfig::default()).expect("open")).await;
}

#[tokio::test]
async fn the_file_store_keeps_rollouts_leases_and_windows() {
    let dir = temp_dir("fleet");
    rollout_scenarios(&Store::open(&file_config(&dir)).expect("open")).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_redis_store_keeps_rollouts_leases_and_windows() {
    let redis = Redis::start();
    rollout_scenarios(&Store::open(&redis.config("fl")).expect("open")).await;
    for k in redis.keys() {
        assert!(k.starts_with("{fl}:"), "every key inside the hash tag: {k}");
    }
}
