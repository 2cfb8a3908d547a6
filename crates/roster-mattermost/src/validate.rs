//! `validate()`: reachable, authenticated, System Admin, enrichment
//! available, rate-limit status, and a plan of the sync's requests.

use std::sync::OnceLock;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use roster_core::plan::{
    Advice, LatencyProbe, Plan, Planner, Rate, Workload, listing_requests, sampled_listing_requests,
};
use roster_core::validate::{RateLimitStatus, format_duration};
use roster_core::{
    Check, CheckKind, Error, ErrorKind, HttpClient, PagingLimits, Result, ValidationReport,
};

use crate::MattermostConfig;
use crate::endpoints::{
    ME, PING, REPORT_PAGE_SIZE, REPORTS_USERS, STATUS_IDS, StatusDto, TEAM_MEMBERS, TEAM_STATS,
    TEAMS, TeamStatsDto, TeamsWithCount, USER_STATS, USERS, UserDto, UserReportDto, UserStatsDto,
    paging,
};

/// Why System Admin matters, in every message that names it.
pub(crate) const WHY_ADMIN: &str = "without it Mattermost silently returns only open teams, so the sync would miss invite-only (private) teams and their members";

pub(crate) async fn validate(
    client: &HttpClient,
    config: &MattermostConfig,
    caller_is_admin: &OnceLock<bool>,
) -> Result<ValidationReport> {
    let source = client.config().source();
    let mut report = ValidationReport::new(crate::NAME, &source);
    let latency = LatencyProbe::start(client);

    // 1. Reachable (no auth, no retry).
    match client.send_once(&PING.call()).await {
        Ok(_) => report.push(Check::pass(
            CheckKind::Reachable,
            "reachable",
            format!("{source} answers {}", PING.path),
        )),
        Err(e) if e.is_unreachable() => return Err(e),
        Err(e) if e.is_rate_limited() => report.push(Check::pass(
            CheckKind::Reachable,
            "reachable",
            format!("{source} answers (rate limited right now)"),
        )),
        Err(e) => {
            report.push(Check::fail(CheckKind::Reachable, "reachable",
                format!(
                    "{source} does not answer the Mattermost ping ({e}). Check that the base URL is the Mattermost Site URL, including any subpath such as https://host/chat"
                ),
            ));
            return Ok(report);
        }
    }

    // 2. Authenticated.
    let me: UserDto = match client.json(&ME.call()).await {
        Ok(me) => me,
        // Only a refusal (401/403) says anything about the credentials; a
        // 5xx, a 429 after retries or a garbled body is a server failure.
        Err(e) if e.is_unreachable() || e.kind() != ErrorKind::Auth => return Err(e),
        Err(e) => {
            report.push(Check::fail(
                CheckKind::Authenticated,
                "authenticated",
                auth_failure(&e),
            ));
            return Ok(report);
        }
    };
    let kind = if me.is_bot { "bot" } else { "user" };
    report.push(Check::pass(
        CheckKind::Authenticated,
        "authenticated",
        format!(
            "as @{} ({kind}; system roles: {})",
            me.username,
            me.roles.trim()
        ),
    ));

    // 3. System Admin (remembered for the teams listing's guard).
    let _ = caller_is_admin.set(me.is_system_admin());
    if !me.is_system_admin() {
        report.push(Check::fail(CheckKind::Permission, "permission:manage_system",
            format!(
                "token lacks System Admin (manage_system): @{} has only `{}`; {WHY_ADMIN}. Use a personal access token of a System Admin, or a bot account with the system_admin role",
                me.username,
                me.roles.trim()
            ),
        ));
        report.rate_limit = rate_limit_status(client);
        return Ok(report);
    }
    report.push(Check::pass(CheckKind::Permission, "permission:manage_system",
        format!(
            "@{} is a System Admin (manage_system): every team is visible, including invite-only and archived ones",
            me.username
        ),
    ));

    // 4. Enrichment (optional data: a warning at worst).
    if config.enriches() {
        enrichment_checks(client, &me, &mut report).await;
    }

    // 5. Plan.
    report.rate_limit = rate_limit_status(client);
    match plan(client, config, &latency).await {
        Ok((plan, note)) => {
            report.push(Check::pass(CheckKind::Plan, "plan", note));
            report.plan = Some(plan);
        }
        Err(e) if e.is_unreachable() => return Err(e),
        Err(e) => report.push(Check::warn(
            CheckKind::Plan,
            "plan",
            format!("cannot read the totals to plan the sync: {e}"),
        )),
    }
    Ok(report)
}

