//! Mattermost simulator.
//!
//! [`MattermostSim`] serves the parts of the Mattermost REST API v4 that
//! roster's connector reads, over a seeded, deterministic organisation
//! generated from an [`OrgSpec`]:
//!
//! | endpoint | notes |
//! |---|---|
//! | `GET /api/v4/system/ping` | no auth |
//! | `GET /api/v4/users/me` | the caller |
//! | `GET /api/v4/users/{user_id}` | any user |
//! | `GET /api/v4/users?page=&per_page=` | ordered by username, includes deactivated users and bots |
//! | `GET /api/v4/users/stats` | any session; active accounts, bots included (deactivated users are not counted) |
//! | `GET /api/v4/teams?page=&per_page=&include_total_count=` | ordered by display name (ties by id, or per request with `SimOptions::with_unstable_tie_order`); admins see every team including archived ones, others only open teams |
//! | `GET /api/v4/teams/{team_id}` | one team |
//! | `GET /api/v4/teams/{team_id}/members?page=&per_page=` | ordered by user id, removed members hidden; a non-admin must be a member (403 otherwise, open team or not) |
//! | `GET /api/v4/reports/users?page_size=&sort_column=&sort_direction=&from_column_value=&from_id=` | admin only; `page_size` 1..=100 (else 400); keyset-paged by `(sort_column, id)`; excludes bots; `last_login` omitted when 0 |
//! | `POST /api/v4/users/status/ids` | JSON array of ids (no cap) → statuses with `last_activity_at`; users who never connected are left out |
//! | `GET /api/v4/license/client` | [`SimOptions::license`] as a string map (`SkuShortName` for admins only) and `X-Version-Id` |
//!
//! Generated dates end at [`SimOptions::now`] (default: the start of the current
//! UTC day), so activity looks recent; fix `now` for byte-identical snapshots.
//!
//! Page-based listings follow Mattermost: `page` is 0-based, `per_page`
//! defaults to 60 and is silently capped to 200, unparsable or negative
//! values fall back to the defaults, `per_page=0` answers `[]`. Other query
//! filters (`in_team`, `active`, …) are ignored. Team and user ids in paths
//! must look like Mattermost ids (26 chars of `[a-z0-9]`), else 400.
//!
//! Like Mattermost, user objects omit `is_bot` when it is false.
//!
//! Errors have Mattermost's JSON shape
//! (`{"id","message","detailed_error","request_id","status_code"}`); the
//! rate limiter's 429 is plain text `limit exceeded`. Every request, including
//! rejected and faulted ones, is recorded in [`MattermostSim::log`].
//!
//! ```no_run
//! # async fn demo() {
//! use roster_sim::mattermost::{MattermostSim, OrgSpec};
//! let sim = MattermostSim::new(OrgSpec::small());
//! let server = sim.spawn().await;
//! let truth = sim.ground_truth();
//! // point a connector at server.base_url() with MattermostSim::ADMIN_TOKEN
//! # let _ = (server, truth);
//! # }
//! ```

mod org;
mod ratelimit;
mod routes;
mod server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use roster_core::ResourceType;
use roster_core::testkit::Contract;

use crate::{Faults, GroundTruth, RequestLog, SimServer};
use org::Org;
use ratelimit::Limiter;
pub use server::SimLicense;

/// What the Mattermost connector promises about its snapshots: the header
/// name `mattermost`, and the profile keys of users and teams.
pub const CONTRACT: Contract = Contract::new(
    "mattermost",
    &[
        (
            ResourceType::User,
            &["system_roles", "auth_service", "position"],
        ),
        (ResourceType::Team, &["archived", "team_type"]),
    ],
);

/// The shape of a generated organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgSpec {
    /// Number of user accounts, including the admin, the plain user and the
    /// bot behind the simulator's tokens (at least 3 are always generated).
    pub users: usize,
    /// Number of teams.
    pub teams: usize,
    /// Average number of members per team (exponential spread, at least 1).
    pub avg_members: usize,
    /// Seed of the generator: equal specs generate equal organisations.
    pub seed: u64,
}

