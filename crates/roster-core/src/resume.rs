//! Resuming an interrupted sync from what its partial file already holds.
//!
//! A file sink writes `<out>.partial` and, each time every grant of a
//! resource has been written, appends that resource to `<out>.checkpoint`
//! (after flushing the data). A later run reads both: finished resources
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

impl ResumeState {
    /// Reads a partial JSON Lines file and its checkpoint list. A last line
    /// cut short by the interruption is ignored (the caller truncates it).
    pub fn parse(partial: &str, checkpoint: &str) -> Result<Self, ReadError> {
        let complete_text = match partial.rfind('\n') {
            Some(end) => &partial[..=end],
            None => "",
        };
        let mut state = ResumeState::default();
        for line in checkpoint.lines() {
            let Some((ty, id)) = line.trim().split_once(':') else {
                continue;
            };
            if let Ok(ty) = ty.parse::<ResourceType>() {
                state.finished.insert(ResourceRef::new(ty, id));
            }
        }
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
        let state = ResumeState::parse(partial, "team:t1\n").unwrap();
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
