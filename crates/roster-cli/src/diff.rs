//! `roster diff OLD NEW`: resources, entitlements and grants added, removed
//! or changed between two snapshots, with display names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

use roster_core::{EntitlementId, Grant, Resource, ResourceRef, ResourceType, Snapshot};
use serde_json::{Value, json};

use crate::escape;

/// One changed attribute of a resource present in both snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// `display_name`, `status`, `emails`, `profile.system_roles`, …
    pub field: String,
    /// The old value.
    pub old: Value,
    /// The new value.
    pub new: Value,
}

/// A resource present in both snapshots with different attributes.
#[derive(Debug, Clone)]
pub struct Changed<'a> {
    /// The new version.
    pub resource: &'a Resource,
    /// What changed.
    pub changes: Vec<FieldChange>,
}

/// The differences between two snapshots.
#[derive(Debug)]
pub struct Diff<'a> {
    /// Resources only in the new snapshot.
    pub resources_added: Vec<&'a Resource>,
    /// Resources only in the old snapshot.
    pub resources_removed: Vec<&'a Resource>,
    /// Resources in both, changed (activity timestamps are not compared).
    pub resources_changed: Vec<Changed<'a>>,
    /// Entitlements only in the new snapshot.
    pub entitlements_added: Vec<&'a EntitlementId>,
    /// Entitlements only in the old snapshot.
    pub entitlements_removed: Vec<&'a EntitlementId>,
    /// Grants only in the new snapshot.
    pub grants_added: Vec<&'a Grant>,
    /// Grants only in the old snapshot.
    pub grants_removed: Vec<&'a Grant>,
    names: Names<'a>,
}

/// Display names of resources from both snapshots (new wins).
#[derive(Debug, Default)]
struct Names<'a> {
    by_ref: HashMap<(ResourceType, &'a str), &'a Resource>,
}

impl<'a> Names<'a> {
    fn new(old: &'a Snapshot, new: &'a Snapshot) -> Self {
        let mut by_ref = HashMap::new();
        for r in old.resources.iter().chain(&new.resources) {
            by_ref.insert((r.resource_type, r.id.as_str()), r);
        }
        Self { by_ref }
    }

    fn get(&self, r: &ResourceRef) -> Option<&'a Resource> {
        self.by_ref.get(&(r.resource_type, r.id.as_str())).copied()
    }

    /// `Engineering`, or the id when unknown.
    fn display(&self, r: &ResourceRef) -> String {
        self.get(r)
            .map_or_else(|| r.id.to_string(), |res| res.display_name.clone())
    }

    /// A principal: the user's login, else its display name, else its id.
    fn principal(&self, r: &ResourceRef) -> String {
        match self.get(r) {
            Some(res) => match &res.user {
                Some(u) if !u.login.is_empty() => u.login.clone(),
                _ => res.display_name.clone(),
            },
            None => r.to_string(),
        }
    }
}

impl<'a> Diff<'a> {
    /// Compares `old` with `new`.
    pub fn new(old: &'a Snapshot, new: &'a Snapshot) -> Self {
        let key = |r: &'a Resource| (r.resource_type, r.id.as_str());
        let old_res: BTreeMap<_, &Resource> = old.resources.iter().map(|r| (key(r), r)).collect();
        let new_res: BTreeMap<_, &Resource> = new.resources.iter().map(|r| (key(r), r)).collect();
        let mut resources_added = Vec::new();
        let mut resources_changed = Vec::new();
        for (k, r) in &new_res {
            match old_res.get(k) {
                None => resources_added.push(*r),
                Some(o) => {
                    let changes = compare(o, r);
                    if !changes.is_empty() {
                        resources_changed.push(Changed {
                            resource: r,
                            changes,
                        });
                    }
                }
            }
        }
        let resources_removed = old_res
            .iter()
            .filter(|(k, _)| !new_res.contains_key(*k))
            .map(|(_, r)| *r)
            .collect();

        let old_ent: BTreeSet<&EntitlementId> = old.entitlements.iter().map(|e| &e.id).collect();
        let new_ent: BTreeSet<&EntitlementId> = new.entitlements.iter().map(|e| &e.id).collect();
        let old_grants: BTreeSet<&Grant> = old.grants.iter().collect();
        let new_grants: BTreeSet<&Grant> = new.grants.iter().collect();

        let mut diff = Self {
            resources_added,
            resources_removed,
            resources_changed,
            entitlements_added: new_ent.difference(&old_ent).copied().collect(),
            entitlements_removed: old_ent.difference(&new_ent).copied().collect(),
            grants_added: new_grants.difference(&old_grants).copied().collect(),
            grants_removed: old_grants.difference(&new_grants).copied().collect(),
            names: Names::new(old, new),
        };
        diff.sort();
        diff
    }

