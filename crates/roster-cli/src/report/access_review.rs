//! `roster report access-review`: everyone holding elevated access, per
//! platform, with the flags a reviewer acts on, and — with `--since` — what
//! was added and removed since older snapshots.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use roster_core::Timestamp;
use serde::Serialize;

use super::html::{Chart, Page};
use super::{Access, Account, Platform, Seen, Table, platform_title};

/// Something a reviewer should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// Privileged but deactivated (the access comes back on reactivation).
    Deactivated,
    /// Privileged, enabled, and no activity in `--dormant-days`.
    Dormant,
    /// A service account (bot / app) holding admin.
    ServiceAdmin,
    /// A guest with elevated access.
    GuestElevated,
    /// Privileged with no e-mail address (cannot be traced to a person).
    NoEmail,
}

impl Flag {
    /// The flag's name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Deactivated => "deactivated",
            Flag::Dormant => "dormant",
            Flag::ServiceAdmin => "service-admin",
            Flag::GuestElevated => "guest-elevated",
            Flag::NoEmail => "no-email",
        }
    }
}

/// One privileged account.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// The server.
    pub source: String,
    /// Native id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// Login.
    pub login: String,
    /// Primary e-mail (empty when none).
    pub email: String,
    /// `human` or `bot`.
    #[serde(rename = "type")]
    pub account: &'static str,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// Guest account.
    pub guest: bool,
    /// Where the access is.
    pub access: Vec<Access>,
    /// Last activity.
    pub last_activity: Seen,
    /// Flags.
    pub flags: Vec<Flag>,
}

/// Access added or removed since an older snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `added` or `removed`.
    pub change: &'static str,
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// Native user id.
    pub user_id: String,
    /// Login.
    pub login: String,
    /// Name.
    pub name: String,
    /// The access.
    pub access: Access,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct AccessReview {
    /// Reference time (`--as-of`, else the latest snapshot's time).
    pub as_of: Timestamp,
    /// Days without activity after which privileged access is dormant.
    pub dormant_days: u64,
    /// Privileged accounts, by platform, then flagged first, then login.
    pub rows: Vec<Row>,
    /// Accounts per flag.
    pub flagged: BTreeMap<&'static str, u64>,
    /// Privileged accounts per platform.
    pub per_platform: BTreeMap<String, u64>,
    /// Changes since `--since` (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<Change>>,
    /// Platforms `--since` had no older snapshot of.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_compared: Vec<String>,
    /// How snapshots were paired when their URLs differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn is_admin(a: &Account) -> bool {
    a.access.iter().any(|x| {
        (x.kind == "system role" && x.role == "system_admin")
            || (x.kind == "workspace role" && x.role == "admin")
    })
}

fn flags(a: &Account, as_of: Timestamp, days: u64) -> Vec<Flag> {
    let mut f = Vec::new();
    if !a.enabled {
        f.push(Flag::Deactivated);
    } else if a.seen.dormant(as_of, days) {
        f.push(Flag::Dormant);
    }
    if a.service && is_admin(a) {
        f.push(Flag::ServiceAdmin);
    }
    if a.guest {
        f.push(Flag::GuestElevated);
    }
    if a.emails.iter().all(|e| e.trim().is_empty()) {
        f.push(Flag::NoEmail);
    }
    f
}

