//! Priorities under limits: when requests wait for the concurrency cap or the RPM/TPM
//! buckets, the one admitted next is the one of highest priority, oldest first; each
//! `aging` interval a request waits raises it one class, so a low request is never starved.
//!
//! Only the request at the head of the queue waits on the limits themselves; the others wait
//! for their turn here. The head is chosen when the previous head got its permit (or gave up).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::error::Error;

/// How urgent a request is when limits make requests wait.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Admitted before normal and low requests.
    High,
    /// The default.
    #[default]
    Normal,
    /// Admitted after the others, but never starved (aging).
    Low,
}

impl Priority {
    /// Every priority, highest first.
    pub const ALL: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

    /// `"high"`, `"normal"` or `"low"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }

    fn class(self) -> u64 {
        self as u64
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "high" => Ok(Self::High),
            "normal" => Ok(Self::Normal),
            "low" => Ok(Self::Low),
            other => Err(Error::Config(format!(
                "priority must be \"high\", \"normal\" or \"low\", got {other:?}"
            ))),
        }
    }
}

/// One request waiting for its turn.
#[derive(Debug)]
struct Waiter {
    priority: Priority,
    since: Duration,
    turn: Arc<Notify>,
}

#[derive(Debug, Default)]
struct State {
    /// Waiting requests by arrival number.
    waiting: BTreeMap<u64, Waiter>,
    next_seq: u64,
    /// The priority of the request holding the head (it waits on the limits themselves).
    head: Option<Priority>,
    /// The arrival number handed the head but not yet awake to take it.
    handed: Option<u64>,
}

/// The queue in front of the limits.
#[derive(Debug)]
pub(crate) struct PriorityQueue {
    state: Mutex<State>,
    aging: Duration,
    clock: SharedClock,
}

/// The head of the queue, held while its request waits on the limits; dropping it hands the
/// head to the next request.
pub(crate) struct Head<'a> {
    queue: &'a PriorityQueue,
}

impl Drop for Head<'_> {
    fn drop(&mut self) {
        self.queue.pass_on();
    }
}

/// A request's place in the queue while it waits for its turn. Dropped unsettled (the wait's
/// future dropped: a cancelled task, an aborted call, a lost `select!`), it leaves the queue and,
/// when the head was already handed to it, passes the head on; else the head would stay handed
/// to no one and every later request would wait out its timeout.
struct Ticket<'a> {
    queue: &'a PriorityQueue,
    seq: u64,
    priority: Priority,
    settled: bool,
}

impl<'a> Ticket<'a> {
    /// Ends the wait: the head when it was handed to this request, else `None`.
    fn settle(mut self) -> Option<Head<'a>> {
        self.settled = true;
        self.queue.settle(self.seq, self.priority)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.settled {
            // Dropping the head, if it was handed here, passes it on.
            drop(self.queue.settle(self.seq, self.priority));
        }
    }
}

impl PriorityQueue {
    /// A queue raising a waiting request one class every `aging`.
    pub fn new(aging: Duration, clock: SharedClock) -> Self {
        Self {
            state: Mutex::new(State::default()),
            aging,
            clock,
        }
    }

    /// Requests waiting, the head included, by priority (high, normal, low).
    pub fn waiting(&self) -> [usize; 3] {
        let s = self.state.lock();
        let mut out = [0; 3];
        for p in s.waiting.values().map(|w| w.priority).chain(s.head) {
            out[p.class() as usize] += 1;
        }
        out
    }

