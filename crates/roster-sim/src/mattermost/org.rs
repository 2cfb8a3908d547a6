//! The simulated organisation: seeded generation, mutation and ground truth.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use roster_core::{
    AccountType, Entitlement, EntitlementId, Grant, Purpose, Resource, ResourceRef, ResourceType,
    Timestamp, UserStatus, UserTraits,
};

use super::{CONTRACT, OrgSpec};
use crate::GroundTruth;

/// 2020-01-01T00:00:00Z in ms.
const EPOCH_2020: i64 = 1_577_836_800_000;
/// 2025-01-01T00:00:00Z in ms.
const EPOCH_2025: i64 = 1_735_689_600_000;
/// 2025-06-01T00:00:00Z in ms: latest login / activity.
const EPOCH_2025_06: i64 = 1_748_736_000_000;

const FIRST_NAMES: &[&str] = &[
    "ada",
    "alan",
    "grace",
    "edsger",
    "barbara",
    "donald",
    "margaret",
    "ken",
    "dennis",
    "linus",
    "frances",
    "john",
    "radia",
    "tim",
    "vint",
    "bjarne",
    "guido",
    "james",
    "anita",
    "katherine",
    "hedy",
    "claude",
    "niklaus",
    "leslie",
    "shafi",
    "silvio",
    "adele",
    "jean",
    "kathleen",
    "mary",
    "sophie",
    "yukihiro",
    "larry",
    "rasmus",
    "brendan",
    "anders",
    "rob",
    "robin",
    "ivan",
    "carol",
    "fran",
    "peter",
    "judea",
    "tony",
    "butler",
    "whitfield",
    "martin",
    "lynn",
    "evelyn",
    "sally",
    "noor",
    "amara",
    "chen",
    "priya",
    "mateo",
    "olga",
    "kwame",
    "ines",
    "tariq",
    "yara",
];

const LAST_NAMES: &[&str] = &[
    "lovelace",
    "turing",
    "hopper",
    "dijkstra",
    "liskov",
    "knuth",
    "hamilton",
    "thompson",
    "ritchie",
    "torvalds",
    "allen",
    "backus",
    "perlman",
    "bernerslee",
    "cerf",
    "stroustrup",
    "vanrossum",
    "gosling",
    "borg",
    "johnson",
    "lamarr",
    "shannon",
    "wirth",
    "lamport",
    "goldwasser",
    "micali",
    "goldberg",
    "sammet",
    "booth",
    "keller",
    "wilson",
    "matsumoto",
    "wall",
    "lerdorf",
    "eich",
    "hejlsberg",
    "pike",
    "milner",
    "sutherland",
    "shaw",
    "kay",
    "naur",
    "pearl",
    "hoare",
    "lampson",
    "diffie",
    "hellman",
    "conway",
    "berg",
    "ride",
    "nakamura",
    "okafor",
    "silva",
    "kowalski",
    "haddad",
    "mensah",
    "novak",
    "ferreira",
    "larsen",
    "moreau",
];

const NICKNAMES: &[&str] = &[
    "Ace", "Bee", "Cosmo", "Dot", "Echo", "Fizz", "Gizmo", "Hex", "Ink", "Jazz", "Kit", "Lux",
    "Mango", "Nib", "Orbit", "Pixel", "Quill", "Rook", "Sprout", "Tux",
];

const POSITIONS: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Engineering Manager",
    "Designer",
    "Product Manager",
    "Support Lead",
    "Recruiter",
    "Data Scientist",
    "SRE",
    "Technical Writer",
    "Sales",
    "Professor",
    "Student",
];

const TEAM_ADJECTIVES: &[&str] = &[
    "Blue", "Core", "Quiet", "Rapid", "Northern", "Open", "Silver", "Bright", "Deep", "Green",
    "Late", "Early", "Red", "Small", "Grand", "Lunar", "Solar", "Wild", "Calm", "Iron",
];

const TEAM_NOUNS: &[&str] = &[
    "Platform", "Design", "Research", "Support", "Sales", "Infra", "Security", "Mobile", "Data",
    "Finance", "Legal", "People", "Ops", "Labs", "Studio", "Guild", "Council", "Crew", "Desk",
    "Forum",
];

