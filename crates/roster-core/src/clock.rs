//! The system's wall clock, for timestamps and for absolute times servers
//! announce. Waiting is tokio's business.
//!
//! Timestamps that people read — a snapshot's `started_at`, a summary's
//! `finished_at`, "now" in a report — come from the system clock
//! ([`now_utc`]), so a process running for weeks stamps what the machine's
//! clock says.
//!
//! Rate-limit headers such as Rocket.Chat's `X-RateLimit-Reset` are absolute
//! too: epoch milliseconds computed on the server as its `Date.now()` plus
//! the time left in the window. They are turned into a wait with the system
//! clock (`reset − SystemTime::now()`, see
//! [`RateLimitDialect::parse`](crate::ratelimit::RateLimitDialect::parse);
//! the client also reads them against the clocks of the request's
//! departure), and only that wait is scheduled on tokio's monotonic clock. No epoch time is ever derived from tokio's
//! clock: it drifts from the system clock over long runs (NTP steps,
//! suspend) and stands still or jumps under `tokio::time::pause()`.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

/// The current time in UTC, from the system clock.
pub fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// How long until the system clock reads `at` (zero if that moment has
/// passed).
pub(crate) fn until_system_time(at: SystemTime) -> Duration {
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// Wall-clock timestamps and waits for absolute times follow the system
    /// clock, not paused (or long running) tokio time: a day of tokio time
    /// moves neither.
    #[tokio::test(start_paused = true)]
    async fn timestamps_and_absolute_waits_follow_the_system_clock() {
        tokio::time::advance(Duration::from_secs(86_400)).await;
        let real = std::time::Instant::now();
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let system_ms = system.as_millis() as i64;
        for stamp in [
            now_utc().unix_timestamp_nanos() / 1_000_000,
            i128::from(crate::Timestamp::now().unix_millis()),
        ] {
            let stamp = stamp as i64;
            assert!(
                (stamp - system_ms).abs() < 60_000,
                "timestamp {stamp} vs system clock {system_ms}"
            );
        }
        let at = system + Duration::from_secs(5);
        let wait = until_system_time(UNIX_EPOCH + at);
        assert!(
            wait <= Duration::from_secs(5) && wait + real.elapsed() >= Duration::from_secs(5),
            "{wait:?}"
        );
        assert_eq!(until_system_time(UNIX_EPOCH), Duration::ZERO);
        let past = UNIX_EPOCH + system - Duration::from_secs(1);
        assert_eq!(until_system_time(past), Duration::ZERO);
    }
}
