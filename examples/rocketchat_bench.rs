//! Benchmark: a rate-limited Rocket.Chat sync against the in-process
//! simulator, on real time, with the server's window shortened to 10 calls
//! per 1 s per endpoint and a matching client quota. Org: 2,000 users,
//! 200 teams.
//!
//! Run with:
//!
//! ```text
//! cargo run --release --example rocketchat_bench
//! ```
//!
//! Prints the wall time of the sync, the requests per endpoint bucket, the
//! 429 count, the fixed-window lower bound
//! `max over buckets (ceil(requests / limit) − 1) × window`, their ratio, the
//! validation plan's estimate, and whether the target
//! `wall ≤ 1.05 × bound + 1 window, zero 429s` was met (exit 1 if not).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use roster::core::ratelimit::fixed_window_lower_bound;
use roster::core::{Connector, MemorySink, RateLimit, SyncEngine, SyncOptions};
use roster::rocketchat::{RocketChatConfig, RocketChatConnector};
use roster_sim::rocketchat::{FixedWindow, OrgSpec, RocketChatSim, SimOptions};

const CALLS: u32 = 10;
const WINDOW: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> ExitCode {
    let spec = OrgSpec {
        users: 2000,
        teams: 200,
        avg_members: 40,
        custom_roles: 8,
        seed: 42,
    };
    let mut options = SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: CALLS,
        window: WINDOW,
    });
    let anchor = roster::core::clock::unix_millis();
    let sim = RocketChatSim::with_options(spec.clone(), options);
    let server = sim.spawn().await;
    let creds = sim.admin();
    let config = RocketChatConfig::new(server.base_url(), creds.user_id, creds.token.into())
        .rate_limit(Some(RateLimit::per_endpoint(CALLS, WINDOW)));
    let connector = RocketChatConnector::new(config).expect("config");

    println!(
        "org: {} users (+4), {} teams of ~{} members; server limit {CALLS} calls per {WINDOW:?} per endpoint (fixed window), client quota the same; limited admin token",
        spec.users, spec.teams, spec.avg_members
    );
    let t = Instant::now();
    let report = connector.validate().await.expect("validate");
    let validate_time = t.elapsed();
    let estimate = report.plan.as_ref().map(|p| p.estimated());
    assert!(report.sync_possible(), "{report}");

    let engine = SyncEngine::new(SyncOptions {
        validate: false,
        ..SyncOptions::default()
    });
    let mut sink = MemorySink::default();
    let t = Instant::now();
    let summary = engine.run(&connector, &mut sink).await.expect("sync");
    let wall = t.elapsed();
    let truth = sim.ground_truth();
    let snap = sink.snapshot();

    println!("validation: {validate_time:.2?} (plan estimate for the sync: {estimate:.2?})");
    println!("sync wall time: {wall:.3?}");
    println!("complete: {}", summary.complete);
    println!(
        "records: {} resources (truth {}), {} grants (truth {})",
        snap.resources.len(),
        truth.resources.len(),
        snap.grants.len(),
        truth.grants.len()
    );
    let mut bound = Duration::ZERO;
    println!("requests per bucket:");
    for (bucket, n) in &summary.requests_by_endpoint {
        let b = fixed_window_lower_bound(*n, u64::from(CALLS), WINDOW);
        bound = bound.max(b);
        println!("  {bucket:<32} {n:>5}  (lower bound {b:.1?})");
    }
    let rejected = sim.log().count_status(429);
    println!(
        "requests: {}, retries: {}, 429s: {rejected} (client saw {}), rate-limit waits: {:.1} s total",
        summary.requests,
        summary.retries,
        summary.rate_limited,
        summary.rate_limit_wait_ms as f64 / 1000.0
    );
    let ratio = wall.as_secs_f64() / bound.as_secs_f64().max(f64::EPSILON);
    let target = bound.mul_f64(1.05) + WINDOW;
    println!(
        "lower bound (busiest bucket): {bound:.3?}; wall / bound = {ratio:.3}; target ≤ {target:.3?}"
    );
    let ok = summary.complete
        && rejected == 0
        && wall <= target
        && snap.resources.len() == truth.resources.len()
        && snap.grants.len() == truth.grants.len();
    if std::env::args().any(|a| a == "--windows") {
        // Calls per server window of each bucket.
        let w = WINDOW.as_millis() as u64;
        let mut per: std::collections::BTreeMap<(String, u64), (usize, u64, u64)> =
            std::collections::BTreeMap::new();
        for e in sim.log().entries() {
            let idx = (e.at_ms.saturating_sub(anchor)) / w;
            let off = e.at_ms.saturating_sub(anchor) % w;
            let slot = per.entry((e.path.clone(), idx)).or_insert((0, u64::MAX, 0));
            slot.0 += 1;
            slot.1 = slot.1.min(off);
            slot.2 = slot.2.max(off);
        }
        for ((path, idx), (n, first, last)) in per {
            println!("  {path:<28} window {idx:>3}: {n:>2} calls, at +{first}..+{last} ms");
        }
    }
    println!("target met: {}", if ok { "yes" } else { "NO" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
