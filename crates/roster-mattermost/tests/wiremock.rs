//! The connector against hand-written wiremock answers: paging of
//! `/api/v4/users` past the first page, a subpath base URL, and validation of
//! 401 / 403 answers on `/api/v4/users/me`.

use std::time::Duration;

use roster_core::{
    CheckStatus, Connector, MemorySink, RetryPolicy, SyncEngine, SyncOptions, ValidationReport,
};
use roster_mattermost::{MattermostConfig, MattermostConnector};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn id(prefix: char, i: usize) -> String {
    format!("{prefix}{i:025}")
}

fn user(i: usize) -> Value {
    json!({
        "id": id('u', i), "username": format!("user{i:04}"), "email": format!("user{i:04}@example.com"),
        "first_name": "", "last_name": "", "nickname": "", "position": "", "roles": "system_user",
        "auth_service": "", "create_at": 1_700_000_000_000_i64, "update_at": 0, "delete_at": 0
    })
}

fn connector(base: &str) -> MattermostConnector {
    let config = MattermostConfig::new(base, SecretString::from("wm-token"))
        .retry(
            RetryPolicy::default()
                .max_retries(1)
                .min_delay(Duration::from_millis(1)),
        )
        .enrich(false);
    MattermostConnector::new(config).unwrap()
}

/// Last resort: a 500 naming the request no mock expected.
async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(|req: &Request| {
            ResponseTemplate::new(500).set_body_json(json!({
                "message": format!("no mock for {} {}", req.method, req.url.path())
            }))
        })
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

fn mm_error(status: u16, id: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "id": id, "message": message, "detailed_error": "", "request_id": "r1", "status_code": status
    }))
}

#[tokio::test]
async fn users_are_paged_until_a_short_page_under_a_subpath() {
    let server = MockServer::start().await;
    let all: Vec<Value> = (0..450).map(user).collect();
    for (page, rows) in all.chunks(200).enumerate() {
        Mock::given(method("GET"))
            .and(path("/chat/api/v4/users"))
            .and(query_param("page", page.to_string()))
            .and(query_param("per_page", "200"))
            .respond_with(ResponseTemplate::new(200).set_body_json(rows))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/chat/api/v4/teams"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    // Validation is off, so the teams listing asks who the token is.
    let mut admin = user(0);
    admin["roles"] = json!("system_user system_admin");
    Mock::given(method("GET"))
        .and(path("/chat/api/v4/users/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(admin))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;

    // A subpath and a trailing slash.
    let conn = connector(&format!("{}/chat/", server.uri()));
    assert_eq!(conn.source(), format!("{}/chat", server.uri()));
    let mut sink = MemorySink::default();
    let options = SyncOptions::default().validate(false);
    let summary = SyncEngine::new(options)
        .run(&conn, &mut sink)
        .await
        .unwrap();
    assert!(summary.complete, "{:?}", summary.warnings);
    let snap = sink.snapshot();
    assert_eq!(snap.resources.len(), 450);
    assert_eq!(snap.resources[449].display_name, "user0449");
    // Three users pages (200 + 200 + 50), the System Admin check and one
    // teams page.
    assert_eq!(summary.stats.requests, 5);
}

async fn validate_with_me(answer: ResponseTemplate) -> ValidationReport {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/system/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "OK"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users/me"))
        .respond_with(answer)
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    connector(&server.uri()).validate().await.unwrap()
}

#[tokio::test]
async fn forbidden_on_users_me_fails_the_authenticated_check() {
    let report = validate_with_me(mm_error(
        403,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    ))
    .await;
    assert!(!report.sync_possible());
    let auth = report
        .checks
        .iter()
        .find(|c| c.name == "authenticated")
        .unwrap();
    assert_eq!(auth.status, CheckStatus::Fail);
    assert!(auth.detail.contains("HTTP 403"), "{}", auth.detail);
    assert!(
        auth.detail.contains("appropriate permissions"),
        "{}",
        auth.detail
    );
    assert!(!report.to_string().contains("wm-token"));
}

#[tokio::test]
async fn unauthorized_on_users_me_says_invalid_or_expired() {
    let report = validate_with_me(mm_error(
        401,
        "api.context.session_expired.app_error",
        "Invalid or expired session, please login again.",
    ))
    .await;
    let failure = report.failure_summary();
    assert!(failure.contains("token invalid or expired"), "{failure}");
    assert!(failure.contains("bot token"), "{failure}");
}

#[tokio::test]
async fn unauthorized_saying_tokens_are_disabled_says_so() {
    let report = validate_with_me(mm_error(
        401,
        "app.user_access_token.disabled",
        "Personal access tokens are disabled on this server. Please contact your system administrator.",
    ))
    .await;
    let failure = report.failure_summary();
    assert!(
        failure.contains("personal access tokens are disabled"),
        "{failure}"
    );
    assert!(
        failure.contains("Enable Personal Access Tokens"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_non_mattermost_url_fails_reachable() {
    let server = MockServer::start().await;
    catch_all(&server).await;
    let report = connector(&server.uri()).validate().await.unwrap();
    let failed: Vec<_> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, ["reachable"]);
    assert!(report.failure_summary().contains("Site URL"));
}
