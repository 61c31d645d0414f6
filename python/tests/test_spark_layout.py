"""The layout of a partitioned export as tensormap.spark reads it (no Spark needed): the
manifest parsed and checked, and every row routed by it — in NumPy, as the Spark tasks
route points — to the file and cell the Rust writer put it in."""

import json
import os

import numpy as np
import pytest

import tensormap
from tensormap._spark_layout import Layout, LayoutError

pq = pytest.importorskip("pyarrow.parquet")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("layout")
    db = tensormap.connect()
    db.create_map("m", resolution=16, channels=2, bounds=100.0, splat_radius=0)
    u = rng.uniform(-99, 99, size=(6000, 3))
    dense = rng.normal([30, -30, 30], 4.0, size=(9000, 3))
    grid = np.array([[x, y, z] for x in (-50, 0, 50) for y in (-50, 0, 50) for z in (-50, 0, 50)], float)
    pos = np.concatenate([u, dense, grid]).astype(np.float32)
    n = len(pos)
    db.insert("m", [f"o{i}" for i in range(n)], "t", pos, np.ones((n, 2), np.float32))
    db.execute(f"COPY m TO '{root}/out' WITH (partition_by = 'octree', depth = 2, max_rows_per_file = 1500)")
    return str(root / "out"), n


def test_every_row_routes_to_its_file(export):
    root, n = export
    lay = Layout.parse(open(os.path.join(root, "_tensormap.json")).read())
    assert lay.rows == n and lay.depth == 2 and lay.channels == 2 and lay.bounds == 100.0
    assert any(len(c["files"]) > 1 for c in lay.cells)
    seen = 0
    for i, f in enumerate(lay.files):
        t = pq.read_table(os.path.join(root, f["path"]))
        p = np.stack([t.column(a).to_numpy() for a in "xyz"], axis=1)
        assert len(p) == f["rows"] <= 1500
        assert (lay.cell_of(p) == f["cell"]).all(), f["path"]
        assert (lay.piece_of(p) == i).all(), f["path"]
        assert (p.min(axis=0) == f["bbox"][:3]).all() and (p.max(axis=0) == f["bbox"][3:]).all()
        bb = t.column("bbox").combine_chunks()
        assert np.array_equal(bb.field("ymax").to_numpy(), p[:, 1])
        geo = json.loads(t.schema.metadata[b"geo"])
        assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
        seen += len(p)
    assert seen == n


def test_balls_reach_every_piece_that_holds_a_point_within_them(export):
    root, _ = export
    lay = Layout.parse(open(os.path.join(root, "_tensormap.json")).read())
    rng = np.random.default_rng(9)
    pts = []
    for f in lay.files:
        t = pq.read_table(os.path.join(root, f["path"]), columns=["x", "y", "z"])
        pts.append(np.stack([t.column(a).to_numpy() for a in "xyz"], axis=1))
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(pts)])
    pts = np.concatenate(pts)
    centers = np.concatenate(
        [rng.uniform(-100, 100, size=(300, 3)), np.array([[0, 0, 0], [50, 0, -50], [30, -30, 30]])]
    ).astype(np.float32)
    for r in (0.5, 3.0, 40.0):
        rows, files = lay.pieces_near(centers, r)
        reached = set(zip(rows.tolist(), files.tolist()))
        for q, c in enumerate(centers):
            d = np.sqrt(((pts - c) ** 2).sum(axis=1))
            need = set(owner[d <= r].tolist())
            assert need <= {f for (qq, f) in reached if qq == q}, (r, c)


def test_bad_manifests_are_refused(export):
    root, _ = export
    good = json.load(open(os.path.join(root, "_tensormap.json")))
    for change, why in [
        (lambda m: m.update(version=2), "layout version 2"),
        (lambda m: m.update(format="other"), "not a partitioned export"),
        (lambda m: m.pop("cells"), "has no 'cells'"),
        (lambda m: m["files"][0].update(bbox=[1, 2]), "must be 6 numbers"),
        (lambda m: m["cells"][0].update(split={"file": 10**6}), "names no file"),
        (lambda m: m["scheme"].update(depth=12), "not in 0..=8"),
    ]:
        m = json.loads(json.dumps(good))
        change(m)
        with pytest.raises(LayoutError, match=why):
            Layout(m)
    with pytest.raises(LayoutError, match="not JSON"):
        Layout.parse("{")
