//! `roster report …`: governance reports computed from one or several
//! snapshots (typically a Mattermost and a Rocket.Chat snapshot of the same
//! company, read together).
//!
//! * [`licenses`]: seat counting, with what the server says it licenses.
//! * [`access_review`]: everyone holding elevated access, with flags, and
//!   what changed since older snapshots.
//! * [`offboarding`]: every account of the people who left, and what they
//!   still hold.
//! * [`dormant`]: enabled accounts without activity, privileged first.
//! * [`html`]: the self-contained HTML page every report can be written as.
//!
//! Every report is built from [`Platform`] views (one per snapshot): the
//! accounts with their status, roles, teams, elevated access and last
//! activity. Activity is [`Seen::Unknown`] when the snapshot has no activity
//! data; no report ever turns "unknown" into "inactive" or "dormant".
//! Output goes through [`Table`], which escapes every server string for
//! the terminal ([`crate::escape::term`]), CSV ([`crate::escape::csv_cell`])
//! or HTML ([`crate::escape::html`]).

pub mod access_review;
pub mod dormant;
pub mod html;
pub mod licenses;
pub mod offboarding;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;

use roster_core::{
    AccountType, Resource, ResourceType, ServerInfo, Snapshot, Timestamp, UserStatus,
};
use serde::Serialize;

use crate::cli::{Report, TableFormat};
use crate::exit::{self, Failure};
use crate::load;

pub use licenses::parse_as_of;

const DAY_MS: i64 = 86_400_000;

/// When an account was last seen (latest of last login and last activity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "at", rename_all = "lowercase")]
pub enum Seen {
    /// Seen at this time.
    At(Timestamp),
    /// The platform reports activity and has none for this account.
    Never,
    /// The snapshot cannot say (no activity data, or the lookup failed).
    Unknown,
}

impl Seen {
    /// Whole days between the activity and `as_of` (`None` unless [`Seen::At`]).
    pub fn days_before(self, as_of: Timestamp) -> Option<i64> {
        match self {
            Seen::At(t) => Some((as_of.unix_millis() - t.unix_millis()).max(0) / DAY_MS),
            _ => None,
        }
    }

    /// Whether the account counts as dormant after `days` (never for unknown).
    pub fn dormant(self, as_of: Timestamp, days: u64) -> bool {
        match self {
            Seen::At(_) => self
                .days_before(as_of)
                .is_some_and(|d| u64::try_from(d).unwrap_or(0) >= days),
            Seen::Never => true,
            Seen::Unknown => false,
        }
    }

    /// Table text: the date, `never` or `unknown`.
    pub fn text(self, date_only: bool) -> String {
        match self {
            Seen::At(t) if date_only => t.to_string().chars().take(10).collect(),
            Seen::At(t) => t.to_string(),
            Seen::Never => "never".to_owned(),
            Seen::Unknown => "unknown".to_owned(),
        }
    }
}

/// How much activity data a snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "why", rename_all = "lowercase")]
pub enum ActivityData {
    /// Every account's last login / activity was read.
    Complete,
    /// Part of it was lost (a notice says so): accounts without any
    /// timestamp are unknown, not "never".
    Partial(String),
    /// None at all: every account's activity is unknown.
    Missing(String),
}

/// One piece of elevated access.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Access {
    /// `system role`, `workspace role` or `team role`.
    pub kind: &'static str,
    /// The role (`system_admin`, `admin`, `team admin`, `owner`, …).
    pub role: String,
    /// Where: `workspace` or the team's name.
    #[serde(rename = "where")]
    pub scope: String,
    /// The team id for team roles (stable across renames).
    #[serde(skip)]
    pub scope_id: String,
}

impl Access {
    /// `System Admin`, `team admin of Blue Platform`, `admin (workspace role)`.
    pub fn label(&self) -> String {
        match self.kind {
            "team role" => format!("{} of {}", self.role, self.scope),
            "system role" => format!("{} (system)", self.role),
            _ => format!("{} (workspace)", self.role),
        }
    }

    /// A key identifying this access across snapshots.
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.kind, self.role, self.scope_id)
    }
}

