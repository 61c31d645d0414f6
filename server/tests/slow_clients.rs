//! Slow clients (loopback, bounded to seconds): clients that drip their request head a
//! byte at a time are closed at the header timeout, a kept-alive connection that idles is
//! closed too, and other clients are served meanwhile — at once while connections are
//! left, and within the header timeout when slow clients hold every connection.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tensormap::{Database, MemoryBackend};
use tensormap_server::{Config, Server};

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_CONNECTIONS: usize = 6;

/// A client that sends a request line, then one header byte every 100 ms, until the
/// server closes the connection; returns how long that took (None: still open at `give_up`).
fn drip(addr: SocketAddr, give_up: Duration) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let _ = s.write_all(b"POST /query HTTP/1.1\r\nHost: x\r\n");
        let mut buf = [0u8; 512];
        while started.elapsed() < give_up {
            if s.write_all(b"x").is_err() {
                return Some(started.elapsed());
            }
            match s.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => {} // a 408 or 400 answer: read on to the close
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Some(started.elapsed()),
            }
        }
        None
    })
}

/// A GET /health on a fresh connection; how long it took to be answered 200.
fn health(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let r = agent.get(format!("http://{addr}/health")).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    started.elapsed()
}

#[test]
fn slow_clients_are_cut_off_and_others_served() {
    let db = Database::with_backend(std::sync::Arc::new(MemoryBackend::new())).unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        header_timeout: HEADER_TIMEOUT,
        max_connections: MAX_CONNECTIONS,
        workers: 2,
        log: std::sync::Arc::new(|_: &str| {}),
        ..Config::default()
    };
    let server = Server::start(db, config).unwrap();
    let addr = server.addr();
    let give_up = Duration::from_secs(15);

    // Fewer slow clients than connections: others are served at once, well before the
    // slow ones are cut off.
    let slow: Vec<_> = (0..MAX_CONNECTIONS - 2)
        .map(|_| drip(addr, give_up))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let took = health(addr);
    assert!(
        took < HEADER_TIMEOUT / 2,
        "served in {took:?} beside slow clients"
    );
    for s in slow {
        let closed = s.join().unwrap().expect("a slow client was never cut off");
        assert!(
            closed >= HEADER_TIMEOUT / 2 && closed < HEADER_TIMEOUT * 4,
            "closed after {closed:?}"
        );
    }

    // Slow clients on every connection: a new client waits for a slot, which the header
    // timeout frees.
    let slow: Vec<_> = (0..MAX_CONNECTIONS).map(|_| drip(addr, give_up)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let took = health(addr);
    assert!(
        took < HEADER_TIMEOUT * 4,
        "served in {took:?} behind slow clients"
    );
    for s in slow {
        assert!(
            s.join().unwrap().is_some(),
            "a slow client was never cut off"
        );
    }

    // A kept-alive connection that goes quiet after its answer is closed.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the idle connection was not closed: {e}"),
        }
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert!(
        started.elapsed() < HEADER_TIMEOUT * 4,
        "{:?}",
        started.elapsed()
    );
    server.shutdown().unwrap();
}
