//! Sessions in a Redis that requires TLS (ElastiCache, Upstash, Memorystore…): the `cache`
//! engine with a `rediss://` URL.
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) \
//! SESSION_CACHE_URL='rediss://:password@cache.example.com:6380/0' \
//!     cargo run -p sessionkit --features redis,tls --example redis_tls
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, then 2, 3…
//! ```
//!
//! A server whose certificate comes from a private CA needs that CA's PEM file too:
//! `SESSION_STORE_CA_FILE=/etc/ssl/private-ca.pem` (then only that CA is trusted for Redis).
//! A wrong CA or a server that does not speak TLS stops the start with an error naming the
//! setting to check.

mod support;

use axum::{Router, routing::get};
use sessionkit::{EngineKind, Sessions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache_url = std::env::var("SESSION_CACHE_URL")
        .unwrap_or_else(|_| "rediss://127.0.0.1:6380/0".to_owned());
    let ca_file = std::env::var_os("SESSION_STORE_CA_FILE").map(std::path::PathBuf::from);
    let sessions = Sessions::builder(support::secret_key())
        .engine(EngineKind::Cache)
        .cache_url(cache_url)
        .configure(|settings| settings.store_ca_file = ca_file)
        // Namespaces this app's keys, should the Redis be shared.
        .configure(|settings| settings.cache_key_prefix = "redis_tls_example:".to_owned())
        .open()
        .await?;
    let app = Router::new()
        .route("/", get(support::count))
        .layer(sessions.layer());
    support::serve(app).await?;
    Ok(())
}
