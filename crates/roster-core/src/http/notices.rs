//! The client's side channels to the engine: progress events as calls go,
//! and notices (optional data that was unavailable) for the summary.

use std::sync::Arc;

use super::client::HttpClient;
use crate::progress::Progress;

impl HttpClient {
    /// Sends progress events (requests, rate-limit waits) to `progress`.
    pub fn set_progress(&self, progress: Arc<dyn Progress>) {
        *self.inner.progress.write().expect("progress lock") = progress;
    }

    pub(super) fn progress(&self) -> Arc<dyn Progress> {
        self.inner.progress.read().expect("progress lock").clone()
    }

    /// Records a notice: optional data that was unavailable (e.g. last-login
    /// enrichment). The engine adds notices to the summary's warnings
    /// without marking the snapshot incomplete. Also logged as a warning.
    pub fn note(&self, message: impl Into<String>) {
        let message = self.redact(&message.into());
        tracing::warn!(%message, "Optional data unavailable.");
        self.inner
            .notices
            .lock()
            .expect("notices lock")
            .push(message);
    }

    /// Takes the notices recorded so far.
    pub(crate) fn take_notices(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.notices.lock().expect("notices lock"))
    }
}
