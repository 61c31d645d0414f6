"""tensormap.spark against one database holding the same objects (the oracle), on Spark's
local[2]: 200,000 objects in 57 occupied cells of a depth-2 export, two dense clusters (one
across the 8 cells around the origin, one inside one cell, split KDB-style into pieces).

Needs pyspark and Java. Without Java the module is skipped with a loud message — unless
TENSORMAP_REQUIRE_SPARK is set (scripts/check-spark.sh sets it), when it fails.
"""

import json
import os
import shutil
import sys

import numpy as np
import pytest

import tensormap

pyspark = pytest.importorskip("pyspark", reason="tensormap.spark tests need pyspark")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import tensormap.spark as tms  # noqa: E402
from tensormap._spark_layout import Layout, LayoutError  # noqa: E402

if shutil.which("java") is None:
    message = "!!! tensormap.spark tests SKIPPED: no Java on PATH (Spark needs a JVM, 17+) !!!"
    if os.environ.get("TENSORMAP_REQUIRE_SPARK"):
        pytest.fail(message.replace("SKIPPED", "cannot run"), pytrace=False)
    print(message, file=sys.stderr)
    pytest.skip(message, allow_module_level=True)

N_UNIFORM = 130_000
N_A = 40_000  # a Gaussian cluster at the origin: across the 8 cells around it
N_B = 30_000  # a Gaussian cluster inside one cell: split into pieces
CHANNELS = 4
BOUNDS = 500.0
DEPTH = 2
MAX_ROWS = 8_000
JOIN_RADIUS = 2.0


def _objects(rng):
    u = rng.uniform(-490, 490, size=(N_UNIFORM * 2, 3))
    # Leave the cell of (-400, -400, -400) empty (the corner octant of depth 2).
    u = u[~np.all(u < -250, axis=1)][:N_UNIFORM]
    a = rng.normal(0.5, 8.0, size=(N_A, 3))
    b = rng.normal([125, 125, -125], 10.0, size=(N_B, 3))
    pos = np.concatenate([u, a, b]).astype(np.float32)
    n = len(pos)
    ids = [f"o{i}" for i in range(n)]
    types = [("cube", "ball", "ring")[i % 3] for i in range(n)]
    emb = (rng.normal(size=(n, CHANNELS)) * 2).astype(np.float32)
    conf = rng.uniform(0, 1, size=n).astype(np.float32)
    return ids, types, pos, emb, conf


