//! The fault matrix: both connectors against their simulators with each
//! fault real servers produce. Every outcome is one of two, nothing in
//! between: a complete snapshot exactly equal to the ground truth, or
//! `complete: false` with a warning naming what is missing. Each case also
//! checks that its fault actually fired (as often as the rule allows), so a
//! rule whose path stops matching fails instead of passing silently.
//!
//! Runs on tokio's paused clock (retry backoffs, rate-limit windows and
//! slow responses cost no real time). `cargo test --test fault_matrix --
//! --nocapture` prints the table kept in `docs/reliability.md`.

use std::time::Duration;

use roster::core::RetryPolicy;
use roster::core::testkit::check;
use roster::mattermost::{MattermostConfig, MattermostConnector};
use roster::rocketchat::{RocketChatConfig, RocketChatConnector};
use roster::{MemorySink, Snapshot, Summary, SyncEngine, SyncOptions};
use roster_sim::mattermost::{MattermostSim, OrgSpec as MmSpec};
use roster_sim::rocketchat::{OrgSpec as RcSpec, RocketChatSim};
use roster_sim::{Fault, FaultRule, GroundTruth};
use secrecy::SecretString;

/// What a fault must lead to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Complete and equal to the ground truth.
    Exact,
    /// `complete: false`, a warning containing this text.
    Incomplete(&'static str),
}

struct Case {
    name: &'static str,
    fault: Fault,
    /// Where: Mattermost path fragment, Rocket.Chat path fragment.
    paths: (&'static str, &'static str),
    /// Matching requests let through first, per platform.
    skip: (u32, u32),
    times: u32,
    expect: Expect,
}

const TIMEOUT: Duration = Duration::from_secs(5);
const BODY_CAP: u64 = 256 * 1024;

fn cases() -> Vec<Case> {
    let members = ("/members", "teams.members");
    // Validation reads /users/me, /users/status/ids and /users/stats (and
    // Rocket.Chat a count=1 users.list): the shift lands after the first
    // page of the sync's own listing.
    let users = ("/api/v4/users", "users.list");
    vec![
        Case {
            name: "429 storm",
            fault: Fault::RateLimited,
            paths: members,
            skip: (0, 0),
            times: 6,
            expect: Expect::Exact,
        },
        Case {
            name: "5xx burst",
            fault: Fault::ServerError(503),
            paths: members,
            skip: (1, 1),
            times: 3,
            expect: Expect::Exact,
        },
        Case {
            name: "connection reset mid-body",
            fault: Fault::ConnectionReset,
            paths: members,
            skip: (0, 0),
            times: 2,
            expect: Expect::Exact,
        },
        Case {
            name: "truncated JSON",
            fault: Fault::TruncatedJson,
            paths: members,
            skip: (0, 0),
            times: 2,
            expect: Expect::Exact,
        },
        Case {
            name: "malformed JSON",
            fault: Fault::MalformedJson,
            paths: members,
            skip: (0, 0),
            times: 2,
            expect: Expect::Exact,
        },
        Case {
            name: "slow responses past the timeout",
            fault: Fault::Slow(TIMEOUT * 3),
            paths: members,
            skip: (0, 0),
            times: 2,
            expect: Expect::Exact,
        },
        Case {
            name: "pages shifting during the read",
            fault: Fault::ShiftPages,
            paths: users,
            skip: (4, 2),
            times: 1,
            expect: Expect::Exact,
        },
        Case {
            name: "duplicate rows",
            fault: Fault::DuplicateRows,
            paths: members,
            skip: (0, 0),
            times: 3,
            expect: Expect::Exact,
        },
        Case {
            name: "5xx until retries run out",
            fault: Fault::ServerError(500),
            paths: members,
            skip: (2, 2),
            times: u32::MAX,
            expect: Expect::Incomplete("missing"),
        },
        Case {
            name: "body over the size cap",
            fault: Fault::Oversized(BODY_CAP as usize * 4),
            paths: members,
            skip: (1, 1),
            times: 1,
            expect: Expect::Incomplete("larger than"),
        },
        Case {
            name: "token revoked mid-sync (401)",
            fault: Fault::Unauthorized,
            paths: members,
            skip: (2, 2),
            times: u32::MAX,
            expect: Expect::Incomplete("authentication failed"),
        },
        Case {
            name: "team deleted mid-sync (404)",
            fault: Fault::NotFound,
            paths: members,
            skip: (1, 1),
            times: 1,
            expect: Expect::Incomplete("not found"),
        },
    ]
}

