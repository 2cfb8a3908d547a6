//! Planning arithmetic: how fast a fixed-window server lets a number of
//! calls through.

use std::time::Duration;

/// The fastest a fixed-window server lets `requests` calls through at
/// `limit` per `window`: `(ceil(requests / limit) − 1) × window` (the first
/// window's calls go at once, then one full window per further batch).
pub fn fixed_window_lower_bound(requests: u64, limit: u64, window: Duration) -> Duration {
    if requests == 0 || limit == 0 {
        return Duration::ZERO;
    }
    let windows = requests.div_ceil(limit) - 1;
    window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_bound_arithmetic() {
        let w = Duration::from_secs(60);
        assert_eq!(fixed_window_lower_bound(0, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(10, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(11, 10, w), w);
        assert_eq!(fixed_window_lower_bound(5000, 10, w), w * 499);
    }
}
