//! Progress events for displays (the CLI draws bars from them). Separate
//! from logging: a library never prints.

use std::time::Duration;

use crate::model::ResourceType;
use crate::snapshot::Summary;

/// Something that happened during a sync.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ProgressEvent<'a> {
    /// A resource was written.
    Resource(ResourceType),
    /// `count` grants of resources of this type were written.
    Grants(ResourceType, u64),
    /// The grants of one resource were all read.
    GrantsDone(ResourceType),
    /// A request was sent to this endpoint bucket.
    Request(&'a str),
    /// A call in this bucket is about to wait this long for a rate limit.
    RateLimitWait(&'a str, Duration),
    /// A call is about to wait: for a rate limit, a quota or before a
    /// retry. Displays announce long waits so a silent pause is never
    /// mistaken for a hang.
    Waiting {
        /// The call (method and path).
        endpoint: &'a str,
        /// How long it will wait.
        wait: Duration,
        /// Why, in words (credentials already redacted).
        why: &'a str,
    },
    /// A listing of this type finished (all pages read).
    ListingDone(ResourceType),
    /// A warning was recorded.
    Warning(&'a str),
    /// The sync ended.
    Finished(&'a Summary),
}

/// Receives progress events. All methods have no-op defaults.
pub trait Progress: Send + Sync {
    /// Called for every event, from any task.
    fn event(&self, event: ProgressEvent<'_>) {
        let _ = event;
    }
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