/// One user account as the reports see it.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// `mattermost` or `rocketchat`.
    pub platform: String,
    /// The server.
    pub source: String,
    /// Native user id.
    pub id: String,
    /// Login (username).
    pub login: String,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// First + last name where the platform has them, else the display name.
    pub name: String,
    /// Enabled or disabled.
    pub enabled: bool,
    /// Service (bot / app) account.
    pub service: bool,
    /// Guest (Mattermost `system_guest` or team guest; Rocket.Chat `guest`).
    pub guest: bool,
    /// Mattermost position; empty elsewhere.
    pub position: String,
    /// Created.
    pub created: Option<Timestamp>,
    /// Last seen.
    pub seen: Seen,
    /// System roles (Mattermost) or workspace roles by name (Rocket.Chat).
    pub roles: Vec<String>,
    /// Team roles other than plain membership (`team admin of X`, `owner of Y`, `guest of Z`).
    pub team_roles: Vec<String>,
    /// Names of the teams the account is a member of.
    pub teams: Vec<String>,
    /// Elevated access.
    pub access: Vec<Access>,
    /// Grants beyond the baseline role (team memberships and roles,
    /// workspace roles other than `user`), for offboarding.
    pub grants: usize,
}

impl Account {
    /// The primary e-mail, or empty.
    pub fn email(&self) -> &str {
        self.emails.first().map_or("", String::as_str)
    }
    /// `human` or `bot`.
    pub fn kind(&self) -> &'static str {
        if self.service { "bot" } else { "human" }
    }
    /// `enabled` or `disabled`.
    pub fn status(&self) -> &'static str {
        if self.enabled { "enabled" } else { "disabled" }
    }
    /// Whether the account holds elevated access.
    pub fn privileged(&self) -> bool {
        !self.access.is_empty()
    }
    /// Whether any of its e-mail addresses or its login is `who` (case-insensitive).
    pub fn matches(&self, who: &str) -> bool {
        let who = who.trim();
        !who.is_empty()
            && (self.login.eq_ignore_ascii_case(who)
                || self
                    .emails
                    .iter()
                    .any(|e| e.trim().to_lowercase() == who.to_lowercase()))
    }
}

/// One snapshot, as the reports see it.
#[derive(Debug, Clone, Serialize)]
pub struct Platform {
    /// `mattermost` or `rocketchat`.
    pub connector: String,
    /// The server.
    pub source: String,
    /// What the server reported about itself, when it did.
    pub server: Option<ServerInfo>,
    /// When the snapshot was taken.
    pub taken_at: Option<Timestamp>,
    /// How much activity data it holds.
    pub activity: ActivityData,
    /// Its accounts, sorted by login.
    pub accounts: Vec<Account>,
}

/// Mattermost system roles that are elevated access.
const MM_ELEVATED: &[&str] = &[
    "system_admin",
    "system_manager",
    "system_user_manager",
    "system_read_only_admin",
    "system_custom_group_admin",
];

/// Rocket.Chat workspace roles that are not elevated access.
const RC_BASELINE: &[&str] = &["user", "guest", "anonymous", "bot", "app"];

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn profile_str<'a>(r: &'a Resource, key: &str) -> &'a str {
    r.profile
        .get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
}

/// First + last name where the profile has them, else the display name,
/// else the nickname, else the login.
fn person_name(r: &Resource) -> String {
    let full = format!(
        "{} {}",
        profile_str(r, "first_name").trim(),
        profile_str(r, "last_name").trim()
    );
    let full = full.trim();
    if !full.is_empty() {
        return full.to_owned();
    }
    if !r.display_name.trim().is_empty() {
        return r.display_name.clone();
    }
    let nick = profile_str(r, "nickname");
    if !nick.is_empty() {
        return nick.to_owned();
    }
    r.user.as_ref().map(|u| u.login.clone()).unwrap_or_default()
}

fn activity_data(snap: &Snapshot) -> ActivityData {
    let users = || {
        snap.resources.iter().filter_map(|r| {
            r.user
                .as_ref()
                .filter(|_| r.resource_type == ResourceType::User)
        })
    };
    let any_data = users().any(|u| u.last_login_at.is_some() || u.last_activity_at.is_some());
    let lost: Vec<&str> = snap
        .summary
        .iter()
        .flat_map(|s| s.warnings.iter())
        .filter(|w| {
            let w = w.to_lowercase();
            w.starts_with("notice:")
                && (w.contains("last login")
                    || w.contains("last activity")
                    || w.contains("lastlogin"))
        })
        .map(String::as_str)
        .collect();
    if users().next().is_none() || (!any_data && lost.is_empty()) {
        if users().next().is_none() {
            return ActivityData::Complete;
        }
        return ActivityData::Missing(
            "the snapshot has no last-login or last-activity data (synced with --no-enrich, or \
             the server did not return it)"
                .to_owned(),
        );
    }
    match lost.first() {
        Some(w) if !any_data => ActivityData::Missing(crate::exit::one_line(w)),
        Some(w) => ActivityData::Partial(crate::exit::one_line(w)),
        None => ActivityData::Complete,
    }
}

