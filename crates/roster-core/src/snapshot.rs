//! The lines of a `roster-snapshot/1` file and how to read them back.

use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Entitlement, Grant, Resource, Timestamp};
use crate::stats::RequestCounts;

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
#[non_exhaustive]
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

/// Builder-style setters: `ServerInfo::default()` and change what differs.
impl ServerInfo {
    /// Sets the `version` field.
    #[must_use]
    pub fn version(mut self, version: Option<String>) -> Self {
        self.version = version;
        self
    }

    /// Sets the `edition` field.
    #[must_use]
    pub fn edition(mut self, edition: Option<String>) -> Self {
        self.edition = edition;
        self
    }

    /// Sets the `licensed_seats` field.
    #[must_use]
    pub fn licensed_seats(mut self, licensed_seats: Option<u64>) -> Self {
        self.licensed_seats = licensed_seats;
        self
    }
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
///
/// Its request counters are one [`RequestCounts`], written between the
/// other keys as the contract orders them: `kind, complete, finished_at,
/// counts, requests, retries, rate_limited, warnings`, then roster's
/// extensions (`requests_by_endpoint`, `rate_limit_wait_ms`,
/// `rate_limit_waits`, any newer counter) and `elapsed_ms`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// `false` when anything was skipped or failed.
    pub complete: bool,
    /// When the sync ended.
    pub finished_at: Timestamp,
    /// Lines written per kind.
    pub counts: Counts,
    /// The sync's request counters (written flat: `requests`, `retries`,
    /// `rate_limited` and the extension counters are keys of the summary
    /// line itself).
    pub stats: RequestCounts,
    /// What was skipped or failed; non-empty when `complete` is false.
    pub warnings: Vec<String>,
    /// Wall time of the sync in milliseconds (extension).
    pub elapsed_ms: u64,
}

impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let contract = |k: &str| RequestCounts::CONTRACT_KEYS.contains(&k);
        let mut line = s.serialize_map(None)?;
        line.serialize_entry("complete", &self.complete)?;
        line.serialize_entry("finished_at", &self.finished_at)?;
        line.serialize_entry("counts", &self.counts)?;
        crate::inline::serialize_fields(&self.stats, &mut line, &contract)?;
        line.serialize_entry("warnings", &self.warnings)?;
        crate::inline::serialize_fields(&self.stats, &mut line, &|k| !contract(k))?;
        line.serialize_entry("elapsed_ms", &self.elapsed_ms)?;
        line.end()
    }
}

/// The summary line as read: the counters are keys of the line itself.
#[derive(Deserialize)]
struct SummaryLine {
    complete: bool,
    finished_at: Timestamp,
    counts: Counts,
    warnings: Vec<String>,
    #[serde(default)]
    elapsed_ms: u64,
    #[serde(flatten)]
    stats: RequestCounts,
}

impl<'de> Deserialize<'de> for Summary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let SummaryLine {
            complete,
            finished_at,
            counts,
            warnings,
            elapsed_ms,
            stats,
        } = SummaryLine::deserialize(d)?;
        Ok(Self {
            complete,
            finished_at,
            counts,
            stats,
            warnings,
            elapsed_ms,
        })
    }
}

/// A summary built outside a sync (e.g. read back from another store):
/// [`Summary::new`], then builder-style setters for what differs.
impl Summary {
    /// A summary with every counter zero and no warnings.
    pub fn new(complete: bool, finished_at: Timestamp) -> Self {
        Self {
            complete,
            finished_at,
            counts: Counts::default(),
            stats: RequestCounts::default(),
            warnings: Vec::new(),
            elapsed_ms: 0,
        }
    }

    /// Sets the `complete` field.
    #[must_use]
    pub fn complete(mut self, complete: bool) -> Self {
        self.complete = complete;
        self
    }

    /// Sets the `finished_at` field.
    #[must_use]
    pub fn finished_at(mut self, finished_at: Timestamp) -> Self {
        self.finished_at = finished_at;
        self
    }

    /// Sets the `counts` field.
    #[must_use]
    pub fn counts(mut self, counts: Counts) -> Self {
        self.counts = counts;
        self
    }

    /// Sets the `stats` field (every request counter).
    #[must_use]
    pub fn stats(mut self, stats: RequestCounts) -> Self {
        self.stats = stats;
        self
    }

    /// Sets the `warnings` field.
    #[must_use]
    pub fn warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }

    /// Sets the `elapsed_ms` field.
    #[must_use]
    pub fn elapsed_ms(mut self, elapsed_ms: u64) -> Self {
        self.elapsed_ms = elapsed_ms;
        self
    }
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
    /// The summary's `counts` differ from the lines in the file: lines were
    /// deleted, added or cut off after the sync wrote it.
    #[error(
        "the summary counts {expected} {kind} records but the file holds {found}: it was changed after the sync wrote it (records deleted, added or cut off), so it is not the snapshot the sync took"
    )]
    Counts {
        /// `resource`, `entitlement` or `grant`.
        kind: &'static str,
        /// What the summary says.
        expected: u64,
        /// What the file holds.
        found: u64,
    },
}

