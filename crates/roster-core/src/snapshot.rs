//! The lines of a `roster-snapshot/1` file and how to read them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Entitlement, Grant, Resource, Timestamp};

/// The format tag written in every header.
pub const FORMAT: &str = "roster-snapshot/1";

/// The first line of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// `mattermost` or `rocketchat`.
    pub connector: String,
    /// The base URL, without credentials or query.
    pub source: String,
    /// When the sync started.
    pub started_at: Timestamp,
    /// What the server reported about itself (optional; absent in
    /// snapshots written before it existed or when the server said nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerInfo>,
}

/// What a server reports about itself: version, edition and licensed seats.
/// Each field is `None` when the server did not report it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Server version, e.g. `10.5.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Edition or licence SKU, e.g. `enterprise`, `professional`, or
    /// `unlicensed` when the server says it holds no licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
    /// Seats (users) the licence allows; `None` when unlimited or not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licensed_seats: Option<u64>,
}

impl ServerInfo {
    /// True when no field is known.
    pub fn is_empty(&self) -> bool {
        self.version.is_none() && self.edition.is_none() && self.licensed_seats.is_none()
    }
}

impl Header {
    /// A header for `connector` reading `source`, started now.
    pub fn new(connector: &str, source: &str) -> Self {
        Self {
            format: FORMAT.to_owned(),
            connector: connector.to_owned(),
            source: source.to_owned(),
            started_at: Timestamp::now(),
            server: None,
        }
    }
}

/// Lines written per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `resource` lines.
    pub resource: u64,
    /// `entitlement` lines.
    pub entitlement: u64,
    /// `grant` lines.
    pub grant: u64,
}

/// The last line of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// `false` when anything was skipped or failed.
    pub complete: bool,
    /// When the sync ended.
    pub finished_at: Timestamp,
    /// Lines written per kind.
    pub counts: Counts,
    /// HTTP requests sent.
    pub requests: u64,
    /// Requests that repeated an earlier one.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// What was skipped or failed; non-empty when `complete` is false.
    pub warnings: Vec<String>,
    /// Requests per endpoint bucket (extension of the contract; optional).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests_by_endpoint: BTreeMap<String, u64>,
    /// Total time spent waiting for rate limits, in milliseconds, summed
    /// over calls waiting at the same time (extension).
    #[serde(default)]
    pub rate_limit_wait_ms: u64,
    /// Calls that waited for a rate limit (extension).
    #[serde(default)]
    pub rate_limit_waits: u64,
    /// Wall time of the sync in milliseconds (extension).
    #[serde(default)]
    pub elapsed_ms: u64,
}

/// One line of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// The first line.
    Header(Header),
    /// A user, team or role.
    Resource(Resource),
    /// An entitlement a resource offers.
    Entitlement(Entitlement),
    /// A principal holding an entitlement.
    Grant(Grant),
    /// The last line.
    Summary(Summary),
}

impl Record {
    /// The contract's `kind` value.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Header(_) => "header",
            Record::Resource(_) => "resource",
            Record::Entitlement(_) => "entitlement",
            Record::Grant(_) => "grant",
            Record::Summary(_) => "summary",
        }
    }
}

/// A snapshot read back into memory (for diffing, reports and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The header, if present.
    pub header: Option<Header>,
    /// Resources in file order.
    pub resources: Vec<Resource>,
    /// Entitlements in file order.
    pub entitlements: Vec<Entitlement>,
    /// Grants in file order.
    pub grants: Vec<Grant>,
    /// The summary; `None` means the sync died and the file is incomplete.
    pub summary: Option<Summary>,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a valid snapshot record.
    #[error("line {line}: not a roster-snapshot/1 record: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// The first line is not a header, or names another format.
    #[error("not a roster-snapshot/1 file: {0}")]
    Format(String),
}

