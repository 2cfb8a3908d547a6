//! Teams: `GET /api/v4/teams` as `team` resources with the entitlements
//! `member` (assignment), `admin` and `guest` (permissions), and grants from
//! `GET /api/v4/teams/{team_id}/members`. The engine reads the members of
//! many teams at once because [`grants`](ResourceSyncer::grants) is a lazy
//! stream per team.

use std::sync::{Arc, OnceLock};

use futures::stream;
use futures::{StreamExt, TryStreamExt};
use roster_core::{
    Entitlement, EntitlementId, Error, Grant, HttpClient, ItemStream, Listed, Page, PagingLimits,
    Purpose, Resource, ResourceRef, ResourceSyncer, ResourceType, paginate,
};

use crate::endpoints::{ME, TEAM_MEMBERS, TEAMS, TeamDto, TeamMemberDto, UserDto, paged, paging};
use crate::validate::WHY_ADMIN;

/// The entitlement every member holds.
pub(crate) const MEMBER: &str = "member";
/// Team admins (`scheme_admin`).
pub(crate) const ADMIN: &str = "admin";
/// Team guests (`scheme_guest`).
pub(crate) const GUEST: &str = "guest";

/// Lists teams and their members.
#[derive(Debug, Clone)]
pub(crate) struct TeamsSyncer {
    pub(crate) client: HttpClient,
    pub(crate) per_page: u32,
    /// Whether the token is a System Admin, once known (validation
    /// records it; otherwise the listing asks `/users/me`).
    pub(crate) caller_is_admin: Arc<OnceLock<bool>>,
}

impl TeamsSyncer {
    /// An error when the token is not a System Admin: Mattermost then
    /// lists open teams only, and a snapshot of them must not pass for
    /// complete. Runs even when a library caller skipped validation.
    async fn admin_guard(&self) -> Option<Error> {
        let admin = match self.caller_is_admin.get() {
            Some(&known) => known,
            None => match self.client.json::<UserDto>(&ME.call()).await {
                Ok(me) => {
                    let admin = me.is_system_admin();
                    let _ = self.caller_is_admin.set(admin);
                    if !admin {
                        return Some(not_admin(&me));
                    }
                    admin
                }
                Err(e) => {
                    return Some(Error::MissingPermission {
                        permission: "manage_system".to_owned(),
                        why: format!(
                            "cannot tell whether the token is a System Admin ({} failed: {e}); {WHY_ADMIN}",
                            ME.path
                        ),
                    });
                }
            },
        };
        (!admin).then(|| Error::MissingPermission {
            permission: "manage_system".to_owned(),
            why: format!("the token is not a System Admin; {WHY_ADMIN}"),
        })
    }
}

/// The guard's error for `me`, who is not a System Admin.
fn not_admin(me: &UserDto) -> Error {
    Error::MissingPermission {
        permission: "manage_system".to_owned(),
        why: format!(
            "token lacks System Admin (manage_system): @{} has only `{}`; {WHY_ADMIN}. Use a personal access token of a System Admin, or a bot account with the system_admin role",
            me.username,
            me.roles.trim()
        ),
    }
}

