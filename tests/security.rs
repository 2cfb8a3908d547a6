//! Secrets stay secret: a full sync of both platforms with tracing at TRACE
//! level, faults included, never puts a token into logs, errors, `Debug`
//! output or the snapshot.

use std::io::Write;
use std::sync::{Arc, Mutex};

use roster::core::RetryPolicy;
use roster::mattermost::{MattermostConfig, MattermostConnector};
use roster::rocketchat::{RocketChatConfig, RocketChatConnector};
use roster::{Connector, JsonlFile, SyncEngine, SyncOptions};
use roster_sim::mattermost::{MattermostSim, OrgSpec as MmSpec};
use roster_sim::rocketchat::{OrgSpec as RcSpec, RocketChatSim};
use roster_sim::{Fault, FaultRule};
use secrecy::SecretString;
use std::time::Duration;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(2)
        .min_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2))
}

#[tokio::test]
async fn no_token_in_trace_logs_errors_debug_or_files() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let mut texts = Vec::new();

    // Mattermost, with faults that put error text in the logs.
    let mm = MattermostSim::new(MmSpec::small());
    let server = mm.spawn().await;
    mm.faults()
        .add(FaultRule::new("/members", Fault::ServerError(503), 2));
    mm.faults()
        .add(FaultRule::new("/members", Fault::Unauthorized, 1).after(3));
    let config = MattermostConfig::new(
        server.base_url(),
        SecretString::from(MattermostSim::ADMIN_TOKEN),
    )
    .retry(fast());
    texts.push(format!("{config:?}"));
    let conn = MattermostConnector::new(config).unwrap();
    texts.push(format!("{:?}", conn.client()));
    let path = dir.path().join("mm.jsonl");
    let mut sink = JsonlFile::create(&path).await.unwrap();
    let summary = SyncEngine::new(SyncOptions::default())
        .run(&conn, &mut sink)
        .await
        .unwrap();
    texts.push(format!("{summary:?}"));
    texts.push(std::fs::read_to_string(&path).unwrap());
    // A rejected token's error.
    let bad = MattermostConnector::new(
        MattermostConfig::new(server.base_url(), SecretString::from("mm-wrong-token-123"))
            .retry(fast()),
    )
    .unwrap();
    let report = bad
        .validate()
        .await
        .map(|r| r.to_string())
        .unwrap_or_else(|e| format!("{e} {e:?}"));
    texts.push(report.clone());
    assert!(!report.contains("mm-wrong-token-123"), "{report}");

    // Rocket.Chat.
    let rc = RocketChatSim::new(RcSpec::small());
    let server = rc.spawn().await;
    rc.faults()
        .add(FaultRule::new("teams.members", Fault::ServerError(500), 2));
    let admin = rc.admin();
    let config = RocketChatConfig::new(
        server.base_url(),
        admin.user_id.clone(),
        SecretString::from(admin.token.clone()),
    )
    .rate_limit(None)
    .retry(fast());
    texts.push(format!("{config:?}"));
    let conn = RocketChatConnector::new(config).unwrap();
    let path = dir.path().join("rc.jsonl");
    let mut sink = JsonlFile::create(&path).await.unwrap();
    let result = SyncEngine::new(SyncOptions::default())
        .run(&conn, &mut sink)
        .await;
    texts.push(format!("{result:?}"));
    texts.push(std::fs::read_to_string(&path).unwrap_or_default());

    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log_text.contains("TRACE") || log_text.contains("DEBUG"),
        "tracing captured nothing"
    );
    texts.push(log_text);
    let all = texts.join("\n");
    for secret in [MattermostSim::ADMIN_TOKEN, admin.token.as_str()] {
        assert!(!all.contains(secret), "token `{secret}` leaked");
    }
}
