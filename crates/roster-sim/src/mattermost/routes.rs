//! Request handling: rate limiting, auth, faults, dispatch, logging.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::org::{Membership, Org, Team, User, is_valid_id};
use super::ratelimit::{Decision, Limiter};
use super::{MattermostSim, now_ms};
use crate::common::{body_fault, json_response};
use crate::{Fault, LoggedRequest};

const PER_PAGE_DEFAULT: usize = 60;
const PER_PAGE_MAX: usize = 200;
const REPORT_PAGE_DEFAULT: usize = 50;
const REPORT_PAGE_MAX: usize = 100;
/// `model.UserReportSortColumns` (server/public/model/report.go).
const REPORT_SORT_COLUMNS: &[&str] = &[
    "CreateAt",
    "Username",
    "FirstName",
    "LastName",
    "Nickname",
    "Email",
    "Roles",
];
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub(super) fn router(sim: MattermostSim) -> Router {
    Router::new().fallback(entry).with_state(sim)
}

/// The only handler: everything goes through here so that logging, rate
/// limiting, auth and faults apply uniformly.
pub(super) async fn entry(State(sim): State<MattermostSim>, req: Request) -> Response {
    let at = tokio::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0.ip());
    let resp = answer(&sim, req, ip, &path, &query).await;
    sim.log().record(LoggedRequest {
        at,
        method: method.to_string(),
        path,
        query,
        status: resp.status().as_u16(),
    });
    resp
}

async fn answer(
    sim: &MattermostSim,
    req: Request,
    ip: IpAddr,
    path: &str,
    query: &str,
) -> Response {
    let rate = match sim.inner.limiter.as_ref().map(|l| l.check(ip)) {
        Some(Decision::Rejected(h)) => return h.rejection(),
        Some(Decision::Allowed(h)) => Some(h),
        None => None,
    };
    let mut resp = route(sim, req, path, query).await;
    if let Some(h) = rate {
        h.apply(&mut resp);
    }
    resp
}

/// The endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Ping,
    Me,
    Users,
    UserStats,
    User(String),
    StatusIds,
    Teams,
    Team(String),
    TeamMembers(String),
    TeamStats(String),
    ReportsUsers,
    LicenseClient,
}

impl Route {
    fn parse(path: &str) -> Option<(Route, Method)> {
        let rest = path.strip_prefix("/api/v4/")?;
        let segs: Vec<&str> = rest.split('/').collect();
        let get = Method::GET;
        Some(match segs.as_slice() {
            ["system", "ping"] => (Route::Ping, get),
            ["users"] => (Route::Users, get),
            ["users", "me"] => (Route::Me, get),
            ["users", "stats"] => (Route::UserStats, get),
            ["users", "status", "ids"] => (Route::StatusIds, Method::POST),
            ["users", id] if !id.is_empty() => (Route::User((*id).to_owned()), get),
            ["teams"] => (Route::Teams, get),
            ["teams", id] if !id.is_empty() => (Route::Team((*id).to_owned()), get),
            ["teams", id, "members"] if !id.is_empty() => {
                (Route::TeamMembers((*id).to_owned()), get)
            }
            ["teams", id, "stats"] if !id.is_empty() => (Route::TeamStats((*id).to_owned()), get),
            ["reports", "users"] => (Route::ReportsUsers, get),
            ["license", "client"] => (Route::LicenseClient, get),
            _ => return None,
        })
    }

