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
///
/// Every file is created owner-only (mode 0600: snapshots hold e-mail
/// addresses), exclusively and without following a symbolic link planted
/// in its place (see [`create_private`]). When `path` already exists and is
/// a FIFO or a character device (`/dev/stdout`, `/dev/null`, a named pipe),
/// the snapshot is streamed straight into it: no temporary file, no rename,
/// no checkpoints. Any other kind of non-regular file is refused.
#[derive(Debug)]
pub struct JsonlFile {
    sink: Option<JsonlSink<tokio::fs::File>>,
    checkpoints: Option<tokio::fs::File>,
    path: PathBuf,
    partial: PathBuf,
    checkpoint: PathBuf,
    resumed: bool,
    streaming: bool,
}

/// The temporary name a file sink writes to before renaming.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    sibling(path, ".partial")
}

/// The checkpoint list beside a file sink's output.
pub(crate) fn checkpoint_path(path: &Path) -> PathBuf {
    sibling(path, ".checkpoint")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// What is at an output path before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputKind {
    /// Nothing, or a regular file (possibly behind a symbolic link): write
    /// a temporary file beside it and rename it into place.
    File,
    /// A FIFO or a character device: write straight into it.
    Stream,
}

/// Says how `path` can be written: [`OutputKind::File`] when it does not
/// exist or is a regular file, [`OutputKind::Stream`] for a FIFO or a
/// character device (which a rename would replace). Directories, sockets
/// and block devices are refused with an error saying so.
pub fn output_kind(path: &Path) -> io::Result<OutputKind> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(OutputKind::File),
        Err(e) => return Err(e),
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(OutputKind::File);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() || ft.is_char_device() {
            return Ok(OutputKind::Stream);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "`{}` exists and is {}, not a regular file; roster will not replace it. Choose another output path",
            path.display(),
            describe(&ft)
        ),
    ))
}

fn describe(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Refuses anything at `path` that is not a regular file, without
/// following links; removes a stale regular file (only its name: a hard
/// link to another file leaves that file untouched).
fn remove_stale(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => std::fs::remove_file(path),
        Ok(m) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "`{}` is {}, not a file roster left behind; roster will not write through it. Remove it if you created it",
                path.display(),
                describe(&m.file_type())
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open options that create a new file owner-only (0600), exclusively
/// (`O_EXCL`: fails if anything appeared at the path) and never through a
/// symbolic link (`O_NOFOLLOW`).
fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    o
}

/// Open options for an existing file that must not be a symbolic link.
fn nofollow_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o
}

fn refuse_link(path: &Path, e: io::Error) -> io::Error {
    // O_NOFOLLOW on a symbolic link fails with ELOOP.
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            e.kind(),
            format!(
                "`{}` is a symbolic link; roster will not write through it. Remove it if you created it",
                path.display()
            ),
        );
    }
    io::Error::new(e.kind(), format!("cannot create `{}`: {e}", path.display()))
}

/// Creates `path` as a new owner-only (0600) file for writing, after
/// removing a stale regular file of that name. Never follows a symbolic
/// link and never opens an existing file: a link, FIFO or device planted at
/// `path` makes this fail with an error naming it, and the file it points
/// to is left untouched.
pub fn create_private(path: &Path) -> io::Result<std::fs::File> {
    remove_stale(path)?;
    private_options()
        .open(path)
        .map_err(|e| refuse_link(path, e))
}

/// Opens `path` for appending without following a symbolic link, creating
/// it owner-only (0600) when missing. Refuses anything but a regular file.
fn open_private_append(path: &Path) -> io::Result<std::fs::File> {
    match private_options().append(true).open(path) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let f = nofollow_options()
                .append(true)
                .open(path)
                .map_err(|e| refuse_link(path, e))?;
            regular(path, &f)?;
            Ok(f)
        }
        Err(e) => Err(refuse_link(path, e)),
    }
}

fn regular(path: &Path, f: &std::fs::File) -> io::Result<()> {
    let meta = f.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "`{}` is {}, not a regular file",
                path.display(),
                describe(&meta.file_type())
            ),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if meta.permissions().mode() & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// Creates the temporary file a sink writing `path` fills before
