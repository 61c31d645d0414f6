//! The live viewer's routes (`GET /view`, `GET /view/{map}`, `GET /view/{map}/meta`,
//! `POST /view/{map}/cells`, `POST /view/{map}/field`) and `/render/svg`'s effects, over
//! loopback with a real HTTP client: every answer's status and media type documented in
//! docs/openapi.json for its route; the frames decoded and checked against the map (the
//! objects a SELECT returns, the bricks the meta lists); the pages open without a token
//! while the data needs it; bad requests are 400s in JSON; a write is seen by the next meta.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value as J};
use tensormap::{Database, Value};
use tensormap_server::{Config, Server};

const TOKEN: &str = "view-token";

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> J {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<&'static str>,
    doc: J,
}

impl Client {
    fn new(server: &Server, token: Option<&'static str>) -> Self {
        Client {
            base: format!("http://{}", server.addr()),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            token,
            doc: serde_json::from_str(tensormap_server::OPENAPI).unwrap(),
        }
    }

    fn answer(
        &self,
        method: &str,
        template: &str,
        mut r: ureq::http::Response<ureq::Body>,
    ) -> Answer {
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let a = Answer {
            status: r.status().as_u16(),
            content_type,
            body: r.body_mut().read_to_vec().unwrap(),
        };
        // The status and the media type are documented for the route.
        let op = &self.doc["paths"][template][method];
        let response = op["responses"]
            .get(a.status.to_string())
            .unwrap_or_else(|| panic!("{method} {template}: status {} undocumented", a.status));
        let media = a.content_type.split(';').next().unwrap().trim();
        assert!(
            response["content"].get(media).is_some(),
            "{method} {template} {}: media type {media} undocumented",
            a.status
        );
        if media == "application/json" {
            let body = a.json();
            if a.status >= 400 {
                assert!(
                    body["error"].is_string() && body["status"] == a.status,
                    "{body}"
                );
            }
        }
        a
    }

    fn get(&self, path: &str, template: &str) -> Answer {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let r = req.call().unwrap();
        self.answer("get", template, r)
    }

    fn post(&self, path: &str, template: &str, body: &str) -> Answer {
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let r = req.send(body.as_bytes()).unwrap();
        self.answer("post", template, r)
    }

    fn sql(&self, sql: &str) -> J {
        let a = self.post("/query", "/query", &json!({"sql": sql}).to_string());
        assert_eq!(a.status, 200, "{sql}: {}", a.text());
        a.json()
    }
}

/// A frame: `TMV1`, the header's length, the header, blocks at 8-byte offsets.
struct Frame {
    header: J,
    bytes: Vec<u8>,
}

impl Frame {
    fn read(bytes: Vec<u8>) -> Frame {
        assert_eq!(&bytes[..4], b"TMV1");
        let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        let header: J = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        for b in header["blocks"].as_array().unwrap() {
            let (at, n) = (
                b[0].as_u64().unwrap() as usize,
                b[1].as_u64().unwrap() as usize,
            );
            assert_eq!(at % 8, 0);
            assert!(at + n <= bytes.len());
        }
        Frame { header, bytes }
    }

    fn block(&self, r: &J) -> &[u8] {
        let k = r["block"].as_u64().unwrap() as usize;
        let b = &self.header["blocks"][k];
        let (at, n) = (
            b[0].as_u64().unwrap() as usize,
            b[1].as_u64().unwrap() as usize,
        );
        &self.bytes[at..at + n]
    }

