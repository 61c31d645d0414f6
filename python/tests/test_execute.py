"""TensorQL through Python: execute, parameters, results as tuples, NumPy and Arrow."""

import numpy as np
import pytest

import tensormap


def test_connect_execute_and_fetch(db):
    r = db.execute("CREATE MAP m WITH (channels = 2)")
    assert r.status == "CREATE MAP" and r.columns == [] and r.fetchall() == []
    db.execute(
        "INSERT INTO m (id, type, position, embedding, confidence) VALUES "
        "('a', 'cube', [1, 2, 3], [0.5, 0.25], 0.83), ('b', 'ball', [-1, 0, 0], [0.1, 0], 1)"
    )
    r = db.execute("SELECT id, type, position, embedding, confidence FROM m ORDER BY id")
    assert r.columns == ["id", "type", "position", "embedding", "confidence"]
    assert len(r) == 2 and r.rowcount == 2
    assert [d[0] for d in r.description] == r.columns
    assert r.fetchone() == ("a", "cube", [1.0, 2.0, 3.0], [0.5, 0.25], 0.83)
    assert r.fetchall() == [("b", "ball", [-1.0, 0.0, 0.0], [0.1, 0.0], 1.0)]
    assert r.fetchone() is None


def test_fetchmany_and_iteration(db):
    db.execute("CREATE MAP m WITH (channels = 1)")
    db.executemany(
        "INSERT INTO m (id, position, embedding) VALUES (?, ?, ?)",
        [(f"o{i}", [i, 0, 0], [1.0]) for i in range(5)],
    )
    r = db.execute("SELECT id FROM m ORDER BY id")
    assert r.fetchmany(2) == [("o0",), ("o1",)]
    assert [row for row in r] == [("o2",), ("o3",), ("o4",)]
    assert r.fetchmany(10) == []


def test_select_without_from_and_nulls(db):
    assert db.execute("SELECT 1 + 1 AS two, 'x' AS t").fetchall() == [(2.0, "x")]
    db.execute("CREATE MAP m WITH (channels = 1)")
    assert db.execute("SELECT AVG(confidence) FROM m").fetchone() == (None,)


def test_parameters_of_every_kind(db):
    db.execute("CREATE MAP m WITH (channels = 3)")
    emb = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    db.execute(
        "INSERT INTO m (id, type, position, embedding, confidence) VALUES (?, ?, ?, ?, ?)",
        ["it's", "cube", np.array([1.0, 2.0, 3.0]), emb, np.float32(0.5)],
    )
    db.execute(
        "INSERT INTO m (id, position, embedding) VALUES (?, ?, ?)",
        ("b", (10, 0, 0), [1, 2, 3]),
    )
    r = db.execute(
        "SELECT id, confidence FROM m WHERE WITHIN(position, ?, ?) AND type = ?",
        [np.zeros(3, dtype=np.float32), 50, "cube"],
    )
    assert r.fetchall() == [("it's", 0.5)]
    r = db.execute("SELECT id FROM m WHERE COSINE(embedding, ?) > ?", [[1, 2, 3], 0.999])
    assert r.fetchall() == [("b",)]
    # NumPy scalars bind as the Python scalar they hold.
    r = db.execute("SELECT ?, ?, ?, ?, ?", [np.int64(3), np.float32(0.5), np.bool_(True), np.str_("s"),
                                           np.array(2.5)])
    assert r.fetchall() == [(3.0, 0.5, True, "s", 2.5)]
    # Text parameters are values, never SQL.
    r = db.execute("SELECT COUNT(*) FROM m WHERE id = ?", ["x' OR 'a' = 'a"])
    assert r.fetchone() == (0.0,)


def test_parameter_errors(db):
    db.execute("CREATE MAP m WITH (channels = 1)")
    with pytest.raises(tensormap.QueryError) as e:
        db.execute("SELECT id FROM m WHERE id = ? AND type = ?", ["a"])
    assert "2 parameters, 1 value given" in str(e.value)
    with pytest.raises(TypeError):
        db.execute("SELECT ?", [object()])
    with pytest.raises(TypeError):
        db.execute("SELECT ?", "abc")
    with pytest.raises(TypeError):
        db.execute("SELECT ?", [np.array(["a", "b"])])


