"""The insert of BENCHMARKS.md's issue 30: one ``db.insert`` of N objects × 32 channels
from NumPy (default 1M), into a database in memory and into one on disk (durable when the
call returns), timed wall and CPU (the process's, every thread: a bulk commit's field
update starts on a thread of its own before the call returns). The field update is then
waited for (one voxel read) and timed on its own.

    python benches/insert.py            # --n 100000, --where memory|disk|both, --runs 3, --pause 3
"""

import argparse
import gc
import os
import shutil
import tempfile
import time

import numpy as np

import tensormap

CHANNELS = 32


def data(n, seed=3):
    # The data of typed.py: uniform positions in the default bounds, normal embeddings.
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-480, 480, size=(n, 3)).astype(np.float32)
    embeddings = rng.normal(size=(n, CHANNELS)).astype(np.float32)
    ids = [f"obj_{i}" for i in range(n)]
    return positions, embeddings, ids


def one(n, path, cols):
    positions, embeddings, ids = cols
    db = tensormap.connect(path)
    db.create_map("scene", channels=CHANNELS)
    gc.collect()
    w, c = time.perf_counter(), time.process_time()
    db.insert("scene", ids, "cube", positions, embeddings)
    insert = (time.perf_counter() - w, time.process_time() - c)
    w, c = time.perf_counter(), time.process_time()
    db.voxels("scene", [0.0, 0.0, 0.0], 1.0)
    field = (time.perf_counter() - w, time.process_time() - c)
    db.close()
    return insert, field


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--where", choices=["memory", "disk", "both"], default="both")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0, help="seconds to wait before the inserts")
    args = ap.parse_args()
    cols = data(args.n)
    if args.pause:
        # For `perf record -p`: the data is made, the inserts start after the pause.
        print(f"ready {os.getpid()}", flush=True)
        time.sleep(args.pause)
    places = ["memory", "disk"] if args.where == "both" else [args.where]
    for _ in range(args.runs):
        for where in places:
            tmp = tempfile.mkdtemp(prefix="tm-insert-") if where == "disk" else None
            try:
                (iw, ic), (fw, fc) = one(args.n, f"{tmp}/db" if tmp else None, cols)
            finally:
                if tmp:
                    shutil.rmtree(tmp, ignore_errors=True)
            print(
                f"{where:6} insert {iw:.3f} s wall {ic:.3f} s CPU = {args.n / iw / 1e6:.2f}M/s "
                f"({args.n / ic / 1e6:.2f}M/s CPU); field after {fw:.3f} s ({fc:.3f} s CPU)",
                flush=True,
            )


if __name__ == "__main__":
    main()
