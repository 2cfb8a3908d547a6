//! `validate()`: reachability, credentials, the permissions a complete sync
//! needs (and why), whether the token is rate limited, and a plan of the
//! requests per endpoint bucket with the duration the limit implies.
//!
//! Validation's own requests go through the same client, so they count in
//! the same per-endpoint windows as the sync's (the header gate knows).

use std::collections::HashMap;
use std::time::Duration;

use roster_core::validate::{BucketPlan, Plan, RateLimitStatus, format_duration};
use roster_core::{Check, Endpoint, Error, ErrorKind, Result, SyncOptions, ValidationReport};
use tokio::time::Instant;

use crate::RocketChatConnector;
use crate::endpoints::{
    INFO, InfoDto, ME, MeDto, PERMISSIONS_LIST_ALL, PermissionsDto, ROLES_LIST, TEAMS_LIST_ALL,
    TEAMS_MEMBERS, TeamsListDto, USERS_LIST, UsersListDto,
};

const VIEW_ALL_TEAMS: &str = "view-all-teams";
const FULL_USER_INFO: &str = "view-full-other-user-info";
const BYPASS: &str = "api-bypass-rate-limit";
const ROOM_ADMIN: &str = "view-room-administration";
const OTHER_CHANNELS: &str = "view-other-user-channels";

/// `API_Upper_Count_Limit`'s default: larger counts are clamped to it, so
/// plans assume it.
const ASSUMED_UPPER_COUNT: u32 = 100;
/// Teams read by the planning probe, to estimate member pages per team.
const TEAM_SAMPLE: u32 = 50;
/// Rocket.Chat's default window and limit, when nothing better is known.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
const DEFAULT_SERVER_LIMIT: u64 = 10;

/// Latency of the calls validation made.
#[derive(Default)]
struct Latency {
    total: Duration,
    calls: u32,
}

impl Latency {
    fn add(&mut self, since: Instant) {
        self.total += since.elapsed();
        self.calls += 1;
    }
    fn mean(&self) -> Duration {
        if self.calls == 0 {
            Duration::ZERO
        } else {
            self.total / self.calls
        }
    }
}

/// The cheap counts a plan is made of.
#[derive(Debug, Clone, Default)]
struct Totals {
    users: Option<u64>,
    teams: Option<u64>,
    roles: Option<u64>,
    /// `numberOfUsers` of the sampled teams (when the server reports it).
    member_sample: Vec<u64>,
}

/// How the sync will page.
#[derive(Debug, Clone, Copy)]
struct Shape {
    infinite: bool,
    count: u32,
}

impl Shape {
    fn pages(self, rows: u64) -> u64 {
        if self.infinite {
            1
        } else {
            let per = u64::from(self.count.clamp(1, ASSUMED_UPPER_COUNT));
            rows.div_ceil(per).max(1)
        }
    }
}

/// Requests per bucket the sync will make.
fn requests(t: &Totals, shape: Shape) -> Vec<(Endpoint, u64)> {
    let mut out = Vec::new();
    if let Some(users) = t.users {
        out.push((USERS_LIST, shape.pages(users)));
    }
    if t.roles.is_some() {
        out.push((ROLES_LIST, 1));
    }
    if let Some(teams) = t.teams {
        out.push((TEAMS_LIST_ALL, shape.pages(teams)));
        let per_team = if t.member_sample.is_empty() {
            1.0
        } else {
            let pages: u64 = t.member_sample.iter().map(|&n| shape.pages(n)).sum();
            pages as f64 / t.member_sample.len() as f64
        };
        out.push((TEAMS_MEMBERS, (teams as f64 * per_team).ceil() as u64));
    }
    out
}

/// The limit each bucket runs under: `(calls, window)` or unlimited.
#[derive(Debug, Clone, Copy)]
struct Limits {
    server: Option<(u64, Duration)>,
    client: Option<(u64, Duration)>,
}

impl Limits {
    fn effective(self) -> Option<(u64, Duration)> {
        match (self.server, self.client) {
            (Some((s, w)), Some((c, cw))) => Some((s.min(c), w.max(cw))),
            (s, c) => s.or(c),
        }
    }
}

