//! The HTTP server: every route driven over loopback with a real HTTP client (ureq),
//! every answer checked against docs/openapi.json (its status documented, its body of the
//! documented type and shape), the mistakes a client makes (bad JSON, wrong vector lengths,
//! oversize bodies, a wrong or missing token, unknown maps and routes, bad TensorQL), a load
//! test of 16 clients, and storage failures answered 500 and logged. (A SIGTERM to a `tmap
//! serve` child in the middle of inserts is the shell's test: cli/tests/serve.rs.)
//!
//! `TENSORMAP_LOAD_SECS` sets the load test's length (default 4 s, so the file stays well
//! under 15 s); its figures (requests/s, p50, p99) print with `--nocapture`.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};
use tensormap::{Database, MemoryBackend};
use tensormap_server::{Config, Server};

const CHANNELS: usize = 4;

fn openapi() -> J {
    serde_json::from_str(tensormap_server::OPENAPI).unwrap()
}

/// One answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> J {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A client of one server, which checks every answer against the OpenAPI document.
struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<String>,
    doc: J,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Client {
    fn new(addr: std::net::SocketAddr, token: Option<&str>) -> Self {
        Client {
            base: format!("http://{addr}"),
            agent: agent(),
            token: token.map(str::to_string),
            doc: openapi(),
        }
    }

    fn with_token(&self, token: Option<&str>) -> Self {
        Client {
            base: self.base.clone(),
            agent: self.agent.clone(),
            token: token.map(str::to_string),
            doc: self.doc.clone(),
        }
    }

    fn answer(mut r: ureq::http::Response<ureq::Body>) -> Answer {
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Answer {
            status: r.status().as_u16(),
            content_type,
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    fn post_raw(&self, path: &str, body: &[u8]) -> Answer {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let a = Self::answer(req.send(body).unwrap());
        conforms(&self.doc, "post", path, &a);
        a
    }

    fn post(&self, path: &str, body: J) -> Answer {
        self.post_raw(path, body.to_string().as_bytes())
    }

    fn get(&self, path: &str) -> Answer {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let a = Self::answer(req.call().unwrap());
        conforms(&self.doc, "get", path, &a);
        a
    }

    fn sql(&self, sql: &str, params: J) -> Answer {
        self.post("/query", json!({"sql": sql, "params": params}))
    }
}

/// The answer's status is documented for the operation, and its body has the documented
/// media type and conforms to the schema (types, required properties, items; structurally).
/// Answers of routes the document does not have must be the 404/405 errors.
fn conforms(doc: &J, method: &str, path: &str, a: &Answer) {
    let Some(op) = doc["paths"].get(path).and_then(|p| p.get(method)) else {
        assert!(
            a.status == 404 || a.status == 405,
            "{method} {path} is not documented but answered {}",
            a.status
        );
        return check_schema(
            doc,
            &doc["components"]["schemas"]["Error"],
            &a.json(),
            "error",
        );
    };
    let response = op["responses"]
        .get(a.status.to_string())
        .unwrap_or_else(|| panic!("{method} {path}: status {} is not documented", a.status));
    let media = a.content_type.split(';').next().unwrap().trim();
    let content = response["content"].get(media).unwrap_or_else(|| {
        panic!(
            "{method} {path} {}: media type {media} undocumented",
            a.status
        )
    });
    if media == "application/json" {
        check_schema(doc, &content["schema"], &a.json(), "body");
    }
}

fn resolve<'a>(doc: &'a J, schema: &'a J) -> &'a J {
    match schema.get("$ref").and_then(J::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn check_schema(doc: &J, schema: &J, v: &J, at: &str) {
    let schema = resolve(doc, schema);
    if v.is_null() && schema["nullable"] == json!(true) {
        return;
    }
    match schema.get("type").and_then(J::as_str) {
        None => {}
        Some("object") => {
            let o = v
                .as_object()
                .unwrap_or_else(|| panic!("{at}: not an object: {v}"));
            for r in schema["required"].as_array().into_iter().flatten() {
                assert!(
                    o.contains_key(r.as_str().unwrap()),
                    "{at}: missing {r} in {v}"
                );
            }
            if let Some(props) = schema["properties"].as_object() {
                for (k, s) in props {
                    if let Some(x) = o.get(k) {
                        check_schema(doc, s, x, &format!("{at}.{k}"));
                    }
                }
            }
        }
        Some("array") => {
            let items = v
                .as_array()
                .unwrap_or_else(|| panic!("{at}: not an array: {v}"));
            if let Some(n) = schema["minItems"].as_u64() {
                assert!(items.len() as u64 >= n, "{at}: fewer than {n} items");
            }
            if let Some(n) = schema["maxItems"].as_u64() {
                assert!(items.len() as u64 <= n, "{at}: more than {n} items");
            }
            for (i, x) in items.iter().enumerate() {
                check_schema(doc, &schema["items"], x, &format!("{at}[{i}]"));
            }
        }
        Some("string") => assert!(v.is_string(), "{at}: not a string: {v}"),
        Some("number") => assert!(v.is_number(), "{at}: not a number: {v}"),
        Some("integer") => assert!(v.is_u64() || v.is_i64(), "{at}: not an integer: {v}"),
        Some("boolean") => assert!(v.is_boolean(), "{at}: not a boolean: {v}"),
        Some(t) => panic!("{at}: the test does not know type {t}"),
    }
}

fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_body: 16 << 10,
        ..Config::default()
    }
}

fn scene_db() -> Database {
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP scene WITH (channels = 4, bounds = 500)")
        .unwrap();
    db
}

fn embed_body(id: &str, position: [f64; 3]) -> J {
    json!({"map": "scene", "id": id, "position": position, "features": [0.5, -0.25, 1.0, 0.0],
           "object_type": "cube", "confidence": 0.9})
}

#[test]
fn the_tensor_routes_answer_as_documented() {
    let server = Server::start(scene_db(), config()).unwrap();
    let c = Client::new(server.addr(), None);
    assert_eq!(c.get("/health").json(), json!({"status": "ok"}));

    // Embed: named by `map`, by `tensor_map_id`, and by nothing (the only map).
    let a = c.post("/tensor/embed", embed_body("a", [10.0, 0.0, 0.0]));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["object_id"], "a");
    assert_eq!(a.json()["embedding_id"], "scene/a");
    let b = c.post(
        "/tensor/embed",
        json!({"tensor_map_id": "scene", "position": [20, 0, 0], "features": [1, 0, 0, 0],
               "object_type": "sphere"}),
    );
    assert_eq!(b.status, 200, "{}", b.body);
    let fresh = b.json()["object_id"].as_str().unwrap().to_string();
    assert!(fresh.starts_with("obj-"), "{fresh}");
    let a = c.post(
        "/tensor/embed",
        json!({"id": "far", "position": [400, 400, 400], "features": [0, 0, 0, 1]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // A duplicate id: 409, the first object kept.
    assert_eq!(
        c.post("/tensor/embed", embed_body("a", [1.0, 1.0, 1.0]))
            .status,
        409
    );

    // Query: nearest first, filters, limit, embeddings and patches on request.
    let q = c.post(
        "/tensor/query",
        json!({"map": "scene", "center": [0, 0, 0], "radius": 50}),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    let q = q.json();
    let ids: Vec<&str> = q["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", fresh.as_str()]);
    assert_eq!(q["count"], 2);
    assert_eq!(q["objects"][0]["distance"], 10.0);
    assert_eq!(q["objects"][0]["type"], "cube");
    assert_eq!(q["objects"][0]["confidence"], 0.9);
    assert!(q["objects"][0].get("embedding").is_none());
    assert_eq!(q["tensor_patches"], json!([]));
    let q = c
        .post(
            "/tensor/query",
            json!({"center": [0, 0, 0], "radius": 50, "limit": 1, "include_embeddings": true,
                   "include_patches": true,
                   "filters": {"object_type": "cube", "min_confidence": 0.5}}),
        )
        .json();
    assert_eq!(q["count"], 1);
    assert_eq!(q["objects"][0]["embedding"], json!([0.5, -0.25, 1, 0]));
    let patches = q["tensor_patches"].as_array().unwrap();
    assert!(!patches.is_empty());
    assert_eq!(patches[0].as_array().unwrap().len(), CHANNELS);
    assert_eq!(q["patch_cells"].as_array().unwrap().len(), patches.len());
    let none = c.post(
        "/tensor/query",
        json!({"center": [0, 0, 0], "radius": 50, "filters": {"min_confidence": 0.95}}),
    );
    let none = none.json();
    assert_eq!(none["count"], 1, "{none}");
    assert_eq!(none["objects"][0]["id"], fresh.as_str());

    // Render: SVG text that parses, with the objects drawn.
    let svg = c.post(
        "/render/svg",
        json!({"tensor_map_id": "scene", "camera": {"position": [0, 0, -500],
               "rotation": [30, 45, 0], "fov": 60}, "effects": {"liquid": true,
               "wireframe": true}, "width": 320, "height": 240}),
    );
    assert_eq!(svg.status, 200, "{}", svg.body);
    assert_eq!(svg.content_type, "image/svg+xml");
    let parsed = roxmltree::Document::parse(&svg.body).unwrap();
    assert_eq!(parsed.root_element().tag_name().name(), "svg");
    assert_eq!(parsed.root_element().attribute("width"), Some("320"));

    // Generate: a stored V-LLM's m_generate; an unknown model is 404.
    assert_eq!(
        c.post("/vllm/generate", json!({"prompt": "cube"})).status,
        404
    );
    let made = c.sql(
        "CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 4, seed = 7)",
        json!([]),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let g = c.post(
        "/vllm/generate",
        json!({"prompt": "a red cube", "max_length": 8, "temperature": 0, "top_k": 5}),
    );
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.json()["model"], "tiny");
    // The documented shape: tokens, one position per token (the text schedule), a confidence.
    let tokens = g.json()["tokens"].as_array().unwrap().len();
    assert!((1..=8).contains(&tokens), "{}", g.body);
    let positions = g.json()["spatial_positions"].as_array().unwrap().clone();
    assert_eq!(positions.len(), tokens);
    // "[BOS] a red cube" is 11 tokens: the first new one is index 11.
    let first: Vec<f64> = positions[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want = [
        10.0 * 11.0 - 250.0,
        100.0 * 1.1f64.sin(),
        100.0 * 1.1f64.cos(),
    ];
    for (a, b) in first.iter().zip(want) {
        assert!((a - b).abs() < 1e-3, "{first:?} vs {want:?}");
    }
    let confidence = g.json()["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence), "{confidence}");
    let again = c.post(
        "/vllm/generate",
        json!({"model": "tiny", "prompt": "a red cube", "max_length": 8, "temperature": 0}),
    );
    assert_eq!(
        again.json()["text"],
        g.json()["text"],
        "greedy is repeatable"
    );
    let direct = c.sql(
        "SELECT tiny_generate('a red cube', 8, 0, 5) AS t",
        json!([]),
    );
    assert_eq!(
        direct.json()["results"][0]["rows"][0]["t"],
        g.json()["text"]
    );
    assert_eq!(
        c.post("/vllm/generate", json!({"model": "nope", "prompt": "x"}))
            .status,
        404
    );
    assert_eq!(
        c.post("/vllm/generate", json!({"prompt": "x", "max_length": 1e9}))
            .status,
        400
    );

    // Metrics: the requests above, by route and status, and the commits.
    let m = c.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    assert!(
        m.body.contains(
            "tensormap_http_requests_total{method=\"POST\",route=\"/tensor/embed\",status=\"200\"} 3"
        ),
        "{}",
        m.body
    );
    assert!(m.body.contains(
        "tensormap_http_requests_total{method=\"POST\",route=\"/tensor/embed\",status=\"409\"} 1"
    ));
    assert!(m
        .body
        .contains("tensormap_http_request_duration_seconds_count{route=\"/tensor/query\"} 3"));
    // Three embeds and CREATE MODEL.
    assert!(m.body.contains("tensormap_commits_total 4"), "{}", m.body);

    let doc = c.get("/openapi.json");
    assert_eq!(doc.json(), openapi());
    server.shutdown().unwrap();
}

#[test]
fn user_columns_travel_as_properties() {
    let db = Database::open_in_memory().unwrap();
    db.execute(
        "CREATE MAP cars (label TEXT NOT NULL DEFAULT 'unnamed', speed REAL, laps INTEGER \
         DEFAULT 0, ok BOOLEAN, seen_at TIMESTAMP, raw BLOB) WITH (channels = 2, bounds = 100);
         CREATE MAP plain WITH (channels = 2, bounds = 100);
         INSERT INTO plain (id, type, position, embedding) VALUES ('p', 'cube', [1, 0, 0], [1, 0])",
    )
    .unwrap();
    let server = Server::start(db, config()).unwrap();
    let c = Client::new(server.addr(), None);

    // A map without user columns answers as before: no `properties` key.
    let q = c.post(
        "/tensor/query",
        json!({"map": "plain", "center": [0, 0, 0], "radius": 5}),
    );
    assert_eq!(
        q.body,
        r#"{"map":"plain","count":1,"objects":[{"id":"p","type":"cube","position":[1, 0, 0],"confidence":1,"distance":1}],"tensor_patches":[],"patch_cells":[]}"#
    );
    let e = c.post(
        "/tensor/embed",
        json!({"map": "plain", "id": "p2", "position": [2, 0, 0], "features": [0, 1]}),
    );
    assert_eq!(e.status, 200, "{}", e.body);
    assert!(e.json().get("properties").is_none(), "{}", e.body);

    // Embed with properties: the answer holds every column, given or DEFAULT.
    let e = c.post(
        "/tensor/embed",
        json!({"map": "cars", "id": "a", "position": [1, 0, 0], "features": [1, 0],
               "properties": {"label": "red <&>\"", "speed": 31.5, "laps": 9007199254740992_i64,
                              "ok": true, "seen_at": "2026-05-01T14:30:00.25+02:00",
                              "raw": "00FF"}}),
    );
    assert_eq!(e.status, 200, "{}", e.body);
    let all = json!({"label": "red <&>\"", "speed": 31.5, "laps": 9007199254740992_i64,
                     "ok": true, "seen_at": "2026-05-01 12:30:00.25", "raw": "00ff"});
    assert_eq!(e.json()["properties"], all);
    let e = c.post(
        "/tensor/embed",
        json!({"map": "cars", "id": "b", "position": [2, 0, 0], "features": [0, 1]}),
    );
    assert_eq!(e.status, 200, "{}", e.body);
    let defaults = json!({"label": "unnamed", "speed": null, "laps": 0, "ok": null,
                          "seen_at": null, "raw": null});
    assert_eq!(e.json()["properties"], defaults);

    // Query: each object carries them, in declared order, after the built-in fields.
    let q = c.post(
        "/tensor/query",
        json!({"map": "cars", "center": [0, 0, 0], "radius": 5, "include_embeddings": true}),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    let objects = q.json()["objects"].clone();
    assert_eq!(objects[0]["properties"], all);
    assert_eq!(objects[1]["properties"], defaults);
    assert!(
        q.body.contains(r#""embedding":[1, 0],"properties":{"label":"red <&>\"","speed":31.5,"laps":9007199254740992,"ok":true,"#),
        "{}",
        q.body
    );

    // Mistakes are 400s naming the column, and change nothing.
    for (props, says) in [
        (
            json!({"speed": "fast"}),
            "properties.speed: expected REAL, found a text",
        ),
        (
            json!({"laps": 1.5}),
            "properties.laps: expected INTEGER, found 1.5",
        ),
        (
            json!({"seen_at": "soon"}),
            "properties.seen_at: 'soon' is not a timestamp",
        ),
        (
            json!({"raw": [1]}),
            "properties.raw: expected BLOB, found a JSON array",
        ),
        (
            json!({"colour": "x"}),
            "properties.colour: the map has no user column 'colour'",
        ),
        (json!({"label": null}), "label"),
    ] {
        let e = c.post(
            "/tensor/embed",
            json!({"map": "cars", "id": "z", "position": [3, 0, 0], "features": [1, 1],
                   "properties": props}),
        );
        assert_eq!(e.status, 400, "{}", e.body);
        assert!(e.body.contains(says), "{says} not in {}", e.body);
    }
    let count = c.sql("SELECT COUNT(*) AS n FROM cars", json!([]));
    assert_eq!(count.json()["results"][0]["rows"][0]["n"], 2);
    server.shutdown().unwrap();
}

#[test]
fn tensorql_at_query_with_parameters_and_its_errors() {
    let server = Server::start(scene_db(), config()).unwrap();
    let c = Client::new(server.addr(), None);
    let ins = c.sql(
        "INSERT INTO scene (id, type, position, embedding) VALUES (?, 'cube', ?, ?), \
         ('b', 'ball', [5, 5, 5], [0, 0, 0, 1])",
        json!(["a", [1, 2, 3], [0.25, 0.5, 0.75, 1]]),
    );
    assert_eq!(ins.status, 200, "{}", ins.body);
    assert_eq!(ins.json()["results"][0]["status"], "INSERT 2");
    let r = c.sql(
        "SELECT id, position, confidence FROM scene WHERE WITHIN(position, ?, ?) ORDER BY id;
         SELECT COUNT(*) AS n, AVG(x) AS ax FROM scene WHERE type = ?",
        json!([[0, 0, 0], 100.0, "cube"]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.json();
    assert_eq!(
        r["results"][0]["columns"],
        json!(["id", "position", "confidence"])
    );
    assert_eq!(
        r["results"][0]["rows"],
        json!([{"id": "a", "position": [1, 2, 3], "confidence": 1},
               {"id": "b", "position": [5, 5, 5], "confidence": 1}])
    );
    assert_eq!(r["results"][1]["rows"], json!([{"n": 1, "ax": 1}]));

    // A syntax error: 400 with its line and column, nothing run.
    let e = c.sql("SELECT id\nFORM scene", json!([]));
    assert_eq!(e.status, 400);
    let e = e.json();
    assert_eq!(
        (e["line"].clone(), e["column"].clone()),
        (json!(2), json!(6))
    );
    assert!(
        e["error"].as_str().unwrap().starts_with("error at 2:6:"),
        "{e}"
    );
    // Unknown map: 404; a parameter missing or of the wrong shape: 400.
    assert_eq!(c.sql("SELECT * FROM nowhere", json!([])).status, 404);
    assert_eq!(c.sql("SELECT ? + ?", json!([1])).status, 400);
    assert_eq!(c.sql("SELECT ?", json!([{"a": 1}])).status, 400);
    assert_eq!(c.sql("SELECT ?", json!([[1, "x"]])).status, 400);
    // A wrong embedding length through TensorQL: 400, nothing inserted.
    let wrong = c.sql(
        "INSERT INTO scene (id, position, embedding) VALUES ('c', [0, 0, 0], [1, 2])",
        json!([]),
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    // A transaction left open is rolled back and refused; the connection is clean after.
    let open = c.sql(
        "BEGIN; INSERT INTO scene (id, position, embedding) VALUES ('t', [0, 0, 0], [1, 2, 3, 4])",
        json!([]),
    );
    assert_eq!(open.status, 400, "{}", open.body);
    let closed = c.sql(
        "BEGIN; INSERT INTO scene (id, position, embedding) VALUES ('u', [0, 0, 0], [1, 2, 3, 4]); COMMIT",
        json!([]),
    );
    assert_eq!(closed.status, 200, "{}", closed.body);
    let ids = c.sql("SELECT id FROM scene ORDER BY id", json!([])).json();
    assert_eq!(
        ids["results"][0]["rows"],
        json!([{"id": "a"}, {"id": "b"}, {"id": "u"}])
    );
    // The server's files are off limits without --allow-files.
    for sql in [
        "COPY scene TO '/tmp/x.csv'",
        "SNAPSHOT scene TO 'x.tensor3d'",
        "RENDER SELECT * FROM scene TO 'x.svg'",
        "SELECT 1; LOAD MODEL m FROM 'x.vllm'",
    ] {
        let f = c.sql(sql, json!([]));
        assert_eq!(f.status, 403, "{sql}: {}", f.body);
    }
    // RENDER without TO returns the SVG as a row: allowed.
    let svg = c.sql("RENDER SELECT * FROM scene", json!([]));
    assert_eq!(svg.status, 200, "{}", svg.body);
    server.shutdown().unwrap();
}

#[test]
fn a_clients_mistakes_are_4xx_with_json_errors() {
    let server = Server::start(scene_db(), config()).unwrap();
    let c = Client::new(server.addr(), None);
    // Bad JSON: 400 naming where.
    let bad = c.post_raw("/tensor/embed", b"{\"position\": [1, 2,");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"].as_str().unwrap().contains("line 1"),
        "{}",
        bad.body
    );
    assert_eq!(c.post_raw("/query", b"not json").status, 400);
    assert_eq!(c.post("/query", json!({"sql": 12})).status, 400);
    assert_eq!(c.post("/tensor/query", json!({"radius": 1})).status, 400);
    // Wrong vector lengths.
    let short = c.post(
        "/tensor/embed",
        json!({"position": [0, 0, 0], "features": [1, 2, 3]}),
    );
    assert_eq!(short.status, 400);
    assert!(short.body.contains("embedding"), "{}", short.body);
    let pos2 = c.post(
        "/tensor/embed",
        json!({"position": [0, 0], "features": [1, 2, 3, 4]}),
    );
    assert_eq!(pos2.status, 400);
    let center4 = c.post(
        "/tensor/query",
        json!({"center": [0, 0, 0, 0], "radius": 1}),
    );
    assert_eq!(center4.status, 400);
    // Out of range: outside the bounds, a negative radius, a huge number.
    assert_eq!(
        c.post(
            "/tensor/embed",
            json!({"position": [900, 0, 0], "features": [1, 2, 3, 4]})
        )
        .status,
        400
    );
    assert_eq!(
        c.post("/tensor/query", json!({"center": [0, 0, 0], "radius": -1}))
            .status,
        400
    );
    assert_eq!(
        c.post(
            "/tensor/query",
            json!({"center": [1e300, 0, 0], "radius": 1})
        )
        .status,
        400
    );
    assert_eq!(c.post("/render/svg", json!({"width": 0})).status, 400);
    // Unknown maps: 404.
    assert_eq!(
        c.post(
            "/tensor/query",
            json!({"map": "nope", "center": [0, 0, 0], "radius": 1})
        )
        .status,
        404
    );
    assert_eq!(
        c.post(
            "/tensor/embed",
            json!({"map": "nope", "position": [0, 0, 0], "features": [1]})
        )
        .status,
        404
    );
    assert_eq!(
        c.post("/render/svg", json!({"tensor_map_id": "nope"}))
            .status,
        404
    );
    // Two names for two maps.
    assert_eq!(
        c.post(
            "/render/svg",
            json!({"map": "scene", "tensor_map_id": "other"})
        )
        .status,
        400
    );
    // Oversize: 413 (the test server's limit is 16 KiB).
    let big = json!({"sql": "SELECT 1", "params": [vec![0.5; 8000]]});
    assert_eq!(c.post("/query", big).status, 413);
    // Unknown routes 404, wrong methods 405, both JSON.
    assert_eq!(c.get("/nowhere").status, 404);
    assert_eq!(c.post("/tensor", json!({})).status, 404);
    assert_eq!(c.get("/tensor/query").status, 405);
    assert_eq!(c.post("/health", json!({})).status, 405);
    // Nothing above changed the map.
    let n = c.sql("SELECT COUNT(*) AS n FROM scene", json!([])).json();
    assert_eq!(n["results"][0]["rows"][0]["n"], 0);
    server.shutdown().unwrap();
}

#[test]
fn a_token_guards_every_route_but_health() {
    let token = "s3cret-token";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let config = Config {
        token: Some(Config::token_from_file(&file).unwrap()),
        ..config()
    };
    let server = Server::start(scene_db(), config).unwrap();
    let good = Client::new(server.addr(), Some(token));
    let none = good.with_token(None);
    let wrong = good.with_token(Some("s3cret-tokem"));
    assert_eq!(none.get("/health").status, 200);
    for c in [&none, &wrong] {
        let q = c.post("/tensor/query", json!({"center": [0, 0, 0], "radius": 1}));
        assert_eq!(q.status, 401);
        assert_eq!(c.get("/metrics").status, 401);
        assert_eq!(c.get("/openapi.json").status, 401);
        assert_eq!(c.sql("SELECT 1", json!([])).status, 401);
    }
    assert_eq!(
        good.post("/tensor/query", json!({"center": [0, 0, 0], "radius": 1}))
            .status,
        200
    );
    assert_eq!(good.get("/metrics").status, 200);
    // An empty token file is refused.
    std::fs::write(&file, " \n").unwrap();
    assert!(Config::token_from_file(&file).is_err());
    server.shutdown().unwrap();
}

#[test]
fn the_router_and_openapi_json_name_the_same_routes() {
    let doc = openapi();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = tensormap_server::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(routed, documented);
    // And the router answers each: a request reaches the route (not the 404/405 fallback).
    let server = Server::start(scene_db(), config()).unwrap();
    let c = Client::new(server.addr(), None);
    for (method, path) in &documented {
        let a = if method == "GET" {
            c.get(path)
        } else {
            c.post(path, json!({}))
        };
        assert!(
            !a.body.contains("no route") && a.status != 405,
            "{method} {path}: {}",
            a.body
        );
    }
    server.shutdown().unwrap();
}

/// The `q`-quantile of sorted `v`.
fn quantile(v: &[Duration], q: f64) -> Duration {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

#[test]
fn sixteen_clients_mixing_queries_and_inserts() {
    let secs: f64 = std::env::var("TENSORMAP_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("load.db");
    let db = Database::open(&path).unwrap();
    db.execute("CREATE MAP scene WITH (channels = 4, bounds = 500)")
        .unwrap();
    // A populated map: 2000 objects on a 10-unit grid, about 100 of them within 29 of the
    // origin (the radius the clients query).
    let mut script = String::from("INSERT INTO scene (id, position, embedding) VALUES ");
    for i in 0..2000 {
        let (x, y, z) = (
            (i % 20) * 10 - 100,
            ((i / 20) % 10) * 10 - 50,
            (i / 200) * 10 - 50,
        );
        if i > 0 {
            script.push(',');
        }
        script.push_str(&format!("('seed{i}', [{x}, {y}, {z}], [1, 0, 0, 0])"));
    }
    db.execute(&script).unwrap();
    let server = Server::start(
        db,
        Config {
            max_body: 1 << 20,
            ..config()
        },
    )
    .unwrap();
    let base = format!("http://{}", server.addr());
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = agent();
                let mut acked = Vec::new();
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let start = Instant::now();
                    let (path, body) = if i % 5 == 4 {
                        let id = format!("t{t}-{i}");
                        let body = json!({"map": "scene", "id": id, "position":
                            [(i % 400) as f64 - 200.0, t as f64 * 10.0 - 80.0, 7.0],
                            "features": [0, 1, 0, 0]});
                        ("/tensor/embed", body)
                    } else if i % 5 == 3 {
                        let body = json!({"sql": "SELECT COUNT(*) AS n FROM scene WHERE WITHIN(position, ?, ?)",
                                          "params": [[0, 0, 0], 29]});
                        ("/query", body)
                    } else {
                        ("/tensor/query", json!({"map": "scene", "center": [0, 0, 0], "radius": 29}))
                    };
                    let mut r = agent
                        .post(format!("{base}{path}"))
                        .send(body.to_string())
                        .unwrap();
                    let status = r.status().as_u16();
                    let text = r.body_mut().read_to_string().unwrap();
                    assert_eq!(status, 200, "{path}: {text}");
                    if path == "/tensor/embed" {
                        acked.push(format!("t{t}-{i}"));
                    }
                    latencies.push(start.elapsed());
                    i += 1;
                }
                (acked, latencies)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut latencies = Vec::new();
    for t in threads {
        let (a, l) = t.join().unwrap();
        acked.extend(a);
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.shutdown().unwrap();
    latencies.sort();
    println!(
        "load: 16 clients, {secs} s: {} requests ({} inserts), {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        acked.len(),
        latencies.len() as f64 / elapsed,
        quantile(&latencies, 0.5).as_secs_f64() * 1e3,
        quantile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    assert!(!acked.is_empty());
    // Every acknowledged insert is there after the server closed the database.
    let db = Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    let scene = read.map("scene").unwrap();
    for id in &acked {
        assert!(
            scene.get(id).is_some(),
            "acknowledged insert {id} is missing"
        );
    }
    assert_eq!(scene.len(), 2000 + acked.len());
}

#[test]
fn a_request_past_the_timeout_is_answered_503() {
    use std::io::{Read, Write};
    let config = Config {
        timeout: Duration::from_millis(300),
        ..config()
    };
    let server = Server::start(scene_db(), config).unwrap();
    // A client that promises 100 bytes of body, sends 10 and stalls: the deadline covers
    // reading the body too.
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"sql\": \"",
    )
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&answer).to_string();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The server still answers others.
    let c = Client::new(server.addr(), None);
    assert_eq!(c.get("/health").status, 200);
    server.shutdown().unwrap();
}

#[test]
fn a_storage_failure_is_a_500_on_every_route_and_is_logged() {
    let backend = MemoryBackend::new();
    let db = Database::with_backend(std::sync::Arc::new(backend.clone())).unwrap();
    db.execute("CREATE MAP scene WITH (channels = 4, bounds = 500)")
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    let config = Config {
        log: Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_string())),
        ..config()
    };
    let server = Server::start(db, config).unwrap();
    let c = Client::new(server.addr(), None);

    // TensorQL: the store fails the INSERT's commit.
    backend.fail_nth_write(0);
    let a = c.sql(
        "INSERT INTO scene (id, position, embedding) VALUES ('a', [0, 0, 0], [1, 0, 0, 0])",
        json!([]),
    );
    assert_eq!(a.status, 500, "{}", a.body);
    let message = a.json()["error"].as_str().unwrap().to_string();
    assert!(message.contains("injected fault"), "{message}");
    assert_eq!(a.json()["line"], 1, "a TensorQL error keeps its position");

    // The typed route: the store fails the embed's commit.
    backend.fail_nth_write(0);
    let a = c.post("/tensor/embed", embed_body("b", [1.0, 2.0, 3.0]));
    assert_eq!(a.status, 500, "{}", a.body);

    // Both were logged with their routes; nothing was written.
    let lines = log.lock().unwrap().clone();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("POST /query: 500 ") && lines[0].contains("injected fault"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("POST /tensor/embed: 500 ") && lines[1].contains("injected fault"),
        "{lines:?}"
    );
    backend.clear_faults();
    let n = c.sql("SELECT COUNT(*) AS n FROM scene", json!([]));
    assert_eq!(n.json()["results"][0]["rows"][0]["n"], 0);

    // The store works again; a client's mistakes are 4xx and are not logged.
    assert_eq!(
        c.post("/tensor/embed", embed_body("b", [1.0, 2.0, 3.0]))
            .status,
        200
    );
    assert_eq!(
        c.post("/tensor/embed", embed_body("b", [1.0, 2.0, 3.0]))
            .status,
        409
    );
    assert_eq!(c.sql("SELEC", json!([])).status, 400);
    assert_eq!(c.sql("CREATE MAP scene", json!([])).status, 409);
    assert_eq!(log.lock().unwrap().len(), 2);
    server.shutdown().unwrap();
}