impl OrgSpec {
    /// A small organisation: 25 users, 6 teams, about 8 members each, seed 1.
    pub fn small() -> Self {
        Self {
            users: 25,
            teams: 6,
            avg_members: 8,
            seed: 1,
        }
    }
}

/// A Mattermost-style token bucket (`RateLimitSettings`), keyed by client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Tokens refilled per second (`PerSec`), treated as at least 1.
    pub per_sec: u32,
    /// `MaxBurst`: `max_burst + 1` calls pass at once, and that number is
    /// the `X-RateLimit-Limit` header (as Mattermost's `throttled` limiter
    /// reports it).
    pub max_burst: u32,
}

impl Default for RateLimitSpec {
    /// Mattermost's defaults: 10 per second, burst 100.
    fn default() -> Self {
        Self {
            per_sec: 10,
            max_burst: 100,
        }
    }
}

/// Server settings of the simulator.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Rate limiting; `None` (the default, as in Mattermost) = off.
    pub rate_limit: Option<RateLimitSpec>,
    /// `EnableUserAccessTokens` (default true). When false the admin and
    /// user tokens (personal access tokens) answer 401; the bot token works.
    pub personal_access_tokens: bool,
    /// `0` = no big team; else team #0 gets exactly this many visible members
    /// (the user count is raised to at least this number).
    pub big_team_members: usize,
    /// What `GET /api/v4/license/client` reports (default: an Enterprise
    /// licence for 500 users).
    pub license: SimLicense,
    /// The organisation's "now" in unix ms: generated dates end there.
    /// `None` (the default): the start of the current UTC day, so equal
    /// specs give equal organisations all day.
    pub now: Option<i64>,
    /// `0` (the default) keeps the generated team display names; else about
    /// this percentage of teams share their display name with another team
    /// and all other display names are unique.
    pub shared_team_names_percent: u32,
    /// `Some(seed)`: teams sharing a display name are listed by `/teams` in
    /// a different order on each request, as a database top-N sort does
    /// (deterministic from the seed and a request counter). `None` (the
    /// default): ties are ordered by id.
    pub unstable_tie_order: Option<u64>,
    /// `/reports/users` rows never carry `last_login` (default false), as
    /// on servers that lay the report out differently.
    pub legacy_report_layout: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            rate_limit: None,
            personal_access_tokens: true,
            big_team_members: 0,
            license: SimLicense::default(),
            now: None,
            shared_team_names_percent: 0,
            unstable_tie_order: None,
            legacy_report_layout: false,
        }
    }
}

impl SimOptions {
    /// Turns rate limiting on.
    pub fn with_rate_limit(mut self, per_sec: u32, max_burst: u32) -> Self {
        self.rate_limit = Some(RateLimitSpec { per_sec, max_burst });
        self
    }
    /// Sets `EnableUserAccessTokens`.
    pub fn with_personal_access_tokens(mut self, enabled: bool) -> Self {
        self.personal_access_tokens = enabled;
        self
    }
    /// Sets what `/api/v4/license/client` reports.
    pub fn with_license(mut self, license: SimLicense) -> Self {
        self.license = license;
        self
    }
    /// Fixes the organisation's "now" (unix ms), for deterministic dates.
    pub fn with_now(mut self, now_ms: i64) -> Self {
        self.now = Some(now_ms);
        self
    }
    /// Lays `/reports/users` rows out without `last_login`.
    pub fn with_legacy_report_layout(mut self, yes: bool) -> Self {
        self.legacy_report_layout = yes;
        self
    }
    /// Gives team #0 exactly `members` members.
    pub fn with_big_team(mut self, members: usize) -> Self {
        self.big_team_members = members;
        self
    }
    /// Makes about `percent`% of teams share a display name (see
    /// [`Self::shared_team_names_percent`]).
    pub fn with_shared_team_names(mut self, percent: u32) -> Self {
        self.shared_team_names_percent = percent;
        self
    }
    /// Lists teams sharing a display name in a per-request order seeded by
    /// `seed` (see [`Self::unstable_tie_order`]).
    pub fn with_unstable_tie_order(mut self, seed: u64) -> Self {
        self.unstable_tie_order = Some(seed);
        self
    }
}