impl Snapshot {
    /// Parses JSON Lines text.
    pub fn from_jsonl(text: &str) -> Result<Self, ReadError> {
        let mut snap = Snapshot::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).map_err(|e| ReadError::Line {
                line: i + 1,
                message: e.to_string(),
            })?;
            if snap.header.is_none() && !matches!(record, Record::Header(_)) {
                return Err(ReadError::Format("the first line is not a header".into()));
            }
            if snap.summary.is_some() {
                return Err(ReadError::Line {
                    line: i + 1,
                    message: "a record follows the summary".into(),
                });
            }
            snap.push(record)?;
        }
        if snap.header.is_none() {
            return Err(ReadError::Format("the file is empty".into()));
        }
        Ok(snap)
    }

    /// Adds one record.
    pub fn push(&mut self, record: Record) -> Result<(), ReadError> {
        match record {
            Record::Header(h) => {
                if h.format != FORMAT {
                    return Err(ReadError::Format(format!(
                        "format `{}` is not `{FORMAT}`",
                        h.format
                    )));
                }
                self.header = Some(h);
            }
            Record::Resource(r) => self.resources.push(r),
            Record::Entitlement(e) => self.entitlements.push(e),
            Record::Grant(g) => self.grants.push(g),
            Record::Summary(s) => self.summary = Some(s),
        }
        Ok(())
    }

    /// True only when a summary exists and says `complete: true`.
    pub fn is_complete(&self) -> bool {
        self.summary.as_ref().is_some_and(|s| s.complete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    #[test]
    fn records_carry_kind_first() {
        let g = Record::Grant(Grant::new(
            "team:t1:admin".parse().unwrap(),
            ResourceRef::user("u1"),
        ));
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"kind":"grant","entitlement":"team:t1:admin","principal":{"type":"user","id":"u1"}}"#
        );
        let e = Record::Entitlement(Entitlement::new(
            ResourceRef::new(ResourceType::Team, "t1"),
            "member",
            Purpose::Assignment,
        ));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"kind":"entitlement","id":"team:t1:member","resource":{"type":"team","id":"t1"},"slug":"member","purpose":"assignment","grantable_to":["user"]}"#
        );
    }

    #[test]
    fn reads_back_what_it_writes() {
        let header = Header::new("mattermost", "https://chat.example.com");
        let text = format!(
            "{}\n{}\n",
            serde_json::to_string(&Record::Header(header.clone())).unwrap(),
            r#"{"kind":"resource","type":"team","id":"t1","display_name":"T","parent":null,"profile":{"archived":false}}"#
        );
        let snap = Snapshot::from_jsonl(&text).unwrap();
        assert_eq!(snap.header, Some(header));
        assert_eq!(snap.resources.len(), 1);
        assert!(!snap.is_complete(), "no summary means incomplete");
    }

    #[test]
    fn server_info_is_optional_in_the_header() {
        // Written before `server` existed: still loads, with no server info.
        let old = r#"{"kind":"header","format":"roster-snapshot/1","connector":"mattermost","source":"https://x","started_at":"2026-11-24T10:00:00Z"}"#;
        let snap = Snapshot::from_jsonl(old).unwrap();
        assert_eq!(snap.header.unwrap().server, None);
        // Without server info nothing is written; with it, only known keys.
        let mut header = Header::new("rocketchat", "https://rc");
        assert!(!serde_json::to_string(&header).unwrap().contains("server"));
        header.server = Some(ServerInfo {
            version: Some("7.4.0".into()),
            edition: None,
            licensed_seats: Some(80),
        });
        let line = serde_json::to_string(&Record::Header(header.clone())).unwrap();
        assert!(
            line.ends_with(r#""server":{"version":"7.4.0","licensed_seats":80}}"#),
            "{line}"
        );
        let back = Snapshot::from_jsonl(&line).unwrap();
        assert_eq!(back.header, Some(header));
        // Unknown keys (from a newer roster) are ignored.
        let newer = old.replace("}", r#","server":{"version":"1","future":true}}"#);
        let snap = Snapshot::from_jsonl(&newer).unwrap();
        assert_eq!(
            snap.header.unwrap().server.unwrap().version.as_deref(),
            Some("1")
        );
    }

    #[test]
    fn rejects_files_without_header() {
        let err = Snapshot::from_jsonl(r#"{"kind":"grant","entitlement":"team:t:member","principal":{"type":"user","id":"u"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }
}
