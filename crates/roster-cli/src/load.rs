//! Reading a snapshot file (JSON Lines or SQLite, told apart by content).

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use roster_core::Snapshot;

use crate::exit::{Failure, USAGE};
use crate::sqlite;

/// Loads `path` (`-` reads JSON Lines from stdin).
pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
    let bytes = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the snapshot from stdin")?;
        buf
    } else {
        std::fs::read(path).map_err(|e| {
            Failure::new(USAGE, format!("cannot read `{}`: {e}", path.display()))
                .hint("check the path; snapshots are written by `roster sync … --out PATH`")
        })?
    };
    if sqlite::looks_like_sqlite(&bytes) {
        return sqlite::read(path).map_err(|e| {
            Failure::new(USAGE, format!("{e:#}"))
                .hint("the file is a SQLite database but not a roster snapshot")
                .into()
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure::new(
            USAGE,
            format!("`{}` is neither JSON Lines nor SQLite", path.display()),
        )
    })?;
    Snapshot::from_jsonl(text).map_err(|e| {
        Failure::new(USAGE, format!("`{}`: {e}", path.display()))
            .hint("expected a roster-snapshot/1 file (JSON Lines or SQLite)")
            .into()
    })
}

/// Refuses a snapshot without summary or with `complete:false`, unless allowed.
pub fn require_complete(
    path: &Path,
    snap: &Snapshot,
    allow_incomplete: bool,
) -> anyhow::Result<()> {
    if allow_incomplete {
        return Ok(());
    }
    match &snap.summary {
        None => Err(Failure::usage(format!(
            "`{}` has no summary: the sync that wrote it died, so it is not the truth",
            path.display()
        ))
        .hint("sync again, or pass --allow-incomplete to compare it anyway")
        .into()),
        Some(s) if !s.complete => {
            let first = s.warnings.first().map_or("", String::as_str);
            Err(Failure::usage(format!(
                "`{}` is an incomplete snapshot (complete: false): {first}",
                path.display()
            ))
            .hint("fix the cause and sync again, or pass --allow-incomplete to compare it anyway")
            .into())
        }
        Some(_) => Ok(()),
    }
}
