#!/usr/bin/env python3
"""The steady state through the shell, in fresh processes: load a map with `tmap DB -f
load.tql` in one of several patterns, then run query scripts in new processes right
after, against the same data loaded in one INSERT (one segment).

    scripts/bench-steady.py target/release/tmap [--objects 200000] [--queries 20000]
        [--patterns small,bulk,copy,deletes] [--baseline OTHER_TMAP] [--keep DIR]

Patterns (each a script of INSERTs in the format of scripts/gen-inserts, 32 channels):
small = INSERTs of 1,000 rows; bulk = INSERTs of 10k; copy = INSERTs of 100k; deletes =
INSERTs of 5k, each followed by a DELETE of 1,000 ids of earlier rows. The reference is
the same live rows in one INSERT.

Queries: `SELECT COUNT(*) ... WHERE WITHIN(position, c, r)` with r holding ~100 of the
objects, and `SELECT id ... ORDER BY DISTANCE(position, c) LIMIT 10`, each in a script of
`--queries` statements and in one of a tenth as many; the figure per statement is the
difference of the two wall times over the difference of their lengths (start-up and
open cancel out). Every process is a new one, started right after the load's process
exited (the load's close is part of the load's time). Prints one line per figure.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

KINDS = ["cube", "sphere", "cone", "torus"]


def rows(n, seed):
    rng = random.Random(seed)
    for i in range(n):
        p = ", ".join(f"{rng.uniform(-500, 500):.2f}" for _ in range(3))
        e = ", ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(32))
        yield i, f"('o{i:07d}', '{KINDS[i % 4]}', [{p}], [{e}], {rng.randint(0, 100) / 100})"


def insert(out, batch):
    out.write("INSERT INTO big (id, type, position, embedding, confidence) VALUES\n")
    out.write(",\n".join(batch))
    out.write(";\n")


def write_load(path, n, pattern, seed=1):
    """Writes the load script of `pattern`; returns the ids it leaves live."""
    per = {"small": 1000, "bulk": 10_000, "copy": 100_000, "deletes": 5000, "one": n}[pattern]
    rng = random.Random(seed + 1)
    live = []
    with open(path, "w") as out:
        out.write("CREATE MAP big WITH (channels = 32);\n")
        batch = []
        for i, row in rows(n, seed):
            batch.append(row)
            if len(batch) == per or i == n - 1:
                insert(out, batch)
                start = i + 1 - len(batch)
                batch = []
                if pattern == "deletes":
                    doomed = []
                    for _ in range(min(1000, len(live))):
                        doomed.append(live.pop(rng.randrange(len(live))))
                    if doomed:
                        ids = ", ".join(f"'o{j:07d}'" for j in doomed)
                        out.write(f"DELETE FROM big WHERE id IN ({ids});\n")
                    live.extend(range(start, i + 1))
                else:
                    live.extend(range(start, i + 1))
    return sorted(live)


def write_one(path, n, keep, seed=1):
    """The rows `keep` of the same data in one INSERT (one segment)."""
    keep = set(keep)
    with open(path, "w") as out:
        out.write("CREATE MAP big WITH (channels = 32);\n")
        insert(out, [row for i, row in rows(n, seed) if i in keep])


def write_queries(path, kind, count, radius, seed=5):
    rng = random.Random(seed)
    with open(path, "w") as out:
        for _ in range(count):
            c = ", ".join(f"{rng.uniform(-450, 450):.2f}" for _ in range(3))
            if kind == "radius":
                out.write(f"SELECT COUNT(*) FROM big WHERE WITHIN(position, [{c}], {radius:.2f});\n")
            else:
                out.write(f"SELECT id FROM big ORDER BY DISTANCE(position, [{c}]) LIMIT 10;\n")


def run(tmap, db, script):
    start = time.perf_counter()
    subprocess.run([tmap, db, "--format", "csv", "-f", script], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def per_statement(tmap, db, long_script, short_script, long_n, short_n, reps=5):
    # Long and short alternate, `reps` times; the best of each (other processes on a
    # shared machine only ever add time).
    longs, shorts = [], []
    for _ in range(reps):
        longs.append(run(tmap, db, long_script))
        shorts.append(run(tmap, db, short_script))
    return (min(longs) - min(shorts)) / (long_n - short_n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tmap")
    ap.add_argument("--objects", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=20_000)
    ap.add_argument("--patterns", default="small,bulk,copy,deletes")
    ap.add_argument("--baseline", help="another tmap to load and query the same way")
    ap.add_argument("--keep", help="folder for the scripts and databases (else a temporary one)")
    args = ap.parse_args()
    work = args.keep or tempfile.mkdtemp(prefix="bench-steady-")
    os.makedirs(work, exist_ok=True)
    n = args.objects
    radius = 28.8 * (1_000_000 / n) ** (1 / 3)
    q_long, q_short = args.queries, max(1, args.queries // 10)
    scripts = {}
    for kind in ("radius", "nearest"):
        for count in (q_long, q_short):
            p = os.path.join(work, f"{kind}-{count}.tql")
            write_queries(p, kind, count, radius)
            scripts[(kind, count)] = p
    tmaps = [("tmap", args.tmap)] + ([("baseline", args.baseline)] if args.baseline else [])
    for pattern in args.patterns.split(","):
        load = os.path.join(work, f"load-{pattern}.tql")
        live = write_load(load, n, pattern)
        one = os.path.join(work, f"one-{pattern}.tql")
        write_one(one, n, live)
        for label, tmap in tmaps:
            for what, script in ((pattern, load), ("one segment", one)):
                db = os.path.join(work, f"{label}-{pattern}-{what.replace(' ', '_')}.db")
                shutil.rmtree(db, ignore_errors=True)
                took = run(tmap, db, script)
                figures = [f"{label} {n} {what:>12} (load {pattern}): load {took:6.2f} s"]
                for kind in ("radius", "nearest"):
                    t = per_statement(tmap, db, scripts[(kind, q_long)], scripts[(kind, q_short)],
                                      q_long, q_short)
                    figures.append(f"{kind} {t * 1e6:6.2f} µs")
                print("; ".join(figures), flush=True)
                shutil.rmtree(db, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
