//! The conformance suite, for a store of your own: the checks every built-in engine passes,
//! behind the `testing` feature.
//!
//! A store crate (DynamoDB, MongoDB, memcached…) implements
//! [`RecordStore`](crate::engine::RecordStore) and runs the suite from one test file, with
//! sessionkit as a dev-dependency with this feature on:
//!
//! ```toml
//! [dev-dependencies]
//! sessionkit = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! // tests/conformance.rs: one #[test] per behaviour, each on a new store.
//! use sessionkit::engine::MemoryStore;
//!
//! async fn make_store() -> MemoryStore {
//!     MemoryStore::new(10_000) // your store, connected to a test server
//! }
//!
//! sessionkit::testing::conformance!(make_store);
//! # fn main() {}
//! ```
//!
//! Each test runs on a tokio runtime of its own (current-thread, as `#[tokio::test]` makes), so
//! the store crate needs no dev-dependency but sessionkit.
//!
//! The behaviours are what Django's session framework promises — the dict API, persistence and
//! keys, expiry, bad input, concurrent requests; "item N" in their docs is an item of the
//! repository's `docs/CONFORMANCE.md` — checked through [`Sessions`] over a
//! [`ServerEngine`](crate::engine::ServerEngine) on your store, so a failure names the promise
//! your store breaks. Locking and per-user listing are optional
//! ([`Capabilities`](crate::engine::Capabilities)): on a store without them, their behaviours
//! check the clear refusal instead (`EngineError::Unsupported`, and `SESSION_LOCKING` refused
//! at startup). [`clear_expired`](crate::engine::clear_expired) must remove and count expired
//! records.
//!
//! A store that needs settings or clean-up of its own (a table to drop) gives a [`Harness`]
//! instead: `conformance!(harness = make_harness)`, with `make_harness` an
//! `async fn() -> Harness` built with [`Harness::for_store`] and [`Harness::with_cleanup`].
//! One behaviour can also be run by hand:
//!
//! ```
//! use sessionkit::engine::MemoryStore;
//! use sessionkit::testing::{Harness, persistence, run};
//!
//! run(async { Harness::for_store(MemoryStore::new(100)) }, |harness| async move {
//!     persistence::a_session_deleted_meanwhile_is_not_brought_back(&harness).await
//! });
//! ```

// A failed check panics, as it does in any test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::Data;
use crate::{Session, Sessions};

pub mod bad_input;
pub mod concurrency;
pub mod dict_api;
pub mod expiry;
mod harness;
pub mod logs;
pub mod persistence;

pub use harness::Harness;

/// `SECRET_KEY` of every harness [`Harness::for_store`] makes.
pub const SECRET: &str = "conformance-suite-secret-key";

/// Runs `behaviour` on the harness `make` gives, on a runtime of its own with sessionkit's
/// logs captured ([`logs::take`]), then cleans the harness up ([`Harness::cleanup`]) whether
/// the behaviour passed or panicked; a panic is passed on to the test.
pub fn run<H, B, F>(make: impl Future<Output = H>, behaviour: B)
where
    H: AsRef<Harness> + Send + Sync + 'static,
    B: FnOnce(Arc<H>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let _capture = logs::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let harness = Arc::new(make.await);
        let outcome = tokio::spawn(behaviour(harness.clone())).await;
        AsRef::<Harness>::as_ref(&*harness).cleanup().await;
        if let Err(failure) = outcome {
            std::panic::resume_unwind(failure.into_panic());
        }
    });
}

/// Loads the session of a request carrying `cookie`.
pub async fn load(sessions: &Sessions, cookie: Option<&str>) -> Session {
    sessions
        .start(cookie)
        .load()
        .await
        .expect("loading never fails for bad input")
}

/// `value` as session data; panics if it is not a JSON object.
pub fn object(value: Value) -> Data {
    match Data::try_from(value) {
        Ok(data) => data,
        Err(error) => panic!("not session data: {error}"),
    }
}

/// `(accessed, modified)`.
pub fn flags(session: &Session) -> (bool, bool) {
    (session.accessed(), session.modified())
}

/// One `#[test]` per behaviour, each on a new store from `make_store` (or a new harness from
/// `make_harness`); see the [module docs](self).
#[doc(inline)]
pub use crate::__sessionkit_conformance as conformance;

#[doc(hidden)]
#[macro_export]
macro_rules! __sessionkit_conformance {
    (harness = $make_harness:path $(,)?) => {
        $crate::__sessionkit_behaviours!(any_store $make_harness());
    };
    ($make_store:path $(,)?) => {
        $crate::__sessionkit_behaviours!(
            any_store async { $crate::testing::Harness::for_store($make_store().await) }
        );
    };
}

