//! The Mattermost REST API v4 endpoints roster reads, and the shapes it
//! decodes from them. Every field is optional on the wire (`#[serde(default)]`)
//! so a server that omits one (Mattermost omits `is_bot` when false) still
//! decodes; unknown fields are ignored.

use roster_core::{Call, Endpoint, Keyed, PageRequest, Paging};
use serde::Deserialize;

/// Connectivity check; needs no authentication.
pub(crate) const PING: Endpoint = Endpoint::get("/api/v4/system/ping");
/// The caller (`roles` says whether it is a System Admin).
pub(crate) const ME: Endpoint = Endpoint::get("/api/v4/users/me");
/// Every user, `page`/`per_page`, ordered by username.
pub(crate) const USERS: Endpoint = Endpoint::get("/api/v4/users");
/// Active users, bots included (any session).
pub(crate) const USER_STATS: Endpoint = Endpoint::get("/api/v4/users/stats");
/// Every team (admins also see invite-only ones), ordered by display name.
pub(crate) const TEAMS: Endpoint = Endpoint::get("/api/v4/teams");
/// The members of one team, ordered by user id.
pub(crate) const TEAM_MEMBERS: Endpoint = Endpoint::get("/api/v4/teams/{team_id}/members");
/// The users report (admin): `last_login`, cursor-paged by username.
pub(crate) const REPORTS_USERS: Endpoint = Endpoint::get("/api/v4/reports/users");
/// Statuses (with `last_activity_at`) of the given user ids; users who
/// never connected are left out.
pub(crate) const STATUS_IDS: Endpoint = Endpoint::post("/api/v4/users/status/ids");
/// The licence as the old string map (`IsLicensed`, `SkuShortName`,
/// `Users`); SKU and seats for a System Admin only.
pub(crate) const LICENSE_CLIENT: Endpoint = Endpoint::get("/api/v4/license/client");

/// A team's member counts (`total_member_count`: memberships not removed,
/// deactivated users included, as the member listing returns them).
pub(crate) const TEAM_STATS: Endpoint = Endpoint::get("/api/v4/teams/{team_id}/stats");

/// Largest page of `/reports/users` Mattermost serves.
pub(crate) const REPORT_PAGE_SIZE: u32 = 100;
/// Mattermost's silent cap on `per_page`.
pub(crate) const SERVER_PER_PAGE_CAP: u32 = 200;

/// How the `page`/`per_page` listings (`USERS`, `TEAMS`, `TEAM_MEMBERS`)
/// page: 0-based pages, `per_page` capped at 200.
pub(crate) fn paging(per_page: u32) -> Paging {
    Paging::PageNumber {
        per_page,
        server_cap: Some(SERVER_PER_PAGE_CAP),
    }
}

/// `call` for the page `req` of a `page`/`per_page` listing.
pub(crate) fn paged(call: Call, req: &PageRequest) -> Call {
    match req {
        PageRequest::Number { page, per_page } => {
            call.query("page", page).query("per_page", per_page)
        }
        // The listings above are page-number only.
        PageRequest::Offset { .. } | PageRequest::Cursor(_) => call,
    }
}

/// A user of `GET /api/v4/users` and `/users/me`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct UserDto {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) nickname: String,
    pub(crate) position: String,
    /// Space-separated system roles.
    pub(crate) roles: String,
    /// `""` for email/password, else `ldap`, `saml`, `gitlab`, …
    pub(crate) auth_service: String,
    pub(crate) is_bot: bool,
    pub(crate) create_at: i64,
    pub(crate) delete_at: i64,
    /// Often absent; the status lookup is the better source.
    pub(crate) last_activity_at: i64,
}

impl UserDto {
    /// The system roles, split from `roles`.
    pub(crate) fn system_roles(&self) -> impl Iterator<Item = &str> {
        self.roles.split_whitespace()
    }

    /// Whether the user holds System Admin.
    pub(crate) fn is_system_admin(&self) -> bool {
        self.system_roles().any(|r| r == "system_admin")
    }
}

impl Keyed for UserDto {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A team of `GET /api/v4/teams`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct TeamDto {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) display_name: String,
    /// `O` open, `I` invite-only.
    #[serde(rename = "type")]
    pub(crate) team_type: String,
    pub(crate) delete_at: i64,
}

impl Keyed for TeamDto {
    fn key(&self) -> &str {
        &self.id
    }
}

/// `GET /api/v4/teams?include_total_count=true`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TeamsWithCount {
    pub(crate) teams: Vec<TeamDto>,
    pub(crate) total_count: u64,
}

/// `GET /api/v4/teams/{team_id}/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct TeamStatsDto {
    pub(crate) total_member_count: u64,
}

/// A row of `GET /api/v4/teams/{team_id}/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct TeamMemberDto {
    pub(crate) user_id: String,
    pub(crate) scheme_admin: bool,
    pub(crate) scheme_guest: bool,
    pub(crate) delete_at: i64,
}

impl Keyed for TeamMemberDto {
    fn key(&self) -> &str {
        &self.user_id
    }
}

/// A row of `GET /api/v4/reports/users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct UserReportDto {
    pub(crate) id: String,
    pub(crate) username: String,
    /// Milliseconds. Absent (`omitempty`) for users who never logged in,
    /// and for everyone on servers that lay the report out differently.
    pub(crate) last_login: Option<i64>,
}

impl Keyed for UserReportDto {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A row of `POST /api/v4/users/status/ids`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub(crate) struct StatusDto {
    pub(crate) user_id: String,
    /// Milliseconds; 0 = unknown.
    pub(crate) last_activity_at: i64,
}

/// `GET /api/v4/users/stats`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UserStatsDto {
    pub(crate) total_users_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_decodes_without_optional_fields() {
        let u: UserDto = serde_json::from_str(
            r#"{"id":"u1","username":"ada","roles":"system_user system_admin","timezone":{}}"#,
        )
        .unwrap();
        assert!(!u.is_bot);
        assert!(u.is_system_admin());
        assert_eq!(
            u.system_roles().collect::<Vec<_>>(),
            ["system_user", "system_admin"]
        );
        assert_eq!(u.key(), "u1");
    }

    #[test]
    fn team_and_member_decode() {
        let t: TeamDto = serde_json::from_str(
            r#"{"id":"t1","name":"eng","display_name":"Eng","type":"I","delete_at":5}"#,
        )
        .unwrap();
        assert_eq!(t.team_type, "I");
        let m: TeamMemberDto = serde_json::from_str(
            r#"{"team_id":"t1","user_id":"u1","roles":"team_user team_admin","scheme_admin":true}"#,
        )
        .unwrap();
        assert!(m.scheme_admin && !m.scheme_guest);
        let c: TeamsWithCount = serde_json::from_str(r#"{"teams":[],"total_count":7}"#).unwrap();
        assert_eq!(c.total_count, 7);
    }
}
