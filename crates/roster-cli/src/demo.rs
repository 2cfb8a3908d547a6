//! `roster demo`: both simulators in-process, synced with live progress into
//! JSON Lines and SQLite files, then a summary table per platform.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use roster_core::{
    AccountType, Connector, JsonlFile, RateLimit, ResourceType, Snapshot, Summary, UserStatus,
};
use roster_mattermost::{MattermostConfig, MattermostConnector};
use roster_rocketchat::{RocketChatConfig, RocketChatConnector};
use roster_sim::mattermost::{self as mm_sim, MattermostSim};
use roster_sim::rocketchat::{self as rc_sim, FixedWindow, RocketChatSim};
use secrecy::SecretString;

use crate::cli::{DemoArgs, DemoSize};
use crate::exit::{self, Failure};
use crate::progress::Tracker;
use crate::sqlite::SqliteSink;
use crate::sync::{Tee, drive, validate_report};
use crate::util::{human_duration, thousands};

/// The shortened Rocket.Chat window of the demo.
const RC_WINDOW: Duration = Duration::from_secs(1);
const RC_CALLS: u32 = 10;

fn specs(size: DemoSize) -> (mm_sim::OrgSpec, rc_sim::OrgSpec) {
    match size {
        DemoSize::Small => (mm_sim::OrgSpec::small(), rc_sim::OrgSpec::small()),
        DemoSize::Medium => (
            mm_sim::OrgSpec {
                users: 500,
                teams: 40,
                avg_members: 30,
                seed: 1,
            },
            rc_sim::OrgSpec {
                users: 500,
                teams: 40,
                avg_members: 25,
                custom_roles: 5,
                seed: 1,
            },
        ),
        DemoSize::Large => (
            mm_sim::OrgSpec {
                users: 5000,
                teams: 200,
                avg_members: 80,
                seed: 1,
            },
            rc_sim::OrgSpec {
                users: 5000,
                teams: 200,
                avg_members: 60,
                custom_roles: 10,
                seed: 1,
            },
        ),
    }
}

/// What the table shows for one platform.
#[derive(Debug)]
struct Row {
    name: &'static str,
    users: u64,
    disabled: u64,
    service: u64,
    teams: u64,
    roles: u64,
    grants: u64,
    admins: u64,
    elapsed: Duration,
    requests: u64,
    waits: u64,
    complete: bool,
    jsonl: PathBuf,
    sqlite: PathBuf,
}

