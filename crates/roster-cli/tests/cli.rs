//! End-to-end tests of the `roster` binary against the in-process simulators.
//!
//! Each test starts a simulator on 127.0.0.1 inside the test process and runs
//! the real binary (`CARGO_BIN_EXE_roster`) on a blocking thread.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use roster_core::{Snapshot, UserStatus};
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::rocketchat::{self as rc, FixedWindow, RocketChatSim};
use roster_sim::{Fault, FaultRule, GroundTruth};

/// Every token a test hands the binary; none may appear in any output.
const SECRETS: &[&str] = &[
    MattermostSim::ADMIN_TOKEN,
    MattermostSim::USER_TOKEN,
    MattermostSim::BOT_TOKEN,
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    fn assert_no_secret(&self, secrets: &[&str]) -> &Self {
        for s in SECRETS.iter().chain(secrets) {
            assert!(
                !self.stdout.contains(s),
                "stdout leaks a token: {}",
                self.stdout
            );
            assert!(
                !self.stderr.contains(s),
                "stderr leaks a token: {}",
                self.stderr
            );
        }
        self
    }
}

/// Runs `roster args…` with `env` (and no inherited BATON_* / ROSTER_*
/// variables).
async fn roster(args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let out: Output = tokio::task::spawn_blocking(move || {
        let mut cmd = cargo_bin_cmd!("roster");
        for (k, _) in std::env::vars() {
            if k.starts_with("BATON_") || k.starts_with("ROSTER_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.args(&args)
            .envs(env)
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run roster")
    })
    .await
    .expect("join");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn read_snapshot(path: &Path) -> Snapshot {
    Snapshot::from_jsonl(&std::fs::read_to_string(path).expect("read snapshot"))
        .expect("valid snapshot")
}

fn json_set<T: serde::Serialize>(items: &[T]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap())
        .collect()
}

fn assert_matches_truth(snap: &Snapshot, truth: &GroundTruth) {
    assert!(snap.is_complete(), "summary: {:?}", snap.summary);
    assert_eq!(
        json_set(&snap.resources),
        json_set(&truth.resources),
        "resources"
    );
    assert_eq!(
        json_set(&snap.entitlements),
        json_set(&truth.entitlements),
        "entitlements"
    );
    assert_eq!(json_set(&snap.grants), json_set(&truth.grants), "grants");
    assert_eq!(snap.grants.len(), truth.grants.len(), "no duplicate grants");
}

fn assert_file_has_no_secret(path: &Path, secrets: &[&str]) {
    let bytes = std::fs::read(path).expect("read file");
    for secret in SECRETS.iter().chain(secrets) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} contains a token",
            path.display()
        );
    }
}

fn sqlite_rows(path: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let mut stmt = conn.prepare(sql).expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn rc_fast_sim(spec: rc::OrgSpec) -> RocketChatSim {
    let mut options = rc::SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: 5,
        window: Duration::from_millis(300),
    });
    RocketChatSim::with_options(spec, options)
}

