"""Benchmarks through Python (BENCHMARKS.md, section "Python").

On the same 100k objects (32 channels, seeded): the reference NumPy implementation of
TensorMap3D (tests/reference_numpy.py) against tensormap.compat.TensorMap3D — embed_object, query_region
(r = 100) and spatial_attention over that region — then a bulk ``db.insert`` of 1M objects
with embeddings (in memory and on disk), and the typed reads on those 1M objects.

Run it against a release build of the package:

    cd python && maturin build --release --locked -o dist && pip install dist/tensormap-*.whl
    python benches/compat.py            # about 2 minutes; --quick for a smaller run

Figures are wall time with the process's CPU time (all its threads) in brackets;
per-call figures are the median of 3 runs of a loop of calls.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

import tensormap  # noqa: E402
from reference_numpy import ReferenceTensorMap3D  # noqa: E402
from tensormap.compat import TensorMap3D  # noqa: E402

CHANNELS = 32


# CPU seconds of this process (all its threads) per timed call, beside the wall time: on a
# shared machine the wall time grows with the load, the CPU time of one thread does not.
CPU = {}


def timed(f, repeat):
    """Median wall seconds of `repeat` calls of f, and f's last result; the median CPU
    seconds go to CPU[f]."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = f()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[f] = statistics.median(cpu)
    return statistics.median(times), out


def each(items, f):
    """Calls f on every item, keeping no answer."""
    for x in items:
        f(x)


def once(f):
    """Wall and CPU seconds of one call of f."""
    t, c = time.perf_counter(), time.process_time()
    f()
    return time.perf_counter() - t, time.process_time() - c


def fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def data(n, seed):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-480, 480, size=(n, 3)).astype(np.float32)
    embeddings = rng.normal(size=(n, CHANNELS)).astype(np.float32)
    types = [("cube", "sphere", "pyramid")[i % 3] for i in range(n)]
    return positions, embeddings, types


def compat_vs_reference(n, queries):
    positions, embeddings, types = data(n, 1)
    rows = []

    ref = ReferenceTensorMap3D()

    def reference_embed_all():
        for i in range(n):
            ref.embed_object(positions[i], embeddings[i], types[i])

    reference_embed = once(reference_embed_all)

    ours = TensorMap3D()

    def ours_embed_all():
        for i in range(n):
            ours.embed_object(positions[i], embeddings[i], types[i])
        ours.flush()  # every object stored

    ours_embed = once(ours_embed_all)
    rows.append((f"embed_object × {n:,} (one call per object, then stored)", reference_embed, ours_embed))

    bulk = TensorMap3D(name="bulk")
    bulk_embed = once(lambda: bulk.embed_objects(positions, embeddings, types))
    rows.append((f"the same {n:,} objects, compat `embed_objects` (one bulk call)", reference_embed, bulk_embed))

    rng = np.random.default_rng(2)
    centers = rng.uniform(-400, 400, size=(queries, 3))
    q = rng.normal(size=CHANNELS).astype(np.float32)

    def regions(tm):
        return [tm.query_region(tuple(c), 100) for c in centers]

    reference_q, reference_regions = per_call(lambda: regions(ref), queries)
    ours_q, ours_regions = per_call(lambda: regions(ours), queries)
    cells = statistics.mean(len(r[1]) for r in ours_regions)
    rows.append((f"query_region r = 100 (≈ {cells:.0f} cells), per call", reference_q, ours_q))
    for (p1, i1), (p2, i2) in zip(reference_regions, ours_regions):
        assert i1 == i2 and np.allclose(p1, p2, rtol=1e-4, atol=1e-4)

    def attention(tm, regs):
        return [tm.spatial_attention(q, idx) for _, idx in regs]

    reference_a, w1 = per_call(lambda: attention(ref, reference_regions), queries)
    # The compat class keeps the field values of the region it returned last; these index
    # lists are not that one, so every call reads the cells' values from the engine.
    ours_a, w2 = per_call(lambda: attention(ours, ours_regions), queries)
    for a, b in zip(w1, w2):
        assert np.allclose(a, b, rtol=1e-3, atol=1e-6)
    rows.append(("spatial_attention over a region (any index list), per call", reference_a, ours_a))

    # The prototype's usage: a region, then attention over the indices it returned.
    def both_calls(tm):
        out = []
        for c in centers:
            _, idx = tm.query_region(tuple(c), 100)
            out.append(tm.spatial_attention(q, idx))
        return out

    reference_b, _ = per_call(lambda: both_calls(ref), queries)
    ours_b, _ = per_call(lambda: both_calls(ours), queries)
    rows.append(("query_region, then spatial_attention on its indices, per pair", reference_b, ours_b))
    return rows