    fn needs_auth(&self) -> bool {
        !matches!(self, Route::Ping)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
struct Caller {
    user: u32,
    admin: bool,
}

// ---------------------------------------------------------------- errors

fn request_id() -> String {
    let mut rng = fastrand::Rng::new();
    super::org::new_id(&mut rng)
}

/// A Mattermost-shaped error.
fn mm_error(status: StatusCode, id: &str, message: &str) -> Response {
    let mut resp = json_response(
        status,
        &json!({
            "id": id,
            "message": message,
            "detailed_error": "",
            "request_id": request_id(),
            "status_code": status.as_u16(),
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn unauthorized() -> Response {
    mm_error(
        StatusCode::UNAUTHORIZED,
        "api.context.session_expired.app_error",
        "Invalid or expired session, please login again.",
    )
}

fn forbidden() -> Response {
    mm_error(
        StatusCode::FORBIDDEN,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )
}

fn team_not_found() -> Response {
    mm_error(
        StatusCode::NOT_FOUND,
        "app.team.get.find.app_error",
        "Unable to find the existing team.",
    )
}

fn user_not_found() -> Response {
    mm_error(
        StatusCode::NOT_FOUND,
        "app.user.missing_account.const",
        "Unable to find the user.",
    )
}

fn page_not_found() -> Response {
    mm_error(
        StatusCode::NOT_FOUND,
        "api.context.404.app_error",
        "Sorry, we could not find the page.",
    )
}

fn invalid_param(name: &str) -> Response {
    mm_error(
        StatusCode::BAD_REQUEST,
        "api.context.invalid_url_param.app_error",
        &format!("Invalid or missing {name} parameter in request URL."),
    )
}

fn invalid_body(name: &str) -> Response {
    mm_error(
        StatusCode::BAD_REQUEST,
        "api.context.invalid_body_param.app_error",
        &format!("Invalid or missing {name} in request body."),
    )
}

/// A handler-level error, turned into a Mattermost-shaped answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Unauthorized,
    Forbidden,
    TeamNotFound,
    UserNotFound,
    InvalidParam(&'static str),
    InvalidBody(&'static str),
    /// `/reports/users` with `page_size` ≤ 0 or > 100.
    InvalidPageSize,
    /// `/reports/users` with a column it cannot sort by.
    InvalidSortColumn,
}

impl Reject {
    fn response(self) -> Response {
        match self {
            Reject::Unauthorized => unauthorized(),
            Reject::Forbidden => forbidden(),
            Reject::TeamNotFound => team_not_found(),
            Reject::UserNotFound => user_not_found(),
            Reject::InvalidParam(name) => invalid_param(name),
            Reject::InvalidBody(name) => invalid_body(name),
            Reject::InvalidPageSize => mm_error(
                StatusCode::BAD_REQUEST,
                "api.getUsersForReporting.invalid_page_size",
                "Invalid page size.",
            ),
            Reject::InvalidSortColumn => mm_error(
                StatusCode::BAD_REQUEST,
                "app.user.get_user_report.invalid_sort_column",
                "Invalid sort column.",
            ),
        }
    }
}

fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    mm_error(
        status,
        "app.sql_store.internal_error",
        "We encountered an error while processing the request.",
    )
}

// ---------------------------------------------------------------- query

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query parameters (first value wins).
#[derive(Debug, Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: &str) -> Self {
        Self(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Mattermost's `page` / `per_page` parsing.
    fn paging(&self) -> (usize, usize) {
        let page = self
            .get("page")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&v| v >= 0)
            .map_or(0, |v| usize::try_from(v).unwrap_or(usize::MAX));
        let per_page = self
            .get("per_page")
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&v| v >= 0)
            .map_or(PER_PAGE_DEFAULT, |v| {
                usize::try_from(v).unwrap_or(usize::MAX).min(PER_PAGE_MAX)
            });
        (page, per_page)
    }
    /// Go's `strconv.ParseBool`; anything else is false.
    fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }
}

// ---------------------------------------------------------------- shapes

fn user_json(u: &User) -> Value {
    let mut v = json!({
        "id": u.id,
        "create_at": u.create_at,
        "update_at": u.update_at,
        "delete_at": u.delete_at,
        "username": u.username,
        "auth_data": "",
        "auth_service": u.auth_service,
        "email": u.email,
        "email_verified": !u.email.is_empty(),
        "nickname": u.nickname,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "position": u.position,
        "roles": u.roles,
        "locale": "en",
        "timezone": {
            "automaticTimezone": "",
            "manualTimezone": "",
            "useAutomaticTimezone": "true"
        },
        "disable_welcome_email": false,
    });
    if u.is_bot
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("is_bot".to_owned(), Value::Bool(true));
        obj.insert(
            "bot_description".to_owned(),
            Value::from(format!("{} integration", u.username)),
        );
    }
    v
}

fn team_json(t: &Team) -> Value {
    json!({
        "id": t.id,
        "create_at": t.create_at,
        "update_at": t.update_at,
        "delete_at": t.delete_at,
        "display_name": t.display_name,
        "name": t.name,
        "description": "",
        "email": "",
        "type": t.team_type(),
        "company_name": "",
        "allowed_domains": "",
        "invite_id": "",
        "allow_open_invite": !t.invite_only,
        "scheme_id": null,
        "group_constrained": null,
        "policy_id": null,
    })
}

fn member_json(t: &Team, m: &Membership, org: &Org) -> Value {
    json!({
        "team_id": t.id,
        "user_id": org.users[m.user as usize].id,
        "roles": m.roles(),
        "delete_at": m.delete_at,
        "scheme_user": !m.scheme_guest,
        "scheme_admin": m.scheme_admin,
        "scheme_guest": m.scheme_guest,
        "explicit_roles": "",
    })
}

/// A row of `/reports/users`. `last_login` is `omitempty` on the server
/// (server/public/model/user.go), so it is absent for users who never
/// logged in; `legacy_layout` leaves it out of every row, as servers that
/// lay the report out differently do.
fn report_json(u: &User, legacy_layout: bool) -> Value {
    let mut v = json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "display_name": u.report_display_name(),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "nickname": u.nickname,
        "roles": u.roles,
        "create_at": u.create_at,
        "delete_at": u.delete_at,
        "last_status_at": u.last_activity_at,
        "last_post_date": 0,
        "days_active": 0,
        "total_posts": 0,
        "mfa_active": false,
    });
    if u.last_login > 0
        && !legacy_layout
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert("last_login".to_owned(), Value::from(u.last_login));
    }
    v
}

