//! `roster sync` and `roster validate`: building a connector from the flags,
//! validating, and running the engine into the chosen sink.

use std::io;
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use roster_core::CheckKind;
use roster_core::{
    Connector, Header, JsonlFile, JsonlSink, Record, ResourceType, ResumeState, Sink, Summary,
    SyncEngine, SyncOptions, ValidationReport,
};
use roster_mattermost::{MattermostConfig, MattermostConnector};
use roster_rocketchat::{RocketChatConfig, RocketChatConnector};
use secrecy::ExposeSecret as _;

use crate::cli::{MattermostArgs, OutputArgs, RocketChatArgs, SnapshotFormat, TextJson};
use crate::escape;
use crate::exit::{self, Failure};
use crate::progress::Tracker;
use crate::sqlite::SqliteSink;
use crate::token;
use crate::util::{human_duration, thousands};

/// A platform and its connection flags.
#[derive(Debug, Clone)]
pub enum Target {
    /// Mattermost.
    Mattermost(MattermostArgs),
    /// Rocket.Chat.
    RocketChat(RocketChatArgs),
}

impl Target {
    /// `mattermost` or `rocketchat`.
    pub fn slug(&self) -> &'static str {
        match self {
            Target::Mattermost(_) => "mattermost",
            Target::RocketChat(_) => "rocketchat",
        }
    }

    /// The connector.
    pub fn connector(&self) -> anyhow::Result<Box<dyn Connector>> {
        let validate_cmd = format!("roster validate {}", self.slug());
        let wrap = |e: roster_core::Error| Failure::from_core(&e, &validate_cmd);
        Ok(match self {
            Target::Mattermost(a) => {
                let token = token::resolve(
                    a.api_token.as_ref(),
                    a.api_token_file.as_deref(),
                    &token::MATTERMOST,
                )?;
                let mut c = MattermostConfig::new(a.base_url.clone(), token)
                    .allow_insecure_http(a.http.insecure_http)
                    .enrich(!a.no_enrich);
                if let Some(t) = a.http.timeout {
                    c = c.timeout(t);
                }
                if let Some(rl) = a.rate_limit {
                    c = c.rate_limit(rl.get());
                }
                Box::new(MattermostConnector::new(c).map_err(wrap)?)
            }
            Target::RocketChat(a) => {
                let token = token::resolve(
                    a.auth_token.as_ref(),
                    a.auth_token_file.as_deref(),
                    &token::ROCKETCHAT,
                )?;
                let mut c = RocketChatConfig::new(
                    a.base_url.clone(),
                    a.user_id.expose_secret().to_owned(),
                    token,
                )
                .allow_insecure_http(a.http.insecure_http)
                .rate_limit_mode(a.rate_limit)
                .infinite_count(a.infinite_count);
                if let Some(t) = a.http.timeout {
                    c = c.timeout(t);
                }
                Box::new(RocketChatConnector::new(c).map_err(wrap)?)
            }
        })
    }
}

/// Runs `validate()`, mapping an unreachable platform to its exit code.
pub async fn validate_report(
    connector: &dyn Connector,
    slug: &str,
) -> anyhow::Result<ValidationReport> {
    connector
        .validate()
        .await
        .map_err(|e| Failure::from_core(&e, &format!("roster validate {slug}")).into())
}

