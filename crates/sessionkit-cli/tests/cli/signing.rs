//! `encode` and `decode`: Django's signed format, `encrypted_cookies` values, their failures,
//! and key rotation.

use sessionkit::Settings;
use sessionkit::engine::Data;
use sessionkit::engine::EncryptedCookieEngine;
use time::OffsetDateTime;

use crate::support::{Outcome, Run, TempDir, sessionkit};

const SECRET: &str = "a test secret that is long enough";
/// Django 5.2's `signing.dumps({}, salt=COOKIE_SALT, compress=True)` at 1700000000
/// (docs/DESIGN.md §8 vectors).
const DJANGO_SECRET: &str = "test-secret-key-for-vectors";
const DJANGO_EMPTY: &str = "e30:1r31eq:esBNhQIFCLzyPNrMRiiWyWTnExZUBrDZwyI0gYrk9l4";

fn encode(dir: &TempDir, secret: &str, json: &str, extra: &[&str]) -> String {
    let outcome = sessionkit(dir.path())
        .args(["encode", "--secret", secret])
        .args(extra)
        .arg(json)
        .run();
    assert_eq!(outcome.code, Some(0), "encode {json}: {}", outcome.stderr);
    outcome.stdout.trim_end().to_owned()
}

fn decode(dir: &TempDir, args: &[&str]) -> Outcome {
    sessionkit(dir.path()).arg("decode").args(args).run()
}

/// Exit code 1 and a single line on stderr, prefixed with the command, containing `reason`.
fn assert_refused(outcome: &Outcome, reason: &str) {
    assert_eq!(outcome.code, Some(1), "stderr: {}", outcome.stderr);
    assert_eq!(outcome.stdout, "");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {lines:?}");
    assert!(lines[0].starts_with("sessionkit decode: "), "{}", lines[0]);
    assert!(lines[0].contains(reason), "{:?} lacks {reason:?}", lines[0]);
}

