//! The HTTP layer: one `reqwest` client per sync, base-URL joining that keeps
//! subpaths, credentials in sensitive headers, no redirects, timeouts, a body
//! size cap, error classification, and every call paced (limiter + header
//! gate) and retried (backon).

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use backon::Retryable;
use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Error, Result};
use crate::progress::{NoProgress, Progress, ProgressEvent};
use crate::ratelimit::{
    DEFAULT_RESET_MARGIN, GovernorLimiter, HeaderGate, Limiter, Pacer, RateLimit, RateLimitDialect,
    RateLimitMode, SharedLimiter, Unlimited,
};
use crate::retry::RetryPolicy;
use crate::stats::{Stats, StatsSnapshot};

/// Default cap on a response body: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST (used only for read-only lookups such as Mattermost's status ids).
    Post,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One endpoint of a platform API: method and path template relative to the
/// base URL, e.g. `Endpoint::get("/api/v4/teams/{team_id}/members")`. The
/// template (not the filled-in path) is the rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The method.
    pub method: Method,
    /// The path template; `{name}` segments are filled by [`Call::param`].
    pub path: &'static str,
}

impl Endpoint {
    /// A GET endpoint.
    pub const fn get(path: &'static str) -> Self {
        Self {
            method: Method::Get,
            path,
        }
    }
    /// A POST endpoint.
    pub const fn post(path: &'static str) -> Self {
        Self {
            method: Method::Post,
            path,
        }
    }
    /// The rate-limit bucket: `"GET /api/v1/users.list"`.
    pub fn bucket(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
    /// Starts a call to this endpoint.
    pub fn call(&self) -> Call {
        Call {
            endpoint: *self,
            path: self.path.to_owned(),
            query: Vec::new(),
            body: None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// A call being built: path parameters, query and body.
#[derive(Debug, Clone)]
pub struct Call {
    endpoint: Endpoint,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Call {
    /// Fills the `{name}` segment with `value` (percent-encoded).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        let encoded = encode_path_segment(value);
        self.path = self.path.replace(&format!("{{{name}}}"), &encoded);
        self
    }
    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }
    /// Sets a JSON body. Fails with [`Error::Encode`] when `body` cannot be
    /// serialised (e.g. a map with non-string keys): nothing is sent then,
    /// rather than an empty body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Encode {
            endpoint: self.label(),
            message: e.to_string(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
    /// `METHOD /path` without query: how errors and logs name the call.
    pub fn label(&self) -> String {
        format!("{} {}", self.endpoint.method.as_str(), self.path)
    }
    /// The endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
}

/// Credentials, sent only in headers marked sensitive and never printed.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>` (Mattermost).
    Bearer(SecretString),
    /// Custom headers (Rocket.Chat `X-Auth-Token` and `X-User-Id`), by
    /// lowercase header name. A name that is not a valid header name makes
    /// every request fail with a configuration error.
    Headers(Vec<(&'static str, SecretString)>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer([REDACTED])"),
            Auth::Headers(h) => {
                let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
                write!(f, "Auth::Headers({names:?} = [REDACTED])")
            }
        }
    }
}

impl Auth {
    fn apply(&self, headers: &mut HeaderMap) -> Result<()> {
        let sensitive = |s: &str| -> Result<HeaderValue> {
            let mut v = HeaderValue::from_str(s).map_err(|_| {
                Error::Config("the token contains characters not allowed in an HTTP header".into())
            })?;
            v.set_sensitive(true);
            Ok(v)
        };
        match self {
            Auth::None => {}
            Auth::Bearer(token) => {
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    sensitive(&format!("Bearer {}", token.expose_secret()))?,
                );
            }
            Auth::Headers(pairs) => {
                for (name, value) in pairs {
                    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        Error::Config(format!("`{name}` is not a valid HTTP header name"))
                    })?;
                    headers.insert(name, sensitive(value.expose_secret())?);
                }
            }
        }
        Ok(())
    }

