//! `roster report licenses`: one row per user account with the columns
//! licence managers use for seat counting, plus totals.

use std::collections::HashMap;
use std::io::Write;

use roster_core::{AccountType, Resource, ResourceType, Snapshot, Timestamp, UserStatus};
use serde::Serialize;

/// Column headers, in order.
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
    /// Enabled, but no activity or login within the window (or never).
    Inactive,
    /// Disabled account.
    Deactivated,
}

impl SeatStatus {
    fn as_str(self) -> &'static str {
        match self {
            SeatStatus::Active => "active",
            SeatStatus::Inactive => "inactive",
            SeatStatus::Deactivated => "deactivated",
        }
    }
}

/// One user row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Native id.
    pub user_id: String,
    /// Primary e-mail, empty when unknown.
    pub email: String,
    /// Login.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Seat status.
    pub status: SeatStatus,
    /// System roles (Mattermost) or roles (Rocket.Chat, by name).
    pub roles: Vec<String>,
    /// Mattermost position; empty elsewhere.
    pub position: String,
    /// Account creation.
    pub created: Option<Timestamp>,
    /// Latest of last activity and last login.
    pub last_activity: Option<Timestamp>,
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
    /// … of which inactive.
    pub inactive: u64,
    /// Disabled human accounts.
    pub deactivated: u64,
    /// Bot / service accounts (any status).
    pub bots: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseReport {
    /// `mattermost` or `rocketchat`.
    pub connector: String,
    /// The server.
    pub source: String,
    /// The reference time for "inactive".
    pub as_of: Timestamp,
    /// Days without activity after which an enabled user is inactive.
    pub inactive_days: u64,
    /// One row per user, sorted by username.
    pub users: Vec<Row>,
    /// Totals.
    pub totals: Totals,
}