#[tokio::test(flavor = "multi_thread")]
async fn mattermost_sync_to_jsonl_and_sqlite_matches_ground_truth() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("mm.jsonl");
    let db = dir.path().join("mm.sqlite");
    let env = [("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)];

    let run = roster(
        &["sync", "mattermost", "--base-url", &url, "--out", s(&jsonl)],
        &env,
    )
    .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert!(
        run.stdout.is_empty(),
        "stdout carries only data: {}",
        run.stdout
    );
    assert!(run.stderr.contains("snapshot written"), "{}", run.stderr);
    let snap = read_snapshot(&jsonl);
    assert_matches_truth(&snap, &sim.ground_truth());
    assert_eq!(snap.header.as_ref().unwrap().connector, "mattermost");

    // Same sync to stdout.
    let run = roster(
        &["sync", "mattermost", "--base-url", &url, "--no-progress"],
        &env,
    )
    .await;
    run.assert_code(0).assert_no_secret(&[]);
    assert_matches_truth(
        &Snapshot::from_jsonl(&run.stdout).unwrap(),
        &sim.ground_truth(),
    );

    // SQLite, format inferred from the extension; flags instead of env.
    let run = roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &url,
            "--api-token",
            MattermostSim::ADMIN_TOKEN,
            "--out",
            s(&db),
            "--concurrency",
            "3",
        ],
        &[],
    )
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
    roster(&["diff", s(&jsonl), s(&db)], &[])
        .await
        .assert_code(0);
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
    let env = [
        ("BATON_ROCKETCHAT_BASE_URL", url.as_str()),
        ("BATON_ROCKETCHAT_USER_ID", bot.user_id.as_str()),
        ("BATON_ROCKETCHAT_AUTH_TOKEN", bot.token.as_str()),
    ];
    let run = roster(
        &[
            "sync",
            "rocketchat",
            "--rate-limit",
            "off",
            "--out",
            s(&jsonl),
        ],
        &env,
    )
    .await;
    run.assert_code(0).assert_no_secret(&[&bot.token]);
    assert_matches_truth(&read_snapshot(&jsonl), &sim.ground_truth());
    assert_file_has_no_secret(&jsonl, &[&bot.token]);

    // A limited admin under a short fixed window, into SQLite.
    let sim = rc_fast_sim(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let admin = sim.admin();
    let db = dir.path().join("rc.db");
    let run = roster(
        &[
            "sync",
            "rocketchat",
            "--base-url",
            &url,
            "--user-id",
            &admin.user_id,
            "--auth-token",
            &admin.token,
            "--rate-limit",
            "5/300ms",
            "--out",
            s(&db),
        ],
        &[],
    )
    .await;
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
    let run = roster(
        &[
            "sync",
            "rocketchat",
            "--base-url",
            &url,
            "--user-id",
            &admin.user_id,
            "--auth-token",
            &admin.token,
            "--rate-limit",
            "5/300ms",
            "--out",
            s(&rebuilt),
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    assert_matches_truth(&read_snapshot(&rebuilt), &truth);
    roster(&["diff", s(&rebuilt), s(&db)], &[])
        .await
        .assert_code(0);
    assert_file_has_no_secret(&db, &[&admin.token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_missing_permission_with_exit_3() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();

    let ok = roster(
        &["validate", "mattermost", "--base-url", &url],
        &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
    )
    .await;
    ok.assert_code(0).assert_no_secret(&[]);
    assert!(
        ok.stdout.contains("a complete sync is possible"),
        "{}",
        ok.stdout
    );

    let weak = roster(
        &["validate", "mattermost", "--base-url", &url],
        &[("BATON_API_TOKEN", MattermostSim::USER_TOKEN)],
    )
    .await;
    weak.assert_code(3).assert_no_secret(&[]);
    assert!(weak.stdout.contains("manage_system"), "{}", weak.stdout);
    assert!(
        weak.stderr.contains("error: ") && weak.stderr.contains("hint: "),
        "{}",
        weak.stderr
    );

    // JSON for tools.
    let json = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            &url,
            "--format",
            "json",
        ],
        &[("BATON_API_TOKEN", MattermostSim::USER_TOKEN)],
    )
    .await;
    json.assert_code(3);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json report");
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "fail" && c["name"].as_str().unwrap().contains("manage_system")),
        "{v}"
    );

    // A sync with that token refuses before writing anything.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.jsonl");
    let sync = roster(
        &["sync", "mattermost", "--base-url", &url, "--out", s(&out)],
        &[("BATON_API_TOKEN", MattermostSim::USER_TOKEN)],
    )
    .await;
    sync.assert_code(3).assert_no_secret(&[]);
    assert!(sync.stderr.contains("manage_system"), "{}", sync.stderr);
    assert!(!out.exists() && !dir.path().join("never.jsonl.partial").exists());

    // A wrong token: authentication, exit 3.
    let bad = roster(
        &["sync", "mattermost", "--base-url", &url],
        &[("BATON_API_TOKEN", "not-a-real-token-zz9")],
    )
    .await;
    bad.assert_code(3)
        .assert_no_secret(&["not-a-real-token-zz9"]);
    assert!(bad.stdout.is_empty());

    // Rocket.Chat: a plain user lacks view-all-teams.
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let plain = sim.plain_user();
    let run = roster(
        &["validate", "rocketchat", "--rate-limit", "off"],
        &[
            ("BATON_ROCKETCHAT_BASE_URL", server.base_url().as_str()),
            ("BATON_ROCKETCHAT_USER_ID", plain.user_id.as_str()),
            ("BATON_ROCKETCHAT_AUTH_TOKEN", plain.token.as_str()),
        ],
    )
    .await;
    run.assert_code(3).assert_no_secret(&[&plain.token]);
    assert!(run.stdout.contains("view-all-teams"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_exits_4() {
    let env = [("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)];
    for cmd in ["sync", "validate"] {
        let run = roster(
            &[cmd, "mattermost", "--base-url", "http://127.0.0.1:1"],
            &env,
        )
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
    let run = roster(
        &[
            "sync",
            "rocketchat",
            "--base-url",
            "http://127.0.0.1:1",
            "--user-id",
            "u",
            "--auth-token",
            "t0k-zz",
        ],
        &[],
    )
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
    let env = [("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)];
    let jsonl = dir.path().join("partial.jsonl");
    let run = roster(
        &["sync", "mattermost", "--base-url", &url, "--out", s(&jsonl)],
        &env,
    )
    .await;
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
    let run = roster(
        &["sync", "mattermost", "--base-url", &url, "--out", s(&db)],
        &env,
    )
    .await;
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
    let run = roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &server.base_url(),
            "--out",
            s(&revoked),
        ],
        &env,
    )
    .await;
    run.assert_code(5);
    assert!(!read_snapshot(&revoked).is_complete());

    // diff refuses incomplete snapshots unless asked.
    let full = dir.path().join("full.jsonl");
    sim.faults().clear();
    roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &server.base_url(),
            "--out",
            s(&full),
        ],
        &env,
    )
    .await
    .assert_code(0);
    let refused = roster(&["diff", s(&full), s(&revoked)], &[]).await;
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("incomplete") && refused.stderr.contains("--allow-incomplete"),
        "{}",
        refused.stderr
    );
    roster(&["diff", s(&full), s(&revoked), "--allow-incomplete"], &[])
        .await
        .assert_code(1);
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_known_changes() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let env = [("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)];
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.jsonl");
    let after = dir.path().join("after.sqlite");
    roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &url,
            "--out",
            s(&before),
        ],
        &env,
    )
    .await
    .assert_code(0);

    let old = read_snapshot(&before);
    let gone = sim.team_ids()[3].clone();
    let gone_name = old
        .resources
        .iter()
        .find(|r| r.id.as_str() == gone)
        .unwrap()
        .display_name
        .clone();
    let gone_member = old
        .grants
        .iter()
        .find(|g| g.entitlement.resource.id.as_str() == gone && g.entitlement.slug == "member")
        .expect("the team has members")
        .principal
        .id
        .clone();
    let member_login = old
        .resources
        .iter()
        .find(|r| r.id == gone_member)
        .and_then(|r| r.user.as_ref())
        .unwrap()
        .login
        .clone();
    sim.remove_team(&gone);
    let newbie = sim.add_user("zz-newbie");

    roster(
        &["sync", "mattermost", "--base-url", &url, "--out", s(&after)],
        &env,
    )
    .await
    .assert_code(0);
    let run = roster(&["diff", s(&before), s(&after)], &[]).await;
    run.assert_code(1);
    let out = &run.stdout;
    assert!(
        out.contains(&format!("+ user {newbie} (zz-newbie)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("- team {gone} ({gone_name})")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "- grant team:{gone}:member ({gone_name}) → {member_login}"
        )),
        "{out}"
    );
    assert!(out.contains("grants: 0 added"), "{out}");

    let json = roster(&["diff", s(&before), s(&after), "--format", "json"], &[]).await;
    json.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["resources"]["added"][0]["id"], newbie.as_str());
    assert!(!v["grants"]["removed"].as_array().unwrap().is_empty());

    let same = roster(&["diff", s(&before), s(&before)], &[]).await;
    same.assert_code(0);
    assert!(same.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn license_report_csv_columns_and_totals() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("mm.sqlite");
    roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &server.base_url(),
            "--out",
            s(&snap_path),
        ],
        &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
    )
    .await
    .assert_code(0);

    let run = roster(
        &[
            "report",
            "licenses",
            s(&snap_path),
            "--format",
            "csv",
            "--as-of",
            "2025-06-30",
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "User ID,Email,Username,Name,Status,Roles,Position,Created,Last Activity,Type"
    );
    let rows: Vec<&str> = lines.collect();
    let truth = sim.ground_truth();
    let users: Vec<_> = truth
        .resources
        .iter()
        .filter_map(|r| r.user.as_ref())
        .collect();
    assert_eq!(rows.len(), users.len());
    let bots = users
        .iter()
        .filter(|u| u.account_type == roster_core::AccountType::Service)
        .count();
    let deactivated = users
        .iter()
        .filter(|u| {
            u.account_type == roster_core::AccountType::Human && u.status == UserStatus::Disabled
        })
        .count();
    let seats = users.len() - bots - deactivated;
    assert!(
        run.stderr
            .contains(&format!("{} users: {seats} active seats", users.len()))
            && run
                .stderr
                .contains(&format!("{deactivated} deactivated, {bots} bots")),
        "{}",
        run.stderr
    );
    assert!(rows.iter().any(|r| r.contains(",deactivated,")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("system_admin")), "{rows:?}");

    let table = roster(&["report", "licenses", s(&snap_path)], &[]).await;
    table.assert_code(0);
    assert!(table.stdout.contains("active seats:"), "{}", table.stdout);
    let json = roster(
        &["report", "licenses", s(&snap_path), "--format", "json"],
        &[],
    )
    .await;
    json.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["totals"]["bots"], bots);
    assert_eq!(v["users"].as_array().unwrap().len(), users.len());

    // Rocket.Chat snapshots work too (roles by name).
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let bot = sim.bot();
    let rc_path = dir.path().join("rc.jsonl");
    roster(
        &[
            "sync",
            "rocketchat",
            "--base-url",
            &server.base_url(),
            "--user-id",
            &bot.user_id,
            "--auth-token",
            &bot.token,
            "--rate-limit",
            "off",
            "--out",
            s(&rc_path),
        ],
        &[],
    )
    .await
    .assert_code(0);
    let run = roster(&["report", "licenses", s(&rc_path), "--format", "csv"], &[]).await;
    run.assert_code(0);
    assert!(
        run.stdout.lines().skip(1).any(|l| l.contains(",admin")),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_in_verbose_logs_or_files() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.sqlite");
    let run = roster(
        &[
            "-vv",
            "sync",
            "mattermost",
            "--base-url",
            &server.base_url(),
            "--out",
            s(&out),
        ],
        &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
    )
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
    let run = roster(
        &[
            "-vv",
            "sync",
            "rocketchat",
            "--base-url",
            &server.base_url(),
            "--rate-limit",
            "5/300ms",
            "--out",
            s(&out),
        ],
        &[
            ("BATON_ROCKETCHAT_USER_ID", admin.user_id.as_str()),
            ("BATON_ROCKETCHAT_AUTH_TOKEN", admin.token.as_str()),
        ],
    )
    .await;
    run.assert_code(0).assert_no_secret(&[&admin.token]);
    assert_file_has_no_secret(&out, &[&admin.token]);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_version_and_usage_errors() {
    let help = roster(&["--help"], &[]).await;
    help.assert_code(0);
    for needle in [
        "Exit codes",
        "5  incomplete sync",
        "roster demo",
        "sync",
        "diff",
    ] {
        assert!(help.stdout.contains(needle), "{needle}: {}", help.stdout);
    }
    let version = roster(&["--version"], &[]).await;
    version.assert_code(0);
    assert!(version.stdout.starts_with("roster "), "{}", version.stdout);

    // Env values of credentials are never shown in help.
    let help = roster(
        &["sync", "mattermost", "--help"],
        &[
            ("BATON_API_TOKEN", "s3cr3t-env-token"),
            ("BATON_BASE_URL", "https://x.example"),
        ],
    )
    .await;
    help.assert_code(0);
    assert!(help.stdout.contains("BATON_API_TOKEN"), "{}", help.stdout);
    assert!(!help.stdout.contains("s3cr3t-env-token"), "{}", help.stdout);

    let missing = roster(
        &["sync", "mattermost", "--base-url", "https://x.example"],
        &[],
    )
    .await;
    missing.assert_code(2);
    assert!(missing.stderr.contains("--api-token"), "{}", missing.stderr);

    let sqlite_stdout = roster(
        &["sync", "mattermost", "--format", "sqlite"],
        &[
            ("BATON_API_TOKEN", "t"),
            ("BATON_BASE_URL", "https://x.example"),
        ],
    )
    .await;
    sqlite_stdout.assert_code(2);
    assert!(
        sqlite_stdout.stderr.contains("--out"),
        "{}",
        sqlite_stdout.stderr
    );

    let bad_limit = roster(
        &[
            "sync",
            "rocketchat",
            "--rate-limit",
            "ten",
            "--base-url",
            "https://x",
            "--user-id",
            "u",
            "--auth-token",
            "t",
        ],
        &[],
    )
    .await;
    bad_limit.assert_code(2);

    let not_https = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            "http://chat.example.com",
        ],
        &[("BATON_API_TOKEN", "t")],
    )
    .await;
    not_https.assert_code(2);
    assert!(
        not_https.stderr.contains("--insecure-http"),
        "{}",
        not_https.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let nothing = roster(
        &["diff", s(&dir.path().join("a")), s(&dir.path().join("b"))],
        &[],
    )
    .await;
    nothing.assert_code(2);
    assert!(
        nothing.stderr.starts_with("error: cannot read"),
        "{}",
        nothing.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_writes_four_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir: PathBuf = dir.path().join("demo");
    let run = roster(&["demo", "--dir", s(&demo_dir)], &[]).await;
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
    roster(
        &[
            "diff",
            s(&demo_dir.join("rocketchat.jsonl")),
            s(&demo_dir.join("rocketchat.sqlite")),
        ],
        &[],
    )
    .await
    .assert_code(0);
}

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
        let env = [
            ("BATON_ROCKETCHAT_USER_ID", admin.user_id.as_str()),
            ("BATON_ROCKETCHAT_AUTH_TOKEN", admin.token.as_str()),
        ];
        let before = sim.log().entries().len();
        let run = roster(
            &[
                "sync",
                "rocketchat",
                "--base-url",
                &url,
                "--rate-limit",
                "5/150ms",
                "--out",
                s(&out),
                "--resume",
            ],
            &env,
        )
        .await;
        run.assert_code(0).assert_no_secret(&[&admin.token]);
        assert!(run.stderr.contains("resuming"), "{}", run.stderr);
        let snap = read_snapshot(&out);
        assert_matches_truth(&snap, &sim.ground_truth());
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
    let out = dir.path().join("none.jsonl");
    let run = roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            "http://127.0.0.1:1",
            "--out",
            s(&out),
            "--resume",
        ],
        &[("BATON_API_TOKEN", "x-token-1234")],
    )
    .await;
    run.assert_code(2).assert_no_secret(&["x-token-1234"]);
    assert!(
        run.stderr.starts_with("error: nothing to resume"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\nhint: "), "{}", run.stderr);

    let sqlite = roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            "http://127.0.0.1:1",
            "--out",
            s(&dir.path().join("snap.sqlite")),
            "--resume",
        ],
        &[("BATON_API_TOKEN", "x-token-1234")],
    )
    .await;
    sqlite.assert_code(2);
    assert!(sqlite.stderr.contains("JSON Lines"), "{}", sqlite.stderr);
}

