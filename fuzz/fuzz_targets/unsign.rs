//! Django's `signing.loads` ([`Signer::unsign_payload`]): any cookie a client sends, any payload
//! and timestamp that a holder of the secret signed (compressed or not, with and without
//! `max_age`), and the library's own signatures, which must verify exactly as they were made.

#![no_main]

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use base64_simd::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sessionkit::django::signing::{
    COOKIE_SALT, SignatureError, Signer, Unsigned, b62_decode, b62_encode,
};
use sessionkit::fuzzing::{MAX_DECOMPRESSED_BYTES, sign_exactly};
use sessionkit_fuzz::{OLD_SECRET, SECRET};

/// Deflate's best case is about 1032 output bytes per input byte.
const MAX_INFLATE_RATIO: usize = 1032;

/// Signs with [`SECRET`] and still accepts [`OLD_SECRET`].
static SIGNER: LazyLock<Signer> =
    LazyLock::new(|| Signer::new(COOKIE_SALT, SECRET, &[OLD_SECRET.to_owned()]));
/// The signer before the rotation.
static OLD_SIGNER: LazyLock<Signer> = LazyLock::new(|| Signer::new(COOKIE_SALT, OLD_SECRET, &[]));

/// Whatever a client puts in the cookie.
#[derive(Debug, Arbitrary)]
struct Cookie<'a> {
    max_age: Option<u32>,
    now: u32,
    value: &'a str,
}

/// A payload and a timestamp as text, signed: what only a key holder (or a bug on the signing
/// side) could produce, so the fuzzer reaches base64, zlib and the age check.
#[derive(Debug, Arbitrary)]
struct Signed<'a> {
    compressed: bool,
    max_age: Option<u64>,
    now: u64,
    mutation: Option<(u16, u8)>,
    timestamp: Timestamp<'a>,
    payload: &'a [u8],
}

#[derive(Debug, Arbitrary)]
enum Timestamp<'a> {
    Number(u64),
    Text(&'a str),
}

/// The library's own `sign_payload`, zlib or not, by the current or the retired secret.
#[derive(Debug, Arbitrary)]
struct RoundTrip<'a> {
    compress_from: u16,
    timestamp: u64,
    by_old_secret: bool,
    mutation: (u16, u8),
    payload: &'a [u8],
}

// The first byte picks the kind of input; the rest is its fields, the payload last.
fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let fields = Unstructured::new(rest);
    let _ = match kind % 3 {
        0 => Cookie::arbitrary_take_rest(fields).map(check_cookie),
        1 => Signed::arbitrary_take_rest(fields).map(check_signed),
        _ => RoundTrip::arbitrary_take_rest(fields).map(check_round_trip),
    };
});

fn check_cookie(
    Cookie {
        max_age,
        now,
        value,
    }: Cookie<'_>,
) {
    let max_age = max_age.map(|secs| Duration::from_secs(secs.into()));
    let now = UNIX_EPOCH + Duration::from_secs(now.into());
    check_client_value(value, max_age, now);
}