    fn u32s(&self, r: &J) -> Vec<u32> {
        assert_eq!(r["type"], "u32");
        self.block(r)
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn strings(&self, r: &J) -> Vec<String> {
        let ends = self.u32s(&r["ends"]);
        let bytes = self.block(&r["bytes"]);
        let mut start = 0;
        ends.iter()
            .map(|&e| {
                let s = String::from_utf8(bytes[start..e as usize].to_vec()).unwrap();
                start = e as usize;
                s
            })
            .collect()
    }
}

fn scene(n: usize) -> Database {
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP scene WITH (resolution = 32, channels = 4, bounds = 100)")
        .unwrap();
    db.execute("CREATE MAP \"a/b c\" WITH (channels = 2)")
        .unwrap();
    let mut sql =
        String::from("INSERT INTO scene (id, type, position, embedding, confidence) VALUES ");
    for i in 0..n {
        let f = i as f32;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "('o{i}', '{}', [{}, {}, {}], [{}, 0.5, {}, 0], {})",
            ["cube", "sphere", "torus"][i % 3],
            (f * 7.3) % 190.0 - 95.0,
            (f * 3.1) % 190.0 - 95.0,
            (f * 5.7) % 190.0 - 95.0,
            (f * 0.1).sin(),
            (f * 0.2).cos(),
            (i % 10) as f32 / 10.0
        ));
    }
    db.execute(&sql).unwrap();
    db
}

fn config(token: bool) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: token.then(|| TOKEN.to_string()),
        ..Config::default()
    }
}

/// Every object of the map, asked for cell by cell from the meta's list.
fn all_ids(c: &Client, map: &str, meta: &J) -> Vec<String> {
    let cells: Vec<J> = meta["cells"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e[0], 0, e[1]]))
        .collect();
    let a = c.post(
        &format!("/view/{map}/cells"),
        "/view/{map}/cells",
        &json!({ "cells": cells }).to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.content_type, "application/octet-stream");
    let f = Frame::read(a.body);
    let answered = f.header["cells"].as_array().unwrap();
    assert_eq!(answered.len(), cells.len());
    for (asked, got) in cells.iter().zip(answered) {
        // [code, total, from, n]: every object of each cell.
        assert_eq!(
            (got[0].clone(), got[1].clone()),
            (asked[0].clone(), asked[2].clone())
        );
        assert_eq!(
            (got[2].as_u64(), got[3].clone()),
            (Some(0), asked[2].clone())
        );
    }
    let objects = &f.header["objects"];
    let ids = f.strings(&objects["ids"]);
    assert_eq!(objects["n"].as_u64().unwrap() as usize, ids.len());
    ids
}

