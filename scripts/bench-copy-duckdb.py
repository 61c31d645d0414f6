#!/usr/bin/env python3
"""COPY of 1M objects × 32 channels, tensormap against DuckDB on the same rows
(BENCHMARKS.md "COPY"):

- the size of tensormap's Parquet file against the file DuckDB writes for the same rows
  (DuckDB reading tensormap's file and writing it again: its default, snappy, and zstd;
  with and without the geometry column);
- DuckDB's own `CREATE TABLE t AS SELECT * FROM read_parquet(...)` on tensormap's file
  (its COPY FROM into a table), on 2 threads, against `tmap`'s `COPY map FROM` of the same
  file (the whole statement: reading, checking, the durable commit);
- both durable, each in a fresh process, in turn: `tmap`'s whole process against DuckDB's
  CREATE TABLE AS into a new database file (connect to close).

    /tmp/venv-interop/bin/python scripts/bench-copy-duckdb.py [path/to/release/tmap]
"""

import os
import subprocess
import sys
import tempfile
import time

import duckdb

N = int(os.environ.get("COPY_BENCH_ROWS", 1_000_000))
TMAP = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/tmap")


def tmap_timed(db, sql):
    """Runs `sql` in tmap with the shell's timer; returns the statement times in seconds."""
    r = subprocess.run([TMAP, db, "-c", ".timer on\n" + sql], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr)
    # The shell prints "Run Time: 123.456 ms" after each statement.
    times = [float(line.split()[2]) / 1e3 for line in r.stdout.splitlines() if line.startswith("Run Time:")]
    return times, r.stdout


def main():
    work = tempfile.mkdtemp(prefix="tmap-copy-bench-")
    os.chdir(work)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SELECT setseed(0.15)")
    con.execute(f"""COPY (SELECT printf('obj%07d', i) AS id, 'cube' AS type,
        (random() * 1000 - 500)::FLOAT AS x, (random() * 1000 - 500)::FLOAT AS y,
        (random() * 1000 - 500)::FLOAT AS z,
        [(random() * 2 - 1)::FLOAT FOR k IN range(32)] AS embedding, 1::FLOAT AS confidence
        FROM range({N}) t(i)) TO 'gen.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    db = os.path.join(work, "db")
    times = []
    for run in range(3):
        t, _ = tmap_timed(db, f"CREATE MAP m{run};\nCOPY m{run} FROM 'gen.parquet';\n")
        times.append(t[-1] if t else float("nan"))
    print(f"tmap COPY FROM (gen.parquet, {N} rows): {times} s")
    t, _ = tmap_timed(db, "COPY m0 TO 'ours.parquet';\nCOPY m0 TO 'ours.parquet';\nCOPY m0 TO 'ours.parquet';\n")
    print(f"tmap COPY TO: {t} s")
    ours = os.path.getsize("ours.parquet")
    cols = "id, type, x, y, z, embedding, confidence"
    sizes = {}
    for name, sel, opts in [
        ("duckdb default (snappy), same columns", cols, "FORMAT parquet"),
        ("duckdb zstd, same columns", cols, "FORMAT parquet, COMPRESSION zstd"),
        ("duckdb zstd, + geometry", "*", "FORMAT parquet, COMPRESSION zstd"),
        ("duckdb default (snappy), + geometry", "*", "FORMAT parquet"),
    ]:
        f = "duck.parquet"
        con.execute(f"COPY (SELECT {sel} FROM read_parquet('ours.parquet')) TO '{f}' ({opts})")
        sizes[name] = os.path.getsize(f)
    print(f"tensormap's file: {ours} bytes ({ours / N:.1f} a row)")
    for k, v in sizes.items():
        print(f"  {k}: {v} bytes; tensormap ÷ DuckDB = {ours / v:.3f}")
    ddb = []
    for run in range(3):
        con.execute("DROP TABLE IF EXISTS t")
        start = time.perf_counter()
        con.execute("CREATE TABLE t AS SELECT * FROM read_parquet('ours.parquet')")
        ddb.append(time.perf_counter() - start)
    print(f"DuckDB CREATE TABLE t AS SELECT * FROM read_parquet (2 threads, in memory): {ddb} s")
    best = min(x for x in times if x == x) if times else float("nan")
    print(f"ratio tmap COPY FROM ÷ DuckDB: {best / min(ddb):.2f}")
    durable_fresh(work)


# DuckDB's side of the durable comparison, run in a process of its own: the clock starts
# before the database file is created and stops once it is closed (the commit's WAL and
# the checkpoint written and synced), so Python's start and `import duckdb` are left out.
DUCK_CHILD = """
import sys, time, duckdb
t = time.perf_counter()
con = duckdb.connect(sys.argv[1])
con.execute("SET threads = 2")
con.execute("CREATE TABLE t AS SELECT * FROM read_parquet('ours.parquet')")
con.close()
print(time.perf_counter() - t)
"""


def durable_fresh(work, runs=5):
    """Both loads durable, each in a fresh process, taken in turn: `tmap DB -c "CREATE MAP
    m; COPY m FROM 'ours.parquet'"` (the whole process: start, open, the statement, the
    durable commit, close) against DuckDB's CREATE TABLE AS SELECT from the same file into
    a new database file (connect to close, 2 threads)."""
    ours, theirs = [], []
    for run in range(runs):
        db = os.path.join(work, f"fresh{run}")
        start = time.perf_counter()
        r = subprocess.run([TMAP, db, "-c", "CREATE MAP m;\nCOPY m FROM 'ours.parquet';\n"],
                           capture_output=True, text=True)
        ours.append(time.perf_counter() - start)
        if r.returncode != 0:
            sys.exit(r.stderr)
        r = subprocess.run([sys.executable, "-c", DUCK_CHILD, os.path.join(work, f"fresh{run}.duckdb")],
                           capture_output=True, text=True, check=True)
        theirs.append(float(r.stdout.split()[-1]))
    print(f"durable, fresh processes, in turn: tmap COPY FROM {[round(x, 3) for x in ours]} s; "
          f"DuckDB CREATE TABLE AS into a file {[round(x, 3) for x in theirs]} s")
    print(f"ratio (best ÷ best) tmap ÷ DuckDB: {min(ours) / min(theirs):.2f}; "
          f"(median ÷ median): {sorted(ours)[runs // 2] / sorted(theirs)[runs // 2]:.2f}")


if __name__ == "__main__":
    main()
