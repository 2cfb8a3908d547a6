//! The HTTP surface: authentication, rate limiting, faults and endpoints.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::ops::Range;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::limiter::RateInfo;
use super::org::{Org, Role, Team, User, iso};
use super::{RocketChatSim, SimOptions, now_ms_i64};
use crate::common::{body_fault, json_response, system_millis_at};
use crate::{Fault, LoggedRequest};

const API: &str = "/api/v1/";
const DEFAULT_COUNT: usize = 50;

pub(super) fn router(sim: RocketChatSim) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Info,
    Me,
    PermissionsListAll,
    UsersList,
    RolesList,
    RolesGetUsersInRole,
    TeamsListAll,
    TeamsMembers,
    LicensesMaxActiveUsers,
    UsersListTeams,
}

fn endpoint(method: &str, path: &str) -> Option<Endpoint> {
    if method != "GET" {
        return None;
    }
    // The version lives at `/api/info` (`API.default`, no `/v1`, no auth);
    // `/api/v1/info` was removed after 3.0 and answers 404
    // (`apps/meteor/app/api/server/default/info.ts`).
    if path.strip_suffix('/').unwrap_or(path) == "/api/info" {
        return Some(Endpoint::Info);
    }
    let name = path.strip_prefix(API)?;
    let name = name.strip_suffix('/').unwrap_or(name);
    Some(match name {
        "me" => Endpoint::Me,
        "permissions.listAll" => Endpoint::PermissionsListAll,
        "users.list" => Endpoint::UsersList,
        "roles.list" => Endpoint::RolesList,
        "roles.getUsersInRole" => Endpoint::RolesGetUsersInRole,
        "teams.listAll" => Endpoint::TeamsListAll,
        "teams.members" => Endpoint::TeamsMembers,
        "licenses.maxActiveUsers" => Endpoint::LicensesMaxActiveUsers,
        "users.listTeams" => Endpoint::UsersListTeams,
        _ => return None,
    })
}

async fn handle(State(sim): State<RocketChatSim>, req: Request) -> Response {
    let at = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let headers = req.headers().clone();
    let client = client_key(&req);
    drop(req);
    let resp = sim.answer(&method, &path, &query, &headers, &client).await;
    sim.inner.log.record(LoggedRequest {
        at,
        method,
        path,
        query,
        status: resp.status().as_u16(),
    });
    resp
}

/// The rate limiter's client: `X-Real-IP`, else the peer address, else loopback.
fn client_key(req: &Request) -> String {
    if let Some(ip) = req
        .headers()
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        return ip.to_owned();
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_owned(), |c| c.0.ip().to_string())
}

// ---------------------------------------------------------------- responses

/// An error answer: status and Rocket.Chat-shaped body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn response(&self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// 401: `{success:false, error}` on current servers, `{status:"error",
/// message}` before 8.0 ([`SimOptions::legacy_unauthorized_body`]).
fn unauthorized(options: &SimOptions) -> ApiError {
    let body = if options.legacy_unauthorized_body {
        json!({"status": "error", "message": "You must be logged in to do this."})
    } else {
        json!({"success": false, "error": "You must be logged in to do this."})
    };
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        body,
    }
}

/// `API.v1.unauthorized()`: despite its name a 403 with `error:
/// "unauthorized"` (`apps/meteor/app/api/server/api.ts`), as `users.list`
/// answers without `view-d-room`.
fn api_unauthorized() -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        body: json!({"success": false, "error": "unauthorized"}),
    }
}

fn forbidden() -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        body: json!({"success": false, "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    }
}

fn bad_request(error: &str, error_type: &str) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        body: json!({"success": false, "error": error, "errorType": error_type}),
    }
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"success": false, "error": "Not found"}),
    )
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        &json!({"success": false, "error": "Internal server error"}),
    )
}

fn too_many_requests(info: &RateInfo, now: Instant) -> Response {
    let wait_ms =
        u64::try_from(info.reset_at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
    let wait_s = wait_ms.div_ceil(1000);
    json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({
            "success": false,
            "error": format!("Error, too many requests. Please slow down. You must wait {wait_s} seconds before trying this endpoint again. [error-too-many-requests]"),
        }),
    )
}

/// Sets `X-RateLimit-*`. The reset is absolute, epoch milliseconds on the
/// system clock as the answer goes out: Rocket.Chat sends its `Date.now()`
/// plus the limiter's time to reset, never a time derived from a monotonic
/// clock. Set last, just before the answer leaves, so the real time between
/// stamping it and the client reading it stays small.
fn set_rate_headers(resp: &mut Response, info: &RateInfo) {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(info.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(info.remaining));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from(system_millis_at(info.reset_at)),
    );
}

