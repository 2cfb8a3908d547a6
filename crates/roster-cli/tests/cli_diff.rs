//! `roster diff`: known changes between two syncs, text and JSON.

mod common;

use common::{Roster, read_snapshot};
use roster_sim::mattermost::{self as mm, MattermostSim};

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_known_changes() {
    let sim = MattermostSim::new(mm::OrgSpec::small());
    let server = sim.spawn().await;
    let url = server.base_url();
    let sync = || {
        Roster::sync("mattermost")
            .base_url(&url)
            .mm_token(MattermostSim::ADMIN_TOKEN)
    };
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("before.jsonl");
    let after = dir.path().join("after.sqlite");
    sync().out(&before).run().await.assert_code(0);

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

    sync().out(&after).run().await.assert_code(0);
    let run = Roster::diff(&before, &after).run().await;
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

    let json = Roster::diff(&before, &after).format("json").run().await;
    json.assert_code(1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["resources"]["added"][0]["id"], newbie.as_str());
    assert!(!v["grants"]["removed"].as_array().unwrap().is_empty());

    let same = Roster::diff(&before, &before).run().await;
    same.assert_code(0);
    assert!(same.stdout.is_empty());
}
