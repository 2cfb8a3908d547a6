//! `roster report licenses`: one row per user account with the columns
//! licence managers use for seat counting, what each server says it
//! licenses, and seats licensed / used / reclaimable per platform.

use std::io::Write;

use roster_core::Timestamp;
use serde::Serialize;

use super::html::{Chart, Page};
use super::{Account, Platform, Seen, Table};

/// Column headers, in order (a `Platform` column comes first when several
/// snapshots are read together).
pub const COLUMNS: [&str; 10] = [
    "User ID",
    "Email",
    "Username",
    "Name",
    "Status",
    "Roles",
    "Position",
    "Created",
    "Last Activity",
    "Type",
];

/// A seat status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatStatus {
    /// Enabled, with activity or a login within the window.
    Active,
    /// Enabled, and the platform reports no activity or login within the
    /// window (or never).
    Inactive,
    /// Enabled, but the snapshot cannot say when it was last used.
    Unknown,
    /// Disabled account.
    Deactivated,
}

impl SeatStatus {
    fn as_str(self) -> &'static str {
        match self {
            SeatStatus::Active => "active",
            SeatStatus::Inactive => "inactive",
            SeatStatus::Unknown => "unknown",
            SeatStatus::Deactivated => "deactivated",
        }
    }
}

/// One user row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// Native id.
    pub user_id: String,
    /// Primary e-mail, empty when unknown.
    pub email: String,
    /// Login.
    pub username: String,
    /// First + last name, else display name / nickname.
    pub name: String,
    /// Seat status.
    pub status: SeatStatus,
    /// System roles (Mattermost) or roles (Rocket.Chat, by name).
    pub roles: Vec<String>,
    /// Team roles beyond membership (`team admin of X`, `guest of Y`, `owner of Z`).
    pub team_roles: Vec<String>,
    /// Mattermost position; empty elsewhere.
    pub position: String,
    /// Account creation.
    pub created: Option<Timestamp>,
    /// Latest of last activity and last login (`null` when never or unknown).
    pub last_activity: Option<Timestamp>,
    /// `never`, `unknown` or the date.
    pub last_activity_text: String,
    /// `human` or `bot`.
    #[serde(rename = "type")]
    pub account: &'static str,
}

/// Seat totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Every user account.
    pub users: u64,
    /// Enabled human accounts (what a seat licence counts).
    pub active_seats: u64,
    /// … of which active within the window.
    pub active: u64,
    /// … of which inactive (known to be).
    pub inactive: u64,
    /// … of which the activity is unknown.
    pub unknown: u64,
    /// Disabled human accounts.
    pub deactivated: u64,
    /// Bot / service accounts (any status).
    pub bots: u64,
}

impl Totals {
    fn add(&mut self, status: SeatStatus, bot: bool) {
        self.users += 1;
        if bot {
            self.bots += 1;
            return;
        }
        match status {
            SeatStatus::Deactivated => self.deactivated += 1,
            SeatStatus::Active => {
                self.active_seats += 1;
                self.active += 1;
            }
            SeatStatus::Inactive => {
                self.active_seats += 1;
                self.inactive += 1;
            }
            SeatStatus::Unknown => {
                self.active_seats += 1;
                self.unknown += 1;
            }
        }
    }
}

/// Seats of one platform: what the server licenses and what is used.
#[derive(Debug, Clone, Serialize)]
pub struct Seats {
    /// `mattermost` or `rocketchat`.
    pub connector: String,
    /// The server.
    pub source: String,
    /// Server version, when reported.
    pub version: Option<String>,
    /// Edition / SKU, when reported.
    pub edition: Option<String>,
    /// Licensed seats; `None` when not reported or unlimited.
    pub licensed: Option<u64>,
    /// Enabled human accounts.
    pub used: u64,
    /// Enabled human accounts known to be inactive: seats that could be freed.
    pub reclaimable: u64,
    /// Enabled human accounts whose activity is unknown (not counted as reclaimable).
    pub unknown: u64,
    /// Totals of this platform.
    pub totals: Totals,
}