/// `roster demo`.
pub async fn demo(args: &DemoArgs, verbose: bool) -> anyhow::Result<u8> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|e| {
        Failure::usage(format!("cannot create `{}`: {e}", dir.display()))
            .hint("choose another directory with --dir")
    })?;
    let draw = !args.no_progress && !verbose && std::io::stderr().is_terminal();
    let (mm_spec, rc_spec) = specs(args.size);

    eprintln!(
        "roster demo: simulated Mattermost and Rocket.Chat servers on 127.0.0.1, inside this process."
    );
    eprintln!(
        "note: the simulated Rocket.Chat limits {RC_CALLS} calls per {} s per endpoint (the real default is 10 per 60 s); \
         roster's client quota is set to match, so the demo takes seconds instead of minutes.",
        RC_WINDOW.as_secs()
    );

    let mm = MattermostSim::with_options(
        mm_spec,
        mm_sim::SimOptions::default().with_license(mm_sim::SimLicense::Licensed {
            sku: "enterprise".to_owned(),
            seats: seats_for(mm_spec.users),
        }),
    );
    let mm_server = mm.spawn().await;
    let mm_connector = MattermostConnector::new(
        MattermostConfig::new(
            mm_server.base_url(),
            SecretString::from(MattermostSim::ADMIN_TOKEN),
        )
        .allow_insecure_http(true),
    )
    .context("building the Mattermost connector")?;
    let mm_row = run_one(&mm_connector, "Mattermost", "mattermost", dir, draw).await?;
    drop(mm_server);
    if !mm_row.complete {
        // Interrupted (Ctrl-C): do not start the second platform.
        print_table(std::slice::from_ref(&mm_row))?;
        return Ok(exit::INCOMPLETE);
    }

    let mut options = rc_sim::SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: RC_CALLS,
        window: RC_WINDOW,
    });
    // A workspace with an active-user limit, so the licence report has one.
    options.max_active_users = Some(seats_for(rc_spec.users));
    let rc = RocketChatSim::with_options(rc_spec, options);
    let rc_server = rc.spawn().await;
    let admin = rc.admin();
    let rc_connector = RocketChatConnector::new(
        RocketChatConfig::new(
            rc_server.base_url(),
            admin.user_id.clone(),
            SecretString::from(admin.token.clone()),
        )
        .allow_insecure_http(true)
        .rate_limit(Some(RateLimit::per_endpoint(RC_CALLS, RC_WINDOW))),
    )
    .context("building the Rocket.Chat connector")?;
    let rc_row = run_one(&rc_connector, "Rocket.Chat", "rocketchat", dir, draw).await?;
    drop(rc_server);

    let rows = [mm_row, rc_row];
    print_table(&rows)?;
    eprintln!();
    let review = write_access_review(dir, &rows)?;
    eprintln!("access review: {}", review.display());
    eprintln!("next:");
    let snaps = format!("{} {}", rows[0].sqlite.display(), rows[1].jsonl.display());
    eprintln!("  roster report access-review {snaps}");
    eprintln!("  roster report licenses {snaps}");
    eprintln!("  roster report dormant {snaps} --days 90 --format html > dormant.html");
    eprintln!("  roster report offboarding --who sysadmin {snaps}");
    eprintln!(
        "  sqlite3 {} \"SELECT r.display_name, g.entitlement FROM grants g JOIN resources r ON r.type = g.principal_type AND r.id = g.principal_id LIMIT 10\"",
        rows[1].sqlite.display()
    );
    eprintln!(
        "  roster diff {} {}",
        rows[0].jsonl.display(),
        rows[0].sqlite.display()
    );
    Ok(if rows.iter().all(|r| r.complete) {
        exit::OK
    } else {
        exit::INCOMPLETE
    })
}

/// Licensed seats of a simulated organisation of `users`: a little
/// headroom, rounded up to 50.
fn seats_for(users: usize) -> u64 {
    ((users as u64 * 11 / 10).div_ceil(50) * 50).max(50)
}

/// Writes `access-review.html` for both snapshots next to them.
fn write_access_review(dir: &Path, rows: &[Row]) -> anyhow::Result<PathBuf> {
    let mut platforms = Vec::with_capacity(rows.len());
    for r in rows {
        let text = std::fs::read_to_string(&r.jsonl)
            .with_context(|| format!("cannot read back `{}`", r.jsonl.display()))?;
        platforms.push(crate::report::Platform::new(&Snapshot::from_jsonl(&text)?));
    }
    let review = crate::report::access_review::AccessReview::new(&platforms, None, None, 90);
    let path = dir.join("access-review.html");
    // Owner-only like the snapshots: the review names people and addresses.
    roster_core::sink::create_private(&path)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, review.page().render().as_bytes())
        })
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(path)
}

async fn run_one(
    connector: &dyn Connector,
    name: &'static str,
    slug: &str,
    dir: &Path,
    draw: bool,
) -> anyhow::Result<Row> {
    let started = Instant::now();
    let report = validate_report(connector, slug).await?;
    if !report.sync_possible() {
        return Err(Failure::new(
            exit::AUTH,
            format!("{name} validation failed: {}", report.failure_summary()),
        )
        .into());
    }
    if let Some(plan) = &report.plan {
        eprintln!(
            "{name}: {} requests planned, estimated {}",
            thousands(plan.requests()),
            human_duration(plan.estimated())
        );
    }
    let jsonl = dir.join(format!("{slug}.jsonl"));
    let sqlite = dir.join(format!("{slug}.sqlite"));
    let mut sink = Tee(
        JsonlFile::create(&jsonl)
            .await
            .with_context(|| format!("cannot write `{}`", jsonl.display()))?,
        SqliteSink::create(&sqlite)
            .with_context(|| format!("cannot write `{}`", sqlite.display()))?,
    );
    let tracker = Tracker::new(&format!("syncing {name}"), report.plan.clone(), draw);
    let summary = drive(connector, &mut sink, 8, tracker.clone(), None)
        .await
        .map_err(|e| Failure::from_core(&e, "roster demo"))?;
    drop(sink);
    let elapsed = started.elapsed();
    if !draw {
        eprintln!(
            "{name}: synced in {} ({} requests)",
            human_duration(elapsed),
            summary.stats.requests
        );
    }
    for w in &summary.warnings {
        eprintln!("warning: {name}: {}", crate::escape::term(w));
    }
    let text = std::fs::read_to_string(&jsonl)
        .with_context(|| format!("cannot read back `{}`", jsonl.display()))?;
    let snap = Snapshot::from_jsonl(&text)?;
    Ok(row(
        name,
        &snap,
        &summary,
        elapsed,
        summary.stats.rate_limit_waits,
        jsonl,
        sqlite,
    ))
}