const STATUSES: &[&str] = &["online", "away", "offline", "dnd"];

/// One user account.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) id: String,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) nickname: String,
    pub(super) position: String,
    /// Space-separated system roles.
    pub(super) roles: String,
    pub(super) auth_service: &'static str,
    pub(super) is_bot: bool,
    pub(super) create_at: i64,
    pub(super) update_at: i64,
    pub(super) delete_at: i64,
    /// Last login in ms; 0 = never (as `/reports/users` says).
    pub(super) last_login: i64,
    /// Last activity in ms; 0 = unknown.
    pub(super) last_activity_at: i64,
    pub(super) status: &'static str,
    /// What the generator decided about this person, in the snapshot's
    /// terms. The ground truth is built from this, never from the wire
    /// fields above, so a wrong mapping rule in the connector cannot be
    /// copied into the oracle.
    pub(super) truth: UserTruth,
}

/// The generator's decisions about one user, recorded as they are made.
#[derive(Debug, Clone)]
pub(super) struct UserTruth {
    /// The name the person is known by (snapshot-format.md: first + last
    /// name, else nickname, else username), decided per naming branch.
    pub(super) known_as: String,
    /// The account was deactivated.
    pub(super) deactivated: bool,
    /// A bot account.
    pub(super) bot: bool,
    /// The address, when the account has one.
    pub(super) email: Option<String>,
    /// When the person last logged in; `None` = never (bots never do).
    pub(super) logged_in_at: Option<i64>,
    /// When the person was last active; `None` = never connected (no
    /// status row on the server).
    pub(super) active_at: Option<i64>,
    /// The system roles granted.
    pub(super) system_roles: Vec<&'static str>,
}

impl User {
    pub(super) fn is_admin(&self) -> bool {
        self.roles.split_whitespace().any(|r| r == "system_admin")
    }
    pub(super) fn is_guest(&self) -> bool {
        self.roles.split_whitespace().any(|r| r == "system_guest")
    }
    /// The report's `display_name`: Mattermost's
    /// `User.GetDisplayName(ShowNicknameFullName)` (server/public/model/user.go):
    /// nickname, else first + last name, else username. (Not the
    /// snapshot's rule, which puts the full name first.)
    pub(super) fn report_display_name(&self) -> String {
        let full = format!("{} {}", self.first_name, self.last_name);
        let full = full.trim();
        if !self.nickname.is_empty() {
            self.nickname.clone()
        } else if !full.is_empty() {
            full.to_owned()
        } else {
            self.username.clone()
        }
    }
}

/// One team membership row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Membership {
    /// Index into [`Org::users`].
    pub(super) user: u32,
    pub(super) scheme_admin: bool,
    pub(super) scheme_guest: bool,
    /// `> 0`: the member left or was removed (hidden by the API).
    pub(super) delete_at: i64,
}

impl Membership {
    pub(super) fn visible(&self) -> bool {
        self.delete_at == 0
    }
    pub(super) fn roles(&self) -> &'static str {
        if self.scheme_guest {
            "team_guest"
        } else if self.scheme_admin {
            "team_user team_admin"
        } else {
            "team_user"
        }
    }
}

/// One team.
#[derive(Debug, Clone)]
pub(super) struct Team {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) display_name: String,
    pub(super) invite_only: bool,
    pub(super) create_at: i64,
    pub(super) update_at: i64,
    pub(super) delete_at: i64,
    /// The generator archived the team (the oracle's source; `delete_at`
    /// is the wire's).
    pub(super) archived: bool,
    /// Sorted by the member's user id; includes removed rows.
    pub(super) members: Vec<Membership>,
    /// Deleted outright (not archived): the API answers 404.
    pub(super) gone: bool,
}

impl Team {
    pub(super) fn team_type(&self) -> &'static str {
        if self.invite_only { "I" } else { "O" }
    }
}

