//! `roster sync` end to end: both platforms into JSON Lines, stdout and
//! SQLite; exit codes 4 and 5; no token in logs or files; a reader that goes
//! away; flags refused before any request.

mod common;

use common::{Roster, assert_file_has_no_secret, rc_fast_sim, read_snapshot, sqlite_rows};
use roster_core::Snapshot;
use roster_core::testkit::assert_conforms;
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::rocketchat::{self as rc, RocketChatSim};
use roster_sim::{Fault, FaultRule};

#[tokio::test(flavor = "multi_thread")]
async fn mattermost_sync_to_jsonl_and_sqlite_matches_ground_truth() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("mm.jsonl");
    let db = dir.path().join("mm.sqlite");
    let sync = || Roster::sync("mattermost").base_url(&url);

    let run = sync()
        .out(&jsonl)
        .mm_token(MattermostSim::ADMIN_TOKEN)
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert!(
        run.stdout.is_empty(),
        "stdout carries only data: {}",
        run.stdout
    );
    assert!(run.stderr.contains("snapshot written"), "{}", run.stderr);
    let snap = read_snapshot(&jsonl);
    assert_conforms(&snap, &sim.ground_truth().expected());
    assert_eq!(snap.header.as_ref().unwrap().connector, "mattermost");

    // Same sync to stdout.
    let run = sync()
        .arg("--no-progress")
        .mm_token(MattermostSim::ADMIN_TOKEN)
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert_conforms(
        &Snapshot::from_jsonl(&run.stdout).unwrap(),
        &sim.ground_truth().expected(),
    );

    // SQLite, format inferred from the extension; flags instead of env.
    let run = sync()
        .args(&["--api-token", MattermostSim::ADMIN_TOKEN])
        .out(&db)
        .args(&["--concurrency", "3"])
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert!(!dir.path().join("mm.sqlite.partial").exists());
    assert_eq!(
        sqlite_rows(&db, "SELECT value FROM meta WHERE key = 'complete'"),
        ["true"]
    );
    assert_eq!(
        sqlite_rows(&db, "SELECT value FROM meta WHERE key = 'connector'"),
        ["mattermost"]
    );
    let truth = sim.ground_truth();
    assert_eq!(
        sqlite_rows(&db, "SELECT count(*) || '' FROM grants"),
        [truth.grants.len().to_string()]
    );
    // "Who is admin of team X" through the index.
    let admin = truth
        .grants
        .iter()
        .find(|g| g.entitlement.slug == "admin")
        .expect("some team admin");
    let admins = sqlite_rows(
        &db,
        &format!(
            "SELECT principal_id FROM grants WHERE entitlement = '{}'",
            admin.entitlement
        ),
    );
    assert!(admins.contains(&admin.principal.id.to_string()));
    // The SQLite snapshot reads back equal to the JSON Lines one.
    Roster::diff(&jsonl, &db).run().await.assert_code(0);
    for f in [&jsonl, &db] {
        assert_file_has_no_secret(f, &[]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rocketchat_sync_to_jsonl_and_sqlite_matches_ground_truth() {
    // Bot credentials bypass the server limit: no client quota needed.
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let bot = sim.bot();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("rc.jsonl");
    let run = Roster::sync("rocketchat")
        .rate_limit("off")
        .out(&jsonl)
        .env("BATON_ROCKETCHAT_BASE_URL", &url)
        .rc_env(&bot.user_id, &bot.token)
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[&bot.token]);
    assert_conforms(&read_snapshot(&jsonl), &sim.ground_truth().expected());
    assert_file_has_no_secret(&jsonl, &[&bot.token]);

    // A limited admin under a short fixed window, into SQLite.
    let sim = rc_fast_sim(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let admin = sim.admin();
    let db = dir.path().join("rc.db");
    let sync = || {
        Roster::sync("rocketchat")
            .base_url(&url)
            .rc_login(&admin.user_id, &admin.token)
            .rate_limit("5/300ms")
    };
    let run = sync().out(&db).run().await;
    run.assert_code(0).assert_no_secret(&[&admin.token]);
    assert_eq!(
        sqlite_rows(&db, "SELECT value FROM meta WHERE key = 'complete'"),
        ["true"]
    );
    let truth = sim.ground_truth();
    assert_eq!(
        sqlite_rows(&db, "SELECT count(*) || '' FROM resources"),
        [truth.resources.len().to_string()]
    );
    assert_eq!(
        sqlite_rows(&db, "SELECT count(*) || '' FROM grants"),
        [truth.grants.len().to_string()]
    );
    // "What does user Y have" through the principal index.
    let g = &truth.grants[0];
    let held = sqlite_rows(
        &db,
        &format!(
            "SELECT entitlement FROM grants WHERE principal_type = 'user' AND principal_id = '{}'",
            g.principal.id
        ),
    );
    assert!(held.contains(&g.entitlement.to_string()));
    let rebuilt = dir.path().join("rc-again.jsonl");
    let run = sync().out(&rebuilt).run().await;
    run.assert_code(0);
    assert_conforms(&read_snapshot(&rebuilt), &truth.expected());
    Roster::diff(&rebuilt, &db).run().await.assert_code(0);
    assert_file_has_no_secret(&db, &[&admin.token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_exits_4() {
    for cmd in ["sync", "validate"] {
        let run = Roster::new(&[cmd, "mattermost"])
            .base_url("http://127.0.0.1:1")
            .mm_token(MattermostSim::ADMIN_TOKEN)
            .run()
            .await;
        run.assert_code(4).assert_no_secret(&[]);
        assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
        assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);
        assert_eq!(
            run.stderr.lines().count(),
            2,
            "one error line and one hint: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("Connect {"),
            "no Debug dumps: {}",
            run.stderr
        );
    }
    let run = Roster::sync("rocketchat")
        .base_url("http://127.0.0.1:1")
        .rc_login("u", "t0k-zz")
        .run()
        .await;
    run.assert_code(4).assert_no_secret(&["t0k-zz"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_team_read_writes_incomplete_snapshot_and_exits_5() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let team = sim.team_ids()[2].clone();
    sim.faults().add(FaultRule::new(
        &format!("/teams/{team}/members"),
        Fault::NotFound,
        u32::MAX,
    ));
    let dir = tempfile::tempdir().unwrap();
    let sync = |url: &str| {
        Roster::sync("mattermost")
            .base_url(url)
            .mm_token(MattermostSim::ADMIN_TOKEN)
    };
    let jsonl = dir.path().join("partial.jsonl");
    let run = sync(&url).out(&jsonl).run().await;
    run.assert_code(5).assert_no_secret(&[]);
    assert!(run.stderr.contains("INCOMPLETE"), "{}", run.stderr);
    let snap = read_snapshot(&jsonl);
    let summary = snap.summary.as_ref().expect("summary written");
    assert!(!summary.complete);
    assert!(
        summary.warnings.iter().any(|w| w.contains(&team)),
        "{:?}",
        summary.warnings
    );

    let db = dir.path().join("partial.sqlite");
    let run = sync(&url).out(&db).run().await;
    run.assert_code(5);
    assert_eq!(
        sqlite_rows(&db, "SELECT value FROM meta WHERE key = 'complete'"),
        ["false"]
    );
    let warnings = sqlite_rows(&db, "SELECT value FROM meta WHERE key = 'warnings'");
    assert!(warnings[0].contains(&team), "{warnings:?}");

    // A token revoked in the middle of the sync.
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    sim.faults()
        .add(FaultRule::new("/members", Fault::Unauthorized, u32::MAX).after(2));
    let revoked = dir.path().join("revoked.jsonl");
    let run = sync(&server.base_url()).out(&revoked).run().await;
    run.assert_code(5);
    assert!(!read_snapshot(&revoked).is_complete());

    // diff refuses incomplete snapshots unless asked.
    let full = dir.path().join("full.jsonl");
    sim.faults().clear();
    sync(&server.base_url())
        .out(&full)
        .run()
        .await
        .assert_code(0);
    let refused = Roster::diff(&full, &revoked).run().await;
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("incomplete") && refused.stderr.contains("--allow-incomplete"),
        "{}",
        refused.stderr
    );
    Roster::diff(&full, &revoked)
        .arg("--allow-incomplete")
        .run()
        .await
        .assert_code(1);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_in_verbose_logs_or_files() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.sqlite");
    let run = Roster::new(&["-vv", "sync", "mattermost"])
        .base_url(&server.base_url())
        .out(&out)
        .mm_token(MattermostSim::ADMIN_TOKEN)
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert!(
        run.stderr.contains("DEBUG") || run.stderr.contains("TRACE"),
        "verbose logs on stderr"
    );
    assert_file_has_no_secret(&out, &[]);

    let sim = rc_fast_sim(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let admin = sim.admin();
    let out = dir.path().join("v.jsonl");
    let run = Roster::new(&["-vv", "sync", "rocketchat"])
        .base_url(&server.base_url())
        .rate_limit("5/300ms")
        .out(&out)
        .rc_env(&admin.user_id, &admin.token)
        .run()
        .await;
    run.assert_code(0).assert_no_secret(&[&admin.token]);
    assert_file_has_no_secret(&out, &[&admin.token]);
}

/// `roster sync … | head -1`: the reader goes away; roster exits quietly.
#[tokio::test(flavor = "multi_thread")]
async fn broken_pipe_on_stdout_exits_quietly() {
    use std::io::BufRead as _;
    let sim = MattermostSim::new(mm::OrgSpec {
        users: 600,
        teams: 20,
        avg_members: 40,
        seed: 7,
    });
    let server = sim.spawn().await;
    let url = server.base_url();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["sync", "mattermost", "--base-url", &url])
            .env("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn roster");
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("\"kind\":\"header\""), "{first}");
        // Dropping the reader closes the pipe.
        child.wait_with_output().expect("wait")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
}

/// Plain http to a non-loopback host is refused before any request, and the
/// error names the flag that allows it; `--timeout` is parsed strictly.
#[tokio::test(flavor = "multi_thread")]
async fn insecure_http_and_timeout_flags() {
    let refused = Roster::sync("mattermost")
        .base_url("http://example.invalid")
        .mm_token("x-token-5678")
        .run()
        .await;
    refused.assert_code(2).assert_no_secret(&["x-token-5678"]);
    assert!(
        refused.stderr.contains("--insecure-http"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert_eq!(refused.stderr.lines().count(), 2, "{}", refused.stderr);

    for bad in ["0s", "soon", "30x"] {
        let run = Roster::validate("mattermost")
            .base_url("https://example.invalid")
            .args(&["--timeout", bad])
            .mm_token("x-token-5678")
            .run()
            .await;
        run.assert_code(2);
        assert!(run.stderr.contains("--timeout"), "{bad}: {}", run.stderr);
    }
}
