#!/usr/bin/env python3
"""The shell against SQLite's R*Tree, per statement, on the same points (BENCHMARKS.md,
"The shell against SQLite").

tensormap: the map loaded as a user would (`tmap DB -f load.tql`, INSERTs of 1,000 rows),
then query scripts of `--queries` and of a tenth as many statements in new `tmap`
processes (`--format csv`); the figure per statement is the difference of the two wall
times over the difference of their lengths, best of `--reps` (start-up and open cancel
out). SQLite: the same points in an R*Tree table of a database file, queried through
Python's sqlite3 in one process, the same centres, timed the same way (a loop of the long
count against one of the short count).

Queries (scripts/bench-steady.py's): `SELECT COUNT(*) ... WHERE WITHIN(position, c, r)`
with r holding ~100 points, and `SELECT id ... ORDER BY DISTANCE(position, c) LIMIT 10`.
SQLite answers the first with the bounding box in the R*Tree and the exact distance in
the WHERE clause, the second with growing boxes (benches/common/sqlite.rs's method: the
cube expected to hold 2k points, widened until the k-th distance fits inside it),
returning the 10 integer row ids.

    scripts/bench-shell-sqlite.py target/release/tmap [--objects 200000] [--queries 20000]
"""

import argparse
import importlib.util
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

_spec = importlib.util.spec_from_file_location(
    "bench_steady", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-steady.py")
)
steady = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(steady)


def centres(count, seed=5):
    """The centres of bench-steady.py's query scripts, in the same order."""
    rng = random.Random(seed)
    return [tuple(float(f"{rng.uniform(-450, 450):.2f}") for _ in range(3)) for _ in range(count)]


def points(n, seed=1):
    """The positions of bench-steady.py's rows, read from the rows' text (as tmap reads
    them: two decimals)."""
    out = []
    for _, row in steady.rows(n, seed):
        inside = row[row.index("[") + 1:row.index("]")]
        out.append(tuple(float(v) for v in inside.split(",")))
    return out


def load_sqlite(path, pts):
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE points USING rtree(id, min_x, max_x, min_y, max_y, min_z, max_z)")
    db.executemany(
        "INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((i, x, x, y, y, z, z) for i, (x, y, z) in enumerate(pts)),
    )
    db.commit()
    return db


RADIUS_SQL = """SELECT COUNT(*) FROM points
 WHERE max_x >= ?1 - ?4 AND min_x <= ?1 + ?4 AND max_y >= ?2 - ?4 AND min_y <= ?2 + ?4
   AND max_z >= ?3 - ?4 AND min_z <= ?3 + ?4
   AND (min_x - ?1) * (min_x - ?1) + (min_y - ?2) * (min_y - ?2) + (min_z - ?3) * (min_z - ?3) <= ?4 * ?4"""

BOX_SQL = """SELECT id, min_x, min_y, min_z FROM points
 WHERE max_x >= ?1 - ?4 AND min_x <= ?1 + ?4 AND max_y >= ?2 - ?4 AND min_y <= ?2 + ?4
   AND max_z >= ?3 - ?4 AND min_z <= ?3 + ?4"""


def nearest(db, c, k, density):
    x, y, z = c
    h = (3.0 * 2.0 * k / (4.0 * math.pi * density)) ** (1 / 3)
    while True:
        hits = [
            ((px - x) ** 2 + (py - y) ** 2 + (pz - z) ** 2, i)
            for i, px, py, pz in db.execute(BOX_SQL, (x, y, z, h))
        ]
        if len(hits) < k:
            h *= 2.0
            continue
        hits.sort()
        kth = math.sqrt(hits[k - 1][0])
        if kth <= h:
            return [i for _, i in hits[:k]]
        h = kth


def sqlite_per_statement(db, kind, cs_long, cs_short, radius, density, reps):
    def run(cs):
        start = time.perf_counter()
        if kind == "radius":
            for c in cs:
                db.execute(RADIUS_SQL, (*c, radius)).fetchone()
        else:
            for c in cs:
                nearest(db, c, 10, density)
        return time.perf_counter() - start

    longs, shorts = [], []
    for _ in range(reps):
        longs.append(run(cs_long))
        shorts.append(run(cs_short))
    return (min(longs) - min(shorts)) / (len(cs_long) - len(cs_short))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tmap")
    ap.add_argument("--objects", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-shell-sqlite-")
    n = args.objects
    radius = 28.8 * (1_000_000 / n) ** (1 / 3)
    q_long, q_short = args.queries, max(1, args.queries // 10)
    try:
        load = os.path.join(work, "load.tql")
        steady.write_load(load, n, "small")
        db = os.path.join(work, "tmap.db")
        took = steady.run(args.tmap, db, load)
        print(f"tmap: {n} objects loaded by INSERTs of 1,000 rows in {took:.1f} s", flush=True)
        pts = points(n)
        start = time.perf_counter()
        sq = load_sqlite(os.path.join(work, "sqlite.db"), pts)
        print(f"SQLite: the same points in an R*Tree in {time.perf_counter() - start:.1f} s", flush=True)
        density = n / 1000.0**3
        cs_long, cs_short = centres(q_long), centres(q_short)
        hits = [sq.execute(RADIUS_SQL, (*c, radius)).fetchone()[0] for c in cs_short[:200]]
        print(f"radius {radius:.2f}: {sum(hits) / len(hits):.0f} hits a query on average", flush=True)
        # Both sides answer the same: the counts of the first 50 radius queries.
        check = os.path.join(work, "check.tql")
        steady.write_queries(check, "radius", 50, radius)
        out = subprocess.run([args.tmap, db, "--format", "csv", "-f", check], check=True,
                             capture_output=True, text=True).stdout.split()
        ours = [int(v) for v in out if v.isdigit()]
        theirs = [sq.execute(RADIUS_SQL, (*c, radius)).fetchone()[0] for c in centres(50)]
        # SQLite's R*Tree keeps f32 boxes rounded outwards, so a point at the sphere's
        # edge may fall on either side: allow a count to differ by one, now and then.
        same = sum(a == b for a, b in zip(ours, theirs))
        if len(ours) != 50 or any(abs(a - b) > 1 for a, b in zip(ours, theirs)) or same < 45:
            raise SystemExit(f"the radius counts differ: tmap {ours}, SQLite {theirs}")
        for kind in ("radius", "nearest"):
            long_s = os.path.join(work, f"{kind}-{q_long}.tql")
            short_s = os.path.join(work, f"{kind}-{q_short}.tql")
            steady.write_queries(long_s, kind, q_long, radius)
            steady.write_queries(short_s, kind, q_short, radius)
            ours = steady.per_statement(args.tmap, db, long_s, short_s, q_long, q_short, args.reps)
            theirs = sqlite_per_statement(sq, kind, cs_long, cs_short, radius, density, args.reps)
            print(f"{kind}: tmap {ours * 1e6:.2f} µs, SQLite (Python sqlite3) {theirs * 1e6:.2f} µs "
                  f"a statement: tensormap {theirs / ours:.1f}× faster", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
