//! End-to-end tests of the Rocket.Chat connector against the simulator, on
//! tokio's paused clock (60-second rate-limit windows cost no real time).

use std::collections::BTreeMap;
use std::time::Duration;

use roster_core::plan::{Advice, RateLimitChoice};
use roster_core::testkit::assert_conforms;
use roster_core::{CheckStatus, RateLimit, RetryPolicy};
use roster_core::{
    Connector, Error, MemorySink, Snapshot, Summary, SyncEngine, SyncOptions, ValidationReport,
};
use roster_rocketchat::{RocketChatConfig, RocketChatConnector};
use roster_sim::rocketchat::{Credentials, FixedWindow, OrgSpec, RocketChatSim, SimOptions};
use roster_sim::{Fault, FaultRule, SimServer};
use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);

/// A simulator with Rocket.Chat's default limit (10 per 60 s), the admin
/// limited unless `admin_bypass`, and its windows' anchor (on tokio's
/// clock, which the simulator's windows keep).
fn new_sim(spec: OrgSpec, admin_bypass: bool, phase: Duration) -> (RocketChatSim, Instant) {
    let mut o = SimOptions::default();
    o.rate_limit = Some(FixedWindow {
        calls: 10,
        window: MINUTE,
    });
    o.admin_bypasses_rate_limit = admin_bypass;
    o.window_phase = phase;
    let anchor = Instant::now() - phase;
    (RocketChatSim::with_options(spec, o), anchor)
}

fn config(server: &SimServer, creds: &Credentials) -> RocketChatConfig {
    RocketChatConfig::new(
        server.base_url(),
        creds.user_id.clone(),
        creds.token.clone().into(),
    )
    .retry(RetryPolicy::default().jitter_seed(Some(7)))
}

fn connector(config: RocketChatConfig) -> RocketChatConnector {
    RocketChatConnector::new(config).expect("valid config")
}

async fn sync(connector: &RocketChatConnector) -> (Summary, Snapshot) {
    let engine = SyncEngine::new(SyncOptions::default().concurrency(8));
    let mut sink = MemorySink::default();
    let summary = engine.run(connector, &mut sink).await.expect("sync runs");
    (summary, sink.snapshot())
}

fn medium() -> OrgSpec {
    OrgSpec {
        users: 260,
        teams: 34,
        avg_members: 8,
        custom_roles: 4,
        seed: 11,
    }
}

/// No server window of any bucket saw more than `limit` calls. Windows
/// are replayed as the server keeps them: the first one opened at `anchor`,
/// each later one by the first call after the previous one ended.
/// Library text names no command-line flag: every check, the rate-limit
/// status and the advice (in library terms) are free of `--`.
fn assert_no_cli_words(report: &roster_core::ValidationReport) {
    let text = report.to_string();
    assert!(!text.contains("--"), "{text}");
}

fn assert_fixed_window_pacing(
    sim: &RocketChatSim,
    anchor: Instant,
    window: Duration,
    limit: usize,
) {
    assert_limited_calls_pacing(sim, anchor, None, window, limit);
}

/// [`assert_fixed_window_pacing`] for the calls made after `after`
/// (the earlier ones bypassed the limit and did not count).
fn assert_limited_calls_pacing(
    sim: &RocketChatSim,
    anchor: Instant,
    after: Option<Instant>,
    window: Duration,
    limit: usize,
) {
    let mut per: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for e in sim.log().entries() {
        if e.path.ends_with("/info") || e.status == 401 || after.is_some_and(|a| e.at <= a) {
            continue;
        }
        per.entry(e.path.clone()).or_default().push(e.at);
    }
    for (path, mut times) in per {
        times.sort_unstable();
        let (mut start, mut n, mut idx) = (anchor, 0, 0);
        for t in times {
            if t.saturating_duration_since(start) >= window {
                (start, n, idx) = (t, 0, idx + 1);
            }
            n += 1;
            assert!(
                n <= limit,
                "{n} calls to {path} in server window {idx} from {:?} after the anchor (limit {limit})",
                start - anchor
            );
        }
    }
}

fn calls_to(sim: &RocketChatSim, endpoint: &str) -> usize {
    sim.log()
        .entries()
        .iter()
        .filter(|e| e.path.ends_with(endpoint))
        .count()
}

// ------------------------------------------------------------ correctness

