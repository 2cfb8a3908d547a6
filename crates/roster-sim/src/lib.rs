//! # roster-sim
//!
//! In-process simulators of the Mattermost and Rocket.Chat REST APIs, for
//! tests, benchmarks and `roster demo`, and for anyone testing their own
//! tooling against roster.
//!
//! ## Brief overview
//!
//! * [`mattermost`] and [`rocketchat`]: an `OrgSpec` generates a seeded,
//!   deterministic organisation; the server built from it answers every
//!   endpoint the connectors call, with the platform's paging caps,
//!   orderings, permission behaviour, error shapes and rate limiting.
//! * Each generated organisation comes with its [`GroundTruth`]: the exact
//!   resources, entitlements and grants a correct sync must produce;
//!   [`GroundTruth::expected`] hands them, with the platform connector's
//!   contract ([`mattermost::CONTRACT`], [`rocketchat::CONTRACT`]), to
//!   `roster_core::testkit::assert_conforms`.
//! * [`Faults`] injects the failures real servers produce (5xx bursts, 429s,
//!   connection resets, truncated or malformed JSON, slow or oversized
//!   responses, revoked tokens, deleted resources, duplicate rows, shifting
//!   pages) into chosen endpoints.
//! * [`RequestLog`] records every request with its timestamp and status, so
//!   tests can assert pacing.
//! * [`SimServer`] is a running server on `127.0.0.1:<random port>`; it
//!   stops when dropped.
#![deny(missing_docs)]

mod common;
pub mod mattermost;
pub mod rocketchat;

pub use common::{Fault, FaultRule, Faults, GroundTruth, LoggedRequest, RequestLog, SimServer};
