//! The header gate: per gate key, a state machine fed by every response's
//! [`RateLimitInfo`] that holds calls back once the server's window is
//! spent, probes one call at a time until the server has been heard from,
//! and counts calls in flight so they are not counted twice.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::headers::RateLimitInfo;
use super::server_limit::ServerLimit;

#[derive(Debug, Clone, Copy)]
enum BucketState {
    /// Nothing heard yet: one probe at a time.
    Unknown { probing: bool },
    /// Responses carry no headers (e.g. a token that bypasses the limit).
    NoHeaders,
    /// A window the server described.
    Window {
        remaining: u64,
        reset_at: Option<Instant>,
        /// Calls allowed once `reset_at` passes.
        limit: Option<u64>,
    },
}

#[derive(Debug)]
struct Bucket {
    state: BucketState,
    in_flight: u64,
    /// The last `X-RateLimit-Limit` seen.
    reported_limit: Option<u64>,
    /// The longest time to a reset any answer announced: the window length
    /// or a little less (exactly it when the answer opened the window).
    longest_reset: Option<Duration>,
}

/// Paces calls by what the server's rate-limit headers say.
#[derive(Debug, Default)]
pub(crate) struct HeaderGate {
    buckets: Mutex<HashMap<String, Bucket>>,
    notify: Notify,
    margin: Duration,
}

/// Extra time added after a reset, for clock skew between client and server.
pub const DEFAULT_RESET_MARGIN: Duration = Duration::from_millis(50);