/// `roster validate <platform>`.
pub async fn validate(target: &Target, format: TextJson) -> anyhow::Result<u8> {
    let connector = target.connector()?;
    let report = validate_report(connector.as_ref(), target.slug()).await?;
    let mut out = io::stdout().lock();
    match format {
        TextJson::Text => {
            use io::Write as _;
            writeln!(out, "{}", escape::validation_report(&report))?;
        }
        TextJson::Json => {
            use io::Write as _;
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
    }
    if report.sync_possible() {
        Ok(exit::OK)
    } else {
        Err(not_possible(&report, target.slug()).into())
    }
}

fn not_possible(report: &ValidationReport, slug: &str) -> Failure {
    let message = format!(
        "a complete sync is not possible: {}",
        exit::one_line(&report.failure_summary())
    );
    if report.failures().any(|c| c.kind == CheckKind::Reachable) {
        return Failure::new(exit::CONNECTION, message).hint(format!(
            "check that the base URL is the {slug} server's own URL (including any subpath)"
        ));
    }
    let hint = if report
        .failures()
        .any(|c| c.kind == CheckKind::Authenticated)
    {
        "check the credentials: correct, not expired, not revoked, and the account active"
            .to_owned()
    } else {
        format!(
            "use a token that holds the missing permission; `roster validate {slug}` lists every check"
        )
    };
    Failure::new(exit::AUTH, message).hint(hint)
}

/// JSON Lines on stdout, remembering whether the reader went away.
#[derive(Debug)]
pub struct StdoutSink {
    inner: JsonlSink<tokio::io::Stdout>,
    broken: Arc<AtomicBool>,
}

impl StdoutSink {
    fn new() -> (Self, Arc<AtomicBool>) {
        let broken = Arc::new(AtomicBool::new(false));
        (
            Self {
                inner: JsonlSink::stdout(),
                broken: broken.clone(),
            },
            broken,
        )
    }

    fn note(&self, r: io::Result<()>) -> io::Result<()> {
        if let Err(e) = &r
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            self.broken.store(true, Ordering::Relaxed);
        }
        r
    }
}

impl Sink for StdoutSink {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        let r = self.inner.begin(header).await;
        self.note(r)
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        let r = self.inner.write(record).await;
        self.note(r)
    }
    async fn finish(&mut self, summary: &roster_core::Summary) -> io::Result<()> {
        let r = self.inner.finish(summary).await;
        self.note(r)
    }
}

#[cfg(feature = "demo")]
/// Writes every record to two sinks (the demo's JSON Lines + SQLite).
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

#[cfg(feature = "demo")]
impl<A: Sink, B: Sink> Sink for Tee<A, B> {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.0.begin(header).await.map_err(io::Error::other)?;
        self.1.begin(header).await.map_err(io::Error::other)
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        self.0.write(record).await.map_err(io::Error::other)?;
        self.1.write(record).await.map_err(io::Error::other)
    }
    async fn finish(&mut self, summary: &roster_core::Summary) -> io::Result<()> {
        self.0.finish(summary).await.map_err(io::Error::other)?;
        self.1.finish(summary).await.map_err(io::Error::other)
    }
}

/// Completes on Ctrl-C (never, when signals are unavailable).
pub async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(feature = "demo")]
/// Runs the engine (validation already done) into `sink`.
pub async fn drive<S: Sink>(
    connector: &dyn Connector,
    sink: &mut S,
    concurrency: usize,
    tracker: Arc<Tracker>,
    resume: Option<&ResumeState>,
) -> roster_core::Result<Summary> {
    drive_until(connector, sink, concurrency, tracker, resume, None).await
}

/// Like [`drive`], ending the sync (`complete: false`) after `deadline`.
pub async fn drive_until<S: Sink>(
    connector: &dyn Connector,
    sink: &mut S,
    concurrency: usize,
    tracker: Arc<Tracker>,
    resume: Option<&ResumeState>,
    deadline: Option<std::time::Duration>,
) -> roster_core::Result<Summary> {
    let engine = SyncEngine::new(
        SyncOptions::default()
            .concurrency(concurrency)
            .validate(false)
            .max_warnings(50)
            .deadline(deadline),
    )
    .with_progress(tracker.clone());
    let result = engine
        .run_with(connector, sink, interrupted(), resume)
        .await;
    tracker.finish();
    result
}

fn infer_format(out: Option<&Path>, format: Option<SnapshotFormat>) -> SnapshotFormat {
    if let Some(f) = format {
        return f;
    }
    let ext = out
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("db" | "sqlite" | "sqlite3") => SnapshotFormat::Sqlite,
        _ => SnapshotFormat::Jsonl,
    }
}

