//! Shared by the `cli_*` tests: a small builder for `roster` command lines,
//! the run result with its assertions, and snapshot helpers.
//!
//! Each test starts a simulator on 127.0.0.1 inside the test process and runs
//! the real binary (`CARGO_BIN_EXE_roster`) on a blocking thread.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin_cmd;
use roster_core::Snapshot;
use roster_sim::mattermost::MattermostSim;
use roster_sim::rocketchat::{self as rc, FixedWindow, RocketChatSim};

/// Every token a test hands the binary; none may appear in any output.
pub const SECRETS: &[&str] = &[
    MattermostSim::ADMIN_TOKEN,
    MattermostSim::USER_TOKEN,
    MattermostSim::BOT_TOKEN,
];

/// A `roster` command line: arguments in order, environment, and
/// optionally standard input, a longer time limit than the default 60 s, a
/// file-size limit and a umask (then run through `sh -c`).
#[derive(Debug, Clone, Default)]
pub struct Roster {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    file_blocks: Option<u64>,
    umask: Option<u32>,
}

impl Roster {
    /// `roster args…`.
    pub fn new(args: &[&str]) -> Self {
        Self::default().args(args)
    }
    /// `roster sync <platform>`.
    pub fn sync(platform: &str) -> Self {
        Self::new(&["sync", platform])
    }
    /// `roster validate <platform>`.
    pub fn validate(platform: &str) -> Self {
        Self::new(&["validate", platform])
    }
    /// `roster diff <old> <new>`.
    pub fn diff(old: &Path, new: &Path) -> Self {
        Self::new(&["diff", s(old), s(new)])
    }
    /// `roster report <kind> <snapshot>`.
    pub fn report(kind: &str, snapshot: &Path) -> Self {
        Self::new(&["report", kind, s(snapshot)])
    }
    /// `roster demo --dir <dir>`.
    pub fn demo(dir: &Path) -> Self {
        Self::new(&["demo", "--dir", s(dir)])
    }
    /// One more argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }
    /// More arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }
    /// `--base-url <url>`.
    pub fn base_url(self, url: &str) -> Self {
        self.args(&["--base-url", url])
    }
    /// `--out <path>`.
    pub fn out(self, path: &Path) -> Self {
        self.args(&["--out", s(path)])
    }
    /// `--format <format>`.
    pub fn format(self, format: &str) -> Self {
        self.args(&["--format", format])
    }
    /// `--rate-limit <limit>`.
    pub fn rate_limit(self, limit: &str) -> Self {
        self.args(&["--rate-limit", limit])
    }
    /// `--user-id <id> --auth-token <token>` (Rocket.Chat credentials as flags).
    pub fn rc_login(self, user_id: &str, token: &str) -> Self {
        self.args(&["--user-id", user_id, "--auth-token", token])
    }
    /// One environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
    /// Several environment variables.
    pub fn envs(self, vars: &[(&str, &str)]) -> Self {
        vars.iter().fold(self, |r, (k, v)| r.env(k, v))
    }
    /// `BATON_API_TOKEN` (Mattermost).
    pub fn mm_token(self, token: &str) -> Self {
        self.env("BATON_API_TOKEN", token)
    }
    /// `BATON_ROCKETCHAT_USER_ID` and `BATON_ROCKETCHAT_AUTH_TOKEN`.
    pub fn rc_env(self, user_id: &str, token: &str) -> Self {
        self.env("BATON_ROCKETCHAT_USER_ID", user_id)
            .env("BATON_ROCKETCHAT_AUTH_TOKEN", token)
    }
    /// Feeds `input` on standard input.
    pub fn stdin(mut self, input: Vec<u8>) -> Self {
        self.stdin = Some(input);
        self
    }
    /// Kills the run after `limit` (default 60 s).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
    /// At most `blocks` blocks of 512 bytes per written file (`ulimit -f`;
    /// a stand-in for a full disk), SIGXFSZ ignored so a write fails with
    /// EFBIG instead of killing the process.
    pub fn ulimit_file_blocks(mut self, blocks: u64) -> Self {
        self.file_blocks = Some(blocks);
        self
    }
    /// Runs with this umask (e.g. `0o022`).
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }
    /// Runs it (with no inherited BATON_* / ROSTER_* variables or RUST_LOG).
    pub async fn run(self) -> Run {
        let Self {
            args,
            env,
            stdin,
            timeout,
            file_blocks,
            umask,
        } = self;
        let mut prelude = Vec::new();
        if let Some(blocks) = file_blocks {
            prelude.push(format!("trap '' XFSZ; ulimit -f {blocks}"));
        }
        if let Some(mask) = umask {
            prelude.push(format!("umask {mask:03o}"));
        }
        let out: Output = tokio::task::spawn_blocking(move || {
            let mut cmd = if prelude.is_empty() {
                cargo_bin_cmd!("roster")
            } else {
                // The limits apply to the shell, which then becomes roster.
                let mut sh = assert_cmd::Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{}; exec \"$0\" \"$@\"", prelude.join("; ")))
                    .arg(env!("CARGO_BIN_EXE_roster"));
                sh
            };
            for (k, _) in std::env::vars() {
                if k.starts_with("BATON_") || k.starts_with("ROSTER_") || k == "RUST_LOG" {
                    cmd.env_remove(k);
                }
            }
            cmd.args(&args)
                .envs(env)
                .timeout(timeout.unwrap_or(Duration::from_secs(60)));
            if let Some(input) = stdin {
                cmd.write_stdin(input);
            }
            cmd.output().expect("run roster")
        })
        .await
        .expect("join");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    /// stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).expect("a JSON document")
    }
    pub fn assert_no_secret(&self, secrets: &[&str]) -> &Self {
        for s in SECRETS.iter().chain(secrets) {
            assert!(
                !self.stdout.contains(s),
                "stdout leaks a token: {}",
                self.stdout
            );
            assert!(
                !self.stderr.contains(s),
                "stderr leaks a token: {}",
                self.stderr
            );
        }
        self
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn read_snapshot(path: &Path) -> Snapshot {
    Snapshot::from_jsonl(&std::fs::read_to_string(path).expect("read snapshot"))
        .expect("valid snapshot")
}

pub fn assert_file_has_no_secret(path: &Path, secrets: &[&str]) {
    let bytes = std::fs::read(path).expect("read file");
    for secret in SECRETS.iter().chain(secrets) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} contains a token",
            path.display()
        );
    }
}

pub fn sqlite_rows(path: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).expect("open sqlite");
    let mut stmt = conn.prepare(sql).expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// A Rocket.Chat simulator with a short fixed window (5 calls per 300 ms).
pub fn rc_fast_sim(spec: rc::OrgSpec) -> RocketChatSim {
    let mut options = rc::SimOptions::default();
    options.rate_limit = Some(FixedWindow {
        calls: 5,
        window: Duration::from_millis(300),
    });
    RocketChatSim::with_options(spec, options)
}
