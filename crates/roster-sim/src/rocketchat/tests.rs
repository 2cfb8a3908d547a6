//! Tests of the Rocket.Chat simulator against a spawned server.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use roster_core::{
    AccountType, Entitlement, EntitlementId, Grant, Purpose, Resource, ResourceRef, ResourceType,
    Timestamp, UserStatus, UserTraits,
};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::{Fault, FaultRule};

const TOO_MANY: &str = "Error, too many requests. Please slow down. You must wait";

thread_local! {
    /// One client per test thread (building a rustls client is slow in debug).
    static CLIENT: reqwest::Client = reqwest::Client::new();
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Value,
    /// Tokio's clock just before the request went out and just after the
    /// answer came back.
    tokio: (Instant, Instant),
    /// The system clock at the same two moments.
    system: (SystemTime, SystemTime),
}

impl Resp {
    fn header(&self, name: &str) -> Option<u64> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    /// Whether `X-RateLimit-Reset` names the window ending at `end` on
    /// tokio's clock. The simulator stamps it, while the request is in
    /// flight, as `SystemTime::now() + (end − Instant::now())` in epoch
    /// milliseconds cut off: so it lies within a millisecond below
    /// `system + (end − tokio)` for some moment between the two readings
    /// of each clock. Exact up to the real time the request took.
    fn resets_at(&self, end: Instant) -> bool {
        self.resets_within(end..=end)
    }

    /// [`Self::resets_at`] some moment in `ends`.
    fn resets_within(&self, ends: std::ops::RangeInclusive<Instant>) -> bool {
        let Some(reset) = self.header("x-ratelimit-reset") else {
            return false;
        };
        let reset = i128::from(reset) * 1_000_000;
        let ns = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128;
        let between = |from: Instant, to: Instant| {
            if to >= from {
                (to - from).as_nanos() as i128
            } else {
                -((from - to).as_nanos() as i128)
            }
        };
        let earliest = ns(self.system.0) + between(self.tokio.1, *ends.start());
        let latest = ns(self.system.1) + between(self.tokio.0, *ends.end());
        earliest - 1_000_000 < reset && reset <= latest
    }
}

/// The system clock in epoch milliseconds.
fn system_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn get_with(
    server: &SimServer,
    creds: Option<&Credentials>,
    path_and_query: &str,
    extra: &[(&str, &str)],
) -> Resp {
    let client = CLIENT.with(Clone::clone);
    let mut req = client.get(format!("{}/api/v1/{path_and_query}", server.base_url()));
    if let Some(c) = creds {
        req = req
            .header("X-User-Id", &c.user_id)
            .header("X-Auth-Token", &c.token);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let before = (Instant::now(), SystemTime::now());
    let resp = req.send().await.expect("request");
    let after = (Instant::now(), SystemTime::now());
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        tokio: (before.0, after.0),
        system: (before.1, after.1),
    }
}

async fn get(server: &SimServer, creds: &Credentials, path_and_query: &str) -> Resp {
    get_with(server, Some(creds), path_and_query, &[]).await
}

fn unlimited() -> SimOptions {
    SimOptions {
        rate_limit: None,
        ..SimOptions::default()
    }
}

fn limited(calls: u32, secs: u64) -> SimOptions {
    SimOptions {
        rate_limit: Some(FixedWindow {
            calls,
            window: Duration::from_secs(secs),
        }),
        ..SimOptions::default()
    }
}

/// The default limit, with admins that revoked their bypass.
fn limited_admin() -> SimOptions {
    SimOptions {
        admin_bypasses_rate_limit: false,
        ..SimOptions::default()
    }
}

#[tokio::test(start_paused = true)]
async fn eleventh_call_in_a_window_is_429_with_exact_body_and_epoch_ms_reset() {
    let start = Instant::now();
    let sim = RocketChatSim::with_options(OrgSpec::small(), limited_admin());
    let server = sim.spawn().await;
    let admin = sim.admin();
    // One window for all ten: it ends 60 s after server start (tokio's
    // clock), announced as epoch milliseconds on the system clock.
    let end = start + Duration::from_secs(60);
    for i in 0..10u64 {
        let r = get(&server, &admin, "users.list?count=5").await;
        assert_eq!(r.status, 200, "call {i}");
        assert_eq!(r.header("x-ratelimit-limit"), Some(10));
        assert_eq!(r.header("x-ratelimit-remaining"), Some(9 - i));
        let reset = r.header("x-ratelimit-reset").expect("reset");
        assert!(reset > 1_600_000_000_000, "epoch ms, not seconds: {reset}");
        assert!(r.resets_at(end), "call {i}: {reset} at {:?}", r.system);
    }
    let r = get(&server, &admin, "users.list?count=5").await;
    assert_eq!(r.status, 429);
    let wait = (end - Instant::now()).as_millis().div_ceil(1000);
    assert_eq!(
        r.body,
        json!({"success": false, "error": format!("{TOO_MANY} {wait} seconds before trying this endpoint again. [error-too-many-requests]")})
    );
    assert_eq!(r.header("x-ratelimit-remaining"), Some(0));
    assert_eq!(r.header("x-ratelimit-limit"), Some(10));
    assert!(r.resets_at(end));
    assert!(r.headers.get("retry-after").is_none());
    // Another endpoint has its own bucket.
    assert_eq!(get(&server, &admin, "roles.list").await.status, 200);
    // Another client IP has its own bucket.
    let other = get_with(
        &server,
        Some(&admin),
        "users.list",
        &[("X-Real-IP", "10.0.0.7")],
    )
    .await;
    assert_eq!(other.status, 200);
    assert_eq!(other.header("x-ratelimit-remaining"), Some(9));
    // After the reset the window is fresh.
    tokio::time::sleep_until(end).await;
    let r = get(&server, &admin, "users.list?count=5").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some(9));
    assert!(r.resets_at(end + Duration::from_secs(60)));
    assert_eq!(sim.log().count_status(429), 1);
    // /api/info needs no auth and is never limited; /api/v1/info is gone.
    for _ in 0..20 {
        let r = CLIENT
            .with(Clone::clone)
            .get(format!("{}/api/info", server.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-ratelimit-limit").is_none());
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"version": "7.4.0", "success": true}));
    }
    assert_eq!(get_with(&server, None, "info", &[]).await.status, 404);
    assert_eq!(get(&server, &admin, "info").await.status, 404);
}

