"""Benchmarks of the typed API through Python (BENCHMARKS.md, section "Python").

On 1M seeded objects × 32 channels put in with one ``db.insert`` — in memory, and on disk
right after the insert and again after a reopen — each call is timed against its peer in
the same process:

- ``within``, ``nearest``, ``execute`` (+ ``fetchall``): against the same Rust call looped
  in Rust by the extension's bench hooks (``_bench_within`` ...: the function the method
  runs with the GIL released, without Python in between), so the ratio is the binding's
  cost; the CPU time of the whole process beside the wall time shows whether a second
  thread worked during the call.
- ``attention``: against NumPy on the same arrays and the memory-bandwidth bound (every
  embedding read once and summed, on the threads the engine's attention uses) — over
  NumPy's array, and over the map's own memory where attention reads them (the bound the
  engine's ``attention_states`` bench uses).
- ``fetchnumpy`` / ``to_arrow`` of 1M rows: GB/s of the arrays they return.
- the insert itself: objects/s.

Background work of the engine (a bulk insert's field update, which runs on its own
thread after the commit, and the background merger's merges) is waited for before the
reads are timed, and timed on its own.

    cd python && maturin build --release --locked -o dist && pip install dist/tensormap-*.whl
    python benches/typed.py            # ≈ 1 minute; --quick: 100k objects
"""

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

import tensormap
from tensormap import _tensormap as native

CHANNELS = 32


def clock():
    return time.perf_counter(), time.process_time()


def since(start):
    """(wall, CPU) seconds since `start` (a `clock()`)."""
    w, c = clock()
    return w - start[0], c - start[1]


def per_call(f, calls, repeat=5):
    """Median (wall, CPU) seconds per call over `repeat` runs of f (which makes `calls` calls)."""
    runs = []
    for _ in range(repeat):
        t = clock()
        f()
        runs.append(since(t))
    return statistics.median(r[0] for r in runs) / calls, statistics.median(r[1] for r in runs) / calls


def fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def wc(t):
    return f"{fmt(t[0])} ({fmt(t[1])})"


def data(n, seed=3):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-480, 480, size=(n, 3)).astype(np.float32)
    embeddings = rng.normal(size=(n, CHANNELS)).astype(np.float32)
    ids = [f"obj_{i}" for i in range(n)]
    return positions, embeddings, ids


def wait_for_field(db):
    """Returns once a bulk insert's background work is done: the field update (a read of
    one cell waits for it) and the merges of the engine's background merger."""
    db.voxels("scene", [0.0, 0.0, 0.0], 1.0)
    native._wait_for_merges(db)


def small_reads(db, n, out):
    """within / nearest / execute+fetchall against the Rust call (hooks), per call."""
    rng = np.random.default_rng(4)
    # ≈ 100 hits: the sphere holding 100 of n uniform points in the 960³ cube.
    r = float((100 / n * 960**3 * 3 / (4 * np.pi)) ** (1 / 3))
    centers = rng.uniform(-400, 400, size=(200, 3)).astype(np.float32)
    rows = [tuple(c) for c in centers]
    m = len(centers)

    def py_within():
        for c in rows:
            db.within("scene", c, r)

    def py_nearest():
        for c in rows:
            db.nearest("scene", c, 10)

    sql = "SELECT id FROM scene WHERE WITHIN(position, ?, ?)"
    params = [[c, r] for c in centers]

    def py_execute():
        for p in params:
            db.execute(sql, p)

    def py_fetchall():
        for p in params:
            db.execute(sql, p).fetchall()

    hits = statistics.mean(len(db.within("scene", c, r)[0]) for c in rows)
    assert native._bench_within(db, "scene", centers, r) == len(db.within("scene", rows[-1], r)[0])
    within = per_call(py_within, m)
    within_rust = per_call(lambda: native._bench_within(db, "scene", centers, r), m)
    nearest = per_call(py_nearest, m)
    nearest_rust = per_call(lambda: native._bench_nearest(db, "scene", centers, 10), m)
    execute = per_call(py_execute, m)
    execute_rust = per_call(lambda: native._bench_execute(db, sql, params), m)
    fetchall = per_call(py_fetchall, m)
    out.append((f"within, ≈ {hits:.0f} hits (r = {r:.1f})", within, within_rust))
    out.append(("nearest, k = 10", nearest, nearest_rust))
    out.append(("execute (radius query with ? parameters)", execute, execute_rust))
    out.append(("execute + fetchall", fetchall, execute_rust))
    return within


def attention(db, embeddings, out, where):
    rng = np.random.default_rng(5)
    q = rng.normal(size=CHANNELS).astype(np.float32)
    calls = 10

    def ours():
        for _ in range(calls):
            db.attention("scene", q, 10)

    def numpy_attention():
        for _ in range(calls):
            s = embeddings @ q / np.sqrt(CHANNELS)
            w = np.exp(s - s.max())
            w /= w.sum()
            top = np.argpartition(-w, 10)[:10]
            top[np.argsort(-w[top])]

    # The oracle: the same top 10 as NumPy's.
    s = embeddings.astype(np.float64) @ q / np.sqrt(CHANNELS)
    ids, _ = db.attention("scene", q, 10)
    assert set(ids) == {f"obj_{i}" for i in np.argsort(-s)[:10]}, where
    t_ours = per_call(ours, calls)
    t_rust = per_call(lambda: native._bench_attention(db, "scene", q, 10, calls), calls)
    t_np = per_call(numpy_attention, calls)
    t_bound = per_call(lambda: native._bench_read_bound(embeddings, calls), calls)
    t_map = None
    if hasattr(native, "_bench_map_bound"):  # not in wheels before it
        t_map = per_call(lambda: native._bench_map_bound(db, "scene", calls), calls)
    out.append((where, t_ours, t_rust, t_np, t_bound, t_map))


