//! The HTTP layer against wiremock: redirects, size cap, retries,
//! classification and secrecy. Real time, with millisecond backoffs.

use std::time::Duration;

use roster_core::{
    Auth, ClientOptions, Endpoint, Error, HttpClient, HttpConfig, RateLimitDialect, RetryPolicy,
};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "super-secret-token-4711";
const USERS: Endpoint = Endpoint::get("/api/v4/users");

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .min_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .max_total_delay(Duration::from_secs(5))
        .jitter_seed(Some(7))
}

fn client(base: &str) -> HttpClient {
    let options = ClientOptions::default().retry(fast_retry());
    let config = HttpConfig::new(base, RateLimitDialect::MATTERMOST, options).unwrap();
    HttpClient::new(config, Auth::Bearer(SecretString::from(TOKEN))).unwrap()
}

/// Mounted last: any request no other mock answered fails loudly, naming
/// the route that was not expected.
async fn catch_all(server: &MockServer) {
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(500).set_body_string("unexpected route: no mock for it"),
        )
        .with_priority(u8::MAX)
        .mount(server)
        .await;
}

#[tokio::test]
async fn sends_bearer_token_and_user_agent_and_keeps_subpath() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/chat/api/v4/users"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header(
            "user-agent",
            concat!("roster/", env!("CARGO_PKG_VERSION")),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(1)
        .mount(&server)
        .await;
    catch_all(&server).await;
    let c = client(&format!("{}/chat/", server.uri()));
    let v: Vec<serde_json::Value> = c.json(&USERS.call()).await.unwrap();
    assert!(v.is_empty());
}

#[tokio::test]
async fn redirect_is_refused_and_the_token_never_reaches_the_target() {
    let target = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .expect(0)
        .mount(&target)
        .await;
    let origin = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal?x=1", target.uri()).as_str()),
        )
        .mount(&origin)
        .await;
    let err = client(&origin.uri()).send(&USERS.call()).await.unwrap_err();
    match &err {
        Error::Redirect {
            location, status, ..
        } => {
            assert_eq!(*status, 302);
            assert_eq!(location, &format!("{}/steal", target.uri()));
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("does not follow redirects"));
    assert!(target.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(10_000)))
        .mount(&server)
        .await;
    let options = ClientOptions::default()
        .max_body_bytes(1_000)
        .retry(RetryPolicy::none());
    let config = HttpConfig::new(&server.uri(), RateLimitDialect::MATTERMOST, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    let err = c.send(&USERS.call()).await.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 1_000, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_given_up() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(serde_json::json!({"message": "maintenance"})),
        )
        .expect(4)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let err = c.send(&USERS.call()).await.unwrap_err();
    assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    assert!(err.to_string().contains("maintenance"));
    let stats = c.stats();
    assert_eq!((stats.requests, stats.retries), (4, 3));
}

#[tokio::test]
async fn a_transient_error_then_success_is_invisible() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([1, 2])))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let v: Vec<u32> = c.json(&USERS.call()).await.unwrap();
    assert_eq!(v, vec![1, 2]);
    assert_eq!(c.stats().retries, 2);
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_not_retried() {
    for (status, kind) in [
        (401, "authentication failed"),
        (403, "permission denied"),
        (404, "not found"),
        (400, "unexpected HTTP 400"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/api/v4/users"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({
                    "id": "api.context.session_expired.app_error",
                    "message": "Invalid or expired session, please login again.",
                    "status_code": status
                })),
            )
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server.uri()).send(&USERS.call()).await.unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(kind), "{err}");
    }
}

#[tokio::test]
async fn the_token_never_appears_in_error_text() {
    let server = MockServer::start().await;
    // A hostile or buggy server echoing the credential back.
    Mock::given(path("/api/v4/users"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("oops Bearer {TOKEN} not json")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/v4/teams"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"message": format!("token {TOKEN} lacks manage_system")}),
        ))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let decode = c.json::<Vec<u32>>(&USERS.call()).await.unwrap_err();
    let forbidden = c
        .send(&Endpoint::get("/api/v4/teams").call())
        .await
        .unwrap_err();
    for err in [decode, forbidden] {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(TOKEN), "{text}");
        assert!(text.contains("[REDACTED]"), "{text}");
    }
    assert!(!format!("{c:?}").contains(TOKEN));
}

#[tokio::test]
async fn decode_errors_name_endpoint_path_and_excerpt() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([{"id": 5}])))
        .mount(&server)
        .await;
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct User {
        id: String,
    }
    let options = ClientOptions::default().retry(RetryPolicy::none());
    let config = HttpConfig::new(&server.uri(), RateLimitDialect::MATTERMOST, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    let err = c
        .json::<Vec<User>>(&USERS.call().query("page", 3))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("GET /api/v4/users"), "{text}");
    assert!(
        !text.contains("page=3"),
        "queries stay out of errors: {text}"
    );
    assert!(text.contains("[0].id"), "{text}");
    assert!(text.contains(r#"[{"id":5}]"#), "{text}");
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let options = ClientOptions::default().retry(RetryPolicy::none());
    let config =
        HttpConfig::new("http://127.0.0.1:9", RateLimitDialect::MATTERMOST, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    let err = c.send(&USERS.call()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.kind(), roster_core::ErrorKind::Connection);
    assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
}

#[tokio::test]
async fn slow_responses_time_out_and_are_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let options = ClientOptions::default()
        .timeout(Duration::from_millis(100))
        .retry(fast_retry().max_retries(1));
    let config = HttpConfig::new(&server.uri(), RateLimitDialect::MATTERMOST, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    let err = c.send(&USERS.call()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(c.stats().requests, 2);
}