// -------------------------------------------------------------- permissions

/// What the caller may do, from `permissions.listAll` and their roles.
#[derive(Debug, Clone, Copy, Default)]
struct Perms {
    view_all_teams: bool,
    view_full_info: bool,
    view_d_room: bool,
    access_permissions: bool,
    bypass: bool,
}

/// The permission → roles table the server enforces and `permissions.listAll` shows.
fn permission_table(org: &Org, options: &SimOptions) -> Vec<(&'static str, Vec<String>)> {
    let s = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let mut bypass = Vec::new();
    if options.admin_bypasses_rate_limit {
        bypass.push("admin".to_owned());
    }
    bypass.extend(s(&["bot", "app"]));
    let mut table = vec![
        ("access-permissions", s(&["admin"])),
        ("api-bypass-rate-limit", bypass),
        (
            "view-all-teams",
            vec![
                "admin".to_owned(),
                org.reader_role.clone(),
                org.auditor_role.clone(),
            ],
        ),
        ("view-d-room", s(&["admin", "user", "bot", "app", "guest"])),
        (
            "view-full-other-user-info",
            vec!["admin".to_owned(), org.reader_role.clone()],
        ),
        ("view-other-user-channels", s(&["admin"])),
        ("view-room-administration", s(&["admin"])),
        ("view-user-administration", s(&["admin"])),
    ];
    for (perm, roles) in &mut table {
        if let Some(o) = org.permission_overrides.get(*perm) {
            roles.clone_from(o);
        }
    }
    table
}

fn perms_of(org: &Org, options: &SimOptions, user: &User) -> Perms {
    let mut p = Perms::default();
    for (perm, roles) in permission_table(org, options) {
        if !roles.iter().any(|r| user.roles.contains(r)) {
            continue;
        }
        match perm {
            "access-permissions" => p.access_permissions = true,
            "api-bypass-rate-limit" => p.bypass = true,
            "view-all-teams" => p.view_all_teams = true,
            "view-full-other-user-info" => p.view_full_info = true,
            "view-d-room" => p.view_d_room = true,
            _ => {}
        }
    }
    p
}

// ------------------------------------------------------------------ queries

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// 400 on the first parameter not in `allowed`.
    fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(bad_request(
                &format!("The query parameter \"{k}\" is not allowed [error-invalid-params]"),
                "error-invalid-params",
            )),
            None => Ok(()),
        }
    }

    /// The `offset`/`count` window over `total` rows, as Rocket.Chat computes it.
    fn page(&self, total: usize, options: &SimOptions) -> (usize, Range<usize>) {
        let offset = self
            .get("offset")
            .and_then(parse_int)
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(0);
        let default = DEFAULT_COUNT.min(options.upper_count_limit);
        let count = match self.get("count").and_then(parse_int) {
            Some(0) if options.allow_infinite_count => usize::MAX,
            Some(n) if n > 0 => usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(options.upper_count_limit),
            _ => default,
        };
        let start = offset.min(total);
        let end = start.saturating_add(count).min(total);
        (offset, start..end)
    }

    /// The `sort` parameter: `Ok(None)` when absent, `Err(400)` when not JSON.
    fn sort(&self) -> Result<Option<Map<String, Value>>, ApiError> {
        let Some(raw) = self.get("sort") else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            _ => Err(bad_request(
                &format!("Invalid sort parameter provided: \"{raw}\" [error-invalid-sort]"),
                "error-invalid-sort",
            )),
        }
    }
}

/// JavaScript's `parseInt`: optional sign and leading digits; `None` for NaN.
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let v = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

fn sort_dir(sort: &Map<String, Value>, key: &str) -> Option<bool> {
    sort.get(key).map(|v| v.as_i64().unwrap_or(1) >= 0)
}

// -------------------------------------------------------------------- JSON

fn user_json(u: &User, full: bool, created_at: bool) -> Value {
    let mut m = Map::new();
    m.insert("_id".into(), u.id.as_str().into());
    m.insert("username".into(), u.username.as_str().into());
    if let Some(name) = &u.name {
        m.insert("name".into(), name.as_str().into());
    }
    m.insert("status".into(), u.status.into());
    m.insert("active".into(), u.active.into());
    m.insert("type".into(), u.kind.into());
    if created_at {
        m.insert("createdAt".into(), iso(u.created_at).into());
    }
    if created_at && u.federated_flag {
        m.insert("federated".into(), true.into());
    }
    if full {
        if !u.emails.is_empty() {
            let emails: Vec<Value> = u
                .emails
                .iter()
                .map(|(a, v)| json!({"address": a, "verified": v}))
                .collect();
            m.insert("emails".into(), emails.into());
        }
        let roles: Vec<Value> = u.roles.iter().map(|r| r.as_str().into()).collect();
        m.insert("roles".into(), roles.into());
        if let Some(ll) = u.last_login {
            m.insert("lastLogin".into(), iso(ll).into());
        }
    }
    Value::Object(m)
}

