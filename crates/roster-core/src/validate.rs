//! What `validate()` reports: checks (connectivity, credentials, each
//! permission and why it matters), the token's rate-limit status, and a plan
//! of the requests a sync will make with its estimated duration.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ratelimit::fixed_window_lower_bound;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// Fine.
    Pass,
    /// Not fatal, but worth knowing (e.g. optional data unavailable).
    Warn,
    /// A complete sync is not possible.
    Fail,
}

/// What a check is about, so callers decide by kind, never by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckKind {
    /// The server answers at the base URL.
    Reachable,
    /// The credentials are accepted.
    Authenticated,
    /// A permission the sync needs (or the permission table itself).
    Permission,
    /// Optional data (last login, last activity) is available.
    Enrichment,
    /// The totals a plan of the sync needs could be read.
    Plan,
}

/// One check of a validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Check {
    /// What the check is about.
    pub kind: CheckKind,
    /// Short name for display: `reachable`, `authenticated`,
    /// `permission:view-all-teams`, …
    pub name: String,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found, and what to do when it failed.
    pub detail: String,
}

impl Check {
    /// A passed check.
    pub fn pass(kind: CheckKind, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            status: CheckStatus::Pass,
            detail: detail.into(),
        }
    }
    /// A warning.
    pub fn warn(kind: CheckKind, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            status: CheckStatus::Warn,
            detail: detail.into(),
        }
    }
    /// A failed check.
    pub fn fail(kind: CheckKind, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            status: CheckStatus::Fail,
            detail: detail.into(),
        }
    }
}

/// Requests one endpoint bucket will need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl BucketPlan {
    /// Plans `requests` calls under `limit` per `window` (or unlimited).
    pub fn new(bucket: impl Into<String>, requests: u64, limit: Option<(u64, Duration)>) -> Self {
        let min = limit.map_or(Duration::ZERO, |(l, w)| {
            fixed_window_lower_bound(requests, l, w)
        });
        Self {
            bucket: bucket.into(),
            requests,
            limit: limit.map(|(l, _)| l),
            window_ms: limit.map(|(_, w)| w.as_millis() as u64),
            min_duration_ms: min.as_millis() as u64,
        }
    }
}

/// A client pacing a piece of advice points to
/// ([`RateLimitMode`](crate::RateLimitMode) in library terms).
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
    /// Estimated duration in milliseconds: the busiest bucket under its
    /// limit (buckets run in parallel), plus request latency.
    pub estimated_ms: u64,
    /// What would make the sync faster.
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
        self.buckets.iter().map(|b| b.requests).sum()
    }
    /// The estimate as a duration.
    pub fn estimated(&self) -> Duration {
        Duration::from_millis(self.estimated_ms)
    }
}

/// Whether and how this token is rate limited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RateLimitStatus {
    /// `true` when the server limits this token.
    pub limited: bool,
    /// How that was determined.
    pub detail: String,
}

impl RateLimitStatus {
    /// Whether the server limits this token, and how that was determined.
    pub fn new(limited: bool, detail: impl Into<String>) -> Self {
        Self {
            limited,
            detail: detail.into(),
        }
    }
}

/// What `validate()` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ValidationReport {
    /// The connector.
    pub connector: String,
    /// The base URL.
    pub source: String,
    /// Every check made.
    pub checks: Vec<Check>,
    /// Rate-limit status, when known.
    pub rate_limit: Option<RateLimitStatus>,
    /// The plan, when the platform could be asked for totals.
    pub plan: Option<Plan>,
}

