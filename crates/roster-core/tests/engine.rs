//! The whole core end to end: a tiny in-test connector for a toy platform
//! served by wiremock, driven by the engine into memory and file sinks.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use roster_core::{
    Auth, ClientOptions, Connector, Endpoint, Entitlement, Grant, HttpClient, HttpConfig,
    ItemStream, JsonlFile, Keyed, Listed, MemorySink, Page, PageRequest, Paging, PagingLimits,
    Purpose, RateLimitDialect, Record, Resource, ResourceRef, ResourceSyncer, ResourceType,
    RetryPolicy, Snapshot, SyncEngine, SyncOptions, ValidationReport, paginate,
};
use serde::Deserialize;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: Endpoint = Endpoint::get("/users");
const GROUPS: Endpoint = Endpoint::get("/groups");
const MEMBERS: Endpoint = Endpoint::get("/groups/{id}/members");

#[derive(Deserialize)]
struct User {
    id: String,
    name: String,
}
impl Keyed for User {
    fn key(&self) -> &str {
        &self.id
    }
}
#[derive(Deserialize)]
struct Group {
    id: String,
}
impl Keyed for Group {
    fn key(&self) -> &str {
        &self.id
    }
}
#[derive(Deserialize)]
struct GroupPage {
    items: Vec<Group>,
    total: u64,
}
#[derive(Deserialize)]
struct Member {
    user_id: String,
}
impl Keyed for Member {
    fn key(&self) -> &str {
        &self.user_id
    }
}

struct Toy {
    client: HttpClient,
}

struct Users<'a>(&'a HttpClient);
struct Groups<'a>(&'a HttpClient);

fn number(req: PageRequest) -> (u32, u32) {
    match req {
        PageRequest::Number { page, per_page } => (page, per_page),
        other => panic!("unexpected {other:?}"),
    }
}

impl ResourceSyncer for Users<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::User
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        let c = self.0;
        paginate(
            USERS.bucket(),
            Paging::PageNumber {
                per_page: 2,
                server_cap: Some(2),
            },
            PagingLimits::default(),
            move |req| async move {
                let (page, per_page) = number(req);
                let call = USERS.call().query("page", page).query("per_page", per_page);
                c.json::<Vec<User>>(&call).await.map(Page::new)
            },
        )
        .map(|u| u.map(|u| Resource::new(ResourceType::User, u.id, u.name).into()))
        .boxed()
    }
    fn entitlements<'a>(&'a self, _: &'a Resource) -> ItemStream<'a, Entitlement> {
        futures::stream::empty().boxed()
    }
}

impl ResourceSyncer for Groups<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        let c = self.0;
        paginate(
            GROUPS.bucket(),
            Paging::Offset { count: 2 },
            PagingLimits::default(),
            move |req| async move {
                let PageRequest::Offset { offset, count } = req else {
                    unreachable!()
                };
                let call = GROUPS.call().query("offset", offset).query("count", count);
                let p: GroupPage = c.json(&call).await?;
                Ok(Page::new(p.items).with_total(p.total))
            },
        )
        .map(|g| g.map(|g| Resource::new(ResourceType::Team, g.id.clone(), g.id).into()))
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
        let c = self.0;
        let id = r.id.as_str().to_owned();
        let ent = roster_core::EntitlementId::new(r.reference(), "member");
        paginate(
            MEMBERS.bucket(),
            Paging::PageNumber {
                per_page: 2,
                server_cap: Some(2),
            },
            PagingLimits::default(),
            move |req| {
                let id = id.clone();
                async move {
                    let (page, per_page) = number(req);
                    let call = MEMBERS
                        .call()
                        .param("id", &id)
                        .query("page", page)
                        .query("per_page", per_page);
                    c.json::<Vec<Member>>(&call).await.map(Page::new)
                }
            },
        )
        .map(move |m| m.map(|m| Grant::new(ent.clone(), ResourceRef::user(m.user_id))))
        .boxed()
    }
}

#[async_trait]
impl Connector for Toy {
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
        vec![
            Box::new(Users(&self.client)),
            Box::new(Groups(&self.client)),
        ]
    }
}

