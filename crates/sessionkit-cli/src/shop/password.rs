//! Password hashes in Django's format, `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, so
//! users moved over from a Django site keep their passwords (and a hash made here works there).

use base64_simd::STANDARD;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Django's name for PBKDF2 with HMAC-SHA256.
const ALGORITHM: &str = "pbkdf2_sha256";
/// Django's derived key length: one SHA-256 output.
const HASH_BYTES: usize = 32;

/// Whether `password` matches `encoded`; a malformed hash matches nothing.
///
/// It costs what the hash's iteration count asks (Django's 1,000,000 take about a second in a
/// debug build), so call it off the async runtime, as [`crate::shop::users::authenticate`] does.
pub fn verify(password: &str, encoded: &str) -> bool {
    let mut fields = encoded.split('$');
    let (Some(ALGORITHM), Some(iterations), Some(salt), Some(hash), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return false;
    };
    let (Ok(iterations @ 1..), Ok(expected)) =
        (iterations.parse::<u32>(), STANDARD.decode_to_vec(hash))
    else {
        return false;
    };
    let mut derived = [0u8; HASH_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    derived.ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Django 5.2's `PBKDF2PasswordHasher().encode("lètmein", "seasalt", iterations=1000)`.
    const DJANGO_HASH: &str =
        "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";

    #[test]
    fn a_hash_made_by_django_verifies_its_password_only() {
        assert!(verify("lètmein", DJANGO_HASH));
        assert!(!verify("letmein", DJANGO_HASH));
        assert!(!verify("", DJANGO_HASH));
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        for encoded in [
            "",
            "lètmein",
            "pbkdf2_sha1$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$0$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$many$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasalt$not base64!",
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=$extra",
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQ==",
        ] {
            assert!(!verify("lètmein", encoded), "{encoded}");
        }
    }
}
