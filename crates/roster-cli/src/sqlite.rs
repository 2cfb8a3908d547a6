//! SQLite snapshots: a [`Sink`] writing the same records as the JSONL sinks
//! into tables `meta`, `resources`, `entitlements` and `grants`, and a reader
//! that loads such a file back into a [`Snapshot`].
//!
//! The file is written in one transaction to `<path>.partial` and renamed to
//! `<path>` by `finish`, so a finished-looking database is always a finished
//! sync (whose `meta.complete` may still say `false`). The partial file is
//! created owner-only (0600), exclusively and never through a planted
//! symbolic link; an existing `<path>` that is not a regular file is refused
//! rather than replaced. Journaling is off, so no `-journal` or `-wal` file
//! is written beside it. The schema is
//! documented in `docs/snapshot-format.md` ("SQLite snapshot").

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use roster_core::{
    AccountType, Counts, Entitlement, EntitlementId, Grant, Header, Profile, Purpose, Record,
    RequestCounts, Resource, ResourceRef, ResourceType, Sink, Snapshot, Summary, Timestamp,
    UserStatus, UserTraits,
};
use rusqlite::{Connection, OpenFlags, params};

/// Version of the table layout, stored as `meta.sqlite_schema`.
pub const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE resources (
    type             TEXT NOT NULL,
    id               TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    parent_type      TEXT,
    parent_id        TEXT,
    login            TEXT,
    emails           TEXT,
    status           TEXT,
    account_type     TEXT,
    created_at       TEXT,
    last_login_at    TEXT,
    last_activity_at TEXT,
    profile          TEXT NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE entitlements (
    id            TEXT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    slug          TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    grantable_to  TEXT NOT NULL
);
CREATE TABLE grants (
    entitlement    TEXT NOT NULL,
    principal_type TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    PRIMARY KEY (entitlement, principal_type, principal_id)
);
";

/// Created at `finish`, after the bulk inserts (faster than maintaining them).
const INDEXES: &str = "
CREATE INDEX grants_by_principal ON grants (principal_type, principal_id, entitlement);
CREATE INDEX entitlements_by_resource ON entitlements (resource_type, resource_id, slug);
CREATE INDEX users_by_login ON resources (login) WHERE type = 'user';
";

fn sql_err(e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("SQLite: {e}"))
}

fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::other(e)
}

/// The `meta` rows of the request counters: one per key of their JSON
/// object, the value that key's JSON (a number's digits, an object's
/// text). Nothing here names a counter, so a new one needs no SQLite code.
fn counter_rows(stats: &RequestCounts) -> io::Result<Vec<(String, String)>> {
    match serde_json::to_value(stats).map_err(json_err)? {
        serde_json::Value::Object(object) => Ok(object
            .into_iter()
            .map(|(key, value)| (key, value.to_string()))
            .collect()),
        other => Err(io::Error::other(format!(
            "request counters serialise as an object, not `{other}`"
        ))),
    }
}

/// The request counters read back from `meta`: every row whose value is
/// JSON, deserialised as one object (rows that are not counters are
/// ignored, as a missing optional counter is zero; a missing contract
/// counter is an error).
fn counters_from_rows(meta: &HashMap<String, String>) -> serde_json::Result<RequestCounts> {
    let object: serde_json::Map<String, serde_json::Value> = meta
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), serde_json::from_str(value).ok()?)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(object))
}

/// Writes a snapshot into a SQLite database.
pub struct SqliteSink {
    conn: Option<Connection>,
    path: PathBuf,
    partial: PathBuf,
    duplicates: u64,
}

