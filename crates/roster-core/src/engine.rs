//! The sync engine: validates, then drives every syncer of a connector
//! concurrently, streams each item to the sink as it arrives, dedupes, and
//! ends with a summary that says whether the snapshot is complete.
//!
//! Producers (listings, grant reads of many resources at once) send records
//! through a bounded channel to one writer, so memory stays flat however
//! large the workspace: the engine keeps only id sets for dedupe, never the
//! records.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::connector::{Connector, Listed, ResourceSyncer};
use crate::error::{Error, Result};
use crate::model::{Grant, ResourceId, ResourceRef, ResourceType};
use crate::progress::{NoProgress, Progress, ProgressEvent};
use crate::resume::ResumeState;
use crate::sink::Sink;
use crate::snapshot::{Counts, Header, Record, Summary};

/// Resources whose grants are read at the same time, by default: enough
/// that a Mattermost sync of 1,000 teams at 10 ms per request is bounded by
/// the user listing, not by member reads (docs/adr/0004-default-concurrency.md).
pub const DEFAULT_CONCURRENCY: usize = 16;

/// How a sync runs.
///
/// Start from the default and set what differs; the struct may grow, so it
/// cannot be built with a literal outside roster-core:
///
/// ```
/// use std::time::Duration;
/// use roster_core::SyncOptions;
///
/// let options = SyncOptions::default()
///     .concurrency(4)
///     .deadline(Some(Duration::from_secs(600)));
/// assert_eq!(options.concurrency, 4);
/// ```
///
/// ```compile_fail
/// let options = roster_core::SyncOptions {
///     concurrency: 4,
///     validate: true,
///     max_warnings: 50,
///     deadline: None,
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Resources whose grants are read at the same time, per resource type.
    pub concurrency: usize,
    /// Run `validate()` first and refuse to sync when it fails (default).
    pub validate: bool,
    /// Warnings kept verbatim in the summary; the rest are counted.
    pub max_warnings: usize,
    /// Longest time the whole sync may take, counted from the start of
    /// [`SyncEngine::run_with`] (`None`: no bound). When it passes, reading
    /// stops, what was read is written, and the summary says
    /// `complete: false` with a warning naming the deadline.
    pub deadline: Option<Duration>,
}

/// Builder-style setters: `SyncOptions::default()` and change what differs.
impl SyncOptions {
    /// Sets the `concurrency` field.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Sets the `validate` field.
    #[must_use]
    pub fn validate(mut self, validate: bool) -> Self {
        self.validate = validate;
        self
    }

    /// Sets the `max_warnings` field.
    #[must_use]
    pub fn max_warnings(mut self, max_warnings: usize) -> Self {
        self.max_warnings = max_warnings;
        self
    }

    /// Sets the `deadline` field.
    #[must_use]
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            validate: true,
            max_warnings: 50,
            deadline: None,
        }
    }
}

/// Runs syncs.
#[derive(Clone)]
pub struct SyncEngine {
    options: SyncOptions,
    progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for SyncEngine {
    fn default() -> Self {
        Self::new(SyncOptions::default())
    }
}

/// What producers send the writer.
enum Msg {
    Record(Record),
    /// Every record of this resource has been sent (checkpoint).
    Done(ResourceRef),
}

struct Ctx<'r> {
    resume: Option<&'r ResumeState>,
    progress: Arc<dyn Progress>,
    concurrency: usize,
    max_warnings: usize,
    warnings: Mutex<(Vec<String>, usize)>,
    incomplete: AtomicBool,
    stopped: AtomicBool,
}