#[tokio::test(start_paused = true)]
async fn rejected_calls_and_errors_count_against_the_window() {
    let start = Instant::now();
    let sim = RocketChatSim::with_options(OrgSpec::small(), limited(3, 60));
    let server = sim.spawn().await;
    let plain = sim.plain_user();
    let end = start + Duration::from_secs(60);
    // 400 and 403 answers count.
    assert_eq!(
        get(&server, &plain, "teams.listAll?foo=1").await.status,
        400
    );
    assert_eq!(get(&server, &plain, "teams.listAll").await.status, 403);
    let r = get(&server, &plain, "teams.listAll").await;
    assert_eq!(
        (r.status, r.header("x-ratelimit-remaining")),
        (403, Some(0))
    );
    let first = get(&server, &plain, "teams.listAll").await;
    assert_eq!(first.status, 429);
    assert!(first.resets_at(end));
    // Retrying inside the window keeps failing and never extends it.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let again = get(&server, &plain, "teams.listAll").await;
    assert_eq!(again.status, 429);
    assert!(again.resets_at(end));
    assert_eq!(sim.log().count_status(429), 2);
    // 401s are answered before the limiter and carry no headers.
    let bad = Credentials {
        user_id: plain.user_id.clone(),
        token: "nope".into(),
    };
    let r = get(&server, &bad, "teams.listAll").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "You must be logged in to do this."})
    );
    assert!(r.headers.get("x-ratelimit-reset").is_none());
    assert_eq!(get_with(&server, None, "me", &[]).await.status, 401);
    tokio::time::sleep_until(end).await;
    let r = get(&server, &plain, "teams.listAll").await;
    assert_eq!(
        (r.status, r.header("x-ratelimit-remaining")),
        (403, Some(2))
    );
}

#[tokio::test(start_paused = true)]
async fn windows_are_aligned_to_server_start_minus_phase_not_first_call() {
    let opts = SimOptions {
        window_phase: Duration::from_secs(45),
        ..limited_admin()
    };
    let start = Instant::now();
    let sim = RocketChatSim::with_options(OrgSpec::small(), opts);
    let server = sim.spawn().await;
    let admin = sim.admin();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = get(&server, &admin, "roles.list").await;
    // Started 45 s into a 60 s window: it ends 15 s after start, not 60 s after the call.
    let end = start + Duration::from_secs(15);
    assert!(r.resets_at(end), "{:?}", r.header("x-ratelimit-reset"));
    for _ in 0..9 {
        assert_eq!(get(&server, &admin, "roles.list").await.status, 200);
    }
    assert_eq!(get(&server, &admin, "roles.list").await.status, 429);
    // The expired window is renewed lazily by the next call, 7 s after
    // the reset: the new window ends 60 s after that call.
    tokio::time::sleep_until(end + Duration::from_secs(7)).await;
    let renewed_at = Instant::now();
    let r = get(&server, &admin, "roles.list").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ratelimit-remaining"), Some(9));
    assert!(r.resets_at(renewed_at + Duration::from_secs(60)));
    assert!(
        !r.resets_at(end + Duration::from_secs(60)),
        "not aligned to the old grid"
    );

    // A first call late in a window gets the same reset as an early one.
    let start2 = Instant::now();
    let sim2 = RocketChatSim::with_options(OrgSpec::small(), limited_admin());
    let s2 = sim2.spawn().await;
    tokio::time::sleep(Duration::from_secs(50)).await;
    let r = get(&s2, &sim2.admin(), "me").await;
    assert!(r.resets_at(start2 + Duration::from_secs(60)));
}

