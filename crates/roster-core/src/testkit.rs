//! A conformance kit any connector (including third-party ones) runs
//! against its simulator's ground truth (feature `testkit`).
//!
//! A connector's tests describe what a sync must produce as an
//! [`Expected`]: the exact resources, entitlements and grants (taken from
//! the simulator's ground truth, never from the connector's own mapping),
//! the connector's [`Contract`] (its header name and the profile keys it
//! promises), and whether the sync ends complete. [`assert_conforms`]
//! compares a [`Snapshot`] with it and panics with a short diff: counts per
//! record kind and the first few missing, unexpected and different items.
//! [`check`] returns the same problems without panicking.
//!
//! Besides the data it checks the header (format, connector name, no
//! credentials in the source), the summary (complete or not as expected,
//! counts equal to the lines), the entitlement id format, that nothing is
//! written twice, that grants point at written entitlements and users, the
//! `user` traits and their timestamps, and the contract's profile keys.
//!
//! ```
//! use roster_core::testkit::{Contract, Expected, check};
//! use roster_core::{ResourceType, Snapshot};
//!
//! /// Defined once by the connector's tests.
//! const CONTRACT: Contract = Contract::new("example", &[(ResourceType::Team, &["archived"])]);
//!
//! let expected = Expected::new(CONTRACT, vec![], vec![], vec![]);
//! // What a sync wrote; `assert_conforms(&snapshot, &expected)` panics
//! // with the same problems.
//! let snapshot = Snapshot::default();
//! let problems = check(&snapshot, &expected);
//! assert_eq!(problems[0], "no header line");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::model::{Entitlement, Grant, Resource, ResourceType};
use crate::snapshot::{FORMAT, Snapshot};

/// How many items of each kind a diff names.
const SHOWN: usize = 3;

/// What a connector promises about every snapshot it writes, beyond the
/// data: the name in its header and the profile keys each resource type
/// carries. A connector's tests define it once (with [`Contract::new`])
/// and pass it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Contract {
    /// The header's `connector` field.
    pub connector: &'static str,
    /// Profile keys every resource of a type carries; types not listed
    /// promise none.
    pub profile_keys: &'static [(ResourceType, &'static [&'static str])],
}

impl Contract {
    /// The contract of the connector named `connector`.
    pub const fn new(
        connector: &'static str,
        profile_keys: &'static [(ResourceType, &'static [&'static str])],
    ) -> Self {
        Self {
            connector,
            profile_keys,
        }
    }

    /// The profile keys promised for `resource_type`.
    pub fn required_profile_keys(&self, resource_type: ResourceType) -> &'static [&'static str] {
        self.profile_keys
            .iter()
            .find(|(t, _)| *t == resource_type)
            .map_or(&[], |(_, keys)| keys)
    }
}

/// How the sync must end.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// `complete: true`; `notices`: whether `notice:` warnings may appear.
    Complete { notices: bool },
    /// `complete: false` with a warning containing each of `saying`;
    /// `missing_allowed`: records may be missing (none may be unexpected).
    Incomplete {
        saying: Vec<String>,
        missing_allowed: bool,
    },
}

/// What a sync must produce: records, contract and outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    contract: Contract,
    resources: Vec<Resource>,
    entitlements: Vec<Entitlement>,
    grants: Vec<Grant>,
    outcome: Outcome,
}

impl Expected {
    /// A complete sync producing exactly these records (in any order);
    /// `notice:` warnings are allowed.
    pub fn new(
        contract: Contract,
        resources: Vec<Resource>,
        entitlements: Vec<Entitlement>,
        grants: Vec<Grant>,
    ) -> Self {
        Self {
            contract,
            resources,
            entitlements,
            grants,
            outcome: Outcome::Complete { notices: true },
        }
    }

    /// The connector's contract.
    pub fn contract(&self) -> Contract {
        self.contract
    }
    /// The expected resources.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }
    /// The expected entitlements.
    pub fn entitlements(&self) -> &[Entitlement] {
        &self.entitlements
    }
    /// The expected grants.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Keeps only the grants `keep` accepts (e.g. all but a deleted team's).
    pub fn retain_grants(mut self, keep: impl FnMut(&Grant) -> bool) -> Self {
        self.grants.retain(keep);
        self
    }

    /// Changes every expected resource (e.g. drops data a fault withholds).
    pub fn map_resources(mut self, change: impl FnMut(&mut Resource)) -> Self {
        self.resources.iter_mut().for_each(change);
        self
    }