    /// Replaces every credential in `text` by `[REDACTED]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets() {
            if s.len() >= 4 {
                out = out.replace(s, "[REDACTED]");
            }
        }
        out
    }

    /// Redacts `text`, then keeps its first `max_chars` characters (adding
    /// `…` when it was longer). Redacting first means a credential
    /// straddling the cut is still found whole; a credential's beginning
    /// (4 characters or more) left at the very end of the cut is masked too.
    pub fn redact_cut(&self, text: &str, max_chars: usize) -> String {
        let full = self.redact(text);
        if full.chars().count() <= max_chars {
            return full;
        }
        let mut short: String = full.chars().take(max_chars).collect();
        // The longest credential prefix the cut text ends with.
        let tail = self
            .secrets()
            .filter_map(|s| {
                s.char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .filter(|&end| end >= 4 && short.ends_with(&s[..end]))
                    .max()
            })
            .max();
        if let Some(n) = tail {
            short.truncate(short.len() - n);
            short.push_str("[REDACTED]");
        }
        short.push('…');
        short
    }

    fn secrets(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&SecretString>, &[(&'static str, SecretString)]) = match self {
            Auth::None => (None, &[]),
            Auth::Bearer(t) => (Some(t), &[]),
            Auth::Headers(pairs) => (None, pairs.as_slice()),
        };
        one.into_iter()
            .chain(many.iter().map(|(_, v)| v))
            .map(|s| s.expose_secret())
    }
}

/// Settings of an [`HttpClient`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The base URL (validated; always ends with `/`).
    base_url: Url,
    /// Timeout of one request, including its body.
    pub timeout: Duration,
    /// Timeout of connecting.
    pub connect_timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: u64,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Client-side quota per endpoint bucket (`None` = no quota; the
    /// server's headers still pace).
    pub rate_limit: Option<RateLimit>,
    /// `rate_limit` is only the safe fallback of [`RateLimitMode::Auto`]
    /// (used until the server's state is known), not a floor.
    pub auto_rate_limit: bool,
    /// How the platform reports rate limits.
    pub dialect: RateLimitDialect,
    /// Extra wait after a reported reset, for clock skew.
    pub reset_margin: Duration,
    /// Time budget of one request (15 minutes by default): its attempts,
    /// the retries' backoff and every wait the server asks for
    /// (`Retry-After`, rate-limit resets) count; waits for the client's
    /// own quota ([`rate_limit`](Self::rate_limit)) do not. A retry or a
    /// server wait that would end beyond it fails the request at once with
    /// [`Error::TimeBudget`], so a server cannot stretch one request.
    pub request_budget: Duration,
}

/// The default [`HttpConfig::request_budget`]: 15 minutes.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(15 * 60);

impl HttpConfig {
    /// Validates `base_url` (see [`parse_base_url`]) and applies defaults:
    /// 30 s timeout, 10 s connect timeout, 64 MiB body cap, default retry
    /// policy, no quota.
    pub fn new(
        base_url: &str,
        allow_insecure_http: bool,
        dialect: RateLimitDialect,
    ) -> Result<Self> {
        Ok(Self {
            base_url: parse_base_url(base_url, allow_insecure_http)?,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            rate_limit: None,
            auto_rate_limit: false,
            dialect,
            reset_margin: DEFAULT_RESET_MARGIN,
            request_budget: DEFAULT_REQUEST_BUDGET,
        })
    }
    /// The validated base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// How calls are paced.
    pub fn rate_limit_mode(&self) -> RateLimitMode {
        match self.rate_limit {
            Some(safe) if self.auto_rate_limit => RateLimitMode::Auto { safe },
            q => RateLimitMode::from_quota(q),
        }
    }
    /// The base URL as the snapshot header's `source` (no credentials, no
    /// query, no trailing slash).
    pub fn source(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }
}

/// Transport settings every connector configuration shares: how to reach
/// the server and how hard to try. Connector configs embed one and expose
/// its fields through their own builder methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Allow plain `http://` to hosts other than loopback.
    pub allow_insecure_http: bool,
    /// Timeout of one request, body included (default 30 s).
    pub timeout: Duration,
    /// Largest body accepted (default 64 MiB).
    pub max_body_bytes: u64,
    /// How failed requests are repeated.
    pub retry: RetryPolicy,
    /// Client-side quota per endpoint bucket (`None`: only the server's
    /// headers pace).
    pub rate_limit: Option<RateLimit>,
    /// `rate_limit` is the safe fallback of [`RateLimitMode::Auto`].
    pub auto_rate_limit: bool,
    /// A limiter shared with other clients of the same server.
    pub shared_limiter: Option<SharedLimiter>,
}

