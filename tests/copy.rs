//! The facade has COPY (tensormap-interop installed in every session): a round trip
//! through a file of each format. (The shell's COPY, with a clear error at the row:
//! cli/tests/copy.rs.)

use tensormap::Database;

#[test]
fn every_database_copies() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_in_memory().unwrap();
    db.execute(
        "CREATE MAP a WITH (channels = 2); CREATE MAP b WITH (channels = 2); \
         INSERT INTO a (id, type, position, embedding, confidence) VALUES \
         ('x', 'cube', [1, 2, 3], [0.5, -1], 0.9), ('y', 'ball', [-4, 5, 6.25], [0.1, 2], 1)",
    )
    .unwrap();
    for name in ["a.parquet", "a.csv", "a.json"] {
        let file = dir.path().join(name).display().to_string();
        db.execute(&format!("COPY a TO '{file}'")).unwrap();
        db.execute("DELETE FROM b").unwrap();
        let r = db.execute(&format!("COPY b FROM '{file}'")).unwrap();
        assert_eq!(r[0].status, "COPY 2");
        let r = db
            .execute("SELECT id, type, position, embedding, confidence FROM b ORDER BY id")
            .unwrap();
        let rows: Vec<String> = r[0]
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            rows,
            [
                "x cube [1, 2, 3] [0.5, -1] 0.9",
                "y ball [-4, 5, 6.25] [0.1, 2] 1"
            ],
            "{name}"
        );
    }
}