impl HeaderGate {
    /// A gate waking `margin` after each reported reset.
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            buckets: Mutex::default(),
            notify: Notify::new(),
            margin,
        }
    }

    /// The time this gate waits past each reported reset.
    pub(crate) fn margin(&self) -> Duration {
        self.margin
    }

    /// Waits until the server's last word allows a call in `key`, then
    /// counts the call as in flight. Returns the time waited. Every `wait`
    /// must be followed by [`observe`](Self::observe) or [`release`](Self::release).
    #[cfg(test)]
    pub(crate) async fn wait(
        &self,
        key: &str,
        on_wait: &(dyn Fn(Duration) + Send + Sync),
    ) -> Duration {
        self.wait_assuming(key, false, on_wait).await
    }

    /// [`wait`](Self::wait), but with `unknown_is_free` a bucket nothing
    /// was heard from yet lets every call through at once instead of one
    /// probe (for a token known to bypass the server's limit). The first
    /// answer with headers turns the bucket into a paced window at once.
    pub(crate) async fn wait_assuming(
        &self,
        key: &str,
        unknown_is_free: bool,
        on_wait: &(dyn Fn(Duration) + Send + Sync),
    ) -> Duration {
        let start = Instant::now();
        let mut slept = false;
        let waited = move |slept: bool| {
            // Zero unless it waited: callers count non-zero waits.
            if slept {
                start.elapsed()
            } else {
                Duration::ZERO
            }
        };
        loop {
            let notified = self.notify.notified();
            let sleep_until = {
                let mut buckets = self.buckets.lock().expect("gate lock");
                let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
                    state: BucketState::Unknown { probing: false },
                    in_flight: 0,
                    reported_limit: None,
                    longest_reset: None,
                });
                let now = Instant::now();
                match &mut bucket.state {
                    BucketState::Unknown { .. } if unknown_is_free => {
                        bucket.in_flight += 1;
                        return waited(slept);
                    }
                    BucketState::Unknown { probing } => {
                        if *probing {
                            None
                        } else {
                            *probing = true;
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                    }
                    BucketState::NoHeaders => {
                        bucket.in_flight += 1;
                        return waited(slept);
                    }
                    BucketState::Window {
                        remaining,
                        reset_at,
                        limit,
                    } => {
                        if reset_at.is_some_and(|t| now >= t + self.margin) {
                            // The window ended: a new one allows `limit` calls
                            // (or one probe when the limit is unknown).
                            *remaining = limit.unwrap_or(1);
                            *reset_at = None;
                        }
                        if *remaining > 0 {
                            *remaining -= 1;
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                        if reset_at.is_none() && bucket.in_flight == 0 {
                            // Nothing in flight will tell us about the new
                            // window: let one call through to ask.
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                        reset_at.map(|t| t + self.margin)
                    }
                }
            };
            slept = true;
            match sleep_until {
                Some(t) => {
                    on_wait(t.saturating_duration_since(Instant::now()));
                    // A response may shorten the wait (a token bucket
                    // refilling, a count corrected): look again then.
                    tokio::select! {
                        () = tokio::time::sleep_until(t) => {}
                        () = notified => {}
                    }
                }
                // Wait for a response to tell us more (bounded, in case the
                // call in flight never reports).
                None => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
                }
            }
        }
    }

    /// Records what a response in `key` said and ends its in-flight count.
    /// `rejected` is true for a 429.
    pub(crate) fn observe(&self, key: &str, info: &RateLimitInfo, rejected: bool) {
        {
            let mut buckets = self.buckets.lock().expect("gate lock");
            let Some(bucket) = buckets.get_mut(key) else {
                return;
            };
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
            bucket.reported_limit = info.limit.or(bucket.reported_limit);
            let others = bucket.in_flight;
            let now = Instant::now();
            if let Some(reset_at) = info.reset_at.filter(|_| !info.current) {
                let d = reset_at.saturating_duration_since(now);
                bucket.longest_reset = Some(bucket.longest_reset.map_or(d, |l| l.max(d)));
            }
            if rejected {
                let reset_at = info
                    .wait_after_rejection()
                    .map(|w| now + w)
                    .or(Some(now + Duration::from_secs(1)));
                let limit = info.refill.or(info.limit).or(match bucket.state {
                    BucketState::Window { limit, .. } => limit,
                    _ => None,
                });
                bucket.state = BucketState::Window {
                    remaining: 0,
                    reset_at,
                    limit,
                };
            } else if let (Some(server_remaining), true) = (info.remaining, info.current) {
                let fresh = server_remaining.saturating_sub(others);
                let remaining = match bucket.state {
                    // No token can have come back since the last answer:
                    // answers overtaking each other must not raise the
                    // count.
                    BucketState::Window {
                        remaining,
                        reset_at: Some(next_token),
                        ..
                    } if now < next_token => remaining.min(fresh),
                    _ => fresh,
                };
                bucket.state = BucketState::Window {
                    remaining,
                    reset_at: info.reset_at,
                    limit: info.refill.or(info.limit),
                };
            } else if let Some(server_remaining) = info.remaining {
                // Our own count of a window already includes the calls in
                // flight; the server's does not (yet), so it is compared as
                // is. Only a count we do not have is derived from the
                // server's, minus the calls in flight.
                bucket.state = match bucket.state {
                    BucketState::Window {
                        remaining,
                        reset_at: Some(old),
                        limit,
                    } if info
                        .reset_at
                        .is_none_or(|new| new <= old + Duration::from_millis(500)) =>
                    {
                        // Same window: trust whichever count is lower.
                        BucketState::Window {
                            remaining: remaining.min(server_remaining),
                            reset_at: Some(old),
                            limit: info.refill.or(info.limit).or(limit),
                        }
                    }
                    BucketState::Window { reset_at: None, .. }
                        if info.reset_at.is_some_and(|r| r <= now) =>
                    {
                        // An answer from the window that already ended: our
                        // count of the new one stands.
                        bucket.state
                    }
                    BucketState::Window {
                        remaining,
                        reset_at: None,
                        limit,
                    } => {
                        // The first answer of a window we opened after the
                        // last reset, counting every call since.
                        BucketState::Window {
                            remaining: remaining.min(server_remaining),
                            reset_at: info.reset_at,
                            limit: info.refill.or(info.limit).or(limit),
                        }
                    }
                    _ => BucketState::Window {
                        remaining: server_remaining.saturating_sub(others),
                        reset_at: info.reset_at,
                        limit: info.refill.or(info.limit),
                    },
                };
            } else if let BucketState::Unknown { .. } = bucket.state {
                bucket.state = BucketState::NoHeaders;
            }
        }
        self.notify.notify_waiters();
    }

    /// Ends the in-flight count of a call that got no response.
    pub(crate) fn release(&self, key: &str) {
        {
            let mut buckets = self.buckets.lock().expect("gate lock");
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
                if let BucketState::Unknown { probing } = &mut bucket.state {
                    *probing = false;
                }
            }
        }
        self.notify.notify_waiters();
    }

    /// Whether the server has sent rate-limit headers for `key`
    /// (`None` when nothing was heard yet).
    /// What the server said about `key` (`None`: no response seen yet).
    pub(crate) fn server_limit(&self, key: &str) -> Option<ServerLimit> {
        let buckets = self.buckets.lock().expect("gate lock");
        let bucket = buckets.get(key)?;
        let limited = match bucket.state {
            BucketState::Unknown { .. } => return None,
            BucketState::NoHeaders => false,
            BucketState::Window { .. } => true,
        };
        Some(ServerLimit {
            limited,
            calls: bucket.reported_limit,
            window: bucket.longest_reset,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ratelimit::limiter::ignore_wait;

    #[tokio::test]
    async fn calls_that_do_not_wait_report_zero_on_real_time() {
        // Regression: `start.elapsed()` is never zero on a running clock, so
        // every call used to count as a rate-limit wait.
        let gate = HeaderGate::new(Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        gate.observe("b", &RateLimitInfo::default(), false);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn gate_waits_for_reset_when_remaining_is_zero() {
        let gate = HeaderGate::new(Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let reset_at = Instant::now() + Duration::from_secs(30);
        let info = RateLimitInfo {
            limit: Some(2),
            remaining: Some(1),
            reset_at: Some(reset_at),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, false);
        // One call left in this window, then a wait until the reset.
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        gate.release("b");
        let waited = gate.wait("b", &ignore_wait).await;
        assert_eq!(waited, Duration::from_secs(30));
        // After the reset the new window allows `limit` calls.
        gate.release("b");
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let g = Arc::new(gate);
        let g2 = g.clone();
        let third = tokio::spawn(async move { g2.wait("b", &ignore_wait).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!third.is_finished(), "the new window's 2 calls are used up");
        // A call ending without a response leaves nothing in flight: one
        // more call may go and ask.
        g.release("b");
        third.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn gate_probes_one_call_until_heard_from() {
        let gate = Arc::new(HeaderGate::new(Duration::ZERO));
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let g = gate.clone();
        let second = tokio::spawn(async move { g.wait("b", &ignore_wait).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !second.is_finished(),
            "a second call must wait for the probe"
        );
        gate.observe("b", &RateLimitInfo::default(), false);
        second.await.unwrap();
        assert_eq!(gate.server_limit("b").map(|l| l.limited), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_not_counted_twice() {
        // A fixed window of 10: after the reset, 8 calls go at once; the
        // first answer read was the server's 5th (remaining 5). Our own
        // count (2 left) already includes the 7 still in flight.
        let gate = HeaderGate::new(Duration::ZERO);
        gate.wait("b", &ignore_wait).await;
        let reset_at = Instant::now() + Duration::from_secs(1);
        let exhausted = RateLimitInfo {
            limit: Some(10),
            remaining: Some(0),
            reset_at: Some(reset_at),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &exhausted, false);
        tokio::time::sleep_until(reset_at).await;
        for _ in 0..8 {
            assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        }
        let info = RateLimitInfo {
            limit: Some(10),
            remaining: Some(5),
            reset_at: Some(reset_at + Duration::from_secs(1)),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, false);
        // Two more calls fit this window, the third waits for its end.
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn rejection_waits_for_reset() {
        let gate = HeaderGate::new(Duration::ZERO);
        gate.wait("b", &ignore_wait).await;
        let info = RateLimitInfo {
            limit: Some(10),
            remaining: Some(0),
            reset_at: Some(Instant::now() + Duration::from_secs(12)),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, true);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_buckets_are_free_for_a_bypassing_token_until_headers_come() {
        let gate = Arc::new(HeaderGate::new(Duration::ZERO));
        // Eight calls at once, no probe: nothing is known and the token
        // bypasses the limit.
        for _ in 0..8 {
            assert_eq!(
                gate.wait_assuming("b", true, &ignore_wait).await,
                Duration::ZERO
            );
        }
        // The first answer carries headers: the bucket is a window now,
        // counted down from the server's remaining minus the calls in
        // flight (7 more answers to come).
        let reset_at = Instant::now() + Duration::from_secs(10);
        gate.observe(
            "b",
            &RateLimitInfo {
                limit: Some(10),
                remaining: Some(9),
                reset_at: Some(reset_at),
                ..RateLimitInfo::default()
            },
            false,
        );
        let known = gate.server_limit("b").unwrap();
        assert!(known.limited);
        assert_eq!(known.window, Some(Duration::from_secs(10)));
        for _ in 0..2 {
            assert_eq!(
                gate.wait_assuming("b", true, &ignore_wait).await,
                Duration::ZERO
            );
        }
        assert_eq!(
            gate.wait_assuming("b", true, &ignore_wait).await,
            Duration::from_secs(10),
            "the window is spent: wait for its reset"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn server_limit_reports_what_the_answers_said() {
        let gate = HeaderGate::new(Duration::ZERO);
        assert_eq!(gate.server_limit("b"), None, "never asked");
        gate.wait("b", &ignore_wait).await;
        assert_eq!(
            gate.server_limit("b"),
            None,
            "a probe in flight says nothing"
        );
        gate.release("b");
        assert_eq!(gate.server_limit("b"), None, "no answer came");

        gate.wait("b", &ignore_wait).await;
        gate.observe("b", &RateLimitInfo::default(), false);
        assert_eq!(
            gate.server_limit("b"),
            Some(ServerLimit {
                limited: false,
                calls: None,
                window: None
            })
        );

        // A fixed window: the limit and the time to its end.
        gate.wait("w", &ignore_wait).await;
        let window = RateLimitInfo {
            limit: Some(10),
            remaining: Some(9),
            reset_at: Some(Instant::now() + Duration::from_secs(60)),
            ..RateLimitInfo::default()
        };
        gate.observe("w", &window, false);
        assert_eq!(
            gate.server_limit("w"),
            Some(ServerLimit {
                limited: true,
                calls: Some(10),
                window: Some(Duration::from_secs(60))
            })
        );
        // A later answer of the same window keeps the longest reset seen.
        tokio::time::advance(Duration::from_secs(20)).await;
        gate.wait("w", &ignore_wait).await;
        gate.observe(
            "w",
            &RateLimitInfo {
                remaining: Some(8),
                ..window
            },
            false,
        );
        assert_eq!(
            gate.server_limit("w").unwrap().window,
            Some(Duration::from_secs(60))
        );

        // A token bucket (answers describe it as it is now) has no window.
        gate.wait("t", &ignore_wait).await;
        gate.observe(
            "t",
            &RateLimitInfo {
                limit: Some(100),
                remaining: Some(99),
                reset_at: Some(Instant::now() + Duration::from_millis(10)),
                refill: Some(1),
                current: true,
                ..RateLimitInfo::default()
            },
            false,
        );
        assert_eq!(
            gate.server_limit("t"),
            Some(ServerLimit {
                limited: true,
                calls: Some(100),
                window: None
            })
        );
    }
}
