//! What the server says about itself, for the snapshot header: the version
//! from `GET /api/info` (no `/v1`, no auth) and the active-user limit from
//! `GET /api/v1/licenses.maxActiveUsers` (`{maxActiveUsers, activeUsers}`,
//! `maxActiveUsers` `null` when the workspace has no limit). Best effort:
//! any failure leaves that part unreported, never a failed sync.

use roster_core::{Endpoint, HttpClient, ServerInfo};
use serde::Deserialize;

use crate::endpoints::{INFO, InfoDto, LICENSES_MAX_ACTIVE_USERS};

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
    let version = once::<InfoDto>(client, INFO)
        .await
        .and_then(InfoDto::version);
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
