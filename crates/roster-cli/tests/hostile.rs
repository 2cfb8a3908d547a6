//! The `roster` binary against hostile input: server-controlled text full of
//! terminal controls and spreadsheet formulas, tampered and crafted snapshot
//! files (JSON Lines and SQLite), server failures during validation, and
//! tokens read from files.
//!
//! Each test runs the real binary (`CARGO_BIN_EXE_roster`) on a blocking
//! thread; servers are the in-process simulators or wiremock.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Roster, Run, s};
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::rocketchat::{self as rc, RocketChatSim};
use roster_sim::{Fault, FaultRule};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Clears the screen, sets the window title, draws an OSC 8 link, rings the
/// bell, starts a forged line, returns the carriage and reverses the text.
const HOSTILE: &str = "Eve\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\\nforged: line\rover\u{202e}gnp.exe";
/// A spreadsheet formula.
const FORMULA: &str = "=HYPERLINK(\"https://evil.example/\",\"open\")";

/// What hostile input must never achieve on a terminal.
trait AssertClean {
    fn assert_clean(&self) -> &Self;
}

impl AssertClean for Run {
    /// No terminal control, bidi override or forged line on stdout or stderr.
    fn assert_clean(&self) -> &Self {
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            for c in text.chars() {
                assert!(
                    c == '\n' || !(c.is_control() || matches!(c, '\u{202a}'..='\u{202e}')),
                    "{name} carries the raw control {c:?}:\n{text}"
                );
            }
            for line in text.lines() {
                assert!(
                    !line.starts_with("forged"),
                    "{name} has a forged line:\n{text}"
                );
            }
        }
        self
    }
}

/// Runs `roster args…` with `env` and, if given, `stdin`.
async fn roster_in(args: &[&str], env: &[(&str, &str)], stdin: Option<Vec<u8>>) -> Run {
    let cmd = Roster::new(args).envs(env).timeout(Duration::from_secs(90));
    match stdin {
        Some(input) => cmd.stdin(input),
        None => cmd,
    }
    .run()
    .await
}

