//! The facade and the `tmap` shell have COPY (tensormap-interop installed in every
//! session): a round trip through a file of each format, and a clear error at the row.

use std::process::Command;

use tensormap::Database;

#[test]
fn every_database_and_the_shell_copy() {
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

    // The shell: a CSV with a bad third row is refused, naming it; nothing is added.
    let csv = dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "id,x,y,z,embedding\np,0,0,0,\"[1, 2]\"\nq,0,0,0,\"[1, 2]\"\nr,0,0,0,\"[1]\"\n",
    )
    .unwrap();
    let path = dir.path().join("db");
    let sql = format!(
        "CREATE MAP m WITH (channels = 2); COPY m FROM '{}'",
        csv.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(&path)
        .args(["-c", &sql])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv' row 3, column embedding"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(&path)
        .args(["--format", "csv", "-c", "SELECT COUNT(*) AS n FROM m"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n0\n");
}
