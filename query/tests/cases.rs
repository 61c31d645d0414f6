//! The table-driven TensorQL suite: every case in `cases.txt` runs on a fresh fixture
//! database and must give exactly the expected rows, status or error (with its position).
//!
//! Format of `cases.txt` (see its header): `> statement(s)` on one or more lines, then
//! the expected result of the last statement: rows as `v1 | v2 | ...`, or `= STATUS`, or
//! `! L:C message-substring` for the expected error; a blank line ends a case.

use tensormap_engine::{Database, Value};
use tensormap_query::Session;

const FIXTURE: &str = "
CREATE MAP s WITH (resolution = 16, channels = 3, bounds = 100, sigma = 1, splat_radius = 1);
INSERT INTO s (id, type, position, embedding, confidence) VALUES
  ('a', 'cube',   [0, 0, 0],       [1, 0, 0],       1),
  ('b', 'cube',   [10, 0, 0],      [0, 1, 0],       0.5),
  ('c', 'sphere', [0, 20, 0],      [0, 0, 1],       0.25),
  ('d', 'sphere', [-30, -30, -30], [1, 1, 0],       0.75),
  ('e', 'torus',  [50, 50, 50],    [0.5, 0.5, 0.5], 0.9);
CREATE MAP empty;
";

struct Case {
    line: usize,
    sql: String,
    expect: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("cases.txt");
    let mut out = Vec::new();
    let mut current: Option<Case> = None;
    let mut in_sql = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("#") {
            continue;
        }
        if line.trim().is_empty() {
            if let Some(c) = current.take() {
                out.push(c);
            }
            in_sql = false;
            continue;
        }
        if let Some(sql) = line.strip_prefix("> ") {
            match &mut current {
                Some(c) if in_sql => {
                    c.sql.push('\n');
                    c.sql.push_str(sql);
                }
                _ => {
                    if let Some(c) = current.take() {
                        out.push(c);
                    }
                    current = Some(Case {
                        line: n + 1,
                        sql: sql.to_string(),
                        expect: Vec::new(),
                    });
                    in_sql = true;
                }
            }
            continue;
        }
        in_sql = false;
        if let Some(c) = &mut current {
            c.expect.push(line.to_string());
        }
    }
    if let Some(c) = current.take() {
        out.push(c);
    }
    out
}

fn render(v: &[Value]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn run(case: &Case) -> Result<(), String> {
    let db = Database::open_in_memory().map_err(|e| e.to_string())?;
    db.register_function("double", 1, |args| match &args[0] {
        Value::Number(n) => Ok(Value::Number(n * 2.0)),
        other => Err(format!("expects a number, found a {}", other.type_name()).into()),
    });
    let mut session = Session::new(db);
    session
        .execute(FIXTURE)
        .map_err(|e| format!("fixture: {e}"))?;
    let got: Vec<String> = match session.execute(&case.sql) {
        Err(e) => vec![format!("! {}:{} {}", e.pos.line, e.pos.col, e.message)],
        Ok(results) => match results.last() {
            None => vec![],
            Some(r) if r.has_rows() => r.rows.iter().map(|row| render(row)).collect(),
            Some(r) => vec![format!("= {}", r.status)],
        },
    };
    let ok = match case.expect.first() {
        Some(e) if e.starts_with("! ") => {
            got.len() == 1 && got[0].starts_with("! ") && {
                let (want_pos, want_msg) = e[2..].split_once(' ').unwrap_or((&e[2..], ""));
                let (got_pos, got_msg) = got[0][2..].split_once(' ').unwrap_or(("", ""));
                want_pos == got_pos && got_msg.contains(want_msg)
            }
        }
        _ => got == case.expect,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "case at cases.txt:{}\n  {}\nexpected:\n  {}\ngot:\n  {}",
            case.line,
            case.sql.replace('\n', "\n  "),
            case.expect.join("\n  "),
            got.join("\n  ")
        ))
    }
}

#[test]
fn every_case_gives_its_expected_result() {
    let cases = cases();
    let errors = cases
        .iter()
        .filter(|c| c.expect.first().is_some_and(|e| e.starts_with("! ")))
        .count();
    let failures: Vec<String> = cases.iter().filter_map(|c| run(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(
        errors * 3 >= cases.len(),
        "only {errors} of {} cases are errors",
        cases.len()
    );
}
