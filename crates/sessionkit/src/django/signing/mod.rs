//! Django-compatible signing: `django.core.signing.dumps` / `loads` with `compress=True`.
//!
//! A signed value is `[.]payload:timestamp:signature` where
//! - `payload` is unpadded URL-safe base64 of the JSON (or of its zlib form, marked by the `.`),
//! - `timestamp` is the signing time in seconds, base62 (`0-9A-Za-z`, most significant first),
//! - `signature` is unpadded URL-safe base64 of
//!   `HMAC-SHA256(key = SHA256(salt + "signer" + secret), "payload:timestamp")`.
//!
//! Keys are derived once per [`Signer`], not per value. Signatures are compared as decoded
//! bytes, in constant time ([`hmac::Mac::verify_slice`]). Verification order is Django's:
//! signature (current key, then each fallback), then age, then decompression, then JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64_simd::{AsOut, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::django::json::{Data, from_python_json};

mod base62;
mod zlib;

use base62::push_b62;
pub use base62::{b62_decode, b62_encode};
use zlib::{unzlib, zlib};

/// Salt of the `signed_cookies` engine's cookie (Django's `signed_cookies` backend).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use sessionkit::{EngineKind, Sessions, Settings};
/// # let sessions = Sessions::open(Settings {
/// #     engine: EngineKind::SignedCookies,
/// #     ..Settings::new("secret")
/// # })
/// # .await?;
/// # let session = sessions.start(None).load().await?;
/// use sessionkit::django::signing::{COOKIE_SALT, Signer};
///
/// session.insert("user_id", 42)?;
/// let cookie = session.save().await?.unwrap(); // a `signed_cookies` session, SECRET_KEY "secret"
/// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
/// let unsigned = signer.unsign_object(&cookie, None, std::time::SystemTime::now())?;
/// assert_eq!(unsigned.data["user_id"].as_str(), "42"); // signed, not encrypted: anyone can read it
/// # Ok(()) }
/// ```
pub const COOKIE_SALT: &str = "django.contrib.sessions.backends.signed_cookies";
/// Salt of `session_data` in database rows and session files (Django's `SessionBase.key_salt`).
///
/// ```
/// use sessionkit::engine::Data;
/// use sessionkit::django::signing::{COOKIE_SALT, STORE_SALT, SignatureError, Signer};
///
/// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
/// let cookie = Signer::new(COOKIE_SALT, "secret", &[]).sign_object(&data, 0);
/// // Another salt, another key: a cookie cannot pass for stored session data.
/// let store = Signer::new(STORE_SALT, "secret", &[]);
/// let now = std::time::SystemTime::now();
/// assert_eq!(store.unsign_object(&cookie, None, now), Err(SignatureError::BadSignature));
/// ```
pub const STORE_SALT: &str = "django.contrib.sessions.SessionStore";

/// Upper bound on decompressed data unless [`Signer::inflating_up_to`] sets another: a few
/// kilobytes of zlib must not become gigabytes.
pub const MAX_DECOMPRESSED_BYTES: u64 = 16 * 1024 * 1024;

/// Length of an HMAC-SHA256 in unpadded base64.
const SIGNATURE_CHARS: usize = 43;
/// Length of an HMAC-SHA256.
const SIGNATURE_BYTES: usize = 32;

/// JSON shorter than this is not worth a zlib attempt: see [`Signer::compressing_from`]. Such
/// a value is at most ~230 bytes longer than its compressed form would be, far from the
/// 4096-byte cookie limit.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::Data;
/// use sessionkit::django::signing::{COOKIE_SALT, SMALL_VALUE_BYTES, Signer};
///
/// let signer = Signer::new(COOKIE_SALT, "secret", &[]).compressing_from(SMALL_VALUE_BYTES);
/// let small = Data::try_from(json!({"note": "ab".repeat(100)})).unwrap();
/// assert!(!signer.sign_object(&small, 0).starts_with('.')); // 211 bytes of JSON: as is
/// let large = Data::try_from(json!({"note": "ab".repeat(500)})).unwrap();
/// assert!(signer.sign_object(&large, 0).starts_with('.')); // zlib
/// ```
pub const SMALL_VALUE_BYTES: usize = 512;

