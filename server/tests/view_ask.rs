//! The served view's query box in plain language, at the HTTP level: the page the server
//! serves carries the viewer that turns a question into `EXPLAIN ASK`, and the two requests
//! it makes (`POST /query` with `EXPLAIN ASK map 'text'`, then the statement when the
//! outcome is `answer`) give the statement and the same rows as that statement typed by
//! hand; a text that is no question about the map runs nothing.
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value as J};
use tensormap::Database;
use tensormap_server::{Config, Server};

const TOKEN: &str = "ask-token";

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(server: &Server) -> Self {
        Client {
            base: format!("http://{}", server.addr()),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
        }
    }

    fn page(&self, path: &str) -> String {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        r.body_mut().read_to_string().unwrap()
    }

    /// `POST /query` as the page sends it: its JSON answer.
    fn query(&self, sql: &str) -> J {
        let mut r = self
            .agent
            .post(format!("{}/query", self.base))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .send(json!({ "sql": sql }).to_string().as_bytes())
            .unwrap();
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().unwrap();
        assert_eq!(status, 200, "{sql}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn demo() -> Database {
    let db = Database::open_in_memory().unwrap();
    db.execute("CREATE MAP demo WITH (channels = 2, bounds = 500)")
        .unwrap();
    let rows: Vec<String> = (0..60u32)
        .map(|i| {
            let k = ["cube", "sphere", "torus"][i as usize % 3];
            let p = (i as f64 * 13.0) % 800.0 - 400.0;
            format!("('o{i}', '{k}', [{p}, {}, 10], [0.5, 0.5])", p / 3.0)
        })
        .collect();
    db.execute(&format!(
        "INSERT INTO demo (id, type, position, embedding) VALUES {}",
        rows.join(", ")
    ))
    .unwrap();
    db
}

/// The ids of the last result's rows.
fn ids(answer: &J) -> Vec<String> {
    let results = answer["results"].as_array().unwrap();
    results.last().unwrap()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_query_box_asks_in_plain_language() {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.to_string()),
        ..Config::default()
    };
    let server = Server::start(demo(), config).unwrap();
    let c = Client::new(&server);
    // The page's viewer knows questions: it writes EXPLAIN ASK for them.
    let page = c.page("/view/demo");
    assert!(
        page.contains("EXPLAIN ASK"),
        "the served viewer has no ASK path"
    );
    assert!(page.contains("TensorQL or a question"));

    // A question: the statement the model wrote, then its rows.
    let explained = c.query("EXPLAIN ASK demo 'find all cubes within 200 units of center'");
    let row = &explained["results"][0]["rows"][0];
    let statement = row["statement"].as_str().unwrap().to_string();
    assert_eq!(
        statement,
        "SELECT * FROM demo WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 200)"
    );
    assert_eq!(row["outcome"], "answer");
    let ran = ids(&c.query(&statement));
    let by_hand = ids(
        &c.query("SELECT * FROM demo WHERE type = 'cube' AND WITHIN(position, [0, 0, 0], 200)")
    );
    assert!(!ran.is_empty());
    assert_eq!(ran, by_hand);

    // No question about the map: the outcome says so and the page runs nothing.
    let refused = c.query("EXPLAIN ASK demo 'quelle heure est-il à Paris ?'");
    assert_eq!(refused["results"][0]["rows"][0]["outcome"], "not a command");
}