impl Platform {
    /// The view of one snapshot.
    pub fn new(snap: &Snapshot) -> Self {
        let header = snap.header.as_ref();
        let connector = header.map(|h| h.connector.clone()).unwrap_or_default();
        let source = header.map(|h| h.source.clone()).unwrap_or_default();
        let activity = activity_data(snap);
        let mm = connector == "mattermost";

        let mut names: HashMap<(ResourceType, &str), &str> = HashMap::new();
        for r in &snap.resources {
            if r.resource_type != ResourceType::User {
                names.insert((r.resource_type, r.id.as_str()), r.display_name.as_str());
            }
        }
        // Per user: (team memberships, team roles, workspace roles by id).
        let mut by_user: HashMap<&str, Vec<(ResourceType, &str, &str)>> = HashMap::new();
        for g in &snap.grants {
            if g.principal.resource_type != ResourceType::User {
                continue;
            }
            by_user.entry(g.principal.id.as_str()).or_default().push((
                g.entitlement.resource.resource_type,
                g.entitlement.resource.id.as_str(),
                g.entitlement.slug.as_str(),
            ));
        }

        let mut accounts: Vec<Account> = snap
            .resources
            .iter()
            .filter(|r| r.resource_type == ResourceType::User)
            .map(|r| {
                let u = r.user.as_ref();
                let mut roles: Vec<String> = Vec::new();
                let mut access: Vec<Access> = Vec::new();
                let mut guest = false;
                let mut teams: BTreeSet<String> = BTreeSet::new();
                let mut team_roles: Vec<String> = Vec::new();
                let mut grants = 0usize;
                if mm {
                    for role in strings(r.profile.get("system_roles")) {
                        if role == "system_guest" {
                            guest = true;
                        }
                        if MM_ELEVATED.contains(&role.as_str()) {
                            access.push(Access {
                                kind: "system role",
                                role: role.clone(),
                                scope: "system".to_owned(),
                                scope_id: String::new(),
                            });
                        }
                        roles.push(role);
                    }
                } else {
                    for id in strings(r.profile.get("roles")) {
                        let name = names
                            .get(&(ResourceType::Role, id.as_str()))
                            .map_or(id.clone(), |n| (*n).to_owned());
                        if name == "guest" || id == "guest" {
                            guest = true;
                        }
                        roles.push(name);
                    }
                }
                let mut held = by_user.get(r.id.as_str()).cloned().unwrap_or_default();
                held.sort_unstable();
                for (rtype, rid, slug) in held {
                    let name = names
                        .get(&(rtype, rid))
                        .map_or_else(|| rid.to_owned(), |n| (*n).to_owned());
                    match (rtype, slug) {
                        (ResourceType::Team, "member") => {
                            grants += 1;
                            teams.insert(name);
                        }
                        (ResourceType::Team, slug) => {
                            grants += 1;
                            let role = if mm && slug == "admin" {
                                "team admin".to_owned()
                            } else {
                                slug.to_owned()
                            };
                            if slug == "guest" {
                                guest = true;
                            } else {
                                access.push(Access {
                                    kind: "team role",
                                    role: role.clone(),
                                    scope: name.clone(),
                                    scope_id: rid.to_owned(),
                                });
                            }
                            team_roles.push(format!("{role} of {name}"));
                        }
                        (ResourceType::Role, _) => {
                            if RC_BASELINE.contains(&name.as_str()) || RC_BASELINE.contains(&rid) {
                                continue;
                            }
                            grants += 1;
                            access.push(Access {
                                kind: "workspace role",
                                role: name,
                                scope: "workspace".to_owned(),
                                scope_id: rid.to_owned(),
                            });
                        }
                        _ => grants += 1,
                    }
                }
                // Rocket.Chat roles held but not granted (e.g. an unknown
                // role id) still count when they are elevated.
                if !mm {
                    for role in &roles {
                        if !RC_BASELINE.contains(&role.as_str())
                            && !access
                                .iter()
                                .any(|a| a.kind == "workspace role" && &a.role == role)
                        {
                            access.push(Access {
                                kind: "workspace role",
                                role: role.clone(),
                                scope: "workspace".to_owned(),
                                scope_id: role.clone(),
                            });
                        }
                    }
                }
                access.sort();
                let seen = match u.map(|u| (u.last_activity_at, u.last_login_at)) {
                    Some((Some(a), Some(b))) => Seen::At(a.max(b)),
                    Some((Some(a), None) | (None, Some(a))) => Seen::At(a),
                    _ => match activity {
                        ActivityData::Complete => Seen::Never,
                        _ => Seen::Unknown,
                    },
                };
                let seen = match activity {
                    ActivityData::Missing(_) => Seen::Unknown,
                    _ => seen,
                };
                Account {
                    platform: connector.clone(),
                    source: source.clone(),
                    id: r.id.to_string(),
                    login: u.map(|u| u.login.clone()).unwrap_or_default(),
                    emails: u.map(|u| u.emails.clone()).unwrap_or_default(),
                    name: person_name(r),
                    enabled: u.is_none_or(|u| u.status == UserStatus::Enabled),
                    service: u.is_some_and(|u| u.account_type == AccountType::Service),
                    guest,
                    position: profile_str(r, "position").to_owned(),
                    created: u.and_then(|u| u.created_at),
                    seen,
                    roles,
                    team_roles,
                    teams: teams.into_iter().collect(),
                    access,
                    grants,
                }
            })
            .collect();
        accounts.sort_by(|a, b| {
            a.login
                .to_lowercase()
                .cmp(&b.login.to_lowercase())
                .then_with(|| a.id.cmp(&b.id))
        });
        Self {
            connector,
            source,
            server: header.and_then(|h| h.server.clone()),
            taken_at: header.map(|h| h.started_at),
            activity,
            accounts,
        }
    }