/// Why a signed value was refused. None of these is a server error: the caller treats the
/// value as absent.
///
/// ```
/// use serde_json::json;
/// use sessionkit::engine::Data;
/// use sessionkit::django::signing::{COOKIE_SALT, SignatureError, Signer};
///
/// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
/// let data = Data::try_from(json!({"is_admin": false})).unwrap();
/// let value = signer.sign_object(&data, 1_700_000_000);
/// let forged = value.replacen('e', "f", 1); // the payload changed, the signature did not
/// let now = std::time::SystemTime::now();
/// assert_eq!(signer.unsign_object(&forged, None, now), Err(SignatureError::BadSignature));
/// let garbage = signer.unsign_object("no separator", None, now);
/// assert!(matches!(garbage, Err(SignatureError::Malformed(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The value does not have the `payload:timestamp:signature` shape.
    #[error("malformed signed value: {0}")]
    Malformed(&'static str),
    /// No key (current or fallback) produced this signature.
    #[error("bad signature")]
    BadSignature,
    /// The signature is good but older than the allowed age.
    #[error("signature expired: {age_seconds} s old, {max_age_seconds} s allowed")]
    Expired {
        /// How old the value is, in whole seconds.
        age_seconds: u64,
        /// The limit it exceeded.
        max_age_seconds: u64,
    },
    /// The signature is good but the payload is not a zlib stream or not a JSON object.
    #[error("signed payload is not a JSON object: {0}")]
    BadPayload(&'static str),
    /// The signature is good but the payload decompresses to more than the signer's limit
    /// ([`Signer::inflating_up_to`]).
    #[error("signed payload decompresses to over {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// A verified value: what was signed (by default the JSON object, or the payload's bytes from
/// [`Signer::unsign_payload`]) and when it was signed.
///
/// ```
/// use sessionkit::engine::Data;
/// use sessionkit::django::signing::{COOKIE_SALT, Signer};
///
/// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
/// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
/// let value = signer.sign_object(&data, 1_700_000_000);
/// let unsigned = signer.unsign_object(&value, None, std::time::SystemTime::now()).unwrap();
/// assert_eq!(unsigned.data, data);
/// assert_eq!(unsigned.timestamp, 1_700_000_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Unsigned<T = Data> {
    /// The signed JSON object (or bytes).
    pub data: T,
    /// Unix seconds at signing time.
    pub timestamp: u64,
}

/// Signs and verifies objects for one salt, with the current secret and its fallbacks.
///
/// ```
/// use sessionkit::engine::Data;
/// use sessionkit::django::signing::{Signer, COOKIE_SALT};
///
/// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
/// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
/// let value = signer.sign_object(&data, 1_700_000_000);
/// assert_eq!(value, "eyJ1c2VyX2lkIjo0Mn0:1r31eq:rPUe9w6DHOZIobkSB3UKnXa1KMmduFJ2mH9-ZQr782w");
/// let back = signer.unsign_object(&value, None, std::time::SystemTime::now()).unwrap();
/// assert_eq!(back.data, data);
/// ```
#[derive(Clone)]
pub struct Signer {
    current: Hmac<Sha256>,
    fallbacks: Vec<Hmac<Sha256>>,
    /// JSON shorter than this is signed as it is, without trying zlib first.
    compress_from: usize,
    /// Most bytes a compressed payload may decompress to.
    inflate_limit: u64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("fallbacks", &self.fallbacks.len())
            .field("compress_from", &self.compress_from)
            .field("inflate_limit", &self.inflate_limit)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `salt` that signs with `secret` and also accepts values signed with any of
    /// `fallbacks` (Django's `SECRET_KEY_FALLBACKS`).
    ///
    /// ```
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    ///
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let now = std::time::SystemTime::now();
    /// let old_value = Signer::new(COOKIE_SALT, "old secret", &[]).sign_object(&data, 0);
    /// // Rotating SECRET_KEY: the old one, as a fallback, still verifies what it signed.
    /// let rotated = Signer::new(COOKIE_SALT, "new secret", &["old secret".to_owned()]);
    /// assert!(rotated.unsign_object(&old_value, None, now).is_ok());
    /// let without_fallback = Signer::new(COOKIE_SALT, "new secret", &[]);
    /// assert!(without_fallback.unsign_object(&old_value, None, now).is_err());
    /// ```
    pub fn new(salt: &str, secret: &str, fallbacks: &[String]) -> Self {
        Signer {
            current: signer_mac(salt, secret),
            fallbacks: fallbacks.iter().map(|s| signer_mac(salt, s)).collect(),
            compress_from: 0,
            inflate_limit: MAX_DECOMPRESSED_BYTES,
        }
    }

    /// The same signer, trying zlib only on JSON of at least `bytes` (Django always tries).
    ///
    /// Both forms are Django's format and Django reads either, so this changes only the size
    /// of small values, never who can read them. Setting up a zlib stream clears about 150 KB
    /// of tables, which costs more than all the rest of signing a small session put together,
    /// while zlib saves a few dozen bytes there. [`SMALL_VALUE_BYTES`] is the cut-off
    /// sessionkit's engines use, for cookies and for `session_data` alike.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{Signer, COOKIE_SALT};
    ///
    /// let data = Data::try_from(json!({"cart": "abc".repeat(50)})).unwrap();
    /// let django = Signer::new(COOKIE_SALT, "secret", &[]);
    /// assert!(django.sign_object(&data, 0).starts_with('.')); // compressed
    /// let fast = django.clone().compressing_from(512);
    /// let plain = fast.sign_object(&data, 0);
    /// assert!(!plain.starts_with('.'));
    /// let now = std::time::SystemTime::now();
    /// assert_eq!(django.unsign_object(&plain, None, now).unwrap().data, data);
    /// ```
    pub fn compressing_from(self, bytes: usize) -> Self {
        Signer {
            compress_from: bytes,
            ..self
        }
    }

    /// The same signer, refusing payloads that decompress to more than `bytes` (default
    /// [`MAX_DECOMPRESSED_BYTES`]) with [`SignatureError::TooLarge`], having decompressed no
    /// more than that: for callers that only show a value, where a validly signed zlib bomb
    /// must cost little.
    ///
    /// ```
    /// use serde_json::json;
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, SignatureError, Signer};
    ///
    /// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
    /// let data = Data::try_from(json!({"blob": " ".repeat(100_000)})).unwrap();
    /// let value = signer.sign_object(&data, 0); // a few hundred bytes of zlib
    /// let now = std::time::SystemTime::now();
    /// let viewer = signer.clone().inflating_up_to(64 * 1024);
    /// let refused = viewer.unsign_object(&value, None, now);
    /// assert_eq!(refused, Err(SignatureError::TooLarge { limit: 64 * 1024 }));
    /// assert!(signer.unsign_object(&value, None, now).is_ok());
    /// ```
    pub fn inflating_up_to(self, bytes: u64) -> Self {
        Signer {
            inflate_limit: bytes,
            ..self
        }
    }

    /// `signing.dumps(data, salt=…, compress=True)` at `timestamp` (Unix seconds).
    ///
    /// ```
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    ///
    /// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let value = signer.sign_object(&data, 1_700_000_000);
    /// let parts: Vec<&str> = value.split(':').collect();
    /// assert_eq!(parts[0], "eyJ1c2VyX2lkIjo0Mn0"); // base64 of {"user_id":42}
    /// assert_eq!(parts[1], "1r31eq"); // the timestamp in base62
    /// assert_eq!(value, signer.sign_object(&data, 1_700_000_000)); // deterministic
    /// ```
    pub fn sign_object(&self, data: &Data, timestamp: u64) -> String {
        self.sign_payload(data.to_json().as_bytes(), timestamp)
    }

    /// [`Signer::sign_object`] for JSON the caller already wrote: the signing layer alone
    /// (zlib when worth it, base64, timestamp, HMAC), with no JSON work.
    ///
    /// ```
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    ///
    /// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let by_object = signer.sign_object(&data, 1_700_000_000);
    /// assert_eq!(signer.sign_payload(br#"{"user_id":42}"#, 1_700_000_000), by_object);
    /// ```
    pub fn sign_payload(&self, json: &[u8], timestamp: u64) -> String {
        // Django keeps the compressed form only when it saves more than the one `.` it costs.
        let compressed = (json.len() >= self.compress_from)
            .then(|| zlib(json))
            .filter(|compressed| compressed.len() < json.len().saturating_sub(1));
        let (marker, bytes) = match &compressed {
            Some(compressed) => (".", compressed.as_slice()),
            None => ("", json),
        };
        let mut value = String::with_capacity(bytes.len() * 4 / 3 + 56);
        value.push_str(marker);
        URL_SAFE_NO_PAD.encode_append(bytes, &mut value);
        value.push(':');
        push_b62(timestamp, &mut value);
        self.append_signature(&mut value);
        value
    }

    /// `signing.loads(value, salt=…, max_age=…)` as of `now`.
    ///
    /// `max_age: None` skips the age check (Django's `max_age=None`); an age equal to the
    /// limit still passes, as in Django.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, SignatureError, Signer};
    ///
    /// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let value = signer.sign_object(&data, 1_700_000_000);
    /// let signed_at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let hour = Some(Duration::from_secs(3600));
    /// let on_time = signer.unsign_object(&value, hour, signed_at + Duration::from_secs(3600));
    /// assert!(on_time.is_ok()); // exactly max_age old still passes
    /// let late = signer.unsign_object(&value, hour, signed_at + Duration::from_secs(3601));
    /// let expired = SignatureError::Expired { age_seconds: 3601, max_age_seconds: 3600 };
    /// assert_eq!(late, Err(expired));
    /// ```
    pub fn unsign_object(
        &self,
        value: &str,
        max_age: Option<Duration>,
        now: SystemTime,
    ) -> Result<Unsigned, SignatureError> {
        let Unsigned { data, timestamp } = self.unsign_payload(value, max_age, now)?;
        let data = from_python_json(&data).map_err(SignatureError::BadPayload)?;
        Ok(Unsigned { data, timestamp })
    }

    /// [`Signer::unsign_object`] up to the JSON: the verified payload's bytes (decompressed),
    /// not parsed: only a holder of the key could have signed them, but nothing has checked
    /// that they are JSON.
    ///
    /// ```
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    ///
    /// let signer = Signer::new(COOKIE_SALT, "secret", &[]);
    /// let value = signer.sign_payload(br#"{"user_id":42}"#, 1_700_000_000);
    /// let now = std::time::SystemTime::now();
    /// let unsigned = signer.unsign_payload(&value, None, now).unwrap();
    /// assert_eq!(unsigned.data, br#"{"user_id":42}"#);
    /// assert_eq!(unsigned.timestamp, 1_700_000_000);
    /// ```
    pub fn unsign_payload(
        &self,
        value: &str,
        max_age: Option<Duration>,
        now: SystemTime,
    ) -> Result<Unsigned<Vec<u8>>, SignatureError> {
        let (signed, presented) = split_signature(value)?;
        let verified = std::iter::once(&self.current)
            .chain(&self.fallbacks)
            .any(|mac| verifies(mac, signed, &presented));
        if !verified {
            return Err(SignatureError::BadSignature);
        }
        let (payload, timestamp) = signed
            .rsplit_once(':')
            .ok_or(SignatureError::Malformed("no timestamp"))?;
        let timestamp = b62_decode(timestamp).ok_or(SignatureError::Malformed("bad timestamp"))?;
        if let Some(max_age) = max_age {
            // A timestamp past what the clock can represent was signed "in the future": age 0,
            // as Django's `time.time() - timestamp` is then negative.
            let age = UNIX_EPOCH
                .checked_add(Duration::from_secs(timestamp))
                .and_then(|signed_at| now.duration_since(signed_at).ok())
                .unwrap_or_default();
            if age > max_age {
                return Err(SignatureError::Expired {
                    age_seconds: age.as_secs(),
                    max_age_seconds: max_age.as_secs(),
                });
            }
        }
        let (compressed, payload) = match payload.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        let mut bytes = URL_SAFE_NO_PAD
            .decode_to_vec(payload)
            .map_err(|_| SignatureError::BadPayload("invalid base64"))?;
        if compressed {
            bytes = unzlib(&bytes, self.inflate_limit)?;
        }
        Ok(Unsigned {
            data: bytes,
            timestamp,
        })
    }

    /// Whether `value` carries a valid signature made with a `fallbacks` key rather than
    /// the current secret: a value to sign again after a rotation. Without fallbacks it is
    /// `false` at no cost; with them, it costs one HMAC of the value.
    ///
    /// ```
    /// use sessionkit::engine::Data;
    /// use sessionkit::django::signing::{COOKIE_SALT, Signer};
    ///
    /// let data = Data::from_json(r#"{"user_id": 42}"#).unwrap();
    /// let old_value = Signer::new(COOKIE_SALT, "old secret", &[]).sign_object(&data, 0);
    /// let rotated = Signer::new(COOKIE_SALT, "new secret", &["old secret".to_owned()]);
    /// assert!(rotated.signed_with_fallback(&old_value));
    /// assert!(!rotated.signed_with_fallback(&rotated.sign_object(&data, 0)));
    /// assert!(!rotated.signed_with_fallback("forged:value:AAAA")); // no valid signature
    /// ```
    pub fn signed_with_fallback(&self, value: &str) -> bool {
        if self.fallbacks.is_empty() {
            return false;
        }
        let Ok((signed, presented)) = split_signature(value) else {
            return false;
        };
        !verifies(&self.current, signed, &presented)
            && self
                .fallbacks
                .iter()
                .any(|mac| verifies(mac, signed, &presented))
    }

    /// Appends `:` and the base64 signature of everything `value` holds so far.
    pub(crate) fn append_signature(&self, value: &mut String) {
        let signature = self.current.clone().chain_update(&*value).finalize();
        value.push(':');
        URL_SAFE_NO_PAD.encode_append(signature.into_bytes(), value);
    }
}

