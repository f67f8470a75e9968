//! Session keys from cookies and the file engine's names built from them: only a well-formed
//! key is a key, its hash (kept per thread between calls) is its SHA-256, logs never show it,
//! and no key or address from elsewhere names a file outside the session directory.

#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use sessionkit::engine::Addressing;
use sessionkit::engine::SessionKey;
use sessionkit::fuzzing::{is_key_hash, lock_file_path, session_file_path};
use sha2::{Digest, Sha256};

const DIR: &str = "/var/lib/sessions";

// Each line is a cookie value or an address. Several in a row, as requests arrive on one
// thread: the hash kept from the previous key must never answer for another.
fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Ok(candidate) = std::str::from_utf8(line) {
            check_cookie_value(candidate);
            check_address(candidate);
        }
    }
});

fn check_cookie_value(value: &str) {
    let key = SessionKey::parse(value);
    assert_eq!(key.is_some(), SessionKey::is_well_formed(value));
    let Some(key) = key else { return };
    assert_eq!(key.as_str(), value);
    assert!((8..=40).contains(&value.len()), "{value:?}");
    assert!(
        value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{value:?}"
    );
    let hashed = key.hashed();
    let sha256: String = Sha256::digest(value.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(hashed, sha256, "{value:?}");
    assert_eq!(Addressing::Hashed.of(&key), hashed);
    assert_eq!(Addressing::Plain.of(&key), value);
    assert!(is_key_hash(&hashed));
    for shown in [format!("{key}"), format!("{key:?}")] {
        assert!(!shown.contains(value), "{shown} shows the key");
    }
    assert_in_dir(&session_file_path(Path::new(DIR), &hashed));
}

/// An address that passes the import check names a file directly inside the directory.
fn check_address(address: &str) {
    if !is_key_hash(address) {
        return;
    }
    assert_eq!(address.len(), 64);
    assert!(
        address
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_in_dir(&session_file_path(Path::new(DIR), address));
    assert_in_dir(&lock_file_path(Path::new(DIR), address));
}

fn assert_in_dir(path: &Path) {
    assert_eq!(path.parent(), Some(Path::new(DIR)), "{path:?}");
    let normal = path
        .components()
        .all(|part| matches!(part, Component::RootDir | Component::Normal(_)));
    assert!(normal, "{path:?}");
}