#[tokio::test(start_paused = true)]
async fn bypass_callers_are_never_limited_and_get_no_headers() {
    let sim = RocketChatSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let bot = sim.bot();
    for _ in 0..25 {
        let r = get(&server, &bot, "users.list?count=1").await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("x-ratelimit-limit").is_none());
        assert!(r.headers.get("x-ratelimit-remaining").is_none());
        assert!(r.headers.get("x-ratelimit-reset").is_none());
    }
    // permissions.listAll tells who bypasses.
    let perms = get(&server, &bot, "permissions.listAll").await.body;
    let bypass = perms["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == "api-bypass-rate-limit")
        .unwrap();
    assert_eq!(bypass["roles"], json!(["admin", "bot", "app"]));
    let me = get(&server, &bot, "me").await.body;
    assert!(me["roles"].as_array().unwrap().contains(&json!("bot")));

    // With the stock permission (the default) the admin bypasses too.
    let sim = RocketChatSim::new(OrgSpec::small());
    let server = sim.spawn().await;
    let admin = sim.admin();
    for _ in 0..15 {
        let r = get(&server, &admin, "roles.list").await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("x-ratelimit-limit").is_none());
    }
    let perms = get(&server, &admin, "permissions.listAll").await.body;
    let bypass = perms["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["_id"] == "api-bypass-rate-limit")
        .unwrap();
    assert_eq!(bypass["roles"], json!(["admin", "bot", "app"]));
}

#[tokio::test]
async fn paging_clamps_count_and_reports_total() {
    let spec = OrgSpec {
        users: 250,
        teams: 3,
        avg_members: 4,
        custom_roles: 3,
        seed: 7,
    };
    let sim = RocketChatSim::with_options(spec, unlimited());
    let server = sim.spawn().await;
    let admin = sim.admin();
    let total = 254; // 250 generated + 4 credential users

    let r = get(&server, &admin, "users.list").await.body;
    assert_eq!(
        (r["count"].as_u64(), r["total"].as_u64()),
        (Some(50), Some(total))
    );
    let r = get(&server, &admin, "users.list?count=500").await.body;
    assert_eq!(r["count"], 100, "silently clamped");
    assert_eq!(r["users"].as_array().unwrap().len(), 100);
    assert_eq!(r["total"], total);
    let r = get(&server, &admin, "users.list?offset=200&count=100")
        .await
        .body;
    assert_eq!(
        (r["count"].as_u64(), r["offset"].as_u64()),
        (Some(54), Some(200))
    );
    let r = get(&server, &admin, "users.list?offset=1000").await.body;
    assert_eq!(
        (r["count"].as_u64(), r["total"].as_u64()),
        (Some(0), Some(total))
    );
    let all = get(&server, &admin, "users.list?count=0").await.body;
    assert_eq!(all["count"], total);
    let names: Vec<&str> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "ordered by username");
    let by_sort = get(
        &server,
        &admin,
        "users.list?count=0&sort=%7B%22username%22%3A1%7D",
    )
    .await;
    assert_eq!(by_sort.body["users"], all["users"]);
    let r = get(&server, &admin, "users.list?sort=notjson").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorType"], "error-invalid-sort");

    // Pages walked by offset cover everything once.
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let r = get(
            &server,
            &admin,
            &format!("users.list?offset={offset}&count=100"),
        )
        .await
        .body;
        let users = r["users"].as_array().unwrap();
        seen.extend(users.iter().map(|u| u["_id"].as_str().unwrap().to_owned()));
        offset += users.len();
        if offset as u64 >= r["total"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!(seen.len(), total as usize);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    let r = get(&server, &admin, "teams.listAll?count=0").await.body;
    assert_eq!(
        (r["count"].as_u64(), r["total"].as_u64()),
        (Some(3), Some(3))
    );

    // Without infinite count, count=0 means the default.
    let opts = SimOptions {
        allow_infinite_count: false,
        upper_count_limit: 20,
        ..unlimited()
    };
    let sim = RocketChatSim::with_options(
        OrgSpec {
            users: 250,
            ..OrgSpec::small()
        },
        opts,
    );
    let server = sim.spawn().await;
    let admin = sim.admin();
    let r = get(&server, &admin, "users.list?count=0").await.body;
    assert_eq!(r["count"], 20);
    let r = get(&server, &admin, "users.list").await.body;
    assert_eq!(r["count"], 20);
}