// ---------------------------------------------------------------- dispatch

async fn route(sim: &MattermostSim, req: Request, path: &str, query: &str) -> Response {
    let Some((route, method)) = Route::parse(path) else {
        return page_not_found();
    };
    if req.method() != method {
        return mm_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "api.context.405.app_error",
            "Method not allowed.",
        );
    }
    let caller = if route.needs_auth() {
        match authenticate(sim, &req) {
            Some(c) => Some(c),
            None => return unauthorized(),
        }
    } else {
        None
    };

    let fault = sim.faults().take(path);
    let mut duplicate = false;
    let mut body_level = None;
    match fault {
        None => {}
        Some(Fault::ServerError(code)) => return server_error(code),
        Some(Fault::RateLimited) => {
            return Limiter::fault_headers(sim.inner.options.rate_limit).rejection();
        }
        Some(Fault::Unauthorized) => return unauthorized(),
        Some(Fault::NotFound) => {
            return match route {
                Route::Team(_) | Route::TeamMembers(_) | Route::TeamStats(_) | Route::Teams => {
                    team_not_found()
                }
                Route::User(_) | Route::Me => user_not_found(),
                _ => page_not_found(),
            };
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::DuplicateRows) => duplicate = true,
        Some(Fault::ShiftPages) => shift(sim, &route),
        Some(other) => body_level = Some(other),
    }

    if route == Route::LicenseClient {
        let admin = caller.is_some_and(|c| c.admin);
        return super::server::license_client(&sim.inner.options.license, admin);
    }
    let body = if route == Route::StatusIds {
        match axum::body::to_bytes(req.into_body(), BODY_LIMIT).await {
            Ok(b) => b,
            Err(_) => return invalid_body("user_ids"),
        }
    } else {
        bytes::Bytes::new()
    };
    let q = Query::parse(query);
    let result = {
        let org = sim.org();
        handle(&org, &sim.inner.options, &route, caller, &q, &body)
    };
    let mut value = match result {
        Ok(v) => v,
        Err(rejected) => return rejected.response(),
    };
    if duplicate {
        duplicate_rows(&mut value);
    }
    if let Some(f) = body_level
        && let Some(resp) = body_fault(&f, &value).await
    {
        return resp;
    }
    json_response(StatusCode::OK, &value)
}