def test_query_error_has_line_and_column(db):
    with pytest.raises(tensormap.QueryError) as e:
        db.execute("CREATE MAP m;\nSELECT id, FROM m")
    err = e.value
    assert isinstance(err, tensormap.Error)
    assert (err.line, err.column) == (2, 12)
    assert err.message == "expected an expression, found 'FROM'"
    assert str(err) == "error at 2:12: expected an expression, found 'FROM'"
    # A syntax error anywhere runs nothing.
    assert db.execute("SHOW MAPS").fetchall() == []


def test_engine_errors_inside_statements_are_query_errors(db):
    with pytest.raises(tensormap.QueryError, match="no map named 'nope'"):
        db.execute("SELECT * FROM nope")
    db.execute("CREATE MAP m WITH (channels = 1)")
    with pytest.raises(tensormap.QueryError, match="outside the bounds"):
        db.execute("INSERT INTO m (id, position, embedding) VALUES ('a', [600, 0, 0], [1])")
    assert db.execute("SELECT COUNT(*) FROM m").fetchone() == (0.0,)


def test_errors_carry_their_kind(db):
    db.execute("CREATE MAP m WITH (channels = 1)")
    for sql, kind in [
        ("SELEC 1", "syntax"),
        ("SELECT * FROM nope", "not_found"),
        ("CREATE MAP m", "conflict"),
        ("INSERT INTO m (id, position, embedding) VALUES ('a', [600, 0, 0], [1])", "invalid_value"),
        ("RESTORE r FROM 'no-such-file.tensor3d'", "io"),
    ]:
        with pytest.raises(tensormap.QueryError) as e:
            db.execute(sql)
        assert e.value.kind == kind, sql
    # The typed calls' errors too.
    with pytest.raises(tensormap.Error) as e:
        db.within("nope", [0, 0, 0], 1.0)
    assert e.value.kind == "not_found"


def test_fetchnumpy_columns(loaded):
    db, (ids, types, positions, embeddings) = loaded
    r = db.execute("SELECT id, type, position, embedding, confidence, x > 0 AS east FROM scene ORDER BY id")
    cols = r.fetchnumpy()
    order = np.argsort(np.array(ids))
    assert list(cols) == ["id", "type", "position", "embedding", "confidence", "east"]
    assert cols["id"].dtype == object and list(cols["id"]) == sorted(ids)
    assert cols["position"].dtype == np.float32 and cols["position"].shape == (2000, 3)
    np.testing.assert_array_equal(cols["position"], positions[order])
    np.testing.assert_array_equal(cols["embedding"], embeddings[order])
    assert cols["confidence"].dtype == np.float64
    assert cols["east"].dtype == np.bool_
    np.testing.assert_array_equal(cols["east"], positions[order, 0] > 0)


def test_to_arrow_and_capsule(loaded):
    pa = pytest.importorskip("pyarrow")
    db, (ids, _, positions, embeddings) = loaded
    r = db.execute("SELECT id, position, embedding, confidence FROM scene ORDER BY id LIMIT 10")
    t = r.to_arrow()
    assert t.num_rows == 10
    assert t.schema.field("id").type == pa.string()
    assert t.schema.field("position").type == pa.list_(pa.float32(), 3)
    assert t.schema.field("confidence").type == pa.float64()
    # The PyCapsule interface: pyarrow reads the result object itself.
    t2 = pa.table(r)
    assert t2.equals(t)
    first = np.asarray(t.column("position").chunk(0).flatten()).reshape(-1, 3)[0]
    i = ids.index(t.column("id")[0].as_py())
    np.testing.assert_array_equal(first, positions[i])
    # NULLs become Arrow nulls.
    db.execute("CREATE MAP empty WITH (channels = 1)")
    t3 = db.execute("SELECT AVG(confidence) AS a FROM empty").to_arrow()
    assert t3.column("a").null_count == 1


def test_multiple_statements_return_the_last_result(db):
    r = db.execute("CREATE MAP a WITH (channels = 1); CREATE MAP b WITH (channels = 1); SHOW MAPS")
    assert [row[0] for row in r.fetchall()] == ["a", "b"]


def test_closed_database_raises(db):
    db.close()
    assert db.closed
    with pytest.raises(tensormap.Error, match="closed"):
        db.execute("SELECT 1")
