//! # roster
//!
//! Reads *who has access to what* in team-chat platforms and emits a
//! normalized Resource / Entitlement / Grant snapshot (`roster-snapshot/1`).
//!
//! This facade re-exports the workspace crates:
//!
//! * [`core`]: the model, connector traits, HTTP layer, rate limiting, retry,
//!   paging and the streaming sync engine.
//! * `mattermost` (feature `mattermost`, default): the Mattermost connector.
//! * `rocketchat` (feature `rocketchat`, default): the Rocket.Chat connector.
#![deny(missing_docs)]

pub use roster_core as core;
pub use roster_core::*;

#[cfg(feature = "mattermost")]
pub use roster_mattermost as mattermost;

#[cfg(feature = "rocketchat")]
pub use roster_rocketchat as rocketchat;

/// The README's code compiles (`cargo test --doc`).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
