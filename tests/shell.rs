//! The `tmap` shell end to end: the built binary with `-c`, `-f`, stdin and each format;
//! output and exit status; a second process sees what the first committed.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tmap(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

const SETUP: &str = "CREATE MAP s WITH (channels = 2, bounds = 100); \
    INSERT INTO s (id, type, position, embedding, confidence) VALUES \
    ('a', 'cube', [1, 2, 3], [0.5, -1], 0.9), ('b', 'sphere', [50, 0, 0], [1, 0], 1)";

#[test]
fn commands_formats_and_a_second_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = tmap(&db, &["-c", SETUP], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "CREATE MAP\nINSERT 2\n");

    // A second process reopens the path and sees the committed rows: csv.
    let out = tmap(
        &db,
        &[
            "--format",
            "csv",
            "-c",
            "SELECT id, position, confidence FROM s; SELECT COUNT(*) AS n FROM s",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "id,position,confidence\na,\"[1, 2, 3]\",0.9\nb,\"[50, 0, 0]\",1\nn\n2\n"
    );

    // json: one array of row objects per statement, statements without rows print nothing.
    let out = tmap(
        &db,
        &[
            "--format",
            "json",
            "-c",
            "BEGIN; SELECT id, embedding FROM s WHERE id = 'a'; ROLLBACK",
        ],
        None,
    );
    assert!(out.status.success());
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v, serde_json::json!([{"id": "a", "embedding": [0.5, -1]}]));

    // table: aligned, with a row count.
    let out = tmap(
        &db,
        &["-c", "SELECT id, type FROM s ORDER BY id DESC"],
        None,
    );
    let t = text(&out.stdout);
    assert!(t.contains("| id | type   |"), "{t}");
    assert!(t.contains("| b  | sphere |"), "{t}");
    assert!(t.ends_with("(2 rows)\n"), "{t}");
}

#[test]
fn files_stdin_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let script = dir.path().join("script.tql");
    std::fs::write(
        &script,
        format!("{SETUP};\n-- a comment\nSELECT id\nFROM s\nWHERE x > 10;\n"),
    )
    .unwrap();
    let out = tmap(
        &db,
        &["--format", "csv", "-f", script.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "id\nb\n");

    // Statements from stdin when it is not a terminal.
    let out = tmap(
        &db,
        &["--format", "csv"],
        Some("SELECT COUNT(*) AS n FROM s;\nSELECT id FROM s WHERE id = 'a';"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "n\n2\nid\na\n");

    // The first error stops the script: message with line and column, the line, a caret.
    let out = tmap(
        &db,
        &[
            "-c",
            "SELECT COUNT(*) FROM s;\nSELECT * FORM s;\nDELETE FROM s",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error at 2:10: expected FROM, found 'FORM'\n"),
        "{err}"
    );
    assert!(err.contains("  SELECT * FORM s;\n           ^\n"), "{err}");
    assert!(
        text(&out.stdout).contains("2"),
        "the statement before the error ran"
    );
    let out = tmap(
        &db,
        &["--format", "csv", "-c", "SELECT COUNT(*) AS n FROM s"],
        None,
    );
    assert_eq!(
        text(&out.stdout),
        "n\n2\n",
        "the DELETE after the error did not run"
    );

    // An engine error (duplicate id) has a position too, and changes nothing.
    let out = tmap(
        &db,
        &[
            "-c",
            "INSERT INTO s (id, type, position, embedding) VALUES ('a', 't', [0, 0, 0], [1, 1])",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already has an object with id 'a'"),
        "{}",
        text(&out.stderr)
    );

    // A missing script file is an error before anything runs.
    let out = tmap(&db, &["-f", "/nonexistent/x.tql"], None);
    assert!(!out.status.success());
}
