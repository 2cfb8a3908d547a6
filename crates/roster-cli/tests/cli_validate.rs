//! `roster validate`: what a token may see, exit 3 when it is not enough.

mod common;

use common::Roster;
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::rocketchat::{self as rc, RocketChatSim};

#[tokio::test(flavor = "multi_thread")]
async fn validate_reports_missing_permission_with_exit_3() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let validate = || Roster::validate("mattermost").base_url(&url);

    let ok = validate().mm_token(MattermostSim::ADMIN_TOKEN).run().await;
    ok.assert_code(0).assert_no_secret(&[]);
    assert!(
        ok.stdout.contains("a complete sync is possible"),
        "{}",
        ok.stdout
    );

    let weak = validate().mm_token(MattermostSim::USER_TOKEN).run().await;
    weak.assert_code(3).assert_no_secret(&[]);
    assert!(weak.stdout.contains("manage_system"), "{}", weak.stdout);
    assert!(
        weak.stderr.contains("error: ") && weak.stderr.contains("hint: "),
        "{}",
        weak.stderr
    );

    // JSON for tools.
    let json = validate()
        .format("json")
        .mm_token(MattermostSim::USER_TOKEN)
        .run()
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
    let sync = Roster::sync("mattermost")
        .base_url(&url)
        .out(&out)
        .mm_token(MattermostSim::USER_TOKEN)
        .run()
        .await;
    sync.assert_code(3).assert_no_secret(&[]);
    assert!(sync.stderr.contains("manage_system"), "{}", sync.stderr);
    assert!(!out.exists() && !dir.path().join("never.jsonl.partial").exists());

    // A wrong token: authentication, exit 3.
    let bad = Roster::sync("mattermost")
        .base_url(&url)
        .mm_token("not-a-real-token-zz9")
        .run()
        .await;
    bad.assert_code(3)
        .assert_no_secret(&["not-a-real-token-zz9"]);
    assert!(bad.stdout.is_empty());

    // Rocket.Chat: a plain user lacks view-all-teams.
    let sim = RocketChatSim::new(rc::OrgSpec::small());
    let server = sim.spawn().await;
    let plain = sim.plain_user();
    let run = Roster::validate("rocketchat")
        .rate_limit("off")
        .env("BATON_ROCKETCHAT_BASE_URL", &server.base_url())
        .rc_env(&plain.user_id, &plain.token)
        .run()
        .await;
    run.assert_code(3).assert_no_secret(&[&plain.token]);
    assert!(run.stdout.contains("view-all-teams"), "{}", run.stdout);
}
