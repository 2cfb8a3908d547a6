//! Dependency hygiene that needs no network: crates with known advisories
//! must not enter the build (see docs/adr/0001-backon-not-backoff.md).
//!
//! It lives in the root package, whose directory holds the workspace's
//! `Cargo.lock`: a library crate's tests must not read files outside their
//! own package (they would break once the crate is published).

#[test]
fn unmaintained_crates_are_not_in_the_lock_file() {
    let lock_path = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock");
    let lock = std::fs::read_to_string(lock_path).expect("Cargo.lock at the workspace root");
    for (name, why) in [
        ("backoff", "unmaintained, RUSTSEC-2025-0012: use backon"),
        ("instant", "unmaintained, RUSTSEC-2024-0384"),
        ("openssl", "TLS is rustls only"),
        ("native-tls", "TLS is rustls only"),
        (
            "quanta",
            "governor runs on roster's TokioClock: no `quanta` feature",
        ),
    ] {
        let needle = format!("\nname = \"{name}\"\n");
        assert!(!lock.contains(&needle), "`{name}` is in Cargo.lock: {why}");
    }
}
