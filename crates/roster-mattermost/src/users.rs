//! Users: `GET /api/v4/users`, mapped to `user` resources, enriched (best
//! effort) with last login and last activity. Users hold no grants here:
//! system roles are profile data.
//!
//! ## Last login, off the critical path
//!
//! Last logins come from `GET /api/v4/reports/users`, a keyset cursor
//! (`from_column_value` + `from_id`) over `(Username, Id)` that serves at
//! most 100 rows a request. Read as one cursor it is a chain of requests
//! that the whole sync waits for. But the user listing is ordered the same
//! way (`ORDER BY Username`), so each page of it already holds the keys:
//! every 100 rows of a page become a *segment* whose cursor starts at the
//! key of the row before it (the last row of the previous page for the
//! first segment) and which ends once every human of the segment has been
//! seen. The segments of a page are read concurrently, while the next page
//! is fetched, and together they return each user exactly once. Keys are
//! never compared here: the server compares them with its database's
//! collation (`SqlUserStore.GetUserReport`,
//! server/channels/store/sqlstore/user_store.go), so a segment ends on the
//! ids it expects, not on a client-side ordering. Bots are not in the
//! report (the server excludes them), so a segment waits only for its
//! humans.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream;
use roster_core::{
    AccountType, Entitlement, HttpClient, ItemStream, Keyed, Listed, Page, PageRequest,
    PagingLimits, Resource, ResourceSyncer, ResourceType, Result, Timestamp, UserStatus,
    UserTraits, paginate,
};
use tokio::sync::OnceCell;

use crate::endpoints::{
    REPORT_PAGE_SIZE, REPORTS_USERS, STATUS_IDS, StatusDto, USERS, UserDto, UserReportDto, paged,
    paging,
};

/// Pages of users whose enrichment runs while the next page is fetched.
const ENRICH_AHEAD: usize = 4;
/// Loop guard of one segment's cursor (it normally takes one request).
const MAX_SEGMENT_PAGES: usize = 10_000;

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
        if self.enrich {
            enriched_users(self.client.clone(), self.per_page)
        } else {
            plain_users(self.client.clone(), self.per_page)
                .map(|item| item.map(|u| Listed::from(user_resource(&u, None))))
                .boxed()
        }
    }

    fn entitlements<'a>(&'a self, _resource: &'a Resource) -> ItemStream<'a, Entitlement> {
        stream::empty().boxed()
    }
}

/// Every user, without enrichment.
fn plain_users(client: HttpClient, per_page: u32) -> ItemStream<'static, UserDto> {
    paginate(
        USERS.to_string(),
        paging(per_page),
        PagingLimits::default(),
        move |req| {
            let client = client.clone();
            let call = paged(USERS.call(), &req);
            async move { client.json::<Vec<UserDto>>(&call).await.map(Page::new) }
        },
    )
}

/// A report cursor position: `(username, id)`.
type Key = (String, String);

/// Up to 100 consecutive rows of the user listing whose last logins are
/// read with one cursor. Shared by its rows; read at most once.
#[derive(Debug)]
struct Segment {
    /// The key of the listing row just before the segment; `None` = the
    /// start of the report.
    after: Option<Key>,
    /// Ids of the segment's humans (the report leaves bots out).
    humans: HashSet<String>,
    /// Last login (ms) per id, once read; empty when the read failed.
    logins: OnceCell<HashMap<String, i64>>,
}

/// A listed user and the segment its last login comes from.
#[derive(Debug)]
struct UserRow {
    user: UserDto,
    segment: Arc<Segment>,
}

impl Keyed for UserRow {
    fn key(&self) -> &str {
        &self.user.id
    }
}

