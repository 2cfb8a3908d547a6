//! End-to-end tests of the Mattermost connector against the in-process
//! simulator: exact set equality with the simulator's ground truth, paging
//! over the 200 cap, validation refusals, and every fault kind.

mod common;

use std::time::Duration;

use common::{config, connector, exact, fast_retry};
use roster_core::CheckStatus;
use roster_core::testkit::assert_conforms;
use roster_core::{Connector, Error, MemorySink, Snapshot, Summary, SyncEngine, SyncOptions};
use roster_mattermost::{MattermostConfig, MattermostConnector};
use roster_sim::mattermost::{MattermostSim, OrgSpec, SimOptions};
use roster_sim::{Fault, FaultRule};
use secrecy::SecretString;

async fn sync_with(
    conn: &MattermostConnector,
    options: SyncOptions,
) -> (roster_core::Result<Summary>, MemorySink) {
    let mut sink = MemorySink::default();
    let result = SyncEngine::new(options).run(conn, &mut sink).await;
    (result, sink)
}

async fn sync(conn: &MattermostConnector) -> (Summary, Snapshot) {
    let (result, sink) = sync_with(conn, SyncOptions::default()).await;
    let summary = result.expect("sync runs");
    (summary, sink.snapshot())
}

fn spec(users: usize, teams: usize, avg_members: usize, seed: u64) -> OrgSpec {
    OrgSpec {
        users,
        teams,
        avg_members,
        seed,
    }
}

fn no_validation() -> SyncOptions {
    SyncOptions::default().validate(false)
}

// ------------------------------------------------------------ exact sync

#[tokio::test]
async fn small_org_sync_equals_ground_truth() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));

    let header = snap.header.as_ref().expect("header");
    assert_eq!(header.connector, "mattermost");
    assert_eq!(header.source, server.base_url());
    assert_eq!(summary.counts.resource as usize, snap.resources.len());
    assert_eq!(summary.counts.grant as usize, snap.grants.len());
    assert_eq!(summary.stats.retries, 0);
    // Enrichment really happened (the simulator has logins and activity).
    let users = snap.resources.iter().filter_map(|r| r.user.as_ref());
    assert!(users.clone().any(|u| u.last_login_at.is_some()));
    assert!(users.clone().any(|u| u.last_activity_at.is_some()));
}

#[tokio::test]
async fn bot_token_syncs_when_personal_access_tokens_are_disabled() {
    let options = SimOptions::default().with_personal_access_tokens(false);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::BOT_TOKEN));
    let (_, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test]
async fn paging_over_the_200_cap_reads_every_member() {
    let options = SimOptions::default().with_big_team(470);
    let spec = OrgSpec {
        users: 520,
        teams: 4,
        avg_members: 30,
        seed: 3,
    };
    let sim = MattermostSim::with_options(spec, options);
    let server = sim.spawn().await;
    // Asking for more than the cap must not stop after the first page.
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (_, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));

    let big = &sim.team_ids()[0];
    let members = snap
        .grants
        .iter()
        .filter(|g| g.entitlement.resource.id.as_str() == big && g.entitlement.slug == "member")
        .count();
    assert_eq!(members, 470);
    let member_pages: Vec<String> = sim
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.path == format!("/api/v4/teams/{big}/members"))
        .map(|e| e.query)
        .collect();
    // 200 + 200 + 70, then the same three pages once more: a multi-page
    // member listing is confirmed by a second read (removals during the
    // first would have skipped a member silently).
    assert_eq!(member_pages.len(), 6, "{member_pages:?}");
    assert!(member_pages.iter().all(|q| q.contains("per_page=200")));
    // More than 200 users: the users listing paged too.
    assert!(snap.resources.iter().filter(|r| r.user.is_some()).count() > 470);
}

