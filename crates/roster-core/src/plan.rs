//! Planning a sync. A connector declares what its sync will read, a
//! [`Workload`]: requests per endpoint, made one after another (a
//! listing's pages) or one listing per resource at the engine's
//! concurrency. A [`Planner`] applies everything else the same way for
//! every connector: paging and its re-reads ([`listing_requests`]), the
//! client quota in force, the server's limit as its headers reported it
//! ([`HttpClient::server_limit`]), request latency and the concurrency.
//! [`Plan::estimate`] is the one formula; [`Planner::advice`] and
//! [`Plan::advise`] compare it with what would be faster.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::engine::DEFAULT_CONCURRENCY;
use crate::http::{Endpoint, HttpClient};
use crate::paging::{Paging, PagingLimits};
use crate::ratelimit::{BucketScope, RateLimit, RateLimitMode};
use crate::validate::format_duration;

/// The fastest a fixed-window server lets `requests` calls through at
/// `limit` per `window`: `(ceil(requests / limit) − 1) × window` (the first
/// window's calls go at once, then one full window per further batch).
pub fn fixed_window_lower_bound(requests: u64, limit: u64, window: Duration) -> Duration {
    if requests == 0 || limit == 0 {
        return Duration::ZERO;
    }
    let windows = requests.div_ceil(limit) - 1;
    window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
}

/// `calls` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls per window.
    pub calls: u64,
    /// The window.
    pub window: Duration,
}

impl Rate {
    /// `calls` per `window`.
    pub fn new(calls: u64, window: Duration) -> Self {
        Self { calls, window }
    }

    fn per_second(self) -> f64 {
        self.calls as f64 / self.window.as_secs_f64().max(1e-9)
    }

    /// The slower of two rates; either may be absent (no limit).
    fn slower(a: Option<Rate>, b: Option<Rate>) -> Option<Rate> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.per_second() < a.per_second() {
                b
            } else {
                a
            }),
            (a, b) => a.or(b),
        }
    }
}

impl From<RateLimit> for Rate {
    fn from(q: RateLimit) -> Self {
        Self::new(u64::from(q.calls()), q.period())
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls per {}",
            self.calls,
            format_duration(self.window)
        )
    }
}

/// The requests one listing of `rows` rows costs when read as `paging`
/// under `limits`, the paginator's re-reads included:
///
/// * page numbers stop on the first short or empty page (a listing of an
///   exact multiple of the page size ends on an empty page), and without a
///   declared server cap a short page costs one probe;
/// * offset/count stops on the declared total (`count == 0`: one request);
/// * a multi-page listing read with
///   [`confirm_multi_page`](PagingLimits::confirm_multi_page) is read twice.
///
/// Cursor listings have no page size to plan with: one request.
pub fn listing_requests(paging: Paging, limits: &PagingLimits, rows: u64) -> u64 {
    let pages = match paging {
        Paging::PageNumber {
            per_page,
            server_cap,
        } => {
            let per = u64::from(server_cap.map_or(per_page, |c| per_page.min(c)).max(1));
            let probe = server_cap.is_none() && !rows.is_multiple_of(per);
            (rows / per).saturating_add(1 + u64::from(probe))
        }
        Paging::Offset { count: 0 } | Paging::Cursor => 1,
        Paging::Offset { count } => rows.div_ceil(u64::from(count)).max(1),
    };
    if limits.confirm_multi_page && pages > 1 {
        pages.saturating_mul(2)
    } else {
        pages
    }
}

/// The requests of `listings` listings (one per resource) whose sizes are
/// sampled by `sample`: the sample's mean cost times `listings`. Without a
/// sample, each listing is assumed to fit one page.
pub fn sampled_listing_requests(
    paging: Paging,
    limits: &PagingLimits,
    listings: u64,
    sample: &[u64],
) -> u64 {
    if sample.is_empty() {
        return listings.saturating_mul(listing_requests(paging, limits, 0));
    }
    let sampled: u128 = sample
        .iter()
        .map(|&rows| u128::from(listing_requests(paging, limits, rows)))
        .sum();
    let n = u128::from(listings).saturating_mul(sampled);
    u64::try_from(n.div_ceil(sample.len() as u128)).unwrap_or(u64::MAX)
}

/// What a sync will read, as its connector declares it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    totals: Vec<(String, u64)>,
    reads: Vec<Read>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Read {
    endpoint: Endpoint,
    requests: u64,
    concurrent: bool,
}