#[tokio::test]
async fn unknown_query_parameters_are_400() {
    let sim = RocketChatSim::with_options(OrgSpec::small(), unlimited());
    let server = sim.spawn().await;
    let admin = sim.admin();
    let team = &sim.team_ids()[0];
    for (path, param) in [
        ("users.list?fields=%7B%7D", "fields"),
        ("users.list?count=5&query=%7B%7D", "query"),
        ("users.list?foo=1", "foo"),
        ("teams.listAll?offset=0&bar", "bar"),
        (
            &format!("teams.members?teamId={team}&status=online"),
            "status",
        ),
    ] {
        let r = get(&server, &admin, path).await;
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(
            r.body,
            json!({
                "success": false,
                "error": format!("The query parameter \"{param}\" is not allowed [error-invalid-params]"),
                "errorType": "error-invalid-params",
            }),
            "{path}"
        );
    }
    let r = get(&server, &admin, "teams.members?teamId=doesnotexist").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("team-does-not-exist")
    );
    assert_eq!(r.body["success"], false);
    let r = get(&server, &admin, "nope.endpoint").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn permissions_shape_answers() {
    let sim = RocketChatSim::with_options(OrgSpec::small(), unlimited());
    let server = sim.spawn().await;
    let plain = sim.plain_user();
    let viewer = sim.team_viewer();
    let admin = sim.admin();
    let teams = sim.team_ids();

    let r = get(&server, &plain, "teams.listAll").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"})
    );
    // A team the plain user is not in: 200 with nothing.
    let r = get(
        &server,
        &plain,
        &format!("teams.members?teamId={}", teams[1]),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["members"], json!([]));
    assert_eq!(r.body["total"], 0);
    assert_eq!(r.body["success"], true);
    // The team the plain user is in: visible.
    let r = get(
        &server,
        &plain,
        &format!("teams.members?teamId={}", teams[0]),
    )
    .await;
    assert!(r.body["total"].as_u64().unwrap() > 0);
    // The viewer sees every team but not full user info.
    assert_eq!(get(&server, &viewer, "teams.listAll").await.status, 200);
    let r = get(
        &server,
        &viewer,
        &format!("teams.members?teamId={}", teams[1]),
    )
    .await;
    assert!(r.body["total"].as_u64().unwrap() > 0);

    for creds in [&plain, &viewer] {
        let users = get(&server, creds, "users.list?count=0").await.body;
        for u in users["users"].as_array().unwrap() {
            assert!(u.get("emails").is_none(), "{u}");
            assert!(u.get("roles").is_none(), "{u}");
            assert!(u.get("lastLogin").is_none(), "{u}");
            assert!(u.get("_id").is_some() && u.get("username").is_some());
        }
    }
    let users = get(&server, &admin, "users.list?count=0").await.body;
    let users = users["users"].as_array().unwrap();
    assert!(users.iter().all(|u| u["roles"].is_array()));
    assert!(users.iter().any(|u| u["emails"].is_array()));
    assert!(users.iter().any(|u| u["lastLogin"].is_string()));
    // Current servers send neither createdAt nor federated.
    assert!(users.iter().all(|u| u.get("createdAt").is_none()));
    assert!(users.iter().all(|u| u.get("federated").is_none()));

    // permissions.listAll agrees with the enforcement.
    let me = get(&server, &viewer, "me").await.body;
    let my_roles: Vec<Value> = me["roles"].as_array().unwrap().clone();
    let perms = get(&server, &viewer, "permissions.listAll").await.body;
    let holds = |perm: &str| {
        perms["update"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["_id"] == perm)
            .unwrap()["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| my_roles.contains(r))
    };
    assert!(holds("view-all-teams"));
    assert!(!holds("view-full-other-user-info"));
    assert!(!holds("api-bypass-rate-limit"));
    for p in ["view-room-administration", "view-other-user-channels"] {
        assert!(!holds(p), "{p}");
    }

    // The older shape, with createdAt.
    let opts = SimOptions {
        include_created_at: true,
        ..unlimited()
    };
    let sim = RocketChatSim::with_options(OrgSpec::small(), opts);
    let server = sim.spawn().await;
    let users = get(&server, &sim.admin(), "users.list?count=0").await.body;
    assert!(
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["createdAt"].is_string())
    );
    let gt = sim.ground_truth();
    assert!(
        gt.resources
            .iter()
            .filter_map(|r| r.user.as_ref())
            .all(|u| u.created_at.is_some())
    );
}

