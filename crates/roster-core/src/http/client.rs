//! [`HttpClient`]: building one (a `reqwest` client without redirects, the
//! limiter and header gate) and what it tells about itself: settings,
//! counters, and what the server said about its rate limit.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::auth::Auth;
use super::endpoint::Endpoint;
use super::options::HttpConfig;
use crate::error::{Error, Result};
use crate::progress::{NoProgress, Progress};
use crate::ratelimit::{
    GovernorLimiter, HeaderGate, Limiter, Pacer, RateLimitDialect, ServerLimit, SharedLimiter,
    Unlimited,
};
use crate::stats::{RequestCounts, Stats};

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) config: HttpConfig,
    pub(super) auth: Auth,
    pub(super) pacer: Pacer,
    /// Prefix of limiter and gate keys (`host:port `) on a shared limiter.
    pub(super) key_prefix: String,
    /// The token is known to hold the platform's rate-limit bypass.
    pub(super) bypass: AtomicBool,
    pub(super) stats: Arc<Stats>,
    pub(super) progress: RwLock<Arc<dyn Progress>>,
    pub(super) notices: Mutex<Vec<String>>,
}

/// The HTTP client every connector call goes through. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base_url", &self.inner.config.base_url().as_str())
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `config`: counting its calls in the options'
    /// [`shared_limiter`](super::ClientOptions::shared_limiter) when one is
    /// set (see [`with_shared_limiter`](Self::with_shared_limiter)), else in
    /// its own limiter built from the options' `rate_limit`.
    pub fn new(config: HttpConfig, auth: Auth) -> Result<Self> {
        if let Some(shared) = config.shared_limiter.clone() {
            return Self::with_shared_limiter(config, auth, &shared);
        }
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
        let url = config.base_url();
        let prefix = format!(
            "{}:{} ",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let pacer = Pacer::shared(shared, config.dialect());
        Self::build(config, auth, pacer, prefix)
    }

    /// A client sharing `limiter` with other clients (e.g. many syncs behind
    /// one IP).
    pub fn with_limiter(config: HttpConfig, auth: Auth, limiter: Arc<dyn Limiter>) -> Result<Self> {
        let pacer = Pacer {
            limiter,
            gate: Arc::new(HeaderGate::new(config.reset_margin)),
            dialect: config.dialect(),
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
                bypass: AtomicBool::new(false),
                stats: Arc::default(),
                progress: RwLock::new(Arc::new(NoProgress)),
                notices: Mutex::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.inner.config
    }

    /// The request counters so far (every request this client sent;
    /// [`RequestCounts::since`] for part of them).
    pub fn stats(&self) -> RequestCounts {
        self.inner.stats.snapshot()
    }

    /// The rate-limit dialect.
    pub fn dialect(&self) -> RateLimitDialect {
        self.inner.pacer.dialect
    }

    /// Tells the client whether its token holds the platform's rate-limit
    /// bypass (Rocket.Chat: `api-bypass-rate-limit`, read by validation).
    /// In [`RateLimitMode::Auto`](crate::RateLimitMode::Auto) a bypassing
    /// token whose answers carry no rate-limit headers runs without a
    /// client quota.
    pub fn set_bypasses_rate_limit(&self, yes: bool) {
        self.inner.bypass.store(yes, Ordering::Relaxed);
    }

    /// Whether the token is known to bypass the server's rate limit.
    pub fn bypasses_rate_limit(&self) -> bool {
        self.inner.bypass.load(Ordering::Relaxed)
    }

    /// Redacts the credentials out of `text`.
    pub fn redact(&self, text: &str) -> String {
        self.inner.auth.redact(text)
    }

    /// The header gate's key of an endpoint bucket: the dialect's
    /// [`BucketScope`](crate::ratelimit::BucketScope) applied, behind the
    /// shared limiter's `host:port ` prefix.
    pub(super) fn gate_key_of(&self, bucket: &str) -> String {
        format!(
            "{}{}",
            self.inner.key_prefix,
            self.inner.pacer.dialect.gate_key(bucket)
        )
    }

    /// What the server's rate-limit headers said about `endpoint`'s limit
    /// (under the dialect's [`BucketScope`](crate::ratelimit::BucketScope):
    /// Mattermost's one global limit answers for any endpoint). `None`: no
    /// response was seen for it yet.
    pub fn server_limit(&self, endpoint: &Endpoint) -> Option<ServerLimit> {
        self.inner
            .pacer
            .gate
            .server_limit(&self.gate_key_of(&endpoint.bucket()))
    }

    /// Resolves once the server's rate-limit headers for `gate_key` are
    /// known (checked every 250 ms of tokio time).
    pub(super) async fn server_limit_learned(&self, gate_key: &str) {
        while !self
            .inner
            .pacer
            .gate
            .server_limit(gate_key)
            .is_some_and(|l| l.limited)
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
