//! The traits a connector implements.
//!
//! A connector is a set of [`ResourceSyncer`]s, one per resource type, plus
//! [`Connector::validate`]. Each syncer answers three questions, as streams
//! so nothing forces the whole workspace into memory:
//!
//! 1. [`list`](ResourceSyncer::list): the resources of its type;
//! 2. [`entitlements`](ResourceSyncer::entitlements): what a resource offers;
//! 3. [`grants`](ResourceSyncer::grants): who holds a resource's entitlements.
//!
//! Some platforms reveal grants while listing (a Rocket.Chat user carries the
//! ids of its roles); [`Listed::grants`] carries those. Each entitlement's
//! grants must come from exactly one place (its resource's `grants` stream
//! or the listing of one type), which is how the engine can dedupe grants
//! per stream without remembering every grant of the workspace.

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::Result;
use crate::http::HttpClient;
use crate::model::{Entitlement, Grant, Resource, ResourceType};
use crate::snapshot::ServerInfo;
use crate::validate::ValidationReport;

/// A fallible stream of items borrowed from a syncer.
pub type ItemStream<'a, T> = BoxStream<'a, Result<T>>;

/// A resource and the grants its listing revealed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The resource.
    pub resource: Resource,
    /// Grants the listing itself revealed (usually none).
    pub grants: Vec<Grant>,
}

impl From<Resource> for Listed {
    fn from(resource: Resource) -> Self {
        Self {
            resource,
            grants: Vec::new(),
        }
    }
}

/// Lists the resources of one type, their entitlements and their grants.
/// Object-safe: the engine holds `Box<dyn ResourceSyncer>`.
pub trait ResourceSyncer: Send + Sync {
    /// The type this syncer lists.
    fn resource_type(&self) -> ResourceType;

    /// Every resource of this type.
    fn list(&self) -> ItemStream<'_, Listed>;

    /// The entitlements `resource` offers.
    fn entitlements<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Entitlement>;

    /// The grants on `resource`'s entitlements. Defaults to none (for types
    /// whose grants are revealed by a listing, or that have none).
    fn grants<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Grant> {
        let _ = resource;
        Box::pin(futures::stream::empty())
    }

    /// Whether [`grants`](Self::grants) reads anything for this type (so
    /// progress displays know what to expect).
    fn has_grants(&self) -> bool {
        false
    }

    /// More grants on `resource`, known only once work outside its own
    /// reads is done (e.g. lookups in another rate-limit bucket). The
    /// engine reads them after [`grants`](Self::grants) ended, without
    /// holding a concurrency slot while this stream waits, and marks the
    /// resource finished (checkpoint) only after them. Defaults to none.
    fn late_grants<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Grant> {
        let _ = resource;
        Box::pin(futures::stream::empty())
    }
}

/// A platform connector.
#[async_trait]
pub trait Connector: Send + Sync {
    /// `mattermost` or `rocketchat`: the header's `connector`.
    fn name(&self) -> &'static str;

    /// The base URL without credentials or query: the header's `source`.
    fn source(&self) -> String {
        self.client().config().source()
    }

    /// The HTTP client (its counters end up in the summary).
    fn client(&self) -> &HttpClient;

    /// Checks connectivity, credentials and permissions, and plans the sync.
    /// `Err` when the platform cannot be asked at all (bad URL, bad token);
    /// `Ok` with failed checks when it answered but a complete sync is not
    /// possible.
    async fn validate(&self) -> Result<ValidationReport>;

    /// The syncers, one per resource type. They run concurrently.
    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>>;

    /// What the server reports about itself (version, edition, licensed
    /// seats), for the snapshot header. Best effort: `None` when it cannot
    /// be read; it never fails a sync. Defaults to `None`.
    async fn server_info(&self) -> Option<ServerInfo> {
        None
    }
}

#[async_trait]
impl<C: Connector + ?Sized> Connector for Arc<C> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn source(&self) -> String {
        (**self).source()
    }
    fn client(&self) -> &HttpClient {
        (**self).client()
    }
    async fn validate(&self) -> Result<ValidationReport> {
        (**self).validate().await
    }
    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>> {
        (**self).syncers()
    }
    async fn server_info(&self) -> Option<ServerInfo> {
        (**self).server_info().await
    }
}
