//! The shared state stores: compare-and-swap on version, the shared history, change hints.
//! Redis tests start Debian's `redis-server` on a free loopback port.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use turnout::Side;
use turnout::config::{StateBackend, StateConfig};
use turnout::events::{Event, EventKind};
use turnout::routing::TrafficState;
use turnout::state::Store;

fn state(version: u64, weight_bp: u32) -> TrafficState {
    TrafficState {
        active: Side::Blue,
        weight_bp,
        salt: "s1".to_string(),
        version,
    }
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "turnout-state-{}-{}-{name}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("traffic.json")
}

struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Redis {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (make test installs Debian's redis-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis {
        child,
        url: format!("redis://127.0.0.1:{port}/"),
    }
}

async fn check_cas_and_history(store: &Store) {
    assert_eq!(store.load().await.expect("load"), None, "empty at first");
    assert!(
        store
            .compare_and_swap(None, &state(1, 0))
            .await
            .expect("cas")
    );
    assert!(
        !store
            .compare_and_swap(None, &state(1, 500))
            .await
            .expect("cas"),
        "something is stored now"
    );
    assert!(
        !store
            .compare_and_swap(Some(7), &state(8, 500))
            .await
            .expect("cas"),
        "stale version"
    );
    assert!(
        store
            .compare_and_swap(Some(1), &state(2, 500))
            .await
            .expect("cas")
    );
    assert_eq!(store.load().await.expect("load"), Some(state(2, 500)));

    for i in 0..3 {
        let e = Event::new(
            EventKind::WeightChanged,
            SystemTime::now(),
            format!("change {i}"),
        );
        store.append_event(&e).await.expect("append");
    }
    let events = store.events(2).await.expect("events");
    let reasons: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["change 1", "change 2"],
        "the newest, oldest first"
    );
}

#[tokio::test]
async fn file_store_compares_and_swaps() {
    let path = temp_path("cas");
    let store = Store::open(&StateConfig {
        backend: StateBackend::File,
        path: Some(path.clone()),
        ..Default::default()
    })
    .await
    .expect("open");
    check_cas_and_history(&store).await;
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn file_store_serialises_concurrent_writers() {
    let path = temp_path("race");
    let config = StateConfig {
        backend: StateBackend::File,
        path: Some(path.clone()),
        ..Default::default()
    };
    let store = Store::open(&config).await.expect("open");
    assert!(
        store
            .compare_and_swap(None, &state(1, 0))
            .await
            .expect("cas")
    );
    // Eight writers race from version 1: exactly one may win.
    let mut tasks = Vec::new();
    for w in 0..8u32 {
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let store = Store::open(&config).await.expect("open");
            store
                .compare_and_swap(Some(1), &state(2, w))
                .await
                .expect("cas")
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += u32::from(t.await.expect("task"));
    }
    assert_eq!(wins, 1);
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn file_store_refuses_a_corrupt_file_with_its_path() {
    let path = temp_path("corrupt");
    std::fs::write(&path, "{not json").expect("write");
    let store = Store::open(&StateConfig {
        backend: StateBackend::File,
        path: Some(path.clone()),
        ..Default::default()
    })
    .await
    .expect("open");
    let err = store.load().await.expect_err("corrupt");
    assert!(err.to_string().contains("is not a traffic state"), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test]
async fn redis_store_compares_and_swaps_and_hints() {
    let redis = start_redis();
    let config = StateConfig {
        backend: StateBackend::Redis,
        url: Some(redis.url.clone().into()),
        namespace: Some("t1".to_string()),
        ..Default::default()
    };
    let store = Store::open(&config).await.expect("open");
    check_cas_and_history(&store).await;

    // A writer's PUBLISH wakes a reader long before the 15 s backstop poll.
    let reader = Store::open(&config).await.expect("open");
    let writer = Store::open(&config).await.expect("open");
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        reader.changed().await;
        started.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        writer
            .compare_and_swap(Some(2), &state(3, 900))
            .await
            .expect("cas")
    );
    let waited = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("woken by the hint")
        .expect("task");
    assert!(waited < Duration::from_secs(10));
}

#[tokio::test]
async fn redis_namespaces_are_separate() {
    let redis = start_redis();
    let open = |ns: &str| StateConfig {
        backend: StateBackend::Redis,
        url: Some(redis.url.clone().into()),
        namespace: Some(ns.to_string()),
        ..Default::default()
    };
    let a = Store::open(&open("app-a")).await.expect("open");
    let b = Store::open(&open("app-b")).await.expect("open");
    assert!(a.compare_and_swap(None, &state(1, 100)).await.expect("cas"));
    assert_eq!(b.load().await.expect("load"), None);
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let err = Store::open(&StateConfig {
        backend: StateBackend::Redis,
        url: Some(format!("redis://127.0.0.1:{port}/").into()),
        ..Default::default()
    })
    .await
    .expect_err("nothing listens");
    assert!(
        err.to_string()
            .starts_with("invalid configuration: state store (redis)"),
        "{err}"
    );
}

fn shared_client(state: StateConfig) -> turnout::Client {
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
    config.state = state;
    turnout::Client::from_config(config).expect("client")
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn check_instances_follow(config: StateConfig) {
    let a = shared_client(config.clone());
    let b = shared_client(config.clone());
    // Both start from the seeded state; a change on one reaches the other.
    a.set_canary_weight(25.0).expect("weight");
    eventually("b adopts a's weight", || b.traffic().weight_bp == 2500).await;
    assert_eq!(b.traffic().version, a.traffic().version);
    // A writer outside the app (the CLI) wins over both.
    let store = Store::open(&config).await.expect("open");
    let stored = store.load().await.expect("load").expect("seeded");
    let cli = stored.switched(Side::Green);
    let cli = TrafficState {
        version: stored.version + 1,
        ..cli
    };
    assert!(
        store
            .compare_and_swap(Some(stored.version), &cli)
            .await
            .expect("cas")
    );
    eventually("a adopts the CLI's switch", || {
        a.traffic().active == Side::Green
    })
    .await;
    eventually("b adopts the CLI's switch", || {
        b.traffic().active == Side::Green
    })
    .await;
    assert_eq!(a.traffic().weight_bp, 0);
    let adopted = a
        .history()
        .into_iter()
        .any(|e| e.reason.contains("adopted version"));
    assert!(adopted, "the adoption is an event");
    // A rollback decided by one instance reaches the shared history.
    b.rollback("guard fired");
    eventually("a adopts b's rollback", || a.traffic().active == Side::Blue).await;
    let history = store.events(10).await.expect("events");
    assert!(
        history.iter().any(|e| e.reason == "guard fired"),
        "{history:?}"
    );
    a.close();
    b.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_follow_each_other_through_a_file() {
    let path = temp_path("fleet");
    check_instances_follow(StateConfig {
        backend: StateBackend::File,
        path: Some(path.clone()),
        ..Default::default()
    })
    .await;
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_follow_each_other_through_redis() {
    let redis = start_redis();
    check_instances_follow(StateConfig {
        backend: StateBackend::Redis,
        url: Some(redis.url.clone().into()),
        namespace: Some("fleet".to_string()),
        ..Default::default()
    })
    .await;
}