fn row(
    name: &'static str,
    snap: &Snapshot,
    summary: &Summary,
    elapsed: Duration,
    waits: u64,
    jsonl: PathBuf,
    sqlite: PathBuf,
) -> Row {
    let users: Vec<_> = snap
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .collect();
    let count = |t: ResourceType| {
        snap.resources
            .iter()
            .filter(|r| r.resource_type == t)
            .count() as u64
    };
    let has_role = |r: &roster_core::Resource, key: &str, role: &str| {
        r.profile
            .get(key)
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(role)))
    };
    Row {
        name,
        users: users.len() as u64,
        disabled: users
            .iter()
            .filter(|r| {
                r.user
                    .as_ref()
                    .is_some_and(|u| u.status == UserStatus::Disabled)
            })
            .count() as u64,
        service: users
            .iter()
            .filter(|r| {
                r.user
                    .as_ref()
                    .is_some_and(|u| u.account_type == AccountType::Service)
            })
            .count() as u64,
        teams: count(ResourceType::Team),
        roles: count(ResourceType::Role),
        grants: snap.grants.len() as u64,
        admins: users
            .iter()
            .filter(|r| {
                has_role(r, "system_roles", "system_admin") || has_role(r, "roles", "admin")
            })
            .count() as u64,
        elapsed,
        requests: summary.stats.requests,
        waits,
        complete: summary.complete,
        jsonl,
        sqlite,
    }
}

fn print_table(rows: &[Row]) -> std::io::Result<()> {
    let lines: Vec<(&str, Vec<String>)> = vec![
        ("users", rows.iter().map(|r| thousands(r.users)).collect()),
        (
            "  disabled",
            rows.iter().map(|r| thousands(r.disabled)).collect(),
        ),
        (
            "  service accounts",
            rows.iter().map(|r| thousands(r.service)).collect(),
        ),
        ("teams", rows.iter().map(|r| thousands(r.teams)).collect()),
        ("roles", rows.iter().map(|r| thousands(r.roles)).collect()),
        ("grants", rows.iter().map(|r| thousands(r.grants)).collect()),
        ("admins", rows.iter().map(|r| thousands(r.admins)).collect()),
        (
            "elapsed",
            rows.iter().map(|r| human_duration(r.elapsed)).collect(),
        ),
        (
            "requests",
            rows.iter().map(|r| thousands(r.requests)).collect(),
        ),
        (
            "rate-limit waits",
            rows.iter().map(|r| thousands(r.waits)).collect(),
        ),
        (
            "complete",
            rows.iter()
                .map(|r| if r.complete { "yes" } else { "NO" }.to_owned())
                .collect(),
        ),
        (
            "snapshot",
            rows.iter().map(|r| r.jsonl.display().to_string()).collect(),
        ),
        (
            "",
            rows.iter()
                .map(|r| r.sqlite.display().to_string())
                .collect(),
        ),
    ];
    let label_w = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..rows.len())
        .map(|i| {
            lines
                .iter()
                .map(|(_, v)| v[i].chars().count())
                .chain([rows[i].name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    write!(out, "{:label_w$}", "")?;
    for (r, w) in rows.iter().zip(&widths) {
        write!(out, "  {:>w$}", r.name)?;
    }
    writeln!(out)?;
    for (label, values) in &lines {
        write!(out, "{label:label_w$}")?;
        for (v, w) in values.iter().zip(&widths) {
            write!(out, "  {v:>w$}")?;
        }
        writeln!(out)?;
    }
    out.flush()
}