#[tokio::test]
async fn a_membership_removed_while_a_big_team_is_read_skips_nobody() {
    let options = SimOptions::default().with_big_team(470);
    let spec = OrgSpec {
        users: 520,
        teams: 3,
        avg_members: 10,
        seed: 4,
    };
    let sim = MattermostSim::with_options(spec, options);
    let server = sim.spawn().await;
    let big = sim.team_ids()[0].clone();
    // The member who leaves was read before leaving: the snapshot is the
    // organisation as it was when the sync started.
    let before = exact(&sim);
    // Before page 1 of the big team, its first member leaves: every later
    // row moves up one, and the row that was first on page 1 is now last
    // on page 0, which was already read. No id repeats.
    sim.faults().add(
        FaultRule::new(
            &format!("/api/v4/teams/{big}/members"),
            Fault::ShiftPages,
            1,
        )
        .after(1),
    );
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, sink) = sync_with(&conn, no_validation()).await;
    summary.expect("sync runs");
    let truth_members = sim
        .ground_truth()
        .grants
        .iter()
        .filter(|g| g.entitlement.resource.id.as_str() == big && g.entitlement.slug == "member")
        .count();
    assert_eq!(truth_members, 469, "the fault removed one member");
    // No member skipped by the shift, nobody else either.
    assert_conforms(&sink.snapshot(), &before);
}

// ------------------------------------------------------------ validation

#[tokio::test]
async fn non_admin_token_is_refused_naming_system_admin() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::USER_TOKEN));

    let report = conn.validate().await.expect("the server answered");
    assert!(!report.sync_possible());
    let failed: Vec<_> = report.failures().map(|c| c.name.clone()).collect();
    assert_eq!(failed, ["permission:manage_system"]);
    let kinds: Vec<_> = report.failures().map(|c| c.kind).collect();
    assert_eq!(kinds, [roster_core::CheckKind::Permission]);

    let (result, sink) = sync_with(&conn, SyncOptions::default()).await;
    match result {
        Err(Error::Validation(report)) => {
            let msg = report.failure_summary();
            assert!(msg.contains("System Admin"), "{msg}");
            assert!(msg.contains("manage_system"), "{msg}");
            assert!(msg.contains("open teams"), "says why: {msg}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert!(sink.records.is_empty(), "nothing may be written");
    // Validation never listed teams: refusing is cheap.
    assert!(
        sim.log()
            .entries()
            .iter()
            .all(|e| !e.path.ends_with("/members"))
    );
}

#[tokio::test]
async fn non_admin_token_without_validation_gives_an_incomplete_snapshot_naming_system_admin() {
    // Issue 12: a library caller may skip validation. Mattermost then
    // answers `/teams` with the open teams only; the snapshot must not
    // pass for complete.
    let sim = MattermostSim::new(spec(60, 12, 6, 3));
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::USER_TOKEN));
    let (result, sink) = sync_with(&conn, no_validation()).await;
    result.expect("the sync runs");
    let mut snap = sink.snapshot();
    // What was written is true, apart from the activity a non-admin
    // cannot read.
    snap.resources.iter_mut().for_each(no_enrichment);
    let expected = sim.ground_truth().expected().map_resources(no_enrichment);
    let expected = expected
        .incomplete("manage_system")
        .incomplete("System Admin");
    assert_conforms(&snap, &expected.missing_allowed());
    let teams: Vec<_> = snap
        .resources
        .iter()
        .filter(|r| r.resource_type == roster_core::ResourceType::Team)
        .collect();
    assert!(!teams.is_empty(), "the open teams are still written");
    assert!(teams.iter().all(|t| t.profile["team_type"] == "O"));
    // One question to /users/me, before any team is read.
    let log = sim.log().entries();
    let me = log.iter().position(|e| e.path == "/api/v4/users/me");
    let first_team = log.iter().position(|e| e.path == "/api/v4/teams");
    assert!(me.is_some() && me < first_team, "{me:?} {first_team:?}");
}

#[tokio::test]
async fn a_validated_admin_is_not_asked_again() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
    assert_eq!(
        summary
            .stats
            .requests_by_endpoint
            .get("GET /api/v4/users/me"),
        None,
        "validation already knew: {:?}",
        summary.stats.requests_by_endpoint
    );
}