impl AccessReview {
    /// Builds the review of `platforms`; `since` are older snapshots to
    /// compare with (matched by connector and source).
    pub fn new(
        platforms: &[Platform],
        since: Option<&[Platform]>,
        as_of: Option<Timestamp>,
        dormant_days: u64,
    ) -> Self {
        let mut rows = Vec::new();
        let mut flagged: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut per_platform: BTreeMap<String, u64> = BTreeMap::new();
        for p in platforms {
            let at = p.as_of(as_of);
            let mut these: Vec<Row> = p
                .accounts
                .iter()
                .filter(|a| a.privileged())
                .map(|a| Row {
                    platform: a.platform.clone(),
                    source: a.source.clone(),
                    user_id: a.id.clone(),
                    name: a.name.clone(),
                    login: a.login.clone(),
                    email: a.email().to_owned(),
                    account: a.kind(),
                    status: a.status(),
                    guest: a.guest,
                    access: a.access.clone(),
                    last_activity: a.seen,
                    flags: flags(a, at, dormant_days),
                })
                .collect();
            these.sort_by_key(|r| r.flags.is_empty());
            *per_platform.entry(p.connector.clone()).or_default() += these.len() as u64;
            for r in &these {
                for f in &r.flags {
                    *flagged.entry(f.as_str()).or_default() += 1;
                }
            }
            rows.extend(these);
        }
        let mut not_compared = Vec::new();
        let mut notes = Vec::new();
        let changes = since.map(|old| {
            let mut changes = Vec::new();
            for p in platforms {
                let mut olds: Vec<&Platform> = old
                    .iter()
                    .filter(|o| o.connector == p.connector && o.source == p.source)
                    .collect();
                let same_kind: Vec<&Platform> =
                    old.iter().filter(|o| o.connector == p.connector).collect();
                if olds.is_empty() && same_kind.len() == 1 {
                    // One older snapshot of this platform, from another
                    // URL (the server moved, or a different base URL).
                    notes.push(format!(
                        "{} {} compared with the older snapshot of {}",
                        p.title(),
                        p.source,
                        same_kind[0].source
                    ));
                    olds = same_kind;
                }
                if olds.is_empty() {
                    not_compared.push(format!("{} {}", p.title(), p.source));
                    continue;
                }
                let keyed = |accounts: &mut dyn Iterator<Item = &Account>| {
                    let mut m: HashMap<(String, String), (Account, Access)> = HashMap::new();
                    for a in accounts {
                        for x in &a.access {
                            m.insert((a.id.clone(), x.key()), (a.clone(), x.clone()));
                        }
                    }
                    m
                };
                let now = keyed(&mut p.accounts.iter());
                let before = keyed(&mut olds.iter().flat_map(|o| o.accounts.iter()));
                let mut push = |change: &'static str, (a, x): &(Account, Access)| {
                    changes.push(Change {
                        change,
                        platform: a.platform.clone(),
                        user_id: a.id.clone(),
                        login: a.login.clone(),
                        name: a.name.clone(),
                        access: x.clone(),
                    });
                };
                for (k, v) in &now {
                    if !before.contains_key(k) {
                        push("added", v);
                    }
                }
                for (k, v) in &before {
                    if !now.contains_key(k) {
                        push("removed", v);
                    }
                }
            }
            changes.sort_by(|a, b| {
                (a.change, &a.platform, a.login.to_lowercase(), &a.access).cmp(&(
                    b.change,
                    &b.platform,
                    b.login.to_lowercase(),
                    &b.access,
                ))
            });
            changes
        });
        notes.extend(platforms.iter().filter_map(Platform::unknown_note));
        Self {
            as_of: as_of
                .or_else(|| platforms.iter().filter_map(|p| p.taken_at).max())
                .unwrap_or_else(Timestamp::now),
            dormant_days,
            rows,
            flagged,
            per_platform,
            changes,
            not_compared,
            notes,
        }
    }

    fn access_text(access: &[Access]) -> String {
        access
            .iter()
            .map(Access::label)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn flags_text(flags: &[Flag]) -> String {
        flags
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The privileged accounts as a table; with `--since`, a `Change`
    /// column and one row per removed access.
    pub fn table(&self, date_only: bool) -> Table {
        self.build(date_only, self.changes.as_ref())
    }

    fn build(&self, date_only: bool, changes: Option<&Vec<Change>>) -> Table {
        let mut cols = vec![
            "Platform",
            "Name",
            "Login",
            "Email",
            "Type",
            "Status",
            "Access",
            "Last Activity",
            "Flags",
        ];
        if changes.is_some() {
            cols.push("Change");
        }
        let mut t = Table::new(&cols);
        for r in &self.rows {
            let mut row = vec![
                platform_title(&r.platform),
                r.name.clone(),
                r.login.clone(),
                r.email.clone(),
                r.account.to_owned(),
                r.status.to_owned(),
                Self::access_text(&r.access),
                r.last_activity.text(date_only),
                Self::flags_text(&r.flags),
            ];
            if let Some(changes) = changes {
                let added: Vec<String> = changes
                    .iter()
                    .filter(|c| {
                        c.change == "added" && c.user_id == r.user_id && c.platform == r.platform
                    })
                    .map(|c| c.access.label())
                    .collect();
                row.push(if added.is_empty() {
                    String::new()
                } else {
                    format!("added: {}", added.join("; "))
                });
            }
            t.rows.push(row);
        }
        if let Some(changes) = changes {
            for c in changes.iter().filter(|c| c.change == "removed") {
                t.rows.push(vec![
                    platform_title(&c.platform),
                    c.name.clone(),
                    c.login.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("removed: {}", c.access.label()),
                ]);
            }
        }
        t
    }

    fn changes_table(changes: &[Change]) -> Table {
        let mut t = Table::new(&["Change", "Platform", "Name", "Login", "Access"]);
        for c in changes {
            t.rows.push(vec![
                c.change.to_owned(),
                platform_title(&c.platform),
                c.name.clone(),
                c.login.clone(),
                c.access.label(),
            ]);
        }
        t
    }

    /// One summary line.
    pub fn summary_line(&self) -> String {
        let per: Vec<String> = self
            .per_platform
            .iter()
            .map(|(p, n)| format!("{} {n}", platform_title(p)))
            .collect();
        let flags: Vec<String> = self
            .flagged
            .iter()
            .map(|(f, n)| format!("{n} {f}"))
            .collect();
        let mut s = format!(
            "{} privileged accounts ({}); flagged: {}",
            self.rows.len(),
            per.join(", "),
            if flags.is_empty() {
                "none".to_owned()
            } else {
                flags.join(", ")
            }
        );
        if let Some(c) = &self.changes {
            let added = c.iter().filter(|c| c.change == "added").count();
            let _ = std::fmt::Write::write_fmt(
                &mut s,
                format_args!(
                    "; since the older snapshot(s): {added} added, {} removed",
                    c.len() - added
                ),
            );
        }
        s
    }

    /// Aligned text: the accounts, then changes, then the summary.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        // The text form lists changes separately.
        self.build(true, None).write_text(out)?;
        if let Some(changes) = &self.changes {
            writeln!(out)?;
            writeln!(out, "Changes since the older snapshot(s):")?;
            if changes.is_empty() {
                writeln!(out, "  none")?;
            } else {
                Self::changes_table(changes).write_text(out)?;
            }
        }
        writeln!(out)?;
        writeln!(out, "{}", self.summary_line())?;
        for n in &self.notes {
            writeln!(out, "{}", crate::escape::term(n))?;
        }
        for p in &self.not_compared {
            writeln!(
                out,
                "no older snapshot of {} was given",
                crate::escape::term(p)
            )?;
        }
        Ok(())
    }

    /// The HTML page.
    pub fn page(&self) -> Page {
        let mut page = Page::new(
            "Access review",
            &format!(
                "Everyone holding elevated access, as of {}. Dormant = no activity or login in {} \
                 days; unknown activity is never counted as dormant.",
                self.as_of.to_string().chars().take(10).collect::<String>(),
                self.dormant_days
            ),
        );
        page.figure("privileged accounts", &self.rows.len().to_string());
        for (p, n) in &self.per_platform {
            page.figure(&format!("{} privileged", platform_title(p)), &n.to_string());
        }
        for f in [
            Flag::Deactivated,
            Flag::Dormant,
            Flag::ServiceAdmin,
            Flag::GuestElevated,
            Flag::NoEmail,
        ] {
            page.figure(
                f.as_str(),
                &self
                    .flagged
                    .get(f.as_str())
                    .copied()
                    .unwrap_or(0)
                    .to_string(),
            );
        }
        if let Some(c) = &self.changes {
            let added = c.iter().filter(|c| c.change == "added").count();
            page.figure("access added", &added.to_string());
            page.figure("access removed", &(c.len() - added).to_string());
        }
        for n in &self.notes {
            page.note(n);
        }
        for p in &self.not_compared {
            page.note(&format!(
                "No older snapshot of {p} was given: not compared."
            ));
        }
        page.chart(Chart::Histogram(
            "Flags".to_owned(),
            [
                Flag::Deactivated,
                Flag::Dormant,
                Flag::ServiceAdmin,
                Flag::GuestElevated,
                Flag::NoEmail,
            ]
            .iter()
            .map(|f| {
                (
                    f.as_str().to_owned(),
                    self.flagged.get(f.as_str()).copied().unwrap_or(0),
                )
            })
            .collect(),
        ));
        page.table("Privileged accounts", self.build(true, None));
        if let Some(c) = &self.changes {
            page.table(
                "Changes since the older snapshot(s)",
                Self::changes_table(c),
            );
        }
        page
    }
}
