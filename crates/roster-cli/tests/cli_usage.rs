//! Help, version and usage errors (exit 2), with no server involved.

mod common;

use common::Roster;

#[tokio::test(flavor = "multi_thread")]
async fn help_version_and_usage_errors() {
    let help = Roster::new(&["--help"]).run().await;
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
    let version = Roster::new(&["--version"]).run().await;
    version.assert_code(0);
    assert!(version.stdout.starts_with("roster "), "{}", version.stdout);

    // Env values of credentials are never shown in help.
    let help = Roster::sync("mattermost")
        .arg("--help")
        .mm_token("s3cr3t-env-token")
        .env("BATON_BASE_URL", "https://x.example")
        .run()
        .await;
    help.assert_code(0);
    assert!(help.stdout.contains("BATON_API_TOKEN"), "{}", help.stdout);
    assert!(!help.stdout.contains("s3cr3t-env-token"), "{}", help.stdout);

    let missing = Roster::sync("mattermost")
        .base_url("https://x.example")
        .run()
        .await;
    missing.assert_code(2);
    assert!(missing.stderr.contains("--api-token"), "{}", missing.stderr);

    let sqlite_stdout = Roster::sync("mattermost")
        .format("sqlite")
        .mm_token("t")
        .env("BATON_BASE_URL", "https://x.example")
        .run()
        .await;
    sqlite_stdout.assert_code(2);
    assert!(
        sqlite_stdout.stderr.contains("--out"),
        "{}",
        sqlite_stdout.stderr
    );

    let bad_limit = Roster::sync("rocketchat")
        .rate_limit("ten")
        .base_url("https://x")
        .rc_login("u", "t")
        .run()
        .await;
    bad_limit.assert_code(2);

    let not_https = Roster::validate("mattermost")
        .base_url("http://chat.example.com")
        .mm_token("t")
        .run()
        .await;
    not_https.assert_code(2);
    assert!(
        not_https.stderr.contains("--insecure-http"),
        "{}",
        not_https.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let nothing = Roster::diff(&dir.path().join("a"), &dir.path().join("b"))
        .run()
        .await;
    nothing.assert_code(2);
    assert!(
        nothing.stderr.starts_with("error: cannot read"),
        "{}",
        nothing.stderr
    );
}
