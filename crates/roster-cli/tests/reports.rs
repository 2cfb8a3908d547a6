//! End-to-end tests of `roster report …` on snapshots of both simulators,
//! read together: every report in every format, unknown activity, flags,
//! offboarding exit codes, and hostile names kept inert in HTML and CSV.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Roster, Run, s};
use roster_core::Snapshot;
use roster_sim::mattermost::{self as mm, MattermostSim, SimLicense};
use roster_sim::rocketchat::{self as rc, RocketChatSim};
use scraper::{Html, Selector};
use serde_json::Value;

const HOSTILE_HTML: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_CSV: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
const MM_SEATS: u64 = 120;
const RC_SEATS: u64 = 80;

/// `roster args…` with `env`; reports on big snapshots get 120 s.
async fn roster(args: &[&str], env: &[(&str, &str)]) -> Run {
    Roster::new(args)
        .envs(env)
        .timeout(Duration::from_secs(120))
        .run()
        .await
}

/// Two snapshots of one company, plus an older Mattermost one.
struct Company {
    _dir: tempfile::TempDir,
    mm_old: PathBuf,
    mm: PathBuf,
    rc: PathBuf,
    mm_no_enrich: PathBuf,
}

async fn sync_mm(sim: &MattermostSim, out: &Path, extra: &[&str]) {
    let server = sim.spawn().await;
    let base = server.base_url();
    let mut args = vec!["sync", "mattermost", "--base-url", &base, "--out", s(out)];
    args.extend(extra);
    roster(&args, &[("BATON_API_TOKEN", MattermostSim::ADMIN_TOKEN)])
        .await
        .assert_code(0);
}

/// The people of the scenario (same e-mail on both platforms):
/// grace.hopper left and is disabled everywhere; alan.turing left and is
/// disabled on Mattermost only; old.admin is a disabled system admin;
/// mallory is an admin whose names are hostile markup / a CSV formula.
async fn company() -> Company {
    let dir = tempfile::tempdir().unwrap();
    let mm_sim = MattermostSim::with_options(
        mm::OrgSpec::small(),
        mm::SimOptions::default().with_license(SimLicense::Licensed {
            sku: "enterprise".into(),
            seats: MM_SEATS,
        }),
    );
    let mut rc_options = rc::SimOptions::default();
    rc_options.rate_limit = None;
    rc_options.max_active_users = Some(RC_SEATS);
    let rc_sim = RocketChatSim::with_options(rc::OrgSpec::small(), rc_options);

    let mm_old = dir.path().join("mm-old.jsonl");
    sync_mm(&mm_sim, &mm_old, &[]).await;

    let grace = mm_sim.add_user("grace.hopper");
    mm_sim.deactivate_user(&grace);
    let alan = mm_sim.add_user("alan.turing");
    mm_sim.deactivate_user(&alan);
    let old_admin = mm_sim.add_user("old.admin");
    mm_sim.set_system_roles(&old_admin, "system_user system_admin");
    mm_sim.deactivate_user(&old_admin);
    let mallory = mm_sim.add_user("mallory");
    mm_sim.set_names(&mallory, HOSTILE_HTML, "");
    mm_sim.set_system_roles(&mallory, "system_user system_admin");

    let grace = rc_sim.add_user("grace.hopper");
    rc_sim.deactivate_user(&grace);
    rc_sim.add_user("alan.turing");
    let mallory = rc_sim.add_user("mallory");
    rc_sim.set_name(&mallory, HOSTILE_CSV);
    rc_sim.add_role(&mallory, "admin");

    let mm = dir.path().join("mm.jsonl");
    sync_mm(&mm_sim, &mm, &[]).await;
    let mm_no_enrich = dir.path().join("mm-no-enrich.sqlite");
    sync_mm(&mm_sim, &mm_no_enrich, &["--no-enrich"]).await;

    let rc = dir.path().join("rc.sqlite");
    let server = rc_sim.spawn().await;
    let bot = rc_sim.bot();
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
            s(&rc),
        ],
        &[],
    )
    .await
    .assert_code(0);
    Company {
        _dir: dir,
        mm_old,
        mm,
        rc,
        mm_no_enrich,
    }
}

