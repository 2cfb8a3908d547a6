//! The per-request time budget on tokio's paused clock (issue 13, item 6):
//! waits the server asks for count in it, so a hostile or broken server
//! cannot stretch one request beyond 15 minutes; every wait is announced
//! through [`Progress`] with its reason.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use roster_core::{
    Auth, ClientOptions, Endpoint, Error, HttpClient, HttpConfig, Progress, ProgressEvent,
    RateLimitDialect, RetryPolicy,
};
use tokio::time::Instant;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Every response carries `headers`; `status` for all of them.
fn always(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
) -> (Router, Arc<Mutex<u32>>) {
    let calls: Arc<Mutex<u32>> = Arc::default();
    let c = calls.clone();
    let router = Router::new().route(
        "/x",
        get(move || {
            let c = c.clone();
            async move {
                *c.lock().unwrap() += 1;
                let mut h = HeaderMap::new();
                for (k, v) in headers {
                    h.insert(*k, HeaderValue::from_static(v));
                }
                (StatusCode::from_u16(status).unwrap(), h, "[]").into_response()
            }
        }),
    );
    (router, calls)
}

#[derive(Default)]
struct Waits(Mutex<Vec<(String, Duration, String)>>);

impl Progress for Waits {
    fn event(&self, event: ProgressEvent<'_>) {
        if let ProgressEvent::Waiting {
            endpoint,
            wait,
            why,
        } = event
        {
            self.0
                .lock()
                .unwrap()
                .push((endpoint.to_owned(), wait, why.to_owned()));
        }
    }
}

fn client(base: &str) -> (HttpClient, Arc<Waits>) {
    let options = ClientOptions::default()
        .reset_margin(Duration::ZERO)
        .retry(RetryPolicy::default().jitter_seed(Some(1)));
    let config = HttpConfig::new(base, RateLimitDialect::MATTERMOST, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    let waits = Arc::new(Waits::default());
    c.set_progress(waits.clone());
    (c, waits)
}

const X: Endpoint = Endpoint::get("/x");
const BUDGET: Duration = Duration::from_secs(15 * 60);

#[tokio::test(start_paused = true)]
async fn retry_after_on_every_response_stays_within_the_request_budget() {
    // Before: 6 attempts 200 s apart, 1,000 s for one request.
    let (router, calls) = always(429, &[("retry-after", "200")]);
    let base = serve(router).await;
    let (c, waits) = client(&base);
    let started = Instant::now();
    let err = c.send(&X.call()).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed <= BUDGET, "one request took {elapsed:?}");
    assert!(
        matches!(err, Error::TimeBudget { .. }),
        "the error says the budget ran out: {err}"
    );
    let text = err.to_string();
    assert!(text.contains("15 min") || text.contains("900"), "{text}");
    assert!(text.contains("429"), "{text}");
    assert_eq!(*calls.lock().unwrap(), 5);
    // Each wait was announced, with how long and why.
    let waits = waits.0.lock().unwrap();
    assert_eq!(waits.len(), 4, "{waits:?}");
    assert!(
        waits.iter().all(|(e, w, why)| e == "GET /x"
            && *w >= Duration::from_secs(200)
            && why.contains("429")),
        "{waits:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_huge_reset_fails_the_next_call_at_once_instead_of_parking_it() {
    // One answer says no calls are left for (capped) an hour.
    let (router, calls) = always(
        200,
        &[
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "999999"),
        ],
    );
    let base = serve(router).await;
    let (c, _) = client(&base);
    c.send(&X.call()).await.unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        let err = c.send(&X.call()).await.unwrap_err();
        assert!(matches!(err, Error::TimeBudget { .. }), "{err}");
        assert!(err.to_string().contains("rate-limit headers"), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "each later call waited: {:?}",
        started.elapsed()
    );
    assert_eq!(*calls.lock().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_server_wait_within_the_budget_is_honoured_and_announced() {
    let (router, _) = always(
        200,
        &[
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "120"),
        ],
    );
    let base = serve(router).await;
    let (c, waits) = client(&base);
    c.send(&X.call()).await.unwrap();
    let started = Instant::now();
    c.send(&X.call()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(120));
    let waits = waits.0.lock().unwrap();
    assert!(
        waits
            .iter()
            .any(|(_, w, why)| *w >= Duration::from_secs(119) && why.contains("rate-limit")),
        "{waits:?}"
    );
}

#[test]
fn a_reset_beyond_any_duration_is_capped_not_a_panic() {
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-limit", HeaderValue::from_static("1"));
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from_static("99999999999999999999999999"),
    );
    let info = RateLimitDialect::MATTERMOST.parse(|n| h.get(n).and_then(|v| v.to_str().ok()));
    let wait = info.reset_at.expect("a reset") - Instant::now();
    assert!(wait <= roster_core::ratelimit::MAX_HEADER_WAIT, "{wait:?}");
}

#[tokio::test(start_paused = true)]
async fn waiting_for_the_clients_own_quota_does_not_count_against_the_budget() {
    // Every answer: no calls left in a window ending 70 s from now.
    let router = Router::new().route(
        "/x",
        get(|| async {
            // Epoch ms on the system clock, as Rocket.Chat stamps it.
            let at = std::time::SystemTime::now() + Duration::from_secs(70);
            let reset = at
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64;
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-limit", HeaderValue::from_static("10"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert("x-ratelimit-reset", reset.into());
            (StatusCode::OK, h, "[]").into_response()
        }),
    );
    let base = serve(router).await;
    let options = ClientOptions::default()
        .reset_margin(Duration::ZERO)
        .request_budget(Duration::from_secs(30))
        // One call a minute by the client's own quota.
        .rate_limit(Some(roster_core::RateLimit::per_endpoint(
            1,
            Duration::from_secs(60),
        )));
    let config = HttpConfig::new(&base, RateLimitDialect::ROCKETCHAT, options).unwrap();
    let c = HttpClient::new(config, Auth::None).unwrap();
    c.send(&X.call()).await.unwrap();
    let started = Instant::now();
    // 60 s for the quota, then 10 s left of the server's window: only those
    // 10 s are the server's doing.
    c.send(&X.call()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(70),
        "{:?}",
        started.elapsed()
    );
}