/// The failed `authenticated` check's detail.
fn auth_failure(e: &Error) -> String {
    match e {
        Error::Unauthorized { message, .. } => {
            let lower = message.to_lowercase();
            let pats_off = lower.contains("access token")
                && (lower.contains("disabled") || lower.contains("not enabled"))
                || lower.contains("enableuseraccesstokens");
            if pats_off {
                format!(
                    "personal access tokens are disabled on this server (HTTP 401: {message}). Enable them (System Console → Integrations → Integration Management → Enable Personal Access Tokens) or use a bot token"
                )
            } else {
                format!(
                    "token invalid or expired (HTTP 401: {message}). Create a new personal access token or bot token of a System Admin. If it is a personal access token that should work, check that the server allows them (System Console → Integrations → Integration Management → Enable Personal Access Tokens): when they are disabled, Mattermost answers exactly like this; enable them or use a bot token"
                )
            }
        }
        Error::Forbidden { message, .. } => format!(
            "the token was accepted but may not read its own account at {} (HTTP 403: {message}). The token may be restricted (OAuth scopes, MFA, a guest account); use a personal access token or bot token of a System Admin",
            ME.path
        ),
        other => format!("cannot read {}: {other}", ME.path),
    }
}

async fn enrichment_checks(client: &HttpClient, me: &UserDto, report: &mut ValidationReport) {
    let reports = REPORTS_USERS
        .call()
        .query("page_size", 1)
        .query("sort_column", "Username")
        .query("sort_direction", "asc");
    match client.json::<Vec<UserReportDto>>(&reports).await {
        Ok(_) => report.push(Check::pass(CheckKind::Enrichment, "enrichment:last_login",
            format!("{} answers: users get last_login_at", REPORTS_USERS.path),
        )),
        Err(e) => report.push(Check::warn(CheckKind::Enrichment, "enrichment:last_login",
            format!(
                "last login is unavailable ({e}); users will be written with last_login_at null (the sync stays complete)"
            ),
        )),
    }
    let ids = [me.id.as_str()];
    let statuses = match STATUS_IDS.call().json(&ids) {
        Ok(call) => client.json::<Vec<StatusDto>>(&call).await,
        Err(e) => Err(e),
    };
    match statuses {
        Ok(_) => report.push(Check::pass(CheckKind::Enrichment, "enrichment:last_activity",
            format!("{} answers: users get last_activity_at", STATUS_IDS.path),
        )),
        Err(e) => report.push(Check::warn(CheckKind::Enrichment, "enrichment:last_activity",
            format!(
                "last activity is unavailable ({e}); users will be written with last_activity_at null (the sync stays complete)"
            ),
        )),
    }
}

/// What the server's headers say about limits (`limited` is the server's
/// verdict; a client-side quota is only named in the detail).
fn rate_limit_status(client: &HttpClient) -> Option<RateLimitStatus> {
    let planner = planner(client);
    let limited = planner.server_heard()?;
    let detail = match planner.pace().server {
        // Mattermost's X-RateLimit-Limit is the burst (MaxBurst + 1), not
        // the rate; the rate is not reported anywhere.
        Some(burst) if limited => format!(
            "the server sends X-RateLimit-* headers: bursts of {} requests per client (Mattermost RateLimitSettings, keyed by client IP by default); the sustained rate (PerSec) is not reported, and the plan assumes {} requests/s",
            burst.calls, burst.calls
        ),
        _ if limited => {
            "the server sends X-RateLimit-* headers (Mattermost RateLimitSettings)".to_owned()
        }
        _ => "no X-RateLimit-* headers on validation's requests: Mattermost rate limiting is off"
            .to_owned(),
    };
    Some(RateLimitStatus::new(
        limited,
        format!("{detail}. Pacing: {}", planner.pacing()),
    ))
}

/// The planner for this client: Mattermost limits a client, not an
/// endpoint (any endpoint's gate answers), and reports its burst as the
/// limit with no window; plans assume that many requests per second.
fn planner(client: &HttpClient) -> Planner {
    Planner::new(client, &[USERS]).assume_server_window(Duration::from_secs(1))
}

/// Teams whose member counts (`/teams/{id}/stats`) the plan samples.
const TEAM_SAMPLE: u32 = 16;