/// `roster sync <platform>`.
///
/// Everything that can be checked locally (output path, format, `--resume`
/// and its partial file, the base URL) is checked before the server is
/// contacted, so a usage error never waits for the network.
pub async fn sync(target: &Target, out: &OutputArgs, verbose: bool) -> anyhow::Result<u8> {
    let format = infer_format(out.out.as_deref(), out.format);
    if format == SnapshotFormat::Sqlite && out.out.is_none() {
        return Err(
            Failure::usage("a SQLite snapshot cannot be written to stdout")
                .hint("add --out PATH (e.g. --out snapshot.sqlite)")
                .into(),
        );
    }
    if out.resume && format == SnapshotFormat::Sqlite {
        return Err(Failure::usage("--resume works with JSON Lines output only")
            .hint("resume into a .jsonl file, or start the SQLite sync again")
            .into());
    }
    if let Some(path) = &out.out {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Failure::usage(format!(
                "cannot write `{}`: the directory `{}` does not exist",
                path.display(),
                parent.display()
            ))
            .hint("create the directory first, or choose another --out path")
            .into());
        }
    }
    // Building the connector checks the URL and credentials' shape; it does
    // not contact the server.
    let connector = target.connector()?;
    let slug = target.slug();
    let resumed = match (&out.out, out.resume) {
        (Some(path), true) => Some(resume_file(path, connector.as_ref()).await?),
        _ => None,
    };

    let concurrency = usize::from(out.concurrency);
    let mut report = validate_report(connector.as_ref(), slug).await?;
    // The estimate for the concurrency this sync runs at.
    report.plan = report.plan.map(|p| p.at_concurrency(concurrency));
    if !report.sync_possible() {
        eprintln!("{}", escape::validation_report(&report));
        return Err(not_possible(&report, slug).into());
    }
    for c in report
        .checks
        .iter()
        .filter(|c| c.status == roster_core::CheckStatus::Warn)
    {
        eprintln!(
            "warning: {}: {}",
            escape::term(&c.name),
            escape::term(&exit::one_line(&c.detail))
        );
    }
    if let Some(plan) = &report.plan
        && plan.estimated() >= std::time::Duration::from_secs(60)
    {
        eprintln!(
            "roster: this sync needs about {} requests and an estimated {}",
            thousands(plan.requests()),
            human_duration(plan.estimated())
        );
        for advice in &plan.advice {
            eprintln!(
                "  advice: {}",
                escape::term(&crate::util::advice_text(advice))
            );
        }
    }
    let draw = !out.no_progress && !verbose && io::stderr().is_terminal();
    let title = format!("syncing {} at {}", slug, connector.source());
    let tracker = Tracker::new(&title, report.plan.clone(), draw);
    let connector = connector.as_ref();
    let resuming = resumed.is_some();
    let deadline = out.deadline;
    let result = match (&out.out, format, resumed) {
        (None, _, _) => {
            let (mut sink, broken) = StdoutSink::new();
            let r = drive_until(
                connector,
                &mut sink,
                concurrency,
                tracker.clone(),
                None,
                deadline,
            )
            .await;
            if broken.load(Ordering::Relaxed) {
                return Ok(exit::OK);
            }
            r
        }
        (Some(path), _, Some((mut sink, state))) => {
            eprintln!(
                "roster: resuming `{}`: {} lines already written, {} teams finished",
                path.display(),
                thousands(
                    state.counts().resource + state.counts().entitlement + state.counts().grant
                ),
                thousands(state.finished() as u64)
            );
            drive_until(
                connector,
                &mut sink,
                concurrency,
                tracker.clone(),
                Some(&state),
                deadline,
            )
            .await
        }
        (Some(path), SnapshotFormat::Jsonl, None) => {
            let mut sink = JsonlFile::create(path)
                .await
                .map_err(|e| cannot_write(path, &e))?;
            drive_until(
                connector,
                &mut sink,
                concurrency,
                tracker.clone(),
                None,
                deadline,
            )
            .await
        }
        (Some(path), SnapshotFormat::Sqlite, None) => {
            let mut sink = SqliteSink::create(path).map_err(|e| cannot_write(path, &e))?;
            drive_until(
                connector,
                &mut sink,
                concurrency,
                tracker.clone(),
                None,
                deadline,
            )
            .await
        }
    };
    let summary = result.map_err(|e| Failure::from_core(&e, &format!("roster validate {slug}")))?;
    finish_report(
        &summary,
        &tracker,
        out.out.as_deref(),
        slug,
        resuming,
        deadline,
    )
}