impl Workload {
    /// Nothing to read yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A count the plan is made of (`users`, `teams`), for display.
    #[must_use]
    pub fn total(mut self, name: impl Into<String>, count: u64) -> Self {
        self.totals.push((name.into(), count));
        self
    }

    /// `requests` in `endpoint`'s bucket, made one after another (the
    /// pages of one listing).
    #[must_use]
    pub fn sequential(self, endpoint: Endpoint, requests: u64) -> Self {
        self.read(endpoint, requests, false)
    }

    /// `requests` in `endpoint`'s bucket, spread over the engine's
    /// concurrency (one listing per resource, e.g. every team's members).
    #[must_use]
    pub fn concurrent(self, endpoint: Endpoint, requests: u64) -> Self {
        self.read(endpoint, requests, true)
    }

    fn read(mut self, endpoint: Endpoint, requests: u64, concurrent: bool) -> Self {
        if requests > 0 {
            self.reads.push(Read {
                endpoint,
                requests,
                concurrent,
            });
        }
        self
    }

    /// The requests declared for `endpoint`.
    pub fn requests_of(&self, endpoint: Endpoint) -> u64 {
        self.reads
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .fold(0u64, |sum, r| sum.saturating_add(r.requests))
    }
}

/// The limits a sync runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pace {
    /// The server's limit on this client (`None`: it does not limit it,
    /// or it is not known to).
    pub server: Option<Rate>,
    /// Where the server applies its limit.
    pub scope: BucketScope,
    /// The client's quota per endpoint bucket.
    pub client: Option<Rate>,
}

impl Pace {
    /// No limit on either side.
    pub fn unlimited(scope: BucketScope) -> Self {
        Self {
            server: None,
            scope,
            client: None,
        }
    }

    /// With `server` as the server's limit.
    #[must_use]
    pub fn server(mut self, server: Option<Rate>) -> Self {
        self.server = server;
        self
    }

    /// With `client` as the client quota.
    #[must_use]
    pub fn client(mut self, client: Option<Rate>) -> Self {
        self.client = client;
        self
    }

    /// The limit each bucket's own calls count against.
    fn per_bucket(&self) -> Option<Rate> {
        match self.scope {
            BucketScope::PerEndpoint => Rate::slower(self.server, self.client),
            BucketScope::Global => self.client.or(self.server),
        }
    }

    /// The limit all buckets' calls count against together.
    fn shared(&self) -> Option<Rate> {
        match self.scope {
            BucketScope::PerEndpoint => None,
            BucketScope::Global => self.server,
        }
    }