impl std::fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSink")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteSink {
    /// Creates `<path>.partial` (replacing a stale regular file, refusing a
    /// link or special file) owner-only with the schema and opens the
    /// transaction. Refuses a `path` that exists and is not a regular file.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if roster_core::sink::output_kind(&path)? != roster_core::sink::OutputKind::File {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "`{}` is a pipe or device; a SQLite snapshot needs a regular file. Choose another output path or --format jsonl",
                    path.display()
                ),
            ));
        }
        // Created here (0600, O_EXCL, O_NOFOLLOW); SQLite then opens the
        // empty file as a new database and keeps its mode.
        let (file, partial) = roster_core::sink::create_staging(&path)?;
        drop(file);
        let conn = Connection::open_with_flags(
            &partial,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
        )
        .map_err(sql_err)?;
        let sink = Self {
            conn: Some(conn),
            path,
            partial,
            duplicates: 0,
        };
        sink.conn()?
            .execute_batch(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;",
            )
            .map_err(sql_err)?;
        sink.conn()?.execute_batch(SCHEMA).map_err(sql_err)?;
        sink.conn()?.execute_batch("BEGIN").map_err(sql_err)?;
        Ok(sink)
    }

    fn conn(&self) -> io::Result<&Connection> {
        self.conn
            .as_ref()
            .ok_or_else(|| io::Error::other("the SQLite snapshot is already finished"))
    }

    fn meta(&self, key: &str, value: &str) -> io::Result<()> {
        self.conn()?
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, value]))
            .map_err(sql_err)?;
        Ok(())
    }

    fn insert(&mut self, record: &Record) -> io::Result<()> {
        let conn = self.conn()?;
        match record {
            Record::Resource(r) => {
                let u = r.user.as_ref();
                let ts = |t: Option<Timestamp>| t.map(|t| t.to_string());
                let emails = u
                    .map(|u| serde_json::to_string(&u.emails))
                    .transpose()
                    .map_err(json_err)?;
                conn.prepare_cached(
                    "INSERT INTO resources (type, id, display_name, parent_type, parent_id, login, emails, status, account_type, created_at, last_login_at, last_activity_at, profile)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        r.resource_type.as_str(),
                        r.id.as_str(),
                        r.display_name,
                        r.parent.as_ref().map(|p| p.resource_type.as_str()),
                        r.parent.as_ref().map(|p| p.id.as_str()),
                        u.map(|u| u.login.as_str()),
                        emails,
                        u.map(|u| status_str(u.status)),
                        u.map(|u| account_str(u.account_type)),
                        ts(u.and_then(|u| u.created_at)),
                        ts(u.and_then(|u| u.last_login_at)),
                        ts(u.and_then(|u| u.last_activity_at)),
                        serde_json::to_string(&r.profile).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
                    ])
                })
                .map_err(sql_err)?;
            }
            Record::Entitlement(e) => {
                let grantable: Vec<&str> = e.grantable_to.iter().map(|t| t.as_str()).collect();
                conn.prepare_cached(
                    "INSERT INTO entitlements (id, resource_type, resource_id, slug, purpose, grantable_to) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        e.id.to_string(),
                        e.resource.resource_type.as_str(),
                        e.resource.id.as_str(),
                        e.slug,
                        purpose_str(e.purpose),
                        serde_json::to_string(&grantable).unwrap_or_else(|_| "[]".into()),
                    ])
                })
                .map_err(sql_err)?;
            }
            Record::Grant(g) => {
                let changed = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO grants (entitlement, principal_type, principal_id) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            g.entitlement.to_string(),
                            g.principal.resource_type.as_str(),
                            g.principal.id.as_str(),
                        ])
                    })
                    .map_err(sql_err)?;
                if changed == 0 {
                    self.duplicates += 1;
                    tracing::warn!(grant = %g.entitlement, principal = %g.principal, "Duplicate grant ignored.");
                }
            }
            Record::Header(_) | Record::Summary(_) => {}
        }
        Ok(())
    }

    fn write_summary(&mut self, summary: &Summary) -> io::Result<()> {
        self.meta("complete", if summary.complete { "true" } else { "false" })?;
        self.meta("finished_at", &summary.finished_at.to_string())?;
        self.meta("count_resource", &summary.counts.resource.to_string())?;
        self.meta("count_entitlement", &summary.counts.entitlement.to_string())?;
        self.meta("count_grant", &summary.counts.grant.to_string())?;
        self.meta(
            "warnings",
            &serde_json::to_string(&summary.warnings).map_err(json_err)?,
        )?;
        // Every request counter, generically: one row per serialised key.
        for (key, value) in counter_rows(&summary.stats)? {
            self.meta(&key, &value)?;
        }
        self.meta("elapsed_ms", &summary.elapsed_ms.to_string())?;
        self.conn()?.execute_batch(INDEXES).map_err(sql_err)?;
        self.conn()?.execute_batch("COMMIT").map_err(sql_err)?;
        let conn = self
            .conn
            .take()
            .ok_or_else(|| io::Error::other("the SQLite snapshot is already finished"))?;
        conn.close().map_err(|(_, e)| sql_err(e))?;
        std::fs::File::open(&self.partial)?.sync_all()?;
        roster_core::sink::rename_into_place(&self.partial, &self.path)
    }
}