async fn roster(args: &[&str], env: &[(&str, &str)]) -> Run {
    roster_in(args, env, None).await
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Snapshot files written by hand.

fn header(source: &str) -> String {
    serde_json::json!({
        "kind": "header", "format": "roster-snapshot/1", "connector": "mattermost",
        "source": source, "started_at": "2026-11-24T10:00:00Z",
    })
    .to_string()
}

fn user(id: &str, login: &str, name: &str) -> String {
    serde_json::json!({
        "kind": "resource", "type": "user", "id": id, "display_name": name, "parent": null,
        "user": {"login": login, "emails": [format!("{id}@example.com")], "status": "enabled",
                 "account_type": "human", "created_at": null, "last_login_at": null,
                 "last_activity_at": null},
        "profile": {"system_roles": ["system_user"], "auth_service": "", "position": ""},
    })
    .to_string()
}

fn team(id: &str, name: &str) -> String {
    serde_json::json!({
        "kind": "resource", "type": "team", "id": id, "display_name": name, "parent": null,
        "profile": {"archived": false, "team_type": "O"},
    })
    .to_string()
}

fn member_entitlement(team: &str) -> String {
    serde_json::json!({
        "kind": "entitlement", "id": format!("team:{team}:member"),
        "resource": {"type": "team", "id": team}, "slug": "member",
        "purpose": "assignment", "grantable_to": ["user"],
    })
    .to_string()
}

fn grant(team: &str, user: &str) -> String {
    serde_json::json!({
        "kind": "grant", "entitlement": format!("team:{team}:member"),
        "principal": {"type": "user", "id": user},
    })
    .to_string()
}

fn summary(complete: bool, counts: [u64; 3], warnings: &[&str]) -> String {
    serde_json::json!({
        "kind": "summary", "complete": complete, "finished_at": "2026-11-24T10:05:00Z",
        "counts": {"resource": counts[0], "entitlement": counts[1], "grant": counts[2]},
        "requests": 9, "retries": 0, "rate_limited": 0, "warnings": warnings,
    })
    .to_string()
}

/// Lines of a file, a summary counting them appended.
fn with_summary(lines: &[String], complete: bool, warnings: &[&str]) -> String {
    let count = |k: &str| {
        lines
            .iter()
            .filter(|l| l.contains(&format!("\"kind\":\"{k}\"")))
            .count() as u64
    };
    let counts = [count("resource"), count("entitlement"), count("grant")];
    let mut text = lines.join("\n");
    text.push('\n');
    text.push_str(&summary(complete, counts, warnings));
    text.push('\n');
    text
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

/// An old snapshot and a new one where hostile names appear everywhere diff
/// prints one; the new one also comes from a hostile `source`.
fn hostile_pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let old = with_summary(
        &[
            header("https://chat.example.com"),
            user("u1", "eve", "Eve"),
            team("t1", "Ops"),
            member_entitlement("t1"),
            grant("t1", "u1"),
        ],
        true,
        &[],
    );
    let new = with_summary(
        &[
            header(&format!("https://chat.example.com/{HOSTILE}")),
            user("u1", HOSTILE, HOSTILE),
            user("u2", FORMULA, HOSTILE),
            team("t1", HOSTILE),
            team("t2", HOSTILE),
            member_entitlement("t1"),
            member_entitlement("t2"),
            grant("t1", "u2"),
            grant("t2", "u1"),
        ],
        true,
        &[],
    );
    (write(dir, "old.jsonl", &old), write(dir, "new.jsonl", &new))
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_text_escapes_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = hostile_pair(dir.path());
    let run = roster(&["diff", s(&old), s(&new)], &[]).await;
    run.assert_code(1).assert_clean();
    // Every line is one the report meant to write.
    for line in run.stdout.lines() {
        assert!(
            line.is_empty()
                || ["resources:", "entitlements:", "grants:", "+ ", "- ", "~ "]
                    .iter()
                    .any(|p| line.starts_with(p)),
            "unexpected line {line:?}:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("\\e[2J"), "{}", run.stdout);
    assert!(run.stdout.contains("\\u{202e}"), "{}", run.stdout);
    assert!(run.stderr.contains("different sources"), "{}", run.stderr);
    // Reversed old/new: the removed side is escaped too.
    roster(&["diff", s(&new), s(&old)], &[])
        .await
        .assert_code(1)
        .assert_clean();
    // JSON stays JSON (serde escapes the controls) and keeps the names exact.
    let run = roster(&["diff", s(&old), s(&new), "--format", "json"], &[]).await;
    run.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert!(v.to_string().contains("pwned"));
}

#[tokio::test(flavor = "multi_thread")]
async fn licence_table_and_csv_neutralise_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    let (_, new) = hostile_pair(dir.path());
    roster(&["report", "licenses", s(&new)], &[])
        .await
        .assert_code(0)
        .assert_clean();
    let run = roster(&["report", "licenses", s(&new), "--format", "csv"], &[]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("\"'=HYPERLINK("),
        "formula not neutralised:\n{}",
        run.stdout
    );
    // No record (a line outside quotes) starts with a formula character.
    let mut in_quotes = false;
    let mut at_cell_start = true;
    for c in run.stdout.chars() {
        if at_cell_start && !in_quotes {
            assert!(
                !matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'),
                "a cell starts with {c:?}:\n{}",
                run.stdout
            );
        }
        at_cell_start = false;
        match c {
            '"' => in_quotes = !in_quotes,
            ',' | '\n' if !in_quotes => at_cell_start = true,
            _ => {}
        }
    }
    assert!(!in_quotes, "unbalanced quotes:\n{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn error_lines_escape_snapshot_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_summary(
        &[header("https://chat.example.com"), user("u1", "eve", "Eve")],
        false,
        &[HOSTILE],
    );
    let snap = write(dir.path(), "incomplete.jsonl", &text);
    let run = roster(&["report", "licenses", s(&snap)], &[]).await;
    run.assert_code(2).assert_clean();
    assert!(run.stderr.contains("incomplete"), "{}", run.stderr);
    let run = roster(&["diff", s(&snap), s(&snap)], &[]).await;
    run.assert_code(2).assert_clean();
}

// ---------------------------------------------------------------------------
// A hostile Mattermost server (wiremock).

async fn hostile_mattermost(admin: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/system/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"status": "OK"})))
        .mount(&server)
        .await;
    let roles = if admin {
        "system_user system_admin"
    } else {
        "system_user"
    };
    Mock::given(method("GET"))
        .and(path("/api/v4/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "meid", "username": HOSTILE, "email": "me@example.com", "roles": roles,
            "is_bot": false, "create_at": 1, "delete_at": 0,
        })))
        .mount(&server)
        .await;
    // Everything else: a 400 whose message is hostile (not retried).
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "id": "api.error", "message": HOSTILE, "status_code": 400,
        })))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_and_sync_escape_server_text() {
    let env = [("BATON_API_TOKEN", "tok-hostile")];
    // A non-admin whose username is hostile: the failed check names it.
    let server = hostile_mattermost(false).await;
    let url = server.uri();
    let run = roster(&["validate", "mattermost", "--base-url", &url], &env).await;
    run.assert_code(3).assert_clean();
    assert!(run.stdout.contains("\\e]0;pwned"), "{}", run.stdout);
    roster(&["sync", "mattermost", "--base-url", &url], &env)
        .await
        .assert_code(3)
        .assert_clean();

    // An admin: the enrichment warnings and the failed listings carry the
    // server's hostile message into warnings and the summary.
    let server = hostile_mattermost(true).await;
    let url = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap.jsonl");
    let run = roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &url,
            "--out",
            s(&out),
            "--no-progress",
        ],
        &env,
    )
    .await;
    // Validation warns (enrichment, plan); the listings fail: incomplete.
    run.assert_code(5).assert_clean();
    assert!(run.stderr.contains("warning: enrichment"), "{}", run.stderr);
    assert!(run.stderr.contains("INCOMPLETE"), "{}", run.stderr);
    assert!(run.stderr.contains("\\e]0;pwned"), "{}", run.stderr);
    let run = roster(&["validate", "mattermost", "--base-url", &url], &env).await;
    run.assert_clean();
}

