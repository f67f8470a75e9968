//! TLS to the stores: which URLs ask for it, and reading `SESSION_STORE_CA_FILE`.
//!
//! A leaf like `cache_url`: settings validation, the feature check and the engines share one
//! answer. It needs no TLS library, so a build without the `tls` feature can still say why a
//! setting is wrong.

use std::path::Path;

use crate::config::ConfigError;

/// The setting naming a PEM bundle of the CAs that sign the stores' certificates.
pub(crate) const CA_FILE_SETTING: &str = "SESSION_STORE_CA_FILE";

/// The `sslmode`/`ssl-mode` values of a database URL that refuse a connection without TLS
/// (PostgreSQL's and MySQL's spellings, compared without case).
const REQUIRING_MODES: [&str; 6] = [
    "require",
    "verify-ca",
    "verify-full",
    "required",
    "verify_ca",
    "verify_identity",
];

/// Whether a `SESSION_DB_URL` demands TLS: `sslmode=require` and stricter. A `prefer` mode
/// (PostgreSQL's default) works without TLS, so it does not count.
pub(crate) fn db_url_requires_tls(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        matches!(key, "sslmode" | "ssl-mode")
            && REQUIRING_MODES
                .iter()
                .any(|mode| value.eq_ignore_ascii_case(mode))
    })
}

/// Whether a `SESSION_CACHE_URL` is Redis over TLS.
pub(crate) fn cache_url_requires_tls(url: &str) -> bool {
    ["rediss://", "rediss+cluster://", "rediss+sentinel://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

/// The contents of a CA bundle, checked to hold PEM certificates and nothing malformed, so a
/// wrong path or file stops the start naming the setting rather than failing every handshake.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bad = |why: String| ConfigError::new(CA_FILE_SETTING, format!("{}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|error| bad(format!("cannot be read ({error})")))?;
    let text = std::str::from_utf8(&pem).map_err(|_| bad("is not PEM text".into()))?;
    let count = pem_certificates(text).map_err(bad)?;
    if count == 0 {
        return Err(bad(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(pem)
}

/// `url` with the CA file as its `ssl-ca` parameter, which sqlx reads for PostgreSQL (as
/// `sslrootcert`) and MySQL alike: sqlx's `any` driver takes its options only from the URL.
/// Appended, so it wins over one the URL already has.
#[cfg(feature = "_sql")]
pub(crate) fn url_with_ca_file(url: &str, ca_file: &Path) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    let mut encoded = String::new();
    for byte in ca_file.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(char::from(*byte))
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("{url}{separator}ssl-ca={encoded}")
}

/// For a start-up error whose `cause` says the store's certificate was refused: which CAs it
/// was checked against, and the setting that changes them. Empty for any other cause.
#[cfg(any(feature = "_sql", feature = "redis"))]
pub(crate) fn certificate_hint(cause: &str, ca_file: Option<&Path>) -> String {
    if !cause.contains("invalid peer certificate") {
        return String::new();
    }
    match ca_file {
        Some(path) => format!(
            " (checked against {CA_FILE_SETTING} {}: is that the CA that signed the server's \
             certificate?)",
            path.display()
        ),
        None => format!(
            " (checked against the built-in roots: for a private CA, set {CA_FILE_SETTING})"
        ),
    }
}

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// How many certificates the PEM `text` holds; an error for one whose body is not base64 of a
/// DER structure. Other PEM blocks and text between blocks are ignored, as TLS libraries do.
fn pem_certificates(text: &str) -> Result<usize, String> {
    let mut count = 0;
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let body_and_rest = &rest[start + BEGIN.len()..];
        let end = body_and_rest
            .find(END)
            .ok_or_else(|| format!("certificate {} has no {END} line", count + 1))?;
        let body: String = body_and_rest[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64_simd::STANDARD
            .decode_to_vec(body.as_bytes())
            .map_err(|_| format!("certificate {} is not valid base64", count + 1))?;
        // Every X.509 certificate is a DER SEQUENCE.
        if der.first() != Some(&0x30) {
            return Err(format!(
                "certificate {} is not a DER certificate",
                count + 1
            ));
        }
        count += 1;
        rest = &body_and_rest[end + END.len()..];
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_modes_that_refuse_plaintext_require_tls() {
        for url in [
            "postgres://db/app?sslmode=require",
            "postgres://db/app?application_name=x&sslmode=verify-full",
            "mysql://db/app?ssl-mode=VERIFY_IDENTITY",
            "mariadb://db/app?ssl-mode=required",
        ] {
            assert!(db_url_requires_tls(url), "{url}");
        }
        for url in [
            "postgres://db/app",
            "postgres://db/app?sslmode=prefer",
            "mysql://db/app?ssl-mode=DISABLED",
            "sqlite://require.db",
        ] {
            assert!(!db_url_requires_tls(url), "{url}");
        }
        assert!(cache_url_requires_tls("rediss://cache:6380"));
        assert!(cache_url_requires_tls(
            "rediss+sentinel://:pw@s1:26379/main"
        ));
        assert!(!cache_url_requires_tls("redis+sentinel://s1:26379/main"));
        assert!(!cache_url_requires_tls("redis://cache"));
    }

    #[test]
    #[cfg(feature = "_sql")]
    fn the_ca_file_joins_the_url_query_encoded() {
        let path = Path::new("/etc/my ca+1.pem");
        assert_eq!(
            url_with_ca_file("postgres://db/app", path),
            "postgres://db/app?ssl-ca=/etc/my%20ca%2B1.pem"
        );
        assert_eq!(
            url_with_ca_file("mysql://db/app?ssl-mode=VERIFY_CA", path),
            "mysql://db/app?ssl-mode=VERIFY_CA&ssl-ca=/etc/my%20ca%2B1.pem"
        );
    }

    #[test]
    #[cfg(any(feature = "_sql", feature = "redis"))]
    fn a_refused_certificate_points_at_the_ca_file_setting() {
        let cause = "invalid peer certificate: UnknownIssuer";
        let hint = certificate_hint(cause, Some(Path::new("/etc/ca.pem")));
        assert!(hint.contains("SESSION_STORE_CA_FILE /etc/ca.pem"), "{hint}");
        let hint = certificate_hint(cause, None);
        assert!(hint.contains("built-in roots"), "{hint}");
        assert_eq!(certificate_hint("connection refused", None), "");
    }

    #[test]
    fn pem_certificates_are_counted_and_bad_ones_named() {
        let one = format!("{BEGIN}\nMAEC\n{END}\n");
        assert_eq!(pem_certificates(&format!("comment\n{one}{one}")), Ok(2));
        assert_eq!(pem_certificates("no pem here"), Ok(0));
        let not_base64 = format!("{BEGIN}\n!!!!\n{END}\n");
        assert!(
            pem_certificates(&not_base64)
                .unwrap_err()
                .contains("base64")
        );
        let not_der = format!("{BEGIN}\naGVsbG8=\n{END}\n");
        assert!(pem_certificates(&not_der).unwrap_err().contains("DER"));
        assert!(pem_certificates(BEGIN).unwrap_err().contains(END));
    }

    #[test]
    fn a_missing_or_empty_ca_file_names_the_setting() {
        let error = read_ca_file(Path::new("/no/such/ca.pem")).unwrap_err();
        assert_eq!(error.setting, CA_FILE_SETTING);
        assert!(error.message.contains("/no/such/ca.pem"), "{error}");
    }
}
