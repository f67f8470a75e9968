//! Django's base62 (`django.core.signing.b62_encode`), the timestamp's form in a signed value.

/// Django's alphabet: digits, then upper case, then lower case.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Base62 with Django's alphabet, most significant digit first: `1700000000` → `1r31eq`.
///
/// ```
/// use sessionkit::django::signing::b62_encode;
///
/// assert_eq!(b62_encode(1_700_000_000), "1r31eq");
/// assert_eq!(b62_encode(61), "z");
/// assert_eq!(b62_encode(62), "10");
/// ```
pub fn b62_encode(n: u64) -> String {
    let mut text = String::with_capacity(11);
    push_b62(n, &mut text);
    text
}

/// Appends `n` in base62 to `out`, most significant digit first.
pub(super) fn push_b62(mut n: u64, out: &mut String) {
    // u64::MAX takes 11 digits.
    let mut digits = [0u8; 11];
    let mut start = digits.len();
    // From the last slot backwards; 11 slots hold u64::MAX, so the loop ends on `n == 0`.
    for (slot, digit) in digits.iter_mut().enumerate().rev() {
        *digit = BASE62.get((n % 62) as usize).copied().unwrap_or(b'0');
        start = slot;
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().skip(start).map(|&digit| char::from(digit)));
}

/// Inverse of [`b62_encode`]; `None` for an empty string, a foreign character or overflow.
///
/// ```
/// use sessionkit::django::signing::{b62_decode, b62_encode};
///
/// assert_eq!(b62_decode("1r31eq"), Some(1_700_000_000));
/// assert_eq!(b62_decode(&b62_encode(u64::MAX)), Some(u64::MAX));
/// assert_eq!(b62_decode("1r3-eq"), None); // not a base62 digit
/// assert_eq!(b62_decode("zzzzzzzzzzzz"), None); // overflows u64
/// ```
pub fn b62_decode(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, b| {
        let digit = BASE62.iter().position(|d| *d == b)? as u64;
        acc.checked_mul(62)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_matches_django() {
        assert_eq!(b62_encode(1_700_000_000), "1r31eq");
        assert_eq!(b62_encode(0), "0");
        assert_eq!(b62_decode("1r31eq"), Some(1_700_000_000));
        assert_eq!(b62_decode(""), None);
        assert_eq!(b62_decode("1r3-eq"), None);
        assert_eq!(b62_decode("zzzzzzzzzzzzzzzz"), None);
        for n in [1, 61, 62, 3843, 3844, u64::MAX] {
            assert_eq!(b62_decode(&b62_encode(n)), Some(n));
        }
    }
}