    fn sort(&mut self) {
        let names = &self.names;
        let rkey = |r: &Resource| (r.resource_type, r.display_name.to_lowercase(), r.id.clone());
        self.resources_added.sort_by_key(|r| rkey(r));
        self.resources_removed.sort_by_key(|r| rkey(r));
        self.resources_changed.sort_by_key(|c| rkey(c.resource));
        let ekey = |e: &EntitlementId| {
            (
                e.resource.resource_type,
                names.display(&e.resource).to_lowercase(),
                e.to_string(),
            )
        };
        self.entitlements_added.sort_by_key(|e| ekey(e));
        self.entitlements_removed.sort_by_key(|e| ekey(e));
        let gkey = |g: &Grant| {
            (
                ekey(&g.entitlement),
                names.principal(&g.principal).to_lowercase(),
            )
        };
        self.grants_added.sort_by_key(|g| gkey(g));
        self.grants_removed.sort_by_key(|g| gkey(g));
    }

    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.resources_added.is_empty()
            && self.resources_removed.is_empty()
            && self.resources_changed.is_empty()
            && self.entitlements_added.is_empty()
            && self.entitlements_removed.is_empty()
            && self.grants_added.is_empty()
            && self.grants_removed.is_empty()
    }

    fn resource_line(&self, sign: char, r: &Resource) -> String {
        match &r.user {
            Some(u) if !u.login.is_empty() && u.login != r.display_name => format!(
                "{sign} {} {} {} ({})",
                r.resource_type, r.id, u.login, r.display_name
            ),
            _ => format!("{sign} {} {} ({})", r.resource_type, r.id, r.display_name),
        }
    }

    fn grant_line(&self, sign: char, g: &Grant) -> String {
        format!(
            "{sign} grant {} ({}) → {}",
            g.entitlement,
            self.names.display(&g.entitlement.resource),
            self.names.principal(&g.principal)
        )
    }

    /// The human-readable report: grouped sections, then a one-line tally.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        if !self.resources_added.is_empty()
            || !self.resources_removed.is_empty()
            || !self.resources_changed.is_empty()
        {
            writeln!(
                out,
                "resources: {} added, {} removed, {} changed",
                self.resources_added.len(),
                self.resources_removed.len(),
                self.resources_changed.len()
            )?;
            for r in &self.resources_added {
                put(out, &self.resource_line('+', r))?;
            }
            for r in &self.resources_removed {
                put(out, &self.resource_line('-', r))?;
            }
            for c in &self.resources_changed {
                let what: Vec<String> = c
                    .changes
                    .iter()
                    .map(|f| format!("{} {} → {}", f.field, short(&f.old), short(&f.new)))
                    .collect();
                put(
                    out,
                    &format!(
                        "{}: {}",
                        self.resource_line('~', c.resource),
                        what.join("; ")
                    ),
                )?;
            }
            writeln!(out)?;
        }
        if !self.entitlements_added.is_empty() || !self.entitlements_removed.is_empty() {
            writeln!(
                out,
                "entitlements: {} added, {} removed",
                self.entitlements_added.len(),
                self.entitlements_removed.len()
            )?;
            for e in &self.entitlements_added {
                put(
                    out,
                    &format!("+ entitlement {e} ({})", self.names.display(&e.resource)),
                )?;
            }
            for e in &self.entitlements_removed {
                put(
                    out,
                    &format!("- entitlement {e} ({})", self.names.display(&e.resource)),
                )?;
            }
            writeln!(out)?;
        }
        if !self.grants_added.is_empty() || !self.grants_removed.is_empty() {
            writeln!(
                out,
                "grants: {} added, {} removed",
                self.grants_added.len(),
                self.grants_removed.len()
            )?;
            for g in &self.grants_added {
                put(out, &self.grant_line('+', g))?;
            }
            for g in &self.grants_removed {
                put(out, &self.grant_line('-', g))?;
            }
        }
        Ok(())
    }

    /// The machine-readable report.
    pub fn to_json(&self, old: &Snapshot, new: &Snapshot) -> Value {
        let res = |r: &Resource| {
            json!({
                "type": r.resource_type,
                "id": r.id,
                "display_name": r.display_name,
                "login": r.user.as_ref().map(|u| &u.login),
            })
        };
        let ent = |e: &EntitlementId| json!({ "id": e, "resource_name": self.names.display(&e.resource) });
        let grant = |g: &Grant| {
            json!({
                "entitlement": g.entitlement,
                "entitlement_resource_name": self.names.display(&g.entitlement.resource),
                "principal": g.principal,
                "principal_name": self.names.principal(&g.principal),
            })
        };
        let side = |s: &Snapshot| {
            json!({
                "connector": s.header.as_ref().map(|h| &h.connector),
                "source": s.header.as_ref().map(|h| &h.source),
                "started_at": s.header.as_ref().map(|h| h.started_at),
                "complete": s.is_complete(),
            })
        };
        json!({
            "equal": self.is_empty(),
            "old": side(old),
            "new": side(new),
            "resources": {
                "added": self.resources_added.iter().map(|r| res(r)).collect::<Vec<_>>(),
                "removed": self.resources_removed.iter().map(|r| res(r)).collect::<Vec<_>>(),
                "changed": self.resources_changed.iter().map(|c| {
                    let mut v = res(c.resource);
                    v["changes"] = c.changes.iter().map(|f| json!({"field": f.field, "old": f.old, "new": f.new})).collect();
                    v
                }).collect::<Vec<_>>(),
            },
            "entitlements": {
                "added": self.entitlements_added.iter().map(|e| ent(e)).collect::<Vec<_>>(),
                "removed": self.entitlements_removed.iter().map(|e| ent(e)).collect::<Vec<_>>(),
            },
            "grants": {
                "added": self.grants_added.iter().map(|g| grant(g)).collect::<Vec<_>>(),
                "removed": self.grants_removed.iter().map(|g| grant(g)).collect::<Vec<_>>(),
            },
        })
    }

    /// `3 resources added, 1 removed, …` for stderr.
    pub fn tally(&self) -> String {
        format!(
            "{} resources added, {} removed, {} changed; {} entitlements added, {} removed; {} grants added, {} removed",
            self.resources_added.len(),
            self.resources_removed.len(),
            self.resources_changed.len(),
            self.entitlements_added.len(),
            self.entitlements_removed.len(),
            self.grants_added.len(),
            self.grants_removed.len()
        )
    }
}

