//! Pieces both simulators share: the running server handle, the fault
//! injector, the request log and the ground truth.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use roster_core::testkit::{Contract, Expected};
use roster_core::{Entitlement, Grant, Resource};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Epoch milliseconds on the system clock: the dates a server stamps on its
/// records (`createdAt`, `lastLogin`, `update_at`, …).
pub(crate) fn system_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// The epoch milliseconds (cut off, like `Date.now()`) the system clock
/// will read at the tokio instant `at`: `SystemTime::now() + (at −
/// Instant::now())`. A simulator keeps its windows on tokio's clock (so
/// tests on a paused clock never really wait) and turns a window's end into
/// an absolute header only when it answers, as a real server adds the time
/// left in the window to its own clock (Rocket.Chat's `X-RateLimit-Reset`:
/// `Date.now()` plus the limiter's time to reset). The client reads it back
/// on the system clock.
pub(crate) fn system_millis_at(at: Instant) -> u64 {
    let now = Instant::now();
    let sys = SystemTime::now();
    let at_sys = if at >= now {
        sys + (at - now)
    } else {
        sys - (now - at)
    };
    let ns = at_sys
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(ns / 1_000_000).unwrap_or(u64::MAX)
}

/// The exact resources, entitlements and grants a correct sync of a
/// simulated organisation produces, computed from what the generator
/// decided (never from a connector's mapping code), and the contract of the
/// platform's connector.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundTruth {
    /// Every resource, in no particular order.
    pub resources: Vec<Resource>,
    /// Every entitlement.
    pub entitlements: Vec<Entitlement>,
    /// Every grant, each once.
    pub grants: Vec<Grant>,
    pub(crate) contract: Contract,
}

impl GroundTruth {
    /// No records yet, for the connector bound by `contract`.
    pub(crate) fn new(contract: Contract) -> Self {
        Self {
            resources: Vec::new(),
            entitlements: Vec::new(),
            grants: Vec::new(),
            contract,
        }
    }

    /// The contract of the connector this truth is for
    /// ([`crate::mattermost::CONTRACT`] or [`crate::rocketchat::CONTRACT`]).
    pub fn contract(&self) -> Contract {
        self.contract
    }

    /// What a complete sync must produce, for
    /// [`roster_core::testkit::assert_conforms`]: exactly these records,
    /// under the platform connector's contract.
    pub fn expected(&self) -> Expected {
        Expected::new(
            self.contract,
            self.resources.clone(),
            self.entitlements.clone(),
            self.grants.clone(),
        )
    }
}

/// A simulator listening on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SimServer {
    /// Serves `router` on an ephemeral loopback port.
    ///
    /// # Panics
    /// If no loopback port can be bound (the machine has no loopback).
    pub async fn spawn(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            shutdown: Some(tx),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A failure a simulator can produce instead of (or inside) a normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this 5xx status and a platform-shaped error body.
    ServerError(u16),
    /// Answer 429 with the platform's rate-limit headers and body.
    RateLimited,
    /// Send the headers and half the body, then abort the connection.
    ConnectionReset,
    /// Send a 200 whose JSON body is cut in half (complete HTTP message).
    TruncatedJson,
    /// Send a 200 whose body is not JSON at all.
    MalformedJson,
    /// Delay the answer by this long (to trip client timeouts).
    Slow(Duration),
    /// Answer 200 with a valid JSON body padded to at least this many bytes.
    Oversized(usize),
    /// Answer 401 as if the token had been revoked.
    Unauthorized,
    /// Answer 404 as if the resource had been deleted.
    NotFound,
    /// Return every row of the page twice.
    DuplicateRows,
    /// Before answering, insert a new record at the start of the listing
    /// (users: a new user sorting first) so later pages shift.
    ShiftPages,
}

/// When and where a [`Fault`] fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// Fires on requests whose path contains this text (`""` matches all).
    pub path_contains: String,
    /// Matching requests to let through before the first fault.
    pub skip: u32,
    /// How many matching requests get the fault (`u32::MAX` = forever).
    pub times: u32,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// `fault` on the first `times` requests whose path contains `path`.
    pub fn new(path: &str, fault: Fault, times: u32) -> Self {
        Self {
            path_contains: path.to_owned(),
            skip: 0,
            times,
            fault,
        }
    }
    /// Lets `n` matching requests through first.
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }
}

/// The fault injector of one simulator. Cloning shares the rules.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Active rules, each with its index into `fired`.
    rules: Vec<(usize, FaultRule)>,
    /// Firings per rule ever added, in the order added (cleared rules keep
    /// their count).
    fired: Vec<u64>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        let mut state = self.inner.lock().expect("faults lock");
        let index = state.fired.len();
        state.fired.push(0);
        state.rules.push((index, rule));
    }
    /// Removes every rule (their firing counts stay readable).
    pub fn clear(&self) {
        self.inner.lock().expect("faults lock").rules.clear();
    }
    /// How many requests got a fault, over every rule ever added.
    pub fn fired(&self) -> u64 {
        self.inner.lock().expect("faults lock").fired.iter().sum()
    }
    /// How many requests got a fault from each rule, in the order the rules
    /// were added (cleared rules included).
    pub fn fired_per_rule(&self) -> Vec<u64> {
        self.inner.lock().expect("faults lock").fired.clone()
    }
    /// The fault the request to `path` gets, if any (consumes one firing).
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut state = self.inner.lock().expect("faults lock");
        let FaultState { rules, fired } = &mut *state;
        for (index, rule) in rules.iter_mut() {
            if !path.contains(&rule.path_contains) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if rule.times > 0 {
                if rule.times != u32::MAX {
                    rule.times -= 1;
                }
                fired[*index] += 1;
                return Some(rule.fault.clone());
            }
        }
        None
    }
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// When the simulator received it, on tokio's clock (the clock its
    /// rate-limit windows keep).
    pub at: Instant,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without query.
    pub path: String,
    /// The query string (may be empty).
    pub query: String,
    /// The status answered.
    pub status: u16,
}