def fetch(db, n, out):
    """fetchnumpy / to_arrow of every row: GB/s of the arrays returned."""
    for cols, nbytes in (("position, embedding", n * (3 + CHANNELS) * 4), ("id", None)):
        r = db.execute(f"SELECT {cols} FROM scene")
        t_np = per_call(r.fetchnumpy, 1, repeat=3)
        arrays = r.fetchnumpy()
        if nbytes is None:
            nbytes = sum(len(s) for s in arrays["id"])  # the text's bytes
        try:
            import pyarrow  # noqa: F401

            t_arrow = per_call(r.to_arrow, 1, repeat=3)
        except ImportError:
            t_arrow = None
        out.append((cols, n, nbytes, t_np, t_arrow))


def run(n, path, quick):
    positions, embeddings, ids = data(n)
    db = tensormap.connect(path)
    db.create_map("scene", channels=CHANNELS)
    gc.collect()
    t = clock()
    db.insert("scene", ids, "cube", positions, embeddings)
    insert = since(t)
    t = clock()
    wait_for_field(db)
    field = since(t)
    reads, att, fetched = [], [], []
    where = "on disk" if path else "in memory"
    within = small_reads(db, n, reads)
    attention(db, embeddings, att, f"{where}, after the insert")
    if path:
        db.close()
        db = tensormap.connect(path)
        attention(db, embeddings, att, f"{where}, after a reopen")
    if not path:
        fetch(db, n, fetched)
    db.close()
    return insert, field, reads, att, fetched, within


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100k objects")
    args = ap.parse_args()
    n = 100_000 if args.quick else 1_000_000
    print(f"tensormap {tensormap.__version__}, NumPy {np.__version__}, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} at the start; wall (CPU of the process, all threads)")
    tmp = tempfile.mkdtemp(prefix="tmap-bench-")
    try:
        results = [("in memory", run(n, None, args.quick)),
                   ("on disk", run(n, os.path.join(tmp, "bench.db"), args.quick))]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n## db.insert of {n:,} objects × {CHANNELS} from NumPy (one call, durable on disk)")
    print("| database | insert | objects/s | then the background work (field update, merges) |")
    print("|---|---|---|---|")
    for where, (insert, field, *_rest) in results:
        print(f"| {where} | {wc(insert)} | {n / insert[0] / 1e6:.2f}M ({n / insert[1] / 1e6:.2f}M) | {wc(field)} |")

    print("\n## Small reads, per call: Python against the same Rust call in the same process")
    print("| database | call | Python | Rust (hook) | Python ÷ Rust, wall (CPU) | CPU ÷ wall (Python) |")
    print("|---|---|---|---|---|---|")
    for where, (_, _, reads, _, _, within) in results:
        for name, py, rust in reads:
            print(f"| {where} | {name} | {wc(py)} | {wc(rust)} | {py[0] / rust[0]:.2f}× ({py[1] / rust[1]:.2f}×) "
                  f"| {py[1] / py[0]:.2f} |")
        fetchall = reads[-1][1]
        print(f"| {where} | execute + fetchall ÷ within | | | {fetchall[0] / within[0]:.2f}× ({fetchall[1] / within[1]:.2f}×) | |")

    print(f"\n## attention top 10 over {n:,} × {CHANNELS}, per call")
    print("| database | Python | Rust (hook) | NumPy | bound (NumPy's array) | Python ÷ bound "
          "| bound (the map's memory) | Python ÷ it | NumPy ÷ Python |")
    print("|---|---|---|---|---|---|---|---|---|")
    for _, (_, _, _, att, _, _) in results:
        for where, ours, rust, np_, bound, mbound in att:
            m = f"{wc(mbound)} | {ours[0] / mbound[0]:.2f}×" if mbound else "— | —"
            print(f"| {where} | {wc(ours)} | {wc(rust)} | {wc(np_)} | {wc(bound)} | {ours[0] / bound[0]:.2f}× "
                  f"| {m} | {np_[0] / ours[0]:.2f}× |")

    print(f"\n## fetchnumpy / to_arrow of {n:,} rows (in memory)")
    print("| columns | bytes | fetchnumpy | GB/s | to_arrow | GB/s |")
    print("|---|---|---|---|---|---|")
    for cols, rows, nbytes, t_np, t_arrow in results[0][1][4]:
        arrow = f"{wc(t_arrow)} | {nbytes / t_arrow[0] / 1e9:.2f}" if t_arrow else "— | —"
        print(f"| {cols} | {nbytes / 1e6:.0f} MB | {wc(t_np)} | {nbytes / t_np[0] / 1e9:.2f} | {arrow} |")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
