//! Users: `users.list` (offset/count, stop on `total`). Each user carries
//! its role ids, so the listing also yields the users' role grants.
//!
//! Deactivated users' team memberships: `teams.members` lists active users
//! only (`TeamService.members` filters with `Users.findActive`), so the
//! listing asks `users.listTeams?userId=` for each deactivated user
//! (`TeamService.findBySubscribedUserIds`: the user's `TeamMember` rows,
//! active or not). It returns `isOwner` but no other member role, so a
//! deactivated user's `moderator` / `leader` grants cannot be read; a
//! notice says so. The memberships found are handed to each team's late
//! grants ([`DeactivatedTeams`], `ResourceSyncer::late_grants`), so every
//! team grant still comes from its team (which resuming a sync relies on),
//! and a team waiting for lookups holds none of the engine's slots.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use futures::StreamExt;
use roster_core::{
    AccountType, Entitlement, EntitlementId, Error, Grant, HttpClient, ItemStream, Listed, Page,
    PagingLimits, Resource, ResourceRef, ResourceSyncer, ResourceType, Result, UserStatus,
    UserTraits, paginate,
};
use serde_json::Value;

use crate::RocketChatConnector;
use crate::endpoints::{
    USERS_LIST, USERS_LIST_TEAMS, UserDto, UserTeamsDto, UsersListDto, paged, timestamp,
};
use crate::roles::{ASSIGNED, RoleTable};

/// A Matrix-style username: `@alice:matrix.org`.
fn is_matrix_username(username: &str) -> bool {
    username
        .strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

/// A user as a resource, with its grants of workspace-scope roles.
pub(crate) fn user_listed(user: UserDto, roles: &RoleTable) -> Listed {
    let username = user.username.clone().unwrap_or_default();
    let display_name = [user.name.as_deref(), Some(username.as_str())]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(&user.id)
        .to_owned();
    let role_ids = user.roles.unwrap_or_default();
    let service = matches!(user.kind.as_deref(), Some("bot" | "app"))
        || role_ids.iter().any(|r| r == "bot" || r == "app");
    let traits = UserTraits {
        login: username.clone(),
        emails: user
            .emails
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.address)
            .filter(|a| !a.is_empty())
            .collect(),
        status: if user.active == Some(false) {
            UserStatus::Disabled
        } else {
            UserStatus::Enabled
        },
        account_type: if service {
            AccountType::Service
        } else {
            AccountType::Human
        },
        created_at: timestamp(user.created_at.as_ref()),
        last_login_at: timestamp(user.last_login.as_ref()),
        last_activity_at: None,
    };
    let federated = user.federated == Some(true) || is_matrix_username(&username);
    let principal = ResourceRef::user(user.id.as_str());
    let mut grants: Vec<Grant> = Vec::new();
    for id in &role_ids {
        if roles.grants_assignment(id) {
            let g = Grant::new(
                EntitlementId::new(ResourceRef::new(ResourceType::Role, id.as_str()), ASSIGNED),
                principal.clone(),
            );
            if !grants.contains(&g) {
                grants.push(g);
            }
        }
    }
    let profile_roles: Vec<Value> = role_ids.into_iter().map(Value::String).collect();
    let resource = Resource::new(ResourceType::User, user.id, display_name)
        .with_user(traits)
        .with_profile("federated", federated)
        .with_profile("roles", profile_roles);
    Listed { resource, grants }
}

/// The user syncer.
pub(crate) struct UserSyncer<'a> {
    pub(crate) connector: &'a RocketChatConnector,
}

impl ResourceSyncer for UserSyncer<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::User
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        let connector = self.connector;
        // Role scopes first (one cached request), so each user's grants are
        // known when it is emitted.
        futures::stream::once(connector.roles())
            .flat_map(move |table| match table {
                Ok(table) => users(connector, table),
                Err(e) => futures::stream::iter([Err(e)]).boxed(),
            })
            .boxed()
    }

    fn entitlements<'a>(&'a self, _resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        futures::stream::empty().boxed()
    }
}

/// What the deactivated users' lookups found, for the closing notice.
#[derive(Default)]
struct Deactivated {
    read: AtomicU64,
    memberships: AtomicU64,
    unavailable: AtomicU64,
    reason: Mutex<Option<String>>,
}

