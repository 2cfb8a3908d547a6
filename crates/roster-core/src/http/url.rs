//! Base-URL rules: http(s) only, no credentials in the URL, https off
//! loopback unless allowed, subpaths kept.

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

/// Checks and normalises a base URL: http(s) only; no `user:pass@`; https
/// unless the host is loopback or `allow_insecure_http`; query and fragment
/// dropped; subpaths kept (`https://host/chat` → `https://host/chat/`).
pub fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::Config(
            "the base URL is empty; pass e.g. https://chat.example.com".into(),
        ));
    }
    let mut url = Url::parse(raw).map_err(|e| {
        Error::Config(format!(
            "the base URL is not a valid URL ({e}); pass e.g. https://chat.example.com"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the base URL contains credentials (user:pass@host); remove them and pass the token with its own option or environment variable".into(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Error::Config("the base URL has no host".into()))?
        .to_owned();
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&host) && !allow_insecure_http {
                return Err(Error::InsecureHttp { host });
            }
        }
        other => {
            return Err(Error::Config(format!(
                "the base URL scheme `{other}` is not supported; use https://"
            )));
        }
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_subpaths_and_lose_queries() {
        let u = parse_base_url("https://host/chat", false).unwrap();
        assert_eq!(u.as_str(), "https://host/chat/");
        assert_eq!(
            u.join("api/v4/users").unwrap().as_str(),
            "https://host/chat/api/v4/users"
        );
        let u = parse_base_url("https://host/chat/?x=1#f", false).unwrap();
        assert_eq!(u.as_str(), "https://host/chat/");
        let u = parse_base_url("http://127.0.0.1:8065", false).unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:8065/");
        assert!(parse_base_url("http://[::1]:80", false).is_ok());
    }

    #[test]
    fn base_url_refusals_say_why() {
        let msg = |s: &str| parse_base_url(s, false).unwrap_err().to_string();
        assert!(msg("https://bob:secret@host").contains("credentials"));
        assert!(!msg("https://bob:secret@host").contains("secret"));
        assert!(matches!(
            parse_base_url("http://chat.example.com", false),
            Err(Error::InsecureHttp { host }) if host == "chat.example.com"
        ));
        assert!(msg("http://chat.example.com").contains("unencrypted"));
        assert!(parse_base_url("http://chat.example.com", true).is_ok());
        assert!(msg("ftp://host").contains("scheme"));
        assert!(msg("not a url").contains("not a valid URL"));
        assert!(msg("").contains("empty"));
    }
}