impl Sink for SqliteSink {
    type Error = io::Error;

    async fn begin(&mut self, header: &Header) -> io::Result<()> {
        self.meta("sqlite_schema", SCHEMA_VERSION)?;
        self.meta("format", &header.format)?;
        self.meta("connector", &header.connector)?;
        self.meta("source", &header.source)?;
        self.meta("started_at", &header.started_at.to_string())?;
        if let Some(server) = &header.server {
            self.meta("server", &serde_json::to_string(server).unwrap_or_default())?;
        }
        Ok(())
    }

    async fn write(&mut self, record: &Record) -> io::Result<()> {
        self.insert(record)
    }

    async fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        if self.duplicates > 0 {
            tracing::warn!(
                duplicates = self.duplicates,
                "The sync sent duplicate grants; each was stored once."
            );
        }
        self.write_summary(summary)
    }
}

impl Drop for SqliteSink {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

fn status_str(s: UserStatus) -> &'static str {
    match s {
        UserStatus::Enabled => "enabled",
        UserStatus::Disabled => "disabled",
    }
}

fn account_str(a: AccountType) -> &'static str {
    match a {
        AccountType::Human => "human",
        AccountType::Service => "service",
    }
}

fn purpose_str(p: Purpose) -> &'static str {
    match p {
        Purpose::Assignment => "assignment",
        Purpose::Permission => "permission",
    }
}

/// Whether `bytes` start like a SQLite database file.
pub fn looks_like_sqlite(bytes: &[u8]) -> bool {
    bytes.starts_with(b"SQLite format 3\0")
}

/// Bounds on reading a SQLite file, which may be crafted: a "snapshot"
/// whose tables are views over endless recursive queries, or whose values
/// are huge, must fail fast instead of eating the machine.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Rows read from all tables together.
    pub max_rows: u64,
    /// Rows read from `meta` (a real one has about twenty).
    pub max_meta_rows: u64,
    /// The progress handler runs every this many SQLite VM steps.
    pub steps_per_check: i32,
    /// How often it may run before the read is stopped.
    pub max_step_checks: u64,
    /// The largest string or blob SQLite may produce, in bytes.
    pub max_value_bytes: i32,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            max_rows: 100_000_000,
            max_meta_rows: 10_000,
            // 2·10¹⁰ steps: about 200 per row of the largest legitimate file.
            steps_per_check: 10_000,
            max_step_checks: 2_000_000,
            max_value_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The tables roster reads; each must be a real table.
const TABLES: [&str; 4] = ["meta", "resources", "entitlements", "grants"];

/// A `file:` URI for `path`, opened read-only and immutable: SQLite then
/// takes no locks and never creates `-wal`, `-shm` or journal files beside
/// the input, even for a database in WAL mode.
fn read_only_uri(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the path `{}` is not UTF-8", path.display()))?;
    // An absolute path gets an empty authority (`file:///…`), so a path
    // starting with `//` is not read as a host name.
    let mut uri = String::from(if text.starts_with('/') {
        "file://"
    } else {
        "file:"
    });
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    Ok(uri)
}

/// Reads a SQLite snapshot back. A database without `meta.complete` (never
/// finished) reads as a snapshot without summary.
pub fn read(path: &Path) -> anyhow::Result<Snapshot> {
    read_with(path, ReadLimits::default())
}

