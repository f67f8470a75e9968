//! Runs the real `sessionkit` binary: signing round trips, the maintenance commands and their
//! settings errors, and the demo store end to end.

mod maintenance;
mod serve;
mod signing;
mod support;
