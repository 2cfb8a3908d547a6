//! Benchmark of the Mattermost connector against the in-process simulator,
//! synced with enrichment into JSON Lines that are serialised and thrown
//! away. Two scenarios:
//!
//! * **speed goal**: 10,000 users, 1,000 teams, ~40 members each, 10 ms
//!   per request, synced with the default flags (validation, enrichment
//!   and the default concurrency) — the figure compared with a sequential
//!   client (mattermostautodriver takes 14 s; the goal is 0.10x, 1.4 s) —
//!   then without enrichment and at `--concurrency 32` for comparison;
//! * **scale**: 40,000 users, 5,000 teams, about 200,000 memberships,
//!   at the default concurrency, 8 and 1 (`--goal-only` skips it).
//!
//! Run with
//!
//! ```text
//! cargo run --release --example mattermost_bench
//! cargo run --release --example mattermost_bench -- --goal-only
//! cargo run --release --example mattermost_bench -- --latency-ms 10
//! ```
//!
//! The simulator answers in microseconds, which no real server does, so
//! every request gets a fixed added latency (scale: default 5 ms,
//! `--latency-ms`) standing in for the network and the server's database.
//! A last scale run without added latency shows the CPU-bound throughput.
//! Peak RSS is the process's `VmHWM`, reset before each run
//! (`/proc/self/clear_refs`), so it includes the simulator's organisation,
//! which is resident before the sync starts (`rss before`).

use std::time::{Duration, Instant};

use roster::mattermost::{MattermostConfig, MattermostConnector};
use roster::{JsonlSink, Summary, SyncEngine, SyncOptions};
use roster_sim::mattermost::{MattermostSim, OrgSpec};
use roster_sim::{Fault, FaultRule};
use secrecy::SecretString;

/// A `/proc/self/status` field in MiB (Linux only).
fn proc_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB"))
}

struct Run {
    label: String,
    wall: Duration,
    summary: Summary,
    rss_before: Option<f64>,
    peak: Option<f64>,
}

async fn run(base: &str, label: &str, concurrency: usize) -> Run {
    let options = SyncOptions::default()
        .concurrency(concurrency)
        .validate(false);
    run_with(base, label, options, true).await
}

async fn run_with(base: &str, label: &str, options: SyncOptions, enrich: bool) -> Run {
    let config =
        MattermostConfig::new(base, SecretString::from(MattermostSim::ADMIN_TOKEN)).enrich(enrich);
    let connector = MattermostConnector::new(config).expect("config");
    let rss_before = proc_mib("VmRSS:");
    // Resets VmHWM to the current RSS (Linux ≥ 4.0); harmless elsewhere.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let mut sink = JsonlSink::new(tokio::io::sink());
    let started = Instant::now();
    let summary = SyncEngine::new(options)
        .run(&connector, &mut sink)
        .await
        .expect("sync");
    let wall = started.elapsed();
    let run = Run {
        label: label.to_owned(),
        wall,
        summary,
        rss_before,
        peak: proc_mib("VmHWM:"),
    };
    let s = &run.summary;
    eprintln!(
        "{:<34} {:>7.2} s  {:>6} requests  {:>7.0} req/s  {} resources, {} entitlements, {} grants  complete={}  peak RSS {} (rss before {})",
        run.label,
        wall.as_secs_f64(),
        s.stats.requests,
        s.stats.requests as f64 / wall.as_secs_f64(),
        s.counts.resource,
        s.counts.entitlement,
        s.counts.grant,
        s.complete,
        mib(run.peak),
        mib(run.rss_before),
    );
    run
}

fn exact(runs: &[&Run], truth: &roster_sim::GroundTruth) -> bool {
    runs.iter().all(|r| {
        let c = r.summary.counts;
        r.summary.complete
            && c.resource as usize == truth.resources.len()
            && c.entitlement as usize == truth.entitlements.len()
            && c.grant as usize == truth.grants.len()
    })
}

/// The speed goal's scenario; `true` when every run was exact.
async fn speed_goal() -> bool {
    let spec = OrgSpec {
        users: 10_000,
        teams: 1_000,
        avg_members: 40,
        seed: 42,
    };
    let sim = MattermostSim::new(spec);
    let server = sim.spawn().await;
    let base = server.base_url();
    sim.faults().add(FaultRule::new(
        "",
        Fault::Slow(Duration::from_millis(10)),
        u32::MAX,
    ));
    let defaults = SyncOptions::default();
    eprintln!(
        "speed goal: {} users, {} teams, +10 ms per request; sequential peer 14 s, goal <= 1.40 s",
        sim.user_count(),
        sim.team_ids().len()
    );
    let default_flags = run_with(
        &base,
        &format!("default flags (concurrency {})", defaults.concurrency),
        defaults,
        true,
    )
    .await;
    let no_enrich = run_with(&base, "default flags, --no-enrich", defaults, false).await;
    let mid = run_with(&base, "--concurrency 16", defaults.concurrency(16), true).await;
    let wide = run_with(&base, "--concurrency 32", defaults.concurrency(32), true).await;
    eprintln!(
        "default flags: {:.2} s = {:.3}x the sequential peer's 14 s (goal 0.10x)",
        default_flags.wall.as_secs_f64(),
        default_flags.wall.as_secs_f64() / 14.0
    );
    let truth = sim.ground_truth();
    let ok = exact(&[&default_flags, &mid, &wide], &truth)
        && no_enrich.summary.complete
        && no_enrich.summary.counts.grant as usize == truth.grants.len();
    eprintln!("every speed-goal run complete with matching counts: {ok}\n");
    ok
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let goal_ok = speed_goal().await;
    if args.iter().any(|a| a == "--goal-only") {
        if !goal_ok {
            std::process::exit(1);
        }
        return;
    }
    let latency_ms: u64 = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let spec = OrgSpec {
        users: 40_000,
        teams: 5_000,
        avg_members: 40,
        seed: 42,
    };
    let generated = Instant::now();
    let sim = MattermostSim::new(spec);
    let server = sim.spawn().await;
    eprintln!(
        "simulator: {} users, {} teams generated in {:.1} s; {} worker threads; added latency {latency_ms} ms per request",
        sim.user_count(),
        sim.team_ids().len(),
        generated.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let base = server.base_url();

    let latency = Duration::from_millis(latency_ms);
    if latency_ms > 0 {
        sim.faults()
            .add(FaultRule::new("", Fault::Slow(latency), u32::MAX));
    }
    let default = SyncOptions::default().concurrency;
    let by_default = run(
        &base,
        &format!("concurrency {default} (default), +{latency_ms} ms"),
        default,
    )
    .await;
    let concurrent = run(&base, &format!("concurrency 8, +{latency_ms} ms"), 8).await;
    let serial = run(&base, &format!("concurrency 1, +{latency_ms} ms"), 1).await;
    sim.faults().clear();
    let raw = run(&base, "concurrency 8, no added latency", 8).await;

    eprintln!(
        "speed-up of concurrency 8 over 1: {:.1}x",
        serial.wall.as_secs_f64() / concurrent.wall.as_secs_f64()
    );

    let truth = sim.ground_truth();
    let exact = exact(&[&by_default, &concurrent, &serial, &raw], &truth);
    eprintln!(
        "ground truth: {} resources, {} entitlements, {} grants; every run complete with matching counts: {exact}",
        truth.resources.len(),
        truth.entitlements.len(),
        truth.grants.len()
    );
    drop(server);
    if !exact || !goal_ok {
        std::process::exit(1);
    }
}