// ---------------------------------------------------------------------------
// Item 12: server failures on /users/me are server failures (exit 4).

#[tokio::test(flavor = "multi_thread")]
async fn server_failures_on_users_me_exit_4_not_3() {
    let faults = [
        Fault::ServerError(500),
        Fault::MalformedJson,
        Fault::RateLimited,
    ];
    let mut runs = Vec::new();
    for fault in faults {
        runs.push(async move {
            let sim = MattermostSim::new(mm::OrgSpec::small());
            let server = sim.spawn().await;
            sim.faults()
                .add(FaultRule::new("/users/me", fault.clone(), u32::MAX));
            let run = roster(
                &["validate", "mattermost", "--base-url", &server.base_url()],
                &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
            )
            .await;
            (fault, run)
        });
    }
    for (fault, run) in futures_join(runs).await {
        assert_eq!(
            run.code, 4,
            "{fault:?}: exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            run.stdout, run.stderr
        );
        assert!(
            !run.stderr.contains("credentials") && !run.stderr.contains("token invalid"),
            "{fault:?} blamed the credentials:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("/users/me"), "{}", run.stderr);
    }
    // A rejected token is still an auth failure.
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    roster(
        &["validate", "mattermost", "--base-url", &server.base_url()],
        &[("BATON_API_TOKEN", "not-a-token")],
    )
    .await
    .assert_code(3);
}

/// Runs the futures concurrently (each run waits for its retries).
async fn futures_join<F: std::future::Future + Send + 'static>(futs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("join"));
    }
    out
}

// ---------------------------------------------------------------------------
// Item 13: tokens from files.