/// Totals, requests per bucket and the estimated duration.
async fn plan(
    client: &HttpClient,
    config: &MattermostConfig,
    latency: &LatencyProbe,
) -> Result<(Plan, String)> {
    let users = client
        .json::<UserStatsDto>(&USER_STATS.call())
        .await?
        .total_users_count;
    let first = client
        .json::<TeamsWithCount>(
            &TEAMS
                .call()
                .query("include_total_count", "true")
                .query("per_page", TEAM_SAMPLE),
        )
        .await?;
    let teams = first.total_count;
    let calls: Vec<_> = first
        .teams
        .iter()
        .map(|t| TEAM_STATS.call().param("team_id", &t.id))
        .collect();
    let sizes = stream::iter(calls)
        .map(|call| async move { client.json::<TeamStatsDto>(&call).await })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let sample: Vec<u64> = sizes
        .into_iter()
        .filter_map(|s| s.ok().map(|s| s.total_member_count))
        .collect();

    let paging = paging(config.page_size());
    let listing = |rows| listing_requests(paging, &PagingLimits::default(), rows);
    let mut work = Workload::new()
        .total("users", users)
        .total("teams", teams)
        .sequential(USERS, listing(users))
        .sequential(TEAMS, listing(teams))
        // Members have no total: a multi-page listing is read twice.
        .concurrent(
            TEAM_MEMBERS,
            sampled_listing_requests(paging, &PagingLimits::confirming(), teams, &sample),
        );
    if config.enriches() {
        // Each user page's report segments and status lookup overlap the
        // next page's fetch.
        work = work
            .concurrent(REPORTS_USERS, users / u64::from(REPORT_PAGE_SIZE) + 1)
            .concurrent(STATUS_IDS, users.div_ceil(u64::from(config.page_size())));
    }

    let planner = planner(client).latency(latency.mean(client));
    let mut plan = planner.plan(&work);
    plan.advice = planner.advice(
        &work,
        "an admin can raise RateLimitSettings.PerSec and MaxBurst (System Console → Environment → Rate Limiting) or switch rate limiting off for the sync",
    );
    if let Some(burst) = planner.pace().server
        && planner.pace().client.is_none()
    {
        // The headers carry the burst (MaxBurst + 1), never the sustained
        // rate (PerSec): say what the estimate assumes and what the
        // default ratio would mean.
        let ratio = Rate::new((burst.calls / 10).max(1), burst.window);
        let slower = planner
            .plan_with(&work, planner.pace().server(Some(ratio)))
            .estimated();
        plan.advice.push(Advice::FixedRateOf {
            why: format!(
                "Mattermost reports its burst ({} requests), not its sustained rate (RateLimitSettings.PerSec); this estimate assumes {} requests/s. With the default ratio (PerSec = burst / 10, e.g. 10/s with MaxBurst 100) the sync takes about {}",
                burst.calls,
                burst.calls,
                format_duration(slower)
            ),
            rate: "PerSec".to_owned(),
            window_ms: 1000,
        });
    }
    let sampled = if sample.is_empty() {
        "one request per team assumed".to_owned()
    } else {
        format!("member pages from a sample of {} teams", sample.len())
    };
    let note = format!(
        "about {} requests for ~{users} users and {teams} teams; the user total is /api/v4/users/stats, which counts active users, bots included (deactivated users add a little); {sampled}",
        plan.requests()
    );
    Ok((plan, note))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use roster_core::{Connector, RateLimit};
    use roster_sim::mattermost::{MattermostSim, OrgSpec};
    use secrecy::SecretString;

    use crate::{MattermostConfig, MattermostConnector};

    #[tokio::test]
    async fn a_client_quota_does_not_make_an_unlimited_server_limited() {
        let sim = MattermostSim::new(OrgSpec::small());
        let server = sim.spawn().await;
        let config = MattermostConfig::new(
            server.base_url(),
            SecretString::from(MattermostSim::ADMIN_TOKEN),
        )
        .rate_limit(Some(RateLimit::per_endpoint(100, Duration::from_secs(1))));
        let report = MattermostConnector::new(config)
            .unwrap()
            .validate()
            .await
            .unwrap();
        let rl = report.rate_limit.expect("rate-limit status");
        // `limited` says whether the *server* limits this token; the quota
        // is the client's own choice and is named in the detail.
        assert!(!rl.limited, "{rl:?}");
        assert!(
            rl.detail.contains("client quota of 100 calls per 1.0 s"),
            "{rl:?}"
        );
    }

    #[tokio::test]
    async fn the_plan_counts_the_member_pages_and_re_reads_a_sync_makes() {
        // Teams of about 470 members: three pages of 200 each, read twice
        // (members have no total, so a multi-page listing is confirmed).
        let spec = OrgSpec {
            users: 1500,
            teams: 5,
            avg_members: 470,
            seed: 3,
        };
        let sim = MattermostSim::new(spec);
        let server = sim.spawn().await;
        let config = MattermostConfig::new(
            server.base_url(),
            SecretString::from(MattermostSim::ADMIN_TOKEN),
        );
        let connector = MattermostConnector::new(config).unwrap();
        let report = connector.validate().await.unwrap();
        let plan = report.plan.expect("plan");
        let members = plan
            .buckets
            .iter()
            .find(|b| b.bucket.ends_with("/members"))
            .expect("members bucket");
        assert!(members.requests >= 5 * 4, "{members:?}");
        let mut sink = roster_core::MemorySink::default();
        let summary = roster_core::SyncEngine::new(roster_core::SyncOptions::default())
            .run(&connector, &mut sink)
            .await
            .unwrap();
        assert!(summary.complete, "{:?}", summary.warnings);
        assert_eq!(
            summary
                .stats
                .requests_by_endpoint
                .get(&members.bucket)
                .copied(),
            Some(members.requests),
            "{:?}",
            summary.stats.requests_by_endpoint
        );
    }
}
