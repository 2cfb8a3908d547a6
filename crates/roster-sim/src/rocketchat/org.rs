//! The simulated organisation: seeded generation, state and ground truth.

use std::collections::{HashMap, HashSet};

use roster_core::{
    AccountType, Entitlement, EntitlementId, Grant, Purpose, Resource, ResourceRef, ResourceType,
    Timestamp, UserStatus, UserTraits,
};

use super::OrgSpec;
use crate::GroundTruth;

/// 2019-01-01T00:00:00Z: the earliest generated `createdAt`.
const BASE_MS: i64 = 1_546_300_800_000;
const DAY_MS: i64 = 86_400_000;
/// Meteor's `Random.id()` alphabet.
const METEOR_CHARS: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const FIRST: &[&str] = &[
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "dennis",
    "barbara",
    "ken",
    "frances",
    "edsger",
    "radia",
    "tim",
    "hedy",
    "john",
    "katherine",
    "donald",
    "sophie",
    "niklaus",
    "anita",
    "bjarne",
    "joan",
    "guido",
    "mary",
    "james",
    "annie",
    "yukihiro",
    "evelyn",
    "brian",
    "karen",
    "leslie",
    "carol",
    "rob",
    "jean",
    "vint",
    "sally",
    "robin",
    "ida",
    "claude",
    "lynn",
    "ward",
];
const LAST: &[&str] = &[
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "ritchie",
    "liskov",
    "thompson",
    "allen",
    "dijkstra",
    "perlman",
    "lee",
    "lamarr",
    "backus",
    "johnson",
    "knuth",
    "wilson",
    "wirth",
    "borg",
    "stroustrup",
    "clarke",
    "rossum",
    "keller",
    "gosling",
    "easley",
    "matsumoto",
    "boyd",
    "kernighan",
    "jones",
    "lamport",
    "shaw",
    "pike",
    "sammet",
    "cerf",
    "floyd",
    "milner",
    "rhodes",
    "shannon",
    "conway",
    "cunningham",
];
const WORDS: &[&str] = &[
    "apollo", "backend", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "iris",
    "juniper", "kepler", "lumen", "meridian", "nova", "orbit", "pulsar", "quartz", "raven",
    "sierra", "tundra", "umbra", "vertex", "willow", "xenon", "yonder", "zephyr", "support",
    "sales", "infra", "design", "mobile", "security", "data", "growth", "platform", "legal",
];
const CUSTOM_ROLE_NAMES: &[&str] = &[
    "auditor",
    "support-lead",
    "room-curator",
    "compliance",
    "release-manager",
    "channel-steward",
    "help-desk",
    "announcer",
    "escalation",
    "archivist",
];
const BUILTIN_USERS: &[&str] = &[
    "admin",
    "user",
    "bot",
    "app",
    "guest",
    "anonymous",
    "livechat-agent",
    "livechat-manager",
];
const BUILTIN_SUBSCRIPTIONS: &[&str] = &["owner", "moderator", "leader"];
const STATUSES: &[&str] = &["online", "away", "busy", "offline"];

/// Role scope `Users` (workspace-wide).
pub(crate) const SCOPE_USERS: &str = "Users";
/// Role scope `Subscriptions` (room-scoped).
pub(crate) const SCOPE_SUBSCRIPTIONS: &str = "Subscriptions";

/// A Rocket.Chat user as stored.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub username: String,
    /// `None`: the field is absent; `Some("")`: present but empty.
    pub name: Option<String>,
    pub emails: Vec<(String, bool)>,
    pub roles: Vec<String>,
    pub active: bool,
    pub kind: &'static str,
    pub last_login: Option<i64>,
    pub created_at: i64,
    pub federated_flag: bool,
    pub status: &'static str,
}

impl User {
    /// `federated: true`, or a Matrix-style `@alice:matrix.org` username.
    pub fn is_federated(&self) -> bool {
        self.federated_flag || is_matrix_username(&self.username)
    }
    /// `name`, else the username.
    pub fn display_name(&self) -> &str {
        match &self.name {
            Some(n) if !n.is_empty() => n,
            _ => &self.username,
        }
    }
    pub fn is_service(&self) -> bool {
        self.kind == "bot"
            || self.kind == "app"
            || self.roles.iter().any(|r| r == "bot" || r == "app")
    }
}