/// What the report said about `last_login` across the sync.
#[derive(Debug, Default)]
struct LoginReport {
    /// The first segment read's outcome: later reads wait for it, so an
    /// unavailable report is asked once, not once per page in flight.
    probe: OnceCell<bool>,
    /// No read has failed yet: later segments are worth reading.
    available: AtomicBool,
    /// Rows read.
    rows: AtomicU64,
    /// Rows carrying a `last_login` key.
    with_key: AtomicU64,
    /// The missing-field notice was given.
    noted_layout: AtomicBool,
}

/// Splits one listing page into segments; `before` is the key of the row
/// before the page.
fn segment_page(users: Vec<UserDto>, before: Option<Key>) -> Vec<UserRow> {
    let mut rows = Vec::with_capacity(users.len());
    let mut after = before;
    let mut users = users.into_iter().peekable();
    while users.peek().is_some() {
        let chunk: Vec<UserDto> = users.by_ref().take(REPORT_PAGE_SIZE as usize).collect();
        let segment = Arc::new(Segment {
            after: after.clone(),
            humans: chunk
                .iter()
                .filter(|u| !u.is_bot)
                .map(|u| u.id.clone())
                .collect(),
            logins: OnceCell::new(),
        });
        after = chunk.last().map(|u| (u.username.clone(), u.id.clone()));
        rows.extend(chunk.into_iter().map(|user| UserRow {
            user,
            segment: segment.clone(),
        }));
    }
    rows
}

/// Every user with last login and last activity. Each page's segments and
/// status lookup run while the following pages are fetched.
fn enriched_users(client: HttpClient, per_page: u32) -> ItemStream<'static, Listed> {
    // The key of the last row of the latest page, by page number: the
    // cursor of the next page's first segment.
    let last_key: Arc<Mutex<Option<(u32, Key)>>> = Arc::new(Mutex::new(None));
    let pages_client = client.clone();
    let rows = paginate(
        USERS.to_string(),
        paging(per_page),
        PagingLimits::default(),
        move |req| {
            let client = pages_client.clone();
            let call = paged(USERS.call(), &req);
            let page_no = match req {
                PageRequest::Number { page, .. } => page,
                PageRequest::Offset { .. } | PageRequest::Cursor(_) => 0,
            };
            let last_key = last_key.clone();
            async move {
                let users = client.json::<Vec<UserDto>>(&call).await?;
                let mut last = last_key.lock().expect("last key lock");
                // Pages are read in order (a new pass restarts at 0), so the
                // previous page is the one just read. Were it not, reading
                // from the start of the report is slower but still right.
                let before = match last.take() {
                    Some((p, key)) if page_no > 0 && p + 1 == page_no => Some(key),
                    _ => None,
                };
                *last = users
                    .last()
                    .map(|u| (page_no, (u.username.clone(), u.id.clone())));
                drop(last);
                Ok(Page::new(segment_page(users, before)))
            }
        },
    );
    let status = Arc::new(StatusLookups {
        probe: OnceCell::new(),
        available: AtomicBool::new(true),
    });
    let report = Arc::new(LoginReport {
        available: AtomicBool::new(true),
        ..LoginReport::default()
    });
    let end_client = client.clone();
    let end_report = report.clone();
    rows.chunks(per_page.max(1) as usize)
        .map(move |chunk| {
            let client = client.clone();
            let status = status.clone();
            let report = report.clone();
            async move {
                let (ok, errors): (Vec<_>, Vec<_>) = chunk.into_iter().partition(Result::is_ok);
                let mut rows: Vec<UserRow> = ok.into_iter().filter_map(Result::ok).collect();
                let mut segments: Vec<Arc<Segment>> = Vec::new();
                for r in &rows {
                    if !segments.iter().any(|s| Arc::ptr_eq(s, &r.segment)) {
                        segments.push(r.segment.clone());
                    }
                }
                let logins = futures::future::join_all(
                    segments.iter().map(|s| segment_logins(&client, s, &report)),
                );
                let activity = status.lookup(&client, &mut rows);
                let ((), _) = futures::join!(activity, logins);
                let listed: Vec<Result<Listed>> = rows
                    .iter()
                    .map(|r| {
                        let login = r.segment.logins.get().and_then(|m| m.get(&r.user.id));
                        Ok(Listed::from(user_resource(&r.user, login.copied())))
                    })
                    .collect();
                stream::iter(
                    listed
                        .into_iter()
                        .chain(errors.into_iter().filter_map(Result::err).map(Err)),
                )
            }
        })
        .buffered(ENRICH_AHEAD)
        .flatten()
        .chain(
            stream::once(async move {
                let rows = end_report.rows.load(Ordering::Relaxed);
                if rows > 0
                    && end_report.with_key.load(Ordering::Relaxed) == 0
                    && !end_report.noted_layout.swap(true, Ordering::Relaxed)
                {
                    end_client.note(format!(
                        "{} answered {rows} users and none of them had a `last_login` field: this server lays the report out differently (older versions do), so every user has last_login_at null; upgrade Mattermost to get last logins",
                        REPORTS_USERS.path
                    ));
                }
            })
            .filter_map(|()| futures::future::ready(None)),
        )
        .boxed()
}
/// The status lookups of a sync: the first one's outcome is awaited by
/// the others, so an unavailable endpoint is asked once.
#[derive(Debug)]
struct StatusLookups {
    probe: OnceCell<bool>,
    /// No lookup has failed yet.
    available: AtomicBool,
}