fn role_json(r: &Role) -> Value {
    json!({
        "_id": r.id,
        "name": r.name,
        "scope": r.scope,
        "description": r.description,
        "protected": r.protected,
        "mandatory2fa": r.mandatory2fa,
    })
}

fn team_json(org: &Org, t: &Team) -> Value {
    // `TeamService.listAll` counts `TeamMember` rows: inactive members too.
    let mut v = json!({
        "_id": t.id,
        "name": t.name,
        "type": t.kind,
        "roomId": t.room_id,
        "createdAt": iso(t.created_at),
        "_updatedAt": iso(t.created_at),
        "numberOfUsers": t.members.len(),
    });
    if let (Some(first), Value::Object(m)) = (t.members.first(), &mut v) {
        let u = &org.users[first.user];
        m.insert(
            "createdBy".into(),
            json!({"_id": u.id, "username": u.username}),
        );
    }
    v
}

fn paged(key: &str, rows: Vec<Value>, offset: usize, total: usize) -> Value {
    let count = rows.len();
    json!({
        key: Value::Array(rows),
        "count": count,
        "offset": offset,
        "total": total,
        "success": true,
    })
}

fn doubled(rows: Vec<Value>, fault: Option<&Fault>) -> Vec<Value> {
    if fault == Some(&Fault::DuplicateRows) {
        let mut out = rows.clone();
        out.extend(rows);
        out
    } else {
        rows
    }
}

// ---------------------------------------------------------------- dispatch

impl RocketChatSim {
    async fn answer(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        client: &str,
    ) -> Response {
        let Some(ep) = endpoint(method, path) else {
            return not_found();
        };
        let options = &self.inner.options;
        let mut rate = None;
        if ep != Endpoint::Info {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (Some(user_id), Some(token)) = (header("x-user-id"), header("x-auth-token")) else {
                return unauthorized(options).response();
            };
            let perms = {
                let org = self.org();
                let caller = org.tokens.get(&token).map(|&i| &org.users[i]);
                match caller {
                    Some(u) if u.id == user_id && u.active => perms_of(&org, options, u),
                    _ => return unauthorized(options).response(),
                }
            };
            if options.rate_limit.is_some() && !perms.bypass {
                let now = Instant::now();
                // One bucket per route, with or without a trailing slash.
                let route = path.strip_suffix('/').unwrap_or(path);
                let (info, over) = self.inner.limiter.hit(method, route, client, now);
                if over {
                    let mut resp = too_many_requests(&info, now);
                    set_rate_headers(&mut resp, &info);
                    return resp;
                }
                rate = Some(info);
            }
        }
        let fault = self.inner.faults.take(path);
        let early = match &fault {
            Some(Fault::ServerError(s)) => Some(server_error(*s)),
            Some(Fault::RateLimited) => {
                let now = Instant::now();
                let route = path.strip_suffix('/').unwrap_or(path);
                let info = self.inner.limiter.exhausted(method, route, client, now);
                rate = Some(info);
                Some(too_many_requests(&info, now))
            }
            Some(Fault::Unauthorized) => Some(unauthorized(options).response()),
            Some(Fault::NotFound) => Some(not_found()),
            _ => None,
        };
        let mut resp = match early {
            Some(r) => r,
            None => {
                let result = self.endpoint_answer(ep, query, headers, fault.as_ref());
                match (result, &fault) {
                    (Ok(body), Some(f)) => match body_fault(f, &body).await {
                        Some(r) => r,
                        None => json_response(StatusCode::OK, &body),
                    },
                    (Ok(body), None) => json_response(StatusCode::OK, &body),
                    (Err(e), Some(Fault::Slow(d))) => {
                        tokio::time::sleep(*d).await;
                        e.response()
                    }
                    (Err(e), _) => e.response(),
                }
            }
        };
        if let Some(info) = &rate {
            set_rate_headers(&mut resp, info);
        }
        resp
    }

