"""execute(radius query with ?).fetchall() against db.within, ≈ 100 hits of 1M objects in memory
(BENCHMARKS.md, Python, "Issue 30, fourth pass"): wall and CPU µs per call (CPU in brackets),
median of 7 loops of 200 queries, one line per round.

    python benches/fetchall.py [ROUNDS]    # default 3
"""
import os
import statistics
import sys
import time

import numpy as np

import tensormap
from tensormap import _tensormap as native


def per_call(f, calls, repeat=7):
    w, c = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        w.append((time.perf_counter() - t0) / calls * 1e6)
        c.append((time.process_time() - c0) / calls * 1e6)
    return statistics.median(w), statistics.median(c)


def main():
    n = 1_000_000
    rng = np.random.default_rng(3)
    pos = rng.uniform(-480, 480, size=(n, 3)).astype(np.float32)
    emb = rng.normal(size=(n, 32)).astype(np.float32)
    db = tensormap.connect()
    db.create_map("scene", channels=32)
    db.insert("scene", [f"obj_{i}" for i in range(n)], "cube", pos, emb)
    db.voxels("scene", [0.0, 0.0, 0.0], 1.0)
    native._wait_for_merges(db)
    rng = np.random.default_rng(4)
    r = float((100 / n * 960**3 * 3 / (4 * np.pi)) ** (1 / 3))
    centers = rng.uniform(-400, 400, size=(200, 3)).astype(np.float32)
    rows = [tuple(c) for c in centers]
    sql = "SELECT id FROM scene WHERE WITHIN(position, ?, ?)"
    params = [[c, r] for c in centers]
    assert sorted(db.execute(sql, params[0]).fetchall()) == sorted((i,) for i in db.within("scene", rows[0], r)[0])
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        wi = per_call(lambda: [db.within("scene", c, r) for c in rows], 200)
        ex = per_call(lambda: [db.execute(sql, p) for p in params], 200)
        fa = per_call(lambda: [db.execute(sql, p).fetchall() for p in params], 200)
        print(f"within {wi[0]:.1f} ({wi[1]:.1f}) us | execute {ex[0]:.1f} ({ex[1]:.1f}) | execute+fetchall {fa[0]:.1f} ({fa[1]:.1f}) | "
              f"fetchall/within wall {fa[0]/wi[0]:.2f}x CPU {fa[1]/wi[1]:.2f}x | load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
