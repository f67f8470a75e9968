//! Test-only helpers for fault injection: private database and cache servers that a test may
//! kill, hang and restart, and a TCP proxy it may partition.
//!
//! Each server ([`PrivateRedis`], [`PrivatePostgres`], [`PrivateMariaDb`]) runs on a spare port
//! with its data under its own temporary directory, with its process tree under control, so a test can
//! `kill()` (SIGKILL), `suspend()` (SIGSTOP), `resume()` (SIGCONT) and `restart()` it without
//! going near the shared services on 5432, 3306 and 6379 that other tests use. Dropping one
//! stops it and removes its directory. [`TcpProxy`] sits between an app and a server so a test
//! can cut the network (`partition()`) and restore it (`heal()`).
//!
//! [`RedisCluster`] (3 masters, 3 replicas) and [`RedisSentinel`] (a master, a replica, 3
//! sentinels) are whole Redis setups on spare ports, whose nodes a test may kill one by one;
//! `shared()` gives one of each to every test of a process, stopped when the process exits.
//!
//! [`PrivateServer::start_tls`] starts one speaking TLS with a certificate from a [`TestCa`]
//! made for the test.
//!
//! This crate is not published and does not depend on `sessionkit`: it knows servers and
//! sockets, not sessions.

mod daemon;
mod mariadb;
mod postgres;
mod probe;
mod process_tree;
mod proxy;
mod redis;
mod redis_cluster;
mod redis_node;
mod redis_sentinel;
mod server;
mod temp_dir;
mod tls;

pub use mariadb::{MariaDb, PrivateMariaDb};
pub use postgres::{Postgres, PrivatePostgres};
pub use proxy::TcpProxy;
pub use redis::{PrivateRedis, Redis};
pub use redis_cluster::RedisCluster;
pub use redis_node::redis_cli;
pub use redis_sentinel::RedisSentinel;
pub use server::{Kind, PrivateServer};
pub use temp_dir::TempDir;
pub use tls::TestCa;

/// A port nothing listens on right now (the OS picks it; the listener is closed at once).
pub fn spare_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
