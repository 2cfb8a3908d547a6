//! Error classification: a transport failure, a non-2xx status or a body
//! that does not decode becomes an [`Error`] naming the endpoint, with any
//! server text redacted and cut.

use serde::de::DeserializeOwned;

use super::client::HttpClient;
use crate::error::{Error, Result};

impl HttpClient {
    /// Decodes a body the way [`json`](Self::json) does: a failure names
    /// the endpoint, the JSON path and a redacted excerpt.
    pub fn decode<T: DeserializeOwned>(&self, label: &str, body: &[u8]) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| Error::Decode {
            endpoint: label.to_owned(),
            path: e.path().to_string(),
            message: e.inner().to_string(),
            excerpt: self.excerpt(body),
        })
    }

    pub(super) fn excerpt(&self, body: &[u8]) -> String {
        const MAX: usize = 200;
        // Enough bytes for MAX characters plus any credential straddling
        // the cut; redaction happens before cutting (see `redact_cut`).
        let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4 + 4096)]);
        self.inner.auth.redact_cut(text.trim(), MAX)
    }

    pub(super) fn transport_error(&self, label: &str, e: &reqwest::Error) -> Error {
        let message = self.redact(&root_cause(e));
        if e.is_timeout() {
            Error::Timeout {
                endpoint: label.to_owned(),
                timeout: self.inner.config.timeout,
            }
        } else if e.is_connect() {
            Error::Connect {
                endpoint: label.to_owned(),
                url: self.inner.config.source(),
                message,
            }
        } else {
            Error::Transport {
                endpoint: label.to_owned(),
                message,
            }
        }
    }

    pub(super) fn status_error(&self, endpoint: String, status: u16, body: &[u8]) -> Error {
        let message = server_message(body)
            .map(|m| self.inner.auth.redact_cut(&m, 300))
            .unwrap_or_else(|| self.excerpt(body));
        match status {
            401 => Error::Unauthorized { endpoint, message },
            403 => Error::Forbidden { endpoint, message },
            404 => Error::NotFound { endpoint, message },
            500..=599 => Error::Server {
                endpoint,
                status,
                excerpt: message,
            },
            _ => Error::Status {
                endpoint,
                status,
                excerpt: message,
            },
        }
    }
}

/// The `message` (Mattermost, Rocket.Chat 401) or `error` (Rocket.Chat)
/// field of a JSON error body.
fn server_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = |k: &str| v.get(k).and_then(|m| m.as_str()).filter(|s| !s.is_empty());
    let text = field("message").or_else(|| field("error"))?;
    // Cut by the caller after redaction; bounded here only for memory.
    Some(text.chars().take(300 + 4096).collect())
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    let mut msg = cur.to_string();
    while let Some(next) = cur.source() {
        cur = next;
        msg = cur.to_string();
    }
    msg
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use crate::http::{Auth, ClientOptions, HttpClient, HttpConfig};
    use crate::ratelimit::RateLimitDialect;

    fn client_with(token: &str) -> HttpClient {
        let config = HttpConfig::new(
            "http://127.0.0.1:9",
            RateLimitDialect::MATTERMOST,
            ClientOptions::default(),
        )
        .unwrap();
        HttpClient::new(config, Auth::Bearer(SecretString::from(token))).unwrap()
    }

    /// No 4-character piece of `token` appears in `text`.
    fn leaks(text: &str, token: &str) -> Option<String> {
        (0..=token.len() - 4)
            .map(|i| &token[i..i + 4])
            .find(|piece| text.contains(piece))
            .map(|p| format!("`{p}` of the token leaked in {text:?}"))
    }

    #[test]
    fn a_token_straddling_the_excerpt_cut_never_leaks() {
        const TOKEN: &str = "qz7Kx9vBw2LmNp4RtY8sHj6D";
        let c = client_with(TOKEN);
        for at in 180..200 {
            let body = format!("{}{TOKEN} and more text after it", "x".repeat(at));
            let err = c
                .decode::<Vec<u8>>("GET /x", body.as_bytes())
                .unwrap_err()
                .to_string();
            assert_eq!(leaks(&err, TOKEN), None, "token at {at}");
        }
    }

    #[test]
    fn a_token_straddling_the_server_message_cut_never_leaks() {
        const TOKEN: &str = "qz7Kx9vBw2LmNp4RtY8sHj6D";
        let c = client_with(TOKEN);
        for at in 280..300 {
            let message = format!("{}{TOKEN} trailing", "m".repeat(at));
            let body = serde_json::json!({ "message": message }).to_string();
            let err = c
                .status_error("GET /x".into(), 400, body.as_bytes())
                .to_string();
            assert_eq!(leaks(&err, TOKEN), None, "token at {at}");
            assert!(err.contains("mmmm"), "{err}");
        }
    }
}
