//! One error type for every failure a sync can meet, classified so callers
//! can decide what to do (retry, fix the token, grant a permission, …).

use std::time::Duration;

use crate::validate::{CheckKind, ValidationReport};

/// Shorthand for results in roster.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while talking to a platform or writing a
/// snapshot. Messages name the endpoint (path only, never the query) and say
/// what to check; they never contain a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (bad URL, missing token, …).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The base URL is plain `http://` to a host that is not loopback, and
    /// plain http was not allowed (`allow_insecure_http`): the token would
    /// travel unencrypted.
    #[error(
        "invalid configuration: refusing plain http to `{host}`: the token would travel unencrypted. Use https, or allow plain http explicitly (allow_insecure_http) if you accept the risk"
    )]
    InsecureHttp {
        /// The host of the refused URL.
        host: String,
    },

    /// HTTP 401: the credentials were rejected.
    #[error(
        "{endpoint}: authentication failed (HTTP 401): {message}. Check that the token is valid and not expired"
    )]
    Unauthorized {
        /// Method and path.
        endpoint: String,
        /// What the server said.
        message: String,
    },

    /// HTTP 403: the credentials lack a permission.
    #[error(
        "{endpoint}: permission denied (HTTP 403): {message}. The token lacks a permission this endpoint needs"
    )]
    Forbidden {
        /// Method and path.
        endpoint: String,
        /// What the server said.
        message: String,
    },

    /// A permission the sync needs is missing (found by validation).
    #[error("missing permission `{permission}`: {why}")]
    MissingPermission {
        /// The platform's permission or role name.
        permission: String,
        /// Why the sync needs it and what happens without it.
        why: String,
    },

    /// HTTP 404.
    #[error("{endpoint}: not found (HTTP 404): {message}")]
    NotFound {
        /// Method and path.
        endpoint: String,
        /// What the server said.
        message: String,
    },

    /// HTTP 429: the server rejected the call for rate limiting.
    #[error("{endpoint}: rate limited (HTTP 429){}", wait_hint(*.wait))]
    RateLimited {
        /// Method and path.
        endpoint: String,
        /// How long the server asked to wait, when it said.
        wait: Option<Duration>,
    },

    /// HTTP 5xx.
    #[error("{endpoint}: server error (HTTP {status}): {excerpt}")]
    Server {
        /// Method and path.
        endpoint: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },

    /// Another unexpected status (400, 409, 501, …).
    #[error("{endpoint}: unexpected HTTP {status}: {excerpt}")]
    Status {
        /// Method and path.
        endpoint: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },

    /// A 3xx: redirects are never followed, because the client would send the
    /// credentials to another origin.
    #[error(
        "{endpoint}: the server redirected (HTTP {status}) to `{location}`; roster does not follow redirects. Use the final URL as the base URL"
    )]
    Redirect {
        /// Method and path.
        endpoint: String,
        /// The status code.
        status: u16,
        /// The `Location` header (query removed).
        location: String,
    },

    /// The server could not be reached.
    #[error(
        "{endpoint}: cannot connect to {url}: {message}. Check the base URL, DNS, firewall and TLS certificate"
    )]
    Connect {
        /// Method and path.
        endpoint: String,
        /// The URL without query.
        url: String,
        /// The transport's explanation.
        message: String,
    },

    /// The connection broke during the request or body.
    #[error("{endpoint}: connection error: {message}")]
    Transport {
        /// Method and path.
        endpoint: String,
        /// The transport's explanation.
        message: String,
    },

    /// The request took longer than the configured timeout.
    #[error(
        "{endpoint}: timed out after {timeout:?}. Raise the timeout or check the server's load"
    )]
    Timeout {
        /// Method and path.
        endpoint: String,
        /// The configured timeout.
        timeout: Duration,
    },

    /// The body is not the JSON the endpoint should return.
    #[error(
        "{endpoint}: unexpected response body at `{path}`: {message}; body starts with: {excerpt}"
    )]
    Decode {
        /// Method and path.
        endpoint: String,
        /// JSON path of the failure (`.` for the root).
        path: String,
        /// What was wrong.
        message: String,
        /// The start of the body.
        excerpt: String,
    },

    /// The body exceeded the configured size cap.
    #[error(
        "{endpoint}: response larger than the {limit}-byte cap. Raise `max_body_bytes` if this is expected"
    )]
    TooLarge {
        /// Method and path.
        endpoint: String,
        /// The cap in bytes.
        limit: u64,
    },

    /// A request body could not be serialised to JSON; nothing was sent.
    #[error("{endpoint}: cannot encode the request body as JSON: {message}")]
    Encode {
        /// Method and path.
        endpoint: String,
        /// What serde_json said.
        message: String,
    },

    /// A listing did not terminate sensibly (same page or cursor twice, or too many pages).
    #[error("{endpoint}: paging stopped: {message}")]
    Paging {
        /// Method and path.
        endpoint: String,
        /// What the loop guard saw.
        message: String,
    },

    /// A listing changed while it was read and did not settle within the
    /// allowed re-reads: items may be missing.
    #[error(
        "{endpoint}: the listing kept changing while it was read ({passes} passes); some items may be missing"
    )]
    Unstable {
        /// Method and path.
        endpoint: String,
        /// Passes made.
        passes: u32,
    },

    /// Validation found that a complete sync is not possible. The report
    /// holds every check; [`kind`](Error::kind) follows the first failed
    /// check (an unreachable platform is a connection error, refused
    /// credentials or a missing permission an auth error).
    #[error("validation failed: {}", .0.failure_summary())]
    Validation(Box<ValidationReport>),

    /// Writing the snapshot failed (disk full, output removed, reader of a
    /// pipe gone). The sync stops at once; nothing is presented as complete.
    #[error("cannot write snapshot: {source}")]
    Sink {
        /// The sink's own error (an [`std::io::Error`] for the file sinks),
        /// kept so callers can inspect its kind.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// One request used up its time budget ([`ClientOptions::request_budget`](crate::ClientOptions::request_budget)):
    /// the waits the server asked for (rate-limit resets, `Retry-After`)
    /// and the retries' backoff together would exceed it.
    #[error(
        "{endpoint}: gave up after {spent:.0?}: {why}, which would exceed the {budget:.0?} time budget of one request. Retry later, when the server's rate limit has reset"
    )]
    TimeBudget {
        /// Method and path.
        endpoint: String,
        /// The per-request budget.
        budget: Duration,
        /// Time already spent on this request.
        spent: Duration,
        /// What the server asked for (e.g. "the server asked to wait 3600 s").
        why: String,
    },
}