/// Builder-style setters: `ClientOptions::default()` and change what differs.
impl ClientOptions {
    /// Sets the `allow_insecure_http` field.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow_insecure_http: bool) -> Self {
        self.allow_insecure_http = allow_insecure_http;
        self
    }

    /// Sets the `timeout` field.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the `max_body_bytes` field.
    #[must_use]
    pub fn max_body_bytes(mut self, max_body_bytes: u64) -> Self {
        self.max_body_bytes = max_body_bytes;
        self
    }

    /// Sets the `retry` field.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the `rate_limit` field.
    #[must_use]
    pub fn rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets the `auto_rate_limit` field.
    #[must_use]
    pub fn auto_rate_limit(mut self, auto_rate_limit: bool) -> Self {
        self.auto_rate_limit = auto_rate_limit;
        self
    }

    /// Sets the `shared_limiter` field.
    #[must_use]
    pub fn shared_limiter(mut self, shared_limiter: Option<SharedLimiter>) -> Self {
        self.shared_limiter = shared_limiter;
        self
    }
}

impl ClientOptions {
    /// The defaults, with `rate_limit` as the platform's quota.
    pub fn with_rate_limit(rate_limit: Option<RateLimit>) -> Self {
        Self {
            allow_insecure_http: false,
            timeout: Duration::from_secs(30),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            rate_limit,
            auto_rate_limit: false,
            shared_limiter: None,
        }
    }

    /// Sets how calls are paced.
    pub fn set_rate_limit_mode(&mut self, mode: RateLimitMode) {
        self.rate_limit = mode.quota();
        self.auto_rate_limit = matches!(mode, RateLimitMode::Auto { .. });
    }

    /// How calls are paced.
    pub fn rate_limit_mode(&self) -> RateLimitMode {
        match self.rate_limit {
            Some(safe) if self.auto_rate_limit => RateLimitMode::Auto { safe },
            q => RateLimitMode::from_quota(q),
        }
    }

    /// A client for `config` and `auth`, on the shared limiter when one is
    /// set.
    pub fn client(&self, config: HttpConfig, auth: Auth) -> Result<HttpClient> {
        match &self.shared_limiter {
            Some(shared) => HttpClient::with_shared_limiter(config, auth, shared),
            None => HttpClient::new(config, auth),
        }
    }

    /// The [`HttpConfig`] for `base_url` (validated) under `dialect`.
    pub fn http_config(&self, base_url: &str, dialect: RateLimitDialect) -> Result<HttpConfig> {
        let mut http = HttpConfig::new(base_url, self.allow_insecure_http, dialect)?;
        http.timeout = self.timeout;
        http.max_body_bytes = self.max_body_bytes;
        http.retry = self.retry;
        http.rate_limit = self.rate_limit;
        http.auto_rate_limit = self.auto_rate_limit;
        Ok(http)
    }
}

/// Reads a required setting through `lookup` (usually the environment):
/// trimmed, non-empty, or an [`Error::Config`] naming the variable and what
/// to set it to.
pub fn required_var(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
    what: &str,
) -> Result<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::Config(format!(
                "the environment variable {name} is not set; set it to {what}"
            ))
        })
}