impl StatusLookups {
    /// Adds last activity to `rows`; best effort, a failure said once.
    async fn lookup(&self, client: &HttpClient, rows: &mut [UserRow]) {
        if rows.is_empty() || !self.available.load(Ordering::Relaxed) {
            return;
        }
        let mut probed = None;
        let available = *self
            .probe
            .get_or_init(|| async {
                let done = add_last_activity(client, rows).await;
                let ok = done.is_ok();
                probed = Some(done);
                ok
            })
            .await;
        let done = match probed {
            Some(done) => done,
            None if available && self.available.load(Ordering::Relaxed) => {
                add_last_activity(client, rows).await
            }
            None => return,
        };
        // Said once, even when an overlapping lookup fails too.
        if let Err(e) = done
            && self.available.swap(false, Ordering::Relaxed)
        {
            client.note(format!(
                "last activity is unavailable ({e}); users from here on have no last_activity_at"
            ));
        }
    }
}

/// Sets `last_activity_at` of `rows` from `POST /users/status/ids`. Users
/// without a status row (they never connected) are simply not in the
/// answer and keep what `/users` said.
async fn add_last_activity(client: &HttpClient, rows: &mut [UserRow]) -> Result<()> {
    let ids: Vec<&str> = rows.iter().map(|r| r.user.id.as_str()).collect();
    let statuses: Vec<StatusDto> = client.json(&STATUS_IDS.call().json(&ids)?).await?;
    let by_id: HashMap<&str, i64> = statuses
        .iter()
        .map(|s| (s.user_id.as_str(), s.last_activity_at))
        .collect();
    for r in rows {
        if let Some(&at) = by_id.get(r.user.id.as_str())
            && at > 0
        {
            r.user.last_activity_at = at;
        }
    }
    Ok(())
}

/// The last logins of `segment`, read once (concurrent callers wait for
/// the same read). Best effort: a failure is said once, and later
/// segments are not read.
async fn segment_logins(client: &HttpClient, segment: &Segment, report: &LoginReport) {
    segment
        .logins
        .get_or_init(|| async {
            if segment.humans.is_empty() || !report.available.load(Ordering::Relaxed) {
                return HashMap::new();
            }
            let mut probed = None;
            let available = *report
                .probe
                .get_or_init(|| async {
                    let read = read_segment(client, segment, report).await;
                    let ok = read.is_ok();
                    probed = Some(read);
                    ok
                })
                .await;
            let read = match probed {
                Some(read) => read,
                None if available && report.available.load(Ordering::Relaxed) => {
                    read_segment(client, segment, report).await
                }
                None => return HashMap::new(),
            };
            match read {
                Ok(found) => found,
                Err(e) => {
                    if report.available.swap(false, Ordering::Relaxed) {
                        client.note(format!(
                            "last login is unavailable ({e}); users from here on have no last_login_at"
                        ));
                    }
                    HashMap::new()
                }
            }
        })
        .await;
}