/// A plan (without advice) for `totals` paged as `shape` under `limits`.
fn make_plan(t: &Totals, shape: Shape, limits: Limits, latency: Duration) -> Plan {
    let limit = limits.effective();
    let mut plan = Plan {
        totals: [("users", t.users), ("teams", t.teams), ("roles", t.roles)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
        ..Plan::default()
    };
    let latency_us = latency.as_micros() as u64;
    for (endpoint, n) in requests(t, shape) {
        let b = BucketPlan::new(endpoint.bucket(), n, limit);
        // The engine reads the members of this many teams at once.
        let parallel = if endpoint == TEAMS_MEMBERS {
            SyncOptions::default().concurrency.max(1) as u64
        } else {
            1
        };
        // Calls made after the last wait: the last window's share, or all.
        let tail = match b.limit {
            Some(l) if l > 0 => n - n.saturating_sub(1) / l * l,
            _ => n,
        };
        let ms = b.min_duration_ms + (latency_us * tail.div_ceil(parallel)).div_ceil(1000);
        plan.estimated_ms = plan.estimated_ms.max(ms);
        plan.buckets.push(b);
    }
    plan
}

/// The caller's roles that hold each permission.
struct Permissions {
    holders: HashMap<String, Vec<String>>,
    caller_roles: Vec<String>,
}

impl Permissions {
    /// The caller's roles holding `perm` (empty: not held).
    fn via(&self, perm: &str) -> Vec<&str> {
        self.holders
            .get(perm)
            .map(|roles| {
                roles
                    .iter()
                    .filter(|r| self.caller_roles.contains(r))
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn permission_check(perms: Option<&Permissions>, perm: &str, why: &str, fix: &str) -> Check {
    let name = format!("permission:{perm}");
    let Some(p) = perms else {
        return Check::fail(
            name,
            format!("could not read permissions.listAll, so `{perm}` cannot be verified. {why}"),
        );
    };
    let via = p.via(perm);
    if via.is_empty() {
        Check::fail(
            name,
            format!(
                "missing: none of the caller's roles ({}) holds `{perm}`. {why} {fix}",
                p.caller_roles.join(", ")
            ),
        )
    } else {
        Check::pass(name, format!("held via role {}", via.join(", ")))
    }
}

/// Runs every check and the plan.
pub(crate) async fn validate(c: &RocketChatConnector) -> Result<ValidationReport> {
    let client = &c.client;
    let source = client.config().source();
    let mut report = ValidationReport::new(crate::NAME, &source);
    let mut latency = Latency::default();

    // Reachability: `info` needs no credentials and is sent once.
    let t = Instant::now();
    match client.send_once(&INFO.call()).await {
        Ok(resp) => {
            latency.add(t);
            let version = serde_json::from_slice::<InfoDto>(&resp.body)
                .ok()
                .and_then(|i| i.version.or(i.info.and_then(|i| i.version)))
                .unwrap_or_else(|| "(version not reported)".to_owned());
            report.push(Check::pass(
                "reachable",
                format!("Rocket.Chat {version} at {source}"),
            ));
        }
        Err(e)
            if e.kind() == ErrorKind::Connection
                || matches!(e, Error::Timeout { .. } | Error::Transport { .. }) =>
        {
            return Err(e);
        }
        Err(e) => report.push(Check::warn(
            "reachable",
            format!("{e}; the server answered, continuing with authenticated calls"),
        )),
    }

    // Credentials.
    let t = Instant::now();
    let me: MeDto = match client.json(&ME.call()).await {
        Ok(me) => me,
        Err(Error::Unauthorized { .. }) => {
            report.push(Check::fail(
                "authenticated",
                "token or user id invalid: /api/v1/me answered 401. Check the user id \
                 (X-User-Id, BATON_ROCKETCHAT_USER_ID: the token owner's _id, not the username) \
                 and the personal access token (X-Auth-Token, BATON_ROCKETCHAT_AUTH_TOKEN); \
                 the user must be active",
            ));
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    latency.add(t);
    let caller_roles = me.roles.unwrap_or_default();
    report.push(Check::pass(
        "authenticated",
        format!(
            "as {} ({}), roles: {}",
            me.username.as_deref().unwrap_or("?"),
            me.id,
            caller_roles.join(", ")
        ),
    ));

    // Permissions.
    let t = Instant::now();
    let perms = match client
        .json::<PermissionsDto>(&PERMISSIONS_LIST_ALL.call())
        .await
    {
        Ok(dto) => {
            latency.add(t);
            Some(Permissions {
                holders: dto
                    .update
                    .into_iter()
                    .map(|p| (p.id, p.roles.unwrap_or_default()))
                    .collect(),
                caller_roles: caller_roles.clone(),
            })
        }
        Err(e) if e.is_fatal() => return Err(e),
        Err(e) => {
            report.push(Check::warn(
                "permissions",
                format!("cannot read the permission table: {e}"),
            ));
            None
        }
    };
    let teams_check = permission_check(
        perms.as_ref(),
        VIEW_ALL_TEAMS,
        "Without it teams.listAll is refused and teams.members silently returns an empty \
         member list (HTTP 200) for teams the caller is not in, so the snapshot would look \
         complete and be wrong.",
        "Grant it to one of the token user's roles (Administration > Permissions), or use a \
         bot account holding it.",
    );
    let can_list_teams = teams_check.status != roster_core::CheckStatus::Fail;
    report.push(teams_check);
    report.push(permission_check(
        perms.as_ref(),
        FULL_USER_INFO,
        "Without it users.list silently omits emails, roles and last login: every user would \
         appear without roles, so all role grants would be missing.",
        "Grant it to one of the token user's roles, or use an admin or a bot holding it.",
    ));
    if let Some(p) = &perms
        && can_list_teams
        && p.via(ROOM_ADMIN).is_empty()
        && p.via(OTHER_CHANNELS).is_empty()
    {
        report.push(Check::warn(
            format!("permission:{ROOM_ADMIN}"),
            format!(
                "the caller holds neither `{ROOM_ADMIN}` nor `{OTHER_CHANNELS}`; some server \
                 versions need one of them (besides `{VIEW_ALL_TEAMS}`) to list members of \
                 teams the caller is not in. If member counts look low, grant one."
            ),
        ));
    }

    // Totals, cheaply (these calls also reveal rate-limit headers).
    let mut totals = Totals::default();
    let t = Instant::now();
    match client
        .json::<UsersListDto>(&USERS_LIST.call().query("offset", 0).query("count", 1))
        .await
    {
        Ok(u) => {
            latency.add(t);
            totals.users = Some(u.total);
        }
        Err(e) => report.push(Check::warn(
            "plan:users",
            format!("cannot count users: {e}"),
        )),
    }
    if can_list_teams {
        let t = Instant::now();
        let sample = c.count.clamp(1, TEAM_SAMPLE);
        match client
            .json::<TeamsListDto>(
                &TEAMS_LIST_ALL
                    .call()
                    .query("offset", 0)
                    .query("count", sample),
            )
            .await
        {
            Ok(teams) => {
                latency.add(t);
                totals.teams = Some(teams.total);
                totals.member_sample = teams
                    .teams
                    .iter()
                    .filter_map(|t| t.number_of_users)
                    .collect();
            }
            Err(e) => report.push(Check::warn(
                "plan:teams",
                format!("cannot count teams: {e}"),
            )),
        }
    }
    let t = Instant::now();
    match c.roles().await {
        Ok(roles) => {
            latency.add(t);
            totals.roles = Some(roles.roles.len() as u64);
        }
        Err(e) => report.push(Check::warn("plan:roles", format!("cannot list roles: {e}"))),
    }

    // Rate limiting: the permission table, and the headers seen.
    let bypass_via: Vec<String> = perms
        .as_ref()
        .map(|p| p.via(BYPASS).into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let gate = client.gate();
    let keys: Vec<String> = [ME, PERMISSIONS_LIST_ALL, USERS_LIST, TEAMS_LIST_ALL]
        .iter()
        .map(|e| client.dialect().gate_key(&e.bucket()).to_owned())
        .collect();
    let heard: Vec<Option<bool>> = keys.iter().map(|k| gate.is_limited(k)).collect();
    let headers_limited = if heard.contains(&Some(true)) {
        Some(true)
    } else if heard.contains(&Some(false)) {
        Some(false)
    } else {
        None
    };
    let reported = keys.iter().filter_map(|k| gate.reported_limit(k)).min();
    let limited = headers_limited.unwrap_or(bypass_via.is_empty());
    let permission_word = match (&perms, bypass_via.is_empty()) {
        (None, _) => format!("`{BYPASS}` could not be checked"),
        (Some(_), true) => format!("the caller's roles do not hold `{BYPASS}`"),
        (Some(_), false) => format!("role {} holds `{BYPASS}`", bypass_via.join(", ")),
    };
    let header_word = match (headers_limited, reported) {
        (Some(true), Some(l)) => {
            format!("responses carry X-RateLimit-* headers (limit {l} calls per window)")
        }
        (Some(true), None) => "responses carry X-RateLimit-* headers".to_owned(),
        (Some(false), _) => "responses carried no rate-limit headers".to_owned(),
        (None, _) => "no response told".to_owned(),
    };
    report.rate_limit = Some(RateLimitStatus {
        limited,
        detail: format!("{permission_word}; {header_word}"),
    });

    // The plan, and what would shorten it.
    let quota = client
        .config()
        .rate_limit
        .map(|q| (u64::from(q.calls()), q.period()));
    let window = quota.map_or(DEFAULT_WINDOW, |(_, w)| w);
    let server = limited.then(|| {
        (
            reported.unwrap_or(quota.map_or(DEFAULT_SERVER_LIMIT, |q| q.0)),
            window,
        )
    });
    let limits = Limits {
        server,
        client: quota,
    };
    let shape = Shape {
        infinite: c.infinite_count,
        count: c.count,
    };
    let lat = latency.mean();
    let mut plan = make_plan(&totals, shape, limits, lat);
    let now = plan.estimated();
    let mut advise = |alt: Duration, text: String| {
        // Only advice that saves at least a tenth (and a second).
        if alt + now / 10 < now && now - alt >= Duration::from_secs(1) {
            plan.advice
                .push(format!("{text} (about {})", format_duration(alt)));
        }
    };
    let unlimited = Limits {
        server: None,
        client: None,
    };
    if limited && bypass_via.is_empty() {
        let alt = make_plan(&totals, shape, unlimited, lat).estimated();
        advise(
            alt,
            format!(
                "this token is rate limited; a bot account (bots hold `{BYPASS}` by default) \
                 granted `{VIEW_ALL_TEAMS}` and `{FULL_USER_INFO}` is not, and with it and \
                 --rate-limit off the sync would be much faster"
            ),
        );
    }
    if !limited && quota.is_some() {
        let alt = make_plan(&totals, shape, unlimited, lat).estimated();
        advise(
            alt,
            "the server does not limit this token, but the client quota still paces every \
             endpoint; --rate-limit off (or a higher quota) would be faster"
                .to_owned(),
        );
    }
    if !c.infinite_count {
        let infinite = Shape {
            infinite: true,
            ..shape
        };
        let alt = make_plan(&totals, infinite, limits, lat).estimated();
        advise(
            alt,
            "--infinite-count (count=0) reads users.list and teams.listAll in one request each \
             and every team's members in one request, if the server allows \
             API_Allow_Infinite_Count"
                .to_owned(),
        );
    }
    if limited && let Some((calls, w)) = limits.effective() {
        let raised = Limits {
            server: Some((calls * 3, w)),
            client: Some((calls * 3, w)),
        };
        let alt = make_plan(&totals, shape, raised, lat).estimated();
        advise(
            alt,
            format!(
                "a workspace admin can raise API_Enable_Rate_Limiter_Limit_Calls_Default; at \
                 {} calls per {} (and --rate-limit {}/{}s to match) the sync would be faster",
                calls * 3,
                format_duration(w),
                calls * 3,
                w.as_secs()
            ),
        );
    }
    report.plan = Some(plan);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(users: u64, teams: u64, sample: Vec<u64>) -> Totals {
        Totals {
            users: Some(users),
            teams: Some(teams),
            roles: Some(15),
            member_sample: sample,
        }
    }

    const PAGED: Shape = Shape {
        infinite: false,
        count: 100,
    };

    #[test]
    fn requests_follow_paging() {
        let r = requests(&totals(2004, 200, vec![30, 250]), PAGED);
        let get = |e: Endpoint| r.iter().find(|(x, _)| *x == e).unwrap().1;
        assert_eq!(get(USERS_LIST), 21);
        assert_eq!(get(ROLES_LIST), 1);
        assert_eq!(get(TEAMS_LIST_ALL), 2);
        // One team in two needs 3 pages: 2 pages per team on average.
        assert_eq!(get(TEAMS_MEMBERS), 400);
        let inf = Shape {
            infinite: true,
            count: 100,
        };
        let r = requests(&totals(2004, 200, vec![30, 250]), inf);
        assert_eq!(r.iter().find(|(e, _)| *e == TEAMS_MEMBERS).unwrap().1, 200);
        assert_eq!(r.iter().find(|(e, _)| *e == USERS_LIST).unwrap().1, 1);
    }

    #[test]
    fn busiest_bucket_governs_the_estimate() {
        let limits = Limits {
            server: Some((10, Duration::from_secs(60))),
            client: Some((10, Duration::from_secs(60))),
        };
        let p = make_plan(&totals(2004, 5000, vec![]), PAGED, limits, Duration::ZERO);
        let members = p
            .buckets
            .iter()
            .find(|b| b.bucket.contains("teams.members"))
            .unwrap();
        assert_eq!(members.requests, 5000);
        assert_eq!(p.estimated(), Duration::from_secs(499 * 60));
        let free = make_plan(
            &totals(2004, 5000, vec![]),
            PAGED,
            Limits {
                server: None,
                client: None,
            },
            Duration::from_millis(20),
        );
        // 5,000 member listings, the default concurrency at a time.
        let rounds = 5000u64.div_ceil(roster_core::DEFAULT_CONCURRENCY as u64);
        assert_eq!(free.estimated(), Duration::from_millis(20 * rounds));
    }

    #[test]
    fn a_higher_client_quota_does_not_beat_the_server() {
        let l = Limits {
            server: Some((10, Duration::from_secs(60))),
            client: Some((100, Duration::from_secs(60))),
        };
        assert_eq!(l.effective(), Some((10, Duration::from_secs(60))));
    }
}
