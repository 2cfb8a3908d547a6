//! What the server says about itself, for the snapshot header: version
//! (from the `X-Version-Id` header Mattermost puts on every API answer),
//! edition and licensed seats (from `GET /api/v4/license/client`).
//!
//! `license/client` answers a map of strings. A caller holding
//! `read_license_information` (System Admins) sees `IsLicensed`,
//! `SkuShortName` and `Users` (licensed seats); others get a sanitised map
//! without the SKU. Recent servers may carry no licence data at all: then
//! the edition and seats are simply not reported. Best effort: any failure
//! gives `None`, never a failed sync.

use std::collections::HashMap;

use roster_core::{HttpClient, ServerInfo};

use crate::endpoints::LICENSE_CLIENT;

/// Reads version, edition and licensed seats; `None` when nothing is known.
pub(crate) async fn server_info(client: &HttpClient) -> Option<ServerInfo> {
    let call = LICENSE_CLIENT.call().query("format", "old");
    let resp = client.send_once(&call).await.ok()?;
    let version = resp.header("x-version-id").and_then(version_from_header);
    let map: HashMap<String, String> = client.decode(&call.label(), &resp.body).unwrap_or_default();
    let info = from_license(version, &map);
    (!info.is_empty()).then_some(info)
}

/// `X-Version-Id` is `<version>.<build number>.<config hash>.<licensed>`,
/// e.g. `10.5.1.10.5.1.abc123.true`: the version is its first three parts.
fn version_from_header(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split('.').take(3).collect();
    (parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok())).then(|| parts.join("."))
}

fn from_license(version: Option<String>, map: &HashMap<String, String>) -> ServerInfo {
    let licensed = map.get("IsLicensed").map(String::as_str);
    let (edition, licensed_seats) = match licensed {
        Some("false") => (Some("unlicensed".to_owned()), None),
        Some("true") => (
            map.get("SkuShortName")
                .filter(|s| !s.is_empty())
                .map(|s| s.to_lowercase()),
            map.get("Users")
                .and_then(|u| u.parse::<u64>().ok())
                .filter(|&u| u > 0),
        ),
        // No licence data at all (recent servers): not reported.
        _ => (None, None),
    };
    ServerInfo::default()
        .version(version)
        .edition(edition)
        .licensed_seats(licensed_seats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn licensed_unlicensed_and_silent_servers() {
        let lic = from_license(
            Some("10.5.1".into()),
            &map(&[
                ("IsLicensed", "true"),
                ("SkuShortName", "enterprise"),
                ("Users", "500"),
            ]),
        );
        assert_eq!(lic.edition.as_deref(), Some("enterprise"));
        assert_eq!(lic.licensed_seats, Some(500));
        let free = from_license(None, &map(&[("IsLicensed", "false")]));
        assert_eq!(free.edition.as_deref(), Some("unlicensed"));
        assert_eq!(free.licensed_seats, None);
        // Sanitised (no SKU) or no licence data: nothing made up.
        let sanitised = from_license(None, &map(&[("IsLicensed", "true"), ("Users", "50")]));
        assert_eq!(sanitised.edition, None);
        assert_eq!(sanitised.licensed_seats, Some(50));
        assert!(from_license(None, &HashMap::new()).is_empty());
    }

    #[test]
    fn version_header() {
        assert_eq!(
            version_from_header("10.5.1.10.5.1.abc.true").as_deref(),
            Some("10.5.1")
        );
        assert_eq!(version_from_header("dev"), None);
    }
}