fn is_matrix_username(u: &str) -> bool {
    u.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

/// A role of `roles.list`.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub id: String,
    pub name: String,
    pub scope: &'static str,
    pub description: String,
    pub protected: bool,
    pub mandatory2fa: bool,
}

/// One membership of a team.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Index into [`Org::users`].
    pub user: usize,
    /// `None`: the field is absent.
    pub roles: Option<Vec<String>>,
    pub created_at: i64,
}

/// A team of `teams.listAll`.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub id: String,
    pub name: String,
    pub kind: u8,
    pub room_id: String,
    pub created_at: i64,
    pub members: Vec<Member>,
}

/// The users the sim hands out credentials for.
#[derive(Debug, Clone)]
pub(crate) struct CredUsers {
    pub admin: usize,
    pub bot: usize,
    pub plain: usize,
    pub viewer: usize,
}

/// The whole mutable state of one simulated workspace.
#[derive(Debug)]
pub(crate) struct Org {
    /// Creation order; never shrinks, so indices are stable.
    pub users: Vec<User>,
    /// Indices of `users`, sorted by username.
    pub by_username: Vec<usize>,
    pub roles: Vec<Role>,
    pub teams: Vec<Team>,
    /// token → user index.
    pub tokens: HashMap<String, usize>,
    pub cred: CredUsers,
    /// The custom role held by the sim's bot (view-all-teams + view-full-other-user-info).
    pub reader_role: String,
    /// The custom role held by the team viewer (view-all-teams only).
    pub auditor_role: String,
    /// Permission id → roles, replacing the stock table's entry.
    pub permission_overrides: HashMap<String, Vec<String>>,
    ids: HashSet<String>,
    usernames: HashSet<String>,
    rng: fastrand::Rng,
    shift_counter: u32,
}

fn meteor_id(rng: &mut fastrand::Rng, ids: &mut HashSet<String>) -> String {
    loop {
        let id: String = (0..17)
            .map(|_| METEOR_CHARS[rng.usize(..METEOR_CHARS.len())] as char)
            .collect();
        if ids.insert(id.clone()) {
            return id;
        }
    }
}

fn hex_id(rng: &mut fastrand::Rng, ids: &mut HashSet<String>) -> String {
    loop {
        let id: String = (0..24)
            .map(|_| char::from_digit(rng.u32(..16), 16).unwrap_or('0'))
            .collect();
        if ids.insert(id.clone()) {
            return id;
        }
    }
}

fn token(rng: &mut fastrand::Rng) -> String {
    (0..43)
        .map(|_| TOKEN_CHARS[rng.usize(..TOKEN_CHARS.len())] as char)
        .collect()
}

fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
    list[rng.usize(..list.len())]
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl Org {
    /// Generates the workspace `spec` describes; deterministic in `spec.seed`.
    pub fn generate(spec: &OrgSpec) -> Self {
        let mut rng = fastrand::Rng::with_seed(spec.seed);
        let mut ids = HashSet::new();
        let mut roles = Vec::new();
        for name in BUILTIN_USERS {
            roles.push(builtin_role(name, SCOPE_USERS));
        }
        for name in BUILTIN_SUBSCRIPTIONS {
            roles.push(builtin_role(name, SCOPE_SUBSCRIPTIONS));
        }
        let mut custom_users = Vec::new();
        let mut custom_subs = Vec::new();
        for i in 0..spec.custom_roles {
            let scope = if i + 1 == spec.custom_roles {
                SCOPE_SUBSCRIPTIONS
            } else if i == 0 || rng.u8(..10) >= 3 {
                SCOPE_USERS
            } else {
                SCOPE_SUBSCRIPTIONS
            };
            let base = CUSTOM_ROLE_NAMES[i % CUSTOM_ROLE_NAMES.len()];
            let name = if i < CUSTOM_ROLE_NAMES.len() {
                base.to_owned()
            } else {
                format!("{base}-{}", i / CUSTOM_ROLE_NAMES.len() + 1)
            };
            let id = hex_id(&mut rng, &mut ids);
            if scope == SCOPE_USERS {
                custom_users.push(id.clone());
            } else {
                custom_subs.push(id.clone());
            }
            roles.push(Role {
                id,
                description: format!("Custom role {name}"),
                name,
                scope,
                protected: false,
                mandatory2fa: false,
            });
        }
        let reader_role = hex_id(&mut rng, &mut ids);
        roles.push(Role {
            id: reader_role.clone(),
            name: "roster-sync-reader".to_owned(),
            scope: SCOPE_USERS,
            description: "Reads teams and full user info for access reviews".to_owned(),
            protected: false,
            mandatory2fa: false,
        });
        let auditor_role = hex_id(&mut rng, &mut ids);
        roles.push(Role {
            id: auditor_role.clone(),
            name: "team-auditor".to_owned(),
            scope: SCOPE_USERS,
            description: "Sees every team".to_owned(),
            protected: false,
            mandatory2fa: false,
        });
        let all_custom: Vec<String> = custom_users.iter().chain(&custom_subs).cloned().collect();
        // A role id that users may still hold although the role was deleted.
        let ghost_role = hex_id(&mut rng, &mut ids);

        let mut org = Org {
            users: Vec::with_capacity(spec.users + 4),
            by_username: Vec::new(),
            roles,
            teams: Vec::with_capacity(spec.teams),
            tokens: HashMap::new(),
            cred: CredUsers {
                admin: 0,
                bot: 0,
                plain: 0,
                viewer: 0,
            },
            reader_role,
            auditor_role,
            permission_overrides: HashMap::new(),
            ids,
            usernames: HashSet::with_capacity(spec.users + 4),
            rng: fastrand::Rng::new(),
            shift_counter: 0,
        };

        for i in 0..spec.users {
            let user = gen_user(&mut rng, &mut org, i, &all_custom, &ghost_role);
            org.users.push(user);
        }
        let generated = org.users.len();

        // The users the sim hands out credentials for.
        let admin = org.push_cred_user(
            &mut rng,
            "rc.admin",
            "Workspace Admin",
            "user",
            &["admin", "user"],
        );
        let bot_roles = ["bot".to_owned(), org.reader_role.clone()];
        let bot = org.push_cred_user(&mut rng, "roster.bot", "Roster Bot", "bot", &bot_roles);
        let plain = org.push_cred_user(&mut rng, "plain.user", "Plain User", "user", &["user"]);
        let viewer_roles = ["user".to_owned(), org.auditor_role.clone()];
        let viewer = org.push_cred_user(
            &mut rng,
            "team.viewer",
            "Team Viewer",
            "user",
            &viewer_roles,
        );
        org.cred = CredUsers {
            admin,
            bot,
            plain,
            viewer,
        };

        let mut team_names = HashSet::new();
        for t in 0..spec.teams {
            let id = meteor_id(&mut rng, &mut org.ids);
            let room_id = meteor_id(&mut rng, &mut org.ids);
            let mut name = format!("{}-{}", pick(&mut rng, WORDS), pick(&mut rng, WORDS));
            if !team_names.insert(name.clone()) {
                name = format!("{name}-{t}");
                team_names.insert(name.clone());
            }
            let kind = u8::from(rng.u8(..10) < 3);
            let created_at = BASE_MS + rng.i64(0..5 * 365 * DAY_MS);
            let k = if spec.avg_members == 0 || generated == 0 {
                0
            } else {
                let lo = (spec.avg_members / 2).max(1);
                let hi = (spec.avg_members * 3 / 2).max(lo);
                rng.usize(lo..=hi).min(generated)
            };
            let picked = sample(&mut rng, generated, k);
            let mut members = Vec::with_capacity(k + 1);
            for (j, user) in picked.into_iter().enumerate() {
                let roles = if j == 0 {
                    Some(vec!["owner".to_owned()])
                } else {
                    member_roles(&mut rng, &custom_subs)
                };
                members.push(Member {
                    user,
                    roles,
                    created_at: created_at + rng.i64(0..365 * DAY_MS),
                });
            }
            if t == 0 {
                members.push(Member {
                    user: plain,
                    roles: None,
                    created_at: created_at + DAY_MS,
                });
            }
            org.teams.push(Team {
                id,
                name,
                kind,
                room_id,
                created_at,
                members,
            });
        }
        org.rng = fastrand::Rng::with_seed(spec.seed ^ 0x005e_ed0f_5eed);
        org.resort();
        org
    }

    fn push_cred_user(
        &mut self,
        rng: &mut fastrand::Rng,
        username: &str,
        name: &str,
        kind: &'static str,
        roles: &[impl AsRef<str>],
    ) -> usize {
        let id = meteor_id(rng, &mut self.ids);
        let username = self.unique_username(username.to_owned());
        let tok = token(rng);
        let created_at = BASE_MS + rng.i64(0..365 * DAY_MS);
        self.users.push(User {
            id,
            emails: vec![(format!("{username}@example.com"), true)],
            username,
            name: Some(name.to_owned()),
            roles: roles.iter().map(|r| r.as_ref().to_owned()).collect(),
            active: true,
            kind,
            last_login: Some(created_at + DAY_MS),
            created_at,
            federated_flag: false,
            status: "online",
        });
        let idx = self.users.len() - 1;
        self.tokens.insert(tok, idx);
        idx
    }

    fn unique_username(&mut self, base: String) -> String {
        if self.usernames.insert(base.clone()) {
            return base;
        }
        let mut n = 2;
        loop {
            let candidate = match base.split_once(':') {
                // Keep Matrix ids well formed: `@alice2:matrix.org`.
                Some((local, server)) if base.starts_with('@') => format!("{local}{n}:{server}"),
                _ => format!("{base}{n}"),
            };
            if self.usernames.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    fn resort(&mut self) {
        let mut order: Vec<usize> = (0..self.users.len()).collect();
        order.sort_by(|&a, &b| self.users[a].username.cmp(&self.users[b].username));
        self.by_username = order;
    }

    /// The token of the user at `idx`.
    pub fn token_of(&self, idx: usize) -> String {
        self.tokens
            .iter()
            .find(|(_, u)| **u == idx)
            .map(|(t, _)| t.clone())
            .unwrap_or_default()
    }

    /// Adds an active human with role `user`; returns its index.
    pub fn add_user(&mut self, username: &str, created_at: i64) -> usize {
        let id = meteor_id(&mut self.rng, &mut self.ids);
        self.usernames.insert(username.to_owned());
        let user = User {
            id,
            username: username.to_owned(),
            name: Some(username.to_owned()),
            emails: vec![(format!("{username}@example.com"), false)],
            roles: vec!["user".to_owned()],
            active: true,
            kind: "user",
            last_login: None,
            created_at,
            federated_flag: false,
            status: "offline",
        };
        let users = &self.users;
        let pos = self
            .by_username
            .partition_point(|&i| users[i].username.as_str() <= username);
        self.users.push(user);
        let idx = self.users.len() - 1;
        self.by_username.insert(pos, idx);
        idx
    }

    /// Adds a user whose username sorts before every other one.
    pub fn add_shift_user(&mut self, created_at: i64) -> usize {
        self.shift_counter += 1;
        let name = format!(
            "0shift-{:06}",
            999_999u32.saturating_sub(self.shift_counter)
        );
        self.add_user(&name, created_at)
    }

    /// Adds an empty team at the start of the listing.
    pub fn add_shift_team(&mut self, created_at: i64) {
        self.shift_counter += 1;
        let id = meteor_id(&mut self.rng, &mut self.ids);
        let room_id = meteor_id(&mut self.rng, &mut self.ids);
        self.teams.insert(
            0,
            Team {
                id,
                name: format!("shifted-team-{}", self.shift_counter),
                kind: 0,
                room_id,
                created_at,
                members: Vec::new(),
            },
        );
    }

    /// The ground truth of the current state. `old_user_shape`: `users.list`
    /// returns `createdAt` and the `federated` flag.
    pub fn ground_truth(&self, old_user_shape: bool) -> GroundTruth {
        let mut gt = GroundTruth::new(super::CONTRACT);
        let users_scope: HashSet<&str> = self
            .roles
            .iter()
            .filter(|r| r.scope == SCOPE_USERS)
            .map(|r| r.id.as_str())
            .collect();
        for role in &self.roles {
            let res = Resource::new(ResourceType::Role, role.id.as_str(), role.name.as_str())
                .with_profile("scope", role.scope)
                .with_profile("protected", role.protected)
                .with_profile("name", role.name.as_str());
            gt.entitlements.push(Entitlement::new(
                res.reference(),
                "assigned",
                Purpose::Assignment,
            ));
            gt.resources.push(res);
        }
        for &idx in &self.by_username {
            let u = &self.users[idx];
            let traits = UserTraits {
                login: u.username.clone(),
                emails: u.emails.iter().map(|(a, _)| a.clone()).collect(),
                status: if u.active {
                    UserStatus::Enabled
                } else {
                    UserStatus::Disabled
                },
                account_type: if u.is_service() {
                    AccountType::Service
                } else {
                    AccountType::Human
                },
                created_at: if old_user_shape {
                    Timestamp::from_unix_millis(u.created_at)
                } else {
                    None
                },
                last_login_at: u.last_login.and_then(Timestamp::from_unix_millis),
                last_activity_at: None,
            };
            let roles: Vec<serde_json::Value> = u.roles.iter().map(|r| r.as_str().into()).collect();
            let res = Resource::new(ResourceType::User, u.id.as_str(), u.display_name())
                .with_user(traits)
                .with_profile(
                    "federated",
                    (old_user_shape && u.federated_flag) || is_matrix_username(&u.username),
                )
                .with_profile("roles", roles);
            let mut seen = HashSet::new();
            for r in &u.roles {
                if users_scope.contains(r.as_str()) && seen.insert(r.as_str()) {
                    gt.grants.push(Grant::new(
                        EntitlementId::new(
                            ResourceRef::new(ResourceType::Role, r.as_str()),
                            "assigned",
                        ),
                        ResourceRef::user(u.id.as_str()),
                    ));
                }
            }
            gt.resources.push(res);
        }
        for team in &self.teams {
            let res = Resource::new(ResourceType::Team, team.id.as_str(), team.name.as_str())
                .with_profile("team_type", team.kind)
                .with_profile("room_id", team.room_id.as_str());
            let reference = res.reference();
            gt.entitlements.push(Entitlement::new(
                reference.clone(),
                "member",
                Purpose::Assignment,
            ));
            for slug in ["owner", "moderator", "leader"] {
                gt.entitlements.push(Entitlement::new(
                    reference.clone(),
                    slug,
                    Purpose::Permission,
                ));
            }
            let mut seen = HashSet::new();
            for m in &team.members {
                let u = &self.users[m.user];
                if !seen.insert(m.user) {
                    continue;
                }
                let principal = ResourceRef::user(u.id.as_str());
                gt.grants.push(Grant::new(
                    EntitlementId::new(reference.clone(), "member"),
                    principal.clone(),
                ));
                // Every membership exists, a deactivated user's too; of
                // theirs, only `owner` can be read (see `ground_truth`'s
                // doc on `RocketChatSim`).
                let readable: &[&str] = if u.active {
                    &["owner", "moderator", "leader"]
                } else {
                    &["owner"]
                };
                for &slug in readable {
                    if m.roles
                        .as_ref()
                        .is_some_and(|r| r.iter().any(|x| x == slug))
                    {
                        gt.grants.push(Grant::new(
                            EntitlementId::new(reference.clone(), slug),
                            principal.clone(),
                        ));
                    }
                }
            }
            gt.resources.push(res);
        }
        gt
    }
}

fn builtin_role(name: &str, scope: &'static str) -> Role {
    Role {
        id: name.to_owned(),
        name: name.to_owned(),
        scope,
        description: String::new(),
        protected: true,
        mandatory2fa: false,
    }
}

/// `k` distinct indices below `n`, in random order.
fn sample(rng: &mut fastrand::Rng, n: usize, k: usize) -> Vec<usize> {
    if k * 2 > n {
        let mut all: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut all);
        all.truncate(k);
        return all;
    }
    let mut seen = HashSet::with_capacity(k);
    let mut out = Vec::with_capacity(k);
    while out.len() < k {
        let i = rng.usize(..n);
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

fn member_roles(rng: &mut fastrand::Rng, custom_subs: &[String]) -> Option<Vec<String>> {
    let v = |xs: &[&str]| Some(xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    match rng.u8(..100) {
        0..35 => None,
        35..65 => Some(Vec::new()),
        65..73 => v(&["owner"]),
        73..81 => v(&["moderator"]),
        81..86 => v(&["leader"]),
        86..89 => v(&["owner", "moderator"]),
        89..91 => v(&["moderator", "leader"]),
        91..95 => v(&["member"]),
        _ => match custom_subs {
            [] => v(&["member"]),
            subs => Some(vec![subs[rng.usize(..subs.len())].clone()]),
        },
    }
}

fn gen_user(
    rng: &mut fastrand::Rng,
    org: &mut Org,
    i: usize,
    custom: &[String],
    ghost_role: &str,
) -> User {
    let id = meteor_id(rng, &mut org.ids);
    let first = pick(rng, FIRST);
    let last = pick(rng, LAST);
    let created_at = BASE_MS + rng.i64(0..6 * 365 * DAY_MS);
    let last_login = (rng.u8(..100) < 60).then(|| created_at + rng.i64(0..365 * DAY_MS));
    let active = rng.u8(..100) >= 5;
    let roll = rng.u8(..100);
    let status = if active {
        pick(rng, STATUSES)
    } else {
        "offline"
    };
    if roll < 3 {
        let word = pick(rng, WORDS);
        let username = org.unique_username(format!("{word}-bot"));
        let emails = if rng.bool() {
            vec![(format!("{username}@bots.example.com"), false)]
        } else {
            Vec::new()
        };
        return User {
            id,
            name: if rng.bool() {
                Some(format!("{} Bot", capitalize(word)))
            } else {
                None
            },
            username,
            emails,
            roles: vec!["bot".to_owned()],
            active,
            kind: "bot",
            last_login,
            created_at,
            federated_flag: false,
            status,
        };
    }
    if roll < 4 {
        let word = pick(rng, WORDS);
        let username = org.unique_username(format!("{word}.app"));
        return User {
            id,
            name: Some(format!("{} App", capitalize(word))),
            username,
            emails: Vec::new(),
            roles: vec!["app".to_owned()],
            active,
            kind: "app",
            last_login: None,
            created_at,
            federated_flag: false,
            status: "online",
        };
    }
    // A human (or a service account of type `user` holding the `bot` role).
    let federated = rng.u8(..100) < 5;
    let (username, federated_flag) = if federated {
        let server = if rng.bool() {
            "matrix.org"
        } else {
            "chat.example.org"
        };
        match rng.u8(..4) {
            0 => (format!("{first}.{last}"), true),
            1 => (format!("@{first}:{server}"), false),
            _ => (format!("@{first}:{server}"), true),
        }
    } else {
        (format!("{first}.{last}"), false)
    };
    let username = org.unique_username(username);
    let name = match rng.u8(..100) {
        0..5 => Some(String::new()),
        5..9 => None,
        _ => Some(format!("{} {}", capitalize(first), capitalize(last))),
    };
    let mut emails = vec![(format!("{first}.{last}{i}@example.com"), rng.u8(..10) < 8)];
    if rng.u8(..100) < 15 {
        emails.push((format!("{first}{i}@personal.example.net"), rng.bool()));
    }
    let mut roles = Vec::with_capacity(3);
    roles.push(if rng.u8(..100) < 3 { "guest" } else { "user" }.to_owned());
    if rng.u8(..100) < 3 {
        roles.push("admin".to_owned());
    }
    if rng.u8(..100) < 5 {
        roles.push("livechat-agent".to_owned());
    }
    if rng.u8(..100) < 1 {
        roles.push("livechat-manager".to_owned());
    }
    if !custom.is_empty() && rng.u8(..100) < 8 {
        roles.push(custom[rng.usize(..custom.len())].clone());
    }
    if rng.u16(..1000) < 5 {
        roles.push(ghost_role.to_owned());
    }
    if rng.u8(..100) < 1 {
        roles.push("bot".to_owned());
    }
    User {
        id,
        username,
        name,
        emails,
        roles,
        active,
        kind: "user",
        last_login,
        created_at,
        federated_flag,
        status,
    }
}

/// JavaScript's `Date.prototype.toISOString()`: `2024-01-02T03:04:05.123Z`.
pub(crate) fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
