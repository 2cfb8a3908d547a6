//! Command-line arguments (clap derive). Credentials can come from flags or
//! the environment; they become [`SecretString`]s as they are parsed and
//! their environment values are never shown in `--help`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;

use roster_core::RateLimitMode;

use crate::util::{
    RateLimitArg, parse_rate_limit, parse_rate_limit_mode, parse_secret, parse_timeout,
};

const ABOUT: &str = "Who has access to what in Mattermost and Rocket.Chat: read users, teams, \
roles and memberships into a normalized snapshot (JSON Lines or SQLite), diff snapshots, and \
and report on access: licence seats, access reviews, offboarding checks, dormant accounts.";

const MAIN_HELP: &str = "\
Examples:
  roster demo                                   # try it: two simulated servers, no set-up
  BATON_BASE_URL=https://chat.example.com BATON_API_TOKEN=… \\
    roster sync mattermost --out today.jsonl
  roster validate rocketchat --base-url https://rc.example.com --user-id … --auth-token …
  roster diff yesterday.jsonl today.jsonl
  roster report licenses today.sqlite --format csv > seats.csv
  roster report access-review mm.jsonl rc.sqlite --since last-quarter-mm.jsonl --format html > review.html
  roster report offboarding --who ada@example.com --who grace mm.jsonl rc.jsonl
  roster report dormant mm.jsonl rc.jsonl --days 90

Exit codes:
  0  success (diff: snapshots are equal)
  1  diff: the snapshots differ
  2  usage or input error (bad arguments, unreadable snapshot, cannot write the output)
  3  authentication failed or a permission is missing
  4  connection, TLS, timeout or server failure
  5  incomplete sync: the snapshot was written with \"complete\": false";

/// The `roster` command line.
#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = ABOUT,
    after_help = MAIN_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log what happens to stderr (-v debug, -vv trace; RUST_LOG also works).
    /// Turns the progress display off. Tokens are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read who has access to what and write a snapshot (JSON Lines to stdout by default).
    #[command(after_help = SYNC_HELP)]
    Sync {
        /// The platform.
        #[command(subcommand)]
        platform: SyncPlatform,
    },
    /// Check connectivity, credentials and permissions, and estimate how long a sync takes.
    #[command(after_help = VALIDATE_HELP)]
    Validate {
        /// The platform.
        #[command(subcommand)]
        platform: ValidatePlatform,
    },
    /// Run both simulators in this process and sync them: the quickest way to see roster work.
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Compare two snapshots: resources, entitlements and grants added, removed or changed.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Governance reports from one or several snapshots: licenses, access-review, offboarding, dormant.
    #[command(after_help = REPORT_HELP)]
    Report {
        /// The report.
        #[command(subcommand)]
        report: Report,
    },
}

const SYNC_HELP: &str = concat!(
    "Examples:\n",
    "  roster sync mattermost --base-url https://chat.example.com --out snap.jsonl\n",
    "  roster sync rocketchat --out snap.sqlite --rate-limit 30/60s\n",
    "  roster sync mattermost | jq -c 'select(.kind == \"grant\")'\n",
    "\n",
    "The snapshot is written to PATH.partial and renamed when the sync ends, so PATH always holds a\n",
    "finished sync; files are created owner-only (0600), and a FIFO or device at PATH is written\n",
    "into, never replaced. Its summary says \"complete\": false (exit 5) when anything could not be\n",
    "read or --deadline passed. A write error (disk full) stops the sync at once (exit 2).\n",
    "Ctrl-C stops early and still writes the snapshot, marked incomplete. Credentials may come\n",
    "from the environment variables shown above; their values are never printed. Every other\n",
    "option has a ROSTER_* variable (shown with it), so a sync can be configured without flags.\n",
    "\n",
    "Exit codes: 0 complete, 2 usage, 3 auth/permission, 4 connection/TLS/server, 5 incomplete."
);

const VALIDATE_HELP: &str = concat!(
    "Prints every check (reachable, authenticated, each permission the sync needs and why), whether\n",
    "the token is rate limited, and a plan: requests per endpoint and the estimated duration.\n",
    "\n",
    "Examples:\n",
    "  roster validate mattermost --base-url https://chat.example.com\n",
    "  roster validate rocketchat --format json | jq .plan\n",
    "\n",
    "Exit codes: 0 a complete sync is possible, 2 usage, 3 auth/permission missing,\n",
    "4 connection/TLS/server."
);

