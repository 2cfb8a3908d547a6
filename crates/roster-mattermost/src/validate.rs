//! `validate()`: reachable, authenticated, System Admin, enrichment
//! available, rate-limit status, and a plan of the sync's requests.

use roster_core::validate::{Advice, BucketPlan, Plan, RateLimitStatus};
use roster_core::{
    Check, CheckKind, Error, ErrorKind, HttpClient, Result, SyncOptions, ValidationReport,
};
use std::sync::OnceLock;

use tokio::time::Instant;

use crate::MattermostConfig;
use crate::endpoints::{
    ME, PING, REPORT_PAGE_SIZE, REPORTS_USERS, STATUS_IDS, StatusDto, TEAM_MEMBERS, TEAMS,
    TeamsWithCount, USER_STATS, USERS, UserDto, UserReportDto, UserStatsDto,
};

/// Why System Admin matters, in every message that names it.
pub(crate) const WHY_ADMIN: &str = "without it Mattermost silently returns only open teams, so the sync would miss invite-only (private) teams and their members";

/// Errors that mean the platform cannot be asked at all.
fn unreachable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connection | ErrorKind::Config)
        || matches!(e, Error::Timeout { .. } | Error::Transport { .. })
}

pub(crate) async fn validate(
    client: &HttpClient,
    config: &MattermostConfig,
    caller_is_admin: &OnceLock<bool>,
) -> Result<ValidationReport> {
    let source = client.config().source();
    let mut report = ValidationReport::new(crate::NAME, &source);
    let started = Instant::now();
    let requests_before = client.stats().requests;

    // 1. Reachable (no auth, no retry).
    match client.send_once(&PING.call()).await {
        Ok(_) => report.push(Check::pass(
            CheckKind::Reachable,
            "reachable",
            format!("{source} answers {}", PING.path),
        )),
        Err(e) if unreachable(&e) => return Err(e),
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
        Err(e) if unreachable(&e) || e.kind() != ErrorKind::Auth => return Err(e),
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
    let latency = {
        let n = client
            .stats()
            .requests
            .saturating_sub(requests_before)
            .max(1);
        started.elapsed() / u32::try_from(n).unwrap_or(u32::MAX)
    };
    report.rate_limit = rate_limit_status(client);
    match plan(client, config, latency).await {
        Ok((plan, note)) => {
            report.push(Check::pass(CheckKind::Plan, "plan", note));
            report.plan = Some(plan);
        }
        Err(e) if unreachable(&e) => return Err(e),
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
    // Mattermost's limit is one bucket per client (`BucketScope::Global`):
    // every endpoint reads the same gate key.
    let quota = client
        .config()
        .rate_limit
        .map(|q| format!("; client-side quota {q} per endpoint"))
        .unwrap_or_default();
    let limited = client.is_limited(&USERS)?;
    let detail = if limited {
        // Mattermost's X-RateLimit-Limit is the burst (MaxBurst + 1), not
        // the rate; the rate is not reported anywhere.
        let limit = client.reported_limit(&USERS).map_or_else(
            || "a limit".to_owned(),
            |l| {
                format!(
                    "bursts of {l} requests; the sustained rate (PerSec) is not reported, and the plan assumes {l} requests/s"
                )
            },
        );
        format!(
            "the server sends X-RateLimit-* headers: {limit} per client (Mattermost RateLimitSettings, keyed by client IP by default); roster paces to them one token at a time{quota}"
        )
    } else {
        format!(
            "no X-RateLimit-* headers on validation's requests: Mattermost rate limiting is off{quota}"
        )
    };
    Some(RateLimitStatus::new(limited, detail))
}

/// Totals, requests per bucket and the estimated duration.
async fn plan(
    client: &HttpClient,
    config: &MattermostConfig,
    latency: std::time::Duration,
) -> Result<(Plan, String)> {
    let users = client
        .json::<UserStatsDto>(&USER_STATS.call())
        .await?
        .total_users_count;
    let teams = client
        .json::<TeamsWithCount>(
            &TEAMS
                .call()
                .query("include_total_count", "true")
                .query("per_page", 1),
        )
        .await?
        .total_count;
    let per_page = u64::from(config.page_size());
    // The paginator stops on a short (or empty) page.
    let pages = |n: u64, per: u64| n / per + 1;
    let user_pages = pages(users, per_page);
    let team_pages = pages(teams, per_page);
    let member_pages = teams; // at least one per team; +1 per further 200 members
    let mut listing: Vec<(String, u64)> = vec![
        (USERS.bucket(), user_pages),
        (TEAMS.bucket(), team_pages),
        (TEAM_MEMBERS.bucket(), member_pages),
    ];
    if config.enriches() {
        listing.push((
            REPORTS_USERS.bucket(),
            pages(users, u64::from(REPORT_PAGE_SIZE)),
        ));
        listing.push((STATUS_IDS.bucket(), users.div_ceil(per_page)));
    }

    let quota = client.config().rate_limit;
    // One bucket per client (`BucketScope::Global`): any endpoint's.
    let server_limit = client
        .is_limited(&USERS)
        .filter(|l| *l)
        .and_then(|_| client.reported_limit(&USERS))
        .filter(|l| *l > 0);
    let one_sec = std::time::Duration::from_secs(1);
    let bucket_limit = quota
        .map(|q| (u64::from(q.calls()), q.period()))
        .or(server_limit.map(|l| (l, one_sec)));
    let buckets: Vec<BucketPlan> = listing
        .iter()
        .map(|(b, n)| BucketPlan::new(b.clone(), *n, bucket_limit))
        .collect();
    let total: u64 = buckets.iter().map(|b| b.requests).sum();

    // Limits: a client quota applies per bucket (buckets run in parallel);
    // Mattermost's limit is one bucket for the whole client.
    let quota_ms = if quota.is_some() {
        buckets.iter().map(|b| b.min_duration_ms).max().unwrap_or(0)
    } else {
        0
    };
    let server_ms = server_limit.map_or(0, |l| {
        roster_core::ratelimit::fixed_window_lower_bound(total, l, one_sec).as_millis() as u64
    });
    // Work: user pages are read one after another, each page's
    // enrichment (its report segments and status lookup) overlapping the
    // next page's fetch, while team members are read by `concurrency`
    // teams at once.
    let lat = latency.as_millis().max(1) as u64;
    let concurrency = SyncOptions::default().concurrency as u64;
    let users_side = user_pages * lat + if config.enriches() { lat } else { 0 };
    let teams_side = team_pages * lat + member_pages * lat / concurrency.max(1);
    let estimated_ms = quota_ms.max(server_ms).max(users_side.max(teams_side));

    let mut advice = Vec::new();
    if let Some(l) = server_limit
        && server_ms >= quota_ms
        && server_ms > 60_000
    {
        advice.push(Advice::Text(format!(
            "Mattermost lets this client make {l} requests/s; ask an admin to raise RateLimitSettings.PerSec and MaxBurst (System Console → Environment → Rate Limiting) or to switch rate limiting off for the sync"
        )));
    }
    if let Some(l) = server_limit
        && quota.is_none()
    {
        // The headers carry the burst (MaxBurst + 1), never the sustained
        // rate (PerSec): say what the estimate assumes and what the
        // default ratio would mean.
        let default_ratio = (l / 10).max(1);
        let slower =
            roster_core::ratelimit::fixed_window_lower_bound(total, default_ratio, one_sec)
                .max(std::time::Duration::from_millis(estimated_ms));
        advice.push(Advice::FixedRateOf {
            why: format!(
            "Mattermost reports its burst ({l} requests), not its sustained rate (RateLimitSettings.PerSec); this estimate assumes {l} requests/s. With the default ratio (PerSec = burst / 10, e.g. 10/s with MaxBurst 100) the sync takes about {}",
            roster_core::validate::format_duration(slower)
        ),
            rate: "PerSec".to_owned(),
            window_ms: 1000,
        });
    }
    if quota.is_some() && quota_ms >= server_ms && quota_ms > 60_000 {
        advice.push(Advice::Text(
            "the configured client-side rate limit sets the pace; raise or remove it".to_owned(),
        ));
    }
    let note = format!(
        "about {total} requests for ~{users} users and {teams} teams; the user total is /api/v4/users/stats, which counts active users, bots included (deactivated users add a little), and teams with more than {per_page} members need one more request per {per_page} members"
    );
    Ok((
        Plan::default()
            .totals(vec![
                ("users".to_owned(), users),
                ("teams".to_owned(), teams),
            ])
            .buckets(buckets)
            .estimated_ms(estimated_ms)
            .advice(advice),
        note,
    ))
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
        assert!(rl.detail.contains("client-side quota"), "{rl:?}");
    }
}