    /// `Mattermost` / `Rocket.Chat` (or the connector name as given).
    pub fn title(&self) -> String {
        platform_title(&self.connector)
    }

    /// The reference time: `as_of`, else when the snapshot was taken, else now.
    pub fn as_of(&self, as_of: Option<Timestamp>) -> Timestamp {
        as_of.or(self.taken_at).unwrap_or_else(Timestamp::now)
    }

    /// Why some activity is unknown, if it is (one sentence, unescaped).
    pub fn unknown_note(&self) -> Option<String> {
        let unknown = self
            .accounts
            .iter()
            .filter(|a| a.seen == Seen::Unknown)
            .count();
        if unknown == 0 {
            return None;
        }
        let why = match &self.activity {
            ActivityData::Missing(w) | ActivityData::Partial(w) => w.as_str(),
            ActivityData::Complete => "",
        };
        Some(format!(
            "{} {}: last activity of {unknown} account(s) is unknown ({why}); they are shown as \
             `unknown` and never counted as inactive or dormant",
            self.title(),
            self.source
        ))
    }

    /// Says on stderr why activity is unknown, if it is.
    pub fn warn_unknown(&self) {
        if let Some(note) = self.unknown_note() {
            eprintln!("roster: {}", crate::escape::term(&note));
        }
    }
}

/// `Mattermost` / `Rocket.Chat`.
pub fn platform_title(connector: &str) -> String {
    match connector {
        "mattermost" => "Mattermost".to_owned(),
        "rocketchat" => "Rocket.Chat".to_owned(),
        other => other.to_owned(),
    }
}

/// A table of text cells, written as aligned text, CSV or HTML.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows of cells (server data, unescaped).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[&str]) -> Self {
        Self {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned columns; every cell through [`crate::escape::term`].
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let esc = |c: &String| crate::escape::term(c).into_owned();
        let header: Vec<String> = self.columns.iter().map(esc).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(esc).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|c| c.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.extend(std::iter::repeat_n(' ', w - c.chars().count() + 2));
                }
            }
            s.trim_end().to_owned()
        };
        writeln!(out, "{}", line(&header))?;
        for r in &rows {
            writeln!(out, "{}", line(r))?;
        }
        Ok(())
    }

    /// RFC 4180 CSV with a header row; every cell through [`crate::escape::csv_cell`].
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let join = |cells: &[String]| {
            cells
                .iter()
                .map(|c| crate::escape::csv_cell(c))
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(out, "{}\r\n", join(&self.columns))?;
        for r in &self.rows {
            write!(out, "{}\r\n", join(r))?;
        }
        Ok(())
    }
}