fn authenticate(sim: &MattermostSim, req: &Request) -> Option<Caller> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return None;
    }
    let pats = sim.inner.options.personal_access_tokens;
    let org = sim.org();
    let user = match token.trim() {
        MattermostSim::ADMIN_TOKEN if pats => org.admin,
        MattermostSim::USER_TOKEN if pats => org.plain,
        MattermostSim::BOT_TOKEN => org.bot,
        _ => return None,
    };
    Some(Caller {
        user,
        admin: org.users[user as usize].is_admin(),
    })
}

fn shift(sim: &MattermostSim, route: &Route) {
    let now = now_ms();
    let mut org = sim.org();
    match route {
        Route::TeamMembers(id) => org.shift_members(id, now),
        Route::Teams | Route::Team(_) => org.shift_team(now),
        Route::Ping | Route::TeamStats(_) => {}
        _ => org.shift_user(now),
    }
}

fn duplicate_rows(v: &mut Value) {
    let rows = match v {
        Value::Array(rows) => rows,
        Value::Object(obj) => match obj.get_mut("teams") {
            Some(Value::Array(rows)) => rows,
            _ => return,
        },
        _ => return,
    };
    let doubled = rows.iter().flat_map(|r| [r.clone(), r.clone()]).collect();
    *rows = doubled;
}

fn page<T>(items: impl Iterator<Item = T>, page: usize, per_page: usize) -> Vec<T> {
    if per_page == 0 {
        return Vec::new();
    }
    items
        .skip(page.saturating_mul(per_page))
        .take(per_page)
        .collect()
}

fn handle(
    org: &Org,
    options: &super::SimOptions,
    route: &Route,
    caller: Option<Caller>,
    q: &Query,
    body: &[u8],
) -> Result<Value, Reject> {
    let caller = match (route, caller) {
        (Route::Ping, _) => {
            return Ok(json!({"status": "OK", "ActiveSearchBackend": "database"}));
        }
        (_, Some(c)) => c,
        (_, None) => return Err(Reject::Unauthorized),
    };
    match route {
        Route::Ping => Ok(json!({"status": "OK"})),
        // Answered in `route` (it needs the options and sets a header).
        Route::LicenseClient => Err(Reject::Forbidden),
        Route::Me => Ok(user_json(&org.users[caller.user as usize])),
        Route::User(id) => {
            if !is_valid_id(id) {
                return Err(Reject::InvalidParam("user_id"));
            }
            let u = org.user_by_id.get(id).ok_or(Reject::UserNotFound)?;
            Ok(user_json(&org.users[*u as usize]))
        }
        Route::Users => {
            let (p, per) = q.paging();
            let rows = page(org.user_order.iter(), p, per);
            Ok(Value::Array(
                rows.into_iter()
                    .map(|&i| user_json(&org.users[i as usize]))
                    .collect(),
            ))
        }
        Route::UserStats => {
            // Any session; active accounts, bots included: getTotalUsersStats
            // (server/channels/api4/user.go) → App.GetTotalUsersStats counts
            // with IncludeBotAccounts: true and without deleted users.
            let n = org.users.iter().filter(|u| u.delete_at == 0).count();
            Ok(json!({"total_users_count": n}))
        }
        Route::Teams => {
            let (p, per) = q.paging();
            let order = org.team_listing_order();
            let visible = order
                .iter()
                .map(|&i| &org.teams[i as usize])
                .filter(|t| caller.admin || !t.invite_only);
            let rows: Vec<Value> = page(visible.clone(), p, per)
                .into_iter()
                .map(team_json)
                .collect();
            if q.flag("include_total_count") {
                Ok(json!({"teams": rows, "total_count": visible.count()}))
            } else {
                Ok(Value::Array(rows))
            }
        }
        Route::Team(id) => {
            let t = team_for(org, id, caller)?;
            Ok(team_json(t))
        }
        Route::TeamMembers(id) => {
            let t = team_for(org, id, caller)?;
            // getTeamMembers (server/channels/api4/team.go) needs
            // PermissionViewTeam on the team, which only members (and
            // admins) hold: open teams are no exception.
            if !caller.admin && org.membership(t, caller.user).is_none() {
                return Err(Reject::Forbidden);
            }
            let (p, per) = q.paging();
            let rows = page(t.members.iter().filter(|m| m.visible()), p, per);
            Ok(Value::Array(
                rows.into_iter().map(|m| member_json(t, m, org)).collect(),
            ))
        }
        Route::TeamStats(id) => {
            let t = team_for(org, id, caller)?;
            // getTeamStats (server/channels/api4/team.go) needs
            // PermissionViewTeam like the member listing; the counts are
            // SqlTeamStore.GetTotalMemberCount / GetActiveMemberCount
            // (store/sqlstore/team_store.go): memberships not removed,
            // deactivated users counted in the total only.
            if !caller.admin && org.membership(t, caller.user).is_none() {
                return Err(Reject::Forbidden);
            }
            let members = t.members.iter().filter(|m| m.visible());
            let active = members
                .clone()
                .filter(|m| org.users[m.user as usize].delete_at == 0)
                .count();
            Ok(json!({
                "team_id": t.id,
                "total_member_count": members.count(),
                "active_member_count": active,
            }))
        }
        Route::ReportsUsers => reports_users(org, caller, q, options.legacy_report_layout),
        Route::StatusIds => status_ids(org, body),
    }
}

