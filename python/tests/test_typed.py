"""The typed calls: bulk insert from NumPy, within / nearest / attention / voxels, checked
against NumPy brute force; bad arguments raise and change nothing."""

import numpy as np
import pytest

import tensormap
from conftest import CHANNELS, scene


def brute_within(positions, center, r):
    d = np.sqrt(((positions.astype(np.float64) - center) ** 2).sum(axis=1))
    return d, np.nonzero(d <= r)[0]


def test_insert_returns_count_and_objects_read_back(loaded):
    db, (ids, types, positions, embeddings) = loaded
    assert db.execute("SELECT COUNT(*) FROM scene").fetchone() == (2000.0,)
    i = 17
    row = db.execute(
        "SELECT type, position, embedding, confidence FROM scene WHERE id = ?", [ids[i]]
    ).fetchnumpy()
    assert row["type"][0] == types[i]
    np.testing.assert_array_equal(row["position"][0], positions[i])
    np.testing.assert_array_equal(row["embedding"][0], embeddings[i])
    assert row["confidence"][0] == 1.0


def test_insert_confidence_and_float64_input(db, rng):
    db.create_map("m", channels=4)
    ids, _, pos, emb = scene(3, rng, channels=4)
    n = db.insert("m", ids, ["a", "b", "c"], pos.astype(np.float64), emb.astype(np.float64),
                  np.array([0.1, 0.5, 0.9]))
    assert n == 3
    r = db.execute("SELECT id, type, confidence FROM m ORDER BY id").fetchall()
    assert [(t, round(c, 6)) for _, t, c in r] == [("a", 0.1), ("b", 0.5), ("c", 0.9)]
    db.insert("m", ["d"], "x", pos[:1], emb[:1], 0.25)
    assert db.execute("SELECT confidence FROM m WHERE id = 'd'").fetchone() == (0.25,)
    # Non-contiguous float32 views are accepted too.
    big = np.zeros((2, 8), dtype=np.float32)
    db.insert("m", ["e", "f"], "x", np.zeros((2, 6), np.float32)[:, ::2], big[:, ::2])
    assert db.execute("SELECT COUNT(*) FROM m").fetchone() == (6.0,)


def test_insert_reads_any_ids_and_types(db, rng):
    # Ids and types as any text (unicode, empty types, a NUL inside), lists and tuples;
    # an item that is no str or does not encode raises and inserts nothing.
    db.create_map("m", channels=4)
    _, _, pos, emb = scene(6, rng, channels=4)
    ids = ["é", "日本", "x" * 300, "z"]
    types = ["", "ü", "", "a"]
    db.insert("m", ids, types, pos[:4], emb[:4])
    db.insert("m", ["a\0b", "y"], ["t\0", ""], pos[4:], emb[4:])
    db.insert("m", ("t1", "t2"), ("k", "k"), pos[:2] + 1, emb[:2])
    got = dict(db.execute("SELECT id, type FROM m").fetchall())
    assert got == dict(zip(ids + ["a\0b", "y", "t1", "t2"], types + ["t\0", "", "k", "k"]))
    for bad in (["ok", 3], ["ok", b"bytes"], ["ok", "\ud800"]):
        with pytest.raises((TypeError, UnicodeEncodeError)):
            db.insert("m", bad, "x", pos[:2], emb[:2])
    assert count(db, "m") == 8


def test_large_insert_matches_brute_force(db, rng):
    # A bulk insert of 100k rows: every row must land with its own id, type, position,
    # embedding and confidence, and attention must rank them as NumPy does.
    n = 100_000
    db.create_map("big", channels=4)
    ids = [f"b{i}" for i in range(n)]
    types = [("p", "q", "r")[i % 3] for i in range(n)]
    pos = rng.uniform(-490, 490, size=(n, 3)).astype(np.float32)
    emb = rng.normal(size=(n, 4)).astype(np.float32)
    conf = rng.uniform(0, 1, size=n).astype(np.float32)
    assert db.insert("big", ids, types, pos, emb, conf) == n
    cols = db.execute("SELECT id, type, position, embedding, confidence FROM big").fetchnumpy()
    order = np.argsort([int(i[1:]) for i in cols["id"]])
    assert [int(i[1:]) for i in cols["id"][order]] == list(range(n))
    assert list(cols["type"][order]) == types
    np.testing.assert_array_equal(cols["position"][order], pos)
    np.testing.assert_array_equal(cols["embedding"][order], emb)
    np.testing.assert_allclose(cols["confidence"][order], conf, rtol=1e-6)
    q = rng.normal(size=4).astype(np.float32)
    s = emb.astype(np.float64) @ q
    got, _ = db.attention("big", q, 5)
    assert got == [f"b{i}" for i in np.argsort(-s)[:5]]