#[tokio::test]
async fn bad_token_fails_validation_as_invalid_or_expired() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, "not-a-token"));
    let (result, sink) = sync_with(&conn, SyncOptions::default()).await;
    let Err(Error::Validation(report)) = result else {
        panic!("expected a validation error, got {result:?}");
    };
    let msg = report.failure_summary();
    assert!(msg.contains("token invalid or expired"), "{msg}");
    assert!(!msg.contains("not-a-token"), "the token leaked: {msg}");
    assert!(!format!("{conn:?}").contains("not-a-token"), "{conn:?}");
    assert!(sink.records.is_empty());
}

#[tokio::test]
async fn disabled_personal_access_tokens_suggest_enabling_them_or_a_bot_token() {
    let options = SimOptions::default().with_personal_access_tokens(false);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let report = conn.validate().await.expect("the server answered");
    let auth = report
        .checks
        .iter()
        .find(|c| c.name == "authenticated")
        .expect("auth check");
    assert_eq!(auth.status, CheckStatus::Fail);
    assert!(
        auth.detail.contains("Enable Personal Access Tokens"),
        "{}",
        auth.detail
    );
    assert!(auth.detail.contains("bot token"), "{}", auth.detail);
}

#[tokio::test]
async fn unreachable_server_is_an_error_naming_the_url() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let conn = connector(MattermostConfig::new(url.clone(), SecretString::from("t")));
    let err = conn.validate().await.expect_err("nothing listens");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(err.to_string().contains("Check the base URL"), "{err}");
}

