//! Hostile input: every decoder and header parser returns a value or a
//! typed error, never panics.

use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use roster_core::ratelimit::{RateLimitDialect, parse_retry_after};
use roster_core::{Auth, EntitlementId, Error, HttpClient, HttpConfig, Snapshot};

fn headers(pairs: &[(&'static str, Vec<u8>)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_bytes(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    h
}

fn client() -> HttpClient {
    let c = HttpConfig::new(
        "https://chat.example.com",
        RateLimitDialect::ROCKETCHAT,
        Default::default(),
    )
    .unwrap();
    HttpClient::new(c, Auth::None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rate_limit_headers_never_panic(
        limit in proptest::collection::vec(any::<u8>(), 0..30),
        remaining in prop_oneof![Just(b"-1".to_vec()), Just(b"1e309".to_vec()), Just(b"NaN".to_vec()), proptest::collection::vec(any::<u8>(), 0..30)],
        reset in prop_oneof![Just(b"99999999999999999999999999".to_vec()), Just(b"-5".to_vec()), any::<u64>().prop_map(|n| n.to_string().into_bytes()), proptest::collection::vec(any::<u8>(), 0..30)],
        retry in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let h = headers(&[("x-ratelimit-limit", limit), ("x-ratelimit-remaining", remaining), ("x-ratelimit-reset", reset), ("retry-after", retry)]);
        for dialect in [RateLimitDialect::ROCKETCHAT, RateLimitDialect::MATTERMOST] {
            let info = dialect.parse(|n| h.get(n).and_then(|v| v.to_str().ok()));
            if let Some(w) = info.wait_after_rejection() {
                prop_assert!(w <= roster_core::ratelimit::MAX_HEADER_WAIT + std::time::Duration::from_secs(1));
            }
        }
    }

    #[test]
    fn retry_after_never_panics(s in ".{0,60}") {
        let _ = parse_retry_after(&s);
    }

    #[test]
    fn entitlement_ids_parse_or_err(s in ".{0,60}") {
        if let Ok(id) = s.parse::<EntitlementId>() {
            prop_assert_eq!(id.to_string().parse::<EntitlementId>().unwrap(), id);
        }
    }

    #[test]
    fn snapshot_reader_never_panics(s in "(\\{\"kind\":\"[a-z]{0,9}\".{0,40}\\}\n){0,5}") {
        let _ = Snapshot::from_jsonl(&s);
    }

    #[test]
    fn json_decoding_gives_typed_errors(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        match client().decode::<Vec<std::collections::HashMap<String, String>>>("GET /x", &body) {
            Ok(_) => {}
            Err(Error::Decode { endpoint, .. }) => prop_assert_eq!(endpoint, "GET /x"),
            Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
        }
    }
}

#[test]
fn deeply_nested_json_is_a_decode_error() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = client()
        .decode::<serde_json::Value>("GET /x", body.as_bytes())
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[test]
fn non_utf8_bodies_are_decode_errors_with_an_excerpt() {
    let err = client()
        .decode::<Vec<String>>("GET /x", &[0xff, 0xfe, b'[', 0x80])
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("GET /x"), "{text}");
}
