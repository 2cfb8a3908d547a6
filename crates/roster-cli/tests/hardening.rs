//! Security hardening of `roster sync` (issue 13), end to end: the real
//! binary against the in-process Mattermost simulator, with a file-size
//! limit or a umask where a test needs one (`common::Roster`).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use common::Roster;
use roster_core::Snapshot;
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::{Fault, FaultRule};

/// `roster sync mattermost --base-url <url> --out <out>` with the admin
/// token.
fn sync(url: &str, out: &Path) -> Roster {
    Roster::sync("mattermost")
        .base_url(url)
        .out(out)
        .mm_token(MattermostSim::ADMIN_TOKEN)
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_stops_the_sync_with_exit_2_and_the_cause() {
    // Thousands of records: far more than the engine's channel holds, so
    // producers blocked on it once the writer failed (the old hang).
    let sim = MattermostSim::new(mm::OrgSpec {
        users: 3_000,
        teams: 4,
        avg_members: 20,
        seed: 7,
    });
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    // RLIMIT_FSIZE stands in for a full disk; SIGXFSZ ignored so the write
    // fails with EFBIG instead of killing the process. The small SQLite
    // limit fails while the schema is created, the larger one mid-sync.
    for (name, blocks) in [
        ("snap.jsonl", 64),
        ("snap.sqlite", 64),
        ("big.sqlite", 1024),
    ] {
        let out = dir.path().join(name);
        let run = sync(&url, &out).ulimit_file_blocks(blocks).run().await;
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains("File too large")
                || run.stderr.contains("disk is full")
                || run.stderr.contains("SQLite: disk I/O error"),
            "{name}: the real cause is named: {}",
            run.stderr
        );
        assert!(run.stderr.contains("cannot write"), "{}", run.stderr);
        assert!(!run.stderr.contains("snapshot written"), "{}", run.stderr);
        assert!(!out.exists(), "{name}: nothing presented as complete");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_files_are_owner_only_and_planted_links_are_refused() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    for name in ["snap.jsonl", "snap.sqlite"] {
        let out = dir.path().join(name);
        let run = sync(&url, &out).umask(0o022).run().await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(mode(&out), 0o600, "{name} holds e-mail addresses");
    }

    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let out = dir.path().join("planted.jsonl");
    std::os::unix::fs::symlink(&victim, dir.path().join("planted.jsonl.partial")).unwrap();
    let run = sync(&url, &out).run().await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!out.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_out_is_streamed_into_not_replaced() {
    use std::os::unix::fs::FileTypeExt as _;
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let run = sync(&url, &fifo).run().await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = reader.join().unwrap();
    assert!(Snapshot::from_jsonl(&text).unwrap().is_complete());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO is still a FIFO"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_ends_the_sync_incomplete_and_names_it() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    // Member listings hang far longer than the deadline.
    sim.faults().add(FaultRule::new(
        "/members",
        Fault::Slow(Duration::from_secs(50)),
        u32::MAX,
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.jsonl");
    let started = std::time::Instant::now();
    let run = sync(&url, &out)
        .args(&["--timeout", "55s"])
        .env("ROSTER_DEADLINE", "700ms")
        .run()
        .await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("deadline"), "{}", run.stderr);
    let snap = Snapshot::from_jsonl(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let summary = snap.summary.expect("summary written");
    assert!(!summary.complete);
    assert!(
        summary.warnings.iter().any(|w| w.contains("deadline")),
        "{:?}",
        summary.warnings
    );
}