/// [`read`] within `limits`.
pub fn read_with(path: &Path, limits: ReadLimits) -> anyhow::Result<Snapshot> {
    use anyhow::Context as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let cannot_open = || format!("cannot open `{}` as SQLite", path.display());
    let mut conn = Connection::open_with_flags(
        read_only_uri(path)?,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(cannot_open)?;
    conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
        limits.max_value_bytes,
    )
    .with_context(cannot_open)?;
    // Functions named in the schema (views, triggers, generated columns) run
    // only if they are harmless.
    conn.pragma_update(None, "trusted_schema", false)
        .with_context(cannot_open)?;
    let exhausted = Arc::new(AtomicBool::new(false));
    {
        let exhausted = exhausted.clone();
        let mut checks: u64 = 0;
        conn.progress_handler(
            limits.steps_per_check,
            Some(move || {
                checks += 1;
                let over = checks > limits.max_step_checks;
                if over {
                    exhausted.store(true, Ordering::Relaxed);
                }
                over
            }),
        )
        .with_context(cannot_open)?;
    }
    let not_roster = || format!("`{}` is not a roster SQLite snapshot", path.display());
    let snap = read_conn(&conn, limits).with_context(not_roster);
    if exhausted.load(Ordering::Relaxed) {
        anyhow::bail!(
            "reading `{}` took more than {} SQLite steps and was stopped: a roster snapshot is plain tables, read in one pass",
            path.display(),
            limits
                .max_step_checks
                .saturating_mul(u64::try_from(limits.steps_per_check).unwrap_or(0))
        );
    }
    let snap = snap?;
    snap.check_counts()
        .with_context(|| format!("`{}`", path.display()))?;
    Ok(snap)
}