impl Seats {
    /// `500` or `not reported`.
    pub fn licensed_text(&self) -> String {
        self.licensed
            .map_or_else(|| "not reported".to_owned(), |n| n.to_string())
    }
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseReport {
    /// The connector, when one snapshot is reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// The server, when one snapshot is reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The reference time for "inactive" (`--as-of`; else each snapshot's own time).
    pub as_of: Timestamp,
    /// Days without activity after which an enabled user is inactive.
    pub inactive_days: u64,
    /// Seats per platform.
    pub platforms: Vec<Seats>,
    /// One row per user, sorted by platform, then username.
    pub users: Vec<Row>,
    /// Totals over every platform.
    pub totals: Totals,
    /// Why activity is unknown, per platform where it is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn status(a: &Account, as_of: Timestamp, days: u64) -> SeatStatus {
    if !a.enabled {
        return SeatStatus::Deactivated;
    }
    match a.seen {
        Seen::Unknown => SeatStatus::Unknown,
        s if s.dormant(as_of, days) => SeatStatus::Inactive,
        _ => SeatStatus::Active,
    }
}

impl LicenseReport {
    /// Builds the report; `as_of` defaults to when each snapshot was taken.
    pub fn new(platforms: &[Platform], as_of: Option<Timestamp>, inactive_days: u64) -> Self {
        let mut users = Vec::new();
        let mut seats = Vec::new();
        let mut totals = Totals::default();
        for p in platforms {
            let at = p.as_of(as_of);
            let mut t = Totals::default();
            for a in &p.accounts {
                let st = status(a, at, inactive_days);
                t.add(st, a.service);
                totals.add(st, a.service);
                users.push(Row {
                    platform: a.platform.clone(),
                    user_id: a.id.clone(),
                    email: a.email().to_owned(),
                    username: a.login.clone(),
                    name: a.name.clone(),
                    status: st,
                    roles: a.roles.clone(),
                    team_roles: a.team_roles.clone(),
                    position: a.position.clone(),
                    created: a.created,
                    last_activity: match a.seen {
                        Seen::At(t) => Some(t),
                        _ => None,
                    },
                    last_activity_text: a.seen.text(true),
                    account: a.kind(),
                });
            }
            let server = p.server.clone().unwrap_or_default();
            seats.push(Seats {
                connector: p.connector.clone(),
                source: p.source.clone(),
                version: server.version,
                edition: server.edition,
                licensed: server.licensed_seats,
                used: t.active_seats,
                reclaimable: t.inactive,
                unknown: t.unknown,
                totals: t,
            });
        }
        let single = platforms.len() == 1;
        Self {
            connector: single.then(|| platforms[0].connector.clone()),
            source: single.then(|| platforms[0].source.clone()),
            as_of: as_of
                .or_else(|| platforms.iter().filter_map(|p| p.taken_at).max())
                .unwrap_or_else(Timestamp::now),
            inactive_days,
            platforms: seats,
            users,
            totals,
            notes: platforms
                .iter()
                .filter_map(Platform::unknown_note)
                .collect(),
        }
    }

    fn multi(&self) -> bool {
        self.platforms.len() > 1
    }

    /// The rows as a [`Table`] (`date_only` for people, full times for CSV).
    pub fn table(&self, date_only: bool) -> Table {
        let mut cols: Vec<&str> = Vec::new();
        if self.multi() {
            cols.push("Platform");
        }
        cols.extend(COLUMNS);
        let mut table = Table::new(&cols);
        let ts = |t: Option<Timestamp>| match t {
            None => String::new(),
            Some(t) if date_only => t.to_string().chars().take(10).collect(),
            Some(t) => t.to_string(),
        };
        for r in &self.users {
            let mut row = Vec::with_capacity(11);
            if self.multi() {
                row.push(super::platform_title(&r.platform));
            }
            row.extend([
                r.user_id.clone(),
                r.email.clone(),
                r.username.clone(),
                r.name.clone(),
                r.status.as_str().to_owned(),
                if r.team_roles.is_empty() {
                    r.roles.join(" ")
                } else {
                    format!("{}; {}", r.roles.join(" "), r.team_roles.join("; "))
                },
                r.position.clone(),
                ts(r.created),
                match r.last_activity {
                    Some(t) => ts(Some(t)),
                    None => r.last_activity_text.clone(),
                },
                r.account.to_owned(),
            ]);
            table.rows.push(row);
        }
        table
    }