/// Opens the interrupted output of `path` for appending, refusing a file
/// that belongs to another platform or server.
async fn resume_file(
    path: &Path,
    connector: &dyn Connector,
) -> anyhow::Result<(JsonlFile, ResumeState)> {
    let Some(partial) = JsonlFile::unfinished(path) else {
        return Err(Failure::usage(format!(
            "nothing to resume: no unfinished output of `{}`",
            path.display()
        ))
        .hint("run the same command without --resume to start a new sync")
        .into());
    };
    let (sink, state) = JsonlFile::resume(path).await.map_err(|e| {
        Failure::usage(format!("cannot resume `{}`: {e}", partial.display()))
            .hint("run the same command without --resume to start a new sync")
    })?;
    if let Some(header) = state.header()
        && (header.connector != connector.name() || header.source != connector.source())
    {
        return Err(Failure::usage(format!(
            "`{}` is a {} snapshot of {}, not of {} at {}",
            partial.display(),
            header.connector,
            header.source,
            connector.name(),
            connector.source()
        ))
        .hint("resume with the same platform and base URL, or start a new sync without --resume")
        .into());
    }
    Ok((sink, state))
}

fn cannot_write(path: &Path, e: &io::Error) -> Failure {
    Failure::usage(format!("cannot write `{}`: {e}", path.display()))
        .hint("check that the directory exists and is writable")
}

fn finish_report(
    summary: &Summary,
    tracker: &Tracker,
    out: Option<&Path>,
    slug: &str,
    resumed: bool,
    deadline: Option<std::time::Duration>,
) -> anyhow::Result<u8> {
    let mut what = Vec::new();
    if resumed {
        // The tracker only saw this run; the summary counts the whole file.
        what.push(format!("{} resources", thousands(summary.counts.resource)));
    } else {
        let counts = tracker.counts();
        let n = |t: ResourceType| counts.get(&t).map_or(0, |c| c.resources);
        what.push(format!("{} users", thousands(n(ResourceType::User))));
        if n(ResourceType::Team) > 0 {
            what.push(format!("{} teams", thousands(n(ResourceType::Team))));
        }
        if n(ResourceType::Role) > 0 {
            what.push(format!("{} roles", thousands(n(ResourceType::Role))));
        }
    }
    what.push(format!("{} grants", thousands(summary.counts.grant)));
    let dest = out.map_or_else(|| "stdout".to_owned(), |p| format!("`{}`", p.display()));
    eprintln!(
        "roster: {slug} snapshot written to {dest}: {}; {} requests, {} rate-limit waits, {}",
        what.join(", "),
        thousands(summary.stats.requests),
        thousands(summary.stats.rate_limit_waits),
        human_duration(std::time::Duration::from_millis(summary.elapsed_ms)),
    );
    if summary.complete {
        return Ok(exit::OK);
    }
    eprintln!("warning: the snapshot is INCOMPLETE (\"complete\": false):");
    for w in &summary.warnings {
        eprintln!("  - {}", escape::term(&exit::one_line(w)));
    }
    if deadline
        .is_some_and(|d| summary.elapsed_ms >= u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    {
        // The library says "the sync deadline"; the flag is ours to name.
        eprintln!("hint: the sync ran into --deadline; raise it or sync a smaller workspace");
    }
    eprintln!(
        "hint: do not treat missing grants as revoked; fix the cause (see the warnings) and sync again"
    );
    Ok(exit::INCOMPLETE)
}