struct Inner {
    org: Mutex<Org>,
    options: SimOptions,
    limiter: Option<Limiter>,
    faults: Faults,
    log: RequestLog,
}

/// A simulated Mattermost server. Cloning shares the state.
#[derive(Clone)]
pub struct MattermostSim {
    inner: Arc<Inner>,
}

impl fmt::Debug for MattermostSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let org = self.org();
        f.debug_struct("MattermostSim")
            .field("users", &org.users.len())
            .field("teams", &org.team_order.len())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl MattermostSim {
    /// Token of a system admin (roles `system_user system_admin`); a
    /// personal access token.
    pub const ADMIN_TOKEN: &'static str = "mm-admin-token";
    /// Token of a plain `system_user` (a personal access token). The user is
    /// a member of team #0 (open) and team #1 (invite-only) and of no other
    /// invite-only team.
    pub const USER_TOKEN: &'static str = "mm-user-token";
    /// Token of a bot account that is a system admin (bot tokens are not
    /// personal access tokens).
    pub const BOT_TOKEN: &'static str = "mm-bot-token";

    /// A simulator of the organisation `spec` with default options.
    pub fn new(spec: OrgSpec) -> Self {
        Self::with_options(spec, SimOptions::default())
    }

    /// A simulator of the organisation `spec` with `options`.
    pub fn with_options(spec: OrgSpec, options: SimOptions) -> Self {
        let mut org = Org::generate(&spec, options.big_team_members);
        server::make_recent(
            &mut org,
            options
                .now
                .unwrap_or_else(|| now_ms().div_euclid(86_400_000) * 86_400_000),
        );
        if options.shared_team_names_percent > 0 {
            org.share_team_names(options.shared_team_names_percent, spec.seed);
        }
        if let Some(seed) = options.unstable_tie_order {
            org.reorder_ties_per_request(seed);
        }
        Self {
            inner: Arc::new(Inner {
                org: Mutex::new(org),
                limiter: options.rate_limit.map(Limiter::new),
                options,
                faults: Faults::default(),
                log: RequestLog::default(),
            }),
        }
    }

    /// The axum router answering the API.
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves [`Self::router`] on an ephemeral loopback port.
    pub async fn spawn(&self) -> SimServer {
        SimServer::spawn(self.router()).await
    }

    /// What a correct sync of the current state produces.
    pub fn ground_truth(&self) -> GroundTruth {
        self.org().ground_truth()
    }

    /// The fault injector.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Every request answered so far.
    pub fn log(&self) -> &RequestLog {
        &self.inner.log
    }

    /// Creates an active user with no teams (a taken username gets a numeric
    /// suffix); returns its id.
    pub fn add_user(&self, username: &str) -> String {
        let now = now_ms();
        self.org().add_user(username, now)
    }

    /// Deletes a team outright: it disappears from listings and answers 404.
    /// Unknown ids are ignored.
    pub fn remove_team(&self, team_id: &str) {
        self.org().remove_team(team_id);
    }

    /// Ids of the current teams in generation order (team #0 first).
    pub fn team_ids(&self) -> Vec<String> {
        self.org().team_ids()
    }

    /// Number of user accounts (all kinds).
    pub fn user_count(&self) -> usize {
        self.org().users.len()
    }

    fn org(&self) -> MutexGuard<'_, Org> {
        self.inner
            .org
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Now, in epoch milliseconds on the system clock (record dates).
fn now_ms() -> i64 {
    crate::common::system_millis()
}
