//! The shell has COPY: a CSV with a bad third row is refused, naming the file, the row and
//! the column, and nothing is added.

use std::process::Command;

#[test]
fn the_shell_copies_and_names_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
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
