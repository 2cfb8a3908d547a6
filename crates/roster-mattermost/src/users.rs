//! Users: `GET /api/v4/users`, mapped to `user` resources, enriched (best
//! effort) with last login and last activity. Users hold no grants here:
//! system roles are profile data.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use futures::stream;
use roster_core::{
    AccountType, Entitlement, HttpClient, ItemStream, Listed, Page, PageRequest, Paging,
    PagingLimits, Resource, ResourceSyncer, ResourceType, Result, Timestamp, UserStatus,
    UserTraits, paginate,
};

use crate::endpoints::{
    REPORT_PAGE_SIZE, REPORTS_USERS, STATUS_IDS, StatusDto, USERS, UserDto, UserReportDto, paged,
    paging,
};

/// Lists users.
#[derive(Debug, Clone)]
pub(crate) struct UsersSyncer {
    pub(crate) client: HttpClient,
    pub(crate) per_page: u32,
    pub(crate) enrich: bool,
}

impl ResourceSyncer for UsersSyncer {
    fn resource_type(&self) -> ResourceType {
        ResourceType::User
    }

    fn list(&self) -> ItemStream<'_, Listed> {
        let client = self.client.clone();
        let per_page = self.per_page;
        let enrich = self.enrich;
        stream::once(async move {
            // Last logins come from a separate, differently ordered listing;
            // read them first so each user can be written as soon as its
            // page arrives.
            let logins = if enrich {
                last_logins(&client).await
            } else {
                HashMap::new()
            };
            list_users(client, per_page, enrich).map(move |item| {
                item.map(|u| Listed::from(user_resource(&u, logins.get(&u.id).copied())))
            })
        })
        .flatten()
        .boxed()
    }

    fn entitlements<'a>(&'a self, _resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        stream::empty().boxed()
    }
}

/// Every user, each page's last activity looked up as it arrives. The
/// lookup of one page overlaps the fetch of the next.
fn list_users(client: HttpClient, per_page: u32, enrich: bool) -> ItemStream<'static, UserDto> {
    let pages_client = client.clone();
    let users = paginate(
        USERS.to_string(),
        paging(per_page),
        PagingLimits::default(),
        move |req| {
            let client = pages_client.clone();
            let call = paged(USERS.call(), &req);
            async move { client.json::<Vec<UserDto>>(&call).await.map(Page::new) }
        },
    );
    if !enrich {
        return users;
    }
    let status_available = Arc::new(AtomicBool::new(true));
    users
        .chunks(per_page.max(1) as usize)
        .map(move |chunk| {
            let client = client.clone();
            let status_available = status_available.clone();
            async move {
                let (mut ok, errors): (Vec<_>, Vec<_>) = chunk.into_iter().partition(Result::is_ok);
                let mut users: Vec<UserDto> = ok.drain(..).filter_map(Result::ok).collect();
                if status_available.load(Ordering::Relaxed)
                    && !users.is_empty()
                    && let Err(e) = add_last_activity(&client, &mut users).await
                    // Said once, even when the overlapping lookup fails too.
                    && status_available.swap(false, Ordering::Relaxed)
                {
                    client.note(format!(
                        "last activity is unavailable ({e}); users from here on have no last_activity_at"
                    ));
                }
                stream::iter(users.into_iter().map(Ok).chain(errors))
            }
        })
        .buffered(2)
        .flatten()
        .boxed()
}

/// Sets `last_activity_at` of `users` from `POST /users/status/ids`.
async fn add_last_activity(client: &HttpClient, users: &mut [UserDto]) -> Result<()> {
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let statuses: Vec<StatusDto> = client.json(&STATUS_IDS.call().json(&ids)).await?;
    let by_id: HashMap<&str, i64> = statuses
        .iter()
        .map(|s| (s.user_id.as_str(), s.last_activity_at))
        .collect();
    for u in users {
        if let Some(&at) = by_id.get(u.id.as_str())
            && at > 0
        {
            u.last_activity_at = at;
        }
    }
    Ok(())
}

/// Last login (ms) per user id from `/reports/users`. Best effort: on
/// failure, a warning and whatever was read so far.
async fn last_logins(client: &HttpClient) -> HashMap<String, i64> {
    let reader = client.clone();
    let mut rows = paginate(
        REPORTS_USERS.to_string(),
        Paging::Cursor,
        PagingLimits::default(),
        move |req| {
            let client = reader.clone();
            async move {
                let mut call = REPORTS_USERS
                    .call()
                    .query("page_size", REPORT_PAGE_SIZE)
                    .query("sort_column", "Username")
                    .query("sort_direction", "asc");
                if let PageRequest::Cursor(Some(cursor)) = &req
                    && let Some((username, id)) = cursor.rsplit_once('|')
                {
                    call = call
                        .query("from_column_value", username)
                        .query("from_id", id);
                }
                let rows: Vec<UserReportDto> = client.json(&call).await?;
                let next = if rows.len() >= REPORT_PAGE_SIZE as usize {
                    rows.last().map(|r| format!("{}|{}", r.username, r.id))
                } else {
                    None
                };
                Ok(Page::new(rows).with_next_cursor(next))
            }
        },
    );
    let mut out = HashMap::new();
    while let Some(row) = rows.next().await {
        match row {
            Ok(r) => {
                if r.last_login > 0 {
                    out.insert(r.id, r.last_login);
                }
            }
            Err(e) => {
                client.note(format!(
                    "last login is unavailable ({e}); users not among the {} read so far have no last_login_at",
                    out.len()
                ));
                break;
            }
        }
    }
    out
}