async fn toy_server(broken_group: bool) -> MockServer {
    let s = MockServer::start().await;
    let users = [
        ("u1", "Ada"),
        ("u2", "Bob"),
        ("u3", "Cy"),
        ("u4", "Di"),
        ("u5", "Ed"),
    ];
    for page in 0..3 {
        let rows: Vec<_> = users
            .iter()
            .skip(page * 2)
            .take(2)
            .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
            .collect();
        Mock::given(method("GET"))
            .and(path("/users"))
            .and(query_param("page", page.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(rows))
            .mount(&s)
            .await;
    }
    for (offset, body) in [
        (
            0,
            serde_json::json!({"items": [{"id": "g1"}, {"id": "g2"}], "total": 3}),
        ),
        (2, serde_json::json!({"items": [{"id": "g3"}], "total": 3})),
    ] {
        Mock::given(path("/groups"))
            .and(query_param("offset", offset.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&s)
            .await;
    }
    let members = |ids: &[&str]| {
        serde_json::json!(
            ids.iter()
                .map(|u| serde_json::json!({"user_id": u}))
                .collect::<Vec<_>>()
        )
    };
    // g1: a row repeated inside a page (server quirk) → one grant.
    Mock::given(path("/groups/g1/members"))
        .and(query_param("page", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(members(&["u1", "u1"])))
        .mount(&s)
        .await;
    Mock::given(path("/groups/g1/members"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(members(&["u2"])))
        .mount(&s)
        .await;
    Mock::given(path("/groups/g2/members"))
        .and(query_param("page", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(members(&["u3"])))
        .mount(&s)
        .await;
    let g3 = if broken_group {
        ResponseTemplate::new(503)
    } else {
        ResponseTemplate::new(200).set_body_json(members(&["u4", "u5"]))
    };
    Mock::given(path("/groups/g3/members"))
        .and(query_param("page", "0"))
        .respond_with(g3)
        .mount(&s)
        .await;
    Mock::given(path("/groups/g3/members"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(members(&[])))
        .mount(&s)
        .await;
    s
}

fn toy(server: &MockServer) -> Toy {
    let retry = RetryPolicy::default()
        .max_retries(2)
        .min_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(2));
    let options = ClientOptions::default().retry(retry);
    let config = HttpConfig::new(&server.uri(), RateLimitDialect::MATTERMOST, options).unwrap();
    Toy {
        client: HttpClient::new(config, Auth::None).unwrap(),
    }
}

#[tokio::test]
async fn a_complete_sync_streams_every_record_once() {
    let server = toy_server(false).await;
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default())
        .run(&toy(&server), &mut sink)
        .await
        .unwrap();
    assert!(summary.complete, "{:?}", summary.warnings);
    let snap = sink.snapshot();
    assert_eq!(snap.resources.len(), 8);
    assert_eq!(snap.entitlements.len(), 3);
    let mut grants: Vec<String> = snap
        .grants
        .iter()
        .map(|g| format!("{} {}", g.entitlement, g.principal.id))
        .collect();
    grants.sort();
    assert_eq!(
        grants,
        [
            "team:g1:member u1",
            "team:g1:member u2",
            "team:g2:member u3",
            "team:g3:member u4",
            "team:g3:member u5"
        ]
    );
    assert_eq!(
        (
            summary.counts.resource,
            summary.counts.entitlement,
            summary.counts.grant
        ),
        (8, 3, 5)
    );
    assert!(matches!(sink.records.first(), Some(Record::Header(_))));
    assert!(matches!(sink.records.last(), Some(Record::Summary(_))));
    assert_eq!(
        summary.stats.requests,
        server.received_requests().await.unwrap().len() as u64
    );
}

#[tokio::test]
async fn a_lost_team_makes_the_snapshot_incomplete_and_says_which() {
    let server = toy_server(true).await;
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default())
        .run(&toy(&server), &mut sink)
        .await
        .unwrap();
    assert!(!summary.complete);
    assert_eq!(summary.warnings.len(), 1, "{:?}", summary.warnings);
    assert!(
        summary.warnings[0].contains("g3") && summary.warnings[0].contains("503"),
        "{:?}",
        summary.warnings
    );
    assert_eq!(summary.stats.retries, 2);
    assert_eq!(summary.counts.grant, 3);
}

#[tokio::test]
async fn file_sink_output_reads_back_and_counts_match_lines() {
    let server = toy_server(false).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy.jsonl");
    let mut sink = JsonlFile::create(&path).await.unwrap();
    let summary = SyncEngine::new(SyncOptions::default().concurrency(1))
        .run(&toy(&server), &mut sink)
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let snap = Snapshot::from_jsonl(&text).unwrap();
    assert!(snap.is_complete());
    assert_eq!(snap.summary.as_ref(), Some(&summary));
    assert_eq!(snap.resources.len() as u64, summary.counts.resource);
    assert_eq!(snap.grants.len() as u64, summary.counts.grant);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.get("kind").is_some());
    }
}

#[tokio::test]
async fn an_interrupted_sync_says_so() {
    let server = toy_server(false).await;
    let mut sink = MemorySink::default();
    let summary = SyncEngine::new(SyncOptions::default())
        .run_until(&toy(&server), &mut sink, async {})
        .await
        .unwrap();
    assert!(!summary.complete);
    assert!(summary.warnings[0].contains("interrupted"));
}

/// A file sink that signals `stop` once it has written `grants` grants and
/// `checkpoints` checkpoints: where the test "kills" the sync. From then on
/// it writes nothing (every call fails), and what it wrote is on disk with
/// no background write left in flight, so the cut is exactly there.
struct CutAfter {
    inner: JsonlFile,
    grants: usize,
    checkpoints: usize,
    cut: bool,
    stop: std::sync::Arc<tokio::sync::Notify>,
}

impl CutAfter {
    async fn check(&mut self) -> std::io::Result<()> {
        if self.grants == 0 && self.checkpoints == 0 {
            self.cut = true;
            self.inner.flush().await?;
            self.stop.notify_one();
        }
        Ok(())
    }

    fn dead(&self) -> std::io::Result<()> {
        if self.cut {
            return Err(std::io::Error::other("killed"));
        }
        Ok(())
    }
}

impl roster_core::Sink for CutAfter {
    type Error = std::io::Error;
    async fn begin(&mut self, header: &roster_core::Header) -> std::io::Result<()> {
        self.inner.begin(header).await
    }
    async fn write(&mut self, record: &Record) -> std::io::Result<()> {
        self.dead()?;
        self.inner.write(record).await?;
        if matches!(record, Record::Grant(_)) && self.grants > 0 {
            self.grants -= 1;
            self.check().await?;
        }
        Ok(())
    }
    async fn checkpoint(&mut self, done: &ResourceRef) -> std::io::Result<()> {
        self.dead()?;
        self.inner.checkpoint(done).await?;
        if self.checkpoints > 0 {
            self.checkpoints -= 1;
            self.check().await?;
        }
        Ok(())
    }
    async fn finish(&mut self, summary: &roster_core::Summary) -> std::io::Result<()> {
        self.dead()?;
        self.inner.finish(summary).await
    }
}

fn lines_sorted(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.contains(r#""kind":"header""#) && !l.contains(r#""kind":"summary""#))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_killed_sync_resumes_without_rereading_finished_teams_or_duplicating() {
    let server = toy_server(false).await;
    let dir = tempfile::tempdir().unwrap();

    // The reference: one uninterrupted run.
    let full_path = dir.path().join("full.jsonl");
    let mut full = JsonlFile::create(&full_path).await.unwrap();
    SyncEngine::default()
        .run(&toy(&server), &mut full)
        .await
        .unwrap();
    let reference = lines_sorted(&std::fs::read_to_string(&full_path).unwrap());

    // Cut after the first grant (nothing checkpointed), after one team and
    // after two teams.
    for (i, (grants, checkpoints)) in [(1, 0), (0, 1), (0, 2)].into_iter().enumerate() {
        let path = dir.path().join(format!("cut-{i}.jsonl"));
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        let engine = SyncEngine::new(SyncOptions::default().concurrency(1));
        {
            let mut sink = CutAfter {
                inner: JsonlFile::create(&path).await.unwrap(),
                grants,
                checkpoints,
                cut: false,
                stop: stop.clone(),
            };
            let connector = toy(&server);
            // Dropping the run future mid-way is what a killed process
            // leaves: a partial file and checkpoints, no summary.
            tokio::select! {
                r = engine.run(&connector, &mut sink) => {
                    assert!(r.is_err(), "should have been cut");
                }
                () = stop.notified() => {}
            }
        }
        assert!(!path.exists());
        let (mut sink, state) = JsonlFile::resume(&path).await.unwrap();
        assert_eq!(
            state.finished(),
            checkpoints,
            "teams checkpointed before the cut"
        );
        let before = server.received_requests().await.unwrap().len();
        let summary = SyncEngine::default()
            .run_with(
                &toy(&server),
                &mut sink,
                std::future::pending(),
                Some(&state),
            )
            .await
            .unwrap();
        assert!(summary.complete, "{:?}", summary.warnings);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(lines_sorted(&text), reference, "cut {i}");
        let snap = Snapshot::from_jsonl(&text).unwrap();
        assert_eq!(snap.grants.len() as u64, summary.counts.grant);
        assert_eq!(snap.resources.len() as u64, summary.counts.resource);
        // Checkpointed teams were not read again.
        let requests = server.received_requests().await.unwrap();
        let reread_first = requests[before..]
            .iter()
            .filter(|r| r.url.path() == "/groups/g1/members")
            .count();
        if checkpoints >= 1 {
            assert_eq!(reread_first, 0, "g1 was finished before the cut");
        }
    }
}

// ------------------------------------------------------------ late grants

/// Teams whose late grants wait for something only a later team's grant
/// read brings (like Rocket.Chat's deactivated members, found by lookups in
/// another bucket).
struct Waiting {
    client: HttpClient,
    /// Set by the last team's grants.
    ready: tokio::sync::watch::Sender<bool>,
}

struct WaitingTeams<'a>(&'a Waiting);

impl ResourceSyncer for WaitingTeams<'_> {
    fn resource_type(&self) -> ResourceType {
        ResourceType::Team
    }
    fn list(&self) -> ItemStream<'_, Listed> {
        let teams =
            ["t1", "t2", "t3"].map(|id| Ok(Resource::new(ResourceType::Team, id, id).into()));
        futures::stream::iter(teams).boxed()
    }
    fn entitlements<'a>(&'a self, r: &'a Resource) -> ItemStream<'a, Entitlement> {
        let e = Entitlement::new(r.reference(), "member", Purpose::Assignment);
        futures::stream::iter([Ok(e)]).boxed()
    }
    fn has_grants(&self) -> bool {
        true
    }
    fn grants<'a>(&'a self, r: &'a Resource) -> ItemStream<'a, Grant> {
        if r.id.as_str() == "t3" {
            self.0.ready.send_replace(true);
        }
        let g = Grant::new(
            roster_core::EntitlementId::new(r.reference(), "member"),
            ResourceRef::user("active"),
        );
        futures::stream::iter([Ok(g)]).boxed()
    }
    fn late_grants<'a>(&'a self, r: &'a Resource) -> ItemStream<'a, Grant> {
        let mut ready = self.0.ready.subscribe();
        let g = Grant::new(
            roster_core::EntitlementId::new(r.reference(), "member"),
            ResourceRef::user("late"),
        );
        futures::stream::once(async move {
            let _ = ready.wait_for(|r| *r).await;
            Ok(g)
        })
        .boxed()
    }
}