    /// Whether the server's limit, not the client quota, sets the pace.
    fn server_paces(&self) -> bool {
        match (self.server, self.client) {
            (Some(s), Some(c)) => s.per_second() <= c.per_second(),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// Validation's mean request latency: time spent over requests sent,
/// rate-limit waits left out.
#[derive(Debug, Clone, Copy)]
pub struct LatencyProbe {
    started: Instant,
    requests: u64,
    waited: Duration,
}

impl LatencyProbe {
    /// Starts measuring `client`'s requests.
    pub fn start(client: &HttpClient) -> Self {
        let stats = client.stats();
        Self {
            started: Instant::now(),
            requests: stats.requests,
            waited: stats.rate_limit_wait(),
        }
    }

    /// The mean latency of the requests `client` sent since the start.
    pub fn mean(&self, client: &HttpClient) -> Duration {
        let stats = client.stats();
        let requests = stats.requests.saturating_sub(self.requests).max(1);
        let waited = stats.rate_limit_wait().saturating_sub(self.waited);
        self.started.elapsed().saturating_sub(waited) / u32::try_from(requests).unwrap_or(u32::MAX)
    }
}

/// Makes the [`Plan`] of a [`Workload`] for one client.
#[derive(Debug, Clone)]
pub struct Planner {
    pace: Pace,
    mode: RateLimitMode,
    heard: Option<bool>,
    reported_calls: Option<u64>,
    bypass: bool,
    latency: Duration,
    concurrency: usize,
}

impl Planner {
    /// What `client` knows after validation's requests to `probed`: its
    /// rate-limit mode, the server's limit (the smallest limit and the
    /// longest window any of them reported, the window in whole seconds),
    /// whether the token bypasses it, and so the client quota in force.
    pub fn new(client: &HttpClient, probed: &[Endpoint]) -> Self {
        let seen: Vec<_> = probed
            .iter()
            .filter_map(|e| client.server_limit(e))
            .collect();
        let heard = if seen.iter().any(|s| s.limited) {
            Some(true)
        } else if seen.is_empty() {
            None
        } else {
            Some(false)
        };
        let limited: Vec<_> = seen.iter().filter(|s| s.limited).collect();
        let reported_calls = limited.iter().filter_map(|s| s.calls).min();
        let window = limited
            .iter()
            .filter_map(|s| s.window)
            .max()
            .map(|w| Duration::from_secs(w.as_millis().div_ceil(1000).max(1) as u64));
        let server = reported_calls.zip(window).map(|(c, w)| Rate::new(c, w));
        let mut planner = Self {
            pace: Pace::unlimited(client.dialect().scope).server(server),
            mode: client.config().rate_limit_mode(),
            heard,
            reported_calls,
            bypass: client.bypasses_rate_limit(),
            latency: Duration::ZERO,
            concurrency: DEFAULT_CONCURRENCY,
        };
        planner.pace.client = planner.client_quota();
        planner
    }

    /// A planner for known limits, without a client (what-if plans and
    /// tests): the mode is a fixed quota of `pace.client`, or off; the
    /// server counts as heard when `pace.server` is set.
    pub fn for_pace(pace: Pace) -> Self {
        Self {
            pace,
            mode: RateLimitMode::from_quota(pace.client.map(|r| {
                RateLimit::per_endpoint(u32::try_from(r.calls).unwrap_or(u32::MAX), r.window)
            })),
            heard: Some(pace.server.is_some()),
            reported_calls: pace.server.map(|r| r.calls),
            bypass: false,
            latency: Duration::ZERO,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// The client quota the mode puts in force, given what is known.
    fn client_quota(&self) -> Option<Rate> {
        match self.mode {
            RateLimitMode::Fixed(q) => Some(q.into()),
            RateLimitMode::Auto { safe } if self.heard != Some(true) && !self.bypass => {
                Some(safe.into())
            }
            _ => None,
        }
    }

    /// Requests take `latency` each.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The engine runs `concurrency` per-resource listings at once.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The server limits the client at `rate` although no header said so
    /// (a platform's stock limit, when the token is believed limited).
    /// Headers win: it applies only when they reported no limit.
    #[must_use]
    pub fn assume_server(mut self, rate: Rate) -> Self {
        if self.pace.server.is_none() {
            self.pace.server = Some(rate);
        }
        self
    }

    /// The server's reported limit is `calls` per `window`, for platforms
    /// whose headers report no window (Mattermost reports its burst, and the
    /// estimate assumes that many per second).
    #[must_use]
    pub fn assume_server_window(mut self, window: Duration) -> Self {
        if self.pace.server.is_none()
            && self.heard == Some(true)
            && let Some(calls) = self.reported_calls
        {
            self.pace.server = Some(Rate::new(calls, window));
        }
        self
    }

    /// The limits the plan runs under.
    pub fn pace(&self) -> Pace {
        self.pace
    }

    /// Whether the server sent rate-limit headers: `Some(true)` limited,
    /// `Some(false)` answers without them, `None` nothing heard.
    pub fn server_heard(&self) -> Option<bool> {
        self.heard
    }

    /// Whether the server limits this token: what the headers said, or,
    /// when nothing was heard, whether the token lacks the bypass.
    pub fn server_limits(&self) -> bool {
        self.heard.unwrap_or(!self.bypass)
    }

    /// The plan of `workload` under the known limits.
    pub fn plan(&self, workload: &Workload) -> Plan {
        self.plan_with(workload, self.pace)
    }

    /// The plan of `workload` under `pace` (to compare alternatives).
    pub fn plan_with(&self, workload: &Workload, pace: Pace) -> Plan {
        let per_bucket = pace.per_bucket();
        let mut plan = Plan {
            totals: workload.totals.clone(),
            buckets: workload
                .reads
                .iter()
                .map(|r| BucketPlan::new(r.endpoint.bucket(), r.requests, per_bucket, r.concurrent))
                .collect(),
            shared_limit: pace.shared().map(|r| SharedLimit {
                calls: r.calls,
                window_ms: r.window.as_millis() as u64,
            }),
            latency_us: self.latency.as_micros() as u64,
            concurrency: self.concurrency as u64,
            estimated_ms: 0,
            advice: Vec::new(),
        };
        plan.estimated_ms = plan.estimate(self.concurrency).as_millis() as u64;
        plan
    }

    /// Advice on the pacing of `workload`: a client quota pacing a server
    /// that does not limit, a client quota slower than the server, or the
    /// server's own limit setting the pace (`raise` says who can raise it,
    /// and where). Only advice that saves a tenth and a second is given.
    pub fn advice(&self, workload: &Workload, raise: &str) -> Vec<Advice> {
        let mut plan = self.plan(workload);
        let pace = self.pace;
        let faster = |p: Pace| self.plan_with(workload, p).estimated();
        if !self.server_limits()
            && let Some(quota) = pace.client
        {
            let choices = match self.mode {
                RateLimitMode::Auto { .. } => vec![RateLimitChoice::Off],
                _ => vec![RateLimitChoice::Auto, RateLimitChoice::Off],
            };
            plan.advise(faster(pace.client(None)), |about_ms| Advice::RateLimit {
                why: format!(
                    "the server does not limit this token, but the client quota ({quota}) still paces every endpoint"
                ),
                choices,
                about_ms,
            });
        }
        match (pace.server, pace.client) {
            (Some(server), _) if pace.server_paces() && self.server_limits() => {
                let raised = Rate::new(server.calls.saturating_mul(3), server.window);
                let fixed = matches!(self.mode, RateLimitMode::Fixed(_));
                // A fixed quota would be raised to match; auto and off
                // follow the server's headers.
                let alt = pace.server(Some(raised)).client(fixed.then_some(raised));
                plan.advise(faster(alt), |about_ms| Advice::RaiseServerLimit {
                    how: raise.to_owned(),
                    calls: raised.calls,
                    window_ms: raised.window.as_millis() as u64,
                    fixed_quota: fixed,
                    about_ms,
                });
            }
            (Some(server), Some(quota)) => {
                plan.advise(faster(pace.client(None)), |about_ms| Advice::RateLimit {
                    why: format!(
                        "the client quota ({quota}) is slower than the server's limit ({server}); automatic pacing follows the server's own numbers"
                    ),
                    choices: vec![RateLimitChoice::Auto],
                    about_ms,
                });
            }
            _ => {}
        }
        plan.advice
    }

    /// The pacing the sync will run with, and why, in one phrase.
    pub fn pacing(&self) -> String {
        match self.mode {
            RateLimitMode::Fixed(q) => {
                format!("fixed: a client quota of {} per endpoint", Rate::from(q))
            }
            RateLimitMode::Auto { .. } if self.heard == Some(true) => {
                "auto: paced by the server's X-RateLimit-* headers (its own numbers), no client quota"
                    .to_owned()
            }
            RateLimitMode::Auto { .. } if self.bypass => {
                "auto: no client quota, because the token bypasses the server's limit and gets no rate-limit headers (headers or a 429 later switch to the server's pace at once)"
                    .to_owned()
            }
            RateLimitMode::Auto { safe } => format!(
                "auto: the platform's stock {} per endpoint, because the server's limit is not known (no headers, no bypass)",
                Rate::from(safe)
            ),
            _ => "off: no client quota".to_owned(),
        }
    }
}

/// Requests one endpoint bucket will need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BucketPlan {
    /// The bucket (`GET /api/v1/teams.members`).
    pub bucket: String,
    /// Requests the sync will make in it.
    pub requests: u64,
    /// Calls allowed per window, when limited.
    pub limit: Option<u64>,
    /// The window length in milliseconds, when limited.
    pub window_ms: Option<u64>,
    /// The least time the limit allows for these requests, in milliseconds.
    pub min_duration_ms: u64,
    /// The requests are spread over the engine's concurrency (one listing
    /// per resource) rather than made one after another.
    #[serde(default)]
    pub concurrent: bool,
}

impl BucketPlan {
    /// Plans `requests` calls under `limit` (or unlimited).
    pub fn new(
        bucket: impl Into<String>,
        requests: u64,
        limit: Option<Rate>,
        concurrent: bool,
    ) -> Self {
        let min = limit.map_or(Duration::ZERO, |r| {
            fixed_window_lower_bound(requests, r.calls, r.window)
        });
        Self {
            bucket: bucket.into(),
            requests,
            limit: limit.map(|r| r.calls),
            window_ms: limit.map(|r| r.window.as_millis() as u64),
            min_duration_ms: min.as_millis() as u64,
            concurrent,
        }
    }
}

/// A server limit every bucket's calls count against together (Mattermost
/// limits a client, not an endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedLimit {
    /// Calls per window.
    pub calls: u64,
    /// The window in milliseconds.
    pub window_ms: u64,
}

/// A client pacing a piece of advice points to
/// ([`RateLimitMode`] in library terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RateLimitChoice {
    /// Follow the server's own numbers (`RateLimitMode::Auto`).
    Auto,
    /// No client quota (`RateLimitMode::Off`).
    Off,
    /// A fixed client quota of `calls` per `window_ms` per endpoint
    /// (`RateLimitMode::Fixed`).
    Fixed {
        /// Calls per window.
        calls: u64,
        /// The window in milliseconds.
        window_ms: u64,
    },
}

impl fmt::Display for RateLimitChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimitChoice::Auto => f.write_str("RateLimitMode::Auto"),
            RateLimitChoice::Off => f.write_str("RateLimitMode::Off"),
            RateLimitChoice::Fixed { calls, window_ms } => write!(
                f,
                "RateLimitMode::Fixed({calls} calls per {})",
                format_duration(Duration::from_millis(*window_ms))
            ),
        }
    }
}

