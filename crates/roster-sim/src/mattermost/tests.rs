//! Tests of the Mattermost simulator.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use roster_core::{AccountType, Purpose, ResourceType, UserStatus};
use serde_json::Value;

use super::routes::{entry, test_request};
use super::*;
use crate::{Fault, FaultRule};

const A: &str = MattermostSim::ADMIN_TOKEN;
const U: &str = MattermostSim::USER_TOKEN;
const B: &str = MattermostSim::BOT_TOKEN;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: bytes::Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(200)])
            )
        })
    }
    fn rows(&self) -> Vec<Value> {
        match self.json() {
            Value::Array(rows) => rows,
            other => panic!("not an array: {other}"),
        }
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }
}

/// One request through the router's handler, in-process.
async fn call(
    sim: &MattermostSim,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let resp = entry(State(sim.clone()), test_request(method, uri, token, body)).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        status,
        headers,
        bytes,
    }
}

async fn get(sim: &MattermostSim, uri: &str, token: &str) -> Answer {
    call(sim, Method::GET, uri, Some(token), "").await
}

fn ids(rows: &[Value], key: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every row of a page-based listing.
async fn all_pages(sim: &MattermostSim, path: &str, token: &str, per_page: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    for page in 0.. {
        let a = get(
            sim,
            &format!("{path}{sep}page={page}&per_page={per_page}"),
            token,
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{path} page {page}");
        let rows = a.rows();
        let n = rows.len();
        out.extend(rows);
        if n < per_page.min(200) {
            break;
        }
    }
    out
}

fn spec(users: usize, teams: usize, avg: usize, seed: u64) -> OrgSpec {
    OrgSpec {
        users,
        teams,
        avg_members: avg,
        seed,
    }
}

// ------------------------------------------------------------ generator

#[test]
fn small_org_has_the_requested_shape() {
    let sim = MattermostSim::new(OrgSpec::small());
    assert_eq!(sim.user_count(), 25);
    assert_eq!(sim.team_ids().len(), 6);
    let truth = sim.ground_truth();
    let users = truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .count();
    let teams: Vec<_> = truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::Team)
        .collect();
    assert_eq!(users, 25);
    assert_eq!(teams.len(), 6);
    assert_eq!(truth.entitlements.len(), 18);
    // Duplicate display names exist on purpose; archived and invite-only too.
    let names: HashSet<&str> = teams.iter().map(|t| t.display_name.as_str()).collect();
    assert!(
        names.len() < teams.len(),
        "expected a duplicate display name"
    );
    assert!(
        teams
            .iter()
            .any(|t| t.profile["archived"] == Value::Bool(true))
    );
    assert!(teams.iter().any(|t| t.profile["team_type"] == "I"));
    assert!(teams.iter().any(|t| t.profile["team_type"] == "O"));
}

#[test]
fn tiny_specs_still_have_the_token_users() {
    let sim = MattermostSim::new(spec(0, 0, 0, 9));
    assert_eq!(sim.user_count(), 3);
    assert!(sim.team_ids().is_empty());
    assert!(sim.ground_truth().grants.is_empty());
}

#[test]
fn ground_truth_is_deterministic_per_seed() {
    let a = MattermostSim::new(OrgSpec::small()).ground_truth();
    let b = MattermostSim::new(OrgSpec::small()).ground_truth();
    assert_eq!(a, b);
    let c = MattermostSim::new(OrgSpec {
        seed: 2,
        ..OrgSpec::small()
    })
    .ground_truth();
    assert_ne!(a, c);
}

#[test]
fn ground_truth_follows_the_contract() {
    let sim = MattermostSim::new(spec(400, 30, 15, 7));
    let truth = sim.ground_truth();
    let user_keys: HashSet<&str> = [
        "system_roles",
        "auth_service",
        "position",
        "first_name",
        "last_name",
        "nickname",
    ]
    .into();
    let team_keys: HashSet<&str> = ["archived", "team_type", "name"].into();
    let (mut bots, mut disabled, mut no_email, mut login, mut nick_only, mut bare) =
        (0, 0, 0, 0, 0, 0);
    for r in &truth.resources {
        assert!(!r.display_name.is_empty());
        assert_eq!(r.parent, None);
        assert_eq!(r.id.as_str().len(), 26);
        let keys: HashSet<&str> = r.profile.keys().map(String::as_str).collect();
        match r.resource_type {
            ResourceType::User => {
                assert_eq!(keys, user_keys);
                assert!(r.profile["system_roles"].is_array());
                let u = r.user.as_ref().expect("user traits");
                assert!(u.created_at.is_some());
                if u.account_type == AccountType::Service {
                    bots += 1;
                    assert_eq!(u.last_login_at, None, "bots have no report row");
                }
                if u.status == UserStatus::Disabled {
                    disabled += 1;
                }
                if u.emails.is_empty() {
                    no_email += 1;
                }
                if u.last_login_at.is_some() {
                    login += 1;
                }
                let first = r.profile["first_name"].as_str().unwrap_or_default();
                let last = r.profile["last_name"].as_str().unwrap_or_default();
                let nick = r.profile["nickname"].as_str().unwrap_or_default();
                if first.is_empty() && last.is_empty() {
                    if nick.is_empty() {
                        bare += 1;
                        assert_eq!(r.display_name, u.login);
                    } else {
                        nick_only += 1;
                        assert_eq!(r.display_name, nick);
                    }
                }
            }
            ResourceType::Team => {
                assert_eq!(keys, team_keys);
                assert!(r.user.is_none());
            }
            ResourceType::Role => panic!("no roles in Mattermost"),
            other => panic!("unexpected resource type {other:?}"),
        }
    }
    assert!(bots > 0 && disabled > 0 && no_email > 0 && login > 0);
    assert!(nick_only > 0 && bare > 0);

    let mut ent = HashSet::new();
    for e in &truth.entitlements {
        assert!(ent.insert(e.id.to_string()), "duplicate entitlement");
        assert_eq!(e.grantable_to, vec![ResourceType::User]);
        let want = if e.slug == "member" {
            Purpose::Assignment
        } else {
            Purpose::Permission
        };
        assert_eq!(e.purpose, want);
        assert!(["member", "admin", "guest"].contains(&e.slug.as_str()));
    }
    let grants: HashSet<_> = truth.grants.iter().collect();
    assert_eq!(grants.len(), truth.grants.len(), "duplicate grant");
    for g in &truth.grants {
        assert!(ent.contains(&g.entitlement.to_string()));
    }
    assert!(truth.grants.iter().any(|g| g.entitlement.slug == "admin"));
    assert!(truth.grants.iter().any(|g| g.entitlement.slug == "guest"));
}

#[test]
fn moderate_org_generates_quickly() {
    let started = std::time::Instant::now();
    let sim = MattermostSim::new(spec(4_000, 500, 40, 3));
    assert_eq!(sim.user_count(), 4_000);
    assert_eq!(sim.team_ids().len(), 500);
    let truth = sim.ground_truth();
    let members = truth
        .grants
        .iter()
        .filter(|g| g.entitlement.slug == "member")
        .count();
    assert!((10_000..40_000).contains(&members), "{members}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Timing only; [`moderate_org_generates_quickly`] checks the shape in
/// every run.
#[test]
#[ignore = "timing; run with --release -- --ignored"]
fn large_org_generates_within_budget() {
    let started = std::time::Instant::now();
    let sim = MattermostSim::new(spec(40_000, 5_000, 40, 11));
    let generated = started.elapsed();
    assert_eq!(sim.user_count(), 40_000);
    assert_eq!(sim.team_ids().len(), 5_000);
    let truth = sim.ground_truth();
    let members = truth
        .grants
        .iter()
        .filter(|g| g.entitlement.slug == "member")
        .count();
    assert!((150_000..250_000).contains(&members), "{members}");
    eprintln!(
        "generated in {generated:?}, truth in {:?}",
        started.elapsed()
    );
    if !cfg!(debug_assertions) {
        assert!(generated < Duration::from_secs(2), "{generated:?}");
    }
}

// ------------------------------------------------------------ auth

#[tokio::test]
async fn sample_of_the_generated_organisation_is_well_formed() {
    let sim = MattermostSim::new(OrgSpec::small());
    let nonempty = |row: &Value, key: &str| {
        assert!(
            row[key].as_str().is_some_and(|s| !s.is_empty()),
            "`{key}` missing in {row}"
        );
    };
    let users = get(&sim, "/api/v4/users?per_page=8", A).await.rows();
    assert_eq!(users.len(), 8, "a full first page");
    for u in &users {
        nonempty(u, "id");
        nonempty(u, "username");
        nonempty(u, "roles");
    }
    let teams = get(&sim, "/api/v4/teams", A).await.rows();
    assert!(!teams.is_empty());
    for t in &teams {
        nonempty(t, "id");
        nonempty(t, "name");
    }
    let team = &sim.team_ids()[1];
    let members = get(&sim, &format!("/api/v4/teams/{team}/members"), A)
        .await
        .rows();
    assert!(!members.is_empty(), "team {team} has members");
    for m in &members {
        assert_eq!(m["team_id"].as_str(), Some(team.as_str()), "{m}");
        nonempty(m, "user_id");
    }
    let report = get(&sim, "/api/v4/reports/users?page_size=3", A)
        .await
        .rows();
    assert_eq!(report.len(), 3, "page_size is honoured");
    for r in &report {
        nonempty(r, "id");
    }
    let truth = sim.ground_truth();
    assert!(!truth.resources.is_empty() && !truth.grants.is_empty());
    for r in truth.resources.iter().take(3) {
        assert!(!r.id.as_str().is_empty());
        serde_json::to_string(r).expect("ground-truth resources serialize");
    }
}

#[tokio::test]
async fn ping_needs_no_auth() {
    let sim = MattermostSim::new(OrgSpec::small());
    let a = call(&sim, Method::GET, "/api/v4/system/ping", None, "").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "OK");
}

#[tokio::test]
async fn tokens_map_to_their_users() {
    let sim = MattermostSim::new(OrgSpec::small());
    let admin = get(&sim, "/api/v4/users/me", A).await.json();
    assert_eq!(admin["roles"], "system_user system_admin");
    assert!(
        admin.get("is_bot").is_none(),
        "is_bot is omitted when false"
    );
    let user = get(&sim, "/api/v4/users/me", U).await.json();
    assert_eq!(user["roles"], "system_user");
    assert_eq!(user["delete_at"], 0);
    let bot = get(&sim, "/api/v4/users/me", B).await.json();
    assert_eq!(bot["is_bot"], true);
    assert!(
        bot["roles"]
            .as_str()
            .unwrap_or_default()
            .contains("system_admin")
    );
    let one = get(
        &sim,
        &format!("/api/v4/users/{}", user["id"].as_str().unwrap_or_default()),
        A,
    )
    .await;
    assert_eq!(one.json()["username"], user["username"]);
}

#[tokio::test]
async fn bad_tokens_get_mattermost_401() {
    let sim = MattermostSim::new(OrgSpec::small());
    for token in [None, Some("nope")] {
        let a = call(&sim, Method::GET, "/api/v4/users", token, "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        let body = a.json();
        assert_eq!(body["id"], "api.context.session_expired.app_error");
        assert_eq!(body["status_code"], 401);
        assert_eq!(body["detailed_error"], "");
        assert!(body["request_id"].is_string());
        assert!(body["message"].is_string());
    }
}

#[tokio::test]
async fn disabled_personal_access_tokens_leave_only_the_bot() {
    let options = SimOptions::default().with_personal_access_tokens(false);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    assert_eq!(
        get(&sim, "/api/v4/users/me", A).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&sim, "/api/v4/users/me", U).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&sim, "/api/v4/users/me", B).await.status,
        StatusCode::OK
    );
    assert!(SimOptions::default().personal_access_tokens);
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let sim = MattermostSim::new(OrgSpec::small());
    for path in ["/api/v4/nope", "/elsewhere", "/api/v4/teams/x/y/z"] {
        let a = get(&sim, path, A).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.json()["id"], "api.context.404.app_error");
    }
}

