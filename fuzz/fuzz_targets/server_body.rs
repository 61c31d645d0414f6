//! The HTTP server's request bodies: the first byte of the input picks a route that takes a
//! body (`POST /query`, `/tensor/embed`, `/tensor/query`, `/vllm/generate`, `/render/svg`,
//! `/view/m/cells`, `/view/m/field`), the rest is the body, sent over loopback to a real
//! server (`tensormap_server::Server`, one per process) with a plain `TcpStream`.
//!
//! The server holds an in-memory database — map `m` (4 channels, 200 objects), map `n`
//! (2 channels, 30 objects) and a tiny V-LLM `mm` — and is started with a `write`-scoped
//! token (so a `/query` cannot drop maps, run model statements or lift its limits with
//! `SET`: those are answered 403), a statement timeout of 250 ms and a memory limit of
//! 64 MiB. When an input changed the maps (count and a digest of every object), the server
//! is started again on a fresh database, so every input meets the same state.
//!
//! Checks: no panic (a panic on any of the server's threads aborts the process); every
//! answer is a well-formed HTTP/1.1 response whose body has the length its headers say, a
//! JSON body parses, and the status is below 500 — a 5xx answer to a client's body (bad
//! JSON, odd values, a query past its limits) is a bug: the kinds that map to 500 are for
//! failures of the server itself (its store, a model that cannot run), which an in-memory
//! database with a valid model should not have.
//!
//! `TENSORMAP_FUZZ_DEBUG=1` prints each answer's status and start (to check what seeds reach).
#![no_main]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tensormap::query::ast::Access;
use tensormap::Database;
use tensormap_server::{Config, ScopedToken, Server};

#[path = "common/fixture.rs"]
mod fixture;

const TOKEN: &str = "fuzz-write-token";

/// The routes with a body (method POST).
const ROUTES: [&str; 7] = [
    "/query",
    "/tensor/embed",
    "/tensor/query",
    "/vllm/generate",
    "/render/svg",
    "/view/m/cells",
    "/view/m/field",
];

fn database() -> Database {
    fixture::database(200, 30)
}

/// The committed maps: names, counts and an order-independent digest of the objects.
fn digest(db: &Database) -> Vec<(String, u64, u64)> {
    let read = db.begin_read().expect("read");
    let mut maps: Vec<(String, u64, u64)> = db
        .maps()
        .into_iter()
        .map(|info| {
            let view = read.map(&info.name).expect("a listed map");
            let mut sum = 0u64;
            for o in view.objects() {
                let mut h = DefaultHasher::new();
                o.id().hash(&mut h);
                o.kind().hash(&mut h);
                o.position().map(f32::to_bits).hash(&mut h);
                for e in o.embedding() {
                    e.to_bits().hash(&mut h);
                }
                o.confidence().to_bits().hash(&mut h);
                sum = sum.wrapping_add(h.finish());
            }
            (info.name, view.len() as u64, sum)
        })
        .collect();
    maps.sort();
    maps
}

struct Running {
    server: Server,
    /// Another connection to the server's database (for the digest).
    db: Database,
}

fn start() -> Running {
    let db = database();
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        tokens: vec![ScopedToken {
            token: TOKEN.into(),
            scope: Access::Write,
        }],
        timeout: Duration::from_secs(20),
        statement_timeout: Some(Duration::from_millis(250)),
        memory_limit: Some(64 << 20),
        workers: 1,
        log: Arc::new(|_: &str| {}),
        ..Config::default()
    };
    let server = Server::start(db.clone(), config).expect("start the server");
    Running { server, db }
}

struct Fixture {
    running: Option<Running>,
    start: Vec<(String, u64, u64)>,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let running = start();
        let start = digest(&running.db);
        Mutex::new(Fixture {
            running: Some(running),
            start,
        })
    })
}

/// The position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends one request and returns (status, content type, body), checking the response's
/// form on the way.
fn send(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    // The server may answer (413, say) and close before it has read the whole body.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .expect("read the answer (no answer within 60 s?)");
    let end = find(&answer, b"\r\n\r\n").unwrap_or_else(|| {
        panic!(
            "no response head: {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        )
    });
    let head = std::str::from_utf8(&answer[..end]).expect("the head is UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut length = None;
    let mut chunked = false;
    let mut content_type = String::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse::<usize>().expect("a length")),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "content-type" => content_type = value.to_string(),
            _ => {}
        }
    }
    let raw = &answer[end + 4..];
    let body = if chunked {
        let mut body = Vec::new();
        let mut rest = raw;
        loop {
            let at = find(rest, b"\r\n").expect("a chunk size line");
            let size = usize::from_str_radix(
                std::str::from_utf8(&rest[..at])
                    .expect("a chunk size")
                    .trim(),
                16,
            )
            .expect("a hexadecimal chunk size");
            rest = &rest[at + 2..];
            if size == 0 {
                break;
            }
            assert!(rest.len() >= size + 2, "a chunk is cut short");
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body
    } else {
        let n = length.expect("a Content-Length or a chunked body");
        assert_eq!(raw.len(), n, "the body's length is not its Content-Length");
        raw.to_vec()
    };
    (status, content_type, body)
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = ROUTES[pick as usize % ROUTES.len()];
    let mut f = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let addr = f.running.as_ref().expect("a server").server.addr();
    let (status, content_type, answer) = send(addr, path, body);
    let text = String::from_utf8_lossy(&answer);
    if std::env::var_os("TENSORMAP_FUZZ_DEBUG").is_some() {
        let start: String = text.chars().take(300).collect();
        eprintln!("POST {path} → {status} {start}");
    }
    assert!(
        status < 500,
        "POST {path} answered {status}: {text}\nbody sent: {:?}",
        String::from_utf8_lossy(body)
    );
    if content_type.starts_with("application/json") {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&answer) {
            panic!("POST {path} answered {status} with JSON that does not parse ({e}): {text}");
        }
    }
    // Every input starts from the same state: a server whose maps changed is replaced.
    let changed = digest(&f.running.as_ref().expect("a server").db) != f.start;
    if changed {
        let old = f.running.take().expect("a server");
        old.server.shutdown().expect("shut the server down");
        drop(old.db);
        f.running = Some(start());
    }
});
