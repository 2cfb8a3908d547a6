//! A conformance kit any connector (including third-party ones) runs
//! against its simulator's ground truth (feature `testkit`).
//!
//! [`check`] returns every violation found; [`assert_conforms`] panics with
//! all of them listed. It checks exact resource / entitlement / grant set
//! equality, the entitlement id format, that nothing is written twice, the
//! header and summary shape, that summary counts equal the lines, the
//! `user` traits and timestamp format, and the profile keys the contract
//! requires per connector.

use std::collections::BTreeSet;

use crate::model::{Entitlement, Grant, Resource, ResourceType};
use crate::snapshot::{FORMAT, Snapshot};

/// What a correct sync must produce.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Every resource.
    pub resources: &'a [Resource],
    /// Every entitlement.
    pub entitlements: &'a [Entitlement],
    /// Every grant.
    pub grants: &'a [Grant],
}

/// Profile keys the contract requires, per connector and resource type.
pub fn required_profile_keys(
    connector: &str,
    resource_type: ResourceType,
) -> &'static [&'static str] {
    match (connector, resource_type) {
        ("mattermost", ResourceType::User) => &["system_roles", "auth_service", "position"],
        ("mattermost", ResourceType::Team) => &["archived", "team_type"],
        ("rocketchat", ResourceType::User) => &["federated", "roles"],
        ("rocketchat", ResourceType::Role) => &["scope", "protected", "name"],
        ("rocketchat", ResourceType::Team) => &["team_type", "room_id"],
        _ => &[],
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn set_diff(what: &str, got: &[String], want: &[String], out: &mut Vec<String>) {
    let g: BTreeSet<&String> = got.iter().collect();
    let w: BTreeSet<&String> = want.iter().collect();
    if g.len() != got.len() {
        out.push(format!("{what}: {} written twice", got.len() - g.len()));
    }
    for missing in w.difference(&g).take(10) {
        out.push(format!("{what} missing: {missing}"));
    }
    for extra in g.difference(&w).take(10) {
        out.push(format!("{what} unexpected: {extra}"));
    }
    let (m, e) = (w.difference(&g).count(), g.difference(&w).count());
    if m > 10 || e > 10 {
        out.push(format!("{what}: {m} missing and {e} unexpected in all"));
    }
}

/// Every way `snapshot` departs from the contract or from `expected`.
pub fn check(snapshot: &Snapshot, expected: Expected<'_>) -> Vec<String> {
    let mut v = Vec::new();
    let connector = match &snapshot.header {
        None => {
            v.push("no header line".to_owned());
            String::new()
        }
        Some(h) => {
            if h.format != FORMAT {
                v.push(format!("header format `{}` is not `{FORMAT}`", h.format));
            }
            if !matches!(h.connector.as_str(), "mattermost" | "rocketchat") {
                v.push(format!("header connector `{}` is unknown", h.connector));
            }
            if h.source.contains('@') || h.source.contains('?') {
                v.push(format!(
                    "header source `{}` carries credentials or a query",
                    h.source
                ));
            }
            h.connector.clone()
        }
    };
    match &snapshot.summary {
        None => v.push("no summary line: the sync died".to_owned()),
        Some(s) => {
            if !s.complete {
                v.push(format!("summary says incomplete: {:?}", s.warnings));
            }
            if !s.complete && s.warnings.is_empty() {
                v.push("incomplete summary without warnings".to_owned());
            }
            let lines = (
                snapshot.resources.len() as u64,
                snapshot.entitlements.len() as u64,
                snapshot.grants.len() as u64,
            );
            let counts = (s.counts.resource, s.counts.entitlement, s.counts.grant);
            if lines != counts {
                v.push(format!(
                    "summary counts {counts:?} differ from lines {lines:?}"
                ));
            }
        }
    }
    for r in &snapshot.resources {
        if r.display_name.trim().is_empty() {
            v.push(format!(
                "{} {} has an empty display_name",
                r.resource_type, r.id
            ));
        }
        if (r.resource_type == ResourceType::User) != r.user.is_some() {
            v.push(format!(
                "{} {}: `user` traits must exist exactly for users",
                r.resource_type, r.id
            ));
        }
        for key in required_profile_keys(&connector, r.resource_type) {
            if !r.profile.contains_key(*key) {
                v.push(format!(
                    "{} {} lacks profile key `{key}`",
                    r.resource_type, r.id
                ));
            }
        }
        if let Some(u) = &r.user {
            for t in [u.created_at, u.last_login_at, u.last_activity_at]
                .into_iter()
                .flatten()
            {
                if !t.to_string().ends_with('Z') {
                    v.push(format!("user {} timestamp {t} is not UTC with Z", r.id));
                }
            }
        }
    }
    let ent_ids: BTreeSet<String> = snapshot
        .entitlements
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    for e in &snapshot.entitlements {
        let want = format!("{}:{}:{}", e.resource.resource_type, e.resource.id, e.slug);
        if e.id.to_string() != want {
            v.push(format!("entitlement id `{}` should be `{want}`", e.id));
        }
    }
    let users: BTreeSet<&str> = snapshot
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .map(|r| r.id.as_str())
        .collect();
    for g in &snapshot.grants {
        if !ent_ids.contains(&g.entitlement.to_string()) {
            v.push(format!("grant of unknown entitlement {}", g.entitlement));
        }
        if !users.contains(g.principal.id.as_str()) {
            v.push(format!(
                "grant {} to unknown user {}",
                g.entitlement, g.principal.id
            ));
        }
    }
    set_diff(
        "resource",
        &snapshot.resources.iter().map(json).collect::<Vec<_>>(),
        &expected.resources.iter().map(json).collect::<Vec<_>>(),
        &mut v,
    );
    set_diff(
        "entitlement",
        &snapshot.entitlements.iter().map(json).collect::<Vec<_>>(),
        &expected.entitlements.iter().map(json).collect::<Vec<_>>(),
        &mut v,
    );
    set_diff(
        "grant",
        &snapshot.grants.iter().map(json).collect::<Vec<_>>(),
        &expected.grants.iter().map(json).collect::<Vec<_>>(),
        &mut v,
    );
    v
}

/// Panics listing every violation [`check`] finds.
///
/// # Panics
/// When the snapshot does not conform.
pub fn assert_conforms(snapshot: &Snapshot, expected: Expected<'_>) {
    let violations = check(snapshot, expected);
    assert!(
        violations.is_empty(),
        "snapshot does not conform ({} problems):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::snapshot::{Counts, Header, Summary};

    fn snap() -> (Snapshot, Vec<Resource>, Vec<Entitlement>, Vec<Grant>) {
        let team = Resource::new(ResourceType::Team, "t1", "Team")
            .with_profile("archived", false)
            .with_profile("team_type", "O");
        let user = Resource::new(ResourceType::User, "u1", "Ada")
            .with_profile("system_roles", vec!["system_user"])
            .with_profile("auth_service", "")
            .with_profile("position", "")
            .with_user(UserTraits {
                login: "ada".into(),
                emails: vec![],
                status: UserStatus::Enabled,
                account_type: AccountType::Human,
                created_at: None,
                last_login_at: None,
                last_activity_at: None,
            });
        let ent = Entitlement::new(team.reference(), "member", Purpose::Assignment);
        let grant = Grant::new(ent.id.clone(), ResourceRef::user("u1"));
        let snapshot = Snapshot {
            header: Some(Header::new("mattermost", "https://chat")),
            resources: vec![team.clone(), user.clone()],
            entitlements: vec![ent.clone()],
            grants: vec![grant.clone()],
            summary: Some(Summary {
                complete: true,
                finished_at: Timestamp::now(),
                counts: Counts {
                    resource: 2,
                    entitlement: 1,
                    grant: 1,
                },
                requests: 1,
                retries: 0,
                rate_limited: 0,
                warnings: vec![],
                requests_by_endpoint: Default::default(),
                rate_limit_wait_ms: 0,
                rate_limit_waits: 0,
                elapsed_ms: 0,
            }),
        };
        (snapshot, vec![team, user], vec![ent], vec![grant])
    }

    #[test]
    fn a_correct_snapshot_conforms() {
        let (s, r, e, g) = snap();
        assert_conforms(
            &s,
            Expected {
                resources: &r,
                entitlements: &e,
                grants: &g,
            },
        );
    }

    #[test]
    fn violations_are_found() {
        let (mut s, r, e, g) = snap();
        s.grants.push(s.grants[0].clone());
        s.resources[0].profile.remove("team_type");
        let v = check(
            &s,
            Expected {
                resources: &r,
                entitlements: &e,
                grants: &g,
            },
        );
        let text = v.join("\n");
        assert!(text.contains("written twice"), "{text}");
        assert!(text.contains("team_type"), "{text}");
        assert!(text.contains("summary counts"), "{text}");
    }
}
