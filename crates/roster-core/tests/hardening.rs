//! Security hardening of the engine (issue 13) on tokio's paused clock, with
//! an in-memory connector: a failing sink stops the sync at once, ids no
//! reader would accept are refused at ingest, and a whole-sync deadline
//! ends the sync with `complete: false`.

use std::io;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use roster_core::{
    Auth, Connector, Entitlement, Grant, Header, HttpClient, HttpConfig, ItemStream, JsonlSink,
    Listed, MemorySink, Purpose, RateLimitDialect, Record, Resource, ResourceRef, ResourceSyncer,
    ResourceType, Sink, Snapshot, Summary, SyncEngine, SyncOptions, ValidationReport,
};
use tokio::time::Instant;

/// Users `u0…`, teams with `members` each, every grant read after `delay`.
struct Mem {
    client: HttpClient,
    users: Vec<String>,
    teams: Vec<String>,
    members: Vec<String>,
    delay: Duration,
}

impl Mem {
    fn new(users: usize, teams: usize, members: usize) -> Self {
        let config = HttpConfig::new(
            "http://127.0.0.1:9",
            RateLimitDialect::MATTERMOST,
            Default::default(),
        )
        .unwrap();
        Self {
            client: HttpClient::new(config, Auth::None).unwrap(),
            users: (0..users).map(|i| format!("u{i}")).collect(),
            teams: (0..teams).map(|i| format!("t{i}")).collect(),
            members: (0..members).map(|i| format!("u{i}")).collect(),
            delay: Duration::ZERO,
        }
    }
}

struct Users<'a>(&'a Mem);
struct Teams<'a>(&'a Mem);

impl ResourceSyncer for Users<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::User
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        futures::stream::iter(
            self.0.users.iter().map(|u| {
                Ok(Resource::new(ResourceType::User, u.as_str(), format!("user {u}")).into())
            }),
        )
        .boxed()
    }
    fn entitlements<'a>(&'a self, _: &'a Resource) -> ItemStream<'a, Entitlement> {
        futures::stream::empty().boxed()
    }
}

impl ResourceSyncer for Teams<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        futures::stream::iter(
            self.0.teams.iter().map(|t| {
                Ok(Resource::new(ResourceType::Team, t.as_str(), format!("team {t}")).into())
            }),
        )
        .boxed()
    }
    fn entitlements<'a>(&'a self, r: &'a Resource) -> ItemStream<'a, Entitlement> {
        let e = Entitlement::new(r.reference(), "member", Purpose::Assignment);
        futures::stream::iter([Ok(e)]).boxed()
    }
    fn has_grants(&self) -> bool {
        true
    }
    fn grants<'a>(&'a self, r: &'a Resource) -> ItemStream<'a, Grant> {
        let delay = self.0.delay;
        let ent = Entitlement::new(r.reference(), "member", Purpose::Assignment).id;
        futures::stream::iter(self.0.members.iter())
            .then(move |m| {
                let ent = ent.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    Ok(Grant::new(ent, ResourceRef::user(m.as_str())))
                }
            })
            .boxed()
    }
}

#[async_trait]
impl Connector for Mem {
    fn name(&self) -> &'static str {
        "mattermost"
    }
    fn client(&self) -> &HttpClient {
        &self.client
    }
    async fn validate(&self) -> roster_core::Result<ValidationReport> {
        Ok(ValidationReport::new(self.name(), &self.source()))
    }
    fn syncers(&self) -> Vec<Box<dyn ResourceSyncer + '_>> {
        vec![Box::new(Users(self)), Box::new(Teams(self))]
    }
}

fn options() -> SyncOptions {
    SyncOptions::default().validate(false)
}

/// Accepts `room` records, then fails every write as a full disk does.
struct FullDisk {
    room: usize,
    written: usize,
}

