//! [`Response`]: a 2xx answer, its status, headers and body.

use bytes::Bytes;
use reqwest::header::HeaderMap;

/// A response that passed classification (2xx).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The headers (read them with [`Response::header`]).
    pub(crate) headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// The value of header `name` (case-insensitive), when present and
    /// visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