fn wait_hint(wait: Option<Duration>) -> String {
    match wait {
        Some(w) => format!("; the server asked to wait {:.1} s", w.as_secs_f64()),
        None => String::new(),
    }
}

impl Error {
    /// Wraps a sink's error, keeping it as the [`source`](std::error::Error::source).
    pub fn sink(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Sink {
            source: Box::new(source),
        }
    }

    /// The I/O error behind a sink failure, if there is one (e.g. to tell
    /// a full disk from a closed pipe).
    pub fn io_error(&self) -> Option<&std::io::Error> {
        let mut cur: &(dyn std::error::Error + 'static) = match self {
            Error::Sink { source } => source.as_ref(),
            _ => return None,
        };
        loop {
            if let Some(io) = cur.downcast_ref::<std::io::Error>() {
                return Some(io);
            }
            cur = cur.source()?;
        }
    }
}

/// Broad classes of [`Error`], for exit codes and decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad configuration or input.
    Config,
    /// Credentials rejected or a permission missing.
    Auth,
    /// Network, DNS, TLS or redirect problems.
    Connection,
    /// The server misbehaved (5xx, bad JSON, paging loop, 429 after retries).
    Server,
    /// A resource disappeared.
    NotFound,
    /// Writing the snapshot failed.
    Sink,
}

/// The class of error a failed check of `kind` stands for.
fn check_error_kind(kind: CheckKind) -> ErrorKind {
    match kind {
        CheckKind::Reachable => ErrorKind::Connection,
        CheckKind::Plan | CheckKind::Enrichment => ErrorKind::Server,
        CheckKind::Authenticated | CheckKind::Permission => ErrorKind::Auth,
    }
}