/// A setting a piece of advice names. [`Advice::render_with`] lets a
/// front end name it its own way (a command-line flag, a config key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// The client's rate-limit pacing.
    RateLimit(RateLimitChoice),
    /// A fixed client quota of the server's real rate per `window_ms`,
    /// which the server does not report: `rate` names the server setting
    /// that holds it (`PerSec`).
    FixedRateOf {
        /// The server setting holding the calls per window.
        rate: String,
        /// The window in milliseconds.
        window_ms: u64,
    },
    /// Reading whole listings in one request (`count=0`), where the
    /// platform allows it.
    InfiniteCount,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::RateLimit(choice) => choice.fmt(f),
            Setting::FixedRateOf { rate, window_ms } => write!(
                f,
                "RateLimitMode::Fixed({rate} calls per {})",
                format_duration(Duration::from_millis(*window_ms))
            ),
            Setting::InfiniteCount => f.write_str("RocketChatConfig::infinite_count"),
        }
    }
}

/// What would make a sync faster. Settings are data, so each front end
/// names them in its own terms; `Display` uses library terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Advice {
    /// Switch the client's pacing to one of `choices`: `why`, then the
    /// choices, then the estimate with it.
    RateLimit {
        /// Why the current pacing is slow.
        why: String,
        /// The pacings that would be faster.
        choices: Vec<RateLimitChoice>,
        /// The estimated duration with it, in milliseconds.
        about_ms: u64,
    },
    /// Read whole listings in one request each (`count=0`).
    InfiniteCount {
        /// What it would save, and what the server must allow.
        why: String,
        /// The estimated duration with it, in milliseconds.
        about_ms: u64,
    },
    /// An administrator can raise the server's limit.
    RaiseServerLimit {
        /// Who can raise it, and where (`a workspace admin can raise the
        /// limit in …`).
        how: String,
        /// The raised calls per window.
        calls: u64,
        /// The window in milliseconds.
        window_ms: u64,
        /// The client's fixed quota would have to be raised to match.
        fixed_quota: bool,
        /// The estimated duration with it, in milliseconds.
        about_ms: u64,
    },
    /// The server does not report its real rate: a fixed quota of it
    /// plans and paces with it.
    FixedRateOf {
        /// What the server reports instead, and what the estimate assumes.
        why: String,
        /// The server setting holding the real rate (`PerSec`).
        rate: String,
        /// The window of that rate in milliseconds.
        window_ms: u64,
    },
    /// Advice that names no setting.
    Text(String),
}