impl Ctx<'_> {
    /// Records that data is missing.
    fn lost(&self, message: String, error: Option<&Error>) {
        self.incomplete.store(true, Ordering::Relaxed);
        if error.is_some_and(Error::is_fatal) {
            self.stopped.store(true, Ordering::Relaxed);
        }
        tracing::warn!(%message, "Snapshot incomplete.");
        self.progress.event(ProgressEvent::Warning(&message));
        let mut w = self.warnings.lock().expect("warnings lock");
        if w.0.len() < self.max_warnings {
            w.0.push(message);
        } else {
            w.1 += 1;
        }
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    async fn send(&self, tx: &mpsc::Sender<Msg>, record: Record) {
        self.send_msg(tx, Msg::Record(record)).await;
    }

    async fn send_msg(&self, tx: &mpsc::Sender<Msg>, msg: Msg) {
        if tx.send(msg).await.is_err() {
            // The writer is gone (sink error); stop producing.
            self.stopped.store(true, Ordering::Relaxed);
        }
    }
}

impl SyncEngine {
    /// An engine with `options` and no progress display.
    pub fn new(options: SyncOptions) -> Self {
        Self {
            options,
            progress: Arc::new(NoProgress),
        }
    }

    /// Sends progress events to `progress`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Syncs `connector` into `sink`. See [`run_until`](Self::run_until).
    pub async fn run<C, S>(&self, connector: &C, sink: &mut S) -> Result<Summary>
    where
        C: Connector + ?Sized,
        S: Sink,
    {
        self.run_until(connector, sink, std::future::pending())
            .await
    }

    /// Syncs `connector` into `sink`, stopping early (with a
    /// `complete: false` summary) when `interrupt` completes.
    ///
    /// Returns `Err` without writing anything when validation fails; returns
    /// `Err` as soon as the sink fails (every read in progress is dropped at
    /// once, and the sink holds no finished snapshot).
    /// Otherwise the summary is written and returned, `complete: false` with
    /// warnings when anything was lost.
    pub async fn run_until<C, S, I>(
        &self,
        connector: &C,
        sink: &mut S,
        interrupt: I,
    ) -> Result<Summary>
    where
        C: Connector + ?Sized,
        S: Sink,
        I: Future<Output = ()>,
    {
        self.run_with(connector, sink, interrupt, None).await
    }