#[tokio::test]
async fn admin_validation_passes_with_a_plan() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let report = conn.validate().await.unwrap();
    assert!(report.sync_possible(), "{report}");
    assert!(
        report.checks.iter().all(|c| c.status == CheckStatus::Pass),
        "{report}"
    );
    let plan = report.plan.as_ref().expect("plan");
    let teams = plan.totals.iter().find(|(k, _)| k == "teams").unwrap().1;
    assert_eq!(teams, 6);
    let rl = report.rate_limit.as_ref().expect("rate-limit status");
    assert!(!rl.limited, "{rl:?}");
    // The plan's member requests match what a sync makes (one page each).
    let members = plan
        .buckets
        .iter()
        .find(|b| b.bucket.ends_with("/members"))
        .unwrap();
    let (summary, _) = sync_with(&conn, no_validation()).await;
    let summary = summary.unwrap();
    assert_eq!(
        summary
            .stats
            .requests_by_endpoint
            .get(&members.bucket)
            .copied(),
        Some(members.requests)
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limited_server_is_reported_planned_and_still_synced_exactly() {
    // 20 per second; MaxBurst 19, so X-RateLimit-Limit (burst + 1) is 20 too.
    let options = SimOptions::default().with_rate_limit(20, 19);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    let server = sim.spawn().await;
    let conn =
        connector(config(&server, MattermostSim::ADMIN_TOKEN).timeout(Duration::from_secs(3600)));
    let report = conn.validate().await.unwrap();
    let rl = report.rate_limit.as_ref().expect("rate-limit status");
    assert!(rl.limited, "{rl:?}");
    assert!(rl.detail.contains("20 requests/s"), "{}", rl.detail);
    let plan = report.plan.as_ref().expect("plan");
    assert!(plan.buckets.iter().all(|b| b.limit == Some(20)), "{plan:?}");

    let (_, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test(start_paused = true)]
async fn mattermost_default_limits_drain_the_burst_without_429s() {
    // Mattermost's defaults: 10 per second, MaxBurst 100 (X-RateLimit-Limit
    // 101). Regression: a drained bucket used to be refilled with the whole
    // limit after 1/101 s, collecting a storm of 429s.
    let options = SimOptions::default().with_rate_limit(10, 100);
    let spec = OrgSpec {
        users: 400,
        teams: 200,
        avg_members: 5,
        seed: 8,
    };
    let sim = MattermostSim::with_options(spec, options);
    let server = sim.spawn().await;
    let conn = connector(
        config(&server, MattermostSim::ADMIN_TOKEN)
            .per_page(10)
            .timeout(Duration::from_secs(3600)),
    );
    // The plan says the rate is not reported and what the default ratio
    // would mean.
    let report = conn.validate().await.unwrap();
    // Library text names no command-line flag.
    assert!(!report.to_string().contains("--"), "{report}");
    let plan = report.plan.expect("plan");
    assert!(
        plan.advice
            .iter()
            .map(|a| a.to_string())
            .any(|a| a.contains("PerSec") && a.contains("burst (101 requests)")),
        "{:?}",
        plan.advice
    );
    // The real rate is named as data, for a front end to render its way.
    assert!(
        plan.advice.iter().any(|a| matches!(
            a,
            roster_core::plan::Advice::FixedRateOf { rate, window_ms: 1000, .. } if rate == "PerSec"
        )),
        "{:?}",
        plan.advice
    );
    let before = sim.log().entries().len();
    let started = tokio::time::Instant::now();
    let (summary, snap) = sync(&conn).await;
    let elapsed = started.elapsed();
    assert_conforms(&snap, &exact(&sim));
    assert!(
        summary.stats.requests > 250,
        "the burst was drained: {}",
        summary.stats.requests
    );
    assert_eq!(sim.log().count_status(429), 0, "paced, never rejected");
    // Gentle but not slow: within 1% of the token bucket's bound. The
    // bucket was drained by the first validation's requests only in part:
    // what is left of the burst, then 10 per second.
    let total = sim.log().entries().len();
    let spent_before = before.min(101);
    let burst_left = 101 - spent_before;
    let bound = Duration::from_secs_f64((total - before).saturating_sub(burst_left) as f64 / 10.0);
    assert!(
        elapsed <= bound.mul_f64(1.01),
        "elapsed {elapsed:?}, token-bucket bound {bound:?}"
    );
}

// ------------------------------------------------------------ faults

#[tokio::test]
async fn server_error_bursts_are_retried_to_an_exact_snapshot() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/members", Fault::ServerError(503), 2));
    sim.faults()
        // Past validation's team listing and its six `/stats` samples.
        .add(FaultRule::new("/api/v4/teams", Fault::ServerError(502), 2).after(10));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync(&conn).await;
    assert!(
        summary.stats.retries >= 4,
        "retries: {}",
        summary.stats.retries
    );
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_answers_are_waited_out_and_counted() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/members", Fault::RateLimited, 2));
    let conn =
        connector(config(&server, MattermostSim::ADMIN_TOKEN).timeout(Duration::from_secs(3600)));
    let (summary, snap) = sync(&conn).await;
    assert_eq!(summary.stats.rate_limited, 2);
    assert!(summary.stats.retries >= 2);
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test]
async fn connection_resets_and_truncated_json_are_retried() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/api/v4/users", Fault::ConnectionReset, 2));
    sim.faults()
        .add(FaultRule::new("/members", Fault::TruncatedJson, 2));
    sim.faults()
        .add(FaultRule::new("/api/v4/teams", Fault::MalformedJson, 1));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync_with(&conn, no_validation()).await;
    let summary = summary.unwrap();
    let snap = snap.snapshot();
    assert!(
        summary.stats.retries >= 5,
        "retries: {}",
        summary.stats.retries
    );
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test]
async fn token_revoked_mid_sync_gives_an_incomplete_snapshot() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    conn.validate().await.unwrap();
    // From the 4th request of the sync on, every answer is 401.
    sim.faults()
        .add(FaultRule::new("", Fault::Unauthorized, u32::MAX).after(3));
    let (summary, sink) = sync_with(&conn, no_validation()).await;
    summary.expect("a summary is still written");
    // Nothing untrue written; activity read before the revocation or not.
    let mut snap = sink.snapshot();
    snap.resources.iter_mut().for_each(no_enrichment);
    let expected = sim.ground_truth().expected().map_resources(no_enrichment);
    assert_conforms(&snap, &expected.incomplete("401").missing_allowed());
}