fn check_signed(input: Signed<'_>) {
    let Signed {
        compressed,
        max_age,
        now,
        mutation,
        timestamp,
        payload,
    } = input;
    let Some(now_time) = UNIX_EPOCH.checked_add(Duration::from_secs(now)) else {
        return;
    };
    let timestamp = match timestamp {
        Timestamp::Number(n) => b62_encode(n),
        // The timestamp is the text after the last `:` of the signed part.
        Timestamp::Text(text) => text.replace(':', ""),
    };
    let marker = if compressed { "." } else { "" };
    let value = sign_exactly(
        &SIGNER,
        &format!(
            "{marker}{}:{timestamp}",
            URL_SAFE_NO_PAD.encode_to_string(payload)
        ),
    );
    let result = SIGNER.unsign_payload(&value, max_age.map(Duration::from_secs), now_time);
    match (b62_decode(&timestamp), max_age) {
        (None, _) => assert_eq!(result, Err(SignatureError::Malformed("bad timestamp"))),
        // Django: expired when `now - timestamp > max_age`; signed "in the future" is age 0.
        (Some(signed_at), Some(max_age)) if now.saturating_sub(signed_at) > max_age => {
            let expired = SignatureError::Expired {
                age_seconds: now - signed_at,
                max_age_seconds: max_age,
            };
            assert_eq!(result, Err(expired));
        }
        (Some(signed_at), _) if !compressed => {
            let unsigned = Unsigned {
                data: payload.to_vec(),
                timestamp: signed_at,
            };
            assert_eq!(result, Ok(unsigned));
        }
        (Some(signed_at), _) => match result {
            Ok(unsigned) => {
                assert_eq!(unsigned.timestamp, signed_at);
                let size = unsigned.data.len();
                assert!(
                    size as u64 <= MAX_DECOMPRESSED_BYTES,
                    "{size} bytes inflated"
                );
                assert!(
                    size <= payload.len() * MAX_INFLATE_RATIO,
                    "{size} bytes inflated"
                );
            }
            Err(error) => assert_eq!(error, SignatureError::BadPayload("invalid zlib stream")),
        },
    }
    if let Some(mutation) = mutation {
        assert_mutations_fail(&value, mutation);
    }
}

fn check_round_trip(input: RoundTrip<'_>) {
    let RoundTrip {
        compress_from,
        timestamp,
        by_old_secret,
        mutation,
        payload,
    } = input;
    let signer = if by_old_secret {
        &*OLD_SIGNER
    } else {
        &*SIGNER
    };
    let signer = signer.clone().compressing_from(compress_from.into());
    let value = signer.sign_payload(payload, timestamp);
    if value.starts_with('.') {
        assert!(payload.len() >= usize::from(compress_from));
    }
    let unsigned = SIGNER.unsign_payload(&value, None, SystemTime::now());
    let expected = Unsigned {
        data: payload.to_vec(),
        timestamp,
    };
    assert_eq!(unsigned, Ok(expected));
    if !by_old_secret {
        // The retired secret's signer has no fallback to the new one.
        let by_old = OLD_SIGNER.unsign_payload(&value, None, SystemTime::now());
        assert_eq!(by_old, Err(SignatureError::BadSignature));
    }
    assert_mutations_fail(&value, mutation);
}

/// A client's value: refused unless it is exactly a signature the signer made, and then never
/// inflated past the cap.
fn check_client_value(value: &str, max_age: Option<Duration>, now: SystemTime) {
    let result = SIGNER.unsign_payload(value, max_age, now);
    match &result {
        Ok(unsigned) => {
            let (signed, _) = value.rsplit_once(':').expect("a verified value has a ':'");
            let canonical = [&*SIGNER, &*OLD_SIGNER]
                .iter()
                .any(|signer| sign_exactly(signer, signed) == value);
            assert!(canonical, "{value:?} verified but is no signature of ours");
            assert!(unsigned.data.len() as u64 <= MAX_DECOMPRESSED_BYTES);
        }
        Err(SignatureError::Expired {
            age_seconds,
            max_age_seconds,
        }) => assert!(age_seconds >= max_age_seconds),
        Err(_) => {}
    }
    // `unsign_object` is `unsign_payload` and then JSON.
    let object = SIGNER.unsign_object(value, max_age, now);
    match (result, object) {
        (Ok(payload), Ok(object)) => assert_eq!(payload.timestamp, object.timestamp),
        (Ok(_), Err(error)) => assert_eq!(error, SignatureError::BadPayload("not a JSON object")),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (Err(error), Ok(_)) => panic!("the payload failed ({error}) but the object loaded"),
    }
}

/// Every change to one byte of a signed value makes it fail verification.
fn assert_mutations_fail(value: &str, (position, xor): (u16, u8)) {
    let mut bytes = value.as_bytes().to_vec();
    let at = usize::from(position) % bytes.len();
    bytes[at] ^= xor.max(1);
    if let Ok(mutated) = String::from_utf8(bytes) {
        let result = SIGNER.unsign_payload(&mutated, None, SystemTime::now());
        assert!(
            result.is_err(),
            "{mutated:?} verified after changing byte {at}"
        );
    }
}