def per_call(f, calls):
    """(wall, CPU) seconds per call of a loop of `calls` calls (median of 3 runs), and its result."""
    wall, out = timed(f, 3)
    return (wall / calls, CPU[f] / calls), out


def bulk_insert(n, path):
    positions, embeddings, _ = data(n, 3)
    ids = [f"obj_{i}" for i in range(n)]
    db = tensormap.connect(path)
    db.create_map("scene", channels=CHANNELS)
    took = once(lambda: db.insert("scene", ids, "cube", positions, embeddings))
    return db, took, (positions, embeddings, ids)


def typed_reads(db, positions, embeddings, ids):
    rng = np.random.default_rng(4)
    rows = []
    n = len(ids)
    # ~100 hits: the sphere holding 100 of n uniform points in the 960³ cube.
    r = (100 / n * 960**3 * 3 / (4 * np.pi)) ** (1 / 3)
    centers = rng.uniform(-400, 400, size=(200, 3)).astype(np.float32)
    # The loops drop each answer at once: answers kept alive would be promoted by Python's
    # garbage collector, whose full collections then walk the 1M ids held here (that, not
    # tensormap, would dominate the figures).
    t, _ = per_call(lambda: each(centers, lambda c: db.within("scene", c, r)), len(centers))
    rows.append((f"db.within, ≈ 100 hits of {n:,} (r = {r:.1f})", t))
    t, _ = per_call(lambda: each(centers, lambda c: db.nearest("scene", c, 10)), len(centers))
    rows.append((f"db.nearest, k = 10 of {n:,}", t))
    q = rng.normal(size=CHANNELS).astype(np.float32)
    t, _ = per_call(lambda: [db.attention("scene", q, 10) for _ in range(5)], 5)
    rows.append((f"db.attention top 10 over {n:,} × {CHANNELS}", t))
    # The same attention in NumPy on the same arrays, for scale.

    def numpy_attention():
        s = embeddings @ q / np.sqrt(CHANNELS)
        w = np.exp(s - s.max())
        w /= w.sum()
        top = np.argpartition(-w, 10)[:10]
        return top[np.argsort(-w[top])]

    t, _ = per_call(lambda: [numpy_attention() for _ in range(5)], 5)
    rows.append(("NumPy: the same attention (matmul, softmax, argpartition)", t))
    sql = "SELECT id FROM scene WHERE WITHIN(position, ?, ?)"
    t, _ = per_call(lambda: each(centers, lambda c: db.execute(sql, [c, r]).fetchall()), len(centers))
    rows.append(("db.execute of the same radius queries with ? parameters, fetchall", t))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k objects and 100k for the bulk insert")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    big = 100_000 if args.quick else 1_000_000
    queries = 50 if args.quick else 200

    print(f"tensormap {tensormap.__version__}, NumPy {np.__version__}, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    print()
    print(f"## Seed (NumPy port) vs tensormap.compat.TensorMap3D, {n:,} objects × {CHANNELS}")
    print("| operation | reference in NumPy: wall (CPU) | compat on the engine: wall (CPU) | reference / compat, wall (CPU) |")
    print("|---|---|---|---|")
    for name, (aw, ac), (bw, bc) in compat_vs_reference(n, queries):
        print(f"| {name} | {fmt(aw)} ({fmt(ac)}) | {fmt(bw)} ({fmt(bc)}) | {aw / bw:.2f}× ({ac / bc:.2f}×) |")

    print()
    print(f"## Bulk db.insert of {big:,} objects × {CHANNELS} (one call, one transaction)")
    print("| database | wall (CPU) | objects/s, wall (CPU) |")
    print("|---|---|---|")
    db, (tw, tc), arrays = bulk_insert(big, None)
    print(f"| in memory | {fmt(tw)} ({fmt(tc)}) | {big / tw / 1e6:.2f}M ({big / tc / 1e6:.2f}M) |")
    reads = typed_reads(db, *arrays)
    db.close()
    tmp = tempfile.mkdtemp(prefix="tmap-bench-")
    try:
        ddb, (tw, tc), _ = bulk_insert(big, os.path.join(tmp, "bench.db"))
        ddb.close()
        print(f"| on disk (durable commit) | {fmt(tw)} ({fmt(tc)}) | {big / tw / 1e6:.2f}M ({big / tc / 1e6:.2f}M) |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"## Typed reads through Python on the {big:,} objects (in memory)")
    print("| call | per call: wall (CPU, all threads) |")
    print("|---|---|")
    for name, (w, c) in reads:
        print(f"| {name} | {fmt(w)} ({fmt(c)}) |")
    print()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
