//! Sessions in a Redis that requires TLS (ElastiCache, Upstash, Memorystore…): the `cache`
//! engine with a `rediss://` URL.
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) \
//! SESSION_CACHE_URL='rediss://:password@cache.example.com:6380/0' \
//!     cargo run -p sessionkit --features redis --example redis_tls
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, then 2, 3…
//! ```
//!
//! Not working yet: this build's Redis client has no TLS, so a `rediss://` URL fails when the
//! sessions open (TLS for every store is issue 15's third point). A server whose certificate
//! comes from a private CA will also need that CA's file as a setting (`SESSION_STORE_CA_FILE`,
//! not in sessionkit yet). Until then, a `redis://` URL runs this example in plain text.

mod support;

use axum::{Router, routing::get};
use sessionkit::{EngineKind, Sessions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache_url = std::env::var("SESSION_CACHE_URL")
        .unwrap_or_else(|_| "rediss://127.0.0.1:6380/0".to_owned());
    let sessions = Sessions::builder(support::secret_key())
        .engine(EngineKind::Cache)
        .cache_url(cache_url)
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
