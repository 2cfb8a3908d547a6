//! Syncs a Rocket.Chat workspace: validates the token (permissions, rate
//! limit, plan), then writes the `roster-snapshot/1` JSON Lines to stdout and
//! a one-line summary to stderr. Exits 3 when validation fails and 5 when the
//! snapshot is incomplete.
//!
//! Run with:
//!
//! ```text
//! # A real server (a bot token holding api-bypass-rate-limit, view-all-teams
//! # and view-full-other-user-info is fastest; the default pacing, auto,
//! # then needs no client quota):
//! BATON_ROCKETCHAT_BASE_URL=https://chat.example.com \
//! BATON_ROCKETCHAT_USER_ID=<user _id> \
//! BATON_ROCKETCHAT_AUTH_TOKEN=<personal access token> \
//!     cargo run --example rocketchat_sync > rocketchat.jsonl
//!
//! # The in-process simulator (small org, its limit shortened to 10 calls
//! # per 1 s per endpoint, a limited admin token):
//! cargo run --example rocketchat_sync -- --sim > rocketchat.jsonl
//! ```
//!
//! Flags: `--sim`, `--infinite-count` (count=0: one request per listing),
//! `--no-quota` (`--rate-limit off`: no client-side quota; the server's
//! headers still pace). Without it the pacing is auto (the default).

use std::process::ExitCode;
use std::time::Duration;

use roster::rocketchat::{RocketChatConfig, RocketChatConnector};
use roster::{Connector, JsonlSink, SyncEngine, SyncOptions};
use roster_sim::rocketchat::{FixedWindow, OrgSpec, RocketChatSim, SimOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if let Some(unknown) = args
        .iter()
        .find(|a| !["--sim", "--infinite-count", "--no-quota"].contains(&a.as_str()))
    {
        eprintln!("unknown argument `{unknown}`; flags: --sim, --infinite-count, --no-quota");
        return ExitCode::from(2);
    }

    // Keeps the simulator alive for the whole sync.
    let mut _server = None;
    let config = if flag("--sim") {
        let window = Duration::from_secs(1);
        let mut options = SimOptions::default();
        options.rate_limit = Some(FixedWindow { calls: 10, window });
        // An admin whose api-bypass-rate-limit was revoked: limited.
        options.admin_bypasses_rate_limit = false;
        let sim = RocketChatSim::with_options(OrgSpec::small(), options);
        let server = sim.spawn().await;
        let creds = sim.admin();
        eprintln!(
            "simulator at {} (rate limit shortened to 10 calls per 1 s per endpoint)",
            server.base_url()
        );
        // Auto pacing adopts the server's 10 per 1 s from its headers.
        let config = RocketChatConfig::new(server.base_url(), creds.user_id, creds.token.into());
        _server = Some((sim, server));
        config
    } else {
        // Reading the environment is the application's business; the
        // library only takes values.
        let vars = [
            "BATON_ROCKETCHAT_BASE_URL",
            "BATON_ROCKETCHAT_USER_ID",
            "BATON_ROCKETCHAT_AUTH_TOKEN",
        ];
        match vars.map(env) {
            [Ok(url), Ok(user_id), Ok(token)] => RocketChatConfig::new(url, user_id, token.into()),
            [Err(e), ..] | [_, Err(e), _] | [.., Err(e)] => {
                eprintln!("error: {e} (or pass --sim to use the in-process simulator)");
                return ExitCode::from(2);
            }
        }
    };
    let mut config = config.infinite_count(flag("--infinite-count"));
    if flag("--no-quota") {
        config = config.rate_limit(None);
    }
    let connector = match RocketChatConnector::new(config) {
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
            return ExitCode::from(4);
        }
    };
    eprintln!("{report}");
    if !report.sync_possible() {
        return ExitCode::from(3);
    }

    let engine = SyncEngine::new(SyncOptions::default().validate(false));
    let mut sink = JsonlSink::stdout();
    match engine.run(&connector, &mut sink).await {
        Ok(s) => {
            eprintln!(
                "{}: {} resources, {} entitlements, {} grants; {} requests, {} retries, {} rate limited, {:.1} s waiting for rate limits, {:.1} s{}",
                if s.complete { "complete" } else { "INCOMPLETE" },
                s.counts.resource,
                s.counts.entitlement,
                s.counts.grant,
                s.stats.requests,
                s.stats.retries,
                s.stats.rate_limited,
                s.stats.rate_limit_wait_ms as f64 / 1000.0,
                s.elapsed_ms as f64 / 1000.0,
                if s.warnings.is_empty() {
                    String::new()
                } else {
                    format!("; warnings: {}", s.warnings.join(" | "))
                }
            );
            if s.complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(5)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(5)
        }
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