/// The behaviours by the engines they apply to, each list once: sessionkit's own suite runs
/// them on its engines, [`conformance!`] on a store of yours. `@tests [module] harness; …`
/// makes one `#[test]` per behaviour of `module`.
#[doc(hidden)]
#[macro_export]
macro_rules! __sessionkit_behaviours {
    (@tests $module:tt $harness:expr; $($group:ident::$test:ident),* $(,)?) => {$(
        $crate::__sessionkit_behaviours!(@test $module $harness; $group::$test);
    )*};
    (@test [$($module:tt)*] $harness:expr; $group:ident::$test:ident) => {
        #[test]
        fn $test() {
            $crate::testing::run($harness, |harness| async move {
                $($module)*::$group::$test(&harness).await
            });
        }
    };
    // What a store of any kind must pass: the lists below but for the cookie engine's.
    (any_store $harness:expr) => {
        $crate::__sessionkit_behaviours!(every_engine $harness);
        $crate::__sessionkit_behaviours!(server_engines $harness);
        $crate::__sessionkit_behaviours!(versioned_engines $harness);
        $crate::__sessionkit_behaviours!(sweeping_engines $harness);
    };
    // Every engine, the data in a store or in the cookie.
    (every_engine $harness:expr) => {
        $crate::__sessionkit_behaviours!(@tests [$crate::testing] $harness;
            dict_api::a_new_session_is_empty_and_untouched,
            dict_api::getting_a_missing_key_gives_none_and_marks_only_accessed,
            dict_api::insert_marks_accessed_and_modified,
            dict_api::pop_of_a_present_key_returns_it_and_removes_it,
            dict_api::pop_of_a_missing_key_gives_none_and_does_not_mark_modified,
            dict_api::setdefault_inserts_once_then_returns_the_stored_value,
            dict_api::update_and_clear_mark_accessed_and_modified,
            dict_api::contains_key_keys_values_and_items_mark_only_accessed,
            dict_api::reading_a_value_as_another_type_is_a_type_error,
            dict_api::a_pop_with_the_wrong_type_leaves_the_value_in_place,
            dict_api::the_test_cookie_is_set_checked_and_deleted,
            persistence::saved_data_is_readable_before_and_after_reloading,
            persistence::an_empty_new_session_is_not_saved,
            persistence::exists_is_true_only_for_a_saved_session,
            persistence::flush_empties_the_session_and_a_later_write_starts_a_new_one,
            persistence::cycle_key_keeps_the_data_it_has_not_loaded_yet,
            persistence::creating_sessions_never_overwrites_another,
            expiry::the_default_expiry_is_the_cookie_age_and_browser_close_keeps_it,
            expiry::a_custom_expiry_is_counted_from_the_modification_time,
            expiry::a_custom_expiry_survives_saving,
            expiry::expire_at_browser_close_follows_the_setting_unless_overridden,
            expiry::a_session_past_its_custom_expiry_is_not_loaded,
            expiry::a_session_older_than_the_cookie_age_is_not_loaded,
            bad_input::every_kind_of_json_value_survives_a_round_trip,
            bad_input::an_empty_session_survives_a_round_trip_through_the_engine,
            bad_input::malformed_cookie_values_give_a_fresh_session,
        );
    };
    // Server engines: the data lives in a store, only a key travels in the cookie.
    (server_engines $harness:expr) => {
        $crate::__sessionkit_behaviours!(@tests [$crate::testing] $harness;
            persistence::delete_removes_the_record,
            persistence::flush_deletes_the_old_record,
            persistence::cycle_key_replaces_the_key_and_deletes_the_old_record,
            persistence::session_keys_are_32_lowercase_alphanumerics,
            persistence::values_shorter_than_8_characters_are_not_keys,
            persistence::session_keys_never_appear_in_debug_output_or_logs,
            persistence::an_unknown_key_is_not_adopted,
            persistence::a_session_deleted_meanwhile_is_not_brought_back,
            concurrency::with_locking_no_increment_of_a_shared_counter_is_lost,
            concurrency::a_request_that_cannot_get_the_lock_gets_a_503,
            concurrency::a_lock_is_exclusive_until_its_holder_releases_it,
            concurrency::a_lock_whose_holder_died_lapses_after_its_lease,
            bad_input::garbage_keys_give_a_fresh_session,
            bad_input::a_changed_key_finds_nothing,
        );
    };
    // Server engines with a version per record and a user index (every store of the
    // `RecordStore` contract; not Django's table, which has neither): concurrent changes to
    // different keys merge, and a user's sessions are listed.
    (versioned_engines $harness:expr) => {
        $crate::__sessionkit_behaviours!(@tests [$crate::testing] $harness;
            persistence::concurrent_changes_to_different_keys_are_merged,
            persistence::a_users_sessions_are_listed_and_the_others_can_be_ended,
            concurrency::concurrent_requests_setting_their_own_keys_all_survive,
        );
    };
    // Server engines that keep expired records until `clear_expired` sweeps them (not Redis,
    // which drops them itself).
    (sweeping_engines $harness:expr) => {
        $crate::__sessionkit_behaviours!(@tests [$crate::testing] $harness;
            expiry::clear_expired_removes_only_expired_records_and_counts_them,
        );
    };
}
