//! Rocket.Chat simulator.
//!
//! [`RocketChatSim`] serves the endpoints roster's Rocket.Chat connector
//! reads (`/api/info`, and under `/api/v1`: `me`, `permissions.listAll`,
//! `users.list`, `users.listTeams`, `roles.list`, `roles.getUsersInRole`,
//! `teams.listAll`, `teams.members`) over a seeded organisation, with the
//! platform's behaviour:
//!
//! * the version at `/api/info` (no auth); `/api/v1/info` answers 404 as on
//!   current servers;
//! * the **fixed-window rate limiter** (10 calls per 60 s per method + path +
//!   client IP by default): an expired window is renewed lazily by the next
//!   call on that route, so its phase is not the client's to choose (the
//!   first window is taken to have opened at server start minus
//!   [`SimOptions::window_phase`]); every request counts, including rejected
//!   429s and 400/403 answers; limited callers get `X-RateLimit-Limit`,
//!   `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch ms on the system
//!   clock, like the server's `Date.now()` plus the time left; the windows
//!   themselves run on tokio's clock) on every answer; callers holding `api-bypass-rate-limit` (admin, bot and app by
//!   default) are not limited and get no headers;
//! * `teams.members` lists **active users only** (`Users.findActive`, and
//!   its `total` counts only them), while `teams.listAll`'s `numberOfUsers`
//!   counts every member; `users.listTeams?userId=` lists a user's teams,
//!   active or not, with `isOwner` but no other member role;
//! * `users.list` needs `view-d-room` and, by default, returns neither
//!   `createdAt` nor `federated` (see [`SimOptions::include_created_at`]);
//! * offset/count paging with the silent clamp to
//!   [`SimOptions::upper_count_limit`], `count=0` for everything, and 400 on
//!   unknown query parameters;
//! * permission-dependent answers (`emails`/`roles`/`lastLogin` only for
//!   `view-full-other-user-info`, 403 on `teams.listAll` without
//!   `view-all-teams`, `200` with no members for teams the caller cannot see);
//! * injectable [`Faults`] and a [`RequestLog`];
//! * `GET /api/info` (version, no auth) and `licenses.maxActiveUsers`
//!   ([`SimOptions::max_active_users`]);
//! * generated dates that end at [`SimOptions::now`] (default: the start of
//!   the current UTC day), so activity looks recent.
//!
//! The generated workspace holds `OrgSpec::users` generated users plus four
//! users the sim hands out credentials for ([`RocketChatSim::admin`],
//! [`RocketChatSim::bot`], [`RocketChatSim::plain_user`],
//! [`RocketChatSim::team_viewer`]), and `OrgSpec::custom_roles` custom roles
//! plus two more (`roster-sync-reader` held by the bot, `team-auditor` held by
//! the team viewer). The plain user is a plain member of the first team.
//!
//! ```no_run
//! # async fn demo() {
//! use roster_sim::rocketchat::{OrgSpec, RocketChatSim};
//! let sim = RocketChatSim::new(OrgSpec::small());
//! let server = sim.spawn().await;
//! let creds = sim.bot();
//! println!("{} {} {}", server.base_url(), creds.user_id, creds.token);
//! let truth = sim.ground_truth();
//! # let _ = truth;
//! # }
//! ```

mod limiter;
mod org;
mod routes;
mod server;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use limiter::Limiter;
use org::Org;

use roster_core::ResourceType;
use roster_core::testkit::Contract;

use crate::{Faults, GroundTruth, RequestLog, SimServer};

/// What the Rocket.Chat connector promises about its snapshots: the header
/// name `rocketchat`, and the profile keys of users, roles and teams.
pub const CONTRACT: Contract = Contract::new(
    "rocketchat",
    &[
        (ResourceType::User, &["federated", "roles"]),
        (ResourceType::Role, &["scope", "protected", "name"]),
        (ResourceType::Team, &["team_type", "room_id"]),
    ],
);

/// The size and seed of a generated Rocket.Chat workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSpec {
    /// Generated users (the four credential users come on top).
    pub users: usize,
    /// Teams.
    pub teams: usize,
    /// Average members per team (each team gets between half and 1.5× this).
    pub avg_members: usize,
    /// Custom roles with random 24-hex ids (the last one, and some others,
    /// of scope `Subscriptions`); two more custom roles are always added for
    /// the sim's bot and team viewer.
    pub custom_roles: usize,
    /// Seed of the generator: equal specs give equal workspaces.
    pub seed: u64,
}

