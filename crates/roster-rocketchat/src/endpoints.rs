//! The endpoints the connector reads (each one rate-limit bucket) and the
//! shapes of their answers. Only fields roster uses are declared; unknown
//! fields are ignored and optional ones default, so newer servers decode.

use roster_core::{Call, Endpoint, Keyed, PageRequest, Timestamp};
use serde::Deserialize;
use serde_json::Value;

// ------------------------------------------------------------------ table

/// Server version; needs no authentication. `API.default` (no `/v1`):
/// `/api/v1/info` was removed after 3.0 and answers 404.
pub(crate) const INFO: Endpoint = Endpoint::get("/api/info");
/// The caller, with its role ids.
pub(crate) const ME: Endpoint = Endpoint::get("/api/v1/me");
/// Every permission and the roles holding it.
pub(crate) const PERMISSIONS_LIST_ALL: Endpoint = Endpoint::get("/api/v1/permissions.listAll");
/// Users, `offset`/`count` paged with `total`. Accepts only `offset`,
/// `count` and `sort` (other parameters answer 400).
pub(crate) const USERS_LIST: Endpoint = Endpoint::get("/api/v1/users.list");
/// Every role, one unpaged response.
pub(crate) const ROLES_LIST: Endpoint = Endpoint::get("/api/v1/roles.list");
/// Teams, `offset`/`count` paged with `total`; needs `view-all-teams`.
pub(crate) const TEAMS_LIST_ALL: Endpoint = Endpoint::get("/api/v1/teams.listAll");
/// Members of `teamId`, paged; `200 []` when the caller cannot see the team.
/// Active users only.
pub(crate) const TEAMS_MEMBERS: Endpoint = Endpoint::get("/api/v1/teams.members");
/// The teams of `userId`, active or not (unpaged), each with `isOwner`.
pub(crate) const USERS_LIST_TEAMS: Endpoint = Endpoint::get("/api/v1/users.listTeams");
/// The workspace's active-user limit (`null` when unlimited) and count.
pub(crate) const LICENSES_MAX_ACTIVE_USERS: Endpoint =
    Endpoint::get("/api/v1/licenses.maxActiveUsers");

/// A call of an offset/count listing for `req`.
pub(crate) fn paged(endpoint: Endpoint, req: &PageRequest) -> Call {
    let call = endpoint.call();
    match req {
        PageRequest::Offset { offset, count } => call.query("offset", offset).query("count", count),
        // Rocket.Chat listings are offset/count only.
        PageRequest::Number { .. } | PageRequest::Cursor(_) => call,
    }
}

// ------------------------------------------------------------------- DTOs

/// `GET /api/info`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InfoDto {
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) info: Option<InfoVersionDto>,
}

impl InfoDto {
    /// The version, wherever this server puts it.
    pub(crate) fn version(self) -> Option<String> {
        self.version
            .or(self.info.and_then(|i| i.version))
            .filter(|v| !v.is_empty())
    }
}

/// Older servers nest the version under `info`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InfoVersionDto {
    #[serde(default)]
    pub(crate) version: Option<String>,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MeDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
}

/// `GET /api/v1/permissions.listAll`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PermissionsDto {
    #[serde(default)]
    pub(crate) update: Vec<PermissionDto>,
}

/// One permission and the role ids holding it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PermissionDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
}

/// `GET /api/v1/users.list`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UsersListDto {
    pub(crate) users: Vec<UserDto>,
    pub(crate) total: u64,
}

/// A user of `users.list`. `emails`, `roles` and `lastLogin` come only to
/// callers holding `view-full-other-user-info`; `createdAt` and
/// `federated` only from some versions.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) username: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) emails: Option<Vec<EmailDto>>,
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) active: Option<bool>,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(rename = "lastLogin", default)]
    pub(crate) last_login: Option<Value>,
    #[serde(rename = "createdAt", default)]
    pub(crate) created_at: Option<Value>,
    #[serde(default)]
    pub(crate) federated: Option<bool>,
}

/// One address of a user.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EmailDto {
    #[serde(default)]
    pub(crate) address: Option<String>,
}