/// Every request a simulator answered. Cloning shares the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    entries: Arc<Mutex<Vec<LoggedRequest>>>,
}

impl RequestLog {
    /// Records one request.
    pub fn record(&self, entry: LoggedRequest) {
        self.entries.lock().expect("log lock").push(entry);
    }
    /// A copy of every entry so far.
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.entries.lock().expect("log lock").clone()
    }
    /// Number of requests so far.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("log lock").len()
    }
    /// True when nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Requests answered with `status`.
    pub fn count_status(&self, status: u16) -> usize {
        self.entries
            .lock()
            .expect("log lock")
            .iter()
            .filter(|e| e.status == status)
            .count()
    }
}

/// A JSON response with an explicit status.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).expect("serialize json");
    bytes_response(status, Bytes::from(bytes))
}

pub(crate) fn bytes_response(status: StatusCode, body: Bytes) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Applies a body-level fault to a successful JSON answer; other faults are
/// answered by the platform module because their shape is platform-specific.
/// Returns `None` for faults that are not body-level.
pub(crate) async fn body_fault(fault: &Fault, body: &serde_json::Value) -> Option<Response> {
    let bytes = serde_json::to_vec(body).expect("serialize json");
    match fault {
        Fault::TruncatedJson => {
            let cut = bytes.len() / 2;
            Some(bytes_response(
                StatusCode::OK,
                Bytes::copy_from_slice(&bytes[..cut]),
            ))
        }
        Fault::MalformedJson => Some(bytes_response(
            StatusCode::OK,
            Bytes::from_static(b"<html><body>502 Bad Gateway</body></html>"),
        )),
        Fault::ConnectionReset => {
            let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
            let stream = futures::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection reset",
                )),
            ]);
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Some(resp)
        }
        Fault::Oversized(min) => {
            // Valid JSON: the original object padded with a large string field
            // is not possible for arrays, so wrap padding in whitespace.
            let mut padded = bytes;
            if padded.len() < *min {
                padded.resize(*min, b' ');
            }
            Some(bytes_response(StatusCode::OK, Bytes::from(padded)))
        }
        Fault::Slow(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rules_skip_then_fire_then_stop() {
        let faults = Faults::default();
        faults.add(FaultRule::new("/members", Fault::NotFound, 2).after(1));
        assert_eq!(faults.take("/api/v4/users"), None);
        assert_eq!(faults.take("/teams/x/members"), None);
        assert_eq!(faults.take("/teams/x/members"), Some(Fault::NotFound));
        assert_eq!(faults.take("/teams/y/members"), Some(Fault::NotFound));
        assert_eq!(faults.take("/teams/y/members"), None);
        assert_eq!(faults.fired(), 2);
    }

    #[test]
    fn firings_are_counted_per_rule_and_survive_clear() {
        let faults = Faults::default();
        assert_eq!(faults.fired(), 0);
        faults.add(FaultRule::new("/members", Fault::NotFound, 1));
        faults.add(FaultRule::new("/users", Fault::RateLimited, u32::MAX).after(1));
        assert_eq!(faults.take("/users"), None);
        assert_eq!(faults.take("/users"), Some(Fault::RateLimited));
        assert_eq!(faults.take("/users"), Some(Fault::RateLimited));
        assert_eq!(faults.fired_per_rule(), vec![0, 2]);
        faults.clear();
        assert_eq!(faults.take("/members"), None);
        faults.add(FaultRule::new("/members", Fault::NotFound, 1));
        assert_eq!(faults.take("/members"), Some(Fault::NotFound));
        assert_eq!(faults.fired_per_rule(), vec![0, 2, 1]);
        assert_eq!(faults.fired(), 3);
    }
}

#[cfg(test)]
mod truth_tests {
    use roster_core::testkit::{assert_conforms, check};
    use roster_core::{Counts, Header, Snapshot, Summary, Timestamp};

    use super::GroundTruth;
    use crate::{mattermost, rocketchat};

    /// What a perfect connector writes for `truth`.
    fn perfect_snapshot(truth: &GroundTruth) -> Snapshot {
        let counts = Counts {
            resource: truth.resources.len() as u64,
            entitlement: truth.entitlements.len() as u64,
            grant: truth.grants.len() as u64,
        };
        Snapshot {
            header: Some(Header::new(truth.contract().connector, "http://127.0.0.1")),
            resources: truth.resources.clone(),
            entitlements: truth.entitlements.clone(),
            grants: truth.grants.clone(),
            summary: Some(Summary::new(true, Timestamp::now()).counts(counts)),
        }
    }

    #[test]
    fn both_ground_truths_keep_their_connectors_contracts() {
        let mm = mattermost::MattermostSim::new(mattermost::OrgSpec::small()).ground_truth();
        let rc = rocketchat::RocketChatSim::new(rocketchat::OrgSpec::small()).ground_truth();
        assert_eq!(mm.contract(), mattermost::CONTRACT);
        assert_eq!(rc.contract(), rocketchat::CONTRACT);
        for truth in [&mm, &rc] {
            assert!(!truth.grants.is_empty());
            assert_conforms(&perfect_snapshot(truth), &truth.expected());
        }
        // Another platform's snapshot does not pass for this one.
        let problems = check(&perfect_snapshot(&rc), &mm.expected()).join("\n");
        assert!(problems.contains("is not `mattermost`"), "{problems}");
        assert!(
            problems.contains("lacks profile key `system_roles`"),
            "{problems}"
        );
    }
}