/// Checks and normalises a base URL: http(s) only; no `user:pass@`; https
/// unless the host is loopback or `allow_insecure_http`; query and fragment
/// dropped; subpaths kept (`https://host/chat` → `https://host/chat/`).
pub fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::Config(
            "the base URL is empty; pass e.g. https://chat.example.com".into(),
        ));
    }
    let mut url = Url::parse(raw).map_err(|e| {
        Error::Config(format!(
            "the base URL is not a valid URL ({e}); pass e.g. https://chat.example.com"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the base URL contains credentials (user:pass@host); remove them and pass the token with its own option or environment variable".into(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::Config("the base URL has no host".into()))?
        .to_owned();
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&host) && !allow_insecure_http {
                return Err(Error::InsecureHttp { host });
            }
        }
        other => {
            return Err(Error::Config(format!(
                "the base URL scheme `{other}` is not supported; use https://"
            )));
        }
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A response that passed classification (2xx).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The headers (read them with [`Response::header`]).
    pub(crate) headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The value of header `name` (case-insensitive), when present and
    /// visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

struct Inner {
    http: reqwest::Client,
    config: HttpConfig,
    auth: Auth,
    pacer: Pacer,
    /// Prefix of limiter and gate keys (`host:port `) on a shared limiter.
    key_prefix: String,
    /// The token is known to hold the platform's rate-limit bypass.
    bypass: std::sync::atomic::AtomicBool,
    stats: Arc<Stats>,
    progress: RwLock<Arc<dyn Progress>>,
    notices: std::sync::Mutex<Vec<String>>,
}

/// The HTTP client every connector call goes through. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with its own limiter built from `config.rate_limit`.
    pub fn new(config: HttpConfig, auth: Auth) -> Result<Self> {
        let limiter: Arc<dyn Limiter> = match config.rate_limit {
            Some(q) => Arc::new(GovernorLimiter::new(q)),
            None => Arc::new(Unlimited),
        };
        Self::with_limiter(config, auth, limiter)
    }

    /// A client counting its calls in `shared`, with every other client of
    /// the same server built on it: limiter and gate keys are `host:port`
    /// plus the endpoint bucket. The shared limiter's quota replaces
    /// `config.rate_limit`'s as floor or safe fallback.
    pub fn with_shared_limiter(
        config: HttpConfig,
        auth: Auth,
        shared: &SharedLimiter,
    ) -> Result<Self> {
        let url = &config.base_url;
        let prefix = format!(
            "{}:{} ",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let pacer = Pacer::shared(shared, config.dialect);
        Self::build(config, auth, pacer, prefix)
    }

    /// A client sharing `limiter` with other clients (e.g. many syncs behind
    /// one IP).
    pub fn with_limiter(config: HttpConfig, auth: Auth, limiter: Arc<dyn Limiter>) -> Result<Self> {
        let pacer = Pacer {
            limiter,
            gate: Arc::new(HeaderGate::new(config.reset_margin)),
            dialect: config.dialect,
        };
        Self::build(config, auth, pacer, String::new())
    }

    fn build(config: HttpConfig, auth: Auth, pacer: Pacer, key_prefix: String) -> Result<Self> {
        let http = reqwest::Client::builder()
            // Redirects would carry the credentials to whatever origin the
            // Location names; a 3xx becomes an error instead.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("roster/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                auth,
                pacer,
                key_prefix,
                bypass: std::sync::atomic::AtomicBool::new(false),
                stats: Arc::default(),
                progress: RwLock::new(Arc::new(NoProgress)),
                notices: std::sync::Mutex::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The rate-limit dialect.
    pub fn dialect(&self) -> RateLimitDialect {
        self.inner.pacer.dialect
    }

    /// Tells the client whether its token holds the platform's rate-limit
    /// bypass (Rocket.Chat: `api-bypass-rate-limit`, read by validation).
    /// In [`RateLimitMode::Auto`] a bypassing token whose answers carry no
    /// rate-limit headers runs without a client quota.
    pub fn set_bypasses_rate_limit(&self, yes: bool) {
        self.inner
            .bypass
            .store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Resolves once the server's rate-limit headers for `gate_key` are
    /// known (checked every 250 ms of tokio time).
    async fn server_limit_learned(&self, gate_key: &str) {
        while self.inner.pacer.gate.is_limited(gate_key) != Some(true) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Whether the token is known to bypass the server's rate limit.
    pub fn bypasses_rate_limit(&self) -> bool {
        self.inner.bypass.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn gate_key_of(&self, bucket: &str) -> String {
        format!(
            "{}{}",
            self.inner.key_prefix,
            self.inner.pacer.dialect.gate_key(bucket)
        )
    }

    /// Whether the server sent rate-limit headers for `endpoint`'s bucket
    /// (`None`: nothing heard yet).
    pub fn is_limited(&self, endpoint: &Endpoint) -> Option<bool> {
        self.inner
            .pacer
            .gate
            .is_limited(&self.gate_key_of(&endpoint.bucket()))
    }

    /// The longest time to a window's end the server announced for
    /// `endpoint`'s bucket (about the window length).
    pub fn reported_window(&self, endpoint: &Endpoint) -> Option<Duration> {
        self.inner
            .pacer
            .gate
            .reported_window(&self.gate_key_of(&endpoint.bucket()))
    }

    /// The last `X-RateLimit-Limit` the server sent for `endpoint`'s bucket.
    pub fn reported_limit(&self, endpoint: &Endpoint) -> Option<u64> {
        self.inner
            .pacer
            .gate
            .reported_limit(&self.gate_key_of(&endpoint.bucket()))
    }

    /// Sends progress events (requests, rate-limit waits) to `progress`.
    pub fn set_progress(&self, progress: Arc<dyn Progress>) {
        *self.inner.progress.write().expect("progress lock") = progress;
    }

    fn progress(&self) -> Arc<dyn Progress> {
        self.inner.progress.read().expect("progress lock").clone()
    }

    /// Records a notice: optional data that was unavailable (e.g. last-login
    /// enrichment). The engine adds notices to the summary's warnings
    /// without marking the snapshot incomplete. Also logged as a warning.
    pub fn note(&self, message: impl Into<String>) {
        let message = self.redact(&message.into());
        tracing::warn!(%message, "Optional data unavailable.");
        self.inner
            .notices
            .lock()
            .expect("notices lock")
            .push(message);
    }

    /// Takes the notices recorded so far.
    pub(crate) fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.notices.lock().expect("notices lock"))
    }

    /// Redacts the credentials out of `text`.
    pub fn redact(&self, text: &str) -> String {
        self.inner.auth.redact(text)
    }

    /// Sends `call` with pacing and retries; returns a 2xx response.
    pub async fn send(&self, call: &Call) -> Result<Response> {
        self.execute(call, |r| Ok(r.clone()), self.inner.config.retry)
            .await
    }

    /// Sends `call` once, without retries (connectivity checks).
    pub async fn send_once(&self, call: &Call) -> Result<Response> {
        self.execute(call, |r| Ok(r.clone()), RetryPolicy::none())
            .await
    }

    /// Sends `call` and decodes the JSON body. A body that does not decode is
    /// retried like a broken transfer, then reported with the JSON path and
    /// an excerpt.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let label = call.label();
        self.execute(
            call,
            |r| self.decode(&label, &r.body),
            self.inner.config.retry,
        )
        .await
    }

    /// Decodes a body the way [`json`](Self::json) does: a failure names
    /// the endpoint, the JSON path and a redacted excerpt.
    pub fn decode<T: DeserializeOwned>(&self, label: &str, body: &[u8]) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| Error::Decode {
            endpoint: label.to_owned(),
            path: e.path().to_string(),
            message: e.inner().to_string(),
            excerpt: self.excerpt(body),
        })
    }

    fn excerpt(&self, body: &[u8]) -> String {
        const MAX: usize = 200;
        // Enough bytes for MAX characters plus any credential straddling
        // the cut; redaction happens before cutting (see `redact_cut`).
        let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4 + 4096)]);
        self.inner.auth.redact_cut(text.trim(), MAX)
    }

    /// Sends `call` until it succeeds, fails for good, or its time budget
    /// ([`HttpConfig::request_budget`]) runs out. Everything counts in the
    /// budget: the attempts, the backoff, and the waits the server asks for
    /// (`Retry-After`, rate-limit resets), so a server cannot stretch one
    /// request beyond it.
    async fn execute<T, D>(&self, call: &Call, decode: D, policy: RetryPolicy) -> Result<T>
    where
        D: Fn(&Response) -> Result<T>,
    {
        let clock = BudgetClock {
            started: tokio::time::Instant::now(),
            own_waits: std::sync::Mutex::default(),
        };
        let budget = self.inner.config.request_budget;
        let label = call.label();
        // Set when the next retry would end beyond the budget.
        let over: std::sync::Mutex<Option<(Duration, Duration)>> = std::sync::Mutex::default();
        let attempt = || async {
            let response = self.attempt(call, &clock, budget).await?;
            decode(&response)
        };
        let result = attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(Error::is_retryable)
            .adjust(|e: &Error, planned| {
                let delay = RetryPolicy::adjust(e.retry_after(), planned)?;
                let spent = clock.spent();
                if spent + delay > budget {
                    *over.lock().expect("budget lock") = Some((spent, delay));
                    return None;
                }
                Some(delay)
            })
            .notify(|e: &Error, delay| {
                self.inner.stats.retry();
                tracing::debug!(endpoint = %label, error = %e, ?delay, "Retrying request.");
                let why = format!("retrying after: {e}");
                self.progress().event(ProgressEvent::Waiting {
                    endpoint: &label,
                    wait: delay,
                    why: &why,
                });
            })
            .await;
        match (result, over.into_inner().expect("budget lock")) {
            (Err(e), Some((spent, delay))) => Err(Error::TimeBudget {
                endpoint: label,
                budget,
                spent,
                why: format!(
                    "after `{e}` the next attempt would wait {}",
                    crate::validate::format_duration(delay)
                ),
            }),
            (result, _) => result,
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        clock: &BudgetClock,
        budget: Duration,
    ) -> Result<Response> {
        let inner = &self.inner;
        let bucket = call.endpoint.bucket();
        let gate_key = self.gate_key_of(&bucket);
        let limiter_key = format!("{}{bucket}", inner.key_prefix);
        let label = call.label();
        let progress = self.progress();

        let on_wait = |wait: Duration| {
            progress.event(ProgressEvent::RateLimitWait(&bucket, wait));
            tracing::debug!(endpoint = %label, ?wait, "Waiting for rate limit.");
        };
        let on_quota_wait = |wait: Duration| {
            on_wait(wait);
            progress.event(ProgressEvent::Waiting {
                endpoint: &label,
                wait,
                why: "the client-side request quota (rate limit) is used up",
            });
        };
        // A server-requested wait beyond the request's budget fails the
        // request at once instead of sleeping through it.
        let too_long: std::sync::Mutex<Option<Duration>> = std::sync::Mutex::default();
        let wake = tokio::sync::Notify::new();
        let on_gate_wait = |wait: Duration| {
            on_wait(wait);
            if clock.spent() + wait > budget {
                *too_long.lock().expect("budget lock") = Some(wait);
                wake.notify_one();
                return;
            }
            progress.event(ProgressEvent::Waiting {
                endpoint: &label,
                wait,
                why: "the server's rate-limit headers said no calls are left until the limit resets",
            });
        };
        let bypass = self.bypasses_rate_limit();
        let quota = match inner.config.rate_limit_mode() {
            RateLimitMode::Off => false,
            RateLimitMode::Auto { .. } => match inner.pacer.gate.is_limited(&gate_key) {
                // The server's own numbers pace through the gate.
                Some(true) => false,
                // No headers: free only for a token known to bypass.
                Some(false) => !bypass,
                // Nothing known yet: the safe quota, unless bypassing.
                None => !bypass,
            },
            _ => true,
        };
        let auto = matches!(inner.config.rate_limit_mode(), RateLimitMode::Auto { .. });
        let waited = if !quota {
            Duration::ZERO
        } else if auto {
            // In auto mode the safe quota only stands in until the server's
            // own numbers are known: a call queued behind it stops waiting as
            // soon as another call's answer brings the headers (the gate
            // paces from there).
            let queued = tokio::time::Instant::now();
            tokio::select! {
                w = inner.pacer.limiter.acquire(&limiter_key, &on_quota_wait) => w,
                () = self.server_limit_learned(&gate_key) => queued.elapsed(),
            }
        } else {
            inner
                .pacer
                .limiter
                .acquire(&limiter_key, &on_quota_wait)
                .await
        };
        clock.own_wait(waited);
        let unknown_is_free =
            bypass && matches!(inner.config.rate_limit_mode(), RateLimitMode::Auto { .. });
        let gate_waited = tokio::select! {
            w = inner
                .pacer
                .gate
                .wait_assuming(&gate_key, unknown_is_free, &on_gate_wait) => w,
            () = wake.notified() => {
                let asked = too_long.lock().expect("budget lock").unwrap_or_default();
                return Err(Error::TimeBudget {
                    endpoint: label.clone(),
                    budget,
                    spent: clock.spent(),
                    why: format!(
                        "the server's rate-limit headers asked to wait {} before the next call",
                        crate::validate::format_duration(asked)
                    ),
                });
            }
        };
        inner.stats.waited(waited + gate_waited);

        let mut url = inner
            .config
            .base_url
            .join(call.path.trim_start_matches('/'))
            .map_err(|e| Error::Config(format!("cannot build URL for {label}: {e}")))?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let mut headers = HeaderMap::new();
        inner.auth.apply(&mut headers)?;
        let method = match call.endpoint.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut req = inner.http.request(method, url).headers(headers);
        if let Some(body) = &call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        inner.stats.request(&bucket);
        progress.event(ProgressEvent::Request(&bucket));
        tracing::trace!(endpoint = %label, "Sending request.");
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                inner.pacer.gate.release(&gate_key);
                return Err(self.transport_error(&label, &e));
            }
        };
        let status = resp.status().as_u16();
        let info = inner.pacer.dialect.parse(resp.headers());
        let rejected = status == 429;
        inner.pacer.gate.observe(&gate_key, &info, rejected);
        if rejected {
            inner.stats.rate_limited();
            return Err(Error::RateLimited {
                endpoint: label,
                wait: info.wait_after_rejection(),
            });
        }
        if (300..400).contains(&status) {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| l.split('?').next().unwrap_or(l).to_owned())
                .unwrap_or_else(|| "(no Location header)".to_owned());
            return Err(Error::Redirect {
                endpoint: label,
                status,
                location,
            });
        }
        let headers = resp.headers().clone();
        let body = self.read_body(&label, resp).await?;
        if (200..300).contains(&status) {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        Err(self.status_error(label, status, &body))
    }

    async fn read_body(&self, label: &str, mut resp: reqwest::Response) -> Result<Bytes> {
        let cap = self.inner.config.max_body_bytes;
        let too_large = || Error::TooLarge {
            endpoint: label.to_owned(),
            limit: cap,
        };
        if resp.content_length().is_some_and(|len| len > cap) {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() as u64 + chunk.len() as u64 > cap {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf.freeze()),
                Err(e) => return Err(self.transport_error(label, &e)),
            }
        }
    }

    fn transport_error(&self, label: &str, e: &reqwest::Error) -> Error {
        let message = self.redact(&root_cause(e));
        if e.is_timeout() {
            Error::Timeout {
                endpoint: label.to_owned(),
                timeout: self.inner.config.timeout,
            }
        } else if e.is_connect() {
            Error::Connect {
                endpoint: label.to_owned(),
                url: self.inner.config.source(),
                message,
            }
        } else {
            Error::Transport {
                endpoint: label.to_owned(),
                message,
            }
        }
    }

    fn status_error(&self, endpoint: String, status: u16, body: &[u8]) -> Error {
        let message = server_message(body)
            .map(|m| self.inner.auth.redact_cut(&m, 300))
            .unwrap_or_else(|| self.excerpt(body));
        match status {
            401 => Error::Unauthorized { endpoint, message },
            403 => Error::Forbidden { endpoint, message },
            404 => Error::NotFound { endpoint, message },
            500..=599 => Error::Server {
                endpoint,
                status,
                excerpt: message,
            },
            _ => Error::Status {
                endpoint,
                status,
                excerpt: message,
            },
        }
    }
}