def _probes(rng):
    a = rng.normal(0.5, 10.0, size=(2000, 3))
    b = rng.normal([125, 125, -125], 12.0, size=(2000, 3))
    u = rng.uniform(-490, 490, size=(2000, 3))
    # Probes on the cell planes (x, y or z = -250, 0 or 250).
    edge = rng.uniform(-490, 490, size=(600, 3))
    edge[np.arange(600), rng.integers(0, 3, 600)] = rng.choice([-250.0, 0.0, 250.0], 600)
    pos = np.concatenate([a, b, u, edge]).astype(np.float32)
    ids = [f"p{i}" for i in range(len(pos))]
    return ids, pos


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The oracle database (maps scene, probes, narrow) and their exports."""
    rng = np.random.default_rng(28)
    root = tmp_path_factory.mktemp("spark")
    db = tensormap.connect()
    db.create_map("scene", resolution=16, channels=CHANNELS, bounds=BOUNDS, splat_radius=1)
    ids, types, pos, emb, conf = _objects(rng)
    db.insert("scene", ids, types, pos, emb, conf)
    pids, ppos = _probes(rng)
    db.create_map("probes", resolution=16, channels=CHANNELS, bounds=BOUNDS, splat_radius=1)
    db.insert("probes", pids, "probe", ppos, np.zeros((len(pids), CHANNELS), np.float32))
    db.create_map("narrow", resolution=16, channels=3, bounds=BOUNDS)
    db.insert("narrow", ["n0", "n1"], "x", np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32))
    out = {}
    for name, extra in [("scene", f", max_rows_per_file = {MAX_ROWS}"), ("probes", ""), ("narrow", "")]:
        path = root / name
        db.execute(
            f"COPY {name} TO '{path}' WITH (partition_by = 'octree', depth = {DEPTH}{extra})"
        )
        out[name] = str(path)
    plain = root / "plain"
    plain.mkdir()
    db.execute(f"COPY scene TO '{plain / 'scene.parquet'}'")
    out["plain"] = str(plain)
    return db, out, (ids, pos, emb), (pids, ppos)


@pytest.fixture(scope="module")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    s = (
        SparkSession.builder.master("local[2]")
        .appName("tensormap-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def scene(spark, world):
    return tms.read(spark, world[1]["scene"])


# -- the export --------------------------------------------------------------------------------


def test_export_layout_manifest_and_covering(world):
    _, out, (ids, pos, _), _ = world
    lay = Layout.parse(open(os.path.join(out["scene"], "_tensormap.json")).read())
    assert lay.rows == len(ids) and lay.depth == DEPTH and lay.channels == CHANNELS
    assert len(lay.cells) >= 8
    assert all(f["rows"] <= MAX_ROWS for f in lay.files)
    split = [c for c in lay.cells if len(c["files"]) > 1]
    assert split, "the dense cell was not split"
    # Every file's rows route (by the manifest, in NumPy) to that file; its bbox covers them.
    seen = 0
    for i, f in enumerate(lay.files):
        t = pq.read_table(os.path.join(out["scene"], f["path"]))
        p = np.stack([t.column(a).to_numpy() for a in "xyz"], axis=1)
        assert (lay.piece_of(p) == i).all(), f["path"]
        assert np.allclose(p.min(axis=0), f["bbox"][:3]) and np.allclose(p.max(axis=0), f["bbox"][3:])
        assert (lay.cell_of(p) == f["cell"]).all()
        seen += t.num_rows
        geo = json.loads(t.schema.metadata[b"geo"])
        cover = geo["columns"]["geometry"]["covering"]["bbox"]
        assert cover["zmax"] == ["bbox", "zmax"]
        bb = t.column("bbox").combine_chunks()
        assert np.array_equal(bb.field("xmin").to_numpy(), p[:, 0])
        assert np.array_equal(bb.field("zmax").to_numpy(), p[:, 2])
        meta = pq.ParquetFile(os.path.join(out["scene"], f["path"])).metadata
        assert all(meta.row_group(g).num_rows <= 8192 for g in range(meta.num_row_groups))
    assert seen == len(ids)


# -- queries against the oracle -----------------------------------------------------------------


def _pairs(t, value):
    return list(zip(t.column("id").to_pylist(), t.column(value).to_pylist()))


@pytest.mark.parametrize(
    "center, radius",
    [
        ([0, 0, 0], 15.0),  # the corner of 8 cells, in a cluster
        ([250, 0.0, -3], 30.0),  # across a cell plane
        ([125, 125, -125], 4.0),  # inside the split cell: across its pieces
        ([-400, -400, -400], 60.0),  # an empty cell: nothing
        ([-240, -240, -240], 30.0),  # reaching from occupied cells into the empty one
    ],
)
def test_within_matches_one_database(world, scene, center, radius):
    db = world[0]
    ids, dist = db.within("scene", center, radius)
    got = tms.within(scene, center, radius)
    assert got.column("id").to_pylist() == ids
    assert np.array_equal(got.column("distance").to_numpy(), dist)


@pytest.mark.parametrize(
    "point, k",
    [
        ([0, 0, 0], 50),
        ([250, 250, 250], 20),  # a corner shared by 8 cells
        ([249.999, 0.0001, -250], 10),  # just off a corner
        ([-400, -400, -400], 10),  # in the empty cell
        ([125, 125, -125], 100),  # in the split cell
        ([490, -490, 490], 1),
    ],
)
def test_nearest_matches_one_database(world, scene, point, k):
    db = world[0]
    ids, dist = db.nearest("scene", point, k)
    got = tms.nearest(scene, point, k)
    assert np.array_equal(got.column("distance").to_numpy(), dist)
    # Ties at the same distance may list in either order; below the k-th distance, the ids.
    assert sorted(got.column("id").to_pylist()) == sorted(ids)


@pytest.mark.parametrize("region", [None, ([0, 0, 0], 40.0), ([125, 125, -125], 6.0)])
def test_attention_matches_one_database(world, scene, region):
    db = world[0]
    q = np.array([0.7, -1.2, 0.4, 0.9], np.float32)
    if region is None:
        ids, w = db.attention("scene", q, 10)
    else:
        ids, w = db.attention("scene", q, 10, center=region[0], radius=region[1])
    got = tms.attention(scene, q, 10, region=region)
    assert got.column("id").to_pylist() == ids
    assert np.allclose(got.column("weight").to_numpy(), w, rtol=1e-4, atol=1e-9)


def _join_oracle(db, pids, ppos):
    want = []
    for pid, p in zip(pids, ppos):
        ids, dist = db.within("scene", p, JOIN_RADIUS)
        want.extend((i, pid, float(d)) for i, d in zip(ids, dist))
    return sorted(want)


def _pairs(pairs):
    """A join's rows as (left_id, right_id, distance), checked free of duplicate pairs."""
    got = list(
        zip(
            pairs.column("left_id").to_pylist(),
            pairs.column("right_id").to_pylist(),
            pairs.column("distance").to_pylist(),
        )
    )
    assert len(got) == len(set((a, b) for a, b, _ in got)), "duplicate pairs"
    return got


