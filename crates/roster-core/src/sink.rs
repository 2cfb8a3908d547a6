//! Where snapshot lines go: `begin(header)` → records → `finish(summary)`.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

use crate::model::ResourceRef;
use crate::resume::ResumeState;
use crate::snapshot::{Header, Record, Snapshot, Summary};

/// Receives a snapshot as it is produced. The engine calls `begin` once,
/// `write` for each resource, entitlement and grant, and `finish` once with
/// the summary; a sink whose `finish` was never called holds no complete
/// snapshot.
pub trait Sink: Send {
    /// The sink's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Writes the header.
    fn begin(&mut self, header: &Header) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Writes one resource, entitlement or grant.
    fn write(&mut self, record: &Record) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Writes the summary and makes the snapshot final.
    fn finish(&mut self, summary: &Summary)
    -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Every record of `done` (a resource whose grants were read) has been
    /// written. Sinks that support resuming make this durable; the default
    /// does nothing.
    fn checkpoint(
        &mut self,
        done: &ResourceRef,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = done;
        async { Ok(()) }
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    type Error = S::Error;
    fn begin(&mut self, header: &Header) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).begin(header)
    }
    fn write(&mut self, record: &Record) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).write(record)
    }
    fn finish(
        &mut self,
        summary: &Summary,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).finish(summary)
    }
    fn checkpoint(
        &mut self,
        done: &ResourceRef,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).checkpoint(done)
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    type Error = S::Error;
    fn begin(&mut self, header: &Header) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).begin(header)
    }
    fn write(&mut self, record: &Record) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).write(record)
    }
    fn finish(
        &mut self,
        summary: &Summary,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).finish(summary)
    }
    fn checkpoint(
        &mut self,
        done: &ResourceRef,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        (**self).checkpoint(done)
    }
}

/// Writes JSON Lines to any `AsyncWrite` (stdout, a socket, a file).
#[derive(Debug)]
pub struct JsonlSink<W: AsyncWrite + Unpin + Send> {
    out: BufWriter<W>,
    line: Vec<u8>,
}

impl<W: AsyncWrite + Unpin + Send> JsonlSink<W> {
    /// Buffers writes to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::with_capacity(64 * 1024, out),
            line: Vec::with_capacity(512),
        }
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out.into_inner()
    }

    async fn line(&mut self, record: &Record) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).await
    }
}

impl JsonlSink<tokio::io::Stdout> {
    /// JSON Lines on standard output.
    pub fn stdout() -> Self {
        Self::new(tokio::io::stdout())
    }
}

impl<W: AsyncWrite + Unpin + Send> Sink for JsonlSink<W> {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.line(&Record::Header(header.clone())).await
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        self.line(record).await
    }
    async fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.line(&Record::Summary(summary.clone())).await?;
        self.out.flush().await
    }
}

/// A JSON Lines file written to `<path>.partial` and renamed to `path` only
/// by `finish`, so a crash never leaves a finished-looking snapshot.
///
/// The file is created by `begin` (a sync refused by validation leaves
/// nothing behind). Each finished resource is appended to
/// `<path>.checkpoint` after the data is flushed, so an interrupted sync can
/// be continued with [`JsonlFile::resume`]; both helper files are removed
/// by `finish`.
#[derive(Debug)]
pub struct JsonlFile {
    sink: Option<JsonlSink<tokio::fs::File>>,
    checkpoints: Option<tokio::fs::File>,
    path: PathBuf,
    partial: PathBuf,
    checkpoint: PathBuf,
    resumed: bool,
}

/// The temporary name a file sink writes to before renaming.
pub fn partial_path(path: &Path) -> PathBuf {
    sibling(path, ".partial")
}