impl Error {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::InsecureHttp { .. } | Error::Encode { .. } => {
                ErrorKind::Config
            }
            Error::Validation(report) => report
                .failures()
                .next()
                .map_or(ErrorKind::Auth, |c| check_error_kind(c.kind)),
            Error::Unauthorized { .. }
            | Error::Forbidden { .. }
            | Error::MissingPermission { .. } => ErrorKind::Auth,
            Error::Redirect { .. } | Error::Connect { .. } => ErrorKind::Connection,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Sink { .. } => ErrorKind::Sink,
            Error::RateLimited { .. }
            | Error::Server { .. }
            | Error::Status { .. }
            | Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::Decode { .. }
            | Error::TooLarge { .. }
            | Error::Paging { .. }
            | Error::TimeBudget { .. }
            | Error::Unstable { .. } => ErrorKind::Server,
        }
    }

    /// Whether repeating the same request may succeed: 429, 502/503/504 (and
    /// other 5xx), connection resets, timeouts and garbled bodies. Never 400,
    /// 401, 403 or 404.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Transport { .. }
            | Error::Timeout { .. }
            | Error::Decode { .. }
            | Error::Connect { .. } => true,
            Error::Server { status, .. } => *status != 501,
            _ => false,
        }
    }

    /// Whether this is a 429.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::RateLimited { .. })
    }

    /// How long the server asked to wait before retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { wait, .. } => *wait,
            _ => None,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::RateLimited { .. } => Some(429),
            Error::Server { status, .. }
            | Error::Status { status, .. }
            | Error::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The endpoint (method and path) the error came from, if any.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            Error::Unauthorized { endpoint, .. }
            | Error::Forbidden { endpoint, .. }
            | Error::NotFound { endpoint, .. }
            | Error::RateLimited { endpoint, .. }
            | Error::Server { endpoint, .. }
            | Error::Status { endpoint, .. }
            | Error::Redirect { endpoint, .. }
            | Error::Connect { endpoint, .. }
            | Error::Transport { endpoint, .. }
            | Error::Timeout { endpoint, .. }
            | Error::Decode { endpoint, .. }
            | Error::TooLarge { endpoint, .. }
            | Error::Encode { endpoint, .. }
            | Error::Paging { endpoint, .. }
            | Error::TimeBudget { endpoint, .. }
            | Error::Unstable { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// Whether the platform cannot be asked at all (no connection, a bad
    /// configuration, a timeout or a broken transport): validation returns
    /// such an error rather than a failed check.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Connection | ErrorKind::Config)
            || matches!(self, Error::Timeout { .. } | Error::Transport { .. })
    }

    /// Whether the whole sync must stop (credentials revoked): every further
    /// request would fail the same way.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Unauthorized { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_means_the_platform_cannot_be_asked() {
        let timeout = Error::Timeout {
            endpoint: "GET /ping".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(timeout.is_unreachable());
        assert!(
            Error::InsecureHttp {
                host: "chat".into()
            }
            .is_unreachable()
        );
        let refused = Error::Unauthorized {
            endpoint: "GET /me".into(),
            message: "bad token".into(),
        };
        assert!(!refused.is_unreachable());
    }

    #[test]
    fn error_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn classification() {
        let e = |status| Error::Server {
            endpoint: "GET /x".into(),
            status,
            excerpt: String::new(),
        };
        assert!(e(503).is_retryable());
        assert!(!e(501).is_retryable());
        let forbidden = Error::Forbidden {
            endpoint: "GET /x".into(),
            message: "no".into(),
        };
        assert!(!forbidden.is_retryable());
        assert_eq!(forbidden.kind(), ErrorKind::Auth);
        let limited = Error::RateLimited {
            endpoint: "GET /x".into(),
            wait: Some(Duration::from_secs(3)),
        };
        assert!(limited.is_retryable() && limited.is_rate_limited());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
        assert!(limited.to_string().contains("3.0 s"));
    }

    #[test]
    fn validation_kind_follows_the_failed_check() {
        use crate::validate::Check;
        let mut unreachable = ValidationReport::new("mattermost", "https://x");
        unreachable.push(Check::fail(CheckKind::Reachable, "reachable", "no ping"));
        let e = Error::Validation(Box::new(unreachable));
        assert_eq!(e.kind(), ErrorKind::Connection);
        assert!(e.to_string().contains("reachable: no ping"), "{e}");

        let mut refused = ValidationReport::new("mattermost", "https://x");
        refused.push(Check::pass(CheckKind::Reachable, "reachable", "ok"));
        refused.push(Check::fail(
            CheckKind::Authenticated,
            "authenticated",
            "401",
        ));
        assert_eq!(Error::Validation(Box::new(refused)).kind(), ErrorKind::Auth);

        let mut missing = ValidationReport::new("mattermost", "https://x");
        missing.push(Check::fail(
            CheckKind::Permission,
            "permission:manage_system",
            "not an admin",
        ));
        assert_eq!(Error::Validation(Box::new(missing)).kind(), ErrorKind::Auth);
    }

    #[test]
    fn insecure_http_is_config_and_names_no_cli_flag() {
        let e = Error::InsecureHttp {
            host: "chat.example.com".into(),
        };
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("chat.example.com"), "{e}");
        assert!(!e.to_string().contains("--"), "{e}");
    }
}