/// Plain http to a non-loopback host is refused before any request, and the
/// error names the flag that allows it; `--timeout` is parsed strictly.
#[tokio::test(flavor = "multi_thread")]
async fn insecure_http_and_timeout_flags() {
    let env = [("BATON_API_TOKEN", "x-token-5678")];
    let refused = roster(
        &["sync", "mattermost", "--base-url", "http://example.invalid"],
        &env,
    )
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
        let run = roster(
            &[
                "validate",
                "mattermost",
                "--base-url",
                "https://example.invalid",
                "--timeout",
                bad,
            ],
            &env,
        )
        .await;
        run.assert_code(2);
        assert!(run.stderr.contains("--timeout"), "{bad}: {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sync_option_has_a_roster_environment_variable() {
    let help = roster(&["sync", "rocketchat", "--help"], &[]).await;
    help.assert_code(0);
    for var in [
        "ROSTER_RATE_LIMIT",
        "ROSTER_CONCURRENCY",
        "ROSTER_TIMEOUT",
        "ROSTER_INSECURE_HTTP",
        "ROSTER_INFINITE_COUNT",
        "ROSTER_OUT",
        "ROSTER_FORMAT",
        "ROSTER_NO_PROGRESS",
        "ROSTER_RESUME",
        "BATON_ROCKETCHAT_AUTH_TOKEN",
    ] {
        assert!(help.stdout.contains(var), "{var}: {}", help.stdout);
    }
    // The --rate-limit help names auto and the real settings, not the page size.
    assert!(
        help.stdout.contains("auto|off|CALLS/DURATION"),
        "{}",
        help.stdout
    );
    assert!(
        !help.stdout.contains("API_Default_Count"),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout
            .contains("API_Enable_Rate_Limiter_Limit_Calls_Default"),
        "{}",
        help.stdout
    );
    let help = roster(&["sync", "mattermost", "--help"], &[]).await;
    assert!(help.stdout.contains("ROSTER_NO_ENRICH"), "{}", help.stdout);
    let help = roster(&["validate", "rocketchat", "--help"], &[]).await;
    for var in [
        "ROSTER_RATE_LIMIT",
        "ROSTER_VALIDATE_FORMAT",
        "ROSTER_TIMEOUT",
    ] {
        assert!(help.stdout.contains(var), "{var}: {}", help.stdout);
    }

    // A sync configured by the environment alone.
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let admin = sim.admin();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.sqlite");
    let env = [
        ("BATON_ROCKETCHAT_BASE_URL", url.as_str()),
        ("BATON_ROCKETCHAT_USER_ID", admin.user_id.as_str()),
        ("BATON_ROCKETCHAT_AUTH_TOKEN", admin.token.as_str()),
        ("ROSTER_OUT", s(&out)),
        ("ROSTER_CONCURRENCY", "2"),
        ("ROSTER_RATE_LIMIT", "auto"),
        ("ROSTER_TIMEOUT", "20s"),
        ("ROSTER_NO_PROGRESS", "true"),
    ];
    let run = roster(&["sync", "rocketchat"], &env).await;
    run.assert_code(0).assert_no_secret(&[&admin.token]);
    assert_eq!(
        sqlite_rows(&out, "SELECT value FROM meta WHERE key = 'complete'"),
        ["true"]
    );
    // A bad value from the environment is a usage error naming it.
    let mut bad = env.to_vec();
    bad.push(("ROSTER_RATE_LIMIT", "fast"));
    let run = roster(&["sync", "rocketchat"], &bad).await;
    run.assert_code(2);
    assert!(run.stderr.contains("fast"), "{}", run.stderr);

    // validate with default flags: the stock admin bypasses, auto says so,
    // and a healthy server gives no warning.
    let run = roster(&["validate", "rocketchat"], &env[..3]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("auto: no client quota"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[warn]"), "{}", run.stdout);
}
