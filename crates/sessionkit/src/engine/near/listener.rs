//! The background task that keeps a near cache's invalidation channel open: the cache
//! serves entries only while the channel is connected, and is emptied whenever it
//! (re)connects, so no change made elsewhere while it was down is ever served.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::Shared;

/// How long to wait before connecting again after a channel was lost or could not connect.
const RETRY: Duration = Duration::from_millis(250);

/// What an invalidation channel does; [`keep_listening`] runs it for as long as its cache lives.
pub(crate) trait Listener: Send + Sync + 'static {
    /// What `connect` opens and `forward` reads.
    type Connection: Send;
    /// The store's name, for logs.
    const STORE: &'static str;

    /// Opens the channel; once this returns, every later change is reported.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, String>> + Send;

    /// Drops the entries the channel names until it ends; says why it ended.
    fn forward(
        &self,
        connection: Self::Connection,
        shared: &Weak<Shared>,
    ) -> impl Future<Output = String> + Send;
}

/// Starts `listener` for `shared` in the background: the cache serves entries only while it
/// is connected, and is emptied whenever it (re)connects. Ends when the cache is dropped.
pub(super) fn spawn_listener<L: Listener>(listener: L, shared: &Arc<Shared>) {
    let shared = Arc::downgrade(shared);
    tokio::spawn(async move { keep_listening(listener, shared).await });
}

async fn keep_listening<L: Listener>(listener: L, shared: Weak<Shared>) {
    let mut failures: u32 = 0;
    loop {
        match listener.connect().await {
            Ok(connection) => {
                failures = 0;
                let Some(strong) = shared.upgrade() else {
                    return;
                };
                strong.channel_up();
                drop(strong);
                let why = listener.forward(connection, &shared).await;
                match shared.upgrade() {
                    Some(strong) => strong.channel_down(L::STORE, &why),
                    None => return,
                }
            }
            Err(error) => match shared.upgrade() {
                Some(strong) => {
                    failures = failures.saturating_add(1);
                    // The first failure and then fewer and fewer: not one line per retry.
                    if failures.is_power_of_two() {
                        tracing::warn!(
                            store = L::STORE,
                            attempt = failures,
                            error,
                            "near cache: cannot open the invalidation channel; bypassing the cache"
                        );
                    }
                    strong.channel_down(L::STORE, &error);
                }
                None => return,
            },
        }
        tokio::time::sleep(RETRY).await;
    }
}

impl Shared {
    /// The channel is listening (again): start from an empty cache.
    pub(crate) fn channel_up(&self) {
        self.invalidate_all();
        if !self.live.swap(true, Ordering::SeqCst) {
            tracing::info!("near cache: invalidation channel up; serving from the cache");
        }
    }

    /// The channel is lost: changes elsewhere would go unseen, so bypass the cache.
    pub(crate) fn channel_down(&self, store: &str, why: &str) {
        if self.live.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                store,
                cause = why,
                "near cache: invalidation channel lost; bypassing the cache until it is back"
            );
        }
        self.invalidate_all();
    }
}