// ------------------------------------------------------------ users

#[tokio::test]
async fn users_page_from_zero_and_cap_per_page_at_200() {
    let sim = MattermostSim::new(spec(450, 4, 5, 5));
    assert_eq!(get(&sim, "/api/v4/users", A).await.rows().len(), 60);
    assert_eq!(
        get(&sim, "/api/v4/users?per_page=500", A)
            .await
            .rows()
            .len(),
        200
    );
    assert_eq!(
        get(&sim, "/api/v4/users?per_page=0", A).await.rows().len(),
        0
    );
    assert_eq!(
        get(&sim, "/api/v4/users?per_page=-3", A).await.rows().len(),
        60
    );
    let p0 = ids(
        &get(&sim, "/api/v4/users?page=0&per_page=10", A)
            .await
            .rows(),
        "id",
    );
    let p1 = ids(
        &get(&sim, "/api/v4/users?page=1&per_page=10", A)
            .await
            .rows(),
        "id",
    );
    let first20 = ids(
        &get(&sim, "/api/v4/users?per_page=20", A).await.rows(),
        "id",
    );
    assert_eq!([p0, p1].concat(), first20);
    let last = get(&sim, "/api/v4/users?page=2&per_page=200", A)
        .await
        .rows();
    assert_eq!(last.len(), 50);
    assert!(
        get(&sim, "/api/v4/users?page=3&per_page=200", A)
            .await
            .rows()
            .is_empty()
    );

    let all = all_pages(&sim, "/api/v4/users", A, 500).await;
    assert_eq!(all.len(), 450);
    let names = ids(&all, "username");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by username");
    let unique: HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), 450);
    assert!(all.iter().any(|u| u["is_bot"] == true));
    assert!(all.iter().any(|u| u["delete_at"].as_i64().unwrap_or(0) > 0));
    for u in &all {
        for key in [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "nickname",
            "position",
            "roles",
            "auth_service",
            "create_at",
            "update_at",
            "delete_at",
        ] {
            assert!(u.get(key).is_some(), "{key} missing");
        }
        assert!(u.get("last_activity_at").is_none());
    }
    // Also for a plain user.
    assert_eq!(all_pages(&sim, "/api/v4/users", U, 200).await.len(), 450);
}