/// Writes one line of the text report. Names, ids and values come from the
/// snapshots (that is, from the server): [`escape::term`] keeps each on its
/// line and out of the terminal's control.
fn put(out: &mut dyn Write, line: &str) -> std::io::Result<()> {
    writeln!(out, "{}", escape::term(line))
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

/// Attributes that matter for access reviews; activity timestamps change on
/// every sync and are left out.
fn compare(old: &Resource, new: &Resource) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, a: Value, b: Value| {
        if a != b {
            out.push(FieldChange {
                field: field.to_owned(),
                old: a,
                new: b,
            });
        }
    };
    push(
        "display_name",
        json!(old.display_name),
        json!(new.display_name),
    );
    push("parent", json!(old.parent), json!(new.parent));
    let (ou, nu) = (old.user.as_ref(), new.user.as_ref());
    push(
        "login",
        json!(ou.map(|u| &u.login)),
        json!(nu.map(|u| &u.login)),
    );
    push(
        "emails",
        json!(ou.map(|u| &u.emails)),
        json!(nu.map(|u| &u.emails)),
    );
    push(
        "status",
        json!(ou.map(|u| u.status)),
        json!(nu.map(|u| u.status)),
    );
    push(
        "account_type",
        json!(ou.map(|u| u.account_type)),
        json!(nu.map(|u| u.account_type)),
    );
    push(
        "created_at",
        json!(ou.and_then(|u| u.created_at)),
        json!(nu.and_then(|u| u.created_at)),
    );
    let keys: BTreeSet<&String> = old.profile.keys().chain(new.profile.keys()).collect();
    for k in keys {
        push(
            &format!("profile.{k}"),
            old.profile.get(k).cloned().unwrap_or(Value::Null),
            new.profile.get(k).cloned().unwrap_or(Value::Null),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{
        AccountType, Entitlement, Header, Purpose, Record, Timestamp, UserStatus, UserTraits,
    };

    fn user(id: &str, login: &str, status: UserStatus) -> Resource {
        Resource::new(ResourceType::User, id, format!("{login} name")).with_user(UserTraits {
            login: login.into(),
            emails: vec![format!("{login}@x")],
            status,
            account_type: AccountType::Human,
            created_at: None,
            last_login_at: None,
            last_activity_at: Timestamp::now().into(),
        })
    }

    fn snap(records: Vec<Record>) -> Snapshot {
        let mut s = Snapshot::default();
        s.push(Record::Header(Header::new("mattermost", "https://x")))
            .unwrap();
        for r in records {
            s.push(r).unwrap();
        }
        s
    }

    #[test]
    fn finds_added_removed_and_changed() {
        let team = Resource::new(ResourceType::Team, "t1", "Engineering");
        let admin = Entitlement::new(team.reference(), "admin", Purpose::Permission);
        let old = snap(vec![
            Record::Resource(user("u1", "alice", UserStatus::Enabled)),
            Record::Resource(user("u2", "bob", UserStatus::Enabled)),
            Record::Resource(team.clone()),
            Record::Entitlement(admin.clone()),
            Record::Grant(Grant::new(admin.id.clone(), ResourceRef::user("u2"))),
        ]);
        let new = snap(vec![
            Record::Resource(user("u1", "alice", UserStatus::Disabled)),
            Record::Resource(user("u3", "carol", UserStatus::Enabled)),
            Record::Resource(team),
            Record::Entitlement(admin.clone()),
            Record::Grant(Grant::new(admin.id.clone(), ResourceRef::user("u1"))),
        ]);
        let d = Diff::new(&old, &new);
        assert!(!d.is_empty());
        let mut text = Vec::new();
        d.write_text(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("+ user u3 carol (carol name)"), "{text}");
        assert!(text.contains("- user u2 bob (bob name)"), "{text}");
        assert!(
            text.contains("~ user u1 alice (alice name): status enabled → disabled"),
            "{text}"
        );
        assert!(
            text.contains("+ grant team:t1:admin (Engineering) → alice"),
            "{text}"
        );
        assert!(
            text.contains("- grant team:t1:admin (Engineering) → bob"),
            "{text}"
        );
        let json = d.to_json(&old, &new);
        assert_eq!(json["equal"], false);
        assert_eq!(json["grants"]["added"][0]["principal_name"], "alice");
        assert!(Diff::new(&old, &old).is_empty());
    }
}
