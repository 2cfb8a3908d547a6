//! Reading a snapshot file (JSON Lines or SQLite, told apart by content).

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use roster_core::Snapshot;

use crate::exit::{self, Failure};
use crate::sqlite;

/// Loads `path` (`-` reads JSON Lines from stdin). A SQLite file is opened
/// in place, not read into memory first.
pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
    let bytes = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the snapshot from stdin")?;
        if sqlite::looks_like_sqlite(&buf) {
            return Err(
                Failure::usage("a SQLite snapshot cannot be read from stdin")
                    .hint("pass the path of the .sqlite file instead of `-`")
                    .into(),
            );
        }
        buf
    } else {
        let cannot_read = |e: std::io::Error| {
            Failure::usage(format!("cannot read `{}`: {e}", path.display()))
                .hint("check the path; snapshots are written by `roster sync … --out PATH`")
        };
        let mut file = std::fs::File::open(path).map_err(cannot_read)?;
        let mut buf = Vec::new();
        file.by_ref()
            .take(16)
            .read_to_end(&mut buf)
            .map_err(cannot_read)?;
        if sqlite::looks_like_sqlite(&buf) {
            return sqlite::read(path).map_err(|e| {
                Failure::usage(format!("{e:#}"))
                    .hint("the file is a SQLite database but not a roster snapshot")
                    .into()
            });
        }
        file.read_to_end(&mut buf).map_err(cannot_read)?;
        buf
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::usage(format!(
            "`{}` is neither JSON Lines nor SQLite",
            path.display()
        ))
        .hint("expected a roster-snapshot/1 file (JSON Lines or SQLite)")
    })?;
    Snapshot::from_jsonl(text).map_err(|e| {
        Failure::usage(format!("`{}`: {e}", path.display()))
            .hint("expected a roster-snapshot/1 file (JSON Lines or SQLite)")
            .into()
    })
}

/// Refuses a snapshot without summary or with `complete:false`, unless allowed.
pub fn require_complete(
    path: &Path,
    snap: &Snapshot,
    allow_incomplete: bool,
) -> Result<(), Failure> {
    if allow_incomplete {
        return Ok(());
    }
    match &snap.summary {
        None => Err(Failure::usage(format!(
            "`{}` has no summary: the sync that wrote it died, so it is not the truth",
            path.display()
        ))
        .hint("sync again, or pass --allow-incomplete to compare it anyway")),
        Some(s) if !s.complete => {
            let first = s
                .warnings
                .first()
                .map_or_else(String::new, |w| exit::one_line(w));
            Err(Failure::usage(format!(
                "`{}` is an incomplete snapshot (complete: false): {first}",
                path.display()
            ))
            .hint("fix the cause and sync again, or pass --allow-incomplete to compare it anyway"))
        }
        Some(_) => Ok(()),
    }
}