impl Advice {
    /// The advice as one sentence, naming settings with `name`.
    pub fn render_with(&self, name: impl Fn(Setting) -> String) -> String {
        let about = |ms: &u64| format_duration(Duration::from_millis(*ms));
        match self {
            Advice::RateLimit {
                why,
                choices,
                about_ms,
            } => {
                let named: Vec<String> = choices
                    .iter()
                    .map(|c| name(Setting::RateLimit(*c)))
                    .collect();
                format!(
                    "{why}; {} would be faster (about {})",
                    named.join(" or "),
                    about(about_ms)
                )
            }
            Advice::InfiniteCount { why, about_ms } => format!(
                "{} (count=0) {why} (about {})",
                name(Setting::InfiniteCount),
                about(about_ms)
            ),
            Advice::RaiseServerLimit {
                how,
                calls,
                window_ms,
                fixed_quota,
                about_ms,
            } => {
                let matching = if *fixed_quota {
                    format!(
                        " (and {} to match, or {})",
                        name(Setting::RateLimit(RateLimitChoice::Fixed {
                            calls: *calls,
                            window_ms: *window_ms,
                        })),
                        name(Setting::RateLimit(RateLimitChoice::Auto))
                    )
                } else {
                    String::new()
                };
                format!(
                    "{how}; at {calls} calls per {}{matching} the sync would be faster (about {})",
                    format_duration(Duration::from_millis(*window_ms)),
                    about(about_ms)
                )
            }
            Advice::FixedRateOf {
                why,
                rate,
                window_ms,
            } => format!(
                "{why}; use {} to plan and pace with the real rate",
                name(Setting::FixedRateOf {
                    rate: rate.clone(),
                    window_ms: *window_ms,
                })
            ),
            Advice::Text(text) => text.clone(),
        }
    }
}