/// Loads every snapshot of a report, refusing incomplete ones unless allowed.
fn load_all(paths: &[PathBuf], allow_incomplete: bool) -> anyhow::Result<Vec<Platform>> {
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(
            Failure::usage("only one snapshot can be read from stdin (`-`)")
                .hint("pass the others as file paths")
                .into(),
        );
    }
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let snap = load::load(path)?;
        load::require_complete(path, &snap, allow_incomplete).map_err(|f| {
            f.hint("sync again, or pass --allow-incomplete (accounts or grants may be missing)")
        })?;
        out.push(Platform::new(&snap));
    }
    Ok(out)
}

/// Writes one report in `format`: text or CSV via `text`/`csv`, JSON of
/// `json`, or the HTML page.
fn emit<T: Serialize>(
    format: TableFormat,
    json: &T,
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    csv: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    page: impl FnOnce() -> html::Page,
    summary: Option<String>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = match format {
        TableFormat::Table => text(&mut out),
        TableFormat::Csv => csv(&mut out),
        TableFormat::Json => write_json(&mut out, json),
        TableFormat::Html => out.write_all(page().render().as_bytes()),
    }
    .and_then(|()| out.flush());
    match written {
        // The reader went away (`roster report … | head`): nothing to add.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(anyhow::Error::from(e).context("cannot write the report")),
        Ok(()) => {}
    }
    // The table ends with its summary line; other formats say it on stderr.
    if let Some(line) = summary.filter(|_| format != TableFormat::Table) {
        eprintln!("roster: {line}");
    }
    Ok(())
}

/// Runs `roster report …`; returns the exit code.
pub fn run(report: &Report) -> anyhow::Result<u8> {
    match report {
        Report::Licenses(args) => {
            let platforms = load_all(&args.input.snapshots, args.input.allow_incomplete)?;
            platforms.iter().for_each(Platform::warn_unknown);
            let rep = licenses::LicenseReport::new(&platforms, args.as_of, args.inactive_days);
            emit(
                args.input.format,
                &rep,
                |o| rep.write_table(o),
                |o| rep.write_csv(o),
                || rep.page(),
                None,
            )?;
            if args.input.format == TableFormat::Csv {
                for line in rep.totals_lines() {
                    eprintln!("roster: {line}");
                }
            }
            Ok(exit::OK)
        }
        Report::AccessReview(args) => {
            let platforms = load_all(&args.input.snapshots, args.input.allow_incomplete)?;
            let since = if args.since.is_empty() {
                None
            } else {
                Some(load_all(&args.since, args.input.allow_incomplete)?)
            };
            platforms.iter().for_each(Platform::warn_unknown);
            let rep = access_review::AccessReview::new(
                &platforms,
                since.as_deref(),
                args.as_of,
                args.dormant_days,
            );
            emit(
                args.input.format,
                &rep,
                |o| rep.write_table(o),
                |o| rep.table(false).write_csv(o),
                || rep.page(),
                Some(rep.summary_line()),
            )?;
            Ok(exit::OK)
        }
        Report::Offboarding(args) => {
            let mut who = args.who.clone();
            if let Some(path) = &args.who_file {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::usage(format!("cannot read `{}`: {e}", path.display()))
                        .hint("--who-file takes a text file with one e-mail or login per line")
                })?;
                who.extend(offboarding::read_who_file(&text));
            }
            if who.is_empty() {
                return Err(Failure::usage("no one to check")
                    .hint("pass --who EMAIL|LOGIN (repeatable) or --who-file PATH")
                    .into());
            }
            let platforms = load_all(&args.input.snapshots, args.input.allow_incomplete)?;
            let rep = offboarding::Offboarding::new(&platforms, &who);
            emit(
                args.input.format,
                &rep,
                |o| rep.write_table(o),
                |o| rep.table().write_csv(o),
                || rep.page(),
                Some(rep.summary_line()),
            )?;
            Ok(if rep.passed {
                exit::OK
            } else {
                exit::DIFFERENT
            })
        }
        Report::Dormant(args) => {
            let platforms = load_all(&args.input.snapshots, args.input.allow_incomplete)?;
            platforms.iter().for_each(Platform::warn_unknown);
            let rep = dormant::Dormant::new(&platforms, args.as_of, args.days);
            emit(
                args.input.format,
                &rep,
                |o| rep.write_table(o),
                |o| rep.table(false).write_csv(o),
                || rep.page(),
                Some(rep.summary_line()),
            )?;
            Ok(exit::OK)
        }
    }
}

