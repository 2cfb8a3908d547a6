//! The normalized access model: resources, entitlements and grants.
//!
//! Serde output of these types is the `roster-snapshot/1` contract
//! (`docs/snapshot-format.md`); field names must never change.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A JSON object of platform attributes that are not grants.
pub type Profile = serde_json::Map<String, serde_json::Value>;

/// The kinds of resource roster syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResourceType {
    /// A person or service account.
    User,
    /// A team (Mattermost team, Rocket.Chat team).
    Team,
    /// A role (Rocket.Chat roles).
    Role,
}

impl ResourceType {
    /// The contract's spelling: `user`, `team`, `role`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::User => "user",
            ResourceType::Team => "team",
            ResourceType::Role => "role",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResourceType {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(ResourceType::User),
            "team" => Ok(ResourceType::Team),
            "role" => Ok(ResourceType::Role),
            other => Err(ParseIdError(format!(
                "unknown resource type `{other}` (expected user, team or role)"
            ))),
        }
    }
}

/// A platform's own id of a resource, unchanged (Mattermost 26-char id,
/// Rocket.Chat `_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceId(String);

impl ResourceId {
    /// Wraps a native id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ResourceId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for ResourceId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// A typed reference to a resource: `{"type":"team","id":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The resource's type.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// The resource's native id.
    pub id: ResourceId,
}

impl ResourceRef {
    /// A reference to the resource `id` of type `resource_type`.
    pub fn new(resource_type: ResourceType, id: impl Into<ResourceId>) -> Self {
        Self {
            resource_type,
            id: id.into(),
        }
    }
    /// A reference to a user.
    pub fn user(id: impl Into<ResourceId>) -> Self {
        Self::new(ResourceType::User, id)
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource_type, self.id)
    }
}

/// Who holds a grant. Today always a user.
pub type Principal = ResourceRef;

/// The error of parsing an [`EntitlementId`] or [`ResourceType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseIdError(String);

/// An entitlement id: `<resource type>:<resource id>:<slug>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntitlementId {
    /// The resource offering the entitlement.
    pub resource: ResourceRef,
    /// The entitlement's slug (`member`, `admin`, `assigned`, …).
    pub slug: String,
}

impl EntitlementId {
    /// The entitlement `slug` of `resource`.
    pub fn new(resource: ResourceRef, slug: impl Into<String>) -> Self {
        Self {
            resource,
            slug: slug.into(),
        }
    }
}

impl fmt::Display for EntitlementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.resource.resource_type, self.resource.id, self.slug
        )
    }
}

impl FromStr for EntitlementId {
    type Err = ParseIdError;
    /// Parses `<type>:<id>:<slug>`. The id may itself contain `:`; the type is
    /// before the first colon and the slug after the last.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            ParseIdError(format!(
                "invalid entitlement id `{s}`: expected `<type>:<resource id>:<slug>`"
            ))
        };
        let (ty, rest) = s.split_once(':').ok_or_else(bad)?;
        let (id, slug) = rest.rsplit_once(':').ok_or_else(bad)?;
        if id.is_empty() || slug.is_empty() {
            return Err(bad());
        }
        Ok(Self::new(ResourceRef::new(ty.parse()?, id), slug))
    }
}

impl Serialize for EntitlementId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntitlementId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An instant in UTC, written as RFC 3339 with a `Z` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// From milliseconds since the Unix epoch (Mattermost's `create_at`).
    /// `None` for values outside the representable range.
    pub fn from_unix_millis(ms: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(Self)
    }
    /// Parses an RFC 3339 timestamp with any offset, normalised to UTC.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| Self(t.to_offset(time::UtcOffset::UTC)))
    }
    /// The current wall-clock time, from the system clock (see [`crate::clock`]).
    pub fn now() -> Self {
        Self(crate::clock::now_utc())
    }
    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }
    /// The underlying date-time.
    pub fn into_inner(self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t.to_offset(time::UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 timestamp `{s}`")))
    }
}

/// Whether an account can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// Active account.
    Enabled,
    /// Deactivated account (Mattermost `delete_at > 0`, Rocket.Chat `active == false`).
    Disabled,
}

/// A person or a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    /// A person.
    Human,
    /// A bot, app or integration account.
    Service,
}

/// Attributes only users have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTraits {
    /// Sign-in name.
    pub login: String,
    /// E-mail addresses, primary first.
    pub emails: Vec<String>,
    /// Enabled or disabled.
    pub status: UserStatus,
    /// Human or service.
    pub account_type: AccountType,
    /// When the account was created, if the platform says.
    pub created_at: Option<Timestamp>,
    /// Last sign-in, if known.
    pub last_login_at: Option<Timestamp>,
    /// Last activity, if known.
    pub last_activity_at: Option<Timestamp>,
}