    /// The summary carries no warning at all, not even a `notice:`.
    pub fn without_notices(mut self) -> Self {
        if let Outcome::Complete { notices } = &mut self.outcome {
            *notices = false;
        }
        self
    }

    /// The sync ends `complete: false` with a warning containing `saying`
    /// (called again, each text must be said). The records are still
    /// exact unless [`Self::missing_allowed`].
    pub fn incomplete(mut self, saying: &str) -> Self {
        match &mut self.outcome {
            Outcome::Incomplete { saying: s, .. } => s.push(saying.to_owned()),
            Outcome::Complete { .. } => {
                self.outcome = Outcome::Incomplete {
                    saying: vec![saying.to_owned()],
                    missing_allowed: false,
                }
            }
        }
        self
    }

    /// For an incomplete sync: records may be missing, but nothing
    /// outside the expectation may be written.
    pub fn missing_allowed(mut self) -> Self {
        if let Outcome::Incomplete {
            missing_allowed, ..
        } = &mut self.outcome
        {
            *missing_allowed = true;
        }
        self
    }
}

/// Every way `snapshot` departs from `expected`, each as one short
/// paragraph; empty when it conforms.
pub fn check(snapshot: &Snapshot, expected: &Expected) -> Vec<String> {
    let mut v = Vec::new();
    check_header(snapshot, expected, &mut v);
    check_summary(snapshot, expected, &mut v);
    let missing_allowed = matches!(
        expected.outcome,
        Outcome::Incomplete {
            missing_allowed: true,
            ..
        }
    );
    check_shape(snapshot, expected.contract, !missing_allowed, &mut v);
    let resource_key = |r: &Resource| format!("{}:{}", r.resource_type, r.id);
    diff(
        "resources",
        &keyed(&snapshot.resources, resource_key),
        &keyed(&expected.resources, resource_key),
        missing_allowed,
        &mut v,
    );
    let entitlement_key = |e: &Entitlement| e.id.to_string();
    diff(
        "entitlements",
        &keyed(&snapshot.entitlements, entitlement_key),
        &keyed(&expected.entitlements, entitlement_key),
        missing_allowed,
        &mut v,
    );
    let grant_key = |g: &Grant| format!("{} to {}", g.entitlement, g.principal);
    diff(
        "grants",
        &keyed(&snapshot.grants, grant_key),
        &keyed(&expected.grants, grant_key),
        missing_allowed,
        &mut v,
    );
    v
}

/// Panics with a short diff when `snapshot` does not conform to
/// `expected` (see [`check`]).
///
/// # Panics
/// When the snapshot does not conform.
#[track_caller]
pub fn assert_conforms(snapshot: &Snapshot, expected: &Expected) {
    let problems = check(snapshot, expected);
    assert!(
        problems.is_empty(),
        "the `{}` snapshot does not conform ({} problems):\n{}",
        expected.contract.connector,
        problems.len(),
        problems.join("\n")
    );
}

fn check_header(snapshot: &Snapshot, expected: &Expected, v: &mut Vec<String>) {
    let Some(h) = &snapshot.header else {
        v.push("no header line".to_owned());
        return;
    };
    if h.format != FORMAT {
        v.push(format!("header format `{}` is not `{FORMAT}`", h.format));
    }
    if h.connector != expected.contract.connector {
        v.push(format!(
            "header connector `{}` is not `{}`",
            h.connector, expected.contract.connector
        ));
    }
    if h.source.contains('@') || h.source.contains('?') {
        v.push(format!(
            "header source `{}` carries credentials or a query",
            h.source
        ));
    }
}

