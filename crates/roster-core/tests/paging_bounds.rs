//! Issue 13 item 5: hostile listings end at a bound. A server that pages
//! fresh ids forever, a `total` that grows on every page, pages alternating
//! A, B, A, B: each sync ends `complete:false` with a warning naming the
//! listing, after a bounded number of requests. An in-test axum server,
//! tokio's paused clock, never sleeping.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use roster_core::{
    Auth, ClientOptions, Connector, Endpoint, Entitlement, HttpClient, HttpConfig, ItemStream,
    Keyed, Listed, MemorySink, Page, PageRequest, Paging, PagingLimits, RateLimitDialect, Resource,
    ResourceSyncer, ResourceType, Summary, SyncEngine, SyncOptions, ValidationReport, paginate,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Rows per page the hostile server answers.
const PER_PAGE: u64 = 100;
/// The server refuses (400, not retried) after this many requests, so a
/// reader without bounds ends with the wrong warning instead of hanging.
const GUARD: u64 = 3_000;

#[derive(Clone, Default)]
struct Hits(Arc<AtomicU64>);

type Params = Query<HashMap<String, String>>;

fn param(q: &HashMap<String, String>, name: &str) -> u64 {
    q.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn guard(hits: &Hits) -> Option<Response> {
    let n = hits.0.fetch_add(1, Ordering::SeqCst) + 1;
    (n > GUARD).then(|| (StatusCode::BAD_REQUEST, "request guard reached").into_response())
}

fn ids(prefix: &str, from: u64, n: u64) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"id": format!("{prefix}{i:08}")}))
        .collect()
}

/// Page-number listing of fresh ids on every page, forever.
async fn fresh(State(hits): State<Hits>, Query(q): Params) -> Response {
    if let Some(r) = guard(&hits) {
        return r;
    }
    Json(ids("f", param(&q, "page") * PER_PAGE, PER_PAGE)).into_response()
}

/// Offset listing whose `total` grows faster than it is read.
async fn growing(State(hits): State<Hits>, Query(q): Params) -> Response {
    if let Some(r) = guard(&hits) {
        return r;
    }
    let offset = param(&q, "offset");
    Json(json!({"items": ids("g", offset, PER_PAGE), "total": 1_000 + 2 * offset})).into_response()
}

/// Page-number listing answering page A, page B, A, B, … forever.
async fn alternate(State(hits): State<Hits>, Query(q): Params) -> Response {
    if let Some(r) = guard(&hits) {
        return r;
    }
    let prefix = if param(&q, "page").is_multiple_of(2) {
        "a"
    } else {
        "b"
    };
    Json(ids(prefix, 0, PER_PAGE)).into_response()
}

/// Offset listing answering A, B, A, B, … with a constant total.
async fn alternate_offset(State(hits): State<Hits>, Query(q): Params) -> Response {
    if let Some(r) = guard(&hits) {
        return r;
    }
    let prefix = if (param(&q, "offset") / PER_PAGE).is_multiple_of(2) {
        "a"
    } else {
        "b"
    };
    Json(json!({"items": ids(prefix, 0, PER_PAGE), "total": 1_000_000})).into_response()
}

async fn serve() -> (String, Hits) {
    let hits = Hits::default();
    let router = axum::Router::new()
        .route("/fresh", get(fresh))
        .route("/growing", get(growing))
        .route("/alternate", get(alternate))
        .route("/alternate-offset", get(alternate_offset))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, hits)
}

#[derive(Deserialize)]
struct Row {
    id: String,
}
impl Keyed for Row {
    fn key(&self) -> &str {
        &self.id
    }
}
#[derive(Deserialize)]
struct OffsetPage {
    items: Vec<Row>,
    total: u64,
}

/// A one-listing connector over the hostile server.
struct Hostile {
    client: HttpClient,
    path: &'static str,
    limits: PagingLimits,
}

struct Listing<'a>(&'a Hostile);