#[test]
fn the_viewer_serves_pages_and_the_maps_data() {
    let server = Server::start(scene(600), config(true)).unwrap();
    let c = Client::new(&server, Some(TOKEN));
    let anonymous = Client::new(&server, None);

    // The pages: HTML, no token needed, the viewer in served mode naming the map.
    for (path, template, map) in [
        ("/view", "/view", "null"),
        ("/view/scene", "/view/{map}", "\"scene\""),
        ("/view/a%2Fb%20c", "/view/{map}", "\"a/b c\""),
    ] {
        let a = anonymous.get(path, template);
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.content_type, "text/html; charset=utf-8");
        let page = a.text();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains(r#""mode":"served""#), "{path}");
        assert!(page.contains(&format!(r#""map":{map}"#)), "{path}");
        assert!(page.contains("connect-src 'self'"));
    }

    // The meta: the map's count, types and field.
    let meta = c.get("/view/scene/meta", "/view/{map}/meta");
    assert_eq!(meta.status, 200, "{}", meta.text());
    let meta = meta.json();
    assert_eq!(meta["map"], "scene");
    assert_eq!(meta["count"], 600);
    let types: BTreeSet<&str> = meta["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(types, BTreeSet::from(["cube", "sphere", "torus"]));
    let listed: u64 = meta["cells"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[1].as_u64().unwrap())
        .sum();
    assert_eq!(listed, 600);

    // The cells: every object exactly once, the ids a SELECT returns.
    let mut ids = all_ids(&c, "scene", &meta);
    ids.sort();
    let mut want: Vec<String> = c.sql("SELECT id FROM scene")["results"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(ids, want);

    // A prefix of one cell is its first objects; an unknown cell answers none.
    let first = &meta["cells"]["list"][0];
    let body = json!({"cells": [[first[0], 0, 1], [4_000_000_000u64, 0, 5]]}).to_string();
    let f = Frame::read(c.post("/view/scene/cells", "/view/{map}/cells", &body).body);
    assert_eq!(f.header["cells"][0], json!([first[0], first[1], 0, 1]));
    assert_eq!(f.header["cells"][1], json!([4_000_000_000u64, 0, 0, 0]));
    assert_eq!(f.header["objects"]["n"], 1);

    // The field: every brick the meta lists comes back, 512 norms each.
    let bricks: Vec<J> = meta["field"]["bricks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json!([b[0], b[1], b[2]]))
        .collect();
    assert!(!bricks.is_empty());
    let a = c.post(
        "/view/scene/field",
        "/view/{map}/field",
        &json!({ "bricks": bricks }).to_string(),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    let f = Frame::read(a.body);
    assert_eq!(f.header["coords"]["len"], 3 * bricks.len());
    assert_eq!(f.header["norms"]["len"], 512 * bricks.len());
    assert_eq!(f.header["resolution"], meta["field"]["resolution"]);

    // A map with a name that needs encoding, and no objects.
    let m = c.get("/view/a%2Fb%20c/meta", "/view/{map}/meta");
    assert_eq!(m.status, 200, "{}", m.text());
    assert_eq!(
        (m.json()["count"].clone(), m.json()["field"].clone()),
        (json!(0), J::Null)
    );

    // A write is seen by the next meta (the index is rebuilt past a commit).
    c.sql("INSERT INTO scene (id, type, position, embedding) VALUES ('new', 'cube', [1, 1, 1], [1, 0, 0, 0])");
    let meta = c.get("/view/scene/meta", "/view/{map}/meta").json();
    assert_eq!(meta["count"], 601);
    assert!(all_ids(&c, "scene", &meta).contains(&"new".to_string()));
    c.sql("DELETE FROM scene WHERE type = 'torus'");
    let meta = c.get("/view/scene/meta", "/view/{map}/meta").json();
    assert_eq!(meta["count"], 401);
    server.shutdown().unwrap();
}

#[test]
fn the_data_needs_the_token_and_bad_requests_are_json_errors() {
    let server = Server::start(scene(50), config(true)).unwrap();
    let good = Client::new(&server, Some(TOKEN));
    let none = Client::new(&server, None);
    let wrong = Client {
        token: Some("view-tokem"),
        ..Client::new(&server, None)
    };
    for c in [&none, &wrong] {
        assert_eq!(c.get("/view/scene/meta", "/view/{map}/meta").status, 401);
        let cells = json!({"cells": [[0, 0, 10]]}).to_string();
        assert_eq!(
            c.post("/view/scene/cells", "/view/{map}/cells", &cells)
                .status,
            401
        );
        let bricks = json!({"bricks": [[0, 0, 0]]}).to_string();
        assert_eq!(
            c.post("/view/scene/field", "/view/{map}/field", &bricks)
                .status,
            401
        );
        // The pages are open, and say nothing of the data.
        assert_eq!(c.get("/view/scene", "/view/{map}").status, 200);
    }

    assert_eq!(
        good.get("/view/nowhere/meta", "/view/{map}/meta").status,
        404
    );
    let cells = json!({"cells": [[0, 0, 1]]}).to_string();
    let missing = good.post("/view/nowhere/cells", "/view/{map}/cells", &cells);
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("nowhere"));
    for (body, says) in [
        ("not json", "the body is not JSON"),
        ("{}", "an array \"cells\""),
        (
            r#"{"cells": [[1, 2]]}"#,
            "\"cells\"[0] must be an array of 3 whole numbers",
        ),
        (
            r#"{"cells": [[1, -2, 3]]}"#,
            "\"cells\"[0] must be an array of 3 whole numbers",
        ),
        (r#"{"cells": [[1, 5, 3]]}"#, "from 5 is past to 3"),
        (r#"{"cells": [[1, 0, 4294967296]]}"#, "whole numbers"),
    ] {
        let a = good.post("/view/scene/cells", "/view/{map}/cells", body);
        assert_eq!(a.status, 400, "{body}");
        let e = a.json()["error"].as_str().unwrap().to_string();
        assert!(e.contains(says), "{body}: {e}");
    }
    let too_many: Vec<J> = (0..70_000).map(|i| json!([i, 0, 1])).collect();
    let a = good.post(
        "/view/scene/cells",
        "/view/{map}/cells",
        &json!({ "cells": too_many }).to_string(),
    );
    assert_eq!(a.status, 400);
    assert!(a.text().contains("more than 65536"), "{}", a.text());
    let a = good.post(
        "/view/scene/field",
        "/view/{map}/field",
        r#"{"bricks": [[0, 0]]}"#,
    );
    assert_eq!(a.status, 400);
    // A map without a field has no bricks to give.
    good.sql("CREATE MAP bare WITH (channels = 2)");
    let a = good.post(
        "/view/bare/field",
        "/view/{map}/field",
        r#"{"bricks": [[0, 0, 0]]}"#,
    );
    assert_eq!(a.status, 400);
    assert!(a.text().contains("no voxel field"), "{}", a.text());
    // A name that is not UTF-8 once decoded.
    assert_eq!(good.get("/view/%FF/meta", "/view/{map}/meta").status, 400);
    server.shutdown().unwrap();
}

#[test]
fn render_svg_honours_the_effects_object() {
    let server = Server::start(scene(30), config(false)).unwrap();
    let c = Client::new(&server, None);
    let svg = |effects: J| {
        let body = json!({"map": "scene", "effects": effects, "width": 200, "height": 150});
        c.post("/render/svg", "/render/svg", &body.to_string())
    };
    let plain = svg(json!({}));
    assert_eq!(plain.status, 200);
    let plain = plain.text();
    roxmltree::Document::parse(&plain).unwrap();
    assert!(!plain.contains("feTurbulence") && plain.contains("class=\"heatmap\""));

    let all = svg(json!({"liquid": true, "wireframe": true, "tensorField": true}));
    assert_eq!(all.status, 200, "{}", all.text());
    let all = all.text();
    let doc = roxmltree::Document::parse(&all).unwrap();
    assert!(doc
        .descendants()
        .any(|n| n.tag_name().name() == "feTurbulence"));
    assert!(doc.descendants().any(|n| n.tag_name().name() == "animate"));
    assert!(all.contains("filter=\"url(#liquid)\"") && all.contains("class=\"heatmap\""));
    assert!(doc
        .descendants()
        .filter(|n| n.parent().and_then(|p| p.attribute("class")) == Some("object cube"))
        .filter(|n| n.tag_name().name() == "rect")
        .all(|n| n.attribute("fill") == Some("none")));

    let no_field = svg(json!({"tensorField": false})).text();
    assert!(!no_field.contains("class=\"heatmap\""));
    // The request of the original API is still valid, and heatmap is tensorField's old name.
    assert_eq!(svg(json!({"liquid": true, "wireframe": true})).status, 200);
    assert!(!svg(json!({"heatmap": false}))
        .text()
        .contains("class=\"heatmap\""));
    let a = svg(json!({"heatmap": false, "tensorField": true}));
    assert_eq!(a.status, 400);
    assert!(a.json()["error"].as_str().unwrap().contains("disagree"));
    server.shutdown().unwrap();
}

/// The facade's view of a map is what the viewer serves: the same ids as the SELECT.
#[test]
fn view_scene_matches_select() {
    let db = scene(20);
    let v = db
        .view_scene("SELECT * FROM scene WHERE type = 'cube'")
        .unwrap();
    let rows = db
        .execute("SELECT id FROM scene WHERE type = 'cube'")
        .unwrap();
    let mut want: Vec<String> = rows[0]
        .rows
        .iter()
        .map(|r| match &r[0] {
            Value::Text(t) => t.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    let mut got = v.objects.ids.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}
