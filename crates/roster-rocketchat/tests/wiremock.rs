//! The connector against hand-written answers: exactly what goes on the
//! wire (headers, query parameters, subpaths), and how odd answers map.

use std::time::Duration;

use roster_core::{
    CheckStatus, Connector, MemorySink, RetryPolicy, Summary, SyncEngine, SyncOptions,
};
use roster_rocketchat::{RocketChatConfig, RocketChatConnector};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "tok-0123456789-secret";

/// Matches requests whose query holds exactly `names` (any order).
struct OnlyParams(&'static [&'static str]);

impl Match for OnlyParams {
    fn matches(&self, request: &Request) -> bool {
        let mut got: Vec<String> = request
            .url
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect();
        got.sort();
        let mut want: Vec<&str> = self.0.to_vec();
        want.sort_unstable();
        got == want
    }
}

fn config(base: &str) -> RocketChatConfig {
    RocketChatConfig::new(base, "uid-1", TOKEN.to_owned().into())
        .rate_limit(None)
        .retry(
            RetryPolicy::default()
                .max_retries(1)
                .min_delay(Duration::from_millis(1)),
        )
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// Mounts a two-user, one-team workspace under `prefix`.
async fn workspace(server: &MockServer, prefix: &str) {
    let p = |s: &str| format!("{prefix}/api/v1/{s}");
    Mock::given(method("GET"))
        .and(path(p("roles.list")))
        .and(header("x-auth-token", TOKEN))
        .and(header("x-user-id", "uid-1"))
        .respond_with(ok(json!({"success": true, "roles": [
            {"_id": "admin", "name": "admin", "scope": "Users", "protected": true},
            {"_id": "user", "name": "user", "scope": "Users", "protected": true},
            {"_id": "owner", "name": "owner", "scope": "Subscriptions", "protected": true},
            {"_id": "65a1b2c3d4e5f60718293a4b", "name": "auditor", "scope": "Users", "protected": false},
        ]})))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(p("users.list")))
        .and(OnlyParams(&["offset", "count"]))
        .and(query_param("count", "100"))
        .and(header("x-auth-token", TOKEN))
        .respond_with(ok(json!({"success": true, "count": 2, "offset": 0, "total": 2, "users": [
            {"_id": "u1", "username": "ada", "name": "Ada", "active": true, "type": "user",
             "emails": [{"address": "ada@example.com", "verified": true}],
             "roles": ["user", "65a1b2c3d4e5f60718293a4b", "owner"],
             "createdAt": {"$date": 1_704_164_645_000_i64}, "lastLogin": "2024-05-01T10:00:00.000Z"},
            {"_id": "b1", "username": "ci.bot", "active": false, "type": "bot", "roles": ["bot"]},
        ]})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(p("teams.listAll")))
        .and(OnlyParams(&["offset", "count"]))
        .respond_with(ok(
            json!({"success": true, "count": 1, "offset": 0, "total": 1, "teams": [
                {"_id": "T1", "name": "apollo", "type": 1, "roomId": "R1"},
            ]}),
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(p("teams.members")))
        .and(OnlyParams(&["offset", "count", "teamId"]))
        .and(query_param("teamId", "T1"))
        .respond_with(ok(
            json!({"success": true, "count": 2, "offset": 0, "total": 2, "members": [
                {"user": {"_id": "u1", "username": "ada"}, "roles": ["owner", "member"]},
                {"user": {"_id": "b1", "username": "ci.bot"}},
            ]}),
        ))
        .mount(server)
        .await;
}

async fn sync(connector: &RocketChatConnector) -> (Summary, roster_core::Snapshot) {
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default().validate(false))
        .run(connector, &mut sink)
        .await
        .unwrap();
    (summary, sink.snapshot())
}

#[tokio::test]
async fn sends_credentials_and_only_offset_count_and_keeps_subpaths() {
    let server = MockServer::start().await;
    workspace(&server, "/chat").await;
    let base = format!("{}/chat/", server.uri());
    let c = RocketChatConnector::new(config(&base)).unwrap();
    assert_eq!(c.source(), format!("{}/chat", server.uri()));
    let (summary, snap) = sync(&c).await;
    assert!(summary.complete, "{:?}", summary.warnings);
    assert_eq!(snap.resources.len(), 2 + 4 + 1);
    let grants: Vec<String> = snap
        .grants
        .iter()
        .map(|g| format!("{} {}", g.entitlement, g.principal.id))
        .collect();
    let mut grants = grants;
    grants.sort();
    assert_eq!(
        grants,
        [
            "role:65a1b2c3d4e5f60718293a4b:assigned u1",
            "role:user:assigned u1",
            "team:T1:member b1",
            "team:T1:member u1",
            "team:T1:owner u1",
        ]
    );
    let ada = snap
        .resources
        .iter()
        .find(|r| r.id.as_str() == "u1")
        .unwrap();
    let traits = ada.user.as_ref().unwrap();
    assert_eq!(
        traits.created_at.unwrap().to_string(),
        "2024-01-02T03:04:05Z"
    );
    let bot = snap
        .resources
        .iter()
        .find(|r| r.id.as_str() == "b1")
        .unwrap();
    let json = serde_json::to_value(bot).unwrap();
    assert_eq!(json["user"]["status"], "disabled");
    assert_eq!(json["user"]["account_type"], "service");
    // Every request carried both credential headers; none carried the token
    // anywhere else.
    for r in server.received_requests().await.unwrap() {
        assert_eq!(r.headers["x-auth-token"], TOKEN);
        assert_eq!(r.headers["x-user-id"], "uid-1");
        assert!(!r.url.as_str().contains(TOKEN));
    }
}

#[tokio::test]
async fn infinite_count_sends_count_zero() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users.list"))
        .and(query_param("count", "0"))
        .and(query_param("offset", "0"))
        .respond_with(ok(
            json!({"users": [{"_id": "u1", "username": "a", "roles": ["user"]}], "total": 1}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/roles.list"))
        .respond_with(ok(json!({"roles": []})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/teams.listAll"))
        .and(query_param("count", "0"))
        .respond_with(ok(json!({"teams": [], "total": 0})))
        .expect(1)
        .mount(&server)
        .await;
    let c = RocketChatConnector::new(config(&server.uri()).infinite_count(true)).unwrap();
    let (summary, snap) = sync(&c).await;
    assert!(summary.complete, "{:?}", summary.warnings);
    assert_eq!(snap.resources.len(), 1);
}

#[tokio::test]
async fn forbidden_team_listing_is_incomplete_not_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users.list"))
        .respond_with(ok(json!({"users": [], "total": 0})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/roles.list"))
        .respond_with(ok(json!({"roles": []})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/teams.listAll"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "success": false,
            "error": "User does not have the permissions required for this action [error-forbidden]"
        })))
        .mount(&server)
        .await;
    let c = RocketChatConnector::new(config(&server.uri())).unwrap();
    let (summary, _) = sync(&c).await;
    assert!(!summary.complete);
    assert!(
        summary.warnings.iter().any(|w| w.contains("403")),
        "{:?}",
        summary.warnings
    );
}

#[tokio::test]
async fn validation_with_a_rejected_token_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/info"))
        .respond_with(ok(json!({"version": "6.9.0", "success": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/me"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"status": "error", "message": "You must be logged in to do this."}),
        ))
        .mount(&server)
        .await;
    let c = RocketChatConnector::new(config(&server.uri())).unwrap();
    let report = c.validate().await.unwrap();
    assert!(!report.sync_possible());
    let auth = report
        .checks
        .iter()
        .find(|c| c.name == "authenticated")
        .unwrap();
    assert_eq!(auth.status, CheckStatus::Fail);
    assert!(auth.detail.contains("token or user id invalid"));
    assert!(report.checks[0].detail.contains("6.9.0"));
    assert!(!report.to_string().contains(TOKEN));
}

#[test]
fn config_refuses_plain_http_to_remote_hosts() {
    let err = RocketChatConnector::new(RocketChatConfig::new(
        "http://chat.example.com",
        "u",
        TOKEN.to_owned().into(),
    ))
    .unwrap_err();
    assert!(
        matches!(&err, roster_core::Error::InsecureHttp { host } if host == "chat.example.com"),
        "{err}"
    );
    assert!(err.to_string().contains("unencrypted"), "{err}");
    assert!(
        RocketChatConnector::new(
            RocketChatConfig::new("http://chat.example.com", "u", TOKEN.to_owned().into())
                .allow_insecure_http(true)
        )
        .is_ok()
    );
}
