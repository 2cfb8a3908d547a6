//! # roster
//!
//! Reads *who has access to what* in team-chat platforms and emits a
//! normalized Resource / Entitlement / Grant snapshot (`roster-snapshot/1`).
//!
//! ## Brief overview
//!
//! The crate root is the API for *using* a connector; every item has one
//! path in this facade:
//!
//! * [`SyncEngine`] and [`SyncOptions`] run a [`Connector`] and stream every
//!   [`Record`] to a [`Sink`]: [`JsonlSink`] (any `AsyncWrite`),
//!   [`JsonlFile`] (temp file + rename, resumable with [`ResumeState`]) or
//!   [`MemorySink`].
//! * The run ends with a [`Summary`] (counts, warnings, `complete`);
//!   [`Connector::validate`] returns a [`ValidationReport`] first.
//! * [`Snapshot`] reads a written snapshot back ([`Header`], records,
//!   [`Summary`]).
//! * [`Error`] and its [`ErrorKind`] say what failed; [`Progress`] receives
//!   [`ProgressEvent`]s.
//! * [`mattermost`] (feature `mattermost`, default) and [`rocketchat`]
//!   (feature `rocketchat`, default): the connectors and their configs.
//! * [`core`]: the connector kit, everything needed to *write* a connector
//!   (model, HTTP client, rate limiting, retry, paging, validation); the
//!   root's items are found there too, under their modules.
//!
//! ## Example
//!
//! ```no_run
//! # async fn demo(connector: &dyn roster::Connector) -> roster::Result<()> {
//! use roster::{JsonlSink, SyncEngine, SyncOptions};
//!
//! let mut sink = JsonlSink::stdout();
//! let summary = SyncEngine::new(SyncOptions::default()).run(connector, &mut sink).await?;
//! assert!(summary.complete, "{:?}", summary.warnings);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub)]

pub use roster_core as core;

pub use roster_core::{
    Connector, Error, ErrorKind, Header, JsonlFile, JsonlSink, MemorySink, Progress, ProgressEvent,
    Record, Result, ResumeState, Sink, Snapshot, Summary, SyncEngine, SyncOptions,
    ValidationReport,
};

#[cfg(feature = "mattermost")]
pub use roster_mattermost as mattermost;

#[cfg(feature = "rocketchat")]
pub use roster_rocketchat as rocketchat;

/// The README's code compiles (`cargo test --doc`).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
