//! Where a token comes from: its flag or variable, or a token file
//! (`--api-token-file`, `--auth-token-file`, `-` for stdin) so it never
//! appears in the process list.

use std::io::Read as _;
use std::path::Path;

use secrecy::SecretString;
use secrecy::zeroize::Zeroize as _;

use crate::exit::Failure;

/// A token file larger than this is not a token file.
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// The names a platform's token goes by, for messages.
#[derive(Debug)]
pub struct Names {
    /// `--api-token`.
    pub flag: &'static str,
    /// `BATON_API_TOKEN`.
    pub env: &'static str,
    /// `--api-token-file`.
    pub file_flag: &'static str,
    /// `BATON_API_TOKEN_FILE`.
    pub file_env: &'static str,
}

/// Mattermost's token.
pub const MATTERMOST: Names = Names {
    flag: "--api-token",
    env: "BATON_API_TOKEN",
    file_flag: "--api-token-file",
    file_env: "BATON_API_TOKEN_FILE",
};

/// Rocket.Chat's auth token.
pub const ROCKETCHAT: Names = Names {
    flag: "--auth-token",
    env: "BATON_ROCKETCHAT_AUTH_TOKEN",
    file_flag: "--auth-token-file",
    file_env: "BATON_ROCKETCHAT_AUTH_TOKEN_FILE",
};

/// The token from exactly one of `direct` (flag or variable) and `file`.
pub fn resolve(
    direct: Option<&SecretString>,
    file: Option<&Path>,
    names: &Names,
) -> Result<SecretString, Failure> {
    match (direct, file) {
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "both a token ({} or {}) and a token file ({} or {}) are given",
            names.flag, names.env, names.file_flag, names.file_env
        ))
        .hint("give the token one way only: unset the variable or drop one of the flags")),
        (Some(token), None) => Ok(token.clone()),
        (None, Some(path)) => read_file(path, names),
        (None, None) => Err(Failure::usage(format!(
            "no token: pass {} PATH (`-` reads stdin), or set {} or {}",
            names.file_flag, names.file_env, names.env
        ))
        .hint(format!(
            "{} TOKEN works too, but other users of the machine can see it in the process list",
            names.flag
        ))),
    }
}

/// Reads a token file (`-`: stdin), trimmed; refuses an empty or oversized
/// file and one holding more than one word.
pub fn read_file(path: &Path, names: &Names) -> Result<SecretString, Failure> {
    let stdin = path.as_os_str() == "-";
    let what = if stdin {
        format!("the token read from stdin ({} -)", names.file_flag)
    } else {
        format!("the token file `{}`", path.display())
    };
    let mut buf = Vec::new();
    let read = if stdin {
        std::io::stdin()
            .lock()
            .take(MAX_TOKEN_FILE + 1)
            .read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_TOKEN_FILE + 1).read_to_end(&mut buf))
    };
    if let Err(e) = read {
        buf.zeroize();
        return Err(
            Failure::usage(format!("cannot read {what}: {e}")).hint(format!(
                "check the path given to {} or {}",
                names.file_flag, names.file_env
            )),
        );
    }
    let refuse = |buf: &mut Vec<u8>, why: &str| -> Result<SecretString, Failure> {
        buf.zeroize();
        Err(Failure::usage(format!("{what} {why}"))
            .hint("write only the token into it, on one line (surrounding whitespace is trimmed)"))
    };
    if buf.len() as u64 > MAX_TOKEN_FILE {
        return refuse(&mut buf, "is larger than 64 KiB: it does not hold a token");
    }
    let Ok(mut text) = String::from_utf8(std::mem::take(&mut buf)) else {
        return refuse(&mut buf, "is not UTF-8 text");
    };
    let token = text.trim();
    let result = if token.is_empty() {
        Err("is empty")
    } else if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("holds more than one word or line; a token is one word")
    } else {
        Ok(SecretString::from(token))
    };
    text.zeroize();
    match result {
        Ok(secret) => {
            if !stdin && let Some(mode) = readable_by_others(path) {
                eprintln!(
                    "warning: the token file `{}` is readable by other users (mode {mode:o}); `chmod 600` it",
                    path.display()
                );
            }
            Ok(secret)
        }
        Err(why) => refuse(&mut Vec::new(), why),
    }
}

/// The file's permission bits when group or others may read it.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn reads_trimmed_and_refuses_empty_or_odd_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "  abc123\r\n").unwrap();
        assert_eq!(
            read_file(&p, &MATTERMOST).unwrap().expose_secret(),
            "abc123"
        );
        for (content, why) in [
            ("", "is empty"),
            (" \n\t", "is empty"),
            ("abc\ndef\n", "one word"),
        ] {
            std::fs::write(&p, content).unwrap();
            let e = read_file(&p, &MATTERMOST).unwrap_err();
            assert!(e.message.contains(why), "{}", e.message);
            assert!(e.message.contains(p.to_str().unwrap()), "{}", e.message);
            assert_eq!(e.code, crate::exit::USAGE);
        }
        std::fs::write(&p, vec![b'a'; 70_000]).unwrap();
        assert!(read_file(&p, &MATTERMOST).is_err());
        let e = read_file(&dir.path().join("none"), &ROCKETCHAT).unwrap_err();
        assert!(e.message.contains("cannot read"), "{}", e.message);
    }

    #[cfg(unix)]
    #[test]
    fn loose_permissions_are_noticed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "abc").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(readable_by_others(&p), Some(0o640));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(readable_by_others(&p), None);
    }

    #[test]
    fn exactly_one_source() {
        let t = SecretString::from("x");
        let p = Path::new("/nonexistent");
        assert!(resolve(Some(&t), Some(p), &MATTERMOST).is_err());
        assert!(resolve(None, None, &MATTERMOST).is_err());
        assert_eq!(
            resolve(Some(&t), None, &MATTERMOST)
                .unwrap()
                .expose_secret(),
            "x"
        );
    }
}
