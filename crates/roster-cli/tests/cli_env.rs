//! Configured without flags: every `sync` and `validate` option has a
//! `ROSTER_*` environment variable, listed in `--help`.

mod common;

use common::{Roster, s, sqlite_rows};
use roster_sim::rocketchat::{self as rc, RocketChatSim};

#[tokio::test(flavor = "multi_thread")]
async fn every_sync_option_has_a_roster_environment_variable() {
    let help = Roster::sync("rocketchat").arg("--help").run().await;
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
        "ROSTER_DEADLINE",
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
    let help = Roster::sync("mattermost").arg("--help").run().await;
    assert!(help.stdout.contains("ROSTER_NO_ENRICH"), "{}", help.stdout);
    let help = Roster::validate("rocketchat").arg("--help").run().await;
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
    let run = Roster::sync("rocketchat").envs(&env).run().await;
    run.assert_code(0).assert_no_secret(&[&admin.token]);
    assert_eq!(
        sqlite_rows(&out, "SELECT value FROM meta WHERE key = 'complete'"),
        ["true"]
    );
    // A bad value from the environment is a usage error naming it.
    let run = Roster::sync("rocketchat")
        .envs(&env)
        .env("ROSTER_RATE_LIMIT", "fast")
        .run()
        .await;
    run.assert_code(2);
    assert!(run.stderr.contains("fast"), "{}", run.stderr);

    // validate with default flags: the stock admin bypasses, auto says so,
    // and a healthy server gives no warning.
    let run = Roster::validate("rocketchat").envs(&env[..3]).run().await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("auto: no client quota"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("[warn]"), "{}", run.stdout);
}