#[tokio::test]
async fn a_team_deleted_mid_sync_is_named_in_the_warnings() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let team = sim.team_ids()[2].clone();
    sim.faults().add(FaultRule::new(
        &format!("/teams/{team}/members"),
        Fault::NotFound,
        1,
    ));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (_, snap) = sync(&conn).await;
    // Everything else is there.
    let expected = sim
        .ground_truth()
        .expected()
        .retain_grants(|g| g.entitlement.resource.id.as_str() != team);
    assert_conforms(&snap, &expected.incomplete(&team).incomplete("404"));
}

#[tokio::test]
async fn exhausted_retries_on_one_team_give_complete_false_with_a_warning() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let team = sim.team_ids()[1].clone();
    sim.faults().add(FaultRule::new(
        &format!("/teams/{team}/members"),
        Fault::ServerError(503),
        u32::MAX,
    ));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync(&conn).await;
    let expected = sim
        .ground_truth()
        .expected()
        .retain_grants(|g| g.entitlement.resource.id.as_str() != team);
    assert_conforms(&snap, &expected.incomplete(&team).incomplete("503"));
    assert!(summary.stats.retries >= fast_retry().max_retries as u64);
}

#[tokio::test]
async fn shifting_user_pages_miss_nothing_and_duplicate_nothing() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    // Small pages so the listing has several; the second matching request
    // (the status lookup of page 0) inserts a user sorting first.
    sim.faults()
        .add(FaultRule::new("/api/v4/users", Fault::ShiftPages, 1).after(1));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN).per_page(10));
    let (summary, sink) = sync_with(&conn, no_validation()).await;
    summary.unwrap();
    let snap = sink.snapshot();
    // The truth after the sync includes the inserted user.
    let truth = sim.ground_truth();
    assert_eq!(
        truth.resources.iter().filter(|r| r.user.is_some()).count(),
        26
    );
    assert_conforms(&snap, &truth.expected().without_notices());
    assert!(
        snap.resources.iter().any(|r| r
            .user
            .as_ref()
            .is_some_and(|u| u.login.starts_with("aaa-shift"))),
        "the inserted user was found by the re-read"
    );
    let first_pages = sim
        .log()
        .entries()
        .iter()
        .filter(|e| e.path == "/api/v4/users" && e.query.contains("page=0&"))
        .count();
    assert_eq!(first_pages, 2, "the shifted listing was read twice");
}

#[tokio::test]
async fn duplicate_rows_are_written_once() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/members", Fault::DuplicateRows, 3));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (_, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test]
async fn unavailable_enrichment_warns_but_keeps_the_snapshot_complete() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults().add(FaultRule::new(
        "/reports/users",
        Fault::ServerError(501),
        u32::MAX,
    ));
    sim.faults().add(FaultRule::new(
        "/users/status/ids",
        Fault::ServerError(501),
        u32::MAX,
    ));
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN).per_page(10));

    let report = conn.validate().await.unwrap();
    assert!(report.sync_possible(), "{report}");
    let warned: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Warn)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        warned,
        ["enrichment:last_login", "enrichment:last_activity"]
    );

    let (summary, snap) = sync(&conn).await;
    assert!(summary.complete, "{:?}", summary.warnings);
    // Said in the summary, as notices, without marking it incomplete.
    assert_eq!(summary.warnings.len(), 2, "{:?}", summary.warnings);
    assert!(
        summary
            .warnings
            .iter()
            .all(|w| w.starts_with("notice: last"))
    );
    let users: Vec<_> = snap
        .resources
        .iter()
        .filter_map(|r| r.user.as_ref())
        .collect();
    assert_eq!(users.len(), 25);
    assert!(
        users
            .iter()
            .all(|u| u.last_login_at.is_none() && u.last_activity_at.is_none())
    );
    // After the first failure the status lookup is not asked again.
    let status_calls = sim
        .log()
        .entries()
        .iter()
        .filter(|e| e.path.ends_with("/status/ids"))
        .count();
    assert_eq!(
        status_calls, 3,
        "one in each validation (explicit and the engine's), one in the sync"
    );
    // Apart from the timestamps, the snapshot is exact.
    let expected = sim.ground_truth().expected().map_resources(no_enrichment);
    assert_conforms(&snap, &expected);
}

