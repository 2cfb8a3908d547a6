//! What the server says about itself, for the snapshot header: the version
//! from `GET /api/info` (no `/v1`, no auth) and the active-user limit from
//! `GET /api/v1/licenses.maxActiveUsers` (`{maxActiveUsers, activeUsers}`,
//! `maxActiveUsers` `null` when the workspace has no limit). Best effort:
//! any failure leaves that part unreported, never a failed sync.

use roster_core::{Endpoint, HttpClient, ServerInfo};
use serde::Deserialize;

/// Server version; needs no authentication.
pub(crate) const API_INFO: Endpoint = Endpoint::get("/api/info");
/// The workspace's active-user limit and current count.
pub(crate) const LICENSES_MAX_ACTIVE_USERS: Endpoint =
    Endpoint::get("/api/v1/licenses.maxActiveUsers");

#[derive(Debug, Deserialize)]
struct ApiInfo {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaxActiveUsers {
    #[serde(default)]
    max_active_users: Option<u64>,
}

/// One attempt (no retries: this is optional data), decoded.
async fn once<T: serde::de::DeserializeOwned>(
    client: &HttpClient,
    endpoint: Endpoint,
) -> Option<T> {
    let call = endpoint.call();
    let resp = client.send_once(&call).await.ok()?;
    client.decode(&call.label(), &resp.body).ok()
}

/// Reads version and seat limit; `None` when nothing is known.
pub(crate) async fn server_info(client: &HttpClient) -> Option<ServerInfo> {
    let version = once::<ApiInfo>(client, API_INFO)
        .await
        .and_then(|i| i.version)
        .filter(|v| !v.is_empty());
    let licensed_seats = once::<MaxActiveUsers>(client, LICENSES_MAX_ACTIVE_USERS)
        .await
        .and_then(|m| m.max_active_users)
        .filter(|&n| n > 0);
    let info = ServerInfo::default()
        .version(version)
        .edition(None)
        .licensed_seats(licensed_seats);
    (!info.is_empty()).then_some(info)
}
