//! Models through the shell: a model created and trained by one `tmap` process is there,
//! with its functions, in the next one.
// Test and bench code: an unwrap that fails is a failed check (clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs the built `tmap` on `db` with `args`.
fn tmap(db: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg(db)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn tmap_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let setup = "CREATE MAP s WITH (channels = 4, bounds = 100); \
        INSERT INTO s (id, type, position, embedding) VALUES \
        ('a', 'cube', [1, 2, 3], [1, 0, 0, 0]), ('b', 'ball', [50, 0, 0], [0, 1, 0, 0]), \
        ('c', 'cube', [-5, 2, 3], [1, 0.1, 0, 0]); \
        CREATE MODEL t WITH (layers = 1, dim = 24, heads = 2, channels = 4, seed = 2); \
        TRAIN MODEL t ON s WITH (epochs = 2, batch_size = 2)";
    let out = tmap(&db, &["-c", setup]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("CREATE MAP\nINSERT 3\nCREATE MODEL\nTRAIN MODEL 4 steps, loss "),
        "{stdout}"
    );

    // A second process sees the trained model and its functions.
    let out = tmap(
        &db,
        &[
            "--format",
            "csv",
            "-c",
            "SHOW MODELS; SELECT COUNT(*) AS n FROM s ORDER BY 1; \
             SELECT id FROM s ORDER BY ATTENTION(t_embed('cube')) DESC LIMIT 1; \
             SELECT LENGTH(t_generate('cu', 3, 0)) <= 3 AS ok",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "name,kind,parameters,output_width,steps,loss");
    assert!(lines[1].starts_with("t,vllm,"), "{stdout}");
    assert!(lines[1].contains(",4,4,"), "{stdout}");
    assert_eq!(&lines[2..4], ["n", "3"]);
    assert_eq!(lines[4], "id");
    assert_eq!(lines[6..], ["ok", "true"]);

    // SAVE, DROP, LOAD through the shell; an error exits 1 and names the place.
    let file = dir.path().join("t.vllm");
    let f = file.to_str().unwrap();
    let out = tmap(
        &db,
        &[
            "-c",
            &format!("SAVE MODEL t TO '{f}'; DROP MODEL t; LOAD MODEL u FROM '{f}'"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = tmap(&db, &["-c", "SELECT t_embed('x')"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown function 't_embed'"),
        "{}",
        text(&out.stderr)
    );
    let out = tmap(&db, &["--format", "csv", "-c", "SHOW MODELS"]);
    assert!(text(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("u,vllm,"));
}
