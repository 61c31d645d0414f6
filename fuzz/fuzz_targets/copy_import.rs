//! `COPY m FROM 'file'` on arbitrary bytes, for each of its formats: the first byte picks
//! Parquet, CSV or JSON Lines (`% 3`), the rest is the file, written to a file of this
//! process (reused: each input overwrites it) and imported through a TensorQL session with
//! the interop crate's formats, into an in-memory map of 4 channels, inside `BEGIN` …
//! `ROLLBACK` so that every input starts from the same empty map.
//!
//! Checks: no panic, no unbounded allocation; an import that succeeds says `COPY n` and the
//! map then holds exactly n objects; one that fails leaves the map empty. Seeded with small
//! files the project exported itself (`COPY m TO`, `fuzz/seeds/copy_import/`, made by
//! `examples/make_seeds.rs`).
//!
//! `TENSORMAP_FUZZ_DEBUG=1` prints what each COPY gave (to check what seeds reach).
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use tensormap_engine::{Database, Value};
use tensormap_query::Session;

const EXTENSIONS: [&str; 3] = ["parquet", "csv", "json"];

struct Fixture {
    session: Session,
    dir: PathBuf,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tensormap-fuzz-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the folder");
        let mut session = Session::new(Database::open_in_memory().expect("in-memory database"));
        session.set_copy_formats(Some(Arc::new(tensormap_interop::Interop)));
        session
            .execute("CREATE MAP m WITH (channels = 4, bounds = 100)")
            .expect("create the map");
        Mutex::new(Fixture { session, dir })
    })
}

fn count(s: &mut Session) -> f64 {
    let r = s.execute("SELECT COUNT(*) FROM m").expect("count");
    match r[0].rows[0][0] {
        Value::Number(n) => n,
        ref other => panic!("COUNT(*) gave {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let mut f = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let ext = EXTENSIONS[pick as usize % EXTENSIONS.len()];
    let path = f.dir.join(format!("in.{ext}"));
    std::fs::write(&path, file).expect("write the input");
    let s = &mut f.session;
    s.execute("BEGIN").expect("begin");
    let copy = format!("COPY m FROM '{}'", path.display());
    let result = s.execute(&copy);
    if std::env::var_os("TENSORMAP_FUZZ_DEBUG").is_some() {
        eprintln!("{ext}: {:?}", result.as_ref().map(|r| &r[0].status));
    }
    match result {
        Ok(r) => {
            let n: f64 = r[0]
                .status
                .strip_prefix("COPY ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("status {:?}", r[0].status));
            assert_eq!(count(s), n, "COPY said {n} rows");
        }
        Err(_) => assert_eq!(count(s), 0.0, "a failed COPY left rows"),
    }
    s.execute("ROLLBACK").expect("rollback");
});