fn check_summary(snapshot: &Snapshot, expected: &Expected, v: &mut Vec<String>) {
    let Some(s) = &snapshot.summary else {
        v.push("no summary line: the sync died".to_owned());
        return;
    };
    match &expected.outcome {
        Outcome::Complete { notices } => {
            if !s.complete {
                v.push(format!("summary says incomplete: {:?}", s.warnings));
            } else if !notices && !s.warnings.is_empty() {
                v.push(format!("summary has warnings: {:?}", s.warnings));
            } else if let Some(w) = s.warnings.iter().find(|w| !w.starts_with("notice:")) {
                v.push(format!(
                    "complete summary with a warning that is no notice: {w}"
                ));
            }
        }
        Outcome::Incomplete { saying, .. } => {
            if s.complete {
                v.push("summary says complete, expected complete: false".to_owned());
            }
            for needle in saying {
                if !s.warnings.iter().any(|w| w.contains(needle.as_str())) {
                    v.push(format!("no warning says `{needle}`: {:?}", s.warnings));
                }
            }
        }
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

/// What holds whatever the data: display names, `user` traits, timestamps,
/// profile keys, entitlement ids, and (`linked`: unless records may be
/// missing) grants pointing at written records.
fn check_shape(snapshot: &Snapshot, contract: Contract, linked: bool, v: &mut Vec<String>) {
    for r in &snapshot.resources {
        let what = format!("{}:{}", r.resource_type, r.id);
        if r.display_name.trim().is_empty() {
            v.push(format!("{what} has an empty display_name"));
        }
        if (r.resource_type == ResourceType::User) != r.user.is_some() {
            v.push(format!(
                "{what}: `user` traits must exist exactly for users"
            ));
        }
        for key in contract.required_profile_keys(r.resource_type) {
            if !r.profile.contains_key(*key) {
                v.push(format!("{what} lacks profile key `{key}`"));
            }
        }
        if let Some(u) = &r.user {
            for t in [u.created_at, u.last_login_at, u.last_activity_at]
                .into_iter()
                .flatten()
            {
                if !t.to_string().ends_with('Z') {
                    v.push(format!("{what} timestamp {t} is not UTC with Z"));
                }
            }
        }
    }
    for e in &snapshot.entitlements {
        let want = format!("{}:{}:{}", e.resource.resource_type, e.resource.id, e.slug);
        if e.id.to_string() != want {
            v.push(format!("entitlement id `{}` should be `{want}`", e.id));
        }
    }
    if !linked {
        return;
    }
    let entitlements: BTreeSet<String> = snapshot
        .entitlements
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    let users: BTreeSet<&str> = snapshot
        .resources
        .iter()
        .filter(|r| r.resource_type == ResourceType::User)
        .map(|r| r.id.as_str())
        .collect();
    for g in &snapshot.grants {
        if !entitlements.contains(&g.entitlement.to_string()) {
            v.push(format!("grant of unwritten entitlement {}", g.entitlement));
        }
        if !users.contains(g.principal.id.as_str()) {
            v.push(format!(
                "grant {} to unwritten user {}",
                g.entitlement, g.principal.id
            ));
        }
    }
}

/// Items by key, as JSON; the second value counts how often each was seen.
fn keyed<T: serde::Serialize>(
    items: &[T],
    key: impl Fn(&T) -> String,
) -> BTreeMap<String, (Value, usize)> {
    let mut out: BTreeMap<String, (Value, usize)> = BTreeMap::new();
    for item in items {
        let value = serde_json::to_value(item).unwrap_or(Value::Null);
        out.entry(key(item))
            .and_modify(|(_, n)| *n += 1)
            .or_insert((value, 1));
    }
    out
}

/// One paragraph for a record kind whose written set differs from the
/// expected one: counts, then the first few items of each difference.
fn diff(
    what: &str,
    got: &BTreeMap<String, (Value, usize)>,
    want: &BTreeMap<String, (Value, usize)>,
    missing_allowed: bool,
    v: &mut Vec<String>,
) {
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let unexpected: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let twice: Vec<&String> = got
        .iter()
        .filter(|(_, (_, n))| *n > 1)
        .map(|(k, _)| k)
        .collect();
    let different: Vec<(&String, String)> = got
        .iter()
        .filter_map(|(k, (g, _))| {
            let (w, _) = want.get(k)?;
            (g != w).then(|| (k, first_difference(g, w, "")))
        })
        .collect();
    let shown_missing = if missing_allowed {
        &[][..]
    } else {
        &missing[..]
    };
    if shown_missing.is_empty() && unexpected.is_empty() && twice.is_empty() && different.is_empty()
    {
        return;
    }
    let written: usize = got.values().map(|(_, n)| n).sum();
    let expected: usize = want.values().map(|(_, n)| n).sum();
    let mut p = format!(
        "{what}: {written} written, {expected} expected; {} missing, {} unexpected, {} different, {} written twice",
        missing.len(),
        unexpected.len(),
        different.len(),
        twice.len()
    );
    let mut list = |label: &str, keys: &[&String]| {
        for k in keys.iter().take(SHOWN) {
            let _ = write!(p, "\n  {label} {k}");
        }
        if keys.len() > SHOWN {
            let _ = write!(p, "\n  … {} more {label}", keys.len() - SHOWN);
        }
    };
    list("missing", shown_missing);
    list("unexpected", &unexpected);
    list("twice", &twice);
    for (k, how) in different.iter().take(SHOWN) {
        let _ = write!(p, "\n  different {k}: {how}");
    }
    if different.len() > SHOWN {
        let _ = write!(p, "\n  … {} more different", different.len() - SHOWN);
    }
    v.push(p);
}

/// The first field where `got` and `want` differ, as `path: got …, expected …`.
fn first_difference(got: &Value, want: &Value, path: &str) -> String {
    if let (Value::Object(g), Value::Object(w)) = (got, want) {
        let keys: BTreeSet<&String> = g.keys().chain(w.keys()).collect();
        for key in keys {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match (g.get(key), w.get(key)) {
                (Some(a), Some(b)) if a != b => return first_difference(a, b, &sub),
                (Some(a), None) => return format!("{sub}: got {a}, expected no field"),
                (None, Some(b)) => return format!("{sub}: got no field, expected {b}"),
                _ => {}
            }
        }
    }
    let at = if path.is_empty() { "value" } else { path };
    format!("{at}: got {got}, expected {want}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::snapshot::{Counts, Header, Summary};

    const CONTRACT: Contract = Contract::new(
        "example",
        &[
            (ResourceType::Team, &["archived"]),
            (ResourceType::User, &["roles"]),
        ],
    );

    fn snap() -> (Snapshot, Expected) {
        let team = Resource::new(ResourceType::Team, "t1", "Team").with_profile("archived", false);
        let user = Resource::new(ResourceType::User, "u1", "Ada")
            .with_profile("roles", vec!["user"])
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
            header: Some(Header::new("example", "https://chat")),
            resources: vec![team.clone(), user.clone()],
            entitlements: vec![ent.clone()],
            grants: vec![grant.clone()],
            summary: Some(Summary::new(true, Timestamp::now()).counts(Counts {
                resource: 2,
                entitlement: 1,
                grant: 1,
            })),
        };
        let expected = Expected::new(CONTRACT, vec![team, user], vec![ent], vec![grant]);
        (snapshot, expected)
    }

    #[test]
    fn a_correct_snapshot_conforms() {
        let (s, e) = snap();
        assert_conforms(&s, &e);
    }

    #[test]
    fn violations_are_found_and_said_briefly() {
        let (mut s, e) = snap();
        s.grants.push(s.grants[0].clone());
        s.resources[0].profile.remove("archived");
        s.header = Some(Header::new("other", "https://chat"));
        let text = check(&s, &e).join("\n");
        assert!(text.contains("written twice"), "{text}");
        assert!(text.contains("lacks profile key `archived`"), "{text}");
        assert!(
            text.contains("different team:t1: profile.archived: got no field, expected false"),
            "{text}"
        );
        assert!(text.contains("summary counts"), "{text}");
        assert!(
            text.contains("connector `other` is not `example`"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_grant_is_counted_and_named() {
        let (mut s, e) = snap();
        s.grants.clear();
        s.summary.as_mut().unwrap().counts.grant = 0;
        let problems = check(&s, &e);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0],
            "grants: 0 written, 1 expected; 1 missing, 0 unexpected, 0 different, 0 written twice\n  missing team:t1:member to user:u1"
        );
    }

    #[test]
    fn an_incomplete_expectation_needs_the_warning_and_may_allow_missing_records() {
        let (mut s, e) = snap();
        s.grants.clear();
        let summary = s.summary.as_mut().unwrap();
        summary.counts.grant = 0;
        summary.complete = false;
        summary.warnings = vec!["grants of team t1 missing".to_owned()];
        // Complete expected: says so.
        assert!(check(&s, &e).join("\n").contains("summary says incomplete"));
        // Incomplete, but still exact: the grant is missed.
        let strict = e.clone().incomplete("team t1");
        assert!(check(&s, &strict).join("\n").contains("1 missing"));
        assert_conforms(&s, &strict.missing_allowed());
        let wrong = e.clone().incomplete("team t2").missing_allowed();
        assert!(
            check(&s, &wrong)
                .join("\n")
                .contains("no warning says `team t2`")
        );
        // Nothing unexpected even then.
        s.grants.push(Grant::new(
            EntitlementId::new(ResourceRef::new(ResourceType::Team, "t1"), "member"),
            ResourceRef::user("u9"),
        ));
        s.summary.as_mut().unwrap().counts.grant = 1;
        let text = check(&s, &e.incomplete("t1").missing_allowed()).join("\n");
        assert!(
            text.contains("unexpected team:t1:member to user:u9"),
            "{text}"
        );
    }

    #[test]
    fn notices_are_allowed_unless_excluded() {
        let (mut s, e) = snap();
        s.summary.as_mut().unwrap().warnings = vec!["notice: no activity data".to_owned()];
        assert_conforms(&s, &e);
        assert!(!check(&s, &e.without_notices()).is_empty());
    }
}