/// Time one request has spent against its budget: everything since it
/// started except waits for the client's own quota (those are the
/// configuration's pacing, not the server's).
struct BudgetClock {
    started: tokio::time::Instant,
    own_waits: std::sync::Mutex<Duration>,
}

impl BudgetClock {
    fn spent(&self) -> Duration {
        let own = *self.own_waits.lock().expect("budget lock");
        self.started.elapsed().saturating_sub(own)
    }

    fn own_wait(&self, waited: Duration) {
        *self.own_waits.lock().expect("budget lock") += waited;
    }
}

/// The `message` (Mattermost, Rocket.Chat 401) or `error` (Rocket.Chat)
/// field of a JSON error body.
fn server_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = |k: &str| v.get(k).and_then(|m| m.as_str()).filter(|s| !s.is_empty());
    let text = field("message").or_else(|| field("error"))?;
    // Cut by the caller after redaction; bounded here only for memory.
    Some(text.chars().take(300 + 4096).collect())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    let mut msg = cur.to_string();
    while let Some(next) = cur.source() {
        cur = next;
        msg = cur.to_string();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_subpaths_and_lose_queries() {
        let u = parse_base_url("https://host/chat", false).unwrap();
        assert_eq!(u.as_str(), "https://host/chat/");
        assert_eq!(
            u.join("api/v4/users").unwrap().as_str(),
            "https://host/chat/api/v4/users"
        );
        let u = parse_base_url("https://host/chat/?x=1#f", false).unwrap();
        assert_eq!(u.as_str(), "https://host/chat/");
        let u = parse_base_url("http://127.0.0.1:8065", false).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8065/");
        assert!(parse_base_url("http://[::1]:80", false).is_ok());
    }

    #[test]
    fn a_body_that_does_not_serialise_is_an_error_not_an_empty_body() {
        use std::collections::BTreeMap;
        const EP: Endpoint = Endpoint::post("/api/v4/users/status/ids");
        // JSON object keys must be strings: a tuple key cannot be written.
        let bad: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
        let err = EP.call().json(&bad).unwrap_err();
        assert!(
            matches!(&err, Error::Encode { endpoint, .. } if endpoint == "POST /api/v4/users/status/ids"),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(!err.is_retryable());
        let ok = EP.call().json(&["a", "b"]).unwrap();
        assert_eq!(ok.body.as_deref(), Some(&br#"["a","b"]"#[..]));
    }

    #[test]
    fn base_url_refusals_say_why() {
        let msg = |s: &str| parse_base_url(s, false).unwrap_err().to_string();
        assert!(msg("https://bob:secret@host").contains("credentials"));
        assert!(!msg("https://bob:secret@host").contains("secret"));
        assert!(matches!(
            parse_base_url("http://chat.example.com", false),
            Err(Error::InsecureHttp { host }) if host == "chat.example.com"
        ));
        assert!(msg("http://chat.example.com").contains("unencrypted"));
        assert!(parse_base_url("http://chat.example.com", true).is_ok());
        assert!(msg("ftp://host").contains("scheme"));
        assert!(msg("not a url").contains("not a valid URL"));
        assert!(msg("").contains("empty"));
    }

    #[test]
    fn params_are_percent_encoded() {
        const E: Endpoint = Endpoint::get("/api/v4/teams/{team_id}/members");
        let call = E.call().param("team_id", "a/b c");
        assert_eq!(call.label(), "GET /api/v4/teams/a%2Fb%20c/members");
        assert_eq!(E.bucket(), "GET /api/v4/teams/{team_id}/members");
    }

    #[test]
    fn auth_debug_and_redact_hide_secrets() {
        let auth = Auth::Bearer(SecretString::from("tok-123456"));
        assert!(!format!("{auth:?}").contains("tok-123456"));
        assert_eq!(auth.redact("x tok-123456 y"), "x [REDACTED] y");
    }

    fn client_with(token: &str) -> HttpClient {
        let config =
            HttpConfig::new("http://127.0.0.1:9", false, RateLimitDialect::MATTERMOST).unwrap();
        HttpClient::new(config, Auth::Bearer(SecretString::from(token))).unwrap()
    }

    /// No 4-character piece of `token` appears in `text`.
    fn leaks(text: &str, token: &str) -> Option<String> {
        (0..=token.len() - 4)
            .map(|i| &token[i..i + 4])
            .find(|piece| text.contains(piece))
            .map(|p| format!("`{p}` of the token leaked in {text:?}"))
    }

    #[test]
    fn a_token_straddling_the_excerpt_cut_never_leaks() {
        const TOKEN: &str = "qz7Kx9vBw2LmNp4RtY8sHj6D";
        let c = client_with(TOKEN);
        for at in 180..200 {
            let body = format!("{}{TOKEN} and more text after it", "x".repeat(at));
            let err = c
                .decode::<Vec<u8>>("GET /x", body.as_bytes())
                .unwrap_err()
                .to_string();
            assert_eq!(leaks(&err, TOKEN), None, "token at {at}");
        }
    }

    #[test]
    fn a_token_straddling_the_server_message_cut_never_leaks() {
        const TOKEN: &str = "qz7Kx9vBw2LmNp4RtY8sHj6D";
        let c = client_with(TOKEN);
        for at in 280..300 {
            let message = format!("{}{TOKEN} trailing", "m".repeat(at));
            let body = serde_json::json!({ "message": message }).to_string();
            let err = c
                .status_error("GET /x".into(), 400, body.as_bytes())
                .to_string();
            assert_eq!(leaks(&err, TOKEN), None, "token at {at}");
            assert!(err.contains("mmmm"), "{err}");
        }
    }

    #[test]
    fn redact_cut_keeps_short_text_and_masks_a_prefix_at_the_cut() {
        let auth = Auth::Bearer(SecretString::from("secret-token"));
        assert_eq!(auth.redact_cut("short", 10), "short");
        assert_eq!(auth.redact_cut("abcsecret-token", 8), "abc[REDA…");
        // Only the token's beginning is in the text (the body was cut
        // before): it is masked where it ends at the cut.
        assert_eq!(
            auth.redact_cut("abcsecret-to and more", 12),
            "abc[REDACTED]…"
        );
        assert_eq!(auth.redact_cut("abc se and more", 6), "abc se…");
    }
}
