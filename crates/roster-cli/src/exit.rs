//! Exit codes and the one-line error report (`error: …` + `hint: …`).

use std::fmt;
use std::io;
use std::process::ExitCode;

use roster_core::ErrorKind;

/// Success (or, for `diff`, no difference).
pub const OK: u8 = 0;
/// `diff` found differences.
pub const DIFFERENT: u8 = 1;
/// Usage, configuration or input error.
pub const USAGE: u8 = 2;
/// Credentials rejected or a permission missing.
pub const AUTH: u8 = 3;
/// Network, DNS, TLS, timeout or server failure.
pub const CONNECTION: u8 = 4;
/// The sync finished but the snapshot is incomplete (`complete:false`).
pub const INCOMPLETE: u8 = 5;

/// An error that knows its exit code and what the user should check.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// One line saying what went wrong.
    pub message: String,
    /// One line saying what to check.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with exit code `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(USAGE, message)
    }

    /// Classifies a connector error; `validate_cmd` is the command hints
    /// suggest for listing permissions (e.g. `roster validate mattermost`).
    pub fn from_core(err: &roster_core::Error, validate_cmd: &str) -> Self {
        use roster_core::Error as E;
        let message = one_line(&err.to_string());
        let (code, hint) = match err.kind() {
            ErrorKind::Config => (
                USAGE,
                match err {
                    E::InsecureHttp { .. } => {
                        "use an https:// base URL, or --insecure-http for plain http on a trusted network".to_owned()
                    }
                    _ => "check the base URL and credential flags (see --help)".to_owned(),
                },
            ),
            ErrorKind::Auth => (
                AUTH,
                match err {
                    E::Unauthorized { .. } => {
                        "check that the token is correct, not expired and not revoked".to_owned()
                    }
                    _ => format!(
                        "use a token that holds the missing permission; `{validate_cmd}` lists every permission the sync needs"
                    ),
                },
            ),
            ErrorKind::Connection => (
                CONNECTION,
                "is the URL right and the server up? try `curl -I <base URL>` from this machine".to_owned(),
            ),
            ErrorKind::Server | ErrorKind::NotFound => (
                CONNECTION,
                "the server answered, but not usefully; retry later, raise --timeout, or run with -v for details".to_owned(),
            ),
            ErrorKind::Sink => (
                USAGE,
                "check that the output path is writable and the disk is not full".to_owned(),
            ),
            _ => (CONNECTION, "run with -v for details".to_owned()),
        };
        Self::new(code, message).hint(hint)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Flattens a message onto one line.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the error chain contains a broken pipe (the reader of stdout went away).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints `err` as `error: …` and `hint: …` on stderr and returns its exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::from(OK);
    }
    let (code, message, hint) = if let Some(f) = err.downcast_ref::<Failure>() {
        (f.code, f.message.clone(), f.hint.clone())
    } else if let Some(core) = err.downcast_ref::<roster_core::Error>() {
        let f = Failure::from_core(core, "roster validate");
        (f.code, f.message, f.hint)
    } else {
        (USAGE, one_line(&format!("{err:#}")), None)
    };
    // Messages quote server text and snapshot content: one line, no controls.
    eprintln!("error: {}", crate::escape::term(&message));
    if let Some(hint) = hint {
        eprintln!("hint: {}", crate::escape::term(&hint));
    }
    ExitCode::from(code)
}
