//! Interrupted syncs: Ctrl-C writes an incomplete snapshot, a killed sync
//! resumes to the exact snapshot, `--resume` preconditions.

mod common;

use std::time::Duration;

use common::{Roster, read_snapshot, s};
use roster_core::testkit::assert_conforms;
use roster_sim::rocketchat::{self as rc, FixedWindow, RocketChatSim};

/// Ctrl-C during a long, rate-limited sync: the snapshot is still written,
/// marked incomplete, and the exit code is 5.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_sync_writes_incomplete_snapshot() {
    // Stock limits (10 calls per 60 s) on an admin whose bypass was
    // revoked, and 30 teams: minutes of waiting.
    let mut options = rc::SimOptions::default();
    options.admin_bypasses_rate_limit = false;
    let sim = RocketChatSim::with_options(
        rc::OrgSpec {
            teams: 30,
            ..rc::OrgSpec::small()
        },
        options,
    );
    let server = sim.spawn().await;
    let admin = sim.admin();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("interrupted.jsonl");
    let partial = dir.path().join("interrupted.jsonl.partial");
    let url = server.base_url();
    let out2 = out.clone();
    let status = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["sync", "rocketchat", "--base-url", &url, "--out", s(&out2)])
            .env("BATON_ROCKETCHAT_USER_ID", &admin.user_id)
            .env("BATON_ROCKETCHAT_AUTH_TOKEN", &admin.token)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn roster");
        // The sink exists once validation passed and the engine runs.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !partial.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(killed.success());
        child.wait_with_output().expect("wait")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(5), "{stderr}");
    let snap = read_snapshot(&out);
    let summary = snap.summary.expect("summary written");
    assert!(!summary.complete);
    assert!(
        summary.warnings.iter().any(|w| w.contains("interrupted")),
        "{:?}",
        summary.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_sync_resumes_to_the_exact_snapshot() {
    let spec = rc::OrgSpec {
        users: 60,
        teams: 30,
        avg_members: 6,
        custom_roles: 2,
        seed: 5,
    };
    let mut options = rc::SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: 5,
        window: Duration::from_millis(150),
    });
    options.admin_bypasses_rate_limit = false;
    for (i, kill_after_ms) in [150u64, 400, 700].into_iter().enumerate() {
        let sim = RocketChatSim::with_options(spec.clone(), options.clone());
        let server = sim.spawn().await;
        let url = server.base_url();
        let admin = sim.admin();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(format!("rc-{i}.jsonl"));
        let partial = dir.path().join(format!("rc-{i}.jsonl.partial"));
        let args = [
            "sync",
            "rocketchat",
            "--base-url",
            url.as_str(),
            "--rate-limit",
            "5/150ms",
            "--out",
            s(&out),
        ]
        .map(str::to_owned);
        let (uid, tok) = (admin.user_id.clone(), admin.token.clone());
        let killed = tokio::task::spawn_blocking(move || {
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
                .args(&args)
                .env("BATON_ROCKETCHAT_USER_ID", &uid)
                .env("BATON_ROCKETCHAT_AUTH_TOKEN", &tok)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn roster");
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !partial.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(kill_after_ms));
            // SIGKILL: no summary, no rename, a line possibly cut short.
            child.kill().expect("kill");
            child.wait().expect("wait");
        });
        killed.await.unwrap();
        assert!(
            !out.exists(),
            "a killed sync leaves no finished-looking file"
        );
        let before = sim.log().entries().len();
        let run = Roster::sync("rocketchat")
            .base_url(&url)
            .rate_limit("5/150ms")
            .out(&out)
            .arg("--resume")
            .rc_env(&admin.user_id, &admin.token)
            .run()
            .await;
        run.assert_code(0).assert_no_secret(&[&admin.token]);
        assert!(run.stderr.contains("resuming"), "{}", run.stderr);
        let snap = read_snapshot(&out);
        assert_conforms(&snap, &sim.ground_truth().expected());
        let summary = snap.summary.as_ref().unwrap();
        assert_eq!(summary.counts.grant, snap.grants.len() as u64);
        // Finished teams were not read again.
        let reread = sim.log().entries()[before..]
            .iter()
            .filter(|e| e.path.ends_with("teams.members"))
            .count();
        assert!(reread <= 30, "{reread} member reads on resume");
        assert!(!dir.path().join(format!("rc-{i}.jsonl.checkpoint")).exists());
    }
}

/// `--resume` preconditions are checked before the server is contacted: the
/// base URL is unreachable, yet the answer is the usage error (exit 2), not
/// a connection error (exit 4).
#[tokio::test(flavor = "multi_thread")]
async fn resume_without_a_partial_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let resume = |out: &std::path::Path| {
        Roster::sync("mattermost")
            .base_url("http://127.0.0.1:1")
            .out(out)
            .arg("--resume")
            .mm_token("x-token-1234")
    };
    let run = resume(&dir.path().join("none.jsonl")).run().await;
    run.assert_code(2).assert_no_secret(&["x-token-1234"]);
    assert!(
        run.stderr.starts_with("error: nothing to resume"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);

    let sqlite = resume(&dir.path().join("snap.sqlite")).run().await;
    sqlite.assert_code(2);
    assert!(sqlite.stderr.contains("JSON Lines"), "{}", sqlite.stderr);
}