#[test]
fn encode_then_decode_round_trips_json_objects() {
    let dir = TempDir::new("round-trip");
    let compressible = format!(r#"{{"blob":"{}"}}"#, "sessionkit ".repeat(300));
    let objects = [
        "{}",
        r#"{"name":"Zo\u00eb \ud83c\udf89","greeting":"こんにちは","emoji":"🎉"}"#,
        r#"{"cart":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}],"meta":{"tags":["x",null,true]}}"#,
        r#"{"big":12345678901234567890,"bigger":123456789012345678901234567890,"negative":-9223372036854775809}"#,
        r#"{"pi":3.14159,"tiny":1e-07,"huge":1e+16,"half":-0.5}"#,
        r#"{"beyond_a_float":1e400,"below":-2.5e999}"#,
        &compressible,
    ];
    for json in objects {
        let value = encode(&dir, SECRET, json, &[]);
        let decoded = decode(&dir, &["--secret", SECRET, &value]);
        assert_eq!(decoded.code, Some(0), "{json}: {}", decoded.stderr);
        assert!(decoded.stdout.ends_with('\n'));
        // Read as sessions are (keys in order, every digit), then written as Python writes.
        let python = |text: &str| Data::from_json(text).expect("a JSON object").to_json();
        assert_eq!(python(&decoded.stdout), python(json), "{json}");
    }
    assert!(
        encode(&dir, SECRET, &compressible, &[]).starts_with('.'),
        "3 KB of repetition is compressed"
    );
}

#[test]
fn decode_writes_json_as_python_does() {
    let dir = TempDir::new("python-json");
    let value = encode(&dir, SECRET, r#"{ "name": "Zoë 🎉", "path": "/a" }"#, &[]);
    let decoded = decode(&dir, &["--secret", SECRET, &value]);
    assert_eq!(
        decoded.stdout,
        "{\"name\":\"Zo\\u00eb \\ud83c\\udf89\",\"path\":\"/a\"}\n"
    );
}

#[test]
fn django_vector_decodes_from_the_argument_and_from_stdin() {
    let dir = TempDir::new("vector");
    let args = ["--secret", DJANGO_SECRET, "--no-max-age"];
    let decoded = decode(&dir, &[&args[..], &[DJANGO_EMPTY]].concat());
    assert_eq!((decoded.code, decoded.stdout.as_str()), (Some(0), "{}\n"));
    let piped = sessionkit(dir.path())
        .arg("decode")
        .args(args)
        .arg("-")
        .run_with_input(&format!("{DJANGO_EMPTY}\n"));
    assert_eq!((piped.code, piped.stdout.as_str()), (Some(0), "{}\n"));
}

#[test]
fn encode_with_a_fixed_timestamp_matches_django() {
    let dir = TempDir::new("encode-vector");
    let value = encode(&dir, DJANGO_SECRET, "{}", &["--timestamp", "1700000000"]);
    assert_eq!(value, DJANGO_EMPTY);
}

#[test]
fn a_tampered_value_is_refused_naming_the_signature() {
    let dir = TempDir::new("tampered");
    let value = encode(&dir, SECRET, r#"{"user_id":42}"#, &[]);
    let forged = encode(&dir, SECRET, r#"{"user_id":1}"#, &[]);
    let (forged_payload, _) = forged.split_once(':').unwrap();
    let (_, signature) = value.split_once(':').unwrap();
    let tampered = format!("{forged_payload}:{signature}");
    assert_refused(&decode(&dir, &["--secret", SECRET, &tampered]), "signature");
    assert_refused(
        &decode(&dir, &["--secret", "another secret", &value]),
        "signature",
    );
}

#[test]
fn an_expired_value_is_refused_unless_max_age_is_off() {
    let dir = TempDir::new("expired");
    let old = encode(&dir, SECRET, r#"{"n":1}"#, &["--timestamp", "1700000000"]);
    assert_refused(
        &decode(&dir, &["--secret", SECRET, "--max-age", "10", &old]),
        "expired",
    );
    assert_refused(&decode(&dir, &["--secret", SECRET, &old]), "expired");
    let accepted = decode(&dir, &["--secret", SECRET, "--no-max-age", &old]);
    assert_eq!(
        (accepted.code, accepted.stdout.as_str()),
        (Some(0), "{\"n\":1}\n")
    );
}

#[test]
fn a_fallback_secret_verifies_values_signed_before_a_rotation() {
    let dir = TempDir::new("fallback");
    let value = encode(&dir, "the old secret", r#"{"user_id":42}"#, &[]);
    assert_refused(&decode(&dir, &["--secret", SECRET, &value]), "signature");
    let rotated = decode(
        &dir,
        &[
            "--secret",
            SECRET,
            "--fallback",
            "unrelated",
            "--fallback",
            "the old secret",
            &value,
        ],
    );
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    assert_eq!(rotated.stdout, "{\"user_id\":42}\n");
}

#[test]
fn a_malformed_value_is_refused() {
    let dir = TempDir::new("malformed");
    assert_refused(
        &decode(&dir, &["--secret", SECRET, "no-colon-here"]),
        "malformed",
    );
}

#[test]
fn encode_refuses_json_that_is_not_an_object() {
    let dir = TempDir::new("not-an-object");
    for (json, reason) in [
        ("[1, 2]", "must be an object"),
        (r#"{"open": "#, "invalid JSON"),
    ] {
        let outcome = sessionkit(dir.path())
            .args(["encode", "--secret", SECRET, json])
            .run();
        assert_eq!(outcome.code, Some(1), "{json}");
        assert_eq!(outcome.stdout, "");
        assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
        assert!(
            outcome.stderr.starts_with("sessionkit encode: "),
            "{}",
            outcome.stderr
        );
        assert!(outcome.stderr.contains(reason), "{}", outcome.stderr);
    }
}

/// An `encrypted_cookies` cookie sealed by the library: `decode` opens it with the secret (or
/// a fallback) and the cookie name, and names why it refuses one sealed with another secret,
/// for another cookie name, or changed.
#[test]
fn decode_decrypts_an_encrypted_cookie_given_the_secret() {
    let dir = TempDir::new("encrypted");
    let data = Data::from_json(r#"{"user_id": 42, "name": "Zoë"}"#).unwrap();
    let cookie = EncryptedCookieEngine::new(&Settings::new(SECRET))
        .seal(&data, OffsetDateTime::now_utc())
        .unwrap();
    let decoded = decode(&dir, &["--secret", SECRET, &cookie]);
    assert_eq!(decoded.code, Some(0), "{}", decoded.stderr);
    assert_eq!(decoded.stdout, "{\"user_id\":42,\"name\":\"Zo\\u00eb\"}\n");
    let piped = sessionkit(dir.path())
        .args([
            "decode",
            "--secret",
            SECRET,
            "--cookie-name",
            "sessionid",
            "-",
        ])
        .run_with_input(&format!("{cookie}\n"));
    assert_eq!(piped.stdout, decoded.stdout, "{}", piped.stderr);
    let rotated = decode(
        &dir,
        &["--secret", "new secret", "--fallback", SECRET, &cookie],
    );
    assert_eq!(rotated.stdout, decoded.stdout, "{}", rotated.stderr);

    assert_refused(
        &decode(&dir, &["--secret", "another secret", &cookie]),
        "SECRET_KEY",
    );
    let moved = decode(
        &dir,
        &["--secret", SECRET, "--cookie-name", "other", &cookie],
    );
    assert_refused(&moved, "another cookie name");
    let mut tampered = cookie.into_bytes();
    tampered[60] = if tampered[60] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_refused(
        &decode(&dir, &["--secret", SECRET, &tampered]),
        "does not decrypt",
    );
}

/// `encode --encrypted` seals what `decode` opens; a value sealed long ago is refused as
/// expired unless the age check is off.
#[test]
fn encode_encrypted_round_trips_and_old_values_expire() {
    let dir = TempDir::new("encrypted-encode");
    let value = encode(&dir, SECRET, r#"{"cart":[7]}"#, &["--encrypted"]);
    assert!(!value.contains(':') && !value.contains("cart"), "{value}");
    let decoded = decode(&dir, &["--secret", SECRET, &value]);
    assert_eq!(
        (decoded.code, decoded.stdout.as_str()),
        (Some(0), "{\"cart\":[7]}\n")
    );

    let old = encode(
        &dir,
        SECRET,
        r#"{"n":1}"#,
        &["--encrypted", "--timestamp", "1700000000"],
    );
    assert_refused(&decode(&dir, &["--secret", SECRET, &old]), "expired");
    let accepted = decode(&dir, &["--secret", SECRET, "--no-max-age", &old]);
    assert_eq!(
        (accepted.code, accepted.stdout.as_str()),
        (Some(0), "{\"n\":1}\n")
    );
}

/// Secrets `sessionkit serve` generates (and Django's `get_random_secret_key`) may begin with
/// `-`; given to `--secret` or `--fallback` they are values, not options.
#[test]
fn secrets_beginning_with_a_dash_are_values() {
    let dir = TempDir::new("dash-secret");
    let old = "-old-secret-that-begins-with-a-dash";
    let new = "--new-secret-that-begins-with-two";
    let value = encode(&dir, old, r#"{"user_id":42}"#, &[]);
    let decoded = decode(&dir, &["--secret", new, "--fallback", old, &value]);
    assert_eq!(decoded.code, Some(0), "{}", decoded.stderr);
    assert!(
        decoded.stdout.contains("\"user_id\":42"),
        "{}",
        decoded.stdout
    );
    let refused = decode(&dir, &["--secret", new, &value]);
    assert_refused(&refused, "signature");
}