/// Parses `html` and checks the page is self-contained, that no hostile
/// markup became an element, and that `hostile` is there as text.
fn assert_inert_html(html: &str, hostile: &str) -> Html {
    let doc = Html::parse_document(html);
    let sel = |s: &str| Selector::parse(s).unwrap();
    assert_eq!(doc.select(&sel("img")).count(), 0, "an <img> element");
    assert_eq!(doc.select(&sel("script")).count(), 1, "one inline script");
    for el in doc.select(&sel("*")) {
        for (name, value) in el.value().attrs() {
            assert!(!name.starts_with("on"), "event handler attribute {name}");
            if name == "src" || name == "href" {
                panic!("external reference {name}={value}");
            }
        }
    }
    assert!(
        doc.select(&sel("script"))
            .all(|s| s.value().attr("src").is_none()),
        "no external script"
    );
    let td = sel("td");
    assert!(
        doc.select(&td)
            .any(|c| c.text().collect::<String>().contains(hostile)),
        "the hostile name is shown as text"
    );
    assert!(doc.select(&sel("table.sortable th")).count() > 3);
    doc
}

#[tokio::test(flavor = "multi_thread")]
async fn governance_reports_on_both_platforms() {
    let c = company().await;
    let (mm, rc) = (s(&c.mm), s(&c.rc));

    // The header carries what each server reported (JSON Lines and SQLite).
    let snap = Snapshot::from_jsonl(&std::fs::read_to_string(&c.mm).unwrap()).unwrap();
    let server = snap.header.unwrap().server.expect("server info");
    assert_eq!(server.licensed_seats, Some(MM_SEATS));
    assert_eq!(server.edition.as_deref(), Some("enterprise"));
    assert!(server.version.is_some());

    // ---- access review
    let json = roster(
        &["report", "access-review", mm, rc, "--format", "json"],
        &[],
    )
    .await;
    let v = json.assert_code(0).json();
    let rows = v["rows"].as_array().unwrap();
    let row = |platform: &str, login: &str| {
        rows.iter()
            .find(|r| r["platform"] == platform && r["login"] == login)
            .unwrap_or_else(|| panic!("{platform} {login} in {rows:#?}"))
            .clone()
    };
    let old_admin = row("mattermost", "old.admin");
    assert_eq!(old_admin["status"], "disabled");
    assert!(
        old_admin["flags"]
            .as_array()
            .unwrap()
            .contains(&Value::from("deactivated"))
    );
    assert_eq!(row("rocketchat", "mallory")["access"][0]["role"], "admin");
    assert!(v["per_platform"]["mattermost"].as_u64().unwrap() >= 2);
    assert!(v["per_platform"]["rocketchat"].as_u64().unwrap() >= 1);
    // No one without elevated access is listed.
    assert!(
        rows.iter()
            .all(|r| !r["access"].as_array().unwrap().is_empty())
    );

    let table = roster(&["report", "access-review", mm, rc], &[]).await;
    table.assert_code(0);
    assert!(
        table.stdout.contains("privileged accounts"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("deactivated"));

    let csv = roster(&["report", "access-review", mm, rc, "--format", "csv"], &[]).await;
    csv.assert_code(0);
    assert!(
        csv.stdout
            .starts_with("Platform,Name,Login,Email,Type,Status,Access,Last Activity,Flags\r\n")
    );
    assert!(
        csv.stdout
            .contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",mallory,"),
        "formula neutralised: {}",
        csv.stdout
    );

    let html = roster(
        &["report", "access-review", mm, rc, "--format", "html"],
        &[],
    )
    .await;
    html.assert_code(0);
    let doc = assert_inert_html(&html.stdout, HOSTILE_HTML);
    assert!(doc.select(&Selector::parse("svg").unwrap()).count() >= 1);

    // ---- --since: mallory and old.admin became admins after the older snapshot
    let since = roster(
        &[
            "report",
            "access-review",
            mm,
            rc,
            "--since",
            s(&c.mm_old),
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let v = since.assert_code(0).json();
    let added: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "added")
        .map(|c| c["login"].as_str().unwrap())
        .collect();
    assert!(
        added.contains(&"mallory") && added.contains(&"old.admin"),
        "{added:?}"
    );
    assert!(
        v["not_compared"][0]
            .as_str()
            .unwrap()
            .starts_with("Rocket.Chat"),
        "{v}"
    );
    let since_csv = roster(
        &[
            "report",
            "access-review",
            mm,
            "--since",
            s(&c.mm_old),
            "--format",
            "csv",
        ],
        &[],
    )
    .await;
    since_csv.assert_code(0);
    assert!(
        since_csv
            .stdout
            .lines()
            .next()
            .unwrap()
            .ends_with(",Change")
    );
    assert!(since_csv.stdout.contains("added: system_admin (system)"));

    // ---- licenses: seats per platform, both snapshots together
    let lic = roster(&["report", "licenses", mm, rc, "--format", "json"], &[]).await;
    let v = lic.assert_code(0).json();
    let seats = v["platforms"].as_array().unwrap();
    assert_eq!(seats[0]["licensed"], MM_SEATS);
    assert_eq!(seats[1]["licensed"], RC_SEATS);
    assert_eq!(seats[1]["connector"], "rocketchat");
    let mallory = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["platform"] == "mattermost" && u["username"] == "mallory")
        .unwrap();
    assert_eq!(mallory["name"], HOSTILE_HTML);
    let lic = roster(&["report", "licenses", mm, rc], &[]).await;
    lic.assert_code(0);
    assert!(
        lic.stdout
            .contains(&format!("seats:        licensed {MM_SEATS}, used")),
        "{}",
        lic.stdout
    );
    let lic_csv = roster(&["report", "licenses", mm, rc, "--format", "csv"], &[]).await;
    lic_csv.assert_code(0);
    assert!(lic_csv.stdout.starts_with("Platform,User ID,Email"));
    assert!(lic_csv.stderr.contains("reclaimable"), "{}", lic_csv.stderr);
    let lic_html = roster(&["report", "licenses", mm, rc, "--format", "html"], &[]).await;
    lic_html.assert_code(0);
    let doc = assert_inert_html(&lic_html.stdout, HOSTILE_HTML);
    let svg_text: String = doc
        .select(&Selector::parse("svg").unwrap())
        .flat_map(|e| e.text())
        .collect();
    assert!(
        svg_text.contains(&format!("{MM_SEATS} licensed")),
        "{svg_text}"
    );

    // ---- dormant: the added accounts never signed in
    let d = roster(
        &[
            "report", "dormant", mm, rc, "--days", "90", "--format", "json",
        ],
        &[],
    )
    .await;
    let v = d.assert_code(0).json();
    let rows = v["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["login"] == "alan.turing" && r["platform"] == "rocketchat")
    );
    // Disabled accounts are not dormant ones.
    assert!(!rows.iter().any(|r| r["login"] == "grace.hopper"));
    assert_eq!(v["unknown"], 0);
    // Privileged first.
    let first_plain = rows
        .iter()
        .position(|r| r["access"].as_array().unwrap().is_empty());
    let last_privileged = rows
        .iter()
        .rposition(|r| !r["access"].as_array().unwrap().is_empty());
    if let (Some(p), Some(l)) = (first_plain, last_privileged) {
        assert!(l < p, "privileged first");
    }
    for format in ["table", "csv"] {
        roster(
            &[
                "report", "dormant", mm, rc, "--days", "90", "--format", format,
            ],
            &[],
        )
        .await
        .assert_code(0);
    }
    let d_html = roster(
        &[
            "report", "dormant", mm, rc, "--days", "90", "--format", "html",
        ],
        &[],
    )
    .await;
    d_html.assert_code(0);
    assert_inert_html(&d_html.stdout, HOSTILE_HTML);
}