/// The checkpoint list beside a file sink's output.
pub fn checkpoint_path(path: &Path) -> PathBuf {
    sibling(path, ".checkpoint")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl JsonlFile {
    /// A sink that will write `<path>.partial` (created by `begin`).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        Ok(Self {
            sink: None,
            checkpoints: None,
            partial: partial_path(&path),
            checkpoint: checkpoint_path(&path),
            path,
            resumed: false,
        })
    }

    /// Continues the interrupted sync whose output was `path`: reads
    /// `<path>.partial` and `<path>.checkpoint`, drops a last line cut short,
    /// and appends from there. Pass the returned state to
    /// [`SyncEngine::run_with`](crate::SyncEngine::run_with).
    pub async fn resume(path: impl AsRef<Path>) -> io::Result<(Self, ResumeState)> {
        let mut this = Self::create(path).await?;
        let text = tokio::fs::read_to_string(&this.partial).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot resume: {} is not readable ({e}); start a new sync without --resume",
                    this.partial.display()
                ),
            )
        })?;
        let checkpoints = match tokio::fs::read_to_string(&this.checkpoint).await {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let state = ResumeState::parse(&text, &checkpoints)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let keep = text.rfind('\n').map_or(0, |i| i + 1) as u64;
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&this.partial)
            .await?;
        file.set_len(keep).await?;
        drop(file);
        let file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&this.partial)
            .await?;
        this.sink = Some(JsonlSink::new(file));
        this.resumed = state.header().is_some();
        Ok((this, state))
    }

    fn sink(&mut self) -> io::Result<&mut JsonlSink<tokio::fs::File>> {
        self.sink
            .as_mut()
            .ok_or_else(|| io::Error::other("the snapshot file is not open"))
    }
}

impl Sink for JsonlFile {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        if self.sink.is_none() {
            let file = tokio::fs::File::create(&self.partial).await?;
            self.sink = Some(JsonlSink::new(file));
            // A fresh output must not inherit an older run's checkpoints.
            let _ = tokio::fs::remove_file(&self.checkpoint).await;
        }
        if self.resumed {
            return Ok(());
        }
        self.sink()?.begin(header).await
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        self.sink()?.write(record).await
    }
    async fn checkpoint(&mut self, done: &ResourceRef) -> io::Result<()> {
        self.sink()?.out.flush().await?;
        if self.checkpoints.is_none() {
            let f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.checkpoint)
                .await?;
            self.checkpoints = Some(f);
        }
        let line = format!("{}:{}\n", done.resource_type, done.id);
        if let Some(f) = self.checkpoints.as_mut() {
            f.write_all(line.as_bytes()).await?;
        }
        Ok(())
    }
    async fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut sink = self
            .sink
            .take()
            .ok_or_else(|| io::Error::other("the snapshot file is not open"))?;
        sink.finish(summary).await?;
        let file = sink.into_inner();
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.partial, &self.path).await?;
        self.checkpoints = None;
        let _ = tokio::fs::remove_file(&self.checkpoint).await;
        Ok(())
    }
}

/// Keeps every record in memory (tests, small workspaces, embedding).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    /// Every record, header and summary included, in order.
    pub records: Vec<Record>,
}

impl MemorySink {
    /// The records as a [`Snapshot`].
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::default();
        for r in &self.records {
            // Records produced by the engine are always well-formed.
            let _ = snap.push(r.clone());
        }
        snap
    }
}

impl Sink for MemorySink {
    type Error = std::convert::Infallible;
    async fn begin(&mut self, header: &Header) -> Result<(), Self::Error> {
        self.records.push(Record::Header(header.clone()));
        Ok(())
    }
    async fn write(&mut self, record: &Record) -> Result<(), Self::Error> {
        self.records.push(record.clone());
        Ok(())
    }
    async fn finish(&mut self, summary: &Summary) -> Result<(), Self::Error> {
        self.records.push(Record::Summary(summary.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Counts;

    fn summary() -> Summary {
        Summary {
            complete: true,
            finished_at: crate::Timestamp::now(),
            counts: Counts::default(),
            requests: 0,
            retries: 0,
            rate_limited: 0,
            warnings: vec![],
            requests_by_endpoint: Default::default(),
            rate_limit_wait_ms: 0,
            rate_limit_waits: 0,
            elapsed_ms: 0,
        }
    }

    #[tokio::test]
    async fn file_appears_only_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        let mut sink = JsonlFile::create(&path).await.unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        assert!(!path.exists());
        assert!(partial_path(&path).exists());
        sink.finish(&summary()).await.unwrap();
        assert!(path.exists());
        assert!(!partial_path(&path).exists());
        let text = std::fs::read_to_string(&path).unwrap();
        let snap = Snapshot::from_jsonl(&text).unwrap();
        assert!(snap.is_complete());
    }

    #[tokio::test]
    async fn abandoned_file_leaves_nothing_finished_looking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        {
            let sink = JsonlFile::create(&path).await.unwrap();
            drop(sink);
            assert!(!partial_path(&path).exists(), "nothing before begin");
            let mut sink = JsonlFile::create(&path).await.unwrap();
            sink.begin(&Header::new("mattermost", "https://x"))
                .await
                .unwrap();
        }
        assert!(!path.exists());
        // The partial file stays for --resume; its name says it is unfinished.
        assert!(partial_path(&path).exists());
    }
}