/// [`rename_into_place`] moves it onto `path`: owner-only, exclusively,
/// never through a link (see [`create_private`]). Returns the file and its
/// path, the same name [`JsonlFile`] uses for its unfinished output.
pub fn create_staging(path: &Path) -> io::Result<(std::fs::File, PathBuf)> {
    let staging = partial_path(path);
    let file = create_private(&staging)?;
    Ok((file, staging))
}

/// Renames the finished temporary file `from` onto `to`, refusing to
/// replace anything at `to` that is not a regular file or a symbolic link
/// (which the rename replaces, leaving its target alone).
pub fn rename_into_place(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(to) {
        Ok(m) if !m.file_type().is_file() && !m.file_type().is_symlink() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "`{}` is now {}; roster will not replace it. The snapshot stays in `{}`",
                    to.display(),
                    describe(&m.file_type()),
                    from.display()
                ),
            ));
        }
        Ok(m)
            if m.file_type().is_symlink() && std::fs::metadata(to).is_ok_and(|t| !t.is_file()) =>
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "`{}` is now a link to a special file; roster will not replace it. The snapshot stays in `{}`",
                    to.display(),
                    from.display()
                ),
            ));
        }
        _ => {}
    }
    std::fs::rename(from, to)
}

impl JsonlFile {
    /// A sink that will write `<path>.partial` (created by `begin`), or
    /// stream into `path` when it is a FIFO or character device. Fails when
    /// `path` is a directory, socket or block device.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let streaming = output_kind(&path)? == OutputKind::Stream;
        Ok(Self {
            sink: None,
            checkpoints: None,
            partial: partial_path(&path),
            checkpoint: checkpoint_path(&path),
            path,
            resumed: false,
            streaming,
        })
    }

    /// The unfinished output an interrupted sync into `path` left behind
    /// (what [`resume`](Self::resume) continues), if there is one.
    pub fn unfinished(path: impl AsRef<Path>) -> Option<PathBuf> {
        let partial = partial_path(path.as_ref());
        partial.exists().then_some(partial)
    }

    /// Continues the interrupted sync whose output was `path`: reads
    /// `<path>.partial` and `<path>.checkpoint`, drops a last line cut short,
    /// and appends from there. Pass the returned state to
    /// [`SyncEngine::run_with`](crate::SyncEngine::run_with).
    ///
    /// Neither file is followed through a symbolic link, and both must be
    /// regular files.
    pub async fn resume(path: impl AsRef<Path>) -> io::Result<(Self, ResumeState)> {
        let mut this = Self::create(path).await?;
        if this.streaming {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot resume into `{}`: it is not a regular file; start a new sync instead of resuming",
                    this.path.display()
                ),
            ));
        }
        let partial = this.partial.clone();
        let unreadable = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot resume: {} is not readable ({e}); start a new sync instead of resuming",
                    partial.display()
                ),
            )
        };
        let mut file = nofollow_options()
            .read(true)
            .append(true)
            .open(&this.partial)
            .map_err(|e| unreadable(refuse_link(&this.partial, e)))?;
        regular(&this.partial, &file).map_err(unreadable)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text)?;
        let checkpoints = match nofollow_options().read(true).open(&this.checkpoint) {
            Ok(mut f) => {
                regular(&this.checkpoint, &f)?;
                let mut t = String::new();
                std::io::Read::read_to_string(&mut f, &mut t)?;
                t
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(refuse_link(&this.checkpoint, e)),
        };
        let state = ResumeState::parse(&text, &checkpoints)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let keep = text.rfind('\n').map_or(0, |i| i + 1) as u64;
        file.set_len(keep)?;
        this.sink = Some(JsonlSink::new(tokio::fs::File::from_std(file)));
        this.resumed = state.header().is_some();
        Ok((this, state))
    }

    /// Writes every buffered line to the file and waits until it is
    /// written (no background write left in flight).
    pub async fn flush(&mut self) -> io::Result<()> {
        match self.sink.as_mut() {
            Some(s) => s.out.flush().await,
            None => Ok(()),
        }
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
            let file = if self.streaming {
                // A FIFO or device: write into it as it is (no create, no
                // truncate, nothing replaced).
                tokio::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .await?
            } else {
                // A fresh output must not inherit an older run's checkpoints.
                remove_stale(&self.checkpoint)?;
                tokio::fs::File::from_std(create_private(&self.partial)?)
            };
            self.sink = Some(JsonlSink::new(file));
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
        if self.streaming {
            // Nothing to resume from: a stream cannot be appended to later.
            return Ok(());
        }
        self.sink()?.out.flush().await?;
        if self.checkpoints.is_none() {
            let f = open_private_append(&self.checkpoint)?;
            self.checkpoints = Some(tokio::fs::File::from_std(f));
        }
        let line = crate::resume::checkpoint_line(done);
        if let Some(f) = self.checkpoints.as_mut() {
            f.write_all(line.as_bytes()).await?;
            // tokio's File writes in the background: wait until the entry
            // is really written (and a full disk reported here).
            f.flush().await?;
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
        if self.streaming {
            return Ok(());
        }
        file.sync_all().await?;
        drop(file);
        rename_into_place(&self.partial, &self.path)?;
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

    #[test]
    fn staging_is_where_a_resume_finds_the_unfinished_output() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.db");
        assert_eq!(JsonlFile::unfinished(&path), None);
        let (_file, staging) = create_staging(&path).unwrap();
        assert_eq!(staging, dir.path().join("out.db.partial"));
        assert_eq!(JsonlFile::unfinished(&path), Some(staging));
    }

    fn summary() -> Summary {
        Summary::new(true, crate::Timestamp::now())
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
        // The partial file stays for a resume; its name says it is unfinished.
        assert!(partial_path(&path).exists());
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[tokio::test]
    async fn a_planted_partial_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, partial_path(&path)).unwrap();
        let mut sink = JsonlFile::create(&path).await.unwrap();
        let err = sink
            .begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn a_planted_checkpoint_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        let mut sink = JsonlFile::create(&path).await.unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        // Planted after begin (which clears a stale checkpoint).
        std::os::unix::fs::symlink(&victim, checkpoint_path(&path)).unwrap();
        let err = sink
            .checkpoint(&ResourceRef::new(crate::ResourceType::Team, "t1"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[tokio::test]
    async fn resume_refuses_a_partial_that_is_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, partial_path(&path)).unwrap();
        let err = JsonlFile::resume(&path).await.unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[tokio::test]
    async fn snapshot_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.jsonl");
        let mut sink = JsonlFile::create(&path).await.unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        sink.checkpoint(&ResourceRef::new(crate::ResourceType::Team, "t1"))
            .await
            .unwrap();
        assert_eq!(mode(&partial_path(&path)), 0o600);
        assert_eq!(mode(&checkpoint_path(&path)), 0o600);
        sink.finish(&summary()).await.unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[tokio::test]
    async fn a_fifo_output_is_streamed_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let path = path.clone();
            std::thread::spawn(move || std::fs::read_to_string(path).unwrap())
        };
        let mut sink = JsonlFile::create(&path).await.unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        sink.checkpoint(&ResourceRef::new(crate::ResourceType::Team, "t1"))
            .await
            .unwrap();
        sink.finish(&summary()).await.unwrap();
        drop(sink);
        let text = reader.join().unwrap();
        assert!(Snapshot::from_jsonl(&text).unwrap().is_complete());
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert!(!partial_path(&path).exists());
        assert!(!checkpoint_path(&path).exists());
    }

    #[tokio::test]
    async fn a_character_device_output_is_written_not_replaced() {
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempfile::tempdir().unwrap();
        // A link to /dev/null in a directory we own: the rename that used
        // to happen would have replaced it with a regular file (and, as
        // root, /dev/null itself when named directly).
        let path = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        let mut sink = JsonlFile::create(&path).await.unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        sink.finish(&summary()).await.unwrap();
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert!(!partial_path(&path).exists());
    }

    #[tokio::test]
    async fn a_directory_output_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let err = JsonlFile::create(dir.path()).await.unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
    }
}
