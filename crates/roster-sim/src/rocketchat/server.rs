//! What the simulated workspace says about itself (the version served at
//! `GET /api/info`, `GET /api/v1/licenses.maxActiveUsers`), and seeded dates made relative
//! to "now".

use serde_json::{Value, json};

use super::RocketChatSim;
use super::org::Org;

/// The version the simulator reports.
pub(super) const VERSION: &str = "7.4.0";

/// The body of `licenses.maxActiveUsers`: the limit (`null` when
/// unlimited) and the active local (non-federated, human) users.
pub(super) fn max_active_users(org: &Org, limit: Option<u64>) -> Value {
    let active = org
        .users
        .iter()
        .filter(|u| u.active && !u.is_service() && !u.is_federated())
        .count();
    json!({"maxActiveUsers": limit, "activeUsers": active, "success": true})
}

const DAY_MS: i64 = 86_400_000;
/// 2019-01-01T00:00:00Z in ms: the earliest generated date.
const GENERATED_FROM: i64 = 1_546_300_800_000;
/// Seven years later: no generated date is later.
const GENERATED_NOW: i64 = GENERATED_FROM + 7 * 365 * DAY_MS;

/// Moves every generated date so the workspace's "now" is `now` (unix ms),
/// and skews last logins towards it (age⁴/span³): most people logged in
/// recently, a tail of dormant accounts. Deterministic in `now`.
pub(super) fn make_recent(org: &mut Org, now: i64) {
    let delta = now - GENERATED_NOW;
    for u in &mut org.users {
        u.created_at += delta;
        if let Some(t) = &mut u.last_login {
            *t = (now - skew(GENERATED_NOW - *t)).max(u.created_at);
        }
    }
    for t in &mut org.teams {
        t.created_at += delta;
        for m in &mut t.members {
            m.created_at += delta;
        }
    }
}

/// Age (ms) → skewed age, never longer: `age⁴ / span³` (logins here are
/// read years after creation, so they need a stronger pull than activity).
fn skew(age: i64) -> i64 {
    let span = (GENERATED_NOW - GENERATED_FROM) as f64;
    let r = age.max(0) as f64 / span;
    (r * r * r * r * span) as i64
}

impl RocketChatSim {
    /// Deactivates a user (`active: false`), as offboarding does. Unknown
    /// ids are ignored.
    pub fn deactivate_user(&self, user_id: &str) {
        let mut org = self.org();
        if let Some(u) = org.users.iter_mut().find(|u| u.id == user_id) {
            u.active = false;
        }
    }

    /// Adds a workspace role (by id, e.g. `admin`) to a user. Unknown ids
    /// are ignored.
    pub fn add_role(&self, user_id: &str, role_id: &str) {
        let mut org = self.org();
        if let Some(u) = org.users.iter_mut().find(|u| u.id == user_id)
            && !u.roles.iter().any(|r| r == role_id)
        {
            u.roles.push(role_id.to_owned());
        }
    }

    /// Sets a user's `name` (its display name). Unknown ids are ignored.
    pub fn set_name(&self, user_id: &str, name: &str) {
        let mut org = self.org();
        if let Some(u) = org.users.iter_mut().find(|u| u.id == user_id) {
            u.name = Some(name.to_owned());
        }
    }
}
