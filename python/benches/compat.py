"""Benchmarks through Python (BENCHMARKS.md, section "Python").

On the same 100k objects (32 channels, seeded): the seed's TensorMap3D ported to NumPy
(tests/seed_numpy.py) against tensormap.compat.TensorMap3D — embed_object, query_region
(r = 100) and spatial_attention over that region — then a bulk ``db.insert`` of 1M objects
with embeddings (in memory and on disk), and the typed reads on those 1M objects.

Run it against a release build of the package:

    cd python && maturin build --release --locked -o dist && pip install dist/tensormap-*.whl
    python benches/compat.py            # about 2 minutes; --quick for a smaller run

Each figure is the median of several runs (the count is printed beside it).
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
from seed_numpy import SeedTensorMap3D  # noqa: E402
from tensormap.compat import TensorMap3D  # noqa: E402

CHANNELS = 32


def timed(f, repeat):
    """Median seconds of `repeat` calls of f, and f's last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


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


def compat_vs_seed(n, queries):
    positions, embeddings, types = data(n, 1)
    rows = []

    seed = SeedTensorMap3D()
    t = time.perf_counter()
    for i in range(n):
        seed.embed_object(positions[i], embeddings[i], types[i])
    seed_embed = time.perf_counter() - t

    ours = TensorMap3D()
    t = time.perf_counter()
    for i in range(n):
        ours.embed_object(positions[i], embeddings[i], types[i])
    ours_embed = time.perf_counter() - t
    rows.append((f"embed_object × {n:,} (one call per object)", seed_embed, ours_embed, 1))

    bulk = TensorMap3D(name="bulk")
    t = time.perf_counter()
    bulk.embed_objects(positions, embeddings, types)
    bulk_embed = time.perf_counter() - t
    rows.append((f"the same {n:,} objects, compat `embed_objects` (one bulk call)", seed_embed, bulk_embed, 1))

    rng = np.random.default_rng(2)
    centers = rng.uniform(-400, 400, size=(queries, 3))
    q = rng.normal(size=CHANNELS).astype(np.float32)

    def regions(tm):
        return [tm.query_region(tuple(c), 100) for c in centers]

    seed_q, seed_regions = timed(lambda: regions(seed), 3)
    ours_q, ours_regions = timed(lambda: regions(ours), 3)
    cells = statistics.mean(len(r[1]) for r in ours_regions)
    rows.append((f"query_region r = 100 (≈ {cells:.0f} cells), per call", seed_q / queries, ours_q / queries, 3))
    for (p1, i1), (p2, i2) in zip(seed_regions, ours_regions):
        assert i1 == i2 and np.allclose(p1, p2, rtol=1e-4, atol=1e-4)

    def attention(tm, regs):
        return [tm.spatial_attention(q, idx) for _, idx in regs]

    seed_a, w1 = timed(lambda: attention(seed, seed_regions), 3)
    # The compat class keeps the field values of the region it returned last; these index
    # lists are not that one, so every call reads the cells' values from the engine.
    ours_a, w2 = timed(lambda: attention(ours, ours_regions), 3)
    for a, b in zip(w1, w2):
        assert np.allclose(a, b, rtol=1e-3, atol=1e-6)
    rows.append(("spatial_attention over a region (any index list), per call", seed_a / queries, ours_a / queries, 3))

    # The seed's usage: a region, then attention over the indices it returned.
    def both_calls(tm):
        out = []
        for c in centers:
            _, idx = tm.query_region(tuple(c), 100)
            out.append(tm.spatial_attention(q, idx))
        return out

    seed_b, _ = timed(lambda: both_calls(seed), 3)
    ours_b, _ = timed(lambda: both_calls(ours), 3)
    rows.append(("query_region, then spatial_attention on its indices, per pair", seed_b / queries, ours_b / queries, 3))
    return rows


def bulk_insert(n, path):
    positions, embeddings, _ = data(n, 3)
    ids = [f"obj_{i}" for i in range(n)]
    db = tensormap.connect(path)
    db.create_map("scene", channels=CHANNELS)
    t = time.perf_counter()
    db.insert("scene", ids, "cube", positions, embeddings)
    took = time.perf_counter() - t
    return db, took, (positions, embeddings, ids)


def typed_reads(db, positions, embeddings, ids):
    rng = np.random.default_rng(4)
    rows = []
    n = len(ids)
    # ~100 hits: the sphere holding 100 of n uniform points in the 960³ cube.
    r = (100 / n * 960**3 * 3 / (4 * np.pi)) ** (1 / 3)
    centers = rng.uniform(-400, 400, size=(200, 3)).astype(np.float32)
    t, _ = timed(lambda: [db.within("scene", c, r) for c in centers], 3)
    rows.append((f"db.within, ≈ 100 hits of {n:,} (r = {r:.1f})", t / len(centers)))
    t, _ = timed(lambda: [db.nearest("scene", c, 10) for c in centers], 3)
    rows.append((f"db.nearest, k = 10 of {n:,}", t / len(centers)))
    q = rng.normal(size=CHANNELS).astype(np.float32)
    t, _ = timed(lambda: db.attention("scene", q, 10), 5)
    rows.append((f"db.attention top 10 over {n:,} × {CHANNELS}", t))
    # The same attention in NumPy on the same arrays, for scale.

    def numpy_attention():
        s = embeddings @ q / np.sqrt(CHANNELS)
        w = np.exp(s - s.max())
        w /= w.sum()
        top = np.argpartition(-w, 10)[:10]
        return top[np.argsort(-w[top])]

    t, _ = timed(numpy_attention, 5)
    rows.append((f"NumPy: the same attention (matmul, softmax, argpartition)", t))
    t, _ = timed(lambda: db.execute("SELECT id FROM scene WHERE WITHIN(position, ?, ?)", [centers[0], r]).fetchall(), 50)
    rows.append(("db.execute of the same radius query with ? parameters, fetchall", t))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10k objects and 100k for the bulk insert")
    args = ap.parse_args()
    n = 10_000 if args.quick else 100_000
    big = 100_000 if args.quick else 1_000_000
    queries = 50 if args.quick else 200

    print(f"tensormap {tensormap.__version__}, NumPy {np.__version__}, Python {sys.version.split()[0]}")
    print()
    print(f"## Seed (NumPy port) vs tensormap.compat.TensorMap3D, {n:,} objects × {CHANNELS}")
    print("| operation | seed in NumPy | compat on the engine | seed time / compat time |")
    print("|---|---|---|---|")
    for name, a, b, _ in compat_vs_seed(n, queries):
        print(f"| {name} | {fmt(a)} | {fmt(b)} | {a / b:.2f}× |")

    print()
    print(f"## Bulk db.insert of {big:,} objects × {CHANNELS} (one call, one transaction)")
    print("| database | time | objects/s |")
    print("|---|---|---|")
    db, took, arrays = bulk_insert(big, None)
    print(f"| in memory | {fmt(took)} | {big / took / 1e6:.2f}M |")
    reads = typed_reads(db, *arrays)
    db.close()
    tmp = tempfile.mkdtemp(prefix="tmap-bench-")
    try:
        ddb, took, _ = bulk_insert(big, os.path.join(tmp, "bench.db"))
        ddb.close()
        print(f"| on disk (durable commit) | {fmt(took)} | {big / took / 1e6:.2f}M |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"## Typed reads through Python on the {big:,} objects (in memory)")
    print("| call | time per call |")
    print("|---|---|")
    for name, t in reads:
        print(f"| {name} | {fmt(t)} |")


if __name__ == "__main__":
    main()
