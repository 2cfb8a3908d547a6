//! `roster demo`: both simulators, four snapshots, no credentials (only in a
//! binary built with the `demo` feature, on by default).
#![cfg(feature = "demo")]

mod common;

use std::path::PathBuf;

use common::{Roster, read_snapshot};

#[tokio::test(flavor = "multi_thread")]
async fn demo_writes_four_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir: PathBuf = dir.path().join("demo");
    let run = Roster::demo(&demo_dir).run().await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("1 s"),
        "the demo says it shortened the window: {}",
        run.stderr
    );
    for line in ["users", "service accounts", "rate-limit waits", "admins"] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    for f in [
        "mattermost.jsonl",
        "rocketchat.jsonl",
        "mattermost.sqlite",
        "rocketchat.sqlite",
    ] {
        assert!(demo_dir.join(f).exists(), "{f}");
    }
    assert!(read_snapshot(&demo_dir.join("rocketchat.jsonl")).is_complete());
    // Everything the demo writes names people: owner-only, like a sync's output.
    #[cfg(unix)]
    for f in [
        "mattermost.jsonl",
        "rocketchat.sqlite",
        "access-review.html",
    ] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(demo_dir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}: {mode:o}");
    }
    Roster::diff(
        &demo_dir.join("rocketchat.jsonl"),
        &demo_dir.join("rocketchat.sqlite"),
    )
    .run()
    .await
    .assert_code(0);
}
