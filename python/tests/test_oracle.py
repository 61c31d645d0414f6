"""The typed reads against NumPy brute force in every state a bulk insert can leave a map
in — in memory, on disk right after the insert, after a reopen, with deletes — and the
bench hooks (which loop the same Rust call in Rust) against the Python calls."""

import numpy as np
import pytest

import tensormap
from tensormap import _tensormap as native
from conftest import CHANNELS, scene

N = 3000


def softmax(embeddings, q):
    s = embeddings.astype(np.float64) @ q.astype(np.float64) / np.sqrt(embeddings.shape[1])
    w = np.exp(s - s.max())
    return w / w.sum()


@pytest.fixture(params=["memory", "disk", "reopened", "deletes"])
def state(request, tmp_path, rng):
    """(db, ids, positions, embeddings) of the live objects, in the state named."""
    path = None if request.param == "memory" else str(tmp_path / "db")
    db = tensormap.connect(path)
    db.create_map("scene", channels=CHANNELS)
    ids, types, positions, embeddings = scene(N, rng)
    db.insert("scene", ids, types, positions, embeddings)
    if request.param == "reopened":
        db.close()
        db = tensormap.connect(path)
    if request.param == "deletes":
        gone = set(range(0, N, 7))
        db.execute("DELETE FROM scene WHERE id IN (" + ", ".join(f"'obj_{i}'" for i in sorted(gone)) + ")")
        keep = np.array([i for i in range(N) if i not in gone])
        ids = [ids[i] for i in keep]
        positions, embeddings = positions[keep], embeddings[keep]
    yield db, ids, positions, embeddings
    db.close()


def test_reads_match_brute_force(state, rng):
    db, ids, positions, embeddings = state
    names = np.array(ids)
    for _ in range(10):
        c = rng.uniform(-450, 450, size=3).astype(np.float32)
        r = float(rng.uniform(20, 200))
        d = np.sqrt(((positions.astype(np.float64) - c) ** 2).sum(axis=1))
        got, dist = db.within("scene", c, r)
        sure = set(names[d < r - 1e-3])
        assert sure <= set(got) <= set(names[d <= r + 1e-3])
        assert list(got) == [got[i] for i in np.lexsort((np.array(got, dtype=object), dist))]
        # The hook runs the same Rust call: the same number of hits.
        assert native._bench_within(db, "scene", c[None, :], r) == len(got)
        order = np.lexsort((names, d))[:10]
        got, dist = db.nearest("scene", c, 10)
        assert got == list(names[order])
        np.testing.assert_allclose(dist, d[order], rtol=1e-5, atol=1e-3)
        assert native._bench_nearest(db, "scene", c[None, :], 10) == 10
    q = rng.normal(size=CHANNELS).astype(np.float32)
    w = softmax(embeddings, q)
    top = np.lexsort((names, -w))[:10]
    got, weights = db.attention("scene", q, 10)
    assert got == list(names[top])
    np.testing.assert_allclose(weights, w[top], rtol=1e-4)
    assert native._bench_attention(db, "scene", q, 10, 2) == 10
    c, r = np.array([50.0, -20.0, 10.0], dtype=np.float32), 200.0
    inside = np.nonzero(np.sqrt(((positions - c) ** 2).sum(axis=1)) <= r)[0]
    got, weights = db.attention("scene", q, len(inside), center=c, radius=r)
    assert set(got) == set(names[inside])
    lookup = dict(zip(names[inside], softmax(embeddings[inside], q)))
    np.testing.assert_allclose(weights, [lookup[i] for i in got], rtol=1e-4)


def test_execute_hook_matches_the_statement(state):
    db, *_ = state
    sql = "SELECT id FROM scene WHERE WITHIN(position, ?, ?)"
    params = [[[0.0, 0.0, 0.0], 150.0], [[100.0, 100.0, 100.0], 90.0]]
    assert native._bench_execute(db, sql, params) == len(db.execute(sql, params[-1]).fetchall())


def test_read_bound_sums_every_value():
    a = np.arange(1000, dtype=np.float32).reshape(100, 10)
    assert native._bench_read_bound(a, 3) == pytest.approx(float(a.sum()))
