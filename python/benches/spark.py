"""Benchmarks of tensormap.spark (BENCHMARKS.md, section "Spark").

On Spark's local[2], for n = 250k, 500k and 1M objects (uniform in the cube, 8 channels,
seeded; a depth-3 export, 512 cells): a distance join of the map with 50,000 probes
(r = 4) and one kNN (k = 10), each three ways —

- tensormap.spark (``distance_join(...).count()``, ``nearest``);
- one tensormap database in this process (``within_many`` over the probes; ``nearest``),
  with its load (bulk insert) timed apart;
- plain Spark SQL on the same Parquet: the join as a cell-key equi-join (cells of side r,
  each probe exploded to its 27 neighbouring cells) filtered by distance; kNN as
  ``ORDER BY distance LIMIT k`` over every row.

tensormap.spark and plain Spark SQL are timed in turn (a warm-up round, then five rounds;
medians), so that the shared machine's changing load falls on both alike. Spark's fixed
cost is measured as the time of ``spark.range(1).count()`` (a job that does nothing). Run with the package installed in a virtual environment with pyspark:

    python benches/spark.py              # about 10 minutes; --sizes 250000 for one size
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

import tensormap
import tensormap.spark as tms
from tensormap import _tensormap

CHANNELS = 8
BOUNDS = 500.0
PROBES = 50_000
RADIUS = 4.0
K = 10


def timed(f, runs=3):
    """Median wall seconds of ``runs`` calls, and the last result."""
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def alternated(fs, runs=5):
    """Median wall seconds of ``runs`` calls of each of ``fs``, taken in turn (one warm-up
    round first), so that a machine's changing load falls on all of them alike; and each
    one's last result."""
    for f in fs:
        f()
    times, outs = [[] for _ in fs], [None] * len(fs)
    for _ in range(runs):
        for i, f in enumerate(fs):
            t = time.perf_counter()
            outs[i] = f()
            times[i].append(time.perf_counter() - t)
    return [statistics.median(t) for t in times], outs


def export(root, n, rng):
    db = tensormap.connect()
    pos = rng.uniform(-490, 490, size=(n, 3)).astype(np.float32)
    emb = rng.normal(size=(n, CHANNELS)).astype(np.float32)
    db.create_map("scene", resolution=16, channels=CHANNELS, bounds=BOUNDS, splat_radius=0)
    t = time.perf_counter()
    db.insert("scene", [f"o{i}" for i in range(n)], "t", pos, emb)
    load = time.perf_counter() - t
    probes = rng.uniform(-490, 490, size=(PROBES, 3)).astype(np.float32)
    db.create_map("probes", resolution=16, channels=CHANNELS, bounds=BOUNDS, splat_radius=0)
    db.insert(
        "probes", [f"p{i}" for i in range(PROBES)], "p", probes, np.zeros((PROBES, CHANNELS), np.float32)
    )
    for m in ("scene", "probes"):
        db.execute(f"COPY {m} TO '{root}/{m}-{n}' WITH (partition_by = 'octree', depth = 3)")
    return db, probes, load


def plain_join(spark, scene, probes, r):
    from pyspark.sql import functions as F

    def keyed(df):
        return df.select(
            "id",
            "x",
            "y",
            "z",
            F.floor(F.col("x") / r).alias("kx"),
            F.floor(F.col("y") / r).alias("ky"),
            F.floor(F.col("z") / r).alias("kz"),
        )

    left = keyed(scene)
    offsets = spark.createDataFrame(
        [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)], "dx int, dy int, dz int"
    )
    right = (
        keyed(probes)
        .crossJoin(F.broadcast(offsets))
        .select(
            F.col("id").alias("rid"),
            F.col("x").alias("rx"),
            F.col("y").alias("ry"),
            F.col("z").alias("rz"),
            (F.col("kx") + F.col("dx")).alias("kx"),
            (F.col("ky") + F.col("dy")).alias("ky"),
            (F.col("kz") + F.col("dz")).alias("kz"),
        )
    )
    d = F.sqrt((F.col("x") - F.col("rx")) ** 2 + (F.col("y") - F.col("ry")) ** 2 + (F.col("z") - F.col("rz")) ** 2)
    return left.join(right, ["kx", "ky", "kz"]).where(d <= r).count()


def plain_knn(scene, p, k):
    from pyspark.sql import functions as F

    d = F.sqrt((F.col("x") - p[0]) ** 2 + (F.col("y") - p[1]) ** 2 + (F.col("z") - p[2]) ** 2)
    return scene.select("id", d.alias("d")).orderBy("d", "id").limit(k).collect()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="250000,500000,1000000")
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    t = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "4g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.range(1).count()
    print(f"Spark session start: {time.perf_counter() - t:.1f} s")
    empty, _ = timed(lambda: spark.range(1).count(), runs=5)
    print(f"an empty job (spark.range(1).count()): {empty * 1000:.0f} ms")
    root = tempfile.mkdtemp(prefix="tms-bench-")
    rng = np.random.default_rng(28)
    point = [3.0, -7.0, 11.0]
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            db, probes, load = export(root, n, rng)
            scene = tms.read(spark, f"{root}/scene-{n}")
            right = tms.read(spark, f"{root}/probes-{n}")
            one_join, (q, _, _) = timed(lambda: _tensormap.within_many(db, "scene", probes, RADIUS), runs=3)
            one_knn, _ = timed(lambda: db.nearest("scene", point, K), runs=5)
            (tm_join, sql_join), (pairs, pairs2) = alternated(
                [
                    lambda: tms.distance_join(scene, right, RADIUS).count(),
                    lambda: plain_join(spark, scene, right, RADIUS),
                ]
            )
            (tm_knn, sql_knn), _ = alternated(
                [lambda: tms.nearest(scene, point, K), lambda: plain_knn(scene, point, K)]
            )
            assert pairs == pairs2 == len(q), (pairs, pairs2, len(q))
            print(
                f"n={n}: pairs {pairs}; join: tensormap.spark {tm_join:.2f} s, plain Spark SQL "
                f"{sql_join:.2f} s, one database {one_join * 1000:.0f} ms (+ load {load:.2f} s); "
                f"kNN: tensormap.spark {tm_knn:.2f} s, plain Spark SQL {sql_knn:.2f} s, "
                f"one database {one_knn * 1e6:.0f} µs",
                flush=True,
            )
            db.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
        spark.stop()


if __name__ == "__main__":
    main()