    /// Aligned columns, then seats and totals per platform.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.table(true).write_text(out)?;
        writeln!(out)?;
        for s in &self.platforms {
            let t = s.totals;
            writeln!(
                out,
                "{} ({}): {} users, as of {} (inactive = enabled, no activity or login in {} days)",
                super::platform_title(&s.connector),
                crate::escape::term(&s.source),
                t.users,
                self.as_of.to_string().chars().take(10).collect::<String>(),
                self.inactive_days
            )?;
            writeln!(
                out,
                "  server:       {} {}",
                crate::escape::term(s.version.as_deref().unwrap_or("version not reported")),
                crate::escape::term(s.edition.as_deref().unwrap_or("(edition not reported)"))
            )?;
            writeln!(
                out,
                "  seats:        licensed {}, used {}, reclaimable {}{}",
                s.licensed_text(),
                s.used,
                s.reclaimable,
                if s.unknown > 0 {
                    format!(" ({} with unknown activity not counted)", s.unknown)
                } else {
                    String::new()
                }
            )?;
            writeln!(
                out,
                "  active seats: {}  ({} active, {} inactive, {} unknown)",
                t.active_seats, t.active, t.inactive, t.unknown
            )?;
            writeln!(out, "  deactivated:  {}", t.deactivated)?;
            writeln!(out, "  bots:         {}", t.bots)?;
        }
        Ok(())
    }

    /// RFC 4180 CSV with a header row (totals go to stderr, not into the CSV).
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.table(false).write_csv(out)
    }

    /// One line of totals per platform (for stderr next to CSV output).
    pub fn totals_lines(&self) -> Vec<String> {
        self.platforms
            .iter()
            .map(|s| {
                let t = s.totals;
                format!(
                    "{}: {} users: {} active seats ({} active, {} inactive, {} unknown), {} deactivated, {} bots; seats licensed {}, used {}, reclaimable {}",
                    super::platform_title(&s.connector),
                    t.users,
                    t.active_seats,
                    t.active,
                    t.inactive,
                    t.unknown,
                    t.deactivated,
                    t.bots,
                    s.licensed_text(),
                    s.used,
                    s.reclaimable
                )
            })
            .collect()
    }

    /// The HTML page: seats per platform, a seats chart, then the table.
    pub fn page(&self) -> Page {
        let mut page = Page::new(
            "Licence report",
            &format!(
                "As of {}; inactive = enabled, no activity or login in {} days; unknown = the \
                 snapshot cannot say (never counted as inactive).",
                self.as_of.to_string().chars().take(10).collect::<String>(),
                self.inactive_days
            ),
        );
        for s in &self.platforms {
            let title = super::platform_title(&s.connector);
            page.figure(&format!("{title} seats licensed"), &s.licensed_text());
            page.figure(&format!("{title} seats used"), &s.used.to_string());
            page.figure(&format!("{title} reclaimable"), &s.reclaimable.to_string());
            page.figure(
                &format!("{title} unknown activity"),
                &s.totals.unknown.to_string(),
            );
            page.note(&format!(
                "{title} {}: version {}, edition {}.",
                s.source,
                s.version.as_deref().unwrap_or("not reported"),
                s.edition.as_deref().unwrap_or("not reported")
            ));
        }
        for n in &self.notes {
            page.note(n);
        }
        page.chart(Chart::Seats(
            self.platforms
                .iter()
                .map(|s| {
                    (
                        super::platform_title(&s.connector),
                        s.used,
                        s.reclaimable,
                        s.licensed,
                    )
                })
                .collect(),
        ));
        page.table("Accounts", self.table(true));
        page
    }
}