/// `GET /api/v1/roles.list`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RolesListDto {
    pub(crate) roles: Vec<RoleDto>,
}

/// A role. Built-in roles have `_id == name`; custom roles a random `_id`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoleDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// `Users` (workspace-wide) or `Subscriptions` (room-scoped).
    #[serde(default)]
    pub(crate) scope: Option<String>,
    #[serde(default)]
    pub(crate) protected: Option<bool>,
}

/// Role scope of workspace-wide roles (the default when a role omits it).
pub(crate) const SCOPE_USERS: &str = "Users";

impl RoleDto {
    /// The scope, `Users` when absent (Rocket.Chat's default).
    pub(crate) fn scope(&self) -> &str {
        self.scope.as_deref().unwrap_or(SCOPE_USERS)
    }
}

/// `GET /api/v1/teams.listAll`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TeamsListDto {
    pub(crate) teams: Vec<TeamDto>,
    pub(crate) total: u64,
}

/// A team.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TeamDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// 0 public, 1 private.
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<Value>,
    #[serde(rename = "roomId", default)]
    pub(crate) room_id: Option<String>,
    /// Every member, active or not (`TeamMember` rows): for planning, and to
    /// know whether `teams.members` (active users only) left anyone out.
    #[serde(rename = "numberOfUsers", default)]
    pub(crate) number_of_users: Option<u64>,
}

/// `GET /api/v1/users.listTeams`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserTeamsDto {
    #[serde(default)]
    pub(crate) teams: Vec<UserTeamDto>,
}

/// A team of `users.listTeams`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserTeamDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    #[serde(rename = "isOwner", default)]
    pub(crate) is_owner: Option<bool>,
}

/// `GET /api/v1/teams.members`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MembersDto {
    pub(crate) members: Vec<MemberDto>,
    pub(crate) total: u64,
}

/// One member of a team. Plain members have no `roles` or `[]`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MemberDto {
    pub(crate) user: MemberUserDto,
    #[serde(default)]
    pub(crate) roles: Option<Vec<String>>,
}

/// The user of a membership.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MemberUserDto {
    #[serde(rename = "_id")]
    pub(crate) id: String,
}

impl Keyed for UserDto {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for TeamDto {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Keyed for MemberDto {
    fn key(&self) -> &str {
        &self.user.id
    }
}

/// A Rocket.Chat date: an ISO string (`2024-01-02T03:04:05.123Z`), EJSON
/// `{"$date": ms}` or epoch milliseconds. Anything else is `None`.
pub(crate) fn timestamp(value: Option<&Value>) -> Option<Timestamp> {
    match value? {
        Value::String(s) => Timestamp::parse_rfc3339(s),
        Value::Number(n) => n.as_i64().and_then(Timestamp::from_unix_millis),
        Value::Object(m) => m
            .get("$date")
            .and_then(Value::as_i64)
            .and_then(Timestamp::from_unix_millis),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_in_every_shape() {
        let iso = json!("2024-01-02T03:04:05.123Z");
        let t = timestamp(Some(&iso)).unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05.123Z");
        let ejson = json!({"$date": 1_704_164_645_123_i64});
        assert_eq!(timestamp(Some(&ejson)), Some(t));
        assert_eq!(timestamp(Some(&json!(1_704_164_645_123_i64))), Some(t));
        assert_eq!(timestamp(Some(&json!("yesterday"))), None);
        assert_eq!(timestamp(Some(&Value::Null)), None);
        assert_eq!(timestamp(None), None);
    }

    #[test]
    fn sparse_user_decodes() {
        let u: UserDto = serde_json::from_value(json!({"_id": "u1", "extra": [1, 2]})).unwrap();
        assert_eq!(u.id, "u1");
        assert!(u.roles.is_none() && u.emails.is_none());
    }

    #[test]
    fn paged_calls_send_only_offset_and_count() {
        let call = paged(
            USERS_LIST,
            &PageRequest::Offset {
                offset: 200,
                count: 100,
            },
        );
        assert_eq!(call.label(), "GET /api/v1/users.list");
        let dbg = format!("{call:?}");
        assert!(dbg.contains("\"offset\", \"200\"") && dbg.contains("\"count\", \"100\""));
    }
}
