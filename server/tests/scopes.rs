//! Scoped tokens: a `read`, a `write` and an `admin` token from one token file; every route
//! and every kind of `/query` statement tried with each token, no token and a wrong one:
//! 401 without a known token, 403 beyond the token's scope (and nothing changed), the
//! answer of the route within it.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value as J};
use tensormap::{Database, MemoryBackend};
use tensormap_server::{Access, Config, ScopedToken, Server};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

struct Client {
    base: String,
    agent: ureq::Agent,
    token: Option<&'static str>,
}

impl Client {
    fn send(&self, method: &str, path: &str, body: Option<J>) -> (u16, String) {
        let url = format!("{}{path}", self.base);
        let auth = self.token.map(|t| format!("Bearer {t}"));
        let mut r = match body {
            Some(b) => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("content-type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send(b.to_string().as_bytes()).unwrap()
            }
            None => {
                let mut req = if method == "GET" {
                    self.agent.get(url)
                } else {
                    panic!("{method}")
                };
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call().unwrap()
            }
        };
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    fn sql(&self, sql: &str) -> (u16, String) {
        self.send("POST", "/query", Some(json!({"sql": sql})))
    }
}

fn db() -> Database {
    let db = Database::with_backend(std::sync::Arc::new(MemoryBackend::new())).unwrap();
    db.execute("CREATE MAP scene WITH (channels = 4, resolution = 16, bounds = 100)")
        .unwrap();
    db.execute("INSERT INTO scene (id, position, embedding) VALUES ('a', [1, 2, 3], [1, 0, 0, 0])")
        .unwrap();
    db
}

const READ: &str = "r-token";
const WRITE: &str = "w-token";
const ADMIN: &str = "a-token";

fn count(c: &Client) -> u64 {
    let (s, body) = c.sql("SELECT COUNT(*) AS n FROM scene");
    assert_eq!(s, 200, "{body}");
    let j: J = serde_json::from_str(&body).unwrap();
    j["results"][0]["rows"][0]["n"].as_u64().unwrap()
}

#[test]
fn each_scope_is_allowed_what_it_names_and_refused_403_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(
        &file,
        format!("# scoped tokens\n{READ} read\n{WRITE} write\n{ADMIN} admin\n"),
    )
    .unwrap();
    let tokens = ScopedToken::read_file(&file).unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        tokens,
        workers: 2,
        allow_files: true,
        log: std::sync::Arc::new(|_: &str| {}),
        ..Config::default()
    };
    let server = Server::start(db(), config).unwrap();
    let base = format!("http://{}", server.addr());
    let client = |token| Client {
        base: base.clone(),
        agent: agent(),
        token,
    };
    let tokens = [
        (READ, Access::Read),
        (WRITE, Access::Write),
        (ADMIN, Access::Admin),
    ];

    // Routes: what each needs (the route table is checked to be covered by auth's tests).
    let reads: Vec<(&str, &str, Option<J>)> = vec![
        (
            "POST",
            "/tensor/query",
            Some(json!({"center": [0, 0, 0], "radius": 10})),
        ),
        ("POST", "/render/svg", Some(json!({"map": "scene"}))),
        ("GET", "/metrics", None),
        ("GET", "/openapi.json", None),
        ("GET", "/view/scene/meta", None),
    ];
    for (method, path, body) in &reads {
        for token in [None, Some("nope")] {
            let (s, _) = client(token).send(method, path, body.clone());
            assert_eq!(s, 401, "{method} {path} with {token:?}");
        }
        for (t, _) in tokens {
            let (s, b) = client(Some(t)).send(method, path, body.clone());
            assert_eq!(s, 200, "{method} {path} with {t}: {b}");
        }
    }
    assert_eq!(client(None).send("GET", "/health", None).0, 200);
    let mut n = 1;
    for (i, (t, scope)) in tokens.into_iter().enumerate() {
        let embed = json!({"map": "scene", "id": format!("e{i}"), "position": [0, 0, 0],
                           "features": [0, 1, 0, 0]});
        let (s, b) = client(Some(t)).send("POST", "/tensor/embed", Some(embed));
        if scope >= Access::Write {
            assert_eq!(s, 200, "embed with {t}: {b}");
            n += 1;
        } else {
            assert_eq!(s, 403, "embed with {t}: {b}");
            assert!(
                b.contains("'write' scope") && b.contains("has 'read'"),
                "{b}"
            );
        }
    }
    assert_eq!(count(&client(Some(READ))), n);

    // /query by statement kind: each statement with each token.
    let statements: Vec<(Access, String)> = vec![
        (Access::Read, "SELECT id FROM scene".into()),
        (Access::Read, "EXPLAIN SELECT id FROM scene".into()),
        (Access::Read, "SHOW MAPS".into()),
        (Access::Read, "DESCRIBE scene".into()),
        (Access::Read, "BEGIN; SELECT 1; COMMIT".into()),
        (
            Access::Write,
            "INSERT INTO scene (id, position, embedding) VALUES ('q{}', [0, 0, 1], [0, 0, 1, 0])".into(),
        ),
        (
            Access::Write,
            "UPDATE scene SET confidence = 0.5 WHERE id = 'a'".into(),
        ),
        (
            Access::Write,
            "DELETE FROM scene WHERE id = 'nothing'".into(),
        ),
        (Access::Write, "CREATE MAP m{} WITH (channels = 4)".into()),
        // A read then a write: the script needs the strongest.
        (
            Access::Write,
            "SELECT 1; INSERT INTO scene (id, position, embedding) VALUES ('s{}', [0, 0, 2], [0, 0, 0, 1])".into(),
        ),
        (Access::Read, "SHOW statement_timeout".into()),
        (Access::Write, "CHECKPOINT".into()),
        (Access::Admin, "DROP MAP IF EXISTS nothing{}".into()),
        // The session's limits are the server's: a client may not lift them.
        (Access::Admin, "SET statement_timeout = '5s'".into()),
        (Access::Admin, "RESET memory_limit".into()),
        (
            Access::Admin,
            "CREATE MAP r{} WITH (channels = 4); ALTER MAP r{} RENAME TO r{}b".into(),
        ),
        (
            Access::Admin,
            "CREATE MODEL mm{} WITH (layers = 1, dim = 8, heads = 1)".into(),
        ),
        (Access::Admin, "DROP MODEL IF EXISTS nothing".into()),
        (
            Access::Admin,
            format!(
                "SNAPSHOT scene TO '{}'",
                dir.path().join("s{}.tensor3d").display()
            ),
        ),
    ];
    for (k, (needed, sql)) in statements.iter().enumerate() {
        for (t, scope) in tokens {
            let sql = sql.replace("{}", &format!("{k}{}", scope.name()));
            let before = count(&client(Some(ADMIN)));
            let (s, b) = client(Some(t)).sql(&sql);
            if scope >= *needed {
                assert_eq!(s, 200, "{sql} with {t}: {b}");
            } else {
                assert_eq!(s, 403, "{sql} with {t}: {b}");
                assert!(
                    b.contains(&format!("'{}' scope", needed.name())),
                    "{sql} with {t}: {b}"
                );
                assert_eq!(count(&client(Some(ADMIN))), before, "{sql} changed the map");
            }
        }
        let (s, _) = client(Some("nope")).sql(sql);
        assert_eq!(s, 401);
    }
    server.shutdown().unwrap();
}
