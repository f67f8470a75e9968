//! `encrypted_cookies` opening a cookie ([`EncryptedCookieEngine::unseal`] and the engine's
//! `load`, `exists`, `accepts`, `needs_reissue`): never a panic, whatever the bytes.
//!
//! Mode 0 is any value a client sends: it never opens (no one without the key can seal), and
//! the engine finds no session in it. Mode 1 is what only a key holder could seal: any
//! payload bytes and any issue time, sealed with the current or the retired secret. It opens
//! exactly when the payload is a JSON object and the time is a date, to what was sealed, with
//! the fallback flag right and a re-issue asked for the retired key only; the engine loads it
//! only if it opens (and is not expired); changing any one byte, cutting it short, or reading
//! it under another cookie name makes it fail. When the payload is a session, sealing it with
//! the library's own `seal` opens to the same data.

#![no_main]

use std::future::Future;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use arbitrary::{Arbitrary, Unstructured};
use base64_simd::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sessionkit::Settings;
use sessionkit::django::json::from_python_json;
use sessionkit::engine::encrypted_cookies::UnsealError;
use sessionkit::engine::{EncryptedCookieEngine, Engine};
use sessionkit::fuzzing::seal_exactly;
use sessionkit_fuzz::{OLD_SECRET, SECRET};
use time::OffsetDateTime;

fn engine(secret: &str, fallbacks: &[&str], cookie_name: &str) -> EncryptedCookieEngine {
    EncryptedCookieEngine::new(&Settings {
        secret_key_fallbacks: fallbacks.iter().map(|s| s.to_string()).collect(),
        cookie_name: cookie_name.to_owned(),
        ..Settings::new(secret)
    })
}

/// Seals with [`SECRET`] and still opens what [`OLD_SECRET`] sealed.
static ENGINE: LazyLock<EncryptedCookieEngine> =
    LazyLock::new(|| engine(SECRET, &[OLD_SECRET], "sessionid"));
/// The engine before the rotation.
static OLD_ENGINE: LazyLock<EncryptedCookieEngine> =
    LazyLock::new(|| engine(OLD_SECRET, &[], "sessionid"));
/// The same secrets, another cookie name.
static OTHER_NAME: LazyLock<EncryptedCookieEngine> =
    LazyLock::new(|| engine(SECRET, &[OLD_SECRET], "othersession"));

/// What a key holder seals.
#[derive(Debug, Arbitrary)]
struct Sealed<'a> {
    by_old_secret: bool,
    issued_at: i64,
    mutation: (u16, u8),
    cut: u16,
    payload: &'a [u8],
}

// The first byte picks the mode; the rest is its fields, the bytes under test last.
fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => {
            if let Ok(value) = std::str::from_utf8(rest) {
                check_client_value(value);
            }
        }
        _ => {
            if let Ok(sealed) = Sealed::arbitrary_take_rest(Unstructured::new(rest)) {
                check_sealed(sealed);
            }
        }
    }
});

fn check_client_value(value: &str) {
    let unsealed = ENGINE.unseal(value);
    assert!(unsealed.is_err(), "{value:?} opened without being sealed");
    assert!(open(&ENGINE, value).is_none());
    assert!(!ready(ENGINE.exists(value)).expect("no store to fail"));
    let _ = ENGINE.needs_reissue(value);
}

fn check_sealed(input: Sealed<'_>) {
    let Sealed {
        by_old_secret,
        issued_at,
        mutation,
        cut,
        payload,
    } = input;
    let sealer = if by_old_secret {
        &*OLD_ENGINE
    } else {
        &*ENGINE
    };
    let value = seal_exactly(sealer, payload, issued_at).expect("the random source works");
    let session = from_python_json(payload);
    let time = OffsetDateTime::from_unix_timestamp(issued_at);
    let unsealed = ENGINE.unseal(&value);
    if unsealed.is_ok() && value.len() <= 4096 {
        assert!(
            ENGINE.accepts(&value),
            "{value:?} opens but is refused by its shape"
        );
    }
    match (&session, &time, &unsealed) {
        (Ok(data), Ok(time), Ok(unsealed)) => {
            assert_eq!(&unsealed.data, data);
            assert_eq!(unsealed.issued_at, *time);
            assert_eq!(unsealed.with_fallback, by_old_secret);
        }
        (Err(_), _, Err(UnsealError::BadPayload(_)))
        | (_, Err(_), Err(UnsealError::BadPayload(_))) => {}
        _ => panic!("payload {session:?}, time {time:?}, yet unsealed {unsealed:?}"),
    }
    assert_eq!(ENGINE.needs_reissue(&value), by_old_secret);
    if open(&ENGINE, &value).is_some() {
        assert!(unsealed.is_ok(), "loaded what does not open");
    }
    assert!(
        OTHER_NAME.unseal(&value).is_err(),
        "opened under another cookie name"
    );
    if by_old_secret {
        assert_eq!(OLD_ENGINE.unseal(&value).is_ok(), unsealed.is_ok());
    } else {
        assert_eq!(OLD_ENGINE.unseal(&value), Err(UnsealError::UnknownKey));
    }

    let mut bytes = URL_SAFE_NO_PAD
        .decode_to_vec(&value)
        .expect("our own base64");
    let cut_at = usize::from(cut) % bytes.len();
    let short = URL_SAFE_NO_PAD.encode_to_string(&bytes[..cut_at]);
    assert!(
        ENGINE.unseal(&short).is_err(),
        "opened cut to {cut_at} bytes"
    );
    let (position, xor) = mutation;
    let at = usize::from(position) % bytes.len();
    bytes[at] ^= xor.max(1);
    let mutated = URL_SAFE_NO_PAD.encode_to_string(&bytes);
    assert!(
        ENGINE.unseal(&mutated).is_err(),
        "opened with byte {at} changed"
    );
    assert!(open(&ENGINE, &mutated).is_none());

    if let Ok(data) = session {
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("0 is a nanosecond");
        let ours = ENGINE.seal(&data, now).expect("the random source works");
        let back = ENGINE.unseal(&ours).expect("our own cookie opens");
        assert_eq!(
            (back.data, back.issued_at, back.with_fallback),
            (data, now, false)
        );
    }
}

/// The session the engine loads from `value`, if any.
fn open(engine: &EncryptedCookieEngine, value: &str) -> Option<sessionkit::engine::Loaded> {
    ready(engine.load(value)).expect("no store to fail")
}

/// The output of a future that does no I/O (a cookie engine without a revocation list).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a cookie engine without a revocation list waited"),
    }
}
