//! A TCP proxy whose network can be cut: the partition fault.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// How long forwarding a new connection waits for the target to accept it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Listens on a spare 127.0.0.1 port and forwards each connection to a target, one thread per
/// direction. [`TcpProxy::partition`] drops every open connection and makes new ones hang
/// (accepted, nothing forwarded), like a network black hole; [`TcpProxy::heal`] forwards again,
/// including the connections that hung meanwhile. Dropping the proxy closes everything.
pub struct TcpProxy {
    port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    target: SocketAddr,
    state: Mutex<State>,
    /// Notified when the partition heals or the proxy closes.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    partitioned: bool,
    closed: bool,
    next_id: u64,
    /// Both ends of each forwarded connection, kept to shut them down.
    open: HashMap<u64, [TcpStream; 2]>,
}

impl TcpProxy {
    /// Starts forwarding from a spare port to `127.0.0.1:target_port`.
    pub fn start(target_port: u16) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target: SocketAddr::from((Ipv4Addr::LOCALHOST, target_port)),
            state: Mutex::default(),
            changed: Condvar::new(),
        });
        let accepting = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(&listener, &accepting))?;
        Ok(TcpProxy { port, shared })
    }

    /// The port to connect to instead of the target's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection; new ones are accepted but hang until [`TcpProxy::heal`].
    pub fn partition(&self) {
        let mut state = self.shared.lock();
        state.partitioned = true;
        close_all(&mut state);
    }

    /// Forwards again: new connections, and those that hung during the partition.
    pub fn heal(&self) {
        self.shared.lock().partitioned = false;
        self.shared.changed.notify_all();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        close_all(&mut state);
        drop(state);
        self.shared.changed.notify_all();
        // Wakes the accept loop so it sees `closed` and lets go of the listener.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

impl Shared {
    /// The state; a panicked forwarding thread leaves it consistent, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn close_all(state: &mut State) {
    for ends in state.open.values() {
        for end in ends {
            let _ = end.shutdown(Shutdown::Both);
        }
    }
    state.open.clear();
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.lock().closed {
            return;
        }
        let Ok(client) = client else { continue };
        let shared = Arc::clone(shared);
        // A connection that cannot get a thread is dropped, as an overloaded network would.
        let _ = thread::Builder::new()
            .name("proxy-connection".into())
            .spawn(move || forward(client, &shared));
    }
}

/// Holds `client` while the network is partitioned, then forwards it both ways until either
/// side closes or a partition cuts it.
fn forward(client: TcpStream, shared: &Shared) {
    let mut state = shared.lock();
    while state.partitioned && !state.closed {
        state = shared
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
    if state.closed {
        return;
    }
    drop(state);
    let Ok(upstream) = TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT) else {
        return;
    };
    let Some(id) = register(shared, &client, &upstream) else {
        return;
    };
    thread::scope(|scope| {
        scope.spawn(|| pump(&client, &upstream));
        pump(&upstream, &client);
    });
    shared.lock().open.remove(&id);
}

/// Records both ends so a partition can cut them; `None` if one began while connecting.
fn register(shared: &Shared, client: &TcpStream, upstream: &TcpStream) -> Option<u64> {
    let ends = [client.try_clone().ok()?, upstream.try_clone().ok()?];
    for end in &ends {
        // Requests and replies are small: Nagle's algorithm would only add latency.
        end.set_nodelay(true).ok()?;
    }
    let mut state = shared.lock();
    if state.partitioned || state.closed {
        return None;
    }
    let id = state.next_id;
    state.next_id += 1;
    state.open.insert(id, ends);
    Some(id)
}

/// Copies `from` to `to` until `from` ends, then passes the end on.
fn pump(mut from: &TcpStream, mut to: &TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}