impl Deactivated {
    fn notices(&self) -> Vec<String> {
        let mut out = Vec::new();
        let memberships = self.memberships.load(Ordering::Relaxed);
        let read = self.read.load(Ordering::Relaxed);
        if memberships > 0 {
            out.push(format!(
                "teams.members lists active users only; {memberships} team memberships of \
                 {read} deactivated users were read through users.listTeams, which tells \
                 `owner` but no other member role: deactivated users' `moderator` and `leader` \
                 roles are not in the snapshot"
            ));
        }
        let unavailable = self.unavailable.load(Ordering::Relaxed);
        if unavailable > 0 {
            let reason = self
                .reason
                .lock()
                .expect("reason lock")
                .clone()
                .unwrap_or_default();
            out.push(format!(
                "the team memberships of {unavailable} deactivated users are not visible: \
                 teams.members lists active users only and users.listTeams failed ({reason}); \
                 they reappear when the users are reactivated"
            ));
        }
        out
    }
}

/// The deactivated users' team memberships the user listing found, by
/// team, for the teams' late grants: each waits until its team's missing
/// members were found (or the user listing ended), then takes its share.
#[derive(Debug)]
pub(crate) struct DeactivatedTeams {
    /// team id → (user id, is owner).
    by_team: Mutex<HashMap<String, Vec<(String, bool)>>>,
    /// team id → `numberOfUsers` of `teams.listAll` (every member).
    sizes: Mutex<HashMap<String, u64>>,
    /// team id → members `teams.members` listed (active ones), from the
    /// team's grants to its late grants.
    active: Mutex<HashMap<String, u64>>,
    /// `None` while the user listing runs; `Some(true)` when it finished,
    /// `Some(false)` when it stopped early (its loss is reported already).
    done: watch::Sender<Option<bool>>,
    /// Bumped by every lookup that found memberships.
    added: watch::Sender<u64>,
}

impl Default for DeactivatedTeams {
    fn default() -> Self {
        Self {
            by_team: Mutex::default(),
            sizes: Mutex::default(),
            active: Mutex::default(),
            done: watch::Sender::new(None),
            added: watch::Sender::new(0),
        }
    }
}

impl DeactivatedTeams {
    fn add(&self, user_id: &str, teams: &UserTeamsDto) {
        let mut by_team = self.by_team.lock().expect("deactivated lock");
        for t in &teams.teams {
            by_team
                .entry(t.id.clone())
                .or_default()
                .push((user_id.to_owned(), t.is_owner == Some(true)));
        }
        drop(by_team);
        self.added.send_modify(|n| *n += 1);
    }

    fn finish(&self, complete: bool) {
        self.done.send_if_modified(|d| {
            let first = d.is_none();
            if first {
                *d = Some(complete);
            }
            first
        });
    }

    /// Records a team's `numberOfUsers` (members active or not).
    pub(crate) fn set_size(&self, team_id: &str, members: Option<u64>) {
        if let Some(n) = members {
            self.sizes
                .lock()
                .expect("sizes lock")
                .insert(team_id.to_owned(), n);
        }
    }

    /// Records how many (active) members `teams.members` listed on a team.
    pub(crate) fn set_active(&self, team_id: &str, active: u64) {
        self.active
            .lock()
            .expect("active lock")
            .insert(team_id.to_owned(), active);
    }

    /// Takes what [`set_active`](Self::set_active) recorded for a team.
    pub(crate) fn take_active(&self, team_id: &str) -> Option<u64> {
        self.active.lock().expect("active lock").remove(team_id)
    }

    /// The grants of deactivated users on `team`, whose `teams.members`
    /// listed `active` members: `member` (and `owner` when `isOwner`) for
    /// each deactivated member found. None at once when `numberOfUsers`
    /// says nobody is missing; else as soon as the lookups found all
    /// `numberOfUsers − active` missing members, or the user listing ended.
    /// None when the listing stopped early.
    pub(crate) async fn grants_of(&self, team: &ResourceRef, active: Option<u64>) -> Vec<Grant> {
        let size = self
            .sizes
            .lock()
            .expect("sizes lock")
            .get(team.id.as_str())
            .copied();
        let missing = size.zip(active).map(|(n, a)| n.saturating_sub(a));
        if missing == Some(0) {
            return Vec::new();
        }
        let mut done = self.done.subscribe();
        let mut added = self.added.subscribe();
        loop {
            let found = self
                .by_team
                .lock()
                .expect("deactivated lock")
                .get(team.id.as_str())
                .map_or(0, |m| m.len() as u64);
            if missing.is_some_and(|m| found >= m) {
                break;
            }
            match *done.borrow_and_update() {
                Some(true) => break,
                Some(false) => return Vec::new(),
                None => {}
            }
            added.borrow_and_update();
            tokio::select! {
                r = done.changed() => if r.is_err() { return Vec::new() },
                r = added.changed() => if r.is_err() { return Vec::new() },
            }
        }
        let members = self
            .by_team
            .lock()
            .expect("deactivated lock")
            .remove(team.id.as_str())
            .unwrap_or_default();
        members
            .into_iter()
            .flat_map(|(user, owner)| {
                let principal = ResourceRef::user(user.as_str());
                let owner = owner.then_some("owner");
                std::iter::once("member").chain(owner).map(move |slug| {
                    Grant::new(EntitlementId::new(team.clone(), slug), principal.clone())
                })
            })
            .collect()
    }
}