impl LicenseReport {
    /// Builds the report; `as_of` defaults to when the snapshot was taken.
    pub fn new(snap: &Snapshot, as_of: Option<Timestamp>, inactive_days: u64) -> Self {
        let header = snap.header.as_ref();
        let as_of = as_of
            .or_else(|| header.map(|h| h.started_at))
            .unwrap_or_else(Timestamp::now);
        let role_names: HashMap<&str, &str> = snap
            .resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::Role)
            .map(|r| (r.id.as_str(), r.display_name.as_str()))
            .collect();
        let window_ms = i64::try_from(inactive_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
        let mut totals = Totals::default();
        let mut users: Vec<Row> = snap
            .resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::User)
            .map(|r| row(r, &role_names, as_of, window_ms))
            .collect();
        users.sort_by(|a, b| {
            a.username
                .to_lowercase()
                .cmp(&b.username.to_lowercase())
                .then_with(|| a.user_id.cmp(&b.user_id))
        });
        for u in &users {
            totals.users += 1;
            if u.account == "bot" {
                totals.bots += 1;
                continue;
            }
            match u.status {
                SeatStatus::Deactivated => totals.deactivated += 1,
                SeatStatus::Active => {
                    totals.active_seats += 1;
                    totals.active += 1;
                }
                SeatStatus::Inactive => {
                    totals.active_seats += 1;
                    totals.inactive += 1;
                }
            }
        }
        Self {
            connector: header.map(|h| h.connector.clone()).unwrap_or_default(),
            source: header.map(|h| h.source.clone()).unwrap_or_default(),
            as_of,
            inactive_days,
            users,
            totals,
        }
    }

    fn cells(row: &Row, date_only: bool) -> [String; 10] {
        let ts = |t: Option<Timestamp>| match t {
            None => String::new(),
            Some(t) if date_only => t.to_string().chars().take(10).collect(),
            Some(t) => t.to_string(),
        };
        [
            row.user_id.clone(),
            row.email.clone(),
            row.username.clone(),
            row.name.clone(),
            row.status.as_str().to_owned(),
            row.roles.join(" "),
            row.position.clone(),
            ts(row.created),
            if row.last_activity.is_none() {
                if date_only {
                    "never".into()
                } else {
                    String::new()
                }
            } else {
                ts(row.last_activity)
            },
            row.account.to_owned(),
        ]
    }

    /// Aligned columns and a totals block.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let rows: Vec<[String; 10]> = self
            .users
            .iter()
            .map(|r| Self::cells(r, true).map(|c| crate::escape::term(&c).into_owned()))
            .collect();
        let mut widths = COLUMNS.map(|c| c.chars().count());
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
                }
            }
            s.trim_end().to_owned()
        };
        let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        writeln!(out, "{}", line(&header))?;
        for r in &rows {
            writeln!(out, "{}", line(r))?;
        }
        let t = self.totals;
        writeln!(out)?;
        writeln!(
            out,
            "{} users in {} ({}), as of {} (inactive = enabled, no activity or login in {} days)",
            t.users,
            crate::escape::term(&self.connector),
            crate::escape::term(&self.source),
            self.as_of.to_string().chars().take(10).collect::<String>(),
            self.inactive_days
        )?;
        writeln!(
            out,
            "active seats: {}  ({} active, {} inactive)",
            t.active_seats, t.active, t.inactive
        )?;
        writeln!(out, "deactivated:  {}", t.deactivated)?;
        writeln!(out, "bots:         {}", t.bots)
    }

    /// RFC 4180 CSV with a header row (totals go to stderr, not into the CSV).
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let join = |cells: &[String]| {
            cells
                .iter()
                .map(|c| crate::escape::csv_cell(c))
                .collect::<Vec<_>>()
                .join(",")
        };
        let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
        write!(out, "{}\r\n", join(&header))?;
        for r in &self.users {
            write!(out, "{}\r\n", join(&Self::cells(r, false)))?;
        }
        Ok(())
    }

    /// One line of totals (for stderr next to CSV output).
    pub fn totals_line(&self) -> String {
        let t = self.totals;
        format!(
            "{} users: {} active seats ({} active, {} inactive), {} deactivated, {} bots",
            t.users, t.active_seats, t.active, t.inactive, t.deactivated, t.bots
        )
    }
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn row(r: &Resource, role_names: &HashMap<&str, &str>, as_of: Timestamp, window_ms: i64) -> Row {
    let user = r.user.as_ref();
    // Mattermost: `system_roles`; Rocket.Chat: `roles` (ids, shown by name).
    let roles = if r.profile.contains_key("system_roles") {
        strings(r.profile.get("system_roles"))
    } else {
        strings(r.profile.get("roles"))
            .into_iter()
            .map(|id| {
                role_names
                    .get(id.as_str())
                    .map_or(id.clone(), |n| (*n).to_owned())
            })
            .collect()
    };
    let last_activity = user.and_then(|u| match (u.last_activity_at, u.last_login_at) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    });
    let status = match user.map(|u| u.status) {
        Some(UserStatus::Disabled) => SeatStatus::Deactivated,
        _ => match last_activity {
            Some(t) if as_of.unix_millis().saturating_sub(t.unix_millis()) <= window_ms => {
                SeatStatus::Active
            }
            _ => SeatStatus::Inactive,
        },
    };
    Row {
        user_id: r.id.to_string(),
        email: user
            .and_then(|u| u.emails.first().cloned())
            .unwrap_or_default(),
        username: user.map(|u| u.login.clone()).unwrap_or_default(),
        name: r.display_name.clone(),
        status,
        roles,
        position: r
            .profile
            .get("position")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        created: user.and_then(|u| u.created_at),
        last_activity,
        account: match user.map(|u| u.account_type) {
            Some(AccountType::Service) => "bot",
            _ => "human",
        },
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
    use roster_core::{Header, Record, UserTraits};

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

    #[test]
    fn statuses_and_totals() {
        let mut s = Snapshot::default();
        s.push(Record::Header(Header::new("mattermost", "https://x")))
            .unwrap();
        for r in [
            user(
                "a",
                UserStatus::Enabled,
                AccountType::Human,
                Some("2025-06-20T00:00:00Z"),
            ),
            user(
                "b",
                UserStatus::Enabled,
                AccountType::Human,
                Some("2025-01-01T00:00:00Z"),
            ),
            user("c", UserStatus::Enabled, AccountType::Human, None),
            user("d", UserStatus::Disabled, AccountType::Human, None),
            user("e", UserStatus::Enabled, AccountType::Service, None),
        ] {
            s.push(r).unwrap();
        }
        let rep = LicenseReport::new(&s, parse_as_of("2025-06-30").ok(), 30);
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
                deactivated: 1,
                bots: 1
            }
        );
        let mut csv = Vec::new();
        rep.write_csv(&mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with(
            "User ID,Email,Username,Name,Status,Roles,Position,Created,Last Activity,Type\r\n"
        ));
        assert!(csv.contains("a,a@x,a,\"Name, a\",active,system_user system_admin,,,2025-06-20T00:00:00Z,human\r\n"), "{csv}");
    }
}
