//! TLS (`Config::tls`, `--tls-cert`/`--tls-key`) on loopback, with a self-signed certificate
//! for `localhost` and 127.0.0.1 made here (rcgen) and written to PEM files: a client that
//! trusts it is served (`GET /health`, `POST /query` with a token); a client that does not
//! fails its handshake; plain HTTP on the TLS port is closed unanswered; a client that never
//! handshakes is closed at the header timeout and holds a connection slot until then; and
//! unreadable, empty or mismatched PEM files are refused with the file named.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tensormap::{Database, MemoryBackend};
use tensormap_server::{Config, Server, Tls};

const TOKEN: &str = "tls-test-token";

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key, as PEM files in
/// `dir`: (certificate file, key file, the certificate's DER).
fn self_signed(dir: &Path, name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key, made.cert.der().clone())
}

fn start(tls: Tls, header_timeout: Duration, max_connections: usize) -> Server {
    let db = Database::with_backend(Arc::new(MemoryBackend::new())).unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        header_timeout,
        max_connections,
        workers: 2,
        log: Arc::new(|_: &str| {}),
        tls: Some(tls),
        ..Config::default()
    };
    Server::start(db, config).unwrap()
}

/// A rustls client configuration (ring, as the server's) trusting `roots` only.
fn client_config(roots: &[CertificateDer<'static>]) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    #[allow(deprecated)] // ring's provider: see server/src/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Sends `request` (a whole HTTP/1.1 request with `Connection: close`) over TLS to `addr`,
/// verifying the server as `localhost` with `config`; the answer's bytes up to the close.
fn https(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    request: &str,
) -> Result<String, std::io::Error> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config, name).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    // The handshake runs on the first write (a failed one is an error here).
    tls.write_all(request.as_bytes())?;
    tls.flush()?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Ok(_) => {}
        // A close without close_notify after a whole answer still counts as the answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn get_health(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<String, std::io::Error> {
    https(
        addr,
        config,
        "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
}

#[test]
fn a_trusting_client_is_served_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    let tls = Tls::from_pem_files(&cert, &key).unwrap();
    let server = start(tls, Duration::from_secs(5), 16);
    let addr = server.addr();
    let config = client_config(&[der]);

    // Handshake and request on a fresh connection, timed (loopback, debug build).
    let started = Instant::now();
    let answer = get_health(addr, config.clone()).unwrap();
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
    eprintln!("TLS handshake + GET /health on a new connection: {took:?}");

    let body = r#"{"sql": "CREATE MAP m WITH (channels = 2)"}"#;
    let request = format!(
        "POST /query HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = https(addr, config.clone(), &request).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""results""#), "{answer}");

    // The token is still required over TLS.
    let request = format!(
        "POST /query HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = https(addr, config, &request).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    server.shutdown().unwrap();
}

#[test]
fn an_untrusting_client_fails_the_handshake_and_others_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    // Another self-signed certificate, for the same names: trusting it is not trusting the
    // server's.
    let (_, _, other) = self_signed(dir.path(), "other");
    let server = start(
        Tls::from_pem_files(&cert, &key).unwrap(),
        Duration::from_secs(5),
        16,
    );
    let addr = server.addr();

    for roots in [vec![], vec![other]] {
        let err = get_health(addr, client_config(&roots)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("invalid peer certificate") || text.contains("UnknownIssuer"),
            "{text}"
        );
    }
    // The failed handshakes closed those connections only.
    let answer = get_health(addr, client_config(&[der])).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().unwrap();
}

#[test]
fn plain_http_on_the_tls_port_gets_no_http_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    let server = start(
        Tls::from_pem_files(&cert, &key).unwrap(),
        Duration::from_secs(5),
        16,
    );
    let addr = server.addr();

    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the plain connection was not closed: {e}"),
        }
    }
    // Closed at once (not at the header timeout), with at most a TLS alert: never HTTP.
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    if let Some(&first) = answer.first() {
        assert_eq!(first, 0x15, "not a TLS alert record: {answer:?}");
    }

    let answer = get_health(addr, client_config(&[der])).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.shutdown().unwrap();
}

#[test]
fn a_client_that_never_handshakes_is_closed_at_the_header_timeout_and_holds_a_slot() {
    const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, der) = self_signed(dir.path(), "server");
    // One connection at a time: the silent client holds it.
    let server = start(Tls::from_pem_files(&cert, &key).unwrap(), HEADER_TIMEOUT, 1);
    let addr = server.addr();

    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // Waits in the backlog until the silent client is cut off, then is served.
    let answer = get_health(addr, client_config(&[der])).unwrap();
    let served = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        served >= HEADER_TIMEOUT * 8 / 10 && served < HEADER_TIMEOUT * 3,
        "served after {served:?} behind a client that never handshakes"
    );
    // And the silent client was closed, with nothing sent.
    let mut buf = [0u8; 64];
    match silent.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "{:?}", &buf[..n]),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    server.shutdown().unwrap();
}

#[test]
fn unreadable_empty_or_mismatched_pem_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path(), "server");
    let (other_cert, other_key, _) = self_signed(dir.path(), "other");
    let missing = dir.path().join("missing.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").unwrap();

    let refused = |c: &Path, k: &Path| Tls::from_pem_files(c, k).unwrap_err().to_string();
    let shown = |p: &Path| p.display().to_string();

    let e = refused(&missing, &key);
    assert!(
        e.contains("cannot read the certificate file") && e.contains(&shown(&missing)),
        "{e}"
    );
    let e = refused(&cert, &missing);
    assert!(
        e.contains("cannot read the private key file") && e.contains(&shown(&missing)),
        "{e}"
    );
    // A key file given as the certificate, a file of no PEM at all.
    for no_cert in [&key, &garbage] {
        let e = refused(no_cert, &key);
        assert!(
            e.contains("holds no certificate") && e.contains(&shown(no_cert)),
            "{e}"
        );
    }
    for no_key in [&cert, &garbage] {
        let e = refused(&cert, no_key);
        assert!(
            e.contains("holds no private key") && e.contains(&shown(no_key)),
            "{e}"
        );
    }
    // Each key with the other's certificate.
    for (c, k) in [(&cert, &other_key), (&other_cert, &key)] {
        let e = refused(c, k);
        assert!(
            e.contains("does not match the certificate")
                && e.contains(&shown(c))
                && e.contains(&shown(k)),
            "{e}"
        );
    }
    // And the right pairs load.
    Tls::from_pem_files(&cert, &key).unwrap();
    Tls::from_pem_files(&other_cert, &other_key).unwrap();
}
