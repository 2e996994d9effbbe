//! Hedged requests: when the first attempt of an inference call is slow, up to `max_extra`
//! more go to the same side; the first answer wins and the others are dropped (their HTTP
//! requests cancelled). Each hedge withdraws from the side's retry budget, so hedging adds at
//! most the load retries may add.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use parking_lot::Mutex;

use super::call_kind::CallKind;
use super::engine::Engine;
use crate::config::HedgeAfter;
use crate::environment::Side;
use crate::error::Result;
use crate::resilience::circuit::Pass;

/// How long a side's p95 is reused before it is read from the window again: reading it merges
/// the window's histograms, too much for every request.
const P95_REFRESH: Duration = Duration::from_secs(1);

/// When a p95 was read, and what it was (`None`: too few successes to know).
type P95Read = (Duration, Option<Duration>);

/// Each side's last p95 read.
#[derive(Debug, Default)]
pub(crate) struct P95Cache {
    sides: [Mutex<Option<P95Read>>; 2],
}

/// When and how often to hedge one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HedgePlan {
    pub delay: Duration,
    pub max_extra: u32,
}

impl Engine {
    /// The hedge plan of an attempt, if it is hedged: hedging is on, the call is an inference
    /// call, this is its first attempt, it holds no half-open trial, and (for `p95`) the side's
    /// window has enough successes to know its p95.
    pub(crate) fn hedge_plan(
        &self,
        kind: CallKind,
        side: Side,
        attempt: u32,
        pass: Pass,
    ) -> Option<HedgePlan> {
        let hedge = self.config.hedge?;
        if kind != CallKind::Inference
            || attempt != 1
            || pass != Pass::CLOSED
            || hedge.max_extra == 0
        {
            return None;
        }
        let delay = match hedge.after {
            HedgeAfter::Delay(d) => d,
            HedgeAfter::P95 => self.p95(side)?,
        };
        Some(HedgePlan {
            delay,
            max_extra: hedge.max_extra,
        })
    }

    /// `side`'s p95 latency, read from its window at most once per [`P95_REFRESH`]; `None`
    /// while the window holds too few successes to know it.
    fn p95(&self, side: Side) -> Option<Duration> {
        let now = self.now();
        let mut cached = self.hedge_p95.sides[side.index()].lock();
        if let Some((at, p95)) = *cached
            && now.saturating_sub(at) < P95_REFRESH
        {
            return p95;
        }
        let w = self.side(side).stats.snapshot(now);
        let p95 = (w.successes >= HedgeAfter::MIN_SAMPLES)
            .then(|| Duration::from_secs_f64(w.p95_ms.max(1.0) / 1000.0));
        *cached = Some((now, p95));
        p95
    }

    /// Runs `launch()` once, and again after each `plan.delay` while no answer has come (up to
    /// `plan.max_extra` times, while the retry budget allows); returns the first success, or
    /// the last error once every launched attempt has failed. The others are dropped.
    ///
    /// Without a plan this is `launch()` itself; the race is boxed, so that its state (a
    /// timer, the set of attempts) adds nothing to the future of a request without hedging.
    pub(crate) async fn race<X, Fut>(
        &self,
        side: Side,
        plan: Option<HedgePlan>,
        mut launch: impl FnMut() -> Fut,
    ) -> Result<X>
    where
        Fut: Future<Output = Result<X>>,
    {
        match plan {
            None => launch().await,
            Some(plan) => Box::pin(self.hedged(side, plan, launch)).await,
        }
    }

    /// [`Engine::race`] with a plan.
    async fn hedged<X, Fut>(
        &self,
        side: Side,
        plan: HedgePlan,
        mut launch: impl FnMut() -> Fut,
    ) -> Result<X>
    where
        Fut: Future<Output = Result<X>>,
    {
        let mut running = FuturesUnordered::new();
        running.push(launch());
        let mut extra = 0;
        loop {
            let hedge_due = async {
                if extra < plan.max_extra {
                    tokio::time::sleep(plan.delay).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                biased;
                done = running.next() => match done {
                    Some(Ok(answer)) => {
                        if extra > 0 {
                            self.obs.metrics.traffic.hedge_ended(side, running.len());
                        }
                        return Ok(answer);
                    }
                    Some(Err(e)) if running.is_empty() => return Err(e),
                    Some(Err(_)) => {}
                    None => return launch().await,
                },
                () = hedge_due => {
                    if self.side(side).budget.withdraw(self.now()) {
                        self.obs.metrics.traffic.hedge_sent(side);
                        running.push(launch());
                        extra += 1;
                    } else {
                        // The budget is spent: no more hedges for this attempt.
                        extra = plan.max_extra;
                    }
                }
            }
        }
    }
}