def test_distance_join_matches_one_database(world, spark, scene):
    db, out, _, (pids, ppos) = world
    probes = tms.read(spark, out["probes"])
    pairs = tms.distance_join(scene, probes, JOIN_RADIUS).toArrow()
    got = _pairs(pairs)
    want = _join_oracle(db, pids, ppos)
    assert len(want) > 50_000
    assert sorted(got) == want
    # Pairs cross cells: a probe and its partner in different cells.
    lay = tms.layout(scene)
    where = dict(zip(pids, lay.cell_of(ppos)))
    pos_of = dict(zip(world[2][0], world[2][1]))
    left_cells = lay.cell_of(np.array([pos_of[a] for a, _, _ in got]))
    cross = int((left_cells != np.array([where[b] for _, b, _ in got])).sum())
    assert cross > 100


def test_distance_join_either_side_indexed(world, spark, scene):
    """With the small side on the left (6,600 probes against 200k objects), each task
    indexes its left rows and searches around the right ones, the reverse of the test
    above: the pairs are the same, with the sides swapped."""
    db, out, _, (pids, ppos) = world
    probes = tms.read(spark, out["probes"])
    pairs = tms.distance_join(probes, scene, JOIN_RADIUS).toArrow()
    got = sorted((b, a, d) for a, b, d in _pairs(pairs))
    assert got == _join_oracle(db, pids, ppos)


@pytest.mark.parametrize("buckets", [3, 1000])
def test_distance_join_buckets(world, spark, scene, buckets):
    """Cells cut into 3 buckets (pairs whose sides lie in different buckets, right cells
    read by two buckets, kept once) and into 1000 (more than the cells: one cell a
    bucket, most right cells read by several) give the single database's pairs exactly,
    with one Spark task per bucket and no shuffle."""
    db, out, _, (pids, ppos) = world
    probes = tms.read(spark, out["probes"])
    lay = tms.layout(scene)
    runs = tms._bucket_cells(lay, buckets)
    assert len(runs) == min(buckets, len(lay.cells))
    assert sorted(c for run in runs for c in run) == sorted(lay.cell_ids.tolist())
    joined = tms.distance_join(scene, probes, JOIN_RADIUS, buckets=buckets)
    plan = joined._jdf.queryExecution().executedPlan().toString()
    assert "Exchange" not in plan, plan
    assert joined.rdd.getNumPartitions() == len(runs)
    pairs = joined.toArrow()
    got = _pairs(pairs)
    assert sorted(got) == _join_oracle(db, pids, ppos)
    # Some pair's sides lie in cells of different buckets.
    bucket = {c: i for i, run in enumerate(runs) for c in run}
    by_id = dict(zip(world[2][0], world[2][1]))
    probe_at = dict(zip(pids, ppos))
    lc = lay.cell_of(np.array([by_id[a] for a, _, _ in got]))
    rc = lay.cell_of(np.array([probe_at[b] for _, b, _ in got]))
    assert any(bucket[int(x)] != bucket.get(int(y), -1) for x, y in zip(lc, rc))


