//! TLS for each kind of Redis client: the `rediss` schemes, trusting only the CAs of
//! `SESSION_STORE_CA_FILE` when it is given, through rustls with ring.

use std::path::Path;

use redis::cluster::ClusterClientBuilder;
use redis::sentinel::SentinelClientBuilder;

/// A client for `url`; a `rediss://` one trusts only the CAs of `ca_file` when it is given.
pub(super) fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, String> {
    #[cfg(feature = "tls")]
    if crate::tls::cache_url_requires_tls(url) {
        install_crypto_provider();
        if let Some(ca_file) = ca_file {
            let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            };
            return redis::Client::build_with_tls(url, certificates).map_err(|e| e.to_string());
        }
    }
    // Without TLS nothing reads a CA file: `features::check_ca_file` refuses one at start-up.
    #[cfg(not(feature = "tls"))]
    let _ = ca_file;
    redis::Client::open(url).map_err(|e| e.to_string())
}

/// `builder`, trusting only the CAs of `ca_file` when one is given (a `rediss+cluster://` URL).
pub(super) fn with_ca_file(
    builder: ClusterClientBuilder,
    ca_file: Option<&Path>,
) -> Result<ClusterClientBuilder, String> {
    #[cfg(feature = "tls")]
    if let Some(ca_file) = ca_file {
        let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
        return Ok(builder.certs(redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert),
        }));
    }
    // Without TLS nothing reads a CA file: `features::check_ca_file` refuses one at start-up.
    let _ = ca_file;
    Ok(builder)
}

/// TLS to the sentinels and the data nodes, with the CAs of `ca_file` when one is given.
#[cfg(feature = "tls")]
pub(super) fn with_sentinel_tls(
    builder: SentinelClientBuilder,
    ca_file: Option<&Path>,
) -> Result<SentinelClientBuilder, String> {
    install_crypto_provider();
    let mut builder = builder
        .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure)
        .set_client_to_redis_tls_mode(redis::TlsMode::Secure);
    if let Some(ca_file) = ca_file {
        let root_cert = crate::tls::read_ca_file(ca_file).map_err(|e| e.to_string())?;
        let certificates = || redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root_cert.clone()),
        };
        builder = builder
            .set_client_to_sentinel_certificates(certificates())
            .set_client_to_redis_certificates(certificates());
    }
    Ok(builder)
}

/// Without the `tls` feature `features::check` refuses a `rediss+sentinel://` URL at start-up.
#[cfg(not(feature = "tls"))]
pub(super) fn with_sentinel_tls(
    _builder: SentinelClientBuilder,
    _ca_file: Option<&Path>,
) -> Result<SentinelClientBuilder, String> {
    Err("rediss+sentinel:// needs sessionkit's Cargo feature \"tls\"".to_owned())
}

/// redis's rustls takes the process's default crypto provider, which rustls picks by itself
/// only when exactly one is compiled in; an app's other crates may compile in a second. So
/// ring (what sessionkit's TLS uses) is installed, unless the app chose one already.
#[cfg(feature = "tls")]
pub(super) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is then in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