/// A team the caller may read: 400 for malformed ids, 404 for unknown
/// teams, 403 for invite-only teams a non-admin is not a member of.
fn team_for<'a>(org: &'a Org, id: &str, caller: Caller) -> Result<&'a Team, Reject> {
    if !is_valid_id(id) {
        return Err(Reject::InvalidParam("team_id"));
    }
    let t = org.team(id).ok_or(Reject::TeamNotFound)?;
    if !caller.admin && t.invite_only && org.membership(t, caller.user).is_none() {
        return Err(Reject::Forbidden);
    }
    Ok(t)
}

/// The value a report row is sorted and keyed by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Int(i64),
    Text(String),
}

fn sort_value(u: &User, column: &str) -> SortValue {
    match column {
        "CreateAt" => SortValue::Int(u.create_at),
        "Email" => SortValue::Text(u.email.clone()),
        "FirstName" => SortValue::Text(u.first_name.clone()),
        "LastName" => SortValue::Text(u.last_name.clone()),
        "Nickname" => SortValue::Text(u.nickname.clone()),
        "Roles" => SortValue::Text(u.roles.clone()),
        _ => SortValue::Text(u.username.clone()),
    }
}

/// `GET /reports/users`, as getUsersForReporting
/// (server/channels/api4/report.go) and `SqlUserStore.GetUserReport`
/// (server/channels/store/sqlstore/user_store.go) answer it:
///
/// * System Admins only; bots are never listed, deactivated users are;
/// * `page_size` that does not parse → 50; parsed but ≤ 0 or > 100 → 400;
/// * `sort_column` one of `UserReportSortColumns` (default `Username`),
///   rows ordered by `(column, Id)`; `sort_direction` is descending only
///   for exactly `desc`; `direction=up` (`prev` on older servers) reads
///   backwards from the cursor;
/// * the keyset cursor applies only when both `from_column_value` and
///   `from_id` are non-empty: rows strictly after `(value, id)`.
///
/// The simulator compares bytes; a real server compares with the
/// database's collation, which is why the connector never compares keys
/// itself.
fn reports_users(
    org: &Org,
    caller: Caller,
    q: &Query,
    legacy_layout: bool,
) -> Result<Value, Reject> {
    if !caller.admin {
        return Err(Reject::Forbidden);
    }
    let size = match q.get("page_size").and_then(|v| v.parse::<i64>().ok()) {
        None => REPORT_PAGE_DEFAULT,
        Some(n) if n >= 1 && n <= REPORT_PAGE_MAX as i64 => n as usize,
        Some(_) => return Err(Reject::InvalidPageSize),
    };
    let column = match q.get("sort_column") {
        None | Some("") => "Username",
        Some(c) => c,
    };
    if !REPORT_SORT_COLUMNS.contains(&column) {
        return Err(Reject::InvalidSortColumn);
    }
    let desc = q.get("sort_direction") == Some("desc");
    let backwards = matches!(q.get("direction"), Some("up" | "prev"));
    let from = match (q.get("from_column_value"), q.get("from_id")) {
        (Some(v), Some(id)) if !v.is_empty() && !id.is_empty() => {
            let value = if column == "CreateAt" {
                SortValue::Int(
                    v.parse()
                        .map_err(|_| Reject::InvalidParam("from_column_value"))?,
                )
            } else {
                SortValue::Text(v.to_owned())
            };
            Some((value, id))
        }
        _ => None,
    };
    // Reading down a descending sort, or up an ascending one, walks the
    // keys from high to low.
    let downwards = desc != backwards;
    let mut page: Vec<&User> = if column == "Username" {
        // `user_order` is already sorted by (username, id): find the
        // cursor by binary search and walk from there.
        let order = &org.user_order;
        let user = |i: &u32| &org.users[*i as usize];
        let humans = |u: &&User| !u.is_bot;
        match (&from, downwards) {
            (None, false) => order.iter().map(user).filter(humans).take(size).collect(),
            (None, true) => order
                .iter()
                .rev()
                .map(user)
                .filter(humans)
                .take(size)
                .collect(),
            (Some((SortValue::Text(v), id)), false) => {
                let at = order.partition_point(|i| {
                    let u = user(i);
                    (u.username.as_str(), u.id.as_str()) <= (v.as_str(), *id)
                });
                order[at..]
                    .iter()
                    .map(user)
                    .filter(humans)
                    .take(size)
                    .collect()
            }
            (Some((SortValue::Text(v), id)), true) => {
                let at = order.partition_point(|i| {
                    let u = user(i);
                    (u.username.as_str(), u.id.as_str()) < (v.as_str(), *id)
                });
                order[..at]
                    .iter()
                    .rev()
                    .map(user)
                    .filter(humans)
                    .take(size)
                    .collect()
            }
            (Some((SortValue::Int(_), _)), _) => Vec::new(),
        }
    } else {
        let mut ordered: Vec<(SortValue, &User)> = org
            .users
            .iter()
            .filter(|u| !u.is_bot)
            .map(|u| (sort_value(u, column), u))
            .collect();
        ordered.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        if downwards {
            ordered.reverse();
        }
        ordered
            .iter()
            .filter(|(value, u)| match &from {
                None => true,
                Some((fv, fid)) => {
                    let here = (value, u.id.as_str());
                    let cursor = (fv, *fid);
                    if downwards {
                        here < cursor
                    } else {
                        here > cursor
                    }
                }
            })
            .take(size)
            .map(|(_, u)| *u)
            .collect()
    };
    if backwards {
        // The server reverses a page read backwards into the sort order.
        page.reverse();
    }
    Ok(Value::Array(
        page.into_iter()
            .map(|u| report_json(u, legacy_layout))
            .collect(),
    ))
}