const DEMO_HELP: &str = concat!(
    "Starts simulated Mattermost and Rocket.Chat servers on 127.0.0.1 inside this process (no network,\n",
    "no set-up), syncs both with live progress, writes mattermost.jsonl, rocketchat.jsonl,\n",
    "mattermost.sqlite and rocketchat.sqlite and an access review (access-review.html) into DIR,\n",
    "and prints a summary per platform. The simulated activity is recent (relative to now). The\n",
    "simulated Rocket.Chat rate-limit window is shortened to 1 s so the demo is quick.\n",
    "\n",
    "Examples:\n",
    "  roster demo\n",
    "  roster demo --dir /tmp/roster --size medium"
);

const DIFF_HELP: &str = concat!(
    "OLD and NEW are JSON Lines or SQLite snapshots (told apart by content). Activity timestamps\n",
    "(last login, last activity) are not compared. Incomplete snapshots are refused unless\n",
    "--allow-incomplete: a grant missing from an incomplete snapshot is not a revoked grant.\n",
    "\n",
    "Examples:\n",
    "  roster diff monday.jsonl tuesday.sqlite\n",
    "  roster diff old.jsonl new.jsonl --format json | jq '.grants.added'\n",
    "\n",
    "Exit codes: 0 equal, 1 different, 2 usage or unreadable/incomplete snapshot."
);

const REPORT_HELP: &str = concat!(
    "Every report reads one or several snapshots (JSON Lines or SQLite), e.g. a Mattermost and a\n",
    "Rocket.Chat snapshot of the same company read together, and writes --format table (default),\n",
    "csv, json or html (one self-contained page: summary figures, charts, sortable tables; no\n",
    "network). Activity that a snapshot cannot tell (synced with --no-enrich, or the lookups failed)\n",
    "is shown as `unknown`, said on stderr, counted apart, and never counted as inactive or dormant.\n",
    "\n",
    "Reports:\n",
    "  licenses       one row per account; seats licensed (as the server reports it), used, reclaimable\n",
    "  access-review  everyone holding elevated access, flagged; --since OLD… shows what changed\n",
    "  offboarding    every account of the people who left (--who, --who-file); exit 1 if any remains\n",
    "  dormant        enabled accounts with no login or activity in --days N, privileged first\n",
    "\n",
    "Examples:\n",
    "  roster report licenses mm.sqlite rc.jsonl\n",
    "  roster report access-review mm.jsonl rc.jsonl --format html > review.html\n",
    "  roster report offboarding --who-file leavers.txt mm.jsonl rc.jsonl\n",
    "  roster report dormant mm.jsonl rc.jsonl --days 90 --format csv > dormant.csv"
);

const LICENSES_HELP: &str = concat!(
    "Status: deactivated = disabled account; active = enabled with activity or a login within\n",
    "--inactive-days (default 30) before --as-of (default: when each snapshot was taken); inactive =\n",
    "enabled, and the platform reports no activity or login in that window, or never; unknown = the\n",
    "snapshot has no activity data for the account (never counted as inactive). Roles are Mattermost\n",
    "system roles or Rocket.Chat roles, then team roles (team admin, guest, owner, moderator, leader).\n",
    "Seats per platform: licensed (what the server reported at sync time, else \"not reported\"), used\n",
    "(enabled human accounts), reclaimable (used but inactive). With --format csv the totals go to\n",
    "stderr; with several snapshots a Platform column comes first.\n",
    "\n",
    "Examples:\n",
    "  roster report licenses snap.sqlite\n",
    "  roster report licenses mm.jsonl rc.jsonl --format csv > seats.csv\n",
    "  roster report licenses snap.jsonl --as-of 2025-06-30 --inactive-days 90 --format json"
);

const ACCESS_REVIEW_HELP: &str = concat!(
    "Elevated access: Mattermost system roles (system_admin, system_manager, system_user_manager,\n",
    "system_read_only_admin, system_custom_group_admin) and team admins; Rocket.Chat workspace roles\n",
    "other than user/guest/bot/app/anonymous (admin, livechat-*, custom roles) and team\n",
    "owners/moderators/leaders. Flags: deactivated (privileged but disabled), dormant (no activity in\n",
    "--dormant-days), service-admin (bot or app with admin), guest-elevated, no-email.\n",
    "With --since OLD…, access added and removed since the older snapshot(s) of the same server\n",
    "(--since takes every path after it: put it after the snapshots).\n",
    "\n",
    "Examples:\n",
    "  roster report access-review mm.jsonl rc.jsonl\n",
    "  roster report access-review mm.jsonl --since mm-january.jsonl --format csv\n",
    "  roster report access-review mm.jsonl rc.jsonl --format html > review.html"
);