/// A user as written without the enrichment endpoints.
fn no_enrichment(resource: &mut roster_core::Resource) {
    if let Some(u) = resource.user.as_mut() {
        u.last_login_at = None;
        u.last_activity_at = None;
    }
}

#[tokio::test]
async fn a_report_without_last_login_fields_is_said_not_silently_null() {
    // Issue 12: older layouts of /reports/users carry no `last_login`;
    // every user would get last_login_at null with no word about it.
    let options = SimOptions::default().with_legacy_report_layout(true);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, snap) = sync(&conn).await;
    assert!(summary.complete, "optional data: {:?}", summary.warnings);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.starts_with("notice:") && w.contains("`last_login`")),
        "{:?}",
        summary.warnings
    );
    assert!(
        snap.resources
            .iter()
            .filter_map(|r| r.user.as_ref())
            .all(|u| u.last_login_at.is_none())
    );
    let expected = sim.ground_truth().expected().map_resources(|r| {
        if let Some(u) = r.user.as_mut() {
            u.last_login_at = None;
        }
    });
    assert_conforms(&snap, &expected);

    // A full page without the field is said too, without waiting for the
    // end of the listing.
    let options = SimOptions::default().with_legacy_report_layout(true);
    let sim = MattermostSim::with_options(spec(450, 3, 3, 9), options);
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, _) = sync(&conn).await;
    let said: Vec<_> = summary
        .warnings
        .iter()
        .filter(|w| w.contains("`last_login`"))
        .collect();
    assert_eq!(said.len(), 1, "said once: {:?}", summary.warnings);
    assert!(said[0].contains("a page of 100 users"), "{said:?}");
}

#[tokio::test]
async fn users_who_never_logged_in_are_not_mistaken_for_a_missing_field() {
    // `last_login` is omitted for users who never logged in: that alone
    // is no notice.
    let sim = MattermostSim::new(spec(450, 3, 3, 9));
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (_, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
}

#[tokio::test]
async fn last_logins_are_read_as_parallel_segments_covering_every_user_once() {
    // Pages of 10 users: every page is one segment whose cursor is the
    // previous page's last row; each reads one report page and keeps only
    // its own humans, so last logins at every boundary are exact.
    let sim = MattermostSim::new(spec(300, 4, 3, 21));
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN).per_page(10));
    let (summary, sink) = sync_with(&conn, no_validation()).await;
    summary.unwrap();
    assert_conforms(&sink.snapshot(), &exact(&sim));
    let log = sim.log().entries();
    let reports: Vec<_> = log
        .iter()
        .filter(|e| e.path == "/api/v4/reports/users")
        .collect();
    let user_pages = log.iter().filter(|e| e.path == "/api/v4/users").count();
    // One report request per page with humans, none chained.
    assert!(
        reports.len() <= user_pages,
        "{} > {user_pages}",
        reports.len()
    );
    assert!(reports.len() >= 29, "{}", reports.len());
    assert_eq!(
        reports
            .iter()
            .filter(|e| !e.query.contains("from_id="))
            .count(),
        1,
        "only the first segment starts at the beginning"
    );
    assert!(reports.iter().all(|e| e.status == 200));

    // With the default page size, two segments per page of 200.
    let sim = MattermostSim::new(spec(1_000, 4, 3, 22));
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    let (summary, sink) = sync_with(&conn, no_validation()).await;
    let summary = summary.unwrap();
    assert_conforms(&sink.snapshot(), &exact(&sim));
    assert_eq!(
        summary
            .stats
            .requests_by_endpoint
            .get("GET /api/v4/reports/users"),
        Some(&10),
        "{:?}",
        summary.stats.requests_by_endpoint
    );
}