#[tokio::test(start_paused = true)]
async fn bypassing_admin_gets_exact_ground_truth_without_headers() {
    let (sim, _) = new_sim(OrgSpec::small(), true, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let report = c.validate().await.unwrap();
    assert!(report.sync_possible(), "{report}");
    let rl = report.rate_limit.as_ref().unwrap();
    assert!(!rl.limited, "{}", rl.detail);
    assert!(rl.detail.contains("no rate-limit headers"), "{}", rl.detail);
    assert_eq!(
        c.client()
            .server_limit(&roster_core::Endpoint::get("/api/v1/users.list"))
            .map(|l| l.limited),
        Some(false)
    );

    let (_, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    assert_eq!(snap.header.as_ref().unwrap().connector, "rocketchat");
    // The small org: 25 generated + 4 credential users, custom roles with
    // random ids, room-scoped roles without grants.
    assert_eq!(
        snap.resources
            .iter()
            .filter(|r| r.resource_type == roster_core::ResourceType::User)
            .count(),
        29
    );
    assert_eq!(calls_to(&sim, "/roles.list"), 1, "roles.list read once");
}

#[tokio::test(start_paused = true)]
async fn servers_without_created_at_give_null_and_a_notice() {
    let mut o = SimOptions::default();
    o.admin_bypasses_rate_limit = true;
    o.include_created_at = false;
    let sim = RocketChatSim::with_options(OrgSpec::small(), o);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert!(
        snap.resources
            .iter()
            .filter_map(|r| r.user.as_ref())
            .all(|u| u.created_at.is_none())
    );
    let notices: Vec<&String> = summary
        .warnings
        .iter()
        .filter(|w| w.contains("createdAt"))
        .collect();
    assert_eq!(notices.len(), 1, "{:?}", summary.warnings);
}

#[tokio::test(start_paused = true)]
async fn limited_admin_gets_exact_ground_truth_with_zero_429s() {
    let (sim, anchor) = new_sim(OrgSpec::small(), false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    assert_eq!(summary.stats.rate_limited, 0);
    assert_fixed_window_pacing(&sim, anchor, MINUTE, 10);
}

#[tokio::test(start_paused = true)]
async fn default_quota_never_overfills_a_server_window_at_any_phase() {
    for phase in [
        Duration::ZERO,
        Duration::from_secs(37),
        Duration::from_millis(59_900),
    ] {
        let (sim, anchor) = new_sim(medium(), false, phase);
        let server = sim.spawn().await;
        let c = connector(config(&server, &sim.admin()));
        let (summary, snap) = sync(&c).await;
        assert_conforms(&snap, &sim.ground_truth().expected());
        assert_eq!(sim.log().count_status(429), 0, "phase {phase:?}");
        assert_fixed_window_pacing(&sim, anchor, MINUTE, 10);
        // 34 teams' members + validation's calls, spread over windows.
        assert_eq!(
            summary.stats.requests_by_endpoint["GET /api/v1/teams.members"],
            34
        );
    }
}

#[tokio::test(start_paused = true)]
async fn quota_above_the_server_limit_still_completes() {
    let (sim, _) = new_sim(medium(), false, Duration::from_secs(20));
    let server = sim.spawn().await;
    let c = connector(
        config(&server, &sim.admin()).rate_limit(Some(RateLimit::per_endpoint(100, MINUTE))),
    );
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(
        summary.stats.rate_limited as usize,
        sim.log().count_status(429)
    );
    eprintln!(
        "quota 100/60s vs server 10/60s: {} requests, {} rejected, {} ms",
        summary.stats.requests, summary.stats.rate_limited, summary.elapsed_ms
    );
    // The header gate paces by what the server says, so even a wrong quota
    // costs no more than the probe's rejections.
    assert!(
        sim.log().count_status(429) <= 4,
        "{}",
        sim.log().count_status(429)
    );

    // No client quota at all: the headers alone pace.
    let (sim, anchor) = new_sim(medium(), false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()).rate_limit(None));
    let (_, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    assert_fixed_window_pacing(&sim, anchor, MINUTE, 10);
}

#[tokio::test(start_paused = true)]
async fn two_clients_sharing_the_server_windows_still_complete() {
    // Two syncs from one IP share every server window; each client's gate
    // learns the other's calls only from the headers, so some calls are
    // rejected — and waited out, never retried at once.
    let (sim, _) = new_sim(medium(), false, Duration::from_secs(5));
    let server = sim.spawn().await;
    let quota = Some(RateLimit::per_endpoint(100, MINUTE));
    let a = connector(config(&server, &sim.admin()).rate_limit(quota));
    let b = connector(config(&server, &sim.admin()).rate_limit(quota));
    let ((_, snap_a), (_, snap_b)) = tokio::join!(sync(&a), sync(&b));
    for snap in [snap_a, snap_b] {
        assert_conforms(&snap, &sim.ground_truth().expected());
    }
    eprintln!("two clients: {} rejected", sim.log().count_status(429));
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_wait_for_the_reset_and_complete() {
    let (sim, anchor) = new_sim(medium(), false, Duration::ZERO);
    let server = sim.spawn().await;
    // Forced 429s (with the exhausted window's headers) on two endpoints.
    sim.faults()
        .add(FaultRule::new("/teams.members", Fault::RateLimited, 2).after(3));
    sim.faults()
        .add(FaultRule::new("/users.list", Fault::RateLimited, 1).after(1));
    let c = connector(config(&server, &sim.admin()));
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(summary.stats.rate_limited, 3);
    assert!(summary.stats.retries >= 3);
    // After a 429 nothing more is sent to that endpoint before the window's
    // reset (calls already in flight land at the same instant).
    let entries = sim.log().entries();
    for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.status == 429) {
        let windows = (e.at - anchor).as_millis() / MINUTE.as_millis();
        let reset = anchor + MINUTE * (windows as u32 + 1);
        for n in entries[i + 1..].iter().filter(|n| n.path == e.path) {
            assert!(
                n.at == e.at || n.at >= reset,
                "{n:?} sent before the reset at {:?} after {e:?}",
                reset - anchor
            );
        }
    }
}

// ------------------------------------------------------------- validation

#[tokio::test(start_paused = true)]
async fn plain_user_fails_validation_naming_view_all_teams() {
    let (sim, _) = new_sim(OrgSpec::small(), false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.plain_user()));
    let report = c.validate().await.unwrap();
    assert!(!report.sync_possible());
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert!(failed.contains(&"permission:view-all-teams"), "{failed:?}");
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "permission:view-all-teams")
        .unwrap();
    assert!(check.detail.contains("empty"), "{}", check.detail);
    // The engine refuses to write a snapshot that would look complete.
    let mut sink = MemorySink::default();
    let err = SyncEngine::default().run(&c, &mut sink).await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    assert!(err.to_string().contains("view-all-teams"), "{err}");
    assert!(sink.records.is_empty());
}

#[tokio::test(start_paused = true)]
async fn team_viewer_fails_validation_naming_view_full_other_user_info() {
    let (sim, _) = new_sim(OrgSpec::small(), false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.team_viewer()));
    let report = c.validate().await.unwrap();
    assert!(!report.sync_possible());
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["permission:view-full-other-user-info"], "{report}");
    assert!(report.failure_summary().contains("role"), "{report}");

    // Forced past validation, the sync says it is incomplete rather than
    // writing role-less users as the truth.
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default().validate(false))
        .run(&c, &mut sink)
        .await
        .unwrap();
    assert!(!summary.complete);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("view-full-other-user-info")),
        "{:?}",
        summary.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_token_fails_authentication() {
    let (sim, _) = new_sim(OrgSpec::small(), false, Duration::ZERO);
    let server = sim.spawn().await;
    let mut creds = sim.admin();
    creds.token = "not-the-token".into();
    let c = connector(config(&server, &creds));
    let report = c.validate().await.unwrap();
    let auth = report
        .checks
        .iter()
        .find(|c| c.name == "authenticated")
        .unwrap();
    assert_eq!(auth.status, CheckStatus::Fail);
    assert!(auth.detail.contains("token or user id invalid"));
    assert!(!format!("{report:?}").contains("not-the-token"));
}