const OFFBOARDING_HELP: &str = concat!(
    "Each --who (or line of --who-file; # comments allowed) is one person: an e-mail address\n",
    "(matched case-insensitively against every address of every account) or a login. Every matching\n",
    "account on every platform is listed with its status, teams and roles, and what remains:\n",
    "an enabled account, elevated access, team memberships.\n",
    "\n",
    "Examples:\n",
    "  roster report offboarding --who ada@example.com --who grace.hopper mm.jsonl rc.jsonl\n",
    "  roster report offboarding --who-file leavers.txt mm.sqlite rc.sqlite --format html > off.html\n",
    "\n",
    "Exit codes: 0 every matched account is disabled and holds nothing (people with no account are\n",
    "listed as such), 1 something remains, 2 usage or unreadable/incomplete snapshot."
);

const DORMANT_HELP: &str = concat!(
    "Dormant = enabled, and the latest of last login and last activity is --days or more before\n",
    "--as-of (default: when each snapshot was taken), or there is none. Accounts whose activity is\n",
    "unknown are counted apart and never listed as dormant. Privileged accounts come first.\n",
    "\n",
    "Examples:\n",
    "  roster report dormant mm.jsonl rc.jsonl --days 90\n",
    "  roster report dormant mm.sqlite --days 30 --format html > dormant.html"
);

/// `roster sync <platform>`.
#[derive(Debug, Subcommand)]
pub enum SyncPlatform {
    /// Sync a Mattermost server (System Admin token).
    #[command(after_help = SYNC_HELP)]
    Mattermost {
        /// Connection.
        #[command(flatten)]
        conn: MattermostArgs,
        /// Output.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Sync a Rocket.Chat workspace.
    #[command(after_help = SYNC_HELP)]
    Rocketchat {
        /// Connection.
        #[command(flatten)]
        conn: RocketChatArgs,
        /// Output.
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `roster validate <platform>`.
#[derive(Debug, Subcommand)]
pub enum ValidatePlatform {
    /// Validate access to a Mattermost server.
    #[command(after_help = VALIDATE_HELP)]
    Mattermost {
        /// Connection.
        #[command(flatten)]
        conn: MattermostArgs,
        /// Output format.
        #[arg(long, env = "ROSTER_VALIDATE_FORMAT", value_enum, default_value_t = TextJson::Text)]
        format: TextJson,
    },
    /// Validate access to a Rocket.Chat workspace.
    #[command(after_help = VALIDATE_HELP)]
    Rocketchat {
        /// Connection.
        #[command(flatten)]
        conn: RocketChatArgs,
        /// Output format.
        #[arg(long, env = "ROSTER_VALIDATE_FORMAT", value_enum, default_value_t = TextJson::Text)]
        format: TextJson,
    },
}

/// HTTP settings shared by every platform.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Allow a plain http:// base URL on a non-loopback host (credentials travel unencrypted).
    #[arg(long, env = "ROSTER_INSECURE_HTTP")]
    pub insecure_http: bool,

    /// Timeout of each request, e.g. 30s or 2m [default: 30s].
    #[arg(long, env = "ROSTER_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// Mattermost connection flags.
#[derive(Debug, Clone, Args)]
pub struct MattermostArgs {
    /// The Mattermost Site URL, e.g. https://chat.example.com.
    #[arg(long, env = "BATON_BASE_URL", value_name = "URL")]
    pub base_url: String,

    /// A personal access token or bot token of a System Admin. The flag form is visible to other
    /// users of the machine (ps, /proc); prefer --api-token-file or the environment.
    #[arg(
        long,
        env = "BATON_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_secret
    )]
    pub api_token: Option<SecretString>,

    /// Read the token from this file (`-`: stdin), surrounding whitespace trimmed. Unlike
    /// --api-token, the token is then not visible to other users of the machine.
    #[arg(long, env = "BATON_API_TOKEN_FILE", value_name = "PATH")]
    pub api_token_file: Option<PathBuf>,

    /// Client-side quota per endpoint, CALLS/DURATION (e.g. 10/1s) or off [default: off; the
    /// server's X-RateLimit headers always pace].
    #[arg(
        long,
        env = "ROSTER_RATE_LIMIT",
        value_name = "CALLS/DURATION",
        value_parser = parse_rate_limit
    )]
    pub rate_limit: Option<RateLimitArg>,

    /// Skip last-login and last-activity enrichment (fewer requests; those columns stay empty).
    #[arg(long, env = "ROSTER_NO_ENRICH")]
    pub no_enrich: bool,

    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Rocket.Chat connection flags.