#[async_trait]
impl Connector for Waiting {
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
        vec![Box::new(WaitingTeams(self))]
    }
}

/// Records what the engine hands the sink, checkpoints included.
#[derive(Default)]
struct Journal(Vec<String>);

impl roster_core::Sink for Journal {
    type Error = std::io::Error;
    async fn begin(&mut self, _: &roster_core::Header) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn write(&mut self, record: &Record) -> Result<(), Self::Error> {
        if let Record::Grant(g) = record {
            self.0.push(format!("{} {}", g.entitlement, g.principal.id));
        }
        Ok(())
    }
    async fn finish(&mut self, _: &roster_core::Summary) -> Result<(), Self::Error> {
        Ok(())
    }
    async fn checkpoint(&mut self, done: &ResourceRef) -> Result<(), Self::Error> {
        self.0.push(format!("done {done}"));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn late_grants_wait_without_holding_a_slot_and_come_before_the_checkpoint() {
    let connector = Waiting {
        client: HttpClient::new(
            HttpConfig::new(
                "http://127.0.0.1:9",
                RateLimitDialect::MATTERMOST,
                ClientOptions::default(),
            )
            .unwrap(),
            Auth::None,
        )
        .unwrap(),
        ready: tokio::sync::watch::Sender::new(false),
    };
    let mut sink = Journal::default();
    // One slot: t1 and t2 wait for what t3's grants bring.
    let engine = SyncEngine::new(SyncOptions::default().concurrency(1));
    let summary = tokio::time::timeout(Duration::from_secs(60), engine.run(&connector, &mut sink))
        .await
        .expect("late grants waiting must not hold the only slot")
        .unwrap();
    assert!(summary.complete, "{:?}", summary.warnings);
    assert_eq!(summary.counts.grant, 6);
    for team in ["t1", "t2", "t3"] {
        let at = |line: String| sink.0.iter().position(|l| *l == line).expect(&line);
        let done = at(format!("done team:{team}"));
        assert!(at(format!("team:{team}:member active")) < done);
        assert!(
            at(format!("team:{team}:member late")) < done,
            "a resource is checkpointed only after its late grants: {:?}",
            sink.0
        );
    }
}