/// Reads the report from the segment's cursor until every human of the
/// segment has been seen (normally one request), a page brings none of
/// them, or the report ends.
async fn read_segment(
    client: &HttpClient,
    segment: &Segment,
    report: &LoginReport,
) -> Result<HashMap<String, i64>> {
    let mut found = HashMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut after = segment.after.clone();
    for _ in 0..MAX_SEGMENT_PAGES {
        let mut call = REPORTS_USERS
            .call()
            .query("page_size", REPORT_PAGE_SIZE)
            .query("sort_column", "Username")
            .query("sort_direction", "asc");
        if let Some((username, id)) = &after {
            call = call
                .query("from_column_value", username)
                .query("from_id", id);
        }
        let rows: Vec<UserReportDto> = client.json(&call).await?;
        let with_key = rows.iter().filter(|r| r.last_login.is_some()).count();
        report.rows.fetch_add(rows.len() as u64, Ordering::Relaxed);
        report
            .with_key
            .fetch_add(with_key as u64, Ordering::Relaxed);
        if rows.len() >= REPORT_PAGE_SIZE as usize
            && with_key == 0
            && !report.noted_layout.swap(true, Ordering::Relaxed)
        {
            // `last_login` is omitted for users who never logged in, but a
            // full page without it is more likely a different layout.
            client.note(format!(
                "a page of {} users from {} had no `last_login` field: either none of them ever logged in, or this server lays the report out differently (older versions do) and last_login_at is null for everyone",
                rows.len(),
                REPORTS_USERS.path
            ));
        }
        let mut added = false;
        for r in &rows {
            if segment.humans.contains(&r.id) && seen.insert(r.id.clone()) {
                added = true;
                if let Some(ms) = r.last_login.filter(|ms| *ms > 0) {
                    found.insert(r.id.clone(), ms);
                }
            }
        }
        // A page past the segment's range adds none of its humans: those
        // still unseen were deleted or renamed since the listing was read
        // (or were read by the previous page's segment after a shift).
        let short = rows.len() < REPORT_PAGE_SIZE as usize;
        if short || !added || seen.len() >= segment.humans.len() {
            break;
        }
        after = rows.last().map(|r| (r.username.clone(), r.id.clone()));
    }
    Ok(found)
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
    fn a_page_splits_into_segments_cursored_at_the_row_before() {
        let users: Vec<UserDto> = (0..200)
            .map(|i| UserDto {
                id: format!("id{i:03}"),
                username: format!("user{i:03}"),
                is_bot: i % 50 == 7,
                ..UserDto::default()
            })
            .collect();
        let before = Some(("prev".to_owned(), "idprev".to_owned()));
        let rows = segment_page(users, before.clone());
        assert_eq!(rows.len(), 200);
        let (first, second) = (&rows[0].segment, &rows[100].segment);
        assert!(Arc::ptr_eq(first, &rows[99].segment));
        assert!(Arc::ptr_eq(second, &rows[199].segment));
        assert!(!Arc::ptr_eq(first, second));
        assert_eq!(first.after, before);
        assert_eq!(
            second.after,
            Some(("user099".to_owned(), "id099".to_owned()))
        );
        // Bots are not in the report: the segments wait for humans only.
        assert_eq!(first.humans.len(), 98);
        assert!(!first.humans.contains("id007") && first.humans.contains("id008"));
        assert_eq!(second.humans.len(), 98);
        assert!(segment_page(Vec::new(), None).is_empty());
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
