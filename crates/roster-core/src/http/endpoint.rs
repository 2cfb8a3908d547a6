//! Endpoints and the calls built on them: a method and a path template
//! (the rate-limit bucket), path parameters, query and JSON body.

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Result};

/// HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST (used only for read-only lookups such as Mattermost's status ids).
    Post,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One endpoint of a platform API: method and path template relative to the
/// base URL, e.g. `Endpoint::get("/api/v4/teams/{team_id}/members")`. The
/// template (not the filled-in path) is the rate-limit bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The method.
    pub method: Method,
    /// The path template; `{name}` segments are filled by [`Call::param`].
    pub path: &'static str,
}

impl Endpoint {
    /// A GET endpoint.
    pub const fn get(path: &'static str) -> Self {
        Self {
            method: Method::Get,
            path,
        }
    }
    /// A POST endpoint.
    pub const fn post(path: &'static str) -> Self {
        Self {
            method: Method::Post,
            path,
        }
    }
    /// The rate-limit bucket: `"GET /api/v1/users.list"`.
    pub fn bucket(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
    /// Starts a call to this endpoint.
    pub fn call(&self) -> Call {
        Call {
            endpoint: *self,
            path: self.path.to_owned(),
            query: Vec::new(),
            body: None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

/// A call being built: path parameters, query and body.
#[derive(Debug, Clone)]
pub struct Call {
    pub(super) endpoint: Endpoint,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<Vec<u8>>,
}

impl Call {
    /// Fills the `{name}` segment with `value` (percent-encoded).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        let encoded = encode_path_segment(value);
        self.path = self.path.replace(&format!("{{{name}}}"), &encoded);
        self
    }
    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }
    /// Sets a JSON body. Fails with [`Error::Encode`] when `body` cannot be
    /// serialised (e.g. a map with non-string keys): nothing is sent then,
    /// rather than an empty body.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Encode {
            endpoint: self.label(),
            message: e.to_string(),
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
    /// `METHOD /path` without query: how errors and logs name the call.
    pub fn label(&self) -> String {
        format!("{} {}", self.endpoint.method.as_str(), self.path)
    }
    /// The endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_percent_encoded() {
        const E: Endpoint = Endpoint::get("/api/v4/teams/{team_id}/members");
        let call = E.call().param("team_id", "a/b c");
        assert_eq!(call.label(), "GET /api/v4/teams/a%2Fb%20c/members");
        assert_eq!(E.bucket(), "GET /api/v4/teams/{team_id}/members");
    }

    #[test]
    fn a_body_that_does_not_serialise_is_an_error_not_an_empty_body() {
        use std::collections::BTreeMap;
        const EP: Endpoint = Endpoint::post("/api/v4/users/status/ids");
        // JSON object keys must be strings: a tuple key cannot be written.
        let bad: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
        let err = EP.call().json(&bad).unwrap_err();
        assert!(
            matches!(&err, Error::Encode { endpoint, .. } if endpoint == "POST /api/v4/users/status/ids"),
            "{err}"
        );
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(!err.is_retryable());
        let ok = EP.call().json(&["a", "b"]).unwrap();
        assert_eq!(ok.body.as_deref(), Some(&br#"["a","b"]"#[..]));
    }
}