#[tokio::test]
async fn user_stats_are_open_to_any_session_and_count_bots() {
    let sim = MattermostSim::new(spec(400, 5, 5, 3));
    let truth = sim.ground_truth();
    let active = truth
        .resources
        .iter()
        .filter_map(|r| r.user.as_ref())
        .filter(|u| u.status == UserStatus::Enabled)
        .count();
    assert!(
        truth
            .resources
            .iter()
            .filter_map(|r| r.user.as_ref())
            .any(|u| u.account_type == AccountType::Service && u.status == UserStatus::Enabled)
    );
    for token in [A, U, B] {
        let a = get(&sim, "/api/v4/users/stats", token).await;
        assert_eq!(a.status, StatusCode::OK, "{token}");
        assert_eq!(a.json()["total_users_count"], active, "{token}");
    }
}

// ------------------------------------------------------------ teams

#[tokio::test]
async fn admins_see_every_team_in_display_name_order() {
    let sim = MattermostSim::new(spec(60, 45, 4, 8));
    let all = all_pages(&sim, "/api/v4/teams", A, 10).await;
    assert_eq!(all.len(), 45);
    let keys: Vec<(String, String)> = all
        .iter()
        .map(|t| {
            (
                t["display_name"].as_str().unwrap_or_default().to_owned(),
                t["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(
        all.iter().any(|t| t["delete_at"].as_i64().unwrap_or(0) > 0),
        "archived teams listed"
    );
    assert!(all.iter().any(|t| t["type"] == "I"));

    let counted = get(&sim, "/api/v4/teams?include_total_count=true&per_page=5", A)
        .await
        .json();
    assert_eq!(counted["total_count"], 45);
    assert_eq!(counted["teams"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn non_admins_see_only_open_teams() {
    let sim = MattermostSim::new(spec(60, 45, 4, 8));
    let truth = sim.ground_truth();
    let open = truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::Team && r.profile["team_type"] == "O")
        .count();
    let seen = all_pages(&sim, "/api/v4/teams", U, 200).await;
    assert_eq!(seen.len(), open);
    assert!(open < 45);
    assert!(seen.iter().all(|t| t["type"] == "O"));
    let counted = get(&sim, "/api/v4/teams?include_total_count=true", U)
        .await
        .json();
    assert_eq!(counted["total_count"], open);
}

#[tokio::test]
async fn team_member_permissions_and_errors() {
    let sim = MattermostSim::new(OrgSpec::small());
    let teams = sim.team_ids();
    // Team 1 is invite-only with the plain user; team 2 invite-only without.
    let mine = get(&sim, &format!("/api/v4/teams/{}/members", teams[1]), U).await;
    assert_eq!(mine.status, StatusCode::OK);
    let other = get(&sim, &format!("/api/v4/teams/{}/members", teams[2]), U).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    assert_eq!(other.json()["id"], "api.context.permissions.app_error");
    let open = get(&sim, &format!("/api/v4/teams/{}/members", teams[0]), U).await;
    assert_eq!(open.status, StatusCode::OK);
    // An open team the plain user is not in: 403 all the same.
    let outsider = MattermostSim::new(spec(60, 45, 4, 8));
    let plain = outsider_plain_id(&outsider);
    let outsider_truth = outsider.ground_truth();
    let open_elsewhere = outsider_truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::Team && r.profile["team_type"] == "O")
        .map(|r| r.id.to_string())
        .find(|id| {
            !outsider_truth.grants.iter().any(|g| {
                g.entitlement.resource.id.as_str() == id
                    && g.entitlement.slug == "member"
                    && g.principal.id.as_str() == plain
            })
        })
        .expect("an open team without the plain user");
    let denied = get(
        &outsider,
        &format!("/api/v4/teams/{open_elsewhere}/members"),
        U,
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.json()["id"], "api.context.permissions.app_error");
    // Reading the team itself stays allowed (getTeam lets anyone see open teams).
    let team = get(&outsider, &format!("/api/v4/teams/{open_elsewhere}"), U).await;
    assert_eq!(team.status, StatusCode::OK);
    let admin = get(&sim, &format!("/api/v4/teams/{}/members", teams[2]), A).await;
    assert_eq!(admin.status, StatusCode::OK);

    let unknown = get(&sim, "/api/v4/teams/abcdefghijklmnopqrstuvwxyz/members", A).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["id"], "app.team.get.find.app_error");
    let malformed = get(&sim, "/api/v4/teams/nope/members", A).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    sim.remove_team(&teams[0]);
    let gone = get(&sim, &format!("/api/v4/teams/{}/members", teams[0]), A).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(sim.team_ids().len(), 5);
    assert_eq!(all_pages(&sim, "/api/v4/teams", A, 60).await.len(), 5);
    assert_eq!(sim.ground_truth().entitlements.len(), 15);
}

#[tokio::test]
async fn member_rows_match_the_ground_truth() {
    let sim = MattermostSim::new(spec(300, 20, 25, 4));
    let truth = sim.ground_truth();
    let mut from_api: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut rows_total = 0;
    for team in sim.team_ids() {
        let rows = all_pages(&sim, &format!("/api/v4/teams/{team}/members"), A, 7).await;
        rows_total += rows.len();
        let users = ids(&rows, "user_id");
        let mut sorted = users.clone();
        sorted.sort();
        assert_eq!(users, sorted, "ordered by user id");
        for r in &rows {
            assert_eq!(r["team_id"], team.as_str());
            assert_eq!(r["delete_at"], 0);
            let uid = r["user_id"].as_str().unwrap_or_default();
            let roles = r["roles"].as_str().unwrap_or_default();
            from_api
                .entry("member")
                .or_default()
                .insert(format!("team:{team}:member/{uid}"));
            if r["scheme_admin"] == true {
                assert_eq!(roles, "team_user team_admin");
                from_api
                    .entry("admin")
                    .or_default()
                    .insert(format!("team:{team}:admin/{uid}"));
            }
            if r["scheme_guest"] == true {
                assert_eq!(roles, "team_guest");
                assert_eq!(r["scheme_user"], false);
                from_api
                    .entry("guest")
                    .or_default()
                    .insert(format!("team:{team}:guest/{uid}"));
            }
        }
    }
    for slug in ["member", "admin", "guest"] {
        let want: HashSet<String> = truth
            .grants
            .iter()
            .filter(|g| g.entitlement.slug == slug)
            .map(|g| format!("{}/{}", g.entitlement, g.principal.id))
            .collect();
        assert_eq!(from_api.remove(slug).unwrap_or_default(), want, "{slug}");
    }
    let members = truth
        .grants
        .iter()
        .filter(|g| g.entitlement.slug == "member")
        .count();
    assert_eq!(rows_total, members);
}

#[tokio::test]
async fn big_team_pages_over_the_cap() {
    let options = SimOptions::default().with_big_team(470);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    assert!(sim.user_count() >= 470);
    let team = &sim.team_ids()[0];
    let sizes: Vec<usize> = futures::future::join_all((0..4).map(|p| {
        let sim = sim.clone();
        let team = team.clone();
        async move {
            get(
                &sim,
                &format!("/api/v4/teams/{team}/members?page={p}&per_page=500"),
                A,
            )
            .await
            .rows()
            .len()
        }
    }))
    .await;
    assert_eq!(sizes, vec![200, 200, 70, 0]);
}

// ------------------------------------------------------------ reports and status

fn outsider_plain_id(sim: &MattermostSim) -> String {
    let org = sim.org();
    org.users[org.plain as usize].id.clone()
}

#[tokio::test]
async fn reports_are_cursor_paged_admin_only_and_skip_bots() {
    let sim = MattermostSim::new(spec(260, 5, 5, 12));
    let truth = sim.ground_truth();
    assert_eq!(
        get(&sim, "/api/v4/reports/users", U).await.status,
        StatusCode::FORBIDDEN
    );
    for bad in ["0", "-1", "101", "500"] {
        let a = get(&sim, &format!("/api/v4/reports/users?page_size={bad}"), A).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "page_size={bad}");
        assert_eq!(a.json()["id"], "api.getUsersForReporting.invalid_page_size");
    }
    let max = get(&sim, "/api/v4/reports/users?page_size=100", A).await;
    assert_eq!(max.rows().len(), 100);
    assert_eq!(get(&sim, "/api/v4/reports/users", A).await.rows().len(), 50);
    // Unparsable sizes fall back to the default, as strconv.ParseInt fails.
    let junk = get(&sim, "/api/v4/reports/users?page_size=lots", A).await;
    assert_eq!(junk.rows().len(), 50);
    let bad_column = get(&sim, "/api/v4/reports/users?sort_column=Password", A).await;
    assert_eq!(bad_column.status, StatusCode::BAD_REQUEST);

    // Anything but `desc` sorts ascending; `desc` descending.
    let asc = ids(
        &get(&sim, "/api/v4/reports/users?page_size=100", A)
            .await
            .rows(),
        "username",
    );
    for other in ["asc", "ASC", "up", "descending", ""] {
        let rows = get(
            &sim,
            &format!("/api/v4/reports/users?page_size=100&sort_direction={other}"),
            A,
        )
        .await;
        assert_eq!(rows.status, StatusCode::OK, "{other}");
        assert_eq!(ids(&rows.rows(), "username"), asc, "sort_direction={other}");
    }
    let desc = ids(
        &get(
            &sim,
            "/api/v4/reports/users?page_size=100&sort_direction=desc",
            A,
        )
        .await
        .rows(),
        "username",
    );
    let mut want = desc.clone();
    want.sort();
    want.reverse();
    assert_eq!(desc, want);
    assert_ne!(desc[0], asc[0]);
    // The cursor needs both halves: a value alone reads from the start.
    let half = get(
        &sim,
        &format!(
            "/api/v4/reports/users?page_size=100&from_column_value={}",
            asc[50]
        ),
        A,
    )
    .await;
    assert_eq!(ids(&half.rows(), "username"), asc);

    let mut seen = Vec::new();
    let mut cursor: Option<(String, String)> = None;
    loop {
        let mut uri =
            "/api/v4/reports/users?page_size=37&sort_column=Username&direction=next".to_owned();
        if let Some((name, id)) = &cursor {
            uri.push_str(&format!("&from_column_value={name}&from_id={id}"));
        }
        let rows = get(&sim, &uri, A).await.rows();
        if rows.is_empty() {
            break;
        }
        let last = rows.last().cloned().unwrap_or_default();
        cursor = Some((
            last["username"].as_str().unwrap_or_default().to_owned(),
            last["id"].as_str().unwrap_or_default().to_owned(),
        ));
        seen.extend(rows);
    }
    let humans: Vec<_> = truth
        .resources
        .iter()
        .filter_map(|r| r.user.as_ref().map(|u| (r, u)))
        .filter(|(_, u)| u.account_type == AccountType::Human)
        .collect();
    assert_eq!(seen.len(), humans.len());
    let names = ids(&seen, "username");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let by_id: HashMap<String, &Value> = seen
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_owned(), r))
        .collect();
    let mut never = 0;
    for (r, u) in humans {
        let row = by_id[r.id.as_str()];
        // `last_login` is omitempty: absent for users who never logged in.
        match row.get("last_login") {
            Some(ms) => assert_eq!(u.last_login_at.map(|t| t.unix_millis()), ms.as_i64()),
            None => {
                never += 1;
                assert_eq!(u.last_login_at, None);
            }
        }
    }
    assert!(never > 0);
}

