//! Two clocks: the system's wall clock, and one that follows tokio's.
//!
//! Timestamps that people read — a snapshot's `started_at`, a summary's
//! `finished_at`, "now" in a report — come from the system clock
//! ([`now_utc`]), so a process running for weeks stamps
//! what the machine's clock says.
//!
//! Waiting is tokio's business. Rate-limit headers such as Rocket.Chat's
//! `X-RateLimit-Reset` are absolute (epoch milliseconds), but waits are
//! scheduled on tokio's monotonic clock; [`unix_now`], [`unix_millis`] and
//! [`instant_at_unix_millis`] derive an epoch time from one anchor plus
//! tokio's elapsed time so the two stay consistent, including under
//! `tokio::time::pause()` in tests (where the simulators compute their headers
//! from the same function). That scheduling clock drifts from the system
//! clock over long runs (and jumps with paused time): use it only to turn an
//! absolute reset time into a wait, never to stamp a record.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use tokio::time::Instant;

static ANCHOR: OnceLock<(Duration, std::time::Instant)> = OnceLock::new();

fn anchor() -> (Duration, std::time::Instant) {
    *ANCHOR.get_or_init(|| (system_unix_now(), std::time::Instant::now()))
}

/// The system clock's time since the Unix epoch (zero before 1970).
pub(crate) fn system_unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Time since the Unix epoch, advancing with tokio's clock (the scheduling
/// clock: for waits, not for timestamps).
pub fn unix_now() -> Duration {
    let (wall, mono) = anchor();
    let now = Instant::now().into_std();
    // A paused tokio clock (tests) may read earlier than the anchor when
    // another thread set the anchor after this runtime froze its clock:
    // count backwards then, so the wall clock still moves with tokio's.
    match now.checked_duration_since(mono) {
        Some(ahead) => wall + ahead,
        None => wall.saturating_sub(mono.duration_since(now)),
    }
}

/// Milliseconds since the Unix epoch, advancing with tokio's clock (the
/// scheduling clock: for waits, not for timestamps).
pub fn unix_millis() -> u64 {
    u64::try_from(unix_now().as_millis()).unwrap_or(u64::MAX)
}

/// The current time in UTC, from the system clock.
pub fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The tokio instant at which the wall clock reads `epoch_millis`
/// (now, if that moment has passed).
pub fn instant_at_unix_millis(epoch_millis: u64) -> Instant {
    let now_ms = unix_millis();
    Instant::now() + Duration::from_millis(epoch_millis.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let before = unix_millis();
        tokio::time::advance(Duration::from_secs(60)).await;
        let after = unix_millis();
        assert!(after - before >= 60_000, "{before} {after}");
        let target = after + 5_000;
        let at = instant_at_unix_millis(target);
        assert_eq!(at - Instant::now(), Duration::from_millis(5_000));
    }

    /// Wall-clock timestamps follow the system clock, not paused (or long
    /// running) tokio time: a day of tokio time does not move them a day.
    #[tokio::test(start_paused = true)]
    async fn timestamps_follow_the_system_clock() {
        let scheduling_before = unix_millis();
        tokio::time::advance(Duration::from_secs(86_400)).await;
        // The scheduling clock moved a day with tokio's ...
        assert!(unix_millis() - scheduling_before >= 86_400_000);
        // ... the wall clock did not.
        let system = system_unix_now().as_millis() as i64;
        for stamp in [
            now_utc().unix_timestamp_nanos() / 1_000_000,
            i128::from(crate::Timestamp::now().unix_millis()),
        ] {
            let stamp = stamp as i64;
            assert!(
                (stamp - system).abs() < 60_000,
                "timestamp {stamp} vs system clock {system}"
            );
        }
    }
}