impl ResourceSyncer for Listing<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::User
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        let h = self.0;
        let endpoint = Endpoint::get(h.path);
        let offset = h.path.contains("growing") || h.path.contains("offset");
        let paging = if offset {
            Paging::Offset {
                count: PER_PAGE as u32,
            }
        } else {
            Paging::PageNumber {
                per_page: PER_PAGE as u32,
                server_cap: Some(PER_PAGE as u32),
            }
        };
        paginate(endpoint.bucket(), paging, h.limits, move |req| {
            let client = h.client.clone();
            async move {
                match req {
                    PageRequest::Number { page, per_page } => {
                        let call = endpoint
                            .call()
                            .query("page", page)
                            .query("per_page", per_page);
                        client.json::<Vec<Row>>(&call).await.map(Page::new)
                    }
                    PageRequest::Offset { offset, count } => {
                        let call = endpoint
                            .call()
                            .query("offset", offset)
                            .query("count", count);
                        let p: OffsetPage = client.json(&call).await?;
                        Ok(Page::new(p.items).with_total(p.total))
                    }
                    PageRequest::Cursor(_) => unreachable!("no cursor listing here"),
                }
            }
        })
        .map(|r| r.map(|r| Resource::new(ResourceType::User, r.id.clone(), r.id).into()))
        .boxed()
    }
    fn entitlements<'a>(&'a self, _: &'a Resource) -> ItemStream<'a, Entitlement> {
        futures::stream::empty().boxed()
    }
}

#[async_trait]
impl Connector for Hostile {
    fn name(&self) -> &'static str {
        "hostile"
    }
    fn client(&self) -> &HttpClient {
        &self.client
    }
    async fn validate(&self) -> roster_core::Result<ValidationReport> {
        Ok(ValidationReport::new(self.name(), &self.source()))
    }
    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>> {
        vec![Box::new(Listing(self))]
    }
}

async fn sync(path: &'static str, limits: PagingLimits) -> (Summary, usize, u64) {
    let (url, hits) = serve().await;
    let options = ClientOptions::default().allow_insecure_http(true);
    let config = HttpConfig::new(&url, RateLimitDialect::MATTERMOST, options).unwrap();
    let conn = Hostile {
        client: HttpClient::new(config, Auth::None).unwrap(),
        path,
        limits,
    };
    let mut sink = MemorySink::default();
    let options = SyncOptions::default().validate(false);
    let summary = SyncEngine::new(options)
        .run(&conn, &mut sink)
        .await
        .expect("sync runs");
    let written = sink.snapshot().resources.len();
    (summary, written, hits.0.load(Ordering::SeqCst))
}

#[track_caller]
fn assert_stopped_saying(summary: &Summary, listing: &str, needle: &str) {
    assert!(!summary.complete, "expected complete:false");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains(listing) && w.contains(needle)),
        "no warning names `{listing}` and says `{needle}`: {:?}",
        summary.warnings
    );
}

/// Fresh ids forever, the size known from validation (1,000): stops at
/// 1,000 + 10% + 100 ids.
#[tokio::test(start_paused = true)]
async fn endless_fresh_ids_stop_at_the_known_size_plus_margin() {
    let limits = PagingLimits::default().with_expected_items(1_000);
    let (summary, written, requests) = sync("/fresh", limits).await;
    assert_stopped_saying(&summary, "GET /fresh", "more than 1200 distinct ids");
    assert_eq!(written, 1_200, "nothing past the bound is written");
    assert_eq!(requests, 13, "1,200 ids in pages of 100, and the one over");
}

/// Fresh ids forever and nothing known: the absolute cap stops it.
#[tokio::test(start_paused = true)]
async fn endless_fresh_ids_stop_at_the_absolute_cap() {
    let limits = PagingLimits::default().max_items(20_000);
    let (summary, written, requests) = sync("/fresh", limits).await;
    assert_stopped_saying(&summary, "GET /fresh", "raise PagingLimits::max_items");
    assert_eq!(written, 20_000);
    assert_eq!(requests, 201);
}

/// A Rocket.Chat-style `total` growing on every page: stops once it grows
/// past the first page's total plus the margin.
#[tokio::test(start_paused = true)]
async fn a_growing_total_stops() {
    let (summary, written, requests) = sync("/growing", PagingLimits::default()).await;
    assert_stopped_saying(&summary, "GET /growing", "declared total grew from 1000");
    // total = 1000 + 2·offset passes 1000 + 100 + 100 at offset 200.
    assert!(requests <= 4, "{requests} requests");
    assert!(written <= 300, "{written} written");
}

/// Pages A, B, A, B, …: a pass that only repeats rows it already read
/// stops within a few pages (it took 100,003 requests before).
#[tokio::test(start_paused = true)]
async fn alternating_pages_stop_within_a_few_pages() {
    let (summary, written, requests) = sync("/alternate", PagingLimits::default()).await;
    assert_stopped_saying(&summary, "GET /alternate", "unstable listing");
    assert_eq!(written, 200, "A and B once each");
    assert_eq!(requests, 5, "A, B, then three pages of repeats");

    let (summary, written, requests) = sync("/alternate-offset", PagingLimits::default()).await;
    assert_stopped_saying(&summary, "GET /alternate-offset", "unstable listing");
    assert_eq!(written, 200);
    assert_eq!(requests, 5);
}