#[derive(Debug, Clone, Args)]
pub struct RocketChatArgs {
    /// The workspace URL, e.g. https://rc.example.com.
    #[arg(long, env = "BATON_ROCKETCHAT_BASE_URL", value_name = "URL")]
    pub base_url: String,

    /// The API user's id (X-User-Id).
    #[arg(
        long,
        env = "BATON_ROCKETCHAT_USER_ID",
        hide_env_values = true,
        value_name = "ID",
        value_parser = parse_secret
    )]
    pub user_id: SecretString,

    /// The API user's personal access token (X-Auth-Token). The flag form is visible to other
    /// users of the machine (ps, /proc); prefer --auth-token-file or the environment.
    #[arg(
        long,
        env = "BATON_ROCKETCHAT_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_secret
    )]
    pub auth_token: Option<SecretString>,

    /// Read the auth token from this file (`-`: stdin), surrounding whitespace trimmed. Unlike
    /// --auth-token, the token is then not visible to other users of the machine.
    #[arg(long, env = "BATON_ROCKETCHAT_AUTH_TOKEN_FILE", value_name = "PATH")]
    pub auth_token_file: Option<PathBuf>,

    /// Pacing per endpoint: auto, off or CALLS/DURATION. auto (default): no client quota for a
    /// token holding api-bypass-rate-limit that gets no rate-limit headers, the server's own
    /// X-RateLimit-* numbers when it sends them, Rocket.Chat's stock 10/60s until one is known.
    /// CALLS/DURATION (10/60s, 30/60s, 10/1s) is a hard floor, e.g. to match the server's
    /// API_Enable_Rate_Limiter_Limit_Calls_Default / _Time_Default (Administration > Workspace >
    /// Settings > Rate Limiter). off: no client quota. Headers and 429s are honoured in every mode.
    #[arg(
        long,
        env = "ROSTER_RATE_LIMIT",
        value_name = "auto|off|CALLS/DURATION",
        default_value = "auto",
        value_parser = parse_rate_limit_mode
    )]
    pub rate_limit: RateLimitMode,

    /// Read each listing in one request (count=0); needs API_Allow_Infinite_Count on the server.
    #[arg(long, env = "ROSTER_INFINITE_COUNT")]
    pub infinite_count: bool,

    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Where and how a sync writes.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Write the snapshot to PATH instead of stdout.
    #[arg(short, long, env = "ROSTER_OUT", value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Snapshot format [default: from the --out extension: .db/.sqlite/.sqlite3 → sqlite, else jsonl].
    #[arg(long, env = "ROSTER_FORMAT", value_enum)]
    pub format: Option<SnapshotFormat>,

    /// Resources whose grants are read at the same time.
    #[arg(long, env = "ROSTER_CONCURRENCY", value_name = "N", default_value_t = roster_core::DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    /// Do not draw progress bars on stderr (they are only drawn when stderr is a terminal).
    #[arg(long, env = "ROSTER_NO_PROGRESS")]
    pub no_progress: bool,

    /// Continue a sync that was killed: append to `<out>.partial`, skip the
    /// teams listed in `<out>.checkpoint`, never write a line twice
    /// (JSON Lines files only).
    #[arg(long, env = "ROSTER_RESUME", requires = "out")]
    pub resume: bool,

    /// Longest time the sync may take after validation, e.g. 2h or 45m. When it passes,
    /// the snapshot is written with "complete": false and a warning naming the deadline
    /// (exit 5) [default: none].
    #[arg(long, env = "ROSTER_DEADLINE", value_name = "DURATION", value_parser = parse_timeout)]
    pub deadline: Option<Duration>,
}

/// Snapshot formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotFormat {
    /// JSON Lines (`roster-snapshot/1`).
    Jsonl,
    /// SQLite database with tables meta, resources, entitlements, grants.
    Sqlite,
}

/// Text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextJson {
    /// For people.
    Text,
    /// For tools.
    Json,
}

/// Demo sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoSize {
    /// About 25 users and 5 teams per platform (under a second).
    Small,
    /// About 500 users and 40 teams per platform (a few seconds; the
    /// default: shows the Rocket.Chat rate limit at work).
    Medium,
    /// About 5,000 users and 200 teams per platform (about 20 seconds).
    Large,
}

