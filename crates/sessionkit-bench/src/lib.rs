//! # sessionkit-bench
//!
//! How fast sessionkit is, measured the same way every time (docs/DESIGN.md §10):
//!
//! - `benches/micro.rs`: criterion micro-benchmarks — signing, the JSON codec, key generation,
//!   and the middleware called in process next to tower-sessions, so each ratio comes from one
//!   run on one machine. `benches/allocations.rs` counts the heap allocations of the same
//!   in-process requests, a measure that does not drift with the machine's load.
//! - `src/bin/loadgen.rs`: an HTTP/1.1 load generator for the `/bench/` routes: C clients, each
//!   with its own cookie jar and keep-alive connection, sending requests one after another;
//!   it reports req/s, latency percentiles, errors and lost updates as JSON and as a Markdown
//!   table row.
//! - `src/bin/bare_axum.rs` and `src/bin/tower_sessions_server.rs`: the same routes with no
//!   sessions (the HTTP stack's floor) and with tower-sessions; `src/bin/minimal_layer_server.rs`
//!   with the least a session layer does ([`minimal_layer`]).
//! - `django_app/`: the same routes in Django, served by gunicorn.
//!
//! `scripts/bench.sh` at the repository root runs all of it and writes `docs/BENCHMARKS.md`.
//!
//! This library holds what the binaries share: the load generator's client ([`client`]) and
//! report ([`report`]), the comparison servers' start-up ([`serve`]), tower-sessions' routes
//! ([`tower_sessions_routes`], also compiled by the store-backed peers in `peers/`) and the
//! yardstick layer the benchmarks and a server share ([`minimal_layer`]).

pub mod client;
pub mod minimal_layer;
pub mod report;
pub mod serve;
pub mod tower_sessions_routes;