    /// Like [`run_until`](Self::run_until), continuing an interrupted sync:
    /// resources `resume` lists as finished are not read again, and nothing
    /// it already holds is written twice. The sink must append to the
    /// interrupted output (see [`JsonlFile::resume`](crate::JsonlFile::resume)).
    /// The summary's counts cover the whole file; its request counters cover
    /// this run.
    pub async fn run_with<C, S, I>(
        &self,
        connector: &C,
        sink: &mut S,
        interrupt: I,
        resume: Option<&ResumeState>,
    ) -> Result<Summary>
    where
        C: Connector + ?Sized,
        S: Sink,
        I: Future<Output = ()>,
    {
        let run_started = Instant::now();
        let client = connector.client();
        client.set_progress(self.progress.clone());
        if self.options.validate {
            let report = connector.validate().await?;
            if !report.sync_possible() {
                return Err(Error::Validation(Box::new(report)));
            }
        }
        // Best effort and, like validation, outside the summary's counters.
        let server = match resume {
            None => connector.server_info().await.filter(|s| !s.is_empty()),
            Some(_) => None,
        };
        let before = client.stats();
        let _ = client.take_notices();
        let started = Instant::now();
        let deadline = self.options.deadline;
        let header = resume
            .and_then(ResumeState::header)
            .cloned()
            .unwrap_or_else(|| Header {
                server,
                ..Header::new(connector.name(), &connector.source())
            });
        sink.begin(&header).await.map_err(Error::sink)?;

        let ctx = Ctx {
            resume,
            progress: self.progress.clone(),
            concurrency: self.options.concurrency.max(1),
            max_warnings: self.options.max_warnings,
            warnings: Mutex::new((Vec::new(), 0)),
            incomplete: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        };
        let syncers = connector.syncers();
        let (tx, rx) = mpsc::channel::<Msg>(1024);

        let produce = async {
            let tx = tx;
            let all = syncers
                .iter()
                .map(|s| produce_syncer(s.as_ref(), &tx, &ctx));
            futures::future::join_all(all).await;
        };
        let deadline_passed = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(run_started + d).await,
                None => std::future::pending().await,
            }
        };
        let produce = async {
            tokio::select! {
                () = produce => {}
                () = interrupt => ctx.lost("the sync was interrupted before it finished; everything not yet read is missing".into(), None),
                () = deadline_passed => ctx.lost(
                    format!(
                        "the sync deadline of {} passed before the sync finished; everything not yet read is missing (raise the sync deadline or sync a smaller workspace)",
                        human(deadline.unwrap_or_default())
                    ),
                    None,
                ),
            }
        };
        let write = async {
            // The writer owns the receiver: when it stops (a sink error), the
            // producers' sends fail instead of blocking on a full channel.
            let mut rx = rx;
            let mut counts = resume.map(ResumeState::counts).unwrap_or_default();
            let mut resources: HashSet<(ResourceType, ResourceId)> = HashSet::new();
            let mut entitlements: HashSet<String> = HashSet::new();
            while let Some(msg) = rx.recv().await {
                let record = match msg {
                    Msg::Record(r) => r,
                    Msg::Done(done) => {
                        sink.checkpoint(&done).await.map_err(Error::sink)?;
                        continue;
                    }
                };
                if resume.is_some_and(|r| r.is_written(&record)) {
                    continue;
                }
                let fresh = match &record {
                    Record::Resource(r) => {
                        resources.insert((r.resource_type, r.id.clone())) && {
                            counts.resource += 1;
                            true
                        }
                    }
                    Record::Entitlement(e) => {
                        entitlements.insert(e.id.to_string()) && {
                            counts.entitlement += 1;
                            true
                        }
                    }
                    Record::Grant(_) => {
                        counts.grant += 1;
                        true
                    }
                    Record::Header(_) | Record::Summary(_) => false,
                };
                if fresh {
                    sink.write(&record).await.map_err(Error::sink)?;
                }
            }
            Ok::<Counts, Error>(counts)
        };
        // A sink failure ends the sync at once: the producers (and any rate
        // limit or retry wait they are in) are dropped, not drained.
        let counts = {
            tokio::pin!(produce);
            tokio::pin!(write);
            let mut produced = false;
            loop {
                tokio::select! {
                    () = &mut produce, if !produced => produced = true,
                    counts = &mut write => break counts,
                }
            }
        };
        let counts = counts?;

        let stats = client.stats().since(&before);
        let (mut warnings, dropped) = ctx.warnings.into_inner().expect("warnings lock");
        if dropped > 0 {
            warnings.push(format!("… and {dropped} more warnings"));
        }
        // Optional data that was unavailable: worth saying, not a loss.
        warnings.extend(
            client
                .take_notices()
                .into_iter()
                .map(|n| format!("notice: {n}")),
        );
        let complete = !ctx.incomplete.load(Ordering::Relaxed);
        let summary = Summary {
            complete,
            finished_at: crate::Timestamp::now(),
            counts,
            stats,
            warnings,
            elapsed_ms: millis(started.elapsed()),
        };
        sink.finish(&summary).await.map_err(Error::sink)?;
        self.progress.event(ProgressEvent::Finished(&summary));
        Ok(summary)
    }
}

