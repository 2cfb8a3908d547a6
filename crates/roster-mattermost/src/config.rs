//! [`MattermostConfig`]: where the server is, the token, and how to talk to it.

use std::fmt;
use std::time::Duration;

use roster_core::{ClientOptions, HttpConfig, RateLimit, RateLimitDialect, Result, RetryPolicy};
use secrecy::SecretString;

use crate::endpoints::SERVER_PER_PAGE_CAP;

/// Settings of a [`MattermostConnector`](crate::MattermostConnector).
///
/// Built with [`new`](Self::new) and refined with the builder methods;
/// transport settings (timeouts, retries, pacing, the request budget) are
/// one [`ClientOptions`] value ([`client`](Self::client)). `Debug` never
/// shows the token.
///
/// ```
/// use std::time::Duration;
/// use roster_core::ClientOptions;
/// use roster_mattermost::MattermostConfig;
/// use secrecy::SecretString;
///
/// let config = MattermostConfig::new("https://chat.example.com/", SecretString::from("s3cret"))
///     .per_page(100)
///     .enrich(false)
///     .client(ClientOptions::default().connect_timeout(Duration::from_secs(3)));
/// assert_eq!(config.client_options().connect_timeout, Duration::from_secs(3));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct MattermostConfig {
    base_url: String,
    token: SecretString,
    options: ClientOptions,
    per_page: u32,
    enrich: bool,
}

impl fmt::Debug for MattermostConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MattermostConfig")
            .field("base_url", &self.base_url)
            .field("token", &"[REDACTED]")
            .field("options", &self.options)
            .field("per_page", &self.per_page)
            .field("enrich", &self.enrich)
            .finish()
    }
}

impl MattermostConfig {
    /// A configuration for the server at `base_url` (the Site URL, with or
    /// without a subpath or trailing slash) using `token` (a personal access
    /// token or a bot token of a System Admin).
    ///
    /// Defaults: [`ClientOptions::default`] (https required off loopback,
    /// 30 s timeout, 64 MiB body cap, the default retry policy, no
    /// client-side rate limit: Mattermost's own `X-RateLimit-*` headers
    /// still pace), 200 rows per page, and last-login / last-activity
    /// enrichment on.
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            options: ClientOptions::default(),
            per_page: SERVER_PER_PAGE_CAP,
            enrich: true,
        }
    }

    /// Replaces the transport settings (timeouts, body cap, retries,
    /// pacing, request budget) with `options`. The setters below change one
    /// of them each.
    pub fn client(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Allows plain `http://` to hosts other than loopback (the token then
    /// travels unencrypted).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.options.allow_insecure_http = yes;
        self
    }

    /// Timeout of one request, body included.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.options.timeout = d;
        self
    }

    /// Largest response body accepted.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.options.max_body_bytes = n;
        self
    }

    /// How failed requests are repeated.
    pub fn retry(mut self, p: RetryPolicy) -> Self {
        self.options.retry = p;
        self
    }

    /// A client-side quota per endpoint bucket. `None` (the default): no
    /// quota. Mattermost's rate limiting is off by default; when an admin
    /// turns it on, its headers pace the client anyway.
    pub fn rate_limit(mut self, q: Option<RateLimit>) -> Self {
        self.options.rate_limit = q;
        self
    }

    /// Rows per page (1..=200; Mattermost silently caps at 200). Default 200.
    pub fn per_page(mut self, n: u32) -> Self {
        self.per_page = n.clamp(1, SERVER_PER_PAGE_CAP);
        self
    }

    /// Reads last login (`/api/v4/reports/users`) and last activity
    /// (`POST /api/v4/users/status/ids`), best effort. Default true.
    pub fn enrich(mut self, yes: bool) -> Self {
        self.enrich = yes;
        self
    }

    /// The base URL as given.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Rows per page.
    pub fn page_size(&self) -> u32 {
        self.per_page
    }

    /// The transport settings.
    pub fn client_options(&self) -> &ClientOptions {
        &self.options
    }

    /// Whether enrichment is on.
    pub fn enriches(&self) -> bool {
        self.enrich
    }

    pub(crate) fn token(&self) -> &SecretString {
        &self.token
    }

    /// The HTTP settings (validates the base URL).
    pub(crate) fn http_config(&self) -> Result<HttpConfig> {
        HttpConfig::new(
            &self.base_url,
            RateLimitDialect::MATTERMOST,
            self.options.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token() {
        let c = MattermostConfig::new("https://chat.example.com", SecretString::from("s3cr3t-tok"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t-tok"), "{dbg}");
        assert!(dbg.contains("REDACTED"));
    }

    #[test]
    fn builder_applies_settings_and_keeps_subpaths() {
        let c = MattermostConfig::new("https://host/chat", SecretString::from("t"))
            .timeout(Duration::from_secs(5))
            .max_body_bytes(1024)
            .per_page(500)
            .rate_limit(Some(RateLimit::per_endpoint(10, Duration::from_secs(1))));
        assert_eq!(c.page_size(), 200);
        let http = c.http_config().unwrap();
        assert_eq!(http.base_url().as_str(), "https://host/chat/");
        assert_eq!(http.timeout, Duration::from_secs(5));
        assert_eq!(http.max_body_bytes, 1024);
        assert!(http.rate_limit.is_some());
        assert_eq!(c.clone().per_page(0).page_size(), 1);
        let c = c.client(
            ClientOptions::default()
                .connect_timeout(Duration::from_secs(2))
                .reset_margin(Duration::ZERO)
                .request_budget(Duration::from_secs(60)),
        );
        let http = c.http_config().unwrap();
        assert_eq!(http.connect_timeout, Duration::from_secs(2));
        assert_eq!(http.reset_margin, Duration::ZERO);
        assert_eq!(http.request_budget, Duration::from_secs(60));
        assert_eq!(http.timeout, Duration::from_secs(30), "replaced whole");
    }

    #[test]
    fn plain_http_needs_consent_off_loopback() {
        let c = MattermostConfig::new("http://chat.example.com", SecretString::from("t"));
        assert!(c.http_config().is_err());
        assert!(c.allow_insecure_http(true).http_config().is_ok());
    }
}
