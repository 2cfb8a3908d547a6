//! Teams: `teams.listAll`, and each team's grants from `teams.members`
//! (all pages). Entitlements `member` (assignment) and `owner`,
//! `moderator`, `leader` (permission, from the member's room roles).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use roster_core::{
    Entitlement, EntitlementId, Grant, ItemStream, Listed, Page, PagingLimits, Purpose, Resource,
    ResourceRef, ResourceSyncer, ResourceType, paginate,
};
use serde_json::Value;

use crate::RocketChatConnector;
use crate::endpoints::{
    MemberDto, MembersDto, TEAMS_LIST_ALL, TEAMS_MEMBERS, TeamDto, TeamsListDto, paged,
};

/// Membership slug.
const MEMBER: &str = "member";
/// Room roles that become permission entitlements.
const ROLE_SLUGS: [&str; 3] = ["owner", "moderator", "leader"];

/// A team as a resource: profile `team_type` (0 public / 1 private) and
/// `room_id`.
pub(crate) fn team_resource(team: TeamDto) -> Listed {
    let display_name = team
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&team.id)
        .to_owned();
    let team_type = match team.kind {
        Some(Value::Number(n)) => Value::Number(n),
        Some(Value::String(s)) => s.parse::<u64>().map_or(Value::String(s), Value::from),
        _ => Value::from(0),
    };
    Resource::new(ResourceType::Team, team.id, display_name)
        .with_profile("team_type", team_type)
        .with_profile("room_id", team.room_id.unwrap_or_default())
        .into()
}

/// The grants one membership row gives.
pub(crate) fn member_grants(team: &ResourceRef, member: &MemberDto) -> Vec<Grant> {
    let principal = ResourceRef::user(member.user.id.as_str());
    let roles = member.roles.as_deref().unwrap_or_default();
    std::iter::once(MEMBER)
        .chain(
            ROLE_SLUGS
                .into_iter()
                .filter(|slug| roles.iter().any(|r| r == slug)),
        )
        .map(|slug| Grant::new(EntitlementId::new(team.clone(), slug), principal.clone()))
        .collect()
}

/// The team syncer.
pub(crate) struct TeamSyncer<'a> {
    pub(crate) connector: &'a RocketChatConnector,
}

impl ResourceSyncer for TeamSyncer<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        let client = self.connector.client.clone();
        let deactivated = self.connector.deactivated.clone();
        paginate(
            TEAMS_LIST_ALL.to_string(),
            self.connector.paging(),
            PagingLimits::default(),
            move |req| {
                let client = client.clone();
                async move {
                    let body: TeamsListDto = client.json(&paged(TEAMS_LIST_ALL, &req)).await?;
                    Ok(Page::new(body.teams).with_total(body.total))
                }
            },
        )
        .map(move |team| {
            team.map(|t| {
                deactivated.set_size(&t.id, t.number_of_users);
                team_resource(t)
            })
        })
        .boxed()
    }

    fn entitlements<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        let me = resource.reference();
        let member = Entitlement::new(me.clone(), MEMBER, Purpose::Assignment);
        let roles = ROLE_SLUGS
            .into_iter()
            .map(move |slug| Entitlement::new(me.clone(), slug, Purpose::Permission));
        futures::stream::iter(std::iter::once(member).chain(roles).map(Ok)).boxed()
    }

    fn grants<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Grant> {
        let client = self.connector.client.clone();
        let team_id = resource.id.as_str().to_owned();
        let me = resource.reference();
        let team = me.clone();
        let deactivated = self.connector.deactivated.clone();
        let active = Arc::new(AtomicU64::new(0));
        let active_end = active.clone();
        paginate(
            format!("{TEAMS_MEMBERS} (team {team_id})"),
            self.connector.paging(),
            PagingLimits::default(),
            move |req| {
                let client = client.clone();
                let call = paged(TEAMS_MEMBERS, &req).query("teamId", &team_id);
                async move {
                    let body: MembersDto = client.json(&call).await?;
                    Ok(Page::new(body.members).with_total(body.total))
                }
            },
        )
        .flat_map(move |member| {
            let grants: Vec<_> = match member {
                Ok(m) => {
                    active.fetch_add(1, Ordering::Relaxed);
                    member_grants(&me, &m).into_iter().map(Ok).collect()
                }
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(grants)
        })
        // How many members teams.members listed, for the late grants.
        .chain(
            futures::stream::once(async move {
                let active = active_end.load(Ordering::Relaxed);
                deactivated.set_active(team.id.as_str(), active);
            })
            .filter_map(|()| futures::future::ready(None)),
        )
        .boxed()
    }

    /// Deactivated members (teams.members lists active users only), found
    /// by the user listing through users.listTeams: the engine waits for
    /// them without holding a slot, so other teams' members are read
    /// meanwhile.
    fn late_grants<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Grant> {
        let team = resource.reference();
        let deactivated = self.connector.deactivated.clone();
        futures::stream::once(async move {
            let active = deactivated.take_active(team.id.as_str());
            deactivated.grants_of(&team, active).await
        })
        .flat_map(|grants| futures::stream::iter(grants.into_iter().map(Ok)))
        .boxed()
    }

    fn has_grants(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn team_maps_per_contract() {
        let t: TeamDto = serde_json::from_value(
            json!({"_id": "T1", "name": "apollo", "type": 1, "roomId": "R1", "createdAt": "2024-01-01T00:00:00.000Z"}),
        )
        .unwrap();
        let r = team_resource(t).resource;
        assert_eq!(r.display_name, "apollo");
        assert_eq!(r.profile["team_type"], 1);
        assert_eq!(r.profile["room_id"], "R1");
        let blank: TeamDto =
            serde_json::from_value(json!({"_id": "T2", "name": " ", "type": 0})).unwrap();
        assert_eq!(team_resource(blank).resource.display_name, "T2");
    }

    #[test]
    fn member_roles_become_permission_grants() {
        let team = ResourceRef::new(ResourceType::Team, "T1");
        let m = |v| serde_json::from_value::<MemberDto>(v).unwrap();
        let slugs =
            |g: Vec<Grant>| -> Vec<String> { g.into_iter().map(|g| g.entitlement.slug).collect() };
        assert_eq!(
            slugs(member_grants(&team, &m(json!({"user": {"_id": "u1"}})))),
            ["member"]
        );
        assert_eq!(
            slugs(member_grants(
                &team,
                &m(
                    json!({"user": {"_id": "u1"}, "roles": ["moderator", "owner", "member", "custom"]})
                )
            )),
            ["member", "owner", "moderator"]
        );
    }
}