impl fmt::Display for Advice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_with(|s| s.to_string()))
    }
}

/// The sync a validation foresees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// Object counts read cheaply (`users`, `teams`, `roles`).
    pub totals: Vec<(String, u64)>,
    /// Requests per bucket.
    pub buckets: Vec<BucketPlan>,
    /// A server limit all buckets share, when the platform limits a client
    /// rather than an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_limit: Option<SharedLimit>,
    /// Mean request latency measured by validation, in microseconds.
    #[serde(default)]
    pub latency_us: u64,
    /// The concurrency the estimate assumes.
    #[serde(default)]
    pub concurrency: u64,
    /// Estimated duration in milliseconds ([`Plan::estimate`] at
    /// `concurrency`).
    pub estimated_ms: u64,
    /// What would make the sync faster (estimated at `concurrency`).
    pub advice: Vec<Advice>,
}

/// Builder-style setters: `Plan::default()` and change what differs.
impl Plan {
    /// Sets the `totals` field.
    #[must_use]
    pub fn totals(mut self, totals: Vec<(String, u64)>) -> Self {
        self.totals = totals;
        self
    }

    /// Sets the `buckets` field.
    #[must_use]
    pub fn buckets(mut self, buckets: Vec<BucketPlan>) -> Self {
        self.buckets = buckets;
        self
    }

    /// Sets the `estimated_ms` field.
    #[must_use]
    pub fn estimated_ms(mut self, estimated_ms: u64) -> Self {
        self.estimated_ms = estimated_ms;
        self
    }

    /// Sets the `advice` field.
    #[must_use]
    pub fn advice(mut self, advice: Vec<Advice>) -> Self {
        self.advice = advice;
        self
    }
}

impl Plan {
    /// Total requests.
    pub fn requests(&self) -> u64 {
        self.buckets
            .iter()
            .fold(0u64, |sum, b| sum.saturating_add(b.requests))
    }

    /// The estimate as a duration.
    pub fn estimated(&self) -> Duration {
        Duration::from_millis(self.estimated_ms)
    }

    /// The one formula: the slowest bucket, buckets running side by side.
    /// A bucket takes the least time its limit allows, plus the latency of
    /// the calls after its last wait (all of them when unlimited), divided
    /// over `concurrency` when its requests are spread; a shared server
    /// limit bounds all requests together.
    pub fn estimate(&self, concurrency: usize) -> Duration {
        let concurrency = concurrency.max(1) as u64;
        let mut us = 0u64;
        for b in &self.buckets {
            let n = b.requests;
            let tail = match b.limit {
                Some(l) if l > 0 => n - n.saturating_sub(1) / l * l,
                _ => n,
            };
            let parallel = if b.concurrent { concurrency } else { 1 };
            let bucket = b
                .min_duration_ms
                .saturating_mul(1000)
                .saturating_add(self.latency_us.saturating_mul(tail.div_ceil(parallel)));
            us = us.max(bucket);
        }
        if let Some(shared) = self.shared_limit {
            let all = fixed_window_lower_bound(
                self.requests(),
                shared.calls,
                Duration::from_millis(shared.window_ms),
            );
            us = us.max(all.as_micros() as u64);
        }
        Duration::from_micros(us)
    }

