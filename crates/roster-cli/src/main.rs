//! # roster
//!
//! The `roster` command line: `sync` and `validate` a Mattermost or
//! Rocket.Chat platform, `demo` against in-process simulators, `diff` two
//! snapshots and `report` on them (licenses, access-review, offboarding,
//! dormant).
//!
//! ## Brief overview
//!
//! * [`cli`]: the clap definitions (flags, environment variables, help).
//! * [`sync`]: connector construction, validation, the engine run into a
//!   sink (stdout, [`roster_core::JsonlFile`] or [`sqlite::SqliteSink`]).
//! * [`progress`]: the event tracker and indicatif display on stderr.
//! * [`sqlite`]: the SQLite snapshot sink and reader.
//! * [`load`], [`diff`], [`report`]: reading snapshots back and what is
//!   computed from them.
//! * `demo`: both simulators, synced end to end (the `demo` feature, on by
//!   default; without it `roster demo` says how to get it and exits 2).
//! * [`exit`]: exit codes and the `error:` / `hint:` report.
//! * [`escape`]: the one escaping rule for terminal, CSV and HTML output.
//!
//! stdout carries only data (snapshots, reports, diffs); everything for
//! people (progress, summaries, errors) goes to stderr.

mod cli;
#[cfg(feature = "demo")]
mod demo;
mod diff;
mod escape;
mod exit;
mod load;
mod progress;
mod report;
mod sqlite;
mod sync;
mod token;
mod util;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, SyncPlatform, TextJson, ValidatePlatform};
use crate::sync::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines and progress bars would garble each other on stderr.
    let logging = init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let result = runtime.block_on(run(cli, logging));
    // Do not wait for stray blocking tasks (e.g. a stdin read) at exit.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => exit::report(&err),
    }
}

/// Sends tracing to stderr for `-v`/`-vv` or `RUST_LOG`; true when logging is on.
fn init_tracing(verbose: u8) -> bool {
    use tracing_subscriber::EnvFilter;
    let filter = match (verbose, std::env::var("RUST_LOG")) {
        (0, Err(_)) => return false,
        (0, Ok(_)) => EnvFilter::from_default_env(),
        (1, _) => EnvFilter::new(
            "warn,roster=debug,roster_core=debug,roster_mattermost=debug,roster_rocketchat=debug",
        ),
        _ => EnvFilter::new(
            "info,roster=trace,roster_core=trace,roster_mattermost=trace,roster_rocketchat=trace",
        ),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose > 1)
        .try_init()
        .is_ok()
}

/// Runs the command; `verbose` (logging is on) turns the progress bars off.
async fn run(cli: Cli, verbose: bool) -> anyhow::Result<u8> {
    match cli.command {
        Command::Sync { platform } => match platform {
            SyncPlatform::Mattermost { conn, out } => {
                sync::sync(&Target::Mattermost(conn), &out, verbose).await
            }
            SyncPlatform::Rocketchat { conn, out } => {
                sync::sync(&Target::RocketChat(conn), &out, verbose).await
            }
        },
        Command::Validate { platform } => match platform {
            ValidatePlatform::Mattermost { conn, format } => {
                sync::validate(&Target::Mattermost(conn), format).await
            }
            ValidatePlatform::Rocketchat { conn, format } => {
                sync::validate(&Target::RocketChat(conn), format).await
            }
        },
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::demo(&args, verbose).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo(args) => {
            let cli::DemoArgs { .. } = args;
            Err(demo_unavailable().into())
        }
        Command::Diff(args) => diff_cmd(&args),
        Command::Report { report } => report::run(&report),
    }
}

/// `roster demo` in a binary built without the simulators (`demo` feature off).
#[cfg_attr(feature = "demo", allow(dead_code))]
fn demo_unavailable() -> exit::Failure {
    exit::Failure::usage("this roster was built without the demo (the `demo` feature is off)")
        .hint("build roster with `--features demo` (on by default) to run the simulators")
}

fn diff_cmd(args: &cli::DiffArgs) -> anyhow::Result<u8> {
    if args.old.as_os_str() == "-" && args.new.as_os_str() == "-" {
        return Err(
            exit::Failure::usage("OLD and NEW cannot both be `-` (stdin)")
                .hint("pass at least one of them as a file path")
                .into(),
        );
    }
    let old = load::load(&args.old)?;
    let new = load::load(&args.new)?;
    load::require_complete(&args.old, &old, args.allow_incomplete)?;
    load::require_complete(&args.new, &new, args.allow_incomplete)?;
    if let (Some(a), Some(b)) = (&old.header, &new.header)
        && (a.connector != b.connector || a.source != b.source)
    {
        eprintln!(
            "warning: comparing snapshots of different sources: {} {} vs {} {}",
            escape::term(&a.connector),
            escape::term(&a.source),
            escape::term(&b.connector),
            escape::term(&b.source)
        );
    }
    let d = diff::Diff::new(&old, &new);
    let code = if d.is_empty() {
        exit::OK
    } else {
        exit::DIFFERENT
    };
    match write_diff(&d, &old, &new, args.format) {
        // The reader went away (`roster diff … | head`): the answer stands.
        Err(e) if exit::is_broken_pipe(&e) => Ok(code),
        Err(e) => Err(e),
        Ok(()) => Ok(code),
    }
}

fn write_diff(
    d: &diff::Diff<'_>,
    old: &roster_core::Snapshot,
    new: &roster_core::Snapshot,
    format: TextJson,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        TextJson::Text => {
            d.write_text(&mut out)?;
            out.flush()?;
            if d.is_empty() {
                eprintln!("roster: the snapshots are equal");
            } else {
                eprintln!("roster: {}", d.tally());
            }
        }
        TextJson::Json => {
            serde_json::to_writer_pretty(&mut out, &d.to_json(old, new))?;
            writeln!(out)?;
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Without the `demo` feature, `roster demo` is a usage error (exit 2)
    /// that says which feature to build with.
    #[test]
    fn demo_unavailable_is_a_usage_error_naming_the_feature() {
        let failure = super::demo_unavailable();
        assert_eq!(failure.code, super::exit::USAGE);
        assert!(failure.message.contains("`demo` feature"), "{failure:?}");
        assert!(
            failure
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("--features demo")),
            "{failure:?}"
        );
    }
}