#[tokio::test(start_paused = true)]
async fn unreachable_server_is_an_error() {
    let c = connector(RocketChatConfig::new(
        "http://127.0.0.1:9",
        "u",
        "t".to_owned().into(),
    ));
    let err = c.validate().await.unwrap_err();
    assert_eq!(err.kind(), roster_core::ErrorKind::Connection, "{err}");
}

fn plan_requests(report: &ValidationReport, bucket: &str) -> u64 {
    report
        .plan
        .as_ref()
        .unwrap()
        .buckets
        .iter()
        .find(|b| b.bucket.ends_with(bucket))
        .map_or(0, |b| b.requests)
}

#[tokio::test(start_paused = true)]
async fn limited_and_bypassing_tokens_get_different_plans() {
    let spec = OrgSpec {
        users: 1000,
        teams: 120,
        avg_members: 5,
        custom_roles: 3,
        seed: 3,
    };
    let (sim, _) = new_sim(spec, false, Duration::ZERO);
    let server = sim.spawn().await;

    let limited = connector(config(&server, &sim.admin()))
        .validate()
        .await
        .unwrap();
    assert!(limited.sync_possible(), "{limited}");
    assert!(limited.rate_limit.as_ref().unwrap().limited);
    let plan = limited.plan.as_ref().unwrap();
    assert_eq!(plan.totals[0], ("users".to_owned(), 1004));
    assert_eq!(plan_requests(&limited, "users.list"), 11);
    assert_eq!(plan_requests(&limited, "teams.listAll"), 2);
    assert_eq!(plan_requests(&limited, "teams.members"), 120);
    assert_eq!(plan_requests(&limited, "roles.list"), 1);
    // 120 member reads at 10 per minute: at least 11 minutes.
    assert!(plan.estimated() >= 11 * MINUTE, "{limited}");
    assert!(
        plan.advice.iter().any(|a| a.to_string().contains("bot")),
        "{:?}",
        plan.advice
    );
    // Every team needs its own members call anyway: count=0 would not help.
    assert!(
        !plan
            .advice
            .iter()
            .any(|a| matches!(a, Advice::InfiniteCount { .. }))
    );
    assert_no_cli_words(&limited);
    let text = limited.to_string();
    println!("{text}");
    assert!(text.contains("teams.members") && text.contains("estimated duration"));

    // The bot bypasses the server's limit; with the default pacing (auto)
    // or the client quota off, the sync is only latency.
    for config in [
        config(&server, &sim.bot()),
        config(&server, &sim.bot()).rate_limit(None),
    ] {
        let bot = connector(config).validate().await.unwrap();
        assert!(bot.sync_possible(), "{bot}");
        let rl = bot.rate_limit.as_ref().unwrap();
        assert!(!rl.limited);
        assert!(rl.detail.contains("no client quota"), "{}", rl.detail);
        assert!(bot.plan.as_ref().unwrap().estimated() < Duration::from_secs(5));
    }
    // With an explicit quota, the plan says the quota is what paces.
    let bot_quota = connector(
        config(&server, &sim.bot()).rate_limit(Some(RateLimit::per_endpoint(10, MINUTE))),
    )
    .validate()
    .await
    .unwrap();
    assert_no_cli_words(&bot_quota);
    assert!(
        bot_quota
            .rate_limit
            .as_ref()
            .unwrap()
            .detail
            .contains("fixed: a client quota of 10 calls per 1 min"),
        "{bot_quota}"
    );
    assert!(
        bot_quota
            .plan
            .as_ref()
            .unwrap()
            .advice
            .iter()
            .any(|a| matches!(
                a,
                Advice::RateLimit { choices, .. } if choices.contains(&RateLimitChoice::Auto)
            )),
        "{bot_quota}"
    );
}