impl Sink for FullDisk {
    type Error = io::Error;
    async fn begin(&mut self, _: &Header) -> io::Result<()> {
        Ok(())
    }
    async fn write(&mut self, _: &Record) -> io::Result<()> {
        if self.written == self.room {
            // ENOSPC: "No space left on device".
            return Err(io::Error::from_raw_os_error(28));
        }
        self.written += 1;
        Ok(())
    }
    async fn finish(&mut self, _: &Summary) -> io::Result<()> {
        panic!("a failed sink must never be finished");
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_disk_stops_the_sync_at_once_with_the_cause() {
    // 5,000 users fill the engine's channel many times over; one team's
    // grants are read slowly (as behind a one-hour rate-limit wait).
    let mut conn = Mem::new(5_000, 3, 2);
    conn.delay = Duration::from_secs(3600);
    let mut sink = FullDisk {
        room: 31,
        written: 0,
    };
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(24 * 3600),
        SyncEngine::new(options()).run(&conn, &mut sink),
    )
    .await
    .expect("the sync hung after the sink failed");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), roster_core::ErrorKind::Sink);
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_eq!(err.io_error().and_then(io::Error::raw_os_error), Some(28));
    assert!(
        std::error::Error::source(&err).is_some(),
        "the io::Error is kept as the source"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "stopped after {:?}, not at once",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_disk_while_checkpointing_also_stops_at_once() {
    struct FailCheckpoint;
    impl Sink for FailCheckpoint {
        type Error = io::Error;
        async fn begin(&mut self, _: &Header) -> io::Result<()> {
            Ok(())
        }
        async fn write(&mut self, _: &Record) -> io::Result<()> {
            Ok(())
        }
        async fn checkpoint(&mut self, _: &ResourceRef) -> io::Result<()> {
            Err(io::Error::from_raw_os_error(28))
        }
        async fn finish(&mut self, _: &Summary) -> io::Result<()> {
            panic!("a failed sink must never be finished");
        }
    }
    let conn = Mem::new(5_000, 200, 50);
    let result = tokio::time::timeout(
        Duration::from_secs(3600),
        SyncEngine::new(options()).run(&conn, &mut FailCheckpoint),
    )
    .await
    .expect("the sync hung after the sink failed");
    assert!(result.unwrap_err().to_string().contains("No space left"));
}

#[tokio::test(start_paused = true)]
async fn empty_ids_are_refused_at_ingest_so_the_file_reads_back() {
    let mut conn = Mem::new(3, 2, 2);
    conn.teams.push(String::new());
    conn.members.push(String::new());
    let mut out = Vec::new();
    let summary = {
        let mut sink = JsonlSink::new(&mut out);
        SyncEngine::new(options())
            .run(&conn, &mut sink)
            .await
            .unwrap()
    };
    assert!(!summary.complete);
    assert!(
        summary.warnings.iter().any(|w| w.contains("empty id")),
        "{:?}",
        summary.warnings
    );
    let text = String::from_utf8(out).unwrap();
    let snap = Snapshot::from_jsonl(&text).expect("what roster writes, roster reads");
    assert_eq!(snap.resources.len(), 3 + 2);
    assert_eq!(snap.grants.len(), 2 * 2);
    assert!(!text.contains("team::"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_the_sync_incomplete_and_says_so() {
    // 10 teams × 6 grants, each grant 10 minutes away: 10 hours unbounded.
    let mut conn = Mem::new(6, 10, 6);
    conn.delay = Duration::from_secs(600);
    let started = Instant::now();
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(
        options()
            .concurrency(1)
            .deadline(Some(Duration::from_secs(30 * 60))),
    )
    .run(&conn, &mut sink)
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(30 * 60) && elapsed < Duration::from_secs(31 * 60),
        "{elapsed:?}"
    );
    assert!(!summary.complete);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("deadline of 30 min")),
        "{:?}",
        summary.warnings
    );
    // What was read before the deadline is kept.
    assert!(sink.snapshot().grants.len() >= 2);
    assert!(matches!(sink.records.last(), Some(Record::Summary(_))));
}

#[tokio::test(start_paused = true)]
async fn a_sync_within_its_deadline_is_complete() {
    let conn = Mem::new(6, 3, 6);
    let summary = SyncEngine::new(options().deadline(Some(Duration::from_secs(60))))
        .run(&conn, &mut MemorySink::default())
        .await
        .unwrap();
    assert!(summary.complete, "{:?}", summary.warnings);
}

/// Passes everything to a [`roster_core::JsonlFile`] until the first
/// checkpoint, then fails every write: a sync killed right after one team.
struct DieAfterCheckpoint {
    inner: roster_core::JsonlFile,
    dead: bool,
}

impl Sink for DieAfterCheckpoint {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.inner.begin(header).await
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        if self.dead {
            return Err(io::Error::other("killed"));
        }
        self.inner.write(record).await
    }
    async fn checkpoint(&mut self, done: &ResourceRef) -> io::Result<()> {
        if self.dead {
            return Err(io::Error::other("killed"));
        }
        self.inner.checkpoint(done).await?;
        self.dead = true;
        Ok(())
    }
    async fn finish(&mut self, _: &Summary) -> io::Result<()> {
        Err(io::Error::other("killed"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_newline_in_a_team_id_cannot_make_resume_skip_another_team() {
    // The first team's id, written as an old-style checkpoint line, read
    // back as two entries: itself and `team:t1`, which was never finished.
    let mut conn = Mem::new(4, 0, 4);
    conn.teams = vec!["evil\nteam:t1".into(), "t1".into()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.jsonl");
    let engine = SyncEngine::new(options().concurrency(1));
    let mut sink = DieAfterCheckpoint {
        inner: roster_core::JsonlFile::create(&path).await.unwrap(),
        dead: false,
    };
    assert!(engine.run(&conn, &mut sink).await.is_err(), "killed");
    drop(sink);

    let (mut sink, state) = roster_core::JsonlFile::resume(&path).await.unwrap();
    assert_eq!(state.finished(), 1, "only the first team was finished");
    let summary = engine
        .run_with(&conn, &mut sink, std::future::pending(), Some(&state))
        .await
        .unwrap();
    assert!(summary.complete, "{:?}", summary.warnings);
    let snap = Snapshot::from_jsonl(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for team in ["evil\nteam:t1", "t1"] {
        let grants = snap
            .grants
            .iter()
            .filter(|g| g.entitlement.resource.id.as_str() == team)
            .count();
        assert_eq!(grants, 4, "every member of {team:?}");
    }
    assert_eq!(snap.grants.len() as u64, summary.counts.grant);
}
