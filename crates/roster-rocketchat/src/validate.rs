//! `validate()`: reachability, credentials, the permissions a complete sync
//! needs (and why), whether the token is rate limited, and a plan of the
//! requests per endpoint bucket with the duration the limit implies.
//!
//! Validation's own requests go through the same client, so they count in
//! the same per-endpoint windows as the sync's (the header gate knows).

use std::collections::HashMap;
use std::time::Duration;

use roster_core::plan::{
    Advice, LatencyProbe, Planner, Rate, RateLimitChoice, Workload, listing_requests,
    sampled_listing_requests,
};
use roster_core::validate::RateLimitStatus;
use roster_core::{Check, CheckKind, Error, Paging, PagingLimits, Result, ValidationReport};

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

/// How the sync will page: `count` clamped as the server clamps it, or
/// everything at once.
fn paging(infinite: bool, count: u32) -> Paging {
    Paging::Offset {
        count: if infinite {
            0
        } else {
            count.clamp(1, ASSUMED_UPPER_COUNT)
        },
    }
}

/// What the sync will read, for `totals` paged as `paging`.
fn workload(t: &Totals, paging: Paging) -> Workload {
    let limits = PagingLimits::default();
    let listing = |rows| listing_requests(paging, &limits, rows);
    let mut w = Workload::new();
    for (name, count) in [("users", t.users), ("teams", t.teams), ("roles", t.roles)] {
        if let Some(count) = count {
            w = w.total(name, count);
        }
    }
    if let Some(users) = t.users {
        w = w.sequential(USERS_LIST, listing(users));
    }
    w = w.sequential(USERS_LIST_TEAMS, t.deactivated.unwrap_or(0));
    if t.roles.is_some() {
        w = w.sequential(ROLES_LIST, 1);
    }
    if let Some(teams) = t.teams {
        w = w.sequential(TEAMS_LIST_ALL, listing(teams)).concurrent(
            TEAMS_MEMBERS,
            sampled_listing_requests(paging, &limits, teams, &t.member_sample),
        );
    }
    w
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
    let latency = LatencyProbe::start(client);

    // Reachability: `info` needs no credentials and is sent once.
    match client.send_once(&INFO.call()).await {
        Ok(resp) => {
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
        Err(e) if e.is_unreachable() => return Err(e),
        Err(e) => report.push(Check::warn(
            CheckKind::Reachable,
            "reachable",
            format!("{e}; the server answered, continuing with authenticated calls"),
        )),
    }

    // Credentials.
    let me: MeDto = match client.json(&ME.call()).await {
        Ok(me) => me,
        Err(Error::Unauthorized { .. }) => {
            report.push(Check::fail(
                CheckKind::Authenticated,
                "authenticated",
                "token or user id invalid: /api/v1/me answered 401. Check the user id \
                 (sent as X-User-Id: the token owner's _id, not the username) and the \
                 personal access token (sent as X-Auth-Token); the user must be active",
            ));
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
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
    let perms = match client
        .json::<PermissionsDto>(&PERMISSIONS_LIST_ALL.call())
        .await
    {
        Ok(dto) => Some(Permissions {
            holders: dto
                .update
                .into_iter()
                .map(|p| (p.id, p.roles.unwrap_or_default()))
                .collect(),
            caller_roles: caller_roles.clone(),
        }),
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
    match c.roles().await {
        Ok(roles) => {
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
    let mut planner = Planner::new(client, &probed).latency(latency.mean(client));
    let permission_word = match (&perms, bypass_via.is_empty()) {
        (None, _) => format!("`{BYPASS}` could not be checked"),
        (Some(_), true) => format!("the caller's roles do not hold `{BYPASS}`"),
        (Some(_), false) => format!("role {} holds `{BYPASS}`", bypass_via.join(", ")),
    };
    let header_word = match (planner.server_heard(), planner.pace().server) {
        (Some(true), Some(rate)) => format!("responses carry X-RateLimit-* headers ({rate})"),
        (Some(true), None) => "responses carry X-RateLimit-* headers".to_owned(),
        (Some(false), _) => "responses carried no rate-limit headers".to_owned(),
        (None, _) => "no response told".to_owned(),
    };
    let limited = planner.server_limits();
    if limited {
        // Limited, but the headers did not say how: Rocket.Chat's stock.
        planner = planner.assume_server(Rate::new(DEFAULT_SERVER_LIMIT, DEFAULT_WINDOW));
    }
    report.rate_limit = Some(RateLimitStatus::new(
        limited,
        format!(
            "{permission_word}; {header_word}. Pacing: {}",
            planner.pacing()
        ),
    ));

    // The plan, and what would shorten it.
    let work = workload(&totals, paging(c.infinite_count, c.count));
    let mut plan = planner.plan(&work);
    plan.advice = planner.advice(
        &work,
        &format!("a workspace admin can raise the limit in {RATE_LIMITER_SETTINGS}"),
    );
    if limited && bypass_via.is_empty() {
        let unlimited = planner.pace().server(None).client(None);
        plan.advise(
            planner.plan_with(&work, unlimited).estimated(),
            |about_ms| Advice::RateLimit {
                why: format!(
                    "this token is rate limited; a bot account (bots hold `{BYPASS}` by default) \
                     granted `{VIEW_ALL_TEAMS}` and `{FULL_USER_INFO}` is not, and with it the \
                     default automatic pacing runs without a client quota"
                ),
                choices: vec![RateLimitChoice::Auto],
                about_ms,
            },
        );
    }
    if !c.infinite_count {
        let all_at_once = workload(&totals, paging(true, c.count));
        plan.advise(planner.plan(&all_at_once).estimated(), |about_ms| {
            Advice::InfiniteCount {
                why: "reads users.list and teams.listAll in one request each and every team's \
                      members in one request, if the server allows API_Allow_Infinite_Count"
                    .to_owned(),
                about_ms,
            }
        });
    }
    report.plan = Some(plan);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use roster_core::plan::Pace;
    use roster_core::ratelimit::BucketScope;

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

    const PAGED: Paging = Paging::Offset { count: 100 };

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
        assert_eq!(workload(&t, PAGED).requests_of(USERS_LIST_TEAMS), 37);
    }

    #[test]
    fn requests_follow_paging() {
        let w = workload(&totals(2004, 200, vec![30, 250]), PAGED);
        assert_eq!(w.requests_of(USERS_LIST), 21);
        assert_eq!(w.requests_of(ROLES_LIST), 1);
        assert_eq!(w.requests_of(TEAMS_LIST_ALL), 2);
        // One team in two needs 3 pages: 2 pages per team on average.
        assert_eq!(w.requests_of(TEAMS_MEMBERS), 400);
        // A count above the server's clamp plans with the clamp.
        let w = workload(&totals(2004, 200, vec![30, 250]), paging(false, 500));
        assert_eq!(w.requests_of(USERS_LIST), 21);
        let w = workload(&totals(2004, 200, vec![30, 250]), paging(true, 100));
        assert_eq!(w.requests_of(TEAMS_MEMBERS), 200);
        assert_eq!(w.requests_of(USERS_LIST), 1);
    }

    #[test]
    fn busiest_bucket_governs_the_estimate() {
        let minute = Rate::new(10, Duration::from_secs(60));
        let limited = Pace::unlimited(BucketScope::PerEndpoint)
            .server(Some(minute))
            .client(Some(minute));
        let w = workload(&totals(2004, 5000, vec![]), PAGED);
        let p = Planner::for_pace(limited).plan(&w);
        let members = p
            .buckets
            .iter()
            .find(|b| b.bucket.contains("teams.members"))
            .unwrap();
        assert_eq!(members.requests, 5000);
        assert_eq!(p.estimated(), Duration::from_secs(499 * 60));
        let free = Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint))
            .latency(Duration::from_millis(20))
            .plan(&w);
        // 5,000 member listings, the default concurrency at a time.
        let rounds = 5000u64.div_ceil(roster_core::DEFAULT_CONCURRENCY as u64);
        assert_eq!(free.estimated(), Duration::from_millis(20 * rounds));
    }
}