/// `value` as what was signed and the signature's bytes. Comparing the MACs' bytes is
/// comparing Django's base64 strings: the decoder accepts only the one canonical
/// 43-character spelling of 32 bytes.
fn split_signature(value: &str) -> Result<(&str, [u8; SIGNATURE_BYTES]), SignatureError> {
    let (signed, signature) = value
        .rsplit_once(':')
        .ok_or(SignatureError::Malformed("no ':' separator"))?;
    let mut presented = [0; SIGNATURE_BYTES];
    let decodes = signature.len() == SIGNATURE_CHARS
        && URL_SAFE_NO_PAD
            .decode(signature.as_bytes(), presented.as_mut_slice().as_out())
            .is_ok();
    if !decodes {
        return Err(SignatureError::BadSignature);
    }
    Ok((signed, presented))
}

/// Whether `mac` signed `signed` as `presented` (compared in constant time).
fn verifies(mac: &Hmac<Sha256>, signed: &str, presented: &[u8; SIGNATURE_BYTES]) -> bool {
    mac.clone()
        .chain_update(signed)
        .verify_slice(presented)
        .is_ok()
}

/// Django's `Signer`: `salted_hmac(salt + "signer", …, secret)`, its key derived once.
fn signer_mac(salt: &str, secret: &str) -> Hmac<Sha256> {
    salted_mac(&format!("{salt}signer"), secret)
}