/// `90 s`, `15 min`, `2 h 30 min`: a deadline as people write it.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{} ms", d.as_millis()),
        1..=119 => format!("{s} s"),
        120..=7199 if s.is_multiple_of(60) => format!("{} min", s / 60),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        _ if s.is_multiple_of(3600) => format!("{} h", s / 3600),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn produce_syncer(syncer: &dyn ResourceSyncer, tx: &mpsc::Sender<Msg>, ctx: &Ctx<'_>) {
    let rtype = syncer.resource_type();
    let carried: Mutex<HashSet<Grant>> = Mutex::new(HashSet::new());
    let listed_count = std::sync::atomic::AtomicU64::new(0);
    let listing_failed = AtomicBool::new(false);
    // Resources whose late grants are awaited outside the concurrency slots.
    let (late_tx, late_rx) = futures::channel::mpsc::unbounded::<Late>();
    let (carried, listing_failed_ref, listed) = (&carried, &listing_failed, &listed_count);
    let reads = async move {
        let late_tx = late_tx;
        syncer
            .list()
            .take_while(|_| futures::future::ready(!ctx.stopped()))
            .inspect(|item| {
                if item.is_ok() {
                    listed.fetch_add(1, Ordering::Relaxed);
                }
            })
            .for_each_concurrent(ctx.concurrency, |item| {
                let late_tx = &late_tx;
                async move {
                    match item {
                        Ok(listed) => {
                            if let Some(late) = handle(syncer, listed, tx, ctx, carried).await {
                                // The receiver lives until every sender is gone.
                                let _ = late_tx.unbounded_send(late);
                            }
                        }
                        Err(e) => {
                            listing_failed_ref.store(true, Ordering::Relaxed);
                            ctx.lost(
                                format!(
                                    "listing {rtype}s failed after {} were read: {e}; the rest are missing",
                                    listed.load(Ordering::Relaxed)
                                ),
                                Some(&e),
                            );
                        }
                    }
                }
            })
            .await;
    };
    let late = late_rx.for_each_concurrent(None, |late| finish_late(syncer, late, tx, ctx));
    futures::future::join(reads, late).await;
    if ctx.stopped()
        && !listing_failed.load(Ordering::Relaxed)
        && !ctx.incomplete.load(Ordering::Relaxed)
    {
        ctx.lost(format!("listing {rtype}s stopped early"), None);
    }
    ctx.progress.event(ProgressEvent::ListingDone(rtype));
}

/// A grant no reader would accept back: an empty principal id, resource id
/// or slug.
fn empty_id(g: &Grant) -> bool {
    g.principal.id.as_str().is_empty()
        || g.entitlement.resource.id.as_str().is_empty()
        || g.entitlement.slug.is_empty()
}

fn empty_id_warning(g: &Grant, resource: &crate::model::Resource) -> String {
    format!(
        "a grant of `{}` to {} `{}` on {} `{}` ({}) was skipped: the server returned an empty id",
        g.entitlement.slug,
        g.principal.resource_type,
        g.principal.id,
        resource.resource_type,
        resource.display_name,
        resource.id
    )
}

/// A resource whose [`grants`](ResourceSyncer::grants) were written, waiting
/// for its [`late_grants`](ResourceSyncer::late_grants) and checkpoint.
struct Late {
    resource: crate::model::Resource,
    seen: HashSet<Grant>,
    batch: u64,
}

