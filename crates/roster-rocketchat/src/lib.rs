//! # roster-rocketchat
//!
//! The Rocket.Chat connector of roster: reads who has access to what in a
//! Rocket.Chat workspace through the REST API v1 and hands it to roster's
//! [`SyncEngine`](roster_core::SyncEngine) as resources, entitlements and
//! grants (`roster-snapshot/1`).
//!
//! ## What it syncs (read-only)
//!
//! | resource | from | entitlements | grants from |
//! |---|---|---|---|
//! | `user` | `users.list` | — | — |
//! | `role` | `roles.list` (both scopes) | `assigned` | each user's `roles`, for workspace-scope (`Users`) roles only |
//! | `team` | `teams.listAll` | `member`, `owner`, `moderator`, `leader` | `teams.members` of every team (all pages; active users only), and `users.listTeams` of each deactivated user (`member`, `owner`) |
//!
//! The endpoint table lives in one place (`endpoints.rs`); paging,
//! retries and rate limiting are roster-core's.
//!
//! ## Rate limits
//!
//! Rocket.Chat allows 10 calls per 60 s **per endpoint** by default, in a
//! fixed window, except for tokens holding `api-bypass-rate-limit` (admins,
//! bots and apps by default), which are not limited and get no headers.
//! The default pacing, [`RateLimitMode::Auto`](roster_core::RateLimitMode),
//! follows what the server says per endpoint: no client quota for a
//! bypassing token (learnt by validation from `permissions.listAll`) that
//! gets no headers; the server's own `X-RateLimit-Remaining` /
//! `X-RateLimit-Reset` (epoch ms) for a limited one, waiting for the
//! window's reset instead of collecting 429s; the stock 10 per 60 s while
//! nothing is known. Independent endpoints run in parallel, so a limited
//! sync takes about as long as its busiest endpoint — usually
//! `teams.members`, one call per team. Ways to go faster, in order of
//! effect: a token holding `api-bypass-rate-limit`,
//! [`RocketChatConfig::infinite_count`] (one request per listing), a raised
//! server limit. [`Connector::validate`] reports which applies and
//! estimates the duration. Several connectors of one server in one process
//! can share a limiter ([`RocketChatConfig::shared_limiter`]).
//!
//! ## Permissions
//!
//! The token's user needs `view-all-teams` (else `teams.members` silently
//! returns empty lists), `view-full-other-user-info` (else `users.list`
//! silently omits roles, emails and last login) and `view-d-room` (else
//! `users.list` answers 403); validation fails without them.
//!
//! ## Deactivated users
//!
//! `teams.members` lists active users only. A deactivated user's team
//! memberships come from `users.listTeams?userId=`, which tells `owner` but
//! no other member role: their `moderator` / `leader` roles are not in the
//! snapshot, and the summary carries a notice saying so.
//!
//! ## Example
//!
//! ```no_run
//! use roster_core::{JsonlSink, SyncEngine, SyncOptions};
//! use roster_rocketchat::{RocketChatConfig, RocketChatConnector};
//!
//! # async fn demo(token: secrecy::SecretString) -> roster_core::Result<()> {
//! let config = RocketChatConfig::new("https://chat.example.com", "user-id", token)
//!     .infinite_count(true);
//! let connector = RocketChatConnector::new(config)?;
//! let mut sink = JsonlSink::stdout();
//! let summary = SyncEngine::new(SyncOptions::default())
//!     .run(&connector, &mut sink)
//!     .await?;
//! eprintln!("complete: {}, requests: {}", summary.complete, summary.stats.requests);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub)]

mod config;
mod endpoints;
mod roles;
mod server;
mod teams;
mod users;
mod validate;

use std::sync::Arc;

use async_trait::async_trait;
use roster_core::{
    Auth, Connector, HttpClient, HttpConfig, Paging, RateLimitDialect, ResourceSyncer, Result,
    ValidationReport,
};
use secrecy::SecretString;
use tokio::sync::OnceCell;

pub use config::{
    DEFAULT_COUNT, RocketChatConfig, default_rate_limit, default_rate_limit_mode, shared_limiter,
};

use roles::RoleTable;

/// The connector's name: the snapshot header's `connector`.
pub const NAME: &str = "rocketchat";

/// The Rocket.Chat connector. Build one per sync: the role list is read
/// once and cached for the connector's life, and deactivated users' team
/// memberships are handed from the user listing to the team grants.
#[derive(Debug)]
pub struct RocketChatConnector {
    client: HttpClient,
    count: u32,
    infinite_count: bool,
    roles: OnceCell<Arc<RoleTable>>,
    /// Deactivated users' memberships, from the user listing to the team
    /// grant streams.
    deactivated: Arc<users::DeactivatedTeams>,
}

impl RocketChatConnector {
    /// A connector for `config`. Fails with [`roster_core::Error::Config`]
    /// on an unusable base URL (not http(s), credentials in it, plain http
    /// to a non-loopback host without `allow_insecure_http`) or a token
    /// that cannot be sent in a header.
    pub fn new(config: RocketChatConfig) -> Result<Self> {
        let http = HttpConfig::new(
            &config.base_url,
            RateLimitDialect::ROCKETCHAT,
            config.options.clone(),
        )?;
        let auth = Auth::Headers(vec![
            ("x-auth-token", config.auth_token.clone()),
            ("x-user-id", SecretString::from(config.user_id.clone())),
        ]);
        Ok(Self {
            client: HttpClient::new(http, auth)?,
            count: config.count,
            infinite_count: config.infinite_count,
            roles: OnceCell::new(),
            deactivated: Arc::default(),
        })
    }

    /// How listings page.
    pub(crate) fn paging(&self) -> Paging {
        Paging::Offset {
            count: if self.infinite_count { 0 } else { self.count },
        }
    }

    /// The role table, read once (`roles.list`) and shared by the role and
    /// user syncers and validation.
    pub(crate) async fn roles(&self) -> Result<Arc<RoleTable>> {
        self.roles
            .get_or_try_init(|| async { roles::fetch(self).await.map(Arc::new) })
            .await
            .cloned()
    }
}

#[async_trait]
impl Connector for RocketChatConnector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn client(&self) -> &HttpClient {
        &self.client
    }

    async fn validate(&self) -> Result<ValidationReport> {
        validate::validate(self).await
    }

    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>> {
        vec![
            Box::new(users::UserSyncer { connector: self }),
            Box::new(roles::RoleSyncer { connector: self }),
            Box::new(teams::TeamSyncer { connector: self }),
        ]
    }

    async fn server_info(&self) -> Option<roster_core::ServerInfo> {
        server::server_info(&self.client).await
    }
}