/// `POST /users/status/ids`, as getUserStatusesByIds
/// (server/channels/api4/status.go): any session, a non-empty JSON array
/// of ids, no cap on their number. Users without a status row (they
/// never connected) are left out of the answer.
fn status_ids(org: &Org, body: &[u8]) -> Result<Value, Reject> {
    let ids: Vec<String> =
        serde_json::from_slice(body).map_err(|_| Reject::InvalidBody("user_ids"))?;
    if ids.is_empty() || ids.iter().any(|id| !is_valid_id(id)) {
        return Err(Reject::InvalidBody("user_ids"));
    }
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<Value> = ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .filter_map(|id| org.user_by_id.get(id))
        .map(|&i| &org.users[i as usize])
        .filter(|u| u.last_activity_at > 0)
        .map(|u| {
            json!({
                "user_id": u.id,
                "status": u.status,
                "manual": false,
                "last_activity_at": u.last_activity_at,
            })
        })
        .collect();
    Ok(Value::Array(rows))
}

/// Builds a request for in-process tests.
#[cfg(test)]
pub(super) fn test_request(method: Method, uri: &str, token: Option<&str>, body: &str) -> Request {
    let mut b = axum::http::Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(axum::body::Body::from(body.to_owned()))
        .unwrap_or_else(|_| Request::new(axum::body::Body::empty()))
}
