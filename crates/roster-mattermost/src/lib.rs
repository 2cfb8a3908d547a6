//! # roster-mattermost
//!
//! The Mattermost connector of roster: reads who has access to what in a
//! Mattermost server (REST API v4) and hands it to roster-core's
//! [`SyncEngine`](roster_core::SyncEngine) as `roster-snapshot/1` records.
//!
//! ## Brief overview
//!
//! * [`MattermostConfig`]: base URL (subpaths kept), token (a personal
//!   access token or bot token of a System Admin), HTTP settings, page size
//!   and enrichment.
//! * [`MattermostConnector`]: a [`Connector`] with two syncers:
//!   * **users** from `GET /api/v4/users` (deactivated → `disabled`, bots →
//!     `service`; system roles are profile data, not grants), enriched best
//!     effort with last login (`GET /api/v4/reports/users`) and last
//!     activity (`POST /api/v4/users/status/ids`);
//!   * **teams** from `GET /api/v4/teams` (archived ones included) with the
//!     entitlements `member`, `admin`, `guest` and grants from
//!     `GET /api/v4/teams/{team_id}/members`, many teams read concurrently.
//! * `validate()` checks the ping, the token (`/users/me`) and System Admin
//!   (`manage_system`, without which Mattermost silently hides invite-only
//!   teams), warns when enrichment is unavailable, reports the rate-limit
//!   status and plans the requests. The teams listing checks System Admin
//!   again when validation was skipped (`SyncOptions::validate = false`):
//!   a token without it yields a `MissingPermission` error, so the open
//!   teams are written but the summary says `complete: false`.
//!
//! Paging (0-based pages, the silent 200 cap, re-reads of shifting
//! listings), retries, rate limiting and streaming all live in roster-core;
//! this crate is the endpoint table and the mapping.
//!
//! ## Example
//!
//! ```no_run
//! # async fn demo(site_url: String, token: secrecy::SecretString) -> roster_core::Result<()> {
//! use roster_core::{JsonlSink, SyncEngine, SyncOptions};
//! use roster_mattermost::{MattermostConfig, MattermostConnector};
//!
//! let connector = MattermostConnector::new(MattermostConfig::new(site_url, token))?;
//! let mut sink = JsonlSink::stdout();
//! // Validates first and refuses (Err) when a complete sync is impossible.
//! let summary = SyncEngine::new(SyncOptions::default())
//!     .run(&connector, &mut sink)
//!     .await?;
//! eprintln!("complete: {}, {} requests", summary.complete, summary.stats.requests);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod config;
mod endpoints;
mod server;
mod teams;
mod users;
mod validate;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use roster_core::{Auth, Connector, HttpClient, ResourceSyncer, Result, ValidationReport};

pub use config::MattermostConfig;

/// The connector's name: the snapshot header's `connector`.
pub const NAME: &str = "mattermost";

/// Syncs a Mattermost server. Cheap to share by reference; holds one HTTP
/// client whose counters end up in the summary.
#[derive(Debug)]
pub struct MattermostConnector {
    client: HttpClient,
    config: MattermostConfig,
    /// Whether the token is a System Admin, once `validate()` or the teams
    /// listing has asked.
    caller_is_admin: Arc<OnceLock<bool>>,
}

impl MattermostConnector {
    /// A connector for `config`. Fails with [`roster_core::Error::Config`]
    /// when the base URL is unusable (not http(s), credentials in it, plain
    /// http off loopback without consent) or the token cannot be sent as a
    /// header. Makes no request.
    pub fn new(config: MattermostConfig) -> Result<Self> {
        let client = HttpClient::new(config.http_config()?, Auth::Bearer(config.token().clone()))?;
        Ok(Self {
            client,
            config,
            caller_is_admin: Arc::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MattermostConfig {
        &self.config
    }
}

#[async_trait]
impl Connector for MattermostConnector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn client(&self) -> &HttpClient {
        &self.client
    }

    async fn validate(&self) -> Result<ValidationReport> {
        validate::validate(&self.client, &self.config, &self.caller_is_admin).await
    }

    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>> {
        vec![
            Box::new(users::UsersSyncer {
                client: self.client.clone(),
                per_page: self.config.page_size(),
                enrich: self.config.enriches(),
            }),
            Box::new(teams::TeamsSyncer {
                client: self.client.clone(),
                per_page: self.config.page_size(),
                caller_is_admin: self.caller_is_admin.clone(),
            }),
        ]
    }

    async fn server_info(&self) -> Option<roster_core::ServerInfo> {
        server::server_info(&self.client).await
    }
}