/// `roster demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where to write the snapshots.
    #[arg(long, value_name = "DIR", default_value = "roster-demo")]
    pub dir: PathBuf,

    /// How big the simulated organisations are.
    #[arg(long, value_enum, default_value_t = DemoSize::Medium)]
    pub size: DemoSize,

    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// `roster diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The earlier snapshot (JSON Lines or SQLite; `-` for stdin).
    #[arg(value_name = "OLD")]
    pub old: PathBuf,

    /// The later snapshot.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextJson::Text)]
    pub format: TextJson,

    /// Compare snapshots even when one is incomplete (no summary or "complete": false).
    #[arg(long)]
    pub allow_incomplete: bool,
}

/// `roster report …`.
#[derive(Debug, Subcommand)]
pub enum Report {
    /// One row per user account for licence seat counting: seats licensed, used, reclaimable.
    #[command(after_help = LICENSES_HELP)]
    Licenses(LicensesArgs),
    /// Everyone holding elevated access, with flags; --since shows what changed.
    #[command(after_help = ACCESS_REVIEW_HELP)]
    AccessReview(AccessReviewArgs),
    /// Every account of the people who left, and what they still hold (exit 1 if anything).
    #[command(after_help = OFFBOARDING_HELP)]
    Offboarding(OffboardingArgs),
    /// Enabled accounts with no login or activity in N days, privileged first.
    #[command(after_help = DORMANT_HELP)]
    Dormant(DormantArgs),
}

/// Snapshots and options every report shares.
#[derive(Debug, Clone, Args)]
pub struct ReportInput {
    /// The snapshots (JSON Lines or SQLite; `-` for stdin), one per platform or server.
    #[arg(value_name = "SNAPSHOT", required = true, num_args = 1..)]
    pub snapshots: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,

    /// Report incomplete snapshots anyway (accounts or grants may be missing).
    #[arg(long)]
    pub allow_incomplete: bool,
}

/// `roster report licenses`.
#[derive(Debug, Clone, Args)]
pub struct LicensesArgs {
    /// Snapshots and format.
    #[command(flatten)]
    pub input: ReportInput,

    /// Days without activity or login after which an enabled user counts as inactive.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub inactive_days: u64,

    /// Reference time for "inactive" (2025-06-30 or RFC 3339) [default: when each snapshot was taken].
    #[arg(long, value_name = "DATE", value_parser = crate::report::parse_as_of)]
    pub as_of: Option<roster_core::Timestamp>,
}

/// `roster report access-review`.
#[derive(Debug, Clone, Args)]
pub struct AccessReviewArgs {
    /// Snapshots and format.
    #[command(flatten)]
    pub input: ReportInput,

    /// Older snapshot(s) to compare with: access added and removed since.
    #[arg(long, value_name = "OLD", num_args = 1..)]
    pub since: Vec<PathBuf>,

    /// Days without activity or login after which privileged access is flagged dormant.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub dormant_days: u64,

    /// Reference time for "dormant" (2025-06-30 or RFC 3339) [default: when each snapshot was taken].
    #[arg(long, value_name = "DATE", value_parser = crate::report::parse_as_of)]
    pub as_of: Option<roster_core::Timestamp>,
}

/// `roster report offboarding`.
#[derive(Debug, Clone, Args)]
pub struct OffboardingArgs {
    /// Snapshots and format.
    #[command(flatten)]
    pub input: ReportInput,

    /// A person who left: e-mail address or login (repeatable).
    #[arg(long, value_name = "EMAIL|LOGIN")]
    pub who: Vec<String>,

    /// A file with one e-mail address or login per line.
    #[arg(long, value_name = "PATH")]
    pub who_file: Option<PathBuf>,
}

/// `roster report dormant`.
#[derive(Debug, Clone, Args)]
pub struct DormantArgs {
    /// Snapshots and format.
    #[command(flatten)]
    pub input: ReportInput,

    /// Days without login or activity after which an enabled account is dormant.
    #[arg(long, value_name = "N")]
    pub days: u64,

    /// Reference time (2025-06-30 or RFC 3339) [default: when each snapshot was taken].
    #[arg(long, value_name = "DATE", value_parser = crate::report::parse_as_of)]
    pub as_of: Option<roster_core::Timestamp>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns and totals.
    Table,
    /// RFC 4180 CSV (totals on stderr).
    Csv,
    /// One JSON document.
    Json,
    /// One self-contained HTML page (inline CSS, SVG and script; no network).
    Html,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