#[tokio::test(flavor = "multi_thread")]
async fn offboarding_passes_only_when_nothing_remains() {
    let c = company().await;
    let (mm, rc) = (s(&c.mm), s(&c.rc));

    // Disabled everywhere, e-mail matched case-insensitively; an unknown
    // person is listed as such and does not fail the check.
    let ok = roster(
        &[
            "report",
            "offboarding",
            "--who",
            "Grace.Hopper@EXAMPLE.com",
            "--who",
            "nobody@example.com",
            mm,
            rc,
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let v = ok.assert_code(0).json();
    assert_eq!(v["people"][0]["verdict"], "offboarded");
    assert_eq!(v["people"][0]["accounts"].as_array().unwrap().len(), 2);
    assert_eq!(v["people"][1]["verdict"], "no account found");

    // Disabled on Mattermost, still enabled on Rocket.Chat: exit 1.
    let dir = tempfile::tempdir().unwrap();
    let who = dir.path().join("leavers.txt");
    std::fs::write(&who, "# leavers\ngrace.hopper\n\nalan.turing@example.com\n").unwrap();
    let half = roster(
        &["report", "offboarding", "--who-file", s(&who), mm, rc],
        &[],
    )
    .await;
    half.assert_code(1);
    assert!(half.stdout.contains("access remains"), "{}", half.stdout);
    assert!(half.stdout.contains("account enabled"));
    assert!(
        half.stdout
            .contains("1 offboarded, 1 with access remaining")
    );

    for format in ["csv", "html"] {
        let run = roster(
            &[
                "report",
                "offboarding",
                "--who",
                "mallory",
                mm,
                rc,
                "--format",
                format,
            ],
            &[],
        )
        .await;
        run.assert_code(1);
        if format == "html" {
            assert_inert_html(&run.stdout, HOSTILE_HTML);
            assert!(run.stdout.contains("FAIL"));
        } else {
            assert!(run.stdout.contains("\"'=HYPERLINK("), "{}", run.stdout);
        }
    }

    let none = roster(&["report", "offboarding", mm], &[]).await;
    none.assert_code(2);
    assert!(none.stderr.contains("--who"), "{}", none.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_activity_is_never_inactive_or_dormant() {
    let c = company().await;
    let snap = s(&c.mm_no_enrich);

    let lic = roster(&["report", "licenses", snap, "--format", "json"], &[]).await;
    let v = lic.assert_code(0).json();
    let statuses: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert!(!statuses.contains(&"inactive"), "{statuses:?}");
    assert!(!statuses.contains(&"active"), "{statuses:?}");
    assert!(statuses.contains(&"unknown"));
    assert_eq!(v["totals"]["inactive"], 0);
    assert!(v["totals"]["unknown"].as_u64().unwrap() > 0);
    assert_eq!(v["platforms"][0]["reclaimable"], 0);
    assert!(
        lic.stderr.contains("unknown") && lic.stderr.contains("no last-login"),
        "says why on stderr: {}",
        lic.stderr
    );
    let csv = roster(&["report", "licenses", snap, "--format", "csv"], &[]).await;
    csv.assert_code(0);
    assert!(csv.stdout.contains(",unknown,"), "{}", csv.stdout);
    assert!(!csv.stdout.contains(",inactive,"));

    let d = roster(
        &["report", "dormant", snap, "--days", "1", "--format", "json"],
        &[],
    )
    .await;
    let v = d.assert_code(0).json();
    assert_eq!(v["rows"].as_array().unwrap().len(), 0);
    assert_eq!(v["unknown"], v["enabled"]);

    // Enriched, the same company has real activity and dormant accounts.
    let d = roster(
        &[
            "report",
            "dormant",
            s(&c.mm),
            "--days",
            "1",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let v = d.assert_code(0).json();
    assert!(!v["rows"].as_array().unwrap().is_empty());
    assert_eq!(v["unknown"], 0);
}

#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread")]
async fn demo_suggests_reports_and_writes_an_access_review() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let run = roster(
        &[
            "demo",
            "--dir",
            s(&demo),
            "--size",
            "small",
            "--no-progress",
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("roster report access-review"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("roster report dormant"));
    let html = std::fs::read_to_string(demo.join("access-review.html")).unwrap();
    let doc = Html::parse_document(&html);
    assert!(
        doc.select(&Selector::parse("table.sortable tbody tr").unwrap())
            .count()
            > 0
    );
    // The simulated workspaces look alive: someone was active this month.
    let d = roster(
        &[
            "report",
            "dormant",
            s(&demo.join("mattermost.sqlite")),
            "--days",
            "30",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    let v = d.assert_code(0).json();
    let recent: u64 = v["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|b| b[1].as_u64().unwrap())
        .sum();
    assert!(recent > 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_licence_data_says_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sim = MattermostSim::with_options(
        mm::OrgSpec::small(),
        mm::SimOptions::default().with_license(SimLicense::NotReported),
    );
    let path = dir.path().join("mm.sqlite");
    sync_mm(&sim, &path, &[]).await;
    let table = roster(&["report", "licenses", s(&path)], &[]).await;
    table.assert_code(0);
    assert!(
        table
            .stdout
            .contains("seats:        licensed not reported, used"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("(edition not reported)"));
    let v = roster(&["report", "licenses", s(&path), "--format", "json"], &[])
        .await
        .json();
    assert_eq!(v["platforms"][0]["licensed"], Value::Null);
    assert_eq!(v["platforms"][0]["version"], "10.5.1");
}