#[tokio::test]
async fn legacy_report_layout_has_no_last_login() {
    let options = SimOptions::default().with_legacy_report_layout(true);
    let sim = MattermostSim::with_options(spec(120, 3, 3, 5), options);
    let rows = get(&sim, "/api/v4/reports/users?page_size=100", A)
        .await
        .rows();
    assert_eq!(rows.len(), 100);
    assert!(rows.iter().all(|r| r.get("last_login").is_none()));
    // The ground truth still knows who logged in.
    assert!(
        sim.ground_truth()
            .resources
            .iter()
            .any(|r| r.user.as_ref().is_some_and(|u| u.last_login_at.is_some()))
    );
}

#[tokio::test]
async fn statuses_carry_last_activity() {
    let sim = MattermostSim::new(OrgSpec::small());
    let truth = sim.ground_truth();
    let user_ids: Vec<String> = truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .map(|r| r.id.to_string())
        .collect();
    let body = serde_json::to_string(&user_ids).unwrap_or_default();
    let a = call(
        &sim,
        Method::POST,
        "/api/v4/users/status/ids",
        Some(U),
        &body,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let rows = a.rows();
    // Users who never connected have no status row and are left out.
    let never = truth
        .resources
        .iter()
        .filter(|r| {
            r.user
                .as_ref()
                .is_some_and(|u| u.last_activity_at.is_none())
        })
        .count();
    assert!(never > 0);
    assert_eq!(rows.len(), user_ids.len() - never);
    let by_id: HashMap<&str, i64> = rows
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().unwrap_or_default(),
                r["last_activity_at"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    for r in &truth.resources {
        if let Some(u) = &r.user {
            assert_eq!(
                u.last_activity_at.map(|t| t.unix_millis()),
                by_id.get(r.id.as_str()).copied()
            );
        }
    }
    assert!(rows.iter().all(|r| {
        ["online", "away", "offline", "dnd"].contains(&r["status"].as_str().unwrap_or_default())
    }));

    // No cap on the number of ids (the server has none).
    let many = serde_json::to_string(&vec![user_ids[0].clone(); 5000]).unwrap_or_default();
    let a = call(
        &sim,
        Method::POST,
        "/api/v4/users/status/ids",
        Some(A),
        &many,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.rows().len(), 1);
    for bad in ["[]", "{}", "not json", r#"["short"]"#] {
        let a = call(&sim, Method::POST, "/api/v4/users/status/ids", Some(A), bad).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad:.20}");
    }
    let wrong_method = get(&sim, "/api/v4/users/status/ids", A).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ------------------------------------------------------------ rate limit

#[tokio::test(start_paused = true)]
async fn token_bucket_limits_with_mattermost_headers() {
    // 2 per second, MaxBurst 4: like Mattermost's limiter, 5 calls pass at
    // once and `X-RateLimit-Limit` says 5 (the burst + 1, not the rate).
    let options = SimOptions::default().with_rate_limit(2, 4);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    for remaining in (0..5).rev() {
        let a = get(&sim, "/api/v4/users/me", A).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("x-ratelimit-limit").as_deref(), Some("5"));
        assert_eq!(
            a.header("x-ratelimit-remaining"),
            Some(remaining.to_string())
        );
        // (5 - remaining) tokens missing at 2/s.
        let reset = (5 - remaining as u64).div_ceil(2);
        assert_eq!(a.header("x-ratelimit-reset"), Some(reset.to_string()));
        assert_eq!(a.header("retry-after"), None);
    }
    let limited = get(&sim, "/api/v4/users/me", A).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(&limited.bytes[..], b"limit exceeded");
    assert_eq!(limited.header("retry-after").as_deref(), Some("1"));
    assert_eq!(
        limited.header("x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(limited.header("x-ratelimit-reset").as_deref(), Some("3"));
    // Even unauthenticated requests and pings count (limiter runs first).
    assert_eq!(
        call(&sim, Method::GET, "/api/v4/system/ping", None, "")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );

    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(
        get(&sim, "/api/v4/users/me", A).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&sim, "/api/v4/users/me", A).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    let full = get(&sim, "/api/v4/users/me", A).await;
    assert_eq!(full.header("x-ratelimit-remaining").as_deref(), Some("4"));
    assert_eq!(sim.log().count_status(429), 3);
}

#[tokio::test]
async fn rate_limit_is_off_by_default() {
    let sim = MattermostSim::new(OrgSpec::small());
    for _ in 0..150 {
        let a = call(&sim, Method::GET, "/api/v4/system/ping", None, "").await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.header("x-ratelimit-limit"), None);
    }
}

// ------------------------------------------------------------ faults

#[tokio::test]
async fn a_fault_fires_exactly_times_times() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults()
        .add(FaultRule::new("/api/v4/users", Fault::ServerError(503), 2).after(1));
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(get(&sim, "/api/v4/users", A).await.status.as_u16());
        }
        v
    };
    assert_eq!(statuses, vec![200, 503, 503, 200, 200]);
    let log = sim.log().entries();
    assert_eq!(log.len(), 5);
    assert_eq!(log.iter().map(|e| e.status).collect::<Vec<_>>(), statuses);
    assert!(
        log.iter()
            .all(|e| e.method == "GET" && e.path == "/api/v4/users")
    );
    let err = {
        sim.faults()
            .add(FaultRule::new("/teams", Fault::ServerError(500), 1));
        get(&sim, "/api/v4/teams", A).await
    };
    assert_eq!(err.json()["status_code"], 500);
}