/// Marks the user listing stopped early unless it finished.
struct FinishGuard(Arc<DeactivatedTeams>);

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.0.finish(false);
    }
}

/// Looks up a deactivated user's teams for the team grant streams. `Err`
/// only for a failure that loses memberships (403/404/400 mean the server
/// does not offer the lookup: counted for the notice).
async fn look_up_teams(
    client: HttpClient,
    user_id: String,
    teams: Arc<DeactivatedTeams>,
    found: Arc<Deactivated>,
) -> Result<()> {
    let call = USERS_LIST_TEAMS.call().query("userId", user_id.as_str());
    match client.json::<UserTeamsDto>(&call).await {
        Ok(dto) => {
            teams.add(&user_id, &dto);
            found.read.fetch_add(1, Ordering::Relaxed);
            found
                .memberships
                .fetch_add(dto.teams.len() as u64, Ordering::Relaxed);
            Ok(())
        }
        Err(e) if e.is_fatal() => Err(e),
        Err(
            e @ (Error::NotFound { .. }
            | Error::Forbidden { .. }
            | Error::Status { status: 400, .. }),
        ) => {
            found.unavailable.fetch_add(1, Ordering::Relaxed);
            found
                .reason
                .lock()
                .expect("reason lock")
                .get_or_insert_with(|| e.to_string());
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// `users.listTeams` lookups in flight at once.
const LOOKUPS_AT_ONCE: usize = 8;

fn users(connector: &RocketChatConnector, table: Arc<RoleTable>) -> ItemStream<'_, Listed> {
    let client = connector.client.clone();
    let notices = connector.client.clone();
    let found = Arc::new(Deactivated::default());
    // The lookups run beside the listing (their own rate-limit bucket), so
    // users.list pages never wait for them; dropping the stream aborts them.
    let lookups: Arc<Mutex<JoinSet<Result<()>>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(LOOKUPS_AT_ONCE));
    let end = (
        found.clone(),
        lookups.clone(),
        connector.client.clone(),
        FinishGuard(connector.deactivated.clone()),
    );
    let shared = connector.deactivated.clone();
    let mut noted_created_at = false;
    let mut reported_roles = false;
    paginate(
        USERS_LIST.to_string(),
        connector.paging(),
        PagingLimits::default(),
        move |req| {
            let client = client.clone();
            async move {
                let body: UsersListDto = client.json(&paged(USERS_LIST, &req)).await?;
                Ok(Page::new(body.users).with_total(body.total))
            }
        },
    )
    .flat_map(move |user| {
        let mut out: Vec<Result<Listed>> = Vec::with_capacity(2);
        match user {
            Ok(u) => {
                if u.created_at.is_none() && !noted_created_at {
                    // Current servers leave `createdAt` out of users.list.
                    noted_created_at = true;
                    notices.note(
                        "users.list does not return createdAt on this server: users without it have created_at null",
                    );
                }
                if u.roles.is_none() && !reported_roles {
                    // Every account holds a role; the field is left out for
                    // callers without view-full-other-user-info. Written
                    // role-less, the snapshot would look complete and be
                    // wrong: say it is not.
                    reported_roles = true;
                    out.push(Err(Error::MissingPermission {
                        permission: "view-full-other-user-info".to_owned(),
                        why: format!(
                            "users.list returned user `{}` without roles (and emails, last login), so role grants are missing",
                            u.id
                        ),
                    }));
                }
                if u.active == Some(false) {
                    let task = look_up_teams(
                        notices.clone(),
                        u.id.clone(),
                        shared.clone(),
                        found.clone(),
                    );
                    let permits = permits.clone();
                    lookups.lock().expect("lookups lock").spawn(async move {
                        let _permit = permits.acquire_owned().await;
                        task.await
                    });
                }
                out.push(Ok(user_listed(u, &table)));
            }
            Err(e) => out.push(Err(e)),
        }
        futures::stream::iter(out)
    })
    .chain(
        futures::stream::once(async move {
            let (found, lookups, client, guard) = end;
            let mut set = std::mem::take(&mut *lookups.lock().expect("lookups lock"));
            let mut first_error = None;
            while let Some(done) = set.join_next().await {
                match done {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        first_error.get_or_insert(e);
                    }
                    // A lookup that panicked: its memberships are unknown.
                    Err(_) => {
                        found.unavailable.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            for n in found.notices() {
                client.note(n);
            }
            guard.0.finish(true);
            // Memberships of a deactivated user were lost: the sync is
            // incomplete, and the error says which lookup failed.
            first_error.map(Err)
        })
        .filter_map(futures::future::ready),
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::RoleDto;
    use serde_json::json;

    fn table() -> RoleTable {
        let roles: Vec<RoleDto> = serde_json::from_value(json!([
            {"_id": "user", "name": "user", "scope": "Users"},
            {"_id": "bot", "name": "bot", "scope": "Users"},
            {"_id": "owner", "name": "owner", "scope": "Subscriptions"},
            {"_id": "0123456789abcdef01234567", "name": "auditor", "scope": "Users"},
        ]))
        .unwrap();
        RoleTable::new(roles)
    }

    fn user(v: serde_json::Value) -> UserDto {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn full_user_maps_per_contract() {
        let l = user_listed(
            user(json!({
                "_id": "u1", "username": "ada", "name": "Ada Lovelace",
                "emails": [{"address": "ada@example.com", "verified": true}, {"address": "a@x.net"}],
                "roles": ["user", "0123456789abcdef01234567", "owner", "ghost", "user"],
                "active": true, "type": "user",
                "lastLogin": "2024-05-01T10:00:00.000Z", "createdAt": "2023-01-02T03:04:05.000Z",
            })),
            &table(),
        );
        let r = &l.resource;
        assert_eq!(r.display_name, "Ada Lovelace");
        let u = r.user.as_ref().unwrap();
        assert_eq!(u.login, "ada");
        assert_eq!(u.emails, ["ada@example.com", "a@x.net"]);
        assert_eq!(u.status, UserStatus::Enabled);
        assert_eq!(u.account_type, AccountType::Human);
        assert_eq!(u.created_at.unwrap().to_string(), "2023-01-02T03:04:05Z");
        assert!(u.last_login_at.is_some());
        assert_eq!(r.profile["federated"], false);
        assert_eq!(
            r.profile["roles"],
            json!(["user", "0123456789abcdef01234567", "owner", "ghost", "user"])
        );
        let granted: Vec<String> = l.grants.iter().map(|g| g.entitlement.to_string()).collect();
        assert_eq!(
            granted,
            [
                "role:user:assigned",
                "role:0123456789abcdef01234567:assigned"
            ],
            "room-scoped and unknown roles get no grant; duplicates once"
        );
    }

    #[test]
    fn sparse_bot_and_federated_users() {
        let bot = user_listed(
            user(
                json!({"_id": "b1", "username": "ci-bot", "name": "", "active": false, "type": "bot"}),
            ),
            &table(),
        );
        assert_eq!(bot.resource.display_name, "ci-bot");
        let u = bot.resource.user.as_ref().unwrap();
        assert_eq!(u.status, UserStatus::Disabled);
        assert_eq!(u.account_type, AccountType::Service);
        assert_eq!(u.created_at, None);
        assert!(u.emails.is_empty());
        assert_eq!(bot.resource.profile["roles"], json!([]));

        let by_role = user_listed(
            user(json!({"_id": "b2", "username": "x", "type": "user", "roles": ["bot"]})),
            &table(),
        );
        assert_eq!(
            by_role.resource.user.unwrap().account_type,
            AccountType::Service
        );

        let fed = user_listed(
            user(json!({"_id": "f1", "username": "@alice:matrix.org"})),
            &table(),
        );
        assert_eq!(fed.resource.profile["federated"], true);
        let flagged = user_listed(
            user(json!({"_id": "f2", "username": "bob", "federated": true})),
            &table(),
        );
        assert_eq!(flagged.resource.profile["federated"], true);
        let anonymous = user_listed(user(json!({"_id": "n1"})), &table());
        assert_eq!(anonymous.resource.display_name, "n1");
        let blank = user_listed(
            user(json!({"_id": "n2", "username": "grace", "name": "  "})),
            &table(),
        );
        assert_eq!(
            blank.resource.display_name, "grace",
            "a blank name is no name"
        );
        assert!(!is_matrix_username("@alice"));
        assert!(!is_matrix_username("@:x"));
    }
}