impl ValidationReport {
    /// An empty report.
    pub fn new(connector: &str, source: &str) -> Self {
        Self {
            connector: connector.to_owned(),
            source: source.to_owned(),
            checks: Vec::new(),
            rate_limit: None,
            plan: None,
        }
    }
    /// Adds a check.
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }
    /// True when no check failed: a complete sync is possible.
    pub fn sync_possible(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
    /// One line naming every failure.
    pub fn failure_summary(&self) -> String {
        self.failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} at {}", self.connector, self.source)?;
        for c in &self.checks {
            let mark = match c.status {
                CheckStatus::Pass => "ok  ",
                CheckStatus::Warn => "warn",
                CheckStatus::Fail => "FAIL",
            };
            writeln!(f, "  [{mark}] {}: {}", c.name, c.detail)?;
        }
        if let Some(rl) = &self.rate_limit {
            let word = if rl.limited { "limited" } else { "not limited" };
            writeln!(f, "  rate limit: {word} ({})", rl.detail)?;
        }
        if let Some(plan) = &self.plan {
            let totals: Vec<String> = plan
                .totals
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            writeln!(
                f,
                "  plan: {} ({} requests)",
                totals.join(", "),
                plan.requests()
            )?;
            for b in &plan.buckets {
                match (b.limit, b.window_ms) {
                    (Some(l), Some(w)) => writeln!(
                        f,
                        "    {:<45} {:>7} requests  at {l}/{} -> at least {}",
                        b.bucket,
                        b.requests,
                        format_duration(Duration::from_millis(w)),
                        format_duration(Duration::from_millis(b.min_duration_ms))
                    )?,
                    _ => writeln!(
                        f,
                        "    {:<45} {:>7} requests  (no limit)",
                        b.bucket, b.requests
                    )?,
                }
            }
            writeln!(
                f,
                "  estimated duration: {}",
                format_duration(plan.estimated())
            )?;
            for a in &plan.advice {
                writeln!(f, "  advice: {a}")?;
            }
        }
        let verdict = if self.sync_possible() {
            "a complete sync is possible"
        } else {
            "a complete sync is NOT possible"
        };
        write!(f, "  => {verdict}")
    }
}

/// `2 h 10 min`, `1 min 5 s`, `43 s` (whole seconds from 10 s up),
/// `9.5 s` (one decimal from 1 s to 10 s), `850 ms`. Truncates: a duration
/// is never shown longer than it is.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{} min {} s", secs / 60, secs % 60)
    } else if secs >= 10 {
        format!("{secs} s")
    } else if secs >= 1 {
        format!("{secs}.{} s", d.subsec_millis() / 100)
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_verdict_follows_failures() {
        let mut r = ValidationReport::new("rocketchat", "https://chat");
        r.push(Check::pass(
            CheckKind::Authenticated,
            "authenticated",
            "as admin",
        ));
        r.push(Check::warn(
            CheckKind::Enrichment,
            "enrichment",
            "no last login",
        ));
        assert!(r.sync_possible());
        r.push(Check::fail(
            CheckKind::Permission,
            "permission:view-all-teams",
            "missing",
        ));
        assert!(!r.sync_possible());
        assert!(r.failure_summary().contains("view-all-teams"));
        assert!(r.to_string().contains("NOT possible"));
    }

    #[test]
    fn bucket_plan_uses_fixed_window_arithmetic() {
        let b = BucketPlan::new(
            "GET /teams.members",
            5000,
            Some((10, Duration::from_secs(60))),
        );
        assert_eq!(b.min_duration_ms, 499 * 60_000);
        assert_eq!(
            format_duration(Duration::from_millis(b.min_duration_ms)),
            "8 h 19 min"
        );
    }

    #[test]
    fn durations_read_as_documented() {
        let f = |ms| format_duration(Duration::from_millis(ms));
        assert_eq!(f(7_800_000), "2 h 10 min");
        assert_eq!(f(65_000), "1 min 5 s");
        assert_eq!(f(59_999), "59 s");
        assert_eq!(f(43_000), "43 s");
        assert_eq!(f(43_900), "43 s");
        assert_eq!(f(10_000), "10 s");
        assert_eq!(f(9_999), "9.9 s");
        assert_eq!(f(9_500), "9.5 s");
        assert_eq!(f(1_000), "1.0 s");
        assert_eq!(f(850), "850 ms");
    }
}
