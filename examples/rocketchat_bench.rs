//! Benchmark: Rocket.Chat syncs against the in-process simulator, on real
//! time. Org: 2,000 users, 200 teams. Three runs:
//!
//! 1. **default flags, stock server**: the admin holds
//!    `api-bypass-rate-limit` (Rocket.Chat's default), the connector runs
//!    `--rate-limit auto` (the default): no client quota, no waits;
//! 2. **default flags, limited admin, server 10 per 1 s**: auto adopts the
//!    server's `X-RateLimit-*` numbers;
//! 3. **explicit quota 10/1s, limited admin, server 10 per 1 s**: the
//!    client quota as a hard floor (the former default's behaviour).
//!
//! Then validation's estimates for 6,000 users and 300 teams on a stock
//! server (bypassing admin): default flags versus `--rate-limit 10/60s`.
//!
//! Run with:
//!
//! ```text
//! cargo run --release --example rocketchat_bench
//! ```
//!
//! Prints, per run, the wall time, the requests per endpoint bucket, the
//! 429 count, rate-limit waits, the fixed-window lower bound
//! `max over buckets (ceil(requests / limit) − 1) × window` and the
//! validation plan's estimate, and whether the targets were met (exit 1 if
//! not): run 1 without a single rate-limit wait; runs 2 and 3 with zero
//! 429s; every snapshot equal to the ground truth. The wall time of runs 2
//! and 3 is reported against the bound, not held to it (real time on a
//! shared machine); `tests/rocketchat.rs` holds it to 5 % of the bound on
//! tokio's paused clock (see `docs/performance.md`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use roster::core::RateLimit;
use roster::core::plan::fixed_window_lower_bound;
use roster::core::validate::format_duration;
use roster::rocketchat::{RocketChatConfig, RocketChatConnector};
use roster::{Connector, MemorySink, SyncEngine, SyncOptions};
use roster_sim::rocketchat::{FixedWindow, OrgSpec, RocketChatSim, SimOptions};

const CALLS: u32 = 10;
const WINDOW: Duration = Duration::from_secs(1);

fn spec() -> OrgSpec {
    OrgSpec {
        users: 2000,
        teams: 200,
        avg_members: 40,
        custom_roles: 8,
        seed: 42,
    }
}

/// One sync; `limited`: the server limits the admin at 10 per 1 s;
/// `quota`: an explicit client quota (else the default, auto).
async fn run(label: &str, limited: bool, quota: Option<RateLimit>) -> bool {
    let mut options = SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: CALLS,
        window: WINDOW,
    });
    options.admin_bypasses_rate_limit = !limited;
    let sim = RocketChatSim::with_options(spec(), options);
    let server = sim.spawn().await;
    let creds = sim.admin();
    let mut config = RocketChatConfig::new(server.base_url(), creds.user_id, creds.token.into());
    if let Some(q) = quota {
        config = config.rate_limit(Some(q));
    }
    let connector = RocketChatConnector::new(config).expect("config");

    println!("\n== {label}");
    let t = Instant::now();
    let report = connector.validate().await.expect("validate");
    let validate_time = t.elapsed();
    assert!(report.sync_possible(), "{report}");
    let estimate = report.plan.as_ref().map(|p| p.estimated());
    if let Some(rl) = &report.rate_limit {
        println!("rate limit: {}", rl.detail);
    }

    let engine = SyncEngine::new(SyncOptions::default().validate(false));
    let mut sink = MemorySink::default();
    let t = Instant::now();
    let summary = engine.run(&connector, &mut sink).await.expect("sync");
    let wall = t.elapsed();
    let truth = sim.ground_truth();
    let snap = sink.snapshot();

    println!("validation: {validate_time:.2?} (plan estimate for the sync: {estimate:.2?})");
    println!("sync wall time: {wall:.3?}, complete: {}", summary.complete);
    println!(
        "records: {} resources (truth {}), {} grants (truth {})",
        snap.resources.len(),
        truth.resources.len(),
        snap.grants.len(),
        truth.grants.len()
    );
    let mut bound = Duration::ZERO;
    println!("requests per bucket:");
    for (bucket, n) in &summary.stats.requests_by_endpoint {
        let b = if limited {
            fixed_window_lower_bound(*n, u64::from(CALLS), WINDOW)
        } else {
            Duration::ZERO
        };
        bound = bound.max(b);
        println!("  {bucket:<34} {n:>5}  (lower bound {b:.1?})");
    }
    let rejected = sim.log().count_status(429);
    println!(
        "requests: {}, retries: {}, 429s: {rejected}, rate-limit waits: {} ({:.1} s total)",
        summary.stats.requests,
        summary.stats.retries,
        summary.stats.rate_limit_waits,
        summary.stats.rate_limit_wait_ms as f64 / 1000.0
    );
    let exact = summary.complete
        && snap.resources.len() == truth.resources.len()
        && snap.grants.len() == truth.grants.len();
    let ok = if limited {
        let ratio = wall.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON);
        println!("lower bound (busiest bucket): {bound:.3?}; wall / bound = {ratio:.3}");
        exact && rejected == 0
    } else {
        exact && rejected == 0 && summary.stats.rate_limit_waits == 0
    };
    println!("target met: {}", if ok { "yes" } else { "NO" });
    ok
}

/// Validation's estimate for a big workspace on a stock server.
async fn estimate(quota: Option<RateLimit>) -> (Duration, String) {
    let sim = RocketChatSim::new(OrgSpec {
        users: 6000,
        teams: 300,
        avg_members: 20,
        custom_roles: 8,
        seed: 7,
    });
    let server = sim.spawn().await;
    let creds = sim.admin();
    let mut config = RocketChatConfig::new(server.base_url(), creds.user_id, creds.token.into());
    if let Some(q) = quota {
        config = config.rate_limit(Some(q));
    }
    let report = RocketChatConnector::new(config)
        .expect("config")
        .validate()
        .await
        .expect("validate");
    let plan = report.plan.expect("plan");
    let detail = report.rate_limit.map(|r| r.detail).unwrap_or_default();
    (plan.estimated(), detail)
}

#[tokio::main]
async fn main() -> ExitCode {
    let s = spec();
    println!(
        "org: {} users (+4), {} teams of ~{} members; server limit {CALLS} calls per {WINDOW:?} per endpoint (fixed window) for limited tokens",
        s.users, s.teams, s.avg_members
    );
    let mut ok = true;
    ok &= run("default flags (auto), stock admin (bypasses)", false, None).await;
    ok &= run(
        "default flags (auto), limited admin, server 10 per 1 s",
        true,
        None,
    )
    .await;
    ok &= run(
        "--rate-limit 10/1s, limited admin, server 10 per 1 s",
        true,
        Some(RateLimit::per_endpoint(CALLS, WINDOW)),
    )
    .await;

    println!("\n== validation estimates, 6,000 users + 300 teams, stock server, admin token");
    let (auto, detail) = estimate(None).await;
    println!(
        "default flags (auto): {}  [{detail}]",
        format_duration(auto)
    );
    let (fixed, detail) =
        estimate(Some(RateLimit::per_endpoint(10, Duration::from_secs(60)))).await;
    println!(
        "--rate-limit 10/60s:  {}  [{detail}]",
        format_duration(fixed)
    );
    println!("\nall targets met: {}", if ok { "yes" } else { "NO" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