    /// Waits for this request's turn at the head, up to `timeout`; `None` when the timeout
    /// passed first.
    pub async fn head(&self, priority: Priority, timeout: Duration) -> Option<Head<'_>> {
        let (ticket, turn) = {
            let mut s = self.state.lock();
            if s.head.is_none() && s.waiting.is_empty() {
                s.head = Some(priority);
                return Some(Head { queue: self });
            }
            let seq = s.next_seq;
            s.next_seq += 1;
            let turn = Arc::new(Notify::new());
            s.waiting.insert(
                seq,
                Waiter {
                    priority,
                    since: self.clock.now(),
                    turn: Arc::clone(&turn),
                },
            );
            let ticket = Ticket {
                queue: self,
                seq,
                priority,
                settled: false,
            };
            (ticket, turn)
        };
        // Should this future be dropped here, the ticket leaves the queue on its own.
        let got = tokio::time::timeout(timeout, turn.notified()).await.is_ok();
        // Handed the head, possibly just as the timeout passed: take it either way, and give it
        // up at once when the timeout won.
        ticket.settle().filter(|_| got)
    }

    /// Ends the wait of request `seq`: the head when it was handed to it, else `None` with the
    /// request out of the queue.
    fn settle(&self, seq: u64, priority: Priority) -> Option<Head<'_>> {
        let mut s = self.state.lock();
        if s.handed == Some(seq) {
            s.handed = None;
            s.head = Some(priority);
            return Some(Head { queue: self });
        }
        s.waiting.remove(&seq);
        None
    }

    /// Hands the head to the waiting request that ranks first now, or frees it.
    fn pass_on(&self) {
        let mut s = self.state.lock();
        let now = self.clock.now();
        let aging = self.aging.as_nanos().max(1);
        let rank = |w: &Waiter| {
            let steps = (now.saturating_sub(w.since).as_nanos() / aging) as u64;
            w.priority.class().saturating_sub(steps)
        };
        let next = s
            .waiting
            .iter()
            .min_by_key(|(seq, w)| (rank(w), **seq))
            .map(|(seq, _)| *seq);
        s.head = None;
        if let Some((seq, w)) = next.and_then(|seq| s.waiting.remove(&seq).map(|w| (seq, w))) {
            // Counted as the head from now on, though it takes the head when it wakes.
            s.head = Some(w.priority);
            s.handed = Some(seq);
            // notify_one keeps the wake-up when the waiter is not parked yet.
            w.turn.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use futures_util::FutureExt;

    #[test]
    fn priorities_parse_and_order() {
        assert_eq!("low".parse::<Priority>().unwrap(), Priority::Low);
        assert!("urgent".parse::<Priority>().is_err());
        assert!(Priority::High < Priority::Normal && Priority::Normal < Priority::Low);
        assert_eq!(Priority::default(), Priority::Normal);
    }

    #[tokio::test]
    async fn the_first_comer_takes_the_head_at_once_and_passes_it_by_rank() {
        let clock = Arc::new(ManualClock::new());
        let q = Arc::new(PriorityQueue::new(Duration::from_secs(5), clock.clone()));
        let head = q.head(Priority::Low, Duration::from_secs(1)).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, p) in [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::High,
        ]
        .into_iter()
        .enumerate()
        {
            let (queue, seen) = (Arc::clone(&q), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let h = queue.head(p, Duration::from_secs(60)).await;
                seen.lock().push(i);
                drop(h);
            }));
            while q.waiting().iter().sum::<usize>() < i + 2 {
                tokio::task::yield_now().await;
            }
        }
        drop(head);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), [2, 3, 1, 0]);
    }

    #[tokio::test]
    async fn a_waiting_request_rises_one_class_per_aging_interval() {
        let clock = Arc::new(ManualClock::new());
        let q = Arc::new(PriorityQueue::new(Duration::from_secs(5), clock.clone()));
        let head = q
            .head(Priority::High, Duration::from_secs(1))
            .await
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let low = {
            let (q, order) = (Arc::clone(&q), Arc::clone(&order));
            tokio::spawn(async move {
                let h = q.head(Priority::Low, Duration::from_secs(60)).await;
                order.lock().push("low");
                drop(h);
            })
        };
        while q.waiting()[2] < 1 {
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_secs(10));
        let high = {
            let (q, order) = (Arc::clone(&q), Arc::clone(&order));
            tokio::spawn(async move {
                let h = q.head(Priority::High, Duration::from_secs(60)).await;
                order.lock().push("high");
                drop(h);
            })
        };
        while q.waiting()[0] < 2 {
            tokio::task::yield_now().await;
        }
        drop(head);
        low.await.unwrap();
        high.await.unwrap();
        assert_eq!(
            *order.lock(),
            ["low", "high"],
            "10 s of aging made low high"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_times_out_leaves_the_queue() {
        let clock = Arc::new(ManualClock::new());
        let q = PriorityQueue::new(Duration::from_secs(5), clock);
        let head = q
            .head(Priority::Normal, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(
            q.head(Priority::High, Duration::from_millis(50))
                .await
                .is_none()
        );
        assert_eq!(q.waiting(), [0, 1, 0], "only the head is left");
        drop(head);
        assert!(
            q.head(Priority::Low, Duration::from_millis(50))
                .await
                .is_some()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_dropped_while_waiting_leaves_the_queue() {
        let clock = Arc::new(ManualClock::new());
        let q = PriorityQueue::new(Duration::from_secs(5), clock);
        let head = q
            .head(Priority::Normal, Duration::from_secs(1))
            .await
            .unwrap();
        // The caller gives up (a cancelled task, an aborted call): the wait's future is dropped.
        let gave_up = tokio::time::timeout(
            Duration::from_millis(10),
            q.head(Priority::High, Duration::from_secs(60)),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(q.waiting(), [0, 1, 0], "only the head is left");
        drop(head);
        assert_eq!(
            q.waiting(),
            [0, 0, 0],
            "the head is free, not handed to no one"
        );
        assert!(
            q.head(Priority::Low, Duration::from_millis(50))
                .await
                .is_some()
        );
        assert_eq!(q.waiting(), [0, 0, 0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_dropped_once_handed_the_head_passes_it_on() {
        let clock = Arc::new(ManualClock::new());
        let q = Arc::new(PriorityQueue::new(Duration::from_secs(5), clock));
        let head = q
            .head(Priority::Normal, Duration::from_secs(1))
            .await
            .unwrap();
        let mut high = Box::pin(q.head(Priority::High, Duration::from_secs(60)));
        assert!(
            high.as_mut().now_or_never().is_none(),
            "queued behind the head"
        );
        let low = {
            let q = Arc::clone(&q);
            tokio::spawn(async move {
                q.head(Priority::Low, Duration::from_secs(60))
                    .await
                    .is_some()
            })
        };
        while q.waiting() != [1, 1, 1] {
            tokio::task::yield_now().await;
        }
        drop(head);
        assert_eq!(
            q.waiting(),
            [1, 0, 1],
            "handed to high, not yet awake to take it"
        );
        drop(high);
        assert!(low.await.unwrap(), "the head went on to low");
        assert_eq!(q.waiting(), [0, 0, 0]);
        assert!(
            q.head(Priority::Normal, Duration::from_millis(50))
                .await
                .is_some()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_holder_dropped_passes_the_head_on() {
        let clock = Arc::new(ManualClock::new());
        let q = PriorityQueue::new(Duration::from_secs(5), clock);
        // Holds the head while it waits on the limits, which never let it through.
        let holder = async {
            let _head = q.head(Priority::Normal, Duration::from_secs(1)).await;
            std::future::pending::<()>().await;
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(10), holder)
                .await
                .is_err()
        );
        assert_eq!(q.waiting(), [0, 0, 0]);
        assert!(
            q.head(Priority::Low, Duration::from_millis(50))
                .await
                .is_some()
        );
    }
}