/// Writes `value` as pretty JSON and a newline.
pub fn write_json<T: Serialize>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::access_review::{AccessReview, Flag};
    use super::*;
    use roster_core::{Grant, Header, Record, ResourceRef, Summary, UserTraits};

    fn user(id: &str, kind: AccountType, email: bool, last: Option<&str>) -> Resource {
        Resource::new(ResourceType::User, id, id).with_user(UserTraits {
            login: id.into(),
            emails: if email {
                vec![format!("{id}@x")]
            } else {
                vec![]
            },
            status: UserStatus::Enabled,
            account_type: kind,
            created_at: None,
            last_login_at: last.and_then(Timestamp::parse_rfc3339),
            last_activity_at: None,
        })
    }

    fn snap(connector: &str, records: Vec<Record>, warnings: &[&str]) -> Snapshot {
        let mut s = Snapshot::default();
        s.push(Record::Header(Header::new(connector, "https://x")))
            .unwrap();
        for r in records {
            s.push(r).unwrap();
        }
        s.push(Record::Summary(
            Summary::new(true, Timestamp::now())
                .warnings(warnings.iter().map(|w| (*w).to_owned()).collect()),
        ))
        .unwrap();
        s
    }

    #[test]
    fn a_lost_lookup_makes_missing_activity_unknown_not_never() {
        let records = vec![
            Record::Resource(user(
                "a",
                AccountType::Human,
                true,
                Some("2026-01-01T00:00:00Z"),
            )),
            Record::Resource(user("b", AccountType::Human, true, None)),
        ];
        let full = Platform::new(&snap("mattermost", records.clone(), &[]));
        assert_eq!(full.accounts[1].seen, Seen::Never);
        let partial = Platform::new(&snap(
            "mattermost",
            records,
            &[
                "notice: last login is unavailable (500); users not among the 1 read so far have no last_login_at",
            ],
        ));
        assert!(matches!(partial.activity, ActivityData::Partial(_)));
        assert!(matches!(partial.accounts[0].seen, Seen::At(_)));
        assert_eq!(partial.accounts[1].seen, Seen::Unknown);
        assert!(!partial.accounts[1].seen.dormant(Timestamp::now(), 1));
        assert!(
            partial
                .unknown_note()
                .unwrap()
                .contains("last login is unavailable")
        );
    }

    #[test]
    fn rocketchat_flags_and_team_roles() {
        let role = |id: &str| {
            Record::Resource(
                Resource::new(ResourceType::Role, id, id).with_profile("scope", "Users"),
            )
        };
        let grant = |ent: &str, who: &str| {
            Record::Grant(Grant::new(ent.parse().unwrap(), ResourceRef::user(who)))
        };
        let guest = user(
            "guest1",
            AccountType::Human,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_profile("roles", serde_json::json!(["guest"]));
        let bot = user(
            "bot1",
            AccountType::Service,
            false,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_profile("roles", serde_json::json!(["bot", "admin"]));
        let plain = user(
            "plain",
            AccountType::Human,
            true,
            Some("2026-11-01T00:00:00Z"),
        )
        .with_profile("roles", serde_json::json!(["user"]));
        let records = vec![
            role("admin"),
            role("user"),
            role("guest"),
            role("bot"),
            Record::Resource(Resource::new(ResourceType::Team, "t1", "Ops")),
            Record::Resource(guest),
            Record::Resource(bot),
            Record::Resource(plain),
            grant("role:admin:assigned", "bot1"),
            grant("role:bot:assigned", "bot1"),
            grant("role:user:assigned", "plain"),
            grant("team:t1:member", "guest1"),
            grant("team:t1:owner", "guest1"),
            grant("team:t1:member", "plain"),
        ];
        let p = Platform::new(&snap("rocketchat", records, &[]));
        let review = AccessReview::new(
            std::slice::from_ref(&p),
            None,
            Timestamp::parse_rfc3339("2026-11-30T00:00:00Z"),
            90,
        );
        let flags = |login: &str| {
            review
                .rows
                .iter()
                .find(|r| r.login == login)
                .map(|r| r.flags.clone())
                .unwrap_or_default()
        };
        assert_eq!(flags("bot1"), [Flag::ServiceAdmin, Flag::NoEmail]);
        assert_eq!(flags("guest1"), [Flag::GuestElevated]);
        assert!(review.rows.iter().all(|r| r.login != "plain"));
        let guest = p.accounts.iter().find(|a| a.login == "guest1").unwrap();
        assert_eq!(guest.team_roles, ["owner of Ops"]);
        assert_eq!(guest.teams, ["Ops"]);
        let plain = p.accounts.iter().find(|a| a.login == "plain").unwrap();
        assert_eq!(
            plain.grants, 1,
            "the user role is baseline; the membership counts"
        );
    }
}