#[tokio::test]
async fn faults_are_taken_after_auth() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults().add(FaultRule::new("", Fault::NotFound, 1));
    assert_eq!(
        get(&sim, "/api/v4/users", "bad").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&sim, "/api/v4/users", A).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&sim, "/api/v4/users", A).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rate_limited_and_unauthorized_faults() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults()
        .add(FaultRule::new("/teams", Fault::RateLimited, 1));
    sim.faults()
        .add(FaultRule::new("/users/me", Fault::Unauthorized, 1));
    let limited = get(&sim, "/api/v4/teams", A).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after").as_deref(), Some("1"));
    assert!(limited.header("x-ratelimit-reset").is_some());
    assert_eq!(&limited.bytes[..], b"limit exceeded");
    let revoked = get(&sim, "/api/v4/users/me", A).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        revoked.json()["id"],
        "api.context.session_expired.app_error"
    );
}

#[tokio::test]
async fn body_faults_break_the_body() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults()
        .add(FaultRule::new("/users", Fault::TruncatedJson, 1));
    sim.faults()
        .add(FaultRule::new("/teams", Fault::MalformedJson, 1));
    sim.faults()
        .add(FaultRule::new("/reports", Fault::Oversized(100_000), 1));
    let cut = get(&sim, "/api/v4/users", A).await;
    assert_eq!(cut.status, StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&cut.bytes).is_err());
    let html = get(&sim, "/api/v4/teams", A).await;
    assert!(serde_json::from_slice::<Value>(&html.bytes).is_err());
    let big = get(&sim, "/api/v4/reports/users", A).await;
    assert!(big.bytes.len() >= 100_000);
    let humans = sim
        .ground_truth()
        .resources
        .iter()
        .filter(|r| {
            r.user
                .as_ref()
                .is_some_and(|u| u.account_type == AccountType::Human)
        })
        .count();
    assert_eq!(big.rows().len(), humans, "padded body still parses");
    assert!(get(&sim, "/api/v4/users", A).await.rows().len() == 25);
}