impl OrgSpec {
    /// About 25 users, 5 teams of about 6 members, 2 custom roles, seed 1.
    pub fn small() -> Self {
        Self {
            users: 25,
            teams: 5,
            avg_members: 6,
            custom_roles: 2,
            seed: 1,
        }
    }
}

impl Default for OrgSpec {
    fn default() -> Self {
        Self::small()
    }
}

/// A fixed-window rate limit: `calls` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    /// Requests allowed per window.
    pub calls: u32,
    /// Window length.
    pub window: Duration,
}

impl Default for FixedWindow {
    /// Rocket.Chat's default: 10 calls per 60 s.
    fn default() -> Self {
        Self {
            calls: 10,
            window: Duration::from_secs(60),
        }
    }
}

/// Server settings of a [`RocketChatSim`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimOptions {
    /// `API_Enable_Rate_Limiter`; `None` disables it. Default: 10 calls per 60 s.
    pub rate_limit: Option<FixedWindow>,
    /// Whether the `admin` role holds `api-bypass-rate-limit`. Default
    /// `true`, Rocket.Chat's stock setting: the admin token is not limited
    /// and gets no headers. `false` models a workspace whose admins revoked
    /// the bypass. `bot` and `app` always hold it.
    pub admin_bypasses_rate_limit: bool,
    /// `API_Allow_Infinite_Count`: `count=0` returns everything. Default `true`.
    pub allow_infinite_count: bool,
    /// `API_Upper_Count_Limit`: larger counts are silently clamped. Default 100.
    pub upper_count_limit: usize,
    /// Whether `users.list` returns `createdAt` (and `federated: true` for
    /// flagged users), as some older versions do. Default `false`: current
    /// servers return neither.
    pub include_created_at: bool,
    /// Whether a 401 has the pre-8.0 body `{status:"error", message}`.
    /// Default `false`: `{success:false, error}`.
    pub legacy_unauthorized_body: bool,
    /// How far into its first rate-limit window every route already is at
    /// start-up (other clients' traffic): each route's first window opened
    /// at server start minus this; later windows open lazily, at the first
    /// call after the previous one ended. Default 0.
    pub window_phase: Duration,
    /// The active-user limit `licenses.maxActiveUsers` reports; `None` (the
    /// default): unlimited (`null`).
    pub max_active_users: Option<u64>,
    /// The workspace's "now" in unix ms: generated dates end there. `None`
    /// (the default): the start of the current UTC day, so equal specs give
    /// equal workspaces all day.
    pub now: Option<i64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            rate_limit: Some(FixedWindow::default()),
            admin_bypasses_rate_limit: true,
            allow_infinite_count: true,
            upper_count_limit: 100,
            include_created_at: false,
            legacy_unauthorized_body: false,
            window_phase: Duration::ZERO,
            max_active_users: None,
            now: None,
        }
    }
}

/// An API login: the `X-User-Id` and `X-Auth-Token` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `X-User-Id`.
    pub user_id: String,
    /// `X-Auth-Token`.
    pub token: String,
}

#[derive(Debug)]
struct Inner {
    org: Mutex<Org>,
    options: SimOptions,
    limiter: Limiter,
    faults: Faults,
    log: RequestLog,
}

/// A simulated Rocket.Chat server over a generated workspace. Cloning shares
/// the state.
#[derive(Clone, Debug)]
pub struct RocketChatSim {
    inner: Arc<Inner>,
}

impl RocketChatSim {
    /// A workspace generated from `spec`, with default [`SimOptions`].
    pub fn new(spec: OrgSpec) -> Self {
        Self::with_options(spec, SimOptions::default())
    }

    /// A workspace generated from `spec`, with `options`. The rate-limit
    /// windows start now (minus `options.window_phase`).
    pub fn with_options(spec: OrgSpec, options: SimOptions) -> Self {
        let mut org = Org::generate(&spec);
        server::make_recent(
            &mut org,
            options
                .now
                .unwrap_or_else(|| now_ms_i64().div_euclid(86_400_000) * 86_400_000),
        );
        let now = tokio::time::Instant::now();
        let anchor = now.checked_sub(options.window_phase).unwrap_or(now);
        let limiter = Limiter::new(options.rate_limit.unwrap_or_default(), anchor);
        Self {
            inner: Arc::new(Inner {
                org: Mutex::new(org),
                options,
                limiter,
                faults: Faults::default(),
                log: RequestLog::default(),
            }),
        }
    }