fn timestamp(ms: i64) -> Option<Timestamp> {
    if ms > 0 {
        Timestamp::from_unix_millis(ms)
    } else {
        None
    }
}

/// First + last name, else nickname, else username (else the id): never empty.
pub(crate) fn display_name(u: &UserDto) -> String {
    let full = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let full = full.trim();
    [full, u.nickname.trim(), u.username.trim(), u.id.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("(unnamed user)")
        .to_owned()
}

/// A user resource per the `roster-snapshot/1` contract.
pub(crate) fn user_resource(u: &UserDto, last_login: Option<i64>) -> Resource {
    let roles: Vec<serde_json::Value> = u.system_roles().map(serde_json::Value::from).collect();
    Resource::new(ResourceType::User, u.id.as_str(), display_name(u))
        .with_user(UserTraits {
            login: u.username.clone(),
            emails: if u.email.is_empty() {
                Vec::new()
            } else {
                vec![u.email.clone()]
            },
            status: if u.delete_at > 0 {
                UserStatus::Disabled
            } else {
                UserStatus::Enabled
            },
            account_type: if u.is_bot {
                AccountType::Service
            } else {
                AccountType::Human
            },
            created_at: timestamp(u.create_at),
            last_login_at: last_login.and_then(timestamp),
            last_activity_at: timestamp(u.last_activity_at),
        })
        .with_profile("system_roles", roles)
        .with_profile("auth_service", u.auth_service.as_str())
        .with_profile("position", u.position.as_str())
        .with_profile("first_name", u.first_name.as_str())
        .with_profile("last_name", u.last_name.as_str())
        .with_profile("nickname", u.nickname.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(first: &str, last: &str, nick: &str, username: &str) -> UserDto {
        UserDto {
            id: "u1".into(),
            username: username.into(),
            first_name: first.into(),
            last_name: last.into(),
            nickname: nick.into(),
            ..UserDto::default()
        }
    }

    #[test]
    fn display_name_falls_back() {
        assert_eq!(
            display_name(&user("Ada", "Lovelace", "al", "ada")),
            "Ada Lovelace"
        );
        assert_eq!(display_name(&user("Ada", "", "al", "ada")), "Ada");
        assert_eq!(display_name(&user("", "Lovelace", "", "ada")), "Lovelace");
        assert_eq!(display_name(&user("", "", "al", "ada")), "al");
        assert_eq!(display_name(&user(" ", "", "", "ada")), "ada");
        assert_eq!(display_name(&user("", "", "", "")), "u1");
    }

    #[test]
    fn user_maps_per_contract() {
        let dto: UserDto = serde_json::from_str(
            r#"{"id":"u1","username":"ada","email":"ada@example.com","first_name":"Ada",
                "last_name":"Lovelace","nickname":"","position":"Engineer",
                "roles":"system_user system_admin","auth_service":"ldap",
                "create_at":1704164645000,"update_at":1,"delete_at":0,"last_activity_at":1704164646000}"#,
        )
        .unwrap();
        let r = user_resource(&dto, Some(1_704_164_647_000));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "user", "id": "u1", "display_name": "Ada Lovelace", "parent": null,
                "user": {"login": "ada", "emails": ["ada@example.com"], "status": "enabled",
                         "account_type": "human", "created_at": "2024-01-02T03:04:05Z",
                         "last_login_at": "2024-01-02T03:04:07Z",
                         "last_activity_at": "2024-01-02T03:04:06Z"},
                "profile": {"system_roles": ["system_user", "system_admin"], "auth_service": "ldap",
                            "position": "Engineer", "first_name": "Ada", "last_name": "Lovelace",
                            "nickname": ""}
            })
        );
    }

    #[test]
    fn bots_are_services_and_deactivated_users_disabled() {
        let dto: UserDto = serde_json::from_str(
            r#"{"id":"b1","username":"ci-bot","email":"","roles":"system_user","is_bot":true,
                "create_at":0,"delete_at":1704164645000}"#,
        )
        .unwrap();
        let r = user_resource(&dto, None);
        let traits = r.user.unwrap();
        assert_eq!(traits.account_type, AccountType::Service);
        assert_eq!(traits.status, UserStatus::Disabled);
        assert!(traits.emails.is_empty());
        assert_eq!(traits.created_at, None);
        assert_eq!(traits.last_login_at, None);
        assert_eq!(r.display_name, "ci-bot");
        assert_eq!(r.profile["auth_service"], "");
    }
}