#[tokio::test(flavor = "multi_thread")]
async fn mattermost_token_from_file_env_file_and_stdin() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "token",
        &format!("  {}\n\n", MattermostSim::ADMIN_TOKEN),
    );
    let run = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            &url,
            "--api-token-file",
            s(&file),
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    assert!(!run.stdout.contains(MattermostSim::ADMIN_TOKEN));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let run = roster(
            &[
                "validate",
                "mattermost",
                "--base-url",
                &url,
                "--api-token-file",
                s(&file),
            ],
            &[],
        )
        .await;
        run.assert_code(0);
        assert!(
            run.stderr.contains("readable by other users"),
            "{}",
            run.stderr
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    roster(
        &["validate", "mattermost", "--base-url", &url],
        &[("BATON_API_TOKEN_FILE", s(&file))],
    )
    .await
    .assert_code(0);
    let out = dir.path().join("snap.jsonl");
    roster_in(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &url,
            "--api-token-file",
            "-",
            "--out",
            s(&out),
        ],
        &[],
        Some(format!("{}\n", MattermostSim::ADMIN_TOKEN).into_bytes()),
    )
    .await
    .assert_code(0);

    // An empty file is refused before any request, naming the file.
    let empty = write(dir.path(), "empty", " \n");
    let before = sim.log().len();
    let run = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            &url,
            "--api-token-file",
            s(&empty),
        ],
        &[],
    )
    .await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("empty") && run.stderr.contains(s(&empty)),
        "{}",
        run.stderr
    );
    assert_eq!(sim.log().len(), before, "no request with an empty token");
    // A missing file.
    let run = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            &url,
            "--api-token-file",
            s(&dir.path().join("missing")),
        ],
        &[],
    )
    .await;
    run.assert_code(2);
    assert!(run.stderr.contains("missing"), "{}", run.stderr);
    // A token and a token file: which one was meant is unclear.
    let run = roster(
        &[
            "validate",
            "mattermost",
            "--base-url",
            &url,
            "--api-token-file",
            s(&file),
        ],
        &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
    )
    .await;
    run.assert_code(2);
    // Neither.
    roster(&["validate", "mattermost", "--base-url", &url], &[])
        .await
        .assert_code(2);
    // The help says why the file is better.
    let help = roster(&["sync", "mattermost", "--help"], &[]).await;
    help.assert_code(0);
    assert!(help.stdout.contains("--api-token-file"), "{}", help.stdout);
    assert!(
        help.stdout.contains("visible to other users"),
        "{}",
        help.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rocketchat_auth_token_from_file_and_env_file() {
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let bot = sim.bot();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "token", &format!("{}\n", bot.token));
    let args = [
        "validate",
        "rocketchat",
        "--base-url",
        &url,
        "--user-id",
        &bot.user_id,
        "--rate-limit",
        "off",
    ];
    let mut with_flag = args.to_vec();
    with_flag.extend(["--auth-token-file", s(&file)]);
    roster(&with_flag, &[]).await.assert_code(0);
    roster(&args, &[("BATON_ROCKETCHAT_AUTH_TOKEN_FILE", s(&file))])
        .await
        .assert_code(0);
    let mut from_stdin = args.to_vec();
    from_stdin.extend(["--auth-token-file", "-"]);
    roster_in(&from_stdin, &[], Some(bot.token.clone().into_bytes()))
        .await
        .assert_code(0);
    let empty = write(dir.path(), "empty", "");
    let mut with_empty = args.to_vec();
    with_empty.extend(["--auth-token-file", s(&empty)]);
    let run = roster(&with_empty, &[]).await;
    run.assert_code(2);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    let help = roster(&["validate", "rocketchat", "--help"], &[]).await;
    assert!(help.stdout.contains("--auth-token-file"), "{}", help.stdout);
    assert!(
        help.stdout.contains("visible to other users"),
        "{}",
        help.stdout
    );
}

// ---------------------------------------------------------------------------
// Item 11: JSON Lines integrity.

