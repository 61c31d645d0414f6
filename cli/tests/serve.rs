//! `tmap serve` as a process: a SIGTERM in the middle of inserts stops it gracefully, and
//! every insert it acknowledged is in the database when it is reopened. (The routes
//! themselves are tested in process: server/tests/api.rs.) With `--tls-cert`/`--tls-key`
//! it says `listening on https://ADDR`; a bad TLS file or a lone flag stops it before it
//! opens the database (TLS itself: server/tests/tls.rs).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tensormap::Database;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

#[test]
fn sigterm_mid_inserts_loses_no_acknowledged_insert() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("term.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg("serve")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    let client = agent();
    let mut r = client
        .post(format!("{base}/query"))
        .send(json!({"sql": "CREATE MAP m WITH (channels = 2)"}).to_string())
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "{}",
        r.body_mut().read_to_string().unwrap()
    );

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let (base, acked, stop) = (base.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut i = 0;
                // Until the server is gone (a refused or broken connection) or 20 s.
                let give_up = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                    let id = format!("w{t}-{i}");
                    i += 1;
                    let body = json!({"map": "m", "id": id, "position": [t, i % 100, 0],
                                      "features": [1, 2]});
                    match agent
                        .post(format!("{base}/tensor/embed"))
                        .send(body.to_string())
                    {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().push(id),
                        Ok(r) => panic!("insert {id}: status {}", r.status()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Let the writers get going, then SIGTERM in the middle of their inserts.
    while acked.lock().unwrap().len() < 50 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < exited,
            "tmap serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(stderr.contains("the database is closed"), "{stderr}");
    let acked = acked.lock().unwrap().clone();
    let db = Database::open(&path).unwrap();
    let read = db.begin_read().unwrap();
    let m = read.map("m").unwrap();
    for id in &acked {
        assert!(m.get(id).is_some(), "acknowledged insert {id} lost");
    }
    println!(
        "SIGTERM after {} acknowledged inserts; {} objects after reopening",
        acked.len(),
        m.len()
    );
}

/// Runs `tmap serve` on the database `dir/name` with `args`; (the child, the path).
fn serve_with(
    dir: &std::path::Path,
    name: &str,
    args: &[&std::ffi::OsStr],
) -> std::io::Result<(std::process::Child, std::path::PathBuf)> {
    let path = dir.join(name);
    let child = Command::new(env!("CARGO_BIN_EXE_tmap"))
        .arg("serve")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    Ok((child, path))
}

#[test]
fn tls_flags_say_https_or_stop_before_opening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();

    // Both files: the startup line's scheme is https, its last word the base URL.
    let (mut child, _) = serve_with(
        dir.path(),
        "served.db",
        &[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ],
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line}"
    );

    // One flag alone: clap's usage error (exit 2).
    let (child, path) = serve_with(
        dir.path(),
        "alone.db",
        &["--tls-cert".as_ref(), cert.as_os_str()],
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    assert!(!path.exists());

    // The key as the certificate: an error naming the file, and no database made.
    let (child, path) = serve_with(
        dir.path(),
        "refused.db",
        &[
            "--tls-cert".as_ref(),
            key.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ],
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("holds no certificate") && stderr.contains(&key.display().to_string()),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!path.exists());
}
