//! Validates a Mattermost server and syncs it: `roster-snapshot/1` JSON Lines
//! on stdout, the validation report and a one-line summary on stderr.
//!
//! Run with
//!
//! ```text
//! BATON_BASE_URL=https://chat.example.com BATON_API_TOKEN=<token> \
//!     cargo run --example mattermost_sync > snapshot.jsonl
//! ```
//!
//! or, without a server, against the in-process simulator (a small org):
//!
//! ```text
//! cargo run --example mattermost_sync -- --sim > snapshot.jsonl
//! ```
//!
//! Exit codes: 0 complete snapshot; 1 incomplete snapshot (`complete:false`,
//! the summary says what is missing); 2 error (configuration, connection,
//! writing); 3 validation failed (e.g. the token is not a System Admin).

use std::process::ExitCode;

use roster::mattermost::{MattermostConfig, MattermostConnector};
use roster::{Connector, JsonlSink, SyncEngine, SyncOptions};
use roster_sim::mattermost::{MattermostSim, OrgSpec};
use secrecy::SecretString;

#[tokio::main]
async fn main() -> ExitCode {
    let use_sim = std::env::args().skip(1).any(|a| a == "--sim");
    // Keeps the simulator running for the whole sync.
    let mut _server = None;
    let config = if use_sim {
        let sim = MattermostSim::new(OrgSpec::small());
        let server = sim.spawn().await;
        let config = MattermostConfig::new(
            server.base_url(),
            SecretString::from(MattermostSim::ADMIN_TOKEN),
        );
        _server = Some(server);
        Ok::<_, String>(config)
    } else {
        // Reading the environment is the application's business; the
        // library only takes values.
        env("BATON_BASE_URL").and_then(|url| {
            let token = env("BATON_API_TOKEN")?;
            Ok(MattermostConfig::new(url, SecretString::from(token)))
        })
    };
    let connector =
        match config.and_then(|c| MattermostConnector::new(c).map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };

    let report = match connector.validate().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("{report}");
    if !report.sync_possible() {
        return ExitCode::from(3);
    }

    // Validation just ran; the engine need not repeat it.
    let options = SyncOptions::default().validate(false);
    let mut sink = JsonlSink::stdout();
    let summary = match SyncEngine::new(options).run(&connector, &mut sink).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let c = summary.counts;
    eprintln!(
        "mattermost {}: {} resources, {} entitlements, {} grants; {} requests ({} retries, {} rate limited) in {:.1} s{}",
        if summary.complete {
            "complete"
        } else {
            "INCOMPLETE"
        },
        c.resource,
        c.entitlement,
        c.grant,
        summary.stats.requests,
        summary.stats.retries,
        summary.stats.rate_limited,
        summary.elapsed_ms as f64 / 1000.0,
        if summary.warnings.is_empty() {
            String::new()
        } else {
            format!("; warnings: {}", summary.warnings.join(" | "))
        }
    );
    if summary.complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The value of environment variable `name`, trimmed and non-empty.
fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("the environment variable {name} is not set"))
}
