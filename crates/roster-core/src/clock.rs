//! Wall-clock time that follows tokio's clock.
//!
//! Rate-limit headers such as Rocket.Chat's `X-RateLimit-Reset` are absolute
//! (epoch milliseconds), but waits are scheduled on tokio's monotonic clock.
//! Deriving the wall clock from one anchor plus tokio's elapsed time keeps the
//! two consistent, including under `tokio::time::pause()` in tests (where the
//! simulators compute their headers from the same function).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use tokio::time::Instant;

static ANCHOR: OnceLock<(Duration, std::time::Instant)> = OnceLock::new();

fn anchor() -> (Duration, std::time::Instant) {
    *ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (wall, std::time::Instant::now())
    })
}

/// Time since the Unix epoch, advancing with tokio's clock.
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

/// Milliseconds since the Unix epoch, advancing with tokio's clock.
pub fn unix_millis() -> u64 {
    u64::try_from(unix_now().as_millis()).unwrap_or(u64::MAX)
}

/// The current time in UTC.
pub fn now_utc() -> OffsetDateTime {
    let d = unix_now();
    OffsetDateTime::from_unix_timestamp_nanos(d.as_nanos() as i128)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
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
}
