//! EXPLAIN ANALYZE: the query runs, and each operator of its plan shows the rows it gave
//! (times vary, so they are only checked to be there).
// Test code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tensormap_engine::Database;
use tensormap_query::Session;

/// The plan lines with ` time=... ms` taken out.
fn analyze(s: &mut Session, sql: &str) -> Vec<String> {
    let r = s
        .execute(&format!("EXPLAIN ANALYZE {sql}"))
        .unwrap()
        .pop()
        .unwrap();
    r.rows
        .iter()
        .map(|row| {
            let line = row[0].to_string();
            if let Some(total) = line.strip_suffix(" ms") {
                if let Some(i) = total.rfind(" in ") {
                    if line.starts_with("Total:") {
                        return total[..i + 3].to_string();
                    }
                }
            }
            match (line.find(" time="), line.rfind(" ms")) {
                (Some(a), Some(b)) if b > a => format!("{}{}", &line[..a], &line[b + 3..]),
                _ => line,
            }
        })
        .collect()
}

#[test]
fn each_operator_shows_its_rows() {
    let mut s = Session::new(Database::open_in_memory().unwrap());
    s.execute(
        "CREATE MAP s WITH (channels = 1, bounds = 100);
         CREATE MAP t WITH (channels = 1, bounds = 100);",
    )
    .unwrap();
    let rows: Vec<String> = (0..100)
        .map(|i| {
            format!(
                "('o{i:02}', '{}', [{}, 0, 0], [0])",
                ["a", "b"][i % 2],
                i as i64 - 50
            )
        })
        .collect();
    for m in ["s", "t"] {
        s.execute(&format!(
            "INSERT INTO {m} (id, type, position, embedding) VALUES {}",
            rows.join(", ")
        ))
        .unwrap();
    }
    assert_eq!(
        analyze(
            &mut s,
            "SELECT type, COUNT(*) FROM s WHERE WITHIN(position, [0, 0, 0], 10) GROUP BY type HAVING COUNT(*) > 10"
        ),
        [
            "Project type, COUNT(*)  (rows=1)",
            "Sort id ASC  (rows=1)",
            "Filter groups (COUNT(*) > 10)  (rows=1)",
            "Aggregate group by type  (rows=2)",
            "R-tree range search s within 10 of [0, 0, 0]  (rows=21)",
            "Total: 1 rows in",
        ]
    );
    assert_eq!(
        analyze(
            &mut s,
            "SELECT a.id, b.id FROM s a JOIN t b ON WITHIN(b.position, a.position, 1) WHERE a.x < 0 ORDER BY a.id LIMIT 5"
        ),
        [
            "Project a.id, b.id  (rows=5)",
            "Limit 5 offset 0  (rows=5)",
            "Sort a.id ASC, a.id ASC, b.id ASC  (rows=149)",
            "Index nested-loop join (inner): R-tree range search t AS b within 1 of a.position for each row  (rows=149)",
            "  Scan s AS a where (a.x < 0)  (rows=50)",
            "Total: 5 rows in",
        ]
    );
}
