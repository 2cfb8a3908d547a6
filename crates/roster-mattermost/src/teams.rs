//! Teams: `GET /api/v4/teams` as `team` resources with the entitlements
//! `member` (assignment), `admin` and `guest` (permissions), and grants from
//! `GET /api/v4/teams/{team_id}/members`. The engine reads the members of
//! many teams at once because [`grants`](ResourceSyncer::grants) is a lazy
//! stream per team.

use futures::stream;
use futures::{StreamExt, TryStreamExt};
use roster_core::{
    Entitlement, EntitlementId, Grant, HttpClient, ItemStream, Listed, Page, PagingLimits, Purpose,
    Resource, ResourceRef, ResourceSyncer, ResourceType, paginate,
};

use crate::endpoints::{TEAM_MEMBERS, TEAMS, TeamDto, TeamMemberDto, paged, paging};

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
}

impl ResourceSyncer for TeamsSyncer {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        let client = self.client.clone();
        paginate(
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
        .map_ok(|t| Listed::from(team_resource(&t)))
        .boxed()
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
                false,
                roster_core::RateLimitDialect::MATTERMOST,
            )
            .unwrap(),
            roster_core::Auth::None,
        )
        .unwrap();
        let syncer = TeamsSyncer {
            client,
            per_page: 200,
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