fn complete_lines() -> Vec<String> {
    vec![
        header("https://chat.example.com"),
        user("u1", "ada", "Ada"),
        user("u2", "bob", "Bob"),
        team("t1", "Ops"),
        member_entitlement("t1"),
        grant("t1", "u1"),
        grant("t1", "u2"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_jsonl_snapshots_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.jsonl",
        &with_summary(&complete_lines(), true, &[]),
    );
    roster(&["diff", s(&good), s(&good)], &[])
        .await
        .assert_code(0);

    // A grant line deleted after the sync wrote the file.
    let text = std::fs::read_to_string(&good).unwrap();
    let cut: Vec<&str> = text
        .lines()
        .filter(|l| !(l.contains("\"kind\":\"grant\"") && l.contains("\"u2\"")))
        .collect();
    assert_eq!(cut.len(), text.lines().count() - 1);
    let cut = write(dir.path(), "cut.jsonl", &cut.join("\n"));
    let run = roster(&["diff", s(&good), s(&cut)], &[]).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("grant") && run.stderr.contains("count"),
        "{}",
        run.stderr
    );
    let run = roster(&["report", "licenses", s(&cut)], &[]).await;
    run.assert_code(2);

    // A second header in the middle (two files concatenated).
    let mut lines = complete_lines();
    lines.insert(3, header("https://other.example.com"));
    let twice = write(dir.path(), "twice.jsonl", &with_summary(&lines, true, &[]));
    let run = roster(&["diff", s(&good), s(&twice)], &[]).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("second header") && run.stderr.contains("line 4"),
        "{}",
        run.stderr
    );

    // Read from stdin (streamed): the same checks apply.
    let run = roster_in(
        &["report", "licenses", "-"],
        &[],
        Some(std::fs::read(&cut).unwrap()),
    )
    .await;
    run.assert_code(2);
    let run = roster_in(
        &["report", "licenses", "-", "--format", "json"],
        &[],
        Some(std::fs::read(&good).unwrap()),
    )
    .await;
    run.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn older_snapshots_still_load() {
    // The contract's minimal summary (no extensions), blank lines, CRLF
    // line ends and a file without summary (read with --allow-incomplete).
    let dir = tempfile::tempdir().unwrap();
    let text = with_summary(&complete_lines(), true, &[]).replace('\n', "\r\n\r\n");
    let old = write(dir.path(), "old.jsonl", &text);
    roster(&["report", "licenses", s(&old)], &[])
        .await
        .assert_code(0);
    let died = write(dir.path(), "died.jsonl", &complete_lines().join("\n"));
    roster(&["diff", s(&old), s(&died), "--allow-incomplete"], &[])
        .await
        .assert_code(0);
}

// ---------------------------------------------------------------------------
// Item 10: crafted SQLite snapshots.

const SQLITE_SCHEMA: &str = "
CREATE TABLE resources (type TEXT NOT NULL, id TEXT NOT NULL, display_name TEXT NOT NULL,
    parent_type TEXT, parent_id TEXT, login TEXT, emails TEXT, status TEXT, account_type TEXT,
    created_at TEXT, last_login_at TEXT, last_activity_at TEXT, profile TEXT NOT NULL,
    PRIMARY KEY (type, id));
CREATE TABLE entitlements (id TEXT PRIMARY KEY, resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL, slug TEXT NOT NULL, purpose TEXT NOT NULL,
    grantable_to TEXT NOT NULL);
CREATE TABLE grants (entitlement TEXT NOT NULL, principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL, PRIMARY KEY (entitlement, principal_type, principal_id));
";

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_view_over_endless_cte_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("evil.sqlite");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(SQLITE_SCHEMA).unwrap();
        conn.execute_batch(
            "CREATE VIEW meta AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
             SELECT 'k' || n AS key, hex(zeroblob(1000)) AS value FROM r;",
        )
        .unwrap();
    }
    let started = Instant::now();
    let run = roster(&["report", "licenses", s(&db)], &[]).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("view") && run.stderr.contains("meta"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10), "took too long");
}

/// A SQLite snapshot of a small simulated Mattermost, synced into `dir`.
async fn synced_sqlite(dir: &Path) -> std::path::PathBuf {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let db = dir.join("snap.sqlite");
    roster(
        &[
            "sync",
            "mattermost",
            "--base-url",
            &server.base_url(),
            "--out",
            s(&db),
        ],
        &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)],
    )
    .await
    .assert_code(0);
    db
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_a_sqlite_snapshot_leaves_the_directory_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_sqlite(dir.path()).await;
    // A database switched to WAL mode makes ordinary readers create
    // `-wal` and `-shm` files beside it.
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let before = listing(dir.path());
    let mtime = std::fs::metadata(&db).unwrap().modified().unwrap();
    roster(&["report", "licenses", s(&db)], &[])
        .await
        .assert_code(0);
    roster(&["diff", s(&db), s(&db)], &[]).await.assert_code(0);
    assert_eq!(listing(dir.path()), before, "reading created files");
    assert_eq!(std::fs::metadata(&db).unwrap().modified().unwrap(), mtime);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_snapshot_with_deleted_rows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_sqlite(dir.path()).await;
    roster(&["diff", s(&db), s(&db)], &[]).await.assert_code(0);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "DELETE FROM grants WHERE rowid = (SELECT min(rowid) FROM grants)",
            [],
        )
        .unwrap();
    }
    let run = roster(&["diff", s(&db), s(&db)], &[]).await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("grant") && run.stderr.contains("count"),
        "{}",
        run.stderr
    );
}
