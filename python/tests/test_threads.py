"""Threads: readers query while a writer loads, with the GIL released by the engine."""

import threading
import time

import numpy as np

import tensormap
from conftest import CHANNELS, scene


def test_readers_query_while_one_writes(db, rng):
    db.create_map("m", channels=CHANNELS)
    batches = 20
    per = 500
    data = [scene(per, np.random.default_rng(i), channels=CHANNELS) for i in range(batches)]
    for b, (ids, types, pos, emb) in enumerate(data):
        ids[:] = [f"b{b}_{i}" for i in range(per)]
    errors = []
    done = threading.Event()
    seen = []

    def writer():
        try:
            for ids, types, pos, emb in data:
                db.insert("m", ids, types, pos, emb)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            done.set()

    def reader(k):
        conn = db if k % 2 == 0 else db.cursor()
        r = np.random.default_rng(100 + k)
        try:
            while not done.is_set():
                # Every read sees whole batches: a multiple of the batch size.
                count = conn.execute("SELECT COUNT(*) FROM m").fetchone()[0]
                assert count % per == 0, count
                ids, d = conn.within("m", [0, 0, 0], 1e4)
                assert len(ids) % per == 0
                c = r.uniform(-400, 400, 3)
                ids, d = conn.nearest("m", c, 5)
                assert np.all(np.diff(d) >= 0)
                ids, w = conn.attention("m", r.normal(size=CHANNELS), 3)
                if ids:
                    assert 0 < w.sum() <= 1.0001
                seen.append(count)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert db.execute("SELECT COUNT(*) FROM m").fetchone()[0] == batches * per
    assert seen, "the readers ran"


def test_the_gil_is_released_while_the_engine_works(db, rng):
    """A Python thread keeps running while another is inside a long engine call."""
    db.create_map("m", channels=CHANNELS)
    ids, types, pos, emb = scene(200_000, rng, channels=CHANNELS)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    start = time.perf_counter()
    db.insert("m", ids, types, pos, emb)
    end = time.perf_counter()
    stop.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    # The insert takes well over 10 ms; a thread blocked on the GIL would not tick.
    assert end - start > 0.02
    assert len(during) >= 3, (end - start, len(during))


def test_a_shared_connection_serializes_its_statements(db):
    db.create_map("m", channels=1)
    errors = []

    def work(k):
        try:
            for i in range(50):
                db.execute(
                    "INSERT INTO m (id, position, embedding) VALUES (?, ?, ?)",
                    [f"t{k}_{i}", [k, i, 0], [1.0]],
                )
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.execute("SELECT COUNT(*) FROM m").fetchone()[0] == 200


def test_threads_reading_at_once_get_the_brute_force_answers(loaded):
    db, (ids, _, positions, embeddings) = loaded
    names = np.array(ids)
    errors = []

    def reader(k):
        r = np.random.default_rng(200 + k)
        conn = db if k % 2 else db.cursor()
        try:
            for _ in range(30):
                c = r.uniform(-400, 400, 3).astype(np.float32)
                d = np.sqrt(((positions.astype(np.float64) - c) ** 2).sum(axis=1))
                got, _ = conn.within("scene", c, 150.0)
                assert set(names[d < 150.0 - 1e-3]) <= set(got) <= set(names[d <= 150.0 + 1e-3])
                got, _ = conn.nearest("scene", c, 5)
                assert got == list(names[np.lexsort((names, d))[:5]])
                cols = conn.execute("SELECT id, embedding FROM scene WHERE WITHIN(position, ?, 150)",
                                    [c]).fetchnumpy()
                inside, _ = conn.within("scene", c, 150.0)
                assert sorted(cols["id"]) == sorted(inside)
                idx = [ids.index(i) for i in cols["id"]]
                np.testing.assert_array_equal(cols["embedding"], embeddings[idx].reshape(len(idx), -1))
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_compat_instances_in_threads_match_the_reference():
    from reference_numpy import ReferenceTensorMap3D
    from tensormap.compat import TensorMap3D

    shared = tensormap.connect()
    errors = []

    def worker(k):
        r = np.random.default_rng(300 + k)
        try:
            ref, ours = ReferenceTensorMap3D(), TensorMap3D(db=shared, name=f"m{k}", batch_size=7)
            for i in range(60):
                p, f = tuple(r.uniform(-480, 480, 3)), r.normal(size=32).astype(np.float32)
                assert ref.embed_object(p, f, "cube") == ours.embed_object(p, f, "cube")
            for _ in range(5):
                c, q = tuple(r.uniform(-300, 300, 3)), r.normal(size=32).astype(np.float32)
                p1, i1 = ref.query_region(c, 120)
                p2, i2 = ours.query_region(c, 120)
                assert i2 == i1
                np.testing.assert_allclose(p2, p1, rtol=1e-4, atol=1e-4)
                np.testing.assert_allclose(ours.spatial_attention(q, i2), ref.spatial_attention(q, i1),
                                           rtol=1e-3, atol=1e-6)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