#[tokio::test(start_paused = true)]
async fn slow_fault_delays_then_answers() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults().add(FaultRule::new(
        "/users",
        Fault::Slow(Duration::from_secs(30)),
        1,
    ));
    let started = tokio::time::Instant::now();
    let a = get(&sim, "/api/v4/users", A).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(30));
}

#[tokio::test]
async fn duplicate_rows_doubles_the_page() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults()
        .add(FaultRule::new("/teams", Fault::DuplicateRows, 2));
    let rows = get(&sim, "/api/v4/teams?per_page=3", A).await.rows();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0], rows[1]);
    let counted = get(&sim, "/api/v4/teams?per_page=3&include_total_count=true", A)
        .await
        .json();
    assert_eq!(counted["teams"].as_array().map(Vec::len), Some(6));
    assert_eq!(counted["total_count"], 6);
}

#[tokio::test]
async fn shift_pages_moves_later_pages() {
    let sim = MattermostSim::new(OrgSpec::small());
    let before = get(&sim, "/api/v4/users?per_page=10&page=1", A)
        .await
        .rows();
    sim.faults()
        .add(FaultRule::new("/api/v4/users", Fault::ShiftPages, 1));
    let first = get(&sim, "/api/v4/users?per_page=10&page=0", A)
        .await
        .rows();
    assert_eq!(first[0]["username"], "aaa-shift-1");
    assert_eq!(sim.user_count(), 26);
    let after = get(&sim, "/api/v4/users?per_page=10&page=1", A)
        .await
        .rows();
    assert_eq!(after[1], before[0], "page 1 shifted by one");
    assert!(
        sim.ground_truth()
            .resources
            .iter()
            .any(|r| r.user.as_ref().is_some_and(|u| u.login == "aaa-shift-1"))
    );

    // The team with the most members.
    let mut best = (0, String::new());
    for team in sim.team_ids() {
        let n = get(&sim, &format!("/api/v4/teams/{team}/members"), A)
            .await
            .rows()
            .len();
        if n > best.0 {
            best = (n, team);
        }
    }
    assert!(best.0 >= 2);
    let path = format!("/api/v4/teams/{}/members", best.1);
    let members_before = get(&sim, &path, A).await.rows();
    let grants_before = sim.ground_truth().grants.len();
    sim.faults()
        .add(FaultRule::new(&path, Fault::ShiftPages, 1));
    let members_after = get(&sim, &path, A).await.rows();
    assert_eq!(members_after.len() + 1, members_before.len());
    assert_eq!(members_after[0], members_before[1]);
    assert!(sim.ground_truth().grants.len() < grants_before);

    sim.faults()
        .add(FaultRule::new("/api/v4/teams", Fault::ShiftPages, 1));
    let teams = get(&sim, "/api/v4/teams", A).await.rows();
    assert_eq!(teams[0]["display_name"], "000 Shift Team 1");
    assert_eq!(sim.team_ids().len(), 7);
}

