//! Settings of an [`HttpClient`](super::HttpClient): [`ClientOptions`] says
//! how to talk to a server (timeouts, body cap, retries, pacing, budget),
//! [`HttpConfig`] pairs them with where the server is and how it reports
//! its rate limits. Every default is set once, in
//! [`ClientOptions::default`].

use std::ops::Deref;
use std::time::Duration;

use url::Url;

use super::url::parse_base_url;
use crate::error::Result;
use crate::ratelimit::{
    DEFAULT_RESET_MARGIN, RateLimit, RateLimitDialect, RateLimitMode, SharedLimiter,
};
use crate::retry::RetryPolicy;

/// Default cap on a response body: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// The default [`ClientOptions::request_budget`]: 15 minutes.
pub const DEFAULT_REQUEST_BUDGET: Duration = Duration::from_secs(15 * 60);

/// How a client talks to a server: timeouts, body cap, retries, pacing and
/// the time budget of one request. Every connector configuration embeds one
/// (`MattermostConfig::client`, `RocketChatConfig::client`).
///
/// Start from [`ClientOptions::default()`] and change what differs:
///
/// ```
/// use std::time::Duration;
/// use roster_core::ClientOptions;
///
/// let options = ClientOptions::default()
///     .connect_timeout(Duration::from_secs(3))
///     .request_budget(Duration::from_secs(120));
/// assert_eq!(options.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Allow plain `http://` to hosts other than loopback (default false).
    pub allow_insecure_http: bool,
    /// Timeout of one request, body included (default 30 s).
    pub timeout: Duration,
    /// Timeout of connecting (default 10 s).
    pub connect_timeout: Duration,
    /// Largest body accepted (default [`DEFAULT_MAX_BODY_BYTES`], 64 MiB).
    pub max_body_bytes: u64,
    /// How failed requests are repeated (default [`RetryPolicy::default`]).
    pub retry: RetryPolicy,
    /// Client-side quota per endpoint bucket (`None`, the default: only the
    /// server's headers pace). See [`rate_limit_mode`](Self::rate_limit_mode).
    pub rate_limit: Option<RateLimit>,
    /// `rate_limit` is only the safe fallback of [`RateLimitMode::Auto`]
    /// (used until the server's state is known), not a floor (default false).
    pub auto_rate_limit: bool,
    /// Extra wait after a reported reset, for clock skew (default
    /// [`DEFAULT_RESET_MARGIN`], 50 ms).
    pub reset_margin: Duration,
    /// Time budget of one request (default [`DEFAULT_REQUEST_BUDGET`], 15
    /// minutes): its attempts, the retries' backoff and every wait the
    /// server asks for (`Retry-After`, rate-limit resets) count; waits for
    /// the client's own quota ([`rate_limit`](Self::rate_limit)) do not. A
    /// retry or a server wait that would end beyond it fails the request at
    /// once with [`Error::TimeBudget`](crate::Error::TimeBudget), so a
    /// server cannot stretch one request.
    pub request_budget: Duration,
    /// A limiter shared with other clients of the same server (default
    /// none: the client counts its calls alone).
    pub shared_limiter: Option<SharedLimiter>,
}

impl Default for ClientOptions {
    /// The one place every client default is set.
    fn default() -> Self {
        Self {
            allow_insecure_http: false,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            retry: RetryPolicy::default(),
            rate_limit: None,
            auto_rate_limit: false,
            reset_margin: DEFAULT_RESET_MARGIN,
            request_budget: DEFAULT_REQUEST_BUDGET,
            shared_limiter: None,
        }
    }
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

    /// Sets the `connect_timeout` field.
    #[must_use]
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
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

    /// Sets the `rate_limit` field (keeping `auto_rate_limit`; see
    /// [`pacing`](Self::pacing) to set both).
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

    /// Sets how calls are paced: `rate_limit` and `auto_rate_limit`
    /// together, read back with [`rate_limit_mode`](Self::rate_limit_mode).
    #[must_use]
    pub fn pacing(mut self, mode: RateLimitMode) -> Self {
        self.rate_limit = mode.quota();
        self.auto_rate_limit = matches!(mode, RateLimitMode::Auto { .. });
        self
    }

    /// Sets the `reset_margin` field.
    #[must_use]
    pub fn reset_margin(mut self, reset_margin: Duration) -> Self {
        self.reset_margin = reset_margin;
        self
    }

    /// Sets the `request_budget` field.
    #[must_use]
    pub fn request_budget(mut self, request_budget: Duration) -> Self {
        self.request_budget = request_budget;
        self
    }

    /// Sets the `shared_limiter` field.
    #[must_use]
    pub fn shared_limiter(mut self, shared_limiter: Option<SharedLimiter>) -> Self {
        self.shared_limiter = shared_limiter;
        self
    }

    /// How calls are paced.
    pub fn rate_limit_mode(&self) -> RateLimitMode {
        match self.rate_limit {
            Some(safe) if self.auto_rate_limit => RateLimitMode::Auto { safe },
            q => RateLimitMode::from_quota(q),
        }
    }
}

/// Everything an [`HttpClient`](super::HttpClient) is built from: the
/// server's validated base URL, how it reports rate limits, and the
/// [`ClientOptions`]. It reads as those options (`config.timeout`,
/// `config.rate_limit_mode()`); it sets no defaults of its own.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    base_url: Url,
    dialect: RateLimitDialect,
    options: ClientOptions,
}

impl HttpConfig {
    /// Validates `base_url` (see [`parse_base_url`], consenting to plain
    /// http when `options.allow_insecure_http`) for a server speaking
    /// `dialect`, reached with `options`.
    pub fn new(base_url: &str, dialect: RateLimitDialect, options: ClientOptions) -> Result<Self> {
        Ok(Self {
            base_url: parse_base_url(base_url, options.allow_insecure_http)?,
            dialect,
            options,
        })
    }

    /// The validated base URL (always ends with `/`).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The base URL as the snapshot header's `source` (no credentials, no
    /// query, no trailing slash).
    pub fn source(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// How the server reports rate limits.
    pub fn dialect(&self) -> RateLimitDialect {
        self.dialect
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }
}

impl Deref for HttpConfig {
    type Target = ClientOptions;

    fn deref(&self) -> &ClientOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_round_trips_through_the_mode() {
        let q = RateLimit::per_endpoint(10, Duration::from_secs(60));
        for mode in [
            RateLimitMode::Auto { safe: q },
            RateLimitMode::Fixed(q),
            RateLimitMode::Off,
        ] {
            assert_eq!(
                ClientOptions::default().pacing(mode).rate_limit_mode(),
                mode
            );
        }
        assert_eq!(
            ClientOptions::default().rate_limit_mode(),
            RateLimitMode::Off
        );
    }

    #[test]
    fn the_config_reads_as_its_options() {
        let options = ClientOptions::default()
            .connect_timeout(Duration::from_secs(3))
            .reset_margin(Duration::ZERO);
        let config =
            HttpConfig::new("https://host/chat", RateLimitDialect::MATTERMOST, options).unwrap();
        assert_eq!(config.source(), "https://host/chat");
        assert_eq!(config.connect_timeout, Duration::from_secs(3));
        assert_eq!(config.reset_margin, Duration::ZERO);
        assert_eq!(config.request_budget, DEFAULT_REQUEST_BUDGET);
        assert!(
            HttpConfig::new(
                "http://chat.example.com",
                RateLimitDialect::MATTERMOST,
                ClientOptions::default()
            )
            .is_err()
        );
    }
}
