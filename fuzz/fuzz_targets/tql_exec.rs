//! TensorQL executed, not only parsed: arbitrary text run statement by statement through the
//! facade (`Database::execute_iter`) against an in-memory database made once per process —
//! map `m` (4 channels, 300 objects of 5 types), map `n` (2 channels, 40 objects) and a tiny
//! V-LLM `mm` (so `m_embed`, `m_score`, `m_generate` exist) — with a statement timeout
//! (250 ms) and a memory limit (64 MiB) set on the connection, so that runaway statements
//! end with an error.
//!
//! Statements that touch files (COPY, SNAPSHOT, RESTORE, RENDER … TO, LOAD / SAVE MODEL),
//! the other model statements (CREATE / TRAIN / DROP MODEL: their cost is set by their
//! options, not by the limits) and SET / RESET (which would lift the limits) are not run:
//! an input holding one is skipped, by the parsed statement's kind.
//!
//! Checks: no panic, no unbounded allocation; a statement that fails leaves every map as it
//! was (count and a digest of every object's id, type, position, embedding and confidence,
//! as the connection sees them: inside its open `BEGIN` too). After each input an open
//! `BEGIN` is rolled back and, if the maps changed, the database is made again, so every
//! input starts from the same state.
//!
//! `TENSORMAP_FUZZ_DEBUG=1` prints each statement's outcome (to check what seeds reach).
#![no_main]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tensormap::query::ast::{ModelStatement, Statement};
use tensormap::{Database, Value};

#[path = "common/fixture.rs"]
mod fixture;

/// At most this many statements of an input are run.
const MAX_STATEMENTS: usize = 16;

fn make() -> Database {
    let db = fixture::database(300, 40);
    db.set_limits(Some(Duration::from_millis(250)), Some(64 << 20));
    db
}

/// The maps as the connection sees them: names, and per map the count and an
/// order-independent digest of its objects.
fn digest(db: &Database) -> Vec<(String, usize, u64)> {
    let shown = db.execute("SHOW MAPS").expect("SHOW MAPS");
    let mut names: Vec<String> = shown[0]
        .rows
        .iter()
        .map(|r| match &r[0] {
            Value::Text(s) => s.to_string(),
            other => panic!("a map name {other:?}"),
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let (n, sum) = db
                .read_map(&name, |v| {
                    let mut sum = 0u64;
                    for o in v.objects() {
                        let mut h = DefaultHasher::new();
                        o.id().hash(&mut h);
                        o.kind().hash(&mut h);
                        o.position().map(f32::to_bits).hash(&mut h);
                        for e in o.embedding() {
                            e.to_bits().hash(&mut h);
                        }
                        o.confidence().to_bits().hash(&mut h);
                        sum = sum.wrapping_add(h.finish());
                    }
                    Ok((v.len(), sum))
                })
                .expect("a map SHOW MAPS lists reads");
            (name, n, sum)
        })
        .collect()
}

struct Fixture {
    db: Database,
    start: Vec<(String, usize, u64)>,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let db = make();
        let start = digest(&db);
        Mutex::new(Fixture { db, start })
    })
}

/// Whether `TENSORMAP_FUZZ_DEBUG` is set.
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("TENSORMAP_FUZZ_DEBUG").is_some())
}

/// Whether the statement may run here (see the module header).
fn allowed(s: &Statement) -> bool {
    if s.touches_files() {
        return false;
    }
    match s {
        Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => allowed(inner),
        Statement::Model(m) => matches!(m, ModelStatement::Show),
        Statement::Set { .. } | Statement::Reset { .. } => false,
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = tensormap::query::parse_script(text) else {
        return;
    };
    if parsed.is_empty()
        || parsed.len() > MAX_STATEMENTS
        || !parsed.iter().all(|p| allowed(&p.statement))
    {
        return;
    }
    let mut f = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let mut before = digest(&f.db);
    let mut in_txn = f.db.in_transaction();
    let mut steps = f.db.execute_iter(text);
    for p in &parsed {
        let Some(result) = steps.next() else { break };
        if debug() {
            eprintln!("{} → {:?}", p.statement, result.as_ref().map(|r| &r.status));
        }
        let after = digest(&f.db);
        let now_in_txn = f.db.in_transaction();
        if result.is_err() && in_txn == now_in_txn && !matches!(p.statement, Statement::Commit) {
            assert_eq!(
                after, before,
                "a failed statement changed the maps: {} → {:?}",
                p.statement, result
            );
        }
        before = after;
        in_txn = now_in_txn;
    }
    drop(steps);
    if f.db.in_transaction() {
        f.db.execute("ROLLBACK").expect("rollback");
    }
    if digest(&f.db) != f.start {
        f.db = make();
    }
});