def test_sql_filter_order_and_aggregates(world, scene):
    db = world[0]
    filt = "SELECT id, x FROM {} WHERE type = 'ball' AND x > 100 AND WITHIN(position, [0, 0, 0], 300)"
    got = tms.sql(scene, filt.format("part"))
    want = db.execute(filt.format("scene")).fetchall()
    assert sorted(zip(got.column("id").to_pylist(), got.column("x").to_pylist())) == sorted(want)
    assert len(want) > 1000

    top = "SELECT id, confidence AS c FROM {} WHERE x > 0 ORDER BY c DESC LIMIT 7"
    got = tms.sql(scene, top.format("part"))
    assert list(zip(got.column("id").to_pylist(), got.column("c").to_pylist())) == db.execute(
        top.format("scene")
    ).fetchall()

    agg = (
        "SELECT type, COUNT(*) AS n, SUM(confidence) AS s, MIN(x) AS lo, MAX(y) "
        "FROM {} WHERE z < 100 GROUP BY type ORDER BY n DESC"
    )
    got = tms.sql(scene, agg.format("part")).to_pylist()
    want = db.execute(agg.format("scene")).fetchall()
    assert [r["type"] for r in got] == [w[0] for w in want]
    for g, w in zip(got, want):
        vals = list(g.values())
        assert vals[1] == w[1] and vals[3] == w[3] and vals[4] == w[4]
        assert vals[2] == pytest.approx(w[2], rel=1e-9)

    count = tms.sql(scene, "SELECT COUNT(*) AS n FROM part WHERE WITHIN(position, [0, 0, 0], 20)")
    assert count.column("n").to_pylist() == [
        db.execute("SELECT COUNT(*) FROM scene WHERE WITHIN(position, [0, 0, 0], 20)").fetchone()[0]
    ]
    nothing = tms.sql(scene, "SELECT COUNT(*) AS n, SUM(x) AS s FROM part WHERE x > 1000")
    assert nothing.to_pylist() == [{"n": 0.0, "s": None}]

    for bad, why in [
        ("SELECT AVG(x) FROM part", "AVG"),
        ("SELECT id FROM part ORDER BY ATTENTION([1, 0, 0, 0]) DESC LIMIT 3", "ATTENTION"),
        ("SELECT ROUND(SUM(x)) FROM part", "around an aggregate"),
        ("SELECT id FROM part ORDER BY confidence LIMIT 3", "selected columns"),
        ("SELECT id FROM scene", "named part"),
        ("DELETE FROM part", "SELECT"),
    ]:
        with pytest.raises(tms.SparkQueryError, match=why):
            tms.sql(scene, bad)
    with pytest.raises(tensormap.QueryError):
        tms.sql(scene, "SELECT nope(x) FROM part")


def test_embed_matches_one_database(spark, world, tmp_path):
    model = tmp_path / "tiny.vllm"
    db = tensormap.connect()
    db.execute("CREATE MODEL tiny WITH (layers = 1, dim = 16, heads = 2, channels = 4, seed = 7)")
    db.execute(f"SAVE MODEL tiny TO '{model}'")
    texts = [f"a red cube number {i}" if i % 17 else None for i in range(300)]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "n long, text string")
    got = tms.embed(df.repartition(3), str(model), "text", batch_size=64).toArrow()
    by_n = dict(zip(got.column("n").to_pylist(), got.column("text_embedding").to_pylist()))
    assert len(by_n) == len(texts)
    for i, t in enumerate(texts):
        if t is None:
            assert by_n[i] is None
        else:
            want = db.execute("SELECT tiny_embed(?)", [t]).fetchone()[0]
            assert np.allclose(by_n[i], want, rtol=1e-5, atol=1e-6), t


# -- bad input -------------------------------------------------------------------------------


def test_bad_input_is_refused_clearly(spark, world, scene, tmp_path):
    out = world[1]
    with pytest.raises(LayoutError, match="has no _tensormap.json"):
        tms.read(spark, out["plain"])
    other = tmp_path / "v99"
    shutil.copytree(out["narrow"], other)
    manifest = json.loads((other / "_tensormap.json").read_text())
    manifest["version"] = 99
    (other / "_tensormap.json").write_text(json.dumps(manifest))
    with pytest.raises(LayoutError, match="layout version 99"):
        tms.read(spark, str(other))
    narrow = tms.read(spark, out["narrow"])
    with pytest.raises(ValueError, match="different channels"):
        tms.distance_join(scene, narrow, 1.0)
    for r in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="radius must be"):
            tms.within(scene, [0, 0, 0], r)
        with pytest.raises(ValueError, match="radius must be"):
            tms.distance_join(scene, scene, r)
    for b in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="buckets must be"):
            tms.distance_join(scene, scene, 1.0, buckets=b)
    with pytest.raises(ValueError, match="k must be"):
        tms.nearest(scene, [0, 0, 0], 0)
    with pytest.raises(ValueError, match="query must be 4"):
        tms.attention(scene, [1, 2, 3], 3)
    with pytest.raises(LayoutError, match="no 'cell' column"):
        tms.within(scene.drop("cell"), [0, 0, 0], 1.0)
