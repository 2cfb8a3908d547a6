//! Credentials: how they reach the wire (headers marked sensitive) and how
//! they are kept out of every text roster shows (redaction).

use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// Credentials, sent only in headers marked sensitive and never printed.
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>` (Mattermost).
    Bearer(SecretString),
    /// Custom headers (Rocket.Chat `X-Auth-Token` and `X-User-Id`), by
    /// lowercase header name. A name that is not a valid header name makes
    /// every request fail with a configuration error.
    Headers(Vec<(&'static str, SecretString)>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            Auth::Bearer(_) => f.write_str("Auth::Bearer([REDACTED])"),
            Auth::Headers(h) => {
                let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
                write!(f, "Auth::Headers({names:?} = [REDACTED])")
            }
        }
    }
}

impl Auth {
    pub(super) fn apply(&self, headers: &mut HeaderMap) -> Result<()> {
        let sensitive = |s: &str| -> Result<HeaderValue> {
            let mut v = HeaderValue::from_str(s).map_err(|_| {
                Error::Config("the token contains characters not allowed in an HTTP header".into())
            })?;
            v.set_sensitive(true);
            Ok(v)
        };
        match self {
            Auth::None => {}
            Auth::Bearer(token) => {
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    sensitive(&format!("Bearer {}", token.expose_secret()))?,
                );
            }
            Auth::Headers(pairs) => {
                for (name, value) in pairs {
                    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        Error::Config(format!("`{name}` is not a valid HTTP header name"))
                    })?;
                    headers.insert(name, sensitive(value.expose_secret())?);
                }
            }
        }
        Ok(())
    }

    /// Replaces every credential in `text` by `[REDACTED]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in self.secrets() {
            if s.len() >= 4 {
                out = out.replace(s, "[REDACTED]");
            }
        }
        out
    }

    /// Redacts `text`, then keeps its first `max_chars` characters (adding
    /// `…` when it was longer). Redacting first means a credential
    /// straddling the cut is still found whole; a credential's beginning
    /// (4 characters or more) left at the very end of the cut is masked too.
    pub fn redact_cut(&self, text: &str, max_chars: usize) -> String {
        let full = self.redact(text);
        if full.chars().count() <= max_chars {
            return full;
        }
        let mut short: String = full.chars().take(max_chars).collect();
        // The longest credential prefix the cut text ends with.
        let tail = self
            .secrets()
            .filter_map(|s| {
                s.char_indices()
                    .map(|(i, c)| i + c.len_utf8())
                    .filter(|&end| end >= 4 && short.ends_with(&s[..end]))
                    .max()
            })
            .max();
        if let Some(n) = tail {
            short.truncate(short.len() - n);
            short.push_str("[REDACTED]");
        }
        short.push('…');
        short
    }

    fn secrets(&self) -> impl Iterator<Item = &str> {
        let (one, many): (Option<&SecretString>, &[(&'static str, SecretString)]) = match self {
            Auth::None => (None, &[]),
            Auth::Bearer(t) => (Some(t), &[]),
            Auth::Headers(pairs) => (None, pairs.as_slice()),
        };
        one.into_iter()
            .chain(many.iter().map(|(_, v)| v))
            .map(|s| s.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_debug_and_redact_hide_secrets() {
        let auth = Auth::Bearer(SecretString::from("tok-123456"));
        assert!(!format!("{auth:?}").contains("tok-123456"));
        assert_eq!(auth.redact("x tok-123456 y"), "x [REDACTED] y");
    }

    #[test]
    fn redact_cut_keeps_short_text_and_masks_a_prefix_at_the_cut() {
        let auth = Auth::Bearer(SecretString::from("secret-token"));
        assert_eq!(auth.redact_cut("short", 10), "short");
        assert_eq!(auth.redact_cut("abcsecret-token", 8), "abc[REDA…");
        // Only the token's beginning is in the text (the body was cut
        // before): it is masked where it ends at the cut.
        assert_eq!(
            auth.redact_cut("abcsecret-to and more", 12),
            "abc[REDACTED]…"
        );
        assert_eq!(auth.redact_cut("abc se and more", 6), "abc se…");
    }
}
