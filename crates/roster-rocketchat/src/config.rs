//! [`RocketChatConfig`]: where the server is, who calls it, and how fast.

use std::fmt;
use std::time::Duration;

use roster_core::{ClientOptions, RateLimit, RateLimitMode, RetryPolicy, SharedLimiter};
use secrecy::SecretString;

/// Rocket.Chat's default rate limit: 10 calls per 60 s per endpoint.
pub fn default_rate_limit() -> RateLimit {
    RateLimit::per_endpoint(10, Duration::from_secs(60))
}

/// The default pacing: [`RateLimitMode::Auto`], safe at Rocket.Chat's
/// stock 10 per 60 s until the server's answers (or the token's
/// `api-bypass-rate-limit`) tell better.
pub fn default_rate_limit_mode() -> RateLimitMode {
    RateLimitMode::Auto {
        safe: default_rate_limit(),
    }
}

/// A [`SharedLimiter`] for one Rocket.Chat server: hand clones to every
/// [`RocketChatConfig::shared_limiter`] of connectors reading that server
/// in this process, and together they stay within its windows.
pub fn shared_limiter() -> SharedLimiter {
    SharedLimiter::new(default_rate_limit())
}

/// Rows asked for per page by default (Rocket.Chat's default
/// `API_Upper_Count_Limit`; larger counts are silently clamped).
pub const DEFAULT_COUNT: u32 = 100;

/// How to reach a Rocket.Chat server. `Debug` never shows the token.
///
/// ```
/// use std::time::Duration;
/// use roster_core::RateLimit;
/// use roster_rocketchat::RocketChatConfig;
///
/// let config = RocketChatConfig::new("https://chat.example.com", "user-id", "s3cr3t".into())
///     // A hard floor of 30 calls per minute, whatever the server says
///     // (the default, auto, learns the server's limit by itself).
///     .rate_limit(Some(RateLimit::per_endpoint(30, Duration::from_secs(60))));
/// assert!(!format!("{config:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct RocketChatConfig {
    pub(crate) base_url: String,
    pub(crate) user_id: String,
    pub(crate) auth_token: SecretString,
    pub(crate) options: ClientOptions,
    pub(crate) infinite_count: bool,
    pub(crate) count: u32,
}

impl fmt::Debug for RocketChatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocketChatConfig")
            .field("base_url", &self.base_url)
            .field("user_id", &self.user_id)
            .field("auth_token", &"[REDACTED]")
            .field("options", &self.options)
            .field("infinite_count", &self.infinite_count)
            .field("count", &self.count)
            .finish()
    }
}