/// A minimal correct crawl of the API, mapped per the snapshot contract.
async fn crawl(server: &SimServer, creds: &Credentials) -> GroundTruth {
    let mut gt = GroundTruth::new(super::CONTRACT);
    let roles = get(server, creds, "roles.list").await.body;
    let mut users_scope = HashSet::new();
    for r in roles["roles"].as_array().unwrap() {
        let id = r["_id"].as_str().unwrap();
        if r["scope"] == "Users" {
            users_scope.insert(id.to_owned());
        }
        let res = Resource::new(ResourceType::Role, id, r["name"].as_str().unwrap())
            .with_profile("scope", r["scope"].clone())
            .with_profile("protected", r["protected"].clone())
            .with_profile("name", r["name"].clone());
        gt.entitlements.push(Entitlement::new(
            res.reference(),
            "assigned",
            Purpose::Assignment,
        ));
        gt.resources.push(res);
    }
    async fn all(server: &SimServer, creds: &Credentials, path: &str, key: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let r = get(
                server,
                creds,
                &format!("{path}{sep}offset={}&count=37", out.len()),
            )
            .await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            out.extend(r.body[key].as_array().unwrap().iter().cloned());
            if out.len() as u64 >= r.body["total"].as_u64().unwrap() {
                return out;
            }
        }
    }
    for u in all(server, creds, "users.list", "users").await {
        let id = u["_id"].as_str().unwrap();
        let username = u["username"].as_str().unwrap();
        let name = u["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(username);
        let roles: Vec<String> = u["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        let service = u["type"] == "bot"
            || u["type"] == "app"
            || roles.iter().any(|r| r == "bot" || r == "app");
        let federated =
            u["federated"] == true || username.starts_with('@') && username.contains(':');
        let traits = UserTraits {
            login: username.to_owned(),
            emails: u["emails"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|e| e["address"].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            status: if u["active"] == true {
                UserStatus::Enabled
            } else {
                UserStatus::Disabled
            },
            account_type: if service {
                AccountType::Service
            } else {
                AccountType::Human
            },
            created_at: u["createdAt"].as_str().and_then(Timestamp::parse_rfc3339),
            last_login_at: u["lastLogin"].as_str().and_then(Timestamp::parse_rfc3339),
            last_activity_at: None,
        };
        for r in &roles {
            if users_scope.contains(r) {
                gt.grants.push(Grant::new(
                    EntitlementId::new(
                        ResourceRef::new(ResourceType::Role, r.as_str()),
                        "assigned",
                    ),
                    ResourceRef::user(id),
                ));
            }
        }
        if u["active"] == false {
            let r = get(server, creds, &format!("users.listTeams?userId={id}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            for t in r.body["teams"].as_array().unwrap() {
                let team = ResourceRef::new(ResourceType::Team, t["_id"].as_str().unwrap());
                let mut slugs = vec!["member"];
                if t["isOwner"] == true {
                    slugs.push("owner");
                }
                for slug in slugs {
                    gt.grants.push(Grant::new(
                        EntitlementId::new(team.clone(), slug),
                        ResourceRef::user(id),
                    ));
                }
            }
        }
        gt.resources.push(
            Resource::new(ResourceType::User, id, name)
                .with_user(traits)
                .with_profile("federated", federated)
                .with_profile("roles", json!(roles)),
        );
    }
    for t in all(server, creds, "teams.listAll", "teams").await {
        let id = t["_id"].as_str().unwrap();
        let res = Resource::new(ResourceType::Team, id, t["name"].as_str().unwrap())
            .with_profile("team_type", t["type"].clone())
            .with_profile("room_id", t["roomId"].clone());
        let reference = res.reference();
        gt.entitlements.push(Entitlement::new(
            reference.clone(),
            "member",
            Purpose::Assignment,
        ));
        for slug in ["owner", "moderator", "leader"] {
            gt.entitlements.push(Entitlement::new(
                reference.clone(),
                slug,
                Purpose::Permission,
            ));
        }
        for m in all(
            server,
            creds,
            &format!("teams.members?teamId={id}"),
            "members",
        )
        .await
        {
            let principal = ResourceRef::user(m["user"]["_id"].as_str().unwrap());
            gt.grants.push(Grant::new(
                EntitlementId::new(reference.clone(), "member"),
                principal.clone(),
            ));
            for slug in ["owner", "moderator", "leader"] {
                if m["roles"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(slug)))
                {
                    gt.grants.push(Grant::new(
                        EntitlementId::new(reference.clone(), slug),
                        principal.clone(),
                    ));
                }
            }
        }
        gt.resources.push(res);
    }
    gt
}

fn normalized(mut gt: GroundTruth) -> GroundTruth {
    gt.resources
        .sort_by(|a, b| (a.resource_type, &a.id).cmp(&(b.resource_type, &b.id)));
    gt.entitlements.sort_by(|a, b| a.id.cmp(&b.id));
    gt.grants.sort();
    gt
}

#[tokio::test]
async fn ground_truth_matches_what_the_api_serves() {
    let spec = OrgSpec {
        users: 400,
        teams: 30,
        avg_members: 12,
        custom_roles: 5,
        seed: 42,
    };
    let sim = RocketChatSim::with_options(spec, unlimited());
    let server = sim.spawn().await;
    let truth = normalized(sim.ground_truth());
    let crawled = normalized(crawl(&server, &sim.admin()).await);
    assert_eq!(crawled.resources.len(), truth.resources.len());
    for (a, b) in crawled.resources.iter().zip(&truth.resources) {
        assert_eq!(a, b);
    }
    assert_eq!(crawled.entitlements, truth.entitlements);
    assert_eq!(crawled.grants, truth.grants);
    // The bot sees the same.
    assert_eq!(normalized(crawl(&server, &sim.bot()).await), truth);

    // Grants never repeat; every grant's entitlement and principal exist.
    let grants: HashSet<_> = truth.grants.iter().collect();
    assert_eq!(grants.len(), truth.grants.len());
    let ents: HashSet<_> = truth.entitlements.iter().map(|e| e.id.clone()).collect();
    let users: HashSet<_> = truth
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .map(|r| r.id.clone())
        .collect();
    for g in &truth.grants {
        assert!(ents.contains(&g.entitlement), "{g:?}");
        assert!(users.contains(&g.principal.id), "{g:?}");
    }
    for r in &truth.resources {
        assert!(!r.display_name.is_empty());
        let keys: Vec<&str> = r.profile.keys().map(String::as_str).collect();
        let expected: &[&str] = match r.resource_type {
            ResourceType::User => &["federated", "roles"],
            ResourceType::Role => &["name", "protected", "scope"],
            ResourceType::Team => &["room_id", "team_type"],
            other => panic!("unexpected resource type {other:?}"),
        };
        assert_eq!(keys, expected);
    }

    // Mutations show in both.
    let teams = sim.team_ids();
    sim.remove_team(&teams[2]);
    let new_id = sim.add_user("zz.newcomer");
    let truth = normalized(sim.ground_truth());
    assert_eq!(normalized(crawl(&server, &sim.bot()).await), truth);
    assert!(truth.resources.iter().any(|r| r.id.as_str() == new_id));
    assert!(!truth.resources.iter().any(|r| r.id.as_str() == teams[2]));
    let r = get(
        &server,
        &sim.bot(),
        &format!("teams.members?teamId={}", teams[2]),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[test]
fn generator_is_deterministic_and_varied() {
    let spec = OrgSpec {
        users: 2_000,
        teams: 200,
        avg_members: 10,
        custom_roles: 4,
        seed: 9,
    };
    let a = RocketChatSim::new(spec.clone());
    let b = RocketChatSim::new(spec.clone());
    assert_eq!(a.ground_truth(), b.ground_truth());
    assert_eq!(a.admin(), b.admin());
    assert_eq!(a.team_ids(), b.team_ids());
    let c = RocketChatSim::new(OrgSpec { seed: 10, ..spec });
    assert_ne!(a.ground_truth(), c.ground_truth());

    let org = a.org();
    let users = &org.users;
    let count = |f: &dyn Fn(&org::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert!(
        count(&|u| u.id.len() == 17 && u.id.bytes().all(|c| c.is_ascii_alphanumeric()))
            == users.len()
    );
    let inactive = count(&|u| !u.active);
    assert!((40..=200).contains(&inactive), "{inactive}");
    assert!(count(&|u| u.kind == "bot") > 20);
    assert!(count(&|u| u.kind == "app") > 3);
    assert!(count(&|u| u.kind == "user" && u.roles.iter().any(|r| r == "bot")) > 0);
    assert!(count(&|u| u.federated_flag) > 10);
    assert!(count(&|u| !u.federated_flag && u.is_federated()) > 3);
    assert!(count(&|u| u.name.is_none()) > 10);
    assert!(count(&|u| u.name.as_deref() == Some("")) > 10);
    assert!(count(&|u| u.emails.len() == 2) > 100);
    assert!(count(&|u| u.emails.is_empty()) > 10);
    assert!(count(&|u| u.roles.iter().any(|r| r == "admin")) > 10);
    assert!(count(&|u| u.roles.iter().any(|r| r == "livechat-agent")) > 10);
    assert!(count(&|u| u.roles.iter().any(|r| r.len() == 24)) > 50);
    let with_login = count(&|u| u.last_login.is_some());
    assert!((1000..1400).contains(&with_login), "{with_login}");
    let usernames: HashSet<_> = users.iter().map(|u| &u.username).collect();
    assert_eq!(usernames.len(), users.len());

    let custom: Vec<_> = org.roles.iter().filter(|r| !r.protected).collect();
    assert_eq!(custom.len(), 4 + 2);
    assert!(custom.iter().all(|r| r.id.len() == 24 && r.id != r.name));
    assert!(custom.iter().any(|r| r.scope == "Subscriptions"));
    assert_eq!(
        org.roles
            .iter()
            .filter(|r| r.protected && r.id == r.name)
            .count(),
        11
    );

    let mut shapes = HashMap::new();
    for t in &org.teams {
        assert!(!t.members.is_empty());
        for m in &t.members {
            let key = match &m.roles {
                None => "absent".to_owned(),
                Some(r) if r.is_empty() => "empty".to_owned(),
                Some(r) if r[0].len() == 24 => "custom".to_owned(),
                Some(r) => r.join("+"),
            };
            *shapes.entry(key).or_insert(0) += 1;
        }
    }
    for k in [
        "absent",
        "empty",
        "owner",
        "moderator",
        "leader",
        "owner+moderator",
        "member",
        "custom",
    ] {
        assert!(shapes.get(k).copied().unwrap_or(0) > 0, "{k}: {shapes:?}");
    }
    assert!(
        org.teams
            .iter()
            .any(|t| t.members.iter().any(|m| !users[m.user].active))
    );
    assert!(org.teams.iter().any(|t| t.kind == 1) && org.teams.iter().any(|t| t.kind == 0));
}

#[test]
fn small_org_and_scale() {
    let sim = RocketChatSim::new(OrgSpec::small());
    let gt = sim.ground_truth();
    let users = gt
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .count();
    assert_eq!(users, 29);
    assert_eq!(sim.team_ids().len(), 5);

    let started = std::time::Instant::now();
    let sim = RocketChatSim::new(OrgSpec {
        users: 2_000,
        teams: 200,
        avg_members: 10,
        custom_roles: 3,
        seed: 3,
    });
    let gt = sim.ground_truth();
    assert!(gt.grants.len() > 2_000);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn faults_fire_exactly_times() {
    let sim = RocketChatSim::with_options(OrgSpec::small(), unlimited());
    let server = sim.spawn().await;
    let admin = sim.admin();
    sim.faults()
        .add(FaultRule::new("users.list", Fault::ServerError(503), 2).after(1));
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(get(&server, &admin, "users.list").await.status);
        }
        v
    };
    assert_eq!(statuses, [200, 503, 503, 200, 200]);
    assert_eq!(sim.log().count_status(503), 2);
    // Other endpoints untouched.
    assert_eq!(get(&server, &admin, "roles.list").await.status, 200);

    sim.faults()
        .add(FaultRule::new("roles.list", Fault::RateLimited, 1));
    let r = get(&server, &admin, "roles.list").await;
    assert_eq!(r.status, 429);
    assert!(r.body["error"].as_str().unwrap().starts_with(TOO_MANY));
    assert_eq!(r.header("x-ratelimit-remaining"), Some(0));
    // An exhausted window ending a minute from now (no bucket was open).
    assert!(r.header("x-ratelimit-reset").unwrap() > system_ms());
    let minute = Duration::from_secs(60);
    assert!(r.resets_within(r.tokio.0 + minute..=r.tokio.1 + minute));
    assert_eq!(get(&server, &admin, "roles.list").await.status, 200);

    sim.faults()
        .add(FaultRule::new("/me", Fault::Unauthorized, 1));
    assert_eq!(get(&server, &admin, "me").await.status, 401);
    assert_eq!(get(&server, &admin, "me").await.status, 200);

    sim.faults()
        .add(FaultRule::new("teams.members", Fault::NotFound, 1));
    let team = sim.team_ids()[0].clone();
    let r = get(&server, &admin, &format!("teams.members?teamId={team}")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (404, json!({"success": false, "error": "Not found"}))
    );

    sim.faults()
        .add(FaultRule::new("teams.listAll", Fault::TruncatedJson, 1));
    let r = get(&server, &admin, "teams.listAll").await;
    assert_eq!((r.status, r.body.clone()), (200, Value::Null));
    assert_eq!(get(&server, &admin, "teams.listAll").await.body["total"], 5);

    // Duplicate rows: the page twice.
    sim.faults()
        .add(FaultRule::new("teams.listAll", Fault::DuplicateRows, 1));
    let r = get(&server, &admin, "teams.listAll?count=2").await.body;
    let ids: Vec<&str> = r["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0..2], ids[2..4]);

    // Shifting pages: a new first user appears between two page reads.
    let page1 = get(&server, &admin, "users.list?count=10").await.body;
    sim.faults()
        .add(FaultRule::new("users.list", Fault::ShiftPages, 1));
    let page2 = get(&server, &admin, "users.list?offset=10&count=10")
        .await
        .body;
    assert_eq!(
        page2["total"].as_u64().unwrap(),
        page1["total"].as_u64().unwrap() + 1
    );
    assert_eq!(page2["users"][0]["_id"], page1["users"][9]["_id"]);
    let first = get(&server, &admin, "users.list?count=1").await.body;
    assert!(
        first["users"][0]["username"]
            .as_str()
            .unwrap()
            .starts_with('0')
    );

    // Shifting members: the first member disappears.
    let before = get(
        &server,
        &admin,
        &format!("teams.members?teamId={team}&count=0"),
    )
    .await
    .body;
    sim.faults()
        .add(FaultRule::new("teams.members", Fault::ShiftPages, 1));
    let after = get(
        &server,
        &admin,
        &format!("teams.members?teamId={team}&count=0"),
    )
    .await
    .body;
    assert_eq!(
        after["total"].as_u64().unwrap() + 1,
        before["total"].as_u64().unwrap()
    );
    assert_eq!(after["members"][0], before["members"][1]);
    // Ground truth follows the current state.
    let gt = sim.ground_truth();
    let removed = before["members"][0]["user"]["_id"].as_str().unwrap();
    assert!(!gt.grants.iter().any(|g| g.principal.id.as_str() == removed
        && g.entitlement.to_string() == format!("team:{team}:member")));

    sim.faults()
        .add(FaultRule::new("roles.list", Fault::MalformedJson, 1));
    let r = get(&server, &admin, "roles.list").await;
    assert_eq!((r.status, r.body), (200, Value::Null));

    sim.faults()
        .add(FaultRule::new("roles.list", Fault::Oversized(100_000), 1));
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{}/api/v1/roles.list", server.base_url()))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .unwrap();
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.len() >= 100_000);
    assert!(serde_json::from_slice::<Value>(&bytes).is_ok());

    sim.faults()
        .add(FaultRule::new("roles.list", Fault::ConnectionReset, 1));
    let resp = client
        .get(format!("{}/api/v1/roles.list", server.base_url()))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await;
    let failed = match resp {
        Ok(r) => r.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(failed);
    assert_eq!(get(&server, &admin, "roles.list").await.status, 200);
}

#[tokio::test(start_paused = true)]
async fn slow_fault_delays_and_log_records_everything() {
    let opts = SimOptions {
        admin_bypasses_rate_limit: false,
        ..limited(2, 60)
    };
    let sim = RocketChatSim::with_options(OrgSpec::small(), opts);
    let server = sim.spawn().await;
    let admin = sim.admin();
    sim.faults().add(FaultRule::new(
        "roles.list",
        Fault::Slow(Duration::from_secs(30)),
        1,
    ));
    let t0 = tokio::time::Instant::now();
    let r = get(&server, &admin, "roles.list").await;
    assert_eq!(r.status, 200);
    assert!(t0.elapsed() >= Duration::from_secs(30));
    assert_eq!(r.header("x-ratelimit-remaining"), Some(1));
    get(&server, &admin, "roles.list").await;
    get(&server, &admin, "roles.list").await;
    get_with(&server, None, "roles.list", &[]).await;
    let log = sim.log().entries();
    let statuses: Vec<u16> = log.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [200, 200, 429, 401]);
    assert!(
        log.iter()
            .all(|e| e.method == "GET" && e.path == "/api/v1/roles.list")
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
}

/// `cargo test -p roster-sim --release -- --ignored large_org_generates_quickly`
#[test]
#[ignore = "timing check; run in release"]
fn large_org_generates_quickly() {
    let started = std::time::Instant::now();
    let sim = RocketChatSim::new(OrgSpec {
        users: 40_000,
        teams: 5_000,
        avg_members: 8,
        custom_roles: 10,
        seed: 5,
    });
    let generated = started.elapsed();
    let gt = sim.ground_truth();
    let total = started.elapsed();
    assert!(gt.grants.len() > 40_000);
    assert!(
        total < Duration::from_secs(2),
        "generate {generated:?}, total {total:?}"
    );
}

#[tokio::test]
async fn deactivated_members_are_hidden_from_teams_members_but_counted_and_listed_per_user() {
    let spec = OrgSpec {
        users: 200,
        teams: 10,
        avg_members: 20,
        custom_roles: 2,
        seed: 11,
    };
    let sim = RocketChatSim::with_options(spec, unlimited());
    let server = sim.spawn().await;
    let admin = sim.admin();
    let (team, inactive_member) = {
        let org = sim.org();
        let t = org
            .teams
            .iter()
            .find(|t| t.members.iter().any(|m| !org.users[m.user].active))
            .expect("a team with a deactivated member");
        let m = t
            .members
            .iter()
            .find(|m| !org.users[m.user].active)
            .unwrap();
        (t.clone(), org.users[m.user].id.clone())
    };
    let active = {
        let org = sim.org();
        team.members
            .iter()
            .filter(|m| org.users[m.user].active)
            .count()
    };
    let r = get(
        &server,
        &admin,
        &format!("teams.members?teamId={}&count=0", team.id),
    )
    .await;
    assert_eq!(r.body["total"], active);
    let listed: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["_id"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&inactive_member.as_str()));
    // numberOfUsers counts every member.
    let all = get(&server, &admin, "teams.listAll?count=0").await.body;
    let t = all["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["_id"] == team.id.as_str())
        .unwrap();
    assert_eq!(t["numberOfUsers"], team.members.len());
    assert!(team.members.len() > active);
    // users.listTeams shows the deactivated user's membership.
    let r = get(
        &server,
        &admin,
        &format!("users.listTeams?userId={inactive_member}"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body["teams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["_id"] == team.id.as_str() && t["isOwner"].is_boolean())
    );
    assert_eq!(get(&server, &admin, "users.listTeams").await.status, 400);
}

#[tokio::test]
async fn users_list_needs_view_d_room_and_team_visibility_needs_view_all_teams() {
    let sim = RocketChatSim::with_options(OrgSpec::small(), unlimited());
    let server = sim.spawn().await;
    let plain = sim.plain_user();
    assert_eq!(get(&server, &plain, "users.list").await.status, 200);
    sim.set_permission_roles("view-d-room", &["admin", "bot"]);
    let r = get(&server, &plain, "users.list").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body, json!({"success": false, "error": "unauthorized"}));
    // view-room-administration does not reveal other teams' members.
    sim.set_permission_roles("view-room-administration", &["admin", "user"]);
    sim.set_permission_roles("view-other-user-channels", &["admin", "user"]);
    let teams = sim.team_ids();
    let r = get(
        &server,
        &plain,
        &format!("teams.members?teamId={}", teams[1]),
    )
    .await;
    assert_eq!(r.body["total"], 0);
}

#[tokio::test]
async fn legacy_unauthorized_body_is_an_option() {
    let opts = SimOptions {
        legacy_unauthorized_body: true,
        ..unlimited()
    };
    let sim = RocketChatSim::with_options(OrgSpec::small(), opts);
    let server = sim.spawn().await;
    let r = get_with(&server, None, "me", &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        json!({"status": "error", "message": "You must be logged in to do this."})
    );
}