/// The longest line [`Snapshot::from_reader`] accepts (a resource line is a
/// few hundred bytes; this leaves room for huge profiles, not for a file
/// without line breaks).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

impl Snapshot {
    /// Parses JSON Lines text (see [`Snapshot::from_reader`] for the checks).
    pub fn from_jsonl(text: &str) -> Result<Self, ReadError> {
        Self::from_reader_with(text.as_bytes(), usize::MAX)
    }

    /// Reads JSON Lines from `reader` one line at a time (lines up to
    /// [`MAX_LINE_BYTES`]), so the file is never held in memory as text.
    ///
    /// Refuses a file whose first line is not a header, a second header (two
    /// files concatenated), a record after the summary, and a summary whose
    /// `counts` differ from the lines present (a tampered or cut file).
    pub fn from_reader<R: std::io::BufRead>(reader: R) -> Result<Self, ReadError> {
        Self::from_reader_with(reader, MAX_LINE_BYTES)
    }

    /// [`Snapshot::from_reader`] with a line-length cap of `max_line` bytes.
    pub fn from_reader_with<R: std::io::BufRead>(
        mut reader: R,
        max_line: usize,
    ) -> Result<Self, ReadError> {
        use std::io::{BufRead as _, Read as _};
        let mut snap = Snapshot::default();
        let mut buf = Vec::new();
        let limit = u64::try_from(max_line)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        for i in 1.. {
            buf.clear();
            let n = (&mut reader).take(limit).read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
            } else if buf.len() > max_line {
                return Err(ReadError::Line {
                    line: i,
                    message: format!("longer than {max_line} bytes"),
                });
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let line = std::str::from_utf8(&buf).map_err(|_| ReadError::Line {
                line: i,
                message: "not UTF-8 text".into(),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).map_err(|e| ReadError::Line {
                line: i,
                message: e.to_string(),
            })?;
            if snap.header.is_none() && !matches!(record, Record::Header(_)) {
                return Err(ReadError::Format("the first line is not a header".into()));
            }
            if snap.summary.is_some() {
                return Err(ReadError::Line {
                    line: i,
                    message: "a record follows the summary".into(),
                });
            }
            if snap.header.is_some() && matches!(record, Record::Header(_)) {
                return Err(ReadError::Line {
                    line: i,
                    message:
                        "a second header: a file holds one sync (were two files concatenated?)"
                            .into(),
                });
            }
            snap.push(record)?;
        }
        if snap.header.is_none() {
            return Err(ReadError::Format("the file is empty".into()));
        }
        snap.check_counts()?;
        Ok(snap)
    }

    /// Checks that the summary's `counts` equal the records present (a
    /// snapshot without summary has nothing to check).
    pub fn check_counts(&self) -> Result<(), ReadError> {
        let Some(summary) = &self.summary else {
            return Ok(());
        };
        let found = [
            ("resource", summary.counts.resource, self.resources.len()),
            (
                "entitlement",
                summary.counts.entitlement,
                self.entitlements.len(),
            ),
            ("grant", summary.counts.grant, self.grants.len()),
        ];
        for (kind, expected, found) in found {
            let found = found as u64;
            if expected != found {
                return Err(ReadError::Counts {
                    kind,
                    expected,
                    found,
                });
            }
        }
        Ok(())
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

    fn lines(complete: bool, grants: u64) -> Vec<String> {
        vec![
            serde_json::to_string(&Record::Header(Header::new("mattermost", "https://x"))).unwrap(),
            r#"{"kind":"grant","entitlement":"team:t:member","principal":{"type":"user","id":"u"}}"#.into(),
            format!(
                r#"{{"kind":"summary","complete":{complete},"finished_at":"2026-01-01T00:00:00Z","counts":{{"resource":0,"entitlement":0,"grant":{grants}}},"requests":0,"retries":0,"rate_limited":0,"warnings":[]}}"#
            ),
        ]
    }

    #[test]
    fn counts_must_match_the_lines() {
        assert!(Snapshot::from_jsonl(&lines(true, 1).join("\n")).is_ok());
        let err = Snapshot::from_jsonl(&lines(true, 2).join("\n")).unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::Counts {
                    kind: "grant",
                    expected: 2,
                    found: 1
                }
            ),
            "{err}"
        );
        assert!(Snapshot::from_jsonl(&lines(false, 0).join("\n")).is_err());
    }

