//! A loopback stand-in for the view routes of `tmap serve`, for the browser checks of the
//! served viewer: the same encoders ([`ServedMap`], [`served_page`]) behind the routes and
//! bearer-token rule render/viewer/README.md lays down, over a seeded random map "demo".
//! One request per connection, a thread each; std only. Not a server to deploy.
//!
//! ```text
//! cargo run -p tensormap-render --example view_server -- 127.0.0.1:0 N [--token T]
//! ```
//!
//! Prints `listening on http://ADDR` once it accepts. Besides the view's routes it answers
//! `POST /query` for `SHOW MAPS` and `SELECT id, position FROM demo LIMIT n` only, and
//! `GET /test/objects` (ids and positions of up to 2000 objects, for the checks).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use tensormap_render::html::{served_page, ServedMap, ViewScene};

#[path = "support/scene.rs"]
mod scene;

struct State {
    map: ServedMap,
    scene: ViewScene,
    token: Option<String>,
}

struct Request {
    method: String,
    path: String,
    auth: Option<String>,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut length, mut auth) = (0usize, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => auth = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length.min(16 << 20)];
    r.read_exact(&mut body)?;
    Ok(Request {
        method,
        path,
        auth,
        body,
    })
}

fn respond(mut stream: &TcpStream, status: &str, kind: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn error(stream: &TcpStream, status: &str, message: &str) {
    let body = serde_json::json!({ "error": message }).to_string();
    respond(stream, status, "application/json", body.as_bytes());
}

/// `SHOW MAPS` and `SELECT id, position FROM demo LIMIT n`, as `POST /query` answers.
fn query(s: &State, body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let sql = v["sql"]
        .as_str()
        .ok_or("no sql")?
        .trim()
        .trim_end_matches(';');
    if sql.eq_ignore_ascii_case("SHOW MAPS") {
        let rows = vec![serde_json::json!({"name": "demo", "objects": s.map.count()})];
        return Ok(serde_json::json!({"results": [{"status": "SHOW 1", "columns": ["name", "objects"], "rows": rows}]}).to_string());
    }
    let n: usize = sql
        .strip_prefix("SELECT id, position FROM demo LIMIT ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or("this stand-in answers only SHOW MAPS and SELECT id, position FROM demo LIMIT n")?;
    let o = &s.scene.objects;
    let rows: Vec<_> = (0..n.min(o.len()))
        .map(|i| serde_json::json!({"id": o.ids[i], "position": o.positions[i]}))
        .collect();
    Ok(serde_json::json!({"results": [{"status": format!("SELECT {}", rows.len()), "columns": ["id", "position"], "rows": rows}]}).to_string())
}

fn handle(s: &State, stream: TcpStream) {
    let Ok(req) = read_request(&stream) else {
        return;
    };
    let path = req.path.split('?').next().unwrap_or("").to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // The pages carry no data and a browser cannot send a token when it navigates: they are
    // open; everything else needs the token.
    let page = req.method == "GET" && matches!(segments.as_slice(), ["view"] | ["view", _]);
    if let (Some(t), false) = (&s.token, page) {
        if req.auth.as_deref() != Some(&format!("Bearer {t}")) {
            return error(
                &stream,
                "401 Unauthorized",
                "this server needs \"Authorization: Bearer TOKEN\"",
            );
        }
    }
    let html = "text/html; charset=utf-8";
    let bin = "application/octet-stream";
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", ["view"]) => respond(
            &stream,
            "200 OK",
            html,
            served_page(None, "/view").as_bytes(),
        ),
        ("GET", ["view", "demo"]) => respond(
            &stream,
            "200 OK",
            html,
            served_page(Some("demo"), "/view").as_bytes(),
        ),
        ("GET", ["view", "demo", "meta"]) => respond(
            &stream,
            "200 OK",
            "application/json",
            s.map.meta_json().as_bytes(),
        ),
        ("POST", ["view", "demo", "cells"]) => match s.map.cells(&req.body) {
            Ok(f) => respond(&stream, "200 OK", bin, &f),
            Err(e) => error(&stream, "400 Bad Request", &e.to_string()),
        },
        ("POST", ["view", "demo", "field"]) => match s.map.bricks(&req.body) {
            Ok(f) => respond(&stream, "200 OK", bin, &f),
            Err(e) => error(&stream, "400 Bad Request", &e.to_string()),
        },
        ("POST", ["query"]) => match query(s, &req.body) {
            Ok(j) => respond(&stream, "200 OK", "application/json", j.as_bytes()),
            Err(e) => error(&stream, "400 Bad Request", &e),
        },
        ("GET", ["test", "objects"]) => {
            let o = &s.scene.objects;
            let step = o.len().div_ceil(2000).max(1);
            let list: Vec<_> = (0..o.len())
                .step_by(step)
                .map(|i| serde_json::json!({"id": o.ids[i], "position": o.positions[i]}))
                .collect();
            respond(
                &stream,
                "200 OK",
                "application/json",
                serde_json::Value::from(list).to_string().as_bytes(),
            )
        }
        (_, ["view", _, ..]) => error(&stream, "404 Not Found", "no such map"),
        _ => error(&stream, "404 Not Found", "no such route"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: view_server ADDR N [--token T]";
    let addr = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let mut token = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--token" => token = Some(args.next().ok_or(usage)?),
            _ => return Err(usage.into()),
        }
    }
    let scene = scene::random_scene(n, 11);
    let map = ServedMap::new("demo", scene.objects.clone(), scene.field.as_ref(), 0)?;
    let state = Arc::new(State { map, scene, token });
    let listener = TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let s = state.clone();
        std::thread::spawn(move || handle(&s, stream));
    }
    Ok(())
}