/// Writes the resource's grants from the connector. Returns what is left
/// (late grants, checkpoint) unless the sync stopped or the grants failed
/// (the loss is reported).
async fn handle(
    syncer: &dyn ResourceSyncer,
    listed: Listed,
    tx: &mpsc::Sender<Msg>,
    ctx: &Ctx<'_>,
    carried: &Mutex<HashSet<Grant>>,
) -> Option<Late> {
    let Listed { resource, grants } = listed;
    let rtype = resource.resource_type;
    let me = resource.reference();
    if resource.id.as_str().is_empty() {
        // What roster writes, roster must read: `team::member` is not a
        // valid entitlement id, so such a resource cannot be written.
        ctx.lost(
            format!(
                "a {rtype} with an empty id (`{}`) was skipped with its entitlements and grants; the server returned no id for it",
                resource.display_name
            ),
            None,
        );
        return None;
    }
    if ctx.resume.is_some_and(|r| r.finished.contains(&me)) {
        // Finished before the interruption: resource, entitlements and
        // grants are all in the file already.
        ctx.progress.event(ProgressEvent::Resource(rtype));
        ctx.progress.event(ProgressEvent::GrantsDone(rtype));
        return None;
    }
    ctx.send(tx, Record::Resource(resource.clone())).await;
    ctx.progress.event(ProgressEvent::Resource(rtype));

    let mut ents = syncer.entitlements(&resource);
    while let Some(e) = ents.next().await {
        match e {
            Ok(e)
                if e.slug.is_empty()
                    || e.id.slug.is_empty()
                    || e.id.resource.id.as_str().is_empty() =>
            {
                ctx.lost(
                    format!(
                        "an entitlement of {rtype} `{}` ({}) with an empty id or slug was skipped",
                        resource.display_name, resource.id
                    ),
                    None,
                );
            }
            Ok(e) => ctx.send(tx, Record::Entitlement(e)).await,
            Err(err) => {
                ctx.lost(
                    format!(
                        "entitlements of {rtype} `{}` ({}) are missing: {err}",
                        resource.display_name, resource.id
                    ),
                    Some(&err),
                );
                break;
            }
        }
    }
    drop(ents);

    let mut carried_new = 0;
    for g in grants {
        if empty_id(&g) {
            ctx.lost(empty_id_warning(&g, &resource), None);
            continue;
        }
        let fresh = carried.lock().expect("carried lock").insert(g.clone());
        if fresh {
            carried_new += 1;
            ctx.send(tx, Record::Grant(g)).await;
        }
    }
    if carried_new > 0 {
        ctx.progress
            .event(ProgressEvent::Grants(rtype, carried_new));
    }

    if !syncer.has_grants() || ctx.stopped() {
        return None;
    }
    let mut seen = HashSet::new();
    let mut batch = 0;
    let stream = syncer.grants(&resource);
    let written = write_grants(stream, &resource, &mut seen, &mut batch, tx, ctx).await;
    written.then_some(Late {
        resource,
        seen,
        batch,
    })
}

/// Writes a resource's late grants, then marks it finished.
async fn finish_late(
    syncer: &dyn ResourceSyncer,
    mut late: Late,
    tx: &mpsc::Sender<Msg>,
    ctx: &Ctx<'_>,
) {
    if ctx.stopped() {
        return;
    }
    let stream = syncer.late_grants(&late.resource);
    let (resource, seen, batch) = (&late.resource, &mut late.seen, &mut late.batch);
    if !write_grants(stream, resource, seen, batch, tx, ctx).await {
        return;
    }
    let rtype = late.resource.resource_type;
    if late.batch > 0 {
        ctx.progress.event(ProgressEvent::Grants(rtype, late.batch));
    }
    ctx.progress.event(ProgressEvent::GrantsDone(rtype));
    ctx.send_msg(tx, Msg::Done(late.resource.reference())).await;
}

/// Writes the grants of `stream` on `resource`, deduped; `false` when
/// the sync stopped or the stream failed (the loss is reported).
async fn write_grants(
    mut stream: crate::connector::ItemStream<'_, Grant>,
    resource: &crate::model::Resource,
    seen: &mut HashSet<Grant>,
    batch: &mut u64,
    tx: &mpsc::Sender<Msg>,
    ctx: &Ctx<'_>,
) -> bool {
    let rtype = resource.resource_type;
    let me = resource.reference();
    while let Some(item) = stream.next().await {
        if ctx.stopped() {
            return false;
        }
        match item {
            Ok(g) => {
                if g.entitlement.resource != me {
                    tracing::warn!(grant = %g.entitlement, resource = %me, "Connector returned a grant of another resource; ignored.");
                    continue;
                }
                if empty_id(&g) {
                    ctx.lost(empty_id_warning(&g, resource), None);
                    continue;
                }
                if seen.insert(g.clone()) {
                    ctx.send(tx, Record::Grant(g)).await;
                    *batch += 1;
                    if *batch == 100 {
                        ctx.progress.event(ProgressEvent::Grants(rtype, *batch));
                        *batch = 0;
                    }
                }
            }
            Err(err) => {
                ctx.lost(
                    format!(
                        "grants of {rtype} `{}` ({}) are missing or partial: {err}",
                        resource.display_name, resource.id
                    ),
                    Some(&err),
                );
                return false;
            }
        }
    }
    true
}