    /// The answer of an authenticated, admitted request.
    fn endpoint_answer(
        &self,
        ep: Endpoint,
        query: &str,
        headers: &HeaderMap,
        fault: Option<&Fault>,
    ) -> Result<Value, ApiError> {
        let options = &self.inner.options;
        let params = Params(parse_query(query));
        if ep == Endpoint::Info {
            return Ok(json!({"version": super::server::VERSION, "success": true}));
        }
        let token = headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut org = self.org();
        let Some(&caller) = org.tokens.get(token) else {
            return Err(unauthorized(options));
        };
        let perms = perms_of(&org, options, &org.users[caller]);
        let created = options.include_created_at;
        match ep {
            Endpoint::Info => Ok(json!({"version": super::server::VERSION, "success": true})),
            Endpoint::Me => {
                let mut v = user_json(&org.users[caller], true, created);
                if let Value::Object(m) = &mut v {
                    m.insert("success".into(), true.into());
                }
                Ok(v)
            }
            Endpoint::PermissionsListAll => {
                let update: Vec<Value> = permission_table(&org, options)
                    .into_iter()
                    .map(|(id, roles)| {
                        json!({"_id": id, "roles": roles, "_updatedAt": "2024-01-01T00:00:00.000Z"})
                    })
                    .collect();
                Ok(json!({"update": update, "remove": [], "success": true}))
            }
            Endpoint::LicensesMaxActiveUsers => Ok(super::server::max_active_users(
                &org,
                options.max_active_users,
            )),
            Endpoint::RolesList => {
                let roles: Vec<Value> = org.roles.iter().map(role_json).collect();
                Ok(json!({"roles": roles, "success": true}))
            }
            Endpoint::UsersList => {
                // `apps/meteor/app/api/server/v1/users.ts`: `users.list`
                // first checks `view-d-room`.
                if !perms.view_d_room {
                    return Err(api_unauthorized());
                }
                params.only(&["offset", "count", "sort"])?;
                let sort = params.sort()?;
                if fault == Some(&Fault::ShiftPages) {
                    org.add_shift_user(now_ms_i64());
                }
                let order: Cow<'_, [usize]> = match &sort {
                    Some(s) if sort_dir(s, "username") == Some(false) => {
                        Cow::Owned(org.by_username.iter().rev().copied().collect())
                    }
                    // `sort={"active":1}`: deactivated users first (Mongo
                    // sorts false before true), then by username.
                    Some(s) if sort_dir(s, "active").is_some() => {
                        let mut v = org.by_username.clone();
                        v.sort_by_key(|&i| org.users[i].active);
                        if sort_dir(s, "active") == Some(false) {
                            v.reverse();
                        }
                        Cow::Owned(v)
                    }
                    Some(s) if sort_dir(s, "_id").is_some() => {
                        let mut v = org.by_username.clone();
                        v.sort_by(|&a, &b| org.users[a].id.cmp(&org.users[b].id));
                        if sort_dir(s, "_id") == Some(false) {
                            v.reverse();
                        }
                        Cow::Owned(v)
                    }
                    _ => Cow::Borrowed(&org.by_username),
                };
                let total = order.len();
                let (offset, range) = params.page(total, options);
                let rows = order[range]
                    .iter()
                    .map(|&i| user_json(&org.users[i], perms.view_full_info, created))
                    .collect();
                Ok(paged("users", doubled(rows, fault), offset, total))
            }
            Endpoint::RolesGetUsersInRole => {
                params.only(&["role", "roomId", "offset", "count", "sort"])?;
                params.sort()?;
                if !perms.access_permissions {
                    return Err(forbidden());
                }
                let Some(role) = params.get("role").filter(|r| !r.is_empty()) else {
                    return Err(bad_request(
                        "The required \"role\" param is missing. [error-invalid-params]",
                        "error-invalid-params",
                    ));
                };
                let Some(role) = org
                    .roles
                    .iter()
                    .find(|r| r.id == role || r.name == role)
                    .map(|r| r.id.clone())
                else {
                    return Err(bad_request(
                        "Role not found [error-invalid-roleId]",
                        "error-invalid-roleId",
                    ));
                };
                let holders: Vec<usize> = org
                    .by_username
                    .iter()
                    .copied()
                    .filter(|&i| org.users[i].roles.contains(&role))
                    .collect();
                let total = holders.len();
                let (_, range) = params.page(total, options);
                let rows = holders[range]
                    .iter()
                    .map(|&i| user_json(&org.users[i], perms.view_full_info, created))
                    .collect();
                Ok(json!({"users": doubled(rows, fault), "total": total, "success": true}))
            }
            Endpoint::TeamsListAll => {
                params.only(&["offset", "count", "sort"])?;
                params.sort()?;
                if !perms.view_all_teams {
                    return Err(forbidden());
                }
                if fault == Some(&Fault::ShiftPages) {
                    org.add_shift_team(now_ms_i64());
                }
                let total = org.teams.len();
                let (offset, range) = params.page(total, options);
                let rows = org.teams[range]
                    .iter()
                    .map(|t| team_json(&org, t))
                    .collect();
                Ok(paged("teams", doubled(rows, fault), offset, total))
            }
            Endpoint::TeamsMembers => {
                params.only(&["offset", "count", "sort", "teamId"])?;
                params.sort()?;
                let Some(team_id) = params.get("teamId").filter(|t| !t.is_empty()) else {
                    return Err(bad_request(
                        "missing-teamId-or-teamName",
                        "missing-teamId-or-teamName",
                    ));
                };
                let Some(ti) = org.teams.iter().position(|t| t.id == team_id) else {
                    return Err(bad_request("team-does-not-exist", "team-does-not-exist"));
                };
                if fault == Some(&Fault::ShiftPages) {
                    let users = &org.users;
                    if let Some(first) = org.teams[ti]
                        .members
                        .iter()
                        .position(|m| users[m.user].active)
                    {
                        org.teams[ti].members.remove(first);
                    }
                }
                let org = &*org;
                let team = &org.teams[ti];
                // `apps/meteor/app/api/server/v1/teams.ts`: `canSeeAll =
                // hasPermission(uid, 'view-all-teams', team.roomId)`; else
                // only members see the list (`TeamService.members`).
                let visible = perms.view_all_teams || team.members.iter().any(|m| m.user == caller);
                let members: Vec<_> = if visible {
                    team.members
                        .iter()
                        .filter(|m| org.users[m.user].active)
                        .collect()
                } else {
                    Vec::new()
                };
                let total = members.len();
                let (offset, range) = params.page(total, options);
                let rows = members[range]
                    .iter()
                    .map(|m| {
                        let u = &org.users[m.user];
                        let mut user =
                            json!({"_id": u.id, "username": u.username, "status": u.status});
                        if let (Some(name), Value::Object(um)) = (&u.name, &mut user) {
                            um.insert("name".into(), name.as_str().into());
                        }
                        let mut row = json!({"user": user, "createdAt": iso(m.created_at)});
                        if let (Some(roles), Value::Object(rm)) = (&m.roles, &mut row) {
                            rm.insert("roles".into(), json!(roles));
                        }
                        row
                    })
                    .collect();
                Ok(paged("members", doubled(rows, fault), offset, total))
            }
            Endpoint::UsersListTeams => {
                // `users.listTeams` → `TeamService.findBySubscribedUserIds`
                // (`apps/meteor/server/services/team/service.ts`): the
                // user's `TeamMember` rows, active or not. Without
                // `view-all-teams`, private teams only when the caller is a
                // member too. Each team carries `isOwner` (the member's
                // `owner` role); other member roles are not returned.
                params.only(&["userId"])?;
                let Some(user_id) = params.get("userId").filter(|u| !u.is_empty()) else {
                    return Err(bad_request(
                        "must have required property 'userId' [invalid-params]",
                        "invalid-params",
                    ));
                };
                let org = &*org;
                let user = org.users.iter().position(|u| u.id == user_id);
                let teams: Vec<Value> = org
                    .teams
                    .iter()
                    .filter_map(|t| {
                        let m = t.members.iter().find(|m| Some(m.user) == user)?;
                        let visible = perms.view_all_teams
                            || t.kind == 0
                            || t.members.iter().any(|m| m.user == caller);
                        visible.then(|| {
                            let mut v = team_json(org, t);
                            let is_owner = m
                                .roles
                                .as_ref()
                                .is_some_and(|r| r.iter().any(|x| x == "owner"));
                            if let Value::Object(map) = &mut v {
                                map.remove("numberOfUsers");
                                map.insert("isOwner".into(), is_owner.into());
                            }
                            v
                        })
                    })
                    .collect();
                Ok(json!({"teams": teams, "success": true}))
            }
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn parse_int_is_javascript_like() {
        assert_eq!(parse_int("10"), Some(10));
        assert_eq!(parse_int("10abc"), Some(10));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("%7B%22username%22%3A1%7D"),
            "{\"username\":1}"
        );
        assert_eq!(percent_decode("a+b%2"), "a b%2");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        assert_eq!(percent_decode("%E2%9C%93"), "\u{2713}");
    }

    #[test]
    fn iso_matches_javascript() {
        assert_eq!(iso(1_704_164_645_123), "2024-01-02T03:04:05.123Z");
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
