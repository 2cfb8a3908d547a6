//! Users: `users.list` (offset/count, stop on `total`). Each user carries
//! its role ids, so the listing also yields the users' role grants.
//!
//! Deactivated users' team memberships: `teams.members` lists active users
//! only (`TeamService.members` filters with `Users.findActive`), so the
//! listing asks `users.listTeams?userId=` for each deactivated user
//! (`TeamService.findBySubscribedUserIds`: the user's `TeamMember` rows,
//! active or not). It returns `isOwner` but no other member role, so a
//! deactivated user's `moderator` / `leader` grants cannot be read; a
//! notice says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use roster_core::{
    AccountType, Entitlement, EntitlementId, Error, Grant, ItemStream, Listed, Page, PagingLimits,
    Resource, ResourceRef, ResourceSyncer, ResourceType, Result, UserStatus, UserTraits, paginate,
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

/// A deactivated user's team grants from `users.listTeams`: `member`, and
/// `owner` when `isOwner`.
pub(crate) fn deactivated_team_grants(user_id: &str, teams: &UserTeamsDto) -> Vec<Grant> {
    let principal = ResourceRef::user(user_id);
    teams
        .teams
        .iter()
        .flat_map(|t| {
            let team = ResourceRef::new(ResourceType::Team, t.id.as_str());
            let owner = (t.is_owner == Some(true)).then_some("owner");
            std::iter::once("member")
                .chain(owner)
                .map(move |slug| (team.clone(), slug))
        })
        .map(|(team, slug)| Grant::new(EntitlementId::new(team, slug), principal.clone()))
        .collect()
}

/// Adds a deactivated user's team grants to its listing.
async fn with_team_grants(
    connector: &RocketChatConnector,
    mut listed: Listed,
    found: &Deactivated,
) -> Result<Listed> {
    let call = USERS_LIST_TEAMS
        .call()
        .query("userId", listed.resource.id.as_str());
    match connector.client.json::<UserTeamsDto>(&call).await {
        Ok(teams) => {
            let grants = deactivated_team_grants(listed.resource.id.as_str(), &teams);
            found.read.fetch_add(1, Ordering::Relaxed);
            found
                .memberships
                .fetch_add(teams.teams.len() as u64, Ordering::Relaxed);
            listed.grants.extend(grants);
            Ok(listed)
        }
        Err(e) if e.is_fatal() => Err(e),
        Err(e @ (Error::NotFound { .. } | Error::Forbidden { .. } | Error::Status { status: 400, .. })) => {
            found.unavailable.fetch_add(1, Ordering::Relaxed);
            found
                .reason
                .lock()
                .expect("reason lock")
                .get_or_insert_with(|| e.to_string());
            Ok(listed)
        }
        Err(e) => Err(e),
    }
}

fn users(connector: &RocketChatConnector, table: Arc<RoleTable>) -> ItemStream<'_, Listed> {
    let client = connector.client.clone();
    let notices = connector.client.clone();
    let found = Arc::new(Deactivated::default());
    let found_end = found.clone();
    let end_client = connector.client.clone();
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
        let mut out: Vec<Result<(Listed, bool)>> = Vec::with_capacity(2);
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
                let deactivated = u.active == Some(false);
                out.push(Ok((user_listed(u, &table), deactivated)));
            }
            Err(e) => out.push(Err(e)),
        }
        futures::stream::iter(out)
    })
    .map(move |item| {
        let found = found.clone();
        async move {
            match item {
                Ok((listed, true)) => with_team_grants(connector, listed, &found).await,
                Ok((listed, false)) => Ok(listed),
                Err(e) => Err(e),
            }
        }
    })
    // Lookups of deactivated users overlap; order is kept.
    .buffered(LOOKUPS_AT_ONCE)
    .chain(
        futures::stream::once(async move {
            for n in found_end.notices() {
                end_client.note(n);
            }
        })
        .filter_map(|()| async { None }),
    )
    .boxed()
}

/// `users.listTeams` lookups in flight at once.
const LOOKUPS_AT_ONCE: usize = 8;

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