#[tokio::test]
async fn disabled_enrichment_makes_no_enrichment_requests() {
    let sim = MattermostSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN).enrich(false));
    let (_, snap) = sync(&conn).await;
    assert!(
        sim.log()
            .entries()
            .iter()
            .all(|e| !e.path.contains("/reports/") && !e.path.contains("/status/"))
    );
    assert_conforms(&snap, &exact(&sim).map_resources(no_enrichment));
}

#[tokio::test(start_paused = true)]
async fn plan_estimate_is_within_ten_percent_of_a_rate_limited_sync() {
    // 10 requests/s, 10 at once (MaxBurst 9): the sync's ~75 requests are
    // paced by the server's token bucket (tokio's paused clock: no real
    // waiting). Mattermost reports the burst, not the rate; with burst ==
    // rate the plan's assumption holds.
    let options = SimOptions::default().with_rate_limit(10, 9);
    let spec = OrgSpec {
        users: 600,
        teams: 60,
        avg_members: 10,
        seed: 5,
    };
    let sim = MattermostSim::with_options(spec, options);
    let server = sim.spawn().await;
    let conn =
        connector(config(&server, MattermostSim::ADMIN_TOKEN).timeout(Duration::from_secs(3600)));
    let report = conn.validate().await.unwrap();
    let plan = report.plan.clone().expect("plan");
    let (summary, snap) = sync(&conn).await;
    assert_conforms(&snap, &exact(&sim));
    let measured = summary.elapsed_ms as f64;
    let estimated = plan.estimated_ms as f64;
    assert!(measured >= 5_000.0, "the server's limit paced the sync");
    assert_eq!(
        summary.stats.rate_limited, 0,
        "paced by headers, never rejected"
    );
    assert!(
        (estimated - measured).abs() <= measured * 0.10,
        "estimated {estimated} ms vs measured {measured} ms; plan {} requests, sync made {}",
        plan.requests(),
        summary.stats.requests
    );
    // The unlimited server's plan for the same org is far shorter.
    let free = MattermostSim::new(spec);
    let free_server = free.spawn().await;
    let free_conn = connector(config(&free_server, MattermostSim::ADMIN_TOKEN));
    let free_plan = free_conn.validate().await.unwrap().plan.expect("plan");
    assert!(free_plan.estimated_ms * 5 < plan.estimated_ms);
    assert!(free_plan.buckets.iter().all(|b| b.limit.is_none()));
}

/// A sink whose output was closed (a broken pipe) after the header.
#[derive(Debug, Default)]
struct ClosedSink;

impl roster_core::Sink for ClosedSink {
    type Error = std::io::Error;
    async fn begin(&mut self, _: &roster_core::Header) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn write(&mut self, _: &roster_core::Record) -> Result<(), Self::Error> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    async fn finish(&mut self, _: &Summary) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[tokio::test]
async fn a_sink_that_fails_stops_the_sync_with_enrichment_in_flight() {
    // Regression: with the users side read ahead in parallel, producers
    // filled the engine's channel after the sink had failed and waited for
    // room forever (the CLI hung on a closed stdout).
    let sim = MattermostSim::new(spec(600, 20, 40, 7));
    let server = sim.spawn().await;
    let conn = connector(config(&server, MattermostSim::ADMIN_TOKEN));
    // A guard, not a timing: before the fix this never returned.
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        SyncEngine::new(SyncOptions::default()).run(&conn, &mut ClosedSink),
    )
    .await
    .expect("the sync stops when its sink fails");
    assert!(matches!(result, Err(Error::Sink { .. })), "{result:?}");
}