/// Parses `--as-of`: RFC 3339 or a date (`2025-06-30`).
pub fn parse_as_of(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .or_else(|| Timestamp::parse_rfc3339(&format!("{text}T00:00:00Z")))
        .ok_or_else(|| format!("`{text}` is not a date (2025-06-30) or RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{
        AccountType, Header, Record, Resource, ResourceType, Snapshot, UserStatus, UserTraits,
    };

    fn user(id: &str, status: UserStatus, kind: AccountType, last: Option<&str>) -> Record {
        Record::Resource(
            Resource::new(ResourceType::User, id, format!("Name, {id}"))
                .with_user(UserTraits {
                    login: id.into(),
                    emails: vec![format!("{id}@x")],
                    status,
                    account_type: kind,
                    created_at: None,
                    last_login_at: None,
                    last_activity_at: last.and_then(Timestamp::parse_rfc3339),
                })
                .with_profile(
                    "system_roles",
                    serde_json::json!(["system_user", "system_admin"]),
                ),
        )
    }

    fn snapshot(with_activity: bool) -> Snapshot {
        let mut s = Snapshot::default();
        s.push(Record::Header(Header::new("mattermost", "https://x")))
            .unwrap();
        let a = |t: &'static str| with_activity.then_some(t);
        for r in [
            user(
                "a",
                UserStatus::Enabled,
                AccountType::Human,
                a("2025-06-20T00:00:00Z"),
            ),
            user(
                "b",
                UserStatus::Enabled,
                AccountType::Human,
                a("2025-01-01T00:00:00Z"),
            ),
            user("c", UserStatus::Enabled, AccountType::Human, None),
            user("d", UserStatus::Disabled, AccountType::Human, None),
            user("e", UserStatus::Enabled, AccountType::Service, None),
        ] {
            s.push(r).unwrap();
        }
        s
    }

    #[test]
    fn statuses_and_totals() {
        let p = Platform::new(&snapshot(true));
        let rep = LicenseReport::new(&[p], parse_as_of("2025-06-30").ok(), 30);
        let st: Vec<_> = rep.users.iter().map(|u| u.status).collect();
        use SeatStatus::*;
        assert_eq!(st, [Active, Inactive, Inactive, Deactivated, Inactive]);
        assert_eq!(
            rep.totals,
            Totals {
                users: 5,
                active_seats: 3,
                active: 1,
                inactive: 2,
                unknown: 0,
                deactivated: 1,
                bots: 1
            }
        );
        assert_eq!(rep.platforms[0].licensed_text(), "not reported");
        assert_eq!(rep.platforms[0].reclaimable, 2);
        let mut csv = Vec::new();
        rep.write_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with(
            "User ID,Email,Username,Name,Status,Roles,Position,Created,Last Activity,Type\r\n"
        ));
        assert!(csv.contains("a,a@x,a,\"Name, a\",active,system_user system_admin,,,2025-06-20T00:00:00Z,human\r\n"), "{csv}");
    }

    #[test]
    fn no_activity_data_is_unknown_not_inactive() {
        let p = Platform::new(&snapshot(false));
        let rep = LicenseReport::new(&[p], parse_as_of("2025-06-30").ok(), 30);
        let st: Vec<_> = rep.users.iter().map(|u| u.status).collect();
        use SeatStatus::*;
        assert_eq!(st, [Unknown, Unknown, Unknown, Deactivated, Unknown]);
        assert_eq!(rep.totals.inactive, 0);
        assert_eq!(rep.totals.unknown, 3);
        assert_eq!(rep.platforms[0].reclaimable, 0);
    }
}