#[tokio::test]
async fn add_user_shows_up_everywhere() {
    let sim = MattermostSim::new(OrgSpec::small());
    let id = sim.add_user("zed.new");
    assert_eq!(id.len(), 26);
    let again = sim.add_user("zed.new");
    assert_ne!(again, id);
    assert_eq!(sim.user_count(), 27);
    let all = all_pages(&sim, "/api/v4/users", A, 60).await;
    assert!(
        all.iter()
            .any(|u| u["id"] == id.as_str() && u["username"] == "zed.new")
    );
    assert!(
        all.iter()
            .any(|u| u["id"] == again.as_str() && u["username"] == "zed.new2")
    );
    assert_eq!(
        sim.ground_truth()
            .resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::User)
            .count(),
        27
    );
}

// ------------------------------------------------------------ over HTTP

#[tokio::test]
async fn serves_over_http_and_logs_requests() {
    let sim = MattermostSim::new(spec(250, 3, 5, 21));
    let server = sim.spawn().await;
    let started = tokio::time::Instant::now();
    let client = reqwest::Client::new();
    let url = format!("{}/api/v4/users?page=0&per_page=500", server.base_url());
    let resp = client
        .get(&url)
        .bearer_auth(A)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let rows: Vec<Value> = resp.json().await.expect("json");
    assert_eq!(rows.len(), 200);

    let unauth = client
        .get(format!("{}/api/v4/teams", server.base_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(unauth.status(), 401);

    let status = client
        .post(format!("{}/api/v4/users/status/ids", server.base_url()))
        .bearer_auth(B)
        .json(&vec![rows[0]["id"].clone()])
        .send()
        .await
        .expect("request");
    assert_eq!(status.status(), 200);

    let log = sim.log().entries();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].query, "page=0&per_page=500");
    assert_eq!(log[0].status, 200);
    assert_eq!(log[1].status, 401);
    assert_eq!(log[2].method, "POST");
    // Received in order, on tokio's clock (the one the limiter keeps).
    assert!(started <= log[0].at);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(log[2].at <= tokio::time::Instant::now());
}

#[tokio::test]
async fn rate_limit_over_http() {
    let options = SimOptions::default().with_rate_limit(1, 3);
    let sim = MattermostSim::with_options(OrgSpec::small(), options);
    let server = sim.spawn().await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let resp = client
            .get(format!("{}/api/v4/system/ping", server.base_url()))
            .send()
            .await
            .expect("request");
        assert!(resp.headers().contains_key("x-ratelimit-remaining"));
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
        }
        statuses.push(resp.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(retry_after.is_some_and(|s| s >= 1));
}

#[tokio::test]
async fn connection_reset_breaks_the_transfer() {
    let sim = MattermostSim::new(OrgSpec::small());
    sim.faults()
        .add(FaultRule::new("/users", Fault::ConnectionReset, 1));
    let server = sim.spawn().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v4/users", server.base_url());
    let first = client.get(&url).bearer_auth(A).send().await;
    let failed = match first {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed);
    let ok = client
        .get(&url)
        .bearer_auth(A)
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
}
