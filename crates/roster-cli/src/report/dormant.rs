//! `roster report dormant`: enabled accounts with no login or activity in
//! N days (or never), privileged first. Accounts whose activity is unknown
//! are counted apart and never reported as dormant.

use std::io::Write;

use roster_core::Timestamp;
use serde::Serialize;

use super::html::{Chart, Page};
use super::{Access, Platform, Seen, Table, platform_title};

/// One dormant account.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// Native id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// Login.
    pub login: String,
    /// Primary e-mail.
    pub email: String,
    /// `human` or `bot`.
    #[serde(rename = "type")]
    pub account: &'static str,
    /// Elevated access (privileged accounts come first).
    pub access: Vec<Access>,
    /// Last activity (`never` or a time).
    pub last_activity: Seen,
    /// Days since the last activity (`None`: never).
    pub days: Option<i64>,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Dormant {
    /// Reference time (`--as-of`, else the latest snapshot's time).
    pub as_of: Timestamp,
    /// The threshold in days.
    pub days: u64,
    /// Enabled accounts considered.
    pub enabled: u64,
    /// Dormant accounts, privileged first, then longest dormant first.
    pub rows: Vec<Row>,
    /// … of which privileged.
    pub privileged: u64,
    /// Enabled accounts whose activity is unknown (not judged).
    pub unknown: u64,
    /// Enabled accounts per activity age bucket (for the histogram).
    pub histogram: Vec<(String, u64)>,
    /// Why activity is unknown, per platform where it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

const BUCKETS: &[(&str, i64)] = &[
    ("≤7 d", 7),
    ("8–30 d", 30),
    ("31–90 d", 90),
    ("91–180 d", 180),
    ("181–365 d", 365),
    (">1 y", i64::MAX),
];

impl Dormant {
    /// Builds the report.
    pub fn new(platforms: &[Platform], as_of: Option<Timestamp>, days: u64) -> Self {
        let mut rows = Vec::new();
        let mut enabled = 0;
        let mut unknown = 0;
        let mut hist: Vec<(String, u64)> = BUCKETS
            .iter()
            .map(|(l, _)| ((*l).to_owned(), 0))
            .chain([("never".to_owned(), 0), ("unknown".to_owned(), 0)])
            .collect();
        let n = BUCKETS.len();
        for p in platforms {
            let at = p.as_of(as_of);
            for a in p.accounts.iter().filter(|a| a.enabled) {
                enabled += 1;
                match a.seen.days_before(at) {
                    Some(d) => {
                        let i = BUCKETS
                            .iter()
                            .position(|(_, max)| d <= *max)
                            .unwrap_or(n - 1);
                        hist[i].1 += 1;
                    }
                    None if a.seen == Seen::Never => hist[n].1 += 1,
                    None => hist[n + 1].1 += 1,
                }
                if a.seen == Seen::Unknown {
                    unknown += 1;
                    continue;
                }
                if a.seen.dormant(at, days) {
                    rows.push(Row {
                        platform: a.platform.clone(),
                        user_id: a.id.clone(),
                        name: a.name.clone(),
                        login: a.login.clone(),
                        email: a.email().to_owned(),
                        account: a.kind(),
                        access: a.access.clone(),
                        last_activity: a.seen,
                        days: a.seen.days_before(at),
                    });
                }
            }
        }
        rows.sort_by(|a, b| {
            a.access
                .is_empty()
                .cmp(&b.access.is_empty())
                .then_with(|| b.days.unwrap_or(i64::MAX).cmp(&a.days.unwrap_or(i64::MAX)))
                .then_with(|| a.login.to_lowercase().cmp(&b.login.to_lowercase()))
        });
        let privileged = rows.iter().filter(|r| !r.access.is_empty()).count() as u64;
        Self {
            as_of: as_of
                .or_else(|| platforms.iter().filter_map(|p| p.taken_at).max())
                .unwrap_or_else(Timestamp::now),
            days,
            enabled,
            rows,
            privileged,
            unknown,
            histogram: hist,
            notes: platforms
                .iter()
                .filter_map(Platform::unknown_note)
                .collect(),
        }
    }

    /// The dormant accounts as a table.
    pub fn table(&self, date_only: bool) -> Table {
        let mut t = Table::new(&[
            "Platform",
            "Name",
            "Login",
            "Email",
            "Type",
            "Privileged Access",
            "Last Activity",
            "Days",
        ]);
        for r in &self.rows {
            t.rows.push(vec![
                platform_title(&r.platform),
                r.name.clone(),
                r.login.clone(),
                r.email.clone(),
                r.account.to_owned(),
                r.access
                    .iter()
                    .map(Access::label)
                    .collect::<Vec<_>>()
                    .join("; "),
                r.last_activity.text(date_only),
                r.days.map_or_else(|| "never".to_owned(), |d| d.to_string()),
            ]);
        }
        t
    }

    /// One summary line.
    pub fn summary_line(&self) -> String {
        format!(
            "{} of {} enabled accounts dormant (no login or activity in {} days), {} of them privileged; {} with unknown activity not judged",
            self.rows.len(),
            self.enabled,
            self.days,
            self.privileged,
            self.unknown
        )
    }

    /// Aligned text and the summary.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.table(true).write_text(out)?;
        writeln!(out)?;
        writeln!(out, "{}", self.summary_line())
    }

    /// The HTML page.
    pub fn page(&self) -> Page {
        let mut page = Page::new(
            "Dormant accounts",
            &format!(
                "Enabled accounts with no login or activity in {} days before {}, privileged \
                 first. Unknown activity is counted apart, never as dormant.",
                self.days,
                self.as_of.to_string().chars().take(10).collect::<String>()
            ),
        );
        page.figure("enabled accounts", &self.enabled.to_string());
        page.figure("dormant", &self.rows.len().to_string());
        page.figure("dormant and privileged", &self.privileged.to_string());
        page.figure("unknown activity", &self.unknown.to_string());
        for n in &self.notes {
            page.note(n);
        }
        page.chart(Chart::Histogram(
            "Enabled accounts by time since last activity".to_owned(),
            self.histogram.clone(),
        ));
        page.table("Dormant accounts", self.table(true));
        page
    }
}