    #[test]
    fn a_second_header_is_refused() {
        let mut l = lines(true, 1);
        l.insert(1, l[0].clone());
        let err = Snapshot::from_jsonl(&l.join("\n")).unwrap_err();
        assert!(err.to_string().contains("line 2: "), "{err}");
        assert!(err.to_string().contains("second header"), "{err}");
    }

    #[test]
    fn reader_caps_lines_and_accepts_crlf() {
        let text = lines(true, 1).join("\r\n");
        let snap = Snapshot::from_reader(text.as_bytes()).unwrap();
        assert!(snap.is_complete());
        let err = Snapshot::from_reader_with(text.as_bytes(), 40).unwrap_err();
        assert!(err.to_string().contains("longer than 40 bytes"), "{err}");
        let err = Snapshot::from_reader(&b"\xff\xfe\n"[..]).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
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

    /// A summary with every field set (every counter non-zero, two
    /// endpoints, a warning).
    fn full_summary() -> Summary {
        Summary::new(
            false,
            Timestamp::parse_rfc3339("2026-11-24T10:05:00.123Z").unwrap(),
        )
        .counts(Counts {
            resource: 12,
            entitlement: 30,
            grant: 41,
        })
        .stats(RequestCounts {
            requests: 57,
            retries: 3,
            rate_limited: 2,
            requests_by_endpoint: [
                ("GET /api/v4/users".to_owned(), 40),
                ("GET /api/v4/teams".to_owned(), 17),
            ]
            .into(),
            rate_limit_wait_ms: 1234,
            rate_limit_waits: 5,
        })
        .warnings(vec!["team `t1`: members lost".into(), "notice: x".into()])
        .elapsed_ms(98765)
    }

    /// The summary line is the contract's: these exact bytes (keys, their
    /// order, number formats) are pinned.
    const FULL_SUMMARY_LINE: &str = r#"{"kind":"summary","complete":false,"finished_at":"2026-11-24T10:05:00.123Z","counts":{"resource":12,"entitlement":30,"grant":41},"requests":57,"retries":3,"rate_limited":2,"warnings":["team `t1`: members lost","notice: x"],"requests_by_endpoint":{"GET /api/v4/teams":17,"GET /api/v4/users":40},"rate_limit_wait_ms":1234,"rate_limit_waits":5,"elapsed_ms":98765}"#;

    #[test]
    fn summary_line_is_pinned() {
        let line = serde_json::to_string(&Record::Summary(full_summary())).unwrap();
        assert_eq!(line, FULL_SUMMARY_LINE);
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, Record::Summary(full_summary()));
        // Without endpoints the key is left out; the other counters stay.
        let quiet = Summary::new(
            true,
            Timestamp::parse_rfc3339("2026-11-24T10:05:00Z").unwrap(),
        );
        assert_eq!(
            serde_json::to_string(&Record::Summary(quiet.clone())).unwrap(),
            r#"{"kind":"summary","complete":true,"finished_at":"2026-11-24T10:05:00Z","counts":{"resource":0,"entitlement":0,"grant":0},"requests":0,"retries":0,"rate_limited":0,"warnings":[],"rate_limit_wait_ms":0,"rate_limit_waits":0,"elapsed_ms":0}"#
        );
        // A summary read alone (not as a record) has no `kind`.
        let alone = serde_json::to_string(&quiet).unwrap();
        assert!(alone.starts_with(r#"{"complete":true,"#), "{alone}");
        assert_eq!(serde_json::from_str::<Summary>(&alone).unwrap(), quiet);
    }

    #[test]
    fn old_summaries_still_load() {
        // The contract's keys only (no extensions), and unknown keys.
        let old = r#"{"kind":"summary","complete":true,"finished_at":"2026-01-01T00:00:00Z","counts":{"resource":0,"entitlement":0,"grant":0},"requests":57,"retries":3,"rate_limited":1,"warnings":[],"future":{"x":1}}"#;
        let Record::Summary(s) = serde_json::from_str(old).unwrap() else {
            panic!("not a summary")
        };
        let want = Summary::new(
            true,
            Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap(),
        )
        .stats(RequestCounts {
            requests: 57,
            retries: 3,
            rate_limited: 1,
            ..RequestCounts::default()
        });
        assert_eq!(s, want);
        // The contract's counters stay required.
        let missing = old.replace(r#""requests":57,"#, "");
        let err = serde_json::from_str::<Record>(&missing).unwrap_err();
        assert!(err.to_string().contains("requests"), "{err}");
    }

    #[test]
    fn rejects_files_without_header() {
        let err = Snapshot::from_jsonl(r#"{"kind":"grant","entitlement":"team:t:member","principal":{"type":"user","id":"u"}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }
}