    fn org(&self) -> MutexGuard<'_, Org> {
        self.inner.org.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn credentials(&self, pick: impl Fn(&org::CredUsers) -> usize) -> Credentials {
        let org = self.org();
        let idx = pick(&org.cred);
        Credentials {
            user_id: org.users[idx].id.clone(),
            token: org.token_of(idx),
        }
    }

    /// An administrator (roles `admin`, `user`): every permission. Not rate
    /// limited unless [`SimOptions::admin_bypasses_rate_limit`] is off.
    pub fn admin(&self) -> Credentials {
        self.credentials(|c| c.admin)
    }

    /// A bot (type `bot`, roles `bot` + `roster-sync-reader`): holds
    /// `view-all-teams`, `view-full-other-user-info` and
    /// `api-bypass-rate-limit`, so it is never limited and gets no headers.
    pub fn bot(&self) -> Credentials {
        self.credentials(|c| c.bot)
    }

    /// A plain user (role `user`): no `view-all-teams`, no
    /// `view-full-other-user-info`; a plain member of the first team.
    pub fn plain_user(&self) -> Credentials {
        self.credentials(|c| c.plain)
    }

    /// A user with roles `user` + `team-auditor`: holds `view-all-teams` but
    /// not `view-full-other-user-info`.
    pub fn team_viewer(&self) -> Credentials {
        self.credentials(|c| c.viewer)
    }

    /// The HTTP API as an axum router (`/api/info`, `/api/v1/...`).
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves [`Self::router`] on `127.0.0.1:<random port>`.
    pub async fn spawn(&self) -> SimServer {
        SimServer::spawn(self.router()).await
    }

    /// What a correct sync of the current state produces (as seen by an
    /// admin with full user info), computed from the organisation alone:
    /// every membership, deactivated users' included; a deactivated user's
    /// `owner` role shows (`users.listTeams`' `isOwner`) but their
    /// `moderator` / `leader` roles do not, since no read endpoint returns
    /// them.
    pub fn ground_truth(&self) -> GroundTruth {
        self.org()
            .ground_truth(self.inner.options.include_created_at)
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Every request answered so far.
    pub fn log(&self) -> &RequestLog {
        &self.inner.log
    }

    /// The options the server runs with.
    pub fn options(&self) -> &SimOptions {
        &self.inner.options
    }

    /// The `_id` of every team, in `teams.listAll` order.
    pub fn team_ids(&self) -> Vec<String> {
        self.org().teams.iter().map(|t| t.id.clone()).collect()
    }

    /// Deletes a team (no-op for unknown ids); later `teams.members` calls
    /// for it answer `team-does-not-exist`.
    pub fn remove_team(&self, team_id: &str) {
        self.org().teams.retain(|t| t.id != team_id);
    }

    /// Sets which roles hold `permission` (as an admin would in
    /// Administration > Permissions), e.g. `set_permission_roles(
    /// "api-bypass-rate-limit", &["bot", "app"])` to revoke the admins'
    /// bypass mid-sync. Takes effect on the next request.
    pub fn set_permission_roles(&self, permission: &str, roles: &[&str]) {
        self.org().permission_overrides.insert(
            permission.to_owned(),
            roles.iter().map(|r| (*r).to_owned()).collect(),
        );
    }

    /// Activates or deactivates a user (no-op for unknown ids), as an admin
    /// would in Administration > Users. Memberships are kept either way.
    pub fn set_user_active(&self, user_id: &str, active: bool) {
        if let Some(u) = self.org().users.iter_mut().find(|u| u.id == user_id) {
            u.active = active;
        }
    }

    /// Adds an active human user with role `user` and returns its `_id`.
    /// The username is used as given.
    pub fn add_user(&self, username: &str) -> String {
        let now = now_ms_i64();
        let mut org = self.org();
        let idx = org.add_user(username, now);
        org.users[idx].id.clone()
    }
}

/// Now, in epoch milliseconds on the system clock (record dates).
fn now_ms_i64() -> i64 {
    crate::common::system_millis()
}
