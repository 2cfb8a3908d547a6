//! `validate()`: reachability, credentials, the permissions a complete sync
//! needs (and why), whether the token is rate limited, and a plan of the
//! requests per endpoint bucket with the duration the limit implies.
//!
//! Validation's own requests go through the same client, so they count in
//! the same per-endpoint windows as the sync's (the header gate knows).

use std::collections::HashMap;
use std::time::Duration;

use roster_core::validate::{
    Advice, BucketPlan, Plan, RateLimitChoice, RateLimitStatus, format_duration,
};
use roster_core::{
    Check, CheckKind, Endpoint, Error, ErrorKind, RateLimitMode, Result, SyncOptions,
    ValidationReport,
};
use tokio::time::Instant;

use crate::RocketChatConnector;
use crate::endpoints::{
    INFO, InfoDto, ME, MeDto, PERMISSIONS_LIST_ALL, PermissionsDto, ROLES_LIST, TEAMS_LIST_ALL,
    TEAMS_MEMBERS, TeamsListDto, USERS_LIST, USERS_LIST_TEAMS, UserDto, UsersListDto,
};

const VIEW_ALL_TEAMS: &str = "view-all-teams";
const FULL_USER_INFO: &str = "view-full-other-user-info";
const BYPASS: &str = "api-bypass-rate-limit";
const VIEW_D_ROOM: &str = "view-d-room";
/// Where an admin raises the limit, and the settings' ids.
const RATE_LIMITER_SETTINGS: &str = "Administration > Workspace > Settings > Rate Limiter \
    (API_Enable_Rate_Limiter_Limit_Calls_Default, API_Enable_Rate_Limiter_Limit_Time_Default)";

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
    /// Deactivated users (one `users.listTeams` lookup each), estimated.
    deactivated: Option<u64>,
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
    if let Some(n) = t.deactivated.filter(|&n| n > 0) {
        out.push((USERS_LIST_TEAMS, n));
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

/// Users read to count the deactivated ones.
const DEACTIVATED_SAMPLE: u32 = 100;

/// How many of `total` users are deactivated, from the first page of
/// `users.list` sorted by `active`: exact when the page holds an active
/// user after the inactive ones; at least the page when it holds none; a
/// proportion of `total` when the server did not sort.
fn deactivated_estimate(page: &[UserDto], total: u64) -> u64 {
    let inactive = page.iter().filter(|u| u.active == Some(false)).count() as u64;
    let sorted = page
        .iter()
        .skip_while(|u| u.active == Some(false))
        .all(|u| u.active != Some(false));
    if page.is_empty() || inactive == 0 {
        0
    } else if sorted {
        inactive
    } else {
        (inactive as f64 / page.len() as f64 * total as f64).round() as u64
    }
}

/// The limit each bucket runs under: `(calls, window)` or unlimited.
#[derive(Debug, Clone, Copy)]
struct Limits {
    server: Option<(u64, Duration)>,
    client: Option<(u64, Duration)>,
}

impl Limits {
    /// The slower of the two (calls per second), which paces the sync.
    fn effective(self) -> Option<(u64, Duration)> {
        let rate = |(n, w): (u64, Duration)| n as f64 / w.as_secs_f64().max(1e-9);
        match (self.server, self.client) {
            (Some(s), Some(c)) => Some(if rate(c) < rate(s) { c } else { s }),
            (s, c) => s.or(c),
        }
    }
}

/// A plan (without advice) for `totals` paged as `shape` under `limits`.
fn make_plan(t: &Totals, shape: Shape, limits: Limits, latency: Duration) -> Plan {
    let limit = limits.effective();
    let mut plan = Plan::default().totals(
        [("users", t.users), ("teams", t.teams), ("roles", t.roles)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    );
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
            CheckKind::Permission,
            name,
            format!("could not read permissions.listAll, so `{perm}` cannot be verified. {why}"),
        );
    };
    let via = p.via(perm);
    if via.is_empty() {
        Check::fail(
            CheckKind::Permission,
            name,
            format!(
                "missing: none of the caller's roles ({}) holds `{perm}`. {why} {fix}",
                p.caller_roles.join(", ")
            ),
        )
    } else {
        Check::pass(
            CheckKind::Permission,
            name,
            format!("held via role {}", via.join(", ")),
        )
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
                .and_then(InfoDto::version)
                .unwrap_or_else(|| "(version not reported)".to_owned());
            report.push(Check::pass(
                CheckKind::Reachable,
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
            CheckKind::Reachable,
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
                CheckKind::Authenticated,
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
        CheckKind::Authenticated,
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
                CheckKind::Permission,
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
    report.push(permission_check(
        perms.as_ref(),
        VIEW_D_ROOM,
        "users.list answers 403 without it (apps/meteor/app/api/server/v1/users.ts), so no \
         user could be read.",
        "It is held by the user, bot and admin roles by default; restore it for one of the \
         token user's roles (Administration > Permissions).",
    ));
    // In auto mode a bypassing token runs without a client quota; tell the
    // client before the totals below are read.
    let bypass_known = perms.as_ref().is_some_and(|p| !p.via(BYPASS).is_empty());
    client.set_bypasses_rate_limit(bypass_known);

    // Totals, cheaply (these calls also reveal rate-limit headers).
    let mut totals = Totals::default();
    let t = Instant::now();
    // Deactivated users first (`sort={"active":1}`), so one page tells
    // how many `users.listTeams` lookups the sync will make.
    match client
        .json::<UsersListDto>(
            &USERS_LIST
                .call()
                .query("offset", 0)
                .query("count", DEACTIVATED_SAMPLE)
                .query("sort", r#"{"active":1}"#),
        )
        .await
    {
        Ok(u) => {
            latency.add(t);
            totals.users = Some(u.total);
            totals.deactivated = Some(deactivated_estimate(&u.users, u.total));
        }
        Err(e) => report.push(Check::warn(
            CheckKind::Plan,
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
                CheckKind::Plan,
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
        Err(e) => report.push(Check::warn(
            CheckKind::Plan,
            "plan:roles",
            format!("cannot list roles: {e}"),
        )),
    }

    // Rate limiting: the permission table, and the headers seen.
    let bypass_via: Vec<String> = perms
        .as_ref()
        .map(|p| p.via(BYPASS).into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    let probed = [
        ME,
        PERMISSIONS_LIST_ALL,
        USERS_LIST,
        TEAMS_LIST_ALL,
        ROLES_LIST,
    ];
    let heard: Vec<Option<bool>> = probed.iter().map(|e| client.is_limited(e)).collect();
    let headers_limited = if heard.contains(&Some(true)) {
        Some(true)
    } else if heard.contains(&Some(false)) {
        Some(false)
    } else {
        None
    };
    let reported = probed.iter().filter_map(|e| client.reported_limit(e)).min();
    // The window: the longest time to a reset announced (a call that opened
    // a window sees all of it), in whole seconds.
    let reported_window = probed
        .iter()
        .filter_map(|e| client.reported_window(e))
        .max()
        .map(|w| Duration::from_secs(w.as_millis().div_ceil(1000).max(1) as u64));
    let limited = headers_limited.unwrap_or(bypass_via.is_empty());
    let permission_word = match (&perms, bypass_via.is_empty()) {
        (None, _) => format!("`{BYPASS}` could not be checked"),
        (Some(_), true) => format!("the caller's roles do not hold `{BYPASS}`"),
        (Some(_), false) => format!("role {} holds `{BYPASS}`", bypass_via.join(", ")),
    };
    let header_word = match (headers_limited, reported, reported_window) {
        (Some(true), Some(l), Some(w)) => format!(
            "responses carry X-RateLimit-* headers ({l} calls per {})",
            format_duration(w)
        ),
        (Some(true), Some(l), None) => {
            format!("responses carry X-RateLimit-* headers (limit {l} calls per window)")
        }
        (Some(true), None, _) => "responses carry X-RateLimit-* headers".to_owned(),
        (Some(false), _, _) => "responses carried no rate-limit headers".to_owned(),
        (None, _, _) => "no response told".to_owned(),
    };

    // The pacing the sync will run with, and why.
    let mode = client.config().rate_limit_mode();
    let server = limited.then(|| {
        (
            reported.unwrap_or(DEFAULT_SERVER_LIMIT),
            reported_window.unwrap_or(DEFAULT_WINDOW),
        )
    });
    let (client_quota, pacing) = match mode {
        RateLimitMode::Fixed(q) => (
            Some((u64::from(q.calls()), q.period())),
            format!(
                "fixed: a client quota of {} calls per {} per endpoint",
                q.calls(),
                format_duration(q.period())
            ),
        ),
        RateLimitMode::Auto { safe } => match (headers_limited, bypass_via.is_empty()) {
            (Some(true), _) => (
                None,
                "auto: paced by the server's X-RateLimit-* headers (its own numbers, per \
                 endpoint), no client quota"
                    .to_owned(),
            ),
            (Some(false) | None, false) => (
                None,
                format!(
                    "auto: no client quota, because the token holds `{BYPASS}` and gets no \
                     rate-limit headers (headers or a 429 later switch to the server's pace at once)"
                ),
            ),
            (_, true) => (
                Some((u64::from(safe.calls()), safe.period())),
                format!(
                    "auto: Rocket.Chat's stock {} calls per {} per endpoint, because the \
                     server's limit is not known (no headers, no `{BYPASS}`)",
                    safe.calls(),
                    format_duration(safe.period())
                ),
            ),
        },
        _ => (None, "off: no client quota".to_owned()),
    };
    report.rate_limit = Some(RateLimitStatus::new(
        limited,
        format!("{permission_word}; {header_word}. Pacing: {pacing}"),
    ));

    // The plan, and what would shorten it.
    let limits = Limits {
        server,
        client: client_quota,
    };
    let shape = Shape {
        infinite: c.infinite_count,
        count: c.count,
    };
    let lat = latency.mean();
    let mut plan = make_plan(&totals, shape, limits, lat);
    let now = plan.estimated();
    let mut advise = |alt: Duration, advice: &dyn Fn(u64) -> Advice| {
        // Only advice that saves at least a tenth (and a second).
        if alt + now / 10 < now && now - alt >= Duration::from_secs(1) {
            plan.advice.push(advice(alt.as_millis() as u64));
        }
    };
    let unlimited = Limits {
        server: None,
        client: None,
    };
    if limited && bypass_via.is_empty() {
        let alt = make_plan(&totals, shape, unlimited, lat).estimated();
        advise(alt, &|about_ms| Advice::RateLimit {
            why: format!(
                "this token is rate limited; a bot account (bots hold `{BYPASS}` by default) \
                 granted `{VIEW_ALL_TEAMS}` and `{FULL_USER_INFO}` is not, and with it the \
                 default automatic pacing runs without a client quota"
            ),
            choices: vec![RateLimitChoice::Auto],
            about_ms,
        });
    }
    if !limited && client_quota.is_some() {
        let alt = make_plan(&totals, shape, unlimited, lat).estimated();
        advise(alt, &|about_ms| Advice::RateLimit {
            why: "the server does not limit this token, but the client quota still paces every \
                  endpoint"
                .to_owned(),
            choices: vec![RateLimitChoice::Auto, RateLimitChoice::Off],
            about_ms,
        });
    }
    if !c.infinite_count {
        let infinite = Shape {
            infinite: true,
            ..shape
        };
        let alt = make_plan(&totals, infinite, limits, lat).estimated();
        advise(alt, &|about_ms| Advice::InfiniteCount {
            why: "reads users.list and teams.listAll in one request each and every team's \
                  members in one request, if the server allows API_Allow_Infinite_Count"
                .to_owned(),
            about_ms,
        });
    }
    match (limited, limits.effective(), limits.server) {
        // The server's limit paces: an admin can raise it. Never advise a
        // limit lower than the one in force: three times the calls in the
        // same window.
        (true, Some((calls, w)), Some(server)) if server == (calls, w) => {
            let raised_calls = calls * 3;
            let fixed = matches!(mode, RateLimitMode::Fixed(_));
            let raised = Limits {
                server: Some((raised_calls, w)),
                // A fixed quota would be raised to match; auto and off
                // follow the server.
                client: fixed.then_some((raised_calls, w)),
            };
            let alt = make_plan(&totals, shape, raised, lat).estimated();
            advise(alt, &|about_ms| Advice::RaiseServerLimit {
                how: format!("a workspace admin can raise the limit in {RATE_LIMITER_SETTINGS}"),
                calls: raised_calls,
                window_ms: w.as_millis() as u64,
                fixed_quota: fixed,
                about_ms,
            });
        }
        // The client quota is slower than the server's limit.
        (true, Some((calls, w)), Some((s_calls, s_w))) => {
            let follow = Limits {
                server: limits.server,
                client: None,
            };
            let alt = make_plan(&totals, shape, follow, lat).estimated();
            advise(alt, &|about_ms| Advice::RateLimit {
                why: format!(
                    "the client quota ({calls} calls per {}) is slower than the server's limit \
                     ({s_calls} calls per {}); automatic pacing follows the server's own numbers",
                    format_duration(w),
                    format_duration(s_w)
                ),
                choices: vec![RateLimitChoice::Auto],
                about_ms,
            });
        }
        _ => {}
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
            deactivated: None,
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
    fn deactivated_users_are_counted_from_a_sorted_page() {
        let page = |actives: &[bool]| -> Vec<UserDto> {
            actives
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    serde_json::from_value(serde_json::json!({"_id": format!("u{i}"), "active": a}))
                        .unwrap()
                })
                .collect()
        };
        // Sorted, an active user after the inactive ones: exact.
        assert_eq!(
            deactivated_estimate(&page(&[false, false, true, true]), 500),
            2
        );
        // Not sorted: a proportion of the total.
        assert_eq!(
            deactivated_estimate(&page(&[true, false, true, true]), 400),
            100
        );
        assert_eq!(deactivated_estimate(&page(&[true, true]), 400), 0);
        assert_eq!(deactivated_estimate(&[], 400), 0);
        let mut t = totals(2004, 10, vec![]);
        t.deactivated = Some(37);
        let r = requests(&t, PAGED);
        assert_eq!(
            r.iter().find(|(e, _)| *e == USERS_LIST_TEAMS).unwrap().1,
            37
        );
    }

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
        // A server allowing 10 per second is not paced by a window of 60 s:
        // a client quota of 100 per minute is then the slower one.
        let l = Limits {
            server: Some((10, Duration::from_secs(1))),
            client: Some((100, Duration::from_secs(60))),
        };
        assert_eq!(l.effective(), Some((100, Duration::from_secs(60))));
    }
}