/// The whole organisation.
#[derive(Debug)]
pub(super) struct Org {
    /// Append-only; indexes are stable.
    pub(super) users: Vec<User>,
    pub(super) user_by_id: HashMap<String, u32>,
    usernames: HashSet<String>,
    /// User indexes sorted by (username, id).
    pub(super) user_order: Vec<u32>,
    /// Generation order; removed teams stay with `gone = true`.
    pub(super) teams: Vec<Team>,
    pub(super) team_by_id: HashMap<String, u32>,
    /// Indexes of live teams sorted by (display_name, id).
    pub(super) team_order: Vec<u32>,
    pub(super) admin: u32,
    pub(super) plain: u32,
    pub(super) bot: u32,
    /// For records created after generation (shift faults, `add_user`).
    rng: fastrand::Rng,
    shift_users: u32,
    shift_teams: u32,
    /// Per-request order of teams sharing a display name, if enabled.
    pub(super) tie_order: Option<TieOrder>,
}

/// Re-orders teams that share a display name on every `/teams` request,
/// deterministically from `seed` and a request counter.
#[derive(Debug)]
pub(super) struct TieOrder {
    seed: u64,
    requests: AtomicU64,
}

/// A 26-character Mattermost-style id.
pub(super) fn new_id(rng: &mut fastrand::Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..26)
        .map(|_| char::from(ALPHABET[rng.usize(..ALPHABET.len())]))
        .collect()
}

/// Whether `s` looks like a Mattermost id (26 chars of `[a-z0-9]`).
pub(super) fn is_valid_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

fn chance(rng: &mut fastrand::Rng, p: f64) -> bool {
    rng.f64() < p
}

/// A time uniformly in `[lo, hi)` (or `lo` when the range is empty).
fn between(rng: &mut fastrand::Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.i64(lo..hi) }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Roughly `avg` (exponential spread, mean ≈ `avg`), at least 1, at most `n`.
fn member_count(rng: &mut fastrand::Rng, avg: usize, n: usize) -> usize {
    let u = rng.f64();
    let k = (-(1.0 - u).ln() * avg as f64).round() as usize;
    k.clamp(1, n.max(1))
}