/// A user, team or role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The resource's type.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// The platform's id.
    pub id: ResourceId,
    /// A human-readable name; never empty.
    pub display_name: String,
    /// The parent resource; `null` for every type today.
    pub parent: Option<ResourceRef>,
    /// Present for users only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserTraits>,
    /// Platform attributes that are not grants.
    pub profile: Profile,
}

impl Resource {
    /// A resource without user traits and with an empty profile.
    pub fn new(
        resource_type: ResourceType,
        id: impl Into<ResourceId>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            resource_type,
            id: id.into(),
            display_name: display_name.into(),
            parent: None,
            user: None,
            profile: Profile::new(),
        }
    }
    /// Adds one profile attribute.
    pub fn with_profile(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.profile.insert(key.to_owned(), value.into());
        self
    }
    /// Sets the user traits.
    pub fn with_user(mut self, user: UserTraits) -> Self {
        self.user = Some(user);
        self
    }
    /// The typed reference to this resource.
    pub fn reference(&self) -> ResourceRef {
        ResourceRef::new(self.resource_type, self.id.clone())
    }
}

/// Why an entitlement exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Membership in the resource.
    Assignment,
    /// A privilege on the resource.
    Permission,
}

/// Something a resource offers that principals can hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    /// `<type>:<id>:<slug>`.
    pub id: EntitlementId,
    /// The resource offering it.
    pub resource: ResourceRef,
    /// The slug (`member`, `admin`, …).
    pub slug: String,
    /// Assignment or permission.
    pub purpose: Purpose,
    /// Which resource types can hold it.
    pub grantable_to: Vec<ResourceType>,
}

impl Entitlement {
    /// The entitlement `slug` of `resource`, grantable to users.
    pub fn new(resource: ResourceRef, slug: &str, purpose: Purpose) -> Self {
        Self {
            id: EntitlementId::new(resource.clone(), slug),
            resource,
            slug: slug.to_owned(),
            purpose,
            grantable_to: vec![ResourceType::User],
        }
    }
}

/// A principal holding an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    /// The entitlement held.
    pub entitlement: EntitlementId,
    /// Who holds it.
    pub principal: Principal,
}

impl Grant {
    /// `principal` holds `entitlement`.
    pub fn new(entitlement: EntitlementId, principal: Principal) -> Self {
        Self {
            entitlement,
            principal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_id_round_trips() {
        let id = EntitlementId::new(ResourceRef::new(ResourceType::Team, "abc"), "admin");
        assert_eq!(id.to_string(), "team:abc:admin");
        assert_eq!("team:abc:admin".parse::<EntitlementId>().unwrap(), id);
        let odd: EntitlementId = "role:a:b:assigned".parse().unwrap();
        assert_eq!(odd.resource.id.as_str(), "a:b");
        assert_eq!(odd.slug, "assigned");
    }

    #[test]
    fn entitlement_id_rejects_garbage() {
        for bad in [
            "",
            "team",
            "team:abc",
            "team::admin",
            "team:abc:",
            "group:a:b",
        ] {
            assert!(bad.parse::<EntitlementId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_utc_with_z() {
        let t = Timestamp::from_unix_millis(1_704_164_645_000).unwrap();
        assert_eq!(t.to_string(), "2024-01-02T03:04:05Z");
        let p = Timestamp::parse_rfc3339("2024-01-02T04:04:05+01:00").unwrap();
        assert_eq!(p.to_string(), "2024-01-02T03:04:05Z");
        let ms = Timestamp::from_unix_millis(1_704_164_645_123).unwrap();
        assert_eq!(ms.to_string(), "2024-01-02T03:04:05.123Z");
    }

    #[test]
    fn user_resource_matches_contract_field_names() {
        let r = Resource::new(ResourceType::User, "u1", "Ada Lovelace").with_user(UserTraits {
            login: "ada".into(),
            emails: vec!["ada@example.com".into()],
            status: UserStatus::Enabled,
            account_type: AccountType::Human,
            created_at: Timestamp::from_unix_millis(1_704_164_645_000),
            last_login_at: None,
            last_activity_at: None,
        });
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"type":"user","id":"u1","display_name":"Ada Lovelace","parent":null,"user":{"login":"ada","emails":["ada@example.com"],"status":"enabled","account_type":"human","created_at":"2024-01-02T03:04:05Z","last_login_at":null,"last_activity_at":null},"profile":{}}"#
        );
    }
}
