//! What the simulated server says about itself (`GET /api/v4/license/client`
//! and the `X-Version-Id` header), and seeded dates made relative to "now".

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::org::Org;
use crate::common::json_response;

/// The version the simulator reports (`X-Version-Id`).
pub(super) const VERSION: &str = "10.5.1";

/// What `GET /api/v4/license/client` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimLicense {
    /// `IsLicensed: "false"` (a free / Team Edition server).
    Unlicensed,
    /// A licence: `SkuShortName` (hidden from callers without
    /// `read_license_information`) and `Users` (licensed seats).
    Licensed {
        /// `SkuShortName`, e.g. `enterprise`.
        sku: String,
        /// `Users`: licensed seats.
        seats: u64,
    },
    /// A server whose answer carries no licence data (`{}`).
    NotReported,
}

impl Default for SimLicense {
    /// An Enterprise licence for 500 users.
    fn default() -> Self {
        SimLicense::Licensed {
            sku: "enterprise".to_owned(),
            seats: 500,
        }
    }
}

/// The answer of `/api/v4/license/client` (a flat map of strings).
pub(super) fn license_client(license: &SimLicense, admin: bool) -> Response {
    let mut map = Map::new();
    let mut put = |k: &str, v: String| {
        map.insert(k.to_owned(), Value::String(v));
    };
    let licensed = match license {
        SimLicense::Unlicensed => {
            put("IsLicensed", "false".into());
            false
        }
        SimLicense::Licensed { sku, seats } => {
            put("IsLicensed", "true".into());
            put("Users", seats.to_string());
            put("Company", "Example Corp".into());
            if admin {
                put("SkuShortName", sku.clone());
            }
            true
        }
        SimLicense::NotReported => false,
    };
    let mut resp = json_response(StatusCode::OK, &Value::Object(map));
    let id = format!("{VERSION}.{VERSION}.simconfig.{licensed}");
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-version-id", v);
    }
    resp
}

/// 2020-01-01T00:00:00Z in ms: the earliest generated date.
const GENERATED_FROM: i64 = 1_577_836_800_000;
/// 2025-06-01T00:00:00Z in ms: the latest generated date.
const GENERATED_NOW: i64 = 1_748_736_000_000;

/// Moves every generated date so the organisation's "now" is `now` (unix
/// ms), and skews last logins and activity towards it (age³/span²), so a
/// workspace looks alive: most people active within weeks, a tail of
/// dormant accounts. Deterministic in `now`.
pub(super) fn make_recent(org: &mut Org, now: i64) {
    let delta = now - GENERATED_NOW;
    let shift = |t: &mut i64| {
        if *t > 0 {
            *t += delta;
        }
    };
    // A generated activity date moved near `now`: never after the account
    // was deactivated, never before it was created.
    let recent = |t: &mut i64, not_after: i64, floor: i64| {
        if *t > 0 {
            *t = now - skew(GENERATED_NOW - *t);
            if not_after > 0 {
                *t = (*t).min(not_after);
            }
            *t = (*t).max(floor);
        }
    };
    for u in &mut org.users {
        shift(&mut u.create_at);
        shift(&mut u.update_at);
        shift(&mut u.delete_at);
        let (not_after, floor) = (u.delete_at, u.create_at);
        recent(&mut u.last_login, not_after, floor);
        recent(&mut u.last_activity_at, not_after, floor);
        // The generator's record moves with the dates it decided, so the
        // ground truth stays independent of the wire fields.
        for t in [&mut u.truth.logged_in_at, &mut u.truth.active_at]
            .into_iter()
            .flatten()
        {
            recent(t, not_after, floor);
        }
    }
    for t in &mut org.teams {
        shift(&mut t.create_at);
        shift(&mut t.update_at);
        shift(&mut t.delete_at);
        for m in &mut t.members {
            shift(&mut m.delete_at);
        }
    }
}

/// Age (ms) → skewed age, never longer: `age³ / span²`.
fn skew(age: i64) -> i64 {
    let span = (GENERATED_NOW - GENERATED_FROM) as f64;
    let a = age.max(0) as f64;
    (a * a * a / (span * span)) as i64
}

impl super::MattermostSim {
    /// Deactivates a user (`delete_at` = now), as offboarding does;
    /// memberships stay. Unknown ids are ignored.
    pub fn deactivate_user(&self, user_id: &str) {
        let mut org = self.org();
        if let Some(&i) = org.user_by_id.get(user_id) {
            let now = super::now_ms().max(1);
            let u = &mut org.users[i as usize];
            u.delete_at = now;
            u.update_at = now;
        }
    }

    /// Sets a user's system roles (space-separated, e.g.
    /// `system_user system_admin`). Unknown ids are ignored.
    pub fn set_system_roles(&self, user_id: &str, roles: &str) {
        let mut org = self.org();
        if let Some(&i) = org.user_by_id.get(user_id) {
            org.users[i as usize].roles = roles.to_owned();
        }
    }

    /// Sets a user's first and last name. Unknown ids are ignored.
    pub fn set_names(&self, user_id: &str, first: &str, last: &str) {
        let mut org = self.org();
        if let Some(&i) = org.user_by_id.get(user_id) {
            let u = &mut org.users[i as usize];
            u.first_name = first.to_owned();
            u.last_name = last.to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_keeps_order_and_shortens() {
        let day = 86_400_000;
        assert_eq!(skew(0), 0);
        assert!(skew(365 * day) < 30 * day);
        assert!(skew(3 * 365 * day) > 90 * day);
        assert!(skew(1000 * day) <= 1000 * day);
    }
}
