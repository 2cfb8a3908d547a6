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
#![deny(missing_docs)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod clock;
pub mod model;
pub mod snapshot;

pub use model::{
    AccountType, Entitlement, EntitlementId, Grant, Principal, Profile, Purpose, Resource,
    ResourceId, ResourceRef, ResourceType, Timestamp, UserStatus, UserTraits,
};
pub use snapshot::{Counts, Header, Record, Snapshot, Summary};