/// `k` distinct indexes out of `0..n`.
fn sample_distinct(rng: &mut fastrand::Rng, n: usize, k: usize) -> Vec<u32> {
    let k = k.min(n);
    if k * 2 <= n {
        let mut seen = HashSet::with_capacity(k);
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let i = rng.u32(..n as u32);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    } else {
        let mut all: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = rng.usize(i..n);
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

impl Org {
    /// Generates the organisation for `spec`. `big_team_members > 0` gives
    /// team #0 exactly that many (visible) members; the user count is raised
    /// to at least that number. There are always at least 3 users (the
    /// admin, the plain user and the bot behind the simulator's tokens).
    pub(super) fn generate(spec: &OrgSpec, big_team_members: usize) -> Self {
        let mut rng = fastrand::Rng::with_seed(spec.seed);
        let n_users = spec.users.max(3).max(big_team_members);
        let mut org = Org {
            users: Vec::with_capacity(n_users),
            user_by_id: HashMap::with_capacity(n_users),
            usernames: HashSet::with_capacity(n_users),
            user_order: Vec::new(),
            teams: Vec::with_capacity(spec.teams),
            team_by_id: HashMap::with_capacity(spec.teams),
            team_order: Vec::new(),
            admin: 0,
            plain: 1,
            bot: 2,
            rng: fastrand::Rng::with_seed(spec.seed ^ 0x9e37_79b9_7f4a_7c15),
            shift_users: 0,
            shift_teams: 0,
            tie_order: None,
        };

        for i in 0..n_users {
            let user = org.gen_user(&mut rng, i);
            org.push_user(user);
        }
        let mut order: Vec<u32> = (0..org.users.len() as u32).collect();
        {
            let users = &org.users;
            order.sort_unstable_by(|&a, &b| {
                let (a, b) = (&users[a as usize], &users[b as usize]);
                (&a.username, &a.id).cmp(&(&b.username, &b.id))
            });
        }
        org.user_order = order;

        for t in 0..spec.teams {
            let team = org.gen_team(&mut rng, t, spec, big_team_members);
            org.team_by_id.insert(team.id.clone(), t as u32);
            org.teams.push(team);
        }
        org.rebuild_team_order();
        org
    }

    fn gen_user(&mut self, rng: &mut fastrand::Rng, i: usize) -> User {
        let id = new_id(rng);
        let create_at = between(rng, EPOCH_2020, EPOCH_2025);
        let update_at = between(rng, create_at, EPOCH_2025_06);
        let special = i < 3;
        let is_bot = i == 2 || (!special && chance(rng, 0.03));
        let first = pick(rng, FIRST_NAMES);
        let last = pick(rng, LAST_NAMES);

        let base = match i {
            0 => "sysadmin".to_owned(),
            _ if is_bot => format!("{}-bot", pick(rng, TEAM_NOUNS).to_lowercase()),
            _ => format!("{first}.{last}"),
        };
        let mut username = base.clone();
        if i != 0 || self.usernames.contains(&username) {
            loop {
                username = format!("{base}{}", rng.u32(1..1000));
                if !self.usernames.contains(&username) {
                    break;
                }
            }
        }

        let (mut first_name, mut last_name, mut nickname) =
            (capitalize(first), capitalize(last), String::new());
        // The name the person goes by, decided with each naming branch.
        let mut known_as = format!("{} {}", capitalize(first), capitalize(last));
        if is_bot {
            first_name.clear();
            last_name.clear();
            known_as.clone_from(&username);
            if chance(rng, 0.5) {
                nickname = format!("{} Bot", capitalize(&username));
                known_as.clone_from(&nickname);
            }
        } else if !special {
            let r = rng.f64();
            if r < 0.05 {
                // No real name, only a nickname.
                first_name.clear();
                last_name.clear();
                nickname = pick(rng, NICKNAMES).to_owned();
                known_as.clone_from(&nickname);
            } else if r < 0.10 {
                // Neither: known by the username.
                first_name.clear();
                last_name.clear();
                known_as.clone_from(&username);
            } else if r < 0.13 {
                // First name only.
                last_name.clear();
                known_as = capitalize(first);
            } else if r < 0.30 {
                // A nickname besides the full name, which still wins.
                nickname = pick(rng, NICKNAMES).to_owned();
            }
        }
        let email = if is_bot && chance(rng, 0.5) {
            None
        } else if is_bot {
            Some(format!("{username}@bots.example.com"))
        } else {
            Some(format!("{username}@example.com"))
        };
        let position = if !is_bot && chance(rng, 0.6) {
            pick(rng, POSITIONS).to_owned()
        } else {
            String::new()
        };
        let auth_service = if is_bot {
            ""
        } else {
            match rng.u32(0..100) {
                0..70 => "",
                70..85 => "ldap",
                _ => "saml",
            }
        };
        let system_roles: &[&'static str] = match i {
            0 | 2 => &["system_user", "system_admin"],
            1 => &["system_user"],
            _ if is_bot => &["system_user"],
            _ => match rng.u32(0..100) {
                0..6 => &["system_user", "system_admin"],
                6..14 => &["system_guest"],
                _ => &["system_user"],
            },
        };
        let roles = system_roles.join(" ");
        let deactivated = !special && chance(rng, 0.05);
        let delete_at = if deactivated {
            between(rng, update_at, EPOCH_2025_06).max(1)
        } else {
            0
        };
        let update_at = update_at.max(delete_at);
        let logged_in_at = (!is_bot && (special || chance(rng, 0.6)))
            .then(|| between(rng, create_at, EPOCH_2025_06).max(1));
        let active_at =
            (special || chance(rng, 0.7)).then(|| between(rng, create_at, EPOCH_2025_06).max(1));
        let status = if active_at.is_some() {
            pick(rng, STATUSES)
        } else {
            "offline"
        };
        let truth = UserTruth {
            known_as,
            deactivated,
            bot: is_bot,
            email: email.clone(),
            logged_in_at,
            active_at,
            system_roles: system_roles.to_vec(),
        };
        let email = email.unwrap_or_default();
        let last_login = logged_in_at.unwrap_or(0);
        let last_activity_at = active_at.unwrap_or(0);
        User {
            id,
            username,
            email,
            first_name,
            last_name,
            nickname,
            position,
            roles,
            auth_service,
            is_bot,
            create_at,
            update_at,
            delete_at,
            last_login,
            last_activity_at,
            status,
            truth,
        }
    }

    fn push_user(&mut self, user: User) -> u32 {
        let idx = self.users.len() as u32;
        self.usernames.insert(user.username.clone());
        self.user_by_id.insert(user.id.clone(), idx);
        self.users.push(user);
        idx
    }

    fn gen_team(
        &mut self,
        rng: &mut fastrand::Rng,
        t: usize,
        spec: &OrgSpec,
        big_team_members: usize,
    ) -> Team {
        let id = new_id(rng);
        let display_name = if t == 3 && spec.teams >= 4 {
            // A guaranteed duplicate display name (ordering ties).
            self.teams[2].display_name.clone()
        } else {
            format!("{} {}", pick(rng, TEAM_ADJECTIVES), pick(rng, TEAM_NOUNS))
        };
        let name = format!("{}-{t}", display_name.to_lowercase().replace(' ', "-"));
        let invite_only = match t {
            0 => false,
            1 | 2 => true,
            _ => chance(rng, 1.0 / 3.0),
        };
        let create_at = between(rng, EPOCH_2020, EPOCH_2025);
        let update_at = between(rng, create_at, EPOCH_2025_06);
        let archived = match t {
            0..=2 => false,
            _ if spec.teams >= 5 && t == spec.teams - 1 => true,
            _ => chance(rng, 0.10),
        };
        let delete_at = if archived {
            between(rng, update_at, EPOCH_2025_06).max(1)
        } else {
            0
        };
        let update_at = update_at.max(delete_at);

        let n = self.users.len();
        let big = t == 0 && big_team_members > 0;
        let k = if big {
            big_team_members.min(n)
        } else {
            member_count(rng, spec.avg_members, n)
        };
        let mut picked = sample_distinct(rng, n, k);
        let plain = self.plain;
        // The plain user is in team 0 (open) and team 1 (invite-only) and in
        // no other invite-only team, so both 403 and 200 paths exist.
        if t <= 1 {
            if !picked.contains(&plain) {
                picked.pop();
                picked.push(plain);
            }
        } else if invite_only {
            picked.retain(|&u| u != plain);
            if picked.is_empty() {
                picked.push(self.admin);
            }
        }
        let mut members: Vec<Membership> = picked
            .into_iter()
            .map(|u| {
                let guest = self.users[u as usize].is_guest();
                let removed = !big && u != plain && chance(rng, 0.05);
                Membership {
                    user: u,
                    scheme_admin: !guest && chance(rng, 0.10),
                    scheme_guest: guest,
                    delete_at: if removed {
                        between(rng, create_at, EPOCH_2025_06).max(1)
                    } else {
                        0
                    },
                }
            })
            .collect();
        // Never leave a team without a visible member.
        if !members.iter().any(Membership::visible)
            && let Some(m) = members.first_mut()
        {
            m.delete_at = 0;
        }
        let users = &self.users;
        members.sort_unstable_by(|a, b| users[a.user as usize].id.cmp(&users[b.user as usize].id));
        Team {
            id,
            name,
            display_name,
            invite_only,
            create_at,
            update_at,
            delete_at,
            archived,
            members,
            gone: false,
        }
    }

    fn rebuild_team_order(&mut self) {
        let teams = &self.teams;
        let mut order: Vec<u32> = (0..teams.len() as u32)
            .filter(|&i| !teams[i as usize].gone)
            .collect();
        order.sort_unstable_by(|&a, &b| {
            let (a, b) = (&teams[a as usize], &teams[b as usize]);
            (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id))
        });
        self.team_order = order;
    }

    /// Renames teams so that about `percent`% of them share their display
    /// name with another team and every other display name is unique
    /// (deterministic from `seed`); `name` and ids are kept.
    pub(super) fn share_team_names(&mut self, percent: u32, seed: u64) {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_7ea5);
        // A copied name makes (at least) two teams share it.
        let p = f64::from(percent.min(100)) / 200.0;
        for t in 0..self.teams.len() {
            let shared = t > 0 && chance(&mut rng, p);
            self.teams[t].display_name = if shared {
                let from = rng.usize(..t);
                self.teams[from].display_name.clone()
            } else {
                format!(
                    "{} {} {t}",
                    pick(&mut rng, TEAM_ADJECTIVES),
                    pick(&mut rng, TEAM_NOUNS)
                )
            };
        }
        self.rebuild_team_order();
    }

    /// Orders teams sharing a display name differently on each `/teams`
    /// request (see [`Self::team_listing_order`]).
    pub(super) fn reorder_ties_per_request(&mut self, seed: u64) {
        self.tie_order = Some(TieOrder {
            seed,
            requests: AtomicU64::new(0),
        });
    }

    /// The team order one `/teams` request sees. Mattermost sorts by
    /// `DisplayName` alone and pages with LIMIT/OFFSET
    /// (`server/channels/store/sqlstore/team_store.go`, `teamSearchQuery` /
    /// `GetAllPage`): a database top-N sort is not stable, so teams sharing
    /// a display name come back in a different order on each request. With
    /// [`Self::reorder_ties_per_request`] each request shuffles every run of
    /// equal display names from (seed, request number); otherwise ties are
    /// ordered by id.
    pub(super) fn team_listing_order(&self) -> Cow<'_, [u32]> {
        let Some(tie) = &self.tie_order else {
            return Cow::Borrowed(&self.team_order);
        };
        let n = tie.requests.fetch_add(1, Ordering::Relaxed);
        let mut rng = fastrand::Rng::with_seed(
            tie.seed ^ n.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut order = self.team_order.clone();
        let teams = &self.teams;
        for run in order
            .chunk_by_mut(|&a, &b| teams[a as usize].display_name == teams[b as usize].display_name)
        {
            if run.len() > 1 {
                rng.shuffle(run);
            }
        }
        Cow::Owned(order)
    }

    /// A live team by id.
    pub(super) fn team(&self, id: &str) -> Option<&Team> {
        self.team_by_id
            .get(id)
            .map(|&i| &self.teams[i as usize])
            .filter(|t| !t.gone)
    }

    /// The visible membership of user `user` in `team`, if any.
    pub(super) fn membership<'a>(&self, team: &'a Team, user: u32) -> Option<&'a Membership> {
        let id = &self.users[user as usize].id;
        team.members
            .binary_search_by(|m| self.users[m.user as usize].id.cmp(id))
            .ok()
            .map(|i| &team.members[i])
            .filter(|m| m.visible())
    }

    /// Adds an active human user with no teams; returns its id. A taken
    /// username gets a numeric suffix.
    pub(super) fn add_user(&mut self, username: &str, now_ms: i64) -> String {
        let mut name = username.to_owned();
        let mut n = 2;
        while self.usernames.contains(&name) {
            name = format!("{username}{n}");
            n += 1;
        }
        let user = User {
            id: new_id(&mut self.rng),
            email: format!("{name}@example.com"),
            username: name.clone(),
            first_name: String::new(),
            last_name: String::new(),
            nickname: String::new(),
            position: String::new(),
            roles: "system_user".to_owned(),
            auth_service: "",
            is_bot: false,
            create_at: now_ms,
            update_at: now_ms,
            delete_at: 0,
            last_login: 0,
            last_activity_at: 0,
            status: "offline",
            truth: UserTruth {
                known_as: name.clone(),
                deactivated: false,
                bot: false,
                email: Some(format!("{name}@example.com")),
                logged_in_at: None,
                active_at: None,
                system_roles: vec!["system_user"],
            },
        };
        let id = user.id.clone();
        let key = (user.username.clone(), user.id.clone());
        let idx = self.push_user(user);
        let users = &self.users;
        let pos = self.user_order.partition_point(|&i| {
            (&users[i as usize].username, &users[i as usize].id) < (&key.0, &key.1)
        });
        self.user_order.insert(pos, idx);
        id
    }

    /// ShiftPages on user listings: a new user sorting before everyone.
    pub(super) fn shift_user(&mut self, now_ms: i64) {
        self.shift_users += 1;
        let name = format!("aaa-shift-{}", self.shift_users);
        self.add_user(&name, now_ms);
    }

    /// ShiftPages on `/teams`: a new open team sorting first.
    pub(super) fn shift_team(&mut self, now_ms: i64) {
        self.shift_teams += 1;
        let n = self.shift_teams;
        let id = new_id(&mut self.rng);
        let idx = self.teams.len() as u32;
        self.team_by_id.insert(id.clone(), idx);
        self.teams.push(Team {
            id,
            name: format!("shift-team-{n}"),
            display_name: format!("000 Shift Team {n}"),
            invite_only: false,
            create_at: now_ms,
            update_at: now_ms,
            delete_at: 0,
            archived: false,
            members: Vec::new(),
            gone: false,
        });
        self.rebuild_team_order();
    }

    /// ShiftPages on a member listing: the first visible member leaves.
    pub(super) fn shift_members(&mut self, team_id: &str, now_ms: i64) {
        let Some(&i) = self.team_by_id.get(team_id) else {
            return;
        };
        let team = &mut self.teams[i as usize];
        if let Some(m) = team.members.iter_mut().find(|m| m.visible()) {
            m.delete_at = now_ms.max(1);
        }
    }

    /// Deletes a team outright (404 afterwards).
    pub(super) fn remove_team(&mut self, team_id: &str) {
        if let Some(i) = self.team_by_id.remove(team_id) {
            self.teams[i as usize].gone = true;
            self.rebuild_team_order();
        }
    }

    /// Ids of live teams in generation order.
    pub(super) fn team_ids(&self) -> Vec<String> {
        self.teams
            .iter()
            .filter(|t| !t.gone)
            .map(|t| t.id.clone())
            .collect()
    }

    /// The resources, entitlements and grants a correct sync produces now.
    pub(super) fn ground_truth(&self) -> GroundTruth {
        let live = self.teams.iter().filter(|t| !t.gone);
        let n_teams = self.team_order.len();
        let mut resources = Vec::with_capacity(self.users.len() + n_teams);
        for u in &self.users {
            resources.push(user_resource(u));
        }
        let mut entitlements = Vec::with_capacity(n_teams * 3);
        let mut grants = Vec::new();
        for t in live {
            let team_ref = ResourceRef::new(ResourceType::Team, t.id.as_str());
            resources.push(
                Resource::new(ResourceType::Team, t.id.as_str(), t.display_name.as_str())
                    .with_profile("archived", t.archived)
                    .with_profile("team_type", t.team_type())
                    .with_profile("name", t.name.as_str()),
            );
            entitlements.push(Entitlement::new(
                team_ref.clone(),
                "member",
                Purpose::Assignment,
            ));
            entitlements.push(Entitlement::new(
                team_ref.clone(),
                "admin",
                Purpose::Permission,
            ));
            entitlements.push(Entitlement::new(
                team_ref.clone(),
                "guest",
                Purpose::Permission,
            ));
            let member = EntitlementId::new(team_ref.clone(), "member");
            let admin = EntitlementId::new(team_ref.clone(), "admin");
            let guest = EntitlementId::new(team_ref, "guest");
            for m in t.members.iter().filter(|m| m.visible()) {
                let who = ResourceRef::user(self.users[m.user as usize].id.as_str());
                grants.push(Grant::new(member.clone(), who.clone()));
                if m.scheme_admin {
                    grants.push(Grant::new(admin.clone(), who.clone()));
                }
                if m.scheme_guest {
                    grants.push(Grant::new(guest.clone(), who));
                }
            }
        }
        GroundTruth {
            resources,
            entitlements,
            grants,
            ..GroundTruth::new(CONTRACT)
        }
    }
}

/// A user as the snapshot must show it, from the generator's decisions
/// (`truth`) and the profile data passed through as is.
fn user_resource(u: &User) -> Resource {
    let t = &u.truth;
    let roles: Vec<serde_json::Value> = t
        .system_roles
        .iter()
        .map(|r| serde_json::Value::from(*r))
        .collect();
    let at = |ms: i64| Timestamp::from_unix_millis(ms);
    Resource::new(ResourceType::User, u.id.as_str(), t.known_as.as_str())
        .with_user(UserTraits {
            login: u.username.clone(),
            emails: t.email.iter().cloned().collect(),
            status: if t.deactivated {
                UserStatus::Disabled
            } else {
                UserStatus::Enabled
            },
            account_type: if t.bot {
                AccountType::Service
            } else {
                AccountType::Human
            },
            created_at: at(u.create_at),
            last_login_at: t.logged_in_at.and_then(at),
            last_activity_at: t.active_at.and_then(at),
        })
        .with_profile("system_roles", roles)
        .with_profile("auth_service", u.auth_service)
        .with_profile("position", u.position.as_str())
        .with_profile("first_name", u.first_name.as_str())
        .with_profile("last_name", u.last_name.as_str())
        .with_profile("nickname", u.nickname.as_str())
}
