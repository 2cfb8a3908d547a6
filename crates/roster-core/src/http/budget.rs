//! The time budget of one request
//! ([`ClientOptions::request_budget`](super::ClientOptions::request_budget)):
//! what counts against it.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Time one request has spent against its budget: everything since it
/// started except waits for the client's own quota (those are the
/// configuration's pacing, not the server's).
pub(super) struct BudgetClock {
    started: Instant,
    own_waits: Mutex<Duration>,
}

impl BudgetClock {
    /// A clock starting now.
    pub(super) fn start() -> Self {
        Self {
            started: Instant::now(),
            own_waits: Mutex::default(),
        }
    }

    /// Time spent so far, the client's own quota waits left out.
    pub(super) fn spent(&self) -> Duration {
        let own = *self.own_waits.lock().expect("budget lock");
        self.started.elapsed().saturating_sub(own)
    }

    /// Records a wait for the client's own quota.
    pub(super) fn own_wait(&self, waited: Duration) {
        *self.own_waits.lock().expect("budget lock") += waited;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn own_quota_waits_do_not_count() {
        let clock = BudgetClock::start();
        tokio::time::advance(Duration::from_secs(10)).await;
        clock.own_wait(Duration::from_secs(4));
        assert_eq!(clock.spent(), Duration::from_secs(6));
    }
}