    /// The plan for a sync run at `concurrency` (the engine's real one):
    /// the estimate is made again; advice keeps its estimates.
    #[must_use]
    pub fn at_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1) as u64;
        self.estimated_ms = self.estimate(concurrency).as_millis() as u64;
        self
    }

    /// Adds the advice `make(about_ms)` when its estimate `faster` saves at
    /// least a tenth of the estimate and a second.
    pub fn advise(&mut self, faster: Duration, make: impl FnOnce(u64) -> Advice) {
        let now = self.estimated();
        if faster.saturating_add(now / 10) < now && now - faster >= Duration::from_secs(1) {
            self.advice.push(make(faster.as_millis() as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MM: Paging = Paging::PageNumber {
        per_page: 200,
        server_cap: Some(200),
    };

    #[test]
    fn listings_cost_their_pages_and_re_reads() {
        let plain = PagingLimits::default();
        let confirming = PagingLimits::confirming();
        // 470 rows: pages of 200, 200, 70; confirmed by a second read.
        assert_eq!(listing_requests(MM, &plain, 470), 3);
        assert_eq!(listing_requests(MM, &confirming, 470), 6);
        // An exact multiple ends on an empty page; one page is never re-read.
        assert_eq!(listing_requests(MM, &plain, 400), 3);
        assert_eq!(listing_requests(MM, &confirming, 150), 1);
        assert_eq!(listing_requests(MM, &plain, 0), 1);
        // Without a declared cap a short page costs one probe.
        let uncapped = Paging::PageNumber {
            per_page: 200,
            server_cap: None,
        };
        assert_eq!(listing_requests(uncapped, &plain, 150), 2);
        assert_eq!(listing_requests(uncapped, &plain, 200), 2);
        // A page size above the cap pages at the cap.
        let asks_more = Paging::PageNumber {
            per_page: 500,
            server_cap: Some(200),
        };
        assert_eq!(listing_requests(asks_more, &plain, 470), 3);
        // Offsets stop on the total.
        let offset = Paging::Offset { count: 100 };
        assert_eq!(listing_requests(offset, &plain, 2004), 21);
        assert_eq!(listing_requests(offset, &plain, 0), 1);
        assert_eq!(
            listing_requests(Paging::Offset { count: 0 }, &plain, 9999),
            1
        );
        // A sample's mean cost, rounded up.
        let sample = [30, 470];
        assert_eq!(sampled_listing_requests(MM, &confirming, 10, &sample), 35);
        assert_eq!(sampled_listing_requests(MM, &confirming, 10, &[]), 10);
    }

    #[test]
    fn lower_bound_arithmetic() {
        let w = Duration::from_secs(60);
        assert_eq!(fixed_window_lower_bound(0, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(10, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(11, 10, w), w);
        assert_eq!(fixed_window_lower_bound(5000, 10, w), w * 499);
    }

    #[test]
    fn bucket_plan_uses_fixed_window_arithmetic() {
        let b = BucketPlan::new(
            "GET /teams.members",
            5000,
            Some(Rate::new(10, Duration::from_secs(60))),
            true,
        );
        assert_eq!(b.min_duration_ms, 499 * 60_000);
        assert_eq!(
            format_duration(Duration::from_millis(b.min_duration_ms)),
            "8 h 19 min"
        );
    }

    #[test]
    fn the_slower_limit_paces_a_bucket() {
        let minute = |n| Rate::new(n, Duration::from_secs(60));
        let pace = Pace::unlimited(BucketScope::PerEndpoint)
            .server(Some(minute(10)))
            .client(Some(minute(100)));
        assert_eq!(pace.per_bucket(), Some(minute(10)));
        assert!(pace.server_paces());
        // 10 per second is faster than 100 per minute.
        let pace = pace.server(Some(Rate::new(10, Duration::from_secs(1))));
        assert_eq!(pace.per_bucket(), Some(minute(100)));
        assert!(!pace.server_paces());
        // A client-wide server limit is shared, not per bucket.
        let global = Pace::unlimited(BucketScope::Global).server(Some(minute(10)));
        assert_eq!(global.shared(), Some(minute(10)));
        assert_eq!(Pace::unlimited(BucketScope::PerEndpoint).shared(), None);
    }

    #[test]
    fn one_formula_spreads_concurrent_reads_and_shares_a_client_limit() {
        let work = Workload::new()
            .sequential(Endpoint::get("/users"), 10)
            .concurrent(Endpoint::get("/teams/{id}/members"), 160)
            .sequential(Endpoint::get("/nothing"), 0);
        assert_eq!(work.requests_of(Endpoint::get("/nothing")), 0);
        let planner = Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint))
            .latency(Duration::from_millis(10));
        let plan = planner.clone().concurrency(16).plan(&work);
        assert_eq!(plan.buckets.len(), 2);
        // 160 member listings 16 at a time: 10 rounds of 10 ms, like the
        // 10 user pages one after another.
        assert_eq!(plan.estimated(), Duration::from_millis(100));
        assert_eq!(
            plan.clone().at_concurrency(4).estimated(),
            Duration::from_millis(400)
        );
        // A limit of 10 per second on the whole client: 170 requests take
        // 16 more windows, whatever the bucket.
        let shared = Planner::for_pace(
            Pace::unlimited(BucketScope::Global)
                .server(Some(Rate::new(10, Duration::from_secs(1)))),
        )
        .plan(&work);
        assert_eq!(shared.estimated(), Duration::from_secs(16));
    }

    #[test]
    fn hostile_totals_and_limits_saturate_instead_of_panicking() {
        let huge = u64::MAX;
        let per_one = Paging::PageNumber {
            per_page: 1,
            server_cap: None,
        };
        assert_eq!(
            listing_requests(per_one, &PagingLimits::confirming(), huge),
            u64::MAX
        );
        let members = sampled_listing_requests(MM, &PagingLimits::confirming(), huge, &[huge; 4]);
        assert_eq!(members, u64::MAX);
        let work = Workload::new()
            .sequential(Endpoint::get("/users"), huge)
            .concurrent(Endpoint::get("/members"), members)
            .sequential(Endpoint::get("/users"), huge);
        assert_eq!(work.requests_of(Endpoint::get("/users")), u64::MAX);
        let server = Rate::new(huge, Duration::from_secs(1));
        let planner = Planner::for_pace(
            Pace::unlimited(BucketScope::Global).server(Some(Rate::new(1, Duration::MAX))),
        )
        .latency(Duration::from_secs(3600));
        let plan = planner.plan(&work);
        assert_eq!(plan.requests(), u64::MAX);
        let _ = plan.clone().at_concurrency(1).estimated();
        let _ = planner.advice(&work, "raise");
        let limited =
            Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint).server(Some(server)));
        let _ = limited.advice(&work, "raise");
        let mut long = Plan::default().estimated_ms(u64::MAX);
        long.advise(Duration::MAX, |_| Advice::Text("never".to_owned()));
        assert!(long.advice.is_empty());
    }

    #[test]
    fn advice_must_save_a_tenth_and_a_second() {
        let mut plan = Plan::default().estimated_ms(20_000);
        let text = |_| Advice::Text("faster".to_owned());
        plan.advise(Duration::from_millis(18_500), text);
        assert!(plan.advice.is_empty(), "7.5 % is not worth it");
        plan.advise(Duration::from_secs(10), text);
        assert_eq!(plan.advice.len(), 1);
        let mut short = Plan::default().estimated_ms(1_500);
        short.advise(Duration::from_millis(600), text);
        assert!(short.advice.is_empty(), "less than a second");
    }

    #[test]
    fn pacing_advice_follows_what_paces() {
        let work = Workload::new().concurrent(Endpoint::get("/members"), 500);
        let minute = |n| Rate::new(n, Duration::from_secs(60));
        // The server limits and paces: raise it.
        let server =
            Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint).server(Some(minute(10))));
        let advice = server.advice(&work, "an admin can raise it");
        assert!(
            matches!(
                &advice[..],
                [Advice::RaiseServerLimit {
                    calls: 30,
                    fixed_quota: false,
                    ..
                }]
            ),
            "{advice:?}"
        );
        // A client quota slower than the server: follow the server.
        let slow_client = Planner::for_pace(
            Pace::unlimited(BucketScope::PerEndpoint)
                .server(Some(minute(100)))
                .client(Some(minute(10))),
        );
        let advice = slow_client.advice(&work, "-");
        assert!(
            matches!(&advice[..], [Advice::RateLimit { choices, .. }] if choices == &[RateLimitChoice::Auto]),
            "{advice:?}"
        );
        // No server limit, but a client quota: drop it.
        let quota_only =
            Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint).client(Some(minute(10))));
        let advice = quota_only.advice(&work, "-");
        assert!(
            matches!(&advice[..], [Advice::RateLimit { choices, .. }] if choices.contains(&RateLimitChoice::Off)),
            "{advice:?}"
        );
        assert!(
            Planner::for_pace(Pace::unlimited(BucketScope::PerEndpoint))
                .advice(&work, "-")
                .is_empty()
        );
    }
}
