//! A real TCP relay with fault injection.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long the relay tries to reach the target for each new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Polling interval while a connection is stalled.
const STALL_POLL: Duration = Duration::from_millis(2);

/// A TCP relay between clients and a target (usually a [`PgServer`](crate::PgServer))
/// that can cut, stall, black-hole or refuse connections.
///
/// It listens on `127.0.0.1:<free port>`; every accepted connection opens a
/// connection to the target and bytes are copied both ways by plain threads,
/// so it works the same from sync code and from `#[tokio::test]` code (no
/// method blocks for long). Dropping the relay stops the listener and closes
/// every connection.
///
/// ```no_run
/// use edgepg_tests::{PgServer, Relay};
///
/// let relay = Relay::start(PgServer::shared().socket_addr());
/// // connect a client to 127.0.0.1:relay.port() …
/// relay.set_stalled(true); // the next query hangs
/// relay.cut_all(); // and now the connection is gone
/// ```
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    stop: AtomicBool,
    stalled: AtomicBool,
    blackhole: AtomicBool,
    refuse: AtomicBool,
    total: AtomicUsize,
    next_id: AtomicU64,
    conns: Mutex<HashMap<u64, Conn>>,
}

/// One relayed connection; `server` is `None` while the target is being
/// connected.
#[derive(Debug)]
struct Conn {
    client: TcpStream,
    server: Option<TcpStream>,
    closed: Arc<AtomicBool>,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(s) = &self.server {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes and forgets connection `id` (no-op if already gone).
    fn close(&self, id: u64) {
        if let Some(conn) = self.conns().remove(&id) {
            conn.close();
        }
    }
}

impl Relay {
    /// Starts a relay to `target`, listening on `127.0.0.1:0`.
    ///
    /// # Panics
    ///
    /// If no listening socket can be bound (test setup).
    pub fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("edgepg-tests: relay cannot bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("edgepg-tests: relay local_addr: {e}"));
        let shared = Arc::new(Shared {
            target,
            stop: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            blackhole: AtomicBool::new(false),
            refuse: AtomicBool::new(false),
            total: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            conns: Mutex::new(HashMap::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("relay-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))
                .unwrap_or_else(|e| panic!("edgepg-tests: relay cannot spawn a thread: {e}"))
        };
        Relay {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The port the relay listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address the relay listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address connections are relayed to.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Closes every live relayed connection now, on both sides (clients and
    /// the target see the connection end). New connections are unaffected.
    pub fn cut_all(&self) {
        let conns: Vec<Conn> = self.shared.conns().drain().map(|(_, c)| c).collect();
        for conn in &conns {
            conn.close();
        }
    }

    /// While on, sockets stay open but no bytes are forwarded in either
    /// direction; what arrives meanwhile is held and delivered when turned
    /// off. Applies to live and new connections.
    pub fn set_stalled(&self, on: bool) {
        self.shared.stalled.store(on, Ordering::SeqCst);
    }

    /// While on, bytes are silently dropped in both directions and sockets
    /// stay open, like a dead peer behind a half-open connection. Bytes
    /// dropped are lost for good. Applies to live and new connections.
    pub fn set_blackhole(&self, on: bool) {
        self.shared.blackhole.store(on, Ordering::SeqCst);
    }

    /// While on, new connections are accepted and closed at once (live ones
    /// are unaffected). "New" means taken from the listen queue after the
    /// call: a client whose `connect` returned just before may still be
    /// refused; wait for [`active`](Self::active) to count it if that matters.
    pub fn set_refuse(&self, on: bool) {
        self.shared.refuse.store(on, Ordering::SeqCst);
    }

    /// How many connections were accepted so far (including refused ones and
    /// ones whose target connect failed).
    pub fn connections_total(&self) -> usize {
        self.shared.total.load(Ordering::SeqCst)
    }

    /// How many relayed connections are open now (including one whose
    /// target is still being connected).
    pub fn active(&self) -> usize {
        self.shared.conns().len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
        self.cut_all();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match accepted {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                // E.g. EMFILE: back off instead of spinning.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        shared.total.fetch_add(1, Ordering::SeqCst);
        if shared.refuse.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nodelay(true);
        let Ok(client_reg) = client.try_clone() else {
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let closed = Arc::new(AtomicBool::new(false));
        shared.conns().insert(
            id,
            Conn {
                client: client_reg,
                server: None,
                closed: Arc::clone(&closed),
            },
        );
        let shared2 = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("relay-conn-{id}"))
            .spawn(move || run_connection(shared2, id, client, closed));
        if spawned.is_err() {
            shared.close(id);
        }
    }
}

/// Connects to the target and pumps both directions until either ends.
fn run_connection(shared: Arc<Shared>, id: u64, client: TcpStream, closed: Arc<AtomicBool>) {
    let server = match TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(_) => {
            shared.close(id);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    {
        let mut conns = shared.conns();
        match (conns.get_mut(&id), server.try_clone()) {
            (Some(conn), Ok(reg)) => conn.server = Some(reg),
            _ => {
                // Cut while connecting (or clone failed).
                drop(conns);
                let _ = server.shutdown(Shutdown::Both);
                shared.close(id);
                return;
            }
        }
    }
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        shared.close(id);
        return;
    };
    let upstream = {
        let shared = Arc::clone(&shared);
        let closed = Arc::clone(&closed);
        thread::Builder::new()
            .name(format!("relay-up-{id}"))
            .spawn(move || pump(&shared, id, client2, server2, &closed))
    };
    if upstream.is_err() {
        shared.close(id);
        return;
    }
    pump(&shared, id, server, client, &closed);
}

/// Copies `src` to `dst` honouring the stall and black-hole switches; closes
/// the whole connection when either side ends.
fn pump(shared: &Shared, id: u64, mut src: TcpStream, mut dst: TcpStream, closed: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        while shared.stalled.load(Ordering::SeqCst)
            && !closed.load(Ordering::SeqCst)
            && !shared.stop.load(Ordering::SeqCst)
        {
            thread::sleep(STALL_POLL);
        }
        if closed.load(Ordering::SeqCst) {
            break;
        }
        if shared.blackhole.load(Ordering::SeqCst) {
            continue;
        }
        if dst.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    shared.close(id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An echo server on 127.0.0.1:0, one thread per connection.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { continue };
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(relay: &Relay) -> TcpStream {
        let s = TcpStream::connect(relay.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn read_exact_str(s: &mut TcpStream, n: usize) -> String {
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// Nothing arrives within `ms`.
    fn assert_silent(s: &mut TcpStream, ms: u64) {
        s.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("expected silence, got {other:?}"),
        }
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }

    /// The peer closed: read returns EOF or a reset.
    fn assert_closed(s: &mut TcpStream) {
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::TimedOut => {}
            other => panic!("expected the connection to be closed, got {other:?}"),
        }
    }

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn forwards_and_counts() {
        let relay = Relay::start(echo_server());
        let mut a = connect(&relay);
        let mut b = connect(&relay);
        a.write_all(b"hello").unwrap();
        b.write_all(b"world").unwrap();
        assert_eq!(read_exact_str(&mut a, 5), "hello");
        assert_eq!(read_exact_str(&mut b, 5), "world");
        assert_eq!(relay.connections_total(), 2);
        assert_eq!(relay.active(), 2);
        drop(a);
        wait_until("active == 1", || relay.active() == 1);
        // Large transfer in both directions at once.
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut writer = b.try_clone().unwrap();
        let expected = payload.clone();
        let w = thread::spawn(move || writer.write_all(&payload).unwrap());
        let mut got = vec![0u8; expected.len()];
        b.read_exact(&mut got).unwrap();
        w.join().unwrap();
        assert!(got == expected);
    }

    #[test]
    fn cut_all_closes_both_sides() {
        let relay = Relay::start(echo_server());
        let mut a = connect(&relay);
        a.write_all(b"x").unwrap();
        assert_eq!(read_exact_str(&mut a, 1), "x");
        relay.cut_all();
        assert_closed(&mut a);
        assert_eq!(relay.active(), 0);
        // New connections still work.
        let mut b = connect(&relay);
        b.write_all(b"y").unwrap();
        assert_eq!(read_exact_str(&mut b, 1), "y");
    }

    #[test]
    fn stall_holds_and_then_delivers() {
        let relay = Relay::start(echo_server());
        let mut a = connect(&relay);
        a.write_all(b"1").unwrap();
        assert_eq!(read_exact_str(&mut a, 1), "1");
        relay.set_stalled(true);
        a.write_all(b"abc").unwrap();
        assert_silent(&mut a, 200);
        // A connection made while stalled stays open, silent.
        let mut b = connect(&relay);
        b.write_all(b"def").unwrap();
        assert_silent(&mut b, 100);
        relay.set_stalled(false);
        assert_eq!(read_exact_str(&mut a, 3), "abc");
        assert_eq!(read_exact_str(&mut b, 3), "def");
        // A stalled connection can still be cut.
        relay.set_stalled(true);
        a.write_all(b"zz").unwrap();
        thread::sleep(Duration::from_millis(50));
        relay.cut_all();
        assert_closed(&mut a);
        relay.set_stalled(false);
    }

    #[test]
    fn blackhole_drops_bytes() {
        let relay = Relay::start(echo_server());
        let mut a = connect(&relay);
        relay.set_blackhole(true);
        a.write_all(b"lost").unwrap();
        assert_silent(&mut a, 200);
        assert_eq!(relay.active(), 1);
        relay.set_blackhole(false);
        a.write_all(b"kept").unwrap();
        assert_eq!(read_exact_str(&mut a, 4), "kept");
    }

    #[test]
    fn refuse_closes_new_connections() {
        let relay = Relay::start(echo_server());
        let mut live = connect(&relay);
        // connect() returns once the kernel has queued the connection; wait
        // until the relay has taken it.
        wait_until("active == 1", || relay.active() == 1);
        relay.set_refuse(true);
        let mut a = connect(&relay);
        assert_closed(&mut a);
        assert_eq!(relay.connections_total(), 2);
        // Live connections are unaffected.
        live.write_all(b"ok").unwrap();
        assert_eq!(read_exact_str(&mut live, 2), "ok");
        relay.set_refuse(false);
        let mut b = connect(&relay);
        b.write_all(b"z").unwrap();
        assert_eq!(read_exact_str(&mut b, 1), "z");
    }

    #[test]
    fn unreachable_target_closes_client() {
        // A port nobody listens on.
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let relay = Relay::start(dead);
        let mut a = connect(&relay);
        assert_closed(&mut a);
        wait_until("active == 0", || relay.active() == 0);
    }

    #[test]
    fn drop_closes_everything() {
        let relay = Relay::start(echo_server());
        let addr = relay.addr();
        let mut a = connect(&relay);
        a.write_all(b"q").unwrap();
        assert_eq!(read_exact_str(&mut a, 1), "q");
        drop(relay);
        assert_closed(&mut a);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    }
}
