//! Reading a snapshot file (JSON Lines or SQLite, told apart by content).

use std::io::{BufReader, Read};
use std::path::Path;

use roster_core::Snapshot;
use roster_core::snapshot::ReadError;

use crate::exit::{self, Failure};
use crate::sqlite;

/// What to do with a file changed after the sync wrote it.
const TAMPERED_HINT: &str = "use the file exactly as `roster sync` wrote it, or sync again";

/// Loads `path` (`-` reads JSON Lines from stdin). A SQLite file is opened
/// in place; JSON Lines are parsed one line at a time as they are read
/// (lines capped at [`roster_core::snapshot::MAX_LINE_BYTES`]), never held
/// whole in memory. A file whose summary counts differ from its lines, or
/// with a second header, is refused.
pub fn load(path: &Path) -> anyhow::Result<Snapshot> {
    let stdin = path.as_os_str() == "-";
    let cannot_read = |e: std::io::Error| {
        let what = if stdin {
            "the snapshot from stdin".to_owned()
        } else {
            format!("`{}`", path.display())
        };
        Failure::usage(format!("cannot read {what}: {e}"))
            .hint("check the path; snapshots are written by `roster sync … --out PATH`")
    };
    let mut input: Box<dyn Read> = if stdin {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path).map_err(cannot_read)?)
    };
    // The first bytes tell SQLite from JSON Lines.
    let mut head = Vec::with_capacity(16);
    input
        .by_ref()
        .take(16)
        .read_to_end(&mut head)
        .map_err(cannot_read)?;
    if sqlite::looks_like_sqlite(&head) {
        if stdin {
            return Err(
                Failure::usage("a SQLite snapshot cannot be read from stdin")
                    .hint("pass the path of the .sqlite file instead of `-`")
                    .into(),
            );
        }
        drop(input);
        return sqlite::read(path).map_err(|e| {
            let tampered = e
                .chain()
                .any(|c| matches!(c.downcast_ref(), Some(ReadError::Counts { .. })));
            Failure::usage(format!("{e:#}"))
                .hint(if tampered {
                    TAMPERED_HINT
                } else {
                    "the file is a SQLite database but not a roster snapshot"
                })
                .into()
        });
    }
    let reader = BufReader::with_capacity(256 * 1024, std::io::Cursor::new(head).chain(input));
    Snapshot::from_reader(reader).map_err(|e| {
        let tampered = match &e {
            ReadError::Counts { .. } => true,
            ReadError::Line { message, .. } => {
                message.contains("second header") || message.contains("follows the summary")
            }
            _ => false,
        };
        let hint = if tampered {
            TAMPERED_HINT
        } else {
            "expected a roster-snapshot/1 file (JSON Lines or SQLite)"
        };
        match e {
            ReadError::Io(io) => cannot_read(io).into(),
            e => Failure::usage(format!("`{}`: {e}", path.display()))
                .hint(hint)
                .into(),
        }
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
