//! The `tmap` shell end to end: the built binary with `-c`, `-f`, stdin and each format;
//! output and exit status; a second process sees what the first committed.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

#[test]
fn dot_commands_in_scripts_and_on_stdin_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let inner = dir.path().join("inner.tql");
    std::fs::write(
        &inner,
        "-- read by .read\n.mode json\nSELECT id FROM s WHERE id = 'b';\n",
    )
    .unwrap();
    let script = dir.path().join("script.tql");
    std::fs::write(
        &script,
        format!(
            "{SETUP};\n.mode csv\nSELECT id, confidence FROM s ORDER BY id;\n  .read {}\nSELECT 1 + 1 AS two;\n.quit\nSELECT 'not reached';\n",
            inner.display()
        ),
    )
    .unwrap();
    let out = tmap(&db, &["-f", script.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "CREATE MAP\nINSERT 2\nid,confidence\na,0.9\nb,1\n[{\"id\":\"b\"}]\n[{\"two\":2}]\n"
    );

    // The same commands on standard input; .timer prints each statement's time.
    let out = tmap(
        &db,
        &[],
        Some(".mode csv\n.timer on\nSELECT COUNT(*) AS n FROM s;\n.timer off\nSELECT 3;\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[..2], ["n", "2"], "{t}");
    assert!(lines[2].starts_with("Run Time: "), "{t}");
    assert_eq!(lines[3..], ["3", "3"], "{t}");

    // A bad command stops the script with its position; an error in a .read file names it.
    let out = tmap(&db, &["-c", "SELECT 1;\n.mode xml\nSELECT 2;"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error at 2:1: .mode takes table, csv or json"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&inner, "SELECT 1;\nSELECT nope FROM s;\n").unwrap();
    let out = tmap(
        &db,
        &[],
        Some(&format!(".read {}\nSELECT 2;", inner.display())),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("inner.tql: error at 2:8: unknown column 'nope'"),
        "{err}"
    );
    assert!(err.contains("  SELECT nope FROM s;\n         ^\n"), "{err}");
    // A file that reads itself stops at the nesting limit.
    std::fs::write(&inner, format!(".read {}\n", inner.display())).unwrap();
    let out = tmap(&db, &["-c", &format!(".read {}", inner.display())], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nested deeper than 16"));
}

#[test]
fn f32_values_print_as_their_shortest_decimal_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = tmap(
        &db,
        &[
            "--format",
            "csv",
            "-c",
            "CREATE MAP m WITH (channels = 2, bounds = 1000);
          INSERT INTO m (id, position, embedding, confidence) VALUES
            ('a', [0.1, -123.456, 1e-3], [0.7, 1e14], 0.7),
            ('b', [999.99, 0, 0.30000001], [1e-10, -0.1], 0.83);
          SELECT id, x, y, z, position, embedding, confidence FROM m ORDER BY id;
          SELECT AVG(confidence) AS avg, SUM(x) AS sum, AVG(x) / 3 AS third FROM m",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "id,x,y,z,position,embedding,confidence\n\
         a,0.1,-123.456,0.001,\"[0.1, -123.456, 0.001]\",\"[0.7, 1e14]\",0.7\n\
         b,999.99,0,0.3,\"[999.99, 0, 0.3]\",\"[1e-10, -0.1]\",0.83\n\
         avg,sum,third\n0.765,1000.09,166.681666666667\n"
    );
    // What was printed reads back as the same f32s.
    let out = tmap(
        &db,
        &["--format", "csv", "-c", "SELECT COUNT(*) FROM m WHERE position = [0.1, -123.456, 0.001] AND embedding = [0.7, 1e14] AND confidence = 0.7"],
        None,
    );
    assert_eq!(text(&out.stdout), "COUNT(*)\n1\n");
}

#[test]
fn a_database_that_cannot_be_opened_is_a_clear_error_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // Hold the database open in a first process (an interactive-less shell reading a pipe).
    let mut first = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut opened = false;
    for _ in 0..100 {
        if db.join("conf").exists() || db.join("db").exists() {
            opened = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = tmap(&db, &["-c", "SHOW MAPS"], None);
    drop(first.stdin.take());
    first.wait().unwrap();
    assert!(opened || out.status.code() == Some(1));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("open in another process"), "{err}");
    assert!(!err.contains("Custom {") && !err.contains("kind:"), "{err}");
    // A path that cannot be a database at all.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = tmap(&file.join("db"), &["-c", "SHOW MAPS"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: "));
}

#[test]
fn snapshot_in_one_database_restore_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.tensor3d");
    let out = tmap(
        &dir.path().join("one"),
        &[
            "-c",
            &format!("{SETUP}; SNAPSHOT s TO '{}'", file.display()),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("SNAPSHOT 2 objects"),
        "{}",
        text(&out.stdout)
    );
    // A quick task draws no bar (and stderr is not a terminal here anyway).
    assert_eq!(text(&out.stderr), "");
    let two = dir.path().join("two");
    let restore = format!("RESTORE t FROM '{}'", file.display());
    let out = tmap(&two, &["-c", &restore], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tmap(
        &two,
        &[
            "--format",
            "csv",
            "-c",
            "SELECT id, embedding FROM t ORDER BY id",
        ],
        None,
    );
    assert_eq!(
        text(&out.stdout),
        "id,embedding\na,\"[0.5, -1]\"\nb,\"[1, 0]\"\n"
    );
    // Again: the map exists; status 1 and the reason.
    let out = tmap(&two, &["-c", &restore], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exists already"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_script_that_is_not_utf8_stops_at_its_bad_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.tql");
    // Scripts are read statement by statement: the statement before the bad bytes runs.
    std::fs::write(&script, b"SELECT 1; \xff\xfe").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(dir.path().join("db"))
        .args(["-f", script.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n1\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not UTF-8 text (at byte 10)"), "{err}");
}
