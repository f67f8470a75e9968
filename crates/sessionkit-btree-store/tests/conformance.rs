//! sessionkit's conformance suite on this store: one test per behaviour.

use sessionkit_btree_store::BTreeStore;

async fn make_store() -> BTreeStore {
    BTreeStore::default()
}

sessionkit::testing::conformance!(make_store);
