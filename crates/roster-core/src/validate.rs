//! What `validate()` reports: checks (connectivity, credentials, each
//! permission and why it matters), the token's rate-limit status, and the
//! [`Plan`] of the sync (made by [`crate::plan`]).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

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
