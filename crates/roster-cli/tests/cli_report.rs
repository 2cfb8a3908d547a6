//! `roster report licenses` end to end, from a real sync of each platform.

mod common;

use common::Roster;
use roster_core::UserStatus;
use roster_sim::mattermost::{self as mm, MattermostSim};
use roster_sim::rocketchat::{self as rc, RocketChatSim};

#[tokio::test(flavor = "multi_thread")]
async fn license_report_csv_columns_and_totals() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let snap_path = dir.path().join("mm.sqlite");
    Roster::sync("mattermost")
        .base_url(&server.base_url())
        .out(&snap_path)
        .mm_token(MattermostSim::ADMIN_TOKEN)
        .run()
        .await
        .assert_code(0);

    let run = Roster::report("licenses", &snap_path)
        .format("csv")
        .args(&["--as-of", "2025-06-30"])
        .run()
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

    let table = Roster::report("licenses", &snap_path).run().await;
    table.assert_code(0);
    assert!(table.stdout.contains("active seats:"), "{}", table.stdout);
    let json = Roster::report("licenses", &snap_path)
        .format("json")
        .run()
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
    Roster::sync("rocketchat")
        .base_url(&server.base_url())
        .rc_login(&bot.user_id, &bot.token)
        .rate_limit("off")
        .out(&rc_path)
        .run()
        .await
        .assert_code(0);
    let run = Roster::report("licenses", &rc_path)
        .format("csv")
        .run()
        .await;
    run.assert_code(0);
    assert!(
        run.stdout.lines().skip(1).any(|l| l.contains(",admin")),
        "{}",
        run.stdout
    );
}
