"""Does the page size explain why attention over an in-memory map reads slower than NumPy?
(BENCHMARKS.md, Python, "Issue 30, third pass".)

In one process, 1M × 32 float32 embeddings, the CPU time of one summing pass on the threads
attention uses (`_bench_read_bound` / `_bench_map_bound`) over:
- NumPy's array (NumPy advises large arrays onto transparent huge pages);
- the same bytes copied with that advice off (4 KiB pages);
- the in-memory map's own embeddings after `db.insert` (the heap the engine allocated);
and attention itself. `AnonHugePages` of the process is printed after each allocation.

    python benches/pages.py
"""

import os
import statistics
import time

import numpy as np

import tensormap
from tensormap import _tensormap as native

try:
    from numpy._core.multiarray import _set_madvise_hugepage
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import _set_madvise_hugepage


def huge_pages():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("AnonHugePages"):
                return line.split()[1] + " kB"
    return "?"


def cpu_ms(f, calls=10, repeat=7):
    runs = []
    for _ in range(repeat):
        c = time.process_time()
        f()
        runs.append((time.process_time() - c) / calls * 1e3)
    return statistics.median(runs)


def main(n=1_000_000, channels=32):
    rng = np.random.default_rng(3)
    pos = rng.uniform(-480, 480, size=(n, 3)).astype(np.float32)
    emb = rng.normal(size=(n, channels)).astype(np.float32)
    print("AnonHugePages after NumPy's arrays:", huge_pages())
    _set_madvise_hugepage(False)
    small_pages = emb.copy()
    _set_madvise_hugepage(True)
    print("after a copy with NumPy's huge-page advice off:", huge_pages())
    db = tensormap.connect()
    db.create_map("scene", channels=channels)
    db.insert("scene", [f"obj_{i}" for i in range(n)], "cube", pos, emb)
    db.voxels("scene", [0.0, 0.0, 0.0], 1.0)  # waits for the field update
    native._wait_for_merges(db)
    print("after the insert:", huge_pages())
    q = rng.normal(size=channels).astype(np.float32)
    print("CPU ms per pass (median of 7 loops of 10)")
    for _ in range(4):
        a = cpu_ms(lambda: native._bench_read_bound(emb, 10))
        b = cpu_ms(lambda: native._bench_read_bound(small_pages, 10))
        c = cpu_ms(lambda: native._bench_map_bound(db, "scene", 10))
        d = cpu_ms(lambda: [db.attention("scene", q, 10) for _ in range(10)])
        print(f"NumPy's array (huge pages) {a:.2f} | the same bytes, 4 KiB pages {b:.2f} | "
              f"the map's memory {c:.2f} | attention {d:.2f} | load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