impl RocketChatConfig {
    /// A server at `base_url` (e.g. `https://chat.example.com`, subpaths
    /// kept), called as `user_id` with the personal access token
    /// `auth_token`. Defaults: [`RateLimitMode::Auto`] pacing (see
    /// [`rate_limit_mode`](Self::rate_limit_mode)), 100 rows per page, https
    /// only (plain http only to loopback).
    pub fn new(
        base_url: impl Into<String>,
        user_id: impl Into<String>,
        auth_token: SecretString,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            user_id: user_id.into(),
            auth_token,
            options: ClientOptions::default().pacing(default_rate_limit_mode()),
            infinite_count: false,
            count: DEFAULT_COUNT,
        }
    }

    /// Replaces the transport settings (timeouts, body cap, retries,
    /// pacing, request budget, shared limiter) with `options`. Start from
    /// [`client_options`](Self::client_options) to keep this config's
    /// pacing (Rocket.Chat's default is [`RateLimitMode::Auto`], while
    /// [`ClientOptions::default`] paces only by the server's headers):
    ///
    /// ```
    /// use std::time::Duration;
    /// use roster_rocketchat::RocketChatConfig;
    ///
    /// let config = RocketChatConfig::new("https://chat.example.com", "uid", "tok".into());
    /// let options = config.client_options().clone().connect_timeout(Duration::from_secs(3));
    /// let config = config.client(options);
    /// assert_eq!(config.client_options().connect_timeout, Duration::from_secs(3));
    /// ```
    pub fn client(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The transport settings.
    pub fn client_options(&self) -> &ClientOptions {
        &self.options
    }

    /// How calls are paced. Default [`RateLimitMode::Auto`] with
    /// Rocket.Chat's stock 10 calls per 60 s as the safe fallback: a token
    /// holding `api-bypass-rate-limit` (admins, bots and apps by default;
    /// learnt from `permissions.listAll` during validation, which the
    /// engine runs first by default) whose answers
    /// carry no `X-RateLimit-*` headers runs without a client quota; a token
    /// whose answers carry them is paced by the server's numbers; anything
    /// unknown runs at 10 per 60 s. [`RateLimitMode::Fixed`] is a hard floor,
    /// [`RateLimitMode::Off`] disables the client quota (headers and 429s
    /// are honoured in every mode).
    pub fn rate_limit_mode(mut self, mode: RateLimitMode) -> Self {
        self.options = self.options.pacing(mode);
        self
    }

    /// A hard client-side quota per endpoint (`Some`:
    /// [`RateLimitMode::Fixed`]), e.g. to match a server whose admins set
    /// `API_Enable_Rate_Limiter_Limit_Calls_Default` / `..._Time_Default`;
    /// `None` disables the client quota ([`RateLimitMode::Off`]). The
    /// server's `X-RateLimit-*` headers still pace calls, and 429s are
    /// still waited out.
    pub fn rate_limit(self, quota: Option<RateLimit>) -> Self {
        self.rate_limit_mode(RateLimitMode::from_quota(quota))
    }

    /// Counts this connector's calls in `limiter`, shared with other
    /// connectors of the same server in this process (see
    /// [`shared_limiter`](crate::shared_limiter)), so that together they
    /// stay within the server's per-endpoint windows. The shared limiter's
    /// quota replaces this config's as the floor or safe fallback.
    pub fn shared_limiter(mut self, limiter: SharedLimiter) -> Self {
        self.options.shared_limiter = Some(limiter);
        self
    }

    /// Asks for every row in one response (`count=0`, allowed by
    /// `API_Allow_Infinite_Count`, on by default on servers). The fastest
    /// path under a strict rate limit: one request per listing instead of
    /// one per 100 rows. Off by default because responses can be huge
    /// (raise [`max_body_bytes`](Self::max_body_bytes) for big workspaces).
    pub fn infinite_count(mut self, yes: bool) -> Self {
        self.infinite_count = yes;
        self
    }

    /// Rows per page (default 100; servers clamp larger values silently to
    /// `API_Upper_Count_Limit`, which paging copes with). `0` is treated as
    /// 1; use [`infinite_count`](Self::infinite_count) for everything at once.
    pub fn count(mut self, n: u32) -> Self {
        self.count = n.max(1);
        self
    }

    /// Allows plain http to hosts other than loopback (the token then
    /// travels unencrypted).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.options.allow_insecure_http = yes;
        self
    }

    /// Timeout of one request including its body (default 30 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.options.timeout = d;
        self
    }

    /// Largest response body accepted (default 64 MiB).
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.options.max_body_bytes = n;
        self
    }

    /// How failed requests are retried (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_client_options() {
        let c = RocketChatConfig::new("https://chat.example.com", "uid", "tok".into());
        assert_eq!(c.options.rate_limit_mode(), default_rate_limit_mode());
        assert_eq!(c.count, 100);
        assert!(!c.infinite_count);
        let c = c.client(
            ClientOptions::default()
                .connect_timeout(Duration::from_secs(2))
                .reset_margin(Duration::ZERO)
                .request_budget(Duration::from_secs(60)),
        );
        assert_eq!(c.client_options().connect_timeout, Duration::from_secs(2));
        assert_eq!(c.client_options().reset_margin, Duration::ZERO);
        assert_eq!(c.client_options().request_budget, Duration::from_secs(60));
        assert_eq!(c.client_options().rate_limit_mode(), RateLimitMode::Off);
    }

    #[test]
    fn debug_redacts_the_token() {
        let c = RocketChatConfig::new("https://x", "uid", SecretString::from("tok-secret-1234"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("tok-secret-1234"), "{dbg}");
        assert!(dbg.contains("REDACTED"));
    }

    #[test]
    fn count_is_at_least_one() {
        let c = RocketChatConfig::new("https://x", "u", "t".into()).count(0);
        assert_eq!(c.count, 1);
    }
}
