//! Runs the real `sessionkit` binary: signing round trips, the maintenance commands and their
//! settings errors, copying sessions between stores, and the demo store end to end, over HTTP
//! and in headless Chromium.

mod browser;
mod copy;
mod maintenance;
mod serve;
mod shared_store;
mod signing;
mod support;