impl ResourceSyncer for TeamsSyncer {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        let client = self.client.clone();
        // The open teams are still listed after the error: what is written
        // is true, and the summary says `complete: false`.
        let guard =
            stream::once(self.admin_guard()).filter_map(|e| futures::future::ready(e.map(Err)));
        let teams = paginate(
            TEAMS.to_string(),
            paging(self.per_page),
            PagingLimits::default(),
            move |req| {
                let client = client.clone();
                // The total on every page lets the pager tell teams that
                // share a display name (re-ordered per request by the
                // server) from a listing that really changed.
                let call = paged(TEAMS.call(), &req).query("include_total_count", "true");
                async move {
                    client.json::<TeamsPage>(&call).await.map(|p| match p {
                        TeamsPage::Counted { teams, total_count } => {
                            Page::new(teams).with_total(total_count)
                        }
                        TeamsPage::Plain(teams) => Page::new(teams),
                    })
                }
            },
        )
        .map_ok(|t| Listed::from(team_resource(&t)));
        guard.chain(teams).boxed()
    }

    fn entitlements<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        let team = resource.reference();
        stream::iter(
            [
                (MEMBER, Purpose::Assignment),
                (ADMIN, Purpose::Permission),
                (GUEST, Purpose::Permission),
            ]
            .map(|(slug, purpose)| Ok(Entitlement::new(team.clone(), slug, purpose))),
        )
        .boxed()
    }

    fn grants<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Grant> {
        let client = self.client.clone();
        let team_id = resource.id.as_str().to_owned();
        let team = resource.reference();
        let label = TEAM_MEMBERS.call().param("team_id", &team_id).label();
        paginate(
            label,
            paging(self.per_page),
            // Members have no total and removals close the list up: a
            // multi-page listing is confirmed by a second read.
            PagingLimits::confirming(),
            move |req| {
                let client = client.clone();
                let call = paged(TEAM_MEMBERS.call().param("team_id", &team_id), &req);
                async move {
                    client
                        .json::<Vec<TeamMemberDto>>(&call)
                        .await
                        .map(Page::new)
                }
            },
        )
        .map_ok(move |m| stream::iter(member_grants(&team, &m).into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    fn has_grants(&self) -> bool {
        true
    }
}

/// A page of `GET /api/v4/teams?include_total_count=true`; a server that
/// ignores the flag answers a plain array (no total).
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
enum TeamsPage {
    Counted {
        teams: Vec<TeamDto>,
        total_count: u64,
    },
    Plain(Vec<TeamDto>),
}

/// A team resource per the `roster-snapshot/1` contract.
pub(crate) fn team_resource(t: &TeamDto) -> Resource {
    let display_name = [t.display_name.trim(), t.name.trim(), t.id.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("(unnamed team)");
    Resource::new(ResourceType::Team, t.id.as_str(), display_name)
        .with_profile("archived", t.delete_at > 0)
        .with_profile("team_type", t.team_type.as_str())
        .with_profile("name", t.name.as_str())
}

/// `member` for every current row, `admin` / `guest` per scheme flag.
pub(crate) fn member_grants(team: &ResourceRef, m: &TeamMemberDto) -> Vec<Grant> {
    if m.delete_at > 0 || m.user_id.is_empty() {
        // Removed memberships are hidden by Mattermost; never grant them.
        return Vec::new();
    }
    let who = ResourceRef::user(m.user_id.as_str());
    let grant = |slug: &str| Grant::new(EntitlementId::new(team.clone(), slug), who.clone());
    let mut out = vec![grant(MEMBER)];
    if m.scheme_admin {
        out.push(grant(ADMIN));
    }
    if m.scheme_guest {
        out.push(grant(GUEST));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_maps_per_contract() {
        let dto: TeamDto = serde_json::from_str(
            r#"{"id":"t1","name":"eng","display_name":"Engineering","type":"I","delete_at":17,"create_at":1}"#,
        )
        .unwrap();
        let json = serde_json::to_value(team_resource(&dto)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "team", "id": "t1", "display_name": "Engineering", "parent": null,
                "profile": {"archived": true, "team_type": "I", "name": "eng"}
            })
        );
        let open = TeamDto {
            id: "t2".into(),
            name: "town".into(),
            team_type: "O".into(),
            ..TeamDto::default()
        };
        let r = team_resource(&open);
        assert_eq!(r.display_name, "town");
        assert_eq!(r.profile["archived"], false);
    }

    #[test]
    fn member_rows_become_grants() {
        let team = ResourceRef::new(ResourceType::Team, "t1");
        let row = |admin, guest, delete_at| TeamMemberDto {
            user_id: "u1".into(),
            scheme_admin: admin,
            scheme_guest: guest,
            delete_at,
        };
        let ids = |g: Vec<Grant>| {
            g.into_iter()
                .map(|g| g.entitlement.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(member_grants(&team, &row(false, false, 0))),
            ["team:t1:member"]
        );
        assert_eq!(
            ids(member_grants(&team, &row(true, false, 0))),
            ["team:t1:member", "team:t1:admin"]
        );
        assert_eq!(
            ids(member_grants(&team, &row(false, true, 0))),
            ["team:t1:member", "team:t1:guest"]
        );
        assert!(member_grants(&team, &row(true, false, 5)).is_empty());
    }

    #[tokio::test]
    async fn entitlements_are_member_admin_guest() {
        let client = roster_core::HttpClient::new(
            roster_core::HttpConfig::new(
                "http://127.0.0.1:9",
                roster_core::RateLimitDialect::MATTERMOST,
                roster_core::ClientOptions::default(),
            )
            .unwrap(),
            roster_core::Auth::None,
        )
        .unwrap();
        let syncer = TeamsSyncer {
            client,
            per_page: 200,
            caller_is_admin: Arc::default(),
        };
        let team = Resource::new(ResourceType::Team, "t1", "T");
        let ents: Vec<Entitlement> = syncer.entitlements(&team).try_collect().await.unwrap();
        let got: Vec<(String, Purpose)> =
            ents.iter().map(|e| (e.id.to_string(), e.purpose)).collect();
        assert_eq!(
            got,
            [
                ("team:t1:member".to_owned(), Purpose::Assignment),
                ("team:t1:admin".to_owned(), Purpose::Permission),
                ("team:t1:guest".to_owned(), Purpose::Permission),
            ]
        );
        assert!(syncer.has_grants());
    }
}