def read_columns(db, name):
    """Every row of map `name`, column by column, ordered by id."""
    cols = db.execute(f"SELECT id, type, position, embedding, confidence FROM {name}").fetchnumpy()
    order = np.argsort(cols["id"])
    return {k: v[order] for k, v in cols.items()}


@pytest.mark.parametrize("on_disk", [False, True])
def test_insert_columns_read_back_equal_to_the_numpy_input(tmp_path, rng, on_disk):
    # The oracle of the column-slice insert: two bulk inserts (the second into a map that
    # holds the first's objects; ids as a list, then as a NumPy str array; one type, then
    # one per row; confidence as one number, then per row) read back equal to the NumPy
    # input, column by column — right after the inserts and, on disk, after a reopen.
    path = str(tmp_path / "db") if on_disk else None
    db = tensormap.connect(path)
    db.create_map("m", channels=5)
    n1, n2 = 70_000, 9_000
    ids = np.array([f"r{i:06d}" for i in range(n1 + n2)])
    types = np.array(["one"] * n1 + [("p", "qq", "")[i % 3] for i in range(n2)], dtype=object)
    pos = rng.uniform(-499, 499, size=(n1 + n2, 3)).astype(np.float32)
    emb = rng.normal(size=(n1 + n2, 5)).astype(np.float32)
    conf = np.concatenate([np.full(n1, 0.75, np.float32), rng.uniform(0, 1, n2).astype(np.float32)])
    assert db.insert("m", list(ids[:n1]), "one", pos[:n1], emb[:n1], 0.75) == n1
    assert db.insert("m", ids[n1:], list(types[n1:]), pos[n1:].astype(np.float64), emb[n1:],
                     conf[n1:]) == n2

    def check(db):
        got = read_columns(db, "m")
        assert list(got["id"]) == list(ids)
        assert list(got["type"]) == list(types)
        np.testing.assert_array_equal(got["position"], pos)
        np.testing.assert_array_equal(got["embedding"], emb)
        # (Confidence reads back as the float64 of the float32's shortest decimal.)
        np.testing.assert_array_equal(got["confidence"].astype(np.float32), conf)
        q = rng.normal(size=5).astype(np.float32)
        top, _ = db.attention("m", q, 3)
        assert top == list(ids[np.argsort(-(emb.astype(np.float64) @ q))[:3]])

    check(db)
    if on_disk:
        db.close()
        db = tensormap.connect(path)
        check(db)
    db.close()