fn retry() -> RetryPolicy {
    RetryPolicy::default().max_retries(4).jitter_seed(Some(3))
}

struct Outcome {
    summary: Summary,
    verdict: String,
}

/// The case's fault fired: exactly `times` for a bounded rule (every
/// scheduled firing was reached), at least once for an endless one.
fn assert_fired(case: &Case, platform: &str, fired: u64) {
    if case.times == u32::MAX {
        assert!(
            fired >= 1,
            "{} on {platform}: the fault never fired (does the rule still match?)",
            case.name
        );
    } else {
        assert_eq!(
            fired,
            u64::from(case.times),
            "{} on {platform}: the fault fired {fired} times, not {}",
            case.name,
            case.times
        );
    }
}

/// The snapshot conforms to the ground truth: exact and complete, or
/// incomplete saying so with nothing untrue written.
fn judge(case: &Case, summary: Summary, snap: &Snapshot, truth: &GroundTruth) -> Outcome {
    let (expected, verdict) = match case.expect {
        Expect::Exact => (truth.expected(), "complete, exact"),
        Expect::Incomplete(needle) => (
            truth.expected().incomplete(needle).missing_allowed(),
            "`complete:false`, says what is missing",
        ),
    };
    let problems = check(snap, &expected);
    assert!(
        problems.is_empty(),
        "{}: the snapshot does not conform:\n{}",
        case.name,
        problems.join("\n")
    );
    Outcome {
        summary,
        verdict: verdict.to_owned(),
    }
}

async fn run_mattermost(case: &Case) -> Outcome {
    let sim = MattermostSim::new(MmSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new(case.paths.0, case.fault.clone(), case.times).after(case.skip.0));
    let before = sim.user_count();
    let config = MattermostConfig::new(
        server.base_url(),
        SecretString::from(MattermostSim::ADMIN_TOKEN),
    )
    .per_page(10)
    .retry(retry())
    .timeout(TIMEOUT)
    .max_body_bytes(BODY_CAP);
    let connector = MattermostConnector::new(config).unwrap();
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default())
        .run(&connector, &mut sink)
        .await
        .unwrap();
    if case.fault == Fault::ShiftPages {
        assert!(sim.user_count() > before, "the shift happened");
        let first_pages = sim
            .log()
            .entries()
            .iter()
            .filter(|e| e.path == "/api/v4/users" && e.query.contains("page=0&"))
            .count();
        assert!(first_pages >= 2, "the shifted listing was read again");
    }
    assert_fired(case, "Mattermost", sim.faults().fired());
    judge(case, summary, &sink.snapshot(), &sim.ground_truth())
}

async fn run_rocketchat(case: &Case) -> Outcome {
    let sim = RocketChatSim::new(RcSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new(case.paths.1, case.fault.clone(), case.times).after(case.skip.1));
    let before = sim.ground_truth().resources.len();
    let admin = sim.admin();
    let config = RocketChatConfig::new(
        server.base_url(),
        admin.user_id,
        SecretString::from(admin.token),
    )
    .count(10)
    .retry(retry())
    .timeout(TIMEOUT)
    .max_body_bytes(BODY_CAP);
    let connector = RocketChatConnector::new(config).unwrap();
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default())
        .run(&connector, &mut sink)
        .await
        .unwrap();
    if case.fault == Fault::ShiftPages {
        assert!(
            sim.ground_truth().resources.len() > before,
            "the shift happened"
        );
        let first_pages = sim
            .log()
            .entries()
            .iter()
            .filter(|e| e.path.ends_with("users.list") && e.query.contains("offset=0&count=10"))
            .count();
        assert!(first_pages >= 2, "the shifted listing was read again");
    }
    assert_fired(case, "Rocket.Chat", sim.faults().fired());
    judge(case, summary, &sink.snapshot(), &sim.ground_truth())
}

#[tokio::test(start_paused = true)]
async fn every_fault_ends_exact_or_honestly_incomplete() {
    let mut table = vec![
        "| fault | Mattermost outcome | requests | retries | Rocket.Chat outcome | requests | retries |".to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
    ];
    for case in cases() {
        let mm = run_mattermost(&case).await;
        let rc = run_rocketchat(&case).await;
        table.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            case.name,
            mm.verdict,
            mm.summary.stats.requests,
            mm.summary.stats.retries,
            rc.verdict,
            rc.summary.stats.requests,
            rc.summary.stats.retries
        ));
    }
    println!("{}", table.join("\n"));
}
