//! Where snapshot lines go: `begin(header)` → records → `finish(summary)`.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

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
/// by `finish`, so a crash never leaves a finished-looking snapshot. A sink
/// dropped without `finish` removes its partial file.
#[derive(Debug)]
pub struct JsonlFile {
    sink: Option<JsonlSink<tokio::fs::File>>,
    path: PathBuf,
    partial: PathBuf,
}

/// The temporary name a file sink writes to before renaming.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

impl JsonlFile {
    /// Creates `<path>.partial` (truncating it).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let partial = partial_path(&path);
        let file = tokio::fs::File::create(&partial).await?;
        Ok(Self {
            sink: Some(JsonlSink::new(file)),
            path,
            partial,
        })
    }

    fn sink(&mut self) -> io::Result<&mut JsonlSink<tokio::fs::File>> {
        self.sink
            .as_mut()
            .ok_or_else(|| io::Error::other("the snapshot file is already finished"))
    }
}

impl Sink for JsonlFile {
    type Error = io::Error;
    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.sink()?.begin(header).await
    }
    async fn write(&mut self, record: &Record) -> io::Result<()> {
        self.sink()?.write(record).await
    }
    async fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut sink = self
            .sink
            .take()
            .ok_or_else(|| io::Error::other("the snapshot file is already finished"))?;
        sink.finish(summary).await?;
        let file = sink.into_inner();
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.partial, &self.path).await
    }
}

impl Drop for JsonlFile {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
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
    async fn abandoned_file_leaves_nothing_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        {
            let mut sink = JsonlFile::create(&path).await.unwrap();
            sink.begin(&Header::new("mattermost", "https://x"))
                .await
                .unwrap();
        }
        assert!(!path.exists());
        assert!(!partial_path(&path).exists());
    }
}