/// Django's `salted_hmac(key_salt, …, secret, algorithm="sha256")` before any message: an
/// HMAC-SHA256 keyed with `SHA256(key_salt + secret)`. The one place that derivation lives;
/// [`Signer`] and [`crate::django::salted_hmac`] both use it.
#[expect(
    clippy::expect_used,
    reason = "HMAC takes keys of any length: new_from_slice cannot fail"
)]
pub(crate) fn salted_mac(key_salt: &str, secret: &str) -> Hmac<Sha256> {
    let key = Sha256::new()
        .chain_update(key_salt)
        .chain_update(secret)
        .finalize();
    Hmac::new_from_slice(&key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn object(value: Value) -> Data {
        Data::try_from(value).unwrap()
    }

    #[test]
    fn python_nan_and_infinity_are_refused_by_name() {
        let signer = Signer::new(COOKIE_SALT, "secret", &[]);
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for payload in [&br#"{"x":NaN}"#[..], br#"{"x":[-Infinity]}"#] {
            let value = signer.sign_payload(payload, 1_700_000_000);
            let Err(SignatureError::BadPayload(why)) = signer.unsign_object(&value, None, now)
            else {
                panic!("{payload:?} was accepted");
            };
            assert!(why.contains("NaN or Infinity"), "{why}");
        }
        let value = signer.sign_payload(br#"{"x":1e400}"#, 1_700_000_000);
        assert!(
            signer.unsign_object(&value, None, now).is_ok(),
            "1e400 reads"
        );
    }

    #[test]
    fn compresses_only_when_it_saves_more_than_the_marker() {
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let small = signer.sign_object(&object(json!({"a": 1})), 0);
        assert!(!small.starts_with('.'));
        let big = signer.sign_object(&object(json!({"blob": "ab".repeat(500)})), 0);
        assert!(big.starts_with('.'));
        assert!(big.len() < 200);
        let back = signer.unsign_object(&big, None, SystemTime::now()).unwrap();
        assert_eq!(back.data["blob"], json!("ab".repeat(500)));
    }

    #[test]
    fn below_the_threshold_values_stay_plain_and_above_it_compress_as_in_django() {
        let django = Signer::new(COOKIE_SALT, "s", &[]);
        let fast = django.clone().compressing_from(SMALL_VALUE_BYTES);
        let small = object(json!({"blob": "ab".repeat(100)}));
        assert!(django.sign_object(&small, 7).starts_with('.'));
        let plain = fast.sign_object(&small, 7);
        assert!(!plain.starts_with('.'));
        assert_eq!(
            django
                .unsign_object(&plain, None, SystemTime::now())
                .unwrap()
                .data,
            small
        );
        let big = object(json!({"blob": "ab".repeat(SMALL_VALUE_BYTES)}));
        assert_eq!(fast.sign_object(&big, 7), django.sign_object(&big, 7));
    }

    #[test]
    fn age_equal_to_max_age_passes_and_one_more_second_fails() {
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let value = signer.sign_object(&Data::new(), 1_000);
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        let max_age = Some(Duration::from_secs(10));
        assert!(signer.unsign_object(&value, max_age, at(1_010)).is_ok());
        assert_eq!(
            signer.unsign_object(&value, max_age, at(1_011)),
            Err(SignatureError::Expired {
                age_seconds: 11,
                max_age_seconds: 10
            })
        );
    }

    #[test]
    fn a_timestamp_past_the_clock_range_is_not_expired_and_does_not_panic() {
        // Found by fuzzing (fuzz/fuzz_targets/unsign.rs): `UNIX_EPOCH + u64::MAX seconds`
        // overflowed SystemTime and panicked. Signed "in the future", the value is age 0.
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let value = signer.sign_payload(b"{}", u64::MAX);
        let max_age = Some(Duration::from_secs(60));
        let unsigned = signer.unsign_payload(&value, max_age, SystemTime::now());
        assert_eq!(unsigned.map(|u| u.timestamp), Ok(u64::MAX));
    }

    #[test]
    fn only_the_exact_signature_string_verifies() {
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let value = signer.sign_payload(b"{}", 5);
        let now = SystemTime::now();
        assert!(signer.unsign_payload(&value, None, now).is_ok());
        // The last character carries 4 bits of the MAC and 2 unused bits: another character
        // with the same 4 bits decodes to the same bytes but is not Django's string.
        let (head, last) = value.split_at(value.len() - 1);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet
            .iter()
            .position(|&c| c == last.as_bytes()[0])
            .unwrap();
        let sibling = char::from(alphabet[index ^ 1]);
        let variants = [
            format!("{head}{sibling}"),
            format!("{value}A"),
            value[..value.len() - 1].to_owned(),
            format!("{head}="),
        ];
        for variant in variants {
            assert_eq!(
                signer.unsign_payload(&variant, None, now),
                Err(SignatureError::BadSignature),
                "{variant}"
            );
        }
    }

    #[test]
    fn a_dot_payload_that_is_not_zlib_fails_cleanly() {
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let mut value = format!(
            ".{}:{}",
            URL_SAFE_NO_PAD.encode_to_string(b"{}"),
            b62_encode(5)
        );
        signer.append_signature(&mut value);
        assert_eq!(
            signer.unsign_object(&value, None, SystemTime::now()),
            Err(SignatureError::BadPayload("invalid zlib stream"))
        );
    }

    #[test]
    fn decompression_is_bounded() {
        let signer = Signer::new(COOKIE_SALT, "s", &[]);
        let bomb = zlib(&vec![b' '; (MAX_DECOMPRESSED_BYTES + 10) as usize]);
        let mut value = format!(".{}:0", URL_SAFE_NO_PAD.encode_to_string(&bomb));
        signer.append_signature(&mut value);
        assert_eq!(
            signer.unsign_object(&value, None, SystemTime::now()),
            Err(SignatureError::TooLarge {
                limit: MAX_DECOMPRESSED_BYTES
            })
        );
    }
}
