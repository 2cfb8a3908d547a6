//! Roles: `roles.list` (one unpaged request, cached for the connector's
//! life because user→role grants need each role's scope).

use std::collections::HashSet;

use futures::StreamExt;
use roster_core::{
    Entitlement, ItemStream, Listed, Purpose, Resource, ResourceSyncer, ResourceType, Result,
};

use crate::RocketChatConnector;
use crate::endpoints::{ROLES_LIST, RoleDto, RolesListDto, SCOPE_USERS};

/// The slug of the one entitlement every role offers.
pub(crate) const ASSIGNED: &str = "assigned";

/// Every role, and the ids of the workspace-scope ones.
#[derive(Debug)]
pub(crate) struct RoleTable {
    pub(crate) roles: Vec<RoleDto>,
    users_scope: HashSet<String>,
}

impl RoleTable {
    pub(crate) fn new(roles: Vec<RoleDto>) -> Self {
        let users_scope = roles
            .iter()
            .filter(|r| r.scope() == SCOPE_USERS)
            .map(|r| r.id.clone())
            .collect();
        Self { roles, users_scope }
    }

    /// Whether users holding `role_id` get an `assigned` grant: the role
    /// exists and is workspace-wide. Room-scoped (`Subscriptions`) roles and
    /// ids of deleted roles get none.
    pub(crate) fn grants_assignment(&self, role_id: &str) -> bool {
        self.users_scope.contains(role_id)
    }
}

/// Reads `roles.list`.
pub(crate) async fn fetch(connector: &RocketChatConnector) -> Result<RoleTable> {
    let dto: RolesListDto = connector.client.json(&ROLES_LIST.call()).await?;
    Ok(RoleTable::new(dto.roles))
}

/// A role as a resource: profile `scope`, `protected`, `name`.
pub(crate) fn role_resource(role: &RoleDto) -> Resource {
    let name = role
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&role.id);
    Resource::new(ResourceType::Role, role.id.as_str(), name)
        .with_profile("scope", role.scope())
        .with_profile("protected", role.protected.unwrap_or(false))
        .with_profile("name", role.name.as_deref().unwrap_or(name))
}

/// The role syncer. Grants come from the user listing (each user carries
/// its role ids), so this syncer reads none.
pub(crate) struct RoleSyncer<'a> {
    pub(crate) connector: &'a RocketChatConnector,
}

impl ResourceSyncer for RoleSyncer<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Role
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        futures::stream::once(self.connector.roles())
            .flat_map(|table| {
                let items: Vec<Result<Listed>> = match table {
                    Ok(t) => t
                        .roles
                        .iter()
                        .map(|r| Ok(Listed::from(role_resource(r))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }

    fn entitlements<'a>(&'a self, resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        let e = Entitlement::new(resource.reference(), ASSIGNED, Purpose::Assignment);
        futures::stream::iter([Ok(e)]).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role(v: serde_json::Value) -> RoleDto {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn scopes_decide_grants() {
        let t = RoleTable::new(vec![
            role(json!({"_id": "admin", "name": "admin", "scope": "Users", "protected": true})),
            role(json!({"_id": "owner", "name": "owner", "scope": "Subscriptions"})),
            role(json!({"_id": "a1b2c3", "name": "auditor"})),
        ]);
        assert!(t.grants_assignment("admin"));
        assert!(t.grants_assignment("a1b2c3"), "scope defaults to Users");
        assert!(!t.grants_assignment("owner"));
        assert!(!t.grants_assignment("deleted-role"));
    }

    #[test]
    fn custom_role_keeps_id_and_name() {
        let r = role_resource(&role(
            json!({"_id": "65f0a1b2c3d4e5f6a7b8c9d0", "name": "auditor", "scope": "Users", "protected": false}),
        ));
        assert_eq!(r.id.as_str(), "65f0a1b2c3d4e5f6a7b8c9d0");
        assert_eq!(r.display_name, "auditor");
        assert_eq!(r.profile["scope"], "Users");
        assert_eq!(r.profile["protected"], false);
        assert_eq!(r.profile["name"], "auditor");
        let blank = role_resource(&role(json!({"_id": "r1", "name": " "})));
        assert_eq!(blank.display_name, "r1");
    }
}
