//! Shared by the end-to-end tests against the simulator: a connector with
//! fast retries, and the exact expectation of a complete sync.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::time::Duration;

use roster_core::RetryPolicy;
use roster_core::testkit::Expected;
use roster_mattermost::{MattermostConfig, MattermostConnector};
use roster_sim::SimServer;
use roster_sim::mattermost::MattermostSim;
use secrecy::SecretString;

/// Retries that never really sleep long.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(4)
        .min_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .max_total_delay(Duration::from_secs(1))
        .jitter_seed(Some(7))
}

/// The simulator's base URL, `token`, fast retries.
pub fn config(server: &SimServer, token: &str) -> MattermostConfig {
    MattermostConfig::new(server.base_url(), SecretString::from(token.to_owned()))
        .retry(fast_retry())
}

pub fn connector(config: MattermostConfig) -> MattermostConnector {
    MattermostConnector::new(config).expect("valid config")
}

/// A complete sync of `sim`: exactly its ground truth, no warning at all.
pub fn exact(sim: &MattermostSim) -> Expected {
    sim.ground_truth().expected().without_notices()
}
