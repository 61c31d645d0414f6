//! Heap allocations per statement of a script, counted on the shell's own path (reading
//! the script, parsing, planning, running, printing csv) by a counting global allocator
//! of this test binary (its one test, so nothing else allocates meanwhile). The figures
//! are BENCHMARKS.md's ("TensorQL"); the bounds keep them from creeping back up.

use std::io::Write;

use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use tensormap::Database;

use crate::print::Format;
use crate::{Outcome, Shell};

// The only test of this binary, so no other test allocates while it counts.
#[global_allocator]
static COUNTING: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Allocations so far (reallocations count as allocations).
fn allocations() -> u64 {
    let s = COUNTING.stats();
    (s.allocations + s.reallocations) as u64
}

/// A shell writing csv into a sink, on a map of `n` objects in one segment (as
/// `scripts/bench-shell-sqlite.py` loads them, checkpointed).
fn shell(n: usize) -> (tempfile::TempDir, Shell) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Database::open(dir.path().join("db")).expect("open");
    let mut sql = String::from("CREATE MAP big WITH (channels = 4);\n");
    for chunk in 0..n / 1000 {
        sql.push_str("INSERT INTO big (id, type, position, embedding, confidence) VALUES ");
        for i in chunk * 1000..(chunk + 1) * 1000 {
            let f = |k: usize| ((i * 7919 + k * 104_729) % 100_000) as f64 / 100.0 - 500.0;
            if i > chunk * 1000 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('o{i:07}', 'cube', [{:.2}, {:.2}, {:.2}], [0.1, 0.2, 0.3, 0.4], 0.5)",
                f(1),
                f(2),
                f(3)
            ));
        }
        sql.push_str(";\n");
    }
    db.execute(&sql).expect("load");
    db.checkpoint().expect("checkpoint");
    let shell = Shell {
        db,
        format: Format::Csv,
        timer: false,
        out: std::io::BufWriter::with_capacity(1 << 16, Box::new(std::io::sink())),
        interactive: false,
    };
    (dir, shell)
}

/// Allocations per statement of `statement(i)`, as the difference of a script of 1,100
/// statements and one of 100 over 1,000 (reading, start and the first statements' caches
/// cancel out).
fn per_statement(shell: &mut Shell, statement: impl Fn(usize) -> String) -> f64 {
    let script = |n: usize| -> String { (0..n).map(&statement).collect() };
    let mut count = |text: String| {
        let before = allocations();
        assert_eq!(shell.run(text.as_bytes(), None, 0), Outcome::Done);
        shell.out.flush().expect("flush");
        allocations() - before
    };
    let (long, short) = (script(1100), script(100));
    let (a, b) = (count(long), count(short));
    (a as f64 - b as f64) / 1000.0
}

fn centre(i: usize) -> String {
    let c = |k: usize| ((i * 31 + k * 17) % 900) as f64 - 450.0 + 0.25;
    format!("[{:.2}, {:.2}, {:.2}]", c(0), c(1), c(2))
}

#[test]
fn allocations_per_statement_stay_few() {
    let (_dir, mut shell) = shell(20_000);
    let nearest = per_statement(&mut shell, |i| {
        format!(
            "SELECT id FROM big ORDER BY DISTANCE(position, {}) LIMIT 10;\n",
            centre(i)
        )
    });
    let radius = per_statement(&mut shell, |i| {
        format!(
            "SELECT COUNT(*) FROM big WHERE WITHIN(position, {}, 40.00);\n",
            centre(i)
        )
    });
    eprintln!("allocations a statement: nearest-10 {nearest:.1}, radius COUNT(*) {radius:.1}");
    // 72.1 and 47.0 on 2026-12-06 (BENCHMARKS.md, "TensorQL").
    assert!(
        nearest <= 75.0,
        "nearest: {nearest} allocations a statement"
    );
    assert!(radius <= 50.0, "radius: {radius} allocations a statement");
}