@pytest.mark.parametrize("on_disk", [False, True])
def test_insert_of_a_repeated_or_taken_id_changes_nothing(tmp_path, rng, on_disk):
    # A large db.insert (built into its segment when staged, no memtable) refuses an id
    # repeated inside the batch or taken by a stored object, into an empty and a
    # populated map, naming the id, and stores nothing; the map is as before, on disk
    # after a reopen too.
    path = str(tmp_path / "db") if on_disk else None
    db = tensormap.connect(path)
    db.create_map("m", channels=4)
    n = 20_000
    pos = rng.uniform(-499, 499, size=(n, 3)).astype(np.float32)
    emb = rng.normal(size=(n, 4)).astype(np.float32)
    ids = [f"d{i}" for i in range(n)]
    repeated = list(ids)
    repeated[15_000] = ids[12_345]
    with pytest.raises(tensormap.Error, match="'d12345'") as e:
        db.insert("m", repeated, "t", pos, emb)
    assert e.value.kind == "conflict"
    assert db.execute("SELECT COUNT(*) FROM m").fetchall() == [(0,)]
    assert db.insert("m", ids[: n // 2], "t", pos[: n // 2], emb[: n // 2]) == n // 2
    with pytest.raises(tensormap.Error, match="'d9000'") as e:
        db.insert("m", ids[9_000:], "t", pos[9_000:], emb[9_000:])
    assert e.value.kind == "conflict"
    assert db.insert("m", ids[n // 2 :], "t", pos[n // 2 :], emb[n // 2 :]) == n - n // 2
    with pytest.raises(tensormap.Error, match="'d19999'"):
        db.insert("m", [f"e{i}" for i in range(5_000)] + ["d19999"], "t", pos[:5_001], emb[:5_001])

    def check(db):
        got = read_columns(db, "m")
        order = np.argsort(np.array(ids))
        assert list(got["id"]) == [ids[i] for i in order]
        np.testing.assert_array_equal(got["position"], pos[order])
        np.testing.assert_array_equal(got["embedding"], emb[order])

    check(db)
    if on_disk:
        db.close()
        db = tensormap.connect(path)
        check(db)
    db.close()


def test_within_matches_brute_force(loaded, rng):
    db, (ids, _, positions, _) = loaded
    for _ in range(20):
        center = rng.uniform(-500, 500, size=3)
        r = float(rng.uniform(10, 300))
        got_ids, got_d = db.within("scene", center, r)
        d, idx = brute_within(positions, center.astype(np.float32), r)
        # Points within float rounding of the sphere may go either way.
        sure = {ids[i] for i in idx if d[i] < r - 1e-3}
        maybe = {ids[i] for i in idx} | {ids[i] for i in np.nonzero(np.abs(d - r) < 1e-3)[0]}
        assert sure <= set(got_ids) <= maybe
        assert got_d.dtype == np.float32 and len(got_d) == len(got_ids)
        assert np.all(np.diff(got_d) >= 0)
        lookup = {ids[i]: d[i] for i in range(len(ids))}
        np.testing.assert_allclose(got_d, [lookup[i] for i in got_ids], rtol=1e-5, atol=1e-3)


def test_nearest_matches_brute_force(loaded, rng):
    db, (ids, _, positions, _) = loaded
    for k in (1, 5, 50):
        p = rng.uniform(-500, 500, size=3).astype(np.float32)
        got_ids, got_d = db.nearest("scene", p, k)
        d = np.sqrt(((positions.astype(np.float64) - p) ** 2).sum(axis=1))
        order = np.lexsort((np.array(ids), d))[:k]
        np.testing.assert_allclose(got_d, d[order], rtol=1e-5, atol=1e-3)
        assert got_ids == [ids[i] for i in order]
    assert db.nearest("scene", [0, 0, 0], 0) == ([], pytest.approx(np.zeros(0)))


def softmax_scores(embeddings, q):
    s = embeddings.astype(np.float64) @ q.astype(np.float64) / np.sqrt(embeddings.shape[1])
    w = np.exp(s - s.max())
    return w / w.sum()


def test_attention_matches_brute_force(loaded, rng):
    db, (ids, _, positions, embeddings) = loaded
    q = rng.normal(size=CHANNELS).astype(np.float32)
    got_ids, got_w = db.attention("scene", q, 10)
    w = softmax_scores(embeddings, q)
    top = np.lexsort((np.array(ids), -w))[:10]
    assert got_ids == [ids[i] for i in top]
    np.testing.assert_allclose(got_w, w[top], rtol=1e-4)
    # Over a sphere: the softmax of the candidates in it.
    center, r = np.array([100.0, -50.0, 0.0]), 250.0
    got_ids, got_w = db.attention("scene", q, 1000, center=center, radius=r)
    _, inside = brute_within(positions, center.astype(np.float32), r)
    w = softmax_scores(embeddings[inside], q)
    assert len(got_ids) == len(inside)
    assert abs(float(got_w.sum()) - 1.0) < 1e-4
    lookup = dict(zip([ids[i] for i in inside], w))
    np.testing.assert_allclose(got_w, [lookup[i] for i in got_ids], rtol=1e-4)
    # Over ids.
    some = [ids[3], ids[9], ids[4]]
    got_ids, got_w = db.attention("scene", q, 3, ids=some)
    assert sorted(got_ids) == sorted(some)
    np.testing.assert_allclose(sorted(got_w), sorted(softmax_scores(embeddings[[3, 9, 4]], q)), rtol=1e-4)


def test_voxels_hold_the_splat(db):
    db.create_map("m", channels=2, resolution=16, bounds=8.0, sigma=1.0, splat_radius=1)
    # Cell size 1: the object at the centre of cell (8, 8, 8).
    db.insert("m", ["a"], "x", np.array([[0.5, 0.5, 0.5]], np.float32), np.array([[1.0, 2.0]], np.float32))
    cells, values = db.voxels("m", [0.5, 0.5, 0.5], 0.1)
    assert cells.tolist() == [[8, 8, 8]]
    np.testing.assert_allclose(values, [[1.0, 2.0]])
    cells, values = db.voxels("m", [0.5, 0.5, 0.5], 1.01)
    assert len(cells) == 7  # the centre and its 6 face neighbours
    face = np.exp(-1 / 2)
    for c, v in zip(cells.tolist(), values):
        expected = 1.0 if c == [8, 8, 8] else face
        np.testing.assert_allclose(v, [expected, 2 * expected], rtol=1e-5)


def count(db, name="scene"):
    return db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda a: a.update(positions=a["positions"].astype(np.int32)), TypeError),
        (lambda a: a.update(embeddings=a["embeddings"].astype(np.int64)), TypeError),
        (lambda a: a.update(embeddings=np.array([["a"] * CHANNELS] * 3)), TypeError),
        (lambda a: a.update(positions=a["positions"][:, :2]), ValueError),
        (lambda a: a.update(positions=a["positions"].reshape(-1)), ValueError),
        (lambda a: a.update(positions=a["positions"][:2]), ValueError),
        (lambda a: a.update(embeddings=a["embeddings"][:, :3]), tensormap.Error),
        (lambda a: a.update(ids=["x", "y"]), ValueError),
        (lambda a: a.update(ids="xyz"), TypeError),
        (lambda a: a.update(ids=[1, 2, 3]), TypeError),
        (lambda a: a.update(types=["a"]), ValueError),
        (lambda a: a["positions"].__setitem__((1, 0), np.nan), tensormap.Error),
        (lambda a: a["embeddings"].__setitem__((2, 5), np.inf), tensormap.Error),
        (lambda a: a["positions"].__setitem__((0, 2), 501.0), tensormap.Error),
        (lambda a: a.update(ids=["new_1", "new_1", "new_2"]), tensormap.Error),
        (lambda a: a.update(ids=["new_1", "obj_5", "new_2"]), tensormap.Error),
        (lambda a: a.update(map="nope"), tensormap.Error),
        (lambda a: a.update(confidence=1.5), tensormap.Error),
        (lambda a: a.update(confidence=[0.5, 0.5]), ValueError),
    ],
)
def test_bad_inserts_raise_and_change_nothing(loaded, rng, change, error):
    db, _ = loaded
    ids, types, pos, emb = scene(3, rng)
    args = dict(map="scene", ids=["new_0", "new_1", "new_2"], types=types, positions=pos,
                embeddings=emb, confidence=None)
    change(args)
    with pytest.raises(error):
        db.insert(args["map"], args["ids"], args["types"], args["positions"], args["embeddings"],
                  args["confidence"])
    assert count(db) == 2000
    assert db.within("scene", [0, 0, 0], 1e4)[0].__len__() == 2000


def test_bad_query_arguments(loaded):
    db, _ = loaded
    with pytest.raises(tensormap.Error, match="no map named"):
        db.within("nope", [0, 0, 0], 1)
    with pytest.raises(tensormap.Error, match="not finite"):
        db.within("scene", [np.nan, 0, 0], 1)
    with pytest.raises(tensormap.Error, match="radius"):
        db.within("scene", [0, 0, 0], -1)
    with pytest.raises(ValueError, match="3 values"):
        db.nearest("scene", [0, 0], 3)
    with pytest.raises(TypeError):
        db.nearest("scene", "abc", 3)
    with pytest.raises(TypeError):
        db.nearest("scene", np.array(["a", "b", "c"]), 3)
    with pytest.raises(tensormap.Error, match="channels"):
        db.attention("scene", np.ones(CHANNELS + 1), 3)
    with pytest.raises(tensormap.Error):
        db.attention("scene", np.full(CHANNELS, np.nan), 3)
    with pytest.raises(TypeError, match="together"):
        db.attention("scene", np.ones(CHANNELS), 3, center=[0, 0, 0])
    with pytest.raises(OverflowError):
        db.nearest("scene", [0, 0, 0], -1)


def test_create_and_drop_map(db):
    db.create_map("m", resolution=32, channels=3, bounds=10.0, dtype="f16")
    r = db.execute("DESCRIBE m").fetchnumpy()
    assert (r["resolution"][0], r["channels"][0], r["bounds"][0], r["dtype"][0]) == (32, 3, 10, "f16")
    with pytest.raises(tensormap.Error, match="exists already"):
        db.create_map("m")
    with pytest.raises(tensormap.Error, match="resolution"):
        db.create_map("bad", resolution=100)
    with pytest.raises(ValueError):
        db.create_map("bad", dtype="f64")
    db.drop_map("m")
    with pytest.raises(tensormap.Error, match="no map named"):
        db.drop_map("m")
