//! Runs the real `sessionkit` binary: signing round trips, the maintenance commands and their
//! settings errors, copying sessions between stores, the demo store end to end, over HTTP
//! and in headless Chromium, and the fault matrix (each server store killed, hung and cut off
//! under load).

mod accounts;
mod browser;
mod copy;
mod faults;
mod maintenance;
mod metrics;
mod serve;
mod shared_store;
mod signing;
mod stats;
mod support;