#[tokio::test(start_paused = true)]
async fn infinite_count_is_advised_when_listings_dominate() {
    let spec = OrgSpec {
        users: 3000,
        teams: 4,
        avg_members: 5,
        custom_roles: 2,
        seed: 4,
    };
    let (sim, _) = new_sim(spec, false, Duration::ZERO);
    let server = sim.spawn().await;
    // Deactivated users cost one users.listTeams lookup each, which would
    // dominate here (see the next check): everyone active first.
    let report = connector(config(&server, &sim.admin()))
        .validate()
        .await
        .unwrap();
    let lookups = plan_requests(&report, "users.listTeams");
    assert!(lookups >= 100, "at least a full page: {report}");
    assert!(
        report.plan.as_ref().unwrap().estimated() >= (lookups / 10 - 1) as u32 * MINUTE,
        "{report}"
    );
    for r in sim.ground_truth().resources {
        sim.set_user_active(r.id.as_str(), true);
    }
    tokio::time::sleep(MINUTE).await;
    let report = connector(config(&server, &sim.admin()))
        .validate()
        .await
        .unwrap();
    assert_eq!(plan_requests(&report, "users.list"), 31);
    assert_eq!(plan_requests(&report, "users.listTeams"), 0);
    assert_no_cli_words(&report);
    let plan = report.plan.as_ref().unwrap();
    assert_eq!(plan.estimated(), 3 * MINUTE, "{report}");
    assert!(
        plan.advice
            .iter()
            .any(|a| matches!(a, Advice::InfiniteCount { .. })),
        "{report}"
    );
}

