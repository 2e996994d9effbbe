//! Steady synthetic traffic from many users through one client, with tallies of what callers
//! saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use turnout::protocol::{ChatCompletionRequest, ChatMessage};
use turnout::{Client, Side};

/// What callers saw, per side that answered.
#[derive(Debug, Default)]
pub struct Tally {
    served: [AtomicU64; 2],
    errors: AtomicU64,
}

impl Tally {
    /// Answers served by `side`.
    pub fn served(&self, side: Side) -> u64 {
        self.served[side.index()].load(Ordering::Relaxed)
    }

    /// Errors returned to callers.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// All calls that ended.
    pub fn total(&self) -> u64 {
        self.served(Side::Blue) + self.served(Side::Green) + self.errors()
    }
}

/// A running load: `workers` loops, each sending one request every `pace`.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts the workers; users are drawn from a pool of `users` ids.
    pub fn start(
        client: &Client,
        tally: &Arc<Tally>,
        workers: usize,
        pace: Duration,
        users: u32,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..workers)
            .map(|w| {
                let client = client.clone();
                let tally = Arc::clone(tally);
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(pace);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let mut n: u32 = w as u32;
                    while !stop.load(Ordering::Relaxed) {
                        tick.tick().await;
                        n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        let user = format!("user-{}", n % users);
                        let request = ChatCompletionRequest::new(
                            "gpt-4.1",
                            vec![ChatMessage::user("What changed in this release?")],
                        );
                        match client.chat().create(request).routing_key(user).await {
                            Ok(resp) => {
                                tally.served[resp.route.environment.index()]
                                    .fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                tally.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the workers and waits for their last requests.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
