//! Resuming an interrupted sync from what its partial file already holds.
//!
//! A file sink writes `<out>.partial` and, each time every grant of a
//! resource has been written, appends that resource to `<out>.checkpoint`
//! (after flushing the data) as one JSON line, `{"type":"team","id":"…"}`,
//! so an id holding a newline or a colon cannot split or forge an entry. A later run reads both: finished resources
//! are not read again, everything already written is deduped, and the file
//! is completed and renamed as if the sync had never stopped.

use std::collections::HashSet;

use crate::model::{Grant, ResourceId, ResourceRef, ResourceType};
use crate::snapshot::{Counts, Header, ReadError, Record, Snapshot};

/// What an interrupted sync had already written.
#[derive(Debug, Clone, Default)]
pub struct ResumeState {
    pub(crate) header: Option<Header>,
    pub(crate) counts: Counts,
    pub(crate) resources: HashSet<(ResourceType, ResourceId)>,
    pub(crate) entitlements: HashSet<String>,
    /// Grants not covered by a finished resource (those may be written again).
    pub(crate) grants: HashSet<Grant>,
    pub(crate) finished: HashSet<ResourceRef>,
}

/// One checkpoint line: the resource whose grants were all written.
pub(crate) fn checkpoint_line(done: &ResourceRef) -> String {
    let mut line = serde_json::to_string(done).unwrap_or_default();
    line.push('\n');
    line
}

/// Reads a checkpoint list: one JSON [`ResourceRef`] per line. A last line
/// without its newline was cut by the interruption and is ignored (that
/// resource is read again). Lines in the format of earlier versions
/// (`team:<id>`) are read too.
fn parse_checkpoints(text: &str) -> Result<HashSet<ResourceRef>, ReadError> {
    let mut finished = HashSet::new();
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    for (i, line) in whole.split('\n').enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: String| {
            ReadError::Format(format!(
                "checkpoint line {}: {why}; delete the .checkpoint file to read every resource again",
                i + 1
            ))
        };
        let done = if line.starts_with('{') {
            let r: ResourceRef = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            r
        } else {
            let (ty, id) = line
                .split_once(':')
                .ok_or_else(|| bad("not a JSON resource reference".into()))?;
            let ty = ty.parse::<ResourceType>().map_err(|e| bad(e.to_string()))?;
            ResourceRef::new(ty, id)
        };
        if done.id.as_str().is_empty() {
            return Err(bad("empty id".into()));
        }
        finished.insert(done);
    }
    Ok(finished)
}

impl ResumeState {
    /// Reads a partial JSON Lines file and its checkpoint list. A last line
    /// cut short by the interruption is ignored (the caller truncates it).
    pub fn parse(partial: &str, checkpoint: &str) -> Result<Self, ReadError> {
        let complete_text = match partial.rfind('\n') {
            Some(end) => &partial[..=end],
            None => "",
        };
        let mut state = ResumeState {
            finished: parse_checkpoints(checkpoint)?,
            ..ResumeState::default()
        };
        if complete_text.trim().is_empty() {
            return Ok(state);
        }
        let snapshot = Snapshot::from_jsonl(complete_text)?;
        if snapshot.summary.is_some() {
            return Err(ReadError::Format(
                "the partial file already ends with a summary; nothing to resume".into(),
            ));
        }
        state.header = snapshot.header;
        state.counts = Counts {
            resource: snapshot.resources.len() as u64,
            entitlement: snapshot.entitlements.len() as u64,
            grant: snapshot.grants.len() as u64,
        };
        state.resources = snapshot
            .resources
            .into_iter()
            .map(|r| (r.resource_type, r.id))
            .collect();
        state.entitlements = snapshot
            .entitlements
            .into_iter()
            .map(|e| e.id.to_string())
            .collect();
        state.grants = snapshot
            .grants
            .into_iter()
            .filter(|g| !state.finished.contains(&g.entitlement.resource))
            .collect();
        Ok(state)
    }

    /// The header of the interrupted sync, if it got that far.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// Lines already written.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Resources whose grants were all written.
    pub fn finished(&self) -> usize {
        self.finished.len()
    }

    pub(crate) fn is_written(&self, record: &Record) -> bool {
        match record {
            Record::Resource(r) => self.resources.contains(&(r.resource_type, r.id.clone())),
            Record::Entitlement(e) => self.entitlements.contains(&e.id.to_string()),
            Record::Grant(g) => self.grants.contains(g),
            Record::Header(_) | Record::Summary(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_a_cut_last_line_and_known_finished_grants() {
        let partial = concat!(
            r#"{"kind":"header","format":"roster-snapshot/1","connector":"mattermost","source":"https://x","started_at":"2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"kind":"grant","entitlement":"team:t1:member","principal":{"type":"user","id":"u1"}}"#,
            "\n",
            r#"{"kind":"grant","entitlement":"team:t2:member","principal":{"type":"user","id":"u1"}}"#,
            "\n",
            r#"{"kind":"grant","entitlement":"team:t2:mem"#
        );
        let state = ResumeState::parse(partial, "{\"type\":\"team\",\"id\":\"t1\"}\n").unwrap();
        assert_eq!(state.counts().grant, 2);
        assert_eq!(state.finished(), 1);
        assert_eq!(
            state.grants.len(),
            1,
            "t1 is finished: its grants need no dedupe"
        );
        assert!(state.header().is_some());
    }

    #[test]
    fn checkpoint_ids_with_newlines_and_colons_round_trip() {
        let tricky = ResourceRef::new(ResourceType::Team, "victim\nteam:other");
        let plain = ResourceRef::new(ResourceType::Team, "t:1");
        let text = format!("{}{}", checkpoint_line(&tricky), checkpoint_line(&plain));
        assert_eq!(text.lines().count(), 2, "one line per entry: {text:?}");
        let done = parse_checkpoints(&text).unwrap();
        assert_eq!(done, HashSet::from([tricky, plain]));
        assert!(
            !done.contains(&ResourceRef::new(ResourceType::Team, "other")),
            "no entry can be forged by an id"
        );
    }

    #[test]
    fn checkpoint_cut_last_line_is_ignored_and_old_format_still_reads() {
        let done = parse_checkpoints("team:t1\n{\"type\":\"team\",\"id\":\"t2\"}\n{\"type\":\"te")
            .unwrap();
        assert_eq!(
            done,
            HashSet::from([
                ResourceRef::new(ResourceType::Team, "t1"),
                ResourceRef::new(ResourceType::Team, "t2"),
            ])
        );
        let err = parse_checkpoints("{garbage\n").unwrap_err().to_string();
        assert!(err.contains("checkpoint line 1"), "{err}");
    }

    #[test]
    fn refuses_a_finished_file() {
        let text = concat!(
            r#"{"kind":"header","format":"roster-snapshot/1","connector":"mattermost","source":"https://x","started_at":"2026-01-01T00:00:00Z"}"#,
            "\n",
            r#"{"kind":"summary","complete":true,"finished_at":"2026-01-01T00:00:00Z","counts":{"resource":0,"entitlement":0,"grant":0},"requests":0,"retries":0,"rate_limited":0,"warnings":[]}"#,
            "\n"
        );
        assert!(ResumeState::parse(text, "").is_err());
    }
}
