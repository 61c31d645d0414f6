"""Transactions from Python, persistence on disk, connections."""

import numpy as np
import pytest

import tensormap
from conftest import scene


def n(db, name="m"):
    return db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]


def test_transaction_commits_at_the_end_of_the_block(db, rng):
    db.create_map("m", channels=8)
    other = db.cursor()
    with db.transaction() as t:
        assert t is db and db.in_transaction
        db.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], ?)", [np.ones(8)])
        ids, types, pos, emb = scene(100, rng)
        db.insert("m", ids, types, pos, emb)  # the bulk path joins the transaction
        assert n(db) == 101
        assert db.within("m", [0, 0, 0], 1)[0] == ["a"]  # the typed reads see it too
        assert n(other) == 0  # another connection does not, yet
        assert other.within("m", [0, 0, 0], 1)[0] == []
    assert not db.in_transaction
    assert n(other) == 101


def test_transaction_rolls_back_when_the_block_raises(db, rng):
    db.create_map("m", channels=8)
    with pytest.raises(RuntimeError):
        with db.transaction():
            db.insert("m", *scene(10, rng))
            db.create_map("m2")
            raise RuntimeError("boom")
    assert not db.in_transaction
    assert n(db) == 0
    with pytest.raises(tensormap.QueryError):
        n(db, "m2")


def test_a_failed_call_inside_a_transaction_leaves_it_open_and_unchanged(db, rng):
    db.create_map("m", channels=8)
    ids, types, pos, emb = scene(5, rng)
    with db.transaction():
        db.insert("m", ids, types, pos, emb)
        with pytest.raises(tensormap.Error, match="already has"):
            db.insert("m", ids[:1], types[:1], pos[:1], emb[:1])
        with pytest.raises(tensormap.QueryError):
            db.execute("INSERT INTO m (id, position, embedding) VALUES ('z', [0, 0, 0], [1])")
        assert db.in_transaction and n(db) == 5
    assert n(db) == 5


def test_begin_commit_rollback_methods(db):
    db.create_map("m", channels=1)
    db.begin()
    db.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], [1])")
    db.rollback()
    assert n(db) == 0
    db.begin()
    with pytest.raises(tensormap.QueryError, match="already open"):
        db.begin()
    db.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], [1])")
    db.commit()
    assert n(db) == 1
    with pytest.raises(tensormap.QueryError, match="no transaction"):
        db.commit()
    # A block that committed by itself is left alone on exit.
    with db.transaction():
        db.commit()
    assert not db.in_transaction


def test_data_persists_on_disk(tmp_path, rng):
    path = tmp_path / "scene.db"
    ids, types, pos, emb = scene(500, rng)
    with tensormap.connect(path) as db:
        db.create_map("m", channels=8)
        db.insert("m", ids, types, pos, emb)
    assert db.closed
    db = tensormap.connect(str(path))
    try:
        assert n(db) == 500
        got = db.execute("SELECT id, embedding FROM m WHERE id = ?", [ids[42]]).fetchnumpy()
        np.testing.assert_array_equal(got["embedding"][0], emb[42])
        assert "scene.db" in repr(db)
    finally:
        db.close()


def test_an_uncommitted_transaction_is_lost_when_the_connection_closes(tmp_path):
    path = tmp_path / "t.db"
    db = tensormap.connect(path)
    db.create_map("m", channels=1)
    db.begin()
    db.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [0, 0, 0], [1])")
    db.close()
    db = tensormap.connect(path)
    assert n(db) == 0
    db.close()