/// Refuses a database whose `meta`, `resources`, `entitlements` or
/// `grants` is a view or a virtual table: reading those runs arbitrary
/// queries.
fn check_tables(conn: &Connection) -> anyhow::Result<()> {
    for table in TABLES {
        let found: Option<(String, Option<String>)> = conn
            .query_row(
                "SELECT type, sql FROM sqlite_schema WHERE lower(name) = ?1 AND type IN ('table', 'view')",
                [table],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        match found {
            None => anyhow::bail!("it has no `{table}` table"),
            Some((kind, _)) if kind != "table" => anyhow::bail!(
                "`{table}` is a {kind}, not a table; roster reads only plain tables (a view can run any query)"
            ),
            Some((_, Some(sql)))
                if sql
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE VIRTUAL") =>
            {
                anyhow::bail!("`{table}` is a virtual table; roster reads only plain tables")
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Counts rows against [`ReadLimits::max_rows`].
struct RowBudget {
    left: u64,
    max: u64,
}

impl RowBudget {
    fn take(&mut self) -> anyhow::Result<()> {
        match self.left.checked_sub(1) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => anyhow::bail!("it has more than {} rows", self.max),
        }
    }
}

fn read_conn(conn: &Connection, limits: ReadLimits) -> anyhow::Result<Snapshot> {
    use anyhow::{Context as _, anyhow, bail};
    check_tables(conn)?;
    let mut budget = RowBudget {
        left: limits.max_rows,
        max: limits.max_rows,
    };
    let mut meta: HashMap<String, String> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT key, value FROM meta")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        for (i, row) in rows.enumerate() {
            if i as u64 >= limits.max_meta_rows {
                bail!("`meta` has more than {} rows", limits.max_meta_rows);
            }
            budget.take()?;
            let (k, v) = row?;
            meta.insert(k, v.unwrap_or_default());
        }
    }
    let get = |k: &str| {
        meta.get(k)
            .cloned()
            .ok_or_else(|| anyhow!("meta has no `{k}`"))
    };
    let ts = |k: &str| -> anyhow::Result<Timestamp> {
        let v = get(k)?;
        Timestamp::parse_rfc3339(&v).ok_or_else(|| anyhow!("meta `{k}` is not RFC 3339: `{v}`"))
    };
    let format = get("format")?;
    if format != roster_core::snapshot::FORMAT {
        bail!(
            "format `{format}` is not `{}`",
            roster_core::snapshot::FORMAT
        );
    }
    let header = Header {
        format,
        connector: get("connector")?,
        source: get("source")?,
        started_at: ts("started_at")?,
        server: meta
            .get("server")
            .and_then(|v| serde_json::from_str(v).ok()),
    };

    let mut snap = Snapshot {
        header: Some(header),
        ..Snapshot::default()
    };

    let mut stmt = conn.prepare(
        "SELECT type, id, display_name, parent_type, parent_id, login, emails, status, account_type, created_at, last_login_at, last_activity_at, profile FROM resources ORDER BY rowid",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        budget.take()?;
        let rtype: String = row.get(0)?;
        let id: String = row.get(1)?;
        let resource_type: ResourceType =
            rtype.parse().map_err(|e| anyhow!("resource `{id}`: {e}"))?;
        let parent = match (
            row.get::<_, Option<String>>(3)?,
            row.get::<_, Option<String>>(4)?,
        ) {
            (Some(t), Some(pid)) => Some(ResourceRef::new(
                t.parse()
                    .map_err(|e| anyhow!("resource `{id}` parent: {e}"))?,
                pid,
            )),
            _ => None,
        };
        let opt_ts = |i: usize| -> anyhow::Result<Option<Timestamp>> {
            match row.get::<_, Option<String>>(i)? {
                None => Ok(None),
                Some(s) => Timestamp::parse_rfc3339(&s)
                    .map(Some)
                    .ok_or_else(|| anyhow!("resource `{id}`: bad timestamp `{s}`")),
            }
        };
        let user = match row.get::<_, Option<String>>(7)? {
            Some(status) => Some(UserTraits {
                login: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
                emails: match row.get::<_, Option<String>>(6)? {
                    Some(e) => serde_json::from_str(&e)
                        .with_context(|| format!("resource `{id}`: emails"))?,
                    None => Vec::new(),
                },
                status: match status.as_str() {
                    "enabled" => UserStatus::Enabled,
                    "disabled" => UserStatus::Disabled,
                    other => bail!("resource `{id}`: unknown status `{other}`"),
                },
                account_type: match row.get::<_, Option<String>>(8)?.as_deref() {
                    Some("service") => AccountType::Service,
                    _ => AccountType::Human,
                },
                created_at: opt_ts(9)?,
                last_login_at: opt_ts(10)?,
                last_activity_at: opt_ts(11)?,
            }),
            None => None,
        };
        let profile: Profile = serde_json::from_str(&row.get::<_, String>(12)?)
            .with_context(|| format!("resource `{id}`: profile"))?;
        snap.resources.push(Resource {
            resource_type,
            id: id.into(),
            display_name: row.get(2)?,
            parent,
            user,
            profile,
        });
    }
    drop(rows);
    drop(stmt);

    let mut stmt = conn.prepare(
        "SELECT id, resource_type, resource_id, slug, purpose, grantable_to FROM entitlements ORDER BY rowid",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        budget.take()?;
        let id: String = row.get(0)?;
        let eid: EntitlementId = id.parse().map_err(|e| anyhow!("{e}"))?;
        let rtype: String = row.get(1)?;
        let grantable: Vec<String> = serde_json::from_str(&row.get::<_, String>(5)?)
            .with_context(|| format!("entitlement `{id}`: grantable_to"))?;
        snap.entitlements.push(Entitlement {
            id: eid,
            resource: ResourceRef::new(
                rtype
                    .parse()
                    .map_err(|e| anyhow!("entitlement `{id}`: {e}"))?,
                row.get::<_, String>(2)?,
            ),
            slug: row.get(3)?,
            purpose: match row.get::<_, String>(4)?.as_str() {
                "permission" => Purpose::Permission,
                _ => Purpose::Assignment,
            },
            grantable_to: grantable
                .iter()
                .map(|t| t.parse().map_err(|e| anyhow!("entitlement `{id}`: {e}")))
                .collect::<anyhow::Result<_>>()?,
        });
    }
    drop(rows);
    drop(stmt);

    let mut stmt = conn
        .prepare("SELECT entitlement, principal_type, principal_id FROM grants ORDER BY rowid")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        budget.take()?;
        let ent: String = row.get(0)?;
        let ptype: String = row.get(1)?;
        snap.grants.push(Grant::new(
            ent.parse().map_err(|e| anyhow!("{e}"))?,
            ResourceRef::new(
                ptype.parse().map_err(|e| anyhow!("grant `{ent}`: {e}"))?,
                row.get::<_, String>(2)?,
            ),
        ));
    }
    drop(rows);
    drop(stmt);

    if let Some(complete) = meta.get("complete") {
        let num = |k: &str| -> anyhow::Result<u64> {
            get(k)?
                .parse()
                .with_context(|| format!("meta `{k}` is not a number"))
        };
        let opt_num = |k: &str| meta.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        snap.summary = Some(
            Summary::new(complete == "true", ts("finished_at")?)
                .counts(Counts {
                    resource: num("count_resource")?,
                    entitlement: num("count_entitlement")?,
                    grant: num("count_grant")?,
                })
                .stats(counters_from_rows(&meta).context("meta: request counters")?)
                .warnings(serde_json::from_str(&get("warnings")?).context("meta `warnings`")?)
                .elapsed_ms(opt_num("elapsed_ms")),
        );
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::{Counts, Purpose};

    /// The staging file of `path` (`<path>.partial`, as
    /// `roster_core::sink::create_staging` names it).
    fn partial_path(path: &Path) -> PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        path.with_file_name(name)
    }

    fn sample() -> Vec<Record> {
        let user = Resource::new(ResourceType::User, "u1", "Ada Lovelace")
            .with_user(UserTraits {
                login: "ada".into(),
                emails: vec!["ada@example.com".into()],
                status: UserStatus::Enabled,
                account_type: AccountType::Human,
                created_at: Timestamp::from_unix_millis(1_704_164_645_123),
                last_login_at: None,
                last_activity_at: Timestamp::from_unix_millis(1_704_164_645_000),
            })
            .with_profile("system_roles", serde_json::json!(["system_user"]))
            .with_profile("position", "Engineer");
        let team =
            Resource::new(ResourceType::Team, "t1", "Engineering").with_profile("archived", false);
        let ent = Entitlement::new(team.reference(), "admin", Purpose::Permission);
        let grant = Grant::new(ent.id.clone(), ResourceRef::user("u1"));
        vec![
            Record::Resource(user),
            Record::Resource(team),
            Record::Entitlement(ent),
            Record::Grant(grant.clone()),
            Record::Grant(grant),
        ]
    }

    fn summary(complete: bool) -> Summary {
        let mut stats = RequestCounts::default();
        stats.requests = 7;
        stats.retries = 1;
        stats.requests_by_endpoint = [("GET /x".to_owned(), 7)].into();
        stats.rate_limit_wait_ms = 12;
        stats.rate_limit_waits = 3;
        Summary::new(complete, Timestamp::now())
            .counts(Counts {
                resource: 2,
                entitlement: 1,
                grant: 1,
            })
            .stats(stats)
            .warnings(if complete {
                vec![]
            } else {
                vec!["lost".into()]
            })
            .elapsed_ms(34)
    }

    /// The names of `T`'s fields, as serde sees them.
    fn field_names<'de, T: serde::Deserialize<'de>>() -> &'static [&'static str] {
        use serde::de::{self, Error as _, Visitor};
        struct Names<'a>(&'a mut &'static [&'static str]);
        impl<'de> de::Deserializer<'de> for Names<'_> {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(Self::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                *self.0 = fields;
                Err(Self::Error::custom("names read"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map enum identifier ignored_any
            }
        }
        let mut names: &'static [&'static str] = &[];
        let _ = T::deserialize(Names(&mut names));
        names
    }

    /// Every request counter survives SQLite: a summary whose counters are
    /// all non-zero reads back equal. A new counter must be set here (the
    /// test says which), nothing else in this file changes for it.
    #[tokio::test]
    async fn every_counter_round_trips_through_sqlite() {
        let mut stats = RequestCounts::default();
        stats.requests = 57;
        stats.retries = 3;
        stats.rate_limited = 2;
        stats.requests_by_endpoint = [("GET /a".to_owned(), 40), ("GET /b".to_owned(), 17)].into();
        stats.rate_limit_wait_ms = 1234;
        stats.rate_limit_waits = 5;
        let serialised = serde_json::to_value(&stats).unwrap();
        let fields = field_names::<RequestCounts>();
        assert!(fields.contains(&"rate_limited"), "{fields:?}");
        for field in fields {
            let value = &serialised[*field];
            let zero = match value {
                serde_json::Value::Number(n) => n.as_f64() == Some(0.0),
                serde_json::Value::Object(o) => o.is_empty(),
                serde_json::Value::Array(a) => a.is_empty(),
                _ => value.is_null(),
            };
            assert!(!zero, "set the counter `{field}` non-zero in this test");
        }
        let s = summary(false).stats(stats);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        let mut sink = SqliteSink::create(&path).unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        for r in sample() {
            sink.write(&r).await.unwrap();
        }
        sink.finish(&s).await.unwrap();
        drop(sink);
        assert_eq!(read(&path).unwrap().summary, Some(s.clone()));
        // And the JSON Lines summary reads back equal too.
        let line = serde_json::to_string(&Record::Summary(s.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<Record>(&line).unwrap(),
            Record::Summary(s)
        );
    }

    #[tokio::test]
    async fn round_trips_through_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        let header = Header::new("mattermost", "https://chat.example.com");
        let mut sink = SqliteSink::create(&path).unwrap();
        sink.begin(&header).await.unwrap();
        for r in sample() {
            sink.write(&r).await.unwrap();
        }
        assert!(!path.exists(), "only the partial file exists before finish");
        let s = summary(false);
        sink.finish(&s).await.unwrap();
        drop(sink);
        assert!(path.exists());
        assert!(!partial_path(&path).exists());

        let snap = read(&path).unwrap();
        let mut expected = Snapshot::default();
        expected.push(Record::Header(header)).unwrap();
        for r in sample().into_iter().take(4) {
            expected.push(r).unwrap();
        }
        expected.push(Record::Summary(s)).unwrap();
        assert_eq!(snap, expected);
        assert!(!snap.is_complete());

        let conn = Connection::open(&path).unwrap();
        let admins: Vec<String> = conn
            .prepare("SELECT r.login FROM grants g JOIN resources r ON r.type = g.principal_type AND r.id = g.principal_id WHERE g.entitlement = 'team:t1:admin'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(admins, ["ada"]);
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT entitlement FROM grants WHERE principal_type = 'user' AND principal_id = 'u1'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("grants_by_principal"), "{plan}");
    }

    fn meta_rows(path: &Path) -> Vec<(String, String)> {
        let conn = Connection::open(path).unwrap();
        conn.prepare("SELECT key, value FROM meta WHERE key NOT IN ('started_at', 'finished_at') ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The meta rows of a summary are the format's (docs/snapshot-format.md):
    /// these keys and value encodings are pinned, so databases written
    /// before keep loading.
    #[tokio::test]
    async fn summary_meta_rows_are_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        finished(&path).await;
        let rows = meta_rows(&path);
        let rows: Vec<(&str, &str)> = rows.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            rows,
            [
                ("complete", "true"),
                ("connector", "mattermost"),
                ("count_entitlement", "1"),
                ("count_grant", "1"),
                ("count_resource", "2"),
                ("elapsed_ms", "34"),
                ("format", "roster-snapshot/1"),
                ("rate_limit_wait_ms", "12"),
                ("rate_limit_waits", "3"),
                ("rate_limited", "0"),
                ("requests", "7"),
                ("requests_by_endpoint", r#"{"GET /x":7}"#),
                ("retries", "1"),
                ("source", "https://x"),
                ("sqlite_schema", "1"),
                ("warnings", "[]"),
            ]
        );
    }

    /// A database written before the extension counters existed (or with
    /// `requests_by_endpoint` stored empty) loads, the missing counters zero.
    #[tokio::test]
    async fn old_summary_meta_rows_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        finished(&path).await;
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DELETE FROM meta WHERE key IN ('rate_limit_wait_ms', 'rate_limit_waits', 'elapsed_ms');
             UPDATE meta SET value = '{}' WHERE key = 'requests_by_endpoint';",
        )
        .unwrap();
        drop(conn);
        let got = read(&path).unwrap().summary.unwrap();
        let want = Summary::new(true, got.finished_at)
            .counts(Counts {
                resource: 2,
                entitlement: 1,
                grant: 1,
            })
            .stats({
                let mut stats = RequestCounts::default();
                stats.requests = 7;
                stats.retries = 1;
                stats
            });
        assert_eq!(got, want);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DELETE FROM meta WHERE key = 'requests_by_endpoint'")
            .unwrap();
        drop(conn);
        assert_eq!(read(&path).unwrap().summary.unwrap(), want);
    }

    async fn finished(path: &Path) {
        let mut sink = SqliteSink::create(path).unwrap();
        sink.begin(&Header::new("mattermost", "https://x"))
            .await
            .unwrap();
        for r in sample() {
            sink.write(&r).await.unwrap();
        }
        sink.finish(&summary(true)).await.unwrap();
    }

    #[tokio::test]
    async fn reading_is_bounded() {
        // An awkward directory name survives the file: URI.
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a b?c#d%20e");
        assert!(
            read_only_uri(Path::new("//x/y"))
                .unwrap()
                .starts_with("file:////x/y?")
        );
        assert_eq!(
            read_only_uri(Path::new("a b")).unwrap(),
            "file:a%20b?mode=ro&immutable=1"
        );
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("snap.sqlite");
        finished(&path).await;
        assert!(read(&path).unwrap().is_complete());

        let rows = ReadLimits {
            max_rows: 3,
            ..ReadLimits::default()
        };
        let err = format!("{:#}", read_with(&path, rows).unwrap_err());
        assert!(err.contains("more than 3 rows"), "{err}");

        let steps = ReadLimits {
            steps_per_check: 1,
            max_step_checks: 20,
            ..ReadLimits::default()
        };
        let err = format!("{:#}", read_with(&path, steps).unwrap_err());
        assert!(err.contains("SQLite steps"), "{err}");

        let conn = Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'source'",
            ["x".repeat(2000)],
        )
        .unwrap();
        drop(conn);
        let small = ReadLimits {
            max_value_bytes: 1000,
            ..ReadLimits::default()
        };
        assert!(read_with(&path, small).is_err());
        assert!(read(&path).is_ok());
    }

    #[tokio::test]
    async fn views_and_missing_tables_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        finished(&path).await;
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE grants RENAME TO g; CREATE VIEW GRANTS AS SELECT * FROM g;",
        )
        .unwrap();
        drop(conn);
        let err = format!("{:#}", read(&path).unwrap_err());
        assert!(err.contains("`grants` is a view"), "{err}");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP VIEW GRANTS").unwrap();
        drop(conn);
        let err = format!("{:#}", read(&path).unwrap_err());
        assert!(err.contains("no `grants` table"), "{err}");
    }

    #[tokio::test]
    async fn abandoned_sink_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.db");
        {
            let mut sink = SqliteSink::create(&path).unwrap();
            sink.begin(&Header::new("rocketchat", "https://x"))
                .await
                .unwrap();
        }
        assert!(!path.exists());
        assert!(!partial_path(&path).exists());
    }

    #[tokio::test]
    async fn sqlite_files_are_owner_only_and_journal_free() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        let mut sink = SqliteSink::create(&path).unwrap();
        sink.begin(&Header::new("rocketchat", "https://x"))
            .await
            .unwrap();
        for r in sample() {
            sink.write(&r).await.unwrap();
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&partial_path(&path)), 0o600);
        sink.finish(&summary(true)).await.unwrap();
        assert_eq!(mode(&path), 0o600);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["snap.sqlite"], "no journal or WAL beside it");
    }

    #[test]
    fn a_planted_partial_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.sqlite");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, partial_path(&path)).unwrap();
        let err = SqliteSink::create(&path).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn a_special_file_output_is_refused_not_replaced() {
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("null.sqlite");
        std::os::unix::fs::symlink("/dev/null", &path).unwrap();
        let err = SqliteSink::create(&path).unwrap_err();
        assert!(err.to_string().contains("regular file"), "{err}");
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::metadata(&path)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}
