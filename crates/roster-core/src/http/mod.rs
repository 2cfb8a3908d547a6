//! The HTTP layer: one `reqwest` client per sync, base-URL joining that keeps
//! subpaths, credentials in sensitive headers, no redirects, timeouts, a body
//! size cap, error classification, and every call paced (limiter + header
//! gate) and retried (backon).
//!
//! One concept per module:
//!
//! * `endpoint`: [`Endpoint`], [`Method`] and the [`Call`] built on one;
//! * `auth`: [`Auth`], credentials in sensitive headers, and redaction;
//! * `options`: [`ClientOptions`] (every default) and [`HttpConfig`];
//! * `url`: [`parse_base_url`], the base-URL rules;
//! * `client`: [`HttpClient`], how it is built and what it knows
//!   ([`HttpClient::server_limit`]);
//! * `request`: sending a call (pacing, retries, the body cap);
//! * `budget`: the time budget of one request;
//! * `classify`: transport failures, statuses and bodies → [`Error`](crate::Error);
//! * `response`: [`Response`];
//! * `notices`: progress events and notices for the engine.

mod auth;
mod budget;
mod classify;
mod client;
mod endpoint;
mod notices;
mod options;
mod request;
mod response;
mod url;

pub use auth::Auth;
pub use client::HttpClient;
pub use endpoint::{Call, Endpoint, Method};
pub use options::{ClientOptions, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_BUDGET, HttpConfig};
pub use response::Response;
pub use url::parse_base_url;
