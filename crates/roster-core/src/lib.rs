//! # roster-core
//!
//! The spine every roster connector stands on.
//!
//! ## Brief overview
//!
//! A sync flows through these pieces, each in its own module:
//!
//! ```text
//! config ─► HttpClient ─► limiter + header gate ─► retry ─► paginator ─► connector mapping ─► SyncEngine ─► Sink
//! ```
//!
//! * [`model`]: [`Resource`], [`Entitlement`], [`Grant`] and their typed ids;
//!   serialised exactly as the `roster-snapshot/1` contract says.
//! * [`snapshot`]: the header, summary and [`Record`] lines, and a reader.
//! * [`http`]: [`HttpClient`], the one path every request takes: base-URL
//!   joining, credentials in sensitive headers, no redirects, timeouts, a body
//!   cap, [`Error`] classification, pacing and retries.
//! * [`ratelimit`]: a `governor` keyed limiter (one bucket per endpoint) and
//!   a header gate driven by `X-RateLimit-*` /
//!   `Retry-After`.
//! * [`retry`]: [`RetryPolicy`], exponential backoff with jitter (`backon`).
//! * [`paging`]: page-number, offset/total and cursor listings as lazy
//!   streams with a loop guard, dedupe and re-reads of shifting listings.
//! * [`connector`]: the [`Connector`] and [`ResourceSyncer`] traits a
//!   platform implements.
//! * [`engine`]: [`SyncEngine`] runs a connector concurrently and streams
//!   every record to a [`Sink`] ([`JsonlSink`], [`JsonlFile`], [`MemorySink`]).
//! * [`validate`]: the [`ValidationReport`] (checks, rate-limit status).
//! * [`plan`]: a connector's [`Workload`] turned into a [`Plan`] (requests
//!   per endpoint, estimated duration, advice) by one [`Planner`].
//!
//! ## Example
//!
//! ```no_run
//! # async fn demo(connector: &dyn roster_core::Connector) -> roster_core::Result<()> {
//! use roster_core::{JsonlSink, SyncEngine, SyncOptions};
//!
//! let mut sink = JsonlSink::stdout();
//! let summary = SyncEngine::new(SyncOptions::default()).run(connector, &mut sink).await?;
//! assert!(summary.complete, "{:?}", summary.warnings);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod clock;
pub mod connector;
pub mod engine;
pub mod error;
pub mod http;
mod inline;
pub mod model;
pub mod paging;
pub mod plan;
pub mod progress;
pub mod ratelimit;
pub mod resume;
pub mod retry;
pub mod sink;
pub mod snapshot;
pub mod stats;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod validate;

pub use connector::{Connector, ItemStream, Listed, ResourceSyncer};
pub use engine::{DEFAULT_CONCURRENCY, SyncEngine, SyncOptions};
pub use error::{Error, ErrorKind, Result};
pub use http::{Auth, Call, ClientOptions, Endpoint, HttpClient, HttpConfig};
pub use model::{
    AccountType, Entitlement, EntitlementId, Grant, Principal, Profile, Purpose, Resource,
    ResourceId, ResourceRef, ResourceType, Timestamp, UserStatus, UserTraits,
};
pub use paging::{Keyed, Page, PageRequest, Paging, PagingLimits, paginate};
pub use plan::{Advice, Plan, Planner, Workload};
pub use progress::{NoProgress, Progress, ProgressEvent};
pub use ratelimit::{RateLimit, RateLimitDialect, RateLimitMode, ServerLimit, SharedLimiter};
pub use resume::ResumeState;
pub use retry::RetryPolicy;
pub use sink::{JsonlFile, JsonlSink, MemorySink, Sink};
pub use snapshot::{Counts, Header, Record, ServerInfo, Snapshot, Summary};
pub use stats::RequestCounts;
pub use validate::{Check, CheckKind, CheckStatus, ValidationReport};
