//! `roster report offboarding`: for each person who left, every matching
//! account on every platform (by e-mail, case-insensitive, or login), its
//! status, teams and roles, and what still remains. Passes (exit 0) only
//! when every matched account is disabled and holds nothing.

use std::io::Write;

use serde::Serialize;

use super::html::Page;
use super::{Access, Platform, Table, platform_title};

/// One matched account.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// The server.
    pub source: String,
    /// Native id.
    pub user_id: String,
    /// Login.
    pub login: String,
    /// Name.
    pub name: String,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// Teams it is a member of.
    pub teams: Vec<String>,
    /// System / workspace roles and team roles.
    pub roles: Vec<String>,
    /// Elevated access.
    pub access: Vec<Access>,
    /// What still remains (empty: offboarded).
    pub remaining: Vec<String>,
}

/// One person and their accounts.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// The e-mail or login asked for.
    pub who: String,
    /// `offboarded`, `access remains` or `no account found`.
    pub verdict: &'static str,
    /// Matching accounts.
    pub accounts: Vec<Found>,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Offboarding {
    /// Every person asked for, in order.
    pub people: Vec<Person>,
    /// True when every matched account is disabled and holds nothing.
    pub passed: bool,
}

impl Offboarding {
    /// Checks `who` (e-mails or logins) against `platforms`.
    pub fn new(platforms: &[Platform], who: &[String]) -> Self {
        let mut people = Vec::new();
        for w in who {
            let mut accounts = Vec::new();
            for p in platforms {
                for a in p.accounts.iter().filter(|a| a.matches(w)) {
                    let mut remaining = Vec::new();
                    if a.enabled {
                        remaining.push("account enabled".to_owned());
                    }
                    for x in &a.access {
                        remaining.push(x.label());
                    }
                    if !a.teams.is_empty() {
                        remaining.push(format!("member of {} team(s)", a.teams.len()));
                    }
                    let mut roles = a.roles.clone();
                    roles.extend(a.team_roles.iter().cloned());
                    accounts.push(Found {
                        platform: a.platform.clone(),
                        source: a.source.clone(),
                        user_id: a.id.clone(),
                        login: a.login.clone(),
                        name: a.name.clone(),
                        emails: a.emails.clone(),
                        status: a.status(),
                        teams: a.teams.clone(),
                        roles,
                        access: a.access.clone(),
                        remaining,
                    });
                }
            }
            let verdict = if accounts.is_empty() {
                "no account found"
            } else if accounts.iter().all(|a| a.remaining.is_empty()) {
                "offboarded"
            } else {
                "access remains"
            };
            people.push(Person {
                who: w.clone(),
                verdict,
                accounts,
            });
        }
        let passed = people.iter().all(|p| p.verdict != "access remains");
        Self { people, passed }
    }

    /// One row per matched account (and one per person without a match).
    pub fn table(&self) -> Table {
        let mut t = Table::new(&[
            "Person",
            "Verdict",
            "Platform",
            "Login",
            "Name",
            "Email",
            "Status",
            "Teams",
            "Roles",
            "Remaining",
        ]);
        for p in &self.people {
            if p.accounts.is_empty() {
                let mut row = vec![p.who.clone(), p.verdict.to_owned()];
                row.extend(std::iter::repeat_n(String::new(), 8));
                t.rows.push(row);
            }
            for a in &p.accounts {
                t.rows.push(vec![
                    p.who.clone(),
                    p.verdict.to_owned(),
                    platform_title(&a.platform),
                    a.login.clone(),
                    a.name.clone(),
                    a.emails.join(" "),
                    a.status.to_owned(),
                    a.teams.join(", "),
                    a.roles.join(", "),
                    a.remaining.join("; "),
                ]);
            }
        }
        t
    }

    /// One summary line.
    pub fn summary_line(&self) -> String {
        let count = |v: &str| self.people.iter().filter(|p| p.verdict == v).count();
        format!(
            "{} people: {} offboarded, {} with access remaining, {} with no account found",
            self.people.len(),
            count("offboarded"),
            count("access remains"),
            count("no account found")
        )
    }

    /// Aligned text and the summary.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.table().write_text(out)?;
        writeln!(out)?;
        writeln!(out, "{}", self.summary_line())
    }

    /// The HTML page.
    pub fn page(&self) -> Page {
        let mut page = Page::new(
            "Offboarding check",
            "Every account of each person, matched by e-mail (case-insensitive) or login. \
             Offboarded = every account disabled and holding nothing.",
        );
        let count = |v: &str| self.people.iter().filter(|p| p.verdict == v).count();
        page.figure("people checked", &self.people.len().to_string());
        page.figure("offboarded", &count("offboarded").to_string());
        page.figure("access remains", &count("access remains").to_string());
        page.figure("no account found", &count("no account found").to_string());
        page.figure("result", if self.passed { "PASS" } else { "FAIL" });
        page.table("Accounts", self.table());
        page
    }
}

/// Reads `--who-file`: one e-mail or login per line; blank lines and `#`
/// comments are skipped.
pub fn read_who_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}