#[tokio::test(start_paused = true)]
async fn estimate_is_within_ten_percent_of_the_measured_sync() {
    let spec = OrgSpec {
        users: 400,
        teams: 75,
        avg_members: 6,
        custom_roles: 3,
        seed: 5,
    };
    let (sim, _) = new_sim(spec, false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let report = c.validate().await.unwrap();
    let estimate = report.plan.as_ref().unwrap().estimated();
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    let measured = Duration::from_millis(summary.elapsed_ms);
    let diff = measured.abs_diff(estimate);
    eprintln!("estimated {estimate:?}, measured {measured:?}");
    assert!(
        diff <= estimate / 10,
        "estimated {estimate:?}, measured {measured:?}"
    );
}

// ------------------------------------------------------------------ speed

#[tokio::test(start_paused = true)]
async fn infinite_count_uses_fewer_requests() {
    let spec = OrgSpec {
        users: 450,
        teams: 150,
        avg_members: 4,
        custom_roles: 3,
        seed: 9,
    };
    let (sim_a, _) = new_sim(spec.clone(), true, Duration::ZERO);
    let server_a = sim_a.spawn().await;
    let paged = connector(config(&server_a, &sim_a.admin()).rate_limit(None));
    let (sa, snap_a) = sync(&paged).await;
    assert_conforms(&snap_a, &sim_a.ground_truth().expected());

    let (sim_b, _) = new_sim(spec, true, Duration::ZERO);
    let server_b = sim_b.spawn().await;
    let infinite = connector(
        config(&server_b, &sim_b.admin())
            .rate_limit(None)
            .infinite_count(true),
    );
    let (sb, snap_b) = sync(&infinite).await;
    assert_conforms(&snap_b, &sim_b.ground_truth().expected());
    assert_eq!(sb.stats.requests_by_endpoint["GET /api/v1/users.list"], 1);
    assert_eq!(
        sb.stats.requests_by_endpoint["GET /api/v1/teams.listAll"],
        1
    );
    assert_eq!(sa.stats.requests_by_endpoint["GET /api/v1/users.list"], 5);
    assert!(
        sb.stats.requests < sa.stats.requests,
        "{} vs {}",
        sb.stats.requests,
        sa.stats.requests
    );
    assert!(
        sim_b
            .log()
            .entries()
            .iter()
            .any(|e| e.query.contains("count=0"))
    );
}

#[tokio::test(start_paused = true)]
async fn infinite_count_refused_by_the_server_still_pages_to_the_end() {
    // API_Allow_Infinite_Count off: count=0 means the default page size.
    let mut o = SimOptions::default();
    o.admin_bypasses_rate_limit = true;
    o.allow_infinite_count = false;
    let spec = OrgSpec {
        users: 180,
        ..OrgSpec::small()
    };
    let sim = RocketChatSim::with_options(spec, o);
    let server = sim.spawn().await;
    let c = connector(
        config(&server, &sim.admin())
            .rate_limit(None)
            .infinite_count(true),
    );
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(
        summary.stats.requests_by_endpoint["GET /api/v1/users.list"],
        4
    );
}

#[tokio::test(start_paused = true)]
async fn independent_buckets_run_in_parallel() {
    // users.list: 11 pages (2 windows); teams.members: 30 calls (3 windows).
    let spec = OrgSpec {
        users: 1000,
        teams: 30,
        avg_members: 5,
        custom_roles: 2,
        seed: 2,
    };
    let (sim, anchor) = new_sim(spec, false, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    c.validate().await.unwrap();
    let start = Instant::now();
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default().validate(false))
        .run(&c, &mut sink)
        .await
        .unwrap();
    let took = start.elapsed();
    eprintln!(
        "parallel buckets took {took:?}: {:?}",
        summary.stats.requests_by_endpoint
    );
    assert_conforms(&sink.snapshot(), &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    assert_fixed_window_pacing(&sim, anchor, MINUTE, 10);
    // The busiest bucket governs: teams.members needs 2 waits (120 s), the
    // deactivated users' users.listTeams lookups ceil(n / 10) − 1; run one
    // after the other, users.list would add another window on top.
    let deactivated = summary.stats.requests_by_endpoint["GET /api/v1/users.listTeams"] as u32;
    let waits = 2.max(deactivated.div_ceil(10) - 1);
    assert!(took >= waits * MINUTE, "{took:?}");
    assert!(
        took < (waits + 1) * MINUTE,
        "buckets did not overlap: {took:?}"
    );
}

/// A limited token runs at the pace of its busiest bucket: teams whose
/// deactivated members wait for the users.listTeams lookups (their own
/// bucket) do not hold the engine's slots, so teams.members never idles;
/// and validation's estimate is that bound. The benchmark's org and limit
/// (examples/rocketchat_bench.rs): 87 % of teams have a deactivated member.
#[tokio::test(start_paused = true)]
async fn limited_token_runs_at_the_busiest_buckets_pace_despite_deactivated_lookups() {
    limited_token_runs_at_the_busiest_buckets_pace(true).await;
}

/// In auto mode the stock 10-per-60-s quota only stands in until the
/// server's headers are known: calls already queued behind it must not keep
/// waiting 6 s apart once another call has learned the real limit.
#[tokio::test(start_paused = true)]
async fn auto_mode_drops_the_safe_quota_for_queued_calls_once_headers_arrive() {
    limited_token_runs_at_the_busiest_buckets_pace(false).await;
}

async fn limited_token_runs_at_the_busiest_buckets_pace(explicit_quota: bool) {
    let spec = OrgSpec {
        users: 2000,
        teams: 200,
        avg_members: 40,
        custom_roles: 8,
        seed: 42,
    };
    let window = Duration::from_secs(1);
    let mut o = SimOptions::default();
    o.rate_limit = Some(FixedWindow { calls: 10, window });
    o.admin_bypasses_rate_limit = false;
    let sim = RocketChatSim::with_options(spec, o);
    let server = sim.spawn().await;
    let mut cfg = config(&server, &sim.admin());
    if explicit_quota {
        cfg = cfg.rate_limit(Some(RateLimit::per_endpoint(10, window)));
    }
    let c = connector(cfg);
    let report = c.validate().await.unwrap();
    let estimate = report.plan.as_ref().unwrap().estimated();
    let start = Instant::now();
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default().validate(false))
        .run(&c, &mut sink)
        .await
        .unwrap();
    let took = start.elapsed();
    assert_conforms(&sink.snapshot(), &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    let lookups = summary.stats.requests_by_endpoint["GET /api/v1/users.listTeams"];
    assert!(lookups > 20, "deactivated users are looked up: {lookups}");
    let bound = summary
        .stats
        .requests_by_endpoint
        .values()
        .map(|&n| roster_core::plan::fixed_window_lower_bound(n, 10, window))
        .max()
        .unwrap();
    eprintln!("took {took:?}, bound {bound:?}, estimate {estimate:?}");
    assert!(took >= bound, "{took:?} < {bound:?}");
    // Each window waits 50 ms past the server's reset (clock skew margin):
    // 19 windows, just under 5 %.
    assert!(
        took <= bound + bound / 20,
        "took {took:?}, more than 5 % over the busiest bucket's {bound:?}"
    );
    assert!(
        took.abs_diff(estimate) <= took / 20,
        "estimated {estimate:?}, took {took:?}"
    );
}

// ----------------------------------------------------------------- faults

async fn sync_with_faults(rules: Vec<FaultRule>) -> (RocketChatSim, Summary, Snapshot) {
    let (sim, _) = new_sim(OrgSpec::small(), true, Duration::ZERO);
    let server = sim.spawn().await;
    for r in rules {
        sim.faults().add(r);
    }
    let c = connector(config(&server, &sim.admin()));
    let (summary, snap) = sync(&c).await;
    (sim, summary, snap)
}

#[tokio::test(start_paused = true)]
async fn transient_faults_are_retried_to_an_exact_snapshot() {
    let (sim, summary, snap) = sync_with_faults(vec![
        FaultRule::new("/teams.members", Fault::ServerError(503), 3).after(1),
        FaultRule::new("/users.list", Fault::ServerError(502), 2).after(1),
        FaultRule::new("/roles.list", Fault::ConnectionReset, 1),
        FaultRule::new("/teams.listAll", Fault::TruncatedJson, 1).after(1),
        FaultRule::new("/teams.members", Fault::MalformedJson, 1).after(4),
        FaultRule::new("/teams.members", Fault::RateLimited, 1).after(2),
        FaultRule::new("/teams.members", Fault::DuplicateRows, 2),
    ])
    .await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert!(summary.stats.retries >= 7, "{}", summary.stats.retries);
    assert_eq!(summary.stats.rate_limited, 1);
}

#[tokio::test(start_paused = true)]
async fn shifting_user_pages_are_reread() {
    let spec = OrgSpec {
        users: 250,
        ..OrgSpec::small()
    };
    let (sim, _) = new_sim(spec, true, Duration::ZERO);
    let server = sim.spawn().await;
    // The second page of the sync's first pass sees a new user sorted first.
    sim.faults()
        .add(FaultRule::new("/users.list", Fault::ShiftPages, 1).after(2));
    let c = connector(config(&server, &sim.admin()));
    let (_, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
}

#[tokio::test(start_paused = true)]
async fn deleted_team_mid_sync_is_reported_incomplete() {
    let (sim, _, snap) = sync_with_faults(vec![
        FaultRule::new("/teams.members", Fault::NotFound, 1).after(2),
    ])
    .await;
    let expected = sim.ground_truth().expected();
    assert_conforms(
        &snap,
        &expected.incomplete("grants of team").missing_allowed(),
    );
}

#[tokio::test(start_paused = true)]
async fn revoked_token_mid_sync_is_reported_incomplete() {
    let (sim, _, snap) = sync_with_faults(vec![
        FaultRule::new("/teams.members", Fault::Unauthorized, u32::MAX).after(1),
    ])
    .await;
    let expected = sim.ground_truth().expected();
    assert_conforms(&snap, &expected.incomplete("401").missing_allowed());

    // A revoked token on users.list (after validation's probe).
    let (sim, _, snap) = sync_with_faults(vec![
        FaultRule::new("/users.list", Fault::Unauthorized, u32::MAX).after(1),
    ])
    .await;
    let expected = sim.ground_truth().expected();
    assert_conforms(&snap, &expected.incomplete("users").missing_allowed());
}

#[tokio::test(start_paused = true)]
async fn persistent_server_errors_end_incomplete_not_wrong() {
    let (sim, _, snap) = sync_with_faults(vec![
        FaultRule::new("/teams.listAll", Fault::ServerError(500), u32::MAX).after(1),
    ])
    .await;
    let expected = sim.ground_truth().expected();
    assert_conforms(
        &snap,
        &expected.incomplete("listing teams").missing_allowed(),
    );
}

// ------------------------------------------------ platform facts (issue 12)

#[tokio::test(start_paused = true)]
async fn validation_reads_the_version_from_api_info_without_a_warning() {
    let (sim, _) = new_sim(OrgSpec::small(), true, Duration::ZERO);
    let server = sim.spawn().await;
    let report = connector(config(&server, &sim.admin()))
        .validate()
        .await
        .unwrap();
    let reachable = report
        .checks
        .iter()
        .find(|c| c.name == "reachable")
        .unwrap();
    assert_eq!(reachable.status, CheckStatus::Pass, "{report}");
    assert!(reachable.detail.contains("7.4.0"), "{}", reachable.detail);
    assert!(
        !report.checks.iter().any(|c| c.status == CheckStatus::Warn),
        "a healthy server gives no warning: {report}"
    );
    // No claim about view-room-administration / view-other-user-channels;
    // view-d-room (users.list) is checked and named.
    let text = report.to_string();
    assert!(!text.contains("view-room-administration"), "{text}");
    assert!(text.contains("permission:view-d-room"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn missing_view_d_room_fails_validation_naming_it() {
    let (sim, _) = new_sim(OrgSpec::small(), true, Duration::ZERO);
    let server = sim.spawn().await;
    sim.set_permission_roles("view-d-room", &["user"]);
    let report = connector(config(&server, &sim.bot()))
        .validate()
        .await
        .unwrap();
    assert!(!report.sync_possible(), "{report}");
    let check = report
        .checks
        .iter()
        .find(|c| c.name == "permission:view-d-room")
        .unwrap();
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(check.detail.contains("users.list"), "{}", check.detail);
}

#[tokio::test(start_paused = true)]
async fn deactivated_users_team_memberships_appear_with_a_notice() {
    let spec = OrgSpec {
        users: 300,
        teams: 12,
        avg_members: 25,
        custom_roles: 2,
        seed: 9,
    };
    let (sim, _) = new_sim(spec, true, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let (summary, snap) = sync(&c).await;
    assert!(summary.complete, "{:?}", summary.warnings);
    // The ground truth holds every membership, deactivated users' too.
    let truth = sim.ground_truth();
    let disabled: std::collections::HashSet<_> = truth
        .resources
        .iter()
        .filter(|r| {
            r.user
                .as_ref()
                .is_some_and(|u| u.status == roster_core::UserStatus::Disabled)
        })
        .map(|r| r.id.clone())
        .collect();
    let hidden = truth
        .grants
        .iter()
        .filter(|g| g.entitlement.slug == "member" && disabled.contains(&g.principal.id))
        .count();
    assert!(hidden > 0, "the org has deactivated team members");
    assert_conforms(&snap, &truth.expected());
    assert!(
        summary.warnings.iter().any(|w| w.starts_with("notice:")
            && w.contains("users.listTeams")
            && w.contains("moderator")),
        "{:?}",
        summary.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn deactivated_users_memberships_unreadable_give_a_notice_not_a_failure() {
    let (sim, _) = new_sim(medium(), true, Duration::ZERO);
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/users.listTeams", Fault::NotFound, 10_000));
    let c = connector(config(&server, &sim.admin()));
    let (summary, _) = sync(&c).await;
    assert!(summary.complete, "{:?}", summary.warnings);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.starts_with("notice:") && w.contains("deactivated users are not visible")),
        "{:?}",
        summary.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn both_401_bodies_give_the_servers_message() {
    for legacy in [false, true] {
        let mut o = SimOptions::default();
        o.legacy_unauthorized_body = legacy;
        let sim = RocketChatSim::with_options(OrgSpec::small(), o);
        let server = sim.spawn().await;
        let mut creds = sim.admin();
        creds.token = "wrong".into();
        let c = connector(config(&server, &creds));
        let err = c
            .client()
            .json::<serde_json::Value>(&roster_core::Endpoint::get("/api/v1/me").call())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("You must be logged in to do this."),
            "{err}"
        );
    }
}

// ---------------------------------------------------- fast by default (16)

#[tokio::test(start_paused = true)]
async fn bypassing_admin_with_default_flags_makes_no_rate_limit_waits() {
    let (sim, _) = new_sim(medium(), true, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let start = Instant::now();
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(summary.stats.rate_limit_waits, 0, "{summary:?}");
    assert_eq!(summary.stats.rate_limit_wait_ms, 0);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn server_announcing_ten_per_second_is_paced_by_its_headers() {
    let mut o = SimOptions::default();
    o.rate_limit = Some(FixedWindow {
        calls: 10,
        window: Duration::from_secs(1),
    });
    o.admin_bypasses_rate_limit = false;
    let anchor = Instant::now();
    let sim = RocketChatSim::with_options(medium(), o);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let report = c.validate().await.unwrap();
    let rl = report.rate_limit.as_ref().unwrap();
    assert!(rl.detail.contains("paced by the server's"), "{}", rl.detail);
    assert!(rl.detail.contains("10 calls per 1.0 s"), "{}", rl.detail);
    // The advice never suggests less than the limit in force.
    for a in &report.plan.as_ref().unwrap().advice {
        assert!(!a.to_string().contains("per 1 min"), "{a}");
    }
    let start = Instant::now();
    let (_, snap) = sync(&c).await;
    let took = start.elapsed();
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(sim.log().count_status(429), 0);
    assert_fixed_window_pacing(&sim, anchor, Duration::from_secs(1), 10);
    // 34 teams' members at 10 per second: a few seconds, not 10 per minute.
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn unknown_server_falls_back_to_ten_per_minute() {
    // No headers (the server sends none) and no bypass permission: nothing
    // says the token may go faster.
    let mut o = SimOptions::default();
    o.rate_limit = None;
    o.admin_bypasses_rate_limit = false;
    let sim = RocketChatSim::with_options(medium(), o);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    let report = c.validate().await.unwrap();
    let rl = report.rate_limit.as_ref().unwrap();
    assert!(
        rl.detail.contains("stock 10 calls per 1 min"),
        "{}",
        rl.detail
    );
    let (summary, snap) = sync(&c).await;
    assert_conforms(&snap, &sim.ground_truth().expected());
    // 34 teams.members calls: a burst of 10, then one every 6 s.
    assert!(summary.stats.rate_limit_waits > 0);
    let members = summary.stats.requests_by_endpoint["GET /api/v1/teams.members"];
    assert_eq!(members, 34);
    assert!(
        Duration::from_millis(summary.elapsed_ms) >= Duration::from_secs(6 * (members - 10)),
        "{summary:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn bypass_revoked_mid_sync_switches_to_the_servers_pace_without_a_429_storm() {
    let spec = OrgSpec {
        users: 300,
        teams: 60,
        avg_members: 6,
        custom_roles: 2,
        seed: 4,
    };
    let (sim, anchor) = new_sim(spec, true, Duration::ZERO);
    let server = sim.spawn().await;
    let c = connector(config(&server, &sim.admin()));
    c.validate().await.unwrap();
    // Each members read takes 100 ms, so the sync is under way when, after
    // 15 of them, the admins lose api-bypass-rate-limit.
    sim.faults().add(FaultRule::new(
        "/teams.members",
        Fault::Slow(Duration::from_millis(100)),
        10_000,
    ));
    let watcher = {
        let sim = sim.clone();
        tokio::spawn(async move {
            while calls_to(&sim, "/teams.members") < 15 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            sim.set_permission_roles("api-bypass-rate-limit", &["bot", "app"]);
            (calls_to(&sim, "/teams.members"), Instant::now())
        })
    };
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default().validate(false).concurrency(8))
        .run(&c, &mut sink)
        .await
        .unwrap();
    let (switched_at, switched) = watcher.await.unwrap();
    eprintln!(
        "switched after {switched_at} members reads: {:?}, {} rejected",
        summary.stats.requests_by_endpoint,
        sim.log().count_status(429)
    );
    assert_conforms(&sink.snapshot(), &sim.ground_truth().expected());
    // At most the calls in flight at the switch are rejected, then the
    // server's headers pace.
    let rejected = sim.log().count_status(429);
    assert!(rejected <= 8, "{rejected} rejections");
    assert!(summary.stats.rate_limit_waits > 0);
    // Windows after the switch are never overfilled.
    assert_limited_calls_pacing(&sim, anchor, Some(switched), MINUTE, 10);
}

#[tokio::test(start_paused = true)]
async fn two_syncs_sharing_one_limiter_stay_within_every_window() {
    let (sim, anchor) = new_sim(medium(), false, Duration::from_secs(5));
    let server = sim.spawn().await;
    let shared = roster_rocketchat::shared_limiter();
    let a = connector(config(&server, &sim.admin()).shared_limiter(shared.clone()));
    let b = connector(config(&server, &sim.admin()).shared_limiter(shared));
    let ((_, snap_a), (_, snap_b)) = tokio::join!(sync(&a), sync(&b));
    for snap in [snap_a, snap_b] {
        assert_conforms(&snap, &sim.ground_truth().expected());
    }
    assert_eq!(sim.log().count_status(429), 0);
    assert_fixed_window_pacing(&sim, anchor, MINUTE, 10);
}

#[tokio::test(start_paused = true)]
async fn advice_never_offers_less_than_the_limit_in_force() {
    let mut o = SimOptions::default();
    o.rate_limit = Some(FixedWindow {
        calls: 10,
        window: Duration::from_secs(1),
    });
    o.admin_bypasses_rate_limit = false;
    let spec = OrgSpec {
        users: 300,
        teams: 250,
        avg_members: 3,
        custom_roles: 2,
        seed: 8,
    };
    let sim = RocketChatSim::with_options(spec, o);
    let server = sim.spawn().await;
    // A client quota slower than the server's 10 per second.
    let c = connector(
        config(&server, &sim.admin()).rate_limit(Some(RateLimit::per_endpoint(100, MINUTE))),
    );
    let report = c.validate().await.unwrap();
    assert_no_cli_words(&report);
    let advice = &report.plan.as_ref().unwrap().advice;
    assert!(
        advice.iter().any(|a| matches!(
            a,
            Advice::RateLimit { why, choices, .. }
                if why.contains("slower than the server's limit")
                    && choices.contains(&RateLimitChoice::Auto)
        )),
        "{advice:?}"
    );
    assert!(
        !advice
            .iter()
            .any(|a| matches!(a, Advice::RaiseServerLimit { .. })),
        "{advice:?}"
    );
    // Auto: the server paces; the advice to raise it names the admin path
    // and the settings, at three times the server's own rate.
    let report = connector(config(&server, &sim.admin()))
        .validate()
        .await
        .unwrap();
    let plan = report.plan.as_ref().unwrap();
    let raise: Vec<_> = plan
        .advice
        .iter()
        .filter(|a| matches!(a, Advice::RaiseServerLimit { .. }))
        .map(|a| a.to_string())
        .collect();
    assert_eq!(raise.len(), 1, "{:?}", plan.advice);
    for a in &raise {
        assert!(a.contains("30 calls per 1.0 s"), "{a}");
        assert!(
            a.contains("Administration > Workspace > Settings > Rate Limiter")
                && a.contains("API_Enable_Rate_Limiter_Limit_Calls_Default")
                && a.contains("API_Enable_Rate_Limiter_Limit_Time_Default"),
            "{a}"
        );
    }
}
